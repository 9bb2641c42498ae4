//! Glance's default policy rules (glance/policies), as data: the secure
//! RBAC personas (admin, project member, project reader) with the image
//! target's `project_id` (= owner), `visibility` and `member_id` (= the
//! caller's project when it is a member of the image); for metadata
//! definitions the namespace target's `project_id` (= owner) and
//! `visibility`; the tasks API's blanket `tasks_api_access`. An operator's
//! policy file overrides any of them.
//!
//! The rules decide what a caller may *do*; which images a caller may
//! *see* is decided before them, as Glance's database layer does (an
//! image the caller cannot see is a 404, never a 403).

const ADMIN: &str = "rule:context_is_admin";
const ADMIN_OR_PROJECT_MEMBER: &str =
    "rule:context_is_admin or (role:member and project_id:%(project_id)s)";
const ADMIN_OR_PROJECT_READER: &str =
    "rule:context_is_admin or (role:reader and project_id:%(project_id)s)";
const ADMIN_OR_READER_GET_IMAGE: &str = "rule:context_is_admin or (role:reader and \
    (project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s \
    or 'public':%(visibility)s or 'shared':%(visibility)s))";
const ADMIN_OR_MEMBER_DOWNLOAD_IMAGE: &str = "rule:context_is_admin or (role:member and \
    (project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s \
    or 'public':%(visibility)s or 'shared':%(visibility)s))";
const ADMIN_OR_READER_OR_SHARED_MEMBER: &str = "rule:context_is_admin or (role:reader and \
    (project_id:%(project_id)s or project_id:%(member_id)s))";
const ADMIN_OR_SHARED_MEMBER: &str =
    "rule:context_is_admin or (role:member and project_id:%(member_id)s)";
/// Reads of metadata definitions: the target is the namespace (`project_id`
/// its owner, `visibility` its visibility).
const ADMIN_OR_READER_GET_NAMESPACE: &str = "rule:context_is_admin or (role:reader and \
    (project_id:%(project_id)s or 'public':%(visibility)s))";
const METADEF_ADMIN: &str = "rule:metadef_admin";

pub fn defaults() -> Vec<(&'static str, &'static str)> {
    vec![
        ("default", ""),
        ("context_is_admin", "role:admin"),
        ("service_api", "role:service or role:admin"),
        ("add_image", "rule:context_is_admin or (role:member and project_id:%(project_id)s and project_id:%(owner)s)"),
        ("delete_image", ADMIN_OR_PROJECT_MEMBER),
        ("get_image", ADMIN_OR_READER_GET_IMAGE),
        ("get_images", ADMIN_OR_PROJECT_READER),
        ("modify_image", ADMIN_OR_PROJECT_MEMBER),
        ("publicize_image", ADMIN),
        ("communitize_image", ADMIN_OR_PROJECT_MEMBER),
        ("download_image", ADMIN_OR_MEMBER_DOWNLOAD_IMAGE),
        ("upload_image", ADMIN_OR_PROJECT_MEMBER),
        ("add_member", ADMIN_OR_PROJECT_MEMBER),
        ("delete_member", ADMIN_OR_PROJECT_MEMBER),
        ("get_member", ADMIN_OR_READER_OR_SHARED_MEMBER),
        ("get_members", ADMIN_OR_READER_OR_SHARED_MEMBER),
        ("modify_member", ADMIN_OR_SHARED_MEMBER),
        ("deactivate", ADMIN_OR_PROJECT_MEMBER),
        ("reactivate", ADMIN_OR_PROJECT_MEMBER),
        ("stores_info_detail", ADMIN),
        // Metadata definitions: reads by readers of the owning project or
        // of public namespaces, every change by admins only.
        ("metadef_default", ""),
        ("metadef_admin", ADMIN),
        ("get_metadef_namespace", ADMIN_OR_READER_GET_NAMESPACE),
        ("get_metadef_namespaces", ADMIN_OR_PROJECT_READER),
        ("modify_metadef_namespace", METADEF_ADMIN),
        ("add_metadef_namespace", METADEF_ADMIN),
        ("delete_metadef_namespace", METADEF_ADMIN),
        ("get_metadef_object", ADMIN_OR_READER_GET_NAMESPACE),
        ("get_metadef_objects", ADMIN_OR_READER_GET_NAMESPACE),
        ("modify_metadef_object", METADEF_ADMIN),
        ("add_metadef_object", METADEF_ADMIN),
        ("delete_metadef_object", METADEF_ADMIN),
        ("list_metadef_resource_types", ADMIN_OR_READER_GET_NAMESPACE),
        ("get_metadef_resource_type", ADMIN_OR_READER_GET_NAMESPACE),
        ("add_metadef_resource_type_association", METADEF_ADMIN),
        ("remove_metadef_resource_type_association", METADEF_ADMIN),
        ("get_metadef_property", ADMIN_OR_READER_GET_NAMESPACE),
        ("get_metadef_properties", ADMIN_OR_READER_GET_NAMESPACE),
        ("modify_metadef_property", METADEF_ADMIN),
        ("add_metadef_property", METADEF_ADMIN),
        ("remove_metadef_property", METADEF_ADMIN),
        ("get_metadef_tag", ADMIN_OR_READER_GET_NAMESPACE),
        ("get_metadef_tags", ADMIN_OR_READER_GET_NAMESPACE),
        ("modify_metadef_tag", METADEF_ADMIN),
        ("add_metadef_tag", METADEF_ADMIN),
        ("add_metadef_tags", METADEF_ADMIN),
        ("delete_metadef_tag", METADEF_ADMIN),
        ("delete_metadef_tags", METADEF_ADMIN),
        // Tasks: the whole tasks API is admin-only (`tasks_api_access`);
        // the per-call rules are internal and open, as in Glance.
        ("get_task", "rule:default"),
        ("get_tasks", "rule:default"),
        ("add_task", "rule:default"),
        ("tasks_api_access", ADMIN),
    ]
}

//! Nova's default policy rules (nova/policies), as data: the secure-RBAC
//! personas (admin, project member, project reader) with the resource's
//! `project_id` as target. An operator's policy file overrides any of
//! them.

/// Admins only.
pub const ADMIN: &str = "rule:context_is_admin";
/// The resource's project's members, or admins.
pub const PROJECT_MEMBER_OR_ADMIN: &str =
    "rule:context_is_admin or (role:member and project_id:%(project_id)s)";
/// The resource's project's readers, or admins.
pub const PROJECT_READER_OR_ADMIN: &str =
    "rule:context_is_admin or (role:reader and project_id:%(project_id)s)";
/// Anyone with a token.
pub const ANY: &str = "@";

pub fn defaults() -> Vec<(&'static str, &'static str)> {
    vec![
        ("context_is_admin", "role:admin"),
        ("admin_api", ADMIN),
        ("project_member_api", "role:member"),
        ("project_reader_api", "role:reader"),
        ("project_member_or_admin", PROJECT_MEMBER_OR_ADMIN),
        ("project_reader_or_admin", PROJECT_READER_OR_ADMIN),
    ]
}

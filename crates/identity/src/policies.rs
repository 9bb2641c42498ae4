//! Keystone's default policy rules (keystone/common/policies), as data.
//! They encode the admin / member / reader personas with project, domain
//! and system scope; an operator's policy file overrides any of them.

const ADMIN: &str = "rule:admin_required";
const ADMIN_OR_SYSTEM_READER: &str = "rule:admin_required or (role:reader and system_scope:all)";
const ADMIN_OR_READER_OF_DOMAIN: &str =
    "rule:admin_required or (role:reader and system_scope:all) or \
                                         (role:reader and domain_id:%(target.domain_id)s)";

pub fn defaults() -> Vec<(&'static str, &'static str)> {
    vec![
        ("admin_required", "role:admin or is_admin:1"),
        ("service_role", "role:service"),
        ("service_or_admin", "rule:admin_required or rule:service_role"),
        ("owner", "user_id:%(user_id)s"),
        ("admin_or_owner", "rule:admin_required or rule:owner"),
        ("token_subject", "user_id:%(target.token.user_id)s"),
        ("service_admin_or_token_subject", "rule:service_or_admin or rule:token_subject"),
        // tokens
        ("identity:check_token", "rule:admin_required or (role:reader and system_scope:all) or rule:service_role or rule:token_subject"),
        ("identity:validate_token", "rule:admin_required or (role:reader and system_scope:all) or rule:service_role or rule:token_subject"),
        ("identity:revoke_token", "rule:admin_required or rule:service_role or rule:token_subject"),
        // domains
        ("identity:get_domain", "rule:admin_required or (role:reader and system_scope:all) or \
            token.domain.id:%(target.domain.id)s or token.project.domain.id:%(target.domain.id)s"),
        ("identity:list_domains", ADMIN_OR_SYSTEM_READER),
        ("identity:create_domain", ADMIN),
        ("identity:update_domain", ADMIN),
        ("identity:delete_domain", ADMIN),
        // projects
        ("identity:get_project", "rule:admin_required or (role:reader and system_scope:all) or \
            (role:reader and domain_id:%(target.project.domain_id)s) or project_id:%(target.project.id)s"),
        ("identity:list_projects", ADMIN_OR_READER_OF_DOMAIN),
        ("identity:list_user_projects", "rule:admin_required or (role:reader and system_scope:all) or \
            (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(target.user.id)s"),
        ("identity:create_project", ADMIN),
        ("identity:update_project", ADMIN),
        ("identity:delete_project", ADMIN),
        ("identity:list_project_tags", "rule:admin_required or (role:reader and system_scope:all) or \
            (role:reader and domain_id:%(target.project.domain_id)s) or project_id:%(target.project.id)s"),
        ("identity:get_project_tag", "rule:admin_required or (role:reader and system_scope:all) or \
            (role:reader and domain_id:%(target.project.domain_id)s) or project_id:%(target.project.id)s"),
        ("identity:update_project_tags", ADMIN),
        ("identity:create_project_tag", ADMIN),
        ("identity:delete_project_tag", ADMIN),
        ("identity:delete_project_tags", ADMIN),
        // users
        ("identity:get_user", "rule:admin_required or (role:reader and system_scope:all) or \
            (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(target.user.id)s"),
        ("identity:list_users", ADMIN_OR_READER_OF_DOMAIN),
        ("identity:create_user", ADMIN),
        ("identity:update_user", ADMIN),
        ("identity:delete_user", ADMIN),
        // groups
        ("identity:get_group", "rule:admin_required or (role:reader and system_scope:all) or \
            (role:reader and domain_id:%(target.group.domain_id)s)"),
        ("identity:list_groups", ADMIN_OR_READER_OF_DOMAIN),
        ("identity:list_groups_for_user", "rule:admin_required or (role:reader and system_scope:all) or \
            (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(user_id)s"),
        ("identity:create_group", ADMIN),
        ("identity:update_group", ADMIN),
        ("identity:delete_group", ADMIN),
        ("identity:list_users_in_group", "rule:admin_required or (role:reader and system_scope:all) or \
            (role:reader and domain_id:%(target.group.domain_id)s)"),
        ("identity:check_user_in_group", "rule:admin_required or (role:reader and system_scope:all) or \
            (role:reader and domain_id:%(target.group.domain_id)s)"),
        ("identity:add_user_to_group", ADMIN),
        ("identity:remove_user_from_group", ADMIN),
        // roles and implied roles
        ("identity:get_role", ADMIN_OR_SYSTEM_READER),
        ("identity:list_roles", ADMIN_OR_SYSTEM_READER),
        ("identity:create_role", ADMIN),
        ("identity:update_role", ADMIN),
        ("identity:delete_role", ADMIN),
        ("identity:get_implied_role", ADMIN_OR_SYSTEM_READER),
        ("identity:list_implied_roles", ADMIN_OR_SYSTEM_READER),
        ("identity:list_role_inference_rules", ADMIN_OR_SYSTEM_READER),
        ("identity:check_implied_role", ADMIN_OR_SYSTEM_READER),
        ("identity:create_implied_role", ADMIN),
        ("identity:delete_implied_role", ADMIN),
        // grants and assignments
        ("identity:check_grant", ADMIN_OR_READER_OF_DOMAIN),
        ("identity:list_grants", ADMIN_OR_READER_OF_DOMAIN),
        ("identity:create_grant", ADMIN),
        ("identity:revoke_grant", ADMIN),
        ("identity:list_system_grants_for_user", ADMIN_OR_SYSTEM_READER),
        ("identity:check_system_grant_for_user", ADMIN_OR_SYSTEM_READER),
        ("identity:create_system_grant_for_user", ADMIN),
        ("identity:revoke_system_grant_for_user", ADMIN),
        ("identity:list_system_grants_for_group", ADMIN_OR_SYSTEM_READER),
        ("identity:check_system_grant_for_group", ADMIN_OR_SYSTEM_READER),
        ("identity:create_system_grant_for_group", ADMIN),
        ("identity:revoke_system_grant_for_group", ADMIN),
        ("identity:list_role_assignments", ADMIN_OR_READER_OF_DOMAIN),
        ("identity:list_role_assignments_for_tree", "rule:admin_required or (role:reader and system_scope:all) or \
            (role:reader and project_id:%(target.project.id)s)"),
        // catalog
        ("identity:get_region", ""),
        ("identity:list_regions", ""),
        ("identity:create_region", ADMIN),
        ("identity:update_region", ADMIN),
        ("identity:delete_region", ADMIN),
        ("identity:get_service", ADMIN_OR_SYSTEM_READER),
        ("identity:list_services", ADMIN_OR_SYSTEM_READER),
        ("identity:create_service", ADMIN),
        ("identity:update_service", ADMIN),
        ("identity:delete_service", ADMIN),
        ("identity:get_endpoint", ADMIN_OR_SYSTEM_READER),
        ("identity:list_endpoints", ADMIN_OR_SYSTEM_READER),
        ("identity:create_endpoint", ADMIN),
        ("identity:update_endpoint", ADMIN),
        ("identity:delete_endpoint", ADMIN),
        // application credentials
        ("identity:get_application_credential", "rule:admin_required or (role:reader and system_scope:all) or rule:owner"),
        ("identity:list_application_credentials", "rule:admin_required or (role:reader and system_scope:all) or rule:owner"),
        ("identity:create_application_credential", "rule:owner"),
        ("identity:delete_application_credential", "rule:admin_required or rule:owner"),
        // stored policy blobs
        ("identity:get_policy", ADMIN_OR_SYSTEM_READER),
        ("identity:list_policies", ADMIN_OR_SYSTEM_READER),
        ("identity:create_policy", ADMIN),
        ("identity:update_policy", ADMIN),
        ("identity:delete_policy", ADMIN),
        // credentials
        ("identity:get_credential", "rule:admin_required or (role:reader and system_scope:all) or user_id:%(target.credential.user_id)s"),
        ("identity:list_credentials", ADMIN_OR_SYSTEM_READER),
        ("identity:create_credential", "rule:admin_required or user_id:%(target.credential.user_id)s"),
        ("identity:update_credential", "rule:admin_required or user_id:%(target.credential.user_id)s"),
        ("identity:delete_credential", "rule:admin_required or user_id:%(target.credential.user_id)s"),
        ("identity:ec2_get_credential", "rule:admin_required or (role:reader and system_scope:all) or user_id:%(user_id)s"),
        ("identity:ec2_list_credentials", "rule:admin_required or (role:reader and system_scope:all) or rule:owner"),
        ("identity:ec2_create_credential", "rule:admin_required or rule:owner"),
        ("identity:ec2_delete_credential", "rule:admin_required or user_id:%(user_id)s"),
        // trusts
        ("identity:create_trust", "user_id:%(trust.trustor_user_id)s"),
        ("identity:list_trusts", ADMIN_OR_SYSTEM_READER),
        ("identity:list_trusts_for_trustor", "rule:admin_required or (role:reader and system_scope:all) or \
            user_id:%(target.trust.trustor_user_id)s"),
        ("identity:list_trusts_for_trustee", "rule:admin_required or (role:reader and system_scope:all) or \
            user_id:%(target.trust.trustee_user_id)s"),
        ("identity:get_trust", "rule:admin_required or (role:reader and system_scope:all) or \
            user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s"),
        ("identity:delete_trust", "rule:admin_required or user_id:%(target.trust.trustor_user_id)s"),
        // endpoint filtering
        ("identity:create_endpoint_group", ADMIN),
        ("identity:update_endpoint_group", ADMIN),
        ("identity:delete_endpoint_group", ADMIN),
        ("identity:get_endpoint_group", ADMIN_OR_SYSTEM_READER),
        ("identity:list_endpoint_groups", ADMIN_OR_SYSTEM_READER),
        ("identity:add_endpoint_to_project", ADMIN),
        ("identity:check_endpoint_in_project", ADMIN_OR_SYSTEM_READER),
        ("identity:remove_endpoint_from_project", ADMIN),
        ("identity:list_endpoints_for_project", ADMIN_OR_SYSTEM_READER),
        ("identity:list_projects_for_endpoint", ADMIN_OR_SYSTEM_READER),
        ("identity:add_endpoint_group_to_project", ADMIN),
        ("identity:get_endpoint_group_in_project", ADMIN_OR_SYSTEM_READER),
        ("identity:remove_endpoint_group_from_project", ADMIN),
        ("identity:list_endpoint_groups_for_project", ADMIN_OR_SYSTEM_READER),
        ("identity:list_projects_associated_with_endpoint_group", ADMIN_OR_SYSTEM_READER),
        ("identity:list_endpoints_associated_with_endpoint_group", ADMIN_OR_SYSTEM_READER),
        ("identity:get_access_rule", "rule:admin_required or (role:reader and system_scope:all) or rule:owner"),
        ("identity:list_access_rules", "rule:admin_required or (role:reader and system_scope:all) or rule:owner"),
        ("identity:delete_access_rule", "rule:admin_required or rule:owner"),
        // domain configuration
        ("identity:create_domain_config", ADMIN),
        ("identity:get_domain_config", ADMIN_OR_SYSTEM_READER),
        ("identity:update_domain_config", ADMIN),
        ("identity:delete_domain_config", ADMIN),
        ("identity:get_domain_config_default", ADMIN_OR_SYSTEM_READER),
        // OAuth1
        ("identity:create_consumer", ADMIN),
        ("identity:get_consumer", ADMIN_OR_SYSTEM_READER),
        ("identity:list_consumers", ADMIN_OR_SYSTEM_READER),
        ("identity:update_consumer", ADMIN),
        ("identity:delete_consumer", ADMIN),
        ("identity:list_access_tokens", "rule:admin_required or (role:reader and system_scope:all) or user_id:%(user_id)s"),
        ("identity:get_access_token", "rule:admin_required or (role:reader and system_scope:all) or user_id:%(user_id)s"),
        ("identity:delete_access_token", "rule:admin_required or user_id:%(user_id)s"),
        // auth
        ("identity:get_auth_catalog", ""),
        ("identity:get_auth_projects", ""),
        ("identity:get_auth_domains", ""),
        ("identity:get_auth_system", ""),
    ]
}

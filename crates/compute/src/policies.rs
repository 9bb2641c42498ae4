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
/// The key pair's user, or admins.
pub const KEYPAIR_OWNER_OR_ADMIN: &str = "(rule:context_is_admin) or user_id:%(user_id)s";
/// The caller's own project's members (Nova's `PROJECT_MEMBER`).
pub const PROJECT_MEMBER: &str = "role:member and project_id:%(project_id)s";
/// The resource's project's managers, or admins.
pub const PROJECT_MANAGER_OR_ADMIN: &str = "rule:project_manager_or_admin";
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
        // nova/policies/flavor_manage.py, flavor_extra_specs.py,
        // flavor_access.py: admins manage flavors; a project's readers
        // see extra specs.
        ("os_compute_api:os-flavor-manage:create", ADMIN),
        ("os_compute_api:os-flavor-manage:update", ADMIN),
        ("os_compute_api:os-flavor-manage:delete", ADMIN),
        (
            "os_compute_api:os-flavor-extra-specs:index",
            PROJECT_READER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-flavor-extra-specs:show",
            PROJECT_READER_OR_ADMIN,
        ),
        ("os_compute_api:os-flavor-extra-specs:create", ADMIN),
        ("os_compute_api:os-flavor-extra-specs:update", ADMIN),
        ("os_compute_api:os-flavor-extra-specs:delete", ADMIN),
        ("os_compute_api:os-flavor-access", ADMIN),
        ("os_compute_api:os-flavor-access:add_tenant_access", ADMIN),
        (
            "os_compute_api:os-flavor-access:remove_tenant_access",
            ADMIN,
        ),
        // nova/policies/aggregates.py: admins only.
        ("os_compute_api:os-aggregates:index", ADMIN),
        ("os_compute_api:os-aggregates:create", ADMIN),
        ("os_compute_api:os-aggregates:show", ADMIN),
        ("os_compute_api:os-aggregates:update", ADMIN),
        ("os_compute_api:os-aggregates:delete", ADMIN),
        ("os_compute_api:os-aggregates:add_host", ADMIN),
        ("os_compute_api:os-aggregates:remove_host", ADMIN),
        ("os_compute_api:os-aggregates:set_metadata", ADMIN),
        // nova/policies/admin_actions.py, deferred_delete.py,
        // server_diagnostics.py, server_external_events.py (the `service`
        // role: Neutron and Cinder send events), instance_usage_audit_log.py.
        ("os_compute_api:os-admin-actions:reset_state", ADMIN),
        ("os_compute_api:os-admin-actions:inject_network_info", ADMIN),
        (
            "os_compute_api:os-deferred-delete:force",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-deferred-delete:restore",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        ("os_compute_api:os-server-diagnostics", ADMIN),
        (
            "os_compute_api:os-server-external-events:create",
            "rule:context_is_admin or role:service",
        ),
        ("os_compute_api:os-instance-usage-audit-log:list", ADMIN),
        ("os_compute_api:os-instance-usage-audit-log:show", ADMIN),
        // nova/policies/migrations.py, servers_migrations.py,
        // migrate_server.py (a project's managers move its servers;
        // choosing the host, and every project's records, are admins'),
        // simple_tenant_usage.py.
        (
            "project_manager_api",
            "role:manager and project_id:%(project_id)s",
        ),
        (
            "project_manager_or_admin",
            "rule:project_manager_api or rule:context_is_admin",
        ),
        (
            "os_compute_api:os-migrations:index",
            PROJECT_MANAGER_OR_ADMIN,
        ),
        ("os_compute_api:os-migrations:index:all_projects", ADMIN),
        ("os_compute_api:os-migrations:index:host", ADMIN),
        ("os_compute_api:servers:migrations:show", ADMIN),
        (
            "os_compute_api:servers:migrations:force_complete",
            PROJECT_MANAGER_OR_ADMIN,
        ),
        (
            "os_compute_api:servers:migrations:delete",
            PROJECT_MANAGER_OR_ADMIN,
        ),
        (
            "os_compute_api:servers:migrations:index",
            PROJECT_MANAGER_OR_ADMIN,
        ),
        ("os_compute_api:servers:migrations:index:host", ADMIN),
        (
            "os_compute_api:os-migrate-server:migrate",
            PROJECT_MANAGER_OR_ADMIN,
        ),
        ("os_compute_api:os-migrate-server:migrate:host", ADMIN),
        (
            "os_compute_api:os-migrate-server:migrate_live",
            PROJECT_MANAGER_OR_ADMIN,
        ),
        ("os_compute_api:os-migrate-server:migrate_live:host", ADMIN),
        (
            "os_compute_api:os-simple-tenant-usage:show",
            PROJECT_READER_OR_ADMIN,
        ),
        ("os_compute_api:os-simple-tenant-usage:list", ADMIN),
        // nova/policies/floating_ips.py, floating_ip_pools.py.
        (
            "os_compute_api:os-floating-ips:add",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-floating-ips:remove",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-floating-ips:list",
            PROJECT_READER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-floating-ips:create",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-floating-ips:show",
            PROJECT_READER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-floating-ips:delete",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        ("os_compute_api:os-floating-ip-pools", ANY),
        // nova/policies/keypairs.py: a user's own key pairs, or admins.
        ("os_compute_api:os-keypairs:index", KEYPAIR_OWNER_OR_ADMIN),
        ("os_compute_api:os-keypairs:create", KEYPAIR_OWNER_OR_ADMIN),
        ("os_compute_api:os-keypairs:show", KEYPAIR_OWNER_OR_ADMIN),
        ("os_compute_api:os-keypairs:delete", KEYPAIR_OWNER_OR_ADMIN),
        // nova/policies/attach_interfaces.py.
        (
            "os_compute_api:os-attach-interfaces:list",
            PROJECT_READER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-attach-interfaces:show",
            PROJECT_READER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-attach-interfaces:create",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-attach-interfaces:delete",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        // nova/policies/security_groups.py (the os-security-groups
        // proxy and the server's groups and actions).
        (
            "os_compute_api:os-security-groups:get",
            PROJECT_READER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-security-groups:show",
            PROJECT_READER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-security-groups:create",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-security-groups:update",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-security-groups:delete",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-security-groups:rule:create",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-security-groups:rule:delete",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-security-groups:list",
            PROJECT_READER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-security-groups:add",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-security-groups:remove",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        // nova/policies/networks.py and tenant_networks.py (the proxies
        // of the network service's networks).
        ("os_compute_api:os-networks:list", PROJECT_READER_OR_ADMIN),
        ("os_compute_api:os-networks:show", PROJECT_READER_OR_ADMIN),
        (
            "os_compute_api:os-tenant-networks:list",
            PROJECT_READER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-tenant-networks:show",
            PROJECT_READER_OR_ADMIN,
        ),
        // nova/policies/server_password.py.
        (
            "os_compute_api:os-server-password:show",
            PROJECT_READER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-server-password:clear",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        // nova/policies/extensions.py.
        ("os_compute_api:extensions", ANY),
        // nova/policies/server_groups.py.
        (
            "os_compute_api:os-server-groups:create",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-server-groups:delete",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-server-groups:index",
            PROJECT_READER_OR_ADMIN,
        ),
        ("os_compute_api:os-server-groups:index:all_projects", ADMIN),
        (
            "os_compute_api:os-server-groups:show",
            PROJECT_READER_OR_ADMIN,
        ),
        ("os_compute_api:os-quota-sets:show", PROJECT_READER_OR_ADMIN),
        (
            "os_compute_api:os-quota-sets:detail",
            PROJECT_READER_OR_ADMIN,
        ),
        ("os_compute_api:os-quota-sets:defaults", ANY),
        ("os_compute_api:os-quota-sets:update", ADMIN),
        ("os_compute_api:os-quota-sets:delete", ADMIN),
        ("os_compute_api:os-quota-class-sets:show", ADMIN),
        ("os_compute_api:os-quota-class-sets:update", ADMIN),
        ("os_compute_api:limits", ANY),
        ("os_compute_api:limits:other_project", ADMIN),
        ("os_compute_api:os-services:list", ADMIN),
        ("os_compute_api:os-services:update", ADMIN),
        ("os_compute_api:os-services:delete", ADMIN),
        ("os_compute_api:os-hypervisors:list", ADMIN),
        ("os_compute_api:os-hypervisors:list-detail", ADMIN),
        ("os_compute_api:os-hypervisors:show", ADMIN),
        ("os_compute_api:os-hypervisors:statistics", ADMIN),
        ("os_compute_api:os-hypervisors:uptime", ADMIN),
        ("os_compute_api:os-hypervisors:search", ADMIN),
        ("os_compute_api:os-hypervisors:servers", ADMIN),
        ("os_compute_api:os-hosts:list", ADMIN),
        ("os_compute_api:os-hosts:show", ADMIN),
        ("os_compute_api:os-hosts:update", ADMIN),
        ("os_compute_api:os-hosts:start", ADMIN),
        ("os_compute_api:os-hosts:shutdown", ADMIN),
        ("os_compute_api:os-hosts:reboot", ADMIN),
        ("os_compute_api:os-availability-zone:list", ANY),
        ("os_compute_api:os-availability-zone:detail", ADMIN),
        // Servers (nova/policies/servers.py and the action policies).
        ("os_compute_api:servers:create", PROJECT_MEMBER),
        ("os_compute_api:servers:index", PROJECT_READER_OR_ADMIN),
        ("os_compute_api:servers:detail", PROJECT_READER_OR_ADMIN),
        ("os_compute_api:servers:index:get_all_tenants", ADMIN),
        ("os_compute_api:servers:detail:get_all_tenants", ADMIN),
        ("os_compute_api:servers:show", PROJECT_READER_OR_ADMIN),
        ("os_compute_api:servers:show:host_status", ADMIN),
        ("os_compute_api:servers:update", PROJECT_MEMBER_OR_ADMIN),
        ("os_compute_api:servers:delete", PROJECT_MEMBER_OR_ADMIN),
        ("os_compute_api:servers:reboot", PROJECT_MEMBER_OR_ADMIN),
        ("os_compute_api:servers:start", PROJECT_MEMBER_OR_ADMIN),
        ("os_compute_api:servers:stop", PROJECT_MEMBER_OR_ADMIN),
        ("os_compute_api:servers:rebuild", PROJECT_MEMBER_OR_ADMIN),
        (
            "os_compute_api:servers:rebuild:trusted_certs",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        ("os_compute_api:servers:resize", PROJECT_MEMBER_OR_ADMIN),
        (
            "os_compute_api:servers:confirm_resize",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:servers:revert_resize",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        ("os_compute_api:os-rescue", PROJECT_MEMBER_OR_ADMIN),
        ("os_compute_api:os-unrescue", PROJECT_MEMBER_OR_ADMIN),
        ("os_compute_api:os-shelve:shelve", PROJECT_MEMBER_OR_ADMIN),
        ("os_compute_api:os-shelve:unshelve", PROJECT_MEMBER_OR_ADMIN),
        ("os_compute_api:os-shelve:unshelve_to_host", ADMIN),
        ("os_compute_api:os-shelve:shelve_offload", ADMIN),
        (
            "os_compute_api:servers:create_image",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        ("os_compute_api:os-create-backup", PROJECT_MEMBER_OR_ADMIN),
        ("os_compute_api:os-extended-server-attributes", ADMIN),
        (
            "os_compute_api:os-pause-server:pause",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-pause-server:unpause",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-suspend-server:suspend",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-suspend-server:resume",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-lock-server:lock",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-lock-server:unlock",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-lock-server:unlock:unlock_override",
            ADMIN,
        ),
        (
            "os_compute_api:os-instance-actions:list",
            PROJECT_READER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-instance-actions:show",
            PROJECT_READER_OR_ADMIN,
        ),
        ("os_compute_api:os-instance-actions:events", ADMIN),
        ("os_compute_api:os-instance-actions:events:details", ADMIN),
        ("os_compute_api:os-console-output", PROJECT_MEMBER_OR_ADMIN),
        // nova/policies/remote_consoles.py, console_auth_tokens.py
        ("os_compute_api:os-remote-consoles", PROJECT_MEMBER_OR_ADMIN),
        ("os_compute_api:os-console-auth-tokens", ADMIN),
        ("os_compute_api:ips:index", PROJECT_READER_OR_ADMIN),
        (
            "os_compute_api:os-server-tags:index",
            PROJECT_READER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-server-tags:show",
            PROJECT_READER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-server-tags:update",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-server-tags:update_all",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-server-tags:delete",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:os-server-tags:delete_all",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        ("os_compute_api:ips:show", PROJECT_READER_OR_ADMIN),
        (
            "os_compute_api:server-metadata:index",
            PROJECT_READER_OR_ADMIN,
        ),
        (
            "os_compute_api:server-metadata:show",
            PROJECT_READER_OR_ADMIN,
        ),
        (
            "os_compute_api:server-metadata:create",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:server-metadata:update",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:server-metadata:update_all",
            PROJECT_MEMBER_OR_ADMIN,
        ),
        (
            "os_compute_api:server-metadata:delete",
            PROJECT_MEMBER_OR_ADMIN,
        ),
    ]
}

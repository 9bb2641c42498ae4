//! Neutron's default policy rules (neutron/conf/policies), as data: the
//! secure-RBAC personas (admin, project member, project reader) with the
//! resource's `project_id` as target, and the admin-only attributes
//! (`shared`, `router:external`, `provider:*`, `binding:*`) as
//! `<action>:<attribute>` rules. An operator's policy file overrides any
//! of them.
//!
//! Which resources a caller may *see* is decided before these rules, as
//! Neutron's database layer does (its own project's, plus shared and
//! external networks): a resource the caller cannot see is a 404.

const ADMIN: &str = "rule:context_is_admin";
const ADMIN_OR_PROJECT_MEMBER: &str =
    "rule:context_is_admin or (role:member and project_id:%(project_id)s)";
const ADMIN_OR_PROJECT_READER: &str =
    "rule:context_is_admin or (role:reader and project_id:%(project_id)s)";
/// Choosing a floating IP's address: admins and the project's managers.
const ADMIN_OR_PROJECT_MANAGER: &str =
    "rule:context_is_admin or (role:manager and project_id:%(project_id)s)";
/// Port forwardings have no project of their own: their floating IP's
/// (`ext_parent_project_id`) decides.
const ADMIN_OR_PARENT_OWNER_MEMBER: &str =
    "rule:context_is_admin or (role:member and project_id:%(ext_parent_project_id)s)";
const ADMIN_OR_PARENT_OWNER_READER: &str =
    "rule:context_is_admin or (role:reader and project_id:%(ext_parent_project_id)s)";

/// Reading a network: its project's readers, or anyone for a shared or
/// external one.
const GET_NETWORK: &str = "rule:context_is_admin or (role:reader and project_id:%(project_id)s) \
    or 'True':%(shared)s or 'True':%(router:external)s";

/// Changing a subnet: admins, or members of the subnet's or the network's
/// project.
const ADMIN_OR_NETWORK_OWNER: &str = "rule:context_is_admin or (role:member and \
    project_id:%(project_id)s) or (role:member and project_id:%(network:project_id)s)";
/// Reading a subnet: its project's readers, or anyone when its network is
/// shared.
const GET_SUBNET: &str = "rule:context_is_admin or (role:reader and project_id:%(project_id)s) \
    or 'True':%(shared)s";

/// Ports: the port's project, or the owner of its network.
const ADMIN_OR_PORT_OWNER: &str = "rule:context_is_admin or (role:member and \
    project_id:%(project_id)s) or (role:member and project_id:%(network:project_id)s)";
const GET_PORT: &str = "rule:context_is_admin or (role:reader and project_id:%(project_id)s) \
    or (role:reader and project_id:%(network:project_id)s)";
/// Choosing a port's MAC or address: the network's owner.
const ADMIN_OR_NETWORK_OWNER_ONLY: &str =
    "rule:context_is_admin or (role:member and project_id:%(network:project_id)s)";

/// Reading a subnet pool: its project's readers, or anyone when shared.
const GET_SUBNETPOOL: &str = "rule:context_is_admin or (role:reader and \
    project_id:%(project_id)s) or 'True':%(shared)s";

/// Security group rules: the rule's project, or the group's owner.
const GET_SG_RULE: &str = "rule:context_is_admin or (role:reader and project_id:%(project_id)s) \
    or (role:reader and project_id:%(security_group:project_id)s)";
const ADMIN_OR_SG_OWNER: &str = "rule:context_is_admin or (role:member and \
    project_id:%(project_id)s) or (role:member and project_id:%(security_group:project_id)s)";

/// The attributes only an admin may set or see, per resource.
pub const ADMIN_ATTRIBUTES: &[(&str, &[&str])] = &[
    (
        "network",
        &[
            "shared",
            "router:external",
            "provider:network_type",
            "provider:physical_network",
            "provider:segmentation_id",
        ],
    ),
    (
        "port",
        &[
            "binding:host_id",
            "binding:profile",
            "binding:vif_type",
            "binding:vif_details",
        ],
    ),
];

pub fn defaults() -> Vec<(&'static str, &'static str)> {
    vec![
        ("context_is_admin", "role:admin"),
        ("get_agent", ADMIN),
        ("update_agent", ADMIN),
        ("delete_agent", ADMIN),
        ("get_availability_zone", "role:reader"),
        ("admin_only", ADMIN),
        ("create_network", ADMIN_OR_PROJECT_MEMBER),
        ("create_network:shared", ADMIN),
        ("create_network:router:external", ADMIN),
        ("create_network:provider:network_type", ADMIN),
        ("create_network:provider:physical_network", ADMIN),
        ("create_network:provider:segmentation_id", ADMIN),
        ("get_network", GET_NETWORK),
        ("get_network:provider:network_type", ADMIN),
        ("get_network:provider:physical_network", ADMIN),
        ("get_network:provider:segmentation_id", ADMIN),
        ("update_network", ADMIN_OR_PROJECT_MEMBER),
        ("update_network:shared", ADMIN),
        ("update_network:router:external", ADMIN),
        ("update_network:provider:network_type", ADMIN),
        ("update_network:provider:physical_network", ADMIN),
        ("update_network:provider:segmentation_id", ADMIN),
        ("delete_network", ADMIN_OR_PROJECT_MEMBER),
        ("get_network_tags", GET_NETWORK),
        ("update_network_tags", ADMIN_OR_PROJECT_MEMBER),
        ("delete_network_tags", ADMIN_OR_PROJECT_MEMBER),
        ("create_subnet", ADMIN_OR_NETWORK_OWNER),
        ("get_subnet", GET_SUBNET),
        ("update_subnet", ADMIN_OR_NETWORK_OWNER),
        ("delete_subnet", ADMIN_OR_NETWORK_OWNER),
        ("get_subnet_tags", GET_SUBNET),
        ("update_subnet_tags", ADMIN_OR_NETWORK_OWNER),
        ("delete_subnet_tags", ADMIN_OR_NETWORK_OWNER),
        ("create_port", ADMIN_OR_PROJECT_MEMBER),
        ("create_port:mac_address", ADMIN_OR_NETWORK_OWNER_ONLY),
        (
            "create_port:fixed_ips:ip_address",
            ADMIN_OR_NETWORK_OWNER_ONLY,
        ),
        ("create_port:binding:host_id", ADMIN),
        ("create_port:binding:profile", ADMIN),
        ("get_port", GET_PORT),
        ("get_port:binding:host_id", ADMIN),
        ("get_port:binding:profile", ADMIN),
        ("get_port:binding:vif_type", ADMIN),
        ("get_port:binding:vif_details", ADMIN),
        ("update_port", ADMIN_OR_PORT_OWNER),
        ("update_port:mac_address", ADMIN),
        (
            "update_port:fixed_ips:ip_address",
            ADMIN_OR_NETWORK_OWNER_ONLY,
        ),
        ("update_port:binding:host_id", ADMIN),
        ("update_port:binding:profile", ADMIN),
        ("delete_port", ADMIN_OR_PORT_OWNER),
        ("get_port_tags", GET_PORT),
        ("update_port_tags", ADMIN_OR_PORT_OWNER),
        ("delete_port_tags", ADMIN_OR_PORT_OWNER),
        ("create_security_group", ADMIN_OR_PROJECT_MEMBER),
        ("get_security_group", ADMIN_OR_PROJECT_READER),
        ("update_security_group", ADMIN_OR_PROJECT_MEMBER),
        ("delete_security_group", ADMIN_OR_PROJECT_MEMBER),
        ("get_security_groups_tags", ADMIN_OR_PROJECT_READER),
        ("update_security_groups_tags", ADMIN_OR_PROJECT_MEMBER),
        ("delete_security_groups_tags", ADMIN_OR_PROJECT_MEMBER),
        ("create_security_group_rule", ADMIN_OR_PROJECT_MEMBER),
        ("get_security_group_rule", GET_SG_RULE),
        ("delete_security_group_rule", ADMIN_OR_SG_OWNER),
        ("create_router", ADMIN_OR_PROJECT_MEMBER),
        ("create_router:external_gateway_info:enable_snat", ADMIN),
        (
            "create_router:external_gateway_info:external_fixed_ips",
            ADMIN,
        ),
        ("update_router:external_gateway_info:enable_snat", ADMIN),
        (
            "update_router:external_gateway_info:external_fixed_ips",
            ADMIN,
        ),
        ("get_router", ADMIN_OR_PROJECT_READER),
        ("get_router:tags", ADMIN_OR_PROJECT_READER),
        ("update_router:tags", ADMIN_OR_PROJECT_MEMBER),
        ("delete_router:tags", ADMIN_OR_PROJECT_MEMBER),
        ("update_router", ADMIN_OR_PROJECT_MEMBER),
        ("delete_router", ADMIN_OR_PROJECT_MEMBER),
        ("add_router_interface", ADMIN_OR_PROJECT_MEMBER),
        ("remove_router_interface", ADMIN_OR_PROJECT_MEMBER),
        ("create_floatingip", ADMIN_OR_PROJECT_MEMBER),
        (
            "create_floatingip:floating_ip_address",
            ADMIN_OR_PROJECT_MANAGER,
        ),
        ("get_floatingip", ADMIN_OR_PROJECT_READER),
        ("update_floatingip", ADMIN_OR_PROJECT_MEMBER),
        ("delete_floatingip", ADMIN_OR_PROJECT_MEMBER),
        ("get_floatingips_tags", ADMIN_OR_PROJECT_READER),
        ("update_floatingips_tags", ADMIN_OR_PROJECT_MEMBER),
        ("delete_floatingips_tags", ADMIN_OR_PROJECT_MEMBER),
        ("get_floatingip_pool", ADMIN_OR_PROJECT_READER),
        (
            "create_floatingip_port_forwarding",
            ADMIN_OR_PARENT_OWNER_MEMBER,
        ),
        (
            "get_floatingip_port_forwarding",
            ADMIN_OR_PARENT_OWNER_READER,
        ),
        (
            "update_floatingip_port_forwarding",
            ADMIN_OR_PARENT_OWNER_MEMBER,
        ),
        (
            "delete_floatingip_port_forwarding",
            ADMIN_OR_PARENT_OWNER_MEMBER,
        ),
        ("create_subnetpool", ADMIN_OR_PROJECT_MEMBER),
        ("create_subnetpool:shared", ADMIN),
        ("create_subnetpool:is_default", ADMIN),
        ("get_subnetpool", GET_SUBNETPOOL),
        ("update_subnetpool", ADMIN_OR_PROJECT_MEMBER),
        ("update_subnetpool:is_default", ADMIN),
        ("delete_subnetpool", ADMIN_OR_PROJECT_MEMBER),
        ("get_subnetpools_tags", GET_SUBNETPOOL),
        ("update_subnetpools_tags", ADMIN_OR_PROJECT_MEMBER),
        ("delete_subnetpools_tags", ADMIN_OR_PROJECT_MEMBER),
        ("get_extension", ""),
        ("get_quota", ADMIN_OR_PROJECT_READER),
        ("update_quota", ADMIN),
        ("delete_quota", ADMIN),
    ]
}

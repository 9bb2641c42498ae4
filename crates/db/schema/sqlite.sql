CREATE TABLE access_rules (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    service TEXT NOT NULL,
    path TEXT NOT NULL,
    method TEXT NOT NULL,
    UNIQUE (user_id, service, path, method)
);

CREATE TABLE application_credential_access_rules (
    application_credential_id TEXT NOT NULL REFERENCES application_credentials(id) ON DELETE CASCADE,
    access_rule_id TEXT NOT NULL REFERENCES access_rules(id),
    PRIMARY KEY (application_credential_id, access_rule_id)
);

CREATE TABLE application_credential_roles (
    application_credential_id TEXT NOT NULL REFERENCES application_credentials(id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (application_credential_id, role_id)
);

CREATE TABLE application_credentials (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id TEXT,
    system TEXT,
    secret_hash TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    expires_at BIGINT,
    unrestricted BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    UNIQUE (user_id, name)
);

CREATE TABLE assignments (
    type TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    target_id TEXT NOT NULL,
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    inherited BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (type, actor_id, target_id, role_id, inherited)
);

CREATE TABLE compute_aggregate_hosts (
    aggregate_id BIGINT NOT NULL REFERENCES compute_aggregates (id) ON DELETE CASCADE,
    host TEXT NOT NULL,
    PRIMARY KEY (aggregate_id, host)
);

CREATE TABLE compute_aggregate_metadata (
    aggregate_id BIGINT NOT NULL REFERENCES compute_aggregates (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (aggregate_id, key)
);

CREATE TABLE compute_aggregates (
    id BIGINT PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT
);

CREATE TABLE compute_commands (
    id TEXT PRIMARY KEY,
    -- The registered node name (`compute_instances.host`).
    node TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    op TEXT NOT NULL,
    args TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    result TEXT,
    finished_at BIGINT
);

CREATE TABLE compute_console_tokens (
    token_hash TEXT PRIMARY KEY,
    instance_uuid TEXT NOT NULL,
    console_type TEXT NOT NULL,
    host TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE compute_ec2_ids (
    id BIGINT PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE
);

CREATE TABLE compute_flavor_extra_specs (
    flavorid TEXT NOT NULL,
    spec_key TEXT NOT NULL,
    spec_value TEXT NOT NULL,
    PRIMARY KEY (flavorid, spec_key)
);

CREATE TABLE compute_flavor_projects (
    flavorid TEXT NOT NULL,
    project_id TEXT NOT NULL,
    PRIMARY KEY (flavorid, project_id)
);

CREATE TABLE compute_flavors (
    flavorid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    memory_mb BIGINT NOT NULL,
    vcpus BIGINT NOT NULL,
    root_gb BIGINT NOT NULL,
    ephemeral_gb BIGINT NOT NULL,
    swap BIGINT NOT NULL,
    rxtx_factor DOUBLE PRECISION NOT NULL,
    vcpu_weight BIGINT,
    is_public BIGINT NOT NULL,
    disabled BIGINT NOT NULL,
    description TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT
);

CREATE TABLE compute_instance_action_events (
    id TEXT PRIMARY KEY,
    action_id TEXT NOT NULL,
    event TEXT NOT NULL,
    host TEXT,
    result TEXT,
    traceback TEXT,
    start_time BIGINT NOT NULL,
    finish_time BIGINT
);

CREATE TABLE compute_instance_actions (
    id TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    action TEXT NOT NULL,
    request_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    message TEXT,
    start_time BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE compute_instance_passwords (
    instance_id TEXT PRIMARY KEY,
    password TEXT NOT NULL
);

CREATE TABLE compute_instances (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    display_description TEXT,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    hostname TEXT NOT NULL,
    -- The compute node (a registered node's name) once scheduled.
    host TEXT,
    availability_zone TEXT,
    -- The zone the user asked for at create (2.96's
    -- `pinned_availability_zone`); NULL when the scheduler chose.
    pinned_availability_zone TEXT,
    flavor_id TEXT NOT NULL,
    flavor TEXT NOT NULL,
    vcpus BIGINT NOT NULL,
    memory_mb BIGINT NOT NULL,
    root_gb BIGINT NOT NULL,
    ephemeral_gb BIGINT NOT NULL,
    image_ref TEXT NOT NULL,
    vm_state TEXT NOT NULL,
    task_state TEXT,
    power_state BIGINT NOT NULL,
    key_name TEXT,
    key_data TEXT,
    user_data TEXT,
    config_drive TEXT NOT NULL,
    access_ip_v4 TEXT,
    access_ip_v6 TEXT,
    metadata TEXT NOT NULL,
    tags TEXT NOT NULL,
    security_groups TEXT NOT NULL,
    locked BIGINT NOT NULL,
    locked_by TEXT,
    locked_reason TEXT,
    reservation_id TEXT NOT NULL,
    launch_index BIGINT NOT NULL,
    fault TEXT,
    -- The ports the server is plugged into, as the build found them
    -- (Nova's instance_info_cache): JSON `[{port_id, network_id,
    -- network_name, mac, ips: [{addr, version}], created}]`; `created`
    -- marks ports the build made (deleted with the server) against
    -- ports the user gave (unbound).
    network_info TEXT NOT NULL,
    -- The boot image's properties (microversion 2.98 shows them).
    image_properties TEXT NOT NULL,
    launched_at BIGINT,
    terminated_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
, auto_disk_config BIGINT NOT NULL DEFAULT 0);

CREATE TABLE compute_key_pairs (
    id BIGINT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    key_type TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, name)
);

CREATE TABLE compute_migrations (
    id TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    migration_type TEXT NOT NULL,
    source_compute TEXT,
    dest_compute TEXT,
    old_flavor TEXT NOT NULL,
    new_flavor TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
, legacy_id BIGINT, user_id TEXT, project_id TEXT, source_node TEXT, dest_node TEXT, dest_host TEXT);

CREATE TABLE compute_quota_classes (
    class_name TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (class_name, resource)
);

CREATE TABLE compute_quotas (
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (project_id, user_id, resource)
);

CREATE TABLE compute_server_group_members (
    group_id TEXT NOT NULL REFERENCES compute_server_groups (id) ON DELETE CASCADE,
    instance_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, instance_id)
);

CREATE TABLE compute_server_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    policy TEXT NOT NULL,
    rules TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE compute_services (
    id TEXT PRIMARY KEY,
    legacy_id BIGINT NOT NULL UNIQUE,
    host TEXT NOT NULL,
    binary_name TEXT NOT NULL,
    disabled BIGINT NOT NULL,
    disabled_reason TEXT,
    forced_down BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (host, binary_name)
);

CREATE TABLE compute_shelved (
    instance_id TEXT PRIMARY KEY,
    image_id TEXT NOT NULL,
    shelved_host TEXT,
    shelved_at BIGINT NOT NULL
);

CREATE TABLE credentials (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id TEXT,
    type TEXT NOT NULL,
    -- fernet-encrypted with the credential key repository
    encrypted_blob TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);

CREATE TABLE default_security_groups (
    project_id TEXT PRIMARY KEY,
    security_group_id TEXT NOT NULL REFERENCES security_groups (id) ON DELETE CASCADE
);

CREATE TABLE domain_configs (
    domain_id TEXT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    grp TEXT NOT NULL,
    opt TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (domain_id, grp, opt)
);

CREATE TABLE domains (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    enabled BIGINT NOT NULL DEFAULT 1,
    extra TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);

CREATE TABLE endpoint_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    filters TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE endpoints (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    interface TEXT NOT NULL,
    url TEXT NOT NULL,
    region_id TEXT REFERENCES regions(id),
    enabled BIGINT NOT NULL DEFAULT 1,
    extra TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE floatingips (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    floating_network_id TEXT NOT NULL,
    floating_port_id TEXT NOT NULL,
    floating_ip_address TEXT NOT NULL,
    fixed_port_id TEXT,
    fixed_ip_address TEXT,
    router_id TEXT,
    status TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL REFERENCES domains(id),
    description TEXT NOT NULL DEFAULT '',
    extra TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE image_members (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    member_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (image_id, member_id)
);

CREATE TABLE image_tags (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    value TEXT NOT NULL,
    PRIMARY KEY (image_id, value)
);

CREATE TABLE image_usage (
    project_id TEXT PRIMARY KEY,
    images BIGINT NOT NULL DEFAULT 0,
    bytes BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE images (
    id TEXT PRIMARY KEY,
    name TEXT,
    status TEXT NOT NULL,
    visibility TEXT NOT NULL,
    owner TEXT,
    size BIGINT,
    virtual_size BIGINT,
    disk_format TEXT,
    container_format TEXT,
    checksum TEXT,
    os_hash_algo TEXT,
    os_hash_value TEXT,
    min_disk BIGINT NOT NULL DEFAULT 0,
    min_ram BIGINT NOT NULL DEFAULT 0,
    protected BIGINT NOT NULL DEFAULT 0,
    os_hidden BIGINT NOT NULL DEFAULT 0,
    properties TEXT NOT NULL DEFAULT '{}',
    upload_id TEXT,
    stored_bytes BIGINT NOT NULL DEFAULT 0,
    reserved_bytes BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
, upload_seen_at BIGINT);

CREATE TABLE implied_roles (
    prior_role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    implied_role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (prior_role_id, implied_role_id)
);

CREATE TABLE ipallocations (
    subnet_id TEXT NOT NULL REFERENCES subnets (id) ON DELETE CASCADE,
    ip_address TEXT NOT NULL,
    port_id TEXT NOT NULL REFERENCES ports (id) ON DELETE CASCADE,
    network_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (subnet_id, ip_address)
);

CREATE TABLE metadef_namespace_resource_types (
    namespace_id TEXT NOT NULL REFERENCES metadef_namespaces(id) ON DELETE CASCADE,
    resource_type TEXT NOT NULL REFERENCES metadef_resource_types(name),
    prefix TEXT,
    properties_target TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace_id, resource_type)
);

CREATE TABLE metadef_namespaces (
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL UNIQUE,
    display_name TEXT,
    description TEXT,
    visibility TEXT NOT NULL,
    protected BIGINT NOT NULL DEFAULT 0,
    owner TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE metadef_objects (
    id TEXT PRIMARY KEY,
    namespace_id TEXT NOT NULL REFERENCES metadef_namespaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    required TEXT NOT NULL DEFAULT '[]',
    properties TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (namespace_id, name)
);

CREATE TABLE metadef_properties (
    id TEXT PRIMARY KEY,
    namespace_id TEXT NOT NULL REFERENCES metadef_namespaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    json_schema TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (namespace_id, name)
);

CREATE TABLE metadef_resource_types (
    name TEXT PRIMARY KEY,
    protected BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE metadef_tags (
    id TEXT PRIMARY KEY,
    namespace_id TEXT NOT NULL REFERENCES metadef_namespaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE network_agents (
    id TEXT PRIMARY KEY,
    agent_type TEXT NOT NULL,
    binary_name TEXT NOT NULL,
    topic TEXT NOT NULL,
    host TEXT NOT NULL,
    availability_zone TEXT,
    admin_state_up BIGINT NOT NULL,
    description TEXT,
    created_at BIGINT NOT NULL,
    started_at BIGINT NOT NULL
);

CREATE TABLE network_quotas (
    project_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (project_id, resource)
);

CREATE TABLE network_tags (
    resource_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (resource_id, tag)
);

CREATE TABLE networks (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    admin_state_up BIGINT NOT NULL,
    status TEXT NOT NULL,
    shared BIGINT NOT NULL,
    router_external BIGINT NOT NULL,
    mtu BIGINT NOT NULL,
    port_security_enabled BIGINT NOT NULL,
    network_type TEXT NOT NULL,
    physical_network TEXT,
    segmentation_id BIGINT,
    segment_key TEXT NOT NULL UNIQUE,
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE nodes (
    name TEXT PRIMARY KEY,
    hostname TEXT NOT NULL,
    address TEXT NOT NULL,
    roles TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    status_at BIGINT NOT NULL
);

CREATE TABLE oauth1_access_tokens (
    id TEXT PRIMARY KEY,
    encrypted_secret TEXT NOT NULL,
    consumer_id TEXT NOT NULL REFERENCES oauth1_consumers(id) ON DELETE CASCADE,
    authorizing_user_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    role_ids TEXT NOT NULL,
    expires_at BIGINT
);

CREATE TABLE oauth1_consumers (
    id TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    secret_hash TEXT NOT NULL,
    -- the secret itself is needed to check HMAC-SHA1 signatures; stored
    -- encrypted with the credential keys
    encrypted_secret TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE oauth1_request_tokens (
    id TEXT PRIMARY KEY,
    encrypted_secret TEXT NOT NULL,
    consumer_id TEXT NOT NULL REFERENCES oauth1_consumers(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    authorizing_user_id TEXT,
    role_ids TEXT,
    verifier TEXT,
    expires_at BIGINT NOT NULL
);

CREATE TABLE password_history (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE policies (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    blob TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE port_forwardings (
    id TEXT PRIMARY KEY,
    floatingip_id TEXT NOT NULL REFERENCES floatingips (id) ON DELETE CASCADE,
    internal_port_id TEXT NOT NULL REFERENCES ports (id) ON DELETE CASCADE,
    protocol TEXT NOT NULL,
    internal_ip_address TEXT NOT NULL,
    internal_port BIGINT NOT NULL,
    external_port BIGINT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE ports (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    network_id TEXT NOT NULL REFERENCES networks (id) ON DELETE CASCADE,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    admin_state_up BIGINT NOT NULL,
    status TEXT NOT NULL,
    mac_address TEXT NOT NULL,
    device_id TEXT NOT NULL,
    device_owner TEXT NOT NULL,
    port_security_enabled BIGINT NOT NULL,
    binding_host_id TEXT NOT NULL,
    binding_vnic_type TEXT NOT NULL,
    binding_profile TEXT NOT NULL,
    security_groups TEXT NOT NULL,
    allowed_address_pairs TEXT NOT NULL,
    extra_dhcp_opts TEXT NOT NULL,
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE project_endpoint_groups (
    project_id TEXT NOT NULL,
    endpoint_group_id TEXT NOT NULL REFERENCES endpoint_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, endpoint_group_id)
);

CREATE TABLE project_endpoints (
    project_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    PRIMARY KEY (project_id, endpoint_id)
);

CREATE TABLE project_tags (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    PRIMARY KEY (project_id, name)
);

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL REFERENCES domains(id),
    parent_id TEXT REFERENCES projects(id),
    description TEXT NOT NULL DEFAULT '',
    enabled BIGINT NOT NULL DEFAULT 1,
    extra TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE regions (
    id TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    parent_region_id TEXT REFERENCES regions(id),
    extra TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE revisions (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

CREATE TABLE revocation_events (
    id TEXT PRIMARY KEY,
    user_id TEXT,
    project_id TEXT,
    domain_id TEXT,
    audit_id TEXT,
    issued_before BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL
, trust_id TEXT, consumer_id TEXT, access_token_id TEXT);

CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    options TEXT NOT NULL DEFAULT '{}',
    extra TEXT NOT NULL DEFAULT '{}',
    UNIQUE (domain_id, name)
);

CREATE TABLE routers (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    admin_state_up BIGINT NOT NULL,
    status TEXT NOT NULL,
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
, enable_snat BIGINT NOT NULL DEFAULT 1, routes TEXT NOT NULL DEFAULT '[]');

CREATE TABLE sagas (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    step BIGINT NOT NULL,
    direction TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT NOT NULL
);

CREATE TABLE schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL);

CREATE TABLE security_group_rules (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    security_group_id TEXT NOT NULL REFERENCES security_groups (id) ON DELETE CASCADE,
    remote_group_id TEXT REFERENCES security_groups (id) ON DELETE CASCADE,
    direction TEXT NOT NULL,
    ethertype TEXT NOT NULL,
    protocol TEXT,
    port_range_min BIGINT,
    port_range_max BIGINT,
    remote_ip_prefix TEXT,
    description TEXT NOT NULL DEFAULT '',
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE security_groups (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    stateful BIGINT NOT NULL,
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE service_migrations (
            service TEXT NOT NULL,
            version BIGINT NOT NULL,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL,
            PRIMARY KEY (service, version));

CREATE TABLE services (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    enabled BIGINT NOT NULL DEFAULT 1,
    extra TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE subnetpools (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    ip_version BIGINT NOT NULL,
    -- JSON list of CIDRs, compacted and sorted.
    prefixes TEXT NOT NULL,
    min_prefixlen BIGINT NOT NULL,
    max_prefixlen BIGINT NOT NULL,
    default_prefixlen BIGINT NOT NULL,
    shared BIGINT NOT NULL,
    is_default BIGINT NOT NULL,
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE subnets (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    network_id TEXT NOT NULL REFERENCES networks (id) ON DELETE CASCADE,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    ip_version BIGINT NOT NULL,
    cidr TEXT NOT NULL,
    gateway_ip TEXT,
    enable_dhcp BIGINT NOT NULL,
    ipv6_ra_mode TEXT,
    ipv6_address_mode TEXT,
    subnetpool_id TEXT,
    allocation_pools TEXT NOT NULL,
    dns_nameservers TEXT NOT NULL,
    host_routes TEXT NOT NULL,
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE swift_accounts (
    account TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    put_timestamp BIGINT NOT NULL,
    -- {"x-account-meta-temp-url-key": "…", …}: lowercase header → value.
    metadata TEXT NOT NULL DEFAULT '{}',
    -- Quotas only a reseller admin sets (account_quotas' sysmeta).
    quota_bytes BIGINT,
    quota_count BIGINT,
    container_count BIGINT NOT NULL DEFAULT 0,
    object_count BIGINT NOT NULL DEFAULT 0,
    bytes_used BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE swift_containers (
    account TEXT NOT NULL REFERENCES swift_accounts(account),
    name BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    put_timestamp BIGINT NOT NULL,
    -- X-Container-Meta-* (quotas, temp-URL keys …): lowercase header → value.
    metadata TEXT NOT NULL DEFAULT '{}',
    read_acl TEXT,
    write_acl TEXT,
    -- Legacy versioned writes: archive container and 'stack' or 'history'.
    versions_location TEXT,
    versions_mode TEXT,
    object_count BIGINT NOT NULL DEFAULT 0,
    bytes_used BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account, name)
);

CREATE TABLE swift_objects (
    account TEXT NOT NULL,
    container BYTEA NOT NULL,
    name BYTEA NOT NULL,
    -- The data file (a fresh id per write: files are never rewritten).
    file_id TEXT NOT NULL,
    size BIGINT NOT NULL,
    etag TEXT NOT NULL,
    content_type TEXT NOT NULL,
    -- Microseconds; X-Timestamp and Last-Modified.
    created_at BIGINT NOT NULL,
    -- X-Object-Meta-*, Content-Disposition, Content-Encoding: header → value.
    metadata TEXT NOT NULL DEFAULT '{}',
    -- X-Delete-At, seconds since the epoch.
    delete_at BIGINT,
    -- X-Object-Manifest of a dynamic large object.
    manifest TEXT,
    -- Static large object manifests: the SLO's ETag and total size.
    slo_etag TEXT,
    slo_size BIGINT,
    PRIMARY KEY (account, container, name),
    FOREIGN KEY (account, container) REFERENCES swift_containers(account, name)
);

CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    owner TEXT,
    image_id TEXT,
    request_id TEXT,
    user_id TEXT,
    input TEXT,
    result TEXT,
    message TEXT NOT NULL DEFAULT '',
    expires_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE trust_roles (
    trust_id TEXT NOT NULL REFERENCES trusts(id) ON DELETE CASCADE,
    role_id TEXT NOT NULL,
    PRIMARY KEY (trust_id, role_id)
);

CREATE TABLE trusts (
    id TEXT PRIMARY KEY,
    trustor_user_id TEXT NOT NULL,
    trustee_user_id TEXT NOT NULL,
    project_id TEXT,
    impersonation BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT,
    remaining_uses BIGINT,
    allow_redelegation BIGINT NOT NULL DEFAULT 0,
    redelegation_count BIGINT NOT NULL DEFAULT 0,
    redelegated_trust_id TEXT,
    deleted_at BIGINT,
    extra TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);

CREATE TABLE user_group_membership (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL REFERENCES domains(id),
    enabled BIGINT NOT NULL DEFAULT 1,
    default_project_id TEXT,
    password_hash TEXT,
    password_created_at BIGINT,
    extra TEXT NOT NULL DEFAULT '{}',
    options TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL, failed_auth_count BIGINT NOT NULL DEFAULT 0, failed_auth_at BIGINT, password_expires_at BIGINT,
    UNIQUE (domain_id, name)
);

CREATE INDEX assignments_actor ON assignments (actor_id);

CREATE INDEX assignments_target ON assignments (target_id);

CREATE INDEX compute_commands_node ON compute_commands (node, finished_at);

CREATE INDEX compute_console_tokens_expires ON compute_console_tokens (expires_at);

CREATE INDEX compute_flavor_projects_project ON compute_flavor_projects (project_id);

CREATE INDEX compute_instance_action_events_action ON compute_instance_action_events (action_id, start_time);

CREATE INDEX compute_instance_actions_instance ON compute_instance_actions (instance_id, start_time);

CREATE INDEX compute_instances_created ON compute_instances (created_at, id);

CREATE INDEX compute_instances_host ON compute_instances (host, deleted_at);

CREATE INDEX compute_instances_project ON compute_instances (project_id, deleted_at);

CREATE INDEX compute_migrations_instance ON compute_migrations (instance_id);

CREATE UNIQUE INDEX compute_migrations_legacy_id ON compute_migrations (legacy_id);

CREATE INDEX compute_migrations_updated ON compute_migrations (updated_at);

CREATE INDEX compute_server_group_members_instance ON compute_server_group_members (instance_id);

CREATE INDEX compute_server_groups_project ON compute_server_groups (project_id);

CREATE INDEX credentials_user_id ON credentials (user_id, id);

CREATE UNIQUE INDEX floatingips_assoc
    ON floatingips (floating_network_id, fixed_port_id, fixed_ip_address);

CREATE INDEX floatingips_fixed_port ON floatingips (fixed_port_id);

CREATE INDEX floatingips_project ON floatingips (project_id);

CREATE INDEX floatingips_router ON floatingips (router_id);

CREATE INDEX image_members_member ON image_members (member_id);

CREATE INDEX image_tags_value ON image_tags (value);

CREATE INDEX images_created_at_id ON images (created_at, id);

CREATE INDEX images_owner ON images (owner);

CREATE INDEX images_visibility ON images (visibility);

CREATE INDEX ipallocations_port ON ipallocations (port_id);

CREATE UNIQUE INDEX metadef_tags_name ON metadef_tags (namespace_id, lower(name));

CREATE UNIQUE INDEX network_agents_type_host ON network_agents (agent_type, host);

CREATE INDEX network_tags_tag ON network_tags (tag);

CREATE INDEX networks_project ON networks (project_id);

CREATE INDEX password_history_user ON password_history (user_id);

CREATE UNIQUE INDEX port_forwardings_external
    ON port_forwardings (floatingip_id, protocol, external_port);

CREATE UNIQUE INDEX port_forwardings_internal
    ON port_forwardings (protocol, internal_port_id, internal_ip_address, internal_port);

CREATE INDEX port_forwardings_port ON port_forwardings (internal_port_id);

CREATE INDEX ports_device_id ON ports (device_id);

CREATE UNIQUE INDEX ports_network_mac ON ports (network_id, mac_address);

CREATE INDEX ports_project ON ports (project_id);

CREATE INDEX projects_domain_id ON projects (domain_id, id);

CREATE INDEX projects_parent ON projects (parent_id);

CREATE INDEX revocation_events_revoked_at ON revocation_events (revoked_at);

CREATE INDEX routers_project ON routers (project_id);

CREATE INDEX sagas_kind ON sagas (kind);

CREATE INDEX security_group_rules_group ON security_group_rules (security_group_id);

CREATE INDEX security_group_rules_project ON security_group_rules (project_id);

CREATE INDEX security_group_rules_remote ON security_group_rules (remote_group_id);

CREATE INDEX security_groups_project ON security_groups (project_id);

CREATE INDEX subnetpools_project ON subnetpools (project_id);

CREATE INDEX subnets_network ON subnets (network_id);

CREATE INDEX subnets_project ON subnets (project_id);

CREATE INDEX subnets_subnetpool ON subnets (subnetpool_id);

CREATE INDEX swift_objects_delete_at ON swift_objects (delete_at);

CREATE INDEX swift_objects_file ON swift_objects (file_id);

CREATE INDEX tasks_image ON tasks (image_id);

CREATE INDEX tasks_owner ON tasks (owner);

CREATE INDEX trusts_trustee_user_id ON trusts (trustee_user_id, id);

CREATE INDEX trusts_trustor_user_id ON trusts (trustor_user_id, id);

CREATE INDEX user_group_membership_group ON user_group_membership (group_id);

CREATE INDEX users_domain_id ON users (domain_id, id);


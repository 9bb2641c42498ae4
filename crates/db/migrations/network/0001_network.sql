-- Network (Neutron) schema. Portable SQL: TEXT and BIGINT only, booleans as
-- 0/1, times in microseconds since the epoch.

-- One row per network, with its one segment. `segment_key` names what the
-- segment occupies (`vxlan:<vni>`, `vlan:<physnet>:<vid>`, `flat:<physnet>`)
-- and is unique, so two networks can never be given the same VNI, VLAN or
-- flat physical network, however many requests race for it.
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
CREATE INDEX networks_project ON networks (project_id);

-- Tags of every taggable resource (standard-attr-tag); resource ids are
-- UUIDs, unique across resource types.
CREATE TABLE network_tags (
    resource_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (resource_id, tag)
);
CREATE INDEX network_tags_tag ON network_tags (tag);

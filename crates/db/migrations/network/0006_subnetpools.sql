-- Subnet pools: the prefixes subnets may be carved from. A subnet made
-- from a pool names it in `subnets.subnetpool_id`; allocation happens in
-- the subnet's write transaction after the `network` revision bump, which
-- holds every network writer in line, so two subnets never get one range.
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
CREATE INDEX subnetpools_project ON subnetpools (project_id);
CREATE INDEX subnets_subnetpool ON subnets (subnetpool_id);

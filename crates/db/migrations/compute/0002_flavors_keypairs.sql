-- Flavors (Nova's API-database `flavors`), keyed by the public
-- `flavorid`; their extra specs and, for private flavors, the projects
-- allowed to use them. `vcpu_weight` is never set by the API but is one
-- of Nova's sort keys.
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
CREATE INDEX compute_flavor_projects_project ON compute_flavor_projects (project_id);

-- Key pairs belong to a user (not a project) and are named uniquely per
-- user; `id` is the integer Nova shows.
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

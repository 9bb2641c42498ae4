-- Quotas: admin overrides of the configured defaults. `user_id` is ''
-- for a project's own limits, else a user's within that project (Nova's
-- `project_user_quotas`). Quota classes (`os-quota-class-sets`) keep
-- only the `default` class's overrides of the configured defaults, as
-- Nova does since Ocata.
CREATE TABLE compute_quotas (
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (project_id, user_id, resource)
);
CREATE TABLE compute_quota_classes (
    class_name TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (class_name, resource)
);
-- The services (`nova-compute` per compute host, `nova-scheduler` and
-- `nova-conductor` on the controller): a row is made the first time a
-- service is seen, to keep its administrative state (disabled, forced
-- down) and its ids: `id` the UUID of microversion 2.53 on, `legacy_id`
-- the integer before it.
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

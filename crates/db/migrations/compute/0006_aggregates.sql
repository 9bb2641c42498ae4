-- Host aggregates (Nova's `aggregates`, `aggregate_hosts`,
-- `aggregate_metadata`): named groups of compute hosts with metadata; the
-- `availability_zone` key makes the group an availability zone. Ids are
-- integers as Nova shows them, given under a lock as MAX + 1.
CREATE TABLE compute_aggregates (
    id BIGINT PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT
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

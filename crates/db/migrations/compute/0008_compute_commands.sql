-- Calls of the controller's remote driver (`compute::remote`) for the
-- node agent hosting an instance: written by the controller, read by the
-- node in its desired state (`parts.compute.commands`, pending ones only),
-- finished when the node's status report carries the result. `args` and
-- `result` are JSON text. The caller deletes its row once it read the
-- result (or gave up waiting), so the table only holds calls in flight.
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
CREATE INDEX compute_commands_node ON compute_commands (node, finished_at);

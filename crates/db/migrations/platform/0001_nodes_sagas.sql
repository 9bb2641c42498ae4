-- Node agents and sagas. Portable SQL: TEXT and BIGINT only, booleans as 0/1.

-- One row per node agent. Only a hash of the node token is kept; roles and
-- status are JSON text (`["network","compute"]`, `{"compute": {...}}`).
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

-- Sagas in progress: `step` is the next step to run (direction 'forward')
-- or one past the next step to undo (direction 'undo'); `state` holds the
-- parameters and every completed step's output.
CREATE TABLE sagas (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    step BIGINT NOT NULL,
    direction TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT NOT NULL
);
CREATE INDEX sagas_kind ON sagas (kind);

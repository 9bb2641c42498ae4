-- Neutron's agents: one row per (agent type, host), made when the node
-- holding that role first fetches its desired state. Liveness and the
-- heartbeat come from the node registry; what an operator changes
-- (admin_state_up, description) and the stable id live here.
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
CREATE UNIQUE INDEX network_agents_type_host ON network_agents (agent_type, host);

-- Routers. A router's interfaces are ports with device_owner
-- `network:router_interface` and device_id the router's id; they are
-- made and removed in the router's write transaction after the `network`
-- revision bump, so two interfaces never take one gateway address.
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
);
CREATE INDEX routers_project ON routers (project_id);

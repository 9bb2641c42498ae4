-- Server groups (Nova's instance groups): one policy each (`affinity`,
-- `anti-affinity`, `soft-affinity`, `soft-anti-affinity`), the rules
-- of microversion 2.64 as a JSON object (`max_server_per_host`), and
-- their members, one row per server (removed with the server).
CREATE TABLE compute_server_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    policy TEXT NOT NULL,
    rules TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX compute_server_groups_project ON compute_server_groups (project_id);
CREATE TABLE compute_server_group_members (
    group_id TEXT NOT NULL REFERENCES compute_server_groups (id) ON DELETE CASCADE,
    instance_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, instance_id)
);
CREATE INDEX compute_server_group_members_instance ON compute_server_group_members (instance_id);
-- The password a guest posts to the metadata API (encrypted with its
-- key pair by the guest; Nova keeps it in system metadata), until an
-- admin clears it through os-server-password.
CREATE TABLE compute_instance_passwords (
    instance_id TEXT PRIMARY KEY,
    password TEXT NOT NULL
);

-- Servers (Nova's `instances`). A deleted server keeps its row with
-- `deleted_at` set (Nova soft-deletes: `changes-since` and admins with
-- `deleted=true` still list it); every live query filters on it.
-- The flavor is copied in at create (`flavor` is its JSON, as Nova keeps
-- `instance_extra.flavor`), so a deleted or changed flavor never changes
-- a server; vcpus/memory_mb/root_gb/ephemeral_gb are its current sizes,
-- what quotas and hypervisor statistics add up.
-- `metadata`, `tags`, `security_groups` and `fault` are JSON text.
CREATE TABLE compute_instances (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    display_description TEXT,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    hostname TEXT NOT NULL,
    -- The compute node (a registered node's name) once scheduled.
    host TEXT,
    availability_zone TEXT,
    -- The zone the user asked for at create (2.96's
    -- `pinned_availability_zone`); NULL when the scheduler chose.
    pinned_availability_zone TEXT,
    flavor_id TEXT NOT NULL,
    flavor TEXT NOT NULL,
    vcpus BIGINT NOT NULL,
    memory_mb BIGINT NOT NULL,
    root_gb BIGINT NOT NULL,
    ephemeral_gb BIGINT NOT NULL,
    image_ref TEXT NOT NULL,
    vm_state TEXT NOT NULL,
    task_state TEXT,
    power_state BIGINT NOT NULL,
    key_name TEXT,
    key_data TEXT,
    user_data TEXT,
    config_drive TEXT NOT NULL,
    access_ip_v4 TEXT,
    access_ip_v6 TEXT,
    metadata TEXT NOT NULL,
    tags TEXT NOT NULL,
    security_groups TEXT NOT NULL,
    locked BIGINT NOT NULL,
    locked_by TEXT,
    locked_reason TEXT,
    reservation_id TEXT NOT NULL,
    launch_index BIGINT NOT NULL,
    fault TEXT,
    -- The ports the server is plugged into, as the build found them
    -- (Nova's instance_info_cache): JSON `[{port_id, network_id,
    -- network_name, mac, ips: [{addr, version}], created}]`; `created`
    -- marks ports the build made (deleted with the server) against
    -- ports the user gave (unbound).
    network_info TEXT NOT NULL,
    -- The boot image's properties (microversion 2.98 shows them).
    image_properties TEXT NOT NULL,
    launched_at BIGINT,
    terminated_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX compute_instances_project ON compute_instances (project_id, deleted_at);
CREATE INDEX compute_instances_host ON compute_instances (host, deleted_at);
CREATE INDEX compute_instances_created ON compute_instances (created_at, id);

-- `os-instance-actions`: one row per action on a server (create,
-- delete, reboot, …), keyed by the request that asked for it, and its
-- events (the steps the action went through, with their outcome).
CREATE TABLE compute_instance_actions (
    id TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    action TEXT NOT NULL,
    request_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    message TEXT,
    start_time BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX compute_instance_actions_instance ON compute_instance_actions (instance_id, start_time);
CREATE TABLE compute_instance_action_events (
    id TEXT PRIMARY KEY,
    action_id TEXT NOT NULL,
    event TEXT NOT NULL,
    host TEXT,
    result TEXT,
    traceback TEXT,
    start_time BIGINT NOT NULL,
    finish_time BIGINT
);
CREATE INDEX compute_instance_action_events_action ON compute_instance_action_events (action_id, start_time);

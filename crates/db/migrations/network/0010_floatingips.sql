-- Floating IPs. Each holds a project-less port (device_owner
-- `network:floatingip`, device_id the floating IP's id) on its external
-- network for its address. The association (fixed_port_id,
-- fixed_ip_address, router_id) is cleared by the application when the
-- internal port goes; the unique index is neutron's: one floating IP per
-- (external network, port, fixed address).
CREATE TABLE floatingips (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    floating_network_id TEXT NOT NULL,
    floating_port_id TEXT NOT NULL,
    floating_ip_address TEXT NOT NULL,
    fixed_port_id TEXT,
    fixed_ip_address TEXT,
    router_id TEXT,
    status TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX floatingips_assoc
    ON floatingips (floating_network_id, fixed_port_id, fixed_ip_address);
CREATE INDEX floatingips_project ON floatingips (project_id);
CREATE INDEX floatingips_fixed_port ON floatingips (fixed_port_id);
CREATE INDEX floatingips_router ON floatingips (router_id);

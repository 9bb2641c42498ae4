-- Port forwardings of a floating IP (no port association on it) to an
-- address and port of an internal port. The unique indexes are
-- neutron's: one rule per (floating IP, protocol, external port) and one
-- per (protocol, internal port, internal address, internal port number).
CREATE TABLE port_forwardings (
    id TEXT PRIMARY KEY,
    floatingip_id TEXT NOT NULL REFERENCES floatingips (id) ON DELETE CASCADE,
    internal_port_id TEXT NOT NULL REFERENCES ports (id) ON DELETE CASCADE,
    protocol TEXT NOT NULL,
    internal_ip_address TEXT NOT NULL,
    internal_port BIGINT NOT NULL,
    external_port BIGINT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX port_forwardings_external
    ON port_forwardings (floatingip_id, protocol, external_port);
CREATE UNIQUE INDEX port_forwardings_internal
    ON port_forwardings (protocol, internal_port_id, internal_ip_address, internal_port);
CREATE INDEX port_forwardings_port ON port_forwardings (internal_port_id);

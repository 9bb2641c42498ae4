-- Subnets. The list attributes (allocation pools, DNS servers, host
-- routes) are JSON text: Neutron neither filters nor sorts on them.
-- Overlap on one network is checked in the transaction that inserts,
-- after it has locked the network row (see app::subnets).
CREATE TABLE subnets (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    network_id TEXT NOT NULL REFERENCES networks (id) ON DELETE CASCADE,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    ip_version BIGINT NOT NULL,
    cidr TEXT NOT NULL,
    gateway_ip TEXT,
    enable_dhcp BIGINT NOT NULL,
    ipv6_ra_mode TEXT,
    ipv6_address_mode TEXT,
    subnetpool_id TEXT,
    allocation_pools TEXT NOT NULL,
    dns_nameservers TEXT NOT NULL,
    host_routes TEXT NOT NULL,
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX subnets_network ON subnets (network_id);
CREATE INDEX subnets_project ON subnets (project_id);

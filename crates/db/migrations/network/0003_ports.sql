-- Ports and their addresses. The list attributes (binding profile,
-- security group ids, allowed address pairs, extra DHCP options) are JSON
-- text: Neutron neither sorts nor range-filters on them.
-- A MAC address is unique on its network (Neutron's rule), so two
-- concurrent creates can never both take one.
CREATE TABLE ports (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    network_id TEXT NOT NULL REFERENCES networks (id) ON DELETE CASCADE,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    admin_state_up BIGINT NOT NULL,
    status TEXT NOT NULL,
    mac_address TEXT NOT NULL,
    device_id TEXT NOT NULL,
    device_owner TEXT NOT NULL,
    port_security_enabled BIGINT NOT NULL,
    binding_host_id TEXT NOT NULL,
    binding_vnic_type TEXT NOT NULL,
    binding_profile TEXT NOT NULL,
    security_groups TEXT NOT NULL,
    allowed_address_pairs TEXT NOT NULL,
    extra_dhcp_opts TEXT NOT NULL,
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ports_network_mac ON ports (network_id, mac_address);
CREATE INDEX ports_project ON ports (project_id);
CREATE INDEX ports_device_id ON ports (device_id);

-- One row per address a port holds. The primary key makes an address
-- impossible to hand out twice on one subnet, whatever races for it;
-- `position` keeps a port's fixed_ips in the order they were given.
CREATE TABLE ipallocations (
    subnet_id TEXT NOT NULL REFERENCES subnets (id) ON DELETE CASCADE,
    ip_address TEXT NOT NULL,
    port_id TEXT NOT NULL REFERENCES ports (id) ON DELETE CASCADE,
    network_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (subnet_id, ip_address)
);
CREATE INDEX ipallocations_port ON ipallocations (port_id);

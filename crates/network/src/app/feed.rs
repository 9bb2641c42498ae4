//! The agent feed: the `network` part of every node's desired-state
//! document (`GET /internal/v1/nodes/{name}/desired-state`, under
//! `parts.network`), and the port statuses nodes report back. The data
//! plane (`crates/agent`) converges a host to it; `docs/agent-feed.md` is
//! the same contract for its readers. [`NodeFeed`] is the document,
//! serde-typed so both ends and the tests read one definition.
//!
//! # Who gets what
//!
//! - **Every node** gets `ports`: the ports bound to it, i.e. whose
//!   `binding:host_id` equals the node's registered *name* (Nova binds a
//!   server's ports to the compute node's name), except router and DHCP
//!   ports, which go with their router or DHCP server. Each carries its
//!   MAC, fixed IPs, network and segment, `port_security_enabled`,
//!   `allowed_address_pairs` and its security group ids; `security_groups`
//!   holds those groups with their rules, and `remote_groups` the member
//!   addresses (fixed IPs and allowed address pairs of every port in the
//!   group, wherever bound) of every group a rule names as
//!   `remote_group_id`.
//! - **Network-role nodes** also get the `routers` scheduled to them and
//!   the `dhcp` servers of the networks scheduled to them (rendezvous
//!   hashing over the network nodes whose L3 / DHCP agent is
//!   `admin_state_up`; see `app::agents`). Each router carries what its
//!   gateway leg does beyond SNAT: its `floatingips` (associated with a
//!   port: the floating and fixed addresses, the external network, the
//!   internal port and its MAC, the status) for 1:1 DNAT/SNAT and for
//!   answering ARP for the floating address on the gateway, and its
//!   `port_forwardings` (floating address and id, protocol, external
//!   port, internal address, port number and port id) for per-port DNAT.
//! - `networks` lists every network the node carries (a port bound here,
//!   a DHCP server or a router leg here), with its segment, its subnets
//!   and, for VXLAN, `remote_vteps`: the addresses of the other nodes
//!   carrying it, sorted (the flood list for head-end replication), and
//!   `remote_macs`: the (MAC, VTEP) of every port of the network owned by
//!   another node (bound there, or a router / DHCP port scheduled there),
//!   for per-MAC forwarding-database entries, sorted by MAC then VTEP.
//!
//! Keys are never left out: an empty list or `null` says "none". Order
//! is stable (by id), so an unchanged cloud gives an identical document.
//!
//! # Status reports
//!
//! A node's status (`PUT /internal/v1/nodes/{name}/status`) may carry, in
//! its `network` role document (or, on a node without that role, its
//! `compute` document under `network_ports`), `"ports": {"<port id>":
//! "ACTIVE" | "DOWN"}` ([`PortReport`]). A port's status is set (and its
//! revision bumped) only when the reporting node owns it: bound to it, or
//! a router / DHCP port of a router or DHCP server scheduled to it.
//! Others are ignored, so a report that raced a rescheduling does no
//! harm. Any other value is a 400.
//!
//! A network node's `network` document may also carry `"floatingips":
//! {"<floating IP id>": "ACTIVE" | "DOWN" | "ERROR"}` ([`FipReport`]),
//! applied as `Network::set_floatingip_status` does, only for the
//! floating IPs of routers scheduled to that node. With `dataplane =
//! none` these are ignored: a floating IP is ACTIVE while a router
//! serves it. Either kind of report that changes nothing bumps nothing.

use super::agents::Placement;
use super::ports::{DEVICE_OWNER_DHCP, DEVICE_OWNER_ROUTER_GW, DEVICE_OWNER_ROUTER_INTF};
use super::Network;
use crate::db::feed::Snapshot;
use crate::db::networks::NetworkRow;
use crate::db::ports::PortRow;
use crate::db::security_groups as sg_rows;
use common::service::NodeInfo;
use common::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The `network` part of one node's document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFeed {
    /// Every network this node carries, by id.
    pub networks: Vec<FeedNetwork>,
    /// The ports bound to this node (not router or DHCP ports), by id.
    pub ports: Vec<FeedPort>,
    /// The security groups of those ports, with their rules, by id.
    pub security_groups: Vec<FeedSecurityGroup>,
    /// Member addresses of every group a rule names as its remote group.
    pub remote_groups: BTreeMap<String, Vec<String>>,
    /// DHCP servers on this node (network role): one per DHCP-enabled
    /// subnet of each network scheduled here.
    pub dhcp: Vec<FeedDhcp>,
    /// Routers on this node (network role), by id.
    pub routers: Vec<FeedRouter>,
    /// What the metadata proxy needs to name the instance behind a
    /// source address (network role): the addressed non-router, non-DHCP
    /// ports with a `device_id` on every network that has an interface
    /// of a router here or a DHCP server here, by network, address and
    /// port id. Absent in an older document: none.
    #[serde(default)]
    pub metadata: Vec<FeedMetadataPort>,
}

/// One instance address the metadata proxy may see as a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedMetadataPort {
    pub network_id: String,
    pub ip_address: String,
    pub port_id: String,
    /// The instance (`X-Instance-ID`).
    pub device_id: String,
    /// Its project (`X-Tenant-ID`).
    pub project_id: String,
}

/// How a network reaches the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSegment {
    /// `flat`, `vlan` or `vxlan`.
    pub network_type: String,
    /// Flat and VLAN: the physical network (`physnet1`).
    pub physical_network: Option<String>,
    /// VLAN id or VNI.
    pub segmentation_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedNetwork {
    pub id: String,
    pub admin_state_up: bool,
    pub mtu: i64,
    pub router_external: bool,
    pub segment: FeedSegment,
    pub subnets: Vec<FeedSubnet>,
    /// VXLAN: the other nodes carrying this network (their registered
    /// addresses), sorted; empty otherwise.
    pub remote_vteps: Vec<String>,
    /// VXLAN: where the network's ports on other nodes are (one entry
    /// per port, sorted by MAC then VTEP); empty otherwise. Absent in
    /// documents from servers that predate it, read as none.
    #[serde(default)]
    pub remote_macs: Vec<FeedRemoteMac>,
}

/// A port of a VXLAN network on another node: its MAC behind that
/// node's VTEP.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedRemoteMac {
    pub mac_address: String,
    pub vtep: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSubnet {
    pub id: String,
    pub ip_version: i64,
    pub cidr: String,
    pub gateway_ip: Option<String>,
    pub enable_dhcp: bool,
    pub dns_nameservers: Vec<String>,
    pub host_routes: Vec<FeedRoute>,
    /// IPv6: who sends router advertisements and with which flags
    /// (`slaac`, `dhcpv6-stateful`, `dhcpv6-stateless`); null for IPv4
    /// or when no OpenStack router is to advertise.
    #[serde(default)]
    pub ipv6_ra_mode: Option<String>,
    /// IPv6: how ports get their addresses (same values); drives the
    /// DHCPv6 server's mode.
    #[serde(default)]
    pub ipv6_address_mode: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedRoute {
    pub destination: String,
    pub nexthop: String,
}

/// One address of a port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedIp {
    pub subnet_id: String,
    pub ip_address: String,
}

/// One address of a router leg, with its subnet's prefix length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedAddress {
    pub subnet_id: String,
    pub ip_address: String,
    pub prefixlen: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedAddressPair {
    pub ip_address: String,
    pub mac_address: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedPort {
    pub id: String,
    pub network_id: String,
    pub segment: FeedSegment,
    pub mac_address: String,
    pub admin_state_up: bool,
    pub device_owner: String,
    pub device_id: String,
    pub fixed_ips: Vec<FeedIp>,
    /// False: no anti-spoofing and no security groups on this port.
    pub port_security_enabled: bool,
    pub allowed_address_pairs: Vec<FeedAddressPair>,
    pub security_groups: Vec<String>,
    /// What the node last reported (`ACTIVE` or `DOWN`).
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSecurityGroup {
    pub id: String,
    pub stateful: bool,
    pub rules: Vec<FeedRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedRule {
    pub id: String,
    /// `ingress` or `egress`.
    pub direction: String,
    /// `IPv4` or `IPv6`.
    pub ethertype: String,
    /// As stored (`tcp`, `udp`, `icmp`, a number, …); null is any.
    pub protocol: Option<String>,
    pub port_range_min: Option<i64>,
    pub port_range_max: Option<i64>,
    pub remote_ip_prefix: Option<String>,
    /// Its members' addresses are in `remote_groups`.
    pub remote_group_id: Option<String>,
}

/// The DHCP server of one subnet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedDhcp {
    pub network_id: String,
    pub subnet_id: String,
    /// The network's DHCP port (`network:dhcp`); null until it has one.
    pub port: Option<FeedDhcpPort>,
    /// A host entry per address of every other port on the subnet.
    pub entries: Vec<FeedDhcpEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedDhcpPort {
    pub id: String,
    pub mac_address: String,
    /// Its address on this subnet.
    pub address: Option<FeedAddress>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedDhcpEntry {
    pub port_id: String,
    pub mac_address: String,
    pub ip_address: String,
    /// `host-10-0-0-5`, as neutron's DHCP agent names hosts.
    pub hostname: String,
    /// `{"opt_name", "opt_value", "ip_version"}` as set on the port.
    pub extra_dhcp_opts: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedRouter {
    pub id: String,
    pub admin_state_up: bool,
    /// Internal legs (`qr-…`), by port id.
    pub interfaces: Vec<FeedLeg>,
    /// The external leg (`qg-…`), or null.
    pub gateway: Option<FeedGateway>,
    /// Extra routes.
    pub routes: Vec<FeedRoute>,
    /// The floating IPs associated with a port through this router, by id.
    pub floatingips: Vec<FeedFloatingIp>,
    /// The port forwardings of the floating IPs this router serves, by id.
    pub port_forwardings: Vec<FeedPortForwarding>,
}

/// A floating IP associated with an internal port: DNAT of
/// `floating_ip_address` to `fixed_ip_address` and SNAT back, the
/// floating address answered for on the gateway leg on
/// `floating_network_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedFloatingIp {
    pub id: String,
    pub floating_ip_address: String,
    /// The external network (the router's gateway leg is on it).
    pub floating_network_id: String,
    pub fixed_ip_address: String,
    /// The internal port holding `fixed_ip_address`.
    pub port_id: String,
    /// That port's MAC.
    pub mac_address: String,
    /// `ACTIVE`, `DOWN` or `ERROR`, as last reported.
    pub status: String,
}

/// One port forwarding: `protocol` traffic to `floating_ip_address`
/// port `external_port` goes to `internal_ip_address` port
/// `internal_port`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedPortForwarding {
    pub id: String,
    pub floatingip_id: String,
    pub floating_ip_address: String,
    /// `tcp`, `udp`, `sctp`, … as stored.
    pub protocol: String,
    pub external_port: i64,
    pub internal_ip_address: String,
    pub internal_port: i64,
    pub internal_port_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedLeg {
    pub port_id: String,
    pub network_id: String,
    pub mac_address: String,
    pub addresses: Vec<FeedAddress>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedGateway {
    pub port_id: String,
    /// The external network.
    pub network_id: String,
    pub mac_address: String,
    pub addresses: Vec<FeedAddress>,
    /// SNAT the internal subnets behind the gateway addresses.
    pub enable_snat: bool,
    /// The gateway IPs of the external subnets the leg is on (the
    /// router's default routes), per IP version as present.
    pub default_gateways: Vec<String>,
}

/// A port's status as a node reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PortStatus {
    #[serde(rename = "ACTIVE")]
    Active,
    #[serde(rename = "DOWN")]
    Down,
}

impl PortStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PortStatus::Active => "ACTIVE",
            PortStatus::Down => "DOWN",
        }
    }
}

/// The port statuses in a node's report: port id → status.
pub type PortReport = BTreeMap<String, PortStatus>;

/// A floating IP's status as a network node reports it (neutron-lib's
/// `FLOATINGIP_STATUS_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FipStatus {
    #[serde(rename = "ACTIVE")]
    Active,
    #[serde(rename = "DOWN")]
    Down,
    #[serde(rename = "ERROR")]
    Error,
}

impl FipStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FipStatus::Active => "ACTIVE",
            FipStatus::Down => "DOWN",
            FipStatus::Error => "ERROR",
        }
    }
}

/// The floating IP statuses in a network node's report: id → status.
pub type FipReport = BTreeMap<String, FipStatus>;

fn segment(n: &NetworkRow) -> FeedSegment {
    FeedSegment {
        network_type: n.network_type.clone(),
        physical_network: n.physical_network.clone(),
        segmentation_id: n.segmentation_id,
    }
}

/// `host-10-0-0-5` / `host-fd00--5`, as neutron's DHCP agent names a
/// host without a DNS name.
fn hostname(ip: &str) -> String {
    format!("host-{}", ip.replace(['.', ':'], "-"))
}

fn is_infra(p: &PortRow) -> bool {
    matches!(
        p.device_owner.as_str(),
        DEVICE_OWNER_DHCP | DEVICE_OWNER_ROUTER_INTF | DEVICE_OWNER_ROUTER_GW
    )
}

/// The node that owns port `p`: its binding host, or the node its router
/// or DHCP server is scheduled to.
fn owner<'a>(placement: &'a Placement, p: &'a PortRow) -> Option<&'a str> {
    match p.device_owner.as_str() {
        DEVICE_OWNER_ROUTER_INTF | DEVICE_OWNER_ROUTER_GW => placement.router_host(&p.device_id),
        DEVICE_OWNER_DHCP => placement.dhcp_host(&p.network_id),
        _ => Some(p.binding_host_id.as_str()).filter(|h| !h.is_empty()),
    }
}

/// Node name → the networks it carries: those of the ports it owns and
/// of the DHCP servers scheduled to it.
fn carriers<'a>(
    snap: &'a Snapshot,
    placement: &'a Placement,
) -> HashMap<&'a str, BTreeSet<&'a str>> {
    let mut out: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for p in &snap.ports {
        if let Some(h) = owner(placement, p) {
            out.entry(h).or_default().insert(p.network_id.as_str());
        }
    }
    for s in snap.subnets.iter().filter(|s| s.enable_dhcp) {
        if let Some(h) = placement.dhcp_host(&s.network_id) {
            out.entry(h).or_default().insert(s.network_id.as_str());
        }
    }
    out
}

impl Network {
    /// The `network` part of `node`'s document (see the module doc).
    pub async fn node_feed(&self, node: &NodeInfo) -> Result<NodeFeed> {
        let t0 = std::time::Instant::now();
        let dir = self.nodes.nodes().await?;
        let mut tx = self.db.pool.begin().await?;
        let snap = crate::db::feed::snapshot(&mut tx).await?;
        let agents = crate::db::agents::all(&mut *tx).await?;
        tx.commit().await?;
        tracing::debug!(took = ?t0.elapsed(), ports = snap.ports.len(), "feed snapshot read");
        let infos: Vec<NodeInfo> = dir.iter().map(|e| e.node.clone()).collect();
        let placement = Placement::new(&infos, &agents);
        let carriers = carriers(&snap, &placement);
        let me = node.name.as_str();

        let ips = |id: &str| -> Vec<FeedIp> {
            snap.allocations
                .get(id)
                .map(|a| {
                    a.iter()
                        .map(|a| FeedIp {
                            subnet_id: a.subnet_id.clone(),
                            ip_address: a.ip_address.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let prefix = |subnet_id: &str| -> u8 {
            snap.subnets
                .iter()
                .find(|s| s.id == subnet_id)
                .and_then(|s| s.cidr.split('/').nth(1))
                .and_then(|p| p.parse().ok())
                .unwrap_or(0)
        };
        let addresses = |id: &str| -> Vec<FeedAddress> {
            ips(id)
                .into_iter()
                .map(|ip| FeedAddress {
                    prefixlen: prefix(&ip.subnet_id),
                    subnet_id: ip.subnet_id,
                    ip_address: ip.ip_address,
                })
                .collect()
        };
        let net_of = |id: &str| snap.networks.iter().find(|n| n.id == id);

        // Ports bound here.
        let mut ports = Vec::new();
        for p in snap
            .ports
            .iter()
            .filter(|p| !is_infra(p) && p.binding_host_id == me)
        {
            let Some(n) = net_of(&p.network_id) else {
                continue;
            };
            ports.push(FeedPort {
                id: p.id.clone(),
                network_id: p.network_id.clone(),
                segment: segment(n),
                mac_address: p.mac_address.clone(),
                admin_state_up: p.admin_state_up,
                device_owner: p.device_owner.clone(),
                device_id: p.device_id.clone(),
                fixed_ips: ips(&p.id),
                port_security_enabled: p.port_security_enabled,
                allowed_address_pairs: p
                    .allowed_address_pairs
                    .iter()
                    .map(|(ip, mac)| FeedAddressPair {
                        ip_address: ip.clone(),
                        mac_address: mac.clone(),
                    })
                    .collect(),
                security_groups: if p.port_security_enabled {
                    p.security_groups.clone()
                } else {
                    Vec::new()
                },
                status: p.status.clone(),
            });
        }

        // Their groups, and the members of every remote group named.
        let group_ids: Vec<String> = ports
            .iter()
            .flat_map(|p| p.security_groups.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let groups = sg_rows::get_many(&self.db.pool, &group_ids).await?;
        let mut rules = sg_rows::rules_of(&self.db.pool, &group_ids).await?;
        let mut security_groups = Vec::new();
        let mut remote: BTreeSet<String> = BTreeSet::new();
        for g in &group_ids {
            let Some(row) = groups.iter().find(|r| &r.id == g) else {
                continue;
            };
            let rules: Vec<FeedRule> = rules
                .remove(g)
                .unwrap_or_default()
                .into_iter()
                .map(|r| {
                    if let Some(rg) = &r.remote_group_id {
                        remote.insert(rg.clone());
                    }
                    FeedRule {
                        id: r.id,
                        direction: r.direction,
                        ethertype: r.ethertype,
                        protocol: r.protocol,
                        port_range_min: r.port_range_min,
                        port_range_max: r.port_range_max,
                        remote_ip_prefix: r.remote_ip_prefix,
                        remote_group_id: r.remote_group_id,
                    }
                })
                .collect();
            security_groups.push(FeedSecurityGroup {
                id: row.id.clone(),
                stateful: row.stateful,
                rules,
            });
        }
        let mut remote_groups = BTreeMap::new();
        for g in remote {
            let mut members = BTreeSet::new();
            for p in snap
                .ports
                .iter()
                .filter(|p| p.port_security_enabled && p.security_groups.contains(&g))
            {
                members.extend(ips(&p.id).into_iter().map(|i| i.ip_address));
                members.extend(p.allowed_address_pairs.iter().map(|(ip, _)| ip.clone()));
            }
            remote_groups.insert(g, members.into_iter().collect());
        }

        // DHCP servers scheduled here.
        let mut dhcp = Vec::new();
        if node.has_role("network") {
            for s in snap.subnets.iter().filter(|s| s.enable_dhcp) {
                if placement.dhcp_host(&s.network_id) != Some(me) {
                    continue;
                }
                let on_net: Vec<&PortRow> = snap
                    .ports
                    .iter()
                    .filter(|p| p.network_id == s.network_id)
                    .collect();
                let port = on_net
                    .iter()
                    .find(|p| p.device_owner == DEVICE_OWNER_DHCP)
                    .map(|p| FeedDhcpPort {
                        id: p.id.clone(),
                        mac_address: p.mac_address.clone(),
                        address: addresses(&p.id).into_iter().find(|a| a.subnet_id == s.id),
                    });
                let mut entries = Vec::new();
                for p in on_net
                    .iter()
                    .filter(|p| p.device_owner != DEVICE_OWNER_DHCP)
                {
                    for ip in ips(&p.id).into_iter().filter(|i| i.subnet_id == s.id) {
                        entries.push(FeedDhcpEntry {
                            port_id: p.id.clone(),
                            mac_address: p.mac_address.clone(),
                            hostname: hostname(&ip.ip_address),
                            ip_address: ip.ip_address,
                            extra_dhcp_opts: p.extra_dhcp_opts.clone(),
                        });
                    }
                }
                dhcp.push(FeedDhcp {
                    network_id: s.network_id.clone(),
                    subnet_id: s.id.clone(),
                    port,
                    entries,
                });
            }
        }

        // Routers scheduled here.
        let mut routers = Vec::new();
        if node.has_role("network") {
            for r in snap
                .routers
                .iter()
                .filter(|r| placement.router_host(&r.id) == Some(me))
            {
                let legs: Vec<&PortRow> =
                    snap.ports.iter().filter(|p| p.device_id == r.id).collect();
                let interfaces = legs
                    .iter()
                    .filter(|p| p.device_owner == DEVICE_OWNER_ROUTER_INTF)
                    .map(|p| FeedLeg {
                        port_id: p.id.clone(),
                        network_id: p.network_id.clone(),
                        mac_address: p.mac_address.clone(),
                        addresses: addresses(&p.id),
                    })
                    .collect();
                let gateway = legs
                    .iter()
                    .find(|p| p.device_owner == DEVICE_OWNER_ROUTER_GW)
                    .map(|p| {
                        let addrs = addresses(&p.id);
                        let default_gateways = addrs
                            .iter()
                            .filter_map(|a| {
                                snap.subnets
                                    .iter()
                                    .find(|s| s.id == a.subnet_id)
                                    .and_then(|s| s.gateway_ip.clone())
                            })
                            .collect::<BTreeSet<_>>()
                            .into_iter()
                            .collect();
                        FeedGateway {
                            port_id: p.id.clone(),
                            network_id: p.network_id.clone(),
                            mac_address: p.mac_address.clone(),
                            addresses: addrs,
                            enable_snat: r.enable_snat,
                            default_gateways,
                        }
                    });
                let served: Vec<_> = snap
                    .floatingips
                    .iter()
                    .filter(|f| f.router_id.as_deref() == Some(r.id.as_str()))
                    .collect();
                let floatingips = served
                    .iter()
                    .filter_map(|f| {
                        let port_id = f.fixed_port_id.as_ref()?;
                        let port = snap.ports.iter().find(|p| &p.id == port_id)?;
                        Some(FeedFloatingIp {
                            id: f.id.clone(),
                            floating_ip_address: f.floating_ip_address.clone(),
                            floating_network_id: f.floating_network_id.clone(),
                            fixed_ip_address: f.fixed_ip_address.clone()?,
                            port_id: port_id.clone(),
                            mac_address: port.mac_address.clone(),
                            status: f.status.clone(),
                        })
                    })
                    .collect();
                let port_forwardings = snap
                    .port_forwardings
                    .iter()
                    .filter_map(|pf| {
                        let f = served.iter().find(|f| f.id == pf.floatingip_id)?;
                        Some(FeedPortForwarding {
                            id: pf.id.clone(),
                            floatingip_id: f.id.clone(),
                            floating_ip_address: f.floating_ip_address.clone(),
                            protocol: pf.protocol.clone(),
                            external_port: pf.external_port,
                            internal_ip_address: pf.internal_ip_address.clone(),
                            internal_port: pf.internal_port,
                            internal_port_id: pf.internal_port_id.clone(),
                        })
                    })
                    .collect();
                routers.push(FeedRouter {
                    id: r.id.clone(),
                    admin_state_up: r.admin_state_up,
                    interfaces,
                    gateway,
                    routes: r
                        .routes
                        .iter()
                        .map(|(d, n)| FeedRoute {
                            destination: d.clone(),
                            nexthop: n.clone(),
                        })
                        .collect(),
                    floatingips,
                    port_forwardings,
                });
            }
        }

        // The instances the metadata proxy may be asked about here.
        let mut metadata = Vec::new();
        if node.has_role("network") {
            let served: BTreeSet<&str> = routers
                .iter()
                .flat_map(|r| r.interfaces.iter().map(|l| l.network_id.as_str()))
                .chain(dhcp.iter().map(|d| d.network_id.as_str()))
                .collect();
            for p in snap.ports.iter().filter(|p| {
                !is_infra(p) && !p.device_id.is_empty() && served.contains(p.network_id.as_str())
            }) {
                for ip in ips(&p.id) {
                    metadata.push(FeedMetadataPort {
                        network_id: p.network_id.clone(),
                        ip_address: ip.ip_address,
                        port_id: p.id.clone(),
                        device_id: p.device_id.clone(),
                        project_id: p.project_id.clone(),
                    });
                }
            }
            metadata.sort_by(|a, b| {
                (&a.network_id, &a.ip_address, &a.port_id).cmp(&(
                    &b.network_id,
                    &b.ip_address,
                    &b.port_id,
                ))
            });
        }

        // The networks carried here, with their VTEP flood lists.
        let address_of: HashMap<&str, &str> = dir
            .iter()
            .map(|e| (e.node.name.as_str(), e.node.address.as_str()))
            .collect();
        let mut networks = Vec::new();
        if let Some(mine) = carriers.get(me) {
            for id in mine {
                let Some(n) = net_of(id) else {
                    continue;
                };
                let remote_vteps = if n.network_type == "vxlan" {
                    carriers
                        .iter()
                        .filter(|(h, nets)| **h != me && nets.contains(id))
                        .filter_map(|(h, _)| address_of.get(h).copied())
                        .filter(|a| !a.is_empty())
                        .map(str::to_string)
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect()
                } else {
                    Vec::new()
                };
                let remote_macs = if n.network_type == "vxlan" {
                    snap.ports
                        .iter()
                        .filter(|p| &p.network_id == id && !p.mac_address.is_empty())
                        .filter_map(|p| {
                            let h = owner(&placement, p).filter(|h| *h != me)?;
                            let vtep = address_of.get(h).copied().filter(|a| !a.is_empty())?;
                            Some(FeedRemoteMac {
                                mac_address: p.mac_address.to_ascii_lowercase(),
                                vtep: vtep.to_string(),
                            })
                        })
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect()
                } else {
                    Vec::new()
                };
                networks.push(FeedNetwork {
                    id: n.id.clone(),
                    admin_state_up: n.admin_state_up,
                    mtu: n.mtu,
                    router_external: n.router_external,
                    segment: segment(n),
                    subnets: snap
                        .subnets
                        .iter()
                        .filter(|s| &s.network_id == id)
                        .map(|s| FeedSubnet {
                            id: s.id.clone(),
                            ip_version: s.ip_version,
                            cidr: s.cidr.clone(),
                            gateway_ip: s.gateway_ip.clone(),
                            enable_dhcp: s.enable_dhcp,
                            dns_nameservers: s.dns_nameservers.clone(),
                            host_routes: s
                                .host_routes
                                .iter()
                                .map(|(d, n)| FeedRoute {
                                    destination: d.clone(),
                                    nexthop: n.clone(),
                                })
                                .collect(),
                            ipv6_ra_mode: s.ipv6_ra_mode.clone(),
                            ipv6_address_mode: s.ipv6_address_mode.clone(),
                        })
                        .collect(),
                    remote_vteps,
                    remote_macs,
                });
            }
        }
        Ok(NodeFeed {
            networks,
            ports,
            security_groups,
            remote_groups,
            dhcp,
            routers,
            metadata,
        })
    }

    /// Applies a node's status report: the `ports` of its `network`
    /// document (or its `compute` document's `network_ports`), for the
    /// ports it owns, and a network node's `floatingips`, for the
    /// floating IPs of the routers it hosts.
    pub async fn apply_report(&self, node: &NodeInfo, roles: &Map<String, Value>) -> Result<()> {
        let (ports, fips) = if node.has_role("network") {
            let doc = roles.get("network");
            (
                doc.and_then(|d| d.get("ports")),
                doc.and_then(|d| d.get("floatingips")),
            )
        } else {
            (
                roles.get("compute").and_then(|d| d.get("network_ports")),
                None,
            )
        };
        let statuses: PortReport = match ports {
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| Error::bad_request(format!("Invalid port statuses: {e}.")))?,
            None => PortReport::new(),
        };
        let mut fip_statuses: FipReport = match fips {
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| Error::bad_request(format!("Invalid floating IP statuses: {e}.")))?,
            None => FipReport::new(),
        };
        if self.settings.dataplane_none {
            // No data plane decides these: a floating IP is ACTIVE while
            // a router serves it (`fip_status`).
            fip_statuses.clear();
        }
        // Only the ports whose stored status differs are candidates: a
        // report lists every port of the node (1,000s) and usually
        // changes none or one, so they are found with one read per
        // status outside the write transaction, which then touches only
        // them.
        let mut candidates: Vec<(String, PortStatus)> = Vec::new();
        for want in [PortStatus::Active, PortStatus::Down] {
            let ids: Vec<&str> = statuses
                .iter()
                .filter(|(_, s)| **s == want)
                .map(|(id, _)| id.as_str())
                .collect();
            if ids.is_empty() {
                continue;
            }
            let mut conn = self.db.pool.acquire().await?;
            for p in crate::db::feed::ports_not_in_status(&mut conn, &ids, want.as_str()).await? {
                candidates.push((p.id, want));
            }
        }
        if candidates.is_empty() && fip_statuses.is_empty() {
            return Ok(());
        }
        let dir = self.nodes.nodes().await?;
        let infos: Vec<NodeInfo> = dir.into_iter().map(|e| e.node).collect();
        let agents = crate::db::agents::all(&self.db.pool).await?;
        let placement = Placement::new(&infos, &agents);
        let now = self.now();
        let me = Some(node.name.as_str());
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        let mut changed = 0;
        for (id, status) in &candidates {
            // Read again in the transaction: its owner now decides.
            let Some(p) = crate::db::ports::get(tx.conn(), id).await? else {
                continue;
            };
            if owner(&placement, &p) != me {
                continue;
            }
            if crate::db::feed::set_port_status(tx.conn(), id, status.as_str(), now).await? {
                changed += 1;
            }
        }
        for (id, status) in &fip_statuses {
            // Read after the bump: the router it has now decides.
            let Some(f) = crate::db::floatingips::get(&mut *tx.conn(), id).await? else {
                continue;
            };
            let host = f
                .router_id
                .as_deref()
                .and_then(|r| placement.router_host(r));
            if host != me {
                continue;
            }
            if self
                .write_floatingip_status(tx.conn(), &f, status.as_str())
                .await?
            {
                changed += 1;
            }
        }
        if changed == 0 {
            // Nothing moved: leave the feed's revision where it was, so
            // an idle node's report does not wake every long-poll.
            drop(tx);
        } else {
            tx.commit().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn address() -> FeedAddress {
        FeedAddress {
            subnet_id: "s".into(),
            ip_address: "10.0.0.1".into(),
            prefixlen: 24,
        }
    }

    /// A document with every struct present at least once.
    fn full() -> NodeFeed {
        let seg = FeedSegment {
            network_type: "vxlan".into(),
            physical_network: None,
            segmentation_id: Some(7),
        };
        let route = FeedRoute {
            destination: "0.0.0.0/0".into(),
            nexthop: "10.0.0.254".into(),
        };
        NodeFeed {
            networks: vec![FeedNetwork {
                id: "n".into(),
                admin_state_up: true,
                mtu: 1450,
                router_external: false,
                segment: seg.clone(),
                subnets: vec![FeedSubnet {
                    id: "s".into(),
                    ip_version: 4,
                    cidr: "10.0.0.0/24".into(),
                    gateway_ip: Some("10.0.0.1".into()),
                    enable_dhcp: true,
                    dns_nameservers: vec![],
                    host_routes: vec![route.clone()],
                    ipv6_ra_mode: None,
                    ipv6_address_mode: None,
                }],
                remote_vteps: vec!["192.0.2.1".into()],
                remote_macs: vec![FeedRemoteMac {
                    mac_address: "fa:16:3e:00:00:09".into(),
                    vtep: "192.0.2.1".into(),
                }],
            }],
            ports: vec![FeedPort {
                id: "p".into(),
                network_id: "n".into(),
                segment: seg,
                mac_address: "fa:16:3e:00:00:01".into(),
                admin_state_up: true,
                device_owner: "compute:nova".into(),
                device_id: "vm".into(),
                fixed_ips: vec![FeedIp {
                    subnet_id: "s".into(),
                    ip_address: "10.0.0.5".into(),
                }],
                port_security_enabled: true,
                allowed_address_pairs: vec![FeedAddressPair {
                    ip_address: "10.0.0.6".into(),
                    mac_address: "fa:16:3e:00:00:01".into(),
                }],
                security_groups: vec!["g".into()],
                status: "DOWN".into(),
            }],
            security_groups: vec![FeedSecurityGroup {
                id: "g".into(),
                stateful: true,
                rules: vec![FeedRule {
                    id: "r".into(),
                    direction: "ingress".into(),
                    ethertype: "IPv4".into(),
                    protocol: None,
                    port_range_min: None,
                    port_range_max: None,
                    remote_ip_prefix: None,
                    remote_group_id: Some("g".into()),
                }],
            }],
            remote_groups: BTreeMap::from([("g".into(), vec!["10.0.0.5".into()])]),
            dhcp: vec![FeedDhcp {
                network_id: "n".into(),
                subnet_id: "s".into(),
                port: Some(FeedDhcpPort {
                    id: "d".into(),
                    mac_address: "fa:16:3e:00:00:02".into(),
                    address: Some(address()),
                }),
                entries: vec![FeedDhcpEntry {
                    port_id: "p".into(),
                    mac_address: "fa:16:3e:00:00:01".into(),
                    ip_address: "10.0.0.5".into(),
                    hostname: "host-10-0-0-5".into(),
                    extra_dhcp_opts: vec![],
                }],
            }],
            routers: vec![FeedRouter {
                id: "r".into(),
                admin_state_up: true,
                interfaces: vec![FeedLeg {
                    port_id: "i".into(),
                    network_id: "n".into(),
                    mac_address: "fa:16:3e:00:00:03".into(),
                    addresses: vec![address()],
                }],
                gateway: Some(FeedGateway {
                    port_id: "q".into(),
                    network_id: "ext".into(),
                    mac_address: "fa:16:3e:00:00:04".into(),
                    addresses: vec![address()],
                    enable_snat: true,
                    default_gateways: vec!["203.0.113.1".into()],
                }),
                routes: vec![route],
                floatingips: vec![FeedFloatingIp {
                    id: "f".into(),
                    floating_ip_address: "203.0.113.10".into(),
                    floating_network_id: "ext".into(),
                    fixed_ip_address: "10.0.0.5".into(),
                    port_id: "p".into(),
                    mac_address: "fa:16:3e:00:00:01".into(),
                    status: "ACTIVE".into(),
                }],
                port_forwardings: vec![FeedPortForwarding {
                    id: "pf".into(),
                    floatingip_id: "f2".into(),
                    floating_ip_address: "203.0.113.11".into(),
                    protocol: "tcp".into(),
                    external_port: 2222,
                    internal_ip_address: "10.0.0.5".into(),
                    internal_port: 22,
                    internal_port_id: "p".into(),
                }],
            }],
            metadata: vec![FeedMetadataPort {
                network_id: "n".into(),
                ip_address: "10.0.0.5".into(),
                port_id: "p".into(),
                device_id: "vm".into(),
                project_id: "proj".into(),
            }],
        }
    }

    fn keys(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    out.insert(k.clone());
                    keys(v, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }

    /// Every key the feed can carry is documented in docs/agent-feed.md,
    /// and the document reads back as it was written.
    #[test]
    fn the_contract_round_trips_and_is_documented() {
        let v = serde_json::to_value(full()).unwrap();
        assert_eq!(
            serde_json::from_value::<NodeFeed>(v.clone()).unwrap(),
            full()
        );
        let doc = include_str!("../../../../docs/agent-feed.md");
        let mut all = BTreeSet::new();
        keys(&v, &mut all);
        // The group id keying remote_groups is data, not a key.
        all.remove("g");
        for k in all {
            assert!(doc.contains(&format!("\"{k}\"")), "{k} undocumented");
        }
        let mut extra = v.clone();
        extra["surprise"] = Value::Bool(true);
        assert!(serde_json::from_value::<NodeFeed>(extra).is_err());
    }

    #[test]
    fn hostnames_are_neutrons() {
        assert_eq!(hostname("10.0.0.5"), "host-10-0-0-5");
        assert_eq!(hostname("fd00::5"), "host-fd00--5");
    }
}

//! The network role's per-port services: DHCP (one dnsmasq per network,
//! `dhcp::Dhcp`, its port plumbed here over rtnetlink) and security groups
//! (`secgroups::SgInput` built from the feed's ports and groups, applied
//! in the role's namespace by one `secgroups::Firewall` that keeps what
//! it applied, so each apply sends only the changes). [`PortServices::converge`] runs both after
//! the L2 is in place and turns the role's status into the report
//! contract's: a bound port is ACTIVE only when its tap is plugged AND its
//! rules are applied; a DHCP port is ACTIVE once its dnsmasq runs.
//!
//! Conntrack zones: one per network, assigned here in memory (the lowest
//! free number from 1, networks first seen together taken in id order)
//! and freed when the network leaves the feed. An agent started afresh
//! first reads the zones back from the `zone` chain of the table it
//! finds in the kernel (`iifname BRIDGE ct zone set N`; the same read
//! gives the firewall its port indexes, `Firewall::read_kernel`), so a
//! restart keeps every network's zone and its established flows.

use super::dhcp::{self, Dhcp, DhcpConfig, DhcpPlumbing};
use super::l2::{self, Plan};
use super::link::{parse_mac, Netlink};
use super::netns;
use super::secgroups::{Firewall, SgInput, SgNetwork, SgPort, SgRule};
use network::app::feed::{FeedAddress, FeedNetwork, NodeFeed};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The DHCP port's device over rtnetlink: a veth whose `tap…` end is on
/// the network's bridge in the role's namespace and whose `ns-…` end is
/// in the qdhcp namespace. Called from a blocking thread; the netlink
/// work runs on the agent's runtime through `rt`.
pub struct NetlinkPlumbing {
    pub rt: tokio::runtime::Handle,
    /// Netlink in the role's namespace (where the bridges are).
    pub host: Netlink,
}

impl NetlinkPlumbing {
    async fn plug_async(
        &self,
        ns: &str,
        dev: &str,
        network: &FeedNetwork,
        port_id: &str,
        mac: &str,
        addresses: &[FeedAddress],
    ) -> Result<(), String> {
        let e = |e: super::link::LinkError| e.to_string();
        let mac = parse_mac(mac).ok_or_else(|| format!("{mac:?} is not a MAC address"))?;
        let tap = dhcp::tap_device(port_id);
        let bridge = l2::bridge_name(&network.id);
        let inside = Netlink::open(Some(ns)).map_err(e)?;
        if inside.link(dev).await.map_err(e)?.is_none() {
            // A tap without its peer is left from a namespace that went.
            self.host.delete(&tap).await.map_err(e)?;
            self.host.add_veth(&tap, dev, Some(ns)).await.map_err(e)?;
        }
        let Some(br) = self.host.link(&bridge).await.map_err(e)? else {
            return Err(format!("no bridge {bridge} yet"));
        };
        let t = self
            .host
            .link(&tap)
            .await
            .map_err(e)?
            .ok_or_else(|| format!("{tap} went"))?;
        let mtu = u32::try_from(network.mtu).ok().filter(|m| *m >= 68);
        if let Some(m) = mtu {
            if t.mtu != Some(m) {
                self.host.set_mtu(&tap, m).await.map_err(e)?;
            }
            inside.set_mtu(dev, m).await.map_err(e)?;
        }
        if t.master != Some(br.index) {
            self.host.set_master(&tap, &bridge).await.map_err(e)?;
        }
        self.host.set_up(&tap).await.map_err(e)?;
        inside.set_address(dev, mac).await.map_err(e)?;
        for a in addresses {
            let ip: IpAddr = a
                .ip_address
                .parse()
                .map_err(|_| format!("{:?} is not an address", a.ip_address))?;
            inside.add_address(dev, ip, a.prefixlen).await.map_err(e)?;
        }
        inside.set_up("lo").await.map_err(e)?;
        inside.set_up(dev).await.map_err(e)
    }
}

impl DhcpPlumbing for NetlinkPlumbing {
    fn plug(
        &self,
        ns: &str,
        dev: &str,
        network: &FeedNetwork,
        port_id: &str,
        mac: &str,
        addresses: &[FeedAddress],
    ) -> Result<(), String> {
        self.rt
            .block_on(self.plug_async(ns, dev, network, port_id, mac, addresses))
    }

    fn unplug(
        &self,
        _ns: &str,
        _dev: &str,
        _network_id: &str,
        port_id_prefix: &str,
    ) -> Result<(), String> {
        // Deleting one end of a veth deletes both.
        let tap = dhcp::tap_device(port_id_prefix);
        self.rt
            .block_on(self.host.delete(&tap))
            .map_err(|e| e.to_string())
    }
}

/// Stable conntrack zones per network (see the module doc).
#[derive(Debug, Default)]
pub struct Zones {
    by_network: BTreeMap<String, u16>,
    /// Whether the kernel's zones were read (once, at the first apply).
    seeded: bool,
}

impl Zones {
    /// Takes the zones found in the kernel (network → zone) as already
    /// assigned; a zone given twice is taken once.
    pub fn seed(&mut self, found: BTreeMap<String, u16>) {
        self.seeded = true;
        let mut used: BTreeSet<u16> = self.by_network.values().copied().collect();
        for (n, z) in found {
            if z != 0 && !self.by_network.contains_key(&n) && used.insert(z) {
                self.by_network.insert(n, z);
            }
        }
    }

    /// The zones of exactly `networks`: kept ones keep theirs, new ones
    /// (in id order) get the lowest free numbers, gone ones free theirs.
    /// None for a network when all 65535 are taken.
    pub fn assign(&mut self, networks: &BTreeSet<String>) -> BTreeMap<String, u16> {
        self.by_network.retain(|n, _| networks.contains(n));
        let mut used: BTreeSet<u16> = self.by_network.values().copied().collect();
        let mut next = 1u16;
        for n in networks {
            if self.by_network.contains_key(n) {
                continue;
            }
            while used.contains(&next) && next < u16::MAX {
                next += 1;
            }
            if used.contains(&next) {
                break;
            }
            used.insert(next);
            self.by_network.insert(n.clone(), next);
        }
        self.by_network.clone()
    }
}

/// The security-group input for the ports the L2 plan plugs (their
/// networks have a bridge here), with `zones` per network.
pub fn sg_input(feed: &NodeFeed, plan: &Plan, zones: &BTreeMap<String, u16>) -> SgInput {
    let networks = plan
        .bridges
        .iter()
        .filter_map(|b| {
            zones.get(&b.network_id).map(|z| SgNetwork {
                bridge: b.bridge.clone(),
                zone: *z,
            })
        })
        .collect();
    let ports = feed
        .ports
        .iter()
        .filter(|p| plan.taps.contains_key(&l2::tap_name(&p.id)))
        .map(|p| SgPort {
            tap: l2::tap_name(&p.id),
            mac_address: p.mac_address.clone(),
            fixed_ips: p.fixed_ips.iter().map(|f| f.ip_address.clone()).collect(),
            allowed_address_pairs: p
                .allowed_address_pairs
                .iter()
                .map(|a| {
                    let mac = if a.mac_address.is_empty() {
                        p.mac_address.clone()
                    } else {
                        a.mac_address.clone()
                    };
                    (a.ip_address.clone(), mac)
                })
                .collect(),
            port_security_enabled: p.port_security_enabled,
            security_groups: p.security_groups.clone(),
        })
        .collect();
    let groups = feed
        .security_groups
        .iter()
        .map(|g| {
            let rules = g
                .rules
                .iter()
                .map(|r| SgRule {
                    direction: r.direction.clone(),
                    ethertype: r.ethertype.clone(),
                    protocol: r.protocol.clone(),
                    port_range_min: r.port_range_min,
                    port_range_max: r.port_range_max,
                    remote_ip_prefix: r.remote_ip_prefix.clone(),
                    remote_group_id: r.remote_group_id.clone(),
                })
                .collect();
            (g.id.clone(), rules)
        })
        .collect();
    SgInput {
        networks,
        ports,
        groups,
        remote_groups: feed.remote_groups.clone(),
        stateless_groups: feed
            .security_groups
            .iter()
            .filter(|g| !g.stateful)
            .map(|g| g.id.clone())
            .collect(),
    }
}

/// Whether the dnsmasq behind a pid file is alive (its command line
/// names that pid file, so a reused pid does not count).
fn dnsmasq_runs(pid_file: &Path) -> bool {
    let Ok(pid) = std::fs::read_to_string(pid_file) else {
        return false;
    };
    let Ok(pid) = pid.trim().parse::<u32>() else {
        return false;
    };
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let want = pid_file.to_string_lossy();
    cmdline
        .split(|b| *b == 0)
        .any(|a| String::from_utf8_lossy(a).contains(want.as_ref()))
}

/// DHCP and security groups of the role.
pub struct PortServices {
    dhcp: Option<Dhcp>,
    zones: Mutex<Zones>,
    /// The security-group tables, updated incrementally.
    firewall: Arc<Mutex<Firewall>>,
}

impl PortServices {
    /// `dhcp_state_dir`: None runs no DHCP on this node.
    pub fn new(
        namespace: Option<String>,
        node_prefix: &str,
        dhcp_state_dir: Option<&Path>,
    ) -> PortServices {
        PortServices {
            dhcp: dhcp_state_dir.map(|d| Dhcp::new(DhcpConfig::new(d, node_prefix))),
            zones: Mutex::new(Zones::default()),
            firewall: Arc::new(Mutex::new(Firewall::new(namespace))),
        }
    }

    /// Applies the security groups, then syncs DHCP, and amends `status`
    /// (`{"ports": {...}, "errors": [...]}` from the L2): bound ports go
    /// DOWN when the rules could not be applied, DHCP ports are added.
    pub async fn converge(&self, feed: &NodeFeed, plan: &Plan, host: &Netlink, status: &mut Value) {
        let mut errors = Vec::new();
        let nets: BTreeSet<String> = plan.bridges.iter().map(|b| b.network_id.clone()).collect();
        if self.zones.lock().is_ok_and(|z| !z.seeded) {
            // One read of the table a previous agent left: the firewall
            // keeps its port indexes, the zones come back here.
            let fw = self.firewall.clone();
            let read = move || match fw.lock() {
                Ok(mut fw) => fw.read_kernel(),
                Err(_) => Ok(BTreeMap::new()),
            };
            match tokio::task::spawn_blocking(read).await {
                Ok(Ok(by_bridge)) => {
                    let found = plan
                        .bridges
                        .iter()
                        .filter_map(|b| Some((b.network_id.clone(), *by_bridge.get(&b.bridge)?)))
                        .collect();
                    if let Ok(mut z) = self.zones.lock() {
                        z.seed(found);
                    }
                }
                Ok(Err(e)) => errors.push(format!("reading the conntrack zones: {e}")),
                Err(e) => errors.push(format!("reading the conntrack zones: {e}")),
            }
        }
        let zones = match self.zones.lock() {
            Ok(mut z) => z.assign(&nets),
            Err(_) => BTreeMap::new(),
        };
        let input = sg_input(feed, plan, &zones);
        let fw = self.firewall.clone();
        let applied = match tokio::task::spawn_blocking(move || match fw.lock() {
            // Nothing here to filter: the tables go, so a host whose
            // resources were all deleted keeps nothing of oxistack's.
            Ok(mut fw) if input.networks.is_empty() && input.ports.is_empty() => {
                fw.remove().map(|()| Vec::new()).map_err(|e| e.to_string())
            }
            Ok(mut fw) => fw
                .apply(&input)
                .map(|a| a.skipped)
                .map_err(|e| e.to_string()),
            Err(_) => Err("the firewall's lock is poisoned".to_string()),
        })
        .await
        {
            Ok(Ok(skipped)) => {
                for s in skipped {
                    errors.push(format!("security group rule skipped: {}", s.0));
                }
                true
            }
            Ok(Err(e)) => {
                errors.push(format!("security groups: {e}"));
                false
            }
            Err(e) => {
                errors.push(format!("security groups: {e}"));
                false
            }
        };

        let mut dhcp_ports = BTreeMap::new();
        if let Some(d) = &self.dhcp {
            let d = d.clone();
            let feed = feed.clone();
            let plumbing = NetlinkPlumbing {
                rt: tokio::runtime::Handle::current(),
                host: host.clone(),
            };
            let r = tokio::task::spawn_blocking(move || {
                let errs: Vec<String> = d
                    .sync(&feed, &plumbing)
                    .into_iter()
                    .map(|e| e.to_string())
                    .collect();
                let mut ports = BTreeMap::new();
                for net in dhcp::networks(&feed) {
                    if let Some((port, _, _)) = net.port() {
                        let up = netns::exists(&d.namespace(&net.network.id))
                            && dnsmasq_runs(&d.files(&net.network.id).pid);
                        ports.insert(port.to_string(), if up { "ACTIVE" } else { "DOWN" });
                    }
                }
                (ports, errs)
            })
            .await;
            match r {
                Ok((ports, errs)) => {
                    dhcp_ports = ports;
                    errors.extend(errs);
                }
                Err(e) => errors.push(format!("dhcp: {e}")),
            }
        }

        for e in &errors {
            tracing::warn!(error = %e, "network role");
        }
        if let Some(ports) = status.get_mut("ports").and_then(Value::as_object_mut) {
            if !applied {
                for v in ports.values_mut() {
                    *v = json!("DOWN");
                }
            }
            for (id, s) in dhcp_ports {
                ports.insert(id, json!(s));
            }
        }
        if let Some(list) = status.get_mut("errors").and_then(Value::as_array_mut) {
            list.extend(errors.into_iter().map(Value::from));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn zones_are_stable_and_reused() {
        let mut z = Zones::default();
        let a = z.assign(&set(&["b", "a"]));
        assert_eq!(a["a"], 1);
        assert_eq!(a["b"], 2);
        let a = z.assign(&set(&["b", "c"]));
        assert_eq!(a["b"], 2, "a kept network keeps its zone");
        assert_eq!(a["c"], 1, "a freed zone is given again");
        assert!(!a.contains_key("a"));
        let a = z.assign(&set(&["b", "c", "d"]));
        assert_eq!((a["b"], a["c"], a["d"]), (2, 1, 3));
    }

    #[test]
    fn zones_found_in_the_kernel_are_kept() {
        let items: Vec<Value> = serde_json::from_value(json!([
            {"table": {"family": "inet", "name": "oxistack-sg"}},
            {"rule": {"family": "inet", "table": "oxistack-sg", "chain": "zone", "expr": [
                {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "brqb"}},
                {"mangle": {"key": {"ct": {"key": "zone"}}, "value": 1}}]}},
            {"rule": {"family": "inet", "table": "oxistack-sg", "chain": "zone", "expr": [
                {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "brqa"}},
                {"mangle": {"key": {"ct": {"key": "zone"}}, "value": 2}}]}},
            {"rule": {"family": "inet", "table": "oxistack-sg", "chain": "forward", "expr": []}}
        ]))
        .unwrap();
        let by_bridge = crate::net::secgroups::zones_of_table(&items);
        assert_eq!(
            by_bridge,
            BTreeMap::from([("brqa".to_string(), 2), ("brqb".to_string(), 1)])
        );
        let mut z = Zones::default();
        z.seed(BTreeMap::from([("a".to_string(), 2), ("b".to_string(), 1)]));
        let a = z.assign(&set(&["a", "b", "c"]));
        assert_eq!(
            (a["a"], a["b"], a["c"]),
            (2, 1, 3),
            "not renumbered by id order"
        );
    }

    #[test]
    fn sg_input_takes_the_planned_ports_with_their_groups() {
        let feed: NodeFeed = serde_json::from_value(json!({
            "networks": [{"id": "net-1", "admin_state_up": true, "mtu": 1450,
                "router_external": false,
                "segment": {"network_type": "flat", "physical_network": "physnet1",
                    "segmentation_id": null},
                "subnets": [], "remote_vteps": []}],
            "ports": [
                {"id": "port-aaaaaaaaaaaa", "network_id": "net-1",
                 "segment": {"network_type": "flat", "physical_network": "physnet1",
                    "segmentation_id": null},
                 "mac_address": "fa:16:3e:00:00:01", "admin_state_up": true,
                 "device_owner": "compute:nova", "device_id": "vm",
                 "fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.5"}],
                 "port_security_enabled": true,
                 "allowed_address_pairs": [{"ip_address": "10.0.0.0/24", "mac_address": ""}],
                 "security_groups": ["sg-1"], "status": "DOWN"},
                {"id": "port-elsewhere", "network_id": "net-2",
                 "segment": {"network_type": "flat", "physical_network": "x",
                    "segmentation_id": null},
                 "mac_address": "fa:16:3e:00:00:02", "admin_state_up": true,
                 "device_owner": "compute:nova", "device_id": "vm",
                 "fixed_ips": [], "port_security_enabled": false,
                 "allowed_address_pairs": [], "security_groups": [], "status": "DOWN"}],
            "security_groups": [{"id": "sg-1", "stateful": true, "rules": [
                {"id": "r1", "direction": "ingress", "ethertype": "IPv4",
                 "protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
                 "remote_ip_prefix": null, "remote_group_id": "sg-1"}]}],
            "remote_groups": {"sg-1": ["10.0.0.5"]},
            "dhcp": [], "routers": []
        }))
        .unwrap();
        let mut plan = Plan::default();
        plan.bridges.push(l2::BridgePlan {
            network_id: "net-1".into(),
            bridge: l2::bridge_name("net-1"),
            mtu: 1450,
            uplink: l2::Uplink::Physical("eth1".into()),
        });
        let tap = l2::tap_name("port-aaaaaaaaaaaa");
        plan.taps.insert(
            tap.clone(),
            ("port-aaaaaaaaaaaa".into(), l2::bridge_name("net-1")),
        );
        let zones = BTreeMap::from([("net-1".to_string(), 7u16)]);
        let input = sg_input(&feed, &plan, &zones);
        assert_eq!(
            input.networks,
            vec![SgNetwork {
                bridge: l2::bridge_name("net-1"),
                zone: 7
            }]
        );
        assert_eq!(input.ports.len(), 1, "only the planned port");
        let p = &input.ports[0];
        assert_eq!(p.tap, tap);
        assert_eq!(p.fixed_ips, vec!["10.0.0.5".to_string()]);
        assert_eq!(
            p.allowed_address_pairs,
            vec![("10.0.0.0/24".to_string(), "fa:16:3e:00:00:01".to_string())],
            "a pair without a MAC takes the port's"
        );
        assert_eq!(p.security_groups, vec!["sg-1".to_string()]);
        let r = &input.groups["sg-1"][0];
        assert_eq!(
            (
                r.direction.as_str(),
                r.protocol.as_deref(),
                r.port_range_min
            ),
            ("ingress", Some("tcp"), Some(22))
        );
        assert_eq!(input.remote_groups["sg-1"], vec!["10.0.0.5".to_string()]);
        assert!(input.stateless_groups.is_empty());
        let mut stateless = feed.clone();
        stateless.security_groups[0].stateful = false;
        let input = sg_input(&stateless, &plan, &zones);
        assert_eq!(
            input.stateless_groups.into_iter().collect::<Vec<_>>(),
            ["sg-1"]
        );
    }
}

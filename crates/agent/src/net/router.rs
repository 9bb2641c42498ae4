//! The routers of a network node: converges the feed's `routers` to one
//! `<prefix>qrouter-<id>` namespace each, as neutron's L3 agent lays them
//! out with the linuxbridge agent:
//! - one veth per leg: the `tap<port id[..11]>` end enslaved to the leg's
//!   network bridge in the role's namespace, the `qr-`/`qg-<port
//!   id[..11]>` end in the router namespace with the port's MAC and
//!   addresses (the gateway leg also carries the floating and
//!   port-forwarded addresses as /32s, so it answers ARP for them);
//! - the default route via the external subnet's gateway, the router's
//!   extra routes, IPv4 forwarding on;
//! - the NAT table (`l3nat`), removed when the router has no gateway;
//! - IPv6 router advertisements (`radvd`) on the legs of subnets with an
//!   `ipv6_ra_mode`, stopped with the router or its last such leg.
//!
//! Routers no longer in the feed (or administratively down, which neutron
//! treats as unscheduled) lose their namespace, which takes their legs
//! and table with it. The report is the feed contract's: every leg built
//! is an ACTIVE port, every floating IP whose router has a gateway leg and
//! a NAT table in place is ACTIVE.

use super::l2::{bridge_name, tap_name};
use super::l3nat::{self, PortForwarding, RouterNat};
use super::link::{parse_mac, LinkError, Netlink};
use super::netns;
use super::radvd;
use futures_util::TryStreamExt;
use network::app::feed::{FeedAddress, FeedRouter, NodeFeed};
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage};
use rtnetlink::RouteMessageBuilder;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

/// Prefix of internal legs in a router namespace.
pub const INTERNAL_PREFIX: &str = "qr-";
/// Prefix of the gateway leg in a router namespace.
pub const GATEWAY_PREFIX: &str = "qg-";

/// `<node prefix>qrouter-<router id>`.
pub fn namespace_name(node_prefix: &str, router_id: &str) -> String {
    format!("{node_prefix}qrouter-{router_id}")
}

fn leg_name(prefix: &str, port_id: &str) -> String {
    let end = port_id
        .char_indices()
        .nth(11)
        .map_or(port_id.len(), |(i, _)| i);
    format!("{prefix}{}", &port_id[..end])
}

/// What converging the routers produced, merged into the role's status.
#[derive(Debug, Default)]
pub struct RouterReport {
    pub ports: Map<String, Value>,
    pub floatingips: Map<String, Value>,
    pub errors: Vec<String>,
}

impl RouterReport {
    /// Adds the router ports, the floating IPs and the errors to a
    /// `{"ports": {...}, "errors": [...]}` status document.
    pub fn merge_into(self, status: &mut Value) {
        if let Some(p) = status.get_mut("ports").and_then(Value::as_object_mut) {
            p.extend(self.ports);
        }
        status["floatingips"] = Value::Object(self.floatingips);
        if let Some(e) = status.get_mut("errors").and_then(Value::as_array_mut) {
            e.extend(self.errors.into_iter().map(Value::String));
        }
    }
}

/// The NAT input of a router with a gateway.
pub fn nat_of(r: &FeedRouter) -> Option<RouterNat> {
    let gw = r.gateway.as_ref()?;
    Some(RouterNat {
        gateway_device: leg_name(GATEWAY_PREFIX, &gw.port_id),
        gateway_addresses: gw.addresses.iter().map(|a| a.ip_address.clone()).collect(),
        enable_snat: gw.enable_snat,
        internal_subnets: r
            .interfaces
            .iter()
            .flat_map(|l| &l.addresses)
            .map(|a| format!("{}/{}", a.ip_address, a.prefixlen))
            .collect(),
        floating_ips: r
            .floatingips
            .iter()
            .map(|f| (f.floating_ip_address.clone(), f.fixed_ip_address.clone()))
            .collect(),
        port_forwardings: r
            .port_forwardings
            .iter()
            .map(|p| PortForwarding {
                floating_ip_address: p.floating_ip_address.clone(),
                protocol: p.protocol.clone(),
                external_port: p.external_port,
                internal_ip_address: p.internal_ip_address.clone(),
                internal_port: p.internal_port,
            })
            .collect(),
    })
}

/// The addresses (address, prefix) the gateway leg carries: its own and
/// every floating or port-forwarded address as a /32.
fn gateway_addresses(r: &FeedRouter) -> Vec<(IpAddr, u8)> {
    let mut out = Vec::new();
    if let Some(gw) = &r.gateway {
        out.extend(addresses(&gw.addresses));
    }
    let floating = r
        .floatingips
        .iter()
        .map(|f| f.floating_ip_address.as_str())
        .chain(
            r.port_forwardings
                .iter()
                .map(|p| p.floating_ip_address.as_str()),
        );
    for f in floating {
        if let Ok(a) = f.parse::<Ipv4Addr>() {
            let a = (IpAddr::V4(a), 32);
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

fn addresses(a: &[FeedAddress]) -> Vec<(IpAddr, u8)> {
    a.iter()
        .filter_map(|a| Some((a.ip_address.parse().ok()?, a.prefixlen)))
        .collect()
}

/// `10.0.0.0/24` → (10.0.0.0, 24), IPv4 only.
fn v4_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (a, l) = s.split_once('/')?;
    Some((a.parse().ok()?, l.parse().ok().filter(|l| *l <= 32)?))
}

/// Converges every router of `feed` on this node. `host` is netlink in
/// the role's namespace (where the bridges are).
pub async fn converge(host: &Netlink, node_prefix: &str, feed: &NodeFeed) -> RouterReport {
    let mut report = RouterReport::default();
    let wanted: Vec<&FeedRouter> = feed.routers.iter().filter(|r| r.admin_state_up).collect();
    for r in &wanted {
        let ns = namespace_name(node_prefix, &r.id);
        match build(host, &ns, feed, r).await {
            Ok(legs) => {
                for port in legs {
                    report.ports.insert(port, json!("ACTIVE"));
                }
                // Served once the gateway leg and its NAT are in place.
                let s = if r.gateway.is_some() {
                    "ACTIVE"
                } else {
                    "DOWN"
                };
                for f in &r.floatingips {
                    report.floatingips.insert(f.id.clone(), json!(s));
                }
            }
            Err(e) => {
                report.errors.push(format!("router {}: {e}", r.id));
                for f in &r.floatingips {
                    report.floatingips.insert(f.id.clone(), json!("ERROR"));
                }
            }
        }
    }
    for r in feed.routers.iter().filter(|r| !r.admin_state_up) {
        for l in r
            .interfaces
            .iter()
            .map(|l| &l.port_id)
            .chain(r.gateway.as_ref().map(|g| &g.port_id))
        {
            report.ports.insert(l.clone(), json!("DOWN"));
        }
        for f in &r.floatingips {
            report.floatingips.insert(f.id.clone(), json!("DOWN"));
        }
    }
    let keep: BTreeSet<String> = wanted
        .iter()
        .map(|r| namespace_name(node_prefix, &r.id))
        .collect();
    let prefix = namespace_name(node_prefix, "");
    let stale = tokio::task::spawn_blocking(move || -> Result<Vec<String>, String> {
        let mut gone = Vec::new();
        let ra = radvd::remove_stale(Path::new(radvd::STATE_DIR), &prefix, &keep);
        if !ra.is_empty() {
            return Err(ra.join("; "));
        }
        for ns in netns::list().map_err(|e| e.to_string())? {
            if ns.starts_with(&prefix) && !keep.contains(&ns) {
                netns::delete(&ns).map_err(|e| e.to_string())?;
                gone.push(ns);
            }
        }
        Ok(gone)
    })
    .await;
    match stale {
        Ok(Ok(gone)) => {
            for ns in gone {
                tracing::info!(namespace = %ns, "removed a router the feed no longer has");
            }
        }
        Ok(Err(e)) => report.errors.push(format!("router cleanup: {e}")),
        Err(e) => report.errors.push(format!("router cleanup: {e}")),
    }
    for e in &report.errors {
        tracing::warn!(error = %e, "network role: routers");
    }
    report
}

/// Builds (or checks) one router; returns the port ids of its legs.
async fn build(
    host: &Netlink,
    ns: &str,
    feed: &NodeFeed,
    r: &FeedRouter,
) -> Result<Vec<String>, String> {
    let owned = ns.to_string();
    tokio::task::spawn_blocking(move || -> Result<(), String> {
        netns::create(&owned).map_err(|e| e.to_string())?;
        l3nat::enable_forwarding(&owned).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())??;
    let rt = Netlink::open(Some(ns)).map_err(|e| e.to_string())?;
    let kernel = RouterKernel::open(ns)?;
    rt.set_up("lo").await.map_err(|e| e.to_string())?;

    let mut legs = Vec::new();
    let mut devices = BTreeSet::new();
    for l in &r.interfaces {
        let dev = leg_name(INTERNAL_PREFIX, &l.port_id);
        leg(
            host,
            &rt,
            ns,
            feed,
            &l.port_id,
            &l.network_id,
            &l.mac_address,
            &dev,
        )
        .await
        .map_err(|e| format!("{dev}: {e}"))?;
        kernel
            .reconcile(&rt, &dev, &addresses(&l.addresses))
            .await?;
        devices.insert(dev);
        legs.push(l.port_id.clone());
    }
    if let Some(gw) = &r.gateway {
        let dev = leg_name(GATEWAY_PREFIX, &gw.port_id);
        leg(
            host,
            &rt,
            ns,
            feed,
            &gw.port_id,
            &gw.network_id,
            &gw.mac_address,
            &dev,
        )
        .await
        .map_err(|e| format!("{dev}: {e}"))?;
        kernel.reconcile(&rt, &dev, &gateway_addresses(r)).await?;
        devices.insert(dev);
        legs.push(gw.port_id.clone());
    }
    // Routes via a next hop: the default route(s) and the extra routes;
    // any other such route in the namespace is one the feed dropped.
    let mut routes: Vec<(Ipv4Addr, u8, Ipv4Addr)> = r
        .gateway
        .iter()
        .flat_map(|g| &g.default_gateways)
        .filter_map(|g| Some((Ipv4Addr::UNSPECIFIED, 0, g.parse().ok()?)))
        .collect();
    for route in &r.routes {
        if let (Some((dest, len)), Ok(via)) = (v4_cidr(&route.destination), route.nexthop.parse()) {
            routes.push((dest, len, via));
        }
    }
    for (dest, len, via) in &routes {
        rt.add_route_v4(*dest, *len, *via)
            .await
            .map_err(|e| format!("route {dest}/{len} via {via}: {e}"))?;
    }
    kernel.prune_routes(&routes).await?;
    for l in rt.links().await.map_err(|e| e.to_string())? {
        let ours = l.name.starts_with(INTERNAL_PREFIX) || l.name.starts_with(GATEWAY_PREFIX);
        if ours && !devices.contains(&l.name) {
            // Its veth peer in the role's namespace goes with it.
            rt.delete(&l.name).await.map_err(|e| e.to_string())?;
        }
    }
    let owned = ns.to_string();
    let nat = nat_of(r);
    let skipped = tokio::task::spawn_blocking(move || match nat {
        Some(n) => l3nat::apply(&owned, &n),
        None => l3nat::remove(&owned).map(|()| Vec::new()),
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("NAT: {e}"))?;
    for s in skipped {
        tracing::warn!(router = %r.id, skipped = %s.0, "NAT");
    }
    let ra = radvd::legs_of(feed, r, |p| leg_name(INTERNAL_PREFIX, p));
    let owned = ns.to_string();
    tokio::task::spawn_blocking(move || radvd::sync(Path::new(radvd::STATE_DIR), &owned, &ra))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("router advertisements: {e}"))?;
    Ok(legs)
}

/// One leg: the veth pair, its MAC, MTU, bridge and state.
#[allow(clippy::too_many_arguments)]
async fn leg(
    host: &Netlink,
    rt: &Netlink,
    ns: &str,
    feed: &NodeFeed,
    port_id: &str,
    network_id: &str,
    mac: &str,
    dev: &str,
) -> Result<(), LinkError> {
    let tap = tap_name(port_id);
    let bridge = bridge_name(network_id);
    if rt.link(dev).await?.is_none() {
        // A host end left without its peer (a namespace deleted under us).
        host.delete(&tap).await?;
        host.add_veth(&tap, dev, Some(ns)).await?;
    }
    if let Some(m) = parse_mac(mac) {
        rt.set_address(dev, m).await?;
    }
    let mtu = feed
        .networks
        .iter()
        .find(|n| n.id == network_id)
        .and_then(|n| u32::try_from(n.mtu).ok())
        .filter(|m| *m > 0);
    if let Some(m) = mtu {
        rt.set_mtu(dev, m).await?;
        host.set_mtu(&tap, m).await?;
    }
    let Some(br) = host.link(&bridge).await? else {
        return Err(LinkError::NoSuchLink(bridge));
    };
    if host.link(&tap).await?.and_then(|t| t.master) != Some(br.index) {
        host.set_master(&tap, &bridge).await?;
    }
    host.set_up(&tap).await?;
    rt.set_up(dev).await
}

/// Address and route listing and removal in a router namespace (the
/// shared `Netlink` only adds).
struct RouterKernel {
    handle: rtnetlink::Handle,
}

impl RouterKernel {
    fn open(ns: &str) -> Result<RouterKernel, String> {
        let rt = tokio::runtime::Handle::current();
        let (conn, handle, _) = netns::run_in(Some(ns), move || {
            let _guard = rt.enter();
            rtnetlink::new_connection()
        })
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        Ok(RouterKernel { handle })
    }

    /// Makes `dev`'s global addresses exactly `want`.
    async fn reconcile(
        &self,
        rt: &Netlink,
        dev: &str,
        want: &[(IpAddr, u8)],
    ) -> Result<(), String> {
        let Some(link) = rt.link(dev).await.map_err(|e| e.to_string())? else {
            return Err(format!("{dev}: gone"));
        };
        let have: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(link.index)
            .execute()
            .try_collect()
            .await
            .map_err(|e| format!("{dev}: list addresses: {e}"))?;
        let mut present = Vec::new();
        for m in have {
            if m.header.scope != AddressScope::Universe {
                continue;
            }
            let addr = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Local(a) => Some(*a),
                AddressAttribute::Address(a) => Some(*a),
                _ => None,
            });
            let Some(addr) = addr else { continue };
            let key = (addr, m.header.prefix_len);
            if want.contains(&key) {
                present.push(key);
            } else {
                self.handle
                    .address()
                    .del(m)
                    .execute()
                    .await
                    .map_err(|e| format!("{dev}: remove {addr}: {e}"))?;
            }
        }
        for (a, len) in want {
            if !present.contains(&(*a, *len)) {
                rt.add_address(dev, *a, *len)
                    .await
                    .map_err(|e| format!("{dev}: {e}"))?;
            }
        }
        Ok(())
    }

    /// Deletes the main table's IPv4 routes via a next hop that are not
    /// in `want` (connected routes have no next hop and are left alone).
    async fn prune_routes(&self, want: &[(Ipv4Addr, u8, Ipv4Addr)]) -> Result<(), String> {
        let have: Vec<RouteMessage> = self
            .handle
            .route()
            .get(RouteMessageBuilder::<Ipv4Addr>::new().build())
            .execute()
            .try_collect()
            .await
            .map_err(|e| format!("list routes: {e}"))?;
        for m in have {
            let table = m
                .attributes
                .iter()
                .find_map(|a| match a {
                    RouteAttribute::Table(t) => Some(*t),
                    _ => None,
                })
                .unwrap_or(u32::from(m.header.table));
            if table != u32::from(RouteHeader::RT_TABLE_MAIN) {
                continue;
            }
            let mut dest = Ipv4Addr::UNSPECIFIED;
            let mut via = None;
            for a in &m.attributes {
                match a {
                    RouteAttribute::Destination(RouteAddress::Inet(d)) => dest = *d,
                    RouteAttribute::Gateway(RouteAddress::Inet(g)) => via = Some(*g),
                    _ => {}
                }
            }
            let Some(via) = via else { continue };
            let key = (dest, m.header.destination_prefix_length, via);
            if !want.contains(&key) {
                self.handle
                    .route()
                    .del(m)
                    .execute()
                    .await
                    .map_err(|e| format!("remove route {}/{} via {via}: {e}", key.0, key.1))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use network::app::feed::{FeedFloatingIp, FeedGateway, FeedLeg, FeedPortForwarding};

    fn router() -> FeedRouter {
        FeedRouter {
            id: "r1".into(),
            admin_state_up: true,
            interfaces: vec![FeedLeg {
                port_id: "0123456789abcdef".into(),
                network_id: "n1".into(),
                mac_address: "fa:16:3e:00:00:01".into(),
                addresses: vec![FeedAddress {
                    subnet_id: "s1".into(),
                    ip_address: "10.0.0.1".into(),
                    prefixlen: 24,
                }],
            }],
            gateway: Some(FeedGateway {
                port_id: "fedcba9876543210".into(),
                network_id: "ext".into(),
                mac_address: "fa:16:3e:00:00:02".into(),
                addresses: vec![FeedAddress {
                    subnet_id: "s2".into(),
                    ip_address: "203.0.113.5".into(),
                    prefixlen: 24,
                }],
                enable_snat: true,
                default_gateways: vec!["203.0.113.1".into()],
            }),
            routes: vec![],
            floatingips: vec![FeedFloatingIp {
                id: "f1".into(),
                floating_ip_address: "203.0.113.9".into(),
                floating_network_id: "ext".into(),
                fixed_ip_address: "10.0.0.7".into(),
                port_id: "p".into(),
                mac_address: "fa:16:3e:00:00:03".into(),
                status: "DOWN".into(),
            }],
            port_forwardings: vec![FeedPortForwarding {
                id: "pf".into(),
                floatingip_id: "f2".into(),
                floating_ip_address: "203.0.113.10".into(),
                protocol: "tcp".into(),
                external_port: 2222,
                internal_ip_address: "10.0.0.8".into(),
                internal_port: 22,
                internal_port_id: "p2".into(),
            }],
        }
    }

    #[test]
    fn names_follow_neutron() {
        assert_eq!(namespace_name("oxt1-", "r1"), "oxt1-qrouter-r1");
        assert_eq!(
            leg_name(INTERNAL_PREFIX, "0123456789abcdef"),
            "qr-0123456789a"
        );
        assert_eq!(leg_name(GATEWAY_PREFIX, "short"), "qg-short");
        assert!(leg_name(GATEWAY_PREFIX, "0123456789abcdef").len() <= 15);
    }

    #[test]
    fn nat_and_gateway_addresses_come_from_the_feed_router() {
        let r = router();
        let nat = nat_of(&r).unwrap();
        assert_eq!(nat.gateway_device, "qg-fedcba98765");
        assert_eq!(nat.gateway_addresses, vec!["203.0.113.5"]);
        assert_eq!(nat.internal_subnets, vec!["10.0.0.1/24"]);
        assert_eq!(
            nat.floating_ips,
            vec![("203.0.113.9".into(), "10.0.0.7".into())]
        );
        assert_eq!(nat.port_forwardings[0].internal_port, 22);
        let a = gateway_addresses(&r);
        let want: Vec<(IpAddr, u8)> = vec![
            ("203.0.113.5".parse().unwrap(), 24),
            ("203.0.113.9".parse().unwrap(), 32),
            ("203.0.113.10".parse().unwrap(), 32),
        ];
        assert_eq!(a, want);
        let mut no_gw = r;
        no_gw.gateway = None;
        assert!(nat_of(&no_gw).is_none());
    }

    #[test]
    fn report_merges_into_the_status() {
        let mut status = json!({"ports": {"a": "DOWN"}, "errors": ["x"]});
        let mut rep = RouterReport::default();
        rep.ports.insert("b".into(), json!("ACTIVE"));
        rep.floatingips.insert("f".into(), json!("ACTIVE"));
        rep.errors.push("y".into());
        rep.merge_into(&mut status);
        assert_eq!(
            status,
            json!({"ports": {"a": "DOWN", "b": "ACTIVE"}, "floatingips": {"f": "ACTIVE"},
                "errors": ["x", "y"]})
        );
        assert_eq!(
            v4_cidr("10.1.0.0/16"),
            Some((Ipv4Addr::new(10, 1, 0, 0), 16))
        );
        assert_eq!(v4_cidr("fd00::/64"), None);
    }
}

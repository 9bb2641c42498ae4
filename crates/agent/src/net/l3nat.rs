//! A router's NAT: the `oxistack-nat` inet table in its `qrouter-`
//! namespace, rendered from the router's part of the feed and applied
//! whole (`nft::replace`).
//!
//! As neutron's L3 agent does it (IPv4 only; neutron does not NAT IPv6):
//! - port forwardings: DNAT of `protocol` traffic arriving on the
//!   gateway leg for the floating address and external port to the
//!   internal address and port;
//! - floating IPs: DNAT of traffic arriving on the gateway leg for the
//!   floating address to the fixed one, and SNAT of traffic leaving
//!   through the gateway leg from the fixed address to the floating one,
//!   ahead of the generic SNAT;
//! - with `enable_snat`, SNAT of every attached IPv4 subnet leaving
//!   through the gateway leg to the gateway's IPv4 address.
//!
//! Answering ARP for the floating addresses (neutron puts them on the
//! `qg-` device as /32s) and `net.ipv4.ip_forward` in the namespace are
//! the router's link setup, not this table; [`enable_forwarding`] is here
//! for whoever sets the namespace up.
//!
//! The input is [`RouterNat`], the few fields of the feed's `FeedRouter`
//! this needs, so this module does not depend on the controller's crate;
//! the router role fills it (device names as it names them).

use crate::net::netns;
use crate::net::nft::{self, Family, NftError, Table};
use std::net::Ipv4Addr;

/// The table's name in every `qrouter-` namespace.
pub const TABLE: &str = "oxistack-nat";

/// What the NAT table of one router is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterNat {
    /// The gateway leg's device (`qg-` + port id[..11]).
    pub gateway_device: String,
    /// The gateway leg's addresses (`FeedGateway.addresses`); the first
    /// IPv4 one is the SNAT address.
    pub gateway_addresses: Vec<String>,
    /// `FeedGateway.enable_snat`.
    pub enable_snat: bool,
    /// The attached subnets as `address/prefixlen` (the internal legs'
    /// `FeedAddress`es); IPv6 ones are ignored.
    pub internal_subnets: Vec<String>,
    /// `FeedRouter.floatingips`: (floating address, fixed address).
    pub floating_ips: Vec<(String, String)>,
    /// `FeedRouter.port_forwardings`.
    pub port_forwardings: Vec<PortForwarding>,
}

/// One port forwarding (`FeedPortForwarding`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortForwarding {
    pub floating_ip_address: String,
    /// `tcp`, `udp` or `sctp`; anything else is skipped (and said so).
    pub protocol: String,
    pub external_port: i64,
    pub internal_ip_address: String,
    pub internal_port: i64,
}

/// What rendering left out because the feed entry cannot be expressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped(pub String);

fn v4(s: &str) -> Option<Ipv4Addr> {
    s.split('/').next().and_then(|a| a.parse().ok())
}

/// `10.0.0.1/24` → the network `10.0.0.0` and `24`.
fn v4_network(cidr: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, len) = cidr.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let len: u8 = len.parse().ok().filter(|l| *l <= 32)?;
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    };
    Some((Ipv4Addr::from(u32::from(addr) & mask), len))
}

fn port(p: i64) -> Option<u16> {
    u16::try_from(p).ok().filter(|p| *p != 0)
}

/// The router's NAT table, and what was left out.
pub fn render(r: &RouterNat) -> (Table, Vec<Skipped>) {
    let mut t = Table::new(Family::Inet, TABLE);
    let mut skipped = Vec::new();
    // dstnat / srcnat priorities, as `nft` names them for nat chains.
    t.base_chain("prerouting", "nat", "prerouting", -100, "accept");
    t.base_chain("postrouting", "nat", "postrouting", 100, "accept");
    let qg = r.gateway_device.as_str();

    for pf in &r.port_forwardings {
        let proto = pf.protocol.to_ascii_lowercase();
        let (Some(fip), Some(int), Some(ext_port), Some(int_port)) = (
            v4(&pf.floating_ip_address),
            v4(&pf.internal_ip_address),
            port(pf.external_port),
            port(pf.internal_port),
        ) else {
            skipped.push(Skipped(format!(
                "port forwarding {pf:?}: bad address or port"
            )));
            continue;
        };
        if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
            skipped.push(Skipped(format!(
                "port forwarding {pf:?}: protocol {proto} has no ports"
            )));
            continue;
        }
        t.rule(
            "prerouting",
            vec![
                nft::meta_eq("iifname", qg),
                nft::payload_eq("ip", "daddr", fip.to_string()),
                nft::meta_eq("l4proto", proto.as_str()),
                nft::payload_eq(&proto, "dport", ext_port),
                nft::dnat_ip(&int.to_string(), Some(int_port)),
            ],
        );
    }

    for (floating, fixed) in &r.floating_ips {
        let (Some(fip), Some(fixed)) = (v4(floating), v4(fixed)) else {
            skipped.push(Skipped(format!(
                "floating IP {floating} → {fixed}: not IPv4"
            )));
            continue;
        };
        t.rule(
            "prerouting",
            vec![
                nft::meta_eq("iifname", qg),
                nft::payload_eq("ip", "daddr", fip.to_string()),
                nft::dnat_ip(&fixed.to_string(), None),
            ],
        );
        t.rule(
            "postrouting",
            vec![
                nft::meta_eq("oifname", qg),
                nft::payload_eq("ip", "saddr", fixed.to_string()),
                nft::snat_ip(&fip.to_string()),
            ],
        );
    }

    if r.enable_snat {
        match r.gateway_addresses.iter().find_map(|a| v4(a)) {
            Some(gw) => {
                for cidr in &r.internal_subnets {
                    if let Some((net, len)) = v4_network(cidr) {
                        t.rule(
                            "postrouting",
                            vec![
                                nft::meta_eq("oifname", qg),
                                nft::payload_eq("ip", "saddr", nft::prefix(&net.to_string(), len)),
                                nft::snat_ip(&gw.to_string()),
                            ],
                        );
                    } else if cidr.contains('.') {
                        skipped.push(Skipped(format!("internal subnet {cidr}: not a prefix")));
                    }
                }
            }
            None => skipped.push(Skipped("SNAT: the gateway has no IPv4 address".into())),
        }
    }
    (t, skipped)
}

/// Renders and applies the router's NAT table in namespace `ns`.
pub fn apply(ns: &str, r: &RouterNat) -> Result<Vec<Skipped>, NftError> {
    let (table, skipped) = render(r);
    nft::replace(Some(ns), &table)?;
    Ok(skipped)
}

/// Removes the router's NAT table from `ns` (a router without a gateway).
pub fn remove(ns: &str) -> Result<(), NftError> {
    nft::delete(Some(ns), Family::Inet, TABLE)
}

/// Turns on IPv4 forwarding in namespace `ns` (a new namespace starts
/// with it off). `/proc/sys/net` shows the writing thread's namespace.
pub fn enable_forwarding(ns: &str) -> Result<(), NftError> {
    netns::run_in(Some(ns), || {
        std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")
    })??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn router() -> RouterNat {
        RouterNat {
            gateway_device: "qg-aaaaaaaaaaa".into(),
            gateway_addresses: vec!["2001:db8::2".into(), "203.0.113.2".into()],
            enable_snat: true,
            internal_subnets: vec!["10.0.0.1/24".into(), "fd00::1/64".into()],
            floating_ips: vec![("203.0.113.10".into(), "10.0.0.6".into())],
            port_forwardings: vec![PortForwarding {
                floating_ip_address: "203.0.113.20".into(),
                protocol: "tcp".into(),
                external_port: 2222,
                internal_ip_address: "10.0.0.5".into(),
                internal_port: 22,
            }],
        }
    }

    fn rules(t: &Table, chain: &str) -> Vec<Value> {
        t.replace_document()["nftables"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["add"].get("rule").cloned())
            .filter(|r| r["chain"] == chain)
            .map(|r| r["expr"].clone())
            .collect()
    }

    #[test]
    fn port_forwardings_then_floating_ips_then_snat() {
        let (t, skipped) = render(&router());
        assert!(skipped.is_empty(), "{skipped:?}");
        let pre = rules(&t, "prerouting");
        assert_eq!(pre.len(), 2);
        assert_eq!(pre[0][3]["match"]["left"]["payload"]["field"], "dport");
        assert_eq!(pre[0][3]["match"]["right"], 2222);
        assert_eq!(pre[0][4]["dnat"]["addr"], "10.0.0.5");
        assert_eq!(pre[0][4]["dnat"]["port"], 22);
        assert_eq!(pre[1][1]["match"]["right"], "203.0.113.10");
        assert_eq!(pre[1][2]["dnat"]["addr"], "10.0.0.6");
        let post = rules(&t, "postrouting");
        assert_eq!(post.len(), 2, "the floating IP's SNAT and one IPv4 subnet");
        assert_eq!(post[0][1]["match"]["right"], "10.0.0.6");
        assert_eq!(post[0][2]["snat"]["addr"], "203.0.113.10");
        assert_eq!(post[1][1]["match"]["right"]["prefix"]["addr"], "10.0.0.0");
        assert_eq!(post[1][1]["match"]["right"]["prefix"]["len"], 24);
        assert_eq!(post[1][2]["snat"]["addr"], "203.0.113.2");
        assert_eq!(post[1][0]["match"]["right"], "qg-aaaaaaaaaaa");
    }

    #[test]
    fn no_generic_snat_when_disabled_and_bad_entries_are_skipped() {
        let mut r = router();
        r.enable_snat = false;
        r.port_forwardings[0].protocol = "icmp".into();
        r.floating_ips
            .push(("2001:db8::9".into(), "fd00::9".into()));
        let (t, skipped) = render(&r);
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert_eq!(rules(&t, "prerouting").len(), 1);
        let post = rules(&t, "postrouting");
        assert_eq!(post.len(), 1);
        assert_eq!(post[0][2]["snat"]["addr"], "203.0.113.10");
    }

    #[test]
    fn networks_are_masked() {
        assert_eq!(
            v4_network("10.1.2.3/16"),
            Some(("10.1.0.0".parse().unwrap_or(Ipv4Addr::UNSPECIFIED), 16))
        );
        assert_eq!(v4_network("10.1.2.3/33"), None);
        assert_eq!(v4_network("0.0.0.0/0"), Some((Ipv4Addr::UNSPECIFIED, 0)));
    }
}

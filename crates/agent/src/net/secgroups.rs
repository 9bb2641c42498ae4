//! Security groups and anti-spoofing for the ports plugged into this
//! host's bridges: a `bridge oxistack-sg` table and an `inet
//! oxistack-sg` table in the namespace owning the bridges, rendered from
//! the feed's ports, groups and remote-group members and applied whole.
//!
//! This kernel has no conntrack in the bridge family, but bridged IPv4
//! and IPv6 go through the inet hooks (br_netfilter), where the in and
//! out devices are the bridge, not the ports. So:
//! - bridge `prerouting`: a frame from a port's tap jumps to that port's
//!   `spoof-<tap>` chain: only the port's MAC with its fixed IPs (and
//!   each allowed address pair's MAC with its address) pass, for IPv4,
//!   IPv6 (plus link-local and the unspecified source of DAD) and ARP;
//!   the DHCP client's discover from 0.0.0.0 passes; everything else is
//!   dropped. A passing frame gets the port's index as the low 16 bits of
//!   the packet mark.
//! - bridge `forward` (before br_netfilter's own hook): a frame to a
//!   port's tap gets that port's index in the high 16 bits.
//! - inet `prerouting` (raw): a conntrack zone per network, by bridge,
//!   so overlapping CIDRs of different networks do not mix.
//! - inet `forward`: established/related accepted, invalid dropped; then
//!   the source port's `egress-<tap>` chain (a matching rule returns, the
//!   end drops) and the destination port's `ingress-<tap>` chain (a
//!   matching rule accepts, the end drops), each chain starting with
//!   neutron's defaults (DHCP answers in, no DHCP or RA out, neighbour
//!   discovery both ways). Traffic of ports without
//!   port security carries no index and is not filtered.
//!
//! Remote groups are named sets (`rg4-…`, `rg6-…`) of their members'
//! addresses. The input types mirror the feed's (`FeedPort`,
//! `FeedRule`, …) so this module does not depend on the controller's
//! crate; the role fills them with the device names it made.
//!
//! Not covered yet: router advertisements to a port (neutron lets in the
//! subnet gateway's), traffic from a port to the host itself (the inet
//! `input` hook), stateless groups (`stateful: false` is treated as
//! stateful), and replacing one port's chains alone (the tables are
//! replaced whole; the per-port chains are what make that possible).

use crate::net::nft::{self, Family, NftError, Table};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The name of both tables.
pub const TABLE: &str = "oxistack-sg";

/// One network's bridge and its conntrack zone (stable per network; the
/// role assigns it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SgNetwork {
    pub bridge: String,
    pub zone: u16,
}

/// One port (`FeedPort`) with the name of its tap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SgPort {
    pub tap: String,
    pub mac_address: String,
    /// The fixed addresses.
    pub fixed_ips: Vec<String>,
    /// (address or prefix, MAC) of each allowed address pair.
    pub allowed_address_pairs: Vec<(String, String)>,
    pub port_security_enabled: bool,
    pub security_groups: Vec<String>,
}

/// One rule (`FeedRule`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SgRule {
    pub direction: String,
    pub ethertype: String,
    pub protocol: Option<String>,
    pub port_range_min: Option<i64>,
    pub port_range_max: Option<i64>,
    pub remote_ip_prefix: Option<String>,
    pub remote_group_id: Option<String>,
}

/// Everything the tables are made from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SgInput {
    pub networks: Vec<SgNetwork>,
    pub ports: Vec<SgPort>,
    /// Group id → its rules.
    pub groups: BTreeMap<String, Vec<SgRule>>,
    /// Group id → member addresses (`NodeFeed.remote_groups`).
    pub remote_groups: BTreeMap<String, Vec<String>>,
}

/// A rule left out because it cannot be expressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped(pub String);

const LOW: u32 = 0xffff;
const HIGH: u32 = 0xffff_0000;

fn mark() -> Value {
    json!({"meta": {"key": "mark"}})
}

fn set_mark(value: Value) -> Value {
    json!({"mangle": {"key": mark(), "value": value}})
}

fn mark_masked_eq(mask: u32, value: u32) -> Value {
    json!({"match": {"op": "==", "left": {"&": [mark(), mask]}, "right": value}})
}

/// An address or prefix as a match's right side.
fn addr_value(a: &str) -> Value {
    match a.split_once('/') {
        Some((addr, len)) => match len.parse::<u8>() {
            Ok(len) => nft::prefix(addr, len),
            Err(_) => Value::String(a.to_string()),
        },
        None => Value::String(a.to_string()),
    }
}

fn is_v6(a: &str) -> bool {
    a.contains(':')
}

/// IANA protocol numbers of the names neutron accepts that matter here.
fn proto_number(name: &str, v6: bool) -> Option<u8> {
    Some(match name.to_ascii_lowercase().as_str() {
        "icmp" if v6 => 58,
        "icmp" => 1,
        "tcp" => 6,
        "udp" => 17,
        "ipv6-icmp" | "icmpv6" => 58,
        "sctp" => 132,
        "udplite" => 136,
        "dccp" => 33,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "igmp" => 2,
        "ospf" => 89,
        "vrrp" => 112,
        "pgm" => 113,
        "ipip" => 4,
        "encap" => 98,
        "egp" => 8,
        "rsvp" => 46,
        other => return other.parse().ok(),
    })
}

fn short(id: &str) -> &str {
    id.get(..11).unwrap_or(id)
}

/// The set name of a remote group's members of one family.
fn group_set(gid: &str, v6: bool) -> String {
    format!("rg{}-{}", if v6 { 6 } else { 4 }, short(gid))
}

/// The expressions of one rule (without its verdict), or why not.
fn rule_exprs(r: &SgRule, ingress: bool) -> Result<Vec<Value>, String> {
    let v6 = match r.ethertype.as_str() {
        "IPv4" => false,
        "IPv6" => true,
        other => return Err(format!("ethertype {other}")),
    };
    let mut e = vec![nft::meta_eq("nfproto", if v6 { "ipv6" } else { "ipv4" })];
    let (ip, remote_field) = (
        if v6 { "ip6" } else { "ip" },
        if ingress { "saddr" } else { "daddr" },
    );
    if let Some(prefix) = &r.remote_ip_prefix {
        if is_v6(prefix) != v6 {
            return Err(format!("remote prefix {prefix} is not {}", r.ethertype));
        }
        e.push(nft::payload_eq(ip, remote_field, addr_value(prefix)));
    }
    if let Some(gid) = &r.remote_group_id {
        e.push(nft::payload_eq(
            ip,
            remote_field,
            nft::set_ref(&group_set(gid, v6)),
        ));
    }
    if let Some(p) = &r.protocol {
        let n = proto_number(p, v6).ok_or_else(|| format!("protocol {p}"))?;
        e.push(nft::meta_eq("l4proto", n));
        let (min, max) = (r.port_range_min, r.port_range_max);
        match n {
            6 | 17 | 132 | 136 | 33 => {
                let lo = min
                    .map(u16::try_from)
                    .transpose()
                    .map_err(|_| "port".to_string())?;
                let hi = max
                    .map(u16::try_from)
                    .transpose()
                    .map_err(|_| "port".to_string())?;
                match (lo, hi) {
                    (Some(lo), Some(hi)) if lo == hi => e.push(nft::payload_eq("th", "dport", lo)),
                    (Some(lo), Some(hi)) => {
                        e.push(nft::payload_eq("th", "dport", nft::range(lo, hi)))
                    }
                    (Some(lo), None) => e.push(nft::payload_eq("th", "dport", lo)),
                    (None, _) => {}
                }
            }
            1 | 58 => {
                // For ICMP the range carries the type and the code.
                let icmp = if n == 58 { "icmpv6" } else { "icmp" };
                if let Some(t) = min {
                    let t = u8::try_from(t).map_err(|_| format!("ICMP type {t}"))?;
                    e.push(nft::payload_eq(icmp, "type", t));
                    if let Some(c) = max {
                        let c = u8::try_from(c).map_err(|_| format!("ICMP code {c}"))?;
                        e.push(nft::payload_eq(icmp, "code", c));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(e)
}

/// Renders both tables (bridge, inet) and what was left out.
pub fn render(input: &SgInput) -> (Table, Table, Vec<Skipped>) {
    let mut br = Table::new(Family::Bridge, TABLE);
    let mut inet = Table::new(Family::Inet, TABLE);
    let mut skipped = Vec::new();

    // Remote group sets, both families, before the rules naming them.
    for (gid, members) in &input.remote_groups {
        for v6 in [false, true] {
            let elems = members
                .iter()
                .filter(|a| is_v6(a) == v6)
                .map(|a| addr_value(a))
                .collect();
            inet.set(
                &group_set(gid, v6),
                if v6 { "ipv6_addr" } else { "ipv4_addr" },
                elems,
            );
        }
    }

    br.base_chain("prerouting", "filter", "prerouting", -200, "accept");
    br.base_chain("forward", "filter", "forward", -200, "accept");
    inet.base_chain("zone", "filter", "prerouting", -300, "accept");
    inet.base_chain("forward", "filter", "forward", 0, "accept");
    for n in &input.networks {
        inet.rule(
            "zone",
            vec![
                nft::meta_eq("iifname", n.bridge.as_str()),
                json!({"mangle": {"key": {"ct": {"key": "zone"}}, "value": n.zone}}),
            ],
        );
    }
    inet.rule(
        "forward",
        vec![
            json!({"match": {"op": "in", "left": {"ct": {"key": "state"}},
                "right": ["established", "related"]}}),
            nft::accept(),
        ],
    );
    inet.rule(
        "forward",
        vec![
            json!({"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "invalid"}}),
            nft::drop_(),
        ],
    );

    let mut ports: Vec<&SgPort> = input
        .ports
        .iter()
        .filter(|p| p.port_security_enabled)
        .collect();
    ports.sort_by(|a, b| a.tap.cmp(&b.tap));
    let mut ingress_jumps = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        // Index 0 is "no port"; 0xffff ports per host is plenty.
        let Ok(idx) = u32::try_from(i + 1) else { break };
        if idx > LOW {
            skipped.push(Skipped(format!("port {}: too many ports", p.tap)));
            continue;
        }
        let tap = p.tap.as_str();
        let spoof = format!("spoof-{tap}");
        br.chain(&spoof);
        br.rule(
            "prerouting",
            vec![nft::meta_eq("iifname", tap), nft::jump(&spoof)],
        );
        br.rule(
            "forward",
            vec![
                nft::meta_eq("oifname", tap),
                set_mark(json!({"|": [{"&": [mark(), LOW]}, idx << 16]})),
            ],
        );
        render_spoof(&mut br, &spoof, p, idx);

        let (egress, ingress) = (format!("egress-{tap}"), format!("ingress-{tap}"));
        inet.chain(&egress);
        inet.chain(&ingress);
        inet.rule(
            "forward",
            vec![mark_masked_eq(LOW, idx), nft::jump(&egress)],
        );
        // An accept in an ingress chain ends the whole hook, so every
        // egress check must come first.
        ingress_jumps.push(vec![mark_masked_eq(HIGH, idx << 16), nft::jump(&ingress)]);
        default_rules(&mut inet, &egress, &ingress);
        for gid in &p.security_groups {
            let Some(rules) = input.groups.get(gid) else {
                skipped.push(Skipped(format!(
                    "port {tap}: group {gid} is not in the feed"
                )));
                continue;
            };
            for r in rules {
                let ingress_rule = r.direction == "ingress";
                match rule_exprs(r, ingress_rule) {
                    Ok(mut e) => {
                        if ingress_rule {
                            e.push(nft::accept());
                            inet.rule(&ingress, e);
                        } else {
                            e.push(json!({"return": null}));
                            inet.rule(&egress, e);
                        }
                    }
                    Err(why) => skipped.push(Skipped(format!("port {tap}, group {gid}: {why}"))),
                }
            }
        }
        inet.rule(&egress, vec![nft::drop_()]);
        inet.rule(&ingress, vec![nft::drop_()]);
    }
    for jump in ingress_jumps {
        inet.rule("forward", jump);
    }
    (br, inet, skipped)
}

/// What every filtered port gets before its groups' rules, as neutron's
/// firewall drivers do: an instance is no DHCP server and sends no router
/// advertisements; it always gets its DHCP answers and may always do
/// neighbour discovery (the ICMPv6 types neutron allows by default:
/// ingress MLD query, NS, NA; egress also RS).
fn default_rules(inet: &mut Table, egress: &str, ingress: &str) {
    let udp_ports = |v6: bool, sport: u16, dport: Option<u16>| {
        let mut e = vec![
            nft::meta_eq("nfproto", if v6 { "ipv6" } else { "ipv4" }),
            nft::meta_eq("l4proto", 17u8),
            nft::payload_eq("udp", "sport", sport),
        ];
        if let Some(d) = dport {
            e.push(nft::payload_eq("udp", "dport", d));
        }
        e
    };
    let icmpv6 = |types: &[u8]| {
        vec![
            nft::meta_eq("nfproto", "ipv6"),
            nft::meta_eq("l4proto", 58u8),
            nft::payload_eq("icmpv6", "type", json!({ "set": types })),
        ]
    };
    let with = |mut e: Vec<Value>, verdict: Value| {
        e.push(verdict);
        e
    };
    inet.rule(egress, with(udp_ports(false, 67, None), nft::drop_()));
    inet.rule(egress, with(udp_ports(true, 547, None), nft::drop_()));
    inet.rule(egress, with(icmpv6(&[134]), nft::drop_()));
    inet.rule(
        egress,
        with(icmpv6(&[130, 133, 135, 136]), json!({"return": null})),
    );
    inet.rule(ingress, with(udp_ports(false, 67, Some(68)), nft::accept()));
    inet.rule(
        ingress,
        with(udp_ports(true, 547, Some(546)), nft::accept()),
    );
    inet.rule(ingress, with(icmpv6(&[130, 135, 136]), nft::accept()));
}

/// The anti-spoofing chain of port `p`: pass (and mark) what it may send.
fn render_spoof(br: &mut Table, chain: &str, p: &SgPort, idx: u32) {
    let mark_and_accept = || vec![set_mark(json!(idx)), nft::accept()];
    let mac = p.mac_address.to_ascii_lowercase();
    let mut pairs: Vec<(String, String)> = p
        .fixed_ips
        .iter()
        .map(|a| (mac.clone(), a.clone()))
        .collect();
    for (addr, pair_mac) in &p.allowed_address_pairs {
        let m = if pair_mac.is_empty() {
            mac.clone()
        } else {
            pair_mac.to_ascii_lowercase()
        };
        pairs.push((m, addr.clone()));
    }
    for (m, addr) in &pairs {
        let v6 = is_v6(addr);
        let mut e = vec![
            nft::payload_eq("ether", "saddr", m.as_str()),
            nft::payload_eq("ether", "type", if v6 { "ip6" } else { "ip" }),
            nft::payload_eq(if v6 { "ip6" } else { "ip" }, "saddr", addr_value(addr)),
        ];
        e.extend(mark_and_accept());
        br.rule(chain, e);
        if !v6 {
            let mut e = vec![
                nft::payload_eq("ether", "saddr", m.as_str()),
                nft::payload_eq("ether", "type", "arp"),
                nft::payload_eq("arp", "saddr ether", m.as_str()),
                nft::payload_eq("arp", "saddr ip", addr_value(addr)),
            ];
            e.extend(mark_and_accept());
            br.rule(chain, e);
        }
    }
    // The port's own MAC may probe (ARP from 0.0.0.0), ask DHCP, and use
    // IPv6 link-local and DAD's unspecified source.
    let own = |rest: Vec<Value>| {
        let mut e = vec![nft::payload_eq("ether", "saddr", mac.as_str())];
        e.extend(rest);
        e.extend(mark_and_accept());
        e
    };
    br.rule(
        chain,
        own(vec![
            nft::payload_eq("ether", "type", "arp"),
            nft::payload_eq("arp", "saddr ether", mac.as_str()),
            nft::payload_eq("arp", "saddr ip", "0.0.0.0"),
        ]),
    );
    br.rule(
        chain,
        own(vec![
            nft::payload_eq("ether", "type", "ip"),
            nft::payload_eq("ip", "saddr", "0.0.0.0"),
            nft::payload_eq("ip", "daddr", "255.255.255.255"),
            nft::payload_eq("ip", "protocol", "udp"),
            nft::payload_eq("udp", "sport", 68u16),
            nft::payload_eq("udp", "dport", 67u16),
        ]),
    );
    for src in [nft::prefix("fe80::", 64), Value::String("::".into())] {
        br.rule(
            chain,
            own(vec![
                nft::payload_eq("ether", "type", "ip6"),
                nft::payload_eq("ip6", "saddr", src),
            ]),
        );
    }
    br.rule(chain, vec![nft::drop_()]);
}

/// Renders and applies both tables in namespace `ns` (`None`: the
/// agent's own), each as one transaction, the bridge table first.
pub fn apply(ns: Option<&str>, input: &SgInput) -> Result<Vec<Skipped>, NftError> {
    let (br, inet, skipped) = render(input);
    // One document for both keeps them consistent: the marks the bridge
    // table sets are the ones the inet table reads.
    let mut cmds = Vec::new();
    for t in [&br, &inet] {
        if let Some(a) = t.replace_document()["nftables"].as_array() {
            cmds.extend(a.iter().cloned());
        }
    }
    nft::apply(ns, &json!({ "nftables": cmds }))?;
    Ok(skipped)
}

/// Removes both tables from `ns`.
pub fn remove(ns: Option<&str>) -> Result<(), NftError> {
    nft::delete(ns, Family::Bridge, TABLE)?;
    nft::delete(ns, Family::Inet, TABLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(direction: &str, proto: Option<&str>, min: Option<i64>, max: Option<i64>) -> SgRule {
        SgRule {
            direction: direction.into(),
            ethertype: "IPv4".into(),
            protocol: proto.map(Into::into),
            port_range_min: min,
            port_range_max: max,
            remote_ip_prefix: None,
            remote_group_id: None,
        }
    }

    #[test]
    fn tcp_port_ranges_and_icmp_type_code() {
        let e =
            rule_exprs(&rule("ingress", Some("tcp"), Some(22), Some(22)), true).unwrap_or_default();
        assert_eq!(e[1]["match"]["right"], 6);
        assert_eq!(e[2]["match"]["right"], 22);
        let e = rule_exprs(&rule("ingress", Some("udp"), Some(1000), Some(2000)), true)
            .unwrap_or_default();
        assert_eq!(e[2]["match"]["right"]["range"], json!([1000, 2000]));
        let e =
            rule_exprs(&rule("ingress", Some("icmp"), Some(8), Some(0)), true).unwrap_or_default();
        assert_eq!(e[2]["match"]["left"]["payload"]["protocol"], "icmp");
        assert_eq!(e[2]["match"]["right"], 8);
        assert_eq!(e[3]["match"]["left"]["payload"]["field"], "code");
        let mut r = rule("egress", Some("icmp"), None, None);
        r.ethertype = "IPv6".into();
        let e = rule_exprs(&r, false).unwrap_or_default();
        assert_eq!(e[1]["match"]["right"], 58);
        assert!(rule_exprs(&rule("ingress", Some("nonsense"), None, None), true).is_err());
    }

    #[test]
    fn remote_prefixes_and_groups_match_the_peer() {
        let mut r = rule("ingress", None, None, None);
        r.remote_ip_prefix = Some("10.0.0.0/8".into());
        r.remote_group_id = Some("0123456789abcdef".into());
        let e = rule_exprs(&r, true).unwrap_or_default();
        assert_eq!(e[1]["match"]["left"]["payload"]["field"], "saddr");
        assert_eq!(e[1]["match"]["right"]["prefix"]["len"], 8);
        assert_eq!(e[2]["match"]["right"], "@rg4-0123456789a");
        r.direction = "egress".into();
        let e = rule_exprs(&r, false).unwrap_or_default();
        assert_eq!(e[1]["match"]["left"]["payload"]["field"], "daddr");
        r.remote_ip_prefix = Some("fd00::/8".into());
        assert!(rule_exprs(&r, false).is_err());
    }

    #[test]
    fn ports_without_port_security_get_no_chains() {
        let port = |tap: &str, on: bool| SgPort {
            tap: tap.into(),
            mac_address: "fa:16:3e:00:00:01".into(),
            fixed_ips: vec!["10.0.0.5".into()],
            allowed_address_pairs: vec![],
            port_security_enabled: on,
            security_groups: vec![],
        };
        let input = SgInput {
            ports: vec![port("tapa", true), port("tapb", false)],
            ..SgInput::default()
        };
        let (br, inet, _) = render(&input);
        let text = format!("{}{}", br.replace_document(), inet.replace_document());
        assert!(text.contains("spoof-tapa") && text.contains("ingress-tapa"));
        assert!(!text.contains("tapb"));
    }

    #[test]
    fn every_egress_check_comes_before_any_ingress_check() {
        // An ingress accept ends the hook: checked first, it would let a
        // port's traffic skip its own egress rules.
        let port = |tap: &str| SgPort {
            tap: tap.into(),
            mac_address: "fa:16:3e:00:00:01".into(),
            fixed_ips: vec!["10.0.0.5".into()],
            allowed_address_pairs: vec![],
            port_security_enabled: true,
            security_groups: vec![],
        };
        let input = SgInput {
            ports: vec![port("tapa"), port("tapb")],
            ..SgInput::default()
        };
        let (_, inet, _) = render(&input);
        let targets: Vec<String> = inet.replace_document()["nftables"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["add"].get("rule"))
            .filter(|r| r["chain"] == "forward")
            .filter_map(|r| r["expr"][1]["jump"]["target"].as_str().map(String::from))
            .collect();
        assert_eq!(
            targets,
            ["egress-tapa", "egress-tapb", "ingress-tapa", "ingress-tapb"]
        );
    }
}

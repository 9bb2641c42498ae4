//! Security groups and anti-spoofing for the ports plugged into this
//! host's bridges: a `bridge oxistack-sg` table and an `inet
//! oxistack-sg` table in the namespace owning the bridges, rendered from
//! the feed's ports, groups and remote-group members.
//!
//! This kernel has no conntrack in the bridge family, but bridged IPv4
//! and IPv6 go through the inet hooks (br_netfilter), where the in and
//! out devices are the bridge, not the ports. Each filtered port gets an
//! index (stable while it stays, [`Indexes`]) and four chains; dispatch
//! to them is one verdict-map lookup per hook, whatever the number of
//! ports:
//! - bridge `prerouting`: `iifname vmap @spoof` → the port's
//!   `spoof-<tap>` chain: only the port's MAC with its fixed IPs (and
//!   each allowed address pair's MAC with its address) pass, for IPv4,
//!   IPv6 (plus link-local and the unspecified source of DAD) and ARP;
//!   the DHCP client's discover from 0.0.0.0 passes; everything else is
//!   dropped. A passing frame gets the port's index as the low 16 bits of
//!   the packet mark.
//! - bridge `forward` (before br_netfilter's own hook): `oifname vmap
//!   @out` → `out-<tap>`, which puts the port's index in the high 16 bits.
//! - inet `prerouting` (raw): traffic from or to a port of a stateless
//!   group (`stateful: false`) is not tracked (`notrack`, as neutron's
//!   `CT --notrack` for such ports; by source index, and by destination
//!   MAC since the high bits are set later); everything else gets a
//!   conntrack zone per network, by bridge, so overlapping CIDRs of
//!   different networks never share connection state.
//! - inet `forward`: established/related accepted, invalid dropped; then
//!   `mark & 0xffff vmap @egress` → the source port's `egress-<tap>`
//!   chain (a matching rule returns, the end drops) and `mark &
//!   0xffff0000 vmap @ingress` → the destination port's `ingress-<tap>`
//!   (a matching rule accepts, the end drops), each chain starting with
//!   neutron's defaults (DHCP answers in, no DHCP or RA out, neighbour
//!   discovery both ways). Untracked traffic is neither established nor
//!   invalid: a stateless port's answers need rules of their own. Traffic
//!   of ports without port security carries no index and is not
//!   filtered.
//!
//! Remote groups are named interval sets (`rg4-…`, `rg6-…`) of their
//! members' addresses and allowed-pair prefixes, reduced to disjoint
//! elements (nft refuses overlapping ones; a member inside another's
//! prefix is left out). The input types mirror the feed's (`FeedPort`,
//! `FeedRule`, …) so this module does not depend on the controller's
//! crate; the role fills them with the device names it made.
//!
//! Updates ([`Firewall`]): the last applied [`Render`] is kept in memory
//! and the next apply sends only the difference as one transaction
//! (a new port's chains, rules and map entries; a gone port's entries,
//! then its chains flushed and deleted; a changed port's chains flushed
//! and refilled; set elements added and removed), reusing the unchanged
//! ports' rendered parts. Both tables are replaced whole (which also
//! removes any stale chain or set) at start, when the shared part
//! changes (a network comes or goes: the zone rules) and after any
//! failed update.
//!
//! Not covered yet: router advertisements to a port (neutron lets in the
//! subnet gateway's) and traffic from a port to the host itself (the inet
//! `input` hook).

use crate::net::nft::{self, Family, NftError, Table};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

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
    /// The groups with `stateful: false`: their ports' traffic is not
    /// tracked, so answers need rules of their own.
    pub stateless_groups: BTreeSet<String>,
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

/// Members (addresses or prefixes of one family) as the elements of an
/// interval set, which refuses overlapping ones: each reduced to its
/// network, and those inside another member left out (an allowed
/// address pair's prefix may hold other members' addresses). Also what
/// cannot be parsed.
fn disjoint<'a>(members: impl Iterator<Item = &'a String>) -> (Vec<Value>, Vec<String>) {
    let mut nets: BTreeSet<(u8, u128, bool)> = BTreeSet::new();
    let mut bad = Vec::new();
    for m in members {
        let (addr, len) = match m.split_once('/') {
            Some((a, l)) => (a, l.parse::<u8>().ok()),
            None => (m.as_str(), None),
        };
        let (bits, max, v6) = match addr.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(a)) => (u128::from(u32::from(a)), 32u8, false),
            Ok(std::net::IpAddr::V6(a)) => (u128::from(a), 128u8, true),
            Err(_) => {
                bad.push(m.clone());
                continue;
            }
        };
        let len = match len {
            Some(l) if l <= max => l,
            None if !m.contains('/') => max,
            _ => {
                bad.push(m.clone());
                continue;
            }
        };
        let host = u32::from(max - len);
        let net = if host >= 128 {
            0
        } else {
            (bits >> host) << host
        };
        nets.insert((len, net, v6));
    }
    // Shortest prefixes first: each kept one covers the longer ones after.
    let mut kept: Vec<(u8, u128, bool)> = Vec::new();
    let mut covering: Vec<(u8, u128, u8)> = Vec::new();
    for (len, net, v6) in nets {
        let max = if v6 { 128 } else { 32 };
        let inside = covering.iter().any(|&(clen, cnet, cmax)| {
            let host = u32::from(cmax - clen);
            cmax == max && (host >= 128 || (net >> host) == (cnet >> host))
        });
        if inside {
            continue;
        }
        if len < max {
            covering.push((len, net, max));
        }
        kept.push((len, net, v6));
    }
    let elems = kept
        .into_iter()
        .map(|(len, net, v6)| {
            let (addr, max) = if v6 {
                (std::net::Ipv6Addr::from(net).to_string(), 128)
            } else {
                // A v4 network fits in 32 bits.
                let v4 = u32::try_from(net).unwrap_or(0);
                (std::net::Ipv4Addr::from(v4).to_string(), 32)
            };
            if len == max {
                Value::String(addr)
            } else {
                nft::prefix(&addr, len)
            }
        })
        .collect();
    (elems, bad)
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

/// Per-port indexes (the mark's halves), stable while a port stays: the
/// lowest free number from 1, new ports taken in tap order, so adding a
/// port never renumbers the others (which would touch every port's
/// dispatch entries).
#[derive(Debug, Default)]
pub struct Indexes {
    by_tap: BTreeMap<String, u32>,
}

impl Indexes {
    /// Takes `found` (tap → index, from a table in the kernel) as
    /// assigned; an index given twice or out of range is not taken.
    pub fn seed(&mut self, found: BTreeMap<String, u32>) {
        let mut used: BTreeSet<u32> = self.by_tap.values().copied().collect();
        for (tap, i) in found {
            if (1..=LOW).contains(&i) && !self.by_tap.contains_key(&tap) && used.insert(i) {
                self.by_tap.insert(tap, i);
            }
        }
    }

    /// The indexes of exactly `taps` (more than 0xffff get none).
    pub fn assign<'a>(&mut self, taps: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, u32> {
        let taps: BTreeSet<&str> = taps.into_iter().collect();
        self.by_tap.retain(|t, _| taps.contains(t.as_str()));
        let mut used: BTreeSet<u32> = self.by_tap.values().copied().collect();
        let mut next = 1u32;
        for t in taps {
            if self.by_tap.contains_key(t) {
                continue;
            }
            while used.contains(&next) {
                next += 1;
            }
            if next > LOW {
                break;
            }
            used.insert(next);
            self.by_tap.insert(t.to_string(), next);
        }
        self.by_tap.clone()
    }
}

/// The port indexes of an inet table listed from the kernel: the
/// `egress` verdict map's `INDEX : jump egress-TAP` elements.
fn indexes_of_table(items: &[Value]) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for map in items.iter().filter_map(|i| i.get("map")) {
        if map["name"] != "egress" {
            continue;
        }
        for e in map["elem"].as_array().into_iter().flatten() {
            let idx = e[0].as_u64().and_then(|i| u32::try_from(i).ok());
            let tap = e[1]["jump"]["target"]
                .as_str()
                .and_then(|t| t.strip_prefix("egress-"));
            if let (Some(i), Some(t)) = (idx, tap) {
                out.insert(t.to_string(), i);
            }
        }
    }
    out
}

/// The conntrack zones of an inet table listed from the kernel, by bridge.
pub(crate) fn zones_of_table(items: &[Value]) -> BTreeMap<String, u16> {
    let mut out = BTreeMap::new();
    for rule in items.iter().filter_map(|i| i.get("rule")) {
        if rule["chain"] != "zone" {
            continue;
        }
        let Some(expr) = rule["expr"].as_array() else {
            continue;
        };
        let bridge = expr.iter().find_map(|e| {
            let m = e.get("match")?;
            (m["left"]["meta"]["key"] == "iifname").then(|| m["right"].as_str())?
        });
        let zone = expr.iter().find_map(|e| {
            let m = e.get("mangle")?;
            (m["key"]["ct"]["key"] == "zone").then(|| m["value"].as_u64())?
        });
        if let (Some(b), Some(z)) = (bridge, zone.and_then(|z| u16::try_from(z).ok())) {
            out.insert(b.to_string(), z);
        }
    }
    out
}

/// A named set of the inet table: its type, whether it holds prefixes,
/// and its elements keyed by their JSON text (so they can be diffed).
#[derive(Debug, Clone, PartialEq)]
struct SetPart {
    kind: &'static str,
    interval: bool,
    elems: BTreeMap<String, Value>,
}

impl SetPart {
    fn new(kind: &'static str, interval: bool) -> SetPart {
        SetPart {
            kind,
            interval,
            elems: BTreeMap::new(),
        }
    }

    fn insert(&mut self, v: Value) {
        self.elems.insert(v.to_string(), v);
    }

    fn object(&self, name: &str, with_elems: bool) -> Value {
        let mut set = json!({
            "family": Family::Inet.as_str(), "table": TABLE, "name": name, "type": self.kind,
        });
        if self.interval {
            set["flags"] = json!(["interval"]);
        }
        if with_elems && !self.elems.is_empty() {
            set["elem"] = Value::Array(self.elems.values().cloned().collect());
        }
        json!({ "set": set })
    }
}

/// One port's part of the tables: its index, its chains with their
/// rules (bridge `spoof-`/`out-`, inet `egress-`/`ingress-`).
#[derive(Debug, Clone, PartialEq)]
struct PortPart {
    idx: u32,
    bridge: Vec<(String, Vec<Vec<Value>>)>,
    inet: Vec<(String, Vec<Vec<Value>>)>,
    /// What this port's rules left out.
    skipped: Vec<Skipped>,
    /// What it was made from: an equal key next time reuses the part.
    key: PortKey,
}

/// Everything one port's part depends on.
#[derive(Debug, Clone, PartialEq)]
struct PortKey {
    port: SgPort,
    idx: u32,
    /// The rules of each of its groups (None: not in the feed).
    rules: Vec<Option<Vec<SgRule>>>,
}

impl PortPart {
    /// (family, map, element, key) of each dispatch entry.
    fn entries(&self, tap: &str) -> Vec<(Family, &'static str, Value, Value)> {
        let j = |c: String| nft::jump(&c);
        vec![
            (
                Family::Bridge,
                MAP_SPOOF,
                json!([tap, j(format!("spoof-{tap}"))]),
                json!(tap),
            ),
            (
                Family::Bridge,
                MAP_OUT,
                json!([tap, j(format!("out-{tap}"))]),
                json!(tap),
            ),
            (
                Family::Inet,
                MAP_EGRESS,
                json!([self.idx, j(format!("egress-{tap}"))]),
                json!(self.idx),
            ),
            (
                Family::Inet,
                MAP_INGRESS,
                json!([self.idx << 16, j(format!("ingress-{tap}"))]),
                json!(self.idx << 16),
            ),
        ]
    }

    fn chains(&self) -> impl Iterator<Item = (Family, &(String, Vec<Vec<Value>>))> {
        self.bridge
            .iter()
            .map(|c| (Family::Bridge, c))
            .chain(self.inet.iter().map(|c| (Family::Inet, c)))
    }
}

/// Both tables as rendered, in parts that can be diffed: what every
/// port shares (base chains, dispatch maps, zone rules), the named sets,
/// and each port's own part.
#[derive(Debug, Clone, PartialEq)]
pub struct Render {
    bridge_base: Vec<Value>,
    inet_base: Vec<Value>,
    sets: BTreeMap<String, SetPart>,
    ports: BTreeMap<String, Arc<PortPart>>,
    /// What was left out.
    pub skipped: Vec<Skipped>,
}

const MAP_SPOOF: &str = "spoof";
const MAP_OUT: &str = "out";
const MAP_EGRESS: &str = "egress";
const MAP_INGRESS: &str = "ingress";
/// Indexes of stateless ports (source side: the mark's low half).
const SET_SL_SRC: &str = "stateless-src";
/// MACs of stateless ports (destination side: the mark's high half is
/// set after the inet prerouting hook, so the frame's destination MAC).
const SET_SL_DST: &str = "stateless-dst";

/// Renders both tables with indexes assigned afresh (tap order).
pub fn render(input: &SgInput) -> Render {
    let idx = Indexes::default().assign(input.ports.iter().map(|p| p.tap.as_str()));
    render_with(input, &idx)
}

/// Renders both tables with port indexes `idx` (tap → index).
pub fn render_with(input: &SgInput, idx: &BTreeMap<String, u32>) -> Render {
    render_reusing(input, idx, None)
}

/// [`render_with`], reusing the unchanged ports' parts of `last` (so
/// adding one port to a thousand builds one port's rules, not all).
fn render_reusing(input: &SgInput, idx: &BTreeMap<String, u32>, last: Option<&Render>) -> Render {
    let mut br = Table::new(Family::Bridge, TABLE);
    let mut inet = Table::new(Family::Inet, TABLE);
    let mut skipped = Vec::new();
    let mut sets = BTreeMap::new();

    // Remote group sets, both families.
    for (gid, members) in &input.remote_groups {
        for v6 in [false, true] {
            let mut set = SetPart::new(if v6 { "ipv6_addr" } else { "ipv4_addr" }, true);
            let (elems, bad) = disjoint(members.iter().filter(|a| is_v6(a) == v6));
            for e in elems {
                set.insert(e);
            }
            for b in bad {
                skipped.push(Skipped(format!("remote group {gid}: member {b:?}")));
            }
            sets.insert(group_set(gid, v6), set);
        }
    }
    let mut sl_src = SetPart::new("mark", false);
    let mut sl_dst = SetPart::new("ether_addr", false);

    br.base_chain("prerouting", "filter", "prerouting", -200, "accept");
    br.base_chain("forward", "filter", "forward", -200, "accept");
    br.vmap(MAP_SPOOF, "ifname");
    br.vmap(MAP_OUT, "ifname");
    br.rule(
        "prerouting",
        vec![
            json!({"vmap": {"key": {"meta": {"key": "iifname"}}, "data": nft::set_ref(MAP_SPOOF)}}),
        ],
    );
    br.rule(
        "forward",
        vec![json!({"vmap": {"key": {"meta": {"key": "oifname"}}, "data": nft::set_ref(MAP_OUT)}})],
    );
    inet.base_chain("zone", "filter", "prerouting", -300, "accept");
    inet.base_chain("forward", "filter", "forward", 0, "accept");
    inet.vmap(MAP_EGRESS, "mark");
    inet.vmap(MAP_INGRESS, "mark");
    // Stateless ports' traffic is not tracked (neutron's `CT --notrack`
    // for them): it must skip the zone rules below, as `ct zone set`
    // would give it a conntrack template again.
    inet.rule(
        "zone",
        vec![
            json!({"match": {"op": "==", "left": {"&": [mark(), LOW]},
                "right": nft::set_ref(SET_SL_SRC)}}),
            nft::notrack(),
            nft::accept(),
        ],
    );
    inet.rule(
        "zone",
        vec![
            nft::payload_eq("ether", "daddr", nft::set_ref(SET_SL_DST)),
            nft::notrack(),
            nft::accept(),
        ],
    );
    let mut networks = input.networks.clone();
    networks.sort_by(|a, b| a.bridge.cmp(&b.bridge));
    for n in &networks {
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
    // An accept in an ingress chain ends the whole hook, so the source
    // port's egress chain comes first (its matches return).
    inet.rule(
        "forward",
        vec![json!({"vmap": {"key": {"&": [mark(), LOW]}, "data": nft::set_ref(MAP_EGRESS)}})],
    );
    inet.rule(
        "forward",
        vec![json!({"vmap": {"key": {"&": [mark(), HIGH]}, "data": nft::set_ref(MAP_INGRESS)}})],
    );

    let mut ports = BTreeMap::new();
    for p in input.ports.iter().filter(|p| p.port_security_enabled) {
        let tap = p.tap.as_str();
        let Some(&i) = idx.get(tap) else {
            skipped.push(Skipped(format!("port {tap}: too many ports")));
            continue;
        };
        let stateless = p
            .security_groups
            .iter()
            .any(|g| input.stateless_groups.contains(g));
        if stateless {
            sl_src.insert(json!(i));
            for m in std::iter::once(&p.mac_address)
                .chain(p.allowed_address_pairs.iter().map(|(_, m)| m))
                .filter(|m| !m.is_empty())
            {
                sl_dst.insert(json!(m.to_ascii_lowercase()));
            }
        }
        let key = PortKey {
            port: p.clone(),
            idx: i,
            rules: p
                .security_groups
                .iter()
                .map(|g| input.groups.get(g).cloned())
                .collect(),
        };
        if let Some(part) = last
            .and_then(|l| l.ports.get(tap))
            .filter(|part| part.key == key)
        {
            skipped.extend(part.skipped.iter().cloned());
            ports.insert(tap.to_string(), Arc::clone(part));
            continue;
        }
        let mut port_skipped = Vec::new();
        let spoof = render_spoof(p, i);
        let out = vec![vec![set_mark(
            json!({"|": [{"&": [mark(), LOW]}, i << 16]}),
        )]];
        let (mut egress, mut ingress) = default_rules();
        for gid in &p.security_groups {
            let Some(rules) = input.groups.get(gid) else {
                port_skipped.push(Skipped(format!(
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
                            ingress.push(e);
                        } else {
                            e.push(json!({"return": null}));
                            egress.push(e);
                        }
                    }
                    Err(why) => {
                        port_skipped.push(Skipped(format!("port {tap}, group {gid}: {why}")))
                    }
                }
            }
        }
        egress.push(vec![nft::drop_()]);
        ingress.push(vec![nft::drop_()]);
        skipped.extend(port_skipped.iter().cloned());
        ports.insert(
            tap.to_string(),
            Arc::new(PortPart {
                idx: i,
                skipped: port_skipped,
                key,
                bridge: vec![(format!("spoof-{tap}"), spoof), (format!("out-{tap}"), out)],
                inet: vec![
                    (format!("egress-{tap}"), egress),
                    (format!("ingress-{tap}"), ingress),
                ],
            }),
        );
    }
    sets.insert(SET_SL_SRC.to_string(), sl_src);
    sets.insert(SET_SL_DST.to_string(), sl_dst);
    Render {
        bridge_base: br.objects().to_vec(),
        inet_base: inet.objects().to_vec(),
        sets,
        ports,
        skipped,
    }
}

fn table_object(family: Family) -> Value {
    json!({"table": {"family": family.as_str(), "name": TABLE}})
}

fn add(o: Value) -> Value {
    json!({ "add": o })
}

fn add_chain(cmds: &mut Vec<Value>, family: Family, name: &str, rules: &[Vec<Value>], new: bool) {
    if new {
        cmds.push(add(nft::chain_object(family, TABLE, name)));
    }
    for r in rules {
        cmds.push(add(nft::rule_object(family, TABLE, name, r.clone())));
    }
}

fn add_entries(cmds: &mut Vec<Value>, tap: &str, p: &PortPart) {
    for (family, map, elem, _) in p.entries(tap) {
        cmds.push(nft::element("add", family, TABLE, map, vec![elem]));
    }
}

impl Render {
    /// The transaction replacing both tables whole: with the table's
    /// deletion it also removes whatever stale chain, set or rule a
    /// failed or foreign change left.
    pub fn replace_document(&self) -> Value {
        let mut cmds = Vec::new();
        for family in [Family::Bridge, Family::Inet] {
            cmds.push(add(table_object(family)));
            cmds.push(json!({ "delete": table_object(family) }));
            cmds.push(add(table_object(family)));
        }
        // Sets before the rules naming them; chains before the
        // dispatch entries jumping to them.
        for (name, set) in &self.sets {
            cmds.push(add(set.object(name, true)));
        }
        cmds.extend(self.bridge_base.iter().cloned().map(add));
        cmds.extend(self.inet_base.iter().cloned().map(add));
        for (tap, p) in &self.ports {
            for (family, (name, rules)) in p.chains() {
                add_chain(&mut cmds, family, name, rules, true);
            }
            add_entries(&mut cmds, tap, p);
        }
        json!({ "nftables": cmds })
    }

    /// The transaction turning `old` (what is applied) into `self`,
    /// touching only what changed: new and removed ports' chains and
    /// dispatch entries, changed ports' chains (flushed and refilled),
    /// set elements removed and added. None when the shared part (base
    /// chains, zone rules per network) changed: then replace whole.
    pub fn diff_document(&self, old: &Render) -> Option<Value> {
        if self.bridge_base != old.bridge_base || self.inet_base != old.inet_base {
            return None;
        }
        let mut cmds = Vec::new();
        for (name, set) in &self.sets {
            match old.sets.get(name) {
                None => cmds.push(add(set.object(name, true))),
                Some(o) if o.kind != set.kind || o.interval != set.interval => return None,
                Some(o) => {
                    // Gone elements first: an interval set refuses a new
                    // prefix overlapping one still in it.
                    let gone: Vec<Value> = o
                        .elems
                        .iter()
                        .filter(|(k, _)| !set.elems.contains_key(*k))
                        .map(|(_, v)| v.clone())
                        .collect();
                    if !gone.is_empty() {
                        cmds.push(nft::element("delete", Family::Inet, TABLE, name, gone));
                    }
                    let added: Vec<Value> = set
                        .elems
                        .iter()
                        .filter(|(k, _)| !o.elems.contains_key(*k))
                        .map(|(_, v)| v.clone())
                        .collect();
                    if !added.is_empty() {
                        cmds.push(nft::element("add", Family::Inet, TABLE, name, added));
                    }
                }
            }
        }
        for (tap, op) in &old.ports {
            let np = self.ports.get(tap);
            if np.is_some_and(|n| Arc::ptr_eq(n, op) || n == op) {
                continue;
            }
            let same_idx = np.is_some_and(|n| n.idx == op.idx);
            if !same_idx {
                for (family, map, _, key) in op.entries(tap) {
                    cmds.push(nft::element("delete", family, TABLE, map, vec![key]));
                }
            }
            match np {
                // The chain names follow from the tap: the same chains,
                // refilled in the same transaction.
                Some(np) => {
                    for (family, (name, rules)) in np.chains() {
                        cmds.push(json!({"flush": nft::chain_object(family, TABLE, name)}));
                        add_chain(&mut cmds, family, name, rules, false);
                    }
                    if !same_idx {
                        add_entries(&mut cmds, tap, np);
                    }
                }
                None => {
                    for (family, (name, _)) in op.chains() {
                        let c = nft::chain_object(family, TABLE, name);
                        cmds.push(json!({ "flush": c.clone() }));
                        cmds.push(json!({ "delete": c }));
                    }
                }
            }
        }
        for (tap, np) in &self.ports {
            if old.ports.contains_key(tap) {
                continue;
            }
            for (family, (name, rules)) in np.chains() {
                add_chain(&mut cmds, family, name, rules, true);
            }
            add_entries(&mut cmds, tap, np);
        }
        // Sets last: no rule names them any more.
        for (name, set) in &old.sets {
            if !self.sets.contains_key(name) {
                cmds.push(json!({ "delete": set.object(name, false) }));
            }
        }
        Some(json!({ "nftables": cmds }))
    }
}

/// How the last [`Firewall::apply`] went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub skipped: Vec<Skipped>,
    /// Whether only the changes were applied (false: replaced whole).
    pub incremental: bool,
    /// How many nft commands the transaction had (0: nothing changed).
    pub commands: usize,
}

/// The security-group tables of one namespace, with the last render
/// applied kept in memory so the next apply sends only what changed.
/// After a failure (or at start) the tables are replaced whole.
#[derive(Debug)]
pub struct Firewall {
    ns: Option<String>,
    indexes: Indexes,
    last: Option<Render>,
    /// Whether the table already in the kernel was read
    /// ([`Firewall::read_kernel`], once), so a restarted agent keeps every
    /// port's index and its replace changes nothing.
    seeded: bool,
}

impl Firewall {
    pub fn new(ns: Option<String>) -> Firewall {
        Firewall {
            ns,
            indexes: Indexes::default(),
            last: None,
            seeded: false,
        }
    }

    /// Reads the inet table a previous agent left in the kernel, once:
    /// its port indexes are kept as assigned, and its conntrack zones are
    /// returned by bridge (the `zone` chain's `iifname BRIDGE ct zone set
    /// N` rules) for the caller, who assigns zones per network. Empty
    /// when there is no table.
    pub fn read_kernel(&mut self) -> Result<BTreeMap<String, u16>, NftError> {
        let items = nft::list_table(self.ns.as_deref(), Family::Inet, TABLE)?.unwrap_or_default();
        self.indexes.seed(indexes_of_table(&items));
        self.seeded = true;
        Ok(zones_of_table(&items))
    }

    /// Applies `input` as one transaction: the changes since the last
    /// success, or both tables whole.
    pub fn apply(&mut self, input: &SgInput) -> Result<Applied, NftError> {
        if !self.seeded {
            self.read_kernel()?;
        }
        let taps = input
            .ports
            .iter()
            .filter(|p| p.port_security_enabled)
            .map(|p| p.tap.as_str());
        let idx = self.indexes.assign(taps);
        let new = render_reusing(input, &idx, self.last.as_ref());
        let skipped = new.skipped.clone();
        let diff = self.last.take().and_then(|old| new.diff_document(&old));
        if let Some(doc) = diff {
            let commands = doc["nftables"].as_array().map_or(0, Vec::len);
            let r = if commands == 0 {
                Ok(())
            } else {
                nft::apply(self.ns.as_deref(), &doc)
            };
            match r {
                Ok(()) => {
                    self.last = Some(new);
                    return Ok(Applied {
                        skipped,
                        incremental: true,
                        commands,
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "security groups: incremental update failed, replacing the tables")
                }
            }
        }
        let doc = new.replace_document();
        nft::apply(self.ns.as_deref(), &doc)?;
        self.last = Some(new);
        Ok(Applied {
            skipped,
            incremental: false,
            commands: doc["nftables"].as_array().map_or(0, Vec::len),
        })
    }

    /// Forgets what was applied (keeping the port indexes): the next
    /// apply replaces both tables whole.
    pub fn forget(&mut self) {
        self.last = None;
    }

    /// Removes both tables; the next apply replaces whole.
    pub fn remove(&mut self) -> Result<(), NftError> {
        self.last = None;
        remove(self.ns.as_deref())
    }
}

/// What every filtered port gets before its groups' rules, as neutron's
/// firewall drivers do: an instance is no DHCP server and sends no router
/// advertisements; it always gets its DHCP answers and may always do
/// neighbour discovery (the ICMPv6 types neutron allows by default:
/// ingress MLD query, NS, NA; egress also RS) and gets router
/// advertisements.
fn default_rules() -> (Vec<Vec<Value>>, Vec<Vec<Value>>) {
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
    let egress = vec![
        with(udp_ports(false, 67, None), nft::drop_()),
        with(udp_ports(true, 547, None), nft::drop_()),
        with(icmpv6(&[134]), nft::drop_()),
        with(icmpv6(&[130, 133, 135, 136]), json!({"return": null})),
    ];
    let ingress = vec![
        with(udp_ports(false, 67, Some(68)), nft::accept()),
        with(udp_ports(true, 547, Some(546)), nft::accept()),
        with(icmpv6(&[130, 135, 136]), nft::accept()),
        // Router advertisements, as neutron allows them from the subnet
        // gateway's link-local address: only a router sends them (the
        // egress rules above drop an instance's), from a link-local
        // source with hop limit 255 (RFC 4861 6.1.2).
        {
            let mut e = icmpv6(&[134]);
            e.push(nft::payload_eq("ip6", "saddr", nft::prefix("fe80::", 10)));
            e.push(nft::payload_eq("ip6", "hoplimit", 255u8));
            with(e, nft::accept())
        },
    ];
    (egress, ingress)
}

/// The anti-spoofing chain of port `p`: pass (and mark) what it may send.
fn render_spoof(p: &SgPort, idx: u32) -> Vec<Vec<Value>> {
    let mut rules = Vec::new();
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
        rules.push(e);
        if !v6 {
            let mut e = vec![
                nft::payload_eq("ether", "saddr", m.as_str()),
                nft::payload_eq("ether", "type", "arp"),
                nft::payload_eq("arp", "saddr ether", m.as_str()),
                nft::payload_eq("arp", "saddr ip", addr_value(addr)),
            ];
            e.extend(mark_and_accept());
            rules.push(e);
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
    rules.push(own(vec![
        nft::payload_eq("ether", "type", "arp"),
        nft::payload_eq("arp", "saddr ether", mac.as_str()),
        nft::payload_eq("arp", "saddr ip", "0.0.0.0"),
    ]));
    rules.push(own(vec![
        nft::payload_eq("ether", "type", "ip"),
        nft::payload_eq("ip", "saddr", "0.0.0.0"),
        nft::payload_eq("ip", "daddr", "255.255.255.255"),
        nft::payload_eq("ip", "protocol", "udp"),
        nft::payload_eq("udp", "sport", 68u16),
        nft::payload_eq("udp", "dport", 67u16),
    ]));
    for src in [nft::prefix("fe80::", 64), Value::String("::".into())] {
        rules.push(own(vec![
            nft::payload_eq("ether", "type", "ip6"),
            nft::payload_eq("ip6", "saddr", src),
        ]));
    }
    rules.push(vec![nft::drop_()]);
    rules
}

/// Renders and replaces both tables in namespace `ns` (`None`: the
/// agent's own) whole, in one transaction (no memory of an earlier
/// apply: [`Firewall`] is what sends only the changes).
pub fn apply(ns: Option<&str>, input: &SgInput) -> Result<Vec<Skipped>, NftError> {
    Firewall::new(ns.map(String::from))
        .apply(input)
        .map(|a| a.skipped)
}

/// Removes both tables from `ns`.
pub fn remove(ns: Option<&str>) -> Result<(), NftError> {
    nft::delete(ns, Family::Bridge, TABLE)?;
    nft::delete(ns, Family::Inet, TABLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restarted_firewall_takes_the_kernels_port_indexes() {
        // As `nft -j list table inet oxistack-sg` lists the egress map.
        let items = vec![
            json!({"map": {"family": "inet", "table": TABLE, "name": "egress",
            "type": "mark", "map": "verdict",
            "elem": [[7, {"jump": {"target": "egress-tapaaa"}}],
                     [2, {"jump": {"target": "egress-tapbbb"}}]]}}),
            json!({"map": {"name": "ingress",
            "elem": [[65536, {"jump": {"target": "ingress-tapccc"}}]]}}),
        ];
        let found = indexes_of_table(&items);
        assert_eq!(
            found,
            BTreeMap::from([("tapaaa".to_string(), 7), ("tapbbb".to_string(), 2)])
        );
        let mut idx = Indexes::default();
        idx.seed(found);
        let got = idx.assign(["tapaaa", "tapbbb", "tapnew"]);
        assert_eq!(got["tapaaa"], 7);
        assert_eq!(got["tapbbb"], 2);
        assert_eq!(got["tapnew"], 1, "a new port takes the lowest free index");
    }

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
    fn router_advertisements_pass_only_from_link_local_routers() {
        let (egress, ingress) = default_rules();
        let ra = |rules: &[Vec<Value>]| {
            rules
                .iter()
                .filter(|r| r.iter().any(|e| e["match"]["right"]["set"] == json!([134])))
                .cloned()
                .collect::<Vec<_>>()
        };
        let out = ra(&egress);
        assert_eq!(out.len(), 1);
        assert!(out[0].last().is_some_and(|v| v.get("drop").is_some()));
        let inn = ra(&ingress);
        assert_eq!(inn.len(), 1);
        let r = &inn[0];
        assert!(r
            .iter()
            .any(|e| e["match"]["left"]["payload"]["field"] == "saddr"
                && e["match"]["right"]["prefix"] == json!({"addr": "fe80::", "len": 10})));
        assert!(r
            .iter()
            .any(|e| e["match"]["left"]["payload"]["field"] == "hoplimit"
                && e["match"]["right"] == 255));
        assert!(r.last().is_some_and(|v| v.get("accept").is_some()));
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

    fn port(tap: &str, on: bool, groups: &[&str]) -> SgPort {
        SgPort {
            tap: tap.into(),
            mac_address: "fa:16:3e:00:00:01".into(),
            fixed_ips: vec!["10.0.0.5".into()],
            allowed_address_pairs: vec![],
            port_security_enabled: on,
            security_groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn cmds(doc: &Value) -> Vec<Value> {
        doc["nftables"].as_array().cloned().unwrap_or_default()
    }

    /// Each command as `verb kind name` (`add chain egress-tapa`, …).
    fn summary(doc: &Value) -> Vec<String> {
        cmds(doc)
            .iter()
            .filter_map(|c| {
                let (verb, o) = c.as_object()?.iter().next()?;
                let (kind, body) = o.as_object()?.iter().next()?;
                let name = body
                    .get("name")
                    .or_else(|| body.get("chain"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                Some(format!("{verb} {kind} {name}"))
            })
            .collect()
    }

    #[test]
    fn ports_without_port_security_get_no_chains() {
        let input = SgInput {
            ports: vec![port("tapa", true, &[]), port("tapb", false, &[])],
            ..SgInput::default()
        };
        let text = render(&input).replace_document().to_string();
        assert!(text.contains("spoof-tapa") && text.contains("ingress-tapa"));
        assert!(!text.contains("tapb"));
    }

    #[test]
    fn dispatch_is_two_verdict_maps_with_egress_first() {
        // An ingress accept ends the hook: checked first, it would let a
        // port's traffic skip its own egress rules. And one rule per map,
        // not per port, whatever the number of ports.
        let input = SgInput {
            ports: (0..50)
                .map(|i| port(&format!("tap{i}"), true, &[]))
                .collect(),
            ..SgInput::default()
        };
        let doc = render(&input).replace_document();
        let forward: Vec<Value> = cmds(&doc)
            .iter()
            .filter_map(|c| c["add"].get("rule"))
            .filter(|r| r["chain"] == "forward" && r["family"] == "inet")
            .map(|r| r["expr"].clone())
            .collect();
        let maps: Vec<&str> = forward
            .iter()
            .filter_map(|e| e[0]["vmap"]["data"].as_str())
            .collect();
        assert_eq!(maps, ["@egress", "@ingress"]);
        assert_eq!(forward.len(), 4, "ct state established, invalid, two maps");
        let entries = summary(&doc)
            .iter()
            .filter(|s| s.as_str() == "add element ingress")
            .count();
        assert_eq!(entries, 50);
    }

    #[test]
    fn indexes_are_stable_and_reused() {
        let mut ix = Indexes::default();
        let a = ix.assign(["tapb", "tapa"]);
        assert_eq!((a["tapa"], a["tapb"]), (1, 2));
        let a = ix.assign(["tapb", "tapc", "tap0"]);
        assert_eq!(a["tapb"], 2, "kept");
        assert_eq!(
            (a["tap0"], a["tapc"]),
            (1, 3),
            "freed 1 reused, in tap order"
        );
    }

    #[test]
    fn an_unchanged_input_is_an_empty_diff() {
        let input = SgInput {
            ports: vec![port("tapa", true, &["g"])],
            groups: [(
                "g".to_string(),
                vec![rule("ingress", Some("tcp"), Some(22), Some(22))],
            )]
            .into_iter()
            .collect(),
            ..SgInput::default()
        };
        let r = render(&input);
        assert_eq!(
            cmds(&render(&input).diff_document(&r).unwrap_or_default()),
            Vec::<Value>::new()
        );
    }

    #[test]
    fn adding_a_port_adds_its_chains_and_entries_only() {
        let mut input = SgInput {
            networks: vec![SgNetwork {
                bridge: "brq1".into(),
                zone: 1,
            }],
            ports: (0..100)
                .map(|i| port(&format!("tap{i:03}"), true, &[]))
                .collect(),
            ..SgInput::default()
        };
        let mut ix = Indexes::default();
        let old = render_with(
            &input,
            &ix.assign(input.ports.iter().map(|p| p.tap.as_str())),
        );
        input.ports.push(port("tapnew", true, &[]));
        let new = render_with(
            &input,
            &ix.assign(input.ports.iter().map(|p| p.tap.as_str())),
        );
        let doc = new.diff_document(&old).unwrap_or_default();
        let s = summary(&doc);
        assert!(!s.iter().any(|c| c.contains("table")), "{s:?}");
        assert!(
            cmds(&doc).iter().all(|c| c.to_string().contains("tapnew")
                || c["add"]["element"]["name"] == "egress"
                || c["add"]["element"]["name"] == "ingress"),
            "{s:?}"
        );
        for want in [
            "add chain spoof-tapnew",
            "add chain out-tapnew",
            "add chain egress-tapnew",
            "add chain ingress-tapnew",
            "add element spoof",
            "add element out",
            "add element egress",
            "add element ingress",
        ] {
            assert!(s.contains(&want.to_string()), "{want}: {s:?}");
        }
        let ingress = cmds(&doc)
            .into_iter()
            .find(|c| c["add"]["element"]["name"] == "ingress")
            .unwrap_or_default();
        assert_eq!(
            ingress["add"]["element"]["elem"][0][0],
            101 << 16,
            "next free index"
        );
        assert_eq!(
            s.len(),
            8 + new.ports["tapnew"]
                .chains()
                .map(|(_, c)| c.1.len())
                .sum::<usize>()
        );
    }

    #[test]
    fn removing_a_port_drops_its_entries_then_its_chains() {
        let input = SgInput {
            ports: vec![port("tapa", true, &[]), port("tapb", true, &[])],
            ..SgInput::default()
        };
        let mut ix = Indexes::default();
        let old = render_with(&input, &ix.assign(["tapa", "tapb"]));
        let mut less = input.clone();
        less.ports.remove(1);
        let new = render_with(&less, &ix.assign(["tapa"]));
        let s = summary(&new.diff_document(&old).unwrap_or_default());
        assert_eq!(
            s,
            [
                "delete element spoof",
                "delete element out",
                "delete element egress",
                "delete element ingress",
                "flush chain spoof-tapb",
                "delete chain spoof-tapb",
                "flush chain out-tapb",
                "delete chain out-tapb",
                "flush chain egress-tapb",
                "delete chain egress-tapb",
                "flush chain ingress-tapb",
                "delete chain ingress-tapb",
            ]
        );
    }

    #[test]
    fn a_rule_change_refills_that_ports_chains_and_membership_moves_elements() {
        let mut r = rule("ingress", None, None, None);
        r.remote_group_id = Some("g".into());
        let mut input = SgInput {
            ports: vec![port("tapa", true, &["g"]), port("tapb", true, &[])],
            groups: [("g".to_string(), vec![r])].into_iter().collect(),
            remote_groups: [("g".to_string(), vec!["10.0.0.5".to_string()])]
                .into_iter()
                .collect(),
            ..SgInput::default()
        };
        let old = render(&input);
        input
            .remote_groups
            .insert("g".into(), vec!["10.0.0.6".into()]);
        if let Some(g) = input.groups.get_mut("g") {
            g.push(rule("egress", None, None, None));
        }
        let doc = render(&input).diff_document(&old).unwrap_or_default();
        let s = summary(&doc);
        assert_eq!(&s[..2], ["delete element rg4-g", "add element rg4-g"]);
        assert!(s.contains(&"flush chain egress-tapa".to_string()));
        assert!(!s.iter().any(|c| c.contains("tapb")), "{s:?}");
        assert!(!s.iter().any(|c| c.contains("element spoof")), "{s:?}");
        assert_eq!(cmds(&doc)[0]["delete"]["element"]["elem"][0], "10.0.0.5");
        assert_eq!(cmds(&doc)[1]["add"]["element"]["elem"][0], "10.0.0.6");
    }

    #[test]
    fn remote_group_members_become_disjoint_elements() {
        let m: Vec<String> = [
            "10.0.0.5",
            "10.0.0.5",
            "10.0.0.7/24",
            "10.0.1.9",
            "10.0.0.0/16",
            "nonsense",
            "fd00::1",
            "fd00::/64",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (v4, bad) = disjoint(m.iter().filter(|a| !is_v6(a)));
        assert_eq!(v4, vec![nft::prefix("10.0.0.0", 16)], "all inside the /16");
        assert_eq!(bad, ["nonsense"]);
        let (v6, _) = disjoint(m.iter().filter(|a| is_v6(a)));
        assert_eq!(v6, vec![nft::prefix("fd00::", 64)]);
        let hosts: Vec<String> = ["10.0.0.6", "10.0.0.5", "10.0.0.4/31"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (v4, _) = disjoint(hosts.iter());
        assert_eq!(v4, vec![nft::prefix("10.0.0.4", 31), json!("10.0.0.6")]);
    }

    #[test]
    fn a_new_network_replaces_whole() {
        let mut input = SgInput::default();
        let old = render(&input);
        input.networks.push(SgNetwork {
            bridge: "brq1".into(),
            zone: 1,
        });
        assert!(render(&input).diff_document(&old).is_none());
        let s = summary(&render(&input).replace_document());
        assert_eq!(
            &s[..3],
            [
                "add table oxistack-sg",
                "delete table oxistack-sg",
                "add table oxistack-sg"
            ]
        );
    }

    #[test]
    fn stateless_ports_are_not_tracked_either_way() {
        let mut p = port("tapa", true, &["sl"]);
        p.allowed_address_pairs
            .push(("10.0.0.9".into(), "FA:16:3E:00:00:09".into()));
        let input = SgInput {
            ports: vec![p, port("tapb", true, &["sf"])],
            stateless_groups: ["sl".to_string()].into_iter().collect(),
            ..SgInput::default()
        };
        let r = render(&input);
        let src: Vec<&Value> = r.sets[SET_SL_SRC].elems.values().collect();
        assert_eq!(src, [&json!(r.ports["tapa"].idx)]);
        let dst: Vec<&Value> = r.sets[SET_SL_DST].elems.values().collect();
        assert_eq!(
            dst,
            [&json!("fa:16:3e:00:00:01"), &json!("fa:16:3e:00:00:09")]
        );
        // The notrack rules come before the zone rules and end the chain.
        let zone: Vec<Value> = r
            .inet_base
            .iter()
            .filter_map(|o| o.get("rule"))
            .filter(|r| r["chain"] == "zone")
            .map(|r| r["expr"].clone())
            .collect();
        assert_eq!(zone[0][1], json!({"notrack": null}));
        assert_eq!(zone[0][2], json!({"accept": null}));
        assert_eq!(zone[1][0]["match"]["left"]["payload"]["field"], "daddr");
    }
}

//! DHCP for the networks scheduled to this node, as neutron's DHCP agent
//! runs it (`neutron/agent/linux/dhcp.py`, `Dnsmasq`): one dnsmasq per
//! network in the network's `qdhcp-` namespace, fed a hosts file, an
//! additional hosts file and an options file rendered from the feed's
//! [`FeedDhcp`] entries. This module owns the rendering (pure functions,
//! the same command line, file formats and tags as upstream) and the
//! process: spawn, rewrite + `SIGHUP` on change (leases survive),
//! `dhcp_release` for removed hosts, stop and clean up when the network
//! goes, and adopting a running dnsmasq by its pid file after an agent
//! restart. The DHCP port's device (`tap…` on the bridge, `ns-…` in the
//! namespace) is not made here: the caller passes a [`DhcpPlumbing`].
//!
//! Everything here blocks (files, process waits); call it from
//! `spawn_blocking`.

use crate::net::daemon::{alive, stop};
use crate::net::netns;
use network::app::feed::{FeedAddress, FeedDhcp, FeedNetwork, FeedSubnet, NodeFeed};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Neutron's `constants.METADATA_CIDR`.
pub const METADATA_CIDR: &str = "169.254.169.254/32";
/// Microsoft's classless static route option (neutron `WIN2k3_STATIC_DNS`).
const WIN2K3_STATIC_ROUTE: &str = "249";
/// Neutron's `HOST_DHCPV6_TAG`: marks IPv6 host entries.
const HOST_DHCPV6_TAG: &str = "tag:dhcpv6,";
/// Neutron's `dnsmasq_lease_max` default (2**24).
const LEASE_MAX: u128 = 1 << 24;

#[derive(Debug, thiserror::Error)]
pub enum DhcpError {
    #[error(transparent)]
    Netns(#[from] netns::NetnsError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("dnsmasq for network {network}: {detail}")]
    Dnsmasq { network: String, detail: String },
    #[error("plumbing the DHCP port of network {network}: {detail}")]
    Plumbing { network: String, detail: String },
    #[error("network {network}: {detail}")]
    Feed { network: String, detail: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DhcpError + '_ {
    move |source| DhcpError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The agent-side settings of the DHCP service (neutron's `dhcp_agent.ini`
/// options of the same meaning).
#[derive(Debug, Clone)]
pub struct DhcpConfig {
    /// Per-network files (`<state_dir>/<network id>/{pid,host,…}`); this
    /// module owns the directory: a subdirectory for a network no longer
    /// in the feed is torn down.
    pub state_dir: PathBuf,
    /// The node prefix in front of namespace names (`oxt1-`).
    pub prefix: String,
    /// `dhcp_lease_duration` in seconds; -1 is infinite.
    pub lease_duration: i64,
    /// `dns_domain`: appended to host names; `--domain`.
    pub dns_domain: Option<String>,
    /// `enable_isolated_metadata`: a subnet without a router gets the
    /// metadata route via the DHCP port's address.
    pub enable_isolated_metadata: bool,
    /// The programs, by name on `PATH` or by path.
    pub dnsmasq: String,
    pub dhcp_release: String,
}

impl DhcpConfig {
    /// Neutron's defaults (86400 s leases, no domain) with isolated
    /// metadata on, as this cloud's metadata proxy serves such networks.
    pub fn new(state_dir: impl Into<PathBuf>, prefix: impl Into<String>) -> DhcpConfig {
        DhcpConfig {
            state_dir: state_dir.into(),
            prefix: prefix.into(),
            lease_duration: 86400,
            dns_domain: None,
            enable_isolated_metadata: true,
            dnsmasq: "dnsmasq".into(),
            dhcp_release: "dhcp_release".into(),
        }
    }
}

/// Makes and removes the DHCP port's device; the L2 side's job
/// (`link.rs`). `plug` must be idempotent: it is called on every sync.
pub trait DhcpPlumbing {
    /// Ensure device `dev` in namespace `ns` (one end of a veth whose
    /// other end, `tap` + port id[..11], is on the network's bridge in the
    /// host namespace), with `mac`, exactly `addresses`, up.
    fn plug(
        &self,
        ns: &str,
        dev: &str,
        network: &FeedNetwork,
        port_id: &str,
        mac: &str,
        addresses: &[FeedAddress],
    ) -> Result<(), String>;

    /// Remove what `plug` made (the namespace itself is removed here).
    /// After a restart only the device is known, so the port is given by
    /// the first 11 characters of its id, as in `dev` and the tap name.
    fn unplug(
        &self,
        ns: &str,
        dev: &str,
        network_id: &str,
        port_id_prefix: &str,
    ) -> Result<(), String>;
}

/// The files of one network's dnsmasq (neutron's `get_conf_file_name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Files {
    pub dir: PathBuf,
    pub pid: PathBuf,
    pub host: PathBuf,
    pub addn_hosts: PathBuf,
    pub opts: PathBuf,
    pub leases: PathBuf,
}

impl Files {
    pub fn new(state_dir: &Path, network_id: &str) -> Files {
        let dir = state_dir.join(network_id);
        Files {
            pid: dir.join("pid"),
            host: dir.join("host"),
            addn_hosts: dir.join("addn_hosts"),
            opts: dir.join("opts"),
            leases: dir.join("leases"),
            dir,
        }
    }
}

/// One network's DHCP service: the network and the servers (one per
/// DHCP-enabled subnet) the feed gives for it.
#[derive(Debug, Clone)]
pub struct NetworkDhcp<'a> {
    pub network: &'a FeedNetwork,
    pub servers: Vec<&'a FeedDhcp>,
}

impl NetworkDhcp<'_> {
    /// The DHCP port (id, MAC) and its addresses on the served subnets;
    /// `None` until the network has a DHCP port with an address.
    pub fn port(&self) -> Option<(&str, &str, Vec<FeedAddress>)> {
        let first = self.servers.iter().find_map(|s| s.port.as_ref())?;
        let addrs: Vec<FeedAddress> = self
            .servers
            .iter()
            .filter_map(|s| s.port.as_ref())
            .filter(|p| p.id == first.id)
            .filter_map(|p| p.address.clone())
            .collect();
        if addrs.is_empty() {
            return None;
        }
        Some((&first.id, &first.mac_address, addrs))
    }

    fn subnet(&self, id: &str) -> Option<&FeedSubnet> {
        self.network.subnets.iter().find(|s| s.id == id)
    }

    /// The served subnets, in the network's order.
    fn served(&self) -> Vec<&FeedSubnet> {
        self.network
            .subnets
            .iter()
            .filter(|s| s.enable_dhcp && self.servers.iter().any(|d| d.subnet_id == s.id))
            .collect()
    }
}

/// Groups the feed's DHCP servers by network, for the networks the feed
/// also describes and that are up (neutron's agent disables DHCP for an
/// `admin_state_up: false` network).
pub fn networks(feed: &NodeFeed) -> Vec<NetworkDhcp<'_>> {
    let mut by_net: BTreeMap<&str, Vec<&FeedDhcp>> = BTreeMap::new();
    for d in &feed.dhcp {
        by_net.entry(d.network_id.as_str()).or_default().push(d);
    }
    by_net
        .into_iter()
        .filter_map(|(id, servers)| {
            let network = feed
                .networks
                .iter()
                .find(|n| n.id == id && n.admin_state_up)?;
            Some(NetworkDhcp { network, servers })
        })
        .collect()
}

/// The namespace device of a DHCP port (neutron's `ns-` + id[:11]).
pub fn ns_device(port_id: &str) -> String {
    format!("ns-{}", prefix(port_id, 11))
}

/// The host-side device of a DHCP port (`tap` + id[:11]).
pub fn tap_device(port_id: &str) -> String {
    format!("tap{}", prefix(port_id, 11))
}

fn prefix(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

/// A parsed CIDR: its network address and prefix length.
fn parse_cidr(cidr: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = cidr.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    match addr {
        IpAddr::V4(a) if len <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            Some((IpAddr::V4((u32::from(a) & mask).into()), len))
        }
        IpAddr::V6(a) if len <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            Some((IpAddr::V6((u128::from(a) & mask).into()), len))
        }
        _ => None,
    }
}

fn v4_netmask(len: u8) -> std::net::Ipv4Addr {
    u32::MAX
        .checked_shl(32 - u32::from(len))
        .unwrap_or(0)
        .into()
}

fn cidr_size(addr: &IpAddr, len: u8) -> u128 {
    let bits = match addr {
        IpAddr::V4(_) => 32 - u32::from(len),
        IpAddr::V6(_) => 128 - u32::from(len),
    };
    1u128.checked_shl(bits).unwrap_or(u128::MAX)
}

/// dnsmasq's command line (`_build_cmdline_callback`, with neutron's
/// defaults: local resolution off, bridged interface driver, no extra
/// servers, no log dir).
pub fn cmdline(dhcp: &NetworkDhcp<'_>, files: &Files, cfg: &DhcpConfig) -> Vec<String> {
    let mut cmd = vec![
        cfg.dnsmasq.clone(),
        "--no-hosts".into(),
        "--no-resolv".into(),
        format!("--pid-file={}", files.pid.display()),
        format!("--dhcp-hostsfile={}", files.host.display()),
        format!("--addn-hosts={}", files.addn_hosts.display()),
        format!("--dhcp-optsfile={}", files.opts.display()),
        format!("--dhcp-leasefile={}", files.leases.display()),
        "--dhcp-match=set:ipxe,175".into(),
        "--dhcp-userclass=set:ipxe6,iPXE".into(),
        "--local-service".into(),
        "--bind-dynamic".into(),
    ];
    let lease = if cfg.lease_duration == -1 {
        "infinite".to_string()
    } else {
        format!("{}s", cfg.lease_duration)
    };
    let mut possible: u128 = 0;
    for subnet in dhcp.served() {
        let Some((net, len)) = parse_cidr(&subnet.cidr) else {
            continue;
        };
        match net {
            IpAddr::V4(_) => cmd.push(format!(
                "--dhcp-range=set:subnet-{},{net},static,{},{lease}",
                subnet.id,
                v4_netmask(len)
            )),
            IpAddr::V6(_) => {
                // dnsmasq cannot serve a range wider than a /64; SLAAC
                // hosts ask no DHCPv6 server (the router's RAs suffice).
                if len < 64 || !v6_dhcp_range(subnet) {
                    continue;
                }
                cmd.push(format!(
                    "--dhcp-range=set:subnet-{},{net},static,{len},{lease}",
                    subnet.id
                ));
            }
        }
        possible = possible.saturating_add(cidr_size(&net, len));
    }
    if dhcp.network.mtu > 0 {
        cmd.push(format!(
            "--dhcp-option-force=option:mtu,{}",
            dhcp.network.mtu
        ));
    }
    cmd.push(format!("--dhcp-lease-max={}", possible.min(LEASE_MAX)));
    cmd.push("--conf-file=/dev/null".into());
    if let Some(domain) = &cfg.dns_domain {
        cmd.push(format!("--domain={domain}"));
    }
    cmd
}

/// One `extra_dhcp_opts` item of a port.
#[derive(Debug, Clone, PartialEq)]
struct ExtraOpt {
    name: String,
    value: String,
    ip_version: i64,
}

fn extra_opts(raw: &[Value]) -> Vec<ExtraOpt> {
    raw.iter()
        .filter_map(|v| {
            let name = v.get("opt_name")?.as_str()?.to_string();
            let value = match v.get("opt_value")? {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let ip_version = v.get("ip_version").and_then(Value::as_i64).unwrap_or(4);
            Some(ExtraOpt {
                name,
                value,
                ip_version,
            })
        })
        .collect()
}

fn is_client_id(name: &str) -> bool {
    matches!(name, "client-id" | "61")
}

fn fqdn(hostname: &str, cfg: &DhcpConfig) -> String {
    match &cfg.dns_domain {
        Some(d) => format!("{hostname}.{d}"),
        None => hostname.to_string(),
    }
}

fn ip_version(ip: &str) -> i64 {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => 6,
        _ => 4,
    }
}

/// Whether an IPv6 subnet gets a `static` DHCPv6 range: stateful and
/// stateless address modes (the latter for options only), and subnets
/// with no IPv6 mode at all (neutron's earlier behaviour).
fn v6_dhcp_range(s: &FeedSubnet) -> bool {
    match s.ipv6_address_mode.as_deref() {
        Some(m) => m == "dhcpv6-stateful" || m == "dhcpv6-stateless",
        None => s.ipv6_ra_mode.is_none(),
    }
}

/// The `--dhcp-hostsfile` (`_output_hosts_file`): one line per port
/// address, `MAC,[tag][id:CLIENT,]NAME,IP[,set:port-ID]`.
pub fn hosts_file(dhcp: &NetworkDhcp<'_>, cfg: &DhcpConfig) -> String {
    let mut buf = String::new();
    for server in &dhcp.servers {
        let Some(subnet) = dhcp.subnet(&server.subnet_id).filter(|s| s.enable_dhcp) else {
            continue;
        };
        // Neutron's `no_dhcp`/`no_opts`: the addresses of SLAAC and
        // DHCPv6-stateless subnets are the hosts' own, not leased.
        let mode = subnet.ipv6_address_mode.as_deref();
        let no_dhcp = subnet.ip_version == 6 && matches!(mode, Some("slaac" | "dhcpv6-stateless"));
        let no_opts = mode == Some("slaac");
        for e in &server.entries {
            let v6 = ip_version(&e.ip_address) == 6;
            let tag = if v6 { HOST_DHCPV6_TAG } else { "" };
            if no_dhcp {
                if !no_opts && !extra_opts(&e.extra_dhcp_opts).is_empty() {
                    // Only the options, to the port's DHCPv6 information requests.
                    buf.push_str(&format!("{},{tag}set:port-{}\n", e.mac_address, e.port_id));
                }
                continue;
            }
            let ip = if v6 {
                format!("[{}]", e.ip_address)
            } else {
                e.ip_address.clone()
            };
            let name = fqdn(&e.hostname, cfg);
            let mac = &e.mac_address;
            let opts = extra_opts(&e.extra_dhcp_opts);
            if opts.is_empty() {
                buf.push_str(&format!("{mac},{tag}{name},{ip}\n"));
                continue;
            }
            // One line per host, whatever the value holds (as options).
            let client_id = opts
                .iter()
                .find(|o| is_client_id(&o.name))
                .map(|o| ExtraOpt {
                    value: o.value.split('\n').next().unwrap_or_default().to_string(),
                    ..o.clone()
                });
            let port_tag = format!("set:port-{}", e.port_id);
            match client_id {
                Some(c) if opts.len() > 1 => buf.push_str(&format!(
                    "{mac},{tag}id:{},{name},{ip},{port_tag}\n",
                    c.value
                )),
                Some(c) => buf.push_str(&format!("{mac},{tag}id:{},{name},{ip}\n", c.value)),
                None => buf.push_str(&format!("{mac},{tag}{name},{ip},{port_tag}\n")),
            }
        }
    }
    buf
}

/// The `--addn-hosts` file (`_output_addn_hosts_file`): `IP\tFQDN NAME`.
pub fn addn_hosts_file(dhcp: &NetworkDhcp<'_>, cfg: &DhcpConfig) -> String {
    let mut buf = String::new();
    for server in &dhcp.servers {
        for e in &server.entries {
            buf.push_str(&format!(
                "{}\t{} {}\n",
                e.ip_address,
                fqdn(&e.hostname, cfg),
                e.hostname
            ));
        }
    }
    buf
}

/// The lease file a dnsmasq starts from (`_output_init_lease_file`): an
/// infinite (`0`) lease for every IPv4 host, so that a client renewing
/// after a restart or a rescheduling is not NAKed; IPv6 leases (their
/// IAID is unknown here) and the server DUID are kept from `existing`.
pub fn init_lease_file(dhcp: &NetworkDhcp<'_>, existing: &str) -> String {
    let mut buf = String::new();
    let mut v6_leases: BTreeMap<IpAddr, &str> = BTreeMap::new();
    for line in existing.lines() {
        if line.starts_with("duid ") {
            buf.push_str(line);
            buf.push('\n');
            continue;
        }
        let fields: Vec<&str> = line.split(' ').collect();
        if let [_, _, ip, _, _] = fields.as_slice() {
            if let Ok(ip @ IpAddr::V6(_)) = ip.parse::<IpAddr>() {
                v6_leases.insert(ip, line);
            }
        }
    }
    for server in &dhcp.servers {
        let Some(subnet) = dhcp.subnet(&server.subnet_id).filter(|s| s.enable_dhcp) else {
            continue;
        };
        for e in &server.entries {
            if subnet.ip_version == 4 {
                buf.push_str(&format!("0 {} {} * *\n", e.mac_address, e.ip_address));
            } else if let Some(line) = e
                .ip_address
                .parse::<IpAddr>()
                .ok()
                .and_then(|ip| v6_leases.get(&ip))
            {
                buf.push_str(line);
                buf.push('\n');
            }
        }
    }
    buf
}

/// `_format_option`: `tag:TAG,[extra tag,]option:NAME|NUM|option6:X,ARGS…`.
fn format_option(ip_version: i64, tag: &str, option: &str, args: &[&str]) -> String {
    let option = option.split('\n').next().unwrap_or_default();
    // Upstream's `(tag:(.*),)?(.*)$`: a leading `tag:…,` up to the last
    // comma is a further tag.
    let (extra_tag, option) = match option.rfind(',') {
        Some(i) if option.starts_with("tag:") => (Some(&option[..i]), &option[i + 1..]),
        _ => (None, option),
    };
    let option = if ip_version == 6 {
        format!("option6:{option}")
    } else if !option.is_empty() && option.bytes().all(|b| b.is_ascii_digit()) {
        option.to_string()
    } else {
        format!("option:{option}")
    };
    let mut parts = vec![format!("tag:{tag}")];
    if let Some(t) = extra_tag {
        parts.push(t.to_string());
    }
    parts.push(option);
    parts.extend(
        args.iter()
            .map(|a| a.split('\n').next().unwrap_or_default().to_string()),
    );
    parts.join(",")
}

fn literal_addrs(ip_version: i64, ips: &[String]) -> Vec<String> {
    if ip_version == 4 {
        ips.to_vec()
    } else {
        ips.iter().map(|ip| format!("[{ip}]")).collect()
    }
}

fn is_any_address(ips: &[String], version: i64) -> bool {
    ips.iter().all(|ip| {
        ip.parse::<IpAddr>()
            .is_ok_and(|a| a.is_unspecified() && (version == 4) == matches!(a, IpAddr::V4(_)))
    })
}

/// The `--dhcp-optsfile` (`_output_opts_file`): per subnet DNS servers,
/// classless static routes (121 and 249: host routes, the metadata route,
/// on-link routes to the network's other IPv4 subnets, the default
/// route) and the router; per port its `extra_dhcp_opts`.
///
/// A subnet is isolated (upstream `get_isolated_subnets`) when no port
/// on it holds the gateway address: the feed does not carry device
/// owners, and only a router interface takes a subnet's gateway IP.
pub fn opts_file(dhcp: &NetworkDhcp<'_>, cfg: &DhcpConfig) -> String {
    let mut options: Vec<String> = Vec::new();
    let port_addrs: BTreeMap<&str, &str> = dhcp
        .servers
        .iter()
        .filter_map(|s| {
            let a = s.port.as_ref()?.address.as_ref()?;
            Some((s.subnet_id.as_str(), a.ip_address.as_str()))
        })
        .collect();
    for subnet in dhcp.served() {
        let tag = format!("subnet-{}", subnet.id);
        let v = subnet.ip_version;
        if !subnet.dns_nameservers.is_empty() {
            if is_any_address(&subnet.dns_nameservers, v) {
                options.push(format_option(v, &tag, "dns-server", &[]));
            } else {
                let servers = literal_addrs(v, &subnet.dns_nameservers).join(",");
                options.push(format_option(v, &tag, "dns-server", &[&servers]));
            }
        }
        if let (Some(domain), 6) = (&cfg.dns_domain, v) {
            options.push(format_option(v, &tag, "domain-search", &[domain]));
        }
        if v != 4 {
            continue;
        }
        let mut gateway = subnet.gateway_ip.clone();
        let mut routes: Vec<String> = Vec::new();
        for hr in &subnet.host_routes {
            if hr.destination == "0.0.0.0/0" {
                if gateway.is_none() {
                    gateway = Some(hr.nexthop.clone());
                }
            } else {
                routes.push(format!("{},{}", hr.destination, hr.nexthop));
            }
        }
        let isolated = !dhcp.servers.iter().any(|s| {
            s.subnet_id == subnet.id
                && s.entries
                    .iter()
                    .any(|e| Some(&e.ip_address) == subnet.gateway_ip.as_ref())
        });
        let metadata_via = if isolated && cfg.enable_isolated_metadata {
            port_addrs.get(subnet.id.as_str()).map(|a| a.to_string())
        } else if !isolated {
            gateway.clone()
        } else {
            None
        };
        if let Some(via) = metadata_via {
            routes.push(format!("{METADATA_CIDR},{via}"));
        }
        for s in &dhcp.network.subnets {
            if s.ip_version == 4 && s.cidr != subnet.cidr {
                routes.insert(0, format!("{},0.0.0.0", s.cidr));
            }
        }
        if !routes.is_empty() {
            if let Some(gw) = &gateway {
                routes.push(format!("0.0.0.0/0,{gw}"));
            }
            let joined = routes.join(",");
            options.push(format_option(v, &tag, "classless-static-route", &[&joined]));
            options.push(format_option(v, &tag, WIN2K3_STATIC_ROUTE, &[&joined]));
        }
        match &gateway {
            Some(gw) => options.push(format_option(v, &tag, "router", &[gw])),
            None => options.push(format_option(v, &tag, "router", &[])),
        }
    }
    // Per port, once even when it has addresses on several subnets.
    let mut ports: Vec<(&str, BTreeSet<i64>, &[Value])> = Vec::new();
    for e in dhcp.servers.iter().flat_map(|s| &s.entries) {
        let version = ip_version(&e.ip_address);
        match ports.iter_mut().find(|(id, _, _)| *id == e.port_id) {
            Some((_, versions, _)) => {
                versions.insert(version);
            }
            None => ports.push((&e.port_id, BTreeSet::from([version]), &e.extra_dhcp_opts)),
        }
    }
    for (port_id, versions, raw) in ports {
        let tag = format!("port-{port_id}");
        for opt in extra_opts(raw) {
            if is_client_id(&opt.name) || !versions.contains(&opt.ip_version) {
                continue;
            }
            options.push(format_option(
                opt.ip_version,
                &tag,
                &opt.name,
                &[&opt.value],
            ));
        }
    }
    options.join("\n")
}

/// The (MAC, IP) pairs of a hosts file, for releasing removed hosts.
fn host_pairs(hosts: &str) -> BTreeSet<(String, String)> {
    hosts
        .lines()
        .filter_map(|l| {
            let mut fields = l.split(',');
            let mac = fields.next()?.to_string();
            let ip = fields.find_map(|f| {
                f.trim_matches(|c| c == '[' || c == ']')
                    .parse::<IpAddr>()
                    .ok()
            })?;
            Some((mac, ip.to_string()))
        })
        .collect()
}

/// Writes `content` to `path` unless it is already there (through a
/// rename, so dnsmasq never reads half a file); whether it changed.
fn replace_file(path: &Path, content: &str) -> Result<bool, DhcpError> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == content) {
        return Ok(false);
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    Ok(true)
}

/// A process's command line, split at its NULs (None: it is gone).
fn cmdline_of(pid: i32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// The running dnsmasq of `files`, by its pid file: its pid and command
/// line, when the pid is alive and is a dnsmasq started with that pid
/// file (a stale file or a reused pid is not ours).
fn running(files: &Files) -> Option<(Pid, Vec<String>)> {
    let pid: i32 = std::fs::read_to_string(&files.pid)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let args = cmdline_of(pid)?;
    let want = format!("--pid-file={}", files.pid.display());
    (args.contains(&want) && alive(Pid::from_raw(pid))).then_some((Pid::from_raw(pid), args))
}

/// Live processes by the pid file their command line names
/// (`--pid-file=PATH` → pid and command line), from one pass over
/// `/proc`.
type ByPidFile = BTreeMap<String, Vec<(Pid, Vec<String>)>>;

fn scan_pid_files() -> ByPidFile {
    let mut out = ByPidFile::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Some(args) = cmdline_of(pid) else {
            continue;
        };
        let Some(file) = args.iter().find_map(|a| a.strip_prefix("--pid-file=")) else {
            continue;
        };
        if alive(Pid::from_raw(pid)) {
            out.entry(file.to_string())
                .or_default()
                .push((Pid::from_raw(pid), args.clone()));
        }
    }
    out
}

/// Every live process started with `files`' pid file, found by its
/// command line: also a dnsmasq whose pid file is gone (the state
/// directory wiped, an agent killed between spawn and pid file) or a
/// second one started for the same network, both leaks otherwise.
fn instances(procs: &ByPidFile, files: &Files) -> Vec<(Pid, Vec<String>)> {
    procs
        .get(files.pid.to_string_lossy().as_ref())
        .cloned()
        .unwrap_or_default()
}

/// Whether `pid` is still a process of `files` (the scan may be seconds
/// old: never signal a pid reused meanwhile).
fn still_instance(pid: Pid, files: &Files) -> bool {
    let want = format!("--pid-file={}", files.pid.display());
    cmdline_of(pid.as_raw()).is_some_and(|a| a.contains(&want))
}

/// Whether `pid` runs in the named namespace `ns` (same nsfs inode).
fn in_namespace(pid: Pid, ns: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let theirs = std::fs::metadata(format!("/proc/{pid}/ns/net")).map(|m| (m.dev(), m.ino()));
    let named = std::fs::metadata(Path::new(netns::RUN_DIR).join(ns)).map(|m| (m.dev(), m.ino()));
    matches!((theirs, named), (Ok(a), Ok(b)) if a == b)
}

/// The one dnsmasq of `files` to keep: the pid file's, else one found by
/// its command line (adopted: the pid file is written again), and only
/// if it runs in the network's namespace `ns` (one whose namespace was
/// deleted under it serves nobody). Any other instance is stopped, so a
/// network never has two.
fn adopt(procs: &ByPidFile, files: &Files, ns: &str) -> Option<(Pid, Vec<String>)> {
    let all = instances(procs, files);
    let keep = running(files)
        .or_else(|| all.first().cloned())
        .filter(|(pid, _)| in_namespace(*pid, ns));
    for (pid, _) in &all {
        if keep.as_ref().is_none_or(|(k, _)| k != pid) && still_instance(*pid, files) {
            tracing::warn!(%pid, pid_file = %files.pid.display(), "stopping a dnsmasq not to keep");
            stop(*pid);
        }
    }
    if let Some((pid, _)) = &keep {
        if running(files).is_none() {
            tracing::info!(%pid, pid_file = %files.pid.display(), "adopting a dnsmasq without its pid file");
            let _ = std::fs::write(&files.pid, format!("{pid}\n"));
        }
    }
    keep
}

/// The DHCP service of this node.
#[derive(Debug, Clone)]
pub struct Dhcp {
    cfg: DhcpConfig,
}

impl Dhcp {
    pub fn new(cfg: DhcpConfig) -> Dhcp {
        Dhcp { cfg }
    }

    pub fn config(&self) -> &DhcpConfig {
        &self.cfg
    }

    /// The namespace of a network's DHCP server.
    pub fn namespace(&self, network_id: &str) -> String {
        format!("{}qdhcp-{network_id}", self.cfg.prefix)
    }

    pub fn files(&self, network_id: &str) -> Files {
        Files::new(&self.cfg.state_dir, network_id)
    }

    /// Converges to `feed`: every network with a DHCP port gets its
    /// dnsmasq, every other network under the state directory is torn
    /// down. One network's failure does not stop the others; the errors
    /// come back together.
    pub fn sync(&self, feed: &NodeFeed, plumbing: &dyn DhcpPlumbing) -> Vec<DhcpError> {
        let mut errors = Vec::new();
        let mut wanted = BTreeSet::new();
        // One pass over /proc for every network (a process started by
        // this sync is found by its pid file).
        let procs = scan_pid_files();
        for net in networks(feed) {
            if net.port().is_none() {
                continue;
            }
            wanted.insert(net.network.id.clone());
            if let Err(e) = self.ensure_with(&procs, &net, plumbing) {
                errors.push(e);
            }
        }
        match self.known() {
            Ok(known) => {
                for id in known.difference(&wanted) {
                    if let Err(e) = self.remove_with(&procs, id, plumbing) {
                        errors.push(e);
                    }
                }
            }
            Err(e) => errors.push(e),
        }
        errors
    }

    /// The networks this node serves or served: a directory under the
    /// state directory, or a `<prefix>qdhcp-` namespace (found by its
    /// name even when the state directory lost its content).
    pub fn known(&self) -> Result<BTreeSet<String>, DhcpError> {
        let mut out = BTreeSet::new();
        let ns_prefix = self.namespace("");
        let namespaces = netns::list().map_err(io_err(Path::new(netns::RUN_DIR)))?;
        for ns in namespaces {
            if let Some(id) = ns.strip_prefix(&ns_prefix) {
                if check_id(id).is_ok() {
                    out.insert(id.to_string());
                }
            }
        }
        let dir = &self.cfg.state_dir;
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io_err(dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err(dir))?;
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                out.insert(entry.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(out)
    }

    /// Brings one network's dnsmasq to `net`: namespace and device,
    /// released leases of removed hosts, files, and the process (kept and
    /// `SIGHUP`ed when its command line is unchanged, restarted when not,
    /// spawned when not running).
    pub fn ensure(
        &self,
        net: &NetworkDhcp<'_>,
        plumbing: &dyn DhcpPlumbing,
    ) -> Result<(), DhcpError> {
        self.ensure_with(&scan_pid_files(), net, plumbing)
    }

    fn ensure_with(
        &self,
        procs: &ByPidFile,
        net: &NetworkDhcp<'_>,
        plumbing: &dyn DhcpPlumbing,
    ) -> Result<(), DhcpError> {
        let id = &net.network.id;
        check_id(id)?;
        let Some((port_id, mac, addresses)) = net.port() else {
            return Err(DhcpError::Feed {
                network: id.clone(),
                detail: "no DHCP port with an address".into(),
            });
        };
        let ns = self.namespace(id);
        let dev = ns_device(port_id);
        netns::create(&ns)?;
        plumbing
            .plug(&ns, &dev, net.network, port_id, mac, &addresses)
            .map_err(|detail| DhcpError::Plumbing {
                network: id.clone(),
                detail,
            })?;

        let files = self.files(id);
        std::fs::create_dir_all(&files.dir).map_err(io_err(&files.dir))?;
        let hosts = hosts_file(net, &self.cfg);
        let proc = adopt(procs, &files, &ns);

        // Upstream's _release_unused_leases: before the new files, so the
        // released host cannot renew from the old ones meanwhile.
        if proc.is_some() {
            let old = std::fs::read_to_string(&files.host).unwrap_or_default();
            let new = host_pairs(&hosts);
            for (mac, ip) in host_pairs(&old).difference(&new) {
                self.release(&ns, &dev, ip, mac);
            }
        }

        let mut changed = replace_file(&files.host, &hosts)?;
        changed |= replace_file(&files.addn_hosts, &addn_hosts_file(net, &self.cfg))?;
        changed |= replace_file(&files.opts, &opts_file(net, &self.cfg))?;

        let cmd = cmdline(net, &files, &self.cfg);
        match proc {
            Some((pid, args)) if args[1..] == cmd[1..] => {
                if changed {
                    kill(pid, Signal::SIGHUP).map_err(|e| DhcpError::Dnsmasq {
                        network: id.clone(),
                        detail: format!("SIGHUP {pid}: {e}"),
                    })?;
                }
                Ok(())
            }
            Some((pid, _)) => {
                stop(pid);
                self.spawn(net, &ns, &files, cmd)
            }
            None => self.spawn(net, &ns, &files, cmd),
        }
    }

    /// Starts dnsmasq in `ns`; it daemonizes (as under neutron), so the
    /// process survives an agent restart and is found again by its pid
    /// file.
    fn spawn(
        &self,
        net: &NetworkDhcp<'_>,
        ns: &str,
        files: &Files,
        cmd: Vec<String>,
    ) -> Result<(), DhcpError> {
        let network = &net.network.id;
        let existing = std::fs::read_to_string(&files.leases).unwrap_or_default();
        replace_file(&files.leases, &init_lease_file(net, &existing))?;
        let log = files.dir.join("dnsmasq.log");
        let err_file = std::fs::File::create(&log).map_err(io_err(&log))?;
        let mut command = Command::new(&cmd[0]);
        command
            .args(&cmd[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err_file);
        let child = netns::spawn_in(Some(ns), command)?;
        let out = child.wait_with_output().map_err(io_err(&files.dir))?;
        if !out.status.success() {
            let msg = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(DhcpError::Dnsmasq {
                network: network.to_string(),
                detail: format!("exited {}: {}", out.status, msg.trim()),
            });
        }
        // The foreground process exits once the daemon is up; the pid
        // file follows right after.
        let deadline = Instant::now() + Duration::from_secs(5);
        while running(files).is_none() {
            if Instant::now() > deadline {
                return Err(DhcpError::Dnsmasq {
                    network: network.to_string(),
                    detail: format!("no running dnsmasq behind {}", files.pid.display()),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// `dhcp_release DEV IP MAC` in the namespace; failures are logged,
    /// as upstream: the lease then merely runs out. dnsmasq has no
    /// IPv4-style release for DHCPv6 without the client's DUID, which the
    /// feed does not carry.
    fn release(&self, ns: &str, dev: &str, ip: &str, mac: &str) {
        if ip_version(ip) == 6 {
            return;
        }
        let mut command = Command::new(&self.cfg.dhcp_release);
        command
            .args([dev, ip, mac])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let result = netns::spawn_in(Some(ns), command)
            .map_err(|e| e.to_string())
            .and_then(|c| c.wait_with_output().map_err(|e| e.to_string()));
        match result {
            Ok(out) if out.status.success() => {}
            Ok(out) => tracing::warn!(
                ns,
                ip,
                mac,
                "dhcp_release failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => tracing::warn!(ns, ip, mac, "dhcp_release failed: {e}"),
        }
    }

    /// Stops a network's dnsmasq and removes its device, namespace and
    /// files.
    pub fn remove(&self, network_id: &str, plumbing: &dyn DhcpPlumbing) -> Result<(), DhcpError> {
        self.remove_with(&scan_pid_files(), network_id, plumbing)
    }

    fn remove_with(
        &self,
        procs: &ByPidFile,
        network_id: &str,
        plumbing: &dyn DhcpPlumbing,
    ) -> Result<(), DhcpError> {
        check_id(network_id)?;
        let files = self.files(network_id);
        for (pid, _) in instances(procs, &files) {
            if still_instance(pid, &files) {
                stop(pid);
            }
        }
        let ns = self.namespace(network_id);
        // The port id is only in the hosts of the last feed; the device
        // name is read back from the namespace.
        if netns::exists(&ns) {
            let devs = netns::run_in(Some(&ns), list_devices)?;
            for dev in devs.into_iter().filter(|d| d.starts_with("ns-")) {
                let port_prefix = dev.trim_start_matches("ns-").to_string();
                plumbing
                    .unplug(&ns, &dev, network_id, &port_prefix)
                    .map_err(|detail| DhcpError::Plumbing {
                        network: network_id.to_string(),
                        detail,
                    })?;
            }
            netns::delete(&ns)?;
        }
        match std::fs::remove_dir_all(&files.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&files.dir)(e)),
        }
    }
}

/// Network ids name a directory and a namespace: one plain component.
fn check_id(id: &str) -> Result<(), DhcpError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(DhcpError::Feed {
            network: id.to_string(),
            detail: "not a network id".into(),
        });
    }
    Ok(())
}

/// The link names of the calling thread's namespace.
fn list_devices() -> Vec<String> {
    std::fs::read_to_string("/proc/thread-self/net/dev")
        .unwrap_or_default()
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|n| n.trim().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use network::app::feed::{FeedDhcpEntry, FeedDhcpPort, FeedRoute, FeedSegment};
    use serde_json::json;

    const NET: &str = "cccccccc-cccc-cccc-cccc-cccccccccccc";
    const V4: &str = "dddddddd-dddd-dddd-dddd-dddddddddddd";
    const V6: &str = "ffffffff-ffff-ffff-ffff-ffffffffffff";
    const DHCP_PORT: &str = "d0d0d0d0-aaaa-bbbb-cccc-dddddddddddd";

    fn subnet(id: &str, version: i64, cidr: &str, gw: Option<&str>) -> FeedSubnet {
        FeedSubnet {
            id: id.into(),
            ip_version: version,
            cidr: cidr.into(),
            gateway_ip: gw.map(Into::into),
            enable_dhcp: true,
            dns_nameservers: vec![],
            host_routes: vec![],
            ipv6_ra_mode: None,
            ipv6_address_mode: None,
        }
    }

    fn network(subnets: Vec<FeedSubnet>) -> FeedNetwork {
        FeedNetwork {
            id: NET.into(),
            admin_state_up: true,
            mtu: 1450,
            router_external: false,
            segment: FeedSegment {
                network_type: "vxlan".into(),
                physical_network: None,
                segmentation_id: Some(7),
            },
            subnets,
            remote_vteps: vec![],
            remote_macs: vec![],
        }
    }

    fn entry(port: &str, mac: &str, ip: &str, opts: Vec<Value>) -> FeedDhcpEntry {
        FeedDhcpEntry {
            port_id: port.into(),
            mac_address: mac.into(),
            ip_address: ip.into(),
            hostname: format!("host-{}", ip.replace(['.', ':'], "-")),
            extra_dhcp_opts: opts,
        }
    }

    fn server(subnet: &str, dhcp_ip: &str, prefixlen: u8, entries: Vec<FeedDhcpEntry>) -> FeedDhcp {
        FeedDhcp {
            network_id: NET.into(),
            subnet_id: subnet.into(),
            port: Some(FeedDhcpPort {
                id: DHCP_PORT.into(),
                mac_address: "fa:16:3e:00:00:02".into(),
                address: Some(FeedAddress {
                    subnet_id: subnet.into(),
                    ip_address: dhcp_ip.into(),
                    prefixlen,
                }),
            }),
            entries,
        }
    }

    fn cfg() -> DhcpConfig {
        DhcpConfig::new("/dhcp", "oxt1-")
    }

    fn files() -> Files {
        Files::new(Path::new("/dhcp"), NET)
    }

    #[test]
    fn ipv6_modes_choose_range_and_hosts() {
        let with_mode = |m: Option<&str>| {
            let mut s = subnet(V6, 6, "fdca:3ba5:a17a:4ba3::/64", None);
            s.ipv6_ra_mode = m.map(Into::into);
            s.ipv6_address_mode = m.map(Into::into);
            network(vec![s])
        };
        let opt = json!({"opt_name": "dns-server", "opt_value": "[::1]", "ip_version": 6});
        let s6 = server(
            V6,
            "fdca:3ba5:a17a:4ba3::10",
            64,
            vec![
                entry(
                    "aaaa",
                    "00:00:80:aa:bb:cc",
                    "fdca:3ba5:a17a:4ba3::2",
                    vec![],
                ),
                entry(
                    "bbbb",
                    "00:00:80:aa:bb:dd",
                    "fdca:3ba5:a17a:4ba3::3",
                    vec![opt],
                ),
            ],
        );
        let range = "--dhcp-range=set:subnet-ffffffff-ffff-ffff-ffff-ffffffffffff,fdca:3ba5:a17a:4ba3::,static,64,86400s";
        for (mode, ranged, hosts) in [
            (
                None,
                true,
                "00:00:80:aa:bb:cc,tag:dhcpv6,host-fdca-3ba5-a17a-4ba3--2,[fdca:3ba5:a17a:4ba3::2]\n\
                 00:00:80:aa:bb:dd,tag:dhcpv6,host-fdca-3ba5-a17a-4ba3--3,[fdca:3ba5:a17a:4ba3::3],set:port-bbbb\n",
            ),
            (
                Some("dhcpv6-stateful"),
                true,
                "00:00:80:aa:bb:cc,tag:dhcpv6,host-fdca-3ba5-a17a-4ba3--2,[fdca:3ba5:a17a:4ba3::2]\n\
                 00:00:80:aa:bb:dd,tag:dhcpv6,host-fdca-3ba5-a17a-4ba3--3,[fdca:3ba5:a17a:4ba3::3],set:port-bbbb\n",
            ),
            (
                Some("dhcpv6-stateless"),
                true,
                "00:00:80:aa:bb:dd,tag:dhcpv6,set:port-bbbb\n",
            ),
            (Some("slaac"), false, ""),
        ] {
            let net = with_mode(mode);
            let dhcp = NetworkDhcp {
                network: &net,
                servers: vec![&s6],
            };
            let c = cfg();
            let cmd = cmdline(&dhcp, &files(), &c);
            assert_eq!(cmd.iter().any(|a| a == range), ranged, "{mode:?}: {cmd:?}");
            assert_eq!(hosts_file(&dhcp, &c), hosts, "{mode:?}");
        }
    }

    #[test]
    fn command_line_is_neutrons() {
        let mut v4 = subnet(V4, 4, "192.168.0.0/24", Some("192.168.0.1"));
        v4.enable_dhcp = true;
        let v6 = subnet(V6, 6, "fdca:3ba5:a17a:4ba3::/64", None);
        let net = network(vec![v4, v6]);
        let s4 = server(V4, "192.168.0.2", 24, vec![]);
        let s6 = server(V6, "fdca:3ba5:a17a:4ba3::2", 64, vec![]);
        let dhcp = NetworkDhcp {
            network: &net,
            servers: vec![&s4, &s6],
        };
        let mut c = cfg();
        c.dns_domain = Some("openstacklocal".into());
        let got = cmdline(&dhcp, &files(), &c);
        let want: Vec<String> = [
            "dnsmasq",
            "--no-hosts",
            "--no-resolv",
            "--pid-file=/dhcp/cccccccc-cccc-cccc-cccc-cccccccccccc/pid",
            "--dhcp-hostsfile=/dhcp/cccccccc-cccc-cccc-cccc-cccccccccccc/host",
            "--addn-hosts=/dhcp/cccccccc-cccc-cccc-cccc-cccccccccccc/addn_hosts",
            "--dhcp-optsfile=/dhcp/cccccccc-cccc-cccc-cccc-cccccccccccc/opts",
            "--dhcp-leasefile=/dhcp/cccccccc-cccc-cccc-cccc-cccccccccccc/leases",
            "--dhcp-match=set:ipxe,175",
            "--dhcp-userclass=set:ipxe6,iPXE",
            "--local-service",
            "--bind-dynamic",
            "--dhcp-range=set:subnet-dddddddd-dddd-dddd-dddd-dddddddddddd,192.168.0.0,static,255.255.255.0,86400s",
            "--dhcp-range=set:subnet-ffffffff-ffff-ffff-ffff-ffffffffffff,fdca:3ba5:a17a:4ba3::,static,64,86400s",
            "--dhcp-option-force=option:mtu,1450",
            "--dhcp-lease-max=16777216",
            "--conf-file=/dev/null",
            "--domain=openstacklocal",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(got, want);

        // A lone /24: its 256 addresses cap the leases; infinite leases.
        let s4_only = NetworkDhcp {
            network: &net,
            servers: vec![&s4],
        };
        let mut c = cfg();
        c.lease_duration = -1;
        let got = cmdline(&s4_only, &files(), &c);
        assert!(got.contains(&"--dhcp-lease-max=256".to_string()));
        assert!(got.iter().any(|a| a.ends_with(",255.255.255.0,infinite")));
        assert!(!got.iter().any(|a| a.contains("subnet-ffff")));
        assert!(!got.iter().any(|a| a.starts_with("--domain")));
    }

    #[test]
    fn hosts_files_are_neutrons() {
        let net = network(vec![
            subnet(V4, 4, "192.168.0.0/24", Some("192.168.0.1")),
            subnet(V6, 6, "fdca:3ba5:a17a:4ba3::/64", None),
        ]);
        let s4 = server(
            V4,
            "192.168.0.10",
            24,
            vec![
                entry("aaaa", "00:00:80:aa:bb:cc", "192.168.0.2", vec![]),
                entry(
                    "bbbb",
                    "00:00:0f:aa:bb:cc",
                    "192.168.0.3",
                    vec![
                        json!({"opt_name": "tftp-server", "opt_value": "192.168.0.3", "ip_version": 4}),
                    ],
                ),
                entry(
                    "cccc",
                    "00:00:0f:aa:bb:dd",
                    "192.168.0.4",
                    vec![json!({"opt_name": "client-id", "opt_value": "test5", "ip_version": 4})],
                ),
                entry(
                    "eeee",
                    "00:00:0f:aa:bb:ee",
                    "192.168.0.5",
                    vec![
                        json!({"opt_name": "client-id", "opt_value": "test6", "ip_version": 4}),
                        json!({"opt_name": "tftp-server", "opt_value": "1.2.3.4", "ip_version": 4}),
                    ],
                ),
            ],
        );
        let s6 = server(
            V6,
            "fdca:3ba5:a17a:4ba3::10",
            64,
            vec![entry(
                "aaaa",
                "00:00:80:aa:bb:cc",
                "fdca:3ba5:a17a:4ba3::2",
                vec![],
            )],
        );
        let dhcp = NetworkDhcp {
            network: &net,
            servers: vec![&s4, &s6],
        };
        let mut c = cfg();
        c.dns_domain = Some("openstacklocal.".into());
        assert_eq!(
            hosts_file(&dhcp, &c),
            "00:00:80:aa:bb:cc,host-192-168-0-2.openstacklocal.,192.168.0.2\n\
             00:00:0f:aa:bb:cc,host-192-168-0-3.openstacklocal.,192.168.0.3,set:port-bbbb\n\
             00:00:0f:aa:bb:dd,id:test5,host-192-168-0-4.openstacklocal.,192.168.0.4\n\
             00:00:0f:aa:bb:ee,id:test6,host-192-168-0-5.openstacklocal.,192.168.0.5,set:port-eeee\n\
             00:00:80:aa:bb:cc,tag:dhcpv6,host-fdca-3ba5-a17a-4ba3--2.openstacklocal.,[fdca:3ba5:a17a:4ba3::2]\n"
        );
        let addn = addn_hosts_file(&dhcp, &c);
        assert!(
            addn.starts_with("192.168.0.2\thost-192-168-0-2.openstacklocal. host-192-168-0-2\n")
        );
        assert!(addn.ends_with(
            "fdca:3ba5:a17a:4ba3::2\thost-fdca-3ba5-a17a-4ba3--2.openstacklocal. host-fdca-3ba5-a17a-4ba3--2\n"
        ));
        // The same without a domain: bare names.
        assert!(hosts_file(&dhcp, &cfg())
            .starts_with("00:00:80:aa:bb:cc,host-192-168-0-2,192.168.0.2\n"));
        let pairs = host_pairs(&hosts_file(&dhcp, &c));
        assert!(pairs.contains(&("00:00:0f:aa:bb:ee".into(), "192.168.0.5".into())));
        assert!(pairs.contains(&("00:00:80:aa:bb:cc".into(), "fdca:3ba5:a17a:4ba3::2".into())));
        assert_eq!(pairs.len(), 5);
    }

    #[test]
    fn options_of_a_routed_subnet_are_neutrons() {
        // Upstream's test_output_opts_file, IPv4 part: a router port holds
        // the gateway, so the metadata route goes via the gateway.
        let mut v4 = subnet(V4, 4, "192.168.0.0/24", Some("192.168.0.1"));
        v4.dns_nameservers = vec!["8.8.8.8".into()];
        v4.host_routes = vec![FeedRoute {
            destination: "20.0.0.1/24".into(),
            nexthop: "20.0.0.1".into(),
        }];
        let mut v6 = subnet(V6, 6, "fdca:3ba5:a17a:4ba3::/64", None);
        v6.dns_nameservers = vec!["2001:200:feed:7ac0::1".into()];
        let net = network(vec![v4, v6]);
        let s4 = server(
            V4,
            "192.168.0.10",
            24,
            vec![
                entry("rrrr", "00:00:0f:rr:rr:rr", "192.168.0.1", vec![]),
                entry(
                    "bbbb",
                    "00:00:0f:aa:bb:cc",
                    "192.168.0.3",
                    vec![
                        json!({"opt_name": "tftp-server", "opt_value": "192.168.0.3", "ip_version": 4}),
                        json!({"opt_name": "server-ip-address", "opt_value": "192.168.0.2", "ip_version": 4}),
                        json!({"opt_name": "dns-server", "opt_value": "2001::1", "ip_version": 6}),
                        json!({"opt_name": "client-id", "opt_value": "x", "ip_version": 4}),
                    ],
                ),
            ],
        );
        let s6 = server(V6, "fdca:3ba5:a17a:4ba3::10", 64, vec![]);
        let dhcp = NetworkDhcp {
            network: &net,
            servers: vec![&s4, &s6],
        };
        let mut c = cfg();
        c.dns_domain = Some("openstacklocal".into());
        assert_eq!(
            opts_file(&dhcp, &c),
            "tag:subnet-dddddddd-dddd-dddd-dddd-dddddddddddd,option:dns-server,8.8.8.8\n\
             tag:subnet-dddddddd-dddd-dddd-dddd-dddddddddddd,option:classless-static-route,20.0.0.1/24,20.0.0.1,169.254.169.254/32,192.168.0.1,0.0.0.0/0,192.168.0.1\n\
             tag:subnet-dddddddd-dddd-dddd-dddd-dddddddddddd,249,20.0.0.1/24,20.0.0.1,169.254.169.254/32,192.168.0.1,0.0.0.0/0,192.168.0.1\n\
             tag:subnet-dddddddd-dddd-dddd-dddd-dddddddddddd,option:router,192.168.0.1\n\
             tag:subnet-ffffffff-ffff-ffff-ffff-ffffffffffff,option6:dns-server,[2001:200:feed:7ac0::1]\n\
             tag:subnet-ffffffff-ffff-ffff-ffff-ffffffffffff,option6:domain-search,openstacklocal\n\
             tag:port-bbbb,option:tftp-server,192.168.0.3\n\
             tag:port-bbbb,option:server-ip-address,192.168.0.2"
        );
    }

    #[test]
    fn isolated_subnets_get_metadata_via_the_dhcp_port() {
        // Upstream's test_output_opts_file_no_neutron_router_on_subnet /
        // _no_gateway: nobody holds the gateway address.
        let net = network(vec![subnet(V4, 4, "192.168.0.0/24", Some("192.168.0.1"))]);
        let s4 = server(
            V4,
            "192.168.0.2",
            24,
            vec![entry("aaaa", "00:00:80:aa:bb:cc", "192.168.0.5", vec![])],
        );
        let dhcp = NetworkDhcp {
            network: &net,
            servers: vec![&s4],
        };
        let t = "tag:subnet-dddddddd-dddd-dddd-dddd-dddddddddddd";
        assert_eq!(
            opts_file(&dhcp, &cfg()),
            format!(
                "{t},option:classless-static-route,169.254.169.254/32,192.168.0.2,0.0.0.0/0,192.168.0.1\n\
                 {t},249,169.254.169.254/32,192.168.0.2,0.0.0.0/0,192.168.0.1\n\
                 {t},option:router,192.168.0.1"
            )
        );
        // Without isolated metadata nothing is routed, and the router
        // option stays.
        let mut c = cfg();
        c.enable_isolated_metadata = false;
        assert_eq!(
            opts_file(&dhcp, &c),
            format!("{t},option:router,192.168.0.1")
        );

        // No gateway: an empty router option (clients keep no default).
        let net = network(vec![subnet(V4, 4, "192.168.1.0/24", None)]);
        let s4 = server(V4, "192.168.1.1", 24, vec![]);
        let dhcp = NetworkDhcp {
            network: &net,
            servers: vec![&s4],
        };
        assert_eq!(
            opts_file(&dhcp, &cfg()),
            format!(
                "{t},option:classless-static-route,169.254.169.254/32,192.168.1.1\n\
                 {t},249,169.254.169.254/32,192.168.1.1\n\
                 {t},option:router"
            )
        );
    }

    #[test]
    fn other_v4_subnets_are_on_link_and_any_dns_is_none() {
        const OTHER: &str = "eeeeeeee-eeee-eeee-eeee-eeeeeeeeeeee";
        let mut a = subnet(V4, 4, "192.168.0.0/24", Some("192.168.0.1"));
        a.dns_nameservers = vec!["0.0.0.0".into()];
        a.host_routes = vec![FeedRoute {
            destination: "0.0.0.0/0".into(),
            nexthop: "192.168.0.254".into(),
        }];
        let mut b = subnet(OTHER, 4, "10.0.0.0/24", Some("10.0.0.1"));
        b.enable_dhcp = false;
        let net = network(vec![a, b]);
        let s = server(
            V4,
            "192.168.0.2",
            24,
            vec![entry("rrrr", "00:00:0f:rr:rr:rr", "192.168.0.1", vec![])],
        );
        let dhcp = NetworkDhcp {
            network: &net,
            servers: vec![&s],
        };
        let t = "tag:subnet-dddddddd-dddd-dddd-dddd-dddddddddddd";
        // The gateway wins over a default host route.
        assert_eq!(
            opts_file(&dhcp, &cfg()),
            format!(
                "{t},option:dns-server\n\
                 {t},option:classless-static-route,10.0.0.0/24,0.0.0.0,169.254.169.254/32,192.168.0.1,0.0.0.0/0,192.168.0.1\n\
                 {t},249,10.0.0.0/24,0.0.0.0,169.254.169.254/32,192.168.0.1,0.0.0.0/0,192.168.0.1\n\
                 {t},option:router,192.168.0.1"
            )
        );
    }

    #[test]
    fn initial_leases_are_neutrons() {
        let net = network(vec![
            subnet(V4, 4, "192.168.0.0/24", Some("192.168.0.1")),
            subnet(V6, 6, "fdca:3ba5:a17a:4ba3::/64", None),
        ]);
        let s4 = server(
            V4,
            "192.168.0.10",
            24,
            vec![entry("aaaa", "00:00:80:aa:bb:cc", "192.168.0.2", vec![])],
        );
        let s6 = server(
            V6,
            "fdca:3ba5:a17a:4ba3::10",
            64,
            vec![
                entry(
                    "aaaa",
                    "00:00:80:aa:bb:cc",
                    "fdca:3ba5:a17a:4ba3::2",
                    vec![],
                ),
                entry(
                    "bbbb",
                    "00:00:0f:aa:bb:cc",
                    "fdca:3ba5:a17a:4ba3::3",
                    vec![],
                ),
            ],
        );
        let dhcp = NetworkDhcp {
            network: &net,
            servers: vec![&s4, &s6],
        };
        let existing = "duid 00:01:00:01:2a:00\n\
                        1700000000 00:00:80:aa:bb:cc 192.168.0.9 host *\n\
                        1700000000 1234 fdca:3ba5:a17a:4ba3::2 host 00:01\n\
                        1700000000 5678 fdca:3ba5:a17a:4ba3::99 gone 00:02\n";
        assert_eq!(
            init_lease_file(&dhcp, existing),
            "duid 00:01:00:01:2a:00\n\
             0 00:00:80:aa:bb:cc 192.168.0.2 * *\n\
             1700000000 1234 fdca:3ba5:a17a:4ba3::2 host 00:01\n"
        );
    }

    #[test]
    fn options_are_formatted_as_upstream() {
        assert_eq!(format_option(4, "port-x", "66", &["a"]), "tag:port-x,66,a");
        assert_eq!(
            format_option(4, "port-x", "tag:ipxe,bootfile-name", &["boot.ipxe"]),
            "tag:port-x,tag:ipxe,option:bootfile-name,boot.ipxe"
        );
        assert_eq!(
            format_option(6, "port-x", "dns-server", &["[::1]\ninjected"]),
            "tag:port-x,option6:dns-server,[::1]"
        );
    }

    #[test]
    fn names_and_grouping() {
        assert_eq!(ns_device(DHCP_PORT), "ns-d0d0d0d0-aa");
        assert_eq!(tap_device(DHCP_PORT), "tapd0d0d0d0-aa");
        assert_eq!(ns_device("short"), "ns-short");
        assert!(check_id(NET).is_ok());
        for bad in ["", "..", "a/b", "x y"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
        let d = Dhcp::new(cfg());
        assert_eq!(d.namespace(NET), format!("oxt1-qdhcp-{NET}"));
        let net = network(vec![subnet(V4, 4, "192.168.0.0/24", None)]);
        let mut no_port = server(V4, "192.168.0.2", 24, vec![]);
        no_port.port = None;
        let feed = NodeFeed {
            networks: vec![net],
            ports: vec![],
            security_groups: vec![],
            remote_groups: BTreeMap::new(),
            dhcp: vec![no_port],
            routers: vec![],
            metadata: vec![],
        };
        let nets = networks(&feed);
        assert_eq!(nets.len(), 1);
        assert!(nets[0].port().is_none());
        let mut down = feed.clone();
        down.networks[0].admin_state_up = false;
        assert!(networks(&down).is_empty());
    }
}

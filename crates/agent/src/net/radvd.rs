//! IPv6 router advertisements of a router namespace, as neutron's
//! `agent/linux/ra.py` sends them: one `radvd` per router that has an
//! internal (`qr-`) leg on an IPv6 subnet with an `ipv6_ra_mode`, its
//! config holding one `interface` block per such leg (the prefix with
//! `AdvAutonomous on` for `slaac`/`dhcpv6-stateless`, `off` for
//! `dhcpv6-stateful`; `AdvManagedFlag`/`AdvOtherConfigFlag` by mode; the
//! network's MTU; the subnets' DNS servers as RDNSS).
//!
//! Files live under [`STATE_DIR`]`/<router namespace>/` (`radvd.conf`,
//! `radvd.pid`, `radvd.log`): written on change and the daemon sent
//! SIGHUP, started when not running, stopped and removed when the router
//! or its last advertised leg goes. Directories are named after the
//! router namespace, so a restarted agent finds (by the node prefix) and
//! stops the daemons of routers it no longer has.

use super::daemon::stop;
use super::netns;
use network::app::feed::{FeedRouter, NodeFeed};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where each router's radvd files go (a runtime directory: everything
/// in it is rebuilt from the feed).
pub const STATE_DIR: &str = "/run/oxistack/radvd";

/// Neutron's defaults (`min_rtr_adv_interval`, `max_rtr_adv_interval`).
const MIN_RTR_ADV_INTERVAL: u32 = 30;
const MAX_RTR_ADV_INTERVAL: u32 = 100;
/// radvd accepts at most three RDNSS addresses per line; neutron takes
/// the first three.
const MAX_RDNSS: usize = 3;

/// One advertised prefix and how hosts use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaPrefix {
    pub cidr: String,
    /// `slaac`, `dhcpv6-stateful` or `dhcpv6-stateless`.
    pub mode: String,
}

/// One `qr-` leg that sends advertisements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaLeg {
    pub device: String,
    pub mtu: i64,
    pub prefixes: Vec<RaPrefix>,
    pub dns: Vec<String>,
}

/// The legs of `r` to advertise on: every internal leg with an address
/// on an IPv6 subnet whose `ipv6_ra_mode` is set (neutron sends no RA
/// for a subnet without one: something outside OpenStack does).
pub fn legs_of(feed: &NodeFeed, r: &FeedRouter, device_of: impl Fn(&str) -> String) -> Vec<RaLeg> {
    let mut out = Vec::new();
    for l in &r.interfaces {
        let Some(net) = feed.networks.iter().find(|n| n.id == l.network_id) else {
            continue;
        };
        let mut leg = RaLeg {
            device: device_of(&l.port_id),
            mtu: net.mtu,
            prefixes: Vec::new(),
            dns: Vec::new(),
        };
        for a in &l.addresses {
            let Some(s) = net.subnets.iter().find(|s| s.id == a.subnet_id) else {
                continue;
            };
            let Some(mode) = s.ipv6_ra_mode.as_ref().filter(|_| s.ip_version == 6) else {
                continue;
            };
            let p = RaPrefix {
                cidr: s.cidr.clone(),
                mode: mode.clone(),
            };
            if !leg.prefixes.contains(&p) {
                leg.prefixes.push(p);
            }
            for d in &s.dns_nameservers {
                if !leg.dns.contains(d) && leg.dns.len() < MAX_RDNSS {
                    leg.dns.push(d.clone());
                }
            }
        }
        if !leg.prefixes.is_empty() {
            out.push(leg);
        }
    }
    out
}

/// The radvd config (ra.py's `CONFIG_TEMPLATE`).
pub fn render(legs: &[RaLeg]) -> String {
    let mut buf = String::new();
    for l in legs {
        let has = |m: &str| l.prefixes.iter().any(|p| p.mode == m);
        buf.push_str(&format!("interface {}\n{{\n", l.device));
        buf.push_str("   AdvSendAdvert on;\n");
        buf.push_str(&format!("   MinRtrAdvInterval {MIN_RTR_ADV_INTERVAL};\n"));
        buf.push_str(&format!("   MaxRtrAdvInterval {MAX_RTR_ADV_INTERVAL};\n"));
        if l.mtu > 0 {
            buf.push_str(&format!("   AdvLinkMTU {};\n", l.mtu));
        }
        if has("dhcpv6-stateless") {
            buf.push_str("   AdvOtherConfigFlag on;\n");
        }
        if has("dhcpv6-stateful") {
            buf.push_str("   AdvManagedFlag on;\n");
        }
        if !l.dns.is_empty() {
            buf.push_str(&format!("   RDNSS {} {{}};\n", l.dns.join(" ")));
        }
        for p in &l.prefixes {
            let auto = if p.mode == "dhcpv6-stateful" {
                "off"
            } else {
                "on"
            };
            buf.push_str(&format!(
                "   prefix {}\n   {{\n        AdvOnLink on;\n        AdvAutonomous {auto};\n   }};\n",
                p.cidr
            ));
        }
        buf.push_str("};\n");
    }
    buf
}

fn dir_of(state_dir: &Path, ns: &str) -> PathBuf {
    state_dir.join(ns)
}

/// The pid of the radvd running with `pid_file`, if any (a stale file
/// or a reused pid is not ours).
fn running(pid_file: &Path) -> Option<Pid> {
    let pid: i32 = std::fs::read_to_string(pid_file)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let want = pid_file.to_string_lossy();
    raw.split(|b| *b == 0)
        .any(|a| a == want.as_bytes())
        .then_some(Pid::from_raw(pid))
}

/// Converges the radvd of router namespace `ns` to `legs` (blocking):
/// none wanted stops it and removes its files.
pub fn sync(state_dir: &Path, ns: &str, legs: &[RaLeg]) -> Result<(), String> {
    if legs.is_empty() {
        return remove(state_dir, ns);
    }
    let dir = dir_of(state_dir, ns);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let conf = dir.join("radvd.conf");
    let pid_file = dir.join("radvd.pid");
    let content = render(legs);
    let changed = std::fs::read_to_string(&conf).map_or(true, |old| old != content);
    if changed {
        let tmp = conf.with_extension("tmp");
        std::fs::write(&tmp, &content).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &conf).map_err(|e| format!("{}: {e}", conf.display()))?;
    }
    if let Some(pid) = running(&pid_file) {
        if changed {
            kill(pid, Signal::SIGHUP).map_err(|e| format!("radvd SIGHUP {pid}: {e}"))?;
        }
        return Ok(());
    }
    // Neutron's routers forward IPv6; radvd also expects it of a router.
    netns::run_in(Some(ns), || {
        std::fs::write("/proc/sys/net/ipv6/conf/all/forwarding", "1")
    })
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("IPv6 forwarding: {e}"))?;
    let _ = std::fs::remove_file(&pid_file);
    let log = dir.join("radvd.log");
    let mut cmd = Command::new("radvd");
    cmd.arg("-C")
        .arg(&conf)
        .arg("-p")
        .arg(&pid_file)
        .args(["-m", "logfile", "-l"])
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = netns::spawn_in(Some(ns), cmd).map_err(|e| {
        if matches!(&e, netns::NetnsError::Sys { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
        {
            "radvd is not installed (Debian: apt-get install radvd)".to_string()
        } else {
            format!("radvd: {e}")
        }
    })?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("radvd: {e}"))?;
    if !out.status.success() {
        let msg = std::fs::read_to_string(&log).unwrap_or_default();
        return Err(format!(
            "radvd exited {}: {} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            msg.trim()
        ));
    }
    // It daemonizes; the pid file follows the parent's exit.
    let deadline = Instant::now() + Duration::from_secs(5);
    while running(&pid_file).is_none() {
        if Instant::now() > deadline {
            let msg = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!("radvd did not start: {}", msg.trim()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Stops the radvd of `ns` (if any) and removes its files.
pub fn remove(state_dir: &Path, ns: &str) -> Result<(), String> {
    let dir = dir_of(state_dir, ns);
    if !dir.exists() {
        return Ok(());
    }
    if let Some(pid) = running(&dir.join("radvd.pid")) {
        stop(pid);
    }
    std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))
}

/// Stops the radvds of router namespaces starting with `prefix` other
/// than `keep` (reconciliation after restarts and removals).
pub fn remove_stale(state_dir: &Path, prefix: &str, keep: &BTreeSet<String>) -> Vec<String> {
    let mut errors = Vec::new();
    let Ok(entries) = std::fs::read_dir(state_dir) else {
        return errors;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(prefix) && !keep.contains(&name) {
            if let Err(err) = remove(state_dir, &name) {
                errors.push(err);
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(modes: &[(&str, &str)], dns: &[&str]) -> RaLeg {
        RaLeg {
            device: "qr-aaaaaaaaaaa".into(),
            mtu: 1450,
            prefixes: modes
                .iter()
                .map(|(c, m)| RaPrefix {
                    cidr: (*c).into(),
                    mode: (*m).into(),
                })
                .collect(),
            dns: dns.iter().map(|d| (*d).into()).collect(),
        }
    }

    #[test]
    fn slaac_prefix_is_autonomous_without_flags() {
        let c = render(&[leg(&[("2001:db8:1::/64", "slaac")], &[])]);
        assert_eq!(
            c,
            "interface qr-aaaaaaaaaaa\n{\n   AdvSendAdvert on;\n   MinRtrAdvInterval 30;\n   \
             MaxRtrAdvInterval 100;\n   AdvLinkMTU 1450;\n   prefix 2001:db8:1::/64\n   {\n        \
             AdvOnLink on;\n        AdvAutonomous on;\n   };\n};\n"
        );
    }

    #[test]
    fn dhcpv6_modes_set_the_flags() {
        let c = render(&[leg(
            &[
                ("2001:db8:1::/64", "dhcpv6-stateful"),
                ("2001:db8:2::/64", "dhcpv6-stateless"),
            ],
            &["2001:db8::53", "2001:db8::54"],
        )]);
        assert!(c.contains("AdvManagedFlag on;"), "{c}");
        assert!(c.contains("AdvOtherConfigFlag on;"), "{c}");
        assert!(c.contains("RDNSS 2001:db8::53 2001:db8::54 {};"), "{c}");
        assert!(c.contains(
            "prefix 2001:db8:1::/64\n   {\n        AdvOnLink on;\n        AdvAutonomous off;"
        ));
        assert!(c.contains(
            "prefix 2001:db8:2::/64\n   {\n        AdvOnLink on;\n        AdvAutonomous on;"
        ));
    }

    #[test]
    fn only_v6_subnets_with_an_ra_mode_are_advertised() {
        use network::app::feed::{FeedAddress, FeedLeg, FeedNetwork, FeedSegment, FeedSubnet};
        let subnet = |id: &str, v: i64, cidr: &str, mode: Option<&str>| FeedSubnet {
            id: id.into(),
            ip_version: v,
            cidr: cidr.into(),
            gateway_ip: None,
            enable_dhcp: true,
            dns_nameservers: vec![],
            host_routes: vec![],
            ipv6_ra_mode: mode.map(Into::into),
            ipv6_address_mode: mode.map(Into::into),
        };
        let addr = |s: &str, ip: &str, len: u8| FeedAddress {
            subnet_id: s.into(),
            ip_address: ip.into(),
            prefixlen: len,
        };
        let feed = NodeFeed {
            networks: vec![FeedNetwork {
                id: "n".into(),
                admin_state_up: true,
                mtu: 1400,
                router_external: false,
                segment: FeedSegment {
                    network_type: "vxlan".into(),
                    physical_network: None,
                    segmentation_id: Some(5),
                },
                subnets: vec![
                    subnet("v4", 4, "10.0.0.0/24", None),
                    subnet("v6", 6, "2001:db8::/64", Some("slaac")),
                    subnet("v6x", 6, "2001:db8:9::/64", None),
                ],
                remote_vteps: vec![],
                remote_macs: vec![],
            }],
            ports: vec![],
            security_groups: vec![],
            remote_groups: Default::default(),
            dhcp: vec![],
            routers: vec![],
            metadata: vec![],
        };
        let leg = |port: &str, addrs: Vec<FeedAddress>| FeedLeg {
            port_id: port.into(),
            network_id: "n".into(),
            mac_address: "fa:16:3e:00:00:01".into(),
            addresses: addrs,
        };
        let r = FeedRouter {
            id: "r".into(),
            admin_state_up: true,
            interfaces: vec![
                leg("p1", vec![addr("v4", "10.0.0.1", 24)]),
                leg(
                    "p2",
                    vec![
                        addr("v6", "2001:db8::1", 64),
                        addr("v6x", "2001:db8:9::1", 64),
                    ],
                ),
            ],
            gateway: None,
            routes: vec![],
            floatingips: vec![],
            port_forwardings: vec![],
        };
        let legs = legs_of(&feed, &r, |p| format!("qr-{p}"));
        assert_eq!(
            legs,
            vec![RaLeg {
                device: "qr-p2".into(),
                mtu: 1400,
                prefixes: vec![RaPrefix {
                    cidr: "2001:db8::/64".into(),
                    mode: "slaac".into()
                }],
                dns: vec![],
            }]
        );
    }
}

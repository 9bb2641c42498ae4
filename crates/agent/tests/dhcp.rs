//! `agent::net::dhcp` against a real dnsmasq: a simulated network node
//! (a namespace with the network's bridge), the DHCP port's veth plumbed
//! with `ip` by this test (the L2 side's job in the agent), and client
//! namespaces on the bridge running busybox `udhcpc`. Clients get their
//! static address, router, MTU and classless routes; a port added later
//! gets its lease after a reload that keeps the process; a restarted
//! agent adopts the running dnsmasq; a removed port's lease is released;
//! and removing the network leaves nothing behind.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agent::net::dhcp::{tap_device, Dhcp, DhcpConfig, DhcpPlumbing};
use agent::net::netns;
use network::app::feed::{
    FeedAddress, FeedDhcp, FeedDhcpEntry, FeedDhcpPort, FeedNetwork, FeedRoute, FeedSegment,
    FeedSubnet, NodeFeed,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use testkit::netns::{TestHost, TestNet};
use testkit::require_root;
use testkit::root::Need;

const NET: &str = "5a1e0000-0000-4000-8000-00000000d4c9";
const SUBNET: &str = "5b0b0000-0000-4000-8000-000000000001";
const DHCP_PORT: &str = "d1c90000-0000-4000-8000-000000000002";
const PORT_A: &str = "a0000000-0000-4000-8000-00000000000a";
const PORT_B: &str = "b0000000-0000-4000-8000-00000000000b";
const MAC_A: &str = "fa:16:3e:00:00:0a";
const MAC_B: &str = "fa:16:3e:00:00:0b";
const BRIDGE: &str = "brqdhcp";

fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// What the agent's L2 side does for the DHCP port, with `ip`.
struct IpPlumbing {
    node: String,
}

impl DhcpPlumbing for IpPlumbing {
    fn plug(
        &self,
        ns: &str,
        dev: &str,
        _network: &FeedNetwork,
        port_id: &str,
        mac: &str,
        addresses: &[FeedAddress],
    ) -> Result<(), String> {
        let tap = tap_device(port_id);
        if ip(&["-n", ns, "link", "show", "dev", dev]).is_err() {
            ip(&[
                "-n", &self.node, "link", "add", "name", &tap, "type", "veth", "peer", "name", dev,
                "netns", ns,
            ])?;
            ip(&["-n", &self.node, "link", "set", &tap, "master", BRIDGE])?;
            ip(&["-n", &self.node, "link", "set", &tap, "up"])?;
            ip(&["-n", ns, "link", "set", dev, "address", mac])?;
        }
        for a in addresses {
            let cidr = format!("{}/{}", a.ip_address, a.prefixlen);
            ip(&["-n", ns, "addr", "replace", &cidr, "dev", dev])?;
        }
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
        ip(&["-n", ns, "link", "set", dev, "up"])?;
        Ok(())
    }

    fn unplug(
        &self,
        _ns: &str,
        _dev: &str,
        _network_id: &str,
        port_id_prefix: &str,
    ) -> Result<(), String> {
        let tap = tap_device(port_id_prefix);
        if ip(&["-n", &self.node, "link", "show", "dev", &tap]).is_ok() {
            ip(&["-n", &self.node, "link", "del", "dev", &tap])?;
        }
        Ok(())
    }
}

/// Stops dnsmasq and removes its namespace and files even when the test
/// fails; the TestNet (declared before it) then removes the rest.
struct Guard {
    dhcp: Dhcp,
    plumbing: IpPlumbing,
    dir: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.dhcp.remove(NET, &self.plumbing);
        let _ = netns::delete(&self.dhcp.namespace(NET));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn entry(port: &str, mac: &str, ip: &str) -> FeedDhcpEntry {
    FeedDhcpEntry {
        port_id: port.into(),
        mac_address: mac.into(),
        ip_address: ip.into(),
        hostname: format!("host-{}", ip.replace('.', "-")),
        extra_dhcp_opts: vec![],
    }
}

fn feed(entries: Vec<FeedDhcpEntry>) -> NodeFeed {
    feed_mtu(entries, 1400)
}

fn feed_mtu(entries: Vec<FeedDhcpEntry>, mtu: i64) -> NodeFeed {
    NodeFeed {
        networks: vec![FeedNetwork {
            id: NET.into(),
            admin_state_up: true,
            mtu,
            router_external: false,
            segment: FeedSegment {
                network_type: "vxlan".into(),
                physical_network: None,
                segmentation_id: Some(77),
            },
            subnets: vec![FeedSubnet {
                id: SUBNET.into(),
                ip_version: 4,
                cidr: "10.77.0.0/24".into(),
                gateway_ip: Some("10.77.0.1".into()),
                enable_dhcp: true,
                dns_nameservers: vec!["10.77.0.53".into()],
                host_routes: vec![FeedRoute {
                    destination: "172.16.0.0/16".into(),
                    nexthop: "10.77.0.254".into(),
                }],
                ipv6_ra_mode: None,
                ipv6_address_mode: None,
            }],
            remote_vteps: vec![],
            remote_macs: vec![],
        }],
        ports: vec![],
        security_groups: vec![],
        remote_groups: BTreeMap::new(),
        dhcp: vec![FeedDhcp {
            network_id: NET.into(),
            subnet_id: SUBNET.into(),
            port: Some(FeedDhcpPort {
                id: DHCP_PORT.into(),
                mac_address: "fa:16:3e:00:00:02".into(),
                address: Some(FeedAddress {
                    subnet_id: SUBNET.into(),
                    ip_address: "10.77.0.2".into(),
                    prefixlen: 24,
                }),
            }),
            entries,
        }],
        routers: vec![],
        metadata: vec![],
    }
}

/// A client namespace on the bridge whose NIC has `mac`.
fn client(net: &mut TestNet, node: &TestHost, label: &str, mac: &str) -> TestHost {
    let host = net.host(label).unwrap();
    let peer = format!("v{label}");
    net.veth(&host, "eth0", node, &peer).unwrap();
    net.attach(node, &peer, BRIDGE).unwrap();
    host.ip(&["link", "set", "eth0", "address", mac]).unwrap();
    host.ip(&["link", "set", "eth0", "up"]).unwrap();
    host
}

/// Runs udhcpc once in `host`; what its script saw on `bound`, or None
/// when it got no lease.
fn udhcpc(host: &TestHost, dir: &Path, label: &str) -> Option<String> {
    let out = dir.join(format!("{label}.env"));
    let script = dir.join(format!("{label}.sh"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1\" = bound ] && echo \"ip=$ip router=$router mtu=$mtu dns=$dns \
             staticroutes=$staticroutes msstaticroutes=$msstaticroutes\" > {}\nexit 0\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let _ = std::fs::remove_file(&out);
    let script = script.to_string_lossy().into_owned();
    let r = host
        .exec(&[
            "busybox",
            "udhcpc",
            "-i",
            "eth0",
            "-f",
            "-q",
            "-n",
            "-t",
            "4",
            "-T",
            "1",
            "-O",
            "mtu",
            "-O",
            "staticroutes",
            "-O",
            "msstaticroutes",
            "-s",
            &script,
        ])
        .unwrap();
    if !r.status.success() {
        return None;
    }
    std::fs::read_to_string(&out).ok()
}

fn pid(dhcp: &Dhcp) -> String {
    std::fs::read_to_string(dhcp.files(NET).pid)
        .unwrap()
        .trim()
        .to_string()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn root_dnsmasq_serves_reloads_releases_and_goes() {
    require_root!(
        Need::NetNs,
        Need::Command("ip"),
        Need::Command("dnsmasq"),
        Need::Command("dhcp_release"),
        Need::Command("busybox")
    );
    let mut net = TestNet::new().unwrap();
    let node = net.host("node").unwrap();
    net.bridge(&node, BRIDGE).unwrap();
    let dir = std::env::temp_dir().join(format!("oxt-dhcp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = DhcpConfig::new(dir.join("state"), format!("oxt-{}-d-", std::process::id()));
    let guard = Guard {
        dhcp: Dhcp::new(cfg.clone()),
        plumbing: IpPlumbing {
            node: node.name().to_string(),
        },
        dir: dir.clone(),
    };
    let (dhcp, plumbing) = (&guard.dhcp, &guard.plumbing);
    let ns = dhcp.namespace(NET);

    // One port: its client gets its address and the subnet's options.
    let errors = dhcp.sync(&feed(vec![entry(PORT_A, MAC_A, "10.77.0.5")]), plumbing);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(netns::exists(&ns));
    let a = client(&mut net, &node, "ca", MAC_A);
    let got = udhcpc(&a, &dir, "a1").expect("client A got no lease");
    assert!(got.contains("ip=10.77.0.5 "), "{got}");
    assert!(got.contains("router=10.77.0.1 "), "{got}");
    assert!(got.contains("mtu=1400 "), "{got}");
    assert!(got.contains("dns=10.77.0.53 "), "{got}");
    // Classless routes (121 and 249): the host route, the metadata route
    // via the DHCP port (no router on the subnet), the default route.
    let routes = "172.16.0.0/16 10.77.0.254 169.254.169.254/32 10.77.0.2 0.0.0.0/0 10.77.0.1";
    assert!(got.contains(&format!("staticroutes={routes} ")), "{got}");
    assert!(got.contains(&format!("msstaticroutes={routes}")), "{got}");
    let first_pid = pid(dhcp);

    // A port that is not in the hosts file gets nothing (static ranges).
    let b = client(&mut net, &node, "cb", MAC_B);
    assert_eq!(udhcpc(&b, &dir, "b0"), None);

    // Added: the files are rewritten and the same dnsmasq reloads.
    let both = vec![
        entry(PORT_A, MAC_A, "10.77.0.5"),
        entry(PORT_B, MAC_B, "10.77.0.6"),
    ];
    let errors = dhcp.sync(&feed(both.clone()), plumbing);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(pid(dhcp), first_pid);
    let got = udhcpc(&b, &dir, "b1").expect("client B got no lease after the reload");
    assert!(got.contains("ip=10.77.0.6 "), "{got}");
    let leases = dhcp.files(NET).leases;
    wait_for("both leases on file", || {
        let l = std::fs::read_to_string(&leases).unwrap_or_default();
        l.contains(MAC_A) && l.contains(MAC_B)
    });

    // An agent restart: a new service over the same state adopts the
    // running dnsmasq instead of starting another.
    let restarted = Dhcp::new(cfg);
    let errors = restarted.sync(&feed(both.clone()), plumbing);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(pid(&restarted), first_pid);

    // A changed command line (the MTU) restarts dnsmasq; it starts from
    // a lease file holding every host, and serves the new MTU.
    let errors = restarted.sync(&feed_mtu(both, 1300), plumbing);
    assert!(errors.is_empty(), "{errors:?}");
    let second_pid = pid(&restarted);
    assert_ne!(second_pid, first_pid);
    wait_for("both leases kept over the restart", || {
        let l = std::fs::read_to_string(&leases).unwrap_or_default();
        l.contains(MAC_A) && l.contains(MAC_B)
    });
    let got = udhcpc(&a, &dir, "a2").expect("client A got no lease after the restart");
    assert!(
        got.contains("ip=10.77.0.5 ") && got.contains("mtu=1300 "),
        "{got}"
    );
    let first_pid = second_pid;

    // Removed: B's lease is released (A's stays) and B is refused.
    let errors = restarted.sync(
        &feed_mtu(vec![entry(PORT_A, MAC_A, "10.77.0.5")], 1300),
        plumbing,
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(pid(&restarted), first_pid);
    wait_for("B's lease released", || {
        let l = std::fs::read_to_string(&leases).unwrap_or_default();
        l.contains(MAC_A) && !l.contains(MAC_B)
    });
    assert_eq!(udhcpc(&b, &dir, "b2"), None);

    // The network goes: process, device, namespace and files with it.
    let errors = restarted.sync(&feed(vec![]).without_dhcp(), plumbing);
    assert!(errors.is_empty(), "{errors:?}");
    let proc_gone = !Path::new(&format!("/proc/{first_pid}")).exists()
        || std::fs::read_to_string(format!("/proc/{first_pid}/stat"))
            .is_ok_and(|s| s.contains(") Z"));
    assert!(proc_gone, "dnsmasq {first_pid} still runs");
    assert!(!netns::exists(&ns));
    assert!(!dhcp.files(NET).dir.exists());
    assert!(node
        .ip(&["-o", "link", "show", "dev", &tap_device(DHCP_PORT)])
        .is_err());
    drop(guard);
    net.remove().unwrap();
}

trait WithoutDhcp {
    fn without_dhcp(self) -> Self;
}

impl WithoutDhcp for NodeFeed {
    fn without_dhcp(mut self) -> Self {
        self.dhcp.clear();
        self.networks.clear();
        self
    }
}

//! The network role's L2, proven by traffic between namespaces: a flat
//! network on one simulated host, and a VXLAN network between two hosts
//! joined by a veth underlay. "Instances" are namespaces whose veth's host
//! end is named `tap…`, made after the role started so only its link-event
//! task can plug them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agent::net::l2::{bridge_name, tap_name, L2Config};
use agent::net::link::Netlink;
use agent::net::netns;
use agent::net::role::{NetworkRole, NetworkRoleConfig};
use agent::RoleHandler;
use network::app::feed::{FeedIp, FeedNetwork, FeedPort, FeedSegment, NodeFeed};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;
use testkit::require_root;
use testkit::root::Need;

/// Removes the namespaces (and so every link inside) even on panic.
struct Namespaces(Vec<&'static str>);

impl Namespaces {
    fn make(names: &[&'static str]) -> Namespaces {
        let guard = Namespaces(names.to_vec());
        for n in names {
            netns::delete(n).unwrap();
            netns::create(n).unwrap();
        }
        guard
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = netns::delete(n);
        }
    }
}

fn network(
    id: &str,
    ty: &str,
    phys: Option<&str>,
    seg: Option<i64>,
    vteps: &[&str],
) -> FeedNetwork {
    FeedNetwork {
        id: id.into(),
        admin_state_up: true,
        mtu: if ty == "vxlan" { 1450 } else { 1500 },
        router_external: false,
        segment: FeedSegment {
            network_type: ty.into(),
            physical_network: phys.map(Into::into),
            segmentation_id: seg,
        },
        subnets: vec![],
        remote_vteps: vteps.iter().map(|s| s.to_string()).collect(),
        remote_macs: vec![],
    }
}

fn port(id: &str, net: &FeedNetwork, mac: &str, ip: &str) -> FeedPort {
    FeedPort {
        id: id.into(),
        network_id: net.id.clone(),
        segment: net.segment.clone(),
        mac_address: mac.into(),
        admin_state_up: true,
        device_owner: "compute:nova".into(),
        device_id: format!("vm-{id}"),
        fixed_ips: vec![FeedIp {
            subnet_id: "subnet".into(),
            ip_address: ip.into(),
        }],
        port_security_enabled: false,
        allowed_address_pairs: vec![],
        security_groups: vec![],
        status: "DOWN".into(),
    }
}

fn feed(networks: Vec<FeedNetwork>, ports: Vec<FeedPort>) -> NodeFeed {
    NodeFeed {
        networks,
        ports,
        security_groups: vec![],
        remote_groups: BTreeMap::new(),
        dhcp: vec![],
        routers: vec![],
        metadata: vec![],
    }
}

/// The desired-state document the agent hands its roles.
fn document(f: &NodeFeed) -> Value {
    json!({"node": {}, "roles": ["network"], "parts": {"network": f}})
}

/// Makes an instance: a veth whose end `tap` stays in `host` and whose
/// other end is `eth0` in `vm`, with `ip/24` on it.
async fn instance(host: &Netlink, tap: &str, vm: &str, ip: &str, mac: &str) {
    host.add_veth(tap, "eth0", Some(vm)).await.unwrap();
    let inside = Netlink::open(Some(vm)).unwrap();
    inside
        .set_address("eth0", agent::net::link::parse_mac(mac).unwrap())
        .await
        .unwrap();
    inside
        .add_address("eth0", ip.parse().unwrap(), 24)
        .await
        .unwrap();
    inside.set_up("eth0").await.unwrap();
    inside.set_up("lo").await.unwrap();
}

/// Waits (≤ 5 s) until `tap` is enslaved to `bridge` in `host`, which only
/// the role's link-event task does.
async fn wait_plugged(host: &Netlink, tap: &str, bridge: &str) {
    for _ in 0..100 {
        let br = host.link(bridge).await.unwrap();
        let t = host.link(tap).await.unwrap();
        if let (Some(br), Some(t)) = (br, t) {
            if t.master == Some(br.index) && t.up {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{tap} was not plugged into {bridge}");
}

fn ping(from: &str, to: &str) -> bool {
    let mut cmd = std::process::Command::new("busybox");
    cmd.args(["ping", "-c", "2", "-W", "3", to])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    netns::spawn_in(Some(from), cmd)
        .unwrap()
        .wait()
        .unwrap()
        .success()
}

fn port_status(report: &Value, id: &str) -> String {
    report["ports"][id]
        .as_str()
        .unwrap_or("missing")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_flat_network_plugs_taps_on_link_events_and_carries_traffic() {
    require_root!(Need::NetNs, Need::Command("busybox"));
    let (h, v1, v2) = ("oxt-l2a-h", "oxt-l2a-v1", "oxt-l2a-v2");
    let _ns = Namespaces::make(&[h, v1, v2]);
    let host = Netlink::open(Some(h)).unwrap();
    // The "physical" interface of physnet1: one end of a veth.
    host.add_veth("oxtphys0", "oxtphys1", None).await.unwrap();

    let role = NetworkRole::new(NetworkRoleConfig {
        node_prefix: "oxt-l2a-".into(),
        namespace: Some(h.into()),
        l2: L2Config {
            physical_mappings: BTreeMap::from([("physnet1".into(), "oxtphys0".into())]),
            ..L2Config::default()
        },
        dhcp_state_dir: None,
    });
    let net = network("f1a7f1a7f1a7-net", "flat", Some("physnet1"), None, &[]);
    let p1 = port("a1a1a1a1a1a1-p1", &net, "fa:16:3e:00:00:01", "10.50.0.11");
    let p2 = port("b2b2b2b2b2b2-p2", &net, "fa:16:3e:00:00:02", "10.50.0.12");
    let want = feed(vec![net.clone()], vec![p1.clone(), p2.clone()]);
    let bridge = bridge_name(&net.id);

    let report = role.apply(&document(&want)).await;
    assert_eq!(report["errors"], json!([]), "{report}");
    assert_eq!(port_status(&report, &p1.id), "DOWN");
    let br = host.link(&bridge).await.unwrap().expect("bridge made");
    assert_eq!(br.mtu, Some(1500));
    let phys = host.link("oxtphys0").await.unwrap().unwrap();
    assert_eq!(phys.master, Some(br.index), "physical interface enslaved");

    // Idempotent: a second apply makes nothing new.
    let before = host.links().await.unwrap().len();
    role.apply(&document(&want)).await;
    assert_eq!(host.links().await.unwrap().len(), before);

    // The devices appear after the role started: link events plug them.
    let changes = role.changes();
    instance(&host, &tap_name(&p1.id), v1, "10.50.0.11", &p1.mac_address).await;
    instance(&host, &tap_name(&p2.id), v2, "10.50.0.12", &p2.mac_address).await;
    wait_plugged(&host, &tap_name(&p1.id), &bridge).await;
    wait_plugged(&host, &tap_name(&p2.id), &bridge).await;
    tokio::time::timeout(Duration::from_secs(5), changes.notified())
        .await
        .expect("the role signals a change");

    assert!(ping(v1, "10.50.0.12"), "v1 → v2 over the bridge");
    assert!(ping(v2, "10.50.0.11"), "v2 → v1 over the bridge");

    let report = role.apply(&document(&want)).await;
    assert_eq!(port_status(&report, &p1.id), "ACTIVE", "{report}");
    assert_eq!(port_status(&report, &p2.id), "ACTIVE", "{report}");

    // A restarted agent (a new role, nothing in memory) converges to the
    // same links: no duplicates, the ports still ACTIVE.
    let links_before = host.links().await.unwrap();
    let restarted = NetworkRole::new(NetworkRoleConfig {
        node_prefix: "oxt-l2a-".into(),
        namespace: Some(h.into()),
        l2: L2Config {
            physical_mappings: BTreeMap::from([("physnet1".into(), "oxtphys0".into())]),
            ..L2Config::default()
        },
        dhcp_state_dir: None,
    });
    let report = restarted.apply(&document(&want)).await;
    assert_eq!(port_status(&report, &p1.id), "ACTIVE", "{report}");
    assert_eq!(host.links().await.unwrap(), links_before);
    drop(restarted);

    // The instance goes: its port is DOWN.
    host.delete(&tap_name(&p1.id)).await.unwrap();
    let report = role.apply(&document(&want)).await;
    assert_eq!(port_status(&report, &p1.id), "DOWN", "{report}");
    assert_eq!(port_status(&report, &p2.id), "ACTIVE", "{report}");

    // The network leaves the feed: the bridge goes, the physical interface
    // stays (released).
    let report = role.apply(&document(&feed(vec![], vec![]))).await;
    assert_eq!(report["ports"], json!({}));
    assert!(host.links_with_prefix("brq").await.unwrap().is_empty());
    let phys = host.link("oxtphys0").await.unwrap().unwrap();
    assert_eq!(phys.master, None);

    // Unusable feeds change nothing and say why.
    let bad = role
        .apply(&json!({"parts": {"network": {"networks": 3}}}))
        .await;
    assert!(
        bad["errors"][0].as_str().unwrap().contains("unreadable"),
        "{bad}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_vxlan_carries_traffic_between_two_simulated_hosts() {
    require_root!(Need::NetNs, Need::Command("busybox"));
    let (ha, hb, va, vb) = ("oxt-l2b-ha", "oxt-l2b-hb", "oxt-l2b-va", "oxt-l2b-vb");
    let _ns = Namespaces::make(&[ha, hb, va, vb]);
    let a = Netlink::open(Some(ha)).unwrap();
    let b = Netlink::open(Some(hb)).unwrap();
    // The underlay: a veth from host A to host B.
    a.add_veth("oxtul0", "oxtul1", Some(hb)).await.unwrap();
    a.add_address("oxtul0", "192.0.2.1".parse().unwrap(), 24)
        .await
        .unwrap();
    b.add_address("oxtul1", "192.0.2.2".parse().unwrap(), 24)
        .await
        .unwrap();
    a.set_up("oxtul0").await.unwrap();
    b.set_up("oxtul1").await.unwrap();

    let role = |ns: &str, vtep: [u8; 4], dev: &str| {
        NetworkRole::new(NetworkRoleConfig {
            node_prefix: format!("{ns}-"),
            namespace: Some(ns.into()),
            l2: L2Config {
                tunnel_ip: Some(Ipv4Addr::from(vtep)),
                tunnel_dev: Some(dev.into()),
                ..L2Config::default()
            },
            dhcp_state_dir: None,
        })
    };
    let role_a = role(ha, [192, 0, 2, 1], "oxtul0");
    let role_b = role(hb, [192, 0, 2, 2], "oxtul1");
    let mut on_a = network("e1e1e1e1e1e1-vx", "vxlan", None, Some(1001), &["192.0.2.2"]);
    let mut on_b = network("e1e1e1e1e1e1-vx", "vxlan", None, Some(1001), &["192.0.2.1"]);
    let pa = port("c3c3c3c3c3c3-pa", &on_a, "fa:16:3e:00:01:01", "10.60.0.11");
    let pb = port("d4d4d4d4d4d4-pb", &on_b, "fa:16:3e:00:01:02", "10.60.0.12");
    let remote = |mac: &str, vtep: &str| network::app::feed::FeedRemoteMac {
        mac_address: mac.into(),
        vtep: vtep.into(),
    };
    on_a.remote_macs = vec![remote(&pb.mac_address, "192.0.2.2")];
    on_b.remote_macs = vec![remote(&pa.mac_address, "192.0.2.1")];
    let feed_a = feed(vec![on_a.clone()], vec![pa.clone()]);
    let feed_b = feed(vec![on_b.clone()], vec![pb.clone()]);
    let bridge = bridge_name(&on_a.id);

    for (r, f) in [(&role_a, &feed_a), (&role_b, &feed_b)] {
        let report = r.apply(&document(f)).await;
        assert_eq!(report["errors"], json!([]), "{report}");
    }
    // One flooding entry toward the other VTEP, not duplicated by a second
    // apply.
    role_a.apply(&document(&feed_a)).await;
    let fdb = a.fdb("vxlan-1001").await.unwrap();
    let zero: Vec<_> = fdb.iter().filter(|(m, _)| *m == [0; 6]).collect();
    assert_eq!(zero.len(), 1, "{fdb:?}");
    assert_eq!(zero[0].1, "192.0.2.2".parse::<std::net::IpAddr>().unwrap());
    // And B's port's MAC toward B's VTEP.
    let pb_mac = agent::net::link::parse_mac(&pb.mac_address).unwrap();
    assert!(
        fdb.contains(&(pb_mac, "192.0.2.2".parse().unwrap())),
        "{fdb:?}"
    );
    assert_eq!(fdb.len(), 2, "{fdb:?}");
    assert_eq!(a.link("vxlan-1001").await.unwrap().unwrap().mtu, Some(1450));

    instance(&a, &tap_name(&pa.id), va, "10.60.0.11", &pa.mac_address).await;
    instance(&b, &tap_name(&pb.id), vb, "10.60.0.12", &pb.mac_address).await;
    wait_plugged(&a, &tap_name(&pa.id), &bridge).await;
    wait_plugged(&b, &tap_name(&pb.id), &bridge).await;
    assert_eq!(
        a.link(&tap_name(&pa.id)).await.unwrap().unwrap().mtu,
        Some(1450)
    );

    assert!(ping(va, "10.60.0.12"), "A → B through VXLAN");
    assert!(ping(vb, "10.60.0.11"), "B → A through VXLAN");
    let report = role_a.apply(&document(&feed_a)).await;
    assert_eq!(port_status(&report, &pa.id), "ACTIVE", "{report}");

    // Host B leaves the network: A's flooding entry toward it goes.
    let alone = network("e1e1e1e1e1e1-vx", "vxlan", None, Some(1001), &[]);
    role_a
        .apply(&document(&feed(vec![alone], vec![pa.clone()])))
        .await;
    let fdb = a.fdb("vxlan-1001").await.unwrap();
    assert!(fdb.is_empty(), "flood and per-MAC entries gone: {fdb:?}");
    // Nothing wanted: the bridge and the VXLAN device go.
    role_a.apply(&document(&feed(vec![], vec![]))).await;
    assert!(a.links_with_prefix("brq").await.unwrap().is_empty());
    assert!(a.links_with_prefix("vxlan-").await.unwrap().is_empty());
}

//! VXLAN through the cloud, proven by traffic: one in-process cloud and
//! two agents holding the network role in two simulated host namespaces
//! joined by a veth underlay, each with its own VTEP address (its
//! registered node address). A tenant (VXLAN) network and a port on each
//! host are created through the API; the instance on host A pings the one
//! on host B, and each host's VXLAN device has the flooding entry and the
//! other instance's MAC toward the other host's VTEP, fed by the cloud's
//! `remote_macs`. When B's port goes, A's entries toward B go too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use agent::net::l2::{vxlan_name, L2Config};
use agent::net::link::{parse_mac, Netlink, ZERO_MAC};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use support::*;
use testkit::require_root;
use testkit::root::Need;

const HA: &str = "oxt-bn-ha";
const HB: &str = "oxt-bn-hb";
const VA: &str = "oxt-bn-va";
const VB: &str = "oxt-bn-vb";
const VTEP_A: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const VTEP_B: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

fn host(
    node: &'static str,
    address: &'static str,
    ns: &'static str,
    prefix: &'static str,
) -> SimHost {
    SimHost {
        node,
        address,
        namespace: ns,
        prefix,
        mappings: BTreeMap::new(),
        dhcp_dir: None,
    }
}

fn l2(vtep: Ipv4Addr, dev: &str) -> L2Config {
    L2Config {
        tunnel_ip: Some(vtep),
        tunnel_dev: Some(dev.into()),
        ..L2Config::default()
    }
}

/// Waits up to 15 s for `dev`'s FDB in `nl` to satisfy `ok`: the last
/// listing.
async fn wait_fdb(
    nl: &Netlink,
    dev: &str,
    what: &str,
    ok: impl Fn(&[([u8; 6], IpAddr)]) -> bool,
) -> Vec<([u8; 6], IpAddr)> {
    let mut last = Vec::new();
    for _ in 0..150 {
        last = nl.fdb(dev).await.unwrap_or_default();
        if ok(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{dev}: {what}: {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn root_vxlan_tenant_network_between_two_hosts_through_the_cloud() {
    require_root!(Need::NetNs, Need::Command("busybox"));
    let _cleanup = Cleanup::create("oxt-bn-", vec![HA, HB, VA, VB], None);
    let a = Netlink::open(Some(HA)).unwrap();
    let b = Netlink::open(Some(HB)).unwrap();
    // The underlay between the two hosts.
    a.add_veth("oxt-bn-u0", "oxt-bn-u1", Some(HB))
        .await
        .unwrap();
    a.add_address("oxt-bn-u0", IpAddr::V4(VTEP_A), 24)
        .await
        .unwrap();
    b.add_address("oxt-bn-u1", IpAddr::V4(VTEP_B), 24)
        .await
        .unwrap();
    a.set_up("oxt-bn-u0").await.unwrap();
    b.set_up("oxt-bn-u1").await.unwrap();

    let cloud = SimCloud::start_with_l2(
        host("oxt-bn-a", "198.51.100.1", HA, "oxt-bn-a-"),
        l2(VTEP_A, "oxt-bn-u0"),
    )
    .await;
    let agent_b = cloud.add_agent(
        host("oxt-bn-b", "198.51.100.2", HB, "oxt-bn-b-"),
        l2(VTEP_B, "oxt-bn-u1"),
    );
    let c = &cloud.admin;

    // A tenant network: VXLAN with a VNI the cloud picks.
    let n = post(c, "/v2.0/networks", json!({"network": {"name": "vx"}})).await;
    assert_eq!(n["network"]["provider:network_type"], "vxlan", "{n}");
    let nid = n["network"]["id"].as_str().unwrap().to_string();
    let vni = u32::try_from(n["network"]["provider:segmentation_id"].as_i64().unwrap()).unwrap();
    let dev = vxlan_name(vni);
    post(
        c,
        "/v2.0/subnets",
        json!({"subnet": {"network_id": nid, "ip_version": 4,
            "cidr": "10.61.0.0/24", "enable_dhcp": false}}),
    )
    .await;
    let (pa, mac_a, ip_a) = port_triple(&bound_port(c, "oxt-bn-a", &nid, "vm-a", json!({})).await);
    let (pb, mac_b, ip_b) = port_triple(&bound_port(c, "oxt-bn-b", &nid, "vm-b", json!({})).await);
    plug_instance(&a, VA, &pa, &mac_a, Some((&ip_a, 24)), None).await;
    plug_instance(&b, VB, &pb, &mac_b, Some((&ip_b, 24)), None).await;
    wait_port(c, &pa, "ACTIVE").await;
    wait_port(c, &pb, "ACTIVE").await;

    // By traffic: A ↔ B through the VXLAN underlay.
    wait_ping(VA, &ip_b).await;
    wait_ping(VB, &ip_a).await;

    // Each host floods to the other's VTEP and has the other's instance
    // MAC toward it (and nothing else).
    let (ma, mb) = (parse_mac(&mac_a).unwrap(), parse_mac(&mac_b).unwrap());
    let want_a = [(ZERO_MAC, IpAddr::V4(VTEP_B)), (mb, IpAddr::V4(VTEP_B))];
    let want_b = [(ZERO_MAC, IpAddr::V4(VTEP_A)), (ma, IpAddr::V4(VTEP_A))];
    wait_fdb(&a, &dev, "B's flood and MAC entries", |f| {
        f.len() == 2 && want_a.iter().all(|w| f.contains(w))
    })
    .await;
    wait_fdb(&b, &dev, "A's flood and MAC entries", |f| {
        f.len() == 2 && want_b.iter().all(|w| f.contains(w))
    })
    .await;

    // A second port on B: its MAC appears on A as well.
    let (pb2, mac_b2, _) = port_triple(&bound_port(c, "oxt-bn-b", &nid, "vm-b2", json!({})).await);
    let mb2 = parse_mac(&mac_b2).unwrap();
    wait_fdb(&a, &dev, "B's second MAC", |f| {
        f.contains(&(mb2, IpAddr::V4(VTEP_B))) && f.contains(&(mb, IpAddr::V4(VTEP_B)))
    })
    .await;
    // ...and goes with it.
    delete(c, &format!("/v2.0/ports/{pb2}")).await;
    wait_fdb(&a, &dev, "B's second MAC removed", |f| {
        !f.iter().any(|(m, _)| *m == mb2) && f.contains(&(mb, IpAddr::V4(VTEP_B)))
    })
    .await;
    // B leaves the network: A has no entry toward it any more.
    delete(c, &format!("/v2.0/ports/{pb}")).await;
    wait_fdb(&a, &dev, "every entry toward B removed", |f| {
        f.iter().all(|(_, d)| *d != IpAddr::V4(VTEP_B))
    })
    .await;
    wait_no_ping(VA, &ip_b).await;

    agent_b.stop().await;
    cloud.stop().await;
}

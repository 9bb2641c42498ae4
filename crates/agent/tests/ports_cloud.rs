//! DHCP and security groups through the real path: an in-process cloud
//! (`dataplane = linux`) and a real agent running the network role in a
//! simulated host namespace. A network and subnet made through the API
//! get their DHCP port plumbed and a dnsmasq in the role's qdhcp
//! namespace (the DHCP port goes ACTIVE); an "instance" namespace whose
//! veth host end is a bound port's tap gets the port's address from it
//! with busybox `udhcpc`; TCP between two instances in a new group (no
//! ingress rules) is dropped until an ingress rule is created through the
//! API. Neutron's `default` group would let them talk at once (it admits
//! its own members), hence the new group.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use agent::net::link::Netlink;
use serde_json::json;
use std::collections::BTreeMap;
use support::{
    blocking, bound_port, connect, plug_instance, port_triple, post, serve, udhcpc, wait_port,
    Cleanup, SimCloud, SimHost,
};
use testkit::require_root;
use testkit::root::Need;

const PREFIX: &str = "oxt-wa-";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_dhcp_and_security_groups_through_the_agent() {
    require_root!(
        Need::NetNs,
        Need::Command("nft"),
        Need::Command("dnsmasq"),
        Need::Command("busybox"),
        Need::Command("python3")
    );
    let (h, vm1, vm2) = ("oxt-wa-h", "oxt-wa-v1", "oxt-wa-v2");
    let dhcp_dir = std::env::temp_dir().join(format!("oxt-wa-dhcp-{}", std::process::id()));
    let _cleanup = Cleanup::create(PREFIX, vec![h, vm1, vm2], Some(dhcp_dir.clone()));
    let host = Netlink::open(Some(h)).unwrap();
    host.add_veth("oxtphys0", "oxtphys1", None).await.unwrap();

    let cloud = SimCloud::start(SimHost {
        node: "oxt-wa-node",
        address: "192.0.2.71",
        namespace: h,
        prefix: PREFIX,
        mappings: BTreeMap::from([("physnet1".into(), "oxtphys0".into())]),
        dhcp_dir: Some(dhcp_dir.clone()),
    })
    .await;
    let (admin, node) = (&cloud.admin, cloud.node);
    // DHCP is scheduled over every network node whose DHCP agent is up
    // (the cloud's own node among them): only this one's stays enabled.
    cloud.only_agent_here("DHCP agent").await;

    let n = post(
        admin,
        "/v2.0/networks",
        json!({"network": {"name": "wa", "provider:network_type": "flat",
            "provider:physical_network": "physnet1"}}),
    )
    .await;
    let nid = n["network"]["id"].as_str().unwrap().to_string();
    post(
        admin,
        "/v2.0/subnets",
        json!({"subnet": {"network_id": nid, "ip_version": 4, "cidr": "10.71.0.0/24"}}),
    )
    .await;
    let g = post(
        admin,
        "/v2.0/security-groups",
        json!({"security_group": {"name": "wa-tcp"}}),
    )
    .await;
    let sg = g["security_group"]["id"].as_str().unwrap().to_string();

    // The network's DHCP port: plumbed, dnsmasq started, reported.
    let dhcp_port = support::dhcp_port(admin, &nid).await;
    wait_port(admin, &dhcp_port, "ACTIVE").await;

    let groups = json!({"security_groups": [sg]});
    let (p1, mac1, ip1) = port_triple(&bound_port(admin, node, &nid, "vm1", groups.clone()).await);
    let (p2, mac2, ip2) = port_triple(&bound_port(admin, node, &nid, "vm2", groups).await);
    plug_instance(&host, vm1, &p1, &mac1, None, None).await;
    plug_instance(&host, vm2, &p2, &mac2, None, None).await;
    wait_port(admin, &p1, "ACTIVE").await;
    wait_port(admin, &p2, "ACTIVE").await;

    // Each instance gets its port's address from the real dnsmasq.
    let udhcpc_dir = tempfile::tempdir().unwrap();
    for (vm, want) in [(vm1, &ip1), (vm2, &ip2)] {
        let dir = udhcpc_dir.path().to_path_buf();
        let got = blocking(move || udhcpc(vm, &dir)).await;
        let _ = std::fs::remove_dir_all(
            std::env::temp_dir().join(format!("oxt-wa-udhcpc-{}", std::process::id())),
        );
        assert_eq!(got.as_deref(), Some(want.as_str()), "{vm}'s lease");
        let inside = Netlink::open(Some(vm)).unwrap();
        inside
            .add_address("eth0", want.parse().unwrap(), 24)
            .await
            .unwrap();
    }

    // The group admits nothing in: vm1 cannot reach vm2's server.
    let (ip2b, ip1b) = (ip2.clone(), ip1.clone());
    let server = blocking(move || serve(vm2, &ip2b, 8080)).await;
    let ip = ip2.clone();
    let r = blocking(move || connect(vm1, &ip, 8080)).await;
    // Dropped, not refused: the SYN never reaches vm2.
    assert!(
        r.as_ref().is_err_and(|e| e.contains("timed out")),
        "TCP without an ingress rule: {r:?}"
    );

    post(
        admin,
        "/v2.0/security-group-rules",
        json!({"security_group_rule": {"security_group_id": sg,
            "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
            "port_range_min": 8080, "port_range_max": 8080}}),
    )
    .await;
    let mut last = Err(String::new());
    for _ in 0..8 {
        let ip = ip2.clone();
        last = blocking(move || connect(vm1, &ip, 8080)).await;
        if last.is_ok() {
            break;
        }
    }
    assert_eq!(last, Ok(ip1b), "TCP after the rule");
    drop(server);

    cloud.stop().await;
}

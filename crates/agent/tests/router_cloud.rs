//! Routers through the real path: a real in-process cloud (`dataplane =
//! linux`) and a real agent with the network role in a "host" namespace.
//! A flat external network rides a veth whose other end is in an
//! "internet" namespace (203.0.113.1/24, no route to the tenant subnets);
//! a router with a gateway joins two flat tenant subnets with one instance
//! namespace each. The instances ping each other through the router, the
//! internet is reached only by SNAT, and a floating IP associated through
//! the API makes an instance reachable from the internet. Router ports and
//! the floating IP are reported ACTIVE; disassociating the floating IP
//! makes it unreachable; deleting the router removes its namespace.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use agent::net::link::Netlink;
use agent::net::netns;
use agent::net::router::namespace_name;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;
use support::{
    bound_port, delete, flat_net, pings, plug_instance, port_triple, post, put, wait_no_ping,
    wait_ping, wait_port, wait_status, Cleanup, SimCloud, SimHost,
};
use testkit::require_root;
use testkit::root::Need;

const PREFIX: &str = "oxt-rc-";

/// Waits up to 10 s for route `dest` to be (or not be) in `ns`.
async fn wait_route(ns: &str, dest: &str, present: bool) {
    for _ in 0..200 {
        let out = Command::new("ip")
            .args(["-n", ns, "-4", "route", "show", dest])
            .output()
            .unwrap();
        assert!(out.status.success());
        if out.stdout.is_empty() != present {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("route {dest} in {ns}: expected present={present}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_a_router_routes_snats_and_serves_a_floating_ip() {
    require_root!(Need::NetNs);
    let (h, inet, vm1, vm2) = ("oxt-rc-h", "oxt-rc-inet", "oxt-rc-v1", "oxt-rc-v2");
    let _cleanup = Cleanup::create(PREFIX, vec![h, inet, vm1, vm2], None);
    let host = Netlink::open(Some(h)).unwrap();
    host.add_veth("oxtext0", "eth0", Some(inet)).await.unwrap();
    host.add_veth("oxtta0", "oxtta1", None).await.unwrap();
    host.add_veth("oxttb0", "oxttb1", None).await.unwrap();
    let internet = Netlink::open(Some(inet)).unwrap();
    internet
        .add_address("eth0", "203.0.113.1".parse().unwrap(), 24)
        .await
        .unwrap();
    internet.set_up("eth0").await.unwrap();
    for l in ["oxtta1", "oxttb1"] {
        host.set_up(l).await.unwrap();
    }

    let cloud = SimCloud::start(SimHost {
        node: "oxt-rc-node",
        address: "192.0.2.62",
        namespace: h,
        prefix: PREFIX,
        mappings: BTreeMap::from([
            ("extnet".into(), "oxtext0".into()),
            ("phys-a".into(), "oxtta0".into()),
            ("phys-b".into(), "oxttb0".into()),
        ]),
        dhcp_dir: None,
    })
    .await;
    let (admin, node) = (&cloud.admin, cloud.node);

    let (ext, _) = flat_net(
        admin,
        "extnet",
        "203.0.113.0/24",
        "203.0.113.1",
        true,
        false,
    )
    .await;
    let (na, sa) = flat_net(admin, "phys-a", "10.81.1.0/24", "10.81.1.1", false, false).await;
    let (nb, sb) = flat_net(admin, "phys-b", "10.81.2.0/24", "10.81.2.1", false, false).await;
    cloud.only_agent_here("L3 agent").await;
    let r = post(
        admin,
        "/v2.0/routers",
        json!({"router": {"name": "r", "external_gateway_info": {"network_id": ext}}}),
    )
    .await;
    let rid = r["router"]["id"].as_str().unwrap().to_string();
    let gw_ip = r["router"]["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
        .as_str()
        .unwrap()
        .to_string();
    let mut legs = Vec::new();
    for s in [&sa, &sb] {
        legs.push(support::router_interface(admin, &rid, s).await);
    }
    let (p1, mac1, a1) = port_triple(&bound_port(admin, node, &na, vm1, json!({})).await);
    plug_instance(&host, vm1, &p1, &mac1, Some((&a1, 24)), Some("10.81.1.1")).await;
    let (p2, mac2, a2) = port_triple(&bound_port(admin, node, &nb, vm2, json!({})).await);
    plug_instance(&host, vm2, &p2, &mac2, Some((&a2, 24)), Some("10.81.2.1")).await;
    // The default group lets its members in, not the internet: allow
    // ping from anywhere so the floating IP can be shown to work.
    let r = admin.get(&format!("/v2.0/ports/{p2}")).await.unwrap();
    let sg = r.body["port"]["security_groups"][0]
        .as_str()
        .unwrap()
        .to_string();
    post(
        admin,
        "/v2.0/security-group-rules",
        json!({"security_group_rule": {"security_group_id": sg, "direction": "ingress",
            "ethertype": "IPv4", "protocol": "icmp", "remote_ip_prefix": "0.0.0.0/0"}}),
    )
    .await;

    // The router's legs are reported ACTIVE once built.
    for l in &legs {
        wait_port(admin, l, "ACTIVE").await;
    }
    let ns = namespace_name(PREFIX, &rid);
    assert!(netns::exists(&ns));

    // East-west through the router.
    wait_ping(vm1, &a2).await;
    wait_ping(vm2, &a1).await;
    // An extra route goes into the router's namespace, and out again.
    let set_routes = |routes: Value| {
        let rid = &rid;
        async move {
            put(
                admin,
                &format!("/v2.0/routers/{rid}"),
                json!({"router": {"routes": routes}}),
            )
            .await;
        }
    };
    set_routes(json!([{"destination": "198.51.100.0/24", "nexthop": a1}])).await;
    wait_route(&ns, "198.51.100.0/24", true).await;
    set_routes(json!([])).await;
    wait_route(&ns, "198.51.100.0/24", false).await;

    // The internet has no route back to 10.81/16: only SNAT to the
    // gateway address brings the reply back.
    wait_ping(vm1, "203.0.113.1").await;
    wait_ping(inet, &gw_ip).await;
    assert!(
        !pings(inet, &a2),
        "a fixed address is reachable without a floating IP"
    );

    // A floating IP for vm2: reachable from the internet, reported ACTIVE.
    let (fid, fip) = support::floating_ip(admin, &ext, &p2).await;
    wait_ping(inet, &fip).await;
    wait_status(
        admin,
        &format!("/v2.0/floatingips/{fid}"),
        "floatingip",
        "ACTIVE",
    )
    .await;

    // Disassociated: no longer answered (its /32 and DNAT are gone).
    put(
        admin,
        &format!("/v2.0/floatingips/{fid}"),
        json!({"floatingip": {"port_id": null}}),
    )
    .await;
    wait_no_ping(inet, &fip).await;

    // The router deleted: its namespace goes.
    delete(admin, &format!("/v2.0/floatingips/{fid}")).await;
    for s in [&sa, &sb] {
        put(
            admin,
            &format!("/v2.0/routers/{rid}/remove_router_interface"),
            json!({"subnet_id": s}),
        )
        .await;
    }
    delete(admin, &format!("/v2.0/routers/{rid}")).await;
    let mut removed = false;
    for _ in 0..200 {
        if !netns::exists(&ns) {
            removed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(removed, "{ns} is still there");

    cloud.stop().await;
}

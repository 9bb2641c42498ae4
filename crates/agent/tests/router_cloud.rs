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

use agent::net::l2::{tap_name, L2Config};
use agent::net::link::{parse_mac, Netlink};
use agent::net::netns;
use agent::net::role::{NetworkRole, NetworkRoleConfig};
use agent::net::router::namespace_name;
use agent::AgentConfig;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use testkit::require_root;
use testkit::root::Need;
use testkit::{Client, TestCloud};

const PREFIX: &str = "oxt-rc-";

/// Removes the test's namespaces and any router namespace the role left.
struct Namespaces(Vec<&'static str>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = netns::delete(n);
        }
        for n in netns::list().unwrap_or_default() {
            if n.starts_with(PREFIX) {
                let _ = netns::delete(&n);
            }
        }
    }
}

fn pings(ns: &str, addr: &str) -> bool {
    Command::new("ip")
        .args([
            "netns", "exec", ns, "busybox", "ping", "-c", "1", "-W", "1", addr,
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Retries for up to 20 s: the role converges in the background.
async fn wait_ping(ns: &str, addr: &str) {
    for _ in 0..20 {
        if pings(ns, addr) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{ns} cannot ping {addr}");
}

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

/// The cloud's own host is a network node too: once this node's L3 agent
/// shows, every other L3 agent is disabled so the router is scheduled
/// here.
async fn only_l3_agent(c: &Client, node: &str) {
    for _ in 0..200 {
        let r = c.get("/v2.0/agents?agent_type=L3%20agent").await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        let agents = r.body["agents"].as_array().cloned().unwrap_or_default();
        if agents.iter().any(|a| a["host"] == node) {
            for a in agents.iter().filter(|a| a["host"] != node) {
                let id = a["id"].as_str().unwrap();
                let r = c
                    .put(
                        &format!("/v2.0/agents/{id}"),
                        Some(json!({"agent": {"admin_state_up": false}})),
                    )
                    .await
                    .unwrap();
                assert_eq!(r.status, 200, "{}", r.text);
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no L3 agent on {node}");
}

async fn post(c: &Client, path: &str, body: Value) -> Value {
    let r = c.post(path, body).await.unwrap();
    assert!(
        r.status == 201 || r.status == 200,
        "{path}: {} {}",
        r.status,
        r.text
    );
    r.body
}

async fn wait_status(c: &Client, path: &str, key: &str, want: &str) {
    let mut last = String::new();
    for _ in 0..300 {
        let r = c.get(path).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        last = r.body[key]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if last == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} is {last}, not {want}");
}

async fn flat_net(
    c: &Client,
    physnet: &str,
    cidr: &str,
    gw: &str,
    external: bool,
) -> (String, String) {
    let n = post(
        c,
        "/v2.0/networks",
        json!({"network": {"name": physnet, "provider:network_type": "flat",
            "provider:physical_network": physnet, "router:external": external}}),
    )
    .await;
    let nid = n["network"]["id"].as_str().unwrap().to_string();
    let s = post(
        c,
        "/v2.0/subnets",
        json!({"subnet": {"network_id": nid, "ip_version": 4, "cidr": cidr,
            "gateway_ip": gw, "enable_dhcp": false}}),
    )
    .await;
    (nid, s["subnet"]["id"].as_str().unwrap().to_string())
}

/// An instance port bound to the node, and its namespace on a tap (which
/// the role plugs), addressed statically.
async fn instance(
    c: &Client,
    host: &Netlink,
    node: &str,
    nid: &str,
    vm: &str,
    gw: &str,
) -> (String, String) {
    let p = post(
        c,
        "/v2.0/ports",
        json!({"port": {"network_id": nid, "binding:host_id": node,
            "device_owner": "compute:nova", "device_id": vm}}),
    )
    .await;
    let pid = p["port"]["id"].as_str().unwrap().to_string();
    let addr = p["port"]["fixed_ips"][0]["ip_address"]
        .as_str()
        .unwrap()
        .to_string();
    let mac = p["port"]["mac_address"].as_str().unwrap();
    host.add_veth(&tap_name(&pid), "eth0", Some(vm))
        .await
        .unwrap();
    let inside = Netlink::open(Some(vm)).unwrap();
    inside
        .set_address("eth0", parse_mac(mac).unwrap())
        .await
        .unwrap();
    inside
        .add_address("eth0", addr.parse().unwrap(), 24)
        .await
        .unwrap();
    inside.set_up("eth0").await.unwrap();
    inside.set_up("lo").await.unwrap();
    inside
        .add_route_v4(std::net::Ipv4Addr::UNSPECIFIED, 0, gw.parse().unwrap())
        .await
        .unwrap();
    (pid, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_a_router_routes_snats_and_serves_a_floating_ip() {
    require_root!(Need::NetNs);
    let (h, inet, vm1, vm2) = ("oxt-rc-h", "oxt-rc-inet", "oxt-rc-v1", "oxt-rc-v2");
    let _ns = Namespaces(vec![h, inet, vm1, vm2]);
    for n in [h, inet, vm1, vm2] {
        netns::delete(n).unwrap();
        netns::create(n).unwrap();
    }
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

    let mappings: BTreeMap<String, String> = BTreeMap::from([
        ("extnet".into(), "oxtext0".into()),
        ("phys-a".into(), "oxtta0".into()),
        ("phys-b".into(), "oxttb0".into()),
    ]);
    let tc = TestCloud::start_with(
        |c| {
            c.dataplane = "linux".into();
            c.update_section::<network::config::NetworkConfig>(|n| {
                n.physical_interface_mappings = mappings.clone();
            })
            .unwrap();
        },
        Arc::new(common::clock::SystemClock),
    )
    .await
    .unwrap();
    let admin = tc.admin().await.unwrap().at(&tc.url("network"));
    let secret = nodes::secret::read(&tc.cloud.state.path.join(nodes::SECRET_FILE)).unwrap();
    let node = "oxt-rc-node";
    let mut cfg = AgentConfig::new(
        &format!("http://{}", tc.cloud.internal_api),
        node,
        vec!["network".into()],
        secret,
    );
    cfg.address = "192.0.2.62".into();
    cfg.poll_timeout = Duration::from_secs(5);
    cfg.backoff_min = Duration::from_millis(50);
    cfg.backoff_max = Duration::from_millis(300);
    let role = NetworkRole::new(NetworkRoleConfig {
        node_prefix: PREFIX.into(),
        namespace: Some(h.into()),
        l2: L2Config {
            physical_mappings: mappings.clone(),
            ..L2Config::default()
        },
        dhcp_state_dir: None,
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let agent_task = tokio::spawn(agent::run(
        cfg,
        vec![Arc::new(role)],
        async {
            let _ = stop_rx.await;
        },
        None,
    ));

    let (ext, _) = flat_net(&admin, "extnet", "203.0.113.0/24", "203.0.113.1", true).await;
    let (na, sa) = flat_net(&admin, "phys-a", "10.81.1.0/24", "10.81.1.1", false).await;
    let (nb, sb) = flat_net(&admin, "phys-b", "10.81.2.0/24", "10.81.2.1", false).await;
    only_l3_agent(&admin, node).await;
    let r = post(
        &admin,
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
        let r = admin
            .put(
                &format!("/v2.0/routers/{rid}/add_router_interface"),
                Some(json!({"subnet_id": s})),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        legs.push(r.body["port_id"].as_str().unwrap().to_string());
    }
    let (_p1, a1) = instance(&admin, &host, node, &na, vm1, "10.81.1.1").await;
    let (p2, a2) = instance(&admin, &host, node, &nb, vm2, "10.81.2.1").await;
    // The default group lets its members in, not the internet: allow
    // ping from anywhere so the floating IP can be shown to work.
    let r = admin.get(&format!("/v2.0/ports/{p2}")).await.unwrap();
    let sg = r.body["port"]["security_groups"][0]
        .as_str()
        .unwrap()
        .to_string();
    post(
        &admin,
        "/v2.0/security-group-rules",
        json!({"security_group_rule": {"security_group_id": sg, "direction": "ingress",
            "ethertype": "IPv4", "protocol": "icmp", "remote_ip_prefix": "0.0.0.0/0"}}),
    )
    .await;

    // The router's legs are reported ACTIVE once built.
    for l in &legs {
        wait_status(&admin, &format!("/v2.0/ports/{l}"), "port", "ACTIVE").await;
    }
    let ns = namespace_name(PREFIX, &rid);
    assert!(netns::exists(&ns));

    // East-west through the router.
    wait_ping(vm1, &a2).await;
    wait_ping(vm2, &a1).await;
    // An extra route goes into the router's namespace, and out again.
    let set_routes = |routes: Value| {
        let admin = &admin;
        let rid = &rid;
        async move {
            let r = admin
                .put(
                    &format!("/v2.0/routers/{rid}"),
                    Some(json!({"router": {"routes": routes}})),
                )
                .await
                .unwrap();
            assert_eq!(r.status, 200, "{}", r.text);
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
    let f = post(
        &admin,
        "/v2.0/floatingips",
        json!({"floatingip": {"floating_network_id": ext, "port_id": p2}}),
    )
    .await;
    let fid = f["floatingip"]["id"].as_str().unwrap().to_string();
    let fip = f["floatingip"]["floating_ip_address"]
        .as_str()
        .unwrap()
        .to_string();
    wait_ping(inet, &fip).await;
    wait_status(
        &admin,
        &format!("/v2.0/floatingips/{fid}"),
        "floatingip",
        "ACTIVE",
    )
    .await;

    // Disassociated: no longer answered (its /32 and DNAT are gone).
    let r = admin
        .put(
            &format!("/v2.0/floatingips/{fid}"),
            Some(json!({"floatingip": {"port_id": null}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let mut gone = false;
    for _ in 0..40 {
        if !pings(inet, &fip) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(gone, "{fip} still answers after disassociation");

    // The router deleted: its namespace goes.
    let r = admin
        .delete(&format!("/v2.0/floatingips/{fid}"))
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    for s in [&sa, &sb] {
        let r = admin
            .put(
                &format!("/v2.0/routers/{rid}/remove_router_interface"),
                Some(json!({"subnet_id": s})),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = admin.delete(&format!("/v2.0/routers/{rid}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let mut removed = false;
    for _ in 0..200 {
        if !netns::exists(&ns) {
            removed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(removed, "{ns} is still there");

    stop_tx.send(()).unwrap();
    agent_task.await.unwrap().unwrap();
    tc.stop().await;
}

//! The data plane end to end with the real binary: `oxistack up
//! --dataplane linux --compute-driver fake` runs inside a "host"
//! namespace (`oxe-host`) whose `neutron_external_interface` is a veth to
//! an upstream router namespace (`oxe-up`: 192.0.2.1 on the external
//! segment, forwarding to an "internet" `oxe-inet` on 203.0.113.0/24 and
//! an operator client `oxe-client` on 192.168.50.0/24; no NAT there).
//! The cloud listens on an underlay veth (198.51.100.1, also its VXLAN
//! endpoint by default) toward a compute-only host `oxe-cmp` running the
//! real `oxistack agent --roles compute` (198.51.100.2). The test's API
//! client runs inside `oxe-host`. "Instances" are namespaces whose `eth0`
//! is the peer of a port's `tap…` in the host namespace their port is
//! bound to. Proven by traffic: DHCP leases from busybox `udhcpc`
//! (address, router, MTU, classless routes), also on the compute-only
//! host over VXLAN; ping and TCP between two ports of a VXLAN network,
//! ping across the two hosts, routing between two subnets through a
//! router, SNAT to the
//! internet (its server sees the router's gateway address, and the reply
//! comes back through conntrack), a floating IP reachable from the
//! client, a security group that blocks TCP to it until a rule allows it,
//! and a port forwarding. At the end the cloud is killed and everything
//! removed (also on panic), and the test checks nothing is left: no
//! `oxe-` namespace, no new link in the test's own namespace, no process
//! of the cloud's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../agent/tests/support/mod.rs"]
mod support;

use agent::net::link::Netlink;
use agent::net::netns;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::{
    blocking, bound_port, connect, port_triple, post, serve, wait_ping, wait_port, wait_status,
    Cleanup, Server,
};
use testkit::root::Need;
use testkit::{require_root, Client};

const PREFIX: &str = "oxe-";
const HOST: &str = "oxe-host";
const UP: &str = "oxe-up";
const INET: &str = "oxe-inet";
const CLIENT: &str = "oxe-client";
const VM1: &str = "oxe-vm1";
const VM2: &str = "oxe-vm2";
const VM3: &str = "oxe-vm3";
const VM4: &str = "oxe-vm4";
/// A compute-only host (`oxistack agent --roles compute`), joined to
/// the cloud's host by an underlay veth (198.51.100.0/24).
const CMP: &str = "oxe-cmp";
const CMP_NODE: &str = "oxe-cmp-node";

/// What busybox `udhcpc` was given: `ip`, `router`, `mtu`, `staticroutes`.
#[derive(Debug, Default)]
struct Lease {
    ip: String,
    router: String,
    mtu: String,
    staticroutes: String,
}

/// One DHCP exchange from `vm`'s eth0 (the interface is not configured:
/// the test configures it from the lease).
fn lease(vm: &str, dir: &Path) -> Option<Lease> {
    std::fs::create_dir_all(dir).unwrap();
    let out = dir.join(format!("{vm}.lease"));
    let script = dir.join(format!("{vm}.sh"));
    let body = format!(
        "#!/bin/sh\n[ \"$1\" = bound ] && printf 'ip=%s\\nrouter=%s\\nmtu=%s\\nstaticroutes=%s\\n' \
         \"$ip\" \"$router\" \"$mtu\" \"$staticroutes\" > {}\nexit 0\n",
        out.display()
    );
    if !support::run_udhcpc(vm, &script, &body, &["-O", "mtu", "-O", "staticroutes"]) {
        return None;
    }
    let text = std::fs::read_to_string(&out).ok()?;
    let mut l = Lease::default();
    for line in text.lines() {
        let (k, v) = line.split_once('=')?;
        let v = v.trim().to_string();
        match k {
            "ip" => l.ip = v,
            "router" => l.router = v,
            "mtu" => l.mtu = v,
            "staticroutes" => l.staticroutes = v,
            _ => {}
        }
    }
    Some(l)
}

/// Names of the links in the test's own namespace.
fn own_links() -> Vec<String> {
    netns::run_in(None, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            Netlink::open(None)
                .unwrap()
                .links()
                .await
                .unwrap()
                .into_iter()
                .map(|l| l.name)
                .collect()
        })
    })
    .unwrap()
}

/// Pids whose command line mentions `needle` (the cloud's state dir).
fn processes_mentioning(needle: &str) -> Vec<String> {
    support::processes()
        .into_iter()
        .filter(|(_, c)| String::from_utf8_lossy(c).contains(needle))
        .map(|(pid, c)| format!("{pid}: {}", String::from_utf8_lossy(&c).replace('\0', " ")))
        .collect()
}

/// The upstream: `oxe-up` routes between the external segment (toward
/// the host's `oxe-ext`), the internet and the client, with no NAT.
async fn build_upstream() {
    let host = Netlink::open(Some(HOST)).unwrap();
    host.set_up("lo").await.unwrap();
    // The underlay (the cloud listens here; VXLAN endpoints).
    host.add_veth("oxe-ul", "ul0", Some(CMP)).await.unwrap();
    host.add_address("oxe-ul", "198.51.100.1".parse().unwrap(), 24)
        .await
        .unwrap();
    host.set_up("oxe-ul").await.unwrap();
    let cmp = Netlink::open(Some(CMP)).unwrap();
    cmp.add_address("ul0", "198.51.100.2".parse().unwrap(), 24)
        .await
        .unwrap();
    cmp.set_up("ul0").await.unwrap();
    cmp.set_up("lo").await.unwrap();
    host.add_veth("oxe-ext", "ext0", Some(UP)).await.unwrap();
    host.set_up("oxe-ext").await.unwrap();
    let up = Netlink::open(Some(UP)).unwrap();
    up.add_veth("inet0", "eth0", Some(INET)).await.unwrap();
    up.add_veth("cli0", "eth0", Some(CLIENT)).await.unwrap();
    for (dev, addr) in [
        ("ext0", "192.0.2.1"),
        ("inet0", "203.0.113.254"),
        ("cli0", "192.168.50.1"),
    ] {
        up.add_address(dev, addr.parse().unwrap(), 24)
            .await
            .unwrap();
        up.set_up(dev).await.unwrap();
    }
    up.set_up("lo").await.unwrap();
    netns::run_in(Some(UP), || {
        std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").unwrap();
    })
    .unwrap();
    for (ns, addr, gw) in [
        (INET, "203.0.113.1", "203.0.113.254"),
        (CLIENT, "192.168.50.10", "192.168.50.1"),
    ] {
        let nl = Netlink::open(Some(ns)).unwrap();
        nl.add_address("eth0", addr.parse().unwrap(), 24)
            .await
            .unwrap();
        nl.set_up("eth0").await.unwrap();
        nl.set_up("lo").await.unwrap();
        nl.add_route_v4(std::net::Ipv4Addr::UNSPECIFIED, 0, gw.parse().unwrap())
            .await
            .unwrap();
    }
}

/// Starts `oxistack agent --roles compute` in `oxe-cmp`, against the
/// cloud's internal API on the underlay.
fn start_compute(state: &Path, tmp: &Path) -> Server {
    let log = std::fs::File::create(tmp.join("compute.log")).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oxistack"));
    cmd.arg("agent")
        .args(["--controller", "http://198.51.100.1:9800"])
        .args(["--node-name", CMP_NODE, "--roles", "compute"])
        .args(["--address", "198.51.100.2", "--tunnel-ip", "198.51.100.2"])
        .args(["--node-prefix", "oxe-c-"])
        .arg("--config")
        .arg(tmp.join("none.toml"))
        .arg("--secret-file")
        .arg(state.join("node-secret"))
        .arg("--state-dir")
        .arg(tmp.join("compute"))
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(log);
    std::fs::write(tmp.join("none.toml"), "").unwrap();
    Server(netns::spawn_in(Some(CMP), cmd).unwrap())
}

/// Starts `oxistack up` in `oxe-host` and waits for its ready line: the
/// process and its (identity, network) URLs.
fn start_cloud(state: &Path) -> (Server, String, String) {
    let config = state.with_extension("toml");
    std::fs::write(
        &config,
        "listen = \"198.51.100.1\"\nneutron_external_interface = \"oxe-ext\"\n\
         [agent]\nnode_prefix = \"oxe-\"\n",
    )
    .unwrap();
    let log = std::fs::File::create(state.with_extension("log")).unwrap();
    // Started in the host's network namespace only (not `ip netns exec`,
    // whose private mount namespace would hide the namespaces the role
    // names under /run/netns from everyone else).
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oxistack"));
    cmd.arg("up")
        .args(["--dataplane", "linux", "--compute-driver", "fake"])
        .arg("--config")
        .arg(&config)
        .arg("--state-dir")
        .arg(state)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(log);
    let mut child = netns::spawn_in(Some(HOST), cmd).unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut lines = BufReader::new(stdout).lines();
    let ready = loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("oxistack ready:") => break l,
            Some(Ok(_)) => continue,
            _ => panic!(
                "oxistack up ended before it was ready: {}",
                std::fs::read_to_string(state.with_extension("log")).unwrap_or_default()
            ),
        }
    };
    // Its stdout stays open (and drained) while it runs: a closed pipe
    // would fail its next line.
    std::thread::spawn(move || lines.for_each(drop));
    let url = |name: &str| {
        ready
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_string()
    };
    (server, url("identity"), url("network"))
}

/// Removes the test's directory (state, logs) when it ends, also on
/// panic (the failure message carries the logs).
struct RemoveDir(std::path::PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn root_oxistack_up_runs_the_network_data_plane() {
    require_root!(
        Need::NetNs,
        Need::Command("busybox"),
        Need::Command("python3"),
        Need::Command("dnsmasq"),
        Need::Command("nft")
    );
    let before = own_links();
    let tmp = std::env::temp_dir().join(format!("oxe-{}", common::ids::hex_id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let _tmp = RemoveDir(tmp.clone());
    let state = tmp.join("state");
    let state_str = state.display().to_string();
    {
        // Dropped last: namespaces, the role's dnsmasq servers and files.
        let _cleanup = Cleanup::create(
            PREFIX,
            vec![HOST, UP, INET, CLIENT, CMP, VM1, VM2, VM3, VM4],
            Some(agent::config::default_dhcp_dir(&state)),
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(build_upstream());
        // Dropped first: the cloud is killed before its namespaces go.
        let (_cloud, identity, network) = start_cloud(&state);
        let _compute = start_compute(&state, &tmp);
        let (s, t) = (state.clone(), tmp.clone());
        // The API client runs inside the host namespace.
        let r = netns::run_in(Some(HOST), move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(scenario(&s, &t, &identity, &network));
        });
        if r.is_err() {
            panic!(
                "the scenario failed; the cloud's log:\n{}\nthe compute agent's log:\n{}",
                std::fs::read_to_string(state.with_extension("log")).unwrap_or_default(),
                std::fs::read_to_string(tmp.join("compute.log")).unwrap_or_default()
            );
        }
    }
    let left: Vec<String> = netns::list()
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with(PREFIX))
        .collect();
    assert!(left.is_empty(), "namespaces left: {left:?}");
    let new: Vec<String> = own_links()
        .into_iter()
        .filter(|l| !before.contains(l))
        .filter(|l| {
            ["oxe", "tap", "brq", "vxlan-", "qr-", "qg-", "ns-"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect();
    assert!(new.is_empty(), "links left: {new:?}");
    let procs = processes_mentioning(&state_str);
    assert!(procs.is_empty(), "processes left: {procs:?}");
}

async fn scenario(state: &Path, tmp: &Path, identity: &str, network: &str) {
    let password =
        std::fs::read_to_string(state.join(oxistack::state::ADMIN_PASSWORD_FILE)).unwrap();
    let token = Client::new(identity.trim_end_matches("/v3"))
        .password_token("admin", password.trim(), Some(("admin", "Default")))
        .await
        .unwrap();
    let admin = Client::new(network).with_token(&token);
    let node = agent::hostname();
    let host = Netlink::open(Some(HOST)).unwrap();

    // The external network on physnet1 (neutron_external_interface).
    let ext = post(
        &admin,
        "/v2.0/networks",
        json!({"network": {"name": "public", "provider:network_type": "flat",
            "provider:physical_network": "physnet1", "router:external": true}}),
    )
    .await["network"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    post(
        &admin,
        "/v2.0/subnets",
        json!({"subnet": {"network_id": ext, "ip_version": 4, "cidr": "192.0.2.0/24",
            "gateway_ip": "192.0.2.1", "enable_dhcp": false,
            "allocation_pools": [{"start": "192.0.2.100", "end": "192.0.2.199"}]}}),
    )
    .await;
    // A tenant (VXLAN) network with DHCP behind a router.
    let net = post(
        &admin,
        "/v2.0/networks",
        json!({"network": {"name": "private"}}),
    )
    .await;
    let nid = net["network"]["id"].as_str().unwrap().to_string();
    let mtu = net["network"]["mtu"].as_i64().unwrap();
    let sub = post(
        &admin,
        "/v2.0/subnets",
        json!({"subnet": {"network_id": nid, "ip_version": 4, "cidr": "10.90.0.0/24",
            "gateway_ip": "10.90.0.1"}}),
    )
    .await["subnet"]["id"]
        .as_str()
        .unwrap()
        .to_string();
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
    let leg = support::router_interface(&admin, &rid, &sub).await;
    wait_port(&admin, &leg, "ACTIVE").await;
    // The network's DHCP port: plumbed in its qdhcp namespace, dnsmasq
    // running, reported ACTIVE.
    wait_port(&admin, &support::dhcp_port(&admin, &nid).await, "ACTIVE").await;

    // Two instances: leases with the right address, router, MTU, routes.
    let cmp = Netlink::open(Some(CMP)).unwrap();
    let mut vms = Vec::new();
    for (vm, on, nl) in [
        (VM1, node.as_str(), &host),
        (VM2, &node, &host),
        (VM4, CMP_NODE, &cmp),
    ] {
        let (p, mac, a) = port_triple(&bound_port(&admin, on, &nid, vm, json!({})).await);
        support::plug_instance(nl, vm, &p, &mac, None, None).await;
        wait_port(&admin, &p, "ACTIVE").await;
        let mut got = None;
        for _ in 0..10 {
            let (v, d) = (vm.to_string(), tmp.to_path_buf());
            got = blocking(move || lease(&v, &d)).await;
            if got.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let l = got.unwrap_or_else(|| {
            let ns = Command::new("ip").args(["netns", "list"]).output().unwrap();
            let ps = Command::new("ps").args(["-ef"]).output().unwrap();
            panic!(
                "{vm} got no DHCP lease; namespaces:\n{}\n{}",
                String::from_utf8_lossy(&ns.stdout),
                String::from_utf8_lossy(&ps.stdout)
                    .lines()
                    .filter(|l| l.contains("dnsmasq"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        assert_eq!(l.ip, a, "{vm}: {l:?}");
        assert_eq!(l.router, "10.90.0.1", "{vm}: {l:?}");
        assert_eq!(l.mtu, mtu.to_string(), "{vm}: {l:?}");
        assert!(
            l.staticroutes.contains("0.0.0.0/0 10.90.0.1")
                && l.staticroutes.contains("169.254.169.254/32"),
            "{vm}: {l:?}"
        );
        // Configured from the lease.
        let inside = Netlink::open(Some(vm)).unwrap();
        inside
            .add_address("eth0", l.ip.parse().unwrap(), 24)
            .await
            .unwrap();
        inside.set_mtu("eth0", mtu as u32).await.unwrap();
        inside
            .add_route_v4(
                std::net::Ipv4Addr::UNSPECIFIED,
                0,
                l.router.parse().unwrap(),
            )
            .await
            .unwrap();
        vms.push((p, a));
    }
    let ((p1, a1), (p2, a2), (_, a4)) = (vms[0].clone(), vms[1].clone(), vms[2].clone());

    // The compute-only host plugged its port (reported ACTIVE above, as
    // its `compute` role's `network_ports`), and its instance, leased by
    // the network node's dnsmasq over VXLAN, reaches one on the other
    // host.
    wait_ping(VM4, &a1).await;
    wait_ping(VM1, &a4).await;

    // A second subnet on the router: routed to and from the first.
    let net2 = post(
        &admin,
        "/v2.0/networks",
        json!({"network": {"name": "second"}}),
    )
    .await;
    let nid2 = net2["network"]["id"].as_str().unwrap().to_string();
    let sub2 = post(
        &admin,
        "/v2.0/subnets",
        json!({"subnet": {"network_id": nid2, "ip_version": 4, "cidr": "10.91.0.0/24",
            "gateway_ip": "10.91.0.1", "enable_dhcp": false}}),
    )
    .await["subnet"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let leg2 = support::router_interface(&admin, &rid, &sub2).await;
    let (p3, mac3, a3) = port_triple(&bound_port(&admin, &node, &nid2, VM3, json!({})).await);
    support::plug_instance(&host, VM3, &p3, &mac3, Some((&a3, 24)), Some("10.91.0.1")).await;
    Netlink::open(Some(VM3))
        .unwrap()
        .set_mtu("eth0", mtu as u32)
        .await
        .unwrap();
    wait_port(&admin, &leg2, "ACTIVE").await;
    wait_port(&admin, &p3, "ACTIVE").await;
    wait_ping(VM3, &a1).await;
    wait_ping(VM1, &a3).await;

    // East-west: ping and TCP between the two ports (the default group
    // lets its members in).
    wait_ping(VM1, &a2).await;
    wait_ping(VM2, &a1).await;
    let (ns, a) = (VM2, a2.clone());
    let srv = blocking(move || serve(ns, &a, 7000)).await;
    let a = a2.clone();
    let seen = blocking(move || connect(VM1, &a, 7000)).await;
    assert_eq!(seen.as_deref(), Ok(a1.as_str()));
    drop(srv);

    // SNAT: the internet has no route to 10.90/24; its server sees the
    // router's gateway address, and the reply comes back to the instance
    // although no ingress rule admits the internet (conntrack).
    let srv = blocking(|| serve(INET, "203.0.113.1", 8080)).await;
    let seen = blocking(|| connect(VM1, "203.0.113.1", 8080)).await;
    assert_eq!(seen.as_deref(), Ok(gw_ip.as_str()));
    drop(srv);

    // A floating IP for vm2, reachable from the client once a rule lets
    // ICMP in; TCP to it is dropped until a rule allows the port.
    let sg = admin.get(&format!("/v2.0/ports/{p2}")).await.unwrap().body["port"]["security_groups"]
        [0]
    .as_str()
    .unwrap()
    .to_string();
    let rule = |proto: &str, port: Option<u16>| {
        let mut r = json!({"security_group_id": sg, "direction": "ingress",
            "ethertype": "IPv4", "protocol": proto, "remote_ip_prefix": "0.0.0.0/0"});
        if let Some(p) = port {
            r["port_range_min"] = json!(p);
            r["port_range_max"] = json!(p);
        }
        json!({ "security_group_rule": r })
    };
    post(&admin, "/v2.0/security-group-rules", rule("icmp", None)).await;
    let (fid, fip) = support::floating_ip(&admin, &ext, &p2).await;
    wait_status(
        &admin,
        &format!("/v2.0/floatingips/{fid}"),
        "floatingip",
        "ACTIVE",
    )
    .await;
    wait_ping(CLIENT, &fip).await;
    let a = a2.clone();
    let srv = blocking(move || serve(VM2, &a, 8000)).await;
    let f2 = fip.clone();
    let blocked = blocking(move || connect(CLIENT, &f2, 8000)).await;
    assert!(
        blocked.is_err(),
        "TCP reached vm2 with no rule: {blocked:?}"
    );
    drop(srv);
    post(
        &admin,
        "/v2.0/security-group-rules",
        rule("tcp", Some(8000)),
    )
    .await;
    let a = a2.clone();
    let srv = blocking(move || serve(VM2, &a, 8000)).await;
    let mut seen = Err(String::new());
    for _ in 0..20 {
        let f2 = fip.clone();
        seen = blocking(move || connect(CLIENT, &f2, 8000)).await;
        if seen.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // No NAT on the way in: vm2 sees the client itself.
    assert_eq!(seen.as_deref(), Ok("192.168.50.10"));
    drop(srv);

    // A port forwarding: a second floating IP's port 2222 to vm1:8001.
    post(
        &admin,
        "/v2.0/security-group-rules",
        rule("tcp", Some(8001)),
    )
    .await;
    let f = post(
        &admin,
        "/v2.0/floatingips",
        json!({"floatingip": {"floating_network_id": ext}}),
    )
    .await;
    let fid2 = f["floatingip"]["id"].as_str().unwrap().to_string();
    let fip2 = f["floatingip"]["floating_ip_address"]
        .as_str()
        .unwrap()
        .to_string();
    post(
        &admin,
        &format!("/v2.0/floatingips/{fid2}/port_forwardings"),
        json!({"port_forwarding": {"protocol": "tcp", "internal_ip_address": a1,
            "internal_port": 8001, "internal_port_id": p1, "external_port": 2222}}),
    )
    .await;
    let a = a1.clone();
    let srv = blocking(move || serve(VM1, &a, 8001)).await;
    let mut seen = Err(String::new());
    for _ in 0..40 {
        let f2 = fip2.clone();
        seen = blocking(move || connect(CLIENT, &f2, 2222)).await;
        if seen.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(seen.as_deref(), Ok("192.168.50.10"));
    drop(srv);
}

/// `up --dataplane linux` refuses to start, before writing anything,
/// when a tool of the data plane is missing (naming its package) or an
/// `[agent]` value is bad (naming the key). Needs no root: nothing on
/// the host is touched.
#[test]
fn up_refuses_a_missing_tool_or_a_bad_agent_setting() {
    let tmp = std::env::temp_dir().join(format!("oxe-refuse-{}", common::ids::hex_id()));
    let _tmp = RemoveDir(tmp.clone());
    let state = tmp.join("state");
    let run = |env: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_oxistack"));
        cmd.args(["up", "--dataplane", "linux", "--compute-driver", "fake"])
            .arg("--config")
            .arg(tmp.join("none.toml"))
            .arg("--state-dir")
            .arg(&state)
            .env_remove("RUST_LOG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("none.toml"), "").unwrap();
    let empty = tmp.join("bin");
    std::fs::create_dir_all(&empty).unwrap();
    let e = run(&[("PATH", empty.to_str().unwrap())]);
    assert!(
        e.contains("nft (package nftables)")
            && e.contains("dnsmasq (package dnsmasq-base")
            && e.contains("dhcp_release (package dnsmasq-utils)"),
        "{e}"
    );
    let e = run(&[("OXISTACK_AGENT_LOCAL_IP", "10.0.0")]);
    assert!(
        e.contains("agent.local_ip \"10.0.0\" is not an IPv4 address"),
        "{e}"
    );
    assert!(!state.exists(), "a refused start wrote {}", state.display());
}

//! The network agent killed at any moment converges on restart, without
//! duplicates and without leaks (issue 14: "Agent kill -9 in the middle of
//! convergence, restart, converge").
//!
//! A real in-process cloud (`dataplane = linux`) is the controller; the
//! real `oxistack agent` binary runs the network role in a simulated host
//! namespace (`--netns`, `--node-prefix oxt-kc-`, its own
//! `--dhcp-state-dir`). Through the API: three flat networks with DHCP, 20
//! bound ports whose taps are veths, a router with a leg on each network,
//! a gateway and a floating IP. The converged state is recorded (the
//! role's namespaces, the links in the host namespace and in each of
//! them, every nft table, chain, set and rule there, the dnsmasq
//! processes) and proven by traffic (a DHCP lease from busybox `udhcpc`,
//! a ping to the router, SNAT to an "internet" namespace, the floating IP
//! reachable from there).
//!
//! Then: the agent is killed (SIGKILL), the dnsmasq pid files are
//! removed (an agent with no memory), the bridges, the router's namespace
//! and a DHCP namespace (its dnsmasq left running in the unnamed
//! namespace) are deleted behind its back, and three agents are killed
//! again a moment after start, in the middle of rebuilding; the last
//! one converges to exactly the recorded state (one dnsmasq per network,
//! no second veth, rule or namespace) and the traffic works again. Then
//! the agent is killed, one network with its ports, router leg and the
//! floating IP are deleted while it is down, and the restarted agent
//! removes their leftovers. Last, everything else is deleted through the
//! API while the agent runs: no namespace, device, nft table or dnsmasq
//! of oxistack's is left. The guard removes the rest even on failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../agent/tests/support/mod.rs"]
mod support;

use agent::net::l2::{bridge_name, tap_name};
use agent::net::link::Netlink;
use agent::net::netns;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::{
    blocking, bound_port, delete, flat_net, linux_cloud, only_agent_at, plug_instance, port_triple,
    post, put, udhcpc, wait_ping, wait_port, wait_status, Cleanup, Server, SimCloud, SimHost,
};
use testkit::require_root;
use testkit::root::Need;

/// The role's node prefix: its namespaces are `oxt-kc-q…`.
const PREFIX: &str = "oxt-kc-";
/// The guard's prefix: the role's namespaces and the test's own.
const GUARD: &str = "oxt-kc";
const NODE: &str = "oxt-kc-node";
const PORTS: usize = 20;

/// The tests' guards remove every `oxt-kc…` namespace: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct AgentArgs {
    controller: String,
    secret_file: PathBuf,
    dhcp_dir: PathBuf,
    log: PathBuf,
}

/// Starts `oxistack agent`; SIGKILLed when dropped.
fn start_agent(a: &AgentArgs) -> Server {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&a.log)
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_oxistack"))
        .args(["agent", "--controller", &a.controller, "--node-name", NODE])
        .args(["--roles", "network", "--address", "192.0.2.63"])
        .arg("--secret-file")
        .arg(&a.secret_file)
        .args(["--netns", "oxt-kch", "--node-prefix", PREFIX])
        .arg("--dhcp-state-dir")
        .arg(&a.dhcp_dir)
        .args([
            "--physical-interface-mappings",
            "extnet:oxkext0,phys-a:oxkpa0,phys-b:oxkpb0,phys-c:oxkpc0",
            "--log-level",
            "info",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Server(child)
}

/// What of oxistack's is on the machine, per namespace: the role's
/// namespaces, the link names in the host namespace and in each of them,
/// every nft table, chain, set and rule there (rules with their
/// expressions, counters blanked: a duplicated rule shows twice), and
/// the dnsmasq processes of the state directory.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    namespaces: Vec<String>,
    links: BTreeMap<String, Vec<String>>,
    nft: BTreeMap<String, Vec<String>>,
    dnsmasq: usize,
}

fn links(ns: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["-j", "-n", ns, "link", "show"])
        .output()
        .unwrap();
    if !out.status.success() {
        // The namespace went while listing.
        return Vec::new();
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let mut names: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l["ifname"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Counters change with traffic; what they count is not the state.
fn scrub(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.contains_key("counter") {
                m.insert("counter".into(), Value::Null);
            }
            m.remove("handle");
            m.values_mut().for_each(scrub);
        }
        Value::Array(a) => a.iter_mut().for_each(scrub),
        _ => {}
    }
}

fn nft(ns: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-j", "list", "ruleset"])
        .output()
        .unwrap();
    if !out.status.success() {
        return Vec::new();
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let mut items = Vec::new();
    for item in v["nftables"].as_array().cloned().unwrap_or_default() {
        let Some((kind, body)) = item.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        if kind == "metainfo" {
            continue;
        }
        let mut body = body.clone();
        scrub(&mut body);
        items.push(format!("{kind} {body}"));
    }
    items.sort();
    items
}

/// The live dnsmasq processes started with a pid file under `dir`.
fn dnsmasqs(dir: &Path) -> usize {
    let want = format!("--pid-file={}/", dir.display());
    support::processes()
        .into_iter()
        .filter(|(_, c)| {
            c.split(|b| *b == 0)
                .any(|a| String::from_utf8_lossy(a).starts_with(&want))
        })
        .count()
}

fn snapshot(host: &str, dhcp_dir: &Path) -> Snapshot {
    let namespaces: Vec<String> = netns::list()
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with(PREFIX))
        .collect();
    let mut l = BTreeMap::new();
    let mut n = BTreeMap::new();
    for ns in std::iter::once(host.to_string()).chain(namespaces.iter().cloned()) {
        l.insert(ns.clone(), links(&ns));
        n.insert(ns.clone(), nft(&ns));
    }
    Snapshot {
        namespaces,
        links: l,
        nft: n,
        dnsmasq: dnsmasqs(dhcp_dir),
    }
}

/// Waits up to `secs` for a snapshot that `ok` accepts; the last one.
async fn wait_snapshot(
    host: &'static str,
    dhcp_dir: &Path,
    secs: u64,
    what: &str,
    ok: impl Fn(&Snapshot) -> bool,
) -> Snapshot {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let d = dhcp_dir.to_path_buf();
        let s = blocking(move || snapshot(host, &d)).await;
        if ok(&s) {
            return s;
        }
        if std::time::Instant::now() > deadline {
            panic!("{what}: not reached in {secs} s; last state: {s:#?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What `got` has that `want` has not (+) and the reverse (-).
fn diff(want: &Snapshot, got: &Snapshot) -> String {
    let mut out = format!(
        "namespaces {:?} -> {:?}; dnsmasq {} -> {}\n",
        want.namespaces, got.namespaces, want.dnsmasq, got.dnsmasq
    );
    for (what, w, g) in [
        ("link", &want.links, &got.links),
        ("nft", &want.nft, &got.nft),
    ] {
        let keys: BTreeSet<&String> = w.keys().chain(g.keys()).collect();
        for k in keys {
            let (wv, gv) = (
                w.get(k).cloned().unwrap_or_default(),
                g.get(k).cloned().unwrap_or_default(),
            );
            let mut rest = gv.clone();
            for x in &wv {
                match rest.iter().position(|y| y == x) {
                    Some(i) => {
                        rest.remove(i);
                    }
                    None => out.push_str(&format!("- {k} {what} {x}\n")),
                }
            }
            for x in rest {
                out.push_str(&format!("+ {k} {what} {x}\n"));
            }
        }
    }
    out
}

/// Waits up to `secs` for exactly `want`.
async fn wait_equal(host: &'static str, dhcp_dir: &Path, secs: u64, want: &Snapshot) -> Snapshot {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let d = dhcp_dir.to_path_buf();
        let s = blocking(move || snapshot(host, &d)).await;
        if s == *want {
            return s;
        }
        if std::time::Instant::now() > deadline {
            panic!(
                "not the reference state after {secs} s:\n{}",
                diff(want, &s)
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits for two equal snapshots a second apart (nothing converging).
async fn settled(host: &'static str, dhcp_dir: &Path) -> Snapshot {
    let mut last = None;
    for _ in 0..30 {
        let d = dhcp_dir.to_path_buf();
        let s = blocking(move || snapshot(host, &d)).await;
        if last.as_ref() == Some(&s) {
            return s;
        }
        last = Some(s);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("the state does not settle: {last:#?}");
}

/// The network subdirectories of the DHCP state directory.
fn state_dirs(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|es| {
            es.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Traffic through what the agent built: vm1 gets its address from the
/// network's dnsmasq, reaches its router and (by SNAT) the internet, and
/// the internet reaches it at its floating IP.
async fn traffic(v1: &'static str, addr: &str, udhcpc_dir: &Path, fip: Option<&str>) {
    let mut lease = None;
    for _ in 0..10 {
        let d = udhcpc_dir.to_path_buf();
        lease = blocking(move || udhcpc(v1, &d)).await;
        if lease.is_some() {
            break;
        }
    }
    assert_eq!(lease.as_deref(), Some(addr), "the DHCP lease of {v1}");
    // The test's client only reports the lease: the address is set here.
    for cmd in [
        vec!["addr", "replace", &format!("{addr}/24"), "dev", "eth0"],
        vec!["route", "replace", "default", "via", "10.83.1.1"],
    ] {
        let st = Command::new("ip")
            .args(["-n", v1])
            .args(&cmd)
            .status()
            .unwrap();
        assert!(st.success(), "ip {cmd:?}");
    }
    wait_ping(v1, "10.83.1.1").await;
    if let Some(f) = fip {
        wait_ping(v1, "203.0.113.1").await;
        wait_ping("oxt-kci", f).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_an_agent_killed_anywhere_converges_without_duplicates_or_leaks() {
    require_root!(Need::NetNs);
    let _serial = SERIAL.lock().await;
    let (h, inet, v1, vm) = ("oxt-kch", "oxt-kci", "oxt-kcv1", "oxt-kcvm");
    let dhcp_dir = std::env::temp_dir().join(format!("oxt-kc-dhcp-{}", std::process::id()));
    let udhcpc_dir = std::env::temp_dir().join(format!("oxt-kc-udhcpc-{}", std::process::id()));
    let log = std::env::temp_dir().join(format!("oxt-kc-agent-{}.log", std::process::id()));
    let _cleanup = Cleanup::create(GUARD, vec![h, inet, v1, vm], Some(dhcp_dir.clone()));

    // The host's uplinks: the external network's leads to the internet
    // namespace, the tenant networks' are veths within the host.
    let host = Netlink::open(Some(h)).unwrap();
    host.add_veth("oxkext0", "eth0", Some(inet)).await.unwrap();
    let internet = Netlink::open(Some(inet)).unwrap();
    internet
        .add_address("eth0", "203.0.113.1".parse().unwrap(), 24)
        .await
        .unwrap();
    internet.set_up("eth0").await.unwrap();
    for p in ["a", "b", "c"] {
        host.add_veth(&format!("oxkp{p}0"), &format!("oxkp{p}1"), None)
            .await
            .unwrap();
        host.set_up(&format!("oxkp{p}1")).await.unwrap();
    }

    let (tc, admin) = linux_cloud(BTreeMap::from([
        ("extnet".to_string(), "oxkext0".to_string()),
        ("phys-a".to_string(), "oxkpa0".to_string()),
        ("phys-b".to_string(), "oxkpb0".to_string()),
        ("phys-c".to_string(), "oxkpc0".to_string()),
    ]))
    .await;
    let args = AgentArgs {
        controller: format!("http://{}", tc.cloud.internal_api),
        secret_file: tc.cloud.state.path.join(nodes::SECRET_FILE),
        dhcp_dir: dhcp_dir.clone(),
        log: log.clone(),
    };
    let _ = std::fs::remove_file(&log);
    // Kept when the test fails.
    eprintln!("the agents' log: {}", log.display());
    let mut agent = Some(start_agent(&args));
    only_agent_at(&admin, NODE, "DHCP agent").await;
    only_agent_at(&admin, NODE, "L3 agent").await;

    // The load.
    let (ext, _) = flat_net(
        &admin,
        "extnet",
        "203.0.113.0/24",
        "203.0.113.1",
        true,
        false,
    )
    .await;
    let mut nets = Vec::new();
    for (i, p) in ["a", "b", "c"].iter().enumerate() {
        let cidr = format!("10.83.{}.0/24", i + 1);
        let gw = format!("10.83.{}.1", i + 1);
        nets.push(flat_net(&admin, &format!("phys-{p}"), &cidr, &gw, false, true).await);
    }
    let r = post(
        &admin,
        "/v2.0/routers",
        json!({"router": {"name": "r", "external_gateway_info": {"network_id": ext}}}),
    )
    .await;
    let rid = r["router"]["id"].as_str().unwrap().to_string();
    let mut legs = Vec::new();
    for (_, s) in &nets {
        legs.push(support::router_interface(&admin, &rid, s).await);
    }
    netns::create(vm).unwrap();
    let inside = Netlink::open(Some(vm)).unwrap();
    // (port id, network index)
    let mut ports: Vec<(String, usize)> = Vec::new();
    let (mut p0, mut a0) = (String::new(), String::new());
    for i in 0..PORTS {
        let n = i % 3;
        let owner = if i == 0 { v1 } else { vm };
        let (id, mac, addr) =
            port_triple(&bound_port(&admin, NODE, &nets[n].0, owner, json!({})).await);
        if i == 0 {
            plug_instance(&host, v1, &id, &mac, None, None).await;
            (p0, a0) = (id.clone(), addr);
        } else {
            let peer = format!("oxkv{i}");
            host.add_veth(&tap_name(&id), &peer, Some(vm))
                .await
                .unwrap();
            inside.set_up(&peer).await.unwrap();
        }
        ports.push((id, n));
    }
    // The default group admits its members only: let ICMP in so the
    // floating IP can be shown to work.
    let r = admin.get(&format!("/v2.0/ports/{p0}")).await.unwrap();
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
    let (fid, fip) = support::floating_ip(&admin, &ext, &p0).await;

    for (id, _) in &ports {
        wait_port(&admin, id, "ACTIVE").await;
    }
    for l in &legs {
        wait_port(&admin, l, "ACTIVE").await;
    }
    wait_status(
        &admin,
        &format!("/v2.0/floatingips/{fid}"),
        "floatingip",
        "ACTIVE",
    )
    .await;
    let qrouter = format!("{PREFIX}qrouter-{rid}");
    let qdhcp: Vec<String> = nets
        .iter()
        .map(|(n, _)| format!("{PREFIX}qdhcp-{n}"))
        .collect();
    let mut want_ns: Vec<String> = qdhcp.iter().cloned().chain([qrouter.clone()]).collect();
    want_ns.sort();
    let dd = dhcp_dir.clone();
    wait_snapshot(h, &dd, 30, "the first convergence", |s| {
        s.namespaces == want_ns && s.dnsmasq == 3
    })
    .await;
    traffic(v1, &a0, &udhcpc_dir, Some(&fip)).await;
    let reference = settled(h, &dhcp_dir).await;

    // Exactly what the load asks for: 4 bridges; 20 instance taps, 3
    // DHCP and 4 router legs (the veths' host ends); one dnsmasq per
    // network; in the router 3 `qr-` legs and a `qg-` one.
    let host_links = &reference.links[h];
    let count = |p: &str| host_links.iter().filter(|l| l.starts_with(p)).count();
    assert_eq!(count("brq"), 4, "{host_links:?}");
    assert_eq!(count("tap"), PORTS + 3 + 4, "{host_links:?}");
    assert_eq!(reference.dnsmasq, 3);
    let rl = &reference.links[&qrouter];
    assert_eq!(rl.iter().filter(|l| l.starts_with("qr-")).count(), 3);
    assert_eq!(rl.iter().filter(|l| l.starts_with("qg-")).count(), 1);
    for q in &qdhcp {
        assert_eq!(
            reference.links[q].len(),
            2,
            "lo and ns-…: {:?}",
            reference.links[q]
        );
    }
    assert!(
        reference.nft[h].iter().any(|t| t.starts_with("table ")),
        "the security-group tables"
    );
    assert!(
        reference.nft[&qrouter]
            .iter()
            .any(|t| t.starts_with("rule ")),
        "the router's NAT"
    );

    // Killed with no memory (the pid files gone too), then killed again
    // in the middle of converging, three times.
    agent.take().unwrap().kill9();
    for d in state_dirs(&dhcp_dir) {
        let _ = std::fs::remove_file(dhcp_dir.join(d).join("pid"));
    }
    // And the kernel lost part of the state meanwhile, so the restarted
    // agents have real work to be interrupted in: every bridge (the taps
    // fall out of them), the router's namespace, and a DHCP namespace
    // (its dnsmasq keeps running in the unnamed namespace left: a leak
    // unless the agent stops it).
    for (n, _) in nets.iter().chain([&(ext.clone(), String::new())]) {
        host.delete(&bridge_name(n)).await.unwrap();
    }
    netns::delete(&qrouter).unwrap();
    netns::delete(&qdhcp[0]).unwrap();
    assert_eq!(dnsmasqs(&dhcp_dir), 3);
    for ms in [150, 400, 900] {
        let a = start_agent(&args);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        a.kill9();
    }
    agent = Some(start_agent(&args));
    let after = wait_equal(h, &dhcp_dir, 40, &reference).await;
    assert_eq!(after.dnsmasq, 3, "one dnsmasq per network");
    for (id, _) in &ports {
        wait_port(&admin, id, "ACTIVE").await;
    }
    traffic(v1, &a0, &udhcpc_dir, Some(&fip)).await;
    // And it stays there (nothing rebuilt twice by later applies).
    let again = settled(h, &dhcp_dir).await;
    assert!(again == reference, "{}", diff(&reference, &again));

    // Killed; network c, its ports and router leg and the floating IP
    // deleted meanwhile (the "hypervisor" removes the taps of its ports),
    // and one port of network a whose tap its hypervisor leaves behind.
    agent.take().unwrap().kill9();
    let (orphan, _) = ports[3].clone();
    delete(&admin, &format!("/v2.0/ports/{orphan}")).await;
    delete(&admin, &format!("/v2.0/floatingips/{fid}")).await;
    put(
        &admin,
        &format!("/v2.0/routers/{rid}/remove_router_interface"),
        json!({"subnet_id": nets[2].1}),
    )
    .await;
    for (id, _) in ports.iter().filter(|(_, n)| *n == 2) {
        delete(&admin, &format!("/v2.0/ports/{id}")).await;
        host.delete(&tap_name(id)).await.unwrap();
    }
    delete(&admin, &format!("/v2.0/networks/{}", nets[2].0)).await;
    agent = Some(start_agent(&args));
    let gone_net = nets[2].0.clone();
    let mut want_ns: Vec<String> = vec![qdhcp[0].clone(), qdhcp[1].clone(), qrouter.clone()];
    want_ns.sort();
    let qr = qrouter.clone();
    let dd = dhcp_dir.clone();
    let s = wait_snapshot(h, &dd, 40, "leftovers of network c removed", |s| {
        s.namespaces == want_ns
            && s.dnsmasq == 2
            && !s.links[h].contains(&bridge_name(&gone_net))
            && s.links[&qr].len() == 4
            && !state_dirs(&dd).contains(&gone_net)
    })
    .await;
    let hl = &s.links[h];
    assert_eq!(hl.iter().filter(|l| l.starts_with("brq")).count(), 3);
    let left = ports.iter().filter(|(_, n)| *n != 2).count();
    assert_eq!(
        hl.iter().filter(|l| l.starts_with("tap")).count(),
        left + 2 + 3,
        "{hl:?}"
    );
    // The tap no port wants is released from the bridge (unfiltered
    // otherwise), not deleted: it is the hypervisor's.
    let mut released = false;
    for _ in 0..100 {
        let t = host.link(&tap_name(&orphan)).await.unwrap().unwrap();
        if t.master.is_none() {
            released = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(released, "{} is still on its bridge", tap_name(&orphan));
    traffic(v1, &a0, &udhcpc_dir, None).await;

    // Everything else deleted while the agent runs: nothing of
    // oxistack's is left.
    for (_, s) in &nets[..2] {
        put(
            &admin,
            &format!("/v2.0/routers/{rid}/remove_router_interface"),
            json!({"subnet_id": s}),
        )
        .await;
    }
    delete(&admin, &format!("/v2.0/routers/{rid}")).await;
    for (id, _) in ports.iter().filter(|(id, n)| *n != 2 && *id != orphan) {
        delete(&admin, &format!("/v2.0/ports/{id}")).await;
    }
    // The instances go (and their taps with them, once nothing holds
    // their namespaces: not even the test's netlink socket).
    drop(inside);
    netns::delete(v1).unwrap();
    netns::delete(vm).unwrap();
    for (n, _) in &nets[..2] {
        delete(&admin, &format!("/v2.0/networks/{n}")).await;
    }
    delete(&admin, &format!("/v2.0/networks/{ext}")).await;
    let dd = dhcp_dir.clone();
    let s = wait_snapshot(h, &dd, 40, "nothing of oxistack's left", |s| {
        s.namespaces.is_empty()
            && s.dnsmasq == 0
            && s.links[h].iter().all(|l| l == "lo" || l.starts_with("oxk"))
            && s.nft[h].is_empty()
            && state_dirs(&dd).is_empty()
    })
    .await;
    assert_eq!(s.links[h].len(), 1 + 7, "lo and the test's uplinks");

    agent.take().unwrap().kill9();
    tc.stop().await;
    let _ = std::fs::remove_dir_all(&udhcpc_dir);
    let _ = std::fs::remove_file(&log);
}

/// An apply that reported errors is applied again with back-off, with no
/// new document: a flat network's interface that does not exist yet (the
/// apply reports it missing) is enslaved to the bridge once it appears,
/// which only the retry does (link events are followed for taps only,
/// and nothing changes in the API), proven by traffic across it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_a_failed_apply_is_retried_until_the_missing_interface_appears() {
    require_root!(Need::NetNs);
    let _serial = SERIAL.lock().await;
    let (h, v) = ("oxt-kcrh", "oxt-kcrv");
    let _cleanup = Cleanup::create("oxt-kcr", vec![h, v], None);
    let cloud = SimCloud::start(SimHost {
        node: "oxt-kc-rnode",
        address: "192.0.2.64",
        namespace: h,
        prefix: "oxt-kcr-",
        mappings: BTreeMap::from([("phys-r".to_string(), "oxkr0".to_string())]),
        dhcp_dir: None,
    })
    .await;
    let admin = &cloud.admin;
    let (n, _) = flat_net(admin, "phys-r", "10.84.1.0/24", "10.84.1.1", false, false).await;
    let host = Netlink::open(Some(h)).unwrap();
    let (p, mac, a) = port_triple(&bound_port(admin, cloud.node, &n, v, json!({})).await);
    plug_instance(&host, v, &p, &mac, Some((&a, 24)), None).await;

    wait_port(admin, &p, "ACTIVE").await;
    // Several applies (the tap's plugging, retries) fail meanwhile.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The interface appears; nothing in the API changes.
    host.add_veth("oxkr0", "oxkr1", None).await.unwrap();
    host.add_address("oxkr1", "10.84.1.9".parse().unwrap(), 24)
        .await
        .unwrap();
    host.set_up("oxkr1").await.unwrap();
    wait_ping(v, "10.84.1.9").await;
    let bridge = host.link(&bridge_name(&n)).await.unwrap().unwrap();
    let uplink = host.link("oxkr0").await.unwrap().unwrap();
    assert_eq!(uplink.master, Some(bridge.index));

    cloud.stop().await;
}

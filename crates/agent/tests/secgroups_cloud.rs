//! Security groups through the real path (an in-process cloud with
//! `dataplane = linux` and a real agent running the network role in a
//! simulated host namespace), proven by traffic between "instance"
//! namespaces:
//! - two projects, each with a network of the same CIDR and two
//!   instances at the same addresses: each pair talks, a connection held
//!   open in one project does not stop the same 5-tuple in the other, and
//!   the two land in different conntrack zones;
//! - remote-group rules follow membership: an instance reaches a member's
//!   server once it joins the group, and no more once it leaves;
//! - a spoofed source address and a spoofed source MAC are dropped, an
//!   allowed address pair passes, and with port security off nothing is
//!   filtered;
//! - a stateless group (`stateful: false`): answers are not let back in
//!   by conntrack (the host keeps no state for its flows); they need an
//!   ingress rule of their own.
//!
//! And, `#[ignore]`d: how long adding one port takes with 1,000 present.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use agent::net::link::Netlink;
use agent::net::secgroups::{Firewall, SgInput, SgNetwork, SgPort, SgRule};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{
    blocking, bound_port, connect, plug_instance, post, put, wait_port, Cleanup, Server, SimCloud,
    SimHost,
};
use testkit::require_root;
use testkit::root::Need;

/// The cloud test's prefix. Each test's [`Cleanup`] removes every
/// namespace starting with its prefix, so no prefix is another's start.
const PREFIX: &str = "oxt-sg-c-";

/// A server in `ns` that accepts connections on `addr:port`, writes each
/// peer's `address:port` and keeps every connection open until killed.
fn serve_held(ns: &str, addr: &str, port: u16) -> Server {
    let code = "import socket,sys\n\
        s=socket.socket()\n\
        s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
        s.bind((sys.argv[1],int(sys.argv[2])))\n\
        s.listen()\n\
        print('ready',flush=True)\n\
        held=[]\n\
        while True:\n\
        \x20   c,a=s.accept()\n\
        \x20   c.sendall(('%s:%d\\n'%a).encode())\n\
        \x20   held.append(c)\n";
    support::python_server(ns, code, addr, port)
}

/// A client in `ns` connecting from `sport` to `addr:port` (3 s timeout)
/// and holding the connection open until killed: (what the server saw,
/// the client), or the error.
fn connect_held(ns: &str, sport: u16, addr: &str, port: u16) -> Result<(String, Server), String> {
    let code = "import socket,sys,time\n\
        c=socket.socket()\n\
        c.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
        c.bind(('',int(sys.argv[1])))\n\
        c.settimeout(3)\n\
        c.connect((sys.argv[2],int(sys.argv[3])))\n\
        print(c.recv(100).decode().strip(),flush=True)\n\
        time.sleep(60)\n";
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", code])
        .arg(sport.to_string())
        .arg(addr)
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    if line.trim().is_empty() {
        let out = child.wait_with_output().unwrap();
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok((line.trim().to_string(), Server(child)))
}

/// Connects from `ns` with source address `src`: what the server saw.
fn connect_from(ns: &str, src: &str, addr: &str, port: u16) -> Result<String, String> {
    let code = "import socket,sys\n\
        c=socket.socket()\n\
        c.settimeout(2)\n\
        c.bind((sys.argv[1],0))\n\
        c.connect((sys.argv[2],int(sys.argv[3])))\n\
        print(c.recv(100).decode())\n";
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", code, src, addr])
        .arg(port.to_string())
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

fn ip_in(ns: &str, args: &str) {
    let st = Command::new("ip")
        .args(["-n", ns])
        .args(args.split_whitespace())
        .status()
        .unwrap();
    assert!(st.success(), "ip -n {ns} {args}");
}

/// Retries `f` (blocking) for up to ~20 s until it returns `Ok`: the role
/// converges in the background.
async fn eventually<T: Send + 'static>(
    what: &str,
    f: impl Fn() -> Result<T, String> + Send + Sync + Clone + 'static,
) -> T {
    let mut last = String::new();
    for _ in 0..10 {
        let g = f.clone();
        match blocking(g).await {
            Ok(v) => return v,
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{what}: {last}");
}

/// Waits until `f` fails (the change reached the data plane).
async fn until_refused(
    what: &str,
    f: impl Fn() -> Result<String, String> + Send + Clone + 'static,
) {
    for _ in 0..10 {
        let g = f.clone();
        if blocking(g).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{what} still passes");
}

/// The conntrack zones of the host namespace's entries to `dst:dport`.
fn zones_to(ns: &str, dst: &str, dport: u16) -> Vec<u16> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "cat", "/proc/net/nf_conntrack"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut zones: Vec<u16> = text
        .lines()
        .filter(|l| {
            l.contains(&format!("dst={dst} "))
                && l.contains(&format!("dport={dport} "))
                && l.contains("ESTABLISHED")
        })
        .map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("zone="))
                .and_then(|z| z.parse().ok())
                .unwrap_or(0)
        })
        .collect();
    zones.sort();
    zones
}

async fn group(c: &testkit::Client, project: &str, name: &str, stateful: bool) -> String {
    let g = post(
        c,
        "/v2.0/security-groups",
        json!({"security_group": {"name": name, "project_id": project, "stateful": stateful}}),
    )
    .await;
    g["security_group"]["id"].as_str().unwrap().to_string()
}

async fn rule(c: &testkit::Client, sg: &str, extra: Value) {
    let mut r = json!({"security_group_id": sg, "direction": "ingress", "ethertype": "IPv4"});
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    post(
        c,
        "/v2.0/security-group-rules",
        json!({ "security_group_rule": r }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_same_cidr_isolation_spoofing_remote_groups_and_stateless() {
    require_root!(
        Need::NetNs,
        Need::Command("nft"),
        Need::Command("busybox"),
        Need::Command("python3")
    );
    let h = "oxt-sg-c-h";
    let (a1, a2, b1, b2) = ("oxt-sg-c-a1", "oxt-sg-c-a2", "oxt-sg-c-b1", "oxt-sg-c-b2");
    let _cleanup = Cleanup::create(PREFIX, vec![h, a1, a2, b1, b2], None);
    let host = Netlink::open(Some(h)).unwrap();
    host.add_veth("oxsphys0", "oxsphys1", None).await.unwrap();
    host.add_veth("oxsphys2", "oxsphys3", None).await.unwrap();

    let cloud = SimCloud::start(SimHost {
        node: "oxt-sg-c-node",
        address: "192.0.2.90",
        namespace: h,
        prefix: PREFIX,
        mappings: BTreeMap::from([
            ("physnet1".into(), "oxsphys0".into()),
            ("physnet2".into(), "oxsphys2".into()),
        ]),
        dhcp_dir: None,
    })
    .await;
    let (admin, node) = (&cloud.admin, cloud.node);

    // Two projects, the same CIDR and the same addresses in each.
    let (pa, pb) = (
        "aaaaaaaaaaaa4aaaaaaaaaaaaaaaaaaa",
        "bbbbbbbbbbbb4bbbbbbbbbbbbbbbbbbb",
    );
    let mut nets = Vec::new();
    for (project, physnet) in [(pa, "physnet1"), (pb, "physnet2")] {
        let n = post(
            admin,
            "/v2.0/networks",
            json!({"network": {"name": project, "project_id": project,
                "provider:network_type": "flat", "provider:physical_network": physnet}}),
        )
        .await;
        let nid = n["network"]["id"].as_str().unwrap().to_string();
        post(
            admin,
            "/v2.0/subnets",
            json!({"subnet": {"network_id": nid, "project_id": project, "ip_version": 4,
                "cidr": "10.90.0.0/24", "enable_dhcp": false}}),
        )
        .await;
        let sg = group(admin, project, "web", true).await;
        rule(
            admin,
            &sg,
            json!({"protocol": "tcp", "port_range_min": 8080, "port_range_max": 8080}),
        )
        .await;
        rule(admin, &sg, json!({"protocol": "icmp"})).await;
        nets.push((nid, sg));
    }
    let mut ports = BTreeMap::new();
    for ((project, (nid, sg)), vms) in [pa, pb].iter().zip(&nets).zip([[a1, a2], [b1, b2]]) {
        for (vm, addr) in vms.iter().zip(["10.90.0.10", "10.90.0.20"]) {
            let p = bound_port(
                admin,
                node,
                nid,
                vm,
                json!({"project_id": project, "security_groups": [sg],
                    "fixed_ips": [{"ip_address": addr}]}),
            )
            .await;
            let (id, mac) = (
                p["id"].as_str().unwrap().to_string(),
                p["mac_address"].as_str().unwrap().to_string(),
            );
            plug_instance(&host, vm, &id, &mac, Some((addr, 24)), None).await;
            ports.insert(*vm, (id, mac));
        }
    }
    for (id, _) in ports.values() {
        wait_port(admin, id, "ACTIVE").await;
    }

    // A connection held open in project A…
    let _srv_a = blocking(move || serve_held(a2, "10.90.0.20", 8080)).await;
    let (seen, _cli_a) = eventually("A's connection", move || {
        connect_held(a1, 40000, "10.90.0.20", 8080)
    })
    .await;
    assert_eq!(seen, "10.90.0.10:40000");
    // … and the same 5-tuple in project B: its own connection, in its
    // own conntrack zone (in one zone B's SYN would meet A's entry).
    let _srv_b = blocking(move || serve_held(b2, "10.90.0.20", 8080)).await;
    let (seen, _cli_b) = eventually("B's connection", move || {
        connect_held(b1, 40000, "10.90.0.20", 8080)
    })
    .await;
    assert_eq!(seen, "10.90.0.10:40000");
    let zones = blocking(move || zones_to(h, "10.90.0.20", 8080)).await;
    assert_eq!(zones.len(), 2, "one entry per project: {zones:?}");
    assert_ne!(zones[0], zones[1], "in different zones: {zones:?}");
    assert!(zones.iter().all(|z| *z != 0), "{zones:?}");
    drop((_srv_a, _srv_b, _cli_a, _cli_b));

    // Remote groups follow membership (project B): `members` admits its
    // own members on 9000; b1 is not one yet.
    let members = group(admin, pb, "members", true).await;
    rule(
        admin,
        &members,
        json!({"protocol": "tcp", "port_range_min": 9000, "port_range_max": 9000,
            "remote_group_id": members}),
    )
    .await;
    let (b1_port, b2_port) = (ports[b1].0.clone(), ports[b2].0.clone());
    put(
        admin,
        &format!("/v2.0/ports/{b2_port}"),
        json!({"port": {"security_groups": [members]}}),
    )
    .await;
    let _srv = blocking(move || serve_held(b2, "10.90.0.20", 9000)).await;
    until_refused("b1 → b2:9000 before b1 joins", move || {
        connect(b1, "10.90.0.20", 9000)
    })
    .await;
    put(
        admin,
        &format!("/v2.0/ports/{b1_port}"),
        json!({"port": {"security_groups": [nets[1].1, members]}}),
    )
    .await;
    let seen = eventually("b1 → b2:9000 once b1 is a member", move || {
        connect(b1, "10.90.0.20", 9000)
    })
    .await;
    assert!(seen.starts_with("10.90.0.10:"), "{seen}");
    put(
        admin,
        &format!("/v2.0/ports/{b1_port}"),
        json!({"port": {"security_groups": [nets[1].1]}}),
    )
    .await;
    until_refused("b1 → b2:9000 after b1 left", move || {
        connect(b1, "10.90.0.20", 9000)
    })
    .await;
    drop(_srv);

    // Anti-spoofing (project A): a source address not a1's is dropped…
    let a1_port = ports[a1].0.clone();
    ip_in(a1, "addr add 10.90.0.99/24 dev eth0");
    {
        let _srv = blocking(move || serve_held(a2, "10.90.0.20", 8080)).await;
        let r = blocking(move || connect_from(a1, "10.90.0.99", "10.90.0.20", 8080)).await;
        assert!(r.is_err(), "a spoofed source address: {r:?}");
        let r = blocking(move || connect_from(a1, "10.90.0.10", "10.90.0.20", 8080)).await;
        assert!(
            r.is_ok_and(|s| s.starts_with("10.90.0.10:")),
            "the port's own passes"
        );
    }
    // … and a source MAC not the port's.
    assert!(blocking(move || support::pings(a1, "10.90.0.20")).await);
    ip_in(a1, "link set eth0 address fa:16:3e:99:99:99");
    assert!(
        !blocking(move || support::pings(a1, "10.90.0.20")).await,
        "a spoofed source MAC"
    );
    ip_in(a1, &format!("link set eth0 address {}", ports[a1].1));
    // An allowed address pair passes.
    put(
        admin,
        &format!("/v2.0/ports/{a1_port}"),
        json!({"port": {"allowed_address_pairs": [{"ip_address": "10.90.0.99"}]}}),
    )
    .await;
    {
        let _srv = blocking(move || serve_held(a2, "10.90.0.20", 8080)).await;
        let seen = eventually("the allowed address pair", move || {
            connect_from(a1, "10.90.0.99", "10.90.0.20", 8080)
        })
        .await;
        assert!(seen.starts_with("10.90.0.99:"), "{seen}");
    }
    // Port security off: nothing of a1's is filtered (a2 still filters
    // what it lets in: 8080 and ICMP).
    put(
        admin,
        &format!("/v2.0/ports/{a1_port}"),
        json!({"port": {"port_security_enabled": false, "security_groups": [],
            "allowed_address_pairs": []}}),
    )
    .await;
    ip_in(a1, "addr add 10.90.0.77/24 dev eth0");
    {
        let _srv = blocking(move || serve_held(a2, "10.90.0.20", 8080)).await;
        let seen = eventually("any source address without port security", move || {
            connect_from(a1, "10.90.0.77", "10.90.0.20", 8080)
        })
        .await;
        assert!(seen.starts_with("10.90.0.77:"), "{seen}");
    }
    ip_in(a1, "link set eth0 address fa:16:3e:99:99:98");
    support::wait_ping(a1, "10.90.0.20").await;

    // Stateless (project B): only 8080 in, and no conntrack to let the
    // server's answer back in to the client's ephemeral port.
    let sl = group(admin, pb, "stateless", false).await;
    rule(
        admin,
        &sl,
        json!({"protocol": "tcp", "port_range_min": 8080, "port_range_max": 8080}),
    )
    .await;
    for p in [&b1_port, &b2_port] {
        put(
            admin,
            &format!("/v2.0/ports/{p}"),
            json!({"port": {"security_groups": [sl]}}),
        )
        .await;
    }
    let _srv = blocking(move || serve_held(b2, "10.90.0.20", 8080)).await;
    // The SYN is let in (8080), the SYN-ACK back to b1 is not.
    until_refused("a TCP answer without an ingress rule for it", move || {
        connect(b1, "10.90.0.20", 8080)
    })
    .await;
    rule(
        admin,
        &sl,
        json!({"protocol": "tcp", "port_range_min": 1024, "port_range_max": 65535}),
    )
    .await;
    let seen = eventually("the answer with an ingress rule for it", move || {
        connect(b1, "10.90.0.20", 8080)
    })
    .await;
    assert!(seen.starts_with("10.90.0.10:"), "{seen}");
    // And the host keeps no connection state for it.
    let (seen, _held) = blocking(move || connect_held(b1, 40002, "10.90.0.20", 8080))
        .await
        .unwrap();
    assert_eq!(seen, "10.90.0.10:40002");
    let table = blocking(move || {
        Command::new("ip")
            .args(["netns", "exec", h, "cat", "/proc/net/nf_conntrack"])
            .output()
            .unwrap()
    })
    .await;
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        !table.contains("sport=40002 "),
        "a stateless flow is not tracked: {table}"
    );
    drop((_srv, _held));

    cloud.stop().await;
}

/// Adding one port to a host with 1,000: the incremental transaction
/// against a whole replace. Prints the numbers (BENCHMARKS.md).
#[test]
#[ignore]
fn root_bench_add_one_port_to_1000() {
    require_root!(Need::NetNs, Need::Command("nft"));
    let ns = "oxt-sg-bench-h";
    let _cleanup = Cleanup::create("oxt-sg-bench-", vec![ns], None);
    let rules = vec![
        SgRule {
            direction: "ingress".into(),
            ethertype: "IPv4".into(),
            protocol: Some("tcp".into()),
            port_range_min: Some(22),
            port_range_max: Some(22),
            remote_ip_prefix: None,
            remote_group_id: None,
        },
        SgRule {
            direction: "ingress".into(),
            ethertype: "IPv4".into(),
            protocol: None,
            port_range_min: None,
            port_range_max: None,
            remote_ip_prefix: None,
            remote_group_id: Some("g".into()),
        },
        SgRule {
            direction: "egress".into(),
            ethertype: "IPv4".into(),
            protocol: None,
            port_range_min: None,
            port_range_max: None,
            remote_ip_prefix: None,
            remote_group_id: None,
        },
    ];
    let port = |i: u32| SgPort {
        tap: format!("tap{i:011}"),
        mac_address: format!("fa:16:3e:00:{:02x}:{:02x}", i >> 8, i & 0xff),
        fixed_ips: vec![format!(
            "10.{}.{}.{}",
            100 + (i >> 16),
            (i >> 8) & 0xff,
            i & 0xff
        )],
        allowed_address_pairs: vec![],
        port_security_enabled: true,
        security_groups: vec!["g".into()],
    };
    let mut input = SgInput {
        networks: vec![SgNetwork {
            bridge: "brqbench".into(),
            zone: 1,
        }],
        ports: (1..=1000).map(port).collect(),
        groups: [("g".to_string(), rules)].into_iter().collect(),
        ..SgInput::default()
    };
    input.remote_groups.insert(
        "g".into(),
        input.ports.iter().map(|p| p.fixed_ips[0].clone()).collect(),
    );
    let mut fw = Firewall::new(Some(ns.into()));
    let t = Instant::now();
    let a = fw.apply(&input).unwrap();
    let full = t.elapsed();
    assert!(!a.incremental);
    let full_cmds = a.commands;

    input.ports.push(port(1001));
    if let Some(m) = input.remote_groups.get_mut("g") {
        m.push("10.100.3.233".into());
    }
    let t = Instant::now();
    let a = fw.apply(&input).unwrap();
    let one = t.elapsed();
    assert!(a.incremental);
    // Of which rendering and diffing (nothing changed: no nft run).
    let t = Instant::now();
    let again = fw.apply(&input).unwrap();
    let compute = t.elapsed();
    assert_eq!(again.commands, 0);
    println!(
        "1,000 ports: whole replace {full:?} ({full_cmds} commands); \
         adding one port {one:?} ({} commands; rendering and diffing alone {compute:?})",
        a.commands
    );
    assert!(one < full);
}

/// Both tables of `ns` as `nft list` prints them, lines sorted (chains
/// made later are listed later; what they hold is what counts).
fn listing(ns: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for family in ["bridge", "inet"] {
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "nft", "list", "table", family])
            .arg(agent::net::secgroups::TABLE)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        lines.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty()),
        );
    }
    lines.sort();
    lines
}

/// Every kind of change goes through the kernel as an incremental
/// transaction (a refused one would fall back to a whole replace), and
/// leaves the same tables as a whole replace of the same input does.
#[test]
fn root_incremental_updates_match_a_whole_replace() {
    require_root!(Need::NetNs, Need::Command("nft"));
    let (inc, whole) = ("oxt-sg-inc-a", "oxt-sg-inc-w");
    let _cleanup = Cleanup::create("oxt-sg-inc-", vec![inc, whole], None);
    let rule = |direction: &str, proto: Option<&str>, port: Option<i64>, rg: Option<&str>| SgRule {
        direction: direction.into(),
        ethertype: "IPv4".into(),
        protocol: proto.map(Into::into),
        port_range_min: port,
        port_range_max: port,
        remote_ip_prefix: None,
        remote_group_id: rg.map(Into::into),
    };
    let port = |i: u32, group: &str| SgPort {
        tap: format!("tapinc{i}"),
        mac_address: format!("fa:16:3e:00:00:{i:02x}"),
        fixed_ips: vec![format!("10.0.0.{i}")],
        allowed_address_pairs: vec![],
        port_security_enabled: true,
        security_groups: vec![group.into()],
    };
    let mut input = SgInput {
        networks: vec![SgNetwork {
            bridge: "brqinc".into(),
            zone: 3,
        }],
        ports: (1..=5).map(|i| port(i, "g")).collect(),
        groups: [
            (
                "g".to_string(),
                vec![
                    rule("ingress", Some("tcp"), Some(22), None),
                    rule("ingress", None, None, Some("g")),
                    rule("egress", None, None, None),
                ],
            ),
            (
                "sl".to_string(),
                vec![rule("ingress", Some("udp"), Some(53), None)],
            ),
        ]
        .into_iter()
        .collect(),
        stateless_groups: ["sl".to_string()].into_iter().collect(),
        ..SgInput::default()
    };
    let members = |input: &SgInput| -> Vec<String> {
        input
            .ports
            .iter()
            .filter(|p| p.security_groups.iter().any(|g| g == "g"))
            .flat_map(|p| {
                let pairs = p.allowed_address_pairs.iter().map(|(a, _)| a.clone());
                p.fixed_ips.iter().cloned().chain(pairs)
            })
            .collect()
    };
    input.remote_groups.insert("g".into(), members(&input));
    let mut fw = Firewall::new(Some(inc.into()));
    assert!(!fw.apply(&input).unwrap().incremental, "the first is whole");
    let mut full = Firewall::new(Some(whole.into()));
    full.apply(&input).unwrap();

    type Change<'a> = Box<dyn Fn(&mut SgInput) + 'a>;
    let steps: Vec<(&str, Change)> = vec![
        ("add a port", Box::new(|i| i.ports.push(port(9, "g")))),
        (
            "remove a port",
            Box::new(|i| {
                i.ports.remove(1);
            }),
        ),
        (
            "change a group's rules",
            Box::new(|i| {
                if let Some(g) = i.groups.get_mut("g") {
                    g.push(rule("ingress", Some("icmp"), None, None));
                }
            }),
        ),
        (
            "make a port stateless",
            Box::new(|i| i.ports[0].security_groups = vec!["sl".into()]),
        ),
        (
            "an allowed address pair",
            Box::new(|i| {
                i.ports[2]
                    .allowed_address_pairs
                    .push(("10.0.0.99".into(), "fa:16:3e:00:00:99".into()))
            }),
        ),
        (
            "port security off",
            Box::new(|i| i.ports[3].port_security_enabled = false),
        ),
        (
            "a new remote group",
            Box::new(|i| {
                i.remote_groups
                    .insert("other".into(), vec!["10.9.9.9".into()]);
            }),
        ),
        (
            "a remote group goes",
            Box::new(|i| {
                i.remote_groups.remove("other");
            }),
        ),
        (
            "the index freed is taken again",
            Box::new(|i| i.ports.push(port(10, "g"))),
        ),
        (
            "a member's prefix covering other members",
            Box::new(|i| {
                i.ports[3]
                    .allowed_address_pairs
                    .push(("10.0.0.0/28".into(), String::new()))
            }),
        ),
        (
            "the prefix goes",
            Box::new(|i| i.ports[3].allowed_address_pairs.clear()),
        ),
    ];
    for (what, change) in steps {
        change(&mut input);
        let m = members(&input);
        input.remote_groups.insert("g".into(), m);
        let a = fw.apply(&input).unwrap();
        assert!(a.incremental, "{what}: replaced whole");
        assert!(a.commands > 0, "{what}: nothing sent");
        // The same inputs in the same order (so the same port indexes),
        // each replaced whole.
        full.forget();
        assert!(!full.apply(&input).unwrap().incremental);
        let (a, b) = (listing(inc), listing(whole));
        if a != b {
            let only_inc: Vec<_> = a.iter().filter(|l| !b.contains(l)).collect();
            let only_whole: Vec<_> = b.iter().filter(|l| !a.contains(l)).collect();
            panic!("{what}: incremental {only_inc:#?}\nwhole {only_whole:#?}");
        }
    }
    // A network change replaces whole (zone rules are shared).
    input.networks.push(SgNetwork {
        bridge: "brqinc2".into(),
        zone: 4,
    });
    assert!(!fw.apply(&input).unwrap().incremental);
    // A table removed behind the agent's back: the incremental
    // transaction fails and the tables are replaced whole.
    agent::net::secgroups::remove(Some(inc)).unwrap();
    input.ports.push(port(11, "g"));
    let a = fw.apply(&input).unwrap();
    assert!(!a.incremental, "replaced after the failed update");
    assert!(!listing(inc).is_empty());
}

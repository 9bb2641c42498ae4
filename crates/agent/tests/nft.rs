//! Router NAT by real traffic: two instances behind a router namespace
//! whose `oxistack-nat` table `agent::net::l3nat` renders and applies,
//! and an "internet" namespace on 203.0.113.0/24 with no route back to
//! the instances' subnets. The internet sees the gateway address (SNAT),
//! reaches an instance by its floating IP (which is also what that
//! instance goes out as), and reaches another through a port
//! forwarding. Namespaces and links are made with `ip` here; everything
//! goes with the namespaces, removed even on panic.
//!
//! Security groups the same way: two instances on a bridge in a "host"
//! namespace whose `oxistack-sg` tables `agent::net::secgroups` applies:
//! TCP is refused until a rule allows it, the answer passes without an
//! egress rule (stateful), and a spoofed source address is dropped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agent::net::l3nat::{self, PortForwarding, RouterNat};
use agent::net::nft::{self, Family};
use agent::net::secgroups::{self, SgInput, SgNetwork, SgPort, SgRule};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use testkit::require_root;
use testkit::root::Need;

const INST1: &str = "oxtnat-i1";
const INST2: &str = "oxtnat-i2";
const ROUTER: &str = "oxtnat-r";
const NET: &str = "oxtnat-net";

/// Removes the namespaces (and with them every link in them).
struct Namespaces(&'static [&'static str]);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in self.0 {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Kills a server left running by a failed test.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sh(args: &[&str]) {
    let st = Command::new(args[0]).args(&args[1..]).status().unwrap();
    assert!(st.success(), "{args:?}: {st}");
}

fn ip_in(ns: &str, args: &str) {
    let mut all = vec!["ip", "-n", ns];
    all.extend(args.split_whitespace());
    sh(&all);
}

/// Accepts one TCP connection on `addr:port` in `ns` and sends the peer's
/// address back.
fn serve(ns: &str, addr: &str, port: u16) -> Server {
    let code = "import socket,sys\n\
        s=socket.socket()\n\
        s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
        s.bind((sys.argv[1],int(sys.argv[2])))\n\
        s.listen()\n\
        s.settimeout(20)\n\
        print('ready',flush=True)\n\
        c,a=s.accept()\n\
        c.sendall(a[0].encode())\n\
        c.close()\n";
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "python3",
            "-c",
            code,
            addr,
            &port.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    Server(child)
}

/// Connects from `ns` to `addr:port`: the address the server saw, or the
/// client's error.
fn connect(ns: &str, addr: &str, port: u16) -> Result<String, String> {
    connect_from(ns, "", addr, port)
}

/// As [`connect`], from source address `src` (`""`: the kernel's choice).
fn connect_from(ns: &str, src: &str, addr: &str, port: u16) -> Result<String, String> {
    let code = "import socket,sys\n\
        c=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=3,\
        source_address=(sys.argv[3],0) if sys.argv[3] else None)\n\
        print(c.recv(100).decode())\n";
    let port = port.to_string();
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", code, addr, &port, src])
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

#[test]
fn root_router_nat_snat_floating_ips_and_port_forwarding() {
    require_root!(Need::NetNs, Need::Command("nft"), Need::Command("python3"));
    let all: &'static [&'static str] = &[INST1, INST2, ROUTER, NET];
    let _ns = Namespaces(all);
    for ns in all {
        let _ = Command::new("ip")
            .args(["netns", "del", ns])
            .stderr(Stdio::null())
            .status();
        sh(&["ip", "netns", "add", ns]);
        ip_in(ns, "link set lo up");
    }
    // instance 1 (10.0.0.5) — qr-oxta (10.0.0.1) | instance 2 (10.0.1.5)
    // — qr-oxtb (10.0.1.1) | router qg-oxt (203.0.113.2 + the floating
    // addresses as /32s, as neutron puts them) — internet 203.0.113.100.
    for (inst, qr, dev_addr, gw_addr) in [
        (INST1, "qr-oxta", "10.0.0.5/24", "10.0.0.1"),
        (INST2, "qr-oxtb", "10.0.1.5/24", "10.0.1.1"),
    ] {
        ip_in(
            ROUTER,
            &format!("link add {qr} type veth peer name eth0 netns {inst}"),
        );
        ip_in(ROUTER, &format!("addr add {gw_addr}/24 dev {qr}"));
        ip_in(ROUTER, &format!("link set {qr} up"));
        ip_in(inst, &format!("addr add {dev_addr} dev eth0"));
        ip_in(inst, "link set eth0 up");
        ip_in(inst, &format!("route add default via {gw_addr}"));
    }
    ip_in(
        ROUTER,
        &format!("link add qg-oxt type veth peer name eth0 netns {NET}"),
    );
    ip_in(ROUTER, "addr add 203.0.113.2/24 dev qg-oxt");
    ip_in(ROUTER, "addr add 203.0.113.10/32 dev qg-oxt");
    ip_in(ROUTER, "addr add 203.0.113.20/32 dev qg-oxt");
    ip_in(ROUTER, "link set qg-oxt up");
    ip_in(NET, "addr add 203.0.113.100/24 dev eth0");
    ip_in(NET, "link set eth0 up");
    l3nat::enable_forwarding(ROUTER).unwrap();

    let router = RouterNat {
        gateway_device: "qg-oxt".into(),
        gateway_addresses: vec!["203.0.113.2".into()],
        enable_snat: true,
        internal_subnets: vec!["10.0.0.1/24".into(), "10.0.1.1/24".into()],
        floating_ips: vec![("203.0.113.10".into(), "10.0.1.5".into())],
        port_forwardings: vec![PortForwarding {
            floating_ip_address: "203.0.113.20".into(),
            protocol: "tcp".into(),
            external_port: 2222,
            internal_ip_address: "10.0.0.5".into(),
            internal_port: 8080,
        }],
    };

    // Without the table the internet cannot answer the instances (no
    // route back) nor reach them.
    assert_eq!(
        nft::list_table(Some(ROUTER), Family::Inet, l3nat::TABLE).unwrap(),
        None
    );
    {
        let _srv = serve(INST2, "10.0.1.5", 7000);
        assert!(connect(NET, "203.0.113.10", 7000).is_err());
    }

    let skipped = l3nat::apply(ROUTER, &router).unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    // Applying again replaces, not appends.
    l3nat::apply(ROUTER, &router).unwrap();
    let listed = nft::list_table(Some(ROUTER), Family::Inet, l3nat::TABLE)
        .unwrap()
        .unwrap();
    let rules = listed.iter().filter(|o| o.get("rule").is_some()).count();
    assert_eq!(rules, 5, "{listed:?}");

    // SNAT: instance 1 goes out as the gateway address.
    {
        let _srv = serve(NET, "203.0.113.100", 9000);
        assert_eq!(
            connect(INST1, "203.0.113.100", 9000).unwrap(),
            "203.0.113.2"
        );
    }
    // The floating IP: instance 2 goes out as it …
    {
        let _srv = serve(NET, "203.0.113.100", 9001);
        assert_eq!(
            connect(INST2, "203.0.113.100", 9001).unwrap(),
            "203.0.113.10"
        );
    }
    // … and is reached by it, seeing the real client.
    {
        let _srv = serve(INST2, "10.0.1.5", 7000);
        assert_eq!(connect(NET, "203.0.113.10", 7000).unwrap(), "203.0.113.100");
    }
    // The port forwarding: 203.0.113.20:2222 is instance 1's 8080, and
    // nothing else on that address is.
    {
        let _srv = serve(INST1, "10.0.0.5", 8080);
        assert_eq!(connect(NET, "203.0.113.20", 2222).unwrap(), "203.0.113.100");
    }
    {
        let _srv = serve(INST1, "10.0.0.5", 8081);
        assert!(connect(NET, "203.0.113.20", 8081).is_err());
    }

    // Without SNAT, instance 1 is not translated any more (its packets
    // leave as 10.0.0.5, which the internet cannot answer).
    let mut no_snat = router.clone();
    no_snat.enable_snat = false;
    l3nat::apply(ROUTER, &no_snat).unwrap();
    {
        let _srv = serve(NET, "203.0.113.100", 9002);
        assert!(connect(INST1, "203.0.113.100", 9002).is_err());
    }

    l3nat::remove(ROUTER).unwrap();
    l3nat::remove(ROUTER).unwrap();
    assert_eq!(
        nft::list_table(Some(ROUTER), Family::Inet, l3nat::TABLE).unwrap(),
        None
    );
}

const HOST: &str = "oxtsg-h";
const SG_A: &str = "oxtsg-a";
const SG_B: &str = "oxtsg-b";

#[test]
fn root_security_groups_stateful_filter_and_anti_spoofing() {
    require_root!(
        Need::NetNs,
        Need::Command("nft"),
        Need::Command("python3"),
        Need::Command("busybox")
    );
    let all: &'static [&'static str] = &[HOST, SG_A, SG_B];
    let _ns = Namespaces(all);
    for ns in all {
        let _ = Command::new("ip")
            .args(["netns", "del", ns])
            .stderr(Stdio::null())
            .status();
        sh(&["ip", "netns", "add", ns]);
        ip_in(ns, "link set lo up");
    }
    ip_in(HOST, "link add oxtsg-br type bridge");
    ip_in(HOST, "link set oxtsg-br up");
    for (inst, tap, mac, addr) in [
        (SG_A, "tapoxtsga", "fa:16:3e:00:00:05", "10.0.0.5/24"),
        (SG_B, "tapoxtsgb", "fa:16:3e:00:00:06", "10.0.0.6/24"),
    ] {
        ip_in(
            HOST,
            &format!("link add {tap} type veth peer name eth0 netns {inst}"),
        );
        ip_in(HOST, &format!("link set {tap} master oxtsg-br up"));
        ip_in(inst, &format!("link set eth0 address {mac}"));
        ip_in(inst, &format!("addr add {addr} dev eth0"));
        ip_in(inst, "link set eth0 up");
    }
    let port = |tap: &str, mac: &str, ip: &str, group: &str| SgPort {
        tap: tap.into(),
        mac_address: mac.into(),
        fixed_ips: vec![ip.into()],
        allowed_address_pairs: vec![],
        port_security_enabled: true,
        security_groups: vec![group.into()],
    };
    let rule =
        |direction: &str, protocol: Option<&str>, port: Option<i64>, prefix: Option<&str>| SgRule {
            direction: direction.into(),
            ethertype: "IPv4".into(),
            protocol: protocol.map(Into::into),
            port_range_min: port,
            port_range_max: port,
            remote_ip_prefix: prefix.map(Into::into),
            remote_group_id: None,
        };
    let mut input = SgInput {
        networks: vec![SgNetwork {
            bridge: "oxtsg-br".into(),
            zone: 7,
        }],
        ports: vec![
            port("tapoxtsga", "fa:16:3e:00:00:05", "10.0.0.5", "ga"),
            port("tapoxtsgb", "fa:16:3e:00:00:06", "10.0.0.6", "gb"),
        ],
        // A may send anything; B nothing new, and accepts nothing yet.
        groups: [
            ("ga".to_string(), vec![rule("egress", None, None, None)]),
            ("gb".to_string(), vec![]),
        ]
        .into_iter()
        .collect(),
        remote_groups: Default::default(),
        stateless_groups: Default::default(),
    };

    // Without the tables A reaches B.
    {
        let _srv = serve(SG_B, "10.0.0.6", 8080);
        assert_eq!(connect(SG_A, "10.0.0.6", 8080).unwrap(), "10.0.0.5");
    }

    let skipped = secgroups::apply(Some(HOST), &input).unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    assert!(
        nft::list_table(Some(HOST), Family::Bridge, secgroups::TABLE)
            .unwrap()
            .is_some()
    );
    {
        let _srv = serve(SG_B, "10.0.0.6", 8080);
        assert!(
            connect(SG_A, "10.0.0.6", 8080).is_err(),
            "ingress is denied by default"
        );
    }

    // A rule lets TCP 8080 in; B's answer needs no egress rule.
    input.groups.insert(
        "gb".into(),
        vec![rule(
            "ingress",
            Some("tcp"),
            Some(8080),
            Some("10.0.0.0/24"),
        )],
    );
    secgroups::apply(Some(HOST), &input).unwrap();
    {
        let _srv = serve(SG_B, "10.0.0.6", 8080);
        assert_eq!(connect(SG_A, "10.0.0.6", 8080).unwrap(), "10.0.0.5");
    }
    {
        let _srv = serve(SG_B, "10.0.0.6", 8081);
        assert!(
            connect(SG_A, "10.0.0.6", 8081).is_err(),
            "only 8080 is allowed"
        );
    }
    // B may not open connections (no egress rule), even to a port A's
    // ingress allows: the answers above passed by conntrack alone.
    input.groups.insert(
        "ga".into(),
        vec![
            rule("egress", None, None, None),
            rule("ingress", Some("tcp"), Some(9000), None),
        ],
    );
    secgroups::apply(Some(HOST), &input).unwrap();
    {
        let _srv = serve(SG_A, "10.0.0.5", 9000);
        let r = connect(SG_B, "10.0.0.5", 9000);
        if r.is_ok() {
            let o = Command::new("ip")
                .args(["netns", "exec", HOST, "nft", "list", "ruleset"])
                .output()
                .unwrap();
            eprintln!("DEBUG {}", String::from_utf8_lossy(&o.stdout));
        }
        assert!(r.is_err(), "egress is denied by default");
    }
    input
        .groups
        .get_mut("gb")
        .unwrap()
        .push(rule("egress", Some("tcp"), None, None));
    secgroups::apply(Some(HOST), &input).unwrap();
    {
        let _srv = serve(SG_A, "10.0.0.5", 9000);
        assert_eq!(connect(SG_B, "10.0.0.5", 9000).unwrap(), "10.0.0.6");
    }
    // A source address that is not A's (though the rule's prefix would
    // allow it) is dropped at A's bridge port.
    ip_in(SG_A, "addr add 10.0.0.99/24 dev eth0");
    {
        let _srv = serve(SG_B, "10.0.0.6", 8080);
        assert!(
            connect_from(SG_A, "10.0.0.99", "10.0.0.6", 8080).is_err(),
            "spoofed"
        );
    }
    // … and passes once it is an allowed address pair of A's.
    input.ports[0]
        .allowed_address_pairs
        .push(("10.0.0.99".into(), String::new()));
    secgroups::apply(Some(HOST), &input).unwrap();
    {
        let _srv = serve(SG_B, "10.0.0.6", 8080);
        assert_eq!(
            connect_from(SG_A, "10.0.0.99", "10.0.0.6", 8080).unwrap(),
            "10.0.0.99"
        );
    }

    // IPv6: neighbour discovery passes by default (the ping below needs
    // it), an echo request only once a rule lets it in.
    for (inst, addr) in [(SG_A, "fd00::5/64"), (SG_B, "fd00::6/64")] {
        ip_in(inst, &format!("addr add {addr} dev eth0 nodad"));
    }
    input.ports[0].fixed_ips.push("fd00::5".into());
    input.ports[1].fixed_ips.push("fd00::6".into());
    let v6 = |mut r: SgRule| {
        r.ethertype = "IPv6".into();
        r
    };
    let a_rules = input.groups.get_mut("ga").unwrap();
    a_rules.push(v6(rule("egress", None, None, None)));
    secgroups::apply(Some(HOST), &input).unwrap();
    assert!(!ping6(SG_A, "fd00::6"), "no ingress ICMPv6 rule on B yet");
    let b_rules = input.groups.get_mut("gb").unwrap();
    b_rules.push(v6(rule("ingress", Some("icmp"), None, None)));
    secgroups::apply(Some(HOST), &input).unwrap();
    assert!(ping6(SG_A, "fd00::6"));

    secgroups::remove(Some(HOST)).unwrap();
    secgroups::remove(Some(HOST)).unwrap();
    assert_eq!(
        nft::list_table(Some(HOST), Family::Inet, secgroups::TABLE).unwrap(),
        None
    );
}

/// Whether one echo from `ns` to `addr` is answered.
fn ping6(ns: &str, addr: &str) -> bool {
    Command::new("ip")
        .args([
            "netns", "exec", ns, "busybox", "ping6", "-c", "1", "-W", "2", addr,
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success()
}

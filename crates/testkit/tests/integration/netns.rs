//! Two namespaces joined by a veth talk TCP across it, and everything the
//! test network made is gone afterwards, also after a panic.

use testkit::netns::{namespaces, TestNet};
use testkit::require_root;
use testkit::root::Need;

/// Answers one TCP connection on 192.0.2.2:7777 with a greeting.
const SERVER: &str = r#"
import socket
s = socket.create_server(('192.0.2.2', 7777))
c, _ = s.accept()
c.sendall(b'hello from b')
c.close()
"#;

/// Connects to 192.0.2.2:7777 (retrying while the server starts) and
/// prints what it says.
const CLIENT: &str = r#"
import socket, time
for _ in range(100):
    try:
        c = socket.create_connection(('192.0.2.2', 7777), timeout=5)
        break
    except OSError:
        time.sleep(0.05)
else:
    raise SystemExit('no connection')
print(c.recv(100).decode())
"#;

fn root_links() -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap().to_string())
        .collect()
}

#[test]
fn root_two_hosts_joined_by_a_veth_talk_and_leave_nothing() {
    require_root!(Need::NetNs, Need::Command("python3"));
    let mut net = TestNet::new().unwrap();
    let a = net.host("a").unwrap();
    let b = net.host("b").unwrap();
    net.veth(&a, "oxt-va", &b, "oxt-vb").unwrap();
    a.add_address("oxt-va", "192.0.2.1/24").unwrap();
    b.add_address("oxt-vb", "192.0.2.2/24").unwrap();
    // Each end lives in its namespace only; the host's namespace has none.
    assert_eq!(a.links().unwrap(), vec!["lo", "oxt-va"]);
    assert_eq!(b.links().unwrap(), vec!["lo", "oxt-vb"]);
    let host_links = root_links();
    assert!(
        !host_links.iter().any(|l| l.starts_with("oxt-")),
        "{host_links:?}"
    );

    net.spawn(&b, &["python3", "-c", SERVER]).unwrap();
    let said = a.run(&["python3", "-c", CLIENT]).unwrap();
    assert_eq!(said.trim(), "hello from b");
    // The other way round has no server: refused, not routed elsewhere.
    let out = b
        .exec(&[
            "python3",
            "-c",
            "import socket; socket.create_connection(('192.0.2.1', 7777), timeout=5)",
        ])
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ConnectionRefused"));

    let made: Vec<String> = net.hosts().iter().map(|h| h.name().to_string()).collect();
    assert_eq!(made.len(), 2);
    drop(net);
    let left = namespaces().unwrap();
    for name in &made {
        assert!(!left.contains(name), "{name} left behind: {left:?}");
    }
    assert!(!root_links().iter().any(|l| l.starts_with("oxt-")));
}

#[test]
fn root_hosts_on_a_bridge_in_a_switch_namespace() {
    require_root!(Need::NetNs, Need::Command("python3"));
    let mut net = TestNet::new().unwrap();
    let a = net.host("a").unwrap();
    let b = net.host("b").unwrap();
    let sw = net.host("switch").unwrap();
    net.bridge(&sw, "oxt-br").unwrap();
    net.veth(&a, "eth0", &sw, "oxt-sa").unwrap();
    net.veth(&b, "eth0", &sw, "oxt-sb").unwrap();
    net.attach(&sw, "oxt-sa", "oxt-br").unwrap();
    net.attach(&sw, "oxt-sb", "oxt-br").unwrap();
    a.add_address("eth0", "192.0.2.1/24").unwrap();
    b.add_address("eth0", "192.0.2.2/24").unwrap();
    net.spawn(&b, &["python3", "-c", SERVER]).unwrap();
    let said = a.run(&["python3", "-c", CLIENT]).unwrap();
    assert_eq!(said.trim(), "hello from b");
    let made: Vec<String> = net.hosts().iter().map(|h| h.name().to_string()).collect();
    net.remove().unwrap();
    let left = namespaces().unwrap();
    for name in &made {
        assert!(!left.contains(name), "{name} left behind: {left:?}");
    }
    assert!(!root_links().iter().any(|l| l.starts_with("oxt-")));
}

#[test]
fn root_a_panicking_test_leaves_nothing() {
    require_root!(Need::NetNs);
    let made = std::sync::Mutex::new(Vec::new());
    let r = std::panic::catch_unwind(|| {
        let mut net = TestNet::new().unwrap();
        let a = net.host("pa").unwrap();
        let b = net.host("pb").unwrap();
        net.veth(&a, "oxt-pa", &b, "oxt-pb").unwrap();
        net.spawn(&b, &["sleep", "600"]).unwrap();
        made.lock()
            .unwrap()
            .extend([a.name().to_string(), b.name().to_string()]);
        panic!("the test fails here");
    });
    assert!(r.is_err());
    let made = made.into_inner().unwrap();
    assert_eq!(made.len(), 2);
    let left = namespaces().unwrap();
    for name in &made {
        assert!(!left.contains(name), "{name} left behind: {left:?}");
    }
    assert!(!root_links().iter().any(|l| l.starts_with("oxt-")));
}

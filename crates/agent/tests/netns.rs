//! Named namespaces made, used and removed by `agent::net::netns` without
//! forking: `ip` sees them, a thread inside sees only `lo`, a spawned
//! process starts inside, and nothing is left afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agent::net::netns;
use testkit::require_root;
use testkit::root::Need;

/// Removes the namespace even when an assertion fails.
struct Cleanup(&'static str);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = netns::delete(self.0);
    }
}

fn links_here() -> Vec<String> {
    // /proc/thread-self/net is the calling thread's namespace's view.
    let dev = std::fs::read_to_string("/proc/thread-self/net/dev").unwrap();
    dev.lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|n| n.trim().to_string())
        .collect()
}

#[test]
fn root_namespaces_are_made_used_and_removed_without_forking() {
    require_root!(Need::NetNs, Need::Command("ip"));
    let name = "oxt-agent-netns";
    let _cleanup = Cleanup(name);
    netns::delete(name).unwrap();
    netns::create(name).unwrap();
    // Idempotent, and visible to iproute2.
    netns::create(name).unwrap();
    assert!(netns::exists(name));
    assert!(netns::list().unwrap().contains(&name.to_string()));
    let listed = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains(name));

    // A thread inside sees only the new namespace's loopback.
    let inside = netns::run_in(Some(name), links_here).unwrap();
    assert_eq!(inside, vec!["lo"]);
    // The caller's thread never moved.
    assert_ne!(links_here(), inside);

    // A spawned process starts inside.
    let mut cmd = std::process::Command::new("ip");
    cmd.args(["-o", "link", "show"])
        .stdout(std::process::Stdio::piped());
    let out = netns::spawn_in(Some(name), cmd)
        .unwrap()
        .wait_with_output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains(": lo:"), "{text}");

    netns::delete(name).unwrap();
    netns::delete(name).unwrap();
    assert!(!netns::exists(name));
    assert!(netns::run_in(Some(name), || ()).is_err());
}

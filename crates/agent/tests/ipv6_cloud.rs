//! IPv6 router advertisements through the real path: a real in-process
//! cloud (`dataplane = linux`) and a real agent with the network role in a
//! "host" namespace. A router gets a leg on a flat IPv6 subnet in `slaac`
//! mode; an instance namespace (accepting RAs, not configured by hand)
//! autoconfigures exactly the port's fixed (EUI-64) address from the
//! router's advertisements, takes its default route via the router's
//! link-local address, and pings the router's gateway address through
//! its security group. Removing the leg stops the router's radvd and
//! removes its files; deleting the router removes its namespace.
//! On a `dhcpv6-stateful` subnet the router's RAs set the managed flag
//! and advertise the prefix as not autonomous, and a DHCPv6 client
//! (`dhclient -6`) in the instance gets exactly the port's fixed address
//! from the network's dnsmasq.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use agent::net::link::Netlink;
use agent::net::netns;
use agent::net::radvd;
use agent::net::router::namespace_name;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv6Addr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::{
    bound_port, delete, plug_instance, port_triple, post, put, wait_ping, wait_port, Cleanup,
    SimCloud, SimHost,
};
use testkit::require_root;
use testkit::root::Need;

/// Stops the radvds the role started for a test's routers (a router
/// namespace removed by [`Cleanup`] would otherwise keep its daemon).
struct RadvdCleanup(&'static str);

impl Drop for RadvdCleanup {
    fn drop(&mut self) {
        let _ = radvd::remove_stale(Path::new(radvd::STATE_DIR), self.0, &BTreeSet::new());
    }
}

/// Kills the DHCPv6 client a test started (by the pid file in its
/// directory) and removes the directory.
struct DhclientCleanup(std::path::PathBuf);

impl Drop for DhclientCleanup {
    fn drop(&mut self) {
        if let Some(pid) = std::fs::read_to_string(self.0.join("pid"))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The link-local address of a MAC (modified EUI-64).
fn link_local(mac: &str) -> String {
    let b: Vec<u8> = mac
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect();
    let seg = |hi: u8, lo: u8| (u16::from(hi) << 8) | u16::from(lo);
    Ipv6Addr::new(
        0xfe80,
        0,
        0,
        0,
        seg(b[0] ^ 0x02, b[1]),
        seg(b[2], 0xff),
        seg(0xfe, b[3]),
        seg(b[4], b[5]),
    )
    .to_string()
}

fn ip(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["-n", ns])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "ip {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The global addresses of `eth0` in `ns` that finished DAD.
fn global_v6(ns: &str) -> Vec<String> {
    ip(
        ns,
        &["-6", "-o", "addr", "show", "dev", "eth0", "scope", "global"],
    )
    .lines()
    .filter(|l| !l.contains("tentative"))
    .filter_map(|l| {
        let mut w = l.split_whitespace();
        w.find(|t| *t == "inet6")?;
        Some(w.next()?.to_string())
    })
    .collect()
}

/// A flat network `name` on `phys-v6` with one IPv6 subnet `prefix::/64`
/// (gateway `prefix::1`) whose RA and address modes are both `mode`:
/// (network id, subnet id).
async fn v6_net(admin: &testkit::Client, name: &str, prefix: &str, mode: &str) -> (String, String) {
    let n = post(
        admin,
        "/v2.0/networks",
        json!({"network": {"name": name, "provider:network_type": "flat",
            "provider:physical_network": "phys-v6"}}),
    )
    .await;
    let nid = n["network"]["id"].as_str().unwrap().to_string();
    let s = post(
        admin,
        "/v2.0/subnets",
        json!({"subnet": {"network_id": nid, "ip_version": 6, "cidr": format!("{prefix}::/64"),
            "gateway_ip": format!("{prefix}::1"), "ipv6_ra_mode": mode,
            "ipv6_address_mode": mode}}),
    )
    .await;
    (nid, s["subnet"]["id"].as_str().unwrap().to_string())
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..300 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_slaac_instance_autoconfigures_its_port_address_from_the_router() {
    require_root!(Need::NetNs, Need::Command("radvd"), Need::Command("nft"));
    const PREFIX: &str = "oxt-v6-a-";
    let (h, vm) = ("oxt-v6-a-h", "oxt-v6-a-v1");
    let _cleanup = Cleanup::create(PREFIX, vec![h, vm], None);
    let _radvd = RadvdCleanup(PREFIX);
    let host = Netlink::open(Some(h)).unwrap();
    host.add_veth("oxv6a0", "oxv6a1", None).await.unwrap();
    host.set_up("oxv6a1").await.unwrap();

    let cloud = SimCloud::start(SimHost {
        node: "oxt-v6-a-node",
        address: "192.0.2.66",
        namespace: h,
        prefix: PREFIX,
        mappings: BTreeMap::from([("phys-v6".into(), "oxv6a0".into())]),
        dhcp_dir: None,
    })
    .await;
    let (admin, node) = (&cloud.admin, cloud.node);

    let (nid, sid) = v6_net(admin, "v6", "2001:db8:66", "slaac").await;
    cloud.only_agent_here("L3 agent").await;
    let r = post(admin, "/v2.0/routers", json!({"router": {"name": "r6"}})).await;
    let rid = r["router"]["id"].as_str().unwrap().to_string();
    let leg = support::router_interface(admin, &rid, &sid).await;
    let leg_mac = admin.get(&format!("/v2.0/ports/{leg}")).await.unwrap().body["port"]
        ["mac_address"]
        .as_str()
        .unwrap()
        .to_string();
    wait_port(admin, &leg, "ACTIVE").await;
    let ns = namespace_name(PREFIX, &rid);
    let state = Path::new(radvd::STATE_DIR).join(&ns);
    assert!(state.join("radvd.pid").exists(), "no radvd for {ns}");
    let conf = std::fs::read_to_string(state.join("radvd.conf")).unwrap();
    assert!(conf.contains("prefix 2001:db8:66::/64"), "{conf}");

    // The instance: its port's SLAAC address is the EUI-64 of its MAC.
    let (p, mac, addr) = port_triple(&bound_port(admin, node, &nid, vm, json!({})).await);
    assert_eq!(
        addr.parse::<Ipv6Addr>().unwrap().segments()[4..],
        link_local(&mac).parse::<Ipv6Addr>().unwrap().segments()[4..]
    );
    // Accepting RAs (as a host, not a router) on the device to come.
    for key in ["accept_ra", "autoconf"] {
        netns::run_in(Some(vm), move || {
            std::fs::write(format!("/proc/sys/net/ipv6/conf/default/{key}"), "1")
        })
        .unwrap()
        .unwrap();
    }
    plug_instance(&host, vm, &p, &mac, None, None).await;
    wait_port(admin, &p, "ACTIVE").await;

    // Exactly the port's address, from the router's advertisement.
    let want = format!("{addr}/64");
    wait_for("the SLAAC address", || global_v6(vm) == [want.clone()]).await;
    let router_ll = link_local(&leg_mac);
    let default = ip(vm, &["-6", "route", "show", "default"]);
    assert!(
        default.contains(&format!("via {router_ll} dev eth0 proto ra")),
        "{default}"
    );
    wait_ping(vm, "2001:db8:66::1").await;

    // A subnet change rewrites the config; the same radvd reloads it.
    let pid: i32 = std::fs::read_to_string(state.join("radvd.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    put(
        admin,
        &format!("/v2.0/subnets/{sid}"),
        json!({"subnet": {"dns_nameservers": ["2001:db8:66::53"]}}),
    )
    .await;
    wait_for("the RDNSS in radvd's config", || {
        std::fs::read_to_string(state.join("radvd.conf"))
            .is_ok_and(|c| c.contains("RDNSS 2001:db8:66::53 {};"))
    })
    .await;
    let log = std::fs::read_to_string(state.join("radvd.log")).unwrap_or_default();
    assert_eq!(
        std::fs::read_to_string(state.join("radvd.pid"))
            .unwrap()
            .trim(),
        pid.to_string(),
        "{log}"
    );

    // The leg removed: the router's radvd stops and its files go.
    put(
        admin,
        &format!("/v2.0/routers/{rid}/remove_router_interface"),
        json!({"subnet_id": sid}),
    )
    .await;
    wait_for("radvd to stop", || {
        // Gone, or a zombie (no command line) nobody reaped yet.
        !state.exists()
            && std::fs::read(format!("/proc/{pid}/cmdline")).map_or(true, |c| c.is_empty())
    })
    .await;

    delete(admin, &format!("/v2.0/routers/{rid}")).await;
    wait_for("the router namespace to go", || !netns::exists(&ns)).await;
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_dhcpv6_stateful_instance_leases_its_port_address() {
    require_root!(
        Need::NetNs,
        Need::Command("radvd"),
        Need::Command("nft"),
        Need::Command("dnsmasq"),
        Need::Command("dhclient")
    );
    const PREFIX: &str = "oxt-v6-b-";
    let (h, vm) = ("oxt-v6-b-h", "oxt-v6-b-v1");
    let tmp = std::env::temp_dir();
    let dhcp_dir = tmp.join(format!("oxt-v6-b-dhcp-{}", std::process::id()));
    let client_dir = tmp.join(format!("oxt-v6-b-client-{}", std::process::id()));
    let _cleanup = Cleanup::create(PREFIX, vec![h, vm], Some(dhcp_dir.clone()));
    let _radvd = RadvdCleanup(PREFIX);
    std::fs::create_dir_all(&client_dir).unwrap();
    let _client = DhclientCleanup(client_dir.clone());
    let host = Netlink::open(Some(h)).unwrap();
    host.add_veth("oxv6b0", "oxv6b1", None).await.unwrap();
    host.set_up("oxv6b1").await.unwrap();

    let cloud = SimCloud::start(SimHost {
        node: "oxt-v6-b-node",
        address: "192.0.2.67",
        namespace: h,
        prefix: PREFIX,
        mappings: BTreeMap::from([("phys-v6".into(), "oxv6b0".into())]),
        dhcp_dir: Some(dhcp_dir.clone()),
    })
    .await;
    let (admin, node) = (&cloud.admin, cloud.node);
    cloud.only_agent_here("DHCP agent").await;
    cloud.only_agent_here("L3 agent").await;

    let (nid, sid) = v6_net(admin, "v6s", "2001:db8:67", "dhcpv6-stateful").await;
    let r = post(admin, "/v2.0/routers", json!({"router": {"name": "r6s"}})).await;
    let rid = r["router"]["id"].as_str().unwrap().to_string();
    let leg = support::router_interface(admin, &rid, &sid).await;
    wait_port(admin, &leg, "ACTIVE").await;
    let ns = namespace_name(PREFIX, &rid);
    let conf =
        std::fs::read_to_string(Path::new(radvd::STATE_DIR).join(&ns).join("radvd.conf")).unwrap();
    assert!(conf.contains("AdvManagedFlag on;"), "{conf}");
    assert!(conf.contains("AdvAutonomous off;"), "{conf}");

    let (p, mac, addr) = port_triple(&bound_port(admin, node, &nid, vm, json!({})).await);
    for key in ["accept_ra", "autoconf"] {
        netns::run_in(Some(vm), move || {
            std::fs::write(format!("/proc/sys/net/ipv6/conf/default/{key}"), "1")
        })
        .unwrap()
        .unwrap();
    }
    plug_instance(&host, vm, &p, &mac, None, None).await;
    wait_port(admin, &p, "ACTIVE").await;
    // The RA's default route, and no SLAAC address (prefix not autonomous).
    let router_ll = link_local(
        admin.get(&format!("/v2.0/ports/{leg}")).await.unwrap().body["port"]["mac_address"]
            .as_str()
            .unwrap(),
    );
    wait_for("the RA's default route", || {
        ip(vm, &["-6", "route", "show", "default"]).contains(&format!("via {router_ll}"))
    })
    .await;
    assert!(global_v6(vm).is_empty(), "{:?}", global_v6(vm));
    // dhclient needs a link-local address that finished DAD.
    wait_for("eth0's link-local address", || {
        ip(
            vm,
            &["-6", "-o", "addr", "show", "dev", "eth0", "scope", "link"],
        )
        .lines()
        .any(|l| !l.contains("tentative"))
    })
    .await;

    // The DHCPv6 client: its hook writes the address it was given.
    let out = client_dir.join("addr");
    let script = client_dir.join("hook.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \"$reason\" in BOUND6|REBOOT6) echo \"$new_ip6_address\" > {} ;; esac\nexit 0\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut got = None;
    for _ in 0..10 {
        let st = Command::new("ip")
            .args(["netns", "exec", vm, "dhclient", "-6", "-1"])
            .arg("-lf")
            .arg(client_dir.join("leases"))
            .arg("-pf")
            .arg(client_dir.join("pid"))
            .arg("-sf")
            .arg(&script)
            .arg("eth0")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        if st.success() {
            if let Ok(a) = std::fs::read_to_string(&out) {
                got = Some(a.trim().to_string());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(got.as_deref(), Some(addr.as_str()));

    put(
        admin,
        &format!("/v2.0/routers/{rid}/remove_router_interface"),
        json!({"subnet_id": sid}),
    )
    .await;
    delete(admin, &format!("/v2.0/routers/{rid}")).await;
    wait_for("the router namespace to go", || !netns::exists(&ns)).await;
    wait_for("the router's radvd files to go", || {
        !Path::new(radvd::STATE_DIR).join(&ns).exists()
    })
    .await;
    cloud.stop().await;
}

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

use agent::net::dhcp::{Dhcp, DhcpConfig, DhcpPlumbing};
use agent::net::l2::{tap_name, L2Config};
use agent::net::link::{parse_mac, Netlink};
use agent::net::netns;
use agent::net::role::{NetworkRole, NetworkRoleConfig};
use agent::AgentConfig;
use network::app::feed::{FeedAddress, FeedNetwork};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use testkit::require_root;
use testkit::root::Need;
use testkit::{Client, TestCloud};

const PREFIX: &str = "oxt-wa-";

/// Stops the dnsmasq processes the role started and removes their
/// namespaces and files, then the test's namespaces (taking every link in
/// them), even when the test fails.
struct Cleanup {
    namespaces: Vec<&'static str>,
    dhcp_dir: PathBuf,
}

/// The host namespace goes whole, taps included: nothing to unplug.
struct NoPlumbing;

impl DhcpPlumbing for NoPlumbing {
    fn plug(
        &self,
        _: &str,
        _: &str,
        _: &FeedNetwork,
        _: &str,
        _: &str,
        _: &[FeedAddress],
    ) -> Result<(), String> {
        Err("not plugging".into())
    }
    fn unplug(&self, _: &str, _: &str, _: &str, _: &str) -> Result<(), String> {
        Ok(())
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let dhcp = Dhcp::new(DhcpConfig::new(&self.dhcp_dir, PREFIX));
        for id in dhcp.known().unwrap_or_default() {
            let _ = dhcp.remove(&id, &NoPlumbing);
            let _ = netns::delete(&dhcp.namespace(&id));
        }
        let _ = std::fs::remove_dir_all(&self.dhcp_dir);
        for n in &self.namespaces {
            let _ = netns::delete(n);
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

async fn port(admin: &Client, id: &str) -> serde_json::Value {
    let r = admin.get(&format!("/v2.0/ports/{id}")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["port"].clone()
}

async fn wait_status(admin: &Client, id: &str, want: &str) {
    for _ in 0..300 {
        if port(admin, id).await["status"] == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let logs = Command::new("sh")
        .args([
            "-c",
            "for f in /tmp/oxt-wa-dhcp-*/*/*; do echo \"== $f\"; cat $f; done",
        ])
        .output()
        .unwrap();
    panic!(
        "port {id} is not {want} after 15 s: {}\nnamespaces: {}\n{}",
        port(admin, id).await,
        String::from_utf8_lossy(&ns.stdout),
        String::from_utf8_lossy(&logs.stdout)
    );
}

async fn create_port(
    admin: &Client,
    nid: &str,
    node: &str,
    sg: &str,
    vm: &str,
) -> (String, String, String) {
    let r = admin
        .post(
            "/v2.0/ports",
            json!({"port": {"network_id": nid, "binding:host_id": node,
                "device_owner": "compute:nova", "device_id": vm,
                "security_groups": [sg]}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let p = &r.body["port"];
    (
        p["id"].as_str().unwrap().to_string(),
        p["mac_address"].as_str().unwrap().to_string(),
        p["fixed_ips"][0]["ip_address"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

/// The instance: a namespace whose `eth0` is the peer of the port's tap in
/// the host namespace, with the port's MAC.
async fn instance(host: &Netlink, vm: &str, port_id: &str, mac: &str) {
    host.add_veth(&tap_name(port_id), "eth0", Some(vm))
        .await
        .unwrap();
    let inside = Netlink::open(Some(vm)).unwrap();
    inside
        .set_address("eth0", parse_mac(mac).unwrap())
        .await
        .unwrap();
    inside.set_up("lo").await.unwrap();
    inside.set_up("eth0").await.unwrap();
}

/// busybox udhcpc in `vm`: the address it was given, or None.
fn udhcpc(vm: &str, dir: &Path) -> Option<String> {
    let out = dir.join(format!("{vm}.env"));
    let script = dir.join(format!("{vm}.sh"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1\" = bound ] && echo \"$ip\" > {}\nexit 0\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let st = Command::new("ip")
        .args([
            "netns", "exec", vm, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n",
        ])
        .args(["-t", "5", "-T", "1", "-s"])
        .arg(&script)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    if !st.success() {
        return None;
    }
    std::fs::read_to_string(&out)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Accepts one TCP connection on `addr:port` in `ns`.
fn serve(ns: &str, addr: &str, port: u16) -> Server {
    let code = "import socket,sys\n\
        s=socket.socket()\n\
        s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
        s.bind((sys.argv[1],int(sys.argv[2])))\n\
        s.listen()\n\
        s.settimeout(30)\n\
        print('ready',flush=True)\n\
        c,a=s.accept()\n\
        c.sendall(a[0].encode())\n\
        c.close()\n";
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", code, addr])
        .arg(port.to_string())
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

/// Connects from `ns`: the address the server saw, or the error.
fn connect(ns: &str, addr: &str, port: u16) -> Result<String, String> {
    let code = "import socket,sys\n\
        c=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=2)\n\
        print(c.recv(100).decode())\n";
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", code, addr])
        .arg(port.to_string())
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

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
    let _cleanup = Cleanup {
        namespaces: vec![h, vm1, vm2],
        dhcp_dir: dhcp_dir.clone(),
    };
    for n in [h, vm1, vm2] {
        netns::delete(n).unwrap();
        netns::create(n).unwrap();
    }
    let host = Netlink::open(Some(h)).unwrap();
    host.add_veth("oxtphys0", "oxtphys1", None).await.unwrap();

    let tc = TestCloud::start_with(
        |c| c.dataplane = "linux".into(),
        Arc::new(common::clock::SystemClock),
    )
    .await
    .unwrap();
    let admin = tc.admin().await.unwrap().at(&tc.url("network"));
    let secret = nodes::secret::read(&tc.cloud.state.path.join(nodes::SECRET_FILE)).unwrap();
    let node = "oxt-wa-node";
    let mut cfg = AgentConfig::new(
        &format!("http://{}", tc.cloud.internal_api),
        node,
        vec!["network".into()],
        secret,
    );
    cfg.address = "192.0.2.71".into();
    cfg.poll_timeout = Duration::from_secs(5);
    cfg.backoff_min = Duration::from_millis(50);
    cfg.backoff_max = Duration::from_millis(300);
    let role = NetworkRole::new(NetworkRoleConfig {
        node_prefix: PREFIX.into(),
        namespace: Some(h.into()),
        l2: L2Config {
            physical_mappings: BTreeMap::from([("physnet1".into(), "oxtphys0".into())]),
            ..L2Config::default()
        },
        dhcp_state_dir: Some(dhcp_dir.clone()),
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

    // The DHCP server goes to a network node whose DHCP agent is up: wait
    // for the node to register first.
    let mut registered = false;
    for _ in 0..200 {
        let r = admin
            .get(&format!("/v2.0/agents?host={node}&agent_type=DHCP%20agent"))
            .await
            .unwrap();
        if r.body["agents"][0]["alive"] == true {
            registered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(registered, "the node's DHCP agent never came up");
    // DHCP is scheduled over every network node whose DHCP agent is up
    // (the cloud's own node among them): disable the others'.
    let r = admin
        .get("/v2.0/agents?agent_type=DHCP%20agent")
        .await
        .unwrap();
    for a in r.body["agents"].as_array().unwrap() {
        if a["host"] != node {
            let id = a["id"].as_str().unwrap();
            let r = admin
                .put(
                    &format!("/v2.0/agents/{id}"),
                    Some(json!({"agent": {"admin_state_up": false}})),
                )
                .await
                .unwrap();
            assert_eq!(r.status, 200, "{}", r.text);
        }
    }
    let r = admin
        .post(
            "/v2.0/networks",
            json!({"network": {"name": "wa", "provider:network_type": "flat",
                "provider:physical_network": "physnet1"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let nid = r.body["network"]["id"].as_str().unwrap().to_string();
    let r = admin
        .post(
            "/v2.0/subnets",
            json!({"subnet": {"network_id": nid, "ip_version": 4, "cidr": "10.71.0.0/24"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = admin
        .post(
            "/v2.0/security-groups",
            json!({"security_group": {"name": "wa-tcp"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let sg = r.body["security_group"]["id"].as_str().unwrap().to_string();

    // The network's DHCP port: plumbed, dnsmasq started, reported.
    let mut dhcp_port = None;
    for _ in 0..200 {
        let r = admin
            .get(&format!(
                "/v2.0/ports?network_id={nid}&device_owner=network:dhcp"
            ))
            .await
            .unwrap();
        if let Some(id) = r.body["ports"][0]["id"].as_str() {
            dhcp_port = Some(id.to_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dhcp_port = dhcp_port.expect("no DHCP port");
    wait_status(&admin, &dhcp_port, "ACTIVE").await;

    let (p1, mac1, ip1) = create_port(&admin, &nid, node, &sg, "vm1").await;
    let (p2, mac2, ip2) = create_port(&admin, &nid, node, &sg, "vm2").await;
    instance(&host, vm1, &p1, &mac1).await;
    instance(&host, vm2, &p2, &mac2).await;
    wait_status(&admin, &p1, "ACTIVE").await;
    wait_status(&admin, &p2, "ACTIVE").await;

    // Each instance gets its port's address from the real dnsmasq.
    for (vm, want) in [(vm1, &ip1), (vm2, &ip2)] {
        let dir = dhcp_dir.clone();
        let got = blocking(move || udhcpc(vm, &dir)).await;
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

    let r = admin
        .post(
            "/v2.0/security-group-rules",
            json!({"security_group_rule": {"security_group_id": sg,
                "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
                "port_range_min": 8080, "port_range_max": 8080}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
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

    stop_tx.send(()).unwrap();
    agent_task.await.unwrap().unwrap();
    tc.stop().await;
}

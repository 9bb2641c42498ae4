//! What the agent's root tests share: a real in-process cloud
//! (`dataplane = linux`) with a real agent running the network role in a
//! simulated host namespace ([`SimCloud`]), guards that remove every
//! namespace, dnsmasq and file a test made even when it fails
//! ([`Cleanup`], [`Server`]), "instances" (namespaces whose `eth0` is the
//! peer of a port's tap), and traffic probes run inside namespaces (busybox
//! `ping` and `udhcpc`, python3 TCP sockets), the API steps the tests
//! repeat (flat networks, bound ports, router interfaces, floating IPs,
//! waiting for a status or a network's DHCP port) and a `/proc` walk
//! ([`processes`]) for tests that look for leftover daemons. The
//! `oxistack` crate's data-plane tests include this file by `#[path]`.
//!
//! Each test file uses only part of it, hence `dead_code` is allowed here.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agent::net::dhcp::{Dhcp, DhcpConfig, DhcpPlumbing};
use agent::net::l2::{tap_name, L2Config};
use agent::net::link::{parse_mac, Netlink};
use agent::net::netns;
use agent::net::role::{NetworkRole, NetworkRoleConfig};
use agent::AgentConfig;
use network::app::feed::{FeedAddress, FeedNetwork};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use testkit::{Client, TestCloud};

/// Removes, on drop: the dnsmasq servers the role started under
/// `dhcp_dir` (and their namespaces and files), the test's own
/// namespaces, and every namespace whose name starts with `prefix` (the
/// role's qrouter/qdhcp namespaces), so a failing test leaves nothing.
pub struct Cleanup {
    pub prefix: &'static str,
    pub namespaces: Vec<&'static str>,
    pub dhcp_dir: Option<PathBuf>,
}

impl Cleanup {
    /// Makes the test's namespaces afresh (a crashed earlier run may have
    /// left them) and returns the guard that removes them.
    pub fn create(
        prefix: &'static str,
        namespaces: Vec<&'static str>,
        dhcp_dir: Option<PathBuf>,
    ) -> Cleanup {
        let c = Cleanup {
            prefix,
            namespaces,
            dhcp_dir,
        };
        for n in &c.namespaces {
            netns::delete(n).unwrap();
            netns::create(n).unwrap();
        }
        c
    }
}

/// The host namespaces go whole, DHCP ports' veths included: nothing to
/// unplug when a dnsmasq is stopped by the guard.
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
        if let Some(dir) = &self.dhcp_dir {
            let dhcp = Dhcp::new(DhcpConfig::new(dir, self.prefix));
            for id in dhcp.known().unwrap_or_default() {
                let _ = dhcp.remove(&id, &NoPlumbing);
                let _ = netns::delete(&dhcp.namespace(&id));
            }
            let _ = std::fs::remove_dir_all(dir);
        }
        for n in &self.namespaces {
            let _ = netns::delete(n);
        }
        for n in netns::list().unwrap_or_default() {
            if n.starts_with(self.prefix) {
                let _ = netns::delete(&n);
            }
        }
    }
}

/// A child process (a server in a namespace) killed when the test ends.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Server {
    /// SIGKILLs it now and reaps it (what dropping it does), for a test
    /// whose point is killing the process.
    pub fn kill9(self) {
        drop(self);
    }
}

/// Every process's (pid, command line with NUL-separated arguments), read
/// from `/proc`; a process gone while reading is left out.
pub fn processes() -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_string_lossy().to_string();
            if !pid.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            Some((pid, cmdline))
        })
        .collect()
}

/// How the simulated host's network role is set up.
pub struct SimHost {
    /// The node name the agent registers as.
    pub node: &'static str,
    /// Its advertised address (a documentation address: never dialled).
    pub address: &'static str,
    /// The namespace the role works in.
    pub namespace: &'static str,
    /// The role's node prefix (also the [`Cleanup`] prefix).
    pub prefix: &'static str,
    /// physnet → interface in `namespace`, for the cloud's
    /// `[network] physical_interface_mappings` and the role's L2.
    pub mappings: BTreeMap<String, String>,
    pub dhcp_dir: Option<PathBuf>,
}

/// A real in-process cloud with `dataplane = linux` and a real agent
/// (`agent::run`) holding the network role for one simulated host.
pub struct SimCloud {
    pub tc: TestCloud,
    /// Admin client at the network endpoint.
    pub admin: Client,
    pub node: &'static str,
    stop_tx: tokio::sync::oneshot::Sender<()>,
    agent: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// The in-process cloud alone (`dataplane = linux`, the physnet
/// mappings), for a test that runs its agent elsewhere (the `oxistack
/// agent` binary): the cloud and its admin client at the network endpoint.
pub async fn linux_cloud(mappings: BTreeMap<String, String>) -> (TestCloud, Client) {
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
    (tc, admin)
}

/// [`SimCloud::only_agent_here`] for any agent process named `node`.
pub async fn only_agent_at(admin: &Client, node: &str, agent_type: &str) {
    let q = agent_type.replace(' ', "%20");
    for _ in 0..200 {
        let r = admin
            .get(&format!("/v2.0/agents?agent_type={q}"))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        let agents = r.body["agents"].as_array().cloned().unwrap_or_default();
        if agents
            .iter()
            .any(|a| a["host"] == node && a["alive"] == true)
        {
            for a in agents.iter().filter(|a| a["host"] != node) {
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
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no live {agent_type} on {node}");
}

/// One more simulated host's agent against a [`SimCloud`]
/// ([`SimCloud::add_agent`]).
pub struct SimAgent {
    pub node: &'static str,
    stop_tx: tokio::sync::oneshot::Sender<()>,
    agent: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl SimAgent {
    /// Stops the agent, which must have run without error.
    pub async fn stop(self) {
        let _ = self.stop_tx.send(());
        self.agent.await.unwrap().unwrap();
    }
}

/// Starts `agent::run` with the network role for `host` against `tc`;
/// `l2` is the role's L2 (its physical mappings are `host.mappings`);
/// with `metadata_url`, the role's metadata proxy sends there, signed
/// with the secret derived from the cloud's join secret.
fn spawn_agent(
    tc: &TestCloud,
    host: SimHost,
    l2: L2Config,
    metadata_url: Option<String>,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let secret = nodes::secret::read(&tc.cloud.state.path.join(nodes::SECRET_FILE)).unwrap();
    let mut cfg = AgentConfig::new(
        &format!("http://{}", tc.cloud.internal_api),
        host.node,
        vec!["network".into()],
        secret,
    );
    cfg.address = host.address.into();
    cfg.poll_timeout = Duration::from_secs(5);
    cfg.backoff_min = Duration::from_millis(50);
    cfg.backoff_max = Duration::from_millis(300);
    let role = NetworkRole::new(NetworkRoleConfig {
        node_prefix: host.prefix.into(),
        namespace: Some(host.namespace.into()),
        l2: L2Config {
            physical_mappings: host.mappings,
            ..l2
        },
        dhcp_state_dir: host.dhcp_dir,
    });
    if let Some(url) = metadata_url {
        role.serve_metadata(agent::net::metadata::MetadataConfig {
            url,
            secret: nodes::secret::metadata_secret(&cfg.secret),
        });
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(agent::run(
        cfg,
        vec![Arc::new(role)],
        async {
            let _ = stop_rx.await;
        },
        None,
    ));
    (stop_tx, agent)
}

impl SimCloud {
    /// As [`SimCloud::start`], with the role's metadata proxy sending to
    /// `metadata_url`, signed with the secret derived from the cloud's
    /// join secret (`nodes::secret::metadata_secret`).
    pub async fn start_with_metadata(host: SimHost, metadata_url: &str) -> SimCloud {
        SimCloud::start_inner(host, L2Config::default(), Some(metadata_url.to_string())).await
    }

    /// As [`SimCloud::start`], with the role's metadata proxy sending to
    /// the cloud's own metadata API (the compute service's listener).
    pub async fn start_with_real_metadata(host: SimHost) -> SimCloud {
        let (tc, admin) = linux_cloud(host.mappings.clone()).await;
        let addr = tc
            .cloud
            .service::<compute::Compute>()
            .and_then(|c| c.metadata_addr())
            .unwrap();
        let node = host.node;
        let url = format!("http://{addr}");
        let (stop_tx, agent) = spawn_agent(&tc, host, L2Config::default(), Some(url));
        SimCloud {
            tc,
            admin,
            node,
            stop_tx,
            agent,
        }
    }

    /// [`SimCloud::start`] with the role's L2 set up as `l2` (a VTEP
    /// address and tunnel device for VXLAN); `host.mappings` still give
    /// the physical mappings.
    pub async fn start_with_l2(host: SimHost, l2: L2Config) -> SimCloud {
        SimCloud::start_inner(host, l2, None).await
    }

    async fn start_inner(host: SimHost, l2: L2Config, metadata_url: Option<String>) -> SimCloud {
        let (tc, admin) = linux_cloud(host.mappings.clone()).await;
        let node = host.node;
        let (stop_tx, agent) = spawn_agent(&tc, host, l2, metadata_url);
        SimCloud {
            tc,
            admin,
            node,
            stop_tx,
            agent,
        }
    }

    /// A second (third...) simulated host: its own agent with the
    /// network role against this cloud. Stop it before the cloud.
    pub fn add_agent(&self, host: SimHost, l2: L2Config) -> SimAgent {
        let node = host.node;
        let (stop_tx, agent) = spawn_agent(&self.tc, host, l2, None);
        SimAgent {
            node,
            stop_tx,
            agent,
        }
    }

    pub async fn start(host: SimHost) -> SimCloud {
        SimCloud::start_with_l2(host, L2Config::default()).await
    }

    /// Stops the agent (which must have run without error) and the cloud.
    pub async fn stop(self) {
        let _ = self.stop_tx.send(());
        self.agent.await.unwrap().unwrap();
        self.tc.stop().await;
    }

    /// The cloud's own host is a network node too: once this node's agent
    /// of `agent_type` (`L3 agent`, `DHCP agent`) is alive, every other
    /// agent of that type is disabled so what it serves is scheduled here.
    pub async fn only_agent_here(&self, agent_type: &str) {
        only_agent_at(&self.admin, self.node, agent_type).await;
    }
}

/// POSTs and asserts success (200 or 201): the response body.
pub async fn post(c: &Client, path: &str, body: Value) -> Value {
    let r = c.post(path, body).await.unwrap();
    assert!(
        r.status == 201 || r.status == 200,
        "{path}: {} {}",
        r.status,
        r.text
    );
    r.body
}

/// PUTs and asserts 200: the response body.
pub async fn put(c: &Client, path: &str, body: Value) -> Value {
    let r = c.put(path, Some(body)).await.unwrap();
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    r.body
}

/// DELETEs and asserts 204.
pub async fn delete(c: &Client, path: &str) {
    let r = c.delete(path).await.unwrap();
    assert_eq!(r.status, 204, "{path}: {}", r.text);
}

/// Waits up to 15 s for `GET path`'s `body[key].status` to be `want`.
pub async fn wait_status(c: &Client, path: &str, key: &str, want: &str) {
    let mut last = Value::Null;
    for _ in 0..300 {
        let r = c.get(path).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        if r.body[key]["status"] == want {
            return;
        }
        last = r.body[key].clone();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    panic!(
        "{path} is not {want} after 15 s: {last}\nnamespaces: {}",
        String::from_utf8_lossy(&ns.stdout)
    );
}

/// Waits for a port's status.
pub async fn wait_port(c: &Client, id: &str, want: &str) {
    wait_status(c, &format!("/v2.0/ports/{id}"), "port", want).await;
}

/// Adds subnet `sid` to router `rid`: the interface port's id.
pub async fn router_interface(c: &Client, rid: &str, sid: &str) -> String {
    put(
        c,
        &format!("/v2.0/routers/{rid}/add_router_interface"),
        json!({ "subnet_id": sid }),
    )
    .await["port_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A floating IP on external network `ext` for `port`: (id, address).
pub async fn floating_ip(c: &Client, ext: &str, port: &str) -> (String, String) {
    let f = post(
        c,
        "/v2.0/floatingips",
        json!({"floatingip": {"floating_network_id": ext, "port_id": port}}),
    )
    .await;
    let fid = f["floatingip"]["id"].as_str().unwrap().to_string();
    let fip = f["floatingip"]["floating_ip_address"]
        .as_str()
        .unwrap()
        .to_string();
    (fid, fip)
}

/// Waits up to 10 s for the DHCP port the cloud makes on network `nid`
/// (`device_owner=network:dhcp`): its id.
pub async fn dhcp_port(c: &Client, nid: &str) -> String {
    for _ in 0..200 {
        let r = c
            .get(&format!(
                "/v2.0/ports?network_id={nid}&device_owner=network:dhcp"
            ))
            .await
            .unwrap();
        if let Some(id) = r.body["ports"][0]["id"].as_str() {
            return id.to_string();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no DHCP port on {nid}");
}

/// A flat network on `physnet` with one subnet: (network id, subnet id).
pub async fn flat_net(
    c: &Client,
    physnet: &str,
    cidr: &str,
    gw: &str,
    external: bool,
    dhcp: bool,
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
            "gateway_ip": gw, "enable_dhcp": dhcp}}),
    )
    .await;
    (nid, s["subnet"]["id"].as_str().unwrap().to_string())
}

/// A port bound to `node` for "instance" `vm`, with `extra` fields merged
/// into the request: the port as created.
pub async fn bound_port(c: &Client, node: &str, nid: &str, vm: &str, extra: Value) -> Value {
    let mut port = json!({"network_id": nid, "binding:host_id": node,
        "device_owner": "compute:nova", "device_id": vm});
    if let (Some(p), Some(e)) = (port.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            p.insert(k.clone(), v.clone());
        }
    }
    post(c, "/v2.0/ports", json!({ "port": port })).await["port"].clone()
}

/// The port's (id, MAC, first fixed address).
pub fn port_triple(p: &Value) -> (String, String, String) {
    (
        p["id"].as_str().unwrap().to_string(),
        p["mac_address"].as_str().unwrap().to_string(),
        p["fixed_ips"][0]["ip_address"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

/// The "instance": namespace `vm`, whose `eth0` (with the port's MAC) is
/// the peer of the port's tap in the host namespace `host`, which the
/// role plugs. Addressed statically when `addr` is given (/`prefix`, with
/// a default route via `gw` when given); otherwise left for DHCP.
pub async fn plug_instance(
    host: &Netlink,
    vm: &str,
    port_id: &str,
    mac: &str,
    addr: Option<(&str, u8)>,
    gw: Option<&str>,
) {
    host.add_veth(&tap_name(port_id), "eth0", Some(vm))
        .await
        .unwrap();
    let inside = Netlink::open(Some(vm)).unwrap();
    inside
        .set_address("eth0", parse_mac(mac).unwrap())
        .await
        .unwrap();
    if let Some((a, len)) = addr {
        inside
            .add_address("eth0", a.parse().unwrap(), len)
            .await
            .unwrap();
    }
    inside.set_up("lo").await.unwrap();
    inside.set_up("eth0").await.unwrap();
    if let Some(gw) = gw {
        inside
            .add_route_v4(std::net::Ipv4Addr::UNSPECIFIED, 0, gw.parse().unwrap())
            .await
            .unwrap();
    }
}

/// One busybox ping from `ns`.
pub fn pings(ns: &str, addr: &str) -> bool {
    Command::new("ip")
        .args([
            "netns", "exec", ns, "busybox", "ping", "-c", "1", "-W", "1", addr,
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Retries a ping for up to 20 s: the role converges in the background.
pub async fn wait_ping(ns: &str, addr: &str) {
    for _ in 0..20 {
        let (n, a) = (ns.to_string(), addr.to_string());
        if blocking(move || pings(&n, &a)).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{ns} cannot ping {addr}");
}

/// Waits up to 10 s for `ns` to stop answering pings to `addr`.
pub async fn wait_no_ping(ns: &str, addr: &str) {
    for _ in 0..40 {
        let (n, a) = (ns.to_string(), addr.to_string());
        if !blocking(move || pings(&n, &a)).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{ns} still reaches {addr}");
}

/// One DHCP exchange by busybox `udhcpc` in `vm` (eth0; in the
/// foreground, quitting once bound, 5 tries 1 s apart) with `opts` added
/// (e.g. `-O staticroutes`) and hook script `script`, written first with
/// `body`: whether it was given a lease.
pub fn run_udhcpc(vm: &str, script: &Path, body: &str, opts: &[&str]) -> bool {
    std::fs::write(script, body).unwrap();
    std::fs::set_permissions(script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    Command::new("ip")
        .args([
            "netns", "exec", vm, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n",
        ])
        .args(opts)
        .args(["-t", "5", "-T", "1", "-s"])
        .arg(script)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// busybox udhcpc in `vm` (eth0): the address it was given, or None.
/// `dir` (not the role's DHCP state directory: the role owns what is
/// in there) holds its hook script and result.
pub fn udhcpc(vm: &str, dir: &Path) -> Option<String> {
    std::fs::create_dir_all(dir).unwrap();
    let out = dir.join(format!("{vm}.env"));
    let script = dir.join(format!("{vm}.sh"));
    let body = format!(
        "#!/bin/sh\n[ \"$1\" = bound ] && echo \"$ip\" > {}\nexit 0\n",
        out.display()
    );
    if !run_udhcpc(vm, &script, &body, &[]) {
        return None;
    }
    std::fs::read_to_string(&out)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Accepts one TCP connection on `addr:port` in `ns` and sends back the
/// peer's address, so a test sees what source address arrived.
pub fn serve(ns: &str, addr: &str, port: u16) -> Server {
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
    python_server(ns, code, addr, port)
}

/// Runs python3 `code` in `ns` with arguments `addr port`, once it has
/// printed `ready` (bound and listening): the server, killed when dropped.
pub fn python_server(ns: &str, code: &str, addr: &str, port: u16) -> Server {
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

/// Connects from `ns` (2 s timeout): the address the server saw, or the
/// error.
pub fn connect(ns: &str, addr: &str, port: u16) -> Result<String, String> {
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

/// Runs blocking test code (subprocesses) off the runtime's workers.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// What busybox `udhcpc` was given: its environment at `bound`.
#[derive(Debug, Default, Clone)]
pub struct Lease {
    pub ip: String,
    pub mask: String,
    pub router: String,
    /// Option 121 as busybox hands it over: `DEST/LEN GW DEST/LEN GW …`.
    pub staticroutes: String,
}

/// busybox udhcpc in `vm` (eth0) asking for the classless static routes
/// too (`-O staticroutes`): the lease, or None. `dir` holds its hook
/// script and result; nothing is applied to the namespace.
pub fn udhcpc_lease(vm: &str, dir: &Path) -> Option<Lease> {
    std::fs::create_dir_all(dir).unwrap();
    let out = dir.join(format!("{vm}.lease"));
    let script = dir.join(format!("{vm}.lease.sh"));
    let body = format!(
        "#!/bin/sh\n[ \"$1\" = bound ] && printf '%s\\n%s\\n%s\\n%s\\n' \"$ip\" \"$mask\" \"$router\" \"$staticroutes\" > {}\nexit 0\n",
        out.display()
    );
    if !run_udhcpc(vm, &script, &body, &["-O", "staticroutes"]) {
        return None;
    }
    let text = std::fs::read_to_string(&out).ok()?;
    let mut l = text.lines().map(|s| s.trim().to_string());
    Some(Lease {
        ip: l.next().unwrap_or_default(),
        mask: l.next().unwrap_or_default(),
        router: l.next().unwrap_or_default(),
        staticroutes: l.next().unwrap_or_default(),
    })
}

/// `GET http://{host}{path}` from `ns` with python3 (3 s timeout): the
/// status and body, or the error.
pub fn http_get(ns: &str, host: &str, path: &str) -> Result<(u16, String), String> {
    let code = "import http.client,sys\n\
        c=http.client.HTTPConnection(sys.argv[1],80,timeout=3)\n\
        c.request('GET',sys.argv[2])\n\
        r=c.getresponse()\n\
        print(r.status)\n\
        print(r.read().decode(),end='')\n";
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", code, host, path])
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (status, body) = text.split_once('\n').unwrap_or((text.as_str(), ""));
    let status = status.trim().parse().map_err(|_| text.clone())?;
    Ok((status, body.to_string()))
}

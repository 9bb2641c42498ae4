//! `oxistack bench dataplane`: how fast the network role makes ports
//! ACTIVE, with a real in-process cloud (`dataplane = linux`) and a real
//! agent holding the network role in a simulated host namespace. Root
//! only: it makes namespaces and links.
//!
//! Everything lives in namespaces named `oxb-…` that the suite makes and
//! removes when it ends, fails or is interrupted (Ctrl-C): `oxb-host` (the
//! agent's host: bridges, VXLAN devices, the ports' `tap…` devices) and
//! `oxb-sink` (the other ends of the taps' veths, and of the underlay
//! veth carrying the host's VTEP address). The host's own interfaces,
//! routes and nftables are never touched. The cloud's state directory is
//! a fresh temporary directory, removed likewise.
//!
//! Phases:
//!
//! 1. **Cold convergence.** `--ports` ports (default 1,000) bound to the
//!    node, spread over `--networks` VXLAN tenant networks, each with its
//!    tap already present (a veth whose peer is in `oxb-sink`); then the
//!    agent starts. Measured: from the agent's start until the API
//!    reports every port ACTIVE (target ≤ 10 s).
//! 2. **Create → ACTIVE.** `--samples` times (default 200), with those
//!    ports present: `POST /v2.0/ports` bound to the node, its tap made
//!    right after the answer, then `GET /v2.0/ports/{id}` every 5 ms until
//!    it is ACTIVE. Measured: from before the POST to the first ACTIVE
//!    answer, p50/p95 (target p50 ≤ 200 ms).
//!
//! For each phase, where the role's applies spent their time (see
//! `agent::net::role::ApplyTimes`): L2 (bridges, uplinks, taps), routers,
//! and the port services (security groups; the suite runs no DHCP), which
//! run alongside the taps, so the shares can add up to more than 100 %;
//! and how many documents the role answered from its last apply (they
//! only echoed its own report). The POST's own answer time is reported
//! beside create → ACTIVE. With `RUST_LOG` set (e.g.
//! `agent=debug,nodes=debug,network::app::feed=debug`) the role's,
//! the agent's and the controller's timings are logged to stderr.
//!
//! The cloud is started by the binary (this crate cannot depend on it):
//! [`run`] takes a [`StartCloud`].

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent::net::l2::{tap_name, L2Config};
use agent::net::link::Netlink;
use agent::net::netns;
use agent::net::role::{ApplyTimes, NetworkRole, NetworkRoleConfig};
use anyhow::{bail, Context};
use bytes::Bytes;
use hyper::header::CONTENT_TYPE;
use hyper::Method;
use serde_json::{json, Value};

use crate::histogram::Histogram;
use crate::identity::{self, Settings};
use crate::load::{Body, Conn, Target};
use crate::report::{self, Table};

/// Target: every port ACTIVE after a cold start.
pub const COLD_GOAL: Duration = Duration::from_secs(10);
/// Target: p50 of create → ACTIVE.
pub const CREATE_P50_GOAL: Duration = Duration::from_millis(200);

/// Prefix of every namespace and link the suite makes.
pub const PREFIX: &str = "oxb-";
const HOST_NS: &str = "oxb-host";
const SINK_NS: &str = "oxb-sink";
const NODE: &str = "oxb-node";
const UNDERLAY: &str = "oxb-ul0";
const UNDERLAY_PEER: &str = "oxb-ul1";
const VTEP: [u8; 4] = [198, 51, 100, 1];

/// Arguments of `oxistack bench dataplane`.
#[derive(clap::Args, Debug, Clone)]
pub struct DataplaneArgs {
    /// Ports bound to the node before the agent starts
    #[arg(long, default_value_t = 1000)]
    pub ports: usize,

    /// VXLAN tenant networks the ports are spread over
    #[arg(long, default_value_t = 4)]
    pub networks: usize,

    /// Ports created one at a time in phase 2
    #[arg(long, default_value_t = 200)]
    pub samples: usize,

    /// Longest wait for a phase to converge, in seconds
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
}

/// Not `Send`: the cloud's start is awaited in place, never spawned
/// (and its future is not `Send` for every lifetime).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// A cloud started for the suite by the binary.
pub struct LocalCloud {
    /// Keystone's base URL.
    pub identity_url: String,
    /// Neutron's base URL.
    pub network_url: String,
    /// `http://ADDR` of the internal API the agent talks to.
    pub internal_url: String,
    pub admin_password: String,
    /// The node secret agents register with.
    pub node_secret: String,
    /// Stops the cloud.
    pub shutdown: BoxFuture<()>,
}

/// Starts a cloud with `dataplane = linux` in the given (fresh) state
/// directory, on loopback ports of its choosing, with no port quota.
pub type StartCloud = Box<dyn FnOnce(PathBuf) -> BoxFuture<anyhow::Result<LocalCloud>>>;

/// Where the role's applies spent their time during one phase.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spent {
    pub applies: u64,
    /// Documents answered without an apply (they only echoed the
    /// node's own report).
    pub skipped: u64,
    pub total: Duration,
    pub l2: Duration,
    pub routers: Duration,
    pub port_services: Duration,
}

impl Spent {
    fn between(a: ApplyTimes, b: ApplyTimes) -> Spent {
        Spent {
            applies: b.applies.saturating_sub(a.applies),
            skipped: b.skipped.saturating_sub(a.skipped),
            total: b.total.saturating_sub(a.total),
            l2: b.l2.saturating_sub(a.l2),
            routers: b.routers.saturating_sub(a.routers),
            port_services: b.port_services.saturating_sub(a.port_services),
        }
    }
}

/// What the suite measured.
#[derive(Debug, Clone)]
pub struct DataplaneResults {
    pub cold: Duration,
    pub cold_spent: Spent,
    pub create: Histogram,
    /// Of each create, until the API answered the POST.
    pub post: Histogram,
    pub create_spent: Spent,
}

/// Whether this process runs as root (effective uid 0).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Removes, on drop, every `oxb-` namespace (with all links inside) and
/// the cloud's state directory.
struct Cleanup {
    dir: PathBuf,
}

impl Cleanup {
    fn remove_namespaces() {
        for n in netns::list().unwrap_or_default() {
            if n.starts_with(PREFIX) {
                if let Err(e) = netns::delete(&n) {
                    eprintln!("cannot remove namespace {n}: {e}");
                }
            }
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        Self::remove_namespaces();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A JSON API on one keep-alive connection, with a token.
struct Api {
    target: Target,
    token: String,
    conn: Option<Conn>,
}

impl Api {
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => Conn::connect(self.target.addr).await?,
        };
        conn.ready().await?;
        let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let req = self
            .target
            .request(method.clone(), path)
            .header("x-auth-token", self.token.as_str())
            .header(CONTENT_TYPE, "application/json")
            .body(Body::new(bytes))?;
        let ex = tokio::time::timeout(
            Duration::from_secs(60),
            conn.exchange_keeping(req, 256 << 20),
        )
        .await
        .with_context(|| format!("timed out: {method} {path}"))??;
        self.conn = Some(conn);
        let v = if ex.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&ex.body)
                .with_context(|| format!("{method} {path}: the answer is not JSON"))?
        };
        Ok((ex.parts.status.as_u16(), v))
    }

    async fn post(&mut self, path: &str, body: Value) -> anyhow::Result<Value> {
        let (status, v) = self.call(Method::POST, path, Some(&body)).await?;
        if status != 201 && status != 200 {
            bail!("POST {path}: {status} {v}");
        }
        Ok(v)
    }

    async fn get(&mut self, path: &str) -> anyhow::Result<Value> {
        let (status, v) = self.call(Method::GET, path, None).await?;
        if status != 200 {
            bail!("GET {path}: {status} {v}");
        }
        Ok(v)
    }

    /// A port bound to the node on `network`: its id.
    async fn bound_port(&mut self, network: &str, vm: &str) -> anyhow::Result<String> {
        let p = self
            .post(
                "/v2.0/ports",
                json!({"port": {"network_id": network, "binding:host_id": NODE,
                    "device_owner": "compute:nova", "device_id": vm}}),
            )
            .await?;
        p["port"]["id"]
            .as_str()
            .map(str::to_owned)
            .context("a port without an id")
    }

    /// How many of the ports bound to the node are ACTIVE.
    async fn active(&mut self) -> anyhow::Result<usize> {
        let v = self
            .get(&format!(
                "/v2.0/ports?binding:host_id={NODE}&fields=id&fields=status"
            ))
            .await?;
        Ok(v["ports"]
            .as_array()
            .map(|a| a.iter().filter(|p| p["status"] == "ACTIVE").count())
            .unwrap_or(0))
    }
}

/// A tap for `port`: a veth whose `tap…` end is in the host namespace
/// (left down and unplugged, as QEMU leaves it) and whose other end is
/// `peer` in the sink namespace.
async fn make_tap(host: &Netlink, port: &str, peer: &str) -> anyhow::Result<()> {
    host.add_veth(&tap_name(port), peer, Some(SINK_NS))
        .await
        .with_context(|| format!("veth for port {port}"))
}

/// Makes the namespaces and the underlay: the host namespace's netlink.
async fn topology() -> anyhow::Result<Netlink> {
    Cleanup::remove_namespaces();
    netns::create(HOST_NS)?;
    netns::create(SINK_NS)?;
    let host = Netlink::open(Some(HOST_NS))?;
    host.add_veth(UNDERLAY, UNDERLAY_PEER, Some(SINK_NS))
        .await?;
    host.add_address(UNDERLAY, std::net::Ipv4Addr::from(VTEP).into(), 24)
        .await?;
    host.set_up(UNDERLAY).await?;
    host.set_up("lo").await?;
    Ok(host)
}

async fn wait_all_active(api: &mut Api, want: usize, timeout: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut last = 0;
    while start.elapsed() < timeout {
        last = api.active().await?;
        if last >= want {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{last} of {want} ports ACTIVE after {timeout:?}")
}

async fn wait_active(api: &mut Api, port: &str, timeout: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    let path = format!("/v2.0/ports/{port}?fields=status");
    while start.elapsed() < timeout {
        if api.get(&path).await?["port"]["status"] == "ACTIVE" {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bail!("port {port} not ACTIVE after {timeout:?}")
}

async fn measure(
    args: &DataplaneArgs,
    dir: &Path,
    start_cloud: StartCloud,
) -> anyhow::Result<DataplaneResults> {
    if args.networks == 0 || args.ports == 0 {
        bail!("--networks and --ports must be at least 1");
    }
    let timeout = Duration::from_secs(args.timeout);
    let host = topology().await.context("making the oxb- namespaces")?;
    eprintln!("starting the cloud in {}", dir.display());
    let cloud = start_cloud(dir.join("state")).await?;
    let settings = Settings {
        url: identity::keystone_base(&cloud.identity_url),
        username: "admin".into(),
        password: cloud.admin_password.clone(),
        project: "admin".into(),
        user_domain: "Default".into(),
        project_domain: "Default".into(),
    };
    let keystone = Target::resolve(&settings.url, false).await?;
    let token = identity::issue_token(&keystone, &settings).await?;
    let mut api = Api {
        target: Target::resolve(&cloud.network_url, false).await?,
        token,
        conn: None,
    };

    eprintln!(
        "making {} networks and {} ports with their taps",
        args.networks, args.ports
    );
    let mut nets = Vec::new();
    for i in 0..args.networks {
        let n = api
            .post(
                "/v2.0/networks",
                json!({"network": {"name": format!("oxb-net{i}")}}),
            )
            .await?;
        let id = n["network"]["id"]
            .as_str()
            .context("a network without an id")?
            .to_owned();
        api.post(
            "/v2.0/subnets",
            json!({"subnet": {"network_id": id, "ip_version": 4,
                "cidr": format!("10.{}.0.0/16", 100 + i), "enable_dhcp": false}}),
        )
        .await?;
        nets.push(id);
    }
    for i in 0..args.ports {
        let port = api
            .bound_port(&nets[i % nets.len()], &format!("oxb-vm{i}"))
            .await?;
        make_tap(&host, &port, &format!("c{i}")).await?;
    }

    // Phase 1: the agent starts with every tap present.
    let role = NetworkRole::new(NetworkRoleConfig {
        node_prefix: PREFIX.into(),
        namespace: Some(HOST_NS.into()),
        l2: L2Config {
            tunnel_ip: Some(VTEP.into()),
            tunnel_dev: Some(UNDERLAY.into()),
            ..L2Config::default()
        },
        dhcp_state_dir: None,
    });
    let mut cfg = agent::AgentConfig::new(
        &cloud.internal_url,
        NODE,
        vec!["network".into()],
        cloud.node_secret.clone(),
    );
    cfg.address = std::net::Ipv4Addr::from(VTEP).to_string();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    eprintln!("phase 1: cold convergence of {} ports", args.ports);
    let before = role.apply_times();
    let t0 = Instant::now();
    let agent = tokio::spawn(agent::run(
        cfg,
        vec![Arc::new(role.clone())],
        async {
            let _ = stop_rx.await;
        },
        None,
    ));
    wait_all_active(&mut api, args.ports, timeout).await?;
    let cold = t0.elapsed();
    let cold_spent = Spent::between(before, role.apply_times());
    eprintln!("  all ACTIVE after {}", report::latency(cold));

    // Phase 2: one port at a time, its tap made right after the create.
    eprintln!("phase 2: create → ACTIVE, {} ports", args.samples);
    // Let the role settle so phase 1's last applies are not counted.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = role.apply_times();
    let mut create = Histogram::new();
    let mut post = Histogram::new();
    for i in 0..args.samples {
        let t = Instant::now();
        let port = api
            .bound_port(&nets[i % nets.len()], &format!("oxb-new{i}"))
            .await?;
        post.record_duration(t.elapsed());
        make_tap(&host, &port, &format!("n{i}")).await?;
        wait_active(&mut api, &port, timeout).await?;
        create.record_duration(t.elapsed());
        if (i + 1) % 20 == 0 {
            eprintln!(
                "  {} done, p50 so far {}",
                i + 1,
                report::latency(create.percentile_duration(50.0))
            );
        }
    }
    let create_spent = Spent::between(before, role.apply_times());

    let _ = stop_tx.send(());
    match tokio::time::timeout(Duration::from_secs(10), agent).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => eprintln!("the agent ended with: {e}"),
        Ok(Err(e)) => eprintln!("the agent task failed: {e}"),
        Err(_) => eprintln!("the agent did not stop within 10 s"),
    }
    cloud.shutdown.await;
    Ok(DataplaneResults {
        cold,
        cold_spent,
        create,
        post,
        create_spent,
    })
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT met"
    }
}

fn spent_row(t: &mut Table, phase: &str, s: &Spent) {
    let share = |d: Duration| {
        if s.total.is_zero() {
            "-".to_owned()
        } else {
            format!(
                "{} ({:.0} %)",
                report::latency(d),
                100.0 * d.as_secs_f64() / s.total.as_secs_f64()
            )
        }
    };
    let per = if s.applies == 0 {
        "-".to_owned()
    } else {
        report::latency(s.total / u32::try_from(s.applies).unwrap_or(u32::MAX))
    };
    t.row([
        phase.to_owned(),
        s.applies.to_string(),
        s.skipped.to_string(),
        report::latency(s.total),
        per,
        share(s.l2),
        share(s.routers),
        share(s.port_services),
    ]);
}

/// The report: results, where the applies' time went, and the Markdown
/// block for `BENCHMARKS.md`.
pub fn render(r: &DataplaneResults, args: &DataplaneArgs, command_line: &str) -> String {
    let mut results = Table::new([
        "Benchmark",
        "Samples",
        "p50",
        "p95",
        "max",
        "Target",
        "Result",
    ]);
    results.row([
        format!("Cold convergence: {} ports → all ACTIVE", args.ports),
        "1".to_owned(),
        report::latency(r.cold),
        String::new(),
        String::new(),
        "≤ 10 s".to_owned(),
        verdict(r.cold <= COLD_GOAL).to_owned(),
    ]);
    let p50 = r.create.percentile_duration(50.0);
    results.row([
        format!("Port create → ACTIVE ({} present)", args.ports),
        r.create.count().to_string(),
        report::latency(p50),
        report::latency(r.create.percentile_duration(95.0)),
        report::latency(Duration::from_nanos(r.create.max())),
        "p50 ≤ 200 ms".to_owned(),
        verdict(p50 <= CREATE_P50_GOAL).to_owned(),
    ]);
    results.row([
        "… of which POST /v2.0/ports answered".to_owned(),
        r.post.count().to_string(),
        report::latency(r.post.percentile_duration(50.0)),
        report::latency(r.post.percentile_duration(95.0)),
        report::latency(Duration::from_nanos(r.post.max())),
        String::new(),
        String::new(),
    ]);
    let mut spent = Table::new([
        "Role applies during",
        "Applies",
        "Echoes skipped",
        "Total",
        "Per apply",
        "L2",
        "Routers",
        "Port services (security groups)",
    ]);
    spent_row(&mut spent, "cold convergence", &r.cold_spent);
    spent_row(&mut spent, "create → ACTIVE", &r.create_spent);
    let setup = format!(
        "in-process cloud (SQLite, dataplane = linux) and a network-role agent in \
         namespace {HOST_NS}; {} ports bound to the node over {} VXLAN networks, \
         default security group, taps as veths into {SINK_NS}; create → ACTIVE polled \
         every 5 ms; everything on the same host",
        args.ports, args.networks
    );
    let machine = report::machine();
    let mut out = String::from("oxistack bench dataplane\n");
    out.push_str(&format!("{setup}\nmachine: {machine}\n\n"));
    out.push_str(&results.to_text());
    out.push('\n');
    out.push_str(&spent.to_text());
    let body = format!("{}\n{}", results.to_markdown(), spent.to_markdown());
    out.push_str(&report::markdown_block(
        "Data plane: cold convergence and port create → ACTIVE",
        command_line,
        &machine,
        &setup,
        &body,
    ));
    out
}

/// `oxistack bench dataplane`: refuses unless root; builds, measures,
/// prints the report, and removes everything it made, also on failure
/// or Ctrl-C.
pub async fn run(args: DataplaneArgs, start_cloud: StartCloud) -> anyhow::Result<()> {
    if !is_root() {
        bail!(
            "oxistack bench dataplane must run as root: it makes network namespaces \
             ({PREFIX}…), veths, bridges and VXLAN devices"
        );
    }
    // The role's and the controller's debug timings (apply phases, feed
    // builds, reports) when asked for, e.g.
    // RUST_LOG=oxistack_agent=debug,oxistack_nodes=debug.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
    let dir = std::env::temp_dir().join(format!("oxistack-bench-dataplane-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let _cleanup = Cleanup { dir: dir.clone() };
    let results = tokio::select! {
        r = measure(&args, &dir, start_cloud) => r?,
        _ = tokio::signal::ctrl_c() => bail!("interrupted; removing the {PREFIX} namespaces"),
    };
    let cmd = report::command_line(std::env::args());
    print!("{}", render(&results, &args, &cmd));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: DataplaneArgs,
    }

    #[test]
    fn defaults_are_the_issues_targets() {
        let a = Cli::try_parse_from(["bench"]).unwrap().args;
        assert_eq!((a.ports, a.networks, a.samples), (1000, 4, 200));
    }

    #[test]
    fn the_report_says_what_was_met() {
        let mut create = Histogram::new();
        for ms in [100u64, 150, 180, 400] {
            create.record_duration(Duration::from_millis(ms));
        }
        let s = Spent {
            applies: 4,
            skipped: 1,
            total: Duration::from_millis(400),
            l2: Duration::from_millis(100),
            routers: Duration::ZERO,
            port_services: Duration::from_millis(300),
        };
        let r = DataplaneResults {
            cold: Duration::from_secs(12),
            cold_spent: s,
            create,
            post: Histogram::new(),
            create_spent: s,
        };
        let args = Cli::try_parse_from(["bench"]).unwrap().args;
        let out = render(&r, &args, "oxistack bench dataplane");
        assert!(out.contains("NOT met"), "{out}");
        assert!(
            out.contains("| Port create → ACTIVE (1000 present) | 4 |"),
            "{out}"
        );
        assert!(
            out.contains("300.00 ms (75 %)") || out.contains("300 ms (75 %)"),
            "{out}"
        );
        assert!(out.contains("Command: `oxistack bench dataplane`"), "{out}");
    }
}

//! `oxistack bench compute`: server create → ACTIVE and server lists with
//! the fake driver (`oxistack up --compute-driver fake`).
//!
//! Setup, through the API as the suite's user (admin by default):
//!
//! * the image `--image-name` (`bench-image`, 1 MiB raw) and the network
//!   `--network-name` (`bench-compute-net`, a /16 subnet) are found by name or
//!   made; a second run reuses them;
//! * the project's compute quotas (instances, cores, RAM) and its Neutron
//!   port quota are set to unlimited (-1), and left so, like the servers, for
//!   the next run on the same store.
//!
//! Phases:
//!
//! 1. `--samples` creates one after the other: `POST /v2.1/servers`, then
//!    `GET /v2.1/servers/{id}` every `--poll-ms` until `ACTIVE`; each sample
//!    is the time from sending the POST to the answer showing `ACTIVE`.
//! 2. `--parallel` creates at once, one connection each, each polled the same
//!    way: the total time (first POST to the last `ACTIVE`) and each
//!    server's create → ACTIVE.
//! 3. Top-up: more servers, 8 at a time, until the project holds
//!    `--servers` (servers of phases 1–2 and of earlier runs count), then a
//!    wait until none is building.
//! 4. `openstack server list --long`'s request, `GET
//!    /v2.1/servers/detail?deleted=False` at microversion 2.100, following
//!    `servers_links` as openstacksdk does, `--lists` times one after the
//!    other; each list must hold at least `--servers` servers.
//!
//! The server's memory (see [`crate::rss`]) is read before any load and
//! sampled during each phase when its PID is known (`--pid` or
//! `--state-dir`). Targets (issue 15), printed beside the results:
//! create → ACTIVE p50 ≤ 50 ms, the list p95 ≤ 50 ms.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use hyper::header::CONTENT_TYPE;
use hyper::Method;
use serde_json::{json, Value};

use crate::histogram::Histogram;
use crate::identity::{self, Login};
use crate::load::{Body, Conn, Errors, Target};
use crate::report::{self, Table};
use crate::rss::{self, MemStatus, RssSummary};

/// Target p50 of one create → ACTIVE with the fake driver.
pub const CREATE_P50_GOAL: Duration = Duration::from_millis(50);
/// Target p95 of `server list --long`'s request with 1,000 servers.
pub const LIST_P95_GOAL: Duration = Duration::from_millis(50);
/// The microversion python-openstackclient and openstacksdk ask for.
pub const MICROVERSION: &str = "compute 2.100";

const AUTH_TOKEN: &str = "x-auth-token";
/// What `server list --long` asks for (openstacksdk adds `deleted=False`).
const LIST_PATH: &str = "/servers/detail?deleted=False";
/// Name prefix of the servers the suite makes.
const PREFIX: &str = "bench-vm-";

/// Arguments of `oxistack bench compute`.
#[derive(clap::Args, Debug, Clone)]
pub struct ComputeArgs {
    /// Keystone base URL [default: auth_url from --clouds, else http://127.0.0.1:5000]
    #[arg(long)]
    pub url: Option<String>,

    /// Nova base URL, with its /v2.1 [default: the Keystone host on port 8774]
    #[arg(long)]
    pub compute_url: Option<String>,

    /// Neutron base URL [default: the Keystone host on port 9696]
    #[arg(long)]
    pub network_url: Option<String>,

    /// Glance base URL [default: the Keystone host on port 9292]
    #[arg(long)]
    pub image_url: Option<String>,

    #[command(flatten)]
    pub login: Login,

    /// State directory of `oxistack up`: PID from DIR/oxistack.pid,
    /// credentials from DIR/clouds.yaml
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// PID of the server, to report its memory (VmRSS/VmHWM)
    #[arg(long)]
    pub pid: Option<u32>,

    /// Flavor the servers are made with (name or id)
    #[arg(long, default_value = "m1.tiny")]
    pub flavor: String,

    /// Name of the image the servers boot (found or uploaded)
    #[arg(long, default_value = "bench-image")]
    pub image_name: String,

    /// Name of the network the servers are on (found or created)
    #[arg(long, default_value = "bench-compute-net")]
    pub network_name: String,

    /// Sequential create → ACTIVE samples
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub samples: u64,

    /// Servers created at once in the parallel phase (0 skips it)
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub parallel: u64,

    /// Servers the project holds before the list phase
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=20_000))]
    pub servers: u64,

    /// How many lists to time, one after the other
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub lists: u64,

    /// Interval between the GETs polling a new server
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=5000))]
    pub poll_ms: u64,

    /// Seconds a server may take to become ACTIVE, and per-request timeout
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    /// Allow a URL that does not resolve to a loopback address
    #[arg(long)]
    pub allow_remote: bool,
}

/// One client connection to one service with a token: JSON in and out.
struct Api {
    target: Target,
    token: String,
    conn: Option<Conn>,
    timeout: Duration,
}

impl Api {
    fn new(target: &Target, token: &str, timeout: Duration) -> Self {
        Self {
            target: target.clone(),
            token: token.to_owned(),
            conn: None,
            timeout,
        }
    }

    /// One request; the status and the parsed body (`Null` if none or not JSON).
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<(&'static str, Bytes)>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut conn = match reusable(self.conn.take()).await {
            Some(c) => c,
            None => Conn::connect(self.target.addr).await?,
        };
        let builder = self
            .target
            .request(method.clone(), path)
            .header(AUTH_TOKEN, self.token.as_str())
            .header("openstack-api-version", MICROVERSION);
        let req = match body {
            Some((ctype, bytes)) => builder.header(CONTENT_TYPE, ctype).body(Body::new(bytes))?,
            None => builder.body(Body::default())?,
        };
        let ex = tokio::time::timeout(self.timeout, conn.exchange_keeping(req, usize::MAX))
            .await
            .with_context(|| format!("{method} {path}: no answer in {:?}", self.timeout))?
            .with_context(|| format!("{method} {path}"))?;
        self.conn = Some(conn);
        let value = serde_json::from_slice(&ex.body).unwrap_or(Value::Null);
        Ok((ex.parts.status.as_u16(), value))
    }

    /// `call` with a JSON body (or none), failing unless the status is 2xx.
    async fn ok(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let body = body.map(|v| ("application/json", Bytes::from(v.to_string())));
        let (status, value) = self.call(method.clone(), path, body).await?;
        if !(200..300).contains(&status) {
            bail!("{method} {path} answered {status}: {value}");
        }
        Ok(value)
    }
}

/// The connection, if there is one and the server has not closed it.
async fn reusable(conn: Option<Conn>) -> Option<Conn> {
    let mut c = conn?;
    c.ready().await.ok()?;
    Some(c)
}

/// The ids the creates need.
#[derive(Debug, Clone)]
struct Boot {
    image: String,
    flavor: String,
    network: String,
}

/// Finds or uploads the image; returns its id.
async fn image(glance: &mut Api, name: &str) -> anyhow::Result<String> {
    let found = glance
        .ok(
            Method::GET,
            &format!("/v2/images?name={}&status=active", query(name)),
            None,
        )
        .await?;
    if let Some(id) = found["images"]
        .as_array()
        .and_then(|a| a.first())
        .and_then(|i| i["id"].as_str())
    {
        return Ok(id.to_owned());
    }
    eprintln!("compute: uploading image {name} (1 MiB raw)");
    let made = glance
        .ok(
            Method::POST,
            "/v2/images",
            Some(json!({"name": name, "disk_format": "raw", "container_format": "bare"})),
        )
        .await?;
    let id = str_field(&made, "id")?;
    let data = Bytes::from(vec![0u8; 1 << 20]);
    let (status, v) = glance
        .call(
            Method::PUT,
            &format!("/v2/images/{id}/file"),
            Some(("application/octet-stream", data)),
        )
        .await?;
    if status != 204 {
        bail!("uploading the image data answered {status}: {v}");
    }
    Ok(id)
}

/// Finds or makes the network and a /16 subnet; returns (network id, project id).
async fn network(neutron: &mut Api, name: &str) -> anyhow::Result<(String, String)> {
    let found = neutron
        .ok(
            Method::GET,
            &format!("/v2.0/networks?name={}", query(name)),
            None,
        )
        .await?;
    let net = match found["networks"].as_array().and_then(|a| a.first()) {
        Some(n) => n.clone(),
        None => {
            eprintln!("compute: creating network {name} with subnet 10.112.0.0/16");
            let net = neutron
                .ok(
                    Method::POST,
                    "/v2.0/networks",
                    Some(json!({"network": {"name": name}})),
                )
                .await?["network"]
                .clone();
            let id = str_field(&net, "id")?;
            neutron
                .ok(
                    Method::POST,
                    "/v2.0/subnets",
                    Some(
                        json!({"subnet": {"name": name, "network_id": id, "ip_version": 4,
                                           "cidr": "10.112.0.0/16"}}),
                    ),
                )
                .await?;
            net
        }
    };
    Ok((str_field(&net, "id")?, str_field(&net, "project_id")?))
}

/// The flavor's id, given its name or id.
async fn flavor(nova: &mut Api, name: &str) -> anyhow::Result<String> {
    let list = nova.ok(Method::GET, "/flavors", None).await?;
    list["flavors"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["name"] == name || f["id"] == name)
        .and_then(|f| f["id"].as_str())
        .map(str::to_owned)
        .with_context(|| format!("no flavor {name:?}"))
}

fn create_body(boot: &Boot, name: &str) -> Value {
    json!({"server": {"name": name, "imageRef": boot.image, "flavorRef": boot.flavor,
                      "networks": [{"uuid": boot.network}]}})
}

/// Creates one server; with `wait`, polls it until ACTIVE. Returns the time
/// from the POST to the answer showing ACTIVE (or to the 202 without `wait`).
async fn create(
    nova: &mut Api,
    boot: &Boot,
    name: &str,
    wait: Option<(Duration, Duration)>,
) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    let made = nova
        .ok(Method::POST, "/servers", Some(create_body(boot, name)))
        .await?;
    let id = str_field(&made["server"], "id")?;
    let Some((poll, limit)) = wait else {
        return Ok(t0.elapsed());
    };
    loop {
        let shown = nova
            .ok(Method::GET, &format!("/servers/{id}"), None)
            .await?;
        match shown["server"]["status"].as_str() {
            Some("ACTIVE") => return Ok(t0.elapsed()),
            Some("ERROR") => bail!("server {id} went to ERROR: {}", shown["server"]["fault"]),
            _ => {}
        }
        if t0.elapsed() > limit {
            bail!("server {id} not ACTIVE after {limit:?}");
        }
        tokio::time::sleep(poll).await;
    }
}

/// Sorts an error into a kind for the report.
fn kind(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    if let Some(i) = text.find("answered ") {
        let code: String = text[i + 9..].chars().take(3).collect();
        return format!("HTTP {code}");
    }
    if text.contains("ERROR") {
        "server ERROR".to_owned()
    } else if text.contains("not ACTIVE") || text.contains("no answer") {
        "timeout".to_owned()
    } else {
        "transport".to_owned()
    }
}

/// Which measurement a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Sequential creates.
    Sequential,
    /// Parallel creates.
    Parallel,
    /// `server list --long`.
    List,
}

impl Phase {
    /// Human name, as used in the report.
    pub fn title(self) -> &'static str {
        match self {
            Phase::Sequential => "create → ACTIVE (one at a time)",
            Phase::Parallel => "create → ACTIVE (all at once, per server)",
            Phase::List => "GET /servers/detail (server list --long)",
        }
    }

    /// The target as printed.
    pub fn goal(self) -> String {
        match self {
            Phase::Sequential => format!("p50 ≤ {}", report::latency(CREATE_P50_GOAL)),
            Phase::Parallel => "reported".to_owned(),
            Phase::List => format!("p95 ≤ {}", report::latency(LIST_P95_GOAL)),
        }
    }

    /// Whether `latency` meets the target (`None`: no target).
    pub fn met(self, latency: &Histogram) -> Option<bool> {
        match self {
            Phase::Sequential => Some(latency.percentile_duration(50.0) <= CREATE_P50_GOAL),
            Phase::Parallel => None,
            Phase::List => Some(latency.percentile_duration(95.0) <= LIST_P95_GOAL),
        }
    }
}

/// One measured phase.
#[derive(Debug, Clone)]
pub struct PhaseResult {
    /// Which phase.
    pub phase: Phase,
    /// Successful samples.
    pub latency: Histogram,
    /// Wall time of the whole phase.
    pub total: Duration,
    /// What failed.
    pub errors: Errors,
    /// Server memory during the phase, if a PID is known.
    pub rss: Option<RssSummary>,
}

/// Everything [`measure`] found.
#[derive(Debug, Clone)]
pub struct ComputeResults {
    /// Nova base URL.
    pub url: String,
    /// Servers of the project when the lists ran.
    pub servers: u64,
    /// Pages one list took (1 when the server's page holds them all).
    pub pages: u64,
    /// Server PID, if known.
    pub pid: Option<u32>,
    /// Memory before any load (`Err` text if it could not be read).
    pub idle: Option<Result<MemStatus, String>>,
    /// The phases, in the order run.
    pub phases: Vec<PhaseResult>,
}

/// `http://<keystone host>:<port><suffix>` unless a URL was given.
fn service_url(given: Option<&str>, keystone: SocketAddr, port: u16, suffix: &str) -> String {
    match given {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => {
            let host = match keystone.ip() {
                std::net::IpAddr::V4(ip) => ip.to_string(),
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            };
            format!("http://{host}:{port}{suffix}")
        }
    }
}

/// Percent-encodes a query value (names are free text).
fn query(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn str_field(v: &Value, key: &str) -> anyhow::Result<String> {
    v[key]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no {key:?} in {v}"))
}

/// The `next` link of a list answer, as a path below the Nova base URL.
fn next_page(v: &Value, base_path: &str) -> Option<String> {
    let href = v["servers_links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == "next")?["href"]
        .as_str()?;
    // An absolute link: keep what follows the base path (…/v2.1).
    let at = href.find(base_path).map(|i| i + base_path.len())?;
    Some(href[at..].to_owned())
}

/// Every server of the project through `path` and its next links: (count, pages).
async fn list_all(nova: &mut Api, path: &str) -> anyhow::Result<(u64, u64)> {
    let (mut count, mut pages) = (0u64, 0u64);
    let mut next = Some(path.to_owned());
    while let Some(p) = next {
        let v = nova.ok(Method::GET, &p, None).await?;
        let servers = v["servers"]
            .as_array()
            .with_context(|| format!("GET {p}: no servers array"))?;
        count += servers.len() as u64;
        pages += 1;
        next = next_page(&v, &nova.target.base_path);
        if pages > 10_000 {
            bail!("GET {path}: more than 10,000 pages");
        }
    }
    Ok((count, pages))
}

fn sample(pid: Option<u32>) -> Option<rss::Sampler> {
    pid.map(|pid| rss::Sampler::start(pid, rss::SAMPLE_EVERY))
}

async fn finish(sampler: Option<rss::Sampler>) -> Option<RssSummary> {
    match sampler {
        Some(s) => Some(s.finish().await),
        None => None,
    }
}

/// Run the suite and collect results (progress goes to stderr).
pub async fn measure(args: &ComputeArgs) -> anyhow::Result<ComputeResults> {
    let settings = identity::settings(&args.login, args.url.as_deref(), args.state_dir.as_deref())?;
    let keystone = Target::resolve(&settings.url, args.allow_remote).await?;
    let pid = rss::resolve_pid(args.pid, args.state_dir.as_deref())?;
    let idle = match pid {
        Some(pid) => Some(rss::read(pid).await.map_err(|e| format!("{e:#}"))),
        None => None,
    };
    if let Some(Err(e)) = &idle {
        eprintln!("warning: cannot read server memory: {e}");
    }
    let token = identity::issue_token(&keystone, &settings)
        .await
        .context("could not get a token; check URL and credentials")?;
    let timeout = Duration::from_secs(args.timeout);
    let url = service_url(args.compute_url.as_deref(), keystone.addr, 8774, "/v2.1");
    let nova_target = Target::resolve(&url, args.allow_remote).await?;
    let neutron_target = Target::resolve(
        &service_url(args.network_url.as_deref(), keystone.addr, 9696, ""),
        args.allow_remote,
    )
    .await?;
    let glance_target = Target::resolve(
        &service_url(args.image_url.as_deref(), keystone.addr, 9292, ""),
        args.allow_remote,
    )
    .await?;
    let mut nova = Api::new(&nova_target, &token, timeout);
    let mut neutron = Api::new(&neutron_target, &token, timeout);
    let mut glance = Api::new(&glance_target, &token, timeout);

    let image = image(&mut glance, &args.image_name).await?;
    let (network, project) = network(&mut neutron, &args.network_name).await?;
    let flavor = flavor(&mut nova, &args.flavor).await?;
    neutron
        .ok(
            Method::PUT,
            &format!("/v2.0/quotas/{project}"),
            Some(json!({"quota": {"port": -1}})),
        )
        .await
        .context("lifting the port quota (the suite's user must be admin)")?;
    nova.ok(
        Method::PUT,
        &format!("/os-quota-sets/{project}"),
        Some(json!({"quota_set": {"instances": -1, "cores": -1, "ram": -1}})),
    )
    .await
    .context("lifting the compute quotas (the suite's user must be admin)")?;
    let boot = Arc::new(Boot {
        image,
        flavor,
        network,
    });
    let poll = Duration::from_millis(args.poll_ms);
    let run_tag = format!("{:x}", std::process::id());
    let mut phases = Vec::new();

    eprintln!(
        "compute: {} — {} samples, polling every {} ms…",
        Phase::Sequential.title(),
        args.samples,
        args.poll_ms
    );
    let sampler = sample(pid);
    let (mut latency, mut errors) = (Histogram::new(), Errors::default());
    let started = Instant::now();
    for i in 0..args.samples {
        let name = format!("{PREFIX}{run_tag}-s{i}");
        match create(&mut nova, &boot, &name, Some((poll, timeout))).await {
            Ok(d) => latency.record_duration(d),
            Err(e) => errors.add(kind(&e), || format!("{e:#}")),
        }
    }
    let total = started.elapsed();
    let rss = finish(sampler).await;
    progress(Phase::Sequential, &latency, &errors);
    phases.push(PhaseResult {
        phase: Phase::Sequential,
        latency,
        total,
        errors,
        rss,
    });

    if args.parallel > 0 {
        eprintln!(
            "compute: {} — {} creates on {} connections…",
            Phase::Parallel.title(),
            args.parallel,
            args.parallel
        );
        let sampler = sample(pid);
        let gate = Arc::new(tokio::sync::Barrier::new(args.parallel as usize + 1));
        let mut tasks = Vec::new();
        for i in 0..args.parallel {
            let (gate, boot, target, token) = (
                gate.clone(),
                boot.clone(),
                nova_target.clone(),
                token.clone(),
            );
            let name = format!("{PREFIX}{run_tag}-p{i}");
            tasks.push(tokio::spawn(async move {
                let mut api = Api::new(&target, &token, timeout);
                // Connect before the gate, so the phase times creates, not handshakes.
                let warm = api.call(Method::GET, "/", None).await;
                gate.wait().await;
                warm?;
                create(&mut api, &boot, &name, Some((poll, timeout))).await
            }));
        }
        gate.wait().await;
        let started = Instant::now();
        let (mut latency, mut errors) = (Histogram::new(), Errors::default());
        for t in tasks {
            match t.await {
                Ok(Ok(d)) => latency.record_duration(d),
                Ok(Err(e)) => errors.add(kind(&e), || format!("{e:#}")),
                Err(e) => errors.add("task", || e.to_string()),
            }
        }
        let total = started.elapsed();
        let rss = finish(sampler).await;
        progress(Phase::Parallel, &latency, &errors);
        eprintln!(
            "compute: all {} created in {}",
            args.parallel,
            report::latency(total)
        );
        phases.push(PhaseResult {
            phase: Phase::Parallel,
            latency,
            total,
            errors,
            rss,
        });
    }

    let (have, _) = list_all(&mut nova, "/servers?limit=1000").await?;
    if have < args.servers {
        let n = args.servers - have;
        eprintln!("compute: {have} servers in the project, creating {n} more…");
        let next = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (next, boot, target, token, tag) = (
                next.clone(),
                boot.clone(),
                nova_target.clone(),
                token.clone(),
                run_tag.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut api = Api::new(&target, &token, timeout);
                let mut errors = Errors::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return errors;
                    }
                    let name = format!("{PREFIX}{tag}-f{i}");
                    if let Err(e) = create(&mut api, &boot, &name, None).await {
                        errors.add(kind(&e), || format!("{e:#}"));
                    }
                }
            }));
        }
        let mut errors = Errors::default();
        for t in tasks {
            match t.await {
                Ok(e) => errors.merge(e),
                Err(e) => errors.add("task", || e.to_string()),
            }
        }
        if errors.total() > 0 {
            eprintln!("compute: seeding errors: {}", errors.summary());
        }
    }
    // The lists are of settled servers: wait until none is building.
    let deadline = Instant::now() + timeout.max(Duration::from_secs(args.servers / 10));
    loop {
        let v = nova
            .ok(Method::GET, "/servers?status=BUILD&limit=1", None)
            .await?;
        if v["servers"].as_array().is_some_and(|a| a.is_empty()) {
            break;
        }
        if Instant::now() > deadline {
            bail!("servers still building after {:?}", timeout);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (servers, pages) = list_all(&mut nova, LIST_PATH).await?;
    eprintln!("compute: {servers} servers in the project, {pages} page(s) per list");
    if servers < args.servers {
        bail!(
            "the project holds {servers} servers, fewer than --servers {}",
            args.servers
        );
    }

    eprintln!(
        "compute: {} — {} lists, one at a time…",
        Phase::List.title(),
        args.lists
    );
    let sampler = sample(pid);
    let (mut latency, mut errors) = (Histogram::new(), Errors::default());
    let started = Instant::now();
    for _ in 0..args.lists {
        let t0 = Instant::now();
        match list_all(&mut nova, LIST_PATH).await {
            Ok((n, _)) if n >= args.servers => latency.record_duration(t0.elapsed()),
            Ok((n, _)) => errors.add("check: too few servers", || {
                format!("{n} servers listed, want at least {}", args.servers)
            }),
            Err(e) => errors.add(kind(&e), || format!("{e:#}")),
        }
    }
    let total = started.elapsed();
    let rss = finish(sampler).await;
    progress(Phase::List, &latency, &errors);
    phases.push(PhaseResult {
        phase: Phase::List,
        latency,
        total,
        errors,
        rss,
    });

    Ok(ComputeResults {
        url,
        servers,
        pages,
        pid,
        idle,
        phases,
    })
}

fn progress(phase: Phase, latency: &Histogram, errors: &Errors) {
    eprintln!(
        "compute: {}: {} samples, p50 {}, p95 {}, {} errors",
        phase.title(),
        latency.count(),
        report::latency(latency.percentile_duration(50.0)),
        report::latency(latency.percentile_duration(95.0)),
        errors.total()
    );
}

/// `pass`, `MISS`, `MISS (errors)`, or `—` without a target.
fn verdict(met: Option<bool>, errors: u64) -> String {
    match (met, errors) {
        (_, e) if e > 0 => "MISS (errors)".to_owned(),
        (None, _) => "—".to_owned(),
        (Some(true), _) => "pass".to_owned(),
        (Some(false), _) => "MISS".to_owned(),
    }
}

fn memory(rss: &Option<RssSummary>) -> String {
    match rss {
        Some(s) if s.samples > 0 => format!(
            "{} / {}",
            report::mib(s.max_rss_kib),
            report::mib(s.hwm_kib)
        ),
        Some(s) => format!(
            "unreadable ({})",
            s.first_error.as_deref().unwrap_or("no samples")
        ),
        None => "n/a".to_owned(),
    }
}

/// The full printed report: plain text, then a Markdown block.
pub fn render(r: &ComputeResults, args: &ComputeArgs, command_line: &str) -> String {
    let mut table = Table::new([
        "Benchmark",
        "Samples",
        "Total time",
        "p50",
        "p95",
        "p99",
        "Errors",
        "Server RSS (peak / HWM)",
        "Target",
        "Result",
    ]);
    let mut error_lines = Vec::new();
    for p in &r.phases {
        let errors = p.errors.total();
        if errors > 0 {
            error_lines.push(format!("{}: {}", p.phase.title(), p.errors.summary()));
        }
        table.row([
            p.phase.title().to_owned(),
            report::thousands(p.latency.count() as f64),
            report::latency(p.total),
            report::latency(p.latency.percentile_duration(50.0)),
            report::latency(p.latency.percentile_duration(95.0)),
            report::latency(p.latency.percentile_duration(99.0)),
            report::thousands(errors as f64),
            memory(&p.rss),
            p.phase.goal(),
            verdict(p.phase.met(&p.latency), errors),
        ]);
    }
    let idle = match &r.idle {
        Some(Ok(m)) => format!("{} / {}", report::mib(m.rss_kib), report::mib(m.hwm_kib)),
        Some(Err(e)) => format!("unreadable ({e})"),
        None => "n/a (no --pid / --state-dir)".to_owned(),
    };
    table.row([
        "RSS before load".to_owned(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        idle,
        "—".to_owned(),
        "—".to_owned(),
    ]);
    let setup = format!(
        "flavor {}; {} sequential creates and {} parallel ones, each polled with GET \
         /servers/{{id}} every {} ms until ACTIVE; {} lists of {} servers ({} page(s) each, \
         microversion 2.100) one at a time; the server's compute driver decides what ACTIVE \
         costs (fake for these targets); load generator on the same host as the server",
        args.flavor,
        args.samples,
        args.parallel,
        args.poll_ms,
        args.lists,
        report::thousands(r.servers as f64),
        r.pages,
    );
    let machine = report::machine();
    let server = match r.pid {
        Some(pid) => format!("server pid {pid}"),
        None => "server pid unknown".to_owned(),
    };
    let mut out = format!("oxistack bench compute — {}\n", r.url);
    out.push_str(&format!("{setup}\nmachine: {machine}; {server}\n\n"));
    out.push_str(&table.to_text());
    out.push_str(&report::errors_text(&error_lines));
    let body = table.to_markdown() + &report::errors_markdown(&error_lines);
    out.push_str(&report::markdown_block(
        "Compute: server create → ACTIVE and server lists",
        command_line,
        &machine,
        &setup,
        &body,
    ));
    out
}

/// `oxistack bench compute`: set up, measure, print the report on stdout.
pub async fn run(args: ComputeArgs) -> anyhow::Result<()> {
    let results = measure(&args).await?;
    let cmd = report::command_line(std::env::args());
    print!("{}", render(&results, &args, &cmd));
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: ComputeArgs,
    }

    fn parse(argv: &[&str]) -> Result<ComputeArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("bench").chain(argv.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn defaults_and_bounds() {
        let a = parse(&[]).unwrap();
        assert_eq!(
            (a.samples, a.parallel, a.servers, a.lists),
            (50, 100, 1000, 20)
        );
        assert_eq!(a.poll_ms, 5);
        assert_eq!(a.flavor, "m1.tiny");
        let a = parse(&["--samples", "3", "--parallel", "0", "--servers", "10"]).unwrap();
        assert_eq!((a.samples, a.parallel, a.servers), (3, 0, 10));
        for bad in [
            &["--samples", "0"][..],
            &["--parallel", "1001"],
            &["--servers", "0"],
            &["--poll-ms", "0"],
            &["--lists", "0"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn urls_links_and_kinds() {
        let ks: SocketAddr = "127.0.8.1:5000".parse().unwrap();
        assert_eq!(
            service_url(None, ks, 8774, "/v2.1"),
            "http://127.0.8.1:8774/v2.1"
        );
        let v6: SocketAddr = "[::1]:5000".parse().unwrap();
        assert_eq!(service_url(None, v6, 9696, ""), "http://[::1]:9696");
        assert_eq!(
            service_url(Some("http://h:1/v2.1/"), ks, 8774, ""),
            "http://h:1/v2.1"
        );
        assert_eq!(query("a b&c"), "a%20b%26c");
        let v = json!({"servers": [], "servers_links": [
            {"rel": "next", "href": "http://127.0.0.1:8774/v2.1/servers/detail?deleted=False&marker=x"}]});
        assert_eq!(
            next_page(&v, "/v2.1").as_deref(),
            Some("/servers/detail?deleted=False&marker=x")
        );
        assert_eq!(next_page(&json!({"servers": []}), "/v2.1"), None);
        assert_eq!(
            kind(&anyhow::anyhow!("POST /servers answered 403: {{}}")),
            "HTTP 403"
        );
        assert_eq!(
            kind(&anyhow::anyhow!("server x went to ERROR: {{}}")),
            "server ERROR"
        );
    }

    #[test]
    fn targets() {
        let mut fast = Histogram::new();
        fast.record_duration(Duration::from_millis(5));
        assert_eq!(Phase::Sequential.met(&fast), Some(true));
        assert_eq!(Phase::List.met(&fast), Some(true));
        assert_eq!(Phase::Parallel.met(&fast), None);
        let mut slow = Histogram::new();
        slow.record_duration(Duration::from_millis(900));
        assert_eq!(Phase::Sequential.met(&slow), Some(false));
        assert_eq!(verdict(Some(true), 0), "pass");
        assert_eq!(verdict(Some(false), 0), "MISS");
        assert_eq!(verdict(None, 0), "—");
        assert_eq!(verdict(Some(true), 2), "MISS (errors)");
        assert_eq!(Phase::List.goal(), "p95 ≤ 50.00 ms");
    }
}

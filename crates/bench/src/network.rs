//! `oxistack bench network`: Neutron port creates and port lists with a
//! large store.
//!
//! Setup, through the API as the suite's user (admin by default):
//!
//! * the network `--network-name` (`bench-net`) is found by name or made,
//!   with a subnet of `--cidr` (a /16 by default, so IPAM has room for tens
//!   of thousands of ports); a second run reuses both;
//! * the project's `port` quota is set to unlimited (-1): Neutron's default
//!   of 500 ports would stop the seeding long before 10,000. It is left so,
//!   like the ports, for the next run on the same store.
//!
//! Phases:
//!
//! 1. `POST /v2.0/ports` (`{"port": {"network_id": …}}`, one new port with
//!    an address from the subnet each) for `--seconds` over `--concurrency`
//!    connections after `--warmup`; a 201 must carry a fixed IP.
//! 2. Top-up: more ports on the network, 8 at a time, until it holds
//!    `--ports` (ports made by phase 1 and by earlier runs count).
//! 3. `GET /v2.0/ports?limit=100` for `--seconds` over `--concurrency`
//!    connections.
//! 4. `GET /v2.0/ports` (every port, no paging), `--full-lists` times one
//!    after the other on one connection; each answer is parsed and must hold
//!    at least the network's ports.
//!
//! The server's memory (see [`crate::rss`]) is read before any load and
//! sampled during each phase when its PID is known (`--pid` or
//! `--state-dir`). Targets (issue 13), printed beside the results: ≥ 500
//! creates/s, `limit=100` p95 ≤ 20 ms, a full list p95 ≤ 500 ms.
//!
//! The store is whatever the server was started with; run the suite once
//! against an `oxistack up` on SQLite and once on PostgreSQL
//! (`OXISTACK_DATABASE_URL`) to compare them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use hyper::header::CONTENT_TYPE;
use hyper::Method;
use serde_json::{json, Value};

use crate::histogram::Histogram;
use crate::identity::{self, Login};
use crate::lists;
use crate::load::{self, Body, Conn, Errors, Exchange, LoadConfig, LoadReport, Target};
use crate::report::{self, Table};
use crate::rss::{self, MemStatus, RssSummary};

/// Target for port creates at 8 connections, per second.
pub const CREATE_GOAL_RPS: f64 = 500.0;
/// Target p95 of `GET /v2.0/ports?limit=100`.
pub const PAGE_P95_GOAL: Duration = Duration::from_millis(20);
/// Target p95 of a full, unpaginated `GET /v2.0/ports`.
pub const FULL_LIST_GOAL: Duration = Duration::from_millis(500);

const AUTH_TOKEN: &str = "x-auth-token";

/// Arguments of `oxistack bench network`.
#[derive(clap::Args, Debug, Clone)]
pub struct NetworkArgs {
    /// Keystone base URL [default: auth_url from --clouds, else http://127.0.0.1:5000]
    #[arg(long)]
    pub url: Option<String>,

    /// Neutron base URL [default: the Keystone host on port 9696]
    #[arg(long)]
    pub network_url: Option<String>,

    #[command(flatten)]
    pub login: Login,

    /// State directory of `oxistack up`: PID from DIR/oxistack.pid,
    /// credentials from DIR/clouds.yaml
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// PID of the server, to report its memory (VmRSS/VmHWM)
    #[arg(long)]
    pub pid: Option<u32>,

    /// Name of the network the ports are made on (found or created)
    #[arg(long, default_value = "bench-net")]
    pub network_name: String,

    /// IPv4 range of the network's subnet when the suite creates it
    #[arg(long, default_value = "10.96.0.0/16", value_parser = parse_ipv4_cidr)]
    pub cidr: String,

    /// Ports the network holds before the list phases
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub ports: u64,

    /// Concurrent keep-alive connections (one request in flight on each)
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,

    /// Measured seconds of the create and the paged-list phases
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub seconds: u64,

    /// Unmeasured warm-up seconds before those phases
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=300))]
    pub warmup: u64,

    /// How many full (unpaginated) port lists to time, one after the other
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub full_lists: u64,

    /// Per-request timeout in seconds
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,

    /// Allow a URL that does not resolve to a loopback address
    #[arg(long)]
    pub allow_remote: bool,
}

/// `a.b.c.d/n` with a prefix of at most 30 (room for a gateway and ports).
fn parse_ipv4_cidr(s: &str) -> Result<String, String> {
    let (addr, len) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?} is not an IPv4 CIDR (a.b.c.d/n)"))?;
    let ip: std::net::Ipv4Addr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IPv4 address"))?;
    let len: u32 = len
        .parse()
        .map_err(|_| format!("{len:?} is not a prefix length"))?;
    if !(8..=30).contains(&len) {
        return Err(format!("prefix length {len} is outside 8..=30"));
    }
    let mask = u32::MAX << (32 - len);
    if u32::from(ip) & !mask != 0 {
        return Err(format!("{s} has host bits set"));
    }
    Ok(format!("{ip}/{len}"))
}

/// Which measurement a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Port creates.
    Create,
    /// `limit=100` pages.
    Page,
    /// Full unpaginated lists.
    FullList,
}

impl Phase {
    /// Human name, as used in the report.
    pub fn title(self) -> &'static str {
        match self {
            Phase::Create => "POST /v2.0/ports (one port)",
            Phase::Page => "GET /v2.0/ports?limit=100",
            Phase::FullList => "GET /v2.0/ports (all, unpaginated)",
        }
    }

    /// The target as printed.
    pub fn goal(self) -> String {
        match self {
            Phase::Create => format!("≥ {} creates/s", report::thousands(CREATE_GOAL_RPS)),
            Phase::Page => format!("p95 ≤ {}", report::latency(PAGE_P95_GOAL)),
            Phase::FullList => format!("p95 ≤ {}", report::latency(FULL_LIST_GOAL)),
        }
    }

    /// Whether `load` meets the target (errors aside).
    pub fn met(self, load: &LoadReport) -> bool {
        let p95 = load.latency.percentile_duration(95.0);
        match self {
            Phase::Create => load.rate() >= CREATE_GOAL_RPS,
            Phase::Page => p95 <= PAGE_P95_GOAL,
            Phase::FullList => p95 <= FULL_LIST_GOAL,
        }
    }
}

/// One measured phase.
#[derive(Debug, Clone)]
pub struct PhaseResult {
    /// Which phase.
    pub phase: Phase,
    /// Load figures.
    pub load: LoadReport,
    /// Server memory during the phase, if a PID is known.
    pub rss: Option<RssSummary>,
}

/// Everything [`measure`] found.
#[derive(Debug, Clone)]
pub struct NetworkResults {
    /// Neutron base URL.
    pub url: String,
    /// The network's id.
    pub network_id: String,
    /// Ports on the network when the list phases ran.
    pub ports_on_network: u64,
    /// Ports in the largest full list (every port the user sees).
    pub ports_listed: u64,
    /// Server PID, if known.
    pub pid: Option<u32>,
    /// Memory before any load (`Err` text if it could not be read).
    pub idle: Option<Result<MemStatus, String>>,
    /// The phases, in the order run.
    pub phases: Vec<PhaseResult>,
}

/// The setup requests: one connection, JSON in and out, whole bodies kept.
struct Api {
    target: Target,
    token: String,
    conn: Option<Conn>,
    timeout: Duration,
}

impl Api {
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut conn = match reusable(self.conn.take()).await {
            Some(c) => c,
            None => Conn::connect(self.target.addr).await?,
        };
        let builder = self
            .target
            .request(method.clone(), path)
            .header(AUTH_TOKEN, self.token.as_str());
        let req = match body {
            Some(v) => builder
                .header(CONTENT_TYPE, "application/json")
                .body(Body::new(Bytes::from(v.to_string())))?,
            None => builder.body(Body::default())?,
        };
        let ex = tokio::time::timeout(self.timeout, conn.exchange_keeping(req, usize::MAX))
            .await
            .with_context(|| format!("{method} {path}: no answer in {:?}", self.timeout))?
            .with_context(|| format!("{method} {path}"))?;
        self.conn = Some(conn);
        let status = ex.parts.status.as_u16();
        let value = if ex.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&ex.body).unwrap_or(Value::Null)
        };
        Ok((status, value))
    }

    /// `call`, failing unless the status is 2xx.
    async fn ok(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let (status, value) = self.call(method.clone(), path, body).await?;
        if !(200..300).contains(&status) {
            bail!("{method} {path} answered {status}: {value}");
        }
        Ok(value)
    }

    /// Finds or makes the network and its subnet; returns (network id, project id).
    async fn network(&mut self, name: &str, cidr: &str) -> anyhow::Result<(String, String)> {
        let found = self
            .ok(
                Method::GET,
                &format!("/v2.0/networks?name={}", query(name)),
                None,
            )
            .await?;
        let net = match found["networks"].as_array().and_then(|a| a.first()) {
            Some(n) => n.clone(),
            None => {
                eprintln!("network: creating network {name} with subnet {cidr}");
                self.ok(
                    Method::POST,
                    "/v2.0/networks",
                    Some(json!({"network": {"name": name}})),
                )
                .await?["network"]
                    .clone()
            }
        };
        let id = str_field(&net, "id")?;
        let project = str_field(&net, "project_id")?;
        let subnets = self
            .ok(
                Method::GET,
                &format!("/v2.0/subnets?network_id={id}&ip_version=4"),
                None,
            )
            .await?;
        let has_subnet = subnets["subnets"].as_array().is_some_and(|a| !a.is_empty());
        if !has_subnet {
            self.ok(
                Method::POST,
                "/v2.0/subnets",
                Some(
                    json!({"subnet": {"name": name, "network_id": id, "ip_version": 4,
                                       "cidr": cidr}}),
                ),
            )
            .await?;
        }
        Ok((id, project))
    }

    /// One whole `limit=100` page: 100 ports and a `next` link.
    async fn check_page(&mut self) -> anyhow::Result<()> {
        let v = self.ok(Method::GET, "/v2.0/ports?limit=100", None).await?;
        let n = ports_in(&v).context("a limit=100 page without a `ports` array")?;
        let next = v["ports_links"]
            .as_array()
            .is_some_and(|l| l.iter().any(|k| k["rel"] == "next"));
        if n != 100 || !next {
            bail!("GET /v2.0/ports?limit=100 gave {n} ports (next link: {next}), want 100 and a next link");
        }
        Ok(())
    }

    /// How many ports the network has (one unpaginated list of their ids).
    async fn count_ports(&mut self, network_id: &str) -> anyhow::Result<u64> {
        let v = self
            .ok(
                Method::GET,
                &format!("/v2.0/ports?network_id={network_id}&fields=id"),
                None,
            )
            .await?;
        ports_in(&v).context("port list without a `ports` array")
    }
}

/// The connection, if there is one and the server has not closed it.
async fn reusable(conn: Option<Conn>) -> Option<Conn> {
    let mut c = conn?;
    c.ready().await.ok()?;
    Some(c)
}

fn str_field(v: &Value, key: &str) -> anyhow::Result<String> {
    v[key]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no {key:?} in {v}"))
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

/// Length of the `ports` array of a list answer.
fn ports_in(v: &Value) -> Option<u64> {
    v["ports"].as_array().map(|a| a.len() as u64)
}

/// A 201 from a port create must hold the port with an address.
fn has_fixed_ip(ex: &Exchange) -> Result<(), String> {
    let v: Value = serde_json::from_slice(&ex.body).map_err(|e| format!("not JSON: {e}"))?;
    match v["port"]["fixed_ips"].as_array() {
        Some(ips) if !ips.is_empty() => Ok(()),
        _ => Err("created port has no fixed_ips".to_owned()),
    }
}

fn create_body(network_id: &str) -> Bytes {
    Bytes::from(json!({"port": {"network_id": network_id}}).to_string())
}

fn post_port(target: &Target, token: &str, body: &Bytes) -> anyhow::Result<hyper::Request<Body>> {
    Ok(target
        .request(Method::POST, "/v2.0/ports")
        .header(AUTH_TOKEN, token)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::new(body.clone()))?)
}

fn get(target: &Target, path: &str, token: &str) -> anyhow::Result<hyper::Request<Body>> {
    Ok(target
        .request(Method::GET, path)
        .header(AUTH_TOKEN, token)
        .body(Body::default())?)
}

/// Neutron's URL: the flag, else Keystone's host on 9696.
fn network_url(flag: Option<&str>, keystone: SocketAddr) -> String {
    match flag {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => format!("http://{}", SocketAddr::new(keystone.ip(), 9696)),
    }
}

/// Times `n` full lists one after the other on one connection; every
/// answer must parse and hold at least `at_least` ports.
async fn full_lists(
    target: &Target,
    token: &str,
    n: u64,
    at_least: u64,
    timeout: Duration,
) -> (LoadReport, u64) {
    let mut latency = Histogram::new();
    let mut errors = Errors::default();
    let (mut ok, mut bytes, mut connections, mut most) = (0u64, 0u64, 0u64, 0u64);
    let mut conn: Option<Conn> = None;
    let started = Instant::now();
    for _ in 0..n {
        let mut c = match reusable(conn.take()).await {
            Some(c) => c,
            None => match Conn::connect(target.addr).await {
                Ok(c) => {
                    connections += 1;
                    c
                }
                Err(e) => {
                    errors.add("connect", || format!("{e:#}"));
                    continue;
                }
            },
        };
        let req = match get(target, "/v2.0/ports", token) {
            Ok(r) => r,
            Err(e) => {
                errors.add("client", || format!("building request: {e:#}"));
                break;
            }
        };
        let t0 = Instant::now();
        let ex = match tokio::time::timeout(timeout, c.exchange_keeping(req, usize::MAX)).await {
            Ok(Ok(ex)) => ex,
            Ok(Err(e)) => {
                errors.add("transport", || e.to_string());
                continue;
            }
            Err(_) => {
                errors.add("timeout", || format!("no response within {timeout:?}"));
                continue;
            }
        };
        let took = t0.elapsed();
        conn = Some(c);
        bytes += ex.body_len;
        if !ex.parts.status.is_success() {
            errors.add(format!("HTTP {}", ex.parts.status.as_u16()), || {
                String::from_utf8_lossy(ex.body.get(..300).unwrap_or(&ex.body)).into_owned()
            });
            continue;
        }
        let count = serde_json::from_slice::<Value>(&ex.body)
            .ok()
            .as_ref()
            .and_then(ports_in);
        match count {
            Some(c) if c >= at_least => {
                ok += 1;
                most = most.max(c);
                latency.record_duration(took);
            }
            Some(c) => errors.add("check: too few ports", || {
                format!("{c} ports listed, the network alone has {at_least}")
            }),
            None => errors.add("check: no ports array", || {
                String::from_utf8_lossy(ex.body.get(..300).unwrap_or(&ex.body)).into_owned()
            }),
        }
    }
    let report = LoadReport {
        concurrency: 1,
        elapsed: started.elapsed(),
        ok,
        latency,
        errors,
        bytes_sent: 0,
        bytes_received: bytes,
        connections,
        warmup_requests: 0,
    };
    (report, most)
}

/// Run the suite and collect results (progress goes to stderr).
pub async fn measure(args: &NetworkArgs) -> anyhow::Result<NetworkResults> {
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
    let url = network_url(args.network_url.as_deref(), keystone.addr);
    let neutron = Target::resolve(&url, args.allow_remote).await?;
    let timeout = Duration::from_secs(args.timeout);
    let conc = usize::from(args.concurrency);

    let mut api = Api {
        target: neutron.clone(),
        token: token.clone(),
        conn: None,
        timeout,
    };
    let (network_id, project) = api.network(&args.network_name, &args.cidr).await?;
    api.ok(
        Method::PUT,
        &format!("/v2.0/quotas/{project}"),
        Some(json!({"quota": {"port": -1}})),
    )
    .await
    .context("lifting the port quota (the suite's user must be admin)")?;

    let config = LoadConfig {
        concurrency: conc,
        duration: Duration::from_secs(args.seconds),
        warmup: Duration::from_secs(args.warmup),
        max_requests: 5_000_000,
        request_timeout: timeout,
    };
    let mut phases = Vec::new();
    let body = create_body(&network_id);

    eprintln!(
        "network: {} — {conc} connections, {} s warm-up + {} s measured…",
        Phase::Create.title(),
        args.warmup,
        args.seconds
    );
    let sampler = pid.map(|pid| rss::Sampler::start(pid, rss::SAMPLE_EVERY));
    let (t, tok, b) = (neutron.clone(), token.clone(), body.clone());
    let load = load::run(
        &neutron,
        &config,
        move |_| post_port(&t, &tok, &b),
        has_fixed_ip,
    )
    .await;
    let rss = finish(sampler).await;
    progress(Phase::Create, &load);
    phases.push(PhaseResult {
        phase: Phase::Create,
        load,
        rss,
    });

    let have = api.count_ports(&network_id).await?;
    if have < args.ports {
        let n = args.ports - have;
        eprintln!(
            "network: {have} ports on {}, creating {n} more…",
            args.network_name
        );
        let (t, tok, path) = (
            neutron.clone(),
            token.clone(),
            format!("/v2.0/ports?network_id={network_id}&limit=1"),
        );
        let r = lists::seed(&neutron, conc, n, timeout, move |i| {
            if i >= n {
                return get(&t, &path, &tok);
            }
            post_port(&t, &tok, &body)
        })
        .await;
        if r.errors.total() > 0 {
            eprintln!("network: seeding errors: {}", r.errors.summary());
        }
    }
    let ports_on_network = api.count_ports(&network_id).await?;
    eprintln!("network: {ports_on_network} ports on {}", args.network_name);
    if ports_on_network < args.ports {
        bail!(
            "the network holds {ports_on_network} ports, fewer than --ports {}",
            args.ports
        );
    }

    api.check_page().await?;
    eprintln!(
        "network: {} — {conc} connections, {} s warm-up + {} s measured…",
        Phase::Page.title(),
        args.warmup,
        args.seconds
    );
    let sampler = pid.map(|pid| rss::Sampler::start(pid, rss::SAMPLE_EVERY));
    let (t, tok) = (neutron.clone(), token.clone());
    let load = load::run(
        &neutron,
        &config,
        move |_| get(&t, "/v2.0/ports?limit=100", &tok),
        starts_a_port_list,
    )
    .await;
    let rss = finish(sampler).await;
    progress(Phase::Page, &load);
    phases.push(PhaseResult {
        phase: Phase::Page,
        load,
        rss,
    });

    eprintln!(
        "network: {} — {} lists, one at a time…",
        Phase::FullList.title(),
        args.full_lists
    );
    let sampler = pid.map(|pid| rss::Sampler::start(pid, rss::SAMPLE_EVERY));
    let (load, ports_listed) =
        full_lists(&neutron, &token, args.full_lists, ports_on_network, timeout).await;
    let rss = finish(sampler).await;
    progress(Phase::FullList, &load);
    phases.push(PhaseResult {
        phase: Phase::FullList,
        load,
        rss,
    });

    Ok(NetworkResults {
        url,
        network_id,
        ports_on_network,
        ports_listed,
        pid,
        idle,
        phases,
    })
}

/// A page of 100 ports is larger than the load generator keeps of a body
/// ([`load::KEEP_BODY_BYTES`]), so under load only its start is checked;
/// [`Api::check_page`] parses one whole page before the phase.
fn starts_a_port_list(ex: &Exchange) -> Result<(), String> {
    if ex.body.windows(8).any(|w| w == b"\"ports\":") {
        Ok(())
    } else {
        Err("the answer holds no ports list".to_owned())
    }
}

async fn finish(sampler: Option<rss::Sampler>) -> Option<RssSummary> {
    match sampler {
        Some(s) => Some(s.finish().await),
        None => None,
    }
}

fn progress(phase: Phase, load: &LoadReport) {
    eprintln!(
        "network: {}: {} req/s, p95 {}, {} errors",
        phase.title(),
        report::thousands(load.rate()),
        report::latency(load.latency.percentile_duration(95.0)),
        load.errors.total()
    );
}

/// `pass`, `MISS`, or `MISS (errors)`.
fn verdict(ok: bool, errors: u64) -> String {
    match (ok, errors) {
        (true, 0) => "pass".to_owned(),
        (_, 0) => "MISS".to_owned(),
        _ => "MISS (errors)".to_owned(),
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
pub fn render(r: &NetworkResults, args: &NetworkArgs, command_line: &str) -> String {
    let mut table = Table::new([
        "Benchmark",
        "Requests",
        "req/s",
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
        let l = &p.load;
        let errors = l.errors.total();
        if errors > 0 {
            error_lines.push(format!("{}: {}", p.phase.title(), l.errors.summary()));
        }
        table.row([
            p.phase.title().to_owned(),
            report::thousands(l.ok as f64),
            report::thousands(l.rate()),
            report::latency(l.latency.percentile_duration(50.0)),
            report::latency(l.latency.percentile_duration(95.0)),
            report::latency(l.latency.percentile_duration(99.0)),
            report::thousands(errors as f64),
            memory(&p.rss),
            p.phase.goal(),
            verdict(p.phase.met(l), errors),
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
        "{} keep-alive HTTP/1.1 connections, {} s measured after {} s warm-up (creates, pages); \
         {} full lists one at a time; {} ports on network {} ({}), {} ports in a full list; \
         load generator on the same host as the server",
        args.concurrency,
        args.seconds,
        args.warmup,
        args.full_lists,
        report::thousands(r.ports_on_network as f64),
        args.network_name,
        args.cidr,
        report::thousands(r.ports_listed as f64),
    );
    let machine = report::machine();
    let server = match r.pid {
        Some(pid) => format!("server pid {pid}"),
        None => "server pid unknown".to_owned(),
    };
    let mut out = format!("oxistack bench network — {}\n", r.url);
    out.push_str(&format!("{setup}\nmachine: {machine}; {server}\n\n"));
    out.push_str(&table.to_text());
    out.push_str(&report::errors_text(&error_lines));
    let body = table.to_markdown() + &report::errors_markdown(&error_lines);
    out.push_str(&report::markdown_block(
        "Network: port creates and port lists",
        command_line,
        &machine,
        &setup,
        &body,
    ));
    out
}

/// `oxistack bench network`: set up, measure, print the report on stdout.
pub async fn run(args: NetworkArgs) -> anyhow::Result<()> {
    let results = measure(&args).await?;
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
        args: NetworkArgs,
    }

    fn parse(argv: &[&str]) -> Result<NetworkArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("bench").chain(argv.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn defaults() {
        let a = parse(&[]).unwrap();
        assert_eq!(a.concurrency, 8);
        assert_eq!(a.ports, 10_000);
        assert_eq!(a.seconds, 10);
        assert_eq!(a.warmup, 1);
        assert_eq!(a.full_lists, 10);
        assert_eq!(a.network_name, "bench-net");
        assert_eq!(a.cidr, "10.96.0.0/16");
        assert_eq!(a.network_url, None);
        assert!(!a.allow_remote);
    }

    #[test]
    fn options_and_their_bounds() {
        let a = parse(&[
            "--ports",
            "500",
            "--cidr",
            "172.16.0.0/20",
            "--network-url",
            "http://127.0.8.1:9696/",
            "--state-dir",
            "/tmp/x",
            "--full-lists",
            "3",
            "--concurrency",
            "16",
            "--pid",
            "42",
        ])
        .unwrap();
        assert_eq!(a.ports, 500);
        assert_eq!(a.cidr, "172.16.0.0/20");
        assert_eq!(a.full_lists, 3);
        assert_eq!(a.concurrency, 16);
        assert_eq!(a.pid, Some(42));
        assert_eq!(a.state_dir, Some(PathBuf::from("/tmp/x")));
        for bad in [
            &["--concurrency", "0"][..],
            &["--ports", "60001"],
            &["--full-lists", "0"],
            &["--cidr", "10.0.0.1/16"],
            &["--cidr", "10.0.0.0/31"],
            &["--cidr", "10.0.0.0"],
            &["--cidr", "fd00::/64"],
            &["--seconds", "0"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn cidr_parsing() {
        assert_eq!(parse_ipv4_cidr("10.96.0.0/16").unwrap(), "10.96.0.0/16");
        assert!(parse_ipv4_cidr("10.96.0.0/7").is_err());
        assert!(parse_ipv4_cidr("10.96.1.0/16")
            .unwrap_err()
            .contains("host bits"));
        assert!(parse_ipv4_cidr("x/16").is_err());
    }

    #[test]
    fn urls_and_queries() {
        let ks: SocketAddr = "127.0.8.1:5000".parse().unwrap();
        assert_eq!(network_url(None, ks), "http://127.0.8.1:9696");
        let v6: SocketAddr = "[::1]:5000".parse().unwrap();
        assert_eq!(network_url(None, v6), "http://[::1]:9696");
        assert_eq!(network_url(Some("http://h:1/"), ks), "http://h:1");
        assert_eq!(query("bench-net"), "bench-net");
        assert_eq!(query("a b&c"), "a%20b%26c");
    }

    fn exchange(body: &'static [u8]) -> Exchange {
        Exchange {
            parts: hyper::Response::new(()).into_parts().0,
            body: Bytes::from_static(body),
            body_len: body.len() as u64,
        }
    }

    #[test]
    fn response_checks() {
        assert!(has_fixed_ip(&exchange(
            br#"{"port": {"fixed_ips": [{"subnet_id": "s", "ip_address": "10.96.0.5"}]}}"#
        ))
        .is_ok());
        assert!(has_fixed_ip(&exchange(br#"{"port": {"fixed_ips": []}}"#)).is_err());
        assert!(has_fixed_ip(&exchange(b"oops")).is_err());
        assert!(starts_a_port_list(&exchange(br#"{"ports": [{"id": "#)).is_ok());
        assert!(starts_a_port_list(&exchange(br#"{"NeutronError": {}}"#)).is_err());
        assert_eq!(ports_in(&json!({"ports": [{}, {}]})), Some(2));
        assert_eq!(ports_in(&json!({"port": {}})), None);
    }

    #[test]
    fn targets() {
        let mut fast = LoadReport {
            concurrency: 8,
            elapsed: Duration::from_secs(1),
            ok: 600,
            latency: Histogram::new(),
            errors: Errors::default(),
            bytes_sent: 0,
            bytes_received: 0,
            connections: 8,
            warmup_requests: 0,
        };
        fast.latency.record_duration(Duration::from_millis(5));
        assert!(Phase::Create.met(&fast));
        assert!(Phase::Page.met(&fast));
        assert!(Phase::FullList.met(&fast));
        let mut slow = fast.clone();
        slow.ok = 400;
        slow.latency.record_duration(Duration::from_millis(900));
        slow.latency.record_duration(Duration::from_millis(900));
        assert!(!Phase::Create.met(&slow));
        assert!(!Phase::Page.met(&slow));
        assert!(!Phase::FullList.met(&slow));
        assert_eq!(verdict(true, 0), "pass");
        assert_eq!(verdict(true, 1), "MISS (errors)");
        assert_eq!(Phase::Create.goal(), "≥ 500 creates/s");
        assert_eq!(Phase::FullList.goal(), "p95 ≤ 500.00 ms");
    }
}

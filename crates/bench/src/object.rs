//! `oxistack bench object`: Swift small-object request rates and large
//! object throughput against the disk's own.
//!
//! 1. `put`: closed-loop `PUT` of 4 KiB objects (`--concurrency`
//!    connections, default 8) into a fresh container, each worker cycling
//!    over its own 100 names so overwrites are part of the mix; expects 201.
//! 2. `get`: `GET` of 64 pre-written 4 KiB objects; expects 200 and 4 KiB.
//! 3. Baseline: `dd` writes `--size-mib` MiB (default 1 GiB) of zeros to a
//!    file in `--dir` (default: the state directory's `objects/`, where
//!    object data lives) with `conv=fsync`, then reads it back to
//!    `/dev/null`; with `--drop-caches` (root) the read is also repeated
//!    from a cold page cache. The file is removed.
//! 4. Large `PUT` of the same size, streamed from a repeated 1 MiB pattern
//!    (the client reads no disk), timed until the 201; then `GET` of it,
//!    counting every byte (and once more from a cold cache with
//!    `--drop-caches`).
//! 5. The container and its objects are deleted.
//!
//! Around each phase it samples the server's `VmRSS` (see [`crate::rss`]).
//! Targets: large transfers at ≥ 80 % of `dd` on the same disk, and the
//! peak RSS while streaming within 64 MiB of idle.

use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context as TaskCx, Poll};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper::client::conn::http1;
use hyper::header::{CONTENT_LENGTH, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

use crate::identity::{self, IdentityArgs};
use crate::load::{self, Body, LoadConfig, LoadReport, Target};
use crate::report::{self, Table};
use crate::rss::{self, RssSummary};

/// Large-transfer target, as a fraction of `dd` on the same disk.
pub const THROUGHPUT_GOAL: f64 = 0.80;
/// Allowed growth of the server's RSS over idle while streaming, KiB.
pub const RSS_GROWTH_GOAL_KIB: u64 = 64 * 1024;
/// Size of the small objects.
pub const SMALL: usize = 4096;
const PATTERN_LEN: usize = 1 << 20;
/// Names each worker cycles over in the PUT phase.
const NAMES_PER_WORKER: u64 = 100;
/// Objects the GET phase reads.
const GET_OBJECTS: u64 = 64;

/// Arguments of `oxistack bench object`.
#[derive(clap::Args, Debug, Clone)]
pub struct ObjectArgs {
    /// Storage URL (`http://HOST:8080/v1/AUTH_<project>`) [default: the
    /// Keystone host on port 8080 and the token's project]
    #[arg(long)]
    pub url: Option<String>,

    /// Keystone URL [default: auth_url from --clouds, else http://127.0.0.1:5000]
    #[arg(long)]
    pub identity_url: Option<String>,

    /// User name [default: from --clouds, else admin]
    #[arg(long)]
    pub username: Option<String>,

    /// Password (required unless --clouds provides one)
    #[arg(long)]
    pub password: Option<String>,

    /// Project [default: from --clouds, else admin]
    #[arg(long)]
    pub project: Option<String>,

    /// clouds.yaml to read credentials from [default: STATE_DIR/clouds.yaml]
    #[arg(long, value_name = "FILE")]
    pub clouds: Option<PathBuf>,

    /// Which cloud of the clouds.yaml to use
    #[arg(long, default_value = "oxistack")]
    pub cloud: String,

    /// State directory of `oxistack up`: PID, credentials, and the disk
    /// the baseline `dd` writes to (`DIR/objects`)
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// PID of the server, to report its memory
    #[arg(long)]
    pub pid: Option<u32>,

    /// Directory for the `dd` baseline [default: STATE_DIR/objects]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Size of the large object in MiB
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub size_mib: u64,

    /// Connections for the 4 KiB phases
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,

    /// Measured seconds of each 4 KiB phase
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,

    /// Warm-up seconds before each 4 KiB phase
    #[arg(long, default_value_t = 1)]
    pub warmup: u64,

    /// Also compare reads from a cold page cache (writes
    /// /proc/sys/vm/drop_caches: root only)
    #[arg(long)]
    pub drop_caches: bool,

    /// Allow a URL that does not resolve to a loopback address
    #[arg(long)]
    pub allow_remote: bool,
}

/// One timed transfer.
#[derive(Debug, Clone)]
pub struct Transfer {
    pub bytes: u64,
    pub elapsed: Duration,
    pub rss: Option<RssSummary>,
}

impl Transfer {
    /// MiB/s.
    pub fn rate(&self) -> f64 {
        self.bytes as f64 / (1 << 20) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A 4 KiB phase.
#[derive(Debug, Clone)]
pub struct Phase {
    pub name: &'static str,
    pub load: LoadReport,
    pub rss: Option<RssSummary>,
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct ObjectResults {
    pub size_mib: u64,
    pub concurrency: u16,
    pub small: Vec<Phase>,
    pub dd_write: Duration,
    pub dd_read: Duration,
    pub dd_read_cold: Option<Duration>,
    pub put: Transfer,
    pub get: Transfer,
    pub get_cold: Option<Transfer>,
    pub idle_rss_kib: Option<u64>,
}

/// A body of `left` bytes made of one repeated buffer.
struct Pattern {
    chunk: Bytes,
    left: u64,
}

impl hyper::body::Body for Pattern {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut TaskCx<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(self.chunk.len() as u64) as usize;
        self.left -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(self.chunk.slice(..n)))))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.left)
    }
}

/// One request on a fresh connection: status, body length, first 64 KiB.
async fn send<B>(
    target: &Target,
    req: Request<B>,
) -> anyhow::Result<(hyper::StatusCode, hyper::HeaderMap, u64, Bytes)>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = tokio::net::TcpStream::connect(target.addr)
        .await
        .with_context(|| format!("connect to {}", target.addr))?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = http1::handshake::<_, B>(TokioIo::new(stream)).await?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let mut body = resp.into_body();
    let mut len = 0u64;
    let mut head = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            len += data.len() as u64;
            if head.len() < 64 * 1024 {
                head.extend_from_slice(&data[..data.len().min(64 * 1024)]);
            }
        }
    }
    driver.abort();
    Ok((status, headers, len, Bytes::from(head)))
}

fn simple(
    target: &Target,
    method: Method,
    path: &str,
    token: &str,
    body: Bytes,
) -> anyhow::Result<Request<Body>> {
    Ok(target
        .request(method, path)
        .header("x-auth-token", token)
        .header(CONTENT_LENGTH, body.len())
        .body(Body::new(body))?)
}

async fn dd(args: &[String]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let out = tokio::process::Command::new("dd")
        .args(args)
        .output()
        .await
        .context("running dd")?;
    if !out.status.success() {
        bail!(
            "dd {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(started.elapsed())
}

/// Empties the page cache (so reads come from the disk).
fn drop_caches() -> anyhow::Result<()> {
    // Dirty pages first, or they stay cached.
    let status = std::process::Command::new("sync").status()?;
    if !status.success() {
        bail!("sync failed");
    }
    std::fs::write("/proc/sys/vm/drop_caches", "3\n")
        .context("writing /proc/sys/vm/drop_caches (needs root)")
}

async fn sampled<F, T>(pid: Option<u32>, f: F) -> anyhow::Result<(T, Option<RssSummary>)>
where
    F: std::future::Future<Output = anyhow::Result<T>>,
{
    let sampler = pid.map(|p| rss::Sampler::start(p, rss::SAMPLE_EVERY));
    let r = f.await;
    let summary = match sampler {
        Some(s) => Some(s.finish().await),
        None => None,
    };
    Ok((r?, summary))
}

/// The storage URL for the token's project (`…:8080/v1/AUTH_<project>`).
async fn storage_url(ks: &Target, token: &str, port_host: &str) -> anyhow::Result<String> {
    let req = ks
        .request(Method::GET, "/v3/auth/tokens")
        .header("x-auth-token", token)
        .header("x-subject-token", token)
        .body(Body::default())?;
    let (status, _, _, body) = send(ks, req).await?;
    if !status.is_success() {
        bail!("validating the token answered {status}");
    }
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    let project = v["token"]["project"]["id"]
        .as_str()
        .context("the token is not project-scoped")?;
    Ok(format!("http://{port_host}:8080/v1/AUTH_{project}"))
}

/// Runs the suite and returns the numbers.
pub async fn measure(args: &ObjectArgs) -> anyhow::Result<ObjectResults> {
    let id_args = IdentityArgs {
        url: args.identity_url.clone(),
        username: args.username.clone(),
        password: args.password.clone(),
        project: args.project.clone(),
        domain: None,
        clouds: args.clouds.clone(),
        cloud: args.cloud.clone(),
        concurrency: 1,
        seconds: 1,
        warmup: 0,
        pid: args.pid,
        state_dir: args.state_dir.clone(),
        phases: vec![],
        max_requests: 1,
        timeout: 60,
        allow_remote: args.allow_remote,
    };
    let settings = identity::settings(&id_args)?;
    let ks = Target::resolve(&settings.url, args.allow_remote).await?;
    let token = identity::issue_token(&ks, &settings).await?;
    let url = match &args.url {
        Some(u) => u.clone(),
        None => storage_url(&ks, &token, &ks.addr.ip().to_string()).await?,
    };
    let swift = Target::resolve(&url, args.allow_remote).await?;
    let pid = rss::resolve_pid(args.pid, args.state_dir.as_deref())?;
    let idle = match pid {
        Some(p) => Some(rss::read(p).await?.rss_kib),
        None => None,
    };
    let container = format!("/oxistack-bench-{}", std::process::id());
    let (status, _, _, body) = send(
        &swift,
        simple(&swift, Method::PUT, &container, &token, Bytes::new())?,
    )
    .await?;
    if !status.is_success() {
        bail!(
            "PUT {container} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let result = run_phases(args, &swift, &token, &container, pid).await;
    cleanup(&swift, &token, &container, args.concurrency).await;
    let (small, large) = result?;
    let (dd_write, dd_read, dd_read_cold, put, get, get_cold) = large;
    Ok(ObjectResults {
        size_mib: args.size_mib,
        concurrency: args.concurrency,
        small,
        dd_write,
        dd_read,
        dd_read_cold,
        put,
        get,
        get_cold,
        idle_rss_kib: idle,
    })
}

type Large = (
    Duration,
    Duration,
    Option<Duration>,
    Transfer,
    Transfer,
    Option<Transfer>,
);

async fn run_phases(
    args: &ObjectArgs,
    swift: &Target,
    token: &str,
    container: &str,
    pid: Option<u32>,
) -> anyhow::Result<(Vec<Phase>, Large)> {
    let config = LoadConfig {
        concurrency: usize::from(args.concurrency),
        duration: Duration::from_secs(args.seconds),
        warmup: Duration::from_secs(args.warmup),
        max_requests: 50_000_000,
        request_timeout: Duration::from_secs(30),
    };
    let small_body = Bytes::from(vec![b'x'; SMALL]);
    let mut small = Vec::new();

    eprintln!(
        "object: 4 KiB PUT — {} connections, {} s…",
        args.concurrency, args.seconds
    );
    let (t, tok, c, b) = (
        swift.clone(),
        token.to_string(),
        container.to_string(),
        small_body.clone(),
    );
    let sampler = pid.map(|p| rss::Sampler::start(p, rss::SAMPLE_EVERY));
    let put = load::run(
        swift,
        &config,
        move |ctx| {
            let path = format!("{c}/w{}-{}", ctx.worker, ctx.seq % NAMES_PER_WORKER);
            simple(&t, Method::PUT, &path, &tok, b.clone())
        },
        |x| match x.parts.status.as_u16() {
            201 => Ok(()),
            s => Err(format!("status {s}")),
        },
    )
    .await;
    let rss = match sampler {
        Some(s) => Some(s.finish().await),
        None => None,
    };
    eprintln!(
        "object: 4 KiB PUT: {} req/s, {} errors",
        report::thousands(put.rate()),
        put.errors.total()
    );
    small.push(Phase {
        name: "4 KiB PUT",
        load: put,
        rss,
    });

    for i in 0..GET_OBJECTS {
        let (status, _, _, _) = send(
            swift,
            simple(
                swift,
                Method::PUT,
                &format!("{container}/g{i}"),
                token,
                small_body.clone(),
            )?,
        )
        .await?;
        if status.as_u16() != 201 {
            bail!("preparing the GET phase: PUT answered {status}");
        }
    }
    eprintln!(
        "object: 4 KiB GET — {} connections, {} s…",
        args.concurrency, args.seconds
    );
    let (t, tok, c) = (swift.clone(), token.to_string(), container.to_string());
    let sampler = pid.map(|p| rss::Sampler::start(p, rss::SAMPLE_EVERY));
    let get = load::run(
        swift,
        &config,
        move |ctx| {
            let n = (ctx.seq * 7 + ctx.worker as u64) % GET_OBJECTS;
            Ok(t.request(Method::GET, &format!("{c}/g{n}"))
                .header("x-auth-token", tok.as_str())
                .body(Body::default())?)
        },
        |x| {
            if x.body_len == SMALL as u64 {
                Ok(())
            } else {
                Err(format!("{} bytes", x.body_len))
            }
        },
    )
    .await;
    let rss = match sampler {
        Some(s) => Some(s.finish().await),
        None => None,
    };
    eprintln!(
        "object: 4 KiB GET: {} req/s, {} errors",
        report::thousands(get.rate()),
        get.errors.total()
    );
    small.push(Phase {
        name: "4 KiB GET",
        load: get,
        rss,
    });

    let large = large_phases(args, swift, token, container, pid).await?;
    Ok((small, large))
}

async fn large_phases(
    args: &ObjectArgs,
    swift: &Target,
    token: &str,
    container: &str,
    pid: Option<u32>,
) -> anyhow::Result<Large> {
    let size = args.size_mib << 20;
    let dir = match (&args.dir, &args.state_dir) {
        (Some(d), _) => d.clone(),
        (None, Some(s)) => s.join("objects"),
        (None, None) => std::env::temp_dir(),
    };
    let file = dir.join(format!("bench-dd-{}.tmp", std::process::id()));
    let w = dd(&[
        "if=/dev/zero".into(),
        format!("of={}", file.display()),
        "bs=1M".into(),
        format!("count={}", args.size_mib),
        "conv=fsync".into(),
        "status=none".into(),
    ])
    .await;
    let read_args = [
        format!("if={}", file.display()),
        "of=/dev/null".into(),
        "bs=1M".into(),
        "status=none".into(),
    ];
    let r = match &w {
        Ok(_) => dd(&read_args).await,
        Err(_) => Ok(Duration::ZERO),
    };
    let cold = match (&w, args.drop_caches) {
        (Ok(_), true) => {
            drop_caches()?;
            Some(dd(&read_args).await)
        }
        _ => None,
    };
    let _ = std::fs::remove_file(&file);
    let (dd_write, dd_read) = (w?, r?);
    let dd_read_cold = cold.transpose()?;
    eprintln!(
        "dd: write {:.0} MiB/s, read {:.0} MiB/s{}",
        args.size_mib as f64 / dd_write.as_secs_f64(),
        args.size_mib as f64 / dd_read.as_secs_f64(),
        dd_read_cold
            .map(|d| format!(
                ", cold read {:.0} MiB/s",
                args.size_mib as f64 / d.as_secs_f64()
            ))
            .unwrap_or_default()
    );

    let path = format!("{container}/large");
    let pattern: Vec<u8> = (0..PATTERN_LEN).map(|i| (i * 31 % 251) as u8).collect();
    let req = Request::builder()
        .method(Method::PUT)
        .uri(swift.path(&path))
        .header(HOST, swift.authority.as_str())
        .header("x-auth-token", token)
        .header(CONTENT_LENGTH, size)
        .body(Pattern {
            chunk: Bytes::from(pattern),
            left: size,
        })?;
    let started = Instant::now();
    let ((status, _, _, body), put_rss) = sampled(pid, send(swift, req)).await?;
    let put = started.elapsed();
    if status.as_u16() != 201 {
        bail!(
            "large PUT answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    eprintln!("PUT: {:.0} MiB/s", args.size_mib as f64 / put.as_secs_f64());
    let get_once = || async {
        let req = swift
            .request(Method::GET, &path)
            .header("x-auth-token", token)
            .body(Body::default())?;
        let started = Instant::now();
        let ((status, _, len, _), rss) = sampled(pid, send(swift, req)).await?;
        let elapsed = started.elapsed();
        if status.as_u16() != 200 || len != size {
            bail!("large GET answered {status} with {len} bytes, want {size}");
        }
        Ok::<_, anyhow::Error>(Transfer {
            bytes: size,
            elapsed,
            rss,
        })
    };
    let get = get_once().await?;
    eprintln!("GET: {:.0} MiB/s", get.rate());
    let get_cold = if args.drop_caches {
        drop_caches()?;
        let t = get_once().await?;
        eprintln!("GET (cold cache): {:.0} MiB/s", t.rate());
        Some(t)
    } else {
        None
    };
    Ok((
        dd_write,
        dd_read,
        dd_read_cold,
        Transfer {
            bytes: size,
            elapsed: put,
            rss: put_rss,
        },
        get,
        get_cold,
    ))
}

/// Deletes everything the run wrote (bulk delete, then the container).
async fn cleanup(swift: &Target, token: &str, container: &str, concurrency: u16) {
    let mut names = vec![format!("{container}/large")];
    for w in 0..concurrency {
        for i in 0..NAMES_PER_WORKER {
            names.push(format!("{container}/w{w}-{i}"));
        }
    }
    for i in 0..GET_OBJECTS {
        names.push(format!("{container}/g{i}"));
    }
    names.push(container.to_string());
    let body = Bytes::from(names.join("\n"));
    if let Ok(req) = swift
        .request(Method::POST, "?bulk-delete")
        .header("x-auth-token", token)
        .header("content-type", "text/plain")
        .header(CONTENT_LENGTH, body.len())
        .body(Body::new(body))
    {
        if let Err(e) = send(swift, req).await {
            eprintln!("warning: cleaning up {container}: {e:#}");
        }
    }
}

fn rss_text(s: &Option<RssSummary>, idle: Option<u64>) -> String {
    match (s, idle) {
        (Some(s), Some(idle)) => format!("{} ({})", report::mib(s.max_rss_kib), report::mib(idle)),
        _ => "n/a".into(),
    }
}

/// The report: text tables and the Markdown block for `BENCHMARKS.md`.
pub fn render(r: &ObjectResults, command_line: &str) -> String {
    let mut small = Table::new([
        "Benchmark",
        "Requests",
        "req/s",
        "p50",
        "p99",
        "Errors",
        "Server RSS peak (idle)",
    ]);
    for p in &r.small {
        small.row([
            format!("{} ({} connections)", p.name, r.concurrency),
            report::thousands(p.load.ok as f64),
            report::thousands(p.load.rate()),
            report::latency(p.load.latency.percentile_duration(50.0)),
            report::latency(p.load.latency.percentile_duration(99.0)),
            p.load.errors.total().to_string(),
            rss_text(&p.rss, r.idle_rss_kib),
        ]);
    }
    let mut large = Table::new([
        "transfer",
        "MiB/s",
        "dd on the same disk",
        "ratio",
        "target",
        "peak RSS (idle)",
        "verdict",
    ]);
    let mib = r.size_mib as f64;
    let mut rows: Vec<(String, &Transfer, f64, &str)> = vec![
        (
            format!("PUT {} MiB", r.size_mib),
            &r.put,
            mib / r.dd_write.as_secs_f64().max(1e-9),
            "write, fsync",
        ),
        (
            format!("GET {} MiB", r.size_mib),
            &r.get,
            mib / r.dd_read.as_secs_f64().max(1e-9),
            "read, page cache",
        ),
    ];
    if let (Some(t), Some(d)) = (&r.get_cold, r.dd_read_cold) {
        rows.push((
            format!("GET {} MiB, cold cache", r.size_mib),
            t,
            mib / d.as_secs_f64().max(1e-9),
            "read, cold cache",
        ));
    }
    for (name, t, base, what) in rows {
        let ratio = t.rate() / base.max(1e-9);
        let rss_ok = match (&t.rss, r.idle_rss_kib) {
            (Some(s), Some(idle)) => s.max_rss_kib <= idle + RSS_GROWTH_GOAL_KIB,
            _ => true,
        };
        large.row([
            name,
            format!("{:.0}", t.rate()),
            format!("{base:.0} MiB/s ({what})"),
            format!("{:.0} %", ratio * 100.0),
            format!(
                "≥ {:.0} %, RSS ≤ idle + {}",
                THROUGHPUT_GOAL * 100.0,
                report::mib(RSS_GROWTH_GOAL_KIB)
            ),
            rss_text(&t.rss, r.idle_rss_kib),
            match (ratio >= THROUGHPUT_GOAL, rss_ok) {
                (true, true) => "pass".into(),
                (false, true) => "throughput missed, RSS pass".into(),
                (true, false) => "RSS missed".into(),
                (false, false) => "MISSED".into(),
            },
        ]);
    }
    format!(
        "object suite\n\n{}\n{}\n```\n{command_line}\n```\n\n{}\n{}\n{}",
        small.to_text(),
        large.to_text(),
        report::machine(),
        small.to_markdown(),
        large.to_markdown()
    )
}

pub async fn run(args: ObjectArgs) -> anyhow::Result<()> {
    let cmd = report::command_line(std::env::args());
    let r = measure(&args).await?;
    println!("{}", render(&r, &cmd));
    Ok(())
}

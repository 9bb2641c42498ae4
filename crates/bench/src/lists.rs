//! `oxistack bench lists`: paged lists and single writes with a large store.
//!
//! 1. Seeds (unless `--no-seed`) `--users` users (`bench-user-N`, no
//!    password), `--projects` projects (`bench-project-N`) and `--images`
//!    images (`bench-image-N`, raw/bare, no data) through the APIs, 8 at a
//!    time; users and projects that already exist (409) are fine, so a
//!    second run on the same store adds none.
//! 2. Phases, each a closed-loop [`load::run`] of `--seconds` over
//!    `--concurrency` connections after `--warmup`:
//!    `GET /v3/users?limit=100`, `GET /v3/projects?limit=100`,
//!    `GET /v2/images?limit=25`, and `POST /v3/users` (one new user, no
//!    password, a fresh name each).
//!
//! Targets (issue 10): each phase's p95 ≤ 20 ms. The report prints p50,
//! p95 and p99 beside the rate, and a Markdown block for `BENCHMARKS.md`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use hyper::header::CONTENT_TYPE;
use hyper::Method;
use serde_json::json;

use crate::identity::{self, Login};
use crate::load::{self, Body, LoadConfig, LoadReport, Target};
use crate::report::{self, Table};

/// The p95 latency every phase must stay under.
pub const P95_GOAL: Duration = Duration::from_millis(20);

/// Arguments of `oxistack bench lists`.
#[derive(clap::Args, Debug, Clone)]
pub struct ListsArgs {
    /// Keystone base URL [default: auth_url from --clouds, else http://127.0.0.1:5000]
    #[arg(long)]
    pub url: Option<String>,

    /// Glance base URL [default: the Keystone host on port 9292]
    #[arg(long)]
    pub image_url: Option<String>,

    #[command(flatten)]
    pub login: Login,

    /// State directory of `oxistack up` (credentials from DIR/clouds.yaml)
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Users to have in the store before measuring
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub users: u64,

    /// Projects to have in the store before measuring
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub projects: u64,

    /// Images to create before measuring
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub images: u64,

    /// Skip seeding (the store was seeded by an earlier run)
    #[arg(long)]
    pub no_seed: bool,

    /// Concurrent keep-alive connections (one request in flight on each)
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,

    /// Measured seconds per phase
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub seconds: u64,

    /// Unmeasured warm-up seconds before each phase
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=300))]
    pub warmup: u64,

    /// Per-request timeout in seconds
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,

    /// Allow a URL that does not resolve to a loopback address
    #[arg(long)]
    pub allow_remote: bool,
}

/// One measured phase.
pub struct PhaseResult {
    pub title: &'static str,
    pub load: LoadReport,
}

fn json_post(
    target: &Target,
    path: &str,
    token: &str,
    body: Bytes,
) -> anyhow::Result<hyper::Request<Body>> {
    Ok(target
        .request(Method::POST, path)
        .header("x-auth-token", token)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::new(body))?)
}

fn get(target: &Target, path: &str, token: &str) -> anyhow::Result<hyper::Request<Body>> {
    Ok(target
        .request(Method::GET, path)
        .header("x-auth-token", token)
        .body(Body::default())?)
}

/// Sends requests `0..n` (rounded up to a multiple of `concurrency`; the
/// factory answers the extra indices with a read) over `concurrency`
/// connections and returns the report.
pub(crate) async fn seed<F>(
    target: &Target,
    concurrency: usize,
    n: u64,
    timeout: Duration,
    make: F,
) -> LoadReport
where
    F: Fn(u64) -> anyhow::Result<hyper::Request<Body>> + Send + Sync + 'static,
{
    let c = concurrency.max(1) as u64;
    let cfg = LoadConfig {
        concurrency: concurrency.max(1),
        duration: Duration::from_secs(24 * 3600),
        warmup: Duration::ZERO,
        max_requests: n.div_ceil(c) * c,
        request_timeout: timeout,
    };
    load::run(
        target,
        &cfg,
        move |ctx| make(ctx.seq * c + ctx.worker as u64),
        load::accept_any,
    )
    .await
}

pub async fn measure(args: &ListsArgs) -> anyhow::Result<Vec<PhaseResult>> {
    let settings = identity::settings(&args.login, args.url.as_deref(), args.state_dir.as_deref())?;
    let keystone = Target::resolve(&settings.url, args.allow_remote).await?;
    let token = identity::issue_token(&keystone, &settings)
        .await
        .context("could not get a token; check URL and credentials")?;
    let image_url = match &args.image_url {
        Some(u) => u.clone(),
        None => format!("http://{}:9292", keystone.addr.ip()),
    };
    let glance = Target::resolve(&image_url, args.allow_remote).await?;
    let timeout = Duration::from_secs(args.timeout);
    let conc = usize::from(args.concurrency);

    if !args.no_seed {
        let (t, tok, n) = (keystone.clone(), token.clone(), args.users);
        eprintln!("lists: seeding {} users…", args.users);
        let r = seed(&keystone, conc, args.users, timeout, move |i| {
            if i >= n {
                return get(&t, "/v3/users?limit=1", &tok);
            }
            let body = json!({"user": {"name": format!("bench-user-{i}")}}).to_string();
            json_post(&t, "/v3/users", &tok, Bytes::from(body))
        })
        .await;
        eprintln!(
            "lists: users: {} created, {} not (409 when seeded before)",
            r.ok,
            r.errors.total()
        );
        let (t, tok, n) = (keystone.clone(), token.clone(), args.projects);
        eprintln!("lists: seeding {} projects…", args.projects);
        let r = seed(&keystone, conc, args.projects, timeout, move |i| {
            if i >= n {
                return get(&t, "/v3/projects?limit=1", &tok);
            }
            let body = json!({"project": {"name": format!("bench-project-{i}")}}).to_string();
            json_post(&t, "/v3/projects", &tok, Bytes::from(body))
        })
        .await;
        eprintln!(
            "lists: projects: {} created, {} not (409 when seeded before)",
            r.ok,
            r.errors.total()
        );
        let (t, tok, n) = (glance.clone(), token.clone(), args.images);
        eprintln!("lists: seeding {} images…", args.images);
        let r = seed(&glance, conc, args.images, timeout, move |i| {
            if i >= n {
                return get(&t, "/v2/images?limit=1", &tok);
            }
            let body = json!({"name": format!("bench-image-{i}"), "disk_format": "raw",
                              "container_format": "bare"})
            .to_string();
            json_post(&t, "/v2/images", &tok, Bytes::from(body))
        })
        .await;
        eprintln!(
            "lists: images: {} created, {} errors",
            r.ok,
            r.errors.total()
        );
        if r.errors.total() > 0 {
            eprintln!("lists: image errors: {}", r.errors.summary());
        }
    }

    let config = LoadConfig {
        concurrency: conc,
        duration: Duration::from_secs(args.seconds),
        warmup: Duration::from_secs(args.warmup),
        max_requests: 5_000_000,
        request_timeout: timeout,
    };
    // A per-run nonce (std's randomly keyed hasher) keeps new names unique
    // across runs on the same store.
    let run_id = {
        use std::hash::{BuildHasher, Hasher};
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    let mut out = Vec::new();
    let phases: [&'static str; 4] = [
        "GET /v3/users?limit=100",
        "GET /v3/projects?limit=100",
        "GET /v2/images?limit=25",
        "POST /v3/users (one user)",
    ];
    for (n, title) in phases.into_iter().enumerate() {
        eprintln!(
            "lists: {title} — {conc} connections, {} s warm-up + {} s measured…",
            args.warmup, args.seconds
        );
        let tok = token.clone();
        let load = match n {
            0 => {
                let t = keystone.clone();
                load::run(
                    &keystone,
                    &config,
                    move |_| get(&t, "/v3/users?limit=100", &tok),
                    load::accept_any,
                )
                .await
            }
            1 => {
                let t = keystone.clone();
                load::run(
                    &keystone,
                    &config,
                    move |_| get(&t, "/v3/projects?limit=100", &tok),
                    load::accept_any,
                )
                .await
            }
            2 => {
                let t = glance.clone();
                load::run(
                    &glance,
                    &config,
                    move |_| get(&t, "/v2/images?limit=25", &tok),
                    load::accept_any,
                )
                .await
            }
            _ => {
                let t = keystone.clone();
                load::run(
                    &keystone,
                    &config,
                    move |ctx| {
                        let name = format!("bench-new-{run_id}-{}-{}", ctx.worker, ctx.seq);
                        let body = json!({"user": {"name": name}}).to_string();
                        json_post(&t, "/v3/users", &tok, Bytes::from(body))
                    },
                    load::accept_any,
                )
                .await
            }
        };
        eprintln!(
            "lists: {title}: {} req/s, p95 {}, {} errors",
            report::thousands(load.rate()),
            report::latency(load.latency.percentile_duration(95.0)),
            load.errors.total()
        );
        out.push(PhaseResult { title, load });
    }
    Ok(out)
}

pub fn render(phases: &[PhaseResult], args: &ListsArgs, command_line: &str) -> String {
    let mut table = Table::new([
        "Benchmark",
        "Requests",
        "req/s",
        "p50",
        "p95",
        "p99",
        "Errors",
        "Target",
        "Result",
    ]);
    let mut errors = Vec::new();
    for p in phases {
        let l = &p.load;
        let p95 = l.latency.percentile_duration(95.0);
        let n_err = l.errors.total();
        if n_err > 0 {
            errors.push(format!("{}: {}", p.title, l.errors.summary()));
        }
        let result = match (p95 <= P95_GOAL, n_err) {
            (true, 0) => "pass",
            (false, 0) => "MISS",
            _ => "MISS (errors)",
        };
        table.row([
            p.title.to_owned(),
            report::thousands(l.ok as f64),
            report::thousands(l.rate()),
            report::latency(l.latency.percentile_duration(50.0)),
            report::latency(p95),
            report::latency(l.latency.percentile_duration(99.0)),
            report::thousands(n_err as f64),
            "p95 ≤ 20 ms".to_owned(),
            result.to_owned(),
        ]);
    }
    let mut s = format!(
        "Lists with {} users, {} projects and {} images seeded, {} connections, {} s per phase\n\n",
        args.users, args.projects, args.images, args.concurrency, args.seconds
    );
    s.push_str(&table.to_text());
    for e in &errors {
        s.push_str(&format!("errors: {e}\n"));
    }
    s.push_str("\n--- Markdown for BENCHMARKS.md ---\n\n");
    s.push_str(&format!("Command: `{command_line}`\n\n"));
    s.push_str(&table.to_markdown());
    s
}

/// `oxistack bench lists`: seed, measure, print the report on stdout.
pub async fn run(args: ListsArgs) -> anyhow::Result<()> {
    let phases = measure(&args).await?;
    let cmd = report::command_line(std::env::args());
    print!("{}", render(&phases, &args, &cmd));
    Ok(())
}

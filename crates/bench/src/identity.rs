//! `oxistack bench identity`: Keystone token issue and validation.
//!
//! Phases, each a closed-loop [`load::run`] of `--seconds` over
//! `--concurrency` keep-alive connections (after `--warmup`):
//!
//! 1. `password`: `POST /v3/auth/tokens` with the password method, project
//!    scope; expects 201 and an `X-Subject-Token` header.
//! 2. `token`: the same with the token method, re-scoping a token `T`
//!    obtained once before the phases.
//! 3. `validate`: `GET /v3/auth/tokens` with `X-Auth-Token: T` and
//!    `X-Subject-Token: T`; expects 200.
//!
//! Around them it reads the server's memory (see [`crate::rss`]): idle
//! `VmRSS`/`VmHWM` before any load, peak `VmRSS` sampled every 100 ms during
//! each phase. Results are printed beside the targets (validate ≥ 10,000
//! req/s, token-method issue ≥ 3,000 req/s, idle RSS ≤ 40 MiB), and again as
//! a Markdown block for `BENCHMARKS.md`.
//!
//! Credentials come from the flags, else from `--clouds FILE` (or
//! `STATE_DIR/clouds.yaml`), else the defaults (`admin`/`admin`/`Default`);
//! the password has no default.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use hyper::header::CONTENT_TYPE;
use hyper::Method;
use serde_json::json;

use crate::clouds;
use crate::load::{self, Body, Conn, Exchange, LoadConfig, LoadReport, Target};
use crate::report::{self, Table};
use crate::rss::{self, MemStatus, RssSummary};

/// Default Keystone URL.
pub const DEFAULT_URL: &str = "http://127.0.0.1:5000";
/// Target for token validation.
pub const VALIDATE_GOAL_RPS: f64 = 10_000.0;
/// Target for token-method token issue.
pub const TOKEN_ISSUE_GOAL_RPS: f64 = 3_000.0;
/// Target for the server's idle resident set, KiB.
pub const IDLE_RSS_GOAL_KIB: u64 = 40 * 1024;

const SUBJECT_TOKEN: &str = "x-subject-token";
const AUTH_TOKEN: &str = "x-auth-token";

/// Arguments of `oxistack bench identity`.
#[derive(clap::Args, Debug, Clone)]
pub struct IdentityArgs {
    /// Keystone base URL, with or without a trailing /v3
    /// [default: auth_url from --clouds, else http://127.0.0.1:5000]
    #[arg(long)]
    pub url: Option<String>,

    #[command(flatten)]
    pub login: Login,

    /// Concurrent keep-alive connections (one request in flight on each)
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,

    /// Measured seconds per phase
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub seconds: u64,

    /// Unmeasured warm-up seconds before each phase
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=300))]
    pub warmup: u64,

    /// PID of the server, to report its memory (VmRSS/VmHWM)
    #[arg(long)]
    pub pid: Option<u32>,

    /// State directory of `oxistack up`: PID from DIR/oxistack.pid,
    /// credentials from DIR/clouds.yaml
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Phases to run, in order
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Phase::Password, Phase::Token, Phase::Validate])]
    pub phases: Vec<Phase>,

    /// Hard cap on requests per phase, warm-up included
    #[arg(long, default_value_t = 5_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_requests: u64,

    /// Per-request timeout in seconds
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,

    /// Allow a URL that does not resolve to a loopback address
    #[arg(long)]
    pub allow_remote: bool,
}

/// Who every suite logs in as (flags over clouds.yaml over defaults; see
/// [`settings`]).
#[derive(clap::Args, Debug, Clone)]
pub struct Login {
    /// User name [default: from --clouds, else admin]
    #[arg(long)]
    pub username: Option<String>,

    /// Password (required unless --clouds provides one)
    #[arg(long)]
    pub password: Option<String>,

    /// Project to scope tokens to [default: from --clouds, else admin]
    #[arg(long)]
    pub project: Option<String>,

    /// Domain of the user and of the project [default: from --clouds, else Default]
    #[arg(long)]
    pub domain: Option<String>,

    /// clouds.yaml to read credentials from (as written by `oxistack up`)
    /// [default: STATE_DIR/clouds.yaml if it exists]
    #[arg(long, value_name = "FILE")]
    pub clouds: Option<PathBuf>,

    /// Which cloud of the clouds.yaml to use
    #[arg(long, default_value = "oxistack")]
    pub cloud: String,
}

/// One phase of the identity suite.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Token issue, password method.
    Password,
    /// Token issue, token method.
    Token,
    /// Token validation.
    Validate,
}

impl Phase {
    /// Human name, as used in the report.
    pub fn title(self) -> &'static str {
        match self {
            Phase::Password => "token issue (password)",
            Phase::Token => "token issue (token)",
            Phase::Validate => "token validate",
        }
    }

    /// The req/s target, if the phase has one.
    pub fn goal_rps(self) -> Option<f64> {
        match self {
            Phase::Password => None,
            Phase::Token => Some(TOKEN_ISSUE_GOAL_RPS),
            Phase::Validate => Some(VALIDATE_GOAL_RPS),
        }
    }
}

/// Credentials and endpoint after merging flags, clouds.yaml and defaults.
#[derive(Clone)]
pub struct Settings {
    /// Keystone base URL without `/v3`.
    pub url: String,
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// Project name.
    pub project: String,
    /// Domain of the user.
    pub user_domain: String,
    /// Domain of the project.
    pub project_domain: String,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &"***")
            .field("project", &self.project)
            .field("user_domain", &self.user_domain)
            .field("project_domain", &self.project_domain)
            .finish()
    }
}

/// Merge flags > clouds.yaml > defaults; `url` is the Keystone URL flag,
/// `state_dir` where `oxistack up` wrote its clouds.yaml.
pub fn settings(
    args: &Login,
    url: Option<&str>,
    state_dir: Option<&Path>,
) -> anyhow::Result<Settings> {
    let clouds_path = match (&args.clouds, state_dir) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(dir)) => Some(dir.join("clouds.yaml")).filter(|p| p.is_file()),
        (None, None) => None,
    };
    let cloud = match &clouds_path {
        Some(p) => clouds::load(p, &args.cloud)?,
        None => clouds::CloudAuth::default(),
    };
    let password = match (&args.password, cloud.password) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => p,
        (None, None) => match &clouds_path {
            Some(p) => bail!(
                "no password: pass --password, or add auth.password for cloud {:?} in {}",
                args.cloud,
                p.display()
            ),
            None => bail!("no password: pass --password or --clouds FILE (or --state-dir DIR)"),
        },
    };
    let url = url
        .map(str::to_owned)
        .or(cloud.auth_url)
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    Ok(Settings {
        url: keystone_base(&url),
        username: pick(&args.username, cloud.username, "admin"),
        password,
        project: pick(&args.project, cloud.project_name, "admin"),
        user_domain: pick(&args.domain, cloud.user_domain_name, "Default"),
        project_domain: pick(&args.domain, cloud.project_domain_name, "Default"),
    })
}

fn pick(flag: &Option<String>, file: Option<String>, default: &str) -> String {
    flag.clone().or(file).unwrap_or_else(|| default.to_owned())
}

/// `http://h:5000/v3/` -> `http://h:5000` (the suite appends `/v3/...`).
pub fn keystone_base(url: &str) -> String {
    let u = url.trim_end_matches('/');
    u.strip_suffix("/v3").unwrap_or(u).to_owned()
}

/// JSON body for a password-method, project-scoped token request.
pub fn password_body(s: &Settings) -> Bytes {
    Bytes::from(
        json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": s.username,
                "domain": {"name": s.user_domain},
                "password": s.password,
            }}},
            "scope": scope(s),
        }})
        .to_string(),
    )
}

/// JSON body for a token-method, project-scoped token request.
pub fn token_body(token: &str, s: &Settings) -> Bytes {
    Bytes::from(
        json!({"auth": {
            "identity": {"methods": ["token"], "token": {"id": token}},
            "scope": scope(s),
        }})
        .to_string(),
    )
}

fn scope(s: &Settings) -> serde_json::Value {
    json!({"project": {"name": s.project, "domain": {"name": s.project_domain}}})
}

fn post_tokens(target: &Target, body: &Bytes) -> anyhow::Result<hyper::Request<Body>> {
    Ok(target
        .request(Method::POST, "/v3/auth/tokens")
        .header(CONTENT_TYPE, "application/json")
        .body(Body::new(body.clone()))?)
}

fn has_subject_token(ex: &Exchange) -> Result<(), String> {
    if ex.parts.headers.contains_key(SUBJECT_TOKEN) {
        Ok(())
    } else {
        Err("no X-Subject-Token header".to_owned())
    }
}

/// Issue one token with the password method on a fresh connection.
/// Logs in as `login` says: Keystone's target and a project token (for the
/// image and object suites).
pub async fn log_in(
    login: &Login,
    identity_url: Option<&str>,
    state_dir: Option<&Path>,
    allow_remote: bool,
) -> anyhow::Result<(Target, String)> {
    let settings = settings(login, identity_url, state_dir)?;
    let keystone = Target::resolve(&settings.url, allow_remote).await?;
    let token = issue_token(&keystone, &settings).await?;
    Ok((keystone, token))
}

pub async fn issue_token(target: &Target, s: &Settings) -> anyhow::Result<String> {
    let mut conn = Conn::connect(target.addr).await?;
    conn.ready().await?;
    let req = post_tokens(target, &password_body(s))?;
    let ex = tokio::time::timeout(Duration::from_secs(30), conn.exchange(req))
        .await
        .context("timed out waiting for POST /v3/auth/tokens")??;
    if !ex.parts.status.is_success() {
        bail!(
            "POST {} as {}@{} (project {}) answered {}: {}",
            target.path("/v3/auth/tokens"),
            s.username,
            s.user_domain,
            s.project,
            ex.parts.status,
            String::from_utf8_lossy(&ex.body)
        );
    }
    let token = ex
        .parts
        .headers
        .get(SUBJECT_TOKEN)
        .context("token response has no X-Subject-Token header")?
        .to_str()
        .context("X-Subject-Token is not ASCII")?
        .to_owned();
    Ok(token)
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
pub struct IdentityResults {
    /// Endpoint and credentials used (password masked in `Debug`).
    pub settings: Settings,
    /// The load configuration of every phase.
    pub config: LoadConfig,
    /// Server PID, if known.
    pub pid: Option<u32>,
    /// Memory before any load (`Err` text if it could not be read).
    pub idle: Option<Result<MemStatus, String>>,
    /// The phases, in the order run.
    pub phases: Vec<PhaseResult>,
}

/// Run the suite and collect results (progress goes to stderr).
pub async fn measure(args: &IdentityArgs) -> anyhow::Result<IdentityResults> {
    let settings = settings(&args.login, args.url.as_deref(), args.state_dir.as_deref())?;
    let target = Target::resolve(&settings.url, args.allow_remote).await?;
    let pid = rss::resolve_pid(args.pid, args.state_dir.as_deref())?;
    let config = LoadConfig {
        concurrency: usize::from(args.concurrency),
        duration: Duration::from_secs(args.seconds),
        warmup: Duration::from_secs(args.warmup),
        max_requests: args.max_requests,
        request_timeout: Duration::from_secs(args.timeout),
    };

    // Idle memory first, before this tool sends anything.
    let idle = match pid {
        Some(pid) => Some(rss::read(pid).await.map_err(|e| format!("{e:#}"))),
        None => None,
    };
    if let Some(Err(e)) = &idle {
        eprintln!("warning: cannot read server memory: {e}");
    }

    let token = issue_token(&target, &settings)
        .await
        .context("could not get a first token; check URL and credentials")?;
    tracing::debug!(url = %target.url, "bench: got a first token");

    let mut phases = Vec::new();
    for &phase in &args.phases {
        eprintln!(
            "identity: {} — {} connections, {} s warm-up + {} s measured…",
            phase.title(),
            config.concurrency,
            args.warmup,
            args.seconds
        );
        let sampler = pid.map(|pid| rss::Sampler::start(pid, rss::SAMPLE_EVERY));
        let load = match phase {
            Phase::Password => {
                let t = target.clone();
                let body = password_body(&settings);
                load::run(
                    &target,
                    &config,
                    move |_| post_tokens(&t, &body),
                    has_subject_token,
                )
                .await
            }
            Phase::Token => {
                let t = target.clone();
                let body = token_body(&token, &settings);
                load::run(
                    &target,
                    &config,
                    move |_| post_tokens(&t, &body),
                    has_subject_token,
                )
                .await
            }
            Phase::Validate => {
                let t = target.clone();
                let token = token.clone();
                load::run(
                    &target,
                    &config,
                    move |_| {
                        Ok(t.request(Method::GET, "/v3/auth/tokens")
                            .header(AUTH_TOKEN, token.as_str())
                            .header(SUBJECT_TOKEN, token.as_str())
                            .body(Body::default())?)
                    },
                    load::accept_any,
                )
                .await
            }
        };
        let rss = match sampler {
            Some(s) => Some(s.finish().await),
            None => None,
        };
        eprintln!(
            "identity: {}: {} req/s, {} errors",
            phase.title(),
            report::thousands(load.rate()),
            load.errors.total()
        );
        phases.push(PhaseResult { phase, load, rss });
    }
    Ok(IdentityResults {
        settings,
        config,
        pid,
        idle,
        phases,
    })
}

/// `pass`, `MISS`, or `MISS (errors)`.
fn verdict(ok: bool, errors: u64) -> String {
    match (ok, errors) {
        (true, 0) => "pass".to_owned(),
        (_, 0) => "MISS".to_owned(),
        _ => "MISS (errors)".to_owned(),
    }
}

/// The full printed report: plain text, then a Markdown block.
pub fn render(r: &IdentityResults, command_line: &str) -> String {
    let mut table = Table::new([
        "Benchmark",
        "Requests",
        "req/s",
        "p50",
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
        let mem = match &p.rss {
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
        };
        let (target, result) = match p.phase.goal_rps() {
            Some(goal) => (
                format!("≥ {} req/s", report::thousands(goal)),
                verdict(l.rate() >= goal, errors),
            ),
            None => (
                "—".to_owned(),
                if errors > 0 {
                    "errors".to_owned()
                } else {
                    "—".to_owned()
                },
            ),
        };
        table.row([
            p.phase.title().to_owned(),
            report::thousands(l.ok as f64),
            report::thousands(l.rate()),
            report::latency(l.latency.percentile_duration(50.0)),
            report::latency(l.latency.percentile_duration(99.0)),
            report::thousands(errors as f64),
            mem,
            target,
            result,
        ]);
    }
    let idle_target = format!("≤ {}", report::mib(IDLE_RSS_GOAL_KIB));
    match &r.idle {
        Some(Ok(m)) => table.row([
            "idle RSS (before load)".to_owned(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            format!("{} / {}", report::mib(m.rss_kib), report::mib(m.hwm_kib)),
            idle_target,
            verdict(m.rss_kib <= IDLE_RSS_GOAL_KIB, 0),
        ]),
        Some(Err(e)) => table.row([
            "idle RSS (before load)".to_owned(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            format!("unreadable ({e})"),
            idle_target,
            "not measured".to_owned(),
        ]),
        None => table.row([
            "idle RSS (before load)".to_owned(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            "n/a".to_owned(),
            idle_target,
            "not measured (no --pid / --state-dir)".to_owned(),
        ]),
    }

    let c = &r.config;
    let s = &r.settings;
    let setup = format!(
        "{} keep-alive HTTP/1.1 connections, {} s measured per phase after {} s warm-up; \
         load generator on the same host as the server",
        c.concurrency,
        c.duration.as_secs(),
        c.warmup.as_secs()
    );
    let machine = report::machine();
    let server = match r.pid {
        Some(pid) => format!("server pid {pid}"),
        None => "server pid unknown".to_owned(),
    };

    let mut out = String::new();
    out.push_str(&format!(
        "oxistack bench identity — {} (user {}@{}, project {}@{})\n",
        s.url, s.username, s.user_domain, s.project, s.project_domain
    ));
    out.push_str(&format!("{setup}\nmachine: {machine}; {server}\n\n"));
    out.push_str(&table.to_text());
    out.push_str(&report::errors_text(&error_lines));
    let body = table.to_markdown() + &report::errors_markdown(&error_lines);
    out.push_str(&report::markdown_block(
        "Identity: token issue and validation",
        command_line,
        &machine,
        &setup,
        &body,
    ));
    out
}

/// `oxistack bench identity`: measure, then print the report on stdout.
pub async fn run(args: IdentityArgs) -> anyhow::Result<()> {
    let results = measure(&args).await?;
    let cmd = report::command_line(std::env::args());
    print!("{}", render(&results, &cmd));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: IdentityArgs,
    }

    fn parse(argv: &[&str]) -> IdentityArgs {
        Cli::try_parse_from(std::iter::once("bench").chain(argv.iter().copied()))
            .unwrap()
            .args
    }

    fn test_settings(a: &IdentityArgs) -> anyhow::Result<Settings> {
        settings(&a.login, a.url.as_deref(), a.state_dir.as_deref())
    }

    #[test]
    fn defaults() {
        let a = parse(&["--password", "pw"]);
        assert_eq!(a.concurrency, 8);
        assert_eq!(a.seconds, 20);
        assert_eq!(a.phases, [Phase::Password, Phase::Token, Phase::Validate]);
        let s = test_settings(&a).unwrap();
        assert_eq!(s.url, DEFAULT_URL);
        assert_eq!(s.username, "admin");
        assert_eq!(s.project, "admin");
        assert_eq!(s.user_domain, "Default");
        assert_eq!(s.project_domain, "Default");
        assert!(!format!("{s:?}").contains("pw\""));

        let a = parse(&["--phases", "validate,token", "--concurrency", "2"]);
        assert_eq!(a.phases, [Phase::Validate, Phase::Token]);
        let err = test_settings(&a).unwrap_err();
        assert!(err.to_string().contains("--password"), "{err}");
        assert!(Cli::try_parse_from(["bench", "--concurrency", "0"]).is_err());
    }

    #[test]
    fn settings_from_clouds_yaml_and_flags() {
        let dir = std::env::temp_dir().join(format!("bench-identity-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("clouds.yaml"),
            "clouds:\n  oxistack:\n    auth:\n      auth_url: http://127.0.0.9:5000/v3/\n      \
             username: root\n      password: s3cret\n      project_name: ops\n      \
             user_domain_name: Users\n      project_domain_name: Projects\n",
        )
        .unwrap();
        let state_dir = dir.to_str().unwrap();
        let s = test_settings(&parse(&["--state-dir", state_dir])).unwrap();
        assert_eq!(s.url, "http://127.0.0.9:5000");
        assert_eq!(s.username, "root");
        assert_eq!(s.password, "s3cret");
        assert_eq!(s.project, "ops");
        assert_eq!(s.user_domain, "Users");
        assert_eq!(s.project_domain, "Projects");

        let clouds = dir.join("clouds.yaml");
        let s = test_settings(&parse(&[
            "--clouds",
            clouds.to_str().unwrap(),
            "--password",
            "other",
            "--domain",
            "D",
            "--url",
            "http://localhost:5000",
        ]))
        .unwrap();
        assert_eq!(s.password, "other");
        assert_eq!(s.user_domain, "D");
        assert_eq!(s.project_domain, "D");
        assert_eq!(s.url, "http://localhost:5000");
        assert_eq!(s.username, "root");

        assert!(test_settings(&parse(&["--state-dir", state_dir, "--cloud", "nope"])).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn request_bodies() {
        let s = Settings {
            url: DEFAULT_URL.into(),
            username: "admin".into(),
            password: "p\"w".into(),
            project: "admin".into(),
            user_domain: "Default".into(),
            project_domain: "Default".into(),
        };
        let v: serde_json::Value = serde_json::from_slice(&password_body(&s)).unwrap();
        assert_eq!(
            v,
            json!({"auth": {
                "identity": {"methods": ["password"], "password": {"user": {
                    "name": "admin", "domain": {"name": "Default"}, "password": "p\"w"}}},
                "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}
            }})
        );
        let v: serde_json::Value = serde_json::from_slice(&token_body("T1", &s)).unwrap();
        assert_eq!(
            v["auth"]["identity"],
            json!({"methods": ["token"], "token": {"id": "T1"}})
        );
        assert_eq!(v["auth"]["scope"]["project"]["name"], "admin");
    }

    #[test]
    fn keystone_base_strips_version() {
        assert_eq!(keystone_base("http://h:5000/v3"), "http://h:5000");
        assert_eq!(keystone_base("http://h:5000/v3/"), "http://h:5000");
        assert_eq!(keystone_base("http://h:5000/"), "http://h:5000");
        assert_eq!(keystone_base("http://h/identity/v3"), "http://h/identity");
    }
}

//! `oxistack bench object`: Swift small-object request rates and large
//! object throughput against the disk's own.
//!
//! 1. `put`: closed-loop `PUT` of 4 KiB objects (`--concurrency`
//!    connections, default 8) into a fresh container, each worker cycling
//!    over its own 100 names so overwrites are part of the mix; expects 201.
//! 2. `get`: `GET` of 64 pre-written 4 KiB objects; expects 200 and 4 KiB.
//! 3. `--rounds` rounds (default 3) of the large-transfer comparison, each:
//!    * baseline: `dd` writes `--size-mib` MiB (default 1 GiB) of zeros to
//!      a file in `--dir` (default: the state directory's `objects/`, where
//!      object data lives) with `conv=fsync`, then reads it back to
//!      `/dev/null`; with `--drop-caches` (root) the read is also repeated
//!      from a cold page cache. The file is removed;
//!    * a large `PUT` of the same size, streamed from a repeated 1 MiB
//!      pattern (the client reads no disk), timed until the 201; then `GET`
//!      of it, counting every byte (and once more from a cold cache with
//!      `--drop-caches`); then the object is deleted.
//! 4. The container and its objects are deleted (also after a failure).
//!
//! Around each phase it samples the server's `VmRSS` (see [`crate::rss`]).
//! The 4 KiB phases run once; the large transfers are reported as medians
//! over the rounds with min–max, ratios of medians, and the verdicts
//! described in [`crate::disk`]: ≥ 80 % of `dd` on the same disk, and the
//! peak RSS while streaming within 64 MiB of idle.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use hyper::header::{CONTENT_LENGTH, HOST};
use hyper::{Method, Request};

use crate::disk::{self, LargeResults, Pattern, RoundConfig, Service};
use crate::identity::{self, Login};
use crate::load::{self, Body, LoadConfig, LoadReport, Target};
use crate::report::{self, Table};
use crate::rss::{self, RssSummary};

/// Size of the small objects.
pub const SMALL: usize = 4096;
/// Names each worker cycles over in the PUT phase.
const NAMES_PER_WORKER: u64 = 100;
/// Objects the GET phase reads.
const GET_OBJECTS: u64 = 64;
/// Name of the large object in the container.
const LARGE: &str = "large";

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

    #[command(flatten)]
    pub login: Login,

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

    /// Rounds of `dd` baseline plus large PUT and GET; the report gives
    /// medians over them (the disk is noisy). The 4 KiB phases run once
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: u32,

    /// Connections for the 4 KiB phases
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,

    /// Measured seconds of each 4 KiB phase
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,

    /// Warm-up seconds before each 4 KiB phase
    #[arg(long, default_value_t = 1)]
    pub warmup: u64,

    /// Also compare the GET from a cold page cache against a cold `dd`
    /// read, and judge GETs on that (writes /proc/sys/vm/drop_caches: root
    /// only)
    #[arg(long)]
    pub drop_caches: bool,

    /// Allow a URL that does not resolve to a loopback address
    #[arg(long)]
    pub allow_remote: bool,
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
    pub concurrency: u16,
    pub small: Vec<Phase>,
    /// The disk's durable 4 KiB writes per second from as many writers
    /// ([`durable_small_writes`]), measured just before the PUT phases.
    pub disk_small: Option<DiskSmall>,
    /// The large transfers (and the idle RSS both tables compare with).
    pub large: LargeResults,
}

/// The disk's own durable 4 KiB write rates, one per PUT phase.
#[derive(Debug, Clone, Copy)]
pub struct DiskSmall {
    /// New files only (what a PUT of a new name does).
    pub create: f64,
    /// Each new file also removes the one written [`NAMES_PER_WORKER`]
    /// writes earlier (what an overwrite does: the replaced file is
    /// deleted). On ext4 the freed inodes make later allocations in the
    /// same group slower, so this is the fair floor for overwrites.
    pub replace: f64,
}

/// The PUT phases: new names, then overwrites of a fixed set.
const PUT_NEW: &str = "4 KiB PUT, new names";
const PUT_OVERWRITE: &str = "4 KiB PUT, overwrites";

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

/// The storage URL for the token's project (`…:8080/v1/AUTH_<project>`).
async fn storage_url(ks: &Target, token: &str, port_host: &str) -> anyhow::Result<String> {
    let req = ks
        .request(Method::GET, "/v3/auth/tokens")
        .header("x-auth-token", token)
        .header("x-subject-token", token)
        .body(Body::default())?;
    let reply = disk::send(ks, req).await?;
    if !reply.status.is_success() {
        bail!("validating the token answered {}", reply.status);
    }
    let v: serde_json::Value = serde_json::from_slice(&reply.head)?;
    let project = v["token"]["project"]["id"]
        .as_str()
        .context("the token is not project-scoped")?;
    Ok(format!("http://{port_host}:8080/v1/AUTH_{project}"))
}

/// Runs the suite and returns the numbers.
pub async fn measure(args: &ObjectArgs) -> anyhow::Result<ObjectResults> {
    if args.drop_caches {
        // Before the 4 KiB phases, not after them.
        disk::check_drop_caches()?;
    }
    let (ks, token) = identity::log_in(
        &args.login,
        args.identity_url.as_deref(),
        args.state_dir.as_deref(),
        args.allow_remote,
    )
    .await?;
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
    let reply = disk::send(
        &swift,
        simple(&swift, Method::PUT, &container, &token, Bytes::new())?,
    )
    .await?;
    if !reply.status.is_success() {
        bail!(
            "PUT {container} answered {}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.head)
        );
    }
    let result = run_phases(args, &swift, &token, &container, pid).await;
    cleanup(&swift, &token, &container).await;
    let (small, disk_small, rounds) = result?;
    Ok(ObjectResults {
        concurrency: args.concurrency,
        small,
        disk_small: Some(disk_small),
        large: LargeResults {
            size_mib: args.size_mib,
            rounds,
            idle_rss_kib: idle,
        },
    })
}

async fn run_phases(
    args: &ObjectArgs,
    swift: &Target,
    token: &str,
    container: &str,
    pid: Option<u32>,
) -> anyhow::Result<(Vec<Phase>, DiskSmall, Vec<disk::Round>)> {
    let config = LoadConfig {
        concurrency: usize::from(args.concurrency),
        duration: Duration::from_secs(args.seconds),
        warmup: Duration::from_secs(args.warmup),
        max_requests: 50_000_000,
        request_timeout: Duration::from_secs(30),
    };
    let small_body = Bytes::from(vec![b'x'; SMALL]);
    let mut small = Vec::new();
    let dir = disk::baseline_dir(args.dir.as_deref(), args.state_dir.as_deref(), "objects");

    let writers = usize::from(args.concurrency);
    eprintln!(
        "disk: durable 4 KiB writes — {} writers, {} s, new files then replacing…",
        args.concurrency, args.seconds
    );
    let disk_small = DiskSmall {
        create: durable_small_writes(&dir, writers, config.duration, false).await?,
        replace: durable_small_writes(&dir, writers, config.duration, true).await?,
    };
    eprintln!(
        "disk: {} durable 4 KiB writes/s (new files), {} (replacing)",
        report::thousands(disk_small.create),
        report::thousands(disk_small.replace)
    );

    for (name, overwrite) in [(PUT_NEW, false), (PUT_OVERWRITE, true)] {
        eprintln!(
            "object: {name} — {} connections, {} s…",
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
                let path = if overwrite {
                    format!("{c}/w{}-{}", ctx.worker, ctx.seq % NAMES_PER_WORKER)
                } else {
                    format!("{c}/n{}-{}", ctx.worker, ctx.seq)
                };
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
            "object: {name}: {} req/s, {} errors",
            report::thousands(put.rate()),
            put.errors.total()
        );
        small.push(Phase {
            name,
            load: put,
            rss,
        });
    }

    for i in 0..GET_OBJECTS {
        let reply = disk::send(
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
        if reply.status.as_u16() != 201 {
            bail!("preparing the GET phase: PUT answered {}", reply.status);
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

    let cfg = RoundConfig {
        dir,
        size_mib: args.size_mib,
        rounds: args.rounds,
        drop_caches: args.drop_caches,
        pid,
    };
    let mut service = Swift {
        target: swift,
        token,
        path: format!("{container}/{LARGE}"),
    };
    let rounds = disk::run_rounds(&cfg, &mut service).await?;
    Ok((small, disk_small, rounds))
}

/// Fan-out directories of the small-write baseline, as the object store
/// has.
const FANS: usize = 256;

/// The disk's own rate of durable small writes: `writers` threads each
/// writing 4 KiB files as a durable PUT must (a new temporary file,
/// fsync, rename into one of 256 directories, fsync of that directory)
/// for `duration`, in a scratch directory under `dir` that is removed
/// afterwards. Returns writes per second.
pub async fn durable_small_writes(
    dir: &std::path::Path,
    writers: usize,
    duration: Duration,
    replace: bool,
) -> anyhow::Result<f64> {
    let scratch = dir.join(format!("oxistack-bench-small-{}", std::process::id()));
    let root = scratch.clone();
    let r =
        tokio::task::spawn_blocking(move || durable_writes_in(&root, writers, duration, replace))
            .await
            .context("small-write baseline thread")?;
    if let Err(e) = std::fs::remove_dir_all(&scratch) {
        eprintln!("warning: removing {}: {e}", scratch.display());
    }
    r
}

fn durable_writes_in(
    root: &std::path::Path,
    writers: usize,
    duration: Duration,
    replace: bool,
) -> anyhow::Result<f64> {
    use std::io::Write;
    let tmp = root.join("tmp");
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let fans: Vec<PathBuf> = (0..FANS).map(|i| root.join(format!("{i:02x}"))).collect();
    for f in &fans {
        std::fs::create_dir_all(f)?;
    }
    let data = vec![b'x'; SMALL];
    let start = std::time::Instant::now();
    let counts = std::thread::scope(|s| {
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let (tmp, fans, data) = (&tmp, &fans, &data);
                s.spawn(move || -> std::io::Result<u64> {
                    let mut n = 0u64;
                    while start.elapsed() < duration {
                        let name = format!("w{w}-{n}");
                        let t = tmp.join(&name);
                        let mut f = std::fs::File::create_new(&t)?;
                        f.write_all(data)?;
                        f.sync_all()?;
                        let fan = &fans[(n as usize * 31 + w * 7) % FANS];
                        std::fs::rename(&t, fan.join(&name))?;
                        std::fs::File::open(fan)?.sync_all()?;
                        if replace && n >= NAMES_PER_WORKER {
                            let old = n - NAMES_PER_WORKER;
                            let old_fan = &fans[(old as usize * 31 + w * 7) % FANS];
                            std::fs::remove_file(old_fan.join(format!("w{w}-{old}")))?;
                        }
                        n += 1;
                    }
                    Ok(n)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("writer panicked")))
            })
            .collect::<std::io::Result<Vec<u64>>>()
    })?;
    let total: u64 = counts.iter().sum();
    Ok(total as f64 / start.elapsed().as_secs_f64().max(1e-9))
}

/// Swift's side of the rounds: one large object, deleted after each round
/// so every round's PUT creates it (never an overwrite of the last one)
/// and the disk holds one copy at a time beside the `dd` file.
struct Swift<'a> {
    target: &'a Target,
    token: &'a str,
    /// `CONTAINER/large`.
    path: String,
}

impl Service for Swift<'_> {
    const UPLOAD: &'static str = "PUT";
    const DOWNLOAD: &'static str = "GET";

    async fn begin_round(&mut self) -> anyhow::Result<()> {
        Ok(())
    }

    async fn upload(&mut self, body: Pattern) -> anyhow::Result<()> {
        let req = Request::builder()
            .method(Method::PUT)
            .uri(self.target.path(&self.path))
            .header(HOST, self.target.authority.as_str())
            .header("x-auth-token", self.token)
            .header(CONTENT_LENGTH, body.remaining())
            .body(body)?;
        let reply = disk::send(self.target, req).await?;
        if reply.status.as_u16() != 201 {
            bail!(
                "large PUT answered {}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.head)
            );
        }
        Ok(())
    }

    async fn download(&mut self) -> anyhow::Result<u64> {
        let reply = disk::fetch(self.target, &self.path, self.token).await?;
        if reply.status.as_u16() != 200 {
            bail!("large GET answered {}", reply.status);
        }
        Ok(reply.len)
    }

    async fn end_round(&mut self) {
        let deleted = async {
            let req = simple(
                self.target,
                Method::DELETE,
                &self.path,
                self.token,
                Bytes::new(),
            )?;
            let reply = disk::send(self.target, req).await?;
            // 404: the PUT never got as far as creating it.
            if !reply.status.is_success() && reply.status.as_u16() != 404 {
                bail!("DELETE answered {}", reply.status);
            }
            Ok::<_, anyhow::Error>(())
        }
        .await;
        if let Err(e) = deleted {
            eprintln!("warning: deleting {}: {e:#}", self.path);
        }
    }
}

/// Deletes everything the run wrote: the container's listing, page by
/// page, through bulk delete (the new-name phase writes as many objects
/// as it managed), then the container.
async fn cleanup(swift: &Target, token: &str, container: &str) {
    // A page of 4,000 names (about 40 KB) fits the 64 KiB of a reply the
    // client keeps, and a bulk delete of it Swift's 10,000-name limit.
    for _ in 0..1_000 {
        let names = match list_page(swift, token, container).await {
            Ok(n) => n,
            Err(e) => {
                eprintln!("warning: listing {container}: {e:#}");
                break;
            }
        };
        if names.is_empty() {
            break;
        }
        let paths: Vec<String> = names.iter().map(|n| format!("{container}/{n}")).collect();
        if let Err(e) = bulk_delete(swift, token, paths).await {
            eprintln!("warning: cleaning up {container}: {e:#}");
            break;
        }
    }
    if let Err(e) = bulk_delete(swift, token, vec![container.to_string()]).await {
        eprintln!("warning: deleting {container}: {e:#}");
    }
}

async fn list_page(swift: &Target, token: &str, container: &str) -> anyhow::Result<Vec<String>> {
    let req = swift
        .request(Method::GET, &format!("{container}?format=plain&limit=4000"))
        .header("x-auth-token", token)
        .body(Body::default())?;
    let reply = disk::send(swift, req).await?;
    if reply.status.as_u16() == 204 {
        return Ok(Vec::new());
    }
    if !reply.status.is_success() {
        bail!("GET {container} answered {}", reply.status);
    }
    Ok(String::from_utf8_lossy(&reply.head)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

async fn bulk_delete(swift: &Target, token: &str, paths: Vec<String>) -> anyhow::Result<()> {
    // The bench's names need no percent-encoding (letters, digits, `-`).
    let body = Bytes::from(paths.join("\n"));
    let req = swift
        .request(Method::POST, "?bulk-delete")
        .header("x-auth-token", token)
        .header("content-type", "text/plain")
        .header(CONTENT_LENGTH, body.len())
        .body(Body::new(body))?;
    let reply = disk::send(swift, req).await?;
    if !reply.status.is_success() {
        bail!("bulk delete answered {}", reply.status);
    }
    Ok(())
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
            disk::rss_text(p.rss.as_ref().map(|s| s.max_rss_kib), r.large.idle_rss_kib),
        ]);
    }
    if let Some(d) = r.disk_small {
        for (what, rate) in [
            ("new files", d.create),
            ("each replacing an earlier one", d.replace),
        ] {
            small.row([
                format!(
                    "disk: durable 4 KiB writes, {what} ({} writers: temp file, fsync, rename, fsync of the directory)",
                    r.concurrency
                ),
                "—".into(),
                report::thousands(rate),
                "—".into(),
                "—".into(),
                "—".into(),
                "—".into(),
            ]);
        }
    }
    let mut put_vs_disk = String::new();
    if let Some(d) = r.disk_small {
        for (phase, floor, what) in [
            (PUT_NEW, d.create, "new files"),
            (PUT_OVERWRITE, d.replace, "replacing writes"),
        ] {
            if let Some(p) = r.small.iter().find(|p| p.name == phase) {
                if floor > 0.0 {
                    put_vs_disk.push_str(&format!(
                        "{phase} at {:.0} % of the disk's durable 4 KiB write rate ({what})\n",
                        100.0 * p.load.rate() / floor
                    ));
                }
            }
        }
    }
    let size = r.large.size_mib;
    let large = disk::table(
        &r.large,
        &format!("PUT {size} MiB"),
        &format!("GET {size} MiB"),
    );
    let summary = disk::summary(&r.large);
    format!(
        "object suite\n\n{}{put_vs_disk}\n{summary}\n\n{}\n```\n{command_line}\n```\n\n{}\n{}{put_vs_disk}\n{summary}\n\n{}",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::tests::rounds;
    use crate::histogram::Histogram;

    #[test]
    fn report_of_rounds_without_cold_reads() {
        let mut latency = Histogram::new();
        for _ in 0..1000 {
            latency.record_duration(Duration::from_micros(1_380));
        }
        let load = LoadReport {
            concurrency: 8,
            elapsed: Duration::from_secs(10),
            ok: 55_890,
            latency,
            errors: load::Errors::default(),
            bytes_sent: 0,
            bytes_received: 55_890 * SMALL as u64,
            connections: 8,
            warmup_requests: 0,
        };
        let r = ObjectResults {
            concurrency: 8,
            disk_small: None,
            small: vec![Phase {
                name: "4 KiB GET",
                load,
                rss: None,
            }],
            large: LargeResults {
                size_mib: 2048,
                rounds: rounds(
                    &[
                        (336.0, 7000.0, None, 265.0, 1626.0, None),
                        (360.0, 7400.0, None, 301.0, 1500.0, None),
                        (320.0, 7222.0, None, 250.0, 1700.0, None),
                        (400.0, 6800.0, None, 320.0, 1600.0, None),
                    ],
                    48 * 1024,
                ),
                idle_rss_kib: Some(30 * 1024),
            },
        };
        let out = render(&r, "oxistack bench object --rounds 4");
        assert!(out.contains(
            "| 4 KiB GET (8 connections) | 55,890 | 5,589 | 1.38 ms | 1.38 ms | 0 | n/a |\n"
        ));
        assert_eq!(
            out.matches(
                "2048 MiB transfers, 4 rounds (dd, then the service, in each): \
                 MiB/s are medians, min–max beside them, ratios are median over median"
            )
            .count(),
            2
        );
        // Even count: medians are the means of the middle two. PUT (265 +
        // 301) / 2 = 283 against dd (336 + 360) / 2 = 348 → 81 %.
        assert!(out.contains(
            "| PUT 2048 MiB | 283 | 250–320 | write, fsync: 348 MiB/s (320–400) | 81 % \
             | ≥ 80 %, RSS ≤ idle + 64.0 MiB | 48.0 MiB (30.0 MiB) | pass |\n"
        ));
        // No cold figures: the page-cache GET is all there is, and judged.
        assert!(out.contains(
            "| GET 2048 MiB | 1613 | 1500–1700 | read, page cache: 7111 MiB/s (6800–7400) \
             | 23 % | ≥ 80 %, RSS ≤ idle + 64.0 MiB | 49.0 MiB (30.0 MiB) \
             | throughput missed, RSS pass |\n"
        ));
        assert!(!out.contains("cold cache"));
        assert!(!out.contains("info (page cache)"));
    }

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: ObjectArgs,
    }

    #[test]
    fn rounds_and_drop_caches_options() {
        use clap::Parser as _;
        let a = Cli::try_parse_from(["object"]).unwrap().args;
        assert_eq!((a.rounds, a.drop_caches), (3, false));
        let a = Cli::try_parse_from(["object", "--rounds", "5", "--drop-caches"])
            .unwrap()
            .args;
        assert_eq!((a.rounds, a.drop_caches), (5, true));
        assert!(Cli::try_parse_from(["object", "--rounds", "0"]).is_err());
    }
}

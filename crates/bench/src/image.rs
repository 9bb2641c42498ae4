//! `oxistack bench image`: Glance data throughput against the disk's own.
//!
//! Runs `--rounds` rounds (default 3); each round:
//!
//! 1. creates a raw/bare image;
//! 2. baseline: `dd` writes `--size-mib` MiB of zeros to a file in `--dir`
//!    (default: the state directory's `images/`, the disk images live on)
//!    with `conv=fsync`, then reads it back to `/dev/null`; with
//!    `--drop-caches` (root) the read is repeated from a cold page cache.
//!    The file is removed;
//! 3. upload: `PUT /v2/images/{id}/file` of the same size, streamed from a
//!    repeated 1 MiB pattern (so the client reads no disk), timed until the
//!    204;
//! 4. download: `GET /v2/images/{id}/file`, counting every byte, and with
//!    `--drop-caches` once more from a cold page cache;
//! 5. deletes the image (also when a step failed).
//!
//! During each transfer it samples the server's `VmRSS` (see
//! [`crate::rss`]), against the idle figure taken before the first round.
//! The report gives medians over the rounds with min–max, ratios of medians,
//! and the verdicts described in [`crate::disk`]: each judged transfer at
//! least 80 % of `dd` on the same disk, and the peak RSS within 64 MiB of
//! idle (the data must stream, not be buffered).

use std::path::PathBuf;

use anyhow::{bail, Context};
use bytes::Bytes;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use hyper::{Method, Request};

use crate::cpu::{self, CpuResults};
use crate::disk::{self, LargeResults, Pattern, RoundConfig, Service};
use crate::identity::{self, Login};
use crate::load::Target;
use crate::report;
use crate::rss;

/// Arguments of `oxistack bench image`.
#[derive(clap::Args, Debug, Clone)]
pub struct ImageArgs {
    /// Glance base URL [default: the Keystone host on port 9292]
    #[arg(long)]
    pub url: Option<String>,

    /// Keystone URL [default: auth_url from --clouds, else http://127.0.0.1:5000]
    #[arg(long)]
    pub identity_url: Option<String>,

    #[command(flatten)]
    pub login: Login,

    /// State directory of `oxistack up`: PID, credentials, and the disk
    /// the baseline `dd` writes to (`DIR/images`)
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// PID of the server, to report its memory
    #[arg(long)]
    pub pid: Option<u32>,

    /// Directory for the `dd` baseline [default: STATE_DIR/images]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Image size in MiB
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub size_mib: u64,

    /// Rounds of `dd` baseline plus upload and download; the report gives
    /// medians over them (the disk is noisy)
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: u32,

    /// Also compare the download from a cold page cache against a cold
    /// `dd` read, and judge downloads on that (writes
    /// /proc/sys/vm/drop_caches: root only)
    #[arg(long)]
    pub drop_caches: bool,

    /// Allow a URL that does not resolve to a loopback address
    #[arg(long)]
    pub allow_remote: bool,
}

fn json_request(
    target: &Target,
    method: Method,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<Request<http_body_util::Full<Bytes>>> {
    let b = Bytes::from(body.map(|b| b.to_string()).unwrap_or_default());
    Ok(Request::builder()
        .method(method)
        .uri(target.path(path))
        .header(HOST, target.authority.as_str())
        .header("x-auth-token", token)
        .header(CONTENT_TYPE, "application/json")
        .body(http_body_util::Full::new(b))?)
}

/// Glance's side of the rounds: a fresh image per round, since an image
/// takes its data only once.
struct Glance<'a> {
    target: &'a Target,
    token: &'a str,
    /// The image of the current round.
    id: Option<String>,
}

impl Glance<'_> {
    fn image_id(&self) -> anyhow::Result<&str> {
        self.id
            .as_deref()
            .context("no image created for this round")
    }
}

impl Service for Glance<'_> {
    const UPLOAD: &'static str = "upload";
    const DOWNLOAD: &'static str = "download";

    async fn begin_round(&mut self) -> anyhow::Result<()> {
        let req = json_request(
            self.target,
            Method::POST,
            "/v2/images",
            self.token,
            Some(serde_json::json!({
                "name": "oxistack-bench",
                "disk_format": "raw",
                "container_format": "bare",
            })),
        )?;
        let reply = disk::send(self.target, req).await?;
        if reply.status.as_u16() != 201 {
            bail!(
                "POST /v2/images answered {}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.head)
            );
        }
        let created: serde_json::Value = serde_json::from_slice(&reply.head)?;
        let id = created["id"].as_str().context("no image id")?;
        self.id = Some(id.to_string());
        Ok(())
    }

    async fn upload(&mut self, body: Pattern) -> anyhow::Result<()> {
        let req = Request::builder()
            .method(Method::PUT)
            .uri(
                self.target
                    .path(&format!("/v2/images/{}/file", self.image_id()?)),
            )
            .header(HOST, self.target.authority.as_str())
            .header("x-auth-token", self.token)
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, body.remaining())
            .body(body)?;
        let reply = disk::send(self.target, req).await?;
        if reply.status.as_u16() != 204 {
            bail!(
                "upload answered {}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.head)
            );
        }
        Ok(())
    }

    async fn download(&mut self) -> anyhow::Result<u64> {
        let path = format!("/v2/images/{}/file", self.image_id()?);
        let reply = disk::fetch(self.target, &path, self.token).await?;
        if reply.status.as_u16() != 200 {
            bail!("download answered {}", reply.status);
        }
        Ok(reply.len)
    }

    async fn end_round(&mut self) {
        let Some(id) = self.id.take() else {
            return;
        };
        let deleted = async {
            let path = format!("/v2/images/{id}");
            let req = json_request(self.target, Method::DELETE, &path, self.token, None)?;
            let reply = disk::send(self.target, req).await?;
            if !reply.status.is_success() {
                bail!("DELETE answered {}", reply.status);
            }
            Ok::<_, anyhow::Error>(())
        }
        .await;
        if let Err(e) = deleted {
            eprintln!("warning: deleting image {id}: {e:#}");
        }
    }
}

/// Server CPU-seconds per GiB uploaded that the suite aims at.
pub const CPU_TARGET: f64 = 4.5;

/// Runs the suite and returns the numbers: the rounds against `dd`, and
/// (when the server's PID is known) the CPU rounds.
pub async fn measure(args: &ImageArgs) -> anyhow::Result<(LargeResults, Option<CpuResults>)> {
    if args.drop_caches {
        // Before anything is written or measured.
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
        None => format!("http://{}:9292", ks.addr.ip()),
    };
    let glance = Target::resolve(&url, args.allow_remote).await?;
    let pid = rss::resolve_pid(args.pid, args.state_dir.as_deref())?;
    let idle = match pid {
        Some(p) => Some(rss::read(p).await?.rss_kib),
        None => None,
    };
    let cfg = RoundConfig {
        // The baseline runs on the disk the images live on.
        dir: disk::baseline_dir(args.dir.as_deref(), args.state_dir.as_deref(), "images"),
        size_mib: args.size_mib,
        rounds: args.rounds,
        drop_caches: args.drop_caches,
        pid,
    };
    let mut service = Glance {
        target: &glance,
        token: &token,
        id: None,
    };
    let rounds = disk::run_rounds(&cfg, &mut service).await?;
    let cpu = match pid {
        Some(pid) => Some(measure_cpu(&cfg, &mut service, pid).await?),
        None => None,
    };
    Ok((
        LargeResults {
            size_mib: args.size_mib,
            rounds,
            idle_rss_kib: idle,
        },
        cpu,
    ))
}

/// The CPU rounds (see [`crate::cpu`]): in each, one upload by the bench's
/// client, one by `curl -T` of a file holding the same bytes, and the
/// `openssl dgst` floor over that file.
async fn measure_cpu(
    cfg: &RoundConfig,
    glance: &mut Glance<'_>,
    pid: u32,
) -> anyhow::Result<CpuResults> {
    let bytes = cfg.size_mib << 20;
    let file = cfg.dir.join("oxistack-bench-cpu.bin");
    write_pattern_file(&file, bytes).await?;
    let r = cpu_rounds(cfg, glance, pid, &file, bytes).await;
    if let Err(e) = tokio::fs::remove_file(&file).await {
        eprintln!("warning: removing {}: {e}", file.display());
    }
    r
}

async fn cpu_rounds(
    cfg: &RoundConfig,
    glance: &mut Glance<'_>,
    pid: u32,
    file: &std::path::Path,
    bytes: u64,
) -> anyhow::Result<CpuResults> {
    let mut out = CpuResults {
        target: CPU_TARGET,
        ..CpuResults::default()
    };
    for round in 1..=cfg.rounds {
        eprintln!("cpu round {round}/{}", cfg.rounds);
        glance.begin_round().await?;
        let s = cpu::measure(pid, bytes, || glance.upload(Pattern::new(bytes))).await;
        glance.end_round().await;
        out.bench.push(s?);

        glance.begin_round().await?;
        let url = format!(
            "http://{}{}",
            glance.target.authority,
            glance
                .target
                .path(&format!("/v2/images/{}/file", glance.image_id()?))
        );
        let headers = [
            ("X-Auth-Token", glance.token),
            ("Content-Type", "application/octet-stream"),
        ];
        let s = cpu::measure(pid, bytes, || cpu::curl_upload(file, &url, &headers, 204)).await;
        glance.end_round().await;
        out.curl.push(s?);

        out.floor.push(cpu::openssl_floor(file, bytes).await?);
    }
    Ok(out)
}

/// Writes `bytes` of the upload pattern to `path` (and so into the page
/// cache, where curl and openssl read it from).
async fn write_pattern_file(path: &std::path::Path, bytes: u64) -> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut f = tokio::fs::File::create(path)
        .await
        .with_context(|| format!("creating {}", path.display()))?;
    let mut body = Pattern::new(bytes);
    while let Some(chunk) = body.next_chunk() {
        f.write_all(&chunk).await?;
    }
    f.flush().await?;
    Ok(())
}

/// The report: text table and the Markdown block for `BENCHMARKS.md`.
pub fn render(r: &LargeResults, command_line: &str) -> String {
    let table = disk::table(r, "upload (PUT …/file)", "download (GET …/file)");
    let summary = disk::summary(r);
    format!(
        "image suite: {summary}\n\n{}\n```\n{command_line}\n```\n\n{}\n{summary}\n\n{}",
        table.to_text(),
        report::machine(),
        table.to_markdown()
    )
}

/// The CPU report: text table and the Markdown block.
pub fn render_cpu(r: &CpuResults, size_mib: u64) -> String {
    let table = cpu::table(r);
    let what = format!(
        "server CPU per GiB uploaded ({size_mib} MiB uploads, {} rounds, medians; \
         utime + stime of the server process)",
        r.bench.len()
    );
    format!(
        "{what}\n\n{}\n{what}\n\n{}",
        table.to_text(),
        table.to_markdown()
    )
}

pub async fn run(args: ImageArgs) -> anyhow::Result<()> {
    let cmd = report::command_line(std::env::args());
    let (r, cpu) = measure(&args).await?;
    println!("{}", render(&r, &cmd));
    match cpu {
        Some(c) => println!("\n{}", render_cpu(&c, args.size_mib)),
        None => {
            println!("\n(no server PID known: CPU per GiB not measured; pass --pid or --state-dir)")
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::tests::rounds;

    #[test]
    fn report_of_three_rounds_with_cold_reads() {
        let r = LargeResults {
            size_mib: 1024,
            rounds: rounds(
                &[
                    (314.0, 5000.0, Some(800.0), 260.0, 1600.0, Some(700.0)),
                    (550.0, 5400.0, Some(900.0), 410.0, 1700.0, Some(760.0)),
                    (400.0, 5200.0, Some(850.0), 300.0, 1650.0, Some(690.0)),
                ],
                40 * 1024,
            ),
            idle_rss_kib: Some(30 * 1024),
        };
        let out = render(&r, "oxistack bench image --rounds 3 --drop-caches");
        assert!(out.starts_with(
            "image suite: 1024 MiB transfers, 3 rounds (dd, then the service, in each): \
             MiB/s are medians, min–max beside them, ratios are median over median\n\n"
        ));
        assert!(out.contains("```\noxistack bench image --rounds 3 --drop-caches\n```\n"));
        // Upload: median 300 against median dd write 400 → 75 %.
        assert!(out.contains(
            "| upload (PUT …/file) | 300 | 260–410 | write, fsync: 400 MiB/s (314–550) | 75 % \
             | ≥ 80 %, RSS ≤ idle + 64.0 MiB | 40.0 MiB (30.0 MiB) | throughput missed, RSS pass |\n"
        ));
        // The page-cache download is information only …
        assert!(out.contains(
            "| download (GET …/file) | 1650 | 1600–1700 | read, page cache: 5200 MiB/s (5000–5400) \
             | 32 % | ≥ 80 %, RSS ≤ idle + 64.0 MiB | 41.0 MiB (30.0 MiB) | info (page cache) |\n"
        ));
        // … the cold one is judged: 700 against 850 → 82 %.
        assert!(out.contains(
            "| download (GET …/file), cold cache | 700 | 690–760 | read, cold cache: 850 MiB/s (800–900) \
             | 82 % | ≥ 80 %, RSS ≤ idle + 64.0 MiB | 42.0 MiB (30.0 MiB) | pass |\n"
        ));
        // The text table carries the same rows.
        let text_row = out
            .lines()
            .find(|l| l.starts_with("download (GET …/file), cold cache"))
            .unwrap();
        assert!(
            text_row.contains("700") && text_row.ends_with("pass"),
            "{text_row}"
        );
        assert_eq!(out.matches("upload (PUT …/file)").count(), 2);
        assert!(out.contains(
            "\n| transfer | MiB/s (median) | min–max | dd on the same disk (median, min–max) \
             | ratio of medians | target | peak RSS (idle) | verdict |\n"
        ));
        // The Markdown block says what the numbers are, too.
        assert_eq!(
            out.matches("3 rounds (dd, then the service, in each)")
                .count(),
            2
        );
    }

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: ImageArgs,
    }

    #[test]
    fn rounds_and_drop_caches_options() {
        use clap::Parser as _;
        let a = Cli::try_parse_from(["image"]).unwrap().args;
        assert_eq!((a.rounds, a.drop_caches), (3, false));
        let a = Cli::try_parse_from(["image", "--rounds", "5", "--drop-caches"])
            .unwrap()
            .args;
        assert_eq!((a.rounds, a.drop_caches), (5, true));
        assert!(Cli::try_parse_from(["image", "--rounds", "0"]).is_err());
    }
}

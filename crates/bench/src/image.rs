//! `oxistack bench image`: Glance data throughput against the disk's own.
//!
//! 1. Baseline: `dd` writes `--size-mib` MiB of zeros to a file in `--dir`
//!    (default: the state directory's `images/`, the disk images live on)
//!    with `conv=fsync`, then reads it back to `/dev/null`; the file is
//!    removed.
//! 2. Upload: a new raw/bare image, `PUT /v2/images/{id}/file` of the same
//!    size, streamed from a repeated 1 MiB pattern (so the client reads no
//!    disk), timed until the 204.
//! 3. Download: `GET /v2/images/{id}/file`, counting every byte.
//! 4. The image is deleted.
//!
//! Around the transfers it samples the server's `VmRSS` (see
//! [`crate::rss`]): idle before, peak during each transfer. Targets: each
//! transfer at least 80 % of `dd` on the same disk, and the peak RSS within
//! 64 MiB of idle (the data must stream, not be buffered).

use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context as TaskCx, Poll};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper::client::conn::http1;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

use crate::identity::{self, IdentityArgs};
use crate::load::Target;
use crate::report::{self, Table};
use crate::rss::{self, RssSummary};

/// Transfer throughput target, as a fraction of `dd` on the same disk.
pub const THROUGHPUT_GOAL: f64 = 0.80;
/// Allowed growth of the server's RSS over idle during a transfer, KiB.
pub const RSS_GROWTH_GOAL_KIB: u64 = 64 * 1024;
const PATTERN_LEN: usize = 1 << 20;

/// Arguments of `oxistack bench image`.
#[derive(clap::Args, Debug, Clone)]
pub struct ImageArgs {
    /// Glance base URL [default: the Keystone host on port 9292]
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

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct ImageResults {
    pub size_mib: u64,
    pub dd_write: Transfer,
    pub dd_read: Transfer,
    pub upload: Transfer,
    pub download: Transfer,
    pub idle_rss_kib: Option<u64>,
}

/// A body of `left` bytes made of one repeated buffer: the client costs
/// next to nothing and reads no disk.
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

async fn send<B>(
    target: &Target,
    req: Request<B>,
) -> anyhow::Result<(hyper::StatusCode, u64, Bytes)>
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
    Ok((status, len, Bytes::from(head)))
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

/// Runs the suite and returns the numbers.
pub async fn measure(args: &ImageArgs) -> anyhow::Result<ImageResults> {
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
        None => format!("http://{}:9292", ks.addr.ip()),
    };
    let glance = Target::resolve(&url, args.allow_remote).await?;
    let pid = rss::resolve_pid(args.pid, args.state_dir.as_deref())?;
    let size = args.size_mib << 20;

    // Baseline on the disk the images live on.
    let dir = match (&args.dir, &args.state_dir) {
        (Some(d), _) => d.clone(),
        (None, Some(s)) => s.join("images"),
        (None, None) => std::env::temp_dir(),
    };
    let file = dir.join(format!("bench-dd-{}.tmp", std::process::id()));
    let of = format!("of={}", file.display());
    let count = format!("count={}", args.size_mib);
    let w = dd(&[
        "if=/dev/zero".into(),
        of,
        "bs=1M".into(),
        count,
        "conv=fsync".into(),
        "status=none".into(),
    ])
    .await;
    let r = match &w {
        Ok(_) => {
            dd(&[
                format!("if={}", file.display()),
                "of=/dev/null".into(),
                "bs=1M".into(),
                "status=none".into(),
            ])
            .await
        }
        Err(_) => Ok(Duration::ZERO),
    };
    let _ = std::fs::remove_file(&file);
    let (dd_write, dd_read) = (w?, r?);
    eprintln!(
        "dd: write {:.0} MiB/s, read {:.0} MiB/s",
        args.size_mib as f64 / dd_write.as_secs_f64(),
        args.size_mib as f64 / dd_read.as_secs_f64()
    );

    let idle = match pid {
        Some(p) => Some(rss::read(p).await?.rss_kib),
        None => None,
    };
    let (status, _, body) = send(
        &glance,
        json_request(&glance, Method::POST, "/v2/images", &token,
                     Some(serde_json::json!({"name": "oxistack-bench", "disk_format": "raw", "container_format": "bare"})))?,
    )
    .await?;
    if status.as_u16() != 201 {
        bail!(
            "POST /v2/images answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let created: serde_json::Value = serde_json::from_slice(&body)?;
    let id = created["id"].as_str().context("no image id")?.to_string();
    let result = async {
        let pattern: Vec<u8> = (0..PATTERN_LEN).map(|i| (i * 31 % 251) as u8).collect();
        let body = Pattern {
            chunk: Bytes::from(pattern),
            left: size,
        };
        let req = Request::builder()
            .method(Method::PUT)
            .uri(glance.path(&format!("/v2/images/{id}/file")))
            .header(HOST, glance.authority.as_str())
            .header("x-auth-token", token.as_str())
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, size)
            .body(body)?;
        let started = Instant::now();
        let ((status, _, body), up_rss) = sampled(pid, send(&glance, req)).await?;
        let up = started.elapsed();
        if status.as_u16() != 204 {
            bail!(
                "upload answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        eprintln!(
            "upload: {:.0} MiB/s",
            args.size_mib as f64 / up.as_secs_f64()
        );
        let req = json_request(
            &glance,
            Method::GET,
            &format!("/v2/images/{id}/file"),
            &token,
            None,
        )?;
        let started = Instant::now();
        let ((status, len, _), down_rss) = sampled(pid, send(&glance, req)).await?;
        let down = started.elapsed();
        if status.as_u16() != 200 || len != size {
            bail!("download answered {status} with {len} bytes, want {size}");
        }
        eprintln!(
            "download: {:.0} MiB/s",
            args.size_mib as f64 / down.as_secs_f64()
        );
        Ok((
            Transfer {
                bytes: size,
                elapsed: up,
                rss: up_rss,
            },
            Transfer {
                bytes: size,
                elapsed: down,
                rss: down_rss,
            },
        ))
    }
    .await;
    let _ = send(
        &glance,
        json_request(
            &glance,
            Method::DELETE,
            &format!("/v2/images/{id}"),
            &token,
            None,
        )?,
    )
    .await;
    let (upload, download) = result?;
    Ok(ImageResults {
        size_mib: args.size_mib,
        dd_write: Transfer {
            bytes: size,
            elapsed: dd_write,
            rss: None,
        },
        dd_read: Transfer {
            bytes: size,
            elapsed: dd_read,
            rss: None,
        },
        upload,
        download,
        idle_rss_kib: idle,
    })
}

/// The report: text table and the Markdown block for `BENCHMARKS.md`.
pub fn render(r: &ImageResults, command_line: &str) -> String {
    let mut table = Table::new([
        "transfer",
        "MiB/s",
        "dd on the same disk",
        "ratio",
        "target",
        "peak RSS (idle)",
        "verdict",
    ]);
    for (name, t, base) in [
        ("upload (PUT …/file)", &r.upload, &r.dd_write),
        ("download (GET …/file)", &r.download, &r.dd_read),
    ] {
        let ratio = t.rate() / base.rate().max(1e-9);
        let rss_ok = match (&t.rss, r.idle_rss_kib) {
            (Some(s), Some(idle)) => s.max_rss_kib <= idle + RSS_GROWTH_GOAL_KIB,
            _ => true,
        };
        let rss_text = match (&t.rss, r.idle_rss_kib) {
            (Some(s), Some(idle)) => {
                format!("{} ({})", report::mib(s.max_rss_kib), report::mib(idle))
            }
            _ => "n/a".into(),
        };
        table.row([
            name.to_string(),
            format!("{:.0}", t.rate()),
            format!("{:.0} MiB/s", base.rate()),
            format!("{:.0} %", ratio * 100.0),
            format!(
                "≥ {:.0} %, RSS ≤ idle + {}",
                THROUGHPUT_GOAL * 100.0,
                report::mib(RSS_GROWTH_GOAL_KIB)
            ),
            rss_text,
            if ratio >= THROUGHPUT_GOAL && rss_ok {
                "ok".into()
            } else {
                "MISSED".to_string()
            },
        ]);
    }
    format!(
        "image suite: {} MiB image\n\n{}\n```\n{command_line}\n```\n\n{}\n{}",
        r.size_mib,
        table.to_text(),
        report::machine(),
        table.to_markdown()
    )
}

pub async fn run(args: ImageArgs) -> anyhow::Result<()> {
    let cmd = report::command_line(std::env::args());
    let r = measure(&args).await?;
    println!("{}", render(&r, &cmd));
    Ok(())
}

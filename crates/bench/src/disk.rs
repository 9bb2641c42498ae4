//! The large-transfer comparison the image and object suites share: one big
//! upload and download through the service against `dd` on the disk the
//! service stores the data on, repeated in rounds because that disk is noisy.
//!
//! This module owns:
//!
//! * the `dd` baseline ([`baseline`]): write `--size-mib` MiB of zeros with
//!   `conv=fsync`, read the file back to `/dev/null` (from the page cache),
//!   and with `--drop-caches` read it once more from a cold page cache; the
//!   file is removed whatever happened;
//! * emptying the page cache ([`drop_caches`], root only);
//! * the client side of a transfer: [`Pattern`] (a request body that costs
//!   the client no disk), [`send`] (one request on a fresh connection),
//!   [`fetch`] (a large download read as cheaply as `dd` reads a file),
//!   [`sampled`] (the server's RSS around it) and [`Transfer`] (bytes, time,
//!   RSS);
//! * the rounds ([`run_rounds`]): each round is the `dd` baseline
//!   immediately followed by the service's upload, download and (with
//!   `--drop-caches`) cold download, so both sides meet the disk in the same
//!   mood; a suite plugs in its requests through [`Service`];
//! * the summary: [`Spread`] (median, min, max over the rounds), the
//!   [`Comparison`] rows with ratios of medians and verdicts, and the
//!   [`table`] both reports print.
//!
//! Why rounds: on these machines `dd if=/dev/zero bs=1M count=1024
//! conv=fsync` measured anywhere from 314 to 550 MiB/s minutes apart, so one
//! `dd` against one upload says little. Medians of paired rounds are much
//! steadier, and min–max shows how much the disk moved.
//!
//! What is judged: uploads against the median `dd` write. Downloads against
//! the median cold `dd` read when `--drop-caches` was given (a read "from the
//! same disk" means from the disk, not from the page cache); the page-cache
//! row then stays in the table as information. Without `--drop-caches` the
//! page-cache row is all there is and is judged. On every row the peak RSS
//! over all rounds must stay within [`RSS_GROWTH_GOAL_KIB`] of idle (the data
//! must stream, not be buffered).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context as TaskCx, Poll};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;

use crate::load::Target;
use crate::report::{self, Table};
use crate::rss::{self, RssSummary};

/// Large-transfer target, as a fraction of `dd` on the same disk.
pub const THROUGHPUT_GOAL: f64 = 0.80;
/// Allowed growth of the server's RSS over idle while streaming, KiB.
pub const RSS_GROWTH_GOAL_KIB: u64 = 64 * 1024;
/// Length of the buffer a [`Pattern`] repeats.
const PATTERN_LEN: usize = 1 << 20;
/// How many bytes of a response [`send`] keeps.
const KEEP_HEAD: usize = 64 * 1024;
const DROP_CACHES: &str = "/proc/sys/vm/drop_caches";
const MIB: f64 = (1u64 << 20) as f64;

/// One timed transfer.
#[derive(Debug, Clone)]
pub struct Transfer {
    pub bytes: u64,
    pub elapsed: Duration,
    /// The server's memory during the transfer (`None` for `dd`, or when
    /// no PID is known).
    pub rss: Option<RssSummary>,
}

impl Transfer {
    /// MiB/s.
    pub fn rate(&self) -> f64 {
        self.bytes as f64 / MIB / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A body of `left` bytes made of one repeated buffer: the client costs
/// next to nothing and reads no disk.
pub struct Pattern {
    chunk: Bytes,
    left: u64,
}

impl Pattern {
    /// `len` bytes of a repeated 1 MiB pattern (not zeros, so nothing on
    /// the way can shortcut them).
    pub fn new(len: u64) -> Self {
        let pattern: Vec<u8> = (0..PATTERN_LEN).map(|i| (i * 31 % 251) as u8).collect();
        Self {
            chunk: Bytes::from(pattern),
            left: len,
        }
    }

    /// Bytes still to be sent (the `Content-Length` before sending).
    pub fn remaining(&self) -> u64 {
        self.left
    }

    /// The next piece (at most the pattern's length), `None` at the end.
    pub fn next_chunk(&mut self) -> Option<Bytes> {
        if self.left == 0 {
            return None;
        }
        let n = self.left.min(self.chunk.len() as u64) as usize;
        self.left -= n as u64;
        Some(self.chunk.slice(..n))
    }
}

impl hyper::body::Body for Pattern {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut TaskCx<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.next_chunk().map(|c| Ok(Frame::data(c))))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.left)
    }
}

/// What [`send`] got back.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: hyper::StatusCode,
    /// Every byte of the body was read and counted.
    pub len: u64,
    /// The first 64 KiB of the body, for JSON answers and error messages.
    pub head: Bytes,
}

/// One request on a fresh connection, reading the whole response body.
///
/// A fresh connection per transfer keeps one transfer from inheriting the
/// state (buffers, congestion window) of the one before.
pub async fn send<B>(target: &Target, req: Request<B>) -> anyhow::Result<Reply>
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
            if head.len() < KEEP_HEAD {
                let take = data.len().min(KEEP_HEAD - head.len());
                head.extend_from_slice(&data[..take]);
            }
        }
    }
    driver.abort();
    Ok(Reply {
        status,
        len,
        head: Bytes::from(head),
    })
}

/// A large `GET` read the way `dd … of=/dev/null` reads a file: a plain
/// HTTP/1.1 request on a blocking socket, then the body straight from the
/// socket into one reused 1 MiB buffer and counted. The server shares the
/// machine's cores with its client, so the client must cost as little as
/// `dd` does; hyper's client hands every chunk from its connection task to
/// the body over a channel, which cost a third of the measured throughput.
/// The response must carry `Content-Length` (both services' data answers
/// do).
pub async fn fetch(target: &Target, path: &str, token: &str) -> anyhow::Result<Reply> {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nX-Auth-Token: {token}\r\nConnection: close\r\n\r\n",
        target.path(path),
        target.authority
    );
    let addr = target.addr;
    tokio::task::spawn_blocking(move || fetch_blocking(addr, request.as_bytes()))
        .await
        .context("fetch thread")?
}

fn fetch_blocking(addr: std::net::SocketAddr, request: &[u8]) -> anyhow::Result<Reply> {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect(addr).with_context(|| format!("connect to {addr}"))?;
    stream.set_nodelay(true)?;
    stream.write_all(request)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut filled = 0;
    let header_end = loop {
        let n = stream.read(&mut buf[filled..])?;
        if n == 0 {
            bail!("connection closed before the response headers ended");
        }
        filled += n;
        if let Some(i) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if filled == buf.len() {
            bail!("response headers longer than {} bytes", buf.len());
        }
    };
    let (status, length) = parse_head(&buf[..header_end])?;
    let mut head = buf[header_end..filled].to_vec();
    head.truncate(KEEP_HEAD);
    let mut len = (filled - header_end) as u64;
    while len < length {
        let want = usize::try_from(length - len)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = stream.read(&mut buf[..want])?;
        if n == 0 {
            bail!("connection closed after {len} of {length} body bytes");
        }
        if head.len() < KEEP_HEAD {
            let take = n.min(KEEP_HEAD - head.len());
            head.extend_from_slice(&buf[..take]);
        }
        len += n as u64;
    }
    Ok(Reply {
        status,
        len,
        head: Bytes::from(head),
    })
}

/// Status and `Content-Length` of a response head.
fn parse_head(head: &[u8]) -> anyhow::Result<(hyper::StatusCode, u64)> {
    let text = std::str::from_utf8(head).context("response head is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .and_then(|c| hyper::StatusCode::from_u16(c).ok())
        .context("no status in the response")?;
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<u64>().ok())
        .context("the response has no Content-Length")?;
    Ok((status, length))
}

/// Runs `f` while sampling the RSS of `pid` (if known).
pub async fn sampled<F, T>(pid: Option<u32>, f: F) -> anyhow::Result<(T, Option<RssSummary>)>
where
    F: Future<Output = anyhow::Result<T>>,
{
    let sampler = pid.map(|p| rss::Sampler::start(p, rss::SAMPLE_EVERY));
    let r = f.await;
    // Stop the sampler even when `f` failed, so its task does not outlive us.
    let summary = match sampler {
        Some(s) => Some(s.finish().await),
        None => None,
    };
    Ok((r?, summary))
}

/// Where the `dd` file goes: `--dir`, else `STATE_DIR/<sub>` (the directory
/// the service keeps this kind of data in), else the temporary directory.
pub fn baseline_dir(dir: Option<&Path>, state_dir: Option<&Path>, sub: &str) -> PathBuf {
    match (dir, state_dir) {
        (Some(d), _) => d.to_path_buf(),
        (None, Some(s)) => s.join(sub),
        (None, None) => std::env::temp_dir(),
    }
}

/// Fails early, before anything is measured, if [`drop_caches`] could not
/// work (not root). Opening for writing writes nothing, so the cache stays.
pub fn check_drop_caches() -> anyhow::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(DROP_CACHES)
        .map(drop)
        .with_context(|| format!("--drop-caches needs to write {DROP_CACHES} (root only)"))
}

/// Empties the page cache, so the next read comes from the disk.
pub async fn drop_caches() -> anyhow::Result<()> {
    // Dirty pages first, or they stay cached.
    let status = tokio::process::Command::new("sync")
        .status()
        .await
        .context("running sync")?;
    if !status.success() {
        bail!("sync failed");
    }
    std::fs::write(DROP_CACHES, "3\n")
        .with_context(|| format!("writing {DROP_CACHES} (needs root)"))
}

/// Runs `dd` with these operands and times it.
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

/// One `dd` baseline.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// `dd if=/dev/zero … conv=fsync`.
    pub write: Transfer,
    /// The file back to `/dev/null`, from the page cache.
    pub read: Transfer,
    /// The same after [`drop_caches`], from the disk.
    pub read_cold: Option<Transfer>,
}

/// The `dd` baseline in `dir`: write `size_mib` MiB with `conv=fsync`, read
/// it back, and with `cold` read it again after [`drop_caches`]. The file is
/// removed even when a step failed.
pub async fn baseline(dir: &Path, size_mib: u64, cold: bool) -> anyhow::Result<Baseline> {
    let file = dir.join(format!("bench-dd-{}.tmp", std::process::id()));
    let result = baseline_in(&file, size_mib, cold).await;
    // A failed dd may still have written part of the file.
    match std::fs::remove_file(&file) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => eprintln!("warning: removing {}: {e}", file.display()),
    }
    result
}

async fn baseline_in(file: &Path, size_mib: u64, cold: bool) -> anyhow::Result<Baseline> {
    let bytes = size_mib << 20;
    let timed = |elapsed| Transfer {
        bytes,
        elapsed,
        rss: None,
    };
    let write = dd(&[
        "if=/dev/zero".into(),
        format!("of={}", file.display()),
        "bs=1M".into(),
        format!("count={size_mib}"),
        "conv=fsync".into(),
        "status=none".into(),
    ])
    .await?;
    let read_args = [
        format!("if={}", file.display()),
        "of=/dev/null".into(),
        "bs=1M".into(),
        "status=none".into(),
    ];
    let read = dd(&read_args).await?;
    let read_cold = if cold {
        drop_caches().await?;
        Some(timed(dd(&read_args).await?))
    } else {
        None
    };
    Ok(Baseline {
        write: timed(write),
        read: timed(read),
        read_cold,
    })
}

/// One round: the `dd` baseline and the service's transfers right after it.
#[derive(Debug, Clone)]
pub struct Round {
    pub dd_write: Transfer,
    pub dd_read: Transfer,
    /// With `--drop-caches` only.
    pub dd_read_cold: Option<Transfer>,
    pub upload: Transfer,
    pub download: Transfer,
    /// With `--drop-caches` only.
    pub download_cold: Option<Transfer>,
}

/// Everything the large-transfer rounds measured.
#[derive(Debug, Clone)]
pub struct LargeResults {
    pub size_mib: u64,
    pub rounds: Vec<Round>,
    /// The server's RSS before the suite started, KiB.
    pub idle_rss_kib: Option<u64>,
}

/// How to run the rounds.
#[derive(Debug, Clone)]
pub struct RoundConfig {
    /// Where the `dd` file goes (see [`baseline_dir`]).
    pub dir: PathBuf,
    pub size_mib: u64,
    pub rounds: u32,
    /// Also a cold `dd` read and a cold download in each round.
    pub drop_caches: bool,
    /// The server, to sample its RSS during each transfer.
    pub pid: Option<u32>,
}

/// A suite's requests for [`run_rounds`], which does the timing, the RSS
/// sampling, the length check and the progress lines.
///
/// Spelled with `impl Future` rather than `async fn` so the trait can be
/// public without the `async_fn_in_trait` caveat; implementations simply
/// write `async fn`. The futures need not be `Send`: the rounds run on the
/// caller's task.
pub trait Service {
    /// Names in the progress lines (`"upload"`, `"PUT"`).
    const UPLOAD: &'static str;
    const DOWNLOAD: &'static str;
    /// Before each round (e.g. create the image to upload into).
    fn begin_round(&mut self) -> impl Future<Output = anyhow::Result<()>>;
    /// Sends `body`; fails unless the service accepted all of it.
    fn upload(&mut self, body: Pattern) -> impl Future<Output = anyhow::Result<()>>;
    /// Reads the uploaded data back; returns its length.
    fn download(&mut self) -> impl Future<Output = anyhow::Result<u64>>;
    /// After each round, also after a failed one: delete what it created.
    fn end_round(&mut self) -> impl Future<Output = ()>;
}

/// Runs `cfg.rounds` rounds, each the `dd` baseline immediately followed by
/// the service's upload, download and (with `drop_caches`) cold download.
pub async fn run_rounds<S: Service>(cfg: &RoundConfig, svc: &mut S) -> anyhow::Result<Vec<Round>> {
    let mut rounds = Vec::new();
    for n in 1..=cfg.rounds {
        let tag = format!("round {n}/{}", cfg.rounds);
        let result = async {
            svc.begin_round().await?;
            one_round(cfg, svc, &tag).await
        }
        .await;
        svc.end_round().await;
        rounds.push(result.with_context(|| tag.clone())?);
    }
    Ok(rounds)
}

async fn one_round<S: Service>(cfg: &RoundConfig, svc: &mut S, tag: &str) -> anyhow::Result<Round> {
    let size = cfg.size_mib << 20;
    let base = baseline(&cfg.dir, cfg.size_mib, cfg.drop_caches).await?;
    eprintln!(
        "{tag}: dd write {:.0} MiB/s, read {:.0} MiB/s{}",
        base.write.rate(),
        base.read.rate(),
        cold_text("cold read", &base.read_cold)
    );

    // Built before the clock starts: the pattern is the client's only work.
    let body = Pattern::new(size);
    let started = Instant::now();
    let ((), rss) = sampled(cfg.pid, svc.upload(body)).await?;
    let upload = Transfer {
        bytes: size,
        elapsed: started.elapsed(),
        rss,
    };
    let download = timed_download(svc, cfg.pid, size).await?;
    let download_cold = if cfg.drop_caches {
        drop_caches().await?;
        Some(timed_download(svc, cfg.pid, size).await?)
    } else {
        None
    };
    eprintln!(
        "{tag}: {} {:.0} MiB/s, {} {:.0} MiB/s{}",
        S::UPLOAD,
        upload.rate(),
        S::DOWNLOAD,
        download.rate(),
        cold_text(&format!("cold {}", S::DOWNLOAD), &download_cold)
    );
    Ok(Round {
        dd_write: base.write,
        dd_read: base.read,
        dd_read_cold: base.read_cold,
        upload,
        download,
        download_cold,
    })
}

async fn timed_download<S: Service>(
    svc: &mut S,
    pid: Option<u32>,
    size: u64,
) -> anyhow::Result<Transfer> {
    let started = Instant::now();
    let (len, rss) = sampled(pid, svc.download()).await?;
    let elapsed = started.elapsed();
    if len != size {
        bail!("{} returned {len} bytes, want {size}", S::DOWNLOAD);
    }
    Ok(Transfer {
        bytes: size,
        elapsed,
        rss,
    })
}

fn cold_text(what: &str, t: &Option<Transfer>) -> String {
    t.as_ref()
        .map(|t| format!(", {what} {:.0} MiB/s", t.rate()))
        .unwrap_or_default()
}

/// Median, min and max of one metric over the rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// `None` for no values. With an even count the median is the mean of
    /// the two middle values.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Self> {
        let mut v: Vec<f64> = values.into_iter().collect();
        v.sort_by(f64::total_cmp);
        let (&min, &max) = (v.first()?, v.last()?);
        let mid = v.len() / 2;
        let median = if v.len() % 2 == 1 {
            v[mid]
        } else {
            (v[mid - 1] + v[mid]) / 2.0
        };
        Some(Self { median, min, max })
    }

    /// Median against median: a fast round of one side is not paired with a
    /// slow round of the other.
    pub fn ratio_to(&self, baseline: &Spread) -> f64 {
        self.median / baseline.median.max(1e-9)
    }
}

/// One row of the comparison: a service transfer against its `dd` baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub name: String,
    /// MiB/s of the service over the rounds.
    pub service: Spread,
    /// MiB/s of `dd` over the rounds.
    pub dd: Spread,
    /// Which `dd`: `"write, fsync"`, `"read, page cache"`, `"read, cold cache"`.
    pub dd_what: &'static str,
    /// Peak RSS over all rounds, KiB.
    pub peak_rss_kib: Option<u64>,
    /// Whether the throughput counts for the verdict; a page-cache read
    /// beside a cold one is shown for information only.
    pub judged: bool,
}

impl Comparison {
    /// Service median over `dd` median.
    pub fn ratio(&self) -> f64 {
        self.service.ratio_to(&self.dd)
    }

    /// The RSS target; met when nothing was measured (no PID).
    pub fn rss_ok(&self, idle_kib: Option<u64>) -> bool {
        match (self.peak_rss_kib, idle_kib) {
            (Some(peak), Some(idle)) => peak <= idle + RSS_GROWTH_GOAL_KIB,
            _ => true,
        }
    }

    pub fn verdict(&self, idle_kib: Option<u64>) -> String {
        let rss_ok = self.rss_ok(idle_kib);
        if !self.judged {
            // The RSS check still applies: the data must stream either way.
            return if rss_ok {
                "info (page cache)".into()
            } else {
                "info (page cache), RSS missed".into()
            };
        }
        match (self.ratio() >= THROUGHPUT_GOAL, rss_ok) {
            (true, true) => "pass".into(),
            (false, true) => "throughput missed, RSS pass".into(),
            (true, false) => "RSS missed".into(),
            (false, false) => "MISSED".into(),
        }
    }
}

fn peak<'a>(transfers: impl Iterator<Item = &'a Transfer>) -> Option<u64> {
    transfers
        .filter_map(|t| t.rss.as_ref())
        .map(|s| s.max_rss_kib)
        .max()
}

fn comparison<'a>(
    name: String,
    service: impl Iterator<Item = &'a Transfer> + Clone,
    dd: impl Iterator<Item = &'a Transfer>,
    dd_what: &'static str,
    judged: bool,
) -> Option<Comparison> {
    Some(Comparison {
        name,
        service: Spread::of(service.clone().map(Transfer::rate))?,
        dd: Spread::of(dd.map(Transfer::rate))?,
        dd_what,
        peak_rss_kib: peak(service),
        judged,
    })
}

/// The rows: upload against the `dd` write, download against the `dd` read
/// from the page cache, and with cold figures in every round the cold
/// download against the cold `dd` read (which then carries the download
/// verdict). Row names are the suite's.
pub fn comparisons(r: &LargeResults, upload: &str, download: &str) -> Vec<Comparison> {
    let rounds = &r.rounds;
    let cold: Option<Vec<(&Transfer, &Transfer)>> = rounds
        .iter()
        .map(|x| Some((x.download_cold.as_ref()?, x.dd_read_cold.as_ref()?)))
        .collect();
    let cold = cold.filter(|c| !c.is_empty());
    let mut rows = Vec::new();
    rows.extend(comparison(
        upload.to_string(),
        rounds.iter().map(|x| &x.upload),
        rounds.iter().map(|x| &x.dd_write),
        "write, fsync",
        true,
    ));
    rows.extend(comparison(
        download.to_string(),
        rounds.iter().map(|x| &x.download),
        rounds.iter().map(|x| &x.dd_read),
        "read, page cache",
        cold.is_none(),
    ));
    if let Some(cold) = cold {
        rows.extend(comparison(
            format!("{download}, cold cache"),
            cold.iter().map(|(t, _)| *t),
            cold.iter().map(|(_, d)| *d),
            "read, cold cache",
            true,
        ));
    }
    rows
}

/// `"50.0 MiB (30.0 MiB)"`: peak, idle in parentheses.
pub fn rss_text(peak_kib: Option<u64>, idle_kib: Option<u64>) -> String {
    match (peak_kib, idle_kib) {
        (Some(p), Some(i)) => format!("{} ({})", report::mib(p), report::mib(i)),
        _ => "n/a".into(),
    }
}

/// The line above the table saying what its numbers are.
pub fn summary(r: &LargeResults) -> String {
    let n = r.rounds.len();
    format!(
        "{} MiB transfers, {n} round{} (dd, then the service, in each): \
         MiB/s are medians, min–max beside them, ratios are median over median",
        r.size_mib,
        if n == 1 { "" } else { "s" }
    )
}

/// The comparison table both reports print (see [`comparisons`]).
pub fn table(r: &LargeResults, upload: &str, download: &str) -> Table {
    let mut table = Table::new([
        "transfer",
        "MiB/s (median)",
        "min–max",
        "dd on the same disk (median, min–max)",
        "ratio of medians",
        "target",
        "peak RSS (idle)",
        "verdict",
    ]);
    for c in comparisons(r, upload, download) {
        table.row([
            c.name.clone(),
            format!("{:.0}", c.service.median),
            format!("{:.0}–{:.0}", c.service.min, c.service.max),
            format!(
                "{}: {:.0} MiB/s ({:.0}–{:.0})",
                c.dd_what, c.dd.median, c.dd.min, c.dd.max
            ),
            format!("{:.0} %", c.ratio() * 100.0),
            format!(
                "≥ {:.0} %, RSS ≤ idle + {}",
                THROUGHPUT_GOAL * 100.0,
                report::mib(RSS_GROWTH_GOAL_KIB)
            ),
            rss_text(c.peak_rss_kib, r.idle_rss_kib),
            c.verdict(r.idle_rss_kib),
        ]);
    }
    table
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A transfer of `mib` MiB at `rate` MiB/s, with `peak` KiB of RSS.
    pub(crate) fn at(mib: u64, rate: f64, peak: Option<u64>) -> Transfer {
        Transfer {
            bytes: mib << 20,
            elapsed: Duration::from_secs_f64(mib as f64 / rate),
            rss: peak.map(|p| RssSummary {
                samples: 10,
                max_rss_kib: p,
                hwm_kib: p,
                first_error: None,
            }),
        }
    }

    /// MiB/s of one round: dd write, dd read, dd cold read, upload,
    /// download, cold download.
    pub(crate) type RoundRates = (f64, f64, Option<f64>, f64, f64, Option<f64>);

    /// Rounds of 1024 MiB at these rates (cold figures only where given);
    /// the upload peaks at `peak` KiB of RSS, the downloads 1 and 2 MiB
    /// above it.
    pub(crate) fn rounds(rates: &[RoundRates], peak: u64) -> Vec<Round> {
        rates
            .iter()
            .map(|&(w, r, rc, up, down, dc)| Round {
                dd_write: at(1024, w, None),
                dd_read: at(1024, r, None),
                dd_read_cold: rc.map(|x| at(1024, x, None)),
                upload: at(1024, up, Some(peak)),
                download: at(1024, down, Some(peak + 1024)),
                download_cold: dc.map(|x| at(1024, x, Some(peak + 2048))),
            })
            .collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn response_heads_parse() {
        let (status, len) =
            parse_head(b"HTTP/1.1 206 Partial Content\r\ncontent-length: 42\r\nx: y\r\n\r\n")
                .unwrap();
        assert_eq!(status.as_u16(), 206);
        assert_eq!(len, 42);
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
    }

    #[test]
    fn spread_median_min_max() {
        let s = Spread::of([500.0, 314.0, 420.0]).unwrap();
        assert_eq!(
            s,
            Spread {
                median: 420.0,
                min: 314.0,
                max: 500.0
            }
        );
        // Even count: mean of the two middle values.
        let s = Spread::of([4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 4.0));
        let s = Spread::of([7.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (7.0, 7.0, 7.0));
        assert_eq!(Spread::of([]), None);
    }

    #[test]
    fn ratio_is_of_medians() {
        let up = Spread::of([240.0, 330.0, 280.0]).unwrap();
        let dd = Spread::of([300.0, 550.0, 400.0]).unwrap();
        assert!(close(up.ratio_to(&dd), 0.7));
        // Medians are taken per metric first: per-round ratios (1/3, 2,
        // 1.5 here) would have a median of 1.5, the medians' ratio is 1.
        let up = Spread::of([100.0, 200.0, 300.0]).unwrap();
        let dd = Spread::of([300.0, 100.0, 200.0]).unwrap();
        assert!(close(up.ratio_to(&dd), 1.0));
    }

    #[test]
    fn transfer_rate() {
        let t = Transfer {
            bytes: 512 << 20,
            elapsed: Duration::from_secs(2),
            rss: None,
        };
        assert!(close(t.rate(), 256.0));
        assert!(close(at(1024, 358.0, None).rate(), 358.0));
    }

    #[test]
    fn warm_download_judged_without_cold_rows() {
        let r = LargeResults {
            size_mib: 1024,
            rounds: rounds(
                &[
                    (300.0, 5000.0, None, 290.0, 4500.0, None),
                    (500.0, 6000.0, None, 410.0, 4000.0, None),
                ],
                40 * 1024,
            ),
            idle_rss_kib: Some(30 * 1024),
        };
        let rows = comparisons(&r, "up", "down");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].name, "up");
        assert!(close(rows[0].service.median, 350.0));
        assert!(close(rows[0].dd.median, 400.0));
        assert!(close(rows[0].ratio(), 0.875));
        assert_eq!(rows[0].verdict(r.idle_rss_kib), "pass");
        assert!(rows[1].judged);
        assert!(close(rows[1].ratio(), 4250.0 / 5500.0));
        assert_eq!(
            rows[1].verdict(r.idle_rss_kib),
            "throughput missed, RSS pass"
        );
        assert_eq!(rows[1].peak_rss_kib, Some(41 * 1024));
    }

    #[test]
    fn cold_row_carries_the_download_verdict() {
        let r = LargeResults {
            size_mib: 1024,
            rounds: rounds(
                &[
                    (300.0, 5000.0, Some(800.0), 280.0, 1600.0, Some(700.0)),
                    (400.0, 5200.0, Some(900.0), 330.0, 1700.0, Some(720.0)),
                    (500.0, 5100.0, Some(850.0), 240.0, 1650.0, Some(690.0)),
                ],
                // 100 MiB over 30 MiB idle: every row misses the RSS target.
                100 * 1024,
            ),
            idle_rss_kib: Some(30 * 1024),
        };
        let rows = comparisons(&r, "PUT", "GET");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].verdict(r.idle_rss_kib), "MISSED");
        assert!(!rows[1].judged);
        assert_eq!(
            rows[1].verdict(r.idle_rss_kib),
            "info (page cache), RSS missed"
        );
        assert_eq!(rows[2].name, "GET, cold cache");
        assert!(rows[2].judged);
        assert!(close(rows[2].ratio(), 700.0 / 850.0));
        assert_eq!(rows[2].peak_rss_kib, Some(102 * 1024));
        assert_eq!(rows[2].verdict(r.idle_rss_kib), "RSS missed");
        // Without a PID the RSS target cannot fail.
        assert_eq!(rows[2].verdict(None), "pass");
        assert_eq!(rows[1].verdict(None), "info (page cache)");
    }

    #[test]
    fn peak_rss_is_over_all_rounds() {
        let mut rs = rounds(
            &[
                (300.0, 5000.0, None, 280.0, 1600.0, None),
                (300.0, 5000.0, None, 280.0, 1600.0, None),
            ],
            40 * 1024,
        );
        rs[1].upload.rss = at(1, 1.0, Some(99 * 1024)).rss;
        rs[0].upload.rss = None;
        let r = LargeResults {
            size_mib: 1024,
            rounds: rs,
            idle_rss_kib: Some(30 * 1024),
        };
        let rows = comparisons(&r, "PUT", "GET");
        assert_eq!(rows[0].peak_rss_kib, Some(99 * 1024));
        assert!(!rows[0].rss_ok(r.idle_rss_kib));
    }

    #[test]
    fn no_rounds_no_rows() {
        let r = LargeResults {
            size_mib: 1,
            rounds: Vec::new(),
            idle_rss_kib: None,
        };
        assert!(comparisons(&r, "PUT", "GET").is_empty());
    }

    #[test]
    fn baseline_dir_defaults() {
        let (d, s) = (Path::new("/d"), Path::new("/s"));
        assert_eq!(
            baseline_dir(Some(d), Some(s), "objects"),
            PathBuf::from("/d")
        );
        assert_eq!(
            baseline_dir(None, Some(s), "objects"),
            PathBuf::from("/s/objects")
        );
        assert_eq!(baseline_dir(None, None, "objects"), std::env::temp_dir());
    }

    #[test]
    fn pattern_body_has_the_exact_length() {
        use hyper::body::Body as _;
        let mut p = Pattern::new((2 << 20) + 5);
        assert_eq!(p.remaining(), (2 << 20) + 5);
        assert_eq!(p.size_hint().exact(), Some((2 << 20) + 5));
        let waker = std::task::Waker::noop();
        let mut cx = TaskCx::from_waker(waker);
        let mut sizes = Vec::new();
        while let Poll::Ready(Some(Ok(f))) = Pin::new(&mut p).poll_frame(&mut cx) {
            let data = f.into_data().unwrap();
            assert_eq!(data[1], 31);
            sizes.push(data.len());
        }
        assert_eq!(sizes, vec![1 << 20, 1 << 20, 5]);
        assert_eq!(p.remaining(), 0);
    }
}

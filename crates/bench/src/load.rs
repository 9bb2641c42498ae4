//! The reusable closed-loop HTTP/1.1 load generator.
//!
//! [`run`] starts `concurrency` workers. Each worker owns **one** keep-alive
//! TCP connection (a raw [`hyper::client::conn::http1`] handshake, see the
//! crate docs for why) and loops: build a request with the caller's factory,
//! send it, stream the whole response body, check it, record the latency in
//! its own [`Histogram`], repeat. There is one request in flight per
//! connection (no pipelining), so `concurrency` is exactly the number of
//! outstanding requests the server sees.
//!
//! A run has an optional warm-up (requests are sent but nothing is recorded),
//! then the measured window. Only requests that *start* inside the window are
//! recorded; the rate divides by the time from the start of the window until
//! the last measured request completed.
//!
//! It is bounded: every worker stops at the deadline, after `max_requests`
//! (split evenly across workers), or when its request factory fails; every
//! connect and every exchange is under `request_timeout`; a broken connection
//! is re-opened after a short back-off, never in a tight loop.
//!
//! What counts as an error: a failed connect, a transport error, a timeout,
//! any non-2xx status, and any 2xx response the caller's `check` rejects.
//! Errors are grouped by kind ("HTTP 401", "timeout", ...) with a count and
//! the first example, so a report can say what went wrong.
//!
//! A new suite supplies a [`Target`], a [`LoadConfig`], a request factory and
//! a check, and gets a [`LoadReport`] back (req/s, latency percentiles, bytes
//! each way for throughput suites, errors).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Body as _;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONNECTION, HOST};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::histogram::Histogram;

/// Request body type used by the load generator. `Full<Bytes>` clones
/// cheaply, so a suite builds a payload once and hands out clones.
pub type Body = Full<Bytes>;

/// How many bytes of each response body are kept for `check` and for error
/// examples; the rest is counted and dropped.
pub const KEEP_BODY_BYTES: usize = 64 * 1024;

/// Back-off before re-opening a connection after a failure.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(50);

/// Where the load goes: one resolved socket address plus what to put in the
/// `Host` header and in front of every path.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as given.
    pub url: String,
    /// Resolved address every connection is opened to.
    pub addr: SocketAddr,
    /// `host[:port]` as written in the URL, sent as the `Host` header.
    pub authority: String,
    /// Path prefix from the URL without a trailing slash (often empty).
    pub base_path: String,
}

impl Target {
    /// Parse and resolve an `http://host[:port][/prefix]` URL.
    ///
    /// Refuses `https` (the point is to measure the server, not TLS) and,
    /// unless `allow_remote`, any address that is not loopback: a load test
    /// should not leave the machine by accident.
    pub async fn resolve(url: &str, allow_remote: bool) -> anyhow::Result<Self> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("invalid URL {url:?}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                bail!("unsupported URL scheme {other:?} in {url:?}: only http:// is supported")
            }
            None => bail!("URL {url:?} has no scheme; expected http://host:port"),
        }
        let authority = uri
            .authority()
            .with_context(|| format!("URL {url:?} has no host"))?
            .as_str()
            .to_owned();
        let host = uri
            .host()
            .with_context(|| format!("URL {url:?} has no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(80);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .with_context(|| format!("cannot resolve {host}:{port}"))?
            .collect();
        let first = *addrs
            .first()
            .with_context(|| format!("{host}:{port} resolved to no address"))?;
        let addrs: Vec<SocketAddr> = addrs
            .into_iter()
            .filter(|a| allow_remote || a.ip().is_loopback())
            .collect();
        if addrs.is_empty() {
            bail!("{url} resolves to {first}, which is not a loopback address; pass --allow-remote to load a remote server");
        }
        // A name such as `localhost` may resolve to both ::1 and 127.0.0.1
        // while the server listens on one: keep the first that accepts.
        let mut addr = addrs.first().copied().unwrap_or(first);
        if addrs.len() > 1 {
            for a in &addrs {
                let probe = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(a));
                if matches!(probe.await, Ok(Ok(_))) {
                    addr = *a;
                    break;
                }
            }
        }
        Ok(Self {
            url: url.to_owned(),
            addr,
            authority,
            base_path: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    /// `base_path` + `path` (`path` starts with `/`).
    pub fn path(&self, path: &str) -> String {
        format!("{}{}", self.base_path, path)
    }

    /// A request builder for `method path` with the `Host` header set.
    pub fn request(&self, method: hyper::Method, path: &str) -> hyper::http::request::Builder {
        Request::builder()
            .method(method)
            .uri(self.path(path))
            .header(HOST, self.authority.as_str())
    }
}

/// A completed request/response exchange.
#[derive(Debug)]
pub struct Exchange {
    /// Status, headers, version.
    pub parts: hyper::http::response::Parts,
    /// The first [`KEEP_BODY_BYTES`] of the body.
    pub body: Bytes,
    /// Full body length in bytes.
    pub body_len: u64,
}

/// One raw HTTP/1.1 client connection: no pool, no retries, no redirects.
pub struct Conn {
    sender: SendRequest<Body>,
    driver: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Conn {
    /// Open a TCP connection (`TCP_NODELAY`) and do the HTTP/1.1 handshake.
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect to {addr}"))?;
        stream.set_nodelay(true).context("set TCP_NODELAY")?;
        let (sender, conn) = http1::handshake::<_, Body>(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        let driver = tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "bench connection closed with error");
            }
        });
        Ok(Self { sender, driver })
    }

    /// Wait until the connection can take a request. Fails if it was closed.
    pub async fn ready(&mut self) -> Result<(), hyper::Error> {
        self.sender.ready().await
    }

    /// Send one request and read the whole response body, keeping its
    /// first [`KEEP_BODY_BYTES`].
    pub async fn exchange(&mut self, req: Request<Body>) -> Result<Exchange, hyper::Error> {
        self.exchange_keeping(req, KEEP_BODY_BYTES).await
    }

    /// Send one request and read the whole response body, keeping its first
    /// `keep` bytes (a suite that must parse a large listing keeps it all).
    pub async fn exchange_keeping(
        &mut self,
        req: Request<Body>,
        keep: usize,
    ) -> Result<Exchange, hyper::Error> {
        let resp = self.sender.send_request(req).await?;
        let (parts, mut body) = resp.into_parts();
        let mut kept = Vec::new();
        let mut body_len = 0u64;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                body_len += data.len() as u64;
                let room = keep.saturating_sub(kept.len());
                if room > 0 {
                    kept.extend_from_slice(data.get(..room.min(data.len())).unwrap_or(&data));
                }
            }
        }
        Ok(Exchange {
            parts,
            body: Bytes::from(kept),
            body_len,
        })
    }
}

/// How hard and how long to push.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Number of workers = connections = requests in flight.
    pub concurrency: usize,
    /// Length of the measured window.
    pub duration: Duration,
    /// Unrecorded warm-up before the measured window.
    pub warmup: Duration,
    /// Hard cap on requests sent (warm-up included), split across workers.
    pub max_requests: u64,
    /// Limit for one connect and for one exchange.
    pub request_timeout: Duration,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            concurrency: 8,
            duration: Duration::from_secs(20),
            warmup: Duration::from_secs(1),
            max_requests: 5_000_000,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// What the request factory is told about the request it builds.
#[derive(Debug, Clone, Copy)]
pub struct RequestCtx {
    /// Worker index, `0..concurrency`.
    pub worker: usize,
    /// Per-worker request sequence number, from 0.
    pub seq: u64,
}

/// One kind of error, with how often it happened and the first example.
#[derive(Debug, Clone)]
pub struct ErrorKind {
    /// Occurrences.
    pub count: u64,
    /// The first message seen (truncated).
    pub example: String,
}

/// Errors grouped by kind ("HTTP 401", "timeout", "transport", ...).
#[derive(Debug, Clone, Default)]
pub struct Errors {
    /// Kind -> count and example.
    pub kinds: BTreeMap<String, ErrorKind>,
}

impl Errors {
    /// Count one error of `kind`; keeps the first `example`.
    pub fn add(&mut self, kind: impl Into<String>, example: impl FnOnce() -> String) {
        self.kinds
            .entry(kind.into())
            .and_modify(|k| k.count += 1)
            .or_insert_with(|| ErrorKind {
                count: 1,
                example: truncate(&example(), 300),
            });
    }

    /// Total errors of all kinds.
    pub fn total(&self) -> u64 {
        self.kinds.values().map(|k| k.count).sum()
    }

    /// Fold `other` into `self`.
    pub fn merge(&mut self, other: Errors) {
        for (kind, e) in other.kinds {
            self.kinds
                .entry(kind)
                .and_modify(|k| k.count += e.count)
                .or_insert(e);
        }
    }

    /// One line: `HTTP 401 ×3 ("..."); timeout ×1 ("...")`, or `none`.
    pub fn summary(&self) -> String {
        if self.kinds.is_empty() {
            return "none".to_owned();
        }
        self.kinds
            .iter()
            .map(|(k, e)| format!("{k} ×{} ({:?})", e.count, e.example))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", s.get(..end).unwrap_or(""))
}

/// The outcome of one [`run`].
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Workers used.
    pub concurrency: usize,
    /// Measured window: start of measurement to the last measured completion.
    pub elapsed: Duration,
    /// Successful (2xx and accepted by `check`) measured requests.
    pub ok: u64,
    /// Latencies of the successful requests, in nanoseconds.
    pub latency: Histogram,
    /// Errors in the measured window.
    pub errors: Errors,
    /// Request body bytes sent in the measured window.
    pub bytes_sent: u64,
    /// Response body bytes received in the measured window.
    pub bytes_received: u64,
    /// Connections (re)opened over the whole run, warm-up included.
    pub connections: u64,
    /// Requests sent during warm-up (not in any other figure).
    pub warmup_requests: u64,
}

impl LoadReport {
    /// Successful requests per second.
    pub fn rate(&self) -> f64 {
        per_second(self.ok as f64, self.elapsed)
    }

    /// Response body bytes per second.
    pub fn receive_throughput(&self) -> f64 {
        per_second(self.bytes_received as f64, self.elapsed)
    }

    /// Request body bytes per second.
    pub fn send_throughput(&self) -> f64 {
        per_second(self.bytes_sent as f64, self.elapsed)
    }
}

fn per_second(n: f64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 {
        n / s
    } else {
        0.0
    }
}

/// The check that accepts every 2xx response (non-2xx is always an error).
pub fn accept_any(_: &Exchange) -> Result<(), String> {
    Ok(())
}

/// Per-worker tallies, merged by [`run`].
struct WorkerStats {
    ok: u64,
    latency: Histogram,
    errors: Errors,
    bytes_sent: u64,
    bytes_received: u64,
    connections: u64,
    warmup_requests: u64,
    last_done: Option<Instant>,
}

/// Shared, immutable state for all workers of one run.
struct Shared<F, C> {
    addr: SocketAddr,
    cfg: LoadConfig,
    measure_start: Instant,
    deadline: Instant,
    per_worker_cap: u64,
    make_request: F,
    check: C,
}

/// Run the load: see the module docs.
///
/// `make_request` builds each request (use [`Target::request`] so the `Host`
/// header and path prefix are right); if it fails, that worker stops and the
/// failure is reported as a `client` error. `check` runs on every 2xx
/// response; an `Err(reason)` counts as a `check: reason` error.
pub async fn run<F, C>(target: &Target, cfg: &LoadConfig, make_request: F, check: C) -> LoadReport
where
    F: Fn(RequestCtx) -> anyhow::Result<Request<Body>> + Send + Sync + 'static,
    C: Fn(&Exchange) -> Result<(), String> + Send + Sync + 'static,
{
    let concurrency = cfg.concurrency.max(1);
    let start = Instant::now();
    let measure_start = start + cfg.warmup;
    let shared = Arc::new(Shared {
        addr: target.addr,
        cfg: cfg.clone(),
        measure_start,
        deadline: measure_start + cfg.duration,
        per_worker_cap: cfg.max_requests.div_ceil(concurrency as u64).max(1),
        make_request,
        check,
    });
    let handles: Vec<_> = (0..concurrency)
        .map(|w| tokio::spawn(worker(w, Arc::clone(&shared))))
        .collect();

    let mut report = LoadReport {
        concurrency,
        elapsed: Duration::ZERO,
        ok: 0,
        latency: Histogram::new(),
        errors: Errors::default(),
        bytes_sent: 0,
        bytes_received: 0,
        connections: 0,
        warmup_requests: 0,
    };
    let mut last_done: Option<Instant> = None;
    for h in handles {
        match h.await {
            Ok(s) => {
                report.ok += s.ok;
                report.latency.merge(&s.latency);
                report.errors.merge(s.errors);
                report.bytes_sent += s.bytes_sent;
                report.bytes_received += s.bytes_received;
                report.connections += s.connections;
                report.warmup_requests += s.warmup_requests;
                last_done = last_done.max(s.last_done);
            }
            Err(e) => report.errors.add("worker failed", || e.to_string()),
        }
    }
    report.elapsed = last_done
        .map(|t| t.saturating_duration_since(measure_start))
        .unwrap_or(Duration::ZERO);
    report
}

async fn worker<F, C>(id: usize, sh: Arc<Shared<F, C>>) -> WorkerStats
where
    F: Fn(RequestCtx) -> anyhow::Result<Request<Body>> + Send + Sync + 'static,
    C: Fn(&Exchange) -> Result<(), String> + Send + Sync + 'static,
{
    let mut st = WorkerStats {
        ok: 0,
        latency: Histogram::new(),
        errors: Errors::default(),
        bytes_sent: 0,
        bytes_received: 0,
        connections: 0,
        warmup_requests: 0,
        last_done: None,
    };
    let timeout = sh.cfg.request_timeout;
    let mut seq = 0u64;

    'connections: while Instant::now() < sh.deadline && seq < sh.per_worker_cap {
        let connect_started = Instant::now();
        let mut conn = match tokio::time::timeout(timeout, Conn::connect(sh.addr)).await {
            Ok(Ok(c)) => c,
            failed => {
                if connect_started >= sh.measure_start {
                    match failed {
                        Ok(Err(e)) => st.errors.add("connect", || format!("{e:#}")),
                        _ => st.errors.add("timeout", || "connect timed out".to_owned()),
                    }
                    st.last_done = Some(Instant::now());
                }
                backoff(sh.deadline).await;
                continue;
            }
        };
        st.connections += 1;
        let mut served = 0u64;

        while seq < sh.per_worker_cap {
            if conn.ready().await.is_err() {
                // Server closed the idle connection: open a new one (after a
                // pause if it never served anything, so no tight loop).
                if served == 0 {
                    backoff(sh.deadline).await;
                }
                continue 'connections;
            }
            let started = Instant::now();
            if started >= sh.deadline {
                break 'connections;
            }
            let req = match (sh.make_request)(RequestCtx { worker: id, seq }) {
                Ok(r) => r,
                Err(e) => {
                    st.errors
                        .add("client", || format!("building request: {e:#}"));
                    break 'connections;
                }
            };
            seq += 1;
            served += 1;
            let measured = started >= sh.measure_start;
            if !measured {
                st.warmup_requests += 1;
            }
            let sent = req.body().size_hint().exact().unwrap_or(0);
            let result = tokio::time::timeout(timeout, conn.exchange(req)).await;
            let done = Instant::now();
            if measured {
                st.last_done = Some(done);
            }
            let ex = match result {
                Ok(Ok(ex)) => ex,
                Ok(Err(e)) => {
                    if measured {
                        st.errors.add("transport", || e.to_string());
                    }
                    backoff(sh.deadline).await;
                    continue 'connections;
                }
                Err(_) => {
                    if measured {
                        st.errors
                            .add("timeout", || format!("no response within {timeout:?}"));
                    }
                    continue 'connections;
                }
            };
            if measured {
                st.bytes_sent += sent;
                st.bytes_received += ex.body_len;
                let status = ex.parts.status;
                if !status.is_success() {
                    st.errors.add(format!("HTTP {}", status.as_u16()), || {
                        String::from_utf8_lossy(&ex.body).into_owned()
                    });
                } else if let Err(reason) = (sh.check)(&ex) {
                    st.errors.add(format!("check: {reason}"), || {
                        String::from_utf8_lossy(&ex.body).into_owned()
                    });
                } else {
                    st.ok += 1;
                    st.latency.record_duration(done - started);
                }
            }
            let close = ex
                .parts
                .headers
                .get(CONNECTION)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("close"));
            if close {
                continue 'connections;
            }
        }
        break;
    }
    st
}

/// Sleep [`RECONNECT_BACKOFF`], but not past `deadline`.
async fn backoff(deadline: Instant) {
    tokio::time::sleep_until(deadline.min(Instant::now() + RECONNECT_BACKOFF)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn target_parsing() {
        let t = Target::resolve("http://127.0.0.1:5000/identity/", false)
            .await
            .unwrap();
        assert_eq!(t.addr, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(t.authority, "127.0.0.1:5000");
        assert_eq!(t.path("/v3/auth/tokens"), "/identity/v3/auth/tokens");

        let t = Target::resolve("http://[::1]:8080", false).await.unwrap();
        assert_eq!(t.addr, "[::1]:8080".parse().unwrap());
        assert_eq!(t.path("/x"), "/x");

        let t = Target::resolve("http://127.0.0.9", false).await.unwrap();
        assert_eq!(t.addr.port(), 80);

        assert!(Target::resolve("https://127.0.0.1:5000", false)
            .await
            .is_err());
        assert!(Target::resolve("127.0.0.1:5000", false).await.is_err());
        let err = Target::resolve("http://192.0.2.1:5000", false)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("loopback"), "{err}");
        assert!(Target::resolve("http://192.0.2.1:5000", true).await.is_ok());

        // `localhost` picks the address family the server actually listens on.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let t = Target::resolve(&format!("http://localhost:{port}"), false)
            .await
            .unwrap();
        assert_eq!(t.addr, SocketAddr::from(([127, 0, 0, 1], port)));
        assert_eq!(t.authority, format!("localhost:{port}"));
    }

    #[test]
    fn errors_group_and_merge() {
        let mut a = Errors::default();
        a.add("HTTP 401", || "first".into());
        a.add("HTTP 401", || "second".into());
        let mut b = Errors::default();
        b.add("HTTP 401", || "third".into());
        b.add("timeout", || "slow".into());
        a.merge(b);
        assert_eq!(a.total(), 4);
        assert_eq!(a.kinds["HTTP 401"].count, 3);
        assert_eq!(a.kinds["HTTP 401"].example, "first");
        assert!(a.summary().contains("timeout ×1"));
        assert_eq!(Errors::default().summary(), "none");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let s = "é".repeat(200);
        let t = truncate(&s, 301);
        assert!(t.ends_with('…'));
        assert!(t.len() <= 304);
    }
}

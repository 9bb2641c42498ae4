//! End-to-end tests of the load generator and the identity suite against a
//! tiny hand-written HTTP/1.1 server on loopback (no server framework, so
//! the client is tested against bytes on a socket, keep-alive included).

// Test helpers outside #[test] fns are not covered by clippy's allow-*-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench::identity::{self, IdentityArgs, Login, Phase};
use bench::load::{self, Body, LoadConfig, Target};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

struct Req {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    close: bool,
}

impl Resp {
    fn new(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
            close: false,
        }
    }
}

type Handler = Arc<dyn Fn(&Req) -> Option<Resp> + Send + Sync>;

/// Serve `handler` on 127.0.0.1:0; `None` from the handler means "never answer".
async fn serve(handler: Handler) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let handler = Arc::clone(&handler);
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut r = BufReader::new(r);
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or("").to_owned();
                    let path = parts.next().unwrap_or("").to_owned();
                    let mut headers = HashMap::new();
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                        }
                    }
                    let len: usize = headers
                        .get("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let req = Req {
                        method,
                        path,
                        headers,
                        body,
                    };
                    let Some(resp) = handler(&req) else {
                        // Hold the connection open without answering.
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        return;
                    };
                    let mut out = format!(
                        "HTTP/1.1 {} X\r\ncontent-length: {}\r\n",
                        resp.status,
                        resp.body.len()
                    );
                    for (k, v) in &resp.headers {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    if resp.close {
                        out.push_str("connection: close\r\n");
                    }
                    out.push_str("\r\n");
                    let mut bytes = out.into_bytes();
                    bytes.extend_from_slice(&resp.body);
                    if w.write_all(&bytes).await.is_err() || resp.close {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn cfg(concurrency: usize, ms: u64) -> LoadConfig {
    LoadConfig {
        concurrency,
        duration: Duration::from_millis(ms),
        warmup: Duration::ZERO,
        max_requests: 1_000_000,
        request_timeout: Duration::from_secs(5),
    }
}

async fn target(addr: SocketAddr) -> Target {
    Target::resolve(&format!("http://{addr}"), false)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_successes_errors_and_reconnects() {
    let n = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&n);
    let addr = serve(Arc::new(move |req: &Req| {
        assert_eq!(req.path, "/prefix/x");
        assert_eq!(req.method, "POST");
        assert_eq!(req.body, b"hello");
        assert!(req.headers.contains_key("host"));
        let i = counter.fetch_add(1, Ordering::Relaxed);
        let mut r = if i % 3 == 0 {
            Resp::new(500, "boom")
        } else {
            Resp::new(200, "ok!")
        };
        r.close = i % 5 == 0;
        Some(r)
    }))
    .await;
    let t = Target::resolve(&format!("http://{addr}/prefix/"), false)
        .await
        .unwrap();
    let tt = t.clone();
    let started = Instant::now();
    let report = load::run(
        &t,
        &cfg(3, 400),
        move |_| {
            Ok(tt
                .request(hyper::Method::POST, "/x")
                .body(Body::from("hello"))?)
        },
        load::accept_any,
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let served = n.load(Ordering::Relaxed);
    let errors = report.errors.total();
    assert!(report.ok > 50, "{report:?}");
    assert_eq!(report.ok + errors, served, "{report:?}");
    assert_eq!(report.errors.kinds["HTTP 500"].example, "boom");
    assert_eq!(errors, report.errors.kinds["HTTP 500"].count);
    // a third of responses were 500s (give or take rounding per worker)
    let ratio = errors as f64 / served as f64;
    assert!((0.30..0.37).contains(&ratio), "{ratio}");
    // every fifth response closed the connection
    assert!(report.connections >= served / 5, "{report:?}");
    assert_eq!(report.latency.count(), report.ok);
    assert_eq!(report.bytes_received, report.ok * 3 + errors * 4);
    assert_eq!(report.bytes_sent, served * 5);
    assert!(report.rate() > 0.0);
    // the window is the 400 ms plus at most one in-flight request
    assert!(report.elapsed >= Duration::from_millis(300), "{report:?}");
    assert!(report.elapsed <= Duration::from_secs(3), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_rejections_and_request_cap() {
    let addr = serve(Arc::new(|_: &Req| Some(Resp::new(204, "")))).await;
    let t = target(addr).await;
    let tt = t.clone();
    let mut c = cfg(4, 5_000);
    c.max_requests = 10;
    let started = Instant::now();
    let report = load::run(
        &t,
        &c,
        move |_| Ok(tt.request(hyper::Method::GET, "/").body(Body::default())?),
        |ex| {
            if ex.parts.headers.contains_key("x-subject-token") {
                Ok(())
            } else {
                Err("no token".to_owned())
            }
        },
    )
    .await;
    // The cap ends the run long before the 5 s.
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(report.ok, 0);
    assert!(report.errors.kinds["check: no token"].count <= 12);
    assert!(report.errors.kinds["check: no token"].count >= 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_and_refused_connections_are_errors_and_bounded() {
    // A server that never answers.
    let addr = serve(Arc::new(|_: &Req| None)).await;
    let t = target(addr).await;
    let tt = t.clone();
    let mut c = cfg(2, 600);
    c.request_timeout = Duration::from_millis(200);
    let started = Instant::now();
    let report = load::run(
        &t,
        &c,
        move |_| Ok(tt.request(hyper::Method::GET, "/").body(Body::default())?),
        load::accept_any,
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(report.ok, 0);
    assert!(report.errors.kinds["timeout"].count >= 2, "{report:?}");

    // Nobody listening.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let t = target(closed).await;
    let tt = t.clone();
    let started = Instant::now();
    let report = load::run(
        &t,
        &cfg(2, 300),
        move |_| Ok(tt.request(hyper::Method::GET, "/").body(Body::default())?),
        load::accept_any,
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(report.ok, 0);
    let refused = report.errors.kinds["connect"].count;
    // 50 ms back-off: about 6 attempts per worker in 300 ms, not thousands.
    assert!((2..=30).contains(&refused), "{refused}");
}

/// A fake Keystone: password "pw" or a token it issued gets a token.
fn fake_keystone() -> Handler {
    let issued = Arc::new(AtomicU64::new(0));
    Arc::new(move |req: &Req| {
        if req.path != "/v3/auth/tokens" {
            return Some(Resp::new(404, "not found"));
        }
        match req.method.as_str() {
            "POST" => {
                let v: serde_json::Value = serde_json::from_slice(&req.body).ok()?;
                let auth = &v["auth"];
                assert_eq!(auth["scope"]["project"]["name"], "admin");
                assert_eq!(auth["scope"]["project"]["domain"]["name"], "Default");
                let ok = match auth["identity"]["methods"][0].as_str() {
                    Some("password") => {
                        let user = &auth["identity"]["password"]["user"];
                        user["name"] == "admin"
                            && user["domain"]["name"] == "Default"
                            && user["password"] == "pw"
                    }
                    Some("token") => auth["identity"]["token"]["id"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("tok-")),
                    _ => false,
                };
                if !ok {
                    return Some(Resp::new(401, "{\"error\":\"unauthorized\"}"));
                }
                let n = issued.fetch_add(1, Ordering::Relaxed);
                let mut r = Resp::new(201, "{\"token\":{}}");
                r.headers
                    .push(("X-Subject-Token".into(), format!("tok-{n}")));
                Some(r)
            }
            "GET" => {
                let good = |h: &str| req.headers.get(h).is_some_and(|t| t.starts_with("tok-"));
                if good("x-auth-token") && good("x-subject-token") {
                    Some(Resp::new(200, "{\"token\":{\"methods\":[\"password\"]}}"))
                } else {
                    Some(Resp::new(401, "bad token"))
                }
            }
            _ => Some(Resp::new(405, "")),
        }
    })
}

fn identity_args(addr: SocketAddr, password: &str) -> IdentityArgs {
    IdentityArgs {
        url: Some(format!("http://{addr}/v3")),
        login: Login {
            username: None,
            password: Some(password.to_owned()),
            project: None,
            domain: None,
            clouds: None,
            cloud: "oxistack".into(),
        },
        concurrency: 2,
        seconds: 1,
        warmup: 0,
        pid: Some(std::process::id()),
        state_dir: None,
        phases: vec![Phase::Password, Phase::Token, Phase::Validate],
        max_requests: 1_000_000,
        timeout: 5,
        allow_remote: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_suite_against_fake_keystone() {
    let addr = serve(fake_keystone()).await;
    let results = identity::measure(&identity_args(addr, "pw")).await.unwrap();
    assert_eq!(results.phases.len(), 3);
    for p in &results.phases {
        assert!(p.load.ok > 10, "{:?}: {:?}", p.phase, p.load);
        assert_eq!(p.load.errors.total(), 0, "{:?}", p.load.errors);
        let rss = p.rss.as_ref().unwrap();
        assert!(rss.samples >= 2 && rss.max_rss_kib > 0, "{rss:?}");
    }
    assert!(matches!(results.idle, Some(Ok(m)) if m.rss_kib > 0));

    let text = identity::render(&results, "oxistack bench identity --password '***'");
    assert!(text.contains("\n| token validate | "), "{text}");
    assert!(text.contains("| token issue (token) | "), "{text}");
    assert!(text.contains("| idle RSS (before load) | "), "{text}");
    assert!(text.contains("Command: `oxistack bench identity --password '***'`"));
    assert!(text.contains("≥ 10,000 req/s"));
    assert!(!text.contains("pw"), "password leaked: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_suite_reports_bad_credentials_and_rejected_requests() {
    let addr = serve(fake_keystone()).await;
    let err = identity::measure(&identity_args(addr, "wrong"))
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("401") && msg.contains("unauthorized"), "{msg}");

    // Tokens that the server rejects during a phase are counted as errors.
    let ok_once = Arc::new(AtomicU64::new(0));
    let inner = fake_keystone();
    let addr = serve(Arc::new(move |req: &Req| {
        if req.method == "GET" && ok_once.fetch_add(1, Ordering::Relaxed) % 2 == 1 {
            return Some(Resp::new(404, "token not found"));
        }
        inner(req)
    }))
    .await;
    let mut args = identity_args(addr, "pw");
    args.phases = vec![Phase::Validate];
    args.pid = None;
    let results = identity::measure(&args).await.unwrap();
    let v = &results.phases[0].load;
    assert!(v.errors.kinds["HTTP 404"].count > 0);
    let text = identity::render(&results, "x");
    assert!(text.contains("MISS (errors)"), "{text}");
    assert!(text.contains("HTTP 404 ×"), "{text}");
    assert!(text.contains("not measured"), "{text}");
}

//! The operator's view: the `oxistack` binary's commands and refusals, a
//! real `oxistack up` process with its signals, files and logs, and the
//! HTTP hardening every API shares (in process).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may panic

use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_oxistack");

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let d = std::env::temp_dir().join(format!("oxistack-op-{}", common::ids::hex_id()));
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Ports and cheap password hashing for a cloud the test starts.
#[derive(Clone)]
struct Env(Vec<(String, String)>);

impl Env {
    fn new() -> Env {
        Env(vec![
            ("OXISTACK_IDENTITY_PORT".into(), free_port().to_string()),
            ("OXISTACK_IMAGE_PORT".into(), free_port().to_string()),
            ("OXISTACK_OBJECT_STORE_PORT".into(), free_port().to_string()),
            (
                "OXISTACK_IDENTITY_PASSWORD_HASH_MEMORY_KIB".into(),
                "256".into(),
            ),
            (
                "OXISTACK_IDENTITY_PASSWORD_HASH_ITERATIONS".into(),
                "1".into(),
            ),
        ])
    }

    fn get(&self, k: &str) -> String {
        self.0.iter().find(|(n, _)| n == k).unwrap().1.clone()
    }
}

/// `oxistack ARGS` with the test's environment (and no RUST_LOG or
/// OXISTACK_* from the caller's).
fn cmd(env: &Env, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("OXISTACK_") {
            c.env_remove(k);
        }
    }
    for (k, v) in &env.0 {
        c.env(k, v);
    }
    c
}

fn run(env: &Env, args: &[&str]) -> Output {
    cmd(env, args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn commands_refuse_what_would_silently_go_wrong() {
    let s = Scratch::new();
    let env = Env::new();
    let empty = s.0.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let empty_s = empty.to_str().unwrap();
    let absent = s.0.join("absent");
    let absent_s = absent.to_str().unwrap();

    // Key rotation and password reset need a cloud, and create nothing.
    for args in [
        vec!["identity", "rotate-keys", "--state-dir", empty_s],
        vec![
            "identity",
            "rotate-credential-keys",
            "--state-dir",
            absent_s,
        ],
        vec!["admin", "reset-password", "--state-dir", empty_s],
    ] {
        let o = run(&env, &args);
        assert!(!o.status.success(), "{args:?}");
        assert!(
            text(&o).contains("no cloud in the state directory"),
            "{}",
            text(&o)
        );
    }
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
    assert!(!absent.exists());

    // A named configuration file must exist; errors name the file and the
    // variable.
    let o = run(&env, &["status", "--config", "/missing/oxistack.toml"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("/missing/oxistack.toml"), "{}", text(&o));
    let bad = s.0.join("bad.toml");
    std::fs::write(&bad, "listen = \"127.0.0.1\"\n[identity\n").unwrap();
    let o = run(&env, &["status", "--config", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(text(&o).contains(bad.to_str().unwrap()), "{}", text(&o));
    let mut bad_env = env.clone();
    bad_env
        .0
        .push(("OXISTACK_ENABLE_SWIFT".into(), "perhaps".into()));
    let o = run(&bad_env, &["status", "--state-dir", empty_s]);
    assert!(!o.status.success());
    assert!(text(&o).contains("OXISTACK_ENABLE_SWIFT"), "{}", text(&o));

    // An invalid service section (read by the service's own crate) stops
    // `up` before it writes anything, naming the file and the rule.
    std::fs::write(&bad, "[image]\nlist_limit = 0\n").unwrap();
    let fresh = s.0.join("never-made");
    let o = run(
        &env,
        &[
            "up",
            "--config",
            bad.to_str().unwrap(),
            "--state-dir",
            fresh.to_str().unwrap(),
            "--dataplane",
            "none",
        ],
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains(&format!(
            "invalid configuration in {}: image.list_limit must be between 1 and \
             image.list_limit_max (with any OXISTACK_* overrides)",
            bad.display()
        )),
        "{}",
        text(&o)
    );
    assert!(!fresh.exists(), "nothing written");

    // Status of a directory with no cloud.
    let o = run(&env, &["status", "--state-dir", empty_s]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("running: no"), "{}", text(&o));

    // `up --help` shows the defaults and the environment variables.
    let o = run(&env, &["up", "--help"]);
    let help = text(&o);
    for want in [
        "127.0.0.1",
        "/var/lib/oxistack",
        "/etc/oxistack/oxistack.toml",
        "OXISTACK_",
        "SIGHUP",
    ] {
        assert!(help.contains(want), "{want} in {help}");
    }

    // A first start that fails (port taken) leaves no state behind: an
    // absent directory stays absent, an empty one empty.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut busy = env.clone();
    busy.0.retain(|(k, _)| k != "OXISTACK_OBJECT_STORE_PORT");
    busy.0.push((
        "OXISTACK_OBJECT_STORE_PORT".into(),
        taken.local_addr().unwrap().port().to_string(),
    ));
    for dir in [absent_s, empty_s] {
        let o = run(
            &busy,
            &[
                "up",
                "--state-dir",
                dir,
                "--dataplane",
                "none",
                "--compute-driver",
                "fake",
            ],
        );
        assert!(!o.status.success());
        assert!(text(&o).contains("cannot listen"), "{}", text(&o));
    }
    assert!(!absent.exists(), "half-made state directory left");
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
}

#[test]
fn systemd_unit_verifies() {
    let unit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/oxistack.service");
    let unit_text = std::fs::read_to_string(&unit).unwrap();
    assert!(
        unit_text.contains("ExecStart=/usr/local/bin/oxistack up --state-dir /var/lib/oxistack")
    );
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("systemd-analyze is not installed; unit syntax not verified");
        return;
    }
    // The unit as installed, with the binary this test built.
    let s = Scratch::new();
    let copy = s.0.join("oxistack.service");
    std::fs::write(&copy, unit_text.replace("/usr/local/bin/oxistack", BIN)).unwrap();
    let o = Command::new("systemd-analyze")
        .args(["verify", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(o.stderr.is_empty(), "{}", text(&o));
}

/// A running `oxistack up`, its stdout lines as they come and its stderr
/// in a file.
struct Up {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: PathBuf,
}

impl Up {
    fn start(env: &Env, state: &Path, log: &Path) -> Up {
        let err = std::fs::File::create(log).unwrap();
        let mut child = cmd(
            env,
            &[
                "up",
                "--state-dir",
                state.to_str().unwrap(),
                "--dataplane",
                "none",
                "--compute-driver",
                "fake",
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::from(err))
        .spawn()
        .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Up {
            child,
            lines,
            stderr: log.to_path_buf(),
        }
    }

    /// Stdout up to and including the credentials line.
    fn ready(&mut self) -> String {
        let mut seen = String::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_millis(200)) {
                Ok(l) => {
                    seen.push_str(&l);
                    seen.push('\n');
                    if l.starts_with("admin credentials:") {
                        return seen;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(st) = self.child.try_wait().unwrap() {
                        panic!("up exited {st}: {seen}{}", self.log());
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = self.child.wait();
                    panic!("up stopped: {seen}{}", self.log())
                }
            }
        }
        panic!("not ready in time: {seen}{}", self.log())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// SIGTERM and wait; true when the process exited 0 in time.
    fn stop(mut self) -> bool {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        false
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn token(identity: &str, user: &str, pw: &str, project: &str) -> anyhow::Result<String> {
    testkit::Client::new(identity)
        .password_token(user, pw, Some((project, "Default")))
        .await
}

fn password_in(file: &Path) -> String {
    std::fs::read_to_string(file).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cloud_process_from_start_to_stop() {
    let s = Scratch::new();
    let env = Env::new();
    let state = s.0.join("state");
    let st = state.to_str().unwrap().to_string();
    let identity = format!("http://127.0.0.1:{}", env.get("OXISTACK_IDENTITY_PORT"));

    let mut up = Up::start(&env, &state, &s.0.join("up1.log"));
    let out = up.ready();
    assert!(out.contains("oxistack ready:"), "{out}");
    assert!(
        out.contains("admin-password"),
        "the password file is named: {out}"
    );
    let admin_pw = password_in(&state.join("admin-password"));

    // DevStack's demo user, and its clouds.yaml entry.
    let clouds = std::fs::read_to_string(state.join("clouds.yaml")).unwrap();
    assert!(clouds.contains("  oxistack-demo:\n"), "{clouds}");
    let demo_pw = password_in(&state.join("demo-password"));
    assert!(clouds.contains(&demo_pw));
    token(&identity, "demo", &demo_pw, "demo").await.unwrap();

    // A second `up` on the same state names the holder.
    let o = run(&env, &["up", "--state-dir", &st, "--dataplane", "none"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains(&format!("pid {}", up.child.id())),
        "{}",
        text(&o)
    );

    // Status: running, every API answers.
    let o = run(&env, &["status", "--state-dir", &st]);
    let report = text(&o);
    assert_eq!(o.status.code(), Some(0), "{report}");
    assert!(
        report.contains(&format!("running: yes (pid {})", up.child.id())),
        "{report}"
    );
    assert_eq!(report.matches("answers 200").count(), 3, "{report}");
    // Without the cloud's environment it still asks the bound ports.
    let o = run(&Env(vec![]), &["status", "--state-dir", &st]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Key rotation on the cloud's state works.
    let o = run(&env, &["identity", "rotate-keys", "--state-dir", &st]);
    assert!(o.status.success(), "{}", text(&o));

    // SIGHUP reloads instead of killing.
    up.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        up.child.try_wait().unwrap().is_none(),
        "SIGHUP killed the process"
    );
    let o = run(&env, &["status", "--state-dir", &st]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // The operator resets the admin password while the cloud runs.
    let o = run(
        &env,
        &[
            "admin",
            "reset-password",
            "--state-dir",
            &st,
            "--password",
            "Reset-pass-1",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("admin-password"), "{}", text(&o));
    assert_eq!(password_in(&state.join("admin-password")), "Reset-pass-1");
    let clouds = std::fs::read_to_string(state.join("clouds.yaml")).unwrap();
    assert!(clouds.contains("Reset-pass-1") && clouds.contains(&demo_pw));
    assert!(token(&identity, "admin", &admin_pw, "admin").await.is_err());
    let t = token(&identity, "admin", "Reset-pass-1", "admin")
        .await
        .unwrap();

    // Then changes it through the API, fixes clouds.yaml by hand, and
    // restarts: the files are not rewritten with the stale password.
    let c = testkit::Client::new(&identity).with_token(&t);
    let me = c.get("/v3/users?name=admin").await.unwrap().body["users"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c
        .post(
            &format!("/v3/users/{me}/password"),
            json!({"user": {"password": "Api-pass-2", "original_password": "Reset-pass-1"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let fixed = clouds.replace("Reset-pass-1", "Api-pass-2");
    std::fs::write(state.join("clouds.yaml"), &fixed).unwrap();

    let log1 = up.log();
    assert!(up.stop(), "SIGTERM must stop cleanly");
    assert!(!state.join("oxistack.pid").exists());
    // Logs: plain text to a pipe, one access line per request with the
    // caller once authenticated, the reload reported.
    assert!(!log1.contains('\u{1b}'), "ANSI codes in a non-terminal log");
    assert!(log1.contains("POST /v3/auth/tokens 201"), "{log1}");
    assert!(
        log1.lines().any(
            |l| l.contains("GET /v3/users?name=admin 200") && l.contains(&format!("user={me}"))
        ),
        "{log1}"
    );
    assert!(log1.contains("log level reloaded"), "{log1}");

    let mut up = Up::start(&env, &state, &s.0.join("up2.log"));
    let out = up.ready();
    assert!(out.contains("changed through the API"), "{out}");
    assert_eq!(
        std::fs::read_to_string(state.join("clouds.yaml")).unwrap(),
        fixed
    );
    token(&identity, "admin", "Api-pass-2", "admin")
        .await
        .unwrap();
    assert!(up.stop());
}

/// A client that sends half a request head, or nothing, is cut off
/// within the header read timeout.
#[tokio::test]
async fn slow_headers_are_cut_off() {
    let cloud = testkit::TestCloud::start_with(
        |c| c.header_read_timeout = 1,
        std::sync::Arc::new(common::clock::SystemClock),
    )
    .await
    .unwrap();
    let addr = cloud
        .identity_url()
        .trim_start_matches("http://")
        .to_string();
    for partial in [&b"GET /v3 HTTP/1.1\r\nHost: x\r\nX-Slow"[..], b""] {
        let addr = addr.clone();
        let partial = partial.to_vec();
        let took = tokio::task::spawn_blocking(move || {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(&partial).unwrap();
            let started = Instant::now();
            let mut buf = [0u8; 1024];
            // Closed: EOF (or a reset), not the 10 s read timeout.
            loop {
                match s.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => continue,
                    Err(e) => {
                        assert!(
                            !matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ),
                            "not closed: {e}"
                        );
                        break;
                    }
                }
            }
            started.elapsed()
        })
        .await
        .unwrap();
        assert!(took < Duration::from_secs(4), "closed after {took:?}");
    }
    // A prompt client is served.
    let r = testkit::Client::new(&cloud.identity_url())
        .get("/v3")
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    cloud.stop().await;
}

/// Header lines over 8192 bytes and more than 126 headers get 431 in each
/// service's own error body.
#[tokio::test]
async fn header_limits_answer_431_in_the_service_body() {
    let cloud = testkit::TestCloud::start().await.unwrap();
    let long = "a".repeat(9000);
    let r = testkit::Client::new(&cloud.identity_url())
        .send("GET", "/v3", None, &[("x-long", &long)])
        .await
        .unwrap();
    assert_eq!(r.status, 431, "{}", r.text);
    assert_eq!(r.body["error"]["code"], 431, "{}", r.text);
    assert_eq!(r.body["error"]["title"], "Request Header Fields Too Large");
    let r = testkit::Client::new(&cloud.url("object-store"))
        .send("GET", "/info", None, &[("x-long", &long)])
        .await
        .unwrap();
    assert_eq!(r.status, 431);
    assert!(
        r.text.starts_with("Header line too long: x-long"),
        "{}",
        r.text
    );
    let names: Vec<String> = (0..130).map(|i| format!("x-h{i}")).collect();
    let many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
    let r = testkit::Client::new(&cloud.url("image"))
        .send("GET", "/versions", None, &many)
        .await
        .unwrap();
    assert_eq!(r.status, 431, "{}", r.text);
    assert_eq!(
        r.body["code"], "431 Request Header Fields Too Large",
        "{}",
        r.text
    );
    // Within the limits all is well.
    let r = testkit::Client::new(&cloud.identity_url())
        .send("GET", "/v3", None, &[("x-long", &"a".repeat(8000))])
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    cloud.stop().await;
}

/// Everything a connection answers to `request`, until the server closes.
fn raw_exchange(addr: &str, request: &[u8]) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Requests hyper refuses before any service code runs (a malformed
/// request line, a bad Content-Length, a head over hyper's own ceilings)
/// still get the service's error body.
#[tokio::test]
async fn unparsable_requests_get_the_service_body() {
    let cloud = testkit::TestCloud::start().await.unwrap();
    let host = |name: &str| cloud.url(name).trim_start_matches("http://").to_string();
    let (identity, object, image) = (host("identity"), host("object-store"), host("image"));
    let many: String = (0..300).map(|i| format!("X-H{i}: v\r\n")).collect();
    let answers = tokio::task::spawn_blocking(move || {
        (
            raw_exchange(&identity, b"GARBAGE LINE\r\n\r\n"),
            raw_exchange(
                &object,
                b"PUT /v1/AUTH_x/c/o HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            ),
            raw_exchange(
                &image,
                format!("GET /versions HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
            ),
        )
    })
    .await
    .unwrap();
    let (keystone, swift, glance) = answers;
    assert!(
        keystone.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{keystone}"
    );
    assert!(
        keystone.contains("content-type: application/json"),
        "{keystone}"
    );
    let body = keystone.split("\r\n\r\n").nth(1).unwrap();
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["error"]["code"], 400, "{keystone}");
    assert!(swift.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{swift}");
    assert!(swift.ends_with("<html><h1>Bad Request</h1><p>The server could not comply with the request since it is either malformed or otherwise incorrect.</p></html>"), "{swift}");
    assert!(glance.starts_with("HTTP/1.1 431 "), "{glance}");
    let body = glance.split("\r\n\r\n").nth(1).unwrap();
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["code"], "431 Request Header Fields Too Large", "{glance}");
    // The content-length hyper's caller reads matches the body.
    let len: usize = swift
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(len, swift.split("\r\n\r\n").nth(1).unwrap().len());
    cloud.stop().await;
}

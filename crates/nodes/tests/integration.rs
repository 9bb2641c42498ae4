//! The internal API and the node agent together: in the real cloud
//! (`TestCloud`), and against a bare node registry that is stopped and
//! started under a running agent. Everything listens on 127.0.1.2.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may panic

use agent::{AgentConfig, Progress, RoleHandler};
use common::auth::BoxFuture;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::{Client, TestCloud};
use tokio::sync::watch;

const LISTEN: &str = "127.0.1.2";

/// A cloud whose in-process agent has registered: its registration bumps
/// the nodes counter, and a test reading revisions must not race it.
async fn cloud() -> TestCloud {
    let tc = TestCloud::start_with(
        |c| c.listen = LISTEN.into(),
        Arc::new(common::clock::SystemClock),
    )
    .await
    .unwrap();
    for _ in 0..200 {
        if !tc.cloud.nodes.list().await.unwrap().nodes.is_empty() {
            return tc;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the in-process agent did not register within 10 s");
}

fn secret(tc: &TestCloud) -> String {
    nodes::secret::read(&tc.cloud.state.path.join(nodes::SECRET_FILE)).unwrap()
}

/// Records every document it is handed, and reports how many it saw.
#[derive(Default)]
struct Recorder {
    docs: Mutex<Vec<Value>>,
}

struct Handler(&'static str, Arc<Recorder>);

impl RoleHandler for Handler {
    fn role(&self) -> &'static str {
        self.0
    }
    fn apply<'a>(&'a self, document: &'a Value) -> BoxFuture<'a, Value> {
        Box::pin(async move {
            let mut docs = self.1.docs.lock().unwrap();
            docs.push(document.clone());
            json!({"applied": docs.len()})
        })
    }
}

fn agent_config(url: &str, name: &str, secret: String) -> AgentConfig {
    let mut c = AgentConfig::new(url, name, vec!["network".into(), "compute".into()], secret);
    c.address = "192.0.2.7".into();
    c.poll_timeout = Duration::from_secs(5);
    c.backoff_min = Duration::from_millis(50);
    c.backoff_max = Duration::from_millis(300);
    c
}

async fn wait_for(rx: &mut watch::Receiver<Progress>, what: &str, f: impl Fn(&Progress) -> bool) {
    let got = tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|p| f(p)))
        .await
        .map(|r| r.map(|_| ()));
    match got {
        Ok(r) => r.unwrap(),
        Err(_) => panic!("timed out waiting for {what}: {:?}", *rx.borrow()),
    }
}

async fn bump(db: &db::Db, name: &str) {
    let mut tx = db.begin_write().await.unwrap();
    tx.bump(name).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn an_agent_registers_long_polls_applies_and_reports() {
    let tc = cloud().await;
    let url = format!("http://{}", tc.cloud.internal_api);
    let rec = Arc::new(Recorder::default());
    let (tx, mut rx) = watch::channel(Progress::default());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(agent::run(
        agent_config(&url, "node-b", secret(&tc)),
        vec![Arc::new(Handler("network", rec.clone()))],
        async {
            let _ = stop_rx.await;
        },
        Some(tx),
    ));
    wait_for(&mut rx, "the first document", |p| p.applied.is_some()).await;
    let first = rx.borrow().applied.unwrap();
    {
        let docs = rec.docs.lock().unwrap();
        let doc = docs.last().unwrap();
        assert_eq!(doc["node"]["name"], "node-b");
        assert_eq!(doc["node"]["address"], "192.0.2.7");
        assert_eq!(doc["node"]["roles"], json!(["network", "compute"]));
        assert_eq!(doc["roles"], json!({"network": {}, "compute": {}}));
        // The network service's part: nothing bound to this node yet.
        assert_eq!(doc["parts"]["network"]["ports"], json!([]));
    }

    // A change to what the document depends on reaches the agent at once.
    let t = std::time::Instant::now();
    bump(&tc.cloud.nodes.db, nodes::REVISION).await;
    wait_for(&mut rx, "the new document", |p| p.applied > Some(first)).await;
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(rec.docs.lock().unwrap().len(), 2);

    // The admin listing shows the node, up, with its last report; the
    // cloud's own in-process agent is there too, holding every role.
    let admin = tc.admin().await.unwrap();
    let token = admin.token().unwrap().to_string();
    let internal = Client::new(&url).with_token(&token);
    let mut listed = Value::Null;
    for _ in 0..100 {
        let r = internal.get("/internal/v1/nodes").await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        listed = r.body;
        let b = listed["nodes"].as_array().unwrap();
        let done = b.iter().any(|n| {
            n["name"] == "node-b" && n["status"]["revision"].as_i64() == rx.borrow().applied
        }) && b
            .iter()
            .any(|n| n["roles"] == json!(["controller", "network", "compute"]));
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let nodes = listed["nodes"].as_array().unwrap();
    let b = nodes.iter().find(|n| n["name"] == "node-b").unwrap();
    assert_eq!(b["state"], "up");
    assert_eq!(b["status"]["roles"]["network"], json!({"applied": 2}));
    assert_eq!(b["status"]["roles"]["compute"], json!({"handled": false}));
    assert!(b["status_at"].is_string());
    assert!(b.get("token").is_none() && b.get("token_hash").is_none());
    let local = nodes
        .iter()
        .find(|n| n["roles"] == json!(["controller", "network", "compute"]))
        .unwrap_or_else(|| panic!("no in-process agent in {listed}"));
    assert_eq!(local["state"], "up");

    stop_tx.send(()).unwrap();
    task.await.unwrap().unwrap();
    // The in-process agent's long-poll does not hold the stop up.
    let t = std::time::Instant::now();
    tc.stop().await;
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "stop took {:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn user_tokens_and_node_tokens_do_not_cross() {
    let tc = cloud().await;
    let url = format!("http://{}", tc.cloud.internal_api);
    let raw = Client::new(&url);
    let admin = tc.admin().await.unwrap();
    let user_token = admin.token().unwrap().to_string();

    // Registration takes the join secret, nothing else.
    let body = json!({"hostname": "h", "address": "192.0.2.9", "roles": ["compute"]});
    let r = raw
        .send(
            "PUT",
            "/internal/v1/nodes/n1",
            Some(&body),
            &[("x-auth-token", &user_token)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not user tokens"));
    let r = raw
        .send(
            "PUT",
            "/internal/v1/nodes/n1",
            Some(&body),
            &[("authorization", "Bearer wrong")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 401, "{}", r.text);
    let auth = format!("Bearer {}", secret(&tc));
    let r = raw
        .send(
            "PUT",
            "/internal/v1/nodes/n1",
            Some(&body),
            &[("authorization", &auth)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let token = r.body["token"].as_str().unwrap().to_string();
    let node_auth = format!("Bearer {token}");

    // A user token is refused on every node call, even an admin's.
    for (m, p) in [
        ("GET", "/internal/v1/nodes/n1/desired-state"),
        ("POST", "/internal/v1/nodes/n1/heartbeat"),
    ] {
        let r = raw
            .send(m, p, None, &[("x-auth-token", &user_token)])
            .await
            .unwrap();
        assert_eq!(r.status, 401, "{m} {p}: {}", r.text);
    }
    // A node token is not a user token: no listing with it.
    let r = raw
        .send(
            "GET",
            "/internal/v1/nodes",
            None,
            &[("authorization", &node_auth)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 401, "{}", r.text);
    // A non-admin user may not list.
    let demo_pw = tc.cloud.state.demo_password().unwrap();
    let demo = Client::new(&tc.identity_url())
        .password_token("demo", &demo_pw, Some(("demo", "Default")))
        .await
        .unwrap();
    let r = raw
        .send(
            "GET",
            "/internal/v1/nodes",
            None,
            &[("x-auth-token", &demo)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 403, "{}", r.text);

    // The node's token works for itself only, and re-registering rotates it.
    let r = raw
        .send(
            "POST",
            "/internal/v1/nodes/n1/heartbeat",
            None,
            &[("authorization", &node_auth)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = raw
        .send(
            "POST",
            "/internal/v1/nodes/other/heartbeat",
            None,
            &[("authorization", &node_auth)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 401, "{}", r.text);
    let r = raw
        .send(
            "PUT",
            "/internal/v1/nodes/n1",
            Some(&body),
            &[("authorization", &auth)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = raw
        .send(
            "POST",
            "/internal/v1/nodes/n1/heartbeat",
            None,
            &[("authorization", &node_auth)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 401, "the old token must stop working: {}", r.text);

    // Bad input is a 400 in the service's body, never a 500.
    for bad in [
        json!({"hostname": "h", "address": "a", "roles": ["storage"]}),
        json!({"hostname": "h", "address": "a", "roles": []}),
        json!({"hostname": "h", "roles": ["compute"]}),
    ] {
        let r = raw
            .send(
                "PUT",
                "/internal/v1/nodes/n2",
                Some(&bad),
                &[("authorization", &auth)],
            )
            .await
            .unwrap();
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert!(r.body["error"]["message"].is_string());
    }
    let r = raw
        .send(
            "PUT",
            "/internal/v1/nodes/bad%20name",
            Some(&body),
            &[("authorization", &auth)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text);
    tc.stop().await;
}

#[tokio::test]
async fn the_long_poll_answers_at_once_waits_and_wakes() {
    let tc = cloud().await;
    let url = format!("http://{}", tc.cloud.internal_api);
    let raw = Client::new(&url);
    let auth = format!("Bearer {}", secret(&tc));
    let body = json!({"hostname": "h", "address": "192.0.2.9", "roles": ["network"]});
    let r = raw
        .send(
            "PUT",
            "/internal/v1/nodes/p1",
            Some(&body),
            &[("authorization", &auth)],
        )
        .await
        .unwrap();
    let node_auth = format!("Bearer {}", r.body["token"].as_str().unwrap());
    let h = [("authorization", node_auth.as_str())];

    let r = raw
        .send("GET", "/internal/v1/nodes/p1/desired-state", None, &h)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let rev = r.body["revision"].as_i64().unwrap();
    let r = raw
        .send(
            "GET",
            &format!("/internal/v1/nodes/p1/desired-state?after={}", rev - 1),
            None,
            &h,
        )
        .await
        .unwrap();
    assert_eq!((r.status, r.body["revision"].as_i64()), (200, Some(rev)));

    // Nothing newer: waits out the timeout, then 304.
    let t = std::time::Instant::now();
    let r = raw
        .send(
            "GET",
            &format!("/internal/v1/nodes/p1/desired-state?after={rev}&timeout=1"),
            None,
            &h,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 304, "{}", r.text);
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t.elapsed()
    );

    // A bump during the wait answers it at once with the new revision.
    let poll = {
        let raw = raw.clone();
        let node_auth = node_auth.clone();
        tokio::spawn(async move {
            let t = std::time::Instant::now();
            let r = raw
                .send(
                    "GET",
                    &format!("/internal/v1/nodes/p1/desired-state?after={rev}&timeout=30"),
                    None,
                    &[("authorization", node_auth.as_str())],
                )
                .await
                .unwrap();
            (r, t.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    bump(&tc.cloud.nodes.db, nodes::REVISION).await;
    let (r, took) = poll.await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["revision"].as_i64().unwrap() > rev);
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // Re-registering the node during a poll: the old token's poll gets a
    // 401, not the document.
    let rev = r.body["revision"].as_i64().unwrap();
    let poll = {
        let raw = raw.clone();
        let node_auth = node_auth.clone();
        tokio::spawn(async move {
            raw.send(
                "GET",
                &format!("/internal/v1/nodes/p1/desired-state?after={rev}&timeout=30"),
                None,
                &[("authorization", node_auth.as_str())],
            )
            .await
            .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = raw
        .send(
            "PUT",
            "/internal/v1/nodes/p1",
            Some(&body),
            &[("authorization", &auth)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, 401, "{}", r.text);
    let node_auth = format!("Bearer {}", r_token(&raw, &auth, &body).await);
    let h = [("authorization", node_auth.as_str())];

    for q in ["after=x", "timeout=-1", "after=1&timeout=soon"] {
        let r = raw
            .send(
                "GET",
                &format!("/internal/v1/nodes/p1/desired-state?{q}"),
                None,
                &h,
            )
            .await
            .unwrap();
        assert_eq!(r.status, 400, "{q}: {}", r.text);
    }
    // A status for a role the node does not hold is refused.
    let r = raw
        .send(
            "PUT",
            "/internal/v1/nodes/p1/status",
            Some(&json!({"revision": rev, "roles": {"compute": {}}})),
            &h,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text);
    tc.stop().await;
}

/// Registers node p1 again and returns its new token.
async fn r_token(raw: &Client, auth: &str, body: &Value) -> String {
    let r = raw
        .send(
            "PUT",
            "/internal/v1/nodes/p1",
            Some(body),
            &[("authorization", auth)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["token"].as_str().unwrap().to_string()
}

/// A user-token validator for a registry without identity: refuses all.
struct NoUsers;

impl common::auth::TokenValidator for NoUsers {
    fn validate<'a>(
        &'a self,
        _token: &'a str,
    ) -> BoxFuture<'a, Result<Arc<common::context::AuthContext>, common::Error>> {
        Box::pin(async { Err(common::Error::unauthorized("no users here")) })
    }
}

/// A service's part of the document, keyed by its own counter; it keeps
/// the status reports handed to it.
#[derive(Default)]
struct Part {
    reports: Mutex<Vec<(String, Value)>>,
}

impl nodes::DesiredStateSource for Part {
    fn name(&self) -> &'static str {
        "test"
    }
    fn counter(&self) -> &'static str {
        "test-part"
    }
    fn part<'a>(
        &'a self,
        node: &'a nodes::NodeInfo,
    ) -> BoxFuture<'a, Result<Value, common::Error>> {
        Box::pin(async move { Ok(json!({"for": node.name})) })
    }
    fn report<'a>(
        &'a self,
        node: &'a nodes::NodeInfo,
        roles: &'a serde_json::Map<String, Value>,
    ) -> BoxFuture<'a, Result<(), common::Error>> {
        self.reports
            .lock()
            .unwrap()
            .push((node.name.clone(), Value::Object(roles.clone())));
        Box::pin(async { Ok(()) })
    }
}

/// A service's internal router: who is calling.
fn whoami() -> axum::Router {
    axum::Router::new().route(
        "/whoami",
        axum::routing::get(
            |axum::Extension(n): axum::Extension<nodes::NodeInfo>| async move { n.name },
        ),
    )
}

/// Serves a registry over `db` on `addr` until the returned sender fires.
async fn serve(
    db: &db::Db,
    addr: std::net::SocketAddr,
    part: Arc<Part>,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let reg = Arc::new(nodes::Nodes::new(
        db.clone(),
        Arc::new(common::clock::SystemClock),
        "join-secret",
        Arc::new(NoUsers),
        vec![part],
        nodes::Settings::default(),
    ));
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(nodes::serve(
        reg,
        listener,
        async {
            let _ = rx.await;
        },
        common::http::serve::ServeOptions::new(Arc::new(identity::api::errors::Keystone)),
        65536,
        vec![("test", whoami())],
    ));
    (tx, task)
}

#[tokio::test]
async fn the_agent_waits_out_a_controller_restart_and_converges() {
    let dir = db::testing::TestDir::new().unwrap();
    let db = dir.fresh().await.unwrap();
    // A free port on our address, closed again: the controller is away.
    let addr = tokio::net::TcpListener::bind((LISTEN, 0))
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let rec = Arc::new(Recorder::default());
    let (tx, mut rx) = watch::channel(Progress::default());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let agent_task = tokio::spawn(agent::run(
        agent_config(&format!("http://{addr}"), "n-restart", "join-secret".into()),
        vec![Arc::new(Handler("network", rec.clone()))],
        async {
            let _ = stop_rx.await;
        },
        Some(tx),
    ));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(*rx.borrow(), Progress::default(), "nothing to talk to yet");

    // The controller comes up: the agent registers and applies.
    let (stop1, srv1) = serve(&db, addr, Arc::default()).await;
    wait_for(&mut rx, "the first document", |p| p.applied.is_some()).await;
    assert_eq!(
        rec.docs.lock().unwrap()[0]["parts"]["test"],
        json!({"for": "n-restart"})
    );
    let first = rx.borrow().applied.unwrap();

    // The controller goes away (ending the agent's long-poll in flight at
    // once rather than waiting it out); the state moves on meanwhile.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = std::time::Instant::now();
    stop1.send(()).unwrap();
    srv1.await.unwrap().unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "stop took {:?}",
        t.elapsed()
    );
    bump(&db, "test-part").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.borrow().applied, Some(first));

    // Back again: the agent converges to the new revision, with its
    // token still valid (no new registration needed).
    let (stop2, srv2) = serve(&db, addr, Arc::default()).await;
    wait_for(&mut rx, "the document after the restart", |p| {
        p.applied > Some(first)
    })
    .await;
    assert_eq!(rx.borrow().registrations, 1);

    // The node is re-registered elsewhere (token rotated): the agent's
    // next call gets a 401 and it registers again.
    let reg = nodes::Nodes::new(
        db.clone(),
        Arc::new(common::clock::SystemClock),
        "join-secret",
        Arc::new(NoUsers),
        vec![],
        nodes::Settings::default(),
    );
    reg.register(
        "join-secret",
        "n-restart",
        nodes::wire::RegisterRequest {
            hostname: "h".into(),
            address: "192.0.2.7".into(),
            roles: vec!["network".into(), "compute".into()],
        },
    )
    .await
    .unwrap();
    wait_for(&mut rx, "a second registration", |p| p.registrations >= 2).await;

    stop_tx.send(()).unwrap();
    agent_task.await.unwrap().unwrap();
    stop2.send(()).unwrap();
    srv2.await.unwrap().unwrap();
    db.close().await;
}

/// A service's internal routes answer only the named node's own token,
/// and a node's status report reaches the services' parts.
#[tokio::test]
async fn service_routes_take_node_credentials_and_reports_reach_services() {
    let dir = db::testing::TestDir::new().unwrap();
    let db = dir.fresh().await.unwrap();
    let addr = tokio::net::TcpListener::bind((LISTEN, 0))
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let part = Arc::new(Part::default());
    let (stop, srv) = serve(&db, addr, part.clone()).await;
    let reg = nodes::Nodes::new(
        db.clone(),
        Arc::new(common::clock::SystemClock),
        "join-secret",
        Arc::new(NoUsers),
        vec![],
        nodes::Settings::default(),
    );
    let mut tokens = Vec::new();
    for name in ["n1", "n2"] {
        let r = reg
            .register(
                "join-secret",
                name,
                nodes::wire::RegisterRequest {
                    hostname: name.into(),
                    address: "192.0.2.8".into(),
                    roles: vec!["network".into()],
                },
            )
            .await
            .unwrap();
        tokens.push(format!("Bearer {}", r.token));
    }
    let raw = Client::new(&format!("http://{addr}"));
    let whoami = |node: &str| format!("/internal/v1/nodes/{node}/test/whoami");
    let r = raw
        .send("GET", &whoami("n1"), None, &[("authorization", &tokens[0])])
        .await
        .unwrap();
    assert_eq!((r.status, r.text.as_str()), (200, "n1"));
    for (path, headers) in [
        (whoami("n1"), vec![]),
        (whoami("n1"), vec![("x-auth-token", "a-user-token")]),
        (whoami("n1"), vec![("authorization", tokens[1].as_str())]),
        (whoami("n2"), vec![("authorization", tokens[0].as_str())]),
        (
            whoami("nobody"),
            vec![("authorization", tokens[0].as_str())],
        ),
    ] {
        let r = raw.send("GET", &path, None, &headers).await.unwrap();
        assert_eq!(r.status, 401, "{path} {headers:?}: {}", r.text);
    }
    // An unknown route under a service is the API's 404.
    let r = raw
        .send(
            "GET",
            "/internal/v1/nodes/n1/test/nothing",
            None,
            &[("authorization", &tokens[0])],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 404, "{}", r.text);

    let status = json!({"network": {"ports": {"p1": "ACTIVE"}}});
    let r = raw
        .send(
            "PUT",
            "/internal/v1/nodes/n2/status",
            Some(&json!({"revision": 3, "roles": status})),
            &[("authorization", &tokens[1])],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        *part.reports.lock().unwrap(),
        vec![("n2".to_string(), status)]
    );

    stop.send(()).unwrap();
    srv.await.unwrap().unwrap();
    db.close().await;
}

//! What the compute role's end-to-end tests share (`compute_cloud.rs` on
//! the fake driver, `compute_qemu.rs` on real QEMU): a cloud whose
//! controller drives its servers through node agents
//! (`compute_driver = "qemu"`), a real agent (`agent::run`) with the
//! compute role on a driver the test picks, image uploads and polling a
//! server to a status.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use agent::compute::{ComputeRole, ComputeRoleConfig};
use agent::AgentConfig;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::{Client, TestCloud};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use virt::VirtDriver;

/// The name the controller gives its own host, which the test's agent
/// takes so the scheduler sees this host's capacity.
pub fn host_name() -> String {
    let h = agent::hostname();
    if h.is_empty() {
        "localhost".into()
    } else {
        h
    }
}

/// A cloud whose servers live on node agents, and its admin's compute
/// client. `call_s`/`spawn_s` bound how long the controller waits for a
/// node's answer to a call and to a spawn.
pub async fn remote_cloud(call_s: u64, spawn_s: u64) -> (TestCloud, Client) {
    let tc = TestCloud::start_with(
        |c| {
            c.compute_driver = "qemu".into();
            // The cloud's own in-process agent takes another name: this
            // test's agent is this host's compute node, and two agents
            // under one name would keep taking each other's token.
            c.update_section::<agent::config::AgentSection>(|a| a.node_name = "ctl-agent".into())
                .unwrap();
            c.update_section::<compute::config::ComputeConfig>(|s| {
                s.agent_call_timeout_s = call_s;
                s.agent_spawn_timeout_s = spawn_s;
            })
            .unwrap();
        },
        Arc::new(common::clock::SystemClock),
    )
    .await
    .unwrap();
    let admin = tc.admin().await.unwrap().at(&tc.url("compute"));
    (tc, admin)
}

/// An agent with the compute role, running until [`RunningAgent::stop`].
pub struct RunningAgent {
    pub cfg: AgentConfig,
    stop_tx: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningAgent {
    pub async fn stop(self) {
        let _ = self.stop_tx.send(());
        self.task.await.unwrap().unwrap();
    }
}

/// Starts this host's agent with only the compute role, over `state`;
/// `driver` gets the agent's configuration (a real driver fetches images
/// with the agent's token).
pub fn start_agent(
    tc: &TestCloud,
    state: &Path,
    power_poll: Duration,
    driver: impl FnOnce(&AgentConfig) -> Arc<dyn VirtDriver>,
) -> RunningAgent {
    let secret = nodes::secret::read(&tc.cloud.state.path.join(nodes::SECRET_FILE)).unwrap();
    let mut cfg = AgentConfig::new(
        &format!("http://{}", tc.cloud.internal_api),
        &host_name(),
        vec!["compute".into()],
        secret,
    );
    cfg.address = "127.0.0.1".into();
    cfg.poll_timeout = Duration::from_secs(5);
    cfg.backoff_min = Duration::from_millis(50);
    cfg.backoff_max = Duration::from_millis(300);
    let mut rc = ComputeRoleConfig::new(state.to_path_buf());
    rc.power_poll = power_poll;
    rc.controller = Some(agent::compute::images::ControllerStreams::new(&cfg));
    let role = ComputeRole::start(driver(&cfg), rc, None).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(agent::run(
        cfg.clone(),
        vec![role],
        async {
            let _ = stop_rx.await;
        },
        None,
    ));
    RunningAgent { cfg, stop_tx, task }
}

/// Creates a public image of `disk_format` holding `bytes`; its id.
pub async fn upload_image(
    tc: &TestCloud,
    admin: &Client,
    name: &str,
    disk_format: &str,
    bytes: Vec<u8>,
) -> String {
    let g = admin.at(&tc.url("image"));
    let r = g
        .post(
            "/v2/images",
            json!({"name": name, "disk_format": disk_format, "container_format": "bare",
                   "visibility": "public"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = g
        .send_bytes(
            "PUT",
            &format!("/v2/images/{id}/file"),
            bytes::Bytes::from(bytes),
            &[("content-type", "application/octet-stream")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    id
}

/// Polls until the server has `status` with no task running, within
/// `limit`; its last view. An ERROR it was not waiting for fails at once.
pub async fn wait_status(c: &Client, id: &str, status: &str, limit: Duration) -> Value {
    let started = Instant::now();
    let mut last = Value::Null;
    while started.elapsed() < limit {
        let r = c.get(&format!("/v2.1/servers/{id}")).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        let s = &r.body["server"];
        if s["status"] == status && s["OS-EXT-STS:task_state"].is_null() {
            return s.clone();
        }
        if status != "ERROR" {
            assert_ne!(s["status"], "ERROR", "{}", r.text);
        }
        last = r.body.clone();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server {id} never reached {status}: {last}");
}

/// A websocket to the noVNC proxy for server `id`'s console, opened as
/// noVNC opens it (the URL's token, the `binary` subprotocol).
pub async fn novnc(
    c: &Client,
    id: &str,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let r = c
        .send(
            "POST",
            &format!("/v2.1/servers/{id}/remote-consoles"),
            Some(&json!({"remote_console": {"protocol": "vnc", "type": "novnc"}})),
            &[("openstack-api-version", "compute 2.6")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let url = r.body["remote_console"]["url"].as_str().unwrap();
    let (origin, token) = url.split_once("/vnc_lite.html?path=%3Ftoken%3D").unwrap();
    let addr = origin.trim_start_matches("http://");
    let mut req = format!("ws://{addr}/?token={token}")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", "binary".parse().unwrap());
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio_tungstenite::client_async(req, tcp).await.unwrap().0
}

/// Snapshots server `id` as image `name` (createImage at 2.45) and waits
/// up to `limit` for the image to be active; the image as Glance shows it.
pub async fn snapshot(tc: &TestCloud, c: &Client, id: &str, name: &str, limit: Duration) -> Value {
    let r = c
        .send(
            "POST",
            &format!("/v2.1/servers/{id}/action"),
            Some(&json!({"createImage": {"name": name}})),
            &[("openstack-api-version", "compute 2.45")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    let snap = r.body["image_id"].as_str().unwrap().to_string();
    let glance = c.at(&tc.url("image"));
    let started = Instant::now();
    let mut image = Value::Null;
    while started.elapsed() < limit {
        let r = glance.get(&format!("/v2/images/{snap}")).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        image = r.body.clone();
        if image["status"] == "active" {
            return image;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("snapshot {snap} of {id} never became active: {image}");
}

/// Posts an action the API accepts with 202.
pub async fn act(c: &Client, id: &str, body: Value) {
    let r = c
        .post(&format!("/v2.1/servers/{id}/action"), body)
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
}

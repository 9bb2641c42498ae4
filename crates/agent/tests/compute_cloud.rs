//! The compute role end to end, in process and without root: a cloud
//! with `compute_driver = "qemu"` (so the controller's remote driver)
//! and `dataplane = none`, and a real agent (`agent::run`) whose compute
//! role runs the fake driver, wrapped to count the calls it gets and to
//! fail spawning a guest named `doomed`. Servers are built, acted on,
//! read and deleted through the feed; a restarted agent runs nothing
//! twice; a guest gone behind the agent's back makes its server SHUTOFF.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod compute_support;

use agent::compute::{ComputeRole, ComputeRoleConfig};
use compute_support::{
    act, host_name, novnc, remote_cloud, snapshot, start_agent, upload_image, wait_status,
    RunningAgent,
};
use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::{Client, TestCloud};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use virt::fake::FakeDriver;
use virt::ImageFetcher;
use virt::{
    ConsoleStream, ImageRef, InstanceSpec, PowerState, RebootKind, Snapshot, Vif, VirtDriver,
    VirtError, VirtResult,
};

/// The fake driver, counting calls by name; spawning `doomed` fails.
struct Counting {
    inner: FakeDriver,
    calls: Mutex<Vec<(String, String)>>,
}

impl Counting {
    fn new() -> Arc<Counting> {
        Arc::new(Counting {
            inner: FakeDriver::new(0, false),
            calls: Mutex::default(),
        })
    }
    fn note(&self, op: &str, id: &str) {
        self.calls.lock().unwrap().push((op.into(), id.into()));
    }
    fn count(&self, op: &str, id: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(o, i)| o == op && i == id)
            .count()
    }
}

impl VirtDriver for Counting {
    fn spawn<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        self.note("spawn", &spec.id);
        if spec.hostname == "doomed" {
            return Box::pin(async {
                Err(VirtError::Failed("no room for doomed on this host".into()))
            });
        }
        self.inner.spawn(spec)
    }
    fn destroy<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        self.note("destroy", id);
        self.inner.destroy(id)
    }
    fn reboot<'a>(&'a self, id: &'a str, kind: RebootKind) -> BoxFuture<'a, VirtResult<()>> {
        self.note("reboot", id);
        self.inner.reboot(id, kind)
    }
    fn power_off<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        self.note("power_off", id);
        self.inner.power_off(id)
    }
    fn power_on<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        self.note("power_on", id);
        self.inner.power_on(id)
    }
    fn pause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        self.inner.pause(id)
    }
    fn unpause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        self.inner.unpause(id)
    }
    fn suspend<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        self.inner.suspend(id)
    }
    fn resume<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        self.inner.resume(id)
    }
    fn get_info<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<PowerState>> {
        self.inner.get_info(id)
    }
    fn list_instances<'a>(&'a self) -> BoxFuture<'a, VirtResult<Vec<String>>> {
        self.inner.list_instances()
    }
    fn console_output<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<Vec<String>>> {
        self.note("console_output", id);
        self.inner.console_output(id)
    }
    fn rebuild<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        self.inner.rebuild(spec)
    }
    fn resize<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        self.inner.resize(spec)
    }
    fn confirm_resize<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        self.inner.confirm_resize(id)
    }
    fn revert_resize<'a>(&'a self, old: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        self.inner.revert_resize(old)
    }
    /// The guest's "disk", in two chunks, once the guest is known.
    fn snapshot<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<Snapshot>> {
        self.note("snapshot", id);
        Box::pin(async move {
            self.inner.get_info(id).await?;
            let chunks = vec![
                Ok(bytes::Bytes::from_static(b"disk of ")),
                Ok(bytes::Bytes::from(id.to_string())),
            ];
            Ok(Snapshot {
                disk_format: "raw".into(),
                container_format: "bare".into(),
                data: futures_util::stream::iter(chunks).boxed(),
            })
        })
    }
    fn rescue<'a>(
        &'a self,
        spec: &'a InstanceSpec,
        image: &'a ImageRef,
    ) -> BoxFuture<'a, VirtResult<()>> {
        self.inner.rescue(spec, image)
    }
    fn unrescue<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        self.inner.unrescue(spec)
    }
    fn attach_interface<'a>(&'a self, id: &'a str, vif: &'a Vif) -> BoxFuture<'a, VirtResult<()>> {
        self.inner.attach_interface(id, vif)
    }
    fn detach_interface<'a>(
        &'a self,
        id: &'a str,
        port_id: &'a str,
    ) -> BoxFuture<'a, VirtResult<()>> {
        self.inner.detach_interface(id, port_id)
    }
    /// A stand-in VNC server: greets as RFB 3.8 and echoes what it gets.
    fn open_console<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<ConsoleStream>> {
        self.note("open_console", id);
        Box::pin(async move {
            self.inner.get_info(id).await?;
            let (ours, mut server) = tokio::io::duplex(4096);
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                server.write_all(b"RFB 003.008\n").await?;
                let mut buf = [0u8; 256];
                loop {
                    let n = server.read(&mut buf).await?;
                    if n == 0 {
                        return Ok::<(), std::io::Error>(());
                    }
                    server.write_all(&buf[..n]).await?;
                }
            });
            Ok(Box::new(ours) as ConsoleStream)
        })
    }
}

async fn cloud() -> (TestCloud, Client) {
    remote_cloud(30, 30).await
}

fn start(tc: &TestCloud, driver: Arc<Counting>, state: &std::path::Path) -> RunningAgent {
    start_agent(tc, state, Duration::from_millis(100), |_| driver)
}

async fn image(tc: &TestCloud, admin: &Client) -> String {
    upload_image(tc, admin, "cirros", "raw", b"not really a disk".to_vec()).await
}

async fn create(c: &Client, name: &str, img: &str) -> String {
    let r = c
        .post(
            "/v2.1/servers",
            json!({"server": {"name": name, "imageRef": img, "flavorRef": "1",
                              "networks": "none"}}),
        )
        .await
        .unwrap();
    // `networks: none` needs 2.37.
    let r = if r.status == 400 {
        c.send(
            "POST",
            "/v2.1/servers",
            Some(
                &json!({"server": {"name": name, "imageRef": img, "flavorRef": "1",
                                    "networks": "none"}}),
            ),
            &[("openstack-api-version", "compute 2.37")],
        )
        .await
        .unwrap()
    } else {
        r
    };
    assert_eq!(r.status, 202, "{}", r.text);
    r.body["server"]["id"].as_str().unwrap().to_string()
}

async fn wait(c: &Client, id: &str, status: &str) -> Value {
    wait_status(c, id, status, Duration::from_secs(30)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_live_on_the_agents_driver_through_the_feed() {
    let (tc, admin) = cloud().await;
    let state = tempfile::tempdir().unwrap();
    let driver = Counting::new();
    let agent = start(&tc, driver.clone(), state.path());
    let img = image(&tc, &admin).await;

    // Built on the node: the spawn ran there, once.
    let id = create(&admin, "vm1", &img).await;
    let s = wait(&admin, &id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-STS:power_state"], 1);
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], json!(host_name()));
    assert_eq!(driver.count("spawn", &id), 1);
    assert_eq!(
        driver.inner.get_info(&id).await.unwrap(),
        PowerState::Running
    );

    // The node reads its server's image through the internal API, with
    // its own token only, and no other image.
    let fetcher = agent::compute::images::HttpImageFetcher::new(&agent.cfg);
    let bytes: Vec<u8> = fetcher
        .fetch(&img)
        .await
        .unwrap()
        .map(|b| b.unwrap().to_vec())
        .concat()
        .await;
    assert_eq!(bytes, b"not really a disk");
    let other = image(&tc, &admin).await;
    let e = fetcher.fetch(&other).await.err().unwrap();
    assert!(e.to_string().contains("404"), "{e}");
    let internal = Client::new(&format!("http://{}", tc.cloud.internal_api));
    let path = format!(
        "/internal/v1/nodes/{}/compute/images/{img}/file",
        host_name()
    );
    let r = internal
        .send(
            "GET",
            &path,
            None,
            &[("authorization", "Bearer not-the-token")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 401, "{}", r.text);
    let token = agent.cfg.token.get().unwrap();
    let bearer = format!("Bearer {token}");
    let r = internal
        .send("GET", &path, None, &[("authorization", bearer.as_str())])
        .await
        .unwrap();
    assert_eq!((r.status, r.text.as_str()), (200, "not really a disk"));

    // Round trips of actions.
    act(&admin, &id, json!({"os-stop": null})).await;
    let s = wait(&admin, &id, "SHUTOFF").await;
    assert_eq!(s["OS-EXT-STS:power_state"], 4);
    assert_eq!(
        driver.inner.get_info(&id).await.unwrap(),
        PowerState::Shutdown
    );
    act(&admin, &id, json!({"os-start": null})).await;
    wait(&admin, &id, "ACTIVE").await;
    act(&admin, &id, json!({"reboot": {"type": "HARD"}})).await;
    wait(&admin, &id, "ACTIVE").await;
    assert_eq!(driver.count("reboot", &id), 1);
    assert_eq!(driver.count("power_on", &id), 1);

    // The console comes back from the node.
    let r = admin
        .post(
            &format!("/v2.1/servers/{id}/action"),
            json!({"os-getConsoleOutput": {"length": 50}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let out = r.body["output"].as_str().unwrap();
    assert!(
        out.contains("vm1 login: booted by the fake driver"),
        "{out}"
    );

    // A spawn the node fails: ERROR with the node's message, the guest
    // destroyed on the node.
    let bad = create(&admin, "doomed", &img).await;
    let s = wait(&admin, &bad, "ERROR").await;
    let msg = s["fault"]["message"].as_str().unwrap();
    assert!(msg.contains("no room for doomed on this host"), "{s}");
    assert_eq!(driver.count("destroy", &bad), 1);

    // A restarted agent (same state directory, the guests kept, as QEMU
    // processes outlive their agent) runs nothing again.
    let calls_before = driver.calls.lock().unwrap().len();
    agent.stop().await;
    let agent = start(&tc, driver.clone(), state.path());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(driver.calls.lock().unwrap().len(), calls_before);
    act(&admin, &id, json!({"os-stop": null})).await;
    wait(&admin, &id, "SHUTOFF").await;
    act(&admin, &id, json!({"os-start": null})).await;
    wait(&admin, &id, "ACTIVE").await;
    assert_eq!(driver.count("power_off", &id), 2);
    assert_eq!(driver.count("spawn", &id), 1);

    // A snapshot: the node streams the disk into the image service.
    let image = snapshot(&tc, &admin, &id, "snap", Duration::from_secs(30)).await;
    let snap = image["id"].as_str().unwrap();
    let glance = admin.at(&tc.url("image"));
    let r = glance
        .get(&format!("/v2/images/{snap}/file"))
        .await
        .unwrap();
    assert_eq!((r.status, r.text.clone()), (200, format!("disk of {id}")));
    assert_eq!(driver.count("snapshot", &id), 1);
    wait(&admin, &id, "ACTIVE").await;

    // The console: the noVNC proxy reaches the guest's VNC server through
    // the tunnel the node opens to the internal API.
    let mut ws = novnc(&admin, &id).await;
    let first = ws.next().await.unwrap().unwrap();
    assert_eq!(first.into_data().as_ref(), b"RFB 003.008\n");
    ws.send(WsMessage::Binary(bytes::Bytes::from_static(
        b"RFB 003.008\n",
    )))
    .await
    .unwrap();
    let echoed = ws.next().await.unwrap().unwrap();
    assert_eq!(echoed.into_data().as_ref(), b"RFB 003.008\n");
    drop(ws);
    assert_eq!(driver.count("open_console", &id), 1);

    // A snapshot command nobody waits for, or another node's, is refused.
    let token = agent.cfg.token.get().unwrap();
    let bearer = format!("Bearer {token}");
    let r = internal
        .send(
            "PUT",
            &format!(
                "/internal/v1/nodes/{}/compute/snapshots/not-a-command",
                host_name()
            ),
            None,
            &[("authorization", bearer.as_str())],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 404, "{}", r.text);

    // The guest goes behind the agent's back: the server follows it.
    driver.inner.destroy(&id).await.unwrap();
    let s = wait(&admin, &id, "SHUTOFF").await;
    assert_eq!(s["OS-EXT-STS:power_state"], 0);
    assert_eq!(s["OS-EXT-STS:vm_state"], "stopped");

    // Deleting destroys on the node.
    let r = admin.delete(&format!("/v2.1/servers/{id}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    for _ in 0..200 {
        if driver.count("destroy", &id) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(driver.count("destroy", &id), 1);
    agent.stop().await;
    tc.stop().await;
}

/// The role alone: a command it ran is reported again, not run again, by
/// a new role over the same state directory, until it leaves the feed;
/// then the file forgets it.
#[tokio::test]
async fn a_restarted_role_reports_done_commands_without_running_them_again() {
    let state = tempfile::tempdir().unwrap();
    let driver = Counting::new();
    let spec = json!({"id": "i1", "name": "instance-i1", "hostname": "vm", "vcpus": 1,
        "memory_mb": 64, "root_gb": 0,
        "image": {"id": "img", "disk_format": "raw", "container_format": "bare"},
        "vifs": []});
    let doc = |commands: Value| {
        json!({"node": {}, "roles": {}, "parts": {"compute": {
            "instances": [], "commands": commands}}})
    };
    let with_spawn = doc(json!([{"id": "c1", "instance_id": "i1", "op": "spawn",
                                 "args": {"spec": spec}}]));
    let rc = || {
        let mut rc = ComputeRoleConfig::new(state.path().to_path_buf());
        rc.power_poll = Duration::from_secs(3600);
        rc
    };
    let first = ComputeRole::start(driver.clone(), rc(), None).unwrap();
    let st = agent::RoleHandler::apply(&*first, &with_spawn).await;
    assert_eq!(st["results"]["c1"], json!({"ok": true}), "{st}");
    assert_eq!(st["instances"]["i1"], "running", "{st}");
    drop(first);

    let second = ComputeRole::start(driver.clone(), rc(), None).unwrap();
    let st = agent::RoleHandler::apply(&*second, &with_spawn).await;
    assert_eq!(st["results"]["c1"], json!({"ok": true}), "{st}");
    assert_eq!(driver.count("spawn", "i1"), 1);
    // Gone from the feed: forgotten (the guest is not the feed's, but
    // within the grace period it stays).
    let st = agent::RoleHandler::apply(&*second, &doc(json!([]))).await;
    assert_eq!(st["results"], json!({}), "{st}");
    assert_eq!(st["errors"], json!([]), "{st}");
    let file = std::fs::read_to_string(state.path().join(agent::compute::DONE_FILE)).unwrap();
    assert_eq!(file, r#"{"results":{}}"#);
    assert_eq!(driver.count("destroy", "i1"), 0);
    // A bad command is answered with an error, not run.
    let st = agent::RoleHandler::apply(
        &*second,
        &doc(json!([{"id": "c2", "instance_id": "i1", "op": "format_disk", "args": {}}])),
    )
    .await;
    assert!(st["results"]["c2"]["error"].is_string(), "{st}");
}

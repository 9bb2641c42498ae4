//! The compute role on real QEMU (TCG), as root: a cloud with
//! `compute_driver = "qemu"` and `dataplane = none`, a real agent whose
//! compute role runs `virt::qemu::QemuDriver`, and the project's test
//! guest (`scripts/build-test-guest.sh`) uploaded as a qcow2 image. The
//! server boots to ACTIVE from its config drive (no network), its console
//! shows the guest's markers, the guest keeps running while the agent is
//! stopped and started again and is then still managed (stopped, started),
//! and deleting it leaves no QEMU process and no file behind.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agent::compute::{ComputeRole, ComputeRoleConfig};
use agent::AgentConfig;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use testkit::guest::GuestImages;
use testkit::root::Need;
use testkit::{require_root, Client, TestCloud};
use virt::qemu::{QemuConfig, QemuDriver};

fn host_name() -> String {
    let h = agent::hostname();
    if h.is_empty() {
        "localhost".into()
    } else {
        h
    }
}

struct RunningAgent {
    stop_tx: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningAgent {
    async fn stop(self) {
        let _ = self.stop_tx.send(());
        self.task.await.unwrap().unwrap();
    }
}

/// Where the driver keeps its guests under the agent's state directory.
fn qemu_dir(state: &Path) -> PathBuf {
    state.join("qemu")
}

/// An agent with the compute role on a fresh `QemuDriver` over `state`
/// (a new driver each time: that is what an agent restart is).
fn start_agent(tc: &TestCloud, state: &Path) -> RunningAgent {
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
    let images: Arc<dyn virt::ImageFetcher> =
        Arc::new(agent::compute::images::HttpImageFetcher::new(&cfg));
    let mut q = QemuConfig::new(qemu_dir(state), qemu_dir(state).join("images"));
    // The test guest does not act on ACPI power buttons: a short wait
    // before QEMU is quit.
    q.shutdown_timeout = Duration::from_secs(3);
    let driver = Arc::new(QemuDriver::new(q, images));
    let mut rc = ComputeRoleConfig::new(state.to_path_buf());
    rc.power_poll = Duration::from_millis(500);
    let role = ComputeRole::start(driver, rc, None).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(agent::run(
        cfg,
        vec![role],
        async {
            let _ = stop_rx.await;
        },
        None,
    ));
    RunningAgent { stop_tx, task }
}

async fn wait_status(c: &Client, id: &str, status: &str, secs: u64) -> Value {
    let mut last = Value::Null;
    for _ in 0..secs * 5 {
        let r = c.get(&format!("/v2.1/servers/{id}")).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        let s = &r.body["server"];
        if s["status"] == status && s["OS-EXT-STS:task_state"].is_null() {
            return s.clone();
        }
        assert_ne!(s["status"], "ERROR", "{}", r.text);
        last = r.body.clone();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("server {id} never reached {status}: {last}");
}

/// The console until it holds `marker` (the guest boots under TCG on a
/// loaded machine: minutes at worst).
async fn wait_console(c: &Client, id: &str, marker: &str) -> String {
    let mut last = String::new();
    for _ in 0..360 {
        let r = c
            .post(
                &format!("/v2.1/servers/{id}/action"),
                json!({"os-getConsoleOutput": {"length": -1}}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        last = r.body["output"].as_str().unwrap_or("").to_string();
        if last.contains(marker) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("console of {id} never showed {marker:?}:\n{last}");
}

/// QEMU processes whose command line names `id`.
fn qemu_processes(id: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd);
        if cmd.contains("qemu-system") && cmd.contains(id) {
            out.push(pid);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_a_qemu_guest_boots_outlives_its_agent_and_leaves_nothing() {
    require_root!(
        Need::Root,
        Need::Qemu,
        Need::Command("qemu-img"),
        Need::Command("genisoimage"),
    );
    let guest = GuestImages::build_or_reuse().unwrap();
    let tc = TestCloud::start_with(
        |c| {
            c.compute_driver = "qemu".into();
            // The cloud's own in-process agent takes another name: this
            // test's agent is this host's compute node (the name the
            // controller gives its own host), and two agents under one
            // name would keep taking each other's token.
            c.update_section::<agent::config::AgentSection>(|a| a.node_name = "ctl-agent".into())
                .unwrap();
            c.update_section::<compute::config::ComputeConfig>(|s| {
                s.agent_call_timeout_s = 120;
                s.agent_spawn_timeout_s = 300;
            })
            .unwrap();
        },
        Arc::new(common::clock::SystemClock),
    )
    .await
    .unwrap();
    let admin = tc.admin().await.unwrap().at(&tc.url("compute"));
    let state = tempfile::Builder::new()
        .prefix("oxq")
        .tempdir_in("/tmp")
        .unwrap();
    let mut agent = start_agent(&tc, state.path());

    // The test guest, as an operator would upload it.
    let g = admin.at(&tc.url("image"));
    let r = g
        .post(
            "/v2/images",
            json!({"name": "tiny", "disk_format": "qcow2", "container_format": "bare",
                   "visibility": "public"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let img = r.body["id"].as_str().unwrap().to_string();
    let bytes = std::fs::read(&guest.disk).unwrap();
    let r = g
        .send_bytes(
            "PUT",
            &format!("/v2/images/{img}/file"),
            bytes::Bytes::from(bytes),
            &[("content-type", "application/octet-stream")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);

    // user_data: `#!/bin/sh\necho USER-DATA-RAN >/dev/console`.
    let r = admin
        .send(
            "POST",
            "/v2.1/servers",
            Some(&json!({"server": {
                "name": "qemu-vm", "imageRef": img, "flavorRef": "1", "networks": "none",
                "config_drive": true,
                "user_data": "IyEvYmluL3NoCmVjaG8gVVNFUi1EQVRBLVJBTiA+L2Rldi9jb25zb2xlCg==",
            }})),
            &[("openstack-api-version", "compute 2.37")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let s = wait_status(&admin, &id, "ACTIVE", 300).await;
    assert_eq!(s["OS-EXT-STS:power_state"], 1);
    let pids = qemu_processes(&id);
    assert_eq!(pids.len(), 1, "one QEMU for {id}: {pids:?}");
    let console = wait_console(&admin, &id, "OXISTACK-GUEST: ready").await;
    assert!(
        console.contains("OXISTACK-GUEST: hostname qemu-vm"),
        "{console}"
    );
    assert!(console.contains("USER-DATA-RAN"), "{console}");

    // The agent goes away; the guest does not. A new agent (and driver)
    // finds it and manages it.
    agent.stop().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(qemu_processes(&id), pids, "the guest outlived its agent");
    agent = start_agent(&tc, state.path());
    let console = wait_console(&admin, &id, "OXISTACK-GUEST: ready").await;
    assert!(console.contains("USER-DATA-RAN"), "{console}");
    let r = admin
        .post(
            &format!("/v2.1/servers/{id}/action"),
            json!({"os-stop": null}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    wait_status(&admin, &id, "SHUTOFF", 120).await;
    assert!(qemu_processes(&id).is_empty(), "stopped: no QEMU");
    let r = admin
        .post(
            &format!("/v2.1/servers/{id}/action"),
            json!({"os-start": null}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    wait_status(&admin, &id, "ACTIVE", 120).await;
    assert_eq!(qemu_processes(&id).len(), 1);

    // Delete: no process, no instance directory.
    let r = admin.delete(&format!("/v2.1/servers/{id}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    for _ in 0..100 {
        if qemu_processes(&id).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(qemu_processes(&id).is_empty(), "deleted: no QEMU");
    let inst = qemu_dir(state.path()).join("instances").join(&id);
    assert!(!inst.exists(), "{} is left", inst.display());
    agent.stop().await;
}

//! The compute role on real QEMU (TCG), as root: a cloud with
//! `compute_driver = "qemu"` and `dataplane = none`, a real agent whose
//! compute role runs `virt::qemu::QemuDriver`, and the project's test
//! guest (`scripts/build-test-guest.sh`) uploaded as a qcow2 image. The
//! server boots to ACTIVE from its config drive (no network), its console
//! shows the guest's markers, the guest keeps running while the agent is
//! stopped and started again and is then still managed (stopped, started),
//! and deleting it leaves no QEMU process and no file behind.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod compute_support;

use compute_support::{
    act, novnc, remote_cloud, snapshot, start_agent, upload_image, wait_status, RunningAgent,
};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use testkit::guest::GuestImages;
use testkit::root::Need;
use testkit::{require_root, Client, TestCloud};
use virt::qemu::{QemuConfig, QemuDriver};

/// Where the driver keeps its guests under the agent's state directory.
fn qemu_dir(state: &Path) -> PathBuf {
    state.join("qemu")
}

/// An agent with the compute role on a fresh `QemuDriver` over `state`
/// (a new driver each time: that is what an agent restart is).
fn start(tc: &TestCloud, state: &Path) -> RunningAgent {
    start_agent(tc, state, Duration::from_millis(500), |cfg| {
        let images: Arc<dyn virt::ImageFetcher> =
            Arc::new(agent::compute::images::HttpImageFetcher::new(cfg));
        let mut q = QemuConfig::new(qemu_dir(state), qemu_dir(state).join("images"));
        // The test guest does not act on ACPI power buttons: a short wait
        // before QEMU is quit.
        q.shutdown_timeout = Duration::from_secs(3);
        Arc::new(QemuDriver::new(q, images))
    })
}

async fn wait(c: &Client, id: &str, status: &str, secs: u64) -> Value {
    wait_status(c, id, status, Duration::from_secs(secs)).await
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
    let (tc, admin) = remote_cloud(120, 300).await;
    let state = tempfile::Builder::new()
        .prefix("oxq")
        .tempdir_in("/tmp")
        .unwrap();
    let mut agent = start(&tc, state.path());

    // The test guest, as an operator would upload it.
    let disk = std::fs::read(&guest.disk).unwrap();
    let img = upload_image(&tc, &admin, "tiny", "qcow2", disk).await;

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
    let s = wait(&admin, &id, "ACTIVE", 300).await;
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
    agent = start(&tc, state.path());
    let console = wait_console(&admin, &id, "OXISTACK-GUEST: ready").await;
    assert!(console.contains("USER-DATA-RAN"), "{console}");
    act(&admin, &id, json!({"os-stop": null})).await;
    wait(&admin, &id, "SHUTOFF", 120).await;
    assert!(qemu_processes(&id).is_empty(), "stopped: no QEMU");
    act(&admin, &id, json!({"os-start": null})).await;
    wait(&admin, &id, "ACTIVE", 120).await;
    assert_eq!(qemu_processes(&id).len(), 1);

    // A snapshot of the running guest lands in the image service as a
    // qcow2 image that QEMU reads.
    let image = snapshot(&tc, &admin, &id, "qemu-vm-snap", Duration::from_secs(120)).await;
    let snap = image["id"].as_str().unwrap();
    let glance = admin.at(&tc.url("image"));
    assert_eq!(image["status"], "active", "{image}");
    assert_eq!(image["disk_format"], "qcow2", "{image}");
    let r = glance
        .get(&format!("/v2/images/{snap}/file"))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let file = state.path().join("snap.qcow2");
    std::fs::write(&file, r.bytes.as_ref()).unwrap();
    let info = std::process::Command::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(&file)
        .output()
        .unwrap();
    let info: Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["format"], "qcow2", "{info}");
    assert!(
        info.get("backing-filename").is_none(),
        "a whole disk: {info}"
    );
    wait(&admin, &id, "ACTIVE", 120).await;

    // The console: QEMU's VNC server greets through the node's tunnel
    // and the noVNC proxy.
    let mut ws = novnc(&admin, &id).await;
    let first = tokio::time::timeout(Duration::from_secs(30), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.into_data().as_ref(), b"RFB 003.008\n");
    drop(ws);

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

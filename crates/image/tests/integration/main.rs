//! Image API tests against the real server, in process, on SQLite or
//! (with `OXISTACK_TEST_DATABASE_URL`) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may panic

mod data;
mod errors;
mod images;
mod import;
mod members;
mod metadefs;
mod tasks;

use serde_json::{json, Value};
use testkit::{Client, Resp, TestCloud};

/// A cloud and an image client holding the admin's token.
pub async fn start() -> (TestCloud, Client) {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut common::config::Config)) -> (TestCloud, Client) {
    let cloud = TestCloud::start_with(tweak, std::sync::Arc::new(common::clock::SystemClock))
        .await
        .unwrap();
    let admin = cloud.admin().await.unwrap().at(&cloud.url("image"));
    (cloud, admin)
}

/// A new project with a user holding `role` in it (both called `name`,
/// the fixture of `testkit::fixtures`); returns an image client with that
/// user's token and the project id.
pub async fn project_user(cloud: &TestCloud, name: &str, role: &str) -> (Client, String) {
    let u = cloud
        .project_user(name, name, testkit::fixtures::PASSWORD, role)
        .await
        .unwrap();
    (u.client.at(&cloud.url("image")), u.project_id)
}

pub async fn create(c: &Client, body: Value) -> String {
    let r = c.post("/v2/images", body).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

pub async fn upload(c: &Client, id: &str, data: &[u8]) -> Resp {
    c.send_bytes(
        "PUT",
        &format!("/v2/images/{id}/file"),
        bytes::Bytes::copy_from_slice(data),
        &[("content-type", "application/octet-stream")],
    )
    .await
    .unwrap()
}

pub async fn patch(c: &Client, id: &str, ops: Value) -> Resp {
    c.send_bytes(
        "PATCH",
        &format!("/v2/images/{id}"),
        ops.to_string().into(),
        &[(
            "content-type",
            "application/openstack-images-v2.1-json-patch",
        )],
    )
    .await
    .unwrap()
}

pub async fn show(c: &Client, id: &str) -> Value {
    let r = c.get(&format!("/v2/images/{id}")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

/// Glance's error body: `{"message", "code": "404 Not Found", "title"}`.
pub fn assert_error(r: &Resp, code: u16) {
    assert_eq!(r.status, code, "{}", r.text);
    if code == 401 {
        assert_eq!(r.body["error"]["code"], 401, "{}", r.text);
        return;
    }
    assert!(
        r.body["code"]
            .as_str()
            .is_some_and(|c| c.starts_with(&code.to_string())),
        "{}",
        r.text
    );
    assert!(r.body["title"].is_string(), "{}", r.text);
    assert!(r.body["message"].is_string(), "{}", r.text);
}

pub fn message(r: &Resp) -> String {
    r.body["message"].as_str().unwrap_or("").to_string()
}

/// A minimal qcow2 v3 header (the inspector reads nothing else), with an
/// optional backing file offset.
pub fn qcow2(virtual_size: u64, backing: bool) -> Vec<u8> {
    let mut h = vec![0u8; 8192];
    h[..4].copy_from_slice(b"QFI\xfb");
    h[4..8].copy_from_slice(&3u32.to_be_bytes());
    if backing {
        h[8..16].copy_from_slice(&4096u64.to_be_bytes());
        h[16..20].copy_from_slice(&8u32.to_be_bytes());
        h[4096..4104].copy_from_slice(b"base.img");
    }
    h[20..24].copy_from_slice(&16u32.to_be_bytes());
    h[24..32].copy_from_slice(&virtual_size.to_be_bytes());
    h[100..104].copy_from_slice(&112u32.to_be_bytes());
    h
}

/// Files in the image data directory (excluding the empty subdirs).
pub fn data_files(cloud: &TestCloud) -> Vec<String> {
    let dir = image::config::data_dir(&cloud.config).unwrap();
    let mut out = Vec::new();
    for sub in ["", "staging", "tmp"] {
        if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
            for e in rd.flatten() {
                if e.path().is_file() {
                    out.push(format!("{sub}/{}", e.file_name().to_string_lossy()));
                }
            }
        }
    }
    out
}

/// A 1 MiB raw disk with an MBR holding one Linux partition whose boot
/// flag is `boot` (0x00 and 0x80 are the valid ones).
pub fn mbr_disk(boot: u8) -> Vec<u8> {
    let mut d = vec![0u8; 1 << 20];
    d[446] = boot;
    d[446 + 1..446 + 4].copy_from_slice(&[0x20, 0x21, 0x00]);
    d[446 + 4] = 0x83;
    d[446 + 8..446 + 12].copy_from_slice(&2048u32.to_le_bytes());
    d[446 + 12..446 + 16].copy_from_slice(&100u32.to_le_bytes());
    d[510] = 0x55;
    d[511] = 0xaa;
    d
}

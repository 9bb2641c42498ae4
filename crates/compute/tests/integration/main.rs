//! Compute API tests against the real server, in process, on SQLite or
//! (with `OXISTACK_TEST_DATABASE_URL`) PostgreSQL. One module per URL
//! family; shared helpers here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may panic

mod admin;
mod backups;
mod basics;
mod consoles;
mod disk_config;
mod flavors;
mod hosts;
mod interfaces;
mod keypairs;
mod lifecycle;
mod metadata;
mod migrations;
mod proxies;
mod proxies_images;
mod proxies_networks;
mod quotas;
mod server_groups;
mod servers;
mod usage;

use testkit::{Client, Resp, TestCloud};

/// A cloud and a compute client holding the admin's token.
pub async fn start() -> (TestCloud, Client) {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut common::config::Config)) -> (TestCloud, Client) {
    let cloud = TestCloud::start_with(tweak, std::sync::Arc::new(common::clock::SystemClock))
        .await
        .unwrap();
    let admin = cloud.admin().await.unwrap().at(&cloud.url("compute"));
    (cloud, admin)
}

/// A new project with a user holding `role` in it; a compute client with
/// that user's token, and the project id.
pub async fn project_user(cloud: &TestCloud, name: &str, role: &str) -> (Client, String) {
    let u = cloud
        .project_user(name, name, testkit::fixtures::PASSWORD, role)
        .await
        .unwrap();
    (u.client.at(&cloud.url("compute")), u.project_id)
}

/// `client` asking for microversion `v` on every request.
pub async fn at_version(
    c: &Client,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
    v: &str,
) -> Resp {
    let header = format!("compute {v}");
    c.send(
        method,
        path,
        body,
        &[("openstack-api-version", header.as_str())],
    )
    .await
    .unwrap()
}

/// Nova's error body: `{fault: {"code": status, "message": …}}`.
pub fn assert_error(r: &Resp, code: u16, fault: &str) {
    assert_eq!(r.status, code, "{}", r.text);
    assert_eq!(r.body[fault]["code"], code, "{}", r.text);
    assert!(r.body[fault]["message"].is_string(), "{}", r.text);
}

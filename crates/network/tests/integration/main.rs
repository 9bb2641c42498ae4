//! Network API tests against the real server, in process, on SQLite or
//! (with `OXISTACK_TEST_DATABASE_URL`) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may panic

mod agents;
mod basics;
mod floatingips;
mod networks;
mod port_forwardings;
mod ports;
mod quotas;
mod routers;
mod security_groups;
mod subnetpools;
mod subnets;

use serde_json::{json, Value};
use testkit::{Client, Resp, TestCloud};

/// A cloud and a network client holding the admin's token.
pub async fn start() -> (TestCloud, Client) {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut common::config::Config)) -> (TestCloud, Client) {
    let cloud = TestCloud::start_with(tweak, std::sync::Arc::new(common::clock::SystemClock))
        .await
        .unwrap();
    let admin = cloud.admin().await.unwrap().at(&cloud.url("network"));
    (cloud, admin)
}

/// A new project with a user holding `role` in it; a network client with
/// that user's token, and the project id.
pub async fn project_user(cloud: &TestCloud, name: &str, role: &str) -> (Client, String) {
    let u = cloud
        .project_user(name, name, testkit::fixtures::PASSWORD, role)
        .await
        .unwrap();
    (u.client.at(&cloud.url("network")), u.project_id)
}

pub async fn create_network(c: &Client, body: Value) -> Value {
    let r = c
        .post("/v2.0/networks", json!({"network": body}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["network"].clone()
}

/// Neutron's error body with `type`.
pub fn assert_error(r: &Resp, code: u16, kind: &str) {
    assert_eq!(r.status, code, "{}", r.text);
    assert_eq!(r.body["NeutronError"]["type"], kind, "{}", r.text);
    assert_eq!(r.body["NeutronError"]["detail"], "", "{}", r.text);
}

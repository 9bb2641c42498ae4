//! Identity API tests against the real server, in process, on SQLite or
//! (with `OXISTACK_TEST_DATABASE_URL`) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may panic

mod assignments;
mod catalog;
mod errors;
mod extensions;
mod openapi;
mod resources;
mod tokens;

use serde_json::{json, Value};
use testkit::{Client, TestCloud};

/// Creates a user with `password` in the Default domain, with no roles.
pub async fn user(admin: &Client, name: &str, password: &str) -> String {
    let r = admin
        .post(
            "/v3/users",
            json!({"user": {"name": name, "password": password, "domain_id": "default"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["user"]["id"].as_str().unwrap().to_string()
}

/// Creates a user with `password` and grants `role` on project `project_id`.
pub async fn user_with_role(
    admin: &Client,
    name: &str,
    password: &str,
    project_id: &str,
    role: &str,
) -> String {
    let uid = user(admin, name, password).await;
    let rid = role_id(admin, role).await;
    let r = admin
        .put(
            &format!("/v3/projects/{project_id}/users/{uid}/roles/{rid}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    uid
}

pub async fn role_id(admin: &Client, name: &str) -> String {
    let r = admin.get(&format!("/v3/roles?name={name}")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["roles"][0]["id"].as_str().unwrap().to_string()
}

pub async fn project(admin: &Client, name: &str) -> String {
    let r = admin
        .post(
            "/v3/projects",
            json!({"project": {"name": name, "domain_id": "default"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["project"]["id"].as_str().unwrap().to_string()
}

/// A token for `user` scoped to project `project` (by name, Default domain).
pub async fn token_for(cloud: &TestCloud, user: &str, password: &str, project: &str) -> Client {
    let c = Client::new(&cloud.identity_url());
    let t = c
        .password_token(user, password, Some((project, "Default")))
        .await
        .unwrap();
    c.with_token(&t)
}

pub fn ids(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

pub fn names(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Keystone's error body: `{"error": {"code", "title", "message"}}`.
pub fn assert_error(r: &testkit::Resp, code: u16) {
    assert_eq!(r.status, code, "{}", r.text);
    assert_eq!(r.body["error"]["code"], code, "{}", r.text);
    assert!(r.body["error"]["title"].is_string(), "{}", r.text);
    assert!(r.body["error"]["message"].is_string(), "{}", r.text);
}

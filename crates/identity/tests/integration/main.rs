//! Identity API tests against the real server, in process, on SQLite or
//! (with `OXISTACK_TEST_DATABASE_URL`) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may panic

mod assignments;
mod catalog;
mod errors;
mod extensions;
mod lists;
mod openapi;
mod resources;
mod tokens;

use serde_json::{json, Value};
use testkit::{Client, TestCloud};

// The identity fixture lives in `testkit::fixtures`; these keep the
// tests' short names and fail the test on any unexpected answer.

/// Creates a user with `password` in the Default domain, with no roles.
pub async fn user(admin: &Client, name: &str, password: &str) -> String {
    admin.create_user(name, password).await.unwrap()
}

/// Creates a user with `password` and grants `role` on project `project_id`.
pub async fn user_with_role(
    admin: &Client,
    name: &str,
    password: &str,
    project_id: &str,
    role: &str,
) -> String {
    admin
        .create_user_with_role(name, password, project_id, role)
        .await
        .unwrap()
}

pub async fn role_id(admin: &Client, name: &str) -> String {
    admin.role_id(name).await.unwrap()
}

pub async fn project(admin: &Client, name: &str) -> String {
    admin.create_project(name).await.unwrap()
}

/// A token for `user` scoped to project `project` (by name, Default domain).
pub async fn token_for(cloud: &TestCloud, user: &str, password: &str, project: &str) -> Client {
    cloud.token_for(user, password, project).await.unwrap()
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

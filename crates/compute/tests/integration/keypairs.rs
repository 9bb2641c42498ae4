//! Key pairs: import (SSH, X.509) and generation, the shapes of 2.1,
//! 2.2 and 2.35, names per microversion, users and admins, the quota,
//! paging.

use super::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

// Made by ssh-keygen; the fingerprint is `ssh-keygen -l -E md5`'s.
const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCna1BHouNWdqxklaDSwUk9cR2AvlvKAdPXfGSywXSrJ/3Fuc965nPvTnQAySlocrCdgkaTQ046bX3qe1KxxkZjuNR4dsaovWG/05FgnGlXyZlkm9cR/Txgwofm7YuYcDYYhbUHWs0rJXPOhVc/xvX0+Tk/45HP/XGD63Uw6JjK3w== test";
const RSA_FP: &str = "29:f9:43:22:e0:2c:e4:cc:a7:12:83:f7:81:f5:47:ed";
const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJls9UfFS29/O3yO0MWH7N+nh394uN0f9iezJPyqOBkx root@vm";

// Made by `openssl req -x509`; its `openssl x509 -fingerprint -sha1`.
const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIB+jCCAWOgAwIBAgIUNj7Oh+SkZrCzo5PaorINTLM48zMwDQYJKoZIhvcNAQEL
BQAwDzENMAsGA1UEAwwEdGVzdDAeFw0yNjEyMDcxMTA0MzhaFw0zNjEyMDQxMTA0
MzhaMA8xDTALBgNVBAMMBHRlc3QwgZ8wDQYJKoZIhvcNAQEBBQADgY0AMIGJAoGB
AM0lsDYaX72USkhLPIlkXWsw4qxmp5ZKfZ5Kby/z+T1Rrdf2TWnTG0nOl4V4q13c
B2MeqltRM12s6ofZ3v+FmMlHcda2Cjw4tfromxB012RTDRDjKUCeaZgSrB8hLE/H
Z53YYMVbW0Gr3V2V7cD/IDiWnovM4P5+7xYaku+VP47FAgMBAAGjUzBRMB0GA1Ud
DgQWBBT3uQgRMqud2g3n2kUkDlhz21DN5jAfBgNVHSMEGDAWgBT3uQgRMqud2g3n
2kUkDlhz21DN5jAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUAA4GBAHND
BYjYMBHgGD9j7agej+CcI7isVWm6ken5L64S41VofnOU5ZCcJAbFip+n2ezRn8D6
IeEwGkQkXdxElzoCm3VmTjEjchj4lZSQi0PjvXHMmtOXp3qg3oAWzVEccHM/Zgq6
gSCBSIe0yqtKCFqfTbameDg119GvbNnNKUB62F7v
-----END CERTIFICATE-----
";
const CERT_FP: &str = "33:d5:4d:76:d6:1e:c7:dd:d4:62:36:75:8b:43:cc:96:d6:b5:73:f7";

async fn create(c: &Client, v: &str, kp: Value) -> Resp {
    at_version(
        c,
        "POST",
        "/v2.1/os-keypairs",
        Some(&json!({ "keypair": kp })),
        v,
    )
    .await
}

const SHOW_21: &[&str] = &[
    "name",
    "public_key",
    "fingerprint",
    "user_id",
    "created_at",
    "updated_at",
    "deleted_at",
    "deleted",
    "id",
];

#[tokio::test]
async fn imported_keys_in_the_shapes_of_2_1_and_2_2() {
    let (cloud, admin) = start().await;
    let r = create(&admin, "2.1", json!({"name": "k1", "public_key": RSA})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body), set(&["keypair"]));
    let kp = &r.body["keypair"];
    assert_eq!(
        keys(kp),
        set(&["name", "public_key", "fingerprint", "user_id"])
    );
    assert_eq!(kp["fingerprint"], RSA_FP);
    assert_eq!(kp["public_key"], RSA);

    let r = at_version(&admin, "GET", "/v2.1/os-keypairs/k1", None, "2.1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body["keypair"]), set(SHOW_21));
    assert_eq!(r.body["keypair"]["deleted"], false);
    assert!(r.body["keypair"]["id"].is_i64());
    assert!(r.body["keypair"]["updated_at"].is_null());
    let mut show_22 = set(SHOW_21);
    show_22.insert("type".into());
    let r = at_version(&admin, "GET", "/v2.1/os-keypairs/k1", None, "2.2").await;
    assert_eq!(keys(&r.body["keypair"]), show_22);
    assert_eq!(r.body["keypair"]["type"], "ssh");

    let r = at_version(&admin, "GET", "/v2.1/os-keypairs", None, "2.1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body), set(&["keypairs"]));
    assert_eq!(
        keys(&r.body["keypairs"][0]["keypair"]),
        set(&["name", "public_key", "fingerprint"])
    );
    let r = at_version(&admin, "GET", "/v2.1/os-keypairs", None, "2.2").await;
    assert_eq!(
        keys(&r.body["keypairs"][0]["keypair"]),
        set(&["name", "public_key", "fingerprint", "type"])
    );

    // 2.2: 201 with `type`; ed25519 imports too.
    let r = create(
        &admin,
        "2.2",
        json!({"name": "k2", "public_key": ED25519, "type": "ssh"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        keys(&r.body["keypair"]),
        set(&["name", "public_key", "fingerprint", "user_id", "type"])
    );
    let r = create(&admin, "2.2", json!({"name": "k1", "public_key": ED25519})).await;
    assert_error(&r, 409, "conflictingRequest");
    assert!(
        r.text.contains("Key pair 'k1' already exists."),
        "{}",
        r.text
    );

    let r = at_version(&admin, "DELETE", "/v2.1/os-keypairs/k1", None, "2.1").await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = at_version(&admin, "DELETE", "/v2.1/os-keypairs/k2", None, "2.2").await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = admin.get("/v2.1/os-keypairs/k1").await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = admin.delete("/v2.1/os-keypairs/k1").await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    cloud.stop().await;
}

#[tokio::test]
async fn generated_and_x509_keys() {
    let (cloud, admin) = start().await;
    let r = create(&admin, "2.1", json!({"name": "gen"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let kp = &r.body["keypair"];
    assert_eq!(
        keys(kp),
        set(&[
            "name",
            "public_key",
            "fingerprint",
            "user_id",
            "private_key"
        ])
    );
    let private = kp["private_key"].as_str().unwrap();
    assert!(private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    assert!(kp["public_key"]
        .as_str()
        .unwrap()
        .starts_with("ssh-ed25519 "));
    assert_eq!(kp["fingerprint"].as_str().unwrap().len(), 47);
    // The private key is never stored.
    let r = admin.get("/v2.1/os-keypairs/gen").await.unwrap();
    assert!(r.body["keypair"].get("private_key").is_none());
    assert_eq!(r.body["keypair"]["fingerprint"], kp["fingerprint"]);

    let r = create(&admin, "2.92", json!({"name": "gen2"})).await;
    assert_error(&r, 400, "badRequest");

    let r = create(
        &admin,
        "2.2",
        json!({"name": "cert", "type": "x509", "public_key": CERT}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["keypair"]["fingerprint"], CERT_FP);
    assert_eq!(r.body["keypair"]["type"], "x509");
    // Generated: a self-signed certificate and its private key.
    let r = create(&admin, "2.2", json!({"name": "gcert", "type": "x509"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let kp = &r.body["keypair"];
    assert_eq!(
        keys(kp),
        set(&[
            "name",
            "public_key",
            "fingerprint",
            "user_id",
            "private_key",
            "type"
        ])
    );
    assert!(kp["public_key"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(kp["private_key"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(kp["fingerprint"].as_str().unwrap().len(), 59);
    let r = create(
        &admin,
        "2.2",
        json!({"name": "cert2", "type": "x509", "public_key": RSA}),
    )
    .await;
    assert_error(&r, 400, "badRequest");
    // `type` does not exist before 2.2.
    let r = create(
        &admin,
        "2.1",
        json!({"name": "c3", "type": "ssh", "public_key": RSA}),
    )
    .await;
    assert_error(&r, 400, "badRequest");
    cloud.stop().await;
}

#[tokio::test]
async fn bad_key_pairs_are_400s() {
    let (cloud, admin) = start().await;
    let long = "k".repeat(256);
    for (v, kp) in [
        (
            "2.1",
            json!({"name": "bad", "public_key": "ssh-rsa notbase64!"}),
        ),
        ("2.1", json!({"name": "bad", "public_key": "not a key"})),
        (
            "2.1",
            json!({"name": "bad", "public_key": RSA.replacen("ssh-rsa", "ssh-ed25519", 1)}),
        ),
        ("2.1", json!({"name": long, "public_key": RSA})),
        ("2.1", json!({"name": "", "public_key": RSA})),
        ("2.1", json!({"name": " lead", "public_key": RSA})),
        ("2.1", json!({"name": "a@b.c", "public_key": RSA})),
        ("2.1", json!({"public_key": RSA})),
        ("2.1", json!({"name": "x", "public_key": RSA, "extra": 1})),
        (
            "2.2",
            json!({"name": "x", "public_key": RSA, "type": "pgp"}),
        ),
        (
            "2.9",
            json!({"name": "x", "public_key": RSA, "user_id": "u"}),
        ),
    ] {
        let r = create(&admin, v, kp.clone()).await;
        assert_eq!(r.status, 400, "{kp}: {}", r.text);
        assert_error(&r, 400, "badRequest");
    }
    // 2.92 allows '@' and '.'.
    let r = create(&admin, "2.92", json!({"name": "a@b.c", "public_key": RSA})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = admin.get("/v2.1/os-keypairs").await.unwrap();
    assert_eq!(r.body["keypairs"].as_array().unwrap().len(), 1);
    cloud.stop().await;
}

#[tokio::test]
async fn users_see_their_own_and_admins_anyones() {
    let (cloud, admin) = start().await;
    let (member, _) = project_user(&cloud, "kp-m", "member").await;
    let r = create(&member, "2.2", json!({"name": "mine", "public_key": RSA})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let member_id = r.body["keypair"]["user_id"].as_str().unwrap().to_string();
    let r = create(&admin, "2.2", json!({"name": "admins", "public_key": RSA})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let admin_id = r.body["keypair"]["user_id"].as_str().unwrap().to_string();

    let r = member.get("/v2.1/os-keypairs").await.unwrap();
    let names: Vec<&str> = r.body["keypairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["keypair"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mine"]);
    let r = member.get("/v2.1/os-keypairs/admins").await.unwrap();
    assert_error(&r, 404, "itemNotFound");

    let q = format!("/v2.1/os-keypairs?user_id={member_id}");
    let r = at_version(&admin, "GET", &q, None, "2.10").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["keypairs"][0]["keypair"]["name"], "mine");
    let r = at_version(
        &admin,
        "GET",
        &format!("/v2.1/os-keypairs/mine?user_id={member_id}"),
        None,
        "2.10",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["keypair"]["user_id"], member_id.as_str());
    // Before 2.10 user_id is not read: the admin's own list.
    let r = at_version(&admin, "GET", &q, None, "2.9").await;
    assert_eq!(r.body["keypairs"][0]["keypair"]["name"], "admins");

    let q = format!("/v2.1/os-keypairs?user_id={admin_id}");
    let r = at_version(&member, "GET", &q, None, "2.10").await;
    assert_error(&r, 403, "forbidden");
    let r = create(
        &member,
        "2.10",
        json!({"name": "x", "public_key": RSA, "user_id": admin_id}),
    )
    .await;
    assert_error(&r, 403, "forbidden");
    let r = create(
        &admin,
        "2.10",
        json!({"name": "for-m", "public_key": RSA, "user_id": member_id}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = member.get("/v2.1/os-keypairs/for-m").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = at_version(
        &admin,
        "DELETE",
        &format!("/v2.1/os-keypairs/for-m?user_id={member_id}"),
        None,
        "2.10",
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = member.get("/v2.1/os-keypairs/for-m").await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    cloud.stop().await;
}

#[tokio::test]
async fn the_key_pairs_quota_is_per_user() {
    let (cloud, admin) = start_with(|c| {
        c.update_section::<compute::config::ComputeConfig>(|s| s.quota_key_pairs = 2)
            .unwrap()
    })
    .await;
    for n in ["a", "b"] {
        let r = create(&admin, "2.2", json!({"name": n, "public_key": RSA})).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let r = create(&admin, "2.2", json!({"name": "c", "public_key": RSA})).await;
    assert_error(&r, 403, "forbidden");
    assert_eq!(
        r.body["forbidden"]["message"],
        "Quota exceeded, too many key pairs."
    );
    let (member, _) = project_user(&cloud, "kp-q", "member").await;
    let r = create(&member, "2.2", json!({"name": "c", "public_key": RSA})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    cloud.stop().await;
}

#[tokio::test]
async fn lists_page_from_2_35() {
    let (cloud, admin) = start().await;
    for n in ["c", "a", "b"] {
        let r = create(&admin, "2.2", json!({"name": n, "public_key": RSA})).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let names = |r: &Resp| -> Vec<String> {
        r.body["keypairs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["keypair"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    let r = at_version(&admin, "GET", "/v2.1/os-keypairs?limit=2", None, "2.35").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(names(&r), ["a", "b"]);
    let next = r.body["keypairs_links"][0]["href"].as_str().unwrap();
    assert!(
        next.contains("/v2.1/os-keypairs?") && next.contains("marker=b"),
        "{next}"
    );
    let r = at_version(
        &admin,
        "GET",
        "/v2.1/os-keypairs?limit=2&marker=b",
        None,
        "2.35",
    )
    .await;
    assert_eq!(names(&r), ["c"]);
    assert!(r.body.get("keypairs_links").is_none());
    let r = at_version(&admin, "GET", "/v2.1/os-keypairs?marker=zz", None, "2.35").await;
    assert_error(&r, 400, "badRequest");
    let r = at_version(&admin, "GET", "/v2.1/os-keypairs?limit=-1", None, "2.35").await;
    assert_error(&r, 400, "badRequest");
    // Before 2.35 paging parameters are not read.
    let r = at_version(&admin, "GET", "/v2.1/os-keypairs?limit=2", None, "2.34").await;
    assert_eq!(names(&r), ["a", "b", "c"]);
    let r = at_version(&admin, "GET", "/v2.1/os-keypairs?colour=red", None, "2.75").await;
    assert_error(&r, 400, "badRequest");
    cloud.stop().await;
}

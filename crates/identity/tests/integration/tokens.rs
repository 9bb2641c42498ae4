//! `/v3/auth/*`: issue, validate, check, revoke, rescope, scopes, catalog,
//! expiry, rotation and replicas.

use super::*;
use common::clock::ManualClock;
use std::sync::Arc;

#[tokio::test]
async fn password_auth_and_validation() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let token = admin.token().unwrap().to_string();
    // Validate the admin's own token.
    let r = admin
        .send(
            "GET",
            "/v3/auth/tokens",
            None,
            &[("x-subject-token", &token)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let t = &r.body["token"];
    assert_eq!(t["user"]["name"], "admin");
    assert_eq!(t["project"]["name"], "admin");
    assert_eq!(t["methods"], json!(["password"]));
    assert_eq!(t["is_admin_project"], true);
    let roles: Vec<&str> = t["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        vec!["admin", "manager", "member", "reader"],
        "implied roles expand"
    );
    let types: Vec<&str> = t["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"identity"));
    assert_eq!(r.header("x-subject-token").as_deref(), Some(token.as_str()));
    // nocatalog.
    let r = admin
        .send(
            "GET",
            "/v3/auth/tokens?nocatalog",
            None,
            &[("x-subject-token", &token)],
        )
        .await
        .unwrap();
    assert!(r.body["token"].get("catalog").is_none());
    // HEAD.
    let r = admin
        .send(
            "HEAD",
            "/v3/auth/tokens",
            None,
            &[("x-subject-token", &token)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    // Invalid subject: 404 on validate; invalid caller: 401.
    let r = admin
        .send(
            "GET",
            "/v3/auth/tokens",
            None,
            &[("x-subject-token", "gAAAAAbogus")],
        )
        .await
        .unwrap();
    assert_error(&r, 404);
    let r = Client::new(&cloud.identity_url())
        .with_token("gAAAAAbogus")
        .get("/v3/users")
        .await
        .unwrap();
    assert_error(&r, 401);
    assert!(r.header("www-authenticate").is_some());
    let r = Client::new(&cloud.identity_url())
        .get("/v3/users")
        .await
        .unwrap();
    assert_error(&r, 401);
    cloud.stop().await;
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let cloud = TestCloud::start().await.unwrap();
    let c = Client::new(&cloud.identity_url());
    let wrong = c
        .password_auth("admin", "not-the-password", None)
        .await
        .unwrap();
    let unknown = c
        .password_auth("nobody-at-all", "whatever", None)
        .await
        .unwrap();
    assert_error(&wrong, 401);
    assert_error(&unknown, 401);
    assert_eq!(wrong.body, unknown.body, "no user enumeration");
    // Unknown project in scope: 401 too.
    let r = c
        .password_auth(
            "admin",
            &cloud.cloud.admin_password,
            Some(("nope", "Default")),
        )
        .await
        .unwrap();
    assert_error(&r, 401);
    // Malformed auth bodies: 400.
    let r = c
        .post(
            "/v3/auth/tokens",
            json!({"auth": {"identity": {"methods": []}}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    let r = c
        .post(
            "/v3/auth/tokens",
            json!({"auth": {"identity": {"methods": ["password"]}}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    let r = c
        .post(
            "/v3/auth/tokens",
            json!({"auth": {"identity": {"methods": ["totp"], "totp": {}}}}),
        )
        .await
        .unwrap();
    assert_error(&r, 401);
    cloud.stop().await;
}

#[tokio::test]
async fn unscoped_rescope_domain_and_system_scopes() {
    let cloud = TestCloud::start().await.unwrap();
    let pw = cloud.cloud.admin_password.clone();
    let c = Client::new(&cloud.identity_url());
    let unscoped = c.password_auth("admin", &pw, None).await.unwrap();
    assert_eq!(unscoped.status, 201);
    assert!(unscoped.body["token"].get("project").is_none());
    assert!(unscoped.body["token"].get("catalog").is_none());
    let ut = unscoped.header("x-subject-token").unwrap();
    // Rescope with the token method: same expiry, audit chain of two.
    let r = c
        .post(
            "/v3/auth/tokens",
            json!({"auth": {"identity": {"methods": ["token"], "token": {"id": ut}},
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.body["token"]["expires_at"],
        unscoped.body["token"]["expires_at"]
    );
    assert_eq!(r.body["token"]["audit_ids"].as_array().unwrap().len(), 2);
    assert_eq!(
        r.body["token"]["audit_ids"][1],
        unscoped.body["token"]["audit_ids"][0]
    );
    assert_eq!(r.body["token"]["methods"], json!(["password", "token"]));
    // System scope (bootstrap grants the admin system admin).
    let r = c
        .post(
            "/v3/auth/tokens",
            json!({"auth": {"identity": {"methods": ["token"], "token": {"id": ut}}, "scope": {"system": {"all": true}}}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["token"]["system"], json!({"all": true}));
    // Domain scope without a role on the domain: refused.
    let r = c
        .post(
            "/v3/auth/tokens",
            json!({"auth": {"identity": {"methods": ["token"], "token": {"id": ut}}, "scope": {"domain": {"id": "default"}}}}),
        )
        .await
        .unwrap();
    assert_error(&r, 401);
    // ... and with one.
    let admin = cloud.admin().await.unwrap();
    let uid = r_id(
        &admin.get("/v3/users?name=admin").await.unwrap().body,
        "users",
    );
    let rid = role_id(&admin, "admin").await;
    assert_eq!(
        admin
            .put(
                &format!("/v3/domains/default/users/{uid}/roles/{rid}"),
                None
            )
            .await
            .unwrap()
            .status,
        204
    );
    let r = c
        .post(
            "/v3/auth/tokens",
            json!({"auth": {"identity": {"methods": ["token"], "token": {"id": ut}}, "scope": {"domain": {"name": "Default"}}}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["token"]["domain"]["id"], "default");
    let dc = c.with_token(&r.header("x-subject-token").unwrap());
    assert_eq!(
        ids(&dc.get("/v3/auth/domains").await.unwrap().body, "domains"),
        vec!["default"]
    );
    assert_eq!(
        dc.get("/v3/auth/system").await.unwrap().body["system"],
        json!([{"all": true}])
    );
    let uc = c.with_token(&ut);
    assert_eq!(
        uc.get("/v3/auth/catalog").await.unwrap().status,
        403,
        "unscoped has no catalog"
    );
    assert_eq!(
        names(&uc.get("/v3/auth/projects").await.unwrap().body, "projects"),
        vec!["admin"]
    );
    let cat = admin.get("/v3/auth/catalog").await.unwrap();
    assert_eq!(cat.status, 200);
    let types: Vec<&str> = cat.body["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"identity"), "{types:?}");
    cloud.stop().await;
}

fn r_id(body: &Value, key: &str) -> String {
    body[key][0]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn revoke_then_reject() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let other = cloud.admin().await.unwrap();
    let t = other.token().unwrap().to_string();
    assert_eq!(other.get("/v3/users").await.unwrap().status, 200);
    let r = admin
        .send(
            "DELETE",
            "/v3/auth/tokens",
            None,
            &[("x-subject-token", &t)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    assert_error(&other.get("/v3/users").await.unwrap(), 401);
    let r = admin
        .send("GET", "/v3/auth/tokens", None, &[("x-subject-token", &t)])
        .await
        .unwrap();
    assert_error(&r, 404);
    // Revoking one token leaves the revoker's own working.
    assert_eq!(admin.get("/v3/users").await.unwrap().status, 200);
    cloud.stop().await;
}

#[tokio::test]
async fn disabling_a_user_or_changing_a_password_revokes_at_once() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let pid = project(&admin, "p1").await;
    let uid = user_with_role(&admin, "alice", "pw-one", &pid, "member").await;
    let alice = token_for(&cloud, "alice", "pw-one", "p1").await;
    assert_eq!(
        alice.get(&format!("/v3/users/{uid}")).await.unwrap().status,
        200
    );
    // Self-service password change: needs the original password.
    let bad = Client::new(&cloud.identity_url())
        .post(
            &format!("/v3/users/{uid}/password"),
            json!({"user": {"password": "pw-two", "original_password": "wrong"}}),
        )
        .await
        .unwrap();
    assert_error(&bad, 401);
    let ok = Client::new(&cloud.identity_url())
        .post(
            &format!("/v3/users/{uid}/password"),
            json!({"user": {"password": "pw-two", "original_password": "pw-one"}}),
        )
        .await
        .unwrap();
    assert_eq!(ok.status, 204, "{}", ok.text);
    assert_error(&alice.get(&format!("/v3/users/{uid}")).await.unwrap(), 401);
    assert_eq!(
        alice
            .password_auth("alice", "pw-one", None)
            .await
            .unwrap()
            .status,
        401
    );
    let alice = token_for(&cloud, "alice", "pw-two", "p1").await;
    assert_eq!(
        alice.get(&format!("/v3/users/{uid}")).await.unwrap().status,
        200
    );
    // Disable: the token dies with it, and so does authentication.
    let r = admin
        .patch(
            &format!("/v3/users/{uid}"),
            json!({"user": {"enabled": false}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_error(&alice.get(&format!("/v3/users/{uid}")).await.unwrap(), 401);
    assert_error(
        &alice.password_auth("alice", "pw-two", None).await.unwrap(),
        401,
    );
    cloud.stop().await;
}

#[tokio::test]
async fn role_removal_and_project_disable_take_effect_at_once() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let pid = project(&admin, "p1").await;
    let uid = user_with_role(&admin, "bob", "pw", &pid, "member").await;
    let bob = token_for(&cloud, "bob", "pw", "p1").await;
    let me = format!("/v3/users/{uid}");
    assert_eq!(bob.get(&me).await.unwrap().status, 200);
    let rid = role_id(&admin, "member").await;
    assert_eq!(
        admin
            .delete(&format!("/v3/projects/{pid}/users/{uid}/roles/{rid}"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_error(&bob.get(&me).await.unwrap(), 401);
    assert_eq!(
        admin
            .put(&format!("/v3/projects/{pid}/users/{uid}/roles/{rid}"), None)
            .await
            .unwrap()
            .status,
        204
    );
    let bob = token_for(&cloud, "bob", "pw", "p1").await;
    assert_eq!(
        admin
            .patch(
                &format!("/v3/projects/{pid}"),
                json!({"project": {"enabled": false}})
            )
            .await
            .unwrap()
            .status,
        200
    );
    assert_error(&bob.get(&me).await.unwrap(), 401);
    assert_error(
        &bob.password_auth("bob", "pw", Some(("p1", "Default")))
            .await
            .unwrap(),
        401,
    );
    cloud.stop().await;
}

#[tokio::test]
async fn tokens_expire() {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000_000));
    let cloud = TestCloud::start_with(
        |c| {
            c.update_section::<identity::config::IdentityConfig>(|s| s.token_expiration = 60)
                .unwrap()
        },
        clock.clone(),
    )
    .await
    .unwrap();
    let admin = cloud.admin().await.unwrap();
    assert_eq!(admin.get("/v3/users").await.unwrap().status, 200);
    clock.advance_secs(59);
    assert_eq!(admin.get("/v3/users").await.unwrap().status, 200);
    clock.advance_secs(2);
    assert_error(&admin.get("/v3/users").await.unwrap(), 401);
    cloud.stop().await;
}

#[tokio::test]
async fn a_replica_sharing_keys_and_store_validates_tokens() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let token = admin.token().unwrap().to_string();
    let replica_db = db::Db::open(&cloud.config.database_url).await.unwrap();
    let replica = identity::build(
        &cloud.config,
        replica_db,
        Arc::new(common::clock::SystemClock),
    )
    .unwrap();
    let ctx = replica.validate(&token).await.unwrap();
    assert_eq!(ctx.user_name, "admin");
    // On PostgreSQL the replica now listens for revisions; give its
    // watch a moment to connect so the revocation below travels by NOTIFY.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // A token revoked through the first process is refused by the replica
    // (on PostgreSQL through the shared revision; on SQLite a replica
    // process would see the same file).
    let r = admin
        .send(
            "DELETE",
            "/v3/auth/tokens",
            None,
            &[("x-subject-token", &token)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204);
    if replica.db.is_shared() {
        // Another process hears of it when the notification arrives
        // (milliseconds), not necessarily on its very next request.
        let mut refused = false;
        for _ in 0..100 {
            if replica.validate(&token).await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(refused, "the replica never heard of the revocation");
    }
    replica.db.close().await;
    cloud.stop().await;
}

#[tokio::test]
async fn key_rotation_keeps_issued_tokens_valid() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let before = admin.token().unwrap().to_string();
    identity::token::keys::rotate(&identity::config::key_repository(&cloud.config).unwrap(), 3)
        .unwrap();
    // The server re-reads the key directory at most once a second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let after = cloud.admin().await.unwrap();
    assert_ne!(after.token().unwrap(), before);
    assert_eq!(
        admin.get("/v3/users").await.unwrap().status,
        200,
        "old token still valid"
    );
    assert_eq!(
        after.get("/v3/users").await.unwrap().status,
        200,
        "new primary works"
    );
    // Two more rotations push the old primary out of the repository.
    identity::token::keys::rotate(&identity::config::key_repository(&cloud.config).unwrap(), 3)
        .unwrap();
    identity::token::keys::rotate(&identity::config::key_repository(&cloud.config).unwrap(), 3)
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_error(&admin.get("/v3/users").await.unwrap(), 401);
    cloud.stop().await;
}

#[tokio::test]
async fn application_credentials() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let pid = project(&admin, "apps").await;
    let uid = user_with_role(&admin, "carol", "pw", &pid, "admin").await;
    let carol = token_for(&cloud, "carol", "pw", "apps").await;
    let base = format!("/v3/users/{uid}/application_credentials");
    let r = carol
        .post(
            &base,
            json!({"application_credential": {"name": "ci", "roles": [{"name": "reader"}]}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let ac = r.body["application_credential"].clone();
    let secret = ac["secret"].as_str().unwrap().to_string();
    let ac_id = ac["id"].as_str().unwrap().to_string();
    assert_eq!(ac["project_id"], pid.as_str());
    assert_eq!(ac["roles"][0]["name"], "reader");
    // No roles, or an empty list: all of the token's roles.
    let r = carol
        .post(
            &base,
            json!({"application_credential": {"name": "all", "roles": []}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.body["application_credential"]["roles"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let all_id = r.body["application_credential"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        carol
            .delete(&format!("{base}/{all_id}"))
            .await
            .unwrap()
            .status,
        204
    );
    // Duplicate name: 409. A role the user does not hold: 403.
    let dup = carol
        .post(&base, json!({"application_credential": {"name": "ci"}}))
        .await
        .unwrap();
    assert_error(&dup, 409);
    let r = carol
        .post(
            &base,
            json!({"application_credential": {"name": "x", "roles": [{"name": "service"}]}}),
        )
        .await
        .unwrap();
    assert_error(&r, 403);
    // Authenticate with it: scoped to its project, only its roles.
    let c = Client::new(&cloud.identity_url());
    let r = c
        .post(
            "/v3/auth/tokens",
            json!({"auth": {"identity": {"methods": ["application_credential"],
                "application_credential": {"id": ac_id, "secret": secret}}}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["token"]["project"]["id"], pid.as_str());
    let roles: Vec<&str> = r.body["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(roles, vec!["reader"]);
    assert_eq!(
        r.body["token"]["application_credential"]["restricted"],
        true
    );
    let act = c.with_token(&r.header("x-subject-token").unwrap());
    // A reader token cannot write; a restricted credential cannot make more.
    assert_error(
        &act.post("/v3/projects", json!({"project": {"name": "nope"}}))
            .await
            .unwrap(),
        403,
    );
    assert_error(
        &act.post(&base, json!({"application_credential": {"name": "more"}}))
            .await
            .unwrap(),
        403,
    );
    // By name + user, and a wrong secret.
    let r = c
        .post(
            "/v3/auth/tokens",
            json!({"auth": {"identity": {"methods": ["application_credential"],
                "application_credential": {"name": "ci", "secret": secret, "user": {"name": "carol", "domain": {"id": "default"}}}}}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = c
        .post(
            "/v3/auth/tokens",
            json!({"auth": {"identity": {"methods": ["application_credential"],
                "application_credential": {"id": ac_id, "secret": "wrong"}}}}),
        )
        .await
        .unwrap();
    assert_error(&r, 401);
    // Listing, showing, and another user's view (404, not 403).
    assert_eq!(
        names(
            &carol.get(&base).await.unwrap().body,
            "application_credentials"
        ),
        vec!["ci"]
    );
    assert_eq!(
        carol.get(&format!("{base}/{ac_id}")).await.unwrap().body["application_credential"]["name"],
        "ci"
    );
    user_with_role(&admin, "dave", "pw", &pid, "member").await;
    let dave = token_for(&cloud, "dave", "pw", "apps").await;
    assert_error(&dave.get(&format!("{base}/{ac_id}")).await.unwrap(), 404);
    // Deleting it invalidates its tokens.
    assert_eq!(
        carol
            .delete(&format!("{base}/{ac_id}"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_error(&act.get("/v3/auth/projects").await.unwrap(), 401);
    // `expires_at` comes back as Keystone prints it (oslo's jsonutils):
    // microseconds and no zone, so tempest's `isoformat()` matches.
    for (sent, shown) in [
        ("2099-01-02T03:04:05.123456", "2099-01-02T03:04:05.123456"),
        ("2099-01-02T03:04:05Z", "2099-01-02T03:04:05.000000"),
    ] {
        let r = carol
            .post(
                &base,
                json!({"application_credential": {"name": sent, "expires_at": sent}}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["application_credential"]["expires_at"], shown);
        let id = r.body["application_credential"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = carol.get(&format!("{base}/{id}")).await.unwrap();
        assert_eq!(r.body["application_credential"]["expires_at"], shown);
    }
    // Expired credentials are refused.
    let r = carol
        .post(&base, json!({"application_credential": {"name": "old", "expires_at": "2001-01-01T00:00:00Z"}}))
        .await
        .unwrap();
    assert_error(&r, 400);
    cloud.stop().await;
}

#[tokio::test]
async fn default_project_scopes_an_unscoped_request() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let pid = project(&admin, "home").await;
    let uid = user_with_role(&admin, "erin", "pw", &pid, "member").await;
    let r = admin
        .patch(
            &format!("/v3/users/{uid}"),
            json!({"user": {"default_project_id": pid}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = Client::new(&cloud.identity_url())
        .password_auth("erin", "pw", None)
        .await
        .unwrap();
    assert_eq!(r.body["token"]["project"]["id"], pid.as_str());
    cloud.stop().await;
}

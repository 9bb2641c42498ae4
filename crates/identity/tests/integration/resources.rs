//! Domains, projects (hierarchy, tags), users, groups.

use super::*;

#[tokio::test]
async fn domains_crud() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let r = admin
        .post(
            "/v3/domains",
            json!({"domain": {"name": "lab", "description": "d"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let did = r.body["domain"]["id"].as_str().unwrap().to_string();
    assert_error(
        &admin
            .post("/v3/domains", json!({"domain": {"name": "lab"}}))
            .await
            .unwrap(),
        409,
    );
    assert_eq!(
        admin.get(&format!("/v3/domains/{did}")).await.unwrap().body["domain"]["name"],
        "lab"
    );
    assert_eq!(
        names(
            &admin.get("/v3/domains?name=lab").await.unwrap().body,
            "domains"
        ),
        vec!["lab"]
    );
    // Things inside it.
    let r = admin
        .post(
            "/v3/projects",
            json!({"project": {"name": "inner", "domain_id": did}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201);
    let r = admin
        .post(
            "/v3/users",
            json!({"user": {"name": "u", "domain_id": did}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201);
    // Enabled domains cannot be deleted.
    assert_error(
        &admin.delete(&format!("/v3/domains/{did}")).await.unwrap(),
        403,
    );
    let r = admin
        .patch(
            &format!("/v3/domains/{did}"),
            json!({"domain": {"enabled": false}}),
        )
        .await
        .unwrap();
    assert_eq!(r.body["domain"]["enabled"], false);
    assert_eq!(
        admin
            .delete(&format!("/v3/domains/{did}"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_error(
        &admin.get(&format!("/v3/domains/{did}")).await.unwrap(),
        404,
    );
    assert!(
        names(&admin.get("/v3/projects").await.unwrap().body, "projects")
            .iter()
            .all(|n| n != "inner")
    );
    cloud.stop().await;
}

#[tokio::test]
async fn projects_hierarchy_tags_and_filters() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let r = admin
        .post("/v3/projects", json!({"project": {"name": "top", "tags": ["a", "b"], "description": "t", "color": "blue"}}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let top = r.body["project"].clone();
    assert_eq!(top["parent_id"], "default");
    assert_eq!(top["domain_id"], "default");
    assert_eq!(top["color"], "blue", "extra attributes are kept");
    let top_id = top["id"].as_str().unwrap().to_string();
    let r = admin
        .post(
            "/v3/projects",
            json!({"project": {"name": "child", "parent_id": top_id}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let child_id = r.body["project"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["project"]["parent_id"], top_id.as_str());
    assert_error(
        &admin
            .post("/v3/projects", json!({"project": {"name": "top"}}))
            .await
            .unwrap(),
        409,
    );
    assert_error(
        &admin
            .post(
                "/v3/projects",
                json!({"project": {"name": "x", "parent_id": "nope"}}),
            )
            .await
            .unwrap(),
        400,
    );
    // Filters.
    assert_eq!(
        names(
            &admin
                .get(&format!("/v3/projects?parent_id={top_id}"))
                .await
                .unwrap()
                .body,
            "projects"
        ),
        vec!["child"]
    );
    assert_eq!(
        names(
            &admin.get("/v3/projects?tags=a,b").await.unwrap().body,
            "projects"
        ),
        vec!["top"]
    );
    assert_eq!(
        names(
            &admin.get("/v3/projects?tags-any=b,z").await.unwrap().body,
            "projects"
        ),
        vec!["top"]
    );
    assert!(!names(
        &admin.get("/v3/projects?not-tags-any=a").await.unwrap().body,
        "projects"
    )
    .contains(&"top".to_string()));
    assert_eq!(
        names(
            &admin.get("/v3/projects?name=child").await.unwrap().body,
            "projects"
        ),
        vec!["child"]
    );
    // Tags API.
    let t = format!("/v3/projects/{top_id}/tags");
    assert_eq!(admin.get(&t).await.unwrap().body["tags"], json!(["a", "b"]));
    assert_eq!(
        admin.put(&format!("{t}/c"), None).await.unwrap().status,
        201
    );
    assert_eq!(admin.get(&format!("{t}/c")).await.unwrap().status, 204);
    assert_eq!(admin.delete(&format!("{t}/a")).await.unwrap().status, 204);
    assert_error(&admin.get(&format!("{t}/a")).await.unwrap(), 404);
    assert_eq!(
        admin
            .put(&t, Some(json!({"tags": ["x"]})))
            .await
            .unwrap()
            .body["tags"],
        json!(["x"])
    );
    assert_error(
        &admin
            .put(&t, Some(json!({"tags": ["bad/tag"]})))
            .await
            .unwrap(),
        400,
    );
    assert_eq!(admin.delete(&t).await.unwrap().status, 204);
    assert_eq!(admin.get(&t).await.unwrap().body["tags"], json!([]));
    // Update, immutables, delete order.
    let r = admin
        .patch(
            &format!("/v3/projects/{child_id}"),
            json!({"project": {"description": "new"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.body["project"]["description"], "new");
    let r = admin
        .patch(
            &format!("/v3/projects/{child_id}"),
            json!({"project": {"domain_id": "other"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    assert_error(
        &admin
            .delete(&format!("/v3/projects/{top_id}"))
            .await
            .unwrap(),
        403,
    );
    assert_eq!(
        admin
            .delete(&format!("/v3/projects/{child_id}"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_eq!(
        admin
            .delete(&format!("/v3/projects/{top_id}"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_error(
        &admin.get(&format!("/v3/projects/{top_id}")).await.unwrap(),
        404,
    );
    cloud.stop().await;
}

#[tokio::test]
async fn users_crud() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let r = admin
        .post("/v3/users", json!({"user": {"name": "u1", "password": "secret", "email": "u1@example.org", "description": "d"}}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let u = r.body["user"].clone();
    assert!(u.get("password").is_none(), "never echo passwords");
    assert_eq!(u["email"], "u1@example.org");
    assert_eq!(u["domain_id"], "default");
    assert_eq!(u["enabled"], true);
    let uid = u["id"].as_str().unwrap().to_string();
    assert_error(
        &admin
            .post("/v3/users", json!({"user": {"name": "u1"}}))
            .await
            .unwrap(),
        409,
    );
    // A domain that does not exist: 404, as Keystone's identity layer
    // answers (tempest's `test_create_user_for_non_existent_domain`).
    assert_error(
        &admin
            .post(
                "/v3/users",
                json!({"user": {"name": "u2", "domain_id": "nope"}}),
            )
            .await
            .unwrap(),
        404,
    );
    assert_error(
        &admin
            .post(
                "/v3/groups",
                json!({"group": {"name": "g2", "domain_id": "nope"}}),
            )
            .await
            .unwrap(),
        404,
    );
    assert_eq!(
        names(&admin.get("/v3/users?name=u1").await.unwrap().body, "users"),
        vec!["u1"]
    );
    assert!(names(
        &admin.get("/v3/users?enabled=false").await.unwrap().body,
        "users"
    )
    .is_empty());
    let r = admin
        .patch(
            &format!("/v3/users/{uid}"),
            json!({"user": {"name": "u1b", "password": "other"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"]["name"], "u1b");
    assert_eq!(
        Client::new(&cloud.identity_url())
            .password_auth("u1b", "other", None)
            .await
            .unwrap()
            .status,
        201
    );
    assert_eq!(
        admin
            .delete(&format!("/v3/users/{uid}"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_error(&admin.get(&format!("/v3/users/{uid}")).await.unwrap(), 404);
    assert_error(
        &admin.delete(&format!("/v3/users/{uid}")).await.unwrap(),
        404,
    );
    cloud.stop().await;
}

#[tokio::test]
async fn groups_and_membership() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let r = admin
        .post(
            "/v3/groups",
            json!({"group": {"name": "ops", "description": "operators"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let gid = r.body["group"]["id"].as_str().unwrap().to_string();
    assert_error(
        &admin
            .post("/v3/groups", json!({"group": {"name": "ops"}}))
            .await
            .unwrap(),
        409,
    );
    let uid = user(&admin, "g1", "pw").await;
    let m = format!("/v3/groups/{gid}/users/{uid}");
    assert_eq!(admin.head(&m).await.unwrap().status, 404);
    assert_eq!(admin.put(&m, None).await.unwrap().status, 204);
    assert_eq!(admin.put(&m, None).await.unwrap().status, 204, "idempotent");
    assert_eq!(admin.head(&m).await.unwrap().status, 204);
    assert_eq!(
        names(
            &admin
                .get(&format!("/v3/groups/{gid}/users"))
                .await
                .unwrap()
                .body,
            "users"
        ),
        vec!["g1"]
    );
    assert_eq!(
        names(
            &admin
                .get(&format!("/v3/users/{uid}/groups"))
                .await
                .unwrap()
                .body,
            "groups"
        ),
        vec!["ops"]
    );
    // A role granted to the group reaches the member's token.
    let pid = project(&admin, "gp").await;
    let rid = role_id(&admin, "member").await;
    assert_eq!(
        admin
            .put(
                &format!("/v3/projects/{pid}/groups/{gid}/roles/{rid}"),
                None
            )
            .await
            .unwrap()
            .status,
        204
    );
    let r = Client::new(&cloud.identity_url())
        .password_auth("g1", "pw", Some(("gp", "Default")))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(admin.delete(&m).await.unwrap().status, 204);
    assert_error(&admin.delete(&m).await.unwrap(), 404);
    let r = Client::new(&cloud.identity_url())
        .password_auth("g1", "pw", Some(("gp", "Default")))
        .await
        .unwrap();
    assert_error(&r, 401);
    let r = admin
        .patch(
            &format!("/v3/groups/{gid}"),
            json!({"group": {"description": "new"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.body["group"]["description"], "new");
    assert_eq!(
        admin
            .delete(&format!("/v3/groups/{gid}"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_error(&admin.get(&format!("/v3/groups/{gid}")).await.unwrap(), 404);
    cloud.stop().await;
}

/// Keystone's resource schema: domain and project names (and the ids a
/// project names) are 1 to 64 characters; user and group names 255.
#[tokio::test]
async fn name_lengths_follow_keystones_schemas() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let n64 = "d".repeat(64);
    let n65 = "d".repeat(65);
    let r = admin
        .post("/v3/domains", json!({"domain": {"name": n65}}))
        .await
        .unwrap();
    assert_error(&r, 400);
    let r = admin
        .post("/v3/domains", json!({"domain": {"name": n64}}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let did = r.body["domain"]["id"].as_str().unwrap().to_string();
    let r = admin
        .patch(
            &format!("/v3/domains/{did}"),
            json!({"domain": {"name": n65}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    let p65 = "p".repeat(65);
    let r = admin
        .post(
            "/v3/projects",
            json!({"project": {"name": p65, "domain_id": "default"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    let r = admin
        .post(
            "/v3/projects",
            json!({"project": {"name": "p", "domain_id": "x".repeat(65)}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    let pid = project(&admin, &"p".repeat(64)).await;
    let r = admin
        .patch(
            &format!("/v3/projects/{pid}"),
            json!({"project": {"name": p65}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    // Users and groups keep 255.
    let r = admin
        .post("/v3/users", json!({"user": {"name": "u".repeat(255)}}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = admin
        .post("/v3/users", json!({"user": {"name": "u".repeat(256)}}))
        .await
        .unwrap();
    assert_error(&r, 400);
    let r = admin
        .post("/v3/groups", json!({"group": {"name": "g".repeat(255)}}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    // Ids a request names are 64 at most: a longer one is a 400 before
    // any lookup (not the 404 of an unknown domain).
    let long_id = "x".repeat(65);
    for (path, body) in [
        (
            "/v3/users",
            json!({"user": {"name": "lu", "domain_id": long_id}}),
        ),
        (
            "/v3/groups",
            json!({"group": {"name": "lg", "domain_id": long_id}}),
        ),
        (
            "/v3/roles",
            json!({"role": {"name": "lr", "domain_id": long_id}}),
        ),
    ] {
        assert_error(&admin.post(path, body).await.unwrap(), 400);
    }
    // Descriptions of domains and regions, and region ids: 255.
    let long = "z".repeat(256);
    let bad = [
        (
            "/v3/domains",
            json!({"domain": {"name": "ld", "description": long}}),
        ),
        ("/v3/regions", json!({"region": {"id": long}})),
        ("/v3/regions", json!({"region": {"description": long}})),
    ];
    for (path, body) in bad {
        assert_error(&admin.post(path, body).await.unwrap(), 400);
    }
    let r = admin
        .patch(
            &format!("/v3/domains/{did}"),
            json!({"domain": {"description": long}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    let r = admin
        .post(
            "/v3/regions",
            json!({"region": {"id": "r".repeat(255), "description": "z".repeat(255)}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    cloud.stop().await;
}

/// A project created with `is_domain: true` acts as a domain, as in
/// Keystone: listed by `/v3/domains` and `/v3/projects?is_domain=true`,
/// shown, updated and deleted through the projects API.
#[tokio::test]
async fn projects_acting_as_domains() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let r = admin
        .post(
            "/v3/projects",
            json!({"project": {"name": "pad", "description": "as domain", "domain_id": null, "is_domain": true}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let p = &r.body["project"];
    assert_eq!(p["is_domain"], true);
    assert!(p["domain_id"].is_null() && p["parent_id"].is_null(), "{p}");
    let id = p["id"].as_str().unwrap().to_string();
    let r = admin.get("/v3/projects?is_domain=true").await.unwrap();
    assert!(ids(&r.body, "projects").contains(&id), "{}", r.text);
    assert!(!ids(&admin.get("/v3/projects").await.unwrap().body, "projects").contains(&id));
    assert!(ids(&admin.get("/v3/domains").await.unwrap().body, "domains").contains(&id));
    let r = admin.get(&format!("/v3/domains/{id}")).await.unwrap();
    assert_eq!(r.body["domain"]["name"], "pad");
    assert_eq!(r.body["domain"]["description"], "as domain");
    let r = admin.get(&format!("/v3/projects/{id}")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["project"]["is_domain"], true);
    // A project inside it.
    let r = admin
        .post(
            "/v3/projects",
            json!({"project": {"name": "inside", "domain_id": id}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    // Only a root acts as a domain.
    let r = admin
        .post(
            "/v3/projects",
            json!({"project": {"name": "pad2", "parent_id": "default", "is_domain": true}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    // tempest's cleanup: disable, then delete, through the projects API.
    assert_error(
        &admin.delete(&format!("/v3/projects/{id}")).await.unwrap(),
        403,
    );
    let r = admin
        .patch(
            &format!("/v3/projects/{id}"),
            json!({"project": {"enabled": false}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["project"]["enabled"], false);
    assert_eq!(
        admin
            .delete(&format!("/v3/projects/{id}"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_error(&admin.get(&format!("/v3/domains/{id}")).await.unwrap(), 404);
    assert_error(
        &admin.get(&format!("/v3/projects/{id}")).await.unwrap(),
        404,
    );
    cloud.stop().await;
}

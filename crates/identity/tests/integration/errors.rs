//! Shared HTTP behaviour: error bodies, request ids, versions, limits,
//! strict input, pagination, policy personas.

use super::*;

#[tokio::test]
async fn versions_and_request_ids() {
    let cloud = TestCloud::start().await.unwrap();
    let c = Client::new(&cloud.identity_url());
    let r = c.get("/").await.unwrap();
    assert_eq!(r.status, 300);
    assert_eq!(r.body["versions"]["values"][0]["id"], "v3.14");
    assert!(r.body["versions"]["values"][0]["links"][0]["href"]
        .as_str()
        .unwrap()
        .ends_with("/v3/"));
    let r = c.get("/v3").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body["version"]["status"], "stable");
    assert!(r
        .header("x-openstack-request-id")
        .unwrap()
        .starts_with("req-"));
    cloud.stop().await;
}

/// JSON Home on `/` (paths under `/v3`) and `/v3` (relative paths) with
/// `Accept: application/json-home`, carrying the extension relations
/// python-tempestconf turns into `api_extensions`.
#[tokio::test]
async fn json_home() {
    let cloud = TestCloud::start().await.unwrap();
    let c = Client::new(&cloud.identity_url());
    let rel = "https://docs.openstack.org/api/openstack-identity/3/";
    let home = [("accept", "application/json-home")];
    let r = c.send("GET", "/v3", None, &home).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type").unwrap(), "application/json-home");
    let res = &r.body["resources"];
    assert_eq!(
        res[format!("{rel}rel/auth_tokens")],
        json!({"href": "/auth/tokens"})
    );
    assert_eq!(
        res[format!("{rel}rel/user")],
        json!({"href-template": "/users/{user_id}", "href-vars": {"user_id": format!("{rel}param/user_id")}})
    );
    assert_eq!(
        res[format!("{rel}ext/OS-INHERIT/1.0/rel/domain_user_role_inherited_to_projects")]
            ["href-template"],
        "/OS-INHERIT/domains/{domain_id}/users/{user_id}/roles/{role_id}/inherited_to_projects"
    );
    // What python-tempestconf does with it: the extension names.
    let mut ext: Vec<String> = res
        .as_object()
        .unwrap()
        .keys()
        .filter_map(|k| k.strip_prefix(&format!("{rel}ext/")))
        .map(|k| k.split('/').next().unwrap().to_string())
        .collect();
    ext.sort();
    ext.dedup();
    assert_eq!(
        ext,
        [
            "OS-EC2",
            "OS-EP-FILTER",
            "OS-INHERIT",
            "OS-OAUTH1",
            "OS-TRUST"
        ]
    );
    // Every advertised path is served: none answers 404 to an admin.
    let admin = cloud.admin().await.unwrap();
    for (rel_name, v) in res.as_object().unwrap() {
        if let Some(href) = v["href"].as_str() {
            let r = admin.get(&format!("/v3{href}")).await.unwrap();
            assert_ne!(r.status, 404, "{rel_name} {href}");
        }
    }

    // At `/`: the same document with every path under `/v3`.
    let r = c.send("GET", "/", None, &home).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type").unwrap(), "application/json-home");
    assert_eq!(
        r.body["resources"][format!("{rel}ext/OS-TRUST/1.0/rel/trusts")],
        json!({"href": "/v3/OS-TRUST/trusts"})
    );
    // JSON when asked for both, or for nothing in particular.
    let both = [("accept", "application/json-home, application/json")];
    let r = c.send("GET", "/v3", None, &both).await.unwrap();
    assert_eq!(r.body["version"]["id"], "v3.14");
    let r = c
        .send("GET", "/", None, &[("accept", "*/*")])
        .await
        .unwrap();
    assert_eq!(r.status, 300);
    let pref = [("accept", "application/json-home, application/json;q=0.5")];
    let r = c.send("GET", "/v3", None, &pref).await.unwrap();
    assert_eq!(r.header("content-type").unwrap(), "application/json-home");
    cloud.stop().await;
}

#[tokio::test]
async fn unknown_urls_methods_and_bodies() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let r = admin.get("/v3/no-such-thing").await.unwrap();
    assert_error(&r, 404);
    assert!(r.header("x-openstack-request-id").is_some());
    let r = admin.send("PUT", "/v3/users", None, &[]).await.unwrap();
    assert_error(&r, 405);
    // Malformed JSON, wrong types (the field is named), missing envelope.
    let r = admin
        .send_raw("POST", "/v3/users", "{not json".into(), &[])
        .await
        .unwrap();
    assert_error(&r, 400);
    let r = admin
        .post(
            "/v3/users",
            json!({"user": {"name": "x", "enabled": "yes"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("user.enabled"),
        "{}",
        r.text
    );
    let r = admin.post("/v3/users", json!({"name": "x"})).await.unwrap();
    assert_error(&r, 400);
    let r = admin
        .post("/v3/projects", json!({"project": {"name": ""}}))
        .await
        .unwrap();
    assert_error(&r, 400);
    // Over the body limit: 413.
    let big = "x".repeat(200_000);
    let r = admin
        .post(
            "/v3/users",
            json!({"user": {"name": "big", "description": big}}),
        )
        .await
        .unwrap();
    assert_error(&r, 413);
    // Query parameters with the wrong type.
    let r = admin.get("/v3/users?enabled=maybe").await.unwrap();
    assert_error(&r, 400);
    let r = admin.get("/v3/users?limit=-1").await.unwrap();
    assert_error(&r, 400);
    cloud.stop().await;
}

#[tokio::test]
async fn member_and_reader_personas() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let p1 = project(&admin, "p1").await;
    let p2 = project(&admin, "p2").await;
    user_with_role(&admin, "mem", "pw", &p1, "member").await;
    user_with_role(&admin, "rdr", "pw", &p1, "reader").await;
    let member = token_for(&cloud, "mem", "pw", "p1").await;
    let reader = token_for(&cloud, "rdr", "pw", "p1").await;
    // A member may not create users; a reader may write nothing.
    assert_error(
        &member
            .post("/v3/users", json!({"user": {"name": "evil"}}))
            .await
            .unwrap(),
        403,
    );
    assert_error(
        &reader
            .post("/v3/users", json!({"user": {"name": "evil"}}))
            .await
            .unwrap(),
        403,
    );
    assert_error(
        &reader
            .post("/v3/projects", json!({"project": {"name": "evil"}}))
            .await
            .unwrap(),
        403,
    );
    assert_error(
        &reader
            .post("/v3/groups", json!({"group": {"name": "evil"}}))
            .await
            .unwrap(),
        403,
    );
    assert_error(
        &reader
            .post("/v3/roles", json!({"role": {"name": "evil"}}))
            .await
            .unwrap(),
        403,
    );
    assert_error(
        &reader
            .patch(
                &format!("/v3/projects/{p1}"),
                json!({"project": {"description": "x"}}),
            )
            .await
            .unwrap(),
        403,
    );
    assert_error(
        &reader.delete(&format!("/v3/projects/{p1}")).await.unwrap(),
        403,
    );
    assert_error(
        &reader
            .post("/v3/regions", json!({"region": {}}))
            .await
            .unwrap(),
        403,
    );
    // Their own project is visible; another project's is a 404.
    assert_eq!(
        member
            .get(&format!("/v3/projects/{p1}"))
            .await
            .unwrap()
            .status,
        200
    );
    assert_error(
        &member.get(&format!("/v3/projects/{p2}")).await.unwrap(),
        404,
    );
    assert_error(
        &reader.get(&format!("/v3/projects/{p2}")).await.unwrap(),
        404,
    );
    // Listing everyone is an admin's (or system reader's) business.
    assert_error(&member.get("/v3/users").await.unwrap(), 403);
    assert_error(&member.get("/v3/projects").await.unwrap(), 403);
    cloud.stop().await;
}

#[tokio::test]
async fn limit_marker_pagination() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    for i in 0..5 {
        let r = admin
            .post("/v3/groups", json!({"group": {"name": format!("g{i}")}}))
            .await
            .unwrap();
        assert_eq!(r.status, 201);
    }
    let all = ids(&admin.get("/v3/groups").await.unwrap().body, "groups");
    assert_eq!(all.len(), 5);
    let mut seen = Vec::new();
    let mut url = "/v3/groups?limit=2".to_string();
    loop {
        let r = admin.get(&url).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        seen.extend(ids(&r.body, "groups"));
        match r.body["links"]["next"].as_str() {
            Some(next) => {
                url = next
                    .split_once("/v3/")
                    .map(|(_, p)| format!("/v3/{p}"))
                    .unwrap()
            }
            None => break,
        }
    }
    assert_eq!(seen, all);
    assert_error(
        &admin.get("/v3/groups?marker=nonexistent").await.unwrap(),
        400,
    );
    cloud.stop().await;
}

#[tokio::test]
async fn user_pages_keep_their_filters() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let r = admin
        .post("/v3/domains", json!({"domain": {"name": "paged"}}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let did = r.body["domain"]["id"].as_str().unwrap().to_string();
    let mut disabled = String::new();
    for i in 0..5 {
        let r = admin
            .post(
                "/v3/users",
                json!({"user": {"name": format!("u{i}"), "domain_id": did, "enabled": i != 2}}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.text);
        if i == 2 {
            disabled = r.body["user"]["id"].as_str().unwrap().to_string();
        }
    }
    let base = format!("/v3/users?domain_id={did}&enabled=true");
    let all = ids(&admin.get(&base).await.unwrap().body, "users");
    assert_eq!(all.len(), 4);
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "users are listed in id order");
    let mut seen = Vec::new();
    let mut url = format!("{base}&limit=3");
    let mut pages = 0;
    loop {
        let r = admin.get(&url).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        pages += 1;
        seen.extend(ids(&r.body, "users"));
        match r.body["links"]["next"].as_str() {
            Some(next) => {
                assert_eq!(r.body["truncated"], true);
                url = next
                    .split_once("/v3/")
                    .map(|(_, p)| format!("/v3/{p}"))
                    .unwrap()
            }
            None => break,
        }
    }
    assert_eq!((seen, pages), (all, 2));
    // The disabled user exists but is not in this list: no marker.
    assert_error(
        &admin
            .get(&format!("{base}&marker={disabled}"))
            .await
            .unwrap(),
        400,
    );
    cloud.stop().await;
}

#[tokio::test]
async fn concurrent_creates_of_one_name_yield_one_winner() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let a = admin.clone();
        tasks.push(tokio::spawn(async move {
            a.post(
                "/v3/users",
                json!({"user": {"name": "racer", "password": "pw"}}),
            )
            .await
            .unwrap()
            .status
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    codes.sort();
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 409).count(), 7, "{codes:?}");
    assert_eq!(
        ids(
            &admin.get("/v3/users?name=racer").await.unwrap().body,
            "users"
        )
        .len(),
        1
    );
    cloud.stop().await;
}

#[tokio::test]
async fn restart_resumes_the_same_cloud() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let pid = project(&admin, "kept").await;
    let token = admin.token().unwrap().to_string();
    let password = cloud.cloud.admin_password.clone();
    let stopped = cloud.stop_keeping_state().await;
    let again = stopped
        .start(std::sync::Arc::new(common::clock::SystemClock))
        .await
        .unwrap();
    assert_eq!(again.cloud.admin_password, password);
    let c = Client::new(&again.identity_url()).with_token(&token);
    let r = c.get(&format!("/v3/projects/{pid}")).await.unwrap();
    assert_eq!(r.status, 200, "same keys, same data: {}", r.text);
    again.stop().await;
}

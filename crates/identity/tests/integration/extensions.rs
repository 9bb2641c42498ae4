//! The Identity API extensions: OS-INHERIT, policies, credentials, EC2
//! credentials and `/v3/ec2tokens`, OS-TRUST.

use super::*;

#[tokio::test]
async fn inherited_grants_reach_projects_below() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let top = project(&admin, "top").await;
    let r = admin
        .post(
            "/v3/projects",
            json!({"project": {"name": "leaf", "parent_id": top}}),
        )
        .await
        .unwrap();
    let leaf = r.body["project"]["id"].as_str().unwrap().to_string();
    let uid = user(&admin, "heir", "pw").await;
    let member = role_id(&admin, "member").await;
    let g =
        format!("/v3/OS-INHERIT/projects/{top}/users/{uid}/roles/{member}/inherited_to_projects");
    assert_eq!(admin.put(&g, None).await.unwrap().status, 204);
    assert_eq!(admin.head(&g).await.unwrap().status, 204);
    let list = admin
        .get(&format!(
            "/v3/OS-INHERIT/projects/{top}/users/{uid}/roles/inherited_to_projects"
        ))
        .await
        .unwrap();
    assert_eq!(names(&list.body, "roles"), vec!["member"]);
    // Not on the project itself, but on the one below.
    let c = Client::new(&cloud.identity_url());
    assert_error(
        &c.password_auth("heir", "pw", Some(("top", "Default")))
            .await
            .unwrap(),
        401,
    );
    assert_eq!(
        c.password_auth("heir", "pw", Some(("leaf", "Default")))
            .await
            .unwrap()
            .status,
        201
    );
    let r = admin
        .get(&format!("/v3/role_assignments?user.id={uid}&effective"))
        .await
        .unwrap();
    let scopes: Vec<&str> = r.body["role_assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["scope"]["project"]["id"].as_str().unwrap())
        .collect();
    assert!(scopes.iter().all(|p| *p == leaf), "{scopes:?}");
    let r = admin
        .get("/v3/role_assignments?scope.OS-INHERIT:inherited_to=projects")
        .await
        .unwrap();
    assert_eq!(
        r.body["role_assignments"][0]["scope"]["OS-INHERIT:inherited_to"],
        "projects"
    );
    // Domain-wide inheritance.
    let d =
        format!("/v3/OS-INHERIT/domains/default/users/{uid}/roles/{member}/inherited_to_projects");
    assert_eq!(admin.put(&d, None).await.unwrap().status, 204);
    assert_eq!(
        c.password_auth("heir", "pw", Some(("top", "Default")))
            .await
            .unwrap()
            .status,
        201
    );
    assert_eq!(admin.delete(&d).await.unwrap().status, 204);
    assert_eq!(admin.delete(&g).await.unwrap().status, 204);
    assert_error(
        &c.password_auth("heir", "pw", Some(("leaf", "Default")))
            .await
            .unwrap(),
        401,
    );
    cloud.stop().await;
}

#[tokio::test]
async fn policy_blobs() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let r = admin
        .post(
            "/v3/policies",
            json!({"policy": {"blob": "{\"a\": \"b\"}", "type": "application/json"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let pid = r.body["policy"]["id"].as_str().unwrap().to_string();
    assert_error(
        &admin
            .post("/v3/policies", json!({"policy": {"type": "x"}}))
            .await
            .unwrap(),
        400,
    );
    assert_eq!(
        ids(
            &admin
                .get("/v3/policies?type=application/json")
                .await
                .unwrap()
                .body,
            "policies"
        ),
        vec![pid.clone()]
    );
    let r = admin
        .patch(
            &format!("/v3/policies/{pid}"),
            json!({"policy": {"blob": "{}"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.body["policy"]["blob"], "{}");
    let p1 = project(&admin, "pp").await;
    user_with_role(&admin, "pm", "pw", &p1, "member").await;
    let member = token_for(&cloud, "pm", "pw", "pp").await;
    assert_error(
        &member
            .post(
                "/v3/policies",
                json!({"policy": {"blob": "{}", "type": "t"}}),
            )
            .await
            .unwrap(),
        403,
    );
    assert_eq!(
        admin
            .delete(&format!("/v3/policies/{pid}"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_error(
        &admin.get(&format!("/v3/policies/{pid}")).await.unwrap(),
        404,
    );
    cloud.stop().await;
}

#[tokio::test]
async fn credentials_are_private_and_encrypted_at_rest() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let p = project(&admin, "cp").await;
    let uid = user_with_role(&admin, "cu", "pw", &p, "member").await;
    let other = user_with_role(&admin, "co", "pw", &p, "member").await;
    let me = token_for(&cloud, "cu", "pw", "cp").await;
    let them = token_for(&cloud, "co", "pw", "cp").await;
    let r = me
        .post(
            "/v3/credentials",
            json!({"credential": {"user_id": uid, "type": "totp", "blob": "JBSWY3DPEHPK3PXP"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let cid = r.body["credential"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["credential"]["blob"], "JBSWY3DPEHPK3PXP");
    // Another user may not create credentials for me, nor see mine.
    let r = them
        .post(
            "/v3/credentials",
            json!({"credential": {"user_id": uid, "type": "totp", "blob": "x"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 403);
    assert_error(
        &them.get(&format!("/v3/credentials/{cid}")).await.unwrap(),
        404,
    );
    assert!(ids(
        &them.get("/v3/credentials").await.unwrap().body,
        "credentials"
    )
    .is_empty());
    assert_eq!(
        ids(
            &me.get("/v3/credentials").await.unwrap().body,
            "credentials"
        ),
        vec![cid.clone()]
    );
    assert_eq!(
        ids(
            &admin
                .get(&format!("/v3/credentials?user_id={uid}"))
                .await
                .unwrap()
                .body,
            "credentials"
        ),
        vec![cid.clone()]
    );
    let _ = other;
    // The store holds ciphertext, never the blob.
    let db = db::Db::open(&cloud.config.database_url).await.unwrap();
    let stored: String = db::sqlx::Row::get(
        &db::sqlx::query("SELECT encrypted_blob FROM credentials WHERE id = $1")
            .bind(&cid)
            .fetch_one(&db.pool)
            .await
            .unwrap(),
        "encrypted_blob",
    );
    assert!(!stored.contains("JBSWY3DPEHPK3PXP"));
    db.close().await;
    let r = me
        .patch(
            &format!("/v3/credentials/{cid}"),
            json!({"credential": {"blob": "NEW"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.body["credential"]["blob"], "NEW");
    // ec2 blobs: JSON with access; the id is its SHA-256.
    let r = me
        .post(
            "/v3/credentials",
            json!({"credential": {"user_id": uid, "type": "ec2", "project_id": p,
            "blob": "{\"access\": \"abc\", \"secret\": \"def\"}"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.body["credential"]["id"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    // A new access key (tempest's credential update): accepted, and the
    // credential keeps its id, as in Keystone; the delegation keys may
    // not change, and `access` stays required.
    let ec2 = r.body["credential"]["id"].as_str().unwrap().to_string();
    let p2 = project(&admin, "cp2").await;
    let new_blob = "{\"access\": \"new-access\", \"secret\": \"new-secret\"}";
    let r = admin
        .patch(
            &format!("/v3/credentials/{ec2}"),
            json!({"credential": {"blob": new_blob, "project_id": p2, "type": "ec2"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["credential"]["id"], ec2.as_str());
    assert_eq!(r.body["credential"]["project_id"], p2.as_str());
    let r = admin.get(&format!("/v3/credentials/{ec2}")).await.unwrap();
    let blob: Value = serde_json::from_str(r.body["credential"]["blob"].as_str().unwrap()).unwrap();
    assert_eq!(blob["access"], "new-access");
    assert_eq!(blob["secret"], "new-secret");
    for bad in [
        "{\"access\": \"a\", \"secret\": \"s\", \"trust_id\": \"t\"}",
        "{\"secret\": \"s\"}",
        "not json",
    ] {
        let r = admin
            .patch(
                &format!("/v3/credentials/{ec2}"),
                json!({"credential": {"blob": bad}}),
            )
            .await
            .unwrap();
        assert_error(&r, 400);
    }
    let r = me
        .post(
            "/v3/credentials",
            json!({"credential": {"user_id": uid, "type": "ec2", "project_id": p, "blob": "nope"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    assert_eq!(
        me.delete(&format!("/v3/credentials/{cid}"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_error(
        &me.get(&format!("/v3/credentials/{cid}")).await.unwrap(),
        404,
    );
    cloud.stop().await;
}

#[tokio::test]
async fn ec2_credentials_and_ec2tokens() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let p = project(&admin, "ep").await;
    let uid = user_with_role(&admin, "eu", "pw", &p, "member").await;
    let me = token_for(&cloud, "eu", "pw", "ep").await;
    let base = format!("/v3/users/{uid}/credentials/OS-EC2");
    let r = me.post(&base, json!({"tenant_id": p})).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let access = r.body["credential"]["access"].as_str().unwrap().to_string();
    let secret = r.body["credential"]["secret"].as_str().unwrap().to_string();
    assert_eq!(r.body["credential"]["tenant_id"], p.as_str());
    let list = me.get(&base).await.unwrap();
    assert_eq!(list.body["credentials"][0]["access"], access.as_str());
    assert_eq!(
        me.get(&format!("{base}/{access}")).await.unwrap().body["credential"]["secret"],
        secret.as_str()
    );
    // A version 4 signed request, signed here the way an EC2 client would.
    let mut req: identity::app::ec2::SignedRequest = serde_json::from_value(json!({
        "access": access, "signature": "", "host": "ec2.example.com", "verb": "GET", "path": "/",
        "body_hash": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "params": {"Action": "DescribeRegions", "Version": "2013-10-15"},
        "headers": {"Host": "ec2.example.com", "X-Amz-Date": "20300101T000000Z",
            "Authorization": format!("AWS4-HMAC-SHA256 Credential={access}/20300101/RegionOne/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=x")}
    }))
    .unwrap();
    req.signature = identity::app::ec2::expected_signature(&secret, &req).unwrap();
    let body = json!({"credentials": serde_json::to_value(SignedJson(&req)).unwrap()});
    let c = Client::new(&cloud.identity_url());
    let r = c.post("/v3/ec2tokens", body.clone()).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["token"]["user"]["id"], uid.as_str());
    assert_eq!(r.body["token"]["project"]["id"], p.as_str());
    assert_eq!(r.body["token"]["methods"], json!(["ec2credential"]));
    assert!(r.header("x-subject-token").is_some());
    let mut bad = body.clone();
    bad["credentials"]["signature"] = json!("0000");
    assert_error(&c.post("/v3/ec2tokens", bad).await.unwrap(), 401);
    let mut unknown = body.clone();
    unknown["credentials"]["access"] = json!("nobody");
    assert_error(&c.post("/v3/ec2tokens", unknown).await.unwrap(), 401);
    assert_error(
        &c.post("/v3/ec2tokens", json!({"nothing": 1}))
            .await
            .unwrap(),
        400,
    );
    assert_eq!(
        me.delete(&format!("{base}/{access}")).await.unwrap().status,
        204
    );
    assert_error(&me.get(&format!("{base}/{access}")).await.unwrap(), 404);
    assert_error(&c.post("/v3/ec2tokens", body).await.unwrap(), 401);
    cloud.stop().await;
}

/// Serialises a SignedRequest back to the JSON a client sends.
struct SignedJson<'a>(&'a identity::app::ec2::SignedRequest);

impl serde::Serialize for SignedJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        json!({"access": r.access, "signature": r.signature, "host": r.host, "verb": r.verb, "path": r.path,
            "params": r.params, "headers": r.headers, "body_hash": r.body_hash})
        .serialize(s)
    }
}

#[tokio::test]
async fn trusts_delegate_and_revoke() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let p = project(&admin, "tp").await;
    let trustor = user_with_role(&admin, "trustor", "pw", &p, "member").await;
    let trustee = user(&admin, "trustee", "pw").await;
    let tor = token_for(&cloud, "trustor", "pw", "tp").await;
    // Only the trustor may create it; roles must be the trustor's.
    let body = json!({"trust": {"trustor_user_id": trustor, "trustee_user_id": trustee, "project_id": p,
        "impersonation": true, "roles": [{"name": "member"}], "remaining_uses": 2}});
    assert_error(
        &admin
            .post("/v3/OS-TRUST/trusts", body.clone())
            .await
            .unwrap(),
        403,
    );
    let mut too_much = body.clone();
    too_much["trust"]["roles"] = json!([{"name": "admin"}]);
    assert_error(
        &tor.post("/v3/OS-TRUST/trusts", too_much).await.unwrap(),
        403,
    );
    let r = tor.post("/v3/OS-TRUST/trusts", body).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let tid = r.body["trust"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["trust"]["roles"][0]["name"], "member");
    assert_eq!(
        tor.get(&format!("/v3/OS-TRUST/trusts/{tid}/roles"))
            .await
            .unwrap()
            .body["roles"][0]["name"],
        "member"
    );
    // Listing, with Keystone's policy: admins list all (also with the
    // trailing slash tempest's client sends); the trustor lists by
    // `trustor_user_id`, the trustee by `trustee_user_id`; neither lists
    // everything nor another user's trusts.
    for path in ["/v3/OS-TRUST/trusts", "/v3/OS-TRUST/trusts/"] {
        let r = admin.get(path).await.unwrap();
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(ids(&r.body, "trusts"), vec![tid.clone()]);
    }
    let r = tor
        .get(&format!("/v3/OS-TRUST/trusts/?trustor_user_id={trustor}"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ids(&r.body, "trusts"), vec![tid.clone()]);
    let r = admin
        .get(&format!("/v3/OS-TRUST/trusts?trustee_user_id={trustee}"))
        .await
        .unwrap();
    assert_eq!(ids(&r.body, "trusts"), vec![tid.clone()]);
    let r = admin
        .get(&format!("/v3/OS-TRUST/trusts?trustor_user_id={trustee}"))
        .await
        .unwrap();
    assert!(ids(&r.body, "trusts").is_empty());
    assert_error(&tor.get("/v3/OS-TRUST/trusts").await.unwrap(), 403);
    assert_error(
        &tor.get(&format!("/v3/OS-TRUST/trusts?trustee_user_id={trustee}"))
            .await
            .unwrap(),
        403,
    );
    let tee = {
        let c = Client::new(&cloud.identity_url());
        let t = c.password_token("trustee", "pw", None).await.unwrap();
        c.with_token(&t)
    };
    let r = tee
        .get(&format!("/v3/OS-TRUST/trusts?trustee_user_id={trustee}"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ids(&r.body, "trusts"), vec![tid.clone()]);

    // The trustee authenticates into it: impersonation makes the token the trustor's.
    let c = Client::new(&cloud.identity_url());
    let trust_auth = |id: &str| {
        json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": trustee, "password": "pw"}}},
            "scope": {"OS-TRUST:trust": {"id": id}}}})
    };
    let r = c.post("/v3/auth/tokens", trust_auth(&tid)).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let t = &r.body["token"];
    assert_eq!(t["user"]["id"], trustor.as_str());
    assert_eq!(t["project"]["id"], p.as_str());
    assert_eq!(t["OS-TRUST:trust"]["id"], tid.as_str());
    assert_eq!(t["OS-TRUST:trust"]["trustee_user"]["id"], trustee.as_str());
    let roles: Vec<&str> = t["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(roles, vec!["member", "reader"]);
    let tt = c.with_token(&r.header("x-subject-token").unwrap());
    assert_eq!(tt.get("/v3/auth/catalog").await.unwrap().status, 200);
    // Two uses only.
    assert_eq!(
        c.post("/v3/auth/tokens", trust_auth(&tid))
            .await
            .unwrap()
            .status,
        201
    );
    assert_error(
        &c.post("/v3/auth/tokens", trust_auth(&tid)).await.unwrap(),
        403,
    );
    // Someone other than the trustee cannot use it.
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": trustor, "password": "pw"}}},
        "scope": {"OS-TRUST:trust": {"id": tid}}}});
    assert_error(&c.post("/v3/auth/tokens", body).await.unwrap(), 403);
    // Deleting the trust ends its tokens.
    assert_eq!(
        tor.delete(&format!("/v3/OS-TRUST/trusts/{tid}"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_error(&tt.get("/v3/auth/catalog").await.unwrap(), 401);
    assert_error(
        &tor.get(&format!("/v3/OS-TRUST/trusts/{tid}"))
            .await
            .unwrap(),
        404,
    );
    cloud.stop().await;
}

#[tokio::test]
async fn trusts_without_impersonation_and_redelegation() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let p = project(&admin, "rp").await;
    let a = user_with_role(&admin, "ra", "pw", &p, "member").await;
    let b = user(&admin, "rb", "pw").await;
    let cc = user(&admin, "rc", "pw").await;
    let ta = token_for(&cloud, "ra", "pw", "rp").await;
    let r = ta
        .post("/v3/OS-TRUST/trusts", json!({"trust": {"trustor_user_id": a, "trustee_user_id": b, "project_id": p,
            "impersonation": false, "roles": [{"name": "member"}], "allow_redelegation": true, "redelegation_count": 1}}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let tid = r.body["trust"]["id"].as_str().unwrap().to_string();
    // Trustee's own token, rescoped into the trust with the token method.
    let c = Client::new(&cloud.identity_url());
    let bt = c
        .password_auth("rb", "pw", None)
        .await
        .unwrap()
        .header("x-subject-token")
        .unwrap();
    let r = c
        .post(
            "/v3/auth/tokens",
            json!({"auth": {"identity": {"methods": ["token"], "token": {"id": bt}},
            "scope": {"OS-TRUST:trust": {"id": tid}}}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.body["token"]["user"]["id"],
        b.as_str(),
        "no impersonation: the trustee acts"
    );
    let trust_token = r.header("x-subject-token").unwrap();
    let btc = c.with_token(&trust_token);
    // A trust token may not be rescoped.
    let r = c
        .post(
            "/v3/auth/tokens",
            json!({"auth": {"identity": {"methods": ["token"], "token": {"id": trust_token}},
            "scope": {"project": {"id": p}}}}),
        )
        .await
        .unwrap();
    assert_error(&r, 403);
    // Redelegation once, then no further.
    let r = btc
        .post(
            "/v3/OS-TRUST/trusts",
            json!({"trust": {"trustor_user_id": b, "trustee_user_id": cc, "project_id": p,
            "impersonation": false, "roles": [{"name": "member"}], "allow_redelegation": true}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["trust"]["redelegated_trust_id"], tid.as_str());
    assert_eq!(r.body["trust"]["redelegation_count"], 0);
    assert_eq!(r.body["trust"]["allow_redelegation"], false);
    // The trustor losing the role invalidates the trust's tokens.
    let member = role_id(&admin, "member").await;
    assert_eq!(
        admin
            .delete(&format!("/v3/projects/{p}/users/{a}/roles/{member}"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_error(&btc.get("/v3/auth/catalog").await.unwrap(), 401);
    cloud.stop().await;
}

#[tokio::test]
async fn endpoint_groups_filter_project_catalogs() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let p = project(&admin, "fp").await;
    user_with_role(&admin, "fu", "pw", &p, "member").await;
    let sid = admin
        .post(
            "/v3/services",
            json!({"service": {"type": "compute", "name": "nova"}}),
        )
        .await
        .unwrap()
        .body["service"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut eps = Vec::new();
    for iface in ["public", "internal"] {
        let r = admin
            .post("/v3/endpoints", json!({"endpoint": {"service_id": sid, "interface": iface, "url": "http://nova:8774/v2.1", "region_id": "RegionOne"}}))
            .await
            .unwrap();
        eps.push(r.body["endpoint"]["id"].as_str().unwrap().to_string());
    }
    let catalog_eps = |body: &Value| -> Vec<String> {
        body["token"]["catalog"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| {
                s["endpoints"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].as_str().unwrap().to_string())
            })
            .collect()
    };
    let c = Client::new(&cloud.identity_url());
    let before = catalog_eps(
        &c.password_auth("fu", "pw", Some(("fp", "Default")))
            .await
            .unwrap()
            .body,
    );
    assert!(
        eps.iter().all(|e| before.contains(e)),
        "no filter: everything"
    );
    // A group of public compute endpoints, associated with the project.
    let r = admin
        .post("/v3/OS-EP-FILTER/endpoint_groups", json!({"endpoint_group": {"name": "pub", "filters": {"interface": "public", "service_id": sid}}}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let gid = r.body["endpoint_group"]["id"].as_str().unwrap().to_string();
    assert_error(
        &admin
            .post(
                "/v3/OS-EP-FILTER/endpoint_groups",
                json!({"endpoint_group": {"name": "bad", "filters": {"colour": "red"}}}),
            )
            .await
            .unwrap(),
        400,
    );
    let r = admin
        .get(&format!("/v3/OS-EP-FILTER/endpoint_groups/{gid}/endpoints"))
        .await
        .unwrap();
    assert_eq!(ids(&r.body, "endpoints"), vec![eps[0].clone()]);
    let assoc = format!("/v3/OS-EP-FILTER/endpoint_groups/{gid}/projects/{p}");
    assert_eq!(admin.head(&assoc).await.unwrap().status, 404);
    assert_eq!(admin.put(&assoc, None).await.unwrap().status, 204);
    assert_eq!(admin.head(&assoc).await.unwrap().status, 204);
    let after = catalog_eps(
        &c.password_auth("fu", "pw", Some(("fp", "Default")))
            .await
            .unwrap()
            .body,
    );
    assert_eq!(after, vec![eps[0].clone()], "only the group's endpoints");
    // Plus one endpoint directly.
    let direct = format!("/v3/OS-EP-FILTER/projects/{p}/endpoints/{}", eps[1]);
    assert_eq!(admin.put(&direct, None).await.unwrap().status, 204);
    let mut listed = ids(
        &admin
            .get(&format!("/v3/OS-EP-FILTER/projects/{p}/endpoints"))
            .await
            .unwrap()
            .body,
        "endpoints",
    );
    listed.sort();
    let mut want = eps.clone();
    want.sort();
    assert_eq!(listed, want);
    assert_eq!(
        ids(
            &admin
                .get(&format!("/v3/OS-EP-FILTER/endpoints/{}/projects", eps[1]))
                .await
                .unwrap()
                .body,
            "projects"
        ),
        vec![p.clone()]
    );
    assert_eq!(
        ids(
            &admin
                .get(&format!("/v3/OS-EP-FILTER/projects/{p}/endpoint_groups"))
                .await
                .unwrap()
                .body,
            "endpoint_groups"
        ),
        vec![gid.clone()]
    );
    // Removing the associations restores the full catalog.
    assert_eq!(admin.delete(&direct).await.unwrap().status, 204);
    assert_eq!(admin.delete(&assoc).await.unwrap().status, 204);
    assert_error(&admin.delete(&assoc).await.unwrap(), 404);
    let again = catalog_eps(
        &c.password_auth("fu", "pw", Some(("fp", "Default")))
            .await
            .unwrap()
            .body,
    );
    assert_eq!(again.len(), before.len());
    assert_eq!(
        admin
            .delete(&format!("/v3/OS-EP-FILTER/endpoint_groups/{gid}"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_error(
        &admin
            .get(&format!("/v3/OS-EP-FILTER/endpoint_groups/{gid}"))
            .await
            .unwrap(),
        404,
    );
    cloud.stop().await;
}

#[tokio::test]
async fn access_rules_restrict_application_credential_tokens() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let p = project(&admin, "ar").await;
    let uid = user_with_role(&admin, "aru", "pw", &p, "member").await;
    let me = token_for(&cloud, "aru", "pw", "ar").await;
    let base = format!("/v3/users/{uid}/application_credentials");
    let bad = me
        .post(&base, json!({"application_credential": {"name": "x", "access_rules": [{"service": "identity", "method": "FETCH", "path": "/v3"}]}}))
        .await
        .unwrap();
    assert_error(&bad, 400);
    let r = me
        .post(
            &base,
            json!({"application_credential": {"name": "ro", "access_rules": [
                {"service": "identity", "method": "GET", "path": "/v3/auth/projects"},
                {"service": "identity", "method": "GET", "path": "/v3/users/*"}]}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let ac = r.body["application_credential"].clone();
    assert_eq!(ac["access_rules"].as_array().unwrap().len(), 2);
    let c = Client::new(&cloud.identity_url());
    let r = c
        .post(
            "/v3/auth/tokens",
            json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": ac["id"], "secret": ac["secret"]}}}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let t = c.with_token(&r.header("x-subject-token").unwrap());
    assert_eq!(
        t.get("/v3/auth/projects").await.unwrap().status,
        200,
        "allowed by a rule"
    );
    assert_eq!(
        t.get(&format!("/v3/users/{uid}")).await.unwrap().status,
        200,
        "allowed by a wildcard rule"
    );
    assert_error(
        &t.get(&format!("/v3/users/{uid}/groups")).await.unwrap(),
        401,
    );
    assert_error(&t.get("/v3/auth/catalog").await.unwrap(), 401);
    assert_error(
        &t.post("/v3/projects", json!({"project": {"name": "no"}}))
            .await
            .unwrap(),
        401,
    );
    // The rules are the user's, listed and protected while in use.
    let rules = me
        .get(&format!("/v3/users/{uid}/access_rules"))
        .await
        .unwrap();
    assert_eq!(rules.status, 200, "{}", rules.text);
    let rule_ids = ids(&rules.body, "access_rules");
    assert_eq!(rule_ids.len(), 2);
    let one = format!("/v3/users/{uid}/access_rules/{}", rule_ids[0]);
    assert_eq!(
        me.get(&one).await.unwrap().body["access_rule"]["service"],
        "identity"
    );
    assert_error(&me.delete(&one).await.unwrap(), 403);
    assert_eq!(
        me.delete(&format!("{base}/{}", ac["id"].as_str().unwrap()))
            .await
            .unwrap()
            .status,
        204
    );
    assert_eq!(me.delete(&one).await.unwrap().status, 204);
    assert_error(&me.get(&one).await.unwrap(), 404);
    cloud.stop().await;
}

#[tokio::test]
async fn domain_configuration() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let did = admin
        .post("/v3/domains", json!({"domain": {"name": "cfg"}}))
        .await
        .unwrap()
        .body["domain"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let base = format!("/v3/domains/{did}/config");
    assert_error(&admin.get(&base).await.unwrap(), 404);
    assert_error(
        &admin
            .put(&base, Some(json!({"config": {"nova": {"x": 1}}})))
            .await
            .unwrap(),
        403,
    );
    // Keystone stores any whitelisted option, an LDAP identity driver
    // included (tempest's domain configuration tests store one).
    let custom = json!({
        "identity": {"driver": "ldap"},
        "ldap": {"url": "ldap://myldap.com:389/", "user_tree_dn": "ou=Users,dc=my_new_root,dc=org"}
    });
    let mut with_password = custom.clone();
    with_password["ldap"]["password"] = json!("s");
    let r = admin
        .put(&base, Some(json!({ "config": with_password })))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["config"], custom, "sensitive options are not shown");
    // Group and option reads keep the group around the options, an
    // option read gives the option alone.
    let r = admin.get(&format!("{base}/ldap")).await.unwrap();
    assert_eq!(r.body["config"], json!({"ldap": custom["ldap"]}));
    let r = admin.get(&format!("{base}/identity/driver")).await.unwrap();
    assert_eq!(r.body["config"], json!({"driver": "ldap"}));
    // Group and option updates answer the whole configuration.
    let r = admin
        .patch(
            &format!("{base}/identity"),
            json!({"config": {"identity": {"driver": "drv-1", "list_limit": 7}}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["config"]["identity"],
        json!({"driver": "drv-1", "list_limit": 7})
    );
    assert_eq!(r.body["config"]["ldap"], custom["ldap"]);
    let r = admin
        .patch(
            &format!("{base}/identity/driver"),
            json!({"config": {"driver": "drv-2"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["config"]["identity"]["driver"], "drv-2");
    // The body must name that group or option only.
    let r = admin
        .patch(
            &format!("{base}/identity"),
            json!({"config": {"ldap": {"url": "ldap://x"}}}),
        )
        .await
        .unwrap();
    assert_error(&r, 403);
    // Updating an option the domain has not set: 404.
    let r = admin
        .patch(
            &format!("{base}/ldap/suffix"),
            json!({"config": {"suffix": "dc=example,dc=org"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 404);
    assert_eq!(
        admin
            .delete(&format!("{base}/identity/driver"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_error(
        &admin.get(&format!("{base}/identity/driver")).await.unwrap(),
        404,
    );
    // PUT again replaces the whole configuration: 200.
    let r = admin
        .put(
            &base,
            Some(json!({"config": {"identity": {"driver": "sql"}}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["config"], json!({"identity": {"driver": "sql"}}));

    // Keystone's defaults: whitelisted options by group, never the password.
    let r = admin.get("/v3/domains/config/default").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["config"]["identity"],
        json!({"driver": "sql", "list_limit": null})
    );
    assert_eq!(r.body["config"]["ldap"]["url"], "ldap://localhost");
    assert_eq!(r.body["config"]["ldap"]["pool_retry_delay"], 0.1);
    assert!(r.body["config"]["ldap"].get("password").is_none());
    let r = admin.get("/v3/domains/config/ldap/default").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let ldap = r.body["config"]["ldap"].as_object().unwrap().clone();
    assert_eq!(ldap.len(), 49);
    for option in ldap.keys() {
        let r = admin
            .get(&format!("/v3/domains/config/ldap/{option}/default"))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{option}: {}", r.text);
        assert_eq!(r.body["config"], json!({ option: ldap[option] }));
    }
    let r = admin
        .get("/v3/domains/config/identity/default")
        .await
        .unwrap();
    assert_eq!(
        r.body["config"],
        json!({"identity": {"driver": "sql", "list_limit": null}})
    );
    assert_error(
        &admin
            .get("/v3/domains/config/ldap/password/default")
            .await
            .unwrap(),
        403,
    );
    assert_error(
        &admin.get("/v3/domains/config/nova/default").await.unwrap(),
        403,
    );
    assert_eq!(admin.delete(&base).await.unwrap().status, 204);
    assert_error(&admin.get(&base).await.unwrap(), 404);
    cloud.stop().await;
}

#[tokio::test]
async fn security_compliance_when_configured() {
    let clock = std::sync::Arc::new(common::clock::ManualClock::new(1_800_000_000_000_000));
    let cloud = TestCloud::start_with(
        |c| {
            c.update_section::<identity::config::IdentityConfig>(|s| {
                s.lockout_failure_attempts = 2;
                s.lockout_duration = 600;
                s.password_expires_days = 30;
                s.unique_last_password_count = 2;
                s.minimum_password_age = 1;
                s.password_regex = "^.{8,}$".into();
                s.password_regex_description = "at least 8 characters".into();
            })
            .unwrap();
        },
        clock.clone(),
    )
    .await
    .unwrap();
    let admin = cloud.admin().await.unwrap();
    // The regex, with its description in the error.
    let r = admin
        .post(
            "/v3/users",
            json!({"user": {"name": "sc", "password": "short"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at least 8 characters"));
    let r = admin
        .post(
            "/v3/users",
            json!({"user": {"name": "sc", "password": "password-1"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(
        r.body["user"]["password_expires_at"].is_string(),
        "{}",
        r.text
    );
    let uid = r.body["user"]["id"].as_str().unwrap().to_string();
    let c = Client::new(&cloud.identity_url());
    assert_eq!(
        c.password_auth("sc", "password-1", None)
            .await
            .unwrap()
            .status,
        201
    );
    // Minimum age: not today.
    let change =
        |new: &str, old: &str| json!({"user": {"password": new, "original_password": old}});
    let r = c
        .post(
            &format!("/v3/users/{uid}/password"),
            change("password-2", "password-1"),
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    clock.advance_secs(2 * 86_400);
    // History: the current password cannot come back.
    let r = c
        .post(
            &format!("/v3/users/{uid}/password"),
            change("password-1", "password-1"),
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    let r = c
        .post(
            &format!("/v3/users/{uid}/password"),
            change("password-2", "password-1"),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    // Lockout after two failures, lifted after the duration.
    assert_error(
        &c.password_auth("sc", "wrong-pass", None).await.unwrap(),
        401,
    );
    assert_error(
        &c.password_auth("sc", "wrong-pass", None).await.unwrap(),
        401,
    );
    let r = c.password_auth("sc", "password-2", None).await.unwrap();
    assert_error(&r, 401);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("locked"),
        "{}",
        r.text
    );
    clock.advance_secs(601);
    assert_eq!(
        c.password_auth("sc", "password-2", None)
            .await
            .unwrap()
            .status,
        201
    );
    // Expiry.
    clock.advance_secs(31 * 86_400);
    let r = c.password_auth("sc", "password-2", None).await.unwrap();
    assert_error(&r, 401);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{}",
        r.text
    );
    cloud.stop().await;
}

#[tokio::test]
async fn security_compliance_is_off_by_default() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let r = admin
        .post(
            "/v3/users",
            json!({"user": {"name": "free", "password": "x"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201);
    assert!(r.body["user"]["password_expires_at"].is_null());
    let c = Client::new(&cloud.identity_url());
    for _ in 0..5 {
        assert_error(&c.password_auth("free", "wrong", None).await.unwrap(), 401);
    }
    assert_eq!(
        c.password_auth("free", "x", None).await.unwrap().status,
        201,
        "no lockout by default"
    );
    cloud.stop().await;
}

/// An OAuth 1.0a `Authorization` header for `method url`, signed with the
/// consumer's and (when given) the token's secret.
fn oauth_header(
    method: &str,
    url: &str,
    consumer: (&str, &str),
    token: Option<(&str, &str)>,
    extra: &[(&str, &str)],
) -> String {
    use identity::app::oauth1::{base_string, sign};
    let mut params: Vec<(String, String)> = vec![
        ("oauth_consumer_key".into(), consumer.0.into()),
        ("oauth_signature_method".into(), "HMAC-SHA1".into()),
        ("oauth_timestamp".into(), "1800000000".into()),
        ("oauth_nonce".into(), common::ids::hex_id()),
        ("oauth_version".into(), "1.0".into()),
    ];
    if let Some((t, _)) = token {
        params.push(("oauth_token".into(), t.into()));
    }
    for (k, v) in extra {
        params.push(((*k).into(), (*v).into()));
    }
    let sig = sign(
        &base_string(method, url, &params),
        consumer.1,
        token.map(|t| t.1).unwrap_or(""),
    );
    params.push(("oauth_signature".into(), sig));
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    format!(
        "OAuth {}",
        params
            .iter()
            .map(|(k, v)| format!("{}=\"{}\"", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn form_field(text: &str, key: &str) -> String {
    text.split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .map(|v| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn oauth1_delegation_flow() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let p = project(&admin, "op").await;
    let uid = user_with_role(&admin, "ou", "pw", &p, "member").await;
    let user = token_for(&cloud, "ou", "pw", "op").await;
    let base = cloud.identity_url();
    // Consumers.
    let r = admin
        .post(
            "/v3/OS-OAUTH1/consumers",
            json!({"consumer": {"description": "ci"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let cid = r.body["consumer"]["id"].as_str().unwrap().to_string();
    let csecret = r.body["consumer"]["secret"].as_str().unwrap().to_string();
    assert!(admin
        .get(&format!("/v3/OS-OAUTH1/consumers/{cid}"))
        .await
        .unwrap()
        .body["consumer"]
        .get("secret")
        .is_none());
    assert_error(
        &user
            .post("/v3/OS-OAUTH1/consumers", json!({"consumer": {}}))
            .await
            .unwrap(),
        403,
    );
    let c = Client::new(&base);
    // Request token, signed by the consumer.
    let url = format!("{base}/v3/OS-OAUTH1/request_token");
    let auth = oauth_header(
        "POST",
        &url,
        (&cid, &csecret),
        None,
        &[("oauth_callback", "oob")],
    );
    let r = c
        .send(
            "POST",
            "/v3/OS-OAUTH1/request_token",
            None,
            &[("authorization", &auth), ("requested-project-id", &p)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let (rt, rt_secret) = (
        form_field(&r.text, "oauth_token"),
        form_field(&r.text, "oauth_token_secret"),
    );
    let bad = oauth_header("POST", &url, (&cid, "wrong"), None, &[]);
    let r = c
        .send(
            "POST",
            "/v3/OS-OAUTH1/request_token",
            None,
            &[("authorization", &bad), ("requested-project-id", &p)],
        )
        .await
        .unwrap();
    assert_error(&r, 401);
    // The user authorizes it with a role it holds.
    assert_error(
        &user
            .put(
                &format!("/v3/OS-OAUTH1/authorize/{rt}"),
                Some(json!({"roles": [{"name": "admin"}]})),
            )
            .await
            .unwrap(),
        401,
    );
    let r = user
        .put(
            &format!("/v3/OS-OAUTH1/authorize/{rt}"),
            Some(json!({"roles": [{"name": "member"}]})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let verifier = r.body["token"]["oauth_verifier"]
        .as_str()
        .unwrap()
        .to_string();
    // Access token, signed with the request token's secret and the verifier.
    let url = format!("{base}/v3/OS-OAUTH1/access_token");
    let wrong = oauth_header(
        "POST",
        &url,
        (&cid, &csecret),
        Some((&rt, &rt_secret)),
        &[("oauth_verifier", "nope")],
    );
    assert_error(
        &c.send(
            "POST",
            "/v3/OS-OAUTH1/access_token",
            None,
            &[("authorization", &wrong)],
        )
        .await
        .unwrap(),
        401,
    );
    let auth = oauth_header(
        "POST",
        &url,
        (&cid, &csecret),
        Some((&rt, &rt_secret)),
        &[("oauth_verifier", &verifier)],
    );
    let r = c
        .send(
            "POST",
            "/v3/OS-OAUTH1/access_token",
            None,
            &[("authorization", &auth)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let (at, at_secret) = (
        form_field(&r.text, "oauth_token"),
        form_field(&r.text, "oauth_token_secret"),
    );
    // The request token is used up.
    assert_error(
        &c.send(
            "POST",
            "/v3/OS-OAUTH1/access_token",
            None,
            &[("authorization", &auth)],
        )
        .await
        .unwrap(),
        401,
    );
    // Authenticate with method oauth1: a token for the user, the access token's roles only.
    let url = format!("{base}/v3/auth/tokens");
    let auth = oauth_header("POST", &url, (&cid, &csecret), Some((&at, &at_secret)), &[]);
    let body = json!({"auth": {"identity": {"methods": ["oauth1"], "oauth1": {}}}});
    let r = c
        .send(
            "POST",
            "/v3/auth/tokens",
            Some(&body),
            &[("authorization", &auth)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["token"]["user"]["id"], uid.as_str());
    assert_eq!(r.body["token"]["project"]["id"], p.as_str());
    assert_eq!(r.body["token"]["OS-OAUTH1"]["consumer_id"], cid.as_str());
    assert_eq!(r.body["token"]["methods"], json!(["oauth1"]));
    let names_: Vec<&str> = r.body["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names_, vec!["member"]);
    let ot = c.with_token(&r.header("x-subject-token").unwrap());
    assert_eq!(ot.get("/v3/auth/catalog").await.unwrap().status, 200);
    // The user's access tokens; deleting one ends the tokens made with it.
    let list = user
        .get(&format!("/v3/users/{uid}/OS-OAUTH1/access_tokens"))
        .await
        .unwrap();
    assert_eq!(ids(&list.body, "access_tokens"), vec![at.clone()]);
    let roles = user
        .get(&format!(
            "/v3/users/{uid}/OS-OAUTH1/access_tokens/{at}/roles"
        ))
        .await
        .unwrap();
    assert_eq!(names(&roles.body, "roles"), vec!["member"]);
    assert_eq!(
        user.delete(&format!("/v3/users/{uid}/OS-OAUTH1/access_tokens/{at}"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_error(&ot.get("/v3/auth/catalog").await.unwrap(), 401);
    let r = c
        .send(
            "POST",
            "/v3/auth/tokens",
            Some(&body),
            &[("authorization", &auth)],
        )
        .await
        .unwrap();
    assert_error(&r, 401);
    assert_eq!(
        admin
            .delete(&format!("/v3/OS-OAUTH1/consumers/{cid}"))
            .await
            .unwrap()
            .status,
        204
    );
    cloud.stop().await;
}

#[tokio::test]
async fn access_rules_apply_to_the_image_and_object_store_apis() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let p = project(&admin, "svc").await;
    let uid = user_with_role(&admin, "svcu", "pw", &p, "member").await;
    let me = token_for(&cloud, "svcu", "pw", "svc").await;
    let r = me
        .post(
            &format!("/v3/users/{uid}/application_credentials"),
            json!({"application_credential": {"name": "svc", "access_rules": [
                {"service": "image", "method": "GET", "path": "/v2/images"},
                {"service": "object-store", "method": "GET", "path": "/v1/*"}]}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let ac = r.body["application_credential"].clone();
    let c = Client::new(&cloud.identity_url());
    let r = c
        .post(
            "/v3/auth/tokens",
            json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": ac["id"], "secret": ac["secret"]}}}}),
        )
        .await
        .unwrap();
    let t = c.with_token(&r.header("x-subject-token").unwrap());
    let image = t.at(&cloud.url("image"));
    assert_eq!(image.get("/v2/images").await.unwrap().status, 200);
    assert_eq!(image.get("/v2/schemas/image").await.unwrap().status, 401);
    let swift = t.at(&cloud.url("object-store"));
    let account = format!("/v1/AUTH_{p}");
    let listed = swift.get(&account).await.unwrap().status;
    assert!(
        listed == 200 || listed == 204,
        "account listing allowed: {listed}"
    );
    assert_eq!(
        swift
            .put(&format!("{account}/c"), None)
            .await
            .unwrap()
            .status,
        401
    );
    cloud.stop().await;
}

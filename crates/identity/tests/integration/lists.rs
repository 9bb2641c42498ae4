//! The lists read page by page from SQL (`db::list`): projects (and
//! projects acting as domains), credentials and EC2 credentials, trusts,
//! application credentials and access rules. Each: its filters, id order,
//! `limit` + `marker` across several pages with `links.next` keeping the
//! filters and `truncated` on every short page, and a 400 for a marker
//! outside the list.

use super::*;

/// The path of a `links.next` URL, to request it again.
fn path_of(url: &str) -> String {
    url.split_once("/v3/")
        .map(|(_, p)| format!("/v3/{p}"))
        .unwrap()
}

/// Follows `links.next` from `url`; the `field` of every item of `key`
/// in order, and how many pages it took.
async fn walk(c: &Client, url: &str, key: &str, field: &str) -> (Vec<String>, usize) {
    let mut url = url.to_string();
    let (mut seen, mut pages) = (Vec::new(), 0);
    loop {
        let r = c.get(&url).await.unwrap();
        assert_eq!(r.status, 200, "{url}: {}", r.text);
        pages += 1;
        assert!(r.body["links"]["self"].is_string(), "{}", r.text);
        assert!(r.body["links"]["previous"].is_null(), "{}", r.text);
        for item in r.body[key].as_array().unwrap() {
            seen.push(item[field].as_str().unwrap().to_string());
        }
        match r.body["links"]["next"].as_str() {
            Some(next) => {
                assert_eq!(r.body["truncated"], true, "{}", r.text);
                url = path_of(next);
            }
            None => {
                assert!(r.body.get("truncated").is_none(), "{}", r.text);
                break;
            }
        }
    }
    (seen, pages)
}

/// Every item of one unpaged answer, by `id`.
async fn all_ids(c: &Client, url: &str, key: &str) -> Vec<String> {
    let r = c.get(url).await.unwrap();
    assert_eq!(r.status, 200, "{url}: {}", r.text);
    assert!(r.body["links"]["next"].is_null(), "{}", r.text);
    ids(&r.body, key)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn create(c: &Client, path: &str, body: Value) -> Value {
    let r = c.post(path, body).await.unwrap();
    assert_eq!(r.status, 201, "{path}: {}", r.text);
    r.body
}

#[tokio::test]
async fn project_lists_filter_and_page_in_sql() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let did = create(&admin, "/v3/domains", json!({"domain": {"name": "pl"}})).await["domain"]
        ["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Seven projects in the domain: tags, one disabled, two children.
    let mut made = std::collections::BTreeMap::new();
    let specs: [(&str, &[&str], bool, Option<&str>); 7] = [
        ("p0", &["a", "b"], true, None),
        ("p1", &["a"], true, None),
        ("p2", &["b"], false, None),
        ("p3", &[], true, None),
        ("p4", &["c"], true, None),
        ("c0", &["a", "c"], true, Some("p0")),
        ("c1", &[], true, Some("p0")),
    ];
    for (name, tags, enabled, parent) in specs {
        let mut p = json!({"name": name, "domain_id": did, "tags": tags, "enabled": enabled});
        if let Some(parent) = parent {
            p["parent_id"] = json!(made[parent]);
        }
        let body = create(&admin, "/v3/projects", json!({ "project": p })).await;
        made.insert(name, body["project"]["id"].as_str().unwrap().to_string());
    }
    let of = |names: &[&str]| sorted(names.iter().map(|n| made[n].clone()).collect());
    let base = format!("/v3/projects?domain_id={did}");
    let all = all_ids(&admin, &base, "projects").await;
    assert_eq!(all, of(&["p0", "p1", "p2", "p3", "p4", "c0", "c1"]));
    // Each filter, alone and together with the domain.
    let p0 = made["p0"].clone();
    for (query, want) in [
        ("name=p3".to_string(), of(&["p3"])),
        ("enabled=false".into(), of(&["p2"])),
        (
            format!("parent_id={did}"),
            of(&["p0", "p1", "p2", "p3", "p4"]),
        ),
        (format!("parent_id={p0}"), of(&["c0", "c1"])),
        ("tags=a,b".into(), of(&["p0"])),
        ("tags=a".into(), of(&["p0", "p1", "c0"])),
        ("tags-any=b,c".into(), of(&["p0", "p2", "p4", "c0"])),
        (
            "not-tags=a,b".into(),
            of(&["p1", "p2", "p3", "p4", "c0", "c1"]),
        ),
        ("not-tags-any=a,c".into(), of(&["p2", "p3", "c1"])),
        (
            "tags=a&not-tags-any=c&enabled=true".into(),
            of(&["p0", "p1"]),
        ),
        // Empty tag lists answer as the in-memory filters did.
        ("tags=".into(), all.clone()),
        ("tags-any=".into(), vec![]),
        ("not-tags=".into(), vec![]),
        ("not-tags-any=".into(), all.clone()),
    ] {
        let got = all_ids(&admin, &format!("{base}&{query}"), "projects").await;
        assert_eq!(got, want, "{query}");
    }
    // Pages of two keep the filter in their next links.
    let (seen, pages) = walk(&admin, &format!("{base}&limit=2"), "projects", "id").await;
    assert_eq!((seen, pages), (all.clone(), 4));
    let want = of(&["p0", "p2", "p4", "c0"]);
    let (seen, pages) = walk(
        &admin,
        &format!("{base}&tags-any=b,c&limit=1"),
        "projects",
        "id",
    )
    .await;
    assert_eq!((seen, pages), (want.clone(), 4));
    // A marker midway starts after it.
    let r = admin
        .get(&format!("{base}&marker={}", all[2]))
        .await
        .unwrap();
    assert_eq!(ids(&r.body, "projects"), all[3..].to_vec());
    // Unknown markers, and projects outside the filtered list, are 400s.
    assert_error(
        &admin.get(&format!("{base}&marker=nope")).await.unwrap(),
        400,
    );
    assert_error(
        &admin
            .get(&format!("{base}&tags-any=b,c&marker={}", made["p1"]))
            .await
            .unwrap(),
        400,
    );
    assert_error(&admin.get(&format!("{base}&limit=x")).await.unwrap(), 400);
    // Without a domain: every project, the admin project among them.
    let everything = all_ids(&admin, "/v3/projects", "projects").await;
    assert_eq!(everything, sorted(everything.clone()));
    assert!(all.iter().all(|p| everything.contains(p)));
    assert!(everything.len() > all.len());

    // Projects acting as domains: the domains, paged the same way.
    let domains = all_ids(&admin, "/v3/domains", "domains").await;
    assert_eq!(
        all_ids(&admin, "/v3/projects?is_domain=true", "projects").await,
        domains
    );
    let (seen, pages) = walk(
        &admin,
        "/v3/projects?is_domain=true&limit=1",
        "projects",
        "id",
    )
    .await;
    assert_eq!((seen, pages), (domains.clone(), domains.len()));
    assert_eq!(
        all_ids(&admin, "/v3/projects?is_domain=true&name=pl", "projects").await,
        vec![did.clone()]
    );
    assert!(all_ids(
        &admin,
        &format!("/v3/projects?is_domain=true&domain_id={did}"),
        "projects"
    )
    .await
    .is_empty());
    assert_error(
        &admin
            .get("/v3/projects?is_domain=true&marker=nope")
            .await
            .unwrap(),
        400,
    );
    assert_error(
        &admin
            .get(&format!(
                "/v3/projects?is_domain=true&parent_id=x&marker={did}"
            ))
            .await
            .unwrap(),
        400,
    );

    // A domain-scoped reader sees its domain's projects, as in Keystone,
    // whatever domain it asks for; a project-scoped member lists none.
    let uid = create(
        &admin,
        "/v3/users",
        json!({"user": {"name": "dr", "domain_id": did, "password": "pw"}}),
    )
    .await["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let reader = role_id(&admin, "reader").await;
    let r = admin
        .put(
            &format!("/v3/domains/{did}/users/{uid}/roles/{reader}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let c = Client::new(&cloud.identity_url());
    let r = c
        .post(
            "/v3/auth/tokens",
            json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": uid, "password": "pw"}}},
                "scope": {"domain": {"id": did}}}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let dr = c.with_token(&r.header("x-subject-token").unwrap());
    assert_eq!(all_ids(&dr, "/v3/projects", "projects").await, all);
    let (seen, _) = walk(&dr, "/v3/projects?limit=3", "projects", "id").await;
    assert_eq!(seen, all);
    assert!(all_ids(&dr, "/v3/projects?domain_id=default", "projects")
        .await
        .is_empty());
    let p = project(&admin, "lm").await;
    user_with_role(&admin, "lmu", "pw", &p, "member").await;
    let member = token_for(&cloud, "lmu", "pw", "lm").await;
    assert_error(&member.get("/v3/projects").await.unwrap(), 403);
    cloud.stop().await;
}

#[tokio::test]
async fn credential_lists_filter_and_page_in_sql() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let p = project(&admin, "cl").await;
    let a = user_with_role(&admin, "cla", "pw", &p, "member").await;
    let b = user_with_role(&admin, "clb", "pw", &p, "member").await;
    let me = token_for(&cloud, "cla", "pw", "cl").await;
    let them = token_for(&cloud, "clb", "pw", "cl").await;
    let mut totp = Vec::new();
    for i in 0..3 {
        let body = create(
            &me,
            "/v3/credentials",
            json!({"credential": {"user_id": a, "type": "totp", "blob": format!("S{i}")}}),
        )
        .await;
        totp.push(body["credential"]["id"].as_str().unwrap().to_string());
    }
    let ec2_base = format!("/v3/users/{a}/credentials/OS-EC2");
    let mut access = Vec::new();
    for _ in 0..3 {
        let body = create(&me, &ec2_base, json!({"tenant_id": p})).await;
        access.push(body["credential"]["access"].as_str().unwrap().to_string());
    }
    let theirs = create(
        &them,
        "/v3/credentials",
        json!({"credential": {"user_id": b, "type": "totp", "blob": "B"}}),
    )
    .await["credential"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mine = all_ids(&me, "/v3/credentials", "credentials").await;
    assert_eq!(mine.len(), 6);
    assert_eq!(mine, sorted(mine.clone()), "credentials are in id order");
    // The admin sees both users' credentials and filters them.
    let everyone = all_ids(&admin, "/v3/credentials", "credentials").await;
    assert_eq!(
        everyone,
        sorted([mine.clone(), vec![theirs.clone()]].concat())
    );
    assert_eq!(
        all_ids(
            &admin,
            &format!("/v3/credentials?user_id={a}"),
            "credentials"
        )
        .await,
        mine
    );
    assert_eq!(
        all_ids(
            &admin,
            &format!("/v3/credentials?user_id={a}&type=totp"),
            "credentials"
        )
        .await,
        sorted(totp.clone())
    );
    assert_eq!(
        all_ids(&admin, "/v3/credentials?type=totp", "credentials").await,
        sorted([totp.clone(), vec![theirs.clone()]].concat())
    );
    // A user's filter on someone else's credentials finds nothing.
    assert!(
        all_ids(&me, &format!("/v3/credentials?user_id={b}"), "credentials")
            .await
            .is_empty()
    );
    // Pages: the caller's own, and the admin's filtered ones.
    let (seen, pages) = walk(&me, "/v3/credentials?limit=2", "credentials", "id").await;
    assert_eq!((seen, pages), (mine.clone(), 3));
    let (seen, pages) = walk(
        &admin,
        &format!("/v3/credentials?user_id={a}&type=ec2&limit=1"),
        "credentials",
        "id",
    )
    .await;
    assert_eq!(seen.len(), 3);
    assert_eq!(pages, 3);
    assert!(seen
        .iter()
        .all(|id| mine.contains(id) && !totp.contains(id)));
    // Someone else's credential is no marker in my list; nor is nonsense.
    assert_error(
        &me.get(&format!("/v3/credentials?marker={theirs}"))
            .await
            .unwrap(),
        400,
    );
    assert_error(&me.get("/v3/credentials?marker=nope").await.unwrap(), 400);

    // The OS-EC2 list: this user's ec2 credentials only, in the order of
    // their ids (the SHA-256 of the access key), which are the markers.
    let r = me.get(&ec2_base).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let listed: Vec<String> = r.body["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert!(c.get("id").is_none(), "{c}");
            assert_eq!(c["user_id"], a.as_str());
            assert_eq!(c["tenant_id"], p.as_str());
            assert!(c["secret"].is_string());
            assert!(c["trust_id"].is_null());
            c["access"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(sorted(listed.clone()), sorted(access.clone()));
    let ec2_ids: Vec<String> = listed
        .iter()
        .map(|k| identity::app::credentials::ec2_id(k))
        .collect();
    assert_eq!(ec2_ids, sorted(ec2_ids.clone()));
    let (seen, pages) = walk(&me, &format!("{ec2_base}?limit=1"), "credentials", "access").await;
    assert_eq!((seen, pages), (listed.clone(), 3));
    let r = me.get(&format!("{ec2_base}?limit=1")).await.unwrap();
    assert!(r.body["links"]["next"]
        .as_str()
        .unwrap()
        .ends_with(&format!("limit=1&marker={}", ec2_ids[0])));
    assert_error(
        &me.get(&format!("{ec2_base}?marker={}", totp[0]))
            .await
            .unwrap(),
        400,
    );
    assert!(
        all_ids(&them, "/v3/credentials", "credentials").await == vec![theirs.clone()],
        "the other user sees only theirs"
    );
    let r = them
        .get(&format!("/v3/users/{b}/credentials/OS-EC2"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["credentials"].as_array().unwrap().is_empty());
    cloud.stop().await;
}

#[tokio::test]
async fn trust_lists_filter_and_page_in_sql() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let p = project(&admin, "tl").await;
    let tor = user_with_role(&admin, "tlor", "pw", &p, "member").await;
    let e1 = user(&admin, "tle1", "pw").await;
    let e2 = user(&admin, "tle2", "pw").await;
    let me = token_for(&cloud, "tlor", "pw", "tl").await;
    let mut to = std::collections::BTreeMap::<&str, Vec<String>>::new();
    for (trustee, key) in [
        (&e1, "e1"),
        (&e1, "e1"),
        (&e2, "e2"),
        (&e1, "e1"),
        (&e2, "gone"),
    ] {
        let body = create(
            &me,
            "/v3/OS-TRUST/trusts",
            json!({"trust": {"trustor_user_id": tor, "trustee_user_id": trustee, "project_id": p,
                "impersonation": false, "roles": [{"name": "member"}]}}),
        )
        .await;
        assert_eq!(body["trust"]["roles"][0]["name"], "member");
        to.entry(key)
            .or_default()
            .push(body["trust"]["id"].as_str().unwrap().to_string());
    }
    let gone = to["gone"][0].clone();
    assert_eq!(
        me.delete(&format!("/v3/OS-TRUST/trusts/{gone}"))
            .await
            .unwrap()
            .status,
        204
    );
    let all = sorted([to["e1"].clone(), to["e2"].clone()].concat());
    assert_eq!(all_ids(&admin, "/v3/OS-TRUST/trusts", "trusts").await, all);
    let mine = format!("/v3/OS-TRUST/trusts?trustor_user_id={tor}");
    assert_eq!(all_ids(&me, &mine, "trusts").await, all);
    let r = admin
        .get(&format!("/v3/OS-TRUST/trusts?trustee_user_id={e1}"))
        .await
        .unwrap();
    assert_eq!(ids(&r.body, "trusts"), sorted(to["e1"].clone()));
    // Each listed trust carries its roles.
    for t in r.body["trusts"].as_array().unwrap() {
        assert_eq!(t["roles"][0]["name"], "member", "{t}");
    }
    // The trustor filter wins over the trustee filter, as in Keystone.
    assert_eq!(
        all_ids(
            &admin,
            &format!("/v3/OS-TRUST/trusts?trustor_user_id={tor}&trustee_user_id={e2}"),
            "trusts"
        )
        .await,
        all
    );
    let (seen, pages) = walk(&me, &format!("{mine}&limit=1"), "trusts", "id").await;
    assert_eq!((seen, pages), (all.clone(), 4));
    let (seen, pages) = walk(&admin, "/v3/OS-TRUST/trusts?limit=3", "trusts", "id").await;
    assert_eq!((seen, pages), (all.clone(), 2));
    // A deleted trust, another trustee's, or nothing: no marker.
    for marker in [gone.as_str(), to["e2"][0].as_str(), "nope"] {
        assert_error(
            &admin
                .get(&format!(
                    "/v3/OS-TRUST/trusts?trustee_user_id={e1}&marker={marker}"
                ))
                .await
                .unwrap(),
            400,
        );
    }
    // The filters still decide who may list.
    assert_error(&me.get("/v3/OS-TRUST/trusts").await.unwrap(), 403);
    cloud.stop().await;
}

#[tokio::test]
async fn application_credential_and_access_rule_lists_page_in_sql() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let p = project(&admin, "al").await;
    let uid = user_with_role(&admin, "alu", "pw", &p, "member").await;
    let other = user_with_role(&admin, "alo", "pw", &p, "member").await;
    let me = token_for(&cloud, "alu", "pw", "al").await;
    let them = token_for(&cloud, "alo", "pw", "al").await;
    let base = format!("/v3/users/{uid}/application_credentials");
    let mut creds = Vec::new();
    for i in 0..4 {
        let body = create(
            &me,
            &base,
            json!({"application_credential": {"name": format!("ac{i}"), "access_rules": [
                {"service": "identity", "method": "GET", "path": format!("/v3/r{}", i % 3)}]}}),
        )
        .await;
        creds.push(
            body["application_credential"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let theirs = create(
        &them,
        &format!("/v3/users/{other}/application_credentials"),
        json!({"application_credential": {"name": "ac0"}}),
    )
    .await["application_credential"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = me.get(&base).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        ids(&r.body, "application_credentials"),
        sorted(creds.clone())
    );
    for ac in r.body["application_credentials"].as_array().unwrap() {
        // The token's roles: member and the reader it implies.
        assert_eq!(names(ac, "roles").len(), 2, "{ac}");
        assert!(names(ac, "roles").contains(&"member".to_string()), "{ac}");
        assert_eq!(ac["access_rules"].as_array().unwrap().len(), 1, "{ac}");
        assert!(ac.get("secret").is_none(), "{ac}");
    }
    assert_eq!(
        all_ids(&me, &format!("{base}?name=ac2"), "application_credentials").await,
        vec![creds[2].clone()]
    );
    let (seen, pages) = walk(
        &me,
        &format!("{base}?limit=1"),
        "application_credentials",
        "id",
    )
    .await;
    assert_eq!((seen, pages), (sorted(creds.clone()), 4));
    let (seen, pages) = walk(
        &admin,
        &format!("{base}?limit=3"),
        "application_credentials",
        "id",
    )
    .await;
    assert_eq!((seen, pages), (sorted(creds.clone()), 2));
    // Another user's credential, a name-filtered-out one, or nothing: 400.
    for q in [
        format!("marker={theirs}"),
        format!("name=ac2&marker={}", creds[0]),
        "marker=nope".to_string(),
    ] {
        assert_error(&me.get(&format!("{base}?{q}")).await.unwrap(), 400);
    }
    assert_error(
        &admin
            .get("/v3/users/nobody/application_credentials")
            .await
            .unwrap(),
        404,
    );

    // Access rules: three distinct ones (two credentials share one).
    let rules_base = format!("/v3/users/{uid}/access_rules");
    let rules = all_ids(&me, &rules_base, "access_rules").await;
    assert_eq!(rules.len(), 3);
    assert_eq!(rules, sorted(rules.clone()));
    let (seen, pages) = walk(&me, &format!("{rules_base}?limit=2"), "access_rules", "id").await;
    assert_eq!((seen, pages), (rules.clone(), 2));
    assert!(all_ids(
        &them,
        &format!("/v3/users/{other}/access_rules"),
        "access_rules"
    )
    .await
    .is_empty());
    assert_error(
        &them
            .get(&format!(
                "/v3/users/{other}/access_rules?marker={}",
                rules[0]
            ))
            .await
            .unwrap(),
        400,
    );
    assert_error(
        &me.get(&format!("{rules_base}?marker=nope")).await.unwrap(),
        400,
    );
    cloud.stop().await;
}

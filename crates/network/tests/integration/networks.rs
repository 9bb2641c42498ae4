//! Networks: attributes and defaults, segments, policy and isolation,
//! lists (filters, sorting, paging, fields), updates, tags, deletion.

use super::*;

#[tokio::test]
async fn tenant_network_defaults_and_vni_allocation() {
    let (cloud, admin) = start().await;
    let (alice, alice_project) = project_user(&cloud, "alice", "member").await;
    let before = db::revisions::current(&cloud.cloud.identity.db.pool, network::REVISION)
        .await
        .unwrap();
    let n = create_network(&alice, json!({"name": "net1"})).await;
    assert_eq!(n["name"], "net1");
    assert_eq!(n["status"], "ACTIVE");
    assert_eq!(n["admin_state_up"], true);
    assert_eq!(n["shared"], false);
    assert_eq!(n["router:external"], false);
    assert_eq!(n["port_security_enabled"], true);
    assert_eq!(n["mtu"], 1450, "VXLAN: the underlay's 1500 less 50");
    assert_eq!(n["project_id"], alice_project.as_str());
    assert_eq!(n["tenant_id"], alice_project.as_str());
    assert_eq!(n["revision_number"], 0);
    assert_eq!(n["subnets"], json!([]));
    assert_eq!(n["tags"], json!([]));
    assert_eq!(n["description"], "");
    assert!(n["created_at"].as_str().unwrap().ends_with('Z'));
    // Provider attributes are the admin's only.
    assert!(n.get("provider:network_type").is_none(), "{n}");
    let id = n["id"].as_str().unwrap();
    let r = admin.get(&format!("/v2.0/networks/{id}")).await.unwrap();
    assert_eq!(r.body["network"]["provider:network_type"], "vxlan");
    assert_eq!(r.body["network"]["provider:physical_network"], Value::Null);
    assert_eq!(r.body["network"]["provider:segmentation_id"], 1);
    let n2 = create_network(&alice, json!({"name": "net2"})).await;
    let r = admin
        .get(&format!("/v2.0/networks/{}", n2["id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(r.body["network"]["provider:segmentation_id"], 2);
    // Each write bumped the revision feed.
    let after = db::revisions::current(&cloud.cloud.identity.db.pool, network::REVISION)
        .await
        .unwrap();
    assert!(after >= before + 2, "{before} -> {after}");
    cloud.stop().await;
}

#[tokio::test]
async fn vnis_run_out_and_are_never_shared() {
    let (cloud, admin) = start_with(|c| {
        c.update_section::<network::config::NetworkConfig>(|n| {
            n.vni_ranges = vec!["10:12".into(), "20:21".into()];
        })
        .unwrap();
    })
    .await;
    // Five creations race for the five VNIs; then there are none.
    let mut tasks = Vec::new();
    for i in 0..5 {
        let c = admin.clone();
        tasks.push(tokio::spawn(async move {
            create_network(&c, json!({"name": format!("n{i}")})).await
        }));
    }
    let mut vnis = Vec::new();
    for t in tasks {
        let n = t.await.unwrap();
        vnis.push(n["provider:segmentation_id"].as_i64().unwrap());
    }
    vnis.sort_unstable();
    assert_eq!(vnis, vec![10, 11, 12, 20, 21]);
    let r = admin
        .post("/v2.0/networks", json!({"network": {}}))
        .await
        .unwrap();
    assert_error(&r, 503, "NoNetworkAvailable");
    // A freed VNI is given again.
    let list = admin
        .get("/v2.0/networks?provider:segmentation_id=11")
        .await
        .unwrap();
    let id = list.body["networks"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        admin
            .delete(&format!("/v2.0/networks/{id}"))
            .await
            .unwrap()
            .status,
        204
    );
    let n = create_network(&admin, json!({})).await;
    assert_eq!(n["provider:segmentation_id"], 11);
    // An admin's explicit VNI that is taken is a 409.
    let r = admin
        .post(
            "/v2.0/networks",
            json!({"network": {"provider:network_type": "vxlan", "provider:segmentation_id": 20}}),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "TunnelIdInUse");
    cloud.stop().await;
}

#[tokio::test]
async fn provider_networks_are_admin_only_and_validated() {
    let (cloud, admin) = start().await;
    let (alice, _) = project_user(&cloud, "alice", "member").await;
    let body = json!({"name": "public", "provider:network_type": "flat",
        "provider:physical_network": "physnet1", "router:external": true, "shared": true});
    let r = alice
        .post("/v2.0/networks", json!({"network": body}))
        .await
        .unwrap();
    assert_error(&r, 403, "PolicyNotAuthorized");
    let r = alice
        .post("/v2.0/networks", json!({"network": {"shared": true}}))
        .await
        .unwrap();
    assert_error(&r, 403, "PolicyNotAuthorized");
    let n = create_network(&admin, body.clone()).await;
    assert_eq!(n["provider:network_type"], "flat");
    assert_eq!(n["provider:physical_network"], "physnet1");
    assert_eq!(n["provider:segmentation_id"], Value::Null);
    assert_eq!(n["mtu"], 1500);
    assert_eq!(n["router:external"], true);
    // One flat network per physical network.
    let r = admin
        .post("/v2.0/networks", json!({"network": body}))
        .await
        .unwrap();
    assert_error(&r, 409, "FlatNetworkInUse");
    let bad = [
        json!({"provider:network_type": "flat"}),
        json!({"provider:network_type": "flat", "provider:physical_network": "nope"}),
        json!({"provider:network_type": "flat", "provider:physical_network": "physnet1",
            "provider:segmentation_id": 3}),
        json!({"provider:network_type": "vlan", "provider:physical_network": "physnet1",
            "provider:segmentation_id": 4095}),
        json!({"provider:network_type": "gre"}),
        json!({"provider:network_type": "vxlan", "provider:physical_network": "physnet1"}),
    ];
    for b in bad {
        let r = admin
            .post("/v2.0/networks", json!({"network": b}))
            .await
            .unwrap();
        assert_error(&r, 400, "InvalidInput");
    }
    let v = create_network(
        &admin,
        json!({"provider:network_type": "vlan", "provider:physical_network": "physnet1",
            "provider:segmentation_id": 100}),
    )
    .await;
    assert_eq!(v["provider:segmentation_id"], 100);
    assert_eq!(v["mtu"], 1500);
    let r = admin
        .post(
            "/v2.0/networks",
            json!({"network": {"provider:network_type": "vlan",
                "provider:physical_network": "physnet1", "provider:segmentation_id": 100}}),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "VlanIdInUse");
    // Shared and external networks are visible to everyone, without
    // their provider attributes.
    let r = alice
        .get(&format!("/v2.0/networks/{}", n["id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["network"].get("provider:network_type").is_none());
    // But not changeable by them.
    let r = alice
        .put(
            &format!("/v2.0/networks/{}", n["id"].as_str().unwrap()),
            Some(json!({"network": {"name": "mine"}})),
        )
        .await
        .unwrap();
    assert_error(&r, 403, "PolicyNotAuthorized");
    // The VLAN network is the admin project's own and invisible to alice.
    let r = alice
        .get(&format!("/v2.0/networks/{}", v["id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_error(&r, 404, "NetworkNotFound");
    cloud.stop().await;
}

#[tokio::test]
async fn projects_are_isolated() {
    let (cloud, admin) = start().await;
    let (alice, alice_p) = project_user(&cloud, "alice", "member").await;
    let (bob, bob_p) = project_user(&cloud, "bob", "member").await;
    let a = create_network(&alice, json!({"name": "a"})).await;
    let aid = a["id"].as_str().unwrap();
    for r in [
        bob.get(&format!("/v2.0/networks/{aid}")).await.unwrap(),
        bob.put(
            &format!("/v2.0/networks/{aid}"),
            Some(json!({"network": {"name": "x"}})),
        )
        .await
        .unwrap(),
        bob.delete(&format!("/v2.0/networks/{aid}")).await.unwrap(),
        bob.get(&format!("/v2.0/networks/{aid}/tags"))
            .await
            .unwrap(),
        bob.put(&format!("/v2.0/networks/{aid}/tags/x"), None)
            .await
            .unwrap(),
    ] {
        assert_error(&r, 404, "NetworkNotFound");
    }
    let r = bob.get("/v2.0/networks").await.unwrap();
    assert!(
        r.body["networks"].as_array().unwrap().is_empty(),
        "{}",
        r.text
    );
    // A non-admin cannot create for another project; an admin can.
    let r = bob
        .post(
            "/v2.0/networks",
            json!({"network": {"project_id": alice_p}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "HTTPBadRequest");
    let n = create_network(&admin, json!({"project_id": bob_p, "name": "for-bob"})).await;
    assert_eq!(n["tenant_id"], bob_p.as_str());
    let r = bob.get("/v2.0/networks").await.unwrap();
    let names: Vec<&str> = r.body["networks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["for-bob"]);
    // A reader may look but not create.
    let (reader, _) = project_user(&cloud, "carol", "reader").await;
    let r = reader
        .post("/v2.0/networks", json!({"network": {}}))
        .await
        .unwrap();
    assert_error(&r, 403, "PolicyNotAuthorized");
    cloud.stop().await;
}

#[tokio::test]
async fn lists_filter_sort_page_and_select_fields() {
    let (cloud, admin) = start().await;
    let mut ids = Vec::new();
    for (i, name) in ["d", "b", "a", "c", "e"].iter().enumerate() {
        let n = create_network(
            &admin,
            json!({"name": name, "admin_state_up": i % 2 == 0, "description": format!("n{i}")}),
        )
        .await;
        ids.push(n["id"].as_str().unwrap().to_string());
    }
    let names = |r: &Resp| -> Vec<String> {
        r.body["networks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["name"].as_str().unwrap().to_string())
            .collect()
    };
    let r = admin
        .get("/v2.0/networks?sort_key=name&sort_dir=asc")
        .await
        .unwrap();
    assert_eq!(names(&r), ["a", "b", "c", "d", "e"]);
    assert!(r.body.get("networks_links").is_none());
    let r = admin
        .get("/v2.0/networks?sort_key=name&sort_dir=desc")
        .await
        .unwrap();
    assert_eq!(names(&r), ["e", "d", "c", "b", "a"]);
    let r = admin
        .get("/v2.0/networks?admin_state_up=False&sort_key=name&sort_dir=asc")
        .await
        .unwrap();
    assert_eq!(names(&r), ["b", "c"]);
    let r = admin
        .get("/v2.0/networks?name=a&name=e&sort_key=name&sort_dir=asc")
        .await
        .unwrap();
    assert_eq!(names(&r), ["a", "e"]);
    // Pages of two, following the next links to the end.
    let mut seen = Vec::new();
    let mut url = "/v2.0/networks?sort_key=name&sort_dir=asc&limit=2".to_string();
    loop {
        let r = admin.get(&url).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        seen.extend(names(&r));
        let links = r.body["networks_links"].as_array().unwrap().clone();
        let next = links.iter().find(|l| l["rel"] == "next");
        match next {
            Some(l) => {
                let href = l["href"].as_str().unwrap();
                url = href[href.find("/v2.0").unwrap()..].to_string();
            }
            None => break,
        }
        if seen.len() > 10 {
            panic!("paging does not end: {seen:?}");
        }
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);
    // The previous link of the last page walks back.
    let r = admin
        .get(
            "/v2.0/networks?sort_key=name&sort_dir=asc&limit=2&marker="
                .to_string()
                .as_str(),
        )
        .await
        .unwrap();
    assert_eq!(names(&r), ["a", "b"]);
    let b_id = &r.body["networks"][1]["id"].as_str().unwrap().to_string();
    let r = admin
        .get(&format!(
            "/v2.0/networks?sort_key=name&sort_dir=asc&limit=2&marker={b_id}"
        ))
        .await
        .unwrap();
    assert_eq!(names(&r), ["c", "d"]);
    let c_id = r.body["networks"][0]["id"].as_str().unwrap().to_string();
    let prev = r.body["networks_links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "previous")
        .unwrap()["href"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        prev.contains(&format!("marker={c_id}")) && prev.contains("page_reverse=True"),
        "{prev}"
    );
    let r = admin
        .get(&prev[prev.find("/v2.0").unwrap()..])
        .await
        .unwrap();
    assert_eq!(names(&r), ["a", "b"]);
    // fields= keeps exactly the keys asked for.
    let r = admin
        .get("/v2.0/networks?fields=id&fields=name&name=a")
        .await
        .unwrap();
    let n = &r.body["networks"][0];
    assert_eq!(n.as_object().unwrap().len(), 2, "{n}");
    assert_eq!(n["name"], "a");
    let r = admin
        .get(&format!("/v2.0/networks/{}?fields=mtu", ids[0]))
        .await
        .unwrap();
    assert_eq!(r.body["network"], json!({"mtu": 1450}));
    // Bad sorting and limits are Neutron's 400s.
    let r = admin.get("/v2.0/networks?sort_key=name").await.unwrap();
    assert_error(&r, 400, "HTTPBadRequest");
    let r = admin.get("/v2.0/networks?limit=x").await.unwrap();
    assert_error(&r, 400, "BadRequest");
    let r = admin
        .get("/v2.0/networks?limit=1&marker=nope")
        .await
        .unwrap();
    assert_error(&r, 404, "NetworkNotFound");
    cloud.stop().await;
}

#[tokio::test]
async fn updates_tags_bulk_and_delete() {
    let (cloud, _admin) = start().await;
    let (alice, _) = project_user(&cloud, "alice", "member").await;
    let n = create_network(&alice, json!({"name": "n"})).await;
    let id = n["id"].as_str().unwrap();
    let r = alice
        .put(
            &format!("/v2.0/networks/{id}"),
            Some(json!({"network": {"name": "renamed", "description": "d", "admin_state_up": false}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["network"]["name"], "renamed");
    assert_eq!(r.body["network"]["admin_state_up"], false);
    assert_eq!(r.body["network"]["revision_number"], 1);
    let r = alice
        .put(
            &format!("/v2.0/networks/{id}"),
            Some(json!({"network": {"mtu": 9000}})),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "HTTPBadRequest");
    let r = alice
        .put(
            &format!("/v2.0/networks/{id}"),
            Some(json!({"network": {"shared": true}})),
        )
        .await
        .unwrap();
    assert_error(&r, 403, "PolicyNotAuthorized");

    // Tags: add, replace, check, filter, remove; each bumps the revision.
    let t = |s: &str| format!("/v2.0/networks/{id}/tags{s}");
    assert_eq!(alice.put(&t("/red"), None).await.unwrap().status, 201);
    assert_eq!(alice.get(&t("/red")).await.unwrap().status, 204);
    assert_error(&alice.get(&t("/blue")).await.unwrap(), 404, "TagNotFound");
    let r = alice
        .put(&t(""), Some(json!({"tags": ["b", "a"]})))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["tags"], json!(["a", "b"]));
    let r = alice
        .put(&t(""), Some(json!({"tags": ["a", "a"]})))
        .await
        .unwrap();
    assert_error(&r, 400, "InvalidInput");
    let r = alice.get(&t("")).await.unwrap();
    assert_eq!(r.body["tags"], json!(["a", "b"]));
    let other = create_network(&alice, json!({"name": "other"})).await;
    let oid = other["id"].as_str().unwrap();
    alice
        .put(&format!("/v2.0/networks/{oid}/tags/a"), None)
        .await
        .unwrap();
    let count = |r: &Resp| r.body["networks"].as_array().unwrap().len();
    assert_eq!(
        count(&alice.get("/v2.0/networks?tags=a,b").await.unwrap()),
        1
    );
    assert_eq!(count(&alice.get("/v2.0/networks?tags=a").await.unwrap()), 2);
    assert_eq!(
        count(&alice.get("/v2.0/networks?tags-any=b,zzz").await.unwrap()),
        1
    );
    assert_eq!(
        count(&alice.get("/v2.0/networks?not-tags=a,b").await.unwrap()),
        1
    );
    assert_eq!(
        count(&alice.get("/v2.0/networks?not-tags-any=a").await.unwrap()),
        0
    );
    assert_eq!(alice.delete(&t("/a")).await.unwrap().status, 204);
    assert_error(&alice.delete(&t("/a")).await.unwrap(), 404, "TagNotFound");
    assert_eq!(alice.delete(&t("")).await.unwrap().status, 204);
    let r = alice.get(&format!("/v2.0/networks/{id}")).await.unwrap();
    assert_eq!(r.body["network"]["tags"], json!([]));
    assert_eq!(r.body["network"]["revision_number"], 5);

    // Bulk creation: all or nothing.
    let r = alice
        .post(
            "/v2.0/networks",
            json!({"networks": [{"name": "x1"}, {"name": "x2"}]}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["networks"].as_array().unwrap().len(), 2);
    let r = alice
        .post(
            "/v2.0/networks",
            json!({"networks": [{"name": "y1"}, {"bogus": 1}]}),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "HTTPBadRequest");
    assert_eq!(
        count(&alice.get("/v2.0/networks?name=y1").await.unwrap()),
        0
    );

    assert_eq!(
        alice
            .delete(&format!("/v2.0/networks/{id}"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_error(
        &alice.get(&format!("/v2.0/networks/{id}")).await.unwrap(),
        404,
        "NetworkNotFound",
    );
    assert_error(
        &alice.delete(&format!("/v2.0/networks/{id}")).await.unwrap(),
        404,
        "NetworkNotFound",
    );
    cloud.stop().await;
}

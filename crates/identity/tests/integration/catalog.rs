//! Regions, services, endpoints and what the catalog shows.

use super::*;

#[tokio::test]
async fn catalog_crud_and_tokens_reflect_it() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    // Regions: generated id, chosen id, parent, duplicate, cycle.
    let r = admin
        .post("/v3/regions", json!({"region": {"description": "gen"}}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = admin
        .put(
            "/v3/regions/East",
            Some(json!({"region": {"description": "east"}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = admin
        .post(
            "/v3/regions",
            json!({"region": {"id": "East-1", "parent_region_id": "East"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_error(
        &admin
            .put("/v3/regions/East", Some(json!({"region": {}})))
            .await
            .unwrap(),
        409,
    );
    assert_error(
        &admin
            .patch(
                "/v3/regions/East",
                json!({"region": {"parent_region_id": "East-1"}}),
            )
            .await
            .unwrap(),
        400,
    );
    assert_error(
        &admin
            .post(
                "/v3/regions",
                json!({"region": {"parent_region_id": "nope"}}),
            )
            .await
            .unwrap(),
        400,
    );
    assert_eq!(
        ids(
            &admin
                .get("/v3/regions?parent_region_id=East")
                .await
                .unwrap()
                .body,
            "regions"
        ),
        vec!["East-1"]
    );

    // Services and endpoints.
    let r = admin
        .post(
            "/v3/services",
            json!({"service": {"type": "key-manager", "name": "barbican"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let sid = r.body["service"]["id"].as_str().unwrap().to_string();
    assert_error(
        &admin
            .post("/v3/services", json!({"service": {"name": "typeless"}}))
            .await
            .unwrap(),
        400,
    );
    let r = admin
        .post(
            "/v3/endpoints",
            json!({"endpoint": {"service_id": sid, "interface": "public", "region_id": "East",
                "url": "http://barbican.example:9311/v1/AUTH_%(project_id)s"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let eid = r.body["endpoint"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["endpoint"]["region"], "East");
    for bad in [
        json!({"endpoint": {"service_id": sid, "interface": "sideways", "url": "http://x"}}),
        json!({"endpoint": {"service_id": sid, "interface": "public", "url": "ftp://x"}}),
        json!({"endpoint": {"service_id": "nope", "interface": "public", "url": "http://x"}}),
        json!({"endpoint": {"service_id": sid, "interface": "public", "url": "http://x", "region_id": "nope"}}),
    ] {
        assert_error(&admin.post("/v3/endpoints", bad).await.unwrap(), 400);
    }
    assert_eq!(
        ids(
            &admin
                .get(&format!("/v3/endpoints?service_id={sid}"))
                .await
                .unwrap()
                .body,
            "endpoints"
        ),
        vec![eid.clone()]
    );
    assert_error(&admin.delete("/v3/regions/East").await.unwrap(), 403);

    // The legacy `region` attribute (tempest's endpoint tests send it)
    // names a region Keystone creates when it does not exist yet, on
    // create and on update; `region_id` keeps naming existing ones only.
    let r = admin
        .post(
            "/v3/endpoints",
            json!({"endpoint": {"service_id": sid, "interface": "admin", "url": "http://x", "region": "West"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["endpoint"]["region_id"], "West");
    assert_eq!(r.body["endpoint"]["region"], "West");
    let west_ep = r.body["endpoint"]["id"].as_str().unwrap().to_string();
    let r = admin.get("/v3/regions/West").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["region"]["description"], "");
    let r = admin
        .patch(
            &format!("/v3/endpoints/{west_ep}"),
            json!({"endpoint": {"region": "North"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["endpoint"]["region_id"], "North");
    assert_eq!(admin.get("/v3/regions/North").await.unwrap().status, 200);
    // An existing region is reused as is.
    let r = admin
        .patch(
            &format!("/v3/endpoints/{west_ep}"),
            json!({"endpoint": {"region": "East"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        admin.get("/v3/regions/East").await.unwrap().body["region"]["description"],
        "east"
    );
    let r = admin
        .patch(
            &format!("/v3/endpoints/{west_ep}"),
            json!({"endpoint": {"region_id": "South"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    assert_eq!(
        admin
            .delete(&format!("/v3/endpoints/{west_ep}"))
            .await
            .unwrap()
            .status,
        204
    );
    for region in ["West", "North"] {
        assert_eq!(
            admin
                .delete(&format!("/v3/regions/{region}"))
                .await
                .unwrap()
                .status,
            204
        );
    }

    // The project-scoped catalog fills in the project id.
    let r = admin.get("/v3/auth/catalog").await.unwrap();
    let svc = r.body["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == "key-manager")
        .unwrap()
        .clone();
    let pid = admin.get("/v3/auth/projects").await.unwrap().body["projects"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        svc["endpoints"][0]["url"],
        format!("http://barbican.example:9311/v1/AUTH_{pid}")
    );

    // Disabled endpoints and services leave the catalog.
    let r = admin
        .patch(
            &format!("/v3/endpoints/{eid}"),
            json!({"endpoint": {"enabled": false}}),
        )
        .await
        .unwrap();
    assert_eq!(r.body["endpoint"]["enabled"], false);
    let r = admin.get("/v3/auth/catalog").await.unwrap();
    let svc = r.body["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == "key-manager")
        .unwrap()
        .clone();
    assert!(svc["endpoints"].as_array().unwrap().is_empty());
    let r = admin
        .patch(
            &format!("/v3/services/{sid}"),
            json!({"service": {"enabled": false}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let r = admin.get("/v3/auth/catalog").await.unwrap();
    assert!(r.body["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["type"] != "key-manager"));

    assert_eq!(
        admin
            .delete(&format!("/v3/endpoints/{eid}"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_eq!(
        admin
            .delete(&format!("/v3/services/{sid}"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_error(
        &admin.get(&format!("/v3/services/{sid}")).await.unwrap(),
        404,
    );
    assert_eq!(
        admin.delete("/v3/regions/East-1").await.unwrap().status,
        204
    );
    assert_eq!(admin.delete("/v3/regions/East").await.unwrap().status, 204);
    cloud.stop().await;
}

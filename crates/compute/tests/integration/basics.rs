//! Version discovery, microversion negotiation, request ids, the
//! optional project id in paths and Nova's error bodies.

use super::*;

#[tokio::test]
async fn discovery_lists_both_versions_and_v21_shows_itself() {
    let (cloud, admin) = start().await;
    let anon = Client::new(&cloud.url("compute"));
    let r = anon.get("/").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let ids: Vec<&str> = r.body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["v2.0", "v2.1"]);
    assert_eq!(r.body["versions"][1]["version"], "2.100");
    assert_eq!(r.body["versions"][1]["min_version"], "2.1");

    let r = anon.get("/v2/").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["version"]["id"], "v2.0");
    assert_eq!(r.body["version"]["status"], "SUPPORTED");

    let r = admin.get("/v2.1").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["version"]["id"], "v2.1");
    assert_eq!(r.body["version"]["status"], "CURRENT");
    assert_eq!(
        r.header("openstack-api-version").as_deref(),
        Some("compute 2.1")
    );
    assert_eq!(
        r.header("x-openstack-nova-api-version").as_deref(),
        Some("2.1")
    );
    let id = r.header("x-compute-request-id").unwrap();
    assert!(id.starts_with("req-"), "{id}");
    assert_eq!(
        r.header("x-openstack-request-id").as_deref(),
        Some(id.as_str())
    );

    // The catalog names /v2.1 without a project id.
    let catalog = cloud.cloud.apis.iter().any(|a| a.name == "compute");
    assert!(catalog);
    cloud.stop().await;
}

#[tokio::test]
async fn microversions_are_negotiated_and_refused_as_nova_does() {
    let (cloud, admin) = start().await;
    let r = at_version(&admin, "GET", "/v2.1/", None, "latest").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.header("openstack-api-version").as_deref(),
        Some("compute 2.100")
    );
    let r = at_version(&admin, "GET", "/v2.1/", None, "2.53").await;
    assert_eq!(
        r.header("x-openstack-nova-api-version").as_deref(),
        Some("2.53")
    );
    let vary = r.header("vary").unwrap();
    assert!(vary.contains("OpenStack-API-Version"), "{vary}");

    let r = at_version(&admin, "GET", "/v2.1/", None, "2.101").await;
    assert_error(&r, 406, "computeFault");
    let r = at_version(&admin, "GET", "/v2.1/", None, "2.x").await;
    assert_error(&r, 400, "badRequest");
    let r = admin
        .send(
            "GET",
            "/v2.1/",
            None,
            &[("x-openstack-nova-api-version", "2.15")],
        )
        .await
        .unwrap();
    assert_eq!(
        r.header("openstack-api-version").as_deref(),
        Some("compute 2.15")
    );
    cloud.stop().await;
}

#[tokio::test]
async fn unknown_paths_are_nova_404s_and_tokens_are_required() {
    let (cloud, admin) = start().await;
    let r = admin.get("/v2.1/no-such-thing").await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    let anon = Client::new(&cloud.url("compute"));
    let r = anon.get("/v2.1/no-such-thing").await.unwrap();
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.header("www-authenticate").is_some());
    cloud.stop().await;
}

//! Version discovery, extensions, the `.json` suffix, error bodies and
//! the catalog entry.

use super::*;

#[tokio::test]
async fn versions_extensions_and_json_suffix() {
    let (cloud, admin) = start().await;
    let anon = Client::new(&cloud.url("network"));
    let r = anon.get("/").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["versions"][0]["id"], "v2.0");
    assert_eq!(r.body["versions"][0]["status"], "CURRENT");
    assert!(r.body["versions"][0]["links"][0]["href"]
        .as_str()
        .unwrap()
        .ends_with("/v2.0/"));
    // Everything under /v2.0 needs a token, with Keystone's 401 body.
    let r = anon.get("/v2.0/extensions").await.unwrap();
    assert_eq!(r.status, 401, "{}", r.text);

    let r = admin.get("/v2.0").await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["collection"] == "networks"));

    let r = admin.get("/v2.0/extensions").await.unwrap();
    assert_eq!(r.status, 200);
    let aliases: Vec<&str> = r.body["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["alias"].as_str().unwrap())
        .collect();
    for a in [
        "external-net",
        "provider",
        "net-mtu",
        "standard-attr-tag",
        "pagination",
        "sorting",
        "router",
        "extraroute",
        "agent",
        "availability_zone",
    ] {
        assert!(aliases.contains(&a), "{a} missing from {aliases:?}");
    }
    // Nothing not implemented yet.
    for a in ["dvr", "external-gateway-multihoming", "l3_agent_scheduler"] {
        assert!(!aliases.contains(&a), "{a} listed");
    }
    let r = admin.get("/v2.0/extensions.json").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["extensions"].as_array().unwrap().len(),
        aliases.len()
    );
    let r = admin.get("/v2.0/extensions/provider").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body["extension"]["name"], "Provider Network");
    assert_eq!(r.body["extension"]["links"], json!([]));
    let r = admin.get("/v2.0/extensions/provider.json").await.unwrap();
    assert_eq!(r.body["extension"]["alias"], "provider");
    let r = admin.get("/v2.0/extensions/no-such").await.unwrap();
    assert_error(&r, 404, "HTTPNotFound");
    assert_eq!(
        r.body["NeutronError"]["message"],
        "Extension with alias no-such does not exist"
    );
    let r = admin.get("/v2.0/no-such-things").await.unwrap();
    assert_error(&r, 404, "HTTPNotFound");
    let r = admin.get("/v2.0/networks.json").await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body["networks"].is_array());
    cloud.stop().await;
}

#[tokio::test]
async fn the_catalog_lists_neutron_without_a_version() {
    let (cloud, _) = start().await;
    let idc = cloud.admin().await.unwrap();
    let r = idc.get("/v3/auth/catalog").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let net = r.body["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == "network")
        .cloned()
        .unwrap();
    assert_eq!(net["name"], "neutron");
    let url = net["endpoints"][0]["url"].as_str().unwrap();
    assert!(
        url.starts_with("http://") && !url.contains("/v2.0"),
        "{url}"
    );
    cloud.stop().await;
}

#[tokio::test]
async fn malformed_bodies_are_neutron_400s() {
    let (cloud, admin) = start().await;
    let r = admin
        .post("/v2.0/networks", json!({"net": {}}))
        .await
        .unwrap();
    assert_error(&r, 400, "HTTPBadRequest");
    assert_eq!(
        r.body["NeutronError"]["message"],
        "Unable to find 'network' in request body"
    );
    let r = admin
        .post("/v2.0/networks", json!({"network": {"foo": 1}}))
        .await
        .unwrap();
    assert_error(&r, 400, "HTTPBadRequest");
    assert_eq!(
        r.body["NeutronError"]["message"],
        "Unrecognized attribute(s) 'foo'"
    );
    let r = admin
        .post("/v2.0/networks", json!({"network": {"status": "DOWN"}}))
        .await
        .unwrap();
    assert_error(&r, 400, "HTTPBadRequest");
    let r = admin
        .post(
            "/v2.0/networks",
            json!({"network": {"admin_state_up": "maybe"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "InvalidInput");
    let r = admin
        .send_bytes(
            "POST",
            "/v2.0/networks",
            "{nope".into(),
            &[("content-type", "application/json")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.body["NeutronError"].is_object());
    cloud.stop().await;
}

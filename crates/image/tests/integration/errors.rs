//! Versions, authentication, error bodies and unknown URLs.

use super::*;

#[tokio::test]
async fn versions_auth_and_error_bodies() {
    let (cloud, admin) = start().await;
    let anon = Client::new(&cloud.url("image"));
    let r = anon.get("/").await.unwrap();
    assert_eq!(r.status, 300);
    let versions = r.body["versions"].as_array().unwrap();
    assert!(versions
        .iter()
        .any(|v| v["status"] == "CURRENT" && v["id"] == "v2.17"));
    assert!(versions[0]["links"][0]["href"]
        .as_str()
        .unwrap()
        .ends_with("/v2/"));
    assert_eq!(anon.get("/versions").await.unwrap().status, 200);
    assert_eq!(anon.get("/v2").await.unwrap().status, 200);
    // No or a bad token: 401 in keystonemiddleware's words.
    assert_error(&anon.get("/v2/images").await.unwrap(), 401);
    assert_error(
        &anon.with_token("garbage").get("/v2/images").await.unwrap(),
        401,
    );
    // Glance's body: code "404 Not Found", message with webob's markup.
    let r = admin
        .get("/v2/images/00000000-0000-0000-0000-000000000000")
        .await
        .unwrap();
    assert_error(&r, 404);
    assert_eq!(r.body["code"], "404 Not Found");
    assert!(message(&r).contains("No image found with ID"), "{}", r.text);
    assert!(r.header("x-openstack-request-id").is_some());
    assert_error(&admin.get("/v2/nothing-here").await.unwrap(), 404);
    assert_error(
        &admin.send("PUT", "/v2/images", None, &[]).await.unwrap(),
        405,
    );
    // Malformed JSON and oversized JSON bodies.
    let r = admin
        .send_raw("POST", "/v2/images", "{nope".into(), &[])
        .await
        .unwrap();
    assert_error(&r, 400);
    let big = "x".repeat(200_000);
    let r = admin
        .post("/v2/images", json!({"name": big}))
        .await
        .unwrap();
    assert_error(&r, 413);
    assert_eq!(r.body["code"], "413 Request Entity Too Large");
    cloud.stop().await;
}

#[tokio::test]
async fn schemas_and_discovery() {
    let (cloud, admin) = start().await;
    let r = admin.get("/v2/schemas/image").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body["name"], "image");
    assert_eq!(r.body["additionalProperties"]["type"], "string");
    assert!(r.body["properties"]["disk_format"]["enum"]
        .as_array()
        .unwrap()
        .contains(&json!("qcow2")));
    for (path, name) in [
        ("/v2/schemas/images", "images"),
        ("/v2/schemas/member", "member"),
        ("/v2/schemas/members", "members"),
    ] {
        let r = admin.get(path).await.unwrap();
        assert_eq!((r.status, r.body["name"].clone()), (200, json!(name)));
    }
    let r = admin.get("/v2/info/import").await.unwrap();
    assert_eq!(r.body["import-methods"]["value"], json!(["glance-direct"]));
    let r = admin.get("/v2/info/stores").await.unwrap();
    assert_eq!(r.body["stores"][0]["id"], "local");
    assert_eq!(r.body["stores"][0]["default"], true);
    let r = admin.get("/v2/info/usage").await.unwrap();
    assert_eq!(r.body["usage"]["image_count_total"]["usage"], 0);
    cloud.stop().await;
}

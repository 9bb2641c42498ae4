//! `OS-DCF:diskConfig`: kept per server (Nova's `auto_disk_config`), set
//! at create (else taken from the image), by update, rebuild and resize;
//! an image that disables it refuses AUTO; bad values are 400s.

use super::servers::{create, image, network, wait_status};
use super::*;
use serde_json::{json, Value};

async fn act(c: &Client, id: &str, body: Value) -> Resp {
    c.post(&format!("/v2.1/servers/{id}/action"), body)
        .await
        .unwrap()
}

async fn disk_config(c: &Client, id: &str) -> String {
    let r = c.get(&format!("/v2.1/servers/{id}")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["server"]["OS-DCF:diskConfig"]
        .as_str()
        .unwrap()
        .to_string()
}

/// An active public image with `props`; its id.
async fn image_with(cloud: &TestCloud, admin: &Client, props: Value) -> String {
    let g = admin.at(&cloud.url("image"));
    let mut body = json!({"name": "dc", "disk_format": "raw", "container_format": "bare",
                          "visibility": "public"});
    for (k, v) in props.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = g.post("/v2/images", body).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = g
        .send_bytes(
            "PUT",
            &format!("/v2/images/{id}/file"),
            bytes::Bytes::from_static(b"disk"),
            &[("content-type", "application/octet-stream")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    id
}

#[tokio::test]
async fn disk_config_is_kept_and_changed_by_update_rebuild_and_resize() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let auto_img = image_with(&cloud, &admin, json!({"auto_disk_config": "True"})).await;
    let (user, _) = project_user(&cloud, "dcfg", "member").await;
    network(&cloud, &user, "dc-net", "10.9.3.0/24").await;

    // Asked for at create: the 202 and the views say so.
    let r = create(
        &user,
        json!({"name": "dc", "imageRef": img, "flavorRef": "1", "OS-DCF:diskConfig": "AUTO"}),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["server"]["OS-DCF:diskConfig"], "AUTO");
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(&user, &id, "ACTIVE").await;
    assert_eq!(disk_config(&user, &id).await, "AUTO");
    let r = user.get("/v2.1/servers/detail").await.unwrap();
    assert_eq!(r.body["servers"][0]["OS-DCF:diskConfig"], "AUTO");

    // Update.
    let r = user
        .put(
            &format!("/v2.1/servers/{id}"),
            Some(json!({"server": {"OS-DCF:diskConfig": "MANUAL"}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["server"]["OS-DCF:diskConfig"], "MANUAL");
    assert_eq!(disk_config(&user, &id).await, "MANUAL");

    // Rebuild names it, or keeps the server's.
    let r = act(
        &user,
        &id,
        json!({"rebuild": {"imageRef": img, "OS-DCF:diskConfig": "AUTO"}}),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["server"]["OS-DCF:diskConfig"], "AUTO");
    wait_status(&user, &id, "ACTIVE").await;
    let r = act(&user, &id, json!({"rebuild": {"imageRef": img}})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    wait_status(&user, &id, "ACTIVE").await;
    assert_eq!(disk_config(&user, &id).await, "AUTO");

    // Resize.
    let r = act(
        &user,
        &id,
        json!({"resize": {"flavorRef": "2", "OS-DCF:diskConfig": "MANUAL"}}),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    wait_status(&user, &id, "VERIFY_RESIZE").await;
    assert_eq!(disk_config(&user, &id).await, "MANUAL");

    // Bad values, everywhere it is taken.
    for (path, body) in [
        (
            format!("/v2.1/servers/{id}/action"),
            json!({"resize": {"flavorRef": "1", "OS-DCF:diskConfig": "auto"}}),
        ),
        (
            format!("/v2.1/servers/{id}/action"),
            json!({"rebuild": {"imageRef": img, "OS-DCF:diskConfig": 1}}),
        ),
    ] {
        let r = user.post(&path, body).await.unwrap();
        assert_error(&r, 400, "badRequest");
    }
    let r = user
        .put(
            &format!("/v2.1/servers/{id}"),
            Some(json!({"server": {"OS-DCF:diskConfig": "SOMETIMES"}})),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    let r = create(
        &user,
        json!({"name": "dc2", "imageRef": img, "flavorRef": "1", "OS-DCF:diskConfig": null}),
        "2.1",
    )
    .await;
    assert_error(&r, 400, "badRequest");

    // Not asked: the image's property decides (absent: MANUAL).
    let r = create(
        &user,
        json!({"name": "dc3", "imageRef": auto_img, "flavorRef": "1"}),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["server"]["OS-DCF:diskConfig"], "AUTO");
    let r = create(
        &user,
        json!({"name": "dc4", "imageRef": img, "flavorRef": "1"}),
        "2.1",
    )
    .await;
    assert_eq!(r.body["server"]["OS-DCF:diskConfig"], "MANUAL");
    cloud.stop().await;
}

#[tokio::test]
async fn an_image_that_disables_auto_disk_config_refuses_auto() {
    let (cloud, admin) = start().await;
    let off = image_with(&cloud, &admin, json!({"auto_disk_config": "disabled"})).await;
    let (user, _) = project_user(&cloud, "dcoff", "member").await;
    network(&cloud, &user, "dcoff-net", "10.9.4.0/24").await;
    let r = create(
        &user,
        json!({"name": "d", "imageRef": off, "flavorRef": "1", "OS-DCF:diskConfig": "AUTO"}),
        "2.1",
    )
    .await;
    assert_error(&r, 400, "badRequest");
    assert!(r.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .contains("automatic disk resize disabled"));
    let r = create(
        &user,
        json!({"name": "d", "imageRef": off, "flavorRef": "1"}),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["server"]["OS-DCF:diskConfig"], "MANUAL");
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(&user, &id, "ACTIVE").await;
    let r = act(
        &user,
        &id,
        json!({"rebuild": {"imageRef": off, "OS-DCF:diskConfig": "AUTO"}}),
    )
    .await;
    assert_error(&r, 400, "badRequest");
    cloud.stop().await;
}

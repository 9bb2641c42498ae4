//! The images proxy: Nova's image view of the image service's images,
//! Nova's filters and paging, metadata written through to Glance's
//! properties (with the `metadata_items` limit), 404s and the 2.36/2.39
//! cut-offs.

use super::servers::image;
use super::*;
use serde_json::{json, Value};

/// A private image of `c`'s project with `props`, uploaded (active).
async fn own_image(cloud: &TestCloud, c: &Client, name: &str, props: Value) -> String {
    let g = c.at(&cloud.url("image"));
    let mut body = json!({"name": name, "disk_format": "raw", "container_format": "bare"});
    for (k, v) in props.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = g.post("/v2/images", body).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn images_show_in_novas_view() {
    let (cloud, admin) = start().await;
    let active = image(&cloud, &admin).await;
    let queued = own_image(
        &cloud,
        &admin,
        "snap",
        json!({"instance_uuid": "0b8f6f4e-56f3-4b1e-9c0d-6a1f4fb54c5e", "image_type": "snapshot",
               "auto_disk_config": "true", "min_ram": 64}),
    )
    .await;

    let r = admin.get(&format!("/v2.1/images/{active}")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let i = &r.body["image"];
    assert_eq!(i["status"], "ACTIVE");
    assert_eq!(i["progress"], 100);
    assert_eq!(i["name"], "cirros");
    assert_eq!(i["minRam"], 0);
    assert_eq!(i["metadata"], json!({}));
    assert_eq!(i["OS-EXT-IMG-SIZE:size"], 17);
    assert!(i.get("server").is_none());
    let links = i["links"].as_array().unwrap();
    assert_eq!(links.len(), 3);
    assert!(links[0]["href"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/v2.1/images/{active}")));
    assert_eq!(links[2]["rel"], "alternate");
    assert_eq!(links[2]["type"], "application/vnd.openstack.image");
    assert!(i["created"].as_str().unwrap().ends_with('Z'));

    let r = admin.get(&format!("/v2.1/images/{queued}")).await.unwrap();
    let i = &r.body["image"];
    assert_eq!(i["status"], "SAVING");
    assert_eq!(i["progress"], 25);
    assert_eq!(i["minRam"], 64);
    assert_eq!(i["OS-EXT-IMG-SIZE:size"], 0);
    assert_eq!(i["server"]["id"], "0b8f6f4e-56f3-4b1e-9c0d-6a1f4fb54c5e");
    assert_eq!(i["OS-DCF:diskConfig"], "AUTO");
    assert_eq!(i["metadata"]["image_type"], "snapshot");

    // Nova's filters, translated to Glance's.
    let ids = |r: &Resp| -> Vec<String> {
        r.body["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };
    let r = admin.get("/v2.1/images?type=snapshot").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ids(&r), [queued.as_str()]);
    let r = admin
        .get("/v2.1/images/detail?server=http%3A%2F%2Fh%2Fservers%2F0b8f6f4e-56f3-4b1e-9c0d-6a1f4fb54c5e")
        .await
        .unwrap();
    assert_eq!(ids(&r), [queued.as_str()]);
    assert_eq!(r.body["images"][0]["status"], "SAVING");
    let r = admin.get("/v2.1/images?status=ACTIVE").await.unwrap();
    assert_eq!(ids(&r), [active.as_str()]);
    let r = admin.get("/v2.1/images?name=cirros").await.unwrap();
    assert_eq!(ids(&r), [active.as_str()]);
    let r = admin
        .get("/v2.1/images?changes-since=2000-01-01T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(ids(&r).len(), 2);
    let r = admin
        .get("/v2.1/images?changes-since=2999-01-01T00:00:00Z")
        .await
        .unwrap();
    assert!(ids(&r).is_empty());

    // Paging: a full page links to the next one.
    let r = admin.get("/v2.1/images?limit=1").await.unwrap();
    assert_eq!(ids(&r).len(), 1);
    let next = r.body["images_links"][0]["href"].as_str().unwrap();
    assert!(next.contains("marker="), "{next}");
    let first = ids(&r)[0].clone();
    let r = admin
        .get(&format!("/v2.1/images/detail?limit=5&marker={first}"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ids(&r).len(), 1);
    assert!(r.body.get("images_links").is_none());
    assert_ne!(ids(&r)[0], first);
    for bad in ["0", "-1", "x"] {
        let r = admin
            .get(&format!("/v2.1/images?limit={bad}"))
            .await
            .unwrap();
        assert_error(&r, 400, "badRequest");
    }
    let r = admin
        .get("/v2.1/images?marker=00000000-0000-0000-0000-000000000000")
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
}

#[tokio::test]
async fn other_projects_images_are_not_found_and_delete_is_204() {
    let (cloud, admin) = start().await;
    let private = own_image(&cloud, &admin, "mine", json!({})).await;
    let (alice, _) = project_user(&cloud, "alice", "member").await;
    let r = alice.get(&format!("/v2.1/images/{private}")).await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    assert_eq!(r.body["itemNotFound"]["message"], "Image not found.");
    let r = alice
        .delete(&format!("/v2.1/images/{private}"))
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = alice.get("/v2.1/images").await.unwrap();
    assert!(
        r.body["images"].as_array().unwrap().is_empty(),
        "{}",
        r.text
    );
    for bad in ["nope", "-1", &"a".repeat(40)] {
        let r = admin.delete(&format!("/v2.1/images/{bad}")).await.unwrap();
        assert_error(&r, 404, "itemNotFound");
    }

    let r = admin
        .delete(&format!("/v2.1/images/{private}"))
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = admin.get(&format!("/v2.1/images/{private}")).await.unwrap();
    assert_error(&r, 404, "itemNotFound");
}

#[tokio::test]
async fn image_metadata_is_written_through_to_the_properties() {
    let (cloud, admin) = start().await;
    let id = own_image(
        &cloud,
        &admin,
        "m",
        json!({"os_distro": "cirros", "keep": "k"}),
    )
    .await;
    let base = format!("/v2.1/images/{id}/metadata");

    let r = admin.get(&base).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"metadata": {"os_distro": "cirros", "keep": "k"}})
    );

    let r = admin
        .post(
            &base,
            json!({"metadata": {"a": "1", "os_distro": "fedora"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["metadata"],
        json!({"a": "1", "os_distro": "fedora", "keep": "k"})
    );

    let r = admin
        .put(&base, Some(json!({"metadata": {"b": "2"}})))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"metadata": {"b": "2"}}));
    let r = cloud
        .admin()
        .await
        .unwrap()
        .at(&cloud.url("image"))
        .get(&format!("/v2/images/{id}"))
        .await
        .unwrap();
    assert_eq!(r.body["b"], "2");
    assert!(r.body.get("keep").is_none(), "{}", r.text);

    let r = admin
        .put(&format!("{base}/c"), Some(json!({"meta": {"c": "3"}})))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"meta": {"c": "3"}}));
    let r = admin.get(&format!("{base}/c")).await.unwrap();
    assert_eq!(r.body, json!({"meta": {"c": "3"}}));
    let r = admin.delete(&format!("{base}/c")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = admin.get(&format!("{base}/c")).await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = admin.delete(&format!("{base}/c")).await.unwrap();
    assert_error(&r, 404, "itemNotFound");

    // Bad bodies.
    for (path, body) in [
        (format!("{base}/c"), json!({"meta": {"d": "4"}})),
        (format!("{base}/c"), json!({"meta": {"c": "3", "d": "4"}})),
        (format!("{base}/c"), json!({"meta": {}})),
        (format!("{base}/c"), json!({"meta": {"c": 3}})),
        (base.clone(), json!({"metadata": "x"})),
        (base.clone(), json!({"metadata": {"": "x"}})),
        (base.clone(), json!({"other": {}})),
    ] {
        let r = admin.put(&path, Some(body.clone())).await.unwrap();
        assert_error(&r, 400, "badRequest");
    }

    // The metadata_items limit (128 by default) bounds the properties.
    let many: serde_json::Map<String, Value> =
        (0..129).map(|i| (format!("k{i}"), json!("v"))).collect();
    let r = admin
        .put(&base, Some(json!({ "metadata": many })))
        .await
        .unwrap();
    assert_error(&r, 403, "forbidden");
    assert_eq!(
        r.body["forbidden"]["message"],
        "Image metadata limit exceeded"
    );

    // Unknown images.
    let none = "/v2.1/images/00000000-0000-0000-0000-000000000000/metadata";
    let r = admin.get(none).await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = admin
        .post(none, json!({"metadata": {"a": "1"}}))
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = admin
        .put(&format!("{none}/a"), Some(json!({"meta": {"a": "1"}})))
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");
}

#[tokio::test]
async fn the_proxies_stop_at_their_microversions() {
    let (cloud, admin) = start().await;
    let id = image(&cloud, &admin).await;
    for (path, v, want) in [
        ("/v2.1/images".to_string(), "2.35", 200),
        ("/v2.1/images".to_string(), "2.36", 404),
        ("/v2.1/images/detail".to_string(), "2.36", 404),
        (format!("/v2.1/images/{id}"), "2.36", 404),
        (format!("/v2.1/images/{id}/metadata"), "2.38", 200),
        (format!("/v2.1/images/{id}/metadata"), "2.39", 404),
    ] {
        let r = at_version(&admin, "GET", &path, None, v).await;
        assert_eq!(r.status, want, "{path} at {v}: {}", r.text);
    }
    let r = at_version(
        &admin,
        "DELETE",
        &format!("/v2.1/images/{id}"),
        None,
        "2.36",
    )
    .await;
    assert_error(&r, 404, "itemNotFound");
    let r = admin.get(&format!("/v2.1/images/{id}")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
}

//! Image metadata: create, show, list (filters, sorting, pages), JSON
//! patch, protected, deactivate/reactivate, tags, delete.

use super::*;

#[tokio::test]
async fn create_show_and_defaults() {
    let (cloud, admin) = start().await;
    let r = admin
        .post(
            "/v2/images",
            json!({"name": "cirros", "disk_format": "qcow2", "container_format": "bare",
                   "min_ram": 64, "tags": ["a", "b", "a"], "os_distro": "cirros"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.header("location").unwrap(), format!("/v2/images/{id}"));
    assert_eq!(
        r.header("openstack-image-import-methods").unwrap(),
        "glance-direct"
    );
    let b = &r.body;
    assert_eq!(b["status"], "queued");
    assert_eq!(b["visibility"], "shared");
    assert_eq!(b["protected"], false);
    assert_eq!(b["os_hidden"], false);
    assert_eq!(b["min_ram"], 64);
    assert_eq!(b["min_disk"], 0);
    assert_eq!(b["tags"], json!(["a", "b"]));
    assert_eq!(b["os_distro"], "cirros");
    assert_eq!(b["size"], Value::Null);
    assert_eq!(b["checksum"], Value::Null);
    assert_eq!(b["self"], format!("/v2/images/{id}"));
    assert_eq!(b["file"], format!("/v2/images/{id}/file"));
    assert_eq!(b["schema"], "/v2/schemas/image");
    assert!(b["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(b["owner"].is_string());
    let s = show(&admin, &id).await;
    assert_eq!(s["name"], "cirros");
    // A chosen id, and the same id again.
    let chosen = "6a4e0a0e-3c7b-4c27-9a4c-2b8f2b0c1d11";
    assert_eq!(create(&admin, json!({"id": chosen})).await, chosen);
    let r = admin
        .post("/v2/images", json!({"id": chosen}))
        .await
        .unwrap();
    assert_error(&r, 409);
    cloud.stop().await;
}

#[tokio::test]
async fn create_refuses_bad_input() {
    let (cloud, admin) = start().await;
    for (body, code) in [
        (json!({"status": "active"}), 403),
        (json!({"size": 5}), 403),
        (json!({"self": "/x"}), 403),
        (json!({"deleted": "x"}), 403),
        (json!({"os_glance_import_task": "x"}), 403),
        (json!({"disk_format": "floppy"}), 400),
        (json!({"container_format": 7}), 400),
        (json!({"visibility": "everyone"}), 400),
        (json!({"min_ram": -1}), 400),
        (json!({"protected": "yes"}), 400),
        (json!({"name": "x".repeat(256)}), 400),
        (json!({"id": "not-a-uuid"}), 400),
        (json!({"custom": 5}), 400),
        (json!({"tags": "a"}), 400),
        (json!([1, 2]), 400),
    ] {
        let r = admin.post("/v2/images", body.clone()).await.unwrap();
        assert_error(&r, code);
        assert!(!message(&r).is_empty(), "{body}: {}", r.text);
    }
    // Only an admin may publish.
    let (member, _) = project_user(&cloud, "pub-try", "member").await;
    let r = member
        .post("/v2/images", json!({"visibility": "public"}))
        .await
        .unwrap();
    assert_error(&r, 403);
    // Community and private are the owner's choice.
    create(&member, json!({"visibility": "community"})).await;
    create(&member, json!({"visibility": "private"})).await;
    // A reader may look but not create.
    let (reader, _) = project_user(&cloud, "reader-only", "reader").await;
    assert_error(&reader.post("/v2/images", json!({})).await.unwrap(), 403);
    assert_eq!(reader.get("/v2/images").await.unwrap().status, 200);
    // Nobody but an admin creates images owned by another project.
    let r = member
        .post("/v2/images", json!({"owner": "someone-else"}))
        .await
        .unwrap();
    assert_error(&r, 403);
    assert!(message(&r).contains("someone-else"), "{}", r.text);
    cloud.stop().await;
}

#[tokio::test]
async fn list_filters_sorting_and_pages() {
    let (cloud, admin) = start().await;
    let mut ids = Vec::new();
    for (i, name) in ["delta", "alpha", "charlie", "bravo", "echo"]
        .iter()
        .enumerate()
    {
        let mut body = json!({"name": name, "disk_format": if i % 2 == 0 {"raw"} else {"qcow2"},
                              "container_format": "bare", "tags": [format!("t{}", i % 2)]});
        if i == 4 {
            body["os_hidden"] = json!(true);
        }
        if i == 1 {
            body["flavor"] = json!("small");
        }
        ids.push(create(&admin, body).await);
    }
    upload(&admin, &ids[0], &[1u8; 1000]).await;
    upload(&admin, &ids[2], &[2u8; 5000]).await;
    let names = |r: &Resp| -> Vec<String> {
        r.body["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let r = admin.get("/v2/images?sort=name:asc").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        names(&r),
        ["alpha", "bravo", "charlie", "delta"],
        "hidden left out"
    );
    assert_eq!(r.body["first"], "/v2/images?sort=name%3Aasc");
    assert_eq!(r.body["schema"], "/v2/schemas/images");
    assert!(r.body.get("next").is_none());
    let r = admin
        .get("/v2/images?sort_key=name&sort_dir=desc")
        .await
        .unwrap();
    assert_eq!(names(&r), ["delta", "charlie", "bravo", "alpha"]);
    // Default order: newest first.
    let r = admin.get("/v2/images").await.unwrap();
    assert_eq!(names(&r)[0], "bravo");
    let q = |s: String| {
        let admin = admin.clone();
        async move {
            admin
                .get(&format!("/v2/images?sort=name:asc&{s}"))
                .await
                .unwrap()
        }
    };
    assert_eq!(names(&q("name=charlie".to_string()).await), ["charlie"]);
    assert_eq!(
        names(&q("name=in:alpha,delta".to_string()).await),
        ["alpha", "delta"]
    );
    assert_eq!(
        names(&q("status=active".to_string()).await),
        ["charlie", "delta"]
    );
    assert_eq!(
        names(&q("disk_format=qcow2".to_string()).await),
        ["alpha", "bravo"]
    );
    assert_eq!(
        names(&q("container_format=bare&tag=t0".to_string()).await),
        ["charlie", "delta"]
    );
    assert_eq!(names(&q("size_min=2000".to_string()).await), ["charlie"]);
    assert_eq!(names(&q("size_max=2000".to_string()).await), ["delta"]);
    assert_eq!(names(&q("os_hidden=true".to_string()).await), ["echo"]);
    assert_eq!(names(&q("flavor=small".to_string()).await), ["alpha"]);
    assert_eq!(names(&q("visibility=shared".to_string()).await).len(), 4);
    assert_eq!(names(&q("visibility=public".to_string()).await).len(), 0);
    let owner = show(&admin, &ids[0]).await["owner"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(names(&q(format!("owner={owner}")).await).len(), 4);
    // Pages: limit and marker, `next` keeps the other parameters.
    let r = admin.get("/v2/images?sort=name:asc&limit=3").await.unwrap();
    assert_eq!(names(&r), ["alpha", "bravo", "charlie"]);
    let next = r.body["next"].as_str().unwrap().to_string();
    assert!(
        next.starts_with("/v2/images?sort=name%3Aasc&limit=3&marker="),
        "{next}"
    );
    let r = admin.get(&next).await.unwrap();
    assert_eq!(names(&r), ["delta"]);
    assert!(r.body.get("next").is_none());
    // Times compare to the second.
    assert_eq!(
        names(&q("created_at=gte:2000-01-01T00:00:00Z".to_string()).await).len(),
        4
    );
    assert!(names(&q("updated_at=lt:2000-01-01T00:00:00Z".to_string()).await).is_empty());
    // Pages of one across NULL sizes and ties, both directions.
    for (sort, want) in [
        ("size:asc,name:desc", ["bravo", "alpha", "delta", "charlie"]),
        ("size:desc,name:asc", ["charlie", "delta", "alpha", "bravo"]),
    ] {
        let mut seen = Vec::new();
        let mut url = format!("/v2/images?sort={sort}&limit=1");
        loop {
            let r = admin.get(&url).await.unwrap();
            assert_eq!(r.status, 200, "{}", r.text);
            seen.extend(names(&r));
            match r.body["next"].as_str() {
                Some(n) => url = n.to_string(),
                None => break,
            }
        }
        assert_eq!(seen, want, "{sort}");
    }
    // A marker outside the filtered list is no marker.
    let r = admin
        .get(&format!("/v2/images?disk_format=qcow2&marker={}", ids[0]))
        .await
        .unwrap();
    assert_error(&r, 400);
    // Bad parameters are 400s.
    for bad in [
        "sort=owner:asc",
        "sort=name:sideways",
        "sort=name&sort_key=name",
        "limit=-1",
        "limit=many",
        "marker=00000000-0000-0000-0000-000000000000",
        "size_min=big",
        "os_hidden=perhaps",
        "visibility=everyone",
        "member_status=maybe",
        "changes-since=2020-01-01",
    ] {
        assert_error(&admin.get(&format!("/v2/images?{bad}")).await.unwrap(), 400);
    }
    cloud.stop().await;
}

#[tokio::test]
async fn json_patch_updates() {
    let (cloud, admin) = start().await;
    let id = create(
        &admin,
        json!({"name": "p", "disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let r = patch(
        &admin,
        &id,
        json!([
            {"op": "replace", "path": "/name", "value": "renamed"},
            {"op": "add", "path": "/hw_disk_bus", "value": "virtio"},
            {"op": "add", "path": "/min_disk", "value": 2},
            {"op": "replace", "path": "/tags", "value": ["x", "y"]},
        ]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "renamed");
    assert_eq!(r.body["hw_disk_bus"], "virtio");
    assert_eq!(r.body["min_disk"], 2);
    assert_eq!(r.body["tags"], json!(["x", "y"]));
    // add replaces an existing property; remove takes it away.
    let r = patch(
        &admin,
        &id,
        json!([{"op": "add", "path": "/hw_disk_bus", "value": "scsi"}]),
    )
    .await;
    assert_eq!(r.body["hw_disk_bus"], "scsi");
    let r = patch(
        &admin,
        &id,
        json!([{"op": "remove", "path": "/hw_disk_bus"}]),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("hw_disk_bus").is_none());
    // The older draft-4 dialect.
    let r = admin
        .send_bytes(
            "PATCH",
            &format!("/v2/images/{id}"),
            json!([{"add": "/k", "value": "v"}]).to_string().into(),
            &[(
                "content-type",
                "application/openstack-images-v2.0-json-patch",
            )],
        )
        .await
        .unwrap();
    assert_eq!(r.body["k"], "v", "{}", r.text);
    // Errors, with Glance's codes.
    for (ops, code) in [
        (json!([{"op": "remove", "path": "/nope"}]), 409),
        (
            json!([{"op": "replace", "path": "/nope", "value": "x"}]),
            409,
        ),
        (json!([{"op": "remove", "path": "/name"}]), 403),
        (
            json!([{"op": "replace", "path": "/status", "value": "active"}]),
            403,
        ),
        (
            json!([{"op": "replace", "path": "/checksum", "value": "x"}]),
            403,
        ),
        (
            json!([{"op": "add", "path": "/deleted_at", "value": "x"}]),
            403,
        ),
        (
            json!([{"op": "replace", "path": "/visibility", "value": "sideways"}]),
            400,
        ),
        (json!([{"op": "add", "path": "/k", "value": 5}]), 400),
        (json!([{"op": "move", "path": "/k", "from": "/j"}]), 400),
        (json!([{"op": "add", "path": "/a/b", "value": "x"}]), 400),
        (json!({"op": "add"}), 400),
    ] {
        let r = patch(&admin, &id, ops.clone()).await;
        assert_error(&r, code);
    }
    // A JSON content type is not a patch: 415 with Accept-Patch.
    let r = admin
        .send_bytes(
            "PATCH",
            &format!("/v2/images/{id}"),
            "[]".into(),
            &[("content-type", "application/json")],
        )
        .await
        .unwrap();
    assert_error(&r, 415);
    assert!(r
        .header("accept-patch")
        .unwrap()
        .contains("v2.1-json-patch"));
    // Formats are fixed once the image has data.
    upload(&admin, &id, b"data").await;
    let r = patch(
        &admin,
        &id,
        json!([{"op": "replace", "path": "/disk_format", "value": "qcow2"}]),
    )
    .await;
    assert_error(&r, 403);
    // The owner may not be changed by a non-admin.
    let (member, pid) = project_user(&cloud, "patcher", "member").await;
    let mine = create(&member, json!({})).await;
    let r = patch(
        &member,
        &mine,
        json!([{"op": "replace", "path": "/owner", "value": "x"}]),
    )
    .await;
    assert_error(&r, 403);
    let r = patch(
        &member,
        &mine,
        json!([{"op": "replace", "path": "/visibility", "value": "public"}]),
    )
    .await;
    assert_error(&r, 403);
    // An admin may, and the image moves with its quota.
    let r = patch(
        &admin,
        &mine,
        json!([{"op": "replace", "path": "/owner", "value": "elsewhere"}]),
    )
    .await;
    assert_eq!(r.body["owner"], "elsewhere", "{}", r.text);
    assert_ne!(pid, "elsewhere");
    cloud.stop().await;
}

#[tokio::test]
async fn protected_deactivate_tags_delete() {
    let (cloud, admin) = start().await;
    let id = create(
        &admin,
        json!({"disk_format": "raw", "container_format": "bare", "protected": true}),
    )
    .await;
    // Protected: deletion refused (Glance answers 403), until unprotected.
    let r = admin.delete(&format!("/v2/images/{id}")).await.unwrap();
    assert_error(&r, 403);
    assert!(message(&r).contains("protected"), "{}", r.text);
    patch(
        &admin,
        &id,
        json!([{"op": "replace", "path": "/protected", "value": false}]),
    )
    .await;
    // Deactivate needs data first.
    let r = admin
        .post(&format!("/v2/images/{id}/actions/deactivate"), json!({}))
        .await
        .unwrap();
    assert_error(&r, 403);
    assert_eq!(upload(&admin, &id, b"payload").await.status, 204);
    for (action, status) in [
        ("deactivate", "deactivated"),
        ("deactivate", "deactivated"),
        ("reactivate", "active"),
    ] {
        let r = admin
            .send(
                "POST",
                &format!("/v2/images/{id}/actions/{action}"),
                None,
                &[],
            )
            .await
            .unwrap();
        assert_eq!(r.status, 204, "{}", r.text);
        assert_eq!(show(&admin, &id).await["status"], status);
    }
    // Tags.
    let r = admin
        .put(&format!("/v2/images/{id}/tags/blue"), None)
        .await
        .unwrap();
    assert_eq!(r.status, 204);
    admin
        .put(&format!("/v2/images/{id}/tags/blue"), None)
        .await
        .unwrap();
    assert_eq!(show(&admin, &id).await["tags"], json!(["blue"]));
    let r = admin
        .delete(&format!("/v2/images/{id}/tags/blue"))
        .await
        .unwrap();
    assert_eq!(r.status, 204);
    assert_error(
        &admin
            .delete(&format!("/v2/images/{id}/tags/blue"))
            .await
            .unwrap(),
        404,
    );
    // Delete: gone, data and all.
    assert!(data_files(&cloud).contains(&format!("/{id}")));
    let r = admin.delete(&format!("/v2/images/{id}")).await.unwrap();
    assert_eq!(r.status, 204);
    assert_error(&admin.get(&format!("/v2/images/{id}")).await.unwrap(), 404);
    assert_error(
        &admin.delete(&format!("/v2/images/{id}")).await.unwrap(),
        404,
    );
    assert!(data_files(&cloud).is_empty(), "{:?}", data_files(&cloud));
    cloud.stop().await;
}

#[tokio::test]
async fn other_projects_private_images_are_404() {
    let (cloud, _admin) = start().await;
    let (alice, _) = project_user(&cloud, "alice", "member").await;
    let (bob, _) = project_user(&cloud, "bob", "member").await;
    let private = create(
        &alice,
        json!({"visibility": "private", "disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let shared = create(
        &alice,
        json!({"disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let community = create(
        &alice,
        json!({"visibility": "community", "disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    upload(&alice, &community, b"c").await;
    for id in [&private, &shared] {
        assert_error(&bob.get(&format!("/v2/images/{id}")).await.unwrap(), 404);
        assert_error(
            &patch(
                &bob,
                id,
                json!([{"op": "replace", "path": "/name", "value": "x"}]),
            )
            .await,
            404,
        );
        assert_error(&bob.delete(&format!("/v2/images/{id}")).await.unwrap(), 404);
        assert_error(&upload(&bob, id, b"x").await, 404);
        assert_error(
            &bob.get(&format!("/v2/images/{id}/file")).await.unwrap(),
            404,
        );
        assert_error(
            &bob.put(&format!("/v2/images/{id}/tags/t"), None)
                .await
                .unwrap(),
            404,
        );
    }
    // Community images are visible (not listed by default) but not Bob's
    // to change: a 403, since he can see them.
    assert_eq!(
        bob.get(&format!("/v2/images/{community}"))
            .await
            .unwrap()
            .status,
        200
    );
    let listed = bob.get("/v2/images").await.unwrap();
    assert_eq!(
        listed.body["images"].as_array().unwrap().len(),
        0,
        "{}",
        listed.text
    );
    let listed = bob.get("/v2/images?visibility=community").await.unwrap();
    assert_eq!(listed.body["images"].as_array().unwrap().len(), 1);
    assert_error(
        &bob.delete(&format!("/v2/images/{community}"))
            .await
            .unwrap(),
        403,
    );
    assert_error(
        &patch(
            &bob,
            &community,
            json!([{"op": "replace", "path": "/name", "value": "x"}]),
        )
        .await,
        403,
    );
    let r = bob
        .get(&format!("/v2/images/{community}/file"))
        .await
        .unwrap();
    assert_eq!((r.status, r.bytes.as_ref()), (200, b"c".as_ref()));
    cloud.stop().await;
}

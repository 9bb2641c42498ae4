//! Metadata definitions: namespaces and their objects, properties, tags
//! and resource type associations; visibility, policy and validation.

use super::*;

const NS: &str = "/v2/metadefs/namespaces";

async fn create_ns(c: &Client, body: Value) -> Resp {
    c.post(NS, body).await.unwrap()
}

#[tokio::test]
async fn namespace_lifecycle() {
    let (cloud, admin) = start().await;
    let r = create_ns(
        &admin,
        json!({
            "namespace": "OS::Test::Full",
            "display_name": "Full",
            "description": "everything at once",
            "visibility": "public",
            "protected": true,
            "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "hw_"}],
            "properties": {"cpu": {"title": "CPU", "type": "integer", "minimum": 1}},
            "objects": [{"name": "Limits", "properties": {"q": {"title": "Q", "type": "string"}}}],
            "tags": [{"name": "alpha"}, {"name": "beta"}],
        }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/v2/metadefs/namespaces/OS::Test::Full")
    );
    assert_eq!(r.body["self"], "/v2/metadefs/namespaces/OS::Test::Full");
    assert_eq!(r.body["schema"], "/v2/schemas/metadefs/namespace");
    assert_eq!(r.body["protected"], true);
    assert!(r.body["owner"].is_string(), "{}", r.text);
    let full = format!("{NS}/OS::Test::Full");
    let r = admin.get(&full).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["visibility"], "public");
    assert_eq!(
        r.body["resource_type_associations"][0]["name"],
        "OS::Glance::Image"
    );
    assert_eq!(r.body["properties"]["cpu"]["minimum"], 1);
    assert_eq!(r.body["objects"][0]["name"], "Limits");
    assert_eq!(r.body["tags"].as_array().unwrap().len(), 2);
    // With a resource type, property names carry its prefix.
    let r = admin
        .get(&format!("{full}?resource_type=OS::Glance::Image"))
        .await
        .unwrap();
    assert!(r.body["properties"]["hw_cpu"].is_object(), "{}", r.text);
    assert!(
        r.body["objects"][0]["properties"]["hw_q"].is_object(),
        "{}",
        r.text
    );
    let r = admin.get(NS).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["schema"], "/v2/schemas/metadefs/namespaces");
    assert!(r.body["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["namespace"] == "OS::Test::Full"));
    // Protected: neither it nor anything in it can be deleted.
    assert_error(&admin.delete(&full).await.unwrap(), 403);
    assert_error(&admin.delete(&format!("{full}/tags")).await.unwrap(), 403);
    assert_error(
        &admin
            .delete(&format!("{full}/objects/Limits"))
            .await
            .unwrap(),
        403,
    );
    let r = admin
        .put(
            &full,
            Some(json!({"namespace": "OS::Test::Renamed", "visibility": "private", "protected": false})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["visibility"], "private");
    assert_eq!(r.body["protected"], false);
    assert_error(&admin.get(&full).await.unwrap(), 404);
    let renamed = format!("{NS}/OS::Test::Renamed");
    // The contents moved with the rename.
    let r = admin.get(&format!("{renamed}/objects")).await.unwrap();
    assert_eq!(r.body["objects"][0]["name"], "Limits", "{}", r.text);
    let r = admin.delete(&renamed).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    assert_error(&admin.get(&renamed).await.unwrap(), 404);
    assert_error(&admin.delete(&renamed).await.unwrap(), 404);
    cloud.stop().await;
}

#[tokio::test]
async fn namespace_validation() {
    let (cloud, admin) = start().await;
    assert_error(&create_ns(&admin, json!({})).await, 400);
    assert_error(&create_ns(&admin, json!({"namespace": ""})).await, 400);
    assert_error(
        &create_ns(&admin, json!({"namespace": "x".repeat(81)})).await,
        400,
    );
    assert_error(
        &create_ns(&admin, json!({"namespace": "n", "visibility": "shared"})).await,
        400,
    );
    assert_error(
        &create_ns(&admin, json!({"namespace": "n", "protected": "yes"})).await,
        400,
    );
    assert_error(
        &create_ns(
            &admin,
            json!({"namespace": "n", "properties": {"p": {"title": "P"}}}),
        )
        .await,
        400,
    );
    assert_error(
        &create_ns(&admin, json!({"namespace": "n", "created_at": "now"})).await,
        403,
    );
    let r = create_ns(&admin, json!({"namespace": "n"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["visibility"], "private");
    assert_eq!(r.body["protected"], false);
    assert_error(&create_ns(&admin, json!({"namespace": "n"})).await, 409);
    // A duplicate inside one body leaves nothing behind.
    let r = create_ns(
        &admin,
        json!({"namespace": "dup", "tags": [{"name": "a"}, {"name": "A"}]}),
    )
    .await;
    assert_error(&r, 409);
    assert_error(&admin.get(&format!("{NS}/dup")).await.unwrap(), 404);
    // Renaming onto another namespace's name.
    create_ns(&admin, json!({"namespace": "m"})).await;
    assert_error(
        &admin
            .put(&format!("{NS}/m"), Some(json!({"namespace": "n"})))
            .await
            .unwrap(),
        409,
    );
    assert_error(&admin.get(&format!("{NS}?sort_dir=up")).await.unwrap(), 400);
    assert_error(
        &admin.get(&format!("{NS}?visibility=shared")).await.unwrap(),
        400,
    );
    assert_error(&admin.get(&format!("{NS}?limit=x")).await.unwrap(), 400);
    // Paging by namespace name.
    let r = admin
        .get(&format!("{NS}?limit=1&sort_key=namespace&sort_dir=asc"))
        .await
        .unwrap();
    assert_eq!(r.body["namespaces"][0]["namespace"], "m", "{}", r.text);
    let next = r.body["next"].as_str().unwrap().to_string();
    let r = admin.get(&next).await.unwrap();
    assert_eq!(r.body["namespaces"][0]["namespace"], "n", "{}", r.text);
    cloud.stop().await;
}

#[tokio::test]
async fn visibility_and_policy() {
    let (cloud, admin) = start().await;
    let (member, _) = project_user(&cloud, "md-member", "member").await;
    for (name, vis) in [("pub", "public"), ("priv", "private")] {
        let r = create_ns(
            &admin,
            json!({"namespace": name, "visibility": vis, "tags": [{"name": "t"}]}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    // Reads: public namespaces yes, other projects' private ones are 404.
    let r = member.get(NS).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let names: Vec<&str> = r.body["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["namespace"].as_str())
        .collect();
    assert!(
        names.contains(&"pub") && !names.contains(&"priv"),
        "{names:?}"
    );
    assert_eq!(member.get(&format!("{NS}/pub")).await.unwrap().status, 200);
    assert_eq!(
        member.get(&format!("{NS}/pub/tags")).await.unwrap().status,
        200
    );
    assert_error(&member.get(&format!("{NS}/priv")).await.unwrap(), 404);
    assert_error(&member.get(&format!("{NS}/priv/tags")).await.unwrap(), 404);
    assert_error(
        &member.get(&format!("{NS}/priv/tags/t")).await.unwrap(),
        404,
    );
    // Changes are admin-only: 403 where the namespace is visible, 404
    // where it is not.
    assert_error(&create_ns(&member, json!({"namespace": "mine"})).await, 403);
    assert_error(
        &member
            .put(&format!("{NS}/pub"), Some(json!({"namespace": "pub"})))
            .await
            .unwrap(),
        403,
    );
    assert_error(&member.delete(&format!("{NS}/pub")).await.unwrap(), 403);
    assert_error(&member.delete(&format!("{NS}/priv")).await.unwrap(), 404);
    assert_error(
        &member
            .post(&format!("{NS}/pub/tags/x"), json!(null))
            .await
            .unwrap(),
        403,
    );
    assert_error(
        &member
            .post(
                &format!("{NS}/pub/resource_types"),
                json!({"name": "OS::Nova::Flavor"}),
            )
            .await
            .unwrap(),
        403,
    );
    assert_eq!(
        member
            .get("/v2/metadefs/resource_types")
            .await
            .unwrap()
            .status,
        200
    );
    cloud.stop().await;
}

#[tokio::test]
async fn objects_properties_tags() {
    let (cloud, admin) = start().await;
    create_ns(&admin, json!({"namespace": "ns"})).await;
    let base = format!("{NS}/ns");
    // Objects.
    let r = admin
        .post(
            &format!("{base}/objects"),
            json!({"name": "o1", "description": "d", "required": ["a"],
                   "properties": {"a": {"title": "A", "type": "string"}}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["self"], "/v2/metadefs/namespaces/ns/objects/o1");
    assert_eq!(r.body["schema"], "/v2/schemas/metadefs/object");
    assert_error(
        &admin
            .post(&format!("{base}/objects"), json!({"name": "o1"}))
            .await
            .unwrap(),
        409,
    );
    assert_error(
        &admin
            .post(
                &format!("{base}/objects"),
                json!({"description": "no name"}),
            )
            .await
            .unwrap(),
        400,
    );
    assert_error(
        &admin
            .post(
                &format!("{base}/objects"),
                json!({"name": "o2", "required": "a"}),
            )
            .await
            .unwrap(),
        400,
    );
    let r = admin
        .put(&format!("{base}/objects/o1"), Some(json!({"name": "o9"})))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "o9");
    assert_error(
        &admin.get(&format!("{base}/objects/o1")).await.unwrap(),
        404,
    );
    assert_eq!(
        admin.get(&format!("{base}/objects/o9")).await.unwrap().body["name"],
        "o9"
    );
    let r = admin.delete(&format!("{base}/objects/o9")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    assert_error(
        &admin.delete(&format!("{base}/objects/o9")).await.unwrap(),
        404,
    );
    let r = admin.get(&format!("{base}/objects")).await.unwrap();
    assert_eq!(r.body["objects"], json!([]), "{}", r.text);
    // Properties.
    let prop = json!({"name": "OS::Glance::Image", "title": "T", "type": "string",
                      "enum": ["a", "b"]});
    let r = admin
        .post(&format!("{base}/properties"), prop.clone())
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["name"], "OS::Glance::Image");
    assert_eq!(r.body["enum"], json!(["a", "b"]));
    assert_error(
        &admin
            .post(&format!("{base}/properties"), prop.clone())
            .await
            .unwrap(),
        409,
    );
    assert_error(
        &admin
            .post(
                &format!("{base}/properties"),
                json!({"name": "p", "title": "T", "type": "text"}),
            )
            .await
            .unwrap(),
        400,
    );
    assert_error(
        &admin
            .post(
                &format!("{base}/properties"),
                json!({"name": "p", "type": "string"}),
            )
            .await
            .unwrap(),
        400,
    );
    let path = format!("{base}/properties/OS::Glance::Image");
    let r = admin.get(&path).await.unwrap();
    assert_eq!(r.body["title"], "T", "{}", r.text);
    let r = admin
        .put(
            &path,
            Some(json!({"name": "OS::Glance::Image", "title": "T2", "type": "string"})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["title"], "T2");
    let r = admin.get(&format!("{base}/properties")).await.unwrap();
    assert_eq!(r.body["properties"]["OS::Glance::Image"]["title"], "T2");
    assert_eq!(admin.delete(&path).await.unwrap().status, 204);
    assert_error(&admin.get(&path).await.unwrap(), 404);
    // Tags: one by one, in bulk (replacing, or appending), case-insensitive.
    let r = admin
        .post(&format!("{base}/tags/First"), json!(null))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["name"], "First");
    assert_error(
        &admin
            .post(&format!("{base}/tags/first"), json!(null))
            .await
            .unwrap(),
        409,
    );
    let r = admin
        .post(
            &format!("{base}/tags"),
            json!({"tags": [{"name": "t1"}, {"name": "t2"}]}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body, json!({"tags": [{"name": "t1"}, {"name": "t2"}]}));
    let r = admin.get(&format!("{base}/tags")).await.unwrap();
    assert_eq!(r.body["tags"].as_array().unwrap().len(), 2, "{}", r.text);
    let r = admin
        .send(
            "POST",
            &format!("{base}/tags"),
            Some(&json!({"tags": [{"name": "t3"}]})),
            &[("x-openstack-append", "true")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = admin.get(&format!("{base}/tags")).await.unwrap();
    assert_eq!(r.body["tags"].as_array().unwrap().len(), 3, "{}", r.text);
    assert_error(
        &admin
            .post(
                &format!("{base}/tags"),
                json!({"tags": [{"name": "x"}, {"name": "X"}]}),
            )
            .await
            .unwrap(),
        409,
    );
    // The failed bulk create changed nothing.
    let r = admin.get(&format!("{base}/tags")).await.unwrap();
    assert_eq!(r.body["tags"].as_array().unwrap().len(), 3, "{}", r.text);
    assert_error(
        &admin
            .post(&format!("{base}/tags"), json!({"tags": "t"}))
            .await
            .unwrap(),
        400,
    );
    let r = admin
        .put(&format!("{base}/tags/t1"), Some(json!({"name": "t1b"})))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "t1b");
    assert_eq!(
        admin.get(&format!("{base}/tags/T1B")).await.unwrap().status,
        200
    );
    assert_eq!(
        admin
            .delete(&format!("{base}/tags/t1b"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_error(&admin.get(&format!("{base}/tags/t1b")).await.unwrap(), 404);
    assert_eq!(
        admin.delete(&format!("{base}/tags")).await.unwrap().status,
        204
    );
    let r = admin.get(&format!("{base}/tags")).await.unwrap();
    assert_eq!(r.body["tags"], json!([]), "{}", r.text);
    // Anything in a namespace that does not exist.
    assert_error(
        &admin.get(&format!("{NS}/nope/objects")).await.unwrap(),
        404,
    );
    assert_error(
        &admin
            .post(&format!("{NS}/nope/tags/x"), json!(null))
            .await
            .unwrap(),
        404,
    );
    cloud.stop().await;
}

#[tokio::test]
async fn resource_types_and_associations() {
    let (cloud, admin) = start().await;
    let r = admin.get("/v2/metadefs/resource_types").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let names = |v: &Value, key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(names(&r.body, "resource_types").contains(&"OS::Glance::Image".to_string()));
    create_ns(&admin, json!({"namespace": "ns"})).await;
    let rts = format!("{NS}/ns/resource_types");
    let r = admin
        .post(
            &rts,
            json!({"name": "OS::Custom::Thing", "prefix": "c_", "properties_target": "image"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["prefix"], "c_");
    assert_error(
        &admin
            .post(&rts, json!({"name": "OS::Custom::Thing"}))
            .await
            .unwrap(),
        409,
    );
    assert_error(
        &admin.post(&rts, json!({"prefix": "x"})).await.unwrap(),
        400,
    );
    // A new name became a resource type.
    let r = admin.get("/v2/metadefs/resource_types").await.unwrap();
    assert!(names(&r.body, "resource_types").contains(&"OS::Custom::Thing".to_string()));
    let r = admin.get(&rts).await.unwrap();
    assert_eq!(
        names(&r.body, "resource_type_associations"),
        vec!["OS::Custom::Thing"]
    );
    let one = format!("{rts}/OS::Custom::Thing");
    assert_eq!(admin.delete(&one).await.unwrap().status, 204);
    assert_error(&admin.delete(&one).await.unwrap(), 404);
    let r = admin.get(&rts).await.unwrap();
    assert_eq!(r.body["resource_type_associations"], json!([]));
    assert_error(
        &admin
            .get(&format!("{NS}/nope/resource_types"))
            .await
            .unwrap(),
        404,
    );
    cloud.stop().await;
}

#[tokio::test]
async fn metadef_schemas() {
    let (cloud, admin) = start().await;
    for (url, name) in [
        ("namespace", "namespace"),
        ("namespaces", "namespaces"),
        ("resource_type", "resource_type_association"),
        ("resource_types", "resource_type_associations"),
        ("object", "object"),
        ("objects", "objects"),
        ("property", "property"),
        ("properties", "properties"),
        ("tag", "tag"),
        ("tags", "tags"),
    ] {
        let r = admin
            .get(&format!("/v2/schemas/metadefs/{url}"))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{url}: {}", r.text);
        assert_eq!(r.body["name"], name, "{url}");
    }
    assert_error(&admin.get("/v2/schemas/metadefs/nope").await.unwrap(), 404);
    assert_eq!(
        admin.get("/v2/schemas/task").await.unwrap().body["name"],
        "task"
    );
    cloud.stop().await;
}

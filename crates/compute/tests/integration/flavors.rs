//! Flavors, extra specs and flavor access: every endpoint, the response
//! shapes per microversion (exact key sets, as tempest's schemas), admin
//! versus member, private flavor visibility, filters and paging.

use super::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

const DETAIL_21: &[&str] = &[
    "id",
    "name",
    "ram",
    "disk",
    "swap",
    "OS-FLV-EXT-DATA:ephemeral",
    "OS-FLV-DISABLED:disabled",
    "vcpus",
    "os-flavor-access:is_public",
    "rxtx_factor",
    "links",
];

fn with(base: &[&str], more: &[&str]) -> BTreeSet<String> {
    let mut s = set(base);
    s.extend(more.iter().map(|m| m.to_string()));
    s
}

fn ids(r: &Resp) -> Vec<String> {
    r.body["flavors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

async fn create(admin: &Client, v: &str, flavor: Value) -> Resp {
    at_version(
        admin,
        "POST",
        "/v2.1/flavors",
        Some(&json!({ "flavor": flavor })),
        v,
    )
    .await
}

#[tokio::test]
async fn defaults_are_there_in_every_microversions_shape() {
    let (cloud, admin) = start().await;
    let r = admin.get("/v2.1/flavors").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ids(&r), ["1", "2", "3", "4", "5"]);
    assert_eq!(keys(&r.body), set(&["flavors"]));
    for f in r.body["flavors"].as_array().unwrap() {
        assert_eq!(keys(f), set(&["id", "name", "links"]));
    }
    let links = &r.body["flavors"][0]["links"];
    assert_eq!(links[0]["rel"], "self");
    assert!(links[0]["href"]
        .as_str()
        .unwrap()
        .ends_with("/v2.1/flavors/1"));
    assert_eq!(links[1]["rel"], "bookmark");
    assert!(!links[1]["href"].as_str().unwrap().contains("/v2.1/"));

    let r = at_version(&admin, "GET", "/v2.1/flavors", None, "2.55").await;
    assert_eq!(
        keys(&r.body["flavors"][0]),
        set(&["id", "name", "links", "description"])
    );

    let r = admin.get("/v2.1/flavors/detail").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let tiny = &r.body["flavors"][0];
    assert_eq!(keys(tiny), set(DETAIL_21));
    assert_eq!(tiny["name"], "m1.tiny");
    assert_eq!(tiny["ram"], 512);
    assert_eq!(tiny["disk"], 1);
    assert_eq!(tiny["vcpus"], 1);
    assert_eq!(tiny["swap"], "");
    assert_eq!(tiny["rxtx_factor"], 1.0);
    assert_eq!(tiny["os-flavor-access:is_public"], true);
    assert_eq!(tiny["OS-FLV-DISABLED:disabled"], false);
    let xl = &r.body["flavors"][4];
    assert_eq!(
        (xl["name"].as_str(), xl["ram"].as_i64(), xl["disk"].as_i64()),
        (Some("m1.xlarge"), Some(16384), Some(160))
    );
    assert_eq!(xl["vcpus"], 8);

    for (v, want) in [
        ("2.54", set(DETAIL_21)),
        ("2.55", with(DETAIL_21, &["description"])),
        ("2.61", with(DETAIL_21, &["description", "extra_specs"])),
        ("2.75", with(DETAIL_21, &["description", "extra_specs"])),
    ] {
        let r = at_version(&admin, "GET", "/v2.1/flavors/detail", None, v).await;
        assert_eq!(keys(&r.body["flavors"][0]), want, "{v}");
        let r = at_version(&admin, "GET", "/v2.1/flavors/1", None, v).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(keys(&r.body), set(&["flavor"]));
        assert_eq!(keys(&r.body["flavor"]), want, "{v}");
    }
    let r = at_version(&admin, "GET", "/v2.1/flavors/1", None, "2.75").await;
    assert_eq!(r.body["flavor"]["swap"], 0);
    assert_eq!(r.body["flavor"]["extra_specs"], json!({}));

    let r = admin.post("/v2.1/flavors/1", json!({})).await.unwrap();
    assert_error(&r, 405, "badMethod");
    let r = admin.get("/v2.1/flavors/nope").await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    assert_eq!(
        r.body["itemNotFound"]["message"],
        "Flavor nope could not be found."
    );
    cloud.stop().await;
}

#[tokio::test]
async fn admins_create_update_and_delete_members_may_not() {
    let (cloud, admin) = start().await;
    let (member, _) = project_user(&cloud, "flav-m", "member").await;

    let body = json!({"name": "c1", "id": "custom-1", "ram": 1024, "vcpus": "2", "disk": 10,
        "swap": 512, "OS-FLV-EXT-DATA:ephemeral": 5, "rxtx_factor": 2.5,
        "description": "for tests"});
    let r = create(&admin, "2.55", body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let f = &r.body["flavor"];
    assert_eq!(keys(f), with(DETAIL_21, &["description"]));
    assert_eq!(f["id"], "custom-1");
    assert_eq!(f["vcpus"], 2);
    assert_eq!(f["swap"], 512);
    assert_eq!(f["OS-FLV-EXT-DATA:ephemeral"], 5);
    assert_eq!(f["rxtx_factor"], 2.5);
    assert_eq!(f["description"], "for tests");

    // Same id, then same name: 409.
    let mut again = body.clone();
    again["name"] = json!("c2");
    let r = create(&admin, "2.55", again).await;
    assert_error(&r, 409, "conflictingRequest");
    assert!(r.text.contains("Flavor with ID custom-1 already exists."));
    let mut again = body.clone();
    again["id"] = json!("custom-2");
    let r = create(&admin, "2.55", again).await;
    assert_error(&r, 409, "conflictingRequest");
    assert!(r.text.contains("Flavor with name c1 already exists."));

    // No id: a UUID; a numeric id is kept as text. 2.61 adds extra_specs.
    let r = create(
        &admin,
        "2.61",
        json!({"name": "auto", "ram": 64, "vcpus": 1, "disk": 0}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["flavor"]["id"].as_str().unwrap().len(), 36);
    assert_eq!(r.body["flavor"]["extra_specs"], json!({}));
    assert_eq!(r.body["flavor"]["description"], Value::Null);
    let r = create(
        &admin,
        "2.1",
        json!({"name": "num", "id": 42, "ram": 64, "vcpus": 1, "disk": 0}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["flavor"]["id"], "42");
    assert_eq!(keys(&r.body["flavor"]), set(DETAIL_21));

    let r = create(
        &member,
        "2.55",
        json!({"name": "m", "ram": 64, "vcpus": 1, "disk": 0}),
    )
    .await;
    assert_error(&r, 403, "forbidden");

    // PUT: the description, from 2.55 only, admins only.
    let upd = json!({"flavor": {"description": "changed"}});
    let r = at_version(&admin, "PUT", "/v2.1/flavors/custom-1", Some(&upd), "2.55").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["flavor"]["description"], "changed");
    assert_eq!(r.body["flavor"]["ram"], 1024);
    let r = at_version(&admin, "PUT", "/v2.1/flavors/custom-1", Some(&upd), "2.54").await;
    assert_error(&r, 404, "itemNotFound");
    let r = at_version(&member, "PUT", "/v2.1/flavors/custom-1", Some(&upd), "2.55").await;
    assert_error(&r, 403, "forbidden");
    let r = at_version(&admin, "PUT", "/v2.1/flavors/missing", Some(&upd), "2.55").await;
    assert_error(&r, 404, "itemNotFound");
    let bad = json!({"flavor": {"name": "x", "description": "y"}});
    let r = at_version(&admin, "PUT", "/v2.1/flavors/custom-1", Some(&bad), "2.55").await;
    assert_error(&r, 400, "badRequest");

    let r = member.delete("/v2.1/flavors/custom-1").await.unwrap();
    assert_error(&r, 403, "forbidden");
    let r = admin.delete("/v2.1/flavors/custom-1").await.unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    let r = admin.get("/v2.1/flavors/custom-1").await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = admin.delete("/v2.1/flavors/custom-1").await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    cloud.stop().await;
}

#[tokio::test]
async fn bad_flavor_bodies_are_400s() {
    let (cloud, admin) = start().await;
    let ok = json!({"name": "b", "ram": 64, "vcpus": 1, "disk": 0});
    let long = "x".repeat(256);
    let cases: Vec<(&str, Value)> = vec![
        ("ram", json!(-1)),
        ("ram", json!(0)),
        ("ram", json!("abc")),
        ("ram", json!(1.5)),
        ("vcpus", json!(0)),
        ("disk", json!(-1)),
        ("swap", json!(-1)),
        ("ram", json!(2147483648i64)),
        ("name", json!(long)),
        ("name", json!(" lead")),
        ("name", json!("")),
        ("name", json!(5)),
        ("id", json!("bad/id")),
        ("id", json!("")),
        ("rxtx_factor", json!(0)),
        ("rxtx_factor", json!("fast")),
        ("os-flavor-access:is_public", json!("maybe")),
        ("unknown", json!(1)),
        ("description", json!("only from 2.55")),
    ];
    for (k, v) in cases {
        let mut body = ok.clone();
        body[k] = v.clone();
        let r = create(&admin, "2.1", body).await;
        assert_error(&r, 400, "badRequest");
        let _ = (k, v);
    }
    let mut missing = ok.clone();
    missing.as_object_mut().unwrap().remove("disk");
    let r = create(&admin, "2.1", missing).await;
    assert_error(&r, 400, "badRequest");
    let r = at_version(
        &admin,
        "POST",
        "/v2.1/flavors",
        Some(&json!({"flavour": ok})),
        "2.1",
    )
    .await;
    assert_error(&r, 400, "badRequest");
    let r = at_version(&admin, "POST", "/v2.1/flavors", Some(&json!([1])), "2.1").await;
    assert_error(&r, 400, "badRequest");
    // Nothing was created along the way.
    let r = at_version(&admin, "GET", "/v2.1/flavors?is_public=none", None, "2.1").await;
    assert_eq!(ids(&r).len(), 5);
    cloud.stop().await;
}

#[tokio::test]
async fn private_flavors_are_seen_by_admins_and_the_projects_given_access() {
    let (cloud, admin) = start().await;
    let (member, project) = project_user(&cloud, "flav-p", "member").await;
    let (other, _) = project_user(&cloud, "flav-o", "member").await;

    let body = json!({"name": "priv", "id": "p1", "ram": 64, "vcpus": 1, "disk": 0,
        "os-flavor-access:is_public": false});
    let r = create(&admin, "2.1", body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["flavor"]["os-flavor-access:is_public"], false);

    // Admins: public by default, private with is_public=false, all with none.
    let r = admin.get("/v2.1/flavors").await.unwrap();
    assert!(!ids(&r).contains(&"p1".to_string()));
    let r = admin.get("/v2.1/flavors?is_public=false").await.unwrap();
    assert_eq!(ids(&r), ["p1"]);
    let r = admin.get("/v2.1/flavors?is_public=None").await.unwrap();
    assert_eq!(ids(&r).len(), 6);
    let r = admin.get("/v2.1/flavors?is_public=False").await.unwrap();
    assert_eq!(ids(&r), ["p1"]);
    for bad in ["perhaps", ""] {
        let r = admin
            .get(&format!("/v2.1/flavors?is_public={bad}"))
            .await
            .unwrap();
        assert_error(&r, 400, "badRequest");
    }

    // Not offered yet: invisible to the member.
    let r = member.get("/v2.1/flavors/detail").await.unwrap();
    assert_eq!(ids(&r), ["1", "2", "3", "4", "5"]);
    let r = member.get("/v2.1/flavors/p1").await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    // A member's is_public filter is ignored.
    let r = member.get("/v2.1/flavors?is_public=false").await.unwrap();
    assert_eq!(ids(&r).len(), 5);

    let r = admin
        .get("/v2.1/flavors/p1/os-flavor-access")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"flavor_access": []}));
    let r = admin.get("/v2.1/flavors/1/os-flavor-access").await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = member
        .get("/v2.1/flavors/p1/os-flavor-access")
        .await
        .unwrap();
    assert_error(&r, 403, "forbidden");

    let add = json!({"addTenantAccess": {"tenant": project}});
    let r = admin
        .post("/v2.1/flavors/p1/action", add.clone())
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"flavor_access": [{"flavor_id": "p1", "tenant_id": project}]})
    );
    let r = admin
        .post("/v2.1/flavors/p1/action", add.clone())
        .await
        .unwrap();
    assert_error(&r, 409, "conflictingRequest");
    let r = member
        .post("/v2.1/flavors/p1/action", add.clone())
        .await
        .unwrap();
    assert_error(&r, 403, "forbidden");
    let r = admin
        .post("/v2.1/flavors/nope/action", add.clone())
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");
    // A public flavor has no access list to add to (2.7+).
    let r = at_version(&admin, "POST", "/v2.1/flavors/1/action", Some(&add), "2.7").await;
    assert_error(&r, 409, "conflictingRequest");
    let r = admin
        .post("/v2.1/flavors/p1/action", json!({"addTenantAccess": {}}))
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    let r = admin
        .post("/v2.1/flavors/p1/action", json!({"frobnicate": {}}))
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");

    // Offered: the member sees it, another project still does not.
    let r = member.get("/v2.1/flavors").await.unwrap();
    assert!(ids(&r).contains(&"p1".to_string()));
    let r = member.get("/v2.1/flavors/p1").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = other.get("/v2.1/flavors/p1").await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = other.get("/v2.1/flavors").await.unwrap();
    assert!(!ids(&r).contains(&"p1".to_string()));

    let remove = json!({"removeTenantAccess": {"tenant": project}});
    let r = admin
        .post("/v2.1/flavors/p1/action", remove.clone())
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"flavor_access": []}));
    let r = admin.post("/v2.1/flavors/p1/action", remove).await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = member.get("/v2.1/flavors/p1").await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    cloud.stop().await;
}

#[tokio::test]
async fn extra_specs_are_set_read_and_removed() {
    let (cloud, admin) = start().await;
    let (member, _) = project_user(&cloud, "flav-s", "member").await;
    let base = "/v2.1/flavors/2/os-extra_specs";

    let r = admin.get(base).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"extra_specs": {}}));

    let specs = json!({"extra_specs": {"hw:cpu_policy": "dedicated", "quota:n": 3}});
    let r = admin.post(base, specs).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"extra_specs": {"hw:cpu_policy": "dedicated", "quota:n": "3"}})
    );
    let r = member.get(base).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["extra_specs"]["quota:n"], "3");
    let r = member.get(&format!("{base}/hw:cpu_policy")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"hw:cpu_policy": "dedicated"}));

    let r = at_version(&member, "GET", "/v2.1/flavors/2", None, "2.61").await;
    assert_eq!(
        r.body["flavor"]["extra_specs"]["hw:cpu_policy"],
        "dedicated"
    );

    let put = json!({"hw:cpu_policy": "shared"});
    let r = admin
        .put(&format!("{base}/hw:cpu_policy"), Some(put.clone()))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, put);
    let r = admin
        .put(&format!("{base}/other"), Some(put.clone()))
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    let two = json!({"a": "1", "b": "2"});
    let r = admin.put(&format!("{base}/a"), Some(two)).await.unwrap();
    assert_error(&r, 400, "badRequest");
    let r = member
        .put(&format!("{base}/hw:cpu_policy"), Some(put))
        .await
        .unwrap();
    assert_error(&r, 403, "forbidden");
    let r = member
        .post(base, json!({"extra_specs": {"x": "y"}}))
        .await
        .unwrap();
    assert_error(&r, 403, "forbidden");

    for bad in [
        json!({"extra_specs": {"bad/key": "v"}}),
        json!({"extra_specs": {"k": "v".repeat(256)}}),
        json!({"extra_specs": {"k": true}}),
        json!({"extra_specs": "k"}),
        json!({"specs": {}}),
    ] {
        let r = admin.post(base, bad).await.unwrap();
        assert_error(&r, 400, "badRequest");
    }
    let r = admin
        .post(
            "/v2.1/flavors/nope/os-extra_specs",
            json!({"extra_specs": {"a": "b"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");

    let r = member.delete(&format!("{base}/quota:n")).await.unwrap();
    assert_error(&r, 403, "forbidden");
    let r = admin.delete(&format!("{base}/quota:n")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin.get(&format!("{base}/quota:n")).await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = admin.delete(&format!("{base}/quota:n")).await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = admin.get(base).await.unwrap();
    assert_eq!(r.body, json!({"extra_specs": {"hw:cpu_policy": "shared"}}));
    cloud.stop().await;
}

#[tokio::test]
async fn lists_filter_sort_and_page() {
    let (cloud, admin) = start().await;
    let r = admin.get("/v2.1/flavors?minRam=4096").await.unwrap();
    assert_eq!(ids(&r), ["3", "4", "5"]);
    let r = admin.get("/v2.1/flavors/detail?minDisk=80").await.unwrap();
    assert_eq!(ids(&r), ["4", "5"]);
    let r = admin
        .get("/v2.1/flavors?sort_key=memory_mb&sort_dir=desc")
        .await
        .unwrap();
    assert_eq!(ids(&r), ["5", "4", "3", "2", "1"]);
    let r = admin.get("/v2.1/flavors?sort_key=name").await.unwrap();
    assert_eq!(ids(&r), ["4", "3", "2", "1", "5"]);

    // Float and nullable keys page too.
    for (v, body) in [
        (
            "2.55",
            json!({"name": "fast", "id": "f", "ram": 64, "vcpus": 1, "disk": 0,
            "rxtx_factor": 3.5, "description": "b"}),
        ),
        (
            "2.55",
            json!({"name": "slow", "id": "s", "ram": 64, "vcpus": 1, "disk": 0,
            "rxtx_factor": 0.5, "description": "a"}),
        ),
    ] {
        let r = at_version(
            &admin,
            "POST",
            "/v2.1/flavors",
            Some(&json!({ "flavor": body })),
            v,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = admin
        .get("/v2.1/flavors?sort_key=rxtx_factor&sort_dir=desc&limit=2")
        .await
        .unwrap();
    // Ties go by id, in the last key's direction.
    assert_eq!(ids(&r), ["f", "5"]);
    let r = admin
        .get("/v2.1/flavors?sort_key=rxtx_factor&sort_dir=desc&marker=1")
        .await
        .unwrap();
    assert_eq!(ids(&r), ["s"]);
    let r = admin
        .get("/v2.1/flavors?sort_key=description&limit=6&marker=5")
        .await
        .unwrap();
    assert_eq!(ids(&r), ["s", "f"]);
    for id in ["f", "s"] {
        let r = admin.delete(&format!("/v2.1/flavors/{id}")).await.unwrap();
        assert_eq!(r.status, 202, "{}", r.text);
    }

    let r = admin.get("/v2.1/flavors?limit=0").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(ids(&r).is_empty());
    let r = admin.get("/v2.1/flavors?limit=2").await.unwrap();
    assert_eq!(ids(&r), ["1", "2"]);
    let next = r.body["flavors_links"][0]["href"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(r.body["flavors_links"][0]["rel"], "next");
    assert!(next.contains("/v2.1/flavors?"), "{next}");
    assert!(next.contains("marker=2"), "{next}");
    let r = admin
        .get("/v2.1/flavors/detail?limit=2&marker=2")
        .await
        .unwrap();
    assert_eq!(ids(&r), ["3", "4"]);
    assert!(r.body["flavors_links"][0]["href"]
        .as_str()
        .unwrap()
        .contains("/v2.1/flavors/detail?"));
    let r = admin.get("/v2.1/flavors?limit=2&marker=4").await.unwrap();
    assert_eq!(ids(&r), ["5"]);
    assert!(r.body.get("flavors_links").is_none());

    for bad in [
        "marker=nope",
        "limit=-1",
        "limit=x",
        "minRam=abc",
        "minDisk=1.5",
        "sort_key=colour",
        "sort_dir=up",
    ] {
        let r = admin.get(&format!("/v2.1/flavors?{bad}")).await.unwrap();
        assert_error(&r, 400, "badRequest");
    }
    // Unknown parameters: ignored until 2.75, refused from it.
    let r = at_version(&admin, "GET", "/v2.1/flavors?colour=red", None, "2.74").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = at_version(&admin, "GET", "/v2.1/flavors?colour=red", None, "2.75").await;
    assert_error(&r, 400, "badRequest");
    cloud.stop().await;
}

/// The lookups the servers API calls, through the service's Rust API:
/// the same visibility as the HTTP API.
#[tokio::test]
async fn servers_look_flavors_and_key_pairs_up_with_the_callers_rights() {
    let (cloud, admin) = start().await;
    let (member, project) = project_user(&cloud, "flav-r", "member").await;
    let nova = cloud.cloud.service::<compute::Compute>().unwrap();
    let ctx = cloud
        .cloud
        .identity
        .validate(member.token().unwrap())
        .await
        .unwrap();

    let f = nova.get_flavor_for(&ctx, "2").await.unwrap();
    assert_eq!(
        (f.name.as_str(), f.memory_mb, f.root_gb, f.vcpus, f.swap),
        ("m1.small", 2048, 20, 1, 0)
    );
    assert!(f.is_public && !f.disabled && f.extra_specs.is_empty());

    let body = json!({"name": "hidden", "id": "h", "ram": 64, "vcpus": 1, "disk": 0,
        "os-flavor-access:is_public": false});
    assert_eq!(create(&admin, "2.1", body).await.status, 200);
    let e = nova.get_flavor_for(&ctx, "h").await.unwrap_err();
    assert_eq!(e.kind(), common::ErrorKind::NotFound);
    let add = json!({"addTenantAccess": {"tenant": project}});
    assert_eq!(
        admin
            .post("/v2.1/flavors/h/action", add)
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(nova.get_flavor_for(&ctx, "h").await.unwrap().name, "hidden");

    let kp = json!({"keypair": {"name": "mine", "public_key":
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJls9UfFS29/O3yO0MWH7N+nh394uN0f9iezJPyqOBkx root@vm"}});
    let r = member.post("/v2.1/os-keypairs", kp).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let k = nova.get_keypair_for(&ctx, "mine").await.unwrap();
    assert_eq!((k.name.as_str(), k.key_type.as_str()), ("mine", "ssh"));
    assert!(k.public_key.starts_with("ssh-ed25519 "));
    let e = nova.get_keypair_for(&ctx, "other").await.unwrap_err();
    assert_eq!(e.kind(), common::ErrorKind::NotFound);
    cloud.stop().await;
}

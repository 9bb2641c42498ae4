//! Server groups: shapes of 2.1, 2.13, 2.15 and 2.64 (exact key sets, as
//! tempest's schemas), bad bodies, policy, paging and `all_projects`,
//! the `server_groups` quota and its usage, membership through the
//! `group` scheduler hint (2.71's `server_groups` on show), the
//! `server_group_members` quota, anti-affinity on the one host, and a
//! deleted server leaving its group.

use super::servers::{image, wait_status};
use super::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn make(c: &Client, v: &str, group: Value) -> Resp {
    at_version(
        c,
        "POST",
        "/v2.1/os-server-groups",
        Some(&json!({ "server_group": group })),
        v,
    )
    .await
}

async fn boot(c: &Client, img: &str, name: &str, group: &str) -> Resp {
    at_version(
        c,
        "POST",
        "/v2.1/servers",
        Some(&json!({
            "server": {"name": name, "imageRef": img, "flavorRef": "1", "networks": "none"},
            "os:scheduler_hints": {"group": group},
        })),
        "2.71",
    )
    .await
}

#[tokio::test]
async fn groups_are_shaped_per_microversion_and_checked() {
    let (cloud, admin) = start().await;
    let (alice, alice_project) = project_user(&cloud, "alice", "member").await;

    let r = make(
        &alice,
        "2.1",
        json!({"name": "g1", "policies": ["affinity"]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let g = &r.body["server_group"];
    assert_eq!(
        keys(g),
        set(&["id", "name", "policies", "members", "metadata"])
    );
    assert_eq!(g["policies"], json!(["affinity"]));
    assert_eq!(g["metadata"], json!({}));
    assert_eq!(g["members"], json!([]));
    let g1 = g["id"].as_str().unwrap().to_string();

    let r = make(
        &alice,
        "2.13",
        json!({"name": "g2", "policies": ["anti-affinity"]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        keys(&r.body["server_group"]),
        set(&[
            "id",
            "name",
            "policies",
            "members",
            "metadata",
            "project_id",
            "user_id"
        ])
    );
    assert_eq!(r.body["server_group"]["project_id"], alice_project.as_str());

    // Soft policies from 2.15; `policy` and `rules` from 2.64.
    let soft = json!({"name": "g3", "policies": ["soft-anti-affinity"]});
    assert_error(&make(&alice, "2.14", soft.clone()).await, 400, "badRequest");
    assert_eq!(make(&alice, "2.15", soft).await.status, 200);
    let r = make(
        &alice,
        "2.64",
        json!({"name": "g4", "policy": "anti-affinity", "rules": {"max_server_per_host": 2}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let g = &r.body["server_group"];
    assert_eq!(
        keys(g),
        set(&[
            "id",
            "name",
            "policy",
            "rules",
            "members",
            "project_id",
            "user_id"
        ])
    );
    assert_eq!(g["rules"], json!({"max_server_per_host": 2}));
    let g4 = g["id"].as_str().unwrap().to_string();
    // The same group at 2.1 shows its policy as a list.
    let r = at_version(
        &alice,
        "GET",
        &format!("/v2.1/os-server-groups/{g4}"),
        None,
        "2.1",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["server_group"]["policies"], json!(["anti-affinity"]));
    let r = at_version(
        &alice,
        "GET",
        &format!("/v2.1/os-server-groups/{g1}"),
        None,
        "2.64",
    )
    .await;
    assert_eq!(r.body["server_group"]["rules"], json!({}));
    assert_eq!(r.body["server_group"]["policy"], "affinity");

    // Bad bodies.
    for (v, body) in [
        (
            "2.1",
            json!({"name": "x", "policies": ["affinity", "anti-affinity"]}),
        ),
        ("2.1", json!({"name": "x", "policies": []})),
        ("2.1", json!({"name": "x", "policies": ["bogus"]})),
        ("2.1", json!({"name": "x"})),
        ("2.1", json!({"policies": ["affinity"]})),
        ("2.1", json!({"name": "", "policies": ["affinity"]})),
        ("2.64", json!({"name": "x", "policies": ["affinity"]})),
        (
            "2.64",
            json!({"name": "x", "policy": "affinity", "rules": {"max_server_per_host": 2}}),
        ),
        (
            "2.64",
            json!({"name": "x", "policy": "anti-affinity", "rules": {"max_server_per_host": 0}}),
        ),
        (
            "2.64",
            json!({"name": "x", "policy": "anti-affinity", "rules": {"other": 1}}),
        ),
    ] {
        let r = make(&alice, v, body.clone()).await;
        assert_error(&r, 400, "badRequest");
    }
    let r = at_version(
        &alice,
        "POST",
        "/v2.1/os-server-groups",
        Some(&json!({})),
        "2.1",
    )
    .await;
    assert_error(&r, 400, "badRequest");

    // Lists: the caller's project; an admin's all_projects; paging.
    let r = alice.get("/v2.1/os-server-groups").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["server_groups"].as_array().unwrap().len(), 4);
    assert_eq!(keys(&r.body), set(&["server_groups"]));
    let r = alice
        .get("/v2.1/os-server-groups?limit=2&offset=1")
        .await
        .unwrap();
    let ids: Vec<&str> = r.body["server_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["g2", "g3"]);
    let r = alice.get("/v2.1/os-server-groups?limit=-1").await.unwrap();
    assert_error(&r, 400, "badRequest");
    let r = at_version(&alice, "GET", "/v2.1/os-server-groups?foo=1", None, "2.75").await;
    assert_error(&r, 400, "badRequest");
    assert_eq!(
        at_version(&alice, "GET", "/v2.1/os-server-groups?foo=1", None, "2.74")
            .await
            .status,
        200
    );
    // A user's all_projects is ignored; an admin's shows every project.
    let r = alice
        .get("/v2.1/os-server-groups?all_projects=1")
        .await
        .unwrap();
    assert_eq!(r.body["server_groups"].as_array().unwrap().len(), 4);
    let r = admin.get("/v2.1/os-server-groups").await.unwrap();
    assert_eq!(r.body["server_groups"], json!([]));
    let r = admin
        .get("/v2.1/os-server-groups?all_projects=True")
        .await
        .unwrap();
    assert_eq!(r.body["server_groups"].as_array().unwrap().len(), 4);

    // Another project's member: found, then refused (Nova's 403).
    let (bob, _) = project_user(&cloud, "bob", "member").await;
    let path = format!("/v2.1/os-server-groups/{g1}");
    assert_error(&bob.get(&path).await.unwrap(), 403, "forbidden");
    assert_error(&bob.delete(&path).await.unwrap(), 403, "forbidden");
    let r = bob.get("/v2.1/os-server-groups").await.unwrap();
    assert_eq!(r.body["server_groups"], json!([]));
    // A reader reads, but may not create or delete.
    let (reader, _) = cloud
        .project_user("carol", "carol", testkit::fixtures::PASSWORD, "reader")
        .await
        .map(|u| (u.client.at(&cloud.url("compute")), u.project_id))
        .unwrap();
    let r = make(
        &reader,
        "2.1",
        json!({"name": "x", "policies": ["affinity"]}),
    )
    .await;
    assert_error(&r, 403, "forbidden");

    // Delete; then 404.
    let r = alice.delete(&path).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    assert_error(&alice.get(&path).await.unwrap(), 404, "itemNotFound");
    assert_error(&alice.delete(&path).await.unwrap(), 404, "itemNotFound");
    cloud.stop().await;
}

#[tokio::test]
async fn the_server_groups_quota_is_enforced_and_counted() {
    let (cloud, admin) = start().await;
    let (alice, project) = project_user(&cloud, "alice", "member").await;
    let r = admin
        .put(
            &format!("/v2.1/os-quota-sets/{project}"),
            Some(json!({"quota_set": {"server_groups": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let body = json!({"name": "a", "policies": ["affinity"]});
    assert_eq!(make(&alice, "2.1", body.clone()).await.status, 200);
    let r = make(&alice, "2.1", body).await;
    assert_error(&r, 403, "forbidden");
    assert!(r.text.contains("Quota exceeded, too many server groups."));
    let r = admin
        .get(&format!("/v2.1/os-quota-sets/{project}/detail"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["quota_set"]["server_groups"]["in_use"], 1);
    assert_eq!(r.body["quota_set"]["server_groups"]["limit"], 1);
    let r = alice.get("/v2.1/limits").await.unwrap();
    assert_eq!(r.body["limits"]["absolute"]["totalServerGroupsUsed"], 1);
    cloud.stop().await;
}

#[tokio::test]
async fn the_group_hint_makes_members_bound_by_the_policy() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (alice, project) = project_user(&cloud, "alice", "member").await;
    let aff = make(
        &alice,
        "2.1",
        json!({"name": "a", "policies": ["affinity"]}),
    )
    .await;
    let aff = aff.body["server_group"]["id"].as_str().unwrap().to_string();
    let anti = make(
        &alice,
        "2.1",
        json!({"name": "b", "policies": ["anti-affinity"]}),
    )
    .await;
    let anti = anti.body["server_group"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Affinity: both members on the one host.
    let mut members = Vec::new();
    for name in ["s1", "s2"] {
        let r = boot(&alice, &img, name, &aff).await;
        assert_eq!(r.status, 202, "{}", r.text);
        let id = r.body["server"]["id"].as_str().unwrap().to_string();
        wait_status(&alice, &id, "ACTIVE").await;
        members.push(id);
    }
    let r = alice
        .get(&format!("/v2.1/os-server-groups/{aff}"))
        .await
        .unwrap();
    assert_eq!(r.body["server_group"]["members"], json!(members));
    // 2.71 shows the server's groups on show, not before.
    let path = format!("/v2.1/servers/{}", members[0]);
    let r = at_version(&alice, "GET", &path, None, "2.71").await;
    assert_eq!(r.body["server"]["server_groups"], json!([aff]));
    let r = at_version(&alice, "GET", &path, None, "2.70").await;
    assert!(r.body["server"].get("server_groups").is_none());

    // Anti-affinity on one host: the first member builds, the second
    // finds no valid host.
    let r = boot(&alice, &img, "t1", &anti).await;
    let t1 = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(&alice, &t1, "ACTIVE").await;
    let r = boot(&alice, &img, "t2", &anti).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let t2 = r.body["server"]["id"].as_str().unwrap().to_string();
    let s = wait_status(&alice, &t2, "ERROR").await;
    assert!(s["fault"]["message"]
        .as_str()
        .unwrap()
        .starts_with("No valid host"));

    // Unknown or malformed groups are 400s.
    let r = boot(&alice, &img, "x", "8f2a8d26-3e4b-4c55-9d7e-2c6b1c2f0a11").await;
    assert_error(&r, 400, "badRequest");
    let r = boot(&alice, &img, "x", "not-a-uuid").await;
    assert_error(&r, 400, "badRequest");

    // Deleting a member takes it out of its group.
    let r = alice
        .delete(&format!("/v2.1/servers/{}", members[0]))
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = alice
        .get(&format!("/v2.1/os-server-groups/{aff}"))
        .await
        .unwrap();
    assert_eq!(r.body["server_group"]["members"], json!([members[1]]));

    // server_group_members: a full group refuses another member.
    let r = admin
        .put(
            &format!("/v2.1/os-quota-sets/{project}"),
            Some(json!({"quota_set": {"server_group_members": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = boot(&alice, &img, "s3", &aff).await;
    assert_error(&r, 403, "forbidden");
    assert!(r.text.contains("Quota exceeded, too many servers in group"));
    cloud.stop().await;
}

//! Nova's views of the network service's security groups: the
//! `addSecurityGroup`/`removeSecurityGroup` actions on every port of a
//! server, `GET /servers/{id}/os-security-groups` (tempest's
//! `security_groups` shape), 404s, 409 on an ambiguous name.

use super::servers::{create, image, network, ports_of, wait_status};
use super::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn security_groups_are_added_to_and_removed_from_every_port() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (alice, _) = project_user(&cloud, "alice", "member").await;
    let n1 = network(&cloud, &alice, "n1", "10.1.0.0/24").await;
    let n2 = network(&cloud, &alice, "n2", "10.2.0.0/24").await;
    let net = alice.at(&cloud.url("network"));
    let r = net
        .post(
            "/v2.0/security-groups",
            json!({"security_group": {"name": "web", "description": "w"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let web = r.body["security_group"]["id"].as_str().unwrap().to_string();
    let r = net
        .post(
            "/v2.0/security-group-rules",
            json!({"security_group_rule": {"security_group_id": web, "direction": "ingress",
                "protocol": "tcp", "port_range_min": 80, "port_range_max": 80,
                "remote_ip_prefix": "10.0.0.0/8"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = create(
        &alice,
        json!({"name": "s", "imageRef": img, "flavorRef": "1",
               "networks": [{"uuid": n1}, {"uuid": n2}]}),
        "2.37",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(&alice, &id, "ACTIVE").await;
    let act = format!("/v2.1/servers/{id}/action");

    let r = alice
        .post(&act, json!({"addSecurityGroup": {"name": "web"}}))
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    for p in ports_of(&cloud, &admin, &id).await {
        let groups = p["security_groups"].as_array().unwrap();
        assert!(groups.contains(&json!(web)), "{p}");
        assert_eq!(groups.len(), 2, "{p}");
    }
    let s = wait_status(&alice, &id, "ACTIVE").await;
    assert_eq!(
        s["security_groups"],
        json!([{"name": "default"}, {"name": "web"}])
    );

    let r = alice
        .get(&format!("/v2.1/servers/{id}/os-security-groups"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let groups = r.body["security_groups"].as_array().unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["default", "web"]);
    for g in groups {
        assert_eq!(
            keys(g),
            ["description", "id", "name", "rules", "tenant_id"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        );
    }
    let w = &groups[1];
    assert_eq!(
        w["rules"].as_array().unwrap().len(),
        1,
        "only ingress rules"
    );
    let rule = &w["rules"][0];
    assert_eq!(rule["ip_protocol"], "tcp");
    assert_eq!(rule["from_port"], 80);
    assert_eq!(rule["ip_range"], json!({"cidr": "10.0.0.0/8"}));
    assert_eq!(rule["group"], json!({}));
    assert_eq!(rule["parent_group_id"], web.as_str());
    // The default group's ingress rules name their remote group.
    let d = &groups[0];
    assert!(d["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["group"]["name"] == "default"));

    // Errors: unknown group 404, empty name 400, missing name 400.
    let r = alice
        .post(&act, json!({"addSecurityGroup": {"name": "nope"}}))
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = alice
        .post(&act, json!({"addSecurityGroup": {"name": " "}}))
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    let r = alice
        .post(&act, json!({"addSecurityGroup": {}}))
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    // Two groups of one name: 409.
    for _ in 0..2 {
        let r = net
            .post(
                "/v2.0/security-groups",
                json!({"security_group": {"name": "twin"}}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let r = alice
        .post(&act, json!({"addSecurityGroup": {"name": "twin"}}))
        .await
        .unwrap();
    assert_error(&r, 409, "conflictingRequest");

    // Remove it (by id); again is a 404.
    let r = alice
        .post(&act, json!({"removeSecurityGroup": {"name": web}}))
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    for p in ports_of(&cloud, &admin, &id).await {
        assert!(!p["security_groups"]
            .as_array()
            .unwrap()
            .contains(&json!(web)));
    }
    let r = alice
        .post(&act, json!({"removeSecurityGroup": {"name": "web"}}))
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");
    let s = wait_status(&alice, &id, "ACTIVE").await;
    assert_eq!(s["security_groups"], json!([{"name": "default"}]));

    // Another project: 404; a server without ports: 404.
    let (bob, _) = project_user(&cloud, "bob", "member").await;
    let r = bob
        .post(&act, json!({"addSecurityGroup": {"name": "default"}}))
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = create(
        &alice,
        json!({"name": "bare", "imageRef": img, "flavorRef": "1", "networks": "none"}),
        "2.37",
    )
    .await;
    let bare = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(&alice, &bare, "ACTIVE").await;
    let r = alice
        .post(
            &format!("/v2.1/servers/{bare}/action"),
            json!({"addSecurityGroup": {"name": "default"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");
    cloud.stop().await;
}

#[tokio::test]
async fn extensions_are_nova_s_fixed_list() {
    let (cloud, _admin) = start().await;
    let (alice, _) = project_user(&cloud, "alice", "reader").await;
    let r = alice.get("/v2.1/extensions").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let all = r.body["extensions"].as_array().unwrap();
    assert_eq!(all.len(), 99);
    let want: BTreeSet<String> = [
        "alias",
        "description",
        "links",
        "name",
        "namespace",
        "updated",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert!(all.iter().all(|e| keys(e) == want));
    assert!(all.iter().any(|e| e["name"] == "Hosts"));
    let r = alice.get("/v2.1/extensions/os-consoles").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["extension"]["alias"], "os-consoles");
    assert_eq!(r.body["extension"]["links"], json!([]));
    let r = alice.get("/v2.1/extensions/nope").await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    cloud.stop().await;
}

#[tokio::test]
async fn the_security_group_proxy_serves_up_to_2_35() {
    let (cloud, admin) = start().await;
    let (alice, project) = project_user(&cloud, "alice", "member").await;
    let body = json!({"security_group": {"name": "web", "description": "w"}});
    let r = at_version(
        &alice,
        "POST",
        "/v2.1/os-security-groups",
        Some(&body),
        "2.36",
    )
    .await;
    assert_error(&r, 404, "itemNotFound");
    let r = alice.post("/v2.1/os-security-groups", body).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let g = &r.body["security_group"];
    assert_eq!(g["name"], "web");
    assert_eq!(g["tenant_id"], project.as_str());
    assert_eq!(g["rules"], json!([]), "egress rules are not shown");
    let want: BTreeSet<String> = ["description", "id", "name", "rules", "tenant_id"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(keys(g), want);
    let id = g["id"].as_str().unwrap().to_string();
    let path = format!("/v2.1/os-security-groups/{id}");

    let r = alice.get("/v2.1/os-security-groups").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let names: Vec<&str> = r.body["security_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "web"]);
    let r = at_version(&alice, "GET", "/v2.1/os-security-groups", None, "2.36").await;
    assert_error(&r, 404, "itemNotFound");
    let r = alice.get(&path).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["security_group"]["id"], id.as_str());

    let r = alice
        .put(
            &path,
            Some(json!({"security_group": {"name": "web2", "description": "d"}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["security_group"]["name"], "web2");

    // Bad input and unknown groups.
    let r = alice
        .post(
            "/v2.1/os-security-groups",
            json!({"security_group": {"name": "x"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    let r = alice
        .get("/v2.1/os-security-groups/not-a-uuid")
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    let unknown = "5c3f1b0e-0d6e-4e4a-9c59-4a1f0f0b7c11";
    let r = alice
        .get(&format!("/v2.1/os-security-groups/{unknown}"))
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = alice
        .delete(&format!("/v2.1/os-security-groups/{unknown}"))
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");
    // Another project's group is not found; an admin's all_tenants sees it.
    let (bob, _) = project_user(&cloud, "bob", "member").await;
    assert_error(&bob.get(&path).await.unwrap(), 404, "itemNotFound");
    let r = admin
        .get("/v2.1/os-security-groups?all_tenants=1")
        .await
        .unwrap();
    assert!(r.body["security_groups"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["id"] == id.as_str()));

    let r = alice.delete(&path).await.unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    assert_error(&alice.get(&path).await.unwrap(), 404, "itemNotFound");
    cloud.stop().await;
}

//! Quotas: defaults, overrides by the admin only, details with usage,
//! and enforcement for networks, subnets and ports, under concurrency.

use super::ports::create_port;
use super::subnets::create_subnet;
use super::*;

#[tokio::test]
async fn quota_api_defaults_overrides_and_policy() {
    let (cloud, admin) = start().await;
    let (alice, project) = project_user(&cloud, "alice", "member").await;
    let (bob, bob_project) = project_user(&cloud, "bob", "member").await;
    let r = alice.get(&format!("/v2.0/quotas/{project}")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let q = &r.body["quota"];
    assert_eq!(
        (
            q["network"].as_i64(),
            q["subnet"].as_i64(),
            q["port"].as_i64()
        ),
        (Some(100), Some(100), Some(500))
    );
    assert_eq!(q["router"], 10);
    assert_eq!(q["floatingip"], 50);
    assert_eq!(q["security_group"], 10);
    assert_eq!(q["security_group_rule"], 100);
    assert_eq!(q["subnetpool"], -1);
    let r = alice
        .get(&format!("/v2.0/quotas/{project}/default"))
        .await
        .unwrap();
    assert_eq!(r.body["quota"]["port"], 500, "{}", r.text);

    // Another project's quotas, the list and any change are the admin's.
    let r = alice
        .get(&format!("/v2.0/quotas/{bob_project}"))
        .await
        .unwrap();
    assert_error(&r, 403, "AdminRequired");
    let r = alice.get("/v2.0/quotas").await.unwrap();
    assert_error(&r, 403, "AdminRequired");
    let r = alice
        .put(
            &format!("/v2.0/quotas/{project}"),
            Some(json!({"quota": {"port": 1000}})),
        )
        .await
        .unwrap();
    assert_error(&r, 403, "AdminRequired");
    let r = alice
        .delete(&format!("/v2.0/quotas/{project}"))
        .await
        .unwrap();
    assert_error(&r, 403, "AdminRequired");

    let r = admin
        .put(
            &format!("/v2.0/quotas/{project}"),
            Some(json!({"quota": {"port": 7, "network": "3"}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["quota"]["port"], 7);
    assert_eq!(r.body["quota"]["network"], 3);
    assert_eq!(r.body["quota"]["subnet"], 100);
    let r = admin
        .put(
            &format!("/v2.0/quotas/{project}"),
            Some(json!({"quota": {"port": -2}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text);
    let r = admin
        .put(
            &format!("/v2.0/quotas/{project}"),
            Some(json!({"quota": {"bogus": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text);
    let r = admin.get("/v2.0/quotas").await.unwrap();
    let list = r.body["quotas"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{}", r.text);
    assert_eq!(list[0]["project_id"], project.as_str());
    assert_eq!(list[0]["tenant_id"], project.as_str());
    assert_eq!(list[0]["port"], 7);

    // Details: limits with usage.
    let net = create_network(&alice, json!({})).await;
    let nid = net["id"].as_str().unwrap();
    create_subnet(
        &alice,
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.0.0.0/24", "enable_dhcp": false}),
    )
    .await;
    create_port(&alice, json!({"network_id": nid})).await;
    let r = alice
        .get(&format!("/v2.0/quotas/{project}/details.json"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let d = &r.body["quota"];
    assert_eq!(d["network"], json!({"limit": 3, "used": 1, "reserved": 0}));
    assert_eq!(d["subnet"], json!({"limit": 100, "used": 1, "reserved": 0}));
    assert_eq!(d["port"], json!({"limit": 7, "used": 1, "reserved": 0}));
    assert_eq!(d["router"]["used"], 0);

    // Back to the defaults.
    let r = admin
        .delete(&format!("/v2.0/quotas/{project}"))
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = alice.get(&format!("/v2.0/quotas/{project}")).await.unwrap();
    assert_eq!(r.body["quota"]["port"], 500);
    let r = bob
        .get(&format!("/v2.0/quotas/{bob_project}"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    cloud.stop().await;
}

#[tokio::test]
async fn quotas_are_enforced_atomically() {
    let (cloud, admin) = start().await;
    let (alice, project) = project_user(&cloud, "alice", "member").await;
    let r = admin
        .put(
            &format!("/v2.0/quotas/{project}"),
            Some(json!({"quota": {"network": 2, "subnet": 1, "port": 5}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);

    // Networks: a bulk create past the limit is refused whole.
    let r = alice
        .post(
            "/v2.0/networks",
            json!({"networks": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "OverQuota");
    assert_eq!(
        r.body["NeutronError"]["message"],
        "Quota exceeded for resources: ['network']."
    );
    let net = create_network(&alice, json!({})).await;
    let nid = net["id"].as_str().unwrap().to_string();
    create_subnet(
        &alice,
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.0.0.0/24", "enable_dhcp": false}),
    )
    .await;
    let r = alice
        .post(
            "/v2.0/subnets",
            json!({"subnet": {"network_id": nid, "ip_version": 4, "cidr": "10.0.1.0/24"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "OverQuota");
    assert_eq!(
        r.body["NeutronError"]["message"],
        "Quota exceeded for resources: ['subnet']."
    );

    // Ports: 20 concurrent creates, exactly 5 fit.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let c = alice.clone();
        let nid = nid.clone();
        tasks.push(tokio::spawn(async move {
            c.post("/v2.0/ports", json!({"port": {"network_id": nid}}))
                .await
                .unwrap()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let r = t.await.unwrap();
        if r.status == 201 {
            ok += 1;
        } else {
            assert_error(&r, 409, "OverQuota");
            assert_eq!(
                r.body["NeutronError"]["message"],
                "Quota exceeded for resources: ['port']."
            );
        }
    }
    assert_eq!(ok, 5);
    // The admin's own project is not limited by Alice's quota.
    create_port(&admin, json!({"network_id": nid})).await;
    // Networks under concurrency: one left.
    let mut tasks = Vec::new();
    for i in 0..6 {
        let c = alice.clone();
        tasks.push(tokio::spawn(async move {
            c.post(
                "/v2.0/networks",
                json!({"network": {"name": format!("x{i}")}}),
            )
            .await
            .unwrap()
            .status
        }));
    }
    let mut created = 0;
    for t in tasks {
        if t.await.unwrap() == 201 {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    cloud.stop().await;
}

/// python-openstackclient sends `check_limit: true` (or `force: true`
/// with `--force`) in every quota update, as neutron's
/// `quota-check-limit` extension takes them: a limit below the usage is
/// refused unless forced.
#[tokio::test]
async fn quota_updates_check_the_usage_unless_forced() {
    let (cloud, admin) = start().await;
    let (alice, project) = project_user(&cloud, "checker", "member").await;
    for name in ["a", "b"] {
        create_network(&alice, json!({ "name": name })).await;
    }
    let r = admin
        .put(
            &format!("/v2.0/quotas/{project}"),
            Some(json!({"quota": {"network": 5, "router": 3, "check_limit": true}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["quota"]["network"], 5);
    assert!(r.body["quota"].get("check_limit").is_none(), "{}", r.text);
    let r = admin
        .put(
            &format!("/v2.0/quotas/{project}"),
            Some(json!({"quota": {"network": 1, "check_limit": true}})),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "HTTPBadRequest");
    assert_eq!(
        r.body["NeutronError"]["message"],
        "Quota limit 1 for network must be greater than or equal to already used 2"
    );
    // Without the flag it is checked all the same (neutron since 2025.1).
    let r = admin
        .put(
            &format!("/v2.0/quotas/{project}"),
            Some(json!({"quota": {"network": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text);
    let r = admin
        .put(
            &format!("/v2.0/quotas/{project}"),
            Some(json!({"quota": {"network": 1, "force": true}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["quota"]["network"], 1);
    // Unlimited is never below the usage.
    let r = admin
        .put(
            &format!("/v2.0/quotas/{project}"),
            Some(json!({"quota": {"network": -1}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
}

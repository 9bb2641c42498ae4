//! Subnet pools and subnets carved from them.

use super::{assert_error, create_network, project_user, start};
use serde_json::{json, Value};
use std::collections::HashSet;

async fn create_pool(c: &testkit::Client, body: Value) -> Value {
    let r = c
        .post("/v2.0/subnetpools", json!({"subnetpool": body}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["subnetpool"].clone()
}

#[tokio::test]
async fn pools_carve_subnets_and_guard_their_space() {
    let (cloud, admin) = start().await;
    let (user, project) = project_user(&cloud, "pooluser", "member").await;
    let p = create_pool(
        &user,
        json!({"name": "p", "prefixes": ["10.10.1.0/24", "10.10.0.0/24"], "default_prefixlen": 26}),
    )
    .await;
    assert_eq!(p["prefixes"], json!(["10.10.0.0/23"]));
    assert_eq!(p["ip_version"], 4);
    assert_eq!(p["min_prefixlen"], 8);
    assert_eq!(p["max_prefixlen"], 32);
    assert_eq!(p["default_prefixlen"], 26);
    assert_eq!(p["shared"], false);
    assert_eq!(p["is_default"], false);
    assert_eq!(p["address_scope_id"], Value::Null);
    assert_eq!(p["project_id"], project);
    let pool = p["id"].as_str().unwrap().to_string();

    let net = create_network(&user, json!({"name": "n"})).await;
    let subnet = |body: Value| {
        let mut b = json!({"network_id": net["id"], "ip_version": 4, "subnetpool_id": pool});
        for (k, v) in body.as_object().unwrap() {
            b[k] = v.clone();
        }
        json!({"subnet": b})
    };
    let r = user.post("/v2.0/subnets", subnet(json!({}))).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["subnet"]["cidr"], "10.10.0.0/26");
    assert_eq!(r.body["subnet"]["subnetpool_id"], pool);
    assert_eq!(r.body["subnet"]["gateway_ip"], "10.10.0.1");
    let first = r.body["subnet"]["id"].as_str().unwrap().to_string();
    let r = user
        .post("/v2.0/subnets", subnet(json!({"prefixlen": 25})))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["subnet"]["cidr"], "10.10.0.128/25");
    // A CIDR inside the pool's free space, then one already taken.
    let other = create_network(&user, json!({"name": "n2"})).await;
    let mut body = subnet(json!({"cidr": "10.10.1.0/24"}));
    body["subnet"]["network_id"] = other["id"].clone();
    let r = user.post("/v2.0/subnets", body.clone()).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = user.post("/v2.0/subnets", body).await.unwrap();
    assert_error(&r, 409, "SubnetAllocationError");
    // Out of the bounds, out of room, wrong family.
    let r = user
        .post("/v2.0/subnets", subnet(json!({"prefixlen": 33})))
        .await
        .unwrap();
    assert_error(&r, 400, "MaxPrefixSubnetAllocationError");
    let r = user
        .post("/v2.0/subnets", subnet(json!({"prefixlen": 24})))
        .await
        .unwrap();
    assert_error(&r, 409, "SubnetAllocationError");
    assert_eq!(
        r.body["NeutronError"]["message"],
        "Failed to allocate subnet: Insufficient prefix space to allocate subnet size /24."
    );
    let r = user
        .post("/v2.0/subnets", subnet(json!({"ip_version": 6})))
        .await
        .unwrap();
    assert_error(&r, 400, "BadRequest");
    // The pool grows, but cannot shrink.
    let r = user
        .put(
            &format!("/v2.0/subnetpools/{pool}"),
            Some(json!({"subnetpool": {"prefixes": ["10.10.0.0/23", "10.20.0.0/24"]}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["subnetpool"]["prefixes"],
        json!(["10.10.0.0/23", "10.20.0.0/24"])
    );
    let r = user
        .put(
            &format!("/v2.0/subnetpools/{pool}"),
            Some(json!({"subnetpool": {"prefixes": ["10.20.0.0/24"]}})),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "IllegalSubnetPoolPrefixUpdate");
    let r = user
        .post("/v2.0/subnets", subnet(json!({"prefixlen": 24})))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["subnet"]["cidr"], "10.20.0.0/24");
    // In use: upstream's SubnetPoolDeleteError.
    let r = user
        .delete(&format!("/v2.0/subnetpools/{pool}"))
        .await
        .unwrap();
    assert_error(&r, 400, "SubnetPoolDeleteError");
    // Bounds and policy.
    let r = user
        .post(
            "/v2.0/subnetpools",
            json!({"subnetpool": {"name": "x", "prefixes": ["10.0.0.0/8"], "min_prefixlen": 24, "max_prefixlen": 16}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "IllegalSubnetPoolPrefixBounds");
    let r = user
        .post(
            "/v2.0/subnetpools",
            json!({"subnetpool": {"name": "x", "prefixes": ["10.0.0.0/8", "2001:db8::/32"]}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "PrefixVersionMismatch");
    let r = user
        .post(
            "/v2.0/subnetpools",
            json!({"subnetpool": {"name": "x", "prefixes": ["10.0.0.0/8"], "shared": true}}),
        )
        .await
        .unwrap();
    assert_error(&r, 403, "PolicyNotAuthorized");
    // Another project neither sees nor uses the pool; a shared one it may.
    let (other_user, _) = project_user(&cloud, "poolother", "member").await;
    let r = other_user
        .get(&format!("/v2.0/subnetpools/{pool}"))
        .await
        .unwrap();
    assert_error(&r, 404, "SubnetPoolNotFound");
    let shared = create_pool(
        &admin,
        json!({"name": "s", "prefixes": ["2001:db8::/48"], "shared": true, "is_default": true}),
    )
    .await;
    assert_eq!(shared["min_prefixlen"], 64);
    assert_eq!(shared["default_prefixlen"], 64);
    let r = admin
        .post(
            "/v2.0/subnetpools",
            json!({"subnetpool": {"name": "d", "prefixes": ["2001:db9::/48"], "is_default": true}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "InvalidInput");
    let onet = create_network(&other_user, json!({"name": "o"})).await;
    let r = other_user
        .post(
            "/v2.0/subnets",
            json!({"subnet": {"network_id": onet["id"], "ip_version": 6, "use_default_subnetpool": true}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["subnet"]["cidr"], "2001:db8::/64");
    assert_eq!(r.body["subnet"]["subnetpool_id"], shared["id"]);
    let r = other_user
        .get("/v2.0/subnetpools?fields=id&fields=name")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["subnetpools"],
        json!([{"id": shared["id"], "name": "s"}])
    );
    // The pool is free again once its subnets are gone.
    let r = user
        .delete(&format!("/v2.0/subnets/{first}"))
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = admin
        .get("/v2.0/extensions/subnet_allocation")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn subnetpool_quota_is_enforced() {
    let (cloud, admin) = start().await;
    let (user, project) = project_user(&cloud, "poolquota", "member").await;
    let r = admin
        .put(
            &format!("/v2.0/quotas/{project}"),
            Some(json!({"quota": {"subnetpool": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    create_pool(&user, json!({"name": "a", "prefixes": ["10.0.0.0/16"]})).await;
    let r = user
        .post(
            "/v2.0/subnetpools",
            json!({"subnetpool": {"name": "b", "prefixes": ["10.1.0.0/16"]}}),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "OverQuota");
    let r = user
        .get(&format!("/v2.0/quotas/{project}/details"))
        .await
        .unwrap();
    assert_eq!(r.body["quota"]["subnetpool"]["used"], 1, "{}", r.text);
}

/// 24 concurrent subnets asking for a /28 from a /24 pool (16 blocks):
/// 16 get distinct blocks, 8 get SubnetAllocationError.
#[tokio::test]
async fn concurrent_allocations_never_overlap() {
    let (_cloud, admin) = start().await;
    let p = create_pool(
        &admin,
        json!({"name": "c", "prefixes": ["10.50.0.0/24"], "default_prefixlen": 28}),
    )
    .await;
    let mut nets = Vec::new();
    for i in 0..24 {
        nets.push(create_network(&admin, json!({"name": format!("c{i}")})).await);
    }
    let mut tasks = Vec::new();
    for n in nets {
        let c = admin.clone();
        let pool = p["id"].clone();
        tasks.push(tokio::spawn(async move {
            c.post(
                "/v2.0/subnets",
                json!({"subnet": {"network_id": n["id"], "ip_version": 4, "subnetpool_id": pool, "enable_dhcp": false}}),
            )
            .await
            .unwrap()
        }));
    }
    let mut cidrs = HashSet::new();
    let mut refused = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            201 => {
                assert!(cidrs.insert(r.body["subnet"]["cidr"].as_str().unwrap().to_string()));
            }
            _ => {
                assert_error(&r, 409, "SubnetAllocationError");
                refused += 1;
            }
        }
    }
    assert_eq!(cidrs.len(), 16);
    assert_eq!(refused, 8);
}

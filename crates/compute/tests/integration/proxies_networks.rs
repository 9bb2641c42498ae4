//! `/os-security-group-rules` (Nova's checks and defaults in front of
//! the network service's rules), `/os-networks` and
//! `/os-tenant-networks` (list/show proxied, the removed nova-network
//! calls 410), and the 2.36 cut-off.

use super::servers::network;
use super::*;
use serde_json::{json, Value};

async fn group(c: &Client, name: &str) -> Value {
    let r = c
        .post(
            "/v2.1/os-security-groups",
            json!({"security_group": {"name": name, "description": "d"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["security_group"].clone()
}

async fn rule(c: &Client, body: Value) -> Resp {
    c.post(
        "/v2.1/os-security-group-rules",
        json!({ "security_group_rule": body }),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn rules_are_made_and_deleted_as_nova_makes_them() {
    let (cloud, _admin) = start().await;
    let (alice, project) = project_user(&cloud, "alice", "member").await;
    let g1 = group(&alice, "g1").await;
    let g2 = group(&alice, "g2").await;
    let (p, peer) = (g1["id"].as_str().unwrap(), g2["id"].as_str().unwrap());

    let r = rule(
        &alice,
        json!({"parent_group_id": p, "ip_protocol": "tcp", "from_port": 22, "to_port": 22}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let made = &r.body["security_group_rule"];
    assert_eq!(made["parent_group_id"], p);
    assert_eq!(made["ip_protocol"], "tcp");
    assert_eq!(
        (made["from_port"].clone(), made["to_port"].clone()),
        (json!(22), json!(22))
    );
    assert_eq!(made["ip_range"], json!({"cidr": "0.0.0.0/0"}));
    assert_eq!(made["group"], json!({}));
    let ssh = made["id"].as_str().unwrap().to_string();

    // The same rule again is Nova's 400.
    let r = rule(
        &alice,
        json!({"parent_group_id": p, "ip_protocol": "tcp", "from_port": "22", "to_port": 22}),
    )
    .await;
    assert_error(&r, 400, "badRequest");
    assert!(r.text.contains("already exists"), "{}", r.text);

    let r = rule(
        &alice,
        json!({"parent_group_id": p, "ip_protocol": "udp", "from_port": 53, "to_port": 53,
               "cidr": "10.2.3.124/24"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["security_group_rule"]["ip_range"],
        json!({"cidr": "10.2.3.124/24"})
    );

    // A source group opens every port of the protocol.
    let r = rule(
        &alice,
        json!({"parent_group_id": p, "ip_protocol": "tcp", "group_id": peer}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let made = &r.body["security_group_rule"];
    assert_eq!(
        (made["from_port"].clone(), made["to_port"].clone()),
        (json!(1), json!(65535))
    );
    assert_eq!(made["group"], json!({"name": "g2", "tenant_id": project}));
    assert_eq!(made["ip_range"], json!({}));
    let r = rule(
        &alice,
        json!({"parent_group_id": p, "ip_protocol": "icmp", "from_port": -1, "to_port": -1,
               "cidr": "::/0"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["security_group_rule"]["from_port"], -1);

    let r = alice
        .get(&format!("/v2.1/os-security-groups/{p}"))
        .await
        .unwrap();
    assert_eq!(
        r.body["security_group"]["rules"].as_array().unwrap().len(),
        4,
        "{}",
        r.text
    );

    // Bad input.
    for (body, code) in [
        (json!({"ip_protocol": "tcp"}), 400),
        (
            json!({"parent_group_id": "not-a-uuid", "ip_protocol": "tcp", "from_port": 1, "to_port": 2}),
            400,
        ),
        (
            json!({"parent_group_id": p, "ip_protocol": "999", "from_port": 1, "to_port": 2}),
            400,
        ),
        (
            json!({"parent_group_id": p, "ip_protocol": "tcp", "from_port": 65536, "to_port": 22}),
            400,
        ),
        (
            json!({"parent_group_id": p, "ip_protocol": "tcp", "from_port": 22, "to_port": 65536}),
            400,
        ),
        (
            json!({"parent_group_id": p, "ip_protocol": "tcp", "from_port": 22, "to_port": 21}),
            400,
        ),
        (
            json!({"parent_group_id": p, "ip_protocol": "tcp", "from_port": "x", "to_port": 21}),
            400,
        ),
        (
            json!({"parent_group_id": p, "ip_protocol": "icmp", "from_port": 256, "to_port": 0}),
            400,
        ),
        (json!({"parent_group_id": p, "ip_protocol": "tcp"}), 400),
        (
            json!({"parent_group_id": p, "ip_protocol": "tcp", "from_port": 1, "to_port": 2, "cidr": "nope"}),
            400,
        ),
        (
            json!({"parent_group_id": p, "ip_protocol": "tcp", "from_port": 1, "to_port": 2, "cidr": "10.0.0.0/0"}),
            400,
        ),
        (
            json!({"parent_group_id": p, "group_id": 5, "ip_protocol": "tcp"}),
            400,
        ),
        (
            json!({"parent_group_id": "00000000-0000-0000-0000-000000000000", "ip_protocol": "tcp", "from_port": 1, "to_port": 2}),
            404,
        ),
        (
            json!({"parent_group_id": p, "group_id": "00000000-0000-0000-0000-000000000000", "ip_protocol": "tcp"}),
            404,
        ),
    ] {
        let r = rule(&alice, body.clone()).await;
        let fault = if code == 400 {
            "badRequest"
        } else {
            "itemNotFound"
        };
        assert_error(&r, code, fault);
    }
    let r = alice
        .post("/v2.1/os-security-group-rules", json!({"x": 1}))
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");

    // Delete: 202, then 404; a bad id is 400.
    let r = alice
        .delete(&format!("/v2.1/os-security-group-rules/{ssh}"))
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    let r = alice
        .delete(&format!("/v2.1/os-security-group-rules/{ssh}"))
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = alice
        .delete("/v2.1/os-security-group-rules/nope")
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");

    // Another project's rules are not found.
    let (bob, _) = project_user(&cloud, "bob", "member").await;
    let r = rule(
        &bob,
        json!({"parent_group_id": p, "ip_protocol": "tcp", "from_port": 80, "to_port": 80}),
    )
    .await;
    assert_error(&r, 404, "itemNotFound");

    // Gone at 2.36.
    let r = at_version(
        &alice,
        "POST",
        "/v2.1/os-security-group-rules",
        Some(
            &json!({"security_group_rule": {"parent_group_id": p, "ip_protocol": "tcp",
            "from_port": 80, "to_port": 80}}),
        ),
        "2.36",
    )
    .await;
    assert_error(&r, 404, "itemNotFound");
}

#[tokio::test]
async fn networks_are_listed_in_nova_networks_shapes() {
    let (cloud, admin) = start().await;
    let (alice, _) = project_user(&cloud, "alice", "member").await;
    let net = network(&cloud, &alice, "mine", "10.9.0.0/24").await;

    let r = alice.get("/v2.1/os-tenant-networks").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let found: Vec<&Value> = r.body["networks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["id"] == net)
        .collect();
    assert_eq!(
        found,
        [&json!({"id": net, "cidr": "None", "label": "mine"})]
    );
    let r = alice
        .get(&format!("/v2.1/os-tenant-networks/{net}"))
        .await
        .unwrap();
    assert_eq!(
        r.body,
        json!({"network": {"id": net, "cidr": "None", "label": "mine"}})
    );

    let r = alice
        .get(&format!("/v2.1/os-networks/{net}"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let n = r.body["network"].as_object().unwrap();
    assert_eq!(n.len(), 11, "{}", r.text);
    assert_eq!(n["label"], "mine");
    assert!(n["cidr"].is_null());
    let r = admin
        .get(&format!("/v2.1/os-networks/{net}"))
        .await
        .unwrap();
    assert_eq!(
        r.body["network"].as_object().unwrap().len(),
        32,
        "{}",
        r.text
    );
    let r = admin.get("/v2.1/os-networks").await.unwrap();
    assert!(r.body["networks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["id"] == net));

    let none = "00000000-0000-0000-0000-000000000000";
    for path in [
        format!("/v2.1/os-networks/{none}"),
        format!("/v2.1/os-tenant-networks/{none}"),
    ] {
        let r = alice.get(&path).await.unwrap();
        assert_error(&r, 404, "itemNotFound");
        assert!(r.text.contains("Network not found"), "{}", r.text);
    }

    // The nova-network calls are gone.
    for (method, path, body) in [
        (
            "POST",
            "/v2.1/os-networks".to_string(),
            Some(json!({"network": {"label": "x"}})),
        ),
        (
            "POST",
            "/v2.1/os-networks/add".to_string(),
            Some(json!({"id": net})),
        ),
        ("DELETE", format!("/v2.1/os-networks/{net}"), None),
        (
            "POST",
            format!("/v2.1/os-networks/{net}/action"),
            Some(json!({"disassociate": null})),
        ),
        (
            "POST",
            "/v2.1/os-tenant-networks".to_string(),
            Some(json!({"network": {}})),
        ),
        ("DELETE", format!("/v2.1/os-tenant-networks/{net}"), None),
    ] {
        let r = at_version(&admin, method, &path, body.as_ref(), "2.1").await;
        assert_error(&r, 410, "computeFault");
    }
    let r = admin
        .post(
            &format!("/v2.1/os-networks/{net}/action"),
            json!({"fly": null}),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");

    for path in ["/v2.1/os-networks", "/v2.1/os-tenant-networks"] {
        let r = at_version(&alice, "GET", path, None, "2.36").await;
        assert_error(&r, 404, "itemNotFound");
    }
    let r = at_version(&alice, "GET", "/v2.1/os-networks", None, "2.35").await;
    assert_eq!(r.status, 200, "{}", r.text);
}

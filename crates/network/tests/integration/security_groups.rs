//! Security groups and rules: the default group on first use with
//! upstream's rules, validation, duplicates, groups in use by ports,
//! isolation and quotas.

use super::ports::create_port;
use super::*;

fn msg(r: &Resp) -> String {
    r.body["NeutronError"]["message"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

async fn create_group(c: &Client, body: Value) -> Value {
    let r = c
        .post("/v2.0/security-groups", json!({"security_group": body}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["security_group"].clone()
}

async fn post_rule(c: &Client, body: Value) -> Resp {
    c.post(
        "/v2.0/security-group-rules",
        json!({"security_group_rule": body}),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn default_group_rules_and_validation() {
    let (cloud, admin) = start().await;
    let (alice, project) = project_user(&cloud, "alice", "member").await;
    let (bob, _) = project_user(&cloud, "bob", "member").await;

    // The first list makes the default group, once.
    let r = alice.get("/v2.0/security-groups").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let groups = r.body["security_groups"].as_array().unwrap().clone();
    assert_eq!(groups.len(), 1, "{}", r.text);
    let def = &groups[0];
    assert_eq!(def["name"], "default");
    assert_eq!(def["description"], "Default security group");
    assert_eq!(def["project_id"], project.as_str());
    assert_eq!(def["stateful"], true);
    let def_id = def["id"].as_str().unwrap().to_string();
    let rules = def["security_group_rules"].as_array().unwrap();
    assert_eq!(rules.len(), 4);
    for eth in ["IPv4", "IPv6"] {
        assert!(rules.iter().any(|r| r["direction"] == "egress"
            && r["ethertype"] == eth
            && r["remote_group_id"].is_null()
            && r["protocol"].is_null()));
        assert!(rules.iter().any(|r| r["direction"] == "ingress"
            && r["ethertype"] == eth
            && r["remote_group_id"] == def_id.as_str()));
    }
    let r = alice.get("/v2.0/security-groups").await.unwrap();
    assert_eq!(r.body["security_groups"].as_array().unwrap().len(), 1);

    // A second `default` is refused, on create and on rename.
    let r = alice
        .post(
            "/v2.0/security-groups",
            json!({"security_group": {"name": "default"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "SecurityGroupDefaultAlreadyExists");
    let web = create_group(&alice, json!({"name": "web", "description": "d"})).await;
    let web_id = web["id"].as_str().unwrap().to_string();
    assert_eq!(
        web["security_group_rules"].as_array().unwrap().len(),
        2,
        "egress only"
    );
    let r = alice
        .put(
            &format!("/v2.0/security-groups/{web_id}"),
            Some(json!({"security_group": {"name": "Default"}})),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "SecurityGroupDefaultAlreadyExists");
    let r = alice
        .put(
            &format!("/v2.0/security-groups/{def_id}"),
            Some(json!({"security_group": {"name": "mine"}})),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "SecurityGroupCannotUpdateDefault");

    // Rules.
    let r = post_rule(
        &alice,
        json!({"security_group_id": web_id, "direction": "ingress", "protocol": "TCP", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "10.0.0.0/8"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let ssh = r.body["security_group_rule"].clone();
    assert_eq!(ssh["protocol"], "tcp");
    assert_eq!(ssh["ethertype"], "IPv4");
    assert_eq!(ssh["port_range_min"], 22);
    let r = post_rule(
        &alice,
        json!({"security_group_id": web_id, "direction": "ingress", "protocol": "6", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "10.0.0.0/8"}),
    )
    .await;
    assert_error(&r, 409, "SecurityGroupRuleExists");
    assert_eq!(
        msg(&r),
        format!(
            "Security group rule already exists. Rule id is {}.",
            ssh["id"].as_str().unwrap()
        )
    );
    let cases = [
        (
            json!({"protocol": "tcp", "port_range_min": 70000}),
            "SecurityGroupInvalidPortValue",
            "Invalid value for port 70000",
        ),
        (
            json!({"protocol": "udp", "port_range_min": 90, "port_range_max": 80}),
            "SecurityGroupInvalidPortRange",
            "For TCP/UDP protocols, port_range_min must be <= port_range_max",
        ),
        (
            json!({"protocol": "icmp", "port_range_min": 300}),
            "SecurityGroupInvalidIcmpValue",
            "Invalid value for ICMP type (port_range_min) 300. It must be 0 to 255.",
        ),
        (
            json!({"protocol": "icmp", "port_range_max": 0}),
            "SecurityGroupMissingIcmpType",
            "ICMP code (port-range-max) 0 is provided but ICMP type (port-range-min) is missing.",
        ),
    ];
    for (extra, kind, text) in cases {
        let mut body = json!({"security_group_id": web_id, "direction": "ingress"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = post_rule(&alice, body).await;
        assert_error(&r, 400, kind);
        assert_eq!(msg(&r), text);
    }
    let r = post_rule(
        &alice,
        json!({"security_group_id": web_id, "direction": "ingress", "remote_ip_prefix": "10.0.0.0/8", "remote_group_id": def_id}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = post_rule(
        &alice,
        json!({"security_group_id": web_id, "direction": "ingress", "remote_group_id": "85cc3048-abc3-43cc-89b3-377341426ac5"}),
    )
    .await;
    assert_error(&r, 404, "SecurityGroupNotFound");
    let r = post_rule(
        &alice,
        json!({"security_group_id": web_id, "direction": "egress", "ethertype": "IPv6", "protocol": "icmp", "port_range_min": 128, "remote_group_id": def_id}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["security_group_rule"]["protocol"], "ipv6-icmp");

    // Lists, filters, fields; isolation.
    let r = alice
        .get(&format!(
            "/v2.0/security-group-rules?security_group_id={web_id}&direction=ingress&fields=id&fields=protocol"
        ))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["security_group_rules"],
        json!([{"id": ssh["id"], "protocol": "tcp"}])
    );
    let r = bob
        .get(&format!("/v2.0/security-groups/{web_id}"))
        .await
        .unwrap();
    assert_error(&r, 404, "SecurityGroupNotFound");
    let r = bob
        .get(&format!(
            "/v2.0/security-group-rules/{}",
            ssh["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    assert_error(&r, 404, "SecurityGroupRuleNotFound");
    let r = post_rule(
        &bob,
        json!({"security_group_id": web_id, "direction": "ingress"}),
    )
    .await;
    assert_error(&r, 404, "SecurityGroupNotFound");
    let r = bob.get("/v2.0/security-groups").await.unwrap();
    let names: Vec<&str> = r.body["security_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["default"], "bob sees only his own default");

    // Tags on groups.
    let r = alice
        .put(&format!("/v2.0/security-groups/{web_id}/tags/blue"), None)
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = alice.get("/v2.0/security-groups?tags=blue").await.unwrap();
    assert_eq!(
        r.body["security_groups"].as_array().unwrap().len(),
        1,
        "{}",
        r.text
    );

    // Ports get the default group; named groups must exist and be visible.
    let net = create_network(&alice, json!({"name": "n"})).await;
    let nid = net["id"].as_str().unwrap();
    let p = create_port(&alice, json!({"network_id": nid})).await;
    assert_eq!(p["security_groups"], json!([def_id]));
    let p2 = create_port(
        &alice,
        json!({"network_id": nid, "security_groups": [web_id]}),
    )
    .await;
    assert_eq!(p2["security_groups"], json!([web_id]));
    let p3 = create_port(
        &alice,
        json!({"network_id": nid, "port_security_enabled": false}),
    )
    .await;
    assert_eq!(p3["security_groups"], json!([]));
    let bob_group = create_group(&bob, json!({"name": "bobs"})).await;
    let r = alice
        .post(
            "/v2.0/ports",
            json!({"port": {"network_id": nid, "security_groups": [bob_group["id"]]}}),
        )
        .await
        .unwrap();
    assert_error(&r, 404, "SecurityGroupNotFound");

    // A group in use stays; the default one stays for non-admins.
    let r = alice
        .delete(&format!("/v2.0/security-groups/{web_id}"))
        .await
        .unwrap();
    assert_error(&r, 409, "SecurityGroupInUse");
    assert_eq!(msg(&r), format!("Security Group {web_id} in use."));
    let r = alice
        .delete(&format!("/v2.0/ports/{}", p2["id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(r.status, 204);
    let r = alice
        .delete(&format!("/v2.0/security-groups/{web_id}"))
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = alice
        .get(&format!(
            "/v2.0/security-group-rules/{}",
            ssh["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    assert_error(&r, 404, "SecurityGroupRuleNotFound");
    let r = alice
        .delete(&format!("/v2.0/ports/{}", p["id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(r.status, 204);
    let r = alice
        .delete(&format!("/v2.0/security-groups/{def_id}"))
        .await
        .unwrap();
    assert_error(&r, 409, "SecurityGroupCannotRemoveDefault");
    let r = admin
        .delete(&format!("/v2.0/security-groups/{def_id}"))
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);

    // Extensions.
    for alias in ["security-group", "stateful-security-group"] {
        let r = alice
            .get(&format!("/v2.0/extensions/{alias}"))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{alias}");
    }
}

#[tokio::test]
async fn quotas_limit_groups_and_rules() {
    let (cloud, admin) = start().await;
    let (alice, project) = project_user(&cloud, "alice", "member").await;
    let r = admin
        .put(
            &format!("/v2.0/quotas/{project}"),
            Some(json!({"quota": {"security_group": 2, "security_group_rule": 7}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    // The default group (4 rules) plus one group (2 rules) fill 2 and 6.
    let g = create_group(&alice, json!({"name": "a"})).await;
    let r = alice
        .post(
            "/v2.0/security-groups",
            json!({"security_group": {"name": "b"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "OverQuota");
    assert_eq!(msg(&r), "Quota exceeded for resources: ['security_group'].");
    let gid = g["id"].as_str().unwrap();
    let r = post_rule(
        &alice,
        json!({"security_group_id": gid, "direction": "ingress", "protocol": "tcp"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = post_rule(
        &alice,
        json!({"security_group_id": gid, "direction": "ingress", "protocol": "udp"}),
    )
    .await;
    assert_error(&r, 409, "OverQuota");
    let r = alice
        .get(&format!("/v2.0/quotas/{project}/details"))
        .await
        .unwrap();
    assert_eq!(r.body["quota"]["security_group"]["used"], 2, "{}", r.text);
    assert_eq!(
        r.body["quota"]["security_group_rule"]["used"], 7,
        "{}",
        r.text
    );
}

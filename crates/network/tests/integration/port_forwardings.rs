//! Port forwardings of floating IPs.

use super::floatingips::{external, fip, port, tenant_side};
use super::{assert_error, create_network, project_user, start};
use serde_json::{json, Value};

#[tokio::test]
async fn port_forwarding_crud_and_conflicts() {
    let (cloud, admin) = start().await;
    let (user, _) = project_user(&cloud, "pfuser", "member").await;
    let (ext, _) = external(&admin, "198.18.0.0/24").await;
    let (net, sub, rid) = tenant_side(&user, &ext, "10.20.0.0/24").await;
    let p = port(&user, &net).await;
    let pid = p["id"].as_str().unwrap().to_string();
    let ip = p["fixed_ips"][0]["ip_address"]
        .as_str()
        .unwrap()
        .to_string();
    let f = fip(&user, json!({"floating_network_id": ext["id"]})).await;
    let fid = f["id"].as_str().unwrap().to_string();
    let base = format!("/v2.0/floatingips/{fid}/port_forwardings");

    let rule = |ext_port: i64, int_port: i64| {
        json!({"port_forwarding": {
            "protocol": "tcp", "internal_ip_address": ip, "internal_port": int_port,
            "external_port": ext_port, "internal_port_id": pid, "description": "ssh"}})
    };
    let r = user.post(&base, rule(2222, 22)).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let pf = r.body["port_forwarding"].clone();
    assert_eq!(pf["protocol"], "tcp");
    assert_eq!(pf["external_port"], 2222);
    assert_eq!(pf["internal_port"], 22);
    assert_eq!(pf["internal_ip_address"], ip.as_str());
    assert_eq!(pf["internal_port_id"], pid.as_str());
    assert_eq!(pf["description"], "ssh");
    assert!(pf.get("project_id").is_none());
    let pf_id = pf["id"].as_str().unwrap().to_string();

    // The floating IP now goes through the port's router and lists it.
    let r = user.get(&format!("/v2.0/floatingips/{fid}")).await.unwrap();
    let g = &r.body["floatingip"];
    assert_eq!(g["router_id"], rid.as_str(), "{}", r.text);
    assert_eq!(g["port_id"], Value::Null);
    assert_eq!(g["status"], "ACTIVE");
    assert_eq!(
        g["port_forwardings"],
        json!([{"id": pf_id, "internal_ip_address": ip, "protocol": "tcp",
                "internal_port": 22, "external_port": 2222, "internal_port_id": pid}])
    );

    // Same external port and protocol: 400 collision; other protocol ok.
    let r = user.post(&base, rule(2222, 23)).await.unwrap();
    assert_error(&r, 400, "BadRequest");
    assert_eq!(
        r.body["NeutronError"]["message"],
        "Bad port_forwarding request: There is a port collision with the \
         external_port_range. The following ranges collide: 2222:2222 and 2222:2222."
    );
    let r = user.post(&base, rule(2223, 22)).await.unwrap();
    assert_error(&r, 400, "BadRequest");
    let mut udp = rule(2222, 22);
    udp["port_forwarding"]["protocol"] = json!("udp");
    let r = user.post(&base, udp).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let udp_id = r.body["port_forwarding"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Validation.
    let mut bad = rule(0, 22);
    let r = user.post(&base, bad.clone()).await.unwrap();
    assert_eq!(
        r.body["NeutronError"]["message"],
        "Invalid input for external_port. Reason: '0' is too small - must be at least '1'."
    );
    bad = rule(80, 80);
    bad["port_forwarding"]["protocol"] = json!("gre");
    let r = user.post(&base, bad.clone()).await.unwrap();
    assert_eq!(r.status, 400, "{}", r.text);
    bad["port_forwarding"]["protocol"] = json!("tcp");
    bad["port_forwarding"]["internal_ip_address"] = json!("10.20.0.250");
    let r = user.post(&base, bad.clone()).await.unwrap();
    assert_error(&r, 400, "BadRequest");
    bad["port_forwarding"]
        .as_object_mut()
        .unwrap()
        .remove("internal_port_id");
    let r = user.post(&base, bad).await.unwrap();
    assert_eq!(
        r.body["NeutronError"]["message"],
        "Failed to parse request. Required attribute 'internal_port_id' not specified"
    );
    let r = user.get(&format!("{base}?internal_port=22")).await.unwrap();
    assert_error(&r, 400, "PortForwardingNotSupportFilterField");

    // A port behind no router to the external network: 400.
    let lonely = create_network(&user, json!({"name": "lonely"})).await;
    super::floatingips::subnet(&user, &lonely, "10.21.0.0/24").await;
    let lp = port(&user, &lonely).await;
    let mut far = rule(8080, 80);
    far["port_forwarding"]["internal_port_id"] = lp["id"].clone();
    far["port_forwarding"]["internal_ip_address"] = lp["fixed_ips"][0]["ip_address"].clone();
    let r = user.post(&base, far).await.unwrap();
    assert_error(&r, 400, "BadRequest");

    // List, show, filter, update, another project.
    let r = user.get(&base).await.unwrap();
    assert_eq!(r.body["port_forwardings"].as_array().unwrap().len(), 2);
    let r = user.get(&format!("{base}?protocol=udp")).await.unwrap();
    assert_eq!(r.body["port_forwardings"][0]["id"], udp_id.as_str());
    let r = user.get(&format!("{base}/{pf_id}")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = user
        .put(
            &format!("{base}/{pf_id}"),
            Some(json!({"port_forwarding": {"external_port": 2200, "description": "d"}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["port_forwarding"]["external_port"], 2200);
    assert_eq!(r.body["port_forwarding"]["description"], "d");
    let r = user
        .put(
            &format!("{base}/{udp_id}"),
            Some(json!({"port_forwarding": {"protocol": "tcp", "external_port": 2200}})),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "BadRequest");
    let (other, _) = project_user(&cloud, "pfother", "member").await;
    let r = other.get(&base).await.unwrap();
    assert_error(&r, 404, "FloatingIPNotFound");
    let r = user
        .get(&format!("{base}/00000000-0000-0000-0000-000000000000"))
        .await
        .unwrap();
    assert_error(&r, 404, "PortForwardingNotFound");

    // A floating IP with rules takes no port, and cannot be deleted; a
    // port with a floating IP takes no rule.
    let r = user
        .put(
            &format!("/v2.0/floatingips/{fid}"),
            Some(json!({"floatingip": {"port_id": pid}})),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "FipInUseByPortForwarding");
    let r = user
        .delete(&format!("/v2.0/floatingips/{fid}"))
        .await
        .unwrap();
    assert_error(&r, 409, "FipInUseByPortForwarding");
    let p2 = port(&user, &net).await;
    let f2 = fip(
        &user,
        json!({"floating_network_id": ext["id"], "port_id": p2["id"]}),
    )
    .await;
    let mut to_p2 = rule(9000, 9000);
    to_p2["port_forwarding"]["internal_port_id"] = p2["id"].clone();
    to_p2["port_forwarding"]["internal_ip_address"] = p2["fixed_ips"][0]["ip_address"].clone();
    let r = user.post(&base, to_p2.clone()).await.unwrap();
    assert_error(&r, 409, "PortHasBindingFloatingIP");
    // An associated floating IP takes no rule.
    let p3 = port(&user, &net).await;
    let mut to_p3 = rule(9001, 9001);
    to_p3["port_forwarding"]["internal_port_id"] = p3["id"].clone();
    to_p3["port_forwarding"]["internal_ip_address"] = p3["fixed_ips"][0]["ip_address"].clone();
    let r = user
        .post(
            &format!(
                "/v2.0/floatingips/{}/port_forwardings",
                f2["id"].as_str().unwrap()
            ),
            to_p3,
        )
        .await
        .unwrap();
    assert_error(&r, 409, "FloatingIPPortAlreadyAssociated");

    // The router interface the rules need stays.
    let r = user
        .put(
            &format!("/v2.0/routers/{rid}/remove_router_interface"),
            Some(json!({"subnet_id": sub["id"]})),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "RouterInterfaceInUseByFloatingIP");

    // Delete one rule: the router stays; deleting the port drops the
    // other and the floating IP loses its router.
    let r = user.delete(&format!("{base}/{udp_id}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = user.get(&format!("/v2.0/floatingips/{fid}")).await.unwrap();
    assert_eq!(r.body["floatingip"]["router_id"], rid.as_str());
    let r = user.delete(&format!("/v2.0/ports/{pid}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = user.get(&format!("/v2.0/floatingips/{fid}")).await.unwrap();
    assert_eq!(r.body["floatingip"]["router_id"], Value::Null, "{}", r.text);
    assert_eq!(r.body["floatingip"]["port_forwardings"], json!([]));
    assert_eq!(r.body["floatingip"]["status"], "DOWN");
    let r = user
        .delete(&format!("/v2.0/floatingips/{fid}"))
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = user.get(&base).await.unwrap();
    assert_error(&r, 404, "FloatingIPNotFound");
}

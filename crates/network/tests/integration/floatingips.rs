//! Floating IPs: create on external networks, association through a
//! router, and the guards on ports, routers and networks.

use super::{assert_error, create_network, project_user, start};
use serde_json::{json, Value};
use testkit::Client;

pub async fn subnet(c: &Client, net: &Value, cidr: &str) -> Value {
    let r = c
        .post(
            "/v2.0/subnets",
            json!({"subnet": {"network_id": net["id"], "ip_version": 4, "cidr": cidr}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["subnet"].clone()
}

/// An external network (made by the admin) with one IPv4 subnet.
pub async fn external(admin: &Client, cidr: &str) -> (Value, Value) {
    let net = create_network(admin, json!({"name": "ext", "router:external": true})).await;
    let s = subnet(admin, &net, cidr).await;
    (net, s)
}

/// A project network and subnet behind a new router with its gateway on
/// `ext`; returns (network, subnet, router id).
pub async fn tenant_side(c: &Client, ext: &Value, cidr: &str) -> (Value, Value, String) {
    let net = create_network(c, json!({"name": "inside"})).await;
    let s = subnet(c, &net, cidr).await;
    let r = c
        .post(
            "/v2.0/routers",
            json!({"router": {"name": "r", "external_gateway_info": {"network_id": ext["id"]}}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let rid = r.body["router"]["id"].as_str().unwrap().to_string();
    let r = c
        .put(
            &format!("/v2.0/routers/{rid}/add_router_interface"),
            Some(json!({"subnet_id": s["id"]})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    (net, s, rid)
}

pub async fn port(c: &Client, net: &Value) -> Value {
    let r = c
        .post("/v2.0/ports", json!({"port": {"network_id": net["id"]}}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["port"].clone()
}

pub async fn fip(c: &Client, body: Value) -> Value {
    let r = c
        .post("/v2.0/floatingips", json!({"floatingip": body}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["floatingip"].clone()
}

#[tokio::test]
async fn floatingip_crud_and_validation() {
    let (cloud, admin) = start().await;
    let (user, project) = project_user(&cloud, "fipuser", "member").await;
    let (ext, ext_sub) = external(&admin, "203.0.113.0/24").await;

    // Not external: 400 as upstream.
    let inside = create_network(&user, json!({"name": "plain"})).await;
    let inside_sub = subnet(&user, &inside, "10.9.0.0/24").await;
    let r = user
        .post(
            "/v2.0/floatingips",
            json!({"floatingip": {"floating_network_id": inside["id"]}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "BadRequest");
    assert_eq!(
        r.body["NeutronError"]["message"],
        format!(
            "Bad floatingip request: Network {} is not a valid external network.",
            inside["id"].as_str().unwrap()
        )
    );
    let r = user
        .post("/v2.0/floatingips", json!({"floatingip": {}}))
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text);
    let r = user
        .post(
            "/v2.0/floatingips",
            json!({"floatingip": {"floating_network_id": "nope"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text);
    let r = user
        .post(
            "/v2.0/floatingips",
            json!({"floatingip": {"floating_network_id": ext["id"], "router_id": ext["id"]}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text);
    // Choosing the address is for admins and managers.
    let r = user
        .post(
            "/v2.0/floatingips",
            json!({"floatingip": {"floating_network_id": ext["id"], "floating_ip_address": "203.0.113.50"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 403, "PolicyNotAuthorized");

    let f = fip(
        &user,
        json!({"floating_network_id": ext["id"], "description": "web"}),
    )
    .await;
    assert_eq!(f["floating_network_id"], ext["id"]);
    assert_eq!(f["project_id"], project);
    assert_eq!(f["tenant_id"], project);
    assert_eq!(f["status"], "DOWN");
    assert_eq!(f["router_id"], Value::Null);
    assert_eq!(f["port_id"], Value::Null);
    assert_eq!(f["fixed_ip_address"], Value::Null);
    assert_eq!(f["port_details"], Value::Null);
    assert_eq!(f["port_forwardings"], json!([]));
    assert_eq!(f["description"], "web");
    assert_eq!(f["revision_number"], 0);
    assert_eq!(f["tags"], json!([]));
    assert!(f.get("subnet_id").is_none());
    let addr = f["floating_ip_address"].as_str().unwrap().to_string();
    assert!(addr.starts_with("203.0.113."), "{addr}");
    let fid = f["id"].as_str().unwrap().to_string();

    // Its port: project-less, device the floating IP, status N/A, and
    // not deletable through the port API.
    let r = admin
        .get(&format!(
            "/v2.0/ports?device_id={fid}&device_owner=network:floatingip"
        ))
        .await
        .unwrap();
    let ports = r.body["ports"].as_array().unwrap().clone();
    assert_eq!(ports.len(), 1, "{}", r.text);
    assert_eq!(ports[0]["project_id"], "");
    assert_eq!(ports[0]["status"], "N/A");
    assert_eq!(ports[0]["fixed_ips"][0]["ip_address"], addr.as_str());
    let fport = ports[0]["id"].as_str().unwrap().to_string();
    let r = admin.delete(&format!("/v2.0/ports/{fport}")).await.unwrap();
    assert_error(&r, 409, "ServicePortInUse");

    // Admin picks the address; a taken one is 409.
    let f2 = fip(
        &admin,
        json!({"floating_network_id": ext["id"], "floating_ip_address": "203.0.113.50",
               "project_id": project}),
    )
    .await;
    assert_eq!(f2["floating_ip_address"], "203.0.113.50");
    assert_eq!(f2["project_id"], project);
    let r = admin
        .post(
            "/v2.0/floatingips",
            json!({"floatingip": {"floating_network_id": ext["id"], "floating_ip_address": "203.0.113.50"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "IpAddressAlreadyAllocated");
    let f3 = fip(
        &user,
        json!({"floating_network_id": ext["id"], "subnet_id": ext_sub["id"]}),
    )
    .await;
    let r = admin
        .post(
            "/v2.0/floatingips",
            json!({"floatingip": {"floating_network_id": ext["id"], "subnet_id": inside_sub["id"]}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text);

    // Lists: own project's only, filters, fields, sort, paging.
    let (other, _) = project_user(&cloud, "fipother", "member").await;
    let r = other.get("/v2.0/floatingips").await.unwrap();
    assert_eq!(r.body["floatingips"], json!([]), "{}", r.text);
    let r = other
        .get(&format!("/v2.0/floatingips/{fid}"))
        .await
        .unwrap();
    assert_error(&r, 404, "FloatingIPNotFound");
    let r = user.get("/v2.0/floatingips").await.unwrap();
    assert_eq!(r.body["floatingips"].as_array().unwrap().len(), 3);
    let r = user
        .get("/v2.0/floatingips?floating_ip_address=203.0.113.50&fields=id&fields=status")
        .await
        .unwrap();
    assert_eq!(
        r.body["floatingips"],
        json!([{"id": f2["id"], "status": "DOWN"}]),
        "{}",
        r.text
    );
    let r = user
        .get("/v2.0/floatingips?sort_key=floating_ip_address&sort_dir=desc&limit=2")
        .await
        .unwrap();
    let page = r.body["floatingips"].as_array().unwrap().clone();
    assert_eq!(page.len(), 2, "{}", r.text);
    assert_eq!(page[0]["floating_ip_address"], "203.0.113.50");
    assert!(r.body["floatingips_links"].is_array());

    // Update: description only; read-only attributes refused.
    let r = user
        .put(
            &format!("/v2.0/floatingips/{fid}"),
            Some(json!({"floatingip": {"description": "changed"}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["floatingip"]["description"], "changed");
    assert_eq!(r.body["floatingip"]["revision_number"], 1);
    let r = user
        .put(
            &format!("/v2.0/floatingips/{fid}"),
            Some(json!({"floatingip": {"floating_network_id": ext["id"]}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text);

    // Tags.
    let r = user
        .put(&format!("/v2.0/floatingips/{fid}/tags/blue"), None)
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = user.get("/v2.0/floatingips?tags=blue").await.unwrap();
    assert_eq!(r.body["floatingips"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["floatingips"][0]["tags"], json!(["blue"]));

    // Pools: the external IPv4 subnets.
    let r = user.get("/v2.0/floatingip_pools").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["floatingip_pools"],
        json!([{"subnet_id": ext_sub["id"], "subnet_name": "", "network_id": ext["id"],
                "cidr": "203.0.113.0/24", "project_id": project}])
    );

    // Delete: the port and address go with it.
    for id in [&fid, f2["id"].as_str().unwrap(), f3["id"].as_str().unwrap()] {
        let r = user
            .delete(&format!("/v2.0/floatingips/{id}"))
            .await
            .unwrap();
        assert_eq!(r.status, 204, "{}", r.text);
    }
    let r = user
        .delete(&format!("/v2.0/floatingips/{fid}"))
        .await
        .unwrap();
    assert_error(&r, 404, "FloatingIPNotFound");
    let r = admin.get(&format!("/v2.0/ports/{fport}")).await.unwrap();
    assert_error(&r, 404, "PortNotFound");
    let r = admin
        .delete(&format!("/v2.0/networks/{}", ext["id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
}

/// As ML2's `delete_network`: floating IPs that serve nothing go with
/// their external network; one associated through a router keeps it.
#[tokio::test]
async fn deleting_an_external_network_takes_its_idle_floating_ips() {
    let (cloud, admin) = start().await;
    let (user, _) = project_user(&cloud, "fipnetdel", "member").await;
    let (ext, _) = external(&admin, "192.0.2.0/24").await;
    let ext_id = ext["id"].as_str().unwrap();
    let idle = fip(&user, json!({"floating_network_id": ext_id})).await;
    let idle_port = admin
        .get(&format!(
            "/v2.0/ports?device_id={}",
            idle["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    let idle_port = idle_port.body["ports"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Associated through a router: the network stays in use.
    let (net, sub, rid) = tenant_side(&user, &ext, "10.9.0.0/24").await;
    let p = port(&user, &net).await;
    let busy = fip(
        &user,
        json!({"floating_network_id": ext_id, "port_id": p["id"]}),
    )
    .await;
    let r = admin
        .delete(&format!("/v2.0/networks/{ext_id}"))
        .await
        .unwrap();
    assert_error(&r, 409, "NetworkInUse");
    // Refused as a whole: the idle floating IP is still there.
    let r = user
        .get(&format!(
            "/v2.0/floatingips/{}",
            idle["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);

    // Once the router is gone, the network goes with its idle floating IPs.
    let r = user
        .delete(&format!(
            "/v2.0/floatingips/{}",
            busy["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = user
        .put(
            &format!("/v2.0/routers/{rid}/remove_router_interface"),
            Some(json!({"subnet_id": sub["id"]})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = user.delete(&format!("/v2.0/routers/{rid}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = admin
        .delete(&format!("/v2.0/networks/{ext_id}"))
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = user
        .get(&format!(
            "/v2.0/floatingips/{}",
            idle["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    assert_error(&r, 404, "FloatingIPNotFound");
    let r = admin
        .get(&format!("/v2.0/ports/{idle_port}"))
        .await
        .unwrap();
    assert_error(&r, 404, "PortNotFound");
}

#[tokio::test]
async fn floatingip_quota() {
    let (cloud, admin) = start().await;
    let (user, project) = project_user(&cloud, "fipquota", "member").await;
    let (ext, _) = external(&admin, "198.51.100.0/24").await;
    let r = admin
        .put(
            &format!("/v2.0/quotas/{project}"),
            Some(json!({"quota": {"floatingip": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let c = user.clone();
        let body = json!({"floatingip": {"floating_network_id": ext["id"]}});
        tasks.push(tokio::spawn(async move {
            c.post("/v2.0/floatingips", body).await.unwrap()
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
                "Quota exceeded for resources: ['floatingip']."
            );
        }
    }
    assert_eq!(ok, 2);
    let r = user
        .get(&format!("/v2.0/quotas/{project}/details"))
        .await
        .unwrap();
    assert_eq!(r.body["quota"]["floatingip"]["used"], 2, "{}", r.text);
}

#[tokio::test]
async fn association_rules() {
    let (cloud, admin) = start().await;
    let (user, project) = project_user(&cloud, "fipassoc", "member").await;
    let (ext, _) = external(&admin, "192.0.2.0/24").await;
    let (net, sub, rid) = tenant_side(&user, &ext, "10.10.0.0/24").await;
    let p = port(&user, &net).await;
    let pid = p["id"].as_str().unwrap().to_string();
    let fixed = p["fixed_ips"][0]["ip_address"]
        .as_str()
        .unwrap()
        .to_string();

    // Associate on create: router resolved, status ACTIVE without a
    // data plane, port details shown.
    let f = fip(
        &user,
        json!({"floating_network_id": ext["id"], "port_id": pid}),
    )
    .await;
    let fid = f["id"].as_str().unwrap().to_string();
    assert_eq!(f["port_id"], pid.as_str());
    assert_eq!(f["fixed_ip_address"], fixed.as_str());
    assert_eq!(f["router_id"], rid.as_str());
    assert_eq!(f["status"], "ACTIVE");
    assert_eq!(f["port_details"]["network_id"], net["id"]);
    assert_eq!(f["port_details"]["mac_address"], p["mac_address"]);
    assert_eq!(f["port_details"]["status"], p["status"]);
    assert_eq!(f["port_details"]["admin_state_up"], true);
    assert_eq!(f["port_details"]["device_owner"], "");
    let r = user
        .get(&format!("/v2.0/floatingips?port_id={pid}"))
        .await
        .unwrap();
    assert_eq!(r.body["floatingips"].as_array().unwrap().len(), 1);
    let r = user
        .get(&format!("/v2.0/floatingips?router_id={rid}"))
        .await
        .unwrap();
    assert_eq!(r.body["floatingips"].as_array().unwrap().len(), 1);

    // One floating IP per fixed address.
    let f2 = fip(&user, json!({"floating_network_id": ext["id"]})).await;
    let f2id = f2["id"].as_str().unwrap().to_string();
    let r = user
        .put(
            &format!("/v2.0/floatingips/{f2id}"),
            Some(json!({"floatingip": {"port_id": pid}})),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "FloatingIPPortAlreadyAssociated");
    assert_eq!(
        r.body["NeutronError"]["message"],
        format!(
            "Cannot associate floating IP {} ({f2id}) with port {pid} using fixed IP {fixed}, \
             as that fixed IP already has a floating IP on external network {}.",
            f2["floating_ip_address"].as_str().unwrap(),
            ext["id"].as_str().unwrap()
        )
    );

    // fixed_ip_address without port, a foreign address, an IPv6 one.
    let r = user
        .put(
            &format!("/v2.0/floatingips/{f2id}"),
            Some(json!({"floatingip": {"fixed_ip_address": fixed}})),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "BadRequest");
    assert_eq!(
        r.body["NeutronError"]["message"],
        "Bad floatingip request: fixed_ip_address cannot be specified without a port_id."
    );
    let r = user
        .put(
            &format!("/v2.0/floatingips/{f2id}"),
            Some(json!({"floatingip": {"port_id": pid, "fixed_ip_address": "10.10.0.200"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        r.body["NeutronError"]["message"],
        format!("Bad floatingip request: Port {pid} does not have fixed ip 10.10.0.200.")
    );
    let r = user
        .put(
            &format!("/v2.0/floatingips/{f2id}"),
            Some(json!({"floatingip": {"port_id": pid, "fixed_ip_address": "2001:db8::1"}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text);

    // A port with two IPv4 addresses needs the address named.
    let r = user
        .post(
            "/v2.0/ports",
            json!({"port": {"network_id": net["id"], "fixed_ips": [
                {"subnet_id": sub["id"]}, {"subnet_id": sub["id"]}]}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let two = r.body["port"].clone();
    let two_id = two["id"].as_str().unwrap().to_string();
    let r = user
        .put(
            &format!("/v2.0/floatingips/{f2id}"),
            Some(json!({"floatingip": {"port_id": two_id}})),
        )
        .await
        .unwrap();
    assert_eq!(
        r.body["NeutronError"]["message"],
        format!(
            "Bad floatingip request: Port {two_id} has multiple fixed IPv4 addresses.  Must \
             provide a specific IPv4 address when assigning a floating IP."
        )
    );
    let second = two["fixed_ips"][1]["ip_address"].as_str().unwrap();
    let r = user
        .put(
            &format!("/v2.0/floatingips/{f2id}"),
            Some(json!({"floatingip": {"port_id": two_id, "fixed_ip_address": second}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["floatingip"]["fixed_ip_address"], second);

    // A subnet with no router to the external network: 404.
    let lonely = create_network(&user, json!({"name": "lonely"})).await;
    let lonely_sub = super::floatingips::subnet(&user, &lonely, "10.11.0.0/24").await;
    let lp = port(&user, &lonely).await;
    let lpid = lp["id"].as_str().unwrap();
    let r = user
        .put(
            &format!("/v2.0/floatingips/{f2id}"),
            Some(json!({"floatingip": {"port_id": lpid}})),
        )
        .await
        .unwrap();
    assert_error(&r, 404, "ExternalGatewayForFloatingIPNotFound");
    assert_eq!(
        r.body["NeutronError"]["message"],
        format!(
            "External network {} is not reachable from subnet {}.  Therefore, cannot \
             associate Port {lpid} with a Floating IP.",
            ext["id"].as_str().unwrap(),
            lonely_sub["id"].as_str().unwrap()
        )
    );

    // Another project's port: 404 for its owner's view; admin's FIP of
    // another project may not use it either (BadRequest).
    let (other, _) = project_user(&cloud, "fipassoc2", "member").await;
    let onet = create_network(&other, json!({"name": "o"})).await;
    super::floatingips::subnet(&other, &onet, "10.12.0.0/24").await;
    let op = port(&other, &onet).await;
    let r = user
        .put(
            &format!("/v2.0/floatingips/{f2id}"),
            Some(json!({"floatingip": {"port_id": op["id"]}})),
        )
        .await
        .unwrap();
    assert_error(&r, 404, "PortNotFound");
    let r = admin
        .put(
            &format!("/v2.0/floatingips/{f2id}"),
            Some(json!({"floatingip": {"port_id": op["id"]}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 404, "{}", r.text);

    // A DHCP port cannot take one.
    let r = admin
        .get(&format!(
            "/v2.0/ports?network_id={}&device_owner=network:dhcp",
            net["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    let dhcp = r.body["ports"][0]["id"].as_str().unwrap().to_string();
    let r = admin
        .put(
            &format!("/v2.0/floatingips/{f2id}"),
            Some(json!({"floatingip": {"port_id": dhcp}})),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "BadRequest");

    // Moving to a port behind another router changes router_id.
    let (net2, sub2, rid2) = tenant_side(&user, &ext, "10.13.0.0/24").await;
    let p2 = port(&user, &net2).await;
    let r = user
        .put(
            &format!("/v2.0/floatingips/{fid}"),
            Some(json!({"floatingip": {"port_id": p2["id"]}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["floatingip"]["router_id"], rid2.as_str());
    assert_eq!(r.body["floatingip"]["port_id"], p2["id"]);

    // The router interface and gateway it needs stay.
    let r = user
        .put(
            &format!("/v2.0/routers/{rid2}/remove_router_interface"),
            Some(json!({"subnet_id": sub2["id"]})),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "RouterInterfaceInUseByFloatingIP");
    let r = user
        .put(
            &format!("/v2.0/routers/{rid2}"),
            Some(json!({"router": {"external_gateway_info": {}}})),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "RouterExternalGatewayInUseByFloatingIp");
    assert_eq!(
        r.body["NeutronError"]["message"],
        format!(
            "Gateway cannot be updated for router {rid2}, since a gateway to external network \
             {} is required by one or more floating IPs.",
            ext["id"].as_str().unwrap()
        )
    );

    // The port's fixed IP the FIP uses cannot change.
    let r = user
        .put(
            &format!("/v2.0/ports/{}", p2["id"].as_str().unwrap()),
            Some(json!({"port": {"fixed_ips": [{"subnet_id": sub2["id"], "ip_address": "10.13.0.77"}]}})),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "BadRequest");

    // Disassociate with port_id null: DOWN, router gone; now the
    // interface and gateway may go.
    let r = user
        .put(
            &format!("/v2.0/floatingips/{fid}"),
            Some(json!({"floatingip": {"port_id": null}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let g = &r.body["floatingip"];
    assert_eq!(g["port_id"], Value::Null);
    assert_eq!(g["fixed_ip_address"], Value::Null);
    assert_eq!(g["router_id"], Value::Null);
    assert_eq!(g["status"], "DOWN");
    assert_eq!(g["port_details"], Value::Null);
    let r = user
        .put(
            &format!("/v2.0/routers/{rid2}"),
            Some(json!({"router": {"external_gateway_info": {}}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);

    // Deleting the associated port disassociates its floating IP.
    let r = user
        .put(
            &format!("/v2.0/floatingips/{fid}"),
            Some(json!({"floatingip": {"port_id": pid}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = user.delete(&format!("/v2.0/ports/{pid}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = user.get(&format!("/v2.0/floatingips/{fid}")).await.unwrap();
    assert_eq!(r.body["floatingip"]["port_id"], Value::Null, "{}", r.text);
    assert_eq!(r.body["floatingip"]["router_id"], Value::Null);
    assert_eq!(r.body["floatingip"]["project_id"], project);

    // A status report (the agent feed's hook).
    // The service over the same store, as the agent feed holds it.
    let store = db::Db::open(&cloud.config.database_url()).await.unwrap();
    let clock: common::clock::SharedClock = std::sync::Arc::new(common::clock::SystemClock);
    let directory = std::sync::Arc::new(nodes::Directory::new(store.clone(), clock.clone()));
    let net_service = network::build(&cloud.config, store, clock, directory).unwrap();
    assert!(net_service
        .set_floatingip_status(&fid, "ERROR")
        .await
        .unwrap());
    let r = user.get(&format!("/v2.0/floatingips/{fid}")).await.unwrap();
    assert_eq!(r.body["floatingip"]["status"], "ERROR");
    assert!(net_service
        .set_floatingip_status(&fid, "BOGUS")
        .await
        .is_err());
}

#[tokio::test]
async fn concurrent_associations_take_one_fixed_ip_once() {
    let (cloud, admin) = start().await;
    let (user, _) = project_user(&cloud, "fiprace", "member").await;
    let (ext, _) = external(&admin, "100.64.0.0/24").await;
    let (net, _, _) = tenant_side(&user, &ext, "10.30.0.0/24").await;
    let p = port(&user, &net).await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        let f = fip(&user, json!({"floating_network_id": ext["id"]})).await;
        ids.push(f["id"].as_str().unwrap().to_string());
    }
    let mut tasks = Vec::new();
    for id in ids {
        let c = user.clone();
        let body = json!({"floatingip": {"port_id": p["id"]}});
        tasks.push(tokio::spawn(async move {
            c.put(&format!("/v2.0/floatingips/{id}"), Some(body))
                .await
                .unwrap()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let r = t.await.unwrap();
        if r.status == 200 {
            ok += 1;
        } else {
            assert_error(&r, 409, "FloatingIPPortAlreadyAssociated");
        }
    }
    assert_eq!(ok, 1);
    let r = user
        .get(&format!(
            "/v2.0/floatingips?port_id={}",
            p["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    assert_eq!(r.body["floatingips"].as_array().unwrap().len(), 1);
}

//! Routers and their interfaces by subnet.

use super::{assert_error, create_network, project_user, start};
use serde_json::{json, Value};

async fn subnet(c: &testkit::Client, net: &Value, cidr: &str) -> Value {
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

#[tokio::test]
async fn routers_and_interfaces_by_subnet() {
    let (cloud, admin) = start().await;
    let (user, project) = project_user(&cloud, "routeruser", "member").await;
    let r = user
        .post("/v2.0/routers", json!({"router": {"name": "r1"}}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let router = r.body["router"].clone();
    assert_eq!(router["status"], "ACTIVE");
    assert_eq!(router["admin_state_up"], true);
    assert_eq!(router["external_gateway_info"], Value::Null);
    assert_eq!(router["project_id"], project);
    let rid = router["id"].as_str().unwrap().to_string();

    let r = user.get("/v2.0/routers").await.unwrap();
    assert_eq!(r.body["routers"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = user
        .put(
            &format!("/v2.0/routers/{rid}"),
            Some(json!({"router": {"name": "r2", "admin_state_up": false}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["router"]["name"], "r2");
    assert_eq!(r.body["router"]["revision_number"], 1);
    let r = user
        .post(
            "/v2.0/routers",
            json!({"router": {"external_gateway_info": {"network_id": "x"}}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text);

    // Another project cannot see it.
    let (other, _) = project_user(&cloud, "routerother", "member").await;
    let r = other.get(&format!("/v2.0/routers/{rid}")).await.unwrap();
    assert_error(&r, 404, "RouterNotFound");

    let net = create_network(&user, json!({"name": "n"})).await;
    let s1 = subnet(&user, &net, "10.1.0.0/24").await;
    let net2 = create_network(&user, json!({"name": "n2"})).await;
    let s2 = subnet(&user, &net2, "10.1.0.0/25").await;
    let s3 = subnet(&user, &net2, "10.2.0.0/24").await;

    let add = format!("/v2.0/routers/{rid}/add_router_interface");
    let remove = format!("/v2.0/routers/{rid}/remove_router_interface");
    let r = user
        .put(&add, Some(json!({"subnet_id": s1["id"]})))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], rid.as_str());
    assert_eq!(r.body["subnet_id"], s1["id"]);
    assert_eq!(r.body["subnet_ids"], json!([s1["id"]]));
    assert_eq!(r.body["network_id"], net["id"]);
    assert_eq!(r.body["project_id"], project);
    assert_eq!(r.body["tenant_id"], project);
    let port_id = r.body["port_id"].as_str().unwrap().to_string();
    let r = user.get(&format!("/v2.0/ports/{port_id}")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let port = &r.body["port"];
    assert_eq!(port["device_owner"], "network:router_interface");
    assert_eq!(port["device_id"], rid.as_str());
    assert_eq!(port["status"], "ACTIVE");
    assert_eq!(port["fixed_ips"][0]["ip_address"], "10.1.0.1");

    // Same subnet twice, an overlapping subnet, no gateway.
    let r = user
        .put(&add, Some(json!({"subnet_id": s1["id"]})))
        .await
        .unwrap();
    assert_error(&r, 400, "BadRequest");
    let r = user
        .put(&add, Some(json!({"subnet_id": s2["id"]})))
        .await
        .unwrap();
    assert_error(&r, 400, "BadRequest");
    assert!(r.text.contains("overlaps"), "{}", r.text);
    let r = user.put(&add, Some(json!({}))).await.unwrap();
    assert_error(&r, 400, "BadRequest");

    // The gateway address taken by another port.
    let r = user
        .post(
            "/v2.0/ports",
            json!({"port": {"network_id": net2["id"],
                "fixed_ips": [{"subnet_id": s3["id"], "ip_address": "10.2.0.1"}]}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let blocker = r.body["port"]["id"].as_str().unwrap().to_string();
    let r = user
        .put(&add, Some(json!({"subnet_id": s3["id"]})))
        .await
        .unwrap();
    assert_error(&r, 409, "IpAddressAlreadyAllocated");
    let r = user
        .delete(&format!("/v2.0/ports/{blocker}"))
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);

    // In use: the router, the interface port, the subnet.
    let r = user.delete(&format!("/v2.0/routers/{rid}")).await.unwrap();
    assert_error(&r, 409, "RouterInUse");
    assert_eq!(
        r.body["NeutronError"]["message"],
        format!("Router {rid} has ports still attached: {port_id}")
    );
    // Interface requests are checked as neutron's _validate_interface_info.
    let r = user.put(&add, Some(json!({}))).await.unwrap();
    assert_error(&r, 400, "BadRequest");
    assert_eq!(
        r.body["NeutronError"]["message"],
        "Bad router request: Either subnet_id or port_id must be specified."
    );
    let r = user
        .put(&add, Some(json!({"subnet_id": "nope"})))
        .await
        .unwrap();
    assert_error(&r, 400, "BadRequest");
    assert_eq!(
        r.body["NeutronError"]["message"],
        "Bad router request: 'nope' is not a valid UUID."
    );
    let r = user
        .put(
            &add,
            Some(json!({"subnet_id": s1["id"], "port_id": s1["id"]})),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "BadRequest");
    assert_eq!(
        r.body["NeutronError"]["message"],
        "Bad router request: Cannot specify both subnet-id and port-id."
    );
    let r = user
        .delete(&format!("/v2.0/ports/{port_id}"))
        .await
        .unwrap();
    assert_error(&r, 409, "ServicePortInUse");
    let r = user
        .delete(&format!("/v2.0/subnets/{}", s1["id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_error(&r, 409, "SubnetInUse");

    let r = user
        .put(&remove, Some(json!({"subnet_id": s1["id"]})))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["port_id"], port_id.as_str());
    let r = user.get(&format!("/v2.0/ports/{port_id}")).await.unwrap();
    assert_eq!(r.status, 404, "{}", r.text);
    let r = user
        .put(&remove, Some(json!({"subnet_id": s1["id"]})))
        .await
        .unwrap();
    assert_error(&r, 404, "RouterInterfaceNotFoundForSubnet");
    let r = user.delete(&format!("/v2.0/routers/{rid}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = admin.get(&format!("/v2.0/routers/{rid}")).await.unwrap();
    assert_error(&r, 404, "RouterNotFound");
    assert_eq!(
        r.body["NeutronError"]["message"],
        format!("Router {rid} could not be found")
    );
}

#[tokio::test]
async fn router_quota_is_enforced() {
    let (cloud, admin) = start().await;
    let (user, project) = project_user(&cloud, "rquota", "member").await;
    let r = admin
        .put(
            &format!("/v2.0/quotas/{project}"),
            Some(json!({"quota": {"router": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = user
        .post("/v2.0/routers", json!({"router": {"name": "a"}}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = user
        .post("/v2.0/routers", json!({"router": {"name": "b"}}))
        .await
        .unwrap();
    assert_error(&r, 409, "OverQuota");
}

#[tokio::test]
async fn router_external_gateway() {
    let (cloud, admin) = start().await;
    let (user, project) = project_user(&cloud, "gwuser", "member").await;
    let ext = create_network(&admin, json!({"name": "public", "router:external": true})).await;
    let ext_sub = subnet(&admin, &ext, "203.0.113.0/24").await;
    let plain = create_network(&user, json!({"name": "private"})).await;

    // Not an external network: 400 as neutron's _validate_gw_info.
    let r = user
        .post(
            "/v2.0/routers",
            json!({"router": {"external_gateway_info": {"network_id": plain["id"]}}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "BadRequest");
    assert_eq!(
        r.body["NeutronError"]["message"],
        format!(
            "Bad router request: Network {} is not an external network.",
            plain["id"].as_str().unwrap()
        )
    );
    // enable_snat and external_fixed_ips are admin-only.
    for gw in [
        json!({"network_id": ext["id"], "enable_snat": false}),
        json!({"network_id": ext["id"], "external_fixed_ips": [{"subnet_id": ext_sub["id"]}]}),
    ] {
        let r = user
            .post(
                "/v2.0/routers",
                json!({"router": {"external_gateway_info": gw}}),
            )
            .await
            .unwrap();
        assert_error(&r, 403, "PolicyNotAuthorized");
    }

    let r = user
        .post(
            "/v2.0/routers",
            json!({"router": {"name": "gw", "external_gateway_info": {"network_id": ext["id"]}}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let router = r.body["router"].clone();
    let rid = router["id"].as_str().unwrap().to_string();
    let gw = &router["external_gateway_info"];
    assert_eq!(gw["network_id"], ext["id"]);
    assert_eq!(gw["enable_snat"], true);
    let ips = gw["external_fixed_ips"].as_array().unwrap();
    assert_eq!(ips.len(), 1, "{}", r.text);
    assert_eq!(ips[0]["subnet_id"], ext_sub["id"]);
    // .1 is the subnet's gateway, .2 its DHCP port's.
    assert_eq!(ips[0]["ip_address"], "203.0.113.3");

    // The gateway port: project-less, ACTIVE, protected.
    let r = admin
        .get(&format!(
            "/v2.0/ports?device_id={rid}&device_owner=network:router_gateway"
        ))
        .await
        .unwrap();
    let ports = r.body["ports"].as_array().unwrap().clone();
    assert_eq!(ports.len(), 1, "{}", r.text);
    assert_eq!(ports[0]["status"], "ACTIVE");
    assert_eq!(ports[0]["project_id"], "");
    assert_eq!(ports[0]["network_id"], ext["id"]);
    let gw_port = ports[0]["id"].as_str().unwrap().to_string();
    let r = admin
        .delete(&format!("/v2.0/ports/{gw_port}"))
        .await
        .unwrap();
    assert_error(&r, 409, "ServicePortInUse");
    // The external network cannot go while the router uses it.
    let r = admin
        .delete(&format!("/v2.0/networks/{}", ext["id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_error(&r, 409, "NetworkInUse");
    let r = user.get(&format!("/v2.0/routers/{rid}")).await.unwrap();
    assert_eq!(r.body["router"]["external_gateway_info"], *gw);
    assert_eq!(r.body["router"]["project_id"], project);

    // An admin may pick the address and turn SNAT off.
    let r = admin
        .put(
            &format!("/v2.0/routers/{rid}"),
            Some(json!({"router": {"external_gateway_info": {
                "network_id": ext["id"], "enable_snat": false,
                "external_fixed_ips": [{"ip_address": "203.0.113.50"}]}}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let gw = &r.body["router"]["external_gateway_info"];
    assert_eq!(gw["enable_snat"], false);
    assert_eq!(
        gw["external_fixed_ips"],
        json!([{"subnet_id": ext_sub["id"], "ip_address": "203.0.113.50"}])
    );
    let r = admin
        .put(
            &format!("/v2.0/routers/{rid}"),
            Some(json!({"router": {"external_gateway_info": {
                "network_id": ext["id"],
                "external_fixed_ips": [{"ip_address": "203.0.113.1"}]}}})),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "BadRequest");
    let r = admin.get(&format!("/v2.0/ports/{gw_port}")).await.unwrap();
    assert_error(&r, 404, "PortNotFound");

    // Clearing the gateway removes its port; then the network may go.
    let r = user
        .put(
            &format!("/v2.0/routers/{rid}"),
            Some(json!({"router": {"external_gateway_info": {}}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["router"]["external_gateway_info"], Value::Null);
    let r = admin
        .get(&format!("/v2.0/ports?device_id={rid}"))
        .await
        .unwrap();
    assert_eq!(r.body["ports"], json!([]), "{}", r.text);

    // A router deleted with its gateway takes the port along.
    let r = user
        .put(
            &format!("/v2.0/routers/{rid}"),
            Some(json!({"router": {"external_gateway_info": {"network_id": ext["id"]}}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = user.delete(&format!("/v2.0/routers/{rid}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = admin
        .delete(&format!("/v2.0/networks/{}", ext["id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
}

#[tokio::test]
async fn router_interfaces_by_port() {
    let (cloud, _admin) = start().await;
    let (user, project) = project_user(&cloud, "portiface", "member").await;
    let r = user
        .post("/v2.0/routers", json!({"router": {"name": "r"}}))
        .await
        .unwrap();
    let rid = r.body["router"]["id"].as_str().unwrap().to_string();
    let add = format!("/v2.0/routers/{rid}/add_router_interface");
    let remove = format!("/v2.0/routers/{rid}/remove_router_interface");
    let net = create_network(&user, json!({"name": "n"})).await;
    let sub = subnet(&user, &net, "10.9.0.0/24").await;
    let other = subnet(&user, &net, "10.8.0.0/24").await;
    let r = user
        .post(
            "/v2.0/ports",
            json!({"port": {"network_id": net["id"],
                "fixed_ips": [{"subnet_id": sub["id"], "ip_address": "10.9.0.20"}]}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let pid = r.body["port"]["id"].as_str().unwrap().to_string();

    let r = user.put(&add, Some(json!({"port_id": pid}))).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["port_id"], pid.as_str());
    assert_eq!(r.body["subnet_id"], sub["id"]);
    assert_eq!(r.body["subnet_ids"], json!([sub["id"]]));
    assert_eq!(r.body["network_id"], net["id"]);
    assert_eq!(r.body["project_id"], project);
    let r = user.get(&format!("/v2.0/ports/{pid}")).await.unwrap();
    assert_eq!(r.body["port"]["device_owner"], "network:router_interface");
    assert_eq!(r.body["port"]["device_id"], rid.as_str());
    assert_eq!(r.body["port"]["status"], "ACTIVE");

    // Attached already: 409 PortInUse; a subnet already on the router: 400.
    let r = user.put(&add, Some(json!({"port_id": pid}))).await.unwrap();
    assert_error(&r, 409, "PortInUse");
    let r = user
        .put(&add, Some(json!({"subnet_id": sub["id"]})))
        .await
        .unwrap();
    assert_error(&r, 400, "BadRequest");
    assert_eq!(
        r.body["NeutronError"]["message"],
        format!(
            "Bad router request: Router already has a port on subnet {}.",
            sub["id"].as_str().unwrap()
        )
    );
    // A port with no address.
    let r = user
        .post(
            "/v2.0/ports",
            json!({"port": {"network_id": net["id"], "fixed_ips": []}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let bare = r.body["port"]["id"].as_str().unwrap().to_string();
    let r = user
        .put(&add, Some(json!({"port_id": bare})))
        .await
        .unwrap();
    assert_error(&r, 400, "BadRequest");
    assert_eq!(
        r.body["NeutronError"]["message"],
        "Bad router request: Router port must have at least one fixed IP."
    );

    // Removal: a wrong subnet, an unknown interface, then the port.
    let r = user
        .put(
            &remove,
            Some(json!({"port_id": pid, "subnet_id": other["id"]})),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "SubnetMismatchForPort");
    let r = user
        .put(&remove, Some(json!({"port_id": bare})))
        .await
        .unwrap();
    assert_error(&r, 404, "RouterInterfaceNotFound");
    let r = user
        .put(&remove, Some(json!({"port_id": pid})))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["subnet_ids"], json!([sub["id"]]));
    let r = user.get(&format!("/v2.0/ports/{pid}")).await.unwrap();
    assert_error(&r, 404, "PortNotFound");
    let r = user.delete(&format!("/v2.0/routers/{rid}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
}

#[tokio::test]
async fn router_extra_routes() {
    let (cloud, _admin) = start().await;
    let (user, _) = project_user(&cloud, "routesuser", "member").await;
    let r = user.get("/v2.0/extensions/extraroute").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = user
        .post("/v2.0/routers", json!({"router": {"name": "r"}}))
        .await
        .unwrap();
    assert_eq!(r.body["router"]["routes"], json!([]), "{}", r.text);
    let rid = r.body["router"]["id"].as_str().unwrap().to_string();
    let url = format!("/v2.0/routers/{rid}");
    let net = create_network(&user, json!({"name": "n"})).await;
    let sub = subnet(&user, &net, "10.1.0.0/24").await;
    let r = user
        .put(
            &format!("{url}/add_router_interface"),
            Some(json!({"subnet_id": sub["id"]})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);

    let route = json!({"destination": "192.168.0.0/24", "nexthop": "10.1.0.5"});
    let r = user
        .put(&url, Some(json!({"router": {"routes": [route]}})))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["router"]["routes"], json!([route]));
    let r = user.get(&url).await.unwrap();
    assert_eq!(r.body["router"]["routes"], json!([route]));

    let r = user
        .put(
            &url,
            Some(json!({"router": {"routes": [
                {"destination": "192.168.0.0/24", "nexthop": "10.2.0.5"}]}})),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "InvalidRoutes");
    assert_eq!(
        r.body["NeutronError"]["message"],
        "Invalid format for routes: [{'destination': '192.168.0.0/24', 'nexthop': '10.2.0.5'}], \
         the nexthop is not connected with router"
    );
    let r = user
        .put(
            &url,
            Some(json!({"router": {"routes": [
                {"destination": "192.168.0.0/24", "nexthop": "10.1.0.1"}]}})),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "InvalidRoutes");
    let r = user
        .put(
            &url,
            Some(json!({"router": {"routes": [{"destination": "nope", "nexthop": "10.1.0.5"}]}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text);
    let r = user
        .post("/v2.0/routers", json!({"router": {"routes": [route]}}))
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text);
    // The routes were left as they were.
    let r = user.get(&url).await.unwrap();
    assert_eq!(r.body["router"]["routes"], json!([route]));

    // The interface a nexthop needs cannot go.
    let r = user
        .put(
            &format!("{url}/remove_router_interface"),
            Some(json!({"subnet_id": sub["id"]})),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "RouterInterfaceInUseByRoute");
    let r = user
        .put(&url, Some(json!({"router": {"routes": []}})))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["router"]["routes"], json!([]));
    let r = user
        .put(
            &format!("{url}/remove_router_interface"),
            Some(json!({"subnet_id": sub["id"]})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
}

/// What tempest's router tests do after the basics: `routes: null`
/// clears the routes (convert_none_to_empty_list), so the interface can
/// go; a router interface port updated through the port API (fixed_ips
/// by subnet) keeps its router and stays ACTIVE; routers take tags.
#[tokio::test]
async fn router_routes_null_interface_port_update_and_tags() {
    let (cloud, _admin) = start().await;
    let (user, _) = project_user(&cloud, "routertempest", "member").await;
    let r = user
        .post("/v2.0/routers", json!({"router": {"name": "r"}}))
        .await
        .unwrap();
    assert_eq!(r.body["router"]["tags"], json!([]), "{}", r.text);
    let rid = r.body["router"]["id"].as_str().unwrap().to_string();
    let url = format!("/v2.0/routers/{rid}");
    let net = create_network(&user, json!({"name": "n"})).await;
    let sub = subnet(&user, &net, "10.1.0.0/24").await;
    let r = user
        .put(
            &format!("{url}/add_router_interface"),
            Some(json!({"subnet_id": sub["id"]})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let port_id = r.body["port_id"].as_str().unwrap().to_string();

    let route = json!({"destination": "192.168.0.0/24", "nexthop": "10.1.0.5"});
    let r = user
        .put(&url, Some(json!({"router": {"routes": [route]}})))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = user
        .put(&url, Some(json!({"router": {"routes": null}})))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["router"]["routes"], json!([]));

    // The interface port's address changes; it stays the router's, ACTIVE.
    let r = user
        .put(
            &format!("/v2.0/ports/{port_id}"),
            Some(json!({"port": {"fixed_ips": [{"subnet_id": sub["id"]}]}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let p = &r.body["port"];
    assert_eq!(p["fixed_ips"][0]["subnet_id"], sub["id"]);
    assert_eq!(p["device_owner"], "network:router_interface");
    assert_eq!(p["device_id"], rid.as_str());
    assert_eq!(p["status"], "ACTIVE", "{}", r.text);

    // Tags on the router: the tag API (bumping its revision), the body,
    // the tag filters.
    let before = user.get(&url).await.unwrap().body["router"]["revision_number"]
        .as_i64()
        .unwrap();
    let r = user.put(&format!("{url}/tags/red"), None).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = user.get(&format!("{url}/tags")).await.unwrap();
    assert_eq!(r.body["tags"], json!(["red"]), "{}", r.text);
    let r = user.get(&format!("{url}/tags/red")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = user.get(&url).await.unwrap();
    assert_eq!(r.body["router"]["tags"], json!(["red"]), "{}", r.text);
    assert_eq!(
        r.body["router"]["revision_number"],
        before + 1,
        "{}",
        r.text
    );
    let r = user.get("/v2.0/routers?tags=red").await.unwrap();
    assert_eq!(r.body["routers"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = user.get("/v2.0/routers?tags=blue").await.unwrap();
    assert_eq!(r.body["routers"], json!([]), "{}", r.text);
    let r = user
        .put(
            &format!("{url}/tags"),
            Some(json!({"tags": ["a", "b", "c"]})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["tags"], json!(["a", "b", "c"]));
    let r = user.delete(&format!("{url}/tags")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = user.get(&format!("{url}/tags/a")).await.unwrap();
    assert_error(&r, 404, "TagNotFound");
    // A reader of the project reads the tags but cannot change them
    // (`get_router:tags` / `update_router:tags`).
    let reader = cloud
        .project_user(
            "routertempest",
            "routertagreader",
            testkit::fixtures::PASSWORD,
            "reader",
        )
        .await
        .unwrap()
        .client
        .at(&cloud.url("network"));
    let r = reader.get(&format!("{url}/tags")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = reader.put(&format!("{url}/tags/x"), None).await.unwrap();
    assert_error(&r, 403, "PolicyNotAuthorized");
    // Another project's user cannot tag it (it does not see it).
    let (other, _) = project_user(&cloud, "routertagother", "member").await;
    let r = other.put(&format!("{url}/tags/x"), None).await.unwrap();
    assert_error(&r, 404, "RouterNotFound");

    // The interface goes now that no route needs it, then the router.
    let r = user
        .put(
            &format!("{url}/remove_router_interface"),
            Some(json!({"subnet_id": sub["id"]})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = user.put(&format!("{url}/tags/gone"), None).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = user.delete(&url).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = user.get(&format!("{url}/tags")).await.unwrap();
    assert_error(&r, 404, "RouterNotFound");
}

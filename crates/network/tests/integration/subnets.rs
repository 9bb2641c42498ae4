//! Subnets: defaults, validation as upstream, IPv6 modes, overlap,
//! updates, lists, isolation, and deletion with the network.

use super::*;

pub async fn create_subnet(c: &Client, body: Value) -> Value {
    let r = c
        .post("/v2.0/subnets", json!({"subnet": body}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["subnet"].clone()
}

fn msg(r: &Resp) -> String {
    r.body["NeutronError"]["message"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn ipv4_defaults_and_network_subnets() {
    let (cloud, _admin) = start().await;
    let (alice, project) = project_user(&cloud, "alice", "member").await;
    let net = create_network(&alice, json!({"name": "n"})).await;
    let nid = net["id"].as_str().unwrap();
    let s = create_subnet(
        &alice,
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.0.0.0/24", "name": "s1"}),
    )
    .await;
    assert_eq!(s["gateway_ip"], "10.0.0.1");
    assert_eq!(
        s["allocation_pools"],
        json!([{"start": "10.0.0.2", "end": "10.0.0.254"}])
    );
    assert_eq!(s["enable_dhcp"], true);
    assert_eq!(s["dns_nameservers"], json!([]));
    assert_eq!(s["host_routes"], json!([]));
    assert_eq!(s["ipv6_ra_mode"], Value::Null);
    assert_eq!(s["subnetpool_id"], Value::Null);
    assert_eq!(s["project_id"], project.as_str());
    assert_eq!(s["revision_number"], 0);
    let sid = s["id"].as_str().unwrap();
    let r = alice.get(&format!("/v2.0/networks/{nid}")).await.unwrap();
    assert_eq!(r.body["network"]["subnets"], json!([sid]));

    // Null gateway: the whole range is the pool.
    let s2 = create_subnet(
        &alice,
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.0.1.0/29", "gateway_ip": null}),
    )
    .await;
    assert_eq!(s2["gateway_ip"], Value::Null);
    assert_eq!(
        s2["allocation_pools"],
        json!([{"start": "10.0.1.1", "end": "10.0.1.6"}])
    );
    // A gateway in the middle splits the default pool; one outside the
    // CIDR is accepted (upstream).
    let s3 = create_subnet(
        &alice,
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.0.2.0/28", "gateway_ip": "10.0.2.5"}),
    )
    .await;
    assert_eq!(
        s3["allocation_pools"],
        json!([{"start": "10.0.2.1", "end": "10.0.2.4"}, {"start": "10.0.2.6", "end": "10.0.2.14"}])
    );
    let s4 = create_subnet(
        &alice,
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.0.3.0/24", "gateway_ip": "192.168.9.1",
               "dns_nameservers": ["8.8.8.8", "1.1.1.1"],
               "host_routes": [{"destination": "172.16.0.0/16", "nexthop": "10.0.3.9"}]}),
    )
    .await;
    assert_eq!(s4["gateway_ip"], "192.168.9.1");
    assert_eq!(s4["dns_nameservers"], json!(["8.8.8.8", "1.1.1.1"]));
    assert_eq!(
        s4["host_routes"],
        json!([{"destination": "172.16.0.0/16", "nexthop": "10.0.3.9"}])
    );

    // Lists: filters, fields, paging.
    let r = alice
        .get(&format!("/v2.0/subnets?network_id={nid}&cidr=10.0.1.0/29"))
        .await
        .unwrap();
    assert_eq!(r.body["subnets"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = alice
        .get("/v2.0/subnets.json?fields=id&fields=cidr&sort_key=cidr&sort_dir=desc&limit=2")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let items = r.body["subnets"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["cidr"], "10.0.3.0/24");
    assert_eq!(items[0].as_object().unwrap().len(), 2);
    assert!(r.body["subnets_links"].is_array());

    // Update: name, pools, gateway against the pools.
    let r = alice
        .put(
            &format!("/v2.0/subnets/{sid}"),
            Some(json!({"subnet": {"name": "renamed", "allocation_pools": [{"start": "10.0.0.10", "end": "10.0.0.20"}]}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["subnet"]["name"], "renamed");
    assert_eq!(r.body["subnet"]["revision_number"], 1);
    assert_eq!(
        r.body["subnet"]["allocation_pools"],
        json!([{"start": "10.0.0.10", "end": "10.0.0.20"}])
    );
    let r = alice
        .put(
            &format!("/v2.0/subnets/{sid}"),
            Some(json!({"subnet": {"gateway_ip": "10.0.0.15"}})),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "GatewayConflictWithAllocationPools");
    assert_eq!(
        msg(&r),
        "Gateway ip 10.0.0.15 conflicts with allocation pool 10.0.0.10-10.0.0.20."
    );
    let r = alice
        .put(
            &format!("/v2.0/subnets/{sid}"),
            Some(json!({"subnet": {"cidr": "10.9.0.0/24"}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text);

    // Tags on subnets.
    let r = alice
        .put(&format!("/v2.0/subnets/{sid}/tags/red"), None)
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = alice.get("/v2.0/subnets?tags=red").await.unwrap();
    assert_eq!(r.body["subnets"][0]["id"], sid);

    // Deleting the network removes its subnets.
    let r = alice
        .delete(&format!("/v2.0/networks/{nid}"))
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = alice.get(&format!("/v2.0/subnets/{sid}")).await.unwrap();
    assert_error(&r, 404, "SubnetNotFound");
    let r = alice.get("/v2.0/subnets").await.unwrap();
    assert_eq!(r.body["subnets"], json!([]));
    cloud.stop().await;
}

#[tokio::test]
async fn validation_messages_are_upstreams() {
    let (cloud, _admin) = start().await;
    let (alice, _) = project_user(&cloud, "alice", "member").await;
    let net = create_network(&alice, json!({})).await;
    let nid = net["id"].as_str().unwrap();
    let post = |body: Value| {
        let c = alice.clone();
        async move {
            c.post("/v2.0/subnets", json!({"subnet": body}))
                .await
                .unwrap()
        }
    };
    create_subnet(
        &alice,
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.0.0.0/24"}),
    )
    .await;
    let r = post(json!({"network_id": nid, "ip_version": 4, "cidr": "10.0.0.128/25"})).await;
    assert_error(&r, 400, "InvalidInput");
    assert_eq!(
        msg(&r),
        format!("Invalid input for operation: Requested subnet with cidr: 10.0.0.128/25 for network: {nid} overlaps with another subnet.")
    );
    let r = post(json!({"network_id": nid, "ip_version": 4, "cidr": "10.1.0.0/24", "gateway_ip": "10.1.0.0"})).await;
    assert_error(&r, 400, "InvalidInput");
    assert_eq!(
        msg(&r),
        "Invalid input for operation: Gateway is not valid on subnet."
    );
    let r = post(json!({"network_id": nid, "ip_version": 4, "cidr": "10.1.0.0/24", "gateway_ip": "10.1.0.255"})).await;
    assert_error(&r, 400, "InvalidInput");
    let r = post(
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.1.0.0/24",
        "allocation_pools": [{"start": "10.1.0.10", "end": "10.1.1.20"}]}),
    )
    .await;
    assert_error(&r, 400, "OutOfBoundsAllocationPool");
    assert_eq!(
        msg(&r),
        "The allocation pool 10.1.0.10-10.1.1.20 spans beyond the subnet cidr 10.1.0.0/24."
    );
    let r = post(json!({"network_id": nid, "ip_version": 4, "cidr": "10.1.0.0/24",
        "allocation_pools": [{"start": "10.1.0.10", "end": "10.1.0.20"}, {"start": "10.1.0.15", "end": "10.1.0.30"}]}))
    .await;
    assert_error(&r, 409, "OverlappingAllocationPools");
    assert_eq!(
        msg(&r),
        "Found overlapping allocation pools: 10.1.0.10-10.1.0.20 10.1.0.15-10.1.0.30 for subnet 10.1.0.0/24."
    );
    let r = post(
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.1.0.0/24",
        "allocation_pools": [{"start": "10.1.0.1", "end": "10.1.0.20"}]}),
    )
    .await;
    assert_error(&r, 409, "GatewayConflictWithAllocationPools");
    let r = post(
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.1.0.0/24",
        "allocation_pools": [{"start": "10.1.0.30", "end": "10.1.0.20"}]}),
    )
    .await;
    assert_error(&r, 400, "InvalidAllocationPool");
    let r = post(json!({"network_id": nid, "ip_version": 4, "cidr": "10.1.0.5/24"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        msg(&r),
        "Invalid input for cidr. Reason: '10.1.0.5/24' isn't a recognized IP subnet cidr, '10.1.0.0/24' is recommended."
    );
    let r = post(json!({"network_id": nid, "ip_version": 6, "cidr": "10.1.0.0/24"})).await;
    assert_eq!(
        msg(&r),
        "Invalid input for operation: cidr '10.1.0.0/24' does not match the ip_version '6'."
    );
    let r = post(json!({"network_id": nid, "ip_version": 5, "cidr": "10.1.0.0/24"})).await;
    assert_eq!(
        msg(&r),
        "Invalid input for ip_version. Reason: '5' is not in [4, 6]."
    );
    let r = post(json!({"network_id": nid, "ip_version": 4})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = post(
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.1.0.0/24", "ipv6_ra_mode": "slaac"}),
    )
    .await;
    assert_eq!(
        msg(&r),
        "Invalid input for operation: ipv6_ra_mode is not valid when ip_version is 4."
    );
    let r = post(json!({"network_id": nid, "ip_version": 4, "cidr": "10.1.0.0/31"})).await;
    assert_eq!(
        msg(&r),
        "Invalid input for operation: Subnet has a prefix length that is incompatible with DHCP service enabled."
    );
    let r = post(json!({"network_id": nid, "ip_version": 4, "cidr": "10.1.0.0/24", "dns_nameservers": ["8.8.8.8", "8.8.8.8"]})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r =
        post(json!({"network_id": nid, "ip_version": 4, "cidr": "10.1.0.0/24", "bogus": 1})).await;
    assert_eq!(msg(&r), "Unrecognized attribute(s) 'bogus'");
    let r = post(json!({"network_id": "nope", "ip_version": 4, "cidr": "10.1.0.0/24"})).await;
    assert_error(&r, 404, "NetworkNotFound");
    cloud.stop().await;
}

#[tokio::test]
async fn ipv6_modes_follow_upstream() {
    let (cloud, _admin) = start().await;
    let (alice, _) = project_user(&cloud, "alice", "member").await;
    let net = create_network(&alice, json!({})).await;
    let nid = net["id"].as_str().unwrap();
    let post = |body: Value| {
        let c = alice.clone();
        async move {
            c.post("/v2.0/subnets", json!({"subnet": body}))
                .await
                .unwrap()
        }
    };
    let s = create_subnet(
        &alice,
        json!({"network_id": nid, "ip_version": 6, "cidr": "2001:db8::/64",
               "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}),
    )
    .await;
    assert_eq!(s["gateway_ip"], "2001:db8::1");
    assert_eq!(
        s["allocation_pools"],
        json!([{"start": "2001:db8::2", "end": "2001:db8::ffff:ffff:ffff:ffff"}])
    );
    assert_eq!(s["ipv6_address_mode"], "slaac");
    let r = post(
        json!({"network_id": nid, "ip_version": 6, "cidr": "2001:db8:1::/64",
        "ipv6_ra_mode": "slaac", "ipv6_address_mode": "dhcpv6-stateful"}),
    )
    .await;
    assert_eq!(
        msg(&r),
        "Invalid input for operation: ipv6_ra_mode set to 'slaac' with ipv6_address_mode set to 'dhcpv6-stateful' is not valid. If both attributes are set, they must be the same value."
    );
    let r = post(
        json!({"network_id": nid, "ip_version": 6, "cidr": "2001:db8:1::/64",
        "ipv6_address_mode": "slaac", "enable_dhcp": false}),
    )
    .await;
    assert_eq!(
        msg(&r),
        "Invalid input for operation: ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False."
    );
    let r = post(
        json!({"network_id": nid, "ip_version": 6, "cidr": "2001:db8:1::/80",
        "ipv6_address_mode": "dhcpv6-stateless"}),
    )
    .await;
    assert_eq!(
        msg(&r),
        "Invalid input for operation: Invalid CIDR 2001:db8:1::/80 for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64."
    );
    let r = post(
        json!({"network_id": nid, "ip_version": 6, "cidr": "2001:db8:1::/64",
        "ipv6_address_mode": "bogus"}),
    )
    .await;
    assert_eq!(
        msg(&r),
        "Invalid input for ipv6_address_mode. Reason: 'bogus' is not in ['dhcpv6-stateful', 'dhcpv6-stateless', 'slaac']."
    );
    // Stateful needs no /64.
    create_subnet(
        &alice,
        json!({"network_id": nid, "ip_version": 6, "cidr": "2001:db8:2::/80",
               "ipv6_ra_mode": "dhcpv6-stateful", "ipv6_address_mode": "dhcpv6-stateful"}),
    )
    .await;
    let r = alice
        .put(
            &format!("/v2.0/subnets/{}", s["id"].as_str().unwrap()),
            Some(json!({"subnet": {"enable_dhcp": false}})),
        )
        .await
        .unwrap();
    assert_eq!(
        msg(&r),
        "Invalid input for operation: Cannot disable enable_dhcp with ipv6 attributes set."
    );
    cloud.stop().await;
}

#[tokio::test]
async fn isolation_and_shared_networks() {
    let (cloud, admin) = start().await;
    let (alice, _) = project_user(&cloud, "alice", "member").await;
    let (bob, _) = project_user(&cloud, "bob", "member").await;
    let net = create_network(&alice, json!({})).await;
    let nid = net["id"].as_str().unwrap();
    let s = create_subnet(
        &alice,
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.0.0.0/24"}),
    )
    .await;
    let sid = s["id"].as_str().unwrap();
    let r = bob.get(&format!("/v2.0/subnets/{sid}")).await.unwrap();
    assert_error(&r, 404, "SubnetNotFound");
    let r = bob.get("/v2.0/subnets").await.unwrap();
    assert_eq!(r.body["subnets"], json!([]));
    let r = bob
        .post(
            "/v2.0/subnets",
            json!({"subnet": {"network_id": nid, "ip_version": 4, "cidr": "10.1.0.0/24"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 404, "NetworkNotFound");
    let r = bob.delete(&format!("/v2.0/subnets/{sid}")).await.unwrap();
    assert_error(&r, 404, "SubnetNotFound");

    // A shared network's subnets are visible, not changeable.
    let shared = create_network(&admin, json!({"shared": true})).await;
    let shid = shared["id"].as_str().unwrap();
    let ss = create_subnet(
        &admin,
        json!({"network_id": shid, "ip_version": 4, "cidr": "10.5.0.0/24"}),
    )
    .await;
    let ssid = ss["id"].as_str().unwrap();
    let r = bob.get(&format!("/v2.0/subnets/{ssid}")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = bob.get("/v2.0/subnets").await.unwrap();
    assert_eq!(r.body["subnets"].as_array().unwrap().len(), 1);
    let r = bob.delete(&format!("/v2.0/subnets/{ssid}")).await.unwrap();
    assert_error(&r, 403, "PolicyNotAuthorized");
    let r = bob
        .post(
            "/v2.0/subnets",
            json!({"subnet": {"network_id": shid, "ip_version": 4, "cidr": "10.6.0.0/24"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 403, "PolicyNotAuthorized");
    // The owner deletes.
    let r = alice.delete(&format!("/v2.0/subnets/{sid}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = alice.get(&format!("/v2.0/networks/{nid}")).await.unwrap();
    assert_eq!(r.body["network"]["subnets"], json!([]));
    cloud.stop().await;
}

#[tokio::test]
async fn concurrent_overlapping_creates_leave_one() {
    let (cloud, admin) = start().await;
    let net = create_network(&admin, json!({})).await;
    let nid = net["id"].as_str().unwrap().to_string();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let c = admin.clone();
        let nid = nid.clone();
        tasks.push(tokio::spawn(async move {
            c.post(
                "/v2.0/subnets",
                json!({"subnet": {"network_id": nid, "ip_version": 4, "cidr": "10.0.0.0/24"}}),
            )
            .await
            .unwrap()
            .status
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            201 => ok += 1,
            400 => {}
            s => panic!("unexpected {s}"),
        }
    }
    assert_eq!(ok, 1);
    cloud.stop().await;
}

/// Neutron's `_remove_subnet_ip_allocations_from_ports`: a SLAAC or
/// DHCPv6-stateless subnet goes even while ports have addresses on it
/// (they lose them; the network still has the ports), a stateful one or
/// one with a router interface does not.
#[tokio::test]
async fn auto_address_subnets_delete_with_ports() {
    let (cloud, _admin) = start().await;
    let (alice, _) = project_user(&cloud, "autoaddr", "member").await;
    for mode in ["slaac", "dhcpv6-stateless"] {
        let net = create_network(&alice, json!({})).await;
        let nid = net["id"].as_str().unwrap();
        let s = create_subnet(
            &alice,
            json!({"network_id": nid, "ip_version": 6, "cidr": "2001:db8::/64",
                   "ipv6_ra_mode": mode, "ipv6_address_mode": mode}),
        )
        .await;
        let r = alice
            .post("/v2.0/ports", json!({"port": {"network_id": nid}}))
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.text);
        let port = r.body["port"].clone();
        assert_eq!(port["fixed_ips"][0]["subnet_id"], s["id"], "{}", r.text);
        let r = alice
            .delete(&format!("/v2.0/subnets/{}", s["id"].as_str().unwrap()))
            .await
            .unwrap();
        assert_eq!(r.status, 204, "{mode}: {}", r.text);
        let r = alice.get("/v2.0/subnets").await.unwrap();
        assert!(
            !r.body["subnets"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["id"] == s["id"]),
            "{}",
            r.text
        );
        let r = alice
            .get(&format!("/v2.0/ports/{}", port["id"].as_str().unwrap()))
            .await
            .unwrap();
        assert_eq!(r.body["port"]["fixed_ips"], json!([]), "{}", r.text);
        assert!(
            r.body["port"]["revision_number"].as_i64().unwrap()
                > port["revision_number"].as_i64().unwrap()
        );
        let r = alice
            .delete(&format!("/v2.0/networks/{nid}"))
            .await
            .unwrap();
        assert_error(&r, 409, "NetworkInUse");
        assert!(msg(&r).contains("There are one or more ports still in use on the network"));
    }

    // DHCPv6-stateful: the port's address is its own, so 409.
    let net = create_network(&alice, json!({})).await;
    let nid = net["id"].as_str().unwrap();
    let s = create_subnet(
        &alice,
        json!({"network_id": nid, "ip_version": 6, "cidr": "2001:db8:1::/64",
               "ipv6_ra_mode": "dhcpv6-stateful", "ipv6_address_mode": "dhcpv6-stateful"}),
    )
    .await;
    let r = alice
        .post("/v2.0/ports", json!({"port": {"network_id": nid}}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = alice
        .delete(&format!("/v2.0/subnets/{}", s["id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_error(&r, 409, "SubnetInUse");

    // SLAAC with a router interface on it: 409 too.
    let net = create_network(&alice, json!({})).await;
    let nid = net["id"].as_str().unwrap();
    let s = create_subnet(
        &alice,
        json!({"network_id": nid, "ip_version": 6, "cidr": "2001:db8:2::/64",
               "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}),
    )
    .await;
    let r = alice
        .post("/v2.0/routers", json!({"router": {"name": "r"}}))
        .await
        .unwrap();
    let rid = r.body["router"]["id"].as_str().unwrap().to_string();
    let r = alice
        .put(
            &format!("/v2.0/routers/{rid}/add_router_interface"),
            Some(json!({"subnet_id": s["id"]})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = alice
        .delete(&format!("/v2.0/subnets/{}", s["id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_error(&r, 409, "SubnetInUse");
}

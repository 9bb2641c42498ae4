//! Ports and IPAM: addresses from the pools or as asked, MACs, EUI-64,
//! binding and status, security attributes, the DHCP port, deletion
//! rules, lists, isolation, and allocation under concurrency.

use super::subnets::create_subnet;
use super::*;
use std::collections::HashSet;

pub async fn create_port(c: &Client, body: Value) -> Value {
    let r = c.post("/v2.0/ports", json!({"port": body})).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["port"].clone()
}

fn ips(p: &Value) -> Vec<String> {
    p["fixed_ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["ip_address"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn addresses_macs_dhcp_port_and_release() {
    let (cloud, _admin) = start().await;
    let (alice, project) = project_user(&cloud, "alice", "member").await;
    let net = create_network(&alice, json!({"name": "n"})).await;
    let nid = net["id"].as_str().unwrap();
    let s = create_subnet(
        &alice,
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.0.0.0/24"}),
    )
    .await;
    let sid = s["id"].as_str().unwrap();

    // The DHCP port came with the subnet and took the pool's first address.
    let r = alice
        .get(&format!(
            "/v2.0/ports?network_id={nid}&device_owner=network:dhcp"
        ))
        .await
        .unwrap();
    let dhcp = r.body["ports"].as_array().unwrap();
    assert_eq!(dhcp.len(), 1, "{}", r.text);
    assert_eq!(ips(&dhcp[0]), vec!["10.0.0.2"]);
    assert_eq!(dhcp[0]["device_id"], "reserved_dhcp_port");

    let p = create_port(&alice, json!({"network_id": nid, "name": "p1"})).await;
    assert_eq!(ips(&p), vec!["10.0.0.3"]);
    assert_eq!(p["fixed_ips"][0]["subnet_id"], sid);
    assert!(p["mac_address"].as_str().unwrap().starts_with("fa:16:3e:"));
    assert_eq!(p["status"], "DOWN");
    assert_eq!(p["admin_state_up"], true);
    assert_eq!(p["device_owner"], "");
    assert_eq!(p["project_id"], project.as_str());
    assert_eq!(p["port_security_enabled"], true);
    assert_eq!(p["binding:vnic_type"], "normal");
    assert!(p.get("binding:host_id").is_none(), "admin-only: {p}");
    assert_eq!(p["allowed_address_pairs"], json!([]));
    assert_eq!(p["extra_dhcp_opts"], json!([]));
    assert_eq!(p["revision_number"], 0);

    // A specific address, then the same again.
    let p2 = create_port(
        &alice,
        json!({"network_id": nid, "fixed_ips": [{"ip_address": "10.0.0.50"}]}),
    )
    .await;
    assert_eq!(ips(&p2), vec!["10.0.0.50"]);
    let r = alice
        .post(
            "/v2.0/ports",
            json!({"port": {"network_id": nid, "fixed_ips": [{"subnet_id": sid, "ip_address": "10.0.0.50"}]}}),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "IpAddressAlreadyAllocated");
    let bad = |body: Value| {
        let c = alice.clone();
        async move { c.post("/v2.0/ports", json!({"port": body})).await.unwrap() }
    };
    let r = bad(json!({"network_id": nid, "fixed_ips": [{"ip_address": "192.168.0.5"}]})).await;
    assert_error(&r, 400, "InvalidIpForNetwork");
    let r = bad(json!({"network_id": nid, "fixed_ips": [{"ip_address": "10.0.0.255"}]})).await;
    assert_error(&r, 400, "InvalidIpForSubnet");
    let r = bad(json!({"network_id": nid, "fixed_ips": [{"subnet_id": "nope"}]})).await;
    assert_error(&r, 400, "InvalidInput");
    let r = bad(json!({"network_id": nid, "fixed_ips": [{}]})).await;
    assert_error(&r, 400, "InvalidInput");
    let r = bad(json!({"network_id": nid, "fixed_ips": [{"ip_address": "x"}]})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = bad(json!({"network_id": nid, "mac_address": p["mac_address"]})).await;
    assert_error(&r, 409, "MacAddressInUse");
    let r = bad(json!({"network_id": nid, "mac_address": "zz"})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = bad(json!({"network_id": nid, "status": "ACTIVE"})).await;
    assert_eq!(r.status, 400, "{}", r.text);

    // A given MAC, and bulk creation with tags.
    let p3 = create_port(
        &alice,
        json!({"network_id": nid, "mac_address": "FA:16:3E:AA:BB:CC"}),
    )
    .await;
    assert_eq!(p3["mac_address"], "fa:16:3e:aa:bb:cc");
    let r = alice
        .post(
            "/v2.0/ports",
            json!({"ports": [{"network_id": nid, "tags": ["a"]}, {"network_id": nid, "device_id": "vm1", "device_owner": "compute:nova"}]}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let bulk = r.body["ports"].as_array().unwrap();
    assert_eq!(bulk.len(), 2);
    assert_eq!(bulk[0]["tags"], json!(["a"]));
    assert_ne!(ips(&bulk[0]), ips(&bulk[1]));
    assert_eq!(bulk[1]["device_owner"], "compute:nova");

    // Lists: by address, by subnet, fields, device_id.
    let r = alice
        .get("/v2.0/ports?fixed_ips=ip_address%3D10.0.0.50")
        .await
        .unwrap();
    let found = r.body["ports"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{}", r.text);
    assert_eq!(found[0]["id"], p2["id"]);
    let r = alice
        .get(&format!(
            "/v2.0/ports?fixed_ips=subnet_id%3D{sid}&fields=id&fields=fixed_ips"
        ))
        .await
        .unwrap();
    let found = r.body["ports"].as_array().unwrap();
    assert_eq!(found.len(), 6, "{}", r.text);
    assert_eq!(found[0].as_object().unwrap().len(), 2);
    let r = alice.get("/v2.0/ports.json?device_id=vm1").await.unwrap();
    assert_eq!(r.body["ports"].as_array().unwrap().len(), 1);
    let r = alice.get("/v2.0/ports?tags=a").await.unwrap();
    assert_eq!(r.body["ports"].as_array().unwrap().len(), 1);
    let r = alice
        .get("/v2.0/ports?sort_key=mac_address&sort_dir=asc&limit=2")
        .await
        .unwrap();
    assert_eq!(r.body["ports"].as_array().unwrap().len(), 2);
    assert!(r.body["ports_links"].is_array());

    // Deleting a port releases its address: the next port gets it.
    let pid = p["id"].as_str().unwrap();
    let r = alice.delete(&format!("/v2.0/ports/{pid}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = alice.get(&format!("/v2.0/ports/{pid}")).await.unwrap();
    assert_error(&r, 404, "PortNotFound");
    let again = create_port(&alice, json!({"network_id": nid})).await;
    assert_eq!(ips(&again), vec!["10.0.0.3"]);

    // Tags API on ports.
    let aid = again["id"].as_str().unwrap();
    let r = alice
        .put(&format!("/v2.0/ports/{aid}/tags/red"), None)
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = alice.get(&format!("/v2.0/ports/{aid}")).await.unwrap();
    assert_eq!(r.body["port"]["tags"], json!(["red"]));
    assert_eq!(r.body["port"]["revision_number"], 1);
    cloud.stop().await;
}

#[tokio::test]
async fn updates_binding_status_and_security_attributes() {
    let (cloud, admin) = start().await;
    let (alice, _) = project_user(&cloud, "alice", "member").await;
    let net = create_network(&alice, json!({})).await;
    let nid = net["id"].as_str().unwrap();
    let s = create_subnet(
        &alice,
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.1.0.0/24", "enable_dhcp": false}),
    )
    .await;
    let sid = s["id"].as_str().unwrap();
    let p = create_port(&alice, json!({"network_id": nid})).await;
    let pid = p["id"].as_str().unwrap();
    assert_eq!(ips(&p), vec!["10.1.0.2"], "no DHCP port without DHCP");

    // binding:host_id is the admin's; bound with no data plane: ACTIVE.
    let r = alice
        .put(
            &format!("/v2.0/ports/{pid}"),
            Some(json!({"port": {"binding:host_id": "node1"}})),
        )
        .await
        .unwrap();
    assert_error(&r, 403, "PolicyNotAuthorized");
    let r = alice
        .post(
            "/v2.0/ports",
            json!({"port": {"network_id": nid, "binding:host_id": "node1"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 403, "PolicyNotAuthorized");
    let r = admin
        .put(
            &format!("/v2.0/ports/{pid}"),
            Some(json!({"port": {"binding:host_id": "node1", "binding:profile": {"k": "v"}}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let b = &r.body["port"];
    assert_eq!(b["status"], "ACTIVE");
    assert_eq!(b["binding:host_id"], "node1");
    assert_eq!(b["binding:vif_type"], "bridge");
    assert_eq!(b["binding:profile"], json!({"k": "v"}));
    assert_eq!(b["revision_number"], 1);
    let r = alice.get(&format!("/v2.0/ports/{pid}")).await.unwrap();
    assert_eq!(r.body["port"]["status"], "ACTIVE");
    assert!(r.body["port"].get("binding:vif_type").is_none());
    let r = admin
        .get(&format!(
            "/v2.0/ports?binding:host_id=node1&network_id={nid}"
        ))
        .await
        .unwrap();
    assert_eq!(r.body["ports"].as_array().unwrap().len(), 1, "{}", r.text);
    // A bound port's MAC stays.
    let r = admin
        .put(
            &format!("/v2.0/ports/{pid}"),
            Some(json!({"port": {"mac_address": "fa:16:3e:00:00:99"}})),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "PortBound");

    // fixed_ips: add a second address, keep the first, then swap.
    let r = alice
        .put(
            &format!("/v2.0/ports/{pid}"),
            Some(json!({"port": {"fixed_ips": [{"ip_address": "10.1.0.2"}, {"subnet_id": sid}]}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ips(&r.body["port"]), vec!["10.1.0.2", "10.1.0.3"]);
    let r = alice
        .put(
            &format!("/v2.0/ports/{pid}"),
            Some(json!({"port": {"fixed_ips": [{"subnet_id": sid, "ip_address": "10.1.0.3"}]}})),
        )
        .await
        .unwrap();
    assert_eq!(ips(&r.body["port"]), vec!["10.1.0.3"]);
    let other = create_port(&alice, json!({"network_id": nid})).await;
    assert_eq!(
        ips(&other),
        vec!["10.1.0.2"],
        "the released address is free"
    );

    // Allowed address pairs, extra DHCP options, security groups, port
    // security.
    let r = alice
        .post(
            "/v2.0/security-groups",
            json!({"security_group": {"name": "sg"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let sg = r.body["security_group"]["id"].as_str().unwrap().to_string();
    let r = alice
        .put(
            &format!("/v2.0/ports/{pid}"),
            Some(json!({"port": {
                "allowed_address_pairs": [{"ip_address": "10.1.0.0/28"}, {"ip_address": "10.1.0.99", "mac_address": "fa:16:3e:11:22:33"}],
                "extra_dhcp_opts": [{"opt_name": "tftp-server", "opt_value": "10.1.0.9"}],
                "security_groups": [sg],
            }})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let b = &r.body["port"];
    assert_eq!(
        b["allowed_address_pairs"][0]["mac_address"], p["mac_address"],
        "the port's MAC by default"
    );
    assert_eq!(
        b["extra_dhcp_opts"],
        json!([{"opt_name": "tftp-server", "opt_value": "10.1.0.9", "ip_version": 4}])
    );
    assert_eq!(b["security_groups"], json!([sg]));
    let r = alice
        .get(&format!("/v2.0/ports?security_groups={sg}"))
        .await
        .unwrap();
    assert_eq!(r.body["ports"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = alice
        .put(
            &format!("/v2.0/ports/{pid}"),
            Some(json!({"port": {"port_security_enabled": false}})),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "PortSecurityPortHasSecurityGroup");
    let r = alice
        .put(
            &format!("/v2.0/ports/{pid}"),
            Some(json!({"port": {"port_security_enabled": false, "security_groups": []}})),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "AddressPairAndPortSecurityRequired");
    let r = alice
        .put(
            &format!("/v2.0/ports/{pid}"),
            Some(json!({"port": {"port_security_enabled": false, "security_groups": [], "allowed_address_pairs": []}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["port"]["port_security_enabled"], false);
    let r = alice
        .post(
            "/v2.0/ports",
            json!({"port": {"network_id": nid, "allowed_address_pairs": [{"mac_address": "fa:16:3e:00:00:01"}]}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "AllowedAddressPairsMissingIP");
    let r = alice
        .post(
            "/v2.0/ports",
            json!({"port": {"network_id": nid, "security_groups": ["not-a-uuid"]}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text);
    let r = alice
        .post(
            "/v2.0/ports",
            json!({"port": {"network_id": nid, "binding:vnic_type": "weird"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text);
    cloud.stop().await;
}

#[tokio::test]
async fn ipv6_slaac_gets_eui64_and_full_subnet_is_409() {
    let (cloud, admin) = start().await;
    let net = create_network(&admin, json!({})).await;
    let nid = net["id"].as_str().unwrap();
    let v6 = create_subnet(
        &admin,
        json!({"network_id": nid, "ip_version": 6, "cidr": "2001:db8:1::/64",
               "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}),
    )
    .await;
    let v4 = create_subnet(
        &admin,
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.2.0.0/29", "enable_dhcp": false}),
    )
    .await;
    let p = create_port(
        &admin,
        json!({"network_id": nid, "mac_address": "fa:16:3e:12:34:56"}),
    )
    .await;
    let got: HashSet<String> = ips(&p).into_iter().collect();
    assert!(got.contains("2001:db8:1:0:f816:3eff:fe12:3456"), "{p}");
    assert!(got.contains("10.2.0.2"), "{p}");
    let r = admin
        .post(
            "/v2.0/ports",
            json!({"port": {"network_id": nid, "fixed_ips": [{"subnet_id": v6["id"], "ip_address": "2001:db8:1::5"}]}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "InvalidInput");
    // /29 less gateway: .2-.6, one taken above; four more, then 409.
    for _ in 0..4 {
        create_port(
            &admin,
            json!({"network_id": nid, "fixed_ips": [{"subnet_id": v4["id"]}]}),
        )
        .await;
    }
    let r = admin
        .post(
            "/v2.0/ports",
            json!({"port": {"network_id": nid, "fixed_ips": [{"subnet_id": v4["id"]}]}}),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "IpAddressGenerationFailure");
    cloud.stop().await;
}

#[tokio::test]
async fn in_use_rules_and_isolation() {
    let (cloud, admin) = start().await;
    let (alice, _) = project_user(&cloud, "alice", "member").await;
    let (bob, _) = project_user(&cloud, "bob", "member").await;
    let net = create_network(&alice, json!({})).await;
    let nid = net["id"].as_str().unwrap();
    let s = create_subnet(
        &alice,
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.3.0.0/24"}),
    )
    .await;
    let sid = s["id"].as_str().unwrap();
    let p = create_port(&alice, json!({"network_id": nid})).await;
    let pid = p["id"].as_str().unwrap();

    // Bob sees neither the network nor the port.
    let r = bob.get(&format!("/v2.0/ports/{pid}")).await.unwrap();
    assert_error(&r, 404, "PortNotFound");
    let r = bob.get("/v2.0/ports").await.unwrap();
    assert_eq!(r.body["ports"], json!([]));
    let r = bob
        .post("/v2.0/ports", json!({"port": {"network_id": nid}}))
        .await
        .unwrap();
    assert_error(&r, 404, "NetworkNotFound");
    let r = bob.delete(&format!("/v2.0/ports/{pid}")).await.unwrap();
    assert_error(&r, 404, "PortNotFound");

    // On a shared network Bob makes his own port, but may not choose its
    // address; Alice, the network's owner, sees it.
    let r = admin
        .put(
            &format!("/v2.0/networks/{nid}"),
            Some(json!({"network": {"shared": true}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = bob
        .post(
            "/v2.0/ports",
            json!({"port": {"network_id": nid, "fixed_ips": [{"ip_address": "10.3.0.77"}]}}),
        )
        .await
        .unwrap();
    assert_error(&r, 403, "PolicyNotAuthorized");
    let bp = create_port(&bob, json!({"network_id": nid})).await;
    let r = alice
        .get(&format!("/v2.0/ports/{}", bp["id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = bob.get("/v2.0/ports").await.unwrap();
    assert_eq!(r.body["ports"].as_array().unwrap().len(), 1, "{}", r.text);

    // In use: the subnet and network stay while ports hold addresses.
    let r = alice.delete(&format!("/v2.0/subnets/{sid}")).await.unwrap();
    assert_error(&r, 409, "SubnetInUse");
    let r = alice
        .delete(&format!("/v2.0/networks/{nid}"))
        .await
        .unwrap();
    assert_error(&r, 409, "NetworkInUse");
    for id in [pid, bp["id"].as_str().unwrap()] {
        let r = admin.delete(&format!("/v2.0/ports/{id}")).await.unwrap();
        assert_eq!(r.status, 204, "{}", r.text);
    }
    // Only the DHCP port is left; it goes with the subnet's DHCP...
    let r = alice
        .put(
            &format!("/v2.0/subnets/{sid}"),
            Some(json!({"subnet": {"enable_dhcp": false}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin
        .get(&format!("/v2.0/ports?network_id={nid}"))
        .await
        .unwrap();
    assert_eq!(r.body["ports"], json!([]), "{}", r.text);
    // ...comes back with it, and goes with the network.
    let r = alice
        .put(
            &format!("/v2.0/subnets/{sid}"),
            Some(json!({"subnet": {"enable_dhcp": true}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin
        .get(&format!(
            "/v2.0/ports?network_id={nid}&device_owner=network:dhcp"
        ))
        .await
        .unwrap();
    assert_eq!(r.body["ports"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = alice
        .delete(&format!("/v2.0/networks/{nid}"))
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = admin.get("/v2.0/ports").await.unwrap();
    assert_eq!(r.body["ports"], json!([]), "{}", r.text);
    cloud.stop().await;
}

/// 200 creates race for a pool of 150: exactly 150 win, each with its
/// own address, and 50 get 409 IpAddressGenerationFailure.
#[tokio::test]
async fn concurrent_creates_never_share_an_address() {
    let (cloud, admin) = start().await;
    let net = create_network(&admin, json!({})).await;
    let nid = net["id"].as_str().unwrap().to_string();
    create_subnet(
        &admin,
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.9.0.0/24", "enable_dhcp": false,
               "allocation_pools": [{"start": "10.9.0.10", "end": "10.9.0.159"}]}),
    )
    .await;
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let c = admin.clone();
        let nid = nid.clone();
        tasks.push(tokio::spawn(async move {
            c.post("/v2.0/ports", json!({"port": {"network_id": nid}}))
                .await
                .unwrap()
        }));
    }
    let mut addrs = HashSet::new();
    let mut macs = HashSet::new();
    let (mut ok, mut full) = (0, 0);
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            201 => {
                ok += 1;
                for ip in ips(&r.body["port"]) {
                    assert!(addrs.insert(ip.clone()), "{ip} given twice");
                }
                assert!(macs.insert(r.body["port"]["mac_address"].to_string()));
            }
            _ => {
                assert_error(&r, 409, "IpAddressGenerationFailure");
                full += 1;
            }
        }
    }
    assert_eq!((ok, full), (150, 50));
    assert_eq!(addrs.len(), 150);
    let r = admin
        .get(&format!("/v2.0/ports?network_id={nid}&fields=id"))
        .await
        .unwrap();
    assert_eq!(r.body["ports"].as_array().unwrap().len(), 150);
    cloud.stop().await;
}

/// ip-substring-filtering: `fixed_ips=ip_address_substr=…` matches a
/// port with any address containing any of the substrings; `%` and `_`
/// are taken literally.
#[tokio::test]
async fn ports_filter_by_ip_substring() {
    let (cloud, _admin) = start().await;
    let (alice, _) = project_user(&cloud, "ipsubstr", "member").await;
    let r = alice
        .get("/v2.0/extensions/ip-substring-filtering")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let net = create_network(&alice, json!({})).await;
    let nid = net["id"].as_str().unwrap();
    let s = create_subnet(
        &alice,
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.0.0.0/24", "enable_dhcp": false}),
    )
    .await;
    let at = |ip: &str| json!({"network_id": nid, "fixed_ips": [{"subnet_id": s["id"], "ip_address": ip}]});
    let p9 = create_port(&alice, at("10.0.0.9")).await;
    let p10 = create_port(&alice, at("10.0.0.10")).await;
    let p19 = create_port(&alice, at("10.0.0.19")).await;
    let ids = |r: &Resp| -> HashSet<String> {
        r.body["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    };
    let id = |p: &Value| p["id"].as_str().unwrap().to_string();
    let r = alice
        .get("/v2.0/ports?fixed_ips=ip_address_substr%3D0.0.1")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ids(&r), HashSet::from([id(&p10), id(&p19)]), "{}", r.text);
    let r = alice
        .get("/v2.0/ports?fixed_ips=ip_address_substr%3D.9&fixed_ips=ip_address_substr%3D.10")
        .await
        .unwrap();
    assert_eq!(ids(&r), HashSet::from([id(&p9), id(&p10)]), "{}", r.text);
    // With an exact address too: both conditions hold.
    let r = alice
        .get("/v2.0/ports?fixed_ips=ip_address_substr%3D0.0.1&fixed_ips=ip_address%3D10.0.0.19")
        .await
        .unwrap();
    assert_eq!(ids(&r), HashSet::from([id(&p19)]), "{}", r.text);
    for literal in ["%25", "_", "10.0.0._"] {
        let r = alice
            .get(&format!(
                "/v2.0/ports?fixed_ips=ip_address_substr%3D{literal}"
            ))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(ids(&r).is_empty(), "{literal}: {}", r.text);
    }
}

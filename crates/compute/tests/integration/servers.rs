//! Servers on the fake driver: create → ACTIVE through the build saga,
//! the views per microversion, policy, bad input, failure injection,
//! quotas under parallel creates, delete, list filters and paging.

use super::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// An active public image (admin-made).
pub async fn image(cloud: &TestCloud, admin: &Client) -> String {
    let g = admin.at(&cloud.url("image"));
    let r = g
        .post(
            "/v2/images",
            json!({"name": "cirros", "disk_format": "raw", "container_format": "bare",
                   "visibility": "public"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = g
        .send_bytes(
            "PUT",
            &format!("/v2/images/{id}/file"),
            bytes::Bytes::from_static(b"not really a disk"),
            &[("content-type", "application/octet-stream")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    id
}

/// A network with a subnet `cidr` in the caller's project; its id.
pub async fn network(cloud: &TestCloud, c: &Client, name: &str, cidr: &str) -> String {
    let n = c.at(&cloud.url("network"));
    let r = n
        .post("/v2.0/networks", json!({"network": {"name": name}}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["network"]["id"].as_str().unwrap().to_string();
    let r = n
        .post(
            "/v2.0/subnets",
            json!({"subnet": {"network_id": id, "cidr": cidr, "ip_version": 4}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    id
}

/// The ports whose device is `server`.
pub async fn ports_of(cloud: &TestCloud, admin: &Client, server: &str) -> Vec<Value> {
    let r = admin
        .at(&cloud.url("network"))
        .get(&format!("/v2.0/ports?device_id={server}"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["ports"].as_array().unwrap().clone()
}

/// Creates a server; the 202's body.
pub async fn create(c: &Client, body: Value, v: &str) -> Resp {
    at_version(
        c,
        "POST",
        "/v2.1/servers",
        Some(&json!({ "server": body })),
        v,
    )
    .await
}

/// Polls until the server has `status` (10 s at most); its last view.
pub async fn wait_status(c: &Client, id: &str, status: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        let r = c.get(&format!("/v2.1/servers/{id}")).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        if r.body["server"]["status"] == status {
            return r.body["server"].clone();
        }
        last = r.body.clone();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server {id} never reached {status}: {last}");
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// What every user sees of a server at 2.1 (tempest v2_1 `server_detail`).
const DETAIL_21: &[&str] = &[
    "id",
    "name",
    "status",
    "tenant_id",
    "user_id",
    "metadata",
    "hostId",
    "image",
    "flavor",
    "created",
    "updated",
    "addresses",
    "accessIPv4",
    "accessIPv6",
    "links",
    "OS-DCF:diskConfig",
    "progress",
    "OS-EXT-AZ:availability_zone",
    "config_drive",
    "key_name",
    "security_groups",
    "OS-SRV-USG:launched_at",
    "OS-SRV-USG:terminated_at",
    "os-extended-volumes:volumes_attached",
    "OS-EXT-STS:task_state",
    "OS-EXT-STS:vm_state",
    "OS-EXT-STS:power_state",
];

#[tokio::test]
async fn a_server_builds_to_active_shows_per_microversion_and_deletes() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (user, project) = project_user(&cloud, "srv1", "member").await;
    let net = network(&cloud, &user, "private", "10.0.0.0/24").await;

    // No `networks` before 2.37: the project's only network.
    let r = create(
        &user,
        json!({"name": "vm one", "imageRef": img, "flavorRef": "1",
               "metadata": {"role": "web"}}),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(
        keys(&r.body["server"]),
        set(&[
            "id",
            "links",
            "OS-DCF:diskConfig",
            "security_groups",
            "adminPass"
        ])
    );
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let create_request = r.header("x-compute-request-id").unwrap();
    let loc = r.header("location").unwrap();
    assert!(loc.ends_with(&format!("/v2.1/servers/{id}")), "{loc}");

    let s = wait_status(&user, &id, "ACTIVE").await;
    assert_eq!(keys(&s), set(DETAIL_21));
    assert_eq!(s["tenant_id"], project.as_str());
    assert_eq!(s["OS-EXT-STS:vm_state"], "active");
    assert_eq!(s["OS-EXT-STS:power_state"], 1);
    assert!(s["OS-SRV-USG:launched_at"].is_string());
    assert_eq!(s["hostId"].as_str().unwrap().len(), 56);
    assert_eq!(s["flavor"]["id"], "1");
    assert_eq!(s["image"]["id"], img.as_str());
    assert_eq!(s["metadata"], json!({"role": "web"}));
    let addr = &s["addresses"]["private"][0];
    assert_eq!(addr["version"], 4);
    assert!(
        addr["addr"].as_str().unwrap().starts_with("10.0.0."),
        "{addr}"
    );
    assert_eq!(addr["OS-EXT-IPS:type"], "fixed");

    // The build made one port, bound to the host and ACTIVE.
    let ports = ports_of(&cloud, &admin, &id).await;
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["network_id"], net.as_str());
    assert_eq!(ports[0]["device_owner"], "compute:nova");
    assert_eq!(ports[0]["status"], "ACTIVE");
    assert!(!ports[0]["binding:host_id"].as_str().unwrap().is_empty());
    assert_eq!(addr["OS-EXT-IPS-MAC:mac_addr"], ports[0]["mac_address"]);

    // 2.47: the flavor embedded; 2.100: everything up to scheduler hints.
    let r = at_version(&user, "GET", &format!("/v2.1/servers/{id}"), None, "2.47").await;
    let s47 = &r.body["server"];
    let mut want = set(DETAIL_21);
    want.extend(set(&["locked", "description", "tags"]));
    assert_eq!(keys(s47), want);
    assert_eq!(
        keys(&s47["flavor"]),
        set(&[
            "vcpus",
            "ram",
            "disk",
            "ephemeral",
            "swap",
            "original_name",
            "extra_specs"
        ])
    );
    assert_eq!(s47["flavor"]["original_name"], "m1.tiny");
    let r = at_version(&user, "GET", &format!("/v2.1/servers/{id}"), None, "2.100").await;
    let s100 = &r.body["server"];
    want.extend(set(&[
        "trusted_image_certificates",
        "server_groups",
        "locked_reason",
        "pinned_availability_zone",
        "scheduler_hints",
        // Every user's from 2.90.
        "OS-EXT-SRV-ATTR:hostname",
    ]));
    assert_eq!(keys(s100), want);
    assert!(s100["image"]["properties"].is_object());
    assert_eq!(s100["pinned_availability_zone"], Value::Null);
    // The list's detail has no server_groups.
    let r = at_version(&user, "GET", "/v2.1/servers/detail", None, "2.100").await;
    let d = &r.body["servers"][0];
    want.remove("server_groups");
    assert_eq!(keys(d), want);

    // Admins see the extended attributes (2.3) and the host status (2.16).
    let r = at_version(&admin, "GET", &format!("/v2.1/servers/{id}"), None, "2.16").await;
    let sa = &r.body["server"];
    for k in [
        "OS-EXT-SRV-ATTR:host",
        "OS-EXT-SRV-ATTR:instance_name",
        "OS-EXT-SRV-ATTR:hypervisor_hostname",
        "OS-EXT-SRV-ATTR:reservation_id",
        "OS-EXT-SRV-ATTR:launch_index",
        "OS-EXT-SRV-ATTR:hostname",
        "OS-EXT-SRV-ATTR:user_data",
        "host_status",
    ] {
        assert!(sa.get(k).is_some(), "{k} missing: {sa}");
    }
    assert_eq!(sa["OS-EXT-SRV-ATTR:hostname"], "vm-one");
    assert_eq!(sa["host_status"], "UP");

    // os-server-ips: by network, and one network.
    let r = user.get(&format!("/v2.1/servers/{id}/ips")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["addresses"]["private"][0],
        json!({"version": 4, "addr": addr["addr"]})
    );
    let r = user
        .get(&format!("/v2.1/servers/{id}/ips/private"))
        .await
        .unwrap();
    assert_eq!(r.body["private"][0]["addr"], addr["addr"]);
    let r = user
        .get(&format!("/v2.1/servers/{id}/ips/nowhere"))
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");

    // The index: id, name, links.
    let r = user.get("/v2.1/servers").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body["servers"][0]), set(&["id", "links", "name"]));

    // The create action with its two events.
    let r = user
        .get(&format!("/v2.1/servers/{id}/os-instance-actions"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let a = &r.body["instanceActions"][0];
    assert_eq!(a["action"], "create");
    assert_eq!(
        keys(a),
        set(&[
            "action",
            "instance_uuid",
            "message",
            "project_id",
            "request_id",
            "start_time",
            "user_id"
        ])
    );
    let req = a["request_id"].as_str().unwrap();
    // The action is the create request's, by the id its answer carried.
    assert_eq!(req, create_request);
    let r = user
        .get(&format!("/v2.1/servers/{id}/os-instance-actions/req-nope"))
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = at_version(
        &user,
        "GET",
        &format!("/v2.1/servers/{id}/os-instance-actions/{req}"),
        None,
        "2.51",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let events = r.body["instanceAction"]["events"].as_array().unwrap();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "conductor_schedule_and_build_instances",
            "compute_build_and_run_instance"
        ]
    );
    assert!(events.iter().all(|e| e["result"] == "Success"));
    assert!(events.iter().all(|e| e.get("traceback").is_none()));

    // Delete: 204, the port goes, the server is gone from show and lists.
    let r = user.delete(&format!("/v2.1/servers/{id}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(ports_of(&cloud, &admin, &id).await.is_empty());
    let r = user.get(&format!("/v2.1/servers/{id}")).await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = user.get("/v2.1/servers/detail").await.unwrap();
    assert_eq!(r.body["servers"], json!([]));
    // Its actions stay readable from 2.21.
    let r = at_version(
        &user,
        "GET",
        &format!("/v2.1/servers/{id}/os-instance-actions"),
        None,
        "2.21",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["instanceActions"][0]["action"], "delete");
    cloud.stop().await;
}

#[tokio::test]
async fn other_projects_get_404_and_admins_list_all_tenants() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (alice, _) = project_user(&cloud, "alice", "member").await;
    let (bob, _) = project_user(&cloud, "bob", "member").await;
    let r = create(
        &alice,
        json!({"name": "a", "imageRef": img, "flavorRef": "1", "networks": "none",
               "availability_zone": "nova"}),
        "2.37",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(&alice, &id, "ACTIVE").await;
    // A zone asked for is the server's pinned zone (2.96).
    let r = at_version(&alice, "GET", &format!("/v2.1/servers/{id}"), None, "2.96").await;
    assert_eq!(r.body["server"]["pinned_availability_zone"], "nova");
    let path = format!("/v2.1/servers/{id}");
    assert_error(&bob.get(&path).await.unwrap(), 404, "itemNotFound");
    assert_error(&bob.delete(&path).await.unwrap(), 404, "itemNotFound");
    let r = bob
        .put(&path, Some(json!({"server": {"name": "x"}})))
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = bob
        .post(&format!("{path}/action"), json!({"os-stop": null}))
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = bob.get("/v2.1/servers").await.unwrap();
    assert_eq!(r.body["servers"], json!([]));
    // all_tenants is an admin's filter; a user's is ignored.
    let r = bob.get("/v2.1/servers?all_tenants=1").await.unwrap();
    assert_eq!(r.body["servers"], json!([]));
    let r = admin.get("/v2.1/servers?all_tenants=1").await.unwrap();
    assert_eq!(r.body["servers"][0]["id"], id.as_str());
    let r = admin.get("/v2.1/servers").await.unwrap();
    assert_eq!(r.body["servers"], json!([]));
    // A reader may look but not create.
    let (reader, _) = project_user(&cloud, "carol", "reader").await;
    let r = create(
        &reader,
        json!({"name": "a", "imageRef": img, "flavorRef": "1", "networks": "none"}),
        "2.37",
    )
    .await;
    assert_error(&r, 403, "forbidden");
    cloud.stop().await;
}

#[tokio::test]
async fn bad_create_requests_are_400s_and_a_used_port_409() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (user, _) = project_user(&cloud, "bad", "member").await;
    let net = network(&cloud, &user, "n1", "10.1.0.0/24").await;
    let base = json!({"name": "x", "imageRef": img, "flavorRef": "1", "networks": "none"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let mut no_name = base.clone();
    no_name.as_object_mut().unwrap().remove("name");
    let mut no_nets = base.clone();
    no_nets.as_object_mut().unwrap().remove("networks");
    let long = "k".repeat(256);
    for (body, v) in [
        (no_name, "2.37"),
        (no_nets, "2.37"),
        (with("flavorRef", json!("999")), "2.37"),
        (
            with("imageRef", json!("00000000-0000-0000-0000-000000000000")),
            "2.37",
        ),
        (with("networks", json!([{"uuid": "not-a-uuid"}])), "2.37"),
        (
            with(
                "networks",
                json!([{"uuid": "00000000-0000-0000-0000-000000000000"}]),
            ),
            "2.37",
        ),
        (with("networks", json!("everything")), "2.37"),
        (with("user_data", json!("*** not base64 ***")), "2.37"),
        (with("metadata", json!({ long.clone(): "v" })), "2.37"),
        (with("metadata", json!({"k": 7})), "2.37"),
        (with("bogus", json!(1)), "2.37"),
        (with("description", json!("d")), "2.18"),
        (with("min_count", json!(0)), "2.37"),
        (with("key_name", json!("nope")), "2.37"),
        (with("accessIPv4", json!("1.2.3")), "2.37"),
        (with("hostname", json!("-bad-")), "2.90"),
        (with("block_device_mapping_v2", json!([])), "2.37"),
        (with("availability_zone", json!("elsewhere")), "2.37"),
    ] {
        let r = create(&user, body.clone(), v).await;
        assert_error(&r, 400, "badRequest");
        let _ = &body;
    }
    // A port another device uses is a 409.
    let n = user.at(&cloud.url("network"));
    let r = n
        .post(
            "/v2.0/ports",
            json!({"port": {"network_id": net, "device_id": "someone-else"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let port = r.body["port"]["id"].as_str().unwrap();
    let r = create(&user, with("networks", json!([{"port": port}])), "2.37").await;
    assert_error(&r, 409, "conflictingRequest");
    // Too much metadata for the quota is a 403.
    let many: serde_json::Map<String, Value> =
        (0..129).map(|i| (format!("k{i}"), json!("v"))).collect();
    let r = create(&user, with("metadata", Value::Object(many)), "2.37").await;
    assert_error(&r, 403, "forbidden");
    cloud.stop().await;
}

#[tokio::test]
async fn a_failed_spawn_leaves_an_error_server_and_no_port() {
    let (cloud, admin) = start_with(|c| {
        c.update_section::<compute::config::ComputeConfig>(|s| s.fake_fail_spawn = true)
            .unwrap()
    })
    .await;
    let img = image(&cloud, &admin).await;
    let (user, _) = project_user(&cloud, "failspawn", "member").await;
    let net = network(&cloud, &user, "n", "10.2.0.0/24").await;
    let r = create(
        &user,
        json!({"name": "doomed", "imageRef": img, "flavorRef": "1",
               "networks": [{"uuid": net}]}),
        "2.37",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let s = wait_status(&user, &id, "ERROR").await;
    assert_eq!(s["OS-EXT-STS:vm_state"], "error");
    assert_eq!(keys(&s["fault"]), set(&["code", "created", "message"]));
    assert!(s["fault"]["message"]
        .as_str()
        .unwrap()
        .contains("fake driver was told to fail"));
    assert!(ports_of(&cloud, &admin, &id).await.is_empty());
    // The admin sees the fault's details; the build event failed.
    let r = admin.get(&format!("/v2.1/servers/{id}")).await.unwrap();
    assert!(r.body["server"]["fault"]["details"].is_string());
    let r = user
        .get(&format!("/v2.1/servers/{id}/os-instance-actions"))
        .await
        .unwrap();
    let a = &r.body["instanceActions"][0];
    assert_eq!(a["message"], "Error");
    let req = a["request_id"].as_str().unwrap();
    let r = admin
        .get(&format!("/v2.1/servers/{id}/os-instance-actions/{req}"))
        .await
        .unwrap();
    let events = r.body["instanceAction"]["events"].as_array().unwrap();
    assert_eq!(events[1]["result"], "Error");
    assert!(events[1]["traceback"].is_string());
    // An ERROR server still deletes.
    let r = user.delete(&format!("/v2.1/servers/{id}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    cloud.stop().await;
}

#[tokio::test]
async fn a_network_failure_mid_build_deletes_the_ports_already_made() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (user, _) = project_user(&cloud, "failnet", "member").await;
    let good = network(&cloud, &user, "good", "10.3.0.0/24").await;
    // A /30 whose addresses are taken (the gateway and the DHCP port):
    // the second port of the build fails after the first was made.
    let full = network(&cloud, &user, "full", "10.4.0.0/30").await;
    let n = user.at(&cloud.url("network"));
    loop {
        let r = n
            .post("/v2.0/ports", json!({"port": {"network_id": full}}))
            .await
            .unwrap();
        if r.status == 409 {
            break;
        }
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let r = create(
        &user,
        json!({"name": "half", "imageRef": img, "flavorRef": "1",
               "networks": [{"uuid": good}, {"uuid": full}]}),
        "2.37",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let s = wait_status(&user, &id, "ERROR").await;
    assert!(
        s["fault"]["message"]
            .as_str()
            .unwrap()
            .contains("No more IP addresses"),
        "{s}"
    );
    assert!(ports_of(&cloud, &admin, &id).await.is_empty());
    assert_eq!(s["addresses"], json!({}));
    cloud.stop().await;
}

#[tokio::test]
async fn a_given_port_is_bound_and_unbound_not_deleted() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (user, _) = project_user(&cloud, "givenport", "member").await;
    let net = network(&cloud, &user, "n", "10.5.0.0/24").await;
    let n = user.at(&cloud.url("network"));
    let r = n
        .post("/v2.0/ports", json!({"port": {"network_id": net}}))
        .await
        .unwrap();
    let port = r.body["port"]["id"].as_str().unwrap().to_string();
    let r = create(
        &user,
        json!({"name": "p", "imageRef": img, "flavorRef": "1",
               "networks": [{"port": port}]}),
        "2.37",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(&user, &id, "ACTIVE").await;
    let ports = ports_of(&cloud, &admin, &id).await;
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["id"], port.as_str());
    let r = user.delete(&format!("/v2.1/servers/{id}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = n.get(&format!("/v2.0/ports/{port}")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["port"]["device_id"], "");
    cloud.stop().await;
}

#[tokio::test]
async fn parallel_creates_stop_at_the_instance_quota() {
    let (cloud, admin) = start_with(|c| {
        c.update_section::<compute::config::ComputeConfig>(|s| s.quota_instances = 2)
            .unwrap()
    })
    .await;
    let img = image(&cloud, &admin).await;
    let (user, _) = project_user(&cloud, "quota", "member").await;
    let body = json!({"name": "q", "imageRef": img, "flavorRef": "1", "networks": "none"});
    let tries = (0..5).map(|_| create(&user, body.clone(), "2.37"));
    let results = futures_util::future::join_all(tries).await;
    let ok = results.iter().filter(|r| r.status == 202).count();
    assert_eq!(
        ok,
        2,
        "{:?}",
        results.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    for r in results.iter().filter(|r| r.status != 202) {
        assert_error(r, 403, "forbidden");
        assert!(
            r.text.contains("Quota exceeded for instances"),
            "{}",
            r.text
        );
    }
    // min/max: as many as fit, or 403 when even min_count does not.
    let r = admin.get("/v2.1/servers?all_tenants=1").await.unwrap();
    assert_eq!(r.body["servers"].as_array().unwrap().len(), 2);
    let (other, _) = project_user(&cloud, "quota2", "member").await;
    let mut multi = body.clone();
    multi["min_count"] = json!(1);
    multi["max_count"] = json!(3);
    multi["return_reservation_id"] = json!(true);
    let r = create(&other, multi.clone(), "2.37").await;
    assert_eq!(r.status, 202, "{}", r.text);
    let rid = r.body["reservation_id"].as_str().unwrap().to_string();
    let r = other
        .get(&format!("/v2.1/servers?reservation_id={rid}"))
        .await
        .unwrap();
    let names: BTreeSet<String> = r.body["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, set(&["q-1", "q-2"]));
    multi["min_count"] = json!(1);
    let r = create(&other, multi, "2.37").await;
    assert_error(&r, 403, "forbidden");
    cloud.stop().await;
}

/// `action` on server `id`.
async fn act(c: &Client, id: &str, body: Value) -> Resp {
    c.post(&format!("/v2.1/servers/{id}/action"), body)
        .await
        .unwrap()
}

#[tokio::test]
async fn actions_follow_the_state_machine_and_locks() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (user, _) = project_user(&cloud, "actions", "member").await;
    let r = create(
        &user,
        json!({"name": "a", "imageRef": img, "flavorRef": "1", "networks": "none"}),
        "2.37",
    )
    .await;
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(&user, &id, "ACTIVE").await;

    assert_eq!(act(&user, &id, json!({"os-stop": null})).await.status, 202);
    let s = wait_status(&user, &id, "SHUTOFF").await;
    assert_eq!(s["OS-EXT-STS:power_state"], 4);
    let r = act(&user, &id, json!({"pause": null})).await;
    assert_error(&r, 409, "conflictingRequest");
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        format!("Cannot 'pause' instance {id} while it is in vm_state stopped")
    );
    let r = act(&user, &id, json!({"reboot": {"type": "SOFT"}})).await;
    assert_error(&r, 409, "conflictingRequest");
    assert_eq!(act(&user, &id, json!({"os-start": null})).await.status, 202);
    wait_status(&user, &id, "ACTIVE").await;
    assert_eq!(act(&user, &id, json!({"pause": null})).await.status, 202);
    let s = wait_status(&user, &id, "PAUSED").await;
    assert_eq!(s["OS-EXT-STS:power_state"], 3);
    assert_eq!(act(&user, &id, json!({"unpause": null})).await.status, 202);
    wait_status(&user, &id, "ACTIVE").await;
    assert_eq!(act(&user, &id, json!({"suspend": null})).await.status, 202);
    let s = wait_status(&user, &id, "SUSPENDED").await;
    assert_eq!(s["OS-EXT-STS:power_state"], 7);
    assert_eq!(act(&user, &id, json!({"resume": null})).await.status, 202);
    wait_status(&user, &id, "ACTIVE").await;
    assert_eq!(
        act(&user, &id, json!({"reboot": {"type": "HARD"}}))
            .await
            .status,
        202
    );
    wait_status(&user, &id, "ACTIVE").await;
    let r = act(&user, &id, json!({"reboot": {"type": "GENTLE"}})).await;
    assert_error(&r, 400, "badRequest");
    let r = act(&user, &id, json!({"frobnicate": null})).await;
    assert_error(&r, 400, "badRequest");
    let r = act(
        &user,
        "00000000-0000-0000-0000-000000000000",
        json!({"forceDelete": null}),
    )
    .await;
    assert_error(&r, 404, "itemNotFound");
    let r = act(&user, &id, json!({"os-getConsoleOutput": {"length": 1}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["output"], "reboot: hard");
    let r = act(&user, &id, json!({"os-getConsoleOutput": {}})).await;
    assert!(
        r.body["output"].as_str().unwrap().lines().count() > 5,
        "{}",
        r.text
    );
    let r = act(&user, &id, json!({"os-getConsoleOutput": {"length": -5}})).await;
    assert_error(&r, 400, "badRequest");

    // An admin's lock keeps the owner out (409) until an admin unlocks.
    let r = at_version(
        &admin,
        "POST",
        &format!("/v2.1/servers/{id}/action"),
        Some(&json!({"lock": {"locked_reason": "maintenance"}})),
        "2.73",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = at_version(&user, "GET", &format!("/v2.1/servers/{id}"), None, "2.73").await;
    assert_eq!(r.body["server"]["locked"], true);
    assert_eq!(r.body["server"]["locked_reason"], "maintenance");
    let r = act(&user, &id, json!({"os-stop": null})).await;
    assert_error(&r, 409, "conflictingRequest");
    let r = user.delete(&format!("/v2.1/servers/{id}")).await.unwrap();
    assert_error(&r, 409, "conflictingRequest");
    let r = act(&user, &id, json!({"unlock": null})).await;
    assert_error(&r, 403, "forbidden");
    assert_eq!(act(&admin, &id, json!({"unlock": null})).await.status, 202);
    assert_eq!(act(&user, &id, json!({"lock": null})).await.status, 202);
    assert_eq!(act(&user, &id, json!({"unlock": null})).await.status, 202);

    let r = user
        .get(&format!("/v2.1/servers/{id}/os-instance-actions"))
        .await
        .unwrap();
    let actions: Vec<&str> = r.body["instanceActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    for a in [
        "create", "stop", "start", "pause", "unpause", "suspend", "resume", "reboot", "lock",
        "unlock",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    // 2.58 pages them by request id, newest first.
    let path = format!("/v2.1/servers/{id}/os-instance-actions");
    let r = at_version(&user, "GET", &format!("{path}?limit=2"), None, "2.58").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let page: Vec<&str> = r.body["instanceActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(page, ["unlock", "lock"]);
    assert!(r.body["instanceActions"][0]["updated_at"].is_string());
    let marker = r.body["instanceActions"][1]["request_id"].as_str().unwrap();
    let next = r.body["links"][0]["href"].as_str().unwrap();
    assert!(next.contains(&format!("marker={marker}")), "{next}");
    let r = at_version(
        &user,
        "GET",
        &format!("{path}?marker={marker}&limit=1"),
        None,
        "2.58",
    )
    .await;
    assert_eq!(r.body["instanceActions"][0]["action"], "unlock");
    let r = at_version(
        &user,
        "GET",
        &format!("{path}?marker=req-nope"),
        None,
        "2.58",
    )
    .await;
    assert_error(&r, 400, "badRequest");
    let r = user.delete(&format!("/v2.1/servers/{id}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    cloud.stop().await;
}

#[tokio::test]
async fn lists_filter_and_page_and_updates_answer_per_version() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (user, _) = project_user(&cloud, "lists", "member").await;
    let mut ids = Vec::new();
    for name in ["alpha", "beta", "gamma"] {
        let r = create(
            &user,
            json!({"name": name, "imageRef": img, "flavorRef": "1", "networks": "none"}),
            "2.37",
        )
        .await;
        assert_eq!(r.status, 202, "{}", r.text);
        let id = r.body["server"]["id"].as_str().unwrap().to_string();
        wait_status(&user, &id, "ACTIVE").await;
        ids.push(id);
    }
    let names = |r: &Resp| -> Vec<String> {
        r.body["servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    };
    let r = user.get("/v2.1/servers?name=^a").await.unwrap();
    assert_eq!(names(&r), ["alpha"]);
    let r = user
        .get("/v2.1/servers?status=ACTIVE&flavor=1")
        .await
        .unwrap();
    assert_eq!(names(&r).len(), 3);
    let r = user.get("/v2.1/servers?status=SHUTOFF").await.unwrap();
    assert!(names(&r).is_empty());
    // An unknown status: nothing up to 2.37, a 400 from 2.38.
    let r = at_version(&user, "GET", "/v2.1/servers?status=bogus", None, "2.37").await;
    assert_eq!(r.body["servers"], json!([]));
    let r = at_version(&user, "GET", "/v2.1/servers?status=bogus", None, "2.38").await;
    assert_error(&r, 400, "badRequest");
    let r = user.get("/v2.1/servers?unknown_filter=1").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    // Newest first; two per page with a next link.
    let r = user.get("/v2.1/servers?limit=2").await.unwrap();
    assert_eq!(names(&r), ["gamma", "beta"]);
    let next = r.body["servers_links"][0]["href"].as_str().unwrap();
    assert!(next.contains(&format!("marker={}", ids[1])), "{next}");
    let r = user
        .get(&format!("/v2.1/servers?limit=2&marker={}", ids[1]))
        .await
        .unwrap();
    assert_eq!(names(&r), ["alpha"]);
    assert!(r.body.get("servers_links").is_none());
    for bad in ["limit=x", "marker=nope", "changes-since=yesterday"] {
        let r = user.get(&format!("/v2.1/servers?{bad}")).await.unwrap();
        assert_error(&r, 400, "badRequest");
    }
    // changes-since shows deleted servers too.
    let r = user
        .delete(&format!("/v2.1/servers/{}", ids[0]))
        .await
        .unwrap();
    assert_eq!(r.status, 204);
    let r = user
        .get("/v2.1/servers/detail?changes-since=2000-01-01T00:00:00Z")
        .await
        .unwrap();
    let statuses: Vec<&str> = r.body["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert!(statuses.contains(&"DELETED"), "{statuses:?}");

    // Update: the short view before 2.75, the full one after.
    let path = format!("/v2.1/servers/{}", ids[1]);
    let r = at_version(
        &user,
        "PUT",
        &path,
        Some(&json!({"server": {"name": "beta2"}})),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["server"]["name"], "beta2");
    assert!(r.body["server"].get("OS-EXT-STS:vm_state").is_none());
    assert_eq!(keys(&r.body["server"]["addresses"]), BTreeSet::new());
    let r = at_version(
        &user,
        "PUT",
        &path,
        Some(&json!({"server": {"description": "d"}})),
        "2.18",
    )
    .await;
    assert_error(&r, 400, "badRequest");
    let r = at_version(
        &user,
        "PUT",
        &path,
        Some(&json!({"server": {"description": "d", "accessIPv4": "192.0.2.1"}})),
        "2.75",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["server"]["description"], "d");
    assert_eq!(r.body["server"]["accessIPv4"], "192.0.2.1");
    assert!(r.body["server"].get("OS-EXT-STS:vm_state").is_some());
    assert_eq!(r.body["server"]["server_groups"], json!([]));
    let r = at_version(
        &user,
        "PUT",
        &path,
        Some(&json!({"server": {"hostname": "Web-1"}})),
        "2.90",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["server"]["OS-EXT-SRV-ATTR:hostname"], "Web-1");
    let r = at_version(
        &user,
        "PUT",
        &path,
        Some(&json!({"server": {"hostname": "bad_name"}})),
        "2.90",
    )
    .await;
    assert_error(&r, 400, "badRequest");
    cloud.stop().await;
}

#[tokio::test]
async fn a_build_cut_short_by_a_restart_is_undone_by_the_next_process() {
    // The spawn takes a minute: the process stops while the build waits in
    // it, with its port made.
    let (cloud, admin) = start_with(|c| {
        c.update_section::<compute::config::ComputeConfig>(|s| s.fake_spawn_delay_ms = 60_000)
            .unwrap()
    })
    .await;
    let img = image(&cloud, &admin).await;
    let (user, _) = project_user(&cloud, "restart", "member").await;
    let net = network(&cloud, &user, "n", "10.6.0.0/24").await;
    let r = create(
        &user,
        json!({"name": "cut", "imageRef": img, "flavorRef": "1", "networks": [{"uuid": net}]}),
        "2.37",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let mut spawning = false;
    for _ in 0..200 {
        let r = user.get(&format!("/v2.1/servers/{id}")).await.unwrap();
        if r.body["server"]["OS-EXT-STS:task_state"] == "spawning" {
            spawning = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(spawning, "the build never reached spawning");
    assert_eq!(ports_of(&cloud, &admin, &id).await.len(), 1);

    let stopped = cloud.stop_keeping_state().await;
    let cloud = stopped
        .start(std::sync::Arc::new(common::clock::SystemClock))
        .await
        .unwrap();
    let admin = cloud.admin().await.unwrap().at(&cloud.url("compute"));
    let s = wait_status(&admin, &id, "ERROR").await;
    assert!(
        s["fault"]["message"]
            .as_str()
            .unwrap()
            .contains("interrupted"),
        "{s}"
    );
    assert!(ports_of(&cloud, &admin, &id).await.is_empty());
    cloud.stop().await;
}

#[tokio::test]
async fn server_metadata_is_merged_replaced_and_checked() {
    let (cloud, admin) = start_with(|c| {
        c.update_section::<compute::config::ComputeConfig>(|s| s.quota_metadata_items = 3)
            .unwrap()
    })
    .await;
    let img = image(&cloud, &admin).await;
    let (user, _) = project_user(&cloud, "meta", "member").await;
    let (other, _) = project_user(&cloud, "meta2", "member").await;
    let r = create(
        &user,
        json!({"name": "m", "imageRef": img, "flavorRef": "1", "networks": "none",
               "metadata": {"a": "1"}}),
        "2.37",
    )
    .await;
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(&user, &id, "ACTIVE").await;
    let base = format!("/v2.1/servers/{id}/metadata");
    let r = user.get(&base).await.unwrap();
    assert_eq!(r.body, json!({"metadata": {"a": "1"}}));
    let r = user
        .post(&base, json!({"metadata": {"b": "2"}}))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"metadata": {"a": "1", "b": "2"}}));
    let r = user
        .put(&base, Some(json!({"metadata": {"c": "3"}})))
        .await
        .unwrap();
    assert_eq!(r.body, json!({"metadata": {"c": "3"}}));
    let r = user
        .put(&format!("{base}/d"), Some(json!({"meta": {"d": "4"}})))
        .await
        .unwrap();
    assert_eq!(r.body, json!({"meta": {"d": "4"}}));
    let r = user.get(&format!("{base}/d")).await.unwrap();
    assert_eq!(r.body, json!({"meta": {"d": "4"}}));
    let r = user
        .put(&format!("{base}/d"), Some(json!({"meta": {"e": "4"}})))
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    let r = user
        .post(&base, json!({"metadata": {"x": "1", "y": "2"}}))
        .await
        .unwrap();
    assert_error(&r, 403, "forbidden");
    let r = user.delete(&format!("{base}/d")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = user.get(&format!("{base}/d")).await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = user.delete(&format!("{base}/d")).await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    assert_error(&other.get(&base).await.unwrap(), 404, "itemNotFound");
    // The server's view shows what was set.
    let r = user.get(&format!("/v2.1/servers/{id}")).await.unwrap();
    assert_eq!(r.body["server"]["metadata"], json!({"c": "3"}));
    cloud.stop().await;
}

#[tokio::test]
async fn server_tags_are_set_checked_and_filter_lists() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (user, _) = project_user(&cloud, "tags", "member").await;
    let mut ids = Vec::new();
    for (name, tags) in [("t1", json!(["red", "big"])), ("t2", json!(["red"]))] {
        let r = create(
            &user,
            json!({"name": name, "imageRef": img, "flavorRef": "1", "networks": "none",
                   "tags": tags}),
            "2.52",
        )
        .await;
        assert_eq!(r.status, 202, "{}", r.text);
        let id = r.body["server"]["id"].as_str().unwrap().to_string();
        wait_status(&user, &id, "ACTIVE").await;
        ids.push(id);
    }
    let tags = format!("/v2.1/servers/{}/tags", ids[0]);
    let v = "2.26";
    let r = at_version(&user, "GET", &tags, None, v).await;
    assert_eq!(r.body, json!({"tags": ["red", "big"]}));
    // Before 2.26 the route is not there.
    let r = at_version(&user, "GET", &tags, None, "2.25").await;
    assert_error(&r, 404, "itemNotFound");
    let r = at_version(&user, "PUT", &format!("{tags}/blue"), None, v).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.header("location").unwrap().ends_with("/tags/blue"));
    let r = at_version(&user, "PUT", &format!("{tags}/blue"), None, v).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = at_version(&user, "GET", &format!("{tags}/blue"), None, v).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = at_version(&user, "GET", &format!("{tags}/green"), None, v).await;
    assert_error(&r, 404, "itemNotFound");
    let r = at_version(&user, "PUT", &format!("{tags}/a,b"), None, v).await;
    assert_error(&r, 400, "badRequest");
    let too_many: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
    let r = at_version(&user, "PUT", &tags, Some(&json!({ "tags": too_many })), v).await;
    assert_error(&r, 400, "badRequest");

    // List filters: all of, any of, none of.
    let names = |r: &Resp| -> BTreeSet<String> {
        r.body["servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    };
    let r = at_version(&user, "GET", "/v2.1/servers?tags=red,big", None, v).await;
    assert_eq!(names(&r), set(&["t1"]));
    let r = at_version(&user, "GET", "/v2.1/servers?tags-any=big,blue", None, v).await;
    assert_eq!(names(&r), set(&["t1"]));
    let r = at_version(&user, "GET", "/v2.1/servers?not-tags-any=big", None, v).await;
    assert_eq!(names(&r), set(&["t2"]));
    let r = at_version(&user, "GET", "/v2.1/servers?tags=red", None, v).await;
    assert_eq!(names(&r), set(&["t1", "t2"]));

    let r = at_version(&user, "PUT", &tags, Some(&json!({"tags": ["x"]})), v).await;
    assert_eq!(r.body, json!({"tags": ["x"]}));
    let r = at_version(&user, "DELETE", &format!("{tags}/x"), None, v).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = at_version(&user, "DELETE", &format!("{tags}/x"), None, v).await;
    assert_error(&r, 404, "itemNotFound");
    let r = at_version(&user, "DELETE", &tags, None, v).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = at_version(&user, "GET", &format!("/v2.1/servers/{}", ids[0]), None, v).await;
    assert_eq!(r.body["server"]["tags"], json!([]));
    cloud.stop().await;
}

#[tokio::test]
async fn a_server_deleted_while_it_builds_leaves_no_port_behind() {
    let (cloud, admin) = start_with(|c| {
        c.update_section::<compute::config::ComputeConfig>(|s| s.fake_spawn_delay_ms = 400)
            .unwrap()
    })
    .await;
    let img = image(&cloud, &admin).await;
    let (user, _) = project_user(&cloud, "midbuild", "member").await;
    let net = network(&cloud, &user, "n", "10.7.0.0/24").await;
    let r = create(
        &user,
        json!({"name": "brief", "imageRef": img, "flavorRef": "1", "networks": [{"uuid": net}]}),
        "2.37",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    // Actions wait for the build: a BUILD server refuses them.
    let r = act(&user, &id, json!({"os-stop": null})).await;
    assert_error(&r, 409, "conflictingRequest");
    let r = user.delete(&format!("/v2.1/servers/{id}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    // The build, finding its server gone, undoes what it made: once its
    // saga has ended (the row goes), no port is left. Waiting on the saga
    // rather than a fixed time keeps this true on a loaded machine.
    let nova = super::quotas::nova(&cloud);
    let mut ended = false;
    for _ in 0..400 {
        let left: i64 = db::sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM sagas WHERE kind = 'compute.build'",
        )
        .fetch_one(&nova.db.pool)
        .await
        .unwrap();
        if left == 0 {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ended, "the build never ended");
    assert!(ports_of(&cloud, &admin, &id).await.is_empty());
    let r = user.get(&format!("/v2.1/servers/{id}")).await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    cloud.stop().await;
}

#[tokio::test]
async fn a_server_no_host_can_take_is_error_with_no_valid_host_and_no_port() {
    let (cloud, admin) = start_with(|c| {
        c.update_section::<compute::config::ComputeConfig>(|s| s.quota_ram = -1)
            .unwrap()
    })
    .await;
    let img = image(&cloud, &admin).await;
    // More memory than the fake driver's 800000 MiB host offers.
    let r = admin
        .post(
            "/v2.1/flavors",
            json!({"flavor": {"name": "huge", "ram": 900000, "vcpus": 1, "disk": 1}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let flavor = r.body["flavor"]["id"].as_str().unwrap().to_string();
    let net = network(&cloud, &admin, "n", "10.9.0.0/24").await;
    let r = create(
        &admin,
        json!({"name": "too-big", "imageRef": img, "flavorRef": flavor,
               "networks": [{"uuid": net}]}),
        "2.37",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let s = wait_status(&admin, &id, "ERROR").await;
    assert_eq!(
        s["fault"]["message"],
        "No valid host was found. There are not enough hosts available."
    );
    assert!(ports_of(&cloud, &admin, &id).await.is_empty());
    // A key pair the caller holds is accepted; another name is Nova's 400.
    let r = admin
        .post(
            "/v2.1/os-keypairs",
            json!({"keypair": {"name": "k1", "public_key":
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0G8KkNnO1l5dH0J4kqG5yQJmWwZ3zkYvK3v3x0x3Q t@x"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = create(
        &admin,
        json!({"name": "keyed", "imageRef": img, "flavorRef": "1",
               "networks": [{"uuid": net}], "key_name": "k1"}),
        "2.37",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let s = wait_status(&admin, &id, "ACTIVE").await;
    assert_eq!(s["key_name"], "k1");
    let r = create(
        &admin,
        json!({"name": "nokey", "imageRef": img, "flavorRef": "1",
               "networks": [{"uuid": net}], "key_name": "nope"}),
        "2.37",
    )
    .await;
    assert_error(&r, 400, "badRequest");
    cloud.stop().await;
}

//! Host aggregates and the zones they make, the admin server actions
//! (`os-resetState`, `forceDelete`, `restore`, `injectNetworkInfo`),
//! diagnostics, external events, the usage audit log and the ≤ 2.35
//! floating-IP proxy with its ≤ 2.43 actions.

use super::servers::{create, image, network, wait_status};
use super::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn the_host(admin: &Client) -> String {
    let r = admin.get("/v2.1/os-hypervisors").await.unwrap();
    r.body["hypervisors"][0]["hypervisor_hostname"]
        .as_str()
        .unwrap()
        .to_string()
}

const AGGREGATE: &[&str] = &[
    "id",
    "name",
    "availability_zone",
    "created_at",
    "updated_at",
    "deleted",
    "deleted_at",
    "hosts",
    "metadata",
];

#[tokio::test]
async fn aggregates_group_hosts_into_zones_with_novas_rules() {
    let (cloud, admin) = start().await;
    let (member, _) = project_user(&cloud, "agg-user", "member").await;
    let host = the_host(&admin).await;

    // Create: 200 without hosts/metadata; uuid from 2.41.
    let r = admin
        .post(
            "/v2.1/os-aggregates",
            json!({"aggregate": {"name": "rack1", "availability_zone": "zone-a"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let agg = &r.body["aggregate"];
    let want: Vec<&str> = AGGREGATE
        .iter()
        .copied()
        .filter(|k| *k != "hosts" && *k != "metadata")
        .collect();
    assert_eq!(keys(agg), set(&want));
    assert_eq!(agg["availability_zone"], "zone-a");
    let id = agg["id"].as_i64().unwrap();
    let r = at_version(
        &admin,
        "GET",
        &format!("/v2.1/os-aggregates/{id}"),
        None,
        "2.41",
    )
    .await;
    let mut with_uuid = AGGREGATE.to_vec();
    with_uuid.push("uuid");
    assert_eq!(keys(&r.body["aggregate"]), set(&with_uuid), "{}", r.text);
    assert_eq!(
        r.body["aggregate"]["metadata"],
        json!({"availability_zone": "zone-a"})
    );

    // Names are unique; bad names and ids are 400s; users are refused.
    let r = admin
        .post(
            "/v2.1/os-aggregates",
            json!({"aggregate": {"name": "rack1"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "conflictingRequest");
    for bad in [json!(""), json!("x".repeat(256)), json!(" lead")] {
        let r = admin
            .post("/v2.1/os-aggregates", json!({"aggregate": {"name": bad}}))
            .await
            .unwrap();
        assert_error(&r, 400, "badRequest");
    }
    let r = admin.get("/v2.1/os-aggregates/abc").await.unwrap();
    assert_error(&r, 400, "badRequest");
    let r = admin.get("/v2.1/os-aggregates/9999").await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = member.get("/v2.1/os-aggregates").await.unwrap();
    assert_error(&r, 403, "forbidden");

    // Hosts: unknown → 404, twice → 409; the host's zone follows.
    let act = |body: Value| {
        let admin = admin.clone();
        async move {
            admin
                .post(&format!("/v2.1/os-aggregates/{id}/action"), body)
                .await
                .unwrap()
        }
    };
    let r = act(json!({"add_host": {"host": "no-such-host"}})).await;
    assert_error(&r, 404, "itemNotFound");
    let r = act(json!({"add_host": {"host": host}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["aggregate"]["hosts"], json!([host]));
    let r = act(json!({"add_host": {"host": host}})).await;
    assert_error(&r, 409, "conflictingRequest");
    let r = admin.get("/v2.1/os-availability-zone").await.unwrap();
    let zones: Vec<&str> = r.body["availabilityZoneInfo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["zoneName"].as_str().unwrap())
        .collect();
    assert_eq!(zones, ["zone-a"], "{}", r.text);
    let r = admin
        .get("/v2.1/os-services?binary=nova-compute")
        .await
        .unwrap();
    assert_eq!(r.body["services"][0]["zone"], "zone-a", "{}", r.text);

    // A second zone cannot take the same host; a non-empty aggregate
    // cannot go.
    let r = admin
        .post(
            "/v2.1/os-aggregates",
            json!({"aggregate": {"name": "rack2", "availability_zone": "zone-b"}}),
        )
        .await
        .unwrap();
    let id2 = r.body["aggregate"]["id"].as_i64().unwrap();
    let r = admin
        .post(
            &format!("/v2.1/os-aggregates/{id2}/action"),
            json!({"add_host": {"host": host}}),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "conflictingRequest");
    let r = admin
        .delete(&format!("/v2.1/os-aggregates/{id}"))
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");

    // Servers may ask for the zone; another zone is refused.
    let img = image(&cloud, &admin).await;
    let (owner, _) = project_user(&cloud, "agg-owner", "member").await;
    let r = create(
        &owner,
        json!({"name": "z", "imageRef": img, "flavorRef": "1", "networks": "none",
               "availability_zone": "zone-a"}),
        "2.37",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let sid = r.body["server"]["id"].as_str().unwrap().to_string();
    let s = wait_status(&owner, &sid, "ACTIVE").await;
    assert_eq!(s["OS-EXT-AZ:availability_zone"], "zone-a");
    let r = create(
        &owner,
        json!({"name": "z", "imageRef": img, "flavorRef": "1", "networks": "none",
               "availability_zone": "zone-b"}),
        "2.37",
    )
    .await;
    assert_error(&r, 400, "badRequest");
    // With a server on it, the zone cannot change.
    let r = act(json!({"set_metadata": {"metadata": {"availability_zone": "zone-c"}}})).await;
    assert_error(&r, 400, "badRequest");
    let r = act(json!({"set_metadata": {"metadata": {"rack": "r1", "bad key!": "x"}}})).await;
    assert_error(&r, 400, "badRequest");
    let r = act(json!({"set_metadata": {"metadata": {"rack": "r1"}}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["aggregate"]["metadata"]["rack"], "r1");
    assert!(r.body["aggregate"]["updated_at"].is_string());
    let r = act(json!({"set_metadata": {"metadata": {"rack": null}}})).await;
    assert!(
        r.body["aggregate"]["metadata"].get("rack").is_none(),
        "{}",
        r.text
    );
    let r = act(json!({"remove_host": {"host": host}})).await;
    assert_error(&r, 409, "conflictingRequest");

    let r = owner.delete(&format!("/v2.1/servers/{sid}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = act(json!({"remove_host": {"host": host}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = act(json!({"remove_host": {"host": host}})).await;
    assert_error(&r, 404, "itemNotFound");
    let r = admin
        .put(
            &format!("/v2.1/os-aggregates/{id}"),
            Some(json!({"aggregate": {"name": "rack2"}})),
        )
        .await
        .unwrap();
    assert_error(&r, 409, "conflictingRequest");
    let r = admin
        .put(
            &format!("/v2.1/os-aggregates/{id}"),
            Some(json!({"aggregate": {"name": "rack9"}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["aggregate"]["name"], "rack9");
    for a in [id, id2] {
        let r = admin
            .delete(&format!("/v2.1/os-aggregates/{a}"))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = admin.get("/v2.1/os-aggregates").await.unwrap();
    assert_eq!(r.body, json!({"aggregates": []}));
}

#[tokio::test]
async fn admin_actions_diagnostics_events_and_the_audit_log() {
    let (cloud, admin) = start().await;
    let (member, _) = project_user(&cloud, "adm-user", "member").await;
    let img = image(&cloud, &admin).await;
    let r = create(
        &member,
        json!({"name": "a", "imageRef": img, "flavorRef": "1", "networks": "none"}),
        "2.37",
    )
    .await;
    let sid = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(&member, &sid, "ACTIVE").await;
    let act = |c: &Client, body: Value| {
        let c = c.clone();
        let path = format!("/v2.1/servers/{sid}/action");
        async move { c.post(&path, body).await.unwrap() }
    };

    // resetState: admins only, two states, recorded.
    let r = act(&member, json!({"os-resetState": {"state": "error"}})).await;
    assert_error(&r, 403, "forbidden");
    let r = act(&admin, json!({"os-resetState": {"state": "paused"}})).await;
    assert_error(&r, 400, "badRequest");
    let r = act(&admin, json!({"os-resetState": {"state": "error"}})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    wait_status(&member, &sid, "ERROR").await;
    let r = admin
        .post(
            "/v2.1/servers/00000000-0000-0000-0000-000000000000/action",
            json!({"os-resetState": {"state": "error"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = admin
        .get(&format!("/v2.1/servers/{sid}/os-instance-actions"))
        .await
        .unwrap();
    assert!(
        r.body["instanceActions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "resetState"),
        "{}",
        r.text
    );
    let r = act(&admin, json!({"os-resetState": {"state": "active"}})).await;
    assert_eq!(r.status, 202);
    wait_status(&member, &sid, "ACTIVE").await;

    // restore: nothing is soft-deleted, so 409; resetNetwork is gone.
    let r = act(&member, json!({"restore": null})).await;
    assert_error(&r, 409, "conflictingRequest");
    let r = act(&admin, json!({"resetNetwork": null})).await;
    assert_eq!(r.status, 410, "{}", r.text);
    let r = act(&admin, json!({"injectNetworkInfo": null})).await;
    assert_eq!(r.status, 202, "{}", r.text);

    // Diagnostics: admins; 2.48's shape, the flat one before.
    let r = member
        .get(&format!("/v2.1/servers/{sid}/diagnostics"))
        .await
        .unwrap();
    assert_error(&r, 403, "forbidden");
    let r = at_version(
        &admin,
        "GET",
        &format!("/v2.1/servers/{sid}/diagnostics"),
        None,
        "2.48",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        keys(&r.body),
        set(&[
            "state",
            "driver",
            "hypervisor",
            "hypervisor_os",
            "uptime",
            "config_drive",
            "num_cpus",
            "num_nics",
            "num_disks",
            "memory_details",
            "cpu_details",
            "nic_details",
            "disk_details"
        ])
    );
    assert_eq!(r.body["state"], "running");
    assert_eq!(r.body["num_cpus"], 1);
    assert_eq!(r.body["memory_details"]["maximum"], 512);
    let r = admin
        .get(&format!("/v2.1/servers/{sid}/diagnostics"))
        .await
        .unwrap();
    assert_eq!(r.body["memory"], 512 * 1024, "{}", r.text);

    // External events: 200 when all found, 207 mixed, 404 none.
    let gone = "00000000-0000-0000-0000-000000000000";
    let r = admin
        .post(
            "/v2.1/os-server-external-events",
            json!({"events": [{"name": "network-changed", "server_uuid": sid}]}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["events"][0],
        json!({"name": "network-changed", "server_uuid": sid, "status": "completed", "code": 200})
    );
    let r = admin
        .post(
            "/v2.1/os-server-external-events",
            json!({"events": [{"name": "network-vif-plugged", "server_uuid": sid, "tag": "p"},
                              {"name": "network-vif-plugged", "server_uuid": gone}]}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 207, "{}", r.text);
    assert_eq!(r.body["events"][1]["code"], 404);
    assert_eq!(r.body["events"][1]["status"], "failed");
    let r = admin
        .post(
            "/v2.1/os-server-external-events",
            json!({"events": [{"name": "power-update", "server_uuid": sid}]}),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    let r = member
        .post(
            "/v2.1/os-server-external-events",
            json!({"events": [{"name": "network-changed", "server_uuid": sid}]}),
        )
        .await
        .unwrap();
    assert_error(&r, 403, "forbidden");

    // The audit log: every compute host not run, last month's period.
    let r = admin
        .get("/v2.1/os-instance_usage_audit_log")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let log = &r.body["instance_usage_audit_logs"];
    assert_eq!(log["num_hosts"], 1);
    assert_eq!(log["num_hosts_not_run"], 1);
    assert_eq!(log["overall_status"], "0 of 1 hosts done. 0 errors.");
    let r = admin
        .get("/v2.1/os-instance_usage_audit_log/2026-03-15%2010:00:00")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let log = &r.body["instance_usage_audit_log"];
    assert_eq!(log["period_beginning"], "2026-02-01 00:00:00");
    assert_eq!(log["period_ending"], "2026-03-01 00:00:00");
    let r = admin
        .get("/v2.1/os-instance_usage_audit_log/yesterday")
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");

    // forceDelete deletes.
    let r = act(&member, json!({"forceDelete": null})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = member.get(&format!("/v2.1/servers/{sid}")).await.unwrap();
    assert_error(&r, 404, "itemNotFound");
}

#[tokio::test]
async fn the_floating_ip_proxy_allocates_associates_and_releases() {
    let (cloud, admin) = start().await;
    let (member, project) = project_user(&cloud, "fip-user", "member").await;
    let neutron = admin.at(&cloud.url("network"));
    let r = neutron
        .post(
            "/v2.0/networks",
            json!({"network": {"name": "public", "router:external": true}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let ext = r.body["network"]["id"].as_str().unwrap().to_string();
    let r = neutron
        .post(
            "/v2.0/subnets",
            json!({"subnet": {"network_id": ext, "cidr": "203.0.113.0/24", "ip_version": 4}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    // The member's network, routed to the external one.
    let net = network(&cloud, &member, "fip-net", "10.9.0.0/24").await;
    let mn = member.at(&cloud.url("network"));
    let r = mn
        .post(
            "/v2.0/routers",
            json!({"router": {"name": "r", "external_gateway_info": {"network_id": ext}}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let router = r.body["router"]["id"].as_str().unwrap().to_string();
    let r = mn
        .get(&format!("/v2.0/subnets?network_id={net}"))
        .await
        .unwrap();
    let subnet = r.body["subnets"][0]["id"].as_str().unwrap().to_string();
    let r = mn
        .put(
            &format!("/v2.0/routers/{router}/add_router_interface"),
            Some(json!({"subnet_id": subnet})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);

    let v = "2.35";
    let r = at_version(
        &member,
        "POST",
        "/v2.1/os-floating-ips",
        Some(&json!({"pool": "nope"})),
        v,
    )
    .await;
    assert_error(&r, 404, "itemNotFound");
    let r = at_version(
        &member,
        "POST",
        "/v2.1/os-floating-ips",
        Some(&json!({"pool": "public"})),
        v,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let fip = r.body["floating_ip"].clone();
    assert_eq!(
        keys(&fip),
        set(&["id", "ip", "fixed_ip", "instance_id", "pool"])
    );
    assert_eq!(fip["pool"], "public");
    assert!(fip["instance_id"].is_null());
    let fid = fip["id"].as_str().unwrap().to_string();
    let address = fip["ip"].as_str().unwrap().to_string();
    let r = at_version(&member, "GET", "/v2.1/os-floating-ips", None, v).await;
    assert_eq!(
        r.body["floating_ips"].as_array().unwrap().len(),
        1,
        "{}",
        r.text
    );
    let r = at_version(&member, "GET", "/v2.1/os-floating-ip-pools", None, v).await;
    assert_eq!(r.body, json!({"floating_ip_pools": [{"name": "public"}]}));
    // Gone after 2.35.
    let r = at_version(&member, "GET", "/v2.1/os-floating-ips", None, "2.36").await;
    assert_error(&r, 404, "itemNotFound");

    let img = image(&cloud, &admin).await;
    let r = create(
        &member,
        json!({"name": "f", "imageRef": img, "flavorRef": "1", "networks": [{"uuid": net}]}),
        "2.37",
    )
    .await;
    let sid = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(&member, &sid, "ACTIVE").await;
    let path = format!("/v2.1/servers/{sid}/action");
    let r = at_version(
        &member,
        "POST",
        &path,
        Some(&json!({"addFloatingIp": {"address": "203.0.113.250"}})),
        "2.43",
    )
    .await;
    assert_error(&r, 404, "itemNotFound");
    let r = at_version(
        &member,
        "POST",
        &path,
        Some(&json!({"addFloatingIp": {"address": address}})),
        "2.44",
    )
    .await;
    assert_error(&r, 404, "itemNotFound");
    let r = at_version(
        &member,
        "POST",
        &path,
        Some(&json!({"addFloatingIp": {"address": address}})),
        "2.43",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = at_version(
        &member,
        "GET",
        &format!("/v2.1/os-floating-ips/{fid}"),
        None,
        v,
    )
    .await;
    assert_eq!(
        r.body["floating_ip"]["instance_id"],
        sid.as_str(),
        "{}",
        r.text
    );
    assert!(r.body["floating_ip"]["fixed_ip"]
        .as_str()
        .unwrap()
        .starts_with("10.9.0."));
    // An associated address is associated again (Nova's Neutron API
    // updates the floating IP's port whatever it was).
    let r = at_version(
        &member,
        "POST",
        &path,
        Some(&json!({"addFloatingIp": {"address": address}})),
        "2.43",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    // ... and moves to another server when asked.
    let r = create(
        &member,
        json!({"name": "g", "imageRef": img, "flavorRef": "1", "networks": [{"uuid": net}]}),
        "2.37",
    )
    .await;
    let other = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(&member, &other, "ACTIVE").await;
    let other_path = format!("/v2.1/servers/{other}/action");
    let r = at_version(
        &member,
        "POST",
        &other_path,
        Some(&json!({"addFloatingIp": {"address": address}})),
        "2.43",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = at_version(
        &member,
        "GET",
        &format!("/v2.1/os-floating-ips/{fid}"),
        None,
        v,
    )
    .await;
    assert_eq!(
        r.body["floating_ip"]["instance_id"],
        other.as_str(),
        "{}",
        r.text
    );
    let r = at_version(
        &member,
        "POST",
        &path,
        Some(&json!({"removeFloatingIp": {"address": address}})),
        "2.43",
    )
    .await;
    assert_error(&r, 409, "conflictingRequest");
    let path = other_path;
    let r = at_version(
        &member,
        "POST",
        &path,
        Some(&json!({"removeFloatingIp": {"address": address}})),
        "2.43",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = at_version(
        &member,
        "POST",
        &path,
        Some(&json!({"removeFloatingIp": {"address": address}})),
        "2.43",
    )
    .await;
    assert_error(&r, 409, "conflictingRequest");

    let r = at_version(
        &member,
        "DELETE",
        &format!("/v2.1/os-floating-ips/{fid}"),
        None,
        v,
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = at_version(
        &member,
        "GET",
        &format!("/v2.1/os-floating-ips/{fid}"),
        None,
        v,
    )
    .await;
    assert_error(&r, 404, "itemNotFound");
    let _ = project;
}

#[tokio::test]
async fn a_config_drive_carries_the_metadata_documents() {
    let (cloud, admin) = start().await;
    let (member, _) = project_user(&cloud, "cd-user", "member").await;
    let img = image(&cloud, &admin).await;
    let r = create(
        &member,
        json!({"name": "cd", "imageRef": img, "flavorRef": "1", "networks": "none",
               "config_drive": true, "user_data": "IyEvYmluL3NoCmVjaG8gaGk="}),
        "2.37",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let sid = r.body["server"]["id"].as_str().unwrap().to_string();
    let s = wait_status(&member, &sid, "ACTIVE").await;
    assert_eq!(s["config_drive"], "True");
    let nova = super::quotas::nova(&cloud);
    let row = compute::db::servers::get(&nova.db.pool, &sid)
        .await
        .unwrap()
        .unwrap();
    let spec = nova.instance_spec(&row, &row.network_info).await.unwrap();
    let files = spec.config_drive.expect("a config drive");
    let file = |p: &str| {
        files
            .iter()
            .find(|f| f.path == p)
            .unwrap_or_else(|| panic!("{p} missing"))
    };
    let md: Value =
        serde_json::from_slice(&file("openstack/latest/meta_data.json").contents).unwrap();
    assert_eq!(md["uuid"], sid.as_str());
    assert_eq!(md["name"], "cd");
    assert_eq!(
        file("openstack/latest/user_data").contents,
        b"#!/bin/sh\necho hi"
    );
    assert!(files
        .iter()
        .any(|f| f.path == "openstack/2012-08-10/meta_data.json"));
    // The driver was handed it (the fake driver's diagnostics say so).
    let r = at_version(
        &admin,
        "GET",
        &format!("/v2.1/servers/{sid}/diagnostics"),
        None,
        "2.48",
    )
    .await;
    assert_eq!(r.body["config_drive"], true, "{}", r.text);

    // Without one, none.
    let r = create(
        &member,
        json!({"name": "nocd", "imageRef": img, "flavorRef": "1", "networks": "none"}),
        "2.37",
    )
    .await;
    let sid = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(&member, &sid, "ACTIVE").await;
    let r = at_version(
        &admin,
        "GET",
        &format!("/v2.1/servers/{sid}/diagnostics"),
        None,
        "2.48",
    )
    .await;
    assert_eq!(r.body["config_drive"], false, "{}", r.text);
}

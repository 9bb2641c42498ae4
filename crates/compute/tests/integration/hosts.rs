//! `os-hypervisors`, `os-services`, `os-hosts`, `os-availability-zone`
//! and the scheduler over the one compute host of an in-process cloud
//! (the controller's own, fake driver).

use super::quotas::{insert_server, keys, nova, set};
use super::*;
use compute::app::scheduler::{is_no_valid_host, HostRequest};
use serde_json::{json, Value};

/// The one compute host's name.
async fn the_host(admin: &Client) -> String {
    let r = admin.get("/v2.1/os-hypervisors").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let list = r.body["hypervisors"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{}", r.text);
    list[0]["hypervisor_hostname"].as_str().unwrap().to_string()
}

const DETAIL_V21: &[&str] = &[
    "id",
    "hypervisor_hostname",
    "state",
    "status",
    "cpu_info",
    "current_workload",
    "disk_available_least",
    "host_ip",
    "free_disk_gb",
    "free_ram_mb",
    "hypervisor_type",
    "hypervisor_version",
    "local_gb",
    "local_gb_used",
    "memory_mb",
    "memory_mb_used",
    "running_vms",
    "service",
    "vcpus",
    "vcpus_used",
];

#[tokio::test]
async fn hypervisors_show_the_compute_host_and_its_usage() {
    let (cloud, admin) = start().await;
    let (member, project) = project_user(&cloud, "h-hyp", "member").await;
    let host = the_host(&admin).await;
    let n = nova(&cloud);
    insert_server(&n, &project, "u", Some(&host), (2, 1024, 10)).await;
    insert_server(&n, &project, "u", Some(&host), (1, 512, 5)).await;
    insert_server(&n, &project, "u", None, (8, 8192, 80)).await;

    let r = admin.get("/v2.1/os-hypervisors").await.unwrap();
    let h = &r.body["hypervisors"][0];
    assert_eq!(
        keys(h),
        set(&["id", "hypervisor_hostname", "state", "status"])
    );
    assert!(h["id"].is_i64(), "{}", r.text);
    assert_eq!(h["state"], "up");
    assert_eq!(h["status"], "enabled");
    let id = h["id"].to_string();

    let r = admin.get("/v2.1/os-hypervisors/detail").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let d = &r.body["hypervisors"][0];
    assert_eq!(keys(d), set(DETAIL_V21));
    assert_eq!(d["vcpus"], 1000);
    assert_eq!(d["memory_mb"], 800000);
    assert_eq!(d["local_gb"], 600000);
    assert_eq!(d["vcpus_used"], 3);
    // The host's reserved 512 MiB count as used, as in Nova.
    assert_eq!(d["memory_mb_used"], 2048);
    assert_eq!(d["local_gb_used"], 15);
    assert_eq!(d["running_vms"], 2);
    assert_eq!(d["free_ram_mb"], 800000 - 2048);
    assert!(d["cpu_info"].is_string());
    assert_eq!(keys(&d["service"]), set(&["host", "id", "disabled_reason"]));
    assert_eq!(d["service"]["host"], host.as_str());

    let r = admin
        .get(&format!("/v2.1/os-hypervisors/{id}"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body["hypervisor"]), set(DETAIL_V21));
    let r = at_version(
        &admin,
        "GET",
        &format!("/v2.1/os-hypervisors/{id}"),
        None,
        "2.28",
    )
    .await;
    assert!(r.body["hypervisor"]["cpu_info"].is_object(), "{}", r.text);

    let r = admin.get("/v2.1/os-hypervisors/statistics").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let s = &r.body["hypervisor_statistics"];
    assert_eq!(
        keys(s),
        set(&[
            "count",
            "current_workload",
            "disk_available_least",
            "free_disk_gb",
            "free_ram_mb",
            "local_gb",
            "local_gb_used",
            "memory_mb",
            "memory_mb_used",
            "running_vms",
            "vcpus",
            "vcpus_used"
        ])
    );
    assert_eq!(s["count"], 1);
    assert_eq!(s["running_vms"], 2);
    assert_eq!(s["vcpus_used"], 3);

    let r = admin
        .get(&format!("/v2.1/os-hypervisors/{id}/uptime"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        keys(&r.body["hypervisor"]),
        set(&["id", "hypervisor_hostname", "state", "status", "uptime"])
    );
    let prefix = &host[..host.len().min(3)];
    let r = admin
        .get(&format!("/v2.1/os-hypervisors/{prefix}/search"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["hypervisors"][0]["hypervisor_hostname"],
        host.as_str()
    );
    let r = admin
        .get(&format!("/v2.1/os-hypervisors/{prefix}/servers"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let servers = r.body["hypervisors"][0]["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 2);
    assert_eq!(keys(&servers[0]), set(&["uuid", "name"]));
    let r = admin
        .get("/v2.1/os-hypervisors/no-such-host-x/search")
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = admin.get("/v2.1/os-hypervisors/9999").await.unwrap();
    assert_error(&r, 404, "itemNotFound");

    for path in [
        "/v2.1/os-hypervisors",
        "/v2.1/os-hypervisors/detail",
        "/v2.1/os-hypervisors/statistics",
    ] {
        let r = member.get(path).await.unwrap();
        assert_error(&r, 403, "forbidden");
    }
    cloud.stop().await;
}

#[tokio::test]
async fn hypervisors_from_2_53_have_uuids_servers_and_patterns() {
    let (cloud, admin) = start().await;
    let (_, project) = project_user(&cloud, "h-hyp53", "member").await;
    let host = the_host(&admin).await;
    let n = nova(&cloud);
    let vm = insert_server(&n, &project, "u", Some(&host), (2, 1024, 10)).await;

    let r = at_version(
        &admin,
        "GET",
        "/v2.1/os-hypervisors?with_servers=true",
        None,
        "2.53",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let h = &r.body["hypervisors"][0];
    let id = h["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36);
    assert_eq!(
        h["servers"],
        json!([{"uuid": vm, "name": format!("vm-{vm}")}])
    );
    let r = at_version(&admin, "GET", "/v2.1/os-hypervisors/detail", None, "2.53").await;
    let mut with_servers = DETAIL_V21.to_vec();
    assert_eq!(keys(&r.body["hypervisors"][0]), set(&with_servers));
    assert_eq!(
        r.body["hypervisors"][0]["service"]["id"]
            .as_str()
            .map(str::len),
        Some(36)
    );
    with_servers.push("servers");
    let r = at_version(
        &admin,
        "GET",
        &format!("/v2.1/os-hypervisors/{id}?with_servers=1"),
        None,
        "2.53",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body["hypervisor"]), set(&with_servers));

    let pattern = format!(
        "/v2.1/os-hypervisors?hypervisor_hostname_pattern={}",
        &host[..host.len().min(3)]
    );
    let r = at_version(&admin, "GET", &pattern, None, "2.53").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["hypervisors"].as_array().unwrap().len(), 1);
    let r = at_version(
        &admin,
        "GET",
        "/v2.1/os-hypervisors?hypervisor_hostname_pattern=zz-none-zz",
        None,
        "2.53",
    )
    .await;
    assert_error(&r, 404, "itemNotFound");
    // No servers: no key before 2.75, an empty list from it.
    let r = at_version(
        &admin,
        "GET",
        "/v2.1/os-hypervisors?with_servers=true",
        None,
        "2.53",
    )
    .await;
    assert_eq!(
        r.body["hypervisors"][0]["servers"].as_array().map(Vec::len),
        Some(1)
    );
    db::sqlx::query("UPDATE compute_instances SET deleted_at = 1")
        .execute(&n.db.pool)
        .await
        .unwrap();
    let r = at_version(
        &admin,
        "GET",
        "/v2.1/os-hypervisors?with_servers=true",
        None,
        "2.53",
    )
    .await;
    assert!(
        r.body["hypervisors"][0].get("servers").is_none(),
        "{}",
        r.text
    );
    let r = at_version(
        &admin,
        "GET",
        "/v2.1/os-hypervisors?with_servers=true",
        None,
        "2.75",
    )
    .await;
    assert_eq!(r.body["hypervisors"][0]["servers"], json!([]));
    let r = at_version(
        &admin,
        "GET",
        "/v2.1/os-hypervisors?with_servers=maybe",
        None,
        "2.53",
    )
    .await;
    assert_error(&r, 400, "badRequest");
    let r = at_version(&admin, "GET", "/v2.1/os-hypervisors?bogus=1", None, "2.53").await;
    assert_error(&r, 400, "badRequest");
    let r = at_version(&admin, "GET", "/v2.1/os-hypervisors?bogus=1", None, "2.52").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = at_version(&admin, "GET", "/v2.1/os-hypervisors/123", None, "2.53").await;
    assert_error(&r, 400, "badRequest");
    let r = at_version(
        &admin,
        "GET",
        "/v2.1/os-hypervisors/abc/search",
        None,
        "2.53",
    )
    .await;
    assert_error(&r, 404, "itemNotFound");
    let missing = "/v2.1/os-hypervisors/00000000-0000-0000-0000-000000000000";
    let r = at_version(&admin, "GET", missing, None, "2.53").await;
    assert_error(&r, 404, "itemNotFound");

    // Pages (2.33).
    let r = at_version(&admin, "GET", "/v2.1/os-hypervisors?limit=1", None, "2.33").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["hypervisors"].as_array().unwrap().len(), 1);
    let next = r.body["hypervisors_links"][0]["href"].as_str().unwrap();
    assert!(
        next.ends_with(&format!(
            "limit=1&marker={}",
            r.body["hypervisors"][0]["id"]
        )),
        "{next}"
    );
    let r = at_version(&admin, "GET", "/v2.1/os-hypervisors?limit=0", None, "2.33").await;
    assert_eq!(r.body, json!({"hypervisors": []}));
    let r = at_version(&admin, "GET", "/v2.1/os-hypervisors?limit=x", None, "2.33").await;
    assert_error(&r, 400, "badRequest");
    let r = at_version(
        &admin,
        "GET",
        "/v2.1/os-hypervisors?marker=nope",
        None,
        "2.53",
    )
    .await;
    assert_error(&r, 400, "badRequest");

    // 2.88: no resource fields; statistics and uptime are gone.
    let r = at_version(
        &admin,
        "GET",
        &format!("/v2.1/os-hypervisors/{id}"),
        None,
        "2.88",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        keys(&r.body["hypervisor"]),
        set(&[
            "id",
            "hypervisor_hostname",
            "state",
            "status",
            "host_ip",
            "hypervisor_type",
            "hypervisor_version",
            "service",
            "uptime"
        ])
    );
    let r = at_version(
        &admin,
        "GET",
        "/v2.1/os-hypervisors/statistics",
        None,
        "2.88",
    )
    .await;
    assert_error(&r, 404, "itemNotFound");
    let r = at_version(
        &admin,
        "GET",
        &format!("/v2.1/os-hypervisors/{id}/uptime"),
        None,
        "2.88",
    )
    .await;
    assert_error(&r, 404, "itemNotFound");
    cloud.stop().await;
}

fn service<'a>(list: &'a Value, binary: &str) -> &'a Value {
    list["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["binary"] == binary)
        .unwrap()
}

#[tokio::test]
async fn services_list_filter_and_change_state_in_both_styles() {
    let (cloud, admin) = start().await;
    let (member, _) = project_user(&cloud, "h-svc", "member").await;
    let host = the_host(&admin).await;
    let n = nova(&cloud);

    let r = admin.get("/v2.1/os-services").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let binaries: std::collections::BTreeSet<&str> = r.body["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["binary"].as_str().unwrap())
        .collect();
    assert_eq!(
        binaries,
        ["nova-compute", "nova-conductor", "nova-scheduler"].into()
    );
    let c = service(&r.body, "nova-compute");
    let v21 = [
        "id",
        "zone",
        "host",
        "state",
        "binary",
        "status",
        "updated_at",
        "disabled_reason",
    ];
    assert_eq!(keys(c), set(&v21));
    assert!(c["id"].is_i64());
    assert_eq!(c["zone"], "nova");
    assert_eq!(c["state"], "up");
    assert_eq!(c["status"], "enabled");
    assert_eq!(service(&r.body, "nova-scheduler")["zone"], "internal");
    // `updated_at` is the last report: recent for services that are up.
    let now = n.now();
    for binary in ["nova-compute", "nova-scheduler"] {
        let at = service(&r.body, binary)["updated_at"].as_str().unwrap();
        let at = common::clock::parse_iso(at).unwrap();
        assert!((now - at).abs() < 120_000_000, "{binary}: {at} vs {now}");
    }
    let r = at_version(&admin, "GET", "/v2.1/os-services", None, "2.11").await;
    let mut v211 = v21.to_vec();
    v211.push("forced_down");
    assert_eq!(keys(service(&r.body, "nova-compute")), set(&v211));
    let r = admin
        .get("/v2.1/os-services?binary=nova-compute")
        .await
        .unwrap();
    assert_eq!(r.body["services"].as_array().unwrap().len(), 1);
    let r = admin.get("/v2.1/os-services?host=nowhere").await.unwrap();
    assert_eq!(r.body["services"], json!([]));
    let r = member.get("/v2.1/os-services").await.unwrap();
    assert_error(&r, 403, "forbidden");

    // Before 2.53: by host and binary.
    let hb = json!({"host": host, "binary": "nova-compute"});
    let r = admin
        .put("/v2.1/os-services/disable", Some(hb.clone()))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"service": {"host": host, "binary": "nova-compute", "status": "disabled"}})
    );
    // The scheduler skips a disabled host.
    let req = HostRequest {
        vcpus: 1,
        memory_mb: 64,
        disk_gb: 1,
        ..HostRequest::default()
    };
    let e = n.select_host(&req).await.unwrap_err();
    assert!(is_no_valid_host(&e), "{e}");
    let r = admin
        .put("/v2.1/os-services/enable", Some(hb.clone()))
        .await
        .unwrap();
    assert_eq!(r.body["service"]["status"], "enabled");
    assert_eq!(n.select_host(&req).await.unwrap(), host);
    let r = admin
        .put(
            "/v2.1/os-services/disable-log-reason",
            Some(json!({"host": host, "binary": "nova-compute", "disabled_reason": "maint"})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        keys(&r.body["service"]),
        set(&["host", "binary", "status", "disabled_reason"])
    );
    let r = admin
        .get("/v2.1/os-services?binary=nova-compute")
        .await
        .unwrap();
    assert_eq!(r.body["services"][0]["disabled_reason"], "maint");
    // force-down is 2.11's.
    let fd = json!({"host": host, "binary": "nova-compute", "forced_down": true});
    let r = admin
        .put("/v2.1/os-services/force-down", Some(fd.clone()))
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = at_version(
        &admin,
        "PUT",
        "/v2.1/os-services/force-down",
        Some(&fd),
        "2.11",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"service": {"host": host, "binary": "nova-compute", "forced_down": true}})
    );
    let r = at_version(
        &admin,
        "GET",
        "/v2.1/os-services?binary=nova-compute",
        None,
        "2.11",
    )
    .await;
    assert_eq!(r.body["services"][0]["state"], "down");
    assert_eq!(r.body["services"][0]["forced_down"], true);
    let r = admin
        .put(
            "/v2.1/os-services/disable",
            Some(json!({"host": "nowhere", "binary": "nova-compute"})),
        )
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");
    let r = admin
        .put("/v2.1/os-services/disable", Some(json!({"host": host})))
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    let r = at_version(
        &admin,
        "PUT",
        "/v2.1/os-services/force-down",
        Some(&json!({"host": host, "binary": "nova-compute"})),
        "2.11",
    )
    .await;
    assert_error(&r, 400, "badRequest");
    assert!(r.text.contains("Missing forced_down field"), "{}", r.text);
    let r = admin
        .put(
            "/v2.1/os-services/disable",
            Some(json!({"host": host, "binary": "b", "x": 1})),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");

    // 2.53 on: by UUID.
    let r = at_version(
        &admin,
        "GET",
        "/v2.1/os-services?binary=nova-compute",
        None,
        "2.53",
    )
    .await;
    let id = r.body["services"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36);
    let r = at_version(
        &admin,
        "PUT",
        &format!("/v2.1/os-services/{id}"),
        Some(&json!({"status": "enabled", "forced_down": false})),
        "2.53",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut v253 = v211.clone();
    v253.sort();
    assert_eq!(keys(&r.body["service"]), set(&v253));
    assert_eq!(r.body["service"]["status"], "enabled");
    assert_eq!(r.body["service"]["state"], "up");
    assert_eq!(r.body["service"]["disabled_reason"], Value::Null);
    let path = format!("/v2.1/os-services/{id}");
    // Disabling without a reason clears the old one.
    let r = at_version(
        &admin,
        "PUT",
        &path,
        Some(&json!({"status": "disabled", "disabled_reason": "why"})),
        "2.53",
    )
    .await;
    assert_eq!(r.body["service"]["disabled_reason"], "why", "{}", r.text);
    let r = at_version(
        &admin,
        "PUT",
        &path,
        Some(&json!({"status": "disabled"})),
        "2.53",
    )
    .await;
    assert_eq!(r.body["service"]["status"], "disabled", "{}", r.text);
    assert_eq!(r.body["service"]["disabled_reason"], Value::Null);
    for bad in [
        json!({}),
        json!({"status": "sleeping"}),
        json!({"disabled_reason": "x"}),
        json!({"status": "enabled", "disabled_reason": "x"}),
        json!({"forced_down": "perhaps"}),
        json!({"status": "disabled", "bogus": 1}),
    ] {
        let r = at_version(&admin, "PUT", &path, Some(&bad), "2.53").await;
        assert_error(&r, 400, "badRequest");
    }
    let r = at_version(
        &admin,
        "PUT",
        "/v2.1/os-services/00000000-0000-0000-0000-000000000000",
        Some(&json!({"status": "disabled"})),
        "2.53",
    )
    .await;
    assert_error(&r, 404, "itemNotFound");
    let r = at_version(
        &admin,
        "PUT",
        "/v2.1/os-services/disable",
        Some(&hb),
        "2.53",
    )
    .await;
    assert_error(&r, 400, "badRequest");
    // Only nova-compute services change.
    let r = at_version(
        &admin,
        "GET",
        "/v2.1/os-services?binary=nova-scheduler",
        None,
        "2.53",
    )
    .await;
    let sched = r.body["services"][0]["id"].as_str().unwrap().to_string();
    let r = at_version(
        &admin,
        "PUT",
        &format!("/v2.1/os-services/{sched}"),
        Some(&json!({"status": "disabled"})),
        "2.53",
    )
    .await;
    assert_error(&r, 400, "badRequest");
    assert!(r.text.contains("Only nova-compute services"), "{}", r.text);
    let r = admin
        .put(
            "/v2.1/os-services/disable",
            Some(json!({"host": host, "binary": "nova-scheduler"})),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    let r = at_version(&admin, "GET", "/v2.1/os-services?bogus=1", None, "2.75").await;
    assert_error(&r, 400, "badRequest");
    let r = at_version(
        &member,
        "PUT",
        &path,
        Some(&json!({"status": "disabled"})),
        "2.53",
    )
    .await;
    assert_error(&r, 403, "forbidden");
    cloud.stop().await;
}

#[tokio::test]
async fn hosts_and_availability_zones_list_the_services() {
    let (cloud, admin) = start().await;
    let (member, project) = project_user(&cloud, "h-hosts", "member").await;
    let host = the_host(&admin).await;
    let n = nova(&cloud);
    insert_server(&n, &project, "u", Some(&host), (2, 1024, 10)).await;

    let r = admin.get("/v2.1/os-hosts").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let hosts = r.body["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 3, "{}", r.text);
    assert!(hosts
        .iter()
        .all(|h| keys(h) == set(&["host_name", "service", "zone"])));
    assert!(hosts
        .iter()
        .any(|h| h["service"] == "compute" && h["zone"] == "nova"));
    let r = admin.get("/v2.1/os-hosts?zone=nova").await.unwrap();
    assert_eq!(r.body["hosts"].as_array().unwrap().len(), 1);
    // Hosts of disabled services are not listed.
    let hb = json!({"host": host, "binary": "nova-compute"});
    let r = admin
        .put("/v2.1/os-services/disable", Some(hb.clone()))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin.get("/v2.1/os-hosts").await.unwrap();
    assert_eq!(r.body["hosts"].as_array().unwrap().len(), 2, "{}", r.text);
    let r = admin.get("/v2.1/os-availability-zone").await.unwrap();
    assert_eq!(
        r.body["availabilityZoneInfo"][0]["zoneState"]["available"],
        false
    );
    let r = admin
        .put("/v2.1/os-services/enable", Some(hb))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin.get(&format!("/v2.1/os-hosts/{host}")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let rows = r.body["host"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{}", r.text);
    assert_eq!(rows[0]["resource"]["project"], "(total)");
    assert_eq!(rows[0]["resource"]["cpu"], 1000);
    assert_eq!(rows[1]["resource"]["project"], "(used_now)");
    assert_eq!(rows[1]["resource"]["memory_mb"], 1024 + 512);
    assert_eq!(rows[2]["resource"]["memory_mb"], 1024);
    assert_eq!(rows[3]["resource"]["project"], project.as_str());
    assert_eq!(
        keys(&rows[0]["resource"]),
        set(&["host", "project", "cpu", "memory_mb", "disk_gb"])
    );
    let r = admin.get("/v2.1/os-hosts/nowhere").await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    // The host actions: refused, absent, or not implemented (as libvirt).
    let hpath = format!("/v2.1/os-hosts/{host}");
    let ok = json!({"status": "enable", "maintenance_mode": "disable"});
    let r = admin.put(&hpath, Some(ok.clone())).await.unwrap();
    assert_error(&r, 501, "notImplemented");
    assert_eq!(
        r.body["notImplemented"]["message"],
        "The requested functionality is not supported."
    );
    let r = member.put(&hpath, Some(ok.clone())).await.unwrap();
    assert_error(&r, 403, "forbidden");
    let r = admin.put("/v2.1/os-hosts/nowhere", Some(ok)).await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    for bad in [
        json!({}),
        json!({"status": "invalid", "maintenance_mode": "enable"}),
        json!({"status": "enable", "maintenance_mode": "invalid"}),
        json!({"status": "enable", "other": 1}),
    ] {
        let r = admin.put(&hpath, Some(bad)).await.unwrap();
        assert_error(&r, 400, "badRequest");
    }
    for action in ["startup", "shutdown", "reboot"] {
        let r = admin.get(&format!("{hpath}/{action}")).await.unwrap();
        assert_error(&r, 501, "notImplemented");
        let r = member.get(&format!("{hpath}/{action}")).await.unwrap();
        assert_error(&r, 403, "forbidden");
        let r = admin
            .get(&format!("/v2.1/os-hosts/nowhere/{action}"))
            .await
            .unwrap();
        assert_error(&r, 404, "itemNotFound");
    }
    let r = at_version(&admin, "GET", "/v2.1/os-hosts", None, "2.43").await;
    assert_error(&r, 404, "itemNotFound");
    let r = member.get("/v2.1/os-hosts").await.unwrap();
    assert_error(&r, 403, "forbidden");

    let r = member.get("/v2.1/os-availability-zone").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"availabilityZoneInfo": [
            {"zoneName": "nova", "zoneState": {"available": true}, "hosts": null}
        ]})
    );
    let r = member
        .get("/v2.1/os-availability-zone/detail")
        .await
        .unwrap();
    assert_error(&r, 403, "forbidden");
    let r = admin
        .get("/v2.1/os-availability-zone/detail")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let zones = r.body["availabilityZoneInfo"].as_array().unwrap();
    assert_eq!(zones.len(), 2);
    assert_eq!(zones[0]["zoneName"], "nova");
    assert_eq!(zones[1]["zoneName"], "internal");
    let c = &zones[0]["hosts"][&host]["nova-compute"];
    assert_eq!(keys(c), set(&["available", "active", "updated_at"]));
    assert_eq!(c["available"], true);
    assert!(zones[1]["hosts"][&host]["nova-scheduler"].is_object());
    cloud.stop().await;
}

#[tokio::test]
async fn the_scheduler_places_on_the_compute_host_until_it_is_full() {
    let (cloud, admin) = start().await;
    let (_, project) = project_user(&cloud, "h-sched", "member").await;
    let n = nova(&cloud);
    // It only reads, also before any service row exists: a caller may
    // hold a write transaction (SQLite's writer lock) while it schedules.
    let tx = n.db.begin_write().await.unwrap();
    let early = HostRequest {
        vcpus: 1,
        memory_mb: 1,
        disk_gb: 1,
        ..HostRequest::default()
    };
    let chosen = tokio::time::timeout(std::time::Duration::from_secs(10), n.select_host(&early))
        .await
        .expect("select_host waited for the writer lock")
        .unwrap();
    drop(tx);
    let host = the_host(&admin).await;
    assert_eq!(chosen, host);
    let fits = HostRequest {
        vcpus: 2,
        memory_mb: 2048,
        disk_gb: 20,
        availability_zone: Some("nova".into()),
        ..HostRequest::default()
    };
    assert_eq!(n.select_host(&fits).await.unwrap(), host);
    let mut other_zone = fits.clone();
    other_zone.availability_zone = Some("elsewhere".into());
    let e = n.select_host(&other_zone).await.unwrap_err();
    assert!(is_no_valid_host(&e));
    assert_eq!(
        e.message(),
        "No valid host was found. There are not enough hosts available."
    );
    // 800000 MiB less the 512 reserved; fill it up to 1 MiB short.
    insert_server(&n, &project, "u", Some(&host), (1, 800_000 - 512 - 2047, 1)).await;
    let e = n.select_host(&fits).await.unwrap_err();
    assert!(is_no_valid_host(&e));
    let mut small = fits.clone();
    small.memory_mb = 2047;
    assert_eq!(n.select_host(&small).await.unwrap(), host);
    cloud.stop().await;
}

#[tokio::test]
async fn the_first_listings_in_parallel_agree_on_the_services() {
    let (cloud, admin) = start().await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let c = admin.clone();
        let path = if i % 2 == 0 {
            "/v2.1/os-services"
        } else {
            "/v2.1/os-hypervisors"
        };
        tasks.push(tokio::spawn(async move { c.get(path).await.unwrap() }));
    }
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = admin.get("/v2.1/os-services").await.unwrap();
    let ids: std::collections::BTreeSet<i64> = r.body["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{}", r.text);
    cloud.stop().await;
}

#[tokio::test]
async fn services_are_deleted_unless_they_host_servers() {
    let (cloud, admin) = start().await;
    let (member, project) = project_user(&cloud, "h-svcdel", "member").await;
    let host = the_host(&admin).await;
    let n = nova(&cloud);
    let r = at_version(&admin, "GET", "/v2.1/os-services", None, "2.53").await;
    let id_of =
        |body: &Value, binary: &str| service(body, binary)["id"].as_str().unwrap().to_string();
    let conductor = id_of(&r.body, "nova-conductor");
    let compute = id_of(&r.body, "nova-compute");

    let path = format!("/v2.1/os-services/{conductor}");
    let r = at_version(&member, "DELETE", &path, None, "2.53").await;
    assert_error(&r, 403, "forbidden");
    let r = at_version(&member, "DELETE", "/v2.1/os-services/x", None, "2.53").await;
    assert_error(&r, 403, "forbidden");
    let r = at_version(&admin, "DELETE", "/v2.1/os-services/x", None, "2.53").await;
    assert_error(&r, 400, "badRequest");
    let r = admin.delete("/v2.1/os-services/x").await.unwrap();
    assert_error(&r, 400, "badRequest");
    let r = admin.delete("/v2.1/os-services/99999").await.unwrap();
    assert_error(&r, 404, "itemNotFound");
    let missing = "/v2.1/os-services/00000000-0000-0000-0000-000000000000";
    let r = at_version(&admin, "DELETE", missing, None, "2.53").await;
    assert_error(&r, 404, "itemNotFound");

    // A compute service hosting servers stays.
    insert_server(&n, &project, "u", Some(&host), (1, 64, 1)).await;
    let r = at_version(
        &admin,
        "DELETE",
        &format!("/v2.1/os-services/{compute}"),
        None,
        "2.53",
    )
    .await;
    assert_error(&r, 409, "conflictingRequest");

    // The controller's service goes, and shows again, new, at the next
    // listing (the controller still runs it).
    let r = at_version(&admin, "DELETE", &path, None, "2.53").await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = at_version(&admin, "DELETE", &path, None, "2.53").await;
    assert_error(&r, 404, "itemNotFound");
    let r = at_version(&admin, "GET", "/v2.1/os-services", None, "2.53").await;
    assert_ne!(id_of(&r.body, "nova-conductor"), conductor);
    cloud.stop().await;
}

#[tokio::test]
async fn a_qemu_host_reports_this_machines_resources() {
    let (cloud, admin) = start_with(|c| c.compute_driver = "qemu".into()).await;
    let r = at_version(&admin, "GET", "/v2.1/os-hypervisors/detail", None, "2.28").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let h = &r.body["hypervisors"][0];
    assert_eq!(h["hypervisor_type"], "QEMU");
    let cpus = std::thread::available_parallelism().unwrap().get() as i64;
    assert_eq!(h["vcpus"], cpus);
    assert!(h["memory_mb"].as_i64().unwrap() > 0, "{}", r.text);
    assert!(h["local_gb"].as_i64().unwrap() > 0, "{}", r.text);
    assert_eq!(h["cpu_info"]["arch"], std::env::consts::ARCH);
    assert!(h["cpu_info"]["topology"]["sockets"].as_i64().unwrap() >= 1);
    let r = admin.get("/v2.1/os-hypervisors/detail").await.unwrap();
    let text = r.body["hypervisors"][0]["cpu_info"].as_str().unwrap();
    let parsed: Value = serde_json::from_str(text).unwrap();
    assert_eq!(parsed["arch"], std::env::consts::ARCH);
    cloud.stop().await;
}

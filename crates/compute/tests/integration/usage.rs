//! `os-simple-tenant-usage`: Nova's usage arithmetic over a period, the
//! admin listing and the project's own view, paging from 2.40, and the
//! 400s for bad periods.

use super::servers::{create, image, network, wait_status};
use super::*;
use serde_json::{json, Value};

const WIDE: &str = "start=2000-01-01T00:00:00&end=2999-01-01T00:00:00.000000";

async fn get_at(c: &Client, path: &str, v: &str) -> Resp {
    at_version(c, "GET", path, None, v).await
}

async fn server(cloud: &TestCloud, user: &Client, img: &str, name: &str, net: bool) -> String {
    if net {
        network(cloud, user, &format!("{name}-net"), "10.29.0.0/24").await;
    }
    let r = create(
        user,
        json!({"name": name, "imageRef": img, "flavorRef": "1"}),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(user, &id, "ACTIVE").await;
    id
}

#[tokio::test]
async fn usage_is_billed_per_project_with_novas_arithmetic() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (user, project) = project_user(&cloud, "usage-user", "member").await;
    let a = server(&cloud, &user, &img, "ua", true).await;
    let b = server(&cloud, &user, &img, "ub", false).await;
    let r = user.delete(&format!("/v2.1/servers/{b}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);

    // The admin's listing: one entry per project, 7 keys, 8 with detail.
    let r = admin
        .get(&format!("/v2.1/os-simple-tenant-usage?{WIDE}"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let ours: Vec<&Value> = r.body["tenant_usages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["tenant_id"] == project.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "{}", r.text);
    assert_eq!(ours[0].as_object().unwrap().len(), 7, "{}", r.text);
    let r = admin
        .get(&format!("/v2.1/os-simple-tenant-usage?{WIDE}&detailed=1"))
        .await
        .unwrap();
    let t = r.body["tenant_usages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tenant_id"] == project.as_str())
        .unwrap()
        .clone();
    assert_eq!(t.as_object().unwrap().len(), 8);
    assert_eq!(t["start"], "2000-01-01T00:00:00.000000");
    let usages = t["server_usages"].as_array().unwrap();
    assert_eq!(usages.len(), 2, "{t}");
    let ua = usages
        .iter()
        .find(|u| u["instance_id"] == a.as_str())
        .unwrap();
    let ub = usages
        .iter()
        .find(|u| u["instance_id"] == b.as_str())
        .unwrap();
    assert_eq!(ua["state"], "active");
    assert!(ua["ended_at"].is_null());
    assert_eq!(ub["state"], "terminated");
    assert!(ub["ended_at"].is_string());
    assert_eq!(ua["flavor"], "m1.tiny");
    assert_eq!(ua["name"], "ua");
    assert_eq!(ua["tenant_id"], project.as_str());
    assert!(ua["uptime"].is_i64());
    let (vcpus, mem, gb) = (
        ua["vcpus"].as_f64().unwrap(),
        ua["memory_mb"].as_f64().unwrap(),
        ua["local_gb"].as_f64().unwrap(),
    );
    let hours: f64 = usages.iter().map(|u| u["hours"].as_f64().unwrap()).sum();
    assert!(hours > 0.0);
    let close = |x: f64, y: f64| (x - y).abs() < 1e-9 * y.max(1.0);
    assert!(close(t["total_hours"].as_f64().unwrap(), hours));
    // Both servers have flavor 1: the totals are its sizes times hours.
    assert!(close(
        t["total_vcpus_usage"].as_f64().unwrap(),
        vcpus * hours
    ));
    assert!(close(
        t["total_memory_mb_usage"].as_f64().unwrap(),
        mem * hours
    ));
    assert!(close(
        t["total_local_gb_usage"].as_f64().unwrap(),
        gb * hours
    ));

    // The project's own view; a period before any launch is empty.
    let r = user
        .get(&format!("/v2.1/os-simple-tenant-usage/{project}?{WIDE}"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["tenant_usage"]["server_usages"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = admin
        .get(&format!(
            "/v2.1/os-simple-tenant-usage/{project}?start=2000-01-01T00:00:00&end=2000-01-02T00:00:00"
        ))
        .await
        .unwrap();
    assert_eq!(r.body, json!({"tenant_usage": {}}));

    // Paging from 2.40 by server id.
    let r = get_at(
        &admin,
        &format!("/v2.1/os-simple-tenant-usage/{project}?{WIDE}&limit=1"),
        "2.40",
    )
    .await;
    assert_eq!(
        r.body["tenant_usage"]["server_usages"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let first = r.body["tenant_usage"]["server_usages"][0]["instance_id"]
        .as_str()
        .unwrap()
        .to_string();
    let next = r.body["tenant_usage_links"][0]["href"].as_str().unwrap();
    assert!(
        next.contains(&format!("os-simple-tenant-usage/{project}?")),
        "{next}"
    );
    assert!(next.ends_with(&format!("marker={first}")), "{next}");
    let r = get_at(
        &admin,
        &format!("/v2.1/os-simple-tenant-usage/{project}?{WIDE}&limit=5&marker={first}"),
        "2.40",
    )
    .await;
    let rest = r.body["tenant_usage"]["server_usages"].as_array().unwrap();
    assert_eq!(rest.len(), 1, "{}", r.text);
    assert_ne!(rest[0]["instance_id"], first.as_str());
    assert!(r.body.get("tenant_usage_links").is_none());

    // Policy: only admins list; a project reads its own only.
    let r = user
        .get(&format!("/v2.1/os-simple-tenant-usage?{WIDE}"))
        .await
        .unwrap();
    assert_error(&r, 403, "forbidden");
    let (other, _) = project_user(&cloud, "usage-other", "member").await;
    let r = other
        .get(&format!("/v2.1/os-simple-tenant-usage/{project}?{WIDE}"))
        .await
        .unwrap();
    assert_error(&r, 403, "forbidden");
}

#[tokio::test]
async fn bad_periods_and_paging_are_400s() {
    let (_cloud, admin) = start().await;
    for (q, v) in [
        ("start=yesterday", "2.1"),
        ("start=2020-01-01", "2.1"),
        ("start=2020-01-01T00:00:00Z", "2.1"),
        ("end=2020-01-01%2000:00:00", "2.1"),
        ("start=2020-01-02T00:00:00&end=2020-01-01T00:00:00", "2.1"),
        ("start=2020-01-01T00:00:00&end=2020-01-01T00:00:00", "2.1"),
        ("limit=-1", "2.40"),
        ("marker=nope", "2.40"),
        ("bogus=1", "2.75"),
    ] {
        let r = get_at(&admin, &format!("/v2.1/os-simple-tenant-usage?{q}"), v).await;
        assert_error(&r, 400, "badRequest");
    }
    let r = get_at(
        &admin,
        "/v2.1/os-simple-tenant-usage?start=2020-01-02T00:00:00&end=2020-01-01T00:00:00",
        "2.1",
    )
    .await;
    assert_eq!(
        r.body["badRequest"]["message"],
        "Invalid start time. The start time cannot occur after the end time."
    );
    // Unknown parameters are ignored before 2.75; no servers, no entries.
    let r = get_at(&admin, "/v2.1/os-simple-tenant-usage?bogus=1", "2.74").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"tenant_usages": []}));
    // An empty tenant id is no route at all.
    let r = admin.get("/v2.1/os-simple-tenant-usage/").await.unwrap();
    assert_eq!(r.status, 404, "{}", r.text);
}

//! Migrations: `GET /os-migrations` (shapes per microversion, filters,
//! paging, policy), the `migrate` and `os-migrateLive` actions on a
//! one-host cloud (where no other host can take the server), and a
//! server's live migrations (`/servers/{id}/migrations`).

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

const MIGRATION_20: &[&str] = &[
    "id",
    "instance_uuid",
    "status",
    "source_compute",
    "source_node",
    "dest_compute",
    "dest_node",
    "dest_host",
    "old_instance_type_id",
    "new_instance_type_id",
    "created_at",
    "updated_at",
];

async fn act_at(c: &Client, id: &str, body: Value, v: &str) -> Resp {
    at_version(
        c,
        "POST",
        &format!("/v2.1/servers/{id}/action"),
        Some(&body),
        v,
    )
    .await
}

async fn get_at(c: &Client, path: &str, v: &str) -> Resp {
    at_version(c, "GET", path, None, v).await
}

async fn active_server(cloud: &TestCloud, user: &Client, img: &str, name: &str) -> String {
    network(cloud, user, &format!("{name}-net"), "10.19.0.0/24").await;
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

/// The migrations of `server`, at 2.80.
async fn migrations_of(admin: &Client, server: &str) -> Vec<Value> {
    let r = get_at(
        admin,
        &format!("/v2.1/os-migrations?instance_uuid={server}"),
        "2.80",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["migrations"].as_array().unwrap().clone()
}

/// Polls until the server has no task (5 s at most).
async fn wait_idle(c: &Client, id: &str) -> Value {
    for _ in 0..100 {
        let r = c.get(&format!("/v2.1/servers/{id}")).await.unwrap();
        if r.body["server"]["OS-EXT-STS:task_state"].is_null() {
            return r.body["server"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("server {id} kept a task");
}

#[tokio::test]
async fn os_migrations_lists_resizes_with_novas_shapes_filters_and_paging() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (user, project) = project_user(&cloud, "mig-user", "member").await;
    let id = active_server(&cloud, &user, &img, "mig").await;
    let host = wait_status(&admin, &id, "ACTIVE").await["OS-EXT-SRV-ATTR:host"]
        .as_str()
        .unwrap()
        .to_string();

    // Nothing yet; then a resize is one record.
    let r = admin.get("/v2.1/os-migrations").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"migrations": []}));
    let r = user
        .post(
            &format!("/v2.1/servers/{id}/action"),
            json!({"resize": {"flavorRef": "2"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    wait_status(&user, &id, "VERIFY_RESIZE").await;

    // 2.1: Nova's v2.0 shape, integer id, no type.
    let r = admin.get("/v2.1/os-migrations").await.unwrap();
    let list = r.body["migrations"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{}", r.text);
    let m = &list[0];
    assert_eq!(keys(m), set(MIGRATION_20));
    assert!(m["id"].is_i64(), "{m}");
    assert_eq!(m["instance_uuid"], id.as_str());
    assert_eq!(m["status"], "finished");
    assert_eq!(m["source_compute"], host.as_str());
    assert_eq!(m["dest_compute"], host.as_str());
    assert_eq!(m["dest_node"], host.as_str());
    assert!(m["dest_host"].is_string(), "{m}");

    // 2.23 adds the type; 2.59 the uuid; 2.80 who started it.
    let r = get_at(&admin, "/v2.1/os-migrations", "2.23").await;
    assert_eq!(r.body["migrations"][0]["migration_type"], "resize");
    assert!(r.body["migrations"][0].get("links").is_none());
    let r = get_at(&admin, "/v2.1/os-migrations", "2.59").await;
    let m = &r.body["migrations"][0];
    assert!(m["uuid"].is_string(), "{}", r.text);
    assert!(m.get("user_id").is_none());
    assert!(r.body.get("migrations_links").is_none(), "{}", r.text);
    let all = migrations_of(&admin, &id).await;
    assert_eq!(all[0]["project_id"], project.as_str());
    assert!(all[0]["user_id"].is_string());

    // Filters.
    for (q, n) in [
        (format!("host={host}"), 1),
        ("host=elsewhere".to_string(), 0),
        (format!("source_compute={host}"), 1),
        ("status=finished".to_string(), 1),
        ("status=error".to_string(), 0),
        ("migration_type=resize".to_string(), 1),
        ("migration_type=live-migration".to_string(), 0),
        (format!("instance_uuid={id}"), 1),
        ("instance_uuid=nope".to_string(), 0),
    ] {
        let r = get_at(&admin, &format!("/v2.1/os-migrations?{q}"), "2.23").await;
        assert_eq!(r.status, 200, "{q}: {}", r.text);
        assert_eq!(r.body["migrations"].as_array().unwrap().len(), n, "{q}");
    }
    let r = get_at(
        &admin,
        &format!("/v2.1/os-migrations?project_id={project}"),
        "2.80",
    )
    .await;
    assert_eq!(r.body["migrations"].as_array().unwrap().len(), 1);
    let r = get_at(&admin, "/v2.1/os-migrations?user_id=nobody", "2.80").await;
    assert_eq!(r.body["migrations"].as_array().unwrap().len(), 0);

    // Confirm, then a second resize: paging newest first from 2.59.
    let r = user
        .post(
            &format!("/v2.1/servers/{id}/action"),
            json!({"confirmResize": null}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    wait_status(&user, &id, "ACTIVE").await;
    let r = user
        .post(
            &format!("/v2.1/servers/{id}/action"),
            json!({"resize": {"flavorRef": "1"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    wait_status(&user, &id, "VERIFY_RESIZE").await;
    let r = get_at(&admin, "/v2.1/os-migrations?limit=1", "2.59").await;
    let page = r.body["migrations"].as_array().unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0]["status"], "finished");
    let newest = page[0]["uuid"].as_str().unwrap().to_string();
    let next = r.body["migrations_links"][0]["href"].as_str().unwrap();
    assert!(
        next.ends_with(&format!("/v2.1/os-migrations?limit=1&marker={newest}")),
        "{next}"
    );
    let r = get_at(
        &admin,
        &format!("/v2.1/os-migrations?limit=5&marker={newest}"),
        "2.59",
    )
    .await;
    let rest = r.body["migrations"].as_array().unwrap();
    assert_eq!(rest.len(), 1, "{}", r.text);
    assert_eq!(rest[0]["status"], "confirmed");
    assert!(rest[0]["id"].as_i64() < page[0]["id"].as_i64());
    let r = get_at(&admin, "/v2.1/os-migrations?limit=0", "2.59").await;
    assert_eq!(r.body["migrations"], json!([]));
    let r = get_at(
        &admin,
        "/v2.1/os-migrations?changes-since=2000-01-01T00:00:00Z",
        "2.59",
    )
    .await;
    assert_eq!(r.body["migrations"].as_array().unwrap().len(), 2);
    let r = get_at(
        &admin,
        "/v2.1/os-migrations?changes-since=2999-01-01T00:00:00Z",
        "2.59",
    )
    .await;
    assert_eq!(r.body["migrations"], json!([]));

    // Bad input: 400s with Nova's body.
    for (q, v) in [
        ("marker=nope", "2.59"),
        ("limit=-1", "2.59"),
        ("limit=many", "2.59"),
        ("changes-since=yesterday", "2.59"),
        ("unknown=1", "2.59"),
        ("user_id=x", "2.79"),
        (
            "changes-since=2020-01-02T00:00:00Z&changes-before=2020-01-01T00:00:00Z",
            "2.66",
        ),
    ] {
        let r = get_at(&admin, &format!("/v2.1/os-migrations?{q}"), v).await;
        assert_error(&r, 400, "badRequest");
    }
    assert_eq!(
        get_at(&admin, "/v2.1/os-migrations?marker=nope", "2.59")
            .await
            .body["badRequest"]["message"],
        "Marker nope could not be found."
    );
    // Before 2.59 unknown filters and paging are ignored.
    let r = get_at(&admin, "/v2.1/os-migrations?unknown=1&limit=x", "2.58").await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Only admins list every project's migrations.
    let r = user.get("/v2.1/os-migrations").await.unwrap();
    assert_error(&r, 403, "forbidden");
}

#[tokio::test]
async fn migrations_on_one_host_find_no_other_host() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (user, _) = project_user(&cloud, "mv-user", "member").await;
    let id = active_server(&cloud, &user, &img, "mv").await;
    let host = wait_status(&admin, &id, "ACTIVE").await["OS-EXT-SRV-ATTR:host"]
        .as_str()
        .unwrap()
        .to_string();

    // Cold migration: accepted, then no host; the server stays ACTIVE,
    // the migration is in error and the action says why.
    let r = act_at(&admin, &id, json!({"migrate": null}), "2.1").await;
    assert_eq!(r.status, 202, "{}", r.text);
    let s = wait_idle(&admin, &id).await;
    assert_eq!(s["status"], "ACTIVE");
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], host.as_str());
    let ms = migrations_of(&admin, &id).await;
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0]["migration_type"], "migration");
    assert_eq!(ms[0]["status"], "error");
    let r = admin
        .get(&format!("/v2.1/servers/{id}/os-instance-actions"))
        .await
        .unwrap();
    assert_eq!(r.body["instanceActions"][0]["action"], "migrate");
    let req = r.body["instanceActions"][0]["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = get_at(
        &admin,
        &format!("/v2.1/servers/{id}/os-instance-actions/{req}"),
        "2.51",
    )
    .await;
    assert_eq!(
        r.body["instanceAction"]["events"][0]["result"], "Error",
        "{}",
        r.text
    );

    // Naming a host: 2.56+; the server's own or an unknown one is a 400.
    let r = act_at(&admin, &id, json!({"migrate": {"host": host}}), "2.56").await;
    assert_error(&r, 400, "badRequest");
    assert_eq!(
        r.body["badRequest"]["message"],
        "Cannot migrate to the host where the server exists."
    );
    let r = act_at(&admin, &id, json!({"migrate": {"host": "nowhere"}}), "2.56").await;
    assert_error(&r, 400, "badRequest");
    assert_eq!(
        r.body["badRequest"]["message"],
        "Compute host nowhere could not be found."
    );
    let r = act_at(&admin, &id, json!({"migrate": {"hots": "x"}}), "2.56").await;
    assert_error(&r, 400, "badRequest");
    let r = act_at(
        &admin,
        &id,
        json!({"migrate": {"host": "bad host!"}}),
        "2.56",
    )
    .await;
    assert_error(&r, 400, "badRequest");
    // A member is not a project manager.
    let r = act_at(&user, &id, json!({"migrate": null}), "2.1").await;
    assert_error(&r, 403, "forbidden");

    // Live migration before 2.34: the scheduler's answer is the 400.
    let body = json!({"os-migrateLive": {"host": null, "block_migration": false,
                                          "disk_over_commit": false}});
    let r = act_at(&admin, &id, body.clone(), "2.1").await;
    assert_error(&r, 400, "badRequest");
    assert_eq!(
        r.body["badRequest"]["message"],
        "No valid host was found. There are not enough hosts available."
    );
    let s = wait_idle(&admin, &id).await;
    assert_eq!(s["status"], "ACTIVE");
    let r = act_at(
        &admin,
        &id,
        json!({"os-migrateLive": {"host": "nowhere", "block_migration": "auto"}}),
        "2.25",
    )
    .await;
    assert_eq!(
        r.body["badRequest"]["message"],
        "Compute host nowhere could not be found."
    );
    let r = act_at(
        &admin,
        &id,
        json!({"os-migrateLive": {"host": null, "block_migration": "auto", "force": true}}),
        "2.30",
    )
    .await;
    assert_eq!(
        r.body["badRequest"]["message"],
        "Can't force to a non-provided destination"
    );
    let r = act_at(
        &admin,
        &id,
        json!({"os-migrateLive": {"host": host, "block_migration": "auto", "force": true}}),
        "2.30",
    )
    .await;
    assert_eq!(
        r.body["badRequest"]["message"],
        format!("Unable to migrate instance ({id}) to current host ({host}).")
    );
    // Schema per microversion.
    for (b, v) in [
        (
            json!({"os-migrateLive": {"host": null, "block_migration": false}}),
            "2.1",
        ),
        (
            json!({"os-migrateLive": {"host": null, "block_migration": "auto",
                                    "disk_over_commit": false}}),
            "2.25",
        ),
        (
            json!({"os-migrateLive": {"host": null, "block_migration": "auto"}}),
            "2.24",
        ),
        (
            json!({"os-migrateLive": {"host": null, "block_migration": "maybe"}}),
            "2.25",
        ),
        (
            json!({"os-migrateLive": {"host": null, "block_migration": "auto", "force": false}}),
            "2.68",
        ),
        (
            json!({"os-migrateLive": {"block_migration": "auto"}}),
            "2.25",
        ),
        (json!({"os-migrateLive": []}), "2.25"),
    ] {
        let r = act_at(&admin, &id, b.clone(), v).await;
        assert_error(&r, 400, "badRequest");
    }
    // From 2.34 the failure is only in the action; the 202 is taken.
    let r = act_at(
        &admin,
        &id,
        json!({"os-migrateLive": {"host": null, "block_migration": "auto"}}),
        "2.34",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let s = wait_idle(&admin, &id).await;
    assert_eq!(s["status"], "ACTIVE");
    let live: Vec<Value> = migrations_of(&admin, &id)
        .await
        .into_iter()
        .filter(|m| m["migration_type"] == "live-migration")
        .collect();
    assert!(!live.is_empty());
    assert!(live.iter().all(|m| m["status"] == "error"));

    // No live migration is ever in progress here.
    let path = format!("/v2.1/servers/{id}/migrations");
    assert_error(&get_at(&admin, &path, "2.22").await, 404, "itemNotFound");
    let r = get_at(&admin, &path, "2.23").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"migrations": []}));
    let mid = live[0]["id"].as_i64().unwrap();
    let r = get_at(&admin, &format!("{path}/{mid}"), "2.23").await;
    assert_error(&r, 404, "itemNotFound");
    assert_eq!(
        r.body["itemNotFound"]["message"],
        format!("Live migration {mid} for server {id} is not in progress.")
    );
    let r = get_at(&admin, &format!("{path}/999999"), "2.23").await;
    assert_error(&r, 404, "itemNotFound");
    let r = at_version(&admin, "DELETE", &format!("{path}/{mid}"), None, "2.24").await;
    assert_error(&r, 409, "conflictingRequest");
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        format!("Cannot 'abort live migration' instance {id} while it is in task_state None")
    );
    let r = at_version(
        &admin,
        "POST",
        &format!("{path}/{mid}/action"),
        Some(&json!({"force_complete": null})),
        "2.22",
    )
    .await;
    assert_error(&r, 409, "conflictingRequest");
    let r = at_version(
        &admin,
        "POST",
        &format!("{path}/{mid}/action"),
        Some(&json!({"force_complete": 1})),
        "2.22",
    )
    .await;
    assert_error(&r, 400, "badRequest");

    // Wrong state: a suspended server cannot be live-migrated.
    let r = act_at(&admin, &id, json!({"suspend": null}), "2.1").await;
    assert_eq!(r.status, 202, "{}", r.text);
    wait_status(&admin, &id, "SUSPENDED").await;
    let r = act_at(&admin, &id, body, "2.1").await;
    assert_error(&r, 409, "conflictingRequest");
    let r = act_at(&admin, &id, json!({"migrate": null}), "2.1").await;
    assert_error(&r, 409, "conflictingRequest");
    let r = act_at(
        &admin,
        "00000000-0000-0000-0000-000000000000",
        json!({"migrate": null}),
        "2.1",
    )
    .await;
    assert_error(&r, 404, "itemNotFound");
}

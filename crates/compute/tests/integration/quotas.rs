//! `os-quota-sets`, `os-quota-class-sets`, `/limits` and the quota check
//! server creates make (`Compute::check_instances`), with servers
//! inserted straight into `compute_instances`.

use super::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The compute service of `cloud`.
pub fn nova(cloud: &TestCloud) -> Arc<compute::Compute> {
    cloud.cloud.service::<compute::Compute>().unwrap()
}

/// Inserts a live server row of the given size.
pub async fn insert_server(
    nova: &compute::Compute,
    project: &str,
    user: &str,
    host: Option<&str>,
    (vcpus, ram, disk): (i64, i64, i64),
) -> String {
    let mut tx = nova.db.begin_write().await.unwrap();
    let id = insert_in(&mut tx, project, user, host, (vcpus, ram, disk)).await;
    tx.commit().await.unwrap();
    id
}

pub async fn insert_in(
    tx: &mut db::WriteTx,
    project: &str,
    user: &str,
    host: Option<&str>,
    (vcpus, ram, disk): (i64, i64, i64),
) -> String {
    let id = common::ids::uuid();
    db::sqlx::query(
        "INSERT INTO compute_instances (id, name, project_id, user_id, hostname, host, \
         availability_zone, flavor_id, flavor, vcpus, memory_mb, root_gb, ephemeral_gb, \
         image_ref, vm_state, power_state, config_drive, metadata, tags, security_groups, \
         locked, reservation_id, launch_index, created_at, updated_at, network_info, \
         image_properties) VALUES \
         ($1, $2, $3, $4, $2, $5, 'nova', '1', '{}', $6, $7, $8, 0, '', 'active', 1, '', \
         '{}', '[]', '[]', 0, 'r-1', 0, 1, 1, '[]', '{}')",
    )
    .bind(&id)
    .bind(format!("vm-{id}"))
    .bind(project)
    .bind(user)
    .bind(host.map(str::to_string))
    .bind(vcpus)
    .bind(ram)
    .bind(disk)
    .execute(tx.conn())
    .await
    .unwrap();
    id
}

pub fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

pub fn set(k: &[&str]) -> BTreeSet<String> {
    k.iter().map(|s| s.to_string()).collect()
}

const V21_KEYS: &[&str] = &[
    "instances",
    "cores",
    "ram",
    "floating_ips",
    "fixed_ips",
    "metadata_items",
    "injected_files",
    "injected_file_content_bytes",
    "injected_file_path_bytes",
    "security_groups",
    "security_group_rules",
    "key_pairs",
    "server_groups",
    "server_group_members",
];
const V257_KEYS: &[&str] = &[
    "instances",
    "cores",
    "ram",
    "metadata_items",
    "key_pairs",
    "server_groups",
    "server_group_members",
];

fn with_id(k: &[&str]) -> BTreeSet<String> {
    let mut s = set(k);
    s.insert("id".into());
    s
}

fn v236_keys() -> Vec<&'static str> {
    V21_KEYS
        .iter()
        .copied()
        .filter(|k| {
            ![
                "floating_ips",
                "fixed_ips",
                "security_groups",
                "security_group_rules",
            ]
            .contains(k)
        })
        .collect()
}

#[tokio::test]
async fn quota_sets_show_their_keys_per_microversion() {
    let (cloud, admin) = start().await;
    let (_, project) = project_user(&cloud, "q-keys", "member").await;
    let path = format!("/v2.1/os-quota-sets/{project}");
    let r = admin.get(&path).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body["quota_set"]), with_id(V21_KEYS));
    assert_eq!(r.body["quota_set"]["id"], project.as_str());
    assert_eq!(r.body["quota_set"]["instances"], 10);
    assert_eq!(r.body["quota_set"]["cores"], 20);
    assert_eq!(r.body["quota_set"]["ram"], 51200);
    assert_eq!(r.body["quota_set"]["fixed_ips"], -1);
    let r = at_version(&admin, "GET", &path, None, "2.36").await;
    assert_eq!(keys(&r.body["quota_set"]), with_id(&v236_keys()));
    let r = at_version(&admin, "GET", &path, None, "2.57").await;
    assert_eq!(keys(&r.body["quota_set"]), with_id(V257_KEYS));

    // A project the identity service does not know is a 400.
    let bogus = "/v2.1/os-quota-sets/no-such-project";
    for p in [
        bogus.to_string(),
        format!("{bogus}/detail"),
        format!("{bogus}/defaults"),
    ] {
        let r = admin.get(&p).await.unwrap();
        assert_error(&r, 400, "badRequest");
        assert!(r.text.contains("is not a valid project"), "{}", r.text);
    }
    let r = admin
        .put(bogus, Some(json!({"quota_set": {"cores": 1}})))
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    let r = admin.delete(bogus).await.unwrap();
    assert_eq!(r.status, 202, "{}", r.text);

    let r = at_version(&admin, "GET", &format!("{path}/defaults"), None, "2.57").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body["quota_set"]), with_id(V257_KEYS));

    let r = at_version(&admin, "GET", &format!("{path}/detail"), None, "2.1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body["quota_set"]), with_id(V21_KEYS));
    assert_eq!(
        r.body["quota_set"]["cores"],
        json!({"limit": 20, "in_use": 0, "reserved": 0})
    );
    let r = at_version(&admin, "GET", &format!("{path}/detail"), None, "2.57").await;
    assert_eq!(keys(&r.body["quota_set"]), with_id(V257_KEYS));
    cloud.stop().await;
}

#[tokio::test]
async fn members_read_their_own_quotas_only_and_never_write() {
    let (cloud, admin) = start().await;
    let (member, project) = project_user(&cloud, "q-member", "member").await;
    let (_, other) = project_user(&cloud, "q-other", "member").await;
    let r = member
        .get(&format!("/v2.1/os-quota-sets/{project}"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = member
        .get(&format!("/v2.1/os-quota-sets/{project}/detail"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = member
        .get(&format!("/v2.1/os-quota-sets/{other}"))
        .await
        .unwrap();
    assert_error(&r, 403, "forbidden");
    // Defaults are anyone's to read.
    let r = member
        .get(&format!("/v2.1/os-quota-sets/{other}/defaults"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let body = json!({"quota_set": {"cores": 30}});
    let r = member
        .put(&format!("/v2.1/os-quota-sets/{project}"), Some(body))
        .await
        .unwrap();
    assert_error(&r, 403, "forbidden");
    let r = member
        .delete(&format!("/v2.1/os-quota-sets/{project}"))
        .await
        .unwrap();
    assert_error(&r, 403, "forbidden");
    let r = member
        .get("/v2.1/os-quota-class-sets/default")
        .await
        .unwrap();
    assert_error(&r, 403, "forbidden");
    // Admins may write.
    let r = admin
        .delete(&format!("/v2.1/os-quota-sets/{project}"))
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    cloud.stop().await;
}

#[tokio::test]
async fn updates_are_validated_checked_against_usage_and_deleted_back_to_defaults() {
    let (cloud, admin) = start().await;
    let (_, project) = project_user(&cloud, "q-update", "member").await;
    let n = nova(&cloud);
    let path = format!("/v2.1/os-quota-sets/{project}");
    let r = admin
        .put(
            &path,
            Some(json!({"quota_set": {"cores": 30, "fixed_ips": 7, "ram": "1024"}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body["quota_set"]), set(V21_KEYS));
    assert_eq!(r.body["quota_set"]["cores"], 30);
    assert_eq!(r.body["quota_set"]["ram"], 1024);
    assert_eq!(r.body["quota_set"]["fixed_ips"], 7);
    let r = at_version(
        &admin,
        "PUT",
        &path,
        Some(&json!({"quota_set": {"instances": -1}})),
        "2.57",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body["quota_set"]), set(V257_KEYS));
    assert_eq!(r.body["quota_set"]["instances"], -1);

    for bad in [
        json!({"quota_set": {"cores": -2}}),
        json!({"quota_set": {"cores": "many"}}),
        json!({"quota_set": {"cores": 1.5}}),
        json!({"quota_set": {"cores": 2147483648_i64}}),
        json!({"quota_set": {"bogus": 1}}),
        json!({"quota_set": {"cores": 1, "force": "maybe"}}),
        json!({"quotas": {"cores": 1}}),
        json!({"quota_set": {"cores": 1}, "extra": 1}),
    ] {
        let r = admin.put(&path, Some(bad.clone())).await.unwrap();
        assert_error(&r, 400, "badRequest");
    }
    // The network keys are gone at 2.36, the personality ones at 2.57.
    let r = at_version(
        &admin,
        "PUT",
        &path,
        Some(&json!({"quota_set": {"fixed_ips": 1}})),
        "2.36",
    )
    .await;
    assert_error(&r, 400, "badRequest");
    let r = at_version(
        &admin,
        "PUT",
        &path,
        Some(&json!({"quota_set": {"injected_files": 1}})),
        "2.57",
    )
    .await;
    assert_error(&r, 400, "badRequest");

    // Below what is in use: refused unless forced.
    insert_server(&n, &project, "u1", None, (4, 2048, 10)).await;
    insert_server(&n, &project, "u1", None, (4, 2048, 10)).await;
    let r = admin
        .put(&path, Some(json!({"quota_set": {"cores": 7}})))
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    assert!(r.text.contains("already used and reserved 8"), "{}", r.text);
    let r = admin
        .put(&path, Some(json!({"quota_set": {"cores": 8}})))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin
        .put(
            &path,
            Some(json!({"quota_set": {"cores": 1, "force": true}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["quota_set"]["cores"], 1);
    let r = admin.get(&format!("{path}/detail")).await.unwrap();
    assert_eq!(
        r.body["quota_set"]["cores"],
        json!({"limit": 1, "in_use": 8, "reserved": 0})
    );
    assert_eq!(r.body["quota_set"]["instances"]["in_use"], 2);
    assert_eq!(r.body["quota_set"]["ram"]["in_use"], 4096);

    // A user's own limits, within the project's.
    let r = admin
        .put(
            &format!("{path}?user_id=u2"),
            Some(json!({"quota_set": {"ram": 512}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin.get(&format!("{path}?user_id=u2")).await.unwrap();
    assert_eq!(r.body["quota_set"]["ram"], 512);
    assert_eq!(r.body["quota_set"]["cores"], 1);
    let r = admin
        .put(
            &format!("{path}?user_id=u2"),
            Some(json!({"quota_set": {"ram": 999999}})),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    let r = admin
        .get(&format!("{path}/detail?user_id=u1"))
        .await
        .unwrap();
    assert_eq!(r.body["quota_set"]["instances"]["in_use"], 2);
    // A user's limit must cover the user's usage; the project's may not
    // go below what it gave its users.
    let r = admin
        .put(
            &format!("{path}?user_id=u1"),
            Some(json!({"quota_set": {"instances": 1}})),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    let r = admin
        .put(&path, Some(json!({"quota_set": {"ram": 511}})))
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    assert!(
        r.text.contains("already used and reserved 4096"),
        "{}",
        r.text
    );
    let r = admin
        .put(&path, Some(json!({"quota_set": {"ram": 4096}})))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin
        .put(
            &format!("{path}?user_id=u3"),
            Some(json!({"quota_set": {"ram": 3585}})),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    assert!(r.text.contains("less than or equal to 3584"), "{}", r.text);
    let r = admin
        .put(
            &format!("{path}?user_id=u3"),
            Some(json!({"quota_set": {"ram": 3584}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin
        .put(&path, Some(json!({"quota_set": {"ram": 4095}})))
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    // Unknown query parameters are refused from 2.75.
    let r = at_version(&admin, "GET", &format!("{path}?bogus=1"), None, "2.74").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = at_version(&admin, "GET", &format!("{path}?bogus=1"), None, "2.75").await;
    assert_error(&r, 400, "badRequest");

    let r = admin.delete(&path).await.unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    let r = admin.get(&path).await.unwrap();
    assert_eq!(r.body["quota_set"]["cores"], 20);
    assert_eq!(r.body["quota_set"]["ram"], 51200);
    let r = admin.get(&format!("{path}?user_id=u2")).await.unwrap();
    assert_eq!(r.body["quota_set"]["ram"], 51200);
    cloud.stop().await;
}

#[tokio::test]
async fn quota_classes_set_the_defaults() {
    let (cloud, admin) = start().await;
    let (_, project) = project_user(&cloud, "q-class", "member").await;
    let r = admin
        .get("/v2.1/os-quota-class-sets/default")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let v21: Vec<&str> = V21_KEYS
        .iter()
        .copied()
        .filter(|k| !k.starts_with("server_group"))
        .collect();
    assert_eq!(keys(&r.body["quota_class_set"]), with_id(&v21));
    assert_eq!(r.body["quota_class_set"]["id"], "default");
    let r = at_version(
        &admin,
        "GET",
        "/v2.1/os-quota-class-sets/default",
        None,
        "2.50",
    )
    .await;
    assert_eq!(keys(&r.body["quota_class_set"]), with_id(&v236_keys()));
    let r = at_version(
        &admin,
        "GET",
        "/v2.1/os-quota-class-sets/default",
        None,
        "2.57",
    )
    .await;
    assert_eq!(keys(&r.body["quota_class_set"]), with_id(V257_KEYS));

    let r = at_version(
        &admin,
        "PUT",
        "/v2.1/os-quota-class-sets/default",
        Some(&json!({"quota_class_set": {"cores": 40, "server_groups": 3}})),
        "2.57",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body["quota_class_set"]), set(V257_KEYS));
    assert_eq!(r.body["quota_class_set"]["cores"], 40);
    let r = admin
        .get(&format!("/v2.1/os-quota-sets/{project}/defaults"))
        .await
        .unwrap();
    assert_eq!(r.body["quota_set"]["cores"], 40);
    let r = admin
        .get(&format!("/v2.1/os-quota-sets/{project}"))
        .await
        .unwrap();
    assert_eq!(r.body["quota_set"]["cores"], 40);
    // Another class keeps its own values, which limit nobody.
    let r = admin
        .put(
            "/v2.1/os-quota-class-sets/gold",
            Some(json!({"quota_class_set": {"ram": 7}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["quota_class_set"]["ram"], 7);
    assert_eq!(r.body["quota_class_set"]["cores"], 20);
    let r = admin.get("/v2.1/os-quota-class-sets/gold").await.unwrap();
    assert_eq!(r.body["quota_class_set"]["id"], "gold");
    assert_eq!(r.body["quota_class_set"]["ram"], 7);
    let r = admin
        .get(&format!("/v2.1/os-quota-sets/{project}"))
        .await
        .unwrap();
    assert_eq!(r.body["quota_set"]["ram"], 51200);
    // server_groups is not a class key before 2.50.
    let r = admin
        .put(
            "/v2.1/os-quota-class-sets/default",
            Some(json!({"quota_class_set": {"server_groups": 3}})),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    let r = admin
        .put(
            "/v2.1/os-quota-class-sets/default",
            Some(json!({"quota_class_set": {"cores": -5}})),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    cloud.stop().await;
}

const LIMITS_V21: &[&str] = &[
    "maxImageMeta",
    "maxPersonality",
    "maxPersonalitySize",
    "maxSecurityGroupRules",
    "maxSecurityGroups",
    "maxServerMeta",
    "maxTotalCores",
    "maxTotalFloatingIps",
    "maxTotalInstances",
    "maxTotalKeypairs",
    "maxTotalRAMSize",
    "totalCoresUsed",
    "totalFloatingIpsUsed",
    "totalInstancesUsed",
    "totalRAMUsed",
    "totalSecurityGroupsUsed",
    "maxServerGroupMembers",
    "maxServerGroups",
    "totalServerGroupsUsed",
];

fn limits_without(gone: &[&str]) -> BTreeSet<String> {
    LIMITS_V21
        .iter()
        .filter(|k| !gone.contains(k))
        .map(|k| k.to_string())
        .collect()
}

#[tokio::test]
async fn limits_show_usage_and_their_keys_per_microversion() {
    let (cloud, admin) = start().await;
    let (member, project) = project_user(&cloud, "q-limits", "member").await;
    let n = nova(&cloud);
    insert_server(&n, &project, "u", None, (2, 1024, 1)).await;
    let r = member.get("/v2.1/limits").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["limits"]["rate"], json!([]));
    let a = &r.body["limits"]["absolute"];
    assert_eq!(keys(a), set(LIMITS_V21));
    assert_eq!(a["totalInstancesUsed"], 1);
    assert_eq!(a["totalCoresUsed"], 2);
    assert_eq!(a["totalRAMUsed"], 1024);
    assert_eq!(a["maxTotalInstances"], 10);
    assert_eq!(a["maxTotalRAMSize"], 51200);
    let net = [
        "maxSecurityGroupRules",
        "maxSecurityGroups",
        "maxTotalFloatingIps",
        "totalFloatingIpsUsed",
        "totalSecurityGroupsUsed",
    ];
    let r = at_version(&member, "GET", "/v2.1/limits", None, "2.36").await;
    assert_eq!(keys(&r.body["limits"]["absolute"]), limits_without(&net));
    let mut gone: Vec<&str> = net.to_vec();
    gone.push("maxImageMeta");
    let r = at_version(&member, "GET", "/v2.1/limits", None, "2.39").await;
    assert_eq!(keys(&r.body["limits"]["absolute"]), limits_without(&gone));
    gone.extend(["maxPersonality", "maxPersonalitySize"]);
    let r = at_version(&member, "GET", "/v2.1/limits", None, "2.57").await;
    assert_eq!(keys(&r.body["limits"]["absolute"]), limits_without(&gone));

    // Unknown query parameters: ignored before 2.75, refused from it.
    let r = at_version(&member, "GET", "/v2.1/limits?bogus=1", None, "2.74").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = at_version(&member, "GET", "/v2.1/limits?bogus=1", None, "2.75").await;
    assert_error(&r, 400, "badRequest");
    // Another project's limits are the admin's to read.
    let r = member
        .get("/v2.1/limits?tenant_id=someoneelse")
        .await
        .unwrap();
    assert_error(&r, 403, "forbidden");
    let r = admin
        .get(&format!("/v2.1/limits?tenant_id={project}"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["limits"]["absolute"]["totalCoresUsed"], 2);
    let r = admin.get("/v2.1/limits").await.unwrap();
    assert_eq!(r.body["limits"]["absolute"]["totalCoresUsed"], 0);
    cloud.stop().await;
}

#[tokio::test]
async fn check_instances_refuses_past_the_limit_with_novas_message() {
    let (cloud, admin) = start().await;
    let (_, project) = project_user(&cloud, "q-check", "member").await;
    let n = nova(&cloud);
    insert_server(&n, &project, "u", None, (18, 1024, 1)).await;
    let mut tx = n.db.begin_write().await.unwrap();
    let e = n
        .check_instances(&mut tx, &project, "u", 1, 4, 1024)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), common::ErrorKind::OverQuota);
    assert_eq!(
        e.message(),
        "Quota exceeded for cores: Requested 4, but already used 18 of 20 cores"
    );
    n.check_instances(&mut tx, &project, "u", 1, 2, 1024)
        .await
        .unwrap();
    drop(tx);
    // A user's own limits count the user's servers.
    let r = admin
        .put(
            &format!("/v2.1/os-quota-sets/{project}?user_id=u2"),
            Some(json!({"quota_set": {"instances": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let mut tx = n.db.begin_write().await.unwrap();
    n.check_instances(&mut tx, &project, "u2", 1, 1, 1)
        .await
        .unwrap();
    insert_in(&mut tx, &project, "u2", None, (1, 1, 1)).await;
    let e = n
        .check_instances(&mut tx, &project, "u2", 1, 1, 1)
        .await
        .unwrap_err();
    assert_eq!(
        e.message(),
        "Quota exceeded for instances: Requested 1, but already used 1 of 1 instances"
    );
    // Deleted servers do not count.
    tx.commit().await.unwrap();
    db::sqlx::query("UPDATE compute_instances SET deleted_at = 5 WHERE user_id = 'u2'")
        .execute(&n.db.pool)
        .await
        .unwrap();
    let mut tx = n.db.begin_write().await.unwrap();
    n.check_instances(&mut tx, &project, "u2", 1, 1, 1)
        .await
        .unwrap();
    drop(tx);
    cloud.stop().await;
}

#[tokio::test]
async fn parallel_creates_never_pass_the_quota() {
    let (cloud, admin) = start().await;
    let (_, project) = project_user(&cloud, "q-race", "member").await;
    let r = admin
        .put(
            &format!("/v2.1/os-quota-sets/{project}"),
            Some(json!({"quota_set": {"instances": 5}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let n = nova(&cloud);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let n = n.clone();
        let project = project.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = n.db.begin_write().await.unwrap();
            match n.check_instances(&mut tx, &project, "u", 1, 1, 64).await {
                Ok(()) => {
                    insert_in(&mut tx, &project, &format!("u{i}"), None, (1, 64, 1)).await;
                    tokio::task::yield_now().await;
                    tx.commit().await.unwrap();
                    true
                }
                Err(e) => {
                    assert_eq!(e.kind(), common::ErrorKind::OverQuota, "{e}");
                    false
                }
            }
        }));
    }
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 5);
    let r = admin
        .get(&format!("/v2.1/os-quota-sets/{project}/detail"))
        .await
        .unwrap();
    assert_eq!(r.body["quota_set"]["instances"]["in_use"], 5);
    cloud.stop().await;
}

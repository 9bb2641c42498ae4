//! `createBackup`: a snapshot with the backup properties, its answer per
//! microversion, the rotation of older backups, bad bodies and states.

use super::servers::{create, image, network, wait_status};
use super::*;
use serde_json::{json, Value};

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

/// The ids of the server's `daily` backups the caller sees, oldest first.
async fn backups(g: &Client, server: &str, kind: &str) -> Vec<String> {
    let r = g
        .get(&format!(
            "/v2/images?image_type=backup&backup_type={kind}&instance_uuid={server}\
             &sort_key=created_at&sort_dir=asc"
        ))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// Polls until the server is ACTIVE with no task (the backup, rotation
/// included, is over).
async fn wait_idle(c: &Client, id: &str) {
    for _ in 0..200 {
        let s = wait_status(c, id, "ACTIVE").await;
        if s["OS-EXT-STS:task_state"].is_null() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("server {id} kept a task");
}

#[tokio::test]
async fn create_backup_rotates_the_oldest_backups_of_its_type() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (user, project) = project_user(&cloud, "backup", "member").await;
    let g = user.at(&cloud.url("image"));
    network(&cloud, &user, "bk-net", "10.9.1.0/24").await;
    let r = create(
        &user,
        json!({"name": "bk", "imageRef": img, "flavorRef": "1"}),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(&user, &id, "ACTIVE").await;

    // Before 2.45: a Location naming the image, no body.
    let body = |name: &str, kind: &str, rotation: Value| {
        json!({"createBackup": {"name": name, "backup_type": kind, "rotation": rotation,
                                "metadata": {"purpose": "test"}}})
    };
    let r = act_at(&user, &id, body("b1", "daily", json!(2)), "2.1").await;
    assert_eq!(r.status, 202, "{}", r.text);
    let b1 = r
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    wait_idle(&user, &id).await;
    let i = g.get(&format!("/v2/images/{b1}")).await.unwrap();
    assert_eq!(i.body["status"], "active", "{}", i.text);
    assert_eq!(i.body["image_type"], "backup");
    assert_eq!(i.body["backup_type"], "daily");
    assert_eq!(i.body["instance_uuid"], id.as_str());
    assert_eq!(i.body["purpose"], "test");
    assert_eq!(i.body["owner"], project.as_str());

    // 2.45: the id in the body; the rotation string form is accepted.
    let r = act_at(&user, &id, body("b2", "daily", json!("2")), "2.45").await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert!(r.header("location").is_none());
    let b2 = r.body["image_id"].as_str().unwrap().to_string();
    wait_idle(&user, &id).await;
    assert_eq!(
        backups(&g, &id, "daily").await,
        vec![b1.clone(), b2.clone()]
    );

    // Another type is rotated on its own.
    let r = act_at(&user, &id, body("w1", "weekly", json!(1)), "2.45").await;
    assert_eq!(r.status, 202, "{}", r.text);
    let w1 = r.body["image_id"].as_str().unwrap().to_string();
    wait_idle(&user, &id).await;

    // The third daily backup with rotation 2 deletes the first.
    let r = act_at(&user, &id, body("b3", "daily", json!(2)), "2.45").await;
    let b3 = r.body["image_id"].as_str().unwrap().to_string();
    wait_idle(&user, &id).await;
    assert_eq!(
        backups(&g, &id, "daily").await,
        vec![b2.clone(), b3.clone()]
    );
    assert_eq!(
        g.get(&format!("/v2/images/{b1}")).await.unwrap().status,
        404
    );
    assert_eq!(backups(&g, &id, "weekly").await, vec![w1]);

    // Rotation 0 keeps none, not even the new one; no Location then.
    let r = act_at(&user, &id, body("b4", "daily", json!(0)), "2.1").await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert!(r.header("location").is_none());
    wait_idle(&user, &id).await;
    assert!(backups(&g, &id, "daily").await.is_empty());

    let r = user
        .get(&format!("/v2.1/servers/{id}/os-instance-actions"))
        .await
        .unwrap();
    let names: Vec<&str> = r.body["instanceActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"createBackup"), "{names:?}");
    cloud.stop().await;
}

#[tokio::test]
async fn create_backup_refuses_bad_bodies_states_and_strangers() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (user, _) = project_user(&cloud, "backup-bad", "member").await;
    network(&cloud, &user, "bkb-net", "10.9.2.0/24").await;
    let r = create(
        &user,
        json!({"name": "bkb", "imageRef": img, "flavorRef": "1"}),
        "2.1",
    )
    .await;
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(&user, &id, "ACTIVE").await;

    for bad in [
        json!({"createBackup": {"backup_type": "daily", "rotation": 1}}),
        json!({"createBackup": {"name": "x", "rotation": 1}}),
        json!({"createBackup": {"name": "x", "backup_type": "daily"}}),
        json!({"createBackup": {"name": "x", "backup_type": "daily", "rotation": -1}}),
        json!({"createBackup": {"name": "x", "backup_type": "daily", "rotation": "one"}}),
        json!({"createBackup": {"name": "x", "backup_type": "daily", "rotation": 1.5}}),
        json!({"createBackup": {"name": "x", "backup_type": 7, "rotation": 1}}),
        json!({"createBackup": {"name": " x", "backup_type": "daily", "rotation": 1}}),
        json!({"createBackup": {"name": "x", "backup_type": "daily", "rotation": 1, "y": 1}}),
        json!({"createBackup": {"name": "x", "backup_type": "daily", "rotation": 1,
                                "metadata": {"k": 1}}}),
        json!({"createBackup": "x"}),
    ] {
        let r = act_at(&user, &id, bad.clone(), "2.1").await;
        assert_error(&r, 400, "badRequest");
        assert!(
            !r.body["badRequest"]["message"].as_str().unwrap().is_empty(),
            "{bad}"
        );
    }
    let ok = json!({"createBackup": {"name": "x", "backup_type": "daily", "rotation": 1}});
    let (other, _) = project_user(&cloud, "backup-other", "member").await;
    let r = act_at(&other, &id, ok.clone(), "2.1").await;
    assert_error(&r, 404, "itemNotFound");
    let r = act_at(&user, "no-such-server", ok.clone(), "2.1").await;
    assert_error(&r, 404, "itemNotFound");
    // A rescued server cannot be backed up.
    let r = act_at(&user, &id, json!({"rescue": null}), "2.1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    wait_status(&user, &id, "RESCUE").await;
    let r = act_at(&user, &id, ok, "2.1").await;
    assert_error(&r, 409, "conflictingRequest");
    cloud.stop().await;
}

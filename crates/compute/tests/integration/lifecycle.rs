//! The lifecycle actions on the fake driver: rebuild, resize with confirm
//! and revert (and the quota on growth), rescue/unrescue; their states,
//! 409s, response shapes per microversion, instance actions and policy.

use super::servers::{create, image, network, wait_status};
use super::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

async fn act(c: &Client, id: &str, body: Value) -> Resp {
    c.post(&format!("/v2.1/servers/{id}/action"), body)
        .await
        .unwrap()
}

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

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A member's ACTIVE server on flavor 1 with a port on a fresh network;
/// its id.
async fn active_server(cloud: &TestCloud, user: &Client, img: &str, name: &str) -> String {
    network(cloud, user, &format!("{name}-net"), "10.9.0.0/24").await;
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

async fn actions_of(c: &Client, id: &str) -> Vec<String> {
    let r = c
        .get(&format!("/v2.1/servers/{id}/os-instance-actions"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["instanceActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_string())
        .collect()
}

/// Tempest's v2_1 `update_server` keys, which `rebuild_server` copies,
/// with `progress` (shown while the status is REBUILD).
const REBUILD_21: &[&str] = &[
    "progress",
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
    "adminPass",
];

#[tokio::test]
async fn rebuild_changes_the_image_keeps_the_addresses_and_answers_per_version() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let img2 = image(&cloud, &admin).await;
    let (user, _) = project_user(&cloud, "rebuild", "member").await;
    let id = active_server(&cloud, &user, &img, "rb").await;
    let before = wait_status(&user, &id, "ACTIVE").await;

    let r = act(
        &user,
        &id,
        json!({"rebuild": {"imageRef": img2, "name": "rebuilt", "adminPass": "s3cret",
                           "metadata": {"k": "v"}, "accessIPv4": "192.0.2.7"}}),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let s = &r.body["server"];
    assert_eq!(keys(s), set(REBUILD_21));
    assert_eq!(s["adminPass"], "s3cret");
    assert_eq!(s["name"], "rebuilt");
    assert_eq!(s["status"], "REBUILD");
    assert_eq!(s["image"]["id"], img2.as_str());
    assert!(r
        .header("location")
        .unwrap()
        .ends_with(&format!("/v2.1/servers/{id}")));
    let after = wait_status(&user, &id, "ACTIVE").await;
    assert_eq!(after["addresses"], before["addresses"]);
    assert_eq!(after["metadata"], json!({"k": "v"}));
    assert_eq!(after["accessIPv4"], "192.0.2.7");
    assert_eq!(after["image"]["id"], img2.as_str());
    let r = act(&user, &id, json!({"os-getConsoleOutput": {"length": 1}})).await;
    assert_eq!(
        r.body["output"],
        format!("rebuilt from image {img2}"),
        "{}",
        r.text
    );

    // 2.57: description, key_name and user_data, and user_data shown.
    let ud = "aGVsbG8=";
    let r = act_at(
        &user,
        &id,
        json!({"rebuild": {"imageRef": img, "description": "d", "key_name": null,
                           "user_data": ud}}),
        "2.57",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let s = &r.body["server"];
    let mut want = set(REBUILD_21);
    want.extend(set(&[
        "description",
        "locked",
        "tags",
        "key_name",
        "user_data",
    ]));
    assert_eq!(keys(s), want);
    assert_eq!(s["user_data"], ud);
    assert_eq!(s["description"], "d");
    assert!(s["adminPass"].as_str().unwrap().len() >= 8);
    wait_status(&user, &id, "ACTIVE").await;

    // Bad requests: fields of later versions, a missing or unknown image.
    let r = act(
        &user,
        &id,
        json!({"rebuild": {"imageRef": img, "description": "x"}}),
    )
    .await;
    assert_error(&r, 400, "badRequest");
    let r = act(&user, &id, json!({"rebuild": {"name": "x"}})).await;
    assert_error(&r, 400, "badRequest");
    let r = act(
        &user,
        &id,
        json!({"rebuild": {"imageRef": "00000000-0000-0000-0000-000000000000"}}),
    )
    .await;
    assert_error(&r, 400, "badRequest");
    assert_eq!(
        r.body["badRequest"]["message"],
        "Cannot find image for rebuild"
    );
    let r = act_at(
        &user,
        &id,
        json!({"rebuild": {"imageRef": img, "trusted_image_certificates": ["c"]}}),
        "2.63",
    )
    .await;
    assert_error(&r, 400, "badRequest");

    // A stopped server is rebuilt and stays stopped; a paused one is 409.
    assert_eq!(act(&user, &id, json!({"os-stop": null})).await.status, 202);
    wait_status(&user, &id, "SHUTOFF").await;
    let r = act(&user, &id, json!({"rebuild": {"imageRef": img2}})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let s = wait_status(&user, &id, "SHUTOFF").await;
    assert_eq!(s["OS-EXT-STS:task_state"], Value::Null);
    assert_eq!(s["image"]["id"], img2.as_str());
    assert_eq!(act(&user, &id, json!({"os-start": null})).await.status, 202);
    wait_status(&user, &id, "ACTIVE").await;
    assert_eq!(act(&user, &id, json!({"pause": null})).await.status, 202);
    wait_status(&user, &id, "PAUSED").await;
    let r = act(&user, &id, json!({"rebuild": {"imageRef": img}})).await;
    assert_error(&r, 409, "conflictingRequest");
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        format!("Cannot 'rebuild' instance {id} while it is in vm_state paused")
    );

    // Another project's server is not found; a locked one is 409.
    let (other, _) = project_user(&cloud, "rebuild-other", "member").await;
    let r = act(&other, &id, json!({"rebuild": {"imageRef": img}})).await;
    assert_error(&r, 404, "itemNotFound");
    assert_eq!(act(&user, &id, json!({"unpause": null})).await.status, 202);
    wait_status(&user, &id, "ACTIVE").await;
    assert_eq!(act(&admin, &id, json!({"lock": null})).await.status, 202);
    let r = act(&user, &id, json!({"rebuild": {"imageRef": img}})).await;
    assert_error(&r, 409, "conflictingRequest");
    assert!(actions_of(&user, &id).await.contains(&"rebuild".into()));
    cloud.stop().await;
}

#[tokio::test]
async fn resize_is_confirmed_or_reverted_and_growth_needs_quota() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (user, project) = project_user(&cloud, "resize", "member").await;
    let id = active_server(&cloud, &user, &img, "rs").await;

    // Same flavor, unknown flavor: 400; confirm with nothing to confirm: 409.
    let r = act(&user, &id, json!({"resize": {"flavorRef": "1"}})).await;
    assert_error(&r, 400, "badRequest");
    assert_eq!(
        r.body["badRequest"]["message"],
        "When resizing, instances must change flavor!"
    );
    let r = act(&user, &id, json!({"resize": {"flavorRef": "nope"}})).await;
    assert_error(&r, 400, "badRequest");
    let r = act(&user, &id, json!({"resize": {}})).await;
    assert_error(&r, 400, "badRequest");
    let r = act(&user, &id, json!({"confirmResize": null})).await;
    assert_error(&r, 409, "conflictingRequest");
    let r = act(&user, &id, json!({"revertResize": null})).await;
    assert_error(&r, 409, "conflictingRequest");

    // Resize to m1.small, revert: the old flavor is back.
    let r = act(&user, &id, json!({"resize": {"flavorRef": "2"}})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert!(r.text.is_empty(), "{}", r.text);
    let s = wait_status(&user, &id, "VERIFY_RESIZE").await;
    assert_eq!(s["flavor"]["id"], "2");
    assert_eq!(s["OS-EXT-STS:vm_state"], "resized");
    let r = act(&user, &id, json!({"resize": {"flavorRef": "3"}})).await;
    assert_error(&r, 409, "conflictingRequest");
    let r = act(&user, &id, json!({"revertResize": null})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let s = wait_status(&user, &id, "ACTIVE").await;
    assert_eq!(s["flavor"]["id"], "1");
    let r = at_version(&user, "GET", &format!("/v2.1/servers/{id}"), None, "2.47").await;
    assert_eq!(r.body["server"]["flavor"]["original_name"], "m1.tiny");
    assert_eq!(r.body["server"]["flavor"]["ram"], 512);

    // Resize again and confirm: the new flavor stays (204).
    let r = act(&user, &id, json!({"resize": {"flavorRef": "2"}})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    wait_status(&user, &id, "VERIFY_RESIZE").await;
    let r = act(&user, &id, json!({"confirmResize": null})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let s = wait_status(&user, &id, "ACTIVE").await;
    assert_eq!(s["flavor"]["id"], "2");
    let r = act(&user, &id, json!({"confirmResize": null})).await;
    assert_error(&r, 409, "conflictingRequest");
    let acts = actions_of(&user, &id).await;
    for a in ["resize", "revertResize", "confirmResize"] {
        assert!(acts.contains(&a.to_string()), "{a} missing from {acts:?}");
    }

    // Growth beyond the RAM quota is refused (403) and changes nothing.
    let r = admin
        .put(
            &format!("/v2.1/os-quota-sets/{project}"),
            Some(json!({"quota_set": {"ram": 3000}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = act(&user, &id, json!({"resize": {"flavorRef": "3"}})).await;
    assert_error(&r, 403, "forbidden");
    assert!(
        r.body["forbidden"]["message"]
            .as_str()
            .unwrap()
            .contains("Quota exceeded for ram"),
        "{}",
        r.text
    );
    let s = wait_status(&user, &id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-STS:task_state"], Value::Null);
    // Shrinking needs no quota.
    let r = act(&user, &id, json!({"resize": {"flavorRef": "1"}})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    wait_status(&user, &id, "VERIFY_RESIZE").await;
    assert_eq!(
        act(&user, &id, json!({"confirmResize": null})).await.status,
        204
    );
    wait_status(&user, &id, "ACTIVE").await;

    let (other, _) = project_user(&cloud, "resize-other", "member").await;
    let r = act(&other, &id, json!({"resize": {"flavorRef": "2"}})).await;
    assert_error(&r, 404, "itemNotFound");
    cloud.stop().await;
}

#[tokio::test]
async fn rescue_and_unrescue_follow_the_state_machine() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let img2 = image(&cloud, &admin).await;
    let (user, _) = project_user(&cloud, "rescue", "member").await;
    let id = active_server(&cloud, &user, &img, "rsc").await;

    let r = act(&user, &id, json!({"unrescue": null})).await;
    assert_error(&r, 409, "conflictingRequest");
    let r = act(&user, &id, json!({"rescue": {"adminPass": "pw1"}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"adminPass": "pw1"}));
    let s = wait_status(&user, &id, "RESCUE").await;
    assert_eq!(s["OS-EXT-STS:vm_state"], "rescued");
    let r = act(&user, &id, json!({"os-getConsoleOutput": {"length": 1}})).await;
    assert_eq!(r.body["output"], format!("rescue: booted from image {img}"));
    let r = act(&user, &id, json!({"rescue": null})).await;
    assert_error(&r, 409, "conflictingRequest");
    let r = act(&user, &id, json!({"os-stop": null})).await;
    assert_error(&r, 409, "conflictingRequest");
    assert_eq!(act(&user, &id, json!({"unrescue": null})).await.status, 202);
    wait_status(&user, &id, "ACTIVE").await;

    // A rescue image of the caller's choice; a generated password.
    let r = act(&user, &id, json!({"rescue": {"rescue_image_ref": img2}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["adminPass"].as_str().unwrap().len() >= 8);
    wait_status(&user, &id, "RESCUE").await;
    let r = act(&user, &id, json!({"os-getConsoleOutput": {"length": 1}})).await;
    assert_eq!(
        r.body["output"],
        format!("rescue: booted from image {img2}")
    );
    assert_eq!(act(&user, &id, json!({"unrescue": null})).await.status, 202);
    wait_status(&user, &id, "ACTIVE").await;
    let r = act(
        &user,
        &id,
        json!({"rescue": {"rescue_image_ref": "00000000-0000-0000-0000-000000000000"}}),
    )
    .await;
    assert_error(&r, 400, "badRequest");
    let r = act(&user, &id, json!({"rescue": {"bogus": 1}})).await;
    assert_error(&r, 400, "badRequest");

    // Locked: 409 for the owner; another project: 404.
    assert_eq!(act(&admin, &id, json!({"lock": null})).await.status, 202);
    let r = act(&user, &id, json!({"rescue": null})).await;
    assert_error(&r, 409, "conflictingRequest");
    let (other, _) = project_user(&cloud, "rescue-other", "member").await;
    let r = act(&other, &id, json!({"rescue": null})).await;
    assert_error(&r, 404, "itemNotFound");
    let acts = actions_of(&user, &id).await;
    for a in ["rescue", "unrescue"] {
        assert!(acts.contains(&a.to_string()), "{a} missing from {acts:?}");
    }
    cloud.stop().await;
}

/// Polls the image until it is `active` (10 s at most); its body.
async fn wait_image_active(g: &Client, id: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        let r = g.get(&format!("/v2/images/{id}")).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        if r.body["status"] == "active" {
            return r.body;
        }
        last = r.body;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("image {id} never became active: {last}");
}

#[tokio::test]
async fn create_image_snapshots_the_disk_into_the_image_service() {
    let (cloud, admin) = start().await;
    // A base image with properties, one of which a snapshot must not keep.
    let g = admin.at(&cloud.url("image"));
    let r = g
        .post(
            "/v2/images",
            json!({"name": "base", "disk_format": "raw", "container_format": "bare",
                   "visibility": "public", "min_ram": 64, "hw_disk_bus": "virtio",
                   "cache_in_nova": "true"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let base = r.body["id"].as_str().unwrap().to_string();
    let r = g
        .send_bytes(
            "PUT",
            &format!("/v2/images/{base}/file"),
            bytes::Bytes::from_static(b"the base image's bytes"),
            &[("content-type", "application/octet-stream")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let (user, project) = project_user(&cloud, "snap", "member").await;
    let ug = user.at(&cloud.url("image"));
    let id = active_server(&cloud, &user, &base, "sn").await;

    // 2.45: the id in the body.
    let r = act_at(
        &user,
        &id,
        json!({"createImage": {"name": "snap1", "metadata": {"purpose": "test"}}}),
        "2.45",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(keys(&r.body), set(&["image_id"]));
    assert!(r.header("location").is_none());
    let snap = r.body["image_id"].as_str().unwrap().to_string();
    let img = wait_image_active(&ug, &snap).await;
    assert_eq!(img["name"], "snap1");
    assert_eq!(img["owner"], project.as_str());
    assert_eq!(img["visibility"], "private");
    assert_eq!(img["image_type"], "snapshot");
    assert_eq!(img["instance_uuid"], id.as_str());
    assert_eq!(img["base_image_ref"], base.as_str());
    assert_eq!(img["purpose"], "test");
    assert_eq!(img["hw_disk_bus"], "virtio");
    assert_eq!(img["min_ram"], 64);
    assert!(img.get("cache_in_nova").is_none(), "{img}");
    assert_eq!(img["disk_format"], "raw");
    let r = ug.get(&format!("/v2/images/{snap}/file")).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text, "the base image's bytes");
    let s = wait_status(&user, &id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-STS:task_state"], Value::Null);

    // Before 2.45: a Location ending in the id, no body.
    let r = act(&user, &id, json!({"createImage": {"name": "snap2"}})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let loc = r.header("location").unwrap();
    let snap2 = loc.rsplit('/').next().unwrap().to_string();
    wait_image_active(&ug, &snap2).await;
    wait_status(&user, &id, "ACTIVE").await;

    // Bad bodies; a rescued server cannot be snapshotted (409).
    let r = act(&user, &id, json!({"createImage": {}})).await;
    assert_error(&r, 400, "badRequest");
    let r = act(
        &user,
        &id,
        json!({"createImage": {"name": "x", "extra": 1}}),
    )
    .await;
    assert_error(&r, 400, "badRequest");
    assert_eq!(act(&user, &id, json!({"rescue": null})).await.status, 200);
    wait_status(&user, &id, "RESCUE").await;
    let r = act(&user, &id, json!({"createImage": {"name": "x"}})).await;
    assert_error(&r, 409, "conflictingRequest");
    let (other, _) = project_user(&cloud, "snap-other", "member").await;
    let r = act(&other, &id, json!({"createImage": {"name": "x"}})).await;
    assert_error(&r, 404, "itemNotFound");
    assert!(actions_of(&user, &id).await.contains(&"createImage".into()));
    cloud.stop().await;
}

#[tokio::test]
async fn shelve_offloads_and_unshelve_spawns_from_the_snapshot() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (user, _) = project_user(&cloud, "shelve", "member").await;
    let ug = user.at(&cloud.url("image"));
    let id = active_server(&cloud, &user, &img, "sh").await;
    let before = wait_status(&user, &id, "ACTIVE").await;

    let r = act(&user, &id, json!({"unshelve": null})).await;
    assert_error(&r, 409, "conflictingRequest");
    let r = act(&user, &id, json!({"shelve": null})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    // `shelved_offload_time` 0: offloaded at once, guest gone, ports unbound.
    let s = wait_status(&admin, &id, "SHELVED_OFFLOADED").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], Value::Null);
    assert_eq!(s["OS-EXT-STS:power_state"], 0);
    let ports = super::servers::ports_of(&cloud, &admin, &id).await;
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["binding:host_id"], "");
    let r = ug.get("/v2/images?name=sh-shelved").await.unwrap();
    let found = r.body["images"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{}", r.text);
    let snap = found[0]["id"].as_str().unwrap().to_string();
    assert_eq!(found[0]["status"], "active");
    assert_eq!(found[0]["instance_uuid"], id.as_str());
    let r = act(&user, &id, json!({"shelve": null})).await;
    assert_error(&r, 409, "conflictingRequest");
    let r = act(&user, &id, json!({"os-start": null})).await;
    assert_error(&r, 409, "conflictingRequest");
    // shelveOffload is for admins, and only from SHELVED.
    let r = act(&user, &id, json!({"shelveOffload": null})).await;
    assert_error(&r, 403, "forbidden");
    let r = act(&admin, &id, json!({"shelveOffload": null})).await;
    assert_error(&r, 409, "conflictingRequest");
    // 2.77's availability zone must exist; before 2.77 no body is taken.
    let r = act_at(
        &user,
        &id,
        json!({"unshelve": {"availability_zone": "elsewhere"}}),
        "2.77",
    )
    .await;
    assert_error(&r, 400, "badRequest");
    let r = act(
        &user,
        &id,
        json!({"unshelve": {"availability_zone": "nova"}}),
    )
    .await;
    assert_error(&r, 400, "badRequest");

    let r = act_at(
        &user,
        &id,
        json!({"unshelve": {"availability_zone": "nova"}}),
        "2.77",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let s = wait_status(&admin, &id, "ACTIVE").await;
    assert!(s["OS-EXT-SRV-ATTR:host"].is_string(), "{s}");
    assert_eq!(s["addresses"], before["addresses"]);
    let ports = super::servers::ports_of(&cloud, &admin, &id).await;
    assert_eq!(ports[0]["binding:host_id"], s["OS-EXT-SRV-ATTR:host"]);
    // Spawned from the snapshot, which is then deleted.
    let r = ug.get(&format!("/v2/images/{snap}")).await.unwrap();
    assert_eq!(r.status, 404, "{}", r.text);
    let acts = actions_of(&user, &id).await;
    for a in ["shelve", "unshelve"] {
        assert!(acts.contains(&a.to_string()), "{a} missing from {acts:?}");
    }
    let (other, _) = project_user(&cloud, "shelve-other", "member").await;
    let r = act(&other, &id, json!({"shelve": null})).await;
    assert_error(&r, 404, "itemNotFound");
    cloud.stop().await;
}

#[tokio::test]
async fn a_shelved_server_kept_on_its_host_is_offloaded_by_an_admin() {
    let (cloud, admin) = start_with(|c| {
        c.update_section::<compute::config::ComputeConfig>(|s| s.shelved_offload_time = -1)
            .unwrap()
    })
    .await;
    let img = image(&cloud, &admin).await;
    let (user, _) = project_user(&cloud, "shelve2", "member").await;
    let id = active_server(&cloud, &user, &img, "sh2").await;
    assert_eq!(act(&user, &id, json!({"shelve": null})).await.status, 202);
    let s = wait_status(&admin, &id, "SHELVED").await;
    assert_eq!(s["OS-EXT-STS:power_state"], 4);
    assert!(s["OS-EXT-SRV-ATTR:host"].is_string());
    // Unshelving a server still on its host powers it on.
    assert_eq!(act(&user, &id, json!({"unshelve": null})).await.status, 202);
    wait_status(&user, &id, "ACTIVE").await;
    assert_eq!(act(&user, &id, json!({"shelve": null})).await.status, 202);
    wait_status(&admin, &id, "SHELVED").await;
    let r = act(&admin, &id, json!({"shelveOffload": null})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let s = wait_status(&admin, &id, "SHELVED_OFFLOADED").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], Value::Null);
    cloud.stop().await;
}

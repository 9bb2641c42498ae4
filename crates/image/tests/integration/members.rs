//! Sharing: visibility and the members API, seen by owner and member.

use super::*;

#[tokio::test]
async fn share_accept_reject_and_remove() {
    let (cloud, admin) = start().await;
    let (owner, _) = project_user(&cloud, "owner", "member").await;
    let (guest, guest_pid) = project_user(&cloud, "guest", "member").await;
    let (other, other_pid) = project_user(&cloud, "other", "member").await;
    let id = create(
        &owner,
        json!({"name": "shared-img", "disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    upload(&owner, &id, b"shared data").await;
    let members = format!("/v2/images/{id}/members");
    // Before being added, the guest cannot see the image at all.
    assert_error(&guest.get(&format!("/v2/images/{id}")).await.unwrap(), 404);
    let r = owner
        .post(&members, json!({"member": guest_pid}))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["member_id"], guest_pid.as_str());
    assert_eq!(r.body["image_id"], id.as_str());
    assert_eq!(r.body["schema"], "/v2/schemas/member");
    assert_error(
        &owner
            .post(&members, json!({"member": guest_pid}))
            .await
            .unwrap(),
        409,
    );
    assert_error(&owner.post(&members, json!({})).await.unwrap(), 400);
    // Pending: visible by id, not in the default list.
    assert_eq!(
        guest.get(&format!("/v2/images/{id}")).await.unwrap().status,
        200
    );
    let ids = |r: &Resp| -> Vec<String> {
        r.body["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(ids(&guest.get("/v2/images").await.unwrap()).is_empty());
    assert_eq!(
        ids(&guest.get("/v2/images?member_status=pending").await.unwrap()),
        vec![id.clone()]
    );
    assert_eq!(
        ids(&guest.get("/v2/images?member_status=all").await.unwrap()),
        vec![id.clone()]
    );
    // The member decides its status; the owner cannot.
    let mine = format!("{members}/{guest_pid}");
    assert_error(
        &owner
            .put(&mine, Some(json!({"status": "accepted"})))
            .await
            .unwrap(),
        403,
    );
    assert_error(
        &guest
            .put(&mine, Some(json!({"status": "maybe"})))
            .await
            .unwrap(),
        400,
    );
    let r = guest
        .put(&mine, Some(json!({"status": "accepted"})))
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.body["status"].clone()),
        (200, json!("accepted")),
        "{}",
        r.text
    );
    assert_eq!(
        ids(&guest.get("/v2/images").await.unwrap()),
        vec![id.clone()]
    );
    let r = guest.get(&format!("/v2/images/{id}/file")).await.unwrap();
    assert_eq!(r.bytes.as_ref(), b"shared data");
    // Members do not add members, nor see the others.
    assert_error(
        &guest
            .post(&members, json!({"member": other_pid}))
            .await
            .unwrap(),
        403,
    );
    owner
        .post(&members, json!({"member": other_pid}))
        .await
        .unwrap();
    let r = owner.get(&members).await.unwrap();
    assert_eq!(r.body["members"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["schema"], "/v2/schemas/members");
    let r = guest.get(&members).await.unwrap();
    assert_eq!(r.body["members"].as_array().unwrap().len(), 1, "{}", r.text);
    assert_error(
        &guest.get(&format!("{members}/{other_pid}")).await.unwrap(),
        404,
    );
    assert_eq!(guest.get(&mine).await.unwrap().status, 200);
    // Rejected: back out of the list.
    guest
        .put(&mine, Some(json!({"status": "rejected"})))
        .await
        .unwrap();
    assert!(ids(&guest.get("/v2/images").await.unwrap()).is_empty());
    // The owner removes the member: not visible any more.
    assert_eq!(owner.delete(&mine).await.unwrap().status, 204);
    assert_error(&owner.delete(&mine).await.unwrap(), 404);
    assert_error(&guest.get(&format!("/v2/images/{id}")).await.unwrap(), 404);
    // Only shared images have members.
    let private = create(&owner, json!({"visibility": "private"})).await;
    let r = owner
        .post(
            &format!("/v2/images/{private}/members"),
            json!({"member": guest_pid}),
        )
        .await
        .unwrap();
    assert_error(&r, 403);
    // A stranger learns nothing about another project's image.
    assert_error(
        &other
            .get(&format!("/v2/images/{private}/members"))
            .await
            .unwrap(),
        404,
    );
    // Public images (admin only) are in everyone's list.
    let public = create(&admin, json!({"visibility": "public", "name": "pub"})).await;
    assert!(ids(&other.get("/v2/images").await.unwrap()).contains(&public));
    cloud.stop().await;
}

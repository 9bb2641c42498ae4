//! Tasks: the legacy `import` task of `POST /v2/tasks` (admin-only), and
//! the `api_image_import` tasks image imports record.

use super::*;

/// Polls task `id` until it leaves pending/processing.
async fn wait_task(c: &Client, id: &str) -> Value {
    for _ in 0..200 {
        let r = c.get(&format!("/v2/tasks/{id}")).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        if r.body["status"] == "success" || r.body["status"] == "failure" {
            return r.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("task {id} did not end");
}

fn import_task(uri: &str) -> Value {
    json!({"type": "import", "input": {
        "import_from": uri, "import_from_format": "raw",
        "image_properties": {"name": "from-task", "disk_format": "raw", "container_format": "bare"},
    }})
}

#[tokio::test]
async fn import_task_outside_the_allow_list_fails() {
    let (cloud, admin) = start().await;
    let r = admin
        .post("/v2/tasks", import_task("http://bogus.example/x.qcow2"))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.header("location"), Some(format!("/v2/tasks/{id}")));
    assert_eq!(r.body["type"], "import");
    assert!(r.body["request_id"].as_str().unwrap().starts_with("req-"));
    let t = wait_task(&admin, &id).await;
    assert_eq!(t["status"], "failure", "{t}");
    assert!(
        t["message"]
            .as_str()
            .unwrap()
            .contains("does not pass filtering"),
        "{t}"
    );
    assert!(t["expires_at"].is_string(), "{t}");
    // No image was made.
    let r = admin.get("/v2/images").await.unwrap();
    assert!(!r.text.contains("from-task"), "{}", r.text);
    let r = admin.get("/v2/tasks").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["tasks"][0]["id"], json!(id));
    assert!(r.body["tasks"][0].get("input").is_none());
    assert_eq!(r.body["schema"], "/v2/schemas/tasks");
    let r = admin
        .get("/v2/tasks?status=failure&type=import")
        .await
        .unwrap();
    assert_eq!(r.body["tasks"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = admin.get("/v2/tasks?status=success").await.unwrap();
    assert_eq!(r.body["tasks"], json!([]), "{}", r.text);
    cloud.stop().await;
}

#[tokio::test]
async fn import_task_from_the_allow_list() {
    let data: Vec<u8> = (0..70_000u32).map(|i| (i % 13) as u8).collect();
    let base = import::serve_once(data.clone()).await;
    let allowed = base.clone();
    let (cloud, admin) = start_with(move |c| {
        c.update_section::<image::config::ImageConfig>(|s| s.web_download_allowed = vec![allowed])
            .unwrap()
    })
    .await;
    let r = admin
        .post("/v2/tasks", import_task(&format!("{base}disk.raw")))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let t = wait_task(&admin, r.body["id"].as_str().unwrap()).await;
    assert_eq!(t["status"], "success", "{t}");
    let img_id = t["result"]["image_id"].as_str().unwrap();
    let img = show(&admin, img_id).await;
    assert_eq!(img["status"], "active");
    assert_eq!(img["name"], "from-task");
    assert_eq!(img["size"], 70_000);
    cloud.stop().await;
}

#[tokio::test]
async fn task_validation_and_policy() {
    let (cloud, admin) = start().await;
    for body in [
        json!({"input": {}}),
        json!({"type": "import"}),
        json!({"type": "convert", "input": {"import_from": "http://x/"}}),
        json!({"type": "import", "input": "x"}),
        json!({"type": "import", "input": {}}),
        json!({"type": "import", "input": {"import_from": "file:///etc/passwd"}}),
        json!({"type": "import", "input": {"import_from": "ftp://x/y"}}),
    ] {
        let r = admin.post("/v2/tasks", body.clone()).await.unwrap();
        assert_error(&r, 400);
    }
    for q in [
        "status=done",
        "type=convert",
        "sort_dir=up",
        "marker=nope",
        "limit=-1",
    ] {
        assert_error(&admin.get(&format!("/v2/tasks?{q}")).await.unwrap(), 400);
    }
    let missing = "/v2/tasks/4c0b4c2e-6b4f-4c43-9a30-4b2f0bd3ae11";
    assert_error(&admin.get(missing).await.unwrap(), 404);
    assert_error(&admin.delete(missing).await.unwrap(), 405);
    // The tasks API is admin-only.
    let (member, _) = project_user(&cloud, "task-member", "member").await;
    assert_error(
        &member
            .post("/v2/tasks", import_task("http://x/y"))
            .await
            .unwrap(),
        403,
    );
    assert_error(&member.get("/v2/tasks").await.unwrap(), 403);
    assert_error(&member.get(missing).await.unwrap(), 403);
    cloud.stop().await;
}

#[tokio::test]
async fn imports_record_image_tasks() {
    let (cloud, admin) = start().await;
    let id = create(
        &admin,
        json!({"disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let tasks = format!("/v2/images/{id}/tasks");
    assert_eq!(admin.get(&tasks).await.unwrap().body["tasks"], json!([]));
    let r = admin
        .send_bytes(
            "PUT",
            &format!("/v2/images/{id}/stage"),
            bytes::Bytes::from_static(b"some raw bytes"),
            &[("content-type", "application/octet-stream")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    // Refused before it starts: no task.
    let r = admin
        .post(
            &format!("/v2/images/{id}/import"),
            json!({"method": {"name": "nope"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    let r = admin
        .post(
            &format!("/v2/images/{id}/import"),
            json!({"method": {"name": "glance-direct"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    let rid = r.header("x-openstack-request-id").unwrap();
    let r = admin.get(&tasks).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let list = r.body["tasks"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{}", r.text);
    let t = &list[0];
    assert_eq!(t["type"], "api_image_import");
    assert_eq!(t["status"], "success");
    assert_eq!(t["request_id"], json!(rid));
    assert_eq!(t["image_id"], json!(id));
    assert_eq!(t["input"]["import_req"]["method"]["name"], "glance-direct");
    // Another project cannot see the image, nor so its tasks.
    let (member, _) = project_user(&cloud, "img-task-member", "member").await;
    assert_error(&member.get(&tasks).await.unwrap(), 404);
    assert_error(
        &admin
            .get("/v2/images/4c0b4c2e-6b4f-4c43-9a30-4b2f0bd3ae11/tasks")
            .await
            .unwrap(),
        404,
    );
    cloud.stop().await;
}

#[tokio::test]
async fn a_restart_fails_unfinished_tasks() {
    // An allow-listed server that accepts and never answers keeps the
    // task processing, as a process stopping mid-import would leave it.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", l.local_addr().unwrap());
    let held = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            keep.lock().await.push(s);
        }
    });
    let allowed = base.clone();
    let (cloud, admin) = start_with(move |c| {
        c.update_section::<image::config::ImageConfig>(|s| s.web_download_allowed = vec![allowed])
            .unwrap()
    })
    .await;
    let glance = cloud.cloud.service::<image::Image>().unwrap();
    if glance.db.is_shared() {
        // On a shared store other replicas may be running tasks: a start
        // leaves them alone.
        cloud.stop().await;
        return;
    }
    let r = admin
        .post("/v2/tasks", import_task(&format!("{base}slow.raw")))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    for _ in 0..100 {
        if held.lock().await.len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let r = admin.get(&format!("/v2/tasks/{id}")).await.unwrap();
    assert_eq!(r.body["status"], "processing", "{}", r.text);
    // What the next start does.
    glance.recover().await.unwrap();
    let r = admin.get(&format!("/v2/tasks/{id}")).await.unwrap();
    assert_eq!(r.body["status"], "failure", "{}", r.text);
    assert!(
        r.body["message"].as_str().unwrap().contains("restart"),
        "{}",
        r.text
    );
    cloud.stop().await;
}

//! Interoperable import: staging with `glance-direct`, and `web-download`
//! from an allow-listed local HTTP server.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn stage_and_glance_direct_import() {
    let (cloud, admin) = start().await;
    let id = create(
        &admin,
        json!({"disk_format": "qcow2", "container_format": "bare"}),
    )
    .await;
    let import = format!("/v2/images/{id}/import");
    let gd = json!({"method": {"name": "glance-direct"}});
    // Nothing staged yet.
    assert_error(&admin.post(&import, gd.clone()).await.unwrap(), 409);
    assert_error(&admin.post(&import, json!({})).await.unwrap(), 400);
    assert_error(
        &admin
            .post(&import, json!({"method": {"name": "copy-image"}}))
            .await
            .unwrap(),
        400,
    );
    assert_error(
        &admin
            .post(
                &import,
                json!({"method": {"name": "web-download", "uri": "http://127.0.0.1/x"}}),
            )
            .await
            .unwrap(),
        400,
    );
    let data = qcow2(1 << 30, false);
    let r = admin
        .send_bytes(
            "PUT",
            &format!("/v2/images/{id}/stage"),
            data.clone().into(),
            &[("content-type", "application/octet-stream")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(show(&admin, &id).await["status"], "uploading");
    assert!(data_files(&cloud).contains(&format!("staging/{id}")));
    // Staging twice, or uploading over staged data: 409.
    assert_error(&upload(&admin, &id, b"x").await, 409);
    let r = admin.post(&import, gd.clone()).await.unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    let img = show(&admin, &id).await;
    assert_eq!(img["status"], "active");
    assert_eq!(img["virtual_size"], 1u64 << 30);
    assert_eq!(data_files(&cloud), vec![format!("/{id}")]);
    let r = admin.get(&format!("/v2/images/{id}/file")).await.unwrap();
    assert!(r.bytes.as_ref() == data.as_slice());
    // Staged data that fails inspection is refused like an upload.
    let bad = create(
        &admin,
        json!({"disk_format": "qcow2", "container_format": "bare"}),
    )
    .await;
    let r = admin
        .send_bytes(
            "PUT",
            &format!("/v2/images/{bad}/stage"),
            qcow2(1 << 20, true).into(),
            &[("content-type", "application/octet-stream")],
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    assert_eq!(show(&admin, &bad).await["status"], "queued");
    cloud.stop().await;
}

/// Serves `body` to every GET on a loopback port; returns the base URL.
pub async fn serve_once(body: Vec<u8>) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = s.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&body).await;
            });
        }
    });
    format!("http://{addr}/")
}

#[tokio::test]
async fn web_download_from_the_allow_list() {
    let data: Vec<u8> = (0..500_000u32).map(|i| (i % 7) as u8).collect();
    let base = serve_once(data.clone()).await;
    let allowed = base.clone();
    let (cloud, admin) = start_with(move |c| {
        c.update_section::<image::config::ImageConfig>(|s| s.web_download_allowed = vec![allowed])
            .unwrap()
    })
    .await;
    let r = admin.get("/v2/info/import").await.unwrap();
    assert_eq!(
        r.body["import-methods"]["value"],
        json!(["glance-direct", "web-download"])
    );
    let id = create(
        &admin,
        json!({"disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let import = format!("/v2/images/{id}/import");
    let r = admin
        .post(
            &import,
            json!({"method": {"name": "web-download", "uri": "http://127.0.0.2:1/elsewhere"}}),
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    assert_error(
        &admin
            .post(&import, json!({"method": {"name": "web-download"}}))
            .await
            .unwrap(),
        400,
    );
    let r = admin
        .post(
            &import,
            json!({"method": {"name": "web-download", "uri": format!("{base}disk.raw")}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    let mut img = Value::Null;
    for _ in 0..100 {
        img = show(&admin, &id).await;
        if img["status"] == "active" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(img["status"], "active", "{img}");
    assert_eq!(img["size"], 500_000);
    let r = admin.get(&format!("/v2/images/{id}/file")).await.unwrap();
    assert!(r.bytes.as_ref() == data.as_slice());
    // A second import on an active image: 409.
    let r = admin
        .post(
            &import,
            json!({"method": {"name": "web-download", "uri": format!("{base}x")}}),
        )
        .await
        .unwrap();
    assert_error(&r, 409);
    cloud.stop().await;
}

#[tokio::test]
async fn invalid_mbr_partition_table_is_refused_on_import() {
    let base = serve_once(mbr_disk(0x7f)).await;
    let allowed = base.clone();
    let (cloud, admin) = start_with(move |c| {
        c.update_section::<image::config::ImageConfig>(|s| s.web_download_allowed = vec![allowed])
            .unwrap()
    })
    .await;
    // glance-direct: staging inspects, as an upload does.
    let id = create(
        &admin,
        json!({"disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let r = admin
        .send_bytes(
            "PUT",
            &format!("/v2/images/{id}/stage"),
            mbr_disk(0x7f).into(),
            &[("content-type", "application/octet-stream")],
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    assert!(message(&r).contains("invalid boot flag"), "{}", r.text);
    assert_eq!(show(&admin, &id).await["status"], "queued");
    // web-download: the import fails and the image is back to queued.
    let r = admin
        .post(
            &format!("/v2/images/{id}/import"),
            json!({"method": {"name": "web-download", "uri": format!("{base}disk.raw")}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    let mut img = Value::Null;
    for _ in 0..100 {
        img = show(&admin, &id).await;
        if img["status"] != "importing" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(img["status"], "queued", "{img}");
    assert_eq!(img["size"], Value::Null, "{img}");
    assert!(data_files(&cloud).is_empty(), "{:?}", data_files(&cloud));
    cloud.stop().await;
}

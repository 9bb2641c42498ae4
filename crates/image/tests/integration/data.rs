//! Image data: upload, download (whole and ranges), hashes, format
//! inspection, state transitions on failure, concurrency, quotas.

use super::*;
use md5::Digest as _;
use tokio::io::AsyncWriteExt;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test]
async fn upload_download_round_trip() {
    let (cloud, admin) = start().await;
    let id = create(
        &admin,
        json!({"name": "r", "disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    // No data yet: 204.
    assert_eq!(
        admin
            .get(&format!("/v2/images/{id}/file"))
            .await
            .unwrap()
            .status,
        204
    );
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let r = upload(&admin, &id, &data).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let img = show(&admin, &id).await;
    assert_eq!(img["status"], "active");
    assert_eq!(img["size"], 3_000_000);
    assert_eq!(img["virtual_size"], 3_000_000);
    assert_eq!(img["checksum"], hex(&md5::Md5::digest(&data)));
    assert_eq!(img["os_hash_algo"], "sha512");
    assert_eq!(img["os_hash_value"], hex(&sha2::Sha512::digest(&data)));
    assert_eq!(img["stores"], "local");
    let r = admin.get(&format!("/v2/images/{id}/file")).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-md5").unwrap(),
        img["checksum"].as_str().unwrap()
    );
    assert_eq!(
        r.header("content-type").unwrap(),
        "application/octet-stream"
    );
    assert!(
        r.bytes.as_ref() == data.as_slice(),
        "downloaded bytes differ"
    );
    // Ranges.
    let get_range = |range: &'static str| {
        let admin = admin.clone();
        let id = id.clone();
        async move {
            admin
                .send(
                    "GET",
                    &format!("/v2/images/{id}/file"),
                    None,
                    &[("range", range)],
                )
                .await
                .unwrap()
        }
    };
    let r = get_range("bytes=10-19").await;
    assert_eq!(r.status, 206);
    assert_eq!(r.bytes.as_ref(), &data[10..20]);
    assert_eq!(r.header("content-range").unwrap(), "bytes 10-19/3000000");
    let r = get_range("bytes=-5").await;
    assert_eq!(r.bytes.as_ref(), &data[data.len() - 5..]);
    let r = get_range("bytes=2999990-").await;
    assert_eq!(r.bytes.len(), 10);
    let r = get_range("bytes=3000000-").await;
    assert_error(&r, 416);
    assert_eq!(r.header("content-range").unwrap(), "bytes */3000000");
    // Data may be written once: a second upload is a 409.
    let r = upload(&admin, &id, b"again").await;
    assert_error(&r, 409);
    cloud.stop().await;
}

#[tokio::test]
async fn upload_preconditions() {
    let (cloud, admin) = start().await;
    let id = create(&admin, json!({"name": "no-format"})).await;
    assert_error(&upload(&admin, &id, b"x").await, 400);
    assert_eq!(show(&admin, &id).await["status"], "queued");
    let id = create(
        &admin,
        json!({"disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let r = admin
        .send_bytes(
            "PUT",
            &format!("/v2/images/{id}/file"),
            "x".into(),
            &[("content-type", "text/plain")],
        )
        .await
        .unwrap();
    assert_error(&r, 415);
    // The declared size must be the size.
    let r = admin
        .send_bytes(
            "PUT",
            &format!("/v2/images/{id}/file"),
            "12345".into(),
            &[
                ("content-type", "application/octet-stream"),
                ("x-openstack-image-size", "6"),
            ],
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    assert_eq!(show(&admin, &id).await["status"], "queued");
    let r = admin
        .send_bytes(
            "PUT",
            &format!("/v2/images/{id}/file"),
            "12345".into(),
            &[
                ("content-type", "application/octet-stream"),
                ("x-openstack-image-size", "five"),
            ],
        )
        .await
        .unwrap();
    assert_error(&r, 400);
    // A reader may not upload.
    let (reader, _) = project_user(&cloud, "rdr", "reader").await;
    let _ = reader;
    assert!(data_files(&cloud).is_empty());
    cloud.stop().await;
}

#[tokio::test]
async fn format_inspection_refuses_and_keeps_queued() {
    let (cloud, admin) = start().await;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("qcow2", qcow2(1 << 30, true), "backing file"),
        ("raw", qcow2(1 << 30, true), "backing file"),
        ("qcow2", vec![7u8; 100_000], "does not match"),
        ("vmdk", qcow2(1 << 20, false), "does not match"),
        ("iso", vec![0u8; 50_000], "does not match"),
    ];
    for (format, data, why) in cases {
        let id = create(
            &admin,
            json!({"disk_format": format, "container_format": "bare"}),
        )
        .await;
        let r = upload(&admin, &id, &data).await;
        assert_error(&r, 400);
        assert!(message(&r).contains(why), "{format}: {}", r.text);
        let img = show(&admin, &id).await;
        assert_eq!(img["status"], "queued", "{format}");
        assert_eq!(img["size"], Value::Null);
        assert_eq!(img["checksum"], Value::Null);
        // Refused data is not kept, and the image can take good data.
        assert!(data_files(&cloud).is_empty(), "{:?}", data_files(&cloud));
    }
    let id = create(
        &admin,
        json!({"disk_format": "qcow2", "container_format": "bare"}),
    )
    .await;
    assert_eq!(
        upload(&admin, &id, &qcow2(5 << 30, false)).await.status,
        204
    );
    let img = show(&admin, &id).await;
    assert_eq!(img["virtual_size"], 5u64 << 30);
    assert_eq!(img["size"], 8192);
    // Uninspectable formats take what they are given.
    let id = create(
        &admin,
        json!({"disk_format": "aki", "container_format": "aki"}),
    )
    .await;
    assert_eq!(upload(&admin, &id, b"kernel bytes").await.status, 204);
    assert_eq!(show(&admin, &id).await["virtual_size"], Value::Null);
    cloud.stop().await;
}

#[tokio::test]
async fn invalid_mbr_partition_table_is_refused_like_other_format_checks() {
    let (cloud, admin) = start().await;
    for format in ["raw", "ami"] {
        let id = create(
            &admin,
            json!({"disk_format": format, "container_format": "bare"}),
        )
        .await;
        let files = data_files(&cloud);
        let r = upload(&admin, &id, &mbr_disk(0x01)).await;
        assert_error(&r, 400);
        assert!(
            message(&r).contains("MBR PTE 0 has invalid boot flag"),
            "{format}: {}",
            r.text
        );
        let img = show(&admin, &id).await;
        assert_eq!(img["status"], "queued", "{format}");
        assert_eq!(img["size"], Value::Null);
        assert_eq!(data_files(&cloud), files, "refused data is not kept");
        // The same image takes a disk whose table is valid.
        assert_eq!(upload(&admin, &id, &mbr_disk(0x80)).await.status, 204);
        let img = show(&admin, &id).await;
        assert_eq!(img["status"], "active", "{format}");
        assert_eq!(img["size"], 1 << 20);
    }
    cloud.stop().await;
}

#[tokio::test]
async fn concurrent_uploads_one_wins() {
    let (cloud, admin) = start().await;
    let id = create(
        &admin,
        json!({"disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let data = vec![9u8; 4 << 20];
    let (a, b) = tokio::join!(upload(&admin, &id, &data), upload(&admin, &id, &data));
    let mut codes = [a.status, b.status];
    codes.sort();
    assert_eq!(codes, [204, 409], "{} / {}", a.text, b.text);
    assert_eq!(show(&admin, &id).await["status"], "active");
    assert_eq!(data_files(&cloud), vec![format!("/{id}")]);
    cloud.stop().await;
}

/// Sends the headers and part of a body on a raw connection and returns
/// the connection; dropping it hangs up, as a client that dies mid-upload.
async fn partial_upload(
    base: &str,
    token: &str,
    id: &str,
    sent: usize,
    total: usize,
) -> tokio::net::TcpStream {
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PUT /v2/images/{id}/file HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: {token}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {total}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&vec![1u8; sent]).await.unwrap();
    s.flush().await.unwrap();
    s
}

/// Waits (up to 2 s) for an upload of `id` to be under way; returns the
/// status, asserted to be `saving`.
async fn wait_for_saving(admin: &Client, id: &str) -> Value {
    let mut status = Value::Null;
    for _ in 0..100 {
        status = show(admin, id).await["status"].clone();
        if status == "saving" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, "saving");
    status
}

#[tokio::test]
async fn interrupted_upload_leaves_queued_and_nothing_behind() {
    let (cloud, admin) = start_with(|c| {
        c.update_section::<image::config::ImageConfig>(|s| s.quota_bytes = 64 << 20)
            .unwrap()
    })
    .await;
    let id = create(
        &admin,
        json!({"disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let token = admin.token().unwrap().to_string();
    let conn = partial_upload(&cloud.url("image"), &token, &id, 3 << 20, 10 << 20).await;
    // While the data streams the image is `saving`, and a second upload
    // is refused.
    let mut status = wait_for_saving(&admin, &id).await;
    assert_error(&upload(&admin, &id, b"second").await, 409);
    drop(conn);
    // The server notices the dropped connection and undoes the upload on
    // its own time; on a loaded machine (CI's compilers) that took over
    // five seconds once, so the wait is a generous deadline.
    for _ in 0..400 {
        status = show(&admin, &id).await["status"].clone();
        if status == "queued" && data_files(&cloud).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, "queued");
    assert!(data_files(&cloud).is_empty(), "{:?}", data_files(&cloud));
    // The reservation was returned: the whole quota is usable again.
    let r = admin.get("/v2/info/usage").await.unwrap();
    assert_eq!(
        r.body["usage"]["image_size_total"]["usage"], 0,
        "{}",
        r.text
    );
    assert_eq!(upload(&admin, &id, &vec![3u8; 60 << 20]).await.status, 204);
    cloud.stop().await;
}

#[tokio::test]
async fn lapsed_upload_leases_are_reset_and_live_ones_kept() {
    // What a replica on a shared store does for an upload whose process
    // died: the lease is not renewed, so once it lapses the image goes
    // back to queued with its quota returned. The clock is moved instead
    // of waiting out the lease; the upload below stands in for the dead
    // process (its renewals run on real time, so none happens here).
    let clock = std::sync::Arc::new(common::clock::ManualClock::new(1_800_000_000_000_000));
    let cloud = TestCloud::start_with(
        |c| {
            c.update_section::<image::config::ImageConfig>(|s| s.quota_bytes = 64 << 20)
                .unwrap()
        },
        clock.clone(),
    )
    .await
    .unwrap();
    let admin = cloud.admin().await.unwrap().at(&cloud.url("image"));
    let glance = cloud.cloud.service::<image::Image>().unwrap();
    let id = create(
        &admin,
        json!({"disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let token = admin.token().unwrap().to_string();
    let conn = partial_upload(&cloud.url("image"), &token, &id, 1 << 20, 10 << 20).await;
    wait_for_saving(&admin, &id).await;
    let usage = |r: Resp| r.body["usage"]["image_size_total"]["usage"].clone();
    let held = usage(admin.get("/v2/info/usage").await.unwrap());
    assert_ne!(held, 0, "the upload holds quota while it streams");

    // A live lease is left alone, however often the sweep runs.
    assert_eq!(glance.reset_stale_uploads().await.unwrap(), 0);
    clock.advance_secs(image::app::data::UPLOAD_LEASE.as_secs() as i64 - 5);
    assert_eq!(glance.reset_stale_uploads().await.unwrap(), 0);
    assert_eq!(show(&admin, &id).await["status"], "saving");

    // Lapsed: reset once, quota back, and a new upload is accepted.
    clock.advance_secs(10);
    assert_eq!(glance.reset_stale_uploads().await.unwrap(), 1);
    assert_eq!(glance.reset_stale_uploads().await.unwrap(), 0);
    let img = show(&admin, &id).await;
    assert_eq!(img["status"], "queued", "{img}");
    assert_eq!(usage(admin.get("/v2/info/usage").await.unwrap()), 0);
    drop(conn);
    assert_eq!(upload(&admin, &id, b"fresh data").await.status, 204);
    let img = show(&admin, &id).await;
    assert_eq!(img["status"], "active");
    assert_eq!(img["size"], 10);
    cloud.stop().await;
}

#[tokio::test]
async fn quotas_count_and_bytes() {
    let (cloud, _admin) = start_with(|c| {
        c.update_section::<image::config::ImageConfig>(|s| {
            s.quota_images = 2;
            s.quota_bytes = 1 << 20;
        })
        .unwrap();
    })
    .await;
    let (member, _) = project_user(&cloud, "quota", "member").await;
    let fmt = json!({"disk_format": "raw", "container_format": "bare"});
    let a = create(&member, fmt.clone()).await;
    let b = create(&member, fmt.clone()).await;
    let r = member.post("/v2/images", fmt.clone()).await.unwrap();
    assert_error(&r, 413);
    assert!(message(&r).contains("image_count_total"), "{}", r.text);
    // Bytes: beyond the quota is a 413 and nothing is kept, whether the
    // size is announced or only found while streaming.
    let r = upload(&member, &a, &vec![0u8; (1 << 20) + 1]).await;
    assert_error(&r, 413);
    assert_eq!(show(&member, &a).await["status"], "queued");
    assert!(data_files(&cloud).is_empty());
    assert_eq!(upload(&member, &a, &vec![0u8; 700_000]).await.status, 204);
    let r = upload(&member, &b, &vec![0u8; 400_000]).await;
    assert_error(&r, 413);
    assert_eq!(show(&member, &b).await["status"], "queued");
    assert_eq!(data_files(&cloud), vec![format!("/{a}")]);
    // Deleting gives back both the image and its bytes.
    assert_eq!(
        member
            .delete(&format!("/v2/images/{a}"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_eq!(upload(&member, &b, &vec![0u8; 400_000]).await.status, 204);
    create(&member, fmt).await;
    let r = member.get("/v2/info/usage").await.unwrap();
    assert_eq!(
        r.body["usage"]["image_count_total"]["usage"], 2,
        "{}",
        r.text
    );
    assert_eq!(r.body["usage"]["image_count_total"]["limit"], 2);
    cloud.stop().await;
}

#[tokio::test]
async fn deactivated_images_are_not_downloaded_by_users() {
    let (cloud, admin) = start().await;
    let (member, _) = project_user(&cloud, "deact", "member").await;
    let id = create(
        &member,
        json!({"disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    assert_eq!(upload(&member, &id, b"abc").await.status, 204);
    let r = member
        .send(
            "POST",
            &format!("/v2/images/{id}/actions/deactivate"),
            None,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204);
    assert_error(
        &member.get(&format!("/v2/images/{id}/file")).await.unwrap(),
        403,
    );
    // An admin may still read it.
    assert_eq!(
        admin
            .get(&format!("/v2/images/{id}/file"))
            .await
            .unwrap()
            .status,
        200
    );
    cloud.stop().await;
}

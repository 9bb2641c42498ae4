//! Legacy versioned writes: stack mode and history mode.

use super::*;

#[tokio::test]
async fn stack_mode() {
    let s = Swift::start().await;
    let a = &s.admin;
    let r = req(
        a,
        "PUT",
        &s.path("/docs"),
        b"",
        &[("x-versions-location", "archive")],
    )
    .await;
    assert_eq!(r.status, 201);
    // The archive container must exist: 412 until it does.
    assert_eq!(
        req(a, "PUT", &s.path("/docs/o"), b"v1", &[]).await.status,
        201
    );
    let r = req(a, "PUT", &s.path("/docs/o"), b"v2", &[]).await;
    assert_eq!(r.status, 412, "{}", r.text);
    assert_eq!(
        req(a, "PUT", &s.path("/archive"), b"", &[]).await.status,
        201
    );
    let r = req(a, "HEAD", &s.path("/docs"), b"", &[]).await;
    assert_eq!(r.header("x-versions-location").unwrap(), "archive");
    assert_eq!(
        req(a, "PUT", &s.path("/docs/o"), b"v2", &[]).await.status,
        201
    );
    assert_eq!(
        req(a, "PUT", &s.path("/docs/o"), b"v3", &[]).await.status,
        201
    );
    let r = req(a, "GET", &s.path("/archive?prefix=001o/"), b"", &[]).await;
    assert_eq!(r.text.lines().count(), 2, "{}", r.text);
    // POST does not make a version.
    req(
        a,
        "POST",
        &s.path("/docs/o"),
        b"",
        &[("x-object-meta-a", "b")],
    )
    .await;
    let r = req(a, "GET", &s.path("/archive?prefix=001o/"), b"", &[]).await;
    assert_eq!(r.text.lines().count(), 2);
    // Each DELETE pops the previous version back.
    assert_eq!(
        &req(a, "GET", &s.path("/docs/o"), b"", &[]).await.bytes[..],
        b"v3"
    );
    assert_eq!(
        req(a, "DELETE", &s.path("/docs/o"), b"", &[]).await.status,
        204
    );
    assert_eq!(
        &req(a, "GET", &s.path("/docs/o"), b"", &[]).await.bytes[..],
        b"v2"
    );
    assert_eq!(
        req(a, "DELETE", &s.path("/docs/o"), b"", &[]).await.status,
        204
    );
    assert_eq!(
        &req(a, "GET", &s.path("/docs/o"), b"", &[]).await.bytes[..],
        b"v1"
    );
    assert_eq!(
        req(a, "DELETE", &s.path("/docs/o"), b"", &[]).await.status,
        204
    );
    assert_eq!(
        req(a, "GET", &s.path("/docs/o"), b"", &[]).await.status,
        404
    );
    assert_eq!(
        req(a, "DELETE", &s.path("/docs/o"), b"", &[]).await.status,
        404
    );
    let r = req(a, "GET", &s.path("/archive"), b"", &[]).await;
    assert_eq!(r.status, 204, "archive empty again: {}", r.text);
    // Both modes at once is refused; an empty value removes versioning.
    let r = req(
        a,
        "POST",
        &s.path("/docs"),
        b"",
        &[("x-versions-location", "a"), ("x-history-location", "b")],
    )
    .await;
    assert_eq!(r.status, 400);
    let r = req(
        a,
        "POST",
        &s.path("/docs"),
        b"",
        &[("x-remove-versions-location", "x")],
    )
    .await;
    assert_eq!(r.status, 204);
    let r = req(a, "HEAD", &s.path("/docs"), b"", &[]).await;
    assert!(r.header("x-versions-location").is_none());
    s.stop().await;
}

#[tokio::test]
async fn history_mode() {
    let s = Swift::start().await;
    let a = &s.admin;
    assert_eq!(req(a, "PUT", &s.path("/hist"), b"", &[]).await.status, 201);
    let r = req(
        a,
        "PUT",
        &s.path("/docs"),
        b"",
        &[("x-history-location", "hist")],
    )
    .await;
    assert_eq!(r.status, 201);
    let r = req(a, "HEAD", &s.path("/docs"), b"", &[]).await;
    assert_eq!(r.header("x-history-location").unwrap(), "hist");
    req(a, "PUT", &s.path("/docs/o"), b"v1", &[]).await;
    req(a, "PUT", &s.path("/docs/o"), b"v2", &[]).await;
    assert_eq!(
        req(a, "DELETE", &s.path("/docs/o"), b"", &[]).await.status,
        204
    );
    assert_eq!(
        req(a, "GET", &s.path("/docs/o"), b"", &[]).await.status,
        404
    );
    let r = req(a, "GET", &s.path("/hist?format=json"), b"", &[]).await;
    let v = json_of(&r);
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 3, "v1, v2 and a delete marker: {v}");
    assert!(items
        .iter()
        .all(|i| i["name"].as_str().unwrap().starts_with("001o/")));
    assert_eq!(
        items[2]["content_type"],
        "application/x-deleted;swift_versions_deleted=1"
    );
    let first = items[0]["name"].as_str().unwrap().to_string();
    let r = req(a, "GET", &s.path(&format!("/hist/{first}")), b"", &[]).await;
    assert_eq!(&r.bytes[..], b"v1");
    // Restore by copying back.
    let r = req(
        a,
        "COPY",
        &s.path(&format!("/hist/{first}")),
        b"",
        &[("destination", "docs/o")],
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        &req(a, "GET", &s.path("/docs/o"), b"", &[]).await.bytes[..],
        b"v1"
    );
    s.stop().await;
}

//! Large objects: dynamic (`X-Object-Manifest`) and static
//! (`multipart-manifest`), and bulk delete.

use super::*;

#[tokio::test]
async fn dynamic_large_objects() {
    let s = Swift::start().await;
    let a = &s.admin;
    for c in ["/c", "/c_segments"] {
        assert_eq!(req(a, "PUT", &s.path(c), b"", &[]).await.status, 201);
    }
    let parts: [&[u8]; 3] = [b"aaaa", b"bbbb", b"cc"];
    for (i, p) in parts.iter().enumerate() {
        let r = req(
            a,
            "PUT",
            &s.path(&format!("/c_segments/big/{i:08}")),
            p,
            &[],
        )
        .await;
        assert_eq!(r.status, 201);
    }
    let r = req(
        a,
        "PUT",
        &s.path("/c/big"),
        b"",
        &[("x-object-manifest", "c_segments/big/")],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = req(a, "GET", &s.path("/c/big"), b"", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(&r.bytes[..], b"aaaabbbbcc");
    let expected_etag = format!(
        "\"{}\"",
        md5(format!("{}{}{}", md5(b"aaaa"), md5(b"bbbb"), md5(b"cc")).as_bytes())
    );
    assert_eq!(r.header("etag").unwrap(), expected_etag);
    assert_eq!(r.header("x-object-manifest").unwrap(), "c_segments/big/");
    let r = req(a, "HEAD", &s.path("/c/big"), b"", &[]).await;
    assert_eq!(r.header("content-length").unwrap(), "10");
    let r = req(a, "GET", &s.path("/c/big"), b"", &[("range", "bytes=3-5")]).await;
    assert_eq!((r.status, &r.bytes[..]), (206, &b"abb"[..]));
    // The manifest itself.
    let r = req(a, "GET", &s.path("/c/big?multipart-manifest=get"), b"", &[]).await;
    assert_eq!(r.status, 200);
    assert!(r.bytes.is_empty());
    // A new segment shows up at once.
    req(a, "PUT", &s.path("/c_segments/big/00000003"), b"d", &[]).await;
    let r = req(a, "GET", &s.path("/c/big"), b"", &[]).await;
    assert_eq!(&r.bytes[..], b"aaaabbbbccd");
    // Listing: the manifest counts as its own zero bytes.
    let r = req(a, "GET", &s.path("/c?format=json"), b"", &[]).await;
    assert_eq!(json_of(&r)[0]["bytes"], 0);
    s.stop().await;
}

#[tokio::test]
async fn static_large_objects() {
    let s = Swift::start().await;
    let a = &s.admin;
    for c in ["/c", "/segs"] {
        assert_eq!(req(a, "PUT", &s.path(c), b"", &[]).await.status, 201);
    }
    let one = vec![b'1'; 1000];
    let two = vec![b'2'; 500];
    req(a, "PUT", &s.path("/segs/one"), &one, &[]).await;
    req(a, "PUT", &s.path("/segs/two"), &two, &[]).await;
    let manifest = json!([
        {"path": "/segs/one", "etag": md5(&one), "size_bytes": 1000},
        {"path": "segs/two", "etag": null, "size_bytes": null},
        {"path": "/segs/one", "range": "0-9"},
        {"data": "IQ=="},
    ]);
    let slo_etag =
        md5(format!("{}{}{}:0-9;{}", md5(&one), md5(&two), md5(&one), md5(b"!")).as_bytes());
    // A wrong client ETag: 422, nothing stored.
    let r = req(
        a,
        "PUT",
        &s.path("/c/slo?multipart-manifest=put"),
        manifest.to_string().as_bytes(),
        &[("etag", "0123456789abcdef0123456789abcdef")],
    )
    .await;
    assert_swift_error(&r, 422);
    assert_eq!(
        req(a, "HEAD", &s.path("/c/slo"), b"", &[]).await.status,
        404
    );
    let r = req(
        a,
        "PUT",
        &s.path("/c/slo?multipart-manifest=put"),
        manifest.to_string().as_bytes(),
        &[("etag", &slo_etag), ("content-type", "application/x-big")],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("etag").unwrap(), format!("\"{slo_etag}\""));
    let r = req(a, "GET", &s.path("/c/slo"), b"", &[]).await;
    assert_eq!(r.status, 200);
    let mut expected = one.clone();
    expected.extend_from_slice(&two);
    expected.extend_from_slice(&one[..10]);
    expected.push(b'!');
    assert_eq!(r.bytes.len(), expected.len());
    assert_eq!(&r.bytes[..], &expected[..]);
    assert_eq!(r.header("etag").unwrap(), format!("\"{slo_etag}\""));
    assert_eq!(r.header("x-static-large-object").unwrap(), "True");
    assert_eq!(r.header("content-type").unwrap(), "application/x-big");
    let r = req(
        a,
        "GET",
        &s.path("/c/slo"),
        b"",
        &[("range", "bytes=995-1004")],
    )
    .await;
    assert_eq!(r.status, 206);
    assert_eq!(&r.bytes[..], b"1111122222");
    let r = req(a, "GET", &s.path("/c/slo"), b"", &[("if-match", &slo_etag)]).await;
    assert_eq!(r.status, 200);
    // The listing shows the SLO's size; the counters the manifest's.
    let r = req(a, "GET", &s.path("/c?format=json"), b"", &[]).await;
    assert_eq!(json_of(&r)[0]["bytes"], 1511);
    assert_eq!(json_of(&r)[0]["slo_etag"], format!("\"{slo_etag}\""));
    // The manifest, as stored and as put.
    let r = req(a, "GET", &s.path("/c/slo?multipart-manifest=get"), b"", &[]).await;
    let stored = json_of(&r);
    assert_eq!(stored[0]["name"], "/segs/one");
    assert_eq!(stored[0]["hash"], md5(&one));
    assert_eq!(stored[2]["range"], "0-9");
    let r = req(
        a,
        "GET",
        &s.path("/c/slo?multipart-manifest=get&format=raw"),
        b"",
        &[],
    )
    .await;
    assert_eq!(json_of(&r)[1]["path"], "/segs/two");
    // A segment that changed breaks reads with 409 (a HEAD reads none).
    req(a, "PUT", &s.path("/segs/two"), b"changed", &[]).await;
    assert_swift_error(&req(a, "GET", &s.path("/c/slo"), b"", &[]).await, 409);
    let r = req(a, "HEAD", &s.path("/c/slo"), b"", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length").unwrap(), "1511");
    req(a, "PUT", &s.path("/segs/two"), &two, &[]).await;
    assert_eq!(req(a, "GET", &s.path("/c/slo"), b"", &[]).await.status, 200);
    // Bad manifests: 400 with the reasons.
    let bad = json!([{"path": "/segs/nope"}, {"path": "/segs/one", "size_bytes": 3}]);
    let r = req(
        a,
        "PUT",
        &s.path("/c/bad?multipart-manifest=put"),
        bad.to_string().as_bytes(),
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text,
        "Errors:\n/segs/nope, 404 Not Found\n/segs/one, Size Mismatch\n"
    );
    let r = req(
        a,
        "PUT",
        &s.path("/c/bad?multipart-manifest=put"),
        b"{",
        &[],
    )
    .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (400, "Manifest must be valid JSON.\n")
    );
    let r = req(
        a,
        "PUT",
        &s.path("/c/slo"),
        b"x",
        &[("x-static-large-object", "True")],
    )
    .await;
    assert_eq!(r.status, 400);
    // Delete with its segments.
    let r = req(
        a,
        "DELETE",
        &s.path("/c/slo?multipart-manifest=delete"),
        b"",
        &[("accept", "application/json")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = json_of(&r);
    assert_eq!(v["Response Status"], "200 OK");
    assert_eq!(v["Number Deleted"], 3, "{v}");
    assert_eq!(v["Number Not Found"], 1, "one segment listed twice");
    for o in ["/c/slo", "/segs/one", "/segs/two"] {
        assert_eq!(
            req(a, "HEAD", &s.path(o), b"", &[]).await.status,
            404,
            "{o}"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn bulk_delete() {
    let s = Swift::start().await;
    let a = &s.admin;
    for c in ["/b1", "/b2", "/keep"] {
        assert_eq!(req(a, "PUT", &s.path(c), b"", &[]).await.status, 201);
    }
    for o in ["/b1/x", "/b1/y y", "/b2/z", "/keep/k"] {
        let p = s.path(&object_store::names::quote(o));
        assert_eq!(req(a, "PUT", &p, b"1", &[]).await.status, 201);
    }
    let body = "/b1/x\n/b1/y%20y\n/b2/z\n/b2\n/b1\n/b1/missing\n/keep\n";
    let r = req(
        a,
        "POST",
        &s.path("?bulk-delete"),
        body.as_bytes(),
        &[
            ("accept", "application/json"),
            ("content-type", "text/plain"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = json_of(&r);
    assert_eq!(v["Number Deleted"], 5, "{v}");
    assert_eq!(v["Number Not Found"], 1);
    assert_eq!(v["Response Status"], "400 Bad Request");
    assert_eq!(v["Errors"], json!([["/keep", "409 Conflict"]]));
    let r = req(a, "GET", &s.path(""), b"", &[]).await;
    assert_eq!(r.text, "keep\n");
    // Plain-text results, and an empty request.
    let r = req(a, "DELETE", &s.path("?bulk-delete"), b"\n", &[]).await;
    assert_eq!(r.status, 200);
    assert!(
        r.text.contains("Response Status: 400 Bad Request"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("Response Body: Invalid bulk delete."),
        "{}",
        r.text
    );
    // Someone else's deletes are refused one by one.
    let (other, _) = s.user("bob", "bobs", "member").await;
    let r = req(
        &other,
        "POST",
        &s.path("?bulk-delete"),
        b"/keep/k\n",
        &[("accept", "application/json")],
    )
    .await;
    assert_eq!(r.status, 200);
    let v = json_of(&r);
    assert_eq!(v["Errors"], json!([["/keep/k", "403 Forbidden"]]));
    assert_eq!(v["Number Deleted"], 0);
    s.stop().await;
}

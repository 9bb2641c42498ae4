//! Containers: lifecycle, metadata, listings, ACLs, container quotas.

use super::*;

#[tokio::test]
async fn lifecycle_and_metadata() {
    let s = Swift::start().await;
    let a = &s.admin;
    let r = req(
        a,
        "PUT",
        &s.path("/box"),
        b"",
        &[("x-container-meta-color", "red")],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = req(
        a,
        "PUT",
        &s.path("/box"),
        b"",
        &[("x-container-meta-size", "L")],
    )
    .await;
    assert_eq!(r.status, 202);
    assert_eq!(
        r.text,
        "<html><h1>Accepted</h1><p>The request is accepted for processing.</p></html>"
    );
    let r = req(a, "HEAD", &s.path("/box"), b"", &[]).await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("x-container-meta-color").unwrap(), "red");
    assert_eq!(r.header("x-container-meta-size").unwrap(), "L");
    assert_eq!(r.header("x-container-object-count").unwrap(), "0");
    assert_eq!(r.header("x-storage-policy").unwrap(), "Policy-0");
    let r = req(
        a,
        "POST",
        &s.path("/box"),
        b"",
        &[("x-remove-container-meta-color", "x")],
    )
    .await;
    assert_eq!(r.status, 204);
    let r = req(a, "HEAD", &s.path("/box"), b"", &[]).await;
    assert!(r.header("x-container-meta-color").is_none());
    // Errors: unknown container, bad policy, bad quota, too long a name.
    assert_swift_error(&req(a, "POST", &s.path("/nope"), b"", &[]).await, 404);
    assert_swift_error(&req(a, "HEAD", &s.path("/nope"), b"", &[]).await, 404);
    assert_swift_error(&req(a, "DELETE", &s.path("/nope"), b"", &[]).await, 404);
    let r = req(
        a,
        "PUT",
        &s.path("/p"),
        b"",
        &[("x-storage-policy", "gold")],
    )
    .await;
    assert_eq!(r.status, 400);
    let r = req(
        a,
        "POST",
        &s.path("/box"),
        b"",
        &[("x-container-meta-quota-bytes", "lots")],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.text, "Invalid bytes quota.");
    let long = "c".repeat(257);
    assert_eq!(
        req(a, "PUT", &s.path(&format!("/{long}")), b"", &[])
            .await
            .status,
        400
    );
    let r = req(
        a,
        "PUT",
        &s.path("/box"),
        b"",
        &[("x-container-read", ".r:")],
    )
    .await;
    assert_eq!(r.status, 400);
    let r = req(
        a,
        "PUT",
        &s.path("/box"),
        b"",
        &[("x-container-write", ".r:*")],
    )
    .await;
    assert_eq!(r.status, 400);
    // Not empty: 409, then empty: 204.
    assert_eq!(
        req(a, "PUT", &s.path("/box/o"), b"data", &[]).await.status,
        201
    );
    let r = req(a, "DELETE", &s.path("/box"), b"", &[]).await;
    assert_swift_error(&r, 409);
    assert_eq!(
        req(a, "DELETE", &s.path("/box/o"), b"", &[]).await.status,
        204
    );
    assert_eq!(
        req(a, "DELETE", &s.path("/box"), b"", &[]).await.status,
        204
    );
    let r = req(a, "HEAD", &s.path(""), b"", &[]).await;
    assert_eq!(r.header("x-account-container-count").unwrap(), "0");
    s.stop().await;
}

#[tokio::test]
async fn listings() {
    let s = Swift::start().await;
    let a = &s.admin;
    assert_eq!(req(a, "PUT", &s.path("/l"), b"", &[]).await.status, 201);
    let r = req(a, "GET", &s.path("/l"), b"", &[]).await;
    assert_eq!(r.status, 204, "empty plain listing");
    let r = req(a, "GET", &s.path("/l?format=json"), b"", &[]).await;
    assert_eq!((r.status, r.text.as_str()), (200, "[]"));
    for n in ["a", "b/1", "b/2", "b/c/3", "c", "d/4", "e", "caf\u{e9}"] {
        let path = s.path(&format!("/l/{}", object_store::names::quote(n)));
        let r = req(
            a,
            "PUT",
            &path,
            n.as_bytes(),
            &[("content-type", "text/plain")],
        )
        .await;
        assert_eq!(r.status, 201, "{n}: {}", r.text);
    }
    let names = |q: &str| {
        let path = s.path(&format!("/l?format=json&{q}"));
        async move {
            let r = req(a, "GET", &path, b"", &[]).await;
            assert_eq!(r.status, 200, "{}", r.text);
            json_of(&r)
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    e["name"]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("subdir:{}", e["subdir"].as_str().unwrap()))
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        names("").await,
        vec!["a", "b/1", "b/2", "b/c/3", "c", "caf\u{e9}", "d/4", "e"]
    );
    assert_eq!(names("limit=2&marker=b/1").await, vec!["b/2", "b/c/3"]);
    assert_eq!(names("end_marker=b/2").await, vec!["a", "b/1"]);
    assert_eq!(names("prefix=b/").await, vec!["b/1", "b/2", "b/c/3"]);
    assert_eq!(
        names("delimiter=/").await,
        vec!["a", "subdir:b/", "c", "caf\u{e9}", "subdir:d/", "e"]
    );
    assert_eq!(
        names("prefix=b/&delimiter=/").await,
        vec!["b/1", "b/2", "subdir:b/c/"]
    );
    assert_eq!(
        names("reverse=on&limit=3").await,
        vec!["e", "d/4", "caf\u{e9}"]
    );
    assert_eq!(
        names("reverse=true&delimiter=/&marker=c").await,
        vec!["subdir:b/", "a"]
    );
    let r = req(a, "GET", &s.path("/l?format=json&limit=1"), b"", &[]).await;
    let v = json_of(&r);
    assert_eq!(v[0]["hash"], md5(b"a"));
    assert_eq!(v[0]["bytes"], 1);
    assert_eq!(v[0]["content_type"], "text/plain");
    let r = req(a, "GET", &s.path("/l?prefix=b/&delimiter=/"), b"", &[]).await;
    assert_eq!(r.text, "b/1\nb/2\nb/c/\n");
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let r = req(
        a,
        "GET",
        &s.path("/l?format=xml&prefix=b/&delimiter=/"),
        b"",
        &[],
    )
    .await;
    assert!(r
        .text
        .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<container name=\"l\">"));
    assert!(r.text.contains("<object><name>b/1</name><hash>"));
    assert!(r
        .text
        .contains("<subdir name=\"b/c/\"><name>b/c/</name></subdir>"));
    let r = req(a, "HEAD", &s.path("/l"), b"", &[]).await;
    assert_eq!(r.header("x-container-object-count").unwrap(), "8");
    assert_eq!(r.header("x-container-bytes-used").unwrap(), "22");
    s.stop().await;
}

#[tokio::test]
async fn acls() {
    let s = Swift::start().await;
    let a = &s.admin;
    assert_eq!(req(a, "PUT", &s.path("/pub"), b"", &[]).await.status, 201);
    assert_eq!(
        req(a, "PUT", &s.path("/pub/o"), b"hello", &[]).await.status,
        201
    );
    let anon = s.anonymous();
    assert_swift_error(&req(&anon, "GET", &s.path("/pub/o"), b"", &[]).await, 401);
    // Public read of objects.
    let r = req(
        a,
        "POST",
        &s.path("/pub"),
        b"",
        &[("x-container-read", ".r:*")],
    )
    .await;
    assert_eq!(r.status, 204);
    let r = req(&anon, "GET", &s.path("/pub/o"), b"", &[]).await;
    assert_eq!((r.status, r.text.as_str()), (200, "hello"));
    // A token that does not validate reads as anonymous (Swift's
    // delay_auth_decision), so public objects still answer.
    let bogus = anon.with_token("not-a-token");
    assert_eq!(
        req(&bogus, "GET", &s.path("/pub/o"), b"", &[]).await.status,
        200
    );
    assert_swift_error(&req(&bogus, "PUT", &s.path("/pub/x"), b"x", &[]).await, 401);
    // …but no listing without .rlistings, and no writes.
    assert_swift_error(&req(&anon, "GET", &s.path("/pub"), b"", &[]).await, 401);
    assert_swift_error(&req(&anon, "PUT", &s.path("/pub/x"), b"x", &[]).await, 401);
    req(
        a,
        "POST",
        &s.path("/pub"),
        b"",
        &[("x-container-read", ".r:*,.rlistings")],
    )
    .await;
    let r = req(&anon, "GET", &s.path("/pub"), b"", &[]).await;
    assert_eq!((r.status, r.text.as_str()), (200, "o\n"));
    // Only the owner sees the ACL.
    assert!(r.header("x-container-read").is_none());
    let r = req(a, "HEAD", &s.path("/pub"), b"", &[]).await;
    assert_eq!(r.header("x-container-read").unwrap(), ".r:*,.rlistings");
    // Referrer rules.
    req(
        a,
        "POST",
        &s.path("/pub"),
        b"",
        &[("x-container-read", ".r:.example.com")],
    )
    .await;
    let r = req(
        &anon,
        "GET",
        &s.path("/pub/o"),
        b"",
        &[("referer", "http://www.example.com/p")],
    )
    .await;
    assert_eq!(r.status, 200);
    let r = req(
        &anon,
        "GET",
        &s.path("/pub/o"),
        b"",
        &[("referer", "http://evil.com/p")],
    )
    .await;
    assert_eq!(r.status, 401);

    // Another project: denied, then let in by project:user ACLs.
    let (other, _) = s.user("otto", "elsewhere", "member").await;
    assert_eq!(
        req(a, "PUT", &s.path("/shared"), b"", &[]).await.status,
        201
    );
    assert_eq!(
        req(a, "PUT", &s.path("/shared/o"), b"x", &[]).await.status,
        201
    );
    assert_swift_error(
        &req(&other, "GET", &s.path("/shared/o"), b"", &[]).await,
        403,
    );
    let r = req(
        a,
        "POST",
        &s.path("/shared"),
        b"",
        &[("x-container-read", "elsewhere:otto")],
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        req(&other, "GET", &s.path("/shared/o"), b"", &[])
            .await
            .status,
        200
    );
    assert_eq!(
        req(&other, "GET", &s.path("/shared"), b"", &[])
            .await
            .status,
        200
    );
    assert_swift_error(
        &req(&other, "PUT", &s.path("/shared/n"), b"x", &[]).await,
        403,
    );
    let r = req(
        a,
        "POST",
        &s.path("/shared"),
        b"",
        &[("x-container-write", "elsewhere:*")],
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        req(&other, "PUT", &s.path("/shared/n"), b"x", &[])
            .await
            .status,
        201
    );
    // ACL users do not own the container.
    assert_swift_error(
        &req(&other, "DELETE", &s.path("/shared"), b"", &[]).await,
        403,
    );
    assert_swift_error(
        &req(&other, "POST", &s.path("/shared"), b"", &[]).await,
        403,
    );
    // A stranger learns nothing about containers that do not exist.
    assert_swift_error(
        &req(&other, "GET", &s.path("/ghost/o"), b"", &[]).await,
        403,
    );
    s.stop().await;
}

#[tokio::test]
async fn container_quotas() {
    let s = Swift::start().await;
    let a = &s.admin;
    let r = req(
        a,
        "PUT",
        &s.path("/q"),
        b"",
        &[
            ("x-container-meta-quota-bytes", "10"),
            ("x-container-meta-quota-count", "2"),
        ],
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        req(a, "PUT", &s.path("/q/a"), b"12345", &[]).await.status,
        201
    );
    let r = req(a, "PUT", &s.path("/q/b"), b"123456", &[]).await;
    assert_eq!((r.status, r.text.as_str()), (413, "Upload exceeds quota."));
    assert_eq!(req(a, "HEAD", &s.path("/q/b"), b"", &[]).await.status, 404);
    assert_eq!(
        req(a, "PUT", &s.path("/q/b"), b"12345", &[]).await.status,
        201
    );
    let r = req(a, "PUT", &s.path("/q/c"), b"", &[]).await;
    assert_eq!(r.status, 413, "count quota");
    let r = req(a, "HEAD", &s.path("/q"), b"", &[]).await;
    assert_eq!(r.header("x-container-object-count").unwrap(), "2");
    assert_eq!(r.header("x-container-bytes-used").unwrap(), "10");
    // Lifting the quota lets uploads in again.
    let r = req(
        a,
        "POST",
        &s.path("/q"),
        b"",
        &[
            ("x-remove-container-meta-quota-count", "x"),
            ("x-container-meta-quota-bytes", ""),
        ],
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        req(a, "PUT", &s.path("/q/c"), b"more data", &[])
            .await
            .status,
        201
    );
    s.stop().await;
}

//! The account: auth, stats, metadata, listings, account quotas, `/info`.

use super::*;

#[tokio::test]
async fn auth_and_empty_account() {
    let s = Swift::start().await;
    let a = &s.admin;
    // A new account reads as empty.
    let r = req(a, "HEAD", &s.path(""), b"", &[]).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(r.header("x-account-container-count").unwrap(), "0");
    assert_eq!(r.header("x-account-object-count").unwrap(), "0");
    assert_eq!(r.header("x-account-bytes-used").unwrap(), "0");
    assert!(r.header("x-trans-id").is_some());
    assert!(r.header("x-timestamp").is_some());
    let r = req(a, "GET", &s.path(""), b"", &[]).await;
    assert_eq!(r.status, 204);
    let r = req(a, "GET", &s.path("?format=json"), b"", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text, "[]");
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));

    // No token: 401; a bad token: 401; another project's token: 403.
    let anon = s.anonymous();
    let r = req(&anon, "GET", &s.path(""), b"", &[]).await;
    assert_swift_error(&r, 401);
    assert_eq!(
        r.text,
        "<html><h1>Unauthorized</h1><p>This server could not verify that you are authorized to access the document you requested.</p></html>"
    );
    let bad = anon.with_token("gAAAAAbogus");
    assert_swift_error(&req(&bad, "GET", &s.path(""), b"", &[]).await, 401);
    let (other, other_account) = s.user("olga", "other", "member").await;
    let r = req(&other, "GET", &s.path(""), b"", &[]).await;
    assert_swift_error(&r, 403);
    assert_eq!(
        r.text,
        "<html><h1>Forbidden</h1><p>Access was denied to this resource.</p></html>"
    );
    // Their own account works, and a PUT/DELETE of an account is refused.
    let r = req(&other, "HEAD", &format!("/v1/{other_account}"), b"", &[]).await;
    assert_eq!(r.status, 204);
    let r = req(&other, "DELETE", &format!("/v1/{other_account}"), b"", &[]).await;
    assert_swift_error(&r, 403);
    let r = req(&other, "PUT", &format!("/v1/{other_account}"), b"", &[]).await;
    assert_swift_error(&r, 405);
    // Paths that are not storage paths.
    assert_swift_error(&req(a, "GET", "/v2/x", b"", &[]).await, 404);
    let r = req(a, "GET", &s.path("/c/%FF"), b"", &[]).await;
    assert_eq!(r.status, 412, "{}", r.text);
    s.stop().await;
}

#[tokio::test]
async fn metadata_readers_and_listing() {
    let s = Swift::start().await;
    let a = &s.admin;
    let r = req(
        a,
        "POST",
        &s.path(""),
        b"",
        &[
            ("x-account-meta-color", "blue"),
            ("x-account-meta-temp-url-key", "secret"),
        ],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    for c in ["b", "a", "c/d"] {
        let name = c.replace('/', "%2F");
        let r = req(a, "PUT", &s.path(&format!("/{name}")), b"", &[]).await;
        assert!(
            r.status == 201 || r.status == 404,
            "{} {}",
            r.status,
            r.text
        );
    }
    let r = req(a, "PUT", &s.path("/c"), b"", &[]).await;
    assert_eq!(r.status, 201);
    req(a, "PUT", &s.path("/c/o"), b"12345", &[]).await;
    let r = req(a, "HEAD", &s.path(""), b"", &[]).await;
    assert_eq!(r.header("x-account-meta-color").unwrap(), "blue");
    assert_eq!(r.header("x-account-meta-temp-url-key").unwrap(), "secret");
    assert_eq!(r.header("x-account-container-count").unwrap(), "3");
    assert_eq!(r.header("x-account-object-count").unwrap(), "1");
    assert_eq!(r.header("x-account-bytes-used").unwrap(), "5");
    let r = req(a, "GET", &s.path(""), b"", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text, "a\nb\nc\n");
    let r = req(a, "GET", &s.path("?format=json&limit=2&marker=a"), b"", &[]).await;
    let v = json_of(&r);
    assert_eq!(v[0]["name"], "b");
    assert_eq!(v[1]["name"], "c");
    assert_eq!(v[1]["count"], 1);
    assert_eq!(v[1]["bytes"], 5);
    assert!(v[1]["last_modified"].as_str().unwrap().contains('T'));
    let r = req(a, "GET", &s.path(""), b"", &[("accept", "application/xml")]).await;
    assert!(r
        .text
        .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<account name=\"AUTH_"));
    assert!(r.text.contains("<container><name>a</name><count>0</count>"));
    let r = req(a, "GET", &s.path(""), b"", &[("accept", "image/png")]).await;
    assert_eq!(r.status, 406);
    let r = req(a, "GET", &s.path("?limit=10001"), b"", &[]).await;
    assert_eq!(r.status, 412);
    assert_eq!(r.text, "Maximum limit is 10000");

    // Metadata limits.
    let long = "x".repeat(257);
    let r = req(
        a,
        "POST",
        &s.path(""),
        b"",
        &[("x-account-meta-big", &long)],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.text, "Metadata value longer than 256: big");
    // Removing metadata.
    let r = req(
        a,
        "POST",
        &s.path(""),
        b"",
        &[("x-remove-account-meta-color", "x")],
    )
    .await;
    assert_eq!(r.status, 204);
    let r = req(a, "HEAD", &s.path(""), b"", &[]).await;
    assert!(r.header("x-account-meta-color").is_none());

    // A reader reads but does not write, and does not see the temp URL key.
    let (pid_reader, _) = {
        let r = s.identity.get("/v3/projects?name=admin").await.unwrap();
        (
            r.body["projects"][0]["id"].as_str().unwrap().to_string(),
            (),
        )
    };
    assert_eq!(format!("AUTH_{pid_reader}"), s.account);
    let (reader, _) = s.user("rita", "admin", "reader").await;
    let r = req(&reader, "HEAD", &s.path(""), b"", &[]).await;
    assert_eq!(r.status, 204);
    assert!(r.header("x-account-meta-temp-url-key").is_none());
    let r = req(&reader, "GET", &s.path("/c/o"), b"", &[]).await;
    assert_eq!(r.status, 200);
    let r = req(
        &reader,
        "POST",
        &s.path(""),
        b"",
        &[("x-account-meta-a", "1")],
    )
    .await;
    assert_swift_error(&r, 403);
    let r = req(&reader, "PUT", &s.path("/c/o2"), b"x", &[]).await;
    assert_swift_error(&r, 403);
    // A member of the project owns it.
    let (member, _) = s.user("mona", "admin", "member").await;
    let r = req(&member, "PUT", &s.path("/c/o2"), b"x", &[]).await;
    assert_eq!(r.status, 201, "{}", r.text);
    s.stop().await;
}

#[tokio::test]
async fn account_quotas_need_a_reseller() {
    let s = Swift::start().await;
    let (owner, account) = s.user("owen", "quota-proj", "member").await;
    let p = |rest: &str| format!("/v1/{account}{rest}");
    // The owner may not set a quota, in either spelling.
    let r = req(
        &owner,
        "POST",
        &p(""),
        b"",
        &[("x-account-meta-quota-bytes", "10")],
    )
    .await;
    assert_swift_error(&r, 403);
    let r = req(
        &owner,
        "POST",
        &p(""),
        b"",
        &[("x-account-quota-bytes", "10")],
    )
    .await;
    assert_swift_error(&r, 403);
    // A reseller admin may.
    let (reseller, _) = s.user("rex", "service", "ResellerAdmin").await;
    let r = req(
        &reseller,
        "POST",
        &p(""),
        b"",
        &[("x-account-meta-quota-bytes", "ten")],
    )
    .await;
    assert_eq!(r.status, 400);
    let r = req(
        &reseller,
        "POST",
        &p(""),
        b"",
        &[("x-account-meta-quota-bytes", "10")],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // The owner sees it.
    let r = req(&owner, "HEAD", &p(""), b"", &[]).await;
    assert_eq!(r.header("x-account-quota-bytes").unwrap(), "10");
    assert_eq!(r.header("x-account-meta-quota-bytes").unwrap(), "10");
    assert_eq!(req(&owner, "PUT", &p("/c"), b"", &[]).await.status, 201);
    assert_eq!(
        req(&owner, "PUT", &p("/c/a"), b"123456", &[]).await.status,
        201
    );
    let r = req(&owner, "PUT", &p("/c/b"), b"12345", &[]).await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(r.text, "Upload exceeds quota.");
    // Chunked uploads are stopped as they pass it; nothing is stored.
    let base = s.cloud.url("object-store");
    let (st, _, _) = put_chunked(
        &base,
        &p("/c/chunked"),
        owner.token(),
        vec![vec![b'x'; 3], vec![b'y'; 3]],
        &[],
    )
    .await;
    assert_eq!(st, 413);
    assert_eq!(
        req(&owner, "HEAD", &p("/c/chunked"), b"", &[]).await.status,
        404
    );
    let r = req(&owner, "HEAD", &p(""), b"", &[]).await;
    assert_eq!(r.header("x-account-bytes-used").unwrap(), "6");
    assert_eq!(r.header("x-account-object-count").unwrap(), "1");
    // The reseller is not bound by it; removing it lifts it.
    let r = req(&reseller, "PUT", &p("/c/big"), &[b'z'; 100], &[]).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = req(
        &reseller,
        "POST",
        &p(""),
        b"",
        &[("x-remove-account-quota-bytes", "x")],
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        req(&owner, "PUT", &p("/c/b"), b"12345", &[]).await.status,
        201
    );
    s.stop().await;
}

#[tokio::test]
async fn info_lists_capabilities() {
    let s = Swift::start().await;
    let r = req(&s.anonymous(), "GET", "/info", b"", &[]).await;
    assert_eq!(r.status, 200);
    let v = json_of(&r);
    for k in [
        "swift",
        "tempurl",
        "slo",
        "bulk_delete",
        "account_quotas",
        "container_quotas",
        "versioned_writes",
    ] {
        assert!(v.get(k).is_some(), "{k} missing from /info");
    }
    assert_eq!(v["swift"]["max_file_size"], 5_368_709_122u64);
    assert_eq!(
        v["tempurl"]["allowed_digests"],
        json!(["sha1", "sha256", "sha512"])
    );
    assert_eq!(
        v["bulk_upload"],
        json!({"max_containers_per_extraction": 10000, "max_failed_extractions": 1000})
    );
    // The Swift release followed, as MAJOR.MINOR.PATCH (tempest gates on it).
    assert_eq!(v["swift"]["version"], "2.35.0");
    let r = req(&s.anonymous(), "GET", "/healthcheck", b"", &[]).await;
    assert_eq!(r.text, "OK");
    s.stop().await;
}

/// Swift's transaction id (`tx` + 21 hex + `-` + the unix time in 10 hex)
/// on every response, errors and 401s included, as both `X-Trans-Id` and
/// `X-Openstack-Request-Id`.
#[tokio::test]
async fn transaction_ids_in_swifts_form() {
    let s = Swift::start().await;
    let anon = s.anonymous();
    let cases = [
        req(&s.admin, "HEAD", &s.path(""), b"", &[]).await,
        req(&s.admin, "GET", &s.path("/nope"), b"", &[]).await,
        req(&s.admin, "PUT", &s.path("/c/o"), b"x", &[]).await,
        req(&anon, "GET", &s.path(""), b"", &[]).await,
        req(&anon, "GET", "/info", b"", &[]).await,
        req(&anon, "GET", "/v1", b"", &[]).await,
    ];
    let mut seen = std::collections::HashSet::new();
    for r in &cases {
        let tx = r.header("x-trans-id").unwrap();
        assert_eq!(r.header("x-openstack-request-id").unwrap(), tx);
        let (random, time) = tx.strip_prefix("tx").unwrap().split_once('-').unwrap();
        assert_eq!(random.len(), 21, "{tx}");
        assert_eq!(time.len(), 10, "{tx}");
        assert!(
            random
                .chars()
                .chain(time.chars())
                .all(|c| c.is_ascii_hexdigit()),
            "{tx}"
        );
        let secs = i64::from_str_radix(time, 16).unwrap();
        assert!(secs > 1_700_000_000, "{tx}");
        assert!(seen.insert(tx.to_string()), "ids are unique");
    }
    assert_eq!(cases[1].status, 404);
    assert_eq!(cases[2].status, 404);
    assert_eq!(cases[3].status, 401);
    // Other services keep oslo's `req-<uuid>`.
    let r = s.identity.get("/v3").await.unwrap();
    assert!(r
        .header("x-openstack-request-id")
        .unwrap()
        .starts_with("req-"));
    assert!(r.header("x-trans-id").is_none());
    s.stop().await;
}

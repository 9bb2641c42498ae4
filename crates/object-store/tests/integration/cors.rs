//! CORS as Swift's proxy answers it: preflight OPTIONS, the headers on
//! actual responses, strict mode and the operator's allowed origins.

use super::*;

#[tokio::test]
async fn preflight_and_actual_requests() {
    let s = Swift::start().await;
    let a = &s.admin;
    let anon = s.anonymous();
    let r = req(
        a,
        "PUT",
        &s.path("/web"),
        b"",
        &[
            (
                "x-container-meta-access-control-allow-origin",
                "https://app.example https://other.example",
            ),
            ("x-container-meta-access-control-max-age", "600"),
            ("x-container-meta-access-control-expose-headers", "X-Custom"),
            ("x-container-read", ".r:*"),
        ],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = req(
        a,
        "PUT",
        &s.path("/web/page.html"),
        b"<p>hi</p>",
        &[("x-object-meta-color", "blue")],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // OPTIONS without Origin: 200 and Allow, no token needed.
    let r = req(&anon, "OPTIONS", &s.path("/web/page.html"), b"", &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let allow = r.header("allow").unwrap();
    for m in ["GET", "HEAD", "PUT", "POST", "DELETE", "COPY", "OPTIONS"] {
        assert!(allow.contains(m), "{allow}");
    }
    assert!(r.header("access-control-allow-origin").is_none());
    assert!(r.header("x-trans-id").is_some());

    // A preflight from an allowed origin.
    let r = req(
        &anon,
        "OPTIONS",
        &s.path("/web/page.html"),
        b"",
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "PUT"),
            (
                "access-control-request-headers",
                "x-auth-token, content-type",
            ),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.header("access-control-allow-origin").unwrap(),
        "https://app.example"
    );
    assert_eq!(r.header("access-control-max-age").unwrap(), "600");
    assert!(r
        .header("access-control-allow-methods")
        .unwrap()
        .contains("PUT"));
    assert_eq!(
        r.header("access-control-allow-headers").unwrap(),
        "x-auth-token, content-type"
    );
    assert_eq!(
        r.header("vary").unwrap(),
        "Origin, Access-Control-Request-Headers"
    );

    // Refused: an origin not allowed, a method the resource lacks, a
    // container that does not exist.
    for (path, origin, method) in [
        ("/web/page.html", "https://evil.example", "GET"),
        ("/web/page.html", "https://app.example", "PATCH"),
        ("/nothing/x", "https://app.example", "GET"),
    ] {
        let r = req(
            &anon,
            "OPTIONS",
            &s.path(path),
            b"",
            &[
                ("origin", origin),
                ("access-control-request-method", method),
            ],
        )
        .await;
        assert_eq!(r.status, 401, "{path} {origin} {method}: {}", r.text);
        assert!(r.text.contains("<h1>Unauthorized</h1>"), "{}", r.text);
        assert!(r.header("access-control-allow-origin").is_none());
        assert!(r.header("www-authenticate").is_none());
    }
    // The account has no CORS: a plain 200.
    let r = req(
        &anon,
        "OPTIONS",
        &s.path(""),
        b"",
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "GET"),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.header("access-control-allow-origin").is_none());
    assert!(!r.header("allow").unwrap().contains("PUT"));

    // Actual requests: the origin and the exposed headers.
    let r = req(
        &anon,
        "GET",
        &s.path("/web/page.html"),
        b"",
        &[("origin", "https://app.example")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.header("access-control-allow-origin").unwrap(),
        "https://app.example"
    );
    assert_eq!(r.header("vary").unwrap(), "Origin");
    let exposed = r.header("access-control-expose-headers").unwrap();
    for h in [
        "etag",
        "x-object-meta-color",
        "x-custom",
        "x-trans-id",
        "content-type",
    ] {
        assert!(exposed.split(", ").any(|e| e == h), "{h} in {exposed}");
    }
    // Errors carry them too (Swift decorates whatever the method answers).
    let r = req(
        a,
        "GET",
        &s.path("/web/missing"),
        b"",
        &[("origin", "https://other.example")],
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.header("access-control-allow-origin").unwrap(),
        "https://other.example"
    );
    // Strict mode: an origin not allowed gets nothing.
    let r = req(
        &anon,
        "GET",
        &s.path("/web/page.html"),
        b"",
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.header("access-control-allow-origin").is_none());
    assert!(r.header("access-control-expose-headers").is_none());
    // No Origin, no CORS headers.
    let r = req(&anon, "GET", &s.path("/web/page.html"), b"", &[]).await;
    assert!(r.header("access-control-allow-origin").is_none());

    // `*` answers `*`.
    let r = req(
        a,
        "POST",
        &s.path("/web"),
        b"",
        &[("x-container-meta-access-control-allow-origin", "*")],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = req(
        &anon,
        "HEAD",
        &s.path("/web/page.html"),
        b"",
        &[("origin", "https://anyone.example")],
    )
    .await;
    assert_eq!(r.header("access-control-allow-origin").unwrap(), "*");
    s.stop().await;
}

#[tokio::test]
async fn operator_origins_and_lax_mode() {
    let s = Swift::start_with(
        |c| {
            c.update_section::<object_store::config::ObjectStoreConfig>(|s| {
                s.cors_allow_origin = vec!["https://ops.example".into()];
                s.cors_expose_headers = vec!["X-Ops".into()];
                s.strict_cors_mode = false;
            })
            .unwrap();
        },
        std::sync::Arc::new(common::clock::SystemClock),
    )
    .await;
    let a = &s.admin;
    let r = req(a, "PUT", &s.path("/plain"), b"", &[]).await;
    assert_eq!(r.status, 201);
    let info = req(&s.anonymous(), "GET", "/info", b"", &[]).await;
    assert_eq!(info.body["swift"]["strict_cors_mode"], false);
    // The operator's origin is allowed on a container without CORS meta.
    let r = req(
        &s.anonymous(),
        "OPTIONS",
        &s.path("/plain"),
        b"",
        &[
            ("origin", "https://ops.example"),
            ("access-control-request-method", "GET"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.header("access-control-allow-origin").unwrap(),
        "https://ops.example"
    );
    // Not strict: any origin's actual request gets its origin back.
    let r = req(
        a,
        "GET",
        &s.path("/plain"),
        b"",
        &[("origin", "https://else.example")],
    )
    .await;
    assert_eq!(
        r.header("access-control-allow-origin").unwrap(),
        "https://else.example"
    );
    assert!(r
        .header("access-control-expose-headers")
        .unwrap()
        .contains("x-ops"));
    s.stop().await;
}

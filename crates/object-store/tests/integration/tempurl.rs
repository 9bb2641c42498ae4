//! Temp URLs, signed as `swift tempurl` signs them.

use super::*;
use object_store::app::tempurl::hmac_hex;

fn signed(path: &str, method: &str, key: &str, algo: &str, expires: i64) -> String {
    let sig = hmac_hex(algo, key, method, expires, path, None);
    format!("{path}?temp_url_sig={sig}&temp_url_expires={expires}")
}

#[tokio::test]
async fn temp_urls() {
    let s = Swift::start().await;
    let a = &s.admin;
    assert_eq!(req(a, "PUT", &s.path("/c"), b"", &[]).await.status, 201);
    let r = req(
        a,
        "PUT",
        &s.path("/c/dir/file.bin"),
        b"secret data",
        &[
            ("x-object-meta-private", "p"),
            ("x-object-meta-public-x", "y"),
        ],
    )
    .await;
    assert_eq!(r.status, 201);
    let anon = s.anonymous();
    let path = s.path("/c/dir/file.bin");
    let exp = common::clock::SystemClock.now_secs_for_test() + 300;
    // No key yet: 401.
    let r = req(
        &anon,
        "GET",
        &signed(&path, "GET", "k1", "sha256", exp),
        b"",
        &[],
    )
    .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (401, "401 Unauthorized: Temp URL invalid\n")
    );
    req(
        a,
        "POST",
        &s.path(""),
        b"",
        &[("x-account-meta-temp-url-key", "k1")],
    )
    .await;
    for algo in ["sha1", "sha256", "sha512"] {
        let r = req(
            &anon,
            "GET",
            &signed(&path, "GET", "k1", algo, exp),
            b"",
            &[],
        )
        .await;
        assert_eq!(r.status, 200, "{algo}: {}", r.text);
        assert_eq!(&r.bytes[..], b"secret data");
        assert_eq!(
            r.header("content-disposition").unwrap(),
            "attachment; filename=\"file.bin\"; filename*=UTF-8''file.bin"
        );
        assert!(r.header("expires").is_some());
        assert!(r.header("x-object-meta-private").is_none());
        assert_eq!(r.header("x-object-meta-public-x").unwrap(), "y");
    }
    // A GET signature also opens HEAD; not PUT.
    let url = signed(&path, "GET", "k1", "sha256", exp);
    assert_eq!(req(&anon, "HEAD", &url, b"", &[]).await.status, 200);
    assert_eq!(req(&anon, "PUT", &url, b"x", &[]).await.status, 401);
    // Wrong key, tampered path, expired.
    assert_eq!(
        req(
            &anon,
            "GET",
            &signed(&path, "GET", "k2", "sha256", exp),
            b"",
            &[]
        )
        .await
        .status,
        401
    );
    let other = s.path("/c/dir/other");
    let tampered = signed(&path, "GET", "k1", "sha256", exp).replace(&path, &other);
    assert_eq!(req(&anon, "GET", &tampered, b"", &[]).await.status, 401);
    let past = exp - 3600;
    assert_eq!(
        req(
            &anon,
            "GET",
            &signed(&path, "GET", "k1", "sha256", past),
            b"",
            &[]
        )
        .await
        .status,
        401
    );
    // Container keys, PUT URLs, filename and inline.
    req(
        a,
        "POST",
        &s.path("/c"),
        b"",
        &[("x-container-meta-temp-url-key", "ck")],
    )
    .await;
    let up = s.path("/c/uploaded");
    let r = req(
        &anon,
        "PUT",
        &signed(&up, "PUT", "ck", "sha256", exp),
        b"via temp url",
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        &req(a, "GET", &up, b"", &[]).await.bytes[..],
        b"via temp url"
    );
    let r = req(
        &anon,
        "PUT",
        &signed(&up, "PUT", "ck", "sha256", exp),
        b"",
        &[("x-object-manifest", "c/x")],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let url = format!(
        "{}&filename=my%20file.txt",
        signed(&up, "GET", "ck", "sha256", exp)
    );
    let r = req(&anon, "GET", &url, b"", &[]).await;
    assert_eq!(
        r.header("content-disposition").unwrap(),
        "attachment; filename=\"my file.txt\"; filename*=UTF-8''my%20file.txt"
    );
    let url = format!("{}&inline", signed(&up, "GET", "ck", "sha256", exp));
    assert_eq!(
        req(&anon, "GET", &url, b"", &[])
            .await
            .header("content-disposition")
            .unwrap(),
        "inline"
    );
    // A container key does not open another container.
    assert_eq!(req(a, "PUT", &s.path("/d"), b"", &[]).await.status, 201);
    assert_eq!(req(a, "PUT", &s.path("/d/o"), b"x", &[]).await.status, 201);
    let r = req(
        &anon,
        "GET",
        &signed(&s.path("/d/o"), "GET", "ck", "sha256", exp),
        b"",
        &[],
    )
    .await;
    assert_eq!(r.status, 401);
    // Prefix URLs.
    let prefix_path = format!("prefix:{}", s.path("/c/dir/"));
    let sig = hmac_hex("sha256", "k1", "GET", exp, &prefix_path, None);
    let url = format!("{path}?temp_url_sig={sig}&temp_url_expires={exp}&temp_url_prefix=dir/");
    assert_eq!(req(&anon, "GET", &url, b"", &[]).await.status, 200);
    let url = format!(
        "{}?temp_url_sig={sig}&temp_url_expires={exp}&temp_url_prefix=dir/",
        s.path("/c/uploaded")
    );
    assert_eq!(req(&anon, "GET", &url, b"", &[]).await.status, 401);
    // The base64 form of the signature.
    use base64::Engine;
    let hex = hmac_hex("sha512", "k1", "GET", exp, &path, None);
    let raw: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let url = format!("{path}?temp_url_sig=sha512:{b64}&temp_url_expires={exp}");
    assert_eq!(req(&anon, "GET", &url, b"", &[]).await.status, 200);
    s.stop().await;
}

/// The wall clock for building URLs in tests.
trait NowSecs {
    fn now_secs_for_test(&self) -> i64;
}

impl NowSecs for common::clock::SystemClock {
    fn now_secs_for_test(&self) -> i64 {
        use common::clock::Clock;
        self.now_micros() / 1_000_000
    }
}

//! Objects: writes and their checks, reads with ranges and conditionals,
//! metadata, copies, expiry.

use super::*;
use std::sync::Arc;

#[tokio::test]
async fn put_get_head_post_delete() {
    let s = Swift::start().await;
    let a = &s.admin;
    assert_eq!(req(a, "PUT", &s.path("/c"), b"", &[]).await.status, 201);
    let data = b"hello, object world";
    let r = req(
        a,
        "PUT",
        &s.path("/c/dir/hello.txt"),
        data,
        &[
            ("x-object-meta-color", "green"),
            ("content-disposition", "attachment; filename=hello.txt"),
            ("content-encoding", "identity"),
            ("etag", &md5(data)),
        ],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("etag").unwrap(), md5(data));
    assert!(r.header("last-modified").is_some());
    let r = req(a, "GET", &s.path("/c/dir/hello.txt"), b"", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(&r.bytes[..], data);
    assert_eq!(r.header("etag").unwrap(), md5(data));
    assert_eq!(
        r.header("content-type").unwrap(),
        "text/plain",
        "guessed from .txt"
    );
    assert_eq!(r.header("content-length").unwrap(), data.len().to_string());
    assert_eq!(r.header("x-object-meta-color").unwrap(), "green");
    assert_eq!(
        r.header("content-disposition").unwrap(),
        "attachment; filename=hello.txt"
    );
    assert_eq!(r.header("content-encoding").unwrap(), "identity");
    assert_eq!(r.header("accept-ranges").unwrap(), "bytes");
    assert!(r.header("x-timestamp").unwrap().contains('.'));
    let r = req(a, "HEAD", &s.path("/c/dir/hello.txt"), b"", &[]).await;
    assert_eq!(r.status, 200);
    assert!(r.bytes.is_empty());
    assert_eq!(r.header("content-length").unwrap(), data.len().to_string());
    // POST replaces the metadata.
    let r = req(
        a,
        "POST",
        &s.path("/c/dir/hello.txt"),
        b"",
        &[
            ("x-object-meta-size", "small"),
            ("content-type", "text/x-greeting"),
        ],
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = req(a, "HEAD", &s.path("/c/dir/hello.txt"), b"", &[]).await;
    assert!(r.header("x-object-meta-color").is_none());
    assert!(r.header("content-disposition").is_none());
    assert_eq!(r.header("x-object-meta-size").unwrap(), "small");
    assert_eq!(r.header("content-type").unwrap(), "text/x-greeting");
    assert_eq!(r.header("etag").unwrap(), md5(data), "data untouched");
    // Overwrite, then delete.
    let r = req(
        a,
        "PUT",
        &s.path("/c/dir/hello.txt"),
        b"v2",
        &[("content-type", "a/b")],
    )
    .await;
    assert_eq!(r.status, 201);
    let r = req(a, "GET", &s.path("/c/dir/hello.txt"), b"", &[]).await;
    assert_eq!(&r.bytes[..], b"v2");
    assert_eq!(r.header("content-type").unwrap(), "a/b");
    let r = req(a, "HEAD", &s.path("/c"), b"", &[]).await;
    assert_eq!(r.header("x-container-object-count").unwrap(), "1");
    assert_eq!(r.header("x-container-bytes-used").unwrap(), "2");
    assert_eq!(
        req(a, "DELETE", &s.path("/c/dir/hello.txt"), b"", &[])
            .await
            .status,
        204
    );
    assert_swift_error(
        &req(a, "GET", &s.path("/c/dir/hello.txt"), b"", &[]).await,
        404,
    );
    assert_swift_error(
        &req(a, "DELETE", &s.path("/c/dir/hello.txt"), b"", &[]).await,
        404,
    );
    assert_swift_error(
        &req(a, "POST", &s.path("/c/dir/hello.txt"), b"", &[]).await,
        404,
    );
    let r = req(a, "HEAD", &s.path("/c"), b"", &[]).await;
    assert_eq!(r.header("x-container-object-count").unwrap(), "0");
    assert_eq!(r.header("x-container-bytes-used").unwrap(), "0");
    // Into a container that does not exist.
    assert_swift_error(&req(a, "PUT", &s.path("/nope/o"), b"x", &[]).await, 404);
    // Unknown methods.
    assert_eq!(req(a, "PATCH", &s.path("/c/o"), b"", &[]).await.status, 405);
    s.stop().await;
}

#[tokio::test]
async fn write_errors() {
    let s = Swift::start().await;
    let a = &s.admin;
    assert_eq!(req(a, "PUT", &s.path("/c"), b"", &[]).await.status, 201);
    // 422: the ETag does not match, and nothing is stored.
    let r = req(
        a,
        "PUT",
        &s.path("/c/o"),
        b"data",
        &[("etag", &md5(b"other"))],
    )
    .await;
    assert_swift_error(&r, 422);
    assert_eq!(
        r.text,
        "<html><h1>Unprocessable Entity</h1><p>Unable to process the contained instructions</p></html>"
    );
    assert_eq!(req(a, "HEAD", &s.path("/c/o"), b"", &[]).await.status, 404);
    let dir = object_store::config::data_dir(&s.cloud.config).unwrap();
    assert!(std::fs::read_dir(dir.join("tmp")).unwrap().next().is_none());
    // 411 without a length (a raw request: clients always send one).
    let addr = s.cloud.url("object-store").replace("http://", "");
    let token = a.token().unwrap().to_string();
    let raw = format!(
        "PUT {} HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: {token}\r\nConnection: close\r\n\r\n",
        s.path("/c/nolength")
    );
    let reply = raw_http(&addr, raw.as_bytes()).await;
    assert!(reply.starts_with("HTTP/1.1 411"), "{reply}");
    assert!(reply.ends_with("Missing Content-Length header."), "{reply}");
    // 400s.
    let long = "o".repeat(1025);
    assert_eq!(
        req(a, "PUT", &s.path(&format!("/c/{long}")), b"x", &[])
            .await
            .status,
        400
    );
    let r = req(a, "PUT", &s.path("/c/o"), b"x", &[("x-object-meta-", "v")]).await;
    assert_eq!(r.status, 400);
    let r = req(a, "PUT", &s.path("/c/o"), b"x", &[("x-delete-at", "12")]).await;
    assert_eq!((r.status, r.text.as_str()), (400, "X-Delete-At in past"));
    let r = req(
        a,
        "PUT",
        &s.path("/c/o"),
        b"x",
        &[("x-delete-after", "soon")],
    )
    .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (400, "Non-integer X-Delete-After")
    );
    let r = req(
        a,
        "PUT",
        &s.path("/c/o"),
        b"x",
        &[("x-object-manifest", "nocontainer")],
    )
    .await;
    assert_eq!(r.status, 400);
    let r = req(
        a,
        "PUT",
        &s.path("/c/o"),
        b"x",
        &[("x-static-large-object", "true")],
    )
    .await;
    assert_eq!(r.status, 400);
    let r = req(a, "PUT", &s.path("/c/o"), b"x", &[("if-none-match", "abc")]).await;
    assert_eq!(r.status, 400);
    // If-None-Match: * refuses to overwrite.
    assert_eq!(
        req(a, "PUT", &s.path("/c/o"), b"x", &[("if-none-match", "*")])
            .await
            .status,
        201
    );
    let r = req(a, "PUT", &s.path("/c/o"), b"y", &[("if-none-match", "*")]).await;
    assert_swift_error(&r, 412);
    assert_eq!(
        &req(a, "GET", &s.path("/c/o"), b"", &[]).await.bytes[..],
        b"x"
    );
    s.stop().await;
}

/// Sends raw bytes over one connection, returns what came back.
async fn raw_http(addr: &str, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    sock.write_all(request).await.unwrap();
    let mut out = Vec::new();
    sock.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn chunked_uploads() {
    let s = Swift::start().await;
    let a = &s.admin;
    assert_eq!(req(a, "PUT", &s.path("/c"), b"", &[]).await.status, 201);
    let chunks: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; 10_000]).collect();
    let all: Vec<u8> = chunks.concat();
    let base = s.cloud.url("object-store");
    let (st, h, text) = put_chunked(&base, &s.path("/c/big"), a.token(), chunks, &[]).await;
    assert_eq!(st, 201, "{text}");
    assert_eq!(h["etag"], md5(&all));
    let r = req(a, "GET", &s.path("/c/big"), b"", &[]).await;
    assert_eq!(r.bytes.len(), all.len());
    assert_eq!(&r.bytes[..], &all[..]);
    // A chunked upload with the wrong ETag leaves nothing.
    let (st, _, _) = put_chunked(
        &base,
        &s.path("/c/bad"),
        a.token(),
        vec![b"abc".to_vec(), b"def".to_vec()],
        &[("etag", "00000000000000000000000000000000")],
    )
    .await;
    assert_eq!(st, 422);
    assert_eq!(
        req(a, "HEAD", &s.path("/c/bad"), b"", &[]).await.status,
        404
    );
    s.stop().await;
}

#[tokio::test]
async fn ranges_and_conditionals() {
    let s = Swift::start().await;
    let a = &s.admin;
    assert_eq!(req(a, "PUT", &s.path("/c"), b"", &[]).await.status, 201);
    let data = b"0123456789abcdefghij";
    let r = req(
        a,
        "PUT",
        &s.path("/c/r"),
        data,
        &[("content-type", "text/plain")],
    )
    .await;
    let etag = r.header("etag").unwrap();
    let lm = r.header("last-modified").unwrap();
    let get = |h: Vec<(&'static str, String)>| {
        let path = s.path("/c/r");
        async move {
            let hs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
            req(a, "GET", &path, b"", &hs).await
        }
    };
    let r = get(vec![("range", "bytes=2-5".into())]).await;
    assert_eq!(r.status, 206);
    assert_eq!(&r.bytes[..], b"2345");
    assert_eq!(r.header("content-range").unwrap(), "bytes 2-5/20");
    let r = get(vec![("range", "bytes=-3".into())]).await;
    assert_eq!(&r.bytes[..], b"hij");
    let r = get(vec![("range", "bytes=15-".into())]).await;
    assert_eq!(&r.bytes[..], b"fghij");
    // Several ranges: multipart/byteranges.
    let r = get(vec![("range", "bytes=0-1,10-11".into())]).await;
    assert_eq!(r.status, 206);
    let ct = r.header("content-type").unwrap();
    let boundary = ct.split("boundary=").nth(1).unwrap().to_string();
    assert!(ct.starts_with("multipart/byteranges"));
    let expected = format!(
        "--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/20\r\n\r\n01\r\n\
         --{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 10-11/20\r\n\r\nab\r\n\
         --{boundary}--"
    );
    assert_eq!(r.text, expected);
    assert_eq!(
        r.header("content-length").unwrap(),
        expected.len().to_string()
    );
    // 416, and syntactically invalid ranges are ignored.
    let r = get(vec![("range", "bytes=30-40".into())]).await;
    assert_swift_error(&r, 416);
    assert_eq!(r.header("content-range").unwrap(), "bytes */20");
    let r = get(vec![("range", "bytes=5-2".into())]).await;
    assert_eq!((r.status, r.bytes.len()), (200, 20));
    // Conditionals.
    assert_eq!(get(vec![("if-match", etag.clone())]).await.status, 200);
    assert_eq!(
        get(vec![("if-match", format!("\"{etag}\""))]).await.status,
        200
    );
    let r = get(vec![("if-match", "nope".into())]).await;
    assert_eq!(r.status, 412);
    assert!(r.bytes.is_empty());
    assert_eq!(get(vec![("if-none-match", etag.clone())]).await.status, 304);
    assert_eq!(get(vec![("if-none-match", "*".into())]).await.status, 304);
    assert_eq!(
        get(vec![("if-none-match", "other".into())]).await.status,
        200
    );
    assert_eq!(
        get(vec![("if-modified-since", lm.clone())]).await.status,
        304
    );
    assert_eq!(
        get(vec![(
            "if-modified-since",
            "Mon, 01 Jan 2001 00:00:00 GMT".into()
        )])
        .await
        .status,
        200
    );
    assert_eq!(
        get(vec![("if-unmodified-since", lm.clone())]).await.status,
        200
    );
    assert_eq!(
        get(vec![(
            "if-unmodified-since",
            "Mon, 01 Jan 2001 00:00:00 GMT".into()
        )])
        .await
        .status,
        412
    );
    let r = req(a, "GET", &s.path("/c/missing"), b"", &[("if-match", "*")]).await;
    assert_eq!(r.status, 412);
    s.stop().await;
}

#[tokio::test]
async fn copies() {
    let s = Swift::start().await;
    let a = &s.admin;
    for c in ["/src", "/dst"] {
        assert_eq!(req(a, "PUT", &s.path(c), b"", &[]).await.status, 201);
    }
    let r = req(
        a,
        "PUT",
        &s.path("/src/o"),
        b"copy me",
        &[("x-object-meta-a", "1"), ("content-type", "text/x-src")],
    )
    .await;
    assert_eq!(r.status, 201);
    // COPY with Destination, adding metadata.
    let r = req(
        a,
        "COPY",
        &s.path("/src/o"),
        b"",
        &[("destination", "/dst/o1"), ("x-object-meta-b", "2")],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("x-copied-from").unwrap(), "src/o");
    assert!(r.header("x-copied-from-last-modified").is_some());
    let r = req(a, "GET", &s.path("/dst/o1"), b"", &[]).await;
    assert_eq!(&r.bytes[..], b"copy me");
    assert_eq!(r.header("x-object-meta-a").unwrap(), "1");
    assert_eq!(r.header("x-object-meta-b").unwrap(), "2");
    assert_eq!(r.header("content-type").unwrap(), "text/x-src");
    // PUT with X-Copy-From, fresh metadata and a new type.
    let r = req(
        a,
        "PUT",
        &s.path("/dst/o2"),
        b"",
        &[
            ("x-copy-from", "src/o"),
            ("x-fresh-metadata", "true"),
            ("content-type", "text/x-new"),
        ],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = req(a, "HEAD", &s.path("/dst/o2"), b"", &[]).await;
    assert!(r.header("x-object-meta-a").is_none());
    assert_eq!(r.header("content-type").unwrap(), "text/x-new");
    assert_eq!(r.header("etag").unwrap(), md5(b"copy me"));
    // A partial copy.
    let r = req(
        a,
        "PUT",
        &s.path("/dst/o3"),
        b"",
        &[("x-copy-from", "/src/o"), ("range", "bytes=0-3")],
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        &req(a, "GET", &s.path("/dst/o3"), b"", &[]).await.bytes[..],
        b"copy"
    );
    // The copies are independent of the source.
    assert_eq!(
        req(a, "DELETE", &s.path("/src/o"), b"", &[]).await.status,
        204
    );
    assert_eq!(
        &req(a, "GET", &s.path("/dst/o1"), b"", &[]).await.bytes[..],
        b"copy me"
    );
    // Errors.
    assert_swift_error(
        &req(
            a,
            "COPY",
            &s.path("/src/o"),
            b"",
            &[("destination", "/dst/x")],
        )
        .await,
        404,
    );
    let r = req(a, "COPY", &s.path("/dst/o1"), b"", &[]).await;
    assert_eq!(r.status, 412);
    let r = req(
        a,
        "COPY",
        &s.path("/dst/o1"),
        b"",
        &[("destination", "nocontainer")],
    )
    .await;
    assert_eq!(r.status, 412);
    let r = req(a, "PUT", &s.path("/dst/x"), b"", &[("x-copy-from", "bad")]).await;
    assert_eq!(r.status, 412);
    let r = req(
        a,
        "PUT",
        &s.path("/dst/x"),
        b"body",
        &[("x-copy-from", "dst/o1")],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_swift_error(
        &req(
            a,
            "COPY",
            &s.path("/dst/o1"),
            b"",
            &[("destination", "/nope/x")],
        )
        .await,
        404,
    );
    s.stop().await;
}

#[tokio::test]
async fn expiry() {
    let clock = Arc::new(common::clock::ManualClock::new(1_700_000_000_000_000));
    let s = Swift::start_with(
        |c| {
            c.update_section::<object_store::config::ObjectStoreConfig>(|s| {
                s.expirer_interval = 3600
            })
            .unwrap()
        },
        clock.clone(),
    )
    .await;
    let a = &s.admin;
    assert_eq!(req(a, "PUT", &s.path("/c"), b"", &[]).await.status, 201);
    let r = req(
        a,
        "PUT",
        &s.path("/c/short"),
        b"12345",
        &[("x-delete-after", "60")],
    )
    .await;
    assert_eq!(r.status, 201);
    let r = req(
        a,
        "PUT",
        &s.path("/c/long"),
        b"1",
        &[("x-delete-at", "1700000600")],
    )
    .await;
    assert_eq!(r.status, 201);
    let r = req(a, "HEAD", &s.path("/c/short"), b"", &[]).await;
    assert_eq!(r.header("x-delete-at").unwrap(), "1700000060");
    clock.advance_secs(61);
    // Expired: gone for reads and listings, and reclaimed.
    assert_eq!(
        req(a, "GET", &s.path("/c/short"), b"", &[]).await.status,
        404
    );
    let r = req(a, "GET", &s.path("/c"), b"", &[]).await;
    assert_eq!(r.text, "long\n");
    let r = req(a, "HEAD", &s.path("/c"), b"", &[]).await;
    assert_eq!(r.header("x-container-object-count").unwrap(), "1");
    assert_eq!(r.header("x-container-bytes-used").unwrap(), "1");
    // The expirer reclaims what nobody read.
    clock.advance_secs(600);
    let store = s
        .cloud
        .cloud
        .service::<object_store::ObjectStore>()
        .unwrap();
    assert_eq!(store.expire_once().await.unwrap(), 1);
    let r = req(a, "HEAD", &s.path("/c"), b"", &[]).await;
    assert_eq!(r.header("x-container-object-count").unwrap(), "0");
    // POST can set and clear the expiry.
    req(a, "PUT", &s.path("/c/p"), b"x", &[]).await;
    req(a, "POST", &s.path("/c/p"), b"", &[("x-delete-after", "5")]).await;
    let r = req(a, "HEAD", &s.path("/c/p"), b"", &[]).await;
    assert!(r.header("x-delete-at").is_some());
    req(a, "POST", &s.path("/c/p"), b"", &[]).await;
    let r = req(a, "HEAD", &s.path("/c/p"), b"", &[]).await;
    assert!(r.header("x-delete-at").is_none());
    // Only data files of live objects remain.
    let files: usize = std::fs::read_dir(
        object_store::config::data_dir(&s.cloud.config)
            .unwrap()
            .join("objects"),
    )
    .unwrap()
    .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
    .sum();
    assert_eq!(files, 1);
    s.stop().await;
}

#[tokio::test]
async fn blank_object_metadata_and_copy_reply_headers() {
    let s = Swift::start().await;
    let a = &s.admin;
    assert_eq!(req(a, "PUT", &s.path("/m"), b"", &[]).await.status, 201);
    // An object keeps a metadata item with an empty value (the object
    // server stores what it is sent); only X-Remove-… drops one.
    let r = req(
        a,
        "PUT",
        &s.path("/m/o"),
        b"data",
        &[("x-object-meta-blank", ""), ("x-object-meta-src", "v")],
    )
    .await;
    assert_eq!(r.status, 201);
    let r = req(a, "HEAD", &s.path("/m/o"), b"", &[]).await;
    assert_eq!(r.header("x-object-meta-blank").as_deref(), Some(""));
    let r = req(
        a,
        "POST",
        &s.path("/m/o"),
        b"",
        &[("x-object-meta-other", "")],
    )
    .await;
    assert_eq!(r.status, 202);
    let r = req(a, "HEAD", &s.path("/m/o"), b"", &[]).await;
    assert_eq!(r.header("x-object-meta-other").as_deref(), Some(""));
    assert!(r.header("x-object-meta-blank").is_none());
    // COPY answers with the metadata the copy was written with.
    let r = req(
        a,
        "POST",
        &s.path("/m/o"),
        b"",
        &[("x-object-meta-src", "v")],
    )
    .await;
    assert_eq!(r.status, 202);
    let r = req(
        a,
        "COPY",
        &s.path("/m/o"),
        b"",
        &[("destination", "m/p"), ("x-object-meta-new", "n")],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("x-object-meta-src").as_deref(), Some("v"));
    assert_eq!(r.header("x-object-meta-new").as_deref(), Some("n"));
    assert_eq!(r.header("x-copied-from").as_deref(), Some("m/o"));
    assert_eq!(
        r.header("x-copied-from-account").as_deref(),
        Some(s.account.as_str())
    );
    s.stop().await;
}

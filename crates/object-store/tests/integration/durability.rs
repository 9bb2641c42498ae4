//! Concurrency and durability: racing writers, racing deletes, quotas
//! under concurrency, readers during uploads, and cleanup after a crash.

use super::*;
use std::sync::Arc;

/// A request body fed through a channel, one chunk per message.
fn channel_stream(
    rx: tokio::sync::mpsc::Receiver<Vec<u8>>,
) -> std::pin::Pin<
    Box<
        dyn futures_util::Stream<Item = Result<hyper::body::Frame<Bytes>, std::convert::Infallible>>
            + Send,
    >,
> {
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|c| (Ok(hyper::body::Frame::data(Bytes::from(c))), rx))
    }))
}

fn data_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("objects"))
        .unwrap()
        .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
        .sum()
}

#[tokio::test]
async fn concurrent_writers_of_one_name() {
    let s = Swift::start().await;
    let a = s.admin.clone();
    assert_eq!(req(&a, "PUT", &s.path("/c"), b"", &[]).await.status, 201);
    let bodies: Vec<Vec<u8>> = (0..8u8)
        .map(|i| vec![b'a' + i; 200_000 + usize::from(i)])
        .collect();
    let mut tasks = Vec::new();
    for b in bodies.clone() {
        let (a, path) = (a.clone(), s.path("/c/same"));
        tasks.push(tokio::spawn(async move {
            req(&a, "PUT", &path, &b, &[]).await.status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 201);
    }
    let r = req(&a, "GET", &s.path("/c/same"), b"", &[]).await;
    let winner = bodies.iter().find(|b| b[..] == r.bytes[..]);
    assert!(winner.is_some(), "the object is one complete upload");
    assert_eq!(r.header("etag").unwrap(), md5(&r.bytes));
    let h = req(&a, "HEAD", &s.path("/c"), b"", &[]).await;
    assert_eq!(h.header("x-container-object-count").unwrap(), "1");
    assert_eq!(
        h.header("x-container-bytes-used").unwrap(),
        r.bytes.len().to_string()
    );
    let dir = object_store::config::data_dir(&s.cloud.config).unwrap();
    assert_eq!(
        data_files(&dir),
        1,
        "replaced versions leave no file behind"
    );
    assert!(std::fs::read_dir(dir.join("tmp")).unwrap().next().is_none());
    s.stop().await;
}

/// PUTs that arrive together are committed together; one that fails
/// (`If-None-Match: *` on an existing object) fails alone and the others
/// still land, with counters and files matching.
#[tokio::test]
async fn a_failing_put_among_concurrent_ones_fails_alone() {
    let s = Swift::start().await;
    let a = s.admin.clone();
    assert_eq!(req(&a, "PUT", &s.path("/g"), b"", &[]).await.status, 201);
    assert_eq!(
        req(&a, "PUT", &s.path("/g/taken"), b"first", &[])
            .await
            .status,
        201
    );
    let mut tasks = Vec::new();
    for round in 0..3 {
        for i in 0..12 {
            let (a, path) = (a.clone(), s.path(&format!("/g/o{round}-{i}")));
            tasks.push(tokio::spawn(async move {
                (201, req(&a, "PUT", &path, b"data", &[]).await.status)
            }));
        }
        for _ in 0..4 {
            let (a, path) = (a.clone(), s.path("/g/taken"));
            tasks.push(tokio::spawn(async move {
                let r = req(&a, "PUT", &path, b"second", &[("if-none-match", "*")]).await;
                (412, r.status)
            }));
        }
    }
    for t in tasks {
        let (want, got) = t.await.unwrap();
        assert_eq!(got, want);
    }
    let r = req(&a, "GET", &s.path("/g/taken"), b"", &[]).await;
    assert_eq!(&r.bytes[..], b"first");
    let h = req(&a, "HEAD", &s.path("/g"), b"", &[]).await;
    assert_eq!(h.header("x-container-object-count").unwrap(), "37");
    assert_eq!(
        h.header("x-container-bytes-used").unwrap(),
        (36 * 4 + 5).to_string()
    );
    let dir = object_store::config::data_dir(&s.cloud.config).unwrap();
    assert_eq!(data_files(&dir), 37, "one file per object, no leftovers");
    s.stop().await;
}

#[tokio::test]
async fn container_delete_races_object_put() {
    let s = Swift::start().await;
    let a = s.admin.clone();
    for i in 0..10 {
        let c = s.path(&format!("/race{i}"));
        assert_eq!(req(&a, "PUT", &c, b"", &[]).await.status, 201);
        let (a1, a2) = (a.clone(), a.clone());
        let (o, c2) = (format!("{c}/o"), c.clone());
        let put = tokio::spawn(async move { req(&a1, "PUT", &o, b"data", &[]).await.status });
        let del = tokio::spawn(async move { req(&a2, "DELETE", &c2, b"", &[]).await.status });
        let (p, d) = (put.await.unwrap(), del.await.unwrap());
        assert!(
            (p == 201 && d == 409) || (p == 404 && d == 204),
            "put {p}, delete {d}: exactly one wins"
        );
        if p == 201 {
            let h = req(&a, "HEAD", &c, b"", &[]).await;
            assert_eq!(h.header("x-container-object-count").unwrap(), "1");
        }
    }
    let dir = object_store::config::data_dir(&s.cloud.config).unwrap();
    let r = req(&a, "HEAD", &s.path(""), b"", &[]).await;
    let objects: usize = r.header("x-account-object-count").unwrap().parse().unwrap();
    assert_eq!(
        data_files(&dir),
        objects,
        "files on disk match the counters"
    );
    s.stop().await;
}

#[tokio::test]
async fn concurrent_uploads_respect_quota() {
    let s = Swift::start().await;
    let a = s.admin.clone();
    let r = req(
        &a,
        "PUT",
        &s.path("/q"),
        b"",
        &[("x-container-meta-quota-bytes", "10")],
    )
    .await;
    assert_eq!(r.status, 201);
    let base = s.cloud.url("object-store");
    let token = a.token().unwrap().to_string();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (base, path, token) = (base.clone(), s.path(&format!("/q/o{i}")), token.clone());
        tasks.push(tokio::spawn(async move {
            // Chunked, so no Content-Length lets the early check refuse it.
            put_chunked(&base, &path, Some(&token), vec![b"abc".to_vec()], &[])
                .await
                .0
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            201 => ok += 1,
            413 => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 3, "3 × 3 bytes fit in 10");
    let h = req(&a, "HEAD", &s.path("/q"), b"", &[]).await;
    assert_eq!(h.header("x-container-bytes-used").unwrap(), "9");
    assert_eq!(h.header("x-container-object-count").unwrap(), "3");
    let r = req(&a, "GET", &s.path("/q"), b"", &[]).await;
    assert_eq!(r.text.lines().count(), 3);
    assert_eq!(
        data_files(&object_store::config::data_dir(&s.cloud.config).unwrap()),
        3
    );
    s.stop().await;
}

#[tokio::test]
async fn readers_never_see_a_partial_upload() {
    use http_body_util::StreamBody;
    let s = Swift::start().await;
    let a = s.admin.clone();
    assert_eq!(req(&a, "PUT", &s.path("/c"), b"", &[]).await.status, 201);
    assert_eq!(
        req(&a, "PUT", &s.path("/c/o"), b"old", &[]).await.status,
        201
    );
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(1);
    let stream = channel_stream(rx);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let request = hyper::Request::builder()
        .method("PUT")
        .uri(format!("{}{}", s.cloud.url("object-store"), s.path("/c/o")))
        .header("x-auth-token", a.token().unwrap())
        .header("content-length", "8")
        .body(StreamBody::new(stream))
        .unwrap();
    let upload = tokio::spawn(async move { client.request(request).await.map(|r| r.status()) });
    tx.send(b"new-".to_vec()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // Mid-upload: the old version, whole.
    let r = req(&a, "GET", &s.path("/c/o"), b"", &[]).await;
    assert_eq!(&r.bytes[..], b"old");
    tx.send(b"data".to_vec()).await.unwrap();
    drop(tx);
    assert_eq!(upload.await.unwrap().unwrap().as_u16(), 201);
    assert_eq!(
        &req(&a, "GET", &s.path("/c/o"), b"", &[]).await.bytes[..],
        b"new-data"
    );

    // A client that goes away mid-upload leaves nothing, not even in tmp/.
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(1);
    let stream = channel_stream(rx);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let request = hyper::Request::builder()
        .method("PUT")
        .uri(format!(
            "{}{}",
            s.cloud.url("object-store"),
            s.path("/c/gone")
        ))
        .header("x-auth-token", a.token().unwrap())
        .header("content-length", "1000000")
        .body(StreamBody::new(stream))
        .unwrap();
    let upload = tokio::spawn(async move { client.request(request).await.map(|r| r.status()) });
    tx.send(vec![b'x'; 100_000]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    upload.abort();
    drop(tx);
    let tmp = object_store::config::data_dir(&s.cloud.config)
        .unwrap()
        .join("tmp");
    let mut clean = false;
    for _ in 0..50 {
        if std::fs::read_dir(&tmp).unwrap().next().is_none() {
            clean = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(clean, "the interrupted upload's temporary file is removed");
    assert_eq!(
        req(&a, "HEAD", &s.path("/c/gone"), b"", &[]).await.status,
        404
    );
    s.stop().await;
}

#[tokio::test]
async fn restart_cleans_up_after_a_crash() {
    let clock: common::clock::SharedClock = Arc::new(common::clock::SystemClock);
    let tc = TestCloud::start().await.unwrap();
    let cfg = tc.config.clone();
    let identity = tc.admin().await.unwrap();
    let project = super::project_of(&identity).await;
    let store = identity.at(&tc.url("object-store"));
    let p = |rest: &str| format!("/v1/AUTH_{project}{rest}");
    assert_eq!(req(&store, "PUT", &p("/c"), b"", &[]).await.status, 201);
    assert_eq!(
        req(&store, "PUT", &p("/c/kept"), b"kept", &[]).await.status,
        201
    );
    let stopped = tc.stop_keeping_state().await;
    // What a process killed mid-upload, or between installing a file and
    // committing its row, leaves behind.
    let dir = object_store::config::data_dir(&cfg).unwrap();
    std::fs::write(
        dir.join("tmp").join("0123456789abcdef0123456789abcdef"),
        b"partial",
    )
    .unwrap();
    let orphan = dir
        .join("objects")
        .join("ab")
        .join("ab23456789abcdef0123456789abcdef");
    std::fs::write(&orphan, b"never committed").unwrap();
    // The sweep only takes files older than the start (ctime seconds).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let cloud = stopped.start(clock).await.unwrap();
    assert!(std::fs::read_dir(dir.join("tmp")).unwrap().next().is_none());
    let mut swept = false;
    for _ in 0..50 {
        if !orphan.exists() {
            swept = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(swept, "the uncommitted file is swept");
    let store = cloud.admin().await.unwrap().at(&cloud.url("object-store"));
    let r = req(&store, "GET", &p("/c/kept"), b"", &[]).await;
    assert_eq!((r.status, &r.bytes[..]), (200, &b"kept"[..]));
    assert_eq!(data_files(&dir), 1);
    cloud.stop().await;
}

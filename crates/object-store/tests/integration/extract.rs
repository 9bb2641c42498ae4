//! Archive uploads (`PUT …?extract-archive=tar|tar.gz|tar.bz2`), as
//! Swift's bulk middleware answers them.

use super::{json_of, md5, put_chunked, req, Swift};
use serde_json::json;
use std::io::Write;

/// One archive member.
enum M<'a> {
    File(&'a str, &'a [u8]),
    FileWithPax(&'a str, &'a [u8], Vec<(&'a str, &'a [u8])>),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
}

fn tar_of(members: &[M<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for m in members {
        match m {
            M::File(name, data) => append_file(&mut b, name, data),
            M::FileWithPax(name, data, pax) => {
                b.append_pax_extensions(pax.iter().map(|(k, v)| (*k, *v)))
                    .unwrap();
                append_file(&mut b, name, data);
            }
            M::Dir(name) => {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_mode(0o755);
                b.append_data(&mut h, name, std::io::empty()).unwrap();
            }
            M::Symlink(name, target) => {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, name, target).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn append_file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, name, data).unwrap();
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

const JSON: (&str, &str) = ("accept", "application/json");

#[tokio::test]
async fn extract_each_format_into_the_account() {
    let s = Swift::start().await;
    let a = &s.admin;
    let archive = |c: &str| {
        tar_of(&[
            M::Dir(c),
            M::File(&format!("{c}/a.txt"), b"alpha"),
            M::File(&format!("./{c}/sub/b.json"), b"{}"),
            M::Symlink(&format!("{c}/link"), "a.txt"),
            // A file at the top names no container: passed over.
            M::File("top.txt", b"ignored"),
        ])
    };
    for (fmt, body) in [
        ("tar", archive("t1")),
        ("tar.gz", gzip(&archive("t2"))),
        ("tar.bz2", bzip2(&archive("t3"))),
    ] {
        let r = req(
            a,
            "PUT",
            &s.path(&format!("?extract-archive={fmt}")),
            &body,
            &[JSON],
        )
        .await;
        assert_eq!(r.status, 200, "{fmt}: {}", r.text);
        assert!(r.header("x-trans-id").is_some());
        let v = json_of(&r);
        assert_eq!(
            v,
            json!({
                "Number Files Created": 2,
                "Response Body": "",
                "Response Status": "201 Created",
                "Errors": [],
            }),
            "{fmt}"
        );
    }
    let r = req(a, "GET", &s.path(""), b"", &[]).await;
    assert_eq!(r.text, "t1\nt2\nt3\n");
    let r = req(a, "GET", &s.path("/t2"), b"", &[]).await;
    assert_eq!(r.text, "a.txt\nsub/b.json\n");
    let r = req(a, "GET", &s.path("/t3/a.txt"), b"", &[]).await;
    assert_eq!(r.text, "alpha");
    assert_eq!(r.header("etag").unwrap(), md5(b"alpha"));
    // No Content-Type on the member's PUT: guessed from the name.
    assert_eq!(r.header("content-type").unwrap(), "text/plain");
    let r = req(a, "HEAD", &s.path("/t1/sub/b.json"), b"", &[]).await;
    assert_eq!(r.header("content-type").unwrap(), "application/json");
    s.stop().await;
}

#[tokio::test]
async fn extract_under_a_container_prefix_with_metadata() {
    let s = Swift::start().await;
    let a = &s.admin;
    assert_eq!(req(a, "PUT", &s.path("/docs"), b"", &[]).await.status, 201);
    let body = tar_of(&[
        M::File("readme", b"hello"),
        M::FileWithPax(
            "setup.py",
            b"print()",
            vec![
                ("SCHILY.xattr.user.mime_type", b"application/python-setup"),
                ("SCHILY.xattr.user.meta.lunch", b"burger and fries"),
                ("LIBARCHIVE.xattr.user.meta.dinner", b"baked ziti"),
                ("SCHILY.xattr.user.stuff", b"whee"),
            ],
        ),
    ]);
    let r = req(
        a,
        "PUT",
        &s.path("/docs/v1/?extract-archive=tar"),
        &body,
        &[
            ("x-object-meta-color", "blue"),
            ("x-delete-after", "3600"),
            // Swift's subrequests carry no Content-Type: ignored.
            ("content-type", "application/x-tar"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    assert_eq!(
        r.text,
        "Number Files Created: 2\nResponse Body: \nResponse Status: 201 Created\nErrors:\n"
    );
    let r = req(a, "GET", &s.path("/docs/v1/readme"), b"", &[]).await;
    assert_eq!(r.text, "hello");
    assert_eq!(r.header("x-object-meta-color").unwrap(), "blue");
    assert!(r.header("x-delete-at").is_some());
    assert_eq!(
        r.header("content-type").unwrap(),
        "application/octet-stream"
    );
    let r = req(a, "HEAD", &s.path("/docs/v1/setup.py"), b"", &[]).await;
    assert_eq!(
        r.header("content-type").unwrap(),
        "application/python-setup"
    );
    assert_eq!(r.header("x-object-meta-lunch").unwrap(), "burger and fries");
    assert_eq!(r.header("x-object-meta-dinner").unwrap(), "baked ziti");
    assert!(r.header("x-object-meta-stuff").is_none());
    // XML results.
    let r = req(
        a,
        "PUT",
        &s.path("/docs?extract-archive=tar"),
        &tar_of(&[M::File("x.txt", b"x")]),
        &[("accept", "application/xml")],
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/xml"));
    assert_eq!(
        r.text,
        "<extract>\n<number_files_created>1</number_files_created>\n\
         <response_body></response_body>\n<response_status>201 Created</response_status>\n\
         <errors>\n</errors>\n</extract>\n"
    );
    s.stop().await;
}

#[tokio::test]
async fn extract_streams_large_members_and_chunked_bodies() {
    let s = Swift::start().await;
    let a = &s.admin;
    // Larger than every buffer on the way (pieces of 64 KiB, a few in
    // flight), and not a multiple of anything.
    let big: Vec<u8> = (0..3_000_017u32).map(|i| (i * 7 % 251) as u8).collect();
    let body = gzip(&tar_of(&[
        M::File("big/one", &big),
        M::File("big/two", b"2"),
    ]));
    let chunks: Vec<Vec<u8>> = body.chunks(10_000).map(<[u8]>::to_vec).collect();
    let token = a.token().unwrap().to_string();
    let (status, _, text) = put_chunked(
        &s.cloud.url("object-store"),
        &s.path("?extract-archive=tar.gz"),
        Some(&token),
        chunks,
        &[JSON],
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["Number Files Created"], 2, "{v}");
    let r = req(a, "GET", &s.path("/big/one"), b"", &[]).await;
    assert_eq!(r.bytes.len(), big.len());
    assert_eq!(r.header("etag").unwrap(), md5(&big));
    s.stop().await;
}

#[tokio::test]
async fn extract_errors() {
    let s = Swift::start().await;
    let a = &s.admin;
    let good = tar_of(&[M::File("e/a", b"a")]);
    // Unknown format: a plain 400, nothing read.
    let r = req(a, "PUT", &s.path("?extract-archive=zip"), &good, &[]).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.text, "Unsupported archive format");
    // Not an archive, or not in the compression named.
    for (fmt, body) in [
        ("tar", b"this is not a tar file at all".repeat(40)),
        ("tar.gz", good.clone()),
        ("tar.bz2", gzip(&good)),
    ] {
        let r = req(
            a,
            "PUT",
            &s.path(&format!("?extract-archive={fmt}")),
            &body,
            &[JSON],
        )
        .await;
        assert_eq!(r.status, 200);
        let v = json_of(&r);
        assert_eq!(v["Response Status"], "400 Bad Request", "{fmt}: {v}");
        assert!(
            v["Response Body"]
                .as_str()
                .unwrap()
                .starts_with("Invalid Tar File: "),
            "{fmt}: {v}"
        );
        assert_eq!(v["Number Files Created"], 0);
    }
    // Nothing but directories and top-level files.
    let r = req(
        a,
        "PUT",
        &s.path("?extract-archive=tar"),
        &tar_of(&[M::Dir("d"), M::File("top", b"t")]),
        &[JSON],
    )
    .await;
    let v = json_of(&r);
    assert_eq!(v["Response Status"], "400 Bad Request");
    assert_eq!(v["Response Body"], "Invalid Tar File: No Valid Files");
    // Cut short in the middle of a member: what came before is kept, the
    // broken member is not.
    let whole = tar_of(&[
        M::File("cut/first", b"1"),
        M::File("cut/second", &[9u8; 5000]),
    ]);
    let r = req(
        a,
        "PUT",
        &s.path("?extract-archive=tar"),
        &whole[..3000],
        &[JSON],
    )
    .await;
    let v = json_of(&r);
    assert_eq!(v["Response Status"], "400 Bad Request", "{v}");
    assert!(v["Response Body"]
        .as_str()
        .unwrap()
        .starts_with("Invalid Tar File"));
    assert_eq!(v["Number Files Created"], 1);
    assert_eq!(
        req(a, "GET", &s.path("/cut"), b"", &[]).await.text,
        "first\n"
    );
    // No acceptable result format.
    let r = req(
        a,
        "PUT",
        &s.path("?extract-archive=tar"),
        &good,
        &[("accept", "image/png")],
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        r.text.contains("Response Status: 406 Not Acceptable"),
        "{}",
        r.text
    );
    // Neither a length nor chunked.
    let r = a
        .send_bytes(
            "PUT",
            &s.path("?extract-archive=tar"),
            bytes::Bytes::new(),
            &[JSON],
        )
        .await
        .unwrap();
    assert_eq!(json_of(&r)["Response Status"], "411 Length Required");
    // Bad names: not UTF-8 (412), and too long for an object (400).
    let long = format!("e/{}", "n".repeat(1100));
    let mut bad = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    bad.append_data(&mut h, std::ffi::OsStr::new("e/ok"), &b"k"[..])
        .unwrap();
    {
        use std::os::unix::ffi::OsStrExt;
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        bad.append_data(&mut h, std::ffi::OsStr::from_bytes(b"e/\xff"), &b"x"[..])
            .unwrap();
    }
    append_file(&mut bad, &long, b"x");
    let r = req(
        a,
        "PUT",
        &s.path("?extract-archive=tar"),
        &bad.into_inner().unwrap(),
        &[JSON],
    )
    .await;
    let v = json_of(&r);
    assert_eq!(v["Number Files Created"], 1, "{v}");
    assert_eq!(v["Response Status"], "400 Bad Request");
    assert_eq!(
        v["Errors"],
        json!([
            ["e/%FF", "412 Precondition Failed"],
            [long, "400 Bad Request"]
        ])
    );
    s.stop().await;
}

#[tokio::test]
async fn extract_is_authorised_member_by_member() {
    let s = Swift::start().await;
    let a = &s.admin;
    assert_eq!(
        req(a, "PUT", &s.path("/shared"), b"", &[]).await.status,
        201
    );
    let body = tar_of(&[M::File("shared/x", b"x"), M::File("new/y", b"y")]);
    // Someone else's account: the container checks and the writes fail.
    let (bob, _) = s.user("bob", "bobs", "member").await;
    let r = req(&bob, "PUT", &s.path("?extract-archive=tar"), &body, &[JSON]).await;
    assert_eq!(r.status, 200);
    let v = json_of(&r);
    assert_eq!(v["Response Status"], "400 Bad Request", "{v}");
    let cont = format!("/v1/{}/shared", s.account);
    let new = format!("/v1/{}/new", s.account);
    assert_eq!(
        v["Errors"],
        json!([
            [cont, "403 Forbidden"],
            ["shared/x", "403 Forbidden"],
            [new, "403 Forbidden"],
            ["new/y", "403 Forbidden"],
        ])
    );
    // A write ACL lets the member into that container.
    let r = req(
        a,
        "POST",
        &s.path("/shared"),
        b"",
        &[("x-container-write", "bobs:bob")],
    )
    .await;
    assert_eq!(r.status, 204);
    let r = req(
        &bob,
        "PUT",
        &s.path("/shared?extract-archive=tar"),
        &tar_of(&[M::File("via-acl", b"z")]),
        &[JSON],
    )
    .await;
    let v = json_of(&r);
    assert_eq!(v["Number Files Created"], 1, "{v}");
    // No token at all: 401, and nothing more is tried.
    let r = req(
        &s.anonymous(),
        "PUT",
        &s.path("?extract-archive=tar"),
        &body,
        &[JSON],
    )
    .await;
    let v = json_of(&r);
    assert_eq!(v["Response Status"], "401 Unauthorized", "{v}");
    assert_eq!(v["Number Files Created"], 0);
    assert_eq!(req(a, "GET", &s.path(""), b"", &[]).await.text, "shared\n");
    s.stop().await;
}

#[tokio::test]
async fn extract_limits() {
    let s = Swift::start_with(
        |c| {
            c.update_section::<object_store::config::ObjectStoreConfig>(|s| {
                s.max_containers_per_extraction = 2;
                s.max_failed_extractions = 2;
                s.max_file_size = 10;
            })
            .unwrap();
        },
        std::sync::Arc::new(common::clock::SystemClock),
    )
    .await;
    let a = &s.admin;
    let r = req(a, "GET", "/info", b"", &[]).await;
    assert_eq!(
        json_of(&r)["bulk_upload"],
        json!({"max_containers_per_extraction": 2, "max_failed_extractions": 2})
    );
    // The third new container is one too many (Swift has made it by
    // then, and stops there).
    let body = tar_of(&[
        M::File("c1/a", b"a"),
        M::File("c2/a", b"a"),
        M::File("c3/a", b"a"),
        M::File("c4/a", b"a"),
    ]);
    let r = req(a, "PUT", &s.path("?extract-archive=tar"), &body, &[JSON]).await;
    let v = json_of(&r);
    assert_eq!(v["Response Status"], "400 Bad Request", "{v}");
    assert_eq!(
        v["Response Body"],
        "More than 2 containers to create from tar."
    );
    assert_eq!(v["Number Files Created"], 2);
    // After two failures the rest of the archive is not looked at.
    let body = tar_of(&[
        M::File("c1/big1", b"more than ten bytes"),
        M::File("c1/big2", b"more than ten bytes"),
        M::File("c1/fine", b"ok"),
    ]);
    let r = req(a, "PUT", &s.path("?extract-archive=tar"), &body, &[JSON]).await;
    let v = json_of(&r);
    assert_eq!(v["Response Status"], "400 Bad Request", "{v}");
    assert_eq!(
        v["Errors"],
        json!([
            ["c1/big1", "413 Request Entity Too Large"],
            ["c1/big2", "413 Request Entity Too Large"],
        ])
    );
    assert_eq!(v["Number Files Created"], 0);
    assert_eq!(req(a, "GET", &s.path("/c1"), b"", &[]).await.text, "a\n");
    s.stop().await;
}

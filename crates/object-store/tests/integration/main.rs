//! Object store API tests against the real server, in process, on SQLite
//! or (with `OXISTACK_TEST_DATABASE_URL`) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may panic

mod accounts;
mod containers;
mod cors;
mod durability;
mod extract;
mod large;
mod objects;
mod tempurl;
mod versions;

use bytes::Bytes;
use serde_json::{json, Value};
use testkit::{Client, Resp, TestCloud};

/// A running cloud with an admin client on the object store.
pub struct Swift {
    pub cloud: TestCloud,
    /// Identity API client holding an admin token.
    pub identity: Client,
    /// Object store client holding the same token.
    pub admin: Client,
    /// `AUTH_<admin project id>`.
    pub account: String,
}

impl Swift {
    pub async fn start() -> Swift {
        Self::start_with(|_| {}, std::sync::Arc::new(common::clock::SystemClock)).await
    }

    pub async fn start_with(
        tweak: impl FnOnce(&mut common::config::Config),
        clock: common::clock::SharedClock,
    ) -> Swift {
        let cloud = TestCloud::start_with(tweak, clock).await.unwrap();
        let identity = cloud.admin().await.unwrap();
        let project = project_of(&identity).await;
        let admin = identity.at(&cloud.url("object-store"));
        Swift {
            identity,
            admin,
            account: format!("AUTH_{project}"),
            cloud,
        }
    }

    /// `/v1/AUTH_…` + `rest`.
    pub fn path(&self, rest: &str) -> String {
        format!("/v1/{}{}", self.account, rest)
    }

    /// A client for `user` (created with `role` on a new or existing
    /// project `project`: `testkit`'s fixture), and that project's account.
    pub async fn user(&self, name: &str, project: &str, role: &str) -> (Client, String) {
        let u = self
            .cloud
            .project_user(project, name, "pw-123456", role)
            .await
            .unwrap();
        (u.client.at(&self.cloud.url("object-store")), u.account())
    }

    /// A client without a token.
    pub fn anonymous(&self) -> Client {
        Client::new(&self.cloud.url("object-store"))
    }

    pub async fn stop(self) {
        self.cloud.stop().await;
    }
}

/// The project a client's token is scoped to.
async fn project_of(identity: &Client) -> String {
    let t = identity.token().unwrap().to_string();
    let r = identity
        .send("GET", "/v3/auth/tokens", None, &[("x-subject-token", &t)])
        .await
        .unwrap();
    r.body["token"]["project"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Sends `body` as is with `headers`.
pub async fn req(
    c: &Client,
    method: &str,
    path: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> Resp {
    // Like Swift's clients, always say how long the body is on writes
    // (hyper leaves `Content-Length: 0` out).
    let len = body.len().to_string();
    let mut hs = headers.to_vec();
    if matches!(method, "PUT" | "POST" | "COPY")
        && !hs
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        hs.push(("content-length", &len));
    }
    c.send_bytes(method, path, Bytes::copy_from_slice(body), &hs)
        .await
        .unwrap()
}

/// Swift's HTML error page for `status`.
pub fn assert_swift_error(r: &Resp, status: u16) {
    assert_eq!(r.status, status, "{}", r.text);
    if !r.text.is_empty()
        && r.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html")
    {
        assert!(r.text.starts_with("<html><h1>"), "{}", r.text);
    }
}

pub fn json_of(r: &Resp) -> Value {
    serde_json::from_slice(&r.bytes).unwrap_or(Value::Null)
}

/// The MD5 of `data` in hex.
pub fn md5(data: &[u8]) -> String {
    use md5::Digest;
    let d = md5::Md5::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// A PUT whose body goes out with chunked transfer encoding, in `chunks`.
pub async fn put_chunked(
    base: &str,
    path: &str,
    token: Option<&str>,
    chunks: Vec<Vec<u8>>,
    headers: &[(&str, &str)],
) -> (u16, hyper::HeaderMap, String) {
    use http_body_util::{BodyExt, StreamBody};
    use hyper::body::Frame;
    let stream = futures_util::stream::iter(
        chunks
            .into_iter()
            .map(|c| Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from(c)))),
    );
    let body = StreamBody::new(stream);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let mut b = hyper::Request::builder()
        .method("PUT")
        .uri(format!("{base}{path}"));
    if let Some(t) = token {
        b = b.header("x-auth-token", t);
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let res = client.request(b.body(body).unwrap()).await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text =
        String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes()).into_owned();
    (status, headers, text)
}

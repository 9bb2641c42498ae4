//! Test fixtures shared by every service's integration tests; the README
//! beside this crate says how a new service's tests use them.
//!
//! - [`TestCloud::start`] (or [`TestCloud::start_with`] a config tweak and a
//!   clock) is the one way a test boots the cloud: the real composition
//!   root, in process, on free loopback ports, with its state in a
//!   temporary directory and its store in a fresh SQLite file, or a fresh
//!   PostgreSQL database when `OXISTACK_TEST_DATABASE_URL` names a server.
//!   [`TestCloud::stop_keeping_state`] and [`StoppedCloud::start`] restart
//!   it on the same state, as the next process would.
//! - [`fixtures`]: projects, users, role grants and tokens
//!   ([`TestCloud::project_user`]), made through the identity API.
//! - [`Client`]: a small HTTP client that speaks JSON and keeps a token.
//! - [`root`]: the gate for tests that need root, network namespaces or
//!   QEMU, and [`netns`]: test hosts as network namespaces joined by veth
//!   pairs, all removed on drop.
//! - [`guest`]: the small test guest's images (built by
//!   `scripts/build-test-guest.sh`), config drives and QEMU guests read by
//!   their serial markers.

pub mod fixtures;
pub mod guest;
pub mod netns;
pub mod root;

use anyhow::{Context, Result};
use bytes::Bytes;
use common::clock::SharedClock;
use common::config::Config;
pub use fixtures::ProjectUser;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

pub use oxistack::cloud::Cloud;

/// A running in-process cloud and the temporary directory it lives in.
/// The directory is removed when the value (or its last field) is dropped,
/// so a test that fails before calling [`TestCloud::stop`] leaves nothing
/// behind.
pub struct TestCloud {
    pub cloud: Cloud,
    pub dir: PathBuf,
    pub config: Config,
    _dir_guard: DirGuard,
}

/// Removes a directory tree when dropped.
struct DirGuard(PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TestCloud {
    pub async fn start() -> Result<TestCloud> {
        Self::start_with(|_| {}, Arc::new(common::clock::SystemClock)).await
    }

    /// Starts with a config adjusted by `tweak` and the given clock.
    pub async fn start_with(
        tweak: impl FnOnce(&mut Config),
        clock: SharedClock,
    ) -> Result<TestCloud> {
        let dir = std::env::temp_dir().join(format!("oxistack-test-{}", common::ids::hex_id()));
        std::fs::create_dir_all(&dir)?;
        let guard = DirGuard(dir.clone());
        let mut config = Config {
            listen: "127.0.0.1".into(),
            state_dir: dir.join("state"),
            compute_driver: "fake".into(),
            dataplane: "none".into(),
            ..Config::default()
        };
        config.update_section::<identity::config::IdentityConfig>(|c| {
            c.port = 0;
            // Cheap hashing keeps the suite fast; production parameters
            // are covered by the password module's own tests.
            c.password_hash_memory_kib = 256;
            c.password_hash_iterations = 1;
        })?;
        config.update_section::<image::config::ImageConfig>(|c| c.port = 0)?;
        config.update_section::<object_store::config::ObjectStoreConfig>(|c| c.port = 0)?;
        config.update_section::<network::config::NetworkConfig>(|c| c.port = 0)?;
        config.update_section::<compute::config::ComputeConfig>(|c| {
            c.port = 0;
            c.metadata_port = 0;
            c.novncproxy_port = 0;
        })?;
        config.internal_api_port = 0;
        config.database_url = db::testing::fresh_url(&dir)
            .await
            .context("test database")?;
        tweak(&mut config);
        let cloud = Cloud::start(config.clone(), clock).await?;
        Ok(TestCloud {
            cloud,
            _dir_guard: guard,
            dir,
            config,
        })
    }

    pub fn identity_url(&self) -> String {
        let a = self
            .cloud
            .apis
            .iter()
            .find(|a| a.name == "identity")
            .map(|a| a.addr);
        a.map(|a| format!("http://{a}")).unwrap_or_default()
    }

    /// `http://ADDR` of the API called `name` (`identity`, `image`, …).
    pub fn url(&self, name: &str) -> String {
        self.cloud
            .apis
            .iter()
            .find(|a| a.name == name)
            .map(|a| format!("http://{}", a.addr))
            .unwrap_or_default()
    }

    /// A client for the identity API holding a project-scoped admin token.
    pub async fn admin(&self) -> Result<Client> {
        let c = Client::new(&self.identity_url());
        let pw = self.cloud.admin_password.clone();
        let token = c
            .password_token("admin", &pw, Some(("admin", "Default")))
            .await?;
        Ok(c.with_token(&token))
    }

    pub async fn stop(self) {
        self.cloud.shutdown(std::time::Duration::from_secs(5)).await;
    }

    /// Stops the cloud but keeps its state directory and store, for a test
    /// of what the next process finds.
    pub async fn stop_keeping_state(self) -> StoppedCloud {
        self.cloud.shutdown(std::time::Duration::from_secs(5)).await;
        StoppedCloud {
            dir: self.dir,
            config: self.config,
            _dir_guard: self._dir_guard,
        }
    }
}

/// A [`TestCloud`] stopped with its state kept; the directory is removed
/// when this (or the cloud started from it) is dropped.
pub struct StoppedCloud {
    pub dir: PathBuf,
    pub config: Config,
    _dir_guard: DirGuard,
}

impl StoppedCloud {
    /// Starts a new process's worth of cloud on the same config, state
    /// directory and store (on new free ports).
    pub async fn start(self, clock: SharedClock) -> Result<TestCloud> {
        let cloud = Cloud::start(self.config.clone(), clock).await?;
        Ok(TestCloud {
            cloud,
            dir: self.dir,
            config: self.config,
            _dir_guard: self._dir_guard,
        })
    }
}

/// A response, with its body parsed as JSON when it is JSON.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Value,
    pub text: String,
    /// The body exactly as received.
    pub bytes: Bytes,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

#[derive(Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: HyperClient<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            base: base.trim_end_matches('/').to_string(),
            token: None,
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub fn with_token(&self, token: &str) -> Client {
        Client {
            token: Some(token.to_string()),
            ..self.clone()
        }
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Sends a request; `body` is JSON unless `raw` is given.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Resp> {
        let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        self.send_raw(method, path, bytes, headers).await
    }

    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        body: Bytes,
        headers: &[(&str, &str)],
    ) -> Result<Resp> {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path));
        if !body.is_empty() {
            req = req.header("content-type", "application/json");
        }
        if let Some(t) = &self.token {
            req = req.header("x-auth-token", t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = self.http.request(req.body(Full::new(body))?).await?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await?.to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Resp {
            status,
            headers,
            body,
            text,
            bytes,
        })
    }

    /// Sends `body` as is: no JSON content type is added, so `headers`
    /// say what it is (image data, JSON patch, …).
    pub async fn send_bytes(
        &self,
        method: &str,
        path: &str,
        body: Bytes,
        headers: &[(&str, &str)],
    ) -> Result<Resp> {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            req = req.header("x-auth-token", t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = self.http.request(req.body(Full::new(body))?).await?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await?.to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Resp {
            status,
            headers,
            body,
            text,
            bytes,
        })
    }

    /// The same client against another base URL (another service).
    pub fn at(&self, base: &str) -> Client {
        Client {
            base: base.trim_end_matches('/').to_string(),
            ..self.clone()
        }
    }

    pub async fn get(&self, path: &str) -> Result<Resp> {
        self.send("GET", path, None, &[]).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Result<Resp> {
        self.send("POST", path, Some(&body), &[]).await
    }
    pub async fn put(&self, path: &str, body: Option<Value>) -> Result<Resp> {
        self.send("PUT", path, body.as_ref(), &[]).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Result<Resp> {
        self.send("PATCH", path, Some(&body), &[]).await
    }
    pub async fn delete(&self, path: &str) -> Result<Resp> {
        self.send("DELETE", path, None, &[]).await
    }
    pub async fn head(&self, path: &str) -> Result<Resp> {
        self.send("HEAD", path, None, &[]).await
    }

    /// Password authentication by user name in the Default domain;
    /// `scope` is (project name, its domain name).
    pub async fn password_token(
        &self,
        user: &str,
        password: &str,
        scope: Option<(&str, &str)>,
    ) -> Result<String> {
        let r = self.password_auth(user, password, scope).await?;
        anyhow::ensure!(
            r.status == 201,
            "auth as {user} failed: {} {}",
            r.status,
            r.text
        );
        r.header("x-subject-token").context("no X-Subject-Token")
    }

    pub async fn password_auth(
        &self,
        user: &str,
        password: &str,
        scope: Option<(&str, &str)>,
    ) -> Result<Resp> {
        let mut auth = json!({"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": "Default"}, "password": password}}}});
        if let Some((p, d)) = scope {
            auth["scope"] = json!({"project": {"name": p, "domain": {"name": d}}});
        }
        Client::new(&self.base)
            .post("/v3/auth/tokens", json!({ "auth": auth }))
            .await
    }
}

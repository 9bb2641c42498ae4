//! Bytes between this host's driver and the controller's internal API,
//! with the node's token: images to boot from
//! (`GET /internal/v1/nodes/{name}/compute/images/{id}/file`;
//! `compute::remote::internal` says which images a node may read),
//! snapshots going up (`PUT …/compute/snapshots/{command id}`) and
//! consoles, each over a connection the node opens and upgrades
//! (`GET …/compute/consoles/{command id}`), so a compute node needs no
//! port of its own open. Bodies are streamed through, never held whole.

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyDataStream, BodyExt, Empty, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;
use virt::{ConsoleStream, ImageFetcher, Snapshot, VirtError, VirtResult};

/// How long the controller may take to start answering.
const HEADERS_TIMEOUT: Duration = Duration::from_secs(60);

/// A [`ImageFetcher`] over the internal API.
pub struct HttpImageFetcher {
    base: String,
    node: String,
    token: crate::NodeToken,
    http: hyper_util::client::legacy::Client<HttpConnector, Empty<Bytes>>,
}

impl HttpImageFetcher {
    /// For the agent `cfg` (its controller URL, node name and token).
    pub fn new(cfg: &crate::AgentConfig) -> HttpImageFetcher {
        HttpImageFetcher {
            base: cfg.controller.trim_end_matches('/').to_string(),
            node: cfg.node_name.clone(),
            token: cfg.token.clone(),
            http: hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http(),
        }
    }
}

impl ImageFetcher for HttpImageFetcher {
    fn fetch<'a>(
        &'a self,
        image_id: &'a str,
    ) -> BoxFuture<'a, VirtResult<BoxStream<'static, std::io::Result<Bytes>>>> {
        Box::pin(async move {
            let failed = |m: String| VirtError::Failed(format!("fetching image {image_id}: {m}"));
            let token = self
                .token
                .get()
                .ok_or_else(|| failed("the agent is not registered".into()))?;
            let req = hyper::Request::get(format!(
                "{}/internal/v1/nodes/{}/compute/images/{}/file",
                self.base, self.node, image_id
            ))
            .header("authorization", format!("Bearer {token}"))
            .body(Empty::new())
            .map_err(|e| failed(e.to_string()))?;
            let res = tokio::time::timeout(HEADERS_TIMEOUT, self.http.request(req))
                .await
                .map_err(|_| failed("the controller did not answer".into()))?
                .map_err(|e| failed(e.to_string()))?;
            if res.status() != hyper::StatusCode::OK {
                return Err(failed(format!("the controller answered {}", res.status())));
            }
            let body = BodyDataStream::new(res.into_body()).map_err(std::io::Error::other);
            Ok(body.boxed())
        })
    }
}

/// Sends snapshots to the controller and connects consoles to it (the
/// `snapshot` and `open_console` commands).
#[derive(Clone)]
pub struct ControllerStreams {
    base: String,
    node: String,
    token: crate::NodeToken,
    http: hyper_util::client::legacy::Client<HttpConnector, UnsyncBoxBody<Bytes, std::io::Error>>,
}

impl std::fmt::Debug for ControllerStreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerStreams")
            .field("base", &self.base)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl ControllerStreams {
    /// For the agent `cfg` (its controller URL, node name and token).
    pub fn new(cfg: &crate::AgentConfig) -> ControllerStreams {
        ControllerStreams {
            base: cfg.controller.trim_end_matches('/').to_string(),
            node: cfg.node_name.clone(),
            token: cfg.token.clone(),
            http: hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Streams `snap` as the upload of command `command`; done when the
    /// controller has taken it all (204).
    pub async fn upload(&self, command: &str, snap: Snapshot) -> VirtResult<()> {
        let failed = |m: String| VirtError::Failed(format!("uploading the snapshot: {m}"));
        let token = self
            .token
            .get()
            .ok_or_else(|| failed("the agent is not registered".into()))?;
        let body = StreamBody::new(snap.data.map_ok(Frame::data));
        let req = hyper::Request::put(format!(
            "{}/internal/v1/nodes/{}/compute/snapshots/{}",
            self.base, self.node, command
        ))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/octet-stream")
        .header("x-disk-format", snap.disk_format)
        .header("x-container-format", snap.container_format)
        .body(UnsyncBoxBody::new(body))
        .map_err(|e| failed(e.to_string()))?;
        let res = self
            .http
            .request(req)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let status = res.status();
        if status == hyper::StatusCode::NO_CONTENT {
            return Ok(());
        }
        let text = match res.into_body().collect().await {
            Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
            Err(e) => e.to_string(),
        };
        Err(failed(format!("the controller answered {status}: {text}")))
    }

    /// Connects `console` (the guest's VNC server) to the controller for
    /// command `command`: once the controller upgrades the connection the
    /// bytes are relayed both ways in the background, until either side
    /// closes.
    pub async fn console_tunnel(&self, command: &str, console: ConsoleStream) -> VirtResult<()> {
        let failed = |m: String| VirtError::Failed(format!("connecting the console: {m}"));
        let token = self
            .token
            .get()
            .ok_or_else(|| failed("the agent is not registered".into()))?;
        let req = hyper::Request::get(format!(
            "{}/internal/v1/nodes/{}/compute/consoles/{}",
            self.base, self.node, command
        ))
        .header("authorization", format!("Bearer {token}"))
        .header("connection", "upgrade")
        .header("upgrade", compute::remote::internal::CONSOLE_PROTOCOL)
        .body(UnsyncBoxBody::new(Empty::new().map_err(|e| match e {})))
        .map_err(|e| failed(e.to_string()))?;
        let res = tokio::time::timeout(HEADERS_TIMEOUT, self.http.request(req))
            .await
            .map_err(|_| failed("the controller did not answer".into()))?
            .map_err(|e| failed(e.to_string()))?;
        let status = res.status();
        if status != hyper::StatusCode::SWITCHING_PROTOCOLS {
            return Err(failed(format!("the controller answered {status}")));
        }
        let upgraded = hyper::upgrade::on(res)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let command = command.to_string();
        tokio::spawn(async move {
            let mut tunnel = hyper_util::rt::TokioIo::new(upgraded);
            let mut console = console;
            match tokio::io::copy_bidirectional(&mut tunnel, &mut console).await {
                Ok((up, down)) => {
                    tracing::info!(%command, up, down, "console session ended");
                }
                Err(e) => tracing::info!(%command, error = %e, "console session ended"),
            }
        });
        Ok(())
    }
}

//! Image bytes between this host's driver and the controller's internal
//! API, with the node's token: images to boot from
//! (`GET /internal/v1/nodes/{name}/compute/images/{id}/file`;
//! `compute::remote::internal` says which images a node may read) and
//! snapshots going up (`PUT …/compute/snapshots/{command id}`). Bodies
//! are streamed through, never held whole.

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyDataStream, BodyExt, Empty, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;
use virt::{ImageFetcher, Snapshot, VirtError, VirtResult};

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

/// Sends snapshots to the controller (the `snapshot` command's upload).
#[derive(Clone)]
pub struct SnapshotUploader {
    base: String,
    node: String,
    token: crate::NodeToken,
    http: hyper_util::client::legacy::Client<HttpConnector, UnsyncBoxBody<Bytes, std::io::Error>>,
}

impl std::fmt::Debug for SnapshotUploader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotUploader")
            .field("base", &self.base)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl SnapshotUploader {
    /// For the agent `cfg` (its controller URL, node name and token).
    pub fn new(cfg: &crate::AgentConfig) -> SnapshotUploader {
        SnapshotUploader {
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
}

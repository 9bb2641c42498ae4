//! Image bytes for this host's driver, from the controller's internal API
//! (`GET /internal/v1/nodes/{name}/compute/images/{id}/file`, with the
//! node's token; `compute::remote::internal` says which images a node may
//! read). The body is streamed through, never held whole.

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use http_body_util::{BodyDataStream, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;
use virt::{ImageFetcher, VirtError, VirtResult};

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

//! The agent's side of the internal API: typed calls over plain HTTP/1.1,
//! each bounded by a timeout so a controller that vanished mid-request
//! cannot hang the loop.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::StatusCode;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use nodes::wire;
use std::time::Duration;

/// Timeout of every call but the long-poll (which gets its own wait on top).
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("controller unreachable: {0}")]
    Transport(String),
    #[error("controller answered {status}: {body}")]
    Status { status: StatusCode, body: String },
    #[error("controller sent an unreadable answer: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("the controller did not answer within {0:?}")]
    Timeout(Duration),
}

impl ClientError {
    /// The controller refused our credentials (re-register).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, ClientError::Status { status, .. } if *status == StatusCode::UNAUTHORIZED)
    }
}

pub struct Client {
    base: String,
    http: hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>,
}

impl Client {
    /// A client of the internal API at `base` (`http://host:port`).
    pub fn new(base: &str) -> std::io::Result<Client> {
        let base = base.trim_end_matches('/').to_string();
        if !base.starts_with("http://") {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("controller URL {base:?} must start with http://"),
            ));
        }
        Ok(Client {
            base,
            http: hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http(),
        })
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        bearer: &str,
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path))
            .header("authorization", format!("Bearer {bearer}"));
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let fut = async {
            let res = self
                .http
                .request(req)
                .await
                .map_err(|e| ClientError::Transport(e.to_string()))?;
            let status = res.status();
            let bytes = res
                .into_body()
                .collect()
                .await
                .map_err(|e| ClientError::Transport(e.to_string()))?
                .to_bytes();
            Ok((status, bytes))
        };
        tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| ClientError::Timeout(timeout))?
    }

    fn expect(status: StatusCode, body: &Bytes, want: &[StatusCode]) -> Result<(), ClientError> {
        if want.contains(&status) {
            Ok(())
        } else {
            Err(ClientError::Status {
                status,
                body: String::from_utf8_lossy(body).chars().take(500).collect(),
            })
        }
    }

    /// Registers this node; returns its new token.
    pub async fn register(&self, cfg: &crate::AgentConfig) -> Result<String, ClientError> {
        let body = serde_json::to_vec(&wire::RegisterRequest {
            hostname: cfg.hostname.clone(),
            address: cfg.address.clone(),
            roles: cfg.roles.clone(),
        })?;
        let (status, bytes) = self
            .call(
                "PUT",
                &format!("/internal/v1/nodes/{}", cfg.node_name),
                &cfg.secret,
                Some(body),
                CALL_TIMEOUT,
            )
            .await?;
        Self::expect(status, &bytes, &[StatusCode::CREATED, StatusCode::OK])?;
        let r: wire::RegisterResponse = serde_json::from_slice(&bytes)?;
        Ok(r.token)
    }

    pub async fn heartbeat(&self, name: &str, token: &str) -> Result<(), ClientError> {
        let (status, bytes) = self
            .call(
                "POST",
                &format!("/internal/v1/nodes/{name}/heartbeat"),
                token,
                None,
                CALL_TIMEOUT,
            )
            .await?;
        Self::expect(status, &bytes, &[StatusCode::NO_CONTENT])
    }

    /// The long-poll: `None` when nothing newer than `after` came within
    /// `wait`.
    pub async fn desired_state(
        &self,
        name: &str,
        token: &str,
        after: Option<i64>,
        wait: Duration,
    ) -> Result<Option<wire::DesiredState>, ClientError> {
        let path = match after {
            Some(a) => format!(
                "/internal/v1/nodes/{name}/desired-state?after={a}&timeout={}",
                wait.as_secs()
            ),
            None => format!("/internal/v1/nodes/{name}/desired-state"),
        };
        let (status, bytes) = self
            .call("GET", &path, token, None, wait + CALL_TIMEOUT)
            .await?;
        if status == StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        Self::expect(status, &bytes, &[StatusCode::OK])?;
        Ok(Some(serde_json::from_slice(&bytes)?))
    }

    pub async fn report_status(
        &self,
        name: &str,
        token: &str,
        report: &wire::StatusReport,
    ) -> Result<(), ClientError> {
        let (status, bytes) = self
            .call(
                "PUT",
                &format!("/internal/v1/nodes/{name}/status"),
                token,
                Some(serde_json::to_vec(report)?),
                CALL_TIMEOUT,
            )
            .await?;
        Self::expect(status, &bytes, &[StatusCode::NO_CONTENT])
    }
}

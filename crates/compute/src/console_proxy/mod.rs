//! The noVNC proxy (Nova's `nova-novncproxy`) on `[compute]
//! novncproxy_port` (6080): noVNC's static files from `[compute]
//! novnc_dir`, and the websocket noVNC opens (`/?token=…` or
//! `/websockify?token=…`, `binary` subprotocol) relayed to the guest's VNC
//! server through `VirtDriver::open_console`.
//!
//! The token is checked before the upgrade: an unknown or expired one is
//! a plain 403 ("Invalid Token"), as websockify's token plugin answers.
//! The websocket comes from axum's `ws` feature (tokio-tungstenite
//! underneath); the proxy is served by `axum::serve`, which keeps the
//! connection upgradable.

mod files;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use virt::{ConsoleStream, VirtResult};

/// What the proxy needs of compute: a token's server, and a stream to
/// that server's VNC console.
pub trait ConsoleBackend: Send + Sync + 'static {
    /// The server an unexpired token opens, if any.
    fn server_of_token<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, common::Result<Option<String>>>;
    /// The guest's VNC byte stream.
    fn open<'a>(&'a self, server: &'a str) -> BoxFuture<'a, VirtResult<ConsoleStream>>;
}

impl ConsoleBackend for crate::Compute {
    fn server_of_token<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, common::Result<Option<String>>> {
        Box::pin(async move {
            Ok(self
                .check_console_token(token)
                .await?
                .filter(|t| t.console_type == crate::app::consoles::NOVNC)
                .map(|t| t.instance_uuid))
        })
    }

    fn open<'a>(&'a self, server: &'a str) -> BoxFuture<'a, VirtResult<ConsoleStream>> {
        self.virt.open_console(server)
    }
}

struct Proxy {
    backend: Arc<dyn ConsoleBackend>,
    novnc_dir: PathBuf,
}

/// The proxy's routes: every GET is a websocket (with a token) or a file.
pub fn router(backend: Arc<dyn ConsoleBackend>, novnc_dir: PathBuf) -> Router {
    Router::new()
        .fallback(handle)
        .with_state(Arc::new(Proxy { backend, novnc_dir }))
}

/// Serves the proxy on `listener` until `stop`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    backend: Arc<dyn ConsoleBackend>,
    novnc_dir: PathBuf,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(backend, novnc_dir))
        .with_graceful_shutdown(stop)
        .await
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn handle(
    State(p): State<Arc<Proxy>>,
    method: axum::http::Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    if method != axum::http::Method::GET && method != axum::http::Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    }
    let is_ws_path = matches!(uri.path(), "/" | "/websockify");
    let wants_ws = ws.is_ok() || (is_ws_path && q.contains_key("token"));
    if !wants_ws {
        return files::serve(&p.novnc_dir, uri.path()).await;
    }
    // As nova-novncproxy: the query's token, else the `token` cookie.
    let token = q
        .get("token")
        .filter(|t| !t.is_empty())
        .cloned()
        .or_else(|| cookie_token(&headers))
        .unwrap_or_default();
    let token = token.as_str();
    let server = match p.backend.server_of_token(token).await {
        Ok(Some(s)) => s,
        Ok(None) => return plain(StatusCode::FORBIDDEN, "Invalid Token"),
        Err(e) => {
            tracing::warn!(error = %e, "console proxy: token check failed");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "Token check failed");
        }
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let backend = p.backend.clone();
    ws.protocols(["binary"])
        .on_upgrade(move |socket| async move {
            match backend.open(&server).await {
                Ok(stream) => relay(socket, stream).await,
                Err(e) => close(socket, 1011, &e.to_string()).await,
            }
        })
        .into_response()
}

/// The `token` cookie, if any.
fn cookie_token(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == "token").then(|| v.to_string())
        })
}

/// Closes `socket` with `code` and `reason` (cut to the 123 bytes a close
/// frame holds).
async fn close(mut socket: WebSocket, code: u16, reason: &str) {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let frame = CloseFrame {
        code,
        reason: reason[..end].into(),
    };
    // The client may already be gone; nothing is left to tell it then.
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// Copies websocket frames to the guest's VNC stream and its bytes back
/// as binary frames, until either side closes; the other is then closed.
pub async fn relay(socket: WebSocket, vnc: ConsoleStream) {
    let (mut ws_tx, mut ws_rx) = socket.split();
    let (mut from_guest, mut to_guest) = tokio::io::split(vnc);
    let upstream = async {
        while let Some(Ok(msg)) = ws_rx.next().await {
            let data = match msg {
                Message::Binary(b) => b,
                Message::Text(t) => axum::body::Bytes::copy_from_slice(t.as_str().as_bytes()),
                Message::Close(_) => break,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            if to_guest.write_all(&data).await.is_err() {
                break;
            }
        }
        // Tells the guest's side the client is gone.
        let _ = to_guest.shutdown().await;
    };
    let downstream = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from_guest.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let frame = Message::Binary(axum::body::Bytes::copy_from_slice(&buf[..n]));
                    if ws_tx.send(frame).await.is_err() {
                        return;
                    }
                }
            }
        }
        let frame = CloseFrame {
            code: 1000,
            reason: "The guest's console closed".into(),
        };
        let _ = ws_tx.send(Message::Close(Some(frame))).await;
    };
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
    }
}

#[cfg(test)]
mod tests;

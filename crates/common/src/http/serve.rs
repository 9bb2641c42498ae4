//! Binding and serving a router: HTTP/1.1 connections with a header read
//! timeout and header limits, the peer address as `ConnectInfo`, and a
//! graceful shutdown.
//!
//! axum's own `serve` offers none of hyper's connection settings, so each
//! accepted connection is driven here with hyper's http1 builder:
//! - a client that sends half a header, or nothing, is cut off after
//!   `header_read_timeout` (hyper arms it whenever it waits for a request
//!   head, so it is also how long an idle keep-alive connection stays);
//! - hyper's own head limits sit above ours ([`HYPER_MAX_HEADERS`],
//!   [`HYPER_MAX_HEAD_BYTES`]) so that a request over the limits the
//!   services advertise ([`MAX_HEADER_LINE`], [`MAX_HEADER_COUNT`]) reaches
//!   [`header_limits`] and gets a 431 in the service's own error body.
//!   Beyond hyper's limits, and for heads hyper cannot parse (a malformed
//!   request line, a bad `Content-Length`), hyper answers by itself with an
//!   empty-bodied 431 or 400 and closes the connection: no service code
//!   runs for a request that never became one.

use crate::error::Error;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

/// Largest header line (`name: value`) a service accepts, in bytes:
/// Swift's `max_header_size` (advertised in `/info`), and what Apache's
/// `LimitRequestFieldSize` gives Keystone and Glance.
pub const MAX_HEADER_LINE: usize = 8192;
/// Most headers a request may carry: Swift's default header count
/// (`MAX_META_COUNT` 90 plus 36 for its own and HTTP's headers).
pub const MAX_HEADER_COUNT: usize = 126;
/// hyper's own ceiling on the number of headers, above [`MAX_HEADER_COUNT`].
pub const HYPER_MAX_HEADERS: usize = 256;
/// hyper's own ceiling on a request head in bytes, above what
/// [`MAX_HEADER_LINE`] × [`MAX_HEADER_COUNT`] allows in practice.
pub const HYPER_MAX_HEAD_BYTES: usize = 256 * 1024;

/// Connection settings.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// Time a client has to send a whole request head.
    pub header_read_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

/// Binds `addr`, naming the address in the error (a port already in use is
/// the usual reason a start fails).
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

/// [`serve_with`] with the default options.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, shutdown, ServeOptions::default()).await
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting and lets requests in flight finish (the caller bounds how
/// long it waits).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    opts: ServeOptions,
) -> std::io::Result<()> {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout)
        .max_headers(HYPER_MAX_HEADERS)
        .max_header_size(HYPER_MAX_HEAD_BYTES);
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let mut conns = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead
                    // of spinning; the listener itself stays usable.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        while conns.try_join_next().is_some() {}
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        // The peer address rides along as `ConnectInfo` (the object store's
        // temp URLs may be limited to an address range).
        let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            tower::ServiceExt::oneshot(router.clone(), req.map(axum::body::Body::new))
        });
        let conn = builder.serve_connection(TokioIo::new(stream), svc);
        let mut closing = closing_rx.clone();
        conns.spawn(async move {
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(%peer, error = %e, "connection ended");
                    }
                }
                // The watch guard must not live across the await below.
                () = async { let _ = closing.wait_for(|c| *c).await; } => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    while conns.join_next().await.is_some() {}
    Ok(())
}

/// Middleware: a request over the advertised header limits gets 431
/// (Request Header Fields Too Large) in the service's error body.
pub async fn header_limits(req: Request, next: Next) -> Response {
    let headers = req.headers();
    if headers.len() > MAX_HEADER_COUNT {
        return Error::HeaderFieldsTooLarge(format!(
            "Too many headers: {} (at most {MAX_HEADER_COUNT}).",
            headers.len()
        ))
        .into_response();
    }
    // `name: value` as it came on the wire.
    if let Some((name, _)) = headers
        .iter()
        .find(|(n, v)| n.as_str().len() + 2 + v.len() > MAX_HEADER_LINE)
    {
        return Error::HeaderFieldsTooLarge(format!(
            "Header line too long: {name} (at most {MAX_HEADER_LINE} bytes)."
        ))
        .into_response();
    }
    next.run(req).await
}

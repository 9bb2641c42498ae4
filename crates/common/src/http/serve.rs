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
//!   runs for a request that never became one. [`ErrorBodies`] wraps the
//!   connection and gives exactly those responses (recognised by their
//!   whole head: nothing but `connection: close`, `content-length: 0` and
//!   `date`, which no service response is) the service's error body.

use crate::error::Error;
use crate::http::errors::{RenderError, Renderer};
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
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
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Time a client has to send a whole request head.
    pub header_read_timeout: Duration,
    /// The service's error renderer, for the responses hyper writes itself.
    pub renderer: Renderer,
}

impl ServeOptions {
    /// The defaults (a 10 s header read timeout) with `renderer`.
    pub fn new(renderer: Renderer) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            renderer,
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

/// [`serve_with`] with the default options and `renderer`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    renderer: Renderer,
) -> std::io::Result<()> {
    serve_with(listener, router, shutdown, ServeOptions::new(renderer)).await
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
        let io = ErrorBodies {
            inner: TokioIo::new(stream),
            renderer: opts.renderer.clone(),
            pending: Vec::new(),
        };
        // Upgradable: the internal API hands compute nodes' console
        // tunnels over (`compute::remote::internal`).
        let conn = builder.serve_connection(io, svc).with_upgrades();
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
        return Error::header_fields_too_large(format!(
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
        return Error::header_fields_too_large(format!(
            "Header line too long: {name} (at most {MAX_HEADER_LINE} bytes)."
        ))
        .into_response();
    }
    next.run(req).await
}

/// The connection's IO with hyper's own error responses given a body.
///
/// A refusal is written alone (no body follows), in one `poll_write` or as
/// the slices of one `poll_write_vectored`, so a whole small write is
/// compared with the only heads hyper writes for requests it refused; the
/// replacement is queued and reported written, then drained before any
/// flush or shutdown completes. Vectored writes pass through as the inner
/// IO does them, so large bodies keep hyper's zero-copy path.
struct ErrorBodies<T> {
    inner: T,
    renderer: Renderer,
    /// Replacement bytes not yet written to `inner`.
    pending: Vec<u8>,
}

impl<T> ErrorBodies<T>
where
    T: hyper::rt::Write + Unpin,
{
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while !self.pending.is_empty() {
            let n = match Pin::new(&mut self.inner).poll_write(cx, &self.pending) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: hyper::rt::Read + Unpin> hyper::rt::Read for ErrorBodies<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: hyper::rt::Write + Unpin> hyper::rt::Write for ErrorBodies<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        match this.drain(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        if let Some(replacement) =
            hyper_refusal(buf).map(|s| refusal(this.renderer.as_ref(), s, buf))
        {
            this.pending = replacement;
            // Reported written whole; `drain` finishes it before any flush.
            let _ = this.drain(cx);
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        match this.drain(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total <= MAX_REFUSAL_LEN {
            let whole: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            if let Some(status) = hyper_refusal(&whole) {
                this.pending = refusal(this.renderer.as_ref(), status, &whole);
                let _ = this.drain(cx);
                return Poll::Ready(Ok(total));
            }
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        match this.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        match this.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

/// Longer than any head [`hyper_refusal`] recognises.
const MAX_REFUSAL_LEN: usize = 160;

/// The status of a response head hyper wrote for a request it refused:
/// `HTTP/1.1 400 Bad Request` or `431 Request Header Fields Too Large`
/// with exactly `connection: close`, `content-length: 0` and `date`.
fn hyper_refusal(buf: &[u8]) -> Option<axum::http::StatusCode> {
    use axum::http::StatusCode;
    // Most writes are not refusals: decide those without allocating.
    if buf.len() > MAX_REFUSAL_LEN || !buf.starts_with(b"HTTP/1.1 4") {
        return None;
    }
    for status in [
        StatusCode::BAD_REQUEST,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
    ] {
        let head = format!(
            "HTTP/1.1 {} {}\r\nconnection: close\r\ncontent-length: 0\r\ndate: ",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        if let Some(rest) = buf.strip_prefix(head.as_bytes()) {
            // An HTTP date is 29 bytes, then the blank line.
            if rest.len() == 29 + 4 && rest.ends_with(b"\r\n\r\n") {
                return Some(status);
            }
        }
    }
    None
}

/// The same refusal with the service's error body (the standard
/// explanation of its status: no request ever reached the service).
fn refusal(renderer: &dyn RenderError, status: axum::http::StatusCode, original: &[u8]) -> Vec<u8> {
    let reply = renderer.render(&Error::from_status(status, ""));
    let (content_type, body) = (reply.content_type, reply.body);
    // Keep hyper's date line as it wrote it.
    let date = original
        .windows(6)
        .position(|w| w == b"date: ")
        .map(|i| &original[i..original.len() - 2])
        .unwrap_or(b"\r\n");
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nconnection: close\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_own_refusals_are_rewritten() {
        let hyper400 = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: Sun, 06 Dec 2026 20:09:10 GMT\r\n\r\n";
        assert_eq!(
            hyper_refusal(hyper400),
            Some(axum::http::StatusCode::BAD_REQUEST)
        );
        let ours = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\nx-openstack-request-id: req-1\r\ndate: Sun, 06 Dec 2026 20:09:10 GMT\r\n\r\n";
        assert_eq!(hyper_refusal(ours), None);
        #[derive(Debug)]
        struct Html;
        impl RenderError for Html {
            fn render(&self, err: &Error) -> crate::http::errors::ErrorReply {
                crate::http::errors::ErrorReply {
                    status: err.status(),
                    content_type: "text/html; charset=UTF-8",
                    body: format!("<html><h1>Bad Request</h1><p>{err}</p></html>"),
                    headers: Vec::new(),
                }
            }
        }
        let out = refusal(&Html, axum::http::StatusCode::BAD_REQUEST, hyper400);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-type: text/html; charset=UTF-8\r\ncontent-length: "), "{text}");
        assert!(
            text.contains(
                "\r\ndate: Sun, 06 Dec 2026 20:09:10 GMT\r\n\r\n<html><h1>Bad Request</h1>"
            ),
            "{text}"
        );
    }
}

//! The Swift v1 HTTP API: routing by path depth (Swift's paths are
//! `/v1/<account>[/<container>[/<object>]]`, the object part holding any
//! number of slashes, and methods include `COPY`, so one dispatcher splits
//! the path as Swift does instead of a route table), resolving the caller
//! (temp URL, token or anonymous), and rendering replies: headers,
//! streamed object data, and Swift's error bodies.

pub mod accounts;
pub mod bulk;
pub mod containers;
pub mod cors;
pub mod errors;
pub mod info;
pub mod listing;
pub mod objects;
pub mod openapi;
pub mod reply;

pub use openapi::openapi;

use crate::app::{read, ObjectStore, Request, SwiftError};
use crate::names;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use common::http::QueryMap;
use futures_util::StreamExt;
use reply::{Reply, ReplyBody};
use std::net::SocketAddr;
use std::sync::Arc;

pub type Store = State<Arc<ObjectStore>>;

/// The whole Swift API, with the shared layers applied. Request bodies
/// are not limited here: object data streams to disk, and the few bodies
/// read whole (SLO manifests, bulk deletes) have their own limits.
pub fn router(store: Arc<ObjectStore>, max_body: usize) -> Router {
    let r = Router::new()
        .route("/info", get(info::info))
        .route("/healthcheck", get(info::healthcheck))
        .fallback(dispatch)
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            store.clone(),
            cors::cors,
        ))
        .with_state(store.clone());
    // Swift answers every request, errors and 401s included, with its
    // transaction id as both `X-Trans-Id` and `X-Openstack-Request-Id`;
    // the outermost shared layer sets both, so nothing escapes without.
    let ids = common::http::request_id::IdForm::Swift(store.clock.clone());
    common::http::service_layers_with_ids(r, Arc::new(errors::Swift), max_body, ids)
}

/// The request body as the operations consume it.
fn body_stream(body: Body) -> crate::app::write::BodyStream {
    body.into_data_stream()
        .map(|r| r.map_err(std::io::Error::other))
        .boxed()
}

/// Every `/v1/…` request.
async fn dispatch(State(store): Store, req: axum::extract::Request) -> Response {
    let result = if matches!(*req.method(), Method::GET | Method::HEAD) {
        route(store, req).await
    } else {
        // Writes run in their own task: a client that goes away drops
        // this handler, but a write must not stop between committing its
        // row and keeping its file (or removing the old one).
        tokio::spawn(route(store, req))
            .await
            .unwrap_or_else(|e| Err(SwiftError::internal(format!("request task: {e}"))))
    };
    match result {
        Ok(reply) => render(reply).await,
        Err(e) => e.into_response(),
    }
}

async fn route(store: Arc<ObjectStore>, req: axum::extract::Request) -> Result<Reply, SwiftError> {
    let (parts, body) = req.into_parts();
    let path = names::parse(parts.uri.path())?;
    let query = QueryMap::parse(parts.uri.query().unwrap_or(""));
    let remote = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let (caller, temp_url) = match store
        .temp_url_caller(&parts.method, &path, &query, &parts.headers, remote)
        .await?
    {
        Some((c, t)) => (c, Some(t)),
        None => (
            store
                .caller_from_token(
                    common::auth::token_of(&parts.headers),
                    parts.method.as_str(),
                    parts.uri.path(),
                )
                .await?,
            None,
        ),
    };
    let req = Request {
        method: parts.method,
        path,
        headers: parts.headers,
        query,
        caller,
        temp_url,
    };
    let body = body_stream(body);
    if req.method == Method::PUT && req.query.has("extract-archive") {
        return bulk::extract(&store, &req, body).await;
    }
    match (req.path.container.is_some(), req.path.object.is_some()) {
        (false, _) => accounts::handle(&store, &req, body).await,
        (true, false) => containers::handle(&store, &req).await,
        (true, true) => objects::handle(&store, &req, body).await,
    }
}

/// 405 for a method a resource does not have.
pub fn method_not_allowed() -> SwiftError {
    SwiftError::method_not_allowed()
}

/// Renders a reply: small object bodies are read whole, larger ones
/// stream from disk a chunk at a time.
pub async fn render(reply: Reply) -> Response {
    let Reply {
        status,
        headers,
        body,
        length,
    } = reply;
    let (body, len) = match body {
        ReplyBody::Empty => (Body::empty(), length.unwrap_or(0)),
        ReplyBody::Bytes(b) => {
            let n = b.len() as u64;
            (Body::from(b), length.unwrap_or(n))
        }
        ReplyBody::Pieces(pieces) => {
            let total = read::total_len(&pieces);
            if total <= read::SMALL_BODY {
                match read::read_all(pieces).await {
                    Ok(b) => (Body::from(b), total),
                    Err(e) => {
                        return SwiftError::internal(format!("object read: {e}")).into_response()
                    }
                }
            } else {
                let rx = read::spawn_reader(pieces);
                let stream = common::datafile::into_stream(rx);
                (Body::from_stream(stream), total)
            }
        }
    };
    let mut res = Response::new(body);
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    // A reply with an error status already carries Swift's body (a 416
    // page, SLO problem lists) and always a Content-Type (below), so the
    // shared error layer leaves it be.
    if status != StatusCode::NO_CONTENT && status != StatusCode::NOT_MODIFIED {
        res.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    } else {
        res.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    }
    if !res.headers().contains_key(header::CONTENT_TYPE) {
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=UTF-8"),
        );
    }
    res
}

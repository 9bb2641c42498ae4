//! HTTP glue every service shares: error bodies, request ids, strict JSON
//! input, query strings, pagination links, serving with a clean shutdown,
//! and what every OpenAPI document shares.

pub mod errors;
pub mod fields;
pub mod json;
pub mod openapi;
pub mod pagination;
pub mod query;
pub mod request_id;
pub mod serve;

pub use errors::{ErrorReply, RenderError, Renderer};
pub use fields::Fields;
pub use json::JsonBody;
pub use pagination::{Page, PageParams};
pub use query::QueryMap;
pub use request_id::RequestId;

use axum::http::HeaderMap;

/// `scheme://host[:port]` the client used to reach us, for links in
/// responses (Keystone builds `links.self` from the request URL too).
pub fn request_base(headers: &HeaderMap, fallback: &str) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https" || *p == "http")
        .unwrap_or("http");
    match host {
        Some(h) if !h.is_empty() && !h.contains(['/', ' ', '"']) => format!("{proto}://{h}"),
        _ => fallback.to_string(),
    }
}

/// The request's base URL (see [`request_base`]) as an extractor.
#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for BaseUrl {
    type Rejection = crate::Error;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, crate::Error> {
        Ok(BaseUrl(request_base(&parts.headers, "http://localhost")))
    }
}

/// Applies the layers every service router gets, outermost last: the
/// request body limit, the header limits, error rendering with the
/// service's renderer, request ids and the access log.
pub fn service_layers<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
    renderer: Renderer,
    max_body: usize,
) -> axum::Router<S> {
    service_layers_with_ids(router, renderer, max_body, request_id::IdForm::Openstack)
}

/// [`service_layers`] with request ids in `ids`' form.
pub fn service_layers_with_ids<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
    renderer: Renderer,
    max_body: usize,
    ids: request_id::IdForm,
) -> axum::Router<S> {
    router
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(serve::header_limits))
        .layer(axum::middleware::from_fn_with_state(
            renderer,
            errors::render_errors,
        ))
        .layer(axum::middleware::from_fn_with_state(
            ids,
            request_id::request_id_in,
        ))
}

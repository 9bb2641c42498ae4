//! CORS on the wire ([`crate::app::cors`] decides): preflight `OPTIONS`
//! answered before authentication and routing, and the CORS headers added
//! to the responses of container and object requests that carry `Origin`.

use super::Store;
use crate::app::cors::{self, Preflight};
use crate::names;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Middleware on every Swift request.
pub async fn cors(State(store): Store, req: Request, next: Next) -> Response {
    // Only `/v1/…` paths Swift would route; anything else (or a path that
    // does not parse, which the dispatcher answers) passes untouched.
    let Ok(path) = names::parse(req.uri().path()) else {
        return next.run(req).await;
    };
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if req.method() == Method::OPTIONS {
        // Owned copies: a borrowed request may not be held across awaits
        // (its body is not `Sync`).
        let asked = {
            let h = |name: &str| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            (
                h("access-control-request-method"),
                h("access-control-request-headers"),
            )
        };
        return preflight(&store, &path, origin.as_deref(), asked).await;
    }
    let (Some(origin), Some(container)) = (origin, path.container.as_deref()) else {
        return next.run(req).await;
    };
    // Read before the request runs, as Swift does: a DELETE of the
    // container still answers with its CORS headers.
    let info = match store.cors_info(&path.account, container).await {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    let mut res = next.run(req).await;
    cors::decorate(&store.settings.cors, &info, &origin, res.headers_mut());
    res
}

async fn preflight(
    store: &crate::app::ObjectStore,
    path: &names::SwiftPath,
    origin: Option<&str>,
    (request_method, request_headers): (Option<String>, Option<String>),
) -> Response {
    let methods = match (&path.container, &path.object) {
        (None, _) => cors::ACCOUNT_METHODS,
        (Some(_), None) => cors::CONTAINER_METHODS,
        (Some(_), Some(_)) => cors::OBJECT_METHODS,
    };
    let info = match (&path.container, origin) {
        (Some(c), Some(_)) => match store.cors_info(&path.account, c).await {
            Ok(i) => Some(i),
            Err(e) => return e.into_response(),
        },
        _ => None,
    };
    let answer = cors::preflight(
        &store.settings.cors,
        info.as_ref(),
        methods,
        origin,
        request_method.as_deref(),
        request_headers.as_deref(),
    );
    let mut res = match &answer {
        Preflight::Denied => {
            let mut r = common::http::RenderError::render(
                &super::errors::Swift,
                &common::Error::unauthorized(""),
            )
            .into_response();
            // Swift's preflight refusal is the proxy's own, not an auth
            // middleware's challenge.
            r.headers_mut().remove(header::WWW_AUTHENTICATE);
            r
        }
        _ => {
            let mut r = StatusCode::OK.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=UTF-8"),
            );
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            r
        }
    };
    if let Ok(v) = HeaderValue::from_str(&methods.join(", ")) {
        res.headers_mut().insert(header::ALLOW, v);
    }
    if let Preflight::Allowed(headers) = answer {
        for (name, value) in headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                res.headers_mut().insert(name, v);
            }
        }
    }
    res
}

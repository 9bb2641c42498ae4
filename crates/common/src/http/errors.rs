//! Where an [`Error`] becomes a service's own OpenStack error response.
//!
//! Handlers return `Result<_, Error>`; `Error`'s `IntoResponse` leaves the
//! error in the response's extensions and [`render_errors`], a middleware on
//! every service router, asks the service's [`RenderError`] for the status
//! and body. Each service crate supplies its renderer (Keystone's, Glance's
//! and Swift's bodies live beside their APIs), so `common` knows no
//! service by name. The same middleware gives axum's own answers (unknown
//! method, bad path or query parameters) the service's body, and
//! [`crate::http::serve`] asks the same renderer for the requests hyper
//! refuses itself, so no response escapes in another shape.

use crate::error::{Error, ErrorKind};
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use std::sync::Arc;

/// A rendered error: what a service answers for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: String,
    /// Headers beyond `Content-Type` (`WWW-Authenticate` on a 401).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ErrorReply {
    /// A JSON body.
    pub fn json(status: StatusCode, body: &serde_json::Value) -> ErrorReply {
        ErrorReply {
            status,
            content_type: "application/json",
            body: body.to_string(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: HeaderName, value: &'static str) -> ErrorReply {
        self.headers.push((name, HeaderValue::from_static(value)));
        self
    }
}

impl IntoResponse for ErrorReply {
    fn into_response(self) -> Response {
        let mut r = (self.status, self.body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        for (k, v) in self.headers {
            r.headers_mut().insert(k, v);
        }
        r
    }
}

/// How one service spells its errors: the status (a quota is 413 in
/// Glance and Swift, 403 in Nova, 409 in Neutron) and the body, from the
/// error's kind, message and upstream fault name.
pub trait RenderError: Send + Sync + std::fmt::Debug + 'static {
    fn render(&self, err: &Error) -> ErrorReply;
}

/// A service's renderer, as the shared layers hold it.
pub type Renderer = Arc<dyn RenderError>;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut r = self.status().into_response();
        r.extensions_mut().insert(self);
        r
    }
}

/// Renders `err` with `renderer`, logging an internal error's detail
/// (which no renderer shows).
pub fn render(renderer: &dyn RenderError, err: &Error) -> Response {
    if err.kind() == ErrorKind::Internal {
        tracing::error!(detail = %err, "internal error");
    }
    renderer.render(err).into_response()
}

/// Middleware: gives every error response the service's body.
///
/// An `Error` left in the response's extensions is rendered, keeping the
/// headers the handler set. A response without one is the service's own
/// (a Swift reply with a 416 page, an SLO problem list) and passes
/// through, unless it is one axum wrote: no `Content-Type`, or axum's
/// `text/plain; charset=utf-8` rejection text, whose words become the
/// message.
pub async fn render_errors(State(renderer): State<Renderer>, req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if let Some(err) = res.extensions().get::<Error>() {
        return with_headers_of(render(renderer.as_ref(), err), &res);
    }
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || !written_by_axum(&res) {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = match http_body_util::Limited::new(body, 64 * 1024)
        .collect()
        .await
    {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).trim().to_string(),
        Err(_) => String::new(),
    };
    let err = from_status(parts.status, text);
    let mut out = render(renderer.as_ref(), &err);
    for (k, v) in parts.headers.iter() {
        if k == header::ALLOW {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

/// axum's rejections and router answers: plain text in axum's spelling,
/// or no body type at all (a 405 from the method router).
fn written_by_axum(res: &Response) -> bool {
    match res.headers().get(header::CONTENT_TYPE) {
        None => true,
        Some(v) => v.as_bytes() == b"text/plain; charset=utf-8",
    }
}

fn with_headers_of(mut rendered: Response, original: &Response) -> Response {
    for (k, v) in original.headers() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            rendered.headers_mut().insert(k.clone(), v.clone());
        }
    }
    rendered
}

/// The error an axum answer stands for; its text is kept as the message
/// (the status's reason when it has none), except for 404 and 405, whose
/// standard wording every service uses.
fn from_status(status: StatusCode, text: String) -> Error {
    let msg = if text.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_string()
    } else {
        text
    };
    match status {
        StatusCode::UNPROCESSABLE_ENTITY => Error::bad_request(msg),
        StatusCode::NOT_FOUND => Error::not_found("The resource could not be found."),
        StatusCode::METHOD_NOT_ALLOWED => Error::method_not_allowed(),
        s => Error::from_status(s, msg),
    }
}

/// Fallback handler for URLs no route matches.
pub async fn not_found() -> Error {
    Error::not_found("The resource could not be found.")
}

#[cfg(test)]
mod tests {
    //! Bodies of services not written yet, to show the API carries them.
    use super::*;
    use serde_json::json;

    /// Nova: `{"itemNotFound": {"code": 404, "message": …}}`, the fault
    /// name as the key; quotas are 403.
    #[derive(Debug)]
    struct Nova;
    impl RenderError for Nova {
        fn render(&self, err: &Error) -> ErrorReply {
            let status = match err.kind() {
                ErrorKind::OverQuota => StatusCode::FORBIDDEN,
                k => k.status(),
            };
            let fault = err.fault().unwrap_or(match status.as_u16() {
                404 => "itemNotFound",
                400 => "badRequest",
                403 => "forbidden",
                409 => "conflictingRequest",
                _ => "computeFault",
            });
            ErrorReply::json(
                status,
                &json!({fault: {"code": status.as_u16(), "message": err.public_message()}}),
            )
        }
    }

    /// Neutron: `{"NeutronError": {"type", "message", "detail"}}`; quotas
    /// are 409.
    #[derive(Debug)]
    struct Neutron;
    impl RenderError for Neutron {
        fn render(&self, err: &Error) -> ErrorReply {
            let status = match err.kind() {
                ErrorKind::OverQuota => StatusCode::CONFLICT,
                k => k.status(),
            };
            ErrorReply::json(
                status,
                &json!({"NeutronError": {
                    "type": err.fault().unwrap_or("NeutronException"),
                    "message": err.public_message(),
                    "detail": "",
                }}),
            )
        }
    }

    async fn body(r: Response) -> (StatusCode, serde_json::Value) {
        let status = r.status();
        let b = r.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&b).unwrap())
    }

    #[tokio::test]
    async fn nova_and_neutron_bodies_are_expressible() {
        let e = Error::not_found("Instance i1 could not be found.");
        let (s, v) = body(render(&Nova, &e)).await;
        assert_eq!(s, 404);
        assert_eq!(
            v,
            json!({"itemNotFound": {"code": 404, "message": "Instance i1 could not be found."}})
        );
        let (s, v) = body(render(
            &Nova,
            &Error::over_quota("Quota exceeded for cores"),
        ))
        .await;
        assert_eq!(s, 403);
        assert_eq!(v["forbidden"]["code"], 403);

        let e = Error::not_found("Network n1 could not be found.").with_fault("NetworkNotFound");
        let (s, v) = body(render(&Neutron, &e)).await;
        assert_eq!(s, 404);
        assert_eq!(
            v,
            json!({"NeutronError": {"type": "NetworkNotFound", "message": "Network n1 could not be found.", "detail": ""}})
        );
        let e =
            Error::over_quota("Quota exceeded for resources: ['port'].").with_fault("OverQuota");
        let (s, v) = body(render(&Neutron, &e)).await;
        assert_eq!(s, 409);
        assert_eq!(v["NeutronError"]["type"], "OverQuota");
    }

    #[tokio::test]
    async fn the_middleware_renders_errors_and_axums_answers_only() {
        use axum::routing::get;
        let renderer: Renderer = Arc::new(Neutron);
        let app =
            axum::Router::new()
                .route(
                    "/e",
                    get(|| async { Error::not_found("gone").with_fault("PortNotFound") }),
                )
                .route(
                    "/own",
                    get(|| async {
                        (
                            StatusCode::RANGE_NOT_SATISFIABLE,
                            [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
                            "<html>own</html>",
                        )
                    }),
                )
                .route(
                    "/n/{id}",
                    get(
                        |axum::extract::Path(id): axum::extract::Path<u32>| async move {
                            id.to_string()
                        },
                    ),
                )
                .layer(axum::middleware::from_fn_with_state(
                    renderer,
                    render_errors,
                ));
        let call = |uri: &'static str, method: &'static str| {
            let app = app.clone();
            async move {
                let req = Request::builder()
                    .method(method)
                    .uri(uri)
                    .body(axum::body::Body::empty())
                    .unwrap();
                tower::ServiceExt::oneshot(app, req).await.unwrap()
            }
        };
        let (s, v) = body(call("/e", "GET").await).await;
        assert_eq!(s, 404);
        assert_eq!(v["NeutronError"]["type"], "PortNotFound");
        let r = call("/own", "GET").await;
        assert_eq!(r.status(), 416);
        let b = r.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&b[..], b"<html>own</html>");
        let (s, v) = body(call("/n/x", "GET").await).await;
        assert_eq!(s, 400);
        assert_eq!(v["NeutronError"]["type"], "NeutronException");
        let r = call("/e", "POST").await;
        assert_eq!(r.status(), 405);
        assert!(r.headers().contains_key(header::ALLOW));
    }
}

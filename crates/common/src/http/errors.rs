//! The one place an [`Error`] becomes a service's own OpenStack error body.
//!
//! Handlers return `Result<_, Error>`; `Error`'s `IntoResponse` leaves the
//! error in the response's extensions and [`render_errors`], a middleware on
//! every service router, writes the body in that service's style. The same
//! middleware gives axum's own rejections (unknown method, bad path or
//! query parameters) the service's body, so no response escapes as plain
//! text.

use crate::error::Error;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde_json::json;

/// How a service spells its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStyle {
    /// `{"error": {"code": 404, "title": "Not Found", "message": "…"}}`
    Keystone,
    /// Glance's webob bodies: `{"message": "…<br /><br />\n\n\n",
    /// "code": "404 Not Found", "title": "Not Found"}`; a 401 comes from
    /// keystonemiddleware in front of Glance and so keeps Keystone's body.
    Glance,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut r = self.status().into_response();
        r.extensions_mut().insert(self);
        r
    }
}

/// Renders `err` in `style`.
pub fn render(style: ErrorStyle, err: &Error) -> Response {
    let status = err.status();
    if let Error::Internal(detail) = err {
        tracing::error!(%detail, "internal error");
    }
    match style {
        ErrorStyle::Keystone => {
            let title = match status {
                StatusCode::PAYLOAD_TOO_LARGE => "Request Entity Too Large",
                s => s.canonical_reason().unwrap_or("Error"),
            };
            let body = json!({"error": {
                "code": status.as_u16(),
                "title": title,
                "message": err.public_message(),
            }});
            let mut r = (status, axum::Json(body)).into_response();
            if status == StatusCode::UNAUTHORIZED {
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Keystone uri=\"/v3\""),
                );
            }
            r
        }
        ErrorStyle::Glance if status == StatusCode::UNAUTHORIZED => {
            render(ErrorStyle::Keystone, err)
        }
        ErrorStyle::Glance => (
            status,
            axum::Json(glance_body(status, &err.public_message())),
        )
            .into_response(),
    }
}

/// Glance's error body for `status` (webob's JSON formatter: the message is
/// the `explanation<br /><br />\ndetail\ncomment\n` template with an empty
/// detail and comment). Public so the image service can answer statuses
/// [`Error`] has no variant for (410, 416) in the same shape.
pub fn glance_body(status: StatusCode, message: &str) -> serde_json::Value {
    let title = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "Request Entity Too Large",
        StatusCode::RANGE_NOT_SATISFIABLE => "Requested Range Not Satisfiable",
        s => s.canonical_reason().unwrap_or("Error"),
    };
    json!({
        "message": format!("{message}<br /><br />\n\n\n"),
        "code": format!("{} {title}", status.as_u16()),
        "title": title,
    })
}

/// Middleware: gives every error response the service's body.
pub async fn render_errors(State(style): State<ErrorStyle>, req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if let Some(err) = res.extensions().get::<Error>() {
        return with_headers_of(render(style, err), &res);
    }
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return res;
    }
    // An axum rejection or router response: plain text (or nothing) whose
    // words we keep as the message.
    let (parts, body) = res.into_parts();
    let text = match http_body_util::Limited::new(body, 64 * 1024)
        .collect()
        .await
    {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).trim().to_string(),
        Err(_) => String::new(),
    };
    let err = from_status(parts.status, text);
    let mut out = render(style, &err);
    for (k, v) in parts.headers.iter() {
        if k == header::ALLOW {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

fn with_headers_of(mut rendered: Response, original: &Response) -> Response {
    for (k, v) in original.headers() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            rendered.headers_mut().insert(k.clone(), v.clone());
        }
    }
    rendered
}

fn from_status(status: StatusCode, text: String) -> Error {
    let msg = if text.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_string()
    } else {
        text
    };
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => Error::BadRequest(msg),
        StatusCode::UNAUTHORIZED => Error::Unauthorized(msg),
        StatusCode::FORBIDDEN => Error::Forbidden(msg),
        StatusCode::NOT_FOUND => Error::NotFound("The resource could not be found.".into()),
        StatusCode::METHOD_NOT_ALLOWED => Error::MethodNotAllowed,
        StatusCode::CONFLICT => Error::Conflict(msg),
        StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge(msg),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Error::UnsupportedMediaType(msg),
        StatusCode::SERVICE_UNAVAILABLE => Error::Unavailable(msg),
        _ => Error::Internal(msg),
    }
}

/// Fallback handler for URLs no route matches.
pub async fn not_found() -> Error {
    Error::NotFound("The resource could not be found.".into())
}

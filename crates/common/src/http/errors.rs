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
    /// Swift's swob bodies: HTML with the status's standard explanation
    /// (`<html><h1>Not Found</h1><p>The resource could not be
    /// found.</p></html>`), or the specific reason as plain text where
    /// Swift gives one (`Missing Content-Length header.`).
    Swift,
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
        ErrorStyle::Swift => swift_error(status, swift_reason(err).as_deref()),
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

/// Marks a response whose error body a service wrote itself (in its own
/// style, for a status [`Error`] has no variant for), so [`render_errors`]
/// passes it through.
#[derive(Debug, Clone, Copy)]
pub struct Rendered;

/// The specific reason Swift would put in the body for `err`, if any: its
/// 400s and 413s say what was wrong; its 401, 403, 404, 409 and 5xx give
/// only the standard explanation.
fn swift_reason(err: &Error) -> Option<String> {
    match err {
        Error::BadRequest(m)
        | Error::PayloadTooLarge(m)
        | Error::OverQuota(m)
        | Error::HeaderFieldsTooLarge(m)
            if !m.is_empty() =>
        {
            Some(m.clone())
        }
        _ => None,
    }
}

/// A Swift error response for `status`: `reason` as plain text, or swob's
/// HTML page with the status's standard explanation. Public so the object
/// store can answer statuses [`Error`] has no variant for (411, 412, 416,
/// 422) in the same shape.
pub fn swift_error(status: StatusCode, reason: Option<&str>) -> Response {
    let (content_type, body) = match reason {
        Some(r) => ("text/plain; charset=UTF-8", r.to_string()),
        None => {
            let (title, explanation) = swift_explanation(status);
            (
                "text/html; charset=UTF-8",
                format!("<html><h1>{title}</h1><p>{explanation}</p></html>"),
            )
        }
    };
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Swift realm=\"unknown\""),
        );
    }
    r.extensions_mut().insert(Rendered);
    r
}

/// swob's `RESPONSE_REASONS`: title and explanation of each status.
fn swift_explanation(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        202 => ("Accepted", "The request is accepted for processing."),
        400 => ("Bad Request", "The server could not comply with the request since it is either malformed or otherwise incorrect."),
        401 => ("Unauthorized", "This server could not verify that you are authorized to access the document you requested."),
        403 => ("Forbidden", "Access was denied to this resource."),
        404 => ("Not Found", "The resource could not be found."),
        405 => ("Method Not Allowed", "The method is not allowed for this resource."),
        406 => ("Not Acceptable", "The resource is not available in a format acceptable to your browser."),
        408 => ("Request Timeout", "The server has waited too long for the request to be sent by the client."),
        409 => ("Conflict", "There was a conflict when trying to complete your request."),
        411 => ("Length Required", "Content-Length header required."),
        412 => ("Precondition Failed", "A precondition for this request was not met."),
        413 => ("Request Entity Too Large", "The body of your request was too large for this server."),
        414 => ("Request URI Too Long", "The request URI was too long for this server."),
        415 => ("Unsupported Media Type", "The request media type is not supported by this server."),
        416 => ("Requested Range Not Satisfiable", "The Range requested is not available."),
        422 => ("Unprocessable Entity", "Unable to process the contained instructions"),
        499 => ("Client Disconnect", "The client was disconnected during request."),
        501 => ("Not Implemented", "The requested method is not implemented by this server."),
        503 => ("Service Unavailable", "The server is currently unavailable. Please try again at a later time."),
        s if s >= 500 => ("Internal Error", "The server has either erred or is incapable of performing the requested operation."),
        _ => (status.canonical_reason().unwrap_or("Error"), ""),
    }
}

/// Middleware: gives every error response the service's body.
pub async fn render_errors(State(style): State<ErrorStyle>, req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if let Some(err) = res.extensions().get::<Error>() {
        return with_headers_of(render(style, err), &res);
    }
    if res.extensions().get::<Rendered>().is_some() {
        return res;
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

#[cfg(test)]
mod swift_tests {
    use super::*;

    async fn body_of(r: Response) -> String {
        let b = r.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8_lossy(&b).into_owned()
    }

    #[tokio::test]
    async fn swift_bodies_are_swobs() {
        let r = render(ErrorStyle::Swift, &Error::not_found("x"));
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert!(r.extensions().get::<Rendered>().is_some());
        assert_eq!(
            body_of(r).await,
            "<html><h1>Not Found</h1><p>The resource could not be found.</p></html>"
        );
        let r = render(ErrorStyle::Swift, &Error::bad_request("No content type"));
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/plain; charset=UTF-8"
        );
        assert_eq!(body_of(r).await, "No content type");
        let r = swift_error(StatusCode::RANGE_NOT_SATISFIABLE, None);
        assert_eq!(
            body_of(r).await,
            "<html><h1>Requested Range Not Satisfiable</h1><p>The Range requested is not available.</p></html>"
        );
        let r = render(ErrorStyle::Swift, &Error::unauthorized("who?"));
        assert!(r.headers().contains_key(header::WWW_AUTHENTICATE));
    }
}

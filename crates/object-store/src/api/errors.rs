//! Swift's error bodies (swob's): the specific reason as plain text where
//! Swift gives one (`Missing Content-Length header.`), otherwise an HTML
//! page with the status's standard explanation (`<html><h1>Not
//! Found</h1><p>The resource could not be found.</p></html>`).

use axum::http::{header, StatusCode};
use common::http::{ErrorReply, RenderError};
use common::{Error, ErrorKind};

/// Renders [`Error`]s as Swift does.
#[derive(Debug, Clone, Copy, Default)]
pub struct Swift;

impl RenderError for Swift {
    fn render(&self, err: &Error) -> ErrorReply {
        let status = err.status();
        let reply = match reason(err) {
            Some(r) => ErrorReply {
                status,
                content_type: "text/plain; charset=UTF-8",
                body: r.to_string(),
                headers: Vec::new(),
            },
            None => {
                let (title, explanation) = explanation(status);
                ErrorReply {
                    status,
                    content_type: "text/html; charset=UTF-8",
                    body: format!("<html><h1>{title}</h1><p>{explanation}</p></html>"),
                    headers: Vec::new(),
                }
            }
        };
        if status == StatusCode::UNAUTHORIZED {
            reply.with_header(header::WWW_AUTHENTICATE, "Swift realm=\"unknown\"")
        } else {
            reply
        }
    }
}

/// The specific reason Swift puts in the body, if any: the kinds whose
/// swob responses carry one (a 400, 413 or 412 says what was wrong, and
/// so do the proxy's few 401, 405 and 411 with a body) and only when the
/// error has a message; a 403, 404, 409 or 5xx gives only the standard
/// explanation.
fn reason(err: &Error) -> Option<&str> {
    let speaks = matches!(
        err.kind(),
        ErrorKind::BadRequest
            | ErrorKind::PayloadTooLarge
            | ErrorKind::OverQuota
            | ErrorKind::HeaderFieldsTooLarge
            | ErrorKind::PreconditionFailed
            | ErrorKind::LengthRequired
            | ErrorKind::MethodNotAllowed
            | ErrorKind::Unauthorized
    );
    (speaks && !err.message().is_empty()).then(|| err.message())
}

/// swob's `RESPONSE_REASONS`: title and explanation of each status.
fn explanation(status: StatusCode) -> (&'static str, &'static str) {
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
        // Not swob's (its proxy has no such answer): ours for the heads
        // hyper refuses.
        431 => ("Request Header Fields Too Large", "The request's header fields are too large."),
        499 => ("Client Disconnect", "The client was disconnected during request."),
        501 => ("Not Implemented", "The requested method is not implemented by this server."),
        503 => ("Service Unavailable", "The server is currently unavailable. Please try again at a later time."),
        s if s >= 500 => ("Internal Error", "The server has either erred or is incapable of performing the requested operation."),
        _ => (status.canonical_reason().unwrap_or("Error"), ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swift_bodies_are_swobs() {
        let r = Swift.render(&Error::not_found("x"));
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.content_type, "text/html; charset=UTF-8");
        assert_eq!(
            r.body,
            "<html><h1>Not Found</h1><p>The resource could not be found.</p></html>"
        );
        let r = Swift.render(&Error::bad_request("No content type"));
        assert_eq!(r.content_type, "text/plain; charset=UTF-8");
        assert_eq!(r.body, "No content type");
        let r = Swift.render(&Error::range_not_satisfiable(""));
        assert_eq!(
            r.body,
            "<html><h1>Requested Range Not Satisfiable</h1><p>The Range requested is not available.</p></html>"
        );
        let r = Swift.render(&Error::length_required("Missing Content-Length header."));
        assert_eq!(
            (r.status.as_u16(), r.body.as_str()),
            (411, "Missing Content-Length header.")
        );
        let r = Swift.render(&Error::precondition_failed(""));
        assert!(r
            .body
            .contains("A precondition for this request was not met."));
        let r = Swift.render(&Error::client_disconnected(""));
        assert_eq!(r.status.as_u16(), 499);
        let r = Swift.render(&Error::unauthorized(""));
        assert!(r.headers.iter().any(|(k, _)| k == header::WWW_AUTHENTICATE));
        assert!(r.body.starts_with("<html><h1>Unauthorized</h1>"));
        let r = Swift.render(&Error::unauthorized("401 Unauthorized: Temp URL invalid\n"));
        assert_eq!(r.body, "401 Unauthorized: Temp URL invalid\n");
        // Quotas are 413 with the reason, as Swift's quota middleware says.
        let r = Swift.render(&Error::over_quota("Upload exceeds quota."));
        assert_eq!(
            (r.status.as_u16(), r.body.as_str()),
            (413, "Upload exceeds quota.")
        );
        // Swift has no fault names; one given changes nothing.
        let r = Swift.render(&Error::conflict("busy").with_fault("Conflict"));
        assert_eq!(r.status, 409);
        assert!(r.body.starts_with("<html><h1>Conflict</h1>"));
    }
}

//! Keystone's error body: `{"error": {"code": 404, "title": "Not Found",
//! "message": "…"}}`, and `WWW-Authenticate: Keystone uri="/v3"` on a 401.

use super::{ErrorBody, ErrorDetail};
use axum::http::{header, StatusCode};
use common::http::{ErrorReply, RenderError};
use common::Error;

/// Renders [`Error`]s as Keystone does.
#[derive(Debug, Clone, Copy, Default)]
pub struct Keystone;

impl RenderError for Keystone {
    fn render(&self, err: &Error) -> ErrorReply {
        let status = err.status();
        let title = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "Request Entity Too Large",
            s => s.canonical_reason().unwrap_or("Error"),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: status.as_u16(),
                title: title.to_string(),
                message: err.public_message(),
            },
        };
        // Strings and a number: serialising it cannot fail.
        let reply = ErrorReply::json(status, &serde_json::to_value(&body).unwrap_or_default());
        if status == StatusCode::UNAUTHORIZED {
            reply.with_header(header::WWW_AUTHENTICATE, "Keystone uri=\"/v3\"")
        } else {
            reply
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(r: &ErrorReply) -> serde_json::Value {
        serde_json::from_str(&r.body).unwrap()
    }

    #[test]
    fn keystone_bodies() {
        let r = Keystone.render(&Error::not_found("Could not find user: u1."));
        assert_eq!(r.status, 404);
        assert_eq!(r.content_type, "application/json");
        assert_eq!(
            body(&r),
            json!({"error": {"code": 404, "title": "Not Found", "message": "Could not find user: u1."}})
        );
        let r = Keystone.render(&Error::unauthorized(
            "The request you have made requires authentication.",
        ));
        assert_eq!(r.status, 401);
        assert!(r
            .headers
            .iter()
            .any(|(k, v)| k == header::WWW_AUTHENTICATE && v == "Keystone uri=\"/v3\""));
        // Keystone has no fault names; a fault given is not shown.
        let r = Keystone.render(&Error::conflict("Duplicate entry.").with_fault("Conflict"));
        assert_eq!(body(&r)["error"]["title"], "Conflict");
        assert_eq!(body(&r)["error"]["message"], "Duplicate entry.");
        let r = Keystone.render(&Error::over_quota("Too many."));
        assert_eq!(r.status, 413);
        assert_eq!(body(&r)["error"]["title"], "Request Entity Too Large");
        let r = Keystone.render(&Error::internal("secret detail"));
        assert_eq!(r.status, 500);
        assert!(!r.body.contains("secret"));
    }
}

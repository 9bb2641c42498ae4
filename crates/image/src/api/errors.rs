//! Glance's error body (webob's JSON formatter): `{"message":
//! "…<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found"}`.
//! A 401 comes from keystonemiddleware in front of Glance and so has
//! Keystone's body and `WWW-Authenticate` header.

use axum::http::{header, StatusCode};
use common::http::{ErrorReply, RenderError};
use common::Error;
use serde_json::json;

/// Renders [`Error`]s as Glance does.
#[derive(Debug, Clone, Copy, Default)]
pub struct Glance;

impl RenderError for Glance {
    fn render(&self, err: &Error) -> ErrorReply {
        let status = err.status();
        if status == StatusCode::UNAUTHORIZED {
            return ErrorReply::json(
                status,
                &json!({"error": {
                    "code": status.as_u16(),
                    "title": "Unauthorized",
                    "message": err.public_message(),
                }}),
            )
            .with_header(header::WWW_AUTHENTICATE, "Keystone uri=\"/v3\"");
        }
        // webob's titles where they differ from the status's reason.
        let title = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "Request Entity Too Large",
            StatusCode::RANGE_NOT_SATISFIABLE => "Requested Range Not Satisfiable",
            s => s.canonical_reason().unwrap_or("Error"),
        };
        // The message is webob's `explanation<br /><br />\ndetail\ncomment\n`
        // with an empty detail and comment.
        ErrorReply::json(
            status,
            &json!({
                "message": format!("{}<br /><br />\n\n\n", err.public_message()),
                "code": format!("{} {title}", status.as_u16()),
                "title": title,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &ErrorReply) -> serde_json::Value {
        serde_json::from_str(&r.body).unwrap()
    }

    #[test]
    fn glance_bodies() {
        let r = Glance.render(&Error::not_found("No image found with ID x"));
        assert_eq!(r.status, 404);
        assert_eq!(
            body(&r),
            json!({"message": "No image found with ID x<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found"})
        );
        let r = Glance.render(&Error::over_quota("Maximum number of images exceeded"));
        assert_eq!(r.status, 413);
        assert_eq!(body(&r)["code"], "413 Request Entity Too Large");
        let r = Glance.render(&Error::gone("Image x could not be found after upload."));
        assert_eq!(r.status, 410);
        assert_eq!(body(&r)["title"], "Gone");
        let r = Glance.render(&Error::range_not_satisfiable(
            "Requested range not satisfiable",
        ));
        assert_eq!(body(&r)["code"], "416 Requested Range Not Satisfiable");
        // Glance has no fault names: the body is the same with one.
        let e = Error::conflict("Image x is in use").with_fault("Conflict");
        assert_eq!(
            body(&Glance.render(&e))["message"],
            "Image x is in use<br /><br />\n\n\n"
        );
        let r = Glance.render(&Error::unauthorized(
            "The request you have made requires authentication.",
        ));
        assert_eq!(body(&r)["error"]["code"], 401);
        assert!(r.headers.iter().any(|(k, _)| k == header::WWW_AUTHENTICATE));
    }
}

//! Nova's error body: `{"itemNotFound": {"code": 404, "message": "…"}}`,
//! the key being the fault name webob's status maps to in
//! `nova.api.openstack.wsgi.Fault` (`badRequest`, `forbidden`,
//! `itemNotFound`, `conflictingRequest`, `overLimit`, …, else
//! `computeFault`). Quota errors are 403 `forbidden`, as Nova raises
//! `HTTPForbidden` for `OverQuota`. A 401 comes from keystonemiddleware in
//! front of Nova, so it has Keystone's body and `WWW-Authenticate` header.

use axum::http::{header, StatusCode};
use common::http::{ErrorReply, RenderError};
use common::{Error, ErrorKind};
use serde_json::json;

/// Renders [`Error`]s as Nova does.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nova;

/// The fault of Nova's 501 (`HTTPNotImplemented`), which has no
/// [`ErrorKind`]: see [`not_implemented`].
pub const NOT_IMPLEMENTED: &str = "notImplemented";

/// Nova's 501 `notImplemented`, e.g. `raise_feature_not_supported`.
pub fn not_implemented(msg: impl Into<String>) -> Error {
    let msg: String = msg.into();
    Error::new(ErrorKind::Internal, msg).with_fault(NOT_IMPLEMENTED)
}

/// `nova.api.openstack.wsgi.Fault._fault_names`.
fn fault_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        409 => "conflictingRequest",
        413 | 429 => "overLimit",
        415 => "badMediaType",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "computeFault",
    }
}

impl RenderError for Nova {
    fn render(&self, err: &Error) -> ErrorReply {
        let status = match err.kind() {
            ErrorKind::OverQuota => StatusCode::FORBIDDEN,
            _ if err.fault() == Some(NOT_IMPLEMENTED) => StatusCode::NOT_IMPLEMENTED,
            k => k.status(),
        };
        // A controller's own 401 (`HTTPUnauthorized`, which names its
        // fault) is Nova's fault body; a token's is keystonemiddleware's.
        if status == StatusCode::UNAUTHORIZED && err.fault().is_none() {
            return ErrorReply::json(
                status,
                &json!({"error": {
                    "code": 401,
                    "title": "Unauthorized",
                    "message": err.public_message(),
                }}),
            )
            .with_header(header::WWW_AUTHENTICATE, "Keystone uri=\"/v3\"");
        }
        // Nova's faults are keyed by status; an error naming its own fault
        // (`overLimit` on a 403 quota error) keeps it.
        let key = err.fault().unwrap_or(fault_name(status));
        let message = if status == StatusCode::NOT_IMPLEMENTED {
            err.message().to_string()
        } else if err.kind() == ErrorKind::Internal {
            "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and \
             attach the Nova API log if possible."
                .to_string()
        } else {
            err.public_message()
        };
        ErrorReply::json(
            status,
            &json!({key: {"code": status.as_u16(), "message": message}}),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn body(r: &ErrorReply) -> serde_json::Value {
        serde_json::from_str(&r.body).unwrap()
    }

    #[test]
    fn faults_are_keyed_by_status() {
        let r = Nova.render(&Error::not_found("Flavor 42 could not be found."));
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(
            body(&r),
            json!({"itemNotFound": {"code": 404, "message": "Flavor 42 could not be found."}})
        );
        let r = Nova.render(&Error::conflict("locked"));
        assert_eq!(body(&r)["conflictingRequest"]["code"], 409);
        let r = Nova.render(&Error::not_acceptable("Version 3.0 is not supported"));
        assert_eq!(body(&r)["computeFault"]["code"], 406);
    }

    #[test]
    fn quotas_are_403_and_401_is_keystones() {
        let r = Nova.render(&Error::over_quota("Quota exceeded for instances"));
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(body(&r)["forbidden"]["code"], 403);
        let r = Nova.render(&Error::unauthorized(
            "The request you have made requires authentication.",
        ));
        assert_eq!(body(&r)["error"]["code"], 401);
    }

    #[test]
    fn not_implemented_is_501_with_its_message() {
        let r = Nova.render(&not_implemented(
            "The requested functionality is not supported.",
        ));
        assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);
        assert_eq!(
            body(&r),
            json!({"notImplemented": {"code": 501,
                   "message": "The requested functionality is not supported."}})
        );
    }

    #[test]
    fn internal_errors_hide_their_detail() {
        let r = Nova.render(&Error::internal("db exploded at row 7"));
        let b = body(&r);
        assert_eq!(b["computeFault"]["code"], 500);
        assert!(!b.to_string().contains("row 7"));
    }
}

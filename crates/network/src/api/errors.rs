//! Neutron's error body: `{"NeutronError": {"type": "NetworkNotFound",
//! "message": "Network x could not be found.", "detail": ""}}`, the type
//! being the name of the neutron-lib exception (or of webob's HTTP
//! exception when Neutron raises one of those); quotas are 409
//! `OverQuota`. A 401 comes from keystonemiddleware in front of Neutron and
//! so has Keystone's body and `WWW-Authenticate` header.

use axum::http::{header, StatusCode};
use common::http::{ErrorReply, RenderError};
use common::{Error, ErrorKind};
use serde_json::json;

/// Renders [`Error`]s as Neutron does.
#[derive(Debug, Clone, Copy, Default)]
pub struct Neutron;

/// webob's exception class for a status, Neutron's `type` when the error
/// names no neutron-lib exception.
fn webob_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "HTTPBadRequest",
        403 => "HTTPForbidden",
        404 => "HTTPNotFound",
        405 => "HTTPMethodNotAllowed",
        406 => "HTTPNotAcceptable",
        409 => "HTTPConflict",
        411 => "HTTPLengthRequired",
        412 => "HTTPPreconditionFailed",
        413 => "HTTPRequestEntityTooLarge",
        415 => "HTTPUnsupportedMediaType",
        431 => "HTTPRequestHeaderFieldsTooLarge",
        503 => "HTTPServiceUnavailable",
        _ => "HTTPInternalServerError",
    }
}

impl RenderError for Neutron {
    fn render(&self, err: &Error) -> ErrorReply {
        let status = match err.kind() {
            ErrorKind::OverQuota => StatusCode::CONFLICT,
            k => k.status(),
        };
        if status == StatusCode::UNAUTHORIZED {
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
        let fault = match (err.kind(), err.fault()) {
            (_, Some(f)) => f,
            (ErrorKind::OverQuota, None) => "OverQuota",
            (_, None) => webob_type(status),
        };
        let message = if err.kind() == ErrorKind::Internal {
            "Request Failed: internal server error while processing your request.".to_string()
        } else {
            err.public_message()
        };
        ErrorReply::json(
            status,
            &json!({"NeutronError": {"type": fault, "message": message, "detail": ""}}),
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
    fn neutron_bodies() {
        let e = Error::not_found("Network n1 could not be found.").with_fault("NetworkNotFound");
        let r = Neutron.render(&e);
        assert_eq!(r.status, 404);
        assert_eq!(
            body(&r),
            json!({"NeutronError": {"type": "NetworkNotFound",
                "message": "Network n1 could not be found.", "detail": ""}})
        );
        // Quotas are a conflict, named OverQuota even without a fault.
        let r = Neutron.render(&Error::over_quota(
            "Quota exceeded for resources: ['port'].",
        ));
        assert_eq!(r.status, 409);
        assert_eq!(body(&r)["NeutronError"]["type"], "OverQuota");
        // Without a fault name, webob's class for the status.
        let r = Neutron.render(&Error::bad_request("Unrecognized attribute(s) 'x'"));
        assert_eq!(r.status, 400);
        assert_eq!(body(&r)["NeutronError"]["type"], "HTTPBadRequest");
        assert_eq!(
            body(&Neutron.render(&Error::not_found("")))["NeutronError"]["type"],
            "HTTPNotFound"
        );
        let r = Neutron.render(
            &Error::conflict("No more IP addresses available on network n.")
                .with_fault("IpAddressGenerationFailure"),
        );
        assert_eq!(r.status, 409);
        assert_eq!(
            body(&r)["NeutronError"]["type"],
            "IpAddressGenerationFailure"
        );
        // Internal details stay in the log.
        let r = Neutron.render(&Error::internal("disk on fire"));
        assert_eq!(r.status, 500);
        assert!(!r.body.contains("fire"));
        let r = Neutron.render(&Error::unauthorized(
            "The request you have made requires authentication.",
        ));
        assert_eq!(r.status, 401);
        assert_eq!(body(&r)["error"]["code"], 401);
        assert!(r.headers.iter().any(|(k, _)| k == header::WWW_AUTHENTICATE));
    }
}

//! The one error type every layer returns; it says what went wrong (its
//! [`ErrorKind`], a message, and optionally the upstream fault type name
//! a service's clients know it by, such as Neutron's `NetworkNotFound`),
//! not how a particular OpenStack service spells it: each service's
//! [`crate::http::errors::RenderError`] turns it into that service's own
//! status and body.

use axum::http::StatusCode;
use std::borrow::Cow;

/// What went wrong, in terms every OpenStack service shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    BadRequest,
    /// Authentication is missing or failed.
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    NotAcceptable,
    /// The client took too long to send its request (Swift's 408).
    RequestTimeout,
    Conflict,
    Gone,
    LengthRequired,
    PreconditionFailed,
    PayloadTooLarge,
    UnsupportedMediaType,
    RangeNotSatisfiable,
    UnprocessableEntity,
    /// A header line or the number of headers over the limit (431).
    HeaderFieldsTooLarge,
    /// The client went away before the request was read (Swift's 499).
    ClientDisconnected,
    /// A quota would be exceeded; the status is the renderer's choice
    /// (Glance and Swift 413, Nova 403, Neutron 409).
    OverQuota,
    Unavailable,
    Internal,
}

impl ErrorKind {
    /// The status most services give this kind ([`ErrorKind::OverQuota`]:
    /// 413); a renderer may choose another.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ErrorKind::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Gone => StatusCode::GONE,
            ErrorKind::LengthRequired => StatusCode::LENGTH_REQUIRED,
            ErrorKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ErrorKind::PayloadTooLarge | ErrorKind::OverQuota => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
            ErrorKind::UnprocessableEntity => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::HeaderFieldsTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            // nginx's and swob's "client closed request"; the constant is
            // in range, so the fallback is never taken.
            ErrorKind::ClientDisconnected => {
                StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST)
            }
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The kind a bare status stands for (an axum rejection, a refusal
    /// hyper wrote); statuses no kind has are internal errors.
    pub fn from_status(status: StatusCode) -> ErrorKind {
        match status.as_u16() {
            400 => ErrorKind::BadRequest,
            401 => ErrorKind::Unauthorized,
            403 => ErrorKind::Forbidden,
            404 => ErrorKind::NotFound,
            405 => ErrorKind::MethodNotAllowed,
            406 => ErrorKind::NotAcceptable,
            408 => ErrorKind::RequestTimeout,
            409 => ErrorKind::Conflict,
            410 => ErrorKind::Gone,
            411 => ErrorKind::LengthRequired,
            412 => ErrorKind::PreconditionFailed,
            413 => ErrorKind::PayloadTooLarge,
            415 => ErrorKind::UnsupportedMediaType,
            416 => ErrorKind::RangeNotSatisfiable,
            422 => ErrorKind::UnprocessableEntity,
            431 => ErrorKind::HeaderFieldsTooLarge,
            499 => ErrorKind::ClientDisconnected,
            503 => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        }
    }
}

/// A failure: its kind, the message for the client (empty: the kind's
/// standard explanation, see [`Error::public_message`]), and the upstream
/// fault type name, when the service has one for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    fault: Option<Cow<'static, str>>,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.message.is_empty() {
            f.write_str(standard_message(self.kind))
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a client is told for an error built without a message.
fn standard_message(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::BadRequest => "The server could not comply with the request since it is either malformed or otherwise incorrect.",
        ErrorKind::MethodNotAllowed => "The request method is not allowed for this resource.",
        ErrorKind::NotFound => "The resource could not be found.",
        ErrorKind::HeaderFieldsTooLarge => "The request's header fields are too large.",
        ErrorKind::Internal => INTERNAL_MESSAGE,
        other => other.status().canonical_reason().unwrap_or("Error"),
    }
}

const INTERNAL_MESSAGE: &str =
    "An unexpected error prevented the server from fulfilling your request.";

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            fault: None,
        }
    }

    /// An error of the kind `status` stands for (see [`ErrorKind::from_status`]).
    pub fn from_status(status: StatusCode, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::from_status(status), message)
    }

    /// Names the upstream fault type (`NetworkNotFound`,
    /// `IpAddressGenerationFailure`, `itemNotFound`) for renderers that
    /// put one in the body.
    pub fn with_fault(mut self, fault: impl Into<Cow<'static, str>>) -> Self {
        self.fault = Some(fault.into());
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message as given (empty when the error was built without one).
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn fault(&self) -> Option<&str> {
        self.fault.as_deref()
    }

    /// The status most services give this error; the service's renderer
    /// decides the one sent.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The message safe to show a client: internal details stay in the
    /// log, and an error built without a message gets its kind's
    /// standard explanation.
    pub fn public_message(&self) -> String {
        match self.kind {
            ErrorKind::Internal => INTERNAL_MESSAGE.into(),
            _ => self.to_string(),
        }
    }

    pub fn bad_request(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::BadRequest, msg)
    }
    pub fn unauthorized(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unauthorized, msg)
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Forbidden, msg)
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::NotFound, msg)
    }
    /// 405 with the standard explanation.
    pub fn method_not_allowed() -> Self {
        Error::new(ErrorKind::MethodNotAllowed, "")
    }
    pub fn not_acceptable(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::NotAcceptable, msg)
    }
    pub fn request_timeout(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::RequestTimeout, msg)
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Conflict, msg)
    }
    pub fn gone(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Gone, msg)
    }
    pub fn length_required(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::LengthRequired, msg)
    }
    pub fn precondition_failed(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::PreconditionFailed, msg)
    }
    pub fn payload_too_large(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::PayloadTooLarge, msg)
    }
    pub fn unsupported_media_type(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::UnsupportedMediaType, msg)
    }
    pub fn range_not_satisfiable(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::RangeNotSatisfiable, msg)
    }
    pub fn unprocessable_entity(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::UnprocessableEntity, msg)
    }
    pub fn header_fields_too_large(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::HeaderFieldsTooLarge, msg)
    }
    pub fn client_disconnected(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::ClientDisconnected, msg)
    }
    pub fn over_quota(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::OverQuota, msg)
    }
    pub fn unavailable(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unavailable, msg)
    }
    /// The detail goes to the log, never to the client.
    pub fn internal(msg: impl std::fmt::Display) -> Self {
        Error::new(ErrorKind::Internal, msg.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::internal(format!("json: {e}"))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::internal(format!("io: {e}"))
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => Error::not_found("The resource could not be found."),
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                Error::conflict("Conflict occurred attempting to store the resource: a duplicate entry exists.")
            }
            sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
                Error::conflict("Conflict occurred attempting to store the resource: it refers to, or is referred to by, another resource.")
            }
            sqlx::Error::PoolTimedOut => Error::unavailable("The database is busy; try again."),
            _ => Error::internal(format!("database: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_messages_and_faults() {
        let e = Error::not_found("Network n1 could not be found.").with_fault("NetworkNotFound");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        assert_eq!(e.fault(), Some("NetworkNotFound"));
        assert_eq!(e.public_message(), "Network n1 could not be found.");
        let e = Error::internal("disk on fire");
        assert_eq!(e.to_string(), "disk on fire");
        assert!(!e.public_message().contains("fire"));
        assert_eq!(
            Error::method_not_allowed().public_message(),
            "The request method is not allowed for this resource."
        );
        for k in [
            ErrorKind::Gone,
            ErrorKind::LengthRequired,
            ErrorKind::PreconditionFailed,
            ErrorKind::RangeNotSatisfiable,
            ErrorKind::UnprocessableEntity,
            ErrorKind::ClientDisconnected,
        ] {
            assert_eq!(ErrorKind::from_status(k.status()), k);
        }
        assert_eq!(ErrorKind::ClientDisconnected.status().as_u16(), 499);
    }
}

//! The one error type every layer returns; it says what went wrong, not how a
//! particular OpenStack service spells it. [`crate::http::errors`] turns it
//! into the service's own body.

use axum::http::StatusCode;

/// What went wrong, in terms every OpenStack service shares.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("{0}")]
    BadRequest(String),
    /// Authentication is missing or failed.
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("The request method is not allowed for this resource.")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A header line or the number of headers over the limit (431).
    #[error("{0}")]
    HeaderFieldsTooLarge(String),
    /// A quota would be exceeded (413 in most services, 403 in some).
    #[error("{0}")]
    OverQuota(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Error::BadRequest(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Error::NotFound(msg.into())
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        Error::Conflict(msg.into())
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Error::Forbidden(msg.into())
    }
    pub fn unauthorized(msg: impl Into<String>) -> Self {
        Error::Unauthorized(msg.into())
    }
    pub fn internal(msg: impl std::fmt::Display) -> Self {
        Error::Internal(msg.to_string())
    }

    /// The HTTP status every service uses for this kind of failure.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::PayloadTooLarge(_) | Error::OverQuota(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::HeaderFieldsTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message safe to show a client: internal details stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal(_) => {
                "An unexpected error prevented the server from fulfilling your request.".into()
            }
            other => other.to_string(),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Internal(format!("json: {e}"))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Internal(format!("io: {e}"))
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => Error::NotFound("The resource could not be found.".into()),
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                Error::Conflict("Conflict occurred attempting to store the resource: a duplicate entry exists.".into())
            }
            sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
                Error::Conflict("Conflict occurred attempting to store the resource: it refers to, or is referred to by, another resource.".into())
            }
            sqlx::Error::PoolTimedOut => Error::Unavailable("The database is busy; try again.".into()),
            _ => Error::Internal(format!("database: {e}")),
        }
    }
}

//! Swift's rules: who may do what ([`auth`], [`acl`], [`tempurl`]), what
//! a request may say ([`meta`]), and the operations on accounts,
//! containers and objects, with large objects, quotas, versioned writes,
//! bulk delete, archive upload and expiry.
//!
//! Handlers hand an [`Request`] in and get a [`Reply`] back: Swift is
//! mostly headers, so a reply is a status, headers and a body that may
//! stream file data ([`read::Piece`]s) rather than JSON.

pub mod accounts;
pub mod acl;
pub mod auth;
pub mod bulk;
pub mod containers;
pub mod cors;
pub mod expirer;
pub mod extract;
pub mod info;
pub mod large;
pub mod listing;
pub mod meta;
pub mod objects;
pub mod quota;
pub mod read;
pub mod tempurl;
pub mod versions;
pub mod write;

use crate::config::ObjectStoreConfig;
use crate::names::{PathError, SwiftPath};
use crate::store::DataStore;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use bytes::Bytes;
use common::clock::SharedClock;
use common::http::QueryMap;
use common::Error;
use std::sync::Arc;
use std::time::Duration;

pub use auth::{Access, Caller};

/// What the configuration says about the object store.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Lowercase role names.
    pub operator_roles: Vec<String>,
    pub reader_roles: Vec<String>,
    pub reseller_admin_role: String,
    pub max_file_size: u64,
    pub expirer_interval: Duration,
    pub max_containers_per_extraction: usize,
    pub max_failed_extractions: usize,
    pub cors: cors::CorsSettings,
}

impl Settings {
    pub fn from_config(c: &ObjectStoreConfig) -> Settings {
        let lower = |v: &[String]| v.iter().map(|r| r.to_ascii_lowercase()).collect();
        Settings {
            operator_roles: lower(&c.operator_roles),
            reader_roles: lower(&c.reader_roles),
            reseller_admin_role: c.reseller_admin_role.to_ascii_lowercase(),
            max_file_size: c.max_file_size,
            expirer_interval: Duration::from_secs(c.expirer_interval),
            max_containers_per_extraction: c.max_containers_per_extraction,
            max_failed_extractions: c.max_failed_extractions,
            cors: cors::CorsSettings {
                allow_origin: c.cors_allow_origin.clone(),
                expose_headers: c
                    .cors_expose_headers
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect(),
                strict: c.strict_cors_mode,
            },
        }
    }
}

/// The object store service.
pub struct ObjectStore {
    pub db: db::Db,
    pub data: DataStore,
    pub clock: SharedClock,
    pub validator: Arc<dyn common::auth::TokenValidator>,
    pub settings: Settings,
}

impl std::fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStore")
            .field("data", &self.data)
            .field("settings", &self.settings)
            .finish()
    }
}

impl ObjectStore {
    pub fn new(
        db: db::Db,
        data: DataStore,
        clock: SharedClock,
        validator: Arc<dyn common::auth::TokenValidator>,
        settings: Settings,
    ) -> Self {
        ObjectStore {
            db,
            data,
            clock,
            validator,
            settings,
        }
    }

    /// Microseconds since the epoch.
    pub fn now(&self) -> i64 {
        self.clock.now_micros()
    }

    /// Seconds since the epoch.
    pub fn now_secs(&self) -> i64 {
        self.clock.now_micros().div_euclid(1_000_000)
    }
}

/// Why a request failed: the shared error, rendered in Swift's style by
/// [`crate::api::errors::Swift`] (a message shows as Swift's specific
/// reason where Swift gives one; an empty one means swob's standard page).
pub type SwiftError = Error;

pub type Result<T, E = SwiftError> = std::result::Result<T, E>;

impl From<PathError> for Error {
    fn from(e: PathError) -> Self {
        match e {
            PathError::NotStorage => Error::not_found(""),
            PathError::InvalidUtf8 => Error::precondition_failed("Invalid UTF8 or contains NULL"),
            PathError::TooLong(m) => Error::bad_request(m),
        }
    }
}

/// A status by number (Swift uses a few without constants, like 499).
pub fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A request as the operations see it: the decoded path, the headers and
/// query, and who is calling.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub path: SwiftPath,
    pub headers: HeaderMap,
    pub query: QueryMap,
    pub caller: Caller,
    /// Set when a temp URL let the request in.
    pub temp_url: Option<tempurl::TempUrl>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::http::header(&self.headers, name)
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.headers.contains_key(name)
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.get(name)
    }

    pub fn is_head(&self) -> bool {
        self.method == Method::HEAD
    }

    /// `Content-Length`, if sent and valid; 400 if sent and not a number.
    pub fn content_length(&self) -> Result<Option<u64>> {
        match self.header("content-length") {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| SwiftError::bad_request("Invalid Content-Length header value")),
        }
    }

    pub fn is_chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    pub fn account(&self) -> &str {
        &self.path.account
    }

    pub fn container(&self) -> Result<&str> {
        self.path
            .container
            .as_deref()
            .ok_or_else(|| SwiftError::not_found(""))
    }

    pub fn object(&self) -> Result<&str> {
        self.path
            .object
            .as_deref()
            .ok_or_else(|| SwiftError::not_found(""))
    }
}

/// The body of a reply.
#[derive(Debug, Default)]
pub enum ReplyBody {
    #[default]
    Empty,
    Bytes(Bytes),
    /// Object data: pieces of files and literal bytes, in order.
    Pieces(Vec<read::Piece>),
}

/// What an operation answers.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: ReplyBody,
    /// `Content-Length` to announce when it is not the body's (HEAD).
    pub length: Option<u64>,
}

impl Reply {
    pub fn new(status: StatusCode) -> Reply {
        Reply {
            status,
            headers: HeaderMap::new(),
            body: ReplyBody::Empty,
            length: None,
        }
    }

    /// Adds a header; values that cannot be header values are skipped
    /// (logged), never a panic.
    pub fn header(mut self, name: &str, value: impl AsRef<str>) -> Reply {
        self.set(name, value);
        self
    }

    pub fn set(&mut self, name: &str, value: impl AsRef<str>) {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value.as_ref().as_bytes()),
        ) {
            (Ok(n), Ok(v)) => {
                self.headers.insert(n, v);
            }
            _ => tracing::warn!(header = name, "skipping a header that cannot be sent"),
        }
    }

    pub fn with_body(mut self, content_type: &str, body: impl Into<Bytes>) -> Reply {
        self.set("content-type", content_type);
        self.body = ReplyBody::Bytes(body.into());
        self
    }

    /// swob's default body for the status (`<html><h1>Accepted</h1>…`).
    pub fn default_body(self) -> Reply {
        let page = axum::body::Bytes::from(standard_page(self.status));
        self.with_body("text/html; charset=UTF-8", page)
    }
}

/// The HTML page swob writes for a status that has an explanation.
pub fn standard_page(status: StatusCode) -> String {
    match status.as_u16() {
        202 => {
            "<html><h1>Accepted</h1><p>The request is accepted for processing.</p></html>".into()
        }
        _ => String::new(),
    }
}

//! Swift's rules: who may do what ([`auth`], [`acl`], [`tempurl`]), what
//! a request may say ([`meta`]), and the operations on accounts,
//! containers and objects, with large objects, quotas, versioned writes,
//! bulk delete, archive upload and expiry.
//!
//! Handlers hand a [`Request`] in and get typed outcomes back
//! ([`accounts::AccountInfo`], [`containers::ContainerInfo`],
//! [`objects::ObjectRead`], [`objects::ObjectPut`], [`bulk::BulkResult`],
//! …); `crate::api` turns them into Swift's statuses, headers and bodies.

pub mod accounts;
pub mod acl;
pub mod auth;
pub mod bulk;
pub mod commit;
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
use axum::http::{HeaderMap, Method, StatusCode};
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
    /// PUT rows waiting for the next group commit (SQLite).
    commits: commit::Queue,
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
            commits: commit::Queue::default(),
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

//! Shared pieces of every oxistack service.
//!
//! Every service crate builds on these instead of re-implementing them: the
//! [`error::Error`] that carries the meaning of a failure and is rendered in
//! each service's own OpenStack error body in exactly one place
//! ([`http::errors`]), the [`config::Config`] file, the authenticated
//! [`context::RequestContext`], the oslo.policy-compatible [`policy`] engine,
//! and the HTTP glue (request ids, strict JSON, pagination, version documents).

pub mod auth;
pub mod clock;
pub mod config;
pub mod context;
pub mod datafile;
pub mod digest;
pub mod error;
pub mod http;
pub mod ids;
pub mod memory;
pub mod policy;
pub mod service;

pub use error::{Error, ErrorKind, Result};

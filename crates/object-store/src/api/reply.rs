//! What the Swift API answers before it becomes an HTTP response: a
//! status, headers and a body that may stream file data
//! ([`read::Piece`]s) rather than JSON. Built from the operations' typed
//! outcomes by the resource modules, turned into a response by
//! [`super::render`].

use crate::app::read;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use bytes::Bytes;

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

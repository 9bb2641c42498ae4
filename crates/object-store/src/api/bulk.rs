//! Swift's bulk middleware: `POST|DELETE /v1/{account}?bulk-delete` (and
//! the SLO delete that reuses its document), and
//! `PUT /v1/{account}[/{container}[/{prefix}]]?extract-archive=…`: archive
//! uploads (Swift's bulk middleware answers them at any depth of path,
//! before the resource's own `PUT`). Always 200 with a result document in
//! the format `Accept` asks for; an unknown archive format is a plain 400.

use crate::app::bulk::{status_line, BulkResult};
use crate::app::extract::{standard_body, Extracted};
use crate::app::large::{result_body, result_format};
use crate::app::listing::Format;
use crate::app::write::BodyStream;
use crate::app::{ObjectStore, Reply, Request, SwiftError};
use crate::archive::Compression;
use axum::http::StatusCode;
use serde_json::json;
use std::sync::Arc;

pub async fn extract(
    store: &Arc<ObjectStore>,
    req: &Request,
    body: BodyStream,
) -> Result<Reply, SwiftError> {
    let param = req.query("extract-archive").unwrap_or_default();
    let Some(compression) = Compression::from_param(param) else {
        return Err(SwiftError::bad_request("Unsupported archive format"));
    };
    // Swift picks the format first and, when `Accept` allows none of
    // them (or cannot be parsed), answers 406 in the document without
    // reading the archive.
    let (format, outcome) =
        match Format::negotiate(&common::http::QueryMap::default(), &req.headers) {
            Ok(f) => (f, store.extract_archive(req, body, compression).await),
            Err(_) => (
                Format::Plain,
                Extracted {
                    created: 0,
                    status: 406,
                    body: standard_body(406).into(),
                    errors: Vec::new(),
                },
            ),
        };
    Ok(render(format, &outcome))
}

/// A bulk delete's result document (`Number Deleted`, `Number Not
/// Found`, `Response Body`, `Response Status`, `Errors`), always a 200.
pub fn render_deleted(format: Format, r: &BulkResult) -> Reply {
    let fields = [
        ("Number Deleted", json!(r.deleted)),
        ("Number Not Found", json!(r.not_found)),
        ("Response Body", json!(r.body)),
        ("Response Status", json!(r.status)),
    ];
    let (ct, body) = result_body(format, &fields, &r.errors, "delete");
    Reply::new(StatusCode::OK).with_body(&ct, body)
}

/// `POST|DELETE /v1/{account}?bulk-delete`.
pub async fn delete(
    store: &Arc<ObjectStore>,
    req: &Request,
    body: BodyStream,
) -> Result<Reply, SwiftError> {
    let r = store.bulk_delete(req, body).await?;
    Ok(render_deleted(result_format(req), &r))
}

/// The result document (`Number Files Created`, `Response Body`,
/// `Response Status`, `Errors`) as Swift's `get_heartbeat_response_body`
/// writes it.
pub fn render(format: Format, r: &Extracted) -> Reply {
    let fields = [
        ("Number Files Created", json!(r.created)),
        ("Response Body", json!(r.body)),
        ("Response Status", json!(status_line(r.status))),
    ];
    let (ct, body) = result_body(format, &fields, &r.errors, "extract");
    Reply::new(StatusCode::OK).with_body(&ct, body)
}

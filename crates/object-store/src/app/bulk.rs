//! Bulk delete (Swift's `bulk` middleware): `POST` or `DELETE` on the
//! account with `?bulk-delete` and a newline-separated list of
//! URL-encoded `/container/object` and `/container` paths. Objects go
//! first, then containers; each deletion is authorised and performed as
//! if requested on its own. The answer is 200 with a result document
//! (`Number Deleted`, `Number Not Found`, `Response Status`, `Errors`) in
//! the format `Accept` asks for.

use super::write::BodyStream;
use super::{ObjectStore, Request, Result, SwiftError};
use crate::names::{self, SwiftPath};
use axum::http::{Method, StatusCode};
use futures_util::StreamExt;
use std::sync::Arc;

/// `max_deletes_per_request`.
pub const MAX_DELETES_PER_REQUEST: usize = 10_000;
/// `max_failed_deletes`.
pub const MAX_FAILED_DELETES: usize = 1000;
/// Longest line accepted (`max_path_length` of two names and slashes).
const MAX_PATH_LENGTH: usize = 256 + 1024 + 2;

/// One path to delete, with the error found before trying, if any.
#[derive(Debug, Clone)]
pub struct BulkItem {
    pub path: String,
    pub error: Option<(u16, String)>,
}

impl BulkItem {
    pub fn new(path: &str) -> BulkItem {
        BulkItem {
            path: path.to_string(),
            error: None,
        }
    }
}

/// The outcome of a bulk deletion (Swift's result document, which
/// [`crate::api::bulk`] writes; a failure of the whole request is a
/// `status` other than 200 here, still answered with a 200).
#[derive(Debug, Clone, Default)]
pub struct BulkResult {
    pub deleted: u64,
    pub not_found: u64,
    pub errors: Vec<(String, String)>,
    pub status: String,
    pub body: String,
}

/// `413 Request Entity Too Large`: a status as swob writes it (its
/// reason phrases, which are RFC 2616's where newer ones differ, and 499
/// `Client Disconnect`).
pub fn status_line(code: u16) -> String {
    let reason = match code {
        413 => "Request Entity Too Large",
        414 => "Request URI Too Long",
        416 => "Requested Range Not Satisfiable",
        499 => "Client Disconnect",
        500 => "Internal Error",
        _ => super::status(code).canonical_reason().unwrap_or(""),
    };
    format!("{code} {reason}")
}

impl ObjectStore {
    /// `POST|DELETE /v1/{account}?bulk-delete`.
    pub async fn bulk_delete(
        self: &Arc<Self>,
        req: &Request,
        mut body: BodyStream,
    ) -> Result<BulkResult> {
        if req.content_length()?.is_none() && !req.is_chunked() {
            return Err(SwiftError::length_required(
                "Missing Content-Length header.",
            ));
        }
        if let Some(ct) = req.header("content-type") {
            if !ct.is_empty() && !ct.starts_with("text/plain") {
                return Err(SwiftError::not_acceptable(""));
            }
        }
        let mut raw = Vec::new();
        let mut fail = None;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|_| SwiftError::client_disconnected(""))?;
            raw.extend_from_slice(&chunk);
            if raw.len() > (MAX_DELETES_PER_REQUEST + 1) * (MAX_PATH_LENGTH + 1) {
                fail = Some((
                    413,
                    format!("Maximum Bulk Deletes: {MAX_DELETES_PER_REQUEST} per request"),
                ));
                break;
            }
        }
        let mut items = Vec::new();
        if fail.is_none() {
            for line in raw.split(|b| *b == b'\n') {
                let line = String::from_utf8_lossy(line);
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                if line.len() > MAX_PATH_LENGTH * 2 {
                    fail = Some((400, "Invalid File Name".into()));
                    break;
                }
                let mut item = BulkItem::new(line);
                match names::decode(line) {
                    Ok(p) => item.path = p,
                    Err(_) => item.error = Some((412, status_line(412))),
                }
                items.push(item);
                if items.len() > MAX_DELETES_PER_REQUEST {
                    fail = Some((
                        413,
                        format!("Maximum Bulk Deletes: {MAX_DELETES_PER_REQUEST} per request"),
                    ));
                    break;
                }
            }
        }
        if let Some((code, body)) = fail {
            let r = BulkResult {
                status: status_line(code),
                body,
                ..BulkResult::default()
            };
            return Ok(r);
        }
        // Objects first, then containers, as Swift orders them.
        let (objs, conts): (Vec<BulkItem>, Vec<BulkItem>) = items
            .into_iter()
            .partition(|i| i.path.trim_matches('/').contains('/'));
        let mut all = objs;
        all.extend(conts);
        let mut r = self.bulk_delete_items(req, all).await;
        if r.errors.is_empty() && r.deleted == 0 && r.not_found == 0 {
            r.status = status_line(400);
            r.body = "Invalid bulk delete.".into();
        }
        Ok(r)
    }

    /// Deletes each of `items` in order on behalf of `req`'s caller.
    /// Boxed with an explicit `Send`: SLO deletes come back through here
    /// for their segments, and the recursion needs a named future type.
    pub fn bulk_delete_items<'a>(
        self: &'a Arc<Self>,
        req: &'a Request,
        items: Vec<BulkItem>,
    ) -> futures_util::future::BoxFuture<'a, BulkResult> {
        Box::pin(self.bulk_delete_items_inner(req, items))
    }

    async fn bulk_delete_items_inner(
        self: &Arc<Self>,
        req: &Request,
        items: Vec<BulkItem>,
    ) -> BulkResult {
        let mut r = BulkResult {
            status: status_line(200),
            ..BulkResult::default()
        };
        let mut server_error = false;
        for item in items {
            let name = item.path.trim_start_matches('/').to_string();
            if name.is_empty() {
                continue;
            }
            if let Some((code, msg)) = &item.error {
                if *code == 404 {
                    r.not_found += 1;
                } else {
                    r.errors.push((names::quote(&item.path), msg.clone()));
                }
                continue;
            }
            let (container, object) = match name.split_once('/') {
                Some((c, o)) => (c.to_string(), Some(o.to_string()).filter(|o| !o.is_empty())),
                None => (name.clone(), None),
            };
            let sub = Request {
                method: Method::DELETE,
                path: SwiftPath {
                    account: req.account().to_string(),
                    container: Some(container),
                    object,
                },
                headers: req.headers.clone(),
                query: common::http::QueryMap::default(),
                caller: req.caller.clone(),
                temp_url: None,
            };
            let outcome = if sub.path.object.is_some() {
                self.delete_object(&sub).await.map(drop)
            } else {
                self.delete_container(&sub).await
            };
            match outcome {
                Ok(_) => r.deleted += 1,
                Err(e) if e.status() == StatusCode::NOT_FOUND => r.not_found += 1,
                Err(e) => {
                    let code = e.status().as_u16();
                    if code >= 500 {
                        server_error = true;
                    }
                    r.errors.push((names::quote(&item.path), status_line(code)));
                    if r.errors.len() >= MAX_FAILED_DELETES {
                        r.status = status_line(400);
                        r.body = "Max delete failures exceeded".into();
                        return r;
                    }
                }
            }
        }
        if !r.errors.is_empty() {
            r.status = status_line(if server_error { 502 } else { 400 });
        }
        r
    }
}

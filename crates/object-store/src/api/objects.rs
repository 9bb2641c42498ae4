//! `/v1/{account}/{container}/{object}`: `PUT`, `GET`, `HEAD`, `POST`,
//! `DELETE` and `COPY`. Writes answer with [`ObjectPut`] and
//! [`ObjectDeleted`]; this module turns them into Swift's statuses and
//! headers (a 201 with the ETag, the copy middleware's `X-Copied-From*`,
//! an SLO's problem document or delete result).

use super::bulk::{render_deleted, result_body, result_format};
use super::method_not_allowed;
use crate::app::objects::{ObjectDeleted, ObjectPut, ObjectWritten};
use crate::app::write::BodyStream;
use crate::app::{ObjectStore, Reply, Request, SwiftError};
use crate::http::{http_date, last_modified_secs};
use crate::names;
use axum::http::StatusCode;
use std::sync::Arc;

pub async fn handle(
    store: &Arc<ObjectStore>,
    req: &Request,
    body: BodyStream,
) -> Result<Reply, SwiftError> {
    match req.method.as_str() {
        "GET" | "HEAD" => store.get_object(req).await,
        "PUT" => Ok(written(req, store.put_object(req, body).await?)),
        "POST" => {
            store.post_object(req).await?;
            Ok(Reply::new(StatusCode::ACCEPTED).default_body())
        }
        "DELETE" => Ok(match store.delete_object(req).await? {
            ObjectDeleted::Deleted => Reply::new(StatusCode::NO_CONTENT),
            ObjectDeleted::Manifest(r) => render_deleted(result_format(req), &r),
        }),
        "COPY" => Ok(written(req, store.copy_object(req).await?)),
        _ => Err(method_not_allowed()),
    }
}

/// A `PUT` or `COPY`'s answer: 201 with the new object's ETag, or 400
/// with the SLO middleware's problem list.
fn written(req: &Request, put: ObjectPut) -> Reply {
    match put {
        ObjectPut::Written(w) => created(&w),
        ObjectPut::ManifestRejected(problems) => {
            let (ct, body) = result_body(result_format(req), &[], &problems, "upload");
            Reply::new(StatusCode::BAD_REQUEST).with_body(&ct, body)
        }
    }
}

/// 201 with the ETag (quoted for manifests, as Swift answers them) and,
/// for a copy, where it came from and the metadata it was written with.
fn created(w: &ObjectWritten) -> Reply {
    let etag = if w.quoted {
        format!("\"{}\"", w.etag)
    } else {
        w.etag.clone()
    };
    let mut reply = Reply::new(StatusCode::CREATED)
        .header("etag", etag)
        .header("last-modified", http_date(last_modified_secs(w.created_at)))
        .with_body("text/html; charset=UTF-8", "");
    if let Some(c) = &w.copied {
        reply.set(
            "x-copied-from",
            names::quote(&format!("{}/{}", c.container, c.object)),
        );
        reply.set("x-copied-from-account", names::quote(&c.account));
        reply.set(
            "x-copied-from-last-modified",
            http_date(last_modified_secs(c.source_created_at)),
        );
        for (k, v) in &c.metadata {
            reply.set(k, v);
        }
        if let Some(at) = c.delete_at {
            reply.set("x-delete-at", at.to_string());
        }
    }
    reply
}

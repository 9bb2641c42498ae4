//! `/v1/{account}/{container}/{object}`: `PUT`, `GET`, `HEAD`, `POST`,
//! `DELETE` and `COPY`. Reads answer with [`ObjectRead`], writes with
//! [`ObjectPut`] and [`ObjectDeleted`]; this module turns them into
//! Swift's statuses and headers (the object's headers, 304/412/416 and
//! ranged bodies, a 201 with the ETag, the copy middleware's
//! `X-Copied-From*`, an SLO's problem document or delete result).

use super::bulk::{render_deleted, result_body, result_format};
use super::method_not_allowed;
use super::reply::{Reply, ReplyBody};
use crate::app::objects::{
    ObjectDeleted, ObjectPut, ObjectRead, ObjectWritten, Shown, SLO_MANIFEST_CONTENT_TYPE,
};
use crate::app::read::{self, Selection};
use crate::app::write::BodyStream;
use crate::app::{ObjectStore, Request, SwiftError};
use crate::db::objects::Object;
use crate::http::{http_date, last_modified_secs, timestamp_normal};
use crate::names;
use axum::http::StatusCode;
use std::sync::Arc;

pub async fn handle(
    store: &Arc<ObjectStore>,
    req: &Request,
    body: BodyStream,
) -> Result<Reply, SwiftError> {
    match req.method.as_str() {
        "GET" | "HEAD" => Ok(read_reply(req, store.get_object(req).await?)),
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

/// A `GET` or `HEAD`'s answer: the object's headers, then the
/// conditionals' and `Range`'s outcome ([`read::select`]).
fn read_reply(req: &Request, r: ObjectRead) -> Reply {
    let mut reply = object_headers(&r.object);
    match &r.shown {
        Shown::Stored => {}
        Shown::SloManifest => {
            reply.set("content-type", SLO_MANIFEST_CONTENT_TYPE);
            reply.set("etag", &r.object.etag);
        }
        Shown::Dlo { etag } => reply.set("etag", format!("\"{etag}\"")),
    }
    if let Some(t) = &r.temp_url {
        reply.set("content-disposition", &t.disposition);
        reply.set("expires", http_date(t.expires));
    }
    reply.set("accept-ranges", "bytes");
    let total = r.total;
    match read::select(req, &r.validators, total) {
        Selection::NotModified => {
            reply.status = StatusCode::NOT_MODIFIED;
            reply.length = Some(0);
            reply
        }
        Selection::PreconditionFailed => {
            reply.status = StatusCode::PRECONDITION_FAILED;
            reply.length = Some(0);
            reply
        }
        Selection::Head => {
            reply.length = Some(total);
            reply
        }
        Selection::Unsatisfiable => {
            let mut out = Reply::new(StatusCode::RANGE_NOT_SATISFIABLE)
                .header("content-range", format!("bytes */{total}"));
            out.headers.extend(
                reply
                    .headers
                    .iter()
                    .filter(|(k, _)| k.as_str().starts_with("x-") || *k == "accept-ranges")
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
            out.with_body(
                "text/html; charset=UTF-8",
                "<html><h1>Requested Range Not Satisfiable</h1><p>The Range requested is not available.</p></html>",
            )
        }
        Selection::Whole => {
            reply.body = ReplyBody::Pieces(r.pieces);
            reply
        }
        Selection::Range(s, e) => {
            reply.status = StatusCode::PARTIAL_CONTENT;
            reply.set("content-range", crate::http::content_range(s, e, total));
            reply.body = ReplyBody::Pieces(read::slice(&r.pieces, s, e));
            reply
        }
        Selection::Ranges(ranges) => {
            let boundary = common::ids::hex_id();
            let ctype = reply
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_string();
            let body = read::multipart(&r.pieces, &ranges, &ctype, total, &boundary);
            reply.status = StatusCode::PARTIAL_CONTENT;
            reply.set(
                "content-type",
                format!("multipart/byteranges;boundary={boundary}"),
            );
            reply.body = ReplyBody::Pieces(body);
            reply
        }
    }
}

/// The headers every object reply carries (Swift's object server plus
/// what the middlewares add).
fn object_headers(o: &Object) -> Reply {
    let mut r = Reply::new(StatusCode::OK)
        .header("content-type", &o.content_type)
        .header("last-modified", http_date(last_modified_secs(o.created_at)))
        .header("x-timestamp", timestamp_normal(o.created_at));
    match (&o.slo_etag, &o.manifest) {
        (Some(slo), _) => {
            r.set("etag", format!("\"{slo}\""));
            r.set("x-static-large-object", "True");
            r.set("x-manifest-etag", &o.etag);
        }
        (None, Some(m)) => {
            r.set("x-object-manifest", m);
            r.set("etag", &o.etag);
        }
        (None, None) => r.set("etag", &o.etag),
    }
    for (k, v) in &o.metadata {
        r.set(k, v);
    }
    if let Some(at) = o.delete_at {
        r.set("x-delete-at", at.to_string());
    }
    r
}

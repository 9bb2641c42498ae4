//! `/v1/{account}/{container}`: `PUT`, `POST`, `GET`, `HEAD`, `DELETE`.
//! The operations answer with [`ContainerInfo`], listing entries and
//! [`ContainerPut`]; this module turns them into Swift's statuses,
//! headers and plain, JSON and XML listings.

use super::listing::{self, Format};
use super::method_not_allowed;
use super::reply::Reply;
use crate::app::containers::{ContainerInfo, ContainerPut};
use crate::app::listing::Entry;
use crate::app::{ObjectStore, Request, SwiftError};
use crate::db::objects::Object;
use crate::http::{http_date, iso_listing, last_modified_secs, timestamp_normal};
use axum::http::{Method, StatusCode};
use std::sync::Arc;

pub async fn handle(store: &Arc<ObjectStore>, req: &Request) -> Result<Reply, SwiftError> {
    match req.method {
        Method::GET | Method::HEAD => get(store, req).await,
        Method::PUT => Ok(match store.put_container(req).await? {
            ContainerPut::Created => {
                Reply::new(StatusCode::CREATED).with_body("text/html; charset=UTF-8", "")
            }
            ContainerPut::Updated => Reply::new(StatusCode::ACCEPTED).default_body(),
        }),
        Method::POST => {
            store.post_container(req).await?;
            Ok(Reply::new(StatusCode::NO_CONTENT))
        }
        Method::DELETE => {
            store.delete_container(req).await?;
            Ok(Reply::new(StatusCode::NO_CONTENT))
        }
        _ => Err(method_not_allowed()),
    }
}

/// `GET`/`HEAD /v1/{account}/{container}`: the counts and settings as
/// headers and, for a `GET`, the listing; an empty listing is a 204 with
/// the headers alone.
async fn get(store: &Arc<ObjectStore>, req: &Request) -> Result<Reply, SwiftError> {
    let info = store.container_info(req).await?;
    let format = Format::negotiate(&req.query, &req.headers)?;
    let mut reply = Reply::new(StatusCode::NO_CONTENT);
    headers(&info, &mut reply);
    reply.set("content-type", format.content_type());
    if req.is_head() {
        return Ok(reply);
    }
    let entries = store.list_container(req).await?;
    let body = listing_body(req.container()?, format, &entries)?;
    if body.is_empty() {
        return Ok(reply);
    }
    reply.status = StatusCode::OK;
    Ok(reply.with_body(format.content_type(), body))
}

/// The container's headers, in the order Swift's container server sends
/// them.
fn headers(c: &ContainerInfo, reply: &mut Reply) {
    reply.set("x-container-object-count", c.object_count.to_string());
    reply.set("x-container-bytes-used", c.bytes_used.to_string());
    reply.set("x-timestamp", timestamp_normal(c.created_at));
    reply.set("x-put-timestamp", timestamp_normal(c.put_timestamp));
    reply.set(
        "last-modified",
        http_date(last_modified_secs(c.put_timestamp)),
    );
    reply.set("x-storage-policy", "Policy-0");
    for (k, v) in &c.metadata {
        reply.set(k, v);
    }
    if let Some(a) = &c.read_acl {
        reply.set("x-container-read", a);
    }
    if let Some(a) = &c.write_acl {
        reply.set("x-container-write", a);
    }
    if let Some(v) = &c.versions {
        let h = if v.history {
            "x-history-location"
        } else {
            "x-versions-location"
        };
        reply.set(h, crate::names::quote(&v.location));
    }
}

/// The object listing in the negotiated format.
fn listing_body(
    container: &str,
    format: Format,
    entries: &[Entry<Object>],
) -> Result<String, SwiftError> {
    Ok(match format {
        Format::Plain => {
            let mut s = String::new();
            for e in entries {
                match e {
                    Entry::Item(o) => s.push_str(&o.name),
                    Entry::Subdir(d) => s.push_str(d),
                }
                s.push('\n');
            }
            s
        }
        Format::Json => listing::json_body::<_, listing::ContainerListingEntry>(entries)?,
        Format::Xml | Format::TextXml => {
            let x = listing::xml_escape;
            let mut s = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<container name=\"{}\">",
                x(container)
            );
            for e in entries {
                match e {
                    Entry::Item(o) => s.push_str(&format!(
                        "<object><name>{}</name><hash>{}</hash><bytes>{}</bytes>\
                         <content_type>{}</content_type><last_modified>{}</last_modified></object>",
                        x(&o.name),
                        x(&o.etag),
                        o.slo_size.unwrap_or(o.size),
                        x(&o.content_type),
                        iso_listing(o.created_at)
                    )),
                    Entry::Subdir(d) => s.push_str(&format!(
                        "<subdir name=\"{0}\"><name>{0}</name></subdir>",
                        x(d)
                    )),
                }
            }
            s.push_str("</container>");
            s
        }
    })
}

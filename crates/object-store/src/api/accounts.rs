//! `/v1/{account}`: `GET`/`HEAD` (listing and counts), `POST`
//! (metadata, or a bulk delete with `?bulk-delete`). The operations
//! answer with [`AccountInfo`] and listing entries; this module turns
//! them into Swift's headers and its plain, JSON and XML listings.

use super::listing::{self, Format};
use super::method_not_allowed;
use super::reply::Reply;
use crate::app::accounts::AccountInfo;
use crate::app::listing::Entry;
use crate::app::write::BodyStream;
use crate::app::{ObjectStore, Request, SwiftError};
use crate::db::containers::Container;
use crate::http::{iso_listing, timestamp_normal};
use axum::http::{Method, StatusCode};
use std::sync::Arc;

pub async fn handle(
    store: &Arc<ObjectStore>,
    req: &Request,
    body: BodyStream,
) -> Result<Reply, SwiftError> {
    let bulk = req.query.has("bulk-delete");
    match req.method {
        Method::GET | Method::HEAD => get(store, req).await,
        Method::POST | Method::DELETE if bulk => super::bulk::delete(store, req, body).await,
        Method::POST => {
            store.post_account(req).await?;
            Ok(Reply::new(StatusCode::NO_CONTENT))
        }
        // Account management is off (`allow_account_management = false`):
        // only a reseller gets as far as the 405.
        Method::DELETE | Method::PUT => {
            store.authorize(
                &req.caller,
                crate::app::auth::Target {
                    account: req.account(),
                    container: None,
                    object: None,
                    method: req.method.as_str(),
                    acl: None,
                    referer: req.header("referer"),
                },
            )?;
            Err(method_not_allowed())
        }
        _ => Err(method_not_allowed()),
    }
}

/// `GET`/`HEAD /v1/{account}`: the counts as headers and, for a `GET`,
/// the listing; an empty listing is a 204 with the headers alone.
async fn get(store: &Arc<ObjectStore>, req: &Request) -> Result<Reply, SwiftError> {
    let info = store.account_info(req).await?;
    let format = Format::negotiate(&req.query, &req.headers)?;
    let mut reply = Reply::new(StatusCode::NO_CONTENT);
    headers(&info, &mut reply);
    reply.set("content-type", format.content_type());
    if req.is_head() {
        return Ok(reply);
    }
    let entries = store.list_account(req).await?;
    let body = listing_body(req.account(), format, &entries)?;
    if body.is_empty() {
        return Ok(reply);
    }
    reply.status = StatusCode::OK;
    Ok(reply.with_body(format.content_type(), body))
}

/// The account's headers, in the order Swift's account server sends them.
fn headers(a: &AccountInfo, reply: &mut Reply) {
    reply.set("x-account-container-count", a.container_count.to_string());
    reply.set("x-account-object-count", a.object_count.to_string());
    reply.set("x-account-bytes-used", a.bytes_used.to_string());
    reply.set("x-timestamp", timestamp_normal(a.created_at));
    reply.set("x-put-timestamp", timestamp_normal(a.put_timestamp));
    let p = "x-account-storage-policy-policy-0-";
    reply.set(
        &format!("{p}container-count"),
        a.container_count.to_string(),
    );
    reply.set(&format!("{p}object-count"), a.object_count.to_string());
    reply.set(&format!("{p}bytes-used"), a.bytes_used.to_string());
    for (k, v) in &a.metadata {
        reply.set(k, v);
    }
    if let Some(q) = a.quota_bytes {
        reply.set("x-account-quota-bytes", q.to_string());
    }
    if let Some(q) = a.quota_count {
        reply.set("x-account-quota-count", q.to_string());
    }
}

/// The container listing in the negotiated format.
fn listing_body(
    account: &str,
    format: Format,
    entries: &[Entry<Container>],
) -> Result<String, SwiftError> {
    Ok(match format {
        Format::Plain => {
            let mut s = String::new();
            for e in entries {
                match e {
                    Entry::Item(c) => s.push_str(&c.name),
                    Entry::Subdir(d) => s.push_str(d),
                }
                s.push('\n');
            }
            s
        }
        Format::Json => listing::json_body::<_, listing::AccountListingEntry>(entries)?,
        Format::Xml | Format::TextXml => {
            let x = listing::xml_escape;
            let mut s = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<account name=\"{}\">\n",
                x(account)
            );
            for e in entries {
                match e {
                    Entry::Item(c) => s.push_str(&format!(
                        "<container><name>{}</name><count>{}</count><bytes>{}</bytes>\
                         <last_modified>{}</last_modified><storage_policy>Policy-0</storage_policy></container>\n",
                        x(&c.name),
                        c.object_count,
                        c.bytes_used,
                        iso_listing(c.put_timestamp)
                    )),
                    Entry::Subdir(d) => s.push_str(&format!("<subdir name=\"{}\" />\n", x(d))),
                }
            }
            s.push_str("</account>");
            s
        }
    })
}

//! `/v1/{account}`: `GET`/`HEAD` (listing and counts), `POST`
//! (metadata, or a bulk delete with `?bulk-delete`).

use super::method_not_allowed;
use crate::app::write::BodyStream;
use crate::app::{ObjectStore, Reply, Request, SwiftError};
use axum::http::Method;
use std::sync::Arc;

pub async fn handle(
    store: &Arc<ObjectStore>,
    req: &Request,
    body: BodyStream,
) -> Result<Reply, SwiftError> {
    let bulk = req.query.has("bulk-delete");
    match req.method {
        Method::GET | Method::HEAD => store.get_account(req).await,
        Method::POST | Method::DELETE if bulk => store.bulk_delete(req, body).await,
        Method::POST => store.post_account(req).await,
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

//! `/v1/{account}/{container}/{object}`: `PUT`, `GET`, `HEAD`, `POST`,
//! `DELETE` and `COPY`.

use super::method_not_allowed;
use crate::app::objects::ObjectDeleted;
use crate::app::write::BodyStream;
use crate::app::{ObjectStore, Reply, Request, SwiftError};
use axum::http::StatusCode;
use std::sync::Arc;

pub async fn handle(
    store: &Arc<ObjectStore>,
    req: &Request,
    body: BodyStream,
) -> Result<Reply, SwiftError> {
    match req.method.as_str() {
        "GET" | "HEAD" => store.get_object(req).await,
        "PUT" => store.put_object(req, body).await,
        "POST" => store.post_object(req).await,
        "DELETE" => Ok(match store.delete_object(req).await? {
            ObjectDeleted::Deleted => Reply::new(StatusCode::NO_CONTENT),
            ObjectDeleted::Manifest(r) => {
                super::bulk::render_deleted(crate::app::large::result_format(req), &r)
            }
        }),
        "COPY" => store.copy_object(req).await,
        _ => Err(method_not_allowed()),
    }
}

//! `/v1/{account}/{container}`: `PUT`, `POST`, `GET`, `HEAD`, `DELETE`.

use super::method_not_allowed;
use crate::app::{ObjectStore, Reply, Request, SwiftError};
use axum::http::Method;
use std::sync::Arc;

pub async fn handle(store: &Arc<ObjectStore>, req: &Request) -> Result<Reply, SwiftError> {
    match req.method {
        Method::GET | Method::HEAD => store.get_container(req).await,
        Method::PUT => store.put_container(req).await,
        Method::POST => store.post_container(req).await,
        Method::DELETE => store.delete_container(req).await,
        _ => Err(method_not_allowed()),
    }
}

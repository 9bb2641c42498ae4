//! `/info` (capabilities) and `/healthcheck`.

use super::Store;
use axum::http::header;
use axum::response::{IntoResponse, Response};

pub async fn info(store: Store) -> Response {
    match serde_json::to_string(&store.info()) {
        Ok(body) => (
            [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
            body,
        )
            .into_response(),
        Err(e) => common::Error::internal(format!("capabilities: {e}")).into_response(),
    }
}

pub async fn healthcheck() -> Response {
    ([(header::CONTENT_TYPE, "text/plain")], "OK").into_response()
}

//! `/info` (capabilities) and `/healthcheck`.

use super::Store;
use axum::http::header;
use axum::response::{IntoResponse, Response};

pub async fn info(store: Store) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        store.info().to_string(),
    )
        .into_response()
}

pub async fn healthcheck() -> Response {
    ([(header::CONTENT_TYPE, "text/plain")], "OK").into_response()
}

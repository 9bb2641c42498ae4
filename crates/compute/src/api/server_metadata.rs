//! `/servers/{id}/metadata` and `/servers/{id}/metadata/{key}`.

use super::State;
use crate::app::server_metadata::Change;
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::JsonBody;
use common::Result;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Compute>> {
    Router::new()
        .route(
            "/v2.1/servers/{id}/metadata",
            get(index).post(create).put(update_all),
        )
        .route(
            "/v2.1/servers/{id}/metadata/{key}",
            get(show).put(update).delete(delete),
        )
}

async fn index(S(c): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<Json<Value>> {
    Ok(Json(
        json!({"metadata": c.server_metadata(&ctx, &id).await?}),
    ))
}

async fn create(
    S(c): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Json<Value>> {
    let m = c.set_server_metadata(&ctx, &id, &b, Change::Merge).await?;
    Ok(Json(json!({ "metadata": m })))
}

async fn update_all(
    S(c): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Json<Value>> {
    let m = c
        .set_server_metadata(&ctx, &id, &b, Change::Replace)
        .await?;
    Ok(Json(json!({ "metadata": m })))
}

async fn show(
    S(c): State,
    Auth(ctx): Auth,
    Path((id, key)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let meta = c.server_metadata_item(&ctx, &id, &key).await?;
    Ok(Json(json!({ "meta": meta })))
}

async fn update(
    S(c): State,
    Auth(ctx): Auth,
    Path((id, key)): Path<(String, String)>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Json<Value>> {
    let meta = c.set_server_metadata_item(&ctx, &id, &key, &b).await?;
    Ok(Json(json!({ "meta": meta })))
}

async fn delete(
    S(c): State,
    Auth(ctx): Auth,
    Path((id, key)): Path<(String, String)>,
) -> Result<StatusCode> {
    c.delete_server_metadata_item(&ctx, &id, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

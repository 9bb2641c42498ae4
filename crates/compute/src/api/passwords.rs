//! `/v2.1/servers/{id}/os-server-password`: the password the guest
//! posted to the metadata API (`{"password": ""}` when none), and its
//! clearing (204).

use super::State;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::Result;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Compute>> {
    Router::new().route(
        "/v2.1/servers/{id}/os-server-password",
        get(show).delete(clear),
    )
}

async fn show(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let p = nova.server_password(&ctx, &id).await?;
    Ok(Json(json!({ "password": p })))
}

async fn clear(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    nova.clear_server_password(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

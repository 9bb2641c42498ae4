//! Nova's views of other services: `GET /servers/{id}/os-security-groups`
//! (the server's groups, shaped per tempest's `security_groups` schema).

use super::State;
use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::Result;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Compute>> {
    Router::new().route(
        "/v2.1/servers/{id}/os-security-groups",
        get(server_security_groups),
    )
}

/// `GET /v2.1/servers/{id}/os-security-groups`.
async fn server_security_groups(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let groups = nova.server_security_groups(&ctx, &id).await?;
    Ok(Json(json!({ "security_groups": groups })))
}

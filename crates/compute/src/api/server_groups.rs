//! `/v2.1/os-server-groups` and `/v2.1/os-server-groups/{id}`: list
//! (`all_projects` for admins, `limit`/`offset`), show, create and
//! delete, shaped per tempest's `v2_1`, `v2_13` and `v2_64`
//! `server_groups` schemas (create answers 200, delete 204).

use super::{Microversion, State};
use crate::app::server_groups::{page, parse_create};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::{JsonBody, QueryMap};
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Compute>> {
    Router::new()
        .route("/v2.1/os-server-groups", get(index).post(create))
        .route("/v2.1/os-server-groups/{id}", get(show).delete(delete))
}

/// Refuses query parameters outside `allowed` from 2.75 on (Nova's
/// `additionalProperties: False` query schemas).
fn strict_query(q: &QueryMap, mv: Microversion, allowed: &[&str]) -> Result<()> {
    if !mv.at_least(75) {
        return Ok(());
    }
    match q.0.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        Some((k, _)) => Err(Error::bad_request(format!(
            "Invalid input for query parameters {k}. Value: {k}. Additional properties are not \
             allowed ('{k}' was unexpected)"
        ))),
        None => Ok(()),
    }
}

/// `GET /v2.1/os-server-groups`.
async fn index(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    q: QueryMap,
) -> Result<Json<Value>> {
    strict_query(&q, mv, &["all_projects", "limit", "offset"])?;
    let (limit, offset) = page(q.get("limit"), q.get("offset"))?;
    let all = q.get("all_projects").is_some();
    let groups = nova.list_server_groups(&ctx, all, limit, offset).await?;
    let items: Vec<Value> = groups.iter().map(|g| g.to_json(mv)).collect();
    Ok(Json(json!({ "server_groups": items })))
}

/// `GET /v2.1/os-server-groups/{id}`.
async fn show(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let g = nova.show_server_group(&ctx, &id).await?;
    Ok(Json(json!({"server_group": g.to_json(mv)})))
}

/// `POST /v2.1/os-server-groups`.
async fn create(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let new = parse_create(&body, mv)?;
    let g = nova.create_server_group(&ctx, new).await?;
    Ok(Json(json!({"server_group": g.to_json(mv)})))
}

/// `DELETE /v2.1/os-server-groups/{id}`.
async fn delete(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    nova.delete_server_group(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! Nova's views of other services: `GET /servers/{id}/os-security-groups`
//! and the `/os-security-groups` proxy of microversions up to 2.35 (2.36
//! on answers 404, as Nova), shaped per tempest's `security_groups`
//! schema (a delete answers 202), and `/os-security-group-rules`
//! (create, delete) up to the same microversion.

use super::floating_ips::proxy_only;
use super::{Microversion, State};
use crate::app::proxies::{parse_group_body, parse_rule_body};
use crate::app::server_groups::page;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use common::auth::Auth;
use common::http::{JsonBody, QueryMap};
use common::Result;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Compute>> {
    Router::new()
        .route(
            "/v2.1/servers/{id}/os-security-groups",
            get(server_security_groups),
        )
        .route(
            "/v2.1/os-security-groups",
            get(list_groups).post(create_group),
        )
        .route(
            "/v2.1/os-security-groups/{id}",
            get(show_group).put(update_group).delete(delete_group),
        )
        .route("/v2.1/os-security-group-rules", post(create_rule))
        .route("/v2.1/os-security-group-rules/{id}", delete(delete_rule))
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

/// `GET /v2.1/os-security-groups`.
async fn list_groups(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    q: QueryMap,
) -> Result<Json<Value>> {
    proxy_only(mv)?;
    let (limit, offset) = page(q.get("limit"), q.get("offset"))?;
    let all = q.get("all_tenants").is_some();
    let groups = nova
        .proxy_list_security_groups(&ctx, all, limit, offset)
        .await?;
    Ok(Json(json!({ "security_groups": groups })))
}

/// `GET /v2.1/os-security-groups/{id}`.
async fn show_group(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    proxy_only(mv)?;
    let g = nova.proxy_show_security_group(&ctx, &id).await?;
    Ok(Json(json!({ "security_group": g })))
}

/// `POST /v2.1/os-security-groups`.
async fn create_group(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    proxy_only(mv)?;
    let (name, description) = parse_group_body(&body)?;
    let g = nova
        .proxy_create_security_group(&ctx, name, description)
        .await?;
    Ok(Json(json!({ "security_group": g })))
}

/// `PUT /v2.1/os-security-groups/{id}`.
async fn update_group(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    proxy_only(mv)?;
    let (name, description) = parse_group_body(&body)?;
    let g = nova
        .proxy_update_security_group(&ctx, &id, name, description)
        .await?;
    Ok(Json(json!({ "security_group": g })))
}

/// `DELETE /v2.1/os-security-groups/{id}`.
async fn delete_group(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    proxy_only(mv)?;
    nova.proxy_delete_security_group(&ctx, &id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /v2.1/os-security-group-rules`.
async fn create_rule(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    proxy_only(mv)?;
    let rule = parse_rule_body(&body)?;
    let r = nova.proxy_create_security_group_rule(&ctx, rule).await?;
    Ok(Json(json!({ "security_group_rule": r })))
}

/// `DELETE /v2.1/os-security-group-rules/{id}`.
async fn delete_rule(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    proxy_only(mv)?;
    nova.proxy_delete_security_group_rule(&ctx, &id).await?;
    Ok(StatusCode::ACCEPTED)
}

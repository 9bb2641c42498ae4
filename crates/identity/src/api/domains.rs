//! `/v3/domains`.

use super::{created, envelope, list_body, with_extra, State};
use crate::app::domains::DomainInput;
use crate::db::domains::Domain;
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::{BaseUrl, JsonBody, QueryMap};
use common::Result;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Identity>> {
    Router::new()
        .route("/v3/domains", get(list).post(create))
        .route("/v3/domains/{id}", get(show).patch(update).delete(delete))
}

pub fn render(d: &Domain, base: &str) -> Value {
    with_extra(
        json!({
            "id": d.id,
            "name": d.name,
            "description": d.description,
            "enabled": d.enabled,
            "tags": [],
            "options": {},
            "links": {"self": format!("{base}/v3/domains/{}", d.id)},
        }),
        &d.extra,
    )
}

#[utoipa::path(
    get,
    path = "/v3/domains",
    operation_id = "domains_list",
    tag = "domains",
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    let items = id
        .list_domains(&ctx, q.get("name"), q.flag("enabled")?)
        .await?;
    list_body(
        &id,
        "domains",
        items.iter().map(|d| render(d, &base)).collect(),
        &base,
        "/v3/domains",
        &q,
    )
}

#[utoipa::path(
    post,
    path = "/v3/domains",
    operation_id = "domains_create",
    tag = "domains",
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn create(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let input: DomainInput = envelope(body, "domain")?;
    let d = id.create_domain(&ctx, input).await?;
    Ok(created(json!({"domain": render(&d, &base)})))
}

#[utoipa::path(
    get,
    path = "/v3/domains/{id}",
    operation_id = "domains_show",
    tag = "domains",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(did): Path<String>,
) -> Result<Json<Value>> {
    let d = id.get_domain(&ctx, &did).await?;
    Ok(Json(json!({"domain": render(&d, &base)})))
}

#[utoipa::path(
    patch,
    path = "/v3/domains/{id}",
    operation_id = "domains_update",
    tag = "domains",
    params(("id" = String, Path)),
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn update(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(did): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let input: DomainInput = envelope(body, "domain")?;
    let d = id.update_domain(&ctx, &did, input).await?;
    Ok(Json(json!({"domain": render(&d, &base)})))
}

#[utoipa::path(
    delete,
    path = "/v3/domains/{id}",
    operation_id = "domains_delete",
    tag = "domains",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete(S(id): State, Auth(ctx): Auth, Path(did): Path<String>) -> Result<StatusCode> {
    id.delete_domain(&ctx, &did).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! `/v3/policies`.

use super::{created, envelope, list_body, with_extra, State};
use crate::app::policies::PolicyInput;
use crate::db::policies::PolicyBlob;
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
        .route("/v3/policies", get(list).post(create))
        .route("/v3/policies/{id}", get(show).patch(update).delete(delete))
}

pub fn render(p: &PolicyBlob, base: &str) -> Value {
    with_extra(
        json!({"id": p.id, "type": p.policy_type, "blob": p.blob, "links": {"self": format!("{base}/v3/policies/{}", p.id)}}),
        &p.extra,
    )
}

#[utoipa::path(
    get,
    path = "/v3/policies",
    operation_id = "policies_list",
    tag = "policies",
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
    let items = id.list_policies(&ctx, &q).await?;
    list_body(
        &id,
        "policies",
        items.iter().map(|p| render(p, &base)).collect(),
        &base,
        "/v3/policies",
        &q,
    )
}

#[utoipa::path(
    post,
    path = "/v3/policies",
    operation_id = "policies_create",
    tag = "policies",
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
    let input: PolicyInput = envelope(body, "policy")?;
    Ok(created(
        json!({"policy": render(&id.create_policy(&ctx, input).await?, &base)}),
    ))
}

#[utoipa::path(
    get,
    path = "/v3/policies/{id}",
    operation_id = "policies_show",
    tag = "policies",
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
    Path(pid): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(
        json!({"policy": render(&id.get_policy(&ctx, &pid).await?, &base)}),
    ))
}

#[utoipa::path(
    patch,
    path = "/v3/policies/{id}",
    operation_id = "policies_update",
    tag = "policies",
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
    Path(pid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let input: PolicyInput = envelope(body, "policy")?;
    Ok(Json(
        json!({"policy": render(&id.update_policy(&ctx, &pid, input).await?, &base)}),
    ))
}

#[utoipa::path(
    delete,
    path = "/v3/policies/{id}",
    operation_id = "policies_delete",
    tag = "policies",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete(S(id): State, Auth(ctx): Auth, Path(pid): Path<String>) -> Result<StatusCode> {
    id.delete_policy(&ctx, &pid).await?;
    Ok(StatusCode::NO_CONTENT)
}

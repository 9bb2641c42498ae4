//! `/v3/policies`.

use super::{created, envelope, extra_without, paged, SelfLink, State};
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
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use utoipa::ToSchema;

pub fn routes() -> Router<Arc<crate::Identity>> {
    Router::new()
        .route("/v3/policies", get(list).post(create))
        .route("/v3/policies/{id}", get(show).patch(update).delete(delete))
}

/// A policy blob, with the extra attributes stored on it.
#[derive(Serialize, ToSchema)]
pub struct PolicyBody {
    pub id: String,
    #[serde(rename = "type")]
    pub policy_type: String,
    pub blob: String,
    pub links: SelfLink,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"policy": …}`.
#[derive(Serialize, ToSchema)]
pub struct PolicyEnvelope {
    pub policy: PolicyBody,
}

super::list_type!(PolicyList, policies, PolicyBody, "A list of policies.");

pub fn render(p: &PolicyBlob, base: &str) -> PolicyBody {
    PolicyBody {
        id: p.id.clone(),
        policy_type: p.policy_type.clone(),
        blob: p.blob.clone(),
        links: SelfLink {
            self_: format!("{base}/v3/policies/{}", p.id),
        },
        extra: extra_without(&p.extra, &["id", "type", "blob", "links"]),
    }
}

#[utoipa::path(
    get,
    path = "/v3/policies",
    operation_id = "policies_list",
    tag = "policies",
    responses(
        (status = 200, description = "OK", body = PolicyList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<PolicyList>> {
    let items = id.list_policies(&ctx, &q).await?;
    paged(
        &id,
        items.iter().map(|p| render(p, &base)).collect(),
        |x| x.id.as_str(),
        &base,
        "/v3/policies",
        &q,
    )
    .map(|p| Json(p.into()))
}

#[utoipa::path(
    post,
    path = "/v3/policies",
    operation_id = "policies_create",
    tag = "policies",
    request_body(content = PolicyCreateRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = PolicyEnvelope),
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
    Ok(created(PolicyEnvelope {
        policy: render(&id.create_policy(&ctx, input).await?, &base),
    }))
}

#[utoipa::path(
    get,
    path = "/v3/policies/{id}",
    operation_id = "policies_show",
    tag = "policies",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = PolicyEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(pid): Path<String>,
) -> Result<Json<PolicyEnvelope>> {
    Ok(Json(PolicyEnvelope {
        policy: render(&id.get_policy(&ctx, &pid).await?, &base),
    }))
}

#[utoipa::path(
    patch,
    path = "/v3/policies/{id}",
    operation_id = "policies_update",
    tag = "policies",
    params(("id" = String, Path)),
    request_body(content = PolicyUpdateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = PolicyEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn update(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(pid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<PolicyEnvelope>> {
    let input: PolicyInput = envelope(body, "policy")?;
    Ok(Json(PolicyEnvelope {
        policy: render(&id.update_policy(&ctx, &pid, input).await?, &base),
    }))
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

/// `POST` body: `{"policy": …}`, read as `app::policies::PolicyInput`.
#[derive(serde::Deserialize, ToSchema)]
pub struct PolicyCreateRequest {
    pub policy: PolicyCreate,
}

/// A new policy.
#[derive(serde::Deserialize, ToSchema)]
pub struct PolicyCreate {
    /// The serialized policy.
    pub blob: String,
    /// The MIME type of the blob.
    #[serde(rename = "type")]
    pub policy_type: String,
    /// Any other attribute is stored with the policy and shown back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `PATCH` body: `{"policy": …}`, read as `app::policies::PolicyInput`; only the
/// attributes given change.
#[derive(serde::Deserialize, ToSchema)]
pub struct PolicyUpdateRequest {
    pub policy: PolicyUpdate,
}

/// The attributes of a policy to change.
#[derive(serde::Deserialize, ToSchema)]
pub struct PolicyUpdate {
    pub blob: Option<String>,
    #[serde(rename = "type")]
    pub policy_type: Option<String>,
    /// Any other attribute is stored with the policy and shown back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

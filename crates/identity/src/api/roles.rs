//! `/v3/roles`, `/v3/roles/{prior}/implies[/{implied}]`, `/v3/role_inferences`.

use super::{created, envelope, extra_without, page_of, ListLinks, SelfLink, State};
use crate::app::roles::RoleInput;
use crate::db::roles::Role;
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
        .route("/v3/roles", get(list).post(create))
        .route("/v3/roles/{id}", get(show).patch(update).delete(delete))
        .route("/v3/roles/{id}/implies", get(list_implies))
        .route(
            "/v3/roles/{id}/implies/{implied}",
            get(get_implied)
                .head(check_implied)
                .put(put_implied)
                .delete(delete_implied),
        )
        .route("/v3/role_inferences", get(inferences))
}

/// A role as Keystone shows it (`domain_id` null for a global role), with
/// the extra attributes stored on it.
#[derive(Serialize, ToSchema)]
pub struct RoleBody {
    pub id: String,
    pub name: String,
    pub domain_id: Option<String>,
    pub description: String,
    pub options: Map<String, Value>,
    pub links: SelfLink,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"role": …}`.
#[derive(Serialize, ToSchema)]
pub struct RoleEnvelope {
    pub role: RoleBody,
}

super::list_type!(RoleList, roles, RoleBody, "A list of roles.");

pub fn render(r: &Role, base: &str) -> RoleBody {
    RoleBody {
        id: r.id.clone(),
        name: r.name.clone(),
        domain_id: r.domain_id.clone(),
        description: r.description.clone(),
        options: r.options.clone(),
        links: SelfLink {
            self_: format!("{base}/v3/roles/{}", r.id),
        },
        extra: extra_without(
            &r.extra,
            &["id", "name", "domain_id", "description", "options", "links"],
        ),
    }
}

/// A role as an implication or a delegation names it.
#[derive(Serialize, ToSchema)]
pub struct RoleBrief {
    pub id: String,
    pub name: String,
    pub links: SelfLink,
}

pub fn brief(r: &Role, base: &str) -> RoleBrief {
    RoleBrief {
        id: r.id.clone(),
        name: r.name.clone(),
        links: SelfLink {
            self_: format!("{base}/v3/roles/{}", r.id),
        },
    }
}

/// One implication: the prior role and the role it implies.
#[derive(Serialize, ToSchema)]
pub struct RoleInference {
    pub prior_role: RoleBrief,
    pub implies: RoleBrief,
}

/// `/v3/roles/{prior}/implies/{implied}`.
#[derive(Serialize, ToSchema)]
pub struct RoleInferenceEnvelope {
    pub role_inference: RoleInference,
    pub links: SelfLink,
}

/// A prior role and every role it implies directly.
#[derive(Serialize, ToSchema)]
pub struct PriorRoleInference {
    pub prior_role: RoleBrief,
    pub implies: Vec<RoleBrief>,
}

/// `GET /v3/roles/{prior}/implies`.
#[derive(Serialize, ToSchema)]
pub struct ImpliedRoles {
    pub role_inference: PriorRoleInference,
    pub links: SelfLink,
}

/// `GET /v3/role_inferences`.
#[derive(Serialize, ToSchema)]
pub struct RoleInferences {
    pub role_inferences: Vec<PriorRoleInference>,
    pub links: ListLinks,
}

fn prior_inference(p: &Role, implies: &[Role], base: &str) -> PriorRoleInference {
    PriorRoleInference {
        prior_role: brief(p, base),
        implies: implies.iter().map(|r| brief(r, base)).collect(),
    }
}

#[utoipa::path(
    get,
    path = "/v3/roles",
    operation_id = "roles_list",
    tag = "roles",
    responses(
        (status = 200, description = "OK", body = RoleList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<RoleList>> {
    let page = id.list_roles(&ctx, &q).await?;
    Ok(Json(
        page_of(
            page.items.iter().map(|r| render(r, &base)).collect(),
            page.next_marker.as_deref(),
            &base,
            "/v3/roles",
            &q,
        )
        .into(),
    ))
}

#[utoipa::path(
    post,
    path = "/v3/roles",
    operation_id = "roles_create",
    tag = "roles",
    request_body(content = RoleCreateRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = RoleEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn create(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let input: RoleInput = envelope(body, "role")?;
    let r = id.create_role(&ctx, input).await?;
    Ok(created(RoleEnvelope {
        role: render(&r, &base),
    }))
}

#[utoipa::path(
    get,
    path = "/v3/roles/{id}",
    operation_id = "roles_show",
    tag = "roles",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = RoleEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(rid): Path<String>,
) -> Result<Json<RoleEnvelope>> {
    let r = id.get_role(&ctx, &rid).await?;
    Ok(Json(RoleEnvelope {
        role: render(&r, &base),
    }))
}

#[utoipa::path(
    patch,
    path = "/v3/roles/{id}",
    operation_id = "roles_update",
    tag = "roles",
    params(("id" = String, Path)),
    request_body(content = RoleUpdateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = RoleEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn update(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(rid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<RoleEnvelope>> {
    let input: RoleInput = envelope(body, "role")?;
    let r = id.update_role(&ctx, &rid, input).await?;
    Ok(Json(RoleEnvelope {
        role: render(&r, &base),
    }))
}

#[utoipa::path(
    delete,
    path = "/v3/roles/{id}",
    operation_id = "roles_delete",
    tag = "roles",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete(S(id): State, Auth(ctx): Auth, Path(rid): Path<String>) -> Result<StatusCode> {
    id.delete_role(&ctx, &rid).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn inference(p: &Role, i: &Role, base: &str) -> RoleInferenceEnvelope {
    RoleInferenceEnvelope {
        role_inference: RoleInference {
            prior_role: brief(p, base),
            implies: brief(i, base),
        },
        links: SelfLink {
            self_: format!("{base}/v3/roles/{}/implies/{}", p.id, i.id),
        },
    }
}

#[utoipa::path(
    put,
    path = "/v3/roles/{id}/implies/{implied}",
    operation_id = "roles_put_implied",
    tag = "roles",
    params(("id" = String, Path), ("implied" = String, Path)),
    responses(
        (status = 201, description = "Created", body = RoleInferenceEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn put_implied(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path((p, i)): Path<(String, String)>,
) -> Result<Response> {
    let (pr, ir) = id.create_implied_role(&ctx, &p, &i).await?;
    Ok(created(inference(&pr, &ir, &base)))
}

#[utoipa::path(
    get,
    path = "/v3/roles/{id}/implies/{implied}",
    operation_id = "roles_get_implied",
    tag = "roles",
    params(("id" = String, Path), ("implied" = String, Path)),
    responses(
        (status = 200, description = "OK", body = RoleInferenceEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn get_implied(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path((p, i)): Path<(String, String)>,
) -> Result<Json<RoleInferenceEnvelope>> {
    let (pr, ir) = id
        .check_implied_role(&ctx, "identity:get_implied_role", &p, &i)
        .await?;
    Ok(Json(inference(&pr, &ir, &base)))
}

#[utoipa::path(
    head,
    path = "/v3/roles/{id}/implies/{implied}",
    operation_id = "roles_check_implied",
    tag = "roles",
    params(("id" = String, Path), ("implied" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn check_implied(
    S(id): State,
    Auth(ctx): Auth,
    Path((p, i)): Path<(String, String)>,
) -> Result<StatusCode> {
    id.check_implied_role(&ctx, "identity:check_implied_role", &p, &i)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/v3/roles/{id}/implies/{implied}",
    operation_id = "roles_delete_implied",
    tag = "roles",
    params(("id" = String, Path), ("implied" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete_implied(
    S(id): State,
    Auth(ctx): Auth,
    Path((p, i)): Path<(String, String)>,
) -> Result<StatusCode> {
    id.delete_implied_role(&ctx, &p, &i).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v3/roles/{id}/implies",
    operation_id = "roles_list_implies",
    tag = "roles",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = ImpliedRoles),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list_implies(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(p): Path<String>,
) -> Result<Json<ImpliedRoles>> {
    let inf = id.role_inferences(&ctx, Some(&p)).await?;
    let (prior, implies) = inf
        .into_iter()
        .next()
        .ok_or_else(|| crate::app::roles::not_found(&p))?;
    Ok(Json(ImpliedRoles {
        role_inference: prior_inference(&prior, &implies, &base),
        links: SelfLink {
            self_: format!("{base}/v3/roles/{p}/implies"),
        },
    }))
}

#[utoipa::path(
    get,
    path = "/v3/role_inferences",
    operation_id = "roles_inferences",
    tag = "roles",
    responses(
        (status = 200, description = "OK", body = RoleInferences),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn inferences(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
) -> Result<Json<RoleInferences>> {
    let inf = id.role_inferences(&ctx, None).await?;
    Ok(Json(RoleInferences {
        role_inferences: inf
            .iter()
            .map(|(p, is)| prior_inference(p, is, &base))
            .collect(),
        links: ListLinks::only_self(format!("{base}/v3/role_inferences")),
    }))
}

/// `POST` body: `{"role": …}`, read as `app::roles::RoleInput`.
#[derive(serde::Deserialize, ToSchema)]
pub struct RoleCreateRequest {
    pub role: RoleCreate,
}

/// A new role.
#[derive(serde::Deserialize, ToSchema)]
pub struct RoleCreate {
    pub name: String,
    /// Set for a domain-specific role.
    pub domain_id: Option<String>,
    pub description: Option<String>,
    pub options: Option<Map<String, Value>>,
    /// Any other attribute is stored with the role and shown back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `PATCH` body: `{"role": …}`, read as `app::roles::RoleInput`; only the
/// attributes given change.
#[derive(serde::Deserialize, ToSchema)]
pub struct RoleUpdateRequest {
    pub role: RoleUpdate,
}

/// The attributes of a role to change.
#[derive(serde::Deserialize, ToSchema)]
pub struct RoleUpdate {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub description: Option<String>,
    pub options: Option<Map<String, Value>>,
    /// Any other attribute is stored with the role and shown back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

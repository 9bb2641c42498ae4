//! `/v3/groups` and `/v3/groups/{id}/users`.

use super::{created, envelope, extra_without, page_of, paged, SelfLink, State};
use crate::app::groups::{GroupInput, Membership};
use crate::db::groups::Group;
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
        .route("/v3/groups", get(list).post(create))
        .route("/v3/groups/{id}", get(show).patch(update).delete(delete))
        .route("/v3/groups/{id}/users", get(users))
        .route(
            "/v3/groups/{id}/users/{user_id}",
            get(check).head(check).put(add).delete(remove),
        )
}

/// A group as Keystone shows it, with the extra attributes stored on it.
#[derive(Serialize, ToSchema)]
pub struct GroupBody {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub description: String,
    pub links: SelfLink,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"group": …}`.
#[derive(Serialize, ToSchema)]
pub struct GroupEnvelope {
    pub group: GroupBody,
}

super::list_type!(GroupList, groups, GroupBody, "A list of groups.");

pub fn render(g: &Group, base: &str) -> GroupBody {
    GroupBody {
        id: g.id.clone(),
        name: g.name.clone(),
        domain_id: g.domain_id.clone(),
        description: g.description.clone(),
        links: SelfLink {
            self_: format!("{base}/v3/groups/{}", g.id),
        },
        extra: extra_without(
            &g.extra,
            &["id", "name", "domain_id", "description", "links"],
        ),
    }
}

#[utoipa::path(
    get,
    path = "/v3/groups",
    operation_id = "groups_list",
    tag = "groups",
    responses(
        (status = 200, description = "OK", body = GroupList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<GroupList>> {
    let page = id.list_groups(&ctx, &q).await?;
    Ok(Json(
        page_of(
            page.items.iter().map(|g| render(g, &base)).collect(),
            page.next_marker.as_deref(),
            &base,
            "/v3/groups",
            &q,
        )
        .into(),
    ))
}

#[utoipa::path(
    post,
    path = "/v3/groups",
    operation_id = "groups_create",
    tag = "groups",
    request_body(content = GroupCreateRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = GroupEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn create(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let input: GroupInput = envelope(body, "group")?;
    let g = id.create_group(&ctx, input).await?;
    Ok(created(GroupEnvelope {
        group: render(&g, &base),
    }))
}

#[utoipa::path(
    get,
    path = "/v3/groups/{id}",
    operation_id = "groups_show",
    tag = "groups",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = GroupEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(gid): Path<String>,
) -> Result<Json<GroupEnvelope>> {
    let g = id.get_group(&ctx, &gid).await?;
    Ok(Json(GroupEnvelope {
        group: render(&g, &base),
    }))
}

#[utoipa::path(
    patch,
    path = "/v3/groups/{id}",
    operation_id = "groups_update",
    tag = "groups",
    params(("id" = String, Path)),
    request_body(content = GroupUpdateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = GroupEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn update(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(gid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<GroupEnvelope>> {
    let input: GroupInput = envelope(body, "group")?;
    let g = id.update_group(&ctx, &gid, input).await?;
    Ok(Json(GroupEnvelope {
        group: render(&g, &base),
    }))
}

#[utoipa::path(
    delete,
    path = "/v3/groups/{id}",
    operation_id = "groups_delete",
    tag = "groups",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete(S(id): State, Auth(ctx): Auth, Path(gid): Path<String>) -> Result<StatusCode> {
    id.delete_group(&ctx, &gid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v3/groups/{id}/users",
    operation_id = "groups_users",
    tag = "groups",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = super::users::UserList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn users(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(gid): Path<String>,
    q: QueryMap,
) -> Result<Json<super::users::UserList>> {
    let items = id.list_group_users(&ctx, &gid).await?;
    let path = format!("/v3/groups/{gid}/users");
    paged(
        &id,
        items
            .iter()
            .map(|u| super::users::render(u, &base))
            .collect(),
        |x| x.id.as_str(),
        &base,
        &path,
        &q,
    )
    .map(|p| Json(p.into()))
}

#[utoipa::path(
    method(get, head),
    path = "/v3/groups/{id}/users/{user_id}",
    operation_id = "groups_check",
    tag = "groups",
    params(("id" = String, Path), ("user_id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn check(
    S(id): State,
    Auth(ctx): Auth,
    Path((gid, uid)): Path<(String, String)>,
) -> Result<StatusCode> {
    id.group_membership(&ctx, &gid, &uid, Membership::Check)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    put,
    path = "/v3/groups/{id}/users/{user_id}",
    operation_id = "groups_add",
    tag = "groups",
    params(("id" = String, Path), ("user_id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn add(
    S(id): State,
    Auth(ctx): Auth,
    Path((gid, uid)): Path<(String, String)>,
) -> Result<StatusCode> {
    id.group_membership(&ctx, &gid, &uid, Membership::Add)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/v3/groups/{id}/users/{user_id}",
    operation_id = "groups_remove",
    tag = "groups",
    params(("id" = String, Path), ("user_id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn remove(
    S(id): State,
    Auth(ctx): Auth,
    Path((gid, uid)): Path<(String, String)>,
) -> Result<StatusCode> {
    id.group_membership(&ctx, &gid, &uid, Membership::Remove)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST` body: `{"group": …}`, read as `app::groups::GroupInput`.
#[derive(serde::Deserialize, ToSchema)]
pub struct GroupCreateRequest {
    pub group: GroupCreate,
}

/// A new group.
#[derive(serde::Deserialize, ToSchema)]
pub struct GroupCreate {
    pub name: String,
    pub domain_id: Option<String>,
    pub description: Option<String>,
    /// Any other attribute is stored with the group and shown back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `PATCH` body: `{"group": …}`, read as `app::groups::GroupInput`; only the
/// attributes given change.
#[derive(serde::Deserialize, ToSchema)]
pub struct GroupUpdateRequest {
    pub group: GroupUpdate,
}

/// The attributes of a group to change.
#[derive(serde::Deserialize, ToSchema)]
pub struct GroupUpdate {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub description: Option<String>,
    /// Any other attribute is stored with the group and shown back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

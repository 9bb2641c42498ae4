//! `/v3/users`, `/v3/users/{id}/password`, `/v3/users/{id}/groups`,
//! `/v3/users/{id}/projects`.

use super::{created, envelope, extra_without, page_of, paged, SelfLink, State};
use crate::app::users::{PasswordChange, UserInput};
use crate::db::users::User;
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
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
        .route("/v3/users", get(list).post(create))
        .route("/v3/users/{id}", get(show).patch(update).delete(delete))
        .route("/v3/users/{id}/password", post(change_password))
        .route("/v3/users/{id}/groups", get(groups))
        .route("/v3/users/{id}/projects", get(projects))
}

/// A user as Keystone shows it (`default_project_id` only when set), with
/// the extra attributes stored on it.
#[derive(Serialize, ToSchema)]
pub struct UserBody {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub enabled: bool,
    /// Null unless passwords expire.
    pub password_expires_at: Option<String>,
    pub options: Map<String, Value>,
    pub links: SelfLink,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_project_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"user": …}`.
#[derive(Serialize, ToSchema)]
pub struct UserEnvelope {
    pub user: UserBody,
}

super::list_type!(UserList, users, UserBody, "A list of users.");

pub fn render(u: &User, base: &str) -> UserBody {
    let mut own = vec![
        "id",
        "name",
        "domain_id",
        "enabled",
        "password_expires_at",
        "options",
        "links",
    ];
    if u.default_project_id.is_some() {
        own.push("default_project_id");
    }
    UserBody {
        id: u.id.clone(),
        name: u.name.clone(),
        domain_id: u.domain_id.clone(),
        enabled: u.enabled,
        password_expires_at: u.password_expires_at.map(common::clock::iso_seconds),
        options: u.options.clone(),
        links: SelfLink {
            self_: format!("{base}/v3/users/{}", u.id),
        },
        default_project_id: u.default_project_id.clone(),
        extra: extra_without(&u.extra, &own),
    }
}

#[utoipa::path(
    get,
    path = "/v3/users",
    operation_id = "users_list",
    tag = "users",
    responses(
        (status = 200, description = "OK", body = UserList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<UserList>> {
    let page = id.list_users(&ctx, &q).await?;
    Ok(Json(
        page_of(
            page.items.iter().map(|u| render(u, &base)).collect(),
            page.next_marker.as_deref(),
            &base,
            "/v3/users",
            &q,
        )
        .into(),
    ))
}

#[utoipa::path(
    post,
    path = "/v3/users",
    operation_id = "users_create",
    tag = "users",
    request_body(content = UserCreateRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = UserEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn create(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let input: UserInput = envelope(body, "user")?;
    let u = id.create_user(&ctx, input).await?;
    Ok(created(UserEnvelope {
        user: render(&u, &base),
    }))
}

#[utoipa::path(
    get,
    path = "/v3/users/{id}",
    operation_id = "users_show",
    tag = "users",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = UserEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
) -> Result<Json<UserEnvelope>> {
    let u = id.get_user(&ctx, &uid).await?;
    Ok(Json(UserEnvelope {
        user: render(&u, &base),
    }))
}

#[utoipa::path(
    patch,
    path = "/v3/users/{id}",
    operation_id = "users_update",
    tag = "users",
    params(("id" = String, Path)),
    request_body(content = UserUpdateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = UserEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn update(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<UserEnvelope>> {
    let input: UserInput = envelope(body, "user")?;
    let u = id.update_user(&ctx, &uid, input).await?;
    Ok(Json(UserEnvelope {
        user: render(&u, &base),
    }))
}

#[utoipa::path(
    delete,
    path = "/v3/users/{id}",
    operation_id = "users_delete",
    tag = "users",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete(S(id): State, Auth(ctx): Auth, Path(uid): Path<String>) -> Result<StatusCode> {
    id.delete_user(&ctx, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/v3/users/{id}/password",
    operation_id = "users_change_password",
    tag = "users",
    params(("id" = String, Path)),
    request_body(content = PasswordChangeRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn change_password(
    S(id): State,
    Path(uid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<StatusCode> {
    let change: PasswordChange = envelope(body, "user")?;
    id.change_password(&uid, change).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v3/users/{id}/groups",
    operation_id = "users_groups",
    tag = "users",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = super::groups::GroupList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn groups(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
    q: QueryMap,
) -> Result<Json<super::groups::GroupList>> {
    let items = id.list_user_groups(&ctx, &uid).await?;
    let path = format!("/v3/users/{uid}/groups");
    paged(
        &id,
        items
            .iter()
            .map(|g| super::groups::render(g, &base))
            .collect(),
        |x| x.id.as_str(),
        &base,
        &path,
        &q,
    )
    .map(|p| Json(p.into()))
}

#[utoipa::path(
    get,
    path = "/v3/users/{id}/projects",
    operation_id = "users_projects",
    tag = "users",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = super::projects::ProjectList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn projects(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
    q: QueryMap,
) -> Result<Json<super::projects::ProjectList>> {
    let items = id.list_user_projects(&ctx, &uid).await?;
    let items = crate::app::projects::filter_projects(items, &q)?;
    let path = format!("/v3/users/{uid}/projects");
    paged(
        &id,
        items
            .iter()
            .map(|p| super::projects::render(p, &base))
            .collect(),
        |x| x.id.as_str(),
        &base,
        &path,
        &q,
    )
    .map(|p| Json(p.into()))
}

/// `POST` body: `{"user": …}`, read as `app::users::UserInput`.
#[derive(serde::Deserialize, ToSchema)]
pub struct UserCreateRequest {
    pub user: UserCreate,
}

/// A new user.
#[derive(serde::Deserialize, ToSchema)]
pub struct UserCreate {
    pub name: String,
    pub domain_id: Option<String>,
    pub password: Option<String>,
    pub enabled: Option<bool>,
    pub default_project_id: Option<String>,
    pub options: Option<Map<String, Value>>,
    /// Any other attribute is stored with the user and shown back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `PATCH` body: `{"user": …}`, read as `app::users::UserInput`; only the
/// attributes given change.
#[derive(serde::Deserialize, ToSchema)]
pub struct UserUpdateRequest {
    pub user: UserUpdate,
}

/// The attributes of a user to change.
#[derive(serde::Deserialize, ToSchema)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    /// Null removes the password.
    pub password: Option<String>,
    pub enabled: Option<bool>,
    /// Null clears it.
    pub default_project_id: Option<String>,
    pub options: Option<Map<String, Value>>,
    /// Any other attribute is stored with the user and shown back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /v3/users/{id}/password` body: `{"user": …}`, the new and the
/// original password; no token is needed.
#[derive(serde::Deserialize, ToSchema)]
pub struct PasswordChangeRequest {
    pub user: PasswordChange,
}

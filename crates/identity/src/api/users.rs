//! `/v3/users`, `/v3/users/{id}/password`, `/v3/users/{id}/groups`,
//! `/v3/users/{id}/projects`.

use super::{created, envelope, list_body, page_body, with_extra, State};
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
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Identity>> {
    Router::new()
        .route("/v3/users", get(list).post(create))
        .route("/v3/users/{id}", get(show).patch(update).delete(delete))
        .route("/v3/users/{id}/password", post(change_password))
        .route("/v3/users/{id}/groups", get(groups))
        .route("/v3/users/{id}/projects", get(projects))
}

pub fn render(u: &User, base: &str) -> Value {
    let mut v = json!({
        "id": u.id,
        "name": u.name,
        "domain_id": u.domain_id,
        "enabled": u.enabled,
        "password_expires_at": u.password_expires_at.map(common::clock::iso_seconds),
        "options": u.options,
        "links": {"self": format!("{base}/v3/users/{}", u.id)},
    });
    if let Some(dp) = &u.default_project_id {
        v["default_project_id"] = json!(dp);
    }
    with_extra(v, &u.extra)
}

async fn list(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    let page = id.list_users(&ctx, &q).await?;
    Ok(page_body(
        "users",
        page.items.iter().map(|u| render(u, &base)).collect(),
        page.next_marker.as_deref(),
        &base,
        "/v3/users",
        &q,
    ))
}

async fn create(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let input: UserInput = envelope(body, "user")?;
    let u = id.create_user(&ctx, input).await?;
    Ok(created(json!({"user": render(&u, &base)})))
}

async fn show(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
) -> Result<Json<Value>> {
    let u = id.get_user(&ctx, &uid).await?;
    Ok(Json(json!({"user": render(&u, &base)})))
}

async fn update(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let input: UserInput = envelope(body, "user")?;
    let u = id.update_user(&ctx, &uid, input).await?;
    Ok(Json(json!({"user": render(&u, &base)})))
}

async fn delete(S(id): State, Auth(ctx): Auth, Path(uid): Path<String>) -> Result<StatusCode> {
    id.delete_user(&ctx, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn change_password(
    S(id): State,
    Path(uid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<StatusCode> {
    let change: PasswordChange = envelope(body, "user")?;
    id.change_password(&uid, change).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn groups(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
    q: QueryMap,
) -> Result<Json<Value>> {
    let items = id.list_user_groups(&ctx, &uid).await?;
    let path = format!("/v3/users/{uid}/groups");
    list_body(
        &id,
        "groups",
        items
            .iter()
            .map(|g| super::groups::render(g, &base))
            .collect(),
        &base,
        &path,
        &q,
    )
}

async fn projects(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
    q: QueryMap,
) -> Result<Json<Value>> {
    let items = id.list_user_projects(&ctx, &uid).await?;
    let items = crate::app::projects::filter_projects(items, &q)?;
    let path = format!("/v3/users/{uid}/projects");
    list_body(
        &id,
        "projects",
        items
            .iter()
            .map(|p| super::projects::render(p, &base))
            .collect(),
        &base,
        &path,
        &q,
    )
}

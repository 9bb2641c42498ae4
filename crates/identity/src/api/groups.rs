//! `/v3/groups` and `/v3/groups/{id}/users`.

use super::{created, envelope, list_body, page_body, with_extra, State};
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
use serde_json::{json, Value};
use std::sync::Arc;

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

pub fn render(g: &Group, base: &str) -> Value {
    with_extra(
        json!({
            "id": g.id,
            "name": g.name,
            "domain_id": g.domain_id,
            "description": g.description,
            "links": {"self": format!("{base}/v3/groups/{}", g.id)},
        }),
        &g.extra,
    )
}

async fn list(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    let page = id.list_groups(&ctx, &q).await?;
    Ok(page_body(
        "groups",
        page.items.iter().map(|g| render(g, &base)).collect(),
        page.next_marker.as_deref(),
        &base,
        "/v3/groups",
        &q,
    ))
}

async fn create(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let input: GroupInput = envelope(body, "group")?;
    let g = id.create_group(&ctx, input).await?;
    Ok(created(json!({"group": render(&g, &base)})))
}

async fn show(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(gid): Path<String>,
) -> Result<Json<Value>> {
    let g = id.get_group(&ctx, &gid).await?;
    Ok(Json(json!({"group": render(&g, &base)})))
}

async fn update(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(gid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let input: GroupInput = envelope(body, "group")?;
    let g = id.update_group(&ctx, &gid, input).await?;
    Ok(Json(json!({"group": render(&g, &base)})))
}

async fn delete(S(id): State, Auth(ctx): Auth, Path(gid): Path<String>) -> Result<StatusCode> {
    id.delete_group(&ctx, &gid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn users(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(gid): Path<String>,
    q: QueryMap,
) -> Result<Json<Value>> {
    let items = id.list_group_users(&ctx, &gid).await?;
    let path = format!("/v3/groups/{gid}/users");
    list_body(
        &id,
        "users",
        items
            .iter()
            .map(|u| super::users::render(u, &base))
            .collect(),
        &base,
        &path,
        &q,
    )
}

async fn check(
    S(id): State,
    Auth(ctx): Auth,
    Path((gid, uid)): Path<(String, String)>,
) -> Result<StatusCode> {
    id.group_membership(&ctx, &gid, &uid, Membership::Check)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn add(
    S(id): State,
    Auth(ctx): Auth,
    Path((gid, uid)): Path<(String, String)>,
) -> Result<StatusCode> {
    id.group_membership(&ctx, &gid, &uid, Membership::Add)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove(
    S(id): State,
    Auth(ctx): Auth,
    Path((gid, uid)): Path<(String, String)>,
) -> Result<StatusCode> {
    id.group_membership(&ctx, &gid, &uid, Membership::Remove)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

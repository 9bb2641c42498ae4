//! `/v2/images/{id}/members` and `/v2/images/{id}/members/{member_id}`.

use super::State;
use crate::db::members::Member;
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::clock::iso_seconds;
use common::http::JsonBody;
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Image>> {
    Router::new()
        .route("/v2/images/{id}/members", get(list).post(create))
        .route(
            "/v2/images/{id}/members/{member_id}",
            get(show).put(update).delete(delete),
        )
}

pub fn render(m: &Member) -> Value {
    json!({
        "image_id": m.image_id,
        "member_id": m.member_id,
        "status": m.status,
        "created_at": iso_seconds(m.created_at),
        "updated_at": iso_seconds(m.updated_at),
        "schema": "/v2/schemas/member",
    })
}

fn string_field(body: &Value, key: &str) -> Result<String> {
    body.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            Error::bad_request(format!(
                "Provided object does not match schema 'member': '{key}' is a required property of type 'string'"
            ))
        })
}

async fn list(S(g): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<Json<Value>> {
    let members = g.list_members(&ctx, &id).await?;
    Ok(Json(json!({
        "members": members.iter().map(render).collect::<Vec<_>>(),
        "schema": "/v2/schemas/members",
    })))
}

async fn create(
    S(g): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let member = string_field(&body, "member")?;
    Ok(Json(render(&g.add_member(&ctx, &id, &member).await?)))
}

async fn show(
    S(g): State,
    Auth(ctx): Auth,
    Path((id, member)): Path<(String, String)>,
) -> Result<Json<Value>> {
    Ok(Json(render(&g.get_member(&ctx, &id, &member).await?)))
}

async fn update(
    S(g): State,
    Auth(ctx): Auth,
    Path((id, member)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let status = string_field(&body, "status")?;
    Ok(Json(render(
        &g.update_member(&ctx, &id, &member, &status).await?,
    )))
}

async fn delete(
    S(g): State,
    Auth(ctx): Auth,
    Path((id, member)): Path<(String, String)>,
) -> Result<StatusCode> {
    g.delete_member(&ctx, &id, &member).await?;
    Ok(StatusCode::NO_CONTENT)
}

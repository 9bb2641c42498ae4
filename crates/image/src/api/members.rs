//! `/v2/images/{id}/members` and `/v2/images/{id}/members/{member_id}`.

use super::GlanceErrors;
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
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

pub fn routes() -> Router<Arc<crate::Image>> {
    Router::new()
        .route("/v2/images/{id}/members", get(list).post(create))
        .route(
            "/v2/images/{id}/members/{member_id}",
            get(show).put(update).delete(delete),
        )
}

/// An image member as Glance prints it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberBody {
    pub image_id: String,
    pub member_id: String,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
    pub schema: String,
}

impl From<&Member> for MemberBody {
    fn from(m: &Member) -> Self {
        MemberBody {
            image_id: m.image_id.clone(),
            member_id: m.member_id.clone(),
            status: m.status.clone(),
            created_at: iso_seconds(m.created_at),
            updated_at: iso_seconds(m.updated_at),
            schema: "/v2/schemas/member".into(),
        }
    }
}

/// `GET /v2/images/{id}/members`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    pub members: Vec<MemberBody>,
    pub schema: String,
}

/// `POST /v2/images/{id}/members`.
#[derive(Debug, ToSchema)]
pub struct MemberCreate {
    pub member: String,
}

/// `PUT /v2/images/{id}/members/{member_id}`.
#[derive(Debug, ToSchema)]
pub struct MemberUpdate {
    pub status: String,
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

#[utoipa::path(get, path = "/v2/images/{id}/members", tag = "members",
    params(("id" = String, Path)), responses((status = 200, body = MemberList), GlanceErrors))]
async fn list(S(g): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<Json<MemberList>> {
    let members = g.list_members(&ctx, &id).await?;
    Ok(Json(MemberList {
        members: members.iter().map(MemberBody::from).collect(),
        schema: "/v2/schemas/members".into(),
    }))
}

#[utoipa::path(post, path = "/v2/images/{id}/members", tag = "members",
    params(("id" = String, Path)),
    request_body(content = MemberCreate, content_type = "application/json"),
    responses((status = 200, body = MemberBody), GlanceErrors))]
async fn create(
    S(g): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<MemberBody>> {
    let member = string_field(&body, "member")?;
    Ok(Json(MemberBody::from(
        &g.add_member(&ctx, &id, &member).await?,
    )))
}

#[utoipa::path(get, path = "/v2/images/{id}/members/{member_id}", tag = "members",
    params(("id" = String, Path), ("member_id" = String, Path)),
    responses((status = 200, body = MemberBody), GlanceErrors))]
async fn show(
    S(g): State,
    Auth(ctx): Auth,
    Path((id, member)): Path<(String, String)>,
) -> Result<Json<MemberBody>> {
    Ok(Json(MemberBody::from(
        &g.get_member(&ctx, &id, &member).await?,
    )))
}

#[utoipa::path(put, path = "/v2/images/{id}/members/{member_id}", tag = "members",
    params(("id" = String, Path), ("member_id" = String, Path)),
    request_body(content = MemberUpdate, content_type = "application/json"),
    responses((status = 200, body = MemberBody), GlanceErrors))]
async fn update(
    S(g): State,
    Auth(ctx): Auth,
    Path((id, member)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<MemberBody>> {
    let status = string_field(&body, "status")?;
    Ok(Json(MemberBody::from(
        &g.update_member(&ctx, &id, &member, &status).await?,
    )))
}

#[utoipa::path(delete, path = "/v2/images/{id}/members/{member_id}", tag = "members",
    params(("id" = String, Path), ("member_id" = String, Path)),
    responses((status = 204), GlanceErrors))]
async fn delete(
    S(g): State,
    Auth(ctx): Auth,
    Path((id, member)): Path<(String, String)>,
) -> Result<StatusCode> {
    g.delete_member(&ctx, &id, &member).await?;
    Ok(StatusCode::NO_CONTENT)
}

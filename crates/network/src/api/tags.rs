//! `/v2.0/{collection}/{id}/tags` and `…/tags/{tag}` (standard-attr-tag).

use super::{NeutronErrors, State};
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::JsonBody;
use common::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

pub fn routes() -> Router<Arc<crate::Network>> {
    Router::new()
        .route(
            "/v2.0/{collection}/{id}/tags",
            get(list).put(replace).delete(remove_all),
        )
        .route(
            "/v2.0/{collection}/{id}/tags/{tag}",
            get(show).put(add).delete(remove),
        )
}

/// `{"tags": [...]}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Tags {
    pub tags: Vec<String>,
}

fn collection(c: &str) -> Result<&str> {
    crate::app::tags::COLLECTIONS
        .iter()
        .find(|k| **k == c)
        .copied()
        .ok_or_else(|| Error::not_found("The resource could not be found."))
}

#[utoipa::path(get, path = "/v2.0/{collection}/{id}/tags", tag = "tags",
    params(("collection" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Tags), NeutronErrors))]
async fn list(
    S(g): State,
    Auth(ctx): Auth,
    Path((c, id)): Path<(String, String)>,
) -> Result<Json<Tags>> {
    let tags = g.list_tags(&ctx, collection(&c)?, &id).await?;
    Ok(Json(Tags { tags }))
}

#[utoipa::path(put, path = "/v2.0/{collection}/{id}/tags", tag = "tags",
    params(("collection" = String, Path), ("id" = String, Path)),
    request_body(content = Tags, content_type = "application/json"),
    responses((status = 200, body = Tags), NeutronErrors))]
async fn replace(
    S(g): State,
    Auth(ctx): Auth,
    Path((c, id)): Path<(String, String)>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Json<Tags>> {
    let tags = g.replace_tags(&ctx, collection(&c)?, &id, b).await?;
    Ok(Json(Tags { tags }))
}

#[utoipa::path(delete, path = "/v2.0/{collection}/{id}/tags", tag = "tags",
    params(("collection" = String, Path), ("id" = String, Path)),
    responses((status = 204), NeutronErrors))]
async fn remove_all(
    S(g): State,
    Auth(ctx): Auth,
    Path((c, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    g.remove_tags(&ctx, collection(&c)?, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// 204 when the resource has the tag, else 404 `TagNotFound`.
#[utoipa::path(get, path = "/v2.0/{collection}/{id}/tags/{tag}", tag = "tags",
    params(("collection" = String, Path), ("id" = String, Path), ("tag" = String, Path)),
    responses((status = 204), NeutronErrors))]
async fn show(
    S(g): State,
    Auth(ctx): Auth,
    Path((c, id, tag)): Path<(String, String, String)>,
) -> Result<StatusCode> {
    g.has_tag(&ctx, collection(&c)?, &id, &tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/v2.0/{collection}/{id}/tags/{tag}", tag = "tags",
    params(("collection" = String, Path), ("id" = String, Path), ("tag" = String, Path)),
    responses((status = 201), NeutronErrors))]
async fn add(
    S(g): State,
    Auth(ctx): Auth,
    Path((c, id, tag)): Path<(String, String, String)>,
) -> Result<StatusCode> {
    g.add_tag(&ctx, collection(&c)?, &id, &tag).await?;
    Ok(StatusCode::CREATED)
}

#[utoipa::path(delete, path = "/v2.0/{collection}/{id}/tags/{tag}", tag = "tags",
    params(("collection" = String, Path), ("id" = String, Path), ("tag" = String, Path)),
    responses((status = 204), NeutronErrors))]
async fn remove(
    S(g): State,
    Auth(ctx): Auth,
    Path((c, id, tag)): Path<(String, String, String)>,
) -> Result<StatusCode> {
    g.remove_tag(&ctx, collection(&c)?, &id, &tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

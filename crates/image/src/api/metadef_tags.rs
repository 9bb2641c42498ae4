//! `/v2/metadefs/namespaces/{ns}/tags` (list, bulk create, delete all) and
//! `…/tags/{name}`.

use super::metadef_items::{self as items, ItemView};
use super::{GlanceErrors, State};
use crate::db::metadefs::{Item, Kind};
use axum::extract::{Path, State as S};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::clock::iso_seconds;
use common::http::JsonBody;
use common::Result;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

pub fn routes() -> Router<Arc<crate::Image>> {
    Router::new()
        .route(
            "/v2/metadefs/namespaces/{ns}/tags",
            get(list).post(create_many).delete(remove_all),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/tags/{name}",
            get(show).post(create).put(update).delete(remove),
        )
}

/// A metadata definition tag.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagBody {
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
}

impl ItemView for TagBody {
    const KIND: Kind = Kind::Tag;

    fn view(_ns: &str, t: &Item) -> Self {
        TagBody {
            name: t.name.clone(),
            created_at: iso_seconds(t.created_at),
            updated_at: iso_seconds(t.updated_at),
        }
    }
}

/// `GET …/tags`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagList {
    pub tags: Vec<TagBody>,
}

/// A tag by name only, as `POST …/tags` answers and namespaces list them.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagName {
    pub name: String,
}

impl From<&Item> for TagName {
    fn from(t: &Item) -> Self {
        TagName {
            name: t.name.clone(),
        }
    }
}

/// `POST …/tags`: the tags to create (the answer has the same shape).
#[derive(Debug, Serialize, ToSchema)]
pub struct TagNames {
    pub tags: Vec<TagName>,
}

#[utoipa::path(get, path = "/v2/metadefs/namespaces/{ns}/tags", tag = "metadef tags",
    params(("ns" = String, Path)),
    responses((status = 200, body = TagList), GlanceErrors))]
async fn list(S(g): State, Auth(ctx): Auth, Path(ns): Path<String>) -> Result<Json<TagList>> {
    Ok(Json(TagList {
        tags: items::list(&g, &ctx, &ns).await?,
    }))
}

/// `POST …/tags {"tags": [{"name": …}, …]}`; `X-Openstack-Append: true`
/// keeps the tags already there.
#[utoipa::path(post, path = "/v2/metadefs/namespaces/{ns}/tags", tag = "metadef tags",
    params(("ns" = String, Path)),
    request_body(content = TagNames, content_type = "application/json"),
    responses((status = 201, body = TagNames), GlanceErrors))]
async fn create_many(
    S(g): State,
    Auth(ctx): Auth,
    Path(ns): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let append = headers
        .get("x-openstack-append")
        .and_then(|v| v.to_str().ok())
        .and_then(common::http::query::parse_bool)
        .unwrap_or(false);
    let tags = g.create_tags(&ctx, &ns, body, append).await?;
    let body = TagNames {
        tags: tags.iter().map(TagName::from).collect(),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST …/tags/{name}`: no body, the name is the path.
#[utoipa::path(post, path = "/v2/metadefs/namespaces/{ns}/tags/{name}", tag = "metadef tags",
    params(("ns" = String, Path), ("name" = String, Path)),
    responses((status = 201, body = TagBody), GlanceErrors))]
async fn create(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response> {
    items::create::<TagBody>(&g, &ctx, &ns, Some(&name), Value::Null).await
}

#[utoipa::path(get, path = "/v2/metadefs/namespaces/{ns}/tags/{name}", tag = "metadef tags",
    params(("ns" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = TagBody), GlanceErrors))]
async fn show(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Json<TagBody>> {
    items::show(&g, &ctx, &ns, &name).await
}

#[utoipa::path(put, path = "/v2/metadefs/namespaces/{ns}/tags/{name}", tag = "metadef tags",
    params(("ns" = String, Path), ("name" = String, Path)),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = TagBody), GlanceErrors))]
async fn update(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<TagBody>> {
    items::update(&g, &ctx, &ns, &name, body).await
}

#[utoipa::path(delete, path = "/v2/metadefs/namespaces/{ns}/tags/{name}", tag = "metadef tags",
    params(("ns" = String, Path), ("name" = String, Path)),
    responses((status = 204), GlanceErrors))]
async fn remove(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, name)): Path<(String, String)>,
) -> Result<StatusCode> {
    items::remove(&g, &ctx, &ns, Kind::Tag, &name).await
}

#[utoipa::path(delete, path = "/v2/metadefs/namespaces/{ns}/tags", tag = "metadef tags",
    params(("ns" = String, Path)),
    responses((status = 204), GlanceErrors))]
async fn remove_all(S(g): State, Auth(ctx): Auth, Path(ns): Path<String>) -> Result<StatusCode> {
    items::remove_all(&g, &ctx, &ns, Kind::Tag).await
}

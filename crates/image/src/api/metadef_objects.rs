//! `/v2/metadefs/namespaces/{ns}/objects` and `…/objects/{name}`.

use super::metadef_items::{self as items, ItemView};
use super::{GlanceErrors, State};
use crate::db::metadefs::{Item, Kind};
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::clock::iso_seconds;
use common::http::JsonBody;
use common::Result;
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use utoipa::ToSchema;

pub fn routes() -> Router<Arc<crate::Image>> {
    Router::new()
        .route(
            "/v2/metadefs/namespaces/{ns}/objects",
            get(list).post(create).delete(remove_all),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/objects/{name}",
            get(show).put(update).delete(remove),
        )
}

/// A metadata definition object: a named group of property definitions.
#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectBody {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Value>,
    /// Names of the required properties.
    pub required: Value,
    /// Property definitions by name.
    pub properties: Value,
    pub created_at: String,
    pub updated_at: String,
    #[serde(rename = "self")]
    #[schema(rename = "self")]
    pub self_link: String,
    pub schema: String,
}

impl ItemView for ObjectBody {
    const KIND: Kind = Kind::Object;

    fn view(ns: &str, o: &Item) -> Self {
        let field = |k: &str| o.body.get(k).cloned();
        ObjectBody {
            name: o.name.clone(),
            description: field("description").filter(|d| !d.is_null()),
            required: field("required").unwrap_or_else(|| Value::Array(Vec::new())),
            properties: field("properties").unwrap_or_else(|| Value::Object(Map::new())),
            created_at: iso_seconds(o.created_at),
            updated_at: iso_seconds(o.updated_at),
            self_link: format!("/v2/metadefs/namespaces/{ns}/objects/{}", o.name),
            schema: "/v2/schemas/metadefs/object".into(),
        }
    }
}

/// `GET …/objects`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectList {
    pub objects: Vec<ObjectBody>,
    pub schema: String,
}

#[utoipa::path(get, path = "/v2/metadefs/namespaces/{ns}/objects", tag = "metadef objects",
    params(("ns" = String, Path)),
    responses((status = 200, body = ObjectList), GlanceErrors))]
async fn list(S(g): State, Auth(ctx): Auth, Path(ns): Path<String>) -> Result<Json<ObjectList>> {
    Ok(Json(ObjectList {
        objects: items::list(&g, &ctx, &ns).await?,
        schema: "/v2/schemas/metadefs/objects".into(),
    }))
}

#[utoipa::path(post, path = "/v2/metadefs/namespaces/{ns}/objects", tag = "metadef objects",
    params(("ns" = String, Path)),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 201, body = ObjectBody), GlanceErrors))]
async fn create(
    S(g): State,
    Auth(ctx): Auth,
    Path(ns): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    items::create::<ObjectBody>(&g, &ctx, &ns, None, body).await
}

#[utoipa::path(get, path = "/v2/metadefs/namespaces/{ns}/objects/{name}", tag = "metadef objects",
    params(("ns" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = ObjectBody), GlanceErrors))]
async fn show(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Json<ObjectBody>> {
    items::show(&g, &ctx, &ns, &name).await
}

#[utoipa::path(put, path = "/v2/metadefs/namespaces/{ns}/objects/{name}", tag = "metadef objects",
    params(("ns" = String, Path), ("name" = String, Path)),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = ObjectBody), GlanceErrors))]
async fn update(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<ObjectBody>> {
    items::update(&g, &ctx, &ns, &name, body).await
}

#[utoipa::path(delete, path = "/v2/metadefs/namespaces/{ns}/objects/{name}", tag = "metadef objects",
    params(("ns" = String, Path), ("name" = String, Path)),
    responses((status = 204), GlanceErrors))]
async fn remove(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, name)): Path<(String, String)>,
) -> Result<StatusCode> {
    items::remove(&g, &ctx, &ns, Kind::Object, &name).await
}

#[utoipa::path(delete, path = "/v2/metadefs/namespaces/{ns}/objects", tag = "metadef objects",
    params(("ns" = String, Path)),
    responses((status = 204), GlanceErrors))]
async fn remove_all(S(g): State, Auth(ctx): Auth, Path(ns): Path<String>) -> Result<StatusCode> {
    items::remove_all(&g, &ctx, &ns, Kind::Object).await
}

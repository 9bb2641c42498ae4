//! `/v2/metadefs/namespaces/{ns}/properties` and `…/properties/{name}`.

use super::metadef_items::{self as items, ItemView};
use super::{GlanceErrors, State};
use crate::db::metadefs::{Item, Kind};
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::JsonBody;
use common::Result;
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use utoipa::ToSchema;

pub fn routes() -> Router<Arc<crate::Image>> {
    Router::new()
        .route(
            "/v2/metadefs/namespaces/{ns}/properties",
            get(list).post(create).delete(remove_all),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/properties/{name}",
            get(show).put(update).delete(remove),
        )
}

/// A property definition: its name beside the JSON-schema fragment it
/// was defined with.
#[derive(Debug, Serialize, ToSchema)]
pub struct PropertyBody {
    pub name: String,
    #[serde(flatten)]
    #[schema(additional_properties)]
    pub definition: Map<String, Value>,
}

impl ItemView for PropertyBody {
    const KIND: Kind = Kind::Property;

    fn view(_ns: &str, p: &Item) -> Self {
        let mut definition = match &p.body {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        definition.remove("name");
        PropertyBody {
            name: p.name.clone(),
            definition,
        }
    }
}

/// Property definitions by name, as a namespace and `GET …/properties`
/// show them.
pub fn definitions(props: &[Item]) -> Map<String, Value> {
    props
        .iter()
        .map(|p| (p.name.clone(), p.body.clone()))
        .collect()
}

/// `GET …/properties`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PropertyMap {
    #[schema(additional_properties)]
    pub properties: Map<String, Value>,
}

#[utoipa::path(get, path = "/v2/metadefs/namespaces/{ns}/properties", tag = "metadef properties",
    params(("ns" = String, Path)),
    responses((status = 200, body = PropertyMap), GlanceErrors))]
async fn list(S(g): State, Auth(ctx): Auth, Path(ns): Path<String>) -> Result<Json<PropertyMap>> {
    let (_, items) = g.list_items(&ctx, &ns, Kind::Property).await?;
    Ok(Json(PropertyMap {
        properties: definitions(&items),
    }))
}

#[utoipa::path(post, path = "/v2/metadefs/namespaces/{ns}/properties", tag = "metadef properties",
    params(("ns" = String, Path)),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 201, body = PropertyBody), GlanceErrors))]
async fn create(
    S(g): State,
    Auth(ctx): Auth,
    Path(ns): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    items::create::<PropertyBody>(&g, &ctx, &ns, None, body).await
}

#[utoipa::path(get, path = "/v2/metadefs/namespaces/{ns}/properties/{name}", tag = "metadef properties",
    params(("ns" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = PropertyBody), GlanceErrors))]
async fn show(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Json<PropertyBody>> {
    items::show(&g, &ctx, &ns, &name).await
}

#[utoipa::path(put, path = "/v2/metadefs/namespaces/{ns}/properties/{name}", tag = "metadef properties",
    params(("ns" = String, Path), ("name" = String, Path)),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = PropertyBody), GlanceErrors))]
async fn update(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<PropertyBody>> {
    items::update(&g, &ctx, &ns, &name, body).await
}

#[utoipa::path(delete, path = "/v2/metadefs/namespaces/{ns}/properties/{name}", tag = "metadef properties",
    params(("ns" = String, Path), ("name" = String, Path)),
    responses((status = 204), GlanceErrors))]
async fn remove(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, name)): Path<(String, String)>,
) -> Result<StatusCode> {
    items::remove(&g, &ctx, &ns, Kind::Property, &name).await
}

#[utoipa::path(delete, path = "/v2/metadefs/namespaces/{ns}/properties", tag = "metadef properties",
    params(("ns" = String, Path)),
    responses((status = 204), GlanceErrors))]
async fn remove_all(S(g): State, Auth(ctx): Auth, Path(ns): Path<String>) -> Result<StatusCode> {
    items::remove_all(&g, &ctx, &ns, Kind::Property).await
}

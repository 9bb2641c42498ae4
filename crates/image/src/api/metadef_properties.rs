//! `/v2/metadefs/namespaces/{ns}/properties` and `…/properties/{name}`.

use super::State;
use crate::db::metadefs::{Item, Kind};
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::JsonBody;
use common::Result;
use serde_json::{json, Map, Value};
use std::sync::Arc;

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

/// A property: its name beside its definition.
pub fn render(p: &Item) -> Value {
    let mut m = match &p.body {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    m.insert("name".into(), json!(p.name));
    Value::Object(m)
}

/// Properties keyed by name (how a namespace and the list show them): the
/// definitions without the name, which is the key.
pub fn render_map(props: &[Item]) -> Value {
    Value::Object(
        props
            .iter()
            .map(|p| (p.name.clone(), p.body.clone()))
            .collect(),
    )
}

async fn list(S(g): State, Auth(ctx): Auth, Path(ns): Path<String>) -> Result<Json<Value>> {
    let (_, items) = g.list_items(&ctx, &ns, Kind::Property).await?;
    Ok(Json(json!({ "properties": render_map(&items) })))
}

async fn create(
    S(g): State,
    Auth(ctx): Auth,
    Path(ns): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let p = g.create_item(&ctx, &ns, Kind::Property, None, body).await?;
    Ok((StatusCode::CREATED, Json(render(&p))).into_response())
}

async fn show(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let p = g.get_item(&ctx, &ns, Kind::Property, &name).await?;
    Ok(Json(render(&p)))
}

async fn update(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let p = g
        .update_item(&ctx, &ns, Kind::Property, &name, body)
        .await?;
    Ok(Json(render(&p)))
}

async fn remove(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, name)): Path<(String, String)>,
) -> Result<StatusCode> {
    g.delete_item(&ctx, &ns, Kind::Property, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_all(S(g): State, Auth(ctx): Auth, Path(ns): Path<String>) -> Result<StatusCode> {
    super::metadef_namespaces::remove_all(&g, &ctx, &ns, Kind::Property).await
}

//! `/v2/metadefs/namespaces/{ns}/tags` (list, bulk create, delete all) and
//! `…/tags/{name}`.

use super::State;
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
use serde_json::{json, Value};
use std::sync::Arc;

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

pub fn render(t: &Item) -> Value {
    json!({
        "name": t.name,
        "created_at": iso_seconds(t.created_at),
        "updated_at": iso_seconds(t.updated_at),
    })
}

async fn list(S(g): State, Auth(ctx): Auth, Path(ns): Path<String>) -> Result<Json<Value>> {
    let (_, items) = g.list_items(&ctx, &ns, Kind::Tag).await?;
    Ok(Json(
        json!({ "tags": items.iter().map(render).collect::<Vec<_>>() }),
    ))
}

/// `POST …/tags {"tags": [{"name": …}, …]}`; `X-Openstack-Append: true`
/// keeps the tags already there.
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
    let list: Vec<Value> = tags.iter().map(|t| json!({"name": t.name})).collect();
    Ok((StatusCode::CREATED, Json(json!({ "tags": list }))).into_response())
}

/// `POST …/tags/{name}`: no body, the name is the path.
async fn create(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response> {
    let t = g
        .create_item(&ctx, &ns, Kind::Tag, Some(&name), Value::Null)
        .await?;
    Ok((StatusCode::CREATED, Json(render(&t))).into_response())
}

async fn show(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let t = g.get_item(&ctx, &ns, Kind::Tag, &name).await?;
    Ok(Json(render(&t)))
}

async fn update(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let t = g.update_item(&ctx, &ns, Kind::Tag, &name, body).await?;
    Ok(Json(render(&t)))
}

async fn remove(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, name)): Path<(String, String)>,
) -> Result<StatusCode> {
    g.delete_item(&ctx, &ns, Kind::Tag, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_all(S(g): State, Auth(ctx): Auth, Path(ns): Path<String>) -> Result<StatusCode> {
    super::metadef_namespaces::remove_all(&g, &ctx, &ns, Kind::Tag).await
}

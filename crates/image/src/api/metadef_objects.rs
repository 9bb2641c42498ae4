//! `/v2/metadefs/namespaces/{ns}/objects` and `…/objects/{name}`.

use super::State;
use crate::db::metadefs::{Item, Kind};
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::clock::iso_seconds;
use common::http::JsonBody;
use common::Result;
use serde_json::{json, Map, Value};
use std::sync::Arc;

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

pub fn render(ns: &str, o: &Item) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(o.name));
    if let Some(d) = o.body.get("description").filter(|d| !d.is_null()) {
        m.insert("description".into(), d.clone());
    }
    m.insert(
        "required".into(),
        o.body.get("required").cloned().unwrap_or(json!([])),
    );
    m.insert(
        "properties".into(),
        o.body.get("properties").cloned().unwrap_or(json!({})),
    );
    m.insert("created_at".into(), json!(iso_seconds(o.created_at)));
    m.insert("updated_at".into(), json!(iso_seconds(o.updated_at)));
    m.insert(
        "self".into(),
        json!(format!("/v2/metadefs/namespaces/{ns}/objects/{}", o.name)),
    );
    m.insert("schema".into(), json!("/v2/schemas/metadefs/object"));
    Value::Object(m)
}

async fn list(S(g): State, Auth(ctx): Auth, Path(ns): Path<String>) -> Result<Json<Value>> {
    let (n, items) = g.list_items(&ctx, &ns, Kind::Object).await?;
    Ok(Json(json!({
        "objects": items.iter().map(|o| render(&n.namespace, o)).collect::<Vec<_>>(),
        "schema": "/v2/schemas/metadefs/objects",
    })))
}

async fn create(
    S(g): State,
    Auth(ctx): Auth,
    Path(ns): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let o = g.create_item(&ctx, &ns, Kind::Object, None, body).await?;
    Ok((StatusCode::CREATED, Json(render(&ns, &o))).into_response())
}

async fn show(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let o = g.get_item(&ctx, &ns, Kind::Object, &name).await?;
    Ok(Json(render(&ns, &o)))
}

async fn update(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let o = g.update_item(&ctx, &ns, Kind::Object, &name, body).await?;
    Ok(Json(render(&ns, &o)))
}

async fn remove(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, name)): Path<(String, String)>,
) -> Result<StatusCode> {
    g.delete_item(&ctx, &ns, Kind::Object, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_all(S(g): State, Auth(ctx): Auth, Path(ns): Path<String>) -> Result<StatusCode> {
    super::metadef_namespaces::remove_all(&g, &ctx, &ns, Kind::Object).await
}

//! `/v2/tasks` and `/v2/tasks/{id}` (Glance's tasks API: admin-only by
//! default), and the task shapes `GET /v2/images/{id}/tasks` also uses.

use super::State;
use crate::db::tasks::Task;
use axum::extract::{Extension, Path, State as S};
use axum::http::{header as h, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::clock::iso_seconds;
use common::http::{JsonBody, QueryMap, RequestId};
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Image>> {
    Router::new()
        .route("/v2/tasks", get(list).post(create))
        .route("/v2/tasks/{id}", get(show).delete(remove))
}

fn href(id: &str) -> String {
    format!("/v2/tasks/{id}")
}

/// A task in full, as `GET /v2/tasks/{id}` shows it.
pub fn render(t: &Task) -> Value {
    let mut v = json!({
        "id": t.id,
        "type": t.kind,
        "status": t.status,
        "owner": t.owner,
        "input": t.input,
        "result": t.result,
        "message": t.message,
        "created_at": iso_seconds(t.created_at),
        "updated_at": iso_seconds(t.updated_at),
        "self": href(&t.id),
        "schema": "/v2/schemas/task",
    });
    for (k, val) in [
        ("image_id", &t.image_id),
        ("request_id", &t.request_id),
        ("user_id", &t.user_id),
    ] {
        if let Some(x) = val {
            v[k] = json!(x);
        }
    }
    if let Some(e) = t.expires_at {
        v["expires_at"] = json!(iso_seconds(e));
    }
    v
}

/// A task in a list: without input, result and message.
fn render_stub(t: &Task) -> Value {
    let mut v = json!({
        "id": t.id,
        "type": t.kind,
        "status": t.status,
        "owner": t.owner,
        "created_at": iso_seconds(t.created_at),
        "updated_at": iso_seconds(t.updated_at),
        "self": href(&t.id),
        "schema": "/v2/schemas/task",
    });
    if let Some(e) = t.expires_at {
        v["expires_at"] = json!(iso_seconds(e));
    }
    v
}

async fn create(
    S(g): State,
    Auth(ctx): Auth,
    rid: Option<Extension<RequestId>>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let rid = rid.map(|Extension(RequestId(r))| r);
    let t = g.create_task(&ctx, body, rid.as_deref()).await?;
    let mut r = (StatusCode::CREATED, Json(render(&t))).into_response();
    r.headers_mut()
        .insert(h::LOCATION, super::header(&href(&t.id)));
    Ok(r)
}

async fn list(S(g): State, Auth(ctx): Auth, q: QueryMap) -> Result<Json<Value>> {
    let (tasks, next) = g.list_tasks(&ctx, &q).await?;
    let keep: Vec<(&str, &str)> =
        q.0.iter()
            .filter(|(k, _)| k != "marker")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
    let mut body = json!({
        "tasks": tasks.iter().map(render_stub).collect::<Vec<_>>(),
        "first": super::images::with_query("/v2/tasks", keep.iter().copied()),
        "schema": "/v2/schemas/tasks",
    });
    if let Some(m) = next {
        body["next"] = json!(super::images::with_query(
            "/v2/tasks",
            keep.iter()
                .copied()
                .chain(std::iter::once(("marker", m.as_str())))
        ));
    }
    Ok(Json(body))
}

async fn show(S(g): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<Json<Value>> {
    Ok(Json(render(&g.show_task(&ctx, &id).await?)))
}

/// Glance refuses to delete tasks (they expire); 405 after the access
/// check, as there.
async fn remove(S(g): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<Response> {
    g.show_task(&ctx, &id)
        .await
        .map(|_| ())
        .or_else(|e| match e {
            e if e.kind() == common::ErrorKind::NotFound => Ok(()),
            other => Err(other),
        })?;
    let mut r = Error::method_not_allowed().into_response();
    r.headers_mut().insert(h::ALLOW, super::header("GET"));
    Ok(r)
}

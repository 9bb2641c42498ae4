//! `/v2/tasks` and `/v2/tasks/{id}` (Glance's tasks API: admin-only by
//! default), and the task shapes `GET /v2/images/{id}/tasks` also uses.

use super::GlanceErrors;
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
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

pub fn routes() -> Router<Arc<crate::Image>> {
    Router::new()
        .route("/v2/tasks", get(list).post(create))
        .route("/v2/tasks/{id}", get(show).delete(remove))
}

fn href(id: &str) -> String {
    format!("/v2/tasks/{id}")
}

/// A task as Glance prints it: in full for `GET /v2/tasks/{id}`, or as a
/// list entry (without input, result and message).
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskBody {
    pub id: String,
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub kind: String,
    pub status: String,
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Option<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Option<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(rename = "self")]
    #[schema(rename = "self")]
    pub self_link: String,
    pub schema: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl From<&Task> for TaskBody {
    fn from(t: &Task) -> Self {
        TaskBody {
            id: t.id.clone(),
            kind: t.kind.clone(),
            status: t.status.clone(),
            owner: t.owner.clone(),
            input: Some(t.input.clone()),
            result: Some(t.result.clone()),
            message: Some(t.message.clone()),
            created_at: iso_seconds(t.created_at),
            updated_at: iso_seconds(t.updated_at),
            self_link: href(&t.id),
            schema: "/v2/schemas/task".into(),
            image_id: t.image_id.clone(),
            request_id: t.request_id.clone(),
            user_id: t.user_id.clone(),
            expires_at: t.expires_at.map(iso_seconds),
        }
    }
}

impl TaskBody {
    /// A task in a list: without input, result, message, and the ids of
    /// the image, request and user.
    fn stub(t: &Task) -> Self {
        TaskBody {
            input: None,
            result: None,
            message: None,
            image_id: None,
            request_id: None,
            user_id: None,
            ..TaskBody::from(t)
        }
    }
}

/// `GET /v2/tasks`: a page of tasks with its links.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskList {
    pub tasks: Vec<TaskBody>,
    pub first: String,
    pub schema: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// `POST /v2/tasks`: the task to run (read as JSON and checked in `app/`
/// with Glance's messages).
#[derive(Debug, ToSchema)]
pub struct TaskCreate {
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub kind: String,
    pub input: Value,
}

#[utoipa::path(post, path = "/v2/tasks", tag = "tasks",
    request_body(content = TaskCreate, content_type = "application/json"),
    responses((status = 201, body = TaskBody), GlanceErrors))]
async fn create(
    S(g): State,
    Auth(ctx): Auth,
    rid: Option<Extension<RequestId>>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let rid = rid.map(|Extension(RequestId(r))| r);
    let t = g.create_task(&ctx, body, rid.as_deref()).await?;
    let mut r = (StatusCode::CREATED, Json(TaskBody::from(&t))).into_response();
    r.headers_mut()
        .insert(h::LOCATION, super::header(&href(&t.id)));
    Ok(r)
}

#[utoipa::path(get, path = "/v2/tasks", tag = "tasks",
    params(
        ("limit" = Option<u32>, Query), ("marker" = Option<String>, Query),
        ("sort_key" = Option<String>, Query), ("sort_dir" = Option<String>, Query),
        ("type" = Option<String>, Query), ("status" = Option<String>, Query),
    ),
    responses((status = 200, body = TaskList), GlanceErrors))]
async fn list(S(g): State, Auth(ctx): Auth, q: QueryMap) -> Result<Json<TaskList>> {
    let (tasks, next) = g.list_tasks(&ctx, &q).await?;
    let keep: Vec<(&str, &str)> =
        q.0.iter()
            .filter(|(k, _)| k != "marker")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
    let next = next.map(|m| {
        super::images::with_query(
            "/v2/tasks",
            keep.iter()
                .copied()
                .chain(std::iter::once(("marker", m.as_str()))),
        )
    });
    Ok(Json(TaskList {
        tasks: tasks.iter().map(TaskBody::stub).collect(),
        first: super::images::with_query("/v2/tasks", keep.iter().copied()),
        schema: "/v2/schemas/tasks".into(),
        next,
    }))
}

#[utoipa::path(get, path = "/v2/tasks/{id}", tag = "tasks", params(("id" = String, Path)),
    responses((status = 200, body = TaskBody), GlanceErrors))]
async fn show(S(g): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<Json<TaskBody>> {
    Ok(Json(TaskBody::from(&g.show_task(&ctx, &id).await?)))
}

/// Glance refuses to delete tasks (they expire); 405 after the access
/// check, as there.
#[utoipa::path(delete, path = "/v2/tasks/{id}", tag = "tasks", params(("id" = String, Path)),
    responses((status = 405, description = "Tasks are not deleted; they expire"), GlanceErrors))]
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

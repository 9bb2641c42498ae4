//! `/v3/projects` and `/v3/projects/{id}/tags`.

use super::{created, envelope, extra_without, page_of, SelfLink, State};
use crate::app::projects::ProjectInput;
use crate::db::domains::Domain;
use crate::db::projects::Project;
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::{BaseUrl, JsonBody, QueryMap};
use common::{Error, Result};
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use utoipa::ToSchema;

pub fn routes() -> Router<Arc<crate::Identity>> {
    Router::new()
        .route("/v3/projects", get(list).post(create))
        .route("/v3/projects/{id}", get(show).patch(update).delete(delete))
        .route(
            "/v3/projects/{id}/tags",
            get(list_tags).put(replace_tags).delete(delete_tags),
        )
        .route(
            "/v3/projects/{id}/tags/{tag}",
            get(check_tag)
                .head(check_tag)
                .put(add_tag)
                .delete(delete_tag),
        )
}

/// A project as Keystone shows it, with the extra attributes stored on
/// it; a domain seen through the projects API has no domain or parent.
#[derive(Serialize, ToSchema)]
pub struct ProjectBody {
    pub id: String,
    pub name: String,
    pub domain_id: Option<String>,
    pub parent_id: Option<String>,
    pub description: String,
    pub enabled: bool,
    pub is_domain: bool,
    pub tags: Vec<String>,
    pub options: Map<String, Value>,
    pub links: SelfLink,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"tags": […]}`: a project's tags (the answer, and the body that
/// replaces them).
#[derive(Serialize, serde::Deserialize, ToSchema)]
pub struct ProjectTags {
    pub tags: Vec<String>,
}

/// `{"project": …}`.
#[derive(Serialize, ToSchema)]
pub struct ProjectEnvelope {
    pub project: ProjectBody,
}

super::list_type!(ProjectList, projects, ProjectBody, "A list of projects.");

const PROJECT_FIELDS: [&str; 10] = [
    "id",
    "name",
    "domain_id",
    "parent_id",
    "description",
    "enabled",
    "is_domain",
    "tags",
    "options",
    "links",
];

pub fn render(p: &Project, base: &str) -> ProjectBody {
    ProjectBody {
        id: p.id.clone(),
        name: p.name.clone(),
        domain_id: Some(p.domain_id.clone()),
        parent_id: Some(p.parent_id.clone().unwrap_or_else(|| p.domain_id.clone())),
        description: p.description.clone(),
        enabled: p.enabled,
        is_domain: false,
        tags: p.tags.clone(),
        options: Map::new(),
        links: SelfLink {
            self_: format!("{base}/v3/projects/{}", p.id),
        },
        extra: extra_without(&p.extra, &PROJECT_FIELDS),
    }
}

/// A domain seen through the projects API: the project acting as it,
/// as Keystone shows one (no domain, no parent, `is_domain: true`).
pub fn render_domain(d: &Domain, base: &str) -> ProjectBody {
    ProjectBody {
        id: d.id.clone(),
        name: d.name.clone(),
        domain_id: None,
        parent_id: None,
        description: d.description.clone(),
        enabled: d.enabled,
        is_domain: true,
        tags: Vec::new(),
        options: Map::new(),
        links: SelfLink {
            self_: format!("{base}/v3/projects/{}", d.id),
        },
        extra: extra_without(&d.extra, &PROJECT_FIELDS),
    }
}

#[utoipa::path(
    get,
    path = "/v3/projects",
    operation_id = "projects_list",
    tag = "projects",
    responses(
        (status = 200, description = "OK", body = ProjectList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<ProjectList>> {
    // Keystone lists projects acting as domains only when asked to.
    let (rendered, next_marker) = if q.flag("is_domain")? == Some(true) {
        let page = id.list_domain_projects(&ctx, &q).await?;
        let items = page.items.iter().map(|d| render_domain(d, &base));
        (items.collect(), page.next_marker)
    } else {
        let page = id.list_projects(&ctx, &q).await?;
        let items = page.items.iter().map(|p| render(p, &base));
        (items.collect(), page.next_marker)
    };
    Ok(Json(
        page_of(rendered, next_marker.as_deref(), &base, "/v3/projects", &q).into(),
    ))
}

#[utoipa::path(
    post,
    path = "/v3/projects",
    operation_id = "projects_create",
    tag = "projects",
    request_body(content = ProjectCreateRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = ProjectEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn create(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let input: ProjectInput = envelope(body, "project")?;
    if input.is_domain == Some(true) {
        let d = id.create_domain_project(&ctx, input).await?;
        return Ok(created(ProjectEnvelope {
            project: render_domain(&d, &base),
        }));
    }
    let p = id.create_project(&ctx, input).await?;
    Ok(created(ProjectEnvelope {
        project: render(&p, &base),
    }))
}

#[utoipa::path(
    get,
    path = "/v3/projects/{id}",
    operation_id = "projects_show",
    tag = "projects",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = ProjectEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(pid): Path<String>,
) -> Result<Json<ProjectEnvelope>> {
    if id.is_domain_project(&pid).await? {
        let d = id.get_domain(&ctx, &pid).await?;
        return Ok(Json(ProjectEnvelope {
            project: render_domain(&d, &base),
        }));
    }
    let p = id.get_project(&ctx, &pid).await?;
    Ok(Json(ProjectEnvelope {
        project: render(&p, &base),
    }))
}

#[utoipa::path(
    patch,
    path = "/v3/projects/{id}",
    operation_id = "projects_update",
    tag = "projects",
    params(("id" = String, Path)),
    request_body(content = ProjectUpdateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = ProjectEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn update(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(pid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<ProjectEnvelope>> {
    let input: ProjectInput = envelope(body, "project")?;
    if id.is_domain_project(&pid).await? {
        let d = id.update_domain_project(&ctx, &pid, input).await?;
        return Ok(Json(ProjectEnvelope {
            project: render_domain(&d, &base),
        }));
    }
    let p = id.update_project(&ctx, &pid, input).await?;
    Ok(Json(ProjectEnvelope {
        project: render(&p, &base),
    }))
}

#[utoipa::path(
    delete,
    path = "/v3/projects/{id}",
    operation_id = "projects_delete",
    tag = "projects",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete(S(id): State, Auth(ctx): Auth, Path(pid): Path<String>) -> Result<StatusCode> {
    if id.is_domain_project(&pid).await? {
        id.delete_domain(&ctx, &pid).await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    id.delete_project(&ctx, &pid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v3/projects/{id}/tags",
    operation_id = "projects_list_tags",
    tag = "projects",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = ProjectTags),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list_tags(
    S(id): State,
    Auth(ctx): Auth,
    Path(pid): Path<String>,
) -> Result<Json<ProjectTags>> {
    let p = id
        .project_tags(&ctx, &pid, "identity:list_project_tags")
        .await?;
    Ok(Json(ProjectTags { tags: p.tags }))
}

#[utoipa::path(
    put,
    path = "/v3/projects/{id}/tags",
    operation_id = "projects_replace_tags",
    tag = "projects",
    params(("id" = String, Path)),
    request_body(content = ProjectTags, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = ProjectTags),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn replace_tags(
    S(id): State,
    Auth(ctx): Auth,
    Path(pid): Path<String>,
    JsonBody(t): JsonBody<ProjectTags>,
) -> Result<Json<ProjectTags>> {
    let p = id
        .set_project_tags(&ctx, &pid, "identity:update_project_tags", t.tags)
        .await?;
    Ok(Json(ProjectTags { tags: p.tags }))
}

#[utoipa::path(
    delete,
    path = "/v3/projects/{id}/tags",
    operation_id = "projects_delete_tags",
    tag = "projects",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete_tags(S(id): State, Auth(ctx): Auth, Path(pid): Path<String>) -> Result<StatusCode> {
    id.set_project_tags(&ctx, &pid, "identity:delete_project_tags", vec![])
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    method(get, head),
    path = "/v3/projects/{id}/tags/{tag}",
    operation_id = "projects_check_tag",
    tag = "projects",
    params(("id" = String, Path), ("tag" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn check_tag(
    S(id): State,
    Auth(ctx): Auth,
    Path((pid, tag)): Path<(String, String)>,
) -> Result<StatusCode> {
    let p = id
        .project_tags(&ctx, &pid, "identity:get_project_tag")
        .await?;
    if p.tags.contains(&tag) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::not_found(format!(
            "Tag {tag} not found on project {pid}."
        )))
    }
}

#[utoipa::path(
    put,
    path = "/v3/projects/{id}/tags/{tag}",
    operation_id = "projects_add_tag",
    tag = "projects",
    params(("id" = String, Path), ("tag" = String, Path)),
    responses(
        (status = 201, description = "Created"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn add_tag(
    S(id): State,
    Auth(ctx): Auth,
    Path((pid, tag)): Path<(String, String)>,
) -> Result<StatusCode> {
    id.add_project_tag(&ctx, &pid, &tag).await?;
    Ok(StatusCode::CREATED)
}

#[utoipa::path(
    delete,
    path = "/v3/projects/{id}/tags/{tag}",
    operation_id = "projects_delete_tag",
    tag = "projects",
    params(("id" = String, Path), ("tag" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete_tag(
    S(id): State,
    Auth(ctx): Auth,
    Path((pid, tag)): Path<(String, String)>,
) -> Result<StatusCode> {
    id.delete_project_tag(&ctx, &pid, &tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST` body: `{"project": …}`, read as `app::projects::ProjectInput`.
#[derive(serde::Deserialize, ToSchema)]
pub struct ProjectCreateRequest {
    pub project: ProjectCreate,
}

/// A new project.
#[derive(serde::Deserialize, ToSchema)]
pub struct ProjectCreate {
    pub name: String,
    pub domain_id: Option<String>,
    pub parent_id: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    /// Whether the project is itself a domain.
    pub is_domain: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub options: Option<Map<String, Value>>,
    /// Any other attribute is stored with the project and shown back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `PATCH` body: `{"project": …}`, read as `app::projects::ProjectInput`; only the
/// attributes given change.
#[derive(serde::Deserialize, ToSchema)]
pub struct ProjectUpdateRequest {
    pub project: ProjectUpdate,
}

/// The attributes of a project to change.
#[derive(serde::Deserialize, ToSchema)]
pub struct ProjectUpdate {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub parent_id: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub is_domain: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub options: Option<Map<String, Value>>,
    /// Any other attribute is stored with the project and shown back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

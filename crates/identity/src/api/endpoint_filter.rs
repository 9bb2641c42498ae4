//! `/v3/OS-EP-FILTER/…`: endpoint groups and project–endpoint associations.

use super::{created, ListLinks, SelfLink, State};
use crate::app::endpoint_filter::{GroupInput, Op};
use crate::db::endpoint_filter::{Assoc, EndpointGroup};
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

type R = Router<Arc<crate::Identity>>;

pub fn routes() -> R {
    let p = "/v3/OS-EP-FILTER";
    let r = Router::new()
        .route(
            &format!("{p}/endpoint_groups"),
            get(list_groups).post(create_group),
        )
        .route(
            &format!("{p}/endpoint_groups/{{id}}"),
            get(show_group)
                .head(head_group)
                .patch(update_group)
                .delete(delete_group),
        )
        .route(
            &format!("{p}/endpoint_groups/{{id}}/projects"),
            get(group_projects),
        )
        .route(
            &format!("{p}/endpoint_groups/{{id}}/endpoints"),
            get(group_endpoints),
        )
        .route(
            &format!("{p}/projects/{{id}}/endpoint_groups"),
            get(project_groups),
        )
        .route(
            &format!("{p}/projects/{{id}}/endpoints"),
            get(project_endpoints),
        )
        .route(
            &format!("{p}/endpoints/{{id}}/projects"),
            get(endpoint_projects),
        );
    associations()
        .into_iter()
        .fold(r, |r, (kind, item)| association_routes(r, kind, &item))
}

/// The association routes (check, add, remove one link) and what they
/// link; the router and the OpenAPI document are both built from it.
fn associations() -> Vec<(Assoc, String)> {
    let p = "/v3/OS-EP-FILTER";
    vec![
        (
            Assoc::Group,
            format!("{p}/endpoint_groups/{{id}}/projects/{{project_id}}"),
        ),
        (
            Assoc::Endpoint,
            format!("{p}/projects/{{id}}/endpoints/{{endpoint_id}}"),
        ),
    ]
}

/// Adds the association routes to the OpenAPI document.
pub(crate) fn document(paths: &mut utoipa::openapi::Paths) {
    use utoipa::openapi::HttpMethod;
    for (kind, item) in associations() {
        let (name, other) = match kind {
            Assoc::Group => ("endpoint_group_project", "project_id"),
            Assoc::Endpoint => ("project_endpoint", "endpoint_id"),
        };
        let responses = [&[(204, "No Content", None)][..], &super::COMMON_ERRORS[..]].concat();
        for (method, verb) in [
            (HttpMethod::Get, "check"),
            (HttpMethod::Head, "check_head"),
            (HttpMethod::Put, "add"),
            (HttpMethod::Delete, "remove"),
        ] {
            paths.add_path_operation(
                &item,
                vec![method],
                super::operation(
                    &format!("endpoint_filter_{verb}_{name}"),
                    "endpoint_filter",
                    &["id", other],
                    &responses,
                ),
            );
        }
    }
}

/// Routes for one kind of project association at `item`: GET and HEAD
/// check it, PUT adds it, DELETE removes it, each answering 204. The
/// endpoint form names the project first and the group form names it last,
/// as Keystone's URLs do, so `kind` also says which parameter is which.
fn association_routes(r: R, kind: Assoc, item: &str) -> R {
    let handler = move |op: Op| {
        move |S(id): State, Auth(ctx): Auth, Path((a, b)): Path<(String, String)>| async move {
            let (project, other) = match kind {
                Assoc::Endpoint => (a, b),
                Assoc::Group => (b, a),
            };
            id.endpoint_association(&ctx, kind, &project, &other, op)
                .await?;
            Ok::<_, Error>(StatusCode::NO_CONTENT)
        }
    };
    r.route(
        item,
        get(handler(Op::Check))
            .head(handler(Op::Check))
            .put(handler(Op::Add))
            .delete(handler(Op::Remove)),
    )
}

/// An endpoint group: the endpoints matching all its `filters`
/// (`interface`, `service_id`, `region_id`).
#[derive(Serialize, ToSchema)]
pub struct EndpointGroupBody {
    pub id: String,
    pub name: String,
    pub description: String,
    pub filters: Map<String, Value>,
    pub links: SelfLink,
}

/// `{"endpoint_group": …}`.
#[derive(Serialize, ToSchema)]
pub struct EndpointGroupEnvelope {
    pub endpoint_group: EndpointGroupBody,
}

/// A list of endpoint groups.
#[derive(Serialize, ToSchema)]
pub struct EndpointGroupList {
    pub endpoint_groups: Vec<EndpointGroupBody>,
    pub links: ListLinks,
}

/// The projects associated with an endpoint or an endpoint group.
#[derive(Serialize, ToSchema)]
pub struct AssociatedProjects {
    pub projects: Vec<super::projects::ProjectBody>,
    pub links: ListLinks,
}

/// The endpoints of an endpoint group or of a project's catalog.
#[derive(Serialize, ToSchema)]
pub struct AssociatedEndpoints {
    pub endpoints: Vec<super::catalog::EndpointBody>,
    pub links: ListLinks,
}

fn render(g: &EndpointGroup, base: &str) -> EndpointGroupBody {
    EndpointGroupBody {
        id: g.id.clone(),
        name: g.name.clone(),
        description: g.description.clone(),
        filters: g.filters.clone(),
        links: SelfLink {
            self_: format!("{base}/v3/OS-EP-FILTER/endpoint_groups/{}", g.id),
        },
    }
}

/// The lists here are not paged: a link to themselves only.
fn links(base: &str, uri: &axum::http::Uri) -> ListLinks {
    ListLinks::only_self(format!("{base}{}", uri.path()))
}

fn groups(gs: &[EndpointGroup], base: &str, uri: &axum::http::Uri) -> EndpointGroupList {
    EndpointGroupList {
        endpoint_groups: gs.iter().map(|g| render(g, base)).collect(),
        links: links(base, uri),
    }
}

fn projects(
    ps: &[crate::db::projects::Project],
    base: &str,
    uri: &axum::http::Uri,
) -> AssociatedProjects {
    AssociatedProjects {
        projects: ps
            .iter()
            .map(|p| super::projects::render(p, base))
            .collect(),
        links: links(base, uri),
    }
}

fn endpoints(
    es: &[crate::db::catalog::Endpoint],
    base: &str,
    uri: &axum::http::Uri,
) -> AssociatedEndpoints {
    AssociatedEndpoints {
        endpoints: es
            .iter()
            .map(|e| super::catalog::render_endpoint(e, base))
            .collect(),
        links: links(base, uri),
    }
}

#[utoipa::path(
    get,
    path = "/v3/OS-EP-FILTER/endpoint_groups",
    operation_id = "endpoint_filter_list_groups",
    tag = "endpoint_filter",
    responses(
        (status = 200, description = "OK", body = EndpointGroupList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list_groups(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
    uri: axum::http::Uri,
) -> Result<Json<EndpointGroupList>> {
    let gs = id.list_endpoint_groups(&ctx, q.get("name")).await?;
    Ok(Json(groups(&gs, &base, &uri)))
}

#[utoipa::path(
    post,
    path = "/v3/OS-EP-FILTER/endpoint_groups",
    operation_id = "endpoint_filter_create_group",
    tag = "endpoint_filter",
    request_body(content = EndpointGroupCreateRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = EndpointGroupEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn create_group(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let input: GroupInput = super::envelope(body, "endpoint_group")?;
    let g = id.create_endpoint_group(&ctx, input).await?;
    Ok(created(EndpointGroupEnvelope {
        endpoint_group: render(&g, &base),
    }))
}

#[utoipa::path(
    get,
    path = "/v3/OS-EP-FILTER/endpoint_groups/{id}",
    operation_id = "endpoint_filter_show_group",
    tag = "endpoint_filter",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = EndpointGroupEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show_group(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(gid): Path<String>,
) -> Result<Json<EndpointGroupEnvelope>> {
    let g = id.get_endpoint_group(&ctx, &gid).await?;
    Ok(Json(EndpointGroupEnvelope {
        endpoint_group: render(&g, &base),
    }))
}

#[utoipa::path(
    head,
    path = "/v3/OS-EP-FILTER/endpoint_groups/{id}",
    operation_id = "endpoint_filter_head_group",
    tag = "endpoint_filter",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn head_group(S(id): State, Auth(ctx): Auth, Path(gid): Path<String>) -> Result<StatusCode> {
    id.get_endpoint_group(&ctx, &gid).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(
    patch,
    path = "/v3/OS-EP-FILTER/endpoint_groups/{id}",
    operation_id = "endpoint_filter_update_group",
    tag = "endpoint_filter",
    params(("id" = String, Path)),
    request_body(content = EndpointGroupUpdateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = EndpointGroupEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn update_group(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(gid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<EndpointGroupEnvelope>> {
    let input: GroupInput = super::envelope(body, "endpoint_group")?;
    let g = id.update_endpoint_group(&ctx, &gid, input).await?;
    Ok(Json(EndpointGroupEnvelope {
        endpoint_group: render(&g, &base),
    }))
}

#[utoipa::path(
    delete,
    path = "/v3/OS-EP-FILTER/endpoint_groups/{id}",
    operation_id = "endpoint_filter_delete_group",
    tag = "endpoint_filter",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete_group(
    S(id): State,
    Auth(ctx): Auth,
    Path(gid): Path<String>,
) -> Result<StatusCode> {
    id.delete_endpoint_group(&ctx, &gid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v3/OS-EP-FILTER/endpoint_groups/{id}/projects",
    operation_id = "endpoint_filter_group_projects",
    tag = "endpoint_filter",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = AssociatedProjects),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn group_projects(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(gid): Path<String>,
    uri: axum::http::Uri,
) -> Result<Json<AssociatedProjects>> {
    let ps = id.endpoint_group_projects(&ctx, &gid).await?;
    Ok(Json(projects(&ps, &base, &uri)))
}

#[utoipa::path(
    get,
    path = "/v3/OS-EP-FILTER/endpoint_groups/{id}/endpoints",
    operation_id = "endpoint_filter_group_endpoints",
    tag = "endpoint_filter",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = AssociatedEndpoints),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn group_endpoints(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(gid): Path<String>,
    uri: axum::http::Uri,
) -> Result<Json<AssociatedEndpoints>> {
    let es = id.endpoint_group_endpoints(&ctx, &gid).await?;
    Ok(Json(endpoints(&es, &base, &uri)))
}

#[utoipa::path(
    get,
    path = "/v3/OS-EP-FILTER/projects/{id}/endpoint_groups",
    operation_id = "endpoint_filter_project_groups",
    tag = "endpoint_filter",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = EndpointGroupList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn project_groups(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(pid): Path<String>,
    uri: axum::http::Uri,
) -> Result<Json<EndpointGroupList>> {
    let gs = id.project_endpoint_groups(&ctx, &pid).await?;
    Ok(Json(groups(&gs, &base, &uri)))
}

/// The endpoints a project's catalog shows.
#[utoipa::path(
    get,
    path = "/v3/OS-EP-FILTER/projects/{id}/endpoints",
    operation_id = "endpoint_filter_project_endpoints",
    tag = "endpoint_filter",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = AssociatedEndpoints),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn project_endpoints(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(pid): Path<String>,
    uri: axum::http::Uri,
) -> Result<Json<AssociatedEndpoints>> {
    let es = id.project_endpoints(&ctx, &pid).await?;
    Ok(Json(endpoints(&es, &base, &uri)))
}

#[utoipa::path(
    get,
    path = "/v3/OS-EP-FILTER/endpoints/{id}/projects",
    operation_id = "endpoint_filter_endpoint_projects",
    tag = "endpoint_filter",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = AssociatedProjects),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn endpoint_projects(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(eid): Path<String>,
    uri: axum::http::Uri,
) -> Result<Json<AssociatedProjects>> {
    let ps = id.endpoint_projects(&ctx, &eid).await?;
    Ok(Json(projects(&ps, &base, &uri)))
}

/// `POST /v3/OS-EP-FILTER/endpoint_groups` body: `{"endpoint_group": …}`,
/// read as `app::endpoint_filter::GroupInput`.
#[derive(serde::Deserialize, ToSchema)]
pub struct EndpointGroupCreateRequest {
    pub endpoint_group: EndpointGroupCreate,
}

/// A new endpoint group.
#[derive(serde::Deserialize, ToSchema)]
pub struct EndpointGroupCreate {
    pub name: String,
    pub description: Option<String>,
    pub filters: EndpointGroupFilters,
}

/// `PATCH /v3/OS-EP-FILTER/endpoint_groups/{id}` body:
/// `{"endpoint_group": …}`, read as `app::endpoint_filter::GroupInput`;
/// only the attributes given change.
#[derive(serde::Deserialize, ToSchema)]
pub struct EndpointGroupUpdateRequest {
    pub endpoint_group: EndpointGroupUpdate,
}

/// The attributes of an endpoint group to change.
#[derive(serde::Deserialize, ToSchema)]
pub struct EndpointGroupUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub filters: Option<EndpointGroupFilters>,
}

/// The endpoint attributes a group matches: at least one, each a string;
/// an endpoint belongs to the group when it matches all of them.
#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointGroupFilters {
    #[serde(default)]
    pub interface: String,
    #[serde(default)]
    pub service_id: String,
    #[serde(default)]
    pub region_id: String,
}

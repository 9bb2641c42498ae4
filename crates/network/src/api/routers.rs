//! `/v2.0/routers[/{id}]` and `/v2.0/routers/{id}/add_router_interface`,
//! `/remove_router_interface`.

use super::{list_body, render, NeutronErrors, State};
use crate::app::attrs;
use crate::app::routers::InterfaceInfo;
use crate::app::routers::RouterView;
use axum::extract::{OriginalUri, Path, State as S};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, put};
use axum::{Json, Router};
use common::auth::Auth;
use common::clock::iso_seconds;
use common::http::{BaseUrl, Fields, JsonBody, QueryMap};
use common::Result;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use utoipa::ToSchema;

pub fn routes() -> Router<Arc<crate::Network>> {
    Router::new()
        .route("/v2.0/routers", get(list).post(create))
        .route("/v2.0/routers/{id}", get(show).put(update).delete(delete))
        .route(
            "/v2.0/routers/{id}/add_router_interface",
            put(add_interface),
        )
        .route(
            "/v2.0/routers/{id}/remove_router_interface",
            put(remove_interface),
        )
}

/// A router as Neutron prints it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RouterBody {
    pub id: String,
    pub name: String,
    pub description: String,
    pub project_id: String,
    pub tenant_id: String,
    pub admin_state_up: bool,
    pub status: String,
    /// `{"network_id", "enable_snat", "external_fixed_ips"}` or null.
    pub external_gateway_info: Option<Value>,
    /// Extra routes: `[{"destination", "nexthop"}]`.
    pub routes: Vec<RouteBody>,
    pub created_at: String,
    pub updated_at: String,
    pub revision_number: i64,
    pub tags: Vec<String>,
}

impl RouterBody {
    pub fn new(v: &RouterView) -> Self {
        let r = &v.row;
        RouterBody {
            id: r.id.clone(),
            name: r.name.clone(),
            description: r.description.clone(),
            project_id: r.project_id.clone(),
            tenant_id: r.project_id.clone(),
            admin_state_up: r.admin_state_up,
            status: r.status.clone(),
            external_gateway_info: v.gateway.clone(),
            routes: r
                .routes
                .iter()
                .map(|(d, n)| RouteBody {
                    destination: d.clone(),
                    nexthop: n.clone(),
                })
                .collect(),
            created_at: iso_seconds(r.created_at),
            updated_at: iso_seconds(r.updated_at),
            revision_number: r.revision_number,
            tags: v.tags.clone(),
        }
    }
}

/// One extra route.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RouteBody {
    pub destination: String,
    pub nexthop: String,
}

/// `{"router": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RouterOne {
    pub router: RouterBody,
}

/// `{"routers": [...], "routers_links": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RouterMany {
    pub routers: Vec<RouterBody>,
    pub routers_links: Option<Vec<super::Link>>,
}

/// The create and update request (checked attribute by attribute in `app`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct RouterWrite {
    pub name: Option<String>,
    pub description: Option<String>,
    pub admin_state_up: Option<bool>,
    /// `{"network_id", "enable_snat", "external_fixed_ips"}`; null or
    /// `{}` clears the gateway.
    pub external_gateway_info: Option<Value>,
    /// Extra routes (update only); each nexthop on an attached subnet.
    pub routes: Option<Vec<RouteBody>>,
    pub project_id: Option<String>,
}

/// `{"router": {...}}` or `{"routers": [...]}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RouterCreate {
    pub router: Option<RouterWrite>,
    pub routers: Option<Vec<RouterWrite>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RouterUpdate {
    pub router: RouterWrite,
}

/// The interface request: `{"subnet_id": ...}` or `{"port_id": ...}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct InterfaceRequest {
    pub subnet_id: Option<String>,
    pub port_id: Option<String>,
}

/// What adding or removing an interface answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct InterfaceBody {
    pub id: String,
    pub tenant_id: String,
    pub project_id: String,
    pub port_id: String,
    pub subnet_id: String,
    pub subnet_ids: Vec<String>,
    pub network_id: String,
}

impl InterfaceBody {
    fn new(i: InterfaceInfo) -> Self {
        InterfaceBody {
            id: i.router_id,
            tenant_id: i.project_id.clone(),
            project_id: i.project_id,
            port_id: i.port_id,
            subnet_id: i.subnet_ids.first().cloned().unwrap_or_default(),
            subnet_ids: i.subnet_ids,
            network_id: i.network_id,
        }
    }
}

#[utoipa::path(get, path = "/v2.0/routers", tag = "routers",
    params(
        ("fields" = Option<Vec<String>>, Query), ("limit" = Option<u32>, Query),
        ("marker" = Option<String>, Query), ("page_reverse" = Option<bool>, Query),
        ("sort_key" = Option<Vec<String>>, Query), ("sort_dir" = Option<Vec<String>>, Query),
        ("name" = Option<String>, Query), ("admin_state_up" = Option<bool>, Query),
        ("status" = Option<String>, Query), ("tags" = Option<String>, Query),
        ("tags-any" = Option<String>, Query), ("not-tags" = Option<String>, Query),
        ("not-tags-any" = Option<String>, Query),
    ),
    responses((status = 200, body = RouterMany), NeutronErrors))]
async fn list(
    S(n): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    OriginalUri(uri): OriginalUri,
    q: QueryMap,
) -> Result<Json<Value>> {
    let (found, req) = n.list_routers(&ctx, &q).await?;
    let fields = Fields::from_query(&q);
    let ids: Vec<String> = found.iter().map(|r| r.id.clone()).collect();
    let mut views = Vec::with_capacity(found.len());
    for r in found {
        views.push(n.router_view(r).await?);
    }
    let items = views
        .iter()
        .map(|r| render(&RouterBody::new(r), fields.as_ref()))
        .collect();
    Ok(Json(list_body(
        "routers",
        items,
        &ids,
        &req,
        &base,
        uri.path(),
        &q,
    )))
}

#[utoipa::path(post, path = "/v2.0/routers", tag = "routers",
    request_body(content = RouterCreate, content_type = "application/json"),
    responses((status = 201, body = RouterOne), NeutronErrors))]
async fn create(S(n): State, Auth(ctx): Auth, JsonBody(b): JsonBody<Value>) -> Result<Response> {
    let (items, bulk) = attrs::create_items(b, "router", "routers")?;
    let created = n.create_routers(&ctx, items).await?;
    let rendered: Vec<Value> = created
        .iter()
        .map(|r| render(&RouterBody::new(r), None))
        .collect();
    Ok(super::created("router", "routers", bulk, rendered))
}

#[utoipa::path(get, path = "/v2.0/routers/{id}", tag = "routers",
    params(("id" = String, Path), ("fields" = Option<Vec<String>>, Query)),
    responses((status = 200, body = RouterOne), NeutronErrors))]
async fn show(
    S(n): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    q: QueryMap,
) -> Result<Json<Value>> {
    let r = n.visible_router(&ctx, &id).await?;
    let r = n.router_view(r).await?;
    let fields = Fields::from_query(&q);
    Ok(Json(
        json!({"router": render(&RouterBody::new(&r), fields.as_ref())}),
    ))
}

#[utoipa::path(put, path = "/v2.0/routers/{id}", tag = "routers",
    params(("id" = String, Path)),
    request_body(content = RouterUpdate, content_type = "application/json"),
    responses((status = 200, body = RouterOne), NeutronErrors))]
async fn update(
    S(n): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Json<Value>> {
    let a = attrs::single(b, "router")?;
    let r = n.update_router(&ctx, &id, a).await?;
    Ok(Json(json!({"router": render(&RouterBody::new(&r), None)})))
}

#[utoipa::path(delete, path = "/v2.0/routers/{id}", tag = "routers",
    params(("id" = String, Path)),
    responses((status = 204), NeutronErrors))]
async fn delete(S(n): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    n.delete_router(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/v2.0/routers/{id}/add_router_interface", tag = "routers",
    params(("id" = String, Path)),
    request_body(content = InterfaceRequest, content_type = "application/json"),
    responses((status = 200, body = InterfaceBody), NeutronErrors))]
async fn add_interface(
    S(n): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Json<InterfaceBody>> {
    let i = n.add_router_interface(&ctx, &id, &b).await?;
    Ok(Json(InterfaceBody::new(i)))
}

#[utoipa::path(put, path = "/v2.0/routers/{id}/remove_router_interface", tag = "routers",
    params(("id" = String, Path)),
    request_body(content = InterfaceRequest, content_type = "application/json"),
    responses((status = 200, body = InterfaceBody), NeutronErrors))]
async fn remove_interface(
    S(n): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Json<InterfaceBody>> {
    let i = n.remove_router_interface(&ctx, &id, &b).await?;
    Ok(Json(InterfaceBody::new(i)))
}

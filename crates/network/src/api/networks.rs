//! `/v2.0/networks` and `/v2.0/networks/{id}`.

use super::{list_body, render, NeutronErrors, State};
use crate::app::attrs;
use crate::app::networks::NetworkView;
use axum::extract::{OriginalUri, Path, State as S};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
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
        .route("/v2.0/networks", get(list).post(create))
        .route("/v2.0/networks/{id}", get(show).put(update).delete(delete))
}

/// A network as Neutron prints it (provider attributes for admins only).
#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkBody {
    pub id: String,
    pub name: String,
    pub description: String,
    pub project_id: String,
    pub tenant_id: String,
    pub admin_state_up: bool,
    pub status: String,
    pub subnets: Vec<String>,
    pub shared: bool,
    #[serde(rename = "router:external")]
    #[schema(rename = "router:external")]
    pub router_external: bool,
    pub mtu: i64,
    pub port_security_enabled: bool,
    #[serde(
        rename = "provider:network_type",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(rename = "provider:network_type")]
    pub network_type: Option<String>,
    #[serde(
        rename = "provider:physical_network",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(rename = "provider:physical_network")]
    pub physical_network: Option<Option<String>>,
    #[serde(
        rename = "provider:segmentation_id",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(rename = "provider:segmentation_id")]
    pub segmentation_id: Option<Option<i64>>,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub revision_number: i64,
}

impl NetworkBody {
    pub fn new(v: &NetworkView, provider: bool) -> Self {
        let n = &v.row;
        NetworkBody {
            id: n.id.clone(),
            name: n.name.clone(),
            description: n.description.clone(),
            project_id: n.project_id.clone(),
            tenant_id: n.project_id.clone(),
            admin_state_up: n.admin_state_up,
            status: n.status.clone(),
            subnets: v.subnets.clone(),
            shared: n.shared,
            router_external: n.router_external,
            mtu: n.mtu,
            port_security_enabled: n.port_security_enabled,
            network_type: provider.then(|| n.network_type.clone()),
            physical_network: provider.then(|| n.physical_network.clone()),
            segmentation_id: provider.then_some(n.segmentation_id),
            tags: v.tags.clone(),
            created_at: iso_seconds(n.created_at),
            updated_at: iso_seconds(n.updated_at),
            revision_number: n.revision_number,
        }
    }
}

/// `{"network": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkOne {
    pub network: NetworkBody,
}

/// `{"networks": [...], "networks_links": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkMany {
    pub networks: Vec<NetworkBody>,
    /// `next`/`previous` links, when the request gave a `limit`.
    pub networks_links: Option<Vec<super::Link>>,
}

/// The create and update request as documented (the body is read as
/// JSON and checked attribute by attribute in `app`, with Neutron's
/// messages).
#[derive(Debug, Deserialize, ToSchema)]
pub struct NetworkWrite {
    pub name: Option<String>,
    pub description: Option<String>,
    pub admin_state_up: Option<bool>,
    pub shared: Option<bool>,
    #[serde(rename = "router:external")]
    #[schema(rename = "router:external")]
    pub router_external: Option<bool>,
    pub port_security_enabled: Option<bool>,
    pub project_id: Option<String>,
    #[serde(rename = "provider:network_type")]
    #[schema(rename = "provider:network_type")]
    pub network_type: Option<String>,
    #[serde(rename = "provider:physical_network")]
    #[schema(rename = "provider:physical_network")]
    pub physical_network: Option<String>,
    #[serde(rename = "provider:segmentation_id")]
    #[schema(rename = "provider:segmentation_id")]
    pub segmentation_id: Option<i64>,
}

/// `{"network": {...}}` or `{"networks": [...]}` (bulk).
#[derive(Debug, Deserialize, ToSchema)]
pub struct NetworkCreate {
    pub network: Option<NetworkWrite>,
    pub networks: Option<Vec<NetworkWrite>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NetworkUpdate {
    pub network: NetworkWrite,
}

fn body(g: &crate::Network, ctx: &common::context::AuthContext, v: &NetworkView) -> NetworkBody {
    NetworkBody::new(v, g.shows_provider(ctx, &v.row))
}

#[utoipa::path(get, path = "/v2.0/networks", tag = "networks",
    params(
        ("fields" = Option<Vec<String>>, Query), ("limit" = Option<u32>, Query),
        ("marker" = Option<String>, Query), ("page_reverse" = Option<bool>, Query),
        ("sort_key" = Option<Vec<String>>, Query), ("sort_dir" = Option<Vec<String>>, Query),
        ("tags" = Option<String>, Query), ("tags-any" = Option<String>, Query),
        ("not-tags" = Option<String>, Query), ("not-tags-any" = Option<String>, Query),
        ("name" = Option<String>, Query), ("shared" = Option<bool>, Query),
    ),
    responses((status = 200, body = NetworkMany), NeutronErrors))]
async fn list(
    S(g): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    OriginalUri(uri): OriginalUri,
    q: QueryMap,
) -> Result<Json<Value>> {
    let (found, req) = g.list_networks(&ctx, &q).await?;
    let fields = Fields::from_query(&q);
    let ids: Vec<String> = found.iter().map(|v| v.row.id.clone()).collect();
    let items = found
        .iter()
        .map(|v| render(&body(&g, &ctx, v), fields.as_ref()))
        .collect();
    Ok(Json(list_body(
        "networks",
        items,
        &ids,
        &req,
        &base,
        uri.path(),
        &q,
    )))
}

#[utoipa::path(post, path = "/v2.0/networks", tag = "networks",
    request_body(content = NetworkCreate, content_type = "application/json"),
    responses((status = 201, body = NetworkOne), NeutronErrors))]
async fn create(S(g): State, Auth(ctx): Auth, JsonBody(b): JsonBody<Value>) -> Result<Response> {
    let (items, bulk) = attrs::create_items(b, "network", "networks")?;
    let created = g.create_networks(&ctx, items).await?;
    let rendered: Vec<Value> = created
        .iter()
        .map(|v| render(&body(&g, &ctx, v), None))
        .collect();
    Ok(super::created("network", "networks", bulk, rendered))
}

#[utoipa::path(get, path = "/v2.0/networks/{id}", tag = "networks",
    params(("id" = String, Path), ("fields" = Option<Vec<String>>, Query)),
    responses((status = 200, body = NetworkOne), NeutronErrors))]
async fn show(
    S(g): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    q: QueryMap,
) -> Result<Json<Value>> {
    let v = g.show_network(&ctx, &id).await?;
    let fields = Fields::from_query(&q);
    Ok(Json(
        json!({"network": render(&body(&g, &ctx, &v), fields.as_ref())}),
    ))
}

#[utoipa::path(put, path = "/v2.0/networks/{id}", tag = "networks", params(("id" = String, Path)),
    request_body(content = NetworkUpdate, content_type = "application/json"),
    responses((status = 200, body = NetworkOne), NeutronErrors))]
async fn update(
    S(g): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Json<Value>> {
    let a = attrs::single(b, "network")?;
    let v = g.update_network(&ctx, &id, a).await?;
    Ok(Json(json!({"network": render(&body(&g, &ctx, &v), None)})))
}

#[utoipa::path(delete, path = "/v2.0/networks/{id}", tag = "networks", params(("id" = String, Path)),
    responses((status = 204), NeutronErrors))]
async fn delete(S(g): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    g.delete_network(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

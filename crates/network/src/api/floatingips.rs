//! `/v2.0/floatingips[/{id}]`, their port forwardings
//! (`/v2.0/floatingips/{id}/port_forwardings[/{pf_id}]`) and
//! `/v2.0/floatingip_pools`.

use super::{list_body, render, NeutronErrors, State};
use crate::app::attrs;
use crate::app::floatingips::FloatingIpView;
use crate::db::port_forwardings::PortForwardingRow;
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
        .route("/v2.0/floatingips", get(list).post(create))
        .route(
            "/v2.0/floatingips/{id}",
            get(show).put(update).delete(delete),
        )
        .route(
            "/v2.0/floatingips/{id}/port_forwardings",
            get(list_pfs).post(create_pf),
        )
        .route(
            "/v2.0/floatingips/{id}/port_forwardings/{pf_id}",
            get(show_pf).put(update_pf).delete(delete_pf),
        )
        .route("/v2.0/floatingip_pools", get(pools))
}

/// The associated port's details (fip-port-details).
#[derive(Debug, Serialize, ToSchema)]
pub struct PortDetails {
    pub name: String,
    pub network_id: String,
    pub mac_address: String,
    pub admin_state_up: bool,
    pub status: String,
    pub device_id: String,
    pub device_owner: String,
}

/// A port forwarding as listed inside its floating IP.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortForwardingSummary {
    pub id: String,
    pub internal_ip_address: String,
    pub protocol: String,
    pub internal_port: i64,
    pub external_port: i64,
    pub internal_port_id: String,
}

/// A floating IP as Neutron prints it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FloatingIpBody {
    pub id: String,
    pub floating_ip_address: String,
    pub floating_network_id: String,
    pub router_id: Option<String>,
    pub port_id: Option<String>,
    pub fixed_ip_address: Option<String>,
    pub status: String,
    pub project_id: String,
    pub tenant_id: String,
    pub description: String,
    pub tags: Vec<String>,
    /// The associated port, or null.
    pub port_details: Option<PortDetails>,
    pub port_forwardings: Vec<PortForwardingSummary>,
    pub created_at: String,
    pub updated_at: String,
    pub revision_number: i64,
}

impl FloatingIpBody {
    pub fn new(v: &FloatingIpView) -> Self {
        let r = &v.row;
        FloatingIpBody {
            id: r.id.clone(),
            floating_ip_address: r.floating_ip_address.clone(),
            floating_network_id: r.floating_network_id.clone(),
            router_id: r.router_id.clone(),
            port_id: r.fixed_port_id.clone(),
            fixed_ip_address: r.fixed_ip_address.clone(),
            status: r.status.clone(),
            project_id: r.project_id.clone(),
            tenant_id: r.project_id.clone(),
            description: r.description.clone(),
            tags: v.tags.clone(),
            port_details: v.port.as_ref().map(|p| PortDetails {
                name: p.name.clone(),
                network_id: p.network_id.clone(),
                mac_address: p.mac_address.clone(),
                admin_state_up: p.admin_state_up,
                status: p.status.clone(),
                device_id: p.device_id.clone(),
                device_owner: p.device_owner.clone(),
            }),
            port_forwardings: v
                .port_forwardings
                .iter()
                .map(|p| PortForwardingSummary {
                    id: p.id.clone(),
                    internal_ip_address: p.internal_ip_address.clone(),
                    protocol: p.protocol.clone(),
                    internal_port: p.internal_port,
                    external_port: p.external_port,
                    internal_port_id: p.internal_port_id.clone(),
                })
                .collect(),
            created_at: iso_seconds(r.created_at),
            updated_at: iso_seconds(r.updated_at),
            revision_number: r.revision_number,
        }
    }
}

/// `{"floatingip": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FloatingIpOne {
    pub floatingip: FloatingIpBody,
}

/// `{"floatingips": [...], "floatingips_links": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FloatingIpMany {
    pub floatingips: Vec<FloatingIpBody>,
    pub floatingips_links: Option<Vec<super::Link>>,
}

/// The create and update request (checked attribute by attribute in `app`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct FloatingIpWrite {
    /// Create only.
    pub floating_network_id: Option<String>,
    /// Create only; admins and project managers.
    pub floating_ip_address: Option<String>,
    /// Create only: the external subnet to take the address from.
    pub subnet_id: Option<String>,
    /// The port to associate with; null disassociates.
    pub port_id: Option<String>,
    /// One of the port's IPv4 addresses (required when it has several).
    pub fixed_ip_address: Option<String>,
    pub description: Option<String>,
    pub project_id: Option<String>,
}

/// `{"floatingip": {...}}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FloatingIpRequest {
    pub floatingip: FloatingIpWrite,
}

/// A port forwarding as Neutron prints it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortForwardingBody {
    pub id: String,
    pub external_port: i64,
    pub internal_port: i64,
    pub internal_ip_address: String,
    pub protocol: String,
    pub internal_port_id: String,
    pub description: String,
}

impl PortForwardingBody {
    fn new(p: &PortForwardingRow) -> Self {
        PortForwardingBody {
            id: p.id.clone(),
            external_port: p.external_port,
            internal_port: p.internal_port,
            internal_ip_address: p.internal_ip_address.clone(),
            protocol: p.protocol.clone(),
            internal_port_id: p.internal_port_id.clone(),
            description: p.description.clone(),
        }
    }
}

/// `{"port_forwarding": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortForwardingOne {
    pub port_forwarding: PortForwardingBody,
}

/// `{"port_forwardings": [...], "port_forwardings_links": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortForwardingMany {
    pub port_forwardings: Vec<PortForwardingBody>,
    pub port_forwardings_links: Option<Vec<super::Link>>,
}

/// The create and update request of a port forwarding.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PortForwardingWrite {
    pub external_port: Option<i64>,
    pub internal_port: Option<i64>,
    pub internal_ip_address: Option<String>,
    /// `tcp`, `udp`, `icmp`, `ipv6-icmp`, `sctp` or `dccp`.
    pub protocol: Option<String>,
    pub internal_port_id: Option<String>,
    pub description: Option<String>,
}

/// `{"port_forwarding": {...}}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PortForwardingRequest {
    pub port_forwarding: PortForwardingWrite,
}

/// A floating IP pool: an IPv4 subnet of an external network.
#[derive(Debug, Serialize, ToSchema)]
pub struct FloatingIpPool {
    pub subnet_id: String,
    pub subnet_name: String,
    pub network_id: String,
    pub cidr: String,
    pub project_id: String,
}

/// `{"floatingip_pools": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FloatingIpPools {
    pub floatingip_pools: Vec<FloatingIpPool>,
}

#[utoipa::path(get, path = "/v2.0/floatingips", tag = "floatingips",
    params(
        ("fields" = Option<Vec<String>>, Query), ("limit" = Option<u32>, Query),
        ("marker" = Option<String>, Query), ("page_reverse" = Option<bool>, Query),
        ("sort_key" = Option<Vec<String>>, Query), ("sort_dir" = Option<Vec<String>>, Query),
        ("floating_ip_address" = Option<String>, Query),
        ("floating_network_id" = Option<String>, Query),
        ("router_id" = Option<String>, Query), ("port_id" = Option<String>, Query),
        ("fixed_ip_address" = Option<String>, Query), ("status" = Option<String>, Query),
    ),
    responses((status = 200, body = FloatingIpMany), NeutronErrors))]
async fn list(
    S(n): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    OriginalUri(uri): OriginalUri,
    q: QueryMap,
) -> Result<Json<Value>> {
    let (found, req) = n.list_floatingips(&ctx, &q).await?;
    let fields = Fields::from_query(&q);
    let ids: Vec<String> = found.iter().map(|f| f.row.id.clone()).collect();
    let items = found
        .iter()
        .map(|f| render(&FloatingIpBody::new(f), fields.as_ref()))
        .collect();
    Ok(Json(list_body(
        "floatingips",
        items,
        &ids,
        &req,
        &base,
        uri.path(),
        &q,
    )))
}

#[utoipa::path(post, path = "/v2.0/floatingips", tag = "floatingips",
    request_body(content = FloatingIpRequest, content_type = "application/json"),
    responses((status = 201, body = FloatingIpOne), NeutronErrors))]
async fn create(S(n): State, Auth(ctx): Auth, JsonBody(b): JsonBody<Value>) -> Result<Response> {
    let a = attrs::single(b, "floatingip")?;
    let f = n.create_floatingip(&ctx, a).await?;
    Ok(super::created(
        "floatingip",
        "floatingips",
        false,
        vec![render(&FloatingIpBody::new(&f), None)],
    ))
}

#[utoipa::path(get, path = "/v2.0/floatingips/{id}", tag = "floatingips",
    params(("id" = String, Path), ("fields" = Option<Vec<String>>, Query)),
    responses((status = 200, body = FloatingIpOne), NeutronErrors))]
async fn show(
    S(n): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    q: QueryMap,
) -> Result<Json<Value>> {
    let f = n.show_floatingip(&ctx, &id).await?;
    let fields = Fields::from_query(&q);
    Ok(Json(
        json!({"floatingip": render(&FloatingIpBody::new(&f), fields.as_ref())}),
    ))
}

#[utoipa::path(put, path = "/v2.0/floatingips/{id}", tag = "floatingips",
    params(("id" = String, Path)),
    request_body(content = FloatingIpRequest, content_type = "application/json"),
    responses((status = 200, body = FloatingIpOne), NeutronErrors))]
async fn update(
    S(n): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Json<Value>> {
    let a = attrs::single(b, "floatingip")?;
    let f = n.update_floatingip(&ctx, &id, a).await?;
    Ok(Json(
        json!({"floatingip": render(&FloatingIpBody::new(&f), None)}),
    ))
}

#[utoipa::path(delete, path = "/v2.0/floatingips/{id}", tag = "floatingips",
    params(("id" = String, Path)),
    responses((status = 204), NeutronErrors))]
async fn delete(S(n): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    n.delete_floatingip(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v2.0/floatingips/{id}/port_forwardings", tag = "floatingips",
    params(
        ("id" = String, Path),
        ("fields" = Option<Vec<String>>, Query), ("limit" = Option<u32>, Query),
        ("marker" = Option<String>, Query), ("page_reverse" = Option<bool>, Query),
        ("sort_key" = Option<Vec<String>>, Query), ("sort_dir" = Option<Vec<String>>, Query),
        ("external_port" = Option<i64>, Query), ("protocol" = Option<String>, Query),
        ("internal_port_id" = Option<String>, Query),
    ),
    responses((status = 200, body = PortForwardingMany), NeutronErrors))]
async fn list_pfs(
    S(n): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    BaseUrl(base): BaseUrl,
    OriginalUri(uri): OriginalUri,
    q: QueryMap,
) -> Result<Json<Value>> {
    let (found, req) = n.list_port_forwardings(&ctx, &id, &q).await?;
    let fields = Fields::from_query(&q);
    let ids: Vec<String> = found.iter().map(|p| p.id.clone()).collect();
    let items = found
        .iter()
        .map(|p| render(&PortForwardingBody::new(p), fields.as_ref()))
        .collect();
    Ok(Json(list_body(
        "port_forwardings",
        items,
        &ids,
        &req,
        &base,
        uri.path(),
        &q,
    )))
}

#[utoipa::path(post, path = "/v2.0/floatingips/{id}/port_forwardings", tag = "floatingips",
    params(("id" = String, Path)),
    request_body(content = PortForwardingRequest, content_type = "application/json"),
    responses((status = 201, body = PortForwardingOne), NeutronErrors))]
async fn create_pf(
    S(n): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Response> {
    let a = attrs::single(b, "port_forwarding")?;
    let p = n.create_port_forwarding(&ctx, &id, a).await?;
    Ok(super::created(
        "port_forwarding",
        "port_forwardings",
        false,
        vec![render(&PortForwardingBody::new(&p), None)],
    ))
}

#[utoipa::path(get, path = "/v2.0/floatingips/{id}/port_forwardings/{pf_id}", tag = "floatingips",
    params(("id" = String, Path), ("pf_id" = String, Path), ("fields" = Option<Vec<String>>, Query)),
    responses((status = 200, body = PortForwardingOne), NeutronErrors))]
async fn show_pf(
    S(n): State,
    Auth(ctx): Auth,
    Path((id, pf_id)): Path<(String, String)>,
    q: QueryMap,
) -> Result<Json<Value>> {
    let p = n.show_port_forwarding(&ctx, &id, &pf_id).await?;
    let fields = Fields::from_query(&q);
    Ok(Json(
        json!({"port_forwarding": render(&PortForwardingBody::new(&p), fields.as_ref())}),
    ))
}

#[utoipa::path(put, path = "/v2.0/floatingips/{id}/port_forwardings/{pf_id}", tag = "floatingips",
    params(("id" = String, Path), ("pf_id" = String, Path)),
    request_body(content = PortForwardingRequest, content_type = "application/json"),
    responses((status = 200, body = PortForwardingOne), NeutronErrors))]
async fn update_pf(
    S(n): State,
    Auth(ctx): Auth,
    Path((id, pf_id)): Path<(String, String)>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Json<Value>> {
    let a = attrs::single(b, "port_forwarding")?;
    let p = n.update_port_forwarding(&ctx, &id, &pf_id, a).await?;
    Ok(Json(
        json!({"port_forwarding": render(&PortForwardingBody::new(&p), None)}),
    ))
}

#[utoipa::path(delete, path = "/v2.0/floatingips/{id}/port_forwardings/{pf_id}", tag = "floatingips",
    params(("id" = String, Path), ("pf_id" = String, Path)),
    responses((status = 204), NeutronErrors))]
async fn delete_pf(
    S(n): State,
    Auth(ctx): Auth,
    Path((id, pf_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    n.delete_port_forwarding(&ctx, &id, &pf_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v2.0/floatingip_pools", tag = "floatingips",
    params(("fields" = Option<Vec<String>>, Query)),
    responses((status = 200, body = FloatingIpPools), NeutronErrors))]
async fn pools(S(n): State, Auth(ctx): Auth, q: QueryMap) -> Result<Json<Value>> {
    let (project, found) = n.floatingip_pools(&ctx).await?;
    let fields = Fields::from_query(&q);
    let items: Vec<Value> = found
        .into_iter()
        .map(|p| {
            let body = FloatingIpPool {
                subnet_id: p.subnet_id,
                subnet_name: p.subnet_name,
                network_id: p.network_id,
                cidr: p.cidr,
                project_id: project.clone(),
            };
            render(&body, fields.as_ref())
        })
        .collect();
    Ok(Json(json!({"floatingip_pools": items})))
}

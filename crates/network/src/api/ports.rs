//! `/v2.0/ports` and `/v2.0/ports/{id}`.

use super::{list_body, render, NeutronErrors, State};
use crate::app::attrs;
use crate::app::ports::PortView;
use crate::Network;
use axum::extract::{OriginalUri, Path, State as S};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::clock::iso_seconds;
use common::context::AuthContext;
use common::http::{BaseUrl, Fields, JsonBody, QueryMap};
use common::Result;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use utoipa::ToSchema;

pub fn routes() -> Router<Arc<crate::Network>> {
    Router::new()
        .route("/v2.0/ports", get(list).post(create))
        .route("/v2.0/ports/{id}", get(show).put(update).delete(delete))
}

/// One address of a port.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FixedIp {
    pub subnet_id: String,
    pub ip_address: String,
}

/// An address (or CIDR) the port may also send from.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AddressPair {
    pub ip_address: String,
    pub mac_address: String,
}

/// An extra DHCP option.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DhcpOpt {
    pub opt_name: String,
    pub opt_value: String,
    pub ip_version: i64,
}

/// A port as Neutron prints it (the binding host, profile and VIF for
/// admins only).
#[derive(Debug, Serialize, ToSchema)]
pub struct PortBody {
    pub id: String,
    pub name: String,
    pub description: String,
    pub network_id: String,
    pub project_id: String,
    pub tenant_id: String,
    pub admin_state_up: bool,
    pub status: String,
    pub mac_address: String,
    pub fixed_ips: Vec<FixedIp>,
    pub device_id: String,
    pub device_owner: String,
    pub port_security_enabled: bool,
    pub security_groups: Vec<String>,
    pub allowed_address_pairs: Vec<AddressPair>,
    #[schema(value_type = Vec<DhcpOpt>)]
    pub extra_dhcp_opts: Vec<Value>,
    #[serde(rename = "binding:vnic_type")]
    #[schema(rename = "binding:vnic_type")]
    pub vnic_type: String,
    #[serde(rename = "binding:host_id", skip_serializing_if = "Option::is_none")]
    #[schema(rename = "binding:host_id")]
    pub host_id: Option<String>,
    #[serde(rename = "binding:profile", skip_serializing_if = "Option::is_none")]
    #[schema(rename = "binding:profile", value_type = Option<Object>)]
    pub profile: Option<Value>,
    #[serde(rename = "binding:vif_type", skip_serializing_if = "Option::is_none")]
    #[schema(rename = "binding:vif_type")]
    pub vif_type: Option<String>,
    #[serde(
        rename = "binding:vif_details",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(rename = "binding:vif_details", value_type = Option<Object>)]
    pub vif_details: Option<Value>,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub revision_number: i64,
}

impl PortBody {
    pub fn new(g: &Network, ctx: &AuthContext, v: &PortView) -> Self {
        let p = &v.row;
        let binding = g.shows_binding(ctx, p);
        let (vif_type, vif_details) = g.vif(p);
        PortBody {
            id: p.id.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            network_id: p.network_id.clone(),
            project_id: p.project_id.clone(),
            tenant_id: p.project_id.clone(),
            admin_state_up: p.admin_state_up,
            status: p.status.clone(),
            mac_address: p.mac_address.clone(),
            fixed_ips: v
                .fixed_ips
                .iter()
                .map(|a| FixedIp {
                    subnet_id: a.subnet_id.clone(),
                    ip_address: a.ip_address.clone(),
                })
                .collect(),
            device_id: p.device_id.clone(),
            device_owner: p.device_owner.clone(),
            port_security_enabled: p.port_security_enabled,
            security_groups: p.security_groups.clone(),
            allowed_address_pairs: p
                .allowed_address_pairs
                .iter()
                .map(|(ip, mac)| AddressPair {
                    ip_address: ip.clone(),
                    mac_address: mac.clone(),
                })
                .collect(),
            extra_dhcp_opts: p.extra_dhcp_opts.clone(),
            vnic_type: p.binding_vnic_type.clone(),
            host_id: binding.then(|| p.binding_host_id.clone()),
            profile: binding.then(|| p.binding_profile.clone()),
            vif_type: binding.then_some(vif_type),
            vif_details: binding.then_some(vif_details),
            tags: v.tags.clone(),
            created_at: iso_seconds(p.created_at),
            updated_at: iso_seconds(p.updated_at),
            revision_number: p.revision_number,
        }
    }
}

/// `{"port": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortOne {
    pub port: PortBody,
}

/// `{"ports": [...], "ports_links": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortMany {
    pub ports: Vec<PortBody>,
    /// `next`/`previous` links, when the request gave a `limit`.
    pub ports_links: Option<Vec<super::Link>>,
}

/// A requested address: by subnet, by address, or both.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FixedIpRequest {
    pub subnet_id: Option<String>,
    pub ip_address: Option<String>,
}

/// The create and update request as documented (the body is read as
/// JSON and checked attribute by attribute in `app`, with Neutron's
/// messages).
#[derive(Debug, Deserialize, ToSchema)]
pub struct PortWrite {
    pub name: Option<String>,
    pub description: Option<String>,
    pub network_id: Option<String>,
    pub project_id: Option<String>,
    pub admin_state_up: Option<bool>,
    pub mac_address: Option<String>,
    pub fixed_ips: Option<Vec<FixedIpRequest>>,
    pub device_id: Option<String>,
    pub device_owner: Option<String>,
    pub port_security_enabled: Option<bool>,
    pub security_groups: Option<Vec<String>>,
    pub allowed_address_pairs: Option<Vec<AddressPair>>,
    pub extra_dhcp_opts: Option<Vec<DhcpOpt>>,
    #[serde(rename = "binding:host_id")]
    #[schema(rename = "binding:host_id")]
    pub host_id: Option<String>,
    #[serde(rename = "binding:vnic_type")]
    #[schema(rename = "binding:vnic_type")]
    pub vnic_type: Option<String>,
    #[serde(rename = "binding:profile")]
    #[schema(rename = "binding:profile", value_type = Option<Object>)]
    pub profile: Option<Value>,
    /// Create only (tag-ports-during-bulk-creation).
    pub tags: Option<Vec<String>>,
}

/// `{"port": {...}}` or `{"ports": [...]}` (bulk).
#[derive(Debug, Deserialize, ToSchema)]
pub struct PortCreate {
    pub port: Option<PortWrite>,
    pub ports: Option<Vec<PortWrite>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PortUpdate {
    pub port: PortWrite,
}

#[utoipa::path(get, path = "/v2.0/ports", tag = "ports",
    params(
        ("fields" = Option<Vec<String>>, Query), ("limit" = Option<u32>, Query),
        ("marker" = Option<String>, Query), ("page_reverse" = Option<bool>, Query),
        ("sort_key" = Option<Vec<String>>, Query), ("sort_dir" = Option<Vec<String>>, Query),
        ("tags" = Option<String>, Query), ("network_id" = Option<String>, Query),
        ("device_id" = Option<String>, Query), ("device_owner" = Option<String>, Query),
        ("mac_address" = Option<String>, Query),
        ("fixed_ips" = Option<Vec<String>>, Query,
            description = "`ip_address=<addr>` or `subnet_id=<id>`"),
    ),
    responses((status = 200, body = PortMany), NeutronErrors))]
async fn list(
    S(g): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    OriginalUri(uri): OriginalUri,
    q: QueryMap,
) -> Result<Json<Value>> {
    let (found, req) = g.list_ports(&ctx, &q).await?;
    let fields = Fields::from_query(&q);
    let ids: Vec<String> = found.iter().map(|v| v.row.id.clone()).collect();
    let items = found
        .iter()
        .map(|v| render(&PortBody::new(&g, &ctx, v), fields.as_ref()))
        .collect();
    Ok(Json(list_body(
        "ports",
        items,
        &ids,
        &req,
        &base,
        uri.path(),
        &q,
    )))
}

#[utoipa::path(post, path = "/v2.0/ports", tag = "ports",
    request_body(content = PortCreate, content_type = "application/json"),
    responses((status = 201, body = PortOne), NeutronErrors))]
async fn create(S(g): State, Auth(ctx): Auth, JsonBody(b): JsonBody<Value>) -> Result<Response> {
    let (items, bulk) = attrs::create_items(b, "port", "ports")?;
    let created = g.create_ports(&ctx, items).await?;
    let rendered: Vec<Value> = created
        .iter()
        .map(|v| render(&PortBody::new(&g, &ctx, v), None))
        .collect();
    Ok(super::created("port", "ports", bulk, rendered))
}

#[utoipa::path(get, path = "/v2.0/ports/{id}", tag = "ports",
    params(("id" = String, Path), ("fields" = Option<Vec<String>>, Query)),
    responses((status = 200, body = PortOne), NeutronErrors))]
async fn show(
    S(g): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    q: QueryMap,
) -> Result<Json<Value>> {
    let v = g.show_port(&ctx, &id).await?;
    let fields = Fields::from_query(&q);
    Ok(Json(
        json!({"port": render(&PortBody::new(&g, &ctx, &v), fields.as_ref())}),
    ))
}

#[utoipa::path(put, path = "/v2.0/ports/{id}", tag = "ports", params(("id" = String, Path)),
    request_body(content = PortUpdate, content_type = "application/json"),
    responses((status = 200, body = PortOne), NeutronErrors))]
async fn update(
    S(g): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Json<Value>> {
    let a = attrs::single(b, "port")?;
    let v = g.update_port(&ctx, &id, a).await?;
    Ok(Json(
        json!({"port": render(&PortBody::new(&g, &ctx, &v), None)}),
    ))
}

#[utoipa::path(delete, path = "/v2.0/ports/{id}", tag = "ports", params(("id" = String, Path)),
    responses((status = 204), NeutronErrors))]
async fn delete(S(g): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    g.delete_port(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

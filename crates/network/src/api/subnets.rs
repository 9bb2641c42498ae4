//! `/v2.0/subnets` and `/v2.0/subnets/{id}`.

use super::{list_body, render, NeutronErrors, State};
use crate::app::attrs;
use crate::app::subnets::SubnetView;
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
        .route("/v2.0/subnets", get(list).post(create))
        .route("/v2.0/subnets/{id}", get(show).put(update).delete(delete))
}

/// `{"start", "end"}` of an allocation pool.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Pool {
    pub start: String,
    pub end: String,
}

/// `{"destination", "nexthop"}` of a host route.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HostRoute {
    pub destination: String,
    pub nexthop: String,
}

/// A subnet as Neutron prints it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubnetBody {
    pub id: String,
    pub name: String,
    pub description: String,
    pub network_id: String,
    pub project_id: String,
    pub tenant_id: String,
    pub ip_version: i64,
    pub cidr: String,
    pub gateway_ip: Option<String>,
    pub allocation_pools: Vec<Pool>,
    pub dns_nameservers: Vec<String>,
    pub host_routes: Vec<HostRoute>,
    pub enable_dhcp: bool,
    pub ipv6_ra_mode: Option<String>,
    pub ipv6_address_mode: Option<String>,
    pub subnetpool_id: Option<String>,
    pub service_types: Vec<String>,
    pub segment_id: Option<String>,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub revision_number: i64,
}

impl SubnetBody {
    pub fn new(v: &SubnetView) -> Self {
        let s = &v.row;
        SubnetBody {
            id: s.id.clone(),
            name: s.name.clone(),
            description: s.description.clone(),
            network_id: s.network_id.clone(),
            project_id: s.project_id.clone(),
            tenant_id: s.project_id.clone(),
            ip_version: s.ip_version,
            cidr: s.cidr.clone(),
            gateway_ip: s.gateway_ip.clone(),
            allocation_pools: s
                .allocation_pools
                .iter()
                .map(|(start, end)| Pool {
                    start: start.clone(),
                    end: end.clone(),
                })
                .collect(),
            dns_nameservers: s.dns_nameservers.clone(),
            host_routes: s
                .host_routes
                .iter()
                .map(|(d, n)| HostRoute {
                    destination: d.clone(),
                    nexthop: n.clone(),
                })
                .collect(),
            enable_dhcp: s.enable_dhcp,
            ipv6_ra_mode: s.ipv6_ra_mode.clone(),
            ipv6_address_mode: s.ipv6_address_mode.clone(),
            subnetpool_id: s.subnetpool_id.clone(),
            service_types: Vec::new(),
            segment_id: None,
            tags: v.tags.clone(),
            created_at: iso_seconds(s.created_at),
            updated_at: iso_seconds(s.updated_at),
            revision_number: s.revision_number,
        }
    }
}

/// `{"subnet": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubnetOne {
    pub subnet: SubnetBody,
}

/// `{"subnets": [...], "subnets_links": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubnetMany {
    pub subnets: Vec<SubnetBody>,
    /// `next`/`previous` links, when the request gave a `limit`.
    pub subnets_links: Option<Vec<super::Link>>,
}

/// The create and update request as documented (the body is read as
/// JSON and checked attribute by attribute in `app`, with Neutron's
/// messages).
#[derive(Debug, Deserialize, ToSchema)]
pub struct SubnetWrite {
    pub name: Option<String>,
    pub description: Option<String>,
    pub network_id: Option<String>,
    pub project_id: Option<String>,
    pub ip_version: Option<i64>,
    pub cidr: Option<String>,
    pub gateway_ip: Option<String>,
    pub allocation_pools: Option<Vec<Pool>>,
    pub dns_nameservers: Option<Vec<String>>,
    pub host_routes: Option<Vec<HostRoute>>,
    pub enable_dhcp: Option<bool>,
    pub ipv6_ra_mode: Option<String>,
    pub ipv6_address_mode: Option<String>,
}

/// `{"subnet": {...}}` or `{"subnets": [...]}` (bulk).
#[derive(Debug, Deserialize, ToSchema)]
pub struct SubnetCreate {
    pub subnet: Option<SubnetWrite>,
    pub subnets: Option<Vec<SubnetWrite>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SubnetUpdate {
    pub subnet: SubnetWrite,
}

#[utoipa::path(get, path = "/v2.0/subnets", tag = "subnets",
    params(
        ("fields" = Option<Vec<String>>, Query), ("limit" = Option<u32>, Query),
        ("marker" = Option<String>, Query), ("page_reverse" = Option<bool>, Query),
        ("sort_key" = Option<Vec<String>>, Query), ("sort_dir" = Option<Vec<String>>, Query),
        ("tags" = Option<String>, Query), ("network_id" = Option<String>, Query),
        ("ip_version" = Option<i64>, Query), ("cidr" = Option<String>, Query),
    ),
    responses((status = 200, body = SubnetMany), NeutronErrors))]
async fn list(
    S(g): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    OriginalUri(uri): OriginalUri,
    q: QueryMap,
) -> Result<Json<Value>> {
    let (found, req) = g.list_subnets(&ctx, &q).await?;
    let fields = Fields::from_query(&q);
    let ids: Vec<String> = found.iter().map(|v| v.row.id.clone()).collect();
    let items = found
        .iter()
        .map(|v| render(&SubnetBody::new(v), fields.as_ref()))
        .collect();
    Ok(Json(list_body(
        "subnets",
        items,
        &ids,
        &req,
        &base,
        uri.path(),
        &q,
    )))
}

#[utoipa::path(post, path = "/v2.0/subnets", tag = "subnets",
    request_body(content = SubnetCreate, content_type = "application/json"),
    responses((status = 201, body = SubnetOne), NeutronErrors))]
async fn create(S(g): State, Auth(ctx): Auth, JsonBody(b): JsonBody<Value>) -> Result<Response> {
    let (items, bulk) = attrs::create_items(b, "subnet", "subnets")?;
    let created = g.create_subnets(&ctx, items).await?;
    let rendered: Vec<Value> = created
        .iter()
        .map(|v| render(&SubnetBody::new(v), None))
        .collect();
    Ok(super::created("subnet", "subnets", bulk, rendered))
}

#[utoipa::path(get, path = "/v2.0/subnets/{id}", tag = "subnets",
    params(("id" = String, Path), ("fields" = Option<Vec<String>>, Query)),
    responses((status = 200, body = SubnetOne), NeutronErrors))]
async fn show(
    S(g): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    q: QueryMap,
) -> Result<Json<Value>> {
    let v = g.show_subnet(&ctx, &id).await?;
    let fields = Fields::from_query(&q);
    Ok(Json(
        json!({"subnet": render(&SubnetBody::new(&v), fields.as_ref())}),
    ))
}

#[utoipa::path(put, path = "/v2.0/subnets/{id}", tag = "subnets", params(("id" = String, Path)),
    request_body(content = SubnetUpdate, content_type = "application/json"),
    responses((status = 200, body = SubnetOne), NeutronErrors))]
async fn update(
    S(g): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Json<Value>> {
    let a = attrs::single(b, "subnet")?;
    let v = g.update_subnet(&ctx, &id, a).await?;
    Ok(Json(json!({"subnet": render(&SubnetBody::new(&v), None)})))
}

#[utoipa::path(delete, path = "/v2.0/subnets/{id}", tag = "subnets", params(("id" = String, Path)),
    responses((status = 204), NeutronErrors))]
async fn delete(S(g): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    g.delete_subnet(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

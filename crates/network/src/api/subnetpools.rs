//! `/v2.0/subnetpools[/{id}]`.

use super::{list_body, render, NeutronErrors, State};
use crate::app::attrs;
use crate::app::subnetpools::PoolView;
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
        .route("/v2.0/subnetpools", get(list).post(create))
        .route(
            "/v2.0/subnetpools/{id}",
            get(show).put(update).delete(delete),
        )
}

/// A subnet pool as Neutron prints it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PoolBody {
    pub id: String,
    pub name: String,
    pub description: String,
    pub project_id: String,
    pub tenant_id: String,
    pub prefixes: Vec<String>,
    pub ip_version: i64,
    pub min_prefixlen: i64,
    pub max_prefixlen: i64,
    pub default_prefixlen: i64,
    /// Per-pool quotas are not enforced here: always null.
    pub default_quota: Option<i64>,
    /// Address scopes are not served: always null.
    pub address_scope_id: Option<String>,
    pub shared: bool,
    pub is_default: bool,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub revision_number: i64,
}

impl PoolBody {
    pub fn new(v: &PoolView) -> Self {
        let p = &v.row;
        PoolBody {
            id: p.id.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            project_id: p.project_id.clone(),
            tenant_id: p.project_id.clone(),
            prefixes: p.prefixes.clone(),
            ip_version: p.ip_version,
            min_prefixlen: p.min_prefixlen,
            max_prefixlen: p.max_prefixlen,
            default_prefixlen: p.default_prefixlen,
            default_quota: None,
            address_scope_id: None,
            shared: p.shared,
            is_default: p.is_default,
            tags: v.tags.clone(),
            created_at: iso_seconds(p.created_at),
            updated_at: iso_seconds(p.updated_at),
            revision_number: p.revision_number,
        }
    }
}

/// `{"subnetpool": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PoolOne {
    pub subnetpool: PoolBody,
}

/// `{"subnetpools": [...], "subnetpools_links": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PoolMany {
    pub subnetpools: Vec<PoolBody>,
    pub subnetpools_links: Option<Vec<super::Link>>,
}

/// The create and update request as documented (checked attribute by
/// attribute in `app`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct PoolWrite {
    pub name: Option<String>,
    pub description: Option<String>,
    /// CIDRs of one IP family (required on create; an update may only
    /// add space).
    pub prefixes: Option<Vec<String>>,
    pub min_prefixlen: Option<i64>,
    pub max_prefixlen: Option<i64>,
    pub default_prefixlen: Option<i64>,
    /// Admin only.
    pub shared: Option<bool>,
    /// Admin only; one default pool per IP family.
    pub is_default: Option<bool>,
    pub project_id: Option<String>,
}

/// `{"subnetpool": {...}}` or `{"subnetpools": [...]}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PoolCreate {
    pub subnetpool: Option<PoolWrite>,
    pub subnetpools: Option<Vec<PoolWrite>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PoolUpdate {
    pub subnetpool: PoolWrite,
}

#[utoipa::path(get, path = "/v2.0/subnetpools", tag = "subnetpools",
    params(
        ("fields" = Option<Vec<String>>, Query), ("limit" = Option<u32>, Query),
        ("marker" = Option<String>, Query), ("page_reverse" = Option<bool>, Query),
        ("sort_key" = Option<Vec<String>>, Query), ("sort_dir" = Option<Vec<String>>, Query),
        ("name" = Option<String>, Query), ("ip_version" = Option<i64>, Query),
        ("shared" = Option<bool>, Query), ("is_default" = Option<bool>, Query),
    ),
    responses((status = 200, body = PoolMany), NeutronErrors))]
async fn list(
    S(n): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    OriginalUri(uri): OriginalUri,
    q: QueryMap,
) -> Result<Json<Value>> {
    let (found, req) = n.list_pools(&ctx, &q).await?;
    let fields = Fields::from_query(&q);
    let ids: Vec<String> = found.iter().map(|v| v.row.id.clone()).collect();
    let items = found
        .iter()
        .map(|v| render(&PoolBody::new(v), fields.as_ref()))
        .collect();
    Ok(Json(list_body(
        "subnetpools",
        items,
        &ids,
        &req,
        &base,
        uri.path(),
        &q,
    )))
}

#[utoipa::path(post, path = "/v2.0/subnetpools", tag = "subnetpools",
    request_body(content = PoolCreate, content_type = "application/json"),
    responses((status = 201, body = PoolOne), NeutronErrors))]
async fn create(S(n): State, Auth(ctx): Auth, JsonBody(b): JsonBody<Value>) -> Result<Response> {
    let (items, bulk) = attrs::create_items(b, "subnetpool", "subnetpools")?;
    let created = n.create_pools(&ctx, items).await?;
    let rendered: Vec<Value> = created
        .iter()
        .map(|v| render(&PoolBody::new(v), None))
        .collect();
    Ok(super::created("subnetpool", "subnetpools", bulk, rendered))
}

#[utoipa::path(get, path = "/v2.0/subnetpools/{id}", tag = "subnetpools",
    params(("id" = String, Path), ("fields" = Option<Vec<String>>, Query)),
    responses((status = 200, body = PoolOne), NeutronErrors))]
async fn show(
    S(n): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    q: QueryMap,
) -> Result<Json<Value>> {
    let v = n.show_pool(&ctx, &id).await?;
    let fields = Fields::from_query(&q);
    Ok(Json(
        json!({"subnetpool": render(&PoolBody::new(&v), fields.as_ref())}),
    ))
}

#[utoipa::path(put, path = "/v2.0/subnetpools/{id}", tag = "subnetpools",
    params(("id" = String, Path)),
    request_body(content = PoolUpdate, content_type = "application/json"),
    responses((status = 200, body = PoolOne), NeutronErrors))]
async fn update(
    S(n): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Json<Value>> {
    let a = attrs::single(b, "subnetpool")?;
    let v = n.update_pool(&ctx, &id, a).await?;
    Ok(Json(
        json!({"subnetpool": render(&PoolBody::new(&v), None)}),
    ))
}

#[utoipa::path(delete, path = "/v2.0/subnetpools/{id}", tag = "subnetpools",
    params(("id" = String, Path)),
    responses((status = 204), NeutronErrors))]
async fn delete(S(n): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    n.delete_pool(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

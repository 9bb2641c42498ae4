//! `/v2.0/security-groups[/{id}]` and
//! `/v2.0/security-group-rules[/{id}]`.

use super::{list_body, render, NeutronErrors, State};
use crate::app::attrs;
use crate::app::security_groups::GroupView;
use crate::db::security_groups::RuleRow;
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
        .route("/v2.0/security-groups", get(list).post(create))
        .route(
            "/v2.0/security-groups/{id}",
            get(show).put(update).delete(delete),
        )
        .route(
            "/v2.0/security-group-rules",
            get(list_rules).post(create_rules),
        )
        .route(
            "/v2.0/security-group-rules/{id}",
            get(show_rule).delete(delete_rule),
        )
}

/// A security group rule as Neutron prints it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleBody {
    pub id: String,
    pub project_id: String,
    pub tenant_id: String,
    pub security_group_id: String,
    pub direction: String,
    pub ethertype: String,
    pub protocol: Option<String>,
    pub port_range_min: Option<i64>,
    pub port_range_max: Option<i64>,
    pub remote_ip_prefix: Option<String>,
    pub remote_group_id: Option<String>,
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
    pub revision_number: i64,
}

impl RuleBody {
    pub fn new(r: &RuleRow) -> Self {
        RuleBody {
            id: r.id.clone(),
            project_id: r.project_id.clone(),
            tenant_id: r.project_id.clone(),
            security_group_id: r.security_group_id.clone(),
            direction: r.direction.clone(),
            ethertype: r.ethertype.clone(),
            protocol: r.protocol.clone(),
            port_range_min: r.port_range_min,
            port_range_max: r.port_range_max,
            remote_ip_prefix: r.remote_ip_prefix.clone(),
            remote_group_id: r.remote_group_id.clone(),
            description: r.description.clone(),
            created_at: iso_seconds(r.created_at),
            updated_at: iso_seconds(r.updated_at),
            revision_number: r.revision_number,
        }
    }
}

/// A security group with its rules.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupBody {
    pub id: String,
    pub name: String,
    pub description: String,
    pub project_id: String,
    pub tenant_id: String,
    pub stateful: bool,
    pub security_group_rules: Vec<RuleBody>,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub revision_number: i64,
}

impl GroupBody {
    pub fn new(v: &GroupView) -> Self {
        let g = &v.row;
        GroupBody {
            id: g.id.clone(),
            name: g.name.clone(),
            description: g.description.clone(),
            project_id: g.project_id.clone(),
            tenant_id: g.project_id.clone(),
            stateful: g.stateful,
            security_group_rules: v.rules.iter().map(RuleBody::new).collect(),
            tags: v.tags.clone(),
            created_at: iso_seconds(g.created_at),
            updated_at: iso_seconds(g.updated_at),
            revision_number: g.revision_number,
        }
    }
}

/// `{"security_group": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupOne {
    pub security_group: GroupBody,
}

/// `{"security_groups": [...], "security_groups_links": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupMany {
    pub security_groups: Vec<GroupBody>,
    pub security_groups_links: Option<Vec<super::Link>>,
}

/// `{"security_group_rule": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleOne {
    pub security_group_rule: RuleBody,
}

/// `{"security_group_rules": [...], "security_group_rules_links": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleMany {
    pub security_group_rules: Vec<RuleBody>,
    pub security_group_rules_links: Option<Vec<super::Link>>,
}

/// The group create and update request as documented (checked attribute
/// by attribute in `app`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupWrite {
    pub name: Option<String>,
    pub description: Option<String>,
    pub stateful: Option<bool>,
    pub project_id: Option<String>,
}

/// `{"security_group": {...}}` or `{"security_groups": [...]}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupCreate {
    pub security_group: Option<GroupWrite>,
    pub security_groups: Option<Vec<GroupWrite>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupUpdate {
    pub security_group: GroupWrite,
}

/// The rule create request as documented.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RuleWrite {
    pub security_group_id: String,
    pub direction: String,
    pub ethertype: Option<String>,
    /// A name (`tcp`, `icmp`, …) or a number 0–255.
    pub protocol: Option<String>,
    pub port_range_min: Option<i64>,
    pub port_range_max: Option<i64>,
    pub remote_ip_prefix: Option<String>,
    pub remote_group_id: Option<String>,
    pub description: Option<String>,
    pub project_id: Option<String>,
}

/// `{"security_group_rule": {...}}` or `{"security_group_rules": [...]}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RuleCreate {
    pub security_group_rule: Option<RuleWrite>,
    pub security_group_rules: Option<Vec<RuleWrite>>,
}

#[utoipa::path(get, path = "/v2.0/security-groups", tag = "security-groups",
    params(
        ("fields" = Option<Vec<String>>, Query), ("limit" = Option<u32>, Query),
        ("marker" = Option<String>, Query), ("page_reverse" = Option<bool>, Query),
        ("sort_key" = Option<Vec<String>>, Query), ("sort_dir" = Option<Vec<String>>, Query),
        ("name" = Option<String>, Query), ("project_id" = Option<String>, Query),
    ),
    responses((status = 200, body = GroupMany), NeutronErrors))]
async fn list(
    S(g): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    OriginalUri(uri): OriginalUri,
    q: QueryMap,
) -> Result<Json<Value>> {
    let (found, req) = g.list_groups(&ctx, &q).await?;
    let fields = Fields::from_query(&q);
    let ids: Vec<String> = found.iter().map(|v| v.row.id.clone()).collect();
    let items = found
        .iter()
        .map(|v| render(&GroupBody::new(v), fields.as_ref()))
        .collect();
    Ok(Json(list_body(
        "security_groups",
        items,
        &ids,
        &req,
        &base,
        uri.path(),
        &q,
    )))
}

#[utoipa::path(post, path = "/v2.0/security-groups", tag = "security-groups",
    request_body(content = GroupCreate, content_type = "application/json"),
    responses((status = 201, body = GroupOne), NeutronErrors))]
async fn create(S(g): State, Auth(ctx): Auth, JsonBody(b): JsonBody<Value>) -> Result<Response> {
    let (items, bulk) = attrs::create_items(b, "security_group", "security_groups")?;
    let created = g.create_groups(&ctx, items).await?;
    let rendered: Vec<Value> = created
        .iter()
        .map(|v| render(&GroupBody::new(v), None))
        .collect();
    Ok(super::created(
        "security_group",
        "security_groups",
        bulk,
        rendered,
    ))
}

#[utoipa::path(get, path = "/v2.0/security-groups/{id}", tag = "security-groups",
    params(("id" = String, Path), ("fields" = Option<Vec<String>>, Query)),
    responses((status = 200, body = GroupOne), NeutronErrors))]
async fn show(
    S(g): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    q: QueryMap,
) -> Result<Json<Value>> {
    let v = g.show_group(&ctx, &id).await?;
    let fields = Fields::from_query(&q);
    Ok(Json(
        json!({"security_group": render(&GroupBody::new(&v), fields.as_ref())}),
    ))
}

#[utoipa::path(put, path = "/v2.0/security-groups/{id}", tag = "security-groups",
    params(("id" = String, Path)),
    request_body(content = GroupUpdate, content_type = "application/json"),
    responses((status = 200, body = GroupOne), NeutronErrors))]
async fn update(
    S(g): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Json<Value>> {
    let a = attrs::single(b, "security_group")?;
    let v = g.update_group(&ctx, &id, a).await?;
    Ok(Json(
        json!({"security_group": render(&GroupBody::new(&v), None)}),
    ))
}

#[utoipa::path(delete, path = "/v2.0/security-groups/{id}", tag = "security-groups",
    params(("id" = String, Path)),
    responses((status = 204), NeutronErrors))]
async fn delete(S(g): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    g.delete_group(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v2.0/security-group-rules", tag = "security-groups",
    params(
        ("fields" = Option<Vec<String>>, Query), ("limit" = Option<u32>, Query),
        ("marker" = Option<String>, Query), ("page_reverse" = Option<bool>, Query),
        ("sort_key" = Option<Vec<String>>, Query), ("sort_dir" = Option<Vec<String>>, Query),
        ("security_group_id" = Option<String>, Query), ("direction" = Option<String>, Query),
    ),
    responses((status = 200, body = RuleMany), NeutronErrors))]
async fn list_rules(
    S(g): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    OriginalUri(uri): OriginalUri,
    q: QueryMap,
) -> Result<Json<Value>> {
    let (found, req) = g.list_rules(&ctx, &q).await?;
    let fields = Fields::from_query(&q);
    let ids: Vec<String> = found.iter().map(|r| r.id.clone()).collect();
    let items = found
        .iter()
        .map(|r| render(&RuleBody::new(r), fields.as_ref()))
        .collect();
    Ok(Json(list_body(
        "security_group_rules",
        items,
        &ids,
        &req,
        &base,
        uri.path(),
        &q,
    )))
}

#[utoipa::path(post, path = "/v2.0/security-group-rules", tag = "security-groups",
    request_body(content = RuleCreate, content_type = "application/json"),
    responses((status = 201, body = RuleOne), NeutronErrors))]
async fn create_rules(
    S(g): State,
    Auth(ctx): Auth,
    JsonBody(b): JsonBody<Value>,
) -> Result<Response> {
    let (items, bulk) = attrs::create_items(b, "security_group_rule", "security_group_rules")?;
    let created = g.create_rules(&ctx, items).await?;
    let rendered: Vec<Value> = created
        .iter()
        .map(|r| render(&RuleBody::new(r), None))
        .collect();
    Ok(super::created(
        "security_group_rule",
        "security_group_rules",
        bulk,
        rendered,
    ))
}

#[utoipa::path(get, path = "/v2.0/security-group-rules/{id}", tag = "security-groups",
    params(("id" = String, Path), ("fields" = Option<Vec<String>>, Query)),
    responses((status = 200, body = RuleOne), NeutronErrors))]
async fn show_rule(
    S(g): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    q: QueryMap,
) -> Result<Json<Value>> {
    let r = g.show_rule(&ctx, &id).await?;
    let fields = Fields::from_query(&q);
    Ok(Json(
        json!({"security_group_rule": render(&RuleBody::new(&r), fields.as_ref())}),
    ))
}

#[utoipa::path(delete, path = "/v2.0/security-group-rules/{id}", tag = "security-groups",
    params(("id" = String, Path)),
    responses((status = 204), NeutronErrors))]
async fn delete_rule(S(g): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    g.delete_rule(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

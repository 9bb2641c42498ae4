//! `/v2.0/agents[/{id}]` (extension `agent`, with `availability_zone` and
//! `agent-resources-synced` adding their attributes) and
//! `/v2.0/availability_zones` (extension `availability_zone`).

use super::{list_body, render, NeutronErrors, State};
use crate::app::agents::{AgentView, AvailabilityZone};
use crate::app::attrs;
use axum::extract::{OriginalUri, Path, State as S};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::{BaseUrl, Fields, JsonBody, QueryMap};
use common::Result;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use utoipa::ToSchema;

pub fn routes() -> Router<Arc<crate::Network>> {
    Router::new()
        .route("/v2.0/agents", get(list))
        .route("/v2.0/agents/{id}", get(show).put(update).delete(delete))
        .route("/v2.0/availability_zones", get(list_zones))
}

/// neutron's agent timestamps: `%Y-%m-%d %H:%M:%S`, UTC, no zone.
fn agent_time(micros: i64) -> String {
    common::clock::iso_seconds(micros)
        .trim_end_matches('Z')
        .replacen('T', " ", 1)
}

/// An agent as Neutron prints it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentBody {
    pub id: String,
    pub agent_type: String,
    pub binary: String,
    pub topic: String,
    pub host: String,
    pub admin_state_up: bool,
    pub alive: bool,
    pub created_at: String,
    pub started_at: String,
    pub heartbeat_timestamp: String,
    /// What the agent hosts and how (upstream's keys per agent type).
    pub configurations: Value,
    pub description: Option<String>,
    /// `nova` for L3 and DHCP agents, else null.
    pub availability_zone: Option<String>,
    /// Always null: no agent here reports resources to placement.
    pub resources_synced: Option<bool>,
}

impl AgentBody {
    pub fn new(v: &AgentView) -> Self {
        let r = &v.row;
        AgentBody {
            id: r.id.clone(),
            agent_type: r.agent_type.clone(),
            binary: r.binary.clone(),
            topic: r.topic.clone(),
            host: r.host.clone(),
            admin_state_up: r.admin_state_up,
            alive: v.alive,
            created_at: agent_time(r.created_at),
            started_at: agent_time(r.started_at),
            heartbeat_timestamp: agent_time(v.heartbeat_at),
            configurations: v.configurations.clone(),
            description: r.description.clone(),
            availability_zone: r.availability_zone.clone(),
            resources_synced: None,
        }
    }
}

/// `{"agent": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentOne {
    pub agent: AgentBody,
}

/// `{"agents": [...], "agents_links": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentMany {
    pub agents: Vec<AgentBody>,
    pub agents_links: Option<Vec<super::Link>>,
}

/// What an operator may change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AgentWrite {
    pub admin_state_up: Option<bool>,
    /// At most 255 characters; null clears it.
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AgentUpdate {
    pub agent: AgentWrite,
}

/// One availability zone.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityZoneBody {
    pub name: String,
    /// `network` (from DHCP agents) or `router` (from L3 agents).
    pub resource: String,
    /// `available` or `unavailable`.
    pub state: String,
}

impl AvailabilityZoneBody {
    fn new(z: &AvailabilityZone) -> Self {
        AvailabilityZoneBody {
            name: z.name.clone(),
            resource: z.resource.clone(),
            state: z.state().into(),
        }
    }
}

/// `{"availability_zones": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityZoneMany {
    pub availability_zones: Vec<AvailabilityZoneBody>,
}

#[utoipa::path(get, path = "/v2.0/agents", tag = "agents",
    params(
        ("fields" = Option<Vec<String>>, Query), ("limit" = Option<u32>, Query),
        ("marker" = Option<String>, Query), ("page_reverse" = Option<bool>, Query),
        ("sort_key" = Option<Vec<String>>, Query), ("sort_dir" = Option<Vec<String>>, Query),
        ("agent_type" = Option<String>, Query), ("binary" = Option<String>, Query),
        ("topic" = Option<String>, Query), ("host" = Option<String>, Query),
        ("admin_state_up" = Option<bool>, Query), ("alive" = Option<bool>, Query),
        ("availability_zone" = Option<String>, Query),
    ),
    responses((status = 200, body = AgentMany), NeutronErrors))]
async fn list(
    S(n): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    OriginalUri(uri): OriginalUri,
    q: QueryMap,
) -> Result<Json<Value>> {
    let (found, req) = n.list_agents(&ctx, &q).await?;
    let fields = Fields::from_query(&q);
    let ids: Vec<String> = found.iter().map(|a| a.row.id.clone()).collect();
    let items = found
        .iter()
        .map(|a| render(&AgentBody::new(a), fields.as_ref()))
        .collect();
    Ok(Json(list_body(
        "agents",
        items,
        &ids,
        &req,
        &base,
        uri.path(),
        &q,
    )))
}

#[utoipa::path(get, path = "/v2.0/agents/{id}", tag = "agents",
    params(("id" = String, Path), ("fields" = Option<Vec<String>>, Query)),
    responses((status = 200, body = AgentOne), NeutronErrors))]
async fn show(
    S(n): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    q: QueryMap,
) -> Result<Json<Value>> {
    let a = n.show_agent(&ctx, &id).await?;
    let fields = Fields::from_query(&q);
    Ok(Json(
        json!({"agent": render(&AgentBody::new(&a), fields.as_ref())}),
    ))
}

#[utoipa::path(put, path = "/v2.0/agents/{id}", tag = "agents",
    params(("id" = String, Path)),
    request_body(content = AgentUpdate, content_type = "application/json"),
    responses((status = 200, body = AgentOne), NeutronErrors))]
async fn update(
    S(n): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Json<Value>> {
    let a = attrs::single(b, "agent")?;
    let a = n.update_agent(&ctx, &id, a).await?;
    Ok(Json(json!({"agent": render(&AgentBody::new(&a), None)})))
}

#[utoipa::path(delete, path = "/v2.0/agents/{id}", tag = "agents",
    params(("id" = String, Path)),
    responses((status = 204), NeutronErrors))]
async fn delete(S(n): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    n.delete_agent(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v2.0/availability_zones", tag = "availability_zones",
    params(
        ("fields" = Option<Vec<String>>, Query),
        ("name" = Option<String>, Query), ("resource" = Option<String>, Query),
        ("state" = Option<String>, Query),
    ),
    responses((status = 200, body = AvailabilityZoneMany), NeutronErrors))]
async fn list_zones(S(n): State, Auth(ctx): Auth, q: QueryMap) -> Result<Json<Value>> {
    let zones = n.list_availability_zones(&ctx, &q).await?;
    let fields = Fields::from_query(&q);
    let items: Vec<Value> = zones
        .iter()
        .map(|z| render(&AvailabilityZoneBody::new(z), fields.as_ref()))
        .collect();
    Ok(Json(json!({ "availability_zones": items })))
}

//! `/v2.0/quotas`, `/v2.0/quotas/{project}`, `…/{project}/default` and
//! `…/{project}/details` (quotas, quota_details).

use super::{NeutronErrors, State};
use crate::app::attrs;
use crate::app::quotas::{Detail, QuotaSet};
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::JsonBody;
use common::Result;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

pub fn routes() -> Router<Arc<crate::Network>> {
    Router::new()
        .route("/v2.0/quotas", get(list))
        .route(
            "/v2.0/quotas/{project}",
            get(show).put(update).delete(delete),
        )
        .route("/v2.0/quotas/{project}/default", get(default))
        .route("/v2.0/quotas/{project}/details", get(details))
}

/// A project's limits (-1: unlimited).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Limits {
    pub network: i64,
    pub subnet: i64,
    pub port: i64,
    pub router: i64,
    pub floatingip: i64,
    pub security_group: i64,
    pub security_group_rule: i64,
    pub subnetpool: i64,
    /// In lists only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

impl Limits {
    fn new(q: &QuotaSet, project: Option<&str>) -> Self {
        let g = |k: &str| q.get(k).copied().unwrap_or(-1);
        Limits {
            network: g("network"),
            subnet: g("subnet"),
            port: g("port"),
            router: g("router"),
            floatingip: g("floatingip"),
            security_group: g("security_group"),
            security_group_rule: g("security_group_rule"),
            subnetpool: g("subnetpool"),
            project_id: project.map(str::to_string),
            tenant_id: project.map(str::to_string),
        }
    }
}

/// `{"quota": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaOne {
    pub quota: Limits,
}

/// `{"quotas": [...]}`: the projects with limits of their own.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaMany {
    pub quotas: Vec<Limits>,
}

/// Limit, usage and reservations of one resource.
#[derive(Debug, Serialize, ToSchema)]
pub struct DetailBody {
    pub limit: i64,
    pub used: i64,
    pub reserved: i64,
}

/// `{"quota": {"network": {"limit", "used", "reserved"}, ...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaDetails {
    #[schema(value_type = std::collections::BTreeMap<String, DetailBody>)]
    pub quota: std::collections::BTreeMap<String, DetailBody>,
}

/// `{"quota": {"port": 10, ...}}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct QuotaUpdate {
    #[schema(value_type = std::collections::BTreeMap<String, i64>)]
    pub quota: Value,
}

#[utoipa::path(get, path = "/v2.0/quotas", tag = "quotas",
    responses((status = 200, body = QuotaMany), NeutronErrors))]
async fn list(S(g): State, Auth(ctx): Auth) -> Result<Json<QuotaMany>> {
    let all = g.list_quotas(&ctx).await?;
    Ok(Json(QuotaMany {
        quotas: all.iter().map(|(p, q)| Limits::new(q, Some(p))).collect(),
    }))
}

#[utoipa::path(get, path = "/v2.0/quotas/{project}", tag = "quotas",
    params(("project" = String, Path)),
    responses((status = 200, body = QuotaOne), NeutronErrors))]
async fn show(S(g): State, Auth(ctx): Auth, Path(project): Path<String>) -> Result<Json<QuotaOne>> {
    let q = g.show_quota(&ctx, &project).await?;
    Ok(Json(QuotaOne {
        quota: Limits::new(&q, None),
    }))
}

#[utoipa::path(get, path = "/v2.0/quotas/{project}/default", tag = "quotas",
    params(("project" = String, Path)),
    responses((status = 200, body = QuotaOne), NeutronErrors))]
async fn default(
    S(g): State,
    Auth(ctx): Auth,
    Path(project): Path<String>,
) -> Result<Json<QuotaOne>> {
    let q = g.default_quota(&ctx, &project).await?;
    Ok(Json(QuotaOne {
        quota: Limits::new(&q, None),
    }))
}

#[utoipa::path(get, path = "/v2.0/quotas/{project}/details", tag = "quotas",
    params(("project" = String, Path)),
    responses((status = 200, body = QuotaDetails), NeutronErrors))]
async fn details(
    S(g): State,
    Auth(ctx): Auth,
    Path(project): Path<String>,
) -> Result<Json<QuotaDetails>> {
    let d = g.quota_details(&ctx, &project).await?;
    Ok(Json(QuotaDetails {
        quota: d
            .into_iter()
            .map(
                |(
                    k,
                    Detail {
                        limit,
                        used,
                        reserved,
                    },
                )| {
                    (
                        k,
                        DetailBody {
                            limit,
                            used,
                            reserved,
                        },
                    )
                },
            )
            .collect(),
    }))
}

#[utoipa::path(put, path = "/v2.0/quotas/{project}", tag = "quotas",
    params(("project" = String, Path)),
    request_body(content = QuotaUpdate, content_type = "application/json"),
    responses((status = 200, body = QuotaOne), NeutronErrors))]
async fn update(
    S(g): State,
    Auth(ctx): Auth,
    Path(project): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Json<QuotaOne>> {
    let a = attrs::single(b, "quota")?;
    let q = g.update_quota(&ctx, &project, a).await?;
    Ok(Json(QuotaOne {
        quota: Limits::new(&q, None),
    }))
}

#[utoipa::path(delete, path = "/v2.0/quotas/{project}", tag = "quotas",
    params(("project" = String, Path)),
    responses((status = 204), NeutronErrors))]
async fn delete(S(g): State, Auth(ctx): Auth, Path(project): Path<String>) -> Result<StatusCode> {
    g.delete_quota(&ctx, &project).await?;
    Ok(StatusCode::NO_CONTENT)
}

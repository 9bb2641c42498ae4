//! `GET /os-simple-tenant-usage` (every project, admin) and
//! `GET /os-simple-tenant-usage/{tenant_id}` (one project): usage over
//! `start`..`end`, paged by `limit`/`marker` (a server id) from 2.40.

use super::migrations::collection_links;
use super::{Microversion, State};
use crate::Compute;
use axum::extract::{Path, State as S};
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::{BaseUrl, QueryMap};
use common::Result;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Compute>> {
    Router::new()
        .route("/v2.1/os-simple-tenant-usage", get(list))
        .route("/v2.1/os-simple-tenant-usage/{tenant_id}", get(show))
}

async fn list(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    let u = c.list_usage(&ctx, mv, &q).await?;
    let mut body = json!({ "tenant_usages": u.tenants });
    if mv.at_least(40) {
        if let Some(links) = collection_links(
            &base,
            "os-simple-tenant-usage",
            &q,
            Some(u.limit),
            u.server_ids.len(),
            u.server_ids.last().map(String::as_str),
        ) {
            body["tenant_usages_links"] = links;
        }
    }
    Ok(Json(body))
}

async fn show(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    Path(tenant_id): Path<String>,
    q: QueryMap,
) -> Result<Json<Value>> {
    let u = c.show_usage(&ctx, mv, &tenant_id, &q).await?;
    let usage = u.tenants.first().cloned().unwrap_or_else(|| json!({}));
    let mut body = json!({ "tenant_usage": usage });
    if mv.at_least(40) {
        let path = format!("os-simple-tenant-usage/{tenant_id}");
        if let Some(links) = collection_links(
            &base,
            &path,
            &q,
            Some(u.limit),
            u.server_ids.len(),
            u.server_ids.last().map(String::as_str),
        ) {
            body["tenant_usage_links"] = links;
        }
    }
    Ok(Json(body))
}

//! `/os-networks` and `/os-tenant-networks`: list and show, proxied from
//! the network service up to microversion 2.35 (404 after, as Nova); the
//! nova-network calls Nova removed in 21.0.0 (create, delete, add and the
//! association actions) answer 410 Gone at every microversion, as Nova's
//! `wsgi.removed` handlers do.

use super::floating_ips::proxy_only;
use super::{Microversion, State};
use crate::app::networks::gone;
use axum::extract::Path;
use axum::routing::{get, post};
use axum::{Json, Router};
use common::auth::Auth;
use common::http::JsonBody;
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;

/// The `os-networks` actions of nova-network (networks.py and
/// network_associations.py).
const REMOVED_ACTIONS: &[&str] = &[
    "disassociate",
    "disassociate_host",
    "disassociate_project",
    "associate_host",
];

pub fn routes() -> Router<Arc<crate::Compute>> {
    Router::new()
        .route("/v2.1/os-networks", get(list).post(removed))
        .route("/v2.1/os-networks/add", post(removed))
        .route("/v2.1/os-networks/{id}", get(show).delete(removed))
        .route("/v2.1/os-networks/{id}/action", post(action))
        .route("/v2.1/os-tenant-networks", get(tenant_list).post(removed))
        .route(
            "/v2.1/os-tenant-networks/{id}",
            get(tenant_show).delete(removed),
        )
}

/// A removed nova-network call.
async fn removed(_: Auth) -> Error {
    gone()
}

/// `POST /v2.1/os-networks/{id}/action`: every action is a removed one.
async fn action(_: Auth, JsonBody(body): JsonBody<Value>) -> Error {
    let name = body
        .as_object()
        .and_then(|o| o.keys().next().cloned())
        .unwrap_or_default();
    if REMOVED_ACTIONS.contains(&name.as_str()) {
        gone()
    } else {
        Error::bad_request(format!("There is no such action: {name}"))
    }
}

/// `GET /v2.1/os-networks`.
async fn list(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
) -> Result<Json<Value>> {
    proxy_only(mv)?;
    let nets = nova.proxy_list_networks(&ctx).await?;
    Ok(Json(json!({ "networks": nets })))
}

/// `GET /v2.1/os-networks/{id}`.
async fn show(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    proxy_only(mv)?;
    let n = nova.proxy_show_network(&ctx, &id).await?;
    Ok(Json(json!({ "network": n })))
}

/// `GET /v2.1/os-tenant-networks`.
async fn tenant_list(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
) -> Result<Json<Value>> {
    proxy_only(mv)?;
    let nets = nova.proxy_list_tenant_networks(&ctx).await?;
    Ok(Json(json!({ "networks": nets })))
}

/// `GET /v2.1/os-tenant-networks/{id}`.
async fn tenant_show(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    proxy_only(mv)?;
    let n = nova.proxy_show_tenant_network(&ctx, &id).await?;
    Ok(Json(json!({ "network": n })))
}

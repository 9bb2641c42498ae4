//! `/os-floating-ips` and `/os-floating-ip-pools` (proxies to the network
//! service, microversions ≤ 2.35: later ones answer 404 as Nova), and the
//! `addFloatingIp`/`removeFloatingIp` server actions (≤ 2.43), dispatched
//! here from `POST /servers/{id}/action`.

use super::{Microversion, State};
use crate::Compute;
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::context::AuthContext;
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;

/// The last microversion that proxies network and image APIs.
pub const MAX_PROXY: u32 = 35;

pub fn routes() -> Router<Arc<Compute>> {
    Router::new()
        .route("/v2.1/os-floating-ips", get(list).post(create))
        .route("/v2.1/os-floating-ips/{id}", get(show).delete(delete))
        .route("/v2.1/os-floating-ip-pools", get(pools))
}

/// The proxy APIs are gone after 2.35.
pub fn proxy_only(mv: Microversion) -> Result<()> {
    if mv.at_least(MAX_PROXY + 1) {
        return Err(Error::not_found("The resource could not be found."));
    }
    Ok(())
}

async fn list(S(c): State, Auth(ctx): Auth, mv: Microversion) -> Result<Json<Value>> {
    proxy_only(mv)?;
    let all = c.list_fips(&ctx).await?;
    Ok(Json(json!({
        "floating_ips": all.iter().map(|f| f.view()).collect::<Vec<_>>()
    })))
}

async fn show(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    proxy_only(mv)?;
    let f = c.show_fip(&ctx, &id).await?;
    Ok(Json(json!({"floating_ip": f.view()})))
}

/// The body is optional; `pool` is a string or null.
async fn create(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    raw: axum::body::Bytes,
) -> Result<Json<Value>> {
    proxy_only(mv)?;
    // The body is optional: python-novaclient sends none without a pool.
    let body: Value = if raw.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&raw)
            .map_err(|e| Error::bad_request(format!("Malformed request body: {e}")))?
    };
    let pool = match &body {
        Value::Null => None,
        Value::Object(o) => {
            if let Some(k) = o.keys().find(|k| *k != "pool") {
                return Err(Error::bad_request(format!(
                    "Invalid input for field/attribute body. Additional properties are not \
                     allowed ('{k}' was unexpected)"
                )));
            }
            match o.get("pool") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(v) => {
                    return Err(Error::bad_request(format!(
                        "Invalid input for field/attribute pool. Value: {v}. {v} is not of type \
                         'string', 'null'"
                    )))
                }
            }
        }
        other => {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute body. Value: {other}. {other} is not of type \
                 'object'"
            )))
        }
    };
    let f = c.create_fip(&ctx, pool.as_deref()).await?;
    Ok(Json(json!({"floating_ip": f.view()})))
}

async fn delete(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    proxy_only(mv)?;
    c.delete_fip(&ctx, &id).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn pools(S(c): State, Auth(ctx): Auth, mv: Microversion) -> Result<Json<Value>> {
    proxy_only(mv)?;
    let names = c.fip_pools(&ctx).await?;
    Ok(Json(json!({
        "floating_ip_pools": names.into_iter().map(|n| json!({"name": n})).collect::<Vec<_>>()
    })))
}

/// The server actions this module answers.
pub fn handles(action: &str) -> bool {
    matches!(action, "addFloatingIp" | "removeFloatingIp")
}

/// A string field of the action's object (`address`: an IP address).
fn ip_field(arg: &Value, action: &str, key: &str, required: bool) -> Result<Option<String>> {
    let obj = arg.as_object().ok_or_else(|| {
        Error::bad_request(format!(
            "Invalid input for field/attribute {action}. Value: {arg}. {arg} is not of type \
             'object'"
        ))
    })?;
    if let Some(k) = obj.keys().find(|k| {
        !["address", "fixed_address"].contains(&k.as_str())
            || (action == "removeFloatingIp" && *k == "fixed_address")
    }) {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute {action}. Additional properties are not allowed \
             ('{k}' was unexpected)"
        )));
    }
    match obj.get(key) {
        None if required => Err(Error::bad_request(format!(
            "Invalid input for field/attribute {action}. '{key}' is a required property"
        ))),
        None => Ok(None),
        Some(Value::String(s)) if s.parse::<std::net::IpAddr>().is_ok() => Ok(Some(s.clone())),
        Some(v) => Err(Error::bad_request(format!(
            "Invalid input for field/attribute {key}. Value: {v}. {v} is not a 'ip-address'"
        ))),
    }
}

pub async fn action(
    c: &Arc<Compute>,
    ctx: &AuthContext,
    mv: Microversion,
    id: &str,
    name: &str,
    arg: &Value,
) -> Result<Response> {
    if mv.at_least(44) {
        return Err(Error::not_found("The resource could not be found."));
    }
    let address = ip_field(arg, name, "address", true)?.unwrap_or_default();
    if name == "addFloatingIp" {
        let fixed = ip_field(arg, name, "fixed_address", false)?;
        c.add_fip(ctx, id, &address, fixed.as_deref()).await?;
    } else {
        c.remove_fip(ctx, id, &address).await?;
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

//! `/os-services`: list (filters `host`, `binary`), and the state
//! changes — before 2.53 `PUT /os-services/{enable,disable,
//! disable-log-reason,force-down}` by host and binary (force-down from
//! 2.11), from 2.53 `PUT /os-services/{uuid}`; `DELETE
//! /os-services/{id}`.

use super::{Microversion, State};
use crate::app::services::{ServiceChange, ServiceFilter, ServiceView, COMPUTE_BINARY};
use axum::extract::{Path, State as S};
use axum::routing::{get, put};
use axum::{Json, Router};
use common::auth::Auth;
use common::http::{JsonBody, QueryMap};
use common::{Error, Result};
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Compute>> {
    Router::new()
        .route("/v2.1/os-services", get(list))
        .route("/v2.1/os-services/{id}", put(update).delete(delete))
}

/// A service as shown at `mv`.
pub fn view(s: &ServiceView, mv: Microversion) -> Value {
    let mut v = json!({
        "id": if mv.at_least(53) { json!(s.row.id) } else { json!(s.row.legacy_id) },
        "binary": s.row.binary,
        "host": s.row.host,
        "zone": s.zone,
        "status": if s.row.disabled { "disabled" } else { "enabled" },
        "state": if s.up { "up" } else { "down" },
        "updated_at": common::clock::iso_micros_naive(s.updated_at),
        "disabled_reason": s.row.disabled_reason,
    });
    if mv.at_least(11) {
        v["forced_down"] = json!(s.row.forced_down);
    }
    v
}

async fn list(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    q: QueryMap,
) -> Result<Json<Value>> {
    strict_query(mv, &q, &["host", "binary"])?;
    let f = ServiceFilter {
        host: q.get("host").map(str::to_string),
        binary: q.get("binary").map(str::to_string),
    };
    let all = nova.list_services(&ctx, &f).await?;
    let services: Vec<Value> = all.iter().map(|s| view(s, mv)).collect();
    Ok(Json(json!({ "services": services })))
}

/// Only `nova-compute` services can be changed.
fn not_updatable(binary: &str) -> Error {
    Error::bad_request(format!(
        "Updating a {binary} service is not supported. Only nova-compute services can be \
         updated."
    ))
}

/// From 2.75 unknown query parameters are refused.
pub fn strict_query(mv: Microversion, q: &QueryMap, allowed: &[&str]) -> Result<()> {
    only_params(mv.at_least(75), q, allowed)
}

/// When `strict`, a query parameter not in `allowed` is a 400.
pub fn only_params(strict: bool, q: &QueryMap, allowed: &[&str]) -> Result<()> {
    if !strict {
        return Ok(());
    }
    match q.0.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        Some((k, _)) => Err(Error::bad_request(format!(
            "Invalid input for query parameters {k}. Additional properties are not allowed \
             ('{k}' was unexpected)"
        ))),
        None => Ok(()),
    }
}

fn invalid(field: &str, why: &str) -> Error {
    Error::bad_request(format!("Invalid input for field/attribute {field}. {why}"))
}

/// A body's string field, at most 255 characters.
fn string_field<'a>(body: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if (1..=255).contains(&s.chars().count()) => Ok(Some(s)),
        Some(v) => Err(invalid(
            key,
            &format!("Value: {v}. Must be a string of 1 to 255 characters"),
        )),
    }
}

fn bool_field(body: &Map<String, Value>, key: &str) -> Result<Option<bool>> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => common::http::query::parse_bool(s)
            .map(Some)
            .ok_or_else(|| invalid(key, &format!("Value: {s}. '{s}' is not of type 'boolean'"))),
        Some(v) => Err(invalid(
            key,
            &format!("Value: {v}. {v} is not of type 'boolean'"),
        )),
    }
}

fn only(body: &Map<String, Value>, allowed: &[&str]) -> Result<()> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(invalid(
            "body",
            &format!("Additional properties are not allowed ('{k}' was unexpected)"),
        )),
        None => Ok(()),
    }
}

async fn delete(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
) -> Result<axum::http::StatusCode> {
    // Nova checks the policy before the id.
    nova.enforce(&ctx, "os_compute_api:os-services:delete", &json!({}))?;
    if mv.at_least(53) {
        if !is_uuid(&id) {
            return Err(Error::bad_request(format!("Invalid uuid {id}")));
        }
    } else if id.parse::<i64>().is_err() {
        return Err(Error::bad_request(
            "Invalid input received: id must be an integer",
        ));
    }
    nova.delete_service(&ctx, mv.at_least(53), &id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

async fn update(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let Some(body) = body.as_object() else {
        return Err(invalid("body", "The body must be a JSON object"));
    };
    if mv.at_least(53) {
        return update_by_id(&nova, &ctx, mv, &id, body).await;
    }
    let action = id.as_str();
    let known = matches!(action, "enable" | "disable" | "disable-log-reason")
        || (action == "force-down" && mv.at_least(11));
    if !known {
        return Err(Error::not_found("Unknown action"));
    }
    let mut allowed = vec!["host", "binary", "disabled_reason"];
    if mv.at_least(11) {
        allowed.push("forced_down");
    }
    only(body, &allowed)?;
    let host = string_field(body, "host")?
        .ok_or_else(|| invalid("host", "'host' is a required property"))?;
    let binary = string_field(body, "binary")?
        .ok_or_else(|| invalid("binary", "'binary' is a required property"))?;
    if binary != COMPUTE_BINARY {
        return Err(not_updatable(binary));
    }
    let change = match action {
        "enable" => ServiceChange {
            disabled: Some(false),
            ..ServiceChange::default()
        },
        // A plain disable clears an earlier reason, as Nova's does.
        "disable" => ServiceChange {
            disabled: Some(true),
            disabled_reason: Some(None),
            ..ServiceChange::default()
        },
        "disable-log-reason" => {
            let reason = string_field(body, "disabled_reason")?
                .ok_or_else(|| Error::bad_request("Missing disabled reason field"))?;
            ServiceChange {
                disabled: Some(true),
                disabled_reason: Some(Some(reason.to_string())),
                ..ServiceChange::default()
            }
        }
        _ => ServiceChange {
            forced_down: Some(
                bool_field(body, "forced_down")?
                    .ok_or_else(|| Error::bad_request("Missing forced_down field"))?,
            ),
            ..ServiceChange::default()
        },
    };
    let s = nova
        .update_service_by_host(&ctx, host, binary, &change)
        .await?;
    let mut out = json!({"host": s.row.host, "binary": s.row.binary});
    match action {
        "force-down" => out["forced_down"] = json!(s.row.forced_down),
        "disable-log-reason" => {
            out["status"] = json!("disabled");
            out["disabled_reason"] = json!(s.row.disabled_reason);
        }
        _ => {
            out["status"] = json!(if s.row.disabled {
                "disabled"
            } else {
                "enabled"
            })
        }
    }
    Ok(Json(json!({ "service": out })))
}

/// 2.53 on: `{"status": "disabled", "disabled_reason": …, "forced_down": …}`.
async fn update_by_id(
    nova: &crate::Compute,
    ctx: &common::context::AuthContext,
    mv: Microversion,
    id: &str,
    body: &Map<String, Value>,
) -> Result<Json<Value>> {
    if !is_uuid(id) {
        return Err(Error::bad_request(format!("Invalid uuid {id}")));
    }
    only(body, &["status", "disabled_reason", "forced_down"])?;
    let status = match body.get("status") {
        None => None,
        Some(Value::String(s)) if s == "enabled" => Some(false),
        Some(Value::String(s)) if s == "disabled" => Some(true),
        Some(v) => {
            return Err(invalid(
                "status",
                &format!("Value: {v}. {v} is not one of ['enabled', 'disabled']"),
            ))
        }
    };
    let reason = string_field(body, "disabled_reason")?;
    let forced_down = bool_field(body, "forced_down")?;
    if reason.is_some() && status == Some(false) {
        return Err(Error::bad_request(
            "Specifying 'disabled_reason' with status 'enabled' is invalid.",
        ));
    }
    if status.is_none() && forced_down.is_none() {
        return Err(Error::bad_request(
            "No updates were requested. Fields 'status' or 'forced_down' should be specified.",
        ));
    }
    // Disabling sets the reason given, or none; without a status the
    // reason is ignored, as Nova does.
    let change = ServiceChange {
        disabled: status,
        disabled_reason: (status == Some(true)).then(|| reason.map(str::to_string)),
        forced_down,
    };
    let s = nova.update_service(ctx, id, &change).await?;
    Ok(Json(json!({ "service": view(&s, mv) })))
}

/// A dashed UUID (Nova's `uuidutils.is_uuid_like`, without the braces
/// and dash-less forms).
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

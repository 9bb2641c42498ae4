//! Admin and service endpoints around servers: the actions `os-resetState`,
//! `injectNetworkInfo`, `resetNetwork` (gone), `forceDelete` and `restore`
//! (dispatched here from `POST /servers/{id}/action`),
//! `GET /servers/{id}/diagnostics`, `POST /os-server-external-events`
//! and `/os-instance_usage_audit_log`.

use super::{Microversion, State};
use crate::app::server_admin::{
    diagnostics_view, legacy_diagnostics_view, ExternalEvent, EXTERNAL_EVENTS,
};
use crate::Compute;
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::auth::Auth;
use common::context::AuthContext;
use common::http::JsonBody;
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Compute>> {
    Router::new()
        .route("/v2.1/servers/{id}/diagnostics", get(diagnostics))
        .route("/v2.1/os-server-external-events", post(external_events))
        .route("/v2.1/os-instance_usage_audit_log", get(audit_logs))
        .route(
            "/v2.1/os-instance_usage_audit_log/{before}",
            get(audit_log_before),
        )
}

/// The server actions this module answers.
pub fn handles(action: &str) -> bool {
    matches!(
        action,
        "os-resetState" | "injectNetworkInfo" | "resetNetwork" | "forceDelete" | "restore"
    )
}

fn bad(msg: impl Into<String>) -> Error {
    Error::bad_request(msg)
}

/// Runs one of the actions [`handles`] names.
pub async fn action(
    c: &Arc<Compute>,
    ctx: &AuthContext,
    id: &str,
    name: &str,
    arg: &Value,
    request_id: &str,
) -> Result<Response> {
    match name {
        "os-resetState" => {
            let obj = arg.as_object().ok_or_else(|| {
                bad(format!(
                    "Invalid input for field/attribute os-resetState. Value: {arg}. {arg} is not \
                     of type 'object'"
                ))
            })?;
            if let Some(k) = obj.keys().find(|k| *k != "state") {
                return Err(bad(format!(
                    "Invalid input for field/attribute os-resetState. Additional properties are \
                     not allowed ('{k}' was unexpected)"
                )));
            }
            let state =
                match obj.get("state") {
                    Some(Value::String(s)) if s == "active" || s == "error" => s.clone(),
                    Some(v) => {
                        return Err(bad(format!(
                        "Invalid input for field/attribute state. Value: {v}. {v} is not one of \
                         ['active', 'error']"
                    )))
                    }
                    None => return Err(bad(
                        "Invalid input for field/attribute os-resetState. 'state' is a required \
                         property",
                    )),
                };
            c.reset_state(ctx, id, &state, request_id).await?;
        }
        "injectNetworkInfo" => c.inject_network_info(ctx, id).await?,
        // Xen-only, removed: Nova answers 410 for any server.
        "resetNetwork" => return Err(Error::gone("")),
        "forceDelete" => c.force_delete(ctx, id, request_id).await?,
        "restore" => c.restore(ctx, id).await?,
        other => return Err(bad(format!("There is no such action: {other}"))),
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn diagnostics(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let d = c.diagnostics(&ctx, &id).await?;
    Ok(Json(if mv.at_least(48) {
        diagnostics_view(&d)
    } else {
        legacy_diagnostics_view(&d)
    }))
}

/// The body's events, checked as Nova's schema does.
fn parse_events(body: &Value, mv: Microversion) -> Result<Vec<ExternalEvent>> {
    let top = body
        .as_object()
        .ok_or_else(|| bad("Invalid input for field/attribute body. Not an object"))?;
    if let Some(k) = top.keys().find(|k| *k != "events") {
        return Err(bad(format!(
            "Invalid input for field/attribute body. Additional properties are not allowed \
             ('{k}' was unexpected)"
        )));
    }
    let events = top
        .get("events")
        .and_then(Value::as_array)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            bad("Invalid input for field/attribute events. 'events' must be a non-empty array")
        })?;
    events
        .iter()
        .map(|e| {
            let o = e
                .as_object()
                .ok_or_else(|| bad(format!("Invalid input for field/attribute events. Value: {e}")))?;
            if let Some(k) = o
                .keys()
                .find(|k| !["name", "server_uuid", "status", "tag"].contains(&k.as_str()))
            {
                return Err(bad(format!(
                    "Invalid input for field/attribute events. Additional properties are not \
                     allowed ('{k}' was unexpected)"
                )));
            }
            let name = o.get("name").and_then(Value::as_str).unwrap_or_default();
            let known = EXTERNAL_EVENTS
                .iter()
                .any(|(n, since)| *n == name && mv.at_least(*since));
            if !known {
                return Err(bad(format!(
                    "Invalid input for field/attribute name. Value: {name}. '{name}' is not a \
                     known event"
                )));
            }
            let server_uuid = o
                .get("server_uuid")
                .and_then(Value::as_str)
                .filter(|s| s.parse::<uuid_check::Uuid>().is_ok())
                .ok_or_else(|| {
                    bad("Invalid input for field/attribute server_uuid. 'server_uuid' must be a UUID")
                })?;
            let status = match o.get("status") {
                None => "completed".to_string(),
                Some(Value::String(s)) if ["failed", "completed", "in-progress"].contains(&s.as_str()) => {
                    s.clone()
                }
                Some(v) => {
                    return Err(bad(format!(
                        "Invalid input for field/attribute status. Value: {v}. {v} is not one of \
                         ['failed', 'completed', 'in-progress']"
                    )))
                }
            };
            let tag = match o.get("tag") {
                None => None,
                Some(Value::String(s)) if s.chars().count() <= 255 => Some(s.clone()),
                Some(v) => {
                    return Err(bad(format!("Invalid input for field/attribute tag. Value: {v}.")))
                }
            };
            Ok(ExternalEvent {
                name: name.to_string(),
                server_uuid: server_uuid.to_string(),
                status,
                tag,
            })
        })
        .collect()
}

/// A minimal UUID syntax check (8-4-4-4-12 hex digits, dashes optional).
mod uuid_check {
    pub struct Uuid;

    impl std::str::FromStr for Uuid {
        type Err = ();
        fn from_str(s: &str) -> Result<Uuid, ()> {
            let hex: String = s.chars().filter(|c| *c != '-').collect();
            if hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
                Ok(Uuid)
            } else {
                Err(())
            }
        }
    }
}

/// 200 when every event was handled, 207 when some were, 404 when none.
async fn external_events(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    c.enforce(
        &ctx,
        "os_compute_api:os-server-external-events:create",
        &json!({}),
    )?;
    let events = parse_events(&body, mv)?;
    let done = c.external_events(&ctx, events).await?;
    let ok = done.iter().filter(|(_, code)| *code == 200).count();
    let status = if ok == done.len() {
        StatusCode::OK
    } else if ok == 0 {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::MULTI_STATUS
    };
    let out: Vec<Value> = done
        .into_iter()
        .map(|(e, code)| {
            let mut v = json!({
                "name": e.name,
                "server_uuid": e.server_uuid,
                "status": if code == 200 { e.status.as_str() } else { "failed" },
                "code": code,
            });
            if let Some(t) = e.tag {
                v["tag"] = json!(t);
            }
            v
        })
        .collect();
    Ok((status, Json(json!({ "events": out }))).into_response())
}

async fn audit_logs(S(c): State, Auth(ctx): Auth) -> Result<Json<Value>> {
    let log = c.usage_audit_log(&ctx, None).await?;
    Ok(Json(json!({ "instance_usage_audit_logs": log })))
}

/// `before` is `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC).
async fn audit_log_before(
    S(c): State,
    Auth(ctx): Auth,
    Path(before): Path<String>,
) -> Result<Json<Value>> {
    c.enforce(
        &ctx,
        "os_compute_api:os-instance-usage-audit-log:show",
        &json!({}),
    )?;
    // Nova checks the policy before the timestamp.
    let at = before
        .split_once(' ')
        .filter(|(d, t)| d.len() == 10 && t.len() >= 8)
        .and_then(|(d, t)| common::clock::parse_iso(&format!("{d}T{t}")))
        .ok_or_else(|| bad(format!("Invalid timestamp for date {before}")))?;
    let log = c.usage_audit_log(&ctx, Some(at)).await?;
    Ok(Json(json!({ "instance_usage_audit_log": log })))
}

//! Remote console URLs: `POST /servers/{id}/remote-consoles` (2.6+), the
//! legacy `os-getVNCConsole` server action (2.1–2.5, dispatched from
//! `servers::action`) and `GET /os-console-auth-tokens/{token}`, with the
//! bodies checked as Nova's `schemas/remote_consoles.py` checks them.

use super::{Microversion, State};
use crate::Compute;
use axum::extract::{Path, State as S};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::auth::Auth;
use common::context::AuthContext;
use common::http::JsonBody;
use common::{Error, Result};
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Compute>> {
    Router::new()
        .route("/v2.1/servers/{id}/remote-consoles", post(create))
        .route("/v2.1/os-console-auth-tokens/{token}", get(show_token))
}

/// Protocols and types of Nova's `create_v26`; 2.8 (`create_v28`) adds
/// `mks`/`webmks`.
const PROTOCOLS_26: &[&str] = &["vnc", "spice", "serial"];
const TYPES_26: &[&str] = &["novnc", "xvpvnc", "spice-html5", "serial"];
/// `get_vnc_console`'s types.
const VNC_TYPES: &[&str] = &["novnc", "xvpvnc"];

/// A jsonschema-style 400 for `field`.
fn invalid(field: &str, value: &Value, why: &str) -> Error {
    Error::bad_request(format!(
        "Invalid input for field/attribute {field}. Value: {value}. {why}"
    ))
}

/// The object `v` with exactly `required` keys among `allowed`.
fn object<'a>(
    field: &str,
    v: &'a Value,
    required: &[&str],
    allowed: &[&str],
) -> Result<&'a Map<String, Value>> {
    let Some(o) = v.as_object() else {
        return Err(invalid(field, v, &format!("{v} is not of type 'object'")));
    };
    if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(Error::bad_request(format!(
            "Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    if let Some(k) = required.iter().find(|k| !o.contains_key(**k)) {
        return Err(invalid(field, v, &format!("'{k}' is a required property")));
    }
    Ok(o)
}

/// The string member `key` of `o`, one of `allowed`.
fn one_of<'a>(o: &'a Map<String, Value>, key: &str, allowed: &[&str]) -> Result<&'a str> {
    let v = o.get(key).unwrap_or(&Value::Null);
    match v.as_str() {
        Some(s) if allowed.contains(&s) => Ok(s),
        _ => Err(invalid(
            key,
            v,
            &format!("{v} is not one of {}", python_list(allowed)),
        )),
    }
}

/// `['a', 'b']`, as jsonschema prints an enum.
fn python_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// `POST /servers/{id}/remote-consoles`.
async fn create(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Json<Value>> {
    if !mv.at_least(6) {
        return Err(Error::not_found("The resource could not be found."));
    }
    let (mut protocols, mut types) = (PROTOCOLS_26.to_vec(), TYPES_26.to_vec());
    if mv.at_least(8) {
        protocols.push("mks");
        types.push("webmks");
    }
    let body = object("root", &b, &["remote_console"], &["remote_console"])?;
    let rc = body.get("remote_console").unwrap_or(&Value::Null);
    let rc = object(
        "remote_console",
        rc,
        &["protocol", "type"],
        &["protocol", "type"],
    )?;
    let protocol = one_of(rc, "protocol", &protocols)?;
    let console_type = one_of(rc, "type", &types)?;
    let url = c.remote_console(&ctx, &id, protocol, console_type).await?;
    Ok(Json(json!({ "remote_console": {
        "protocol": protocol,
        "type": console_type,
        "url": url,
    }})))
}

/// The `os-getVNCConsole` action (2.1–2.5): `{"type": "novnc"}` →
/// `{"console": {"type", "url"}}`.
pub async fn vnc_action(
    c: &Compute,
    ctx: &AuthContext,
    mv: Microversion,
    id: &str,
    arg: &Value,
) -> Result<Json<Value>> {
    if mv.at_least(6) {
        return Err(Error::not_found("The resource could not be found."));
    }
    let o = object("os-getVNCConsole", arg, &["type"], &["type"])?;
    let console_type = one_of(o, "type", VNC_TYPES)?;
    let url = c.remote_console(ctx, id, "vnc", console_type).await?;
    Ok(Json(
        json!({ "console": { "type": console_type, "url": url } }),
    ))
}

/// `GET /os-console-auth-tokens/{token}` (admins): RDP tokens only before
/// 2.31, any since.
async fn show_token(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(token): Path<String>,
) -> Result<Json<Value>> {
    let body = c
        .console_token_details(&ctx, &token, !mv.at_least(31))
        .await?;
    Ok(Json(body))
}

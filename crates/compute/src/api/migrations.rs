//! Migrations: `GET /os-migrations`, a server's live migrations
//! (`GET /servers/{id}/migrations[/{mid}]` from 2.23, `DELETE` from 2.24,
//! the `force_complete` action from 2.22), and the `migrate` and
//! `os-migrateLive` actions (dispatched here from
//! `POST /servers/{id}/action`). Bodies and shapes follow Nova's schemas
//! per microversion.

use super::{Microversion, State};
use crate::app::migrations::LiveMigrate;
use crate::db::migrations::MigrationRecord;
use crate::Compute;
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::clock::iso_micros_naive;
use common::context::AuthContext;
use common::http::{BaseUrl, QueryMap};
use common::{Error, Result};
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Compute>> {
    Router::new()
        .route("/v2.1/os-migrations", get(list))
        .route("/v2.1/servers/{id}/migrations", get(list_of_server))
        .route(
            "/v2.1/servers/{id}/migrations/{mid}",
            get(show_of_server).delete(abort),
        )
        .route(
            "/v2.1/servers/{id}/migrations/{mid}/action",
            axum::routing::post(migration_action),
        )
}

/// The server actions this module answers.
pub fn handles(action: &str) -> bool {
    matches!(action, "migrate" | "os-migrateLive")
}

fn bad(msg: impl Into<String>) -> Error {
    Error::bad_request(msg)
}

/// A 404 for a call older than the microversion that brought it.
fn not_before(mv: Microversion, minor: u32) -> Result<()> {
    if mv.at_least(minor) {
        Ok(())
    } else {
        Err(Error::not_found("The resource could not be found."))
    }
}

/// Runs one of the actions [`handles`] names.
pub async fn action(
    c: &Arc<Compute>,
    ctx: &AuthContext,
    mv: Microversion,
    id: &str,
    name: &str,
    arg: &Value,
    request_id: &str,
) -> Result<Response> {
    match name {
        "migrate" => {
            let host = parse_migrate(arg, mv)?;
            c.migrate_server(ctx, id, host, request_id).await?;
        }
        "os-migrateLive" => {
            let lm = parse_live_migrate(arg, mv)?;
            c.live_migrate_server(ctx, mv, id, &lm, request_id).await?;
        }
        other => return Err(bad(format!("There is no such action: {other}"))),
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

/// A host name as Nova's `fqdn` type (or null).
fn parse_host(v: Option<&Value>) -> Result<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s))
            if !s.is_empty()
                && s.len() <= 255
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')) =>
        {
            Ok(Some(s.clone()))
        }
        Some(other) => Err(bad(format!(
            "Invalid input for field/attribute host. Value: {other}. {other} does not match \
             '^[a-zA-Z0-9-._]*$'"
        ))),
    }
}

/// `migrate`'s body: `null`, or from 2.56 `{"host": name|null}`.
pub fn parse_migrate(arg: &Value, mv: Microversion) -> Result<Option<String>> {
    if !mv.at_least(56) {
        return Ok(None);
    }
    match arg {
        Value::Null => Ok(None),
        Value::Object(o) => {
            if let Some(k) = o.keys().find(|k| *k != "host") {
                return Err(bad(format!(
                    "Invalid input for field/attribute migrate. Value: {arg}. Additional \
                     properties are not allowed ('{k}' was unexpected)"
                )));
            }
            parse_host(o.get("host"))
        }
        other => Err(bad(format!(
            "Invalid input for field/attribute migrate. Value: {other}. {other} is not of type \
             'object', 'null'"
        ))),
    }
}

/// Nova's `parameter_types.boolean`: a JSON boolean or one of its words.
fn parse_bool(field: &str, v: &Value) -> Result<bool> {
    let word = match v {
        Value::Bool(b) => return Ok(*b),
        Value::String(s) => s.as_str(),
        _ => "",
    };
    match word {
        "True" | "TRUE" | "true" | "1" | "ON" | "On" | "on" | "YES" | "Yes" | "yes" => Ok(true),
        "False" | "FALSE" | "false" | "0" | "OFF" | "Off" | "off" | "NO" | "No" | "no" => Ok(false),
        _ => Err(bad(format!(
            "Invalid input for field/attribute {field}. Value: {v}. {v} is not one of [True, \
             'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', False, 'False', \
             'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no']"
        ))),
    }
}

/// `os-migrateLive`'s body for microversion `mv`: `host` and
/// `block_migration` always required; `disk_over_commit` up to 2.24;
/// `block_migration: "auto"` from 2.25; `force` 2.30..2.67.
pub fn parse_live_migrate(arg: &Value, mv: Microversion) -> Result<LiveMigrate> {
    let o: &Map<String, Value> = arg.as_object().ok_or_else(|| {
        bad(format!(
            "Invalid input for field/attribute os-migrateLive. Value: {arg}. {arg} is not of \
             type 'object'"
        ))
    })?;
    let mut allowed = vec!["host", "block_migration"];
    let mut required = vec!["block_migration", "host"];
    if !mv.at_least(25) {
        allowed.push("disk_over_commit");
        required.push("disk_over_commit");
    }
    if mv.at_least(30) && !mv.at_least(68) {
        allowed.push("force");
    }
    if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(bad(format!(
            "Invalid input for field/attribute os-migrateLive. Value: {arg}. Additional \
             properties are not allowed ('{k}' was unexpected)"
        )));
    }
    if let Some(k) = required.iter().find(|k| !o.contains_key(**k)) {
        return Err(bad(format!(
            "Invalid input for field/attribute os-migrateLive. Value: {arg}. '{k}' is a \
             required property"
        )));
    }
    let host = parse_host(o.get("host"))?;
    let bm = o.get("block_migration").unwrap_or(&Value::Null);
    let block_migration = if mv.at_least(25) && bm.as_str() == Some("auto") {
        None
    } else {
        Some(parse_bool("block_migration", bm)?)
    };
    if let Some(d) = o.get("disk_over_commit") {
        parse_bool("disk_over_commit", d)?;
    }
    let force = if mv.at_least(30) {
        match o.get("force") {
            Some(f) => Some(parse_bool("force", f)?),
            None => Some(false),
        }
    } else {
        None
    };
    Ok(LiveMigrate {
        host,
        block_migration,
        force,
    })
}

/// One `os-migrations` entry as Nova's `MigrationsController._output`
/// shapes it for `mv`.
fn migration_view(base: &str, mv: Microversion, m: &MigrationRecord, show_host: bool) -> Value {
    let r = &m.row;
    let host = |v: &Option<String>| if show_host { json!(v) } else { Value::Null };
    let mut v = json!({
        "id": m.legacy_id,
        "instance_uuid": r.instance_id,
        "status": r.status,
        "source_compute": host(&r.source_compute),
        "source_node": host(&m.source_node),
        "dest_compute": host(&r.dest_compute),
        "dest_node": host(&m.dest_node),
        "dest_host": host(&m.dest_host),
        // Flavors have no integer id here (Nova's internal
        // `instance_type_id`): only their flavor id.
        "old_instance_type_id": null,
        "new_instance_type_id": null,
        "created_at": iso_micros_naive(r.created_at),
        "updated_at": iso_micros_naive(r.updated_at),
    });
    if mv.at_least(23) {
        v["migration_type"] = json!(r.migration_type);
        if r.migration_type == "live-migration"
            && crate::app::migrations::LIVE_IN_PROGRESS.contains(&r.status.as_str())
        {
            let path = format!("servers/{}/migrations/{}", r.instance_id, m.legacy_id);
            v["links"] = json!([
                {"rel": "self", "href": format!("{base}/v2.1/{path}")},
                {"rel": "bookmark", "href": format!("{base}/{path}")},
            ]);
        }
    }
    if mv.at_least(59) {
        v["uuid"] = json!(r.id);
    }
    if mv.at_least(80) {
        v["user_id"] = json!(r.user_id);
        v["project_id"] = json!(r.project_id);
    }
    v
}

/// The request's query with `marker` replaced: the next page's URL.
fn next_link(base: &str, path: &str, q: &QueryMap, marker: &str) -> String {
    let query: Vec<String> =
        q.0.iter()
            .filter(|(k, _)| k != "marker")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(std::iter::once(("marker", marker)))
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
    format!("{base}/v2.1/{path}?{}", query.join("&"))
}

pub(crate) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `next` links when a page came back full (Nova's
/// `_get_collection_links`).
pub(crate) fn collection_links(
    base: &str,
    path: &str,
    q: &QueryMap,
    page_size: Option<i64>,
    count: usize,
    last: Option<&str>,
) -> Option<Value> {
    let size = page_size?;
    match last {
        Some(marker) if size > 0 && count as i64 == size => Some(json!([{
            "rel": "next",
            "href": next_link(base, path, q, marker),
        }])),
        _ => None,
    }
}

async fn list(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    let l = c.list_migrations(&ctx, mv, &q).await?;
    let items: Vec<Value> = l
        .migrations
        .iter()
        .map(|m| migration_view(&base, mv, m, l.show_host))
        .collect();
    let mut body = json!({ "migrations": items });
    if mv.at_least(59) {
        let last = l.migrations.last().map(|m| m.row.id.as_str());
        if let Some(links) = collection_links(
            &base,
            "os-migrations",
            &q,
            l.page_size,
            l.migrations.len(),
            last,
        ) {
            body["migrations_links"] = links;
        }
    }
    Ok(Json(body))
}

/// One entry of `/servers/{id}/migrations` (Nova's
/// `server_migrations.output`).
fn server_migration_view(mv: Microversion, m: &MigrationRecord, show_host: bool) -> Value {
    let r = &m.row;
    let host = |v: &Option<String>| if show_host { json!(v) } else { Value::Null };
    let mut v = json!({
        "id": m.legacy_id,
        "server_uuid": r.instance_id,
        "status": r.status,
        "source_compute": host(&r.source_compute),
        "source_node": host(&m.source_node),
        "dest_compute": host(&r.dest_compute),
        "dest_node": host(&m.dest_node),
        "dest_host": host(&m.dest_host),
        // No driver here reports a live migration's progress.
        "disk_processed_bytes": null,
        "disk_remaining_bytes": null,
        "disk_total_bytes": null,
        "memory_processed_bytes": null,
        "memory_remaining_bytes": null,
        "memory_total_bytes": null,
        "created_at": iso_micros_naive(r.created_at),
        "updated_at": iso_micros_naive(r.updated_at),
    });
    if mv.at_least(59) {
        v["uuid"] = json!(r.id);
    }
    if mv.at_least(80) {
        v["user_id"] = json!(r.user_id);
        v["project_id"] = json!(r.project_id);
    }
    v
}

async fn list_of_server(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    not_before(mv, 23)?;
    let (found, show_host) = c.list_server_migrations(&ctx, &id).await?;
    let items: Vec<Value> = found
        .iter()
        .map(|m| server_migration_view(mv, m, show_host))
        .collect();
    Ok(Json(json!({ "migrations": items })))
}

async fn show_of_server(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((id, mid)): Path<(String, String)>,
) -> Result<Json<Value>> {
    not_before(mv, 23)?;
    let m = c.show_server_migration(&ctx, &id, &mid).await?;
    Ok(Json(
        json!({ "migration": server_migration_view(mv, &m, true) }),
    ))
}

async fn abort(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((id, mid)): Path<(String, String)>,
) -> Result<Response> {
    not_before(mv, 24)?;
    c.abort_live_migration(&ctx, mv, &id, &mid).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `POST /servers/{id}/migrations/{mid}/action` with
/// `{"force_complete": null}` (2.22+).
async fn migration_action(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((id, mid)): Path<(String, String)>,
    common::http::JsonBody(b): common::http::JsonBody<Value>,
) -> Result<Response> {
    not_before(mv, 22)?;
    let obj = b
        .as_object()
        .ok_or_else(|| bad("Invalid input for field/attribute body. Not an object"))?;
    if let Some(k) = obj.keys().find(|k| *k != "force_complete") {
        return Err(bad(format!(
            "Invalid input for field/attribute body. Additional properties are not allowed \
             ('{k}' was unexpected)"
        )));
    }
    match obj.get("force_complete") {
        Some(Value::Null) => {}
        Some(v) => {
            return Err(bad(format!(
                "Invalid input for field/attribute force_complete. Value: {v}. {v} is not of \
                 type 'null'"
            )))
        }
        None => {
            return Err(bad(
                "Invalid input for field/attribute body. 'force_complete' is a required property",
            ))
        }
    }
    c.force_complete_live_migration(&ctx, &id, &mid).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

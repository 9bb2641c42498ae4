//! `/os-hosts` (deprecated, 2.1–2.42): every service's host with its
//! zone, and a compute host's resources — its total, what its servers
//! use now, and per project. The host actions (`PUT` status and
//! maintenance mode, `startup`/`shutdown`/`reboot`) are what Nova's
//! libvirt driver answers: not implemented (501), once the request is
//! valid, allowed and names a compute host.

use super::{Microversion, State};
use crate::app::services::COMPUTE_BINARY;
use axum::extract::{Path, State as S};
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::QueryMap;
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Compute>> {
    Router::new()
        .route("/v2.1/os-hosts", get(list))
        .route("/v2.1/os-hosts/{host}", get(show).put(update))
        .route("/v2.1/os-hosts/{host}/startup", get(startup))
        .route("/v2.1/os-hosts/{host}/shutdown", get(shutdown))
        .route("/v2.1/os-hosts/{host}/reboot", get(reboot))
}

/// Nova's `raise_feature_not_supported`.
fn not_supported() -> Error {
    super::errors::not_implemented("The requested functionality is not supported.")
}

/// 404 unless `host` is a compute host.
async fn compute_host(nova: &crate::Compute, host: &str) -> Result<()> {
    let (services, _) = nova.all_services().await?;
    if services
        .iter()
        .any(|s| s.row.binary == COMPUTE_BINARY && s.row.host == host)
    {
        Ok(())
    } else {
        Err(Error::not_found(format!("Host {host} could not be found.")))
    }
}

/// `enable`/`disable` in any of the cases Nova's schema lists.
fn toggle(body: &serde_json::Map<String, Value>, key: &str) -> Result<()> {
    match body.get(key) {
        None => Ok(()),
        Some(Value::String(s))
            if [
                "enable", "disable", "Enable", "Disable", "ENABLE", "DISABLE",
            ]
            .contains(&s.as_str()) =>
        {
            Ok(())
        }
        Some(v) => Err(Error::bad_request(format!(
            "Invalid input for field/attribute {key}. Value: {v}. {v} is not one of \
             ['enable', 'disable', 'Enable', 'Disable', 'ENABLE', 'DISABLE']"
        ))),
    }
}

async fn update(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(host): Path<String>,
    common::http::JsonBody(body): common::http::JsonBody<Value>,
) -> Result<Json<Value>> {
    gone_at_2_43(mv)?;
    let Some(body) = body.as_object() else {
        return Err(Error::bad_request(
            "Invalid input for field/attribute body. The body must be a JSON object",
        ));
    };
    if let Some(k) = body
        .keys()
        .find(|k| *k != "status" && *k != "maintenance_mode")
    {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute body. Additional properties are not allowed \
             ('{k}' was unexpected)"
        )));
    }
    toggle(body, "status")?;
    toggle(body, "maintenance_mode")?;
    if body.is_empty() {
        return Err(Error::bad_request(
            "Invalid input for field/attribute body. 'status' or 'maintenance_mode' is \
             required",
        ));
    }
    nova.enforce(&ctx, "os_compute_api:os-hosts:update", &json!({}))?;
    compute_host(&nova, &host).await?;
    Err(not_supported())
}

async fn power_action(
    nova: &crate::Compute,
    ctx: &common::context::AuthContext,
    mv: Microversion,
    host: &str,
    action: &str,
) -> Result<Json<Value>> {
    gone_at_2_43(mv)?;
    nova.enforce(
        ctx,
        &format!("os_compute_api:os-hosts:{action}"),
        &json!({}),
    )?;
    compute_host(nova, host).await?;
    Err(not_supported())
}

async fn startup(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(host): Path<String>,
) -> Result<Json<Value>> {
    power_action(&nova, &ctx, mv, &host, "start").await
}

async fn shutdown(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(host): Path<String>,
) -> Result<Json<Value>> {
    power_action(&nova, &ctx, mv, &host, "shutdown").await
}

async fn reboot(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(host): Path<String>,
) -> Result<Json<Value>> {
    power_action(&nova, &ctx, mv, &host, "reboot").await
}

fn gone_at_2_43(mv: Microversion) -> Result<()> {
    if mv.at_least(43) {
        return Err(Error::not_found("The resource could not be found."));
    }
    Ok(())
}

async fn list(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    q: QueryMap,
) -> Result<Json<Value>> {
    gone_at_2_43(mv)?;
    nova.enforce(&ctx, "os_compute_api:os-hosts:list", &json!({}))?;
    let (services, _) = nova.all_services().await?;
    let zone = q.get("zone");
    let hosts: Vec<Value> = services
        .iter()
        // Nova lists the hosts of enabled services only.
        .filter(|s| !s.row.disabled)
        .filter(|s| zone.is_none_or(|z| z.is_empty() || z == s.zone))
        .map(|s| {
            json!({
                "host_name": s.row.host,
                "service": s.row.binary.trim_start_matches("nova-"),
                "zone": s.zone,
            })
        })
        .collect();
    Ok(Json(json!({ "hosts": hosts })))
}

async fn show(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(host): Path<String>,
) -> Result<Json<Value>> {
    gone_at_2_43(mv)?;
    nova.enforce(&ctx, "os_compute_api:os-hosts:show", &json!({}))?;
    let (services, hosts) = nova.all_services().await?;
    let is_compute = services
        .iter()
        .any(|s| s.row.binary == COMPUTE_BINARY && s.row.host == host);
    let Some(h) = hosts.into_iter().find(|h| h.name == host && is_compute) else {
        return Err(Error::not_found(format!(
            "Compute host {host} could not be found."
        )));
    };
    let row = |project: &str, cpu: i64, mem: i64, disk: i64| {
        json!({"resource": {"host": host, "project": project, "cpu": cpu,
                            "memory_mb": mem, "disk_gb": disk}})
    };
    let (c, u) = (&h.capacity, &h.used);
    let mut out = vec![
        row("(total)", c.vcpus, c.memory_mb, c.local_gb),
        // `used_now` is the resource tracker's view, which counts the
        // host's reserved memory; `used_max` adds up the servers only.
        row(
            "(used_now)",
            u.vcpus,
            u.memory_mb + nova.settings.reserved_host_memory_mb,
            u.disk_gb,
        ),
        row("(used_max)", u.vcpus, u.memory_mb, u.disk_gb),
    ];
    for p in crate::db::services::project_usage_on(&nova.db.pool, &host).await? {
        out.push(row(&p.host, p.vcpus, p.memory_mb, p.disk_gb));
    }
    Ok(Json(json!({ "host": out })))
}

//! `/os-hosts` (deprecated, 2.1–2.42): every service's host with its
//! zone, and a compute host's resources — its total, what its servers
//! use now, and per project.

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
        .route("/v2.1/os-hosts/{host}", get(show))
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

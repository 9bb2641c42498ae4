//! `/os-availability-zone` (the zones servers may ask for: the compute
//! hosts' zone, available while one of its compute services is enabled)
//! and `/os-availability-zone/detail` (admin: every zone, `internal`
//! too, with each host's services).

use super::State;
use crate::app::services::{ServiceView, COMPUTE_BINARY};
use axum::extract::State as S;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::Result;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Compute>> {
    Router::new()
        .route("/v2.1/os-availability-zone", get(list))
        .route("/v2.1/os-availability-zone/detail", get(detail))
}

/// Zone → its services, the compute zones first.
fn zones(services: &[ServiceView]) -> BTreeMap<(bool, String), Vec<&ServiceView>> {
    let mut z: BTreeMap<(bool, String), Vec<&ServiceView>> = BTreeMap::new();
    for s in services {
        z.entry((s.zone == "internal", s.zone.clone()))
            .or_default()
            .push(s);
    }
    z
}

fn available(services: &[&ServiceView]) -> bool {
    services
        .iter()
        .any(|s| s.row.binary != COMPUTE_BINARY || !s.row.disabled)
}

async fn list(S(nova): State, Auth(ctx): Auth) -> Result<Json<Value>> {
    nova.enforce(&ctx, "os_compute_api:os-availability-zone:list", &json!({}))?;
    let (services, _) = nova.all_services().await?;
    let out: Vec<Value> = zones(&services)
        .into_iter()
        .filter(|((internal, _), _)| !internal)
        .map(|((_, name), s)| {
            json!({"zoneName": name, "zoneState": {"available": available(&s)}, "hosts": null})
        })
        .collect();
    Ok(Json(json!({ "availabilityZoneInfo": out })))
}

async fn detail(S(nova): State, Auth(ctx): Auth) -> Result<Json<Value>> {
    nova.enforce(&ctx, "os_compute_api:os-availability-zone:detail", &json!({}))?;
    let (services, _) = nova.all_services().await?;
    let out: Vec<Value> = zones(&services)
        .into_iter()
        .map(|((_, name), s)| {
            let mut hosts: Map<String, Value> = Map::new();
            for v in &s {
                let entry = hosts
                    .entry(v.row.host.clone())
                    .or_insert_with(|| json!({}));
                entry[v.row.binary.as_str()] = json!({
                    "available": v.up,
                    "active": !v.row.disabled,
                    "updated_at": common::clock::iso_micros_naive(v.row.updated_at),
                });
            }
            json!({"zoneName": name, "zoneState": {"available": available(&s)}, "hosts": hosts})
        })
        .collect();
    Ok(Json(json!({ "availabilityZoneInfo": out })))
}

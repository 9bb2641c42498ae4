//! `/os-availability-zone` (the zones servers may ask for: the compute
//! hosts' zone, available while one of its services is enabled)
//! and `/os-availability-zone/detail` (admin: every zone, `internal`
//! too, with each host's services).

use super::State;
use crate::app::services::ServiceView;
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

/// Nova's `get_availability_zones`: the zones of enabled services
/// (compute zones first, `internal` last), then the zones only disabled
/// services are in, each with its enabled services.
fn zones(services: &[ServiceView]) -> Vec<(String, bool, Vec<&ServiceView>)> {
    let mut z: BTreeMap<(bool, bool, String), Vec<&ServiceView>> = BTreeMap::new();
    let available = |zone: &str| services.iter().any(|s| s.zone == zone && !s.row.disabled);
    for s in services {
        let entry = z
            .entry((!available(&s.zone), s.zone == "internal", s.zone.clone()))
            .or_default();
        if !s.row.disabled {
            entry.push(s);
        }
    }
    z.into_iter()
        .map(|((unavailable, _, name), s)| (name, !unavailable, s))
        .collect()
}

async fn list(S(nova): State, Auth(ctx): Auth) -> Result<Json<Value>> {
    nova.enforce(&ctx, "os_compute_api:os-availability-zone:list", &json!({}))?;
    let (services, _) = nova.all_services().await?;
    let out: Vec<Value> = zones(&services)
        .into_iter()
        .filter(|(name, _, _)| name != "internal")
        .map(|(name, available, _)| {
            json!({"zoneName": name, "zoneState": {"available": available}, "hosts": null})
        })
        .collect();
    Ok(Json(json!({ "availabilityZoneInfo": out })))
}

async fn detail(S(nova): State, Auth(ctx): Auth) -> Result<Json<Value>> {
    nova.enforce(
        &ctx,
        "os_compute_api:os-availability-zone:detail",
        &json!({}),
    )?;
    let (services, _) = nova.all_services().await?;
    let out: Vec<Value> = zones(&services)
        .into_iter()
        .map(|(name, available, s)| {
            if !available {
                return json!({"zoneName": name, "zoneState": {"available": false}, "hosts": null});
            }
            let mut hosts: Map<String, Value> = Map::new();
            for v in &s {
                let entry = hosts.entry(v.row.host.clone()).or_insert_with(|| json!({}));
                entry[v.row.binary.as_str()] = json!({
                    "available": v.up,
                    "active": !v.row.disabled,
                    "updated_at": common::clock::iso_micros_naive(v.updated_at),
                });
            }
            json!({"zoneName": name, "zoneState": {"available": true}, "hosts": hosts})
        })
        .collect();
    Ok(Json(json!({ "availabilityZoneInfo": out })))
}

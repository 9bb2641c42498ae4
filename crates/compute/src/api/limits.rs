//! `GET /limits`: the caller's (or, for admins, `?tenant_id=`'s)
//! absolute limits and usage; no rate limits (`rate: []`), as Nova since
//! Newton. Keys per microversion: the network ones go at 2.36,
//! `maxImageMeta` at 2.39, the personality ones at 2.57.

use super::{Microversion, State};
use axum::extract::State as S;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::QueryMap;
use common::Result;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Compute>> {
    Router::new().route("/v2.1/limits", get(limits))
}

async fn limits(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    q: QueryMap,
) -> Result<Json<Value>> {
    super::services::strict_query(mv, &q, &["tenant_id"])?;
    let own = nova.project_of(&ctx)?.to_string();
    let project = match q.get("tenant_id").filter(|t| !t.is_empty()) {
        Some(t) => {
            nova.enforce(
                &ctx,
                "os_compute_api:limits:other_project",
                &json!({"project_id": t}),
            )?;
            t.to_string()
        }
        None => {
            nova.enforce(&ctx, "os_compute_api:limits", &json!({"project_id": own}))?;
            own
        }
    };
    let (l, used) = nova.absolute_limits(&project).await?;
    let groups_used = nova.server_group_count(&project, None).await?;
    let g = |k: &str| l.get(k).copied().unwrap_or(-1);
    let mut a = Map::new();
    let mut put = |k: &str, v: i64| {
        a.insert(k.into(), json!(v));
    };
    put("maxTotalInstances", g("instances"));
    put("maxTotalCores", g("cores"));
    put("maxTotalRAMSize", g("ram"));
    put("maxServerMeta", g("metadata_items"));
    put("maxTotalKeypairs", g("key_pairs"));
    put("maxServerGroups", g("server_groups"));
    put("maxServerGroupMembers", g("server_group_members"));
    put("totalInstancesUsed", used.instances);
    put("totalCoresUsed", used.cores);
    put("totalRAMUsed", used.ram);
    put("totalServerGroupsUsed", groups_used);
    if !mv.at_least(39) {
        put("maxImageMeta", g("metadata_items"));
    }
    if !mv.at_least(57) {
        put("maxPersonality", g("injected_files"));
        put("maxPersonalitySize", g("injected_file_content_bytes"));
    }
    if !mv.at_least(36) {
        put("maxSecurityGroups", g("security_groups"));
        put("maxSecurityGroupRules", g("security_group_rules"));
        put("maxTotalFloatingIps", g("floating_ips"));
        put("totalFloatingIpsUsed", 0);
        put("totalSecurityGroupsUsed", 0);
    }
    Ok(Json(json!({"limits": {"absolute": a, "rate": []}})))
}

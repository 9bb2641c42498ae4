//! `/v2/info/import`, `/v2/info/stores` and `/v2/info/usage`.

use super::State;
use axum::extract::State as S;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::Result;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Image>> {
    Router::new()
        .route("/v2/info/import", get(import_info))
        .route("/v2/info/stores", get(stores))
        .route("/v2/info/usage", get(usage))
}

async fn import_info(S(g): State, Auth(_ctx): Auth) -> Json<Value> {
    Json(json!({"import-methods": {
        "description": "Import methods available.",
        "type": "array",
        "value": g.import_methods(),
    }}))
}

async fn stores(Auth(_ctx): Auth) -> Json<Value> {
    Json(json!({"stores": [{
        "id": crate::STORE_ID,
        "description": "Image data on this host's disk",
        "default": true,
    }]}))
}

/// The caller's project's quota usage, in unified limits' names.
async fn usage(S(g): State, Auth(ctx): Auth) -> Result<Json<Value>> {
    let (images, bytes) = match ctx.project_id() {
        Some(p) => db_usage(&g, p).await?,
        None => (0, 0),
    };
    let s = &g.settings;
    Ok(Json(json!({"usage": {
        "image_count_total": {"limit": s.quota_images, "usage": images},
        "image_size_total": {"limit": mib(s.quota_bytes), "usage": (bytes + (1 << 20) - 1) / (1 << 20)},
    }})))
}

fn mib(bytes: i64) -> i64 {
    if bytes < 0 {
        -1
    } else {
        bytes / (1 << 20)
    }
}

async fn db_usage(g: &crate::Image, project: &str) -> Result<(i64, i64)> {
    Ok(crate::db::usage::get(&g.db.pool, project).await?)
}

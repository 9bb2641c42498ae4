//! `/v2/info/import`, `/v2/info/stores` and `/v2/info/usage`.

use super::GlanceErrors;
use super::State;
use axum::extract::State as S;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::Result;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

pub fn routes() -> Router<Arc<crate::Image>> {
    Router::new()
        .route("/v2/info/import", get(import_info))
        .route("/v2/info/stores", get(stores))
        .route("/v2/info/usage", get(usage))
}

/// `GET /v2/info/import`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportInfo {
    #[serde(rename = "import-methods")]
    #[schema(rename = "import-methods")]
    pub import_methods: ImportMethods,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportMethods {
    pub description: String,
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub kind: String,
    pub value: Vec<String>,
}

/// `GET /v2/info/stores`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stores {
    pub stores: Vec<StoreInfo>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StoreInfo {
    pub id: String,
    pub description: String,
    pub default: bool,
}

/// `GET /v2/info/usage`, in unified limits' names.
#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    pub usage: UsageTotals,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageTotals {
    pub image_count_total: LimitUsage,
    /// MiB.
    pub image_size_total: LimitUsage,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LimitUsage {
    /// -1 for unlimited.
    pub limit: i64,
    pub usage: i64,
}

#[utoipa::path(get, path = "/v2/info/import", tag = "discovery",
    responses((status = 200, body = ImportInfo), GlanceErrors))]
async fn import_info(S(g): State, Auth(_ctx): Auth) -> Json<ImportInfo> {
    Json(ImportInfo {
        import_methods: ImportMethods {
            description: "Import methods available.".into(),
            kind: "array".into(),
            value: g.import_methods().iter().map(|m| m.to_string()).collect(),
        },
    })
}

#[utoipa::path(get, path = "/v2/info/stores", tag = "discovery",
    responses((status = 200, body = Stores), GlanceErrors))]
async fn stores(Auth(_ctx): Auth) -> Json<Stores> {
    Json(Stores {
        stores: vec![StoreInfo {
            id: crate::STORE_ID.into(),
            description: "Image data on this host's disk".into(),
            default: true,
        }],
    })
}

/// The caller's project's quota usage.
#[utoipa::path(get, path = "/v2/info/usage", tag = "discovery",
    responses((status = 200, body = Usage), GlanceErrors))]
async fn usage(S(g): State, Auth(ctx): Auth) -> Result<Json<Usage>> {
    let (images, bytes) = match ctx.project_id() {
        Some(p) => db_usage(&g, p).await?,
        None => (0, 0),
    };
    let s = &g.settings;
    Ok(Json(Usage {
        usage: UsageTotals {
            image_count_total: LimitUsage {
                limit: s.quota_images,
                usage: images,
            },
            image_size_total: LimitUsage {
                limit: mib(s.quota_bytes),
                usage: (bytes + (1 << 20) - 1) / (1 << 20),
            },
        },
    }))
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

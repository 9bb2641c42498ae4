//! Image v2 (Glance) for oxistack.
//!
//! `api/` holds the HTTP handlers, one file per URL family; `app/` the
//! rules (visibility, policy, schema, status transitions, quotas); `db/`
//! the queries; `store` the image files on disk; `inspect` the streaming
//! format inspector; `policies` Glance's default policy rules.
//!
//! Glance's `checksum` (MD5) and `os_hash_value` (SHA-512) are computed
//! while the data streams, by [`common::datafile`] with OpenSSL's hashes
//! (see [`common::digest`] for why that crate).

pub mod api;
pub mod app;
pub mod config;
pub mod db;
pub mod inspect;
pub mod policies;
pub mod store;

pub use app::{Image, Settings};

use common::config::Config;
use common::service::{BoxFuture, CatalogEntry, Service, ServiceContext, ServiceDef, Stop};
use std::sync::Arc;

/// The one store backend's identifier (`/v2/info/stores`, `stores`).
pub const STORE_ID: &str = "local";

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("image data directory: {0}")]
    Store(#[from] std::io::Error),
    #[error(transparent)]
    Policy(#[from] common::policy::PolicyError),
    #[error(transparent)]
    Config(#[from] common::config::ConfigError),
    #[error("image store recovery: {0}")]
    Recover(#[from] common::Error),
}

/// Builds the image service over `db` from the configuration, and puts
/// back any upload a previous process left half done.
pub async fn build(
    cfg: &Config,
    db: ::db::Db,
    clock: common::clock::SharedClock,
) -> Result<Arc<Image>, SetupError> {
    let c: config::ImageConfig = cfg.section()?;
    let store = store::Store::open(&c.data_path(cfg))?;
    let policy_file = (!c.policy_file.is_empty()).then(|| std::path::PathBuf::from(&c.policy_file));
    let policy = common::policy::Policy::new(&policies::defaults(), policy_file.as_deref())?;
    let settings = Settings {
        quota_images: c.quota_images,
        quota_bytes: c.quota_bytes,
        size_cap: c.image_size_cap,
        web_download_allowed: c.web_download_allowed,
        list_limit: c.list_limit,
        list_limit_max: c.list_limit_max,
    };
    let glance = Arc::new(Image {
        db,
        store,
        policy,
        clock,
        settings,
    });
    glance.recover().await?;
    Ok(glance)
}

/// How the composition root finds and builds the image service.
pub const SERVICE: ServiceDef = ServiceDef {
    service_type: "image",
    config: common::config::SectionDef::of::<config::ImageConfig>(),
    port: |cfg| Ok(cfg.section::<config::ImageConfig>()?.port),
    enabled: |_| true,
    build: |ctx| {
        Box::pin(async move {
            let glance = build(&ctx.config, ctx.db.clone(), ctx.clock.clone()).await?;
            let served: Arc<dyn Service> = Arc::new(Served { glance, ctx });
            Ok(served)
        })
    },
};

/// The image service as the composition root drives it.
struct Served {
    glance: Arc<Image>,
    ctx: ServiceContext,
}

impl Service for Served {
    fn service_type(&self) -> &'static str {
        SERVICE.service_type
    }

    fn catalog_entry(&self) -> CatalogEntry {
        let port = self.ctx.port;
        CatalogEntry::on_hosts(
            &self.ctx.config,
            "image",
            "glance",
            "OpenStack Image",
            |host| format!("http://{host}:{port}"),
        )
    }

    fn router(self: Arc<Self>) -> axum::Router {
        api::router(
            self.glance.clone(),
            self.ctx.validator.clone(),
            self.ctx.config.max_request_body_size,
        )
    }

    fn renderer(&self) -> common::http::Renderer {
        Arc::new(api::errors::Glance)
    }

    fn background(self: Arc<Self>, stop: Stop) -> Option<BoxFuture<'static, std::io::Result<()>>> {
        Some(Box::pin(self.glance.clone().run_background(stop)))
    }

    fn policy(&self) -> Option<&common::policy::Policy> {
        Some(&self.glance.policy)
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
        self.glance.clone()
    }
}

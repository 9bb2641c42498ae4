//! Object Storage v1 (Swift) for oxistack.
//!
//! One process plays Swift's proxy with its usual middleware pipeline
//! (keystoneauth, tempurl, slo, dlo, bulk, account and container quotas,
//! copy, versioned writes) and the account, container and object servers
//! behind it: accounts, containers and object metadata live in the shared
//! store (`db/`), object data in files under the data directory
//! ([`store`]).
//!
//! Layout, as in every service crate: `api/` parses HTTP (the path
//! `/v1/AUTH_<project>/<container>/<object>` leads to `api/accounts.rs`,
//! `api/containers.rs` or `api/objects.rs`) and renders replies; `app/`
//! holds Swift's rules (authorisation in `app/auth.rs`, listings, large
//! objects, temp URLs, quotas, versioning, expiry); `db/` the queries.
//!
//! Crates chosen, each for one job: uploads are hashed (the ETag Swift
//! defines as MD5) by [`common::datafile`] with OpenSSL's MD5, the fastest
//! at hand (see [`common::digest`]); `md-5` (RustCrypto) hashes the small
//! things (manifest ETags); `hmac` with `sha1`/`sha2` (RustCrypto) for temp
//! URL signatures, as `swift tempurl` computes them; `httpdate` for the
//! three HTTP date formats conditional requests may carry (it is already in
//! the tree through hyper). Listings in XML are a handful of elements, so
//! they are written by hand with escaping rather than with an XML crate.
//!
//! Archive uploads ([`archive`]) read tar with `tar` (the Rust tar
//! reader cargo itself packs and unpacks crates with; it streams from any
//! `Read`, handles GNU long names and pax records, and is built without
//! its `xattr` feature since nothing is unpacked onto a filesystem), gzip
//! with `flate2` (rust-lang's, also cargo's) on its pure-Rust
//! `miniz_oxide` backend, so no C zlib is built or linked, and bzip2 with
//! `bzip2`, whose default backend since 0.6 is `libbz2-rs-sys`, a
//! pure-Rust port of libbzip2 kept by the same maintainers. All three are
//! streaming readers, so an archive never has to fit in memory.

pub mod api;
pub mod app;
pub mod archive;
pub mod config;
pub mod db;
pub mod http;
pub mod names;
pub mod store;

pub use app::{ObjectStore, Settings};

use common::config::Config;
use common::service::{BoxFuture, CatalogEntry, Service, ServiceContext, ServiceDef, Stop};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("object data directory {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] common::config::ConfigError),
}

/// Builds the object store from the configuration over `db`; `validator`
/// checks `X-Auth-Token`s (the identity service).
pub fn build(
    cfg: &Config,
    db: ::db::Db,
    clock: common::clock::SharedClock,
    validator: Arc<dyn common::auth::TokenValidator>,
) -> Result<Arc<ObjectStore>, SetupError> {
    let c: config::ObjectStoreConfig = cfg.section()?;
    let dir = c.data_path(cfg);
    let data = store::DataStore::open(&dir).map_err(|source| SetupError::DataDir {
        path: dir.clone(),
        source,
    })?;
    let settings = Settings::from_config(&c);
    Ok(Arc::new(ObjectStore::new(
        db, data, clock, validator, settings,
    )))
}

/// How the composition root finds and builds the object store
/// (`enable_swift`).
pub const SERVICE: ServiceDef = ServiceDef {
    service_type: "object-store",
    config: common::config::SectionDef::of::<config::ObjectStoreConfig>(),
    port: |cfg| Ok(cfg.section::<config::ObjectStoreConfig>()?.port),
    enabled: |cfg| cfg.enable_swift,
    build: |ctx| {
        Box::pin(async move {
            let store = build(
                &ctx.config,
                ctx.db.clone(),
                ctx.clock.clone(),
                ctx.validator.clone(),
            )?;
            // As configured, not lowercased as `Settings` keeps it: the
            // role is created under the name the operator wrote.
            let reseller_admin_role = ctx
                .config
                .section::<config::ObjectStoreConfig>()?
                .reseller_admin_role;
            let served: Arc<dyn Service> = Arc::new(Served {
                store,
                ctx,
                reseller_admin_role,
            });
            Ok(served)
        })
    },
};

/// The object store as the composition root drives it.
struct Served {
    store: Arc<ObjectStore>,
    ctx: ServiceContext,
    reseller_admin_role: String,
}

impl Service for Served {
    fn service_type(&self) -> &'static str {
        SERVICE.service_type
    }

    fn catalog_entry(&self) -> CatalogEntry {
        let port = self.ctx.port;
        CatalogEntry::on_hosts(
            &self.ctx.config,
            "object-store",
            "swift",
            "OpenStack Object Storage",
            |host| format!("http://{host}:{port}/v1/AUTH_%(project_id)s"),
        )
    }

    fn router(self: Arc<Self>) -> axum::Router {
        api::router(self.store.clone(), self.ctx.config.max_request_body_size)
    }

    fn renderer(&self) -> common::http::Renderer {
        Arc::new(api::errors::Swift)
    }

    /// Swift's reseller admin: the only role that sets account quotas.
    fn extra_roles(&self) -> Vec<String> {
        vec![self.reseller_admin_role.clone()]
    }

    fn background(self: Arc<Self>, stop: Stop) -> Option<BoxFuture<'static, std::io::Result<()>>> {
        Some(Box::pin(self.store.clone().run_background(stop)))
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
        self.store.clone()
    }
}

//! Identity v3 (Keystone) for oxistack.
//!
//! `api/` holds the HTTP handlers, one file per resource as the URL names
//! it (`/v3/users` → `api/users.rs`); `app/` the rules and policy checks;
//! `db/` the queries; `token/` the fernet payload format and key
//! repository; `password` the Argon2id hashing; `policies` Keystone's
//! default policy rules.
//!
//! Crates chosen: `fernet` (with its pure-Rust RustCrypto backend, no
//! OpenSSL to link) implements the Fernet spec Keystone's tokens use;
//! `argon2` (RustCrypto) is the maintained pure-Rust Argon2id.

pub mod api;
pub mod app;
pub mod config;
pub mod db;
pub mod password;
pub mod policies;
pub mod token;

pub use app::bootstrap::{BootstrapResult, BootstrapSpec, CatalogEntry};
pub use app::{Identity, Settings};

use common::config::Config;
use common::service::{CatalogEntry as Entry, Service, ServiceContext, ServiceDef};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Keys(#[from] token::keys::KeyError),
    #[error(transparent)]
    Policy(#[from] common::policy::PolicyError),
    #[error(transparent)]
    Config(#[from] common::config::ConfigError),
    #[error("identity.password_regex: {0}")]
    PasswordRegex(#[from] regex_lite::Error),
}

/// Builds the identity service from the configuration over `db`.
pub fn build(
    cfg: &Config,
    db: ::db::Db,
    clock: common::clock::SharedClock,
) -> Result<Arc<Identity>, SetupError> {
    let ic: config::IdentityConfig = cfg.section()?;
    let keys = token::KeyRepository::open_or_create(&ic.key_repository(cfg))?;
    let cred_keys = token::KeyRepository::open_or_create(&ic.credential_key_repository(cfg))?;
    let policy_file =
        (!ic.policy_file.is_empty()).then(|| std::path::PathBuf::from(&ic.policy_file));
    let policy = common::policy::Policy::new(&policies::defaults(), policy_file.as_deref())?;
    let settings = Settings {
        token_lifetime: ic.token_expiration * 1_000_000,
        hash: password::HashParams {
            memory_kib: ic.password_hash_memory_kib,
            iterations: ic.password_hash_iterations,
        },
        list_limit: ic.list_limit,
        compliance: app::Compliance {
            lockout_failure_attempts: ic.lockout_failure_attempts,
            lockout_duration: ic.lockout_duration * 1_000_000,
            password_expires_days: ic.password_expires_days,
            unique_last_password_count: ic.unique_last_password_count,
            minimum_password_age: ic.minimum_password_age,
            password_regex: if ic.password_regex.is_empty() {
                None
            } else {
                Some(regex_lite::Regex::new(&ic.password_regex)?)
            },
            password_regex_description: ic.password_regex_description.clone(),
        },
    };
    Ok(Arc::new(Identity::new(
        db, keys, cred_keys, policy, clock, settings,
    )))
}

/// The catalog entry for the identity service itself.
pub fn catalog_entry(cfg: &Config) -> Result<CatalogEntry, common::config::ConfigError> {
    Ok(entry(cfg, cfg.section::<config::IdentityConfig>()?.port))
}

fn entry(cfg: &Config, port: u16) -> Entry {
    Entry::on_hosts(cfg, "identity", "keystone", "OpenStack Identity", |host| {
        format!("http://{host}:{port}/v3")
    })
}

/// How the composition root finds the identity service. `oxistack::cloud`
/// binds its port like every other's but builds it by name, with
/// [`build`] and [`service`], before the rest: the others' contexts carry
/// it as their token validator. `build` here gives the same service from a
/// context (whose validator it does not consult) for a composition root
/// that needs nothing else from it.
pub const SERVICE: ServiceDef = ServiceDef {
    service_type: "identity",
    config: common::config::SectionDef::of::<config::IdentityConfig>(),
    port: |cfg| Ok(cfg.section::<config::IdentityConfig>()?.port),
    enabled: |_| true,
    build: |ctx| {
        Box::pin(async move {
            let id = build(&ctx.config, ctx.db.clone(), ctx.clock.clone())?;
            Ok(service(id, &ctx))
        })
    },
};

/// `identity` presented through the service seam, on `ctx`'s port.
pub fn service(identity: Arc<Identity>, ctx: &ServiceContext) -> Arc<dyn Service> {
    Arc::new(Served {
        identity,
        config: ctx.config.clone(),
        port: ctx.port,
    })
}

/// The identity service as the composition root drives it.
struct Served {
    identity: Arc<Identity>,
    config: Arc<Config>,
    port: u16,
}

impl Service for Served {
    fn service_type(&self) -> &'static str {
        SERVICE.service_type
    }

    fn catalog_entry(&self) -> Entry {
        entry(&self.config, self.port)
    }

    fn router(self: Arc<Self>) -> axum::Router {
        api::router(self.identity.clone(), self.config.max_request_body_size)
    }

    fn renderer(&self) -> common::http::Renderer {
        Arc::new(api::errors::Keystone)
    }

    fn policy(&self) -> Option<&common::policy::Policy> {
        Some(&self.identity.policy)
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
        self.identity.clone()
    }
}

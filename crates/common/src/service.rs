//! The seam every service crate presents itself through, so the
//! composition root (`oxistack::cloud`) treats them all alike: each crate
//! exports one [`ServiceDef`] (its config section, how to find its port,
//! whether it is enabled, how to build it from a [`ServiceContext`]) and
//! its service type implements [`Service`] (catalog entry, routers, error
//! renderer, extra roles, background tasks, shutdown, policy).
//!
//! Identity is built first and by name, since it bootstraps the cloud and
//! validates everyone's tokens, but it implements [`Service`] like the
//! rest. Each service's migrations are its own sequence in
//! `crates/db/migrations/<service>/`, listed in `db::migrate::SERVICES`
//! (the store migrates them all when it opens, before any service is
//! built).

use crate::auth::TokenValidator;
use crate::clock::SharedClock;
use crate::config::{Config, ConfigError, SectionDef};
use crate::http::Renderer;
use crate::policy::Policy;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed future, as the seam passes them around.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Resolves when the cloud stops.
pub type Stop = BoxFuture<'static, ()>;

/// Why a service could not be built.
pub type BuildError = Box<dyn std::error::Error + Send + Sync>;

/// Building a service: the service, or why not.
pub type Building = BoxFuture<'static, Result<Arc<dyn Service>, BuildError>>;

/// One service's catalog entry (the endpoints registered for it in
/// identity's catalog at bootstrap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    pub service_type: String,
    pub name: String,
    pub description: String,
    pub public_url: String,
    pub internal_url: String,
    pub admin_url: String,
}

impl CatalogEntry {
    /// An entry whose URLs are `url(host)` on the configuration's public
    /// host (public) and internal host (internal and admin).
    pub fn on_hosts(
        cfg: &Config,
        service_type: &str,
        name: &str,
        description: &str,
        url: impl Fn(&str) -> String,
    ) -> CatalogEntry {
        CatalogEntry {
            service_type: service_type.into(),
            name: name.into(),
            description: description.into(),
            public_url: url(&cfg.public_host()),
            internal_url: url(&cfg.internal_host()),
            admin_url: url(&cfg.internal_host()),
        }
    }
}

/// A node as the services that feed it see it (the node registry in
/// `crates/nodes` authenticates it).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeInfo {
    pub name: String,
    pub hostname: String,
    pub address: String,
    pub roles: Vec<String>,
}

impl NodeInfo {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// A service's part of every node's desired state (the network service's
/// bridges and routers for this host, the compute service's instances),
/// and where the node's status reports come back to it.
pub trait DesiredStateSource: Send + Sync {
    /// The part's key in the document's `parts`.
    fn name(&self) -> &'static str;
    /// The revision-feed counter the service bumps in every write that
    /// changes this part, for any node.
    fn counter(&self) -> &'static str;
    /// This node's part (`null` when it has none).
    fn part<'a>(
        &'a self,
        node: &'a NodeInfo,
    ) -> BoxFuture<'a, Result<serde_json::Value, crate::Error>>;
    /// A status report of `node` (one document per role it holds), after
    /// the registry stored it: the service updates what it shows (a port
    /// ACTIVE once its host has built it). The default ignores reports.
    fn report<'a>(
        &'a self,
        node: &'a NodeInfo,
        roles: &'a serde_json::Map<String, serde_json::Value>,
    ) -> BoxFuture<'a, Result<(), crate::Error>> {
        let _ = (node, roles);
        Box::pin(async { Ok(()) })
    }
}

/// A registered node as services that show nodes see it (Neutron's agents,
/// Nova's `os-services`): read-only, so no service reads the registry's
/// table itself.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectoryEntry {
    pub node: NodeInfo,
    /// When the node first registered (micros).
    pub registered_at: i64,
    /// Its last heartbeat (micros).
    pub heartbeat_at: i64,
    /// Heard from within the registry's liveness window.
    pub up: bool,
}

/// The node registry, read-only (implemented by `crates/nodes`).
pub trait NodeDirectory: Send + Sync {
    /// Every registered node, by name.
    fn nodes(&self) -> BoxFuture<'_, Result<Vec<DirectoryEntry>, crate::Error>>;
}

/// What every service is built from.
#[derive(Clone)]
pub struct ServiceContext {
    pub config: Arc<Config>,
    pub db: db::Db,
    pub clock: SharedClock,
    /// Checks tokens (the identity service).
    pub validator: Arc<dyn TokenValidator>,
    /// The port the service's public listener is bound to (the configured
    /// one, or the one the system chose for port 0).
    pub port: u16,
    /// The node registry, read-only.
    pub nodes: Arc<dyn NodeDirectory>,
    /// The services built before this one, in build order (compute finds
    /// the network and image services here and downcasts them with
    /// [`Service::as_any`]).
    pub peers: Vec<Arc<dyn Service>>,
}

impl std::fmt::Debug for ServiceContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceContext")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// How the composition root finds, enables and builds a service.
#[derive(Clone, Copy)]
pub struct ServiceDef {
    /// The service type (`image`): the name in the ready line and `apis`.
    pub service_type: &'static str,
    /// Its section of the configuration file (`[image]`), which its
    /// crate defines; the composition root checks it before anything is
    /// written.
    pub config: SectionDef,
    /// The configured port of its public API (from its section).
    pub port: fn(&Config) -> Result<u16, ConfigError>,
    /// Whether this cloud runs it (`enable_swift`).
    pub enabled: fn(&Config) -> bool,
    /// Builds it (and recovers anything a previous process left half done).
    pub build: fn(ServiceContext) -> Building,
}

impl std::fmt::Debug for ServiceDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceDef")
            .field("service_type", &self.service_type)
            .finish_non_exhaustive()
    }
}

/// A built service, as the composition root drives it.
pub trait Service: Send + Sync + 'static {
    /// The service type (`identity`, `image`, `object-store`).
    fn service_type(&self) -> &'static str;

    /// Its entry in the catalog.
    fn catalog_entry(&self) -> CatalogEntry;

    /// Its public API with the shared layers applied.
    fn router(self: Arc<Self>) -> axum::Router;

    /// Its part of the internal API the node agents use, if any, served
    /// under `/internal/v1/nodes/{name}/<service type>/` behind the node's
    /// own credentials: handlers find the caller as an
    /// `axum::Extension<NodeInfo>`.
    fn internal_router(self: Arc<Self>) -> Option<axum::Router> {
        None
    }

    /// Its part of every node's desired state, if any.
    fn desired_state(self: Arc<Self>) -> Option<Arc<dyn DesiredStateSource>> {
        None
    }

    /// How it spells errors (also for the requests hyper refuses on its
    /// listener).
    fn renderer(&self) -> Renderer;

    /// Global roles it needs created at bootstrap (Swift's reseller admin).
    fn extra_roles(&self) -> Vec<String> {
        Vec::new()
    }

    /// Work it runs beside its API until `stop` resolves (expiry, lease
    /// sweeps).
    fn background(self: Arc<Self>, stop: Stop) -> Option<BoxFuture<'static, std::io::Result<()>>> {
        drop(stop);
        None
    }

    /// Called once its servers and background work have stopped.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    /// Its policy rules, re-read on SIGHUP.
    fn policy(&self) -> Option<&Policy> {
        None
    }

    /// The concrete service, for callers that know its type (tests,
    /// `oxistack admin`): `Arc::downcast` it.
    fn as_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync>;
}

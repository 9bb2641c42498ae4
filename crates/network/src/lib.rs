//! Networking v2.0 (Neutron) for oxistack: the control plane only. It
//! records desired state (networks, subnets, ports and their addresses)
//! and never touches the host; the data plane reads that state from the
//! store.
//!
//! `api/` holds the HTTP handlers, one file per URL family; `app/` the
//! rules (visibility, policy, validation, segment allocation); `db/` the
//! queries; `policies` Neutron's default policy rules; `cidr` the address
//! arithmetic.
//!
//! Every write bumps the revision counter [`REVISION`] in its own
//! transaction, so a reader of the store (the node agents' desired-state
//! feed) can tell that something changed.

pub mod api;
pub mod app;
pub mod cidr;
pub mod config;
pub mod db;
pub mod policies;

pub use app::{Network, Settings};

use common::config::Config;
use common::service::{
    BoxFuture, CatalogEntry, DesiredStateSource, NodeInfo, Service, ServiceContext, ServiceDef,
};
use std::sync::Arc;

/// The revision-feed counter every network write bumps.
pub const REVISION: &str = "network";

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Policy(#[from] common::policy::PolicyError),
    #[error(transparent)]
    Config(#[from] common::config::ConfigError),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Builds the network service over `db` from the configuration.
pub fn build(
    cfg: &Config,
    db: ::db::Db,
    clock: common::clock::SharedClock,
    nodes: Arc<dyn common::service::NodeDirectory>,
) -> Result<Arc<Network>, SetupError> {
    let c: config::NetworkConfig = cfg.section()?;
    let policy_file = (!c.policy_file.is_empty()).then(|| std::path::PathBuf::from(&c.policy_file));
    let policy = common::policy::Policy::new(&policies::defaults(), policy_file.as_deref())?;
    let settings = Settings::from_config(&c, cfg).map_err(SetupError::Invalid)?;
    Ok(Arc::new(Network {
        db,
        policy,
        clock,
        settings,
        nodes,
        ipam_hints: Default::default(),
    }))
}

/// How the composition root finds and builds the network service.
pub const SERVICE: ServiceDef = ServiceDef {
    service_type: "network",
    config: common::config::SectionDef::of::<config::NetworkConfig>(),
    port: |cfg| Ok(cfg.section::<config::NetworkConfig>()?.port),
    enabled: |_| true,
    build: |ctx| {
        Box::pin(async move {
            let neutron = build(
                &ctx.config,
                ctx.db.clone(),
                ctx.clock.clone(),
                ctx.nodes.clone(),
            )?;
            let served: Arc<dyn Service> = Arc::new(Served { neutron, ctx });
            Ok(served)
        })
    },
};

/// The network service as the composition root drives it.
struct Served {
    neutron: Arc<Network>,
    ctx: ServiceContext,
}

impl Service for Served {
    fn service_type(&self) -> &'static str {
        SERVICE.service_type
    }

    /// Neutron registers its endpoint without a version suffix.
    fn catalog_entry(&self) -> CatalogEntry {
        let port = self.ctx.port;
        CatalogEntry::on_hosts(
            &self.ctx.config,
            "network",
            "neutron",
            "OpenStack Networking",
            |host| format!("http://{host}:{port}"),
        )
    }

    fn router(self: Arc<Self>) -> axum::Router {
        api::router(
            self.neutron.clone(),
            self.ctx.validator.clone(),
            self.ctx.config.max_request_body_size,
        )
    }

    fn desired_state(self: Arc<Self>) -> Option<Arc<dyn DesiredStateSource>> {
        Some(Arc::new(Feed(self.neutron.clone())))
    }

    fn renderer(&self) -> common::http::Renderer {
        Arc::new(api::errors::Neutron)
    }

    fn policy(&self) -> Option<&common::policy::Policy> {
        Some(&self.neutron.policy)
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
        self.neutron.clone()
    }
}

/// The network part of every node's desired state (`app::feed`), and the
/// port statuses the nodes report. A node's first fetch also makes its
/// agents (`app::agents`), as an upstream agent's first `report_state`.
struct Feed(Arc<Network>);

impl DesiredStateSource for Feed {
    fn name(&self) -> &'static str {
        "network"
    }

    fn counter(&self) -> &'static str {
        REVISION
    }

    fn part<'a>(
        &'a self,
        node: &'a NodeInfo,
    ) -> BoxFuture<'a, Result<serde_json::Value, common::Error>> {
        Box::pin(async move {
            self.0.ensure_agents(node).await?;
            let feed = self.0.node_feed(node).await?;
            serde_json::to_value(feed).map_err(|e| common::Error::internal(e.to_string()))
        })
    }

    fn report<'a>(
        &'a self,
        node: &'a NodeInfo,
        roles: &'a serde_json::Map<String, serde_json::Value>,
    ) -> BoxFuture<'a, Result<(), common::Error>> {
        Box::pin(async move { self.0.apply_report(node, roles).await })
    }
}

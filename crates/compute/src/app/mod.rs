//! Compute rules: who may do what (policy), what each request must
//! satisfy, and one module per resource. Handlers in `api` call these;
//! these call `db`, and reach the network and image services through
//! their own Rust APIs (never over HTTP).

pub mod aggregates;
pub mod consoles;
pub mod flavors;
pub mod floating_ips;
pub mod hypervisors;
pub mod images;
pub mod interfaces;
pub mod keypairs;
pub mod metadata;
pub mod migrations;
pub mod networks;
pub mod passwords;
pub mod proxies;
pub mod quotas;
pub mod scheduler;
pub mod server_actions;
pub mod server_admin;
pub mod server_groups;
pub mod server_lifecycle;
pub mod server_lifecycle_image;
pub mod server_lifecycle_shelve;
pub mod server_metadata;
pub mod server_tags;
pub mod servers;
pub mod servers_build;
pub mod servers_view;
pub mod services;
pub mod usage;

use crate::config::ComputeConfig;
use common::clock::SharedClock;
use common::context::AuthContext;
use common::policy::Policy;
use common::service::NodeDirectory;
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;

/// The compute service's state.
pub struct Compute {
    pub db: ::db::Db,
    pub policy: Policy,
    pub clock: SharedClock,
    /// `[compute]` as configured.
    pub settings: ComputeConfig,
    /// The node registry: compute hosts are its nodes with the `compute`
    /// role.
    pub nodes: Arc<dyn NodeDirectory>,
    /// The network service (ports for servers, `os-security-groups`).
    pub network: Arc<network::Network>,
    /// The image service (boot images, snapshots, the images proxy).
    pub image: Arc<image::Image>,
    /// The controller's own host (the compute host when none registered).
    pub local: hypervisors::LocalHost,
    /// The identity service (projects named in quota requests).
    pub identity: Arc<identity::Identity>,
    /// The hypervisor driver (`compute_driver`).
    pub virt: Arc<dyn virt::VirtDriver>,
    /// The metadata proxy's shared secret
    /// (`nodes::secret::metadata_secret` of the cluster's join secret).
    pub metadata_secret: String,
    /// Where the metadata API listens (`[compute] metadata_port`).
    pub metadata_addr: Option<std::net::SocketAddr>,
    /// The configuration's public host (`Config::public_host`): console
    /// URLs name the noVNC proxy there.
    pub public_host: String,
    /// The noVNC proxy's bound port, once it listens.
    pub console_proxy_port: std::sync::OnceLock<u16>,
    /// The image service's catalog URL (internal, as Nova's glance
    /// client picks it): the images proxy's `alternate` links name it.
    pub glance_url: String,
}

impl std::fmt::Debug for Compute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compute").finish_non_exhaustive()
    }
}

/// Nova's `PolicyNotAuthorized` (403).
pub fn policy_refused(action: &str) -> Error {
    Error::forbidden(format!("Policy doesn't allow {action} to be performed."))
}

impl Compute {
    /// The metadata API's bound address (the system's choice for port 0).
    pub fn metadata_addr(&self) -> Option<std::net::SocketAddr> {
        self.metadata_addr
    }

    pub fn now(&self) -> i64 {
        self.clock.now_micros()
    }

    /// Begins a write transaction.
    pub async fn begin(&self) -> Result<::db::WriteTx> {
        Ok(self.db.begin_write().await?)
    }

    /// Nova's `context.is_admin`: the `context_is_admin` rule.
    pub fn is_admin(&self, ctx: &AuthContext) -> bool {
        self.check(ctx, "context_is_admin", &json!({}))
    }

    pub fn check(&self, ctx: &AuthContext, action: &str, target: &Value) -> bool {
        self.policy.check(action, &ctx.policy_credentials(), target)
    }

    /// `action` on `target`, or a 403.
    pub fn enforce(&self, ctx: &AuthContext, action: &str, target: &Value) -> Result<()> {
        if self.check(ctx, action, target) {
            Ok(())
        } else {
            Err(policy_refused(action))
        }
    }

    /// The caller's project, which every compute request is scoped to.
    pub fn project_of<'a>(&self, ctx: &'a AuthContext) -> Result<&'a str> {
        ctx.project_id()
            .ok_or_else(|| Error::forbidden("A project-scoped token is required."))
    }
}

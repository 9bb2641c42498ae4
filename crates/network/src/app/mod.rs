//! Network rules: who may see and change which resource (visibility,
//! then policy), what each request must satisfy (Neutron's attribute
//! maps: `attrs`), lists (`list`), and one module per resource.
//! Handlers in `api` call these; these call `db`.

pub mod agents;
pub mod attrs;
pub mod feed;
pub mod floatingips;
pub mod list;
pub mod networks;
pub mod port_forwardings;
pub mod ports;
pub mod quotas;
pub mod routers;
pub mod security_groups;
pub mod subnetpools;
pub mod subnets;
pub mod tags;

use crate::config::NetworkConfig;
use common::clock::SharedClock;
use common::context::AuthContext;
use common::policy::Policy;
use common::{Error, Result};
use serde_json::{json, Value};

/// Settings from `[network]` and the shared keys.
#[derive(Debug, Clone)]
pub struct Settings {
    pub vni_ranges: Vec<(i64, i64)>,
    pub mac_prefix: [u8; 3],
    /// Physical network names flat and VLAN networks may use.
    pub physical_networks: Vec<String>,
    pub global_physnet_mtu: i64,
    pub quotas: Quotas,
    /// `None`: no server-side page limit.
    pub pagination_max_limit: Option<usize>,
    /// The shared `dataplane = none`: no agent will report ports up, so
    /// a bound port is ACTIVE at once.
    pub dataplane_none: bool,
}

/// Default quotas per resource; -1 is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    pub network: i64,
    pub subnet: i64,
    pub port: i64,
    pub router: i64,
    pub floatingip: i64,
    pub security_group: i64,
    pub security_group_rule: i64,
    pub subnetpool: i64,
}

impl Settings {
    pub fn from_config(c: &NetworkConfig, shared: &common::config::Config) -> Result<Self, String> {
        Ok(Settings {
            vni_ranges: c.vni_ranges()?,
            mac_prefix: c.mac_prefix()?,
            physical_networks: c.physical_interface_mappings.keys().cloned().collect(),
            global_physnet_mtu: c.global_physnet_mtu,
            quotas: Quotas {
                network: c.quota_network,
                subnet: c.quota_subnet,
                port: c.quota_port,
                router: c.quota_router,
                floatingip: c.quota_floatingip,
                security_group: c.quota_security_group,
                security_group_rule: c.quota_security_group_rule,
                subnetpool: c.quota_subnetpool,
            },
            pagination_max_limit: usize::try_from(c.pagination_max_limit).ok(),
            dataplane_none: shared.dataplane == "none",
        })
    }
}

impl Default for Settings {
    fn default() -> Self {
        let c = NetworkConfig::default();
        // The defaults are valid (the config tests check them).
        Settings::from_config(&c, &common::config::Config::default()).unwrap_or(Settings {
            vni_ranges: vec![(1, 1000)],
            mac_prefix: [0xfa, 0x16, 0x3e],
            physical_networks: vec!["physnet1".into()],
            global_physnet_mtu: 1500,
            quotas: Quotas {
                network: 100,
                subnet: 100,
                port: 500,
                router: 10,
                floatingip: 50,
                security_group: 10,
                security_group_rule: 100,
                subnetpool: -1,
            },
            pagination_max_limit: None,
            dataplane_none: false,
        })
    }
}

/// The network service's state.
pub struct Network {
    pub db: db::Db,
    pub policy: Policy,
    pub clock: SharedClock,
    pub settings: Settings,
    /// The node registry, read-only: agents and the feed's placement.
    pub nodes: std::sync::Arc<dyn common::service::NodeDirectory>,
    /// IPAM's cursor per subnet: where this process next looks for a free
    /// address, and the release count (`db::ports::RELEASES`) it was set
    /// at (see `ports::any_address`). Only a hint: every address is still
    /// checked in the locked write transaction.
    pub ipam_hints: std::sync::Mutex<std::collections::HashMap<String, (u128, u64)>>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Neutron")
            .field("settings", &self.settings)
            .finish()
    }
}

/// oslo.policy's refusal as Neutron reports it.
pub fn policy_refused(action: &str) -> Error {
    Error::forbidden(format!("{action} is disallowed by policy")).with_fault("PolicyNotAuthorized")
}

/// neutron-lib's `InvalidInput` (400).
pub fn invalid_input(msg: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("Invalid input for operation: {msg}.")).with_fault("InvalidInput")
}

impl Network {
    pub fn now(&self) -> i64 {
        self.clock.now_micros()
    }

    /// Begins a write transaction.
    pub async fn begin(&self) -> Result<db::WriteTx> {
        Ok(self.db.begin_write().await?)
    }

    /// Neutron's `context.is_admin`: the `context_is_admin` rule.
    pub fn is_admin(&self, ctx: &AuthContext) -> bool {
        self.policy
            .check("context_is_admin", &ctx.policy_credentials(), &json!({}))
    }

    pub fn check(&self, ctx: &AuthContext, action: &str, target: &Value) -> bool {
        self.policy.check(action, &ctx.policy_credentials(), target)
    }

    /// `action` on `target` or a 403 `PolicyNotAuthorized`.
    pub fn enforce(&self, ctx: &AuthContext, action: &str, target: &Value) -> Result<()> {
        if self.check(ctx, action, target) {
            Ok(())
        } else {
            Err(policy_refused(action))
        }
    }

    /// The project a request acts for: the token's, or (admin only) the
    /// body's `project_id`/`tenant_id`.
    pub fn owner(&self, ctx: &AuthContext, requested: Option<String>) -> Result<String> {
        let own = ctx.project_id().map(str::to_string);
        match (requested, own) {
            (Some(p), Some(own)) if p == own => Ok(p),
            (Some(p), _) if self.is_admin(ctx) => Ok(p),
            (Some(_), _) => Err(Error::bad_request(
                "Specifying 'project_id' other than the authenticated project in request is \
                 not allowed for the current user.",
            )),
            (None, Some(own)) => Ok(own),
            (None, None) => Err(Error::bad_request(
                "Running without keystone AuthN requires that project_id is specified",
            )),
        }
    }
}

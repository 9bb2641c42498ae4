//! Nova's `os-networks` and `os-tenant-networks` after nova-network's
//! removal (nova/api/openstack/compute/networks.py, tenant_networks.py):
//! list and show proxied from the network service with the caller's
//! context, in the nova-network shapes Nova keeps for them — `id` and
//! `label` filled in, every other field null (`cidr` the string "None"
//! for tenant networks, as Nova has always answered with Neutron).

use super::Compute;
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, ErrorKind, Result};
use network::app::networks::NetworkView;
use serde_json::{json, Map, Value};

pub mod policy {
    pub const LIST: &str = "os_compute_api:os-networks:list";
    pub const SHOW: &str = "os_compute_api:os-networks:show";
    pub const TENANT_LIST: &str = "os_compute_api:os-tenant-networks:list";
    pub const TENANT_SHOW: &str = "os_compute_api:os-tenant-networks:show";
}

/// The fields every caller sees, then the ones only an admin does
/// (Nova's `network_dict`).
const FIELDS: &[&str] = &[
    "id",
    "cidr",
    "netmask",
    "gateway",
    "broadcast",
    "dns1",
    "dns2",
    "cidr_v6",
    "gateway_v6",
    "label",
    "netmask_v6",
];
const ADMIN_FIELDS: &[&str] = &[
    "created_at",
    "updated_at",
    "deleted_at",
    "deleted",
    "injected",
    "bridge",
    "vlan",
    "vpn_public_address",
    "vpn_public_port",
    "vpn_private_address",
    "dhcp_start",
    "project_id",
    "host",
    "bridge_interface",
    "multi_host",
    "priority",
    "rxtx_base",
    "mtu",
    "dhcp_server",
    "enable_dhcp",
    "share_address",
];

/// `os-networks`' view of a network.
pub fn network_dict(n: &NetworkView, admin: bool) -> Value {
    let mut out = Map::new();
    let extra: &[&str] = if admin { ADMIN_FIELDS } else { &[] };
    for f in FIELDS.iter().chain(extra) {
        let v = match *f {
            "id" => json!(n.row.id),
            "label" => json!(n.row.name),
            _ => Value::Null,
        };
        out.insert(f.to_string(), v);
    }
    Value::Object(out)
}

/// `os-tenant-networks`' view of a network.
pub fn tenant_network_dict(n: &NetworkView) -> Value {
    json!({"id": n.row.id, "cidr": "None", "label": n.row.name})
}

fn network_not_found(e: Error) -> Error {
    match e.kind() {
        ErrorKind::NotFound => Error::not_found("Network not found"),
        _ => super::proxies::nova_error(e),
    }
}

/// Nova's answer to the nova-network calls removed in 21.0.0.
pub fn gone() -> Error {
    Error::new(
        ErrorKind::Gone,
        "This resource is no longer available.  No forwarding address is given.",
    )
}

impl Compute {
    async fn visible_networks(&self, ctx: &AuthContext, rule: &str) -> Result<Vec<NetworkView>> {
        let project = self.project_of(ctx)?.to_string();
        self.enforce(ctx, rule, &json!({"project_id": project}))?;
        let (nets, _) = self
            .network
            .list_networks(ctx, &QueryMap(vec![]))
            .await
            .map_err(super::proxies::nova_error)?;
        Ok(nets)
    }

    async fn visible_network(
        &self,
        ctx: &AuthContext,
        rule: &str,
        id: &str,
    ) -> Result<NetworkView> {
        let project = self.project_of(ctx)?.to_string();
        self.enforce(ctx, rule, &json!({"project_id": project}))?;
        self.network
            .show_network(ctx, id)
            .await
            .map_err(network_not_found)
    }

    /// `GET /os-networks`.
    pub async fn proxy_list_networks(&self, ctx: &AuthContext) -> Result<Vec<Value>> {
        let admin = self.is_admin(ctx);
        let nets = self.visible_networks(ctx, policy::LIST).await?;
        Ok(nets.iter().map(|n| network_dict(n, admin)).collect())
    }

    /// `GET /os-networks/{id}`.
    pub async fn proxy_show_network(&self, ctx: &AuthContext, id: &str) -> Result<Value> {
        let n = self.visible_network(ctx, policy::SHOW, id).await?;
        Ok(network_dict(&n, self.is_admin(ctx)))
    }

    /// `GET /os-tenant-networks`.
    pub async fn proxy_list_tenant_networks(&self, ctx: &AuthContext) -> Result<Vec<Value>> {
        let nets = self.visible_networks(ctx, policy::TENANT_LIST).await?;
        Ok(nets.iter().map(tenant_network_dict).collect())
    }

    /// `GET /os-tenant-networks/{id}`.
    pub async fn proxy_show_tenant_network(&self, ctx: &AuthContext, id: &str) -> Result<Value> {
        let n = self.visible_network(ctx, policy::TENANT_SHOW, id).await?;
        Ok(tenant_network_dict(&n))
    }
}

//! The floating-IP proxy of microversions ≤ 2.35 (`os-floating-ips`,
//! `os-floating-ip-pools`) and the `addFloatingIp`/`removeFloatingIp`
//! actions (≤ 2.43), backed by the network service as Nova's
//! `neutron.API` is. Floating IPs are the caller's own, as Neutron
//! scopes them.

use super::Compute;
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, ErrorKind, Result};
use network::app::floatingips::FloatingIpView;
use serde_json::{json, Map, Value};

fn fip_not_found(id: &str) -> Error {
    Error::not_found(format!("Floating IP not found for ID {id}"))
}

/// Nova's `_translate_floating_ip_view`.
pub struct FloatingIp {
    pub id: String,
    pub ip: String,
    pub fixed_ip: Option<String>,
    pub instance_id: Option<String>,
    pub pool: String,
}

impl FloatingIp {
    pub fn view(&self) -> Value {
        json!({
            "id": self.id,
            "ip": self.ip,
            "fixed_ip": self.fixed_ip,
            "instance_id": self.instance_id,
            "pool": self.pool,
        })
    }
}

impl Compute {
    fn fip_policy(&self, ctx: &AuthContext, action: &str, project: &str) -> Result<()> {
        self.enforce(
            ctx,
            &format!("os_compute_api:os-floating-ips:{action}"),
            &json!({"project_id": project}),
        )
    }

    async fn fip_view(&self, ctx: &AuthContext, f: FloatingIpView) -> Result<FloatingIp> {
        let pool = match self
            .network
            .visible_network(ctx, &f.row.floating_network_id)
            .await
        {
            Ok(n) if !n.name.is_empty() => n.name,
            _ => f.row.floating_network_id.clone(),
        };
        Ok(FloatingIp {
            id: f.row.id,
            ip: f.row.floating_ip_address,
            fixed_ip: f.row.fixed_ip_address,
            instance_id: f.port.map(|p| p.device_id).filter(|d| !d.is_empty()),
            pool,
        })
    }

    /// The caller's floating IP `id`, or Nova's 404.
    async fn own_fip(&self, ctx: &AuthContext, id: &str) -> Result<FloatingIpView> {
        match self.network.show_floatingip(ctx, id).await {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(fip_not_found(id)),
            Err(e) => Err(e),
        }
    }

    /// The caller's floating IP with `address`.
    async fn fip_by_address(
        &self,
        ctx: &AuthContext,
        address: &str,
    ) -> Result<Option<FloatingIpView>> {
        let q = QueryMap(vec![("floating_ip_address".into(), address.to_string())]);
        let (mut found, _) = self.network.list_floatingips(ctx, &q).await?;
        Ok(found.pop())
    }

    pub async fn list_fips(&self, ctx: &AuthContext) -> Result<Vec<FloatingIp>> {
        let project = self.project_of(ctx)?.to_string();
        self.fip_policy(ctx, "list", &project)?;
        let q = QueryMap(vec![("project_id".into(), project)]);
        let (found, _) = self.network.list_floatingips(ctx, &q).await?;
        let mut out = Vec::with_capacity(found.len());
        for f in found {
            out.push(self.fip_view(ctx, f).await?);
        }
        Ok(out)
    }

    pub async fn show_fip(&self, ctx: &AuthContext, id: &str) -> Result<FloatingIp> {
        let project = self.project_of(ctx)?.to_string();
        self.fip_policy(ctx, "show", &project)?;
        let f = self.own_fip(ctx, id).await?;
        self.fip_view(ctx, f).await
    }

    /// Allocates from `pool` (an external network's name or id; without
    /// one, the only external network there is).
    pub async fn create_fip(&self, ctx: &AuthContext, pool: Option<&str>) -> Result<FloatingIp> {
        let project = self.project_of(ctx)?.to_string();
        self.fip_policy(ctx, "create", &project)?;
        let q = QueryMap(vec![("router:external".into(), "true".into())]);
        let (nets, _) = self.network.list_networks(ctx, &q).await?;
        let chosen: Vec<_> = match pool {
            Some(p) => nets
                .into_iter()
                .filter(|n| n.row.name == p || n.row.id == p)
                .collect(),
            None => nets,
        };
        let [net] = chosen.as_slice() else {
            return Err(Error::not_found("Floating IP pool not found."));
        };
        let mut a = Map::new();
        a.insert("floating_network_id".into(), json!(net.row.id));
        let f = match self.network.create_floatingip(ctx, a).await {
            Ok(f) => f,
            Err(e) if e.message().contains("Quota exceeded") => {
                return Err(Error::forbidden(match pool {
                    Some(p) => format!("IP allocation over quota in pool {p}."),
                    None => "IP allocation over quota.".into(),
                }))
            }
            Err(e) if e.kind() == ErrorKind::Conflict => {
                return Err(Error::not_found(match pool {
                    Some(p) => format!("No more floating IPs in pool {p}."),
                    None => "No more floating IPs available.".into(),
                }))
            }
            Err(e) => return Err(e),
        };
        self.fip_view(ctx, f).await
    }

    /// Disassociates and releases floating IP `id`.
    pub async fn delete_fip(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let project = self.project_of(ctx)?.to_string();
        self.fip_policy(ctx, "delete", &project)?;
        let f = self.own_fip(ctx, id).await?;
        match self.network.delete_floatingip(ctx, &f.row.id).await {
            Err(e) if e.kind() == ErrorKind::NotFound => Err(fip_not_found(id)),
            other => other,
        }
    }

    /// `addFloatingIp`: `address` to the server's port holding
    /// `fixed_address` (else its first IPv4 address).
    pub async fn add_fip(
        &self,
        ctx: &AuthContext,
        server_id: &str,
        address: &str,
        fixed_address: Option<&str>,
    ) -> Result<()> {
        let row = self
            .visible_server(ctx, server_id, "os_compute_api:os-floating-ips:add")
            .await?;
        if row.network_info.is_empty() {
            return Err(Error::bad_request("Instance network is not ready yet"));
        }
        let fixed: Vec<(String, String)> = row
            .network_info
            .iter()
            .flat_map(|n| {
                let port = n["port_id"].as_str().unwrap_or("").to_string();
                n["ips"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(move |ip| {
                        ip["addr"].as_str().map(|a| (port.clone(), a.to_string()))
                    })
            })
            .collect();
        if fixed.is_empty() {
            return Err(Error::bad_request("No fixed IPs associated to instance"));
        }
        let (port, ip) = match fixed_address {
            Some(want) => fixed
                .iter()
                .find(|(_, a)| a == want)
                .cloned()
                .ok_or_else(|| {
                    Error::bad_request("Specified fixed address not assigned to instance")
                })?,
            None => fixed
                .iter()
                .find(|(_, a)| a.parse::<std::net::Ipv4Addr>().is_ok())
                .cloned()
                .ok_or_else(|| {
                    Error::bad_request(format!(
                        "Unable to associate floating IP {address} to any fixed IPs for instance \
                         {server_id}. Instance has no fixed IPv4 addresses to associate."
                    ))
                })?,
        };
        let f = self
            .fip_by_address(ctx, address)
            .await?
            .ok_or_else(|| Error::not_found("floating IP not found"))?;
        // An associated address moves to this server: Nova's Neutron API
        // updates the floating IP's port whatever it was.
        let mut a = Map::new();
        a.insert("port_id".into(), json!(port));
        a.insert("fixed_ip_address".into(), json!(ip));
        match self.network.update_floatingip(ctx, &f.row.id, a).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::Forbidden => Err(e),
            Err(e) => Err(Error::bad_request(format!(
                "Unable to associate floating IP {address} to fixed IP {ip} for instance \
                 {server_id}. Error: {}",
                e.message()
            ))),
        }
    }

    /// `removeFloatingIp`: 409 unless `address` is associated with the
    /// server.
    pub async fn remove_fip(
        &self,
        ctx: &AuthContext,
        server_id: &str,
        address: &str,
    ) -> Result<()> {
        let f = self.fip_by_address(ctx, address).await?.ok_or_else(|| {
            Error::not_found(format!("Floating IP {address} could not be found."))
        })?;
        let on_server = f.port.as_ref().is_some_and(|p| p.device_id == server_id);
        if on_server {
            self.visible_server(ctx, server_id, "os_compute_api:os-floating-ips:remove")
                .await?;
            let mut a = Map::new();
            a.insert("port_id".into(), Value::Null);
            self.network.update_floatingip(ctx, &f.row.id, a).await?;
            return Ok(());
        }
        Err(Error::conflict(format!(
            "Floating IP {address} is not associated with instance {server_id}."
        )))
    }

    /// `GET /os-floating-ip-pools`: the external networks' names.
    pub async fn fip_pools(&self, ctx: &AuthContext) -> Result<Vec<String>> {
        let project = self.project_of(ctx)?.to_string();
        self.enforce(
            ctx,
            "os_compute_api:os-floating-ip-pools",
            &json!({"project_id": project}),
        )?;
        let q = QueryMap(vec![("router:external".into(), "true".into())]);
        let (nets, _) = self.network.list_networks(ctx, &q).await?;
        Ok(nets
            .into_iter()
            .map(|n| {
                if n.row.name.is_empty() {
                    n.row.id
                } else {
                    n.row.name
                }
            })
            .collect())
    }
}

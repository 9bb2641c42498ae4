//! `os-interface`: a server's ports (list, show), hot-plugging a new or
//! given port (attach) and unplugging one (detach), as Nova's
//! attach_interfaces API and `compute.api.attach_interface` do: the port
//! is made or bound through the network service as the build makes
//! them, plugged through `VirtDriver::attach_interface`, recorded in the
//! server's `network_info` (so its addresses show it) and as the
//! `attach_interface`/`detach_interface` instance actions.

use super::servers::service_context;
use super::Compute;
use crate::api::Microversion;
use crate::db::servers::{self as rows, InstanceRow};
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use serde_json::{json, Map, Value};
use virt::Vif;

pub mod policy {
    pub const LIST: &str = "os_compute_api:os-attach-interfaces:list";
    pub const SHOW: &str = "os_compute_api:os-attach-interfaces:show";
    pub const CREATE: &str = "os_compute_api:os-attach-interfaces:create";
    pub const DELETE: &str = "os_compute_api:os-attach-interfaces:delete";
}

/// What an attach asked for (Nova's `create`/`create_v249` schemas).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttachRequest {
    pub net_id: Option<String>,
    pub port_id: Option<String>,
    pub fixed_ip: Option<String>,
    pub tag: Option<String>,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::bad_request(msg)
}

/// A network service error as Nova answers it: same status and
/// message, in Nova's body (no Neutron fault type).
fn nova_error(e: Error) -> Error {
    match e.fault() {
        Some(_) => Error::new(e.kind(), e.message().to_string()),
        None => e,
    }
}

fn uuid_like(s: &str) -> bool {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
}

/// Checks an attach body; an empty body asks for any network.
pub fn parse_attach(body: Option<&Value>, mv: Microversion) -> Result<AttachRequest> {
    let Some(body) = body.filter(|b| !b.is_null()) else {
        return Ok(AttachRequest::default());
    };
    let obj = body
        .as_object()
        .ok_or_else(|| bad("Invalid input for field/attribute body."))?;
    if let Some(k) = obj.keys().find(|k| *k != "interfaceAttachment") {
        return Err(bad(format!(
            "Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let Some(att) = obj.get("interfaceAttachment") else {
        return Ok(AttachRequest::default());
    };
    let att = att.as_object().ok_or_else(|| {
        bad(format!(
            "Invalid input for field/attribute interfaceAttachment. Value: {att}. {att} is not \
             of type 'object'"
        ))
    })?;
    let mut allowed = vec!["net_id", "port_id", "fixed_ips"];
    if mv.at_least(49) {
        allowed.push("tag");
    }
    if let Some(k) = att.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(bad(format!(
            "Invalid input for field/attribute interfaceAttachment. Additional properties are \
             not allowed ('{k}' was unexpected)"
        )));
    }
    let id_field = |k: &str| -> Result<Option<String>> {
        match att.get(k) {
            None => Ok(None),
            Some(Value::String(s)) if uuid_like(s) => Ok(Some(s.clone())),
            Some(v) => Err(bad(format!(
                "Invalid input for field/attribute {k}. Value: {v}. {v} is not a 'uuid'"
            ))),
        }
    };
    let net_id = id_field("net_id")?;
    let port_id = id_field("port_id")?;
    let fixed_ip = match att.get("fixed_ips") {
        None => None,
        Some(Value::Array(items)) if items.len() <= 1 => match items.first() {
            None => None,
            Some(item) => {
                let ip = item
                    .as_object()
                    .filter(|o| o.keys().all(|k| k == "ip_address"))
                    .and_then(|o| o.get("ip_address"))
                    .and_then(Value::as_str)
                    .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok())
                    .ok_or_else(|| {
                        bad(format!(
                            "Invalid input for field/attribute fixed_ips. Value: {item}."
                        ))
                    })?;
                Some(ip.to_string())
            }
        },
        Some(v) => {
            return Err(bad(format!(
                "Invalid input for field/attribute fixed_ips. Value: {v}."
            )))
        }
    };
    let tag = match att.get("tag") {
        None => None,
        Some(Value::String(t)) if !t.is_empty() && t.len() <= 60 && !t.contains(['/', ',']) => {
            Some(t.clone())
        }
        Some(v) => {
            return Err(bad(format!(
                "Invalid input for field/attribute tag. Value: {v}."
            )))
        }
    };
    if net_id.is_some() && port_id.is_some() {
        return Err(bad("Must not input both network_id and port_id"));
    }
    if fixed_ip.is_some() && net_id.is_none() {
        return Err(bad("Must input network_id when request IP address"));
    }
    Ok(AttachRequest {
        net_id,
        port_id,
        fixed_ip,
        tag,
    })
}

/// Nova's `InstanceInvalidState` for an interface action: the server
/// must be ACTIVE, PAUSED or SHUTOFF with no task.
fn check_state(action: &str, r: &InstanceRow) -> Result<()> {
    if matches!(r.vm_state.as_str(), "active" | "paused" | "stopped") && r.task_state.is_none() {
        return Ok(());
    }
    let (attr, state) = match &r.task_state {
        Some(t) => ("task_state", t.as_str()),
        None => ("vm_state", r.vm_state.as_str()),
    };
    Err(Error::conflict(format!(
        "Cannot '{action}' instance {} while it is in {attr} {state}",
        r.id
    )))
}

/// The `interfaceAttachment` body of a port (tempest's `interfaces`
/// schema; `tag` from 2.70).
fn attachment(port: &network::app::ports::PortView, tag: Option<Value>, mv: Microversion) -> Value {
    let mut v = json!({
        "net_id": port.row.network_id,
        "port_id": port.row.id,
        "mac_addr": port.row.mac_address,
        "port_state": port.row.status,
        "fixed_ips": port.fixed_ips.iter()
            .map(|ip| json!({"subnet_id": ip.subnet_id, "ip_address": ip.ip_address}))
            .collect::<Vec<_>>(),
    });
    if mv.at_least(70) {
        v["tag"] = tag.unwrap_or(Value::Null);
    }
    v
}

fn tag_of(row: &InstanceRow, port_id: &str) -> Option<Value> {
    row.network_info
        .iter()
        .find(|n| n["port_id"] == port_id)
        .and_then(|n| n.get("tag").cloned())
}

impl Compute {
    /// `GET /servers/{id}/os-interface`.
    pub async fn list_interfaces(
        &self,
        ctx: &AuthContext,
        mv: Microversion,
        id: &str,
    ) -> Result<Vec<Value>> {
        let row = self.visible_server(ctx, id, policy::LIST).await?;
        let svc = service_context(&row.project_id, &row.user_id);
        let q = QueryMap(vec![("device_id".into(), row.id.clone())]);
        let (ports, _) = self
            .network
            .list_ports(&svc, &q)
            .await
            .map_err(nova_error)?;
        Ok(ports
            .iter()
            .map(|p| attachment(p, tag_of(&row, &p.row.id), mv))
            .collect())
    }

    /// `GET /servers/{id}/os-interface/{port_id}`.
    pub async fn show_interface(
        &self,
        ctx: &AuthContext,
        mv: Microversion,
        id: &str,
        port_id: &str,
    ) -> Result<Value> {
        let row = self.visible_server(ctx, id, policy::SHOW).await?;
        self.interface_view(&row, mv, port_id).await
    }

    async fn interface_view(
        &self,
        row: &InstanceRow,
        mv: Microversion,
        port_id: &str,
    ) -> Result<Value> {
        let svc = service_context(&row.project_id, &row.user_id);
        let port = self
            .network
            .show_port(&svc, port_id)
            .await
            .map_err(nova_error)?;
        if port.row.device_id != row.id {
            return Err(Error::not_found(format!(
                "Instance {} does not have a port with id {port_id}",
                row.id
            )));
        }
        Ok(attachment(&port, tag_of(row, port_id), mv))
    }

    /// `POST /servers/{id}/os-interface`: makes (or binds) the port,
    /// plugs it, records it; the attachment.
    pub async fn attach_interface(
        &self,
        ctx: &AuthContext,
        mv: Microversion,
        id: &str,
        req: AttachRequest,
        request_id: &str,
    ) -> Result<Value> {
        let row = self.visible_server(ctx, id, policy::CREATE).await?;
        self.check_unlocked(ctx, &row)?;
        check_state("attach_interface", &row)?;
        let svc = service_context(&row.project_id, &row.user_id);
        let host = row.host.clone().unwrap_or_default();
        let owner = format!(
            "compute:{}",
            row.availability_zone.as_deref().unwrap_or("nova")
        );
        let mut bind = Map::new();
        bind.insert("device_id".into(), json!(row.id));
        bind.insert("device_owner".into(), json!(owner));
        bind.insert("binding:host_id".into(), json!(host));
        let (port, created) = match &req.port_id {
            Some(port_id) => {
                let cur = self
                    .network
                    .show_port(ctx, port_id)
                    .await
                    .map_err(nova_error)?;
                if !cur.row.device_id.is_empty() {
                    return Err(Error::conflict(format!("Port {port_id} is still in use.")));
                }
                (
                    self.network
                        .update_port(&svc, port_id, bind)
                        .await
                        .map_err(nova_error)?,
                    false,
                )
            }
            None => {
                let net_id = match &req.net_id {
                    Some(n) => {
                        self.network.visible_network(ctx, n).await.map_err(|_| {
                            Error::not_found(format!("Network {n} could not be found."))
                        })?;
                        n.clone()
                    }
                    None => self.only_network(ctx, &row.project_id).await?,
                };
                bind.insert("network_id".into(), json!(net_id));
                if let Some(ip) = &req.fixed_ip {
                    bind.insert("fixed_ips".into(), json!([{"ip_address": ip}]));
                }
                let mut made = self
                    .network
                    .create_ports(&svc, vec![bind])
                    .await
                    .map_err(nova_error)?;
                let port = made
                    .pop()
                    .ok_or_else(|| Error::internal("the network service made no port"))?;
                (port, true)
            }
        };
        let action = self
            .start_action(ctx, &row, "attach_interface", request_id)
            .await?;
        let event = self
            .start_event(&action, "compute_attach_interface", row.host.as_deref())
            .await?;
        let vif = Vif {
            port_id: port.row.id.clone(),
            tap_name: format!("tap{}", port.row.id.chars().take(11).collect::<String>()),
            mac: port.row.mac_address.clone(),
            mtu: None,
        };
        if let Err(e) = self.virt.attach_interface(&row.id, &vif).await {
            tracing::warn!(server = %row.id, error = %e, "attaching an interface failed");
            let info = [json!({"port_id": port.row.id, "created": created})];
            self.release_ports_of(&svc, &info).await?;
            let err = Error::internal(format!(
                "Failed to attach network adapter device to {}",
                row.id
            ));
            self.finish_event(&action, &event, Some(&err)).await?;
            return Err(err);
        }
        let net = self
            .network
            .visible_network(&svc, &port.row.network_id)
            .await?;
        let ips: Vec<Value> = port
            .fixed_ips
            .iter()
            .map(|ip| {
                let v6 = ip.ip_address.contains(':');
                json!({"addr": ip.ip_address, "version": if v6 { 6 } else { 4 }})
            })
            .collect();
        let mut entry = json!({
            "port_id": port.row.id,
            "network_id": port.row.network_id,
            "network_name": net.name,
            "mac": port.row.mac_address,
            "ips": ips,
            "created": created,
        });
        if let Some(t) = &req.tag {
            entry["tag"] = json!(t);
        }
        let mut tx = self.begin().await?;
        let cur = rows::get(&mut *tx.conn(), &row.id)
            .await?
            .ok_or_else(|| super::servers::not_found(&row.id))?;
        let mut info = cur.network_info;
        info.push(entry);
        rows::set_network_info(&mut *tx.conn(), &row.id, &info, self.now()).await?;
        tx.commit().await?;
        self.finish_event(&action, &event, None).await?;
        let row = rows::get(&self.db.pool, &row.id)
            .await?
            .ok_or_else(|| super::servers::not_found(&row.id))?;
        self.interface_view(&row, mv, &port.row.id).await
    }

    /// Nova's automatic choice when no network or port is named: the
    /// project's one usable network.
    async fn only_network(&self, ctx: &AuthContext, project: &str) -> Result<String> {
        let (found, _) = self
            .network
            .list_networks(ctx, &QueryMap::parse(""))
            .await
            .map_err(nova_error)?;
        let usable: Vec<_> = found
            .into_iter()
            .filter(|n| !n.row.router_external && (n.row.project_id == project || n.row.shared))
            .collect();
        match usable.as_slice() {
            [] => Err(bad(format!(
                "No specific network was requested and none are available for project \
                 '{project}'."
            ))),
            [one] => Ok(one.row.id.clone()),
            _ => Err(bad(
                "More than one possible network found. Specify network ID(s) to select which \
                 one(s) to connect to.",
            )),
        }
    }

    /// Deletes the ports of `info` the server made, unbinds the others.
    async fn release_ports_of(&self, svc: &AuthContext, info: &[Value]) -> Result<()> {
        for n in info {
            let port_id = n["port_id"].as_str().unwrap_or("");
            let done = if n["created"] == Value::Bool(false) {
                let mut a = Map::new();
                a.insert("device_id".into(), json!(""));
                a.insert("device_owner".into(), json!(""));
                a.insert("binding:host_id".into(), json!(""));
                self.network
                    .update_port(svc, port_id, a)
                    .await
                    .map_err(nova_error)
                    .map(|_| ())
            } else {
                self.network.delete_port(svc, port_id).await
            };
            match done {
                Ok(()) => {}
                Err(e) if e.kind() == common::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// `DELETE /servers/{id}/os-interface/{port_id}`: unplugs the port,
    /// deletes it when the server made it (else unbinds it).
    pub async fn detach_interface(
        &self,
        ctx: &AuthContext,
        id: &str,
        port_id: &str,
        request_id: &str,
    ) -> Result<()> {
        let row = self.visible_server(ctx, id, policy::DELETE).await?;
        self.check_unlocked(ctx, &row)?;
        check_state("detach_interface", &row)?;
        let Some(entry) = row
            .network_info
            .iter()
            .find(|n| n["port_id"] == port_id)
            .cloned()
        else {
            return Err(Error::not_found(format!("Port {port_id} is not attached")));
        };
        let action = self
            .start_action(ctx, &row, "detach_interface", request_id)
            .await?;
        let event = self
            .start_event(&action, "compute_detach_interface", row.host.as_deref())
            .await?;
        let outcome = async {
            self.virt
                .detach_interface(&row.id, port_id)
                .await
                .map_err(|e| Error::internal(e.to_string()))?;
            let svc = service_context(&row.project_id, &row.user_id);
            self.release_ports_of(&svc, std::slice::from_ref(&entry))
                .await
        }
        .await;
        if outcome.is_ok() {
            let mut tx = self.begin().await?;
            if let Some(cur) = rows::get(&mut *tx.conn(), &row.id).await? {
                let info: Vec<Value> = cur
                    .network_info
                    .into_iter()
                    .filter(|n| n["port_id"] != port_id)
                    .collect();
                rows::set_network_info(&mut *tx.conn(), &row.id, &info, self.now()).await?;
            }
            tx.commit().await?;
        }
        self.finish_event(&action, &event, outcome.as_ref().err())
            .await?;
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NET: &str = "3f1c1d2e-4b5a-4c6d-8e7f-9a0b1c2d3e4f";

    #[test]
    fn attach_bodies_are_checked_as_novas() {
        let mv = Microversion::v2(1);
        assert_eq!(parse_attach(None, mv).unwrap(), AttachRequest::default());
        let r = parse_attach(
            Some(&json!({"interfaceAttachment": {"net_id": NET,
                "fixed_ips": [{"ip_address": "10.0.0.5"}]}})),
            mv,
        )
        .unwrap();
        assert_eq!(r.fixed_ip.as_deref(), Some("10.0.0.5"));
        for bad in [
            json!({"interfaceAttachment": {"net_id": NET, "port_id": NET}}),
            json!({"interfaceAttachment": {"fixed_ips": [{"ip_address": "10.0.0.5"}]}}),
            json!({"interfaceAttachment": {"net_id": "x"}}),
            json!({"interfaceAttachment": {"net_id": NET, "fixed_ips": [{"ip_address": "x"}]}}),
            json!({"interfaceAttachment": {"net_id": NET, "tag": "t"}}),
            json!({"other": {}}),
        ] {
            assert!(parse_attach(Some(&bad), mv).is_err(), "{bad}");
        }
        let tagged = json!({"interfaceAttachment": {"net_id": NET, "tag": "t"}});
        let r = parse_attach(Some(&tagged), Microversion::v2(49)).unwrap();
        assert_eq!(r.tag.as_deref(), Some("t"));
    }
}

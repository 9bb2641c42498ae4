//! The administrative side of servers: `os-resetState`,
//! `injectNetworkInfo`, the deferred-delete actions (`forceDelete`,
//! `restore`), diagnostics, external events from other services
//! (`os-server-external-events`) and the instance usage audit log.

use super::Compute;
use crate::db::servers::{self as rows, InstanceRow};
use common::context::AuthContext;
use common::{Error, Result};
use serde_json::{json, Value};
use virt::{Diagnostics, VirtError};

/// The external events Nova accepts, and the microversion each came in.
pub const EXTERNAL_EVENTS: &[(&str, u32)] = &[
    ("network-changed", 0),
    ("network-vif-plugged", 0),
    ("network-vif-unplugged", 0),
    ("network-vif-deleted", 0),
    ("volume-extended", 51),
    ("power-update", 76),
    ("accelerator-request-bound", 82),
    ("volume-reimaged", 93),
];

/// One external event as asked.
#[derive(Debug, Clone)]
pub struct ExternalEvent {
    pub name: String,
    pub server_uuid: String,
    pub status: String,
    pub tag: Option<String>,
}

impl Compute {
    /// A server by id for an admin action: every project's, 404 when gone.
    async fn server_for_admin(
        &self,
        ctx: &AuthContext,
        id: &str,
        policy: &str,
    ) -> Result<InstanceRow> {
        let row = rows::get(&self.db.pool, id)
            .await?
            .filter(|r| r.deleted_at.is_none())
            .ok_or_else(|| super::servers::not_found(id))?;
        self.enforce(ctx, policy, &json!({"project_id": row.project_id}))?;
        Ok(row)
    }

    /// `os-resetState`: the vm_state set to `active` or `error`, the task
    /// cleared, recorded as a `resetState` action.
    pub async fn reset_state(
        &self,
        ctx: &AuthContext,
        id: &str,
        state: &str,
        request_id: &str,
    ) -> Result<()> {
        let row = self
            .server_for_admin(ctx, id, "os_compute_api:os-admin-actions:reset_state")
            .await?;
        let action = self
            .start_action(ctx, &row, "resetState", request_id)
            .await?;
        rows::set_state(&self.db.pool, id, state, None, row.power_state, self.now()).await?;
        rows::finish_action(&self.db.pool, &action.id, None, self.now()).await?;
        Ok(())
    }

    /// `injectNetworkInfo`: the guest's network configuration comes from
    /// DHCP and the metadata service here, so there is nothing to push;
    /// the server must exist and not be locked, as Nova checks.
    pub async fn inject_network_info(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let row = self
            .server_for_admin(
                ctx,
                id,
                "os_compute_api:os-admin-actions:inject_network_info",
            )
            .await?;
        self.check_unlocked(ctx, &row)
    }

    /// `forceDelete`: deletes now (no server is ever kept soft-deleted
    /// here: `reclaim_instance_interval` is 0), refused while a task runs.
    pub async fn force_delete(&self, ctx: &AuthContext, id: &str, request_id: &str) -> Result<()> {
        let row = self
            .visible_server(ctx, id, "os_compute_api:os-deferred-delete:force")
            .await?;
        self.check_unlocked(ctx, &row)?;
        if let Some(task) = &row.task_state {
            return Err(Error::conflict(format!(
                "Cannot 'forceDelete' instance {id} while it is in task_state {task}"
            )));
        }
        self.delete_server(ctx, id, request_id).await
    }

    /// `restore`: only a soft-deleted server can be restored, and none is
    /// kept soft-deleted (`reclaim_instance_interval` is 0), so this is
    /// Nova's 409 for the state the server is in.
    pub async fn restore(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let row = self
            .visible_server(ctx, id, "os_compute_api:os-deferred-delete:restore")
            .await?;
        self.check_unlocked(ctx, &row)?;
        Err(Error::conflict(format!(
            "Cannot 'restore' instance {id} while it is in vm_state {}",
            row.vm_state
        )))
    }

    /// `GET /servers/{id}/diagnostics` (admin), from the driver.
    pub async fn diagnostics(&self, ctx: &AuthContext, id: &str) -> Result<Diagnostics> {
        let row = self
            .server_for_admin(ctx, id, "os_compute_api:os-server-diagnostics")
            .await?;
        if row.vm_state == "building" || row.host.is_none() {
            return Err(Error::conflict(format!(
                "Cannot 'get_diagnostics' instance {id} while it is in vm_state {}",
                row.vm_state
            )));
        }
        match self.virt.diagnostics(id).await {
            Ok(d) => Ok(d),
            Err(VirtError::Unsupported(_)) => Err(crate::api::errors::not_implemented(
                "Unable to get diagnostics, functionality not implemented",
            )),
            Err(VirtError::NotFound(_)) => Err(Error::conflict(format!(
                "Instance {id} is not running on its host."
            ))),
            Err(VirtError::Failed(m)) => Err(Error::internal(m)),
        }
    }

    /// `POST /os-server-external-events`: each event answered with its
    /// code (200 handled, 404 no such server, 422 server not on a host).
    /// Events change nothing here: the build waits on the port's status
    /// rather than on `network-vif-plugged`, and the data plane follows
    /// the network service's own feed.
    pub async fn external_events(
        &self,
        ctx: &AuthContext,
        events: Vec<ExternalEvent>,
    ) -> Result<Vec<(ExternalEvent, u16)>> {
        self.enforce(
            ctx,
            "os_compute_api:os-server-external-events:create",
            &json!({}),
        )?;
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            let row = rows::get(&self.db.pool, &e.server_uuid)
                .await?
                .filter(|r| r.deleted_at.is_none());
            let code = match row {
                None => 404,
                Some(r) if r.host.is_none() => 422,
                Some(_) => 200,
            };
            out.push((e, code));
        }
        Ok(out)
    }

    /// The instance usage audit of the month before the one `before`
    /// falls in (Nova's monthly `instance_usage_audit_period`). No audit
    /// task runs here (Nova's `instance_usage_audit` is off by default),
    /// so every compute host is listed as not run.
    pub async fn usage_audit_log(&self, ctx: &AuthContext, before: Option<i64>) -> Result<Value> {
        let action = if before.is_some() { "show" } else { "list" };
        self.enforce(
            ctx,
            &format!("os_compute_api:os-instance-usage-audit-log:{action}"),
            &json!({}),
        )?;
        let at = common::clock::from_micros(before.unwrap_or_else(|| self.now()));
        let (y, m) = (at.year(), u8::from(at.month()));
        let (py, pm) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
        let mut hosts: Vec<String> = self
            .compute_hosts()
            .await?
            .into_iter()
            .map(|h| h.name)
            .collect();
        hosts.sort();
        hosts.dedup();
        let n = hosts.len();
        Ok(json!({
            "period_beginning": format!("{py:04}-{pm:02}-01 00:00:00"),
            "period_ending": format!("{y:04}-{m:02}-01 00:00:00"),
            "num_hosts": n,
            "num_hosts_done": 0,
            "num_hosts_running": 0,
            "num_hosts_not_run": n,
            "hosts_not_run": hosts,
            "total_instances": 0,
            "total_errors": 0,
            "overall_status": if n == 0 {
                "ALL hosts done. 0 errors.".to_string()
            } else {
                format!("0 of {n} hosts done. 0 errors.")
            },
            "log": {},
        }))
    }
}

/// Diagnostics as shown from 2.48 (`show_server_diagnostics` v2_48).
pub fn diagnostics_view(d: &Diagnostics) -> Value {
    json!({
        "state": d.state,
        "driver": d.driver,
        "hypervisor": d.hypervisor,
        "hypervisor_os": d.hypervisor_os,
        "uptime": d.uptime_s,
        "config_drive": d.config_drive,
        "num_cpus": d.num_cpus,
        "num_nics": d.nics.len(),
        "num_disks": d.disks.len(),
        "memory_details": {"maximum": d.memory_max_mb, "used": d.memory_used_mb},
        "cpu_details": d.cpus.iter().map(|c| json!({
            "id": c.id, "time": c.time, "utilisation": c.utilisation,
        })).collect::<Vec<_>>(),
        "nic_details": d.nics.iter().map(|n| json!({
            "mac_address": n.mac_address,
            "rx_octets": n.rx_octets, "rx_errors": n.rx_errors, "rx_drop": n.rx_drop,
            "rx_packets": n.rx_packets, "rx_rate": n.rx_rate,
            "tx_octets": n.tx_octets, "tx_errors": n.tx_errors, "tx_drop": n.tx_drop,
            "tx_packets": n.tx_packets, "tx_rate": n.tx_rate,
        })).collect::<Vec<_>>(),
        "disk_details": d.disks.iter().map(|k| json!({
            "read_bytes": k.read_bytes, "read_requests": k.read_requests,
            "write_bytes": k.write_bytes, "write_requests": k.write_requests,
            "errors_count": k.errors_count,
        })).collect::<Vec<_>>(),
    })
}

/// Diagnostics before 2.48: libvirt's flat keys (`cpu0_time`,
/// `memory`, `vda_read`, `tap…_rx`, …) as Nova's libvirt driver gave them.
pub fn legacy_diagnostics_view(d: &Diagnostics) -> Value {
    let mut v = serde_json::Map::new();
    for c in &d.cpus {
        if let (Some(id), Some(t)) = (c.id, c.time) {
            v.insert(format!("cpu{id}_time"), json!(t));
        }
    }
    if let Some(m) = d.memory_max_mb {
        v.insert("memory".into(), json!(m * 1024));
    }
    for (i, k) in d.disks.iter().enumerate() {
        let dev = format!("vd{}", (b'a' + (i as u8 % 26)) as char);
        v.insert(format!("{dev}_read"), json!(k.read_bytes));
        v.insert(format!("{dev}_read_req"), json!(k.read_requests));
        v.insert(format!("{dev}_write"), json!(k.write_bytes));
        v.insert(format!("{dev}_write_req"), json!(k.write_requests));
        v.insert(format!("{dev}_errors"), json!(k.errors_count));
    }
    for (i, n) in d.nics.iter().enumerate() {
        let dev = format!("vnet{i}");
        v.insert(format!("{dev}_rx"), json!(n.rx_octets));
        v.insert(format!("{dev}_rx_drop"), json!(n.rx_drop));
        v.insert(format!("{dev}_rx_errors"), json!(n.rx_errors));
        v.insert(format!("{dev}_rx_packets"), json!(n.rx_packets));
        v.insert(format!("{dev}_tx"), json!(n.tx_octets));
        v.insert(format!("{dev}_tx_drop"), json!(n.tx_drop));
        v.insert(format!("{dev}_tx_errors"), json!(n.tx_errors));
        v.insert(format!("{dev}_tx_packets"), json!(n.tx_packets));
    }
    Value::Object(v)
}

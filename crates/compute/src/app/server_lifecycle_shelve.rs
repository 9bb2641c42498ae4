//! `shelve`, `shelveOffload` and `unshelve` (Nova's `compute/api.py` and
//! the compute manager's shelve steps).
//!
//! Shelving powers the guest off and snapshots it into the image service
//! as `<name>-shelved` (SHELVED); offloading (at once when
//! `shelved_offload_time` is 0, as Nova's default) destroys the guest,
//! unbinds its ports and clears its host (SHELVED_OFFLOADED). Unshelving
//! a shelved server powers it on; an offloaded one is scheduled again,
//! its ports bound to the new host and the guest spawned from the
//! snapshot, which is then deleted.

use super::server_actions::invalid_state;
use super::servers::service_context;
use super::Compute;
use crate::db::server_lifecycle as lc;
use crate::db::servers::{self as rows, InstanceRow};
use common::context::AuthContext;
use common::{Error, Result};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use virt::PowerState;

/// `unshelve`'s body at `mv`: `(availability_zone, host)`; the zone
/// `Some(None)` when explicitly null (2.91 unpins it).
pub fn parse_unshelve(
    arg: &Value,
    mv: crate::api::Microversion,
) -> Result<(Option<Option<String>>, Option<String>)> {
    let o = match arg {
        Value::Null => return Ok((None, None)),
        Value::Object(o) if mv.at_least(77) => o,
        other => {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute unshelve. Value: {other}. {other} is not of \
                 type 'null'"
            )))
        }
    };
    let mut allowed = vec!["availability_zone"];
    if mv.at_least(91) {
        allowed.push("host");
    }
    if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(Error::bad_request(format!(
            "Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let az = match o.get("availability_zone") {
        None => None,
        Some(Value::Null) if mv.at_least(91) => Some(None),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 255 => Some(Some(s.clone())),
        Some(v) => {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute availability_zone. Value: {v}."
            )))
        }
    };
    let host = match o.get("host") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 255 => Some(s.clone()),
        Some(v) => {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute host. Value: {v}."
            )))
        }
    };
    Ok((az, host))
}

fn driver(e: virt::VirtError) -> Error {
    Error::internal(e.to_string())
}

impl Compute {
    /// `shelve`: powers off, snapshots, SHELVED; then offloads when
    /// `shelved_offload_time` is 0.
    pub async fn shelve_server(
        self: &Arc<Self>,
        ctx: &AuthContext,
        id: &str,
        request_id: &str,
    ) -> Result<()> {
        let row = self
            .visible_server(ctx, id, "os_compute_api:os-shelve:shelve")
            .await?;
        self.check_unlocked(ctx, &row)?;
        let from = ["active", "stopped", "paused", "suspended"];
        if !rows::begin_task(&self.db.pool, id, &from, "shelving", self.now()).await? {
            let cur = rows::get(&self.db.pool, id).await?.unwrap_or(row);
            return Err(invalid_state("shelve", &cur));
        }
        let image = match self
            .create_snapshot_image(
                ctx,
                &row,
                &format!("{}-shelved", row.name),
                Map::new(),
                "snapshot",
            )
            .await
        {
            Ok(i) => i,
            Err(e) => {
                self.back_to(&row).await?;
                return Err(e);
            }
        };
        let action = self.start_action(ctx, &row, "shelve", request_id).await?;
        let me = self.clone();
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let sid = row.id.clone();
            let outcome = async {
                let ev = me
                    .start_event(&action, "compute_shelve_instance", row.host.as_deref())
                    .await?;
                let done = me.do_shelve(&ctx, &row, &image).await;
                if done.is_err() {
                    if let Err(e) = me.image.delete_image(&ctx, &image).await {
                        tracing::warn!(image = %image, error = %e, "failed shelve image left");
                    }
                    me.back_to(&row).await?;
                }
                me.finish_event(&action, &ev, done.as_ref().err()).await?;
                if done.is_ok() && me.settings.shelved_offload_time == 0 {
                    me.offload(&row.id, &action).await?;
                }
                Ok::<(), Error>(())
            }
            .await;
            if let Err(e) = outcome {
                tracing::warn!(server = %sid, error = %e, "shelve failed");
            }
        });
        Ok(())
    }

    /// Puts a server back in the states it had before a failed task.
    async fn back_to(&self, row: &InstanceRow) -> Result<()> {
        rows::set_state(
            &self.db.pool,
            &row.id,
            &row.vm_state,
            None,
            row.power_state,
            self.now(),
        )
        .await?;
        Ok(())
    }

    async fn do_shelve(&self, ctx: &AuthContext, row: &InstanceRow, image: &str) -> Result<()> {
        self.virt.power_off(&row.id).await.map_err(driver)?;
        rows::set_state(
            &self.db.pool,
            &row.id,
            &row.vm_state,
            Some("shelving_image_uploading"),
            PowerState::Shutdown.code(),
            self.now(),
        )
        .await?;
        self.upload_snapshot(ctx, &row.id, image).await?;
        let mut tx = self.begin().await?;
        lc::put_shelved(tx.conn(), &row.id, image, row.host.as_deref(), self.now()).await?;
        rows::set_state(
            tx.conn(),
            &row.id,
            "shelved",
            None,
            PowerState::Shutdown.code(),
            self.now(),
        )
        .await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    /// `shelveOffload` (admin by default).
    pub async fn shelve_offload_server(
        self: &Arc<Self>,
        ctx: &AuthContext,
        id: &str,
        request_id: &str,
    ) -> Result<()> {
        let row = self
            .visible_server(ctx, id, "os_compute_api:os-shelve:shelve_offload")
            .await?;
        self.check_unlocked(ctx, &row)?;
        if row.vm_state != "shelved" || row.task_state.is_some() {
            return Err(invalid_state("shelveOffload", &row));
        }
        let action = self
            .start_action(ctx, &row, "shelveOffload", request_id)
            .await?;
        let me = self.clone();
        let sid = id.to_string();
        tokio::spawn(async move {
            if let Err(e) = me.offload(&sid, &action).await {
                tracing::warn!(server = %sid, error = %e, "shelve offload failed");
            }
        });
        Ok(())
    }

    /// Destroys a shelved server's guest, unbinds its ports, clears its
    /// host: SHELVED_OFFLOADED.
    async fn offload(&self, id: &str, action: &rows::ActionRow) -> Result<()> {
        if !rows::begin_task(
            &self.db.pool,
            id,
            &["shelved"],
            "shelving_offloading",
            self.now(),
        )
        .await?
        {
            return Ok(());
        }
        let row = rows::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| super::servers::not_found(id))?;
        let ev = self
            .start_event(
                action,
                "compute_shelve_offload_instance",
                row.host.as_deref(),
            )
            .await?;
        let done = async {
            self.virt.destroy(id).await.map_err(driver)?;
            self.bind_ports(&row, "").await
        }
        .await;
        match &done {
            Ok(()) => {
                lc::set_host(&self.db.pool, id, None, self.now()).await?;
                rows::set_state(
                    &self.db.pool,
                    id,
                    "shelved_offloaded",
                    None,
                    PowerState::NoState.code(),
                    self.now(),
                )
                .await?;
            }
            Err(_) => self.back_to(&row).await?,
        }
        self.finish_event(action, &ev, done.as_ref().err()).await
    }

    /// Sets `binding:host_id` of the server's ports (`""` unbinds).
    async fn bind_ports(&self, row: &InstanceRow, host: &str) -> Result<()> {
        let svc = service_context(&row.project_id, &row.user_id);
        for n in &row.network_info {
            let Some(port) = n["port_id"].as_str() else {
                continue;
            };
            let mut a = Map::new();
            a.insert("binding:host_id".into(), json!(host));
            match self.network.update_port(&svc, port, a).await {
                Ok(_) => {}
                Err(e) if e.kind() == common::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// `unshelve`: a shelved server powers on; an offloaded one is
    /// scheduled (in `availability_zone` from 2.77, on `host` from 2.91)
    /// and spawned from its snapshot.
    pub async fn unshelve_server(
        self: &Arc<Self>,
        ctx: &AuthContext,
        id: &str,
        az: Option<Option<String>>,
        host: Option<String>,
        request_id: &str,
    ) -> Result<()> {
        let row = self
            .visible_server(ctx, id, "os_compute_api:os-shelve:unshelve")
            .await?;
        if host.is_some() {
            self.enforce(
                ctx,
                "os_compute_api:os-shelve:unshelve_to_host",
                &json!({"project_id": row.project_id}),
            )?;
        }
        self.check_unlocked(ctx, &row)?;
        if row.vm_state != "shelved_offloaded" && (az.is_some() || host.is_some()) {
            return Err(Error::conflict(format!(
                "The unshelve server operation on a shelved instance in vm_state {} is not \
                 possible with an availability zone or host",
                row.vm_state
            )));
        }
        if let Some(Some(z)) = &az {
            if *z != self.settings.default_availability_zone {
                return Err(Error::bad_request(format!(
                    "The requested availability zone is not available ({z})"
                )));
            }
        }
        let from = ["shelved", "shelved_offloaded"];
        if !rows::begin_task(&self.db.pool, id, &from, "unshelving", self.now()).await? {
            let cur = rows::get(&self.db.pool, id).await?.unwrap_or(row);
            return Err(invalid_state("unshelve", &cur));
        }
        let action = self.start_action(ctx, &row, "unshelve", request_id).await?;
        let me = self.clone();
        tokio::spawn(async move {
            let sid = row.id.clone();
            let outcome = async {
                let ev = me
                    .start_event(&action, "compute_unshelve_instance", row.host.as_deref())
                    .await?;
                let done = me.do_unshelve(&row, host).await;
                if done.is_err() {
                    me.back_to(&row).await?;
                }
                me.finish_event(&action, &ev, done.as_ref().err()).await
            }
            .await;
            if let Err(e) = outcome {
                tracing::warn!(server = %sid, error = %e, "unshelve failed");
            }
        });
        Ok(())
    }

    async fn do_unshelve(&self, row: &InstanceRow, force_host: Option<String>) -> Result<()> {
        let image = lc::shelved_image(&self.db.pool, &row.id).await?;
        if row.vm_state == "shelved" {
            self.virt.power_on(&row.id).await.map_err(driver)?;
        } else {
            let image = image
                .as_deref()
                .ok_or_else(|| Error::internal("the shelved server has no snapshot"))?;
            let f = &row.flavor;
            let int = |k: &str| f[k].as_i64().unwrap_or(0);
            let props = row
                .image_properties
                .as_object()
                .cloned()
                .unwrap_or_default();
            let prop = |k: &str| props.get(k).and_then(Value::as_str).map(str::to_string);
            let req = super::scheduler::HostRequest {
                vcpus: row.vcpus,
                memory_mb: row.memory_mb,
                disk_gb: row.root_gb + row.ephemeral_gb + (int("swap") + 1023) / 1024,
                availability_zone: Some(
                    row.availability_zone
                        .clone()
                        .unwrap_or_else(|| self.settings.default_availability_zone.clone()),
                ),
                force_host,
                image_arch: prop("hw_architecture"),
                image_hv_type: prop("img_hv_type"),
                group: None,
            };
            let host = self.select_host(&req).await?;
            self.bind_ports(row, &host).await?;
            lc::set_host(&self.db.pool, &row.id, Some(&host), self.now()).await?;
            let mut spec = self.instance_spec(row, &row.network_info).await?;
            spec.image = self.image_ref(image).await?;
            if let Err(e) = self.virt.spawn(&spec).await {
                let _ = self.bind_ports(row, "").await;
                lc::set_host(&self.db.pool, &row.id, None, self.now()).await?;
                return Err(driver(e));
            }
        }
        // The snapshot goes before the server shows ACTIVE, so no client
        // sees both.
        if let Some(image) = image {
            // Nova deletes the snapshot once the server runs again.
            let svc = service_context(&row.project_id, &row.user_id);
            match self.image.delete_image(&svc, &image).await {
                Ok(()) => {}
                Err(e) if e.kind() == common::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(image = %image, error = %e, "shelved image left"),
            }
            lc::delete_shelved(&self.db.pool, &row.id).await?;
        }
        rows::set_state(
            &self.db.pool,
            &row.id,
            "active",
            None,
            PowerState::Running.code(),
            self.now(),
        )
        .await?;
        Ok(())
    }
}

//! The lifecycle actions that change what a server is rather than whether
//! it runs: `rebuild`, `resize` with `confirmResize`/`revertResize`, and
//! `rescue`/`unrescue`, with Nova's state rules (`nova/compute/api.py`)
//! and task states.
//!
//! Like the power actions, each claims the server in one statement (the
//! task state is set only if no task runs and the vm_state allows it),
//! records an instance action, answers, and runs the driver call in the
//! background; a failed driver call ends the task and leaves the server
//! as it was, with the event's result `Error`.

use super::server_actions::invalid_state;
use super::servers::{
    auto_disk_config_for, check_hostname, check_ip, check_metadata, opt_string, parse_disk_config,
    FlavorSpec,
};
use super::Compute;
use crate::api::Microversion;
use crate::db::server_lifecycle::{self as lc, MigrationRow};
use crate::db::servers::{self as rows, ActionRow, InstanceRow};
use common::context::AuthContext;
use common::{Error, Result};
use serde_json::{Map, Value};
use std::sync::Arc;
use virt::PowerState;

fn bad(msg: impl Into<String>) -> Error {
    Error::bad_request(msg.into())
}

/// A `rebuild` body, validated (Nova's `rebuild*` schemas).
#[derive(Debug, Clone, Default)]
pub struct RebuildRequest {
    pub image_id: String,
    pub name: Option<String>,
    pub admin_pass: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub access_ip_v4: Option<Option<String>>,
    pub access_ip_v6: Option<Option<String>>,
    pub description: Option<Option<String>>,
    /// `Some(None)` unsets the key (2.54).
    pub key_name: Option<Option<String>>,
    /// `Some(None)` removes the user data (2.57).
    pub user_data: Option<Option<String>>,
    pub hostname: Option<String>,
    /// `OS-DCF:diskConfig`: `Some(true)` for AUTO.
    pub auto_disk_config: Option<bool>,
}

/// Parses `rebuild`'s body at `mv`.
pub fn parse_rebuild(arg: &Value, mv: Microversion) -> Result<RebuildRequest> {
    let Some(o) = arg.as_object() else {
        return Err(bad(format!(
            "Invalid input for field/attribute rebuild. Value: {arg}. {arg} is not of type \
             'object'"
        )));
    };
    let mut allowed = vec![
        "imageRef",
        "name",
        "adminPass",
        "metadata",
        "accessIPv4",
        "accessIPv6",
        "OS-DCF:diskConfig",
        "preserve_ephemeral",
    ];
    if mv.at_least(19) {
        allowed.push("description");
    }
    if mv.at_least(54) {
        allowed.push("key_name");
    }
    if mv.at_least(57) {
        allowed.push("user_data");
    }
    if mv.at_least(63) {
        allowed.push("trusted_image_certificates");
    }
    if mv.at_least(90) {
        allowed.push("hostname");
    }
    if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(bad(format!(
            "Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let image_id = match o.get("imageRef") {
        Some(Value::String(s)) if !s.is_empty() => {
            // An href is accepted as Nova does: its last segment is the id.
            s.rsplit('/').next().unwrap_or(s).to_string()
        }
        Some(v) => {
            return Err(bad(format!(
                "Invalid input for field/attribute imageRef. Value: {v}."
            )))
        }
        None => return Err(bad("'imageRef' is a required property")),
    };
    let mut req = RebuildRequest {
        image_id,
        ..Default::default()
    };
    if let Some(n) = o.get("name") {
        req.name = Some(super::servers::check_name("name", n)?);
    }
    match o.get("adminPass") {
        None => {}
        Some(Value::String(p)) => req.admin_pass = Some(p.clone()),
        Some(v) => {
            return Err(bad(format!(
                "Invalid input for field/attribute adminPass. Value: {v}. {v} is not of type \
                 'string'"
            )))
        }
    }
    if o.contains_key("metadata") {
        req.metadata = Some(check_metadata(o.get("metadata"))?);
    }
    if o.contains_key("accessIPv4") {
        req.access_ip_v4 = Some(check_ip("accessIPv4", o.get("accessIPv4"), false)?);
    }
    if o.contains_key("accessIPv6") {
        req.access_ip_v6 = Some(check_ip("accessIPv6", o.get("accessIPv6"), true)?);
    }
    req.auto_disk_config = parse_disk_config(o.get("OS-DCF:diskConfig"))?;
    if let Some(p) = o.get("preserve_ephemeral") {
        if !p.is_boolean() {
            return Err(bad(format!(
                "Invalid input for field/attribute preserve_ephemeral. Value: {p}. {p} is not \
                 of type 'boolean'"
            )));
        }
    }
    if o.contains_key("description") {
        req.description = Some(opt_string("description", o.get("description"), 255)?);
    }
    if o.contains_key("key_name") {
        req.key_name = Some(opt_string("key_name", o.get("key_name"), 255)?);
    }
    if o.contains_key("user_data") {
        let u = opt_string("user_data", o.get("user_data"), 65535)?;
        if let Some(u) = &u {
            use base64::Engine;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(u.trim())
                .map_err(|_| bad("User data needs to be valid base 64."))?;
            if decoded.len() > 65535 {
                return Err(bad(
                    "User data too large. User data must be no larger than 65535 bytes once \
                     base64 decoded.",
                ));
            }
        }
        req.user_data = Some(u);
    }
    match o.get("trusted_image_certificates") {
        None | Some(Value::Null) => {}
        // No certificate manager backs image signature verification here,
        // so a request for it cannot be honoured (Nova's
        // CertificateValidationFailed, a 400).
        Some(_) => {
            return Err(bad(
                "Image signature certificate validation failed: certificate validation is not \
                 available in this cloud",
            ))
        }
    }
    if let Some(h) = o.get("hostname") {
        req.hostname = Some(check_hostname(h, mv)?);
    }
    Ok(req)
}

/// `resize`'s body: the flavor id (an href's last segment) and
/// `OS-DCF:diskConfig` (`Some(true)` for AUTO).
pub fn parse_resize(arg: &Value) -> Result<(String, Option<bool>)> {
    let Some(o) = arg.as_object() else {
        return Err(bad(format!(
            "Invalid input for field/attribute resize. Value: {arg}. {arg} is not of type \
             'object'"
        )));
    };
    if let Some(k) = o
        .keys()
        .find(|k| *k != "flavorRef" && *k != "OS-DCF:diskConfig")
    {
        return Err(bad(format!(
            "Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let flavor = match o.get("flavorRef") {
        Some(Value::String(s)) if !s.is_empty() => s.rsplit('/').next().unwrap_or(s).to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(v) => {
            return Err(bad(format!(
                "Invalid input for field/attribute flavorRef. Value: {v}."
            )))
        }
        None => return Err(bad("'flavorRef' is a required property")),
    };
    let auto_disk_config = parse_disk_config(o.get("OS-DCF:diskConfig"))?;
    Ok((flavor, auto_disk_config))
}

/// `rescue`'s body: `(adminPass, rescue_image_ref)`.
pub fn parse_rescue(arg: &Value) -> Result<(Option<String>, Option<String>)> {
    let o = match arg {
        Value::Null => return Ok((None, None)),
        Value::Object(o) => o,
        other => {
            return Err(bad(format!(
                "Invalid input for field/attribute rescue. Value: {other}."
            )))
        }
    };
    if let Some(k) = o
        .keys()
        .find(|k| *k != "adminPass" && *k != "rescue_image_ref")
    {
        return Err(bad(format!(
            "Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let s = |k: &str| -> Result<Option<String>> {
        match o.get(k) {
            None => Ok(None),
            Some(Value::String(v)) => Ok(Some(v.clone())),
            Some(v) => Err(bad(format!(
                "Invalid input for field/attribute {k}. Value: {v}."
            ))),
        }
    };
    Ok((s("adminPass")?, s("rescue_image_ref")?))
}

/// What a finished driver call leaves: the vm_state, and whether the
/// guest ends powered off (a stopped server stays stopped).
pub(crate) struct Outcome {
    pub(crate) vm_state: &'static str,
    pub(crate) stopped: bool,
}

impl Compute {
    /// Claims `id` for `task` (from one of `from`) and records `action`:
    /// the server as it was before.
    #[allow(clippy::too_many_arguments)] // the rule of one action, spelled out
    async fn claim(
        &self,
        ctx: &AuthContext,
        id: &str,
        policy: &str,
        action: &str,
        from: &[&str],
        task: &str,
        request_id: &str,
    ) -> Result<(InstanceRow, ActionRow)> {
        let row = self.visible_server(ctx, id, policy).await?;
        self.check_unlocked(ctx, &row)?;
        if !rows::begin_task(&self.db.pool, id, from, task, self.now()).await? {
            let cur = rows::get(&self.db.pool, id).await?.unwrap_or(row);
            return Err(invalid_state(action, &cur));
        }
        let a = self.start_action(ctx, &row, action, request_id).await?;
        Ok((row, a))
    }

    /// Runs `work` in the background as `event` of `action`; success sets
    /// the outcome's state, failure puts the server back as `before`.
    pub(crate) fn finish_in_background<F>(
        self: &Arc<Self>,
        before: InstanceRow,
        action: ActionRow,
        event: &'static str,
        work: F,
    ) where
        F: std::future::Future<Output = Result<Outcome>> + Send + 'static,
    {
        let me = self.clone();
        tokio::spawn(async move {
            let id = before.id.clone();
            if let Err(e) = me.finish_task(before, action, event, work).await {
                tracing::warn!(server = %id, error = %e, "server action failed");
            }
        });
    }

    async fn finish_task<F>(
        &self,
        before: InstanceRow,
        action: ActionRow,
        event: &str,
        work: F,
    ) -> Result<()>
    where
        F: std::future::Future<Output = Result<Outcome>>,
    {
        let ev = self
            .start_event(&action, event, before.host.as_deref())
            .await?;
        match work.await {
            Ok(out) => {
                let power = if out.stopped {
                    PowerState::Shutdown
                } else {
                    PowerState::Running
                };
                rows::set_state(
                    &self.db.pool,
                    &before.id,
                    out.vm_state,
                    None,
                    power.code(),
                    self.now(),
                )
                .await?;
                self.finish_event(&action, &ev, None).await
            }
            Err(err) => {
                rows::set_state(
                    &self.db.pool,
                    &before.id,
                    &before.vm_state,
                    None,
                    before.power_state,
                    self.now(),
                )
                .await?;
                self.finish_event(&action, &ev, Some(&err)).await
            }
        }
    }

    /// The driver's spec of the server as its row says now.
    pub(crate) async fn current_spec(&self, id: &str) -> Result<virt::InstanceSpec> {
        let row = rows::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| super::servers::not_found(id))?;
        self.instance_spec(&row, &row.network_info).await
    }

    /// `rebuild`: a fresh root disk from `imageRef` (the same ports and
    /// addresses); the new row and the admin password.
    pub async fn rebuild_server(
        self: &Arc<Self>,
        ctx: &AuthContext,
        id: &str,
        req: RebuildRequest,
        request_id: &str,
    ) -> Result<(InstanceRow, String)> {
        let row = self
            .visible_server(ctx, id, "os_compute_api:servers:rebuild")
            .await?;
        self.check_unlocked(ctx, &row)?;
        let image = self
            .image
            .show_image(ctx, &req.image_id)
            .await
            .map_err(|_| bad("Cannot find image for rebuild"))?;
        if image.status != "active" {
            return Err(bad(format!("Image {} is not active.", image.id)));
        }
        if row.root_gb > 0 && image.min_disk > row.root_gb {
            return Err(bad("Flavor's disk is too small for requested image."));
        }
        if image.min_ram > row.memory_mb {
            return Err(bad("Flavor's memory is too small for requested image."));
        }
        if let Some(m) = &req.metadata {
            let quota = self.settings.quota_metadata_items;
            if quota >= 0 && m.len() as i64 > quota {
                return Err(Error::over_quota(format!(
                    "Quota exceeded for metadata_items: Requested {}, but already used 0 of \
                     {quota} metadata_items",
                    m.len()
                )));
            }
        }
        let image_properties: Map<String, Value> = image
            .properties
            .iter()
            .filter(|(_, v)| v.is_string())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // Nova keeps the server's setting unless the rebuild names one;
        // the new image may forbid AUTO either way.
        let auto_disk_config = auto_disk_config_for(
            &image.id,
            &image_properties,
            Some(req.auto_disk_config.unwrap_or(row.auto_disk_config)),
        )?;
        let key = match &req.key_name {
            Some(Some(k)) => Some(Some((k.clone(), self.keypair_public_key(ctx, k).await?))),
            Some(None) => Some(None),
            None => None,
        };
        let from = ["active", "stopped", "error"];
        if !rows::begin_task(&self.db.pool, id, &from, "rebuilding", self.now()).await? {
            let cur = rows::get(&self.db.pool, id).await?.unwrap_or(row);
            return Err(invalid_state("rebuild", &cur));
        }
        let before = row.clone();
        let mut new = row;
        new.image_ref = image.id.clone();
        new.image_properties = Value::Object(image_properties);
        new.auto_disk_config = auto_disk_config;
        if let Some(n) = req.name {
            new.name = n;
        }
        if let Some(m) = req.metadata {
            new.metadata = Value::Object(m);
        }
        if let Some(ip) = req.access_ip_v4 {
            new.access_ip_v4 = ip;
        }
        if let Some(ip) = req.access_ip_v6 {
            new.access_ip_v6 = ip;
        }
        if let Some(d) = req.description {
            new.display_description = d;
        }
        if let Some(h) = req.hostname {
            new.hostname = h;
        }
        match key {
            Some(Some((name, data))) => {
                new.key_name = Some(name);
                new.key_data = Some(data);
            }
            Some(None) => {
                new.key_name = None;
                new.key_data = None;
            }
            None => {}
        }
        if let Some(u) = req.user_data {
            new.user_data = u;
        }
        new.updated_at = self.now();
        let mut tx = self.begin().await?;
        rows::update_fields(tx.conn(), &new).await?;
        lc::set_boot(tx.conn(), &new).await?;
        tx.commit().await.map_err(Error::from)?;
        let action = self.start_action(ctx, &new, "rebuild", request_id).await?;
        let admin_pass = req
            .admin_pass
            .unwrap_or_else(super::servers::random_password);
        // Read before the work starts, so the answer shows the rebuild
        // under way (REBUILD) however fast the driver is.
        let shown = rows::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| super::servers::not_found(id))?;
        let me = self.clone();
        let sid = id.to_string();
        let was_stopped = before.vm_state == "stopped";
        self.finish_in_background(before, action, "compute_rebuild_instance", async move {
            let spec = me.current_spec(&sid).await?;
            me.virt
                .rebuild(&spec)
                .await
                .map_err(|e| Error::internal(e.to_string()))?;
            // Nova leaves a server that was stopped stopped after a rebuild.
            if was_stopped {
                me.virt
                    .power_off(&sid)
                    .await
                    .map_err(|e| Error::internal(e.to_string()))?;
            }
            Ok(Outcome {
                vm_state: if was_stopped { "stopped" } else { "active" },
                stopped: was_stopped,
            })
        });
        Ok((shown, admin_pass))
    }

    /// `resize` to `flavor_ref`: quota for the growth, a host from the
    /// scheduler (the server's own allowed by `allow_resize_to_same_host`),
    /// the driver's resize, then VERIFY_RESIZE.
    pub async fn resize_server(
        self: &Arc<Self>,
        ctx: &AuthContext,
        id: &str,
        flavor_ref: &str,
        auto_disk_config: Option<bool>,
        request_id: &str,
    ) -> Result<()> {
        let row = self
            .visible_server(ctx, id, "os_compute_api:servers:resize")
            .await?;
        self.check_unlocked(ctx, &row)?;
        let auto_disk_config = match (auto_disk_config, row.image_properties.as_object()) {
            (Some(asked), Some(props)) => {
                Some(auto_disk_config_for(&row.image_ref, props, Some(asked))?)
            }
            (asked, _) => asked,
        };
        let flavor: FlavorSpec = self
            .flavor_spec(ctx, flavor_ref)
            .await
            .map_err(|_| bad("Unable to locate requested flavor."))?;
        if flavor.id == row.flavor_id {
            return Err(bad("When resizing, instances must change flavor!"));
        }
        if flavor.root_gb == 0 && row.root_gb != 0 {
            return Err(bad("Resize to zero disk flavor is not allowed."));
        }
        let from = ["active", "stopped"];
        let mut tx = self.begin().await?;
        // The growth is checked under the project's quota lock, the claim
        // in the same transaction, so parallel resizes cannot both pass.
        let (dcores, dram) = (flavor.vcpus - row.vcpus, flavor.memory_mb - row.memory_mb);
        if dcores > 0 || dram > 0 {
            self.check_instances(
                &mut tx,
                &row.project_id,
                &row.user_id,
                0,
                dcores.max(0),
                dram.max(0),
            )
            .await?;
        }
        if !rows::begin_task(tx.conn(), id, &from, "resize_prep", self.now()).await? {
            drop(tx);
            let cur = rows::get(&self.db.pool, id).await?.unwrap_or(row);
            return Err(invalid_state("resize", &cur));
        }
        let now = self.now();
        let migration = MigrationRow {
            id: common::ids::uuid(),
            instance_id: id.to_string(),
            migration_type: "resize".into(),
            source_compute: row.host.clone(),
            dest_compute: None,
            old_flavor: row.flavor.clone(),
            new_flavor: flavor.to_json(),
            status: "pre-migrating".into(),
            user_id: Some(ctx.user_id.clone()),
            project_id: ctx.project_id().map(str::to_string),
            created_at: now,
            updated_at: now,
        };
        lc::insert_migration(tx.conn(), &migration).await?;
        if let Some(auto) = auto_disk_config {
            rows::set_auto_disk_config(tx.conn(), id, auto).await?;
        }
        tx.commit().await.map_err(Error::from)?;
        let action = self.start_action(ctx, &row, "resize", request_id).await?;
        let me = self.clone();
        let was_stopped = row.vm_state == "stopped";
        self.finish_in_background(row.clone(), action, "compute_resize_instance", async move {
            let out = me.do_resize(&row, &flavor, &migration, was_stopped).await;
            if out.is_err() {
                lc::move_status(
                    &me.db.pool,
                    &migration.id,
                    "pre-migrating",
                    "error",
                    me.now(),
                )
                .await?;
            }
            out
        });
        Ok(())
    }

    async fn do_resize(
        &self,
        row: &InstanceRow,
        flavor: &FlavorSpec,
        migration: &MigrationRow,
        was_stopped: bool,
    ) -> Result<Outcome> {
        let az = row
            .availability_zone
            .clone()
            .unwrap_or_else(|| self.settings.default_availability_zone.clone());
        let props = row
            .image_properties
            .as_object()
            .cloned()
            .unwrap_or_default();
        let host = self
            .pick_host(flavor, &az, &props)
            .await?
            .ok_or_else(|| Error::internal("No valid host was found. "))?;
        if !self.settings.allow_resize_to_same_host && row.host.as_deref() == Some(host.as_str()) {
            return Err(Error::internal(
                "No valid host was found. No host other than the server's own fits \
                 (allow_resize_to_same_host is false)",
            ));
        }
        self.move_to(row, &flavor.to_json(), &host, migration, was_stopped)
            .await
    }

    /// The driver's part of a resize or a cold migration to `host` with
    /// `flavor`: the server is `resize_migrating` with the new flavor and
    /// host while the driver works (a failure puts the old ones back), a
    /// stopped server is powered off again, the migration is `finished`
    /// and the server `resized`, waiting for confirmation.
    pub(crate) async fn move_to(
        &self,
        row: &InstanceRow,
        flavor: &Value,
        host: &str,
        migration: &MigrationRow,
        was_stopped: bool,
    ) -> Result<Outcome> {
        rows::set_state(
            &self.db.pool,
            &row.id,
            &row.vm_state,
            Some("resize_migrating"),
            row.power_state,
            self.now(),
        )
        .await?;
        lc::set_flavor(&self.db.pool, &row.id, flavor, Some(host), self.now()).await?;
        self.record_destination(&migration.id, host).await?;
        let spec = self.current_spec(&row.id).await?;
        if let Err(e) = self.virt.resize(&spec).await {
            // The server keeps its flavor and host.
            lc::set_flavor(
                &self.db.pool,
                &row.id,
                &row.flavor,
                row.host.as_deref(),
                self.now(),
            )
            .await?;
            return Err(Error::internal(e.to_string()));
        }
        if was_stopped {
            self.virt
                .power_off(&row.id)
                .await
                .map_err(|e| Error::internal(e.to_string()))?;
        }
        lc::move_status(
            &self.db.pool,
            &migration.id,
            "pre-migrating",
            "finished",
            self.now(),
        )
        .await?;
        Ok(Outcome {
            vm_state: "resized",
            stopped: was_stopped,
        })
    }

    /// The resize waiting for confirmation, or Nova's 400 when there is
    /// none; 409 when the server is not in VERIFY_RESIZE.
    async fn resized_server(
        &self,
        ctx: &AuthContext,
        id: &str,
        policy: &str,
        action: &str,
    ) -> Result<(InstanceRow, MigrationRow)> {
        let row = self.visible_server(ctx, id, policy).await?;
        self.check_unlocked(ctx, &row)?;
        if row.vm_state != "resized" || row.task_state.is_some() {
            return Err(invalid_state(action, &row));
        }
        let m = lc::latest_in(&self.db.pool, id, "finished")
            .await?
            .ok_or_else(|| bad("Instance has not been resized."))?;
        Ok((row, m))
    }

    /// `confirmResize`: drops what the driver kept for a revert; ACTIVE
    /// (or SHUTOFF when it was resized stopped).
    pub async fn confirm_resize(
        &self,
        ctx: &AuthContext,
        id: &str,
        request_id: &str,
    ) -> Result<()> {
        let (row, m) = self
            .resized_server(
                ctx,
                id,
                "os_compute_api:servers:confirm_resize",
                "confirmResize",
            )
            .await?;
        if !lc::move_status(&self.db.pool, &m.id, "finished", "confirming", self.now()).await? {
            return Err(invalid_state("confirmResize", &row));
        }
        let action = self
            .start_action(ctx, &row, "confirmResize", request_id)
            .await?;
        let ev = self
            .start_event(&action, "compute_confirm_resize", row.host.as_deref())
            .await?;
        let done = self.virt.confirm_resize(id).await;
        if let Err(e) = done {
            lc::move_status(&self.db.pool, &m.id, "confirming", "finished", self.now()).await?;
            let err = Error::internal(e.to_string());
            self.finish_event(&action, &ev, Some(&err)).await?;
            return Err(err);
        }
        let stopped = row.power_state == PowerState::Shutdown.code();
        rows::set_state(
            &self.db.pool,
            id,
            if stopped { "stopped" } else { "active" },
            None,
            row.power_state,
            self.now(),
        )
        .await?;
        lc::move_status(&self.db.pool, &m.id, "confirming", "confirmed", self.now()).await?;
        self.finish_event(&action, &ev, None).await
    }

    /// `revertResize`: back to the old flavor and host on the disks the
    /// server had.
    pub async fn revert_resize(
        self: &Arc<Self>,
        ctx: &AuthContext,
        id: &str,
        request_id: &str,
    ) -> Result<()> {
        let (row, m) = self
            .resized_server(
                ctx,
                id,
                "os_compute_api:servers:revert_resize",
                "revertResize",
            )
            .await?;
        if !rows::begin_task(
            &self.db.pool,
            id,
            &["resized"],
            "resize_reverting",
            self.now(),
        )
        .await?
        {
            let cur = rows::get(&self.db.pool, id).await?.unwrap_or(row);
            return Err(invalid_state("revertResize", &cur));
        }
        if !lc::move_status(&self.db.pool, &m.id, "finished", "reverting", self.now()).await? {
            rows::set_state(
                &self.db.pool,
                id,
                "resized",
                None,
                row.power_state,
                self.now(),
            )
            .await?;
            return Err(invalid_state("revertResize", &row));
        }
        let action = self
            .start_action(ctx, &row, "revertResize", request_id)
            .await?;
        let me = self.clone();
        let sid = id.to_string();
        let stopped = row.power_state == PowerState::Shutdown.code();
        self.finish_in_background(row, action, "compute_revert_resize", async move {
            lc::set_flavor(
                &me.db.pool,
                &sid,
                &m.old_flavor,
                m.source_compute.as_deref(),
                me.now(),
            )
            .await?;
            let spec = me.current_spec(&sid).await?;
            if let Err(e) = me.virt.revert_resize(&spec).await {
                lc::set_flavor(
                    &me.db.pool,
                    &sid,
                    &m.new_flavor,
                    m.dest_compute.as_deref().or(m.source_compute.as_deref()),
                    me.now(),
                )
                .await?;
                lc::move_status(&me.db.pool, &m.id, "reverting", "finished", me.now()).await?;
                return Err(Error::internal(e.to_string()));
            }
            if stopped {
                me.virt
                    .power_off(&sid)
                    .await
                    .map_err(|e| Error::internal(e.to_string()))?;
            }
            lc::move_status(&me.db.pool, &m.id, "reverting", "reverted", me.now()).await?;
            Ok(Outcome {
                vm_state: if stopped { "stopped" } else { "active" },
                stopped,
            })
        });
        Ok(())
    }

    /// `rescue`: boots the rescue image (the server's own by default) with
    /// the server's disk attached; the admin password.
    pub async fn rescue_server(
        self: &Arc<Self>,
        ctx: &AuthContext,
        id: &str,
        admin_pass: Option<String>,
        rescue_image: Option<String>,
        request_id: &str,
    ) -> Result<String> {
        let row = self
            .visible_server(ctx, id, "os_compute_api:os-rescue")
            .await?;
        self.check_unlocked(ctx, &row)?;
        let image_id = match rescue_image {
            Some(i) => {
                let img = self
                    .image
                    .show_image(ctx, &i)
                    .await
                    .map_err(|_| bad(format!("Image {i} could not be found.")))?;
                if img.status != "active" {
                    return Err(bad(format!("Image {i} is not active.")));
                }
                img.id
            }
            None => row.image_ref.clone(),
        };
        let (row, action) = self
            .claim(
                ctx,
                id,
                "os_compute_api:os-rescue",
                "rescue",
                &["active", "stopped", "error"],
                "rescuing",
                request_id,
            )
            .await?;
        let me = self.clone();
        let sid = id.to_string();
        self.finish_in_background(row, action, "compute_rescue_instance", async move {
            let spec = me.current_spec(&sid).await?;
            let rescue = me.image_ref(&image_id).await?;
            me.virt
                .rescue(&spec, &rescue)
                .await
                .map_err(|e| Error::internal(e.to_string()))?;
            Ok(Outcome {
                vm_state: "rescued",
                stopped: false,
            })
        });
        Ok(admin_pass.unwrap_or_else(super::servers::random_password))
    }

    /// `unrescue`: boots the server from its own disk again.
    pub async fn unrescue_server(
        self: &Arc<Self>,
        ctx: &AuthContext,
        id: &str,
        request_id: &str,
    ) -> Result<()> {
        let (row, action) = self
            .claim(
                ctx,
                id,
                "os_compute_api:os-unrescue",
                "unrescue",
                &["rescued"],
                "unrescuing",
                request_id,
            )
            .await?;
        let me = self.clone();
        let sid = id.to_string();
        self.finish_in_background(row, action, "compute_unrescue_instance", async move {
            let spec = me.current_spec(&sid).await?;
            me.virt
                .unrescue(&spec)
                .await
                .map_err(|e| Error::internal(e.to_string()))?;
            Ok(Outcome {
                vm_state: "active",
                stopped: false,
            })
        });
        Ok(())
    }
}

//! Moving servers between hosts, and the record of it: the `migrate`
//! (cold) and `os-migrateLive` actions, `GET /os-migrations`, and a
//! server's in-progress live migrations (`/servers/{id}/migrations`, their
//! abort and `force_complete`). Rules as Nova's `compute/api.py` and its
//! conductor: a move is scheduled among the other hosts (a cold migration
//! never lands on the server's own host, whatever
//! `allow_resize_to_same_host` says, as with every driver but VMware's);
//! a cold migration ends in VERIFY_RESIZE and is confirmed or reverted
//! as a resize is. No driver here can live-migrate a running guest, so a
//! live migration that finds a destination fails its pre-check, as Nova's
//! does for a hypervisor that cannot do it.

use super::scheduler::{self, HostRequest};
use super::server_actions::invalid_state;
use super::server_lifecycle::Outcome;
use super::Compute;
use crate::api::Microversion;
use crate::db::migrations::{self as mdb, Filter, MigrationRecord, Page};
use crate::db::server_lifecycle::{self as lc, MigrationRow};
use crate::db::servers::{self as rows, InstanceRow};
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use serde_json::json;
use std::sync::Arc;

/// The statuses of a live migration still running (Nova's
/// `live_migration_in_progress`).
pub const LIVE_IN_PROGRESS: &[&str] = &["queued", "preparing", "running", "post-migrating"];

/// Nova's `[api] max_limit`.
const MAX_LIMIT: i64 = 1000;

fn bad(msg: impl Into<String>) -> Error {
    Error::bad_request(msg)
}

/// What `os-migrateLive` asks for, once parsed for its microversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveMigrate {
    pub host: Option<String>,
    /// `None` is "auto" (2.25+).
    pub block_migration: Option<bool>,
    /// `force` (2.30..2.67); `None` before 2.30, where a named host is
    /// always used without the scheduler.
    pub force: Option<bool>,
}

/// A listing of `GET /os-migrations`, with what the caller may see.
#[derive(Debug)]
pub struct Listing {
    pub migrations: Vec<MigrationRecord>,
    /// The caller may see hosts (`os-migrations:index:host`).
    pub show_host: bool,
    /// How many make a full page (a `next` link is due when reached).
    pub page_size: Option<i64>,
}

/// `text` as a timestamp in micros, or Nova's schema error for `key`.
fn date_time(key: &str, text: &str) -> Result<i64> {
    common::clock::parse_iso(text).ok_or_else(|| {
        bad(format!(
            "Invalid input for query parameters {key}. Value: {text}. '{text}' is not a \
             'date-time'"
        ))
    })
}

/// `limit` as Nova's `get_limit_and_marker` reads it: a non-negative
/// integer, capped at `max_limit`.
pub fn parse_limit(q: &QueryMap) -> Result<Option<i64>> {
    match q.get("limit") {
        None => Ok(None),
        Some(v) => {
            let n: i64 = v.parse().ok().filter(|n| *n >= 0).ok_or_else(|| {
                bad(format!(
                    "Invalid input for query parameters limit. Value: {v}. '{v}' does not match \
                     '^[0-9]*$'"
                ))
            })?;
            Ok(Some(n.min(MAX_LIMIT)))
        }
    }
}

impl Compute {
    /// `GET /os-migrations`: every project's migrations (admin), filtered;
    /// from 2.59 newest first and paged by `limit` and `marker` (a
    /// migration uuid).
    pub async fn list_migrations(
        &self,
        ctx: &AuthContext,
        mv: Microversion,
        q: &QueryMap,
    ) -> Result<Listing> {
        let own = json!({"project_id": ctx.project_id()});
        self.enforce(ctx, "os_compute_api:os-migrations:index", &own)?;
        if q.get("project_id").is_none() || q.get("project_id") != ctx.project_id() {
            self.enforce(ctx, "os_compute_api:os-migrations:index:all_projects", &own)?;
        }
        let show_host = self.check(ctx, "os_compute_api:os-migrations:index:host", &own);
        let paged = mv.at_least(59);
        if paged {
            let mut allowed = vec![
                "hidden",
                "host",
                "instance_uuid",
                "source_compute",
                "status",
                "migration_type",
                "limit",
                "marker",
                "changes-since",
            ];
            if mv.at_least(66) {
                allowed.push("changes-before");
            }
            if mv.at_least(80) {
                allowed.extend(["user_id", "project_id"]);
            }
            if let Some((k, _)) = q.0.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
                return Err(bad(format!(
                    "Invalid input for query parameters. Additional properties are not allowed \
                     ('{k}' was unexpected)"
                )));
            }
        }
        // Nova reads the query as a dict: a repeated key's last value wins.
        let last = |k: &str| q.get_all(k).last().map(str::to_string);
        let mut f = Filter {
            host: last("host"),
            source_compute: last("source_compute"),
            status: last("status"),
            migration_type: last("migration_type"),
            instance_uuid: last("instance_uuid"),
            user_id: last("user_id"),
            project_id: last("project_id"),
            ..Filter::default()
        };
        let mut page = Page::default();
        if paged {
            f.changes_since = q
                .get("changes-since")
                .map(|v| date_time("changes-since", v))
                .transpose()?;
            if mv.at_least(66) {
                f.changes_before = q
                    .get("changes-before")
                    .map(|v| date_time("changes-before", v))
                    .transpose()?;
            }
            if let (Some(s), Some(b)) = (f.changes_since, f.changes_before) {
                if b < s {
                    return Err(bad(
                        "The value of changes-since must be less than or equal to \
                         changes-before.",
                    ));
                }
            }
            page.newest_first = true;
            page.limit = Some(parse_limit(q)?.unwrap_or(MAX_LIMIT));
            if let Some(m) = q.get("marker") {
                let marker = mdb::get(&self.db.pool, m)
                    .await?
                    .ok_or_else(|| bad(format!("Marker {m} could not be found.")))?;
                page.after = Some((marker.row.created_at, marker.legacy_id));
            }
        }
        // No migration here is ever hidden (Nova hides the source half of
        // a cross-cell resize).
        let hidden = q
            .get("hidden")
            .and_then(common::http::query::parse_bool)
            .unwrap_or(false);
        let migrations = if hidden || page.limit == Some(0) {
            Vec::new()
        } else {
            mdb::list(&self.db.pool, &f, &page).await?
        };
        Ok(Listing {
            migrations,
            show_host,
            page_size: page.limit,
        })
    }

    /// `GET /servers/{id}/migrations` (2.23+): its live migrations in
    /// progress, and whether the caller sees hosts.
    pub async fn list_server_migrations(
        &self,
        ctx: &AuthContext,
        id: &str,
    ) -> Result<(Vec<MigrationRecord>, bool)> {
        let row = self
            .visible_server(ctx, id, "os_compute_api:servers:migrations:index")
            .await?;
        let target = json!({"project_id": row.project_id});
        let show_host = self.check(ctx, "os_compute_api:servers:migrations:index:host", &target);
        let f = Filter {
            instance_uuid: Some(row.id.clone()),
            migration_type: Some("live-migration".into()),
            ..Filter::default()
        };
        let mut all = mdb::list(&self.db.pool, &f, &Page::default()).await?;
        all.retain(|m| LIVE_IN_PROGRESS.contains(&m.row.status.as_str()));
        Ok((all, show_host))
    }

    /// `GET /servers/{id}/migrations/{mid}` (2.23+): one live migration in
    /// progress, or Nova's 404 saying why not.
    pub async fn show_server_migration(
        &self,
        ctx: &AuthContext,
        id: &str,
        mid: &str,
    ) -> Result<MigrationRecord> {
        let row = self
            .visible_server(ctx, id, "os_compute_api:servers:migrations:show")
            .await?;
        let not_found = || {
            Error::not_found(format!(
                "In-progress live migration {mid} is not found for server {id}."
            ))
        };
        let m = self.migration_of(&row, mid).await?.ok_or_else(not_found)?;
        if m.row.migration_type != "live-migration" {
            return Err(Error::not_found(format!(
                "Migration {mid} for server {id} is not live-migration."
            )));
        }
        if !LIVE_IN_PROGRESS.contains(&m.row.status.as_str()) {
            return Err(Error::not_found(format!(
                "Live migration {mid} for server {id} is not in progress."
            )));
        }
        Ok(m)
    }

    async fn migration_of(&self, row: &InstanceRow, mid: &str) -> Result<Option<MigrationRecord>> {
        match mid.parse::<i64>() {
            Ok(n) => Ok(mdb::get_of_instance(&self.db.pool, &row.id, n).await?),
            Err(_) => Ok(None),
        }
    }

    /// `DELETE /servers/{id}/migrations/{mid}` (2.24+): aborts a running
    /// live migration (from 2.65 a queued or preparing one too). The
    /// server must be migrating (409 otherwise); the migration must be
    /// its own (404) and abortable (400).
    pub async fn abort_live_migration(
        &self,
        ctx: &AuthContext,
        mv: Microversion,
        id: &str,
        mid: &str,
    ) -> Result<()> {
        let row = self
            .visible_server(ctx, id, "os_compute_api:servers:migrations:delete")
            .await?;
        self.check_unlocked(ctx, &row)?;
        self.check_migrating(&row, "abort live migration", false)?;
        let m = self.migration_of(&row, mid).await?.ok_or_else(|| {
            Error::not_found(format!("Migration {mid} not found for instance {id}"))
        })?;
        let mut allowed = vec!["running"];
        if mv.at_least(65) {
            allowed.extend(["queued", "preparing"]);
        }
        if !allowed.contains(&m.row.status.as_str()) {
            return Err(invalid_migration_state(
                mid,
                id,
                &m.row.status,
                "abort live migration",
            ));
        }
        // Not started on the destination yet: cancelled, and the server
        // is left where it is.
        mdb::set_status(&self.db.pool, &m.row.id, "cancelled", self.now()).await?;
        rows::set_state(
            &self.db.pool,
            id,
            &row.vm_state,
            None,
            row.power_state,
            self.now(),
        )
        .await?;
        Ok(())
    }

    /// `force_complete` (2.22+): only a running live migration of an
    /// ACTIVE, migrating server can be forced to finish.
    pub async fn force_complete_live_migration(
        &self,
        ctx: &AuthContext,
        id: &str,
        mid: &str,
    ) -> Result<()> {
        let row = self
            .visible_server(ctx, id, "os_compute_api:servers:migrations:force_complete")
            .await?;
        self.check_unlocked(ctx, &row)?;
        self.check_migrating(&row, "force_complete", true)?;
        let m = self
            .migration_of(&row, mid)
            .await?
            .ok_or_else(|| bad(format!("Migration {mid} not found for instance {id}")))?;
        // Only a `running` migration can be forced, and no driver here
        // ever runs one (the pre-check refuses first).
        Err(invalid_migration_state(
            mid,
            id,
            &m.row.status,
            "force complete",
        ))
    }

    /// Nova's `check_instance_state(task_state=[MIGRATING])` (and
    /// `vm_state=[ACTIVE]` when `active`).
    fn check_migrating(&self, row: &InstanceRow, action: &str, active: bool) -> Result<()> {
        let conflict = |attr: &str, state: &str| {
            Error::conflict(format!(
                "Cannot '{action}' instance {} while it is in {attr} {state}",
                row.id
            ))
        };
        if active && row.vm_state != "active" {
            return Err(conflict("vm_state", &row.vm_state));
        }
        if row.task_state.as_deref() != Some("migrating") {
            return Err(conflict(
                "task_state",
                row.task_state.as_deref().unwrap_or("None"),
            ));
        }
        Ok(())
    }

    /// A compute host by name (its address), or Nova's
    /// `ComputeHostNotFound` as the 400 the migrate actions answer.
    async fn compute_host(&self, name: &str) -> Result<super::hypervisors::ComputeHost> {
        self.compute_hosts()
            .await?
            .into_iter()
            .find(|h| h.name == name)
            .ok_or_else(|| bad(format!("Compute host {name} could not be found.")))
    }

    /// What `row` needs from a host, for the scheduler.
    fn move_request(&self, row: &InstanceRow) -> HostRequest {
        let prop = |k: &str| {
            row.image_properties
                .get(k)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        };
        let swap_gb = row
            .flavor
            .get("swap")
            .and_then(serde_json::Value::as_i64)
            .map_or(0, |mb| (mb + 1023) / 1024);
        HostRequest {
            vcpus: row.vcpus,
            memory_mb: row.memory_mb,
            disk_gb: row.root_gb + row.ephemeral_gb + swap_gb,
            availability_zone: row.availability_zone.clone(),
            force_host: None,
            image_arch: prop("hw_architecture"),
            image_hv_type: prop("img_hv_type"),
            group: None,
        }
    }

    /// The destination and its address saved on migration `id` once
    /// scheduled.
    pub(crate) async fn record_destination(&self, id: &str, host: &str) -> Result<()> {
        let address = self
            .compute_hosts()
            .await?
            .into_iter()
            .find(|h| h.name == host)
            .map(|h| h.address);
        mdb::set_destination(&self.db.pool, id, host, address.as_deref(), self.now()).await?;
        Ok(())
    }

    /// `migrate` (cold; `host` from 2.56): the server is moved to another
    /// host chosen by the scheduler (or the named one, still filtered)
    /// and waits in VERIFY_RESIZE. Scheduling runs after the 202, as
    /// Nova's conductor does: finding no host leaves the server as it
    /// was, the migration in `error` and the failure in its action.
    pub async fn migrate_server(
        self: &Arc<Self>,
        ctx: &AuthContext,
        id: &str,
        host: Option<String>,
        request_id: &str,
    ) -> Result<()> {
        let rule = if host.is_some() {
            "os_compute_api:os-migrate-server:migrate:host"
        } else {
            "os_compute_api:os-migrate-server:migrate"
        };
        let row = self.visible_server(ctx, id, rule).await?;
        self.check_unlocked(ctx, &row)?;
        let from = ["active", "stopped"];
        if row.task_state.is_some() || !from.contains(&row.vm_state.as_str()) {
            return Err(invalid_state("migrate", &row));
        }
        let Some(source) = row.host.clone() else {
            return Err(Error::conflict(format!("Instance {id} is not ready")));
        };
        if let Some(h) = &host {
            if *h == source {
                return Err(bad("Cannot migrate to the host where the server exists."));
            }
            self.compute_host(h).await?;
        }
        if !rows::begin_task(&self.db.pool, id, &from, "resize_prep", self.now()).await? {
            let cur = rows::get(&self.db.pool, id).await?.unwrap_or(row);
            return Err(invalid_state("migrate", &cur));
        }
        let now = self.now();
        let migration = MigrationRow {
            id: common::ids::uuid(),
            instance_id: id.to_string(),
            migration_type: "migration".into(),
            source_compute: Some(source.clone()),
            dest_compute: None,
            old_flavor: row.flavor.clone(),
            new_flavor: row.flavor.clone(),
            status: "pre-migrating".into(),
            user_id: Some(ctx.user_id.clone()),
            project_id: ctx.project_id().map(str::to_string),
            created_at: now,
            updated_at: now,
        };
        if let Err(e) = lc::insert_migration(&self.db.pool, &migration).await {
            rows::set_state(&self.db.pool, id, &row.vm_state, None, row.power_state, now).await?;
            return Err(e.into());
        }
        let action = self.start_action(ctx, &row, "migrate", request_id).await?;
        let me = self.clone();
        let was_stopped = row.vm_state == "stopped";
        self.finish_in_background(
            row.clone(),
            action,
            "conductor_migrate_server",
            async move {
                let out = me
                    .do_cold_migrate(&row, host.as_deref(), &migration, was_stopped)
                    .await;
                if out.is_err() {
                    mdb::set_status(&me.db.pool, &migration.id, "error", me.now()).await?;
                }
                out
            },
        );
        Ok(())
    }

    async fn do_cold_migrate(
        &self,
        row: &InstanceRow,
        requested: Option<&str>,
        migration: &MigrationRow,
        was_stopped: bool,
    ) -> Result<Outcome> {
        let mut req = self.move_request(row);
        req.force_host = requested.map(str::to_string);
        let ignore: Vec<String> = row.host.iter().cloned().collect();
        let host = self
            .select_host_excluding(&req, &ignore)
            .await
            .map_err(|e| {
                if scheduler::is_no_valid_host(&e) {
                    bad("No valid host was found. No valid host found for cold migrate")
                } else {
                    e
                }
            })?;
        self.move_to(row, &row.flavor, &host, migration, was_stopped)
            .await
    }

    /// `os-migrateLive`: checked as Nova's API and conductor check it
    /// (state, lock, a named host that exists and is not the server's
    /// own), then scheduled among the other hosts. The failure is the
    /// 400 before 2.34 and recorded in the server's action after it (the
    /// 202 then says only that the request was taken).
    pub async fn live_migrate_server(
        &self,
        ctx: &AuthContext,
        mv: Microversion,
        id: &str,
        lm: &LiveMigrate,
        request_id: &str,
    ) -> Result<()> {
        let rule = if lm.host.is_some() {
            "os_compute_api:os-migrate-server:migrate_live:host"
        } else {
            "os_compute_api:os-migrate-server:migrate_live"
        };
        let row = self.visible_server(ctx, id, rule).await?;
        if lm.force == Some(true) && lm.host.is_none() {
            return Err(bad("Can't force to a non-provided destination"));
        }
        self.check_unlocked(ctx, &row)?;
        let from = ["active", "paused"];
        if row.task_state.is_some() || !from.contains(&row.vm_state.as_str()) {
            return Err(invalid_state("os-migrateLive", &row));
        }
        if let Some(h) = &lm.host {
            self.compute_host(h).await?;
        }
        if !rows::begin_task(&self.db.pool, id, &from, "migrating", self.now()).await? {
            let cur = rows::get(&self.db.pool, id).await?.unwrap_or(row);
            return Err(invalid_state("os-migrateLive", &cur));
        }
        let action = self
            .start_action(ctx, &row, "live-migration", request_id)
            .await?;
        let now = self.now();
        // Before 2.30, and with `force`, a named host bypasses the
        // scheduler.
        let forced = lm.host.is_some() && lm.force != Some(false);
        let migration = MigrationRow {
            id: common::ids::uuid(),
            instance_id: id.to_string(),
            migration_type: "live-migration".into(),
            source_compute: row.host.clone(),
            dest_compute: if forced { lm.host.clone() } else { None },
            old_flavor: row.flavor.clone(),
            new_flavor: row.flavor.clone(),
            status: "accepted".into(),
            user_id: Some(ctx.user_id.clone()),
            project_id: ctx.project_id().map(str::to_string),
            created_at: now,
            updated_at: now,
        };
        lc::insert_migration(&self.db.pool, &migration).await?;
        let ev = self
            .start_event(
                &action,
                "conductor_live_migrate_instance",
                row.host.as_deref(),
            )
            .await?;
        let err = self.live_migration_precheck(&row, lm, forced).await;
        // Whatever failed, the server is as it was and the migration is
        // over.
        mdb::set_status(&self.db.pool, &migration.id, "error", self.now()).await?;
        rows::set_state(
            &self.db.pool,
            id,
            &row.vm_state,
            None,
            row.power_state,
            self.now(),
        )
        .await?;
        self.finish_event(&action, &ev, Some(&err)).await?;
        if mv.at_least(34) {
            Ok(())
        } else {
            Err(err)
        }
    }

    /// Why the live migration cannot go ahead: no other host passes the
    /// scheduler (`NoValidHost`), the named host is the server's own, or
    /// the destination's pre-check (no driver here live-migrates).
    async fn live_migration_precheck(
        &self,
        row: &InstanceRow,
        lm: &LiveMigrate,
        forced: bool,
    ) -> Error {
        let source = row.host.clone().unwrap_or_default();
        let dest = if forced {
            let h = lm.host.clone().unwrap_or_default();
            if h == source {
                return bad(format!(
                    "Unable to migrate instance ({}) to current host ({source}).",
                    row.id
                ));
            }
            h
        } else {
            let mut req = self.move_request(row);
            req.force_host = lm.host.clone();
            match self.select_host_excluding(&req, &[source]).await {
                Ok(h) => h,
                Err(e) if scheduler::is_no_valid_host(&e) => return bad(scheduler::NO_VALID_HOST),
                Err(e) => return e,
            }
        };
        let driver = match self.compute_hosts().await {
            Ok(hosts) => hosts
                .into_iter()
                .find(|h| h.name == dest)
                .map_or_else(|| "its".to_string(), |h| h.hypervisor_type),
            Err(e) => return e,
        };
        bad(format!(
            "Migration pre-check error: the {driver} driver on {dest} cannot live-migrate a \
             running server"
        ))
    }
}

/// Nova's `InvalidMigrationState` (400).
fn invalid_migration_state(mid: &str, id: &str, state: &str, method: &str) -> Error {
    bad(format!(
        "Migration {mid} state of instance {id} is {state}. Cannot {method} while the migration \
         is in this state."
    ))
}

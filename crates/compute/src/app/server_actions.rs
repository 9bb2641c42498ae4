//! Server actions (`POST /servers/{id}/action`: reboot, os-stop,
//! os-start, pause/unpause, suspend/resume, lock/unlock) with Nova's state
//! machine, and `os-instance-actions`, the record of every action.
//!
//! A power action checks and claims the server in one statement (the
//! task state is set only when no other task runs and the vm_state
//! allows it: Nova's `check_instance_state`), answers 202, and the driver
//! call runs in the background, ending the task.

use super::Compute;
use crate::api::Microversion;
use crate::db::servers::InstanceRow;
use crate::db::servers::{self as rows, ActionRow};
use common::clock::iso_micros_naive;
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;
use virt::{PowerState, RebootKind};

/// A power action: its name (Nova's action and policy), the states it is
/// allowed from, its task state and the state it ends in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    Reboot(RebootKind),
    Stop,
    Start,
    Pause,
    Unpause,
    Suspend,
    Resume,
}

impl Power {
    /// (instance action, policy, allowed vm_states, task_state, event,
    /// final vm_state, final power state)
    fn rules(self) -> PowerRules {
        let (action, policy, from, task, event, to, power): (
            &str,
            &str,
            &[&str],
            &str,
            &str,
            &str,
            PowerState,
        ) = match self {
            Power::Reboot(RebootKind::Soft) => (
                "reboot",
                "os_compute_api:servers:reboot",
                &["active"],
                "rebooting",
                "compute_reboot_instance",
                "active",
                PowerState::Running,
            ),
            Power::Reboot(RebootKind::Hard) => (
                "reboot",
                "os_compute_api:servers:reboot",
                &["active", "stopped", "paused", "suspended", "error"],
                "rebooting_hard",
                "compute_reboot_instance",
                "active",
                PowerState::Running,
            ),
            Power::Stop => (
                "stop",
                "os_compute_api:servers:stop",
                &["active", "error"],
                "powering-off",
                "compute_stop_instance",
                "stopped",
                PowerState::Shutdown,
            ),
            Power::Start => (
                "start",
                "os_compute_api:servers:start",
                &["stopped"],
                "powering-on",
                "compute_start_instance",
                "active",
                PowerState::Running,
            ),
            Power::Pause => (
                "pause",
                "os_compute_api:os-pause-server:pause",
                &["active"],
                "pausing",
                "compute_pause_instance",
                "paused",
                PowerState::Paused,
            ),
            Power::Unpause => (
                "unpause",
                "os_compute_api:os-pause-server:unpause",
                &["paused"],
                "unpausing",
                "compute_unpause_instance",
                "active",
                PowerState::Running,
            ),
            Power::Suspend => (
                "suspend",
                "os_compute_api:os-suspend-server:suspend",
                &["active"],
                "suspending",
                "compute_suspend_instance",
                "suspended",
                PowerState::Suspended,
            ),
            Power::Resume => (
                "resume",
                "os_compute_api:os-suspend-server:resume",
                &["suspended"],
                "resuming",
                "compute_resume_instance",
                "active",
                PowerState::Running,
            ),
        };
        PowerRules {
            action,
            policy,
            from,
            task,
            event,
            to,
            power,
        }
    }
}

struct PowerRules {
    action: &'static str,
    policy: &'static str,
    from: &'static [&'static str],
    task: &'static str,
    event: &'static str,
    to: &'static str,
    power: PowerState,
}

/// Nova's `InstanceInvalidState` as the API answers it.
pub(crate) fn invalid_state(action: &str, r: &InstanceRow) -> Error {
    let (attr, state) = match &r.task_state {
        Some(t) => ("task_state", t.as_str()),
        None => ("vm_state", r.vm_state.as_str()),
    };
    Error::conflict(format!(
        "Cannot '{action}' instance {} while it is in {attr} {state}",
        r.id
    ))
}

impl Compute {
    /// Starts power action `p` on server `id`; the driver call finishes in
    /// the background.
    pub async fn power_action(
        self: &Arc<Self>,
        ctx: &AuthContext,
        id: &str,
        p: Power,
        request_id: &str,
    ) -> Result<()> {
        let rules = p.rules();
        let row = self.visible_server(ctx, id, rules.policy).await?;
        self.check_unlocked(ctx, &row)?;
        let policy_name = rules.action;
        if !rows::begin_task(&self.db.pool, id, rules.from, rules.task, self.now()).await? {
            // Re-read: the state may have changed since.
            let cur = rows::get(&self.db.pool, id).await?.unwrap_or(row);
            return Err(invalid_state(policy_name, &cur));
        }
        let action = self
            .start_action(ctx, &row, rules.action, request_id)
            .await?;
        let me = self.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            if let Err(e) = me.finish_power(&id, p, &action).await {
                tracing::warn!(server = %id, error = %e, "server action failed");
            }
        });
        Ok(())
    }

    async fn finish_power(&self, id: &str, p: Power, action: &ActionRow) -> Result<()> {
        let rules = p.rules();
        let row = rows::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| super::servers::not_found(id))?;
        let event = self
            .start_event(action, rules.event, row.host.as_deref())
            .await?;
        let v = &self.virt;
        let done = match p {
            Power::Reboot(k) => v.reboot(id, k).await,
            Power::Stop => v.power_off(id).await,
            Power::Start => v.power_on(id).await,
            Power::Pause => v.pause(id).await,
            Power::Unpause => v.unpause(id).await,
            Power::Suspend => v.suspend(id).await,
            Power::Resume => v.resume(id).await,
        };
        match done {
            Ok(()) => {
                rows::set_state(
                    &self.db.pool,
                    id,
                    rules.to,
                    None,
                    rules.power.code(),
                    self.now(),
                )
                .await?;
                self.finish_event(action, &event, None).await
            }
            Err(e) => {
                // The guest did not change: the task ends, the state stays.
                rows::set_state(
                    &self.db.pool,
                    id,
                    &row.vm_state,
                    None,
                    row.power_state,
                    self.now(),
                )
                .await?;
                let err = Error::internal(e.to_string());
                self.finish_event(action, &event, Some(&err)).await
            }
        }
    }

    /// `os-getConsoleOutput`: the guest's console, its last `length`
    /// lines when given.
    pub async fn console_output(
        &self,
        ctx: &AuthContext,
        id: &str,
        length: Option<usize>,
    ) -> Result<String> {
        let row = self
            .visible_server(ctx, id, "os_compute_api:os-console-output")
            .await?;
        if row.host.is_none() || row.vm_state == "building" {
            return Err(invalid_state("get_console_output", &row));
        }
        let lines = self.virt.console_output(id).await.map_err(|e| match e {
            virt::VirtError::NotFound(_) => {
                Error::conflict(format!("Instance {id} is not ready: it has no console"))
            }
            other => Error::internal(other.to_string()),
        })?;
        let skip = length.map_or(0, |n| lines.len().saturating_sub(n));
        Ok(lines[skip..].join("\n"))
    }

    /// `lock` (with an optional reason at ≥2.73) and `unlock`.
    pub async fn set_lock(
        &self,
        ctx: &AuthContext,
        id: &str,
        lock: bool,
        reason: Option<String>,
        request_id: &str,
    ) -> Result<()> {
        let policy = if lock {
            "os_compute_api:os-lock-server:lock"
        } else {
            "os_compute_api:os-lock-server:unlock"
        };
        let mut row = self.visible_server(ctx, id, policy).await?;
        if !lock && row.locked {
            // Unlocking what someone else (an admin) locked needs the
            // override rule (Nova's `unlock_override`).
            let owner_locked = row.locked_by.as_deref() == Some("owner");
            if !owner_locked {
                self.enforce(
                    ctx,
                    "os_compute_api:os-lock-server:unlock:unlock_override",
                    &json!({"project_id": row.project_id}),
                )?;
            }
        }
        let by_owner = ctx.project_id() == Some(row.project_id.as_str());
        row.locked = lock;
        row.locked_by = lock.then(|| if by_owner { "owner" } else { "admin" }.to_string());
        row.locked_reason = if lock { reason } else { None };
        row.updated_at = self.now();
        let mut tx = self.begin().await?;
        rows::update_fields(tx.conn(), &row).await?;
        tx.commit().await.map_err(Error::from)?;
        self.start_action(ctx, &row, if lock { "lock" } else { "unlock" }, request_id)
            .await?;
        Ok(())
    }

    /// A server whose actions the caller may read (deleted ones too from
    /// 2.21).
    async fn server_for_actions(
        &self,
        ctx: &AuthContext,
        mv: Microversion,
        id: &str,
        rule: &str,
    ) -> Result<InstanceRow> {
        let row = rows::get(&self.db.pool, id)
            .await?
            .filter(|r| r.deleted_at.is_none() || mv.at_least(21))
            .ok_or_else(|| super::servers::not_found(id))?;
        if !self.is_admin(ctx) && ctx.project_id() != Some(row.project_id.as_str()) {
            return Err(super::servers::not_found(id));
        }
        self.enforce(ctx, rule, &json!({"project_id": row.project_id}))?;
        Ok(row)
    }

    fn action_view(mv: Microversion, a: &ActionRow) -> Value {
        let mut v = json!({
            "action": a.action,
            "instance_uuid": a.instance_id,
            "message": a.message,
            "project_id": a.project_id,
            "request_id": a.request_id,
            "start_time": iso_micros_naive(a.start_time),
            "user_id": a.user_id,
        });
        if mv.at_least(58) {
            v["updated_at"] = json!(iso_micros_naive(a.updated_at));
        }
        v
    }

    /// `GET /servers/{id}/os-instance-actions`: newest first; from 2.58
    /// paged (`limit`, `marker` = a request id) and filtered by
    /// `changes-since` (and `changes-before` from 2.66) on `updated_at`.
    /// The actions and the marker of the next page.
    pub async fn list_instance_actions(
        &self,
        ctx: &AuthContext,
        mv: Microversion,
        id: &str,
        q: &QueryMap,
    ) -> Result<(Vec<Value>, Option<String>)> {
        self.server_for_actions(ctx, mv, id, "os_compute_api:os-instance-actions:list")
            .await?;
        let mut actions = rows::actions_of(&self.db.pool, id).await?;
        if !mv.at_least(58) {
            return Ok((
                actions.iter().map(|a| Self::action_view(mv, a)).collect(),
                None,
            ));
        }
        let time = |key: &str| -> Result<Option<i64>> {
            match q.get(key) {
                None => Ok(None),
                Some(v) => common::clock::parse_iso(v).map(Some).ok_or_else(|| {
                    Error::bad_request(format!(
                        "Invalid input for query parameters {key}. Value: {v}. '{v}' is not a \
                         'date-time'"
                    ))
                }),
            }
        };
        let since = time("changes-since")?;
        let before = if mv.at_least(66) {
            time("changes-before")?
        } else {
            None
        };
        actions.retain(|a| {
            since.is_none_or(|s| a.updated_at >= s) && before.is_none_or(|b| a.updated_at <= b)
        });
        if let Some(m) = q.get("marker") {
            let pos = actions
                .iter()
                .position(|a| a.request_id == m)
                .ok_or_else(|| Error::bad_request(format!("Marker {m} could not be found.")))?;
            actions.drain(..=pos);
        }
        let mut next = None;
        if let Some(l) = q.get("limit") {
            let l: usize = l.parse().map_err(|_| {
                Error::bad_request(format!(
                    "Invalid input for query parameters limit. Value: {l}."
                ))
            })?;
            if actions.len() > l {
                actions.truncate(l);
                next = actions.last().map(|a| a.request_id.clone());
            }
        }
        Ok((
            actions.iter().map(|a| Self::action_view(mv, a)).collect(),
            next,
        ))
    }

    /// `GET /servers/{id}/os-instance-actions/{request_id}`.
    pub async fn show_instance_action(
        &self,
        ctx: &AuthContext,
        mv: Microversion,
        id: &str,
        request_id: &str,
    ) -> Result<Value> {
        let row = self
            .server_for_actions(ctx, mv, id, "os_compute_api:os-instance-actions:show")
            .await?;
        let actions = rows::actions_of(&self.db.pool, id).await?;
        let a = actions
            .iter()
            .find(|a| a.request_id == request_id)
            .ok_or_else(|| Error::not_found(format!("Action {request_id} could not be found.")))?;
        let mut v = Self::action_view(mv, a);
        let target = json!({"project_id": row.project_id});
        let events_allowed = mv.at_least(51)
            || self.check(ctx, "os_compute_api:os-instance-actions:events", &target);
        if events_allowed {
            let details = self.check(
                ctx,
                "os_compute_api:os-instance-actions:events:details",
                &target,
            );
            let events = rows::events_of(&self.db.pool, &a.id).await?;
            v["events"] = Value::Array(
                events
                    .iter()
                    .map(|e| {
                        let mut ev = json!({
                            "event": e.event,
                            "start_time": iso_micros_naive(e.start_time),
                            "finish_time": e.finish_time.map(iso_micros_naive),
                            "result": e.result,
                        });
                        if details || !mv.at_least(51) {
                            ev["traceback"] = json!(e.traceback);
                        }
                        if mv.at_least(62) {
                            ev["hostId"] = json!(super::servers_view::host_id(
                                &row.project_id,
                                e.host.as_deref()
                            ));
                            if details {
                                ev["host"] = json!(e.host.clone().unwrap_or_default());
                            }
                        }
                        ev
                    })
                    .collect(),
            );
        }
        Ok(v)
    }
}

//! The compute role: runs a [`VirtDriver`] on this host for the
//! controller's remote driver (`compute::remote`).
//!
//! On each document it executes the feed's new commands
//! (`parts.compute.commands`, `docs/agent-feed.md`) exactly once: done
//! command ids and their results are kept in memory and in
//! `<state_dir>/compute-done.json`, so a restarted agent reports them
//! again rather than running them again, until the command leaves the
//! feed. It converges the guests: after the agent starts, an instance of
//! the feed whose guest is missing (the host restarted) is started per
//! its `desired_power`; a guest the driver holds that the feed has not
//! wanted (as an instance or in a command) for `orphan_grace` is
//! destroyed. It reports every guest's power state from `get_info`, and a
//! poll every `power_poll` signals [`RoleHandler::changes`] when one
//! changed, so the controller hears of a guest that stopped on its own
//! without a new document.
//!
//! A compute-only node's port plumbing (the network role's
//! `ComputePorts`) reports under the same role: it is wrapped here and
//! its `network_ports` and `errors` are merged into this role's status.

pub mod images;

use crate::RoleHandler;
use common::auth::BoxFuture;
use compute::remote::feed::{CommandResult, ComputeFeed, DesiredPower, FeedInstance, Op};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use virt::{PowerState, VirtDriver, VirtError};

/// The file remembering executed commands, in the agent's state directory.
pub const DONE_FILE: &str = "compute-done.json";

/// How the role runs.
#[derive(Debug, Clone)]
pub struct ComputeRoleConfig {
    /// Where [`DONE_FILE`] lives.
    pub state_dir: PathBuf,
    /// How long a guest the feed does not want may live before it is
    /// destroyed (longer than any build takes to list its instance).
    pub orphan_grace: Duration,
    /// How often power states are polled for changes.
    pub power_poll: Duration,
    /// Where snapshots and consoles go; without it `snapshot` and
    /// `open_console` commands are answered as unsupported.
    pub controller: Option<images::ControllerStreams>,
}

impl ComputeRoleConfig {
    pub fn new(state_dir: PathBuf) -> ComputeRoleConfig {
        ComputeRoleConfig {
            state_dir,
            orphan_grace: Duration::from_secs(1800),
            power_poll: Duration::from_secs(10),
            controller: None,
        }
    }
}

#[derive(Default)]
struct State {
    /// Executed commands and their results, persisted.
    done: BTreeMap<String, CommandResult>,
    /// Whether the first document since the start was converged.
    converged_once: bool,
    /// When the feed last wanted each guest (listed or commanded), or a
    /// guest was first seen unwanted.
    wanted: HashMap<String, Instant>,
    /// The power states last reported.
    powers: BTreeMap<String, PowerState>,
}

/// The compute role's handler.
pub struct ComputeRole {
    driver: Arc<dyn VirtDriver>,
    cfg: ComputeRoleConfig,
    state: tokio::sync::Mutex<State>,
    changes: Arc<Notify>,
    /// `ComputePorts` on a compute-only node with a data plane.
    ports: Option<Arc<dyn RoleHandler>>,
}

impl ComputeRole {
    /// The role over `driver`, reading what an earlier run of the agent
    /// executed; starts its power-state poll (ends when the role is
    /// dropped). Must be called inside a tokio runtime.
    pub fn start(
        driver: Arc<dyn VirtDriver>,
        cfg: ComputeRoleConfig,
        ports: Option<Arc<dyn RoleHandler>>,
    ) -> Result<Arc<ComputeRole>, String> {
        let done = read_done(&cfg.state_dir.join(DONE_FILE))?;
        let changes = Arc::new(Notify::new());
        if let Some(n) = ports.as_ref().and_then(|p| p.changes()) {
            let ours = Arc::downgrade(&changes);
            tokio::spawn(async move {
                loop {
                    n.notified().await;
                    match ours.upgrade() {
                        Some(o) => o.notify_one(),
                        None => break,
                    }
                }
            });
        }
        let role = Arc::new(ComputeRole {
            driver,
            cfg,
            state: tokio::sync::Mutex::new(State {
                done,
                ..State::default()
            }),
            changes,
            ports,
        });
        tokio::spawn(poll_power(Arc::downgrade(&role)));
        Ok(role)
    }

    /// Runs command `command`.
    async fn execute(&self, command: &str, op: Op, instance_id: &str) -> CommandResult {
        let d = &self.driver;
        let id = instance_id;
        let done = match op {
            Op::Spawn { spec } => d.spawn(&spec).await,
            Op::Destroy {} => d.destroy(id).await,
            Op::Reboot { kind } => d.reboot(id, kind).await,
            Op::PowerOff {} => d.power_off(id).await,
            Op::PowerOn {} => d.power_on(id).await,
            Op::Pause {} => d.pause(id).await,
            Op::Unpause {} => d.unpause(id).await,
            Op::Suspend {} => d.suspend(id).await,
            Op::Resume {} => d.resume(id).await,
            Op::GetInfo {} => {
                return match d.get_info(id).await {
                    Ok(p) => CommandResult {
                        power_state: Some(p),
                        ..CommandResult::ok()
                    },
                    Err(e) => CommandResult::of_virt_error(&e),
                }
            }
            Op::ConsoleOutput {} => {
                return match d.console_output(id).await {
                    Ok(lines) => CommandResult {
                        lines: Some(last_bytes(lines, compute::remote::MAX_CONSOLE_BYTES)),
                        ..CommandResult::ok()
                    },
                    Err(e) => CommandResult::of_virt_error(&e),
                }
            }
            Op::Rebuild { spec } => d.rebuild(&spec).await,
            Op::Resize { spec } => d.resize(&spec).await,
            Op::ConfirmResize {} => d.confirm_resize(id).await,
            Op::RevertResize { old } => d.revert_resize(&old).await,
            Op::Rescue { spec, rescue_image } => d.rescue(&spec, &rescue_image).await,
            Op::Unrescue { spec } => d.unrescue(&spec).await,
            Op::AttachInterface { vif } => d.attach_interface(id, &vif).await,
            Op::DetachInterface { port_id } => d.detach_interface(id, &port_id).await,
            Op::Snapshot {} => match &self.cfg.controller {
                Some(to) => match d.snapshot(id).await {
                    Ok(snap) => to.upload(command, snap).await,
                    Err(e) => Err(e),
                },
                None => Err(no_controller()),
            },
            // The session outlives the command: it is relayed in the
            // background once connected.
            Op::OpenConsole {} => match &self.cfg.controller {
                Some(to) => match d.open_console(id).await {
                    Ok(console) => to.console_tunnel(command, console).await,
                    Err(e) => Err(e),
                },
                None => Err(no_controller()),
            },
        };
        match done {
            Ok(()) => CommandResult::ok(),
            Err(e) => CommandResult::of_virt_error(&e),
        }
    }

    /// Starts a guest missing after a restart of the host, as it should be.
    async fn restore(&self, inst: &FeedInstance) -> Result<(), VirtError> {
        self.driver.spawn(&inst.spec).await?;
        match inst.desired_power {
            DesiredPower::Running => Ok(()),
            DesiredPower::Shutdown => self.driver.power_off(&inst.id).await,
            DesiredPower::Paused => self.driver.pause(&inst.id).await,
            DesiredPower::Suspended => self.driver.suspend(&inst.id).await,
        }
    }

    async fn apply_compute(&self, feed: &ComputeFeed, errors: &mut Vec<String>) -> Value {
        let mut st = self.state.lock().await;
        let now = Instant::now();
        for inst in &feed.instances {
            st.wanted.insert(inst.id.clone(), now);
        }
        for cmd in &feed.commands {
            st.wanted.insert(cmd.instance_id.clone(), now);
        }
        // Commands: each once, remembered before it is reported.
        for cmd in &feed.commands {
            if st.done.contains_key(&cmd.id) {
                continue;
            }
            let result = match Op::of(cmd) {
                Ok(op) => {
                    tracing::info!(command = %cmd.id, op = %cmd.op, instance = %cmd.instance_id, "running");
                    self.execute(&cmd.id, op, &cmd.instance_id).await
                }
                Err(e) => CommandResult::error(e),
            };
            if let Some(e) = &result.error {
                tracing::warn!(command = %cmd.id, op = %cmd.op, error = %e, "command failed");
            }
            st.done.insert(cmd.id.clone(), result);
            if let Err(e) = write_done(&self.cfg.state_dir.join(DONE_FILE), &st.done) {
                errors.push(e);
            }
        }
        // Forget what left the feed: the controller has its result.
        let in_feed: BTreeSet<&str> = feed.commands.iter().map(|c| c.id.as_str()).collect();
        let before = st.done.len();
        st.done.retain(|id, _| in_feed.contains(id.as_str()));
        if st.done.len() != before {
            if let Err(e) = write_done(&self.cfg.state_dir.join(DONE_FILE), &st.done) {
                errors.push(e);
            }
        }
        let commanded: BTreeSet<&str> = feed
            .commands
            .iter()
            .map(|c| c.instance_id.as_str())
            .collect();
        // After a start: bring back the guests the host lost.
        if !st.converged_once {
            for inst in &feed.instances {
                if commanded.contains(inst.id.as_str()) {
                    continue;
                }
                match self.driver.get_info(&inst.id).await {
                    Ok(PowerState::NoState) => {
                        tracing::info!(instance = %inst.id, "guest missing after a restart: starting it");
                        if let Err(e) = self.restore(inst).await {
                            errors.push(format!("restoring instance {}: {e}", inst.id));
                        }
                    }
                    Ok(_) => {}
                    Err(e) => errors.push(format!("instance {}: {e}", inst.id)),
                }
            }
            st.converged_once = true;
        }
        // Orphans: only guests this driver holds.
        let held = match self.driver.list_instances().await {
            Ok(h) => h,
            Err(e) => {
                errors.push(format!("listing guests: {e}"));
                Vec::new()
            }
        };
        let listed: BTreeSet<&str> = feed.instances.iter().map(|i| i.id.as_str()).collect();
        for id in &held {
            if listed.contains(id.as_str()) || commanded.contains(id.as_str()) {
                continue;
            }
            let since = *st.wanted.entry(id.clone()).or_insert(now);
            if now.duration_since(since) >= self.cfg.orphan_grace {
                tracing::info!(instance = %id, "destroying a guest the controller no longer has");
                match self.driver.destroy(id).await {
                    Ok(()) => {
                        st.wanted.remove(id);
                    }
                    Err(e) => errors.push(format!("destroying orphan {id}: {e}")),
                }
            }
        }
        // Power states of every guest held or listed.
        let mut ids: BTreeSet<String> = held.into_iter().collect();
        ids.extend(feed.instances.iter().map(|i| i.id.clone()));
        let mut powers = BTreeMap::new();
        for id in ids {
            match self.driver.get_info(&id).await {
                Ok(p) => {
                    powers.insert(id, p);
                }
                Err(e) => errors.push(format!("power state of {id}: {e}")),
            }
        }
        st.powers = powers.clone();
        let results: BTreeMap<_, _> = st
            .done
            .iter()
            .filter(|(id, _)| in_feed.contains(id.as_str()))
            .map(|(id, r)| (id.clone(), r.clone()))
            .collect();
        json!({"instances": powers, "results": results})
    }
}

impl RoleHandler for ComputeRole {
    fn role(&self) -> &'static str {
        "compute"
    }

    fn apply<'a>(&'a self, document: &'a Value) -> BoxFuture<'a, Value> {
        Box::pin(async move {
            let mut errors = Vec::new();
            let part = document
                .get("parts")
                .and_then(|p| p.get("compute"))
                .cloned()
                .unwrap_or(Value::Null);
            let mut status = if part.is_null() {
                json!({"instances": {}, "results": {}})
            } else {
                match serde_json::from_value::<ComputeFeed>(part) {
                    Ok(feed) => self.apply_compute(&feed, &mut errors).await,
                    Err(e) => {
                        errors.push(format!("parts.compute: {e}"));
                        json!({"instances": {}, "results": {}})
                    }
                }
            };
            if let Some(p) = &self.ports {
                let ps = p.apply(document).await;
                status["network_ports"] = ps.get("network_ports").cloned().unwrap_or(json!({}));
                if let Some(e) = ps.get("errors").and_then(Value::as_array) {
                    errors.extend(e.iter().filter_map(Value::as_str).map(str::to_string));
                }
            }
            status["errors"] = json!(errors);
            status
        })
    }

    fn changes(&self) -> Option<Arc<Notify>> {
        Some(self.changes.clone())
    }
}

fn no_controller() -> VirtError {
    VirtError::Unsupported("this agent has no controller to stream snapshots or consoles to".into())
}

/// Signals a change whenever a guest's power state differs from the one
/// last reported; ends with the role.
async fn poll_power(role: Weak<ComputeRole>) {
    loop {
        let every = match role.upgrade() {
            Some(r) => r.cfg.power_poll,
            None => return,
        };
        tokio::time::sleep(every).await;
        let Some(r) = role.upgrade() else { return };
        let known = r.state.lock().await.powers.clone();
        let mut ids: BTreeSet<String> = known.keys().cloned().collect();
        if let Ok(held) = r.driver.list_instances().await {
            ids.extend(held);
        }
        for id in ids {
            let now = r.driver.get_info(&id).await.unwrap_or(PowerState::NoState);
            if known.get(&id).copied().unwrap_or(PowerState::NoState) != now {
                tracing::info!(instance = %id, power = ?now, "guest power state changed");
                r.changes.notify_one();
                break;
            }
        }
    }
}

/// The last lines of `lines` that fit in `max` bytes.
fn last_bytes(lines: Vec<String>, max: usize) -> Vec<String> {
    let mut total = 0;
    let mut keep = lines.len();
    for (i, l) in lines.iter().enumerate().rev() {
        total += l.len() + 1;
        if total > max {
            break;
        }
        keep = i;
    }
    lines.into_iter().skip(keep).collect()
}

fn read_done(path: &std::path::Path) -> Result<BTreeMap<String, CommandResult>, String> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice::<Value>(&b)
            .ok()
            .and_then(|v| serde_json::from_value(v["results"].clone()).ok())
            .ok_or_else(|| format!("{} is not a compute state file", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes the file whole and renames it over the old one, so a crash
/// leaves one or the other.
fn write_done(
    path: &std::path::Path,
    done: &BTreeMap<String, CommandResult>,
) -> Result<(), String> {
    let tmp = path.with_extension("json.tmp");
    let body = serde_json::to_vec(&json!({"results": done})).map_err(|e| e.to_string())?;
    std::fs::write(&tmp, body)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The handlers of a node with `handlers` (the network handler, maybe
/// `ComputePorts`) and the compute role over `driver`: `ComputePorts`
/// goes inside the role, which reports for both.
pub fn with_compute(
    handlers: Vec<Arc<dyn RoleHandler>>,
    driver: Arc<dyn VirtDriver>,
    cfg: ComputeRoleConfig,
) -> Result<Vec<Arc<dyn RoleHandler>>, String> {
    let (ports, mut rest): (Vec<_>, Vec<_>) =
        handlers.into_iter().partition(|h| h.role() == "compute");
    let role = ComputeRole::start(driver, cfg, ports.into_iter().next())?;
    rest.push(role);
    Ok(rest)
}

/// The driver `[agent] compute_driver` (else the cloud's `compute_driver`)
/// names for this host; it fetches images from the controller `agent`
/// reports to.
pub fn driver_for(
    cfg: &common::config::Config,
    agent: &crate::AgentConfig,
) -> Result<Arc<dyn VirtDriver>, String> {
    let images: Arc<dyn virt::ImageFetcher> = Arc::new(images::HttpImageFetcher::new(agent));
    let a: crate::config::AgentSection = cfg.section().map_err(|e| e.to_string())?;
    let name = if a.compute_driver.is_empty() {
        cfg.compute_driver.clone()
    } else {
        a.compute_driver.clone()
    };
    match name.as_str() {
        "fake" => Ok(Arc::new(
            virt::fake::FakeDriver::new(0, false).with_images(images),
        )),
        // Guests live under the state directory (short paths: QMP and VNC
        // sockets are Unix sockets, limited to 108 bytes).
        "qemu" => {
            let dir = cfg.state_dir.join("qemu");
            let q = virt::qemu::QemuConfig::new(&dir, dir.join("images"));
            Ok(Arc::new(virt::qemu::QemuDriver::new(q, images)))
        }
        other => Err(format!(
            "agent.compute_driver = {other:?}: expected qemu or fake"
        )),
    }
}

/// The role's settings from `[agent]` and the state directory; snapshots
/// go to the controller `agent` reports to.
pub fn role_config(
    cfg: &common::config::Config,
    agent: &crate::AgentConfig,
) -> Result<ComputeRoleConfig, String> {
    let a: crate::config::AgentSection = cfg.section().map_err(|e| e.to_string())?;
    let mut rc = ComputeRoleConfig::new(cfg.state_dir.clone());
    rc.controller = Some(images::ControllerStreams::new(agent));
    if a.compute_orphan_grace_s > 0 {
        rc.orphan_grace = Duration::from_secs(a.compute_orphan_grace_s);
    }
    if a.compute_power_poll_s > 0 {
        rc.power_poll = Duration::from_secs(a.compute_power_poll_s);
    }
    Ok(rc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_output_keeps_the_last_lines_that_fit() {
        let lines: Vec<String> = (0..10).map(|i| format!("line{i}")).collect();
        assert_eq!(last_bytes(lines.clone(), 12), vec!["line8", "line9"]);
        assert_eq!(last_bytes(lines.clone(), 1 << 20).len(), 10);
        assert!(last_bytes(lines, 3).is_empty());
    }
}

//! The controller's remote driver (`compute_driver = "qemu"`): the
//! controller never runs a hypervisor itself; every [`VirtDriver`] call
//! becomes a command for the node agent hosting the instance (its
//! `compute_instances.host`, the registered node name).
//!
//! A call is a `compute_commands` row, written with the `compute`
//! revision counter bumped so the node's desired-state long-poll wakes
//! and the command appears in `parts.compute.commands` ([`feed`]). The
//! node runs it and reports the result in `roles.compute.results`; the
//! report ([`ComputeSource::report`]) finishes the row and wakes the
//! waiting caller (a `Notify` in process, a poll as the fallback across
//! replicas), which reads the result and deletes the row. A caller that
//! gives up (`agent_call_timeout_s`, `agent_spawn_timeout_s` for a spawn)
//! deletes its row too, so the command leaves the feed.
//!
//! The same report carries the guests' power states, synced into the
//! servers as Nova's `_sync_power_states` does.
//!
//! A snapshot's bytes and a console's session do not fit a feed: the node
//! streams a snapshot to the internal API ([`internal`]), or connects a
//! console to it over an upgraded connection, and the API hands either
//! to the waiting [`RemoteDriver::snapshot`] or
//! [`RemoteDriver::open_console`] through [`Hub`]'s slots. The disk flows
//! from the node into the image service without being held, and a
//! console needs no port open on the node.

pub mod db;
pub mod feed;
pub mod internal;

use crate::app::Compute;
use bytes::Bytes;
use common::service::{BoxFuture as SvcFuture, DesiredStateSource, NodeInfo};
use feed::{CommandResult, ComputeFeed, ComputeStatus, DesiredPower, FeedInstance, Op};
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use virt::{
    ConsoleStream, ImageRef, InstanceSpec, PowerState, RebootKind, Snapshot, Vif, VirtDriver,
    VirtError, VirtResult,
};

/// The revision-feed counter of the compute part of node documents.
pub const REVISION: &str = "compute";

/// How often a waiting caller re-reads its command when nothing woke it
/// (another controller process finished it).
const POLL: Duration = Duration::from_secs(1);

/// The most console output a node sends back (Nova's `MAX_CONSOLE_BYTES`).
pub const MAX_CONSOLE_BYTES: usize = 1024 * 1024;

/// What the driver and the feed share: the store, the wake-up of
/// waiting callers, and the guests each node last reported.
pub struct Hub {
    db: ::db::Db,
    clock: common::clock::SharedClock,
    finished: tokio::sync::Notify,
    call_timeout: Duration,
    spawn_timeout: Duration,
    /// node → the guests its last report listed as existing.
    guests: Mutex<BTreeMap<String, BTreeSet<String>>>,
    /// Snapshot uploads, by command id, while a [`RemoteDriver::snapshot`]
    /// waits for them.
    pub uploads: Slots<Upload>,
    /// Console connections, by command id, while a
    /// [`RemoteDriver::open_console`] waits for them.
    pub consoles: Slots<ConsoleStream>,
}

/// Hand-overs from the internal API to a driver call waiting for them,
/// by command id.
pub struct Slots<T>(Mutex<HashMap<String, tokio::sync::oneshot::Sender<T>>>);

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots(Mutex::default())
    }
}

impl<T> Slots<T> {
    fn open(&self, cmd: &str) -> VirtResult<tokio::sync::oneshot::Receiver<T>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.0
            .lock()
            .map_err(|_| VirtError::Failed("the hand-over slots are poisoned".into()))?
            .insert(cmd.to_string(), tx);
        Ok(rx)
    }

    /// Whether a call waits for `cmd`.
    pub fn waiting(&self, cmd: &str) -> bool {
        self.0.lock().is_ok_and(|s| s.contains_key(cmd))
    }

    /// Hands `item` to whoever waits for command `cmd`; gives it back
    /// when nobody does (any more).
    pub fn deliver(&self, cmd: &str, item: T) -> Result<(), T> {
        let slot = self.0.lock().ok().and_then(|mut s| s.remove(cmd));
        match slot {
            Some(tx) => tx.send(item),
            None => Err(item),
        }
    }

    fn forget(&self, cmd: &str) {
        if let Ok(mut s) = self.0.lock() {
            s.remove(cmd);
        }
    }
}

/// A node's snapshot upload, as the internal API receives it.
pub struct Upload {
    pub disk_format: String,
    pub container_format: String,
    pub data: BoxStream<'static, std::io::Result<Bytes>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

impl Hub {
    pub fn new(
        db: ::db::Db,
        clock: common::clock::SharedClock,
        call_timeout: Duration,
        spawn_timeout: Duration,
    ) -> Arc<Hub> {
        Arc::new(Hub {
            db,
            clock,
            finished: tokio::sync::Notify::new(),
            call_timeout,
            spawn_timeout,
            guests: Mutex::default(),
            uploads: Slots::default(),
            consoles: Slots::default(),
        })
    }

    /// Sends `op` for instance `id` and waits for what the node hands
    /// over through `slots` (picked by `slots_of`) for it. The command's
    /// answer is awaited, and its row removed, in the background; a
    /// failed answer fails the call, and a node that answers without
    /// handing anything over gets `grace` to do so.
    async fn handed_over<T: Send + 'static>(
        self: &Arc<Self>,
        id: &str,
        op: Op,
        slots_of: fn(&Hub) -> &Slots<T>,
    ) -> VirtResult<T> {
        let grace = Duration::from_secs(10);
        let cmd = common::ids::uuid();
        let mut rx = slots_of(self).open(&cmd)?;
        let hub = self.clone();
        let (c, iid) = (cmd.clone(), id.to_string());
        let mut answer = tokio::spawn(async move { hub.call_as(c, &iid, op).await });
        let what = "the compute node";
        tokio::select! {
            item = &mut rx => {
                slots_of(self).forget(&cmd);
                item.map_err(|_| VirtError::Failed(format!("{what} hand-over for instance {id} was dropped")))
            }
            done = &mut answer => {
                let done = done.map_err(|e| VirtError::Failed(format!("the call: {e}")));
                let answered = match done {
                    Ok(Ok(Some(r))) => into_result(id, r).map(drop),
                    Ok(Ok(None)) => Err(VirtError::NotFound(id.to_string())),
                    Ok(Err(e)) | Err(e) => Err(e),
                };
                if let Err(e) = answered {
                    slots_of(self).forget(&cmd);
                    return Err(e);
                }
                // Answered first: the hand-over may still be on its way.
                let late = tokio::time::timeout(grace, &mut rx).await;
                slots_of(self).forget(&cmd);
                match late {
                    Ok(Ok(item)) => Ok(item),
                    _ => Err(VirtError::Failed(format!(
                        "{what} answered for instance {id} without handing anything over"
                    ))),
                }
            }
        }
    }

    /// Sends `op` for instance `id` to its node and waits for the answer.
    /// `Ok(None)`: the instance is on no node (never placed, or gone).
    async fn call(&self, id: &str, op: Op) -> VirtResult<Option<CommandResult>> {
        self.call_as(common::ids::uuid(), id, op).await
    }

    /// [`Hub::call`] under command id `cmd`.
    async fn call_as(&self, cmd: String, id: &str, op: Op) -> VirtResult<Option<CommandResult>> {
        let failed = |e: ::db::sqlx::Error| VirtError::Failed(format!("the compute store: {e}"));
        let Some(node) = db::host_of(&self.db.pool, id).await.map_err(failed)? else {
            return Ok(None);
        };
        let timeout = match op {
            Op::Spawn { .. }
            | Op::Rebuild { .. }
            | Op::Resize { .. }
            | Op::RevertResize { .. }
            | Op::Rescue { .. }
            | Op::Unrescue { .. }
            | Op::Snapshot {} => self.spawn_timeout,
            Op::OpenConsole {} => self.call_timeout,
            _ => self.call_timeout,
        };
        let (name, args) = op.split();
        let args = serde_json::to_string(&args).map_err(|e| VirtError::Failed(e.to_string()))?;
        let mut tx = self.db.begin_write().await.map_err(failed)?;
        db::insert(
            tx.conn(),
            &cmd,
            &node,
            id,
            &name,
            &args,
            self.clock.now_micros(),
        )
        .await
        .map_err(failed)?;
        tx.bump(REVISION).await.map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before the read, so a finish in between wakes it.
            let woken = self.finished.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match db::result_of(&self.db.pool, &cmd).await.map_err(failed)? {
                Some(db::Finished {
                    result: Some(result),
                }) => {
                    db::delete(&self.db.pool, &cmd).await.map_err(failed)?;
                    let r: CommandResult = serde_json::from_str(&result).map_err(|e| {
                        VirtError::Failed(format!("node {node} answered {name} unreadably: {e}"))
                    })?;
                    return Ok(Some(r));
                }
                Some(_) => {}
                None => {
                    return Err(VirtError::Failed(format!(
                        "the {name} command for instance {id} disappeared"
                    )))
                }
            }
            if tokio::time::Instant::now() >= deadline {
                db::delete(&self.db.pool, &cmd).await.map_err(failed)?;
                return Err(VirtError::Failed(format!(
                    "Timed out after {}s waiting for compute node {node} to {name} instance {id}",
                    timeout.as_secs()
                )));
            }
            tokio::select! {
                () = &mut woken => {}
                () = tokio::time::sleep(POLL) => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// A call whose answer is only success or failure; an instance on no
    /// node is [`VirtError::NotFound`].
    async fn unit(&self, id: &str, op: Op) -> VirtResult<CommandResult> {
        match self.call(id, op).await? {
            Some(r) => into_result(id, r),
            None => Err(VirtError::NotFound(id.to_string())),
        }
    }
}

/// A node's answer as the driver's result.
fn into_result(id: &str, r: CommandResult) -> VirtResult<CommandResult> {
    match (&r.error, r.kind.as_deref()) {
        (Some(_), Some("not_found")) => Err(VirtError::NotFound(id.to_string())),
        (Some(e), Some("unsupported")) => Err(VirtError::Unsupported(e.clone())),
        (Some(e), _) => Err(VirtError::Failed(e.clone())),
        (None, _) => Ok(r),
    }
}

/// The [`VirtDriver`] of `compute_driver = "qemu"` on the controller.
#[derive(Debug, Clone)]
pub struct RemoteDriver {
    hub: Arc<Hub>,
}

impl RemoteDriver {
    pub fn new(hub: Arc<Hub>) -> RemoteDriver {
        RemoteDriver { hub }
    }
}

impl VirtDriver for RemoteDriver {
    fn spawn<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        let op = Op::Spawn {
            spec: Box::new(spec.clone()),
        };
        Box::pin(async move { self.hub.unit(&spec.id, op).await.map(drop) })
    }
    fn destroy<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        // A guest on no node has nothing to destroy.
        Box::pin(async move {
            match self.hub.call(id, Op::Destroy {}).await? {
                Some(r) => into_result(id, r).map(drop),
                None => Ok(()),
            }
        })
    }
    fn reboot<'a>(&'a self, id: &'a str, kind: RebootKind) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move { self.hub.unit(id, Op::Reboot { kind }).await.map(drop) })
    }
    fn power_off<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move { self.hub.unit(id, Op::PowerOff {}).await.map(drop) })
    }
    fn power_on<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move { self.hub.unit(id, Op::PowerOn {}).await.map(drop) })
    }
    fn pause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move { self.hub.unit(id, Op::Pause {}).await.map(drop) })
    }
    fn unpause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move { self.hub.unit(id, Op::Unpause {}).await.map(drop) })
    }
    fn suspend<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move { self.hub.unit(id, Op::Suspend {}).await.map(drop) })
    }
    fn resume<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move { self.hub.unit(id, Op::Resume {}).await.map(drop) })
    }
    fn get_info<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<PowerState>> {
        Box::pin(async move {
            match self.hub.call(id, Op::GetInfo {}).await? {
                Some(r) => Ok(into_result(id, r)?
                    .power_state
                    .unwrap_or(PowerState::NoState)),
                None => Ok(PowerState::NoState),
            }
        })
    }
    /// The guests the nodes' last reports listed (this process's view).
    fn list_instances<'a>(&'a self) -> BoxFuture<'a, VirtResult<Vec<String>>> {
        Box::pin(async move {
            let guests = self
                .hub
                .guests
                .lock()
                .map_err(|_| VirtError::Failed("the guest list is poisoned".into()))?;
            Ok(guests.values().flatten().cloned().collect())
        })
    }
    fn console_output<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<Vec<String>>> {
        Box::pin(async move {
            Ok(self
                .hub
                .unit(id, Op::ConsoleOutput {})
                .await?
                .lines
                .unwrap_or_default())
        })
    }
    fn rebuild<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        let op = Op::Rebuild {
            spec: Box::new(spec.clone()),
        };
        Box::pin(async move { self.hub.unit(&spec.id, op).await.map(drop) })
    }
    fn resize<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        let op = Op::Resize {
            spec: Box::new(spec.clone()),
        };
        Box::pin(async move { self.hub.unit(&spec.id, op).await.map(drop) })
    }
    fn confirm_resize<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move { self.hub.unit(id, Op::ConfirmResize {}).await.map(drop) })
    }
    fn revert_resize<'a>(&'a self, old: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        let op = Op::RevertResize {
            old: Box::new(old.clone()),
        };
        Box::pin(async move { self.hub.unit(&old.id, op).await.map(drop) })
    }
    /// The node streams the disk to the internal API while this waits:
    /// the snapshot is handed over as soon as its upload starts.
    fn snapshot<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<Snapshot>> {
        Box::pin(async move {
            let u = self
                .hub
                .handed_over(id, Op::Snapshot {}, |h| &h.uploads)
                .await?;
            Ok(Snapshot {
                disk_format: u.disk_format,
                container_format: u.container_format,
                data: u.data,
            })
        })
    }
    fn rescue<'a>(
        &'a self,
        spec: &'a InstanceSpec,
        rescue_image: &'a ImageRef,
    ) -> BoxFuture<'a, VirtResult<()>> {
        let op = Op::Rescue {
            spec: Box::new(spec.clone()),
            rescue_image: rescue_image.clone(),
        };
        Box::pin(async move { self.hub.unit(&spec.id, op).await.map(drop) })
    }
    fn unrescue<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        let op = Op::Unrescue {
            spec: Box::new(spec.clone()),
        };
        Box::pin(async move { self.hub.unit(&spec.id, op).await.map(drop) })
    }
    fn attach_interface<'a>(&'a self, id: &'a str, vif: &'a Vif) -> BoxFuture<'a, VirtResult<()>> {
        let op = Op::AttachInterface { vif: vif.clone() };
        Box::pin(async move { self.hub.unit(id, op).await.map(drop) })
    }
    fn detach_interface<'a>(
        &'a self,
        id: &'a str,
        port_id: &'a str,
    ) -> BoxFuture<'a, VirtResult<()>> {
        let op = Op::DetachInterface {
            port_id: port_id.to_string(),
        };
        Box::pin(async move { self.hub.unit(id, op).await.map(drop) })
    }
    /// The node connects the guest's VNC server to the internal API; the
    /// upgraded connection is the stream.
    fn open_console<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<ConsoleStream>> {
        Box::pin(async move {
            self.hub
                .handed_over(id, Op::OpenConsole {}, |h| &h.consoles)
                .await
        })
    }
}

/// The compute part of every node's desired state, and the compute
/// role's reports. Holds the service weakly: the service holds the
/// registry that holds this.
pub struct ComputeSource {
    pub compute: Weak<Compute>,
    pub hub: Arc<Hub>,
}

impl ComputeSource {
    fn compute(&self) -> Result<Arc<Compute>, common::Error> {
        self.compute
            .upgrade()
            .ok_or_else(|| common::Error::unavailable("the compute service is stopping"))
    }

    /// `parts.compute` of `node`.
    pub async fn feed(&self, node: &str) -> Result<ComputeFeed, common::Error> {
        let c = self.compute()?;
        let mut instances = Vec::new();
        for id in db::instances_on(&self.hub.db.pool, node).await? {
            let Some(row) = crate::db::servers::get(&self.hub.db.pool, &id).await? else {
                continue;
            };
            let Some(desired_power) = DesiredPower::of_vm_state(&row.vm_state) else {
                continue;
            };
            let spec = match c.instance_spec(&row, &row.network_info).await {
                Ok(s) => s,
                Err(e) => {
                    // Its image went: listed without it, so the node does
                    // not take the guest for an orphan.
                    tracing::warn!(server = %id, error = %e, "instance spec for the feed");
                    spec_without_image(&row)
                }
            };
            instances.push(FeedInstance {
                id,
                spec,
                desired_power,
            });
        }
        let commands = db::pending(&self.hub.db.pool, node).await?;
        Ok(ComputeFeed {
            instances,
            commands,
        })
    }

    /// Applies `roles.compute` of a report from `node`.
    pub async fn apply_report(
        &self,
        node: &str,
        status: &serde_json::Value,
    ) -> Result<(), common::Error> {
        let st: ComputeStatus = serde_json::from_value(status.clone()).map_err(|e| {
            common::Error::bad_request(format!("roles.compute is not a compute status: {e}"))
        })?;
        let now = self.hub.clock.now_micros();
        let mut tx = self.hub.db.begin_write().await?;
        let mut finished = 0;
        for (id, r) in &st.results {
            let text =
                serde_json::to_string(r).map_err(|e| common::Error::internal(e.to_string()))?;
            if db::finish(tx.conn(), id, node, &text, now).await? {
                finished += 1;
            }
        }
        let mut moved = false;
        for (id, power) in &st.instances {
            let (_, vm) = db::sync_power(tx.conn(), id, node, *power, now).await?;
            if vm {
                tracing::info!(server = %id, node, power = ?power,
                    "the guest is off: the server is now stopped");
                moved = true;
            }
        }
        if finished > 0 || moved {
            tx.bump(REVISION).await?;
        }
        tx.commit().await?;
        if finished > 0 {
            self.hub.finished.notify_waiters();
        }
        if let Ok(mut g) = self.hub.guests.lock() {
            g.insert(
                node.to_string(),
                st.instances
                    .iter()
                    .filter(|(_, p)| **p != PowerState::NoState)
                    .map(|(id, _)| id.clone())
                    .collect(),
            );
        }
        Ok(())
    }
}

/// An instance's spec when its image is gone: enough for the node to
/// know the guest is wanted (a re-spawn of it fails on the image).
fn spec_without_image(row: &crate::db::servers::InstanceRow) -> InstanceSpec {
    InstanceSpec {
        id: row.id.clone(),
        name: format!("instance-{}", row.id),
        hostname: row.hostname.clone(),
        vcpus: row.vcpus,
        memory_mb: row.memory_mb,
        root_gb: row.root_gb,
        ephemeral_gb: row.ephemeral_gb,
        swap_mb: 0,
        image: ImageRef {
            id: row.image_ref.clone(),
            disk_format: "raw".into(),
            container_format: "bare".into(),
            size: None,
            hash_algo: None,
            hash_value: None,
            kernel_id: None,
            ramdisk_id: None,
            os_command_line: None,
        },
        vifs: Vec::new(),
        user_data: None,
        config_drive: None,
    }
}

impl DesiredStateSource for ComputeSource {
    fn name(&self) -> &'static str {
        "compute"
    }

    fn counter(&self) -> &'static str {
        REVISION
    }

    fn part<'a>(
        &'a self,
        node: &'a NodeInfo,
    ) -> SvcFuture<'a, Result<serde_json::Value, common::Error>> {
        Box::pin(async move {
            if !node.has_role("compute") {
                return Ok(serde_json::Value::Null);
            }
            let feed = self.feed(&node.name).await?;
            serde_json::to_value(feed).map_err(|e| common::Error::internal(e.to_string()))
        })
    }

    fn report<'a>(
        &'a self,
        node: &'a NodeInfo,
        roles: &'a serde_json::Map<String, serde_json::Value>,
    ) -> SvcFuture<'a, Result<(), common::Error>> {
        Box::pin(async move {
            match roles.get("compute") {
                Some(st) if node.has_role("compute") => self.apply_report(&node.name, st).await,
                _ => Ok(()),
            }
        })
    }
}

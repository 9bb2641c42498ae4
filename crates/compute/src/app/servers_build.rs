//! The build saga (Nova's conductor `schedule_and_build_instances` and
//! the compute manager's `build_and_run_instance`): after the 202, each
//! server goes scheduling → networking → spawning → ACTIVE. The steps
//! run as a `db::saga` so a failure — or a restart half way — undoes what
//! was done: ports the build made are deleted (given ones unbound), the
//! guest destroyed, and the server left in ERROR with its fault. Each
//! phase is an instance action event of the server's `create` action.

use super::servers::{service_context, NetRequest};
use super::Compute;
use crate::db::servers::{self as rows, ActionRow};
use common::{Error, Result};
use db::saga::{Saga, SagaState, Step, StepResult};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;
use virt::{ImageRef, InstanceSpec, Vif};

/// The saga's kind in the `sagas` table.
pub const KIND: &str = "compute.build";

/// What a build needs, stored as the saga's parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildParams {
    pub instance_id: String,
    pub project_id: String,
    pub user_id: String,
    pub host: String,
    pub az: String,
    pub action_id: String,
    pub networks: Vec<NetRequest>,
    pub security_group_ids: Vec<String>,
}

impl Serialize for NetRequest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            NetRequest::Network {
                network_id,
                fixed_ip,
            } => json!({"network_id": network_id, "fixed_ip": fixed_ip}),
            NetRequest::Port { port_id } => json!({"port_id": port_id}),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for NetRequest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        if let Some(p) = v.get("port_id").and_then(Value::as_str) {
            return Ok(NetRequest::Port {
                port_id: p.to_string(),
            });
        }
        let network_id = v
            .get("network_id")
            .and_then(Value::as_str)
            .ok_or_else(|| serde::de::Error::custom("network request without network_id"))?;
        Ok(NetRequest::Network {
            network_id: network_id.to_string(),
            fixed_ip: v
                .get("fixed_ip")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }
}

fn params_of(state: &SagaState) -> StepResult<BuildParams> {
    serde_json::from_value(state.params.clone()).map_err(|e| format!("build parameters: {e}"))
}

fn msg(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Step 0: the server is placed on its host.
struct Schedule;
/// Step 1: a port per requested network (or the given port, bound).
struct Networking;
/// Step 2: the driver starts the guest, and its ports go ACTIVE.
struct Spawn;
/// Step 3: ACTIVE.
struct Finish;

impl Step<Arc<Compute>> for Schedule {
    fn name(&self) -> &'static str {
        "schedule"
    }
    fn action<'a>(
        &'a self,
        c: &'a Arc<Compute>,
        state: &'a SagaState,
    ) -> BoxFuture<'a, StepResult<Value>> {
        Box::pin(async move {
            let p = params_of(state)?;
            rows::set_host(&c.db.pool, &p.instance_id, &p.host, c.now())
                .await
                .map_err(msg)?;
            Ok(json!({"host": p.host}))
        })
    }
    fn undo<'a>(&'a self, _: &'a Arc<Compute>, _: &'a SagaState) -> BoxFuture<'a, StepResult<()>> {
        // Placing is only a column: the server's end state (ERROR with
        // the fault) is written by whoever ran the saga — the build, or
        // `resume_builds` after a restart.
        Box::pin(async { Ok(()) })
    }
}

impl Step<Arc<Compute>> for Networking {
    fn name(&self) -> &'static str {
        "networking"
    }
    fn action<'a>(
        &'a self,
        c: &'a Arc<Compute>,
        state: &'a SagaState,
    ) -> BoxFuture<'a, StepResult<Value>> {
        Box::pin(async move {
            let p = params_of(state)?;
            rows::set_state(
                &c.db.pool,
                &p.instance_id,
                "building",
                Some("networking"),
                0,
                c.now(),
            )
            .await
            .map_err(msg)?;
            // A failed action is not undone by the saga (only completed
            // steps are): release what this one made before failing.
            let made = async {
                let info = c.allocate_ports(&p).await?;
                rows::set_network_info(&c.db.pool, &p.instance_id, &info, c.now()).await?;
                Ok::<_, Error>(info)
            }
            .await;
            match made {
                Ok(info) => Ok(Value::Array(info)),
                Err(e) => {
                    if let Err(undo) = release_networking(c, &p).await {
                        tracing::warn!(server = %p.instance_id, error = %undo,
                            "releasing the ports of a failed build");
                    }
                    Err(e.message().to_string())
                }
            }
        })
    }
    fn undo<'a>(
        &'a self,
        c: &'a Arc<Compute>,
        state: &'a SagaState,
    ) -> BoxFuture<'a, StepResult<()>> {
        Box::pin(async move {
            let p = params_of(state)?;
            release_networking(c, &p).await
        })
    }
}

/// Deletes the ports the build made and unbinds the given ones; works
/// from the parameters alone, as after a crash the step's output may be
/// missing.
async fn release_networking(c: &Compute, p: &BuildParams) -> StepResult<()> {
    let svc = service_context(&p.project_id, &p.user_id);
    let given: Vec<Value> = p
        .networks
        .iter()
        .filter_map(|n| match n {
            NetRequest::Port { port_id } => Some(json!({"port_id": port_id, "created": false})),
            NetRequest::Network { .. } => None,
        })
        .collect();
    c.release_ports(&svc, &p.instance_id, &given)
        .await
        .map_err(|e| e.message().to_string())?;
    rows::set_network_info(&c.db.pool, &p.instance_id, &[], c.now())
        .await
        .map_err(msg)?;
    Ok(())
}

impl Step<Arc<Compute>> for Spawn {
    fn name(&self) -> &'static str {
        "spawn"
    }
    fn action<'a>(
        &'a self,
        c: &'a Arc<Compute>,
        state: &'a SagaState,
    ) -> BoxFuture<'a, StepResult<Value>> {
        Box::pin(async move {
            let p = params_of(state)?;
            rows::set_state(
                &c.db.pool,
                &p.instance_id,
                "building",
                Some("spawning"),
                0,
                c.now(),
            )
            .await
            .map_err(msg)?;
            let row = rows::get(&c.db.pool, &p.instance_id)
                .await
                .map_err(msg)?
                .ok_or_else(|| format!("instance {} is gone", p.instance_id))?;
            let info = state
                .output("networking")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let spec = c.instance_spec(&row, &info).await.map_err(msg)?;
            // A port goes ACTIVE once its tap exists, i.e. once the guest
            // started: spawn first, then wait for the data plane (Nova's
            // vif-plugged events, in spirit); a timeout fails the build.
            let spawned = match c.virt.spawn(&spec).await {
                Ok(()) => c
                    .wait_for_ports(&p, &info)
                    .await
                    .map_err(|e| e.message().to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = spawned {
                // As for networking: a failed action cleans up after itself.
                if let Err(undo) = c.virt.destroy(&p.instance_id).await {
                    tracing::warn!(server = %p.instance_id, error = %undo, "destroying a failed guest");
                }
                return Err(e);
            }
            Ok(json!({}))
        })
    }
    fn undo<'a>(
        &'a self,
        c: &'a Arc<Compute>,
        state: &'a SagaState,
    ) -> BoxFuture<'a, StepResult<()>> {
        Box::pin(async move {
            let p = params_of(state)?;
            c.virt.destroy(&p.instance_id).await.map_err(msg)
        })
    }
}

impl Step<Arc<Compute>> for Finish {
    fn name(&self) -> &'static str {
        "finish"
    }
    fn action<'a>(
        &'a self,
        c: &'a Arc<Compute>,
        state: &'a SagaState,
    ) -> BoxFuture<'a, StepResult<Value>> {
        Box::pin(async move {
            let p = params_of(state)?;
            let power = c.virt.get_info(&p.instance_id).await.map_err(msg)?;
            // A server deleted while it was building: undo the build.
            if !rows::set_launched(&c.db.pool, &p.instance_id, power.code(), c.now())
                .await
                .map_err(msg)?
            {
                return Err(format!(
                    "Instance {} was deleted during its build",
                    p.instance_id
                ));
            }
            Ok(json!({}))
        })
    }
    fn undo<'a>(&'a self, _: &'a Arc<Compute>, _: &'a SagaState) -> BoxFuture<'a, StepResult<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// The build saga.
pub fn saga() -> Saga<Arc<Compute>> {
    Saga::new(
        KIND,
        vec![
            Arc::new(Schedule),
            Arc::new(Networking),
            Arc::new(Spawn),
            Arc::new(Finish),
        ],
    )
}

impl Compute {
    /// A fault as Nova records it.
    pub fn fault(&self, code: u16, message: &str) -> Value {
        json!({
            "code": code,
            "message": message,
            "created": common::clock::iso_seconds(self.now()),
            "details": message,
        })
    }

    /// Runs one server's build (in the background after the 202).
    pub async fn build(self: Arc<Self>, p: BuildParams) {
        let id = p.instance_id.clone();
        if let Err(e) = self.run_build(p).await {
            tracing::warn!(server = %id, error = %e, "server build failed");
        }
    }

    async fn run_build(self: &Arc<Self>, p: BuildParams) -> Result<()> {
        let action = ActionRow {
            id: p.action_id.clone(),
            instance_id: p.instance_id.clone(),
            action: "create".into(),
            request_id: String::new(),
            user_id: p.user_id.clone(),
            project_id: p.project_id.clone(),
            message: None,
            start_time: 0,
            updated_at: 0,
        };
        let sched = self
            .start_event(&action, "conductor_schedule_and_build_instances", None)
            .await?;
        self.finish_event(&action, &sched, None).await?;
        let build = self
            .start_event(&action, "compute_build_and_run_instance", Some(&p.host))
            .await?;
        let params = serde_json::to_value(&p).map_err(Error::internal)?;
        // The saga's id is the server's: a restart knows which server an
        // unwound build was for.
        let outcome = saga().run(&self.db, self, &p.instance_id, params).await;
        match outcome {
            Ok(_) => self.finish_event(&action, &build, None).await,
            Err(e) => {
                let message = match &e {
                    db::saga::SagaError::Failed { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                let fault = self.fault(500, &message);
                rows::set_error(&self.db.pool, &p.instance_id, &fault, self.now()).await?;
                let err = Error::internal(message);
                self.finish_event(&action, &build, Some(&err)).await
            }
        }
    }

    /// Finishes builds a previous process left half done (their saga
    /// unwinds: the servers end in ERROR with their ports released).
    pub async fn resume_builds(self: Arc<Self>) {
        let s = saga();
        match db::saga::resume_all(&self.db, &self, &[&s]).await {
            Ok(done) => {
                for r in done {
                    tracing::info!(server = %r.id, ok = r.outcome.is_ok(), "resumed build");
                    let message = match &r.outcome {
                        Ok(Some(_)) => continue,
                        Ok(None) => {
                            "Build of instance interrupted by a restart; it was rolled back"
                                .to_string()
                        }
                        Err(e) => format!("Build of instance interrupted by a restart: {e}"),
                    };
                    let fault = self.fault(500, &message);
                    if let Err(e) = rows::set_error(&self.db.pool, &r.id, &fault, self.now()).await
                    {
                        tracing::warn!(server = %r.id, error = %e, "marking an interrupted build");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "resuming server builds failed"),
        }
    }

    /// Creates (or binds) the build's ports; the network info the server
    /// shows.
    async fn allocate_ports(&self, p: &BuildParams) -> Result<Vec<Value>> {
        let svc = service_context(&p.project_id, &p.user_id);
        let owner = format!("compute:{}", p.az);
        let mut info = Vec::new();
        for req in &p.networks {
            let view = match req {
                NetRequest::Network {
                    network_id,
                    fixed_ip,
                } => {
                    let mut a = Map::new();
                    a.insert("network_id".into(), json!(network_id));
                    a.insert("device_id".into(), json!(p.instance_id));
                    a.insert("device_owner".into(), json!(owner));
                    a.insert("binding:host_id".into(), json!(p.host));
                    if let Some(ip) = fixed_ip {
                        a.insert("fixed_ips".into(), json!([{"ip_address": ip}]));
                    }
                    if !p.security_group_ids.is_empty() {
                        a.insert("security_groups".into(), json!(p.security_group_ids));
                    }
                    let mut made = self.network.create_ports(&svc, vec![a]).await?;
                    made.pop()
                        .ok_or_else(|| Error::internal("the network service made no port"))?
                }
                NetRequest::Port { port_id } => {
                    let mut a = Map::new();
                    a.insert("device_id".into(), json!(p.instance_id));
                    a.insert("device_owner".into(), json!(owner));
                    a.insert("binding:host_id".into(), json!(p.host));
                    self.network.update_port(&svc, port_id, a).await?
                }
            };
            let net = self
                .network
                .visible_network(&svc, &view.row.network_id)
                .await?;
            let ips: Vec<Value> = view
                .fixed_ips
                .iter()
                .map(|ip| {
                    let v6 = ip.ip_address.contains(':');
                    json!({"addr": ip.ip_address, "version": if v6 { 6 } else { 4 }})
                })
                .collect();
            info.push(json!({
                "port_id": view.row.id,
                "network_id": view.row.network_id,
                "network_name": net.name,
                "mac": view.row.mac_address,
                "ips": ips,
                "created": matches!(req, NetRequest::Network { .. }),
            }));
        }
        Ok(info)
    }

    /// Waits until the data plane reports every port ACTIVE (at once
    /// without a data plane), or `vif_plugging_timeout`.
    async fn wait_for_ports(&self, p: &BuildParams, info: &[Value]) -> Result<()> {
        let svc = service_context(&p.project_id, &p.user_id);
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(self.settings.vif_plugging_timeout);
        for n in info {
            let id = n["port_id"].as_str().unwrap_or("");
            loop {
                let port = self.network.show_port(&svc, id).await?;
                if port.row.status == "ACTIVE" {
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(Error::internal(format!(
                        "Timed out waiting for port {id} to become ACTIVE (vif_plugging_timeout)"
                    )));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        Ok(())
    }
}

impl Compute {
    /// The driver's view of an instance: its flavor, image and ports
    /// (`vifs`: the `network_info` the networking step recorded).
    pub async fn instance_spec(
        &self,
        row: &rows::InstanceRow,
        vifs: &[Value],
    ) -> Result<InstanceSpec> {
        Ok(InstanceSpec {
            id: row.id.clone(),
            name: format!("instance-{}", row.id),
            hostname: row.hostname.clone(),
            vcpus: row.vcpus,
            memory_mb: row.memory_mb,
            root_gb: row.root_gb,
            ephemeral_gb: row.ephemeral_gb,
            swap_mb: 0,
            image: self.image_ref(&row.image_ref).await?,
            vifs: vifs
                .iter()
                .map(|n| {
                    let port = n["port_id"].as_str().unwrap_or("").to_string();
                    Vif {
                        tap_name: format!("tap{}", port.chars().take(11).collect::<String>()),
                        mac: n["mac"].as_str().unwrap_or("").to_string(),
                        mtu: n["mtu"].as_u64().and_then(|m| u32::try_from(m).ok()),
                        port_id: port,
                    }
                })
                .collect(),
            user_data: row.user_data.as_deref().and_then(|u| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(u.trim())
                    .ok()
            }),
            config_drive: if row.config_drive.is_empty() {
                None
            } else {
                let md = self.instance_metadata(row.clone(), None).await?;
                let today: String = common::clock::iso_seconds(self.now())
                    .chars()
                    .take(10)
                    .collect();
                Some(md.config_drive_files(&today))
            },
        })
    }

    /// An image as a driver needs it, read without the caller's policy: the
    /// server's owner could see it when the server was created, and Nova
    /// boots (and rebuilds) from an image later made private too.
    pub async fn image_ref(&self, image_id: &str) -> Result<ImageRef> {
        let img = image::db::images::get(&self.image.db.pool, image_id)
            .await?
            .ok_or_else(|| Error::bad_request(format!("Image {image_id} could not be found.")))?;
        let prop = |k: &str| {
            img.properties
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Ok(ImageRef {
            id: img.id.clone(),
            disk_format: img.disk_format.clone().unwrap_or_else(|| "raw".into()),
            container_format: img
                .container_format
                .clone()
                .unwrap_or_else(|| "bare".into()),
            size: img.size,
            hash_algo: img.os_hash_algo.clone(),
            hash_value: img.os_hash_value.clone(),
            kernel_id: prop("kernel_id"),
            ramdisk_id: prop("ramdisk_id"),
            os_command_line: prop("os_command_line"),
        })
    }
}

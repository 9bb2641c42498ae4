//! The fake driver (Nova's `fake.FakeDriver`): guests are entries in a
//! map with a spec, a power state and console lines; nothing on the host
//! is touched. Spawning takes `spawn_delay_ms` (a snapshot
//! `snapshot_delay`, see [`FakeDriver::with_snapshot_delay`]), and `fail_spawn` makes
//! every spawn fail (the tests' failure injection for the build saga).
//! A guest's disk is its image untouched: a snapshot streams the image's
//! bytes through the [`ImageFetcher`] when one is given, else nothing.
//! It has no VNC server: `open_console` is [`VirtError::Unsupported`].

use super::{
    ConsoleStream, CpuStats, Diagnostics, DiskStats, ImageFetcher, ImageRef, InstanceSpec,
    NicStats, PowerState, RebootKind, Snapshot, Vif, VirtDriver, VirtError, VirtResult,
};
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
struct Guest {
    spec: InstanceSpec,
    state: PowerState,
    console: Vec<String>,
    /// The spec before a resize, until it is confirmed or reverted.
    before_resize: Option<InstanceSpec>,
    /// The image a rescue booted, while rescued.
    rescue_image: Option<String>,
}

/// In-memory guests.
#[derive(Default)]
pub struct FakeDriver {
    guests: Mutex<HashMap<String, Guest>>,
    spawn_delay: Duration,
    snapshot_delay: Duration,
    fail_spawn: bool,
    images: Option<Arc<dyn ImageFetcher>>,
}

impl std::fmt::Debug for FakeDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeDriver")
            .field("guests", &self.guest_count())
            .field("spawn_delay", &self.spawn_delay)
            .field("fail_spawn", &self.fail_spawn)
            .finish()
    }
}

impl FakeDriver {
    pub fn new(spawn_delay_ms: u64, fail_spawn: bool) -> FakeDriver {
        FakeDriver {
            guests: Mutex::default(),
            spawn_delay: Duration::from_millis(spawn_delay_ms),
            snapshot_delay: Duration::ZERO,
            fail_spawn,
            images: None,
        }
    }

    /// Snapshots take `ms` milliseconds, so the server is seen in task
    /// state `image_snapshot` meanwhile, as with a real disk.
    pub fn with_snapshot_delay(mut self, ms: u64) -> FakeDriver {
        self.snapshot_delay = Duration::from_millis(ms);
        self
    }

    /// Where snapshots read the guests' (untouched) disks from.
    pub fn with_images(mut self, images: Arc<dyn ImageFetcher>) -> FakeDriver {
        self.images = Some(images);
        self
    }

    /// How many guests exist (tests check destroy removed them).
    pub fn guest_count(&self) -> usize {
        self.guests.lock().map(|g| g.len()).unwrap_or(0)
    }

    /// Runs `f` on guest `id`, or `NotFound`.
    fn with_guest<T>(&self, id: &str, f: impl FnOnce(&mut Guest) -> T) -> VirtResult<T> {
        let mut guests = self
            .guests
            .lock()
            .map_err(|_| VirtError::Failed("fake driver state poisoned".into()))?;
        guests
            .get_mut(id)
            .map(f)
            .ok_or_else(|| VirtError::NotFound(id.to_string()))
    }

    fn set(&self, id: &str, state: PowerState, line: &str) -> VirtResult<()> {
        self.with_guest(id, |g| {
            g.state = state;
            g.console.push(line.to_string());
        })
    }

    /// Puts `spec` in place of the guest's, running, with a console line.
    fn restart_as(&self, spec: &InstanceSpec, line: String) -> VirtResult<()> {
        self.with_guest(&spec.id, |g| {
            g.spec = spec.clone();
            g.state = PowerState::Running;
            g.console.push(line);
        })
    }
}

/// What the fake guest "prints" while booting: a line per fact of its
/// spec (as a real boot log names its CPUs, memory, disks and NICs), then
/// the login prompt. Deterministic, so tests can look for lines in it.
fn boot_log(spec: &InstanceSpec) -> Vec<String> {
    let mut log = vec![
        format!("fake guest {} booting image {}", spec.name, spec.image.id),
        format!("vcpus={} memory_mb={}", spec.vcpus, spec.memory_mb),
        format!(
            "root_gb={} ephemeral_gb={} swap_mb={}",
            spec.root_gb, spec.ephemeral_gb, spec.swap_mb
        ),
    ];
    for (i, vif) in spec.vifs.iter().enumerate() {
        log.push(format!("eth{i}: link up, mac {}", vif.mac));
    }
    log.push(format!(
        "{} login: booted by the fake driver",
        spec.hostname
    ));
    log
}

impl VirtDriver for FakeDriver {
    fn spawn<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            if !self.spawn_delay.is_zero() {
                tokio::time::sleep(self.spawn_delay).await;
            }
            if self.fail_spawn {
                return Err(VirtError::Failed(format!(
                    "Build of instance {} aborted: the fake driver was told to fail spawning",
                    spec.id
                )));
            }
            let mut guests = self
                .guests
                .lock()
                .map_err(|_| VirtError::Failed("fake driver state poisoned".into()))?;
            guests.insert(
                spec.id.clone(),
                Guest {
                    spec: spec.clone(),
                    state: PowerState::Running,
                    console: boot_log(spec),
                    before_resize: None,
                    rescue_image: None,
                },
            );
            Ok(())
        })
    }

    fn destroy<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            let mut guests = self
                .guests
                .lock()
                .map_err(|_| VirtError::Failed("fake driver state poisoned".into()))?;
            guests.remove(id);
            Ok(())
        })
    }

    fn reboot<'a>(&'a self, id: &'a str, kind: RebootKind) -> BoxFuture<'a, VirtResult<()>> {
        let line = match kind {
            RebootKind::Soft => "reboot: soft",
            RebootKind::Hard => "reboot: hard",
        };
        Box::pin(async move { self.set(id, PowerState::Running, line) })
    }

    fn power_off<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move { self.set(id, PowerState::Shutdown, "power off") })
    }

    fn power_on<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move { self.set(id, PowerState::Running, "power on") })
    }

    fn pause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move { self.set(id, PowerState::Paused, "paused") })
    }

    fn unpause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move { self.set(id, PowerState::Running, "unpaused") })
    }

    fn suspend<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move { self.set(id, PowerState::Suspended, "suspended") })
    }

    fn resume<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move { self.set(id, PowerState::Running, "resumed") })
    }

    fn get_info<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<PowerState>> {
        Box::pin(async move {
            match self.with_guest(id, |g| g.state) {
                Err(VirtError::NotFound(_)) => Ok(PowerState::NoState),
                other => other,
            }
        })
    }

    fn list_instances<'a>(&'a self) -> BoxFuture<'a, VirtResult<Vec<String>>> {
        Box::pin(async move {
            let guests = self
                .guests
                .lock()
                .map_err(|_| VirtError::Failed("fake driver state poisoned".into()))?;
            let mut ids: Vec<String> = guests.keys().cloned().collect();
            ids.sort();
            Ok(ids)
        })
    }

    fn console_output<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<Vec<String>>> {
        Box::pin(async move { self.with_guest(id, |g| g.console.clone()) })
    }

    fn rebuild<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(
            async move { self.restart_as(spec, format!("rebuilt from image {}", spec.image.id)) },
        )
    }

    fn resize<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            self.with_guest(&spec.id, |g| {
                g.before_resize.get_or_insert_with(|| g.spec.clone());
            })?;
            self.restart_as(
                spec,
                format!("resized: vcpus={} memory_mb={}", spec.vcpus, spec.memory_mb),
            )
        })
    }

    fn confirm_resize<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            self.with_guest(id, |g| {
                g.before_resize = None;
            })
        })
    }

    fn revert_resize<'a>(&'a self, old: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            self.with_guest(&old.id, |g| {
                g.before_resize = None;
            })?;
            self.restart_as(old, "resize reverted".into())
        })
    }

    fn snapshot<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<Snapshot>> {
        Box::pin(async move {
            let image = self.with_guest(id, |g| g.spec.image.clone())?;
            if !self.snapshot_delay.is_zero() {
                tokio::time::sleep(self.snapshot_delay).await;
            }
            let data = match &self.images {
                Some(images) => images.fetch(&image.id).await?,
                None => Box::pin(futures_util::stream::empty()),
            };
            Ok(Snapshot {
                disk_format: image.disk_format,
                container_format: image.container_format,
                data,
            })
        })
    }

    fn rescue<'a>(
        &'a self,
        spec: &'a InstanceSpec,
        rescue_image: &'a ImageRef,
    ) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            self.with_guest(&spec.id, |g| {
                g.rescue_image = Some(rescue_image.id.clone());
                g.state = PowerState::Running;
                g.console
                    .push(format!("rescue: booted from image {}", rescue_image.id));
            })
        })
    }

    fn unrescue<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            self.with_guest(&spec.id, |g| g.rescue_image = None)?;
            self.restart_as(spec, "unrescued".into())
        })
    }

    fn attach_interface<'a>(&'a self, id: &'a str, vif: &'a Vif) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            self.with_guest(id, |g| {
                if !g.spec.vifs.iter().any(|v| v.port_id == vif.port_id) {
                    g.spec.vifs.push(vif.clone());
                }
            })
        })
    }

    fn detach_interface<'a>(
        &'a self,
        id: &'a str,
        port_id: &'a str,
    ) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(
            async move { self.with_guest(id, |g| g.spec.vifs.retain(|v| v.port_id != port_id)) },
        )
    }

    /// The fake guest's own numbers: its flavor's CPUs and memory, one
    /// disk, its ports; counters it has none of are zero, as Nova's fake
    /// driver reports (`driver` is `libvirt`, the only QEMU family the
    /// API's schema knows).
    fn diagnostics<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<Diagnostics>> {
        Box::pin(async move {
            self.with_guest(id, |g| Diagnostics {
                state: match g.state {
                    PowerState::Running => "running",
                    PowerState::Paused => "paused",
                    PowerState::Shutdown => "shutdown",
                    PowerState::Crashed => "crashed",
                    PowerState::Suspended => "suspended",
                    PowerState::NoState => "pending",
                }
                .into(),
                driver: "libvirt".into(),
                hypervisor: Some("fake".into()),
                hypervisor_os: Some("linux".into()),
                uptime_s: Some(0),
                config_drive: g.spec.config_drive.is_some(),
                num_cpus: g.spec.vcpus,
                memory_max_mb: Some(g.spec.memory_mb),
                memory_used_mb: Some(0),
                cpus: (0..g.spec.vcpus)
                    .map(|i| CpuStats {
                        id: Some(i),
                        time: Some(0),
                        utilisation: None,
                    })
                    .collect(),
                nics: g
                    .spec
                    .vifs
                    .iter()
                    .map(|v| NicStats {
                        mac_address: Some(v.mac.clone()),
                        rx_octets: Some(0),
                        rx_errors: Some(0),
                        rx_drop: Some(0),
                        rx_packets: Some(0),
                        tx_octets: Some(0),
                        tx_errors: Some(0),
                        tx_drop: Some(0),
                        tx_packets: Some(0),
                        ..NicStats::default()
                    })
                    .collect(),
                disks: vec![DiskStats {
                    read_bytes: Some(0),
                    read_requests: Some(0),
                    write_bytes: Some(0),
                    write_requests: Some(0),
                    errors_count: Some(0),
                }],
            })
        })
    }

    fn open_console<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<ConsoleStream>> {
        Box::pin(async move {
            self.with_guest(id, |_| ())?;
            Err(VirtError::Unsupported(
                "The fake driver has no graphical console.".into(),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn spec(id: &str) -> InstanceSpec {
        InstanceSpec {
            id: id.into(),
            name: format!("instance-{id}"),
            hostname: "vm".into(),
            vcpus: 1,
            memory_mb: 512,
            root_gb: 1,
            ephemeral_gb: 0,
            swap_mb: 0,
            image: ImageRef {
                id: "img".into(),
                disk_format: "raw".into(),
                container_format: "bare".into(),
                size: None,
                hash_algo: None,
                hash_value: None,
                kernel_id: None,
                ramdisk_id: None,
                os_command_line: None,
            },
            vifs: vec![],
            user_data: None,
            config_drive: None,
        }
    }

    #[tokio::test]
    async fn guests_go_through_their_power_states() {
        let d = FakeDriver::new(0, false);
        d.spawn(&spec("a")).await.unwrap();
        assert_eq!(d.get_info("a").await.unwrap(), PowerState::Running);
        d.pause("a").await.unwrap();
        assert_eq!(d.get_info("a").await.unwrap(), PowerState::Paused);
        d.power_off("a").await.unwrap();
        assert_eq!(d.get_info("a").await.unwrap(), PowerState::Shutdown);
        d.reboot("a", RebootKind::Hard).await.unwrap();
        assert_eq!(d.get_info("a").await.unwrap(), PowerState::Running);
        assert!(d.console_output("a").await.unwrap().len() >= 3);
        d.destroy("a").await.unwrap();
        d.destroy("a").await.unwrap();
        assert_eq!(d.get_info("a").await.unwrap(), PowerState::NoState);
        assert_eq!(
            d.pause("a").await.unwrap_err(),
            VirtError::NotFound("a".into())
        );
    }

    #[tokio::test]
    async fn a_resize_is_confirmed_or_reverted() {
        let d = FakeDriver::new(0, false);
        let old = spec("r");
        d.spawn(&old).await.unwrap();
        let mut new = old.clone();
        new.vcpus = 2;
        d.resize(&new).await.unwrap();
        d.revert_resize(&old).await.unwrap();
        assert_eq!(d.with_guest("r", |g| g.spec.vcpus).unwrap(), 1);
        d.resize(&new).await.unwrap();
        d.confirm_resize("r").await.unwrap();
        assert_eq!(d.with_guest("r", |g| g.spec.vcpus).unwrap(), 2);
        assert_eq!(d.list_instances().await.unwrap(), vec!["r".to_string()]);
        assert!(matches!(
            d.open_console("r").await,
            Err(VirtError::Unsupported(_))
        ));
    }

    #[tokio::test]
    async fn an_injected_failure_fails_the_spawn() {
        let d = FakeDriver::new(0, true);
        assert!(matches!(
            d.spawn(&spec("b")).await,
            Err(VirtError::Failed(_))
        ));
        assert_eq!(d.guest_count(), 0);
    }
}

//! The fake driver (Nova's `fake.FakeDriver`): guests are entries in a
//! map with a power state and console lines; nothing on the host is
//! touched. Spawning takes `spawn_delay_ms`, and `fail_spawn` makes every
//! spawn fail (the tests' failure injection for the build saga).

use super::{InstanceSpec, PowerState, RebootKind, VirtDriver, VirtError, VirtResult};
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone)]
struct Guest {
    state: PowerState,
    console: Vec<String>,
}

/// In-memory guests.
#[derive(Debug, Default)]
pub struct FakeDriver {
    guests: Mutex<HashMap<String, Guest>>,
    spawn_delay: Duration,
    fail_spawn: bool,
}

impl FakeDriver {
    pub fn new(spawn_delay_ms: u64, fail_spawn: bool) -> FakeDriver {
        FakeDriver {
            guests: Mutex::default(),
            spawn_delay: Duration::from_millis(spawn_delay_ms),
            fail_spawn,
        }
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
                    state: PowerState::Running,
                    console: vec![
                        format!("{} login: booted by the fake driver", spec.hostname),
                        format!("vcpus={} memory_mb={}", spec.vcpus, spec.memory_mb),
                    ],
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

    fn console_output<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<Vec<String>>> {
        Box::pin(async move { self.with_guest(id, |g| g.console.clone()) })
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
            vcpus: 1,
            memory_mb: 512,
            root_gb: 1,
            image_id: "img".into(),
            disk_path: None,
            vifs: vec![],
            user_data: None,
            hostname: "vm".into(),
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
    async fn an_injected_failure_fails_the_spawn() {
        let d = FakeDriver::new(0, true);
        assert!(matches!(
            d.spawn(&spec("b")).await,
            Err(VirtError::Failed(_))
        ));
        assert_eq!(d.guest_count(), 0);
    }
}

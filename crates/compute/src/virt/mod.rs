//! The hypervisor seam (Nova's `virt.driver.ComputeDriver`): what the
//! build saga and the server actions ask of a compute host. `fake` keeps
//! guests in memory (tests, `compute_driver = "fake"`); the QEMU driver
//! of the agent's compute role implements the same trait.

pub mod fake;

use futures_util::future::BoxFuture;

/// Nova's `power_state` numbers, as `OS-EXT-STS:power_state` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerState {
    NoState = 0,
    Running = 1,
    Paused = 3,
    Shutdown = 4,
    Crashed = 6,
    Suspended = 7,
}

impl PowerState {
    pub fn code(self) -> i64 {
        self as i64
    }
}

/// One port a guest is plugged into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vif {
    pub port_id: String,
    /// The host-side device (`tap` + the port id's first 11 characters,
    /// as Neutron's Linux bridge agent names it).
    pub tap_name: String,
    pub mac: String,
}

/// What a driver needs to start a guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSpec {
    pub id: String,
    /// The hypervisor's name for it (`instance-<id>`).
    pub name: String,
    pub vcpus: i64,
    pub memory_mb: i64,
    pub root_gb: i64,
    pub image_id: String,
    /// Where the root disk lives, when the driver keeps disks on files.
    pub disk_path: Option<String>,
    pub vifs: Vec<Vif>,
    /// Decoded `user_data`.
    pub user_data: Option<Vec<u8>>,
    pub hostname: String,
}

/// How a reboot is done (`reboot.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebootKind {
    Soft,
    Hard,
}

/// A driver's failure, shown as the server's fault message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VirtError {
    #[error("Instance {0} could not be found.")]
    NotFound(String),
    #[error("{0}")]
    Failed(String),
}

pub type VirtResult<T> = Result<T, VirtError>;

/// A hypervisor. Every call is idempotent where Nova's are (destroying
/// a guest that is gone succeeds), as the build saga may repeat them
/// after a restart.
pub trait VirtDriver: Send + Sync {
    fn spawn<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>>;
    /// Removes the guest; a guest that does not exist is no error.
    fn destroy<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>>;
    fn reboot<'a>(&'a self, id: &'a str, kind: RebootKind) -> BoxFuture<'a, VirtResult<()>>;
    fn power_off<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>>;
    fn power_on<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>>;
    fn pause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>>;
    fn unpause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>>;
    fn suspend<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>>;
    fn resume<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>>;
    /// The guest's power state (`NoState` when there is no such guest).
    fn get_info<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<PowerState>>;
    /// The guest's console log lines.
    fn console_output<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<Vec<String>>>;
}

/// The driver for `compute_driver = "qemu"` until the agent's compute
/// role serves one: every call fails, so a build ends in ERROR with this
/// message rather than pretending a guest runs.
#[derive(Debug, Default)]
pub struct Unavailable;

fn unavailable<'a, T: Send + 'a>() -> BoxFuture<'a, VirtResult<T>> {
    Box::pin(async {
        Err(VirtError::Failed(
            "No hypervisor driver is available on this host (compute_driver = qemu needs \
             the agent's compute role)"
                .into(),
        ))
    })
}

impl VirtDriver for Unavailable {
    fn spawn<'a>(&'a self, _: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        unavailable()
    }
    fn destroy<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        // Nothing was ever spawned here.
        Box::pin(async { Ok(()) })
    }
    fn reboot<'a>(&'a self, _: &'a str, _: RebootKind) -> BoxFuture<'a, VirtResult<()>> {
        unavailable()
    }
    fn power_off<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        unavailable()
    }
    fn power_on<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        unavailable()
    }
    fn pause<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        unavailable()
    }
    fn unpause<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        unavailable()
    }
    fn suspend<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        unavailable()
    }
    fn resume<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        unavailable()
    }
    fn get_info<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<PowerState>> {
        Box::pin(async { Ok(PowerState::NoState) })
    }
    fn console_output<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<Vec<String>>> {
        unavailable()
    }
}

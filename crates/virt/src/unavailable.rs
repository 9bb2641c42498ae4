//! The driver of a controller that has no compute host to drive: every
//! call fails with one clear message, so a build ends in ERROR saying why
//! rather than pretending a guest runs.

use super::{
    ConsoleStream, ImageRef, InstanceSpec, PowerState, RebootKind, Snapshot, Vif, VirtDriver,
    VirtError, VirtResult,
};
use futures_util::future::BoxFuture;

/// Fails every call but `destroy` (nothing was ever spawned), `get_info`
/// and `list_instances` (nothing runs).
#[derive(Debug, Clone)]
pub struct Unavailable {
    pub reason: String,
}

impl Unavailable {
    fn fail<'a, T: Send + 'a>(&self) -> BoxFuture<'a, VirtResult<T>> {
        let reason = self.reason.clone();
        Box::pin(async move { Err(VirtError::Failed(reason)) })
    }
}

impl VirtDriver for Unavailable {
    fn spawn<'a>(&'a self, _: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        self.fail()
    }
    fn destroy<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async { Ok(()) })
    }
    fn reboot<'a>(&'a self, _: &'a str, _: RebootKind) -> BoxFuture<'a, VirtResult<()>> {
        self.fail()
    }
    fn power_off<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        self.fail()
    }
    fn power_on<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        self.fail()
    }
    fn pause<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        self.fail()
    }
    fn unpause<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        self.fail()
    }
    fn suspend<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        self.fail()
    }
    fn resume<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        self.fail()
    }
    fn get_info<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<PowerState>> {
        Box::pin(async { Ok(PowerState::NoState) })
    }
    fn list_instances<'a>(&'a self) -> BoxFuture<'a, VirtResult<Vec<String>>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn console_output<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<Vec<String>>> {
        self.fail()
    }
    fn rebuild<'a>(&'a self, _: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        self.fail()
    }
    fn resize<'a>(&'a self, _: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        self.fail()
    }
    fn confirm_resize<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        self.fail()
    }
    fn revert_resize<'a>(&'a self, _: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        self.fail()
    }
    fn snapshot<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<Snapshot>> {
        self.fail()
    }
    fn rescue<'a>(&'a self, _: &'a InstanceSpec, _: &'a ImageRef) -> BoxFuture<'a, VirtResult<()>> {
        self.fail()
    }
    fn unrescue<'a>(&'a self, _: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        self.fail()
    }
    fn attach_interface<'a>(&'a self, _: &'a str, _: &'a Vif) -> BoxFuture<'a, VirtResult<()>> {
        self.fail()
    }
    fn detach_interface<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        self.fail()
    }
    fn open_console<'a>(&'a self, _: &'a str) -> BoxFuture<'a, VirtResult<ConsoleStream>> {
        self.fail()
    }
}

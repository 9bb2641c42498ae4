//! The process handling the agent's own daemons share (dnsmasq per
//! network, radvd per router): whether a pid is still a live process and
//! how one is stopped.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

/// How long a daemon gets between SIGTERM and SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// Whether `pid` is a live process.
pub fn alive(pid: Pid) -> bool {
    // A zombie still answers kill(0); its state in /proc says it is gone.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Stops `pid` (blocking): SIGTERM, then SIGKILL if it is still alive
/// after [`STOP_GRACE`].
pub fn stop(pid: Pid) {
    let _ = kill(pid, Signal::SIGTERM);
    let deadline = Instant::now() + STOP_GRACE;
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive(pid) {
        let _ = kill(pid, Signal::SIGKILL);
    }
}

//! The gate for tests that need root, network namespaces or QEMU.
//!
//! Such a test is named `root_…` and starts with
//! [`require_root!`](crate::require_root) naming what it needs. Without `OXISTACK_ROOT_TESTS=1` the test says on the terminal
//! that it is skipped and why, and returns (it counts as passed: cargo's
//! harness has no "skipped" outcome). With it set, a missing need is a
//! failure, not a skip: CI and `scripts/test.sh` (as root) set it, and an
//! environment that cannot run what it promised must not pass quietly.
//! The `root_` prefix is what `.config/nextest.toml` matches to show the
//! skip line of passing tests (cargo's own harness shows it anyway).

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The variable that turns the gated tests on.
pub const ROOT_TESTS_ENV: &str = "OXISTACK_ROOT_TESTS";

/// Something a gated test needs from the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Running as uid 0.
    Root,
    /// Creating and deleting network namespaces with `ip netns` (implies
    /// root and iproute2).
    NetNs,
    /// A program on `PATH` (`python3`, `dnsmasq`, `nft`, …).
    Command(&'static str),
    /// `qemu-system-x86_64` on `PATH` (TCG is enough; KVM is not needed).
    Qemu,
}

/// Whether gated tests are asked for.
pub fn enabled() -> bool {
    std::env::var(ROOT_TESTS_ENV).is_ok_and(|v| v == "1")
}

/// `Ok(true)`: run the test. `Ok(false)`: gated tests are off; the skip
/// has been written to the terminal. `Err`: they are on and `needs` are
/// not met. Use it through [`require_root!`](crate::require_root).
pub fn gate(needs: &[Need]) -> Result<bool> {
    let test = std::thread::current()
        .name()
        .unwrap_or("a gated test")
        .to_string();
    if !enabled() {
        // Straight to the terminal: the test harness captures `eprintln!`
        // of passing tests, and a skip must be seen.
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED {test}: needs {needs:?}; run as root with {ROOT_TESTS_ENV}=1"
        );
        return Ok(false);
    }
    for need in needs {
        check(*need)
            .with_context(|| format!("{test}: {ROOT_TESTS_ENV}=1 but {need:?} is missing"))?;
    }
    Ok(true)
}

fn check(need: Need) -> Result<()> {
    match need {
        Need::Root => {
            // /proc/self belongs to the process's effective uid.
            let uid = std::fs::metadata("/proc/self")
                .context("reading /proc/self")?
                .uid();
            if uid != 0 {
                bail!("running as uid {uid}, not root");
            }
            Ok(())
        }
        Need::NetNs => {
            check(Need::Root)?;
            check(Need::Command("ip"))?;
            // Creating one is the only sure test (a container may forbid it).
            // Named like a TestNet namespace, so a probe left by a killed
            // process is swept like one; unique across parallel tests.
            static PROBES: AtomicUsize = AtomicUsize::new(0);
            let probe = format!(
                "{}{}-probe{}",
                crate::netns::PREFIX,
                std::process::id(),
                PROBES.fetch_add(1, Ordering::Relaxed)
            );
            let out = Command::new("ip")
                .args(["netns", "add", &probe])
                .output()
                .context("running ip netns add")?;
            let _ = Command::new("ip").args(["netns", "del", &probe]).output();
            if !out.status.success() {
                bail!(
                    "cannot create a network namespace: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            Ok(())
        }
        Need::Command(name) => {
            if on_path(name) {
                Ok(())
            } else {
                bail!("{name} is not on PATH")
            }
        }
        Need::Qemu => check(Need::Command("qemu-system-x86_64")),
    }
}

fn on_path(name: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        let f = dir.join(name);
        is_executable(&f)
    })
}

fn is_executable(f: &Path) -> bool {
    std::fs::metadata(f).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
}

/// Starts a gated test: returns from it (a visible skip) unless
/// `OXISTACK_ROOT_TESTS=1`, and fails it when that is set but a need is
/// not met.
///
/// ```no_run
/// use testkit::root::Need;
///
/// fn root_two_hosts_talk() {
///     testkit::require_root!(Need::NetNs, Need::Command("python3"));
///     // …
/// }
/// # root_two_hosts_talk();
/// ```
#[macro_export]
macro_rules! require_root {
    ($($need:expr),* $(,)?) => {
        match $crate::root::gate(&[$($need),*]) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => panic!("{e:#}"),
        }
    };
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn gate_skips_when_off_and_fails_when_on_and_unmet() {
        let r = gate(&[Need::Command("oxt-no-such-program")]);
        if enabled() {
            let e = format!("{:#}", r.unwrap_err());
            assert!(e.contains("oxt-no-such-program is not on PATH"), "{e}");
        } else {
            assert!(!r.unwrap());
        }
    }

    #[test]
    fn needs_are_checked() {
        assert!(check(Need::Command("sh")).is_ok());
        assert!(check(Need::Command("oxt-no-such-program")).is_err());
        let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
        assert_eq!(check(Need::Root).is_ok(), root);
    }
}

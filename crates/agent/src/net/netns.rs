//! Named network namespaces, made and used without forking the agent.
//!
//! A namespace is made as `ip netns add` makes it (so `ip netns` sees it):
//! a thread `unshare`s a new network namespace and bind-mounts its
//! `/proc/thread-self/ns/net` on `/run/netns/NAME`, which keeps it alive
//! after the thread ends. Work inside a namespace runs on a dedicated
//! thread that `setns`es into it first: a socket opened there (a netlink
//! connection, a listener) belongs to that namespace for its whole life,
//! wherever it is used afterwards, and a process spawned from there starts
//! inside it. The agent's own threads never change namespace.
//!
//! `nix` (safe wrappers over `unshare`, `setns`, `mount`) is used rather
//! than raw `libc` because the workspace denies unsafe code.

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Where named namespaces live (iproute2's `NETNS_RUN_DIR`).
pub const RUN_DIR: &str = "/run/netns";

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("network namespace {name}: {op}: {source}")]
    Sys {
        name: String,
        op: &'static str,
        source: std::io::Error,
    },
    #[error("network namespace {0}: the worker thread panicked")]
    Panicked(String),
    #[error("invalid network namespace name {0:?}")]
    BadName(String),
}

fn sys<'a>(name: &'a str, op: &'static str) -> impl FnOnce(nix::Error) -> NetnsError + 'a {
    move |e| NetnsError::Sys {
        name: name.to_string(),
        op,
        source: std::io::Error::from(e),
    }
}

fn io<'a>(name: &'a str, op: &'static str) -> impl FnOnce(std::io::Error) -> NetnsError + 'a {
    move |source| NetnsError::Sys {
        name: name.to_string(),
        op,
        source,
    }
}

/// The path of namespace `name`'s handle.
pub fn path(name: &str) -> PathBuf {
    Path::new(RUN_DIR).join(name)
}

fn check_name(name: &str) -> Result<(), NetnsError> {
    // As iproute2: one path component, no traversal.
    if name.is_empty() || name.len() > 255 || name.contains('/') || name == "." || name == ".." {
        return Err(NetnsError::BadName(name.to_string()));
    }
    Ok(())
}

/// Whether namespace `name` exists.
pub fn exists(name: &str) -> bool {
    check_name(name).is_ok() && path(name).exists()
}

/// Every named namespace (for reconciliation by name prefix).
pub fn list() -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    match std::fs::read_dir(RUN_DIR) {
        Ok(entries) => {
            for e in entries {
                out.push(e?.file_name().to_string_lossy().into_owned());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    out.sort();
    Ok(out)
}

/// Makes namespace `name` unless it exists (idempotent). A namespace
/// half made (a handle file nothing is mounted on, left by a crash) is
/// made again.
pub fn create(name: &str) -> Result<(), NetnsError> {
    check_name(name)?;
    std::fs::create_dir_all(RUN_DIR).map_err(io(name, "mkdir /run/netns"))?;
    let target = path(name);
    if target.exists() {
        if File::open(&target).ok().is_some_and(|f| setns_probe(&f)) {
            return Ok(());
        }
        let _ = umount2(&target, MntFlags::MNT_DETACH);
        std::fs::remove_file(&target).map_err(io(name, "remove stale handle"))?;
    }
    File::create(&target).map_err(io(name, "create handle"))?;
    let owned = name.to_string();
    let made = std::thread::spawn(move || -> Result<(), NetnsError> {
        let name = owned.as_str();
        unshare(CloneFlags::CLONE_NEWNET).map_err(sys(name, "unshare"))?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &path(name),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(sys(name, "bind mount"))
    })
    .join()
    .map_err(|_| NetnsError::Panicked(name.to_string()))?;
    if made.is_err() {
        let _ = std::fs::remove_file(&target);
    }
    made
}

/// Whether `f` is a network namespace handle (a mounted one answers the
/// NS_GET_NSTYPE-free check: it is not a plain empty file).
fn setns_probe(f: &File) -> bool {
    // A bind-mounted nsfs handle reports size 0 but lives on nsfs, whose
    // device differs from /run's; a leftover plain file shares /run's.
    match (f.metadata(), std::fs::metadata(RUN_DIR)) {
        (Ok(h), Ok(dir)) => {
            use std::os::unix::fs::MetadataExt;
            h.dev() != dir.dev()
        }
        _ => false,
    }
}

/// Removes namespace `name` (idempotent). Processes still inside keep it
/// alive until they exit, as with `ip netns del`.
pub fn delete(name: &str) -> Result<(), NetnsError> {
    check_name(name)?;
    let target = path(name);
    if !target.exists() {
        return Ok(());
    }
    let _ = umount2(&target, MntFlags::MNT_DETACH);
    match std::fs::remove_file(&target) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(name, "remove handle")(e)),
    }
}

/// Runs `f` on a new thread inside namespace `name` and returns its
/// result; `None` for `name` runs it in the agent's own namespace (a
/// host's root namespace, or the one the agent was started in).
pub fn run_in<F, R>(name: Option<&str>, f: F) -> Result<R, NetnsError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let handle = match name {
        Some(n) => {
            check_name(n)?;
            Some(File::open(path(n)).map_err(io(n, "open"))?)
        }
        None => None,
    };
    let label = name.unwrap_or("(own)").to_string();
    let worker = label.clone();
    std::thread::spawn(move || -> Result<R, NetnsError> {
        if let Some(h) = handle {
            setns(&h, CloneFlags::CLONE_NEWNET).map_err(sys(&worker, "setns"))?;
        }
        Ok(f())
    })
    .join()
    .map_err(|_| NetnsError::Panicked(label))?
}

/// Spawns `cmd` inside namespace `name` (the child starts there; the
/// agent does not fork itself into it).
pub fn spawn_in(
    name: Option<&str>,
    mut cmd: std::process::Command,
) -> Result<std::process::Child, NetnsError> {
    let label = name.unwrap_or("(own)").to_string();
    run_in(name, move || cmd.spawn())?.map_err(io(&label, "spawn"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_path_component() {
        for bad in ["", ".", "..", "a/b", "/x"] {
            assert!(
                matches!(check_name(bad), Err(NetnsError::BadName(_))),
                "{bad}"
            );
        }
        assert!(check_name("qrouter-1234").is_ok());
        assert!(!exists("../etc"));
    }

    #[test]
    fn run_in_own_namespace_returns_the_value() {
        let got = run_in(None, || 6 * 7).ok();
        assert_eq!(got, Some(42));
    }
}

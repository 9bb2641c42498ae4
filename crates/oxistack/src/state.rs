//! The state directory: created private, locked so one process owns it
//! (the lock file holds the owner's pid), and the files `up` writes there
//! for clients (`clouds.yaml`, `admin-openrc.sh`, the password files, the
//! pid file).

use anyhow::{Context, Result};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The lock file's name inside the state directory.
pub const LOCK_FILE: &str = "oxistack.lock";

/// A locked state directory; the lock is released when this is dropped.
#[derive(Debug)]
pub struct StateDir {
    pub path: PathBuf,
    /// Whether the directory was absent (`Absent`) or empty (`Empty`)
    /// before this open: a first start that fails removes what it made.
    pub fresh: Freshness,
    _lock: File,
}

/// What was at the state directory's path before `up` opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Absent,
    Empty,
    /// Held files already (a cloud, or something else we must not touch).
    Used,
}

impl StateDir {
    pub fn open(path: &Path) -> Result<StateDir> {
        let fresh = match std::fs::read_dir(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Freshness::Absent,
            Ok(mut entries) => {
                if entries.next().is_none() {
                    Freshness::Empty
                } else {
                    Freshness::Used
                }
            }
            Err(_) => Freshness::Used,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .with_context(|| format!("cannot create state directory {}", path.display()))?;
        let lock_path = path.join(LOCK_FILE);
        let mut lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .read(true)
            .mode(0o600)
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        if lock.try_lock().is_err() {
            let holder = match lock_holder(path) {
                Some(pid) => format!(" (pid {pid})"),
                None => String::new(),
            };
            anyhow::bail!(
                "another oxistack process{holder} is using the state directory {}",
                path.display()
            );
        }
        // The pid inside the lock file names the holder to a second `up`
        // and to `oxistack status`; the lock, not the file, decides.
        lock.set_len(0)?;
        lock.write_all(format!("{}\n", std::process::id()).as_bytes())?;
        Ok(StateDir {
            path: path.to_path_buf(),
            fresh,
            _lock: lock,
        })
    }

    /// The admin password: generated once, then read back on every start.
    pub fn admin_password(&self) -> Result<String> {
        let p = self.path.join(ADMIN_PASSWORD_FILE);
        match read_secret(&p) {
            Some(pw) => Ok(pw),
            None => {
                let pw = new_password();
                write_private(&p, &format!("{pw}\n"))?;
                Ok(pw)
            }
        }
    }

    /// The demo user's password file's content, if the cloud has one.
    pub fn demo_password(&self) -> Option<String> {
        read_secret(&self.path.join(DEMO_PASSWORD_FILE))
    }

    /// Undoes a failed first start at `path`: removes the directory when
    /// the open created it, empties it when it was empty; a used one is
    /// left alone.
    pub fn discard(path: &Path, fresh: Freshness) {
        let r = match fresh {
            Freshness::Absent => std::fs::remove_dir_all(path),
            Freshness::Empty => std::fs::read_dir(path).map(|entries| {
                for e in entries.flatten() {
                    let p = e.path();
                    let _ = if p.is_dir() {
                        std::fs::remove_dir_all(&p)
                    } else {
                        std::fs::remove_file(&p)
                    };
                }
            }),
            Freshness::Used => Ok(()),
        };
        if let Err(e) = r {
            tracing::warn!(error = %e, path = %path.display(), "cannot remove the half-made state directory");
        }
    }

    /// [`write_client_files`] into this directory.
    pub fn write_client_files(
        &self,
        auth_url: &str,
        password: &str,
        region: &str,
        demo_password: Option<&str>,
    ) -> Result<PathBuf> {
        write_client_files(&self.path, auth_url, password, region, demo_password)
    }

    pub fn write_pid(&self) -> Result<()> {
        write_private(
            &self.path.join("oxistack.pid"),
            &format!("{}\n", std::process::id()),
        )
    }

    /// Records where each API listens (`name address` lines), so
    /// `oxistack status` asks the ports the running cloud bound rather
    /// than what its own configuration says.
    pub fn write_apis(&self, apis: &[(&str, std::net::SocketAddr)]) -> Result<()> {
        let text: String = apis.iter().map(|(n, a)| format!("{n} {a}\n")).collect();
        write_private(&self.path.join(APIS_FILE), &text)
    }

    pub fn remove_pid(&self) {
        let _ = std::fs::remove_file(self.path.join(APIS_FILE));
        let _ = std::fs::remove_file(self.path.join("oxistack.pid"));
    }
}

/// Writes `clouds.yaml` (cloud `oxistack` for admin, and `oxistack-demo`
/// for the demo user when given) and `admin-openrc.sh` into `dir`.
pub fn write_client_files(
    dir: &Path,
    auth_url: &str,
    password: &str,
    region: &str,
    demo_password: Option<&str>,
) -> Result<PathBuf> {
    let clouds = dir.join("clouds.yaml");
    let entry = |cloud: &str, user: &str, project: &str, pw: &str| {
        format!(
            "  {cloud}:\n    auth:\n      auth_url: \"{auth_url}\"\n      username: \"{user}\"\n      \
             password: \"{pw}\"\n      project_name: \"{project}\"\n      user_domain_name: \"Default\"\n      \
             project_domain_name: \"Default\"\n    region_name: \"{region}\"\n    interface: \"public\"\n    \
             identity_api_version: 3\n"
        )
    };
    let mut text = format!("clouds:\n{}", entry("oxistack", "admin", "admin", password));
    if let Some(pw) = demo_password {
        text.push_str(&entry("oxistack-demo", "demo", "demo", pw));
    }
    write_private(&clouds, &text)?;
    write_private(
        &dir.join("admin-openrc.sh"),
        &format!(
            "# oxistack admin credentials: source this file, then use the openstack CLI.\n\
             export OS_AUTH_URL='{auth_url}'\nexport OS_USERNAME='admin'\nexport OS_PASSWORD='{password}'\n\
             export OS_PROJECT_NAME='admin'\nexport OS_USER_DOMAIN_NAME='Default'\n\
             export OS_PROJECT_DOMAIN_NAME='Default'\nexport OS_REGION_NAME='{region}'\n\
             export OS_INTERFACE='public'\nexport OS_IDENTITY_API_VERSION=3\n"
        ),
    )?;
    Ok(clouds)
}

/// The file listing where the running cloud's APIs listen.
pub const APIS_FILE: &str = "apis";

/// The APIs a running cloud recorded ([`StateDir::write_apis`]).
pub fn read_apis(state_dir: &Path) -> Vec<(String, std::net::SocketAddr)> {
    std::fs::read_to_string(state_dir.join(APIS_FILE))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (n, a) = l.split_once(' ')?;
            Some((n.to_string(), a.trim().parse().ok()?))
        })
        .collect()
}

/// The file holding the bootstrap admin's password.
pub const ADMIN_PASSWORD_FILE: &str = "admin-password";
/// The file holding the demo user's password.
pub const DEMO_PASSWORD_FILE: &str = "demo-password";

/// A fresh random password of letters and digits (easy to paste).
pub fn new_password() -> String {
    common::ids::random_secret(18)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

fn read_secret(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Refuses a state directory that holds no cloud (no `up` ever finished
/// there): the operator commands that rotate keys or reset passwords
/// would otherwise make a new, empty key set or database beside no cloud.
pub fn require_cloud(state_dir: &Path) -> Result<()> {
    if state_dir.join(LOCK_FILE).is_file() && state_dir.join(ADMIN_PASSWORD_FILE).is_file() {
        return Ok(());
    }
    anyhow::bail!(
        "no cloud in the state directory {} (it has no {LOCK_FILE} and {ADMIN_PASSWORD_FILE});          give the directory `oxistack up` runs with: --state-dir DIR, or state_dir in the          configuration file",
        state_dir.display()
    )
}

/// The pid written in the state directory's lock file, if any.
pub fn lock_holder(state_dir: &Path) -> Option<u32> {
    std::fs::read_to_string(state_dir.join(LOCK_FILE))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// Whether a process holds the state directory's lock, without creating
/// anything: `None` when there is no lock file (no cloud was started here).
pub fn is_locked(state_dir: &Path) -> Option<bool> {
    let f = File::options()
        .read(true)
        .open(state_dir.join(LOCK_FILE))
        .ok()?;
    match f.try_lock() {
        Ok(()) => {
            let _ = f.unlock();
            Some(false)
        }
        Err(_) => Some(true),
    }
}

/// Writes `text` to `path` with mode 0600 via a temporary file and rename,
/// so a reader never sees half a file.
pub fn write_private(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut f = File::options()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn lock_password_and_private_files() {
        let d = std::env::temp_dir().join(format!("oxistack-state-{}", common::ids::hex_id()));
        let s = StateDir::open(&d).unwrap();
        let e = StateDir::open(&d).unwrap_err().to_string();
        assert!(
            e.contains(&format!("pid {}", std::process::id())),
            "second opener is refused, naming the holder: {e}"
        );
        assert_eq!(is_locked(&d), Some(true));
        assert_eq!(s.fresh, Freshness::Absent);
        let pw = s.admin_password().unwrap();
        assert_eq!(s.admin_password().unwrap(), pw, "stable across calls");
        let clouds = s
            .write_client_files("http://127.0.0.1:5000/v3", &pw, "RegionOne", Some("d"))
            .unwrap();
        let mode = std::fs::metadata(&clouds).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&clouds).unwrap();
        assert!(text.contains(&pw));
        assert!(text.contains("  oxistack-demo:\n") && text.contains("username: \"demo\""));
        drop(s);
        assert_eq!(is_locked(&d), Some(false));
        assert!(StateDir::open(&d).is_ok(), "lock released on drop");
        assert_eq!(is_locked(Path::new("/nonexistent/oxistack")), None);
        std::fs::remove_dir_all(&d).unwrap();
    }
}

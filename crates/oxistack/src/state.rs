//! The state directory: created private, locked so one process owns it,
//! and the files `up` writes there for clients (`clouds.yaml`,
//! `admin-openrc.sh`, the pid file).

use anyhow::{Context, Result};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A locked state directory; the lock is released when this is dropped.
#[derive(Debug)]
pub struct StateDir {
    pub path: PathBuf,
    _lock: File,
}

impl StateDir {
    pub fn open(path: &Path) -> Result<StateDir> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .with_context(|| format!("cannot create state directory {}", path.display()))?;
        let lock_path = path.join("oxistack.lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        lock.try_lock().map_err(|_| {
            anyhow::anyhow!(
                "another oxistack process is using the state directory {}",
                path.display()
            )
        })?;
        Ok(StateDir {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    /// The admin password: generated once, then read back on every start.
    pub fn admin_password(&self) -> Result<String> {
        let p = self.path.join("admin-password");
        match std::fs::read_to_string(&p) {
            Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            _ => {
                let pw: String = common::ids::random_secret(18)
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .collect();
                write_private(&p, &format!("{pw}\n"))?;
                Ok(pw)
            }
        }
    }

    pub fn write_client_files(
        &self,
        auth_url: &str,
        password: &str,
        region: &str,
    ) -> Result<PathBuf> {
        let clouds = self.path.join("clouds.yaml");
        write_private(
            &clouds,
            &format!(
                "clouds:\n  oxistack:\n    auth:\n      auth_url: \"{auth_url}\"\n      username: \"admin\"\n      \
                 password: \"{password}\"\n      project_name: \"admin\"\n      user_domain_name: \"Default\"\n      \
                 project_domain_name: \"Default\"\n    region_name: \"{region}\"\n    interface: \"public\"\n    \
                 identity_api_version: 3\n"
            ),
        )?;
        write_private(
            &self.path.join("admin-openrc.sh"),
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

    pub fn write_pid(&self) -> Result<()> {
        write_private(
            &self.path.join("oxistack.pid"),
            &format!("{}\n", std::process::id()),
        )
    }

    pub fn remove_pid(&self) {
        let _ = std::fs::remove_file(self.path.join("oxistack.pid"));
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
        assert!(StateDir::open(&d).is_err(), "second opener is refused");
        let pw = s.admin_password().unwrap();
        assert_eq!(s.admin_password().unwrap(), pw, "stable across calls");
        let clouds = s
            .write_client_files("http://127.0.0.1:5000/v3", &pw, "RegionOne")
            .unwrap();
        let mode = std::fs::metadata(&clouds).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(std::fs::read_to_string(&clouds).unwrap().contains(&pw));
        drop(s);
        assert!(StateDir::open(&d).is_ok(), "lock released on drop");
        std::fs::remove_dir_all(&d).unwrap();
    }
}

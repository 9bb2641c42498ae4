//! Operator commands on a cloud's state: `oxistack admin reset-password`
//! and the checks the key rotations make before touching anything.

use crate::state;
use anyhow::{Context, Result};
use common::config::Config;
use std::path::PathBuf;

/// What `reset-password` did, for the command to print.
#[derive(Debug)]
pub struct PasswordReset {
    /// The new password (generated or given).
    pub password: String,
    pub generated: bool,
    pub password_file: PathBuf,
    pub clouds_yaml: PathBuf,
    pub openrc: PathBuf,
}

/// Sets the bootstrap admin's password in the store (a new random one
/// unless `given`), writes it to the state directory's password file and
/// rewrites `clouds.yaml` and `admin-openrc.sh`. Works while the cloud
/// runs: the running process sees the store's new revision.
pub async fn reset_password(cfg: &Config, given: Option<String>) -> Result<PasswordReset> {
    state::require_cloud(&cfg.state_dir)?;
    let (password, generated) = match given {
        Some(p) => {
            check_password(&p)?;
            (p, false)
        }
        None => (state::new_password(), true),
    };
    let db = db::Db::open(&cfg.database_url())
        .await
        .with_context(|| format!("opening the store {}", db::redact(&cfg.database_url())))?;
    let clock: common::clock::SharedClock = std::sync::Arc::new(common::clock::SystemClock);
    let id = identity::build(cfg, db, clock)?;
    id.reset_admin_password(&password)
        .await
        .map_err(|e| anyhow::anyhow!("setting the admin password: {e}"))?;
    id.db.close().await;
    let dir = &cfg.state_dir;
    let password_file = dir.join(state::ADMIN_PASSWORD_FILE);
    state::write_private(&password_file, &format!("{password}\n"))?;
    let demo = std::fs::read_to_string(dir.join(state::DEMO_PASSWORD_FILE))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let auth_url = identity::catalog_entry(cfg)?.public_url;
    let clouds_yaml =
        state::write_client_files(dir, &auth_url, &password, &cfg.region, demo.as_deref())?;
    Ok(PasswordReset {
        password,
        generated,
        password_file,
        clouds_yaml,
        openrc: dir.join("admin-openrc.sh"),
    })
}

/// A given password must survive being quoted in `clouds.yaml` (`"…"`)
/// and `admin-openrc.sh` (`'…'`), and be one line.
fn check_password(p: &str) -> Result<()> {
    if p.is_empty() {
        anyhow::bail!("the password must not be empty");
    }
    if p.chars()
        .any(|c| c.is_control() || matches!(c, '"' | '\'' | '\\'))
    {
        anyhow::bail!(
            "the password must not hold quotes, backslashes or control characters \
             (it is written quoted into clouds.yaml and admin-openrc.sh)"
        );
    }
    Ok(())
}

/// Checks before a key rotation: the state directory holds a cloud and
/// `dir` is a key repository with keys, so a typo never creates a fresh
/// key folder that no server reads.
pub fn check_key_repository(cfg: &Config, dir: &std::path::Path, what: &str) -> Result<()> {
    state::require_cloud(&cfg.state_dir)?;
    if !identity::token::keys::has_keys(dir) {
        anyhow::bail!(
            "{} holds no {what} keys; nothing to rotate (is the key repository configured \
             differently for the running cloud?)",
            dir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_passwords_must_quote_safely() {
        assert!(check_password("Ok-pass_1").is_ok());
        assert!(check_password("").is_err());
        assert!(check_password("a\"b").is_err());
        assert!(check_password("a'b").is_err());
        assert!(check_password("a\nb").is_err());
    }
}

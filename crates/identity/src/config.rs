//! `[identity]`: the identity service's section of the configuration
//! file, its defaults (Keystone's where it has them) and its rules.

use common::config::{Config, ConfigError, Section};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[identity]`: the Keystone service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    pub port: u16,
    /// Token lifetime in seconds (Keystone's `[token] expiration`).
    pub token_expiration: i64,
    /// Fernet keys kept by rotation (Keystone's `[fernet_tokens] max_active_keys`).
    pub max_active_keys: usize,
    /// Key repository; empty means `<state_dir>/fernet-keys`.
    pub key_repository: String,
    /// Key repository encrypting credential blobs; empty means
    /// `<state_dir>/credential-keys`.
    pub credential_key_repository: String,
    /// A JSON policy file whose rules override the defaults.
    pub policy_file: String,
    /// Argon2id memory cost in KiB.
    pub password_hash_memory_kib: u32,
    /// Argon2id iterations.
    pub password_hash_iterations: u32,
    /// Default page size when a list request gives no `limit`; 0 = unlimited
    /// as Keystone's `list_limit` unset.
    pub list_limit: usize,
    /// Keystone's `[security_compliance]` options, all off by default as in
    /// Keystone: failed password attempts before the account locks (0 = never).
    pub lockout_failure_attempts: u32,
    /// Seconds a locked account stays locked.
    pub lockout_duration: i64,
    /// Days a password stays valid (0 = forever).
    pub password_expires_days: u32,
    /// A new password must differ from this many previous ones (0 = off).
    pub unique_last_password_count: u32,
    /// Days before a user may change their password again (0 = any time).
    pub minimum_password_age: u32,
    /// A regular expression every new password must match (empty = any).
    pub password_regex: String,
    /// What `password_regex` asks for, in words shown to the user.
    pub password_regex_description: String,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            port: 5000,
            token_expiration: 3600,
            max_active_keys: 3,
            key_repository: String::new(),
            credential_key_repository: String::new(),
            policy_file: String::new(),
            // OWASP's Argon2id setting m=7 MiB, t=5: as strong as its
            // m=19 MiB, t=2, with a third of the memory per login.
            password_hash_memory_kib: 7 * 1024,
            password_hash_iterations: 5,
            list_limit: 0,
            lockout_failure_attempts: 0,
            lockout_duration: 1800,
            password_expires_days: 0,
            unique_last_password_count: 0,
            minimum_password_age: 0,
            password_regex: String::new(),
            password_regex_description: String::new(),
        }
    }
}

impl Section for IdentityConfig {
    const NAME: &'static str = "identity";

    fn validate(&self) -> Result<(), String> {
        if self.token_expiration <= 0 {
            return Err("identity.token_expiration must be positive".into());
        }
        if self.max_active_keys < 2 {
            return Err("identity.max_active_keys must be at least 2".into());
        }
        Ok(())
    }
}

impl IdentityConfig {
    /// The fernet key repository (`key_repository`, else in the state dir).
    pub fn key_repository(&self, cfg: &Config) -> PathBuf {
        if self.key_repository.is_empty() {
            cfg.state_dir.join("fernet-keys")
        } else {
            PathBuf::from(&self.key_repository)
        }
    }

    /// The credential key repository (`credential_key_repository`, else in
    /// the state dir).
    pub fn credential_key_repository(&self, cfg: &Config) -> PathBuf {
        if self.credential_key_repository.is_empty() {
            cfg.state_dir.join("credential-keys")
        } else {
            PathBuf::from(&self.credential_key_repository)
        }
    }
}

/// The fernet key repository as `cfg` configures it (tests, `oxistack` commands).
pub fn key_repository(cfg: &Config) -> Result<PathBuf, ConfigError> {
    Ok(cfg.section::<IdentityConfig>()?.key_repository(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::config::SectionDef;

    const SECTIONS: &[SectionDef] = &[SectionDef::of::<IdentityConfig>()];

    fn load(text: &str, env: Vec<(String, String)>) -> Result<Config, ConfigError> {
        Config::from_toml(text, env, SECTIONS)
    }

    #[test]
    fn identity_section_defaults_and_overrides() {
        let c = load("state_dir = \"/srv/ox\"\n[identity]\nport = 5001\n", vec![]).unwrap();
        let i: IdentityConfig = c.section().unwrap();
        assert_eq!(i.port, 5001);
        assert_eq!(i.token_expiration, 3600);
        assert_eq!(i.max_active_keys, 3);
        assert_eq!(
            key_repository(&c).unwrap(),
            PathBuf::from("/srv/ox/fernet-keys")
        );
        assert_eq!(
            i.credential_key_repository(&c),
            PathBuf::from("/srv/ox/credential-keys")
        );
        let c = load(
            "[identity]\nport = 5001\nkey_repository = \"/keys\"\n",
            vec![("OXISTACK_IDENTITY_PORT".into(), "6000".into())],
        )
        .unwrap();
        assert_eq!(c.section::<IdentityConfig>().unwrap().port, 6000);
        assert_eq!(key_repository(&c).unwrap(), PathBuf::from("/keys"));
        let err = |t: &str, env: Vec<(String, String)>| load(t, env).unwrap_err().to_string();
        assert_eq!(
            err("[identity]\ntoken_expiration = 0", vec![]),
            "invalid configuration: identity.token_expiration must be positive"
        );
        assert_eq!(
            err("[identity]\nmax_active_keys = 1", vec![]),
            "invalid configuration: identity.max_active_keys must be at least 2"
        );
        assert_eq!(
            err("[identity]\nport = \"x\"", vec![]),
            "invalid configuration: invalid type: string \"x\", expected u16\nin `identity.port`\n"
        );
        assert_eq!(
            err("[identity]\nport = 70000", vec![]),
            "invalid configuration: invalid value: integer `70000`, expected u16\nin `identity.port`\n"
        );
        assert_eq!(
            err("identity = 1", vec![]),
            "invalid configuration: invalid type: integer `1`, expected struct IdentityConfig\nin `identity`\n"
        );
        assert_eq!(
            err("", vec![("OXISTACK_IDENTITY_PORT".into(), "x".into())]),
            "invalid environment variable OXISTACK_IDENTITY_PORT=\"x\": expected an integer"
        );
    }
}

//! The one configuration file (`/etc/oxistack/oxistack.toml`).
//!
//! Keys Kolla-Ansible operators know keep their Kolla names and meaning
//! (`network_interface`, `neutron_external_interface`, `internal_address` for
//! `kolla_internal_vip_address`, `enable_cinder`, …). Every key has a default
//! that works on one host, an absent file means all defaults, and any key can
//! be overridden by an `OXISTACK_*` environment variable: `OXISTACK_LISTEN`
//! for a top-level key, `OXISTACK_IDENTITY_PORT` for `[identity] port`.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration file {0} does not exist")]
    Missing(PathBuf),
    #[error("invalid configuration in {path}: {msg}")]
    File { path: PathBuf, msg: String },
    #[error("invalid environment variable {var}={value:?}: {msg}")]
    Env {
        var: String,
        value: String,
        msg: String,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address every API binds on its standard port.
    pub listen: String,
    /// Address written into the service catalog (Kolla's
    /// `kolla_internal_vip_address`); empty means `listen`.
    pub internal_address: String,
    /// Public address for the catalog's `public` interface; empty means
    /// `internal_address`.
    pub public_address: String,
    /// Management interface of this host (Kolla's `network_interface`).
    pub network_interface: String,
    /// Interface bridged to the external network; empty means an isolated
    /// NAT bridge on the host.
    pub neutron_external_interface: String,
    pub state_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; empty means SQLite in the state dir.
    pub database_url: String,
    pub region: String,
    pub compute_driver: String,
    pub dataplane: String,
    pub enable_cinder: bool,
    pub enable_swift: bool,
    pub enable_horizon: bool,
    /// Largest request body any API accepts, in bytes (data uploads excepted).
    pub max_request_body_size: usize,
    /// `tracing` filter, e.g. `info` or `oxistack=debug`.
    pub log_level: String,
    /// Seconds a client has to send a request's headers (also how long an
    /// idle keep-alive connection stays open).
    pub header_read_timeout: u64,
    /// Port of the internal API node agents call (`crates/nodes`); no
    /// OpenStack service uses 9800.
    pub internal_api_port: u16,
    pub identity: IdentityConfig,
    pub image: ImageConfig,
    pub object_store: ObjectStoreConfig,
}

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

/// `[image]`: the Glance service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ImageConfig {
    pub port: u16,
    /// Where image data lives; empty means `<state_dir>/images`.
    pub data_dir: String,
    /// Images a project may own (Glance's `image_count_total` limit);
    /// -1 = unlimited.
    pub quota_images: i64,
    /// Bytes of image data (uploaded and staged) a project may store
    /// (Glance's `image_size_total`, in bytes rather than MiB); -1 = unlimited.
    pub quota_bytes: i64,
    /// Largest single image in bytes (Glance's `image_size_cap`).
    pub image_size_cap: i64,
    /// URL prefixes `web-download` may fetch from (`http://mirror.lan/`);
    /// empty disables the method, as an operator must opt in to letting
    /// the cloud fetch URLs on a user's behalf.
    pub web_download_allowed: Vec<String>,
    /// Default page size of image lists (Glance's `limit_param_default`).
    pub list_limit: usize,
    /// Largest page a client may ask for (Glance's `api_limit_max`).
    pub list_limit_max: usize,
    /// A JSON policy file whose rules override Glance's defaults.
    pub policy_file: String,
}

impl Default for ImageConfig {
    fn default() -> Self {
        Self {
            port: 9292,
            data_dir: String::new(),
            quota_images: -1,
            quota_bytes: -1,
            image_size_cap: 1 << 40,
            web_download_allowed: Vec::new(),
            list_limit: 25,
            list_limit_max: 1000,
            policy_file: String::new(),
        }
    }
}

/// `[object_store]`: the Swift service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectStoreConfig {
    pub port: u16,
    /// Where object data lives; empty means `<state_dir>/objects`.
    pub data_dir: String,
    /// Roles that own the project's account (keystoneauth's
    /// `operator_roles`; Kolla sets `admin, member`).
    pub operator_roles: Vec<String>,
    /// Roles that may read the project's account (keystoneauth's
    /// `project_reader_roles`).
    pub reader_roles: Vec<String>,
    /// The role with access to every account, the only one allowed to set
    /// account quotas (keystoneauth's `reseller_admin_role`).
    pub reseller_admin_role: String,
    /// Largest single object in bytes (Swift's `max_file_size`).
    pub max_file_size: u64,
    /// Seconds between passes of the expirer that reclaims objects past
    /// their `X-Delete-At`.
    pub expirer_interval: u64,
    /// Containers one archive upload may create (Swift's bulk
    /// `max_containers_per_extraction`).
    pub max_containers_per_extraction: usize,
    /// Failed members after which an archive upload stops (Swift's bulk
    /// `max_failed_extractions`).
    pub max_failed_extractions: usize,
    /// Origins allowed cross-origin requests to every container, besides
    /// each container's `X-Container-Meta-Access-Control-Allow-Origin`
    /// (Swift's `cors_allow_origin`).
    pub cors_allow_origin: Vec<String>,
    /// Headers exposed to cross-origin callers besides Swift's own list
    /// (Swift's `cors_expose_headers`).
    pub cors_expose_headers: Vec<String>,
    /// Swift's `strict_cors_mode`: a request from an origin the container
    /// does not allow gets no CORS headers.
    pub strict_cors_mode: bool,
}

impl Default for ObjectStoreConfig {
    fn default() -> Self {
        Self {
            port: 8080,
            data_dir: String::new(),
            operator_roles: vec!["admin".into(), "member".into(), "swiftoperator".into()],
            reader_roles: vec!["reader".into()],
            reseller_admin_role: "ResellerAdmin".into(),
            max_file_size: 5_368_709_122,
            expirer_interval: 10,
            max_containers_per_extraction: 10_000,
            max_failed_extractions: 1000,
            cors_allow_origin: Vec::new(),
            cors_expose_headers: Vec::new(),
            strict_cors_mode: true,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1".into(),
            internal_address: String::new(),
            public_address: String::new(),
            network_interface: String::new(),
            neutron_external_interface: String::new(),
            state_dir: PathBuf::from("/var/lib/oxistack"),
            database_url: String::new(),
            region: "RegionOne".into(),
            compute_driver: "qemu".into(),
            dataplane: "linux".into(),
            enable_cinder: true,
            enable_swift: true,
            enable_horizon: true,
            max_request_body_size: 114_688,
            log_level: "info".into(),
            header_read_timeout: 10,
            internal_api_port: 9800,
            identity: IdentityConfig::default(),
            image: ImageConfig::default(),
            object_store: ObjectStoreConfig::default(),
        }
    }
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

impl Config {
    /// Reads `path` (absent = defaults: for the default path only, see
    /// [`Config::load_given`]) and applies `OXISTACK_*` overrides from `env`.
    pub fn load(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        Self::load_file(path, false, env)
    }

    /// As [`Config::load`] for a file the operator named (`--config`): its
    /// absence is an error, as a typo must not silently mean defaults.
    pub fn load_given(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        Self::load_file(path, true, env)
    }

    fn load_file(
        path: &Path,
        must_exist: bool,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
                return Self::parse("", None, env);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::Missing(path.to_path_buf()));
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        Self::parse(&text, Some(path), env)
    }

    pub fn from_toml(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        Self::parse(text, None, env)
    }

    /// Parses `text` (read from `source`, named in errors) and applies
    /// the environment's overrides.
    fn parse(
        text: &str,
        source: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let in_file = |msg: String| match source {
            Some(p) => ConfigError::File {
                path: p.to_path_buf(),
                msg,
            },
            None => ConfigError::Invalid(msg),
        };
        let mut file: toml::Table = toml::from_str(text).map_err(|e| in_file(e.to_string()))?;
        // The defaults tell each key's type, so `OXISTACK_ENABLE_SWIFT=false`
        // becomes a boolean and `OXISTACK_LISTEN=10.0.0.1` stays a string.
        let defaults = toml::Table::try_from(Config::default())
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("OXISTACK_") else {
                continue;
            };
            let rest = rest.to_ascii_lowercase();
            let env_err = |e: String| ConfigError::Env {
                var: name.clone(),
                value: value.clone(),
                msg: e,
            };
            if let Some(default) = defaults.get(&rest) {
                if !default.is_table() {
                    file.insert(rest, typed(default, &value).map_err(env_err)?);
                }
                continue;
            }
            // Section names may hold underscores themselves
            // (`OXISTACK_OBJECT_STORE_PORT`): try every split point.
            let found = rest.match_indices('_').find_map(|(i, _)| {
                let (section, key) = (&rest[..i], &rest[i + 1..]);
                match defaults.get(section) {
                    Some(toml::Value::Table(t)) => t.get(key).map(|d| (section, key, d)),
                    _ => None,
                }
            });
            let Some((section, key, default)) = found else {
                continue;
            };
            let v = typed(default, &value).map_err(env_err)?;
            let entry = file
                .entry(section.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(t) = entry {
                t.insert(key.to_string(), v);
            }
        }
        let cfg: Config = toml::Value::Table(file)
            .try_into()
            .map_err(|e: toml::de::Error| in_file(e.to_string()))?;
        cfg.validate().map_err(|e| match (e, source) {
            (ConfigError::Invalid(m), Some(_)) => {
                in_file(format!("{m} (with any OXISTACK_* overrides)"))
            }
            (e, _) => e,
        })?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.listen.parse::<std::net::IpAddr>().is_err() {
            return Err(ConfigError::Invalid(format!(
                "listen = {:?} is not an IP address",
                self.listen
            )));
        }
        if !matches!(self.compute_driver.as_str(), "qemu" | "fake") {
            return Err(ConfigError::Invalid(format!(
                "compute_driver = {:?}: expected qemu or fake",
                self.compute_driver
            )));
        }
        if !matches!(self.dataplane.as_str(), "linux" | "none") {
            return Err(ConfigError::Invalid(format!(
                "dataplane = {:?}: expected linux or none",
                self.dataplane
            )));
        }
        if self.header_read_timeout == 0 {
            return Err(ConfigError::Invalid(
                "header_read_timeout must be positive".into(),
            ));
        }
        if self.identity.token_expiration <= 0 {
            return Err(ConfigError::Invalid(
                "identity.token_expiration must be positive".into(),
            ));
        }
        if self.identity.max_active_keys < 2 {
            return Err(ConfigError::Invalid(
                "identity.max_active_keys must be at least 2".into(),
            ));
        }
        if self.image.list_limit == 0 || self.image.list_limit > self.image.list_limit_max {
            return Err(ConfigError::Invalid(
                "image.list_limit must be between 1 and image.list_limit_max".into(),
            ));
        }
        if self.image.quota_images < -1
            || self.image.quota_bytes < -1
            || self.image.image_size_cap <= 0
        {
            return Err(ConfigError::Invalid(
                "image quotas must be -1 (unlimited) or non-negative, image_size_cap positive"
                    .into(),
            ));
        }
        for p in &self.image.web_download_allowed {
            if !(p.starts_with("http://") || p.starts_with("https://")) {
                return Err(ConfigError::Invalid(format!(
                    "image.web_download_allowed entry {p:?} is not an http(s) URL prefix"
                )));
            }
        }
        if self.object_store.max_file_size == 0 || self.object_store.expirer_interval == 0 {
            return Err(ConfigError::Invalid(
                "object_store.max_file_size and object_store.expirer_interval must be positive"
                    .into(),
            ));
        }
        if self.object_store.reseller_admin_role.is_empty() {
            return Err(ConfigError::Invalid(
                "object_store.reseller_admin_role must not be empty".into(),
            ));
        }
        Ok(())
    }

    /// The host written into catalog URLs for internal and admin endpoints.
    pub fn internal_host(&self) -> String {
        let h = if self.internal_address.is_empty() {
            &self.listen
        } else {
            &self.internal_address
        };
        bracket(h)
    }

    pub fn public_host(&self) -> String {
        if self.public_address.is_empty() {
            self.internal_host()
        } else {
            bracket(&self.public_address)
        }
    }

    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.state_dir.join("oxistack.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// The directory holding object data (`[object_store] data_dir`).
    pub fn object_data_dir(&self) -> PathBuf {
        if self.object_store.data_dir.is_empty() {
            self.state_dir.join("objects")
        } else {
            PathBuf::from(&self.object_store.data_dir)
        }
    }

    /// The directory holding image data (`[image] data_dir`).
    pub fn image_data_dir(&self) -> PathBuf {
        if self.image.data_dir.is_empty() {
            self.state_dir.join("images")
        } else {
            PathBuf::from(&self.image.data_dir)
        }
    }

    pub fn credential_key_repository(&self) -> PathBuf {
        if self.identity.credential_key_repository.is_empty() {
            self.state_dir.join("credential-keys")
        } else {
            PathBuf::from(&self.identity.credential_key_repository)
        }
    }

    pub fn key_repository(&self) -> PathBuf {
        if self.identity.key_repository.is_empty() {
            self.state_dir.join("fernet-keys")
        } else {
            PathBuf::from(&self.identity.key_repository)
        }
    }
}

fn bracket(h: &str) -> String {
    if h.contains(':') && !h.starts_with('[') {
        format!("[{h}]")
    } else {
        h.to_string()
    }
}

/// `raw` as a value of `default`'s type; the error says what was expected.
fn typed(default: &toml::Value, raw: &str) -> Result<toml::Value, String> {
    Ok(match default {
        toml::Value::Boolean(_) => match raw.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => toml::Value::Boolean(true),
            "0" | "false" | "no" | "off" => toml::Value::Boolean(false),
            _ => return Err("expected true or false".into()),
        },
        toml::Value::Integer(_) => {
            toml::Value::Integer(raw.parse().map_err(|_| "expected an integer".to_string())?)
        }
        // Lists come comma-separated from the environment.
        toml::Value::Array(_) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        _ => toml::Value::String(raw.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_file_is_defaults() {
        let c = Config::load(Path::new("/nonexistent/oxistack.toml"), vec![]).unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn errors_name_the_file_and_the_variable() {
        let e = Config::load_given(Path::new("/nonexistent/oxistack.toml"), vec![]).unwrap_err();
        assert!(matches!(e, ConfigError::Missing(_)), "{e}");
        assert!(e.to_string().contains("/nonexistent/oxistack.toml"), "{e}");
        let f = std::env::temp_dir().join(format!("oxistack-{}.toml", crate::ids::hex_id()));
        std::fs::write(&f, "listen = \"10.0.0.1\"\n[identity\n").unwrap();
        let e = Config::load(&f, vec![]).unwrap_err().to_string();
        assert!(e.contains(&f.display().to_string()), "{e}");
        std::fs::write(&f, "no_such_key = 1\n").unwrap();
        let e = Config::load_given(&f, vec![]).unwrap_err().to_string();
        assert!(
            e.contains(&f.display().to_string()) && e.contains("no_such_key"),
            "{e}"
        );
        std::fs::write(&f, "listen = \"10.0.0.1\"\n").unwrap();
        let e = Config::load_given(
            &f,
            vec![("OXISTACK_OBJECT_STORE_PORT".into(), "eighty".into())],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("OXISTACK_OBJECT_STORE_PORT")
                && e.contains("eighty")
                && e.contains("integer"),
            "{e}"
        );
        assert_eq!(Config::load_given(&f, vec![]).unwrap().listen, "10.0.0.1");
        std::fs::remove_file(&f).unwrap();
    }

    #[test]
    fn env_overrides_file_with_types() {
        let c = Config::from_toml(
            "listen = \"10.0.0.5\"\nenable_swift = true\n[identity]\nport = 5001\n",
            vec![
                ("OXISTACK_ENABLE_SWIFT".into(), "false".into()),
                ("OXISTACK_IDENTITY_PORT".into(), "6000".into()),
                ("OXISTACK_NETWORK_INTERFACE".into(), "eth1".into()),
                ("UNRELATED".into(), "x".into()),
            ],
        )
        .unwrap();
        assert_eq!(c.listen, "10.0.0.5");
        assert!(!c.enable_swift);
        assert_eq!(c.identity.port, 6000);
        assert_eq!(c.network_interface, "eth1");
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        assert!(Config::from_toml("no_such_key = 1", vec![]).is_err());
        assert!(Config::from_toml("listen = \"nope\"", vec![]).is_err());
        assert!(
            Config::from_toml("", vec![("OXISTACK_IDENTITY_PORT".into(), "x".into())]).is_err()
        );
        assert!(Config::from_toml("compute_driver = \"xen\"", vec![]).is_err());
    }

    #[test]
    fn image_section_defaults_and_overrides() {
        let c = Config::from_toml("state_dir = \"/srv/ox\"\n", vec![]).unwrap();
        assert_eq!(c.image.port, 9292);
        assert_eq!(c.image.quota_bytes, -1);
        assert!(
            c.image.web_download_allowed.is_empty(),
            "web-download is opt-in"
        );
        assert_eq!(c.image_data_dir(), PathBuf::from("/srv/ox/images"));
        let c = Config::from_toml(
            "[image]\nquota_images = 10\nweb_download_allowed = [\"http://mirror.lan/\"]\ndata_dir = \"/data\"\n",
            vec![
                ("OXISTACK_IMAGE_PORT".into(), "9393".into()),
                ("OXISTACK_IMAGE_QUOTA_BYTES".into(), "1048576".into()),
            ],
        )
        .unwrap();
        assert_eq!(c.image.port, 9393);
        assert_eq!(c.image.quota_images, 10);
        assert_eq!(c.image.quota_bytes, 1_048_576);
        assert_eq!(
            c.image.web_download_allowed,
            vec!["http://mirror.lan/".to_string()]
        );
        assert_eq!(c.image_data_dir(), PathBuf::from("/data"));
        let c = Config::from_toml(
            "",
            vec![(
                "OXISTACK_IMAGE_WEB_DOWNLOAD_ALLOWED".into(),
                "http://a/, http://b/".into(),
            )],
        )
        .unwrap();
        assert_eq!(
            c.image.web_download_allowed,
            vec!["http://a/".to_string(), "http://b/".to_string()]
        );
        assert!(
            Config::from_toml("[image]\nweb_download_allowed = [\"ftp://x/\"]\n", vec![]).is_err()
        );
        assert!(Config::from_toml("[image]\nquota_bytes = -5\n", vec![]).is_err());
        assert!(Config::from_toml("[image]\nlist_limit = 0\n", vec![]).is_err());
    }

    #[test]
    fn object_store_section_defaults_and_overrides() {
        let c = Config::from_toml("state_dir = \"/srv/ox\"\n", vec![]).unwrap();
        assert_eq!(c.object_store.port, 8080);
        assert_eq!(c.object_store.reseller_admin_role, "ResellerAdmin");
        assert_eq!(c.object_store.max_file_size, 5_368_709_122);
        assert_eq!(c.object_data_dir(), PathBuf::from("/srv/ox/objects"));
        let c = Config::from_toml(
            "[object_store]\ndata_dir = \"/data/swift\"\noperator_roles = [\"admin\"]\n",
            vec![
                ("OXISTACK_OBJECT_STORE_PORT".into(), "8081".into()),
                (
                    "OXISTACK_OBJECT_STORE_READER_ROLES".into(),
                    "reader, auditor".into(),
                ),
            ],
        )
        .unwrap();
        assert_eq!(c.object_store.port, 8081);
        assert_eq!(c.object_store.operator_roles, vec!["admin".to_string()]);
        assert_eq!(
            c.object_store.reader_roles,
            vec!["reader".to_string(), "auditor".to_string()]
        );
        assert_eq!(c.object_data_dir(), PathBuf::from("/data/swift"));
        assert!(Config::from_toml("[object_store]\nexpirer_interval = 0\n", vec![]).is_err());
        assert!(Config::from_toml("[object_store]\nno_such = 1\n", vec![]).is_err());
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        let c = Config {
            listen: "::1".into(),
            ..Config::default()
        };
        assert_eq!(c.internal_host(), "[::1]");
    }
}

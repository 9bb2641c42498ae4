//! The one configuration file (`/etc/oxistack/oxistack.toml`).
//!
//! Keys Kolla-Ansible operators know keep their Kolla names and meaning
//! (`network_interface`, `neutron_external_interface`, `internal_address` for
//! `kolla_internal_vip_address`, `enable_cinder`, …). Every key has a default
//! that works on one host, an absent file means all defaults, and any key can
//! be overridden by an `OXISTACK_*` environment variable: `OXISTACK_LISTEN`
//! for a top-level key, `OXISTACK_IDENTITY_PORT` for `[identity] port`.
//!
//! This module holds the shared keys. Each service's section (`[image]`)
//! is defined by the service's crate as a [`Section`]; the loader is given
//! the sections as [`SectionDef`]s (the composition root's list), keeps each
//! one's table as written, and has its crate's type read and check it.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    /// Each service's own section as written in the file (with any
    /// `OXISTACK_*` overrides applied), keyed by section name. The
    /// service crate owns its keys, defaults and rules ([`Section`]);
    /// common only carries the table.
    #[serde(skip)]
    pub sections: BTreeMap<String, toml::Table>,
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
            sections: BTreeMap::new(),
        }
    }
}

impl Config {
    /// Reads `path` (absent = defaults: for the default path only, see
    /// [`Config::load_given`]) and applies `OXISTACK_*` overrides from `env`.
    /// `sections` are the services' sections the file may hold.
    pub fn load(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
        sections: &[SectionDef],
    ) -> Result<Self, ConfigError> {
        Self::load_file(path, false, env, sections)
    }

    /// As [`Config::load`] for a file the operator named (`--config`): its
    /// absence is an error, as a typo must not silently mean defaults.
    pub fn load_given(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
        sections: &[SectionDef],
    ) -> Result<Self, ConfigError> {
        Self::load_file(path, true, env, sections)
    }

    fn load_file(
        path: &Path,
        must_exist: bool,
        env: impl IntoIterator<Item = (String, String)>,
        sections: &[SectionDef],
    ) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
                return Self::parse("", None, env, sections);
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
        Self::parse(&text, Some(path), env, sections)
    }

    pub fn from_toml(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
        sections: &[SectionDef],
    ) -> Result<Self, ConfigError> {
        Self::parse(text, None, env, sections)
    }

    /// The configuration as the TOML text [`Config::from_toml`] reads back
    /// (shared keys, then the sections as given).
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        let mut t = toml::Table::try_from(self).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        for (name, section) in &self.sections {
            t.insert(name.clone(), toml::Value::Table(section.clone()));
        }
        toml::to_string(&t).map_err(|e| ConfigError::Invalid(e.to_string()))
    }

    /// Parses `text` (read from `source`, named in errors) and applies
    /// the environment's overrides.
    fn parse(
        text: &str,
        source: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        sections: &[SectionDef],
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
        let mut defaults = toml::Table::try_from(Config::default())
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        for s in sections {
            defaults.insert(s.name.to_string(), toml::Value::Table((s.defaults)()?));
        }
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
        // The sections leave the file before the shared keys are read, and
        // each is read by its own crate's type.
        let mut raw = BTreeMap::new();
        for s in sections {
            if let Some(v) = file.remove(s.name) {
                raw.insert(s.name, v);
            }
        }
        let mut cfg: Config = toml::Value::Table(file)
            .try_into()
            .map_err(|e: toml::de::Error| in_file(unknown_with_sections(e, sections)))?;
        for s in sections {
            let Some(v) = raw.remove(s.name) else {
                continue;
            };
            (s.parse)(&v).map_err(&in_file)?;
            if let toml::Value::Table(t) = v {
                cfg.sections.insert(s.name.to_string(), t);
            }
        }
        cfg.validate_with(sections).map_err(|e| match (e, source) {
            (ConfigError::Invalid(m), Some(_)) => {
                in_file(format!("{m} (with any OXISTACK_* overrides)"))
            }
            (e, _) => e,
        })?;
        Ok(cfg)
    }

    /// Checks the shared keys' rules, then each section's (its types and
    /// rules): what `oxistack up` runs before it writes anything, also for
    /// a configuration changed after it was loaded.
    pub fn validate_with(&self, sections: &[SectionDef]) -> Result<(), ConfigError> {
        self.validate()?;
        for s in sections {
            let v = toml::Value::Table(self.sections.get(s.name).cloned().unwrap_or_default());
            (s.parse)(&v).map_err(ConfigError::Invalid)?;
            (s.validate)(&v).map_err(ConfigError::Invalid)?;
        }
        Ok(())
    }

    /// The section `S` as configured: its keys over its defaults, checked
    /// by its rules.
    pub fn section<S: Section>(&self) -> Result<S, ConfigError> {
        let v = toml::Value::Table(self.sections.get(S::NAME).cloned().unwrap_or_default());
        let s = section_of::<S>(S::NAME, &v).map_err(ConfigError::Invalid)?;
        s.validate().map_err(ConfigError::Invalid)?;
        Ok(s)
    }

    /// Changes the section `S` (tests, command-line overrides); the rules
    /// are checked when it is next read.
    pub fn update_section<S: Section>(
        &mut self,
        change: impl FnOnce(&mut S),
    ) -> Result<(), ConfigError> {
        let v = toml::Value::Table(self.sections.get(S::NAME).cloned().unwrap_or_default());
        let mut s = section_of::<S>(S::NAME, &v).map_err(ConfigError::Invalid)?;
        change(&mut s);
        let t = toml::Table::try_from(&s).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        self.sections.insert(S::NAME.to_string(), t);
        Ok(())
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
}

/// A service's section of the file (`[image]`), defined by the service's
/// own crate: its keys with their defaults (`Default`), how they are
/// spelled (serde, with `deny_unknown_fields`) and the rules serde cannot
/// express ([`Section::validate`]).
pub trait Section: Serialize + DeserializeOwned + Default {
    /// The section's name in the file, also the prefix of its
    /// environment overrides (`object_store` → `OXISTACK_OBJECT_STORE_*`).
    const NAME: &'static str;

    /// Its rules; the message names the key (`image.list_limit must …`).
    fn validate(&self) -> Result<(), String>;
}

/// What the loader knows of a section without its type, so `common` can
/// read a file whose sections belong to crates it does not depend on.
/// Built by [`SectionDef::of`]; each service's `ServiceDef` carries one.
#[derive(Clone, Copy)]
pub struct SectionDef {
    pub name: &'static str,
    /// The section's defaults, which tell the environment overrides' types.
    pub defaults: fn() -> Result<toml::Table, ConfigError>,
    /// Reads the section as written: the unknown-key and wrong-type errors.
    pub parse: fn(&toml::Value) -> Result<(), String>,
    /// Reads it and checks its rules: the invalid-value errors.
    pub validate: fn(&toml::Value) -> Result<(), String>,
}

impl std::fmt::Debug for SectionDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SectionDef")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl SectionDef {
    pub const fn of<S: Section>() -> SectionDef {
        SectionDef {
            name: S::NAME,
            defaults: defaults_of::<S>,
            parse: parse_of::<S>,
            validate: validate_of::<S>,
        }
    }
}

fn defaults_of<S: Section>() -> Result<toml::Table, ConfigError> {
    toml::Table::try_from(S::default()).map_err(|e| ConfigError::Invalid(e.to_string()))
}

fn parse_of<S: Section>(v: &toml::Value) -> Result<(), String> {
    section_of::<S>(S::NAME, v).map(drop)
}

fn validate_of<S: Section>(v: &toml::Value) -> Result<(), String> {
    section_of::<S>(S::NAME, v)?.validate()
}

/// The section read from `v`. It is read inside a one-entry table named
/// after it so toml's errors carry the same key path as when the whole
/// file was one struct (``in `identity.port` ``).
fn section_of<S: Section>(name: &str, v: &toml::Value) -> Result<S, String> {
    let mut t = toml::Table::new();
    t.insert(name.to_string(), v.clone());
    let mut m: BTreeMap<String, S> = toml::Value::Table(t)
        .try_into()
        .map_err(|e: toml::de::Error| e.to_string())?;
    m.remove(name)
        .ok_or_else(|| format!("section {name} missing after parsing"))
}

/// serde's unknown-key message lists the shared keys only, as the sections
/// were taken out before the shared keys were read; the sections are keys
/// of the file too, so they are listed after them as they always were.
fn unknown_with_sections(e: toml::de::Error, sections: &[SectionDef]) -> String {
    let mut msg = e.to_string();
    if msg.starts_with("unknown field `") && msg.contains(", expected one of ") {
        let tail = msg.len() - msg.trim_end().len();
        let end = msg.len() - tail;
        let extra: String = sections.iter().map(|s| format!(", `{}`", s.name)).collect();
        msg.insert_str(end, &extra);
    }
    msg
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

    /// A section as a service crate defines one.
    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Sample {
        port: u16,
        roles: Vec<String>,
        strict: bool,
    }

    impl Default for Sample {
        fn default() -> Self {
            Self {
                port: 8080,
                roles: vec!["reader".into()],
                strict: true,
            }
        }
    }

    impl Section for Sample {
        const NAME: &'static str = "sample_store";
        fn validate(&self) -> Result<(), String> {
            if self.port == 1 {
                return Err("sample_store.port must not be 1".into());
            }
            Ok(())
        }
    }

    const SECTIONS: &[SectionDef] = &[SectionDef::of::<Sample>()];

    #[test]
    fn absent_file_is_defaults() {
        let c = Config::load(Path::new("/nonexistent/oxistack.toml"), vec![], SECTIONS).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.section::<Sample>().unwrap(), Sample::default());
    }

    #[test]
    fn errors_name_the_file_and_the_variable() {
        let e = Config::load_given(Path::new("/nonexistent/oxistack.toml"), vec![], SECTIONS)
            .unwrap_err();
        assert!(matches!(e, ConfigError::Missing(_)), "{e}");
        assert!(e.to_string().contains("/nonexistent/oxistack.toml"), "{e}");
        let f = std::env::temp_dir().join(format!("oxistack-{}.toml", crate::ids::hex_id()));
        std::fs::write(&f, "listen = \"10.0.0.1\"\n[identity\n").unwrap();
        let e = Config::load(&f, vec![], SECTIONS).unwrap_err().to_string();
        assert!(e.contains(&f.display().to_string()), "{e}");
        std::fs::write(&f, "no_such_key = 1\n").unwrap();
        let e = Config::load_given(&f, vec![], SECTIONS)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&f.display().to_string()) && e.contains("no_such_key"),
            "{e}"
        );
        std::fs::write(&f, "listen = \"10.0.0.1\"\n").unwrap();
        let e = Config::load_given(
            &f,
            vec![("OXISTACK_SAMPLE_STORE_PORT".into(), "eighty".into())],
            SECTIONS,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("OXISTACK_SAMPLE_STORE_PORT")
                && e.contains("eighty")
                && e.contains("integer"),
            "{e}"
        );
        std::fs::write(&f, "[sample_store]\nport = 1\n").unwrap();
        let e = Config::load_given(&f, vec![], SECTIONS)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(
                "invalid configuration in {}: sample_store.port must not be 1 \
                 (with any OXISTACK_* overrides)",
                f.display()
            )
        );
        std::fs::write(&f, "listen = \"10.0.0.1\"\n").unwrap();
        assert_eq!(
            Config::load_given(&f, vec![], SECTIONS).unwrap().listen,
            "10.0.0.1"
        );
        std::fs::remove_file(&f).unwrap();
    }

    #[test]
    fn env_overrides_file_with_types() {
        let c = Config::from_toml(
            "listen = \"10.0.0.5\"\nenable_swift = true\n[sample_store]\nport = 5001\n",
            vec![
                ("OXISTACK_ENABLE_SWIFT".into(), "false".into()),
                ("OXISTACK_SAMPLE_STORE_PORT".into(), "6000".into()),
                (
                    "OXISTACK_SAMPLE_STORE_ROLES".into(),
                    "reader, auditor".into(),
                ),
                ("OXISTACK_SAMPLE_STORE_STRICT".into(), "off".into()),
                ("OXISTACK_NETWORK_INTERFACE".into(), "eth1".into()),
                ("UNRELATED".into(), "x".into()),
            ],
            SECTIONS,
        )
        .unwrap();
        assert_eq!(c.listen, "10.0.0.5");
        assert!(!c.enable_swift);
        assert_eq!(c.network_interface, "eth1");
        let s: Sample = c.section().unwrap();
        assert_eq!(s.port, 6000);
        assert_eq!(s.roles, vec!["reader".to_string(), "auditor".to_string()]);
        assert!(!s.strict);
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        assert!(Config::from_toml("no_such_key = 1", vec![], SECTIONS).is_err());
        assert!(Config::from_toml("listen = \"nope\"", vec![], SECTIONS).is_err());
        assert!(Config::from_toml(
            "",
            vec![("OXISTACK_SAMPLE_STORE_PORT".into(), "x".into())],
            SECTIONS
        )
        .is_err());
        assert!(Config::from_toml("compute_driver = \"xen\"", vec![], SECTIONS).is_err());
        // A section nobody defines is an unknown key like any other.
        assert!(Config::from_toml("[sample_store]\n", vec![], &[]).is_err());
    }

    #[test]
    fn section_errors_read_as_when_common_held_them() {
        let err = |t: &str| {
            Config::from_toml(t, vec![], SECTIONS)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("no_such_key = 1"),
            "invalid configuration: unknown field `no_such_key`, expected one of `listen`, \
             `internal_address`, `public_address`, `network_interface`, \
             `neutron_external_interface`, `state_dir`, `database_url`, `region`, \
             `compute_driver`, `dataplane`, `enable_cinder`, `enable_swift`, \
             `enable_horizon`, `max_request_body_size`, `log_level`, `header_read_timeout`, \
             `internal_api_port`, `sample_store`\n"
        );
        assert_eq!(
            err("[sample_store]\nport = \"x\""),
            "invalid configuration: invalid type: string \"x\", expected u16\nin `sample_store.port`\n"
        );
        assert_eq!(
            err("[sample_store]\nno_such = 1"),
            "invalid configuration: unknown field `no_such`, expected one of `port`, `roles`, `strict`\nin `sample_store`\n"
        );
        assert_eq!(
            err("sample_store = 1"),
            "invalid configuration: invalid type: integer `1`, expected struct Sample\nin `sample_store`\n"
        );
        assert_eq!(
            err("[sample_store]\nport = 1"),
            "invalid configuration: sample_store.port must not be 1"
        );
    }

    #[test]
    fn sections_survive_to_toml_and_update() {
        let mut c = Config::from_toml("[sample_store]\nport = 9\n", vec![], SECTIONS).unwrap();
        let back = Config::from_toml(&c.to_toml().unwrap(), vec![], SECTIONS).unwrap();
        assert_eq!(back, c);
        c.update_section::<Sample>(|s| s.port = 1).unwrap();
        assert_eq!(c.sections["sample_store"]["port"].as_integer(), Some(1));
        assert!(c.section::<Sample>().is_err());
        assert!(c.validate_with(SECTIONS).is_err());
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

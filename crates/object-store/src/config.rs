//! `[object_store]`: the object storage service's section of the
//! configuration file, its defaults (Swift's and keystoneauth's where they
//! have them) and its rules.

use common::config::{Config, ConfigError, Section};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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

impl Section for ObjectStoreConfig {
    const NAME: &'static str = "object_store";

    fn validate(&self) -> Result<(), String> {
        if self.max_file_size == 0 || self.expirer_interval == 0 {
            return Err(
                "object_store.max_file_size and object_store.expirer_interval must be positive"
                    .into(),
            );
        }
        if self.reseller_admin_role.is_empty() {
            return Err("object_store.reseller_admin_role must not be empty".into());
        }
        Ok(())
    }
}

impl ObjectStoreConfig {
    /// The directory holding object data (`data_dir`, else in the state dir).
    pub fn data_path(&self, cfg: &Config) -> PathBuf {
        if self.data_dir.is_empty() {
            cfg.state_dir.join("objects")
        } else {
            PathBuf::from(&self.data_dir)
        }
    }
}

/// The directory holding the service's data as `cfg` configures it (tests, `oxistack` commands).
pub fn data_dir(cfg: &Config) -> Result<PathBuf, ConfigError> {
    Ok(cfg.section::<ObjectStoreConfig>()?.data_path(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::config::SectionDef;

    const SECTIONS: &[SectionDef] = &[SectionDef::of::<ObjectStoreConfig>()];

    fn load(text: &str, env: Vec<(String, String)>) -> Result<Config, ConfigError> {
        Config::from_toml(text, env, SECTIONS)
    }

    #[test]
    fn object_store_section_defaults_and_overrides() {
        let c = load("state_dir = \"/srv/ox\"\n", vec![]).unwrap();
        let o: ObjectStoreConfig = c.section().unwrap();
        assert_eq!(o.port, 8080);
        assert_eq!(o.reseller_admin_role, "ResellerAdmin");
        assert_eq!(o.max_file_size, 5_368_709_122);
        assert_eq!(data_dir(&c).unwrap(), PathBuf::from("/srv/ox/objects"));
        let c = load(
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
        let o: ObjectStoreConfig = c.section().unwrap();
        assert_eq!(o.port, 8081);
        assert_eq!(o.operator_roles, vec!["admin".to_string()]);
        assert_eq!(
            o.reader_roles,
            vec!["reader".to_string(), "auditor".to_string()]
        );
        assert_eq!(data_dir(&c).unwrap(), PathBuf::from("/data/swift"));
        let err = |t: &str, env: Vec<(String, String)>| load(t, env).unwrap_err().to_string();
        assert_eq!(
            err("[object_store]\nexpirer_interval = 0\n", vec![]),
            "invalid configuration: object_store.max_file_size and object_store.expirer_interval must be positive"
        );
        assert_eq!(
            err("", vec![("OXISTACK_OBJECT_STORE_EXPIRER_INTERVAL".into(), "0".into())]),
            "invalid configuration: object_store.max_file_size and object_store.expirer_interval must be positive"
        );
        assert_eq!(
            err("[object_store]\nno_such = 1\n", vec![]),
            "invalid configuration: unknown field `no_such`, expected one of `port`, `data_dir`, `operator_roles`, `reader_roles`, `reseller_admin_role`, `max_file_size`, `expirer_interval`, `max_containers_per_extraction`, `max_failed_extractions`, `cors_allow_origin`, `cors_expose_headers`, `strict_cors_mode`\nin `object_store`\n"
        );
        assert_eq!(
            err("", vec![("OXISTACK_OBJECT_STORE_PORT".into(), "eighty".into())]),
            "invalid environment variable OXISTACK_OBJECT_STORE_PORT=\"eighty\": expected an integer"
        );
        assert!(load("[object_store]\nreseller_admin_role = \"\"\n", vec![]).is_err());
    }
}

//! `[image]`: the image service's section of the configuration file, its
//! defaults (Glance's where it has them) and its rules.

use common::config::{Config, ConfigError, Section};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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

impl Section for ImageConfig {
    const NAME: &'static str = "image";

    fn validate(&self) -> Result<(), String> {
        if self.list_limit == 0 || self.list_limit > self.list_limit_max {
            return Err("image.list_limit must be between 1 and image.list_limit_max".into());
        }
        if self.quota_images < -1 || self.quota_bytes < -1 || self.image_size_cap <= 0 {
            return Err(
                "image quotas must be -1 (unlimited) or non-negative, image_size_cap positive"
                    .into(),
            );
        }
        for p in &self.web_download_allowed {
            if !(p.starts_with("http://") || p.starts_with("https://")) {
                return Err(format!(
                    "image.web_download_allowed entry {p:?} is not an http(s) URL prefix"
                ));
            }
        }
        Ok(())
    }
}

impl ImageConfig {
    /// The directory holding image data (`data_dir`, else in the state dir).
    pub fn data_path(&self, cfg: &Config) -> PathBuf {
        if self.data_dir.is_empty() {
            cfg.state_dir.join("images")
        } else {
            PathBuf::from(&self.data_dir)
        }
    }
}

/// The directory holding the service's data as `cfg` configures it (tests, `oxistack` commands).
pub fn data_dir(cfg: &Config) -> Result<PathBuf, ConfigError> {
    Ok(cfg.section::<ImageConfig>()?.data_path(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::config::SectionDef;

    const SECTIONS: &[SectionDef] = &[SectionDef::of::<ImageConfig>()];

    fn load(text: &str, env: Vec<(String, String)>) -> Result<Config, ConfigError> {
        Config::from_toml(text, env, SECTIONS)
    }

    #[test]
    fn image_section_defaults_and_overrides() {
        let c = load("state_dir = \"/srv/ox\"\n", vec![]).unwrap();
        let i: ImageConfig = c.section().unwrap();
        assert_eq!(i.port, 9292);
        assert_eq!(i.quota_bytes, -1);
        assert!(i.web_download_allowed.is_empty(), "web-download is opt-in");
        assert_eq!(data_dir(&c).unwrap(), PathBuf::from("/srv/ox/images"));
        let c = load(
            "[image]\nquota_images = 10\nweb_download_allowed = [\"http://mirror.lan/\"]\ndata_dir = \"/data\"\n",
            vec![
                ("OXISTACK_IMAGE_PORT".into(), "9393".into()),
                ("OXISTACK_IMAGE_QUOTA_BYTES".into(), "1048576".into()),
            ],
        )
        .unwrap();
        let i: ImageConfig = c.section().unwrap();
        assert_eq!(i.port, 9393);
        assert_eq!(i.quota_images, 10);
        assert_eq!(i.quota_bytes, 1_048_576);
        assert_eq!(
            i.web_download_allowed,
            vec!["http://mirror.lan/".to_string()]
        );
        assert_eq!(data_dir(&c).unwrap(), PathBuf::from("/data"));
        let c = load(
            "",
            vec![(
                "OXISTACK_IMAGE_WEB_DOWNLOAD_ALLOWED".into(),
                "http://a/, http://b/".into(),
            )],
        )
        .unwrap();
        assert_eq!(
            c.section::<ImageConfig>().unwrap().web_download_allowed,
            vec!["http://a/".to_string(), "http://b/".to_string()]
        );
        let err = |t: &str| load(t, vec![]).unwrap_err().to_string();
        assert_eq!(
            err("[image]\nweb_download_allowed = [\"ftp://x/\"]\n"),
            "invalid configuration: image.web_download_allowed entry \"ftp://x/\" is not an http(s) URL prefix"
        );
        assert_eq!(
            err("[image]\nquota_bytes = -5\n"),
            "invalid configuration: image quotas must be -1 (unlimited) or non-negative, image_size_cap positive"
        );
        assert_eq!(
            err("[image]\nlist_limit = 0\n"),
            "invalid configuration: image.list_limit must be between 1 and image.list_limit_max"
        );
        assert_eq!(
            err("[image]\nlist_limitx = 0\n"),
            "invalid configuration: unknown field `list_limitx`, expected one of `port`, `data_dir`, `quota_images`, `quota_bytes`, `image_size_cap`, `web_download_allowed`, `list_limit`, `list_limit_max`, `policy_file`\nin `image`\n"
        );
    }
}

//! `[compute]`: the compute service's section of the configuration file,
//! its defaults (Nova's where it has them) and its rules.

use common::config::Section;
use serde::{Deserialize, Serialize};

/// `[compute]`: the Nova service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ComputeConfig {
    pub port: u16,
    /// The metadata API's port (Nova's `metadata_listen_port`).
    pub metadata_port: u16,
    /// A JSON policy file whose rules override Nova's defaults.
    pub policy_file: String,
    /// The zone compute hosts are in (Nova's `default_availability_zone`).
    pub default_availability_zone: String,
    /// Virtual CPUs per physical CPU the scheduler allows
    /// (`cpu_allocation_ratio`; Nova's initial ratio).
    pub cpu_allocation_ratio: f64,
    /// `ram_allocation_ratio` (Nova's initial ratio).
    pub ram_allocation_ratio: f64,
    /// `disk_allocation_ratio` (Nova's initial ratio).
    pub disk_allocation_ratio: f64,
    /// MiB of each host's memory kept for the host (`reserved_host_memory_mb`).
    pub reserved_host_memory_mb: i64,
    /// Whether a resize may land on the server's own host
    /// (`allow_resize_to_same_host`): an all-in-one has no other.
    pub allow_resize_to_same_host: bool,
    /// Seconds a shelved server keeps its guest before it is offloaded
    /// (`shelved_offload_time`): 0 offloads at once, -1 never; a positive
    /// time leaves the offload to `shelveOffload` (no periodic task yet).
    pub shelved_offload_time: i64,
    /// Seconds the build waits for the data plane to report a server's
    /// ports ACTIVE (Nova's `vif_plugging_timeout`).
    pub vif_plugging_timeout: u64,
    /// Seconds the controller waits for a compute node's agent to answer
    /// a driver call (`compute_driver = "qemu"`).
    pub agent_call_timeout_s: u64,
    /// As `agent_call_timeout_s`, for the calls that boot a guest (spawn,
    /// rebuild, resize, rescue): they fetch images first.
    pub agent_spawn_timeout_s: u64,
    /// The fake driver's time to spawn a guest, in milliseconds.
    pub fake_spawn_delay_ms: u64,
    /// The fake driver's time to take a snapshot, in milliseconds (a
    /// real one takes seconds: long enough to be seen saving).
    pub fake_snapshot_delay_ms: u64,
    /// Test aid: the fake driver fails every spawn.
    pub fake_fail_spawn: bool,
    /// Default quotas (Nova's `[quota]` section; -1 = unlimited).
    pub quota_instances: i64,
    pub quota_cores: i64,
    pub quota_ram: i64,
    pub quota_metadata_items: i64,
    pub quota_key_pairs: i64,
    pub quota_server_groups: i64,
    pub quota_server_group_members: i64,
    pub quota_injected_files: i64,
    pub quota_injected_file_content_bytes: i64,
    pub quota_injected_file_path_length: i64,
    /// Seconds a remote console token is valid (Nova's
    /// `[consoleauth] token_ttl`).
    pub console_token_ttl: u64,
    /// The noVNC proxy's public base URL in console URLs (Nova's
    /// `[vnc] novncproxy_base_url` without its `/vnc_lite.html`); empty:
    /// `http://<public host>:<novncproxy_port>`.
    pub novncproxy_base_url: String,
    /// The noVNC proxy's port (Nova's `[vnc] novncproxy_port`).
    pub novncproxy_port: u16,
    /// Where noVNC's static files are (`vnc_lite.html`, `core/`, …).
    pub novnc_dir: String,
}

impl Default for ComputeConfig {
    fn default() -> Self {
        Self {
            port: 8774,
            metadata_port: 8775,
            policy_file: String::new(),
            default_availability_zone: "nova".into(),
            cpu_allocation_ratio: 4.0,
            ram_allocation_ratio: 1.0,
            disk_allocation_ratio: 1.0,
            reserved_host_memory_mb: 512,
            allow_resize_to_same_host: true,
            shelved_offload_time: 0,
            vif_plugging_timeout: 300,
            agent_call_timeout_s: 120,
            agent_spawn_timeout_s: 900,
            fake_spawn_delay_ms: 0,
            fake_snapshot_delay_ms: 0,
            fake_fail_spawn: false,
            quota_instances: 10,
            quota_cores: 20,
            quota_ram: 51200,
            quota_metadata_items: 128,
            quota_key_pairs: 100,
            quota_server_groups: 10,
            quota_server_group_members: 10,
            quota_injected_files: 5,
            quota_injected_file_content_bytes: 10240,
            quota_injected_file_path_length: 255,
            console_token_ttl: 600,
            novncproxy_base_url: String::new(),
            novncproxy_port: 6080,
            novnc_dir: "/usr/share/novnc".into(),
        }
    }
}

impl Section for ComputeConfig {
    const NAME: &'static str = "compute";

    fn validate(&self) -> Result<(), String> {
        for (key, ratio) in [
            ("cpu_allocation_ratio", self.cpu_allocation_ratio),
            ("ram_allocation_ratio", self.ram_allocation_ratio),
            ("disk_allocation_ratio", self.disk_allocation_ratio),
        ] {
            if !(ratio.is_finite() && ratio > 0.0) {
                return Err(format!("compute.{key} must be a positive number"));
            }
        }
        if self.default_availability_zone.is_empty() {
            return Err("compute.default_availability_zone must not be empty".into());
        }
        if self.agent_call_timeout_s == 0 || self.agent_spawn_timeout_s == 0 {
            return Err(
                "compute.agent_call_timeout_s and agent_spawn_timeout_s must be positive".into(),
            );
        }
        if self.reserved_host_memory_mb < 0 {
            return Err("compute.reserved_host_memory_mb must not be negative".into());
        }
        if self.console_token_ttl == 0 {
            return Err("compute.console_token_ttl must be at least 1 second".into());
        }
        for (key, v) in [
            ("quota_instances", self.quota_instances),
            ("quota_cores", self.quota_cores),
            ("quota_ram", self.quota_ram),
            ("quota_metadata_items", self.quota_metadata_items),
            ("quota_key_pairs", self.quota_key_pairs),
            ("quota_server_groups", self.quota_server_groups),
            (
                "quota_server_group_members",
                self.quota_server_group_members,
            ),
            ("quota_injected_files", self.quota_injected_files),
            (
                "quota_injected_file_content_bytes",
                self.quota_injected_file_content_bytes,
            ),
            (
                "quota_injected_file_path_length",
                self.quota_injected_file_path_length,
            ),
        ] {
            if v < -1 {
                return Err(format!(
                    "compute.{key} must be -1 (unlimited) or non-negative"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use common::config::Config;

    const SECTIONS: &[common::config::SectionDef] =
        &[common::config::SectionDef::of::<ComputeConfig>()];

    #[test]
    fn defaults_are_novas() {
        let c = ComputeConfig::default();
        assert_eq!((c.port, c.metadata_port), (8774, 8775));
        assert_eq!(c.default_availability_zone, "nova");
        assert_eq!(
            (c.quota_instances, c.quota_cores, c.quota_ram),
            (10, 20, 51200)
        );
        assert!(c.validate().is_ok());
    }

    #[test]
    fn the_file_overrides_and_bad_values_are_refused() {
        let cfg = Config::from_toml(
            "[compute]\nport = 18774\nquota_cores = -1\n",
            vec![],
            SECTIONS,
        )
        .unwrap();
        let c: ComputeConfig = cfg.section().unwrap();
        assert_eq!((c.port, c.quota_cores), (18774, -1));
        let err = Config::from_toml("[compute]\ncpu_allocation_ratio = 0.0\n", vec![], SECTIONS)
            .unwrap_err();
        assert!(err.to_string().contains("cpu_allocation_ratio"), "{err}");
        assert!(Config::from_toml("[compute]\nquota_ram = -2\n", vec![], SECTIONS).is_err());
        assert!(Config::from_toml("[compute]\nbogus = 1\n", vec![], SECTIONS).is_err());
    }
}

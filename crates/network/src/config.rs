//! `[network]`: the network service's section of the configuration file,
//! its defaults (Neutron's and Kolla's where they have them) and its rules.

use common::config::Section;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `[network]`: the Neutron service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    pub port: u16,
    /// VXLAN VNIs tenant networks are given, as `first:last` ranges
    /// (ML2's `[ml2_type_vxlan] vni_ranges`; Kolla's `1:1000`).
    pub vni_ranges: Vec<String>,
    /// The first three octets of every generated MAC address, the rest
    /// random (Neutron's `base_mac` `fa:16:3e:00:00:00`).
    pub base_mac: String,
    /// Physical network name → host interface, for flat and VLAN provider
    /// networks (linuxbridge's `physical_interface_mappings`). An empty
    /// interface means the shared `neutron_external_interface`.
    pub physical_interface_mappings: BTreeMap<String, String>,
    /// MTU of the underlay (Neutron's `global_physnet_mtu`); VXLAN
    /// networks get 50 bytes less.
    pub global_physnet_mtu: i64,
    /// Default quotas per project (Neutron's `[quotas] quota_*`); -1 is
    /// unlimited.
    pub quota_network: i64,
    pub quota_subnet: i64,
    pub quota_port: i64,
    pub quota_router: i64,
    pub quota_floatingip: i64,
    pub quota_security_group: i64,
    pub quota_security_group_rule: i64,
    pub quota_subnetpool: i64,
    /// Largest page a list returns (Neutron's `pagination_max_limit`);
    /// -1 is no limit beyond the client's `limit`.
    pub pagination_max_limit: i64,
    /// A JSON policy file whose rules override Neutron's defaults.
    pub policy_file: String,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            port: 9696,
            vni_ranges: vec!["1:1000".into()],
            base_mac: "fa:16:3e:00:00:00".into(),
            physical_interface_mappings: BTreeMap::from([("physnet1".into(), String::new())]),
            global_physnet_mtu: 1500,
            quota_network: 100,
            quota_subnet: 100,
            quota_port: 500,
            quota_router: 10,
            quota_floatingip: 50,
            quota_security_group: 10,
            quota_security_group_rule: 100,
            quota_subnetpool: -1,
            pagination_max_limit: -1,
            policy_file: String::new(),
        }
    }
}

impl Section for NetworkConfig {
    const NAME: &'static str = "network";

    fn validate(&self) -> Result<(), String> {
        self.vni_ranges()?;
        self.mac_prefix()?;
        if !(68..=65535).contains(&self.global_physnet_mtu) {
            return Err("network.global_physnet_mtu must be between 68 and 65535".into());
        }
        let quotas = [
            self.quota_network,
            self.quota_subnet,
            self.quota_port,
            self.quota_router,
            self.quota_floatingip,
            self.quota_security_group,
            self.quota_security_group_rule,
            self.quota_subnetpool,
        ];
        if quotas.iter().any(|q| *q < -1) {
            return Err("network quotas must be -1 (unlimited) or non-negative".into());
        }
        if self.pagination_max_limit == 0 || self.pagination_max_limit < -1 {
            return Err("network.pagination_max_limit must be -1 or positive".into());
        }
        if self
            .physical_interface_mappings
            .keys()
            .any(String::is_empty)
        {
            return Err(
                "network.physical_interface_mappings has an empty physical network name".into(),
            );
        }
        Ok(())
    }
}

impl NetworkConfig {
    /// The VNI ranges as inclusive `(first, last)` pairs.
    pub fn vni_ranges(&self) -> Result<Vec<(i64, i64)>, String> {
        self.vni_ranges
            .iter()
            .map(|r| {
                let bad = || {
                    format!(
                        "network.vni_ranges entry {r:?} is not first:last with 1 <= first <= last <= 16777215"
                    )
                };
                let (a, b) = r.split_once(':').ok_or_else(bad)?;
                let a: i64 = a.trim().parse().map_err(|_| bad())?;
                let b: i64 = b.trim().parse().map_err(|_| bad())?;
                if a < 1 || a > b || b > 16_777_215 {
                    return Err(bad());
                }
                Ok((a, b))
            })
            .collect()
    }

    /// The three fixed octets of generated MACs.
    pub fn mac_prefix(&self) -> Result<[u8; 3], String> {
        let bad = || format!("network.base_mac {:?} is not a MAC address", self.base_mac);
        let parts: Vec<&str> = self.base_mac.split(':').collect();
        if parts.len() != 6 {
            return Err(bad());
        }
        let mut out = [0u8; 3];
        for (i, p) in parts.iter().enumerate() {
            let v = u8::from_str_radix(p, 16).map_err(|_| bad())?;
            if p.len() != 2 {
                return Err(bad());
            }
            if i < 3 {
                out[i] = v;
            }
        }
        if out[0] & 1 == 1 {
            return Err(format!(
                "network.base_mac {:?} is a multicast address",
                self.base_mac
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use common::config::{Config, ConfigError, SectionDef};

    const SECTIONS: &[SectionDef] = &[SectionDef::of::<NetworkConfig>()];

    fn load(text: &str, env: Vec<(String, String)>) -> Result<Config, ConfigError> {
        Config::from_toml(text, env, SECTIONS)
    }

    #[test]
    fn network_section_defaults_overrides_and_errors() {
        let c = load("", vec![]).unwrap();
        let n: NetworkConfig = c.section().unwrap();
        assert_eq!(n.port, 9696);
        assert_eq!(n.vni_ranges().unwrap(), vec![(1, 1000)]);
        assert_eq!(n.mac_prefix().unwrap(), [0xfa, 0x16, 0x3e]);
        assert_eq!(n.physical_interface_mappings["physnet1"], "");
        assert_eq!((n.quota_network, n.quota_port), (100, 500));
        let c = load(
            "[network]\nvni_ranges = [\"100:200\", \"500:500\"]\nquota_port = 7\n\
             [network.physical_interface_mappings]\nphysnet2 = \"eth2\"\n",
            vec![("OXISTACK_NETWORK_PORT".into(), "9697".into())],
        )
        .unwrap();
        let n: NetworkConfig = c.section().unwrap();
        assert_eq!(n.port, 9697);
        assert_eq!(n.quota_port, 7);
        assert_eq!(n.vni_ranges().unwrap(), vec![(100, 200), (500, 500)]);
        assert_eq!(n.physical_interface_mappings["physnet2"], "eth2");
        let err = |t: &str| load(t, vec![]).unwrap_err().to_string();
        assert_eq!(
            err("[network]\nvni_ranges = [\"5:1\"]\n"),
            "invalid configuration: network.vni_ranges entry \"5:1\" is not first:last with 1 <= first <= last <= 16777215"
        );
        assert_eq!(
            err("[network]\nbase_mac = \"fa:16\"\n"),
            "invalid configuration: network.base_mac \"fa:16\" is not a MAC address"
        );
        assert_eq!(
            err("[network]\nbase_mac = \"ff:16:3e:00:00:00\"\n"),
            "invalid configuration: network.base_mac \"ff:16:3e:00:00:00\" is a multicast address"
        );
        assert_eq!(
            err("[network]\nquota_port = -2\n"),
            "invalid configuration: network quotas must be -1 (unlimited) or non-negative"
        );
        assert_eq!(
            err("[network]\npagination_max_limit = 0\n"),
            "invalid configuration: network.pagination_max_limit must be -1 or positive"
        );
    }
}

//! `[agent]`: how this host's network data plane is wired (the settings
//! of the network role, Neutron linuxbridge agent's names where it has
//! them), and the one function that turns the configuration into a
//! [`NetworkRoleConfig`] and the role's handler, shared by `oxistack up
//! --dataplane linux` (in-process agent) and `oxistack agent`.
//!
//! Defaults come from the shared keys as Kolla-Ansible derives them: the
//! tunnel interface is `network_interface`, the VTEP (`local_ip`) is that
//! interface's IPv4 address (else the internal address), flat networks
//! use `[network] physical_interface_mappings` where an empty interface
//! means `neutron_external_interface`, and dnsmasq's files go under
//! `<state_dir>-dhcp` (dnsmasq drops to `nobody`, which cannot enter the
//! private state directory).

use crate::net::role::{NetworkRole, NetworkRoleConfig};
use crate::RoleHandler;
use common::auth::BoxFuture;
use common::config::{Config, Section};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;

/// `[agent]`: the network role's settings on this host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AgentSection {
    /// This host's VXLAN tunnel endpoint (linuxbridge's `[vxlan]
    /// local_ip`); empty: the first IPv4 address of `tunnel_interface`,
    /// else `internal_address` (or `listen`) when it is an IPv4 address.
    pub local_ip: String,
    /// The underlay device VXLAN devices are bound to (Kolla's
    /// `tunnel_interface`); empty: `network_interface` (none: the kernel
    /// picks by route).
    pub tunnel_interface: String,
    /// The named network namespace the role works in; empty: the
    /// agent's own.
    pub netns: String,
    /// Put in front of every namespace the role makes (`<prefix>qdhcp-…`,
    /// `<prefix>qrouter-…`), so several simulated hosts share one kernel.
    pub node_prefix: String,
    /// Where dnsmasq's files go; empty: `<state_dir>-dhcp`, beside the
    /// state directory rather than in it: dnsmasq reads them as `nobody`
    /// and the state directory is private (mode 0700).
    pub dhcp_state_dir: String,
    /// The name the in-process agent of `oxistack up` registers this host
    /// under; empty: the kernel hostname (the name the controller gives
    /// its own compute host). `oxistack agent` takes `--node-name`.
    pub node_name: String,
    /// The compute role's driver: `fake` (guests in memory, for tests)
    /// or `qemu`; empty: the cloud's `compute_driver`.
    pub compute_driver: String,
    /// Seconds a guest the controller no longer lists lives before the
    /// compute role destroys it; 0: 1800.
    pub compute_orphan_grace_s: u64,
    /// Seconds between the compute role's power-state polls; 0: 10.
    pub compute_power_poll_s: u64,
}

impl Section for AgentSection {
    const NAME: &'static str = "agent";

    fn validate(&self) -> Result<(), String> {
        if !self.local_ip.is_empty() && self.local_ip.parse::<Ipv4Addr>().is_err() {
            return Err(format!(
                "agent.local_ip {:?} is not an IPv4 address",
                self.local_ip
            ));
        }
        if !matches!(self.compute_driver.as_str(), "" | "fake" | "qemu") {
            return Err(format!(
                "agent.compute_driver {:?}: expected qemu or fake",
                self.compute_driver
            ));
        }
        if !self.tunnel_interface.is_empty()
            && !crate::net::link::valid_name(&self.tunnel_interface)
        {
            return Err(format!(
                "agent.tunnel_interface {:?} is not an interface name (1 to 15 bytes, no '/', ':' or spaces)",
                self.tunnel_interface
            ));
        }
        if !self.netns.is_empty()
            && (self.netns.len() > 255
                || self.netns == "."
                || self.netns == ".."
                || self.netns.chars().any(|c| c == '/' || c.is_whitespace()))
        {
            return Err(format!(
                "agent.netns {:?} is not a namespace name",
                self.netns
            ));
        }
        // The prefix goes in front of namespace names and of nothing
        // longer than a namespace name: keep it short and plain.
        if self.node_prefix.len() > 16
            || !self
                .node_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "agent.node_prefix {:?} must be at most 16 letters, digits, '-' or '_'",
                self.node_prefix
            ));
        }
        Ok(())
    }
}

/// The external tools the role runs, and the package each comes in.
fn required_tools(dhcp: bool) -> Vec<(&'static str, &'static str)> {
    let mut t = vec![("nft", "nftables")];
    if dhcp {
        t.push(("dnsmasq", "dnsmasq-base (or dnsmasq)"));
        t.push(("dhcp_release", "dnsmasq-utils"));
    }
    t
}

/// Whether `tool` is an executable file on `PATH`.
fn on_path(tool: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|d| {
        std::fs::metadata(d.join(tool))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Fails naming every missing tool and its package.
pub fn check_tools(dhcp: bool) -> Result<(), String> {
    let missing: Vec<String> = required_tools(dhcp)
        .into_iter()
        .filter(|(t, _)| !on_path(t))
        .map(|(t, p)| format!("{t} (package {p})"))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the network data plane needs {}, not found on PATH; install it or run with --dataplane none",
            missing.join(", ")
        ))
    }
}

/// The first IPv4 address of `iface` in namespace `ns` (None: own).
fn interface_ipv4(ns: Option<&str>, iface: &str) -> Result<Option<Ipv4Addr>, String> {
    let name = iface.to_string();
    crate::net::netns::run_in(ns, move || -> Result<Option<Ipv4Addr>, String> {
        let addrs = nix::ifaddrs::getifaddrs().map_err(|e| format!("listing addresses: {e}"))?;
        Ok(addrs
            .filter(|a| a.interface_name == name)
            .find_map(|a| a.address.and_then(|s| s.as_sockaddr_in().map(|v| v.ip()))))
    })
    .map_err(|e| e.to_string())?
}

/// `<state_dir>-dhcp`: beside the state directory, whose mode 0700
/// keeps `nobody` (dnsmasq's user) out.
pub fn default_dhcp_dir(state_dir: &std::path::Path) -> PathBuf {
    let mut name = state_dir.as_os_str().to_os_string();
    name.push("-dhcp");
    PathBuf::from(name)
}

/// dnsmasq drops to `nobody` and reads its hosts and options files again
/// on SIGHUP: every existing directory above `dir` must be searchable by
/// others, or new ports would never get a lease.
pub fn check_dhcp_dir(dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    for a in dir.ancestors() {
        if let Ok(m) = std::fs::metadata(a) {
            if m.is_dir() && m.permissions().mode() & 0o001 == 0 {
                return Err(format!(
                    "dnsmasq (running as nobody) cannot reach its files in {}: {} is not searchable \
                     by others (mode {:o}); set agent.dhcp_state_dir to a directory outside it",
                    dir.display(),
                    a.display(),
                    m.permissions().mode() & 0o7777
                ));
            }
        }
    }
    Ok(())
}

/// The network role's settings for this host from the configuration:
/// `[agent]`, `[network] physical_interface_mappings` and the shared
/// keys. `dhcp`: this host serves DHCP (a network node). Also checks
/// the kernel (VLAN support is only warned about: such networks are
/// refused with the reason in the report).
pub fn network_role_config(cfg: &Config, dhcp: bool) -> Result<NetworkRoleConfig, String> {
    let a: AgentSection = cfg.section().map_err(|e| e.to_string())?;
    let n: network::config::NetworkConfig = cfg.section().map_err(|e| e.to_string())?;
    let namespace = (!a.netns.is_empty()).then(|| a.netns.clone());
    let mut physical_mappings = BTreeMap::new();
    for (phys, iface) in &n.physical_interface_mappings {
        let iface = if iface.is_empty() {
            &cfg.neutron_external_interface
        } else {
            iface
        };
        // A physical network with no interface on this host: its flat
        // networks are refused, with the reason in the report.
        if !iface.is_empty() {
            physical_mappings.insert(phys.clone(), iface.clone());
        }
    }
    let tunnel_dev = [&a.tunnel_interface, &cfg.network_interface]
        .into_iter()
        .find(|s| !s.is_empty())
        .cloned();
    let tunnel_ip = if !a.local_ip.is_empty() {
        Some(
            a.local_ip
                .parse::<Ipv4Addr>()
                .map_err(|_| format!("agent.local_ip {:?} is not an IPv4 address", a.local_ip))?,
        )
    } else if let Some(dev) = &tunnel_dev {
        Some(interface_ipv4(namespace.as_deref(), dev)?.ok_or_else(|| {
            format!(
                "the tunnel interface {dev:?} has no IPv4 address; set agent.local_ip \
                 (the VXLAN endpoint) or agent.tunnel_interface"
            )
        })?)
    } else {
        let internal = if cfg.internal_address.is_empty() {
            &cfg.listen
        } else {
            &cfg.internal_address
        };
        internal
            .parse::<Ipv4Addr>()
            .ok()
            .filter(|a| !a.is_unspecified())
    };
    if tunnel_ip.is_none() {
        tracing::warn!(
            "no VXLAN endpoint address (agent.local_ip, the tunnel interface's address or an IPv4 \
             internal_address): VXLAN networks are refused on this host"
        );
    }
    let vlan_supported = crate::net::l2::kernel_has_vlan();
    if !vlan_supported {
        tracing::warn!("this kernel has no 8021q: VLAN provider networks are refused on this host");
    }
    let dhcp_state_dir = dhcp.then(|| {
        if a.dhcp_state_dir.is_empty() {
            default_dhcp_dir(&cfg.state_dir)
        } else {
            PathBuf::from(&a.dhcp_state_dir)
        }
    });
    Ok(NetworkRoleConfig {
        node_prefix: a.node_prefix,
        namespace,
        l2: crate::net::l2::L2Config {
            tunnel_ip,
            tunnel_dev,
            physical_mappings,
            vlan_supported,
        },
        dhcp_state_dir,
    })
}

/// The handler that plugs this host's ports for a node holding `roles`:
/// the network role itself on a network node (bridges, ports, DHCP,
/// routers); on a compute-only node the same role, serving only the
/// ports bound here (the feed gives such a node no DHCP servers or
/// routers), reported under `compute` as `network_ports` (the feed's
/// report contract); none when the node holds neither role. Checks the
/// external tools it needs first.
pub fn network_handler(
    cfg: &Config,
    roles: &[String],
    metadata: Option<crate::net::metadata::MetadataConfig>,
) -> Result<Option<Arc<dyn RoleHandler>>, String> {
    let network = roles.iter().any(|r| r == "network");
    let compute = roles.iter().any(|r| r == "compute");
    if !network && !compute {
        return Ok(None);
    }
    check_tools(network)?;
    let rc = network_role_config(cfg, network)?;
    if let Some(d) = &rc.dhcp_state_dir {
        check_dhcp_dir(d)?;
    }
    let role = NetworkRole::new(rc);
    if network {
        match metadata {
            Some(m) => role.serve_metadata(m),
            None => tracing::warn!("no metadata API URL: no metadata proxy on this host"),
        }
    }
    Ok(Some(if network {
        Arc::new(role)
    } else {
        Arc::new(ComputePorts(role))
    }))
}

/// The network role on a compute-only node: its report goes under the
/// `compute` role as `network_ports`.
pub struct ComputePorts(pub NetworkRole);

impl RoleHandler for ComputePorts {
    fn role(&self) -> &'static str {
        "compute"
    }

    fn apply<'a>(&'a self, document: &'a Value) -> BoxFuture<'a, Value> {
        Box::pin(async move {
            let st = RoleHandler::apply(&self.0, document).await;
            json!({
                "network_ports": st.get("ports").cloned().unwrap_or_else(|| json!({})),
                "errors": st.get("errors").cloned().unwrap_or_else(|| json!([])),
            })
        })
    }

    fn changes(&self) -> Option<Arc<tokio::sync::Notify>> {
        Some(self.0.changes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::config::SectionDef;

    fn load(toml: &str) -> Result<Config, String> {
        Config::from_toml(
            toml,
            Vec::<(String, String)>::new(),
            &[
                SectionDef::of::<AgentSection>(),
                SectionDef::of::<network::config::NetworkConfig>(),
            ],
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn bad_values_are_refused_naming_the_key() {
        for (t, key) in [
            ("[agent]\nlocal_ip = \"10.0.0\"\n", "agent.local_ip"),
            ("[agent]\nlocal_ip = \"fd00::1\"\n", "agent.local_ip"),
            (
                "[agent]\ntunnel_interface = \"a-very-long-interface\"\n",
                "agent.tunnel_interface",
            ),
            ("[agent]\nnetns = \"a/b\"\n", "agent.netns"),
            ("[agent]\nnode_prefix = \"a b\"\n", "agent.node_prefix"),
        ] {
            let e = load(t).unwrap_err();
            assert!(e.contains(key), "{t}: {e}");
        }
        assert!(load("[agent]\nno_such = 1\n")
            .unwrap_err()
            .contains("no_such"));
    }

    #[test]
    fn defaults_come_from_the_shared_keys() {
        let c = load(
            "listen = \"192.0.2.10\"\nneutron_external_interface = \"veth-ext\"\n\
             state_dir = \"/srv/ox\"\n[network.physical_interface_mappings]\n\
             physnet1 = \"\"\nphysnet2 = \"eth2\"\n",
        )
        .unwrap();
        let r = network_role_config(&c, true).unwrap();
        assert_eq!(r.l2.tunnel_ip, Some(Ipv4Addr::new(192, 0, 2, 10)));
        assert_eq!(r.l2.tunnel_dev, None);
        assert_eq!(r.l2.physical_mappings["physnet1"], "veth-ext");
        assert_eq!(r.l2.physical_mappings["physnet2"], "eth2");
        assert_eq!(r.dhcp_state_dir, Some(PathBuf::from("/srv/ox-dhcp")));
        assert_eq!((r.node_prefix.as_str(), r.namespace.as_deref()), ("", None));
        // A compute-only node serves no DHCP; an explicit VTEP wins; a
        // physnet with no interface anywhere is left unmapped.
        let c = load(
            "internal_address = \"192.0.2.11\"\n[agent]\nlocal_ip = \"198.51.100.7\"\n\
             node_prefix = \"n1-\"\nnetns = \"h1\"\ndhcp_state_dir = \"/x\"\n",
        )
        .unwrap();
        let r = network_role_config(&c, false).unwrap();
        assert_eq!(r.l2.tunnel_ip, Some(Ipv4Addr::new(198, 51, 100, 7)));
        assert!(r.l2.physical_mappings.is_empty());
        assert_eq!(r.dhcp_state_dir, None);
        assert_eq!(
            (r.node_prefix.as_str(), r.namespace.as_deref()),
            ("n1-", Some("h1"))
        );
        let c = load("[agent]\ndhcp_state_dir = \"/x\"\n").unwrap();
        assert_eq!(
            network_role_config(&c, true).unwrap().dhcp_state_dir,
            Some(PathBuf::from("/x"))
        );
    }

    #[test]
    fn the_loopback_interface_gives_its_address_as_the_vtep() {
        let c = load("network_interface = \"lo\"\n").unwrap();
        let r = network_role_config(&c, false).unwrap();
        assert_eq!(r.l2.tunnel_ip, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(r.l2.tunnel_dev.as_deref(), Some("lo"));
        let c = load("network_interface = \"nosuchif0\"\n").unwrap();
        let e = network_role_config(&c, false).unwrap_err();
        assert!(
            e.contains("nosuchif0") && e.contains("agent.local_ip"),
            "{e}"
        );
    }

    #[test]
    fn a_dhcp_dir_nobody_can_reach_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let private = t.path().join("state");
        std::fs::create_dir(&private).unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = check_dhcp_dir(&private.join("dhcp")).unwrap_err();
        assert!(
            e.contains("agent.dhcp_state_dir") && e.contains("700"),
            "{e}"
        );
        check_dhcp_dir(&default_dhcp_dir(&private)).unwrap();
    }

    #[test]
    fn missing_tools_are_named_with_their_package() {
        assert!(required_tools(true)
            .iter()
            .any(|(t, p)| *t == "dhcp_release" && p.contains("dnsmasq-utils")));
        assert!(!on_path("no-such-tool-oxistack"));
        assert!(required_tools(false).iter().all(|(t, _)| *t == "nft"));
    }
}

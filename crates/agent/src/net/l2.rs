//! What L2 a host needs, computed from its network feed: one bridge per
//! network it carries (`brq` + network id[..11]), its uplink (the mapped
//! physical interface of a flat network, or a `vxlan-<VNI>` device with a
//! flooding FDB entry per remote VTEP and a per-MAC entry for every port
//! of the network on another host), its MTU, and which `tap…` device
//! goes into which bridge. Pure: [`plan`] touches nothing; `role` applies
//! it.
//!
//! Link names carry no node prefix: they must fit IFNAMSIZ, and several
//! simulated hosts sharing one kernel each run in their own host
//! namespace, where the names cannot collide.

use super::link::parse_mac;
use network::app::feed::NodeFeed;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Prefix of the bridges this agent owns.
pub const BRIDGE_PREFIX: &str = "brq";
/// Prefix of the VXLAN devices this agent owns.
pub const VXLAN_PREFIX: &str = "vxlan-";
/// Prefix of instance ports' devices (Neutron's).
pub const TAP_PREFIX: &str = "tap";

/// `brq` + the first 11 characters of the network id.
pub fn bridge_name(network_id: &str) -> String {
    format!("{BRIDGE_PREFIX}{}", prefix11(network_id))
}

/// `tap` + the first 11 characters of the port id.
pub fn tap_name(port_id: &str) -> String {
    format!("{TAP_PREFIX}{}", prefix11(port_id))
}

/// `vxlan-` + the VNI (as Neutron's linuxbridge agent).
pub fn vxlan_name(vni: u32) -> String {
    format!("{VXLAN_PREFIX}{vni}")
}

fn prefix11(id: &str) -> &str {
    match id.char_indices().nth(11) {
        Some((i, _)) => &id[..i],
        None => id,
    }
}

/// Whether this kernel has 8021q (it publishes `/proc/net/vlan` when
/// built in or loaded).
pub fn kernel_has_vlan() -> bool {
    std::path::Path::new("/proc/net/vlan").exists()
}

/// How this host's L2 is wired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct L2Config {
    /// The local VTEP address (VXLAN networks need it).
    pub tunnel_ip: Option<Ipv4Addr>,
    /// The underlay device the VXLAN devices are bound to (None: the
    /// kernel picks by route).
    pub tunnel_dev: Option<String>,
    /// physical network name → interface (flat networks).
    pub physical_mappings: BTreeMap<String, String>,
    /// Whether the kernel has 8021q (VLAN sub-interfaces); false on
    /// kernels without it, where VLAN networks are refused.
    pub vlan_supported: bool,
}

/// A bridge's uplink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uplink {
    /// Flat provider network: the physical interface itself.
    Physical(String),
    /// Tenant network: a VXLAN device toward the remote VTEPs.
    Vxlan {
        device: String,
        vni: u32,
        local: Ipv4Addr,
        remotes: Vec<Ipv4Addr>,
        /// Per-MAC entries: a remote port's MAC → its host's VTEP,
        /// sorted, one VTEP per MAC.
        macs: Vec<([u8; 6], Ipv4Addr)>,
    },
    /// VLAN provider network: `interface.VLAN`.
    Vlan { interface: String, vlan: u16 },
}

/// One network's bridge on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgePlan {
    pub network_id: String,
    pub bridge: String,
    pub mtu: u32,
    pub uplink: Uplink,
}

/// Everything L2 this host must have.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub bridges: Vec<BridgePlan>,
    /// network id → why this host cannot carry it.
    pub refused: BTreeMap<String, String>,
    /// tap device → (port id, bridge) for the ports bound here whose
    /// network has a bridge.
    pub taps: BTreeMap<String, (String, String)>,
}

impl Plan {
    pub fn wants_link(&self, name: &str) -> bool {
        self.bridges.iter().any(|b| {
            b.bridge == name || matches!(&b.uplink, Uplink::Vxlan { device, .. } if device == name)
        })
    }
}

/// Computes the host's L2 from its feed.
pub fn plan(cfg: &L2Config, feed: &NodeFeed) -> Plan {
    let mut out = Plan::default();
    for n in &feed.networks {
        match uplink(cfg, n) {
            Ok(uplink) => out.bridges.push(BridgePlan {
                network_id: n.id.clone(),
                bridge: bridge_name(&n.id),
                mtu: u32::try_from(n.mtu)
                    .ok()
                    .filter(|m| *m >= 68)
                    .unwrap_or(1500),
                uplink,
            }),
            Err(why) => {
                out.refused.insert(n.id.clone(), why);
            }
        }
    }
    for p in &feed.ports {
        if let Some(b) = out.bridges.iter().find(|b| b.network_id == p.network_id) {
            out.taps
                .insert(tap_name(&p.id), (p.id.clone(), b.bridge.clone()));
        }
    }
    out
}

fn uplink(cfg: &L2Config, n: &network::app::feed::FeedNetwork) -> Result<Uplink, String> {
    let seg = &n.segment;
    let physical = || -> Result<String, String> {
        let phys = seg.physical_network.as_deref().unwrap_or_default();
        cfg.physical_mappings.get(phys).cloned().ok_or_else(|| {
            format!("physical network {phys:?} has no interface mapping on this host")
        })
    };
    match seg.network_type.as_str() {
        "flat" => Ok(Uplink::Physical(physical()?)),
        "vlan" => {
            if !cfg.vlan_supported {
                return Err("VLAN networks need 8021q, which this kernel does not have".to_string());
            }
            let vlan = seg
                .segmentation_id
                .and_then(|v| u16::try_from(v).ok())
                .filter(|v| (1..=4094).contains(v))
                .ok_or_else(|| format!("invalid VLAN id {:?}", seg.segmentation_id))?;
            Ok(Uplink::Vlan {
                interface: physical()?,
                vlan,
            })
        }
        "vxlan" => {
            let vni = seg
                .segmentation_id
                .and_then(|v| u32::try_from(v).ok())
                .filter(|v| *v < (1 << 24))
                .ok_or_else(|| format!("invalid VNI {:?}", seg.segmentation_id))?;
            let local = cfg
                .tunnel_ip
                .ok_or_else(|| "VXLAN networks need a tunnel (VTEP) address".to_string())?;
            let mut remotes: Vec<Ipv4Addr> = n
                .remote_vteps
                .iter()
                .filter_map(|a| a.parse().ok())
                .filter(|a| *a != local)
                .collect();
            remotes.sort();
            remotes.dedup();
            // A MAC claimed by two remote ports (a race in a migration)
            // gets the first VTEP: an FDB entry has one destination.
            let mut by_mac: BTreeMap<[u8; 6], Ipv4Addr> = BTreeMap::new();
            for r in &n.remote_macs {
                let (Some(mac), Ok(vtep)) = (parse_mac(&r.mac_address), r.vtep.parse()) else {
                    continue;
                };
                if vtep != local && mac != [0; 6] {
                    by_mac.entry(mac).or_insert(vtep);
                }
            }
            Ok(Uplink::Vxlan {
                device: vxlan_name(vni),
                vni,
                local,
                remotes,
                macs: by_mac.into_iter().collect(),
            })
        }
        other => Err(format!("network type {other:?} is not supported")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use network::app::feed::{FeedNetwork, FeedPort, FeedRemoteMac, FeedSegment};

    fn net(
        id: &str,
        ty: &str,
        phys: Option<&str>,
        seg: Option<i64>,
        vteps: &[&str],
    ) -> FeedNetwork {
        FeedNetwork {
            id: id.into(),
            admin_state_up: true,
            mtu: 1450,
            router_external: false,
            segment: FeedSegment {
                network_type: ty.into(),
                physical_network: phys.map(Into::into),
                segmentation_id: seg,
            },
            subnets: vec![],
            remote_vteps: vteps.iter().map(|s| s.to_string()).collect(),
            remote_macs: vec![],
        }
    }

    fn port(id: &str, net: &FeedNetwork) -> FeedPort {
        FeedPort {
            id: id.into(),
            network_id: net.id.clone(),
            segment: net.segment.clone(),
            mac_address: "fa:16:3e:00:00:01".into(),
            admin_state_up: true,
            device_owner: "compute:nova".into(),
            device_id: "vm".into(),
            fixed_ips: vec![],
            port_security_enabled: false,
            allowed_address_pairs: vec![],
            security_groups: vec![],
            status: "DOWN".into(),
        }
    }

    #[test]
    fn names_follow_neutron_and_fit_ifnamsiz() {
        let id = "0123456789abcdef-0000";
        assert_eq!(bridge_name(id), "brq0123456789a");
        assert_eq!(tap_name(id), "tap0123456789a");
        assert_eq!(vxlan_name(16_777_215), "vxlan-16777215");
        assert!(vxlan_name(16_777_215).len() <= 15);
        assert_eq!(tap_name("short"), "tapshort");
    }

    #[test]
    fn flat_vxlan_and_vlan_networks_are_planned_or_refused() {
        let cfg = L2Config {
            tunnel_ip: Some(Ipv4Addr::new(10, 9, 0, 1)),
            tunnel_dev: None,
            physical_mappings: BTreeMap::from([("physnet1".to_string(), "eth1".to_string())]),
            vlan_supported: false,
        };
        let flat = net("aaaaaaaaaaaa-flat", "flat", Some("physnet1"), None, &[]);
        let mut vx = net(
            "bbbbbbbbbbbb-vx",
            "vxlan",
            None,
            Some(42),
            &["10.9.0.3", "10.9.0.1", "10.9.0.2", "bad"],
        );
        let rm = |mac: &str, vtep: &str| FeedRemoteMac {
            mac_address: mac.into(),
            vtep: vtep.into(),
        };
        vx.remote_macs = vec![
            rm("fa:16:3e:00:00:0b", "10.9.0.3"),
            rm("FA:16:3E:00:00:0A", "10.9.0.2"),
            // Ours, unreadable, or claimed twice: left out / first wins.
            rm("fa:16:3e:00:00:0c", "10.9.0.1"),
            rm("not-a-mac", "10.9.0.2"),
            rm("fa:16:3e:00:00:0d", "bad"),
            rm("fa:16:3e:00:00:0b", "10.9.0.2"),
        ];
        let vlan = net(
            "cccccccccccc-vlan",
            "vlan",
            Some("physnet1"),
            Some(100),
            &[],
        );
        let unmapped = net("dddddddddddd-flat", "flat", Some("physnet9"), None, &[]);
        let feed = NodeFeed {
            networks: vec![flat.clone(), vx.clone(), vlan, unmapped],
            ports: vec![port("p1111111111111", &flat), port("p2222222222222", &vx)],
            security_groups: vec![],
            remote_groups: BTreeMap::new(),
            dhcp: vec![],
            routers: vec![],
            metadata: vec![],
        };
        let p = plan(&cfg, &feed);
        assert_eq!(
            p.bridges,
            vec![
                BridgePlan {
                    network_id: flat.id.clone(),
                    bridge: "brqaaaaaaaaaaa".into(),
                    mtu: 1450,
                    uplink: Uplink::Physical("eth1".into()),
                },
                BridgePlan {
                    network_id: vx.id.clone(),
                    bridge: "brqbbbbbbbbbbb".into(),
                    mtu: 1450,
                    uplink: Uplink::Vxlan {
                        device: "vxlan-42".into(),
                        vni: 42,
                        local: Ipv4Addr::new(10, 9, 0, 1),
                        remotes: vec![Ipv4Addr::new(10, 9, 0, 2), Ipv4Addr::new(10, 9, 0, 3)],
                        macs: vec![
                            ([0xfa, 0x16, 0x3e, 0, 0, 0x0a], Ipv4Addr::new(10, 9, 0, 2)),
                            ([0xfa, 0x16, 0x3e, 0, 0, 0x0b], Ipv4Addr::new(10, 9, 0, 3)),
                        ],
                    },
                },
            ]
        );
        assert!(p.refused["cccccccccccc-vlan"].contains("8021q"));
        assert!(p.refused["dddddddddddd-flat"].contains("physnet9"));
        assert_eq!(
            p.taps["tapp1111111111"],
            ("p1111111111111".to_string(), "brqaaaaaaaaaaa".to_string())
        );
        assert!(p.wants_link("vxlan-42") && p.wants_link("brqbbbbbbbbbbb"));
        assert!(!p.wants_link("brqccccccccccc"));

        // Without a VTEP address VXLAN is refused, with the reason.
        let no_vtep = L2Config {
            tunnel_ip: None,
            ..cfg.clone()
        };
        assert!(plan(&no_vtep, &feed).refused["bbbbbbbbbbbb-vx"].contains("VTEP"));
        // Where the kernel has 8021q, VLAN networks are planned.
        let with_vlan = L2Config {
            vlan_supported: true,
            ..cfg
        };
        assert!(plan(&with_vlan, &feed).bridges.iter().any(|b| b.uplink
            == Uplink::Vlan {
                interface: "eth1".into(),
                vlan: 100
            }));
    }
}

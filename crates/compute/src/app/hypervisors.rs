//! Compute hosts and their resources (`os-hypervisors`, `os-hosts`, the
//! scheduler's input).
//!
//! The compute hosts are the node registry's nodes with the `compute`
//! role. An all-in-one cloud embedded in a test (`dataplane = none`)
//! may have none registered yet: this controller's own host, named as the
//! in-process agent names it (the kernel's hostname), is then the one
//! compute host, always up.
//!
//! Resources: with the fake driver every host has the fixed large
//! capacity of Nova's `FakeDriver` (1000 vCPUs, 800000 MiB, 600000 GiB).
//! With qemu the controller's own host reads them from the system (CPUs
//! online, `MemTotal` of `/proc/meminfo`, the size of the filesystem of
//! the state directory); agents report no resources yet, so another node
//! shows none and is never chosen. Usage is summed from the live servers
//! placed on each host.

use super::Compute;
use crate::db::services::{self as svc_rows, HostUsage};
use common::config::Config;
use common::Result;

/// What this controller knows of its own host.
#[derive(Debug, Clone)]
pub struct LocalHost {
    /// The host's name, as the in-process agent registers it.
    pub name: String,
    /// Its address (`internal_address`, else `listen`).
    pub address: String,
    /// `compute_driver`: `qemu` or `fake`.
    pub driver: String,
    /// Where the instances' disks live (for the disk size).
    pub state_dir: std::path::PathBuf,
}

impl LocalHost {
    pub fn from_config(cfg: &Config) -> LocalHost {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        LocalHost {
            name: if host.is_empty() {
                "localhost".into()
            } else {
                host
            },
            address: cfg.internal_host(),
            driver: cfg.compute_driver.clone(),
            state_dir: cfg.state_dir.clone(),
        }
    }

    pub fn is_fake(&self) -> bool {
        self.driver == "fake"
    }
}

/// Total capacity of a host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capacity {
    pub vcpus: i64,
    pub memory_mb: i64,
    pub local_gb: i64,
}

/// Nova's `FakeDriver` resources.
pub const FAKE_CAPACITY: Capacity = Capacity {
    vcpus: 1000,
    memory_mb: 800_000,
    local_gb: 600_000,
};

/// This machine's CPUs, memory and the size of `dir`'s filesystem.
fn local_capacity(dir: &std::path::Path) -> Capacity {
    let vcpus = std::thread::available_parallelism()
        .map(|n| n.get() as i64)
        .unwrap_or(0);
    let memory_mb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(0);
    let probe = if dir.exists() {
        dir
    } else {
        std::path::Path::new("/")
    };
    let local_gb = nix::sys::statvfs::statvfs(probe)
        .map(|s| {
            let bytes = (s.blocks() as u128) * (s.fragment_size() as u128);
            (bytes >> 30) as i64
        })
        .unwrap_or(0);
    Capacity {
        vcpus,
        memory_mb,
        local_gb,
    }
}

/// QEMU's version as Nova's libvirt driver reports it
/// (`major * 1000000 + minor * 1000 + micro`), read once from
/// `qemu-system-<arch> --version`; 0 when QEMU is not installed.
pub fn qemu_version() -> i64 {
    static VERSION: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *VERSION.get_or_init(|| {
        let arch = match std::env::consts::ARCH {
            "x86" => "i386",
            a => a,
        };
        std::process::Command::new(format!("qemu-system-{arch}"))
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| parse_qemu_version(&String::from_utf8_lossy(&o.stdout)))
            .unwrap_or(0)
    })
}

/// `QEMU emulator version 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1)` → 8002002.
fn parse_qemu_version(text: &str) -> Option<i64> {
    let v = text.split("version ").nth(1)?.split_whitespace().next()?;
    let mut parts = v.split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<i64>()
            .ok()
    });
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let micro = parts.next().flatten().unwrap_or(0);
    Some(major * 1_000_000 + minor * 1_000 + micro)
}

/// This host's CPU as libvirt's `cpu_info` describes it (arch, vendor,
/// model, topology, feature flags), from `/proc/cpuinfo`; read once.
pub fn local_cpu_info() -> serde_json::Value {
    static INFO: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    INFO.get_or_init(|| {
        cpu_info_from(&std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default())
    })
    .clone()
}

fn cpu_info_from(text: &str) -> serde_json::Value {
    let field = |name: &str| {
        text.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_string())
    };
    let vendor = match field("vendor_id").as_deref() {
        Some("GenuineIntel") => "Intel".to_string(),
        Some("AuthenticAMD") => "AMD".to_string(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let logical = text
        .lines()
        .filter(|l| l.split(':').next().map(str::trim) == Some("processor"))
        .count()
        .max(1) as i64;
    let mut sockets: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim() == "physical id")
        .map(|(_, v)| v.trim())
        .collect();
    sockets.sort_unstable();
    sockets.dedup();
    let sockets = (sockets.len() as i64).max(1);
    let cores = field("cpu cores")
        .and_then(|c| c.parse::<i64>().ok())
        .unwrap_or(logical / sockets)
        .max(1);
    let threads = (logical / (sockets * cores)).max(1);
    let features: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| matches!(k.trim(), "flags" | "Features"))
        .map(|(_, v)| v.split_whitespace().collect())
        .unwrap_or_default();
    serde_json::json!({
        "arch": std::env::consts::ARCH,
        "vendor": vendor,
        "model": field("model name").unwrap_or_default(),
        "topology": {"cells": 1, "sockets": sockets, "cores": cores, "threads": threads},
        "features": features,
    })
}

/// One compute host, its capacity and what its live servers use.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputeHost {
    /// Nova's `host` and `hypervisor_hostname`: the node's name.
    pub name: String,
    /// Its address (`host_ip`).
    pub address: String,
    /// Heard from lately (always, for the controller's own host).
    pub up: bool,
    /// Its last heartbeat (micros; now, for the controller's own host
    /// standing in for an unregistered one).
    pub heartbeat_at: i64,
    pub capacity: Capacity,
    pub used: HostUsage,
    /// The architecture its instances run as.
    pub arch: String,
    /// `hypervisor_type`: `QEMU`, or `fake`.
    pub hypervisor_type: String,
    /// This controller's own host, whose CPU and QEMU it can describe.
    pub local: bool,
}

impl Compute {
    /// Every compute host, by name.
    pub async fn compute_hosts(&self) -> Result<Vec<ComputeHost>> {
        let local = &self.local;
        let mut hosts: Vec<(String, String, bool, i64)> = self
            .nodes
            .nodes()
            .await?
            .into_iter()
            .filter(|e| e.node.has_role("compute"))
            .map(|e| {
                let addr = if e.node.address.is_empty() {
                    e.node.hostname.clone()
                } else {
                    e.node.address.clone()
                };
                (e.node.name, addr, e.up, e.heartbeat_at)
            })
            .collect();
        if hosts.is_empty() {
            hosts.push((local.name.clone(), local.address.clone(), true, self.now()));
        }
        hosts.sort();
        let usage = svc_rows::host_usage(&self.db.pool).await?;
        let own = if local.is_fake() {
            FAKE_CAPACITY
        } else {
            local_capacity(&local.state_dir)
        };
        Ok(hosts
            .into_iter()
            .map(|(name, address, up, heartbeat_at)| {
                let is_local = name == local.name;
                let capacity = if local.is_fake() || name == local.name {
                    own
                } else {
                    Capacity::default()
                };
                let used = usage
                    .iter()
                    .find(|u| u.host == name)
                    .cloned()
                    .unwrap_or_else(|| HostUsage {
                        host: name.clone(),
                        ..HostUsage::default()
                    });
                ComputeHost {
                    name,
                    address,
                    up,
                    heartbeat_at,
                    capacity,
                    used,
                    arch: std::env::consts::ARCH.to_string(),
                    local: is_local,
                    hypervisor_type: if local.is_fake() {
                        "fake".into()
                    } else {
                        "QEMU".into()
                    },
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_info_reads_proc_cpuinfo() {
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon X\n\
                    physical id\t: 0\ncpu cores\t: 2\nflags\t\t: fpu vmx sse\n\n\
                    processor\t: 1\nphysical id\t: 0\n\n\
                    processor\t: 2\nphysical id\t: 0\n\n\
                    processor\t: 3\nphysical id\t: 0\n";
        let v = cpu_info_from(text);
        assert_eq!(v["vendor"], "Intel");
        assert_eq!(v["model"], "Xeon X");
        assert_eq!(
            v["topology"],
            serde_json::json!({"cells": 1, "sockets": 1, "cores": 2, "threads": 2})
        );
        assert_eq!(v["features"], serde_json::json!(["fpu", "vmx", "sse"]));
        assert_eq!(cpu_info_from("")["topology"]["threads"], 1);
    }

    #[test]
    fn qemu_versions_read_as_novas_integers() {
        assert_eq!(
            parse_qemu_version("QEMU emulator version 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1)\n"),
            Some(8_002_002)
        );
        assert_eq!(
            parse_qemu_version("QEMU emulator version 7.1\n"),
            Some(7_001_000)
        );
        assert_eq!(parse_qemu_version("nothing here"), None);
    }
}

//! The scheduler: Nova's filter scheduler over the compute hosts, in
//! process. Filters (a host passes all): its `nova-compute` service is
//! enabled and up; free RAM, vCPUs and disk under the allocation ratios
//! (and the reserved host memory) fit the request; it is in the
//! requested availability zone; it runs the image's `hw_architecture`
//! and `img_hv_type` when the image names them; server-group affinity
//! (only the hosts of the group's members) or anti-affinity (none of
//! them). Weigher: the most free RAM wins (Nova's default RAM weigher),
//! then the name, so equal hosts are chosen the same way every time.

use super::hypervisors::ComputeHost;
use super::Compute;
use common::{Error, Result};

/// A server-group policy the request is bound by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupPolicy {
    Affinity,
    AntiAffinity,
}

/// What a server needs from its host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostRequest {
    pub vcpus: i64,
    pub memory_mb: i64,
    /// Root plus ephemeral (plus swap) GiB on the host's disk.
    pub disk_gb: i64,
    /// The zone asked for; `None` is any.
    pub availability_zone: Option<String>,
    /// A host the admin forced (`zone:host`), if any.
    pub force_host: Option<String>,
    /// The image's `hw_architecture`, if set.
    pub image_arch: Option<String>,
    /// The image's `img_hv_type`, if set.
    pub image_hv_type: Option<String>,
    /// The server group's policy, with the hosts its members are on.
    pub group: Option<(GroupPolicy, Vec<String>)>,
}

/// The state of one host the filters read.
#[derive(Debug, Clone, PartialEq)]
pub struct HostState {
    pub host: ComputeHost,
    /// Its `nova-compute` is enabled and up.
    pub service_ok: bool,
    pub zone: String,
}

/// Allocation ratios and reserved memory (`[compute]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratios {
    pub cpu: f64,
    pub ram: f64,
    pub disk: f64,
    pub reserved_memory_mb: i64,
}

/// Nova's `NoValidHost`; the servers' build turns it into an ERROR fault.
/// Nova's `NoValidHost` message.
pub const NO_VALID_HOST: &str = "No valid host was found. There are not enough hosts available.";

pub fn no_valid_host() -> Error {
    Error::unavailable(NO_VALID_HOST).with_fault("NoValidHost")
}

/// Whether `e` is [`no_valid_host`].
pub fn is_no_valid_host(e: &Error) -> bool {
    e.fault() == Some("NoValidHost")
}

/// Free capacity `total * ratio - used` (reserved taken off the total).
fn free(total: i64, reserved: i64, ratio: f64, used: i64) -> f64 {
    (total - reserved) as f64 * ratio - used as f64
}

/// The free RAM (MiB) the weigher ranks by.
pub fn free_ram(h: &HostState, r: &Ratios) -> f64 {
    free(
        h.host.capacity.memory_mb,
        r.reserved_memory_mb,
        r.ram,
        h.host.used.memory_mb,
    )
}

/// Why `h` cannot take `req`, or `None` when it can.
pub fn refuses(h: &HostState, req: &HostRequest, r: &Ratios) -> Option<&'static str> {
    let c = &h.host.capacity;
    let u = &h.host.used;
    if !h.service_ok {
        return Some("ComputeFilter");
    }
    if req.force_host.as_deref().is_some_and(|f| f != h.host.name) {
        return Some("forced host");
    }
    if free_ram(h, r) < req.memory_mb as f64 {
        return Some("RamFilter");
    }
    if free(c.vcpus, 0, r.cpu, u.vcpus) < req.vcpus as f64 {
        return Some("CoreFilter");
    }
    if free(c.local_gb, 0, r.disk, u.disk_gb) < req.disk_gb as f64 {
        return Some("DiskFilter");
    }
    if req
        .availability_zone
        .as_deref()
        .is_some_and(|z| !z.is_empty() && z != h.zone)
    {
        return Some("AvailabilityZoneFilter");
    }
    if req
        .image_arch
        .as_deref()
        .is_some_and(|a| !arch_matches(a, &h.host.arch))
    {
        return Some("ImagePropertiesFilter");
    }
    if req
        .image_hv_type
        .as_deref()
        .is_some_and(|t| !hv_type_matches(t, &h.host.hypervisor_type))
    {
        return Some("ImagePropertiesFilter");
    }
    match &req.group {
        Some((GroupPolicy::Affinity, hosts))
            if !hosts.is_empty() && !hosts.contains(&h.host.name) =>
        {
            Some("ServerGroupAffinityFilter")
        }
        Some((GroupPolicy::AntiAffinity, hosts)) if hosts.contains(&h.host.name) => {
            Some("ServerGroupAntiAffinityFilter")
        }
        _ => None,
    }
}

/// Nova's canonical architecture names (`i686`, `amd64` are aliases).
fn arch_matches(image: &str, host: &str) -> bool {
    let canon = |a: &str| match a.to_ascii_lowercase().as_str() {
        "amd64" | "x86-64" | "x64" => "x86_64".to_string(),
        "arm64" => "aarch64".to_string(),
        "i386" | "i486" | "i586" | "i686" | "x86" | "ia32" => "i686".to_string(),
        other => other.to_string(),
    };
    canon(image) == canon(host)
}

/// A QEMU host runs `qemu` and `kvm` images; the fake driver takes any.
fn hv_type_matches(image: &str, host_type: &str) -> bool {
    match host_type {
        "fake" => true,
        _ => matches!(image.to_ascii_lowercase().as_str(), "qemu" | "kvm"),
    }
}

/// The host chosen for `req` among `hosts`: every filter passed, most
/// free RAM, then by name.
pub fn choose(hosts: &[HostState], req: &HostRequest, r: &Ratios) -> Option<String> {
    hosts
        .iter()
        .filter(|h| refuses(h, req, r).is_none())
        .max_by(|a, b| {
            free_ram(a, r)
                .total_cmp(&free_ram(b, r))
                .then_with(|| b.host.name.cmp(&a.host.name))
        })
        .map(|h| h.host.name.clone())
}

impl Compute {
    pub fn ratios(&self) -> Ratios {
        Ratios {
            cpu: self.settings.cpu_allocation_ratio,
            ram: self.settings.ram_allocation_ratio,
            disk: self.settings.disk_allocation_ratio,
            reserved_memory_mb: self.settings.reserved_host_memory_mb,
        }
    }

    /// The hosts as the filters see them.
    pub async fn host_states(&self) -> Result<Vec<HostState>> {
        let zones = self.host_zones().await?;
        Ok(self
            .enabled_compute_hosts()
            .await?
            .into_iter()
            .map(|(host, service_ok)| HostState {
                zone: self.zone_in(&zones, &host.name),
                host,
                service_ok,
            })
            .collect())
    }

    /// The host a new server goes to, or Nova's "No valid host was
    /// found" ([`no_valid_host`]). Usage is read when called: the servers'
    /// build records the host on the server before another create is
    /// scheduled against it.
    pub async fn select_host(&self, req: &HostRequest) -> Result<String> {
        let hosts = self.host_states().await?;
        let r = self.ratios();
        for h in &hosts {
            if let Some(why) = refuses(h, req, &r) {
                tracing::debug!(host = %h.host.name, filter = why, "host refused");
            }
        }
        choose(&hosts, req, &r).ok_or_else(no_valid_host)
    }

    /// [`Self::select_host`] for a server that moves: the hosts in
    /// `ignore` (its own) are not candidates, as Nova's `ignore_hosts`.
    pub async fn select_host_excluding(
        &self,
        req: &HostRequest,
        ignore: &[String],
    ) -> Result<String> {
        let hosts: Vec<HostState> = self
            .host_states()
            .await?
            .into_iter()
            .filter(|h| !ignore.contains(&h.host.name))
            .collect();
        choose(&hosts, req, &self.ratios()).ok_or_else(no_valid_host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::hypervisors::Capacity;
    use crate::db::services::HostUsage;

    fn host(name: &str, mem: i64, used_mem: i64) -> HostState {
        HostState {
            host: ComputeHost {
                name: name.into(),
                address: "10.0.0.1".into(),
                up: true,
                heartbeat_at: 0,
                capacity: Capacity {
                    vcpus: 4,
                    memory_mb: mem,
                    local_gb: 100,
                },
                used: HostUsage {
                    host: name.into(),
                    running_vms: 1,
                    vcpus: 2,
                    memory_mb: used_mem,
                    disk_gb: 40,
                },
                arch: "x86_64".into(),
                hypervisor_type: "QEMU".into(),
                local: true,
            },
            service_ok: true,
            zone: "nova".into(),
        }
    }

    const R: Ratios = Ratios {
        cpu: 4.0,
        ram: 1.0,
        disk: 1.0,
        reserved_memory_mb: 512,
    };

    fn req(vcpus: i64, mem: i64, disk: i64) -> HostRequest {
        HostRequest {
            vcpus,
            memory_mb: mem,
            disk_gb: disk,
            ..HostRequest::default()
        }
    }

    #[test]
    fn resources_are_filtered_with_ratios_and_reserved_memory() {
        let h = host("a", 4096, 1024);
        // 4096 - 512 - 1024 = 2560 MiB free.
        assert_eq!(refuses(&h, &req(1, 2560, 1), &R), None);
        assert_eq!(refuses(&h, &req(1, 2561, 1), &R), Some("RamFilter"));
        // 4 CPUs x 4 - 2 used = 14.
        assert_eq!(refuses(&h, &req(14, 1, 1), &R), None);
        assert_eq!(refuses(&h, &req(15, 1, 1), &R), Some("CoreFilter"));
        assert_eq!(refuses(&h, &req(1, 1, 60), &R), None);
        assert_eq!(refuses(&h, &req(1, 1, 61), &R), Some("DiskFilter"));
        let r2 = Ratios { ram: 1.5, ..R };
        // (4096 - 512) * 1.5 - 1024 = 4352.
        assert_eq!(refuses(&h, &req(1, 4352, 1), &r2), None);
    }

    #[test]
    fn disabled_zone_image_and_groups_are_filtered() {
        let mut h = host("a", 4096, 0);
        let mut r = req(1, 1, 1);
        r.availability_zone = Some("other".into());
        assert_eq!(refuses(&h, &r, &R), Some("AvailabilityZoneFilter"));
        r.availability_zone = Some("nova".into());
        assert_eq!(refuses(&h, &r, &R), None);
        r.image_arch = Some("aarch64".into());
        assert_eq!(refuses(&h, &r, &R), Some("ImagePropertiesFilter"));
        r.image_arch = Some("amd64".into());
        assert_eq!(refuses(&h, &r, &R), None);
        r.image_hv_type = Some("xen".into());
        assert_eq!(refuses(&h, &r, &R), Some("ImagePropertiesFilter"));
        r.image_hv_type = Some("kvm".into());
        assert_eq!(refuses(&h, &r, &R), None);
        r.group = Some((GroupPolicy::AntiAffinity, vec!["a".into()]));
        assert_eq!(refuses(&h, &r, &R), Some("ServerGroupAntiAffinityFilter"));
        r.group = Some((GroupPolicy::Affinity, vec!["b".into()]));
        assert_eq!(refuses(&h, &r, &R), Some("ServerGroupAffinityFilter"));
        // The group's first member may go anywhere.
        r.group = Some((GroupPolicy::Affinity, vec![]));
        assert_eq!(refuses(&h, &r, &R), None);
        h.service_ok = false;
        assert_eq!(refuses(&h, &r, &R), Some("ComputeFilter"));
    }

    #[test]
    fn the_most_free_ram_wins_and_nothing_is_no_valid_host() {
        let hosts = [
            host("a", 8192, 4096),
            host("b", 8192, 1024),
            host("c", 2048, 0),
        ];
        assert_eq!(choose(&hosts, &req(1, 512, 1), &R).as_deref(), Some("b"));
        // Only a fits 3000 MiB once b is excluded by anti-affinity.
        let mut r = req(1, 3000, 1);
        r.group = Some((GroupPolicy::AntiAffinity, vec!["b".into()]));
        assert_eq!(choose(&hosts, &r, &R).as_deref(), Some("a"));
        let mut r = req(1, 512, 1);
        r.force_host = Some("c".into());
        assert_eq!(choose(&hosts, &r, &R).as_deref(), Some("c"));
        assert_eq!(choose(&hosts, &req(1, 100_000, 1), &R), None);
        // Ties go to the first name.
        let tie = [host("y", 4096, 0), host("x", 4096, 0)];
        assert_eq!(choose(&tie, &req(1, 1, 1), &R).as_deref(), Some("x"));
        let e = no_valid_host();
        assert!(is_no_valid_host(&e));
        assert!(e.message().starts_with("No valid host was found."));
    }
}

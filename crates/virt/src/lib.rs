//! The hypervisor seam (Nova's `virt.driver.ComputeDriver`): what the
//! build saga and the server actions ask of a compute host, and the
//! drivers that answer.
//!
//! It is its own crate because both ends speak it: the controller's
//! compute service (`crates/compute`) calls a [`VirtDriver`], and the node
//! agent's compute role (`crates/agent`) runs one against the host's
//! hypervisor. [`InstanceSpec`] and its parts are serde types so the
//! controller can hand a spec to a remote node in its desired state.
//!
//! - [`fake`]: guests are entries in memory (tests, `compute_driver =
//!   "fake"`); it never touches the host.
//! - [`qemu`]: one QEMU process per guest, driven over QMP.
//!
//! The QMP client is our own ([`qemu::qmp`], about 200 lines): QMP is
//! JSON objects, one per line, over a Unix socket, and the driver uses
//! a dozen commands. The crates.io options (checked 2026-12): `qapi`
//! 0.15 with `qapi-qmp` (arcnmx/qapi-rs, one maintainer) generates Rust
//! types for QEMU's whole QAPI schema at build time through
//! `qapi-codegen`, pinned to one schema version, and brings `tokio-util`,
//! `tower-service`, `log` and `memchr` along; `tokio-qapi` is a 0.0.1
//! adapter for an old version. A large generated API tied to one QEMU
//! release is more to build and to keep in step than the protocol
//! itself, so we speak it by hand with `serde_json::Value`.

pub mod fake;
pub mod qemu;
mod unavailable;

pub use unavailable::Unavailable;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use serde::{Deserialize, Serialize};

/// Nova's `power_state` numbers, as `OS-EXT-STS:power_state` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerState {
    NoState = 0,
    Running = 1,
    Paused = 3,
    Shutdown = 4,
    Crashed = 6,
    Suspended = 7,
}

impl PowerState {
    pub fn code(self) -> i64 {
        self as i64
    }
}

/// One port a guest is plugged into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vif {
    pub port_id: String,
    /// The host-side device (`tap` + the port id's first 11 characters,
    /// as Neutron's Linux bridge agent names it).
    pub tap_name: String,
    pub mac: String,
    /// The network's MTU (the guest learns it by DHCP; the tap is set to
    /// it so the bridge does not drop full-size frames).
    #[serde(default)]
    pub mtu: Option<u32>,
}

/// The image a guest boots from, as the image service describes it. The
/// driver fetches its bytes through an [`ImageFetcher`] and must check
/// that they are what `disk_format` says before booting them (Nova
/// refuses a mismatch: a qcow2 declared `raw` could name a backing file
/// on the host).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    pub id: String,
    /// `raw`, `qcow2`, `ami`, `aki`, `ari`, … (Glance's `disk_format`).
    pub disk_format: String,
    pub container_format: String,
    /// Bytes, when the image has data.
    #[serde(default)]
    pub size: Option<i64>,
    /// Glance's multihash (`os_hash_algo`/`os_hash_value`), for the cache.
    #[serde(default)]
    pub hash_algo: Option<String>,
    #[serde(default)]
    pub hash_value: Option<String>,
    /// Direct kernel boot: the images holding the kernel and ramdisk and
    /// the kernel's command line (image properties `kernel_id`,
    /// `ramdisk_id`, `os_command_line`).
    #[serde(default)]
    pub kernel_id: Option<String>,
    #[serde(default)]
    pub ramdisk_id: Option<String>,
    #[serde(default)]
    pub os_command_line: Option<String>,
}

/// One file of a config drive (ISO 9660, label `config-2`), its path
/// relative to the drive's root (`openstack/latest/meta_data.json`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigDriveFile {
    pub path: String,
    #[serde(with = "b64")]
    pub contents: Vec<u8>,
}

/// What a driver needs to start a guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceSpec {
    pub id: String,
    /// The hypervisor's name for it (`instance-<id>`).
    pub name: String,
    pub hostname: String,
    pub vcpus: i64,
    pub memory_mb: i64,
    /// Root disk size; 0 means the image's own size (Nova's rule for
    /// flavors with `disk = 0`).
    pub root_gb: i64,
    #[serde(default)]
    pub ephemeral_gb: i64,
    #[serde(default)]
    pub swap_mb: i64,
    pub image: ImageRef,
    pub vifs: Vec<Vif>,
    /// Decoded `user_data`.
    #[serde(default, with = "b64_opt")]
    pub user_data: Option<Vec<u8>>,
    /// The files of the config drive, when the server has one.
    #[serde(default)]
    pub config_drive: Option<Vec<ConfigDriveFile>>,
}

/// How a reboot is done (`reboot.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RebootKind {
    Soft,
    Hard,
}

/// A driver's failure, shown as the server's fault message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum VirtError {
    #[error("Instance {0} could not be found.")]
    NotFound(String),
    /// The guest cannot do this (a driver without a console, say).
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Failed(String),
}

pub type VirtResult<T> = Result<T, VirtError>;

/// A guest's disk as a byte stream (`createImage`, shelve), with the
/// format the bytes are in.
pub struct Snapshot {
    pub disk_format: String,
    pub container_format: String,
    pub data: BoxStream<'static, std::io::Result<Bytes>>,
}

/// What a driver tells about a running guest (Nova's `Diagnostics`
/// object, `GET /servers/{id}/diagnostics`). Counters the driver cannot
/// read are `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Diagnostics {
    /// `pending`, `running`, `paused`, `shutdown`, `crashed`, `suspended`.
    pub state: String,
    /// The driver family as Nova names it (`libvirt` for QEMU guests).
    pub driver: String,
    pub hypervisor: Option<String>,
    pub hypervisor_os: Option<String>,
    pub uptime_s: Option<i64>,
    pub config_drive: bool,
    pub num_cpus: i64,
    pub memory_max_mb: Option<i64>,
    pub memory_used_mb: Option<i64>,
    pub cpus: Vec<CpuStats>,
    pub nics: Vec<NicStats>,
    pub disks: Vec<DiskStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuStats {
    pub id: Option<i64>,
    /// Nanoseconds of CPU time.
    pub time: Option<i64>,
    pub utilisation: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NicStats {
    pub mac_address: Option<String>,
    pub rx_octets: Option<i64>,
    pub rx_errors: Option<i64>,
    pub rx_drop: Option<i64>,
    pub rx_packets: Option<i64>,
    pub rx_rate: Option<i64>,
    pub tx_octets: Option<i64>,
    pub tx_errors: Option<i64>,
    pub tx_drop: Option<i64>,
    pub tx_packets: Option<i64>,
    pub tx_rate: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DiskStats {
    pub read_bytes: Option<i64>,
    pub read_requests: Option<i64>,
    pub write_bytes: Option<i64>,
    pub write_requests: Option<i64>,
    pub errors_count: Option<i64>,
}

/// A byte stream to a guest's console (the VNC server's RFB stream).
pub trait ConsoleIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> ConsoleIo for T {}
pub type ConsoleStream = Box<dyn ConsoleIo>;

/// Where a driver gets image bytes from (the image service, in process or
/// over the controller's internal API from a remote node).
pub trait ImageFetcher: Send + Sync {
    fn fetch<'a>(
        &'a self,
        image_id: &'a str,
    ) -> BoxFuture<'a, VirtResult<BoxStream<'static, std::io::Result<Bytes>>>>;
}

/// A hypervisor. Every call is idempotent where Nova's are (destroying
/// a guest that is gone succeeds), as the build saga may repeat them
/// after a restart. A guest the driver does not know is
/// [`VirtError::NotFound`], except for `destroy` and `get_info`.
pub trait VirtDriver: Send + Sync {
    /// Creates the guest's disks (and config drive) and starts it.
    fn spawn<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>>;
    /// Stops the guest and removes everything it had on the host (process,
    /// disks, sockets, files); a guest that does not exist is no error.
    fn destroy<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>>;
    fn reboot<'a>(&'a self, id: &'a str, kind: RebootKind) -> BoxFuture<'a, VirtResult<()>>;
    /// A clean shutdown (ACPI, with the driver's timeout), then off.
    fn power_off<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>>;
    fn power_on<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>>;
    fn pause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>>;
    fn unpause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>>;
    fn suspend<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>>;
    fn resume<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>>;
    /// The guest's power state (`NoState` when there is no such guest).
    fn get_info<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<PowerState>>;
    /// The ids of every guest this driver holds (found again after a
    /// restart of the process running it).
    fn list_instances<'a>(&'a self) -> BoxFuture<'a, VirtResult<Vec<String>>>;
    /// The guest's console log lines, oldest first.
    fn console_output<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<Vec<String>>>;
    /// Replaces the root disk with a fresh one from `spec.image` and boots
    /// it; the guest keeps its id and ports.
    fn rebuild<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>>;
    /// Restarts the guest with `spec`'s flavor (disks grown, never
    /// shrunk), keeping what is needed to go back until
    /// [`VirtDriver::confirm_resize`] or [`VirtDriver::revert_resize`].
    fn resize<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>>;
    /// Drops what `resize` kept for a revert.
    fn confirm_resize<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>>;
    /// Restarts the guest as `old` (its flavor before the resize) on the
    /// disks it had then.
    fn revert_resize<'a>(&'a self, old: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>>;
    /// The guest's root disk as it is now (taken while it runs or not).
    fn snapshot<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<Snapshot>>;
    /// Boots the guest from `rescue_image` with its own root disk attached
    /// as the second disk.
    fn rescue<'a>(
        &'a self,
        spec: &'a InstanceSpec,
        rescue_image: &'a ImageRef,
    ) -> BoxFuture<'a, VirtResult<()>>;
    /// Boots the guest from its own root disk again.
    fn unrescue<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>>;
    /// Hot-plugs a port.
    fn attach_interface<'a>(&'a self, id: &'a str, vif: &'a Vif) -> BoxFuture<'a, VirtResult<()>>;
    /// Hot-unplugs a port; one not plugged is no error.
    fn detach_interface<'a>(
        &'a self,
        id: &'a str,
        port_id: &'a str,
    ) -> BoxFuture<'a, VirtResult<()>>;
    /// A stream to the guest's VNC server (RFB), for the console proxy.
    fn open_console<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<ConsoleStream>>;
    /// The guest's diagnostics; drivers that cannot read them say so
    /// (Nova answers 501).
    fn diagnostics<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<Diagnostics>> {
        Box::pin(async move {
            Err(VirtError::Unsupported(format!(
                "Unable to get diagnostics of instance {id}: the driver cannot read them."
            )))
        })
    }
}

/// `Vec<u8>` as base64 in JSON.
mod b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

/// `Option<Vec<u8>>` as base64 or null in JSON.
mod b64_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(bytes) => super::b64::serialize(bytes, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super::b64")] Vec<u8>);
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_spec_goes_through_json_unchanged() {
        let spec = InstanceSpec {
            id: "i".into(),
            name: "instance-i".into(),
            hostname: "vm".into(),
            vcpus: 1,
            memory_mb: 128,
            root_gb: 1,
            ephemeral_gb: 0,
            swap_mb: 0,
            image: ImageRef {
                id: "img".into(),
                disk_format: "qcow2".into(),
                container_format: "bare".into(),
                size: Some(10),
                hash_algo: None,
                hash_value: None,
                kernel_id: None,
                ramdisk_id: None,
                os_command_line: None,
            },
            vifs: vec![Vif {
                port_id: "p".into(),
                tap_name: "tapp".into(),
                mac: "fa:16:3e:00:00:01".into(),
                mtu: Some(1450),
            }],
            user_data: Some(vec![0, 159, 146, 150]),
            config_drive: Some(vec![ConfigDriveFile {
                path: "openstack/latest/meta_data.json".into(),
                contents: b"{}".to_vec(),
            }]),
        };
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["user_data"], "AJ+Slg==");
        assert_eq!(json["config_drive"][0]["contents"], "e30=");
        let back: InstanceSpec = serde_json::from_value(json).unwrap();
        assert_eq!(back, spec);
    }
}

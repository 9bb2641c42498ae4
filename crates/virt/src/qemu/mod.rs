//! The QEMU driver: one daemonized QEMU process per guest, driven over
//! QMP ([`qmp`]), its files in `<state_dir>/instances/<id>/`:
//!
//! | file | what |
//! |---|---|
//! | `spec.json` | the [`InstanceSpec`] it runs (power-on starts from it) |
//! | `disk.qcow2` | root disk, a qcow2 overlay on the cached base image |
//! | `disk.eph.qcow2` | the ephemeral disk (blank, unformatted), if any |
//! | `config.iso` | the config drive (ISO 9660, label `config-2`) |
//! | `console.log` | the serial console (appended across restarts) |
//! | `qmp.sock`, `vnc.sock` | QMP and the VNC server (RFB) |
//! | `pid` | QEMU's pid file |
//! | `disk.qcow2.resize`, `spec.json.resize` | the pre-resize disk and spec, until confirm/revert |
//! | `rescue.qcow2`, `rescue.json` | the rescue disk and image, while rescued |
//! | `suspended` | marks a guest suspended (not merely paused) |
//!
//! QEMU runs with `-daemonize`, so guests outlive the process running the
//! driver; a new driver over the same `state_dir` finds them again from
//! the pid file, `/proc/<pid>/cmdline` (it must name this guest's QMP
//! socket) and QMP. A guest whose directory exists without a live
//! process is shut down (it keeps its disks).
//!
//! Choices, where Nova's libvirt driver has several:
//! - power off: ACPI (`system_powerdown`), wait `shutdown_timeout` for
//!   QEMU to exit, then `quit`, then SIGKILL.
//! - reboot soft: QMP `system_reset` (the QEMU process stays); hard: the
//!   process is stopped and started again from `spec.json`. Either one
//!   starts a guest that is not running.
//! - suspend: QMP `stop` plus the `suspended` marker (memory stays in the
//!   QEMU process; there is no managed save to disk).
//! - snapshot of a running guest: QMP `stop` (which drains and flushes
//!   every disk) around `qemu-img convert -U -O qcow2` of the overlay,
//!   then `cont` unless it was paused before.
//! - QEMU creates each vif's tap (`script=no`); the driver then sets it
//!   up with the network's MTU (`vif.mtu`) by `ip link`. Plugging it into
//!   a bridge is the network role's.
//! - detach_interface needs the guest to release the PCI device (as with
//!   libvirt): a guest that does not within 10 s fails the detach and
//!   keeps the port.
//! - swap disks (`swap_mb`) are not made.
//!
//! Unix socket paths are limited to 107 bytes: keep `state_dir` short.

mod image;
pub mod qmp;

use crate::{
    ConsoleStream, ImageFetcher, ImageRef, InstanceSpec, PowerState, RebootKind, Snapshot, Vif,
    VirtDriver, VirtError, VirtResult,
};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use image::{qemu_img_info, ImageCache};
use qmp::Qmp;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// Which accelerator guests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Accel {
    /// KVM if a tiny probe guest boots on it, else TCG (with a warning).
    Auto,
    Kvm,
    Tcg,
}

/// Where and how the driver runs guests.
#[derive(Debug, Clone)]
pub struct QemuConfig {
    /// Guests live in `<state_dir>/instances/<id>/`.
    pub state_dir: PathBuf,
    /// Cached base images, by image id.
    pub image_cache_dir: PathBuf,
    pub qemu_binary: PathBuf,
    pub qemu_img_binary: PathBuf,
    pub genisoimage_binary: PathBuf,
    pub accel: Accel,
    /// `q35` or `pc`.
    pub machine: String,
    /// How long a guest gets to power off on ACPI before QEMU is quit.
    pub shutdown_timeout: Duration,
    /// How long one QMP answer may take.
    pub qmp_timeout: Duration,
    /// How long QEMU may take to start and answer QMP.
    pub start_timeout: Duration,
}

impl QemuConfig {
    /// Defaults: binaries from `PATH`, `Auto` acceleration, q35, 60 s
    /// shutdown timeout (Nova's `shutdown_timeout`).
    pub fn new(state_dir: impl Into<PathBuf>, image_cache_dir: impl Into<PathBuf>) -> QemuConfig {
        QemuConfig {
            state_dir: state_dir.into(),
            image_cache_dir: image_cache_dir.into(),
            qemu_binary: "qemu-system-x86_64".into(),
            qemu_img_binary: "qemu-img".into(),
            genisoimage_binary: "genisoimage".into(),
            accel: Accel::Auto,
            machine: "q35".into(),
            shutdown_timeout: Duration::from_secs(60),
            qmp_timeout: Duration::from_secs(10),
            start_timeout: Duration::from_secs(30),
        }
    }
}

/// The QEMU driver.
pub struct QemuDriver {
    cfg: QemuConfig,
    images: ImageCache,
    accel: tokio::sync::OnceCell<Accel>,
    /// One operation at a time per guest (QMP serves one client at a time).
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for QemuDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QemuDriver")
            .field("cfg", &self.cfg)
            .field("accel", &self.accel.get())
            .finish()
    }
}

/// The files of one guest.
struct Paths {
    dir: PathBuf,
}

impl Paths {
    fn f(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    fn spec(&self) -> PathBuf {
        self.f("spec.json")
    }
    fn disk(&self) -> PathBuf {
        self.f("disk.qcow2")
    }
    fn eph(&self) -> PathBuf {
        self.f("disk.eph.qcow2")
    }
    fn iso(&self) -> PathBuf {
        self.f("config.iso")
    }
    fn console(&self) -> PathBuf {
        self.f("console.log")
    }
    fn qmp(&self) -> PathBuf {
        self.f("qmp.sock")
    }
    fn vnc(&self) -> PathBuf {
        self.f("vnc.sock")
    }
    fn pid(&self) -> PathBuf {
        self.f("pid")
    }
    fn suspended(&self) -> PathBuf {
        self.f("suspended")
    }
    fn rescue_disk(&self) -> PathBuf {
        self.f("rescue.qcow2")
    }
    fn rescue_json(&self) -> PathBuf {
        self.f("rescue.json")
    }
}

/// Ids name directories and QEMU objects: letters, digits, `-`, `_`, `.`
/// (not leading).
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub(crate) fn virt_failed(what: &str, e: impl std::fmt::Display) -> VirtError {
    VirtError::Failed(format!("{what}: {e}"))
}

fn qmp_failed(e: qmp::QmpError) -> VirtError {
    VirtError::Failed(e.to_string())
}

/// Runs a program to completion under a timeout; its stdout, or its
/// stderr as the error.
pub(crate) async fn run(
    prog: &Path,
    args: &[&OsStr],
    what: &str,
    timeout: Duration,
) -> VirtResult<Vec<u8>> {
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(timeout, cmd.output())
        .await
        .map_err(|_| VirtError::Failed(format!("{what} took longer than {timeout:?}")))?
        .map_err(|e| virt_failed(&format!("running {}", prog.display()), e))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(VirtError::Failed(format!(
            "{what} failed ({}): {}",
            out.status,
            err.trim()
        )));
    }
    Ok(out.stdout)
}

/// Whether `pid` is a live (not zombie) process.
fn pid_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

fn kill(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// A boot sector that writes 0x2a to the `isa-debug-exit` port: QEMU
/// exits with status (0x2a << 1) | 1 = 85 once the guest has run.
fn probe_boot_sector() -> Vec<u8> {
    let mut s = vec![0xB0, 0x2A, 0xE6, 0xF4, 0xF4, 0xEB, 0xFD];
    s.resize(510, 0);
    s.extend_from_slice(&[0x55, 0xAA]);
    s
}

impl QemuDriver {
    pub fn new(mut cfg: QemuConfig, images: Arc<dyn ImageFetcher>) -> QemuDriver {
        // `-daemonize` makes QEMU chdir to `/`; and the rediscovery check
        // looks for this exact QMP socket path in QEMU's command line.
        for dir in [&mut cfg.state_dir, &mut cfg.image_cache_dir] {
            if let Ok(abs) = std::path::absolute(&*dir) {
                *dir = abs;
            }
        }
        QemuDriver {
            images: ImageCache::new(
                cfg.image_cache_dir.clone(),
                cfg.qemu_img_binary.clone(),
                images,
            ),
            accel: tokio::sync::OnceCell::new(),
            locks: Mutex::default(),
            cfg,
        }
    }

    /// The accelerator guests run on (`Auto` resolved by the probe, once).
    pub async fn accel(&self) -> Accel {
        *self
            .accel
            .get_or_init(|| async {
                match self.cfg.accel {
                    Accel::Auto => self.probe_kvm().await,
                    other => other,
                }
            })
            .await
    }

    /// Boots a one-sector guest on KVM with the CPU model KVM guests get
    /// (`-cpu host`), under a timeout. Some hosts have a `/dev/kvm` that
    /// opens but cannot run guests (nested virtualisation): QEMU aborts
    /// or hangs there, and guests must use TCG.
    async fn probe_kvm(&self) -> Accel {
        let dir = self.cfg.state_dir.clone();
        let result: Result<(), String> = async {
            tokio::fs::create_dir_all(&dir)
                .await
                .map_err(|e| e.to_string())?;
            let img = dir.join(format!(".kvm-probe-{}.img", std::process::id()));
            tokio::fs::write(&img, probe_boot_sector())
                .await
                .map_err(|e| e.to_string())?;
            let mut drive = OsString::from("file=");
            drive.push(img.as_os_str());
            drive.push(",format=raw,if=ide");
            let mut cmd = tokio::process::Command::new(&self.cfg.qemu_binary);
            cmd.args(["-accel", "kvm", "-cpu", "host", "-machine", "pc"])
                .args(["-nodefaults", "-no-user-config", "-display", "none"])
                .args(["-m", "16"])
                .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
                .arg("-drive")
                .arg(drive)
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true);
            let out = tokio::time::timeout(Duration::from_secs(10), cmd.output()).await;
            let _ = tokio::fs::remove_file(&img).await;
            match out {
                Err(_) => Err("the probe guest did not finish within 10 s".into()),
                Ok(Err(e)) => Err(format!(
                    "cannot run {}: {e}",
                    self.cfg.qemu_binary.display()
                )),
                Ok(Ok(o)) if o.status.code() == Some(85) => Ok(()),
                Ok(Ok(o)) => Err(format!(
                    "{}: {}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr).trim()
                )),
            }
        }
        .await;
        match result {
            Ok(()) => {
                tracing::info!("KVM works: guests run with -accel kvm");
                Accel::Kvm
            }
            Err(why) => {
                tracing::warn!(
                    "KVM IS NOT USABLE ({why}); guests run under TCG emulation, which is many times slower"
                );
                Accel::Tcg
            }
        }
    }

    fn paths(&self, id: &str) -> VirtResult<Paths> {
        if !valid_id(id) {
            return Err(VirtError::NotFound(id.to_string()));
        }
        Ok(Paths {
            dir: self.cfg.state_dir.join("instances").join(id),
        })
    }

    fn lock_for(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = match self.locks.lock() {
            Ok(l) => l,
            Err(p) => p.into_inner(),
        };
        locks.entry(id.to_string()).or_default().clone()
    }

    /// The guest's paths, or `NotFound` when it has no directory.
    async fn existing(&self, id: &str) -> VirtResult<Paths> {
        let p = self.paths(id)?;
        if tokio::fs::try_exists(p.spec()).await.unwrap_or(false) {
            Ok(p)
        } else {
            Err(VirtError::NotFound(id.to_string()))
        }
    }

    async fn read_spec(&self, p: &Paths) -> VirtResult<InstanceSpec> {
        let raw = tokio::fs::read(p.spec())
            .await
            .map_err(|e| virt_failed("reading spec.json", e))?;
        serde_json::from_slice(&raw).map_err(|e| virt_failed("parsing spec.json", e))
    }

    async fn write_spec(&self, path: &Path, spec: &InstanceSpec) -> VirtResult<()> {
        let raw = serde_json::to_vec_pretty(spec).map_err(|e| virt_failed("spec.json", e))?;
        let tmp = path.with_extension("json.tmp");
        tokio::fs::write(&tmp, raw)
            .await
            .map_err(|e| virt_failed("writing spec.json", e))?;
        tokio::fs::rename(&tmp, path)
            .await
            .map_err(|e| virt_failed("writing spec.json", e))
    }

    /// The pid of this guest's QEMU, if it runs: the pid file names a
    /// live process whose command line has this guest's QMP socket.
    fn running_pid(&self, p: &Paths) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(p.pid()).ok()?.trim().parse().ok()?;
        if !pid_alive(pid) {
            return None;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let qmp = p.qmp();
        let needle = qmp.as_os_str().as_encoded_bytes();
        cmdline
            .split(|b| *b == 0)
            .any(|arg| arg.windows(needle.len()).any(|w| w == needle))
            .then_some(pid)
    }

    async fn qmp(&self, p: &Paths) -> VirtResult<Qmp> {
        Qmp::connect(&p.qmp(), self.cfg.qmp_timeout)
            .await
            .map_err(qmp_failed)
    }

    async fn qmp_do(&self, p: &Paths, cmd: &str, args: Option<Value>) -> VirtResult<Value> {
        let mut q = self.qmp(p).await?;
        q.execute(cmd, args).await.map_err(qmp_failed)
    }

    /// QMP of a guest that must be running.
    async fn running_qmp(&self, id: &str, p: &Paths) -> VirtResult<Qmp> {
        if self.running_pid(p).is_none() {
            return Err(VirtError::Failed(format!("instance {id} is not running")));
        }
        self.qmp(p).await
    }

    async fn wait_exit(&self, pid: i32, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            if !pid_alive(pid) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the QEMU process: ACPI first when `clean`, then `quit`, then
    /// SIGKILL. The guest's files stay.
    async fn stop(&self, p: &Paths, clean: bool) -> VirtResult<()> {
        if let Some(pid) = self.running_pid(p) {
            let mut gone = false;
            if clean {
                match self.qmp_do(p, "system_powerdown", None).await {
                    Ok(_) => gone = self.wait_exit(pid, self.cfg.shutdown_timeout).await,
                    Err(e) => tracing::warn!(%e, "system_powerdown failed; quitting QEMU"),
                }
                if !gone {
                    tracing::info!(dir = %p.dir.display(), "guest ignored ACPI power-off; quitting QEMU");
                }
            }
            if !gone {
                // `quit` may lose its answer to the closing socket.
                let _ = self.qmp_do(p, "quit", None).await;
                gone = self.wait_exit(pid, Duration::from_secs(5)).await;
            }
            if !gone {
                tracing::warn!(pid, "QEMU did not quit; killing it");
                kill(pid);
                if !self.wait_exit(pid, Duration::from_secs(5)).await {
                    return Err(VirtError::Failed(format!(
                        "QEMU process {pid} does not die"
                    )));
                }
            }
        }
        for f in [p.pid(), p.qmp(), p.vnc(), p.suspended()] {
            let _ = tokio::fs::remove_file(f).await;
        }
        Ok(())
    }

    /// Starts QEMU for the spec in `spec.json` (a no-op when it runs).
    async fn start(&self, p: &Paths) -> VirtResult<()> {
        if self.running_pid(p).is_some() {
            return Ok(());
        }
        let spec = self.read_spec(p).await?;
        for f in [p.pid(), p.qmp(), p.vnc(), p.suspended()] {
            let _ = tokio::fs::remove_file(f).await;
        }
        let argv = self.argv(&spec, p).await?;
        let args: Vec<&OsStr> = argv.iter().map(OsString::as_os_str).collect();
        run(
            &self.cfg.qemu_binary,
            &args,
            "starting QEMU",
            self.cfg.start_timeout,
        )
        .await?;
        // QEMU is daemonized: wait for its QMP socket to answer.
        let deadline = Instant::now() + self.cfg.start_timeout;
        loop {
            if self.running_pid(p).is_some() {
                if let Ok(mut q) = Qmp::connect(&p.qmp(), self.cfg.qmp_timeout).await {
                    q.execute("query-status", None).await.map_err(qmp_failed)?;
                    break;
                }
            }
            if Instant::now() >= deadline {
                return Err(VirtError::Failed(
                    "QEMU started but its QMP socket does not answer".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for vif in &spec.vifs {
            tap_up(vif).await?;
        }
        Ok(())
    }

    /// QEMU's command line for `spec`.
    async fn argv(&self, spec: &InstanceSpec, p: &Paths) -> VirtResult<Vec<OsString>> {
        let accel = self.accel().await;
        let o = |s: &str| OsString::from(s);
        let arg = |s: &str| -> OsString { o(s) };
        let file_opt = |path: &Path, rest: &str| -> OsString {
            let mut s = OsString::from("file=");
            // QEMU's option syntax doubles commas inside values.
            s.push(
                path.as_os_str()
                    .to_string_lossy()
                    .replace(',', ",,")
                    .as_str(),
            );
            s.push(rest);
            s
        };
        let mut v: Vec<OsString> = vec![
            arg("-name"),
            // `guest=` spelled out: a bare name with `=` would parse as a key.
            o(&format!("guest={}", spec.name.replace(',', ",,"))),
            arg("-machine"),
            o(&format!(
                "{},accel={}",
                self.cfg.machine,
                if accel == Accel::Kvm { "kvm" } else { "tcg" }
            )),
            arg("-cpu"),
            arg(if accel == Accel::Kvm { "host" } else { "max" }),
            arg("-smp"),
            o(&spec.vcpus.max(1).to_string()),
            arg("-m"),
            o(&format!("{}M", spec.memory_mb.max(16))),
            arg("-nodefaults"),
            arg("-no-user-config"),
            arg("-display"),
            arg("none"),
            arg("-device"),
            arg("VGA"),
        ];
        if self.cfg.machine.starts_with("q35") {
            // The PCIe root bus takes no hot-plugged devices: spare root
            // ports for attach_interface (libvirt adds them too).
            for i in 0..HOTPLUG_PORTS {
                v.push(arg("-device"));
                v.push(o(&format!(
                    "pcie-root-port,id=hp{i},chassis={},slot={}",
                    i + 1,
                    i + 1
                )));
            }
        }
        if is_uuid(&spec.id) {
            v.push(arg("-uuid"));
            v.push(o(&spec.id));
        }
        let rescue = tokio::fs::try_exists(p.rescue_disk())
            .await
            .unwrap_or(false);
        let mut disks = Vec::new();
        if rescue {
            disks.push(p.rescue_disk());
        }
        disks.push(p.disk());
        if spec.ephemeral_gb > 0 {
            disks.push(p.eph());
        }
        for (i, d) in disks.iter().enumerate() {
            v.push(arg("-drive"));
            v.push(file_opt(
                d,
                &format!(",format=qcow2,if=none,id=disk{i},discard=unmap"),
            ));
            v.push(arg("-device"));
            let boot = if i == 0 && spec.image.kernel_id.is_none() {
                ",bootindex=1"
            } else {
                ""
            };
            v.push(o(&format!("virtio-blk-pci,drive=disk{i},id=vd{i}{boot}")));
        }
        if tokio::fs::try_exists(p.iso()).await.unwrap_or(false) {
            // A read-only virtio disk rather than a cdrom: q35's cdrom sits
            // on AHCI, which Debian's cloud kernel does not have at all,
            // while every cloud kernel reads virtio-blk (the drive shows as
            // the next `vd*` disk, found by its label `config-2`).
            v.push(arg("-drive"));
            v.push(file_opt(
                &p.iso(),
                ",format=raw,if=none,id=cdrom0,readonly=on",
            ));
            v.push(arg("-device"));
            v.push(arg("virtio-blk-pci,drive=cdrom0,id=cd0"));
        }
        if let Some(kernel) = spec.image.kernel_id.as_deref() {
            v.push(arg("-kernel"));
            v.push(self.images.blob(kernel).await?.into_os_string());
            if let Some(ramdisk) = spec.image.ramdisk_id.as_deref() {
                v.push(arg("-initrd"));
                v.push(self.images.blob(ramdisk).await?.into_os_string());
            }
            v.push(arg("-append"));
            v.push(o(spec
                .image
                .os_command_line
                .as_deref()
                .unwrap_or("root=/dev/vda console=ttyS0")));
        }
        for vif in &spec.vifs {
            v.extend(vif_args(vif)?);
        }
        let mut serial = OsString::from("file,id=serial0,append=on,path=");
        serial.push(p.console().as_os_str());
        v.extend([
            arg("-chardev"),
            serial,
            arg("-serial"),
            arg("chardev:serial0"),
        ]);
        let mut vnc = OsString::from("unix:");
        vnc.push(p.vnc().as_os_str());
        v.extend([arg("-vnc"), vnc]);
        let mut qmp = OsString::from("unix:");
        qmp.push(p.qmp().as_os_str());
        qmp.push(",server=on,wait=off");
        v.extend([arg("-qmp"), qmp]);
        v.extend([arg("-daemonize"), arg("-pidfile"), p.pid().into_os_string()]);
        Ok(v)
    }

    /// Makes the root overlay on `image`'s base, `root_gb` big (0: the
    /// base's size).
    async fn make_root_disk(&self, image: &ImageRef, root_gb: i64, out: &Path) -> VirtResult<()> {
        let base = self.images.base(image).await?;
        let info = qemu_img_info(&self.cfg.qemu_img_binary, &base).await?;
        let base_size = info
            .get("virtual-size")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let size = root_gb * GIB;
        if root_gb > 0 && size < base_size {
            return Err(VirtError::Failed(format!(
                "Flavor's disk is too small for requested image. Flavor disk is {size} bytes, image is {base_size} bytes."
            )));
        }
        let _ = tokio::fs::remove_file(out).await;
        let mut args: Vec<&OsStr> = ["create", "-f", "qcow2", "-F", "qcow2", "-b"]
            .iter()
            .map(OsStr::new)
            .collect();
        args.push(base.as_os_str());
        args.push(out.as_os_str());
        let size_arg = format!("{root_gb}G");
        if root_gb > 0 {
            args.push(OsStr::new(&size_arg));
        }
        run(
            &self.cfg.qemu_img_binary,
            &args,
            "qemu-img create",
            Duration::from_secs(60),
        )
        .await
        .map(drop)
    }

    async fn make_blank_disk(&self, gb: i64, out: &Path) -> VirtResult<()> {
        let size = format!("{gb}G");
        run(
            &self.cfg.qemu_img_binary,
            &[
                "create".as_ref(),
                "-f".as_ref(),
                "qcow2".as_ref(),
                out.as_os_str(),
                size.as_ref(),
            ],
            "qemu-img create",
            Duration::from_secs(60),
        )
        .await
        .map(drop)
    }

    /// Grows a qcow2 to `gb` GiB; never shrinks it.
    async fn grow_disk(&self, disk: &Path, gb: i64) -> VirtResult<()> {
        let info = qemu_img_info(&self.cfg.qemu_img_binary, disk).await?;
        let now = info
            .get("virtual-size")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if gb * GIB <= now {
            return Ok(());
        }
        let size = format!("{gb}G");
        run(
            &self.cfg.qemu_img_binary,
            &[
                "resize".as_ref(),
                "-f".as_ref(),
                "qcow2".as_ref(),
                disk.as_os_str(),
                size.as_ref(),
            ],
            "qemu-img resize",
            Duration::from_secs(60),
        )
        .await
        .map(drop)
    }

    /// Writes the config drive ISO (Nova's `genisoimage` flags).
    async fn make_config_drive(
        &self,
        files: &[crate::ConfigDriveFile],
        p: &Paths,
    ) -> VirtResult<()> {
        let tmp = p.f("configdrive.tmp");
        let _ = tokio::fs::remove_dir_all(&tmp).await;
        let r = async {
            for file in files {
                let rel = Path::new(&file.path);
                let safe = !file.path.is_empty()
                    && rel
                        .components()
                        .all(|c| matches!(c, std::path::Component::Normal(_)));
                if !safe {
                    return Err(VirtError::Failed(format!(
                        "bad config drive path {:?}",
                        file.path
                    )));
                }
                let dest = tmp.join(rel);
                if let Some(parent) = dest.parent() {
                    tokio::fs::create_dir_all(parent)
                        .await
                        .map_err(|e| virt_failed("writing the config drive", e))?;
                }
                tokio::fs::write(&dest, &file.contents)
                    .await
                    .map_err(|e| virt_failed("writing the config drive", e))?;
            }
            tokio::fs::create_dir_all(&tmp)
                .await
                .map_err(|e| virt_failed("writing the config drive", e))?;
            let iso = p.iso();
            let mut args: Vec<&OsStr> = vec!["-o".as_ref(), iso.as_os_str()];
            args.extend(
                [
                    "-ldots",
                    "-allow-lowercase",
                    "-allow-multidot",
                    "-l",
                    "-publisher",
                    "OpenStack Compute",
                    "-quiet",
                    "-J",
                    "-r",
                    "-V",
                    "config-2",
                ]
                .iter()
                .map(OsStr::new),
            );
            args.push(tmp.as_os_str());
            run(
                &self.cfg.genisoimage_binary,
                &args,
                "genisoimage",
                Duration::from_secs(60),
            )
            .await
            .map(drop)
        }
        .await;
        let _ = tokio::fs::remove_dir_all(&tmp).await;
        r
    }

    /// Everything `spawn` does once the directory exists.
    async fn build(&self, spec: &InstanceSpec, p: &Paths) -> VirtResult<()> {
        self.make_root_disk(&spec.image, spec.root_gb, &p.disk())
            .await?;
        if spec.ephemeral_gb > 0 {
            self.make_blank_disk(spec.ephemeral_gb, &p.eph()).await?;
        }
        if let Some(files) = &spec.config_drive {
            self.make_config_drive(files, p).await?;
        }
        // Fetch kernel/ramdisk before the spec makes the guest visible.
        if let Some(k) = spec.image.kernel_id.as_deref() {
            self.images.blob(k).await?;
        }
        if let Some(r) = spec.image.ramdisk_id.as_deref() {
            self.images.blob(r).await?;
        }
        self.write_spec(&p.spec(), spec).await?;
        self.start(p).await
    }

    /// Stops the guest and removes its directory.
    async fn remove(&self, p: &Paths) -> VirtResult<()> {
        self.stop(p, false).await?;
        match tokio::fs::remove_dir_all(&p.dir).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(virt_failed("removing the instance directory", e)),
        }
    }

    async fn status(&self, id: &str) -> VirtResult<PowerState> {
        let Ok(p) = self.paths(id) else {
            return Ok(PowerState::NoState);
        };
        if !tokio::fs::try_exists(p.spec()).await.unwrap_or(false) {
            return Ok(PowerState::NoState);
        }
        if self.running_pid(&p).is_none() {
            return Ok(PowerState::Shutdown);
        }
        let st = self.qmp_do(&p, "query-status", None).await?;
        let status = st.get("status").and_then(Value::as_str).unwrap_or("");
        Ok(match status {
            "running" => PowerState::Running,
            "shutdown" => PowerState::Shutdown,
            "guest-panicked" | "internal-error" => PowerState::Crashed,
            "paused" | "suspended"
                if tokio::fs::try_exists(p.suspended()).await.unwrap_or(false) =>
            {
                PowerState::Suspended
            }
            _ => PowerState::Paused,
        })
    }

    /// Power off then on with the guest's current spec.
    async fn restart(&self, p: &Paths, clean: bool) -> VirtResult<()> {
        self.stop(p, clean).await?;
        self.start(p).await
    }
}

const GIB: i64 = 1 << 30;

/// Spare PCIe root ports on q35, so many interfaces can be hot-plugged
/// until the next (cold) start.
const HOTPLUG_PORTS: usize = 4;

/// How long a guest gets to release a hot-unplugged NIC.
const DETACH_TIMEOUT: Duration = Duration::from_secs(10);

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// QEMU object ids of a port's NIC and tap backend.
fn vif_ids(port_id: &str) -> VirtResult<(String, String)> {
    if !valid_id(port_id) {
        return Err(VirtError::Failed(format!("bad port id {port_id:?}")));
    }
    Ok((format!("hostnet-{port_id}"), format!("net-{port_id}")))
}

fn check_vif(vif: &Vif) -> VirtResult<()> {
    let tap_ok = !vif.tap_name.is_empty()
        && vif.tap_name.len() < 16
        && vif
            .tap_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    let mac_ok = vif.mac.len() == 17
        && vif.mac.split(':').count() == 6
        && vif
            .mac
            .split(':')
            .all(|o| o.len() == 2 && o.bytes().all(|b| b.is_ascii_hexdigit()));
    if !tap_ok {
        return Err(VirtError::Failed(format!(
            "bad tap name {:?}",
            vif.tap_name
        )));
    }
    if !mac_ok {
        return Err(VirtError::Failed(format!("bad MAC address {:?}", vif.mac)));
    }
    Ok(())
}

fn vif_args(vif: &Vif) -> VirtResult<Vec<OsString>> {
    check_vif(vif)?;
    let (netdev, dev) = vif_ids(&vif.port_id)?;
    Ok(vec![
        "-netdev".into(),
        format!(
            "tap,id={netdev},ifname={},script=no,downscript=no",
            vif.tap_name
        )
        .into(),
        "-device".into(),
        format!("virtio-net-pci,netdev={netdev},id={dev},mac={}", vif.mac).into(),
    ])
}

/// Brings the tap QEMU made up (with `script=no` QEMU leaves it down)
/// with the network's MTU (QEMU makes it with 1500).
async fn tap_up(vif: &Vif) -> VirtResult<()> {
    let mtu = vif.mtu.map(|m| m.to_string());
    let mut args: Vec<&OsStr> = ["link", "set", "dev"].iter().map(OsStr::new).collect();
    args.push(vif.tap_name.as_ref());
    if let Some(mtu) = &mtu {
        args.push("mtu".as_ref());
        args.push(mtu.as_ref());
    }
    args.push("up".as_ref());
    run(
        Path::new("ip"),
        &args,
        "setting up the tap",
        Duration::from_secs(10),
    )
    .await
    .map(drop)
}

/// The last MiB of the console log is all `console_output` shows.
const CONSOLE_MAX: u64 = 1 << 20;

impl VirtDriver for QemuDriver {
    fn spawn<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            if !valid_id(&spec.id) {
                return Err(VirtError::Failed(format!("bad instance id {:?}", spec.id)));
            }
            for vif in &spec.vifs {
                check_vif(vif)?;
                vif_ids(&vif.port_id)?;
            }
            let p = self.paths(&spec.id)?;
            let lock = self.lock_for(&spec.id);
            let _held = lock.lock().await;
            if tokio::fs::try_exists(p.spec()).await.unwrap_or(false) {
                // A repeated spawn (the build saga after a restart).
                return self.start(&p).await;
            }
            // Leftovers of a spawn that died half-way.
            self.remove(&p).await?;
            tokio::fs::create_dir_all(&p.dir)
                .await
                .map_err(|e| virt_failed("creating the instance directory", e))?;
            let built = self.build(spec, &p).await;
            if let Err(e) = built {
                if let Err(cleanup) = self.remove(&p).await {
                    tracing::warn!(%cleanup, "cleaning up after a failed spawn");
                }
                return Err(e);
            }
            Ok(())
        })
    }

    fn destroy<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            let Ok(p) = self.paths(id) else { return Ok(()) };
            let lock = self.lock_for(id);
            let _held = lock.lock().await;
            self.remove(&p).await
        })
    }

    fn reboot<'a>(&'a self, id: &'a str, kind: RebootKind) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            let p = self.existing(id).await?;
            let lock = self.lock_for(id);
            let _held = lock.lock().await;
            match kind {
                RebootKind::Soft if self.running_pid(&p).is_some() => {
                    let mut q = self.qmp(&p).await?;
                    q.execute("system_reset", None).await.map_err(qmp_failed)?;
                    // A paused guest resets into a paused state.
                    q.execute("cont", None).await.map_err(qmp_failed)?;
                    let _ = tokio::fs::remove_file(p.suspended()).await;
                    Ok(())
                }
                _ => self.restart(&p, false).await,
            }
        })
    }

    fn power_off<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            let p = self.existing(id).await?;
            let lock = self.lock_for(id);
            let _held = lock.lock().await;
            self.stop(&p, true).await
        })
    }

    fn power_on<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            let p = self.existing(id).await?;
            let lock = self.lock_for(id);
            let _held = lock.lock().await;
            self.start(&p).await
        })
    }

    fn pause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            let p = self.existing(id).await?;
            let lock = self.lock_for(id);
            let _held = lock.lock().await;
            let mut q = self.running_qmp(id, &p).await?;
            q.execute("stop", None).await.map_err(qmp_failed).map(drop)
        })
    }

    fn unpause<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            let p = self.existing(id).await?;
            let lock = self.lock_for(id);
            let _held = lock.lock().await;
            let mut q = self.running_qmp(id, &p).await?;
            q.execute("cont", None).await.map_err(qmp_failed)?;
            let _ = tokio::fs::remove_file(p.suspended()).await;
            Ok(())
        })
    }

    fn suspend<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            let p = self.existing(id).await?;
            let lock = self.lock_for(id);
            let _held = lock.lock().await;
            let mut q = self.running_qmp(id, &p).await?;
            q.execute("stop", None).await.map_err(qmp_failed)?;
            tokio::fs::write(p.suspended(), b"")
                .await
                .map_err(|e| virt_failed("marking the guest suspended", e))
        })
    }

    fn resume<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        self.unpause(id)
    }

    fn get_info<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<PowerState>> {
        // No per-guest lock: a power-off waiting out its ACPI timeout
        // must not hold up state reports (it holds no QMP session then).
        Box::pin(self.status(id))
    }

    fn list_instances<'a>(&'a self) -> BoxFuture<'a, VirtResult<Vec<String>>> {
        Box::pin(async move {
            let dir = self.cfg.state_dir.join("instances");
            let mut rd = match tokio::fs::read_dir(&dir).await {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(virt_failed("listing instances", e)),
            };
            let mut ids = Vec::new();
            while let Some(entry) = rd
                .next_entry()
                .await
                .map_err(|e| virt_failed("listing instances", e))?
            {
                let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                if valid_id(&name)
                    && tokio::fs::try_exists(entry.path().join("spec.json"))
                        .await
                        .unwrap_or(false)
                {
                    ids.push(name);
                }
            }
            ids.sort();
            Ok(ids)
        })
    }

    fn console_output<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<Vec<String>>> {
        Box::pin(async move {
            let p = self.existing(id).await?;
            let mut f = match tokio::fs::File::open(p.console()).await {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(virt_failed("reading the console log", e)),
            };
            let len = f
                .metadata()
                .await
                .map_err(|e| virt_failed("reading the console log", e))?
                .len();
            let skip = len.saturating_sub(CONSOLE_MAX);
            if skip > 0 {
                use tokio::io::AsyncSeekExt;
                f.seek(std::io::SeekFrom::Start(skip))
                    .await
                    .map_err(|e| virt_failed("reading the console log", e))?;
            }
            let mut buf = Vec::new();
            f.read_to_end(&mut buf)
                .await
                .map_err(|e| virt_failed("reading the console log", e))?;
            let text = String::from_utf8_lossy(&buf);
            let mut lines: Vec<String> = text
                .split('\n')
                .map(|l| l.trim_end_matches('\r').to_string())
                .collect();
            if skip > 0 && !lines.is_empty() {
                // The first line was cut by the 1 MiB window.
                lines.remove(0);
            }
            if lines.last().is_some_and(String::is_empty) {
                lines.pop();
            }
            Ok(lines)
        })
    }

    fn rebuild<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            let p = self.existing(&spec.id).await?;
            let lock = self.lock_for(&spec.id);
            let _held = lock.lock().await;
            self.stop(&p, false).await?;
            // The new overlay is made aside so a failure keeps the old disk.
            let fresh = p.f("disk.qcow2.new");
            if let Err(e) = self.make_root_disk(&spec.image, spec.root_gb, &fresh).await {
                let _ = tokio::fs::remove_file(&fresh).await;
                return Err(e);
            }
            tokio::fs::rename(&fresh, p.disk())
                .await
                .map_err(|e| virt_failed("replacing the root disk", e))?;
            let _ = tokio::fs::remove_file(p.iso()).await;
            if let Some(files) = &spec.config_drive {
                self.make_config_drive(files, &p).await?;
            }
            self.write_spec(&p.spec(), spec).await?;
            self.start(&p).await
        })
    }

    fn resize<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            let p = self.existing(&spec.id).await?;
            let lock = self.lock_for(&spec.id);
            let _held = lock.lock().await;
            let old = self.read_spec(&p).await?;
            let backup = p.f("disk.qcow2.resize");
            let old_spec = p.f("spec.json.resize");
            if tokio::fs::try_exists(&old_spec).await.unwrap_or(false) {
                return Err(VirtError::Failed(format!(
                    "instance {} has a resize to confirm or revert first",
                    spec.id
                )));
            }
            self.stop(&p, true).await?;
            tokio::fs::copy(p.disk(), &backup)
                .await
                .map_err(|e| virt_failed("keeping the disk for a revert", e))?;
            let eph_backup = p.f("disk.eph.qcow2.resize");
            if tokio::fs::try_exists(p.eph()).await.unwrap_or(false) {
                tokio::fs::copy(p.eph(), &eph_backup)
                    .await
                    .map_err(|e| virt_failed("keeping the disk for a revert", e))?;
            }
            self.write_spec(&old_spec, &old).await?;
            let grown = async {
                if spec.root_gb > 0 {
                    self.grow_disk(&p.disk(), spec.root_gb).await?;
                }
                if spec.ephemeral_gb > 0 {
                    if tokio::fs::try_exists(p.eph()).await.unwrap_or(false) {
                        self.grow_disk(&p.eph(), spec.ephemeral_gb).await?;
                    } else {
                        self.make_blank_disk(spec.ephemeral_gb, &p.eph()).await?;
                    }
                }
                self.write_spec(&p.spec(), spec).await?;
                self.start(&p).await
            }
            .await;
            if let Err(e) = grown {
                // Back to what it was.
                let _ = self.stop(&p, false).await;
                let _ = tokio::fs::rename(&backup, p.disk()).await;
                if tokio::fs::try_exists(&eph_backup).await.unwrap_or(false) {
                    let _ = tokio::fs::rename(&eph_backup, p.eph()).await;
                } else if old.ephemeral_gb == 0 {
                    let _ = tokio::fs::remove_file(p.eph()).await;
                }
                let _ = self.write_spec(&p.spec(), &old).await;
                let _ = tokio::fs::remove_file(&old_spec).await;
                let _ = self.start(&p).await;
                return Err(e);
            }
            Ok(())
        })
    }

    fn confirm_resize<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            let p = self.existing(id).await?;
            let lock = self.lock_for(id);
            let _held = lock.lock().await;
            for f in [
                "disk.qcow2.resize",
                "disk.eph.qcow2.resize",
                "spec.json.resize",
            ] {
                let _ = tokio::fs::remove_file(p.f(f)).await;
            }
            Ok(())
        })
    }

    fn revert_resize<'a>(&'a self, old: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            let p = self.existing(&old.id).await?;
            let lock = self.lock_for(&old.id);
            let _held = lock.lock().await;
            let backup = p.f("disk.qcow2.resize");
            if !tokio::fs::try_exists(&backup).await.unwrap_or(false) {
                // Reverted already (a repeated call) or never resized.
                if self.read_spec(&p).await? == *old {
                    return self.start(&p).await;
                }
                return Err(VirtError::Failed(format!(
                    "instance {} has no resize to revert",
                    old.id
                )));
            }
            self.stop(&p, false).await?;
            tokio::fs::rename(&backup, p.disk())
                .await
                .map_err(|e| virt_failed("restoring the disk", e))?;
            let eph_backup = p.f("disk.eph.qcow2.resize");
            if tokio::fs::try_exists(&eph_backup).await.unwrap_or(false) {
                tokio::fs::rename(&eph_backup, p.eph())
                    .await
                    .map_err(|e| virt_failed("restoring the disk", e))?;
            } else if old.ephemeral_gb == 0 {
                let _ = tokio::fs::remove_file(p.eph()).await;
            }
            self.write_spec(&p.spec(), old).await?;
            let _ = tokio::fs::remove_file(p.f("spec.json.resize")).await;
            self.start(&p).await
        })
    }

    fn snapshot<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<Snapshot>> {
        Box::pin(async move {
            let p = self.existing(id).await?;
            let lock = self.lock_for(id);
            let _held = lock.lock().await;
            let tmp = p.f(&format!("snapshot.{}.tmp", std::process::id()));
            let mut resume = false;
            if self.running_pid(&p).is_some() {
                let mut q = self.qmp(&p).await?;
                let st = q.execute("query-status", None).await.map_err(qmp_failed)?;
                if st.get("running").and_then(Value::as_bool) == Some(true) {
                    q.execute("stop", None).await.map_err(qmp_failed)?;
                    resume = true;
                }
            }
            let converted = run(
                &self.cfg.qemu_img_binary,
                &[
                    "convert".as_ref(),
                    "-U".as_ref(),
                    "-f".as_ref(),
                    "qcow2".as_ref(),
                    "-O".as_ref(),
                    "qcow2".as_ref(),
                    p.disk().as_os_str(),
                    tmp.as_os_str(),
                ],
                "qemu-img convert",
                Duration::from_secs(3600),
            )
            .await;
            if resume {
                if let Err(e) = self.qmp_do(&p, "cont", None).await {
                    tracing::warn!(%e, "could not resume the guest after its snapshot");
                }
            }
            if let Err(e) = converted {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
            let file = tokio::fs::File::open(&tmp)
                .await
                .map_err(|e| virt_failed("opening the snapshot", e));
            // Unlinked now: the open file keeps its data until streamed.
            let _ = tokio::fs::remove_file(&tmp).await;
            let file = file?;
            let data = futures_util::stream::unfold(Some(file), |file| async move {
                let mut file = file?;
                let mut buf = vec![0u8; 1 << 20];
                match file.read(&mut buf).await {
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        Some((Ok(Bytes::from(buf)), Some(file)))
                    }
                    Err(e) => Some((Err(e), None)),
                }
            });
            Ok(Snapshot {
                disk_format: "qcow2".into(),
                container_format: "bare".into(),
                data: Box::pin(data),
            })
        })
    }

    fn rescue<'a>(
        &'a self,
        spec: &'a InstanceSpec,
        rescue_image: &'a ImageRef,
    ) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            let p = self.existing(&spec.id).await?;
            let lock = self.lock_for(&spec.id);
            let _held = lock.lock().await;
            self.stop(&p, true).await?;
            let made = async {
                self.make_root_disk(rescue_image, 0, &p.rescue_disk())
                    .await?;
                let raw =
                    serde_json::to_vec(rescue_image).map_err(|e| virt_failed("rescue.json", e))?;
                tokio::fs::write(p.rescue_json(), raw)
                    .await
                    .map_err(|e| virt_failed("writing rescue.json", e))?;
                self.start(&p).await
            }
            .await;
            if let Err(e) = made {
                let _ = self.stop(&p, false).await;
                let _ = tokio::fs::remove_file(p.rescue_disk()).await;
                let _ = tokio::fs::remove_file(p.rescue_json()).await;
                return Err(e);
            }
            Ok(())
        })
    }

    fn unrescue<'a>(&'a self, spec: &'a InstanceSpec) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            let p = self.existing(&spec.id).await?;
            let lock = self.lock_for(&spec.id);
            let _held = lock.lock().await;
            self.stop(&p, false).await?;
            let _ = tokio::fs::remove_file(p.rescue_disk()).await;
            let _ = tokio::fs::remove_file(p.rescue_json()).await;
            self.start(&p).await
        })
    }

    fn attach_interface<'a>(&'a self, id: &'a str, vif: &'a Vif) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            check_vif(vif)?;
            let (netdev, dev) = vif_ids(&vif.port_id)?;
            let p = self.existing(id).await?;
            let lock = self.lock_for(id);
            let _held = lock.lock().await;
            let mut spec = self.read_spec(&p).await?;
            if spec.vifs.iter().any(|v| v.port_id == vif.port_id) {
                return Ok(());
            }
            if self.running_pid(&p).is_some() {
                let mut q = self.qmp(&p).await?;
                q.execute(
                    "netdev_add",
                    Some(json!({
                        "type": "tap", "id": netdev, "ifname": vif.tap_name,
                        "script": "no", "downscript": "no",
                    })),
                )
                .await
                .map_err(qmp_failed)?;
                let mut device = json!({
                    "driver": "virtio-net-pci", "id": dev, "netdev": netdev, "mac": vif.mac,
                });
                let added = if self.cfg.machine.starts_with("q35") {
                    // The first spare root port that is free.
                    let mut added = Err(qmp::QmpError::Protocol("no spare PCIe root port".into()));
                    for i in 0..HOTPLUG_PORTS {
                        device["bus"] = json!(format!("hp{i}"));
                        added = q.execute("device_add", Some(device.clone())).await;
                        match &added {
                            Err(qmp::QmpError::Command { desc, .. })
                                if desc.contains("not available")
                                    || desc.contains("in use")
                                    || desc.contains("full") => {}
                            _ => break,
                        }
                    }
                    added
                } else {
                    q.execute("device_add", Some(device)).await
                };
                if let Err(e) = added {
                    let _ = q.execute("netdev_del", Some(json!({ "id": netdev }))).await;
                    return Err(qmp_failed(e));
                }
                tap_up(vif).await?;
            }
            spec.vifs.push(vif.clone());
            self.write_spec(&p.spec(), &spec).await
        })
    }

    fn detach_interface<'a>(
        &'a self,
        id: &'a str,
        port_id: &'a str,
    ) -> BoxFuture<'a, VirtResult<()>> {
        Box::pin(async move {
            let (netdev, dev) = vif_ids(port_id)?;
            let p = self.existing(id).await?;
            let lock = self.lock_for(id);
            let _held = lock.lock().await;
            let mut spec = self.read_spec(&p).await?;
            if self.running_pid(&p).is_some() {
                let mut q = self.qmp(&p).await?;
                match q.execute("device_del", Some(json!({ "id": dev }))).await {
                    Ok(_) => {
                        // The guest has to let go of a PCI device.
                        q.wait_event(
                            "DEVICE_DELETED",
                            |ev| ev["data"]["device"] == dev.as_str(),
                            DETACH_TIMEOUT,
                        )
                        .await
                        .map_err(|_| {
                            VirtError::Failed(format!(
                                "the guest did not release interface {port_id}"
                            ))
                        })?;
                    }
                    Err(qmp::QmpError::Command { class, .. }) if class == "DeviceNotFound" => {}
                    Err(e) => return Err(qmp_failed(e)),
                }
                match q.execute("netdev_del", Some(json!({ "id": netdev }))).await {
                    Ok(_) => {}
                    Err(qmp::QmpError::Command { .. }) => {}
                    Err(e) => return Err(qmp_failed(e)),
                }
            }
            spec.vifs.retain(|v| v.port_id != port_id);
            self.write_spec(&p.spec(), &spec).await
        })
    }

    fn open_console<'a>(&'a self, id: &'a str) -> BoxFuture<'a, VirtResult<ConsoleStream>> {
        Box::pin(async move {
            let p = self.existing(id).await?;
            if self.running_pid(&p).is_none() {
                return Err(VirtError::Failed(format!("instance {id} is not running")));
            }
            let s = tokio::net::UnixStream::connect(p.vnc())
                .await
                .map_err(|e| virt_failed("connecting to the VNC server", e))?;
            Ok(Box::new(s) as ConsoleStream)
        })
    }
}

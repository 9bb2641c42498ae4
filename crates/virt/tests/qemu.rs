//! The QEMU driver against real QEMU (TCG: no root, no KVM, no network).
//! Guests boot blank disks (no OS: QEMU and its firmware still run, which
//! is all most checks need) or a tiny multiboot kernel that prints a
//! marker on the serial console (direct kernel boot).
//!
//! These tests need `qemu-system-x86_64`, `qemu-img` and `genisoimage`.
//! Locally a missing one skips the test with a line on the terminal; with
//! `CI` set it fails it (a CI image without QEMU is a setup bug).
//!
//! [`boot_and_wait_for`] boots a spec and waits for a console line: the
//! project's real test guest (kernel + initramfs images) plugs in there.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use serde_json::Value;
use sha2::Digest;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use virt::qemu::{Accel, QemuConfig, QemuDriver};
use virt::{
    ConfigDriveFile, ImageFetcher, ImageRef, InstanceSpec, PowerState, RebootKind, VirtDriver,
    VirtError, VirtResult,
};

// ---- gate ------------------------------------------------------------

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

/// Whether the QEMU tests can run; fails the test on CI when they cannot.
fn qemu_available() -> bool {
    let missing: Vec<&str> = ["qemu-system-x86_64", "qemu-img", "genisoimage"]
        .into_iter()
        .filter(|b| !on_path(b))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let test = std::thread::current().name().unwrap_or("?").to_string();
    if std::env::var_os("CI").is_some() {
        panic!("{test}: CI is set but {missing:?} is not installed (apt-get install qemu-system-x86 qemu-utils genisoimage)");
    }
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED {test}: needs {missing:?} on PATH"
    );
    false
}

macro_rules! require_qemu {
    () => {
        if !qemu_available() {
            return;
        }
    };
}

// ---- fixtures --------------------------------------------------------

/// Serves images from files, by id; counts fetches.
#[derive(Default)]
struct FileImages {
    files: Mutex<HashMap<String, PathBuf>>,
    fetches: Mutex<HashMap<String, usize>>,
}

impl FileImages {
    fn add(&self, id: &str, path: &Path) {
        self.files
            .lock()
            .unwrap()
            .insert(id.to_string(), path.to_path_buf());
    }
    fn fetches(&self, id: &str) -> usize {
        self.fetches.lock().unwrap().get(id).copied().unwrap_or(0)
    }
}

impl ImageFetcher for FileImages {
    fn fetch<'a>(
        &'a self,
        image_id: &'a str,
    ) -> BoxFuture<'a, VirtResult<BoxStream<'static, std::io::Result<Bytes>>>> {
        Box::pin(async move {
            let path = self
                .files
                .lock()
                .unwrap()
                .get(image_id)
                .cloned()
                .ok_or_else(|| VirtError::NotFound(image_id.to_string()))?;
            *self
                .fetches
                .lock()
                .unwrap()
                .entry(image_id.to_string())
                .or_default() += 1;
            let data = std::fs::read(path).map_err(|e| VirtError::Failed(e.to_string()))?;
            // Several chunks, as a real download.
            let chunks: Vec<std::io::Result<Bytes>> = data
                .chunks(64 * 1024)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            Ok(futures_util::stream::iter(chunks).boxed())
        })
    }
}

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    images: Arc<FileImages>,
}

impl Env {
    fn new() -> Env {
        // Short: Unix socket paths must stay under 108 bytes.
        let tmp = tempfile::Builder::new()
            .prefix("oxq")
            .tempdir_in("/tmp")
            .unwrap();
        let root = tmp.path().to_path_buf();
        std::fs::create_dir_all(root.join("src")).unwrap();
        Env {
            _tmp: tmp,
            root,
            images: Arc::default(),
        }
    }

    fn config(&self) -> QemuConfig {
        let mut cfg = QemuConfig::new(self.root.join("state"), self.root.join("cache"));
        cfg.accel = Accel::Tcg;
        cfg.shutdown_timeout = Duration::from_secs(1);
        cfg
    }

    fn driver(&self) -> QemuDriver {
        QemuDriver::new(self.config(), self.images.clone())
    }

    /// A blank image made by `qemu-img create`, served as `id`.
    fn image(&self, id: &str, format: &str, size: &str) -> PathBuf {
        let path = self.root.join("src").join(format!("{id}.{format}"));
        qemu_img(&["create", "-f", format, path.to_str().unwrap(), size]);
        self.images.add(id, &path);
        path
    }

    fn blob(&self, id: &str, bytes: &[u8]) -> PathBuf {
        let path = self.root.join("src").join(id);
        std::fs::write(&path, bytes).unwrap();
        self.images.add(id, &path);
        path
    }

    fn instance_dir(&self, id: &str) -> PathBuf {
        self.root.join("state").join("instances").join(id)
    }

    fn cache_entries(&self) -> Vec<String> {
        match std::fs::read_dir(self.root.join("cache")) {
            Ok(rd) => rd
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

impl Drop for Env {
    /// A failed test must not leave guests running.
    fn drop(&mut self) {
        let Ok(rd) = std::fs::read_dir(self.root.join("state").join("instances")) else {
            return;
        };
        for entry in rd.flatten() {
            if let Some(pid) = qemu_pid(&entry.path()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

fn qemu_img(args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("qemu-img")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "qemu-img {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn info(path: &Path) -> Value {
    serde_json::from_slice(&qemu_img(&[
        "info",
        "-U",
        "--output=json",
        path.to_str().unwrap(),
    ]))
    .unwrap()
}

fn image_ref(id: &str, format: &str) -> ImageRef {
    ImageRef {
        id: id.into(),
        disk_format: format.into(),
        container_format: "bare".into(),
        size: None,
        hash_algo: None,
        hash_value: None,
        kernel_id: None,
        ramdisk_id: None,
        os_command_line: None,
    }
}

fn spec(id: &str, image: ImageRef) -> InstanceSpec {
    InstanceSpec {
        id: id.into(),
        name: format!("instance-{id}"),
        hostname: "vm".into(),
        vcpus: 1,
        memory_mb: 64,
        root_gb: 1,
        ephemeral_gb: 0,
        swap_mb: 0,
        image,
        vifs: vec![],
        user_data: None,
        config_drive: None,
    }
}

fn uuid(n: u8) -> String {
    format!(
        "6f1e2d3c-0000-4000-8000-{:012x}",
        u64::from(n) + std::process::id() as u64 * 256
    )
}

fn qemu_pid(dir: &Path) -> Option<i32> {
    std::fs::read_to_string(dir.join("pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, r)| !r.trim_start().starts_with('Z'))
    })
}

async fn assert_state(d: &QemuDriver, id: &str, want: PowerState) {
    assert_eq!(d.get_info(id).await.unwrap(), want, "state of {id}");
}

/// A multiboot "kernel" (flat binary, a.out kludge, loaded at 1 MiB) that
/// writes `MULTIBOOT_MARKER` to COM1 and halts.
fn multiboot_kernel() -> Vec<u8> {
    const MAGIC: u32 = 0x1BAD_B002;
    const FLAGS: u32 = 0x0001_0000;
    const BASE: u32 = 0x0010_0000;
    let mut k = Vec::new();
    for w in [
        MAGIC,
        FLAGS,
        0u32.wrapping_sub(MAGIC.wrapping_add(FLAGS)),
        BASE,      // header_addr
        BASE,      // load_addr
        0,         // load_end_addr: the whole file
        0,         // bss_end_addr
        BASE + 32, // entry
    ] {
        k.extend_from_slice(&w.to_le_bytes());
    }
    // mov dx,0x3f8; mov esi,msg; l: lodsb; test al,al; jz h; out dx,al;
    // jmp l; h: hlt; jmp h
    k.extend_from_slice(&[0x66, 0xBA, 0xF8, 0x03, 0xBE]);
    k.extend_from_slice(&(BASE + 52).to_le_bytes());
    k.extend_from_slice(&[
        0xAC, 0x84, 0xC0, 0x74, 0x03, 0xEE, 0xEB, 0xF8, 0xF4, 0xEB, 0xFD,
    ]);
    assert_eq!(k.len(), 52);
    k.extend_from_slice(MULTIBOOT_MARKER.as_bytes());
    k.extend_from_slice(b"\n\0");
    k
}

const MULTIBOOT_MARKER: &str = "oxistack multiboot guest: READY";

/// Spawns `spec` and waits until a console line contains `marker`;
/// returns the console lines. For kernel/initramfs guests: give
/// `spec.image.kernel_id`/`ramdisk_id`/`os_command_line` and serve those
/// images from the fetcher.
async fn boot_and_wait_for(
    d: &QemuDriver,
    spec: &InstanceSpec,
    marker: &str,
    timeout: Duration,
) -> Vec<String> {
    d.spawn(spec).await.unwrap();
    let deadline = Instant::now() + timeout;
    loop {
        let lines = d.console_output(&spec.id).await.unwrap();
        if lines.iter().any(|l| l.contains(marker)) {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "no {marker:?} on the console of {} within {timeout:?}; console: {lines:?}",
            spec.id
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn read_snapshot(d: &QemuDriver, id: &str, out: &Path) {
    let snap = d.snapshot(id).await.unwrap();
    assert_eq!(snap.disk_format, "qcow2");
    assert_eq!(snap.container_format, "bare");
    let mut f = tokio::fs::File::create(out).await.unwrap();
    let mut data = snap.data;
    while let Some(chunk) = data.next().await {
        f.write_all(&chunk.unwrap()).await.unwrap();
    }
    f.flush().await.unwrap();
}

// ---- tests -----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blank_guest_lives_through_its_lifecycle() {
    require_qemu!();
    let env = Env::new();
    let raw = env.image("img-raw", "raw", "64M");
    let digest: String = sha2::Sha512::digest(std::fs::read(&raw).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut image = image_ref("img-raw", "raw");
    image.size = Some(64 << 20);
    image.hash_algo = Some("sha512".into());
    image.hash_value = Some(digest);
    let id = uuid(1);
    let mut s = spec(&id, image);
    s.ephemeral_gb = 1;
    s.config_drive = Some(vec![
        ConfigDriveFile {
            path: "openstack/latest/meta_data.json".into(),
            contents: br#"{"uuid": "x"}"#.to_vec(),
        },
        ConfigDriveFile {
            path: "openstack/latest/user_data".into(),
            contents: b"#!/bin/sh\n".to_vec(),
        },
    ]);
    let d = env.driver();
    assert_eq!(d.accel().await, Accel::Tcg);
    d.spawn(&s).await.unwrap();
    assert_state(&d, &id, PowerState::Running).await;
    // Spawning again (a saga retry) is no error and no second guest.
    let pid = qemu_pid(&env.instance_dir(&id)).unwrap();
    d.spawn(&s).await.unwrap();
    assert_eq!(qemu_pid(&env.instance_dir(&id)), Some(pid));

    let dir = env.instance_dir(&id);
    for f in [
        "spec.json",
        "disk.qcow2",
        "disk.eph.qcow2",
        "config.iso",
        "console.log",
        "qmp.sock",
        "vnc.sock",
        "pid",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let disk = info(&dir.join("disk.qcow2"));
    assert_eq!(disk["format"], "qcow2");
    assert_eq!(disk["virtual-size"], 1u64 << 30);
    let base = env.root.join("cache").join("img-raw.qcow2");
    assert_eq!(disk["backing-filename"], base.to_str().unwrap());
    assert_eq!(info(&base)["format"], "qcow2");
    assert_eq!(
        info(&dir.join("disk.eph.qcow2"))["virtual-size"],
        1u64 << 30
    );
    // ISO 9660 primary volume descriptor: the volume id at byte 40.
    let iso = std::fs::read(dir.join("config.iso")).unwrap();
    assert_eq!(&iso[0x8001..0x8006], b"CD001");
    assert_eq!(&iso[0x8028..0x8030], b"config-2");
    let meta = br#"{"uuid": "x"}"#;
    assert!(iso.windows(meta.len()).any(|w| w == meta.as_slice()));
    // The QEMU process is this guest's.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    assert!(cmdline.contains(&format!("-uuid {id}")), "{cmdline}");
    assert!(cmdline.contains("accel=tcg"), "{cmdline}");

    // Pause / suspend.
    d.pause(&id).await.unwrap();
    assert_state(&d, &id, PowerState::Paused).await;
    d.unpause(&id).await.unwrap();
    assert_state(&d, &id, PowerState::Running).await;
    d.suspend(&id).await.unwrap();
    assert_state(&d, &id, PowerState::Suspended).await;
    d.resume(&id).await.unwrap();
    assert_state(&d, &id, PowerState::Running).await;

    // The VNC server speaks RFB.
    let mut vnc = d.open_console(&id).await.unwrap();
    let mut hello = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(10), vnc.read_exact(&mut hello))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&hello, b"RFB 003.008\n");
    drop(vnc);

    // A snapshot of the running guest is a flat qcow2; it keeps running.
    let snap = env.root.join("snap.qcow2");
    read_snapshot(&d, &id, &snap).await;
    let si = info(&snap);
    assert_eq!(si["format"], "qcow2");
    assert!(si.get("backing-filename").is_none(), "{si}");
    assert_eq!(si["virtual-size"], 1u64 << 30);
    assert_state(&d, &id, PowerState::Running).await;
    // A paused guest stays paused across a snapshot.
    d.pause(&id).await.unwrap();
    read_snapshot(&d, &id, &snap).await;
    assert_state(&d, &id, PowerState::Paused).await;
    d.unpause(&id).await.unwrap();

    // Reboots: soft keeps the process, hard starts a new one.
    d.reboot(&id, RebootKind::Soft).await.unwrap();
    assert_eq!(qemu_pid(&dir), Some(pid));
    assert_state(&d, &id, PowerState::Running).await;
    d.reboot(&id, RebootKind::Hard).await.unwrap();
    let pid2 = qemu_pid(&dir).unwrap();
    assert_ne!(pid2, pid);
    assert!(!alive(pid));
    assert_state(&d, &id, PowerState::Running).await;

    // Resize grows the disk and keeps the old one until confirm/revert.
    let mut bigger = s.clone();
    bigger.root_gb = 2;
    bigger.vcpus = 2;
    bigger.memory_mb = 96;
    d.resize(&bigger).await.unwrap();
    assert_state(&d, &id, PowerState::Running).await;
    assert_eq!(info(&dir.join("disk.qcow2"))["virtual-size"], 2u64 << 30);
    assert!(dir.join("disk.qcow2.resize").exists());
    let pid3 = qemu_pid(&dir).unwrap();
    let cmdline = String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid3}/cmdline")).unwrap())
        .replace('\0', " ");
    assert!(
        cmdline.contains("-smp 2") && cmdline.contains("-m 96M"),
        "{cmdline}"
    );
    d.revert_resize(&s).await.unwrap();
    assert_eq!(info(&dir.join("disk.qcow2"))["virtual-size"], 1u64 << 30);
    assert!(!dir.join("disk.qcow2.resize").exists());
    assert_state(&d, &id, PowerState::Running).await;
    d.resize(&bigger).await.unwrap();
    d.confirm_resize(&id).await.unwrap();
    assert!(!dir.join("disk.qcow2.resize").exists());
    assert_eq!(info(&dir.join("disk.qcow2"))["virtual-size"], 2u64 << 30);

    // Power off: the blank guest ignores ACPI, so QEMU is quit after the
    // (1 s) timeout; the disks stay.
    let pid4 = qemu_pid(&dir).unwrap();
    let t = Instant::now();
    d.power_off(&id).await.unwrap();
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    assert!(!alive(pid4));
    assert_state(&d, &id, PowerState::Shutdown).await;
    assert!(dir.join("disk.qcow2").exists());
    assert!(!dir.join("qmp.sock").exists());
    assert!(d.pause(&id).await.is_err());
    d.power_off(&id).await.unwrap();
    d.power_on(&id).await.unwrap();
    assert_state(&d, &id, PowerState::Running).await;

    // A new driver over the same directories finds the guest and drives it.
    drop(d);
    let d = env.driver();
    assert_eq!(d.list_instances().await.unwrap(), vec![id.clone()]);
    assert_state(&d, &id, PowerState::Running).await;
    d.pause(&id).await.unwrap();
    assert_state(&d, &id, PowerState::Paused).await;
    let lines = d.console_output(&id).await.unwrap();
    assert!(lines.iter().all(|l| !l.contains('\n')));
    // The image was downloaded once.
    assert_eq!(env.images.fetches("img-raw"), 1);

    // Destroy leaves nothing; twice is fine.
    let pid5 = qemu_pid(&dir).unwrap();
    d.destroy(&id).await.unwrap();
    assert!(!alive(pid5));
    assert!(!dir.exists());
    d.destroy(&id).await.unwrap();
    assert_state(&d, &id, PowerState::NoState).await;
    assert!(d.list_instances().await.unwrap().is_empty());
    assert!(matches!(d.pause(&id).await, Err(VirtError::NotFound(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_images_are_refused_and_leave_nothing() {
    require_qemu!();
    let env = Env::new();
    let d = env.driver();
    // qcow2 bytes declared raw.
    env.image("liar", "qcow2", "64M");
    let id = uuid(2);
    let e = d
        .spawn(&spec(&id, image_ref("liar", "raw")))
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("declared disk_format raw") && msg.contains("qcow2"),
        "{msg}"
    );
    assert!(!env.instance_dir(&id).exists());
    assert!(env.cache_entries().is_empty(), "{:?}", env.cache_entries());
    assert_eq!(d.get_info(&id).await.unwrap(), PowerState::NoState);

    // A qcow2 naming a backing file on the host.
    let evil = env.root.join("src").join("evil.qcow2");
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-F",
        "raw",
        "-b",
        "/etc/hostname",
        evil.to_str().unwrap(),
        "64M",
    ]);
    env.images.add("evil", &evil);
    let msg = d
        .spawn(&spec(&id, image_ref("evil", "qcow2")))
        .await
        .unwrap_err()
        .to_string();
    assert!(msg.contains("backing file"), "{msg}");
    assert!(!env.instance_dir(&id).exists());

    // A hash that does not match.
    env.image("plain", "raw", "1M");
    let mut img = image_ref("plain", "raw");
    img.hash_algo = Some("sha512".into());
    img.hash_value = Some("00".repeat(64));
    let msg = d.spawn(&spec(&id, img)).await.unwrap_err().to_string();
    assert!(msg.contains("sha512"), "{msg}");

    // A format the driver does not boot.
    let msg = d
        .spawn(&spec(&id, image_ref("plain", "vmdk")))
        .await
        .unwrap_err()
        .to_string();
    assert!(msg.contains("vmdk"), "{msg}");

    // A flavor disk smaller than the image.
    env.image("big", "qcow2", "3G");
    let msg = d
        .spawn(&spec(&id, image_ref("big", "qcow2")))
        .await
        .unwrap_err()
        .to_string();
    assert!(msg.contains("too small"), "{msg}");
    assert!(!env.instance_dir(&id).exists());
    assert!(
        env.cache_entries().iter().all(|e| !e.starts_with('.')),
        "{:?}",
        env.cache_entries()
    );
    assert!(d.list_instances().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_qcow2_guest_is_rebuilt_and_rescued() {
    require_qemu!();
    let env = Env::new();
    env.image("q1", "qcow2", "512M");
    env.image("q2", "qcow2", "256M");
    env.image("rescue", "raw", "32M");
    let d = env.driver();
    let id = uuid(3);
    let mut s = spec(&id, image_ref("q1", "qcow2"));
    s.root_gb = 0; // the image's own size
    d.spawn(&s).await.unwrap();
    let dir = env.instance_dir(&id);
    assert_eq!(info(&dir.join("disk.qcow2"))["virtual-size"], 512u64 << 20);
    assert_state(&d, &id, PowerState::Running).await;

    // Rebuild: a new overlay on the new image.
    let mut s2 = s.clone();
    s2.image = image_ref("q2", "qcow2");
    d.rebuild(&s2).await.unwrap();
    let di = info(&dir.join("disk.qcow2"));
    assert_eq!(di["virtual-size"], 256u64 << 20);
    assert!(di["backing-filename"]
        .as_str()
        .unwrap()
        .ends_with("q2.qcow2"));
    assert_state(&d, &id, PowerState::Running).await;

    // Rescue: the rescue disk first, the root disk second.
    let pid = qemu_pid(&dir).unwrap();
    d.rescue(&s2, &image_ref("rescue", "raw")).await.unwrap();
    assert_state(&d, &id, PowerState::Running).await;
    let pid2 = qemu_pid(&dir).unwrap();
    assert_ne!(pid, pid2);
    let cmdline = String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid2}/cmdline")).unwrap())
        .replace('\0', " ");
    let r = cmdline.find("rescue.qcow2").expect("rescue disk attached");
    let root = cmdline.find("disk.qcow2").expect("root disk attached");
    assert!(r < root, "{cmdline}");
    d.unrescue(&s2).await.unwrap();
    assert!(!dir.join("rescue.qcow2").exists());
    let pid3 = qemu_pid(&dir).unwrap();
    let cmdline = String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid3}/cmdline")).unwrap())
        .replace('\0', " ");
    assert!(!cmdline.contains("rescue"), "{cmdline}");
    d.destroy(&id).await.unwrap();
    assert!(!alive(pid3));
    assert!(!dir.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kernel_boots_directly_and_talks_on_the_console() {
    require_qemu!();
    let env = Env::new();
    env.image("disk", "raw", "16M");
    env.blob("kernel", &multiboot_kernel());
    env.blob("ramdisk", b"not really an initramfs");
    let mut image = image_ref("disk", "raw");
    image.kernel_id = Some("kernel".into());
    image.ramdisk_id = Some("ramdisk".into());
    image.os_command_line = Some("console=ttyS0 oxistack".into());
    let id = uuid(4);
    let d = env.driver();
    let lines = boot_and_wait_for(
        &d,
        &spec(&id, image),
        MULTIBOOT_MARKER,
        Duration::from_secs(60),
    )
    .await;
    assert!(lines.iter().any(|l| l == MULTIBOOT_MARKER), "{lines:?}");
    assert!(env.root.join("cache").join("kernel.blob").exists());
    // Console output survives a hard reboot (the log is appended to).
    d.reboot(&id, RebootKind::Hard).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let lines = d.console_output(&id).await.unwrap();
        if lines.iter().filter(|l| *l == MULTIBOOT_MARKER).count() >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "{lines:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    d.destroy(&id).await.unwrap();
    assert!(!env.instance_dir(&id).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_acceleration_falls_back_to_tcg_quickly() {
    require_qemu!();
    let env = Env::new();
    // No QEMU at all: the probe fails at once.
    let mut cfg = env.config();
    cfg.accel = Accel::Auto;
    cfg.qemu_binary = env.root.join("no-such-qemu");
    let d = QemuDriver::new(cfg, env.images.clone());
    assert_eq!(d.accel().await, Accel::Tcg);
    // The real QEMU: KVM only if a guest really runs on it (on these
    // machines /dev/kvm exists but cannot run guests).
    let mut cfg = env.config();
    cfg.accel = Accel::Auto;
    let d = QemuDriver::new(cfg, env.images.clone());
    let t = Instant::now();
    let accel = d.accel().await;
    assert!(t.elapsed() < Duration::from_secs(12), "{:?}", t.elapsed());
    if !Path::new("/dev/kvm").exists() {
        assert_eq!(accel, Accel::Tcg);
    }
    // Cached: the second answer is immediate.
    let t = Instant::now();
    assert_eq!(d.accel().await, accel);
    assert!(t.elapsed() < Duration::from_millis(100));
    // And a guest runs on what it chose.
    env.image("img", "raw", "16M");
    let id = uuid(5);
    d.spawn(&spec(&id, image_ref("img", "raw"))).await.unwrap();
    assert_state(&d, &id, PowerState::Running).await;
    d.destroy(&id).await.unwrap();
}

// ---- root: taps in a network namespace -------------------------------

/// A network namespace this test made; deleted on drop.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = format!("oxq-{}", std::process::id());
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &name])
            .output();
        let out = std::process::Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Netns(name)
    }

    /// `ip -n <ns> -o link show dev <dev>`, or None when it has no such link.
    fn link(&self, dev: &str) -> Option<String> {
        let out = std::process::Command::new("ip")
            .args(["-n", &self.0, "-o", "link", "show", "dev", dev])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.0])
            .output();
    }
}

/// Gated like the agent's root tests: `OXISTACK_ROOT_TESTS=1` runs it
/// (and then not being root fails it), else a visible skip.
fn root_tests_enabled() -> bool {
    let test = std::thread::current().name().unwrap_or("?").to_string();
    if std::env::var("OXISTACK_ROOT_TESTS").as_deref() != Ok("1") {
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED {test}: needs root; run as root with OXISTACK_ROOT_TESTS=1"
        );
        return false;
    }
    assert!(
        // /proc/self belongs to the process's effective uid.
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0,
        "{test}: OXISTACK_ROOT_TESTS=1 but not running as root"
    );
    true
}

#[test]
fn root_taps_are_made_sized_and_hot_plugged() {
    if !root_tests_enabled() || !qemu_available() {
        return;
    }
    let ns = Netns::new();
    let ns_path = format!("/run/netns/{}", ns.0);
    // QEMU (and `ip`) start in the namespace of the thread that spawns
    // them: a thread of our own, in the test's namespace, runs the driver.
    let joined = std::thread::spawn(move || {
        let f = std::fs::File::open(&ns_path).unwrap();
        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(taps_in_namespace())
    })
    .join();
    let links = ns.link("tapoxqa").or(ns.link("tapoxqb"));
    assert!(links.is_none(), "taps left behind: {links:?}");
    drop(ns);
    if let Err(panic) = joined {
        std::panic::resume_unwind(panic);
    }
}

async fn taps_in_namespace() {
    let ns = Netns(format!("oxq-{}", std::process::id()));
    let env = Env::new();
    env.image("img", "raw", "16M");
    let id = uuid(6);
    let mut s = spec(&id, image_ref("img", "raw"));
    s.vifs = vec![virt::Vif {
        port_id: "port-a".into(),
        tap_name: "tapoxqa".into(),
        mac: "fa:16:3e:00:00:0a".into(),
        mtu: Some(1400),
    }];
    let d = env.driver();
    d.spawn(&s).await.unwrap();
    assert_state(&d, &id, PowerState::Running).await;
    let link = ns.link("tapoxqa").expect("QEMU made the tap");
    assert!(link.contains("mtu 1400") && link.contains(",UP"), "{link}");

    let b = virt::Vif {
        port_id: "port-b".into(),
        tap_name: "tapoxqb".into(),
        mac: "fa:16:3e:00:00:0b".into(),
        mtu: Some(1450),
    };
    d.attach_interface(&id, &b).await.unwrap();
    let link = ns.link("tapoxqb").expect("netdev_add made the tap");
    assert!(link.contains("mtu 1450"), "{link}");
    d.attach_interface(&id, &b).await.unwrap();
    let saved: InstanceSpec =
        serde_json::from_slice(&std::fs::read(env.instance_dir(&id).join("spec.json")).unwrap())
            .unwrap();
    assert_eq!(saved.vifs.len(), 2);

    // Not plugged: no error.
    d.detach_interface(&id, "port-zzz").await.unwrap();
    // A guest without an OS never releases the PCI device: the detach
    // fails after its timeout and the port stays plugged and listed.
    let msg = d
        .detach_interface(&id, "port-b")
        .await
        .unwrap_err()
        .to_string();
    assert!(msg.contains("did not release"), "{msg}");
    assert!(ns.link("tapoxqb").is_some());
    let saved: InstanceSpec =
        serde_json::from_slice(&std::fs::read(env.instance_dir(&id).join("spec.json")).unwrap())
            .unwrap();
    assert_eq!(saved.vifs.len(), 2);

    // A cold start plugs what spec.json lists.
    d.reboot(&id, RebootKind::Hard).await.unwrap();
    for (tap, mtu) in [("tapoxqa", 1400), ("tapoxqb", 1450)] {
        let link = ns.link(tap).expect("tap after a cold start");
        assert!(link.contains(&format!("mtu {mtu}")), "{link}");
        assert!(link.contains(",UP"), "{link}");
    }
    d.destroy(&id).await.unwrap();
    assert!(ns.link("tapoxqa").is_none());
    assert!(ns.link("tapoxqb").is_none());
    // The namespace is the test function's to delete.
    std::mem::forget(ns);
}

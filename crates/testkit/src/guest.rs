//! The small test guest for tests that boot real QEMU guests: its images
//! ([`GuestImages`], built by `scripts/build-test-guest.sh` once per
//! process and output directory, reused across runs by the script's
//! stamp), a config drive in Nova's layout ([`config_drive_iso`]) and a
//! QEMU process whose serial console is read for the guest's
//! `OXISTACK-GUEST:` markers ([`GuestVm`]), killed on drop.
//!
//! What the guest does is described in this crate's README ("The test
//! guest").

use anyhow::{bail, ensure, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The prefix of every marker the guest prints on its serial console.
pub const MARKER: &str = "OXISTACK-GUEST: ";

/// The kernel command line both boot forms use.
pub const CMDLINE: &str = "console=ttyS0 quiet";

/// Where the guest's images are, once built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestImages {
    /// `vmlinuz`: the Debian cloud kernel, for direct boot.
    pub kernel: PathBuf,
    /// `initrd.img`: the whole guest (busybox, modules, dropbear, init).
    pub initrd: PathBuf,
    /// `disk.qcow2`: MBR + SYSLINUX booting the same kernel and initrd.
    pub disk: PathBuf,
    /// `manifest.json`: files, sizes, sha256 and package versions.
    pub manifest: PathBuf,
}

/// Builds that already ran in this process, by output directory.
static BUILT: Mutex<Vec<(PathBuf, GuestImages)>> = Mutex::new(Vec::new());

impl GuestImages {
    /// The images in the default directory: `$OXISTACK_GUEST_DIR` when
    /// set, else `guest/` in the cargo target directory of the running
    /// test. Runs the build script the first time in this process (it
    /// returns at once when its stamp says the images are current).
    pub fn build_or_reuse() -> Result<GuestImages> {
        Self::build_or_reuse_in(&default_dir()?)
    }

    /// The same in `out`.
    pub fn build_or_reuse_in(out: &Path) -> Result<GuestImages> {
        // Held across the build: parallel tests wait for one build.
        let mut built = BUILT
            .lock()
            .map_err(|_| anyhow::anyhow!("an earlier guest build panicked"))?;
        if let Some((_, images)) = built.iter().find(|(dir, _)| dir == out) {
            return Ok(images.clone());
        }
        let script = script_path();
        let status = Command::new(&script)
            .arg(out)
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .status()
            .with_context(|| format!("running {}", script.display()))?;
        ensure!(status.success(), "{} failed ({status})", script.display());
        let images = GuestImages {
            kernel: out.join("vmlinuz"),
            initrd: out.join("initrd.img"),
            disk: out.join("disk.qcow2"),
            manifest: out.join("manifest.json"),
        };
        for f in [
            &images.kernel,
            &images.initrd,
            &images.disk,
            &images.manifest,
        ] {
            ensure!(f.is_file(), "the guest build made no {}", f.display());
        }
        built.push((out.to_path_buf(), images.clone()));
        Ok(images)
    }
}

/// `scripts/build-test-guest.sh` of this source tree.
pub fn script_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/build-test-guest.sh")
}

fn default_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("OXISTACK_GUEST_DIR") {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR") {
        return Ok(PathBuf::from(d).join("guest"));
    }
    // A test binary lives in <target>/<profile>/deps/.
    let exe = std::env::current_exe().context("locating the test binary")?;
    let target = exe
        .ancestors()
        .nth(3)
        .with_context(|| format!("no target directory above {}", exe.display()))?;
    Ok(target.join("guest"))
}

/// What a config drive holds, in Nova's layout under `openstack/latest/`.
#[derive(Debug, Clone, Default)]
pub struct ConfigDrive {
    pub uuid: String,
    pub hostname: String,
    /// (key name, public key line).
    pub public_keys: Vec<(String, String)>,
    pub user_data: Option<Vec<u8>>,
}

impl ConfigDrive {
    /// `meta_data.json` as Nova writes it (Python's `json.dumps`: `", "`
    /// and `": "` separators, key values ending in a newline).
    pub fn meta_data_json(&self) -> String {
        let keys: serde_json::Map<String, serde_json::Value> = self
            .public_keys
            .iter()
            .map(|(n, k)| (n.clone(), serde_json::Value::String(format!("{k}\n"))))
            .collect();
        let keys_list: Vec<serde_json::Value> = self
            .public_keys
            .iter()
            .map(|(n, k)| serde_json::json!({"name": n, "type": "ssh", "data": format!("{k}\n")}))
            .collect();
        let name = self.hostname.split('.').next().unwrap_or_default();
        let md = serde_json::json!({
            "uuid": self.uuid,
            "meta": {},
            "public_keys": keys,
            "keys": keys_list,
            "hostname": self.hostname,
            "name": name,
            "launch_index": 0,
            "availability_zone": "nova",
            "devices": [],
        });
        // serde_json writes compact JSON; spread it as Python does so the
        // guest's parser sees Nova's form.
        python_spacing(&md.to_string())
    }
}

/// Inserts a space after every `,` and `:` outside strings.
fn python_spacing(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() + compact.len() / 8);
    let (mut in_str, mut escaped) = (false, false);
    for c in compact.chars() {
        out.push(c);
        if in_str {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
        } else if c == ',' || c == ':' {
            out.push(' ');
        }
    }
    out
}

/// Writes `drive` as an ISO 9660 image labelled `config-2` (what Nova's
/// config drive is) at `iso`, using `genisoimage`; `scratch` holds the
/// tree it is made from.
pub fn config_drive_iso(drive: &ConfigDrive, scratch: &Path, iso: &Path) -> Result<()> {
    let latest = scratch.join("openstack/latest");
    std::fs::create_dir_all(&latest)?;
    std::fs::write(latest.join("meta_data.json"), drive.meta_data_json())?;
    if let Some(ud) = &drive.user_data {
        std::fs::write(latest.join("user_data"), ud)?;
    }
    let out = Command::new("genisoimage")
        .args(["-quiet", "-V", "config-2", "-r", "-J", "-o"])
        .arg(iso)
        .arg(scratch)
        .output()
        .context("running genisoimage")?;
    ensure!(
        out.status.success(),
        "genisoimage failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// A QEMU guest (TCG) with its serial console in a file; killed on drop.
#[derive(Debug)]
pub struct GuestVm {
    child: Child,
    serial: PathBuf,
}

impl GuestVm {
    /// Starts `qemu-system-x86_64` with 128 MiB under TCG, no display,
    /// the serial console written to `serial`, and `args` (boot form,
    /// drives, NICs). `prefix` runs it through another program first
    /// (`["ip", "netns", "exec", NS]`), empty for none.
    pub fn start(prefix: &[&str], args: &[&str], serial: &Path) -> Result<GuestVm> {
        let serial_arg = format!("file:{}", serial.display());
        let base = [
            "qemu-system-x86_64",
            "-machine",
            "pc,accel=tcg",
            "-m",
            "128",
            "-display",
            "none",
            "-monitor",
            "none",
            "-no-reboot",
            "-serial",
            serial_arg.as_str(),
        ];
        let all: Vec<&str> = prefix.iter().chain(base.iter()).copied().collect();
        let child = Command::new(all[0])
            .args(&all[1..])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting qemu-system-x86_64")?;
        Ok(GuestVm {
            child,
            serial: serial.to_path_buf(),
        })
    }

    /// Direct kernel boot of `images` plus `args`.
    pub fn direct(
        prefix: &[&str],
        images: &GuestImages,
        args: &[&str],
        serial: &Path,
    ) -> Result<GuestVm> {
        let (k, i) = (path_str(&images.kernel)?, path_str(&images.initrd)?);
        let mut all = vec!["-kernel", k, "-initrd", i, "-append", CMDLINE];
        all.extend_from_slice(args);
        Self::start(prefix, &all, serial)
    }

    /// Boot from a copy-on-write overlay of `images.disk` (made at
    /// `overlay`, so the built image is never written) plus `args`.
    pub fn disk(
        prefix: &[&str],
        images: &GuestImages,
        overlay: &Path,
        args: &[&str],
        serial: &Path,
    ) -> Result<GuestVm> {
        let out = Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
            .arg(&images.disk)
            .arg(overlay)
            .output()
            .context("running qemu-img create")?;
        ensure!(
            out.status.success(),
            "qemu-img create failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        let drive = format!("file={},if=virtio,format=qcow2", overlay.display());
        let mut all = vec!["-drive", drive.as_str(), "-boot", "c"];
        all.extend_from_slice(args);
        Self::start(prefix, &all, serial)
    }

    /// The serial console so far.
    pub fn console(&self) -> String {
        std::fs::read(&self.serial)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The rest of the line after the first `OXISTACK-GUEST: <what>`
    /// marker (`""` when it has nothing after it), waiting up to
    /// `timeout`; errors with the console when it does not come or QEMU
    /// exits.
    pub fn wait_marker(&mut self, what: &str, timeout: Duration) -> Result<String> {
        let want = format!("{MARKER}{what}");
        let deadline = Instant::now() + timeout;
        loop {
            let console = self.console();
            if let Some(line) = console
                .lines()
                .map(|l| l.trim_end_matches('\r'))
                .find(|l| l.starts_with(&want))
            {
                return Ok(line[want.len()..].trim().to_string());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("QEMU exited ({status}) before {want:?}; console:\n{console}");
            }
            if Instant::now() > deadline {
                bail!("no {want:?} within {timeout:?}; console:\n{console}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for GuestVm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .with_context(|| format!("{} is not UTF-8", p.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn meta_data_is_spaced_like_python() {
        let d = ConfigDrive {
            uuid: "u-1".into(),
            hostname: "vm.novalocal".into(),
            public_keys: vec![("k".into(), "ssh-ed25519 AAAA c:d".into())],
            user_data: None,
        };
        let j = d.meta_data_json();
        assert!(j.contains(r#""uuid": "u-1""#), "{j}");
        assert!(
            j.contains(r#""public_keys": {"k": "ssh-ed25519 AAAA c:d\n"}"#),
            "{j}"
        );
        assert!(j.contains(r#""name": "vm""#), "{j}");
        let back: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(back["hostname"], "vm.novalocal");
    }
}

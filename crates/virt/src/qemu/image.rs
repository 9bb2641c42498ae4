//! The image cache: one qcow2 base per image id under the cache dir,
//! made once from the bytes the [`ImageFetcher`] streams and shared by
//! every guest's overlay.
//!
//! Before a fetched file becomes a base it is checked: its size (when
//! the image service gave one), its hash (`os_hash_algo`/`os_hash_value`,
//! SHA-2 family), and that `qemu-img info` finds the format the image
//! claims. A qcow2 declared `raw` (or any qcow2 naming a backing file or
//! an external data file) is refused: booting it would let a tenant read
//! files of the host. Kernel and ramdisk blobs (direct kernel boot) are
//! kept as they are, byte for byte.

use super::{run, virt_failed};
use crate::{ImageFetcher, ImageRef, VirtError, VirtResult};
use futures_util::StreamExt;
use serde_json::Value;
use sha2::Digest;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// `qemu-img` may take a while on a big image; it never should hang.
const QEMU_IMG_TIMEOUT: Duration = Duration::from_secs(600);

pub(crate) struct ImageCache {
    dir: PathBuf,
    qemu_img: PathBuf,
    fetcher: Arc<dyn ImageFetcher>,
    /// One fill at a time per image id (two guests of a new image share
    /// one download).
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

impl ImageCache {
    pub(crate) fn new(dir: PathBuf, qemu_img: PathBuf, fetcher: Arc<dyn ImageFetcher>) -> Self {
        ImageCache {
            dir,
            qemu_img,
            fetcher,
            locks: Mutex::default(),
        }
    }

    fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = match self.locks.lock() {
            Ok(l) => l,
            Err(p) => p.into_inner(),
        };
        locks.entry(key.to_string()).or_default().clone()
    }

    /// The qcow2 base of a bootable image, made on first use.
    pub(crate) async fn base(&self, image: &ImageRef) -> VirtResult<PathBuf> {
        check_id(&image.id)?;
        let fmt = image.disk_format.as_str();
        let expected = match fmt {
            "qcow2" => "qcow2",
            // Nova boots an `ami` as a raw disk; `aki`/`ari` are raw too.
            "raw" | "ami" | "aki" | "ari" => "raw",
            other => {
                return Err(VirtError::Unsupported(format!(
                    "the QEMU driver cannot boot disk_format {other:?} (raw, qcow2, ami only)"
                )))
            }
        };
        let base = self.dir.join(format!("{}.qcow2", image.id));
        let lock = self.lock_for(&image.id);
        let _held = lock.lock().await;
        if tokio::fs::try_exists(&base).await.unwrap_or(false) {
            return Ok(base);
        }
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| virt_failed("creating the image cache", e))?;
        let tmp = self.fetch_to_temp(image).await?;
        let made = self.make_base(image, expected, &tmp, &base).await;
        let _ = tokio::fs::remove_file(&tmp).await;
        made?;
        Ok(base)
    }

    async fn make_base(
        &self,
        image: &ImageRef,
        expected: &str,
        tmp: &Path,
        base: &Path,
    ) -> VirtResult<()> {
        let info = self.info(tmp).await?;
        let found = info.get("format").and_then(Value::as_str).unwrap_or("");
        if found != expected {
            return Err(VirtError::Failed(format!(
                "image {} is declared disk_format {} but its contents are {found}; refusing to boot it",
                image.id, image.disk_format
            )));
        }
        if let Some(backing) = info.get("backing-filename") {
            return Err(VirtError::Failed(format!(
                "image {} is a qcow2 with a backing file ({backing}); refusing to boot it",
                image.id
            )));
        }
        if info
            .pointer("/format-specific/data/data-file")
            .is_some_and(|v| !v.is_null())
        {
            return Err(VirtError::Failed(format!(
                "image {} is a qcow2 with an external data file; refusing to boot it",
                image.id
            )));
        }
        let part = tmp_name(&self.dir, &image.id, "qcow2");
        let converted = run(
            &self.qemu_img,
            &[
                "convert".as_ref(),
                "-f".as_ref(),
                expected.as_ref(),
                "-O".as_ref(),
                "qcow2".as_ref(),
                tmp.as_os_str(),
                part.as_os_str(),
            ],
            "qemu-img convert",
            QEMU_IMG_TIMEOUT,
        )
        .await;
        if let Err(e) = converted {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(e);
        }
        // Atomic: a base either is complete or is not there.
        tokio::fs::rename(&part, base)
            .await
            .map_err(|e| virt_failed("storing the cached image", e))
    }

    /// A kernel or ramdisk for direct kernel boot, byte for byte.
    pub(crate) async fn blob(&self, image_id: &str) -> VirtResult<PathBuf> {
        check_id(image_id)?;
        let path = self.dir.join(format!("{image_id}.blob"));
        let lock = self.lock_for(image_id);
        let _held = lock.lock().await;
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(path);
        }
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| virt_failed("creating the image cache", e))?;
        let image = ImageRef {
            id: image_id.to_string(),
            disk_format: "raw".into(),
            container_format: "bare".into(),
            size: None,
            hash_algo: None,
            hash_value: None,
            kernel_id: None,
            ramdisk_id: None,
            os_command_line: None,
        };
        let tmp = self.fetch_to_temp(&image).await?;
        tokio::fs::rename(&tmp, &path).await.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            virt_failed("storing the cached kernel/ramdisk", e)
        })?;
        Ok(path)
    }

    /// `qemu-img info --output=json` of a file (format probed).
    pub(crate) async fn info(&self, file: &Path) -> VirtResult<Value> {
        qemu_img_info(&self.qemu_img, file).await
    }

    /// Streams the image to a temp file in the cache dir, checking its
    /// size and hash; the file is removed on failure.
    async fn fetch_to_temp(&self, image: &ImageRef) -> VirtResult<PathBuf> {
        let tmp = tmp_name(&self.dir, &image.id, "part");
        let r = self.fetch_into(image, &tmp).await;
        if r.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        r.map(|()| tmp)
    }

    async fn fetch_into(&self, image: &ImageRef, tmp: &Path) -> VirtResult<()> {
        let mut hasher = match image
            .hash_value
            .as_deref()
            .map(|_| image.hash_algo.as_deref())
        {
            None => None,
            Some(Some(algo)) => Some(Hasher::new(algo).ok_or_else(|| {
                VirtError::Failed(format!(
                    "image {}: cannot verify hash algorithm {algo:?} (sha256, sha384, sha512 only)",
                    image.id
                ))
            })?),
            Some(None) => {
                return Err(VirtError::Failed(format!(
                    "image {} has a hash value but no hash algorithm",
                    image.id
                )))
            }
        };
        let mut stream = self.fetcher.fetch(&image.id).await?;
        let mut file = tokio::fs::File::create(tmp)
            .await
            .map_err(|e| virt_failed("creating the image download file", e))?;
        let mut size: i64 = 0;
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| virt_failed(&format!("downloading image {}", image.id), e))?;
            size += chunk.len() as i64;
            if let Some(h) = hasher.as_mut() {
                h.update(&chunk);
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| virt_failed("writing the image download file", e))?;
        }
        file.flush()
            .await
            .map_err(|e| virt_failed("writing the image download file", e))?;
        if let Some(want) = image.size {
            if want != size {
                return Err(VirtError::Failed(format!(
                    "image {}: got {size} bytes, the image service says {want}",
                    image.id
                )));
            }
        }
        if let (Some(h), Some(want)) = (hasher, image.hash_value.as_deref()) {
            let got = h.hex();
            if !got.eq_ignore_ascii_case(want.trim()) {
                return Err(VirtError::Failed(format!(
                    "image {}: {} of the data is {got}, the image service says {want}",
                    image.id,
                    image.hash_algo.as_deref().unwrap_or_default()
                )));
            }
        }
        Ok(())
    }
}

pub(crate) async fn qemu_img_info(qemu_img: &Path, file: &Path) -> VirtResult<Value> {
    let out = run(
        qemu_img,
        &[
            "info".as_ref(),
            "-U".as_ref(),
            "--output=json".as_ref(),
            file.as_os_str(),
        ],
        "qemu-img info",
        QEMU_IMG_TIMEOUT,
    )
    .await?;
    serde_json::from_slice(&out)
        .map_err(|e| VirtError::Failed(format!("qemu-img info printed bad JSON: {e}")))
}

/// Image ids name files: nothing that could leave the directory.
fn check_id(id: &str) -> VirtResult<()> {
    if super::valid_id(id) {
        Ok(())
    } else {
        Err(VirtError::Failed(format!("bad image id {id:?}")))
    }
}

fn tmp_name(dir: &Path, id: &str, ext: &str) -> PathBuf {
    let n = TMP_SEQ.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".{id}.{}.{n}.{ext}", std::process::id()))
}

enum Hasher {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(algo: &str) -> Option<Hasher> {
        match algo.to_ascii_lowercase().as_str() {
            "sha256" => Some(Hasher::Sha256(sha2::Sha256::new())),
            "sha384" => Some(Hasher::Sha384(sha2::Sha384::new())),
            "sha512" => Some(Hasher::Sha512(sha2::Sha512::new())),
            _ => None,
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    fn hex(self) -> String {
        let bytes = match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

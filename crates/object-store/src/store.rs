//! Object data on the local filesystem, written durably and never seen
//! half-written.
//!
//! Layout: `<dir>/objects/<ab>/<file id>` holds one version of one object's
//! data (`<ab>` the id's first two hex digits, so no directory grows
//! huge); `<dir>/tmp/` holds files being written. New ids take their
//! first two digits from a counter that moves on every [`FAN_RUN`] files
//! instead of at random: writes close in time land in the same directory
//! and so share its fsync ([`common::datafile::sync_dir`] groups them),
//! while over time every directory gets its share. A file is never
//! rewritten: every write gets a fresh id, so two uploads of the same name
//! never touch the same file and the store row alone decides which one is
//! the object (last writer wins), while readers holding the old file open
//! keep reading complete data.
//!
//! A write goes to `tmp/`, is fsynced, renamed into `objects/` and the
//! directory fsynced before the store row that names it is committed. A
//! crash leaves at worst a file in `tmp/` (removed by [`DataStore::open`])
//! or a file no row names (removed by the sweep the service runs at start,
//! [`DataStore::unreferenced_before`]).
//!
//! [`Writer`] is the write side of an upload: a
//! [`common::datafile::Writer`] computing the MD5 Swift defines the ETag
//! as, on its own thread for large or unknown sizes.

use bytes::Bytes;
use common::datafile::{self, Completed, Hashing};
use common::digest::Algorithm;
use md5::Digest as _;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The data directory.
#[derive(Debug, Clone)]
pub struct DataStore {
    dir: PathBuf,
    /// Files named so far (see [`DataStore::new_file_id`]).
    named: Arc<AtomicU64>,
}

/// Consecutive new files that share a fan-out directory: enough for the
/// writes in flight at any moment to meet in one, few enough that the
/// directories fill evenly.
pub const FAN_RUN: u64 = 64;

fn blocking_error(e: tokio::task::JoinError) -> std::io::Error {
    std::io::Error::other(format!("blocking task: {e}"))
}

impl DataStore {
    /// Opens (creating, mode 0700) the data directory, its 256 fan-out
    /// directories and `tmp/`, and removes what interrupted uploads left
    /// in `tmp/`.
    pub fn open(dir: &Path) -> std::io::Result<DataStore> {
        let mut dirs = vec![dir.to_path_buf(), dir.join("objects")];
        for i in 0..=255u8 {
            dirs.push(dir.join("objects").join(format!("{i:02x}")));
        }
        datafile::prepare_dirs(&dirs, &dir.join("tmp"))?;
        Ok(DataStore {
            dir: dir.to_path_buf(),
            named: Arc::new(AtomicU64::new(first_count())),
        })
    }

    /// A new random file id whose first two hex digits (its directory)
    /// are those of the current run of [`FAN_RUN`] files.
    pub fn new_file_id(&self) -> String {
        let n = self.named.fetch_add(1, Ordering::Relaxed);
        let fan = (n / FAN_RUN) % 256;
        let id = common::ids::hex_id();
        format!("{fan:02x}{}", id.get(2..).unwrap_or_default())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the data of `file_id` lives.
    pub fn path(&self, file_id: &str) -> PathBuf {
        let fan = file_id.get(..2).unwrap_or("00");
        self.dir.join("objects").join(fan).join(file_id)
    }

    fn temp_path(&self, file_id: &str) -> PathBuf {
        self.dir.join("tmp").join(file_id)
    }

    /// Starts writing a new file.
    pub async fn writer(&self) -> std::io::Result<Writer> {
        self.writer_for(None).await
    }

    /// Starts writing a new file of `expected` bytes, if known. Large or
    /// unknown sizes get the MD5 on its own thread, beside the one
    /// writing, so hashing and copying into the page cache overlap (MD5
    /// is the slowest stage of an upload); small files keep to one thread.
    pub async fn writer_for(&self, expected: Option<u64>) -> std::io::Result<Writer> {
        let file_id = self.new_file_id();
        let hashing = if expected.is_none_or(|n| n > SPLIT_HASHING_ABOVE) {
            Hashing {
                inline: vec![],
                threaded: vec![Algorithm::Md5],
            }
        } else {
            Hashing {
                inline: vec![Algorithm::Md5],
                threaded: vec![],
            }
        };
        let inner =
            datafile::Writer::create_expecting(self.temp_path(&file_id), hashing, (), expected)
                .await?;
        Ok(Writer { inner, file_id })
    }

    /// Writes `data` as a new file in one go (small objects, manifests).
    pub async fn write_all(&self, data: Bytes) -> std::io::Result<Installed> {
        let mut w = self.writer_for(Some(data.len() as u64)).await?;
        w.write(data).await?;
        w.finish().await?.install(self).await
    }

    /// A new file with the same content as `src`: a hard link (files are
    /// immutable, so sharing the inode is safe and makes server-side copy
    /// and versioning O(1)), or a byte copy where links are refused.
    pub async fn duplicate(&self, src_id: &str) -> std::io::Result<Installed> {
        let file_id = self.new_file_id();
        let src = self.path(src_id);
        let dest = self.path(&file_id);
        let d = dest.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            match std::fs::hard_link(&src, &d) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(e),
                Err(_) => {
                    // Links refused (another filesystem, a quota on links):
                    // copy through tmp so a crash leaves no partial file.
                    let tmp = d.with_extension("copy");
                    std::fs::copy(&src, &tmp)?;
                    std::fs::File::open(&tmp)?.sync_all()?;
                    std::fs::rename(&tmp, &d)?;
                }
            }
            datafile::sync_dir(&d)
        })
        .await
        .map_err(blocking_error)??;
        let size = tokio::fs::metadata(&dest).await?.len();
        Ok(Installed {
            file_id,
            path: Some(dest),
            size,
            md5: String::new(),
        })
    }

    /// Removes the data of `file_id`; an absent file is fine.
    pub async fn remove(&self, file_id: &str) {
        let path = self.path(file_id);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove object data")
            }
        }
    }

    /// Opens the data of `file_id` for reading.
    pub fn open_read(&self, file_id: &str) -> std::io::Result<std::fs::File> {
        std::fs::File::open(self.path(file_id))
    }

    /// Ids of the data files whose inode last changed before `before`
    /// (seconds since the epoch). A crash between installing a file and
    /// committing its row leaves such a file; files this process installs
    /// or links are newer (a rename or link changes the inode's ctime),
    /// so the sweep never races the uploads in flight.
    pub fn unreferenced_before(&self, before: i64) -> std::io::Result<Vec<String>> {
        let mut out = Vec::new();
        for fan in std::fs::read_dir(self.dir.join("objects"))? {
            let fan = fan?;
            if !fan.file_type()?.is_dir() {
                continue;
            }
            for entry in std::fs::read_dir(fan.path())? {
                let entry = entry?;
                let meta = match entry.metadata() {
                    Ok(m) => m,
                    Err(_) => continue,
                };
                if meta.is_file() && meta.ctime() < before {
                    if let Some(name) = entry.file_name().to_str() {
                        out.push(name.to_string());
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Where a new store's counter starts: at a random directory, so a
/// restarted process does not begin again at `00`.
fn first_count() -> u64 {
    let fan = common::ids::hex_id()
        .get(..2)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(0);
    fan * FAN_RUN
}

/// Sizes above which the MD5 runs on a thread of its own.
const SPLIT_HASHING_ABOVE: u64 = 1 << 20;

pub use common::digest::hex;

/// The MD5 of `data`, in hex.
pub fn md5_hex(data: &[u8]) -> String {
    hex(&md5::Md5::digest(data))
}

/// An upload being written. Dropping it without [`Writer::finish`]
/// discards the data.
#[derive(Debug)]
pub struct Writer {
    inner: datafile::Writer<()>,
    file_id: String,
}

impl Writer {
    /// Bytes accepted so far.
    pub fn written(&self) -> u64 {
        self.inner.written()
    }

    /// Queues a chunk; an error means the writer thread failed (disk).
    pub async fn write(&mut self, chunk: Bytes) -> std::io::Result<()> {
        Ok(self.inner.write(chunk).await?)
    }

    /// Ends the stream: the temporary file is complete and fsynced.
    pub async fn finish(self) -> std::io::Result<Finished> {
        let f = self.inner.finish().await?;
        let md5 = f
            .digests
            .into_iter()
            .next()
            .ok_or_else(|| std::io::Error::other("no hash computed"))?;
        Ok(Finished {
            file_id: self.file_id,
            file: f.file,
            size: f.size,
            md5,
        })
    }
}

/// A complete, fsynced temporary file.
#[derive(Debug)]
pub struct Finished {
    file_id: String,
    file: Completed,
    pub size: u64,
    /// MD5 of the data, lowercase hex.
    pub md5: String,
}

impl Finished {
    /// Renames the file into place and fsyncs the directory.
    pub async fn install(self, store: &DataStore) -> std::io::Result<Installed> {
        let dest = store.path(&self.file_id);
        self.file.install(dest.clone()).await?;
        Ok(Installed {
            file_id: self.file_id,
            path: Some(dest),
            size: self.size,
            md5: self.md5,
        })
    }
}

/// A file in place but not yet named by a committed row: dropped without
/// [`Installed::keep`], it is removed again.
#[derive(Debug)]
pub struct Installed {
    pub file_id: String,
    path: Option<PathBuf>,
    pub size: u64,
    /// MD5 of the data, lowercase hex (empty for [`DataStore::duplicate`],
    /// whose caller knows the source's).
    pub md5: String,
}

impl Installed {
    /// The row naming the file was committed: keep it.
    pub fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_install_and_clean_up() {
        let root = std::env::temp_dir().join(format!("oxistack-store-{}", common::ids::hex_id()));
        struct Cleanup(std::path::PathBuf);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let _cleanup = Cleanup(root.clone());
        let dir = root.as_path();
        let store = DataStore::open(dir).unwrap();
        let mut w = store.writer().await.unwrap();
        w.write(Bytes::from_static(b"hello ")).await.unwrap();
        w.write(Bytes::from_static(b"world")).await.unwrap();
        let f = w.finish().await.unwrap();
        assert_eq!(f.size, 11);
        assert_eq!(f.md5, "5eb63bbbe01eeed093cb22bb8f5acdc3");
        let inst = f.install(&store).await.unwrap();
        let id = inst.file_id.clone();
        assert_eq!(std::fs::read(store.path(&id)).unwrap(), b"hello world");
        inst.keep();
        assert!(std::fs::read_dir(dir.join("tmp")).unwrap().next().is_none());

        // Dropped before its row commits: gone again.
        let other = store.write_all(Bytes::from_static(b"x")).await.unwrap();
        let other_path = store.path(&other.file_id);
        assert!(other_path.exists());
        drop(other);
        assert!(!other_path.exists());

        // An abandoned upload leaves nothing in tmp/.
        let mut w = store.writer().await.unwrap();
        w.write(Bytes::from_static(b"partial")).await.unwrap();
        drop(w);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(std::fs::read_dir(dir.join("tmp")).unwrap().next().is_none());

        // Duplicates share content but not names.
        let dup = store.duplicate(&id).await.unwrap();
        assert_ne!(dup.file_id, id);
        assert_eq!(
            std::fs::read(store.path(&dup.file_id)).unwrap(),
            b"hello world"
        );
        dup.keep();

        // A leftover in tmp/ is removed at the next open.
        std::fs::write(dir.join("tmp").join("stale"), b"x").unwrap();
        let _ = DataStore::open(dir).unwrap();
        assert!(!dir.join("tmp").join("stale").exists());
        assert_eq!(store.unreferenced_before(i64::MAX).unwrap().len(), 2);
        assert!(store.unreferenced_before(0).unwrap().is_empty());
    }

    #[test]
    fn new_files_come_in_runs_per_directory() {
        let root = std::env::temp_dir().join(format!("oxistack-fans-{}", common::ids::hex_id()));
        let store = DataStore::open(&root).unwrap();
        let ids: Vec<String> = (0..3 * FAN_RUN).map(|_| store.new_file_id()).collect();
        let _ = std::fs::remove_dir_all(&root);
        let mut fans: Vec<&str> = ids.iter().map(|i| &i[..2]).collect();
        // Three runs (four if the counter started mid-run: it does not).
        fans.dedup();
        assert_eq!(fans.len(), 3, "{fans:?}");
        let first = u8::from_str_radix(fans[0], 16).unwrap();
        assert_eq!(fans[1], format!("{:02x}", first.wrapping_add(1)));
        // Still unique, still 32 hex digits.
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        assert!(ids
            .iter()
            .all(|i| i.len() == 32 && i.bytes().all(|b| b.is_ascii_hexdigit())));
        assert!(store
            .path(&ids[0])
            .starts_with(root.join("objects").join(fans[0])));
    }
}

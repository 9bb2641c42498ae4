//! The local filesystem store: image data as files under the data
//! directory, written durably and never seen half-written.
//!
//! Layout: `<dir>/<image id>` holds an image's data, `<dir>/staging/<id>`
//! data staged for import, `<dir>/tmp/` files being written. A write goes
//! to a temporary name, is fsynced, renamed into place, and the directory
//! is fsynced, so a crash leaves either the old state or the new one;
//! leftovers in `tmp/` are removed at start.
//!
//! [`Sink`] is the write side of an upload: chunks go over a bounded
//! channel to a writer thread that computes the SHA-512 (`os_hash_value`),
//! feeds the format [`Inspector`] and writes the file, while a second
//! thread computes the MD5 (`checksum`). Blocking threads rather than
//! tokio's `File`: hashing is CPU work that would otherwise stall the
//! runtime, and two threads let both hashes run beside the network reads
//! on a multi-core host. The channel bound keeps memory flat: a slow disk
//! slows the client instead of filling RAM.

use crate::inspect::{InspectError, Inspector};
use bytes::Bytes;
use md5::Digest as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// Chunks in flight between the network and each hashing thread.
const CHANNEL_DEPTH: usize = 8;
/// Network reads are coalesced into chunks this big before they go to the
/// threads: a thread wake-up per small read would cost more than the copy.
const BATCH: usize = 512 * 1024;
/// The writer's buffer: few large writes instead of many small ones.
const WRITE_BUFFER: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("image store: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Refused(#[from] InspectError),
}

#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Opens (creating, mode 0700) the data directory and clears `tmp/`.
    pub fn open(dir: &Path) -> std::io::Result<Store> {
        use std::os::unix::fs::DirBuilderExt;
        for d in [dir.to_path_buf(), dir.join("staging"), dir.join("tmp")] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&d)
                .map_err(|e| {
                    std::io::Error::new(e.kind(), format!("cannot create {}: {e}", d.display()))
                })?;
        }
        for entry in std::fs::read_dir(dir.join("tmp"))? {
            let path = entry?.path();
            tracing::info!(path = %path.display(), "removing an interrupted upload");
            let _ = std::fs::remove_file(path);
        }
        Ok(Store {
            dir: dir.to_path_buf(),
        })
    }

    pub fn data_path(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    pub fn staging_path(&self, id: &str) -> PathBuf {
        self.dir.join("staging").join(id)
    }

    fn temp_path(&self, id: &str, upload_id: &str) -> PathBuf {
        self.dir.join("tmp").join(format!("{id}.{upload_id}"))
    }

    /// Starts writing the data of upload `upload_id` of image `id`;
    /// `disk_format` lets the inspector stop a mismatching stream early.
    pub async fn sink(
        &self,
        id: &str,
        upload_id: &str,
        disk_format: Option<String>,
    ) -> Result<Sink, SinkError> {
        let path = self.temp_path(id, upload_id);
        let p = path.clone();
        let file = tokio::task::spawn_blocking(move || {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&p)
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
        let guard = TempFile(Some(path));
        let (tx, rx) = mpsc::channel::<Bytes>(CHANNEL_DEPTH);
        let (md5_tx, md5_rx) = mpsc::channel::<Bytes>(CHANNEL_DEPTH);
        let writer = tokio::task::spawn_blocking(move || write_loop(file, rx, disk_format));
        let md5 = tokio::task::spawn_blocking(move || md5_loop(md5_rx));
        Ok(Sink {
            tx: Some(tx),
            md5_tx: Some(md5_tx),
            writer: Some(writer),
            md5: Some(md5),
            temp: guard,
            written: 0,
            batch: bytes::BytesMut::new(),
        })
    }

    /// Moves a finished temporary file to `dest`, durably.
    async fn install(&self, temp: &Path, dest: PathBuf) -> std::io::Result<()> {
        let temp = temp.to_path_buf();
        tokio::task::spawn_blocking(move || {
            std::fs::rename(&temp, &dest)?;
            sync_dir(&dest)
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?
    }

    /// Moves staged data into the store (same filesystem: a rename).
    pub async fn promote_staged(&self, id: &str) -> std::io::Result<()> {
        let from = self.staging_path(id);
        let to = self.data_path(id);
        tokio::task::spawn_blocking(move || {
            std::fs::rename(&from, &to)?;
            sync_dir(&to)
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?
    }

    /// Removes an image's data and staged data; absent files are fine.
    pub async fn remove(&self, id: &str) -> std::io::Result<()> {
        for p in [self.data_path(id), self.staging_path(id)] {
            match tokio::fs::remove_file(&p).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub async fn remove_staged(&self, id: &str) -> std::io::Result<()> {
        match tokio::fs::remove_file(self.staging_path(id)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Size of the staged data of `id`, if any.
    pub fn staged_len(&self, id: &str) -> Option<u64> {
        std::fs::metadata(self.staging_path(id))
            .ok()
            .map(|m| m.len())
    }
}

/// Fsyncs the directory holding `path`, so a rename survives a crash.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// Removes the temporary file unless it was installed.
#[derive(Debug)]
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// What a finished write produced.
#[derive(Debug)]
pub struct Written {
    pub size: u64,
    pub md5: String,
    pub sha512: String,
    pub inspector: Inspector,
}

/// An upload being written (see the module docs). Dropping it without
/// [`Sink::finish`] discards the data.
#[derive(Debug)]
pub struct Sink {
    tx: Option<mpsc::Sender<Bytes>>,
    md5_tx: Option<mpsc::Sender<Bytes>>,
    writer: Option<tokio::task::JoinHandle<WriterResult>>,
    md5: Option<tokio::task::JoinHandle<String>>,
    temp: TempFile,
    written: u64,
    batch: bytes::BytesMut,
}

impl Sink {
    /// Bytes accepted so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Queues a chunk. An error means the writer stopped: the data was
    /// refused or the disk failed.
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), SinkError> {
        self.written += chunk.len() as u64;
        if self.batch.is_empty() && chunk.len() >= BATCH {
            return self.send(chunk).await;
        }
        if self.batch.capacity() == 0 {
            self.batch.reserve(BATCH);
        }
        self.batch.extend_from_slice(&chunk);
        if self.batch.len() >= BATCH {
            let full = self.batch.split().freeze();
            return self.send(full).await;
        }
        Ok(())
    }

    async fn send(&mut self, chunk: Bytes) -> Result<(), SinkError> {
        if let Some(m) = &self.md5_tx {
            // The MD5 thread only stops when we drop its sender.
            let _ = m.send(chunk.clone()).await;
        }
        let sent = match &self.tx {
            Some(tx) => tx.send(chunk).await.is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            Err(self.writer_error().await)
        }
    }

    async fn writer_error(&mut self) -> SinkError {
        self.tx = None;
        self.md5_tx = None;
        match self.writer.take() {
            Some(h) => match h.await {
                Ok(Err(e)) => e,
                Ok(Ok(_)) => SinkError::Io(std::io::Error::other("writer stopped early")),
                Err(e) => SinkError::Io(std::io::Error::other(e.to_string())),
            },
            None => SinkError::Io(std::io::Error::other("writer already stopped")),
        }
    }

    /// Ends the stream: the file is complete and fsynced (not yet in
    /// place; see [`Sink::install`]).
    pub async fn finish(mut self) -> Result<(Written, Installable), SinkError> {
        if !self.batch.is_empty() {
            let rest = self.batch.split().freeze();
            self.send(rest).await?;
        }
        self.tx = None;
        self.md5_tx = None;
        let (file, size, sha512, inspector) = match self.writer.take() {
            Some(h) => h
                .await
                .map_err(|e| SinkError::Io(std::io::Error::other(e.to_string())))??,
            None => return Err(SinkError::Io(std::io::Error::other("no writer"))),
        };
        drop(file);
        let md5 = match self.md5.take() {
            Some(h) => h
                .await
                .map_err(|e| SinkError::Io(std::io::Error::other(e.to_string())))?,
            None => String::new(),
        };
        let temp = TempFile(self.temp.0.take());
        Ok((
            Written {
                size,
                md5,
                sha512,
                inspector,
            },
            Installable(temp),
        ))
    }
}

/// A complete, fsynced temporary file waiting to be put in place.
#[derive(Debug)]
pub struct Installable(TempFile);

impl Installable {
    /// Renames the file to `id`'s data (or staged data) path.
    pub async fn install(mut self, store: &Store, id: &str, staged: bool) -> std::io::Result<()> {
        let Some(path) = self.0 .0.take() else {
            return Err(std::io::Error::other("already installed"));
        };
        let dest = if staged {
            store.staging_path(id)
        } else {
            store.data_path(id)
        };
        let r = store.install(&path, dest).await;
        if r.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        r
    }
}

type WriterResult = Result<(std::fs::File, u64, String, Inspector), SinkError>;

fn write_loop(
    file: std::fs::File,
    mut rx: mpsc::Receiver<Bytes>,
    disk_format: Option<String>,
) -> WriterResult {
    let mut sha = sha2::Sha512::new();
    let mut inspector = Inspector::new();
    let mut out = std::io::BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut size = 0u64;
    // Early checks need only the first bytes; stop asking once decided.
    let mut early_pending = disk_format.is_some();
    while let Some(chunk) = rx.blocking_recv() {
        sha.update(&chunk);
        inspector.eat(&chunk);
        if early_pending && inspector.len() >= 512 {
            early_pending = false;
            if let Some(e) = inspector.early_verdict(disk_format.as_deref().unwrap_or("raw")) {
                return Err(SinkError::Refused(e));
            }
        }
        out.write_all(&chunk)?;
        size += chunk.len() as u64;
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok((file, size, hex(&sha.finalize()), inspector))
}

fn md5_loop(mut rx: mpsc::Receiver<Bytes>) -> String {
    let mut md5 = md5::Md5::new();
    while let Some(chunk) = rx.blocking_recv() {
        md5.update(&chunk);
    }
    hex(&md5.finalize())
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

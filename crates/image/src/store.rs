//! The local filesystem store: image data as files under the data
//! directory, written durably and never seen half-written.
//!
//! Layout: `<dir>/<image id>` holds an image's data, `<dir>/staging/<id>`
//! data staged for import, `<dir>/tmp/` files being written. A write goes
//! to a temporary name, is fsynced, renamed into place, and the directory
//! is fsynced, so a crash leaves either the old state or the new one;
//! leftovers in `tmp/` are removed at start.
//!
//! [`Sink`] is the write side of an upload: a [`common::datafile::Writer`]
//! that computes the MD5 (`checksum`) on a thread of its own and the
//! SHA-512 (`os_hash_value`) beside the write (two threads of about equal
//! work), and shows every chunk to the format [`Inspector`]
//! on the writing thread, so a mismatching stream stops early.

use crate::inspect::{InspectError, Inspector};
use bytes::Bytes;
use common::datafile::{self, Completed, Hashing, Observer, WriteError};
use common::digest::Algorithm;
use std::path::{Path, PathBuf};

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
        datafile::prepare_dirs(&[dir.to_path_buf(), dir.join("staging")], &dir.join("tmp"))?;
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
        // Two threads of about equal work: SHA-512 beside the write and
        // the inspector, MD5 alone (see the module docs).
        let hashing = Hashing {
            inline: vec![Algorithm::Sha512],
            threaded: vec![Algorithm::Md5],
        };
        let observer = Inspecting {
            inspector: Inspector::new(),
            early_for: disk_format,
        };
        let writer =
            datafile::Writer::create(self.temp_path(id, upload_id), hashing, observer).await?;
        Ok(Sink(writer))
    }

    /// Moves staged data into the store (same filesystem: a rename).
    pub async fn promote_staged(&self, id: &str) -> std::io::Result<()> {
        datafile::rename_durably(self.staging_path(id), self.data_path(id)).await
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

/// Feeds the format inspector, asking for its early verdict once the
/// first bytes are in (when the declared format is known).
struct Inspecting {
    inspector: Inspector,
    early_for: Option<String>,
}

impl Observer for Inspecting {
    type Output = Inspector;
    type Error = InspectError;

    fn observe(&mut self, chunk: &[u8]) -> Result<(), InspectError> {
        self.inspector.eat(chunk);
        if self.inspector.len() >= 512 {
            if let Some(format) = self.early_for.take() {
                if let Some(e) = self.inspector.early_verdict(&format) {
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Inspector {
        self.inspector
    }
}

impl From<WriteError<InspectError>> for SinkError {
    fn from(e: WriteError<InspectError>) -> Self {
        match e {
            WriteError::Io(e) => SinkError::Io(e),
            WriteError::Refused(e) => SinkError::Refused(e),
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
pub struct Sink(datafile::Writer<Inspecting>);

impl Sink {
    /// Bytes accepted so far.
    pub fn written(&self) -> u64 {
        self.0.written()
    }

    /// Queues a chunk. An error means the writer stopped: the data was
    /// refused or the disk failed.
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), SinkError> {
        Ok(self.0.write(chunk).await?)
    }

    /// Ends the stream: the file is complete and fsynced (not yet in
    /// place; see [`Installable::install`]).
    pub async fn finish(self) -> Result<(Written, Installable), SinkError> {
        let f = self.0.finish().await?;
        let [sha512, md5]: [String; 2] = f
            .digests
            .try_into()
            .map_err(|_| SinkError::Io(std::io::Error::other("digests missing")))?;
        Ok((
            Written {
                size: f.size,
                md5,
                sha512,
                inspector: f.observed,
            },
            Installable(f.file),
        ))
    }
}

/// A complete, fsynced temporary file waiting to be put in place.
#[derive(Debug)]
pub struct Installable(Completed);

impl Installable {
    /// Renames the file to `id`'s data (or staged data) path.
    pub async fn install(self, store: &Store, id: &str, staged: bool) -> std::io::Result<()> {
        let dest = if staged {
            store.staging_path(id)
        } else {
            store.data_path(id)
        };
        self.0.install(dest).await
    }
}

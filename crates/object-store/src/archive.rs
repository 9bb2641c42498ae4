//! Reading a tar archive (plain, gzip or bzip2) from a request body as it
//! arrives, for archive uploads (`?extract-archive=`).
//!
//! The `tar`, `flate2` and `bzip2` readers are synchronous, so the archive
//! is read on a blocking thread that pulls the body from the async side a
//! chunk at a time ([`BodyReader`]). Each regular file is handed over as a
//! [`Member`] whose data arrives through a small bounded channel while the
//! async side writes it: memory stays at a few chunks whatever the size of
//! the archive or of its members, and nothing is spooled to disk first.
//! A member whose receiver is dropped (its write was refused) is skipped
//! by the tar reader when it moves on to the next header.

use crate::app::write::{BodyStream, CLIENT_TIMEOUT};
use bytes::Bytes;
use futures_util::StreamExt;
use std::io::Read;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Size of the pieces a member's data is handed over in.
const CHUNK: usize = 64 * 1024;
/// Pieces of one member in flight between the reader and the writer.
const IN_FLIGHT: usize = 4;

/// How the archive is compressed (`?extract-archive=tar|tar.gz|tar.bz2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
}

impl Compression {
    /// Swift's bulk middleware's reading of the parameter: lowercased,
    /// dots trimmed (`.tar.gz` works too).
    pub fn from_param(v: &str) -> Option<Compression> {
        match v.to_ascii_lowercase().trim_matches('.') {
            "tar" => Some(Compression::None),
            "tar.gz" => Some(Compression::Gzip),
            "tar.bz2" => Some(Compression::Bzip2),
            _ => None,
        }
    }
}

/// A regular file of the archive.
#[derive(Debug)]
pub struct Member {
    /// The name as stored (long GNU and pax names included), raw bytes:
    /// an archive may carry names that are not UTF-8.
    pub name: Vec<u8>,
    /// The size its header announces.
    pub size: u64,
    /// Its pax extended header records (`SCHILY.xattr.user.meta.*` …),
    /// those that are UTF-8.
    pub pax: Vec<(String, String)>,
    /// Its data, in order; an `Err` means the archive broke mid-member.
    pub data: mpsc::Receiver<std::io::Result<Bytes>>,
}

impl Member {
    /// The data as a request body for an object write.
    pub fn into_body(self) -> BodyStream {
        futures_util::stream::unfold(self.data, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
        .boxed()
    }
}

/// Why reading the archive stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    /// The bytes are not a readable archive (or not in the compression
    /// asked for): Swift answers `Invalid Tar File: …`.
    #[error("{0}")]
    Format(String),
    /// The client stopped sending.
    #[error("the client went away")]
    ClientGone,
    /// The client sent nothing for [`CLIENT_TIMEOUT`].
    #[error("the client stalled")]
    Timeout,
    /// The reading thread failed.
    #[error("{0}")]
    Internal(String),
}

/// Starts reading `body` as an archive on a blocking thread. Members
/// come out of the receiver in order; when it closes, the handle says
/// whether the archive was read to its end. Dropping the receiver stops
/// the reader at the next member.
pub fn spawn_reader(
    body: BodyStream,
    compression: Compression,
) -> (
    mpsc::Receiver<Member>,
    tokio::task::JoinHandle<Result<(), ArchiveError>>,
) {
    let (tx, rx) = mpsc::channel(1);
    let handle = tokio::runtime::Handle::current();
    let join = tokio::task::spawn_blocking(move || {
        let failure = Arc::new(Mutex::new(None));
        let reader = BodyReader {
            body,
            handle,
            pending: Bytes::new(),
            failure: failure.clone(),
        };
        let result = match compression {
            Compression::None => read_members(reader, &tx),
            Compression::Gzip => read_members(flate2::read::MultiGzDecoder::new(reader), &tx),
            Compression::Bzip2 => read_members(bzip2::read::MultiBzDecoder::new(reader), &tx),
        };
        // An I/O error that began at the body is the client's doing, not
        // the archive's.
        let body_failure = failure.lock().ok().and_then(|mut f| f.take());
        match (result, body_failure) {
            (Ok(()), _) => Ok(()),
            (Err(_), Some(e)) => Err(e),
            (Err(e), None) => Err(ArchiveError::Format(e.to_string())),
        }
    });
    let join = tokio::spawn(async move {
        join.await
            .unwrap_or_else(|e| Err(ArchiveError::Internal(format!("archive reader: {e}"))))
    });
    (rx, join)
}

/// Walks the archive, sending each regular file and pumping its data.
/// Returns early, without error, when the receiver is gone.
fn read_members<R: Read>(reader: R, tx: &mpsc::Sender<Member>) -> std::io::Result<()> {
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        // Only regular files are uploaded (Python's `TarInfo.isfile()`:
        // regular and contiguous files); directories, links and devices
        // are passed over.
        let kind = entry.header().entry_type();
        if !matches!(kind, tar::EntryType::Regular | tar::EntryType::Continuous) {
            continue;
        }
        let name = entry.path_bytes().into_owned();
        let size = entry.size();
        let mut pax = Vec::new();
        if let Some(exts) = entry.pax_extensions()? {
            for ext in exts {
                let ext = ext?;
                if let (Ok(k), Ok(v)) = (ext.key(), ext.value()) {
                    pax.push((k.to_string(), v.to_string()));
                }
            }
        }
        let (dtx, drx) = mpsc::channel(IN_FLIGHT);
        let member = Member {
            name,
            size,
            pax,
            data: drx,
        };
        if tx.blocking_send(member).is_err() {
            return Ok(());
        }
        pump(&mut entry, size, &dtx)?;
    }
    Ok(())
}

/// Sends `size` bytes of `entry` to `dtx`. A short or failed read is
/// passed on as an error (so the half-written object is not kept) and
/// returned; a dropped receiver just ends the pumping.
fn pump<R: Read>(
    entry: &mut R,
    size: u64,
    dtx: &mpsc::Sender<std::io::Result<Bytes>>,
) -> std::io::Result<()> {
    let mut left = size;
    while left > 0 {
        let want = usize::try_from(left).unwrap_or(CHUNK).min(CHUNK);
        let mut buf = vec![0u8; want];
        let n = match entry.read(&mut buf) {
            Ok(0) => {
                let e = std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "unexpected end of data",
                );
                let _ = dtx.blocking_send(Err(std::io::Error::new(e.kind(), e.to_string())));
                return Err(e);
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = dtx.blocking_send(Err(std::io::Error::new(e.kind(), e.to_string())));
                return Err(e);
            }
        };
        buf.truncate(n);
        left -= n as u64;
        if dtx.blocking_send(Ok(Bytes::from(buf))).is_err() {
            // The write was refused; the tar reader skips the rest.
            return Ok(());
        }
    }
    Ok(())
}

/// The request body as a blocking `Read`, for the tar reader's thread.
/// A failure of the body itself is recorded in `failure`, so the caller
/// can tell it from a malformed archive once the readers above have
/// wrapped the error.
struct BodyReader {
    body: BodyStream,
    handle: tokio::runtime::Handle,
    pending: Bytes,
    failure: Arc<Mutex<Option<ArchiveError>>>,
}

impl BodyReader {
    fn fail(&self, e: ArchiveError) -> std::io::Error {
        let msg = e.to_string();
        if let Ok(mut f) = self.failure.lock() {
            f.get_or_insert(e);
        }
        std::io::Error::other(msg)
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.is_empty() {
            let next = self
                .handle
                .block_on(tokio::time::timeout(CLIENT_TIMEOUT, self.body.next()));
            match next {
                Err(_) => return Err(self.fail(ArchiveError::Timeout)),
                Ok(None) => return Ok(0),
                Ok(Some(Err(_))) => return Err(self.fail(ArchiveError::ClientGone)),
                Ok(Some(Ok(chunk))) => self.pending = chunk,
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(Compression::from_param("tar"), Some(Compression::None));
        assert_eq!(Compression::from_param(".TAR.GZ"), Some(Compression::Gzip));
        assert_eq!(Compression::from_param("tar.bz2"), Some(Compression::Bzip2));
        assert_eq!(Compression::from_param("zip"), None);
    }
}

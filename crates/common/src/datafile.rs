//! Data files of the stores (image data, object data): written durably and
//! never seen half-written, read back as bounded streams.
//!
//! A [`Writer`] takes an upload's chunks and writes them to a temporary
//! file on a blocking thread, hashing them (see [`crate::digest`]) and
//! showing them to an [`Observer`] (the image format inspector) on the way;
//! [`Completed::install`] renames the fsynced file into place and fsyncs
//! the directory, so a crash leaves the old state or the new one, never a
//! partial file under a real name. Both stores clear their temporary
//! directory at start, which removes what an interrupted upload left.
//!
//! Why threads and bounded channels: hashing is CPU work that would stall
//! the async runtime, the bound keeps memory flat whatever the size (a slow
//! disk slows the client instead of filling RAM), and for a large upload
//! digests run on threads of their own beside the writing one ([`Hashing`]
//! says which), so on a multi-core host hashing, copying and the disk
//! overlap. Another thread `fdatasync`s every [`FLUSH_EVERY`] bytes so the disk writes while data
//! still arrives instead of after the last byte (the kernel would otherwise
//! keep up to a tenth of RAM dirty until the final fsync).

use crate::digest::{Algorithm, Digest};
use bytes::Bytes;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Chunks in flight between the network and each thread.
const CHANNEL_DEPTH: usize = 8;
/// Network reads are coalesced into chunks this big before they go to the
/// threads: a thread wake-up per small read would cost more than the copy.
const BATCH: usize = 512 * 1024;
/// Bytes written between background flushes of a large upload.
pub const FLUSH_EVERY: u64 = 32 << 20;
/// Chunk size of streamed reads: large reads from a cold cache keep the
/// disk busy with large requests (cold GETs went from 950–1,300 MiB/s with
/// 1 MiB chunks to 1,100–1,700 with 4 MiB on the project's machines).
const READ_CHUNK: usize = 4 << 20;
/// Chunks read ahead of the network (12 MiB in flight at most).
const READ_AHEAD: usize = 3;

fn blocking_error(e: tokio::task::JoinError) -> std::io::Error {
    std::io::Error::other(format!("blocking task: {e}"))
}

/// Buffers of one size, reused within one transfer. A large transfer
/// allocates its few buffers once instead of one per chunk: with a fresh
/// allocation per chunk, made on one thread and freed on another, glibc's
/// per-thread arenas kept 25–70 MiB of freed chunks after a few GiB had
/// moved, so the idle process grew with every transfer.
/// When the last user of a pool that moved at least [`TRIM_AFTER`] bytes
/// goes, the transfer is over and the memory it freed (its buffers, and
/// the network's on the way) is handed back to the system
/// ([`crate::memory`]).
#[derive(Clone)]
struct Pool(Arc<PoolInner>);

struct PoolInner {
    free: std::sync::Mutex<Vec<Vec<u8>>>,
    size: usize,
    moved: std::sync::atomic::AtomicUsize,
}

/// Smaller transfers leave too little behind to be worth a trim.
const TRIM_AFTER: usize = 64 << 20;

impl Drop for PoolInner {
    fn drop(&mut self) {
        if let Ok(free) = self.free.get_mut() {
            free.clear();
        }
        if *self.moved.get_mut() >= TRIM_AFTER {
            crate::memory::trim_soon();
        }
    }
}

/// More free buffers than this are not worth keeping: the channels hold
/// fewer chunks than that.
const POOL_KEEP: usize = 32;

impl Pool {
    fn new(size: usize) -> Pool {
        Pool(Arc::new(PoolInner {
            free: std::sync::Mutex::default(),
            size,
            moved: std::sync::atomic::AtomicUsize::new(0),
        }))
    }

    /// An empty buffer of the pool's capacity.
    fn take(&self) -> Vec<u8> {
        let reused = self.0.free.lock().ok().and_then(|mut f| f.pop());
        reused.unwrap_or_else(|| Vec::with_capacity(self.0.size))
    }

    /// `buf` as `Bytes` that give the buffer back when the last clone goes.
    fn bytes(&self, buf: Vec<u8>) -> Bytes {
        self.0.moved.fetch_add(buf.len(), Ordering::Relaxed);
        Bytes::from_owner(Pooled {
            buf,
            pool: self.clone(),
        })
    }
}

struct Pooled {
    buf: Vec<u8>,
    pool: Pool,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        if let Ok(mut free) = self.pool.0.free.lock() {
            if free.len() < POOL_KEEP {
                free.push(buf);
            }
        }
    }
}

mod dirsync;

/// Fsyncs the directory holding `path`, so a rename or link survives a
/// crash; concurrent callers for one directory share the fsync
/// ([`dirsync`]).
pub fn sync_dir(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(parent) => dirsync::sync(parent),
        None => Ok(()),
    }
}

/// Renames `from` to `to` and fsyncs the directory, on the blocking pool.
pub async fn rename_durably(from: PathBuf, to: PathBuf) -> std::io::Result<()> {
    tokio::task::spawn_blocking(move || {
        std::fs::rename(&from, &to)?;
        sync_dir(&to)
    })
    .await
    .map_err(blocking_error)?
}

/// Creates `dirs` (and their parents) with mode 0700, and removes every
/// file in `tmp`: what uploads interrupted by a stop left behind.
pub fn prepare_dirs(dirs: &[PathBuf], tmp: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    for d in dirs.iter().map(PathBuf::as_path).chain([tmp]) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(d)
            .map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot create {}: {e}", d.display()))
            })?;
    }
    for entry in std::fs::read_dir(tmp)? {
        let path = entry?.path();
        tracing::info!(path = %path.display(), "removing an interrupted upload");
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove");
        }
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

/// Sees every chunk of an upload, in order, on the writing thread before
/// the chunk is written; an error stops the upload (nothing is kept).
pub trait Observer: Send + 'static {
    type Output: Send + 'static;
    type Error: Send + 'static;
    fn observe(&mut self, chunk: &[u8]) -> Result<(), Self::Error>;
    fn finish(self) -> Self::Output;
}

/// No observer.
impl Observer for () {
    type Output = ();
    type Error = std::convert::Infallible;
    fn observe(&mut self, _: &[u8]) -> Result<(), Self::Error> {
        Ok(())
    }
    fn finish(self) {}
}

/// Why a write failed: the disk, or the observer refused the data.
#[derive(Debug)]
pub enum WriteError<E> {
    Io(std::io::Error),
    Refused(E),
}

impl<E> From<std::io::Error> for WriteError<E> {
    fn from(e: std::io::Error) -> Self {
        WriteError::Io(e)
    }
}

impl From<WriteError<std::convert::Infallible>> for std::io::Error {
    fn from(e: WriteError<std::convert::Infallible>) -> Self {
        match e {
            WriteError::Io(e) => e,
            WriteError::Refused(never) => match never {},
        }
    }
}

/// How an upload is hashed: on the writing thread, beside the write (small
/// uploads, where a thread costs more than it saves, or to balance two
/// threads), or each digest on a thread of its own. Results come inline
/// ones first, each list in its order.
#[derive(Debug, Clone, Default)]
pub struct Hashing {
    pub inline: Vec<Algorithm>,
    pub threaded: Vec<Algorithm>,
}

/// What the writing thread ends with.
struct Written<T> {
    size: u64,
    /// The digests it computed itself (none when they had threads).
    digests: Vec<String>,
    observed: T,
}

type WriterResult<O> = Result<Written<<O as Observer>::Output>, WriteError<<O as Observer>::Error>>;

/// A digest on its own thread.
struct Tap {
    tx: Option<mpsc::Sender<Bytes>>,
    handle: tokio::task::JoinHandle<std::io::Result<String>>,
}

/// An upload being written (see the module docs). Dropping it without
/// [`Writer::finish`] discards the data.
///
/// A small upload (declared smaller than a [`BATCH`]: small objects,
/// manifests) starts nothing until its end, when it is written, hashed and
/// fsynced in one blocking call by [`Writer::finish`], without the writing
/// thread, the digest threads and the hand-offs between them, which cost
/// small writes more than the write itself.
pub struct Writer<O: Observer> {
    /// Until the threads start: what they will need.
    pending: Option<(Hashing, O)>,
    tx: Option<mpsc::Sender<Bytes>>,
    handle: Option<tokio::task::JoinHandle<WriterResult<O>>>,
    taps: Vec<Tap>,
    temp: TempFile,
    written: u64,
    abandoned: Arc<AtomicBool>,
    /// Small network reads gather here up to [`BATCH`].
    batch: Vec<u8>,
    pool: Pool,
}

impl<O: Observer> std::fmt::Debug for Writer<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("temp", &self.temp)
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl<O: Observer> Drop for Writer<O> {
    fn drop(&mut self) {
        if self.handle.is_some() {
            self.abandoned.store(true, Ordering::Relaxed);
        }
    }
}

/// Opens a new temporary file (refusing one that exists).
fn create_temp(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

impl<O: Observer> Writer<O> {
    /// Starts writing a new file at `temp` (which must not exist), hashed
    /// as `hashing` says and shown to `observer`.
    pub async fn create(temp: PathBuf, hashing: Hashing, observer: O) -> std::io::Result<Self> {
        Self::create_expecting(temp, hashing, observer, None).await
    }

    /// [`Writer::create`] for an upload of `expected` bytes, if known. One
    /// smaller than a batch starts nothing yet: it is written in one go by
    /// [`Writer::finish`] (and if more data comes after all, the threads
    /// start with the first full batch). Any other creates the file and
    /// starts the threads now.
    pub async fn create_expecting(
        temp: PathBuf,
        hashing: Hashing,
        observer: O,
        expected: Option<u64>,
    ) -> std::io::Result<Self> {
        let mut w = Writer {
            pending: None,
            tx: None,
            handle: None,
            taps: Vec::new(),
            temp: TempFile(None),
            written: 0,
            abandoned: Arc::new(AtomicBool::new(false)),
            batch: Vec::new(),
            pool: Pool::new(BATCH),
        };
        if expected.is_some_and(|n| n < BATCH as u64) {
            w.temp = TempFile(Some(temp));
            w.pending = Some((hashing, observer));
        } else {
            let p = temp.clone();
            let file = tokio::task::spawn_blocking(move || create_temp(&p))
                .await
                .map_err(blocking_error)??;
            w.temp = TempFile(Some(temp));
            w.start(hashing, observer, Some(file));
        }
        Ok(w)
    }

    /// Starts the writing thread (which creates the file unless given
    /// it) and the digest threads.
    fn start(&mut self, hashing: Hashing, observer: O, file: Option<std::fs::File>) {
        let (tx, rx) = mpsc::channel::<Bytes>(CHANNEL_DEPTH);
        self.taps = hashing
            .threaded
            .iter()
            .map(|&a| {
                let (tx, rx) = mpsc::channel::<Bytes>(CHANNEL_DEPTH);
                Tap {
                    tx: Some(tx),
                    handle: tokio::task::spawn_blocking(move || hash_loop(a, rx)),
                }
            })
            .collect();
        let inline = hashing.inline;
        let flag = self.abandoned.clone();
        let path = self.temp.0.clone().unwrap_or_default();
        self.handle = Some(tokio::task::spawn_blocking(move || {
            let file = match file {
                Some(f) => f,
                None => create_temp(&path)?,
            };
            let r = write_loop(file, rx, &flag, observer, &inline);
            if r.is_err() {
                // The writer may have been dropped (and its TempFile
                // removed nothing) before the file was created here.
                let _ = std::fs::remove_file(&path);
            }
            r
        }));
        self.tx = Some(tx);
    }

    /// Bytes accepted so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Queues a chunk. An error means the writing thread stopped: the
    /// disk failed or the observer refused the data.
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), WriteError<O::Error>> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.written += chunk.len() as u64;
        if self.batch.is_empty() && chunk.len() >= BATCH {
            return self.send(chunk).await;
        }
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            if self.batch.capacity() == 0 {
                self.batch = self.pool.take();
            }
            // The batch never holds more than BATCH: it is sent when full.
            let n = rest.len().min(BATCH - self.batch.len());
            self.batch.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if self.batch.len() == BATCH {
                let full = self.pool.bytes(std::mem::take(&mut self.batch));
                self.send(full).await?;
            }
        }
        Ok(())
    }

    async fn send(&mut self, chunk: Bytes) -> Result<(), WriteError<O::Error>> {
        if let Some((hashing, observer)) = self.pending.take() {
            self.start(hashing, observer, None);
        }
        for tap in &self.taps {
            if let Some(tx) = &tap.tx {
                // A tap stops early only on a digest failure, which
                // `finish` reports.
                let _ = tx.send(chunk.clone()).await;
            }
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

    async fn writer_error(&mut self) -> WriteError<O::Error> {
        self.tx = None;
        match self.handle.take() {
            Some(h) => match h.await {
                Ok(Err(e)) => self.disarm_if_not_ours(e),
                Ok(Ok(_)) => std::io::Error::other("writer stopped early").into(),
                Err(e) => blocking_error(e).into(),
            },
            None => std::io::Error::other("writer already stopped").into(),
        }
    }

    /// Ends the stream: the temporary file is complete and fsynced (not
    /// yet in place; see [`Completed::install`]).
    pub async fn finish(mut self) -> Result<Finished<O::Output>, WriteError<O::Error>> {
        if let Some((hashing, observer)) = self.pending.take() {
            return self.finish_small(hashing, observer).await;
        }
        if !self.batch.is_empty() {
            let rest = self.pool.bytes(std::mem::take(&mut self.batch));
            self.send(rest).await?;
        }
        self.tx = None;
        let handle = self
            .handle
            .take()
            .ok_or_else(|| std::io::Error::other("writer already stopped"))?;
        let written = match handle.await.map_err(blocking_error)? {
            Ok(w) => w,
            Err(e) => return Err(self.disarm_if_not_ours(e)),
        };
        let mut digests = written.digests;
        for mut tap in std::mem::take(&mut self.taps) {
            tap.tx = None;
            digests.push(tap.handle.await.map_err(blocking_error)??);
        }
        Ok(Finished {
            size: written.size,
            digests,
            observed: written.observed,
            file: Completed(TempFile(self.temp.0.take())),
        })
    }

    /// A temporary file that existed already is not ours to remove.
    fn disarm_if_not_ours(&mut self, e: WriteError<O::Error>) -> WriteError<O::Error> {
        if matches!(&e, WriteError::Io(io) if io.kind() == std::io::ErrorKind::AlreadyExists) {
            self.temp.0 = None;
        }
        e
    }

    /// The whole upload fit in one batch: create, observe, hash, write and
    /// fsync it in one blocking call.
    async fn finish_small(
        mut self,
        hashing: Hashing,
        mut observer: O,
    ) -> Result<Finished<O::Output>, WriteError<O::Error>> {
        let data = std::mem::take(&mut self.batch);
        let path = self.temp.0.clone().unwrap_or_default();
        let written = match tokio::task::spawn_blocking(move || -> WriterResult<O> {
            if !data.is_empty() {
                observer.observe(&data).map_err(WriteError::Refused)?;
            }
            let mut digests = Vec::new();
            for &a in hashing.inline.iter().chain(&hashing.threaded) {
                let mut d = Digest::new(a)?;
                d.update(&data)?;
                digests.push(d.finish_hex()?);
            }
            let mut file = create_temp(&path)?;
            file.write_all(&data)?;
            file.sync_all()?;
            Ok(Written {
                size: data.len() as u64,
                digests,
                observed: observer.finish(),
            })
        })
        .await
        .map_err(blocking_error)?
        {
            Ok(w) => w,
            Err(e) => return Err(self.disarm_if_not_ours(e)),
        };
        Ok(Finished {
            size: written.size,
            digests: written.digests,
            observed: written.observed,
            file: Completed(TempFile(self.temp.0.take())),
        })
    }
}

/// What a finished write produced.
#[derive(Debug)]
pub struct Finished<T> {
    pub size: u64,
    /// Lowercase hex: [`Hashing::inline`]'s, then [`Hashing::threaded`]'s.
    pub digests: Vec<String>,
    pub observed: T,
    pub file: Completed,
}

/// A complete, fsynced temporary file waiting to be put in place; dropped,
/// it is removed.
#[derive(Debug)]
pub struct Completed(TempFile);

impl Completed {
    /// Renames the file to `dest` and fsyncs the directory; on failure
    /// the temporary file is removed.
    pub async fn install(mut self, dest: PathBuf) -> std::io::Result<()> {
        let temp = self
            .0
             .0
            .take()
            .ok_or_else(|| std::io::Error::other("no temporary file"))?;
        let r = rename_durably(temp.clone(), dest).await;
        if r.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        r
    }
}

fn hash_loop(algorithm: Algorithm, mut rx: mpsc::Receiver<Bytes>) -> std::io::Result<String> {
    let mut digest = Digest::new(algorithm)?;
    while let Some(chunk) = rx.blocking_recv() {
        digest.update(&chunk)?;
    }
    digest.finish_hex()
}

fn write_loop<O: Observer>(
    mut file: std::fs::File,
    mut rx: mpsc::Receiver<Bytes>,
    abandoned: &AtomicBool,
    mut observer: O,
    inline: &[Algorithm],
) -> WriterResult<O> {
    let mut digests = inline
        .iter()
        .map(|&a| Digest::new(a))
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut flusher = Flusher::default();
    let mut size = 0u64;
    let mut flushed_at = 0u64;
    // Chunks come batched (see BATCH), so they are written as they come:
    // a buffer here would only add a copy.
    while let Some(chunk) = rx.blocking_recv() {
        if abandoned.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("upload abandoned").into());
        }
        observer.observe(&chunk).map_err(WriteError::Refused)?;
        for d in &mut digests {
            d.update(&chunk)?;
        }
        file.write_all(&chunk)?;
        size += chunk.len() as u64;
        if size - flushed_at >= FLUSH_EVERY {
            flushed_at = size;
            flusher.kick(&file);
        }
    }
    flusher.finish();
    if abandoned.load(Ordering::Relaxed) {
        // Nobody will install it: no point flushing it to disk.
        return Err(std::io::Error::other("upload abandoned").into());
    }
    file.sync_all()?;
    let digests = digests
        .into_iter()
        .map(Digest::finish_hex)
        .collect::<std::io::Result<Vec<_>>>()?;
    Ok(Written {
        size,
        digests,
        observed: observer.finish(),
    })
}

/// Starts writing a large upload back to disk while it is still arriving:
/// a thread calls `fdatasync` on its own handle of the file at each kick
/// (one at a time; a kick while one runs is dropped).
#[derive(Default)]
struct Flusher {
    tx: Option<std::sync::mpsc::SyncSender<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Flusher {
    /// The thread starts with the first kick: small files never get one.
    fn kick(&mut self, file: &std::fs::File) {
        if self.tx.is_none() && self.handle.is_none() {
            let Ok(clone) = file.try_clone() else {
                return;
            };
            let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
            self.handle = std::thread::Builder::new()
                .name("datafile-flush".into())
                .spawn(move || {
                    while rx.recv().is_ok() {
                        // An error here shows again in the final fsync.
                        let _ = clone.sync_data();
                    }
                })
                .ok();
            self.tx = Some(tx);
        }
        if let Some(tx) = &self.tx {
            let _ = tx.try_send(());
        }
    }

    fn finish(mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Reads `len` bytes of `file` from `offset` in chunks, handing each to
/// `emit`; stops early (with `Ok`) when `emit` returns false. The handle's
/// offset moves: one reader per handle at a time.
pub fn read_range(
    file: &std::fs::File,
    offset: u64,
    len: u64,
    mut emit: impl FnMut(Bytes) -> bool,
) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    let pool = Pool::new(READ_CHUNK);
    let mut left = len;
    while left > 0 {
        let want = left.min(READ_CHUNK as u64);
        // `read_to_end` fills the spare capacity without zeroing it first.
        let mut buf = pool.take();
        let n = f.take(want).read_to_end(&mut buf)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "data file shorter than recorded",
            ));
        }
        left -= n as u64;
        if !emit(pool.bytes(buf)) {
            return Ok(());
        }
    }
    Ok(())
}

/// Runs `read` on a blocking thread, its chunks going through a bounded
/// channel: memory stays at a few chunks whatever the size, and a slow
/// reader slows the disk reads down. An error ends the stream with that
/// error.
pub fn spawn_reader<F>(read: F) -> mpsc::Receiver<std::io::Result<Bytes>>
where
    F: FnOnce(&mut dyn FnMut(Bytes) -> bool) -> std::io::Result<()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        let r = read(&mut |b| tx.blocking_send(Ok(b)).is_ok());
        if let Err(e) = r {
            tracing::warn!(error = %e, "read failed mid-stream");
            let _ = tx.blocking_send(Err(e));
        }
    });
    rx
}

/// The chunks a [`spawn_reader`] sends, as a stream (a response body).
pub fn into_stream(
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send {
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn scratch() -> std::io::Result<Dir> {
        let d = std::env::temp_dir().join(format!("oxistack-datafile-{}", crate::ids::hex_id()));
        prepare_dirs(std::slice::from_ref(&d), &d.join("tmp"))?;
        Ok(Dir(d))
    }

    /// Refuses any chunk containing `!`.
    struct NoBang(usize);
    impl Observer for NoBang {
        type Output = usize;
        type Error = &'static str;
        fn observe(&mut self, chunk: &[u8]) -> Result<(), &'static str> {
            self.0 += chunk.len();
            if chunk.contains(&b'!') {
                return Err("bang");
            }
            Ok(())
        }
        fn finish(self) -> usize {
            self.0
        }
    }

    fn both() -> Vec<Algorithm> {
        vec![Algorithm::Md5, Algorithm::Sha512]
    }

    #[tokio::test]
    async fn writes_hash_install_and_clean_up() -> std::io::Result<()> {
        let dir = scratch()?;
        let tmp = dir.0.join("tmp");
        let inline = Hashing {
            inline: both(),
            threaded: vec![],
        };
        let threaded = Hashing {
            inline: vec![],
            threaded: both(),
        };
        let mixed = Hashing {
            inline: vec![Algorithm::Md5],
            threaded: vec![Algorithm::Sha512],
        };
        for hashing in [inline, threaded, mixed] {
            let mut w = Writer::create(tmp.join("a"), hashing, NoBang(0)).await?;
            // Big enough to pass a flush point and go around the batching.
            let big = Bytes::from(vec![b'x'; (FLUSH_EVERY + 3) as usize]);
            w.write(Bytes::from_static(b"hello ")).await.map_err(io)?;
            w.write(big.clone()).await.map_err(io)?;
            let f = w.finish().await.map_err(io)?;
            assert_eq!(f.size, 6 + big.len() as u64);
            assert_eq!(f.observed, 6 + big.len());
            let mut md5 = Digest::new(Algorithm::Md5)?;
            md5.update(b"hello ")?;
            md5.update(&big)?;
            assert_eq!(f.digests.len(), 2);
            assert_eq!(f.digests[0], md5.finish_hex()?);
            assert_eq!(f.digests[1].len(), 128);
            let dest = dir.0.join("a.data");
            f.file.install(dest.clone()).await?;
            assert_eq!(std::fs::metadata(&dest)?.len(), 6 + big.len() as u64);
            assert!(std::fs::read_dir(&tmp)?.next().is_none());
            std::fs::remove_file(dest)?;
        }
        Ok(())
    }

    #[tokio::test]
    async fn small_uploads_are_written_in_one_go() -> std::io::Result<()> {
        let dir = scratch()?;
        let tmp = dir.0.join("tmp");
        let mixed = Hashing {
            inline: vec![Algorithm::Sha512],
            threaded: vec![Algorithm::Md5],
        };
        let mut w =
            Writer::create_expecting(tmp.join("s"), mixed.clone(), NoBang(0), Some(11)).await?;
        w.write(Bytes::from_static(b"hello ")).await.map_err(io)?;
        w.write(Bytes::from_static(b"world")).await.map_err(io)?;
        // Nothing on disk before the end.
        assert!(!tmp.join("s").exists());
        let f = w.finish().await.map_err(io)?;
        assert_eq!((f.size, f.observed), (11, 11));
        // Inline digests first, then threaded ones, as for large uploads.
        assert_eq!(f.digests.len(), 2);
        assert_eq!(f.digests[0].len(), 128);
        assert_eq!(f.digests[1], "5eb63bbbe01eeed093cb22bb8f5acdc3");
        let dest = dir.0.join("s.data");
        f.file.install(dest.clone()).await?;
        assert_eq!(std::fs::read(&dest)?, b"hello world");

        // Empty uploads make empty files.
        let w = Writer::create_expecting(tmp.join("e"), mixed.clone(), (), Some(0)).await?;
        let f = w.finish().await?;
        assert_eq!(f.size, 0);
        assert_eq!(f.digests[1], "d41d8cd98f00b204e9800998ecf8427e");
        f.file.install(dir.0.join("e.data")).await?;
        assert_eq!(std::fs::metadata(dir.0.join("e.data"))?.len(), 0);

        // The observer still refuses small data.
        let mut w =
            Writer::create_expecting(tmp.join("r"), mixed.clone(), NoBang(0), Some(3)).await?;
        w.write(Bytes::from_static(b"no!")).await.map_err(io)?;
        assert!(matches!(w.finish().await, Err(WriteError::Refused("bang"))));
        assert!(std::fs::read_dir(&tmp)?.next().is_none());

        // A temporary name that exists is refused, and left alone.
        std::fs::write(tmp.join("taken"), b"someone else's")?;
        // (Small: at the end; more than declared: with the first batch.)
        for size in [3, BATCH] {
            let mut w =
                Writer::create_expecting(tmp.join("taken"), mixed.clone(), (), Some(3)).await?;
            let r = match w.write(Bytes::from(vec![b'x'; size])).await {
                Ok(()) => w.finish().await.map(drop),
                Err(e) => Err(e),
            };
            let kind = r.err().map(|e| std::io::Error::from(e).kind());
            assert_eq!(kind, Some(std::io::ErrorKind::AlreadyExists));
            assert_eq!(std::fs::read(tmp.join("taken"))?, b"someone else's");
        }
        // Unknown or large sizes create the file at once.
        let r = Writer::create(tmp.join("taken"), mixed.clone(), ()).await;
        assert_eq!(
            r.err().map(|e| e.kind()),
            Some(std::io::ErrorKind::AlreadyExists)
        );
        assert_eq!(std::fs::read(tmp.join("taken"))?, b"someone else's");
        Ok(())
    }

    fn io(e: WriteError<&'static str>) -> std::io::Error {
        match e {
            WriteError::Io(e) => e,
            WriteError::Refused(r) => std::io::Error::other(r),
        }
    }

    #[tokio::test]
    async fn refused_or_dropped_uploads_leave_nothing() -> std::io::Result<()> {
        let dir = scratch()?;
        let tmp = dir.0.join("tmp");
        let hashing = Hashing {
            inline: vec![Algorithm::Sha512],
            threaded: vec![Algorithm::Md5],
        };
        let mut w = Writer::create(tmp.join("b"), hashing.clone(), NoBang(0)).await?;
        let refused = match w.write(Bytes::from(vec![b'!'; BATCH])).await {
            Err(e) => {
                drop(w);
                Some(e)
            }
            Ok(()) => w.finish().await.err(),
        };
        assert!(matches!(refused, Some(WriteError::Refused("bang"))));
        assert!(std::fs::read_dir(&tmp)?.next().is_none());

        let mut w = Writer::create(tmp.join("c"), hashing.clone(), ()).await?;
        w.write(Bytes::from_static(b"partial")).await?;
        drop(w);
        assert!(std::fs::read_dir(&tmp)?.next().is_none());

        // A finished file that is never installed goes too.
        let mut w = Writer::create(tmp.join("d"), hashing, ()).await?;
        w.write(Bytes::from_static(b"done")).await?;
        let f = w.finish().await?;
        assert!(tmp.join("d").exists());
        drop(f);
        assert!(std::fs::read_dir(&tmp)?.next().is_none());

        // What a stop left in tmp/ goes at the next start.
        std::fs::write(tmp.join("stale"), b"x")?;
        prepare_dirs(std::slice::from_ref(&dir.0), &tmp)?;
        assert!(std::fs::read_dir(&tmp)?.next().is_none());
        Ok(())
    }

    #[test]
    fn pooled_buffers_come_back_when_the_last_clone_goes() {
        let pool = Pool::new(1024);
        let mut buf = pool.take();
        buf.extend_from_slice(b"abc");
        let ptr = buf.as_ptr();
        let bytes = pool.bytes(buf);
        let clone = bytes.slice(1..);
        drop(bytes);
        assert_eq!(&clone[..], b"bc");
        let other = pool.take();
        assert_ne!(other.as_ptr(), ptr, "still in use");
        drop(clone);
        let again = pool.take();
        assert_eq!(again.as_ptr(), ptr);
        assert!(again.is_empty());
        assert_eq!(again.capacity(), 1024);
        assert_eq!(pool.0.moved.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn reads_ranges_in_chunks() -> std::io::Result<()> {
        let dir = scratch()?;
        let path = dir.0.join("r");
        let data: Vec<u8> = (0..READ_CHUNK * 2 + 10).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data)?;
        let file = std::fs::File::open(&path)?;
        let mut rx = spawn_reader(move |emit| read_range(&file, 5, (READ_CHUNK + 7) as u64, emit));
        let mut got = Vec::new();
        while let Some(chunk) = rx.recv().await {
            got.extend_from_slice(&chunk?);
        }
        assert_eq!(got, data[5..5 + READ_CHUNK + 7]);

        // Asking past the end is an error, not a short body.
        let file = std::fs::File::open(&path)?;
        let mut rx = spawn_reader(move |emit| read_range(&file, 0, data.len() as u64 + 1, emit));
        let mut failed = false;
        while let Some(chunk) = rx.recv().await {
            failed |= chunk.is_err();
        }
        assert!(failed);
        Ok(())
    }
}

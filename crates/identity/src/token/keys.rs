//! The fernet key repository, laid out as Keystone's: a directory of files
//! named by integers, each a URL-safe base64 32-byte key. `0` is the staged
//! key (next to become primary), the highest number is the primary (it
//! encrypts), the others are secondaries (they still decrypt). Rotation
//! promotes the staged key, stages a new one and drops the oldest
//! secondaries beyond `max_active_keys`, so every replica that shares the
//! directory keeps validating tokens across a rotation.
//!
//! A running process re-reads the directory when its modification time
//! changes (checked at most once a second), so `oxistack identity
//! rotate-keys` takes effect without a restart.

use base64::Engine;
use fernet::Fernet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("fernet key repository {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("fernet key repository {0} holds no valid keys")]
    Empty(PathBuf),
}

struct Loaded {
    /// Encrypts new tokens.
    primary: Arc<Fernet>,
    /// Every active key, primary first, so the common case decrypts on the
    /// first try.
    fernet: Arc<Vec<Fernet>>,
    mtime: Option<SystemTime>,
    checked: Instant,
    count: usize,
    /// Bumped on every reload, so caches of validated tokens can tell that
    /// the key set changed.
    generation: u64,
}

/// The keys, reloaded when the directory changes.
pub struct KeyRepository {
    dir: PathBuf,
    loaded: RwLock<Arc<Loaded>>,
}

impl std::fmt::Debug for KeyRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRepository")
            .field("dir", &self.dir)
            .finish()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl KeyRepository {
    /// Opens `dir`, creating it with a staged and a primary key when empty
    /// (what `keystone-manage fernet_setup` does).
    pub fn open_or_create(dir: &Path) -> Result<Self, KeyError> {
        if key_files(dir)?.is_empty() {
            create_dir_private(dir)?;
            write_key(dir, 0)?;
            rotate(dir, 3)?;
        }
        let loaded = load(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            loaded: RwLock::new(Arc::new(loaded)),
        })
    }

    fn current(&self) -> Arc<Loaded> {
        let cur = match self.loaded.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        if cur.checked.elapsed() < Duration::from_secs(1) {
            return cur;
        }
        let mtime = std::fs::metadata(&self.dir).and_then(|m| m.modified()).ok();
        let fresh = if mtime != cur.mtime {
            match load(&self.dir) {
                Ok(mut l) => {
                    tracing::info!(keys = l.count, dir = %self.dir.display(), "reloaded fernet keys");
                    l.generation = cur.generation + 1;
                    Arc::new(l)
                }
                Err(e) => {
                    tracing::error!(error = %e, "keeping the fernet keys in memory");
                    Arc::new(Loaded {
                        primary: cur.primary.clone(),
                        fernet: cur.fernet.clone(),
                        mtime: cur.mtime,
                        checked: Instant::now(),
                        count: cur.count,
                        generation: cur.generation,
                    })
                }
            }
        } else {
            Arc::new(Loaded {
                primary: cur.primary.clone(),
                fernet: cur.fernet.clone(),
                mtime,
                checked: Instant::now(),
                count: cur.count,
                generation: cur.generation,
            })
        };
        match self.loaded.write() {
            Ok(mut g) => *g = fresh.clone(),
            Err(p) => *p.into_inner() = fresh.clone(),
        }
        fresh
    }

    /// Encrypts with the primary key; `at` is the fernet timestamp (seconds).
    pub fn encrypt(&self, data: &[u8], at: u64) -> String {
        self.current().primary.encrypt_at_time(data, at)
    }

    /// Decrypts with any active key. `now` (seconds) is the caller's clock:
    /// fernet refuses tokens stamped more than a minute in its future.
    pub fn decrypt(&self, token: &str, now: u64) -> Option<Vec<u8>> {
        decrypt_with(&self.current().fernet, token, now)
    }

    /// Changes whenever the key set was reloaded.
    pub fn generation(&self) -> u64 {
        self.current().generation
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn decrypt_with(keys: &[Fernet], token: &str, now: u64) -> Option<Vec<u8>> {
    keys.iter()
        .find_map(|k| k.decrypt_at_time(token, None, now).ok())
}

fn create_dir_private(dir: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))
}

/// Whether `dir` is a key repository holding at least one key: what an
/// operator's rotation must find, since rotating an empty or mistyped
/// directory would create a key set no server reads.
pub fn has_keys(dir: &Path) -> bool {
    key_files(dir).is_ok_and(|k| !k.is_empty())
}

/// The key file indexes in `dir`, ascending.
fn key_files(dir: &Path) -> Result<Vec<u64>, KeyError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => {
            return Err(KeyError::Io {
                path: dir.to_path_buf(),
                source: e,
            })
        }
    };
    let mut v: Vec<u64> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect();
    v.sort_unstable();
    Ok(v)
}

fn write_key(dir: &Path, index: u64) -> Result<(), KeyError> {
    use std::os::unix::fs::OpenOptionsExt;
    let key = base64::engine::general_purpose::URL_SAFE.encode(common::ids::random_bytes(32));
    let tmp = dir.join(format!(".tmp-{index}-{}", common::ids::hex_id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    f.write_all(key.as_bytes()).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    let dst = dir.join(index.to_string());
    std::fs::rename(&tmp, &dst).map_err(io(&dst))
}

fn load(dir: &Path) -> Result<Loaded, KeyError> {
    let mtime = std::fs::metadata(dir).and_then(|m| m.modified()).ok();
    let mut indexes = key_files(dir)?;
    // Primary (highest) first, staged (0) last.
    indexes.sort_unstable_by(|a, b| match (a, b) {
        (0, 0) => std::cmp::Ordering::Equal,
        (0, _) => std::cmp::Ordering::Greater,
        (_, 0) => std::cmp::Ordering::Less,
        _ => b.cmp(a),
    });
    let mut keys = Vec::new();
    for i in indexes {
        let p = dir.join(i.to_string());
        let text = std::fs::read_to_string(&p).map_err(io(&p))?;
        match Fernet::new(text.trim()) {
            Some(f) => keys.push(f),
            None => tracing::warn!(file = %p.display(), "ignoring an invalid fernet key"),
        }
    }
    let Some(primary) = keys.first().cloned() else {
        return Err(KeyError::Empty(dir.to_path_buf()));
    };
    let count = keys.len();
    Ok(Loaded {
        primary: Arc::new(primary),
        fernet: Arc::new(keys),
        mtime,
        checked: Instant::now(),
        count,
        generation: 0,
    })
}

/// Rotates the repository: staged becomes primary, a new staged key is
/// written, and secondaries beyond `max_active_keys` are removed.
pub fn rotate(dir: &Path, max_active_keys: usize) -> Result<(), KeyError> {
    create_dir_private(dir)?;
    let existing = key_files(dir)?;
    if !existing.contains(&0) {
        write_key(dir, 0)?;
    }
    let next = existing.iter().copied().max().unwrap_or(0) + 1;
    let staged = dir.join("0");
    let promoted = dir.join(next.to_string());
    std::fs::rename(&staged, &promoted).map_err(io(&promoted))?;
    write_key(dir, 0)?;
    // Keep the staged key, the new primary and the newest secondaries.
    let mut numbered: Vec<u64> = key_files(dir)?.into_iter().filter(|i| *i != 0).collect();
    numbered.sort_unstable();
    let keep = max_active_keys.saturating_sub(1).max(1);
    while numbered.len() > keep {
        let oldest = numbered.remove(0);
        let p = dir.join(oldest.to_string());
        std::fs::remove_file(&p).map_err(io(&p))?;
    }
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir() -> PathBuf {
        std::env::temp_dir().join(format!("oxistack-keys-{}", common::ids::hex_id()))
    }

    #[test]
    fn setup_creates_staged_and_primary() {
        let d = tempdir();
        let repo = KeyRepository::open_or_create(&d).unwrap();
        assert_eq!(key_files(&d).unwrap(), vec![0, 1]);
        let t = repo.encrypt(b"hello", 1_700_000_000);
        assert_eq!(repo.decrypt(&t, 1_700_000_000).unwrap(), b"hello");
        assert!(repo.decrypt("garbage", 1_700_000_000).is_none());
        assert!(
            repo.decrypt(&t, 1_600_000_000).is_none(),
            "stamped in the future"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_until_their_key_is_dropped() {
        let d = tempdir();
        let repo = KeyRepository::open_or_create(&d).unwrap();
        let old = repo.encrypt(b"one", 1);
        rotate(&d, 3).unwrap();
        assert_eq!(key_files(&d).unwrap(), vec![0, 1, 2]);
        let after_one = load(&d).unwrap();
        assert!(
            decrypt_with(&after_one.fernet, &old, 1).is_some(),
            "secondary still decrypts"
        );
        // A token from the new primary is readable by a replica that only
        // had the old staged key promoted: the staged key was shared.
        let new = after_one.primary.encrypt_at_time(b"two", 1);
        rotate(&d, 3).unwrap();
        assert_eq!(key_files(&d).unwrap(), vec![0, 2, 3]);
        let after_two = load(&d).unwrap();
        assert!(
            decrypt_with(&after_two.fernet, &old, 1).is_none(),
            "oldest key is gone"
        );
        assert!(decrypt_with(&after_two.fernet, &new, 1).is_some());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn staged_key_decrypts_before_promotion() {
        // A replica that has not yet seen a rotation must still validate
        // tokens from one that has: the new primary was its staged key.
        let d = tempdir();
        let before = KeyRepository::open_or_create(&d).unwrap();
        rotate(&d, 3).unwrap();
        let after = load(&d).unwrap();
        let t = after.primary.encrypt_at_time(b"x", 1);
        assert_eq!(
            decrypt_with(&before.loaded.read().unwrap().fernet, &t, 1).unwrap(),
            b"x"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}

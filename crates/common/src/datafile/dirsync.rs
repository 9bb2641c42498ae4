//! Group commit of directory fsyncs: writers that renamed or linked a file
//! into the same directory share one `fsync` of it instead of each paying
//! for their own.
//!
//! A writer's entry is durable once an fsync of the directory that
//! *started after* its rename has succeeded. So each directory keeps a
//! generation counter: a writer arriving after its rename needs generation
//! `started + 1` (the next fsync to begin), and waits until that many have
//! finished. One waiter at a time (the leader) runs the fsync, outside the
//! lock; those arriving meanwhile queue for the next one, which then
//! covers all of them. Under concurrent small writes this turns N directory
//! fsyncs into about two, and costs a lone writer nothing but a lock.
//!
//! An fsync error reaches every waiter that needed that fsync. It is also
//! given to waiters whose own fsync succeeded if a later one failed before
//! they looked (conservative: their write is reported failed and not
//! committed, never the reverse).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard, PoisonError};

/// The state of one directory's fsyncs.
#[derive(Default)]
struct Group {
    state: Mutex<State>,
    done: Condvar,
}

#[derive(Default)]
struct State {
    /// Generations of the fsyncs started so far (the latest one's).
    started: u64,
    /// Generation of the latest finished fsync.
    finished: u64,
    running: bool,
    /// The latest failure: its generation and error.
    failed: Option<(u64, std::io::ErrorKind, String)>,
}

/// The groups, one per directory that was synced; a store syncs a fixed
/// set of directories, so this stays small.
static GROUPS: LazyLock<Mutex<HashMap<PathBuf, Arc<Group>>>> = LazyLock::new(Mutex::default);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded data is counters that each step leaves consistent, so a
    // panic elsewhere does not make them unusable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn group(dir: &Path) -> Arc<Group> {
    let mut groups = lock(&GROUPS);
    match groups.get(dir) {
        Some(g) => g.clone(),
        None => {
            let g = Arc::new(Group::default());
            groups.insert(dir.to_path_buf(), g.clone());
            g
        }
    }
}

/// Makes every entry changed in `dir` before this call durable, sharing
/// the fsync with concurrent callers (see the module docs). Blocking.
pub fn sync(dir: &Path) -> std::io::Result<()> {
    sync_with(dir, |d| std::fs::File::open(d)?.sync_all())
}

/// [`sync`] with the fsync itself passed in (tests count and fail them).
pub(crate) fn sync_with(
    dir: &Path,
    fsync: impl Fn(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let g = group(dir);
    let mut st = lock(&g.state);
    let need = st.started + 1;
    loop {
        if st.finished >= need {
            return match &st.failed {
                Some((generation, kind, msg)) if *generation >= need => {
                    Err(std::io::Error::new(*kind, msg.clone()))
                }
                _ => Ok(()),
            };
        }
        if st.running {
            st = g.done.wait(st).unwrap_or_else(PoisonError::into_inner);
            continue;
        }
        st.running = true;
        st.started += 1;
        let generation = st.started;
        drop(st);
        let r = fsync(dir);
        st = lock(&g.state);
        st.running = false;
        st.finished = generation;
        if let Err(e) = r {
            st.failed = Some((generation, e.kind(), e.to_string()));
        }
        g.done.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::Duration;

    fn unique_dir(tag: &str) -> PathBuf {
        // Only the key matters to the group: no directory is touched.
        PathBuf::from(format!(
            "/nonexistent/dirsync-{tag}-{}",
            crate::ids::hex_id()
        ))
    }

    #[test]
    fn a_lone_caller_gets_its_own_fsync() -> std::io::Result<()> {
        let dir = unique_dir("lone");
        let calls = AtomicU64::new(0);
        for _ in 0..3 {
            sync_with(&dir, |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })?;
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        Ok(())
    }

    /// Every caller's "rename" (a tick of `renamed`) must be covered by an
    /// fsync that began after it: each fsync records the tick count when
    /// it starts, and each caller checks that some fsync which started
    /// after its own tick finished before it returned.
    #[test]
    fn every_rename_is_covered_by_a_later_fsync_and_fsyncs_are_shared() {
        let dir = unique_dir("cover");
        let renamed = Arc::new(AtomicU64::new(0));
        // Highest tick seen at the start of a finished fsync.
        let covered = Arc::new(AtomicU64::new(0));
        let fsyncs = Arc::new(AtomicU64::new(0));
        let threads = 16;
        let per_thread = 50;
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (dir, renamed, covered, fsyncs) = (
                    dir.clone(),
                    renamed.clone(),
                    covered.clone(),
                    fsyncs.clone(),
                );
                std::thread::spawn(move || {
                    for _ in 0..per_thread {
                        let mine = renamed.fetch_add(1, Ordering::SeqCst) + 1;
                        let r = sync_with(&dir, |_| {
                            let seen = renamed.load(Ordering::SeqCst);
                            fsyncs.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(1));
                            covered.fetch_max(seen, Ordering::SeqCst);
                            Ok(())
                        });
                        assert!(r.is_ok());
                        assert!(
                            covered.load(Ordering::SeqCst) >= mine,
                            "rename {mine} returned before an fsync that started after it"
                        );
                    }
                })
            })
            .collect();
        for h in handles {
            assert!(h.join().is_ok());
        }
        let total = threads * per_thread;
        let n = fsyncs.load(Ordering::SeqCst);
        assert!(n >= 1 && n < total, "{n} fsyncs for {total} renames");
    }

    #[test]
    fn an_error_reaches_every_waiter_of_that_fsync() {
        let dir = unique_dir("error");
        let failing = Arc::new(AtomicBool::new(true));
        let entered = Arc::new(std::sync::Barrier::new(2));
        // A leader whose fsync blocks until the others queued, then fails.
        let leader = {
            let (dir, entered) = (dir.clone(), entered.clone());
            std::thread::spawn(move || {
                sync_with(&dir, |_| {
                    entered.wait();
                    std::thread::sleep(Duration::from_millis(100));
                    Err(std::io::Error::other("first fails"))
                })
            })
        };
        entered.wait();
        // These arrive while the first fsync runs: they need the second,
        // which fails too.
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let (dir, failing) = (dir.clone(), failing.clone());
                std::thread::spawn(move || {
                    sync_with(&dir, |_| {
                        if failing.load(Ordering::SeqCst) {
                            Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "full"))
                        } else {
                            Ok(())
                        }
                    })
                })
            })
            .collect();
        let first = leader.join().ok().and_then(Result::err);
        assert_eq!(first.map(|e| e.to_string()), Some("first fails".into()));
        for w in waiters {
            let r = w.join().ok().and_then(Result::err);
            assert_eq!(r.map(|e| e.kind()), Some(std::io::ErrorKind::StorageFull));
        }
        // A later caller gets a fresh fsync, and its success.
        failing.store(false, Ordering::SeqCst);
        let ok = sync_with(&dir, |_| {
            if failing.load(Ordering::SeqCst) {
                Err(std::io::Error::other("still failing"))
            } else {
                Ok(())
            }
        });
        assert!(ok.is_ok());
    }

    #[test]
    fn syncs_a_real_directory() -> std::io::Result<()> {
        let dir = std::env::temp_dir().join(format!("oxistack-dirsync-{}", crate::ids::hex_id()));
        std::fs::create_dir(&dir)?;
        let r = sync(&dir);
        let missing = sync(&dir.join("absent"));
        std::fs::remove_dir(&dir)?;
        r?;
        assert_eq!(
            missing.err().map(|e| e.kind()),
            Some(std::io::ErrorKind::NotFound)
        );
        Ok(())
    }
}

//! On PostgreSQL, a `LISTEN` connection that learns the identity revision
//! as any process commits it, so checking that the cached view is current
//! costs no store read on the hot path (token validation).
//!
//! Every identity write sends `NOTIFY` with its new revision in the writing
//! transaction (delivered at commit). The watcher keeps the highest one it
//! has heard. It is trusted only while its connection is up and was
//! listening before it read the revision row; otherwise [`RevisionWatch::current`]
//! answers `None` and the caller reads the row as before. This process's
//! own writes are known at commit without waiting for the notification,
//! so a revocation is effective on the next request to the same process;
//! other processes see it once the notification arrives (milliseconds).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use db::sqlx;

/// The channel identity revisions are announced on.
pub const CHANNEL: &str = "oxistack_identity";

/// Wait before reconnecting a lost `LISTEN` connection.
const RETRY: Duration = Duration::from_millis(500);

#[derive(Debug)]
pub struct RevisionWatch {
    rev: AtomicI64,
    live: AtomicBool,
    started: AtomicBool,
    /// Dropped with the watch, which stops the listening task.
    stop: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl Default for RevisionWatch {
    fn default() -> Self {
        Self {
            rev: AtomicI64::new(-1),
            live: AtomicBool::new(false),
            started: AtomicBool::new(false),
            stop: Mutex::new(None),
        }
    }
}

impl RevisionWatch {
    /// The latest revision heard, while the watch is connected.
    pub fn current(&self) -> Option<i64> {
        if self.live.load(Ordering::Acquire) {
            Some(self.rev.load(Ordering::Acquire))
        } else {
            None
        }
    }

    /// Starts the listening task the first time (on PostgreSQL only).
    pub fn ensure_started(self: &Arc<Self>, store: &db::Db) {
        if !store.is_shared() || self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        if let Ok(mut g) = self.stop.lock() {
            *g = Some(tx);
        }
        tokio::spawn(run(Arc::downgrade(self), store.clone(), rx));
    }
}

async fn run(
    watch: Weak<RevisionWatch>,
    store: db::Db,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            r = listen(&watch, &store) => {
                if let Err(e) = r {
                    tracing::warn!(error = %e, "identity revision watch lost; reading the store until it is back");
                }
            }
            _ = &mut stop => return,
        }
        match watch.upgrade() {
            Some(w) => w.live.store(false, Ordering::Release),
            None => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => {}
            _ = &mut stop => return,
        }
    }
}

/// Listens until the connection fails (an `Err`, or `Ok` when the
/// listener reports it lost the connection).
async fn listen(watch: &Weak<RevisionWatch>, store: &db::Db) -> Result<(), sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(store.url()).await?;
    listener.listen(CHANNEL).await?;
    // Listening first, then reading: no commit falls between the two.
    let rev = crate::db::revision(&store.pool).await?;
    match watch.upgrade() {
        Some(w) => {
            w.rev.fetch_max(rev, Ordering::AcqRel);
            w.live.store(true, Ordering::Release);
        }
        None => return Ok(()),
    }
    while let Some(n) = listener.try_recv().await? {
        let (Some(w), Ok(v)) = (watch.upgrade(), n.payload().parse::<i64>()) else {
            continue;
        };
        w.rev.fetch_max(v, Ordering::AcqRel);
    }
    Ok(())
}

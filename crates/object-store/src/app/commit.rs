//! Making written files objects: the transaction that names a file by its
//! row, moves the container's and account's counters and checks quotas.
//!
//! On SQLite every write transaction is serialised (one writer per file),
//! and a small PUT spends most of its time in that serial section: each
//! statement is a round trip to the connection's thread. So PUTs that
//! arrive while a commit is running wait together and are applied in one
//! transaction (a group commit): the first to arrive at an empty queue
//! spawns the task that takes the write lock, then takes every PUT queued
//! by then and applies them in order, each seeing the ones before it, so
//! the result is the one serial commits in that order would give. If any
//! of them fails (container gone, `If-None-Match: *`, a quota), the whole
//! transaction is rolled back and each is committed alone, so one PUT's
//! failure never becomes another's.
//!
//! The spawned task owns the written files ([`Installed`]) until their
//! rows are committed: a client that goes away while waiting cannot have
//! its file removed under a committed row.
//!
//! On PostgreSQL writers run in parallel and each PUT commits alone,
//! locking its container row first so writes of one container see each
//! other's rows.

use super::{quota, Result, SwiftError};
use crate::db::{accounts, containers, objects, objects::Object};
use crate::store::{DataStore, Installed};
use common::clock::SharedClock;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// One PUT's row, waiting to be committed.
#[derive(Debug)]
pub struct Put {
    pub row: Object,
    pub installed: Installed,
    pub reseller: bool,
    pub must_not_exist: bool,
}

/// What a commit needs (cheap clones of the service's handles).
#[derive(Clone)]
pub struct Committer {
    pub db: db::Db,
    pub data: DataStore,
    pub clock: SharedClock,
}

type Waiting = (Put, oneshot::Sender<Result<Option<Object>>>);

/// The PUTs queued for the next group commit.
#[derive(Default)]
pub struct Queue(Arc<Mutex<Vec<Waiting>>>);

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

impl Queue {
    /// Queues `put` and waits for its group's commit.
    pub async fn submit(&self, committer: Committer, put: Put) -> Result<Option<Object>> {
        let (tx, rx) = oneshot::channel();
        let first = {
            let mut q = lock(&self.0);
            q.push((put, tx));
            q.len() == 1
        };
        // The queue is non-empty only between a task's spawn and the
        // moment it takes the queue, so a PUT finding others queued is
        // sure to be taken by that task.
        if first {
            let queue = self.0.clone();
            tokio::spawn(async move { committer.run_group(&queue).await });
        }
        rx.await
            .map_err(|_| SwiftError::internal("the commit of this write was abandoned"))?
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Committer {
    fn expired(&self, o: &Object) -> bool {
        let now = self.clock.now_micros().div_euclid(1_000_000);
        o.delete_at.is_some_and(|at| at <= now)
    }

    /// Takes the write lock, then every PUT queued by then, and commits
    /// them together (or each alone when one of them fails).
    async fn run_group(&self, queue: &Mutex<Vec<Waiting>>) {
        let tx = self.db.begin_write().await;
        let group = std::mem::take(&mut *lock(queue));
        let mut tx = match tx {
            Ok(tx) => tx,
            Err(e) => {
                let e = SwiftError::from(e);
                for (_, done) in group {
                    let _ = done.send(Err(e.clone()));
                }
                return;
            }
        };
        if group.len() == 1 {
            if let Some((put, done)) = group.into_iter().next() {
                let r = match self.apply(&mut tx, &put).await {
                    Ok(old) => tx.commit().await.map(|()| old).map_err(SwiftError::from),
                    Err(e) => Err(e),
                };
                if let Ok(old) = &r {
                    self.finish(put, old).await;
                }
                let _ = done.send(r);
            }
            return;
        }
        let mut replaced = Vec::with_capacity(group.len());
        for (put, _) in &group {
            match self.apply(&mut tx, put).await {
                Ok(old) => replaced.push(old),
                Err(_) => break,
            }
        }
        // All applied: commit them together. Otherwise roll back (the
        // write lock goes with the transaction) and commit each alone.
        let committed = if replaced.len() == group.len() {
            tx.commit().await.is_ok()
        } else {
            drop(tx);
            false
        };
        if committed {
            for ((put, done), old) in group.into_iter().zip(replaced) {
                self.finish(put, &old).await;
                let _ = done.send(Ok(old));
            }
            return;
        }
        for (put, done) in group {
            let _ = done.send(self.commit_one(put).await);
        }
    }

    /// Commits one PUT in a transaction of its own.
    pub async fn commit_one(&self, put: Put) -> Result<Option<Object>> {
        let mut tx = self.db.begin_write().await?;
        let old = self.apply(&mut tx, &put).await?;
        tx.commit().await?;
        self.finish(put, &old).await;
        Ok(old)
    }

    /// The row's changes inside `tx`; returns the row it replaces.
    async fn apply(&self, tx: &mut db::WriteTx, put: &Put) -> Result<Option<Object>> {
        let row = &put.row;
        let (a, c, n) = (&row.account, &row.container, &row.name);
        // PostgreSQL: lock the container row first (see the module doc).
        // SQLite: serialised already; the counters' one update below finds
        // a container deleted meanwhile.
        let shared = self.db.is_shared();
        if shared
            && containers::add_counts(tx.conn(), a, c, 0, 0)
                .await?
                .is_none()
        {
            return Err(SwiftError::not_found(""));
        }
        let old = objects::get(tx.conn(), a, c, n).await?;
        if put.must_not_exist && old.as_ref().is_some_and(|o| !self.expired(o)) {
            return Err(SwiftError::precondition_failed(""));
        }
        let (d_objects, d_bytes) = match &old {
            Some(o) => (0, row.size - o.size),
            None => (1, row.size),
        };
        let counted = if shared {
            None
        } else {
            Some(
                containers::add_counts(tx.conn(), a, c, d_objects, d_bytes)
                    .await?
                    .ok_or_else(|| SwiftError::not_found(""))?,
            )
        };
        objects::upsert(tx.conn(), row).await?;
        let cont = match counted {
            Some(cont) => cont,
            None => containers::add_counts(tx.conn(), a, c, d_objects, d_bytes)
                .await?
                .ok_or_else(|| SwiftError::not_found(""))?,
        };
        let acct = accounts::add_counts(tx.conn(), a, 0, d_objects, d_bytes).await?;
        quota::check_after(&cont, acct.as_ref(), d_objects, d_bytes, put.reseller)?;
        Ok(old)
    }

    /// After the commit: the new file stays, the replaced one goes.
    async fn finish(&self, put: Put, old: &Option<Object>) {
        put.installed.keep();
        if let Some(o) = old {
            if o.file_id != put.row.file_id {
                self.data.remove(&o.file_id).await;
            }
        }
    }
}

//! Writing objects: receiving an upload into a new file (with Swift's
//! limits enforced as the bytes arrive), and the transactions that make a
//! written file the object or remove an object.
//!
//! Every object write takes its container's row first (an `UPDATE` of the
//! counters), then reads what it replaces, writes the object row, moves
//! the container's and the account's counters and checks the quotas
//! against them, all in one transaction (on SQLite, one transaction for
//! the PUTs that arrive together: [`super::commit`]). On PostgreSQL the container row
//! lock orders concurrent writes to one container, so the object they
//! replace is always the one committed last, and its file is removed only
//! after the commit; on SQLite write transactions are serialised anyway.
//! A container deleted meanwhile has no row to update: the write is a 404
//! and its file is removed.

use super::{quota, ObjectStore, Result, SwiftError};
use crate::db::{accounts, containers, objects, objects::Object};
use crate::store::{Finished, Installed};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use std::time::Duration;

/// A request body as the operations consume it.
pub type BodyStream = BoxStream<'static, std::io::Result<Bytes>>;

/// How long Swift waits for the next chunk of an upload (`client_timeout`).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// Limits of one upload.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expect {
    /// `Content-Length`: the body must be exactly this long.
    pub length: Option<u64>,
    /// Bytes the quotas leave room for.
    pub room: Option<u64>,
}

impl ObjectStore {
    /// Streams `body` into a new fsynced temporary file, computing its MD5.
    /// 413 as soon as it passes the largest object size or the room the
    /// quotas leave (nothing is stored), 408 if the client stalls, 499 if
    /// it goes away.
    pub async fn receive(&self, mut body: BodyStream, expect: Expect) -> Result<Finished> {
        let mut w = self.data.writer_for(expect.length).await?;
        loop {
            let next = match tokio::time::timeout(CLIENT_TIMEOUT, body.next()).await {
                Err(_) => return Err(SwiftError::request_timeout("")),
                Ok(n) => n,
            };
            let chunk = match next {
                None => break,
                Some(Ok(c)) => c,
                Some(Err(e)) => {
                    tracing::info!(error = %e, "upload interrupted by the client");
                    return Err(SwiftError::client_disconnected(""));
                }
            };
            let after = w.written() + chunk.len() as u64;
            if after > self.settings.max_file_size {
                return Err(SwiftError::payload_too_large("Your request is too large."));
            }
            if expect.room.is_some_and(|r| after > r) {
                return Err(quota::exceeded());
            }
            if expect.length.is_some_and(|l| after > l) {
                return Err(SwiftError::bad_request("Body longer than Content-Length"));
            }
            w.write(chunk).await?;
        }
        if expect.length.is_some_and(|l| w.written() < l) {
            return Err(SwiftError::client_disconnected(""));
        }
        Ok(w.finish().await?)
    }

    /// Makes `row` (its data in `installed`) the object, replacing what
    /// was there; returns the replaced row. With `must_not_exist` an
    /// existing object is 412 (`If-None-Match: *`).
    ///
    /// On SQLite the row joins the next group commit ([`super::commit`]);
    /// on PostgreSQL, where writers run in parallel, it commits alone.
    pub async fn commit(
        &self,
        row: &Object,
        installed: Installed,
        reseller: bool,
        must_not_exist: bool,
    ) -> Result<Option<Object>> {
        let put = super::commit::Put {
            row: row.clone(),
            installed,
            reseller,
            must_not_exist,
        };
        if self.db.is_shared() {
            self.committer().commit_one(put).await
        } else {
            self.commits.submit(self.committer(), put).await
        }
    }

    fn committer(&self) -> super::commit::Committer {
        super::commit::Committer {
            db: self.db.clone(),
            data: self.data.clone(),
            clock: self.clock.clone(),
        }
    }

    /// Removes the object (only the version whose data is `file_id`, when
    /// given) and its data; returns what was removed.
    pub async fn remove_object(
        &self,
        account: &str,
        container: &str,
        name: &str,
        file_id: Option<&str>,
    ) -> Result<Option<Object>> {
        let mut tx = self.db.begin_write().await?;
        if containers::add_counts(tx.conn(), account, container, 0, 0)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        let Some(gone) = objects::delete(tx.conn(), account, container, name, file_id).await?
        else {
            return Ok(None);
        };
        containers::add_counts(tx.conn(), account, container, -1, -gone.size).await?;
        accounts::add_counts(tx.conn(), account, 0, -1, -gone.size).await?;
        tx.commit().await?;
        self.data.remove(&gone.file_id).await;
        Ok(Some(gone))
    }

    /// Whether `o` is past its `X-Delete-At`.
    pub fn expired(&self, o: &Object) -> bool {
        o.delete_at.is_some_and(|at| at <= self.now_secs())
    }

    /// The object if it exists and has not expired; an expired one is
    /// reclaimed on the way (Swift's expirer would remove it soon anyway).
    pub async fn live_object(
        &self,
        account: &str,
        container: &str,
        name: &str,
    ) -> Result<Option<Object>> {
        let Some(o) = objects::get(&self.db.pool, account, container, name).await? else {
            return Ok(None);
        };
        if self.expired(&o) {
            if let Err(e) = self
                .remove_object(account, container, name, Some(&o.file_id))
                .await
            {
                tracing::warn!(error = %e, "cannot reclaim an expired object");
            }
            return Ok(None);
        }
        Ok(Some(o))
    }

    /// A new row for `dest` with the data of `src` (a hard link), as
    /// server-side copy and versioned writes make them; committed.
    pub async fn copy_row(
        &self,
        src: &Object,
        container: &str,
        name: &str,
        reseller: bool,
    ) -> Result<Object> {
        let installed = self.data.duplicate(&src.file_id).await?;
        let row = Object {
            container: container.to_string(),
            name: name.to_string(),
            file_id: installed.file_id.clone(),
            created_at: self.now(),
            ..src.clone()
        };
        self.commit(&row, installed, reseller, false).await?;
        Ok(row)
    }
}

//! Background work: Swift's object expirer (objects past their
//! `X-Delete-At` are removed, data and row, every `expirer_interval`
//! seconds; reads already treat them as gone) and, once at start, the
//! sweep of data files no row names (left by a crash between installing a
//! file and committing its row, or between committing a delete and
//! removing the file).

use super::ObjectStore;
use std::future::Future;
use std::sync::Arc;

/// Rows reclaimed per batch.
const BATCH: i64 = 500;

impl ObjectStore {
    /// Runs the sweep, then the expirer until `stop` resolves.
    pub async fn run_background(
        self: Arc<Self>,
        stop: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let started = self.now_secs();
        let sweeper = self.clone();
        tokio::spawn(async move {
            match sweeper.sweep_unreferenced(started).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(files = n, "removed object data no object refers to"),
                Err(e) => tracing::warn!(error = %e, "object data sweep failed"),
            }
        });
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => return Ok(()),
                _ = tokio::time::sleep(self.settings.expirer_interval) => {}
            }
            match self.expire_once().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(objects = n, "expired objects removed"),
                Err(e) => tracing::warn!(error = %e, "object expirer pass failed"),
            }
        }
    }

    /// One expirer pass; returns how many objects it removed.
    pub async fn expire_once(&self) -> Result<u64, super::SwiftError> {
        let mut removed = 0;
        loop {
            let batch = crate::db::objects::expired(&self.db.pool, self.now_secs(), BATCH).await?;
            if batch.is_empty() {
                return Ok(removed);
            }
            let n = batch.len();
            for o in batch {
                if self
                    .remove_object(&o.account, &o.container, &o.name, Some(&o.file_id))
                    .await?
                    .is_some()
                {
                    removed += 1;
                }
            }
            if (n as i64) < BATCH {
                return Ok(removed);
            }
        }
    }

    /// Removes data files older than `before` (seconds) that no row names.
    pub async fn sweep_unreferenced(&self, before: i64) -> Result<u64, super::SwiftError> {
        let data = self.data.clone();
        let candidates = tokio::task::spawn_blocking(move || data.unreferenced_before(before))
            .await
            .map_err(|e| common::Error::internal(format!("sweep: {e}")))??;
        let mut removed = 0;
        for chunk in candidates.chunks(1000) {
            let named = crate::db::objects::referenced(&self.db.pool, chunk).await?;
            for id in chunk.iter().filter(|id| !named.contains(*id)) {
                self.data.remove(id).await;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

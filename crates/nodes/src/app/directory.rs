//! The registry as other services read it ([`NodeDirectory`]): names,
//! roles, addresses and liveness, never tokens or status documents.

use super::nodes::view_up;
use crate::db::nodes as q;
use common::clock::SharedClock;
use common::service::{BoxFuture, DirectoryEntry, NodeDirectory};
use common::Error;

/// The `nodes` table, read-only, with the registry's liveness rule.
pub struct Directory {
    db: db::Db,
    clock: SharedClock,
    down_after: i64,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("down_after", &self.down_after)
            .finish_non_exhaustive()
    }
}

impl Directory {
    pub fn new(db: db::Db, clock: SharedClock) -> Directory {
        Directory {
            db,
            clock,
            down_after: super::Settings::default().down_after,
        }
    }
}

impl NodeDirectory for Directory {
    fn nodes(&self) -> BoxFuture<'_, Result<Vec<DirectoryEntry>, Error>> {
        Box::pin(async move {
            let now = self.clock.now_micros();
            let rows = q::list(&self.db.pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(DirectoryEntry {
                    node: super::nodes::info(r)?,
                    registered_at: r.registered_at,
                    heartbeat_at: r.heartbeat_at,
                    up: view_up(r.heartbeat_at, now, self.down_after),
                });
            }
            Ok(out)
        })
    }
}

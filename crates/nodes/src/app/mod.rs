//! The node registry's rules: who may register (the join secret), how a
//! node proves itself afterwards (its token, only a hash stored), how its
//! desired-state document is assembled and long-polled, and who may list
//! nodes (admins).

pub mod directory;
pub mod nodes;

use common::auth::TokenValidator;
use common::clock::SharedClock;
pub use common::service::{DesiredStateSource, NodeInfo};
use common::Error;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// Tunables, with defaults that suit one host.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Longest a desired-state long-poll waits (`timeout=` is capped to it).
    pub long_poll_max: Duration,
    /// The wait when the agent names none.
    pub long_poll_default: Duration,
    /// Seconds without a heartbeat after which a node is shown `down`
    /// (Nova's `service_down_time`).
    pub down_after: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            long_poll_max: Duration::from_secs(60),
            long_poll_default: Duration::from_secs(30),
            down_after: 60,
        }
    }
}

/// The node registry.
pub struct Nodes {
    pub db: db::Db,
    pub clock: SharedClock,
    pub settings: Settings,
    join_secret_hash: String,
    validator: Arc<dyn TokenValidator>,
    sources: Vec<Arc<dyn DesiredStateSource>>,
    /// Set when the server stops: long-polls answer at once, so a graceful
    /// shutdown does not wait out their timeouts.
    closing: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for Nodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nodes")
            .field(
                "sources",
                &self.sources.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Nodes {
    pub fn new(
        db: db::Db,
        clock: SharedClock,
        join_secret: &str,
        validator: Arc<dyn TokenValidator>,
        sources: Vec<Arc<dyn DesiredStateSource>>,
        settings: Settings,
    ) -> Nodes {
        Nodes {
            db,
            clock,
            settings,
            join_secret_hash: hash(join_secret),
            validator,
            sources,
            closing: tokio::sync::watch::channel(false).0,
        }
    }

    /// Ends every long-poll in flight (with "nothing new") and every one
    /// that starts from now on.
    pub fn close_polls(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once [`Nodes::close_polls`] was called.
    pub(crate) async fn closed(&self) {
        let mut rx = self.closing.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// The revision-feed counters a node's document depends on.
    fn counters(&self) -> Vec<&'static str> {
        let mut c = vec![crate::REVISION];
        c.extend(self.sources.iter().map(|s| s.counter()));
        c.sort_unstable();
        c.dedup();
        c
    }

    /// Checks a user token and that its holder is an admin.
    pub async fn require_admin(&self, token: &str) -> Result<(), Error> {
        let ctx = self.validator.validate(token).await?;
        if ctx.has_role("admin") {
            Ok(())
        } else {
            Err(Error::forbidden("Listing nodes requires the admin role."))
        }
    }

    pub(crate) fn join_secret_matches(&self, presented: &str) -> bool {
        constant_time_eq(&hash(presented), &self.join_secret_hash)
    }
}

/// SHA-256 in hex: what the store keeps of node tokens. Tokens are 256
/// random bits, so an unsalted fast hash is enough (no guessing to slow).
pub(crate) fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

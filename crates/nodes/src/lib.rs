//! The controller's side of the node-agent seam: the internal API that node
//! agents call (its own port, node credentials instead of user tokens), the
//! node registry, and the per-node desired-state document.
//!
//! `api/` holds the HTTP handlers and the wire types agents share
//! ([`wire`]); `app/` the rules (join secret, node tokens, document
//! assembly, long-poll); `db/` the queries on the `nodes` table.
//!
//! A node's desired state is assembled from parts that services contribute
//! through [`DesiredStateSource`]; each part is keyed by a revision-feed
//! counter (`db::revisions`), and the document's revision is the sum of
//! the counters it depends on, so a bump of any of them wakes the node's
//! long-poll.

pub mod api;
pub mod app;
pub mod db;
pub mod secret;
pub mod wire;

pub use app::directory::Directory;
pub use app::{DesiredStateSource, NodeInfo, Nodes, Settings};

use common::config::Config;
use std::sync::Arc;

/// The revision-feed counter bumped whenever a node's registration changes.
pub const REVISION: &str = "nodes";

/// The join-secret file in the state directory.
pub const SECRET_FILE: &str = "node-secret";

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("node join secret {path}: {source}")]
    Secret {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Builds the node registry over `db`, reading (or, on first start,
/// writing) the cluster's join secret in the state directory. `sources`
/// are the services' parts of each node's desired state.
pub fn build(
    cfg: &Config,
    db: ::db::Db,
    clock: common::clock::SharedClock,
    validator: Arc<dyn common::auth::TokenValidator>,
    sources: Vec<Arc<dyn DesiredStateSource>>,
) -> Result<Arc<Nodes>, SetupError> {
    let path = cfg.state_dir.join(SECRET_FILE);
    let secret = secret::load_or_create(&path).map_err(|source| SetupError::Secret {
        path: path.clone(),
        source,
    })?;
    Ok(Arc::new(Nodes::new(
        db,
        clock,
        &secret,
        validator,
        sources,
        Settings::default(),
    )))
}

/// The internal API's base URL on `host`.
pub fn endpoint_url(cfg: &Config, host: &str) -> String {
    format!("http://{host}:{}", cfg.internal_api_port)
}

/// Serves the internal API on `listener` until `shutdown`, then ends the
/// long-polls in flight (an agent on another host keeps its connection
/// open) so the graceful stop does not wait for them.
pub async fn serve(
    nodes: Arc<Nodes>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    opts: common::http::serve::ServeOptions,
    max_body: usize,
    services: Vec<(&'static str, axum::Router)>,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "internal API for node agents");
    }
    let router = api::router(nodes.clone(), opts.renderer.clone(), max_body, services);
    let shutdown = async move {
        shutdown.await;
        nodes.close_polls();
    };
    common::http::serve::serve_with(listener, router, shutdown, opts).await
}

//! Compute v2.1 (Nova) for oxistack.
//!
//! `api/` holds the HTTP handlers, one file per URL family, and the
//! microversion negotiation; `app/` the rules (policy, validation,
//! quotas, the scheduler, the build saga); `db/` the queries; `policies`
//! Nova's default policy rules.
//!
//! Compute reaches the network service (ports for servers) and the image
//! service (boot images, snapshots) through their Rust APIs: the services
//! built before it are its `ServiceContext::peers`.
//!
//! Beside the API it serves two listeners of its own: the metadata API
//! (8775) and the noVNC console proxy (`console_proxy`, 6080), whose
//! websocket is axum's `ws` feature (tokio-tungstenite underneath).

pub mod api;
pub mod app;
pub mod config;
pub mod console_proxy;
pub mod db;
pub mod policies;

pub use app::Compute;

use common::config::Config;
use common::service::{CatalogEntry, Service, ServiceContext, ServiceDef};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Policy(#[from] common::policy::PolicyError),
    #[error(transparent)]
    Config(#[from] common::config::ConfigError),
    #[error("compute needs the {0} service, which is not built before it")]
    MissingPeer(&'static str),
    #[error("the cluster join secret {path}: {source}")]
    Secret {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("the metadata API: {0}")]
    Metadata(std::io::Error),
    #[error("the noVNC proxy: {0}")]
    ConsoleProxy(std::io::Error),
}

/// The peer service of concrete type `T` among those built before compute.
fn peer<T: Send + Sync + 'static>(
    peers: &[Arc<dyn Service>],
    service_type: &'static str,
) -> Result<Arc<T>, SetupError> {
    peers
        .iter()
        .find(|s| s.service_type() == service_type)
        .and_then(|s| s.clone().as_any().downcast::<T>().ok())
        .ok_or(SetupError::MissingPeer(service_type))
}

/// Builds the compute service from the configuration and its peers;
/// `metadata_addr` is where its metadata API listens.
///
/// The metadata proxy's shared secret is derived from the cluster's join
/// secret, `state_dir/node-secret`: read here, or written first when this
/// is a new cloud (the node registry, built after the services, reads the
/// same file; `load_or_create` settles a race on it).
pub fn build(
    cfg: &Config,
    ctx: &ServiceContext,
    metadata_addr: Option<std::net::SocketAddr>,
) -> Result<Arc<Compute>, SetupError> {
    let c: config::ComputeConfig = cfg.section()?;
    let secret_path = cfg.state_dir.join(nodes::SECRET_FILE);
    let join_secret =
        nodes::secret::load_or_create(&secret_path).map_err(|source| SetupError::Secret {
            path: secret_path.clone(),
            source,
        })?;
    let policy_file = (!c.policy_file.is_empty()).then(|| std::path::PathBuf::from(&c.policy_file));
    let policy = common::policy::Policy::new(&policies::defaults(), policy_file.as_deref())?;
    let virt = virt_driver(cfg, &c);
    Ok(Arc::new(Compute {
        db: ctx.db.clone(),
        policy,
        clock: ctx.clock.clone(),
        settings: c,
        nodes: ctx.nodes.clone(),
        network: peer(&ctx.peers, "network")?,
        image: peer(&ctx.peers, "image")?,
        local: app::hypervisors::LocalHost::from_config(cfg),
        identity: peer(&ctx.peers, "identity")?,
        virt,
        metadata_secret: nodes::secret::metadata_secret(&join_secret),
        metadata_addr,
        public_host: cfg.public_host(),
        console_proxy_port: std::sync::OnceLock::new(),
    }))
}

/// The driver `compute_driver` names: the fake one in memory, or (for
/// `qemu`, served by the agent's compute role) none yet.
fn virt_driver(cfg: &Config, c: &config::ComputeConfig) -> Arc<dyn virt::VirtDriver> {
    if cfg.compute_driver == "fake" {
        Arc::new(virt::fake::FakeDriver::new(
            c.fake_spawn_delay_ms,
            c.fake_fail_spawn,
        ))
    } else {
        Arc::new(virt::Unavailable {
            reason: "No hypervisor driver is available on this host (compute_driver = qemu \
                     needs the agent's compute role)"
                .into(),
        })
    }
}

/// How the composition root finds and builds the compute service.
pub const SERVICE: ServiceDef = ServiceDef {
    service_type: "compute",
    config: common::config::SectionDef::of::<config::ComputeConfig>(),
    port: |cfg| Ok(cfg.section::<config::ComputeConfig>()?.port),
    enabled: |_| true,
    build: |ctx| {
        Box::pin(async move {
            // The metadata API's own listener, on the shared `listen`
            // address: the seam binds one port per service, so this one is
            // bound here and served from `background`.
            let c: config::ComputeConfig = ctx.config.section()?;
            let listen: std::net::IpAddr = ctx.config.listen.parse().map_err(|_| {
                SetupError::Metadata(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("listen = {:?} is not an IP address", ctx.config.listen),
                ))
            })?;
            let listener =
                common::http::serve::bind(std::net::SocketAddr::new(listen, c.metadata_port))
                    .await
                    .map_err(SetupError::Metadata)?;
            let addr = listener.local_addr().map_err(SetupError::Metadata)?;
            let nova = build(&ctx.config, &ctx, Some(addr))?;
            // The noVNC proxy's listener, bound the same way (port 0: any,
            // which console URLs then name).
            let console_listener =
                common::http::serve::bind(std::net::SocketAddr::new(listen, c.novncproxy_port))
                    .await
                    .map_err(SetupError::ConsoleProxy)?;
            let console_port = console_listener
                .local_addr()
                .map_err(SetupError::ConsoleProxy)?
                .port();
            let _ = nova.console_proxy_port.set(console_port);
            nova.bootstrap_flavors().await?;
            tokio::spawn(nova.clone().resume_builds());
            let served: Arc<dyn Service> = Arc::new(Served {
                nova,
                ctx,
                metadata_listener: std::sync::Mutex::new(Some(listener)),
                console_listener: std::sync::Mutex::new(Some(console_listener)),
            });
            Ok(served)
        })
    },
};

/// The compute service as the composition root drives it.
struct Served {
    nova: Arc<Compute>,
    ctx: ServiceContext,
    /// Bound at build, taken when `background` starts serving it.
    metadata_listener: std::sync::Mutex<Option<tokio::net::TcpListener>>,
    /// The noVNC proxy's, likewise.
    console_listener: std::sync::Mutex<Option<tokio::net::TcpListener>>,
}

impl Service for Served {
    fn service_type(&self) -> &'static str {
        SERVICE.service_type
    }

    /// Nova registers `/v2.1` without a project id (microversion 2.18
    /// made it optional; every current client copes).
    fn catalog_entry(&self) -> CatalogEntry {
        let port = self.ctx.port;
        CatalogEntry::on_hosts(
            &self.ctx.config,
            "compute",
            "nova",
            "OpenStack Compute",
            |host| format!("http://{host}:{port}/v2.1"),
        )
    }

    fn router(self: Arc<Self>) -> axum::Router {
        api::router(
            self.nova.clone(),
            self.ctx.validator.clone(),
            self.ctx.config.max_request_body_size,
        )
    }

    fn renderer(&self) -> common::http::Renderer {
        Arc::new(api::errors::Nova)
    }

    fn policy(&self) -> Option<&common::policy::Policy> {
        Some(&self.nova.policy)
    }

    /// Serves the metadata API and the noVNC proxy until `stop`.
    fn background(
        self: Arc<Self>,
        stop: common::service::Stop,
    ) -> Option<common::service::BoxFuture<'static, std::io::Result<()>>> {
        let listener = self.metadata_listener.lock().ok()?.take()?;
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "metadata API");
        }
        let router =
            api::metadata::router(self.nova.clone(), self.ctx.config.max_request_body_size);
        let opts = common::http::serve::ServeOptions {
            header_read_timeout: std::time::Duration::from_secs(
                self.ctx.config.header_read_timeout,
            ),
            renderer: Arc::new(api::errors::Nova),
        };
        let console_listener = self.console_listener.lock().ok()?.take()?;
        if let Ok(addr) = console_listener.local_addr() {
            tracing::info!(%addr, "noVNC proxy");
        }
        use futures_util::FutureExt;
        let stop = stop.shared();
        let metadata = common::http::serve::serve_with(listener, router, stop.clone(), opts);
        let proxy = console_proxy::serve(
            console_listener,
            self.nova.clone(),
            std::path::PathBuf::from(&self.nova.settings.novnc_dir),
            stop,
        );
        Some(Box::pin(async move {
            tokio::try_join!(metadata, proxy)?;
            Ok(())
        }))
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
        self.nova.clone()
    }
}

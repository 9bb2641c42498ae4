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
pub mod remote;

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
    Ok(build_with_remote(cfg, ctx, metadata_addr)?.0)
}

/// As [`build`], also answering the remote driver's hub when
/// `compute_driver = "qemu"` (the feed and the reports go through it).
pub fn build_with_remote(
    cfg: &Config,
    ctx: &ServiceContext,
    metadata_addr: Option<std::net::SocketAddr>,
) -> Result<(Arc<Compute>, Option<Arc<remote::Hub>>), SetupError> {
    let c: config::ComputeConfig = cfg.section()?;
    let secret_path = cfg.state_dir.join(nodes::SECRET_FILE);
    let join_secret =
        nodes::secret::load_or_create(&secret_path).map_err(|source| SetupError::Secret {
            path: secret_path.clone(),
            source,
        })?;
    let policy_file = (!c.policy_file.is_empty()).then(|| std::path::PathBuf::from(&c.policy_file));
    let policy = common::policy::Policy::new(&policies::defaults(), policy_file.as_deref())?;
    let image: Arc<image::Image> = peer(&ctx.peers, "image")?;
    let (virt, hub) = virt_driver(cfg, &c, ctx, image.clone());
    let nova = Arc::new(Compute {
        db: ctx.db.clone(),
        policy,
        clock: ctx.clock.clone(),
        settings: c,
        nodes: ctx.nodes.clone(),
        network: peer(&ctx.peers, "network")?,
        image,
        local: app::hypervisors::LocalHost::from_config(cfg),
        identity: peer(&ctx.peers, "identity")?,
        virt,
        metadata_secret: nodes::secret::metadata_secret(&join_secret),
        metadata_addr,
        public_host: cfg.public_host(),
        console_proxy_port: std::sync::OnceLock::new(),
        glance_url: ctx
            .peers
            .iter()
            .find(|s| s.service_type() == "image")
            .map(|s| s.catalog_entry().internal_url)
            .unwrap_or_default(),
    });
    Ok((nova, hub))
}

/// The driver `compute_driver` names: the fake one in memory, or (for
/// `qemu`) the remote driver, whose calls the node agents' compute role
/// runs; with it, the hub its feed and reports share.
fn virt_driver(
    cfg: &Config,
    c: &config::ComputeConfig,
    ctx: &ServiceContext,
    image: Arc<image::Image>,
) -> (Arc<dyn virt::VirtDriver>, Option<Arc<remote::Hub>>) {
    if cfg.compute_driver == "fake" {
        let fake = virt::fake::FakeDriver::new(c.fake_spawn_delay_ms, c.fake_fail_spawn)
            .with_images(Arc::new(StoreFetcher { image }))
            .with_snapshot_delay(c.fake_snapshot_delay_ms);
        (Arc::new(fake), None)
    } else {
        let hub = remote::Hub::new(
            ctx.db.clone(),
            ctx.clock.clone(),
            std::time::Duration::from_secs(c.agent_call_timeout_s),
            std::time::Duration::from_secs(c.agent_spawn_timeout_s),
        );
        (Arc::new(remote::RemoteDriver::new(hub.clone())), Some(hub))
    }
}

/// Image bytes from the image service's own store, so the fake driver's
/// guests hold their image's data (and its snapshots hand it back).
struct StoreFetcher {
    image: Arc<image::Image>,
}

impl virt::ImageFetcher for StoreFetcher {
    fn fetch<'a>(
        &'a self,
        image_id: &'a str,
    ) -> futures_util::future::BoxFuture<
        'a,
        virt::VirtResult<futures_util::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>>,
    > {
        use futures_util::StreamExt;
        use tokio::io::AsyncReadExt;
        Box::pin(async move {
            // Nova reads a server's image with its own credentials: the
            // image may since have been made private to another project.
            let svc = app::servers::service_context("", "nova");
            let download = self
                .image
                .download(&svc, image_id)
                .await
                .map_err(|e| virt::VirtError::Failed(e.to_string()))?
                .ok_or_else(|| virt::VirtError::Failed(format!("Image {image_id} has no data.")))?;
            let chunks = futures_util::stream::try_unfold(download.file, |mut f| async move {
                let mut buf = vec![0u8; 64 * 1024];
                let n = f.read(&mut buf).await?;
                if n == 0 {
                    return Ok(None);
                }
                buf.truncate(n);
                Ok(Some((bytes::Bytes::from(buf), f)))
            });
            Ok(chunks.boxed())
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
            let (nova, hub) = build_with_remote(&ctx.config, &ctx, Some(addr))?;
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
                hub,
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
    /// The remote driver's hub (`compute_driver = "qemu"`).
    hub: Option<Arc<remote::Hub>>,
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

    /// The node agents' image downloads and snapshot uploads, with the
    /// remote driver only.
    fn internal_router(self: Arc<Self>) -> Option<axum::Router> {
        let hub = self.hub.clone()?;
        Some(remote::internal::router(self.nova.clone(), hub))
    }

    /// The compute part of node documents, with the remote driver only.
    fn desired_state(self: Arc<Self>) -> Option<Arc<dyn common::service::DesiredStateSource>> {
        let hub = self.hub.clone()?;
        Some(Arc::new(remote::ComputeSource {
            compute: Arc::downgrade(&self.nova),
            hub,
        }))
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

//! Starting and stopping the all-in-one cloud.

use crate::state::StateDir;
use anyhow::{Context, Result};
use common::config::Config;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One API the cloud serves.
#[derive(Debug, Clone)]
pub struct ServedApi {
    pub name: &'static str,
    pub addr: SocketAddr,
    /// The URL clients use (the catalog's public URL).
    pub url: String,
}

/// A running cloud.
pub struct Cloud {
    pub identity: Arc<identity::Identity>,
    pub image: Arc<image::Glance>,
    /// The object store, unless `enable_swift` is off.
    pub object_store: Option<Arc<object_store::ObjectStore>>,
    pub apis: Vec<ServedApi>,
    pub clouds_yaml: std::path::PathBuf,
    /// The state directory's admin password (stale when `admin_password_current` is false).
    pub admin_password: String,
    /// Whether the admin password file still matches the store: false
    /// after a change through the API; then `clouds.yaml` and
    /// `admin-openrc.sh` are left as they were rather than rewritten with
    /// a password that no longer works.
    pub admin_password_current: bool,
    pub state: StateDir,
    stop: watch::Sender<bool>,
    servers: Vec<JoinHandle<std::io::Result<()>>>,
}

impl std::fmt::Debug for Cloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cloud").field("apis", &self.apis).finish()
    }
}

impl Cloud {
    /// Opens state and store, binds every API, bootstraps, and serves.
    /// A port of 0 in the configuration binds a free port (tests). A first
    /// start that fails leaves no half-made state directory behind.
    pub async fn start(cfg: Config, clock: common::clock::SharedClock) -> Result<Cloud> {
        let state = StateDir::open(&cfg.state_dir)?;
        let path = state.path.clone();
        let fresh = state.fresh;
        match Self::start_in(state, cfg, clock).await {
            Ok(c) => Ok(c),
            Err(e) => {
                // `start_in` dropped the lock with its state; nobody else
                // can have started here in between without finding our
                // leftovers, and the directory is ours only when fresh.
                StateDir::discard(&path, fresh);
                Err(e)
            }
        }
    }

    async fn start_in(
        state: StateDir,
        mut cfg: Config,
        clock: common::clock::SharedClock,
    ) -> Result<Cloud> {
        let listen: IpAddr = cfg.listen.parse().context("listen address")?;
        // Bind first: a port already in use should fail the start before
        // anything is written, and port 0 must be known for the catalog.
        let identity_listener =
            common::http::serve::bind(SocketAddr::new(listen, cfg.identity.port)).await?;
        cfg.identity.port = identity_listener.local_addr()?.port();
        let image_listener =
            common::http::serve::bind(SocketAddr::new(listen, cfg.image.port)).await?;
        cfg.image.port = image_listener.local_addr()?.port();
        let object_store_listener = if cfg.enable_swift {
            let l =
                common::http::serve::bind(SocketAddr::new(listen, cfg.object_store.port)).await?;
            cfg.object_store.port = l.local_addr()?.port();
            Some(l)
        } else {
            None
        };

        let db = db::Db::open(&cfg.database_url())
            .await
            .with_context(|| format!("opening the store {}", db::redact(&cfg.database_url())))?;
        let identity = identity::build(&cfg, db.clone(), clock.clone())?;
        let image = image::build(&cfg, db.clone(), clock.clone()).await?;
        let object_store = if cfg.enable_swift {
            let validator: Arc<dyn common::auth::TokenValidator> = identity.clone();
            Some(object_store::build(&cfg, db, clock, validator)?)
        } else {
            None
        };
        let mut catalog = vec![identity::catalog_entry(&cfg), image_catalog_entry(&cfg)];
        let mut extra_roles = vec![];
        if cfg.enable_swift {
            catalog.push(object_store_catalog_entry(&cfg));
            // Swift's reseller admin: the only role that sets account quotas.
            extra_roles.push(cfg.object_store.reseller_admin_role.clone());
        }
        let admin_password = state.admin_password()?;
        // The demo password is kept only once the demo user exists: an
        // older cloud resumed here gets no demo entry that cannot log in.
        let demo_password = state.demo_password();
        let spec = identity::BootstrapSpec {
            admin_password: admin_password.clone(),
            region: cfg.region.clone(),
            catalog,
            extra_roles,
            demo_password: Some(
                demo_password
                    .clone()
                    .unwrap_or_else(crate::state::new_password),
            ),
        };
        let boot = identity
            .bootstrap(&spec)
            .await
            .map_err(|e| anyhow::anyhow!("bootstrap: {e}"))?;
        if boot.created {
            tracing::info!(admin_project = %boot.admin_project_id, "bootstrapped a new cloud");
        } else {
            tracing::info!("resuming the existing cloud");
        }
        let demo_password = match (boot.demo_created, spec.demo_password) {
            (true, Some(pw)) => {
                crate::state::write_private(
                    &state.path.join(crate::state::DEMO_PASSWORD_FILE),
                    &format!("{pw}\n"),
                )?;
                Some(pw)
            }
            _ => demo_password,
        };
        let auth_url = identity::catalog_entry(&cfg).public_url;
        let admin_password_current = identity
            .admin_password_matches(&admin_password)
            .await
            .map_err(|e| anyhow::anyhow!("checking the admin password: {e}"))?;
        let clouds_yaml = state.path.join("clouds.yaml");
        if admin_password_current {
            state.write_client_files(
                &auth_url,
                &admin_password,
                &cfg.region,
                demo_password.as_deref(),
            )?;
        } else {
            tracing::warn!(
                "the admin password was changed through the API since {} was written; \
                 clouds.yaml and admin-openrc.sh are left as they are \
                 (`oxistack admin reset-password` sets a new one and rewrites them)",
                state.path.join(crate::state::ADMIN_PASSWORD_FILE).display()
            );
        }

        let (stop, stop_rx) = watch::channel(false);
        let header_read_timeout = std::time::Duration::from_secs(cfg.header_read_timeout);
        let mut servers = Vec::new();
        let mut apis = Vec::new();
        let router = identity::api::router(identity.clone(), cfg.max_request_body_size);
        apis.push(ServedApi {
            name: "identity",
            addr: identity_listener.local_addr()?,
            url: auth_url,
        });
        servers.push(tokio::spawn(common::http::serve::serve_with(
            identity_listener,
            router,
            wait_stop(stop_rx.clone()),
            common::http::serve::ServeOptions {
                header_read_timeout,
                renderer: Arc::new(identity::api::errors::Keystone),
            },
        )));
        let validator: Arc<dyn common::auth::TokenValidator> = identity.clone();
        let image_router = image::api::router(image.clone(), validator, cfg.max_request_body_size);
        apis.push(ServedApi {
            name: "image",
            addr: image_listener.local_addr()?,
            url: image::endpoint_url(&cfg, &cfg.public_host()),
        });
        servers.push(tokio::spawn(common::http::serve::serve_with(
            image_listener,
            image_router,
            wait_stop(stop_rx.clone()),
            common::http::serve::ServeOptions {
                header_read_timeout,
                renderer: Arc::new(image::api::errors::Glance),
            },
        )));
        servers.push(tokio::spawn(
            image.clone().run_background(wait_stop(stop_rx.clone())),
        ));
        if let (Some(store), Some(listener)) = (&object_store, object_store_listener) {
            let router = object_store::api::router(store.clone(), cfg.max_request_body_size);
            apis.push(ServedApi {
                name: "object-store",
                addr: listener.local_addr()?,
                url: object_store::endpoint_url(&cfg, &cfg.public_host()),
            });
            servers.push(tokio::spawn(common::http::serve::serve_with(
                listener,
                router,
                wait_stop(stop_rx.clone()),
                common::http::serve::ServeOptions {
                    header_read_timeout,
                    renderer: Arc::new(object_store::api::errors::Swift),
                },
            )));
            servers.push(tokio::spawn(
                store.clone().run_background(wait_stop(stop_rx.clone())),
            ));
        }
        state.write_pid()?;
        let bound: Vec<(&str, SocketAddr)> = apis.iter().map(|a| (a.name, a.addr)).collect();
        state.write_apis(&bound)?;
        Ok(Cloud {
            identity,
            image,
            object_store,
            apis,
            clouds_yaml,
            admin_password,
            admin_password_current,
            state,
            stop,
            servers,
        })
    }

    /// The `oxistack ready:` line.
    pub fn ready_line(&self) -> String {
        let eps: Vec<String> = self
            .apis
            .iter()
            .map(|a| format!("{}={}", a.name, a.url))
            .collect();
        format!(
            "oxistack ready: {} clouds.yaml={}",
            eps.join(" "),
            self.clouds_yaml.display()
        )
    }

    pub fn url(&self, name: &str) -> Option<&str> {
        self.apis
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.url.as_str())
    }

    /// Re-reads the identity and image policy files (on SIGHUP). A file
    /// that fails to parse is reported and its service keeps the rules in
    /// force. Returns one line per service that has a policy file.
    pub fn reload_policies(&self) -> Vec<Result<String, String>> {
        let mut out = Vec::new();
        for (name, policy) in [
            ("identity", &self.identity.policy),
            ("image", &self.image.policy),
        ] {
            match policy.reload() {
                Ok(Some(f)) => out.push(Ok(format!("{name} policy {}", f.display()))),
                Ok(None) => {}
                Err(e) => out.push(Err(format!("{name}: {e}; the previous rules stay"))),
            }
        }
        out
    }

    /// Stops accepting, lets requests in flight finish (up to `grace`), and
    /// closes the store.
    pub async fn shutdown(self, grace: std::time::Duration) {
        let _ = self.stop.send(true);
        let all = futures_join(self.servers);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("requests still running after {grace:?}; stopping anyway");
        }
        self.identity.db.close().await;
        self.state.remove_pid();
    }
}

/// The catalog entry for the image service.
fn image_catalog_entry(cfg: &Config) -> identity::CatalogEntry {
    identity::CatalogEntry {
        service_type: "image".into(),
        name: "glance".into(),
        description: "OpenStack Image".into(),
        public_url: image::endpoint_url(cfg, &cfg.public_host()),
        internal_url: image::endpoint_url(cfg, &cfg.internal_host()),
        admin_url: image::endpoint_url(cfg, &cfg.internal_host()),
    }
}

/// The catalog entry for the object store (`…/v1/AUTH_%(project_id)s`).
fn object_store_catalog_entry(cfg: &Config) -> identity::CatalogEntry {
    identity::CatalogEntry {
        service_type: "object-store".into(),
        name: "swift".into(),
        description: "OpenStack Object Storage".into(),
        public_url: object_store::endpoint_url(cfg, &cfg.public_host()),
        internal_url: object_store::endpoint_url(cfg, &cfg.internal_host()),
        admin_url: object_store::endpoint_url(cfg, &cfg.internal_host()),
    }
}

async fn futures_join(handles: Vec<JoinHandle<std::io::Result<()>>>) {
    for h in handles {
        match h.await {
            Ok(Err(e)) => tracing::error!(error = %e, "server stopped with an error"),
            Err(e) => tracing::error!(error = %e, "server task failed"),
            Ok(Ok(())) => {}
        }
    }
}

async fn wait_stop(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

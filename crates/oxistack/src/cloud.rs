//! Starting and stopping the all-in-one cloud.

use crate::state::StateDir;
use anyhow::{Context, Result};
use common::config::{Config, SectionDef};
use common::service::{Service, ServiceContext, ServiceDef};
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

/// Every service besides identity, in the order they start. Adding a
/// service is a new crate exporting its `SERVICE` and one line here.
pub const SERVICES: &[ServiceDef] = &[
    image::SERVICE,
    object_store::SERVICE,
    network::SERVICE,
    compute::SERVICE,
];

/// Every service's section of the configuration file, identity's first,
/// then the node agent's `[agent]`: the sections a file may hold (a
/// disabled service's too), in the order errors list them.
pub fn config_sections() -> Vec<SectionDef> {
    std::iter::once(&identity::SERVICE)
        .chain(SERVICES)
        .map(|d| d.config)
        .chain(std::iter::once(
            SectionDef::of::<agent::config::AgentSection>(),
        ))
        .collect()
}

/// A running cloud.
pub struct Cloud {
    pub identity: Arc<identity::Identity>,
    /// Every service that runs, identity first.
    pub services: Vec<Arc<dyn Service>>,
    /// The node registry, served on the internal API at `internal_api`.
    pub nodes: Arc<nodes::Nodes>,
    pub internal_api: SocketAddr,
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
        Self::start_with_agent(cfg, clock, |_: &agent::AgentConfig| Ok(Vec::new())).await
    }

    /// [`Cloud::start`], with the in-process agent running the handlers
    /// `handlers` makes from its configuration (join secret, internal API)
    /// once the cloud has them (`oxistack up --dataplane linux`: the
    /// network role, see `agent::config::network_handler`). Plain `start`
    /// runs it with none, so a cloud embedded in a test never touches the
    /// host.
    pub async fn start_with_agent(
        cfg: Config,
        clock: common::clock::SharedClock,
        handlers: impl FnOnce(&agent::AgentConfig) -> Result<Vec<Arc<dyn agent::RoleHandler>>, String>,
    ) -> Result<Cloud> {
        // Every section is checked before the state directory is touched,
        // also for a configuration changed after it was loaded (tests).
        cfg.validate_with(&config_sections())?;
        let state = StateDir::open(&cfg.state_dir)?;
        let path = state.path.clone();
        let fresh = state.fresh;
        match Self::start_in(state, cfg, clock, handlers).await {
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
        handlers: impl FnOnce(&agent::AgentConfig) -> Result<Vec<Arc<dyn agent::RoleHandler>>, String>,
    ) -> Result<Cloud> {
        let listen: IpAddr = cfg.listen.parse().context("listen address")?;
        // Bind first: a port already in use should fail the start before
        // anything is written, and port 0 must be known for the catalog.
        let defs: Vec<&ServiceDef> = std::iter::once(&identity::SERVICE)
            .chain(SERVICES.iter().filter(|d| (d.enabled)(&cfg)))
            .collect();
        let mut listeners = Vec::new();
        for def in &defs {
            let l = common::http::serve::bind(SocketAddr::new(listen, (def.port)(&cfg)?)).await?;
            listeners.push(l);
        }

        let internal_listener =
            common::http::serve::bind(SocketAddr::new(listen, cfg.internal_api_port)).await?;
        cfg.internal_api_port = internal_listener.local_addr()?.port();

        let db = db::Db::open(&cfg.database_url())
            .await
            .with_context(|| format!("opening the store {}", db::redact(&cfg.database_url())))?;
        let config = Arc::new(cfg);
        let identity = identity::build(&config, db.clone(), clock.clone())?;
        let validator: Arc<dyn common::auth::TokenValidator> = identity.clone();
        let directory: Arc<dyn common::service::NodeDirectory> =
            Arc::new(nodes::Directory::new(db.clone(), clock.clone()));
        let mut services = Vec::new();
        for (def, listener) in defs.iter().zip(&listeners) {
            let ctx = ServiceContext {
                config: config.clone(),
                db: db.clone(),
                clock: clock.clone(),
                validator: validator.clone(),
                port: listener.local_addr()?.port(),
                nodes: directory.clone(),
                peers: services.clone(),
            };
            let svc = if def.service_type == identity::SERVICE.service_type {
                identity::service(identity.clone(), &ctx)
            } else {
                (def.build)(ctx)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {e}", def.service_type))?
            };
            services.push(svc);
        }
        let sources = services
            .iter()
            .filter_map(|s| s.clone().desired_state())
            .collect();
        let nodes = nodes::build(
            &config,
            db.clone(),
            clock.clone(),
            validator.clone(),
            sources,
        )?;
        let cfg = &*config;
        let catalog = services.iter().map(|s| s.catalog_entry()).collect();
        let extra_roles = services.iter().flat_map(|s| s.extra_roles()).collect();
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
        let auth_url = services[0].catalog_entry().public_url;
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

        // The agent's handlers are made before anything is served, so one
        // that cannot be made fails the start with nothing running.
        let local = agent::local(cfg, internal_listener.local_addr()?)?;
        let handlers = handlers(&local).map_err(|e| anyhow::anyhow!(e))?;
        let (stop, stop_rx) = watch::channel(false);
        let header_read_timeout = std::time::Duration::from_secs(cfg.header_read_timeout);
        let mut servers = Vec::new();
        let mut apis = Vec::new();
        for (svc, listener) in services.iter().zip(listeners) {
            apis.push(ServedApi {
                name: svc.service_type(),
                addr: listener.local_addr()?,
                url: svc.catalog_entry().public_url,
            });
            servers.push(tokio::spawn(common::http::serve::serve_with(
                listener,
                svc.clone().router(),
                wait_stop(stop_rx.clone()),
                common::http::serve::ServeOptions {
                    header_read_timeout,
                    renderer: svc.renderer(),
                },
            )));
            if let Some(work) = svc.clone().background(Box::pin(wait_stop(stop_rx.clone()))) {
                servers.push(tokio::spawn(work));
            }
        }
        let internal_api = internal_listener.local_addr()?;
        servers.push(tokio::spawn(nodes::serve(
            nodes.clone(),
            internal_listener,
            wait_stop(stop_rx.clone()),
            common::http::serve::ServeOptions {
                header_read_timeout,
                // The internal API speaks Keystone's error body, as the
                // cloud's auth does.
                renderer: std::sync::Arc::new(identity::api::errors::Keystone),
            },
            cfg.max_request_body_size,
            services
                .iter()
                .filter_map(|s| Some((s.service_type(), s.clone().internal_router()?)))
                .collect(),
        )));
        servers.push(tokio::spawn(agent::run(
            local,
            handlers,
            wait_stop(stop_rx.clone()),
            None,
        )));
        state.write_pid()?;
        let bound: Vec<(&str, SocketAddr)> = apis.iter().map(|a| (a.name, a.addr)).collect();
        state.write_apis(&bound)?;
        Ok(Cloud {
            identity,
            services,
            nodes,
            internal_api,
            apis,
            clouds_yaml,
            admin_password,
            admin_password_current,
            state,
            stop,
            servers,
        })
    }

    /// The running service of type `T` (`image::Image`,
    /// `object_store::ObjectStore`), if this cloud runs it.
    pub fn service<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.services
            .iter()
            .find_map(|s| s.clone().as_any().downcast::<T>().ok())
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

    /// Re-reads the services' policy files (on SIGHUP). A file that
    /// fails to parse is reported and its service keeps the rules in
    /// force. Returns one line per service that has a policy file.
    pub fn reload_policies(&self) -> Vec<Result<String, String>> {
        let mut out = Vec::new();
        for svc in &self.services {
            let Some(policy) = svc.policy() else {
                continue;
            };
            let name = svc.service_type();
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
        for svc in self.services.iter().rev() {
            svc.shutdown().await;
        }
        self.identity.db.close().await;
        self.state.remove_pid();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The file's errors read as they did when `common` held every
    /// section: the sections are listed among the file's keys, in order,
    /// and a section's errors carry its path.
    #[test]
    fn every_section_is_a_key_of_the_file() {
        let err = |t: &str| {
            Config::from_toml(t, Vec::new(), &config_sections())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("no_such_key = 1"),
            "invalid configuration: unknown field `no_such_key`, expected one of `listen`, \
             `internal_address`, `public_address`, `network_interface`, \
             `neutron_external_interface`, `state_dir`, `database_url`, `region`, \
             `compute_driver`, `dataplane`, `enable_cinder`, `enable_swift`, \
             `enable_horizon`, `max_request_body_size`, `log_level`, `header_read_timeout`, \
             `internal_api_port`, `identity`, `image`, `object_store`, `network`, `compute`, \
             `agent`\n"
        );
        assert_eq!(
            err("[no_such]\nx = 1"),
            err("no_such_key = 1").replace("no_such_key", "no_such")
        );
        assert_eq!(
            err("[identity]\nport = \"x\""),
            "invalid configuration: invalid type: string \"x\", expected u16\nin `identity.port`\n"
        );
        // A disabled service's section is still accepted and checked.
        let c = Config::from_toml(
            "enable_swift = false\n[object_store]\nport = 8081\n",
            Vec::new(),
            &config_sections(),
        )
        .unwrap();
        assert_eq!((object_store::SERVICE.port)(&c).unwrap(), 8081);
        assert!(
            err("enable_swift = false\n[object_store]\nexpirer_interval = 0\n")
                .contains("object_store.expirer_interval")
        );
        // The command line's round trip keeps every section.
        let c = Config::from_toml(
            "[identity]\nport = 5001\n[image]\nquota_images = 3\n",
            vec![("OXISTACK_OBJECT_STORE_PORT".into(), "8082".into())],
            &config_sections(),
        )
        .unwrap();
        let back =
            Config::from_toml(&c.to_toml().unwrap(), Vec::new(), &config_sections()).unwrap();
        assert_eq!(back, c);
        assert_eq!((identity::SERVICE.port)(&back).unwrap(), 5001);
        assert_eq!((object_store::SERVICE.port)(&back).unwrap(), 8082);
    }

    /// A configuration changed after loading (as tests do) is checked
    /// before the state directory is made.
    #[tokio::test]
    async fn an_invalid_section_fails_the_start_before_anything_is_written() {
        let dir = std::env::temp_dir().join(format!("oxistack-cfg-{}", common::ids::hex_id()));
        let mut cfg = Config {
            state_dir: dir.clone(),
            ..Config::default()
        };
        cfg.update_section::<image::config::ImageConfig>(|c| c.list_limit = 0)
            .unwrap();
        let clock: common::clock::SharedClock = Arc::new(common::clock::SystemClock);
        let e = Cloud::start(cfg, clock).await.err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("invalid configuration: image.list_limit must be between 1 and image.list_limit_max")
        );
        assert!(!dir.exists());
    }
}

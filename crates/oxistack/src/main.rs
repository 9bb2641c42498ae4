//! `oxistack`: the command line. Each subcommand loads the configuration
//! and calls into a library; nothing else lives here.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use common::config::Config;
use std::io::IsTerminal;
use std::path::PathBuf;
use tracing_subscriber::prelude::*;

/// The configuration file read when `--config` is not given.
const DEFAULT_CONFIG: &str = "/etc/oxistack/oxistack.toml";

const ENV_HELP: &str = "\
Configuration: command-line options win over OXISTACK_* environment variables,
which win over the configuration file, which wins over the defaults. Every key
of the file has a variable: OXISTACK_<KEY> for a top-level key, and
OXISTACK_<SECTION>_<KEY> for a key in a section, e.g. OXISTACK_LISTEN,
OXISTACK_STATE_DIR, OXISTACK_LOG_LEVEL, OXISTACK_DATABASE_URL,
OXISTACK_ENABLE_SWIFT=false, OXISTACK_IDENTITY_PORT,
OXISTACK_IDENTITY_TOKEN_EXPIRATION, OXISTACK_OBJECT_STORE_DATA_DIR.
RUST_LOG, when set, wins over log_level.

Signals: SIGTERM and Ctrl-C stop cleanly; SIGHUP re-reads the configuration's
log_level and the policy files (fernet keys are picked up without a signal).";

#[derive(Parser, Debug)]
#[command(
    name = "oxistack",
    version,
    about = "A private cloud that speaks the OpenStack APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Debug, Clone)]
struct Common {
    /// Configuration file [default: /etc/oxistack/oxistack.toml, whose
    /// absence means the defaults; a file given here must exist].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// State directory: database, keys, images, objects, credentials
    /// [default: state_dir of the configuration, /var/lib/oxistack].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the all-in-one cloud in the foreground.
    #[command(after_help = ENV_HELP)]
    Up {
        #[command(flatten)]
        common: Common,
        /// Address every API binds on its standard port (identity 5000,
        /// image 9292, object store 8080) [default: listen of the
        /// configuration, 127.0.0.1].
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// `qemu` runs real guests, `fake` only records them [default:
        /// compute_driver of the configuration, qemu].
        #[arg(long, value_parser = ["qemu", "fake"])]
        compute_driver: Option<String>,
        /// `none` never changes the host (no bridges, namespaces or
        /// nftables) [default: dataplane of the configuration, linux].
        #[arg(long, value_parser = ["linux", "none"])]
        dataplane: Option<String>,
    },
    /// Whether a cloud runs on the state directory, which APIs answer,
    /// where the state and credentials are. Exits 0 when running and every
    /// API answers, 3 otherwise.
    Status {
        #[command(flatten)]
        common: Common,
    },
    /// Identity administration.
    Identity {
        #[command(subcommand)]
        command: IdentityCommand,
    },
    /// Cloud administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Benchmarks against a running cloud.
    Bench(bench::BenchArgs),
    /// Print a service's OpenAPI document (pretty JSON, stable order), as
    /// checked in under docs/openapi/: `oxistack openapi image >
    /// docs/openapi/image.json` regenerates it.
    Openapi {
        /// The service type.
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(oxistack::openapi::services()))]
        service: String,
    },
    /// Run a node agent for this host against a controller's internal API
    /// (`oxistack up` runs one in-process; this is for other hosts).
    Agent {
        /// The controller's internal API, e.g. http://ctl:9800.
        #[arg(long, value_name = "URL")]
        controller: String,
        /// This node's name [default: the host name].
        #[arg(long, value_name = "NAME")]
        node_name: Option<String>,
        /// The roles this host takes.
        #[arg(long, value_delimiter = ',', default_value = "network,compute")]
        roles: Vec<String>,
        /// The cluster join secret's file (the controller's
        /// state_dir/node-secret, copied here).
        #[arg(long, value_name = "PATH")]
        secret_file: PathBuf,
        /// The address other nodes reach this host on (reported to the
        /// controller).
        #[arg(long, value_name = "ADDR", default_value = "")]
        address: String,
        /// The configuration file whose `[agent]` and `[network]
        /// physical_interface_mappings` (and shared keys) set the network
        /// role up; the options below win over it.
        #[command(flatten)]
        common: Common,
        /// network role: this host's VXLAN tunnel endpoint (IPv4)
        /// [default: agent.local_ip, else the tunnel interface's address].
        #[arg(long, value_name = "ADDR")]
        tunnel_ip: Option<std::net::Ipv4Addr>,
        /// network role: the underlay device VXLAN devices are bound to
        /// [default: agent.tunnel_interface, else network_interface].
        #[arg(long, value_name = "NAME")]
        tunnel_dev: Option<String>,
        /// network role: flat networks' interfaces, PHYSNET:INTERFACE,…
        /// [default: [network] physical_interface_mappings, an empty
        /// interface meaning neutron_external_interface].
        #[arg(long, value_name = "MAPPINGS")]
        physical_interface_mappings: Option<String>,
        /// network role: the network namespace it works in [default:
        /// agent.netns, else the agent's own].
        #[arg(long, value_name = "NAME")]
        netns: Option<String>,
        /// network role: prefix of the namespaces it makes (simulated
        /// hosts sharing one kernel) [default: agent.node_prefix].
        #[arg(long, value_name = "PREFIX")]
        node_prefix: Option<String>,
        /// network role: where the DHCP servers (dnsmasq) of the networks
        /// scheduled here keep their files [default: agent.dhcp_state_dir,
        /// else STATE_DIR-dhcp, beside the private state directory].
        #[arg(long, value_name = "PATH")]
        dhcp_state_dir: Option<PathBuf>,
        /// network role: the metadata API the proxy on 169.254.169.254
        /// forwards to [default: port 8775 on the controller's host].
        #[arg(long, value_name = "URL")]
        metadata_url: Option<String>,
        #[arg(long, default_value = "info")]
        log_level: String,
    },
    /// The node registry.
    Nodes {
        #[command(subcommand)]
        command: NodesCommand,
    },
}

#[derive(Subcommand, Debug)]
enum NodesCommand {
    /// Every registered node, its roles, whether it is up and when it last
    /// reported.
    List {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand, Debug)]
enum IdentityCommand {
    /// Rotate the fernet keys (staged becomes primary); running processes
    /// pick the new keys up within a second. Refuses a state directory
    /// that holds no cloud.
    RotateKeys {
        #[command(flatten)]
        common: Common,
    },
    /// Rotate the credential encryption keys and re-encrypt every stored
    /// credential with the new primary key. Refuses a state directory that
    /// holds no cloud.
    RotateCredentialKeys {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Set a new password for the bootstrap `admin` user (random unless
    /// given), store it in the state directory's admin-password file and
    /// rewrite clouds.yaml and admin-openrc.sh. Works while the cloud runs.
    ResetPassword {
        #[command(flatten)]
        common: Common,
        /// The new password (visible to other users of this host in the
        /// process list; omit it for a random one).
        #[arg(long)]
        password: Option<String>,
    },
}

fn load(common: &Common) -> Result<Config> {
    let sections = oxistack::cloud::config_sections();
    let mut cfg = match &common.config {
        Some(path) => Config::load_given(path, std::env::vars(), &sections),
        None => Config::load(
            std::path::Path::new(DEFAULT_CONFIG),
            std::env::vars(),
            &sections,
        ),
    }?;
    if let Some(d) = &common.state_dir {
        cfg.state_dir = d.clone();
    }
    Ok(cfg)
}

type LogHandle =
    tracing_subscriber::reload::Handle<tracing_subscriber::EnvFilter, tracing_subscriber::Registry>;

/// Logs to stderr, in colour only on a terminal (journald and files get
/// plain text). The handle changes the level on SIGHUP.
fn init_logging(level: &str) -> LogHandle {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .init();
    handle
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let code = rt.block_on(run(cli))?;
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}

async fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Up {
            common,
            listen,
            compute_driver,
            dataplane,
        } => {
            let mut cfg = load(&common)?;
            if let Some(l) = listen {
                cfg.listen = l;
            }
            if let Some(c) = compute_driver {
                cfg.compute_driver = c;
            }
            if let Some(d) = dataplane {
                cfg.dataplane = d;
            }
            // Re-validate after the command-line overrides.
            let cfg = Config::from_toml(
                &cfg.to_toml()?,
                Vec::<(String, String)>::new(),
                &oxistack::cloud::config_sections(),
            )?;
            let log = init_logging(&cfg.log_level);
            up(cfg, common, log).await?;
            Ok(0)
        }
        Command::Status { common } => {
            let cfg = load(&common)?;
            let s = oxistack::status::status(&cfg).await;
            print!("{}", s.render());
            Ok(if s.healthy() { 0 } else { 3 })
        }
        Command::Identity {
            command: IdentityCommand::RotateKeys { common },
        } => {
            let cfg = load(&common)?;
            init_logging(&cfg.log_level);
            let ic: identity::config::IdentityConfig = cfg.section()?;
            let dir = ic.key_repository(&cfg);
            oxistack::admin::check_key_repository(&cfg, &dir, "fernet")?;
            identity::token::keys::rotate(&dir, ic.max_active_keys)?;
            println!("rotated fernet keys in {}", dir.display());
            Ok(0)
        }
        Command::Identity {
            command: IdentityCommand::RotateCredentialKeys { common },
        } => {
            let cfg = load(&common)?;
            init_logging(&cfg.log_level);
            let ic: identity::config::IdentityConfig = cfg.section()?;
            let dir = ic.credential_key_repository(&cfg);
            oxistack::admin::check_key_repository(&cfg, &dir, "credential")?;
            identity::token::keys::rotate(&dir, ic.max_active_keys)?;
            let db = db::Db::open(&cfg.database_url()).await?;
            let clock: common::clock::SharedClock = std::sync::Arc::new(common::clock::SystemClock);
            let id = identity::build(&cfg, db, clock)?;
            let n = id
                .reencrypt_credentials()
                .await
                .map_err(|e| anyhow::anyhow!("re-encrypting credentials: {e}"))?;
            println!(
                "rotated credential keys in {} and re-encrypted {n} credentials",
                dir.display()
            );
            Ok(0)
        }
        Command::Admin {
            command: AdminCommand::ResetPassword { common, password },
        } => {
            let cfg = load(&common)?;
            init_logging(&cfg.log_level);
            let r = oxistack::admin::reset_password(&cfg, password).await?;
            if r.generated {
                println!("new admin password: {}", r.password);
            } else {
                println!("admin password set");
            }
            println!("stored in {}", r.password_file.display());
            println!(
                "rewrote {} and {}",
                r.clouds_yaml.display(),
                r.openrc.display()
            );
            Ok(0)
        }
        Command::Bench(args) => bench::run(args, Box::new(|dir| Box::pin(dataplane_cloud(dir))))
            .await
            .map(|()| 0),
        Command::Openapi { service } => {
            let doc = oxistack::openapi::document(&service)
                .with_context(|| format!("no OpenAPI document for {service}"))??;
            print!("{doc}");
            Ok(0)
        }
        Command::Agent {
            controller,
            node_name,
            roles,
            secret_file,
            address,
            common,
            tunnel_ip,
            tunnel_dev,
            physical_interface_mappings,
            netns,
            node_prefix,
            dhcp_state_dir,
            metadata_url,
            log_level,
        } => {
            init_logging(&log_level);
            let mut file = load(&common)?;
            file.update_section::<agent::config::AgentSection>(|a| {
                if let Some(ip) = tunnel_ip {
                    a.local_ip = ip.to_string();
                }
                if let Some(d) = tunnel_dev {
                    a.tunnel_interface = d;
                }
                if let Some(n) = netns {
                    a.netns = n;
                }
                if let Some(p) = node_prefix {
                    a.node_prefix = p;
                }
                if let Some(d) = dhcp_state_dir {
                    a.dhcp_state_dir = d.display().to_string();
                }
            })?;
            if let Some(m) = physical_interface_mappings {
                let m = agent::net::role::parse_mappings(&m)
                    .map_err(|e| anyhow::anyhow!("--physical-interface-mappings: {e}"))?;
                file.update_section::<network::config::NetworkConfig>(|n| {
                    n.physical_interface_mappings = m;
                })?;
            }
            // Re-validate after the command-line overrides.
            file.validate_with(&oxistack::cloud::config_sections())?;
            let secret = nodes::secret::read(&secret_file)
                .with_context(|| format!("reading {}", secret_file.display()))?;
            let name = node_name.unwrap_or_else(agent::hostname);
            // The proxy's shared secret derives from the join secret.
            let metadata = match metadata_url {
                Some(url) => Some(agent::net::metadata::MetadataConfig {
                    url,
                    secret: nodes::secret::metadata_secret(&secret),
                }),
                None => agent::net::metadata::MetadataConfig::for_controller(&controller, &secret),
            };
            let mut cfg = agent::AgentConfig::new(&controller, &name, roles, secret);
            cfg.address = address;
            let mut handlers: Vec<_> = agent::config::network_handler(&file, &cfg.roles, metadata)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .into_iter()
                .collect();
            // The compute role runs this host's guests for the
            // controller's remote driver.
            if cfg.roles.iter().any(|r| r == "compute") {
                handlers =
                    compute_role(&file, &cfg, handlers).map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            agent::run(cfg, handlers, stop_signal(), None).await?;
            Ok(0)
        }
        Command::Nodes {
            command: NodesCommand::List { common },
        } => {
            let cfg = load(&common)?;
            oxistack::state::require_cloud(&cfg.state_dir)?;
            let db = db::Db::open(&cfg.database_url()).await?;
            let now = common::clock::Clock::now_micros(&common::clock::SystemClock);
            let list = nodes::app::nodes::list_store(&db, now)
                .await
                .map_err(|e| anyhow::anyhow!("listing nodes: {e}"))?;
            db.close().await;
            println!(
                "{:<24} {:<5} {:<28} {:<20} LAST REPORT",
                "NAME", "STATE", "ROLES", "ADDRESS"
            );
            for n in list.nodes {
                println!(
                    "{:<24} {:<5} {:<28} {:<20} {}",
                    n.name,
                    n.state,
                    n.roles.join(","),
                    n.address,
                    n.status_at.as_deref().unwrap_or("-")
                );
            }
            Ok(0)
        }
    }
}

/// The cloud of `oxistack bench dataplane`: in `state_dir`, on loopback
/// ports of its choosing, `dataplane = linux`, no port quota (it makes
/// more than Neutron's default 500).
async fn dataplane_cloud(state_dir: std::path::PathBuf) -> Result<bench::dataplane::LocalCloud> {
    let mut cfg = Config {
        listen: "127.0.0.1".into(),
        state_dir,
        dataplane: "linux".into(),
        internal_api_port: 0,
        ..Config::default()
    };
    cfg.update_section::<identity::config::IdentityConfig>(|c| c.port = 0)?;
    cfg.update_section::<image::config::ImageConfig>(|c| c.port = 0)?;
    cfg.update_section::<object_store::config::ObjectStoreConfig>(|c| c.port = 0)?;
    cfg.update_section::<network::config::NetworkConfig>(|c| {
        c.port = 0;
        c.quota_port = -1;
    })?;
    cfg.update_section::<compute::config::ComputeConfig>(|c| {
        c.port = 0;
        c.metadata_port = 0;
        c.novncproxy_port = 0;
    })?;
    let clock: common::clock::SharedClock = std::sync::Arc::new(common::clock::SystemClock);
    let cloud = oxistack::cloud::Cloud::start(cfg, clock)
        .await
        .context("starting the cloud")?;
    let url = |name: &str| {
        cloud
            .apis
            .iter()
            .find(|a| a.name == name)
            .map(|a| format!("http://{}", a.addr))
            .unwrap_or_default()
    };
    let secret = nodes::secret::read(&cloud.state.path.join(nodes::SECRET_FILE))?;
    Ok(bench::dataplane::LocalCloud {
        identity_url: url("identity"),
        network_url: url("network"),
        internal_url: format!("http://{}", cloud.internal_api),
        admin_password: cloud.admin_password.clone(),
        node_secret: secret,
        shutdown: Box::pin(cloud.shutdown(std::time::Duration::from_secs(5))),
    })
}

async fn up(cfg: Config, common: Common, log: LogHandle) -> Result<()> {
    // The in-process agent holds every role; with the linux data plane
    // it runs the network role on this host (checked before anything
    // starts: a missing tool fails here, naming its package).
    let linux = cfg.dataplane == "linux";
    if linux {
        agent::config::check_tools(true)
            .map_err(|e| anyhow::anyhow!("the linux data plane: {e}"))?;
    }
    // Built once the cloud knows its join secret and internal API: the
    // metadata proxy signs with a secret derived from the former and
    // forwards to port 8775 on the latter's host.
    let net_cfg = cfg.clone();
    // `[compute] metadata_port` when it is not Nova's 8775.
    let metadata_port = cfg
        .section::<compute::config::ComputeConfig>()?
        .metadata_port;
    // `compute_driver = "qemu"`: the controller's remote driver sends its
    // calls to this host's agent, whose compute role runs the guests.
    let remote_compute = cfg.compute_driver == "qemu";
    let handlers = move |a: &agent::AgentConfig| -> Result<Vec<std::sync::Arc<dyn agent::RoleHandler>>, String> {
        if !linux {
            return if remote_compute {
                compute_role(&net_cfg, a, Vec::new())
            } else {
                Ok(Vec::new())
            };
        }
        let metadata = agent::net::metadata::MetadataConfig::for_controller(&a.controller, &a.secret)
            .map(|mut m| {
                if let Some((host, _)) = m.url.rsplit_once(':') {
                    m.url = format!("{host}:{metadata_port}");
                }
                m
            });
        let net: Vec<_> = agent::config::network_handler(&net_cfg, &a.roles, metadata)
            .map(|h| h.into_iter().collect())
            .map_err(|e| format!("the linux data plane: {e}"))?;
        if remote_compute {
            compute_role(&net_cfg, a, net)
        } else {
            Ok(net)
        }
    };
    let clock: common::clock::SharedClock = std::sync::Arc::new(common::clock::SystemClock);
    let cloud = oxistack::cloud::Cloud::start_with_agent(cfg, clock, handlers)
        .await
        .context("starting the cloud")?;
    println!("{}", cloud.ready_line());
    if cloud.admin_password_current {
        println!(
            "admin credentials: {} (source {}; password in {})",
            cloud.clouds_yaml.display(),
            cloud.state.path.join("admin-openrc.sh").display(),
            cloud
                .state
                .path
                .join(oxistack::state::ADMIN_PASSWORD_FILE)
                .display()
        );
    } else {
        println!(
            "admin credentials: the admin password was changed through the API; {} was left as it \
             was (oxistack admin reset-password sets a new one)",
            cloud.clouds_yaml.display()
        );
    }
    serve_signals(&cloud, &common, &log).await?;
    tracing::info!("shutting down");
    cloud.shutdown(std::time::Duration::from_secs(5)).await;
    Ok(())
}

/// `handlers` with this host's compute role added (the driver `[agent]
/// compute_driver` or `compute_driver` names), holding the network
/// role's `ComputePorts` when there is one.
fn compute_role(
    cfg: &Config,
    agent_cfg: &agent::AgentConfig,
    handlers: Vec<std::sync::Arc<dyn agent::RoleHandler>>,
) -> Result<Vec<std::sync::Arc<dyn agent::RoleHandler>>, String> {
    let driver = agent::compute::driver_for(cfg, agent_cfg)?;
    let rc = agent::compute::role_config(cfg, agent_cfg)?;
    agent::compute::with_compute(handlers, driver, rc)
}

/// Resolves on SIGTERM or Ctrl-C.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Waits for SIGTERM or Ctrl-C; SIGHUP reloads what can change while the
/// cloud runs and carries on.
async fn serve_signals(
    cloud: &oxistack::cloud::Cloud,
    common: &Common,
    log: &LogHandle,
) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            r = tokio::signal::ctrl_c() => return Ok(r?),
            _ = term.recv() => return Ok(()),
            _ = hup.recv() => reload(cloud, common, log),
        }
    }
}

/// SIGHUP: the log level from the configuration (unless RUST_LOG is set)
/// and the policy files. Anything else in the configuration needs a
/// restart; a configuration that no longer loads changes nothing.
fn reload(cloud: &oxistack::cloud::Cloud, common: &Common, log: &LogHandle) {
    tracing::info!("SIGHUP: reloading the log level and policy files");
    match load(common) {
        Ok(cfg) if std::env::var_os("RUST_LOG").is_none() => {
            match tracing_subscriber::EnvFilter::try_new(&cfg.log_level) {
                Ok(f) => match log.reload(f) {
                    Ok(()) => tracing::info!(log_level = %cfg.log_level, "log level reloaded"),
                    Err(e) => tracing::error!(error = %e, "cannot change the log level"),
                },
                Err(e) => {
                    tracing::error!(error = %e, log_level = %cfg.log_level, "invalid log_level; kept the current one")
                }
            }
        }
        Ok(_) => tracing::info!("RUST_LOG is set; the log level stays"),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "cannot reload the configuration; the log level stays")
        }
    }
    for r in cloud.reload_policies() {
        match r {
            Ok(what) => tracing::info!("reloaded {what}"),
            Err(e) => tracing::error!("policy reload failed: {e}"),
        }
    }
}

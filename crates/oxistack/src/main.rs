//! `oxistack`: the command line. Each subcommand loads the configuration
//! and calls into a library; nothing else lives here.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use common::config::Config;
use std::path::PathBuf;

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
    /// Configuration file (absent = defaults).
    #[arg(long, default_value = "/etc/oxistack/oxistack.toml")]
    config: PathBuf,
    /// State directory (database, keys, images, credentials).
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the all-in-one cloud in the foreground.
    Up {
        #[command(flatten)]
        common: Common,
        /// Address every API binds on its standard port.
        #[arg(long)]
        listen: Option<String>,
        /// `qemu` runs real guests, `fake` only records them.
        #[arg(long, value_parser = ["qemu", "fake"])]
        compute_driver: Option<String>,
        /// `none` never changes the host (no bridges, namespaces or nftables).
        #[arg(long, value_parser = ["linux", "none"])]
        dataplane: Option<String>,
    },
    /// Identity administration.
    Identity {
        #[command(subcommand)]
        command: IdentityCommand,
    },
    /// Benchmarks against a running cloud.
    Bench(bench::BenchArgs),
}

#[derive(Subcommand, Debug)]
enum IdentityCommand {
    /// Rotate the fernet keys (staged becomes primary); running processes
    /// pick the new keys up within a second.
    RotateKeys {
        #[command(flatten)]
        common: Common,
    },
    /// Rotate the credential encryption keys and re-encrypt every stored
    /// credential with the new primary key.
    RotateCredentialKeys {
        #[command(flatten)]
        common: Common,
    },
}

fn load(common: &Common) -> Result<Config> {
    let mut cfg =
        Config::load(&common.config, std::env::vars()).context("loading configuration")?;
    if let Some(d) = &common.state_dir {
        cfg.state_dir = d.clone();
    }
    Ok(cfg)
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(cli))
}

async fn run(cli: Cli) -> Result<()> {
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
            let cfg = Config::from_toml(&toml_of(&cfg)?, Vec::<(String, String)>::new())?;
            init_logging(&cfg.log_level);
            up(cfg).await
        }
        Command::Identity {
            command: IdentityCommand::RotateKeys { common },
        } => {
            let cfg = load(&common)?;
            init_logging(&cfg.log_level);
            identity::token::keys::rotate(&cfg.key_repository(), cfg.identity.max_active_keys)?;
            println!("rotated fernet keys in {}", cfg.key_repository().display());
            Ok(())
        }
        Command::Identity {
            command: IdentityCommand::RotateCredentialKeys { common },
        } => {
            let cfg = load(&common)?;
            init_logging(&cfg.log_level);
            let dir = cfg.credential_key_repository();
            identity::token::keys::rotate(&dir, cfg.identity.max_active_keys)?;
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
            Ok(())
        }
        Command::Bench(args) => bench::run(args).await,
    }
}

fn toml_of(cfg: &Config) -> Result<String> {
    Ok(toml::to_string(cfg)?)
}

async fn up(cfg: Config) -> Result<()> {
    if cfg.dataplane == "linux" {
        tracing::warn!(
            "the linux dataplane has no networking to manage yet; nothing on the host is changed"
        );
    }
    let clock: common::clock::SharedClock = std::sync::Arc::new(common::clock::SystemClock);
    let cloud = oxistack::cloud::Cloud::start(cfg, clock).await?;
    println!("{}", cloud.ready_line());
    println!(
        "admin credentials: {} (source {})",
        cloud.clouds_yaml.display(),
        cloud.state.path.join("admin-openrc.sh").display()
    );
    wait_for_signal().await?;
    tracing::info!("shutting down");
    cloud.shutdown(std::time::Duration::from_secs(5)).await;
    Ok(())
}

async fn wait_for_signal() -> Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

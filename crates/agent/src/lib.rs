//! The node agent: the loop that keeps one host converged to the
//! controller's desired state for it.
//!
//! [`run`] registers with the controller's internal API (join secret →
//! node token), long-polls the node's desired-state document, hands each
//! new document to the [`RoleHandler`] of every role the node holds, and
//! reports what they return as the node's status. When the controller is
//! away it backs off (bounded exponential with jitter) and retries; a 401
//! (token rotated by another registration of this name, or the node
//! deleted) makes it register again. Handlers must be idempotent: the same
//! document can be applied twice (after a restart of either side), and
//! the loop applies the last one again by itself ([`Resync`]): with
//! back-off while applies report errors, periodically once they are clean.
//!
//! The network role's kernel work goes through `rtnetlink` (links,
//! addresses, routes, bridge FDB entries and link events over netlink
//! sockets opened inside each namespace) rather than an `ip` process per
//! device: it is the maintained Rust netlink stack, async on tokio, and
//! exposes the raw request API the FDB append (`NLM_F_APPEND`) needs.
//!
//! The role handlers themselves (network: bridges, routers, DHCP; compute:
//! instances) are written by the network and compute services; a role
//! without a handler is reported as `{"handled": false}`.

pub mod client;
pub mod compute;
pub mod config;
pub mod net;

use common::auth::BoxFuture;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// Converges one role of this host to its part of the document.
pub trait RoleHandler: Send + Sync {
    /// The role it serves (`network`, `compute`, `controller`).
    fn role(&self) -> &'static str;
    /// Applies `document` (the whole desired state: `node`, `roles`,
    /// `parts`) and returns this role's status document.
    fn apply<'a>(&'a self, document: &'a Value) -> BoxFuture<'a, Value>;
    /// Notified when the role's status changed on its own (a port's
    /// device appeared or went), so the agent applies the last document
    /// again and reports without waiting for a new one.
    fn changes(&self) -> Option<Arc<tokio::sync::Notify>> {
        None
    }
}

/// Resolves when any handler signals a change (never without any).
async fn any_change(notifies: &[Arc<tokio::sync::Notify>]) {
    if notifies.is_empty() {
        std::future::pending::<()>().await;
    }
    let waits = notifies.iter().map(|n| Box::pin(n.notified()));
    futures_util::future::select_all(waits).await;
}

/// Where the agent reports to and who it is.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The internal API's base URL, e.g. `http://ctl:9800`.
    pub controller: String,
    pub node_name: String,
    pub hostname: String,
    pub address: String,
    pub roles: Vec<String>,
    /// The cluster join secret.
    pub secret: String,
    /// The long-poll's `timeout=`.
    pub poll_timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// How often the last document is applied again although nothing
    /// changed, to repair drift (a device or rule removed behind the
    /// agent's back). An apply that reported errors is retried sooner,
    /// with back-off from `backoff_min` to `backoff_max`.
    pub resync_interval: Duration,
    /// The node token of the current registration, for role handlers
    /// that call the internal API themselves (the compute role's image
    /// downloads).
    pub token: NodeToken,
}

/// The node's current token, shared with handlers (`None` while not
/// registered); never printed.
#[derive(Clone, Default)]
pub struct NodeToken(Arc<std::sync::RwLock<Option<String>>>);

impl NodeToken {
    pub fn get(&self) -> Option<String> {
        self.0.read().ok().and_then(|t| t.clone())
    }

    fn set(&self, t: Option<String>) {
        if let Ok(mut g) = self.0.write() {
            *g = t;
        }
    }
}

impl std::fmt::Debug for NodeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeToken(..)")
    }
}

impl AgentConfig {
    pub fn new(controller: &str, node_name: &str, roles: Vec<String>, secret: String) -> Self {
        AgentConfig {
            controller: controller.trim_end_matches('/').to_string(),
            node_name: node_name.to_string(),
            hostname: hostname(),
            address: String::new(),
            roles,
            secret,
            poll_timeout: Duration::from_secs(30),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            resync_interval: Duration::from_secs(60),
            token: NodeToken::default(),
        }
    }
}

/// This host's name, from the kernel (empty when unreadable).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The in-process agent of an all-in-one cloud (`oxistack up`): this host
/// holds every role, reads the join secret from the state directory, and
/// talks to the internal API the same process serves at `internal`.
pub fn local(
    cfg: &common::config::Config,
    internal: std::net::SocketAddr,
) -> std::io::Result<AgentConfig> {
    let secret = nodes::secret::read(&cfg.state_dir.join(nodes::SECRET_FILE))?;
    let mut addr = internal;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let section: config::AgentSection = cfg
        .section()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let host = hostname();
    let name = if !section.node_name.is_empty() {
        section.node_name
    } else if host.is_empty() {
        "localhost".to_string()
    } else {
        host
    };
    let roles = nodes::wire::ROLES.iter().map(|r| r.to_string()).collect();
    let mut agent = AgentConfig::new(&format!("http://{addr}"), &name, roles, secret);
    agent.address = cfg.internal_host();
    Ok(agent)
}

/// What the loop last did, for tests and `oxistack status`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    pub registered: bool,
    /// The revision last applied and reported.
    pub applied: Option<i64>,
    pub registrations: u32,
}

/// Bounded exponential back-off with jitter: the n-th consecutive failure
/// waits a random time in [d/2, d] where d = min(max, min·2ⁿ).
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            failures: 0,
        }
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// The next wait (and counts a failure).
    pub fn next_delay(&mut self) -> Duration {
        let factor = 1u32.checked_shl(self.failures.min(20)).unwrap_or(u32::MAX);
        let ceiling = self.min.saturating_mul(factor).min(self.max);
        self.failures = self.failures.saturating_add(1);
        let r = common::ids::random_bytes(2);
        let frac = f64::from(u16::from_le_bytes([r[0], r[1]])) / f64::from(u16::MAX);
        ceiling.mul_f64(0.5 + frac / 2.0)
    }
}

/// When the loop applies the last document again without a new one: with
/// bounded back-off while the applies report errors (a missing interface
/// that appears later, a dnsmasq that died, an nft failure), and every
/// `interval` once they are clean, to repair drift.
#[derive(Debug, Clone)]
pub struct Resync {
    interval: Duration,
    retry: Backoff,
}

impl Resync {
    pub fn new(interval: Duration, retry_min: Duration, retry_max: Duration) -> Resync {
        Resync {
            interval,
            retry: Backoff::new(retry_min, retry_max.min(interval)),
        }
    }

    /// The wait before the next apply of the same document, given whether
    /// the apply just made reported errors.
    pub fn after_apply(&mut self, had_errors: bool) -> Duration {
        if had_errors {
            self.retry.next_delay().min(self.interval)
        } else {
            self.retry.reset();
            self.interval
        }
    }
}

/// Whether any role's status lists errors (`"errors": [...]`, non-empty).
pub fn has_errors(status: &Map<String, Value>) -> bool {
    status.values().any(|s| {
        s.get("errors")
            .and_then(Value::as_array)
            .is_some_and(|e| !e.is_empty())
    })
}

/// Runs the agent until `shutdown`, reporting progress on `progress`.
pub async fn run(
    cfg: AgentConfig,
    handlers: Vec<Arc<dyn RoleHandler>>,
    shutdown: impl std::future::Future<Output = ()> + Send,
    progress: Option<tokio::sync::watch::Sender<Progress>>,
) -> std::io::Result<()> {
    let client = client::Client::new(&cfg.controller)?;
    tokio::pin!(shutdown);
    tokio::select! {
        r = converge(&cfg, &client, &handlers, progress) => r,
        () = &mut shutdown => Ok(()),
    }
}

async fn converge(
    cfg: &AgentConfig,
    client: &client::Client,
    handlers: &[Arc<dyn RoleHandler>],
    progress: Option<tokio::sync::watch::Sender<Progress>>,
) -> std::io::Result<()> {
    let mut backoff = Backoff::new(cfg.backoff_min, cfg.backoff_max);
    let mut token: Option<String> = None;
    let mut applied: Option<i64> = None;
    // The document last applied and reported, applied again when a
    // handler's status changes on its own.
    let mut last: Option<nodes::wire::DesiredState> = None;
    let notifies: Vec<_> = handlers.iter().filter_map(|h| h.changes()).collect();
    let mut state = Progress::default();
    let mut resync = Resync::new(cfg.resync_interval, cfg.backoff_min, cfg.backoff_max);
    // When the last document is applied again on its own (see `Resync`).
    let mut again = tokio::time::Instant::now();
    // Set while calls fail, so getting through again is logged once.
    let mut away = false;
    let publish = |s: &Progress| {
        if let Some(p) = &progress {
            p.send_replace(s.clone());
        }
    };
    loop {
        let t = match &token {
            Some(t) => t.clone(),
            None => match client.register(cfg).await {
                Ok(t) => {
                    tracing::info!(node = %cfg.node_name, "registered with the controller");
                    last = None;
                    state.registered = true;
                    state.registrations += 1;
                    publish(&state);
                    // Every registration starts from a whole document.
                    applied = None;
                    token = Some(t.clone());
                    cfg.token.set(Some(t.clone()));
                    backoff.reset();
                    t
                }
                Err(e) => {
                    let d = backoff.next_delay();
                    tracing::warn!(error = %e, retry_in = ?d, "cannot register with the controller");
                    tokio::time::sleep(d).await;
                    continue;
                }
            },
        };
        let poll = client.desired_state(&cfg.node_name, &t, applied, cfg.poll_timeout);
        let got = match &last {
            Some(doc) => tokio::select! {
                r = poll => r,
                () = any_change(&notifies) => Ok(Some(doc.clone())),
                () = tokio::time::sleep_until(again) => {
                    tracing::debug!(revision = doc.revision, "applying the last document again");
                    Ok(Some(doc.clone()))
                }
            },
            None => poll.await,
        };
        match &got {
            Err(e) if !e.is_unauthorized() => away = true,
            _ if away => {
                tracing::info!(node = %cfg.node_name, "the controller answers again");
                away = false;
            }
            _ => {}
        }
        match got {
            Ok(None) => backoff.reset(),
            Ok(Some(doc)) => {
                let t_apply = std::time::Instant::now();
                let status = apply(cfg, handlers, &doc.document).await;
                let applied_in = t_apply.elapsed();
                let wait = resync.after_apply(has_errors(&status));
                again = tokio::time::Instant::now() + wait;
                let report = nodes::wire::StatusReport {
                    revision: doc.revision,
                    roles: status,
                };
                let t_report = std::time::Instant::now();
                let reported = client.report_status(&cfg.node_name, &t, &report).await;
                tracing::debug!(
                    revision = doc.revision,
                    apply = ?applied_in,
                    report = ?t_report.elapsed(),
                    "applied and reported"
                );
                match reported {
                    Ok(()) => {
                        applied = Some(doc.revision);
                        last = Some(doc);
                        state.applied = applied;
                        publish(&state);
                        backoff.reset();
                    }
                    Err(e) => {
                        if e.is_unauthorized() {
                            token = None;
                            cfg.token.set(None);
                        }
                        let d = backoff.next_delay();
                        tracing::warn!(error = %e, retry_in = ?d, "cannot report status");
                        tokio::time::sleep(d).await;
                    }
                }
            }
            Err(e) if e.is_unauthorized() => {
                tracing::info!(
                    "the controller no longer knows this node's token; registering again"
                );
                token = None;
                cfg.token.set(None);
            }
            Err(e) => {
                let d = backoff.next_delay();
                tracing::warn!(error = %e, retry_in = ?d, "cannot reach the controller");
                tokio::time::sleep(d).await;
            }
        }
    }
}

/// Hands the document to each role's handler; a role without one says so.
async fn apply(
    cfg: &AgentConfig,
    handlers: &[Arc<dyn RoleHandler>],
    document: &Value,
) -> Map<String, Value> {
    let mut out = Map::new();
    for role in &cfg.roles {
        let status = match handlers.iter().find(|h| h.role() == role) {
            Some(h) => h.apply(document).await,
            None => json!({"handled": false}),
        };
        out.insert(role.clone(), status);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_bound_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let mut last_ceiling = Duration::ZERO;
        for n in 0..10u32 {
            let d = b.next_delay();
            let ceiling = (Duration::from_millis(100) * 2u32.pow(n)).min(Duration::from_secs(2));
            assert!(d <= ceiling && d >= ceiling / 2, "failure {n}: {d:?}");
            assert!(ceiling >= last_ceiling);
            last_ceiling = ceiling;
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn failed_applies_are_retried_with_back_off_then_resynced_periodically() {
        let (min, max, every) = (
            Duration::from_millis(100),
            Duration::from_secs(2),
            Duration::from_secs(60),
        );
        let mut r = Resync::new(every, min, max);
        assert_eq!(
            r.after_apply(false),
            every,
            "a clean apply waits the period"
        );
        for n in 0..8u32 {
            let d = r.after_apply(true);
            let ceiling = (min * 2u32.pow(n)).min(max);
            assert!(d <= ceiling && d >= ceiling / 2, "retry {n}: {d:?}");
        }
        assert_eq!(r.after_apply(false), every);
        assert!(
            r.after_apply(true) <= min,
            "a clean apply resets the back-off"
        );
        // The retries never wait longer than the period itself.
        let mut short = Resync::new(Duration::from_millis(300), min, max);
        for _ in 0..10 {
            assert!(short.after_apply(true) <= Duration::from_millis(300));
        }
    }

    #[test]
    fn errors_are_read_from_every_role() {
        let mut m = Map::new();
        m.insert("compute".into(), json!({"handled": false}));
        m.insert("network".into(), json!({"ports": {}, "errors": []}));
        assert!(!has_errors(&m));
        m.insert(
            "network".into(),
            json!({"ports": {}, "errors": ["tap: gone"]}),
        );
        assert!(has_errors(&m));
    }
}

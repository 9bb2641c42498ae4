//! The agent's `network` role: converges this host's L2 (bridges, their
//! uplinks, the `tap…` devices of the ports bound here) to the node's
//! network feed (`document.parts.network`, typed as
//! `network::app::feed::NodeFeed`) and reports `ports: {id: ACTIVE|DOWN}`
//! as the feed's report contract defines.
//!
//! Taps are plugged as soon as they appear: a task follows the kernel's
//! link events (RTNLGRP_LINK) in the role's namespace and enslaves any
//! `tap…` device the last feed wants, then signals [`NetworkRole::changes`]
//! so the agent can report again. Every apply also reconciles: it builds
//! what is missing and removes the bridges and VXLAN devices it owns (by
//! name prefix) that the feed no longer wants, so a restart converges
//! without duplicates or leaks.
//!
//! Cost per apply, for hosts with many ports: the taps are plugged from
//! one dump of the links (one request per tap only when it needs
//! plugging: master, MTU and up together), and the port services
//! (security groups, DHCP) run alongside that, once the bridges exist;
//! they are skipped when the feed is the one they last converged to
//! cleanly, port statuses aside (re-applies after a tap event). A
//! document that only echoes the node's own last report (the controller
//! bumps the revision when a report changes a status) is answered from
//! the last clean apply without touching the kernel.
//! [`NetworkRole::apply_times`] says where the time went.

use super::l2::{self, L2Config, Plan, Uplink};
use super::link::{Link, LinkEvent, LinkEvents, Netlink, ZERO_MAC};
use crate::RoleHandler;
use common::auth::BoxFuture;
use network::app::feed::NodeFeed;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, OnceCell};

/// How the network role is set up on this host.
#[derive(Debug, Clone, Default)]
pub struct NetworkRoleConfig {
    /// The node prefix put in front of every namespace the role makes
    /// (`oxt1-qdhcp-…`), so simulated hosts can share one kernel.
    pub node_prefix: String,
    /// The namespace the role works in (None: the agent's own).
    pub namespace: Option<String>,
    pub l2: L2Config,
    /// Where the DHCP servers' files go (`dhcp::DhcpConfig::state_dir`);
    /// None: this node serves no DHCP.
    pub dhcp_state_dir: Option<std::path::PathBuf>,
}

/// Parses Neutron's `physical_interface_mappings` (`physnet1:eth1,physnet2:eth2`).
pub fn parse_mappings(s: &str) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut out = std::collections::BTreeMap::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (phys, iface) = item
            .split_once(':')
            .filter(|(p, i)| !p.is_empty() && !i.is_empty() && !i.contains(':'))
            .ok_or_else(|| format!("{item:?}: expected PHYSNET:INTERFACE"))?;
        if out.insert(phys.to_string(), iface.to_string()).is_some() {
            return Err(format!("physical network {phys:?} is mapped twice"));
        }
    }
    Ok(out)
}

/// Where the role's applies spent their time, summed since it started
/// (the data-plane bench reads it around a phase). The port services run
/// alongside the taps, routers and cleanup, so the parts can add up to
/// more than `total`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ApplyTimes {
    pub applies: u64,
    /// Documents answered from the last apply without touching the
    /// kernel: they differed from it only by the statuses this node
    /// itself had reported (see `NetworkRole::reported_only`).
    pub skipped: u64,
    pub total: std::time::Duration,
    /// Bridges, uplinks and taps, and the removal of what is unwanted.
    pub l2: std::time::Duration,
    pub routers: std::time::Duration,
    /// DHCP and security groups (`ports::PortServices::converge`).
    pub port_services: std::time::Duration,
}

/// How long work found already done stands without being checked again:
/// a VXLAN device's FDB made as planned (`Inner::fdb_memo`) and a clean
/// pass of the port services for the same feed (`ServicesMemo`). Well
/// under the agent's 60 s periodic re-apply, so that re-apply still
/// repairs drift.
const MEMO_TTL: std::time::Duration = std::time::Duration::from_secs(20);

/// What one VXLAN device's FDB was last made to be.
struct FdbMemo {
    index: u32,
    entries: BTreeSet<([u8; 6], IpAddr)>,
    at: std::time::Instant,
}

/// The port services' last clean outcome (rules applied, no error, every
/// DHCP port up) and the feed it was for, port statuses left out.
struct ServicesMemo {
    /// When it was made: older than [`MEMO_TTL`] it is not used,
    /// so the agent's periodic re-apply still repairs drift (a dnsmasq
    /// that died, a table removed by hand).
    at: std::time::Instant,
    feed: NodeFeed,
    /// The DHCP ports' statuses it added to the report.
    dhcp_ports: Map<String, Value>,
}

/// The last apply: the feed it converged to and the status it returned,
/// kept while that status had no error.
struct ApplyMemo {
    /// When the kernel was last converged for it; older than
    /// [`MEMO_TTL`] it is not used.
    at: std::time::Instant,
    feed: NodeFeed,
    status: Value,
}

/// `feed` without the statuses this node reports back (ports' and
/// floating IPs'), i.e. what the kernel is converged from.
fn without_statuses(feed: &NodeFeed) -> NodeFeed {
    let mut f = services_key(feed);
    for r in &mut f.routers {
        for fip in &mut r.floatingips {
            fip.status.clear();
        }
    }
    f
}

/// Whether `next` differs from `last` (the feed of the last apply, which
/// returned `reported`) only by statuses that now say what `reported`
/// said: the controller echoing this node's own report. An identical
/// feed is not such a document: the agent applies one again on purpose
/// (a device came or went, or the periodic re-apply).
fn only_echoes_report(last: &NodeFeed, next: &NodeFeed, reported: &Value) -> bool {
    if last == next || without_statuses(last) != without_statuses(next) {
        return false;
    }
    let said = |kind: &str, id: &str| {
        reported
            .get(kind)
            .and_then(|m| m.get(id))
            .and_then(Value::as_str)
    };
    let ports = last
        .ports
        .iter()
        .zip(&next.ports)
        .all(|(a, b)| a.status == b.status || said("ports", &b.id) == Some(b.status.as_str()));
    let fips = last.routers.iter().zip(&next.routers).all(|(ra, rb)| {
        ra.floatingips.iter().zip(&rb.floatingips).all(|(a, b)| {
            a.status == b.status || said("floatingips", &b.id) == Some(b.status.as_str())
        })
    });
    ports && fips
}

/// `feed` without the ports' `status` (what this node last reported):
/// reporting a port ACTIVE changes that and nothing the services use.
fn services_key(feed: &NodeFeed) -> NodeFeed {
    let mut f = feed.clone();
    for p in &mut f.ports {
        p.status.clear();
    }
    f
}

struct Inner {
    cfg: NetworkRoleConfig,
    times: Mutex<ApplyTimes>,
    /// Per VXLAN device: its index and the FDB entries last made exactly
    /// as planned, and when. While the plan and the device are the same
    /// the FDB is not dumped again (a dump lists every bridge port's
    /// entries: thousands with 1,000 taps) until [`MEMO_TTL`] has
    /// passed, so drift is still repaired by the periodic re-apply.
    fdb_memo: Mutex<HashMap<String, FdbMemo>>,
    services_memo: Mutex<Option<ServicesMemo>>,
    apply_memo: Mutex<Option<ApplyMemo>>,
    netlink: OnceCell<Netlink>,
    /// The last plan, read by the link-event task.
    plan: Mutex<Plan>,
    changed: Arc<Notify>,
    /// Taps the link-event task has seen plugged.
    plugged: Mutex<BTreeSet<String>>,
    watcher: Mutex<Option<tokio::task::JoinHandle<()>>>,
    ports: super::ports::PortServices,
    /// The metadata proxy, when [`NetworkRole::serve_metadata`] set it.
    metadata: std::sync::OnceLock<super::metadata::MetadataProxy>,
}

/// The `network` role handler.
#[derive(Clone)]
pub struct NetworkRole {
    inner: Arc<Inner>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut w) = self.watcher.lock() {
            if let Some(h) = w.take() {
                h.abort();
            }
        }
    }
}

impl NetworkRole {
    pub fn new(cfg: NetworkRoleConfig) -> NetworkRole {
        NetworkRole {
            inner: Arc::new(Inner {
                ports: super::ports::PortServices::new(
                    cfg.namespace.clone(),
                    &cfg.node_prefix,
                    cfg.dhcp_state_dir.as_deref(),
                ),
                cfg,
                times: Mutex::new(ApplyTimes::default()),
                services_memo: Mutex::new(None),
                apply_memo: Mutex::new(None),
                fdb_memo: Mutex::new(HashMap::new()),
                netlink: OnceCell::new(),
                plan: Mutex::new(Plan::default()),
                changed: Arc::new(Notify::new()),
                plugged: Mutex::new(BTreeSet::new()),
                watcher: Mutex::new(None),
                metadata: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Serves 169.254.169.254 in this role's router and isolated DHCP
    /// namespaces (`net::metadata`), proxying to `cfg.url`. Set once,
    /// before the first apply; a second call is ignored.
    pub fn serve_metadata(&self, cfg: super::metadata::MetadataConfig) {
        let _ = self
            .inner
            .metadata
            .set(super::metadata::MetadataProxy::new(cfg));
    }

    /// Notified whenever a port's device appeared (and was plugged) or
    /// went, i.e. when a new report would differ.
    pub fn changes(&self) -> Arc<Notify> {
        self.inner.changed.clone()
    }

    /// Opens netlink in the role's namespace (once) and makes sure the
    /// link-event task runs: started on first use, and started again if
    /// its socket went away (e.g. the kernel dropped it on overflow), so
    /// taps are never left to the next document.
    async fn netlink(&self) -> Result<&Netlink, String> {
        let ns = self.inner.cfg.namespace.clone();
        let nl = self
            .inner
            .netlink
            .get_or_try_init(|| async { Netlink::open(ns.as_deref()).map_err(|e| e.to_string()) })
            .await?;
        let running = self
            .inner
            .watcher
            .lock()
            .map_err(|_| "the link-event task's lock is poisoned".to_string())?
            .as_ref()
            .is_some_and(|t| !t.is_finished());
        if !running {
            // Subscribed before this apply lists the links, so a tap made
            // while it converges is not missed.
            let events = LinkEvents::subscribe(ns.as_deref()).map_err(|e| e.to_string())?;
            let weak = Arc::downgrade(&self.inner);
            let task = tokio::spawn(follow_links(weak, nl.clone(), events));
            if let Ok(mut w) = self.inner.watcher.lock() {
                if let Some(old) = w.replace(task) {
                    old.abort();
                }
            }
        }
        Ok(nl)
    }

    /// Where the applies so far spent their time.
    pub fn apply_times(&self) -> ApplyTimes {
        self.inner.times.lock().map(|t| *t).unwrap_or_default()
    }

    /// Converges to `feed` and returns the role's status document.
    pub async fn converge(&self, feed: &NodeFeed) -> Value {
        let start = std::time::Instant::now();
        let plan = l2::plan(&self.inner.cfg.l2, feed);
        if let Ok(mut p) = self.inner.plan.lock() {
            *p = plan.clone();
        }
        let mut errors: Vec<String> = plan
            .refused
            .iter()
            .map(|(n, why)| format!("network {n}: {why}"))
            .collect();
        let nl = match self.netlink().await {
            Ok(nl) => nl,
            Err(e) => {
                errors.push(format!("netlink: {e}"));
                return status(feed, &plan, &[], errors);
            }
        };
        for b in &plan.bridges {
            let tunnel_dev = self.inner.cfg.l2.tunnel_dev.as_deref();
            if let Err(e) = ensure_bridge(nl, b, tunnel_dev, &self.inner.fdb_memo).await {
                errors.push(format!("network {}: {e}", b.network_id));
            }
        }
        let bridges_done = std::time::Instant::now();
        // The taps, routers and cleanup (netlink) and the port services
        // (nft and dnsmasq, on blocking threads) need only the bridges
        // made above, not each other: they run side by side, the
        // services on a status of their own merged below. A new tap was
        // already plugged before its rules were in place when they ran
        // one after the other, so this opens no new window.
        let services_feed = services_status(feed);
        let (links_part, services_part) = tokio::join!(
            self.plug_route_clean(nl, &plan, feed),
            self.port_services_timed(feed, &plan, nl, services_feed),
        );
        let (links, routers, more_errors, marks) = match links_part {
            Ok(r) => r,
            Err(e) => {
                errors.push(e);
                return status(feed, &plan, &[], errors);
            }
        };
        errors.extend(more_errors);
        for e in &errors {
            tracing::warn!(error = %e, "network role");
        }
        let mut st = status(feed, &plan, &links, errors);
        let (services_st, services_took) = services_part;
        merge_services(&mut st, services_st);
        let done = std::time::Instant::now();
        routers.merge_into(&mut st);
        let (dump_done, l2_done, routers_done, cleanup_done) = marks;
        tracing::debug!(
            bridges = ?(bridges_done - start),
            dump = ?(dump_done - bridges_done),
            plug = ?(l2_done - dump_done),
            routers = ?(routers_done - l2_done),
            cleanup = ?(cleanup_done - routers_done),
            services = ?services_took,
            total = ?(done - start),
            "network role applied"
        );
        if let Ok(mut t) = self.inner.times.lock() {
            t.applies += 1;
            t.total += done - start;
            t.routers += routers_done - l2_done;
            t.port_services += services_took;
            t.l2 += (l2_done - start) + (cleanup_done - routers_done);
        }
        if let Some(m) = self.inner.metadata.get() {
            let sites = super::metadata::sites(
                feed,
                &self.inner.cfg.node_prefix,
                self.inner.cfg.dhcp_state_dir.is_some(),
            );
            let errors = m.converge(feed, &sites).await;
            if let Some(list) = st.get_mut("errors").and_then(Value::as_array_mut) {
                list.extend(errors.into_iter().map(Value::String));
            }
        }
        st
    }
}

/// The times [`NetworkRole::plug_route_clean`] reached: links dumped,
/// taps plugged, routers converged, cleanup done.
type Marks = (
    std::time::Instant,
    std::time::Instant,
    std::time::Instant,
    std::time::Instant,
);

/// What [`NetworkRole::plug_route_clean`] returns: the links as the
/// kernel has them after, the routers' outcome, errors, and its [`Marks`].
type LinksPart = (Vec<Link>, super::router::RouterReport, Vec<String>, Marks);

/// The status the port services start from: every bound port ACTIVE
/// (they only ever turn ports DOWN, when the rules failed), no error.
fn services_status(feed: &NodeFeed) -> Value {
    let ports: Map<String, Value> = feed
        .ports
        .iter()
        .map(|p| (p.id.clone(), json!("ACTIVE")))
        .collect();
    json!({"ports": ports, "errors": []})
}

/// Merges the port services' status into the L2 one: the bound ports
/// they turned DOWN, the DHCP ports they added, their errors.
fn merge_services(st: &mut Value, services: Value) {
    if let (Some(ports), Some(theirs)) = (
        st.get_mut("ports").and_then(Value::as_object_mut),
        services.get("ports").and_then(Value::as_object),
    ) {
        for (id, v) in theirs {
            match ports.get_mut(id) {
                Some(mine) if v != "ACTIVE" => *mine = v.clone(),
                Some(_) => {}
                None => {
                    ports.insert(id.clone(), v.clone());
                }
            }
        }
    }
    if let (Some(list), Some(theirs)) = (
        st.get_mut("errors").and_then(Value::as_array_mut),
        services.get("errors").and_then(Value::as_array),
    ) {
        list.extend(theirs.iter().cloned());
    }
}

impl NetworkRole {
    /// After the bridges: one dump of the links, the taps plugged from
    /// it, the routers, and the removal of what the feed no longer wants.
    async fn plug_route_clean(
        &self,
        nl: &Netlink,
        plan: &Plan,
        feed: &NodeFeed,
    ) -> Result<LinksPart, String> {
        let mut errors = Vec::new();
        // One dump of the links serves the plugging, the cleanup and the
        // report (routers add no brq/vxlan/tap devices in this namespace):
        // with 1,000 ports a dump is most of an apply's L2 time.
        let mut links = nl.links().await.map_err(|e| format!("list links: {e}"))?;
        let dump_done = std::time::Instant::now();
        let index: HashMap<String, usize> = links
            .iter()
            .enumerate()
            .map(|(i, l)| (l.name.clone(), i))
            .collect();
        for (tap, (_, bridge)) in &plan.taps {
            let (Some(&t), Some(&br)) = (index.get(tap), index.get(bridge)) else {
                continue;
            };
            let (br_index, mtu) = (links[br].index, bridge_mtu(plan, bridge));
            match nl.plug_link(&links[t], br_index, mtu).await {
                // As the kernel now has it, for the report; and known
                // plugged, so the echo of this change from the link
                // events asks for no second report of the same status.
                Ok(_) => {
                    if let Ok(mut p) = self.inner.plugged.lock() {
                        p.insert(tap.clone());
                    }
                    let l = &mut links[t];
                    l.master = Some(br_index);
                    l.up = true;
                    if mtu.is_some() {
                        l.mtu = mtu;
                    }
                }
                Err(e) => errors.push(format!("{tap}: {e}")),
            }
        }
        let l2_done = std::time::Instant::now();
        let routers = super::router::converge(nl, &self.inner.cfg.node_prefix, feed).await;
        let routers_done = std::time::Instant::now();
        if let Err(e) = remove_unwanted(nl, plan, feed, &mut links).await {
            errors.push(format!("cleanup: {e}"));
        }
        let cleanup_done = std::time::Instant::now();
        Ok((
            links,
            routers,
            errors,
            (dump_done, l2_done, routers_done, cleanup_done),
        ))
    }

    /// [`NetworkRole::port_services`] on `st`, and how long it took.
    async fn port_services_timed(
        &self,
        feed: &NodeFeed,
        plan: &Plan,
        nl: &Netlink,
        mut st: Value,
    ) -> (Value, std::time::Duration) {
        let t = std::time::Instant::now();
        self.port_services(feed, plan, nl, &mut st).await;
        (st, t.elapsed())
    }

    /// Security groups and DHCP (`ports::PortServices`), skipped when the
    /// feed is the one they last converged cleanly to, port statuses
    /// aside: the agent applies again when a tap comes or goes and when
    /// its own report changed a port's status, and neither changes the
    /// rules or the DHCP servers. The memo is dropped on any error, so a
    /// failed apply is retried in full.
    async fn port_services(&self, feed: &NodeFeed, plan: &Plan, nl: &Netlink, st: &mut Value) {
        let key = services_key(feed);
        let memo = self.inner.services_memo.lock().ok().and_then(|m| {
            m.as_ref()
                .filter(|m| m.feed == key && m.at.elapsed() < MEMO_TTL)
                .map(|m| m.dhcp_ports.clone())
        });
        if let Some(dhcp_ports) = memo {
            if let Some(ports) = st.get_mut("ports").and_then(Value::as_object_mut) {
                ports.extend(dhcp_ports);
            }
            return;
        }
        let ports_of = |st: &Value| st.get("ports").and_then(Value::as_object).cloned();
        let errors_of = |st: &Value| st.get("errors").and_then(Value::as_array).map(Vec::len);
        let (before, errors_before) = (ports_of(st).unwrap_or_default(), errors_of(st));
        self.inner.ports.converge(feed, plan, nl, st).await;
        let after = ports_of(st).unwrap_or_default();
        let dhcp_ports: Map<String, Value> = after
            .iter()
            .filter(|(id, _)| !before.contains_key(*id))
            .map(|(id, v)| (id.clone(), v.clone()))
            .collect();
        let clean = errors_of(st) == errors_before
            && before.iter().all(|(id, v)| after.get(id) == Some(v))
            && dhcp_ports.values().all(|v| v == "ACTIVE");
        if let Ok(mut m) = self.inner.services_memo.lock() {
            *m = clean.then_some(ServicesMemo {
                at: std::time::Instant::now(),
                feed: key,
                dhcp_ports,
            });
        }
    }
}

impl RoleHandler for NetworkRole {
    fn role(&self) -> &'static str {
        "network"
    }

    fn apply<'a>(&'a self, document: &'a Value) -> BoxFuture<'a, Value> {
        Box::pin(async move {
            let part = document.get("parts").and_then(|p| p.get("network"));
            // No feed (no network service) or a malformed one: change
            // nothing rather than tear the host down.
            let Some(part) = part.filter(|p| !p.is_null()) else {
                return json!({"ports": {}, "errors": ["the document has no network part"]});
            };
            let feed = match NodeFeed::deserialize(part) {
                Ok(feed) => feed,
                Err(e) => {
                    return json!({"ports": {}, "errors": [format!("unreadable network feed: {e}")]})
                }
            };
            if let Some(status) = self.reported_only(&feed) {
                return status;
            }
            let status = self.converge(&feed).await;
            let clean = status
                .get("errors")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty);
            if let Ok(mut m) = self.inner.apply_memo.lock() {
                *m = clean.then(|| ApplyMemo {
                    at: std::time::Instant::now(),
                    feed,
                    status: status.clone(),
                });
            }
            status
        })
    }

    fn changes(&self) -> Option<Arc<Notify>> {
        Some(self.changes())
    }
}

impl NetworkRole {
    /// The last apply's status again, without touching the kernel, when
    /// `feed` only echoes what that apply reported (a port this node
    /// reported ACTIVE now says ACTIVE: the controller bumped the
    /// revision for it). That apply must have been clean and recent
    /// ([`MEMO_TTL`]); tap events in between signal
    /// [`NetworkRole::changes`], whose re-apply is of an identical feed
    /// and so always converges in full.
    fn reported_only(&self, feed: &NodeFeed) -> Option<Value> {
        let mut memo = self.inner.apply_memo.lock().ok()?;
        let m = memo.as_mut()?;
        if m.at.elapsed() >= MEMO_TTL || !only_echoes_report(&m.feed, feed, &m.status) {
            return None;
        }
        m.feed = feed.clone();
        if let Ok(mut t) = self.inner.times.lock() {
            t.skipped += 1;
        }
        Some(m.status.clone())
    }
}

async fn ensure_bridge(
    nl: &Netlink,
    b: &l2::BridgePlan,
    tunnel_dev: Option<&str>,
    fdb_memo: &Mutex<HashMap<String, FdbMemo>>,
) -> Result<(), super::link::LinkError> {
    nl.ensure_bridge(&b.bridge).await?;
    nl.set_mtu(&b.bridge, b.mtu).await?;
    let uplink = match &b.uplink {
        Uplink::Physical(iface) => {
            if nl.link(iface).await?.is_none() {
                return Err(super::link::LinkError::NoSuchLink(iface.clone()));
            }
            iface.clone()
        }
        Uplink::Vlan { interface, vlan } => {
            let name = format!("{interface}.{vlan}");
            nl.ensure_vlan(&name, interface, *vlan).await?;
            nl.set_mtu(&name, b.mtu).await?;
            name
        }
        Uplink::Vxlan {
            device,
            vni,
            local,
            remotes,
            macs,
        } => {
            nl.ensure_vxlan(device, *vni, *local, tunnel_dev).await?;
            nl.set_mtu(device, b.mtu).await?;
            // Flood entries (all-zero MAC, one per remote VTEP) and
            // per-MAC entries, kept exactly as planned: stale ones go
            // first so a MAC that moved never has two destinations.
            let want: BTreeSet<([u8; 6], IpAddr)> = remotes
                .iter()
                .map(|r| (ZERO_MAC, IpAddr::V4(*r)))
                .chain(macs.iter().map(|(m, r)| (*m, IpAddr::V4(*r))))
                .collect();
            let index = nl
                .link(device)
                .await?
                .map(|l| l.index)
                .ok_or_else(|| super::link::LinkError::NoSuchLink(device.clone()))?;
            let known = fdb_memo.lock().ok().is_some_and(|m| {
                m.get(device).is_some_and(|f| {
                    f.index == index && f.entries == want && f.at.elapsed() < MEMO_TTL
                })
            });
            if !known {
                if let Ok(mut m) = fdb_memo.lock() {
                    m.remove(device);
                }
                let have: BTreeSet<([u8; 6], IpAddr)> = nl.fdb(device).await?.into_iter().collect();
                for (mac, r) in have.difference(&want) {
                    nl.fdb_delete(device, *mac, *r).await?;
                }
                for (mac, r) in want.difference(&have) {
                    nl.fdb_append(device, *mac, *r).await?;
                }
                if let Ok(mut m) = fdb_memo.lock() {
                    m.insert(
                        device.clone(),
                        FdbMemo {
                            index,
                            entries: want,
                            at: std::time::Instant::now(),
                        },
                    );
                }
            }
            device.clone()
        }
    };
    let bridge = nl.link(&b.bridge).await?;
    let enslaved = nl
        .link(&uplink)
        .await?
        .and_then(|l| l.master)
        .zip(bridge.map(|b| b.index))
        .is_some_and(|(m, b)| m == b);
    if !enslaved {
        nl.set_master(&uplink, &b.bridge).await?;
    }
    nl.set_up(&uplink).await?;
    nl.set_up(&b.bridge).await
}

/// Enslaves `tap` (if it exists) to `bridge` with the network's MTU and
/// brings it up. None: the tap or the bridge is not there; Some(changed):
/// plugged, and whether this call changed anything.
async fn plug(
    nl: &Netlink,
    plan: &Plan,
    tap: &str,
    bridge: &str,
) -> Result<Option<bool>, super::link::LinkError> {
    let Some(t) = nl.link(tap).await? else {
        return Ok(None);
    };
    let Some(br) = nl.link(bridge).await? else {
        return Ok(None);
    };
    nl.plug_link(&t, br.index, bridge_mtu(plan, bridge))
        .await
        .map(Some)
}

/// The MTU the plan gives `bridge`'s network.
fn bridge_mtu(plan: &Plan, bridge: &str) -> Option<u32> {
    plan.bridges
        .iter()
        .find(|b| b.bridge == bridge)
        .map(|b| b.mtu)
}

/// The `tap…` devices the feed wants on this host's bridges: the bound
/// ports' and the host ends of the DHCP ports' and router legs' veths.
fn wanted_taps(plan: &Plan, feed: &NodeFeed) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = plan.taps.keys().cloned().collect();
    let dhcp = feed
        .dhcp
        .iter()
        .filter_map(|d| d.port.as_ref())
        .map(|p| &p.id);
    let legs = feed.routers.iter().flat_map(|r| {
        r.interfaces
            .iter()
            .map(|l| &l.port_id)
            .chain(r.gateway.as_ref().map(|g| &g.port_id))
    });
    out.extend(dhcp.chain(legs).map(|id| l2::tap_name(id)));
    out
}

/// Deletes the bridges and VXLAN devices this agent owns that the plan
/// no longer wants, and releases from its bridges the taps no port wants
/// any more (a deleted port's device left by its hypervisor would
/// otherwise stay on the network with no security-group chains), among
/// `links` (this apply's dump, kept as the kernel has it after). The
/// taps themselves are not ours to delete.
async fn remove_unwanted(
    nl: &Netlink,
    plan: &Plan,
    feed: &NodeFeed,
    links: &mut Vec<Link>,
) -> Result<(), super::link::LinkError> {
    let bridges: BTreeSet<u32> = links
        .iter()
        .filter(|l| l.name.starts_with(l2::BRIDGE_PREFIX))
        .map(|l| l.index)
        .collect();
    let taps = wanted_taps(plan, feed);
    for l in links.iter_mut() {
        let on_ours = l.master.is_some_and(|m| bridges.contains(&m));
        if l.name.starts_with(l2::TAP_PREFIX) && on_ours && !taps.contains(&l.name) {
            tracing::info!(link = %l.name, "releasing a tap no port wants from its bridge");
            nl.set_nomaster(&l.name).await?;
            l.master = None;
        }
    }
    let mut gone = BTreeSet::new();
    for l in links.iter() {
        let owned = l.name.starts_with(l2::BRIDGE_PREFIX) || l.name.starts_with(l2::VXLAN_PREFIX);
        if owned && !plan.wants_link(&l.name) {
            tracing::info!(link = %l.name, "removing a device the feed no longer wants");
            nl.delete(&l.name).await?;
            gone.insert(l.index);
        }
    }
    links.retain(|l| !gone.contains(&l.index));
    Ok(())
}

/// `{"ports": {id: ACTIVE|DOWN}, "errors": [...]}`: a port is ACTIVE when
/// it is administratively up and its tap is up in its network's bridge.
fn status(feed: &NodeFeed, plan: &Plan, links: &[Link], errors: Vec<String>) -> Value {
    let by_name: HashMap<&str, &Link> = links.iter().map(|l| (l.name.as_str(), l)).collect();
    let mut ports = Map::new();
    for p in &feed.ports {
        let tap = l2::tap_name(&p.id);
        let plugged = plan.taps.get(&tap).is_some_and(|(_, bridge)| {
            let br = by_name.get(bridge.as_str());
            let t = by_name.get(tap.as_str());
            matches!((br, t), (Some(br), Some(t)) if t.master == Some(br.index) && t.up && br.up)
        });
        let s = if plugged && p.admin_state_up {
            "ACTIVE"
        } else {
            "DOWN"
        };
        ports.insert(p.id.clone(), json!(s));
    }
    json!({"ports": ports, "errors": errors})
}

/// Follows link events: plugs a wanted tap as it appears and signals a
/// change when a wanted tap comes or goes. Ends with the role.
async fn follow_links(role: std::sync::Weak<Inner>, nl: Netlink, mut events: LinkEvents) {
    follow(&role, &nl, &mut events).await;
    if role.upgrade().is_some() {
        tracing::warn!("the link-event socket closed; it is opened again at the next apply");
    }
}

async fn follow(role: &std::sync::Weak<Inner>, nl: &Netlink, events: &mut LinkEvents) {
    while let Some(ev) = events.next().await {
        let Some(inner) = role.upgrade() else {
            return;
        };
        let (link, removed) = match ev {
            LinkEvent::New(l) => (l, false),
            LinkEvent::Removed(l) => (l, true),
        };
        if !link.name.starts_with(l2::TAP_PREFIX) {
            continue;
        }
        if removed {
            // Whether wanted or not: a tap made again under this name is
            // new, and its plugging is news.
            if let Ok(mut p) = inner.plugged.lock() {
                p.remove(&link.name);
            }
        }
        let plan = match inner.plan.lock() {
            Ok(p) => p.clone(),
            Err(_) => continue,
        };
        let Some((port, bridge)) = plan.taps.get(&link.name).cloned() else {
            continue;
        };
        if removed {
            tracing::info!(%port, tap = %link.name, "port device gone");
            inner.changed.notify_one();
            continue;
        }
        match plug(nl, &plan, &link.name, &bridge).await {
            Ok(Some(changed)) => {
                // Our own changes echo back as events: report only when
                // this event changed something, or the first time the tap
                // is seen plugged (someone else may have plugged it).
                let first = inner
                    .plugged
                    .lock()
                    .map(|mut p| p.insert(link.name.clone()))
                    .unwrap_or(false);
                if changed || first {
                    tracing::info!(%port, tap = %link.name, %bridge, "plugged");
                    inner.changed.notify_one();
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(%port, error = %e, "cannot plug"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wanted_taps_are_the_ports_dhcp_ports_and_router_legs() {
        let feed: NodeFeed = serde_json::from_value(json!({
            "networks": [], "ports": [], "security_groups": [], "remote_groups": {},
            "dhcp": [{"network_id": "n", "subnet_id": "s", "entries": [],
                "port": {"id": "dhcp-port-000000", "mac_address": "fa:16:3e:00:00:01",
                    "address": null}}],
            "routers": [{"id": "r", "admin_state_up": true, "routes": [],
                "floatingips": [], "port_forwardings": [],
                "interfaces": [{"port_id": "leg-port-0000000", "network_id": "n",
                    "mac_address": "fa:16:3e:00:00:02", "addresses": []}],
                "gateway": {"port_id": "gw-port-00000000", "network_id": "e",
                    "mac_address": "fa:16:3e:00:00:03", "addresses": [],
                    "enable_snat": true, "default_gateways": []}}]
        }))
        .unwrap();
        let mut plan = Plan::default();
        plan.taps.insert(
            l2::tap_name("vm-port-00000000"),
            ("vm-port-00000000".into(), l2::bridge_name("n")),
        );
        let want = wanted_taps(&plan, &feed);
        let names: BTreeSet<String> = [
            "vm-port-00000000",
            "dhcp-port-000000",
            "leg-port-0000000",
            "gw-port-00000000",
        ]
        .iter()
        .map(|id| l2::tap_name(id))
        .collect();
        assert_eq!(want, names);
    }

    #[test]
    fn the_services_memo_ignores_port_statuses_only() {
        let feed: NodeFeed = serde_json::from_value(json!({
            "networks": [], "security_groups": [], "remote_groups": {},
            "dhcp": [], "routers": [],
            "ports": [{"id": "p", "network_id": "n",
                "segment": {"network_type": "flat", "physical_network": "physnet1",
                    "segmentation_id": null},
                "mac_address": "fa:16:3e:00:00:01", "admin_state_up": true,
                "device_owner": "compute:nova", "device_id": "vm", "fixed_ips": [],
                "port_security_enabled": true, "allowed_address_pairs": [],
                "security_groups": [], "status": "DOWN"}]
        }))
        .unwrap();
        let mut reported = feed.clone();
        reported.ports[0].status = "ACTIVE".into();
        assert_eq!(services_key(&feed), services_key(&reported));
        let mut moved = feed.clone();
        moved.ports[0].mac_address = "fa:16:3e:00:00:02".into();
        assert_ne!(services_key(&feed), services_key(&moved));
    }

    #[test]
    fn only_a_feed_echoing_the_last_report_is_answered_from_it() {
        let feed: NodeFeed = serde_json::from_value(json!({
            "networks": [], "security_groups": [], "remote_groups": {},
            "dhcp": [], "routers": [],
            "ports": [{"id": "p", "network_id": "n",
                "segment": {"network_type": "flat", "physical_network": "physnet1",
                    "segmentation_id": null},
                "mac_address": "fa:16:3e:00:00:01", "admin_state_up": true,
                "device_owner": "compute:nova", "device_id": "vm", "fixed_ips": [],
                "port_security_enabled": true, "allowed_address_pairs": [],
                "security_groups": [], "status": "DOWN"}]
        }))
        .unwrap();
        let reported = json!({"ports": {"p": "ACTIVE"}, "errors": []});
        let mut echoed = feed.clone();
        echoed.ports[0].status = "ACTIVE".into();
        assert!(only_echoes_report(&feed, &echoed, &reported));
        // The same feed again is a deliberate re-apply.
        assert!(!only_echoes_report(&feed, &feed, &reported));
        // A status this node did not report.
        let down = json!({"ports": {"p": "DOWN"}, "errors": []});
        assert!(!only_echoes_report(&feed, &echoed, &down));
        // Anything else that changed.
        let mut moved = echoed.clone();
        moved.ports[0].admin_state_up = false;
        assert!(!only_echoes_report(&feed, &moved, &reported));
    }

    #[test]
    fn mappings_parse_as_neutron_writes_them() {
        let m = parse_mappings("physnet1:eth1, physnet2:veth0").unwrap();
        assert_eq!(m["physnet1"], "eth1");
        assert_eq!(m["physnet2"], "veth0");
        assert!(parse_mappings("").unwrap().is_empty());
        for bad in ["physnet1", ":eth1", "physnet1:", "a:b:c", "p:a,p:b"] {
            assert!(parse_mappings(bad).is_err(), "{bad}");
        }
    }
}

//! Neutron's agents, made from the node registry: each node shows one
//! agent per Neutron process its roles stand for (network role: L3, DHCP,
//! metadata and Linux bridge agents; compute role: the Linux bridge
//! agent). The agent rows (stable ids, `admin_state_up`, `description`)
//! are made when the node first fetches its desired state, as upstream's
//! are at an agent's first `report_state`; liveness and the heartbeat
//! are the registry's. Also the availability zones those agents make
//! (DHCP → `network`, L3 → `router`) and the scheduling of routers and
//! DHCP to network nodes.
//!
//! Scheduling is a pure function of the registry and the agent rows
//! (rendezvous hashing over the network nodes whose agent of that kind is
//! `admin_state_up`), so every document agrees without a bindings table;
//! liveness does not move anything, as upstream does not without
//! `allow_automatic_l3agent_failover`: an operator disables a dead node's
//! agent to move its routers.

use super::attrs::{self, Attrs};
use super::list::{self, attr, nullable, Attr, AttrKind};
use super::Network;
use crate::db::agents::{self as rows, AgentRow};
use common::context::AuthContext;
use common::http::QueryMap;
use common::service::{DirectoryEntry, NodeInfo};
use common::{Error, Result};
use db::list::ListQuery;
use serde_json::{json, Value};
use std::collections::HashMap;

/// One Neutron agent a node's role stands for (neutron-lib's
/// `AGENT_TYPE_*`, `AGENT_PROCESS_*` and the agent's RPC topic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub agent_type: &'static str,
    pub binary: &'static str,
    pub topic: &'static str,
    /// The node roles that run it.
    pub roles: &'static [&'static str],
    /// Whether it reports an availability zone (L3 and DHCP do).
    pub zoned: bool,
}

pub const L3: Kind = Kind {
    agent_type: "L3 agent",
    binary: "neutron-l3-agent",
    topic: "l3_agent",
    roles: &["network"],
    zoned: true,
};
pub const DHCP: Kind = Kind {
    agent_type: "DHCP agent",
    binary: "neutron-dhcp-agent",
    topic: "dhcp_agent",
    roles: &["network"],
    zoned: true,
};
pub const METADATA: Kind = Kind {
    agent_type: "Metadata agent",
    binary: "neutron-metadata-agent",
    topic: "N/A",
    roles: &["network"],
    zoned: false,
};
pub const LINUXBRIDGE: Kind = Kind {
    agent_type: "Linux bridge agent",
    binary: "neutron-linuxbridge-agent",
    topic: "N/A",
    roles: &["network", "compute"],
    zoned: false,
};
pub const KINDS: &[Kind] = &[L3, DHCP, METADATA, LINUXBRIDGE];

/// The zone L3 and DHCP agents report (neutron's `availability_zone`
/// option's default).
pub const DEFAULT_ZONE: &str = "nova";

impl Kind {
    pub fn runs_on(&self, node: &NodeInfo) -> bool {
        self.roles.iter().any(|r| node.has_role(r))
    }

    fn of(agent_type: &str) -> Option<Kind> {
        KINDS.iter().copied().find(|k| k.agent_type == agent_type)
    }
}

pub fn not_found(id: &str) -> Error {
    Error::not_found(format!("Agent {id} could not be found.")).with_fault("AgentNotFound")
}

/// What upstream answers when policy hides the agent from the caller.
fn hidden() -> Error {
    Error::not_found("The resource could not be found.")
}

const ATTRS: &[Attr] = &[
    attr("id", "id", AttrKind::Text),
    attr("agent_type", "agent_type", AttrKind::Text),
    attr("binary", "binary_name", AttrKind::Text),
    attr("topic", "topic", AttrKind::Text),
    attr("host", "host", AttrKind::Text),
    attr("admin_state_up", "admin_state_up", AttrKind::Bool),
    nullable(attr("description", "description", AttrKind::Text)),
    nullable(attr(
        "availability_zone",
        "availability_zone",
        AttrKind::Text,
    )),
    attr("created_at", "created_at", AttrKind::Int),
    attr("started_at", "started_at", AttrKind::Int),
];

const KNOWN: &[&str] = &[
    "id",
    "agent_type",
    "binary",
    "topic",
    "host",
    "admin_state_up",
    "created_at",
    "started_at",
    "heartbeat_timestamp",
    "alive",
    "configurations",
    "description",
    "availability_zone",
    "resources_synced",
];
const PUT: &[&str] = &["admin_state_up", "description"];

/// An agent as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentView {
    pub row: AgentRow,
    pub alive: bool,
    /// The node's last heartbeat (micros); the row's start when the node
    /// is no longer registered.
    pub heartbeat_at: i64,
    pub configurations: Value,
}

/// Which network node hosts which router and which network's DHCP.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    /// Network nodes whose L3 agent is enabled, by name.
    l3: Vec<String>,
    /// Network nodes whose DHCP agent is enabled, by name.
    dhcp: Vec<String>,
}

impl Placement {
    /// From the registry and the agent rows: a network node's agent of a
    /// kind is a candidate unless its row says `admin_state_up` false (a
    /// node that has not fetched yet has no row and is a candidate).
    pub fn new(nodes: &[NodeInfo], agents: &[AgentRow]) -> Placement {
        let enabled = |node: &NodeInfo, kind: Kind| {
            node.has_role("network")
                && agents
                    .iter()
                    .find(|a| a.host == node.name && a.agent_type == kind.agent_type)
                    .is_none_or(|a| a.admin_state_up)
        };
        let names = |kind: Kind| {
            nodes
                .iter()
                .filter(|n| enabled(n, kind))
                .map(|n| n.name.clone())
                .collect()
        };
        Placement {
            l3: names(L3),
            dhcp: names(DHCP),
        }
    }

    /// The node hosting router `id`.
    pub fn router_host(&self, id: &str) -> Option<&str> {
        rendezvous(&self.l3, id)
    }

    /// The node serving DHCP for network `id`.
    pub fn dhcp_host(&self, id: &str) -> Option<&str> {
        rendezvous(&self.dhcp, id)
    }
}

/// Highest-random-weight choice: each resource goes to the candidate with
/// the highest hash of (candidate, resource), so adding or removing one
/// node moves only the resources it wins or held.
fn rendezvous<'a>(candidates: &'a [String], id: &str) -> Option<&'a str> {
    candidates
        .iter()
        .max_by_key(|c| (fnv1a(c.as_bytes(), id.as_bytes()), c.as_str()))
        .map(String::as_str)
}

/// FNV-1a over `a`, a separator and `b`, then MurmurHash3's finaliser
/// (FNV alone barely mixes an early byte, so one node would win every
/// resource): stable across processes and versions (unlike std's
/// hasher), so every replica schedules alike.
fn fnv1a(a: &[u8], b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in a.iter().chain(&[0u8]).chain(b) {
        h ^= u64::from(*byte);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl Network {
    /// Makes the agent rows of `node`'s roles that do not exist yet (its
    /// first desired-state fetch, or the first after an operator deleted
    /// one, as upstream's next `report_state` does).
    pub async fn ensure_agents(&self, node: &NodeInfo) -> Result<()> {
        let have = rows::of_host(&self.db.pool, &node.name).await?;
        let missing: Vec<Kind> = KINDS
            .iter()
            .copied()
            .filter(|k| k.runs_on(node) && !have.iter().any(|a| a.agent_type == k.agent_type))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let now = self.now();
        let mut tx = self.begin().await?;
        for k in missing {
            let row = AgentRow {
                id: common::ids::uuid(),
                agent_type: k.agent_type.into(),
                binary: k.binary.into(),
                topic: k.topic.into(),
                host: node.name.clone(),
                availability_zone: k.zoned.then(|| DEFAULT_ZONE.to_string()),
                admin_state_up: true,
                description: None,
                created_at: now,
                started_at: now,
            };
            rows::insert_missing(tx.conn(), &row).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The registry's nodes (name → entry).
    async fn directory(&self) -> Result<HashMap<String, DirectoryEntry>> {
        Ok(self
            .nodes
            .nodes()
            .await?
            .into_iter()
            .map(|e| (e.node.name.clone(), e))
            .collect())
    }

    /// Where routers and DHCP go now.
    pub async fn placement(&self) -> Result<Placement> {
        let nodes: Vec<NodeInfo> = self
            .nodes
            .nodes()
            .await?
            .into_iter()
            .map(|e| e.node)
            .collect();
        let agents = rows::all(&self.db.pool).await?;
        Ok(Placement::new(&nodes, &agents))
    }

    /// The rows as shown: liveness from the registry (up, and the node
    /// still holds a role that runs the agent) and what each agent hosts.
    async fn agent_views(&self, found: Vec<AgentRow>) -> Result<Vec<AgentView>> {
        let dir = self.directory().await?;
        let nodes: Vec<NodeInfo> = dir.values().map(|e| e.node.clone()).collect();
        let all = rows::all(&self.db.pool).await?;
        let placement = Placement::new(&nodes, &all);
        let census = self.census(&placement).await?;
        Ok(found
            .into_iter()
            .map(|row| {
                let entry = dir.get(&row.host);
                let kind = Kind::of(&row.agent_type);
                let alive = match (entry, kind) {
                    (Some(e), Some(k)) => e.up && k.runs_on(&e.node),
                    _ => false,
                };
                let configurations = configurations(&row, entry, &census);
                AgentView {
                    heartbeat_at: entry.map_or(row.started_at, |e| e.heartbeat_at),
                    alive,
                    configurations,
                    row,
                }
            })
            .collect())
    }

    /// How many routers, networks and bound ports each node has.
    async fn census(&self, placement: &Placement) -> Result<Census> {
        let mut tx = self.db.pool.begin().await?;
        let snap = crate::db::feed::snapshot(&mut tx).await?;
        tx.commit().await?;
        let mut c = Census::default();
        for r in &snap.routers {
            if let Some(h) = placement.router_host(&r.id) {
                *c.routers.entry(h.to_string()).or_default() += 1;
            }
        }
        let dhcp_nets: Vec<&str> = snap
            .networks
            .iter()
            .filter(|n| {
                snap.subnets
                    .iter()
                    .any(|s| s.network_id == n.id && s.enable_dhcp)
            })
            .map(|n| n.id.as_str())
            .collect();
        for n in dhcp_nets {
            if let Some(h) = placement.dhcp_host(n) {
                *c.networks.entry(h.to_string()).or_default() += 1;
            }
        }
        for p in &snap.ports {
            if !p.binding_host_id.is_empty() {
                *c.devices.entry(p.binding_host_id.clone()).or_default() += 1;
            }
        }
        Ok(c)
    }

    fn require_admin(&self, ctx: &AuthContext, action: &str) -> Result<()> {
        if self.check(ctx, action, &json!({})) {
            Ok(())
        } else {
            Err(hidden())
        }
    }

    /// A page of agents (none for a caller `get_agent` refuses, as
    /// upstream filters a list by policy). `alive` filters after the page
    /// is read, as upstream's does.
    pub async fn list_agents(
        &self,
        ctx: &AuthContext,
        q: &QueryMap,
    ) -> Result<(Vec<AgentView>, list::Request)> {
        let base = ListQuery::new(self.db.kind, "network_agents", rows::COLUMNS, "id");
        let req = list::parse(q, ATTRS, base, "id", self.settings.pagination_max_limit)?;
        if !self.check(ctx, "get_agent", &json!({})) {
            return Ok((Vec::new(), req));
        }
        let alive =
            match q.get("alive").filter(|v| !v.is_empty()) {
                Some(v) => Some(attrs::to_bool(&Value::String(v.to_string())).ok_or_else(
                    || super::invalid_input(format!("'{v}' cannot be converted to boolean")),
                )?),
                None => None,
            };
        let mut found = match rows::list(&self.db.pool, &req.query).await {
            Ok(r) => r,
            Err(db::list::ListError::MarkerNotFound(m)) => return Err(not_found(&m)),
            Err(db::list::ListError::Sql(e)) => return Err(e.into()),
        };
        if req.page_reverse {
            found.reverse();
        }
        let mut views = self.agent_views(found).await?;
        if let Some(a) = alive {
            views.retain(|v| v.alive == a);
        }
        Ok((views, req))
    }

    pub async fn show_agent(&self, ctx: &AuthContext, id: &str) -> Result<AgentView> {
        self.require_admin(ctx, "get_agent")?;
        let row = rows::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.agent_views(vec![row])
            .await?
            .pop()
            .ok_or_else(|| not_found(id))
    }

    /// `admin_state_up` and `description`; a change of `admin_state_up`
    /// of an L3 or DHCP agent reschedules, so it bumps the feed.
    pub async fn update_agent(&self, ctx: &AuthContext, id: &str, a: Attrs) -> Result<AgentView> {
        self.require_admin(ctx, "get_agent")?;
        attrs::check_keys(&a, KNOWN, PUT, false)?;
        let mut row = rows::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.enforce(ctx, "update_agent", &json!({}))?;
        if let Some(v) = attrs::boolean(&a, "admin_state_up")? {
            row.admin_state_up = v;
        }
        if let Some(v) = attrs::string(&a, "description", 255, true)? {
            row.description = v;
        }
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        if !rows::update(tx.conn(), &row).await? {
            return Err(not_found(id));
        }
        tx.commit().await?;
        self.agent_views(vec![row])
            .await?
            .pop()
            .ok_or_else(|| not_found(id))
    }

    pub async fn delete_agent(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        self.require_admin(ctx, "get_agent")?;
        self.enforce(ctx, "delete_agent", &json!({}))?;
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        if !rows::delete(tx.conn(), id).await? {
            return Err(not_found(id));
        }
        tx.commit().await?;
        Ok(())
    }

    /// The availability zones the L3 (`router`) and DHCP (`network`)
    /// agents are in: `available` when any agent of the pair is
    /// `admin_state_up`, as upstream's `_list_availability_zones`.
    /// Filters: `name`, `resource`, `state` (each repeatable).
    pub async fn list_availability_zones(
        &self,
        ctx: &AuthContext,
        q: &QueryMap,
    ) -> Result<Vec<AvailabilityZone>> {
        self.enforce(ctx, "get_availability_zone", &json!({}))?;
        let agents = rows::all(&self.db.pool).await?;
        let mut zones: Vec<AvailabilityZone> = Vec::new();
        for a in &agents {
            let Some(name) = a.availability_zone.as_deref().filter(|z| !z.is_empty()) else {
                continue;
            };
            let resource = match a.agent_type.as_str() {
                t if t == DHCP.agent_type => "network",
                t if t == L3.agent_type => "router",
                _ => continue,
            };
            match zones
                .iter_mut()
                .find(|z| z.name == name && z.resource == resource)
            {
                Some(z) => z.available |= a.admin_state_up,
                None => zones.push(AvailabilityZone {
                    name: name.to_string(),
                    resource: resource.to_string(),
                    available: a.admin_state_up,
                }),
            }
        }
        let wanted = |key: &str, v: &str| {
            let vals: Vec<&str> = q.get_all(key).filter(|s| !s.is_empty()).collect();
            vals.is_empty() || vals.contains(&v)
        };
        zones.retain(|z| {
            wanted("name", &z.name) && wanted("resource", &z.resource) && wanted("state", z.state())
        });
        zones.sort_by(|a, b| (&a.name, &a.resource).cmp(&(&b.name, &b.resource)));
        Ok(zones)
    }
}

/// One availability zone of one resource kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailabilityZone {
    pub name: String,
    /// `network` or `router`.
    pub resource: String,
    pub available: bool,
}

impl AvailabilityZone {
    pub fn state(&self) -> &'static str {
        if self.available {
            "available"
        } else {
            "unavailable"
        }
    }
}

/// What each node hosts, for the agents' `configurations`.
#[derive(Debug, Default)]
struct Census {
    routers: HashMap<String, i64>,
    networks: HashMap<String, i64>,
    devices: HashMap<String, i64>,
}

/// The agent's `configurations`, with upstream's keys for what this cloud
/// knows: what it hosts and how its host is wired.
fn configurations(row: &AgentRow, node: Option<&DirectoryEntry>, c: &Census) -> Value {
    let count = |m: &HashMap<String, i64>| m.get(&row.host).copied().unwrap_or(0);
    match Kind::of(&row.agent_type) {
        Some(k) if k == L3 => json!({
            "agent_mode": "legacy",
            "handle_internal_only_routers": true,
            "interface_driver": "linuxbridge",
            "log_agent_heartbeats": false,
            "routers": count(&c.routers),
        }),
        Some(k) if k == DHCP => json!({
            "log_agent_heartbeats": false,
            "networks": count(&c.networks),
        }),
        Some(k) if k == METADATA => json!({"log_agent_heartbeats": false}),
        Some(k) if k == LINUXBRIDGE => json!({
            "devices": count(&c.devices),
            "extensions": [],
            "l2_population": true,
            "log_agent_heartbeats": false,
            "tunnel_types": ["vxlan"],
            "tunneling_ip": node.map(|e| e.node.address.clone()).unwrap_or_default(),
        }),
        _ => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, roles: &[&str]) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            hostname: name.into(),
            address: "192.0.2.1".into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn routers_go_to_enabled_network_nodes_and_stay_put() {
        let nodes = [
            node("net1", &["network"]),
            node("net2", &["network", "compute"]),
            node("cmp1", &["compute"]),
        ];
        let p = Placement::new(&nodes, &[]);
        let ids: Vec<String> = (0..50).map(|i| format!("router-{i}")).collect();
        let hosts: Vec<&str> = ids.iter().filter_map(|i| p.router_host(i)).collect();
        assert_eq!(hosts.len(), 50);
        assert!(hosts.iter().all(|h| *h == "net1" || *h == "net2"));
        assert!(hosts.contains(&"net1") && hosts.contains(&"net2"));
        // Disabling net2's L3 agent moves only its routers, and all to net1.
        let off = AgentRow {
            id: "a".into(),
            agent_type: L3.agent_type.into(),
            binary: L3.binary.into(),
            topic: L3.topic.into(),
            host: "net2".into(),
            availability_zone: None,
            admin_state_up: false,
            description: None,
            created_at: 0,
            started_at: 0,
        };
        let q = Placement::new(&nodes, std::slice::from_ref(&off));
        for (id, before) in ids.iter().zip(&hosts) {
            assert_eq!(q.router_host(id), Some("net1"), "{id} was on {before}");
        }
        // DHCP is scheduled on its own agent, still on both.
        assert!(ids.iter().any(|i| q.dhcp_host(i) == Some("net2")));
        assert_eq!(Placement::new(&nodes[2..], &[]).router_host("r"), None);
    }
}

//! Registration, node authentication, heartbeats, the desired-state
//! document and its long-poll, status reports, and the admin listing.

use super::{constant_time_eq, hash, NodeInfo, Nodes};
use crate::db::nodes::{self as q, NodeRow};
use crate::wire;
use common::Error;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// Longest accepted node name, hostname or address.
const MAX_FIELD: usize = 255;

impl Nodes {
    /// Registers node `name` (or re-registers it: same name, new token,
    /// new address and roles, status kept). `secret` is the join secret.
    pub async fn register(
        &self,
        secret: &str,
        name: &str,
        req: wire::RegisterRequest,
    ) -> Result<wire::RegisterResponse, Error> {
        if !self.join_secret_matches(secret) {
            return Err(Error::unauthorized("The cluster join secret is not valid."));
        }
        validate_name(name)?;
        for (field, v) in [("hostname", &req.hostname), ("address", &req.address)] {
            if v.len() > MAX_FIELD || v.chars().any(char::is_control) {
                return Err(Error::bad_request(format!("Invalid {field}.")));
            }
        }
        let mut roles = Vec::new();
        for r in &req.roles {
            if !wire::ROLES.contains(&r.as_str()) {
                return Err(Error::bad_request(format!(
                    "Unknown role {r:?}; roles are {}.",
                    wire::ROLES.join(", ")
                )));
            }
            if !roles.contains(r) {
                roles.push(r.clone());
            }
        }
        if roles.is_empty() {
            return Err(Error::bad_request("A node needs at least one role."));
        }
        let token = format!("{name}.{}", common::ids::random_secret(32));
        let now = self.clock.now_micros();
        let row = NodeRow {
            name: name.to_string(),
            hostname: req.hostname,
            address: req.address,
            roles: json!(roles).to_string(),
            token_hash: hash(&token),
            registered_at: now,
            heartbeat_at: now,
            status: "{}".into(),
            status_at: 0,
        };
        let mut tx = self.db.begin_write().await?;
        q::upsert(tx.conn(), &row).await?;
        // The document shows the node's roles and address: wake its poll.
        tx.bump(crate::REVISION).await?;
        tx.commit().await?;
        tracing::info!(node = name, roles = ?roles, "node registered");
        let stored = q::get(&self.db.pool, name)
            .await?
            .ok_or_else(|| Error::internal("node vanished after registering"))?;
        Ok(wire::RegisterResponse {
            node: self.view(&stored),
            token,
        })
    }

    /// The node `name` when `token` is its current token; 401 otherwise.
    pub async fn authenticate(&self, name: &str, token: &str) -> Result<NodeInfo, Error> {
        let refuse = || Error::unauthorized("The node credentials are not valid.");
        let row = q::get(&self.db.pool, name).await?.ok_or_else(refuse)?;
        if !constant_time_eq(&hash(token), &row.token_hash) {
            return Err(refuse());
        }
        info(&row)
    }

    pub async fn heartbeat(&self, node: &NodeInfo) -> Result<(), Error> {
        q::heartbeat(&self.db.pool, &node.name, self.clock.now_micros()).await?;
        Ok(())
    }

    /// The node's document now.
    pub async fn desired_state(&self, node: &NodeInfo) -> Result<wire::DesiredState, Error> {
        // Revision first: the document built after it is at least as new.
        let revision = db::revisions::sum(&self.db.pool, &self.counters()).await?;
        let roles: Map<String, Value> = node.roles.iter().map(|r| (r.clone(), json!({}))).collect();
        let mut parts = Map::new();
        for s in &self.sources {
            let t = std::time::Instant::now();
            parts.insert(s.name().to_string(), s.part(node).await?);
            tracing::debug!(node = %node.name, part = s.name(), took = ?t.elapsed(), "desired-state part built");
        }
        Ok(wire::DesiredState {
            revision,
            document: json!({
                "node": {
                    "name": node.name,
                    "hostname": node.hostname,
                    "address": node.address,
                    "roles": node.roles,
                },
                "roles": roles,
                "parts": parts,
            }),
        })
    }

    /// The long-poll: the document once its revision is past `after`, or
    /// `None` when `timeout` (capped) passed first. Counts as a heartbeat.
    /// `token` is the one `node` authenticated with.
    pub async fn wait_desired_state(
        &self,
        node: &NodeInfo,
        token: &str,
        after: Option<i64>,
        timeout: Option<Duration>,
    ) -> Result<Option<wire::DesiredState>, Error> {
        self.heartbeat(node).await?;
        if let Some(after) = after {
            let timeout = timeout
                .unwrap_or(self.settings.long_poll_default)
                .min(self.settings.long_poll_max);
            let counters = self.counters();
            let wait = self
                .db
                .revisions()
                .wait_sum(&self.db.pool, &counters, after, timeout);
            let rev = tokio::select! {
                r = wait => r?,
                () = self.closed() => return Ok(None),
            };
            if rev <= after {
                return Ok(None);
            }
        }
        // The node may have been re-registered while we waited: the
        // document goes only to the holder of the current token.
        let node = self.authenticate(&node.name, token).await?;
        self.desired_state(&node).await.map(Some)
    }

    pub async fn report_status(
        &self,
        node: &NodeInfo,
        report: wire::StatusReport,
    ) -> Result<(), Error> {
        for role in report.roles.keys() {
            if !node.has_role(role) {
                return Err(Error::bad_request(format!(
                    "The node does not hold the role {role:?}."
                )));
            }
        }
        let doc = json!({"revision": report.revision, "roles": report.roles}).to_string();
        q::set_status(&self.db.pool, &node.name, &doc, self.clock.now_micros()).await?;
        // Each service takes what it shows from the report (ports and
        // router interfaces ACTIVE); one that fails does not keep the
        // others from theirs, and the agent reports again after its next
        // change.
        let mut first_error = None;
        for source in &self.sources {
            let t = std::time::Instant::now();
            let r = source.report(node, &report.roles).await;
            tracing::debug!(node = %node.name, part = source.name(), took = ?t.elapsed(), "status report applied");
            if let Err(e) = r {
                tracing::warn!(node = %node.name, part = source.name(), error = %e, "status report not applied");
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    pub async fn list(&self) -> Result<wire::NodeList, Error> {
        let rows = q::list(&self.db.pool).await?;
        Ok(wire::NodeList {
            nodes: rows.iter().map(|r| self.view(r)).collect(),
        })
    }

    fn view(&self, r: &NodeRow) -> wire::Node {
        view(r, self.clock.now_micros(), self.settings.down_after)
    }
}

/// Every node in the store, for `oxistack nodes list` (which reads the
/// store directly, as the other operator commands do).
pub async fn list_store(db: &db::Db, now: i64) -> Result<wire::NodeList, Error> {
    let down_after = super::Settings::default().down_after;
    let rows = q::list(&db.pool).await?;
    Ok(wire::NodeList {
        nodes: rows.iter().map(|r| view(r, now, down_after)).collect(),
    })
}

/// A stored node as shown: `up` when heard from within `down_after` seconds.
fn view(r: &NodeRow, now: i64, down_after: i64) -> wire::Node {
    let up = view_up(r.heartbeat_at, now, down_after);
    let status = match serde_json::from_str::<Value>(&r.status) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    wire::Node {
        name: r.name.clone(),
        hostname: r.hostname.clone(),
        address: r.address.clone(),
        roles: serde_json::from_str(&r.roles).unwrap_or_default(),
        registered_at: common::clock::iso_seconds(r.registered_at),
        heartbeat_at: common::clock::iso_seconds(r.heartbeat_at),
        state: if up { "up" } else { "down" }.into(),
        status,
        status_at: (r.status_at > 0).then(|| common::clock::iso_seconds(r.status_at)),
    }
}

/// The liveness rule: heard from within `down_after` seconds.
pub(crate) fn view_up(heartbeat_at: i64, now: i64, down_after: i64) -> bool {
    now.saturating_sub(heartbeat_at) <= down_after.saturating_mul(1_000_000)
}

pub(crate) fn info(r: &NodeRow) -> Result<NodeInfo, Error> {
    Ok(NodeInfo {
        name: r.name.clone(),
        hostname: r.hostname.clone(),
        address: r.address.clone(),
        roles: serde_json::from_str(&r.roles)
            .map_err(|e| Error::internal(format!("node {} roles: {e}", r.name)))?,
    })
}

/// Node names are host-like: letters, digits, `-`, `_` and `.`, the
/// token's prefix up to its first `.` being irrelevant to lookups.
fn validate_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= MAX_FIELD
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::bad_request(
            "Invalid node name: use letters, digits, '-', '_' and '.'.",
        ))
    }
}

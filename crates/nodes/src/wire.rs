//! The internal API's request and response bodies, shared with the node
//! agent (`crates/agent`) so both ends read one definition.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The roles a node can hold.
pub const ROLES: &[&str] = &["controller", "network", "compute"];

/// `PUT /internal/v1/nodes/{name}` (with the join secret).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub hostname: String,
    pub address: String,
    pub roles: Vec<String>,
}

/// The answer to a registration: the node and its new token, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RegisterResponse {
    pub node: Node,
    pub token: String,
}

/// A node as the registry shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Node {
    pub name: String,
    pub hostname: String,
    pub address: String,
    pub roles: Vec<String>,
    /// ISO 8601, UTC.
    pub registered_at: String,
    pub heartbeat_at: String,
    /// `up` when the node was heard from in the last
    /// [`crate::Settings::down_after`] seconds, else `down` (Nova's
    /// `os-services` states).
    pub state: String,
    /// The last status report, one document per role.
    pub status: Map<String, Value>,
    pub status_at: Option<String>,
}

/// `GET /internal/v1/nodes`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NodeList {
    pub nodes: Vec<Node>,
}

/// `GET /internal/v1/nodes/{name}/desired-state`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DesiredState {
    pub revision: i64,
    pub document: Value,
}

/// `PUT /internal/v1/nodes/{name}/status`: the revision the node applied
/// and one status document per role.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StatusReport {
    pub revision: i64,
    pub roles: Map<String, Value>,
}

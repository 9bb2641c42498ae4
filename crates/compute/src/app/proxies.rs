//! Nova's views of the network service's security groups: the
//! `addSecurityGroup`/`removeSecurityGroup` server actions (applied to
//! every port of the server, as nova/network/security_group_api.py
//! does), `GET /servers/{id}/os-security-groups`, the
//! `/os-security-groups` proxy of microversions up to 2.35 (list, show,
//! create, update, delete), and the shape Nova gives a Neutron group
//! (`tenant_id`, ingress rules only, `ip_range` or the remote `group`);
//! and `/os-security-group-rules` (create, delete): Nova's
//! `_new_ingress_rule` checks and defaults, then a Neutron ingress rule.

use super::servers::service_context;
use super::Compute;
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use network::app::security_groups::GroupView;
use network::db::security_groups::RuleRow;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub mod policy {
    pub const LIST: &str = "os_compute_api:os-security-groups:list";
    pub const ADD: &str = "os_compute_api:os-security-groups:add";
    pub const REMOVE: &str = "os_compute_api:os-security-groups:remove";
    pub const RULE_CREATE: &str = "os_compute_api:os-security-groups:rule:create";
    pub const RULE_DELETE: &str = "os_compute_api:os-security-groups:rule:delete";
    pub const GET: &str = "os_compute_api:os-security-groups:get";
    pub const SHOW: &str = "os_compute_api:os-security-groups:show";
    pub const CREATE: &str = "os_compute_api:os-security-groups:create";
    pub const UPDATE: &str = "os_compute_api:os-security-groups:update";
    pub const DELETE: &str = "os_compute_api:os-security-groups:delete";
}

/// Nova's `validate_id`: proxied group ids must be UUIDs.
fn valid_group_id(id: &str) -> Result<()> {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    if hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(Error::bad_request("Security group id should be uuid"))
    }
}

/// A group not found, as Nova passes Neutron's message on.
fn group_error(e: Error) -> Error {
    nova_error(e)
}

/// `{"security_group": {"name", "description"}}` as Nova's `create`
/// (and `update`) schema checks it: both strings of at most 255.
pub fn parse_group_body(body: &Value) -> Result<(String, String)> {
    let sg = body
        .get("security_group")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            Error::bad_request(
                "Invalid input for field/attribute security_group. 'security_group' is a \
                 required property",
            )
        })?;
    let field = |k: &str| -> Result<String> {
        match sg.get(k) {
            Some(Value::String(s)) if s.chars().count() <= 255 => Ok(s.clone()),
            Some(v) => Err(Error::bad_request(format!(
                "Invalid input for field/attribute {k}. Value: {v}."
            ))),
            None => Err(Error::bad_request(format!(
                "Invalid input for field/attribute security_group. '{k}' is a required property"
            ))),
        }
    };
    Ok((field("name")?, field("description")?))
}

/// A network service error in Nova's body (no Neutron fault type).
pub fn nova_error(e: Error) -> Error {
    match e.fault() {
        Some(_) => Error::new(e.kind(), e.message().to_string()),
        None => e,
    }
}

/// Nova's `_convert_to_nova_security_group_format` then
/// `_format_security_group`: `names` maps group ids to `(name,
/// project)` for rules naming a remote group.
pub fn nova_security_group(g: &GroupView, names: &BTreeMap<String, (String, String)>) -> Value {
    let rules: Vec<Value> = g
        .rules
        .iter()
        .filter(|r| r.direction == "ingress")
        .map(|r| {
            let (from, to) = match (&r.protocol, r.port_range_min, r.port_range_max) {
                (Some(p), None, None)
                    if matches!(p.to_ascii_lowercase().as_str(), "tcp" | "udp") =>
                {
                    (json!(1), json!(65535))
                }
                (Some(_), None, None) => (json!(-1), json!(-1)),
                (_, min, max) => (json!(min), json!(max)),
            };
            let mut rule = json!({
                "id": r.id,
                "parent_group_id": r.security_group_id,
                "ip_protocol": r.protocol,
                "from_port": from,
                "to_port": to,
                "group": {},
                "ip_range": {},
            });
            match &r.remote_group_id {
                Some(remote) => {
                    if let Some((name, project)) = names.get(remote) {
                        rule["group"] = json!({"name": name, "tenant_id": project});
                    }
                }
                None => {
                    let cidr = r.remote_ip_prefix.clone().unwrap_or_else(|| {
                        if r.ethertype == "IPv6" {
                            "::/0"
                        } else {
                            "0.0.0.0/0"
                        }
                        .to_string()
                    });
                    rule["ip_range"] = json!({ "cidr": cidr });
                }
            }
            rule
        })
        .collect();
    json!({
        "id": g.row.id,
        "name": g.row.name,
        "description": g.row.description,
        "tenant_id": g.row.project_id,
        "rules": rules,
    })
}

impl Compute {
    /// Names and projects of the groups `groups`' rules refer to.
    pub async fn remote_group_names(
        &self,
        groups: &[GroupView],
    ) -> Result<BTreeMap<String, (String, String)>> {
        let mut names: BTreeMap<String, (String, String)> = groups
            .iter()
            .map(|g| {
                (
                    g.row.id.clone(),
                    (g.row.name.clone(), g.row.project_id.clone()),
                )
            })
            .collect();
        for g in groups {
            for r in &g.rules {
                if let Some(remote) = &r.remote_group_id {
                    if names.contains_key(remote) {
                        continue;
                    }
                    let row =
                        network::db::security_groups::get(&self.network.db.pool, remote).await?;
                    if let Some(row) = row {
                        names.insert(remote.clone(), (row.name, row.project_id));
                    }
                }
            }
        }
        Ok(names)
    }

    /// `GET /servers/{id}/os-security-groups`: the groups of the
    /// server's ports, by project and name.
    pub async fn server_security_groups(&self, ctx: &AuthContext, id: &str) -> Result<Vec<Value>> {
        let row = self.visible_server(ctx, id, policy::LIST).await?;
        let svc = service_context(&row.project_id, &row.user_id);
        let q = QueryMap(vec![("device_id".into(), row.id.clone())]);
        let (ports, _) = self
            .network
            .list_ports(&svc, &q)
            .await
            .map_err(nova_error)?;
        let mut ids: Vec<String> = ports
            .iter()
            .flat_map(|p| p.row.security_groups.iter().cloned())
            .collect();
        ids.sort();
        ids.dedup();
        let mut groups = Vec::new();
        for gid in ids {
            match self.network.show_group(&svc, &gid).await {
                Ok(g) => groups.push(g),
                Err(e) if e.kind() == common::ErrorKind::NotFound => {}
                Err(e) => return Err(nova_error(e)),
            }
        }
        let names = self.remote_group_names(&groups).await?;
        let mut out: Vec<Value> = groups
            .iter()
            .map(|g| nova_security_group(g, &names))
            .collect();
        out.sort_by(|a, b| {
            (a["tenant_id"].as_str(), a["name"].as_str())
                .cmp(&(b["tenant_id"].as_str(), b["name"].as_str()))
        });
        Ok(out)
    }

    /// A security group by name (in the server's project) or id, as
    /// neutronclient's `find_resourceid_by_name_or_id` finds it.
    async fn find_security_group(
        &self,
        svc: &AuthContext,
        project: &str,
        name: &str,
    ) -> Result<GroupView> {
        let q = QueryMap(vec![
            ("name".into(), name.to_string()),
            ("project_id".into(), project.to_string()),
        ]);
        let (mut found, _) = self
            .network
            .list_groups(svc, &q)
            .await
            .map_err(nova_error)?;
        match found.len() {
            1 => return Ok(found.remove(0)),
            0 => {}
            _ => {
                return Err(Error::conflict(format!(
                    "Multiple security_group matches found for name '{name}', use an ID to be \
                     more specific."
                )))
            }
        }
        match self.network.show_group(svc, name).await {
            Ok(g) => Ok(g),
            Err(e) if e.kind() == common::ErrorKind::NotFound => Err(Error::not_found(format!(
                "Security group {name} not found."
            ))),
            Err(e) => Err(nova_error(e)),
        }
    }

    /// `addSecurityGroup` (`add`) and `removeSecurityGroup`: the group
    /// goes onto (or off) every port of the server.
    pub async fn change_server_security_group(
        &self,
        ctx: &AuthContext,
        id: &str,
        arg: &Value,
        add: bool,
    ) -> Result<()> {
        let action = if add {
            "addSecurityGroup"
        } else {
            "removeSecurityGroup"
        };
        let row = self
            .visible_server(ctx, id, if add { policy::ADD } else { policy::REMOVE })
            .await?;
        let name = match arg {
            Value::Object(o) => match o.get("name") {
                Some(Value::String(n)) if !n.trim().is_empty() => n.clone(),
                Some(Value::String(_)) => {
                    return Err(Error::bad_request("Security group name cannot be empty"))
                }
                Some(other) => {
                    return Err(Error::bad_request(format!(
                        "Invalid input for field/attribute name. Value: {other}. {other} is not \
                         of type 'string'"
                    )))
                }
                None => {
                    return Err(Error::bad_request(format!(
                        "Invalid input for field/attribute {action}. 'name' is a required \
                         property"
                    )))
                }
            },
            other => {
                return Err(Error::bad_request(format!(
                    "Invalid input for field/attribute {action}. Value: {other}. {other} is not \
                     of type 'object'"
                )))
            }
        };
        let svc = service_context(&row.project_id, &row.user_id);
        let group = self
            .find_security_group(&svc, &row.project_id, &name)
            .await?;
        let q = QueryMap(vec![("device_id".into(), row.id.clone())]);
        let (ports, _) = self
            .network
            .list_ports(&svc, &q)
            .await
            .map_err(nova_error)?;
        if ports.is_empty() {
            return Err(Error::not_found(format!(
                "instance_id {} could not be found as device id on any ports",
                row.id
            )));
        }
        let mut changed = false;
        for p in &ports {
            let mut groups = p.row.security_groups.clone();
            if add {
                if !p.row.port_security_enabled {
                    return Err(Error::bad_request(
                        "Network requires port_security_enabled and subnet associated in order \
                         to apply security groups.",
                    ));
                }
                if groups.contains(&group.row.id) {
                    continue;
                }
                groups.push(group.row.id.clone());
            } else {
                let before = groups.len();
                groups.retain(|g| *g != group.row.id);
                if groups.len() == before {
                    continue;
                }
            }
            let mut a = Map::new();
            a.insert("security_groups".into(), json!(groups));
            self.network
                .update_port(&svc, &p.row.id, a)
                .await
                .map_err(nova_error)?;
            changed = true;
        }
        if !add && !changed {
            return Err(Error::not_found(format!(
                "Security group {name} not associated with the instance {}",
                row.id
            )));
        }
        // The server's own list of names (shown in its detail).
        let mut names = row.security_groups.clone();
        if add {
            if !names.contains(&group.row.name) {
                names.push(group.row.name.clone());
            }
        } else {
            names.retain(|n| *n != group.row.name);
        }
        crate::db::servers::set_security_groups(&self.db.pool, &row.id, &names, self.now()).await?;
        Ok(())
    }

    async fn nova_groups(&self, groups: Vec<GroupView>) -> Result<Vec<Value>> {
        let names = self.remote_group_names(&groups).await?;
        Ok(groups
            .iter()
            .map(|g| nova_security_group(g, &names))
            .collect())
    }

    /// `GET /os-security-groups`: the caller's project's groups (every
    /// project's for an admin asking `all_tenants`), by project and name.
    pub async fn proxy_list_security_groups(
        &self,
        ctx: &AuthContext,
        all_tenants: bool,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<Value>> {
        let project = self.project_of(ctx)?.to_string();
        self.enforce(ctx, policy::GET, &json!({"project_id": project}))?;
        let mut q = QueryMap(vec![]);
        if !(all_tenants && self.is_admin(ctx)) {
            q.0.push(("project_id".into(), project));
        }
        let (found, _) = self
            .network
            .list_groups(ctx, &q)
            .await
            .map_err(nova_error)?;
        let mut out: Vec<Value> = self
            .nova_groups(found.into_iter().skip(offset).take(limit).collect())
            .await?;
        out.sort_by(|a, b| {
            (a["tenant_id"].as_str(), a["name"].as_str())
                .cmp(&(b["tenant_id"].as_str(), b["name"].as_str()))
        });
        Ok(out)
    }

    /// `GET /os-security-groups/{id}`.
    pub async fn proxy_show_security_group(&self, ctx: &AuthContext, id: &str) -> Result<Value> {
        let project = self.project_of(ctx)?.to_string();
        self.enforce(ctx, policy::SHOW, &json!({"project_id": project}))?;
        valid_group_id(id)?;
        let g = self
            .network
            .show_group(ctx, id)
            .await
            .map_err(group_error)?;
        Ok(self.nova_groups(vec![g]).await?.remove(0))
    }

    /// `POST /os-security-groups`.
    pub async fn proxy_create_security_group(
        &self,
        ctx: &AuthContext,
        name: String,
        description: String,
    ) -> Result<Value> {
        let project = self.project_of(ctx)?.to_string();
        self.enforce(ctx, policy::CREATE, &json!({"project_id": project}))?;
        let mut a = Map::new();
        a.insert("name".into(), json!(name));
        a.insert("description".into(), json!(description));
        let mut made = self
            .network
            .create_groups(ctx, vec![a])
            .await
            .map_err(|e| match e.kind() {
                common::ErrorKind::Conflict => Error::forbidden(e.message().to_string()),
                common::ErrorKind::BadRequest => Error::bad_request(e.message().to_string()),
                _ => nova_error(e),
            })?;
        let g = made
            .pop()
            .ok_or_else(|| Error::internal("the network service made no group"))?;
        Ok(self.nova_groups(vec![g]).await?.remove(0))
    }

    /// `PUT /os-security-groups/{id}`.
    pub async fn proxy_update_security_group(
        &self,
        ctx: &AuthContext,
        id: &str,
        name: String,
        description: String,
    ) -> Result<Value> {
        let project = self.project_of(ctx)?.to_string();
        self.enforce(ctx, policy::UPDATE, &json!({"project_id": project}))?;
        valid_group_id(id)?;
        self.network
            .show_group(ctx, id)
            .await
            .map_err(group_error)?;
        let mut a = Map::new();
        a.insert("name".into(), json!(name));
        a.insert("description".into(), json!(description));
        let g = self
            .network
            .update_group(ctx, id, a)
            .await
            .map_err(|e| match e.kind() {
                common::ErrorKind::NotFound => nova_error(e),
                _ => Error::bad_request(e.message().to_string()),
            })?;
        Ok(self.nova_groups(vec![g]).await?.remove(0))
    }

    /// `DELETE /os-security-groups/{id}` (a group in use is Nova's 400).
    pub async fn proxy_delete_security_group(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let project = self.project_of(ctx)?.to_string();
        self.enforce(ctx, policy::DELETE, &json!({"project_id": project}))?;
        valid_group_id(id)?;
        self.network
            .delete_group(ctx, id)
            .await
            .map_err(|e| match e.kind() {
                common::ErrorKind::Conflict => Error::bad_request(e.message().to_string()),
                _ => nova_error(e),
            })
    }
}

/// A rule Nova asks the network service for (Nova's `new_rule` dict):
/// its source is a remote group or a CIDR; ports as Nova has them
/// (`-1` for "any" ICMP type or code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRule {
    pub group_id: Option<String>,
    pub cidr: Option<String>,
    pub protocol: Option<String>,
    pub from_port: Option<i64>,
    pub to_port: Option<i64>,
}

/// `os-security-group-rules`' create body, checked as Nova's schema does:
/// `(parent_group_id, group_id, ip_protocol, from_port, to_port, cidr)`.
pub type RuleBody = (String, Option<String>, Value, Value, Value, Value);

fn uuid_like(s: &str) -> bool {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
}

pub fn parse_rule_body(body: &Value) -> Result<RuleBody> {
    let rule = body
        .get("security_group_rule")
        .ok_or_else(|| {
            Error::bad_request(
                "Invalid input for field/attribute security_group_rule. 'security_group_rule' \
                 is a required property",
            )
        })?
        .as_object()
        .ok_or_else(|| {
            Error::bad_request(format!(
                "Invalid input for field/attribute security_group_rule. Value: {}. {} is not \
                 of type 'object'",
                body["security_group_rule"], body["security_group_rule"]
            ))
        })?;
    let uuid_field = |k: &str, v: &Value| -> Result<String> {
        match v {
            Value::String(s) if uuid_like(s) => Ok(s.clone()),
            Value::String(s) => Err(Error::bad_request(format!(
                "Invalid input for field/attribute {k}. Value: {s}. '{s}' is not a 'uuid'"
            ))),
            other => Err(Error::bad_request(format!(
                "Invalid input for field/attribute {k}. Value: {other}. {other} is not of type \
                 'string'"
            ))),
        }
    };
    let parent =
        match rule.get("parent_group_id") {
            Some(v) => uuid_field("parent_group_id", v)?,
            None => return Err(Error::bad_request(
                "Invalid input for field/attribute security_group_rule. 'parent_group_id' is a \
                 required property",
            )),
        };
    let group = match rule.get("group_id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(uuid_field("group_id", v)?),
    };
    let get = |k: &str| rule.get(k).cloned().unwrap_or(Value::Null);
    Ok((
        parent,
        group,
        get("ip_protocol"),
        get("from_port"),
        get("to_port"),
        get("cidr"),
    ))
}

/// Python's truthiness of a JSON value (Nova tests `if ip_protocol`).
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Python's `str()` of a JSON value, for messages and the protocol.
fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

/// Python's `int()` of a port: integers, integral strings, floats
/// truncated; anything else is not a port.
fn py_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// `urllib.parse.unquote` of a CIDR.
fn unquote(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An address with a prefix length (oslo's `is_valid_cidr`): the
/// address, its prefix, and whether it is IPv6.
fn split_cidr(cidr: &str) -> Option<(std::net::IpAddr, u8)> {
    let (addr, len) = cidr.split_once('/')?;
    let ip: std::net::IpAddr = addr.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

/// Nova's `parse_cidr`: empty is "0.0.0.0/0"; anything else must be a
/// network.
pub fn parse_cidr(v: &Value) -> Result<String> {
    if !truthy(v) {
        return Ok("0.0.0.0/0".into());
    }
    let raw = py_str(v);
    let cidr = unquote(&raw);
    if split_cidr(&cidr).is_none() {
        return Err(Error::bad_request(format!(
            "{cidr} is not a valid IP network."
        )));
    }
    Ok(cidr)
}

/// Nova's `_new_ingress_rule`: `None` when a CIDR rule lacks a protocol
/// or ports ("Not enough parameters").
pub fn new_ingress_rule(
    protocol: &Value,
    from: &Value,
    to: &Value,
    group_id: Option<String>,
    cidr: Option<String>,
) -> Result<Option<NewRule>> {
    let mut from = from.clone();
    let mut to = to.clone();
    if group_id.is_some() {
        // Everything is open for a source group given no ports.
        let upper = if truthy(protocol) {
            py_str(protocol).to_ascii_uppercase()
        } else {
            String::new()
        };
        if from.is_null() && to.is_null() {
            if upper == "ICMP" {
                (from, to) = (json!(-1), json!(-1));
            } else if upper == "TCP" || upper == "UDP" {
                (from, to) = (json!(1), json!(65535));
            }
        }
    }
    let mut rule = NewRule {
        group_id: group_id.clone(),
        cidr: if group_id.is_some() {
            None
        } else {
            cidr.clone()
        },
        protocol: None,
        from_port: None,
        to_port: None,
    };
    if truthy(protocol) && !from.is_null() && !to.is_null() {
        let proto = py_str(protocol);
        let upper = proto.to_ascii_uppercase();
        let (Some(f), Some(t)) = (py_int(&from), py_int(&to)) else {
            let reason = if upper == "ICMP" {
                "Type and Code must be integers for ICMP protocol type"
            } else {
                "To and From ports must be integers"
            };
            return Err(Error::bad_request(format!(
                "Invalid input received: {reason}"
            )));
        };
        if !matches!(upper.as_str(), "TCP" | "UDP" | "ICMP") {
            return Err(Error::bad_request(format!("Invalid IP protocol {proto}.")));
        }
        let range = |msg: &str| Error::bad_request(format!("Invalid port range {f}:{t}. {msg}"));
        if upper != "ICMP" && f > t {
            return Err(range("Former value cannot be greater than the later"));
        }
        if upper != "ICMP" && (f < 1 || t > 65535) {
            return Err(range(&format!(
                "Valid {upper} ports should be between 1-65535"
            )));
        }
        if upper == "ICMP" && (!(-1..=255).contains(&f) || !(-1..=255).contains(&t)) {
            return Err(range("For ICMP, the type:code must be valid"));
        }
        // Neutron keeps protocol names in lower case.
        rule.protocol = Some(proto.to_ascii_lowercase());
        rule.from_port = Some(f);
        rule.to_port = Some(t);
    } else if rule.cidr.is_some() {
        return Ok(None);
    }
    Ok(Some(rule))
}

/// A Neutron rule in Nova's terms (`_convert_to_nova_security_group_rule_format`):
/// `(protocol, from_port, to_port)`.
fn nova_ports(r: &RuleRow) -> (Option<String>, Option<i64>, Option<i64>) {
    match (&r.protocol, r.port_range_min, r.port_range_max) {
        (Some(p), None, None) if matches!(p.to_ascii_uppercase().as_str(), "TCP" | "UDP") => {
            (Some(p.clone()), Some(1), Some(65535))
        }
        (Some(p), None, None) => (Some(p.clone()), Some(-1), Some(-1)),
        (p, min, max) => (p.clone(), min, max),
    }
}

/// Nova's `_rule_exists`: the same source, ports and protocol.
fn rule_exists(group: &GroupView, new: &NewRule) -> bool {
    group
        .rules
        .iter()
        .filter(|r| r.direction == "ingress")
        .any(|r| {
            let (proto, from, to) = nova_ports(r);
            // Nova's view of an existing rule always has a CIDR
            // (`parse_cidr` of none is 0.0.0.0/0), and the new rule's only
            // when it has no source group.
            let cidr = r
                .remote_ip_prefix
                .clone()
                .unwrap_or_else(|| "0.0.0.0/0".to_string());
            r.remote_group_id == new.group_id
                && Some(cidr) == new.cidr
                && from == new.from_port
                && to == new.to_port
                && proto.map(|p| p.to_ascii_lowercase()) == new.protocol
        })
}

/// `_format_security_group_rule` of a rule just made.
pub fn nova_rule(r: &RuleRow, group: Option<(&str, &str)>) -> Value {
    let (proto, from, to) = nova_ports(r);
    let mut v = json!({
        "id": r.id,
        "parent_group_id": r.security_group_id,
        "ip_protocol": proto,
        "from_port": from,
        "to_port": to,
        "group": {},
        "ip_range": {},
    });
    match group {
        Some((name, project)) => v["group"] = json!({"name": name, "tenant_id": project}),
        None => {
            let cidr = r
                .remote_ip_prefix
                .clone()
                .unwrap_or_else(|| "0.0.0.0/0".to_string());
            v["ip_range"] = json!({ "cidr": cidr });
        }
    }
    v
}

impl Compute {
    /// `POST /os-security-group-rules`.
    pub async fn proxy_create_security_group_rule(
        &self,
        ctx: &AuthContext,
        body: RuleBody,
    ) -> Result<Value> {
        let project = self.project_of(ctx)?.to_string();
        self.enforce(ctx, policy::RULE_CREATE, &json!({"project_id": project}))?;
        let (parent_id, group_id, protocol, from, to, cidr) = body;
        let parent = self
            .network
            .show_group(ctx, &parent_id)
            .await
            .map_err(group_error)?;
        let source = match &group_id {
            Some(g) => Some(self.network.show_group(ctx, g).await.map_err(group_error)?),
            None => None,
        };
        let cidr = match group_id {
            Some(_) => None,
            None => Some(parse_cidr(&cidr)?),
        };
        let new = new_ingress_rule(&protocol, &from, &to, group_id, cidr)?
            .ok_or_else(|| Error::bad_request("Not enough parameters to build a valid rule."))?;
        if let Some(c) = &new.cidr {
            if let Some((ip, 0)) = split_cidr(c) {
                if !ip.is_unspecified() {
                    return Err(Error::bad_request(format!(
                        "Bad prefix for network in cidr {c}"
                    )));
                }
            }
        }
        if rule_exists(&parent, &new) {
            return Err(Error::bad_request(format!(
                "This rule already exists in group {}",
                parent.row.id
            )));
        }
        let mut a = Map::new();
        a.insert("direction".into(), json!("ingress"));
        a.insert("protocol".into(), json!(new.protocol));
        let ethertype = match new.cidr.as_deref().and_then(split_cidr) {
            Some((ip, _)) if ip.is_ipv6() => "IPv6",
            _ => "IPv4",
        };
        a.insert("ethertype".into(), json!(ethertype));
        a.insert("remote_ip_prefix".into(), json!(new.cidr));
        a.insert("security_group_id".into(), json!(parent.row.id));
        a.insert("remote_group_id".into(), json!(new.group_id));
        if let Some(f) = new.from_port.filter(|p| *p != -1) {
            a.insert("port_range_min".into(), json!(f));
        }
        if let Some(t) = new.to_port.filter(|p| *p != -1) {
            a.insert("port_range_max".into(), json!(t));
        }
        let made = self
            .network
            .create_rules(ctx, vec![a])
            .await
            .map_err(|e| match e.kind() {
                // Nova's `SecurityGroupLimitExceeded` for Neutron's 409.
                common::ErrorKind::Conflict => Error::forbidden(e.message().to_string()),
                _ => nova_error(e),
            })?;
        let rule = made
            .first()
            .ok_or_else(|| Error::internal("the network service made no rule"))?;
        let group = source
            .as_ref()
            .map(|g| (g.row.name.as_str(), g.row.project_id.as_str()));
        Ok(nova_rule(rule, group))
    }

    /// `DELETE /os-security-group-rules/{id}`.
    pub async fn proxy_delete_security_group_rule(
        &self,
        ctx: &AuthContext,
        id: &str,
    ) -> Result<()> {
        let project = self.project_of(ctx)?.to_string();
        self.enforce(ctx, policy::RULE_DELETE, &json!({"project_id": project}))?;
        valid_group_id(id)?;
        let rule = self.network.show_rule(ctx, id).await.map_err(group_error)?;
        self.network
            .show_group(ctx, &rule.security_group_id)
            .await
            .map_err(group_error)?;
        self.network.delete_rule(ctx, id).await.map_err(nova_error)
    }
}

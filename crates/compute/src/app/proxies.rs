//! Nova's views of the network service's security groups: the
//! `addSecurityGroup`/`removeSecurityGroup` server actions (applied to
//! every port of the server, as nova/network/security_group_api.py
//! does), `GET /servers/{id}/os-security-groups`, the
//! `/os-security-groups` proxy of microversions up to 2.35 (list, show,
//! create, update, delete), and the shape Nova gives a Neutron group
//! (`tenant_id`, ingress rules only, `ip_range` or the remote `group`).

use super::servers::service_context;
use super::Compute;
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use network::app::security_groups::GroupView;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub mod policy {
    pub const LIST: &str = "os_compute_api:os-security-groups:list";
    pub const ADD: &str = "os_compute_api:os-security-groups:add";
    pub const REMOVE: &str = "os_compute_api:os-security-groups:remove";
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

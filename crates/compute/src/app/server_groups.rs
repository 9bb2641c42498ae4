//! Server groups (`/os-server-groups`, Nova's instance groups): their
//! create body per microversion (`policies` list until 2.63, `policy` +
//! `rules` from 2.64, the soft policies from 2.15), the `server_groups`
//! quota, membership through the `group` scheduler hint (checked against
//! `server_group_members`), and the scheduler constraint a group puts on
//! a new member's host.

use super::scheduler::GroupPolicy;
use super::Compute;
use crate::api::Microversion;
use crate::db::quotas as quota_rows;
use crate::db::server_groups as q;
use common::context::AuthContext;
use common::{Error, Result};
use serde_json::{json, Map, Value};

pub use crate::db::server_groups::GroupRow;

pub mod policy {
    pub const CREATE: &str = "os_compute_api:os-server-groups:create";
    pub const DELETE: &str = "os_compute_api:os-server-groups:delete";
    pub const INDEX: &str = "os_compute_api:os-server-groups:index";
    pub const INDEX_ALL: &str = "os_compute_api:os-server-groups:index:all_projects";
    pub const SHOW: &str = "os_compute_api:os-server-groups:show";
}

/// Nova's `osapi_max_limit`, the longest page `limit` gives.
const MAX_LIMIT: usize = 1000;

/// A group with its live members, as the API shows it.
#[derive(Debug, Clone)]
pub struct Group {
    pub row: GroupRow,
    pub members: Vec<String>,
}

impl Group {
    /// The group's body at `mv` (tempest's v2_1, v2_13 and v2_64
    /// `server_groups` schemas).
    pub fn to_json(&self, mv: Microversion) -> Value {
        let g = &self.row;
        let mut v = json!({"id": g.id, "name": g.name, "members": self.members});
        if mv.at_least(64) {
            v["policy"] = json!(g.policy);
            v["rules"] = serde_json::from_str(&g.rules).unwrap_or_else(|_| json!({}));
        } else {
            v["policies"] = json!([g.policy]);
            v["metadata"] = json!({});
        }
        if mv.at_least(13) {
            v["project_id"] = json!(g.project_id);
            v["user_id"] = json!(g.user_id);
        }
        v
    }
}

/// A group to create, as the body asked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewGroup {
    pub name: String,
    pub policy: String,
    pub rules: Map<String, Value>,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::bad_request(msg)
}

fn not_found(id: &str) -> Error {
    Error::not_found(format!("Instance group {id} could not be found."))
}

/// Checks the create body as Nova's `create`, `create_v215` and
/// `create_v264` schemas do.
pub fn parse_create(body: &Value, mv: Microversion) -> Result<NewGroup> {
    let Some(obj) = body.as_object() else {
        return Err(bad(format!(
            "Invalid input for field/attribute body. Value: {body}. {body} is not of type 'object'"
        )));
    };
    if let Some(k) = obj.keys().find(|k| *k != "server_group") {
        return Err(bad(format!(
            "Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let Some(sg) = obj.get("server_group").and_then(Value::as_object) else {
        return Err(bad(
            "Invalid input for field/attribute server_group. 'server_group' is a required property",
        ));
    };
    let v264 = mv.at_least(64);
    let allowed: &[&str] = if v264 {
        &["name", "policy", "rules"]
    } else {
        &["name", "policies"]
    };
    if let Some(k) = sg.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(bad(format!(
            "Invalid input for field/attribute server_group. Additional properties are not \
             allowed ('{k}' was unexpected)"
        )));
    }
    let required = |k: &str| {
        sg.get(k).ok_or_else(|| {
            bad(format!(
                "Invalid input for field/attribute server_group. '{k}' is a required property"
            ))
        })
    };
    let name = super::servers::check_name("name", required("name")?)?;
    let mut known = vec!["anti-affinity", "affinity"];
    if mv.at_least(15) {
        known.extend(["soft-anti-affinity", "soft-affinity"]);
    }
    let one_of = |field: &str, v: &Value| -> Result<String> {
        match v.as_str() {
            Some(p) if known.contains(&p) => Ok(p.to_string()),
            _ => Err(bad(format!(
                "Invalid input for field/attribute {field}. Value: {v}. {v} is not one of {known:?}"
            ))),
        }
    };
    if !v264 {
        let policies = required("policies")?;
        let items = policies.as_array().ok_or_else(|| {
            bad(format!(
                "Invalid input for field/attribute policies. Value: {policies}. {policies} is \
                 not of type 'array'"
            ))
        })?;
        if items.len() != 1 {
            return Err(bad(format!(
                "Invalid input for field/attribute policies. Value: {policies}. {policies} \
                 should have exactly one item"
            )));
        }
        let policy = one_of("policies", &items[0])?;
        return Ok(NewGroup {
            name,
            policy,
            rules: Map::new(),
        });
    }
    let policy = one_of("policy", required("policy")?)?;
    let rules = match sg.get("rules") {
        None => Map::new(),
        Some(Value::Object(r)) => {
            if let Some(k) = r.keys().find(|k| *k != "max_server_per_host") {
                return Err(bad(format!(
                    "Invalid input for field/attribute rules. Additional properties are not \
                     allowed ('{k}' was unexpected)"
                )));
            }
            if let Some(m) = r.get("max_server_per_host") {
                let n = positive_integer(m).ok_or_else(|| {
                    bad(format!(
                        "Invalid input for field/attribute max_server_per_host. Value: {m}. \
                         {m} is not a positive integer"
                    ))
                })?;
                let mut out = Map::new();
                out.insert("max_server_per_host".into(), json!(n));
                out
            } else {
                Map::new()
            }
        }
        Some(other) => {
            return Err(bad(format!(
                "Invalid input for field/attribute rules. Value: {other}. {other} is not of \
                 type 'object'"
            )))
        }
    };
    if policy != "anti-affinity" && !rules.is_empty() {
        return Err(bad("Only anti-affinity policy supports rules."));
    }
    Ok(NewGroup {
        name,
        policy,
        rules,
    })
}

/// Nova's `positive_integer`: an integer ≥ 1, or a string of one.
fn positive_integer(v: &Value) -> Option<i64> {
    let n = match v {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (n >= 1).then_some(n)
}

/// `limit`/`offset` as Nova's `common.limited` reads them (non-negative
/// integers; `limit` 0 or absent means the maximum).
pub fn page(limit: Option<&str>, offset: Option<&str>) -> Result<(usize, usize)> {
    let num = |field: &str, v: Option<&str>| -> Result<usize> {
        match v {
            None => Ok(0),
            Some(s) => s.parse::<usize>().map_err(|_| {
                bad(format!(
                    "Invalid input for query parameters {field}. Value: {s}. '{s}' does not \
                     match '^[0-9]*$'"
                ))
            }),
        }
    };
    let limit = num("limit", limit)?;
    let offset = num("offset", offset)?;
    let limit = if limit == 0 {
        MAX_LIMIT
    } else {
        limit.min(MAX_LIMIT)
    };
    Ok((limit, offset))
}

/// The `group` of a create's `os:scheduler_hints` (or the older
/// `OS-SCH-HNT:scheduler_hints`): a group UUID, or a list of one.
pub fn group_hint(body: &Value) -> Result<Option<String>> {
    let hints = body
        .get("os:scheduler_hints")
        .or_else(|| body.get("OS-SCH-HNT:scheduler_hints"));
    let Some(hints) = hints else {
        return Ok(None);
    };
    if !hints.is_object() {
        return Err(bad(format!(
            "Invalid input for field/attribute os:scheduler_hints. Value: {hints}. {hints} is \
             not of type 'object'"
        )));
    }
    let uuid = |v: &Value| {
        v.as_str()
            .filter(|s| {
                let hex: String = s.chars().filter(|c| *c != '-').collect();
                hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
            })
            .map(str::to_string)
    };
    let invalid = |v: &Value| {
        bad(format!(
            "Invalid input for field/attribute group. Value: {v}. {v} is not valid under any \
             of the given schemas"
        ))
    };
    match hints.get("group") {
        None => Ok(None),
        Some(Value::Array(items)) => match items.as_slice() {
            [] => Ok(None),
            [one] => uuid(one).map(Some).ok_or_else(|| invalid(one)),
            _ => Err(invalid(&Value::Array(items.clone()))),
        },
        Some(v) => uuid(v).map(Some).ok_or_else(|| invalid(v)),
    }
}

impl Compute {
    async fn group_with_members(&self, row: GroupRow) -> Result<Group> {
        let members = q::members(&self.db.pool, &row.id)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        Ok(Group { row, members })
    }

    /// `POST /os-server-groups`.
    pub async fn create_server_group(&self, ctx: &AuthContext, new: NewGroup) -> Result<Group> {
        let project = self.project_of(ctx)?.to_string();
        self.enforce(ctx, policy::CREATE, &json!({"project_id": project}))?;
        let row = GroupRow {
            id: common::ids::uuid(),
            name: new.name,
            project_id: project.clone(),
            user_id: ctx.user_id.clone(),
            policy: new.policy,
            rules: Value::Object(new.rules).to_string(),
            created_at: self.now(),
        };
        let mut tx = self.begin().await?;
        quota_rows::lock_project(tx.conn(), &project).await?;
        let mut scopes = vec![None];
        if self.user_limited(tx.conn(), &project, &ctx.user_id).await? {
            scopes.push(Some(ctx.user_id.as_str()));
        }
        for scope in scopes {
            let limits = self.limits_of(tx.conn(), &project, scope).await?;
            let limit = limits.get("server_groups").copied().unwrap_or(-1);
            let used = q::count(&mut *tx.conn(), &project, scope).await?;
            if limit >= 0 && used + 1 > limit {
                return Err(Error::over_quota("Quota exceeded, too many server groups."));
            }
        }
        q::insert(tx.conn(), &row).await?;
        tx.commit().await?;
        Ok(Group {
            row,
            members: vec![],
        })
    }

    /// `GET /os-server-groups/{id}`: any project's group is found, then
    /// the policy decides (Nova's order: another project's group is a
    /// 403, not a 404).
    pub async fn show_server_group(&self, ctx: &AuthContext, id: &str) -> Result<Group> {
        let row = q::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.enforce(ctx, policy::SHOW, &json!({"project_id": row.project_id}))?;
        self.group_with_members(row).await
    }

    /// `DELETE /os-server-groups/{id}`.
    pub async fn delete_server_group(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let row = q::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.enforce(ctx, policy::DELETE, &json!({"project_id": row.project_id}))?;
        let mut tx = self.begin().await?;
        if !q::delete(tx.conn(), id).await? {
            return Err(not_found(id));
        }
        tx.commit().await?;
        Ok(())
    }

    /// `GET /os-server-groups`: the caller's project's groups, or every
    /// project's for an admin asking `all_projects`.
    pub async fn list_server_groups(
        &self,
        ctx: &AuthContext,
        all_projects: bool,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<Group>> {
        let project = self.project_of(ctx)?.to_string();
        let target = json!({"project_id": project});
        self.enforce(ctx, policy::INDEX, &target)?;
        let all = all_projects && self.is_admin(ctx);
        if all {
            self.enforce(ctx, policy::INDEX_ALL, &target)?;
        }
        let rows = q::list(&self.db.pool, (!all).then_some(project.as_str())).await?;
        let mut out = Vec::new();
        for row in rows.into_iter().skip(offset).take(limit) {
            out.push(self.group_with_members(row).await?);
        }
        Ok(out)
    }

    /// The group a create's `group` hint names (Nova's
    /// `InstanceGroupNotFound`, a 400 there).
    pub async fn hinted_group(&self, id: &str) -> Result<GroupRow> {
        q::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| bad(format!("Instance group {id} could not be found.")))
    }

    /// Adds `count` new servers to `group` inside the create's
    /// transaction, refusing (403) when the group would pass
    /// `server_group_members`.
    pub async fn add_group_members(
        &self,
        tx: &mut ::db::WriteTx,
        group: &GroupRow,
        user_id: &str,
        instance_ids: &[String],
    ) -> Result<()> {
        let limits = self
            .limits_of(tx.conn(), &group.project_id, Some(user_id))
            .await?;
        let limit = limits.get("server_group_members").copied().unwrap_or(-1);
        let have = q::members(&mut *tx.conn(), &group.id).await?.len() as i64;
        if limit >= 0 && have + instance_ids.len() as i64 > limit {
            return Err(Error::over_quota(
                "Quota exceeded, too many servers in group",
            ));
        }
        let now = self.now();
        for id in instance_ids {
            q::add_member(tx.conn(), &group.id, id, now).await?;
        }
        Ok(())
    }

    /// The constraint `group` puts on the host of its next member:
    /// affinity to its members' hosts, or anti-affinity from the hosts
    /// already holding `max_server_per_host` (1 by default) members.
    /// The soft policies only weigh hosts in Nova; they filter none.
    /// `extra_hosts` are the hosts chosen for the servers of `batch`,
    /// members being created (whose own rows may not show them yet).
    pub async fn group_constraint(
        &self,
        group: &GroupRow,
        extra_hosts: &[String],
        batch: &[String],
    ) -> Result<Option<(GroupPolicy, Vec<String>)>> {
        let mut hosts: Vec<String> = q::members(&self.db.pool, &group.id)
            .await?
            .into_iter()
            .filter(|(id, _)| !batch.contains(id))
            .filter_map(|(_, h)| h)
            .collect();
        hosts.extend(extra_hosts.iter().cloned());
        Ok(match group.policy.as_str() {
            "affinity" => Some((GroupPolicy::Affinity, hosts)),
            "anti-affinity" => {
                let max = serde_json::from_str::<Value>(&group.rules)
                    .ok()
                    .and_then(|r| r.get("max_server_per_host").and_then(Value::as_i64))
                    .unwrap_or(1)
                    .max(1) as usize;
                let mut full: Vec<String> = hosts
                    .iter()
                    .filter(|h| hosts.iter().filter(|x| x == h).count() >= max)
                    .cloned()
                    .collect();
                full.sort();
                full.dedup();
                Some((GroupPolicy::AntiAffinity, full))
            }
            _ => None,
        })
    }

    /// The groups a server is in (2.71's `server_groups`).
    pub async fn server_group_ids(&self, instance_id: &str) -> Result<Vec<String>> {
        Ok(q::groups_of(&self.db.pool, instance_id).await?)
    }

    /// The groups of a project (of a user in it), for quota usage.
    pub async fn server_group_count(&self, project_id: &str, user_id: Option<&str>) -> Result<i64> {
        Ok(q::count(&self.db.pool, project_id, user_id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_bodies_follow_the_microversion() {
        let old = json!({"server_group": {"name": "g", "policies": ["affinity"]}});
        let g = parse_create(&old, Microversion::v2(1)).unwrap();
        assert_eq!(g.policy, "affinity");
        let soft = json!({"server_group": {"name": "g", "policies": ["soft-affinity"]}});
        assert!(parse_create(&soft, Microversion::v2(14)).is_err());
        assert!(parse_create(&soft, Microversion::v2(15)).is_ok());
        assert!(parse_create(&old, Microversion::v2(64)).is_err());
        let two = json!({"server_group": {"name": "g", "policies": ["affinity", "anti-affinity"]}});
        assert!(parse_create(&two, Microversion::v2(1)).is_err());
        let new = json!({"server_group": {"name": "g", "policy": "anti-affinity",
            "rules": {"max_server_per_host": 2}}});
        let g = parse_create(&new, Microversion::v2(64)).unwrap();
        assert_eq!(g.rules.get("max_server_per_host"), Some(&json!(2)));
        let bad_rules = json!({"server_group": {"name": "g", "policy": "affinity",
            "rules": {"max_server_per_host": 2}}});
        let e = parse_create(&bad_rules, Microversion::v2(64)).unwrap_err();
        assert!(e.to_string().contains("Only anti-affinity"));
        let zero = json!({"server_group": {"name": "g", "policy": "anti-affinity",
            "rules": {"max_server_per_host": 0}}});
        assert!(parse_create(&zero, Microversion::v2(64)).is_err());
        let extra = json!({"server_group": {"name": "g", "policy": "affinity", "x": 1}});
        assert!(parse_create(&extra, Microversion::v2(64)).is_err());
        assert!(parse_create(
            &json!({"server_group": {"policy": "affinity"}}),
            Microversion::v2(64)
        )
        .is_err());
    }

    #[test]
    fn pages_are_limited() {
        assert_eq!(page(None, None).unwrap(), (MAX_LIMIT, 0));
        assert_eq!(page(Some("2"), Some("1")).unwrap(), (2, 1));
        assert_eq!(page(Some("0"), None).unwrap(), (MAX_LIMIT, 0));
        assert!(page(Some("-1"), None).is_err());
        assert!(page(None, Some("x")).is_err());
    }
}

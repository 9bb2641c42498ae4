//! Quotas: the per-project limits (configured defaults, admin overrides),
//! their usage, and the check every create of a counted resource makes.
//!
//! The check counts and inserts in one write transaction that has
//! already bumped the `network` revision counter: on PostgreSQL that row
//! stays locked until commit, so network writers run one at a time past
//! that point (SQLite serialises writers anyway) and two concurrent
//! creates cannot both take the last unit of a quota.

use super::attrs::{self, show, Attrs};
use super::{invalid_input, Network, Quotas};
use crate::db::quotas as rows;
use common::context::AuthContext;
use common::{Error, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Neutron's quota resources, in its order.
pub const RESOURCES: &[&str] = &[
    "network",
    "subnet",
    "port",
    "router",
    "floatingip",
    "security_group",
    "security_group_rule",
    "subnetpool",
];

/// The table each resource's usage is counted in, if it is served yet.
fn table(resource: &str) -> Option<&'static str> {
    match resource {
        "network" => Some("networks"),
        "subnet" => Some("subnets"),
        "port" => Some("ports"),
        "security_group" => Some("security_groups"),
        "security_group_rule" => Some("security_group_rules"),
        "subnetpool" => Some("subnetpools"),
        "router" => Some("routers"),
        "floatingip" => Some("floatingips"),
        _ => None,
    }
}

/// A project's limits, resource → limit (-1 unlimited).
pub type QuotaSet = BTreeMap<String, i64>;

/// Limit, usage and reservations of one resource (quota_details).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detail {
    pub limit: i64,
    pub used: i64,
    pub reserved: i64,
}

fn defaults(q: &Quotas) -> QuotaSet {
    [
        ("network", q.network),
        ("subnet", q.subnet),
        ("port", q.port),
        ("router", q.router),
        ("floatingip", q.floatingip),
        ("security_group", q.security_group),
        ("security_group_rule", q.security_group_rule),
        ("subnetpool", q.subnetpool),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// neutron-lib's `OverQuota`.
pub fn over_quota(resources: &[&str]) -> Error {
    let list: Vec<String> = resources.iter().map(|r| format!("'{r}'")).collect();
    Error::conflict(format!(
        "Quota exceeded for resources: [{}].",
        list.join(", ")
    ))
    .with_fault("OverQuota")
}

fn admin_required(reason: &str) -> Error {
    Error::forbidden(format!("User does not have admin privileges: {reason}."))
        .with_fault("AdminRequired")
}

impl Network {
    /// The default limits.
    pub fn default_quotas(&self) -> QuotaSet {
        defaults(&self.settings.quotas)
    }

    /// A project's limits: defaults with its overrides.
    async fn limits<'c, E>(&self, conn: E, project_id: &str) -> Result<QuotaSet>
    where
        E: db::sqlx::Executor<'c, Database = db::sqlx::Any>,
    {
        let mut q = self.default_quotas();
        for (k, v) in rows::of(conn, project_id).await? {
            if q.contains_key(&k) {
                q.insert(k, v);
            }
        }
        Ok(q)
    }

    /// Reading another project's quotas is the admin's.
    fn may_read_quota(&self, ctx: &AuthContext, project_id: &str) -> Result<()> {
        let tgt = json!({"project_id": project_id, "tenant_id": project_id});
        if self.is_admin(ctx) {
            return Ok(());
        }
        if ctx.project_id() != Some(project_id) {
            return Err(admin_required(
                "Only admin is authorized to access quotas for another tenant",
            ));
        }
        self.enforce(ctx, "get_quota", &tgt)
    }

    /// `GET /v2.0/quotas`: the projects with overrides (admin only).
    pub async fn list_quotas(&self, ctx: &AuthContext) -> Result<Vec<(String, QuotaSet)>> {
        if !self.is_admin(ctx) {
            return Err(admin_required("Only admin can view or configure quota"));
        }
        let mut out = Vec::new();
        for p in rows::projects(&self.db.pool).await? {
            let q = self.limits(&self.db.pool, &p).await?;
            out.push((p, q));
        }
        Ok(out)
    }

    pub async fn show_quota(&self, ctx: &AuthContext, project_id: &str) -> Result<QuotaSet> {
        self.may_read_quota(ctx, project_id)?;
        self.limits(&self.db.pool, project_id).await
    }

    pub async fn default_quota(&self, ctx: &AuthContext, project_id: &str) -> Result<QuotaSet> {
        self.may_read_quota(ctx, project_id)?;
        Ok(self.default_quotas())
    }

    pub async fn quota_details(
        &self,
        ctx: &AuthContext,
        project_id: &str,
    ) -> Result<BTreeMap<String, Detail>> {
        self.may_read_quota(ctx, project_id)?;
        let limits = self.limits(&self.db.pool, project_id).await?;
        let mut out = BTreeMap::new();
        for (k, limit) in limits {
            let used = match table(&k) {
                Some(t) => rows::count(&self.db.pool, t, project_id).await?,
                None => 0,
            };
            out.insert(
                k,
                Detail {
                    limit,
                    used,
                    reserved: 0,
                },
            );
        }
        Ok(out)
    }

    /// `PUT /v2.0/quotas/{project}` (admin only).
    pub async fn update_quota(
        &self,
        ctx: &AuthContext,
        project_id: &str,
        mut a: Attrs,
    ) -> Result<QuotaSet> {
        let tgt = json!({"project_id": project_id, "tenant_id": project_id});
        if !self.check(ctx, "update_quota", &tgt) {
            return Err(admin_required("Only admin can view or configure quota"));
        }
        // The `quota-check-limit` extension's flags (python-openstackclient
        // always sends one): a limit below the usage is refused unless
        // `force` is true; `check_limit` is what neutron does anyway since
        // 2025.1, so it is accepted and changes nothing.
        let force = a.remove("force") == Some(Value::Bool(true));
        a.remove("check_limit");
        let mut extra: Vec<&str> = a
            .keys()
            .map(String::as_str)
            .filter(|k| !RESOURCES.contains(k))
            .collect();
        if !extra.is_empty() {
            extra.sort_unstable();
            return Err(Error::bad_request(format!(
                "Unrecognized attribute(s) '{}'",
                extra.join(", ")
            )));
        }
        let mut set = Vec::new();
        for (k, v) in &a {
            let Some(n) = attrs::to_int(v) else {
                return Err(Error::bad_request(format!(
                    "Invalid input for {k}. Reason: '{}' is not an integer.",
                    show(v)
                )));
            };
            if n < -1 {
                return Err(Error::bad_request(format!(
                    "Invalid input for {k}. Reason: '{n}' should be greater than or equal to -1."
                )));
            }
            if n > i64::from(i32::MAX) {
                return Err(invalid_input(format!("'{n}' is too large")));
            }
            set.push((k.clone(), n));
        }
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        // After the bump, so no create of this project slips in between
        // the count and the new limit.
        for (k, n) in set.iter().filter(|_| !force) {
            let Some(t) = table(k).filter(|_| *n >= 0) else {
                continue;
            };
            let used = rows::count(&mut *tx.conn(), t, project_id).await?;
            if used > *n {
                return Err(Error::bad_request(format!(
                    "Quota limit {n} for {k} must be greater than or equal to already used {used}"
                )));
            }
        }
        for (k, n) in &set {
            rows::set(tx.conn(), project_id, k, *n).await?;
        }
        tx.commit().await?;
        self.limits(&self.db.pool, project_id).await
    }

    /// `DELETE /v2.0/quotas/{project}`: back to the defaults (admin only).
    pub async fn delete_quota(&self, ctx: &AuthContext, project_id: &str) -> Result<()> {
        let tgt = json!({"project_id": project_id, "tenant_id": project_id});
        if !self.check(ctx, "delete_quota", &tgt) {
            return Err(admin_required("Only admin can view or configure quota"));
        }
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        rows::clear(tx.conn(), project_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Refuses (409 `OverQuota`) when creating `adding` more of
    /// `resource` for each project would pass its limit. Runs in the
    /// creating transaction after its revision bump (see the module
    /// docs).
    pub(crate) async fn check_quota(
        &self,
        conn: &mut crate::db::Conn,
        resource: &str,
        adding: &[(String, i64)],
    ) -> Result<()> {
        let Some(t) = table(resource) else {
            return Ok(());
        };
        let mut per: BTreeMap<&str, i64> = BTreeMap::new();
        for (p, n) in adding {
            *per.entry(p.as_str()).or_default() += n;
        }
        for (project, n) in per {
            let limit = self
                .limits(&mut *conn, project)
                .await?
                .get(resource)
                .copied()
                .unwrap_or(-1);
            if limit < 0 {
                continue;
            }
            let used = rows::count(&mut *conn, t, project).await?;
            if used + n > limit {
                return Err(over_quota(&[resource]));
            }
        }
        Ok(())
    }
}

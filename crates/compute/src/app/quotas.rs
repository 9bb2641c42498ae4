//! Quotas (`os-quota-sets`, `os-quota-class-sets`): the limits of each
//! project and of users in it (configured defaults, the `default` quota
//! class's overrides, then the project's and the user's own), their usage,
//! and [`Compute::check_instances`], the check every server create makes
//! inside its own write transaction.
//!
//! Usage is counted, as Nova has done since Pike: live rows of
//! `compute_instances` give instances, cores and RAM, `compute_server_groups`
//! server groups (`app::server_groups` enforces that limit and
//! `server_group_members`); `key_pairs` and `server_group_members` are
//! per-user limits whose `in_use` Nova always shows as 0, as here;
//! the network-era keys (`floating_ips`, `fixed_ips`, `security_groups`,
//! `security_group_rules`, shown before 2.36) are kept and shown but not
//! enforced, as Nova with Neutron does not.

use super::Compute;
use crate::api::Microversion;
use crate::db::quotas as rows;
use common::context::AuthContext;
use common::{Error, Result};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Every quota resource, in Nova's order.
pub const RESOURCES: &[&str] = &[
    "instances",
    "cores",
    "ram",
    "floating_ips",
    "fixed_ips",
    "metadata_items",
    "injected_files",
    "injected_file_content_bytes",
    "injected_file_path_bytes",
    "security_groups",
    "security_group_rules",
    "key_pairs",
    "server_groups",
    "server_group_members",
];

/// Gone from the API at 2.36 (the network proxies).
const NETWORK_KEYS: &[&str] = &[
    "floating_ips",
    "fixed_ips",
    "security_groups",
    "security_group_rules",
];
/// Gone from the API at 2.57 (personality files).
const INJECTED_KEYS: &[&str] = &[
    "injected_files",
    "injected_file_content_bytes",
    "injected_file_path_bytes",
];

/// The quota keys a request at `mv` sees and may set.
pub fn keys_at(mv: Microversion) -> Vec<&'static str> {
    RESOURCES
        .iter()
        .copied()
        .filter(|k| !(mv.at_least(36) && NETWORK_KEYS.contains(k)))
        .filter(|k| !(mv.at_least(57) && INJECTED_KEYS.contains(k)))
        .collect()
}

/// The keys of a quota class at `mv`: the v2.1 API forgot the server
/// group keys until 2.50, which also dropped the network ones.
pub fn class_keys_at(mv: Microversion) -> Vec<&'static str> {
    if mv.at_least(50) {
        return keys_at(mv.max(Microversion::v2(36)));
    }
    RESOURCES
        .iter()
        .copied()
        .filter(|k| !k.starts_with("server_group"))
        .collect()
}

/// Resource → limit (-1 unlimited).
pub type Limits = BTreeMap<&'static str, i64>;

/// Limit, usage and reservations of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detail {
    pub limit: i64,
    pub in_use: i64,
    pub reserved: i64,
}

/// Nova's `db.MAX_INT`: the largest limit the API takes.
const MAX_LIMIT: i64 = 0x7FFF_FFFF;

fn overlay(into: &mut Limits, overrides: Vec<(String, i64)>) {
    for (k, v) in overrides {
        if let Some(key) = RESOURCES.iter().find(|r| **r == k) {
            into.insert(key, v);
        }
    }
}

/// A limit value from a request: an integer, or a string of one (Nova's
/// `common_quota` schema), between -1 and `MAX_LIMIT`.
fn limit_value(key: &str, v: &Value) -> Result<i64> {
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) if !s.is_empty() => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.bytes().all(|b| b.is_ascii_digit()) {
                s.parse().ok()
            } else {
                None
            }
        }
        _ => None,
    };
    let Some(n) = n else {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute {key}. Value: {v}. {v} is not of type \
             'integer', 'string'"
        )));
    };
    if n < -1 {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute {key}. Value: {n}. {n} is less than the \
             minimum of -1"
        )));
    }
    if n > MAX_LIMIT {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute {key}. Value: {n}. {n} is greater than the \
             maximum of {MAX_LIMIT}"
        )));
    }
    Ok(n)
}

/// The `{"quota_set": {...}}` of a PUT: `(limits to set, force)`.
fn parse_update(
    body: &Value,
    allowed: &[&'static str],
) -> Result<(Vec<(&'static str, i64)>, bool)> {
    let Some(set) = body.get("quota_set").and_then(Value::as_object) else {
        return Err(Error::bad_request(
            "Invalid input for field/attribute quota_set. 'quota_set' is a required property",
        ));
    };
    if let Some(extra) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "quota_set"))
    {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute body. Additional properties are not allowed \
             ('{extra}' was unexpected)"
        )));
    }
    let mut force = false;
    let mut out = Vec::new();
    for (k, v) in set {
        if k == "force" {
            force = match v {
                Value::Bool(b) => *b,
                Value::String(s) => common::http::query::parse_bool(s).ok_or_else(|| {
                    Error::bad_request(format!(
                        "Invalid input for field/attribute force. Value: {s}. '{s}' is not \
                         one of the boolean values"
                    ))
                })?,
                _ => {
                    return Err(Error::bad_request(format!(
                        "Invalid input for field/attribute force. Value: {v}. {v} is not \
                         of type 'boolean', 'string'"
                    )))
                }
            };
            continue;
        }
        let Some(key) = allowed.iter().find(|a| **a == k.as_str()) else {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute quota_set. Additional properties are not \
                 allowed ('{k}' was unexpected)"
            )));
        };
        out.push((*key, limit_value(k, v)?));
    }
    Ok((out, force))
}

fn usage_of(u: rows::Usage, key: &str) -> i64 {
    match key {
        "instances" => u.instances,
        "cores" => u.cores,
        "ram" => u.ram,
        _ => 0,
    }
}

/// The `Quota exceeded` 403 of a create passing the limit of `resource`.
pub fn exceeded(resource: &str, requested: i64, used: i64, allowed: i64) -> Error {
    Error::over_quota(format!(
        "Quota exceeded for {resource}: Requested {requested}, but already used {used} of \
         {allowed} {resource}"
    ))
}

/// `-1` as infinity, for comparing limits.
fn inf(v: i64) -> f64 {
    if v < 0 {
        f64::INFINITY
    } else {
        v as f64
    }
}

/// Nova's `_validate_quota_limit`: `min <= n <= max`, -1 unlimited.
fn check_range(k: &str, n: i64, min: i64, max: i64) -> Result<()> {
    if inf(n) < inf(min) {
        return Err(Error::bad_request(format!(
            "Quota limit {n} for {k} must be greater than or equal to already used and \
             reserved {min}."
        )));
    }
    if inf(n) > inf(max) {
        return Err(Error::bad_request(format!(
            "Quota limit {n} for {k} must be less than or equal to {max}."
        )));
    }
    Ok(())
}

/// Nova's `_sub_quota_values`/`_sum_quota_values`: unlimited wins.
fn sub_q(a: i64, b: i64) -> i64 {
    if a < 0 || b < 0 {
        -1
    } else {
        a - b
    }
}

fn sum_q(a: i64, b: i64) -> i64 {
    if a < 0 || b < 0 {
        -1
    } else {
        a + b
    }
}

impl Compute {
    /// Nova's `get_settable_quotas` for each limit being set:
    /// `(key, value, minimum, maximum)`. A project's limit may not go
    /// below its usage nor the sum of its users' limits; a user's must
    /// cover the user's usage and fit in what the project has not given
    /// to its other users.
    async fn settable(
        &self,
        tx: &mut db::WriteTx,
        project_id: &str,
        user_id: Option<&str>,
        set: &[(&'static str, i64)],
    ) -> Result<Vec<(&'static str, i64, i64, i64)>> {
        let project = self.limits_of(tx.conn(), project_id, None).await?;
        let given = rows::user_sums(&mut *tx.conn(), project_id).await?;
        let remains = |k: &str| {
            let limit = project.get(k).copied().unwrap_or(-1);
            let sum = given.iter().find(|(r, _)| r == k).map_or(0, |(_, s)| *s);
            (limit, limit - sum)
        };
        let used = rows::usage(&mut *tx.conn(), project_id, user_id).await?;
        let own = match user_id {
            Some(u) => rows::of(&mut *tx.conn(), project_id, u).await?,
            None => Vec::new(),
        };
        Ok(set
            .iter()
            .map(|(k, n)| {
                let (limit, left) = remains(k);
                let in_use = usage_of(used, k);
                match user_id {
                    Some(_) => {
                        let mine = own.iter().find(|(r, _)| r == k).map_or(0, |(_, v)| *v);
                        let left = if limit < 0 { -1 } else { left };
                        (*k, *n, in_use, sum_q(left, mine))
                    }
                    None => {
                        let left = if limit < 0 || left < 0 { -1 } else { left };
                        let min = sub_q(limit, left).max(in_use);
                        (*k, *n, min, -1)
                    }
                }
            })
            .collect())
    }

    /// The configured defaults (Nova's `[quota]`).
    fn configured(&self) -> Limits {
        let s = &self.settings;
        let mut l = Limits::new();
        for (k, v) in [
            ("instances", s.quota_instances),
            ("cores", s.quota_cores),
            ("ram", s.quota_ram),
            ("floating_ips", -1),
            ("fixed_ips", -1),
            ("metadata_items", s.quota_metadata_items),
            ("injected_files", s.quota_injected_files),
            (
                "injected_file_content_bytes",
                s.quota_injected_file_content_bytes,
            ),
            (
                "injected_file_path_bytes",
                s.quota_injected_file_path_length,
            ),
            ("security_groups", -1),
            ("security_group_rules", -1),
            ("key_pairs", s.quota_key_pairs),
            ("server_groups", s.quota_server_groups),
            ("server_group_members", s.quota_server_group_members),
        ] {
            l.insert(k, v);
        }
        l
    }

    /// The defaults every project starts from: the configuration with
    /// the `default` quota class's overrides.
    pub async fn default_limits<'c, E>(&self, conn: E) -> Result<Limits>
    where
        E: db::sqlx::Executor<'c, Database = db::sqlx::Any>,
    {
        let mut l = self.configured();
        overlay(&mut l, rows::class_of(conn, "default").await?);
        Ok(l)
    }

    /// A project's limits, or a user's in it (the project's, with the
    /// user's overrides).
    pub async fn limits_of(
        &self,
        conn: &mut rows::Conn,
        project_id: &str,
        user_id: Option<&str>,
    ) -> Result<Limits> {
        let mut l = self.default_limits(&mut *conn).await?;
        overlay(&mut l, rows::of(&mut *conn, project_id, "").await?);
        if let Some(u) = user_id {
            overlay(&mut l, rows::of(&mut *conn, project_id, u).await?);
        }
        Ok(l)
    }

    /// Whether the user has overrides of its own.
    pub(crate) async fn user_limited(
        &self,
        conn: &mut rows::Conn,
        project_id: &str,
        user_id: &str,
    ) -> Result<bool> {
        Ok(!rows::of(&mut *conn, project_id, user_id).await?.is_empty())
    }

    /// Nova's `identity.verify_project_id`: a project the identity
    /// service does not know is a 400. Only an admin can be told: anyone
    /// else may not see other projects, which Nova lets through as it
    /// does when Keystone refuses to say.
    async fn verify_project(&self, ctx: &AuthContext, project_id: &str) -> Result<()> {
        if !self.is_admin(ctx) || ctx.project_id() == Some(project_id) {
            return Ok(());
        }
        match self.identity.get_project(ctx, project_id).await {
            Err(e) if e.kind() == common::ErrorKind::NotFound => Err(Error::bad_request(format!(
                "Project ID {project_id} is not a valid project."
            ))),
            _ => Ok(()),
        }
    }

    fn quota_target(project_id: &str, user_id: Option<&str>) -> Value {
        json!({"project_id": project_id, "user_id": user_id.unwrap_or("")})
    }

    /// `GET /os-quota-sets/{project_id}[?user_id=]`.
    pub async fn show_quotas(
        &self,
        ctx: &AuthContext,
        project_id: &str,
        user_id: Option<&str>,
    ) -> Result<Limits> {
        self.enforce(
            ctx,
            "os_compute_api:os-quota-sets:show",
            &Self::quota_target(project_id, user_id),
        )?;
        self.verify_project(ctx, project_id).await?;
        let mut conn = self.db.pool.acquire().await?;
        self.limits_of(&mut conn, project_id, user_id).await
    }

    /// `GET /os-quota-sets/{project_id}/detail[?user_id=]`.
    pub async fn quota_details(
        &self,
        ctx: &AuthContext,
        project_id: &str,
        user_id: Option<&str>,
    ) -> Result<BTreeMap<&'static str, Detail>> {
        self.enforce(
            ctx,
            "os_compute_api:os-quota-sets:detail",
            &Self::quota_target(project_id, user_id),
        )?;
        self.verify_project(ctx, project_id).await?;
        let mut conn = self.db.pool.acquire().await?;
        let limits = self.limits_of(&mut conn, project_id, user_id).await?;
        let used = rows::usage(&mut *conn, project_id, user_id).await?;
        // Nova counts server groups; `key_pairs` and
        // `server_group_members` are per-user and shown as 0 there.
        let groups = crate::db::server_groups::count(&mut *conn, project_id, user_id).await?;
        Ok(limits
            .into_iter()
            .map(|(k, limit)| {
                let in_use = match k {
                    "server_groups" => groups,
                    _ => usage_of(used, k),
                };
                (
                    k,
                    Detail {
                        limit,
                        in_use,
                        reserved: 0,
                    },
                )
            })
            .collect())
    }

    /// `GET /os-quota-sets/{project_id}/defaults`.
    pub async fn quota_defaults(&self, ctx: &AuthContext, project_id: &str) -> Result<Limits> {
        self.enforce(
            ctx,
            "os_compute_api:os-quota-sets:defaults",
            &json!({"project_id": project_id}),
        )?;
        self.verify_project(ctx, project_id).await?;
        self.default_limits(&self.db.pool).await
    }

    /// `PUT /os-quota-sets/{project_id}[?user_id=]` (admin): a limit
    /// below what is in use is refused unless `force`; a user's limit
    /// may not pass its project's.
    pub async fn update_quotas(
        &self,
        ctx: &AuthContext,
        mv: Microversion,
        project_id: &str,
        user_id: Option<&str>,
        body: &Value,
    ) -> Result<Limits> {
        self.enforce(
            ctx,
            "os_compute_api:os-quota-sets:update",
            &Self::quota_target(project_id, user_id),
        )?;
        self.verify_project(ctx, project_id).await?;
        let (set, force) = parse_update(body, &keys_at(mv))?;
        let mut tx = self.begin().await?;
        rows::lock_project(tx.conn(), project_id).await?;
        if !force {
            for (k, n, min, max) in self.settable(&mut tx, project_id, user_id, &set).await? {
                check_range(k, n, min, max)?;
            }
        }
        for (k, n) in &set {
            rows::set(tx.conn(), project_id, user_id.unwrap_or(""), k, *n).await?;
        }
        let out = self.limits_of(tx.conn(), project_id, user_id).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// `DELETE /os-quota-sets/{project_id}[?user_id=]` (admin): back to
    /// the defaults.
    pub async fn delete_quotas(
        &self,
        ctx: &AuthContext,
        project_id: &str,
        user_id: Option<&str>,
    ) -> Result<()> {
        self.enforce(
            ctx,
            "os_compute_api:os-quota-sets:delete",
            &Self::quota_target(project_id, user_id),
        )?;
        let mut tx = self.begin().await?;
        rows::clear(tx.conn(), project_id, user_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A quota class's limits: the configured defaults with its own.
    async fn class_limits(&self, class: &str) -> Result<Limits> {
        let mut l = self.configured();
        overlay(&mut l, rows::class_of(&self.db.pool, class).await?);
        Ok(l)
    }

    /// `GET /os-quota-class-sets/{id}` (admin).
    pub async fn show_quota_class(&self, ctx: &AuthContext, class: &str) -> Result<Limits> {
        self.enforce(ctx, "os_compute_api:os-quota-class-sets:show", &json!({}))?;
        self.class_limits(class).await
    }

    /// `PUT /os-quota-class-sets/{id}` (admin): any class may be set,
    /// but only `default`'s values are ever used as limits (Nova's).
    pub async fn update_quota_class(
        &self,
        ctx: &AuthContext,
        mv: Microversion,
        class: &str,
        body: &Value,
    ) -> Result<Limits> {
        self.enforce(ctx, "os_compute_api:os-quota-class-sets:update", &json!({}))?;
        if class.is_empty() || class.len() > 255 {
            return Err(Error::bad_request(
                "The quota class name must be 1 to 255 characters long.",
            ));
        }
        let body = match body.get("quota_class_set") {
            Some(v) => json!({ "quota_set": v }),
            None => {
                return Err(Error::bad_request(
                    "Invalid input for field/attribute quota_class_set. 'quota_class_set' \
                     is a required property",
                ))
            }
        };
        let (set, force) = parse_update(&body, &class_keys_at(mv))?;
        if force {
            return Err(Error::bad_request(
                "Invalid input for field/attribute quota_class_set. Additional properties \
                 are not allowed ('force' was unexpected)",
            ));
        }
        let mut tx = self.begin().await?;
        for (k, n) in &set {
            rows::set_class(tx.conn(), class, k, *n).await?;
        }
        tx.commit().await?;
        self.class_limits(class).await
    }

    /// Refuses (403 "Quota exceeded for cores: Requested 4, but already
    /// used 18 of 20 cores") a create of `add_instances` servers holding
    /// `add_cores` vCPUs and `add_ram` MiB in all, counting the live
    /// servers of the project (and of the user, when the user has limits
    /// of its own) INSIDE the caller's write transaction, which must also
    /// insert the servers: the project's lock taken here is held until it
    /// ends, so parallel creates are counted one after the other.
    pub async fn check_instances(
        &self,
        tx: &mut db::WriteTx,
        project_id: &str,
        user_id: &str,
        add_instances: i64,
        add_cores: i64,
        add_ram: i64,
    ) -> Result<()> {
        rows::lock_project(tx.conn(), project_id).await?;
        let mut scopes = vec![None];
        if self.user_limited(tx.conn(), project_id, user_id).await? {
            scopes.push(Some(user_id));
        }
        for scope in scopes {
            let limits = self.limits_of(tx.conn(), project_id, scope).await?;
            let used = rows::usage(&mut *tx.conn(), project_id, scope).await?;
            for (key, add, have) in [
                ("instances", add_instances, used.instances),
                ("cores", add_cores, used.cores),
                ("ram", add_ram, used.ram),
            ] {
                let limit = limits.get(key).copied().unwrap_or(-1);
                if limit >= 0 && add > 0 && have + add > limit {
                    return Err(exceeded(key, add, have, limit));
                }
            }
        }
        Ok(())
    }

    /// The limits and usage of `/limits`: `(limits, usage)`.
    pub async fn absolute_limits(&self, project_id: &str) -> Result<(Limits, rows::Usage)> {
        let mut conn = self.db.pool.acquire().await?;
        let limits = self.limits_of(&mut conn, project_id, None).await?;
        let used = rows::usage(&mut *conn, project_id, None).await?;
        Ok((limits, used))
    }
}

/// A quota set as the API shows it at `mv`, with `id` when given.
pub fn render(limits: &Limits, keys: &[&'static str], id: Option<&str>) -> Value {
    let mut m = Map::new();
    if let Some(id) = id {
        m.insert("id".into(), json!(id));
    }
    for k in keys {
        m.insert((*k).into(), json!(limits.get(k).copied().unwrap_or(-1)));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_microversion() {
        let v21 = keys_at(Microversion::v2(1));
        assert_eq!(v21.len(), 14);
        let v236 = keys_at(Microversion::v2(36));
        assert!(!v236.contains(&"fixed_ips") && v236.contains(&"injected_files"));
        let v257 = keys_at(Microversion::v2(57));
        assert_eq!(
            v257,
            [
                "instances",
                "cores",
                "ram",
                "metadata_items",
                "key_pairs",
                "server_groups",
                "server_group_members"
            ]
        );
        assert!(!class_keys_at(Microversion::v2(49)).contains(&"server_groups"));
        assert!(class_keys_at(Microversion::v2(50)).contains(&"server_groups"));
        assert!(!class_keys_at(Microversion::v2(50)).contains(&"fixed_ips"));
    }

    #[test]
    fn limits_are_integers_from_minus_one() {
        assert_eq!(limit_value("cores", &json!(-1)).ok(), Some(-1));
        assert_eq!(limit_value("cores", &json!("12")).ok(), Some(12));
        assert!(limit_value("cores", &json!(-2)).is_err());
        assert!(limit_value("cores", &json!("x")).is_err());
        assert!(limit_value("cores", &json!(1.5)).is_err());
        assert!(limit_value("cores", &json!(0x8000_0000_i64)).is_err());
        let (set, force) = parse_update(
            &json!({"quota_set": {"cores": 3, "force": "True"}}),
            &["cores"],
        )
        .unwrap_or_default();
        assert_eq!((set, force), (vec![("cores", 3)], true));
        assert!(parse_update(&json!({"quota_set": {"bogus": 3}}), &["cores"]).is_err());
        assert!(parse_update(&json!({"quotas": {}}), &["cores"]).is_err());
    }
}

//! Subnet pools: visibility (own project's, shared ones, everything for
//! admins), creation and update with neutron's `SubnetPoolReader` rules
//! (prefixes compacted, one IP family, min/max/default prefix lengths),
//! deletion while no subnet uses the pool, and the allocation of a
//! subnet's CIDR from a pool.
//!
//! Allocation runs in the subnet's write transaction after its revision
//! bump: that holds every other network writer back until commit, so the
//! free space read there is the free space, and two concurrent subnets can
//! never be given overlapping prefixes.

use super::attrs::{self, show, Attrs};
use super::list::{self, attr, Attr, AttrKind};
use super::{invalid_input, policy_refused, Network};
use crate::cidr::{self, Cidr};
use crate::db::subnetpools::{self as rows, PoolRow};
use crate::db::tags;
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use db::list::{Bind, ListQuery};
use serde_json::{json, Value};

/// A pool with what is rendered beside its row.
#[derive(Debug, Clone)]
pub struct PoolView {
    pub row: PoolRow,
    pub tags: Vec<String>,
}

pub fn not_found(id: &str) -> Error {
    Error::not_found(format!("Subnet pool {id} could not be found."))
        .with_fault("SubnetPoolNotFound")
}

const KNOWN: &[&str] = &[
    "id",
    "name",
    "description",
    "project_id",
    "tenant_id",
    "prefixes",
    "min_prefixlen",
    "max_prefixlen",
    "default_prefixlen",
    "default_quota",
    "address_scope_id",
    "ip_version",
    "shared",
    "is_default",
    "tags",
    "created_at",
    "updated_at",
    "revision_number",
];
const POST: &[&str] = &[
    "name",
    "description",
    "project_id",
    "tenant_id",
    "prefixes",
    "min_prefixlen",
    "max_prefixlen",
    "default_prefixlen",
    "default_quota",
    "address_scope_id",
    "shared",
    "is_default",
];
const PUT: &[&str] = &[
    "name",
    "description",
    "prefixes",
    "min_prefixlen",
    "max_prefixlen",
    "default_prefixlen",
    "default_quota",
    "address_scope_id",
    "is_default",
];

/// What a pool list can filter and sort on.
pub const ATTRS: &[Attr] = &[
    attr("id", "id", AttrKind::Text),
    attr("name", "name", AttrKind::Text),
    attr("description", "description", AttrKind::Text),
    attr("project_id", "project_id", AttrKind::Text),
    attr("tenant_id", "project_id", AttrKind::Text),
    attr("ip_version", "ip_version", AttrKind::Int),
    attr("min_prefixlen", "min_prefixlen", AttrKind::Int),
    attr("max_prefixlen", "max_prefixlen", AttrKind::Int),
    attr("default_prefixlen", "default_prefixlen", AttrKind::Int),
    attr("shared", "shared", AttrKind::Bool),
    attr("is_default", "is_default", AttrKind::Bool),
    attr("revision_number", "revision_number", AttrKind::Int),
    attr("created_at", "created_at", AttrKind::Int),
    attr("updated_at", "updated_at", AttrKind::Int),
];

/// The attributes policy rules see for a pool.
pub fn target(p: &PoolRow) -> Value {
    json!({
        "id": p.id,
        "project_id": p.project_id,
        "tenant_id": p.project_id,
        "shared": if p.shared { "True" } else { "False" },
    })
}

/// neutron-lib's `IllegalSubnetPoolPrefixBounds`.
fn bounds(kind: &str, len: i64, base_kind: &str, base: i64) -> Error {
    Error::bad_request(format!(
        "Illegal prefix bounds: {kind}={len}, {base_kind}={base}."
    ))
    .with_fault("IllegalSubnetPoolPrefixBounds")
}

fn allocation_error(reason: &str) -> Error {
    Error::conflict(format!("Failed to allocate subnet: {reason}."))
        .with_fault("SubnetAllocationError")
}

fn bits(v: i64) -> i64 {
    if v == 4 {
        32
    } else {
        128
    }
}

/// Parses and compacts a prefix list (neutron's `_read_prefix_info`).
fn read_prefixes(v: &Value) -> Result<(i64, Vec<(u128, u128)>)> {
    let Value::Array(items) = v else {
        return Err(Error::bad_request(format!(
            "Invalid input for prefixes. Reason: '{}' is not a list.",
            show(v)
        )));
    };
    if items.is_empty() {
        return Err(Error::bad_request("Empty subnet pool prefix list.")
            .with_fault("EmptySubnetPoolPrefixList"));
    }
    let mut version = None;
    let mut ranges = Vec::with_capacity(items.len());
    for p in items {
        let Some((c, _)) = p.as_str().filter(|s| s.contains('/')).and_then(Cidr::parse) else {
            return Err(Error::bad_request(format!(
                "Invalid input for prefixes. Reason: '{}' is not a valid IP subnet.",
                show(p)
            )));
        };
        match version {
            None => version = Some(c.version),
            Some(v) if v != c.version => {
                return Err(Error::bad_request(
                    "Cannot mix IPv4 and IPv6 prefixes in a subnet pool.",
                )
                .with_fault("PrefixVersionMismatch"))
            }
            Some(_) => {}
        }
        ranges.push((c.network, c.last()));
    }
    Ok((i64::from(version.unwrap_or(4)), cidr::merge(ranges)))
}

fn prefix_texts(version: i64, ranges: &[(u128, u128)]) -> Vec<String> {
    let v = if version == 4 { 4 } else { 6 };
    cidr::to_cidrs(v, ranges)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// The stored prefixes as merged ranges.
fn stored_ranges(p: &PoolRow) -> Vec<(u128, u128)> {
    cidr::merge(
        p.prefixes
            .iter()
            .filter_map(|s| Cidr::parse(s))
            .map(|(c, _)| (c.network, c.last()))
            .collect(),
    )
}

/// A prefix length attribute: `Some(n)` when given (and not null).
fn prefixlen(a: &Attrs, key: &str) -> Result<Option<i64>> {
    Ok(attrs::integer(a, key, true)?.flatten())
}

/// neutron's `SubnetPoolHelper` checks of the three bounds.
fn check_bounds(version: i64, min: i64, max: i64, default: i64) -> Result<()> {
    if min < 0 {
        return Err(
            Error::bad_request(format!("Prefix '{min}' not supported in IPv4 pool."))
                .with_fault("UnsupportedMinSubnetPoolPrefix"),
        );
    }
    if min > max {
        return Err(bounds("min_prefixlen", min, "max_prefixlen", max));
    }
    if max > bits(version) {
        return Err(bounds(
            "max_prefixlen",
            max,
            "ip_version_max",
            bits(version),
        ));
    }
    if default < min {
        return Err(bounds("default_prefixlen", default, "min_prefixlen", min));
    }
    if default > max {
        return Err(bounds("default_prefixlen", default, "max_prefixlen", max));
    }
    Ok(())
}

fn default_exists() -> Error {
    invalid_input(
        "A default subnetpool for this IP family has already been set. Only one default may \
         exist per IP family",
    )
}

impl Network {
    fn pool_visible(&self, ctx: &AuthContext, p: &PoolRow) -> bool {
        self.is_admin(ctx) || p.shared || ctx.project_id() == Some(p.project_id.as_str())
    }

    /// The pool `id` if the caller can see it, else 404.
    pub async fn visible_pool(&self, ctx: &AuthContext, id: &str) -> Result<PoolRow> {
        let p = rows::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        if !self.pool_visible(ctx, &p) || !self.check(ctx, "get_subnetpool", &target(&p)) {
            return Err(not_found(id));
        }
        Ok(p)
    }

    async fn pool_views(&self, pools: Vec<PoolRow>) -> Result<Vec<PoolView>> {
        let ids: Vec<String> = pools.iter().map(|p| p.id.clone()).collect();
        let mut tags = tags::of(&mut *self.db.pool.acquire().await?, &ids).await?;
        Ok(pools
            .into_iter()
            .map(|row| PoolView {
                tags: tags.remove(&row.id).unwrap_or_default(),
                row,
            })
            .collect())
    }

    pub async fn show_pool(&self, ctx: &AuthContext, id: &str) -> Result<PoolView> {
        let p = self.visible_pool(ctx, id).await?;
        let mut v = self.pool_views(vec![p]).await?;
        v.pop().ok_or_else(|| not_found(id))
    }

    pub async fn list_pools(
        &self,
        ctx: &AuthContext,
        q: &QueryMap,
    ) -> Result<(Vec<PoolView>, list::Request)> {
        let mut base = ListQuery::new(self.db.kind, "subnetpools", rows::COLUMNS, "id");
        if !self.is_admin(ctx) {
            let project = ctx.project_id().unwrap_or("").to_string();
            base.filter("project_id = ? OR shared = 1", [Bind::Text(project)]);
        }
        let req = list::parse(q, ATTRS, base, "id", self.settings.pagination_max_limit)?;
        let mut found = match rows::list(&self.db.pool, &req.query).await {
            Ok(r) => r,
            Err(db::list::ListError::MarkerNotFound(m)) => return Err(not_found(&m)),
            Err(db::list::ListError::Sql(e)) => return Err(e.into()),
        };
        if req.page_reverse {
            found.reverse();
        }
        Ok((self.pool_views(found).await?, req))
    }

    /// Refuses what upstream's extensions would refuse: address scopes
    /// (not served) and per-pool quotas (`default_quota`, not enforced).
    fn unsupported(a: &Attrs) -> Result<()> {
        if a.get("address_scope_id").is_some_and(|v| !v.is_null()) {
            return Err(Error::not_found(format!(
                "Address scope {} could not be found.",
                a.get("address_scope_id").map(show).unwrap_or_default()
            ))
            .with_fault("AddressScopeNotFound"));
        }
        if a.get("default_quota").is_some_and(|v| !v.is_null()) {
            return Err(invalid_input(
                "default_quota is not supported by this server",
            ));
        }
        Ok(())
    }

    pub async fn create_pools(
        &self,
        ctx: &AuthContext,
        items: Vec<Attrs>,
    ) -> Result<Vec<PoolView>> {
        let now = self.now();
        let mut planned = Vec::with_capacity(items.len());
        for a in &items {
            attrs::check_keys(a, KNOWN, POST, true)?;
            let project_id = self.owner(ctx, attrs::requested_project(a)?)?;
            let tgt = json!({"project_id": project_id, "tenant_id": project_id});
            self.enforce(ctx, "create_subnetpool", &tgt)?;
            for key in ["shared", "is_default"] {
                if a.contains_key(key)
                    && !self.check(ctx, &format!("create_subnetpool:{key}"), &tgt)
                {
                    return Err(policy_refused("create_subnetpool"));
                }
            }
            let Some(pv) = a.get("prefixes") else {
                return Err(Error::bad_request(
                    "Failed to parse request. Required attribute 'prefixes' not specified",
                ));
            };
            let (version, ranges) = read_prefixes(pv)?;
            Self::unsupported(a)?;
            let min = prefixlen(a, "min_prefixlen")?.unwrap_or(if version == 4 { 8 } else { 64 });
            let max = prefixlen(a, "max_prefixlen")?.unwrap_or(bits(version));
            let default = prefixlen(a, "default_prefixlen")?.unwrap_or(min);
            check_bounds(version, min, max, default)?;
            planned.push(PoolRow {
                id: common::ids::uuid(),
                project_id,
                name: attrs::text(a, "name", 255)?.unwrap_or_default(),
                description: attrs::text(a, "description", 255)?.unwrap_or_default(),
                ip_version: version,
                prefixes: prefix_texts(version, &ranges),
                min_prefixlen: min,
                max_prefixlen: max,
                default_prefixlen: default,
                shared: attrs::boolean(a, "shared")?.unwrap_or(false),
                is_default: attrs::boolean(a, "is_default")?.unwrap_or(false),
                revision_number: 0,
                created_at: now,
                updated_at: now,
            });
        }
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        let adding: Vec<(String, i64)> =
            planned.iter().map(|p| (p.project_id.clone(), 1)).collect();
        self.check_quota(tx.conn(), "subnetpool", &adding).await?;
        for p in &planned {
            if p.is_default
                && rows::default_of(&mut *tx.conn(), p.ip_version)
                    .await?
                    .is_some()
            {
                return Err(default_exists());
            }
            rows::insert(tx.conn(), p).await?;
        }
        tx.commit().await?;
        self.pool_views(planned).await
    }

    pub async fn update_pool(&self, ctx: &AuthContext, id: &str, a: Attrs) -> Result<PoolView> {
        attrs::check_keys(&a, KNOWN, PUT, false)?;
        let cur = self.visible_pool(ctx, id).await?;
        self.enforce(ctx, "update_subnetpool", &target(&cur))?;
        if a.contains_key("is_default")
            && !self.check(ctx, "update_subnetpool:is_default", &target(&cur))
        {
            return Err(policy_refused("update_subnetpool"));
        }
        Self::unsupported(&a)?;
        let mut row = cur.clone();
        if let Some(v) = attrs::text(&a, "name", 255)? {
            row.name = v;
        }
        if let Some(v) = attrs::text(&a, "description", 255)? {
            row.description = v;
        }
        if let Some(pv) = a.get("prefixes") {
            let (version, ranges) = read_prefixes(pv)?;
            if version != cur.ip_version {
                return Err(Error::bad_request(
                    "Cannot mix IPv4 and IPv6 prefixes in a subnet pool.",
                )
                .with_fault("PrefixVersionMismatch"));
            }
            // Upstream refuses to drop any space through an update, so
            // space a subnet uses can never leave its pool.
            if !cidr::is_subset(&stored_ranges(&cur), &ranges) {
                return Err(Error::bad_request(
                    "Illegal update to prefixes: Existing prefixes must be a subset of the new \
                     prefixes.",
                )
                .with_fault("IllegalSubnetPoolPrefixUpdate"));
            }
            row.prefixes = prefix_texts(version, &ranges);
        }
        if let Some(n) = prefixlen(&a, "min_prefixlen")? {
            row.min_prefixlen = n;
        }
        if let Some(n) = prefixlen(&a, "max_prefixlen")? {
            row.max_prefixlen = n;
        }
        if let Some(n) = prefixlen(&a, "default_prefixlen")? {
            row.default_prefixlen = n;
        }
        check_bounds(
            row.ip_version,
            row.min_prefixlen,
            row.max_prefixlen,
            row.default_prefixlen,
        )?;
        if let Some(d) = attrs::boolean(&a, "is_default")? {
            row.is_default = d;
        }
        row.revision_number = cur.revision_number + 1;
        row.updated_at = self.now();
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        if row.is_default && !cur.is_default {
            if let Some(other) = rows::default_of(&mut *tx.conn(), row.ip_version).await? {
                if other.id != row.id {
                    return Err(default_exists());
                }
            }
        }
        if !rows::update(tx.conn(), &row).await? {
            return Err(Error::conflict(format!(
                "Subnet pool {id} was changed by another request; retry"
            )));
        }
        tx.commit().await?;
        let mut v = self.pool_views(vec![row]).await?;
        v.pop().ok_or_else(|| not_found(id))
    }

    pub async fn delete_pool(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let cur = self.visible_pool(ctx, id).await?;
        self.enforce(ctx, "delete_subnetpool", &target(&cur))?;
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        if !rows::allocated(tx.conn(), id).await?.is_empty() {
            // neutron's delete_subnetpool raises SubnetPoolDeleteError (400).
            return Err(Error::bad_request(
                "Unable to delete subnet pool: Subnet pool has existing allocations.",
            )
            .with_fault("SubnetPoolDeleteError"));
        }
        tags::clear(tx.conn(), id).await?;
        if !rows::delete(tx.conn(), id).await? {
            return Err(not_found(id));
        }
        tx.commit().await?;
        Ok(())
    }

    /// The pool a subnet request names (`subnetpool_id`, or the family's
    /// default with `use_default_subnetpool`), checked for visibility and
    /// family; `None` when the request names none.
    pub(crate) async fn requested_pool(
        &self,
        ctx: &AuthContext,
        a: &Attrs,
        ip_version: i64,
    ) -> Result<Option<PoolRow>> {
        let pool = match attrs::string(a, "subnetpool_id", 255, true)?.flatten() {
            Some(id) => Some(self.visible_pool(ctx, &id).await?),
            None if attrs::boolean(a, "use_default_subnetpool")?.unwrap_or(false) => {
                rows::default_of(&self.db.pool, ip_version).await?
            }
            None => None,
        };
        if let Some(p) = &pool {
            if p.ip_version != ip_version {
                return Err(Error::bad_request(format!(
                    "Bad subnets request: Cannot allocate IPv{ip_version} subnet from IPv{} \
                     subnet pool.",
                    p.ip_version
                ))
                .with_fault("BadRequest"));
            }
        }
        Ok(pool)
    }

    /// Carves a CIDR from pool `pool_id` inside a write transaction that
    /// has bumped the revision counter: `wanted` exactly when given (it
    /// must lie in the pool's free space), else the first free block of
    /// `prefixlen` (the pool's default when `None`), smallest free blocks
    /// first as neutron's allocator does.
    pub(crate) async fn allocate_from_pool(
        &self,
        conn: &mut crate::db::Conn,
        pool_id: &str,
        wanted: Option<Cidr>,
        prefixlen: Option<i64>,
    ) -> Result<Cidr> {
        let pool = rows::get(&mut *conn, pool_id)
            .await?
            .ok_or_else(|| not_found(pool_id))?;
        let len = wanted
            .map(|c| i64::from(c.prefixlen))
            .or(prefixlen)
            .unwrap_or(pool.default_prefixlen);
        if len > pool.max_prefixlen {
            return Err(Error::bad_request(format!(
                "Unable to allocate subnet with prefix length {len}, maximum allowed prefix is {}.",
                pool.max_prefixlen
            ))
            .with_fault("MaxPrefixSubnetAllocationError"));
        }
        if len < pool.min_prefixlen {
            return Err(Error::bad_request(format!(
                "Unable to allocate subnet with prefix length {len}, minimum allowed prefix is {}.",
                pool.min_prefixlen
            ))
            .with_fault("MinPrefixSubnetAllocationError"));
        }
        let used: Vec<(u128, u128)> = rows::allocated(conn, pool_id)
            .await?
            .iter()
            .filter_map(|s| Cidr::parse(s))
            .map(|(c, _)| (c.network, c.last()))
            .collect();
        let free = cidr::subtract(&stored_ranges(&pool), &cidr::merge(used));
        let version = if pool.ip_version == 4 { 4 } else { 6 };
        if let Some(c) = wanted {
            if cidr::is_subset(&[(c.network, c.last())], &free) {
                return Ok(c);
            }
            return Err(allocation_error(
                "Cannot allocate requested subnet from the available set of prefixes",
            ));
        }
        let mut blocks = cidr::to_cidrs(version, &free);
        // Smallest blocks first (a stable sort keeps address order).
        blocks.sort_by_key(|b| std::cmp::Reverse(b.prefixlen));
        let len8 = u8::try_from(len).unwrap_or(u8::MAX);
        blocks
            .into_iter()
            .find(|b| b.prefixlen <= len8)
            .map(|b| Cidr {
                version,
                network: b.network,
                prefixlen: len8,
            })
            .ok_or_else(|| {
                allocation_error(&format!(
                    "Insufficient prefix space to allocate subnet size /{len}"
                ))
            })
    }
}

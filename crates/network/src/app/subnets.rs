//! Subnets: visibility (own project's, and those of shared networks),
//! creation with neutron's validation (`_validate_subnet`, the IPAM
//! pool checks, the per-network overlap check), defaults (gateway = the
//! first host, pools = the range less the gateway), updates and deletion.
//!
//! Overlap is checked inside the inserting transaction after the network
//! row is locked, so two concurrent creates on one network cannot both
//! pass the check (PostgreSQL); SQLite serialises writers anyway.

use super::attrs::{self, show, Attrs};
use super::list::{self, attr, nullable, Attr, AttrKind};
use super::{invalid_input, policy_refused, Network};
use crate::cidr::{self, Cidr};
use crate::db::networks::{self as net_rows, NetworkRow};
use crate::db::subnets::{self as rows, SubnetRow};
use crate::db::tags;
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use db::list::{Bind, ListQuery};
use serde_json::{json, Value};

/// neutron's `max_dns_nameservers` and `max_subnet_host_routes` defaults.
const MAX_DNS_NAMESERVERS: usize = 5;
const MAX_HOST_ROUTES: usize = 20;
pub const IPV6_MODES: &[&str] = &["dhcpv6-stateful", "dhcpv6-stateless", "slaac"];

/// A subnet with what is rendered beside its row.
#[derive(Debug, Clone)]
pub struct SubnetView {
    pub row: SubnetRow,
    pub tags: Vec<String>,
}

pub fn not_found(id: &str) -> Error {
    Error::not_found(format!("Subnet {id} could not be found.")).with_fault("SubnetNotFound")
}

const KNOWN: &[&str] = &[
    "id",
    "name",
    "description",
    "network_id",
    "project_id",
    "tenant_id",
    "ip_version",
    "cidr",
    "prefixlen",
    "subnetpool_id",
    "use_default_subnetpool",
    "gateway_ip",
    "allocation_pools",
    "dns_nameservers",
    "host_routes",
    "enable_dhcp",
    "ipv6_ra_mode",
    "ipv6_address_mode",
    "service_types",
    "segment_id",
    "tags",
    "created_at",
    "updated_at",
    "revision_number",
];
const POST: &[&str] = &[
    "name",
    "description",
    "network_id",
    "project_id",
    "tenant_id",
    "ip_version",
    "cidr",
    "prefixlen",
    "subnetpool_id",
    "use_default_subnetpool",
    "gateway_ip",
    "allocation_pools",
    "dns_nameservers",
    "host_routes",
    "enable_dhcp",
    "ipv6_ra_mode",
    "ipv6_address_mode",
    "service_types",
    "segment_id",
];
const PUT: &[&str] = &[
    "name",
    "description",
    "gateway_ip",
    "allocation_pools",
    "dns_nameservers",
    "host_routes",
    "enable_dhcp",
    "service_types",
    "segment_id",
];

/// What a subnet list can filter and sort on.
pub const ATTRS: &[Attr] = &[
    attr("id", "id", AttrKind::Text),
    attr("name", "name", AttrKind::Text),
    attr("description", "description", AttrKind::Text),
    attr("project_id", "project_id", AttrKind::Text),
    attr("tenant_id", "project_id", AttrKind::Text),
    attr("network_id", "network_id", AttrKind::Text),
    attr("ip_version", "ip_version", AttrKind::Int),
    attr("cidr", "cidr", AttrKind::Text),
    nullable(attr("gateway_ip", "gateway_ip", AttrKind::Text)),
    attr("enable_dhcp", "enable_dhcp", AttrKind::Bool),
    nullable(attr("ipv6_ra_mode", "ipv6_ra_mode", AttrKind::Text)),
    nullable(attr(
        "ipv6_address_mode",
        "ipv6_address_mode",
        AttrKind::Text,
    )),
    nullable(attr("subnetpool_id", "subnetpool_id", AttrKind::Text)),
    attr("revision_number", "revision_number", AttrKind::Int),
    attr("created_at", "created_at", AttrKind::Int),
    attr("updated_at", "updated_at", AttrKind::Int),
];

/// The attributes policy rules see for a subnet.
pub fn target(s: &SubnetRow, n: Option<&NetworkRow>) -> Value {
    json!({
        "id": s.id,
        "project_id": s.project_id,
        "tenant_id": s.project_id,
        "network_id": s.network_id,
        "network:project_id": n.map(|n| n.project_id.clone()),
        "network:tenant_id": n.map(|n| n.project_id.clone()),
        "shared": if n.is_some_and(|n| n.shared) { "True" } else { "False" },
    })
}

/// "Invalid input for `key`. Reason: `reason`." (attribute validation).
fn bad_attr(key: &str, reason: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("Invalid input for {key}. Reason: {reason}."))
}

/// `netaddr.IPRange`'s text: `first-last`.
pub fn range_text(start: &str, end: &str) -> String {
    format!("{start}-{end}")
}

/// Python's `str()` of a pool dict, as neutron prints it.
fn pool_dict_text(p: &Value) -> String {
    match p {
        Value::Object(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("'{k}': '{}'", show(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        other => show(other),
    }
}

fn ip_mismatch(name: &str, addr: &str, v: i64) -> Error {
    invalid_input(format!(
        "{name} '{addr}' does not match the ip_version '{v}'"
    ))
}

/// A parsed address of family `v`, else neutron's mismatch error.
fn ip_of_version(name: &str, addr: &str, v: i64) -> Result<u128> {
    let ip = cidr::parse_ip(addr)
        .ok_or_else(|| bad_attr(name, format!("'{addr}' is not a valid IP address")))?;
    let (ver, n) = cidr::to_int(ip);
    if i64::from(ver) != v {
        return Err(ip_mismatch(name, addr, v));
    }
    Ok(n)
}

/// The pools Neutron generates: the usable range (less the network
/// address, and the broadcast address on IPv4) minus the gateway.
pub fn default_pools(c: &Cidr, gateway: Option<u128>) -> Vec<(u128, u128)> {
    if c.size() == 1 {
        return vec![(c.network, c.network)];
    }
    let first = c.network + 1;
    let last = if c.version == 4 {
        c.last() - 1
    } else {
        c.last()
    };
    if first >= last {
        return Vec::new();
    }
    match gateway {
        Some(g) if g >= first && g <= last => {
            let mut out = Vec::new();
            if g > first {
                out.push((first, g - 1));
            }
            if g < last {
                out.push((g + 1, last));
            }
            out
        }
        _ => vec![(first, last)],
    }
}

/// Parses and validates requested pools against `c` (neutron's
/// `pools_to_ip_range` then `validate_allocation_pools`).
fn requested_pools(v: &Value, c: &Cidr) -> Result<Vec<(u128, u128)>> {
    let Value::Array(items) = v else {
        return Err(bad_attr(
            "allocation_pools",
            format!("Invalid data format for IP pool: '{}'", show(v)),
        ));
    };
    let mut pools = Vec::with_capacity(items.len());
    for p in items {
        let (Some(s), Some(e)) = (
            p.get("start").and_then(Value::as_str),
            p.get("end").and_then(Value::as_str),
        ) else {
            return Err(bad_attr(
                "allocation_pools",
                format!("Invalid data format for IP pool: '{}'", pool_dict_text(p)),
            ));
        };
        if let Some(m) = p.as_object() {
            let mut extra: Vec<&str> = m
                .keys()
                .map(String::as_str)
                .filter(|k| *k != "start" && *k != "end")
                .collect();
            if !extra.is_empty() {
                extra.sort_unstable();
                return Err(bad_attr(
                    "allocation_pools",
                    format!("Unrecognized attribute(s) '{}'", extra.join(", ")),
                ));
            }
        }
        for a in [s, e] {
            if cidr::parse_ip(a).is_none() {
                return Err(bad_attr(
                    "allocation_pools",
                    format!("'{a}' is not a valid IP address"),
                ));
            }
        }
        let (sv, sn) = cidr::to_int(cidr::parse_ip(s).unwrap_or(std::net::IpAddr::from([0u8; 4])));
        let (ev, en) = cidr::to_int(cidr::parse_ip(e).unwrap_or(std::net::IpAddr::from([0u8; 4])));
        if sv != ev || sn > en {
            return Err(Error::bad_request(format!(
                "The allocation pool {} is not valid.",
                pool_dict_text(p)
            ))
            .with_fault("InvalidAllocationPool"));
        }
        if sv != c.version {
            return Err(Error::bad_request(format!(
                "The allocation pool {} is not valid.",
                range_text(s, e)
            ))
            .with_fault("InvalidAllocationPool"));
        }
        pools.push((sn, en));
    }
    let first = c.network + 1;
    let last = if c.version == 4 {
        c.last().saturating_sub(1)
    } else {
        c.last()
    };
    for (s, e) in &pools {
        if *s < first || *e > last {
            return Err(Error::bad_request(format!(
                "The allocation pool {} spans beyond the subnet cidr {c}.",
                fmt_range(c, *s, *e)
            ))
            .with_fault("OutOfBoundsAllocationPool"));
        }
    }
    for i in 0..pools.len() {
        for j in i + 1..pools.len() {
            let (a, b) = (pools[i], pools[j]);
            if a.0 <= b.1 && b.0 <= a.1 {
                return Err(Error::conflict(format!(
                    "Found overlapping allocation pools: {} {} for subnet {c}.",
                    fmt_range(c, a.0, a.1),
                    fmt_range(c, b.0, b.1)
                ))
                .with_fault("OverlappingAllocationPools"));
            }
        }
    }
    Ok(pools)
}

fn fmt_range(c: &Cidr, s: u128, e: u128) -> String {
    range_text(&c.ip(s).to_string(), &c.ip(e).to_string())
}

/// neutron's `validate_gw_out_of_pools`.
fn gateway_out_of_pools(c: &Cidr, gw: u128, gw_text: &str, pools: &[(u128, u128)]) -> Result<()> {
    for (s, e) in pools {
        if gw >= *s && gw <= *e {
            return Err(Error::conflict(format!(
                "Gateway ip {gw_text} conflicts with allocation pool {}.",
                fmt_range(c, *s, *e)
            ))
            .with_fault("GatewayConflictWithAllocationPools"));
        }
    }
    Ok(())
}

/// neutron's `check_gateway_invalid_in_subnet`: only the network address
/// (and IPv4's broadcast address) of the subnet is refused; a gateway
/// outside the CIDR is accepted.
fn check_gateway(c: &Cidr, gw: u128) -> Result<()> {
    if c.contains(c.version, gw) && (gw == c.network || (c.version == 4 && gw == c.last())) {
        return Err(invalid_input("Gateway is not valid on subnet"));
    }
    Ok(())
}

fn dns_nameservers(v: &Value, ip_version: i64) -> Result<Vec<String>> {
    let Value::Array(items) = v else {
        return Err(bad_attr(
            "dns_nameservers",
            format!("'{}' is not a list", show(v)),
        ));
    };
    if items.len() > MAX_DNS_NAMESERVERS {
        return Err(Error::bad_request(format!(
            "Unable to complete operation for new subnet. The number of DNS nameservers exceeds the limit {MAX_DNS_NAMESERVERS}."
        ))
        .with_fault("DNSNameServersExhausted"));
    }
    let mut out: Vec<String> = Vec::new();
    for d in items {
        let Some(s) = d.as_str().filter(|s| cidr::parse_ip(s).is_some()) else {
            return Err(bad_attr(
                "dns_nameservers",
                format!("'{}' is not a valid nameserver", show(d)),
            ));
        };
        if out.iter().any(|o| o == s) {
            return Err(bad_attr(
                "dns_nameservers",
                format!("Duplicate nameserver '{s}'"),
            ));
        }
        ip_of_version("dns_nameserver", s, ip_version)?;
        out.push(s.to_string());
    }
    Ok(out)
}

fn host_routes(v: &Value, ip_version: i64) -> Result<Vec<(String, String)>> {
    let Value::Array(items) = v else {
        return Err(bad_attr(
            "host_routes",
            format!("'{}' is not a list", show(v)),
        ));
    };
    if items.len() > MAX_HOST_ROUTES {
        return Err(Error::bad_request(format!(
            "Unable to complete operation for new subnet. The number of host routes exceeds the limit {MAX_HOST_ROUTES}."
        ))
        .with_fault("HostRoutesExhausted"));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for r in items {
        let (Some(d), Some(n)) = (
            r.get("destination").and_then(Value::as_str),
            r.get("nexthop").and_then(Value::as_str),
        ) else {
            return Err(bad_attr(
                "host_routes",
                format!("Invalid data format for hostroute: '{}'", show(r)),
            ));
        };
        let Some((dc, _)) = Cidr::parse(d) else {
            return Err(invalid_input(format!(
                "Invalid route: {}",
                pool_dict_text(r)
            )));
        };
        if cidr::parse_ip(n).is_none() {
            return Err(invalid_input(format!(
                "Invalid route: {}",
                pool_dict_text(r)
            )));
        }
        let route = (dc.to_string(), n.to_string());
        if out.contains(&route) {
            return Err(bad_attr(
                "host_routes",
                format!("Duplicate hostroute '{}'", pool_dict_text(r)),
            ));
        }
        ip_of_version("nexthop", n, ip_version)?;
        if i64::from(dc.version) != ip_version {
            return Err(ip_mismatch("destination", d, ip_version));
        }
        out.push(route);
    }
    Ok(out)
}

fn ipv6_mode(a: &Attrs, key: &str) -> Result<Option<String>> {
    match attrs::string(a, key, 255, true)?.flatten() {
        None => Ok(None),
        Some(m) if IPV6_MODES.contains(&m.as_str()) => Ok(Some(m)),
        Some(m) => Err(bad_attr(
            key,
            format!("'{m}' is not in ['dhcpv6-stateful', 'dhcpv6-stateless', 'slaac']"),
        )),
    }
}

/// Whether addresses on the subnet are EUI-64 ones from the MAC
/// (neutron's `is_auto_address_subnet`).
pub fn is_auto_address(s: &SubnetRow) -> bool {
    match s.ipv6_address_mode.as_deref() {
        Some(m) => m == "slaac" || m == "dhcpv6-stateless",
        None => matches!(
            s.ipv6_ra_mode.as_deref(),
            Some("slaac" | "dhcpv6-stateless")
        ),
    }
}

impl Network {
    /// Whether the caller can see subnet `s` on network `n`.
    fn subnet_visible(&self, ctx: &AuthContext, s: &SubnetRow, n: Option<&NetworkRow>) -> bool {
        self.is_admin(ctx)
            || ctx.project_id() == Some(s.project_id.as_str())
            || n.is_some_and(|n| n.shared)
    }

    /// The subnet `id` and its network if the caller can see it, else 404.
    pub async fn visible_subnet(
        &self,
        ctx: &AuthContext,
        id: &str,
    ) -> Result<(SubnetRow, Option<NetworkRow>)> {
        let s = rows::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let n = net_rows::get(&self.db.pool, &s.network_id).await?;
        if !self.subnet_visible(ctx, &s, n.as_ref()) {
            return Err(not_found(id));
        }
        Ok((s, n))
    }

    /// Admins, the subnet's project and the network's owner may change a
    /// subnet (neutron's `admin_or_network_owner`).
    pub fn may_change_subnet(
        &self,
        ctx: &AuthContext,
        s: &SubnetRow,
        n: Option<&NetworkRow>,
    ) -> bool {
        let own = ctx.project_id();
        self.is_admin(ctx)
            || own == Some(s.project_id.as_str())
            || n.is_some_and(|n| own == Some(n.project_id.as_str()))
    }

    async fn subnet_views(&self, rows: Vec<SubnetRow>) -> Result<Vec<SubnetView>> {
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut tags = tags::of(&mut *self.db.pool.acquire().await?, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|row| SubnetView {
                tags: tags.remove(&row.id).unwrap_or_default(),
                row,
            })
            .collect())
    }

    pub async fn show_subnet(&self, ctx: &AuthContext, id: &str) -> Result<SubnetView> {
        let (s, _) = self.visible_subnet(ctx, id).await?;
        let mut v = self.subnet_views(vec![s]).await?;
        v.pop().ok_or_else(|| not_found(id))
    }

    pub async fn list_subnets(
        &self,
        ctx: &AuthContext,
        q: &QueryMap,
    ) -> Result<(Vec<SubnetView>, list::Request)> {
        let mut base = ListQuery::new(self.db.kind, "subnets", rows::COLUMNS, "id");
        if !self.is_admin(ctx) {
            let project = ctx.project_id().unwrap_or("").to_string();
            base.filter(
                "project_id = ? OR network_id IN (SELECT n.id FROM networks n WHERE n.shared = 1)",
                [Bind::Text(project)],
            );
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
        Ok((self.subnet_views(found).await?, req))
    }

    /// Validates one create request into a row (overlap is checked at
    /// insert time).
    async fn new_subnet(&self, ctx: &AuthContext, a: &Attrs) -> Result<SubnetRow> {
        attrs::check_keys(a, KNOWN, POST, true)?;
        let Some(network_id) = attrs::text(a, "network_id", 255)? else {
            return Err(Error::bad_request(
                "Failed to parse request. Required attribute 'network_id' not specified",
            ));
        };
        let net = self.visible_network(ctx, &network_id).await?;
        let project_id = self.owner(ctx, attrs::requested_project(a)?)?;
        let tgt = json!({
            "project_id": project_id, "tenant_id": project_id, "network_id": net.id,
            "network:project_id": net.project_id, "network:tenant_id": net.project_id,
        });
        if !self.is_admin(ctx) && ctx.project_id() != Some(net.project_id.as_str()) {
            return Err(policy_refused("create_subnet"));
        }
        self.enforce(ctx, "create_subnet", &tgt)?;
        let ip_version = match a.get("ip_version") {
            None => {
                return Err(Error::bad_request(
                    "Failed to parse request. Required attribute 'ip_version' not specified",
                ))
            }
            Some(v) => match attrs::integer(a, "ip_version", false)?.flatten() {
                Some(n @ (4 | 6)) => n,
                _ => {
                    return Err(bad_attr(
                        "ip_version",
                        format!("'{}' is not in [4, 6]", show(v)),
                    ))
                }
            },
        };
        let cidr_text = attrs::string(a, "cidr", 255, true)?.flatten();
        let pool = self.requested_pool(ctx, a, ip_version).await?;
        let (c, cidr_text) = match (cidr_text, &pool) {
            (None, Some(p)) => {
                let len = attrs::integer(a, "prefixlen", true)?.flatten();
                let mut conn = self.db.pool.acquire().await?;
                let c = self.allocate_from_pool(&mut conn, &p.id, None, len).await?;
                (c, c.to_string())
            }
            (None, None) => {
                return Err(Error::bad_request(
                    "Bad subnets request: A cidr must be specified in the absence of a subnet pool.",
                )
                .with_fault("BadRequest"));
            }
            (Some(t), _) => {
                let c = parse_cidr(&t, ip_version)?;
                if let Some(p) = &pool {
                    let mut conn = self.db.pool.acquire().await?;
                    self.allocate_from_pool(&mut conn, &p.id, Some(c), None)
                        .await?;
                }
                (c, t)
            }
        };
        build_subnet(
            a,
            project_id,
            &net.id,
            ip_version,
            c,
            &cidr_text,
            pool.map(|p| p.id),
        )
        .map(|mut row| {
            let now = self.now();
            row.created_at = now;
            row.updated_at = now;
            row
        })
    }

    /// Creates the subnets of one request (bulk: all or none).
    pub async fn create_subnets(
        &self,
        ctx: &AuthContext,
        items: Vec<Attrs>,
    ) -> Result<Vec<SubnetView>> {
        let mut planned = Vec::with_capacity(items.len());
        for a in &items {
            planned.push(self.new_subnet(ctx, a).await?);
        }
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        let adding: Vec<(String, i64)> =
            planned.iter().map(|s| (s.project_id.clone(), 1)).collect();
        self.check_quota(tx.conn(), "subnet", &adding).await?;
        for (a, s) in items.iter().zip(planned.iter_mut()) {
            // A CIDR from a pool is chosen again now that no other network
            // writer can run: the one seen above may have been taken since,
            // and earlier subnets of this request are now in the pool.
            if let Some(pool) = s.subnetpool_id.clone() {
                self.reallocate(tx.conn(), a, s, &pool).await?;
            }
            self.insert_subnet(tx.conn(), s).await?;
        }
        tx.commit().await?;
        self.subnet_views(planned).await
    }

    /// Chooses a pool subnet's CIDR again inside the write transaction:
    /// a requested one must still be free, an allocated one is carved anew
    /// and the attributes that follow from it rebuilt.
    async fn reallocate(
        &self,
        conn: &mut crate::db::Conn,
        a: &Attrs,
        s: &mut SubnetRow,
        pool: &str,
    ) -> Result<()> {
        let Some((c, _)) = Cidr::parse(&s.cidr) else {
            return Err(Error::internal(format!(
                "planned CIDR {} unreadable",
                s.cidr
            )));
        };
        if attrs::string(a, "cidr", 255, true)?.flatten().is_some() {
            self.allocate_from_pool(conn, pool, Some(c), None).await?;
            return Ok(());
        }
        let len = attrs::integer(a, "prefixlen", true)?.flatten();
        let c = self.allocate_from_pool(conn, pool, None, len).await?;
        let mut row = build_subnet(
            a,
            s.project_id.clone(),
            &s.network_id,
            s.ip_version,
            c,
            &c.to_string(),
            Some(pool.to_string()),
        )?;
        row.created_at = s.created_at;
        row.updated_at = s.updated_at;
        row.id = s.id.clone();
        *s = row;
        Ok(())
    }

    /// Locks the network, checks overlap with its subnets, inserts.
    async fn insert_subnet(&self, conn: &mut crate::db::Conn, s: &SubnetRow) -> Result<()> {
        if !net_rows::lock(conn, &s.network_id).await? {
            return Err(super::networks::not_found(&s.network_id));
        }
        let Some((c, _)) = Cidr::parse(&s.cidr) else {
            return Err(Error::internal(format!(
                "stored CIDR {} unreadable",
                s.cidr
            )));
        };
        for other in rows::of_network(&mut *conn, &s.network_id).await? {
            if Cidr::parse(&other.cidr).is_some_and(|(o, _)| o.overlaps(&c)) {
                return Err(invalid_input(format!(
                    "Requested subnet with cidr: {} for network: {} overlaps with another subnet",
                    s.cidr, s.network_id
                )));
            }
        }
        rows::insert(conn, s).await?;
        if s.enable_dhcp {
            if let Some(net) = net_rows::get(&mut *conn, &s.network_id).await? {
                self.dhcp_port_on(conn, &net, s).await?;
            }
        }
        Ok(())
    }

    pub async fn update_subnet(&self, ctx: &AuthContext, id: &str, a: Attrs) -> Result<SubnetView> {
        attrs::check_keys(&a, KNOWN, PUT, false)?;
        let (cur, net) = self.visible_subnet(ctx, id).await?;
        if !self.may_change_subnet(ctx, &cur, net.as_ref()) {
            return Err(policy_refused("update_subnet"));
        }
        self.enforce(ctx, "update_subnet", &target(&cur, net.as_ref()))?;
        let Some((c, _)) = Cidr::parse(&cur.cidr) else {
            return Err(Error::internal(format!(
                "stored CIDR {} unreadable",
                cur.cidr
            )));
        };
        let mut row = cur.clone();
        if let Some(v) = attrs::text(&a, "name", 255)? {
            row.name = v;
        }
        if let Some(v) = attrs::text(&a, "description", 255)? {
            row.description = v;
        }
        if let Some(d) = attrs::boolean(&a, "enable_dhcp")? {
            if !d && (cur.ipv6_ra_mode.is_some() || cur.ipv6_address_mode.is_some()) {
                return Err(invalid_input(
                    "Cannot disable enable_dhcp with ipv6 attributes set",
                ));
            }
            if d && !cur.enable_dhcp {
                check_dhcp_cidr(&c)?;
            }
            row.enable_dhcp = d;
        }
        match a.get("gateway_ip") {
            None => {}
            Some(Value::Null) => row.gateway_ip = None,
            Some(Value::String(g)) => {
                let n = ip_of_version("gateway_ip", g, cur.ip_version)?;
                check_gateway(&c, n)?;
                row.gateway_ip = Some(c.ip(n).to_string());
            }
            Some(v) => {
                return Err(bad_attr(
                    "gateway_ip",
                    format!("'{}' is not a valid IP address", show(v)),
                ))
            }
        }
        if let Some(v) = a.get("dns_nameservers") {
            row.dns_nameservers = match v {
                Value::Null => Vec::new(),
                v => dns_nameservers(v, cur.ip_version)?,
            };
        }
        if let Some(v) = a.get("host_routes") {
            row.host_routes = match v {
                Value::Null => Vec::new(),
                v => host_routes(v, cur.ip_version)?,
            };
        }
        let gw_int = row
            .gateway_ip
            .as_deref()
            .and_then(cidr::parse_ip)
            .map(|ip| cidr::to_int(ip).1);
        let pools: Vec<(u128, u128)> = match a.get("allocation_pools") {
            Some(v) if !v.is_null() => {
                let p = requested_pools(v, &c)?;
                row.allocation_pools = p
                    .iter()
                    .map(|(s, e)| (c.ip(*s).to_string(), c.ip(*e).to_string()))
                    .collect();
                p
            }
            _ => stored_pools(&cur),
        };
        if a.contains_key("gateway_ip") || a.contains_key("allocation_pools") {
            if let (Some(g), Some(t)) = (gw_int, row.gateway_ip.as_deref()) {
                gateway_out_of_pools(&c, g, t, &pools)?;
            }
        }
        row.revision_number = cur.revision_number + 1;
        row.updated_at = self.now();
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        if !rows::update(tx.conn(), &row).await? {
            return Err(Error::conflict(format!(
                "Subnet {id} was changed by another request; retry"
            )));
        }
        if row.enable_dhcp != cur.enable_dhcp {
            if !net_rows::lock(tx.conn(), &row.network_id).await? {
                return Err(not_found(id));
            }
            if row.enable_dhcp {
                if let Some(n) = net_rows::get(&mut *tx.conn(), &row.network_id).await? {
                    self.dhcp_port_on(tx.conn(), &n, &row).await?;
                }
            } else {
                self.dhcp_port_off(tx.conn(), &row.network_id, id).await?;
            }
        }
        tx.commit().await?;
        self.show_subnet(ctx, id).await
    }

    pub async fn delete_subnet(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let (cur, net) = self.visible_subnet(ctx, id).await?;
        if !self.may_change_subnet(ctx, &cur, net.as_ref()) {
            return Err(policy_refused("delete_subnet"));
        }
        self.enforce(ctx, "delete_subnet", &target(&cur, net.as_ref()))?;
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        if !net_rows::lock(tx.conn(), &cur.network_id).await? {
            return Err(not_found(id));
        }
        self.release_subnet(tx.conn(), &cur).await?;
        tags::clear(tx.conn(), id).await?;
        if !rows::delete(tx.conn(), id).await? {
            return Err(not_found(id));
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The rest of a create request once its CIDR is known: DHCP, gateway,
/// pools, DNS servers, host routes and the IPv6 modes, validated against
/// `c` (a CIDR taken from a pool is chosen twice, so this runs twice).
fn build_subnet(
    a: &Attrs,
    project_id: String,
    network_id: &str,
    ip_version: i64,
    c: Cidr,
    cidr_text: &str,
    subnetpool_id: Option<String>,
) -> Result<SubnetRow> {
    let enable_dhcp = attrs::boolean(a, "enable_dhcp")?.unwrap_or(true);
    let ra_mode = ipv6_mode(a, "ipv6_ra_mode")?;
    let addr_mode = ipv6_mode(a, "ipv6_address_mode")?;
    if enable_dhcp {
        check_dhcp_cidr(&c)?;
    }
    let gateway = match a.get("gateway_ip") {
        None => (c.size() > 1).then(|| c.ip(c.network + 1).to_string()),
        Some(Value::Null) => None,
        Some(Value::String(g)) => {
            let n = ip_of_version("gateway_ip", g, ip_version)?;
            check_gateway(&c, n)?;
            Some(c.ip(n).to_string())
        }
        Some(v) => {
            return Err(bad_attr(
                "gateway_ip",
                format!("'{}' is not a valid IP address", show(v)),
            ))
        }
    };
    let dns = match a.get("dns_nameservers") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => dns_nameservers(v, ip_version)?,
    };
    let routes = match a.get("host_routes") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => host_routes(v, ip_version)?,
    };
    if ip_version == 4 {
        if ra_mode.is_some() {
            return Err(invalid_input(
                "ipv6_ra_mode is not valid when ip_version is 4",
            ));
        }
        if addr_mode.is_some() {
            return Err(invalid_input(
                "ipv6_address_mode is not valid when ip_version is 4",
            ));
        }
    } else {
        if (ra_mode.is_some() || addr_mode.is_some()) && !enable_dhcp {
            return Err(invalid_input(
                "ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False",
            ));
        }
        if let (Some(r), Some(m)) = (&ra_mode, &addr_mode) {
            if r != m {
                return Err(invalid_input(format!(
                    "ipv6_ra_mode set to '{r}' with ipv6_address_mode set to '{m}' is not valid. If both attributes are set, they must be the same value"
                )));
            }
        }
    }
    let gw_int = gateway
        .as_deref()
        .and_then(cidr::parse_ip)
        .map(|ip| cidr::to_int(ip).1);
    let pools = match a.get("allocation_pools") {
        None | Some(Value::Null) => default_pools(&c, gw_int),
        Some(v) => {
            let p = requested_pools(v, &c)?;
            if let (Some(g), Some(t)) = (gw_int, gateway.as_deref()) {
                gateway_out_of_pools(&c, g, t, &p)?;
            }
            p
        }
    };
    let row = SubnetRow {
        id: common::ids::uuid(),
        project_id,
        network_id: network_id.to_string(),
        name: attrs::text(a, "name", 255)?.unwrap_or_default(),
        description: attrs::text(a, "description", 255)?.unwrap_or_default(),
        ip_version,
        cidr: c.to_string(),
        gateway_ip: gateway,
        enable_dhcp,
        ipv6_ra_mode: ra_mode,
        ipv6_address_mode: addr_mode,
        subnetpool_id,
        allocation_pools: pools
            .iter()
            .map(|(s, e)| (c.ip(*s).to_string(), c.ip(*e).to_string()))
            .collect(),
        dns_nameservers: dns,
        host_routes: routes,
        revision_number: 0,
        // Set by the caller.
        created_at: 0,
        updated_at: 0,
    };
    if is_auto_address(&row) && c.prefixlen != 64 {
        return Err(invalid_input(format!(
            "Invalid CIDR {cidr_text} for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64"
        )));
    }
    Ok(row)
}

/// A requested subnet CIDR, canonical and of family `ip_version`.
fn parse_cidr(cidr_text: &str, ip_version: i64) -> Result<Cidr> {
    let c = match Cidr::parse(cidr_text) {
        Some((c, true)) if cidr_text.contains('/') => c,
        Some((c, _)) => {
            return Err(bad_attr(
                "cidr",
                format!("'{cidr_text}' isn't a recognized IP subnet cidr, '{c}' is recommended"),
            ))
        }
        None => {
            return Err(bad_attr(
                "cidr",
                format!("'{cidr_text}' is not a valid IP subnet"),
            ))
        }
    };
    if i64::from(c.version) != ip_version {
        return Err(ip_mismatch("cidr", cidr_text, ip_version));
    }
    if c.prefixlen == 0 {
        return Err(invalid_input("0 is not allowed as CIDR prefix length"));
    }
    Ok(c)
}

/// The stored pools as integer ranges.
pub fn stored_pools(s: &SubnetRow) -> Vec<(u128, u128)> {
    s.allocation_pools
        .iter()
        .filter_map(|(a, b)| {
            let a = cidr::to_int(cidr::parse_ip(a)?).1;
            let b = cidr::to_int(cidr::parse_ip(b)?).1;
            Some((a, b))
        })
        .collect()
}

/// `_validate_subnet`'s checks of a CIDR that DHCP will serve.
fn check_dhcp_cidr(c: &Cidr) -> Result<()> {
    if (c.version == 4 && c.prefixlen > 30) || (c.version == 6 && c.prefixlen > 126) {
        return Err(invalid_input(
            "Subnet has a prefix length that is incompatible with DHCP service enabled",
        ));
    }
    let first = c.ip(c.network);
    let (multicast, loopback, link_local) = match first {
        std::net::IpAddr::V4(a) => (a.is_multicast(), a.is_loopback(), a.is_link_local()),
        std::net::IpAddr::V6(a) => (
            a.is_multicast(),
            a.is_loopback(),
            (a.segments()[0] & 0xffc0) == 0xfe80,
        ),
    };
    if multicast {
        return Err(invalid_input(
            "Multicast IP subnet is not supported if enable_dhcp is True",
        ));
    }
    if loopback {
        return Err(invalid_input(
            "Loopback IP subnet is not supported if enable_dhcp is True",
        ));
    }
    if link_local {
        return Err(invalid_input(
            "Link-local IP subnet is not supported if enable_dhcp is True",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn default_pools_skip_gateway_network_and_broadcast() {
        let (c, _) = Cidr::parse("10.0.0.0/24").unwrap();
        let g = cidr::to_int(cidr::parse_ip("10.0.0.1").unwrap()).1;
        let p = default_pools(&c, Some(g));
        assert_eq!(p.len(), 1);
        assert_eq!(fmt_range(&c, p[0].0, p[0].1), "10.0.0.2-10.0.0.254");
        let mid = cidr::to_int(cidr::parse_ip("10.0.0.100").unwrap()).1;
        let p = default_pools(&c, Some(mid));
        assert_eq!(fmt_range(&c, p[0].0, p[0].1), "10.0.0.1-10.0.0.99");
        assert_eq!(fmt_range(&c, p[1].0, p[1].1), "10.0.0.101-10.0.0.254");
        let (v6, _) = Cidr::parse("2001:db8::/64").unwrap();
        let p = default_pools(&v6, None);
        assert_eq!(
            fmt_range(&v6, p[0].0, p[0].1),
            "2001:db8::1-2001:db8::ffff:ffff:ffff:ffff"
        );
        let (c31, _) = Cidr::parse("10.0.0.0/31").unwrap();
        assert!(default_pools(&c31, None).is_empty());
    }

    #[test]
    fn gateway_rules_are_upstreams() {
        let (c, _) = Cidr::parse("10.0.0.0/24").unwrap();
        let ip = |s: &str| cidr::to_int(cidr::parse_ip(s).unwrap()).1;
        assert!(check_gateway(&c, ip("10.0.0.0")).is_err());
        assert!(check_gateway(&c, ip("10.0.0.255")).is_err());
        assert!(check_gateway(&c, ip("10.0.0.254")).is_ok());
        // Outside the CIDR: accepted, as upstream.
        assert!(check_gateway(&c, ip("192.168.0.1")).is_ok());
    }
}

//! Ports and IPAM: visibility (own project's, and those on networks the
//! caller owns), creation with addresses from the subnets' pools (or the
//! ones asked for) and a MAC from the configured base, updates (fixed_ips
//! kept, added or released; binding; security attributes), deletion, and
//! the DHCP port Neutron keeps on every network with DHCP enabled.
//!
//! Addresses are chosen inside the write transaction after the network's
//! row is locked, so concurrent creates on one network queue and each
//! sees the others' allocations (PostgreSQL; SQLite serialises writers
//! anyway). The allocation table's key (subnet, address) and the MAC
//! index back this up: a violation makes the create start over.

use super::attrs::{self, show, Attrs};
use super::list::{self, attr, Attr, AttrKind};
use super::{invalid_input, policy_refused, Network};
use crate::cidr::{self, Cidr};
use crate::db::networks::{self as net_rows, NetworkRow};
use crate::db::ports::{self as rows, Allocation, PortRow};
use crate::db::subnets::{self as subnet_rows, SubnetRow};
use crate::db::{is_unique_violation, tags};
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use db::list::{Bind, ListQuery};
use serde_json::{json, Map, Value};
use std::collections::HashSet;

/// neutron-lib's `DEVICE_OWNER_DHCP` and the device id of a DHCP port no
/// agent has claimed yet (`DEVICE_ID_RESERVED_DHCP_PORT`).
pub const DEVICE_OWNER_DHCP: &str = "network:dhcp";
pub const DEVICE_ID_RESERVED_DHCP_PORT: &str = "reserved_dhcp_port";
/// neutron's `max_allowed_address_pair` default.
const MAX_ADDRESS_PAIRS: usize = 10;
/// How many times a create starts over after a concurrent writer took an
/// address or MAC it picked.
const ATTEMPTS: usize = 20;
/// neutron-lib's `VNIC_TYPES`.
pub const VNIC_TYPES: &[&str] = &[
    "normal",
    "direct",
    "macvtap",
    "baremetal",
    "direct-physical",
    "virtio-forwarder",
    "smart-nic",
    "vdpa",
    "remote-managed",
    "accelerator-direct",
    "accelerator-direct-physical",
];

/// A port with what is rendered beside its row.
#[derive(Debug, Clone)]
pub struct PortView {
    pub row: PortRow,
    pub fixed_ips: Vec<Allocation>,
    pub tags: Vec<String>,
}

pub fn not_found(id: &str) -> Error {
    Error::not_found(format!("Port {id} could not be found.")).with_fault("PortNotFound")
}

fn generation_failure(net: &str) -> Error {
    Error::conflict(format!("No more IP addresses available on network {net}."))
        .with_fault("IpAddressGenerationFailure")
}

fn already_allocated(ip: &str, subnet: &str) -> Error {
    Error::conflict(format!(
        "IP address {ip} already allocated in subnet {subnet}"
    ))
    .with_fault("IpAddressAlreadyAllocated")
}

fn invalid_ip_for_subnet(ip: &str) -> Error {
    Error::bad_request(format!(
        "IP address {ip} is not a valid IP for the specified subnet."
    ))
    .with_fault("InvalidIpForSubnet")
}

fn invalid_ip_for_network(ip: &str) -> Error {
    Error::bad_request(format!(
        "IP address {ip} is not a valid IP for any of the subnets on the specified network."
    ))
    .with_fault("InvalidIpForNetwork")
}

fn mac_in_use(net: &str, mac: &str) -> Error {
    Error::conflict(format!(
        "Unable to complete operation for network {net}. The mac address {mac} is in use."
    ))
    .with_fault("MacAddressInUse")
}

fn bad_attr(key: &str, reason: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("Invalid input for {key}. Reason: {reason}."))
}

const KNOWN: &[&str] = &[
    "id",
    "name",
    "description",
    "network_id",
    "project_id",
    "tenant_id",
    "admin_state_up",
    "status",
    "mac_address",
    "fixed_ips",
    "device_id",
    "device_owner",
    "port_security_enabled",
    "security_groups",
    "allowed_address_pairs",
    "extra_dhcp_opts",
    "binding:host_id",
    "binding:vnic_type",
    "binding:profile",
    "binding:vif_type",
    "binding:vif_details",
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
    "admin_state_up",
    "mac_address",
    "fixed_ips",
    "device_id",
    "device_owner",
    "port_security_enabled",
    "security_groups",
    "allowed_address_pairs",
    "extra_dhcp_opts",
    "binding:host_id",
    "binding:vnic_type",
    "binding:profile",
    "tags",
];
const PUT: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "mac_address",
    "fixed_ips",
    "device_id",
    "device_owner",
    "port_security_enabled",
    "security_groups",
    "allowed_address_pairs",
    "extra_dhcp_opts",
    "binding:host_id",
    "binding:vnic_type",
    "binding:profile",
];

/// What a port list can filter and sort on (`fixed_ips` and
/// `security_groups` are filtered separately).
pub const ATTRS: &[Attr] = &[
    attr("id", "id", AttrKind::Text),
    attr("name", "name", AttrKind::Text),
    attr("description", "description", AttrKind::Text),
    attr("project_id", "project_id", AttrKind::Text),
    attr("tenant_id", "project_id", AttrKind::Text),
    attr("network_id", "network_id", AttrKind::Text),
    attr("admin_state_up", "admin_state_up", AttrKind::Bool),
    attr("status", "status", AttrKind::Text),
    attr("mac_address", "mac_address", AttrKind::Text),
    attr("device_id", "device_id", AttrKind::Text),
    attr("device_owner", "device_owner", AttrKind::Text),
    attr(
        "port_security_enabled",
        "port_security_enabled",
        AttrKind::Bool,
    ),
    attr("binding:host_id", "binding_host_id", AttrKind::Text),
    attr("binding:vnic_type", "binding_vnic_type", AttrKind::Text),
    attr("revision_number", "revision_number", AttrKind::Int),
    attr("created_at", "created_at", AttrKind::Int),
    attr("updated_at", "updated_at", AttrKind::Int),
];

/// The attributes policy rules see for a port.
pub fn target(p: &PortRow, n: Option<&NetworkRow>) -> Value {
    json!({
        "id": p.id,
        "project_id": p.project_id,
        "tenant_id": p.project_id,
        "network_id": p.network_id,
        "device_owner": p.device_owner,
        "network:project_id": n.map(|n| n.project_id.clone()),
        "network:tenant_id": n.map(|n| n.project_id.clone()),
    })
}

/// One requested fixed IP: by subnet, by address, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FixedReq {
    subnet_id: Option<String>,
    ip: Option<(cidr::Version, u128)>,
    /// The address as given, for messages.
    ip_text: Option<String>,
}

/// A validated create request.
#[derive(Debug, Clone)]
struct Planned {
    row: PortRow,
    /// `None`: Neutron's default (an address from one IPv4 subnet, one
    /// stateful IPv6 subnet, and every SLAAC/stateless subnet).
    fixed: Option<Vec<FixedReq>>,
    mac_given: bool,
    tags: Vec<String>,
}

/// Why a planned write stopped.
enum Retry {
    /// A concurrent writer took an address or MAC.
    Again,
    Fail(Error),
}

impl From<Error> for Retry {
    fn from(e: Error) -> Self {
        Retry::Fail(e)
    }
}

impl From<db::sqlx::Error> for Retry {
    fn from(e: db::sqlx::Error) -> Self {
        if is_unique_violation(&e) {
            Retry::Again
        } else {
            Retry::Fail(e.into())
        }
    }
}

fn fixed_ips(v: &Value) -> Result<Vec<FixedReq>> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            return Err(bad_attr(
                "fixed_ips",
                format!("Invalid data format for fixed IP: '{}'", show(other)),
            ))
        }
    };
    let mut out: Vec<FixedReq> = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(m) = item else {
            return Err(bad_attr(
                "fixed_ips",
                format!("Invalid data format for fixed IP: '{}'", show(item)),
            ));
        };
        let subnet_id = match m.get("subnet_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(bad_attr(
                    "fixed_ips",
                    format!("'{}' is not a valid UUID", show(other)),
                ))
            }
        };
        let (ip, ip_text) = match m.get("ip_address") {
            None | Some(Value::Null) => (None, None),
            Some(Value::String(s)) => {
                let parsed = cidr::parse_ip(s)
                    .filter(|_| !s.contains('/'))
                    .ok_or_else(|| {
                        bad_attr("fixed_ips", format!("'{s}' is not a valid IP address"))
                    })?;
                (Some(cidr::to_int(parsed)), Some(s.clone()))
            }
            Some(other) => {
                return Err(bad_attr(
                    "fixed_ips",
                    format!("'{}' is not a valid IP address", show(other)),
                ))
            }
        };
        if let Some(ip) = ip {
            if out.iter().any(|o| o.ip == Some(ip)) {
                return Err(bad_attr(
                    "fixed_ips",
                    format!(
                        "Duplicate IP address '{}'",
                        ip_text.clone().unwrap_or_default()
                    ),
                ));
            }
        }
        if subnet_id.is_none() && ip.is_none() {
            return Err(invalid_input(
                "IP allocation requires subnet_id or ip_address",
            ));
        }
        out.push(FixedReq {
            subnet_id,
            ip,
            ip_text,
        });
    }
    Ok(out)
}

fn security_groups(v: &Value) -> Result<Vec<String>> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            return Err(bad_attr(
                "security_groups",
                format!("'{}' is not a list", show(other)),
            ))
        }
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        match item {
            Value::String(s) if is_uuid(s) => {
                if !out.contains(s) {
                    out.push(s.clone());
                }
            }
            other => {
                return Err(bad_attr(
                    "security_groups",
                    format!("'{}' is not a valid UUID", show(other)),
                ))
            }
        }
    }
    Ok(out)
}

/// oslo's `is_uuid_like`: 32 hex digits, dashes allowed where UUIDs
/// put them.
pub(crate) fn is_uuid(s: &str) -> bool {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    hex.len() == 32
        && hex.chars().all(|c| c.is_ascii_hexdigit())
        && (s.len() == 32 || s.len() == 36)
}

fn mac(v: &Value, key: &str) -> Result<String> {
    match v {
        Value::String(s) => cidr::parse_mac(s)
            .map(cidr::format_mac)
            .ok_or_else(|| bad_attr(key, format!("'{s}' is not a valid MAC address"))),
        other => Err(bad_attr(
            key,
            format!("'{}' is not a valid MAC address", show(other)),
        )),
    }
}

/// neutron's allowed-address-pairs validation.
fn address_pairs(v: &Value, port_mac: &str) -> Result<Vec<(String, String)>> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => {
            return Err(Error::bad_request("Allowed address pairs must be a list.")
                .with_fault("AllowedAddressPairsMissingIP"))
        }
    };
    if items.len() > MAX_ADDRESS_PAIRS {
        return Err(Error::bad_request(format!(
            "The number of allowed address pair exceeds the maximum {MAX_ADDRESS_PAIRS}."
        ))
        .with_fault("AllowedAddressPairExhausted"));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for item in items {
        let Value::Object(m) = item else {
            return Err(bad_attr(
                "allowed_address_pairs",
                format!("'{}' is not a dictionary", show(item)),
            ));
        };
        let mut extra: Vec<&str> = m
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "ip_address" && *k != "mac_address")
            .collect();
        if !extra.is_empty() {
            extra.sort_unstable();
            return Err(bad_attr(
                "allowed_address_pairs",
                format!("Unrecognized attribute(s) '{}'", extra.join(", ")),
            ));
        }
        let Some(ip) = m.get("ip_address") else {
            return Err(
                Error::bad_request("AllowedAddressPair must contain ip_address")
                    .with_fault("AllowedAddressPairsMissingIP"),
            );
        };
        let ip = match ip {
            Value::String(s) if cidr::parse_ip(s).is_some() => {
                cidr::parse_ip(s).map(|a| a.to_string()).unwrap_or_default()
            }
            Value::String(s) if s.contains('/') && Cidr::parse(s).is_some() => s.clone(),
            other => {
                return Err(bad_attr(
                    "allowed_address_pairs",
                    format!(
                        "'{}' is neither a valid IP address, nor is it a valid IP subnet",
                        show(other)
                    ),
                ))
            }
        };
        let mac = match m.get("mac_address") {
            None | Some(Value::Null) => port_mac.to_string(),
            Some(v) => mac(v, "allowed_address_pairs")?,
        };
        if out.iter().any(|(i, m)| *i == ip && *m == mac) {
            return Err(Error::bad_request(format!(
                "Request contains duplicate address pair: mac_address {mac} ip_address {ip}."
            ))
            .with_fault("DuplicateAddressPairInRequest"));
        }
        out.push((ip, mac));
    }
    Ok(out)
}

/// One extra DHCP option, as the extra_dhcp_opt extension reads it;
/// `opt_value` null (updates only) deletes the option.
fn dhcp_opts(v: &Value) -> Result<Vec<(String, Option<String>, i64)>> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            return Err(bad_attr(
                "extra_dhcp_opts",
                format!("'{}' is not a list", show(other)),
            ))
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(m) = item else {
            return Err(bad_attr(
                "extra_dhcp_opts",
                format!("'{}' is not a dictionary", show(item)),
            ));
        };
        let mut extra: Vec<&str> = m
            .keys()
            .map(String::as_str)
            .filter(|k| !matches!(*k, "opt_name" | "opt_value" | "ip_version"))
            .collect();
        if !extra.is_empty() {
            extra.sort_unstable();
            return Err(bad_attr(
                "extra_dhcp_opts",
                format!("Unrecognized attribute(s) '{}'", extra.join(", ")),
            ));
        }
        let name = match m.get("opt_name") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(other) => {
                return Err(bad_attr(
                    "extra_dhcp_opts",
                    format!("'{}' Blank strings are not permitted", show(other)),
                ))
            }
            None => return Err(bad_attr(
                "extra_dhcp_opts",
                "Validation of dictionary's keys failed. Expected keys: {'opt_name', 'opt_value'}",
            )),
        };
        let value = match m.get("opt_value") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) => None,
            Some(other) => {
                return Err(bad_attr(
                    "extra_dhcp_opts",
                    format!("'{}' is not a valid string", show(other)),
                ))
            }
            None => return Err(bad_attr(
                "extra_dhcp_opts",
                "Validation of dictionary's keys failed. Expected keys: {'opt_name', 'opt_value'}",
            )),
        };
        let version = match m.get("ip_version") {
            None | Some(Value::Null) => 4,
            Some(v) => match attrs::to_int(v) {
                Some(n @ (4 | 6)) => n,
                _ => {
                    return Err(bad_attr(
                        "extra_dhcp_opts",
                        format!("'{}' is not in [4, 6]", show(v)),
                    ))
                }
            },
        };
        out.push((name, value, version));
    }
    Ok(out)
}

fn dhcp_opt_value(name: &str, value: &str, version: i64) -> Value {
    json!({"opt_name": name, "opt_value": value, "ip_version": version})
}

/// Applies requested options to `cur`: same name and version replaces,
/// a null value removes.
fn merge_dhcp_opts(cur: &[Value], req: Vec<(String, Option<String>, i64)>) -> Vec<Value> {
    let mut out: Vec<Value> = cur.to_vec();
    for (name, value, version) in req {
        let same = |o: &Value| {
            o.get("opt_name").and_then(Value::as_str) == Some(name.as_str())
                && o.get("ip_version").and_then(Value::as_i64) == Some(version)
        };
        match value {
            None => out.retain(|o| !same(o)),
            Some(v) => match out.iter_mut().find(|o| same(o)) {
                Some(o) => *o = dhcp_opt_value(&name, &v, version),
                None => out.push(dhcp_opt_value(&name, &v, version)),
            },
        }
    }
    out
}

fn profile(v: &Value) -> Result<Value> {
    match v {
        Value::Null => Ok(Value::Object(Map::new())),
        Value::Object(_) => Ok(v.clone()),
        other => Err(bad_attr(
            "binding:profile",
            format!("'{}' is not a dictionary", show(other)),
        )),
    }
}

fn vnic_type(v: &Value) -> Result<String> {
    match v {
        Value::String(s) if VNIC_TYPES.contains(&s.as_str()) => Ok(s.clone()),
        other => Err(bad_attr(
            "binding:vnic_type",
            format!("'{}' is not in {:?}", show(other), VNIC_TYPES),
        )),
    }
}

fn port_tags(a: &Attrs) -> Result<Vec<String>> {
    match a.get("tags") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            let mut out: Vec<String> = Vec::new();
            for v in items {
                let Value::String(t) = v else {
                    return Err(bad_attr(
                        "tags",
                        format!("'{}' is not a valid string", show(v)),
                    ));
                };
                if t.chars().count() > 255 {
                    return Err(bad_attr(
                        "tags",
                        format!("'{t}' exceeds maximum length of 255"),
                    ));
                }
                if !out.contains(t) {
                    out.push(t.clone());
                }
            }
            Ok(out)
        }
        Some(v) => Err(bad_attr("tags", format!("'{}' is not a list", show(v)))),
    }
}

/// The first address of `pools` not in `taken`.
/// How many addresses IPAM's fast path checks one by one before it reads
/// the whole subnet.
const IPAM_PROBES: usize = 16;

/// The pools' addresses from `start` on, in order, up to the last pool's
/// end (no wrap: what lies before `start` is the full scan's).
fn candidates_from(pools: &[(u128, u128)], start: u128) -> impl Iterator<Item = u128> + '_ {
    pools
        .iter()
        .filter(move |(_, e)| *e >= start)
        .flat_map(move |(s, e)| (*s.max(&start))..=*e)
}

fn next_free(pools: &[(u128, u128)], taken: &HashSet<u128>) -> Option<u128> {
    for (s, e) in pools {
        let mut n = *s;
        loop {
            if !taken.contains(&n) {
                return Some(n);
            }
            if n >= *e {
                break;
            }
            n += 1;
        }
    }
    None
}

/// Whether `n` may be given on subnet `c`: not its network address, nor
/// its IPv4 broadcast address (ipam_utils' `check_subnet_ip`).
fn usable(c: &Cidr, n: u128) -> bool {
    c.contains(c.version, n)
        && (c.size() == 1 || (n != c.network && (c.version == 6 || n != c.last())))
}

fn subnet_cidr(s: &SubnetRow) -> Result<Cidr> {
    Cidr::parse(&s.cidr)
        .map(|(c, _)| c)
        .ok_or_else(|| Error::internal(format!("stored CIDR {} unreadable", s.cidr)))
}

impl Network {
    /// Whether the caller can see `p` (Neutron's model query scoping for
    /// ports: the own project's, and any on a network the caller owns).
    fn port_visible(&self, ctx: &AuthContext, p: &PortRow, n: Option<&NetworkRow>) -> bool {
        let own = ctx.project_id();
        self.is_admin(ctx)
            || own == Some(p.project_id.as_str())
            || n.is_some_and(|n| own == Some(n.project_id.as_str()))
    }

    /// The port `id` and its network if the caller can see it, else 404.
    pub async fn visible_port(
        &self,
        ctx: &AuthContext,
        id: &str,
    ) -> Result<(PortRow, Option<NetworkRow>)> {
        let p = rows::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let n = net_rows::get(&self.db.pool, &p.network_id).await?;
        if !self.port_visible(ctx, &p, n.as_ref())
            || !self.check(ctx, "get_port", &target(&p, n.as_ref()))
        {
            return Err(not_found(id));
        }
        Ok((p, n))
    }

    /// Whether the caller sees the admin-only binding attributes.
    pub fn shows_binding(&self, ctx: &AuthContext, p: &PortRow) -> bool {
        self.check(ctx, "get_port:binding:host_id", &target(p, None))
    }

    /// Neutron's status for a port: ACTIVE once the data plane has it,
    /// which without a data plane (`dataplane = none`) is when bound.
    fn port_status(&self, p: &PortRow) -> String {
        // Router ports are bound by the L3 scheduler, not by a client's
        // binding:host_id, so they count as bound as long as their router
        // has them (as `router_port` made them).
        let bound = !p.binding_host_id.is_empty()
            || (p.device_owner.starts_with("network:router_") && !p.device_id.is_empty());
        if self.settings.dataplane_none && bound && p.admin_state_up {
            "ACTIVE".into()
        } else {
            "DOWN".into()
        }
    }

    /// `binding:vif_type` and `binding:vif_details`: what the Linux
    /// bridge data plane plugs a bound port into.
    pub fn vif(&self, p: &PortRow) -> (String, Value) {
        if p.binding_host_id.is_empty() {
            ("unbound".into(), json!({}))
        } else {
            (
                "bridge".into(),
                json!({"connectivity": "l2", "port_filter": true}),
            )
        }
    }

    async fn port_views(&self, rows: Vec<PortRow>) -> Result<Vec<PortView>> {
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut tags = tags::of(&mut *self.db.pool.acquire().await?, &ids).await?;
        let mut ips = rows::allocations_of(&mut *self.db.pool.acquire().await?, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|row| PortView {
                tags: tags.remove(&row.id).unwrap_or_default(),
                fixed_ips: ips.remove(&row.id).unwrap_or_default(),
                row,
            })
            .collect())
    }

    pub async fn show_port(&self, ctx: &AuthContext, id: &str) -> Result<PortView> {
        let (p, _) = self.visible_port(ctx, id).await?;
        let mut v = self.port_views(vec![p]).await?;
        v.pop().ok_or_else(|| not_found(id))
    }

    /// A page of the ports the caller can see.
    pub async fn list_ports(
        &self,
        ctx: &AuthContext,
        q: &QueryMap,
    ) -> Result<(Vec<PortView>, list::Request)> {
        let mut base = ListQuery::new(self.db.kind, "ports", rows::COLUMNS, "id");
        if !self.is_admin(ctx) {
            let project = ctx.project_id().unwrap_or("").to_string();
            base.filter(
                "project_id = ? OR network_id IN (SELECT n.id FROM networks n WHERE n.project_id = ?)",
                [Bind::Text(project.clone()), Bind::Text(project)],
            );
        }
        // `fixed_ips=ip_address=…` / `fixed_ips=subnet_id=…`: conditions
        // on one allocation, values of one key OR'ed (upstream).
        let mut ips: Vec<String> = Vec::new();
        let mut subnets: Vec<String> = Vec::new();
        let mut substrings: Vec<String> = Vec::new();
        for v in q.get_all("fixed_ips") {
            if let Some((k, val)) = v.split_once('=') {
                match k {
                    "ip_address_substr" if !val.is_empty() => substrings.push(val.to_string()),
                    "ip_address" => ips.push(
                        cidr::parse_ip(val)
                            .map(|a| a.to_string())
                            .unwrap_or_else(|| val.to_string()),
                    ),
                    "subnet_id" => subnets.push(val.to_string()),
                    _ => {}
                }
            }
        }
        if !ips.is_empty() || !subnets.is_empty() {
            let mut conds = Vec::new();
            let mut binds = Vec::new();
            if !ips.is_empty() {
                conds.push(format!(
                    "ip_address IN ({})",
                    vec!["?"; ips.len()].join(", ")
                ));
                binds.extend(ips.into_iter().map(Bind::Text));
            }
            if !subnets.is_empty() {
                conds.push(format!(
                    "subnet_id IN ({})",
                    vec!["?"; subnets.len()].join(", ")
                ));
                binds.extend(subnets.into_iter().map(Bind::Text));
            }
            base.filter(
                &format!(
                    "id IN (SELECT port_id FROM ipallocations WHERE {})",
                    conds.join(" AND ")
                ),
                binds,
            );
        }
        // ip-substring-filtering: any of the port's addresses contains any
        // of the substrings (ml2's `_get_ports_query`), apart from the
        // conditions above on one allocation.
        if !substrings.is_empty() {
            let conds = vec!["ip_address LIKE ? ESCAPE '\\'"; substrings.len()].join(" OR ");
            base.filter(
                &format!("id IN (SELECT port_id FROM ipallocations WHERE {conds})"),
                substrings.iter().map(|s| {
                    let escaped = s
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_");
                    Bind::Text(format!("%{escaped}%"))
                }),
            );
        }
        for sg in q.get_all("security_groups").filter(|v| !v.is_empty()) {
            base.filter(
                "security_groups LIKE ?",
                [Bind::Text(format!("%\"{}\"%", sg.replace(['%', '_'], "")))],
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
        Ok((self.port_views(found).await?, req))
    }

    /// Validates one create request (addresses are chosen at insert).
    async fn new_port(&self, ctx: &AuthContext, a: &Attrs) -> Result<Planned> {
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
        self.enforce(ctx, "create_port", &tgt)?;
        let may = |key: &str| self.check(ctx, &format!("create_port:{key}"), &tgt);
        for key in ["binding:host_id", "binding:profile", "mac_address"] {
            if a.contains_key(key) && !may(key) {
                return Err(policy_refused("create_port"));
            }
        }
        let fixed = match a.get("fixed_ips") {
            None => None,
            Some(v) => Some(fixed_ips(v)?),
        };
        if fixed
            .as_ref()
            .is_some_and(|f| f.iter().any(|r| r.ip.is_some()))
            && !may("fixed_ips:ip_address")
        {
            return Err(policy_refused("create_port"));
        }
        let mac_given = a.get("mac_address").is_some_and(|v| !v.is_null());
        let mac_address = match a.get("mac_address") {
            Some(v) if !v.is_null() => mac(v, "mac_address")?,
            _ => String::new(),
        };
        let port_security =
            attrs::boolean(a, "port_security_enabled")?.unwrap_or(net.port_security_enabled);
        let requested_sgs = a.get("security_groups").map(security_groups).transpose()?;
        if !port_security && requested_sgs.as_ref().is_some_and(|s| !s.is_empty()) {
            return Err(Error::bad_request(
                "Port security must be enabled and port must have an IP address in order to use security groups.",
            )
            .with_fault("PortSecurityAndIPRequiredForSecurityGroups"));
        }
        let pairs = match a.get("allowed_address_pairs") {
            Some(v) => address_pairs(v, &mac_address)?,
            None => Vec::new(),
        };
        if !port_security && !pairs.is_empty() {
            return Err(address_pairs_need_security());
        }
        let opts = match a.get("extra_dhcp_opts") {
            Some(v) => merge_dhcp_opts(&[], dhcp_opts(v)?),
            None => Vec::new(),
        };
        let device_owner = attrs::text(a, "device_owner", 255)?.unwrap_or_default();
        let sgs = self
            .port_groups(
                ctx,
                &project_id,
                &device_owner,
                requested_sgs,
                port_security,
            )
            .await?;
        let now = self.now();
        let mut row = PortRow {
            id: common::ids::uuid(),
            project_id,
            network_id: net.id.clone(),
            name: attrs::text(a, "name", 255)?.unwrap_or_default(),
            description: attrs::text(a, "description", 255)?.unwrap_or_default(),
            admin_state_up: attrs::boolean(a, "admin_state_up")?.unwrap_or(true),
            status: String::new(),
            mac_address,
            device_id: attrs::text(a, "device_id", 255)?.unwrap_or_default(),
            device_owner,
            port_security_enabled: port_security,
            binding_host_id: attrs::string(a, "binding:host_id", 255, true)?
                .flatten()
                .unwrap_or_default(),
            binding_vnic_type: match a.get("binding:vnic_type") {
                Some(v) => vnic_type(v)?,
                None => "normal".into(),
            },
            binding_profile: match a.get("binding:profile") {
                Some(v) => profile(v)?,
                None => json!({}),
            },
            security_groups: sgs,
            allowed_address_pairs: pairs,
            extra_dhcp_opts: opts,
            revision_number: 0,
            created_at: now,
            updated_at: now,
        };
        row.status = self.port_status(&row);
        Ok(Planned {
            row,
            fixed,
            mac_given,
            tags: port_tags(a)?,
        })
    }

    /// Creates the ports of one request (bulk: all or none).
    pub async fn create_ports(
        &self,
        ctx: &AuthContext,
        items: Vec<Attrs>,
    ) -> Result<Vec<PortView>> {
        let mut planned = Vec::with_capacity(items.len());
        for a in &items {
            planned.push(self.new_port(ctx, a).await?);
        }
        let mut attempt = 0;
        let created = loop {
            attempt += 1;
            match self.insert_ports(&planned).await {
                Ok(rows) => break rows,
                Err(Retry::Again) if attempt < ATTEMPTS => continue,
                Err(Retry::Again) => {
                    return Err(Error::conflict(
                        "Concurrent requests kept taking the addresses chosen; retry",
                    ))
                }
                Err(Retry::Fail(e)) => return Err(e),
            }
        };
        self.port_views(created).await
    }

    async fn insert_ports(&self, planned: &[Planned]) -> Result<Vec<PortRow>, Retry> {
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        let adding: Vec<(String, i64)> = planned
            .iter()
            .map(|p| (p.row.project_id.clone(), 1))
            .collect();
        self.check_quota(tx.conn(), "port", &adding).await?;
        let mut out = Vec::with_capacity(planned.len());
        for p in planned {
            let mut row = p.row.clone();
            if !net_rows::lock(tx.conn(), &row.network_id).await? {
                return Err(Retry::Fail(super::networks::not_found(&row.network_id)));
            }
            if p.mac_given {
                if rows::mac_taken(tx.conn(), &row.network_id, &row.mac_address).await? {
                    return Err(Retry::Fail(mac_in_use(&row.network_id, &row.mac_address)));
                }
            } else {
                row.mac_address = self.free_mac(tx.conn(), &row.network_id).await?;
                for pair in &mut row.allowed_address_pairs {
                    if pair.1.is_empty() {
                        pair.1 = row.mac_address.clone();
                    }
                }
            }
            self.groups_still_exist(tx.conn(), &row.security_groups)
                .await?;
            let subnets = subnet_rows::of_network(&mut *tx.conn(), &row.network_id).await?;
            let ips = self
                .choose_addresses(tx.conn(), &row, p.fixed.as_deref(), &subnets, &[])
                .await?;
            rows::insert(tx.conn(), &row).await?;
            for (i, a) in ips.iter().enumerate() {
                rows::allocate(tx.conn(), &row, a, i as i64).await?;
            }
            for t in &p.tags {
                tags::add(tx.conn(), &row.id, t).await?;
            }
            out.push(row);
        }
        tx.commit().await.map_err(Error::from)?;
        Ok(out)
    }

    /// A random MAC from the base not taken on the network.
    async fn free_mac(
        &self,
        conn: &mut crate::db::Conn,
        network_id: &str,
    ) -> Result<String, Retry> {
        let p = self.settings.mac_prefix;
        for _ in 0..16 {
            let r = common::ids::random_bytes(3);
            let m = cidr::format_mac([p[0], p[1], p[2], r[0], r[1], r[2]]);
            if !rows::mac_taken(conn, network_id, &m).await? {
                return Ok(m);
            }
        }
        Err(Retry::Fail(
            Error::conflict(format!(
                "Unable to generate unique mac on network {network_id}."
            ))
            .with_fault("MacAddressGenerationFailure"),
        ))
    }

    /// The addresses a port gets: the requested ones (checked against the
    /// network's subnets and what is taken), or Neutron's default. `keep`
    /// are addresses the port already holds (an update), never "taken".
    async fn choose_addresses(
        &self,
        conn: &mut crate::db::Conn,
        port: &PortRow,
        fixed: Option<&[FixedReq]>,
        subnets: &[SubnetRow],
        keep: &[Allocation],
    ) -> Result<Vec<Allocation>, Retry> {
        let mut out: Vec<Allocation> = Vec::new();
        let mac = cidr::parse_mac(&port.mac_address).unwrap_or([0; 6]);
        let router_port = port.device_owner.starts_with("network:router_")
            || port.device_owner == "network:ha_router_replicated_interface";
        let Some(fixed) = fixed else {
            // Default: one address from the IPv4 subnets, one from the
            // stateful IPv6 ones, and the EUI-64 address on each
            // SLAAC/stateless subnet.
            let v4: Vec<&SubnetRow> = subnets.iter().filter(|s| s.ip_version == 4).collect();
            let v6: Vec<&SubnetRow> = subnets
                .iter()
                .filter(|s| s.ip_version == 6 && !super::subnets::is_auto_address(s))
                .collect();
            for group in [v4, v6] {
                if group.is_empty() {
                    continue;
                }
                let mut got = false;
                for s in &group {
                    if let Some(a) = self.any_address(conn, s, &out, keep).await? {
                        out.push(a);
                        got = true;
                        break;
                    }
                }
                if !got {
                    return Err(Retry::Fail(generation_failure(&port.network_id)));
                }
            }
            for s in subnets
                .iter()
                .filter(|s| super::subnets::is_auto_address(s))
            {
                let c = subnet_cidr(s)?;
                out.push(Allocation {
                    subnet_id: s.id.clone(),
                    ip_address: cidr::eui64(&c, mac).to_string(),
                });
            }
            return Ok(out);
        };
        for req in fixed {
            let subnet = match (&req.subnet_id, req.ip) {
                (Some(id), _) => subnets.iter().find(|s| &s.id == id).ok_or_else(|| {
                    invalid_input(format!(
                        "Failed to create port on network {}, because fixed_ips included invalid subnet {id}",
                        port.network_id
                    ))
                })?,
                (None, Some((v, n))) => subnets
                    .iter()
                    .find(|s| {
                        Cidr::parse(&s.cidr).is_some_and(|(c, _)| c.contains(v, n))
                    })
                    .ok_or_else(|| {
                        invalid_ip_for_network(req.ip_text.as_deref().unwrap_or_default())
                    })?,
                (None, None) => {
                    return Err(Retry::Fail(invalid_input(
                        "IP allocation requires subnet_id or ip_address",
                    )))
                }
            };
            let c = subnet_cidr(subnet)?;
            match req.ip {
                Some((v, n)) => {
                    let text = c.ip(n).to_string();
                    if v != c.version || !usable(&c, n) {
                        return Err(Retry::Fail(invalid_ip_for_subnet(
                            req.ip_text.as_deref().unwrap_or_default(),
                        )));
                    }
                    if super::subnets::is_auto_address(subnet) && !router_port {
                        return Err(Retry::Fail(invalid_input(format!(
                            "IPv6 address {text} cannot be directly assigned to a port on subnet {} as the subnet is configured for automatic addresses",
                            subnet.id
                        ))));
                    }
                    let held = keep
                        .iter()
                        .any(|k| k.subnet_id == subnet.id && k.ip_address == text);
                    if !held {
                        let taken = rows::taken_in(conn, &subnet.id).await?;
                        if taken.contains(&text) {
                            return Err(Retry::Fail(already_allocated(&text, &subnet.id)));
                        }
                    }
                    out.push(Allocation {
                        subnet_id: subnet.id.clone(),
                        ip_address: text,
                    });
                }
                None if super::subnets::is_auto_address(subnet) && !router_port => {
                    out.push(Allocation {
                        subnet_id: subnet.id.clone(),
                        ip_address: cidr::eui64(&c, mac).to_string(),
                    });
                }
                None => match self.any_address(conn, subnet, &out, keep).await? {
                    Some(a) => out.push(a),
                    None => return Err(Retry::Fail(generation_failure(&port.network_id))),
                },
            }
        }
        Ok(out)
    }

    /// A free address from the subnet's pools: one the port already holds
    /// there (an update asking for "an address on this subnet"), else the
    /// first not taken and not chosen in this request.
    async fn any_address(
        &self,
        conn: &mut crate::db::Conn,
        s: &SubnetRow,
        chosen: &[Allocation],
        keep: &[Allocation],
    ) -> Result<Option<Allocation>, Retry> {
        if let Some(k) = keep
            .iter()
            .find(|k| k.subnet_id == s.id && !chosen.contains(k))
        {
            return Ok(Some(k.clone()));
        }
        let c = subnet_cidr(s)?;
        let gateway = s
            .gateway_ip
            .as_deref()
            .and_then(cidr::parse_ip)
            .map(|g| cidr::to_int(g).1);
        let pools = super::subnets::stored_pools(s);
        let chosen_here: HashSet<u128> = chosen
            .iter()
            .filter(|a| a.subnet_id == s.id)
            .filter_map(|a| cidr::parse_ip(&a.ip_address).map(|ip| cidr::to_int(ip).1))
            .collect();
        // Fast path: a few primary-key probes from this process's cursor,
        // instead of reading every address of the subnet (a /16 holds
        // thousands). Addresses below the cursor that were freed since are
        // found by the full scan once the probes run out.
        let releases = rows::RELEASES.load(std::sync::atomic::Ordering::SeqCst);
        let hint = self
            .ipam_hints
            .lock()
            .ok()
            .and_then(|h| h.get(&s.id).copied())
            .filter(|(_, at)| *at == releases)
            .map(|(next, _)| next);
        if let Some(start) = hint {
            for n in candidates_from(&pools, start).take(IPAM_PROBES) {
                if Some(n) == gateway || chosen_here.contains(&n) {
                    continue;
                }
                let text = c.ip(n).to_string();
                if !rows::is_taken(conn, &s.id, &text).await? {
                    self.set_ipam_hint(&s.id, n + 1);
                    return Ok(Some(Allocation {
                        subnet_id: s.id.clone(),
                        ip_address: text,
                    }));
                }
            }
        }
        let mut taken: HashSet<u128> = rows::taken_in(conn, &s.id)
            .await?
            .iter()
            .chain(
                chosen
                    .iter()
                    .filter(|a| a.subnet_id == s.id)
                    .map(|a| &a.ip_address),
            )
            .filter_map(|t| cidr::parse_ip(t).map(|ip| cidr::to_int(ip).1))
            .collect();
        if let Some(g) = gateway {
            taken.insert(g);
        }
        let found = next_free(&pools, &taken);
        if let Some(n) = found {
            self.set_ipam_hint(&s.id, n + 1);
        }
        Ok(found.map(|n| Allocation {
            subnet_id: s.id.clone(),
            ip_address: c.ip(n).to_string(),
        }))
    }

    fn set_ipam_hint(&self, subnet_id: &str, next: u128) {
        let releases = rows::RELEASES.load(std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut h) = self.ipam_hints.lock() {
            h.insert(subnet_id.to_string(), (next, releases));
        }
    }

    /// Whether the caller may change `p` (its project's members, the
    /// network's owner, admins).
    fn may_change_port(&self, ctx: &AuthContext, p: &PortRow, n: Option<&NetworkRow>) -> bool {
        self.is_admin(ctx)
            || ctx.project_id() == Some(p.project_id.as_str())
            || n.is_some_and(|n| ctx.project_id() == Some(n.project_id.as_str()))
    }

    pub async fn update_port(&self, ctx: &AuthContext, id: &str, a: Attrs) -> Result<PortView> {
        attrs::check_keys(&a, KNOWN, PUT, false)?;
        let (cur, net) = self.visible_port(ctx, id).await?;
        let tgt = target(&cur, net.as_ref());
        if !self.may_change_port(ctx, &cur, net.as_ref()) {
            return Err(policy_refused("update_port"));
        }
        self.enforce(ctx, "update_port", &tgt)?;
        for key in ["binding:host_id", "binding:profile", "mac_address"] {
            if a.contains_key(key) && !self.check(ctx, &format!("update_port:{key}"), &tgt) {
                return Err(policy_refused("update_port"));
            }
        }
        let mut row = cur.clone();
        if let Some(v) = attrs::text(&a, "name", 255)? {
            row.name = v;
        }
        if let Some(v) = attrs::text(&a, "description", 255)? {
            row.description = v;
        }
        if let Some(v) = attrs::boolean(&a, "admin_state_up")? {
            row.admin_state_up = v;
        }
        if let Some(v) = attrs::text(&a, "device_id", 255)? {
            row.device_id = v;
        }
        if let Some(v) = attrs::text(&a, "device_owner", 255)? {
            row.device_owner = v;
        }
        if let Some(v) = a.get("mac_address") {
            let m = mac(v, "mac_address")?;
            if m != cur.mac_address && !cur.binding_host_id.is_empty() {
                let (vif, _) = self.vif(&cur);
                return Err(Error::conflict(format!(
                    "Unable to complete operation on port {id}, port is already bound, port type: {vif}, old_mac {}, new_mac {m}.",
                    cur.mac_address
                ))
                .with_fault("PortBound"));
            }
            row.mac_address = m;
        }
        if let Some(v) = a.get("binding:host_id") {
            row.binding_host_id = match v {
                Value::Null => String::new(),
                _ => attrs::text(&a, "binding:host_id", 255)?.unwrap_or_default(),
            };
        }
        if let Some(v) = a.get("binding:vnic_type") {
            row.binding_vnic_type = vnic_type(v)?;
        }
        if let Some(v) = a.get("binding:profile") {
            row.binding_profile = profile(v)?;
        }
        if let Some(v) = attrs::boolean(&a, "port_security_enabled")? {
            row.port_security_enabled = v;
        }
        if let Some(v) = a.get("security_groups") {
            row.security_groups = security_groups(v)?;
            if row.security_groups != cur.security_groups {
                self.check_port_groups(ctx, &cur.project_id, &row.security_groups)
                    .await?;
            }
        }
        if let Some(v) = a.get("allowed_address_pairs") {
            row.allowed_address_pairs = address_pairs(v, &row.mac_address)?;
        }
        if let Some(v) = a.get("extra_dhcp_opts") {
            row.extra_dhcp_opts = merge_dhcp_opts(&cur.extra_dhcp_opts, dhcp_opts(v)?);
        }
        if !row.port_security_enabled {
            if !row.security_groups.is_empty() {
                return Err(if a.contains_key("security_groups") {
                    Error::bad_request(
                        "Port security must be enabled and port must have an IP address in order to use security groups.",
                    )
                    .with_fault("PortSecurityAndIPRequiredForSecurityGroups")
                } else {
                    Error::conflict(
                        "Port has security group associated. Cannot disable port security or IP address until security group is removed",
                    )
                    .with_fault("PortSecurityPortHasSecurityGroup")
                });
            }
            if !row.allowed_address_pairs.is_empty() {
                return Err(address_pairs_need_security());
            }
        }
        let fixed = match a.get("fixed_ips") {
            Some(v) => Some(fixed_ips(v)?),
            None => None,
        };
        if let Some(f) = &fixed {
            if f.iter().any(|r| r.ip.is_some())
                && !self.check(ctx, "update_port:fixed_ips:ip_address", &tgt)
            {
                return Err(policy_refused("update_port"));
            }
        }
        row.status = self.port_status(&row);
        row.revision_number = cur.revision_number + 1;
        row.updated_at = self.now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.write_port_update(&row, fixed.as_deref()).await {
                Ok(()) => break,
                Err(Retry::Again) if attempt < ATTEMPTS => continue,
                Err(Retry::Again) => {
                    return Err(Error::conflict(
                        "Concurrent requests kept taking the addresses chosen; retry",
                    ))
                }
                Err(Retry::Fail(e)) => return Err(e),
            }
        }
        self.show_port(ctx, id).await
    }

    async fn write_port_update(
        &self,
        row: &PortRow,
        fixed: Option<&[FixedReq]>,
    ) -> Result<(), Retry> {
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        if !net_rows::lock(tx.conn(), &row.network_id).await? {
            return Err(Retry::Fail(not_found(&row.id)));
        }
        self.groups_still_exist(tx.conn(), &row.security_groups)
            .await?;
        if let Some(fixed) = fixed {
            let held = rows::allocations_of(&mut *tx.conn(), std::slice::from_ref(&row.id))
                .await?
                .remove(&row.id)
                .unwrap_or_default();
            let subnets = subnet_rows::of_network(&mut *tx.conn(), &row.network_id).await?;
            let ips = self
                .choose_addresses(tx.conn(), row, Some(fixed), &subnets, &held)
                .await?;
            self.check_fip_fixed_ip_kept(tx.conn(), &row.id, &ips)
                .await?;
            self.drop_port_forwardings_off(tx.conn(), &row.id, &ips)
                .await?;
            rows::release_all(tx.conn(), &row.id).await?;
            for (i, a) in ips.iter().enumerate() {
                rows::allocate(tx.conn(), row, a, i as i64).await?;
            }
        }
        match rows::update(tx.conn(), row).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(Retry::Fail(Error::conflict(format!(
                    "Port {} was changed by another request; retry",
                    row.id
                ))))
            }
            Err(e) if is_unique_violation(&e) => {
                return Err(Retry::Fail(mac_in_use(&row.network_id, &row.mac_address)))
            }
            Err(e) => return Err(Retry::Fail(e.into())),
        }
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    pub async fn delete_port(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let (cur, net) = self.visible_port(ctx, id).await?;
        if !self.may_change_port(ctx, &cur, net.as_ref()) {
            return Err(policy_refused("delete_port"));
        }
        self.enforce(ctx, "delete_port", &target(&cur, net.as_ref()))?;
        let fip_port = cur.device_owner == super::floatingips::DEVICE_OWNER_FLOATINGIP
            && crate::db::floatingips::get(&self.db.pool, &cur.device_id)
                .await?
                .is_some();
        if cur.device_owner == DEVICE_OWNER_ROUTER_INTF
            || cur.device_owner == DEVICE_OWNER_ROUTER_GW
            || fip_port
        {
            // neutron's L3 plugin guards router ports (prevent_l3_port_deletion).
            return Err(Error::conflict(format!(
                "Port {id} cannot be deleted directly via the port API: has device owner {}.",
                cur.device_owner
            ))
            .with_fault("ServicePortInUse"));
        }
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        self.release_port_floatingips(ctx, tx.conn(), id).await?;
        tags::clear(tx.conn(), id).await?;
        if !rows::delete(tx.conn(), id).await? {
            return Err(not_found(id));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Gives the network's DHCP port an address on `subnet` (a new
    /// DHCP-enabled subnet), creating the port with the network's first
    /// such subnet. Runs in the subnet's transaction, after it has locked
    /// the network. A subnet with no free address gets none.
    pub(crate) async fn dhcp_port_on(
        &self,
        conn: &mut crate::db::Conn,
        net: &NetworkRow,
        subnet: &SubnetRow,
    ) -> Result<()> {
        let existing = rows::of_network(conn, &net.id)
            .await?
            .into_iter()
            .find(|p| p.device_owner == DEVICE_OWNER_DHCP);
        let port = match existing {
            Some(p) => p,
            None => {
                let now = self.now();
                let mut p = PortRow {
                    id: common::ids::uuid(),
                    project_id: net.project_id.clone(),
                    network_id: net.id.clone(),
                    name: String::new(),
                    description: String::new(),
                    admin_state_up: true,
                    status: String::new(),
                    mac_address: String::new(),
                    device_id: DEVICE_ID_RESERVED_DHCP_PORT.into(),
                    device_owner: DEVICE_OWNER_DHCP.into(),
                    port_security_enabled: false,
                    binding_host_id: String::new(),
                    binding_vnic_type: "normal".into(),
                    binding_profile: json!({}),
                    security_groups: Vec::new(),
                    allowed_address_pairs: Vec::new(),
                    extra_dhcp_opts: Vec::new(),
                    revision_number: 0,
                    created_at: now,
                    updated_at: now,
                };
                p.status = self.port_status(&p);
                p.mac_address = match self.free_mac(conn, &net.id).await {
                    Ok(m) => m,
                    Err(Retry::Fail(e)) => return Err(e),
                    Err(Retry::Again) => return Err(Error::conflict("MAC taken; retry")),
                };
                rows::insert(conn, &p).await?;
                p
            }
        };
        let held = rows::allocations_of(&mut *conn, std::slice::from_ref(&port.id))
            .await?
            .remove(&port.id)
            .unwrap_or_default();
        if held.iter().any(|a| a.subnet_id == subnet.id) {
            return Ok(());
        }
        let addr = if super::subnets::is_auto_address(subnet) {
            let c = subnet_cidr(subnet)?;
            let mac = cidr::parse_mac(&port.mac_address).unwrap_or([0; 6]);
            Some(Allocation {
                subnet_id: subnet.id.clone(),
                ip_address: cidr::eui64(&c, mac).to_string(),
            })
        } else {
            match self.any_address(conn, subnet, &[], &[]).await {
                Ok(a) => a,
                Err(Retry::Fail(e)) => return Err(e),
                Err(Retry::Again) => return Err(Error::conflict("address taken; retry")),
            }
        };
        if let Some(a) = addr {
            rows::allocate(conn, &port, &a, held.len() as i64).await?;
            rows::touch(conn, &port.id, self.now()).await?;
        }
        Ok(())
    }

    /// Takes the DHCP port's address off `subnet_id` (DHCP disabled or
    /// the subnet going), deleting the port when it holds no other.
    pub(crate) async fn dhcp_port_off(
        &self,
        conn: &mut crate::db::Conn,
        network_id: &str,
        subnet_id: &str,
    ) -> Result<()> {
        for p in rows::of_network(conn, network_id).await? {
            if p.device_owner != DEVICE_OWNER_DHCP {
                continue;
            }
            rows::release_on_subnet(conn, &p.id, subnet_id).await?;
            if rows::allocation_count(conn, &p.id).await? == 0 {
                tags::clear(conn, &p.id).await?;
                rows::delete(conn, &p.id).await?;
            } else {
                rows::touch(conn, &p.id, self.now()).await?;
            }
        }
        Ok(())
    }

    /// Neutron's `_remove_subnet_ip_allocations_from_ports`: 409
    /// `SubnetInUse` while a router interface holds an address on the
    /// subnet, or (unless the subnet is SLAAC or DHCPv6-stateless, whose
    /// addresses every port gets without asking) any port but DHCP's;
    /// then the remaining addresses go, and DHCP's port with its last one.
    pub(crate) async fn release_subnet(
        &self,
        conn: &mut crate::db::Conn,
        subnet: &SubnetRow,
    ) -> Result<()> {
        let subnet_id = subnet.id.as_str();
        let in_use = || {
            Error::conflict(format!(
                "Unable to complete operation on subnet {subnet_id}: One or more ports have an IP allocation from this subnet."
            ))
            .with_fault("SubnetInUse")
        };
        let users = rows::on_subnet(conn, subnet_id).await?;
        if users
            .iter()
            .any(|(_, owner)| ROUTER_INTERFACE_OWNERS.contains(&owner.as_str()))
        {
            return Err(in_use());
        }
        let auto = super::subnets::is_auto_address(subnet);
        if !auto && users.iter().any(|(_, owner)| owner != DEVICE_OWNER_DHCP) {
            return Err(in_use());
        }
        for (port_id, owner) in &users {
            if owner != DEVICE_OWNER_DHCP {
                rows::release_on_subnet(conn, port_id, subnet_id).await?;
                rows::touch(conn, port_id, self.now()).await?;
            }
        }
        self.dhcp_port_off(conn, &subnet.network_id, subnet_id)
            .await
    }

    /// Refuses (409 `NetworkInUse`) when a port other than DHCP's is on
    /// the network, then deletes DHCP's.
    pub(crate) async fn release_network(
        &self,
        conn: &mut crate::db::Conn,
        network_id: &str,
    ) -> Result<()> {
        let ports = rows::of_network(conn, network_id).await?;
        if ports.iter().any(|p| p.device_owner != DEVICE_OWNER_DHCP) {
            return Err(Error::conflict(format!(
                "Unable to complete operation on network {network_id}. There are one or more ports still in use on the network."
            ))
            .with_fault("NetworkInUse"));
        }
        for p in ports {
            tags::clear(conn, &p.id).await?;
            rows::delete(conn, &p.id).await?;
        }
        Ok(())
    }
}

fn address_pairs_need_security() -> Error {
    Error::conflict(
        "Port Security must be enabled in order to have allowed address pairs on a port.",
    )
    .with_fault("AddressPairAndPortSecurityRequired")
}

/// neutron-lib's `DEVICE_OWNER_ROUTER_INTF`.
pub const DEVICE_OWNER_ROUTER_INTF: &str = "network:router_interface";
/// neutron-lib's `ROUTER_INTERFACE_OWNERS`.
const ROUTER_INTERFACE_OWNERS: &[&str] = &[
    DEVICE_OWNER_ROUTER_INTF,
    "network:ha_router_replicated_interface",
    "network:router_interface_distributed",
];
/// neutron-lib's `DEVICE_OWNER_ROUTER_GW`.
pub const DEVICE_OWNER_ROUTER_GW: &str = "network:router_gateway";

impl Network {
    /// A new port a router owns (its gateway or an interface), without
    /// MAC or addresses yet: ACTIVE when no data plane will report it up.
    fn router_port(
        &self,
        project_id: &str,
        network_id: &str,
        router_id: &str,
        device_owner: &str,
    ) -> PortRow {
        let now = self.now();
        PortRow {
            id: common::ids::uuid(),
            project_id: project_id.to_string(),
            network_id: network_id.to_string(),
            name: String::new(),
            description: String::new(),
            admin_state_up: true,
            // No agent reports router ports up without a data plane.
            status: if self.settings.dataplane_none {
                "ACTIVE".into()
            } else {
                "DOWN".into()
            },
            mac_address: String::new(),
            device_id: router_id.to_string(),
            device_owner: device_owner.to_string(),
            port_security_enabled: false,
            binding_host_id: String::new(),
            binding_vnic_type: "normal".into(),
            binding_profile: json!({}),
            security_groups: Vec::new(),
            allowed_address_pairs: Vec::new(),
            extra_dhcp_opts: Vec::new(),
            revision_number: 0,
            created_at: now,
            updated_at: now,
        }
    }

    /// Makes a router's gateway port on the external network `net`
    /// (locked by the caller, after its revision bump): the requested
    /// `external_fixed_ips` (the port `fixed_ips` format) or the default
    /// allocation. Like neutron's, it belongs to no project.
    pub(crate) async fn router_gateway_port(
        &self,
        conn: &mut crate::db::Conn,
        router_id: &str,
        net: &NetworkRow,
        external_fixed_ips: Option<&Value>,
    ) -> Result<(PortRow, Vec<Allocation>)> {
        let fixed = match external_fixed_ips {
            None | Some(Value::Null) => None,
            Some(v) => Some(fixed_ips(v)?),
        };
        let mut p = self.router_port("", &net.id, router_id, DEVICE_OWNER_ROUTER_GW);
        let retry = |e: Retry| match e {
            Retry::Fail(e) => e,
            Retry::Again => Error::conflict("address or MAC taken; retry"),
        };
        p.mac_address = self.free_mac(conn, &net.id).await.map_err(retry)?;
        let subnets = subnet_rows::of_network(&mut *conn, &net.id).await?;
        let ips = self
            .choose_addresses(conn, &p, fixed.as_deref(), &subnets, &[])
            .await
            .map_err(retry)?;
        if fixed.is_some() {
            for a in &ips {
                let gw = subnets
                    .iter()
                    .find(|s| s.id == a.subnet_id)
                    .and_then(|s| s.gateway_ip.as_deref());
                if gw == Some(a.ip_address.as_str()) {
                    return Err(Error::bad_request(format!(
                        "Bad router request: External IP {} is the same as the gateway IP.",
                        a.ip_address
                    ))
                    .with_fault("BadRequest"));
                }
            }
        }
        rows::insert(conn, &p).await?;
        for (i, a) in ips.iter().enumerate() {
            rows::allocate(conn, &p, a, i as i64).await?;
        }
        Ok((p, ips))
    }

    /// Makes a floating IP's port on the external network `net` (locked
    /// by the caller, after its revision bump): the requested address or
    /// subnet (the port `fixed_ips` format) or the default allocation.
    /// Like neutron's it belongs to no project, its device is the
    /// floating IP and its status is `N/A`.
    pub(crate) async fn floatingip_port(
        &self,
        conn: &mut crate::db::Conn,
        floatingip_id: &str,
        net: &NetworkRow,
        fixed_ips_req: Option<&Value>,
    ) -> Result<(PortRow, Vec<Allocation>)> {
        let fixed = match fixed_ips_req {
            None | Some(Value::Null) => None,
            Some(v) => Some(fixed_ips(v)?),
        };
        let mut p = self.router_port(
            "",
            &net.id,
            floatingip_id,
            super::floatingips::DEVICE_OWNER_FLOATINGIP,
        );
        p.status = "N/A".into();
        let retry = |e: Retry| match e {
            Retry::Fail(e) => e,
            Retry::Again => Error::conflict("address or MAC taken; retry"),
        };
        p.mac_address = self.free_mac(conn, &net.id).await.map_err(retry)?;
        let subnets = subnet_rows::of_network(&mut *conn, &net.id).await?;
        let ips = self
            .choose_addresses(conn, &p, fixed.as_deref(), &subnets, &[])
            .await
            .map_err(retry)?;
        rows::insert(conn, &p).await?;
        for (i, a) in ips.iter().enumerate() {
            rows::allocate(conn, &p, a, i as i64).await?;
        }
        Ok((p, ips))
    }

    /// Makes a router's interface port on `subnet` holding the subnet's
    /// gateway address (409 `IpAddressAlreadyAllocated` when a port has
    /// it). Runs in the router's transaction after its revision bump.
    pub(crate) async fn router_interface_port(
        &self,
        conn: &mut crate::db::Conn,
        router_id: &str,
        project_id: &str,
        subnet: &SubnetRow,
        gateway_ip: &str,
    ) -> Result<PortRow> {
        if rows::taken_in(conn, &subnet.id)
            .await?
            .iter()
            .any(|a| a == gateway_ip)
        {
            return Err(Error::conflict(format!(
                "IP address {gateway_ip} already allocated in subnet {}",
                subnet.id
            ))
            .with_fault("IpAddressAlreadyAllocated"));
        }
        let mut p = self.router_port(
            project_id,
            &subnet.network_id,
            router_id,
            DEVICE_OWNER_ROUTER_INTF,
        );
        p.mac_address = match self.free_mac(conn, &subnet.network_id).await {
            Ok(m) => m,
            Err(Retry::Fail(e)) => return Err(e),
            Err(Retry::Again) => return Err(Error::conflict("MAC taken; retry")),
        };
        rows::insert(conn, &p).await?;
        let a = Allocation {
            subnet_id: subnet.id.clone(),
            ip_address: gateway_ip.to_string(),
        };
        rows::allocate(conn, &p, &a, 0).await?;
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn candidates_start_at_the_cursor_and_stop_at_the_last_pool() {
        let pools = [(2, 4), (8, 9)];
        assert_eq!(
            candidates_from(&pools, 0).collect::<Vec<_>>(),
            vec![2, 3, 4, 8, 9]
        );
        assert_eq!(
            candidates_from(&pools, 4).collect::<Vec<_>>(),
            vec![4, 8, 9]
        );
        assert_eq!(candidates_from(&pools, 6).collect::<Vec<_>>(), vec![8, 9]);
        assert_eq!(candidates_from(&pools, 10).count(), 0);
    }

    #[test]
    fn next_free_skips_taken_and_walks_pools() {
        let taken: HashSet<u128> = [2, 3, 5].into_iter().collect();
        assert_eq!(next_free(&[(2, 6)], &taken), Some(4));
        assert_eq!(next_free(&[(2, 3), (5, 9)], &taken), Some(6));
        assert_eq!(next_free(&[(2, 3)], &taken), None);
    }

    #[test]
    fn usable_refuses_network_and_broadcast() {
        let (c, _) = Cidr::parse("10.0.0.0/24").unwrap();
        assert!(!usable(&c, c.network));
        assert!(!usable(&c, c.last()));
        assert!(usable(&c, c.network + 7));
        let (v6, _) = Cidr::parse("2001:db8::/64").unwrap();
        assert!(usable(&v6, v6.last()));
    }

    #[test]
    fn dhcp_opts_merge_replace_and_remove() {
        let cur = vec![dhcp_opt_value("tftp-server", "1.1.1.1", 4)];
        let out = merge_dhcp_opts(
            &cur,
            dhcp_opts(&json!([
                {"opt_name": "tftp-server", "opt_value": "2.2.2.2"},
                {"opt_name": "bootfile-name", "opt_value": "pxe", "ip_version": 6}
            ]))
            .unwrap(),
        );
        assert_eq!(out[0]["opt_value"], "2.2.2.2");
        assert_eq!(out[1]["ip_version"], 6);
        let out = merge_dhcp_opts(
            &out,
            dhcp_opts(&json!([{"opt_name": "tftp-server", "opt_value": null}])).unwrap(),
        );
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn address_pairs_validation() {
        let p =
            address_pairs(&json!([{"ip_address": "10.0.0.0/24"}]), "fa:16:3e:00:00:01").unwrap();
        assert_eq!(p, vec![("10.0.0.0/24".into(), "fa:16:3e:00:00:01".into())]);
        assert_eq!(
            address_pairs(&json!([{"mac_address": "fa:16:3e:00:00:01"}]), "")
                .unwrap_err()
                .message(),
            "AllowedAddressPair must contain ip_address"
        );
        assert!(address_pairs(
            &json!([{"ip_address": "10.0.0.1"}, {"ip_address": "10.0.0.1"}]),
            "fa:16:3e:00:00:01"
        )
        .is_err());
    }
}

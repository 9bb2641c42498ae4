//! Security groups and their rules: each project's `default` group
//! (created on first use with upstream's default rules), groups and rules
//! with the security-group extension's validation and messages, the
//! checks ports make on the groups they name, and deletion rules (a group
//! in use by a port, or a project's default group, stays).
//!
//! Every write bumps the revision counter first, so writers of the
//! network service run one at a time past that point: the "first use"
//! creation of a default group, duplicate-rule checks, "in use" checks and
//! quota counts all see every committed write before them.

use super::attrs::{self, show, Attrs};
use super::list::{self, attr, nullable, Attr, AttrKind};
use super::Network;
use crate::cidr::{self, Cidr};
use crate::db::security_groups::{self as rows, GroupRow, RuleRow};
use crate::db::{is_unique_violation, tags};
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use db::list::{Bind, ListQuery};
use serde_json::{json, Value};

/// Upstream's `DEFAULT_SG_DESCRIPTION`.
pub const DEFAULT_DESCRIPTION: &str = "Default security group";

/// A group with its rules and tags.
#[derive(Debug, Clone)]
pub struct GroupView {
    pub row: GroupRow,
    pub rules: Vec<RuleRow>,
    pub tags: Vec<String>,
}

pub fn not_found(id: &str) -> Error {
    Error::not_found(format!("Security group {id} does not exist"))
        .with_fault("SecurityGroupNotFound")
}

pub fn rule_not_found(id: &str) -> Error {
    Error::not_found(format!("Security group rule {id} does not exist"))
        .with_fault("SecurityGroupRuleNotFound")
}

fn in_use(id: &str) -> Error {
    Error::conflict(format!("Security Group {id} in use.")).with_fault("SecurityGroupInUse")
}

fn default_exists() -> Error {
    Error::conflict("Default security group already exists.")
        .with_fault("SecurityGroupDefaultAlreadyExists")
}

fn bad(kind: &'static str, msg: impl Into<String>) -> Error {
    Error::bad_request(msg).with_fault(kind)
}

const GROUP_KNOWN: &[&str] = &[
    "id",
    "name",
    "description",
    "project_id",
    "tenant_id",
    "stateful",
    "security_group_rules",
    "tags",
    "created_at",
    "updated_at",
    "revision_number",
];
const GROUP_POST: &[&str] = &["name", "description", "project_id", "tenant_id", "stateful"];
const GROUP_PUT: &[&str] = &["name", "description", "stateful"];

const RULE_KNOWN: &[&str] = &[
    "id",
    "project_id",
    "tenant_id",
    "security_group_id",
    "remote_group_id",
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "description",
    "created_at",
    "updated_at",
    "revision_number",
];
const RULE_POST: &[&str] = &[
    "project_id",
    "tenant_id",
    "security_group_id",
    "remote_group_id",
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "description",
];

/// What a group list filters and sorts on.
pub const GROUP_ATTRS: &[Attr] = &[
    attr("id", "id", AttrKind::Text),
    attr("name", "name", AttrKind::Text),
    attr("description", "description", AttrKind::Text),
    attr("project_id", "project_id", AttrKind::Text),
    attr("tenant_id", "project_id", AttrKind::Text),
    attr("stateful", "stateful", AttrKind::Bool),
    attr("revision_number", "revision_number", AttrKind::Int),
    attr("created_at", "created_at", AttrKind::Int),
    attr("updated_at", "updated_at", AttrKind::Int),
];

/// What a rule list filters and sorts on.
pub const RULE_ATTRS: &[Attr] = &[
    attr("id", "id", AttrKind::Text),
    attr("project_id", "project_id", AttrKind::Text),
    attr("tenant_id", "project_id", AttrKind::Text),
    attr("security_group_id", "security_group_id", AttrKind::Text),
    nullable(attr("remote_group_id", "remote_group_id", AttrKind::Text)),
    attr("direction", "direction", AttrKind::Text),
    attr("ethertype", "ethertype", AttrKind::Text),
    nullable(attr("protocol", "protocol", AttrKind::Text)),
    nullable(attr("port_range_min", "port_range_min", AttrKind::Int)),
    nullable(attr("port_range_max", "port_range_max", AttrKind::Int)),
    nullable(attr("remote_ip_prefix", "remote_ip_prefix", AttrKind::Text)),
    attr("description", "description", AttrKind::Text),
    attr("revision_number", "revision_number", AttrKind::Int),
    attr("created_at", "created_at", AttrKind::Int),
    attr("updated_at", "updated_at", AttrKind::Int),
];

pub fn target(g: &GroupRow) -> Value {
    json!({"id": g.id, "project_id": g.project_id, "tenant_id": g.project_id})
}

fn rule_target(r: &RuleRow, g: Option<&GroupRow>) -> Value {
    json!({
        "id": r.id, "project_id": r.project_id, "tenant_id": r.project_id,
        "security_group_id": r.security_group_id,
        "security_group:project_id": g.map(|g| g.project_id.clone()),
        "security_group:tenant_id": g.map(|g| g.project_id.clone()),
    })
}

/// neutron-lib's `IP_PROTOCOL_MAP`, in its order.
const PROTOCOLS: &[(&str, i64)] = &[
    ("ah", 51),
    ("dccp", 33),
    ("egp", 8),
    ("esp", 50),
    ("gre", 47),
    ("hopopt", 0),
    ("icmp", 1),
    ("igmp", 2),
    ("ip", 0),
    ("ipip", 4),
    ("ipv6-encap", 41),
    ("ipv6-frag", 44),
    ("ipv6-icmp", 58),
    ("icmpv6", 58),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("ipv6-route", 43),
    ("ospf", 89),
    ("pgm", 113),
    ("rsvp", 46),
    ("sctp", 132),
    ("tcp", 6),
    ("udp", 17),
    ("udplite", 136),
    ("vrrp", 112),
];
/// Protocols whose rules take port ranges (`SG_PORT_PROTO_NUMS`).
const PORT_PROTOCOLS: &[i64] = &[33, 132, 6, 17, 136];
/// Protocols only IPv6 carries.
const IPV6_ONLY: &[&str] = &[
    "ipv6-encap",
    "ipv6-frag",
    "ipv6-icmp",
    "icmpv6",
    "ipv6-nonxt",
    "ipv6-opts",
    "ipv6-route",
    "41",
    "44",
    "58",
    "59",
    "60",
    "43",
];

fn invalid_protocol(v: &Value) -> Error {
    let names: Vec<String> = PROTOCOLS.iter().map(|(n, _)| format!("'{n}'")).collect();
    bad(
        "SecurityGroupRuleInvalidProtocol",
        format!(
            "Security group rule protocol {} not supported. Only protocol values (None, 'any', {}) \
             and integer representations [0 to 255] are supported.",
            show(v),
            names.join(", ")
        ),
    )
}

/// Upstream's `convert_protocol`: `None` for any protocol, a number 0–255
/// as its text, a known name in lower case.
fn protocol(v: Option<&Value>) -> Result<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) if (0..=255).contains(&i) => Ok(Some(i.to_string())),
            _ => Err(invalid_protocol(&Value::Number(n.clone()))),
        },
        Some(Value::String(s)) => {
            if let Ok(i) = s.trim().parse::<i64>() {
                if (0..=255).contains(&i) {
                    return Ok(Some(s.clone()));
                }
                return Err(invalid_protocol(&Value::String(s.clone())));
            }
            let l = s.to_lowercase();
            if l == "any" {
                return Ok(None);
            }
            if PROTOCOLS.iter().any(|(n, _)| *n == l) {
                Ok(Some(l))
            } else {
                Err(invalid_protocol(&Value::String(s.clone())))
            }
        }
        Some(other) => Err(invalid_protocol(other)),
    }
}

/// The protocol's number (`_get_ip_proto_number`).
fn protocol_number(p: &str) -> Option<i64> {
    PROTOCOLS
        .iter()
        .find(|(n, _)| *n == p)
        .map(|(_, n)| *n)
        .or_else(|| p.trim().parse().ok())
}

/// `[name, number]` as the duplicate check compares protocols
/// (`_get_ip_proto_name_and_num`).
fn protocol_key(p: &str, ethertype: &str) -> String {
    let mut p = p.to_string();
    if ethertype == "IPv6" {
        if p == "icmp" || p == "icmpv6" {
            p = "ipv6-icmp".into();
        } else if p == "1" {
            p = "58".into();
        }
    }
    if let Some((_, n)) = PROTOCOLS.iter().find(|(n, _)| *n == p) {
        return format!("{p}:{n}");
    }
    // Number to name: the last name of that number, skipping the legacy
    // `icmpv6` (`IP_PROTOCOL_NUM_TO_NAME_MAP`).
    if let Ok(num) = p.parse::<i64>() {
        if let Some((name, _)) = PROTOCOLS
            .iter()
            .rev()
            .find(|(n, v)| *v == num && *n != "icmpv6")
        {
            return format!("{name}:{num}");
        }
    }
    format!("{p}:{p}")
}

fn port_value(v: Option<&Value>) -> Result<Option<i64>> {
    let bad_port = |v: &Value| {
        bad(
            "SecurityGroupInvalidPortValue",
            format!("Invalid value for port {}", show(v)),
        )
    };
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Number(n)) => match n.as_i64() {
            Some(i) if (0..=65535).contains(&i) => Ok(Some(i)),
            _ => Err(bad_port(v)),
        },
        Some(v @ Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(i) if (0..=65535).contains(&i) => Ok(Some(i)),
            _ => Err(bad_port(v)),
        },
        Some(v) => Err(bad_port(v)),
    }
}

fn ethertype(v: Option<&Value>) -> Result<String> {
    match v {
        None => Ok("IPv4".into()),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("ipv4") => Ok("IPv4".into()),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("ipv6") => Ok("IPv6".into()),
        Some(v) => Err(bad(
            "SecurityGroupRuleInvalidEtherType",
            format!(
                "Security group rule for ethertype '{}' not supported. Allowed values are \
                 ['IPv4', 'IPv6'].",
                show(v)
            ),
        )),
    }
}

/// `convert_ip_prefix_to_cidr`: the prefix with its length (a bare
/// address gets the full length); host bits are kept as given.
fn ip_prefix(v: Option<&Value>) -> Result<Option<(String, Cidr)>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => {
            let (c, _) = Cidr::parse(s).ok_or_else(|| invalid_cidr(s))?;
            let addr = s.split_once('/').map_or(s.as_str(), |(a, _)| a);
            let ip = cidr::parse_ip(addr).ok_or_else(|| invalid_cidr(s))?;
            Ok(Some((format!("{ip}/{}", c.prefixlen), c)))
        }
        Some(v) => Err(invalid_cidr(&show(v))),
    }
}

fn invalid_cidr(s: &str) -> Error {
    bad(
        "InvalidCIDR",
        format!("Invalid CIDR {s} given as IP prefix."),
    )
}

/// A validated rule request (before the groups are looked up).
#[derive(Debug, Clone)]
struct RuleReq {
    row: RuleRow,
    requested_project: Option<String>,
}

/// Validates a rule as the extension's attribute map and
/// `_validate_base_security_group_rule_attributes` do, in their order.
fn parse_rule(a: &Attrs) -> Result<RuleReq> {
    attrs::check_keys(a, RULE_KNOWN, RULE_POST, true)?;
    let required = |k: &str| {
        Error::bad_request(format!(
            "Failed to parse request. Required attribute '{k}' not specified"
        ))
    };
    let security_group_id = match a.get("security_group_id") {
        None => return Err(required("security_group_id")),
        Some(Value::String(s)) => s.clone(),
        Some(v) => {
            return Err(Error::bad_request(format!(
                "Invalid input for security_group_id. Reason: '{}' is not a valid string.",
                show(v)
            )))
        }
    };
    let direction = match a.get("direction") {
        None => return Err(required("direction")),
        Some(Value::String(s)) if s == "ingress" || s == "egress" => s.clone(),
        Some(v) => {
            return Err(Error::bad_request(format!(
                "Invalid input for direction. Reason: '{}' is not in ['ingress', 'egress'].",
                show(v)
            )))
        }
    };
    let mut proto = protocol(a.get("protocol"))?;
    let mut min = port_value(a.get("port_range_min"))?;
    let mut max = port_value(a.get("port_range_max"))?;
    let ethertype = ethertype(a.get("ethertype"))?;
    let prefix = ip_prefix(a.get("remote_ip_prefix"))?;
    let remote_group_id = match a.get("remote_group_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => return Err(not_found(&show(v))),
    };
    let description = attrs::text(a, "description", 255)?.unwrap_or_default();

    // Legacy IPv6 ICMP names and numbers become ipv6-icmp / 58.
    if ethertype == "IPv6" {
        match proto.as_deref() {
            Some("icmp") | Some("icmpv6") => proto = Some("ipv6-icmp".into()),
            Some("1") => proto = Some("58".into()),
            _ => {}
        }
    }
    // The whole port range is no range at all.
    if min == Some(1) && max == Some(65535) {
        min = None;
        max = None;
    }
    // Port ranges.
    if min.is_some() || max.is_some() {
        let Some(p) = proto.as_deref() else {
            return Err(bad(
                "SecurityGroupProtocolRequiredWithPorts",
                "Must also specify protocol if port range is given.",
            ));
        };
        let num = protocol_number(p).unwrap_or(-1);
        if PORT_PROTOCOLS.contains(&num) {
            if min == Some(0) || max == Some(0) {
                return Err(bad(
                    "SecurityGroupInvalidPortValue",
                    "Invalid value for port 0",
                ));
            }
            match (min, max) {
                (Some(lo), Some(hi)) if lo <= hi => {}
                _ => {
                    return Err(bad(
                        "SecurityGroupInvalidPortRange",
                        "For TCP/UDP protocols, port_range_min must be <= port_range_max",
                    ))
                }
            }
        } else if num == 1 || num == 58 {
            for (v, attr, field) in [
                (min, "port_range_min", "type"),
                (max, "port_range_max", "code"),
            ] {
                if let Some(v) = v {
                    if !(0..=255).contains(&v) {
                        return Err(bad(
                            "SecurityGroupInvalidIcmpValue",
                            format!(
                                "Invalid value for ICMP {field} ({attr}) {v}. It must be 0 to 255."
                            ),
                        ));
                    }
                }
            }
            if let (None, Some(code)) = (min, max) {
                return Err(bad(
                    "SecurityGroupMissingIcmpType",
                    format!(
                        "ICMP code (port-range-max) {code} is provided but ICMP type \
                         (port-range-min) is missing."
                    ),
                ));
            }
        } else {
            return Err(bad(
                "SecurityGroupInvalidProtocolForPort",
                format!(
                    "Ports cannot be specified for protocol {num}. Ports are only supported \
                     for DCCP, SCTP, TCP, UDP, UDPLITE."
                ),
            ));
        }
    }
    // The prefix's family must be the ethertype's.
    let mut remote_ip_prefix = None;
    if let Some((text, c)) = prefix {
        if ethertype != format!("IPv{}", c.version) {
            let given = a
                .get("remote_ip_prefix")
                .map(show)
                .unwrap_or_else(|| text.clone());
            return Err(bad(
                "SecurityGroupRuleParameterConflict",
                format!("Conflicting value ethertype {ethertype} for CIDR {given}"),
            ));
        }
        remote_ip_prefix = Some(text);
    }
    if let Some(p) = proto.as_deref() {
        if ethertype == "IPv4" && IPV6_ONLY.contains(&p) {
            return Err(bad(
                "SecurityGroupEthertypeConflictWithProtocol",
                format!("Invalid ethertype {ethertype} for protocol {p}."),
            ));
        }
    }
    if remote_ip_prefix.is_some() && remote_group_id.is_some() {
        return Err(bad(
            "SecurityGroupMultipleRemoteEntites",
            "Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may \
             be provided.",
        ));
    }
    Ok(RuleReq {
        row: RuleRow {
            id: common::ids::uuid(),
            project_id: String::new(),
            security_group_id,
            remote_group_id,
            direction,
            ethertype,
            protocol: proto,
            port_range_min: min,
            port_range_max: max,
            remote_ip_prefix,
            description,
            revision_number: 0,
            created_at: 0,
            updated_at: 0,
        },
        requested_project: attrs::requested_project(a)?,
    })
}

/// What makes two rules the same (`_rule_to_key`).
fn rule_key(r: &RuleRow) -> String {
    let none = "+".to_string();
    let prefix = match r.remote_ip_prefix.as_deref() {
        None | Some("0.0.0.0/0") | Some("::/0") => none.clone(),
        Some(p) => p.to_string(),
    };
    let opt = |v: Option<i64>| v.map_or(none.clone(), |v| v.to_string());
    [
        r.direction.clone(),
        r.ethertype.clone(),
        opt(r.port_range_max),
        opt(r.port_range_min),
        r.protocol
            .as_deref()
            .map_or(none.clone(), |p| protocol_key(p, &r.ethertype)),
        r.remote_group_id.clone().unwrap_or(none.clone()),
        prefix,
        r.security_group_id.clone(),
    ]
    .join("_")
}

/// The rules a new group starts with (upstream's default rule templates):
/// egress anywhere for both families, and for a default group ingress
/// from the group itself.
fn template_rules(g: &GroupRow, default: bool) -> Vec<RuleRow> {
    let mut out = Vec::new();
    for (direction, remote) in [("egress", false), ("ingress", true)] {
        if remote && !default {
            continue;
        }
        for ethertype in ["IPv4", "IPv6"] {
            out.push(RuleRow {
                id: common::ids::uuid(),
                project_id: g.project_id.clone(),
                security_group_id: g.id.clone(),
                remote_group_id: remote.then(|| g.id.clone()),
                direction: direction.into(),
                ethertype: ethertype.into(),
                protocol: None,
                port_range_min: None,
                port_range_max: None,
                remote_ip_prefix: None,
                description: String::new(),
                revision_number: 0,
                created_at: g.created_at,
                updated_at: g.created_at,
            });
        }
    }
    out
}

fn is_trusted_owner(owner: &str) -> bool {
    owner.starts_with("network:") || owner.starts_with("neutron:")
}

impl Network {
    fn group_visible(&self, ctx: &AuthContext, g: &GroupRow) -> bool {
        self.is_admin(ctx) || ctx.project_id() == Some(g.project_id.as_str())
    }

    /// The group `id` if the caller can see it, else 404.
    pub async fn visible_group(&self, ctx: &AuthContext, id: &str) -> Result<GroupRow> {
        let g = rows::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        if !self.group_visible(ctx, &g) || !self.check(ctx, "get_security_group", &target(&g)) {
            return Err(not_found(id));
        }
        Ok(g)
    }

    /// The project's default group, created (with its rules) when it does
    /// not exist yet; `None` when the caller may not create one for that
    /// project (upstream refuses to make another project's default for a
    /// non-admin).
    pub async fn ensure_default_group(
        &self,
        ctx: &AuthContext,
        project_id: &str,
    ) -> Result<Option<String>> {
        if let Some(id) = rows::default_of(&self.db.pool, project_id).await? {
            return Ok(Some(id));
        }
        if ctx.project_id() != Some(project_id) && !self.is_admin(ctx) {
            return Ok(None);
        }
        let now = self.now();
        let g = GroupRow {
            id: common::ids::uuid(),
            project_id: project_id.to_string(),
            name: "default".into(),
            description: DEFAULT_DESCRIPTION.into(),
            stateful: true,
            revision_number: 0,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        // After the bump no other network writer runs: look again.
        if let Some(id) = rows::default_of(&mut *tx.conn(), project_id).await? {
            return Ok(Some(id));
        }
        rows::insert(tx.conn(), &g).await?;
        if let Err(e) = rows::set_default(tx.conn(), project_id, &g.id).await {
            if is_unique_violation(&e) {
                drop(tx);
                return Ok(rows::default_of(&self.db.pool, project_id).await?);
            }
            return Err(e.into());
        }
        for r in template_rules(&g, true) {
            rows::insert_rule(tx.conn(), &r).await?;
        }
        tx.commit().await?;
        Ok(Some(g.id))
    }

    async fn group_views(&self, groups: Vec<GroupRow>) -> Result<Vec<GroupView>> {
        let ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
        let mut tags = tags::of(&mut *self.db.pool.acquire().await?, &ids).await?;
        let mut rules = rows::rules_of(&self.db.pool, &ids).await?;
        Ok(groups
            .into_iter()
            .map(|row| GroupView {
                tags: tags.remove(&row.id).unwrap_or_default(),
                rules: rules.remove(&row.id).unwrap_or_default(),
                row,
            })
            .collect())
    }

    /// The project whose default group a list or show makes sure of: the
    /// `project_id`/`tenant_id` filter's, else the caller's.
    fn listed_project(ctx: &AuthContext, q: &QueryMap) -> Option<String> {
        q.get("project_id")
            .or_else(|| q.get("tenant_id"))
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .or_else(|| ctx.project_id().map(str::to_string))
    }

    pub async fn show_group(&self, ctx: &AuthContext, id: &str) -> Result<GroupView> {
        if let Some(p) = ctx.project_id() {
            self.ensure_default_group(ctx, p).await?;
        }
        let g = self.visible_group(ctx, id).await?;
        let mut v = self.group_views(vec![g]).await?;
        v.pop().ok_or_else(|| not_found(id))
    }

    pub async fn list_groups(
        &self,
        ctx: &AuthContext,
        q: &QueryMap,
    ) -> Result<(Vec<GroupView>, list::Request)> {
        if let Some(p) = Self::listed_project(ctx, q) {
            self.ensure_default_group(ctx, &p).await?;
        }
        let mut base = ListQuery::new(self.db.kind, "security_groups", rows::GROUP_COLUMNS, "id");
        if !self.is_admin(ctx) {
            let project = ctx.project_id().unwrap_or("").to_string();
            base.filter("project_id = ?", [Bind::Text(project)]);
        }
        let req = list::parse(
            q,
            GROUP_ATTRS,
            base,
            "id",
            self.settings.pagination_max_limit,
        )?;
        let mut found = match rows::list(&self.db.pool, &req.query).await {
            Ok(r) => r,
            Err(db::list::ListError::MarkerNotFound(m)) => return Err(not_found(&m)),
            Err(db::list::ListError::Sql(e)) => return Err(e.into()),
        };
        if req.page_reverse {
            found.reverse();
        }
        Ok((self.group_views(found).await?, req))
    }

    pub async fn create_groups(
        &self,
        ctx: &AuthContext,
        items: Vec<Attrs>,
    ) -> Result<Vec<GroupView>> {
        let now = self.now();
        let mut planned = Vec::with_capacity(items.len());
        for a in &items {
            attrs::check_keys(a, GROUP_KNOWN, GROUP_POST, true)?;
            let project_id = self.owner(ctx, attrs::requested_project(a)?)?;
            let tgt = json!({"project_id": project_id, "tenant_id": project_id});
            self.enforce(ctx, "create_security_group", &tgt)?;
            let name = attrs::text(a, "name", 255)?.unwrap_or_default();
            if name.eq_ignore_ascii_case("default") {
                return Err(default_exists());
            }
            planned.push(GroupRow {
                id: common::ids::uuid(),
                project_id,
                name,
                description: attrs::text(a, "description", 255)?.unwrap_or_default(),
                stateful: attrs::boolean(a, "stateful")?.unwrap_or(true),
                revision_number: 0,
                created_at: now,
                updated_at: now,
            });
        }
        for g in &planned {
            self.ensure_default_group(ctx, &g.project_id).await?;
        }
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        let adding: Vec<(String, i64)> =
            planned.iter().map(|g| (g.project_id.clone(), 1)).collect();
        self.check_quota(tx.conn(), "security_group", &adding)
            .await?;
        for g in &planned {
            rows::insert(tx.conn(), g).await?;
            for r in template_rules(g, false) {
                rows::insert_rule(tx.conn(), &r).await?;
            }
        }
        tx.commit().await?;
        self.group_views(planned).await
    }

    pub async fn update_group(&self, ctx: &AuthContext, id: &str, a: Attrs) -> Result<GroupView> {
        attrs::check_keys(&a, GROUP_KNOWN, GROUP_PUT, false)?;
        let cur = self.visible_group(ctx, id).await?;
        self.enforce(ctx, "update_security_group", &target(&cur))?;
        let mut row = cur.clone();
        if let Some(name) = attrs::text(&a, "name", 255)? {
            if name.eq_ignore_ascii_case("default") {
                return Err(default_exists());
            }
            row.name = name;
        }
        if let Some(d) = attrs::text(&a, "description", 255)? {
            row.description = d;
        }
        if let Some(s) = attrs::boolean(&a, "stateful")? {
            row.stateful = s;
        }
        row.revision_number = cur.revision_number + 1;
        row.updated_at = self.now();
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        if row.stateful != cur.stateful && rows::in_use(tx.conn(), id).await? {
            return Err(in_use(id));
        }
        let is_default = !rows::defaults_among(&mut *tx.conn(), &[id.to_string()])
            .await?
            .is_empty();
        if is_default && a.contains_key("name") {
            return Err(
                Error::conflict("Updating default security group not allowed.")
                    .with_fault("SecurityGroupCannotUpdateDefault"),
            );
        }
        if !rows::update(tx.conn(), &row).await? {
            return Err(Error::conflict(format!(
                "Security group {id} was changed by another request; retry"
            )));
        }
        tx.commit().await?;
        let mut v = self.group_views(vec![row]).await?;
        v.pop().ok_or_else(|| not_found(id))
    }

    pub async fn delete_group(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let cur = self.visible_group(ctx, id).await?;
        self.enforce(ctx, "delete_security_group", &target(&cur))?;
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        if rows::in_use(tx.conn(), id).await? {
            return Err(in_use(id));
        }
        if cur.name == "default" && !self.is_admin(ctx) {
            return Err(Error::conflict(
                "Insufficient rights for removing default security group.",
            )
            .with_fault("SecurityGroupCannotRemoveDefault"));
        }
        tags::clear(tx.conn(), id).await?;
        if !rows::delete(tx.conn(), id).await? {
            return Err(not_found(id));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Whether the caller sees the rule: its own, or one in a group of
    /// the caller's project.
    fn rule_visible(&self, ctx: &AuthContext, r: &RuleRow, g: Option<&GroupRow>) -> bool {
        let own = ctx.project_id();
        self.is_admin(ctx)
            || own == Some(r.project_id.as_str())
            || g.is_some_and(|g| own == Some(g.project_id.as_str()))
    }

    async fn visible_rule(
        &self,
        ctx: &AuthContext,
        id: &str,
    ) -> Result<(RuleRow, Option<GroupRow>)> {
        let r = rows::get_rule(&self.db.pool, id)
            .await?
            .ok_or_else(|| rule_not_found(id))?;
        let g = rows::get(&self.db.pool, &r.security_group_id).await?;
        if !self.rule_visible(ctx, &r, g.as_ref())
            || !self.check(ctx, "get_security_group_rule", &rule_target(&r, g.as_ref()))
        {
            return Err(rule_not_found(id));
        }
        Ok((r, g))
    }

    pub async fn show_rule(&self, ctx: &AuthContext, id: &str) -> Result<RuleRow> {
        Ok(self.visible_rule(ctx, id).await?.0)
    }

    pub async fn list_rules(
        &self,
        ctx: &AuthContext,
        q: &QueryMap,
    ) -> Result<(Vec<RuleRow>, list::Request)> {
        let mut base = ListQuery::new(
            self.db.kind,
            "security_group_rules",
            rows::RULE_COLUMNS,
            "id",
        );
        if !self.is_admin(ctx) {
            let project = ctx.project_id().unwrap_or("").to_string();
            base.filter(
                "project_id = ? OR security_group_id IN \
                 (SELECT g.id FROM security_groups g WHERE g.project_id = ?)",
                [Bind::Text(project.clone()), Bind::Text(project)],
            );
        }
        let req = list::parse(
            q,
            RULE_ATTRS,
            base,
            "id",
            self.settings.pagination_max_limit,
        )?;
        let mut found = match rows::list_rules(&self.db.pool, &req.query).await {
            Ok(r) => r,
            Err(db::list::ListError::MarkerNotFound(m)) => return Err(rule_not_found(&m)),
            Err(db::list::ListError::Sql(e)) => return Err(e.into()),
        };
        if req.page_reverse {
            found.reverse();
        }
        Ok((found, req))
    }

    /// A group named by a rule: it must exist and belong to the rule's
    /// project (an admin may name any), else 404.
    async fn rule_group(
        &self,
        ctx: &AuthContext,
        conn: &mut crate::db::Conn,
        id: &str,
        project_id: &str,
    ) -> Result<GroupRow> {
        let g = rows::get(&mut *conn, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        if !self.is_admin(ctx) && g.project_id != project_id {
            return Err(not_found(id));
        }
        Ok(g)
    }

    /// Creates the rules of one request (bulk: all in one group and
    /// project, all or none).
    pub async fn create_rules(&self, ctx: &AuthContext, items: Vec<Attrs>) -> Result<Vec<RuleRow>> {
        let now = self.now();
        let mut planned: Vec<RuleRow> = Vec::with_capacity(items.len());
        for a in &items {
            let req = parse_rule(a)?;
            let mut row = req.row;
            row.project_id = self.owner(ctx, req.requested_project)?;
            row.created_at = now;
            row.updated_at = now;
            let tgt = json!({
                "project_id": row.project_id, "tenant_id": row.project_id,
                "security_group_id": row.security_group_id,
            });
            self.enforce(ctx, "create_security_group_rule", &tgt)?;
            if let Some(first) = planned.first() {
                if first.security_group_id != row.security_group_id {
                    return Err(bad(
                        "SecurityGroupNotSingleGroupRules",
                        "Only allowed to update rules for one security profile at a time",
                    ));
                }
                if first.project_id != row.project_id {
                    return Err(bad(
                        "SecurityGroupRulesNotSingleProject",
                        "Multiple project_ids in bulk security group rule create not allowed",
                    ));
                }
            }
            planned.push(row);
        }
        let Some(first) = planned.first().cloned() else {
            return Ok(Vec::new());
        };
        let mut keys = std::collections::HashSet::new();
        for r in &planned {
            if !keys.insert(rule_key(r)) {
                return Err(Error::conflict("Duplicate Security Group Rule in POST.")
                    .with_fault("DuplicateSecurityGroupRuleInPost"));
            }
        }
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        for r in &planned {
            if let Some(remote) = &r.remote_group_id {
                self.rule_group(ctx, tx.conn(), remote, &r.project_id)
                    .await?;
            }
        }
        self.rule_group(ctx, tx.conn(), &first.security_group_id, &first.project_id)
            .await?;
        let existing = rows::rules_of(
            &mut *tx.conn(),
            std::slice::from_ref(&first.security_group_id),
        )
        .await?
        .remove(&first.security_group_id)
        .unwrap_or_default();
        for e in &existing {
            if keys.contains(&rule_key(e)) {
                return Err(Error::conflict(format!(
                    "Security group rule already exists. Rule id is {}.",
                    e.id
                ))
                .with_fault("SecurityGroupRuleExists"));
            }
        }
        self.check_quota(
            tx.conn(),
            "security_group_rule",
            &[(first.project_id.clone(), planned.len() as i64)],
        )
        .await?;
        for r in &planned {
            rows::insert_rule(tx.conn(), r).await?;
        }
        rows::touch(tx.conn(), &first.security_group_id, now).await?;
        tx.commit().await?;
        Ok(planned)
    }

    pub async fn delete_rule(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let (r, g) = self.visible_rule(ctx, id).await?;
        self.enforce(
            ctx,
            "delete_security_group_rule",
            &rule_target(&r, g.as_ref()),
        )?;
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        if !rows::delete_rule(tx.conn(), id).await? {
            return Err(rule_not_found(id));
        }
        rows::touch(tx.conn(), &r.security_group_id, self.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The groups a new port gets: the ones asked for, which must exist
    /// and be the port's project's (404 otherwise; an admin may name any),
    /// or the project's default group when none were given and port
    /// security is on. Ports of trusted owners (`network:*`) get none
    /// unless asked.
    pub(crate) async fn port_groups(
        &self,
        ctx: &AuthContext,
        project_id: &str,
        device_owner: &str,
        requested: Option<Vec<String>>,
        port_security: bool,
    ) -> Result<Vec<String>> {
        match requested {
            Some(ids) => {
                self.check_port_groups(ctx, project_id, &ids).await?;
                Ok(ids)
            }
            None if port_security && !is_trusted_owner(device_owner) => Ok(self
                .ensure_default_group(ctx, project_id)
                .await?
                .into_iter()
                .collect()),
            None => Ok(Vec::new()),
        }
    }

    /// 404 `SecurityGroupNotFound` naming the groups that do not exist or
    /// are another project's; 409 when stateful and stateless groups mix.
    pub(crate) async fn check_port_groups(
        &self,
        ctx: &AuthContext,
        project_id: &str,
        ids: &[String],
    ) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let found = rows::get_many(&self.db.pool, ids).await?;
        let admin = self.is_admin(ctx);
        let missing: Vec<&str> = ids
            .iter()
            .filter(|id| {
                !found
                    .iter()
                    .any(|g| &g.id == *id && (admin || g.project_id == project_id))
            })
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(not_found(&missing.join(", ")));
        }
        if found.iter().any(|g| g.stateful) && found.iter().any(|g| !g.stateful) {
            return Err(Error::conflict(
                "Error Cannot apply both stateful and stateless security groups on the same \
                 port at the same time while attempting the operation.",
            )
            .with_fault("SecurityGroupConflict"));
        }
        Ok(())
    }

    /// Inside a port write: the groups still exist (a concurrent delete
    /// may have removed one since they were checked).
    pub(crate) async fn groups_still_exist(
        &self,
        conn: &mut crate::db::Conn,
        ids: &[String],
    ) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let found = rows::get_many(&mut *conn, ids).await?;
        let missing: Vec<&str> = ids
            .iter()
            .filter(|id| !found.iter().any(|g| &g.id == *id))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(not_found(&missing.join(", ")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rule(v: Value) -> Result<RuleReq> {
        parse_rule(v.as_object().unwrap())
    }

    const SG: &str = "85cc3048-abc3-43cc-89b3-377341426ac5";

    #[test]
    fn rule_validation_messages_are_upstreams() {
        let msg = |v: Value| rule(v).unwrap_err().message().to_string();
        assert_eq!(
            msg(
                json!({"security_group_id": SG, "direction": "ingress", "protocol": "tcp", "port_range_min": 70000})
            ),
            "Invalid value for port 70000"
        );
        assert_eq!(
            msg(
                json!({"security_group_id": SG, "direction": "ingress", "protocol": "tcp", "port_range_min": 30, "port_range_max": 20})
            ),
            "For TCP/UDP protocols, port_range_min must be <= port_range_max"
        );
        assert_eq!(
            msg(
                json!({"security_group_id": SG, "direction": "ingress", "protocol": "icmp", "port_range_min": 256})
            ),
            "Invalid value for ICMP type (port_range_min) 256. It must be 0 to 255."
        );
        assert_eq!(
            msg(
                json!({"security_group_id": SG, "direction": "ingress", "protocol": "icmp", "port_range_max": 3})
            ),
            "ICMP code (port-range-max) 3 is provided but ICMP type (port-range-min) is missing."
        );
        assert_eq!(
            msg(json!({"security_group_id": SG, "direction": "up"})),
            "Invalid input for direction. Reason: 'up' is not in ['ingress', 'egress']."
        );
        assert!(
            msg(json!({"security_group_id": SG, "direction": "ingress", "protocol": "bogus"}))
                .starts_with("Security group rule protocol bogus not supported.")
        );
        assert_eq!(
            msg(
                json!({"security_group_id": SG, "direction": "ingress", "remote_ip_prefix": "::/0"})
            ),
            "Conflicting value ethertype IPv4 for CIDR ::/0"
        );
        assert_eq!(
            msg(json!({"security_group_id": SG, "direction": "ingress", "port_range_min": 22})),
            "Must also specify protocol if port range is given."
        );
        let r = rule(json!({"security_group_id": SG, "direction": "ingress", "protocol": "ICMP", "ethertype": "ipv6", "remote_ip_prefix": "2001:db8::1"})).unwrap();
        assert_eq!(r.row.protocol.as_deref(), Some("ipv6-icmp"));
        assert_eq!(r.row.ethertype, "IPv6");
        assert_eq!(r.row.remote_ip_prefix.as_deref(), Some("2001:db8::1/128"));
        let r = rule(json!({"security_group_id": SG, "direction": "egress", "protocol": 6, "port_range_min": 1, "port_range_max": 65535})).unwrap();
        assert_eq!(r.row.protocol.as_deref(), Some("6"));
        assert_eq!((r.row.port_range_min, r.row.port_range_max), (None, None));
    }

    #[test]
    fn duplicate_keys_compare_protocols_by_number() {
        let a = rule(json!({"security_group_id": SG, "direction": "ingress", "protocol": "tcp"}))
            .unwrap();
        let b = rule(json!({"security_group_id": SG, "direction": "ingress", "protocol": "6", "remote_ip_prefix": "0.0.0.0/0"})).unwrap();
        assert_eq!(rule_key(&a.row), rule_key(&b.row));
        let c = rule(json!({"security_group_id": SG, "direction": "ingress", "protocol": "udp"}))
            .unwrap();
        assert_ne!(rule_key(&a.row), rule_key(&c.row));
    }
}

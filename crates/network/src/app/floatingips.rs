//! Floating IPs: visibility (own project's, everything for admins),
//! creation on a `router:external` network (the address from the same
//! IPAM, held by a project-less `network:floatingip` port), association
//! with an internal port's IPv4 address through a router whose gateway
//! is on the floating IP's network (neutron's `l3_db` rules and
//! messages), deletion, the status a data plane reports, and the guards
//! other resources need: a port going disassociates its floating IPs; a
//! router interface or gateway a floating IP needs stays.
//!
//! Every write runs after the `network` revision bump, so two requests
//! never associate one fixed address twice; the `floatingips_assoc`
//! unique index backs that up.

use super::attrs::{self, show, Attrs};
use super::list::{self, attr, nullable, unsorted, Attr, AttrKind};
use super::Network;
use crate::cidr::{self, Cidr};
use crate::db::floatingips::{self as rows, FloatingIpRow};
use crate::db::port_forwardings::{self as pf_rows, PortForwardingRow};
use crate::db::ports::{self as port_rows, Allocation, PortRow};
use crate::db::{is_unique_violation, tags};
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use db::list::{Bind, ListQuery};
use serde_json::{json, Value};
use std::net::IpAddr;

/// neutron-lib's `DEVICE_OWNER_FLOATINGIP`.
pub const DEVICE_OWNER_FLOATINGIP: &str = "network:floatingip";
/// The statuses a floating IP has (neutron-lib's `FLOATINGIP_STATUS_*`).
pub const STATUSES: &[&str] = &["ACTIVE", "DOWN", "ERROR"];

pub fn not_found(id: &str) -> Error {
    // neutron-lib's FloatingIPNotFound message has no final period.
    Error::not_found(format!("Floating IP {id} could not be found"))
        .with_fault("FloatingIPNotFound")
}

/// neutron-lib's `BadRequest(resource='floatingip', msg=...)`.
fn bad(msg: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("Bad floatingip request: {msg}.")).with_fault("BadRequest")
}

pub(crate) fn in_use_by_port_forwarding(id: &str) -> Error {
    Error::conflict(format!(
        "Floating IP {id} in use by Port Forwarding resources."
    ))
    .with_fault("FipInUseByPortForwarding")
}

pub(crate) fn already_associated(f: &FloatingIpRow, port_id: &str, fixed_ip: &str) -> Error {
    Error::conflict(format!(
        "Cannot associate floating IP {} ({}) with port {port_id} using fixed IP {fixed_ip}, as \
         that fixed IP already has a floating IP on external network {}.",
        f.floating_ip_address, f.id, f.floating_network_id
    ))
    .with_fault("FloatingIPPortAlreadyAssociated")
}

const KNOWN: &[&str] = &[
    "id",
    "floating_ip_address",
    "subnet_id",
    "floating_network_id",
    "router_id",
    "port_id",
    "fixed_ip_address",
    "project_id",
    "tenant_id",
    "status",
    "description",
    "tags",
    "port_details",
    "port_forwardings",
    "created_at",
    "updated_at",
    "revision_number",
];
const POST: &[&str] = &[
    "floating_ip_address",
    "subnet_id",
    "floating_network_id",
    "port_id",
    "fixed_ip_address",
    "project_id",
    "tenant_id",
    "description",
];
const PUT: &[&str] = &["port_id", "fixed_ip_address", "description"];

/// What a floating IP list can filter and sort on.
pub const ATTRS: &[Attr] = &[
    attr("id", "id", AttrKind::Text),
    attr("floating_ip_address", "floating_ip_address", AttrKind::Text),
    attr("floating_network_id", "floating_network_id", AttrKind::Text),
    nullable(attr("router_id", "router_id", AttrKind::Text)),
    unsorted(nullable(attr("port_id", "fixed_port_id", AttrKind::Text))),
    nullable(attr("fixed_ip_address", "fixed_ip_address", AttrKind::Text)),
    attr("project_id", "project_id", AttrKind::Text),
    attr("tenant_id", "project_id", AttrKind::Text),
    attr("status", "status", AttrKind::Text),
    attr("description", "description", AttrKind::Text),
    attr("revision_number", "revision_number", AttrKind::Int),
    attr("created_at", "created_at", AttrKind::Int),
    attr("updated_at", "updated_at", AttrKind::Int),
];

/// The attributes policy rules see for a floating IP.
pub fn target(f: &FloatingIpRow) -> Value {
    json!({
        "id": f.id,
        "project_id": f.project_id,
        "tenant_id": f.project_id,
        "floating_network_id": f.floating_network_id,
    })
}

/// neutron's `update_floatingip_status` takes these statuses only.
fn check_status(status: &str) -> Result<()> {
    if STATUSES.contains(&status) {
        return Ok(());
    }
    Err(Error::bad_request(format!(
        "Invalid input for status. Reason: {status} is not in valid_values."
    )))
}

/// A floating IP with what is rendered beside its row.
#[derive(Debug, Clone)]
pub struct FloatingIpView {
    pub row: FloatingIpRow,
    pub tags: Vec<String>,
    /// The associated port (fip-port-details).
    pub port: Option<PortRow>,
    /// Its port forwardings (expose-port-forwarding-in-fip).
    pub port_forwardings: Vec<PortForwardingRow>,
}

/// `type:uuid_or_none` (or `type:uuid` when not `nullable`).
fn uuid_attr(a: &Attrs, key: &str, nullable: bool) -> Result<Option<Option<String>>> {
    match a.get(key) {
        None => Ok(None),
        Some(Value::Null) if nullable => Ok(Some(None)),
        Some(Value::String(s)) if super::ports::is_uuid(s) => Ok(Some(Some(s.clone()))),
        Some(v) => Err(Error::bad_request(format!(
            "Invalid input for {key}. Reason: '{}' is not a valid UUID.",
            show(v)
        ))),
    }
}

/// `type:ip_address_or_none`: the address in its canonical form.
fn ip_attr(a: &Attrs, key: &str) -> Result<Option<Option<IpAddr>>> {
    match a.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if cidr::parse_ip(s).is_some() && !s.contains('/') => {
            Ok(Some(cidr::parse_ip(s)))
        }
        Some(v) => Err(Error::bad_request(format!(
            "Invalid input for {key}. Reason: '{}' is not a valid IP address.",
            show(v)
        ))),
    }
}

/// A requested association: `port_id` and maybe `fixed_ip_address`.
#[derive(Debug, Clone, Default)]
struct AssocReq {
    port_id: Option<String>,
    fixed_ip: Option<IpAddr>,
}

/// A resolved association.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Assoc {
    pub port_id: Option<String>,
    pub fixed_ip: Option<String>,
    pub router_id: Option<String>,
}

impl Network {
    /// Neutron's floating IP status: ACTIVE once the data plane serves
    /// it, which without a data plane (`dataplane = none`) is as soon as
    /// a router does; DOWN otherwise until an agent reports.
    fn fip_status(&self, router_id: Option<&str>, current: &str) -> String {
        match (router_id, self.settings.dataplane_none) {
            (None, _) => "DOWN".into(),
            (Some(_), true) => "ACTIVE".into(),
            (Some(_), false) if current.is_empty() => "DOWN".into(),
            (Some(_), false) => current.to_string(),
        }
    }

    /// The floating IP `id` if the caller can see it, else 404.
    pub async fn visible_floatingip(&self, ctx: &AuthContext, id: &str) -> Result<FloatingIpRow> {
        let f = rows::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let own = ctx.project_id() == Some(f.project_id.as_str());
        if !(self.is_admin(ctx) || own) || !self.check(ctx, "get_floatingip", &target(&f)) {
            return Err(not_found(id));
        }
        Ok(f)
    }

    async fn floatingip_views(&self, found: Vec<FloatingIpRow>) -> Result<Vec<FloatingIpView>> {
        let ids: Vec<String> = found.iter().map(|f| f.id.clone()).collect();
        let mut tags = tags::of(&mut *self.db.pool.acquire().await?, &ids).await?;
        let mut out = Vec::with_capacity(found.len());
        for row in found {
            let port = match &row.fixed_port_id {
                Some(p) => port_rows::get(&self.db.pool, p).await?,
                None => None,
            };
            let port_forwardings = pf_rows::of_floatingip(&self.db.pool, &row.id).await?;
            out.push(FloatingIpView {
                tags: tags.remove(&row.id).unwrap_or_default(),
                port,
                port_forwardings,
                row,
            });
        }
        Ok(out)
    }

    pub async fn show_floatingip(&self, ctx: &AuthContext, id: &str) -> Result<FloatingIpView> {
        let f = self.visible_floatingip(ctx, id).await?;
        let mut v = self.floatingip_views(vec![f]).await?;
        v.pop().ok_or_else(|| not_found(id))
    }

    /// A page of the floating IPs the caller can see.
    pub async fn list_floatingips(
        &self,
        ctx: &AuthContext,
        q: &QueryMap,
    ) -> Result<(Vec<FloatingIpView>, list::Request)> {
        let mut base = ListQuery::new(self.db.kind, "floatingips", rows::COLUMNS, "id");
        if !self.is_admin(ctx) {
            let project = ctx.project_id().unwrap_or("").to_string();
            base.filter("project_id = ?", [Bind::Text(project)]);
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
        Ok((self.floatingip_views(found).await?, req))
    }

    /// The association a request asks for, validated as neutron-lib's
    /// attribute map does.
    fn assoc_req(a: &Attrs) -> Result<Option<AssocReq>> {
        let port = uuid_attr(a, "port_id", true)?;
        let ip = ip_attr(a, "fixed_ip_address")?;
        if port.is_none() && ip.is_none() {
            return Ok(None);
        }
        Ok(Some(AssocReq {
            port_id: port.flatten(),
            fixed_ip: ip.flatten(),
        }))
    }

    /// A requested port must be one the caller sees (else 404), checked
    /// before the write transaction starts.
    async fn check_assoc_port(&self, ctx: &AuthContext, req: Option<&AssocReq>) -> Result<()> {
        if let Some(p) = req.and_then(|r| r.port_id.as_deref()) {
            self.visible_port(ctx, p).await?;
        }
        Ok(())
    }

    /// Neutron's `get_router_for_floatingip`: a router with an interface
    /// on the port's network and subnet and its gateway on the external
    /// network; the one whose interface holds the subnet's gateway
    /// address first.
    pub(crate) async fn router_for_floatingip(
        &self,
        conn: &mut crate::db::Conn,
        port: &PortRow,
        subnet_id: &str,
        external_network_id: &str,
    ) -> Result<Option<String>> {
        let found =
            rows::routers_for(&mut *conn, &port.network_id, subnet_id, external_network_id).await?;
        let gateway = crate::db::subnets::get(&mut *conn, subnet_id)
            .await?
            .and_then(|s| s.gateway_ip);
        if let Some(g) = gateway {
            if let Some((r, _)) = found.iter().find(|(_, ip)| *ip == g) {
                return Ok(Some(r.clone()));
            }
        }
        Ok(found.into_iter().next().map(|(r, _)| r))
    }

    /// Neutron's `_internal_fip_assoc_data` and `_get_assoc_data`: the
    /// port (the floating IP's project's, unless an admin asks), its IPv4
    /// address, and the router that connects it to `external_network_id`.
    async fn resolve_assoc(
        &self,
        ctx: &AuthContext,
        conn: &mut crate::db::Conn,
        project_id: &str,
        external_network_id: &str,
        port_id: &str,
        fixed_ip: Option<IpAddr>,
    ) -> Result<Assoc> {
        // The caller's view of the port was checked before the
        // transaction (`check_assoc_port`); read it again after the bump.
        let Some(port) = port_rows::get(&mut *conn, port_id).await? else {
            return Err(super::ports::not_found(port_id));
        };
        if port.project_id != project_id && !self.is_admin(ctx) {
            return Err(bad(format!(
                "Cannot process floating IP association with Port {port_id}, since that port \
                 is owned by a different project"
            )));
        }
        if port.device_owner == super::ports::DEVICE_OWNER_DHCP {
            // Neutron never formats this message: the placeholder is
            // printed as it is.
            return Err(bad("Port %(id)s is unable to be assigned a floating IP"));
        }
        let ips = port_rows::allocations_of(&mut *conn, std::slice::from_ref(&port.id))
            .await?
            .remove(&port.id)
            .unwrap_or_default();
        let v4: Vec<&Allocation> = ips
            .iter()
            .filter(|a| matches!(cidr::parse_ip(&a.ip_address), Some(IpAddr::V4(_))))
            .collect();
        let (ip, subnet_id) = match fixed_ip {
            Some(ip) => {
                if !ip.is_ipv4() {
                    return Err(bad(format!(
                        "Cannot process floating IP association with {ip}, since that is not \
                         an IPv4 address"
                    )));
                }
                let held = ips
                    .iter()
                    .find(|a| cidr::parse_ip(&a.ip_address) == Some(ip));
                let Some(held) = held else {
                    return Err(bad(format!("Port {port_id} does not have fixed ip {ip}")));
                };
                (held.ip_address.clone(), held.subnet_id.clone())
            }
            None => match v4.as_slice() {
                [] => {
                    return Err(bad(format!(
                        "Cannot add floating IP to port {port_id} that has no fixed IPv4 \
                         addresses"
                    )))
                }
                [one] => (one.ip_address.clone(), one.subnet_id.clone()),
                _ => {
                    return Err(bad(format!(
                        "Port {port_id} has multiple fixed IPv4 addresses.  Must provide a \
                         specific IPv4 address when assigning a floating IP"
                    )))
                }
            },
        };
        let router = self
            .router_for_floatingip(conn, &port, &subnet_id, external_network_id)
            .await?;
        let Some(router_id) = router else {
            return Err(Error::not_found(format!(
                "External network {external_network_id} is not reachable from subnet \
                 {subnet_id}.  Therefore, cannot associate Port {port_id} with a Floating IP."
            ))
            .with_fault("ExternalGatewayForFloatingIPNotFound"));
        };
        Ok(Assoc {
            port_id: Some(port.id),
            fixed_ip: Some(ip),
            router_id: Some(router_id),
        })
    }

    /// Neutron's `_check_and_get_fip_assoc` for `f` (already holding its
    /// current association) and the request; `None` keeps the current
    /// port (whose router is looked up again, as upstream does).
    async fn fip_assoc(
        &self,
        ctx: &AuthContext,
        conn: &mut crate::db::Conn,
        f: &FloatingIpRow,
        req: Option<&AssocReq>,
    ) -> Result<Assoc> {
        if let Some(r) = req {
            if r.fixed_ip.is_some() && r.port_id.is_none() {
                return Err(bad(
                    "fixed_ip_address cannot be specified without a port_id",
                ));
            }
        }
        let (port_id, fixed_ip, changing) = match req {
            Some(r) => (r.port_id.clone(), r.fixed_ip, true),
            None => (f.fixed_port_id.clone(), None, false),
        };
        let Some(port_id) = port_id else {
            // Disassociated; a floating IP with port forwardings keeps
            // the router they go through.
            let router_id = if pf_rows::of_floatingip(&mut *conn, &f.id).await?.is_empty() {
                None
            } else {
                f.router_id.clone()
            };
            return Ok(Assoc {
                router_id,
                ..Assoc::default()
            });
        };
        if changing && !pf_rows::of_floatingip(&mut *conn, &f.id).await?.is_empty() {
            return Err(in_use_by_port_forwarding(&f.id));
        }
        let fixed_ip = match (fixed_ip, changing) {
            (Some(ip), _) => Some(ip),
            // Kept association: the same fixed address.
            (None, false) => f.fixed_ip_address.as_deref().and_then(cidr::parse_ip),
            (None, true) => None,
        };
        let a = self
            .resolve_assoc(
                ctx,
                conn,
                &f.project_id,
                &f.floating_network_id,
                &port_id,
                fixed_ip,
            )
            .await?;
        if a.port_id != f.fixed_port_id {
            let ip = a.fixed_ip.clone().unwrap_or_default();
            let taken = rows::of_fixed_port(&mut *conn, &port_id)
                .await?
                .into_iter()
                .any(|o| {
                    o.id != f.id
                        && o.floating_network_id == f.floating_network_id
                        && o.fixed_ip_address.as_deref() == Some(ip.as_str())
                });
            if taken {
                return Err(already_associated(f, &port_id, &ip));
            }
        }
        Ok(a)
    }

    pub async fn create_floatingip(&self, ctx: &AuthContext, a: Attrs) -> Result<FloatingIpView> {
        attrs::check_keys(&a, KNOWN, POST, true)?;
        let Some(network_id) = uuid_attr(&a, "floating_network_id", false)?.flatten() else {
            return Err(Error::bad_request(
                "Failed to parse request. Required attribute 'floating_network_id' not specified",
            ));
        };
        let address = ip_attr(&a, "floating_ip_address")?.flatten();
        let subnet_id = uuid_attr(&a, "subnet_id", true)?.flatten();
        let assoc = Self::assoc_req(&a)?;
        let description = attrs::text(&a, "description", 255)?.unwrap_or_default();
        let project_id = self.owner(ctx, attrs::requested_project(&a)?)?;
        let tgt = json!({"project_id": project_id, "tenant_id": project_id});
        self.enforce(ctx, "create_floatingip", &tgt)?;
        if address.is_some() {
            self.enforce(ctx, "create_floatingip:floating_ip_address", &tgt)?;
        }
        let net = self.visible_network(ctx, &network_id).await?;
        if !net.router_external {
            return Err(bad(format!(
                "Network {network_id} is not a valid external network"
            )));
        }
        let subnets = crate::db::subnets::of_network(&self.db.pool, &network_id).await?;
        if !subnets.iter().any(|s| s.ip_version == 4) {
            return Err(bad(format!(
                "Network {network_id} does not contain any IPv4 subnet"
            )));
        }
        let mut fixed = serde_json::Map::new();
        if let Some(s) = &subnet_id {
            fixed.insert("subnet_id".into(), json!(s));
        }
        if let Some(ip) = &address {
            fixed.insert("ip_address".into(), json!(ip.to_string()));
        }
        let fixed = (!fixed.is_empty()).then(|| json!([fixed]));
        self.check_assoc_port(ctx, assoc.as_ref()).await?;
        let now = self.now();
        let id = common::ids::uuid();
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        self.check_quota(tx.conn(), "floatingip", &[(project_id.clone(), 1)])
            .await?;
        if !crate::db::networks::lock(tx.conn(), &network_id).await? {
            return Err(super::networks::not_found(&network_id));
        }
        let (port, ips) = self
            .floatingip_port(tx.conn(), &id, &net, fixed.as_ref())
            .await?;
        let Some(v4) = ips
            .iter()
            .find(|a| matches!(cidr::parse_ip(&a.ip_address), Some(IpAddr::V4(_))))
        else {
            return Err(Error::bad_request(format!(
                "Unable to find any IP address on external network {network_id}."
            ))
            .with_fault("ExternalIpAddressExhausted"));
        };
        let mut row = FloatingIpRow {
            id: id.clone(),
            project_id,
            floating_network_id: network_id,
            floating_port_id: port.id.clone(),
            floating_ip_address: v4.ip_address.clone(),
            fixed_port_id: None,
            fixed_ip_address: None,
            router_id: None,
            status: String::new(),
            description,
            revision_number: 0,
            created_at: now,
            updated_at: now,
        };
        let assoc = self
            .fip_assoc(ctx, tx.conn(), &row, Some(&assoc.unwrap_or_default()))
            .await?;
        row.fixed_port_id = assoc.port_id;
        row.fixed_ip_address = assoc.fixed_ip;
        row.router_id = assoc.router_id;
        row.status = self.fip_status(row.router_id.as_deref(), "");
        if let Err(e) = rows::insert(tx.conn(), &row).await {
            if is_unique_violation(&e) {
                let port = row.fixed_port_id.clone().unwrap_or_default();
                let ip = row.fixed_ip_address.clone().unwrap_or_default();
                return Err(already_associated(&row, &port, &ip));
            }
            return Err(e.into());
        }
        tx.commit().await?;
        self.show_floatingip(ctx, &id).await
    }

    pub async fn update_floatingip(
        &self,
        ctx: &AuthContext,
        id: &str,
        a: Attrs,
    ) -> Result<FloatingIpView> {
        attrs::check_keys(&a, KNOWN, PUT, false)?;
        let cur = self.visible_floatingip(ctx, id).await?;
        self.enforce(ctx, "update_floatingip", &target(&cur))?;
        let req = Self::assoc_req(&a)?;
        // `fixed_ip_address` alone keeps the port as upstream reads it:
        // the request's (absent) port is null.
        let req = req.map(|mut r| {
            if !a.contains_key("port_id") {
                r.port_id = None;
            }
            r
        });
        let description = attrs::text(&a, "description", 255)?;
        self.check_assoc_port(ctx, req.as_ref()).await?;
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        let Some(cur) = rows::get(&mut *tx.conn(), id).await? else {
            return Err(not_found(id));
        };
        let assoc = self.fip_assoc(ctx, tx.conn(), &cur, req.as_ref()).await?;
        let mut row = cur.clone();
        row.fixed_port_id = assoc.port_id;
        row.fixed_ip_address = assoc.fixed_ip;
        row.router_id = assoc.router_id;
        if row.fixed_port_id != cur.fixed_port_id || row.router_id != cur.router_id {
            row.status = self.fip_status(row.router_id.as_deref(), "");
        }
        if let Some(d) = description {
            row.description = d;
        }
        row.revision_number = cur.revision_number + 1;
        row.updated_at = self.now();
        match rows::update(tx.conn(), &row).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(Error::conflict(format!(
                    "Floating IP {id} was changed by another request; retry"
                )))
            }
            Err(e) if is_unique_violation(&e) => {
                let port = row.fixed_port_id.clone().unwrap_or_default();
                let ip = row.fixed_ip_address.clone().unwrap_or_default();
                return Err(already_associated(&row, &port, &ip));
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        self.show_floatingip(ctx, id).await
    }

    pub async fn delete_floatingip(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let cur = self.visible_floatingip(ctx, id).await?;
        self.enforce(ctx, "delete_floatingip", &target(&cur))?;
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        let Some(cur) = rows::get(&mut *tx.conn(), id).await? else {
            return Err(not_found(id));
        };
        if !pf_rows::of_floatingip(&mut *tx.conn(), id)
            .await?
            .is_empty()
        {
            return Err(in_use_by_port_forwarding(id));
        }
        tags::clear(tx.conn(), id).await?;
        rows::delete(tx.conn(), id).await?;
        port_rows::release_all(tx.conn(), &cur.floating_port_id).await?;
        tags::clear(tx.conn(), &cur.floating_port_id).await?;
        port_rows::delete(tx.conn(), &cur.floating_port_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Before an external network goes: its floating IPs that serve
    /// nothing (no port, no port forwarding) go with it, as ML2's
    /// `delete_disassociated_floatingips`; the others keep their ports,
    /// so the network stays in use.
    pub(crate) async fn delete_disassociated_floatingips(
        &self,
        conn: &mut crate::db::Conn,
        network_id: &str,
    ) -> Result<()> {
        for f in rows::of_floating_network(conn, network_id).await? {
            if f.fixed_port_id.is_some()
                || !pf_rows::of_floatingip(&mut *conn, &f.id).await?.is_empty()
            {
                continue;
            }
            tags::clear(conn, &f.id).await?;
            rows::delete(conn, &f.id).await?;
            port_rows::release_all(conn, &f.floating_port_id).await?;
            tags::clear(conn, &f.floating_port_id).await?;
            port_rows::delete(conn, &f.floating_port_id).await?;
        }
        Ok(())
    }

    /// `GET /v2.0/floatingip_pools`: the IPv4 subnets of external
    /// networks, shown as the caller's project's.
    pub async fn floatingip_pools(
        &self,
        ctx: &AuthContext,
    ) -> Result<(String, Vec<rows::PoolRow>)> {
        let project = ctx.project_id().unwrap_or("").to_string();
        self.enforce(
            ctx,
            "get_floatingip_pool",
            &json!({"project_id": project, "tenant_id": project}),
        )?;
        Ok((project, rows::pools(&self.db.pool).await?))
    }

    /// Records the status a data plane reports for a floating IP
    /// (`ACTIVE`, `DOWN` or `ERROR`, as neutron's
    /// `update_floatingip_status`); false when it is gone. The status it
    /// already has changes nothing, so the revision stays put.
    pub async fn set_floatingip_status(&self, id: &str, status: &str) -> Result<bool> {
        check_status(status)?;
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        let Some(f) = rows::get(&mut *tx.conn(), id).await? else {
            return Ok(false);
        };
        if self.write_floatingip_status(tx.conn(), &f, status).await? {
            tx.commit().await?;
        }
        Ok(true)
    }

    /// `set_floatingip_status` inside a caller's transaction (after its
    /// revision bump), for `f` as read there: true when it changed.
    pub(crate) async fn write_floatingip_status(
        &self,
        conn: &mut crate::db::Conn,
        f: &FloatingIpRow,
        status: &str,
    ) -> Result<bool> {
        check_status(status)?;
        Ok(rows::change_status(conn, &f.id, status, self.now()).await?)
    }

    /// Neutron's `disassociate_floatingips` in a port delete's
    /// transaction: the port's floating IPs lose their association (409
    /// `FipAssociated` when some belong to a project the caller cannot
    /// act for), and its port forwardings go (a floating IP left without
    /// any also loses its router).
    pub(crate) async fn release_port_floatingips(
        &self,
        ctx: &AuthContext,
        conn: &mut crate::db::Conn,
        port_id: &str,
    ) -> Result<()> {
        let now = self.now();
        let fips = rows::of_fixed_port(&mut *conn, port_id).await?;
        if !self.is_admin(ctx)
            && fips
                .iter()
                .any(|f| Some(f.project_id.as_str()) != ctx.project_id())
        {
            return Err(Error::conflict(format!(
                "Unable to complete the operation on port {port_id} because the port still has \
                 an associated floating IP."
            ))
            .with_fault("FipAssociated"));
        }
        for f in fips {
            let mut row = f.clone();
            row.fixed_port_id = None;
            row.fixed_ip_address = None;
            row.router_id = None;
            row.status = self.fip_status(None, "");
            row.revision_number = f.revision_number + 1;
            row.updated_at = now;
            rows::update(conn, &row).await?;
        }
        for pf in pf_rows::of_port(conn, port_id).await? {
            pf_rows::delete(conn, &pf.id).await?;
            if pf_rows::of_floatingip(&mut *conn, &pf.floatingip_id)
                .await?
                .is_empty()
            {
                rows::set_router(conn, &pf.floatingip_id, None, now).await?;
                rows::set_status(conn, &pf.floatingip_id, "DOWN", now).await?;
            } else {
                rows::touch(conn, &pf.floatingip_id, now).await?;
            }
        }
        Ok(())
    }

    /// Neutron's `prevent_internal_ip_change_for_fip`: a port update must
    /// keep the fixed address its floating IP is associated with.
    pub(crate) async fn check_fip_fixed_ip_kept(
        &self,
        conn: &mut crate::db::Conn,
        port_id: &str,
        new_ips: &[Allocation],
    ) -> Result<()> {
        let fips = rows::of_fixed_port(&mut *conn, port_id).await?;
        let Some(ip) = fips.first().and_then(|f| f.fixed_ip_address.clone()) else {
            return Ok(());
        };
        if new_ips.iter().any(|a| a.ip_address == ip) {
            return Ok(());
        }
        Err(Error::bad_request(format!(
            "Bad port request: Cannot update the fixed_ips of the port {port_id}, because its \
             original fixed_ip has been associated to a floating ip."
        ))
        .with_fault("BadRequest"))
    }

    /// Neutron's `_check_router_interface_not_in_use`: 409 when a
    /// floating IP the router serves is associated with (or forwards to)
    /// an address on one of `subnet_ids` held by a port on that subnet.
    pub(crate) async fn check_interface_serves_no_fip(
        &self,
        conn: &mut crate::db::Conn,
        router_id: &str,
        subnet_ids: &[String],
    ) -> Result<()> {
        let fips = rows::of_router(&mut *conn, router_id).await?;
        if fips.is_empty() {
            return Ok(());
        }
        for sid in subnet_ids {
            let Some(s) = crate::db::subnets::get(&mut *conn, sid).await? else {
                continue;
            };
            let Some((c, _)) = Cidr::parse(&s.cidr) else {
                continue;
            };
            let on_subnet: Vec<String> = port_rows::on_subnet(&mut *conn, sid)
                .await?
                .into_iter()
                .map(|(p, _)| p)
                .collect();
            let inside = |port: &str, ip: &str| {
                on_subnet.iter().any(|p| p == port)
                    && cidr::parse_ip(ip).is_some_and(|ip| c.contains_ip(ip))
            };
            let mut used = false;
            for f in &fips {
                for pf in pf_rows::of_floatingip(&mut *conn, &f.id).await? {
                    used |= inside(&pf.internal_port_id, &pf.internal_ip_address);
                }
                if let (Some(p), Some(ip)) = (&f.fixed_port_id, &f.fixed_ip_address) {
                    used |= inside(p, ip);
                }
            }
            if used {
                return Err(Error::conflict(format!(
                    "Router interface for subnet {sid} on router {router_id} cannot be deleted, \
                     as it is required by one or more floating IPs."
                ))
                .with_fault("RouterInterfaceInUseByFloatingIP"));
            }
        }
        Ok(())
    }

    /// Neutron's `_delete_current_gw_port` guard: a router's gateway on
    /// `old_network_id` cannot go (or move) while floating IPs use it.
    pub(crate) async fn check_gateway_serves_no_fip(
        &self,
        conn: &mut crate::db::Conn,
        router_id: &str,
        old_network_id: &str,
    ) -> Result<()> {
        if rows::of_router(&mut *conn, router_id).await?.is_empty() {
            return Ok(());
        }
        Err(Error::conflict(format!(
            "Gateway cannot be updated for router {router_id}, since a gateway to external \
             network {old_network_id} is required by one or more floating IPs."
        ))
        .with_fault("RouterExternalGatewayInUseByFloatingIp"))
    }
}

//! Routers: visibility (own project's, everything for admins), create,
//! update, delete while no interface is left, the external gateway (a
//! project-less port on a `router:external` network), and interfaces by
//! subnet (a port holding the subnet's gateway address).
//!
//! Interface changes run in one write transaction after the revision
//! bump, so the gateway address check and the overlap check see every
//! other writer's committed work.

use super::attrs::{self, Attrs};
use super::list::{self, attr, Attr, AttrKind};
use super::{invalid_input, Network};
use crate::cidr::Cidr;
use crate::db::ports as port_rows;
use crate::db::routers::{self as rows, RouterRow};
use crate::db::subnets::{self as subnet_rows, SubnetRow};
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use db::list::{Bind, ListQuery};
use serde_json::{json, Value};

pub fn not_found(id: &str) -> Error {
    // neutron-lib's RouterNotFound message has no final period.
    Error::not_found(format!("Router {id} could not be found")).with_fault("RouterNotFound")
}

const KNOWN: &[&str] = &[
    "id",
    "name",
    "description",
    "project_id",
    "tenant_id",
    "admin_state_up",
    "status",
    "external_gateway_info",
    "routes",
    "created_at",
    "updated_at",
    "revision_number",
    "tags",
];
const POST: &[&str] = &[
    "name",
    "description",
    "project_id",
    "tenant_id",
    "admin_state_up",
    "external_gateway_info",
];
const PUT: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "external_gateway_info",
    "routes",
];

/// neutron's default `max_routes`.
const MAX_ROUTES: usize = 30;

/// Routes as Python prints the request's list, for `InvalidRoutes`.
fn routes_text(routes: &[(String, String)]) -> String {
    let items: Vec<String> = routes
        .iter()
        .map(|(d, n)| format!("{{'destination': '{d}', 'nexthop': '{n}'}}"))
        .collect();
    format!("[{}]", items.join(", "))
}

fn bad_routes(reason: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("Invalid input for routes. Reason: {reason}."))
        .with_fault("InvalidInput")
}

/// `routes` as neutron-lib's `type:hostroutes` validator takes them.
fn routes_req(router_id: &str, v: &Value) -> Result<Vec<(String, String)>> {
    let Value::Array(items) = v else {
        return Err(bad_routes(format!(
            "Invalid data format for hostroute: '{}'",
            attrs::show(v)
        )));
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for r in items {
        let keys_ok = r.as_object().is_some_and(|o| {
            o.len() == 2 && o.contains_key("destination") && o.contains_key("nexthop")
        });
        let (true, Some(d), Some(n)) = (
            keys_ok,
            r.get("destination").and_then(Value::as_str),
            r.get("nexthop").and_then(Value::as_str),
        ) else {
            return Err(bad_routes(format!(
                "Invalid data format for hostroute: '{}'",
                attrs::show(r)
            )));
        };
        match Cidr::parse(d) {
            Some((_, true)) if d.contains('/') => {}
            _ => return Err(bad_routes(format!("'{d}' is not a valid CIDR"))),
        }
        if crate::cidr::parse_ip(n).is_none() {
            return Err(bad_routes(format!("'{n}' is not a valid IP address")));
        }
        let route = (d.to_string(), n.to_string());
        if out.contains(&route) {
            return Err(bad_routes(format!(
                "Duplicate hostroute '{{'destination': '{d}', 'nexthop': '{n}'}}'"
            )));
        }
        out.push(route);
    }
    if out.len() > MAX_ROUTES {
        return Err(Error::bad_request(format!(
            "Unable to complete operation for {router_id}. The number of routes exceeds \
             the maximum {MAX_ROUTES}."
        ))
        .with_fault("RoutesExhausted"));
    }
    Ok(out)
}

/// What a router list can filter and sort on.
pub const ATTRS: &[Attr] = &[
    attr("id", "id", AttrKind::Text),
    attr("name", "name", AttrKind::Text),
    attr("description", "description", AttrKind::Text),
    attr("project_id", "project_id", AttrKind::Text),
    attr("tenant_id", "project_id", AttrKind::Text),
    attr("admin_state_up", "admin_state_up", AttrKind::Bool),
    attr("status", "status", AttrKind::Text),
    attr("revision_number", "revision_number", AttrKind::Int),
    attr("created_at", "created_at", AttrKind::Int),
    attr("updated_at", "updated_at", AttrKind::Int),
];

/// The attributes policy rules see for a router.
pub fn target(r: &RouterRow) -> Value {
    json!({"id": r.id, "project_id": r.project_id, "tenant_id": r.project_id})
}

/// What `add_router_interface` and `remove_router_interface` answer.
#[derive(Debug, Clone)]
pub struct InterfaceInfo {
    pub router_id: String,
    pub project_id: String,
    pub port_id: String,
    /// The port's subnets; the first is the answer's `subnet_id`.
    pub subnet_ids: Vec<String>,
    pub network_id: String,
}

/// A requested `external_gateway_info`: `None` clears the gateway.
#[derive(Debug, Clone)]
struct GatewayReq {
    network_id: String,
    enable_snat: Option<bool>,
    external_fixed_ips: Option<Value>,
}

/// `external_gateway_info` as neutron's `type:dict_or_nodata` validator
/// takes it: absent → `None`; null or `{}` → clear; else a dict with the
/// required `network_id` and optional `enable_snat`, `external_fixed_ips`.
fn gateway_req(a: &Attrs) -> Result<Option<Option<GatewayReq>>> {
    let Some(v) = a.get("external_gateway_info") else {
        return Ok(None);
    };
    let o = match v {
        Value::Null => return Ok(Some(None)),
        Value::Object(o) if o.is_empty() => return Ok(Some(None)),
        Value::Object(o) => o,
        other => {
            return Err(invalid_input(format!(
                "Invalid input for external_gateway_info. Reason: '{}' is not a dictionary.",
                attrs::show(other)
            )))
        }
    };
    let bad = |reason: String| {
        invalid_input(format!(
            "Invalid input for external_gateway_info. Reason: {reason}."
        ))
    };
    let allowed = ["network_id", "enable_snat", "external_fixed_ips"];
    let mut extra: Vec<&str> = o
        .keys()
        .map(String::as_str)
        .filter(|k| !allowed.contains(k))
        .collect();
    if !extra.is_empty() {
        extra.sort_unstable();
        return Err(bad(format!(
            "Unexpected keys supplied: {}",
            extra.join(", ")
        )));
    }
    let network_id = match o.get("network_id") {
        Some(Value::String(s)) if super::ports::is_uuid(s) => s.clone(),
        Some(other) => return Err(bad(format!("'{}' is not a valid UUID", attrs::show(other)))),
        None => {
            return Err(bad(
                "Validation of dictionary's keys failed. Expected keys: {'network_id'}".into(),
            ))
        }
    };
    let enable_snat = match o.get("enable_snat") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(t)) if t.eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(t)) if t.eq_ignore_ascii_case("false") => Some(false),
        Some(other) => {
            return Err(bad(format!(
                "'{}' cannot be converted to boolean",
                attrs::show(other)
            )))
        }
    };
    Ok(Some(Some(GatewayReq {
        network_id,
        enable_snat,
        external_fixed_ips: o.get("external_fixed_ips").cloned(),
    })))
}

/// A router with its gateway as shown.
#[derive(Debug, Clone)]
pub struct RouterView {
    pub row: RouterRow,
    /// `external_gateway_info`, or None without a gateway.
    pub gateway: Option<Value>,
    pub tags: Vec<String>,
}

fn gateway_info(r: &RouterRow, port: &port_rows::PortRow, ips: &[port_rows::Allocation]) -> Value {
    let fixed: Vec<Value> = ips
        .iter()
        .map(|a| json!({"subnet_id": a.subnet_id, "ip_address": a.ip_address}))
        .collect();
    json!({
        "network_id": port.network_id,
        "enable_snat": r.enable_snat,
        "external_fixed_ips": fixed,
    })
}

/// What an interface request names.
enum Iface {
    Subnet(String),
    /// The port and, on removal, an optional subnet it must be on.
    Port(String, Option<String>),
}

/// An interface request, validated in the order of neutron's
/// `_validate_interface_info`.
fn iface_of(body: &Value, for_removal: bool) -> Result<Iface> {
    let o = body.as_object();
    let get = |k: &str| o.and_then(|o| o.get(k));
    let (port, subnet) = (get("port_id"), get("subnet_id"));
    if port.is_none() && subnet.is_none() {
        return Err(bad_router("Either subnet_id or port_id must be specified"));
    }
    for v in [port, subnet].into_iter().flatten() {
        if !v.as_str().is_some_and(super::ports::is_uuid) {
            return Err(bad_router(format!(
                "'{}' is not a valid UUID",
                attrs::show(v)
            )));
        }
    }
    if !for_removal && port.is_some() && subnet.is_some() {
        return Err(bad_router("Cannot specify both subnet-id and port-id"));
    }
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    Ok(match text(port) {
        Some(p) => Iface::Port(p, text(subnet)),
        None => Iface::Subnet(text(subnet).unwrap_or_default()),
    })
}

fn bad_router(msg: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("Bad router request: {msg}.")).with_fault("BadRequest")
}

impl Network {
    /// The router as shown: its row and gateway.
    pub async fn router_view(&self, row: RouterRow) -> Result<RouterView> {
        let tags = crate::db::tags::of(
            &mut *self.db.pool.acquire().await?,
            std::slice::from_ref(&row.id),
        )
        .await?
        .remove(&row.id)
        .unwrap_or_default();
        let Some(port) = port_rows::gateway_of(&self.db.pool, &row.id).await? else {
            return Ok(RouterView {
                row,
                gateway: None,
                tags,
            });
        };
        let ips = port_rows::allocations_of(
            &mut *self.db.pool.acquire().await?,
            std::slice::from_ref(&port.id),
        )
        .await?
        .remove(&port.id)
        .unwrap_or_default();
        let gateway = Some(gateway_info(&row, &port, &ips));
        Ok(RouterView { row, gateway, tags })
    }

    /// Checks a gateway request against policy and the network before any
    /// write: neutron's `_validate_gw_info`.
    async fn check_gateway(
        &self,
        ctx: &AuthContext,
        action: &str,
        tgt: &Value,
        g: &GatewayReq,
    ) -> Result<()> {
        if g.enable_snat.is_some() {
            self.enforce(
                ctx,
                &format!("{action}:external_gateway_info:enable_snat"),
                tgt,
            )?;
        }
        if g.external_fixed_ips.as_ref().is_some_and(|v| !v.is_null()) {
            self.enforce(
                ctx,
                &format!("{action}:external_gateway_info:external_fixed_ips"),
                tgt,
            )?;
        }
        let net = crate::db::networks::get(&self.db.pool, &g.network_id)
            .await?
            .ok_or_else(|| super::networks::not_found(&g.network_id))?;
        if !net.router_external {
            return Err(bad_router(format!(
                "Network {} is not an external network",
                g.network_id
            )));
        }
        Ok(())
    }

    /// Sets the router's gateway in its transaction: drops the old port,
    /// makes the new one on the (locked) external network.
    async fn write_gateway(
        &self,
        conn: &mut crate::db::Conn,
        router_id: &str,
        g: Option<&GatewayReq>,
    ) -> Result<()> {
        if let Some(old) = port_rows::gateway_of(&mut *conn, router_id).await? {
            if g.is_none_or(|g| g.network_id != old.network_id) {
                self.check_gateway_serves_no_fip(conn, router_id, &old.network_id)
                    .await?;
            }
            port_rows::release_all(conn, &old.id).await?;
            crate::db::tags::clear(conn, &old.id).await?;
            port_rows::delete(conn, &old.id).await?;
        }
        let Some(g) = g else {
            return Ok(());
        };
        if !crate::db::networks::lock(conn, &g.network_id).await? {
            return Err(super::networks::not_found(&g.network_id));
        }
        let Some(net) = crate::db::networks::get(&mut *conn, &g.network_id).await? else {
            return Err(super::networks::not_found(&g.network_id));
        };
        self.router_gateway_port(conn, router_id, &net, g.external_fixed_ips.as_ref())
            .await?;
        Ok(())
    }

    /// The router `id` if the caller can see it, else 404.
    pub async fn visible_router(&self, ctx: &AuthContext, id: &str) -> Result<RouterRow> {
        let r = rows::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let own = ctx.project_id() == Some(r.project_id.as_str());
        if !(self.is_admin(ctx) || own) || !self.check(ctx, "get_router", &target(&r)) {
            return Err(not_found(id));
        }
        Ok(r)
    }

    pub async fn list_routers(
        &self,
        ctx: &AuthContext,
        q: &QueryMap,
    ) -> Result<(Vec<RouterRow>, list::Request)> {
        let mut base = ListQuery::new(self.db.kind, "routers", rows::COLUMNS, "id");
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
        Ok((found, req))
    }

    pub async fn create_routers(
        &self,
        ctx: &AuthContext,
        items: Vec<Attrs>,
    ) -> Result<Vec<RouterView>> {
        let now = self.now();
        let mut planned = Vec::with_capacity(items.len());
        let mut gateways = Vec::with_capacity(items.len());
        for a in &items {
            attrs::check_keys(a, KNOWN, POST, true)?;
            let project_id = self.owner(ctx, attrs::requested_project(a)?)?;
            let tgt = json!({"project_id": project_id, "tenant_id": project_id});
            self.enforce(ctx, "create_router", &tgt)?;
            let gw = gateway_req(a)?.flatten();
            if let Some(g) = &gw {
                self.check_gateway(ctx, "create_router", &tgt, g).await?;
            }
            planned.push(RouterRow {
                id: common::ids::uuid(),
                project_id,
                name: attrs::text(a, "name", 255)?.unwrap_or_default(),
                description: attrs::text(a, "description", 255)?.unwrap_or_default(),
                admin_state_up: attrs::boolean(a, "admin_state_up")?.unwrap_or(true),
                enable_snat: gw.as_ref().and_then(|g| g.enable_snat).unwrap_or(true),
                routes: Vec::new(),
                status: "ACTIVE".into(),
                revision_number: 0,
                created_at: now,
                updated_at: now,
            });
            gateways.push(gw);
        }
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        let adding: Vec<(String, i64)> =
            planned.iter().map(|r| (r.project_id.clone(), 1)).collect();
        self.check_quota(tx.conn(), "router", &adding).await?;
        for (r, g) in planned.iter().zip(&gateways) {
            rows::insert(tx.conn(), r).await?;
            if g.is_some() {
                self.write_gateway(tx.conn(), &r.id, g.as_ref()).await?;
            }
        }
        tx.commit().await?;
        let mut out = Vec::with_capacity(planned.len());
        for r in planned {
            out.push(self.router_view(r).await?);
        }
        Ok(out)
    }

    pub async fn update_router(&self, ctx: &AuthContext, id: &str, a: Attrs) -> Result<RouterView> {
        attrs::check_keys(&a, KNOWN, PUT, false)?;
        let cur = self.visible_router(ctx, id).await?;
        self.enforce(ctx, "update_router", &target(&cur))?;
        let gw = gateway_req(&a)?;
        if let Some(Some(g)) = &gw {
            self.check_gateway(ctx, "update_router", &target(&cur), g)
                .await?;
        }
        let mut row = cur.clone();
        if let Some(g) = &gw {
            row.enable_snat = g.as_ref().and_then(|g| g.enable_snat).unwrap_or(true);
        }
        if let Some(v) = attrs::text(&a, "name", 255)? {
            row.name = v;
        }
        if let Some(v) = attrs::text(&a, "description", 255)? {
            row.description = v;
        }
        if let Some(v) = attrs::boolean(&a, "admin_state_up")? {
            row.admin_state_up = v;
        }
        let new_routes = match a.get("routes") {
            // neutron-lib converts `routes` with convert_none_to_empty_list.
            Some(Value::Null) => Some(Vec::new()),
            Some(v) => Some(routes_req(id, v)?),
            None => None,
        };
        if let Some(r) = &new_routes {
            row.routes = r.clone();
        }
        row.revision_number = cur.revision_number + 1;
        row.updated_at = self.now();
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        if !rows::update(tx.conn(), &row).await? {
            return Err(Error::conflict(format!(
                "Router {id} was changed by another request; retry"
            )));
        }
        if let Some(g) = &gw {
            self.write_gateway(tx.conn(), id, g.as_ref()).await?;
        }
        if let Some(r) = &new_routes {
            self.check_nexthops(tx.conn(), id, r).await?;
        }
        tx.commit().await?;
        self.router_view(row).await
    }

    pub async fn delete_router(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let cur = self.visible_router(ctx, id).await?;
        self.enforce(ctx, "delete_router", &target(&cur))?;
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        let attached: Vec<_> = port_rows::of_device(tx.conn(), id)
            .await?
            .into_iter()
            .filter(|p| p.device_owner == super::ports::DEVICE_OWNER_ROUTER_INTF)
            .collect();
        if !attached.is_empty() {
            let ids: Vec<&str> = attached.iter().map(|p| p.id.as_str()).collect();
            return Err(Error::conflict(format!(
                "Router {id} has ports still attached: {}",
                ids.join(", ")
            ))
            .with_fault("RouterInUse"));
        }
        // The gateway goes with the router, as neutron's delete_router.
        self.write_gateway(tx.conn(), id, None).await?;
        crate::db::tags::clear(tx.conn(), id).await?;
        if !rows::delete(tx.conn(), id).await? {
            return Err(not_found(id));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Neutron's `_validate_routes`: every nexthop on a subnet one of the
    /// router's ports is on, and none of their addresses.
    async fn check_nexthops(
        &self,
        conn: &mut crate::db::Conn,
        router_id: &str,
        routes: &[(String, String)],
    ) -> Result<()> {
        let ports = port_rows::of_device(conn, router_id).await?;
        let ids: Vec<String> = ports.iter().map(|p| p.id.clone()).collect();
        let held = port_rows::allocations_of(&mut *conn, &ids).await?;
        let mut cidrs = Vec::new();
        let mut ips = Vec::new();
        for a in held.values().flatten() {
            if let Some(s) = subnet_rows::get(&mut *conn, &a.subnet_id).await? {
                if let Some((c, _)) = Cidr::parse(&s.cidr) {
                    cidrs.push(c);
                }
            }
            if let Some(ip) = crate::cidr::parse_ip(&a.ip_address) {
                ips.push(ip);
            }
        }
        for (_, nexthop) in routes {
            let Some(ip) = crate::cidr::parse_ip(nexthop) else {
                continue;
            };
            let invalid = |reason: &str| {
                Error::bad_request(format!(
                    "Invalid format for routes: {}, {reason}",
                    routes_text(routes)
                ))
                .with_fault("InvalidRoutes")
            };
            if !cidrs.iter().any(|c| c.contains_ip(ip)) {
                return Err(invalid("the nexthop is not connected with router"));
            }
            if ips.contains(&ip) {
                return Err(invalid("the nexthop is used by router"));
            }
        }
        Ok(())
    }

    /// Neutron's `_check_for_dup_router_subnets`: 400 when the router
    /// already has a port on one of `new`, or one of them overlaps a
    /// subnet it has a port on.
    async fn check_dup_subnets(
        &self,
        conn: &mut crate::db::Conn,
        router_id: &str,
        new: &[SubnetRow],
    ) -> Result<()> {
        let ports = port_rows::of_device(conn, router_id).await?;
        let ids: Vec<String> = ports.iter().map(|p| p.id.clone()).collect();
        let held = port_rows::allocations_of(&mut *conn, &ids).await?;
        for a in held.values().flatten() {
            if new.iter().any(|s| s.id == a.subnet_id) {
                return Err(bad_router(format!(
                    "Router already has a port on subnet {}",
                    a.subnet_id
                )));
            }
        }
        for a in held.values().flatten() {
            let Some(other) = subnet_rows::get(&mut *conn, &a.subnet_id).await? else {
                continue;
            };
            let Some((oc, _)) = Cidr::parse(&other.cidr) else {
                continue;
            };
            for s in new {
                let Some((nc, _)) = Cidr::parse(&s.cidr) else {
                    return Err(invalid_input(format!("bad cidr {}", s.cidr)));
                };
                if oc.overlaps(&nc) {
                    return Err(bad_router(format!(
                        "Cidr {} of subnet {} overlaps with cidr {} of subnet {}",
                        s.cidr, s.id, other.cidr, other.id
                    )));
                }
            }
        }
        Ok(())
    }

    pub async fn add_router_interface(
        &self,
        ctx: &AuthContext,
        id: &str,
        body: &Value,
    ) -> Result<InterfaceInfo> {
        let router = self.visible_router(ctx, id).await?;
        self.enforce(ctx, "add_router_interface", &target(&router))?;
        let subnet_id = match iface_of(body, false)? {
            Iface::Subnet(s) => s,
            Iface::Port(p, _) => return self.add_interface_by_port(ctx, &router, &p).await,
        };
        let (subnet, _) = self.visible_subnet(ctx, &subnet_id).await?;
        let Some(gateway_ip) = subnet.gateway_ip.clone() else {
            return Err(bad_router(
                "Subnet for router interface must have a gateway IP",
            ));
        };
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        if rows::get(&mut *tx.conn(), id).await?.is_none() {
            return Err(not_found(id));
        }
        self.check_dup_subnets(tx.conn(), id, std::slice::from_ref(&subnet))
            .await?;
        let port = self
            .router_interface_port(tx.conn(), id, &router.project_id, &subnet, &gateway_ip)
            .await?;
        rows::touch(tx.conn(), id, self.now()).await?;
        tx.commit().await?;
        Ok(InterfaceInfo {
            router_id: id.to_string(),
            project_id: router.project_id,
            port_id: port.id,
            subnet_ids: vec![subnet.id],
            network_id: subnet.network_id,
        })
    }

    /// Neutron's `_add_interface_by_port`: an unattached port of the
    /// caller's with fixed IPs (at most one IPv4 subnet) becomes the
    /// router's interface.
    async fn add_interface_by_port(
        &self,
        ctx: &AuthContext,
        router: &RouterRow,
        port_id: &str,
    ) -> Result<InterfaceInfo> {
        let (port, _) = self.visible_port(ctx, port_id).await?;
        if !self.is_admin(ctx) && port.project_id != router.project_id {
            return Err(super::ports::not_found(port_id));
        }
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        if rows::get(&mut *tx.conn(), &router.id).await?.is_none() {
            return Err(not_found(&router.id));
        }
        // Checked again after the bump so two routers cannot take it.
        let Some(mut port) = port_rows::get(&mut *tx.conn(), &port.id).await? else {
            return Err(super::ports::not_found(port_id));
        };
        if !port.device_id.is_empty() {
            return Err(Error::conflict(format!(
                "Unable to complete operation on port {} for network {}. Port already has \
                 an attached device {}.",
                port.id, port.network_id, port.device_id
            ))
            .with_fault("PortInUse"));
        }
        let ips = port_rows::allocations_of(&mut *tx.conn(), std::slice::from_ref(&port.id))
            .await?
            .remove(&port.id)
            .unwrap_or_default();
        if ips.is_empty() {
            return Err(bad_router("Router port must have at least one fixed IP"));
        }
        let mut subnets: Vec<SubnetRow> = Vec::new();
        for a in &ips {
            if subnets.iter().any(|s| s.id == a.subnet_id) {
                continue;
            }
            if let Some(s) = subnet_rows::get(&mut *tx.conn(), &a.subnet_id).await? {
                subnets.push(s);
            }
        }
        self.check_dup_subnets(tx.conn(), &router.id, &subnets)
            .await?;
        if subnets.iter().filter(|s| s.ip_version == 4).count() > 1 {
            return Err(bad_router(
                "Cannot have multiple IPv4 subnets on router port",
            ));
        }
        port.device_id = router.id.clone();
        port.device_owner = super::ports::DEVICE_OWNER_ROUTER_INTF.into();
        // No agent reports router ports up without a data plane.
        if self.settings.dataplane_none {
            port.status = "ACTIVE".into();
        }
        port.revision_number += 1;
        port.updated_at = self.now();
        if !port_rows::update(tx.conn(), &port).await? {
            return Err(Error::conflict(format!(
                "Port {port_id} was changed by another request; retry"
            )));
        }
        rows::touch(tx.conn(), &router.id, self.now()).await?;
        tx.commit().await?;
        Ok(InterfaceInfo {
            router_id: router.id.clone(),
            project_id: router.project_id.clone(),
            port_id: port.id,
            subnet_ids: subnets.into_iter().map(|s| s.id).collect(),
            network_id: port.network_id,
        })
    }

    pub async fn remove_router_interface(
        &self,
        ctx: &AuthContext,
        id: &str,
        body: &Value,
    ) -> Result<InterfaceInfo> {
        let router = self.visible_router(ctx, id).await?;
        self.enforce(ctx, "remove_router_interface", &target(&router))?;
        let (by_port, subnet_id) = match iface_of(body, true)? {
            Iface::Subnet(s) => (None, Some(s)),
            Iface::Port(p, s) => (Some(p), s),
        };
        let subnet = match &subnet_id {
            Some(s) => Some(self.visible_subnet(ctx, s).await?.0),
            None => None,
        };
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        let ports: Vec<_> = port_rows::of_device(tx.conn(), id)
            .await?
            .into_iter()
            .filter(|p| p.device_owner == super::ports::DEVICE_OWNER_ROUTER_INTF)
            .collect();
        let ids: Vec<String> = ports.iter().map(|p| p.id.clone()).collect();
        let held = port_rows::allocations_of(&mut *tx.conn(), &ids).await?;
        let port = match (&by_port, &subnet) {
            (Some(p), _) => {
                let Some(port) = ports.iter().find(|x| &x.id == p) else {
                    return Err(Error::not_found(format!(
                        "Router {id} does not have an interface with id {p}"
                    ))
                    .with_fault("RouterInterfaceNotFound"));
                };
                if let Some(s) = &subnet {
                    let on = held
                        .get(p)
                        .is_some_and(|a| a.iter().any(|a| a.subnet_id == s.id));
                    if !on {
                        return Err(Error::bad_request(format!(
                            "Subnet on port {p} does not match the requested subnet {}.",
                            s.id
                        ))
                        .with_fault("SubnetMismatchForPort"));
                    }
                }
                port.clone()
            }
            (None, Some(s)) => {
                let found = ports.iter().find(|x| {
                    held.get(&x.id)
                        .is_some_and(|a| a.iter().any(|a| a.subnet_id == s.id))
                });
                let Some(port) = found else {
                    return Err(Error::not_found(format!(
                        "Router {id} has no interface on subnet {}",
                        s.id
                    ))
                    .with_fault("RouterInterfaceNotFoundForSubnet"));
                };
                port.clone()
            }
            (None, None) => {
                return Err(bad_router("Either subnet_id or port_id must be specified"))
            }
        };
        let mut subnet_ids: Vec<String> = Vec::new();
        for a in held.get(&port.id).into_iter().flatten() {
            if !subnet_ids.contains(&a.subnet_id) {
                subnet_ids.push(a.subnet_id.clone());
            }
        }
        // extraroute's _confirm_router_interface_not_in_use.
        let routes = rows::get(&mut *tx.conn(), id)
            .await?
            .map(|r| r.routes)
            .unwrap_or_default();
        for sid in &subnet_ids {
            let Some(s) = subnet_rows::get(&mut *tx.conn(), sid).await? else {
                continue;
            };
            let Some((c, _)) = Cidr::parse(&s.cidr) else {
                continue;
            };
            let used = routes
                .iter()
                .filter_map(|(_, n)| crate::cidr::parse_ip(n))
                .any(|ip| c.contains_ip(ip));
            if used {
                return Err(Error::conflict(format!(
                    "Router interface for subnet {sid} on router {id} cannot be deleted, as it \
                     is required by one or more routes."
                ))
                .with_fault("RouterInterfaceInUseByRoute"));
            }
        }
        self.check_interface_serves_no_fip(tx.conn(), id, &subnet_ids)
            .await?;
        port_rows::release_all(tx.conn(), &port.id).await?;
        crate::db::tags::clear(tx.conn(), &port.id).await?;
        port_rows::delete(tx.conn(), &port.id).await?;
        rows::touch(tx.conn(), id, self.now()).await?;
        tx.commit().await?;
        Ok(InterfaceInfo {
            router_id: id.to_string(),
            project_id: router.project_id,
            port_id: port.id,
            subnet_ids,
            network_id: port.network_id,
        })
    }
}

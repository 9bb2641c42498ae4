//! Port forwardings (`floating-ip-port-forwarding` with its
//! `description`): rules under a floating IP that has no port
//! association, forwarding one external port and protocol to an IPv4
//! address and port of an internal port behind a router whose gateway is
//! on the floating IP's network. The floating IP takes that router while
//! it has rules. Validation, conflicts and messages are neutron's
//! `pf_plugin`'s.
//!
//! Every write runs after the `network` revision bump; the table's unique
//! indexes back the collision checks up.

use super::attrs::{self, show, Attrs};
use super::floatingips as fips;
use super::list::{self, attr, unsorted, Attr, AttrKind};
use super::Network;
use crate::cidr;
use crate::db::floatingips::{self as fip_rows, FloatingIpRow};
use crate::db::is_unique_violation;
use crate::db::port_forwardings::{self as rows, PortForwardingRow};
use crate::db::ports::{self as port_rows, Allocation};
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use db::list::{Bind, ListQuery};
use serde_json::{json, Value};
use std::net::IpAddr;

/// neutron-lib's `IPTABLES_PROTOCOL_MAP` keys: what `protocol` takes.
pub const PROTOCOLS: &[&str] = &["dccp", "icmp", "ipv6-icmp", "sctp", "tcp", "udp"];
/// neutron-lib's `LONG_DESCRIPTION_FIELD_SIZE`.
const DESCRIPTION_MAX: usize = 1024;

pub fn not_found(id: &str) -> Error {
    Error::not_found(format!("Port Forwarding {id} could not be found."))
        .with_fault("PortForwardingNotFound")
}

/// neutron-lib's `BadRequest(resource='port_forwarding', msg=...)`.
fn bad(msg: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("Bad port_forwarding request: {msg}.")).with_fault("BadRequest")
}

const KNOWN: &[&str] = &[
    "id",
    "project_id",
    "tenant_id",
    "external_port",
    "internal_port",
    "internal_ip_address",
    "protocol",
    "internal_port_id",
    "description",
];
const POST: &[&str] = &[
    "project_id",
    "tenant_id",
    "external_port",
    "internal_port",
    "internal_ip_address",
    "protocol",
    "internal_port_id",
    "description",
];
const PUT: &[&str] = &[
    "external_port",
    "internal_port",
    "internal_ip_address",
    "protocol",
    "internal_port_id",
    "description",
];
/// What upstream requires on create, in its attribute map's order.
const REQUIRED: &[&str] = &[
    "external_port",
    "internal_port",
    "internal_ip_address",
    "protocol",
    "internal_port_id",
];

/// What a port forwarding list can filter and sort on
/// (`internal_ip_address` and `internal_port` are refused as filters).
pub const ATTRS: &[Attr] = &[
    attr("id", "id", AttrKind::Text),
    attr("external_port", "external_port", AttrKind::Int),
    attr("protocol", "protocol", AttrKind::Text),
    attr("internal_port_id", "internal_port_id", AttrKind::Text),
    unsorted(attr("description", "description", AttrKind::Text)),
];

/// The attributes policy rules see: the rule's project is its floating
/// IP's (`ext_parent_*`).
fn target(f: &FloatingIpRow) -> Value {
    json!({
        "project_id": f.project_id,
        "tenant_id": f.project_id,
        "ext_parent_project_id": f.project_id,
        "ext_parent_tenant_id": f.project_id,
    })
}

/// A port number as neutron's `convert_to_int` and `type:range` (1 to
/// 65535) take it.
fn port_number(a: &Attrs, key: &str) -> Result<Option<i64>> {
    let Some(n) = attrs::integer(a, key, false)?.flatten() else {
        return Ok(None);
    };
    if n < 1 {
        return Err(Error::bad_request(format!(
            "Invalid input for {key}. Reason: '{n}' is too small - must be at least '1'."
        )));
    }
    if n > 65535 {
        return Err(Error::bad_request(format!(
            "Invalid input for {key}. Reason: '{n}' is too large - must be no larger than \
             '65535'."
        )));
    }
    Ok(Some(n))
}

/// `protocol` as `convert_to_protocol` then `type:values` check it.
fn protocol(a: &Attrs) -> Result<Option<String>> {
    let Some(v) = a.get("protocol") else {
        return Ok(None);
    };
    let text = show(v);
    let name = matches!(v, Value::String(_)) && PROTOCOLS.contains(&text.to_lowercase().as_str());
    let number = attrs::to_int(v).is_some_and(|n| (0..=255).contains(&n));
    if !name && !number {
        return Err(super::invalid_input(format!(
            "IP protocol '{text}' is not supported. Only protocol names and their integer \
             representation (0 to 255) are supported"
        )));
    }
    if !PROTOCOLS.contains(&text.as_str()) {
        return Err(Error::bad_request(format!(
            "Invalid input for protocol. Reason: {text} is not in valid_values."
        )));
    }
    Ok(Some(text))
}

/// `internal_ip_address` (`type:ip_address`).
fn ip_address(a: &Attrs) -> Result<Option<String>> {
    match a.get("internal_ip_address") {
        None => Ok(None),
        Some(Value::String(s)) if !s.contains('/') && cidr::parse_ip(s).is_some() => {
            Ok(cidr::parse_ip(s).map(|ip| ip.to_string()))
        }
        Some(v) => Err(Error::bad_request(format!(
            "Invalid input for internal_ip_address. Reason: '{}' is not a valid IP address.",
            show(v)
        ))),
    }
}

fn internal_port_id(a: &Attrs) -> Result<Option<String>> {
    match a.get("internal_port_id") {
        None => Ok(None),
        Some(Value::String(s)) if super::ports::is_uuid(s) => Ok(Some(s.clone())),
        Some(v) => Err(Error::bad_request(format!(
            "Invalid input for internal_port_id. Reason: '{}' is not a valid UUID.",
            show(v)
        ))),
    }
}

/// A port's fixed IPs as Python prints the list of dicts.
fn fixed_ips_text(ips: &[&Allocation]) -> String {
    let items: Vec<String> = ips
        .iter()
        .map(|a| {
            format!(
                "{{'subnet_id': '{}', 'ip_address': '{}'}}",
                a.subnet_id, a.ip_address
            )
        })
        .collect();
    format!("[{}]", items.join(", "))
}

fn duplicate(params: &str) -> Error {
    bad(format!(
        "A duplicate port forwarding entry with same attributes already exists, conflicting \
         values are {params}"
    ))
}

/// `_check_collision` for single ports: the rule ranges print as `n:n`.
fn collision(key: &str, existing: i64, new: i64) -> Error {
    bad(format!(
        "There is a port collision with the {key}. The following ranges collide: \
         {existing}:{existing} and {new}:{new}"
    ))
}

impl Network {
    /// The floating IP a rule hangs under (404 `FloatingIPNotFound`) and
    /// the policy check of `action` on it.
    async fn pf_parent(
        &self,
        ctx: &AuthContext,
        fip_id: &str,
        action: &str,
    ) -> Result<FloatingIpRow> {
        let f = self.visible_floatingip(ctx, fip_id).await?;
        self.enforce(ctx, action, &target(&f))?;
        Ok(f)
    }

    pub async fn list_port_forwardings(
        &self,
        ctx: &AuthContext,
        fip_id: &str,
        q: &QueryMap,
    ) -> Result<(Vec<PortForwardingRow>, list::Request)> {
        self.pf_parent(ctx, fip_id, "get_floatingip_port_forwarding")
            .await?;
        for key in ["internal_ip_address", "internal_port"] {
            if q.get(key).is_some() {
                return Err(Error::bad_request(format!(
                    "Port Forwarding filter {key} is not supported."
                ))
                .with_fault("PortForwardingNotSupportFilterField"));
            }
        }
        let mut base = ListQuery::new(self.db.kind, "port_forwardings", rows::COLUMNS, "id");
        base.filter("floatingip_id = ?", [Bind::Text(fip_id.to_string())]);
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

    pub async fn show_port_forwarding(
        &self,
        ctx: &AuthContext,
        fip_id: &str,
        id: &str,
    ) -> Result<PortForwardingRow> {
        self.pf_parent(ctx, fip_id, "get_floatingip_port_forwarding")
            .await?;
        match rows::get(&self.db.pool, id).await? {
            Some(p) if p.floatingip_id == fip_id => Ok(p),
            _ => Err(not_found(id)),
        }
    }

    /// `_check_port_has_binding_floating_ip`: a port with an associated
    /// floating IP takes no port forwarding.
    async fn check_port_has_no_fip(
        &self,
        conn: &mut crate::db::Conn,
        port_id: &str,
        internal_ip: &str,
    ) -> Result<()> {
        if let Some(f) = fip_rows::of_fixed_port(&mut *conn, port_id)
            .await?
            .into_iter()
            .next()
        {
            return Err(Error::conflict(format!(
                "Cannot create port forwarding to floating IP {} ({}) with port {port_id} using \
                 fixed IP {internal_ip}, as that port already has a binding floating IP.",
                f.floating_ip_address, f.id
            ))
            .with_fault("PortHasBindingFloatingIP"));
        }
        Ok(())
    }

    /// `_check_port_collisions` for single ports: another rule of the
    /// floating IP on the same protocol and external port, or another rule
    /// to the same internal socket, is a 400.
    async fn check_pf_collisions(
        &self,
        conn: &mut crate::db::Conn,
        pf: &PortForwardingRow,
    ) -> Result<()> {
        let same_port = rows::of_port(&mut *conn, &pf.internal_port_id).await?;
        for o in same_port.iter().filter(|o| o.id != pf.id) {
            if o.protocol == pf.protocol
                && o.internal_ip_address == pf.internal_ip_address
                && o.internal_port == pf.internal_port
            {
                return Err(collision(
                    "internal_port_range",
                    o.internal_port,
                    pf.internal_port,
                ));
            }
        }
        for o in rows::of_floatingip(&mut *conn, &pf.floatingip_id).await? {
            if o.id != pf.id && o.protocol == pf.protocol && o.external_port == pf.external_port {
                return Err(collision(
                    "external_port_range",
                    o.external_port,
                    pf.external_port,
                ));
            }
        }
        Ok(())
    }

    /// `_find_a_router_for_fip_port_forwarding`: the internal address
    /// (the port's first IPv4 one when not given) and the router that
    /// reaches the floating IP's network from its subnet.
    async fn pf_router(
        &self,
        conn: &mut crate::db::Conn,
        f: &FloatingIpRow,
        port_id: &str,
        internal_ip: Option<&str>,
    ) -> Result<(String, String)> {
        let Some(port) = port_rows::get(&mut *conn, port_id).await? else {
            return Err(super::ports::not_found(port_id));
        };
        let ips = port_rows::allocations_of(&mut *conn, std::slice::from_ref(&port.id))
            .await?
            .remove(&port.id)
            .unwrap_or_default();
        let v4: Vec<&Allocation> = ips
            .iter()
            .filter(|a| matches!(cidr::parse_ip(&a.ip_address), Some(IpAddr::V4(_))))
            .collect();
        let Some(first) = v4.first() else {
            return Err(bad(format!(
                "Requested internal port {port_id} must allocate an IPv4 address at least."
            )));
        };
        let (ip, subnet_id) = match internal_ip {
            None => (first.ip_address.clone(), first.subnet_id.clone()),
            Some(want) => match v4.iter().find(|a| a.ip_address == want) {
                Some(a) => (a.ip_address.clone(), a.subnet_id.clone()),
                None => {
                    return Err(bad(format!(
                        "Requested internal IP address {want} is not suitable for internal \
                         neutron port {port_id}, as its fixed_ips are {}",
                        fixed_ips_text(&v4)
                    )))
                }
            },
        };
        let router = self
            .router_for_floatingip(conn, &port, &subnet_id, &f.floating_network_id)
            .await?;
        let Some(router) = router else {
            return Err(bad(format!(
                "External network {} is not reachable from subnet {subnet_id}. Cannot set Port \
                 forwarding for port {port_id} with Floating IP {}",
                f.floating_network_id, f.id
            )));
        };
        Ok((router, ip))
    }

    /// `_check_router_match`: a floating IP already going through another
    /// router cannot forward to a port behind this one.
    async fn check_pf_router_match(
        &self,
        conn: &mut crate::db::Conn,
        f: &FloatingIpRow,
        router_id: &str,
        pf: &PortForwardingRow,
    ) -> Result<()> {
        let Some(current) = f.router_id.as_deref().filter(|r| *r != router_id) else {
            return Ok(());
        };
        let same = rows::of_floatingip(&mut *conn, &f.id)
            .await?
            .into_iter()
            .any(|o| {
                o.internal_ip_address == pf.internal_ip_address
                    && o.internal_port == pf.internal_port
            });
        Err(if same {
            bad(format!(
                "Floating IP {} with params: internal_ip_address: {}, internal_port: {} \
                 already exists",
                f.id, pf.internal_ip_address, pf.internal_port
            ))
        } else {
            bad(format!(
                "The Floating IP {} had been set on router {current}, the internal Neutron port \
                 {} can not reach it",
                f.id, pf.internal_port_id
            ))
        })
    }

    /// The internal port must be one the caller sees (else 404).
    async fn check_internal_port(&self, ctx: &AuthContext, port_id: Option<&str>) -> Result<()> {
        if let Some(p) = port_id {
            self.visible_port(ctx, p).await?;
        }
        Ok(())
    }

    pub async fn create_port_forwarding(
        &self,
        ctx: &AuthContext,
        fip_id: &str,
        a: Attrs,
    ) -> Result<PortForwardingRow> {
        attrs::check_keys(&a, KNOWN, POST, true)?;
        for key in REQUIRED {
            if !a.contains_key(*key) {
                return Err(Error::bad_request(format!(
                    "Failed to parse request. Required attribute '{key}' not specified"
                )));
            }
        }
        let external_port = port_number(&a, "external_port")?.unwrap_or_default();
        let internal_port = port_number(&a, "internal_port")?.unwrap_or_default();
        let internal_ip = ip_address(&a)?.unwrap_or_default();
        let protocol = protocol(&a)?.unwrap_or_default();
        let port_id = internal_port_id(&a)?.unwrap_or_default();
        let description = attrs::text(&a, "description", DESCRIPTION_MAX)?.unwrap_or_default();
        let f = self
            .pf_parent(ctx, fip_id, "create_floatingip_port_forwarding")
            .await?;
        if let Some(p) = attrs::requested_project(&a)? {
            if p != f.project_id {
                // The rule's project is its floating IP's.
                self.owner(ctx, Some(p))?;
            }
        }
        self.check_internal_port(ctx, Some(&port_id)).await?;
        let now = self.now();
        let mut pf = PortForwardingRow {
            id: common::ids::uuid(),
            floatingip_id: fip_id.to_string(),
            internal_port_id: port_id.clone(),
            protocol,
            internal_ip_address: internal_ip,
            internal_port,
            external_port,
            description,
            revision_number: 0,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        self.check_pf_collisions(tx.conn(), &pf).await?;
        self.check_port_has_no_fip(tx.conn(), &port_id, &pf.internal_ip_address)
            .await?;
        let Some(f) = fip_rows::get(&mut *tx.conn(), &f.id).await? else {
            return Err(fips::not_found(fip_id));
        };
        if f.fixed_port_id.is_some() {
            return Err(fips::already_associated(
                &f,
                &port_id,
                &pf.internal_ip_address,
            ));
        }
        let (router_id, ip) = self
            .pf_router(tx.conn(), &f, &port_id, Some(&pf.internal_ip_address))
            .await?;
        pf.internal_ip_address = ip;
        self.check_pf_router_match(tx.conn(), &f, &router_id, &pf)
            .await?;
        if let Err(e) = rows::insert(tx.conn(), &pf).await {
            if is_unique_violation(&e) {
                return Err(duplicate(&format!(
                    "{{'floatingip_id': '{}', 'external_port': {}, 'protocol': '{}'}}",
                    pf.floatingip_id, pf.external_port, pf.protocol
                )));
            }
            return Err(e.into());
        }
        if f.router_id.is_none() {
            fip_rows::set_router(tx.conn(), &f.id, Some(&router_id), now).await?;
            let status = if self.settings.dataplane_none {
                "ACTIVE"
            } else {
                "DOWN"
            };
            fip_rows::set_status(tx.conn(), &f.id, status, now).await?;
        } else {
            fip_rows::touch(tx.conn(), &f.id, now).await?;
        }
        tx.commit().await?;
        Ok(pf)
    }

    pub async fn update_port_forwarding(
        &self,
        ctx: &AuthContext,
        fip_id: &str,
        id: &str,
        a: Attrs,
    ) -> Result<PortForwardingRow> {
        attrs::check_keys(&a, KNOWN, PUT, false)?;
        let external_port = port_number(&a, "external_port")?;
        let internal_port = port_number(&a, "internal_port")?;
        let internal_ip = ip_address(&a)?;
        let protocol = protocol(&a)?;
        let new_port_id = internal_port_id(&a)?;
        let description = attrs::text(&a, "description", DESCRIPTION_MAX)?;
        self.pf_parent(ctx, fip_id, "update_floatingip_port_forwarding")
            .await?;
        self.check_internal_port(ctx, new_port_id.as_deref())
            .await?;
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        if let Some(p) = &new_port_id {
            let ip = internal_ip.clone().unwrap_or_default();
            self.check_port_has_no_fip(tx.conn(), p, &ip).await?;
        }
        let Some(f) = fip_rows::get(&mut *tx.conn(), fip_id).await? else {
            return Err(fips::not_found(fip_id));
        };
        let cur = match rows::get(&mut *tx.conn(), id).await? {
            Some(p) if p.floatingip_id == fip_id => p,
            _ => return Err(not_found(id)),
        };
        let mut pf = cur.clone();
        if let Some(v) = external_port {
            pf.external_port = v;
        }
        if let Some(v) = internal_port {
            pf.internal_port = v;
        }
        if let Some(v) = &internal_ip {
            pf.internal_ip_address = v.clone();
        }
        if let Some(v) = protocol {
            pf.protocol = v;
        }
        if let Some(v) = description {
            pf.description = v;
        }
        if let Some(p) = new_port_id.filter(|p| *p != cur.internal_port_id) {
            let (router_id, ip) = self
                .pf_router(tx.conn(), &f, &p, internal_ip.as_deref())
                .await?;
            pf.internal_port_id = p;
            pf.internal_ip_address = ip;
            self.check_pf_router_match(tx.conn(), &f, &router_id, &pf)
                .await?;
        }
        self.check_pf_update(tx.conn(), &f, &pf).await?;
        let ports_changed = external_port.is_some() || internal_port.is_some();
        if ports_changed {
            self.check_pf_collisions(tx.conn(), &pf).await?;
        }
        pf.revision_number = cur.revision_number + 1;
        pf.updated_at = self.now();
        match rows::update(tx.conn(), &pf).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(Error::conflict(format!(
                    "Port Forwarding {id} was changed by another request; retry"
                )))
            }
            Err(e) if is_unique_violation(&e) => {
                return Err(duplicate(&format!(
                    "{{'floatingip_id': '{}', 'external_port': {}, 'protocol': '{}'}}",
                    pf.floatingip_id, pf.external_port, pf.protocol
                )))
            }
            Err(e) => return Err(e.into()),
        }
        fip_rows::touch(tx.conn(), fip_id, self.now()).await?;
        tx.commit().await?;
        Ok(pf)
    }

    /// `_check_port_forwarding_update`: the internal address is one of
    /// the port's, and no other rule of the floating IP on the protocol
    /// takes the external port or the internal socket.
    async fn check_pf_update(
        &self,
        conn: &mut crate::db::Conn,
        f: &FloatingIpRow,
        pf: &PortForwardingRow,
    ) -> Result<()> {
        let ips = port_rows::allocations_of(&mut *conn, std::slice::from_ref(&pf.internal_port_id))
            .await?
            .remove(&pf.internal_port_id)
            .unwrap_or_default();
        if !ips.iter().any(|a| a.ip_address == pf.internal_ip_address) {
            let all: Vec<&Allocation> = ips.iter().collect();
            return Err(bad(format!(
                "The internal IP does not correspond to an address on the internal port, which \
                 has fixed_ips {}",
                fixed_ips_text(&all)
            )));
        }
        let another = |conflict: String| {
            bad(format!(
                "Another port forwarding entry with the same attributes already exists, \
                 conflicting values are {conflict}"
            ))
        };
        for o in rows::of_floatingip(&mut *conn, &f.id).await? {
            if o.id == pf.id || o.protocol != pf.protocol {
                continue;
            }
            if o.external_port == pf.external_port {
                return Err(another(format!(
                    "{{'floating_ip_address': '{}', 'external_port': {}}}",
                    f.floating_ip_address, o.external_port
                )));
            }
            if o.internal_port_id == pf.internal_port_id
                && o.internal_ip_address == pf.internal_ip_address
                && o.internal_port == pf.internal_port
            {
                return Err(another(format!(
                    "{{'internal_port_id': '{}', 'internal_ip_address': '{}', 'internal_port': \
                     {}}}",
                    o.internal_port_id, o.internal_ip_address, o.internal_port
                )));
            }
        }
        Ok(())
    }

    pub async fn delete_port_forwarding(
        &self,
        ctx: &AuthContext,
        fip_id: &str,
        id: &str,
    ) -> Result<()> {
        self.pf_parent(ctx, fip_id, "delete_floatingip_port_forwarding")
            .await?;
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        match rows::get(&mut *tx.conn(), id).await? {
            Some(p) if p.floatingip_id == fip_id => {}
            _ => return Err(not_found(id)),
        }
        rows::delete(tx.conn(), id).await?;
        let now = self.now();
        if rows::of_floatingip(&mut *tx.conn(), fip_id)
            .await?
            .is_empty()
        {
            fip_rows::set_router(tx.conn(), fip_id, None, now).await?;
            fip_rows::set_status(tx.conn(), fip_id, "DOWN", now).await?;
        } else {
            fip_rows::touch(tx.conn(), fip_id, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// pf_plugin's port update handler: rules to an IPv4 address the port
    /// no longer holds go (a floating IP left without any loses its
    /// router). Runs in the port update's transaction.
    pub(crate) async fn drop_port_forwardings_off(
        &self,
        conn: &mut crate::db::Conn,
        port_id: &str,
        new_ips: &[Allocation],
    ) -> Result<()> {
        let now = self.now();
        for pf in rows::of_port(&mut *conn, port_id).await? {
            if new_ips
                .iter()
                .any(|a| a.ip_address == pf.internal_ip_address)
            {
                continue;
            }
            rows::delete(conn, &pf.id).await?;
            if rows::of_floatingip(&mut *conn, &pf.floatingip_id)
                .await?
                .is_empty()
            {
                fip_rows::set_router(conn, &pf.floatingip_id, None, now).await?;
                fip_rows::set_status(conn, &pf.floatingip_id, "DOWN", now).await?;
            } else {
                fip_rows::touch(conn, &pf.floatingip_id, now).await?;
            }
        }
        Ok(())
    }
}

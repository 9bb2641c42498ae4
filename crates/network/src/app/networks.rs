//! Networks: visibility (own project's, shared and external ones),
//! creation with the segment ML2 would give it (a VXLAN VNI for tenant
//! networks, provider segments for admins), updates of the writable
//! attributes, deletion.

use super::attrs::{self, Attrs};
use super::list::{self, attr, nullable, Attr, AttrKind};
use super::{invalid_input, Network};
use crate::db::networks::{self as rows, NetworkRow};
use crate::db::{is_unique_violation, tags};
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use db::list::{Bind, ListQuery};
use serde_json::json;
use std::collections::HashMap;

/// VXLAN's overhead over IPv4 (Neutron's `VXLAN_ENCAP_OVERHEAD` 30 plus
/// the outer IPv4 header 20).
pub const VXLAN_OVERHEAD: i64 = 50;
const MAX_VNI: i64 = 16_777_215;
/// How many times a create retries after a concurrent writer took the
/// VNI it picked.
const ALLOCATION_ATTEMPTS: usize = 20;

/// A network with what is rendered beside its row.
#[derive(Debug, Clone)]
pub struct NetworkView {
    pub row: NetworkRow,
    pub tags: Vec<String>,
    pub subnets: Vec<String>,
}

pub fn not_found(id: &str) -> Error {
    Error::not_found(format!("Network {id} could not be found.")).with_fault("NetworkNotFound")
}

const KNOWN: &[&str] = &[
    "id",
    "name",
    "description",
    "admin_state_up",
    "status",
    "subnets",
    "shared",
    "router:external",
    "mtu",
    "port_security_enabled",
    "project_id",
    "tenant_id",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
    "tags",
    "created_at",
    "updated_at",
    "revision_number",
];
const POST: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "shared",
    "router:external",
    "port_security_enabled",
    "project_id",
    "tenant_id",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
];
const PUT: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "shared",
    "router:external",
    "port_security_enabled",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
];

/// What a network list can filter and sort on.
pub const ATTRS: &[Attr] = &[
    attr("id", "id", AttrKind::Text),
    attr("name", "name", AttrKind::Text),
    attr("description", "description", AttrKind::Text),
    attr("project_id", "project_id", AttrKind::Text),
    attr("tenant_id", "project_id", AttrKind::Text),
    attr("admin_state_up", "admin_state_up", AttrKind::Bool),
    attr("status", "status", AttrKind::Text),
    attr("shared", "shared", AttrKind::Bool),
    attr("router:external", "router_external", AttrKind::Bool),
    attr("mtu", "mtu", AttrKind::Int),
    attr(
        "port_security_enabled",
        "port_security_enabled",
        AttrKind::Bool,
    ),
    attr("provider:network_type", "network_type", AttrKind::Text),
    nullable(attr(
        "provider:physical_network",
        "physical_network",
        AttrKind::Text,
    )),
    nullable(attr(
        "provider:segmentation_id",
        "segmentation_id",
        AttrKind::Int,
    )),
    attr("revision_number", "revision_number", AttrKind::Int),
    attr("created_at", "created_at", AttrKind::Int),
    attr("updated_at", "updated_at", AttrKind::Int),
];

/// The attributes policy rules see for a network.
pub fn target(n: &NetworkRow) -> serde_json::Value {
    json!({
        "id": n.id,
        "project_id": n.project_id,
        "tenant_id": n.project_id,
        "shared": if n.shared { "True" } else { "False" },
        "router:external": if n.router_external { "True" } else { "False" },
    })
}

/// The requested segment, as ML2's type drivers validate it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    network_type: String,
    physical_network: Option<String>,
    /// `None` for a VXLAN segment still to be allocated.
    segmentation_id: Option<i64>,
}

impl Network {
    /// Whether the caller can see `n` (Neutron's model query scoping).
    pub fn network_visible(&self, ctx: &AuthContext, n: &NetworkRow) -> bool {
        n.shared
            || n.router_external
            || ctx.project_id() == Some(n.project_id.as_str())
            || self.is_admin(ctx)
    }

    /// The network `id` if the caller can see it, else 404.
    pub async fn visible_network(&self, ctx: &AuthContext, id: &str) -> Result<NetworkRow> {
        let n = rows::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        if !self.network_visible(ctx, &n) || !self.check(ctx, "get_network", &target(&n)) {
            return Err(not_found(id));
        }
        Ok(n)
    }

    /// Whether the caller may see the provider attributes.
    pub fn shows_provider(&self, ctx: &AuthContext, n: &NetworkRow) -> bool {
        self.check(ctx, "get_network:provider:network_type", &target(n))
    }

    async fn views(&self, rows: Vec<NetworkRow>) -> Result<Vec<NetworkView>> {
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut tags = tags::of(&mut *self.db.pool.acquire().await?, &ids).await?;
        let mut subnets = self.subnet_ids_of(&ids).await?;
        Ok(rows
            .into_iter()
            .map(|row| NetworkView {
                tags: tags.remove(&row.id).unwrap_or_default(),
                subnets: subnets.remove(&row.id).unwrap_or_default(),
                row,
            })
            .collect())
    }

    /// The subnet ids of each network.
    async fn subnet_ids_of(&self, ids: &[String]) -> Result<HashMap<String, Vec<String>>> {
        Ok(crate::db::subnets::ids_by_network(&self.db.pool, ids).await?)
    }

    pub async fn show_network(&self, ctx: &AuthContext, id: &str) -> Result<NetworkView> {
        let n = self.visible_network(ctx, id).await?;
        let mut v = self.views(vec![n]).await?;
        v.pop().ok_or_else(|| not_found(id))
    }

    /// A page of the networks the caller can see; the `Request` says
    /// how it was asked for (for the links).
    pub async fn list_networks(
        &self,
        ctx: &AuthContext,
        q: &QueryMap,
    ) -> Result<(Vec<NetworkView>, list::Request)> {
        let mut base = ListQuery::new(self.db.kind, "networks", rows::COLUMNS, "id");
        if !self.is_admin(ctx) {
            let project = ctx.project_id().unwrap_or("").to_string();
            base.filter(
                "project_id = ? OR shared = 1 OR router_external = 1",
                [Bind::Text(project)],
            );
        }
        let req = list::parse(q, ATTRS, base, "id", self.settings.pagination_max_limit)?;
        let (mut found, _) = match rows::list(&self.db.pool, &req.query).await {
            Ok(r) => r,
            Err(db::list::ListError::MarkerNotFound(m)) => return Err(not_found(&m)),
            Err(db::list::ListError::Sql(e)) => return Err(e.into()),
        };
        if req.page_reverse {
            found.reverse();
        }
        Ok((self.views(found).await?, req))
    }

    /// Validates one create request into a row (segment not yet allocated
    /// when it is a tenant network).
    fn new_network(&self, ctx: &AuthContext, a: &Attrs) -> Result<(NetworkRow, Segment)> {
        attrs::check_keys(a, KNOWN, POST, true)?;
        let project_id = self.owner(ctx, attrs::requested_project(a)?)?;
        let tgt = json!({"project_id": project_id, "tenant_id": project_id});
        self.enforce(ctx, "create_network", &tgt)?;
        for key in [
            "shared",
            "router:external",
            "provider:network_type",
            "provider:physical_network",
            "provider:segmentation_id",
        ] {
            if a.contains_key(key) {
                let action = format!("create_network:{key}");
                if !self.check(ctx, &action, &tgt) {
                    return Err(super::policy_refused("create_network"));
                }
            }
        }
        let segment = self.requested_segment(a)?;
        let mtu = if segment.network_type == "vxlan" {
            self.settings.global_physnet_mtu - VXLAN_OVERHEAD
        } else {
            self.settings.global_physnet_mtu
        };
        let now = self.now();
        let row = NetworkRow {
            id: common::ids::uuid(),
            project_id,
            name: attrs::text(a, "name", 255)?.unwrap_or_default(),
            description: attrs::text(a, "description", 255)?.unwrap_or_default(),
            admin_state_up: attrs::boolean(a, "admin_state_up")?.unwrap_or(true),
            status: "ACTIVE".into(),
            shared: attrs::boolean(a, "shared")?.unwrap_or(false),
            router_external: attrs::boolean(a, "router:external")?.unwrap_or(false),
            mtu,
            port_security_enabled: attrs::boolean(a, "port_security_enabled")?.unwrap_or(true),
            network_type: segment.network_type.clone(),
            physical_network: segment.physical_network.clone(),
            segmentation_id: segment.segmentation_id,
            revision_number: 0,
            created_at: now,
            updated_at: now,
        };
        Ok((row, segment))
    }

    /// The provider attributes as ML2's type drivers check them; no
    /// attributes is a tenant network (VXLAN).
    fn requested_segment(&self, a: &Attrs) -> Result<Segment> {
        let ty = attrs::string(a, "provider:network_type", 255, true)?.flatten();
        let phys = attrs::string(a, "provider:physical_network", 64, true)?.flatten();
        let seg = attrs::integer(a, "provider:segmentation_id", true)?.flatten();
        let ty = match (ty, &phys, seg) {
            (None, None, None) => "vxlan".to_string(),
            (None, _, _) => return Err(invalid_input("network_type required")),
            (Some(t), _, _) => t,
        };
        let known_physnet = |p: &str| self.settings.physical_networks.iter().any(|k| k == p);
        match ty.as_str() {
            "flat" => {
                if seg.is_some() {
                    return Err(invalid_input(
                        "provider:segmentation_id prohibited for flat provider network",
                    ));
                }
                let Some(p) = phys else {
                    return Err(invalid_input(
                        "physical_network required for flat provider network",
                    ));
                };
                if !known_physnet(&p) {
                    return Err(invalid_input(format!(
                        "physical_network '{p}' unknown for flat provider network"
                    )));
                }
                Ok(Segment {
                    network_type: ty,
                    physical_network: Some(p),
                    segmentation_id: None,
                })
            }
            "vlan" => {
                let Some(p) = phys else {
                    return Err(invalid_input(
                        "physical_network required for VLAN provider network",
                    ));
                };
                if !known_physnet(&p) {
                    return Err(invalid_input(format!(
                        "physical_network '{p}' unknown for VLAN provider network"
                    )));
                }
                let Some(vid) = seg else {
                    // No VLAN ranges are configured to allocate from.
                    return Err(no_network_available());
                };
                if !(1..=4094).contains(&vid) {
                    return Err(invalid_input(
                        "segmentation_id out of range (1 through 4094)",
                    ));
                }
                Ok(Segment {
                    network_type: ty,
                    physical_network: Some(p),
                    segmentation_id: Some(vid),
                })
            }
            "vxlan" => {
                if phys.is_some() {
                    return Err(invalid_input(
                        "provider:physical_network specified for vxlan network",
                    ));
                }
                if let Some(vni) = seg {
                    if !(1..=MAX_VNI).contains(&vni) {
                        return Err(invalid_input(format!(
                            "segmentation_id out of range (1 through {MAX_VNI})"
                        )));
                    }
                }
                Ok(Segment {
                    network_type: ty,
                    physical_network: None,
                    segmentation_id: seg,
                })
            }
            other => Err(invalid_input(format!(
                "network_type value '{other}' not supported"
            ))),
        }
    }

    /// The lowest free VNI of the configured ranges.
    async fn free_vni(&self, conn: &mut crate::db::Conn) -> Result<Option<i64>> {
        for (first, last) in &self.settings.vni_ranges {
            let used = rows::vnis_in(conn, *first, *last).await?;
            let mut want = *first;
            for u in used {
                if u == want {
                    want += 1;
                } else if u > want {
                    break;
                }
            }
            if want <= *last {
                return Ok(Some(want));
            }
        }
        Ok(None)
    }

    /// Creates the networks of one request (bulk: all or none).
    pub async fn create_networks(
        &self,
        ctx: &AuthContext,
        items: Vec<Attrs>,
    ) -> Result<Vec<NetworkView>> {
        let mut planned = Vec::with_capacity(items.len());
        for a in &items {
            planned.push(self.new_network(ctx, a)?);
        }
        let mut attempt = 0;
        let created = loop {
            attempt += 1;
            match self.insert_networks(&planned).await {
                Ok(rows) => break rows,
                // A concurrent create took the VNI picked: pick again.
                Err(Retry::Again) if attempt < ALLOCATION_ATTEMPTS => continue,
                Err(Retry::Again) => return Err(no_network_available()),
                Err(Retry::Fail(e)) => return Err(e),
            }
        };
        self.views(created).await
    }

    async fn insert_networks(
        &self,
        planned: &[(NetworkRow, Segment)],
    ) -> Result<Vec<NetworkRow>, Retry> {
        let mut tx = self.begin().await?;
        // Write first: on SQLite a transaction that reads (the free VNI)
        // and only then writes fails with SQLITE_BUSY_SNAPSHOT, without
        // waiting, if a writer outside this process's write lock
        // committed in between; one that starts with a write waits.
        tx.bump(crate::REVISION).await.map_err(Error::from)?;
        let adding: Vec<(String, i64)> = planned
            .iter()
            .map(|(r, _)| (r.project_id.clone(), 1))
            .collect();
        self.check_quota(tx.conn(), "network", &adding).await?;
        let mut out = Vec::with_capacity(planned.len());
        for (row, seg) in planned {
            let mut row = row.clone();
            let allocated = seg.network_type == "vxlan" && seg.segmentation_id.is_none();
            if allocated {
                row.segmentation_id = Some(
                    self.free_vni(tx.conn())
                        .await?
                        .ok_or_else(no_network_available)?,
                );
            }
            if let Err(e) = rows::insert(tx.conn(), &row).await {
                if is_unique_violation(&e) {
                    if allocated {
                        return Err(Retry::Again);
                    }
                    return Err(Retry::Fail(segment_in_use(&row)));
                }
                return Err(Retry::Fail(e.into()));
            }
            out.push(row);
        }
        tx.commit().await.map_err(Error::from)?;
        Ok(out)
    }

    pub async fn update_network(
        &self,
        ctx: &AuthContext,
        id: &str,
        a: Attrs,
    ) -> Result<NetworkView> {
        attrs::check_keys(&a, KNOWN, PUT, false)?;
        let cur = self.visible_network(ctx, id).await?;
        let tgt = target(&cur);
        if !self.check(ctx, "update_network", &tgt) {
            return Err(super::policy_refused("update_network"));
        }
        for key in ["shared", "router:external"] {
            if a.contains_key(key) && !self.check(ctx, &format!("update_network:{key}"), &tgt) {
                return Err(super::policy_refused("update_network"));
            }
        }
        if a.keys().any(|k| k.starts_with("provider:")) {
            if !self.check(ctx, "update_network:provider:network_type", &tgt) {
                return Err(super::policy_refused("update_network"));
            }
            return Err(invalid_input(
                "Plugin does not support updating provider attributes",
            ));
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
        if let Some(v) = attrs::boolean(&a, "shared")? {
            row.shared = v;
        }
        if let Some(v) = attrs::boolean(&a, "router:external")? {
            row.router_external = v;
        }
        if let Some(v) = attrs::boolean(&a, "port_security_enabled")? {
            row.port_security_enabled = v;
        }
        row.revision_number = cur.revision_number + 1;
        row.updated_at = self.now();
        let mut tx = self.begin().await?;
        if !rows::update(tx.conn(), &row).await? {
            // Changed or deleted since it was read: the caller retries on
            // what is there now.
            return Err(Error::conflict(format!(
                "Network {id} was changed by another request; retry"
            )));
        }
        tx.bump(crate::REVISION).await?;
        tx.commit().await?;
        self.show_network(ctx, id).await
    }

    pub async fn delete_network(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let cur = self.visible_network(ctx, id).await?;
        if !self.check(ctx, "delete_network", &target(&cur)) {
            return Err(super::policy_refused("delete_network"));
        }
        let mut tx = self.begin().await?;
        tx.bump(crate::REVISION).await?;
        if !rows::lock(tx.conn(), id).await? {
            return Err(not_found(id));
        }
        self.delete_disassociated_floatingips(tx.conn(), id).await?;
        // Only its DHCP port may remain; it goes with it.
        self.release_network(tx.conn(), id).await?;
        // Its subnets go with it (and their tags).
        for s in crate::db::subnets::of_network(&mut *tx.conn(), id).await? {
            tags::clear(tx.conn(), &s.id).await?;
            crate::db::subnets::delete(tx.conn(), &s.id).await?;
        }
        tags::clear(tx.conn(), id).await?;
        if !rows::delete(tx.conn(), id).await? {
            return Err(not_found(id));
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Why inserting planned networks stopped.
enum Retry {
    /// A concurrent writer took an allocated segment.
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
        Retry::Fail(e.into())
    }
}

fn no_network_available() -> Error {
    Error::unavailable(
        "Unable to create the network. No project network is available for allocation.",
    )
    .with_fault("NoNetworkAvailable")
}

/// The 409 for a provider segment another network holds.
fn segment_in_use(n: &NetworkRow) -> Error {
    let phys = n.physical_network.clone().unwrap_or_default();
    match n.network_type.as_str() {
        "flat" => Error::conflict(format!(
            "Unable to create the flat network. Physical network {phys} is in use."
        ))
        .with_fault("FlatNetworkInUse"),
        "vlan" => Error::conflict(format!(
            "Unable to create the network. The VLAN {} on physical network {phys} is in use.",
            n.segmentation_id.unwrap_or_default()
        ))
        .with_fault("VlanIdInUse"),
        _ => Error::conflict(format!(
            "Unable to create the network. The tunnel ID {} is in use.",
            n.segmentation_id.unwrap_or_default()
        ))
        .with_fault("TunnelIdInUse"),
    }
}

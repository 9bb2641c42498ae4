//! Flavors: who sees which (public ones, private ones offered to the
//! caller's project, everything for admins), their creation rules and
//! the default set, extra specs, and the access lists of private
//! flavors. Request bodies arrive already shaped by `api::flavors`
//! (Nova's JSON schemas); the rules that need the database or policy are
//! here.

use super::Compute;
use crate::db::flavors::{self as q, Viewer};
use common::context::AuthContext;
use common::{Error, ErrorKind, Result};
use serde_json::json;
use std::collections::BTreeMap;

pub use crate::db::flavors::Flavor;

/// Nova's policy names for flavors (nova/policies/flavor_*.py).
pub mod policy {
    pub const CREATE: &str = "os_compute_api:os-flavor-manage:create";
    pub const UPDATE: &str = "os_compute_api:os-flavor-manage:update";
    pub const DELETE: &str = "os_compute_api:os-flavor-manage:delete";
    pub const SPECS_INDEX: &str = "os_compute_api:os-flavor-extra-specs:index";
    pub const SPECS_SHOW: &str = "os_compute_api:os-flavor-extra-specs:show";
    pub const SPECS_CREATE: &str = "os_compute_api:os-flavor-extra-specs:create";
    pub const SPECS_UPDATE: &str = "os_compute_api:os-flavor-extra-specs:update";
    pub const SPECS_DELETE: &str = "os_compute_api:os-flavor-extra-specs:delete";
    pub const ACCESS: &str = "os_compute_api:os-flavor-access";
    pub const ACCESS_ADD: &str = "os_compute_api:os-flavor-access:add_tenant_access";
    pub const ACCESS_REMOVE: &str = "os_compute_api:os-flavor-access:remove_tenant_access";
}

/// The flavors every new cloud starts with: devstack's old defaults,
/// with their historical ids "1".."5" (name, id, MB of RAM, GB of disk,
/// vCPUs).
pub const DEFAULT_FLAVORS: &[(&str, &str, i64, i64, i64)] = &[
    ("m1.tiny", "1", 512, 1, 1),
    ("m1.small", "2", 2048, 20, 1),
    ("m1.medium", "3", 4096, 40, 2),
    ("m1.large", "4", 8192, 80, 4),
    ("m1.xlarge", "5", 16384, 160, 8),
];

/// A flavor to create, as the API parsed it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFlavor {
    pub name: String,
    /// `None`: a UUID is chosen.
    pub id: Option<String>,
    pub ram: i64,
    pub vcpus: i64,
    pub disk: i64,
    pub ephemeral: i64,
    pub swap: i64,
    pub rxtx_factor: f64,
    pub is_public: bool,
    pub description: Option<String>,
}

/// A list request: filters, sort and page, already parsed.
#[derive(Debug, Clone)]
pub struct FlavorQuery {
    pub min_ram: Option<i64>,
    pub min_disk: Option<i64>,
    /// The `is_public` parameter as given (only admins' counts).
    pub is_public: Option<String>,
    pub sort_key: String,
    pub asc: bool,
    pub limit: usize,
    pub marker: Option<String>,
}

/// Nova's `CONF.api.max_limit`.
pub const MAX_LIMIT: usize = 1000;

fn not_found(id: &str) -> Error {
    Error::not_found(format!("Flavor {id} could not be found."))
}

impl Compute {
    fn viewer<'a>(&self, ctx: &'a AuthContext) -> Viewer<'a> {
        if self.is_admin(ctx) {
            Viewer::Admin
        } else {
            Viewer::Project(ctx.project_id())
        }
    }

    /// Creates the default flavors whose id and name are both free; run
    /// when the service is built, so it is idempotent.
    pub async fn bootstrap_flavors(&self) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin().await?;
        for (name, id, ram, disk, vcpus) in DEFAULT_FLAVORS {
            let f = Flavor {
                flavorid: (*id).into(),
                name: (*name).into(),
                memory_mb: *ram,
                vcpus: *vcpus,
                root_gb: *disk,
                ephemeral_gb: 0,
                swap: 0,
                rxtx_factor: 1.0,
                is_public: true,
                disabled: false,
                description: None,
                created_at: now,
                updated_at: None,
                extra_specs: BTreeMap::new(),
            };
            q::insert(tx.conn(), &f, true).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The flavor `id` (its `flavorid`) if the caller may see it: what
    /// the servers API boots and resizes with. A private flavor not
    /// offered to the caller's project is "not found", as in Nova.
    pub async fn get_flavor_for(&self, ctx: &AuthContext, id: &str) -> Result<Flavor> {
        q::get(&self.db.pool, id, self.viewer(ctx))
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// Whether responses at 2.61+ carry `extra_specs` for this caller.
    pub fn can_see_extra_specs(&self, ctx: &AuthContext) -> bool {
        self.check(
            ctx,
            policy::SPECS_INDEX,
            &json!({"project_id": ctx.project_id()}),
        )
    }

    /// Nova's `_get_flavors`: admins filter on `is_public` (true, false
    /// or none = both; public by default), others see the enabled public
    /// flavors and the private ones offered to their project.
    pub async fn list_flavors(
        &self,
        ctx: &AuthContext,
        fq: &FlavorQuery,
    ) -> Result<(Vec<Flavor>, Option<String>)> {
        let admin = self.is_admin(ctx);
        let mut f = q::ListFilter {
            min_memory_mb: fq.min_ram,
            min_root_gb: fq.min_disk,
            sort_key: fq.sort_key.clone(),
            asc: fq.asc,
            limit: Some(fq.limit.min(MAX_LIMIT)),
            marker: fq.marker.clone(),
            project: ctx.project_id().map(str::to_string),
            ..Default::default()
        };
        if admin {
            f.is_public = match fq.is_public.as_deref() {
                None => Some(true),
                Some(v) if v.eq_ignore_ascii_case("none") => None,
                Some(v) => Some(strict_bool(v).ok_or_else(|| {
                    Error::bad_request(format!("Invalid is_public filter [{v}]"))
                })?),
            };
        } else {
            f.is_public = Some(true);
            f.disabled = Some(false);
        }
        q::list(&self.db, &f, self.viewer(ctx))
            .await
            .map_err(|e| match e {
                db::list::ListError::MarkerNotFound(m) => {
                    Error::bad_request(format!("marker [{m}] not found"))
                }
                db::list::ListError::Sql(e) => Error::from(e),
            })
    }

    pub async fn create_flavor(&self, ctx: &AuthContext, new: NewFlavor) -> Result<Flavor> {
        self.enforce(ctx, policy::CREATE, &json!({}))?;
        // Nova strips the name; the schema already refused one that is
        // only whitespace.
        let name = new.name.trim().to_string();
        let flavorid = match new.id {
            Some(id) if !id.is_empty() => id,
            _ => common::ids::uuid(),
        };
        let now = self.now();
        let f = Flavor {
            flavorid,
            name,
            memory_mb: new.ram,
            vcpus: new.vcpus,
            root_gb: new.disk,
            ephemeral_gb: new.ephemeral,
            swap: new.swap,
            rxtx_factor: new.rxtx_factor,
            is_public: new.is_public,
            disabled: false,
            description: new.description,
            created_at: now,
            updated_at: None,
            extra_specs: BTreeMap::new(),
        };
        let mut tx = self.begin().await?;
        if q::id_taken(tx.conn(), &f.flavorid).await? {
            return Err(Error::conflict(format!(
                "Flavor with ID {} already exists.",
                f.flavorid
            )));
        }
        if q::name_taken(tx.conn(), &f.name).await? {
            return Err(Error::conflict(format!(
                "Flavor with name {} already exists.",
                f.name
            )));
        }
        let inserted = q::insert(tx.conn(), &f, false)
            .await
            .map_err(|e| match Error::from(e) {
                // A concurrent create took the id or name.
                e if e.kind() == ErrorKind::Conflict => {
                    Error::conflict(format!("Flavor with name {} already exists.", f.name))
                }
                other => other,
            })?;
        if !inserted {
            return Err(Error::internal("flavor insert wrote no row"));
        }
        tx.commit().await?;
        Ok(f)
    }

    /// `PUT /flavors/{id}` (2.55): only the description changes.
    pub async fn update_flavor_description(
        &self,
        ctx: &AuthContext,
        id: &str,
        description: Option<String>,
    ) -> Result<Flavor> {
        self.enforce(ctx, policy::UPDATE, &json!({}))?;
        let mut tx = self.begin().await?;
        if !q::set_description(tx.conn(), id, description.as_deref(), self.now()).await? {
            return Err(not_found(id));
        }
        tx.commit().await?;
        q::get(&self.db.pool, id, Viewer::Admin)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// Deletes a flavor; servers keep their copy of it.
    pub async fn delete_flavor(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        self.enforce(ctx, policy::DELETE, &json!({}))?;
        let mut tx = self.begin().await?;
        if !q::delete(tx.conn(), id).await? {
            return Err(not_found(id));
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn flavor_extra_specs(
        &self,
        ctx: &AuthContext,
        id: &str,
    ) -> Result<BTreeMap<String, String>> {
        self.enforce(
            ctx,
            policy::SPECS_INDEX,
            &json!({"project_id": ctx.project_id()}),
        )?;
        Ok(self.get_flavor_for(ctx, id).await?.extra_specs)
    }

    pub async fn flavor_extra_spec(
        &self,
        ctx: &AuthContext,
        id: &str,
        key: &str,
    ) -> Result<String> {
        self.enforce(
            ctx,
            policy::SPECS_SHOW,
            &json!({"project_id": ctx.project_id()}),
        )?;
        let f = self.get_flavor_for(ctx, id).await?;
        f.extra_specs
            .get(key)
            .cloned()
            .ok_or_else(|| no_such_spec(id, key))
    }

    /// Sets each of `specs` (`POST`: `create`; `PUT` of one key:
    /// `update`), keeping the others.
    pub async fn set_flavor_extra_specs(
        &self,
        ctx: &AuthContext,
        id: &str,
        specs: &BTreeMap<String, String>,
        update: bool,
    ) -> Result<()> {
        let action = if update {
            policy::SPECS_UPDATE
        } else {
            policy::SPECS_CREATE
        };
        self.enforce(ctx, action, &json!({}))?;
        let f = self.get_flavor_for(ctx, id).await?;
        let mut tx = self.begin().await?;
        for (k, v) in specs {
            q::set_extra_spec(tx.conn(), &f.flavorid, k, v).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_flavor_extra_spec(
        &self,
        ctx: &AuthContext,
        id: &str,
        key: &str,
    ) -> Result<()> {
        self.enforce(ctx, policy::SPECS_DELETE, &json!({}))?;
        let f = self.get_flavor_for(ctx, id).await?;
        let mut tx = self.begin().await?;
        if !q::delete_extra_spec(tx.conn(), &f.flavorid, key).await? {
            return Err(no_such_spec(id, key));
        }
        tx.commit().await?;
        Ok(())
    }

    /// The projects a private flavor is offered to; a public flavor has
    /// no list (404, as Nova).
    pub async fn flavor_access(&self, ctx: &AuthContext, id: &str) -> Result<Vec<String>> {
        self.enforce(ctx, policy::ACCESS, &json!({}))?;
        let f = self.get_flavor_for(ctx, id).await?;
        if f.is_public {
            return Err(Error::not_found(
                "Access list not available for public flavors.",
            ));
        }
        Ok(q::projects(&self.db.pool, id).await?)
    }

    /// `addTenantAccess`: 409 for a public flavor (2.7+) or a project
    /// already on the list.
    pub async fn add_flavor_access(
        &self,
        ctx: &AuthContext,
        id: &str,
        project: &str,
        refuse_public: bool,
    ) -> Result<Vec<String>> {
        self.enforce(ctx, policy::ACCESS_ADD, &json!({}))?;
        let f = self.get_flavor_for(ctx, id).await?;
        if refuse_public && f.is_public {
            return Err(Error::conflict("Can not add access to a public flavor."));
        }
        let mut tx = self.begin().await?;
        if !q::add_project(tx.conn(), id, project).await? {
            return Err(Error::conflict(format!(
                "Flavor access already exists for flavor {id} and project {project} combination."
            )));
        }
        tx.commit().await?;
        Ok(q::projects(&self.db.pool, id).await?)
    }

    pub async fn remove_flavor_access(
        &self,
        ctx: &AuthContext,
        id: &str,
        project: &str,
    ) -> Result<Vec<String>> {
        self.enforce(ctx, policy::ACCESS_REMOVE, &json!({}))?;
        self.get_flavor_for(ctx, id).await?;
        let mut tx = self.begin().await?;
        if !q::remove_project(tx.conn(), id, project).await? {
            return Err(Error::not_found(format!(
                "Flavor access not found for {id} / {project} combination."
            )));
        }
        tx.commit().await?;
        Ok(q::projects(&self.db.pool, id).await?)
    }
}

/// oslo's `bool_from_string(strict=True)`.
fn strict_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
        _ => None,
    }
}

fn no_such_spec(id: &str, key: &str) -> Error {
    Error::not_found(format!("Flavor {id} has no extra specs with key {key}."))
}

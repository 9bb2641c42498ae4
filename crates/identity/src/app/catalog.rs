//! Regions, services and endpoints: the service catalog.

use super::domains::strip_readonly;
use super::policy_target::PolicyTarget;
use super::Identity;
use crate::db::catalog::{Endpoint, Region, Service};
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Deserialize, Default)]
pub struct RegionInput {
    pub id: Option<String>,
    pub description: Option<String>,
    #[serde(default, deserialize_with = "super::double_option")]
    pub parent_region_id: Option<Option<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Deserialize, Default)]
pub struct ServiceInput {
    #[serde(rename = "type")]
    pub service_type: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Deserialize, Default)]
pub struct EndpointInput {
    pub service_id: Option<String>,
    pub interface: Option<String>,
    pub url: Option<String>,
    #[serde(default, deserialize_with = "super::double_option")]
    pub region_id: Option<Option<String>>,
    /// Deprecated alias of `region_id` still sent by old clients.
    pub region: Option<String>,
    pub enabled: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn region_nf(id: &str) -> Error {
    Error::not_found(format!("Could not find region: {id}."))
}
fn service_nf(id: &str) -> Error {
    Error::not_found(format!("Could not find service: {id}."))
}
fn endpoint_nf(id: &str) -> Error {
    Error::not_found(format!("Could not find endpoint: {id}."))
}

fn check_interface(i: &str) -> Result<()> {
    if matches!(i, "public" | "internal" | "admin") {
        Ok(())
    } else {
        Err(Error::bad_request(format!(
            "Invalid input for field 'interface': {i:?} is not one of public, internal, admin."
        )))
    }
}

/// Keystone's region id schema: a string of 1 to 255 characters.
fn check_region_id(id: &str) -> Result<()> {
    if id.is_empty() || id.chars().count() > 255 {
        return Err(Error::bad_request(
            "Invalid input for field 'region': it must be 1 to 255 characters long.",
        ));
    }
    Ok(())
}

/// Keystone's region schema: the id and `parent_region_id` are region
/// ids (1 to 255 characters), the description at most 255.
fn check_region_fields(id: &str, input: &RegionInput) -> Result<()> {
    let parent = input.parent_region_id.as_ref().and_then(Option::as_deref);
    for (field, value) in [("id", Some(id)), ("parent_region_id", parent)] {
        if value.is_some_and(|v| v.is_empty() || v.chars().count() > 255) {
            return Err(Error::bad_request(format!(
                "Invalid input for field '{field}': it must be 1 to 255 characters long."
            )));
        }
    }
    super::validate_max_len(
        "description",
        input.description.as_deref(),
        super::DESCRIPTION_MAX,
    )
}

fn check_url(u: &str) -> Result<()> {
    if u.is_empty() || u.len() > 225 || !(u.starts_with("http://") || u.starts_with("https://")) {
        return Err(Error::bad_request(
            "Invalid input for field 'url': an http(s) URL of at most 225 characters.",
        ));
    }
    Ok(())
}

impl Identity {
    pub async fn create_region(
        &self,
        ctx: &AuthContext,
        id: Option<String>,
        mut input: RegionInput,
    ) -> Result<Region> {
        self.enforce(ctx, "identity:create_region", PolicyTarget::none())?;
        if let (Some(a), Some(b)) = (&id, &input.id) {
            if a != b {
                return Err(Error::bad_request(
                    "Conflicting region ids in the URL and the body.",
                ));
            }
        }
        let id = id.or(input.id.take()).unwrap_or_else(common::ids::hex_id);
        check_region_fields(&id, &input)?;
        let parent = input.parent_region_id.flatten();
        if let Some(p) = &parent {
            if crate::db::catalog::get_region(&self.db.pool, p)
                .await?
                .is_none()
            {
                return Err(Error::bad_request(format!(
                    "Invalid input for field 'parent_region_id': no region {p}."
                )));
            }
        }
        strip_readonly(&mut input.extra);
        let r = Region {
            id,
            description: input.description.unwrap_or_default(),
            parent_region_id: parent,
            extra: input.extra,
        };
        let mut tx = self.begin().await?;
        crate::db::catalog::insert_region(tx.conn(), &r)
            .await
            .map_err(|e| match Error::from(e) {
                e if e.kind() == common::ErrorKind::Conflict => {
                    Error::conflict(format!("Duplicate ID, {}.", r.id))
                }
                other => other,
            })?;
        self.commit(tx).await?;
        Ok(r)
    }

    pub async fn get_region(&self, ctx: &AuthContext, id: &str) -> Result<Region> {
        self.enforce(ctx, "identity:get_region", PolicyTarget::none())?;
        crate::db::catalog::get_region(&self.db.pool, id)
            .await?
            .ok_or_else(|| region_nf(id))
    }

    pub async fn list_regions(&self, ctx: &AuthContext, q: &QueryMap) -> Result<Vec<Region>> {
        self.enforce(ctx, "identity:list_regions", PolicyTarget::none())?;
        Ok(crate::db::catalog::regions(&self.db.pool)
            .await?
            .into_iter()
            .filter(|r| {
                q.get("parent_region_id")
                    .is_none_or(|p| r.parent_region_id.as_deref() == Some(p))
            })
            .collect())
    }

    pub async fn update_region(
        &self,
        ctx: &AuthContext,
        id: &str,
        mut input: RegionInput,
    ) -> Result<Region> {
        self.enforce(ctx, "identity:update_region", PolicyTarget::none())?;
        let mut r = crate::db::catalog::get_region(&self.db.pool, id)
            .await?
            .ok_or_else(|| region_nf(id))?;
        check_region_fields(id, &input)?;
        if let Some(d) = input.description.take() {
            r.description = d;
        }
        if let Some(p) = input.parent_region_id.take() {
            if let Some(pid) = &p {
                let snap = self.view().await?;
                let mut cur = Some(pid.clone());
                // Walking up from the new parent must not reach this region.
                while let Some(c) = cur {
                    if c == id {
                        return Err(Error::bad_request(
                            "Invalid input for field 'parent_region_id': it would form a cycle.",
                        ));
                    }
                    cur = snap
                        .regions
                        .iter()
                        .find(|x| x.id == c)
                        .and_then(|x| x.parent_region_id.clone());
                }
                if !snap.regions.iter().any(|x| x.id == *pid) {
                    return Err(Error::bad_request(format!(
                        "Invalid input for field 'parent_region_id': no region {pid}."
                    )));
                }
            }
            r.parent_region_id = p;
        }
        strip_readonly(&mut input.extra);
        r.extra.extend(input.extra);
        let mut tx = self.begin().await?;
        crate::db::catalog::update_region(tx.conn(), &r).await?;
        self.commit(tx).await?;
        Ok(r)
    }

    pub async fn delete_region(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        self.enforce(ctx, "identity:delete_region", PolicyTarget::none())?;
        let snap = self.view().await?;
        if snap
            .regions
            .iter()
            .any(|r| r.parent_region_id.as_deref() == Some(id))
        {
            return Err(Error::forbidden(format!(
                "Cannot delete region {id}: it has child regions."
            )));
        }
        if snap
            .endpoints
            .iter()
            .any(|e| e.region_id.as_deref() == Some(id))
        {
            return Err(Error::conflict(format!(
                "Cannot delete region {id}: endpoints refer to it."
            )));
        }
        let mut tx = self.begin().await?;
        if crate::db::catalog::delete_region(tx.conn(), id).await? == 0 {
            return Err(region_nf(id));
        }
        self.commit(tx).await
    }

    pub async fn create_service(
        &self,
        ctx: &AuthContext,
        mut input: ServiceInput,
    ) -> Result<Service> {
        self.enforce(ctx, "identity:create_service", PolicyTarget::none())?;
        let t = input
            .service_type
            .take()
            .ok_or_else(|| Error::bad_request("Invalid input for field 'type': required."))?;
        super::validate_name("type", &t)?;
        strip_readonly(&mut input.extra);
        let s = Service {
            id: common::ids::hex_id(),
            service_type: t,
            name: input.name.unwrap_or_default(),
            description: input.description.unwrap_or_default(),
            enabled: input.enabled.unwrap_or(true),
            extra: input.extra,
        };
        let mut tx = self.begin().await?;
        crate::db::catalog::insert_service(tx.conn(), &s).await?;
        self.commit(tx).await?;
        Ok(s)
    }

    pub async fn get_service(&self, ctx: &AuthContext, id: &str) -> Result<Service> {
        self.enforce(ctx, "identity:get_service", PolicyTarget::none())?;
        crate::db::catalog::get_service(&self.db.pool, id)
            .await?
            .ok_or_else(|| service_nf(id))
    }

    pub async fn list_services(&self, ctx: &AuthContext, q: &QueryMap) -> Result<Vec<Service>> {
        self.enforce(ctx, "identity:list_services", PolicyTarget::none())?;
        Ok(crate::db::catalog::services(&self.db.pool)
            .await?
            .into_iter()
            .filter(|s| {
                q.get("type").is_none_or(|t| s.service_type == t)
                    && q.get("name").is_none_or(|n| s.name == n)
            })
            .collect())
    }

    pub async fn update_service(
        &self,
        ctx: &AuthContext,
        id: &str,
        mut input: ServiceInput,
    ) -> Result<Service> {
        self.enforce(ctx, "identity:update_service", PolicyTarget::none())?;
        let mut s = crate::db::catalog::get_service(&self.db.pool, id)
            .await?
            .ok_or_else(|| service_nf(id))?;
        if let Some(t) = input.service_type.take() {
            super::validate_name("type", &t)?;
            s.service_type = t;
        }
        if let Some(n) = input.name.take() {
            s.name = n;
        }
        if let Some(d) = input.description.take() {
            s.description = d;
        }
        if let Some(e) = input.enabled {
            s.enabled = e;
        }
        strip_readonly(&mut input.extra);
        s.extra.extend(input.extra);
        let mut tx = self.begin().await?;
        crate::db::catalog::update_service(tx.conn(), &s).await?;
        self.commit(tx).await?;
        Ok(s)
    }

    pub async fn delete_service(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        self.enforce(ctx, "identity:delete_service", PolicyTarget::none())?;
        let mut tx = self.begin().await?;
        if crate::db::catalog::delete_service(tx.conn(), id).await? == 0 {
            return Err(service_nf(id));
        }
        self.commit(tx).await
    }

    /// The region an endpoint write sets, as Keystone's
    /// `_validate_endpoint_region` and `_assert_region_exists` decide it:
    /// `region_id` must name an existing region (400 otherwise); the
    /// deprecated `region`, used when `region_id` is absent or null (as
    /// v2-era clients and tempest's endpoint tests send it), names a
    /// region that is created when it does not exist yet. Returns the
    /// change to `region_id` (`None`: unchanged) and the region to create.
    async fn endpoint_region(
        &self,
        region_id: Option<Option<String>>,
        region: Option<String>,
    ) -> Result<(Option<Option<String>>, Option<String>)> {
        match (region_id, region) {
            (Some(Some(rid)), _) => {
                if crate::db::catalog::get_region(&self.db.pool, &rid)
                    .await?
                    .is_none()
                {
                    return Err(Error::bad_request(format!(
                        "Invalid input for field 'region_id': no region {rid}."
                    )));
                }
                Ok((Some(Some(rid)), None))
            }
            (_, Some(name)) => {
                check_region_id(&name)?;
                Ok((Some(Some(name.clone())), Some(name)))
            }
            (cleared, None) => Ok((cleared, None)),
        }
    }

    pub async fn create_endpoint(
        &self,
        ctx: &AuthContext,
        mut input: EndpointInput,
    ) -> Result<Endpoint> {
        self.enforce(ctx, "identity:create_endpoint", PolicyTarget::none())?;
        let service_id = input
            .service_id
            .take()
            .ok_or_else(|| Error::bad_request("Invalid input for field 'service_id': required."))?;
        let interface = input
            .interface
            .take()
            .ok_or_else(|| Error::bad_request("Invalid input for field 'interface': required."))?;
        let url = input
            .url
            .take()
            .ok_or_else(|| Error::bad_request("Invalid input for field 'url': required."))?;
        check_interface(&interface)?;
        check_url(&url)?;
        if crate::db::catalog::get_service(&self.db.pool, &service_id)
            .await?
            .is_none()
        {
            return Err(Error::bad_request(format!(
                "Invalid input for field 'service_id': no service {service_id}."
            )));
        }
        let (region_id, new_region) = self
            .endpoint_region(input.region_id.take(), input.region.take())
            .await?;
        let region_id = region_id.flatten();
        strip_readonly(&mut input.extra);
        let e = Endpoint {
            id: common::ids::hex_id(),
            service_id,
            interface,
            url,
            region_id,
            enabled: input.enabled.unwrap_or(true),
            extra: input.extra,
        };
        let mut tx = self.begin().await?;
        if let Some(r) = &new_region {
            crate::db::catalog::ensure_region(tx.conn(), r).await?;
        }
        crate::db::catalog::insert_endpoint(tx.conn(), &e).await?;
        self.commit(tx).await?;
        Ok(e)
    }

    pub async fn get_endpoint(&self, ctx: &AuthContext, id: &str) -> Result<Endpoint> {
        self.enforce(ctx, "identity:get_endpoint", PolicyTarget::none())?;
        crate::db::catalog::get_endpoint(&self.db.pool, id)
            .await?
            .ok_or_else(|| endpoint_nf(id))
    }

    pub async fn list_endpoints(&self, ctx: &AuthContext, q: &QueryMap) -> Result<Vec<Endpoint>> {
        self.enforce(ctx, "identity:list_endpoints", PolicyTarget::none())?;
        Ok(crate::db::catalog::endpoints(&self.db.pool)
            .await?
            .into_iter()
            .filter(|e| {
                q.get("interface").is_none_or(|i| e.interface == i)
                    && q.get("service_id").is_none_or(|s| e.service_id == s)
                    && q.get("region_id")
                        .is_none_or(|r| e.region_id.as_deref() == Some(r))
            })
            .collect())
    }

    pub async fn update_endpoint(
        &self,
        ctx: &AuthContext,
        id: &str,
        mut input: EndpointInput,
    ) -> Result<Endpoint> {
        self.enforce(ctx, "identity:update_endpoint", PolicyTarget::none())?;
        let mut e = crate::db::catalog::get_endpoint(&self.db.pool, id)
            .await?
            .ok_or_else(|| endpoint_nf(id))?;
        if let Some(s) = input.service_id.take() {
            if crate::db::catalog::get_service(&self.db.pool, &s)
                .await?
                .is_none()
            {
                return Err(Error::bad_request(format!(
                    "Invalid input for field 'service_id': no service {s}."
                )));
            }
            e.service_id = s;
        }
        if let Some(i) = input.interface.take() {
            check_interface(&i)?;
            e.interface = i;
        }
        if let Some(u) = input.url.take() {
            check_url(&u)?;
            e.url = u;
        }
        let (region_id, new_region) = self
            .endpoint_region(input.region_id.take(), input.region.take())
            .await?;
        if let Some(r) = region_id {
            e.region_id = r;
        }
        if let Some(en) = input.enabled {
            e.enabled = en;
        }
        strip_readonly(&mut input.extra);
        e.extra.extend(input.extra);
        let mut tx = self.begin().await?;
        if let Some(r) = &new_region {
            crate::db::catalog::ensure_region(tx.conn(), r).await?;
        }
        crate::db::catalog::update_endpoint(tx.conn(), &e).await?;
        self.commit(tx).await?;
        Ok(e)
    }

    pub async fn delete_endpoint(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        self.enforce(ctx, "identity:delete_endpoint", PolicyTarget::none())?;
        let mut tx = self.begin().await?;
        if crate::db::catalog::delete_endpoint(tx.conn(), id).await? == 0 {
            return Err(endpoint_nf(id));
        }
        self.commit(tx).await
    }
}

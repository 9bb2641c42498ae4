//! Domains: names are unique; a domain must be disabled before it is
//! deleted, and deleting it removes everything it owns.

use super::policy_target::{PolicyTarget, Ref};
use super::{validate_name_max, Identity};
use crate::db::domains::Domain;
use common::context::AuthContext;
use common::http::{Page, QueryMap};
use common::{Error, Result};
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Deserialize, Default)]
pub struct DomainInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub fn not_found(id: &str) -> Error {
    Error::not_found(format!("Could not find domain: {id}."))
}

impl Identity {
    pub async fn create_domain(&self, ctx: &AuthContext, mut input: DomainInput) -> Result<Domain> {
        self.enforce(ctx, "identity:create_domain", PolicyTarget::none())?;
        let name = input
            .name
            .take()
            .ok_or_else(|| Error::bad_request("Invalid input for field 'name': required."))?;
        validate_name_max("name", &name, super::RESOURCE_NAME_MAX)?;
        super::validate_max_len(
            "description",
            input.description.as_deref(),
            super::DESCRIPTION_MAX,
        )?;
        strip_readonly(&mut input.extra);
        let d = Domain {
            id: input.id.unwrap_or_else(common::ids::hex_id),
            name,
            description: input.description.unwrap_or_default(),
            enabled: input.enabled.unwrap_or(true),
            extra: input.extra,
            created_at: self.now(),
        };
        let mut tx = self.begin().await?;
        crate::db::domains::insert(tx.conn(), &d)
            .await
            .map_err(|e| dup(e, "domain", &d.name))?;
        self.commit(tx).await?;
        Ok(d)
    }

    pub async fn get_domain(&self, ctx: &AuthContext, id: &str) -> Result<Domain> {
        let d = crate::db::domains::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.enforce(
            ctx,
            "identity:get_domain",
            PolicyTarget::none().domain(Ref::id(&d.id)),
        )?;
        Ok(d)
    }

    /// One page of `GET /v3/domains`, filtered and paged in SQL.
    pub async fn list_domains(&self, ctx: &AuthContext, q: &QueryMap) -> Result<Page<Domain>> {
        self.enforce(ctx, "identity:list_domains", PolicyTarget::none())?;
        let paging = self.paging(q)?;
        let (name, enabled) = (q.get("name"), q.flag("enabled")?);
        super::listed(crate::db::domains::list_page(&self.db, name, enabled, &paging).await)
    }

    pub async fn update_domain(
        &self,
        ctx: &AuthContext,
        id: &str,
        mut input: DomainInput,
    ) -> Result<Domain> {
        self.enforce(
            ctx,
            "identity:update_domain",
            PolicyTarget::none().domain(Ref::id(id)),
        )?;
        let mut d = crate::db::domains::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        if input.id.as_ref().is_some_and(|i| i != id) {
            return Err(Error::bad_request(
                "Invalid input for field 'id': it cannot be changed.",
            ));
        }
        if let Some(n) = input.name.take() {
            validate_name_max("name", &n, super::RESOURCE_NAME_MAX)?;
            d.name = n;
        }
        super::validate_max_len(
            "description",
            input.description.as_deref(),
            super::DESCRIPTION_MAX,
        )?;
        if let Some(desc) = input.description.take() {
            d.description = desc;
        }
        if let Some(e) = input.enabled {
            d.enabled = e;
        }
        strip_readonly(&mut input.extra);
        d.extra.extend(input.extra);
        let mut tx = self.begin().await?;
        crate::db::domains::update(tx.conn(), &d)
            .await
            .map_err(|e| dup(e, "domain", &d.name))?;
        self.commit(tx).await?;
        Ok(d)
    }

    /// Deletes a disabled domain with its projects, users and groups.
    pub async fn delete_domain(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        self.enforce(
            ctx,
            "identity:delete_domain",
            PolicyTarget::none().domain(Ref::id(id)),
        )?;
        let d = crate::db::domains::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        if d.enabled {
            return Err(Error::forbidden(format!(
                "Cannot delete a domain that is enabled, please disable it first: {id}."
            )));
        }
        let pool = &self.db.pool;
        let mut projects: Vec<_> = crate::db::projects::list(pool)
            .await?
            .into_iter()
            .filter(|p| p.domain_id == id)
            .collect();
        let users: Vec<_> = crate::db::users::list(pool)
            .await?
            .into_iter()
            .filter(|u| u.domain_id == id)
            .collect();
        let groups: Vec<_> = crate::db::groups::list(pool)
            .await?
            .into_iter()
            .filter(|g| g.domain_id == id)
            .collect();
        let roles: Vec<_> = crate::db::roles::list(pool)
            .await?
            .into_iter()
            .filter(|r| r.domain_id.as_deref() == Some(id))
            .collect();
        // Children before parents.
        let depth = |p: &crate::db::projects::Project| {
            let mut n = 0;
            let mut cur = p.parent_id.clone();
            while let Some(c) = cur {
                n += 1;
                cur = projects
                    .iter()
                    .find(|x| x.id == c)
                    .and_then(|x| x.parent_id.clone());
                if n > 1000 {
                    break;
                }
            }
            n
        };
        let mut ordered: Vec<(usize, String)> =
            projects.iter().map(|p| (depth(p), p.id.clone())).collect();
        ordered.sort_by_key(|x| std::cmp::Reverse(x.0));
        projects.clear();
        let mut tx = self.begin().await?;
        for (_, pid) in &ordered {
            crate::db::assignments::delete_for(tx.conn(), pid).await?;
            crate::db::app_creds::delete_for_project(tx.conn(), pid).await?;
            crate::db::projects::delete(tx.conn(), pid).await?;
        }
        for u in &users {
            crate::db::assignments::delete_for(tx.conn(), &u.id).await?;
            crate::db::users::delete(tx.conn(), &u.id).await?;
        }
        for g in &groups {
            crate::db::assignments::delete_for(tx.conn(), &g.id).await?;
            crate::db::groups::delete(tx.conn(), &g.id).await?;
        }
        for r in &roles {
            crate::db::roles::delete(tx.conn(), &r.id).await?;
        }
        crate::db::assignments::delete_for(tx.conn(), id).await?;
        crate::db::domains::delete(tx.conn(), id).await?;
        self.commit(tx).await
    }
}

/// Attributes the server owns; a client sending them back is ignored.
pub(crate) fn strip_readonly(extra: &mut Map<String, Value>) {
    for k in [
        "links",
        "id",
        "tags",
        "options",
        "is_domain",
        "password_expires_at",
        "created_at",
    ] {
        extra.remove(k);
    }
}

/// A unique-constraint failure as Keystone's 409.
pub(crate) fn dup(e: db::sqlx::Error, kind: &str, name: &str) -> Error {
    match Error::from(e) {
        e if e.kind() == common::ErrorKind::Conflict => Error::conflict(format!("Conflict occurred attempting to store {kind} - Duplicate entry found with name {name}.")),
        other => other,
    }
}

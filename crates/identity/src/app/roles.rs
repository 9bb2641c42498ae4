//! Roles and implied roles. Implications may not form a cycle, and no
//! role may imply `admin` (Keystone's `prohibited_implied_role`).

use super::domains::strip_readonly;
use super::policy_target::PolicyTarget;
use super::{validate_name, Identity};
use crate::db::roles::Role;
use common::context::AuthContext;
use common::http::{Page, QueryMap};
use common::{Error, Result};
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Deserialize, Default)]
pub struct RoleInput {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub description: Option<String>,
    pub options: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub fn not_found(id: &str) -> Error {
    Error::not_found(format!("Could not find role: {id}."))
}

fn role_dup(e: db::sqlx::Error, name: &str) -> Error {
    super::domains::dup(e, "role", name)
}

impl Identity {
    pub async fn create_role(&self, ctx: &AuthContext, mut input: RoleInput) -> Result<Role> {
        self.enforce(ctx, "identity:create_role", PolicyTarget::none())?;
        let name = input
            .name
            .take()
            .ok_or_else(|| Error::bad_request("Invalid input for field 'name': required."))?;
        validate_name("name", &name)?;
        super::validate_max_len("domain_id", input.domain_id.as_deref(), super::ID_MAX)?;
        if let Some(d) = &input.domain_id {
            if crate::db::domains::get(&self.db.pool, d).await?.is_none() {
                return Err(Error::bad_request(format!(
                    "Invalid input for field 'domain_id': no domain {d}."
                )));
            }
        }
        strip_readonly(&mut input.extra);
        let r = Role {
            id: common::ids::hex_id(),
            name,
            domain_id: input.domain_id,
            description: input.description.unwrap_or_default(),
            options: input.options.unwrap_or_default(),
            extra: input.extra,
        };
        let mut tx = self.begin().await?;
        crate::db::roles::insert(tx.conn(), &r)
            .await
            .map_err(|e| role_dup(e, &r.name))?;
        self.commit(tx).await?;
        Ok(r)
    }

    pub async fn get_role(&self, ctx: &AuthContext, id: &str) -> Result<Role> {
        self.enforce(ctx, "identity:get_role", PolicyTarget::none())?;
        crate::db::roles::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// One page of `GET /v3/roles`, filtered and paged in SQL.
    pub async fn list_roles(&self, ctx: &AuthContext, q: &QueryMap) -> Result<Page<Role>> {
        self.enforce(ctx, "identity:list_roles", PolicyTarget::none())?;
        let domain = q.get("domain_id");
        let paging = self.paging(q)?;
        super::listed(crate::db::roles::list_page(&self.db, q.get("name"), domain, &paging).await)
    }

    pub async fn update_role(
        &self,
        ctx: &AuthContext,
        id: &str,
        mut input: RoleInput,
    ) -> Result<Role> {
        self.enforce(ctx, "identity:update_role", PolicyTarget::none())?;
        let mut r = crate::db::roles::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        if input.domain_id.is_some() && input.domain_id != r.domain_id {
            return Err(Error::bad_request(
                "Invalid input for field 'domain_id': it cannot be changed.",
            ));
        }
        if let Some(n) = input.name.take() {
            validate_name("name", &n)?;
            r.name = n;
        }
        if let Some(d) = input.description.take() {
            r.description = d;
        }
        if let Some(o) = input.options.take() {
            r.options.extend(o);
        }
        strip_readonly(&mut input.extra);
        r.extra.extend(input.extra);
        let mut tx = self.begin().await?;
        crate::db::roles::update(tx.conn(), &r)
            .await
            .map_err(|e| role_dup(e, &r.name))?;
        self.commit(tx).await?;
        Ok(r)
    }

    pub async fn delete_role(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        self.enforce(ctx, "identity:delete_role", PolicyTarget::none())?;
        let mut tx = self.begin().await?;
        if crate::db::roles::delete(tx.conn(), id).await? == 0 {
            return Err(not_found(id));
        }
        self.commit(tx).await
    }

    /// Both roles of an implication, checked to exist.
    pub async fn implied_pair(
        &self,
        ctx: &AuthContext,
        action: &str,
        prior: &str,
        implied: &str,
    ) -> Result<(Role, Role)> {
        self.enforce(ctx, action, PolicyTarget::none())?;
        let p = crate::db::roles::get(&self.db.pool, prior)
            .await?
            .ok_or_else(|| not_found(prior))?;
        let i = crate::db::roles::get(&self.db.pool, implied)
            .await?
            .ok_or_else(|| not_found(implied))?;
        Ok((p, i))
    }

    pub async fn create_implied_role(
        &self,
        ctx: &AuthContext,
        prior: &str,
        implied: &str,
    ) -> Result<(Role, Role)> {
        let (p, i) = self
            .implied_pair(ctx, "identity:create_implied_role", prior, implied)
            .await?;
        if i.name == "admin" {
            return Err(Error::forbidden(format!(
                "{} is not an allowable implied role.",
                i.name
            )));
        }
        // Keystone's `create_implied_role` checks this before anything
        // else (403): a domain-specific role may imply a global one, a
        // global role may not imply a domain-specific one.
        if p.domain_id.is_none() && i.domain_id.is_some() {
            return Err(Error::forbidden(format!(
                "{implied} cannot be an implied roles: Global role cannot imply a domain-specific role."
            )));
        }
        let snap = self.view().await?;
        if prior == implied || snap.expand_implied([implied.to_string()]).contains(prior) {
            return Err(Error::bad_request(format!(
                "Implying role {} from {} would create a cycle.",
                i.name, p.name
            )));
        }
        let mut tx = self.begin().await?;
        crate::db::roles::add_implied(tx.conn(), prior, implied).await?;
        self.commit(tx).await?;
        Ok((p, i))
    }

    pub async fn check_implied_role(
        &self,
        ctx: &AuthContext,
        action: &str,
        prior: &str,
        implied: &str,
    ) -> Result<(Role, Role)> {
        let pair = self.implied_pair(ctx, action, prior, implied).await?;
        let snap = self.view().await?;
        if !snap
            .implied
            .get(prior)
            .is_some_and(|v| v.iter().any(|x| x == implied))
        {
            return Err(Error::not_found(format!(
                "{prior} does not imply {implied}."
            )));
        }
        Ok(pair)
    }

    pub async fn delete_implied_role(
        &self,
        ctx: &AuthContext,
        prior: &str,
        implied: &str,
    ) -> Result<()> {
        self.implied_pair(ctx, "identity:delete_implied_role", prior, implied)
            .await?;
        let mut tx = self.begin().await?;
        if crate::db::roles::remove_implied(tx.conn(), prior, implied).await? == 0 {
            return Err(Error::not_found(format!(
                "{prior} does not imply {implied}."
            )));
        }
        self.commit(tx).await
    }

    /// Every (prior, [implied]) pair, or just one prior's.
    pub async fn role_inferences(
        &self,
        ctx: &AuthContext,
        prior: Option<&str>,
    ) -> Result<Vec<(Role, Vec<Role>)>> {
        let action = if prior.is_some() {
            "identity:list_implied_roles"
        } else {
            "identity:list_role_inference_rules"
        };
        self.enforce(ctx, action, PolicyTarget::none())?;
        let snap = self.view().await?;
        if let Some(p) = prior {
            if !snap.roles.contains_key(p) {
                return Err(not_found(p));
            }
        }
        let mut out: Vec<(Role, Vec<Role>)> = Vec::new();
        let mut priors: Vec<&String> = snap
            .implied
            .keys()
            .filter(|k| prior.is_none_or(|p| p == k.as_str()))
            .collect();
        priors.sort();
        for p in priors {
            let Some(pr) = snap.roles.get(p) else {
                continue;
            };
            let imps = snap
                .implied
                .get(p)
                .map(|v| {
                    v.iter()
                        .filter_map(|i| snap.roles.get(i).cloned())
                        .collect()
                })
                .unwrap_or_default();
            out.push((pr.clone(), imps));
        }
        if let (Some(p), true) = (prior, out.is_empty()) {
            if let Some(pr) = snap.roles.get(p) {
                out.push((pr.clone(), vec![]));
            }
        }
        Ok(out)
    }
}

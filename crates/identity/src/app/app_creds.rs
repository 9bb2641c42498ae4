//! Application credentials: a secret bound to one user and one project
//! with a subset of the user's roles on it, optionally expiring. Created
//! from a project-scoped token; a restricted credential's token may not
//! create or delete credentials.

use super::policy_target::{PolicyTarget, Ref};
use super::{validate_name, Identity};
use crate::db::app_creds::AppCred;
use common::context::{AuthContext, Scope};
use common::http::{Page, QueryMap};
use common::{Error, Result};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AppCredInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub secret: Option<String>,
    pub expires_at: Option<String>,
    pub roles: Option<Vec<RoleSel>>,
    pub unrestricted: Option<bool>,
    pub access_rules: Option<Vec<Value>>,
    pub system: Option<Value>,
    pub project_id: Option<String>,
}

#[derive(Debug, Deserialize, Clone, utoipa::ToSchema)]
pub struct RoleSel {
    pub id: Option<String>,
    pub name: Option<String>,
}

fn not_found(id: &str) -> Error {
    Error::not_found(format!("Could not find Application Credential: {id}."))
}

impl Identity {
    fn owner_target(user_id: &str) -> PolicyTarget {
        PolicyTarget::none().user_id(user_id).user(Ref::id(user_id))
    }

    fn forbid_restricted(ctx: &AuthContext, snap: &super::snapshot::Snapshot) -> Result<()> {
        if let Some(ac) = ctx
            .application_credential_id
            .as_ref()
            .and_then(|id| snap.app_creds.get(id))
        {
            if !ac.unrestricted {
                return Err(Error::forbidden(
                    "Using a restricted application credential to manage application credentials is not allowed.",
                ));
            }
        }
        Ok(())
    }

    /// Returns the credential and its secret (shown only here).
    pub async fn create_app_cred(
        &self,
        ctx: &AuthContext,
        user_id: &str,
        input: AppCredInput,
    ) -> Result<(AppCred, String)> {
        self.enforce(
            ctx,
            "identity:create_application_credential",
            Self::owner_target(user_id),
        )?;
        let snap = self.view().await?;
        Self::forbid_restricted(ctx, &snap)?;
        let rules =
            parse_access_rules(&snap, user_id, input.access_rules.as_deref().unwrap_or(&[]))?;
        if input.system.is_some() {
            return Err(Error::bad_request("Invalid input for field 'system': only project-scoped application credentials are supported."));
        }
        let Scope::Project { id: project_id, .. } = &ctx.scope else {
            return Err(Error::forbidden(
                "Application credentials require a project-scoped token.",
            ));
        };
        if input.project_id.as_ref().is_some_and(|p| p != project_id) {
            return Err(Error::bad_request(
                "Invalid input for field 'project_id': it must be the token's project.",
            ));
        }
        let name = input
            .name
            .ok_or_else(|| Error::bad_request("Invalid input for field 'name': required."))?;
        validate_name("name", &name)?;
        let expires_at = match input.expires_at.as_deref() {
            None => None,
            Some(s) => {
                let t = common::clock::parse_iso(s).ok_or_else(|| {
                    Error::bad_request(format!(
                        "Invalid input for field 'expires_at': {s:?} is not a timestamp."
                    ))
                })?;
                if t <= self.now() {
                    return Err(Error::bad_request(
                        "Invalid input for field 'expires_at': it is in the past.",
                    ));
                }
                Some(t)
            }
        };
        // Roles: a subset of the token's, by id or name; absent or empty
        // means all of them (python-openstackclient sends `[]`).
        let role_ids: Vec<String> = match input.roles.filter(|r| !r.is_empty()) {
            None => ctx.roles.iter().map(|r| r.id.clone()).collect(),
            Some(sel) => {
                let mut out = Vec::new();
                for s in sel {
                    let found = ctx.roles.iter().find(|r| {
                        s.id.as_deref().is_some_and(|i| i == r.id)
                            || s.name.as_deref().is_some_and(|n| n == r.name)
                    });
                    match found {
                        Some(r) if !out.contains(&r.id) => out.push(r.id.clone()),
                        Some(_) => {}
                        None => {
                            return Err(Error::forbidden(format!(
                                "The user does not hold the requested role {} on the project.",
                                s.id.or(s.name).unwrap_or_default()
                            )))
                        }
                    }
                }
                out
            }
        };
        if role_ids.is_empty() {
            return Err(Error::bad_request(
                "Invalid input for field 'roles': at least one role is required.",
            ));
        }
        let secret = match input.secret {
            Some(s) if !s.is_empty() => s,
            Some(_) => {
                return Err(Error::bad_request(
                    "Invalid input for field 'secret': it must not be empty.",
                ))
            }
            None => common::ids::random_secret(64),
        };
        let cred = AppCred {
            id: common::ids::hex_id(),
            name,
            user_id: user_id.to_string(),
            project_id: Some(project_id.clone()),
            system: None,
            secret_hash: crate::password::hash_async(secret.clone(), self.settings.hash).await?,
            description: input.description.unwrap_or_default(),
            expires_at,
            unrestricted: input.unrestricted.unwrap_or(false),
            created_at: self.now(),
            role_ids,
        };
        let mut tx = self.begin().await?;
        crate::db::app_creds::insert(tx.conn(), &cred).await.map_err(|e| match Error::from(e) {
            e if e.kind() == common::ErrorKind::Conflict => Error::conflict(format!(
                "Conflict occurred attempting to store application_credential - Duplicate entry found with name {}.",
                cred.name
            )),
            other => other,
        })?;
        for r in &rules {
            let id = crate::db::access_rules::ensure(tx.conn(), r).await?;
            crate::db::access_rules::link(tx.conn(), &cred.id, &id).await?;
        }
        self.commit(tx).await?;
        Ok((cred, secret))
    }

    /// One page of the user's application credentials (named `name`,
    /// when the request asks), filtered and paged in SQL.
    pub async fn list_app_creds(
        &self,
        ctx: &AuthContext,
        user_id: &str,
        q: &QueryMap,
    ) -> Result<Page<AppCred>> {
        self.enforce(
            ctx,
            "identity:list_application_credentials",
            Self::owner_target(user_id),
        )?;
        if crate::db::users::get(&self.db.pool, user_id)
            .await?
            .is_none()
        {
            return Err(super::users::not_found(user_id));
        }
        let paging = self.paging(q)?;
        super::listed(
            crate::db::app_creds::list_page(&self.db, user_id, q.get("name"), &paging).await,
        )
    }

    /// Another user's credential is a 404, never a 403.
    pub async fn get_app_cred(
        &self,
        ctx: &AuthContext,
        user_id: &str,
        id: &str,
    ) -> Result<AppCred> {
        self.enforce(
            ctx,
            "identity:get_application_credential",
            Self::owner_target(user_id),
        )
        .map_err(|_| not_found(id))?;
        let snap = self.view().await?;
        snap.app_creds
            .get(id)
            .filter(|a| a.user_id == user_id)
            .cloned()
            .ok_or_else(|| not_found(id))
    }

    pub async fn delete_app_cred(&self, ctx: &AuthContext, user_id: &str, id: &str) -> Result<()> {
        self.enforce(
            ctx,
            "identity:delete_application_credential",
            Self::owner_target(user_id),
        )
        .map_err(|_| not_found(id))?;
        let snap = self.view().await?;
        Self::forbid_restricted(ctx, &snap)?;
        if snap.app_creds.get(id).is_none_or(|a| a.user_id != user_id) {
            return Err(not_found(id));
        }
        let mut tx = self.begin().await?;
        crate::db::app_creds::delete(tx.conn(), id).await?;
        self.commit(tx).await
    }
}

/// Access rules given on create: an existing rule of the user by `id`, or
/// `service`, `method` and `path` (a new rule, or the user's identical one).
fn parse_access_rules(
    snap: &super::snapshot::Snapshot,
    user_id: &str,
    given: &[Value],
) -> Result<Vec<crate::db::access_rules::AccessRuleRow>> {
    const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    let mut out = Vec::new();
    for (i, v) in given.iter().enumerate() {
        let field = |f: &str| v.get(f).and_then(Value::as_str);
        if let Some(id) = field("id") {
            let r = snap
                .access_rules
                .get(id)
                .filter(|r| r.user_id == user_id)
                .ok_or_else(|| {
                    Error::bad_request(format!(
                        "Invalid input for field 'access_rules.{i}.id': no rule {id}."
                    ))
                })?;
            out.push(r.clone());
            continue;
        }
        let (Some(service), Some(method), Some(path)) =
            (field("service"), field("method"), field("path"))
        else {
            return Err(Error::bad_request(format!(
                "Invalid input for field 'access_rules.{i}': 'service', 'method' and 'path' (or 'id') are required."
            )));
        };
        if !METHODS.contains(&method) {
            return Err(Error::bad_request(format!(
                "Invalid input for field 'access_rules.{i}.method': {method:?}."
            )));
        }
        if !path.starts_with('/') || path.len() > 225 {
            return Err(Error::bad_request(format!(
                "Invalid input for field 'access_rules.{i}.path': {path:?}."
            )));
        }
        if service.is_empty() || service.len() > 64 {
            return Err(Error::bad_request(format!(
                "Invalid input for field 'access_rules.{i}.service'."
            )));
        }
        out.push(crate::db::access_rules::AccessRuleRow {
            id: common::ids::hex_id(),
            user_id: user_id.to_string(),
            service: service.to_string(),
            method: method.to_string(),
            path: path.to_string(),
        });
    }
    Ok(out)
}

fn rule_nf(id: &str) -> Error {
    Error::not_found(format!("Could not find access rule: {id}."))
}

impl Identity {
    /// One page of the user's access rules, paged in SQL.
    pub async fn list_access_rules(
        &self,
        ctx: &AuthContext,
        user_id: &str,
        q: &QueryMap,
    ) -> Result<Page<crate::db::access_rules::AccessRuleRow>> {
        self.enforce(
            ctx,
            "identity:list_access_rules",
            Self::owner_target(user_id),
        )?;
        let paging = self.paging(q)?;
        super::listed(crate::db::access_rules::list_page(&self.db, user_id, &paging).await)
    }

    pub async fn get_access_rule(
        &self,
        ctx: &AuthContext,
        user_id: &str,
        id: &str,
    ) -> Result<crate::db::access_rules::AccessRuleRow> {
        self.enforce(ctx, "identity:get_access_rule", Self::owner_target(user_id))
            .map_err(|_| rule_nf(id))?;
        let snap = self.view().await?;
        snap.access_rules
            .get(id)
            .filter(|r| r.user_id == user_id)
            .cloned()
            .ok_or_else(|| rule_nf(id))
    }

    /// A rule still used by an application credential cannot go.
    pub async fn delete_access_rule(
        &self,
        ctx: &AuthContext,
        user_id: &str,
        id: &str,
    ) -> Result<()> {
        self.get_access_rule(ctx, user_id, id).await?;
        self.enforce(
            ctx,
            "identity:delete_access_rule",
            Self::owner_target(user_id),
        )?;
        let mut tx = self.begin().await?;
        if crate::db::access_rules::delete_unused(tx.conn(), id).await? == 0 {
            return Err(Error::forbidden(format!(
                "Access rule {id} is in use by an application credential."
            )));
        }
        self.commit(tx).await
    }
}

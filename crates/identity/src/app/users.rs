//! Users: unique names within a domain, hashed passwords, self-service
//! password change, and token revocation when a password changes.

use super::domains::{dup, strip_readonly};
use super::policy_target::{PolicyTarget, Ref};
use super::projects::caller_domain;
use super::{validate_name, Identity};
use crate::db::users::User;
use common::context::AuthContext;
use common::http::{Page, QueryMap};
use common::{Error, Result};
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Deserialize, Default)]
pub struct UserInput {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    #[serde(default, deserialize_with = "super::double_option")]
    pub password: Option<Option<String>>,
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "super::double_option")]
    pub default_project_id: Option<Option<String>>,
    pub options: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    pub password: String,
    pub original_password: String,
}

pub fn not_found(id: &str) -> Error {
    Error::not_found(format!("Could not find user: {id}."))
}

fn target(u: &User) -> PolicyTarget {
    PolicyTarget::none()
        .user(Ref::owned(&u.id, &u.domain_id))
        .user_id(&u.id)
        .domain_id(u.domain_id.as_str())
}

fn validate_password(p: &str) -> Result<()> {
    if p.is_empty() || p.len() > 4096 {
        return Err(Error::bad_request(
            "Invalid input for field 'password': 1 to 4096 characters.",
        ));
    }
    Ok(())
}

impl Identity {
    pub async fn create_user(&self, ctx: &AuthContext, mut input: UserInput) -> Result<User> {
        let name = input
            .name
            .take()
            .ok_or_else(|| Error::bad_request("Invalid input for field 'name': required."))?;
        validate_name("name", &name)?;
        super::validate_max_len("domain_id", input.domain_id.as_deref(), super::ID_MAX)?;
        let domain_id = input.domain_id.take().unwrap_or_else(|| caller_domain(ctx));
        self.enforce(
            ctx,
            "identity:create_user",
            PolicyTarget::none()
                .user(Ref::in_domain(domain_id.as_str()))
                .domain_id(domain_id.as_str()),
        )?;
        let pool = &self.db.pool;
        if crate::db::domains::get(pool, &domain_id).await?.is_none() {
            // Keystone's identity layer looks the domain up first: 404.
            return Err(super::domains::not_found(&domain_id));
        }
        let default_project_id = input.default_project_id.flatten();
        if let Some(dp) = &default_project_id {
            if crate::db::projects::get(pool, dp).await?.is_none() {
                return Err(Error::bad_request(format!(
                    "Invalid input for field 'default_project_id': no project {dp}."
                )));
            }
        }
        let now = self.now();
        let (password_hash, password_created_at) = match input.password.flatten() {
            Some(p) => {
                validate_password(&p)?;
                self.vet_new_password(None, &p).await?;
                (
                    Some(crate::password::hash_async(p, self.settings.hash).await?),
                    Some(now),
                )
            }
            None => (None, None),
        };
        strip_readonly(&mut input.extra);
        let u = User {
            id: common::ids::hex_id(),
            name,
            domain_id,
            enabled: input.enabled.unwrap_or(true),
            default_project_id,
            password_hash,
            password_created_at,
            password_expires_at: password_created_at.and_then(|t| self.password_expiry(t)),
            extra: input.extra,
            options: input.options.unwrap_or_default(),
            created_at: now,
        };
        let mut tx = self.begin().await?;
        crate::db::users::insert(tx.conn(), &u)
            .await
            .map_err(|e| dup(e, "user", &u.name))?;
        self.remember_password(tx.conn(), &u).await?;
        // Password history is not part of the view; the user row is.
        self.commit_change(tx, Some(super::snapshot::Change::User(u.clone())))
            .await?;
        Ok(u)
    }

    pub async fn get_user(&self, ctx: &AuthContext, id: &str) -> Result<User> {
        let u = crate::db::users::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.enforce(ctx, "identity:get_user", target(&u))?;
        Ok(u)
    }

    /// One page of `GET /v3/users`, filtered and paged in SQL.
    pub async fn list_users(&self, ctx: &AuthContext, q: &QueryMap) -> Result<Page<User>> {
        let domain = q.get("domain_id");
        self.enforce(
            ctx,
            "identity:list_users",
            PolicyTarget::none().within(domain).domain_id(domain),
        )?;
        let filter = crate::db::users::UserFilter {
            name: q.get("name"),
            domain_id: domain,
            enabled: q.flag("enabled")?,
        };
        let paging = self.paging(q)?;
        super::listed(crate::db::users::list_page(&self.db, &filter, &paging).await)
    }

    pub async fn update_user(
        &self,
        ctx: &AuthContext,
        id: &str,
        mut input: UserInput,
    ) -> Result<User> {
        let mut u = crate::db::users::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.enforce(ctx, "identity:update_user", target(&u))?;
        if input.domain_id.as_ref().is_some_and(|d| *d != u.domain_id) {
            return Err(Error::bad_request(
                "Invalid input for field 'domain_id': it cannot be changed.",
            ));
        }
        if let Some(n) = input.name.take() {
            validate_name("name", &n)?;
            u.name = n;
        }
        if let Some(e) = input.enabled {
            u.enabled = e;
        }
        if let Some(dp) = input.default_project_id.take() {
            if let Some(p) = &dp {
                if crate::db::projects::get(&self.db.pool, p).await?.is_none() {
                    return Err(Error::bad_request(format!(
                        "Invalid input for field 'default_project_id': no project {p}."
                    )));
                }
            }
            u.default_project_id = dp;
        }
        if let Some(o) = input.options.take() {
            u.options.extend(o);
        }
        let password_changed = match input.password.take() {
            Some(Some(p)) => {
                validate_password(&p)?;
                self.vet_new_password(Some(&u), &p).await?;
                u.password_hash = Some(crate::password::hash_async(p, self.settings.hash).await?);
                u.password_created_at = Some(self.now());
                u.password_expires_at = self.password_expiry(self.now());
                true
            }
            Some(None) => {
                u.password_hash = None;
                true
            }
            None => false,
        };
        strip_readonly(&mut input.extra);
        u.extra.extend(input.extra);
        let mut tx = self.begin().await?;
        crate::db::users::update(tx.conn(), &u)
            .await
            .map_err(|e| dup(e, "user", &u.name))?;
        if password_changed && u.password_hash.is_some() {
            self.remember_password(tx.conn(), &u).await?;
        }
        if password_changed {
            self.revoke_user_in(tx.conn(), &u.id, None).await?;
            self.commit(tx).await?;
        } else {
            // Only the user row changed (password history is not in the
            // view), so the view is brought forward in memory.
            self.commit_change(tx, Some(super::snapshot::Change::User(u.clone())))
                .await?;
        }
        Ok(u)
    }

    pub async fn delete_user(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let u = crate::db::users::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.enforce(ctx, "identity:delete_user", target(&u))?;
        let mut tx = self.begin().await?;
        crate::db::assignments::delete_for(tx.conn(), id).await?;
        crate::db::users::delete(tx.conn(), id).await?;
        self.commit(tx).await
    }

    /// `POST /v3/users/{id}/password`: needs the original password, not a
    /// token (so a user can change an expired password), and revokes the
    /// user's existing tokens.
    pub async fn change_password(&self, id: &str, change: PasswordChange) -> Result<()> {
        validate_password(&change.password)?;
        let u = crate::db::users::get(&self.db.pool, id).await?;
        let hash = u
            .as_ref()
            .and_then(|u| u.password_hash.clone())
            .unwrap_or_else(|| self.dummy_hash().to_string());
        let ok = crate::password::verify_async(change.original_password, hash).await;
        let mut u = match u {
            Some(u) if ok && u.password_hash.is_some() && u.enabled => u,
            _ => {
                return Err(Error::unauthorized(
                    "The request you have made requires authentication.",
                ))
            }
        };
        let min_age = i64::from(self.settings.compliance.minimum_password_age) * 86_400_000_000;
        if min_age > 0
            && u.password_created_at
                .is_some_and(|t| t + min_age > self.now())
        {
            return Err(Error::bad_request(format!(
                "You cannot change your password at this time due to the minimum password age. \
                 Once you change your password, it must be used for {} day(s) before it can be changed.",
                self.settings.compliance.minimum_password_age
            )));
        }
        self.vet_new_password(Some(&u), &change.password).await?;
        u.password_hash =
            Some(crate::password::hash_async(change.password, self.settings.hash).await?);
        u.password_created_at = Some(self.now());
        u.password_expires_at = self.password_expiry(self.now());
        let mut tx = self.begin().await?;
        crate::db::users::update(tx.conn(), &u).await?;
        self.remember_password(tx.conn(), &u).await?;
        self.revoke_user_in(tx.conn(), &u.id, None).await?;
        self.commit(tx).await
    }

    /// `GET /v3/users/{id}/projects`: projects where the user has a role.
    pub async fn list_user_projects(
        &self,
        ctx: &AuthContext,
        id: &str,
    ) -> Result<Vec<crate::db::projects::Project>> {
        let u = crate::db::users::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.enforce(ctx, "identity:list_user_projects", target(&u))?;
        let snap = self.view().await?;
        let mut v: Vec<_> = snap
            .projects
            .values()
            .filter(|p| {
                !snap
                    .effective_roles(id, &super::snapshot::Target::Project(p.id.clone()))
                    .is_empty()
            })
            .cloned()
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v)
    }
}

impl Identity {
    /// When a password set at `at` expires, if passwords expire.
    fn password_expiry(&self, at: i64) -> Option<i64> {
        let days = i64::from(self.settings.compliance.password_expires_days);
        (days > 0).then(|| at + days * 86_400_000_000)
    }

    /// A new password must match the configured regex and, when password
    /// history is on, differ from the user's last N passwords.
    async fn vet_new_password(&self, user: Option<&User>, password: &str) -> Result<()> {
        let c = &self.settings.compliance;
        if let Some(re) = &c.password_regex {
            if !re.is_match(password) {
                let why = if c.password_regex_description.is_empty() {
                    "it does not meet the password requirements".to_string()
                } else {
                    c.password_regex_description.clone()
                };
                return Err(Error::bad_request(format!(
                    "Password validation error: {why}."
                )));
            }
        }
        let n = c.unique_last_password_count as usize;
        if let (Some(u), true) = (user, n > 0) {
            let mut previous = crate::db::users::password_history(&self.db.pool, &u.id).await?;
            if let Some(h) = &u.password_hash {
                if !previous.contains(h) {
                    previous.insert(0, h.clone());
                }
            }
            for h in previous.into_iter().take(n) {
                if crate::password::verify_async(password.to_string(), h).await {
                    return Err(Error::bad_request(format!(
                        "The new password cannot be identical to a previous password. \
                         The total number which includes the new password must be unique is {n}."
                    )));
                }
            }
        }
        Ok(())
    }

    /// Records the user's current password in the history, when kept.
    async fn remember_password(&self, conn: &mut crate::db::Conn, u: &User) -> Result<()> {
        let n = i64::from(self.settings.compliance.unique_last_password_count);
        if let (Some(h), true) = (&u.password_hash, n > 0) {
            crate::db::users::push_password_history(conn, &u.id, h, self.now(), n).await?;
        }
        Ok(())
    }
}

//! Trusts (`/v3/OS-TRUST/trusts`): a trustor delegates a subset of its
//! roles on one project to a trustee, optionally letting the trustee act
//! as the trustor (impersonation), for a limited time or number of uses,
//! and optionally allowing the trustee to delegate further (redelegation,
//! bounded by a depth that shrinks at each step).

use super::policy_target::{PolicyTarget, TrustRef};
use super::snapshot::{Snapshot, Target};
use super::Identity;
use crate::db::trusts::Trust;
use crate::token::format::TokenScope;
use common::context::AuthContext;
use common::http::{Page, QueryMap};
use common::{Error, Result};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Keystone's `[trust] max_redelegation_count`.
const MAX_REDELEGATION: i64 = 3;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TrustInput {
    pub trustor_user_id: String,
    pub trustee_user_id: String,
    pub impersonation: bool,
    pub project_id: Option<String>,
    #[serde(default)]
    pub roles: Vec<super::app_creds::RoleSel>,
    pub expires_at: Option<String>,
    pub remaining_uses: Option<i64>,
    #[serde(default)]
    pub allow_redelegation: bool,
    pub redelegation_count: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn not_found(id: &str) -> Error {
    Error::not_found(format!("Could not find trust: {id}."))
}

fn target(t: &Trust) -> PolicyTarget {
    PolicyTarget::none().trust(TrustRef::between(&t.trustor_user_id, &t.trustee_user_id))
}

impl Identity {
    pub async fn create_trust(&self, ctx: &AuthContext, input: TrustInput) -> Result<Trust> {
        self.enforce(
            ctx,
            "identity:create_trust",
            PolicyTarget::none().trust_requested(TrustRef::trustor(&input.trustor_user_id)),
        )?;
        let snap = self.view().await?;
        if !snap.users.contains_key(&input.trustee_user_id) {
            return Err(Error::not_found(format!(
                "Could not find user: {}.",
                input.trustee_user_id
            )));
        }
        let now = self.now();
        let expires_at = match input.expires_at.as_deref() {
            None => None,
            Some(s) => {
                let t = common::clock::parse_iso(s).ok_or_else(|| {
                    Error::bad_request(format!("Invalid input for field 'expires_at': {s:?}."))
                })?;
                if t <= now {
                    return Err(Error::bad_request(
                        "Invalid input for field 'expires_at': it is in the past.",
                    ));
                }
                Some(t)
            }
        };
        if input.remaining_uses.is_some_and(|n| n <= 0) {
            return Err(Error::bad_request(
                "Invalid input for field 'remaining_uses': it must be positive.",
            ));
        }
        if input.project_id.is_none() && !input.roles.is_empty() {
            return Err(Error::bad_request(
                "Invalid input: roles require a project_id.",
            ));
        }
        // The roles, resolved by id or name, must be held by the trustor
        // (through the token's own trust when redelegating).
        let held: Vec<String> = match &input.project_id {
            Some(p) if ctx.trust_id.is_some() => {
                if ctx.project_id() != Some(p.as_str()) {
                    return Err(Error::forbidden(
                        "A redelegated trust must stay on the same project.",
                    ));
                }
                ctx.roles.iter().map(|r| r.id.clone()).collect()
            }
            Some(p) => {
                if !snap.projects.contains_key(p) {
                    return Err(Error::not_found(format!("Could not find project: {p}.")));
                }
                snap.effective_roles(&input.trustor_user_id, &Target::Project(p.clone()))
                    .as_ref()
                    .clone()
            }
            None => vec![],
        };
        let mut role_ids = Vec::new();
        for sel in &input.roles {
            // python-openstackclient sends a name in `id` when the caller
            // may not list roles (a member creating a trust): accept that.
            let found = snap
                .roles
                .values()
                .find(|r| sel.id.as_deref().is_some_and(|i| i == r.id))
                .or_else(|| {
                    let name = sel.name.as_deref().or(sel.id.as_deref());
                    snap.roles
                        .values()
                        .find(|r| name.is_some_and(|n| n == r.name) && r.domain_id.is_none())
                });
            let r = found.ok_or_else(|| {
                Error::not_found(format!(
                    "Could not find role: {}.",
                    sel.id.clone().or(sel.name.clone()).unwrap_or_default()
                ))
            })?;
            if !held.contains(&r.id) {
                return Err(Error::forbidden(format!(
                    "The trustor does not hold the role {} on the project.",
                    r.name
                )));
            }
            if !role_ids.contains(&r.id) {
                role_ids.push(r.id.clone());
            }
        }
        // Redelegation: creating a trust with a trust-scoped token.
        let (mut redelegation_count, mut redelegated_trust_id) = (0, None);
        if let Some(parent_id) = &ctx.trust_id {
            let parent = snap
                .trusts
                .get(parent_id)
                .ok_or_else(|| not_found(parent_id))?;
            if !parent.allow_redelegation || parent.redelegation_count <= 0 {
                return Err(Error::forbidden(
                    "The trust this token came from may not be redelegated.",
                ));
            }
            if !role_ids.iter().all(|r| parent.role_ids.contains(r)) {
                return Err(Error::forbidden(
                    "A redelegated trust may only carry roles of the trust it comes from.",
                ));
            }
            if parent
                .expires_at
                .is_some_and(|pe| expires_at.is_none_or(|e| e > pe))
            {
                return Err(Error::forbidden(
                    "A redelegated trust may not outlive the trust it comes from.",
                ));
            }
            redelegation_count = parent.redelegation_count - 1;
            redelegated_trust_id = Some(parent.id.clone());
        } else if input.allow_redelegation {
            redelegation_count = input.redelegation_count.unwrap_or(MAX_REDELEGATION);
            if !(0..=MAX_REDELEGATION).contains(&redelegation_count) {
                return Err(Error::bad_request(format!(
                    "Invalid input for field 'redelegation_count': 0 to {MAX_REDELEGATION}."
                )));
            }
        }
        let mut extra = input.extra;
        super::domains::strip_readonly(&mut extra);
        let t = Trust {
            id: common::ids::hex_id(),
            trustor_user_id: input.trustor_user_id,
            trustee_user_id: input.trustee_user_id,
            project_id: input.project_id,
            impersonation: input.impersonation,
            expires_at,
            remaining_uses: input.remaining_uses,
            allow_redelegation: input.allow_redelegation && redelegation_count > 0,
            redelegation_count,
            redelegated_trust_id,
            deleted_at: None,
            extra,
            created_at: now,
            role_ids,
        };
        let mut tx = self.begin().await?;
        crate::db::trusts::insert(tx.conn(), &t).await?;
        self.commit(tx).await?;
        Ok(t)
    }

    /// One page of `GET /v3/OS-TRUST/trusts`, filtered and paged in SQL,
    /// as Keystone's `TrustResource.get` decides it: with
    /// `trustor_user_id` (or else `trustee_user_id`), the trusts of that
    /// user under `identity:list_trusts_for_trustor` (`…_for_trustee`),
    /// which admits the user themself; with neither, every trust under
    /// `identity:list_trusts` (admins, system readers; a 403 for anyone
    /// else, who lists their own through the filters).
    pub async fn list_trusts(&self, ctx: &AuthContext, q: &QueryMap) -> Result<Page<Trust>> {
        let trustor = q.get("trustor_user_id");
        let trustee = q.get("trustee_user_id");
        let filter = if let Some(u) = trustor {
            self.enforce(
                ctx,
                "identity:list_trusts_for_trustor",
                PolicyTarget::none().trust(TrustRef::trustor(u)),
            )?;
            crate::db::trusts::TrustFilter {
                trustor_user_id: Some(u),
                trustee_user_id: None,
            }
        } else if let Some(u) = trustee {
            self.enforce(
                ctx,
                "identity:list_trusts_for_trustee",
                PolicyTarget::none().trust(TrustRef::trustee(u)),
            )?;
            crate::db::trusts::TrustFilter {
                trustor_user_id: None,
                trustee_user_id: Some(u),
            }
        } else {
            self.enforce(ctx, "identity:list_trusts", PolicyTarget::none())?;
            crate::db::trusts::TrustFilter::default()
        };
        let paging = self.paging(q)?;
        super::listed(crate::db::trusts::list_page(&self.db, &filter, &paging).await)
    }

    pub async fn get_trust(&self, ctx: &AuthContext, id: &str) -> Result<Trust> {
        let snap = self.view().await?;
        let t = snap.trusts.get(id).cloned().ok_or_else(|| not_found(id))?;
        self.enforce(ctx, "identity:get_trust", target(&t))
            .map_err(|_| not_found(id))?;
        Ok(t)
    }

    /// Deleting a trust ends every token issued through it at once.
    pub async fn delete_trust(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let t = self.get_trust(ctx, id).await?;
        self.enforce(ctx, "identity:delete_trust", target(&t))?;
        let mut tx = self.begin().await?;
        crate::db::trusts::soft_delete(tx.conn(), id, self.now()).await?;
        self.commit(tx).await
    }

    /// Authenticating into a trust: `authenticated` must be its trustee.
    /// Returns the token's user and scope, having used one of its uses.
    pub(crate) async fn use_trust(
        &self,
        snap: &Snapshot,
        id: &str,
        authenticated: &str,
    ) -> Result<(String, TokenScope)> {
        let forbidden = || Error::forbidden(format!("The trust {id} cannot be used by this user."));
        let t = snap
            .trusts
            .get(id)
            .ok_or_else(|| Error::unauthorized(format!("Could not find trust: {id}.")))?;
        if t.trustee_user_id != authenticated {
            return Err(forbidden());
        }
        if t.expires_at.is_some_and(|e| e <= self.now()) {
            return Err(Error::unauthorized("The trust has expired."));
        }
        if !snap.user_usable(&t.trustor_user_id) {
            return Err(forbidden());
        }
        let mut tx = self.begin().await?;
        if !crate::db::trusts::consume_use(tx.conn(), id).await? {
            return Err(Error::forbidden(format!(
                "The trust {id} has no uses left."
            )));
        }
        self.commit(tx).await?;
        let user = if t.impersonation {
            t.trustor_user_id.clone()
        } else {
            t.trustee_user_id.clone()
        };
        let scope = t
            .project_id
            .clone()
            .map(TokenScope::Project)
            .unwrap_or(TokenScope::Unscoped);
        Ok((user, scope))
    }

    /// The roles a trust-scoped token carries: the trust's (and what they
    /// imply), as long as the trustor still holds them all.
    pub(crate) fn trust_roles(
        &self,
        snap: &Snapshot,
        id: &str,
        token_user: &str,
    ) -> Result<Vec<String>> {
        let nf = || Error::not_found("Could not find token.");
        let t = snap.trusts.get(id).ok_or_else(nf)?;
        if t.expires_at.is_some_and(|e| e <= self.now())
            || !snap.user_usable(&t.trustor_user_id)
            || !snap.user_usable(&t.trustee_user_id)
            || (token_user != t.trustor_user_id && token_user != t.trustee_user_id)
        {
            return Err(nf());
        }
        let Some(project) = &t.project_id else {
            return Ok(vec![]);
        };
        let held = snap.effective_roles(&t.trustor_user_id, &Target::Project(project.clone()));
        if !t.role_ids.iter().all(|r| held.contains(r)) {
            return Err(nf());
        }
        let mut roles: Vec<String> = snap
            .expand_implied(t.role_ids.iter().cloned())
            .into_iter()
            .filter(|r| snap.roles.get(r).is_some_and(|x| x.domain_id.is_none()))
            .collect();
        roles.sort_by(|a, b| snap.role_name(a).cmp(snap.role_name(b)));
        Ok(roles)
    }
}

//! What the caller's token can reach (`/v3/auth/{catalog,projects,
//! domains,system}`), and the policy check on a subject token (`/v3/auth/
//! tokens` with `X-Subject-Token`).

use super::policy_target::PolicyTarget;
use super::snapshot::{Snapshot, Target};
use super::Identity;
use crate::db::domains::Domain;
use crate::db::projects::Project;
use common::context::{AuthContext, Scope};
use common::{Error, Result};
use std::sync::Arc;

impl Identity {
    /// The subject token's context, once the caller may do `action`
    /// (validate or check) on it.
    pub async fn validate_subject(
        &self,
        caller: &AuthContext,
        token: &str,
        action: &str,
    ) -> Result<Arc<AuthContext>> {
        let ctx = self.validate(token).await?;
        self.enforce(caller, action, PolicyTarget::none().token_of(&ctx.user_id))?;
        Ok(ctx)
    }

    /// `GET /v3/auth/catalog`: the view to draw the caller's catalog
    /// from; a scoped token is required.
    pub async fn auth_catalog(&self, caller: &AuthContext) -> Result<Arc<Snapshot>> {
        self.enforce(caller, "identity:get_auth_catalog", PolicyTarget::none())?;
        if caller.scope == Scope::Unscoped {
            return Err(Error::forbidden(
                "A scoped token is required to produce a service catalog.",
            ));
        }
        self.view().await
    }

    /// `GET /v3/auth/projects`: the usable projects the caller has a role
    /// on, by id.
    pub async fn auth_projects(&self, caller: &AuthContext) -> Result<Vec<Project>> {
        self.enforce(caller, "identity:get_auth_projects", PolicyTarget::none())?;
        let snap = self.view().await?;
        let mut ps: Vec<Project> = snap
            .projects
            .values()
            .filter(|p| {
                snap.project_usable(&p.id)
                    && !snap
                        .effective_roles(&caller.user_id, &Target::Project(p.id.clone()))
                        .is_empty()
            })
            .cloned()
            .collect();
        ps.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(ps)
    }

    /// `GET /v3/auth/domains`: the enabled domains the caller has a role
    /// on, by id.
    pub async fn auth_domains(&self, caller: &AuthContext) -> Result<Vec<Domain>> {
        self.enforce(caller, "identity:get_auth_domains", PolicyTarget::none())?;
        let snap = self.view().await?;
        let mut ds: Vec<Domain> = snap
            .domains
            .values()
            .filter(|d| {
                d.enabled
                    && !snap
                        .effective_roles(&caller.user_id, &Target::Domain(d.id.clone()))
                        .is_empty()
            })
            .cloned()
            .collect();
        ds.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(ds)
    }

    /// `GET /v3/auth/system`: whether the caller has a role on the system.
    pub async fn auth_system(&self, caller: &AuthContext) -> Result<bool> {
        self.enforce(caller, "identity:get_auth_system", PolicyTarget::none())?;
        let snap = self.view().await?;
        Ok(!snap
            .effective_roles(&caller.user_id, &Target::System)
            .is_empty())
    }
}

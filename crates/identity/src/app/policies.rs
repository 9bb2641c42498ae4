//! Stored policy blobs (`/v3/policies`): Keystone keeps them for clients
//! that still call the legacy API; they do not change enforcement.

use super::domains::strip_readonly;
use super::policy_target::PolicyTarget;
use super::Identity;
use crate::db::policies::PolicyBlob;
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Deserialize, Default)]
pub struct PolicyInput {
    pub blob: Option<String>,
    #[serde(rename = "type")]
    pub policy_type: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn not_found(id: &str) -> Error {
    Error::not_found(format!("Could not find policy: {id}."))
}

impl Identity {
    pub async fn create_policy(
        &self,
        ctx: &AuthContext,
        mut input: PolicyInput,
    ) -> Result<PolicyBlob> {
        self.enforce(ctx, "identity:create_policy", PolicyTarget::none())?;
        let blob = input
            .blob
            .take()
            .ok_or_else(|| Error::bad_request("Invalid input for field 'blob': required."))?;
        let policy_type = input
            .policy_type
            .take()
            .ok_or_else(|| Error::bad_request("Invalid input for field 'type': required."))?;
        strip_readonly(&mut input.extra);
        let p = PolicyBlob {
            id: common::ids::hex_id(),
            policy_type,
            blob,
            extra: input.extra,
        };
        let mut tx = self.begin().await?;
        crate::db::policies::upsert(tx.conn(), &p, true).await?;
        self.commit(tx).await?;
        Ok(p)
    }

    pub async fn get_policy(&self, ctx: &AuthContext, id: &str) -> Result<PolicyBlob> {
        self.enforce(ctx, "identity:get_policy", PolicyTarget::none())?;
        crate::db::policies::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    pub async fn list_policies(&self, ctx: &AuthContext, q: &QueryMap) -> Result<Vec<PolicyBlob>> {
        self.enforce(ctx, "identity:list_policies", PolicyTarget::none())?;
        Ok(crate::db::policies::list(&self.db.pool)
            .await?
            .into_iter()
            .filter(|p| q.get("type").is_none_or(|t| p.policy_type == t))
            .collect())
    }

    pub async fn update_policy(
        &self,
        ctx: &AuthContext,
        id: &str,
        mut input: PolicyInput,
    ) -> Result<PolicyBlob> {
        self.enforce(ctx, "identity:update_policy", PolicyTarget::none())?;
        let mut p = crate::db::policies::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        if let Some(b) = input.blob.take() {
            p.blob = b;
        }
        if let Some(t) = input.policy_type.take() {
            p.policy_type = t;
        }
        strip_readonly(&mut input.extra);
        p.extra.extend(input.extra);
        let mut tx = self.begin().await?;
        crate::db::policies::upsert(tx.conn(), &p, false).await?;
        self.commit(tx).await?;
        Ok(p)
    }

    pub async fn delete_policy(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        self.enforce(ctx, "identity:delete_policy", PolicyTarget::none())?;
        let mut tx = self.begin().await?;
        if crate::db::policies::delete(tx.conn(), id).await? == 0 {
            return Err(not_found(id));
        }
        self.commit(tx).await
    }
}

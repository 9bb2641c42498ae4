//! Server metadata (`/servers/{id}/metadata[/{key}]`, Nova's
//! `server_metadata.py`): read by the project's readers, changed by its
//! members while the server is in a settled state, counted against the
//! `metadata_items` quota.

use super::servers::check_metadata;
use super::Compute;
use crate::db::servers as rows;
use common::context::AuthContext;
use common::{Error, Result};
use serde_json::{json, Map, Value};

/// The states metadata may change in (Nova's `check_instance_state` on
/// `update_instance_metadata`).
const SETTLED: &[&str] = &["active", "paused", "suspended", "stopped"];

/// How a change applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `POST`: merged into what is there.
    Merge,
    /// `PUT` on the collection: replaces everything.
    Replace,
}

fn item_not_found() -> Error {
    Error::not_found("Metadata item was not found")
}

impl Compute {
    /// `GET /servers/{id}/metadata`.
    pub async fn server_metadata(&self, ctx: &AuthContext, id: &str) -> Result<Value> {
        let r = self
            .visible_server(ctx, id, "os_compute_api:server-metadata:index")
            .await?;
        Ok(r.metadata)
    }

    /// `GET /servers/{id}/metadata/{key}`.
    pub async fn server_metadata_item(
        &self,
        ctx: &AuthContext,
        id: &str,
        key: &str,
    ) -> Result<Value> {
        let r = self
            .visible_server(ctx, id, "os_compute_api:server-metadata:show")
            .await?;
        let v = r.metadata.get(key).cloned().ok_or_else(item_not_found)?;
        Ok(json!({ key: v }))
    }

    /// Applies `apply` to the server's metadata; the whole metadata after.
    async fn change_metadata(
        &self,
        ctx: &AuthContext,
        id: &str,
        rule: &str,
        apply: impl FnOnce(&mut Map<String, Value>) -> Result<()>,
    ) -> Result<Map<String, Value>> {
        let mut row = self.visible_server(ctx, id, rule).await?;
        self.check_unlocked(ctx, &row)?;
        if row.task_state.is_some() || !SETTLED.contains(&row.vm_state.as_str()) {
            let (attr, state) = match &row.task_state {
                Some(t) => ("task_state", t.clone()),
                None => ("vm_state", row.vm_state.clone()),
            };
            return Err(Error::conflict(format!(
                "Cannot 'update metadata' instance {id} while it is in {attr} {state}"
            )));
        }
        let mut m = match &row.metadata {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        apply(&mut m)?;
        let quota = self.settings.quota_metadata_items;
        if quota >= 0 && m.len() as i64 > quota {
            return Err(Error::over_quota(format!(
                "Quota exceeded for metadata_items: Requested {}, but already used 0 of {quota} \
                 metadata_items",
                m.len()
            )));
        }
        row.metadata = Value::Object(m.clone());
        row.updated_at = self.now();
        let mut tx = self.begin().await?;
        rows::update_fields(tx.conn(), &row).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(m)
    }

    /// `POST` (merge) or `PUT` (replace) `/servers/{id}/metadata`.
    pub async fn set_server_metadata(
        &self,
        ctx: &AuthContext,
        id: &str,
        body: &Value,
        how: Change,
    ) -> Result<Map<String, Value>> {
        let Some(given) = body.get("metadata") else {
            return Err(Error::bad_request(
                "Invalid input for field/attribute metadata. 'metadata' is a required property",
            ));
        };
        let given = check_metadata(Some(given))?;
        let rule = match how {
            Change::Merge => "os_compute_api:server-metadata:create",
            Change::Replace => "os_compute_api:server-metadata:update_all",
        };
        self.change_metadata(ctx, id, rule, |m| {
            if how == Change::Replace {
                m.clear();
            }
            m.extend(given);
            Ok(())
        })
        .await
    }

    /// `PUT /servers/{id}/metadata/{key}` with `{"meta": {key: value}}`.
    pub async fn set_server_metadata_item(
        &self,
        ctx: &AuthContext,
        id: &str,
        key: &str,
        body: &Value,
    ) -> Result<Value> {
        let Some(meta) = body.get("meta") else {
            return Err(Error::bad_request(
                "Invalid input for field/attribute meta. 'meta' is a required property",
            ));
        };
        let meta = check_metadata(Some(meta))?;
        if meta.len() > 1 {
            return Err(Error::bad_request("Request body contains too many items"));
        }
        let Some(value) = meta.get(key).cloned() else {
            return Err(Error::bad_request("Request body and URI mismatch"));
        };
        let v = value.clone();
        self.change_metadata(ctx, id, "os_compute_api:server-metadata:update", |m| {
            m.insert(key.to_string(), v);
            Ok(())
        })
        .await?;
        Ok(json!({ key: value }))
    }

    /// `DELETE /servers/{id}/metadata/{key}`.
    pub async fn delete_server_metadata_item(
        &self,
        ctx: &AuthContext,
        id: &str,
        key: &str,
    ) -> Result<()> {
        self.change_metadata(ctx, id, "os_compute_api:server-metadata:delete", |m| {
            m.remove(key).map(|_| ()).ok_or_else(item_not_found)
        })
        .await?;
        Ok(())
    }
}

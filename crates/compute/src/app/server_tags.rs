//! Server tags (`/servers/{id}/tags[/{tag}]`, microversion 2.26, Nova's
//! `server_tags.py`): at most 50 per server, each 1–60 characters
//! without `/` or `,`; changed only while the server is in a settled
//! state.

use super::Compute;
use crate::db::servers::{self as rows, InstanceRow};
use common::context::AuthContext;
use common::{Error, Result};
use serde_json::Value;

/// Nova's `MAX_TAGS_PER_INSTANCE`.
pub const MAX_TAGS: usize = 50;

/// States tags may change in (Nova's `_check_instance_in_valid_state`).
const SETTLED: &[&str] = &[
    "active",
    "paused",
    "suspended",
    "stopped",
    "shelved",
    "shelved_offloaded",
];

/// A tag as Nova's schema allows it.
pub fn check_tag(tag: &str) -> Result<()> {
    let n = tag.chars().count();
    if n == 0 || n > 60 || tag.contains(['/', ',']) {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute tag. Value: {tag}. '{tag}' does not match \
             '^[^,/]*$' or its length is not 1 to 60"
        )));
    }
    Ok(())
}

impl Compute {
    /// A server whose tags may change now.
    async fn server_for_tags(
        &self,
        ctx: &AuthContext,
        id: &str,
        rule: &str,
    ) -> Result<InstanceRow> {
        let row = self.visible_server(ctx, id, rule).await?;
        if !SETTLED.contains(&row.vm_state.as_str()) {
            return Err(Error::conflict(format!(
                "Cannot 'update tags' instance {id} while it is in vm_state {}",
                row.vm_state
            )));
        }
        Ok(row)
    }

    pub async fn server_tags(&self, ctx: &AuthContext, id: &str) -> Result<Vec<String>> {
        let row = self
            .visible_server(ctx, id, "os_compute_api:os-server-tags:index")
            .await?;
        Ok(row.tags)
    }

    /// Whether `tag` is on the server.
    pub async fn server_has_tag(&self, ctx: &AuthContext, id: &str, tag: &str) -> Result<bool> {
        let row = self
            .visible_server(ctx, id, "os_compute_api:os-server-tags:show")
            .await?;
        Ok(row.tags.iter().any(|t| t == tag))
    }

    /// `PUT /servers/{id}/tags`: replaces them all.
    pub async fn replace_server_tags(
        &self,
        ctx: &AuthContext,
        id: &str,
        body: &Value,
    ) -> Result<Vec<String>> {
        let Some(items) = body.get("tags").and_then(Value::as_array) else {
            return Err(Error::bad_request(
                "Invalid input for field/attribute tags. 'tags' is a required property",
            ));
        };
        let mut tags: Vec<String> = Vec::new();
        for t in items {
            let t = t.as_str().ok_or_else(|| {
                Error::bad_request(format!(
                    "Invalid input for field/attribute tags. Value: {t}."
                ))
            })?;
            check_tag(t)?;
            if !tags.iter().any(|x| x == t) {
                tags.push(t.to_string());
            }
        }
        if tags.len() > MAX_TAGS {
            return Err(Error::bad_request(format!(
                "The number of tags exceeded the per-server limit {MAX_TAGS}"
            )));
        }
        self.server_for_tags(ctx, id, "os_compute_api:os-server-tags:update_all")
            .await?;
        rows::set_tags(&self.db.pool, id, &tags, self.now()).await?;
        Ok(tags)
    }

    /// `PUT /servers/{id}/tags/{tag}`: whether it was added (else it was
    /// already there).
    pub async fn add_server_tag(&self, ctx: &AuthContext, id: &str, tag: &str) -> Result<bool> {
        check_tag(tag)?;
        let mut row = self
            .server_for_tags(ctx, id, "os_compute_api:os-server-tags:update")
            .await?;
        if row.tags.iter().any(|t| t == tag) {
            return Ok(false);
        }
        if row.tags.len() >= MAX_TAGS {
            return Err(Error::bad_request(format!(
                "The number of tags exceeded the per-server limit {MAX_TAGS}"
            )));
        }
        row.tags.push(tag.to_string());
        rows::set_tags(&self.db.pool, id, &row.tags, self.now()).await?;
        Ok(true)
    }

    /// `DELETE /servers/{id}/tags/{tag}`.
    pub async fn delete_server_tag(&self, ctx: &AuthContext, id: &str, tag: &str) -> Result<()> {
        let mut row = self
            .server_for_tags(ctx, id, "os_compute_api:os-server-tags:delete")
            .await?;
        let before = row.tags.len();
        row.tags.retain(|t| t != tag);
        if row.tags.len() == before {
            return Err(Error::not_found(format!("Tag {tag} could not be found.")));
        }
        rows::set_tags(&self.db.pool, id, &row.tags, self.now()).await?;
        Ok(())
    }

    /// `DELETE /servers/{id}/tags`.
    pub async fn delete_server_tags(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        self.server_for_tags(ctx, id, "os_compute_api:os-server-tags:delete_all")
            .await?;
        rows::set_tags(&self.db.pool, id, &[], self.now()).await?;
        Ok(())
    }
}

//! Server passwords (nova/api/metadata/password.py and
//! `os-server-password`): a guest posts its (encrypted) password once to
//! the metadata API (at most 256 bytes; a second post is a 409); the
//! owner reads it, an admin or member clears it.

use super::Compute;
use crate::db::passwords as q;
use common::context::AuthContext;
use common::{Error, Result};

pub mod policy {
    pub const SHOW: &str = "os_compute_api:os-server-password:show";
    pub const CLEAR: &str = "os_compute_api:os-server-password:clear";
}

/// Nova's `MAX_SIZE` of a posted password.
pub const MAX_SIZE: usize = 256;

impl Compute {
    /// The metadata API's `POST …/password` for `instance_id` (already
    /// identified by the proxy's signed headers).
    pub async fn post_metadata_password(&self, instance_id: &str, body: &[u8]) -> Result<()> {
        if body.len() > MAX_SIZE {
            return Err(Error::bad_request("Request is too large."));
        }
        let password = String::from_utf8_lossy(body).into_owned();
        if !q::set_once(&self.db.pool, instance_id, &password).await? {
            return Err(Error::conflict(
                "There was a conflict when trying to complete your request.",
            ));
        }
        Ok(())
    }

    /// The password the guest posted, `""` when none.
    pub async fn metadata_password(&self, instance_id: &str) -> Result<String> {
        Ok(q::get(&self.db.pool, instance_id)
            .await?
            .unwrap_or_default())
    }

    /// `GET /servers/{id}/os-server-password`.
    pub async fn server_password(&self, ctx: &AuthContext, id: &str) -> Result<String> {
        let row = self.visible_server(ctx, id, policy::SHOW).await?;
        self.metadata_password(&row.id).await
    }

    /// `DELETE /servers/{id}/os-server-password`.
    pub async fn clear_server_password(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let row = self.visible_server(ctx, id, policy::CLEAR).await?;
        q::clear(&self.db.pool, &row.id).await?;
        Ok(())
    }
}

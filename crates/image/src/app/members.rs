//! Image members: the owner offers a `shared` image to other projects;
//! each member accepts, rejects or leaves it pending, which decides
//! whether the image appears in the member's default list.

use super::Image;
use crate::db::members::Member;
use common::context::AuthContext;
use common::{Error, Result};

/// Glance's `image_member_quota`.
pub const MAX_MEMBERS: i64 = 128;
pub const STATUSES: &[&str] = &["pending", "accepted", "rejected"];

fn member_not_found(image_id: &str, member_id: &str) -> Error {
    Error::not_found(format!("Member {member_id} not found for image {image_id}"))
}

impl Image {
    pub async fn add_member(
        &self,
        ctx: &AuthContext,
        image_id: &str,
        member_id: &str,
    ) -> Result<Member> {
        let (img, member) = self.visible_image(ctx, image_id).await?;
        self.enforce(ctx, "add_member", &img, member.as_ref())?;
        if img.visibility != "shared" {
            return Err(Error::forbidden("Only shared images have members."));
        }
        if member_id.is_empty() || member_id.chars().count() > 255 {
            return Err(Error::bad_request(
                "Invalid input for field 'member': 1 to 255 characters expected.",
            ));
        }
        let now = self.now();
        let m = Member {
            image_id: image_id.to_string(),
            member_id: member_id.to_string(),
            status: "pending".into(),
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.begin().await?;
        crate::db::members::insert(tx.conn(), &m)
            .await
            .map_err(|e| match Error::from(e) {
                e if e.kind() == common::ErrorKind::Conflict => Error::conflict(format!(
                    "Member {member_id} already exists for image {image_id}"
                )),
                other => other,
            })?;
        let n = crate::db::members::count(tx.conn(), image_id).await?;
        if n > MAX_MEMBERS {
            return Err(Error::over_quota(format!(
                "Maximum number of image members exceeded: attempted {n}, maximum {MAX_MEMBERS}"
            )));
        }
        tx.commit().await?;
        Ok(m)
    }

    /// The owner sees every member; a member sees only itself.
    pub async fn list_members(&self, ctx: &AuthContext, image_id: &str) -> Result<Vec<Member>> {
        let (img, member) = self.visible_image(ctx, image_id).await?;
        self.enforce(ctx, "get_members", &img, member.as_ref())?;
        let all = crate::db::members::list(&self.db.pool, image_id).await?;
        let own = ctx.project_id().is_some() && img.owner.as_deref() == ctx.project_id();
        if own || self.is_admin(ctx) {
            return Ok(all);
        }
        Ok(all
            .into_iter()
            .filter(|m| Some(m.member_id.as_str()) == ctx.project_id())
            .collect())
    }

    pub async fn get_member(
        &self,
        ctx: &AuthContext,
        image_id: &str,
        member_id: &str,
    ) -> Result<Member> {
        let members = self.list_members(ctx, image_id).await?;
        members
            .into_iter()
            .find(|m| m.member_id == member_id)
            .ok_or_else(|| member_not_found(image_id, member_id))
    }

    /// Only the member itself (or an admin) sets its status.
    pub async fn update_member(
        &self,
        ctx: &AuthContext,
        image_id: &str,
        member_id: &str,
        status: &str,
    ) -> Result<Member> {
        let (img, _) = self.visible_image(ctx, image_id).await?;
        let mut m = crate::db::members::get(&self.db.pool, image_id, member_id)
            .await?
            .ok_or_else(|| member_not_found(image_id, member_id))?;
        let own = ctx.project_id().is_some() && img.owner.as_deref() == ctx.project_id();
        if !own && ctx.project_id() != Some(member_id) && !self.is_admin(ctx) {
            // Someone else's membership does not exist for this caller.
            return Err(member_not_found(image_id, member_id));
        }
        self.enforce(ctx, "modify_member", &img, Some(&m))?;
        if !STATUSES.contains(&status) {
            return Err(Error::bad_request(format!("Invalid status: {status}")));
        }
        m.status = status.to_string();
        m.updated_at = self.now();
        let mut tx = self.begin().await?;
        if !crate::db::members::set_status(tx.conn(), image_id, member_id, status, m.updated_at)
            .await?
        {
            return Err(member_not_found(image_id, member_id));
        }
        tx.commit().await?;
        Ok(m)
    }

    pub async fn delete_member(
        &self,
        ctx: &AuthContext,
        image_id: &str,
        member_id: &str,
    ) -> Result<()> {
        let (img, member) = self.visible_image(ctx, image_id).await?;
        let exists = crate::db::members::get(&self.db.pool, image_id, member_id).await?;
        let own = ctx.project_id().is_some() && img.owner.as_deref() == ctx.project_id();
        if exists.is_none() || (!own && ctx.project_id() != Some(member_id) && !self.is_admin(ctx))
        {
            return Err(member_not_found(image_id, member_id));
        }
        self.enforce(ctx, "delete_member", &img, member.as_ref())?;
        let mut tx = self.begin().await?;
        if !crate::db::members::delete(tx.conn(), image_id, member_id).await? {
            return Err(member_not_found(image_id, member_id));
        }
        tx.commit().await?;
        Ok(())
    }
}

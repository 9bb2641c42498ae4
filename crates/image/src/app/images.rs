//! Images: create (with the count quota), list, show, JSON-patch update,
//! delete (data and quota given back), deactivate/reactivate, tags.

use super::list::ListQuery;
use super::patch::{Change, Op};
use super::{image_not_found, schema};
use crate::db::images::Image;
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use serde_json::{json, Map, Value};

impl super::Image {
    /// 413 in unified limits' words.
    pub(crate) fn over_limit(resource: &str, limit: i64, usage: i64, delta: i64) -> Error {
        Error::over_quota(format!(
            "Resource {resource} is over limit of {limit} due to current usage {usage} and delta {delta}"
        ))
    }

    pub async fn create_image(&self, ctx: &AuthContext, body: Value) -> Result<Image> {
        let Value::Object(mut body) = body else {
            return Err(schema::invalid("the request body must be a JSON object"));
        };
        for k in schema::DISALLOWED_ON_CREATE {
            if body.contains_key(*k) {
                return Err(schema::readonly(k));
            }
        }
        let now = self.now();
        let id = match body.remove("id") {
            Some(v) => schema::check_id(&v)?,
            None => common::ids::uuid(),
        };
        let mut img = Image {
            id,
            name: None,
            status: "queued".into(),
            visibility: "shared".into(),
            owner: ctx.project_id().map(str::to_string),
            size: None,
            virtual_size: None,
            disk_format: None,
            container_format: None,
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            min_disk: 0,
            min_ram: 0,
            protected: false,
            os_hidden: false,
            properties: Map::new(),
            upload_id: None,
            stored_bytes: 0,
            reserved_bytes: 0,
            created_at: now,
            updated_at: now,
            tags: Vec::new(),
        };
        let mut visibility_given = None;
        for (k, v) in &body {
            if k == "visibility" {
                visibility_given = Some(v.clone());
            }
            if schema::CORE.contains(&k.as_str()) {
                schema::check_writable(k)?;
                schema::set_core(&mut img, k, v)?;
            } else {
                schema::check_writable(k)?;
                schema::set_extra(&mut img, k, v)?;
            }
        }
        let creds = ctx.policy_credentials();
        let target = json!({
            "project_id": img.owner, "owner": img.owner, "visibility": img.visibility,
        });
        if !self.policy.check("add_image", &creds, &target) {
            if img.owner.as_deref() != ctx.project_id() {
                return Err(Error::forbidden(format!(
                    "You are not permitted to create images owned by '{}'",
                    img.owner.as_deref().unwrap_or("None")
                )));
            }
            return Err(Error::forbidden(
                "You are not authorized to complete add_image action.",
            ));
        }
        if visibility_given.is_some() {
            self.enforce_visibility(ctx, &img.visibility, &target)?;
        }
        let mut tx = self.begin().await?;
        if let Some(owner) = img.owner.clone() {
            let max = self.settings.quota_images;
            if !crate::db::usage::take(tx.conn(), &owner, 1, 0, max, -1).await? {
                let (used, _) = crate::db::usage::get(&self.db.pool, &owner).await?;
                return Err(Self::over_limit("image_count_total", max, used, 1));
            }
        }
        crate::db::images::insert(tx.conn(), &img)
            .await
            .map_err(|e| match Error::from(e) {
                e if e.kind() == common::ErrorKind::Conflict => Error::conflict(format!(
                    "An image with identifier {} already exists",
                    img.id
                )),
                other => other,
            })?;
        tx.commit().await?;
        Ok(img)
    }

    fn enforce_visibility(
        &self,
        ctx: &AuthContext,
        visibility: &str,
        target: &Value,
    ) -> Result<()> {
        let rule = match visibility {
            "public" => "publicize_image",
            "community" => "communitize_image",
            _ => return Ok(()),
        };
        if self.policy.check(rule, &ctx.policy_credentials(), target) {
            Ok(())
        } else {
            Err(Error::forbidden(format!(
                "You are not authorized to complete {rule} action."
            )))
        }
    }

    pub async fn show_image(&self, ctx: &AuthContext, id: &str) -> Result<Image> {
        Ok(self.visible_image(ctx, id).await?.0)
    }

    /// One page of the caller's list and the marker of the next.
    pub async fn list_images(
        &self,
        ctx: &AuthContext,
        q: &QueryMap,
    ) -> Result<(Vec<Image>, Option<String>)> {
        let creds = ctx.policy_credentials();
        if !self.policy.check(
            "get_images",
            &creds,
            &json!({"project_id": ctx.project_id()}),
        ) {
            return Err(Error::forbidden(
                "You are not authorized to complete get_images action.",
            ));
        }
        let lq = ListQuery::parse(q, &self.settings)?;
        let admin = self.is_admin(ctx);
        let project = ctx.project_id();
        match crate::db::images::list_page(&self.db, &lq, project, admin).await {
            Ok(page) => Ok(page),
            Err(db::list::ListError::MarkerNotFound(m)) => {
                Err(Error::bad_request(format!("Image {m} could not be found.")))
            }
            Err(db::list::ListError::Sql(e)) => Err(e.into()),
        }
    }

    /// Applies JSON-patch `changes` (Glance's `update`).
    pub async fn update_image(
        &self,
        ctx: &AuthContext,
        id: &str,
        changes: Vec<Change>,
    ) -> Result<Image> {
        let (mut img, member) = self.visible_image(ctx, id).await?;
        let status = img.status.clone();
        let old_owner = img.owner.clone();
        for c in &changes {
            self.enforce(ctx, "modify_image", &img, member.as_ref())?;
            let attr = c.attr.as_str();
            if attr == "visibility" {
                if let Some(Value::String(v)) = &c.value {
                    self.enforce_visibility(ctx, v, &self.target(&img, member.as_ref()))?;
                }
            }
            if attr == "owner" && c.op != Op::Remove && !self.is_admin(ctx) {
                return Err(Error::forbidden("Owner can't be updated by non admin."));
            }
            if (attr == "disk_format" || attr == "container_format")
                && c.op != Op::Remove
                && !matches!(status.as_str(), "queued" | "importing")
            {
                return Err(Error::forbidden(format!(
                    "Attribute {attr} can be only replaced for a queued image."
                )));
            }
            let core = schema::CORE.contains(&attr);
            match (c.op, core) {
                (Op::Remove, true) => {
                    return Err(Error::forbidden(format!(
                        "Property {attr} may not be removed."
                    )))
                }
                (Op::Remove, false) => {
                    if img.properties.remove(attr).is_none() {
                        return Err(Error::conflict(format!("Property {attr} does not exist.")));
                    }
                }
                (Op::Replace, false) if !img.properties.contains_key(attr) => {
                    return Err(Error::conflict(format!("Property {attr} does not exist.")));
                }
                (_, true) => {
                    schema::set_core(&mut img, attr, c.value.as_ref().unwrap_or(&Value::Null))?
                }
                (_, false) => {
                    schema::set_extra(&mut img, attr, c.value.as_ref().unwrap_or(&Value::Null))?
                }
            }
        }
        if changes.is_empty() {
            return Ok(img);
        }
        img.updated_at = self.now();
        let mut tx = self.begin().await?;
        if img.owner != old_owner {
            // Usage follows the image to its new owner (an admin's act, so
            // no limit applies).
            let bytes = img.stored_bytes + img.reserved_bytes;
            if let Some(o) = &old_owner {
                crate::db::usage::give(tx.conn(), o, 1, bytes).await?;
            }
            if let Some(n) = &img.owner {
                crate::db::usage::take(tx.conn(), n, 1, bytes, -1, -1).await?;
            }
        }
        if !crate::db::images::update_metadata(tx.conn(), &img, &status).await? {
            return Err(Error::conflict(format!(
                "Image {id} changed status while being updated; retry."
            )));
        }
        tx.commit().await?;
        Ok(img)
    }

    pub async fn delete_image(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let (img, member) = self.visible_image(ctx, id).await?;
        self.enforce(ctx, "delete_image", &img, member.as_ref())?;
        if img.protected {
            return Err(Error::forbidden(format!(
                "Image {id} is protected and cannot be deleted."
            )));
        }
        let mut tx = self.begin().await?;
        let Some(gone) = crate::db::images::delete(tx.conn(), id).await? else {
            return Err(image_not_found(id));
        };
        if gone.protected {
            // Protected meanwhile: the row read above is stale.
            return Err(Error::forbidden(format!(
                "Image {id} is protected and cannot be deleted."
            )));
        }
        if let Some(owner) = &gone.owner {
            crate::db::usage::give(tx.conn(), owner, 1, gone.stored_bytes + gone.reserved_bytes)
                .await?;
        }
        tx.commit().await?;
        // The row is gone, so nothing can reach the data any more: remove
        // it. An upload in flight notices when it tries to finish.
        if let Err(e) = self.store.remove(id).await {
            tracing::error!(image = id, error = %e, "could not remove image data");
        }
        Ok(())
    }

    pub async fn deactivate_image(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let (img, member) = self.visible_image(ctx, id).await?;
        self.enforce(ctx, "deactivate", &img, member.as_ref())?;
        self.set_active(&img, "deactivated").await
    }

    pub async fn reactivate_image(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let (img, member) = self.visible_image(ctx, id).await?;
        self.enforce(ctx, "reactivate", &img, member.as_ref())?;
        self.set_active(&img, "active").await
    }

    /// active ⇄ deactivated; the same state again is a no-op, anything
    /// else a 403 as Glance answers.
    async fn set_active(&self, img: &Image, to: &str) -> Result<()> {
        let verb = if to == "active" {
            "reactivate"
        } else {
            "deactivate"
        };
        let mut tx = self.begin().await?;
        let moved = crate::db::images::transition(
            tx.conn(),
            &img.id,
            &["active", "deactivated"],
            to,
            None,
            self.now(),
        )
        .await?;
        if !moved {
            let now = crate::db::images::get(&self.db.pool, &img.id)
                .await?
                .map(|i| i.status)
                .unwrap_or_else(|| img.status.clone());
            return Err(Error::forbidden(format!(
                "Not allowed to {verb} image in status '{now}'"
            )));
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn add_tag(&self, ctx: &AuthContext, id: &str, tag: &str) -> Result<()> {
        let (img, member) = self.visible_image(ctx, id).await?;
        self.enforce(ctx, "modify_image", &img, member.as_ref())?;
        schema::check_tag(tag)?;
        let mut tx = self.begin().await?;
        crate::db::images::add_tag(tx.conn(), id, tag, self.now()).await?;
        let n = crate::db::images::count_tags(tx.conn(), id).await?;
        if n > schema::MAX_TAGS as i64 {
            return Err(Error::over_quota(format!(
                "Maximum number of tags exceeded: attempted {n}, maximum {}",
                schema::MAX_TAGS
            )));
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_tag(&self, ctx: &AuthContext, id: &str, tag: &str) -> Result<()> {
        let (img, member) = self.visible_image(ctx, id).await?;
        self.enforce(ctx, "modify_image", &img, member.as_ref())?;
        let mut tx = self.begin().await?;
        if crate::db::images::remove_tag(tx.conn(), id, tag, self.now()).await? == 0 {
            return Err(Error::not_found(format!("Tag {tag} not found")));
        }
        tx.commit().await?;
        Ok(())
    }
}

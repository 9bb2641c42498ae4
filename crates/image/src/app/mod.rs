//! Image rules: who may see and change which image (visibility, then
//! policy), what each request must satisfy (Glance's image schema and its
//! read-only and reserved attributes), status transitions and quotas;
//! metadata definitions (`metadefs`) and tasks (`tasks`).
//! Handlers in `api` call these; these call `db` and the `store`.

pub mod data;
pub mod images;
pub mod list;
pub mod members;
pub mod metadefs;
pub mod patch;
pub mod schema;
pub mod tasks;

use crate::db::images as rows;
use crate::db::members::Member;
use crate::store::Store;
use common::clock::SharedClock;
use common::context::AuthContext;
use common::policy::Policy;
use common::{Error, Result};
use serde_json::{json, Value};

/// Settings from `[image]` in the config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Images per project; -1 = unlimited.
    pub quota_images: i64,
    /// Bytes per project; -1 = unlimited.
    pub quota_bytes: i64,
    pub size_cap: i64,
    pub web_download_allowed: Vec<String>,
    pub list_limit: usize,
    pub list_limit_max: usize,
}

impl Default for Settings {
    fn default() -> Self {
        let c = crate::config::ImageConfig::default();
        Settings {
            quota_images: c.quota_images,
            quota_bytes: c.quota_bytes,
            size_cap: c.image_size_cap,
            web_download_allowed: c.web_download_allowed,
            list_limit: c.list_limit,
            list_limit_max: c.list_limit_max,
        }
    }
}

/// The image service's state.
pub struct Image {
    pub db: db::Db,
    pub store: Store,
    pub policy: Policy,
    pub clock: SharedClock,
    pub settings: Settings,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Glance")
            .field("store", &self.store)
            .finish()
    }
}

/// Glance's words for an image the caller cannot see.
pub fn image_not_found(id: &str) -> Error {
    Error::not_found(format!("No image found with ID {id}"))
}

impl Image {
    pub fn now(&self) -> i64 {
        self.clock.now_micros()
    }

    pub async fn begin(&self) -> Result<db::WriteTx> {
        Ok(self.db.begin_write().await?)
    }

    /// Glance's `is_admin`: the `context_is_admin` rule.
    pub fn is_admin(&self, ctx: &AuthContext) -> bool {
        self.policy
            .check("context_is_admin", &ctx.policy_credentials(), &json!({}))
    }

    /// The image as a policy target (Glance's `ImageTarget`).
    pub fn target(&self, img: &rows::Image, member: Option<&Member>) -> Value {
        json!({
            "id": img.id,
            "project_id": img.owner,
            "owner": img.owner,
            "visibility": img.visibility,
            "protected": img.protected,
            "member_id": member.map(|m| m.member_id.clone()),
        })
    }

    /// Whether the caller may see `img` at all (Glance's
    /// `is_image_visible`): admins, the owner, public and community
    /// images, and shared images the caller is a member of, whatever
    /// the member status.
    pub fn visible(&self, ctx: &AuthContext, img: &rows::Image, member: Option<&Member>) -> bool {
        if self.is_admin(ctx) || img.owner.is_none() {
            return true;
        }
        if img.visibility == "public" || img.visibility == "community" {
            return true;
        }
        let Some(project) = ctx.project_id() else {
            return false;
        };
        img.owner.as_deref() == Some(project) || (img.visibility == "shared" && member.is_some())
    }

    /// The image `id` and the caller's membership in it, or 404 when the
    /// caller may not see it (so image ids cannot be probed).
    pub async fn visible_image(
        &self,
        ctx: &AuthContext,
        id: &str,
    ) -> Result<(rows::Image, Option<Member>)> {
        let img = crate::db::images::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| image_not_found(id))?;
        let member = match ctx.project_id() {
            Some(p) => crate::db::members::get(&self.db.pool, id, p).await?,
            None => None,
        };
        if !self.visible(ctx, &img, member.as_ref()) {
            return Err(image_not_found(id));
        }
        self.enforce(ctx, "get_image", &img, member.as_ref())?;
        Ok((img, member))
    }

    /// Checks `action` on `img`: a 403 for an image the caller can see,
    /// a 404 for one `get_image` would hide (Glance's `ImageAPIPolicy`).
    pub fn enforce(
        &self,
        ctx: &AuthContext,
        action: &str,
        img: &rows::Image,
        member: Option<&Member>,
    ) -> Result<()> {
        let creds = ctx.policy_credentials();
        let target = self.target(img, member);
        if self.policy.check(action, &creds, &target) {
            return Ok(());
        }
        if action == "get_image" || !self.policy.check("get_image", &creds, &target) {
            return Err(image_not_found(&img.id));
        }
        Err(Error::forbidden(format!(
            "You are not authorized to complete {action} action."
        )))
    }
}

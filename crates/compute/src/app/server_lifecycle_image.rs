//! `createImage` and `createBackup`: a snapshot of a server's root disk
//! into the image service, as Nova's `compute.utils.create_image` and the
//! driver's snapshot upload make it. A backup is the same snapshot with
//! `image_type=backup` and a `backup_type`, after which the oldest
//! backups of that type beyond `rotation` are deleted (Nova's
//! `_rotate_backups`).
//!
//! The image is created at once (queued) with the properties Nova gives a
//! snapshot — the base image's own (less the non-inheritable ones),
//! `instance_uuid`, `user_id`, `image_type`, `base_image_ref` — so its id
//! can be answered; the driver's snapshot stream then goes through the
//! image service's own upload path (saving → active), in the background
//! under task state `image_snapshot`.

use super::server_actions::invalid_state;
use super::servers::check_metadata;
use super::Compute;
use crate::db::servers as rows;
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use image::app::patch::{Change, Op};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Properties a snapshot never inherits (Nova's
/// `NON_INHERITABLE_IMAGE_PROPERTIES` and the default of
/// `[DEFAULT] non_inheritable_image_properties`).
const NON_INHERITABLE: &[&str] = &[
    "cinder_encryption_key_id",
    "cinder_encryption_key_deletion_policy",
    "img_signature",
    "img_signature_hash_method",
    "img_signature_key_type",
    "img_signature_certificate_uuid",
    "cache_in_nova",
    "bittorrent",
];

/// `createImage`'s body: `(name, metadata)`.
pub fn parse_create_image(arg: &Value) -> Result<(String, Map<String, Value>)> {
    let bad = |m: String| Error::bad_request(m);
    let Some(o) = arg.as_object() else {
        return Err(bad(format!(
            "Invalid input for field/attribute createImage. Value: {arg}. {arg} is not of type \
             'object'"
        )));
    };
    if let Some(k) = o.keys().find(|k| *k != "name" && *k != "metadata") {
        return Err(bad(format!(
            "Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let name = match o.get("name") {
        Some(n) => super::servers::check_name("name", n)?,
        None => return Err(bad("'name' is a required property".into())),
    };
    let metadata = if o.contains_key("metadata") {
        check_metadata(o.get("metadata"))?
    } else {
        Map::new()
    };
    Ok((name, metadata))
}

/// A parsed `createBackup` body.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupRequest {
    pub name: String,
    pub backup_type: String,
    /// How many backups of this type to keep (0 keeps none, not even
    /// this one, as in Nova).
    pub rotation: u64,
    pub metadata: Map<String, Value>,
}

/// `createBackup`'s body, as Nova's `create_backup` schema checks it.
pub fn parse_create_backup(arg: &Value) -> Result<BackupRequest> {
    let bad = |m: String| Error::bad_request(m);
    let Some(o) = arg.as_object() else {
        return Err(bad(format!(
            "Invalid input for field/attribute createBackup. Value: {arg}. {arg} is not of type \
             'object'"
        )));
    };
    const KNOWN: [&str; 4] = ["name", "backup_type", "rotation", "metadata"];
    if let Some(k) = o.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad(format!(
            "Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    for k in ["name", "backup_type", "rotation"] {
        if !o.contains_key(k) {
            return Err(bad(format!("'{k}' is a required property")));
        }
    }
    let name = super::servers::check_name("name", &o["name"])?;
    let backup_type = match &o["backup_type"] {
        Value::String(s) => s.clone(),
        v => {
            return Err(bad(format!(
                "Invalid input for field/attribute backup_type. Value: {v}. {v} is not of type \
                 'string'"
            )))
        }
    };
    // Nova's `non_negative_integer`: an integer, or a string of digits.
    let rotation = match &o["rotation"] {
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(r), _) => r,
            (None, Some(_)) => {
                return Err(bad(format!(
                    "Invalid input for field/attribute rotation. Value: {n}. {n} is less than \
                     the minimum of 0"
                )))
            }
            _ => {
                return Err(bad(format!(
                    "Invalid input for field/attribute rotation. Value: {n}. {n} is not of type \
                     'integer', 'string'"
                )))
            }
        },
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().map_err(|_| {
                bad(format!(
                    "Invalid input for field/attribute rotation. Value: {s}. '{s}' is too large"
                ))
            })?
        }
        Value::String(s) => {
            return Err(bad(format!(
                "Invalid input for field/attribute rotation. Value: {s}. '{s}' does not match \
                 '^[0-9]*$'"
            )))
        }
        v => {
            return Err(bad(format!(
                "Invalid input for field/attribute rotation. Value: {v}. {v} is not of type \
                 'integer', 'string'"
            )))
        }
    };
    let metadata = check_metadata(o.get("metadata"))?;
    Ok(BackupRequest {
        name,
        backup_type,
        rotation,
        metadata,
    })
}

/// What kind of snapshot an action takes.
enum Snapshot {
    Image,
    Backup { backup_type: String, rotation: u64 },
}

impl Compute {
    /// Starts a snapshot of server `id` as image `name`; the image's id.
    pub async fn create_server_image(
        self: &Arc<Self>,
        ctx: &AuthContext,
        id: &str,
        name: String,
        metadata: Map<String, Value>,
        request_id: &str,
    ) -> Result<String> {
        self.snapshot_server(ctx, id, name, metadata, request_id, Snapshot::Image)
            .await
    }

    /// Starts a backup of server `id`; the new image's id. Once it is
    /// uploaded, the oldest backups of its type beyond `rotation` go.
    pub async fn backup_server(
        self: &Arc<Self>,
        ctx: &AuthContext,
        id: &str,
        req: BackupRequest,
        request_id: &str,
    ) -> Result<String> {
        let kind = Snapshot::Backup {
            backup_type: req.backup_type,
            rotation: req.rotation,
        };
        self.snapshot_server(ctx, id, req.name, req.metadata, request_id, kind)
            .await
    }

    async fn snapshot_server(
        self: &Arc<Self>,
        ctx: &AuthContext,
        id: &str,
        name: String,
        mut metadata: Map<String, Value>,
        request_id: &str,
        kind: Snapshot,
    ) -> Result<String> {
        let (rule, action_name, task, event, image_type) = match &kind {
            Snapshot::Image => (
                "os_compute_api:servers:create_image",
                "createImage",
                "image_snapshot",
                "compute_snapshot_instance",
                "snapshot",
            ),
            Snapshot::Backup { .. } => (
                "os_compute_api:os-create-backup",
                "createBackup",
                "image_backup",
                "compute_backup_instance",
                "backup",
            ),
        };
        let row = self.visible_server(ctx, id, rule).await?;
        // Nova checks no lock here: a lock guards against changes to the
        // server, and a snapshot changes nothing of it.
        let quota = self.settings.quota_metadata_items;
        if quota >= 0 && metadata.len() as i64 > quota {
            return Err(Error::over_quota(format!(
                "Quota exceeded for metadata_items: Requested {}, but already used 0 of \
                 {quota} metadata_items",
                metadata.len()
            )));
        }
        let from = ["active", "stopped", "paused", "suspended"];
        if !rows::begin_task(&self.db.pool, id, &from, task, self.now()).await? {
            let cur = rows::get(&self.db.pool, id).await?.unwrap_or(row);
            return Err(invalid_state(action_name, &cur));
        }
        if let Snapshot::Backup { backup_type, .. } = &kind {
            metadata.insert("backup_type".into(), json!(backup_type));
        }
        let made = self
            .create_snapshot_image(ctx, &row, &name, metadata, image_type)
            .await;
        let image_id = match made {
            Ok(i) => i,
            Err(e) => {
                rows::set_state(
                    &self.db.pool,
                    id,
                    &row.vm_state,
                    None,
                    row.power_state,
                    self.now(),
                )
                .await?;
                return Err(e);
            }
        };
        let action = self
            .start_action(ctx, &row, action_name, request_id)
            .await?;
        let me = self.clone();
        let ctx = ctx.clone();
        let iid = image_id.clone();
        tokio::spawn(async move {
            let sid = row.id.clone();
            let outcome = async {
                let ev = me.start_event(&action, event, row.host.as_deref()).await?;
                let mut done = me.upload_snapshot(&ctx, &row.id, &iid).await;
                if done.is_err() {
                    // Nova deletes the image of a failed snapshot.
                    if let Err(e) = me.image.delete_image(&ctx, &iid).await {
                        tracing::warn!(image = %iid, error = %e, "failed snapshot image left");
                    }
                } else if let Snapshot::Backup {
                    backup_type,
                    rotation,
                } = &kind
                {
                    done = me
                        .rotate_backups(&ctx, &row.id, backup_type, *rotation)
                        .await;
                }
                rows::set_state(
                    &me.db.pool,
                    &row.id,
                    &row.vm_state,
                    None,
                    row.power_state,
                    me.now(),
                )
                .await?;
                me.finish_event(&action, &ev, done.as_ref().err()).await
            }
            .await;
            if let Err(e) = outcome {
                tracing::warn!(server = %sid, error = %e, "snapshot failed");
            }
        });
        Ok(image_id)
    }

    /// The queued image of a snapshot, with Nova's properties.
    pub(crate) async fn create_snapshot_image(
        &self,
        ctx: &AuthContext,
        row: &rows::InstanceRow,
        name: &str,
        metadata: Map<String, Value>,
        image_type: &str,
    ) -> Result<String> {
        let mut body = Map::new();
        // The base image's properties as the server booted it (Nova keeps
        // them in the system metadata), then Nova's own, then the caller's.
        if let Some(props) = row.image_properties.as_object() {
            for (k, v) in props {
                if !NON_INHERITABLE.contains(&k.as_str()) && !k.starts_with("os_glance") {
                    body.insert(k.clone(), v.clone());
                }
            }
        }
        if let Some(base) = image::db::images::get(&self.image.db.pool, &row.image_ref).await? {
            body.insert("min_ram".into(), json!(base.min_ram));
            body.insert("min_disk".into(), json!(base.min_disk));
        }
        body.insert("base_image_ref".into(), json!(row.image_ref));
        body.insert("instance_uuid".into(), json!(row.id));
        body.insert("user_id".into(), json!(ctx.user_id));
        body.insert("image_type".into(), json!(image_type));
        let other_project = ctx.project_id() != Some(row.project_id.as_str());
        if other_project {
            // An admin's snapshot of someone else's server is shared with
            // the server's project (Nova's `instance_owner`).
            body.insert("instance_owner".into(), json!(row.project_id));
            body.insert("visibility".into(), json!("shared"));
        } else {
            body.insert("visibility".into(), json!("private"));
        }
        for (k, v) in metadata {
            body.insert(k, v);
        }
        body.insert("name".into(), json!(name));
        let img = self.image.create_image(ctx, Value::Object(body)).await?;
        if other_project {
            self.image.add_member(ctx, &img.id, &row.project_id).await?;
        }
        Ok(img.id)
    }

    /// Deletes the oldest backups of `server` of type `backup_type` so
    /// that `rotation` remain, as Nova's `_rotate_backups` does with the
    /// caller's view of the image service.
    async fn rotate_backups(
        &self,
        ctx: &AuthContext,
        server: &str,
        backup_type: &str,
        rotation: u64,
    ) -> Result<()> {
        let mut backups = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut q = vec![
                ("image_type".to_string(), "backup".to_string()),
                ("backup_type".to_string(), backup_type.to_string()),
                ("instance_uuid".to_string(), server.to_string()),
                ("sort_key".to_string(), "created_at".to_string()),
                ("sort_dir".to_string(), "desc".to_string()),
            ];
            if let Some(m) = marker.take() {
                q.push(("marker".to_string(), m));
            }
            let (page, next) = self.image.list_images(ctx, &QueryMap(q)).await?;
            backups.extend(page.into_iter().map(|i| i.id));
            match next {
                Some(m) => marker = Some(m),
                None => break,
            }
        }
        let keep = usize::try_from(rotation).unwrap_or(usize::MAX);
        for old in backups.iter().skip(keep) {
            match self.image.delete_image(ctx, old).await {
                // A concurrent rotation got there first.
                Err(e) if e.kind() != common::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// The driver's snapshot of `server` uploaded as image `image_id`'s
    /// data, in the format the driver gives.
    pub(crate) async fn upload_snapshot(
        &self,
        ctx: &AuthContext,
        server: &str,
        image_id: &str,
    ) -> Result<()> {
        let snap = self
            .virt
            .snapshot(server)
            .await
            .map_err(|e| Error::internal(e.to_string()))?;
        let set = |attr: &str, v: &str| Change {
            op: Op::Replace,
            attr: attr.to_string(),
            value: Some(json!(v)),
        };
        self.image
            .update_image(
                ctx,
                image_id,
                vec![
                    set("disk_format", &snap.disk_format),
                    set("container_format", &snap.container_format),
                ],
            )
            .await?;
        self.image
            .upload(
                ctx,
                image_id,
                snap.data,
                image::app::data::Incoming::default(),
                false,
            )
            .await
    }
}

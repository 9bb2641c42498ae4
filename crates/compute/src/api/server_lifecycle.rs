//! The lifecycle actions of `POST /servers/{id}/action`: `rebuild`,
//! `resize`, `confirmResize`, `revertResize`, `rescue`, `unrescue`,
//! `createImage`, `createBackup`, `shelve`, `shelveOffload`, `unshelve`. The
//! action endpoint (`servers.rs`) hands these names here.

use super::Microversion;
use crate::app::server_lifecycle::{parse_rebuild, parse_rescue, parse_resize};
use crate::app::server_lifecycle_image::{parse_create_backup, parse_create_image};
use crate::app::server_lifecycle_shelve::parse_unshelve;
use crate::app::servers_view::View;
use crate::Compute;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use common::context::AuthContext;
use common::Result;
use serde_json::{json, Value};
use std::sync::Arc;

/// Whether `name` is one of this module's actions.
pub fn handles(name: &str) -> bool {
    matches!(
        name,
        "rebuild"
            | "resize"
            | "confirmResize"
            | "revertResize"
            | "rescue"
            | "unrescue"
            | "createImage"
            | "createBackup"
            | "shelve"
            | "shelveOffload"
            | "unshelve"
    )
}

/// Runs lifecycle action `name` with body `arg` on server `id`.
#[allow(clippy::too_many_arguments)]
pub async fn action(
    c: &Arc<Compute>,
    ctx: &AuthContext,
    mv: Microversion,
    base: &str,
    request_id: &str,
    id: &str,
    name: &str,
    arg: &Value,
) -> Result<Response> {
    match name {
        "rebuild" => {
            let req = parse_rebuild(arg, mv)?;
            let (row, admin_pass) = c.rebuild_server(ctx, id, req, request_id).await?;
            let mut server = c.server_view(ctx, mv, base, &row, View::Update);
            if mv.at_least(54) && !mv.at_least(75) {
                server["key_name"] = json!(row.key_name);
            }
            if mv.at_least(57) {
                server["user_data"] = json!(row.user_data);
            }
            // Nova's rebuild view never carries the extended attribute
            // (`show_user_data=False`): 2.57 gave it `user_data` instead.
            if let Some(o) = server.as_object_mut() {
                o.remove("OS-EXT-SRV-ATTR:user_data");
            }
            // As the create does, the password is always shown (Nova's
            // `enable_instance_password` default).
            server["adminPass"] = json!(admin_pass);
            let location = format!("{base}/v2.1/servers/{id}");
            Ok((
                StatusCode::ACCEPTED,
                [(header::LOCATION, location)],
                Json(json!({ "server": server })),
            )
                .into_response())
        }
        "resize" => {
            let (flavor, auto_disk_config) = parse_resize(arg)?;
            c.resize_server(ctx, id, &flavor, auto_disk_config, request_id)
                .await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "confirmResize" => {
            c.confirm_resize(ctx, id, request_id).await?;
            // Nova answers 204 here for backwards compatibility.
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        "revertResize" => {
            c.revert_resize(ctx, id, request_id).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "rescue" => {
            let (pass, image) = parse_rescue(arg)?;
            let pass = c.rescue_server(ctx, id, pass, image, request_id).await?;
            Ok((StatusCode::OK, Json(json!({ "adminPass": pass }))).into_response())
        }
        "createImage" => {
            let (name, metadata) = parse_create_image(arg)?;
            let image_id = c
                .create_server_image(ctx, id, name, metadata, request_id)
                .await?;
            if mv.at_least(45) {
                return Ok(
                    (StatusCode::ACCEPTED, Json(json!({ "image_id": image_id }))).into_response(),
                );
            }
            // Before 2.45 the image's URL is the only answer; clients take
            // its last segment as the id. Nova names the image service's
            // URL; this names compute's own images proxy of it.
            let location = format!("{base}/v2.1/images/{image_id}");
            Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)]).into_response())
        }
        "createBackup" => {
            let req = parse_create_backup(arg)?;
            let rotation = req.rotation;
            let image_id = c.backup_server(ctx, id, req, request_id).await?;
            if mv.at_least(45) {
                return Ok(
                    (StatusCode::ACCEPTED, Json(json!({ "image_id": image_id }))).into_response(),
                );
            }
            // As Nova: no Location when rotation 0 deletes the backup at once.
            if rotation == 0 {
                return Ok(StatusCode::ACCEPTED.into_response());
            }
            let location = format!("{base}/v2.1/images/{image_id}");
            Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)]).into_response())
        }
        "shelve" => {
            c.shelve_server(ctx, id, request_id).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "shelveOffload" => {
            c.shelve_offload_server(ctx, id, request_id).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "unshelve" => {
            let (az, host) = parse_unshelve(arg, mv)?;
            c.unshelve_server(ctx, id, az, host, request_id).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        _ => {
            c.unrescue_server(ctx, id, request_id).await?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
    }
}

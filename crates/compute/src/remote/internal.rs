//! The compute service's part of the internal API, for node agents
//! (mounted at `/internal/v1/nodes/{name}/compute`, behind the node's own
//! token; the registry's middleware hands the caller as `NodeInfo`).
//!
//! `GET images/{id}/file`: an image's bytes, for the node's driver to
//! boot from (its `HttpImageFetcher`). A node gets only the images its
//! work needs: the boot image (and its `kernel_id`/`ramdisk_id`) of a
//! live server placed on it, and the images named by its pending
//! commands (a rebuild's new image, a rescue image). Any other image is a
//! 404 as if it did not exist, so a node cannot read the image store.

use crate::app::servers::service_context;
use crate::app::Compute;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use common::service::NodeInfo;
use common::Error;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The routes, over `compute`.
pub fn router(compute: Arc<Compute>) -> Router {
    Router::new()
        .route("/images/{id}/file", get(image_file))
        .with_state(compute)
}

/// The images `node` may read, each with the (project, user) of a server
/// that needs it (the download is made on that server's behalf).
async fn images_for(c: &Compute, node: &str) -> Result<BTreeMap<String, (String, String)>, Error> {
    let mut out = BTreeMap::new();
    let mut owners = HashMap::new();
    for id in super::db::instances_on(&c.db.pool, node).await? {
        let Some(row) = crate::db::servers::get(&c.db.pool, &id).await? else {
            continue;
        };
        let who = (row.project_id.clone(), row.user_id.clone());
        owners.insert(row.id.clone(), who.clone());
        if let Ok(img) = c.image_ref(&row.image_ref).await {
            for extra in [img.kernel_id, img.ramdisk_id].into_iter().flatten() {
                out.insert(extra, who.clone());
            }
        }
        out.insert(row.image_ref.clone(), who);
    }
    for cmd in super::db::pending(&c.db.pool, node).await? {
        let Some(who) = owners.get(&cmd.instance_id) else {
            continue;
        };
        for key in ["spec", "old"] {
            if let Some(img) = cmd.args.get(key).and_then(|s| s.get("image")) {
                image_ids(img, who, &mut out);
            }
        }
        if let Some(img) = cmd.args.get("rescue_image") {
            image_ids(img, who, &mut out);
        }
    }
    Ok(out)
}

/// The ids an `ImageRef` in JSON names (the image, its kernel, ramdisk).
fn image_ids(img: &Value, who: &(String, String), out: &mut BTreeMap<String, (String, String)>) {
    for k in ["id", "kernel_id", "ramdisk_id"] {
        if let Some(id) = img.get(k).and_then(Value::as_str) {
            out.insert(id.to_string(), who.clone());
        }
    }
}

async fn image_file(
    State(c): State<Arc<Compute>>,
    Extension(node): Extension<NodeInfo>,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Response, Error> {
    let id = params
        .get("id")
        .ok_or_else(|| Error::not_found("No image is named in the path."))?;
    let not_found = || Error::not_found(format!("Image {id} could not be found."));
    let allowed = images_for(&c, &node.name).await?;
    let (project, user) = allowed.get(id).ok_or_else(not_found)?;
    let ctx = service_context(project, user);
    let Some(d) = c.image.download(&ctx, id).await? else {
        return Err(Error::conflict(format!("Image {id} has no data.")));
    };
    let file = d.file.into_std().await;
    let len = d.size;
    let rx = common::datafile::spawn_reader(move |emit| {
        common::datafile::read_range(&file, 0, len, emit)
    });
    let mut r = Response::new(Body::from_stream(common::datafile::into_stream(rx)));
    let hs = r.headers_mut();
    hs.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = header::HeaderValue::from_str(&len.to_string()) {
        hs.insert(header::CONTENT_LENGTH, v);
    }
    *r.status_mut() = StatusCode::OK;
    Ok(r.into_response())
}

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
//!
//! `PUT snapshots/{command}`: the disk of a guest the node was told to
//! snapshot (`Op::Snapshot`), streamed through to the
//! `RemoteDriver::snapshot` that waits for it; only for a pending
//! snapshot command of this node. The body has no size limit here: the
//! image service's own quota and size checks bound it as it is stored.
//!
//! `GET consoles/{command}` with `Connection: upgrade` and `Upgrade:
//! oxistack-console`: the node's end of a guest's VNC console
//! (`Op::OpenConsole`). The answer is `101 Switching Protocols`, and the
//! upgraded connection carries the console's bytes both ways to the
//! `RemoteDriver::open_console` that waits for it (the noVNC proxy).

use super::{Hub, Upload};
use crate::app::servers::service_context;
use crate::app::Compute;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Extension, Path, State};
use axum::http::HeaderMap;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use common::service::NodeInfo;
use common::Error;
use futures_util::StreamExt;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The routes, over `compute` and the remote driver's `hub`.
pub fn router(compute: Arc<Compute>, hub: Arc<Hub>) -> Router {
    Router::new()
        .route("/images/{id}/file", get(image_file))
        .with_state(compute.clone())
        .merge(
            Router::new()
                .route(
                    "/snapshots/{command}",
                    put(snapshot_upload).layer(DefaultBodyLimit::disable()),
                )
                .route("/consoles/{command}", get(console_tunnel))
                .with_state((compute, hub)),
        )
}

/// The `Upgrade` protocol of a console tunnel.
pub const CONSOLE_PROTOCOL: &str = "oxistack-console";

/// Refuses a request for `command` unless it is a pending `op` command of
/// `node`.
async fn pending_command(
    c: &Compute,
    node: &NodeInfo,
    command: Option<&String>,
    op: &str,
) -> Result<String, Error> {
    let cmd = command.ok_or_else(|| Error::not_found("No command is named in the path."))?;
    let pending = super::db::pending(&c.db.pool, &node.name).await?;
    if !pending.iter().any(|p| &p.id == cmd && p.op == op) {
        return Err(Error::not_found(format!(
            "No {op} command {cmd} is pending for node {}.",
            node.name
        )));
    }
    Ok(cmd.clone())
}

async fn console_tunnel(
    State((c, hub)): State<(Arc<Compute>, Arc<Hub>)>,
    Extension(node): Extension<NodeInfo>,
    Path(params): Path<HashMap<String, String>>,
    mut req: axum::extract::Request,
) -> Result<Response, Error> {
    let cmd = pending_command(&c, &node, params.get("command"), "open_console").await?;
    let wants = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case(CONSOLE_PROTOCOL));
    if !wants {
        return Err(Error::bad_request(format!(
            "A console tunnel needs `Upgrade: {CONSOLE_PROTOCOL}`."
        )));
    }
    if !hub.consoles.waiting(&cmd) {
        return Err(Error::conflict(format!(
            "Nobody waits for the console of command {cmd} any more."
        )));
    }
    let on_upgrade = req
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>()
        .ok_or_else(|| Error::bad_request("This connection cannot be upgraded."))?;
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(up) => {
                let io: virt::ConsoleStream = Box::new(hyper_util::rt::TokioIo::new(up));
                if hub.consoles.deliver(&cmd, io).is_err() {
                    tracing::info!(command = %cmd, "a console tunnel nobody waits for: closed");
                }
            }
            Err(e) => tracing::warn!(command = %cmd, error = %e, "console tunnel upgrade"),
        }
    });
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    r.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("upgrade"),
    );
    r.headers_mut().insert(
        header::UPGRADE,
        header::HeaderValue::from_static(CONSOLE_PROTOCOL),
    );
    Ok(r)
}

/// How many body chunks may wait for the image service.
const UPLOAD_QUEUE: usize = 8;

async fn snapshot_upload(
    State((c, hub)): State<(Arc<Compute>, Arc<Hub>)>,
    Extension(node): Extension<NodeInfo>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, Error> {
    let cmd = pending_command(&c, &node, params.get("command"), "snapshot").await?;
    let cmd = &cmd;
    let format = |name: &str| -> Result<String, Error> {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 64)
            .map(str::to_string)
            .ok_or_else(|| Error::bad_request(format!("The {name} header is required.")))
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(UPLOAD_QUEUE);
    let data = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed();
    let upload = Upload {
        disk_format: format("x-disk-format")?,
        container_format: format("x-container-format")?,
        data,
    };
    if hub.uploads.deliver(cmd, upload).is_err() {
        return Err(Error::conflict(format!(
            "Nobody waits for the snapshot of command {cmd} any more."
        )));
    }
    let gone = || Error::conflict(format!("The snapshot of command {cmd} was abandoned."));
    let mut frames = body.into_data_stream();
    while let Some(chunk) = frames.next().await {
        match chunk {
            Ok(b) => tx.send(Ok(b)).await.map_err(|_| gone())?,
            Err(e) => {
                // The reader learns the upload broke rather than seeing a
                // short, complete-looking disk.
                let _ = tx
                    .send(Err(std::io::Error::other(format!(
                        "the node's upload: {e}"
                    ))))
                    .await;
                return Err(Error::bad_request(format!("The upload broke: {e}")));
            }
        }
    }
    Ok(StatusCode::NO_CONTENT)
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

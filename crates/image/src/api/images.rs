//! `/v2/images`, `/v2/images/{id}`, its tags and actions.

use super::{header, State};
use crate::app::patch;
use crate::db::images::Image;
use axum::body::Bytes;
use axum::extract::{Path, State as S};
use axum::http::{header as h, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use common::auth::Auth;
use common::clock::iso_seconds;
use common::http::{JsonBody, QueryMap};
use common::Result;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Image>> {
    Router::new()
        .route("/v2/images", get(list).post(create))
        .route("/v2/images/{id}", get(show).patch(update).delete(delete))
        .route(
            "/v2/images/{id}/tags/{tag}",
            put(add_tag).delete(delete_tag),
        )
        .route("/v2/images/{id}/actions/deactivate", post(deactivate))
        .route("/v2/images/{id}/actions/reactivate", post(reactivate))
        .route("/v2/images/{id}/tasks", get(tasks))
}

/// Properties Glance keeps for itself and never shows.
const HIDDEN: &[&str] = &["os_glance_stage_host", "os_glance_hash_op_host"];

/// An image as Glance prints it: additional properties at the top level
/// beside the core attributes (which win on a clash).
pub fn render(i: &Image) -> Value {
    let mut m: Map<String, Value> = i
        .properties
        .iter()
        .filter(|(k, _)| !HIDDEN.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let core = json!({
        "id": i.id,
        "name": i.name,
        "status": i.status,
        "visibility": i.visibility,
        "protected": i.protected,
        "os_hidden": i.os_hidden,
        "checksum": i.checksum,
        "os_hash_algo": i.os_hash_algo,
        "os_hash_value": i.os_hash_value,
        "owner": i.owner,
        "size": i.size,
        "virtual_size": i.virtual_size,
        "disk_format": i.disk_format,
        "container_format": i.container_format,
        "min_ram": i.min_ram,
        "min_disk": i.min_disk,
        "created_at": iso_seconds(i.created_at),
        "updated_at": iso_seconds(i.updated_at),
        "tags": i.tags,
        "self": format!("/v2/images/{}", i.id),
        "file": format!("/v2/images/{}/file", i.id),
        "schema": "/v2/schemas/image",
    });
    if let Value::Object(c) = core {
        m.extend(c);
    }
    if matches!(i.status.as_str(), "active" | "deactivated") {
        m.insert("stores".into(), json!(crate::STORE_ID));
    }
    Value::Object(m)
}

async fn list(S(g): State, Auth(ctx): Auth, q: QueryMap) -> Result<Json<Value>> {
    let (images, next) = g.list_images(&ctx, &q).await?;
    let keep: Vec<(&str, &str)> =
        q.0.iter()
            .filter(|(k, _)| k != "marker")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
    let mut body = json!({
        "images": images.iter().map(render).collect::<Vec<_>>(),
        "first": with_query("/v2/images", keep.iter().copied()),
        "schema": "/v2/schemas/images",
    });
    if let Some(m) = next {
        body["next"] = json!(with_query(
            "/v2/images",
            keep.iter()
                .copied()
                .chain(std::iter::once(("marker", m.as_str())))
        ));
    }
    Ok(Json(body))
}

pub(crate) fn with_query<'a>(
    path: &str,
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    let q: Vec<String> = pairs
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, NON_ALPHANUMERIC),
                utf8_percent_encode(v, NON_ALPHANUMERIC)
            )
        })
        .collect();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", q.join("&"))
    }
}

async fn create(S(g): State, Auth(ctx): Auth, JsonBody(body): JsonBody<Value>) -> Result<Response> {
    let img = g.create_image(&ctx, body).await?;
    let mut r = (StatusCode::CREATED, Json(render(&img))).into_response();
    let hs = r.headers_mut();
    hs.insert(h::LOCATION, header(&format!("/v2/images/{}", img.id)));
    hs.insert(
        "openstack-image-import-methods",
        header(&g.import_methods().join(",")),
    );
    hs.insert("openstack-image-store-ids", header(crate::STORE_ID));
    Ok(r)
}

async fn show(S(g): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<Json<Value>> {
    Ok(Json(render(&g.show_image(&ctx, &id).await?)))
}

/// JSON patch; the body is read raw because its media type is not JSON's.
async fn update(
    S(g): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let ct = headers.get(h::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let v21 = match patch::check_media_type(ct) {
        Ok(v) => v,
        Err(e) => {
            let mut r = e.into_response();
            r.headers_mut()
                .insert("accept-patch", header(&patch::MEDIA_TYPES.join(", ")));
            return Ok(r);
        }
    };
    let changes = patch::parse(&body, v21)?;
    let img = g.update_image(&ctx, &id, changes).await?;
    Ok(Json(render(&img)).into_response())
}

async fn delete(S(g): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    g.delete_image(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn add_tag(
    S(g): State,
    Auth(ctx): Auth,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode> {
    g.add_tag(&ctx, &id, &tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_tag(
    S(g): State,
    Auth(ctx): Auth,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode> {
    g.delete_tag(&ctx, &id, &tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn deactivate(S(g): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    g.deactivate_image(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reactivate(S(g): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    g.reactivate_image(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The image's import tasks (`api_image_import`, one per import).
async fn tasks(S(g): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<Json<Value>> {
    let tasks = g.image_tasks(&ctx, &id).await?;
    Ok(Json(json!({
        "tasks": tasks.iter().map(super::tasks::render).collect::<Vec<_>>(),
    })))
}

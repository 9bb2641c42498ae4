//! `/v2/images`, `/v2/images/{id}`, its tags and actions.

use super::GlanceErrors;
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
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;
use utoipa::ToSchema;

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

/// The attribute names [`ImageBody`] prints itself; an additional property
/// of the same name is not shown (the core attribute wins on a clash).
const CORE: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "protected",
    "os_hidden",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "owner",
    "size",
    "virtual_size",
    "disk_format",
    "container_format",
    "min_ram",
    "min_disk",
    "created_at",
    "updated_at",
    "tags",
    "self",
    "file",
    "schema",
];

/// An image as Glance prints it: the core attributes, then additional
/// properties at the top level beside them.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImageBody {
    pub id: String,
    pub name: Option<String>,
    pub status: String,
    pub visibility: String,
    pub protected: bool,
    pub os_hidden: bool,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub owner: Option<String>,
    pub size: Option<i64>,
    pub virtual_size: Option<i64>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub min_ram: i64,
    pub min_disk: i64,
    pub created_at: String,
    pub updated_at: String,
    pub tags: Vec<String>,
    #[serde(rename = "self")]
    #[schema(rename = "self")]
    pub self_link: String,
    pub file: String,
    pub schema: String,
    /// The store holding the data, once there is data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stores: Option<String>,
    /// Additional properties (strings), at the top level.
    #[serde(flatten)]
    #[schema(additional_properties)]
    pub properties: Map<String, Value>,
}

impl From<&Image> for ImageBody {
    fn from(i: &Image) -> Self {
        let stores = matches!(i.status.as_str(), "active" | "deactivated")
            .then(|| crate::STORE_ID.to_string());
        let properties = i
            .properties
            .iter()
            .filter(|(k, _)| {
                let k = k.as_str();
                !HIDDEN.contains(&k) && !CORE.contains(&k) && (stores.is_none() || k != "stores")
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        ImageBody {
            id: i.id.clone(),
            name: i.name.clone(),
            status: i.status.clone(),
            visibility: i.visibility.clone(),
            protected: i.protected,
            os_hidden: i.os_hidden,
            checksum: i.checksum.clone(),
            os_hash_algo: i.os_hash_algo.clone(),
            os_hash_value: i.os_hash_value.clone(),
            owner: i.owner.clone(),
            size: i.size,
            virtual_size: i.virtual_size,
            disk_format: i.disk_format.clone(),
            container_format: i.container_format.clone(),
            min_ram: i.min_ram,
            min_disk: i.min_disk,
            created_at: iso_seconds(i.created_at),
            updated_at: iso_seconds(i.updated_at),
            tags: i.tags.clone(),
            self_link: format!("/v2/images/{}", i.id),
            file: format!("/v2/images/{}/file", i.id),
            schema: "/v2/schemas/image".into(),
            stores,
            properties,
        }
    }
}

/// `GET /v2/images`: a page of images with its links.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImageList {
    pub images: Vec<ImageBody>,
    pub first: String,
    pub schema: String,
    /// The next page, when there may be one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// `GET /v2/images/{id}/tasks`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImageTasks {
    pub tasks: Vec<super::tasks::TaskBody>,
}

#[utoipa::path(get, path = "/v2/images", tag = "images",
    params(
        ("limit" = Option<u32>, Query, description = "Page size"),
        ("marker" = Option<String>, Query, description = "Last image id of the previous page"),
        ("sort_key" = Option<String>, Query), ("sort_dir" = Option<String>, Query),
        ("sort" = Option<String>, Query), ("name" = Option<String>, Query),
        ("status" = Option<String>, Query), ("visibility" = Option<String>, Query),
        ("member_status" = Option<String>, Query), ("owner" = Option<String>, Query),
        ("tag" = Option<String>, Query), ("os_hidden" = Option<bool>, Query),
    ),
    responses((status = 200, body = ImageList), GlanceErrors))]
async fn list(S(g): State, Auth(ctx): Auth, q: QueryMap) -> Result<Json<ImageList>> {
    let (images, next) = g.list_images(&ctx, &q).await?;
    let keep: Vec<(&str, &str)> =
        q.0.iter()
            .filter(|(k, _)| k != "marker")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
    let next = next.map(|m| {
        with_query(
            "/v2/images",
            keep.iter()
                .copied()
                .chain(std::iter::once(("marker", m.as_str()))),
        )
    });
    Ok(Json(ImageList {
        images: images.iter().map(ImageBody::from).collect(),
        first: with_query("/v2/images", keep.iter().copied()),
        schema: "/v2/schemas/images".into(),
        next,
    }))
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

#[utoipa::path(post, path = "/v2/images", tag = "images",
    request_body(content = ImageCreate, content_type = "application/json"),
    responses((status = 201, body = ImageBody), GlanceErrors))]
async fn create(S(g): State, Auth(ctx): Auth, JsonBody(body): JsonBody<Value>) -> Result<Response> {
    let img = g.create_image(&ctx, body).await?;
    let mut r = (StatusCode::CREATED, Json(ImageBody::from(&img))).into_response();
    let hs = r.headers_mut();
    hs.insert(h::LOCATION, header(&format!("/v2/images/{}", img.id)));
    hs.insert(
        "openstack-image-import-methods",
        header(&g.import_methods().join(",")),
    );
    hs.insert("openstack-image-store-ids", header(crate::STORE_ID));
    Ok(r)
}

#[utoipa::path(get, path = "/v2/images/{id}", tag = "images", params(("id" = String, Path)),
    responses((status = 200, body = ImageBody), GlanceErrors))]
async fn show(S(g): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<Json<ImageBody>> {
    Ok(Json(ImageBody::from(&g.show_image(&ctx, &id).await?)))
}

/// JSON patch; the body is read raw because its media type is not JSON's.
#[utoipa::path(patch, path = "/v2/images/{id}", tag = "images", params(("id" = String, Path)),
    request_body(content = Vec<PatchOp>,
        content_type = "application/openstack-images-v2.1-json-patch"),
    responses((status = 200, body = ImageBody), GlanceErrors))]
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
    Ok(Json(ImageBody::from(&img)).into_response())
}

#[utoipa::path(delete, path = "/v2/images/{id}", tag = "images", params(("id" = String, Path)),
    responses((status = 204), GlanceErrors))]
async fn delete(S(g): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    g.delete_image(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/v2/images/{id}/tags/{tag}", tag = "images",
    params(("id" = String, Path), ("tag" = String, Path)),
    responses((status = 204), GlanceErrors))]
async fn add_tag(
    S(g): State,
    Auth(ctx): Auth,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode> {
    g.add_tag(&ctx, &id, &tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/v2/images/{id}/tags/{tag}", tag = "images",
    params(("id" = String, Path), ("tag" = String, Path)),
    responses((status = 204), GlanceErrors))]
async fn delete_tag(
    S(g): State,
    Auth(ctx): Auth,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode> {
    g.delete_tag(&ctx, &id, &tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v2/images/{id}/actions/deactivate", tag = "images",
    params(("id" = String, Path)), responses((status = 204), GlanceErrors))]
async fn deactivate(S(g): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    g.deactivate_image(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v2/images/{id}/actions/reactivate", tag = "images",
    params(("id" = String, Path)), responses((status = 204), GlanceErrors))]
async fn reactivate(S(g): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    g.reactivate_image(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The image's import tasks (`api_image_import`, one per import).
#[utoipa::path(get, path = "/v2/images/{id}/tasks", tag = "images", params(("id" = String, Path)),
    responses((status = 200, body = ImageTasks), GlanceErrors))]
async fn tasks(S(g): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<Json<ImageTasks>> {
    let tasks = g.image_tasks(&ctx, &id).await?;
    Ok(Json(ImageTasks {
        tasks: tasks.iter().map(super::tasks::TaskBody::from).collect(),
    }))
}

/// The create request as documented: every attribute optional, additional
/// properties as strings. The body is read as JSON and checked by the
/// image schema in `app/` (Glance's messages for each violation).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ImageCreate {
    pub id: Option<String>,
    pub name: Option<String>,
    pub visibility: Option<String>,
    pub protected: Option<bool>,
    pub os_hidden: Option<bool>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub min_ram: Option<i64>,
    pub min_disk: Option<i64>,
    pub tags: Option<Vec<String>>,
    #[serde(flatten)]
    #[schema(additional_properties)]
    pub properties: Map<String, Value>,
}

/// One JSON-patch operation (`application/openstack-images-v2.1-json-patch`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct PatchOp {
    pub op: String,
    pub path: String,
    pub value: Option<Value>,
}

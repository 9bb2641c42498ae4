//! `/v2/schemas/{image,images,member,members}`: Glance's JSON schemas,
//! which clients (python-glanceclient) read to validate input; and
//! `/v2/schemas/{task,tasks}` and `/v2/schemas/metadefs/*`, served as the
//! documents in `schema_docs/` (Glance's own, from its API reference
//! samples, Apache-2.0; the task ones brought up to Glance's current task
//! schema: `image_id`, `request_id`, `user_id` and the `api_image_import`
//! type), since nothing here generates them. These bodies are JSON
//! Schema documents themselves, so they stay JSON values.

use super::GlanceErrors;
use crate::inspect::{CONTAINER_FORMATS, DISK_FORMATS};
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Image>> {
    Router::new()
        .route("/v2/schemas/image", get(image))
        .route("/v2/schemas/images", get(images))
        .route("/v2/schemas/member", get(member))
        .route("/v2/schemas/members", get(members))
        .route("/v2/schemas/task", get(task))
        .route("/v2/schemas/tasks", get(tasks))
        .route("/v2/schemas/metadefs/{name}", get(metadefs))
}

const TASK: &str = include_str!("schema_docs/task.json");
const TASKS: &str = include_str!("schema_docs/tasks.json");

/// The metadef schemas by the last segment of their URL.
const METADEFS: &[(&str, &str)] = &[
    (
        "namespace",
        include_str!("schema_docs/metadefs_namespace.json"),
    ),
    (
        "namespaces",
        include_str!("schema_docs/metadefs_namespaces.json"),
    ),
    ("object", include_str!("schema_docs/metadefs_object.json")),
    ("objects", include_str!("schema_docs/metadefs_objects.json")),
    (
        "property",
        include_str!("schema_docs/metadefs_property.json"),
    ),
    (
        "properties",
        include_str!("schema_docs/metadefs_properties.json"),
    ),
    (
        "resource_type",
        include_str!("schema_docs/metadefs_resource_type.json"),
    ),
    (
        "resource_types",
        include_str!("schema_docs/metadefs_resource_types.json"),
    ),
    ("tag", include_str!("schema_docs/metadefs_tag.json")),
    ("tags", include_str!("schema_docs/metadefs_tags.json")),
];

/// A stored schema document, sent as it is (it is JSON, checked by a test).
async fn doc(Auth(_ctx): Auth, text: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

#[utoipa::path(get, path = "/v2/schemas/task", tag = "schemas",
    responses((status = 200, description = "A JSON schema", body = Object), GlanceErrors))]
async fn task(a: Auth) -> Response {
    doc(a, TASK).await
}

#[utoipa::path(get, path = "/v2/schemas/tasks", tag = "schemas",
    responses((status = 200, description = "A JSON schema", body = Object), GlanceErrors))]
async fn tasks(a: Auth) -> Response {
    doc(a, TASKS).await
}

#[utoipa::path(get, path = "/v2/schemas/metadefs/{name}", tag = "schemas",
    params(("name" = String, Path, description = "namespace(s), object(s), property/properties, resource_type(s), tag(s)")),
    responses((status = 200, description = "A JSON schema", body = Object), GlanceErrors))]
async fn metadefs(a: Auth, Path(name): Path<String>) -> Result<Response> {
    let text = METADEFS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .ok_or_else(|| Error::not_found(format!("Schema metadefs/{name} not found")))?;
    Ok(doc(a, text).await)
}

fn nullable_enum(values: &[&str]) -> Value {
    let mut v: Vec<Value> = vec![Value::Null];
    v.extend(values.iter().map(|s| json!(s)));
    Value::Array(v)
}

pub fn image_schema() -> Value {
    json!({
        "name": "image",
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
        "properties": {
            "id": {"type": "string", "description": "An identifier for the image",
                   "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"},
            "name": {"type": ["null", "string"], "description": "Descriptive name for the image", "maxLength": 255},
            "status": {"type": "string", "readOnly": true, "description": "Status of the image",
                       "enum": ["queued", "saving", "active", "killed", "deleted", "uploading", "importing", "pending_delete", "deactivated"]},
            "visibility": {"type": "string", "description": "Scope of image accessibility",
                           "enum": ["community", "public", "private", "shared"]},
            "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
            "os_hidden": {"type": "boolean", "description": "If true, image will not appear in default image list response."},
            "checksum": {"type": ["null", "string"], "readOnly": true, "description": "md5 hash of image contents.", "maxLength": 32},
            "os_hash_algo": {"type": ["null", "string"], "readOnly": true, "description": "Algorithm to calculate the os_hash_value", "maxLength": 64},
            "os_hash_value": {"type": ["null", "string"], "readOnly": true, "description": "Hexdigest of the image contents using the algorithm specified by the os_hash_algo", "maxLength": 128},
            "owner": {"type": ["null", "string"], "description": "Owner of the image", "maxLength": 255},
            "size": {"type": ["null", "integer"], "readOnly": true, "description": "Size of image file in bytes"},
            "virtual_size": {"type": ["null", "integer"], "readOnly": true, "description": "Virtual size of image in bytes"},
            "container_format": {"type": ["null", "string"], "description": "Format of the container", "enum": nullable_enum(CONTAINER_FORMATS)},
            "disk_format": {"type": ["null", "string"], "description": "Format of the disk", "enum": nullable_enum(DISK_FORMATS)},
            "created_at": {"type": "string", "readOnly": true, "description": "Date and time of image registration"},
            "updated_at": {"type": "string", "readOnly": true, "description": "Date and time of the last image modification"},
            "tags": {"type": "array", "description": "List of strings related to the image", "items": {"type": "string", "maxLength": 255}},
            "direct_url": {"type": "string", "readOnly": true, "description": "URL to access the image file kept in external store"},
            "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
            "min_disk": {"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
            "self": {"type": "string", "readOnly": true, "description": "An image self url"},
            "file": {"type": "string", "readOnly": true, "description": "An image file url"},
            "stores": {"type": "string", "readOnly": true, "description": "Store in which image data resides."},
            "schema": {"type": "string", "readOnly": true, "description": "An image schema url"},
            "locations": {"type": "array", "description": "A set of URLs to access the image file kept in external store",
                          "items": {"type": "object", "required": ["url", "metadata"],
                                    "properties": {"url": {"type": "string", "maxLength": 255}, "metadata": {"type": "object"}}}},
        },
    })
}

#[utoipa::path(get, path = "/v2/schemas/image", tag = "schemas",
    responses((status = 200, description = "A JSON schema", body = Object), GlanceErrors))]
async fn image(Auth(_ctx): Auth) -> Json<Value> {
    Json(image_schema())
}

#[utoipa::path(get, path = "/v2/schemas/images", tag = "schemas",
    responses((status = 200, description = "A JSON schema", body = Object), GlanceErrors))]
async fn images(Auth(_ctx): Auth) -> Json<Value> {
    Json(json!({
        "name": "images",
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
        "properties": {
            "images": {"type": "array", "items": image_schema()},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
    }))
}

fn member_schema() -> Value {
    json!({
        "name": "member",
        "properties": {
            "created_at": {"type": "string", "description": "Date and time of image member creation"},
            "image_id": {"type": "string", "description": "An identifier for the image",
                         "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"},
            "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
            "status": {"type": "string", "description": "The status of this image member",
                       "enum": ["pending", "accepted", "rejected"]},
            "updated_at": {"type": "string", "description": "Date and time of last modification of image member"},
            "schema": {"type": "string", "readOnly": true},
        },
    })
}

#[utoipa::path(get, path = "/v2/schemas/member", tag = "schemas",
    responses((status = 200, description = "A JSON schema", body = Object), GlanceErrors))]
async fn member(Auth(_ctx): Auth) -> Json<Value> {
    Json(member_schema())
}

#[utoipa::path(get, path = "/v2/schemas/members", tag = "schemas",
    responses((status = 200, description = "A JSON schema", body = Object), GlanceErrors))]
async fn members(Auth(_ctx): Auth) -> Json<Value> {
    Json(json!({
        "name": "members",
        "links": [{"rel": "schema", "href": "{schema}"}],
        "properties": {
            "members": {"type": "array", "items": member_schema()},
            "schema": {"type": "string"},
        },
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    /// The stored documents are JSON and carry the names clients expect.
    #[test]
    fn stored_schemas_parse() {
        let expect = [
            ("namespace", "namespace"),
            ("namespaces", "namespaces"),
            ("object", "object"),
            ("objects", "objects"),
            ("property", "property"),
            ("properties", "properties"),
            ("resource_type", "resource_type_association"),
            ("resource_types", "resource_type_associations"),
            ("tag", "tag"),
            ("tags", "tags"),
        ];
        for (url, name) in expect {
            let (_, text) = super::METADEFS.iter().find(|(n, _)| *n == url).unwrap();
            let v: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(v["name"], name, "{url}");
        }
        for (text, name) in [(super::TASK, "task"), (super::TASKS, "tasks")] {
            let v: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(v["name"], name);
        }
    }
}

//! `/v2/schemas/{image,images,member,members}`: Glance's JSON schemas,
//! which clients (python-glanceclient) read to validate input.

use crate::inspect::{CONTAINER_FORMATS, DISK_FORMATS};
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Glance>> {
    Router::new()
        .route("/v2/schemas/image", get(image))
        .route("/v2/schemas/images", get(images))
        .route("/v2/schemas/member", get(member))
        .route("/v2/schemas/members", get(members))
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

async fn image(Auth(_ctx): Auth) -> Json<Value> {
    Json(image_schema())
}

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

async fn member(Auth(_ctx): Auth) -> Json<Value> {
    Json(member_schema())
}

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

//! Glance's image schema as rules: which attributes are core and how they
//! are typed, which are read-only or reserved, and that additional
//! properties are strings. Messages follow Glance's (jsonschema's) words.

use crate::db::images::Image;
use crate::inspect::{CONTAINER_FORMATS, DISK_FORMATS};
use common::{Error, Result};
use serde_json::Value;

/// Set by the service only; a request naming one is a 403.
pub const READONLY: &[&str] = &[
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "size",
    "virtual_size",
    "direct_url",
    "self",
    "file",
    "schema",
    "id",
    "os_hash_algo",
    "os_hash_value",
    "stores",
];
/// Never accepted on create, not even to match.
pub const DISALLOWED_ON_CREATE: &[&str] = &["direct_url", "self", "file", "schema", "stores"];
/// Names Glance keeps for itself.
pub const RESERVED: &[&str] = &["location", "deleted", "deleted_at"];
const RESERVED_NAMESPACE: &str = "os_glance";
/// Attributes with columns (everything else is an additional property).
pub const CORE: &[&str] = &[
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
    "container_format",
    "disk_format",
    "created_at",
    "updated_at",
    "tags",
    "direct_url",
    "min_ram",
    "min_disk",
    "self",
    "file",
    "stores",
    "schema",
    "locations",
];
pub const VISIBILITIES: &[&str] = &["community", "public", "private", "shared"];
/// Glance's `image_property_quota` and `image_tag_quota`.
pub const MAX_PROPERTIES: usize = 128;
pub const MAX_TAGS: usize = 128;

pub fn invalid(detail: impl std::fmt::Display) -> Error {
    Error::bad_request(format!(
        "Provided object does not match schema 'image': {detail}"
    ))
}

pub fn readonly(key: &str) -> Error {
    Error::forbidden(format!("Attribute '{key}' is read-only."))
}

pub fn reserved(key: &str) -> Error {
    Error::forbidden(format!("Attribute '{key}' is reserved."))
}

/// 403 for read-only or reserved names, as Glance's deserializer answers.
pub fn check_writable(key: &str) -> Result<()> {
    if READONLY.contains(&key) {
        return Err(readonly(key));
    }
    if RESERVED.contains(&key) || key.starts_with(RESERVED_NAMESPACE) {
        return Err(reserved(key));
    }
    if key == "locations" {
        return Err(Error::forbidden(
            "Image locations are managed by this cloud and cannot be set.",
        ));
    }
    Ok(())
}

fn type_name(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

fn string_or_null(key: &str, v: &Value, max: usize) -> Result<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() <= max => Ok(Some(s.clone())),
        Value::String(_) => Err(invalid(format!(
            "'{key}' is too long (maximum {max} characters)"
        ))),
        other => Err(invalid(format!(
            "{} is not of type 'null', 'string'",
            type_name(other)
        ))),
    }
}

fn one_of(key: &str, v: &Value, allowed: &[&str], nullable: bool) -> Result<Option<String>> {
    match v {
        Value::Null if nullable => Ok(None),
        Value::String(s) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
        other => Err(invalid(format!(
            "{} is not one of {allowed:?} (field '{key}')",
            type_name(other)
        ))),
    }
}

fn boolean(v: &Value) -> Result<bool> {
    v.as_bool()
        .ok_or_else(|| invalid(format!("{} is not of type 'boolean'", type_name(v))))
}

fn non_negative(key: &str, v: &Value) -> Result<i64> {
    let n = v
        .as_i64()
        .ok_or_else(|| invalid(format!("{} is not of type 'integer'", type_name(v))))?;
    if n < 0 {
        return Err(Error::bad_request(format!(
            "Invalid value '{n}' for parameter '{key}': Cannot be a negative value."
        )));
    }
    Ok(n)
}

pub fn tags(v: &Value) -> Result<Vec<String>> {
    let items = v
        .as_array()
        .ok_or_else(|| invalid(format!("{} is not of type 'array'", type_name(v))))?;
    let mut out: Vec<String> = Vec::new();
    for t in items {
        let t = t
            .as_str()
            .ok_or_else(|| invalid(format!("{} is not of type 'string'", type_name(t))))?;
        check_tag(t)?;
        if !out.iter().any(|x| x == t) {
            out.push(t.to_string());
        }
    }
    if out.len() > MAX_TAGS {
        return Err(Error::over_quota(format!(
            "Maximum number of tags exceeded: attempted {}, maximum {MAX_TAGS}",
            out.len()
        )));
    }
    Ok(out)
}

pub fn check_tag(t: &str) -> Result<()> {
    if t.chars().count() > 255 {
        return Err(invalid(format!("'{t}' is too long")));
    }
    Ok(())
}

/// An id a client chose for a new image: a UUID.
pub fn check_id(v: &Value) -> Result<String> {
    let s = v
        .as_str()
        .ok_or_else(|| invalid(format!("{} is not of type 'string'", type_name(v))))?;
    let shape_ok = s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    if !shape_ok {
        return Err(invalid(format!(
            "'{s}' does not match the UUID pattern (field 'id')"
        )));
    }
    Ok(s.to_lowercase())
}

/// Sets core attribute `key` of `img` from `v`, validated.
pub fn set_core(img: &mut Image, key: &str, v: &Value) -> Result<()> {
    match key {
        "name" => img.name = string_or_null(key, v, 255)?,
        "visibility" => {
            img.visibility = one_of(key, v, VISIBILITIES, false)?.unwrap_or_default();
        }
        "protected" => img.protected = boolean(v)?,
        "os_hidden" => img.os_hidden = boolean(v)?,
        "owner" => img.owner = string_or_null(key, v, 255)?,
        "container_format" => img.container_format = one_of(key, v, CONTAINER_FORMATS, true)?,
        "disk_format" => img.disk_format = one_of(key, v, DISK_FORMATS, true)?,
        "min_ram" => img.min_ram = non_negative(key, v)?,
        "min_disk" => img.min_disk = non_negative(key, v)?,
        "tags" => img.tags = tags(v)?,
        other => return Err(readonly(other)),
    }
    Ok(())
}

/// Sets additional property `key`: its value must be a string.
pub fn set_extra(img: &mut Image, key: &str, v: &Value) -> Result<()> {
    if key.chars().count() > 255 {
        return Err(Error::bad_request(
            "Custom property should not be greater than 255 characters.",
        ));
    }
    if key.is_empty() {
        return Err(invalid("property names must not be empty"));
    }
    match v {
        Value::String(_) => {
            img.properties.insert(key.to_string(), v.clone());
        }
        other => {
            return Err(invalid(format!(
                "{} is not of type 'string'",
                type_name(other)
            )))
        }
    }
    if img.properties.len() > MAX_PROPERTIES {
        return Err(Error::over_quota(format!(
            "Maximum number of image properties exceeded: attempted {}, maximum {MAX_PROPERTIES}",
            img.properties.len()
        )));
    }
    Ok(())
}

//! Request bodies as Neutron's attribute maps read them: the resource
//! key (`{"network": {…}}` or `{"networks": […]}` in bulk), unknown and
//! read-only attributes refused, and each attribute converted and checked
//! with neutron-lib's messages.

use common::{Error, Result};
use serde_json::{Map, Value};

pub type Attrs = Map<String, Value>;

fn bad(msg: impl Into<String>) -> Error {
    Error::bad_request(msg)
}

/// The single resource of a create or update body.
pub fn single(body: Value, resource: &str) -> Result<Attrs> {
    let Value::Object(mut outer) = body else {
        return Err(bad("Resource body required"));
    };
    match outer.remove(resource) {
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(bad(format!("Invalid format for {resource} body"))),
        None => Err(bad(format!("Unable to find '{resource}' in request body"))),
    }
}

/// The resources of a create body, single or bulk (`{"networks": […]}`),
/// and whether it was bulk.
pub fn create_items(body: Value, resource: &str, collection: &str) -> Result<(Vec<Attrs>, bool)> {
    if let Value::Object(outer) = &body {
        if let Some(list) = outer.get(collection) {
            let Value::Array(items) = list else {
                return Err(bad(format!("Invalid format for {collection} body")));
            };
            if items.is_empty() {
                return Err(bad("Resources required"));
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::Object(m) => out.push(m.clone()),
                    _ => return Err(bad(format!("Invalid format for {collection} body"))),
                }
            }
            return Ok((out, true));
        }
    }
    Ok((vec![single(body, resource)?], false))
}

/// Refuses attributes outside `known` ("Unrecognized attribute(s)") and,
/// among the known ones, those outside `writable` (POST: "not allowed in
/// POST"; PUT: "Cannot update read-only attribute").
pub fn check_keys(a: &Attrs, known: &[&str], writable: &[&str], create: bool) -> Result<()> {
    let mut extra: Vec<&str> = a
        .keys()
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    if !extra.is_empty() {
        extra.sort_unstable();
        return Err(bad(format!(
            "Unrecognized attribute(s) '{}'",
            extra.join(", ")
        )));
    }
    for k in a.keys() {
        if !writable.contains(&k.as_str()) {
            return Err(if create {
                bad(format!("Attribute '{k}' not allowed in POST"))
            } else {
                bad(format!("Cannot update read-only attribute {k}"))
            });
        }
    }
    Ok(())
}

/// The owner named by the body (`project_id`/`tenant_id`, which must agree).
pub fn requested_project(a: &Attrs) -> Result<Option<String>> {
    let p = a.get("project_id");
    let t = a.get("tenant_id");
    let text = |v: &Value, key: &str| match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(bad(format!(
            "Invalid input for {key}. Reason: '{}' is not a valid string.",
            show(other)
        ))),
    };
    match (p, t) {
        (Some(p), Some(t)) => {
            let (p, t) = (text(p, "project_id")?, text(t, "tenant_id")?);
            if p != t {
                return Err(bad("'project_id' and 'tenant_id' do not match"));
            }
            Ok(Some(p))
        }
        (Some(p), None) => Ok(Some(text(p, "project_id")?)),
        (None, Some(t)) => Ok(Some(text(t, "tenant_id")?)),
        (None, None) => Ok(None),
    }
}

/// A value as Python's `%s` would print it in a message.
pub fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

/// neutron-lib's `convert_to_boolean`.
pub fn to_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A boolean attribute, when present.
pub fn boolean(a: &Attrs, key: &str) -> Result<Option<bool>> {
    match a.get(key) {
        None => Ok(None),
        Some(v) => to_bool(v).map(Some).ok_or_else(|| {
            super::invalid_input(format!("'{}' cannot be converted to boolean", show(v)))
        }),
    }
}

/// A string attribute of at most `max` characters, when present
/// (`null` refused unless `nullable`).
pub fn string(a: &Attrs, key: &str, max: usize, nullable: bool) -> Result<Option<Option<String>>> {
    match a.get(key) {
        None => Ok(None),
        Some(Value::Null) if nullable => Ok(Some(None)),
        Some(Value::String(s)) => {
            if s.chars().count() > max {
                return Err(bad(format!(
                    "Invalid input for {key}. Reason: '{s}' exceeds maximum length of {max}."
                )));
            }
            Ok(Some(Some(s.clone())))
        }
        Some(v) => Err(bad(format!(
            "Invalid input for {key}. Reason: '{}' is not a valid string.",
            show(v)
        ))),
    }
}

/// A non-null string attribute (`name`, `description`).
pub fn text(a: &Attrs, key: &str, max: usize) -> Result<Option<String>> {
    Ok(string(a, key, max, false)?.flatten())
}

/// neutron-lib's `convert_to_int` of one value: numbers or numeric
/// strings.
pub fn to_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An integer attribute (neutron-lib's `convert_to_int`: numbers or
/// numeric strings), when present; `null` allowed when `nullable`.
pub fn integer(a: &Attrs, key: &str, nullable: bool) -> Result<Option<Option<i64>>> {
    match a.get(key) {
        None => Ok(None),
        Some(Value::Null) if nullable => Ok(Some(None)),
        Some(v) => {
            let n = match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            };
            match n {
                Some(n) => Ok(Some(Some(n))),
                None => Err(super::invalid_input(format!(
                    "'{}' is not an integer",
                    show(v)
                ))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn attrs(v: Value) -> Attrs {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn bodies_and_keys() {
        assert_eq!(
            single(json!({"net": {}}), "network").unwrap_err().message(),
            "Unable to find 'network' in request body"
        );
        let (items, bulk) = create_items(
            json!({"networks": [{"name": "a"}, {"name": "b"}]}),
            "network",
            "networks",
        )
        .unwrap();
        assert!(bulk);
        assert_eq!(items.len(), 2);
        let (items, bulk) = create_items(json!({"network": {}}), "network", "networks").unwrap();
        assert!(!bulk && items.len() == 1);
        let a = attrs(json!({"name": "x", "foo": 1, "bar": 2}));
        assert_eq!(
            check_keys(&a, &["name"], &["name"], true)
                .unwrap_err()
                .message(),
            "Unrecognized attribute(s) 'bar, foo'"
        );
        let a = attrs(json!({"status": "UP"}));
        assert_eq!(
            check_keys(&a, &["status"], &[], true)
                .unwrap_err()
                .message(),
            "Attribute 'status' not allowed in POST"
        );
        assert_eq!(
            check_keys(&a, &["status"], &[], false)
                .unwrap_err()
                .message(),
            "Cannot update read-only attribute status"
        );
    }

    #[test]
    fn conversions() {
        let a = attrs(json!({"b": "True", "c": "x", "n": "12", "s": "abc", "z": null}));
        assert_eq!(boolean(&a, "b").unwrap(), Some(true));
        assert_eq!(
            boolean(&a, "c").unwrap_err().message(),
            "Invalid input for operation: 'x' cannot be converted to boolean."
        );
        assert_eq!(integer(&a, "n", false).unwrap(), Some(Some(12)));
        assert_eq!(integer(&a, "z", true).unwrap(), Some(None));
        assert!(integer(&a, "s", false).is_err());
        assert_eq!(
            string(&a, "s", 2, false).unwrap_err().message(),
            "Invalid input for s. Reason: 'abc' exceeds maximum length of 2."
        );
        assert!(string(&a, "z", 5, false).is_err());
        assert_eq!(
            requested_project(&attrs(json!({"project_id": "a", "tenant_id": "b"})))
                .unwrap_err()
                .message(),
            "'project_id' and 'tenant_id' do not match"
        );
    }
}

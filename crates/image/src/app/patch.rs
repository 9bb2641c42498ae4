//! `PATCH /v2/images/{id}` bodies: JSON Patch in Glance's two media types
//! (`application/openstack-images-v2.1-json-patch`, RFC 6902 style, and
//! the older `…-v2.0-json-patch` with `{"add": "/path", "value": …}`),
//! limited as Glance limits them: `add`, `remove` and `replace` of
//! top-level attributes only.

use common::{Error, Result};
use serde_json::Value;

pub const MEDIA_TYPES: &[&str] = &[
    "application/openstack-images-v2.0-json-patch",
    "application/openstack-images-v2.1-json-patch",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Remove,
    Replace,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        match s {
            "add" => Some(Op::Add),
            "remove" => Some(Op::Remove),
            "replace" => Some(Op::Replace),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub op: Op,
    /// The attribute (top level; deeper paths are refused).
    pub attr: String,
    pub value: Option<Value>,
}

/// The content type (without parameters) is one Glance takes, else 415.
pub fn check_media_type(content_type: Option<&str>) -> Result<bool> {
    let ct = content_type
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    match MEDIA_TYPES.iter().position(|m| *m == ct) {
        Some(0) => Ok(false),
        Some(_) => Ok(true),
        None => Err(Error::unsupported_media_type(format!(
            "Image PATCH expects Content-Type one of: {}",
            MEDIA_TYPES.join(", ")
        ))),
    }
}

const OPS: &str = "add, remove, replace";

/// Parses the body into changes; `v21` selects the RFC 6902 form.
pub fn parse(body: &[u8], v21: bool) -> Result<Vec<Change>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::bad_request("Body expected in request."));
    }
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| Error::bad_request(format!("Malformed JSON in request body: {e}")))?;
    let Value::Array(items) = doc else {
        return Err(Error::bad_request(
            "Request body must be a JSON array of operation objects.",
        ));
    };
    let mut out = Vec::with_capacity(items.len());
    for raw in items {
        let Value::Object(raw) = raw else {
            return Err(Error::bad_request("Operations must be JSON objects."));
        };
        let (op, path) = if v21 {
            let op = raw.get("op").and_then(Value::as_str).ok_or_else(|| {
                Error::bad_request(format!(
                    "Unable to find `op` in JSON Schema change. It must be one of the following: {OPS}."
                ))
            })?;
            let op = Op::parse(op).ok_or_else(|| {
                Error::bad_request(format!(
                    "Invalid operation: `{op}`. It must be one of the following: {OPS}."
                ))
            })?;
            let path = raw
                .get("path")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::bad_request("Unable to find 'path' in JSON Schema change"))?;
            (op, path.to_string())
        } else {
            let present: Vec<&str> = ["add", "remove", "replace"]
                .into_iter()
                .filter(|k| raw.contains_key(*k))
                .collect();
            if present.len() != 1 {
                return Err(Error::bad_request(
                    "Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\".",
                ));
            }
            let path = raw
                .get(present[0])
                .and_then(Value::as_str)
                .ok_or_else(|| Error::bad_request("The operation's path must be a string."))?;
            (Op::parse(present[0]).unwrap_or(Op::Add), path.to_string())
        };
        let parts = decode_pointer(&path)?;
        if parts.len() != 1 {
            return Err(Error::bad_request(format!(
                "Invalid JSON pointer for this resource: '/{}'",
                parts.join("/")
            )));
        }
        let value = if op == Op::Remove {
            None
        } else {
            Some(raw.get("value").cloned().ok_or_else(|| {
                Error::bad_request(format!(
                    "Operation \"{}\" requires a member named \"value\".",
                    match op {
                        Op::Add => "add",
                        _ => "replace",
                    }
                ))
            })?)
        };
        let attr = parts.into_iter().next().unwrap_or_default();
        super::schema::check_writable(&attr)?;
        out.push(Change { op, attr, value });
    }
    Ok(out)
}

/// Glance's limited JSON pointers: `/a`, with `~1` and `~0` escapes.
fn decode_pointer(p: &str) -> Result<Vec<String>> {
    if !p.starts_with('/') {
        return Err(Error::bad_request(format!(
            "Pointer `{p}` does not start with \"/\"."
        )));
    }
    if p.len() > 1 && p.ends_with('/') {
        return Err(Error::bad_request(format!("Pointer `{p}` end with \"/\".")));
    }
    if p[1..].contains("//") {
        return Err(Error::bad_request(format!(
            "Pointer `{p}` contains adjacent \"/\"."
        )));
    }
    let bad_escape = p
        .char_indices()
        .any(|(i, c)| c == '~' && !matches!(p[i + 1..].chars().next(), Some('0' | '1')));
    if bad_escape {
        return Err(Error::bad_request(format!(
            "Pointer `{p}` contains \"~\" not part of a recognized escape sequence."
        )));
    }
    let parts: Vec<String> = p[1..]
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~").trim().to_string())
        .collect();
    if parts.iter().any(String::is_empty) {
        return Err(Error::bad_request(format!(
            "Pointer `{p}` does not contains valid token."
        )));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_both_dialects() {
        let c = parse(
            br#"[{"op": "replace", "path": "/name", "value": "x"}, {"op": "remove", "path": "/a~1b"}]"#,
            true,
        )
        .unwrap();
        assert_eq!(c[0].attr, "name");
        assert_eq!(c[1].attr, "a/b");
        assert_eq!(c[1].value, None);
        let c = parse(br#"[{"add": "/k", "value": "v"}]"#, false).unwrap();
        assert_eq!((c[0].op, c[0].attr.as_str()), (Op::Add, "k"));
    }

    #[test]
    fn refuses_what_glance_refuses() {
        let bad = |b: &[u8]| parse(b, true).unwrap_err();
        assert_eq!(bad(b"{}").kind(), common::ErrorKind::BadRequest);
        assert_eq!(
            bad(br#"[{"op": "move", "path": "/a"}]"#).kind(),
            common::ErrorKind::BadRequest
        );
        assert_eq!(
            bad(br#"[{"op": "add", "path": "/a"}]"#).kind(),
            common::ErrorKind::BadRequest
        );
        assert_eq!(
            bad(br#"[{"op": "add", "path": "/a/b", "value": 1}]"#).kind(),
            common::ErrorKind::BadRequest
        );
        assert_eq!(
            bad(br#"[{"op": "add", "path": "a", "value": 1}]"#).kind(),
            common::ErrorKind::BadRequest
        );
        assert_eq!(
            bad(br#"[{"op": "add", "path": "/a~2", "value": 1}]"#).kind(),
            common::ErrorKind::BadRequest
        );
        assert_eq!(
            bad(br#"[{"op": "replace", "path": "/status", "value": "active"}]"#).kind(),
            common::ErrorKind::Forbidden
        );
        assert_eq!(
            bad(br#"[{"op": "add", "path": "/deleted", "value": "x"}]"#).kind(),
            common::ErrorKind::Forbidden
        );
        assert!(check_media_type(Some("application/json")).is_err());
        assert!(check_media_type(Some(
            "application/openstack-images-v2.1-json-patch; charset=UTF-8"
        ))
        .unwrap());
    }
}

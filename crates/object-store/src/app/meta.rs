//! Metadata headers (`X-Account-Meta-*`, `X-Container-Meta-*`,
//! `X-Object-Meta-*`) and Swift's limits on them
//! (`swift.common.constraints.check_metadata`), plus the other settable
//! headers each kind keeps.

use super::{Result, SwiftError};
use crate::db::Metadata;
use axum::http::HeaderMap;

pub const MAX_META_NAME_LENGTH: usize = 128;
pub const MAX_META_VALUE_LENGTH: usize = 256;
pub const MAX_META_COUNT: usize = 90;
pub const MAX_META_OVERALL_SIZE: usize = 4096;
pub const MAX_HEADER_SIZE: usize = 8192;

/// Which resource the metadata belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Account,
    Container,
    Object,
}

impl Kind {
    pub fn word(self) -> &'static str {
        match self {
            Kind::Account => "account",
            Kind::Container => "container",
            Kind::Object => "object",
        }
    }

    /// `x-<kind>-meta-`.
    pub fn prefix(self) -> String {
        format!("x-{}-meta-", self.word())
    }
}

/// A header value as UTF-8, 400 if it is not.
fn utf8(v: &axum::http::HeaderValue) -> Result<&str> {
    std::str::from_utf8(v.as_bytes())
        .map_err(|_| SwiftError::bad_request("Metadata must be valid UTF-8"))
}

/// Applies the request's metadata headers to `current`: `X-<Kind>-Meta-Foo`
/// sets, `X-Remove-<Kind>-Meta-Foo` removes. An empty value removes an
/// account's or a container's item (the proxy turns it into a deletion),
/// but an object keeps it with the empty value: Swift's object server
/// stores every `X-Object-Meta-*` header it is sent, as it is.
/// Checks each name and value against Swift's limits.
pub fn apply(kind: Kind, headers: &HeaderMap, current: &mut Metadata) -> Result<()> {
    let prefix = kind.prefix();
    let remove_prefix = format!("x-remove-{}-meta-", kind.word());
    for (name, value) in headers {
        let n = name.as_str();
        if let Some(key) = n.strip_prefix(&prefix) {
            let v = utf8(value)?;
            check_item(key, v)?;
            if v.is_empty() && kind != Kind::Object {
                current.remove(n);
            } else {
                current.insert(n.to_string(), v.to_string());
            }
        } else if let Some(key) = n.strip_prefix(&remove_prefix) {
            if key.is_empty() {
                return Err(SwiftError::bad_request("Metadata name cannot be empty"));
            }
            current.remove(&format!("{prefix}{key}"));
        }
    }
    Ok(())
}

fn check_item(key: &str, value: &str) -> Result<()> {
    if key.is_empty() {
        return Err(SwiftError::bad_request("Metadata name cannot be empty"));
    }
    if value.len() > MAX_HEADER_SIZE {
        return Err(SwiftError::bad_request(format!(
            "Header value too long: {key}"
        )));
    }
    if key.len() > MAX_META_NAME_LENGTH {
        return Err(SwiftError::bad_request(format!(
            "Metadata name too long: {key}"
        )));
    }
    if value.len() > MAX_META_VALUE_LENGTH {
        return Err(SwiftError::bad_request(format!(
            "Metadata value longer than {MAX_META_VALUE_LENGTH}: {key}"
        )));
    }
    Ok(())
}

/// Swift's overall limits, on the metadata as it would be stored.
pub fn check_totals(kind: Kind, m: &Metadata) -> Result<()> {
    let prefix = kind.prefix();
    let mut count = 0;
    let mut size = 0;
    for (k, v) in m {
        if let Some(key) = k.strip_prefix(&prefix) {
            count += 1;
            size += key.len() + v.len();
        }
    }
    if count > MAX_META_COUNT {
        return Err(SwiftError::bad_request(format!(
            "Too many metadata items; max {MAX_META_COUNT}"
        )));
    }
    if size > MAX_META_OVERALL_SIZE {
        return Err(SwiftError::bad_request(format!(
            "Total metadata too large; max {MAX_META_OVERALL_SIZE}"
        )));
    }
    Ok(())
}

/// The object headers kept besides `X-Object-Meta-*`.
pub const OBJECT_KEPT_HEADERS: [&str; 2] = ["content-disposition", "content-encoding"];

/// An object's metadata from a PUT or POST: the request's
/// `X-Object-Meta-*`, `Content-Disposition` and `Content-Encoding` (a POST
/// replaces them all, as Swift's object POST does).
pub fn object_from_request(headers: &HeaderMap) -> Result<Metadata> {
    let mut m = Metadata::new();
    apply(Kind::Object, headers, &mut m)?;
    for h in OBJECT_KEPT_HEADERS {
        if let Some(v) = headers.get(h) {
            let v = utf8(v)?;
            if !v.is_empty() {
                m.insert(h.to_string(), v.to_string());
            }
        }
    }
    check_totals(Kind::Object, &m)?;
    Ok(m)
}

/// `X-Delete-At` from `X-Delete-After` or `X-Delete-At` (seconds), as
/// `check_delete_headers` validates them against `now`.
pub fn delete_at(headers: &HeaderMap, now: i64) -> Result<Option<i64>> {
    if let Some(v) = crate::http::header(headers, "x-delete-after") {
        let after: i64 = v
            .trim()
            .parse()
            .map_err(|_| SwiftError::bad_request("Non-integer X-Delete-After"))?;
        if after < 0 {
            return Err(SwiftError::bad_request("X-Delete-After in past"));
        }
        return Ok(Some(now + after));
    }
    if let Some(v) = crate::http::header(headers, "x-delete-at") {
        let at: f64 = v
            .trim()
            .parse()
            .map_err(|_| SwiftError::bad_request("Non-integer X-Delete-At"))?;
        if !at.is_finite() {
            return Err(SwiftError::bad_request("Non-integer X-Delete-At"));
        }
        let at = at as i64;
        if at <= now {
            return Err(SwiftError::bad_request("X-Delete-At in past"));
        }
        return Ok(Some(at));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    #[test]
    fn sets_removes_and_limits() {
        let mut m = Metadata::new();
        m.insert("x-container-meta-old".into(), "1".into());
        m.insert("x-container-meta-gone".into(), "1".into());
        apply(
            Kind::Container,
            &h(&[
                ("x-container-meta-color", "blue"),
                ("x-remove-container-meta-old", "x"),
                ("x-container-meta-gone", ""),
            ]),
            &mut m,
        )
        .unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m["x-container-meta-color"], "blue");
        let long = "k".repeat(129);
        let e = apply(
            Kind::Container,
            &h(&[(&format!("x-container-meta-{long}"), "v")]),
            &mut m,
        )
        .unwrap_err();
        assert_eq!(e.status().as_u16(), 400);
        let e = apply(
            Kind::Object,
            &h(&[("x-object-meta-k", &"v".repeat(257))]),
            &mut m,
        )
        .unwrap_err();
        assert_eq!(e.status().as_u16(), 400);
        let mut many = Metadata::new();
        for i in 0..91 {
            many.insert(format!("x-object-meta-{i}"), "v".into());
        }
        assert!(check_totals(Kind::Object, &many).is_err());
    }

    #[test]
    fn object_metadata_and_expiry() {
        let m = object_from_request(&h(&[
            ("x-object-meta-a", "1"),
            ("content-disposition", "inline"),
            ("x-container-meta-b", "ignored"),
        ]))
        .unwrap();
        assert_eq!(m.len(), 2);
        let blank = object_from_request(&h(&[("x-object-meta-blank", "")])).unwrap();
        assert_eq!(blank["x-object-meta-blank"], "");
        assert_eq!(
            delete_at(&h(&[("x-delete-after", "10")]), 100).unwrap(),
            Some(110)
        );
        assert_eq!(
            delete_at(&h(&[("x-delete-at", "200")]), 100).unwrap(),
            Some(200)
        );
        assert!(delete_at(&h(&[("x-delete-at", "50")]), 100).is_err());
        assert!(delete_at(&h(&[("x-delete-after", "x")]), 100).is_err());
        assert!(delete_at(&h(&[("x-delete-after", "-1")]), 100).is_err());
        assert_eq!(delete_at(&h(&[]), 100).unwrap(), None);
    }
}

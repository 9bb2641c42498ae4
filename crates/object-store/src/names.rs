//! Swift request paths: `/v1/<account>[/<container>[/<object>]]`.
//!
//! As Swift's `split_path(path, 1, 4, rest_with_last=True)`: the object is
//! everything after the container, slashes included; a trailing empty part
//! (`/v1/a/c/`) addresses the container. The path is percent-decoded once
//! and must then be UTF-8 without NUL, else 412 as Swift answers.

use percent_encoding::percent_decode_str;

/// Swift's name limits (`swift.common.constraints`).
pub const MAX_ACCOUNT_NAME_LENGTH: usize = 256;
pub const MAX_CONTAINER_NAME_LENGTH: usize = 256;
pub const MAX_OBJECT_NAME_LENGTH: usize = 1024;

/// The parts of a `/v1/…` path, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwiftPath {
    pub account: String,
    pub container: Option<String>,
    pub object: Option<String>,
}

/// Why a path cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Not a `/v1/…` path at all (404).
    #[error("not a storage path")]
    NotStorage,
    /// Undecodable (412, as Swift's `check_utf8`).
    #[error("Invalid UTF8 or contains NULL")]
    InvalidUtf8,
    #[error("{0}")]
    TooLong(String),
}

/// Decodes one percent-encoded part into UTF-8 without NUL.
pub fn decode(raw: &str) -> Result<String, PathError> {
    let bytes: Vec<u8> = percent_decode_str(raw).collect();
    let s = String::from_utf8(bytes).map_err(|_| PathError::InvalidUtf8)?;
    if s.contains('\0') {
        return Err(PathError::InvalidUtf8);
    }
    Ok(s)
}

/// Decodes and splits a raw request path. Like Swift (which splits the
/// unquoted `PATH_INFO`), decoding comes first: `/v1/a/c%2Fo` is object
/// `o` in container `c`.
pub fn parse(raw: &str) -> Result<SwiftPath, PathError> {
    let decoded = decode(raw)?;
    let rest = decoded.strip_prefix('/').ok_or(PathError::NotStorage)?;
    let (version, rest) = rest.split_once('/').ok_or(PathError::NotStorage)?;
    if version != "v1" && version != "v1.0" {
        return Err(PathError::NotStorage);
    }
    let (account, rest) = match rest.split_once('/') {
        Some((a, r)) => (a, Some(r)),
        None => (rest, None),
    };
    if account.is_empty() {
        return Err(PathError::NotStorage);
    }
    if account.len() > MAX_ACCOUNT_NAME_LENGTH {
        return Err(PathError::TooLong(format!(
            "Account name length of {} longer than {MAX_ACCOUNT_NAME_LENGTH}",
            account.len()
        )));
    }
    let (container, object) = match rest {
        None => (None, None),
        Some(r) => match r.split_once('/') {
            Some((c, o)) => (Some(c), Some(o)),
            None => (Some(r), None),
        },
    };
    let container = match container.filter(|c| !c.is_empty()) {
        None => {
            // `/v1/a//o` names no container: Swift answers 404 for it.
            if object.is_some_and(|o| !o.is_empty()) {
                return Err(PathError::NotStorage);
            }
            None
        }
        Some(c) => Some(c.to_string()),
    };
    if let Some(c) = &container {
        if c.len() > MAX_CONTAINER_NAME_LENGTH {
            return Err(PathError::TooLong(format!(
                "Container name length of {} longer than {MAX_CONTAINER_NAME_LENGTH}",
                c.len()
            )));
        }
    }
    let object = object.filter(|o| !o.is_empty()).map(str::to_string);
    Ok(SwiftPath {
        account: account.to_string(),
        container,
        object,
    })
}

/// `container/object` (as `X-Copy-From`, `Destination` and SLO segment
/// paths give it, with or without a leading slash, percent-encoded) into
/// its two decoded parts.
pub fn split_container_object(raw: &str) -> Option<(String, String)> {
    let decoded = decode(raw).ok()?;
    let trimmed = decoded.strip_prefix('/').unwrap_or(&decoded);
    let (c, o) = trimmed.split_once('/')?;
    if c.is_empty() || o.is_empty() {
        return None;
    }
    Some((c.to_string(), o.to_string()))
}

/// Percent-encodes a name the way Swift quotes it in headers and bulk
/// results (`urllib.parse.quote` with `/` safe).
pub fn quote(name: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(name, SET).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &str, c: Option<&str>, o: Option<&str>) -> SwiftPath {
        SwiftPath {
            account: a.into(),
            container: c.map(Into::into),
            object: o.map(Into::into),
        }
    }

    #[test]
    fn splits_like_swift() {
        assert_eq!(parse("/v1/AUTH_a").unwrap(), p("AUTH_a", None, None));
        assert_eq!(parse("/v1/AUTH_a/").unwrap(), p("AUTH_a", None, None));
        assert_eq!(parse("/v1/AUTH_a/c").unwrap(), p("AUTH_a", Some("c"), None));
        assert_eq!(
            parse("/v1/AUTH_a/c/").unwrap(),
            p("AUTH_a", Some("c"), None)
        );
        assert_eq!(
            parse("/v1/AUTH_a/c/d/e//f/").unwrap(),
            p("AUTH_a", Some("c"), Some("d/e//f/"))
        );
        assert_eq!(
            parse("/v1/AUTH_a/c%20x/%E2%98%83").unwrap(),
            p("AUTH_a", Some("c x"), Some("☃"))
        );
        assert_eq!(
            parse("/v1/AUTH_a/c%2Fo").unwrap(),
            p("AUTH_a", Some("c"), Some("o"))
        );
        assert_eq!(parse("/v2/AUTH_a"), Err(PathError::NotStorage));
        assert_eq!(parse("/v1/AUTH_a//o"), Err(PathError::NotStorage));
        assert_eq!(parse("/v1/AUTH_a/c/%FF"), Err(PathError::InvalidUtf8));
        assert_eq!(parse("/v1/AUTH_a/c/a%00b"), Err(PathError::InvalidUtf8));
        let long = "c".repeat(257);
        assert!(matches!(
            parse(&format!("/v1/AUTH_a/{long}")),
            Err(PathError::TooLong(_))
        ));
    }

    #[test]
    fn copy_paths() {
        assert_eq!(
            split_container_object("/c/o/p"),
            Some(("c".into(), "o/p".into()))
        );
        assert_eq!(
            split_container_object("c%2Fx/o%20p"),
            Some(("c".into(), "x/o p".into()))
        );
        assert_eq!(split_container_object("c"), None);
        assert_eq!(split_container_object("/c/"), None);
        assert_eq!(quote("a b/☃"), "a%20b/%E2%98%83");
    }
}

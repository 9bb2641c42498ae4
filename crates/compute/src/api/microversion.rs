//! Microversion negotiation, as Nova's `APIVersionRequest`: the client
//! asks with `OpenStack-API-Version: compute X.Y` (or the legacy
//! `X-OpenStack-Nova-API-Version: X.Y`; the new header wins when both are
//! given), `latest` meaning [`MAX`], nothing meaning [`MIN`]. A malformed
//! version is a 400, one outside [`MIN`]..=[`MAX`] a 406. Every response
//! under `/v2.1` says which version answered, in both headers, with
//! `Vary` naming them.
//!
//! Handlers take the negotiated [`Microversion`] as an extractor and
//! branch on it with [`Microversion::at_least`].

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use common::Error;
use std::fmt;

/// A compute API microversion, `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Microversion {
    pub major: u32,
    pub minor: u32,
}

/// The oldest version served (v2.1 itself).
pub const MIN: Microversion = Microversion { major: 2, minor: 1 };
/// The newest version served.
pub const MAX: Microversion = Microversion {
    major: 2,
    minor: 100,
};

const HEADER: &str = "openstack-api-version";
const LEGACY_HEADER: &str = "x-openstack-nova-api-version";

impl Microversion {
    pub const fn v2(minor: u32) -> Self {
        Microversion { major: 2, minor }
    }

    /// Whether this is `2.minor` or newer.
    pub fn at_least(self, minor: u32) -> bool {
        self >= Microversion::v2(minor)
    }

    /// Parses `X.Y` or `latest`; `None` when malformed.
    pub fn parse(s: &str) -> Option<Microversion> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("latest") {
            return Some(MAX);
        }
        let (major, minor) = s.split_once('.')?;
        let num = |p: &str| -> Option<u32> {
            // Nova's pattern: `^([1-9]\d*)\.([1-9]\d*|0)$`.
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            if p.len() > 1 && p.starts_with('0') {
                return None;
            }
            p.parse().ok()
        };
        let (major, minor) = (num(major)?, num(minor)?);
        (major > 0).then_some(Microversion { major, minor })
    }

    /// The version a request asks for, or the error Nova answers.
    pub fn from_headers(headers: &HeaderMap) -> Result<Microversion, Error> {
        let requested = requested(headers);
        let Some(text) = requested else {
            return Ok(MIN);
        };
        let v = Microversion::parse(&text).ok_or_else(|| {
            Error::bad_request(format!(
                "API Version String {text} is of invalid format. Must be of format \
                 MajorNum.MinorNum."
            ))
        })?;
        if v < MIN || v > MAX {
            return Err(Error::not_acceptable(format!(
                "Version {v} is not supported by the API. Minimum is {MIN} and maximum is {MAX}."
            )));
        }
        Ok(v)
    }
}

impl fmt::Display for Microversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The version text a request names for `compute`, if any.
fn requested(headers: &HeaderMap) -> Option<String> {
    // `OpenStack-API-Version` may repeat and list several services:
    // `compute 2.10, volume 3.5`.
    let mut named = None;
    for value in headers.get_all(HEADER) {
        let Ok(text) = value.to_str() else { continue };
        for item in text.split(',') {
            let mut words = item.split_whitespace();
            if let (Some(service), Some(version)) = (words.next(), words.next()) {
                if service.eq_ignore_ascii_case("compute") {
                    named = Some(version.to_string());
                }
            }
        }
    }
    named.or_else(|| {
        headers
            .get(LEGACY_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim().to_string())
    })
}

/// The layer: negotiates, stores the version for [`Microversion`]'s
/// extractor, and stamps the answer's headers.
pub async fn negotiate(mut req: Request, next: Next) -> Response {
    let v = match Microversion::from_headers(req.headers()) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    req.extensions_mut().insert(v);
    let mut res = next.run(req).await;
    stamp(res.headers_mut(), v);
    res
}

/// The headers of an answer given at `v`.
pub fn stamp(headers: &mut HeaderMap, v: Microversion) {
    if let Ok(h) = HeaderValue::from_str(&format!("compute {v}")) {
        headers.insert(HEADER, h);
    }
    if let Ok(h) = HeaderValue::from_str(&v.to_string()) {
        headers.insert(LEGACY_HEADER, h);
    }
    headers.insert(
        axum::http::header::VARY,
        HeaderValue::from_static("OpenStack-API-Version, X-OpenStack-Nova-API-Version"),
    );
}

impl<S: Send + Sync> FromRequestParts<S> for Microversion {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Microversion>()
            .copied()
            .unwrap_or(MIN))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn versions_parse_as_novas_pattern() {
        assert_eq!(Microversion::parse("2.1"), Some(MIN));
        assert_eq!(Microversion::parse("2.100"), Some(MAX));
        assert_eq!(Microversion::parse("2.0"), Some(Microversion::v2(0)));
        assert_eq!(Microversion::parse("latest"), Some(MAX));
        for bad in [
            "2", "2.", ".1", "2.01", "02.1", "0.1", "2.1.1", "a.b", "2.-1", "",
        ] {
            assert_eq!(Microversion::parse(bad), None, "{bad}");
        }
        assert!(Microversion::v2(10).at_least(10));
        assert!(!Microversion::v2(9).at_least(10));
    }

    #[test]
    fn the_new_header_wins_and_absent_is_the_minimum() {
        assert_eq!(Microversion::from_headers(&headers(&[])).unwrap(), MIN);
        let h = headers(&[
            ("openstack-api-version", "volume 3.5, compute 2.10"),
            ("x-openstack-nova-api-version", "2.20"),
        ]);
        assert_eq!(
            Microversion::from_headers(&h).unwrap(),
            Microversion::v2(10)
        );
        let h = headers(&[("x-openstack-nova-api-version", "2.20")]);
        assert_eq!(
            Microversion::from_headers(&h).unwrap(),
            Microversion::v2(20)
        );
        // A header for another service only is no request for compute.
        let h = headers(&[("openstack-api-version", "volume 3.5")]);
        assert_eq!(Microversion::from_headers(&h).unwrap(), MIN);
    }

    #[test]
    fn malformed_is_400_and_out_of_range_406() {
        let e = Microversion::from_headers(&headers(&[("openstack-api-version", "compute 2.a")]))
            .unwrap_err();
        assert_eq!(e.kind().status().as_u16(), 400);
        for v in ["compute 3.0", "compute 2.0", "compute 2.101"] {
            let h = headers(&[("openstack-api-version", v)]);
            let e = Microversion::from_headers(&h).unwrap_err();
            assert_eq!(e.kind().status().as_u16(), 406, "{v}");
        }
    }
}

//! Temp URLs (Swift's `tempurl` middleware): `temp_url_sig` is an HMAC of
//! `METHOD\nEXPIRES\nPATH` (with `ip=RANGE\n` first when
//! `temp_url_ip_range` is given; `PATH` is `prefix:/v1/a/c/p` for prefix
//! URLs) under one of the account's or container's `Temp-URL-Key`s, in
//! SHA-1, SHA-256 or SHA-512, as hex or as `<algo>:<base64>`. A valid
//! signature lets the request in for that account (account keys) or that
//! container (container keys), whatever the token says.

use super::{Caller, ObjectStore, Result, SwiftError};
use crate::db;
use crate::names::SwiftPath;
use axum::http::{HeaderMap, Method};
use base64::Engine;
use common::http::QueryMap;
use hmac::{Hmac, Mac};

/// The digests accepted, as `/info` lists them.
pub const ALLOWED_DIGESTS: [&str; 3] = ["sha1", "sha256", "sha512"];
/// Methods a temp URL may be made for.
pub const METHODS: [&str; 5] = ["GET", "HEAD", "PUT", "POST", "DELETE"];
/// Headers a temp URL may not carry on writes: they would point the new
/// object at data the URL grants no access to.
const DISALLOWED_HEADERS: [&str; 2] = ["x-object-manifest", "x-symlink-target"];

/// What a valid temp URL carries into the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempUrl {
    pub expires: i64,
    pub filename: Option<String>,
    pub inline: bool,
}

fn invalid() -> SwiftError {
    SwiftError::unauthorized("401 Unauthorized: Temp URL invalid\n")
}

/// `temp_url_expires`: seconds, or `%Y-%m-%dT%H:%M:%SZ`; 0 when invalid
/// or past.
fn normalize_expires(v: &str, now: i64) -> i64 {
    let t = v.parse::<i64>().ok().or_else(|| {
        let fmt =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        time::PrimitiveDateTime::parse(v, &fmt)
            .ok()
            .map(|d| d.assume_utc().unix_timestamp())
    });
    match t {
        Some(t) if t >= now => t,
        _ => 0,
    }
}

/// `(algorithm, hex digest)` of a signature (`extract_digest_and_algorithm`).
fn digest_and_algorithm(sig: &str) -> Option<(&'static str, String)> {
    if let Some((algo, b64)) = sig.split_once(':') {
        let algo = ALLOWED_DIGESTS.iter().find(|a| **a == algo)?;
        let mut v = b64.to_string();
        if (v.contains('-') || v.contains('_')) && !(v.contains('+') || v.contains('/')) {
            v = v.replace('-', "+").replace('_', "/");
        }
        let v = v.trim_end_matches('=');
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(v)
            .ok()?;
        Some((algo, crate::store::hex(&bytes)))
    } else {
        if !sig.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let algo = match sig.len() {
            40 => "sha1",
            64 => "sha256",
            128 => "sha512",
            _ => return None,
        };
        Some((algo, sig.to_ascii_lowercase()))
    }
}

/// The hex HMAC of a temp URL (Swift's `get_hmac`).
pub fn hmac_hex(
    algo: &str,
    key: &str,
    method: &str,
    expires: i64,
    path: &str,
    ip_range: Option<&str>,
) -> String {
    let mut msg = String::new();
    if let Some(ip) = ip_range {
        msg.push_str(&format!("ip={ip}\n"));
    }
    msg.push_str(&format!("{method}\n{expires}\n{path}"));
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], msg: &[u8]) -> String {
        match <M as Mac>::new_from_slice(key) {
            Ok(mut m) => {
                m.update(msg);
                crate::store::hex(&m.finalize().into_bytes())
            }
            Err(_) => String::new(),
        }
    }
    match algo {
        "sha1" => run::<Hmac<sha1::Sha1>>(key.as_bytes(), msg.as_bytes()),
        "sha256" => run::<Hmac<sha2::Sha256>>(key.as_bytes(), msg.as_bytes()),
        _ => run::<Hmac<sha2::Sha512>>(key.as_bytes(), msg.as_bytes()),
    }
}

/// Equality that takes the same time wherever the strings differ.
fn const_eq(a: &str, b: &str) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.bytes()
        .zip(b.bytes())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn keys_of(m: &db::Metadata, prefix: &str) -> Vec<String> {
    ["temp-url-key", "temp-url-key-2"]
        .iter()
        .filter_map(|k| m.get(&format!("{prefix}{k}")).cloned())
        .filter(|k| !k.is_empty())
        .collect()
}

/// Whether `addr` is inside `range` (an address or a CIDR network).
fn in_range(range: &str, addr: std::net::IpAddr) -> Option<bool> {
    let (net, bits) = match range.split_once('/') {
        Some((n, b)) => (
            n.parse::<std::net::IpAddr>().ok()?,
            Some(b.parse::<u32>().ok()?),
        ),
        None => (range.parse::<std::net::IpAddr>().ok()?, None),
    };
    let (a, n, width) = match (addr, net) {
        (std::net::IpAddr::V4(a), std::net::IpAddr::V4(n)) => {
            (u128::from(u32::from(a)), u128::from(u32::from(n)), 32)
        }
        (std::net::IpAddr::V6(a), std::net::IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        _ => return Some(false),
    };
    let bits = bits.unwrap_or(width);
    if bits > width {
        return None;
    }
    let shift = width - bits;
    if shift >= 128 {
        return Some(true);
    }
    Some((a >> shift) == (n >> shift))
}

impl ObjectStore {
    /// The caller a temp URL makes of this request: `Ok(None)` when the
    /// query carries no temp URL, 401 when it carries an invalid one.
    pub async fn temp_url_caller(
        &self,
        method: &Method,
        path: &SwiftPath,
        query: &QueryMap,
        headers: &HeaderMap,
        remote: Option<std::net::IpAddr>,
    ) -> Result<Option<(Caller, TempUrl)>> {
        let sig = query.get("temp_url_sig");
        let expires_raw = query.get("temp_url_expires");
        if sig.is_none() && expires_raw.is_none() {
            return Ok(None);
        }
        let expires = expires_raw
            .map(|e| normalize_expires(e, self.now_secs()))
            .unwrap_or(0);
        let sig = sig.filter(|s| !s.is_empty()).ok_or_else(invalid)?;
        if expires == 0 {
            return Err(invalid());
        }
        let (algo, sig) = digest_and_algorithm(sig).ok_or_else(invalid)?;
        let m = method.as_str();
        if !METHODS.contains(&m) {
            return Err(invalid());
        }
        let (Some(container), Some(object)) = (&path.container, &path.object) else {
            return Err(invalid());
        };
        let ip_range = query.get("temp_url_ip_range");
        if let Some(r) = ip_range {
            let ok = remote.and_then(|a| in_range(r, a)).unwrap_or(false);
            if !ok {
                return Err(invalid());
            }
        }
        let account = &path.account;
        let acct_keys = match db::accounts::get(&self.db.pool, account).await? {
            Some(a) => keys_of(&a.metadata, "x-account-meta-"),
            None => Vec::new(),
        };
        let cont_keys = match db::containers::get(&self.db.pool, account, container).await? {
            Some(c) => keys_of(&c.metadata, "x-container-meta-"),
            None => Vec::new(),
        };
        if acct_keys.is_empty() && cont_keys.is_empty() {
            return Err(invalid());
        }
        let prefix = query.get("temp_url_prefix");
        let signed_path = match prefix {
            None => format!("/v1/{account}/{container}/{object}"),
            Some(p) => {
                if !object.starts_with(p) {
                    return Err(invalid());
                }
                format!("prefix:/v1/{account}/{container}/{p}")
            }
        };
        let methods: Vec<&str> = if m == "HEAD" {
            vec!["HEAD", "GET", "POST", "PUT"]
        } else {
            vec![m]
        };
        let scoped = acct_keys
            .iter()
            .map(|k| (k, None))
            .chain(cont_keys.iter().map(|k| (k, Some(container.clone()))));
        let mut scope = None;
        'keys: for (key, sc) in scoped {
            for meth in &methods {
                let expected = hmac_hex(algo, key, meth, expires, &signed_path, ip_range);
                if const_eq(&sig, &expected) {
                    scope = Some(sc);
                    break 'keys;
                }
            }
        }
        let Some(scope) = scope else {
            return Err(invalid());
        };
        if !matches!(m, "GET" | "HEAD") {
            for h in DISALLOWED_HEADERS {
                if headers.contains_key(h) {
                    let title: Vec<String> = h
                        .split('-')
                        .map(|w| {
                            let mut c = w.chars();
                            match c.next() {
                                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                                None => String::new(),
                            }
                        })
                        .collect();
                    return Err(SwiftError::bad_request(format!(
                        "The header '{}' is not allowed in this tempurl",
                        title.join("-")
                    )));
                }
            }
        }
        let info = TempUrl {
            expires,
            filename: query.get("filename").map(str::to_string),
            inline: query.has("inline"),
        };
        Ok(Some((
            Caller::TempUrl {
                account: account.clone(),
                container: scope,
            },
            info,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_as_swift_computes_them() {
        // `swift tempurl GET 60 /v1/AUTH_a/c/o mykey` at expiry 1700000060.
        let sig = hmac_hex(
            "sha256",
            "mykey",
            "GET",
            1_700_000_060,
            "/v1/AUTH_a/c/o",
            None,
        );
        assert_eq!(sig.len(), 64);
        assert_eq!(
            digest_and_algorithm(&sig),
            Some(("sha256", sig.clone())),
            "hex signatures name their algorithm by length"
        );
        // Known vector: HMAC-SHA1("key", "The quick brown fox jumps over the lazy dog").
        fn raw_sha1(key: &str, msg: &str) -> String {
            let mut m = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key.as_bytes()).unwrap();
            m.update(msg.as_bytes());
            crate::store::hex(&m.finalize().into_bytes())
        }
        assert_eq!(
            raw_sha1("key", "The quick brown fox jumps over the lazy dog"),
            "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"
        );
        assert_eq!(
            hmac_hex("sha1", "k", "GET", 5, "/p", Some("1.2.3.4")),
            raw_sha1("k", "ip=1.2.3.4\nGET\n5\n/p")
        );
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xfb, 0xff]);
        assert_eq!(
            digest_and_algorithm(&format!("sha512:{b64}")),
            Some(("sha512", "fbff".into()))
        );
        assert_eq!(digest_and_algorithm("md5:AAAA"), None);
        assert_eq!(digest_and_algorithm("abc"), None);
    }

    #[test]
    fn expiry_and_ranges() {
        assert_eq!(normalize_expires("100", 50), 100);
        assert_eq!(normalize_expires("100", 150), 0);
        assert_eq!(normalize_expires("2030-01-01T00:00:00Z", 0), 1_893_456_000);
        assert_eq!(normalize_expires("soon", 0), 0);
        let a: std::net::IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(in_range("10.1.0.0/16", a), Some(true));
        assert_eq!(in_range("10.2.0.0/16", a), Some(false));
        assert_eq!(in_range("10.1.2.3", a), Some(true));
        assert_eq!(in_range("0.0.0.0/0", a), Some(true));
        assert_eq!(in_range("nonsense", a), None);
        assert!(const_eq("abc", "abc") && !const_eq("abc", "abd") && !const_eq("a", "ab"));
    }
}

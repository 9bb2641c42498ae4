//! Cross-origin requests as Swift's proxy answers them
//! (`swift/proxy/controllers/base.py`: `Controller.OPTIONS`,
//! `cors_validation`, `is_origin_allowed`).
//!
//! A container opts in with `X-Container-Meta-Access-Control-Allow-Origin`
//! (space-separated origins, or `*`), `-Max-Age` and `-Expose-Headers`; the
//! operator adds origins for every container (`cors_allow_origin`) and
//! exposed headers (`cors_expose_headers`). A preflight `OPTIONS` needs no
//! token and answers 401 for an origin or method not allowed. Actual
//! container and object requests carrying `Origin` get
//! `Access-Control-Allow-Origin` and `-Expose-Headers`; in strict mode (the
//! default) only when the origin is allowed. Accounts have no CORS, as in
//! Swift.

use super::{ObjectStore, Result};
use crate::db::Metadata;
use axum::http::{HeaderMap, HeaderValue};

/// The operator's CORS settings (`[object_store] cors_*`).
#[derive(Debug, Clone, Default)]
pub struct CorsSettings {
    pub allow_origin: Vec<String>,
    /// Lowercase header names.
    pub expose_headers: Vec<String>,
    pub strict: bool,
}

/// A container's CORS metadata (Swift's `container_info['cors']`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsInfo {
    pub allow_origin: Option<String>,
    pub expose_headers: Option<String>,
    pub max_age: Option<String>,
}

impl CorsInfo {
    pub fn from_metadata(m: &Metadata) -> CorsInfo {
        let get = |k: &str| {
            m.get(&format!("x-container-meta-access-control-{k}"))
                .cloned()
        };
        CorsInfo {
            allow_origin: get("allow-origin"),
            expose_headers: get("expose-headers"),
            max_age: get("max-age"),
        }
    }

    /// Whether the container allows every origin (`*`).
    fn allows_any(&self) -> bool {
        self.allow_origin.as_deref().map(str::trim) == Some("*")
    }
}

/// Methods each level answers (Swift's `allowed_methods`; accounts lose
/// PUT and DELETE as `allow_account_management` is off).
pub const ACCOUNT_METHODS: &[&str] = &["GET", "HEAD", "POST", "OPTIONS"];
pub const CONTAINER_METHODS: &[&str] = &["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS"];
pub const OBJECT_METHODS: &[&str] = &["GET", "HEAD", "PUT", "POST", "DELETE", "COPY", "OPTIONS"];

/// Headers every cross-origin caller may read: the CORS simple response
/// headers plus Swift's own.
const EXPOSED: &[&str] = &[
    "cache-control",
    "content-language",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
    "etag",
    "x-timestamp",
    "x-trans-id",
    "x-openstack-request-id",
];

/// Swift's `is_origin_allowed`: the container's origins plus the operator's.
pub fn is_origin_allowed(settings: &CorsSettings, info: &CorsInfo, origin: &str) -> bool {
    let container = info
        .allow_origin
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .map(str::trim)
        .filter(|a| !a.is_empty());
    container
        .chain(settings.allow_origin.iter().map(String::as_str))
        .any(|a| a == origin || a == "*")
}

/// What a preflight `OPTIONS` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preflight {
    /// 200 with only `Allow` (no `Origin`, or an account).
    Plain,
    /// 401: the origin or the requested method is not allowed.
    Denied,
    /// 200 with these CORS headers besides `Allow`.
    Allowed(Vec<(&'static str, String)>),
}

/// Swift's `Controller.OPTIONS` for a container or object whose container
/// has `info` (`None` for an account).
pub fn preflight(
    settings: &CorsSettings,
    info: Option<&CorsInfo>,
    allowed_methods: &[&str],
    origin: Option<&str>,
    request_method: Option<&str>,
    request_headers: Option<&str>,
) -> Preflight {
    let (Some(origin), Some(info)) = (origin, info) else {
        return Preflight::Plain;
    };
    if !is_origin_allowed(settings, info, origin)
        || !request_method.is_some_and(|m| allowed_methods.contains(&m))
    {
        return Preflight::Denied;
    }
    let mut h = Vec::new();
    let mut vary = Vec::new();
    if info.allows_any() {
        h.push(("access-control-allow-origin", "*".to_string()));
    } else {
        h.push(("access-control-allow-origin", origin.to_string()));
        vary.push("Origin");
    }
    if let Some(age) = &info.max_age {
        h.push(("access-control-max-age", age.clone()));
    }
    h.push(("access-control-allow-methods", allowed_methods.join(", ")));
    // Every header the caller asks for is allowed, as in Swift.
    let mut asked: Vec<&str> = Vec::new();
    for a in request_headers
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        if !asked.contains(&a) {
            asked.push(a);
        }
    }
    if !asked.is_empty() {
        h.push(("access-control-allow-headers", asked.join(", ")));
        vary.push("Access-Control-Request-Headers");
    }
    if !vary.is_empty() {
        h.push(("vary", vary.join(", ")));
    }
    Preflight::Allowed(h)
}

/// Swift's `cors_validation` on the response to an actual container or
/// object request from `origin`.
pub fn decorate(settings: &CorsSettings, info: &CorsInfo, origin: &str, headers: &mut HeaderMap) {
    if settings.strict && !is_origin_allowed(settings, info, origin) {
        return;
    }
    if !headers.contains_key("access-control-expose-headers") {
        let mut expose: Vec<String> = EXPOSED.iter().map(|h| h.to_string()).collect();
        expose.extend(settings.expose_headers.iter().cloned());
        expose.extend(
            headers
                .keys()
                .map(|k| k.as_str())
                .filter(|k| k.starts_with("x-container-meta") || k.starts_with("x-object-meta"))
                .map(str::to_string),
        );
        if let Some(e) = &info.expose_headers {
            expose.extend(
                e.split(' ')
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                    .map(str::to_ascii_lowercase),
            );
        }
        expose.sort();
        expose.dedup();
        if let Ok(v) = HeaderValue::from_str(&expose.join(", ")) {
            headers.insert("access-control-expose-headers", v);
        }
    }
    if !headers.contains_key("access-control-allow-origin") {
        if info.allows_any() {
            headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
        } else if let Ok(v) = HeaderValue::from_str(origin) {
            headers.insert("access-control-allow-origin", v);
            let vary = match headers.get("vary").and_then(|v| v.to_str().ok()) {
                Some(old) => format!("{old}, Origin"),
                None => "Origin".to_string(),
            };
            if let Ok(v) = HeaderValue::from_str(&vary) {
                headers.insert("vary", v);
            }
        }
    }
}

impl ObjectStore {
    /// The CORS metadata of a container (empty when it does not exist).
    pub async fn cors_info(&self, account: &str, container: &str) -> Result<CorsInfo> {
        Ok(
            crate::db::containers::get(&self.db.pool, account, container)
                .await?
                .map(|c| CorsInfo::from_metadata(&c.metadata))
                .unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(origin: Option<&str>) -> CorsInfo {
        CorsInfo {
            allow_origin: origin.map(str::to_string),
            expose_headers: Some("X-Custom  x-other".into()),
            max_age: Some("60".into()),
        }
    }

    #[test]
    fn origins_from_the_container_and_the_operator() {
        let s = CorsSettings {
            allow_origin: vec!["https://ops.example".into()],
            ..CorsSettings::default()
        };
        let i = info(Some("https://a.example https://b.example"));
        assert!(is_origin_allowed(&s, &i, "https://b.example"));
        assert!(is_origin_allowed(&s, &i, "https://ops.example"));
        assert!(!is_origin_allowed(&s, &i, "https://c.example"));
        assert!(is_origin_allowed(&s, &info(Some("*")), "https://c.example"));
        assert!(!is_origin_allowed(
            &CorsSettings::default(),
            &CorsInfo::default(),
            "x"
        ));
    }

    #[test]
    fn preflight_answers() {
        let s = CorsSettings::default();
        let i = info(Some("https://a.example"));
        let pf = |o, m, h| preflight(&s, Some(&i), OBJECT_METHODS, o, m, h);
        assert_eq!(pf(None, Some("GET"), None), Preflight::Plain);
        assert_eq!(
            preflight(
                &s,
                None,
                ACCOUNT_METHODS,
                Some("https://a.example"),
                Some("GET"),
                None
            ),
            Preflight::Plain
        );
        assert_eq!(
            pf(Some("https://x.example"), Some("GET"), None),
            Preflight::Denied
        );
        assert_eq!(
            pf(Some("https://a.example"), Some("PATCH"), None),
            Preflight::Denied
        );
        assert_eq!(pf(Some("https://a.example"), None, None), Preflight::Denied);
        let Preflight::Allowed(h) = pf(
            Some("https://a.example"),
            Some("PUT"),
            Some("x-auth-token, content-type,x-auth-token"),
        ) else {
            panic!("allowed")
        };
        let get = |k: &str| h.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(
            get("access-control-allow-origin"),
            Some("https://a.example")
        );
        assert_eq!(get("access-control-max-age"), Some("60"));
        assert_eq!(
            get("access-control-allow-headers"),
            Some("x-auth-token, content-type")
        );
        assert_eq!(get("vary"), Some("Origin, Access-Control-Request-Headers"));
        let Preflight::Allowed(h) = preflight(
            &s,
            Some(&info(Some("*"))),
            CONTAINER_METHODS,
            Some("https://z.example"),
            Some("GET"),
            None,
        ) else {
            panic!("allowed")
        };
        assert!(h.contains(&("access-control-allow-origin", "*".into())));
        assert!(!h.iter().any(|(n, _)| *n == "vary"));
    }

    #[test]
    fn actual_responses_strict_and_not() {
        let strict = CorsSettings {
            strict: true,
            expose_headers: vec!["x-ops".into()],
            ..CorsSettings::default()
        };
        let i = info(Some("https://a.example"));
        let mut h = HeaderMap::new();
        h.insert("x-object-meta-color", HeaderValue::from_static("blue"));
        decorate(&strict, &i, "https://x.example", &mut h);
        assert!(!h.contains_key("access-control-allow-origin"));
        decorate(&strict, &i, "https://a.example", &mut h);
        assert_eq!(h["access-control-allow-origin"], "https://a.example");
        assert_eq!(h["vary"], "Origin");
        let exposed = h["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .to_string();
        for e in [
            "etag",
            "x-object-meta-color",
            "x-custom",
            "x-other",
            "x-ops",
            "x-trans-id",
        ] {
            assert!(exposed.split(", ").any(|x| x == e), "{e} in {exposed}");
        }
        // Not strict: any origin gets its own name back.
        let lax = CorsSettings {
            strict: false,
            ..CorsSettings::default()
        };
        let mut h = HeaderMap::new();
        decorate(&lax, &CorsInfo::default(), "https://x.example", &mut h);
        assert_eq!(h["access-control-allow-origin"], "https://x.example");
    }
}

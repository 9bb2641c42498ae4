//! Container ACLs (`X-Container-Read`, `X-Container-Write`), as Swift's
//! `swift.common.middleware.acl` cleans, parses and matches them:
//! referrer rules (`.r:*`, `.r:.example.com`, `.r:-bad.example.com`),
//! `.rlistings`, and groups (`project:user`, `project:*`, `*:user`, or a
//! role name).

use percent_encoding::percent_decode_str;

/// Cleans an ACL header value (`clean_acl`): spaces and empty items go,
/// referrer designators are normalised to `.r:`; an error names what is
/// wrong (400).
pub fn clean(header_name: &str, value: &str) -> Result<String, String> {
    let name = header_name.to_ascii_lowercase();
    let mut values = Vec::new();
    for raw in value.split(',') {
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let Some((first, second)) = raw.split_once(':') else {
            values.push(raw.to_string());
            continue;
        };
        let (first, second) = (first.trim(), second.trim());
        if first.is_empty() || !first.starts_with('.') {
            values.push(raw.to_string());
        } else if matches!(first, ".r" | ".ref" | ".referer" | ".referrer") {
            if name.contains("write") {
                return Err(format!("Referrers not allowed in write ACL: '{raw}'"));
            }
            let (negate, mut second) = match second.strip_prefix('-') {
                Some(s) => (true, s.trim()),
                None => (false, second),
            };
            if second != "*" && second.starts_with('*') {
                second = second[1..].trim();
            }
            if second.is_empty() || second == "." {
                return Err(format!(
                    "No host/domain value after referrer designation in ACL: '{raw}'"
                ));
            }
            values.push(format!(".r:{}{second}", if negate { "-" } else { "" }));
        } else {
            return Err(format!("Unknown designator '{first}' in ACL: '{raw}'"));
        }
    }
    Ok(values.join(","))
}

/// `(referrers, groups)` of a cleaned ACL (`parse_acl_v1`).
pub fn parse(acl: Option<&str>) -> (Vec<String>, Vec<String>) {
    let mut referrers = Vec::new();
    let mut groups = Vec::new();
    for v in acl.unwrap_or("").split(',').filter(|v| !v.is_empty()) {
        match v.strip_prefix(".r:") {
            Some(r) => referrers.push(r.to_string()),
            None => groups.push(percent_decode_str(v).decode_utf8_lossy().into_owned()),
        }
    }
    (referrers, groups)
}

/// Whether a request with this `Referer` passes the referrer rules
/// (applied in order, later ones winning).
pub fn referrer_allowed(referer: Option<&str>, referrers: &[String]) -> bool {
    let host = referer
        .and_then(host_of)
        .unwrap_or_else(|| "unknown".into());
    let mut allow = false;
    for m in referrers {
        if let Some(m) = m.strip_prefix('-') {
            if m == host || (m.starts_with('.') && host.ends_with(m)) {
                allow = false;
            }
        } else if m == "*" || *m == host || (m.starts_with('.') && host.ends_with(m.as_str())) {
            allow = true;
        }
    }
    allow
}

/// The host part of a URL (what Python's `urlparse(…).hostname` gives).
fn host_of(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        host.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_like_swift() {
        let c = |v| clean("x-container-read", v);
        assert_eq!(c("bob, sue").unwrap(), "bob,sue");
        assert_eq!(c("bob , sue").unwrap(), "bob,sue");
        assert_eq!(c("bob,,,sue").unwrap(), "bob,sue");
        assert_eq!(c(".referrer : *").unwrap(), ".r:*");
        assert_eq!(c(".ref:*.example.com").unwrap(), ".r:.example.com");
        assert_eq!(c(".r:*, .rlistings").unwrap(), ".r:*,.rlistings");
        assert_eq!(c(".r:-thief.com").unwrap(), ".r:-thief.com");
        assert!(c(".r:").is_err());
        assert!(c(".r:-").is_err());
        assert!(c(".x:y").is_err());
        assert!(clean("X-Container-Write", ".r:*").is_err());
        assert_eq!(clean("X-Container-Write", "p:u").unwrap(), "p:u");
    }

    #[test]
    fn referrers_match_in_order() {
        let (r, g) = parse(Some(".r:*,.rlistings,p:u"));
        assert_eq!(r, vec!["*"]);
        assert_eq!(g, vec![".rlistings", "p:u"]);
        assert!(referrer_allowed(None, &r));
        let (r, _) = parse(Some(".r:.example.com,.r:-thief.example.com"));
        assert!(referrer_allowed(Some("http://www.example.com/x"), &r));
        assert!(!referrer_allowed(Some("http://thief.example.com/x"), &r));
        assert!(!referrer_allowed(Some("http://other.com/"), &r));
        assert!(!referrer_allowed(None, &r));
        assert_eq!(
            host_of("https://u:p@Host.com:8080/a"),
            Some("host.com".into())
        );
    }
}

//! Quotas as Swift's `container_quotas` and `account_quotas` middlewares
//! enforce them: `X-Container-Meta-Quota-Bytes`/`-Count` on a container,
//! `X-Account-Quota-Bytes`/`-Count` (or the legacy
//! `X-Account-Meta-Quota-Bytes`) on an account, which only a reseller
//! admin sets and which does not bind a reseller admin.
//!
//! Swift checks before the upload (`used + Content-Length > quota` is
//! 413); so do we, and we also stop a chunked upload the moment it passes
//! what is left, and check the counters again in the transaction that
//! commits the object, so concurrent uploads cannot overshoot together.

use super::{Result, SwiftError};
use crate::db::accounts::Account;
use crate::db::containers::Container;

fn digits(v: Option<&String>) -> Option<i64> {
    v.filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
}

/// `(bytes, count)` quotas of a container.
pub fn container_quotas(c: &Container) -> (Option<i64>, Option<i64>) {
    (
        digits(c.metadata.get("x-container-meta-quota-bytes")),
        digits(c.metadata.get("x-container-meta-quota-count")),
    )
}

/// `(bytes, count)` quotas of an account.
pub fn account_quotas(a: &Account) -> (Option<i64>, Option<i64>) {
    (a.quota_bytes, a.quota_count)
}

pub fn exceeded() -> SwiftError {
    SwiftError::payload_too_large("Upload exceeds quota.")
}

/// Before an upload of `incoming` bytes: 413 if it cannot fit, else how
/// many bytes it may still grow to (`None`: no limit).
pub fn precheck(
    c: &Container,
    a: Option<&Account>,
    incoming: u64,
    reseller: bool,
) -> Result<Option<u64>> {
    let incoming = i64::try_from(incoming).unwrap_or(i64::MAX);
    let mut room: Option<i64> = None;
    let mut limit = |quota: Option<i64>, used: i64| -> Result<()> {
        if let Some(q) = quota {
            if q < used.saturating_add(incoming) {
                return Err(exceeded());
            }
            let left = q - used;
            room = Some(room.map_or(left, |r| r.min(left)));
        }
        Ok(())
    };
    let (cb, cc) = container_quotas(c);
    limit(cb, c.bytes_used)?;
    if cc.is_some_and(|q| q < c.object_count + 1) {
        return Err(exceeded());
    }
    if let (Some(a), false) = (a, reseller) {
        let (ab, ac) = account_quotas(a);
        limit(ab, a.bytes_used)?;
        if ac.is_some_and(|q| q < a.object_count + 1) {
            return Err(exceeded());
        }
    }
    Ok(room.map(|r| u64::try_from(r.max(0)).unwrap_or(0)))
}

/// After the counters moved by `(objects, bytes)`: 413 if a quota that
/// binds is now exceeded by the growth.
pub fn check_after(
    c: &Container,
    a: Option<&Account>,
    objects: i64,
    bytes: i64,
    reseller: bool,
) -> Result<()> {
    let (cb, cc) = container_quotas(c);
    if bytes > 0 && cb.is_some_and(|q| c.bytes_used > q) {
        return Err(exceeded());
    }
    if objects > 0 && cc.is_some_and(|q| c.object_count > q) {
        return Err(exceeded());
    }
    if let (Some(a), false) = (a, reseller) {
        let (ab, ac) = account_quotas(a);
        if bytes > 0 && ab.is_some_and(|q| a.bytes_used > q) {
            return Err(exceeded());
        }
        if objects > 0 && ac.is_some_and(|q| a.object_count > q) {
            return Err(exceeded());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prechecks_like_swift() {
        let mut c = Container {
            bytes_used: 90,
            object_count: 4,
            ..Container::default()
        };
        assert_eq!(precheck(&c, None, 1000, false).unwrap(), None);
        c.metadata
            .insert("x-container-meta-quota-bytes".into(), "100".into());
        assert_eq!(precheck(&c, None, 10, false).unwrap(), Some(10));
        assert!(precheck(&c, None, 11, false).is_err());
        c.metadata
            .insert("x-container-meta-quota-count".into(), "4".into());
        assert!(precheck(&c, None, 0, false).is_err());
        let a = Account {
            bytes_used: 5,
            quota_bytes: Some(8),
            ..Account::default()
        };
        c.metadata.clear();
        assert_eq!(precheck(&c, Some(&a), 3, false).unwrap(), Some(3));
        assert!(precheck(&c, Some(&a), 4, false).is_err());
        assert_eq!(
            precheck(&c, Some(&a), 4, true).unwrap(),
            None,
            "resellers are not bound"
        );
    }

    #[test]
    fn checks_growth_only() {
        let mut c = Container {
            bytes_used: 120,
            ..Container::default()
        };
        c.metadata
            .insert("x-container-meta-quota-bytes".into(), "100".into());
        assert!(check_after(&c, None, 0, 10, false).is_err());
        assert!(check_after(&c, None, 0, -10, false).is_ok());
    }
}

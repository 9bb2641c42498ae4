//! Validated tokens, remembered per identity revision.
//!
//! A token's validity depends only on its bytes, the clock and the identity
//! view it was resolved against; while the view's revision is unchanged and
//! the token has not expired, the answer is the same, so decryption and
//! role resolution need not be repeated. Any identity write moves the
//! revision and so invalidates every entry at once; so does a change of
//! the fernet key set (a rotation may retire the key a token needs).

use common::context::AuthContext;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Entries kept before the cache starts over; a token is ~200 bytes and
/// its context a few hundred more.
const CAPACITY: usize = 8192;

/// (identity revision, fernet key generation) an answer was computed at.
pub type Stamp = (i64, u64);

#[derive(Default)]
pub struct TokenCache {
    map: Mutex<HashMap<String, (Stamp, Arc<AuthContext>)>>,
}

impl TokenCache {
    pub fn get(&self, token: &str, revision: Stamp, now: i64) -> Option<Arc<AuthContext>> {
        let map = self.map.lock().ok()?;
        match map.get(token) {
            Some((rev, ctx)) if *rev == revision && ctx.expires_at > now => Some(ctx.clone()),
            _ => None,
        }
    }

    pub fn put(&self, token: &str, revision: Stamp, ctx: Arc<AuthContext>) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= CAPACITY {
                // Entries of older revisions are dead anyway; dropping all
                // is simpler than tracking age and costs one re-validation.
                map.clear();
            }
            map.insert(token.to_string(), (revision, ctx));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::context::Scope;

    fn ctx(expires_at: i64) -> Arc<AuthContext> {
        Arc::new(AuthContext {
            user_id: "u".into(),
            user_name: "u".into(),
            user_domain_id: "d".into(),
            user_domain_name: "D".into(),
            scope: Scope::Unscoped,
            roles: vec![],
            methods: vec![],
            audit_ids: vec![],
            issued_at: 0,
            expires_at,
            application_credential_id: None,
            trust_id: None,
            oauth_access_token_id: None,
            access_rules: None,
            is_admin_project: false,
        })
    }

    #[test]
    fn hits_only_at_the_same_revision_and_before_expiry() {
        let c = TokenCache::default();
        c.put("t", (5, 0), ctx(100));
        assert!(c.get("t", (5, 0), 99).is_some());
        assert!(c.get("t", (6, 0), 99).is_none(), "identity changed");
        assert!(c.get("t", (5, 1), 99).is_none(), "keys changed");
        assert!(c.get("t", (5, 0), 100).is_none(), "expired");
        assert!(c.get("other", (5, 0), 1).is_none());
    }

    #[test]
    fn bounded() {
        let c = TokenCache::default();
        for i in 0..(CAPACITY + 10) {
            c.put(&i.to_string(), (1, 0), ctx(100));
        }
        assert!(c.map.lock().unwrap().len() <= CAPACITY);
    }
}

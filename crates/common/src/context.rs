//! Who is calling: the authenticated identity a validated token carries, as
//! every service sees it after the shared auth layer ([`crate::auth`]).

use serde::Serialize;
use serde_json::{json, Value};

/// A role granted to the token, by id and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleRef {
    pub id: String,
    pub name: String,
}

/// One call an application credential's token may make: a service type,
/// an HTTP method and a path pattern where `*` matches one path segment
/// and `**` any number of them (keystonemiddleware's rule language).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessRule {
    pub service: String,
    pub method: String,
    pub path: String,
}

impl AccessRule {
    pub fn allows(&self, service: &str, method: &str, path: &str) -> bool {
        self.service == service
            && self.method.eq_ignore_ascii_case(method)
            && path_matches(&self.path, path)
    }
}

/// Glob match of `/`-separated segments: `*` is one segment, `**` any
/// number (including none).
pub fn path_matches(pattern: &str, path: &str) -> bool {
    fn go(p: &[&str], s: &[&str]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((&"**", rest)) => (0..=s.len()).any(|i| go(rest, &s[i..])),
            Some((seg, rest)) => match s.split_first() {
                Some((x, srest)) => (*seg == "*" || seg == x) && go(rest, srest),
                None => false,
            },
        }
    }
    let p: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let s: Vec<&str> = path.trim_matches('/').split('/').collect();
    go(&p, &s)
}

/// What a token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Unscoped,
    Project {
        id: String,
        name: String,
        domain_id: String,
        domain_name: String,
    },
    Domain {
        id: String,
        name: String,
    },
    /// `system: {"all": true}`.
    System,
}

/// The identity behind a request, resolved from its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthContext {
    pub user_id: String,
    pub user_name: String,
    pub user_domain_id: String,
    pub user_domain_name: String,
    pub scope: Scope,
    pub roles: Vec<RoleRef>,
    pub methods: Vec<String>,
    pub audit_ids: Vec<String>,
    /// Microseconds since the epoch.
    pub issued_at: i64,
    pub expires_at: i64,
    pub application_credential_id: Option<String>,
    /// The trust a trust-scoped token was issued through.
    pub trust_id: Option<String>,
    /// The OAuth1 access token a token was obtained with.
    pub oauth_access_token_id: Option<String>,
    /// Set when the token comes from an application credential with access
    /// rules: the only calls it may make.
    pub access_rules: Option<std::sync::Arc<Vec<AccessRule>>>,
    /// True for tokens scoped to the bootstrap `admin` project
    /// (Keystone's `is_admin_project`).
    pub is_admin_project: bool,
}

impl AuthContext {
    pub fn project_id(&self) -> Option<&str> {
        match &self.scope {
            Scope::Project { id, .. } => Some(id),
            _ => None,
        }
    }

    pub fn domain_id(&self) -> Option<&str> {
        match &self.scope {
            Scope::Domain { id, .. } => Some(id),
            _ => None,
        }
    }

    pub fn is_system(&self) -> bool {
        matches!(self.scope, Scope::System)
    }

    pub fn has_role(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r.name.eq_ignore_ascii_case(name))
    }

    /// The credentials oslo.policy rules are evaluated against.
    pub fn policy_credentials(&self) -> Value {
        let (project_id, project_domain_id) = match &self.scope {
            Scope::Project { id, domain_id, .. } => (json!(id), json!(domain_id)),
            _ => (Value::Null, Value::Null),
        };
        let domain_id = match &self.scope {
            Scope::Domain { id, .. } => json!(id),
            _ => Value::Null,
        };
        json!({
            "user_id": self.user_id,
            "user_domain_id": self.user_domain_id,
            "project_id": project_id,
            "project_domain_id": project_domain_id,
            "domain_id": domain_id,
            "system_scope": if self.is_system() { json!("all") } else { Value::Null },
            "roles": self.roles.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
            "is_admin_project": self.is_admin_project,
            "trust_id": self.trust_id,
            "token": {
                "project": {"id": project_id, "domain": {"id": project_domain_id}},
                "domain": {"id": domain_id},
                "user": {"id": self.user_id, "domain": {"id": self.user_domain_id}},
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_rule_paths() {
        assert!(path_matches("/v2.1/servers", "/v2.1/servers"));
        assert!(path_matches("/v2.1/servers/*", "/v2.1/servers/abc"));
        assert!(!path_matches("/v2.1/servers/*", "/v2.1/servers/abc/action"));
        assert!(path_matches("/v2.1/servers/**", "/v2.1/servers/abc/action"));
        assert!(path_matches("/v2.1/**", "/v2.1"));
        assert!(!path_matches("/v2.1/servers", "/v2.1/flavors"));
        let r = AccessRule {
            service: "compute".into(),
            method: "GET".into(),
            path: "/v2.1/servers".into(),
        };
        assert!(r.allows("compute", "get", "/v2.1/servers"));
        assert!(!r.allows("image", "GET", "/v2.1/servers"));
        assert!(!r.allows("compute", "POST", "/v2.1/servers"));
    }
}

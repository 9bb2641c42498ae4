//! The targets identity's policy rules are checked against: Keystone's
//! target dictionaries (`target.user.id`, `target.domain_id`, the flat
//! `user_id` and `domain_id` some rules read, …) as a type, so each check
//! says which members it fills.
//!
//! A member left out and a null one are the same to the rule engine (a
//! check on either never matches), so members not set are left out.

use serde::Serialize;

/// What a policy check acts on. Starts empty ([`PolicyTarget::none`], for
/// rules that look only at the caller); the builder methods fill members.
#[derive(Debug, Default, Serialize)]
pub struct PolicyTarget {
    #[serde(skip_serializing_if = "Resources::is_empty")]
    target: Resources,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<TokenOwner>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trust: Option<TrustRef>,
}

/// `target.…`: the resources acted on.
#[derive(Debug, Default, Serialize)]
struct Resources {
    #[serde(skip_serializing_if = "unknown")]
    user: Option<Ref>,
    #[serde(skip_serializing_if = "unknown")]
    group: Option<Ref>,
    #[serde(skip_serializing_if = "unknown")]
    project: Option<Ref>,
    #[serde(skip_serializing_if = "unknown")]
    domain: Option<Ref>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<TokenOwner>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trust: Option<TrustRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credential: Option<CredentialOwner>,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain_id: Option<String>,
}

impl Resources {
    fn is_empty(&self) -> bool {
        unknown(&self.user)
            && unknown(&self.group)
            && unknown(&self.project)
            && unknown(&self.domain)
            && self.token.is_none()
            && self.trust.is_none()
            && self.credential.is_none()
            && self.domain_id.is_none()
    }
}

/// A resource with nothing known about it is left out, as its members
/// would be.
fn unknown(r: &Option<Ref>) -> bool {
    r.as_ref()
        .is_none_or(|r| r.id.is_none() && r.domain_id.is_none())
}

/// A resource in a target: its id and the domain owning it, as known.
#[derive(Debug, Default, Serialize)]
pub struct Ref {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain_id: Option<String>,
}

impl Ref {
    /// A resource known by id alone.
    pub fn id(id: &str) -> Ref {
        Ref {
            id: Some(id.to_string()),
            domain_id: None,
        }
    }

    /// An existing resource of a domain.
    pub fn owned(id: &str, domain_id: &str) -> Ref {
        Ref {
            id: Some(id.to_string()),
            domain_id: Some(domain_id.to_string()),
        }
    }

    /// A resource about to be made in a domain (if one is known).
    pub fn in_domain<'a>(domain_id: impl Into<Option<&'a str>>) -> Ref {
        Ref {
            id: None,
            domain_id: domain_id.into().map(str::to_string),
        }
    }
}

/// A token, by the user it was issued to.
#[derive(Debug, Serialize)]
struct TokenOwner {
    user_id: String,
}

/// A credential, by the user owning it.
#[derive(Debug, Serialize)]
struct CredentialOwner {
    user_id: String,
}

/// A trust, by the users it binds (those known: a list filtered by one
/// of them names only that one).
#[derive(Debug, Serialize)]
pub struct TrustRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    trustor_user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trustee_user_id: Option<String>,
}

impl TrustRef {
    /// An existing trust from `trustor` to `trustee`.
    pub fn between(trustor_user_id: &str, trustee_user_id: &str) -> TrustRef {
        TrustRef {
            trustor_user_id: Some(trustor_user_id.to_string()),
            trustee_user_id: Some(trustee_user_id.to_string()),
        }
    }

    /// The trusts (or the trust asked for) of this trustor.
    pub fn trustor(user_id: &str) -> TrustRef {
        TrustRef {
            trustor_user_id: Some(user_id.to_string()),
            trustee_user_id: None,
        }
    }

    /// The trusts of this trustee.
    pub fn trustee(user_id: &str) -> TrustRef {
        TrustRef {
            trustor_user_id: None,
            trustee_user_id: Some(user_id.to_string()),
        }
    }
}

impl PolicyTarget {
    /// No target: the rule looks only at the caller.
    pub fn none() -> PolicyTarget {
        PolicyTarget::default()
    }

    /// `target.user`.
    pub fn user(mut self, r: Ref) -> PolicyTarget {
        self.target.user = Some(r);
        self
    }

    /// `target.group`.
    pub fn group(mut self, r: Ref) -> PolicyTarget {
        self.target.group = Some(r);
        self
    }

    /// `target.project`.
    pub fn project(mut self, r: Ref) -> PolicyTarget {
        self.target.project = Some(r);
        self
    }

    /// `target.domain`.
    pub fn domain(mut self, r: Ref) -> PolicyTarget {
        self.target.domain = Some(r);
        self
    }

    /// `target.token.user_id`: the token acted on.
    pub fn token_of(mut self, user_id: &str) -> PolicyTarget {
        self.target.token = Some(TokenOwner {
            user_id: user_id.to_string(),
        });
        self
    }

    /// `target.trust`: the trust acted on, or the trusts listed.
    pub fn trust(mut self, t: TrustRef) -> PolicyTarget {
        self.target.trust = Some(t);
        self
    }

    /// `target.credential.user_id`: the credential acted on, by its owner.
    pub fn credential_of(mut self, user_id: &str) -> PolicyTarget {
        self.target.credential = Some(CredentialOwner {
            user_id: user_id.to_string(),
        });
        self
    }

    /// `target.domain_id`: the domain a list or grant is confined to.
    pub fn within<'a>(mut self, domain_id: impl Into<Option<&'a str>>) -> PolicyTarget {
        self.target.domain_id = domain_id.into().map(str::to_string);
        self
    }

    /// The flat `user_id`.
    pub fn user_id(mut self, id: &str) -> PolicyTarget {
        self.user_id = Some(id.to_string());
        self
    }

    /// The flat `domain_id`.
    pub fn domain_id<'a>(mut self, domain_id: impl Into<Option<&'a str>>) -> PolicyTarget {
        self.domain_id = domain_id.into().map(str::to_string);
        self
    }

    /// The flat `token.user_id`.
    pub fn token(mut self, user_id: &str) -> PolicyTarget {
        self.token = Some(TokenOwner {
            user_id: user_id.to_string(),
        });
        self
    }

    /// The flat `trust`: the trust a create request asks for (Keystone
    /// checks `identity:create_trust` against the request body, whose
    /// `trust` lands at the top of the target).
    pub fn trust_requested(mut self, t: TrustRef) -> PolicyTarget {
        self.trust = Some(t);
        self
    }
}

#[cfg(test)]
mod tests {
    //! Each target shape identity checks, against the dictionary Keystone
    //! builds for it (nulls dropped: the engine treats them as absent).

    use super::*;
    use serde_json::{json, Value};

    fn without_nulls(v: Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k, without_nulls(v)))
                    .filter(|(_, v)| v.as_object().is_none_or(|o| !o.is_empty()))
                    .collect(),
            ),
            other => other,
        }
    }

    fn same(t: PolicyTarget, keystone: Value) {
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            without_nulls(keystone.clone()),
            "{keystone}"
        );
    }

    #[test]
    fn shapes_match_keystones_targets() {
        let none: Option<&str> = None;
        same(PolicyTarget::none(), json!({}));
        same(
            PolicyTarget::none()
                .user(Ref::owned("u", "d"))
                .user_id("u")
                .domain_id("d"),
            json!({"target": {"user": {"id": "u", "domain_id": "d"}}, "user_id": "u", "domain_id": "d"}),
        );
        same(
            PolicyTarget::none()
                .user(Ref::in_domain("d"))
                .domain_id("d"),
            json!({"target": {"user": {"domain_id": "d"}}, "domain_id": "d"}),
        );
        for d in [Some("d"), None] {
            same(
                PolicyTarget::none().within(d).domain_id(d),
                json!({"target": {"domain_id": d}, "domain_id": d}),
            );
            same(
                PolicyTarget::none()
                    .within(d)
                    .project(Ref::in_domain(d))
                    .domain_id(d),
                json!({"target": {"domain_id": d, "project": {"domain_id": d}}, "domain_id": d}),
            );
        }
        same(
            PolicyTarget::none().within(none),
            json!({"target": {"domain_id": null}}),
        );
        same(
            PolicyTarget::none()
                .group(Ref::owned("g", "d"))
                .domain_id("d"),
            json!({"target": {"group": {"id": "g", "domain_id": "d"}}, "domain_id": "d"}),
        );
        same(
            PolicyTarget::none().group(Ref::in_domain("d")),
            json!({"target": {"group": {"domain_id": "d"}}}),
        );
        same(
            PolicyTarget::none().domain(Ref::id("d")),
            json!({"target": {"domain": {"id": "d"}}}),
        );
        same(
            PolicyTarget::none().project(Ref::id("p")),
            json!({"target": {"project": {"id": "p"}}}),
        );
        same(
            PolicyTarget::none().token_of("u").token("u"),
            json!({"target": {"token": {"user_id": "u"}}, "token": {"user_id": "u"}}),
        );
        same(
            PolicyTarget::none().user_id("u").user(Ref::id("u")),
            json!({"user_id": "u", "target": {"user": {"id": "u"}}}),
        );
        same(
            PolicyTarget::none()
                .project(Ref::owned("p", "d"))
                .domain_id("d"),
            json!({"target": {"project": {"id": "p", "domain_id": "d"}}, "domain_id": "d"}),
        );
        same(
            PolicyTarget::none()
                .project(Ref::in_domain("d"))
                .domain_id("d"),
            json!({"target": {"project": {"domain_id": "d"}}, "domain_id": "d"}),
        );
        same(
            PolicyTarget::none().credential_of("u").user_id("u"),
            json!({"target": {"credential": {"user_id": "u"}}, "user_id": "u"}),
        );
        same(
            PolicyTarget::none().trust(TrustRef::between("a", "b")),
            json!({"target": {"trust": {"trustor_user_id": "a", "trustee_user_id": "b"}}}),
        );
        same(
            PolicyTarget::none().trust(TrustRef::trustor("a")),
            json!({"target": {"trust": {"trustor_user_id": "a"}}}),
        );
        same(
            PolicyTarget::none().trust(TrustRef::trustee("b")),
            json!({"target": {"trust": {"trustee_user_id": "b"}}}),
        );
        same(
            PolicyTarget::none().trust_requested(TrustRef::trustor("a")),
            json!({"trust": {"trustor_user_id": "a"}}),
        );
    }
}

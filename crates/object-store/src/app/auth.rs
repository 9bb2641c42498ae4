//! Who the caller is and what it may do, as Swift's `keystoneauth`
//! middleware decides it.
//!
//! The account `AUTH_<project id>` belongs to that project: users with an
//! operator role there (`admin`, `member`, `swiftoperator` by default) own
//! it, reader roles may read it, the reseller admin role owns every
//! account. Others get in only through the container's ACL (a matching
//! `project:user` group, a referrer rule, or, for the project's own users,
//! a role named in the ACL) or a temp URL. A refused caller with a token
//! gets 403, one without gets 401.
//!
//! Swift keeps no policy file for this (keystoneauth reads roles from its
//! configuration), so neither does the object store: the roles come from
//! `[object_store]`.

use super::{acl, ObjectStore, Result, Settings, SwiftError};
use common::context::{AuthContext, Scope};
use std::sync::Arc;

/// The caller of a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No token.
    Anonymous,
    /// A valid Keystone token.
    User(Arc<AuthContext>),
    /// A valid temp URL signature, for one account or one container.
    TempUrl {
        account: String,
        container: Option<String>,
    },
}

/// What the caller was allowed as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Access {
    /// Owns the account (`swift_owner`): sees and sets ACLs, temp URL keys.
    pub owner: bool,
    /// Holds the reseller admin role: every account, no quotas.
    pub reseller: bool,
    /// Came in through a temp URL (responses lose private metadata).
    pub temp_url: bool,
}

/// The operation being authorised.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub account: &'a str,
    pub container: Option<&'a str>,
    pub object: Option<&'a str>,
    /// `GET`, `HEAD`, `PUT`, `POST`, `DELETE`.
    pub method: &'a str,
    /// The container's read ACL for reads, write ACL for object writes.
    pub acl: Option<&'a str>,
    pub referer: Option<&'a str>,
}

impl ObjectStore {
    /// Resolves the token, if any: anonymous for one that does not
    /// validate, 401 for one whose application-credential access rules do
    /// not allow `method path` on the object store.
    pub async fn caller_from_token(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
    ) -> Result<Caller> {
        let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(Caller::Anonymous);
        };
        match self.validator.validate(token).await {
            Ok(ctx)
                if ctx.access_rules.as_ref().is_some_and(|rules| {
                    !rules.iter().any(|r| r.allows("object-store", method, path))
                }) =>
            {
                Err(SwiftError::unauthorized(""))
            }
            Ok(ctx) => Ok(Caller::User(ctx)),
            // Swift runs keystonemiddleware with `delay_auth_decision`: a
            // token that does not validate makes an anonymous request,
            // which public containers still serve and everything else
            // answers with 401.
            Err(e)
                if matches!(
                    e.kind(),
                    common::ErrorKind::Unauthorized | common::ErrorKind::NotFound
                ) =>
            {
                Ok(Caller::Anonymous)
            }
            Err(e) => Err(e),
        }
    }

    /// Decides `t` for `caller` (see [`decide`]).
    pub fn authorize(&self, caller: &Caller, t: Target<'_>) -> Result<Access> {
        decide(&self.settings, caller, t)
    }
}

/// Decides `t` for `caller` (keystoneauth's `authorize` and
/// `authorize_anonymous`).
pub fn decide(settings: &Settings, caller: &Caller, t: Target<'_>) -> Result<Access> {
    match caller {
        Caller::TempUrl { account, container } => {
            let same_container = match container {
                None => true,
                Some(c) => t.container == Some(c.as_str()),
            };
            if account == t.account && same_container && t.object.is_some() {
                Ok(Access {
                    temp_url: true,
                    ..Access::default()
                })
            } else {
                Err(SwiftError::unauthorized(""))
            }
        }
        Caller::Anonymous => {
            if !t.account.starts_with("AUTH_") {
                return Err(SwiftError::unauthorized(""));
            }
            let (referrers, groups) = acl::parse(t.acl);
            if unconfirmed(&t, &referrers, &groups) == Some(true) {
                Ok(Access::default())
            } else {
                Err(SwiftError::unauthorized(""))
            }
        }
        Caller::User(ctx) => decide_user(settings, ctx, t),
    }
}

/// The parts of a token keystoneauth looks at.
#[derive(Debug, Clone)]
pub struct Identity<'a> {
    pub user_id: &'a str,
    pub user_name: &'a str,
    pub user_domain_id: &'a str,
    pub project_id: &'a str,
    pub project_name: &'a str,
    pub project_domain_id: &'a str,
    /// Lowercase role names.
    pub roles: Vec<String>,
}

impl<'a> Identity<'a> {
    pub fn of(ctx: &'a AuthContext) -> Identity<'a> {
        let (project_id, project_name, project_domain_id) = match &ctx.scope {
            Scope::Project {
                id,
                name,
                domain_id,
                ..
            } => (id.as_str(), name.as_str(), domain_id.as_str()),
            _ => ("", "", ""),
        };
        Identity {
            user_id: &ctx.user_id,
            user_name: &ctx.user_name,
            user_domain_id: &ctx.user_domain_id,
            project_id,
            project_name,
            project_domain_id,
            roles: ctx.roles.iter().map(|r| r.name.to_lowercase()).collect(),
        }
    }
}

fn decide_user(settings: &Settings, ctx: &AuthContext, t: Target<'_>) -> Result<Access> {
    let id = Identity::of(ctx);
    // Swift's proxy authorises every request once before it knows the
    // container's ACL, and again with it only if that was refused: an
    // owner stays the owner (and sees the ACLs) of a public container.
    decide_identity(settings, &id, Target { acl: None, ..t })
        .or_else(|_| decide_identity(settings, &id, t))
}

fn decide_identity(settings: &Settings, id: &Identity<'_>, t: Target<'_>) -> Result<Access> {
    let roles = &id.roles;
    let has = |list: &[String]| roles.iter().any(|r| list.contains(r));
    if roles.contains(&settings.reseller_admin_role) {
        return Ok(Access {
            owner: true,
            reseller: true,
            temp_url: false,
        });
    }
    // Nobody but a reseller deletes an account.
    if t.container.is_none() && t.object.is_none() && t.method == "DELETE" {
        return Err(SwiftError::forbidden(""));
    }
    let (project_id, project_name, project_domain) =
        (id.project_id, id.project_name, id.project_domain_id);
    let (referrers, groups) = acl::parse(t.acl);
    if !groups.is_empty() {
        let allow_names = id.user_domain_id == "default" && project_domain == "default";
        let mut tenants = vec![project_id, "*"];
        let mut users = vec![id.user_id, "*"];
        if allow_names {
            tenants.push(project_name);
            users.push(id.user_name);
        }
        let matched = tenants.iter().filter(|p| !p.is_empty()).any(|p| {
            users
                .iter()
                .any(|u| groups.iter().any(|g| *g == format!("{p}:{u}")))
        });
        if matched {
            return Ok(Access::default());
        }
    }
    let unconfirmed = unconfirmed(&t, &referrers, &groups);
    if unconfirmed == Some(true) {
        return Ok(Access::default());
    }
    if project_id.is_empty() || t.account != format!("AUTH_{project_id}") {
        return Err(SwiftError::forbidden(""));
    }
    if has(&settings.operator_roles) {
        return Ok(Access {
            owner: true,
            reseller: false,
            temp_url: false,
        });
    }
    if has(&settings.reader_roles) && matches!(t.method, "GET" | "HEAD") {
        return Ok(Access::default());
    }
    if unconfirmed.is_some() {
        return Err(SwiftError::forbidden(""));
    }
    if roles
        .iter()
        .any(|r| groups.iter().any(|g| g.to_lowercase() == *r))
    {
        return Ok(Access::default());
    }
    Err(SwiftError::forbidden(""))
}

/// Access without a confirmed identity (`_authorize_unconfirmed_identity`):
/// `Some(true)` when a referrer rule lets the request in, `Some(false)`
/// when the referrer matches but only objects are granted, `None` when no
/// rule decides.
fn unconfirmed(t: &Target<'_>, referrers: &[String], groups: &[String]) -> Option<bool> {
    if acl::referrer_allowed(t.referer, referrers) {
        return Some(t.object.is_some() || groups.iter().any(|g| g == ".rlistings"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::from_config(&crate::config::ObjectStoreConfig::default())
    }

    /// A project-scoped user of the Default domain, as a decision input.
    struct User {
        project: String,
        roles: Vec<String>,
    }

    fn user(project: &str, roles: &[&str]) -> User {
        User {
            project: project.into(),
            roles: roles.iter().map(|r| r.to_lowercase()).collect(),
        }
    }

    fn decide_as(s: &Settings, u: &User, t: Target<'_>) -> Result<Access> {
        let name = format!("{}-name", u.project);
        let id = Identity {
            user_id: "u1",
            user_name: "alice",
            user_domain_id: "default",
            project_id: &u.project,
            project_name: &name,
            project_domain_id: "default",
            roles: u.roles.clone(),
        };
        decide_identity(s, &id, t)
    }

    fn t<'a>(method: &'a str, object: Option<&'a str>, acl: Option<&'a str>) -> Target<'a> {
        Target {
            account: "AUTH_p1",
            container: Some("c"),
            object,
            method,
            acl,
            referer: None,
        }
    }

    fn status(r: Result<Access>) -> u16 {
        match r {
            Ok(_) => 200,
            Err(e) => e.status().as_u16(),
        }
    }

    #[test]
    fn keystoneauth_rules() {
        let s = settings();
        let member = user("p1", &["member", "reader"]);
        let a = decide_as(&s, &member, t("PUT", Some("o"), None)).unwrap();
        assert!(a.owner && !a.reseller);
        let reader = user("p1", &["reader"]);
        assert_eq!(
            status(decide_as(&s, &reader, t("GET", Some("o"), None))),
            200
        );
        assert_eq!(
            status(decide_as(&s, &reader, t("PUT", Some("o"), None))),
            403
        );
        let other = user("p2", &["member"]);
        assert_eq!(
            status(decide_as(&s, &other, t("GET", Some("o"), None))),
            403
        );
        assert_eq!(
            status(decide(&s, &Caller::Anonymous, t("GET", Some("o"), None))),
            401
        );
        let reseller = user("p9", &["ResellerAdmin"]);
        let a = decide_as(&s, &reseller, t("DELETE", None, None)).unwrap();
        assert!(a.owner && a.reseller);
        let mut acct = t("DELETE", None, None);
        acct.container = None;
        assert_eq!(
            status(decide_as(&s, &member, acct)),
            403,
            "no account delete"
        );
    }

    #[test]
    fn acls_open_doors() {
        let s = settings();
        let other = user("p2", &["member"]);
        // project:user, by id or name, with wildcards.
        for acl in ["p2:u1", "p2:*", "*:u1", "p2-name:alice"] {
            let a = decide_as(&s, &other, t("GET", Some("o"), Some(acl))).unwrap();
            assert!(!a.owner, "{acl}");
        }
        assert_eq!(
            status(decide_as(&s, &other, t("GET", Some("o"), Some("p3:*")))),
            403
        );
        // Public read: objects, and listings only with .rlistings.
        let anon = Caller::Anonymous;
        assert_eq!(
            status(decide(&s, &anon, t("GET", Some("o"), Some(".r:*")))),
            200
        );
        assert_eq!(status(decide(&s, &anon, t("GET", None, Some(".r:*")))), 401);
        assert_eq!(
            status(decide(&s, &anon, t("GET", None, Some(".r:*,.rlistings")))),
            200
        );
        // A role named in the ACL counts for the project's own users.
        let observer = user("p1", &["observer"]);
        assert_eq!(
            status(decide_as(&s, &observer, t("PUT", Some("o"), None))),
            403
        );
        assert_eq!(
            status(decide_as(
                &s,
                &observer,
                t("PUT", Some("o"), Some("observer"))
            )),
            200
        );
    }

    #[test]
    fn temp_urls_are_scoped() {
        let s = settings();
        let acct = Caller::TempUrl {
            account: "AUTH_p1".into(),
            container: None,
        };
        assert!(
            decide(&s, &acct, t("PUT", Some("o"), None))
                .unwrap()
                .temp_url
        );
        let cont = Caller::TempUrl {
            account: "AUTH_p1".into(),
            container: Some("other".into()),
        };
        assert_eq!(status(decide(&s, &cont, t("GET", Some("o"), None))), 401);
        assert_eq!(status(decide(&s, &acct, t("GET", None, None))), 401);
    }
}

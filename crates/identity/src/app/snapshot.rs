//! An in-memory view of everything token validation needs (users,
//! projects, domains, roles and their implications, assignments, group
//! memberships, application credentials, revocation events, the catalog),
//! rebuilt whenever the store's identity revision moves.
//!
//! Validation is the hottest path in a cloud (every API call of every
//! service validates a token), so it must not cost database queries; and it
//! must see every change at once (a disabled user's tokens stop working on
//! the next request). Every identity write bumps the revision in the same
//! transaction, so a view built at revision N is exactly the store at N.

use crate::db::app_creds::AppCred;
use crate::db::assignments::{ActorKind, Assignment, TargetKind};
use crate::db::catalog::{Endpoint, Region, Service};
use crate::db::domains::Domain;
use crate::db::projects::Project;
use crate::db::revocations::RevocationEvent;
use crate::db::roles::Role;
use crate::db::trusts::Trust;
use crate::db::users::User;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// What a role resolution is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Project(String),
    Domain(String),
    System,
}

/// A write whose whole effect on the view is known in memory.
#[derive(Debug, Clone)]
pub enum Change {
    /// A user row inserted or replaced, with nothing else changed in the
    /// same transaction (no revocation event, membership or assignment).
    User(User),
    /// A project row inserted, with nothing else changed in the same
    /// transaction (a new project has no assignments or children yet).
    Project(Project),
    /// A role assignment granted (idempotent: no change when present).
    Grant(Assignment),
    /// A role assignment revoked, with no revocation event.
    Revoke(Assignment),
}

/// (user, target) → effective role ids, filled as tokens are validated.
type RolesMemo = HashMap<(String, Target), Arc<Vec<String>>>;

#[derive(Debug, Default)]
pub struct Snapshot {
    pub revision: i64,
    pub domains: HashMap<String, Domain>,
    /// Persistent maps (structurally shared between successive views): a
    /// view brought forward by one user or project write copies a path of
    /// the tree, not 10,000 entries.
    pub projects: imbl::HashMap<String, Project>,
    pub users: imbl::HashMap<String, User>,
    pub roles: HashMap<String, Role>,
    pub implied: HashMap<String, Vec<String>>,
    pub groups_of_user: HashMap<String, Vec<String>>,
    /// In the store's order (`db::assignments::order_key`), persistent
    /// like `users`.
    pub assignments: imbl::Vector<Assignment>,
    pub app_creds: HashMap<String, AppCred>,
    /// Access rules by id, and the rule ids of each application credential.
    pub access_rules: HashMap<String, crate::db::access_rules::AccessRuleRow>,
    pub app_cred_rules: HashMap<String, Vec<String>>,
    /// OAuth1 access tokens by id.
    pub oauth_access_tokens: HashMap<String, crate::db::oauth1::AccessToken>,
    /// Trusts not deleted.
    pub trusts: HashMap<String, Trust>,
    pub revocations: Vec<RevocationEvent>,
    pub regions: Vec<Region>,
    pub services: Vec<Service>,
    pub endpoints: Vec<Endpoint>,
    pub endpoint_groups: Vec<crate::db::endpoint_filter::EndpointGroup>,
    /// (project, endpoint) associations.
    pub project_endpoints: Vec<(String, String)>,
    /// (project, endpoint group) associations.
    pub project_endpoint_groups: Vec<(String, String)>,
    /// Id of the bootstrap `admin` project (Keystone's admin project).
    pub admin_project_id: Option<String>,
    roles_memo: Mutex<RolesMemo>,
}

impl Snapshot {
    /// An empty view that matches no store revision, so the first use
    /// loads the real one.
    pub fn empty() -> Snapshot {
        Snapshot {
            revision: -1,
            ..Snapshot::default()
        }
    }

    /// Loads the view from the store. `since` bounds the revocation events
    /// read (older ones cannot match an unexpired token).
    pub async fn load(db: &db::Db, revision: i64, since: i64) -> Result<Snapshot, db::sqlx::Error> {
        let pool = &db.pool;
        let domains = crate::db::domains::list(pool).await?;
        let projects = crate::db::projects::list(pool).await?;
        let users = crate::db::users::list(pool).await?;
        let roles = crate::db::roles::list(pool).await?;
        let mut implied: HashMap<String, Vec<String>> = HashMap::new();
        for (p, i) in crate::db::roles::implied(pool).await? {
            implied.entry(p).or_default().push(i);
        }
        let mut groups_of_user: HashMap<String, Vec<String>> = HashMap::new();
        for (u, g) in crate::db::users::memberships(pool).await? {
            groups_of_user.entry(u).or_default().push(g);
        }
        let admin_project_id = projects
            .iter()
            .find(|p| p.name == "admin" && p.domain_id == "default")
            .map(|p| p.id.clone());
        Ok(Snapshot {
            revision,
            domains: domains.into_iter().map(|d| (d.id.clone(), d)).collect(),
            projects: projects.into_iter().map(|p| (p.id.clone(), p)).collect(),
            users: users.into_iter().map(|u| (u.id.clone(), u)).collect(),
            roles: roles.into_iter().map(|r| (r.id.clone(), r)).collect(),
            implied,
            groups_of_user,
            assignments: crate::db::assignments::list(pool).await?.into(),
            app_creds: crate::db::app_creds::list(pool)
                .await?
                .into_iter()
                .map(|a| (a.id.clone(), a))
                .collect(),
            access_rules: crate::db::access_rules::list(pool)
                .await?
                .into_iter()
                .map(|r| (r.id.clone(), r))
                .collect(),
            app_cred_rules: {
                let mut m: HashMap<String, Vec<String>> = HashMap::new();
                for (c, r) in crate::db::access_rules::links(pool).await? {
                    m.entry(c).or_default().push(r);
                }
                m
            },
            oauth_access_tokens: crate::db::oauth1::access_tokens(pool)
                .await?
                .into_iter()
                .map(|t| (t.id.clone(), t))
                .collect(),
            trusts: crate::db::trusts::list(pool)
                .await?
                .into_iter()
                .map(|t| (t.id.clone(), t))
                .collect(),
            revocations: crate::db::revocations::list_since(pool, since).await?,
            regions: crate::db::catalog::regions(pool).await?,
            services: crate::db::catalog::services(pool).await?,
            endpoints: crate::db::catalog::endpoints(pool).await?,
            endpoint_groups: crate::db::endpoint_filter::groups(pool).await?,
            project_endpoints: crate::db::endpoint_filter::project_endpoints(pool).await?,
            project_endpoint_groups: crate::db::endpoint_filter::project_groups(pool).await?,
            admin_project_id,
            roles_memo: Mutex::new(HashMap::new()),
        })
    }

    /// This view with one of this process's own writes applied, as the
    /// view of revision `revision` (see `Identity::commit_change`).
    pub fn successor(&self, revision: i64, change: Change) -> Snapshot {
        // Cloning a persistent map is O(1); an insert copies one path.
        let mut users = self.users.clone();
        let mut projects = self.projects.clone();
        let mut admin_project_id = self.admin_project_id.clone();
        let mut assignments = self.assignments.clone();
        let at = |v: &imbl::Vector<Assignment>, a: &Assignment| {
            let key = crate::db::assignments::order_key(a);
            v.binary_search_by(|x| crate::db::assignments::order_key(x).cmp(&key))
        };
        match change {
            Change::User(u) => {
                users.insert(u.id.clone(), u);
            }
            Change::Project(mut p) => {
                // The store hands tags back sorted by name.
                p.tags.sort();
                // As `load` finds it: names are unique per domain, so
                // there is at most one such project.
                if admin_project_id.is_none() && p.name == "admin" && p.domain_id == "default" {
                    admin_project_id = Some(p.id.clone());
                }
                projects.insert(p.id.clone(), p);
            }
            Change::Grant(a) => {
                if let Err(i) = at(&assignments, &a) {
                    assignments.insert(i, a);
                }
            }
            Change::Revoke(a) => {
                if let Ok(i) = at(&assignments, &a) {
                    assignments.remove(i);
                }
            }
        }
        Snapshot {
            revision,
            domains: self.domains.clone(),
            projects,
            users,
            roles: self.roles.clone(),
            implied: self.implied.clone(),
            groups_of_user: self.groups_of_user.clone(),
            assignments,
            app_creds: self.app_creds.clone(),
            access_rules: self.access_rules.clone(),
            app_cred_rules: self.app_cred_rules.clone(),
            oauth_access_tokens: self.oauth_access_tokens.clone(),
            trusts: self.trusts.clone(),
            revocations: self.revocations.clone(),
            regions: self.regions.clone(),
            services: self.services.clone(),
            endpoints: self.endpoints.clone(),
            endpoint_groups: self.endpoint_groups.clone(),
            project_endpoints: self.project_endpoints.clone(),
            project_endpoint_groups: self.project_endpoint_groups.clone(),
            admin_project_id,
            // Effective roles depend on nothing a user row holds, and a
            // new project has no assignments, but a fresh memo is the
            // obviously safe choice.
            roles_memo: Mutex::new(HashMap::new()),
        }
    }

    /// Ancestors of a project, nearest first.
    pub fn ancestors(&self, project_id: &str) -> Vec<&Project> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut cur = self
            .projects
            .get(project_id)
            .and_then(|p| p.parent_id.as_deref());
        while let Some(id) = cur {
            if !seen.insert(id) {
                break;
            }
            match self.projects.get(id) {
                Some(p) => {
                    out.push(p);
                    cur = p.parent_id.as_deref();
                }
                None => break,
            }
        }
        out
    }

    /// Assignments that give `user_id` a role on `target`, before role
    /// implication: direct ones, through groups, and inherited ones from
    /// the project's domain and ancestors.
    pub fn assignments_for<'a>(&'a self, user_id: &str, target: &Target) -> Vec<&'a Assignment> {
        let groups: &[String] = self
            .groups_of_user
            .get(user_id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let is_actor = |a: &Assignment| match a.actor {
            ActorKind::User => a.actor_id == user_id,
            ActorKind::Group => groups.contains(&a.actor_id),
        };
        match target {
            Target::Project(pid) => {
                let Some(p) = self.projects.get(pid) else {
                    return vec![];
                };
                let ancestors: Vec<&str> =
                    self.ancestors(pid).iter().map(|p| p.id.as_str()).collect();
                self.assignments
                    .iter()
                    .filter(|a| is_actor(a))
                    .filter(|a| match a.target {
                        TargetKind::Project => {
                            (a.target_id == *pid && !a.inherited)
                                || (a.inherited && ancestors.contains(&a.target_id.as_str()))
                        }
                        TargetKind::Domain => a.inherited && a.target_id == p.domain_id,
                        TargetKind::System => false,
                    })
                    .collect()
            }
            Target::Domain(did) => self
                .assignments
                .iter()
                .filter(|a| {
                    is_actor(a)
                        && a.target == TargetKind::Domain
                        && a.target_id == *did
                        && !a.inherited
                })
                .collect(),
            Target::System => self
                .assignments
                .iter()
                .filter(|a| is_actor(a) && a.target == TargetKind::System)
                .collect(),
        }
    }

    /// `role_ids` plus every role they imply, transitively.
    pub fn expand_implied(&self, role_ids: impl IntoIterator<Item = String>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<String> = role_ids.into_iter().collect();
        while let Some(r) = stack.pop() {
            if out.insert(r.clone()) {
                if let Some(imp) = self.implied.get(&r) {
                    stack.extend(imp.iter().cloned());
                }
            }
        }
        out
    }

    /// The global role ids `user_id` effectively holds on `target`, sorted
    /// by name. Domain-specific roles only contribute what they imply.
    pub fn effective_roles(&self, user_id: &str, target: &Target) -> Arc<Vec<String>> {
        let key = (user_id.to_string(), target.clone());
        if let Ok(memo) = self.roles_memo.lock() {
            if let Some(v) = memo.get(&key) {
                return v.clone();
            }
        }
        let direct = self
            .assignments_for(user_id, target)
            .into_iter()
            .map(|a| a.role_id.clone());
        let mut roles: Vec<String> = self
            .expand_implied(direct)
            .into_iter()
            .filter(|id| self.roles.get(id).is_some_and(|r| r.domain_id.is_none()))
            .collect();
        roles.sort_by(|a, b| self.role_name(a).cmp(self.role_name(b)));
        let v = Arc::new(roles);
        if let Ok(mut memo) = self.roles_memo.lock() {
            memo.insert(key, v.clone());
        }
        v
    }

    pub fn role_name(&self, id: &str) -> &str {
        self.roles.get(id).map(|r| r.name.as_str()).unwrap_or("")
    }

    /// True when a project and everything it depends on (its domain, its
    /// ancestors) is enabled.
    pub fn project_usable(&self, id: &str) -> bool {
        let Some(p) = self.projects.get(id) else {
            return false;
        };
        p.enabled
            && self.domains.get(&p.domain_id).is_some_and(|d| d.enabled)
            && self.ancestors(id).iter().all(|a| a.enabled)
    }

    pub fn user_usable(&self, id: &str) -> bool {
        self.users
            .get(id)
            .is_some_and(|u| u.enabled && self.domains.get(&u.domain_id).is_some_and(|d| d.enabled))
    }

    /// Keystone's revocation model: an event revokes a token when each of
    /// its set fields matches the token and the token was issued at or
    /// before the event's `issued_before`.
    pub fn is_revoked(
        &self,
        user_id: &str,
        project_id: Option<&str>,
        domain_ids: &[&str],
        audit_id: Option<&str>,
        issued_at: i64,
    ) -> bool {
        self.revocations.iter().any(|e| {
            issued_at <= e.issued_before
                && e.user_id.as_deref().is_none_or(|u| u == user_id)
                && e.project_id
                    .as_deref()
                    .is_none_or(|p| Some(p) == project_id)
                && e.domain_id
                    .as_deref()
                    .is_none_or(|d| domain_ids.contains(&d))
                && e.audit_id.as_deref().is_none_or(|a| Some(a) == audit_id)
        })
    }

    /// The service catalog, with `%(project_id)s`-style URL templates filled
    /// in for a project scope (endpoints that need a project are left out
    /// of other scopes, as Keystone does).
    pub fn catalog(&self, project_id: Option<&str>) -> Vec<CatalogService<'_>> {
        let mut out = Vec::new();
        let only = project_id.and_then(|p| self.endpoint_filter(p));
        for s in self.services.iter().filter(|s| s.enabled) {
            let mut endpoints = Vec::new();
            for e in self.endpoints.iter().filter(|e| {
                e.enabled
                    && e.service_id == s.id
                    && only.as_ref().is_none_or(|ids| ids.contains(&e.id))
            }) {
                let Some(url) = substitute(&e.url, project_id) else {
                    continue;
                };
                endpoints.push((e, url));
            }
            // A filtered catalog leaves out the services it filtered away.
            if only.is_some() && endpoints.is_empty() {
                continue;
            }
            out.push(CatalogService {
                service: s,
                endpoints,
            });
        }
        out
    }
}

/// One service of a catalog, with its endpoints and their URLs filled in.
pub struct CatalogService<'a> {
    pub service: &'a Service,
    pub endpoints: Vec<(&'a Endpoint, String)>,
}

/// Fills `%(tenant_id)s`, `%(project_id)s` and `$(…)s` templates; `None`
/// when the URL needs a project and there is none.
pub fn substitute(url: &str, project_id: Option<&str>) -> Option<String> {
    const KEYS: [&str; 4] = [
        "%(tenant_id)s",
        "%(project_id)s",
        "$(tenant_id)s",
        "$(project_id)s",
    ];
    if !KEYS.iter().any(|k| url.contains(k)) {
        return Some(url.to_string());
    }
    let pid = project_id?;
    let mut u = url.to_string();
    for k in KEYS {
        u = u.replace(k, pid);
    }
    Some(u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn role(id: &str, name: &str) -> Role {
        Role {
            id: id.into(),
            name: name.into(),
            domain_id: None,
            description: String::new(),
            options: Map::new(),
            extra: Map::new(),
        }
    }

    fn project(id: &str, parent: Option<&str>) -> Project {
        Project {
            id: id.into(),
            name: id.into(),
            domain_id: "d".into(),
            parent_id: parent.map(str::to_string),
            description: String::new(),
            enabled: true,
            extra: Map::new(),
            created_at: 0,
            tags: vec![],
        }
    }

    fn assign(
        actor: ActorKind,
        actor_id: &str,
        target: TargetKind,
        tid: &str,
        role: &str,
        inh: bool,
    ) -> Assignment {
        Assignment {
            actor,
            actor_id: actor_id.into(),
            target,
            target_id: tid.into(),
            role_id: role.into(),
            inherited: inh,
        }
    }

    fn snap() -> Snapshot {
        let mut s = Snapshot::default();
        for r in [
            role("a", "admin"),
            role("m", "member"),
            role("r", "reader"),
            role("x", "extra"),
        ] {
            s.roles.insert(r.id.clone(), r);
        }
        s.implied.insert("a".into(), vec!["m".into()]);
        s.implied.insert("m".into(), vec!["r".into()]);
        for p in [
            project("top", None),
            project("mid", Some("top")),
            project("leaf", Some("mid")),
        ] {
            s.projects.insert(p.id.clone(), p);
        }
        s.groups_of_user.insert("u".into(), vec!["g".into()]);
        s.assignments = imbl::vector![
            assign(ActorKind::User, "u", TargetKind::Project, "top", "m", false),
            assign(ActorKind::Group, "g", TargetKind::Project, "mid", "x", true),
            assign(ActorKind::User, "u", TargetKind::Domain, "d", "a", true),
            assign(
                ActorKind::User,
                "other",
                TargetKind::Project,
                "leaf",
                "a",
                false,
            ),
            assign(
                ActorKind::User,
                "u",
                TargetKind::System,
                "system",
                "r",
                false,
            ),
        ];
        s
    }

    fn names(s: &Snapshot, ids: &[String]) -> Vec<String> {
        ids.iter().map(|i| s.role_name(i).to_string()).collect()
    }

    #[test]
    fn implied_roles_expand_transitively() {
        let s = snap();
        assert_eq!(
            s.expand_implied(["a".to_string()])
                .into_iter()
                .collect::<Vec<_>>(),
            vec!["a", "m", "r"]
        );
    }

    #[test]
    fn direct_group_and_inherited_assignments() {
        let s = snap();
        // top: direct member (+reader) and the domain's inherited admin.
        let top = s.effective_roles("u", &Target::Project("top".into()));
        assert_eq!(names(&s, &top), vec!["admin", "member", "reader"]);
        // leaf: inherited from the domain and, through the group, from mid.
        let leaf = s.effective_roles("u", &Target::Project("leaf".into()));
        assert_eq!(names(&s, &leaf), vec!["admin", "extra", "member", "reader"]);
        // mid's own inherited grant does not apply to mid itself.
        let mid = s.effective_roles("u", &Target::Project("mid".into()));
        assert!(!names(&s, &mid).contains(&"extra".to_string()));
        // inherited domain grants give nothing on the domain itself.
        assert!(s
            .effective_roles("u", &Target::Domain("d".into()))
            .is_empty());
        assert_eq!(
            names(&s, &s.effective_roles("u", &Target::System)),
            vec!["reader"]
        );
        assert!(s
            .effective_roles("nobody", &Target::Project("top".into()))
            .is_empty());
    }

    #[test]
    fn a_successor_carries_the_change_and_everything_else() {
        let mut s = snap();
        s.revision = 4;
        let u = User {
            id: "new".into(),
            name: "n".into(),
            domain_id: "d".into(),
            enabled: true,
            default_project_id: None,
            password_hash: None,
            password_created_at: None,
            password_expires_at: None,
            extra: Map::new(),
            options: Map::new(),
            created_at: 0,
        };
        let next = s.successor(5, Change::User(u.clone()));
        assert_eq!(next.revision, 5);
        assert_eq!(next.users.get("new"), Some(&u));
        assert!(s.users.is_empty(), "the old view is unchanged");
        assert_eq!(next.assignments.len(), s.assignments.len());
        assert_eq!(
            names(
                &next,
                &next.effective_roles("u", &Target::Project("top".into()))
            ),
            vec!["admin", "member", "reader"]
        );
    }

    #[test]
    fn revocation_matching() {
        let mut s = snap();
        s.revocations = vec![
            RevocationEvent {
                user_id: Some("u".into()),
                issued_before: 100,
                ..Default::default()
            },
            RevocationEvent {
                audit_id: Some("A".into()),
                issued_before: 500,
                ..Default::default()
            },
            RevocationEvent {
                user_id: Some("v".into()),
                project_id: Some("p".into()),
                issued_before: 500,
                ..Default::default()
            },
        ];
        assert!(s.is_revoked("u", None, &[], None, 100));
        assert!(
            !s.is_revoked("u", None, &[], None, 101),
            "issued after the event"
        );
        assert!(s.is_revoked("w", None, &[], Some("A"), 10));
        assert!(!s.is_revoked("w", None, &[], Some("B"), 10));
        assert!(s.is_revoked("v", Some("p"), &[], None, 10));
        assert!(
            !s.is_revoked("v", Some("q"), &[], None, 10),
            "other project unaffected"
        );
    }

    #[test]
    fn url_templates() {
        assert_eq!(
            substitute("http://h/v1/AUTH_%(project_id)s", Some("p")).unwrap(),
            "http://h/v1/AUTH_p"
        );
        assert_eq!(
            substitute("http://h/v2.1/$(tenant_id)s", Some("p")).unwrap(),
            "http://h/v2.1/p"
        );
        assert_eq!(substitute("http://h/v1/AUTH_%(project_id)s", None), None);
        assert_eq!(
            substitute("http://h:5000/v3", None).unwrap(),
            "http://h:5000/v3"
        );
    }
}

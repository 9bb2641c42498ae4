//! Role grants (`/v3/{projects,domains,system}/…/roles/…`) and the
//! `/v3/role_assignments` report, including its `effective` form where
//! group memberships, inheritance and role implications are expanded.

use super::policy_target::{PolicyTarget, Ref};
use super::snapshot::Snapshot;
use super::Identity;
use crate::db::assignments::{ActorKind, Assignment, TargetKind};
use crate::db::roles::Role;
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use std::collections::{BTreeSet, HashMap};

/// A grant's target as named in the URL.
#[derive(Debug, Clone)]
pub enum GrantTarget {
    Project(String),
    Domain(String),
    System,
}

impl Identity {
    async fn grant_check_refs(
        &self,
        actor: ActorKind,
        actor_id: &str,
        target: &GrantTarget,
    ) -> Result<PolicyTarget> {
        let pool = &self.db.pool;
        let domain_id = match target {
            GrantTarget::Project(p) => Some(
                crate::db::projects::get(pool, p)
                    .await?
                    .ok_or_else(|| super::projects::not_found(p))?
                    .domain_id,
            ),
            GrantTarget::Domain(d) => {
                crate::db::domains::get(pool, d)
                    .await?
                    .ok_or_else(|| super::domains::not_found(d))?;
                Some(d.clone())
            }
            GrantTarget::System => None,
        };
        match actor {
            ActorKind::User => {
                crate::db::users::get(pool, actor_id)
                    .await?
                    .ok_or_else(|| super::users::not_found(actor_id))?;
            }
            ActorKind::Group => {
                crate::db::groups::get(pool, actor_id)
                    .await?
                    .ok_or_else(|| super::groups::not_found(actor_id))?;
            }
        }
        Ok(PolicyTarget::none()
            .within(domain_id.as_deref())
            .project(Ref::in_domain(domain_id.as_deref()))
            .domain_id(domain_id.as_deref()))
    }

    fn grant_action(target: &GrantTarget, actor: ActorKind, verb: &str) -> String {
        match target {
            GrantTarget::System => {
                let who = if actor == ActorKind::User {
                    "user"
                } else {
                    "group"
                };
                match verb {
                    "list" => format!("identity:list_system_grants_for_{who}"),
                    "check" => format!("identity:check_system_grant_for_{who}"),
                    "create" => format!("identity:create_system_grant_for_{who}"),
                    _ => format!("identity:revoke_system_grant_for_{who}"),
                }
            }
            _ => match verb {
                "list" => "identity:list_grants".into(),
                "check" => "identity:check_grant".into(),
                "create" => "identity:create_grant".into(),
                _ => "identity:revoke_grant".into(),
            },
        }
    }

    fn assignment(
        actor: ActorKind,
        actor_id: &str,
        target: &GrantTarget,
        role_id: &str,
        inherited: bool,
    ) -> Assignment {
        let (t, tid) = match target {
            GrantTarget::Project(p) => (TargetKind::Project, p.clone()),
            GrantTarget::Domain(d) => (TargetKind::Domain, d.clone()),
            GrantTarget::System => (TargetKind::System, "system".to_string()),
        };
        Assignment {
            actor,
            actor_id: actor_id.to_string(),
            target: t,
            target_id: tid,
            role_id: role_id.to_string(),
            inherited,
        }
    }

    /// `PUT …/roles/{role}`: idempotent.
    pub async fn create_grant(
        &self,
        ctx: &AuthContext,
        actor: ActorKind,
        actor_id: &str,
        target: &GrantTarget,
        role_id: &str,
        inherited: bool,
    ) -> Result<()> {
        let t = self.grant_check_refs(actor, actor_id, target).await?;
        self.enforce(ctx, &Self::grant_action(target, actor, "create"), t)?;
        let role = crate::db::roles::get(&self.db.pool, role_id)
            .await?
            .ok_or_else(|| super::roles::not_found(role_id))?;
        if let (Some(rd), GrantTarget::Project(_) | GrantTarget::Domain(_)) =
            (&role.domain_id, target)
        {
            let td = match target {
                GrantTarget::Project(p) => crate::db::projects::get(&self.db.pool, p)
                    .await?
                    .map(|p| p.domain_id),
                GrantTarget::Domain(d) => Some(d.clone()),
                GrantTarget::System => None,
            };
            if td.as_ref() != Some(rd) {
                return Err(Error::forbidden(
                    "A domain-specific role may only be granted within its own domain.",
                ));
            }
        }
        let mut tx = self.begin().await?;
        let a = Self::assignment(actor, actor_id, target, role_id, inherited);
        crate::db::assignments::insert(tx.conn(), &a).await?;
        // The assignment row is the whole change.
        self.commit_change(tx, Some(super::snapshot::Change::Grant(a)))
            .await
    }

    /// `HEAD|GET …/roles/{role}`: 204 or 404.
    pub async fn check_grant(
        &self,
        ctx: &AuthContext,
        actor: ActorKind,
        actor_id: &str,
        target: &GrantTarget,
        role_id: &str,
        inherited: bool,
    ) -> Result<()> {
        let t = self.grant_check_refs(actor, actor_id, target).await?;
        self.enforce(ctx, &Self::grant_action(target, actor, "check"), t)?;
        crate::db::roles::get(&self.db.pool, role_id)
            .await?
            .ok_or_else(|| super::roles::not_found(role_id))?;
        let a = Self::assignment(actor, actor_id, target, role_id, inherited);
        if crate::db::assignments::exists(&self.db.pool, &a).await? {
            Ok(())
        } else {
            Err(Error::not_found(format!(
                "Could not find role assignment with role: {role_id}, actor: {actor_id}."
            )))
        }
    }

    /// `DELETE …/roles/{role}`.
    pub async fn revoke_grant(
        &self,
        ctx: &AuthContext,
        actor: ActorKind,
        actor_id: &str,
        target: &GrantTarget,
        role_id: &str,
        inherited: bool,
    ) -> Result<()> {
        let t = self.grant_check_refs(actor, actor_id, target).await?;
        self.enforce(ctx, &Self::grant_action(target, actor, "revoke"), t)?;
        let a = Self::assignment(actor, actor_id, target, role_id, inherited);
        let mut tx = self.begin().await?;
        if crate::db::assignments::delete(tx.conn(), &a).await? == 0 {
            return Err(Error::not_found(format!(
                "Could not find role assignment with role: {role_id}, actor: {actor_id}."
            )));
        }
        // The row is the whole change: tokens lose the role on their next
        // validation, with no revocation event.
        self.commit_change(tx, Some(super::snapshot::Change::Revoke(a)))
            .await
    }

    /// `GET …/roles`: the roles granted directly to the actor on the target.
    pub async fn list_grants(
        &self,
        ctx: &AuthContext,
        actor: ActorKind,
        actor_id: &str,
        target: &GrantTarget,
        inherited: bool,
    ) -> Result<Vec<Role>> {
        let t = self.grant_check_refs(actor, actor_id, target).await?;
        self.enforce(ctx, &Self::grant_action(target, actor, "list"), t)?;
        let probe = Self::assignment(actor, actor_id, target, "", inherited);
        let snap = self.view().await?;
        let mut roles: Vec<Role> = snap
            .assignments
            .iter()
            .filter(|a| {
                a.actor == probe.actor
                    && a.actor_id == probe.actor_id
                    && a.target == probe.target
                    && a.target_id == probe.target_id
                    && a.inherited == inherited
            })
            .filter_map(|a| snap.roles.get(&a.role_id).cloned())
            .collect();
        roles.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(roles)
    }

    /// `GET /v3/role_assignments`.
    pub async fn list_role_assignments(
        &self,
        ctx: &AuthContext,
        q: &QueryMap,
    ) -> Result<Vec<RoleAssignment>> {
        let scope_domain = q.get("scope.domain.id");
        let tree = q.flag("include_subtree")?.unwrap_or(false);
        if tree {
            let pid = q
                .get("scope.project.id")
                .ok_or_else(|| Error::bad_request("include_subtree requires scope.project.id."))?;
            self.enforce(
                ctx,
                "identity:list_role_assignments_for_tree",
                PolicyTarget::none().project(Ref::id(pid)),
            )?;
        } else {
            self.enforce(
                ctx,
                "identity:list_role_assignments",
                PolicyTarget::none()
                    .within(scope_domain)
                    .domain_id(scope_domain),
            )?;
        }
        let effective = q.flag("effective")?.unwrap_or(false);
        let names = q.flag("include_names")?.unwrap_or(false);
        if effective && q.has("group.id") {
            return Err(Error::bad_request(
                "Combining effective and group filter will always result in an empty list.",
            ));
        }
        let snap = self.view().await?;
        let rows = if effective {
            effective_rows(&snap)
        } else {
            direct_rows(&snap)
        };
        let inherited_filter = q.get("scope.OS-INHERIT:inherited_to");
        let project_filter: Option<Vec<String>> = q.get("scope.project.id").map(|p| {
            let mut v = vec![p.to_string()];
            if tree {
                v.extend(descendants(&snap, p));
            }
            v
        });
        let system_filter = q.get("scope.system");
        // Groups are not in the token-validation view (validation needs
        // only memberships), so their names come from the store, once per
        // listing and only when names were asked for.
        let group_names: HashMap<String, (String, String)> = if names {
            crate::db::groups::list(&self.db.pool)
                .await?
                .into_iter()
                .map(|g| (g.id, (g.name, g.domain_id)))
                .collect()
        } else {
            HashMap::new()
        };
        let mut out = Vec::new();
        for r in rows {
            let keep = q
                .get("user.id")
                .is_none_or(|u| r.actor == ActorKind::User && r.actor_id == u)
                && q.get("group.id")
                    .is_none_or(|g| r.actor == ActorKind::Group && r.actor_id == g)
                && q.get("role.id").is_none_or(|x| r.role_id == x)
                && project_filter
                    .as_ref()
                    .is_none_or(|ps| r.target == TargetKind::Project && ps.contains(&r.target_id))
                && scope_domain.is_none_or(|d| r.target == TargetKind::Domain && r.target_id == d)
                && system_filter.is_none_or(|_| r.target == TargetKind::System)
                && inherited_filter.is_none_or(|_| r.inherited);
            if keep {
                out.push(resolve(&snap, &group_names, r, names));
            }
        }
        Ok(out)
    }
}

/// Assignment rows as stored, plus where an effective row came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Row {
    pub actor: ActorKind,
    pub actor_id: String,
    pub target: TargetKind,
    pub target_id: String,
    pub role_id: String,
    pub inherited: bool,
    /// For an effective row: the group whose grant it expands.
    pub via_group: Option<String>,
    /// For an effective row from a role implication: the role granted.
    pub prior_role: Option<String>,
}

/// One row of the `/v3/role_assignments` report, with the names of what
/// it references when the caller asked for them (`include_names`).
#[derive(Debug, Clone)]
pub struct RoleAssignment {
    pub row: Row,
    /// The role's, when names were asked for and the role exists.
    pub role: Option<Named>,
    /// The user's or group's.
    pub actor: Option<Named>,
    /// The project's or domain's (not the system's).
    pub target: Option<Named>,
}

/// A referenced resource's name and, where it has one, its domain (the
/// domain's name is `None` when the domain is gone).
#[derive(Debug, Clone)]
pub struct Named {
    pub name: String,
    pub domain: Option<(String, Option<String>)>,
}

fn direct_rows(snap: &Snapshot) -> Vec<Row> {
    snap.assignments
        .iter()
        .map(|a| Row {
            actor: a.actor,
            actor_id: a.actor_id.clone(),
            target: a.target,
            target_id: a.target_id.clone(),
            role_id: a.role_id.clone(),
            inherited: a.inherited,
            via_group: None,
            prior_role: None,
        })
        .collect()
}

fn descendants(snap: &Snapshot, pid: &str) -> Vec<String> {
    snap.projects
        .values()
        .filter(|p| snap.ancestors(&p.id).iter().any(|a| a.id == pid))
        .map(|p| p.id.clone())
        .collect()
}

/// What each user effectively holds where: groups become their members,
/// inherited grants land on the projects below, implied roles are added.
fn effective_rows(snap: &Snapshot) -> Vec<Row> {
    let mut set: BTreeSet<Row> = BTreeSet::new();
    for a in &snap.assignments {
        let users: Vec<(String, Option<String>)> = match a.actor {
            ActorKind::User => vec![(a.actor_id.clone(), None)],
            ActorKind::Group => snap
                .groups_of_user
                .iter()
                .filter(|(_, gs)| gs.contains(&a.actor_id))
                .map(|(u, _)| (u.clone(), Some(a.actor_id.clone())))
                .collect(),
        };
        let targets: Vec<(TargetKind, String)> = if a.inherited {
            match a.target {
                TargetKind::Domain => snap
                    .projects
                    .values()
                    .filter(|p| p.domain_id == a.target_id)
                    .map(|p| (TargetKind::Project, p.id.clone()))
                    .collect(),
                TargetKind::Project => descendants(snap, &a.target_id)
                    .into_iter()
                    .map(|p| (TargetKind::Project, p))
                    .collect(),
                TargetKind::System => vec![(TargetKind::System, a.target_id.clone())],
            }
        } else {
            vec![(a.target, a.target_id.clone())]
        };
        let roles = snap.expand_implied([a.role_id.clone()]);
        for (u, via) in &users {
            for (tk, tid) in &targets {
                for r in &roles {
                    if snap.roles.get(r).is_some_and(|x| x.domain_id.is_some()) {
                        continue;
                    }
                    set.insert(Row {
                        actor: ActorKind::User,
                        actor_id: u.clone(),
                        target: *tk,
                        target_id: tid.clone(),
                        role_id: r.clone(),
                        inherited: false,
                        via_group: via.clone(),
                        prior_role: (r != &a.role_id).then(|| a.role_id.clone()),
                    });
                }
            }
        }
    }
    set.into_iter().collect()
}

/// One assignment with, when `names`, every reference (role, user or
/// group, project or domain) named, as `openstack role assignment list
/// --names` reads them.
fn resolve(
    snap: &Snapshot,
    group_names: &HashMap<String, (String, String)>,
    row: Row,
    names: bool,
) -> RoleAssignment {
    if !names {
        return RoleAssignment {
            row,
            role: None,
            actor: None,
            target: None,
        };
    }
    let domain = |d: &str| (d.to_string(), snap.domains.get(d).map(|x| x.name.clone()));
    let role = snap.roles.get(&row.role_id).map(|x| Named {
        name: x.name.clone(),
        domain: x.domain_id.as_deref().map(domain),
    });
    let actor = match row.actor {
        ActorKind::User => snap
            .users
            .get(&row.actor_id)
            .map(|u| (u.name.clone(), u.domain_id.clone())),
        ActorKind::Group => group_names.get(&row.actor_id).cloned(),
    }
    .map(|(name, d)| Named {
        name,
        domain: Some(domain(&d)),
    });
    let target = match row.target {
        TargetKind::Project => snap.projects.get(&row.target_id).map(|p| Named {
            name: p.name.clone(),
            domain: Some(domain(&p.domain_id)),
        }),
        TargetKind::Domain => snap.domains.get(&row.target_id).map(|d| Named {
            name: d.name.clone(),
            domain: None,
        }),
        TargetKind::System => None,
    };
    RoleAssignment {
        row,
        role,
        actor,
        target,
    }
}

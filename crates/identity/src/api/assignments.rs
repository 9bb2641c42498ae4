//! Role grants on projects, domains and the system, for users and groups
//! (`/v3/{projects,domains}/{id}/{users,groups}/{actor}/roles[/{role}]`,
//! `/v3/system/{users,groups}/{actor}/roles[/{role}]`), their OS-INHERIT
//! forms (`/v3/OS-INHERIT/{domains,projects}/…/inherited_to_projects`), and
//! `/v3/role_assignments`.

use super::State;
use crate::app::assignments::{GrantTarget, Named, RoleAssignment};
use crate::db::assignments::{ActorKind, TargetKind};
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::{BaseUrl, QueryMap};
use common::{Error, Result};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

type R = Router<Arc<crate::Identity>>;

#[derive(Clone, Copy)]
enum On {
    Project,
    Domain,
    System,
}

/// Splits the path parameters into (target, actor id, role id).
fn parts(on: On, p: &[String]) -> Result<(GrantTarget, String, Option<String>)> {
    let get = |i: usize| {
        p.get(i)
            .cloned()
            .ok_or_else(|| Error::bad_request("Missing path parameter."))
    };
    Ok(match on {
        On::Project => (GrantTarget::Project(get(0)?), get(1)?, p.get(2).cloned()),
        On::Domain => (GrantTarget::Domain(get(0)?), get(1)?, p.get(2).cloned()),
        On::System => (GrantTarget::System, get(0)?, p.get(1).cloned()),
    })
}

/// Routes for one kind of grant: `collection` lists, `item` (with
/// `{role_id}`) checks, grants and revokes. `inherited` grants are the
/// OS-INHERIT ones, which apply to the projects below the target.
fn grant_routes(
    r: R,
    on: On,
    actor: ActorKind,
    collection: &str,
    item: &str,
    inherited: bool,
) -> R {
    r.route(
        collection,
        get(
            move |S(id): State,
                  Auth(ctx): Auth,
                  BaseUrl(base): BaseUrl,
                  Path(p): Path<Vec<String>>,
                  uri: axum::http::Uri| async move {
                let (target, actor_id, _) = parts(on, &p)?;
                let roles = id
                    .list_grants(&ctx, actor, &actor_id, &target, inherited)
                    .await?;
                Ok::<_, Error>(Json(GrantedRoles {
                    roles: roles
                        .iter()
                        .map(|r| super::roles::render(r, &base))
                        .collect(),
                    links: super::ListLinks::only_self(format!("{base}{}", uri.path())),
                }))
            },
        ),
    )
    .route(
        item,
        get(
            move |S(id): State, Auth(ctx): Auth, Path(p): Path<Vec<String>>| async move {
                let (target, actor_id, role) = parts(on, &p)?;
                id.check_grant(
                    &ctx,
                    actor,
                    &actor_id,
                    &target,
                    &role.unwrap_or_default(),
                    inherited,
                )
                .await?;
                Ok::<_, Error>(StatusCode::NO_CONTENT)
            },
        )
        .head(
            move |S(id): State, Auth(ctx): Auth, Path(p): Path<Vec<String>>| async move {
                let (target, actor_id, role) = parts(on, &p)?;
                id.check_grant(
                    &ctx,
                    actor,
                    &actor_id,
                    &target,
                    &role.unwrap_or_default(),
                    inherited,
                )
                .await?;
                Ok::<_, Error>(StatusCode::NO_CONTENT)
            },
        )
        .put(
            move |S(id): State, Auth(ctx): Auth, Path(p): Path<Vec<String>>| async move {
                let (target, actor_id, role) = parts(on, &p)?;
                id.create_grant(
                    &ctx,
                    actor,
                    &actor_id,
                    &target,
                    &role.unwrap_or_default(),
                    inherited,
                )
                .await?;
                Ok::<_, Error>(StatusCode::NO_CONTENT)
            },
        )
        .delete(
            move |S(id): State, Auth(ctx): Auth, Path(p): Path<Vec<String>>| async move {
                let (target, actor_id, role) = parts(on, &p)?;
                id.revoke_grant(
                    &ctx,
                    actor,
                    &actor_id,
                    &target,
                    &role.unwrap_or_default(),
                    inherited,
                )
                .await?;
                Ok::<_, Error>(StatusCode::NO_CONTENT)
            },
        ),
    )
}

/// The roles granted to an actor on a target (the list is not paged).
#[derive(Serialize, ToSchema)]
pub struct GrantedRoles {
    pub roles: Vec<super::roles::RoleBody>,
    pub links: super::ListLinks,
}

/// One kind of grant: where its collection and item routes are and what
/// they act on. The router and the OpenAPI document are both built from
/// [`grant_kinds`].
struct GrantKind {
    on: On,
    actor: ActorKind,
    collection: String,
    item: String,
    inherited: bool,
}

fn grant_kinds() -> Vec<GrantKind> {
    let mut out = Vec::new();
    for (on, prefix) in [
        (On::Project, "/v3/projects/{id}"),
        (On::Domain, "/v3/domains/{id}"),
        (On::System, "/v3/system"),
    ] {
        for (actor, who) in [(ActorKind::User, "users"), (ActorKind::Group, "groups")] {
            let c = format!("{prefix}/{who}/{{actor_id}}/roles");
            out.push(GrantKind {
                on,
                actor,
                item: format!("{c}/{{role_id}}"),
                collection: c,
                inherited: false,
            });
        }
    }
    // OS-INHERIT: grants on a domain or project that apply to every project
    // below it (`openstack role add --inherited`).
    for (on, prefix) in [
        (On::Project, "/v3/OS-INHERIT/projects/{id}"),
        (On::Domain, "/v3/OS-INHERIT/domains/{id}"),
    ] {
        for (actor, who) in [(ActorKind::User, "users"), (ActorKind::Group, "groups")] {
            let c = format!("{prefix}/{who}/{{actor_id}}/roles");
            out.push(GrantKind {
                on,
                actor,
                collection: format!("{c}/inherited_to_projects"),
                item: format!("{c}/{{role_id}}/inherited_to_projects"),
                inherited: true,
            });
        }
    }
    out
}

pub fn routes() -> R {
    let mut r: R = Router::new().route("/v3/role_assignments", get(role_assignments));
    for g in grant_kinds() {
        r = grant_routes(r, g.on, g.actor, &g.collection, &g.item, g.inherited);
    }
    r
}

/// Adds the grant routes to the OpenAPI document.
pub(crate) fn document(paths: &mut utoipa::openapi::Paths) {
    use utoipa::openapi::HttpMethod;
    let errors = super::COMMON_ERRORS;
    for g in grant_kinds() {
        let name = g
            .collection
            .trim_start_matches("/v3/")
            .replace(['{', '}'], "")
            .replace(['/', '-'], "_");
        let params: Vec<&str> = ["id", "actor_id", "role_id"]
            .into_iter()
            .filter(|p| g.item.contains(&format!("{{{p}}}")))
            .collect();
        let collection_params: Vec<&str> =
            params.iter().copied().filter(|p| *p != "role_id").collect();
        let ok = [(200, "The granted roles", Some("GrantedRoles"))];
        paths.add_path_operation(
            &g.collection,
            vec![HttpMethod::Get],
            super::operation(
                &format!("assignments_list_{name}"),
                "assignments",
                &collection_params,
                &[ok.as_slice(), errors.as_slice()].concat(),
            ),
        );
        let done = [(204, "No Content", None)];
        for (method, verb) in [
            (HttpMethod::Get, "check"),
            (HttpMethod::Head, "check_head"),
            (HttpMethod::Put, "grant"),
            (HttpMethod::Delete, "revoke"),
        ] {
            paths.add_path_operation(
                &g.item,
                vec![method],
                super::operation(
                    &format!("assignments_{verb}_{name}"),
                    "assignments",
                    &params,
                    &[done.as_slice(), errors.as_slice()].concat(),
                ),
            );
        }
    }
}

#[utoipa::path(
    get,
    path = "/v3/role_assignments",
    operation_id = "assignments_role_assignments",
    tag = "assignments",
    responses(
        (status = 200, description = "OK", body = RoleAssignmentsBody),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
pub(crate) async fn role_assignments(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<RoleAssignmentsBody>> {
    let items = id.list_role_assignments(&ctx, &q).await?;
    let own = if q.0.is_empty() {
        String::new()
    } else {
        format!("?{}", raw_query(&q))
    };
    Ok(Json(RoleAssignmentsBody {
        role_assignments: items.iter().map(|a| render(a, &base)).collect(),
        links: super::ListLinks::only_self(format!("{base}/v3/role_assignments{own}")),
    }))
}

/// `GET /v3/role_assignments`.
#[derive(Serialize, ToSchema)]
pub struct RoleAssignmentsBody {
    pub role_assignments: Vec<RoleAssignmentBody>,
    pub links: super::ListLinks,
}

/// One role assignment: the role, exactly one of `user` and `group`, the
/// scope and links to the grant (and, for an effective row, to the group
/// membership and the implying role it comes from).
#[derive(Serialize, ToSchema)]
pub struct RoleAssignmentBody {
    pub role: Reference,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Reference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<Reference>,
    pub scope: AssignmentScope,
    pub links: AssignmentLinks,
}

/// A referenced resource: its id, and with `include_names` its name and
/// domain.
#[derive(Serialize, ToSchema)]
pub struct Reference {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainName>,
}

/// A domain reference; `name` is null when the domain is gone.
#[derive(Serialize, ToSchema)]
pub struct DomainName {
    pub id: String,
    pub name: Option<String>,
}

/// Exactly one of `project`, `domain` and `system`.
#[derive(Serialize, ToSchema)]
pub struct AssignmentScope {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<Reference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<Reference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<super::auth::SystemScope>,
    /// `"projects"` for an OS-INHERIT grant.
    #[serde(
        rename = "OS-INHERIT:inherited_to",
        skip_serializing_if = "Option::is_none"
    )]
    pub inherited_to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AssignmentLinks {
    pub assignment: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub membership: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prior_role: Option<String>,
}

fn reference(id: &str, named: Option<&Named>) -> Reference {
    Reference {
        id: id.to_string(),
        name: named.map(|n| n.name.clone()),
        domain: named
            .and_then(|n| n.domain.as_ref())
            .map(|(id, name)| DomainName {
                id: id.clone(),
                name: name.clone(),
            }),
    }
}

fn render(a: &RoleAssignment, base: &str) -> RoleAssignmentBody {
    let r = &a.row;
    let actor = reference(&r.actor_id, a.actor.as_ref());
    let (user, group, actor_path) = match r.actor {
        ActorKind::User => (Some(actor), None, "users"),
        ActorKind::Group => (None, Some(actor), "groups"),
    };
    let target = || Some(reference(&r.target_id, a.target.as_ref()));
    let (scope, target_path) = match r.target {
        TargetKind::Project => (
            AssignmentScope {
                project: target(),
                domain: None,
                system: None,
                inherited_to: r.inherited.then(|| "projects".to_string()),
            },
            format!("projects/{}", r.target_id),
        ),
        TargetKind::Domain => (
            AssignmentScope {
                project: None,
                domain: target(),
                system: None,
                inherited_to: r.inherited.then(|| "projects".to_string()),
            },
            format!("domains/{}", r.target_id),
        ),
        // System grants are never inherited.
        TargetKind::System => (
            AssignmentScope {
                project: None,
                domain: None,
                system: Some(super::auth::SystemScope { all: true }),
                inherited_to: None,
            },
            "system".to_string(),
        ),
    };
    let granted = r.prior_role.as_deref().unwrap_or(&r.role_id);
    let links = match &r.via_group {
        Some(g) => AssignmentLinks {
            assignment: format!("{base}/v3/{target_path}/groups/{g}/roles/{granted}"),
            membership: Some(format!("{base}/v3/groups/{g}/users/{}", r.actor_id)),
            prior_role: None,
        },
        None => AssignmentLinks {
            assignment: format!(
                "{base}/v3/{target_path}/{actor_path}/{}/roles/{granted}",
                r.actor_id
            ),
            membership: None,
            prior_role: None,
        },
    };
    RoleAssignmentBody {
        role: reference(&r.role_id, a.role.as_ref()),
        user,
        group,
        scope,
        links: AssignmentLinks {
            prior_role: r
                .prior_role
                .as_ref()
                .map(|p| format!("{base}/v3/roles/{p}")),
            ..links
        },
    }
}

fn raw_query(q: &QueryMap) -> String {
    q.0.iter()
        .map(|(k, v)| {
            if v.is_empty() {
                k.clone()
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

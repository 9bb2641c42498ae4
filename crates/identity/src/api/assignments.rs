//! Role grants on projects, domains and the system, for users and groups
//! (`/v3/{projects,domains}/{id}/{users,groups}/{actor}/roles[/{role}]`,
//! `/v3/system/{users,groups}/{actor}/roles[/{role}]`), their OS-INHERIT
//! forms (`/v3/OS-INHERIT/{domains,projects}/…/inherited_to_projects`), and
//! `/v3/role_assignments`.

use super::State;
use crate::app::assignments::GrantTarget;
use crate::db::assignments::ActorKind;
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::{BaseUrl, QueryMap};
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;

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
        get(move |S(id): State, Auth(ctx): Auth, BaseUrl(base): BaseUrl, Path(p): Path<Vec<String>>, uri: axum::http::Uri| async move {
            let (target, actor_id, _) = parts(on, &p)?;
            let roles = id.list_grants(&ctx, actor, &actor_id, &target, inherited).await?;
            let items: Vec<Value> = roles.iter().map(|r| super::roles::render(r, &base)).collect();
            Ok::<_, Error>(Json(json!({
                "roles": items,
                "links": {"self": format!("{base}{}", uri.path()), "previous": null, "next": null},
            })))
        }),
    )
    .route(
        item,
        get(move |S(id): State, Auth(ctx): Auth, Path(p): Path<Vec<String>>| async move {
            let (target, actor_id, role) = parts(on, &p)?;
            id.check_grant(&ctx, actor, &actor_id, &target, &role.unwrap_or_default(), inherited).await?;
            Ok::<_, Error>(StatusCode::NO_CONTENT)
        })
        .head(move |S(id): State, Auth(ctx): Auth, Path(p): Path<Vec<String>>| async move {
            let (target, actor_id, role) = parts(on, &p)?;
            id.check_grant(&ctx, actor, &actor_id, &target, &role.unwrap_or_default(), inherited).await?;
            Ok::<_, Error>(StatusCode::NO_CONTENT)
        })
        .put(move |S(id): State, Auth(ctx): Auth, Path(p): Path<Vec<String>>| async move {
            let (target, actor_id, role) = parts(on, &p)?;
            id.create_grant(&ctx, actor, &actor_id, &target, &role.unwrap_or_default(), inherited).await?;
            Ok::<_, Error>(StatusCode::NO_CONTENT)
        })
        .delete(move |S(id): State, Auth(ctx): Auth, Path(p): Path<Vec<String>>| async move {
            let (target, actor_id, role) = parts(on, &p)?;
            id.revoke_grant(&ctx, actor, &actor_id, &target, &role.unwrap_or_default(), inherited).await?;
            Ok::<_, Error>(StatusCode::NO_CONTENT)
        }),
    )
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
        let ok = [(200, "The granted roles", true)];
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
        let done = [(204, "No Content", false)];
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
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
pub(crate) async fn role_assignments(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    let items = id.list_role_assignments(&ctx, &q, &base).await?;
    let own = if q.0.is_empty() {
        String::new()
    } else {
        format!("?{}", raw_query(&q))
    };
    Ok(Json(json!({
        "role_assignments": items,
        "links": {"self": format!("{base}/v3/role_assignments{own}"), "previous": null, "next": null},
    })))
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

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

pub fn routes() -> R {
    let mut r: R = Router::new().route("/v3/role_assignments", get(role_assignments));
    for (on, prefix) in [
        (On::Project, "/v3/projects/{id}"),
        (On::Domain, "/v3/domains/{id}"),
        (On::System, "/v3/system"),
    ] {
        for (actor, who) in [(ActorKind::User, "users"), (ActorKind::Group, "groups")] {
            let c = format!("{prefix}/{who}/{{actor_id}}/roles");
            r = grant_routes(r, on, actor, &c, &format!("{c}/{{role_id}}"), false);
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
            r = grant_routes(
                r,
                on,
                actor,
                &format!("{c}/inherited_to_projects"),
                &format!("{c}/{{role_id}}/inherited_to_projects"),
                true,
            );
        }
    }
    r
}

async fn role_assignments(
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

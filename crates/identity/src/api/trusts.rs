//! `/v3/OS-TRUST/trusts[/{id}[/roles[/{role}]]]`.

use super::{created, envelope, extra_without, page_of, SelfLink, State};
use crate::app::snapshot::Snapshot;
use crate::app::trusts::TrustInput;
use crate::db::trusts::Trust;
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::{BaseUrl, JsonBody, QueryMap};
use common::{Error, Result};
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use utoipa::ToSchema;

pub fn routes() -> Router<Arc<crate::Identity>> {
    Router::new()
        .route("/v3/OS-TRUST/trusts", get(list).post(create))
        .route("/v3/OS-TRUST/trusts/{id}", get(show).delete(delete))
        .route("/v3/OS-TRUST/trusts/{id}/roles", get(roles))
        .route(
            "/v3/OS-TRUST/trusts/{id}/roles/{role_id}",
            get(check_role).head(check_role),
        )
}

/// A role delegated by a trust.
#[derive(Serialize, ToSchema)]
pub struct TrustRole {
    pub id: String,
    pub name: String,
    pub domain_id: Option<String>,
    pub links: SelfLink,
}

/// A trust, with the extra attributes stored on it.
#[derive(Serialize, ToSchema)]
pub struct TrustBody {
    pub id: String,
    pub trustor_user_id: String,
    pub trustee_user_id: String,
    pub project_id: Option<String>,
    pub impersonation: bool,
    pub expires_at: Option<String>,
    pub remaining_uses: Option<i64>,
    pub allow_redelegation: bool,
    pub redelegation_count: i64,
    pub redelegated_trust_id: Option<String>,
    pub roles: Vec<TrustRole>,
    pub roles_links: super::ListLinks,
    pub links: SelfLink,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"trust": …}`.
#[derive(Serialize, ToSchema)]
pub struct TrustEnvelope {
    pub trust: TrustBody,
}

super::list_type!(TrustList, trusts, TrustBody, "A list of trusts.");

/// `GET /v3/OS-TRUST/trusts/{id}/roles`.
#[derive(Serialize, ToSchema)]
pub struct TrustRoles {
    pub roles: Vec<TrustRole>,
    pub links: super::ListLinks,
}

/// `GET /v3/OS-TRUST/trusts/{id}/roles/{role_id}`.
#[derive(Serialize, ToSchema)]
pub struct TrustRoleEnvelope {
    pub role: TrustRole,
}

fn role_refs(t: &Trust, snap: &Snapshot, base: &str) -> Vec<TrustRole> {
    t.role_ids
        .iter()
        .filter_map(|r| snap.roles.get(r))
        .map(|r| TrustRole {
            id: r.id.clone(),
            name: r.name.clone(),
            domain_id: r.domain_id.clone(),
            links: SelfLink {
                self_: format!("{base}/v3/roles/{}", r.id),
            },
        })
        .collect()
}

pub fn render(t: &Trust, snap: &Snapshot, base: &str) -> TrustBody {
    TrustBody {
        id: t.id.clone(),
        trustor_user_id: t.trustor_user_id.clone(),
        trustee_user_id: t.trustee_user_id.clone(),
        project_id: t.project_id.clone(),
        impersonation: t.impersonation,
        expires_at: t.expires_at.map(common::clock::iso_micros),
        remaining_uses: t.remaining_uses,
        allow_redelegation: t.allow_redelegation,
        redelegation_count: t.redelegation_count,
        redelegated_trust_id: t.redelegated_trust_id.clone(),
        roles: role_refs(t, snap, base),
        roles_links: super::ListLinks::only_self(format!(
            "{base}/v3/OS-TRUST/trusts/{}/roles",
            t.id
        )),
        links: SelfLink {
            self_: format!("{base}/v3/OS-TRUST/trusts/{}", t.id),
        },
        extra: extra_without(
            &t.extra,
            &[
                "id",
                "trustor_user_id",
                "trustee_user_id",
                "project_id",
                "impersonation",
                "expires_at",
                "remaining_uses",
                "allow_redelegation",
                "redelegation_count",
                "redelegated_trust_id",
                "roles",
                "roles_links",
                "links",
            ],
        ),
    }
}

#[utoipa::path(
    get,
    path = "/v3/OS-TRUST/trusts",
    operation_id = "trusts_list",
    tag = "trusts",
    responses(
        (status = 200, description = "OK", body = TrustList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<TrustList>> {
    let page = id.list_trusts(&ctx, &q).await?;
    // The view names the delegated roles.
    let snap = id.view().await?;
    Ok(Json(
        page_of(
            page.items.iter().map(|t| render(t, &snap, &base)).collect(),
            page.next_marker.as_deref(),
            &base,
            "/v3/OS-TRUST/trusts",
            &q,
        )
        .into(),
    ))
}

#[utoipa::path(
    post,
    path = "/v3/OS-TRUST/trusts",
    operation_id = "trusts_create",
    tag = "trusts",
    request_body(content = TrustCreateRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = TrustEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn create(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let input: TrustInput = envelope(body, "trust")?;
    let t = id.create_trust(&ctx, input).await?;
    let snap = id.view().await?;
    Ok(created(TrustEnvelope {
        trust: render(&t, &snap, &base),
    }))
}

#[utoipa::path(
    get,
    path = "/v3/OS-TRUST/trusts/{id}",
    operation_id = "trusts_show",
    tag = "trusts",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = TrustEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(tid): Path<String>,
) -> Result<Json<TrustEnvelope>> {
    let t = id.get_trust(&ctx, &tid).await?;
    let snap = id.view().await?;
    Ok(Json(TrustEnvelope {
        trust: render(&t, &snap, &base),
    }))
}

#[utoipa::path(
    delete,
    path = "/v3/OS-TRUST/trusts/{id}",
    operation_id = "trusts_delete",
    tag = "trusts",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete(S(id): State, Auth(ctx): Auth, Path(tid): Path<String>) -> Result<StatusCode> {
    id.delete_trust(&ctx, &tid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v3/OS-TRUST/trusts/{id}/roles",
    operation_id = "trusts_roles",
    tag = "trusts",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = TrustRoles),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn roles(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(tid): Path<String>,
) -> Result<Json<TrustRoles>> {
    let t = id.get_trust(&ctx, &tid).await?;
    let snap = id.view().await?;
    Ok(Json(TrustRoles {
        roles: role_refs(&t, &snap, &base),
        links: super::ListLinks::only_self(format!("{base}/v3/OS-TRUST/trusts/{tid}/roles")),
    }))
}

#[utoipa::path(
    method(get, head),
    path = "/v3/OS-TRUST/trusts/{id}/roles/{role_id}",
    operation_id = "trusts_check_role",
    tag = "trusts",
    params(("id" = String, Path), ("role_id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = TrustRoleEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn check_role(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path((tid, rid)): Path<(String, String)>,
) -> Result<Json<TrustRoleEnvelope>> {
    let t = id.get_trust(&ctx, &tid).await?;
    let snap = id.view().await?;
    let role = role_refs(&t, &snap, &base)
        .into_iter()
        .find(|r| r.id == rid)
        .ok_or_else(|| Error::not_found(format!("Could not find role: {rid}.")))?;
    Ok(Json(TrustRoleEnvelope { role }))
}

/// `POST /v3/OS-TRUST/trusts` body: `{"trust": …}`; the trust is the
/// parsed [`TrustInput`] itself, other attributes kept as extra ones.
#[derive(serde::Deserialize, ToSchema)]
pub struct TrustCreateRequest {
    pub trust: TrustInput,
}

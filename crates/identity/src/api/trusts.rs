//! `/v3/OS-TRUST/trusts[/{id}[/roles[/{role}]]]`.

use super::{created, envelope, list_body, with_extra, State};
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
use serde_json::{json, Value};
use std::sync::Arc;

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

fn role_refs(t: &Trust, snap: &Snapshot, base: &str) -> Vec<Value> {
    t.role_ids
        .iter()
        .filter_map(|r| snap.roles.get(r))
        .map(|r| json!({"id": r.id, "name": r.name, "domain_id": r.domain_id, "links": {"self": format!("{base}/v3/roles/{}", r.id)}}))
        .collect()
}

pub fn render(t: &Trust, snap: &Snapshot, base: &str) -> Value {
    with_extra(
        json!({
            "id": t.id,
            "trustor_user_id": t.trustor_user_id,
            "trustee_user_id": t.trustee_user_id,
            "project_id": t.project_id,
            "impersonation": t.impersonation,
            "expires_at": t.expires_at.map(common::clock::iso_micros),
            "remaining_uses": t.remaining_uses,
            "allow_redelegation": t.allow_redelegation,
            "redelegation_count": t.redelegation_count,
            "redelegated_trust_id": t.redelegated_trust_id,
            "roles": role_refs(t, snap, base),
            "roles_links": {"self": format!("{base}/v3/OS-TRUST/trusts/{}/roles", t.id), "previous": null, "next": null},
            "links": {"self": format!("{base}/v3/OS-TRUST/trusts/{}", t.id)},
        }),
        &t.extra,
    )
}

#[utoipa::path(
    get,
    path = "/v3/OS-TRUST/trusts",
    operation_id = "trusts_list",
    tag = "trusts",
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    let items = id.list_trusts(&ctx, &q).await?;
    let snap = id.view().await?;
    list_body(
        &id,
        "trusts",
        items.iter().map(|t| render(t, &snap, &base)).collect(),
        &base,
        "/v3/OS-TRUST/trusts",
        &q,
    )
}

#[utoipa::path(
    post,
    path = "/v3/OS-TRUST/trusts",
    operation_id = "trusts_create",
    tag = "trusts",
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = serde_json::Value),
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
    Ok(created(json!({"trust": render(&t, &snap, &base)})))
}

#[utoipa::path(
    get,
    path = "/v3/OS-TRUST/trusts/{id}",
    operation_id = "trusts_show",
    tag = "trusts",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(tid): Path<String>,
) -> Result<Json<Value>> {
    let t = id.get_trust(&ctx, &tid).await?;
    let snap = id.view().await?;
    Ok(Json(json!({"trust": render(&t, &snap, &base)})))
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
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn roles(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(tid): Path<String>,
) -> Result<Json<Value>> {
    let t = id.get_trust(&ctx, &tid).await?;
    let snap = id.view().await?;
    Ok(Json(json!({
        "roles": role_refs(&t, &snap, &base),
        "links": {"self": format!("{base}/v3/OS-TRUST/trusts/{tid}/roles"), "previous": null, "next": null},
    })))
}

#[utoipa::path(
    method(get, head),
    path = "/v3/OS-TRUST/trusts/{id}/roles/{role_id}",
    operation_id = "trusts_check_role",
    tag = "trusts",
    params(("id" = String, Path), ("role_id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn check_role(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path((tid, rid)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let t = id.get_trust(&ctx, &tid).await?;
    let snap = id.view().await?;
    let role = role_refs(&t, &snap, &base)
        .into_iter()
        .find(|r| r["id"] == rid.as_str())
        .ok_or_else(|| Error::not_found(format!("Could not find role: {rid}.")))?;
    Ok(Json(json!({"role": role})))
}

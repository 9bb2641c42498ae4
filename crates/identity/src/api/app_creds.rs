//! `/v3/users/{id}/application_credentials[/{cred}]` and
//! `/v3/users/{id}/access_rules[/{rule}]`.

use super::{created, envelope, list_body, State};
use crate::app::app_creds::AppCredInput;
use crate::app::snapshot::Snapshot;
use crate::db::app_creds::AppCred;
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::{BaseUrl, JsonBody, QueryMap};
use common::Result;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Identity>> {
    Router::new()
        .route(
            "/v3/users/{id}/application_credentials",
            get(list).post(create),
        )
        .route(
            "/v3/users/{id}/application_credentials/{cred_id}",
            get(show).delete(delete),
        )
        .route("/v3/users/{id}/access_rules", get(list_rules))
        .route(
            "/v3/users/{id}/access_rules/{rule_id}",
            get(show_rule).delete(delete_rule),
        )
}

pub fn render(a: &AppCred, snap: &Snapshot, base: &str) -> Value {
    let roles: Vec<Value> = a
        .role_ids
        .iter()
        .filter_map(|r| snap.roles.get(r))
        .map(|r| json!({"id": r.id, "name": r.name, "domain_id": r.domain_id}))
        .collect();
    json!({
        "id": a.id,
        "name": a.name,
        "description": a.description,
        "user_id": a.user_id,
        "project_id": a.project_id,
        "system": a.system,
        // Keystone returns the stored datetime through oslo's jsonutils:
        // microseconds, no zone (tempest compares it with `isoformat()`).
        "expires_at": a.expires_at.map(common::clock::iso_micros_naive),
        "unrestricted": a.unrestricted,
        "roles": roles,
        "access_rules": snap.app_cred_rules.get(&a.id).map(|ids| ids.iter().filter_map(|id| snap.access_rules.get(id))
            .map(|r| json!({"id": r.id, "service": r.service, "method": r.method, "path": r.path})).collect::<Vec<_>>())
            .unwrap_or_default(),
        "links": {"self": format!("{base}/v3/users/{}/application_credentials/{}", a.user_id, a.id)},
    })
}

#[utoipa::path(
    get,
    path = "/v3/users/{id}/application_credentials",
    operation_id = "app_creds_list",
    tag = "app_creds",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
    q: QueryMap,
) -> Result<Json<Value>> {
    let items = id.list_app_creds(&ctx, &uid, q.get("name")).await?;
    let snap = id.view().await?;
    let path = format!("/v3/users/{uid}/application_credentials");
    list_body(
        &id,
        "application_credentials",
        items.iter().map(|a| render(a, &snap, &base)).collect(),
        &base,
        &path,
        &q,
    )
}

#[utoipa::path(
    post,
    path = "/v3/users/{id}/application_credentials",
    operation_id = "app_creds_create",
    tag = "app_creds",
    params(("id" = String, Path)),
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
    Path(uid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let input: AppCredInput = envelope(body, "application_credential")?;
    let (cred, secret) = id.create_app_cred(&ctx, &uid, input).await?;
    let snap = id.view().await?;
    let mut v = render(&cred, &snap, &base);
    v["secret"] = json!(secret);
    Ok(created(json!({"application_credential": v})))
}

#[utoipa::path(
    get,
    path = "/v3/users/{id}/application_credentials/{cred_id}",
    operation_id = "app_creds_show",
    tag = "app_creds",
    params(("id" = String, Path), ("cred_id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path((uid, cid)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let a = id.get_app_cred(&ctx, &uid, &cid).await?;
    let snap = id.view().await?;
    Ok(Json(
        json!({"application_credential": render(&a, &snap, &base)}),
    ))
}

#[utoipa::path(
    delete,
    path = "/v3/users/{id}/application_credentials/{cred_id}",
    operation_id = "app_creds_delete",
    tag = "app_creds",
    params(("id" = String, Path), ("cred_id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete(
    S(id): State,
    Auth(ctx): Auth,
    Path((uid, cid)): Path<(String, String)>,
) -> Result<StatusCode> {
    id.delete_app_cred(&ctx, &uid, &cid).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn render_rule(r: &crate::db::access_rules::AccessRuleRow, base: &str) -> Value {
    json!({"id": r.id, "service": r.service, "method": r.method, "path": r.path,
        "links": {"self": format!("{base}/v3/users/{}/access_rules/{}", r.user_id, r.id)}})
}

#[utoipa::path(
    get,
    path = "/v3/users/{id}/access_rules",
    operation_id = "app_creds_list_rules",
    tag = "app_creds",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list_rules(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
    q: QueryMap,
) -> Result<Json<Value>> {
    let items = id.list_access_rules(&ctx, &uid).await?;
    let path = format!("/v3/users/{uid}/access_rules");
    list_body(
        &id,
        "access_rules",
        items.iter().map(|r| render_rule(r, &base)).collect(),
        &base,
        &path,
        &q,
    )
}

#[utoipa::path(
    get,
    path = "/v3/users/{id}/access_rules/{rule_id}",
    operation_id = "app_creds_show_rule",
    tag = "app_creds",
    params(("id" = String, Path), ("rule_id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show_rule(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path((uid, rid)): Path<(String, String)>,
) -> Result<Json<Value>> {
    Ok(Json(
        json!({"access_rule": render_rule(&id.get_access_rule(&ctx, &uid, &rid).await?, &base)}),
    ))
}

#[utoipa::path(
    delete,
    path = "/v3/users/{id}/access_rules/{rule_id}",
    operation_id = "app_creds_delete_rule",
    tag = "app_creds",
    params(("id" = String, Path), ("rule_id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete_rule(
    S(id): State,
    Auth(ctx): Auth,
    Path((uid, rid)): Path<(String, String)>,
) -> Result<StatusCode> {
    id.delete_access_rule(&ctx, &uid, &rid).await?;
    Ok(StatusCode::NO_CONTENT)
}

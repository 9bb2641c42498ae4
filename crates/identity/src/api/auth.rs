//! `/v3/auth/*`: tokens, and what the caller's token can reach.

use super::State;
use crate::app::snapshot::Target;
use crate::app::tokens::AuthRequest;
use axum::extract::State as S;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::context::Scope;
use common::http::{BaseUrl, JsonBody, QueryMap};
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Identity>> {
    Router::new()
        .route(
            "/v3/auth/tokens",
            get(validate).head(check).post(issue).delete(revoke),
        )
        .route("/v3/auth/catalog", get(catalog))
        .route("/v3/auth/projects", get(projects))
        .route("/v3/auth/domains", get(domains))
        .route("/v3/auth/system", get(system))
}

fn subject(headers: &HeaderMap) -> Result<&str> {
    headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::bad_request("X-Subject-Token is required."))
}

fn nocatalog(q: &QueryMap) -> Result<bool> {
    Ok(q.flag("nocatalog")?.unwrap_or(false))
}

#[utoipa::path(
    post,
    path = "/v3/auth/tokens",
    operation_id = "auth_issue",
    tag = "auth",
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn issue(
    S(id): State,
    q: QueryMap,
    BaseUrl(base): BaseUrl,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    JsonBody(mut req): JsonBody<AuthRequest>,
) -> Result<Response> {
    if req.auth.identity.methods.iter().any(|m| m == "oauth1") {
        req.oauth = Some(super::oauth1::signed_request(
            &method, &uri, &headers, &base,
        ));
    }
    let issued = id.authenticate(req).await?;
    let snap = id.view().await?;
    let body = id.render_token(&snap, &issued.ctx, !nocatalog(&q)?);
    let mut r = (StatusCode::CREATED, Json(body)).into_response();
    let v = HeaderValue::from_str(&issued.token).map_err(Error::internal)?;
    r.headers_mut().insert("x-subject-token", v);
    Ok(r)
}

/// Validates the subject token after checking the caller may.
async fn subject_ctx(
    id: &crate::Identity,
    caller: &common::context::AuthContext,
    headers: &HeaderMap,
    action: &str,
) -> Result<(String, Arc<common::context::AuthContext>)> {
    let token = subject(headers)?.to_string();
    let ctx = id.validate(&token).await?;
    id.enforce(
        caller,
        action,
        json!({"target": {"token": {"user_id": ctx.user_id}}}),
    )?;
    Ok((token, ctx))
}

#[utoipa::path(
    get,
    path = "/v3/auth/tokens",
    operation_id = "auth_validate",
    tag = "auth",
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn validate(
    S(id): State,
    Auth(caller): Auth,
    q: QueryMap,
    headers: HeaderMap,
) -> Result<Response> {
    let (token, ctx) = subject_ctx(&id, &caller, &headers, "identity:validate_token").await?;
    let snap = id.view().await?;
    let mut r = Json(id.render_token(&snap, &ctx, !nocatalog(&q)?)).into_response();
    if let Ok(v) = HeaderValue::from_str(&token) {
        r.headers_mut().insert("x-subject-token", v);
    }
    Ok(r)
}

#[utoipa::path(
    head,
    path = "/v3/auth/tokens",
    operation_id = "auth_check",
    tag = "auth",
    responses(
        (status = 200, description = "OK"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn check(S(id): State, Auth(caller): Auth, headers: HeaderMap) -> Result<StatusCode> {
    subject_ctx(&id, &caller, &headers, "identity:check_token").await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(
    delete,
    path = "/v3/auth/tokens",
    operation_id = "auth_revoke",
    tag = "auth",
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn revoke(S(id): State, Auth(caller): Auth, headers: HeaderMap) -> Result<StatusCode> {
    id.revoke_token(&caller, subject(&headers)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v3/auth/catalog",
    operation_id = "auth_catalog",
    tag = "auth",
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn catalog(S(id): State, Auth(caller): Auth, BaseUrl(base): BaseUrl) -> Result<Json<Value>> {
    id.enforce(&caller, "identity:get_auth_catalog", json!({}))?;
    if caller.scope == Scope::Unscoped {
        return Err(Error::forbidden(
            "A scoped token is required to produce a service catalog.",
        ));
    }
    let snap = id.view().await?;
    Ok(Json(json!({
        "catalog": snap.catalog(caller.project_id()),
        "links": {"self": format!("{base}/v3/auth/catalog"), "previous": null, "next": null},
    })))
}

#[utoipa::path(
    get,
    path = "/v3/auth/projects",
    operation_id = "auth_projects",
    tag = "auth",
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn projects(S(id): State, Auth(caller): Auth, BaseUrl(base): BaseUrl) -> Result<Json<Value>> {
    id.enforce(&caller, "identity:get_auth_projects", json!({}))?;
    let snap = id.view().await?;
    let mut ps: Vec<&crate::db::projects::Project> = snap
        .projects
        .values()
        .filter(|p| {
            snap.project_usable(&p.id)
                && !snap
                    .effective_roles(&caller.user_id, &Target::Project(p.id.clone()))
                    .is_empty()
        })
        .collect();
    ps.sort_by(|a, b| a.id.cmp(&b.id));
    let items: Vec<Value> = ps
        .into_iter()
        .map(|p| super::projects::render(p, &base))
        .collect();
    Ok(Json(
        json!({"projects": items, "links": {"self": format!("{base}/v3/auth/projects"), "previous": null, "next": null}}),
    ))
}

#[utoipa::path(
    get,
    path = "/v3/auth/domains",
    operation_id = "auth_domains",
    tag = "auth",
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn domains(S(id): State, Auth(caller): Auth, BaseUrl(base): BaseUrl) -> Result<Json<Value>> {
    id.enforce(&caller, "identity:get_auth_domains", json!({}))?;
    let snap = id.view().await?;
    let mut ds: Vec<&crate::db::domains::Domain> = snap
        .domains
        .values()
        .filter(|d| {
            d.enabled
                && !snap
                    .effective_roles(&caller.user_id, &Target::Domain(d.id.clone()))
                    .is_empty()
        })
        .collect();
    ds.sort_by(|a, b| a.id.cmp(&b.id));
    let items: Vec<Value> = ds
        .into_iter()
        .map(|d| super::domains::render(d, &base))
        .collect();
    Ok(Json(
        json!({"domains": items, "links": {"self": format!("{base}/v3/auth/domains"), "previous": null, "next": null}}),
    ))
}

#[utoipa::path(
    get,
    path = "/v3/auth/system",
    operation_id = "auth_system",
    tag = "auth",
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn system(S(id): State, Auth(caller): Auth, BaseUrl(base): BaseUrl) -> Result<Json<Value>> {
    id.enforce(&caller, "identity:get_auth_system", json!({}))?;
    let snap = id.view().await?;
    let has = !snap
        .effective_roles(&caller.user_id, &Target::System)
        .is_empty();
    let items = if has {
        json!([{"all": true}])
    } else {
        json!([])
    };
    Ok(Json(
        json!({"system": items, "links": {"self": format!("{base}/v3/auth/system"), "previous": null, "next": null}}),
    ))
}

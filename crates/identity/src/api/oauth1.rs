//! `/v3/OS-OAUTH1/…`: consumers, request and access tokens, authorization,
//! and `/v3/users/{id}/OS-OAUTH1/access_tokens`.

use super::{created, State};
use crate::app::oauth1::SignedRequest;
use crate::db::oauth1::{AccessToken, Consumer};
use axum::extract::{Path, State as S};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use common::auth::Auth;
use common::http::{BaseUrl, JsonBody, QueryMap};
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Identity>> {
    Router::new()
        .route("/v3/OS-OAUTH1/consumers", get(list).post(create))
        .route(
            "/v3/OS-OAUTH1/consumers/{id}",
            get(show).patch(update).delete(delete),
        )
        .route("/v3/OS-OAUTH1/request_token", post(request_token))
        .route("/v3/OS-OAUTH1/authorize/{id}", put(authorize))
        .route("/v3/OS-OAUTH1/access_token", post(access_token))
        .route("/v3/users/{id}/OS-OAUTH1/access_tokens", get(list_access))
        .route(
            "/v3/users/{id}/OS-OAUTH1/access_tokens/{token_id}",
            get(show_access).delete(delete_access),
        )
        .route(
            "/v3/users/{id}/OS-OAUTH1/access_tokens/{token_id}/roles",
            get(access_roles),
        )
}

/// The signed request as the OAuth client built it.
pub fn signed_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    base: &str,
) -> SignedRequest {
    SignedRequest {
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
        method: method.to_string(),
        base_url: format!("{base}{}", uri.path()),
        query: QueryMap::parse(uri.query().unwrap_or("")).0,
    }
}

fn render(c: &Consumer, base: &str) -> Value {
    json!({"id": c.id, "description": c.description, "links": {"self": format!("{base}/v3/OS-OAUTH1/consumers/{}", c.id)}})
}

fn form(pairs: &[(&str, String)]) -> Response {
    let body = pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    (
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/x-www-form-urlencoded")],
        body,
    )
        .into_response()
}

#[derive(serde::Deserialize, Default)]
struct ConsumerInput {
    description: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v3/OS-OAUTH1/consumers",
    operation_id = "oauth1_list",
    tag = "oauth1",
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list(S(id): State, Auth(ctx): Auth, BaseUrl(base): BaseUrl) -> Result<Json<Value>> {
    let cs = id.list_consumers(&ctx).await?;
    Ok(Json(
        json!({"consumers": cs.iter().map(|c| render(c, &base)).collect::<Vec<_>>(),
        "links": {"self": format!("{base}/v3/OS-OAUTH1/consumers"), "previous": null, "next": null}}),
    ))
}

#[utoipa::path(
    post,
    path = "/v3/OS-OAUTH1/consumers",
    operation_id = "oauth1_create",
    tag = "oauth1",
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
    let input: ConsumerInput = super::envelope(body, "consumer")?;
    let (c, secret) = id
        .create_consumer(&ctx, input.description.unwrap_or_default())
        .await?;
    let mut v = render(&c, &base);
    v["secret"] = json!(secret);
    Ok(created(json!({"consumer": v})))
}

#[utoipa::path(
    get,
    path = "/v3/OS-OAUTH1/consumers/{id}",
    operation_id = "oauth1_show",
    tag = "oauth1",
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
    Path(cid): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(
        json!({"consumer": render(&id.get_consumer(&ctx, &cid).await?, &base)}),
    ))
}

#[utoipa::path(
    patch,
    path = "/v3/OS-OAUTH1/consumers/{id}",
    operation_id = "oauth1_update",
    tag = "oauth1",
    params(("id" = String, Path)),
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn update(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(cid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let input: ConsumerInput = super::envelope(body, "consumer")?;
    Ok(Json(
        json!({"consumer": render(&id.update_consumer(&ctx, &cid, input.description).await?, &base)}),
    ))
}

#[utoipa::path(
    delete,
    path = "/v3/OS-OAUTH1/consumers/{id}",
    operation_id = "oauth1_delete",
    tag = "oauth1",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete(S(id): State, Auth(ctx): Auth, Path(cid): Path<String>) -> Result<StatusCode> {
    id.delete_consumer(&ctx, &cid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/v3/OS-OAUTH1/request_token",
    operation_id = "oauth1_request_token",
    tag = "oauth1",
    responses(
        (status = 201, description = "The token, form-encoded (`oauth_token`, `oauth_token_secret`, `oauth_expires_at`)", body = String, content_type = "application/x-www-form-urlencoded"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn request_token(
    S(id): State,
    BaseUrl(base): BaseUrl,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response> {
    let project = headers
        .get("requested-project-id")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::bad_request("The Requested-Project-Id header is required."))?
        .to_string();
    let r = signed_request(&method, &uri, &headers, &base);
    let (key, secret, expires) = id.oauth_request_token(&r, &project).await?;
    Ok(form(&[
        ("oauth_token", key),
        ("oauth_token_secret", secret),
        ("oauth_expires_at", common::clock::iso_micros(expires)),
    ]))
}

#[utoipa::path(
    put,
    path = "/v3/OS-OAUTH1/authorize/{id}",
    operation_id = "oauth1_authorize",
    tag = "oauth1",
    params(("id" = String, Path)),
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn authorize(
    S(id): State,
    Auth(ctx): Auth,
    Path(rt): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let roles = body
        .get("roles")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let verifier = id.oauth_authorize(&ctx, &rt, &roles).await?;
    Ok(Json(json!({"token": {"oauth_verifier": verifier}})))
}

#[utoipa::path(
    post,
    path = "/v3/OS-OAUTH1/access_token",
    operation_id = "oauth1_access_token",
    tag = "oauth1",
    responses(
        (status = 201, description = "The token, form-encoded (`oauth_token`, `oauth_token_secret`, `oauth_expires_at`)", body = String, content_type = "application/x-www-form-urlencoded"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn access_token(
    S(id): State,
    BaseUrl(base): BaseUrl,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response> {
    let r = signed_request(&method, &uri, &headers, &base);
    let (key, secret, expires) = id.oauth_access_token(&r).await?;
    Ok(form(&[
        ("oauth_token", key),
        ("oauth_token_secret", secret),
        ("oauth_expires_at", common::clock::iso_micros(expires)),
    ]))
}

fn render_access(t: &AccessToken, base: &str) -> Value {
    json!({"id": t.id, "consumer_id": t.consumer_id, "project_id": t.project_id,
        "authorizing_user_id": t.authorizing_user_id, "expires_at": t.expires_at.map(common::clock::iso_micros),
        "links": {"self": format!("{base}/v3/users/{}/OS-OAUTH1/access_tokens/{}", t.authorizing_user_id, t.id),
                  "roles": format!("{base}/v3/users/{}/OS-OAUTH1/access_tokens/{}/roles", t.authorizing_user_id, t.id)}})
}

#[utoipa::path(
    get,
    path = "/v3/users/{id}/OS-OAUTH1/access_tokens",
    operation_id = "oauth1_list_access",
    tag = "oauth1",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list_access(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
) -> Result<Json<Value>> {
    let ts = id.user_access_tokens(&ctx, &uid).await?;
    Ok(Json(
        json!({"access_tokens": ts.iter().map(|t| render_access(t, &base)).collect::<Vec<_>>(),
        "links": {"self": format!("{base}/v3/users/{uid}/OS-OAUTH1/access_tokens"), "previous": null, "next": null}}),
    ))
}

#[utoipa::path(
    get,
    path = "/v3/users/{id}/OS-OAUTH1/access_tokens/{token_id}",
    operation_id = "oauth1_show_access",
    tag = "oauth1",
    params(("id" = String, Path), ("token_id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show_access(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path((uid, tid)): Path<(String, String)>,
) -> Result<Json<Value>> {
    Ok(Json(
        json!({"access_token": render_access(&id.user_access_token(&ctx, &uid, &tid).await?, &base)}),
    ))
}

#[utoipa::path(
    delete,
    path = "/v3/users/{id}/OS-OAUTH1/access_tokens/{token_id}",
    operation_id = "oauth1_delete_access",
    tag = "oauth1",
    params(("id" = String, Path), ("token_id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete_access(
    S(id): State,
    Auth(ctx): Auth,
    Path((uid, tid)): Path<(String, String)>,
) -> Result<StatusCode> {
    id.delete_user_access_token(&ctx, &uid, &tid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v3/users/{id}/OS-OAUTH1/access_tokens/{token_id}/roles",
    operation_id = "oauth1_access_roles",
    tag = "oauth1",
    params(("id" = String, Path), ("token_id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn access_roles(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path((uid, tid)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let t = id.user_access_token(&ctx, &uid, &tid).await?;
    let snap = id.view().await?;
    let roles: Vec<Value> = t
        .role_ids
        .iter()
        .filter_map(|r| snap.roles.get(r))
        .map(|r| json!({"id": r.id, "name": r.name, "links": {"self": format!("{base}/v3/roles/{}", r.id)}}))
        .collect();
    Ok(Json(
        json!({"roles": roles, "links": {"self": format!("{base}/v3/users/{uid}/OS-OAUTH1/access_tokens/{tid}/roles"), "previous": null, "next": null}}),
    ))
}

//! `/v3/OS-OAUTH1/…`: consumers, request and access tokens, authorization,
//! and `/v3/users/{id}/OS-OAUTH1/access_tokens`.

use super::{created, ListLinks, SelfLink, State};
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
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

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

/// An OAuth consumer; its secret only in the answer that creates it.
#[derive(Serialize, ToSchema)]
pub struct ConsumerBody {
    pub id: String,
    pub description: String,
    pub links: SelfLink,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// `{"consumer": …}`.
#[derive(Serialize, ToSchema)]
pub struct ConsumerEnvelope {
    pub consumer: ConsumerBody,
}

/// A list of consumers.
#[derive(Serialize, ToSchema)]
pub struct ConsumerList {
    pub consumers: Vec<ConsumerBody>,
    pub links: ListLinks,
}

fn render(c: &Consumer, base: &str) -> ConsumerBody {
    ConsumerBody {
        id: c.id.clone(),
        description: c.description.clone(),
        links: SelfLink {
            self_: format!("{base}/v3/OS-OAUTH1/consumers/{}", c.id),
        },
        secret: None,
    }
}

/// `PUT /v3/OS-OAUTH1/authorize/{id}`: `{"roles": [{"id": …} |
/// {"name": …}]}`, the roles (held by the caller on the token's project)
/// to delegate.
#[derive(Deserialize, ToSchema, Default)]
pub struct AuthorizeRequest {
    #[serde(default, deserialize_with = "role_choices")]
    pub roles: Vec<RoleChoice>,
}

impl AuthorizeRequest {
    /// The request in `body`. Every body is read (as Keystone's handler
    /// reads it): one without a list of roles names none, and the checks
    /// on the request token come before the check that some are named.
    fn of(body: Value) -> AuthorizeRequest {
        // An array would deserialize as the struct's members in order.
        if !body.is_object() {
            return AuthorizeRequest::default();
        }
        serde_json::from_value(body).unwrap_or_default()
    }
}

/// A list of roles, or none when `roles` is not a list.
fn role_choices<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<RoleChoice>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items.iter().map(RoleChoice::of).collect(),
        _ => Vec::new(),
    })
}

/// One role to delegate, by id or else by name: the id or name asked for,
/// empty when the entry gives neither as a string (no role is named so).
pub struct RoleChoice(pub String);

impl RoleChoice {
    fn of(v: &Value) -> RoleChoice {
        RoleChoice(
            v.get("id")
                .or_else(|| v.get("name"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        )
    }
}

impl utoipa::PartialSchema for RoleChoice {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .description(Some("A role by `id` or by `name`."))
            .property("id", ObjectBuilder::new().schema_type(Type::String))
            .property("name", ObjectBuilder::new().schema_type(Type::String))
            .into()
    }
}

impl ToSchema for RoleChoice {}

/// The verifier the consumer needs to get its access token.
#[derive(Serialize, ToSchema)]
pub struct VerifierBody {
    pub token: Verifier,
}

#[derive(Serialize, ToSchema)]
pub struct Verifier {
    pub oauth_verifier: String,
}

/// An access token a user authorized; `expires_at` null when it does not
/// expire.
#[derive(Serialize, ToSchema)]
pub struct AccessTokenBody {
    pub id: String,
    pub consumer_id: String,
    pub project_id: String,
    pub authorizing_user_id: String,
    pub expires_at: Option<String>,
    pub links: AccessTokenLinks,
}

#[derive(Serialize, ToSchema)]
pub struct AccessTokenLinks {
    #[serde(rename = "self")]
    pub self_: String,
    /// The roles it delegates.
    pub roles: String,
}

/// `{"access_token": …}`.
#[derive(Serialize, ToSchema)]
pub struct AccessTokenEnvelope {
    pub access_token: AccessTokenBody,
}

/// A user's access tokens.
#[derive(Serialize, ToSchema)]
pub struct AccessTokenList {
    pub access_tokens: Vec<AccessTokenBody>,
    pub links: ListLinks,
}

/// The roles an access token delegates.
#[derive(Serialize, ToSchema)]
pub struct AccessTokenRoles {
    pub roles: Vec<super::roles::RoleBrief>,
    pub links: ListLinks,
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

/// A consumer's attributes, on create and update; other attributes are
/// ignored.
#[derive(serde::Deserialize, Default, ToSchema)]
pub struct ConsumerInput {
    pub description: Option<String>,
}

/// `POST /v3/OS-OAUTH1/consumers` and `PATCH …/consumers/{id}` body:
/// `{"consumer": …}`.
#[derive(serde::Deserialize, ToSchema)]
pub struct ConsumerRequest {
    pub consumer: ConsumerInput,
}

#[utoipa::path(
    get,
    path = "/v3/OS-OAUTH1/consumers",
    operation_id = "oauth1_list",
    tag = "oauth1",
    responses(
        (status = 200, description = "OK", body = ConsumerList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list(S(id): State, Auth(ctx): Auth, BaseUrl(base): BaseUrl) -> Result<Json<ConsumerList>> {
    let cs = id.list_consumers(&ctx).await?;
    Ok(Json(ConsumerList {
        consumers: cs.iter().map(|c| render(c, &base)).collect(),
        links: ListLinks::only_self(format!("{base}/v3/OS-OAUTH1/consumers")),
    }))
}

#[utoipa::path(
    post,
    path = "/v3/OS-OAUTH1/consumers",
    operation_id = "oauth1_create",
    tag = "oauth1",
    request_body(content = ConsumerRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = ConsumerEnvelope),
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
    Ok(created(ConsumerEnvelope {
        consumer: ConsumerBody {
            secret: Some(secret),
            ..render(&c, &base)
        },
    }))
}

#[utoipa::path(
    get,
    path = "/v3/OS-OAUTH1/consumers/{id}",
    operation_id = "oauth1_show",
    tag = "oauth1",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = ConsumerEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(cid): Path<String>,
) -> Result<Json<ConsumerEnvelope>> {
    let c = id.get_consumer(&ctx, &cid).await?;
    Ok(Json(ConsumerEnvelope {
        consumer: render(&c, &base),
    }))
}

#[utoipa::path(
    patch,
    path = "/v3/OS-OAUTH1/consumers/{id}",
    operation_id = "oauth1_update",
    tag = "oauth1",
    params(("id" = String, Path)),
    request_body(content = ConsumerRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = ConsumerEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn update(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(cid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<ConsumerEnvelope>> {
    let input: ConsumerInput = super::envelope(body, "consumer")?;
    let c = id.update_consumer(&ctx, &cid, input.description).await?;
    Ok(Json(ConsumerEnvelope {
        consumer: render(&c, &base),
    }))
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
    request_body(content = AuthorizeRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = VerifierBody),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn authorize(
    S(id): State,
    Auth(ctx): Auth,
    Path(rt): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<VerifierBody>> {
    let roles: Vec<String> = AuthorizeRequest::of(body)
        .roles
        .into_iter()
        .map(|r| r.0)
        .collect();
    let verifier = id.oauth_authorize(&ctx, &rt, &roles).await?;
    Ok(Json(VerifierBody {
        token: Verifier {
            oauth_verifier: verifier,
        },
    }))
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

fn render_access(t: &AccessToken, base: &str) -> AccessTokenBody {
    let own = format!(
        "{base}/v3/users/{}/OS-OAUTH1/access_tokens/{}",
        t.authorizing_user_id, t.id
    );
    AccessTokenBody {
        id: t.id.clone(),
        consumer_id: t.consumer_id.clone(),
        project_id: t.project_id.clone(),
        authorizing_user_id: t.authorizing_user_id.clone(),
        expires_at: t.expires_at.map(common::clock::iso_micros),
        links: AccessTokenLinks {
            roles: format!("{own}/roles"),
            self_: own,
        },
    }
}

#[utoipa::path(
    get,
    path = "/v3/users/{id}/OS-OAUTH1/access_tokens",
    operation_id = "oauth1_list_access",
    tag = "oauth1",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = AccessTokenList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list_access(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
) -> Result<Json<AccessTokenList>> {
    let ts = id.user_access_tokens(&ctx, &uid).await?;
    Ok(Json(AccessTokenList {
        access_tokens: ts.iter().map(|t| render_access(t, &base)).collect(),
        links: ListLinks::only_self(format!("{base}/v3/users/{uid}/OS-OAUTH1/access_tokens")),
    }))
}

#[utoipa::path(
    get,
    path = "/v3/users/{id}/OS-OAUTH1/access_tokens/{token_id}",
    operation_id = "oauth1_show_access",
    tag = "oauth1",
    params(("id" = String, Path), ("token_id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = AccessTokenEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show_access(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path((uid, tid)): Path<(String, String)>,
) -> Result<Json<AccessTokenEnvelope>> {
    let t = id.user_access_token(&ctx, &uid, &tid).await?;
    Ok(Json(AccessTokenEnvelope {
        access_token: render_access(&t, &base),
    }))
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
        (status = 200, description = "OK", body = AccessTokenRoles),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn access_roles(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path((uid, tid)): Path<(String, String)>,
) -> Result<Json<AccessTokenRoles>> {
    let roles = id.user_access_token_roles(&ctx, &uid, &tid).await?;
    Ok(Json(AccessTokenRoles {
        roles: roles
            .iter()
            .map(|r| super::roles::brief(r, &base))
            .collect(),
        links: ListLinks::only_self(format!(
            "{base}/v3/users/{uid}/OS-OAUTH1/access_tokens/{tid}/roles"
        )),
    }))
}

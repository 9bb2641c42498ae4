//! `/v3/credentials`, `/v3/users/{id}/credentials/OS-EC2[/{access}]` and
//! `/v3/ec2tokens`.

use super::{created, envelope, extra_without, page_of, SelfLink, State};
use crate::app::credentials::{Credential, CredentialInput};
use crate::app::ec2::SignedRequest;
use axum::extract::{Path, State as S};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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
        .route("/v3/credentials", get(list).post(create))
        .route(
            "/v3/credentials/{id}",
            get(show).patch(update).delete(delete),
        )
        .route(
            "/v3/users/{id}/credentials/OS-EC2",
            get(list_ec2).post(create_ec2),
        )
        .route(
            "/v3/users/{id}/credentials/OS-EC2/{access}",
            get(show_ec2).delete(delete_ec2),
        )
        .route("/v3/ec2tokens", post(ec2tokens))
}

/// A credential with its blob in the clear, with the extra attributes
/// stored on it.
#[derive(Serialize, ToSchema)]
pub struct CredentialBody {
    pub id: String,
    pub user_id: String,
    pub project_id: Option<String>,
    #[serde(rename = "type")]
    pub cred_type: String,
    pub blob: String,
    pub links: SelfLink,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"credential": …}`.
#[derive(Serialize, ToSchema)]
pub struct CredentialEnvelope {
    pub credential: CredentialBody,
}

super::list_type!(
    CredentialList,
    credentials,
    CredentialBody,
    "A list of credentials."
);

pub fn render(c: &Credential, base: &str) -> CredentialBody {
    CredentialBody {
        id: c.id.clone(),
        user_id: c.user_id.clone(),
        project_id: c.project_id.clone(),
        cred_type: c.cred_type.clone(),
        blob: c.blob.clone(),
        links: SelfLink {
            self_: format!("{base}/v3/credentials/{}", c.id),
        },
        extra: extra_without(
            &c.extra,
            &["id", "user_id", "project_id", "type", "blob", "links"],
        ),
    }
}

/// An EC2 credential as Keystone's OS-EC2 API shows it: the access and
/// secret from its blob, the project as `tenant_id`. The blob's values
/// are shown as stored (a credential made through `/v3/credentials` may
/// hold any JSON there).
#[derive(Serialize, ToSchema)]
pub struct Ec2CredentialBody {
    pub user_id: String,
    pub tenant_id: Option<String>,
    #[schema(value_type = Option<String>)]
    pub access: Value,
    #[schema(value_type = Option<String>)]
    pub secret: Value,
    #[schema(value_type = Option<String>)]
    pub trust_id: Value,
    pub links: SelfLink,
}

/// `{"credential": …}` of the OS-EC2 API.
#[derive(Serialize, ToSchema)]
pub struct Ec2CredentialEnvelope {
    pub credential: Ec2CredentialBody,
}

super::list_type!(
    Ec2CredentialList,
    credentials,
    Ec2CredentialBody,
    "A list of a user's EC2 credentials."
);

fn render_ec2(c: &Credential, base: &str) -> Ec2CredentialBody {
    let blob: Value = serde_json::from_str(&c.blob).unwrap_or_default();
    let field = |k: &str| blob.get(k).cloned().unwrap_or(Value::Null);
    Ec2CredentialBody {
        user_id: c.user_id.clone(),
        tenant_id: c.project_id.clone(),
        access: field("access"),
        secret: field("secret"),
        trust_id: field("trust_id"),
        links: SelfLink {
            self_: format!(
                "{base}/v3/users/{}/credentials/OS-EC2/{}",
                c.user_id,
                blob["access"].as_str().unwrap_or("")
            ),
        },
    }
}

#[utoipa::path(
    get,
    path = "/v3/credentials",
    operation_id = "credentials_list",
    tag = "credentials",
    responses(
        (status = 200, description = "OK", body = CredentialList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<CredentialList>> {
    let page = id.list_credentials(&ctx, &q).await?;
    Ok(Json(
        page_of(
            page.items.iter().map(|c| render(c, &base)).collect(),
            page.next_marker.as_deref(),
            &base,
            "/v3/credentials",
            &q,
        )
        .into(),
    ))
}

#[utoipa::path(
    post,
    path = "/v3/credentials",
    operation_id = "credentials_create",
    tag = "credentials",
    request_body(content = CredentialCreateRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = CredentialEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn create(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let input: CredentialInput = envelope(body, "credential")?;
    Ok(created(CredentialEnvelope {
        credential: render(&id.create_credential(&ctx, input).await?, &base),
    }))
}

#[utoipa::path(
    get,
    path = "/v3/credentials/{id}",
    operation_id = "credentials_show",
    tag = "credentials",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = CredentialEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(cid): Path<String>,
) -> Result<Json<CredentialEnvelope>> {
    Ok(Json(CredentialEnvelope {
        credential: render(&id.get_credential(&ctx, &cid).await?, &base),
    }))
}

#[utoipa::path(
    patch,
    path = "/v3/credentials/{id}",
    operation_id = "credentials_update",
    tag = "credentials",
    params(("id" = String, Path)),
    request_body(content = CredentialUpdateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = CredentialEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn update(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(cid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<CredentialEnvelope>> {
    let input: CredentialInput = envelope(body, "credential")?;
    Ok(Json(CredentialEnvelope {
        credential: render(&id.update_credential(&ctx, &cid, input).await?, &base),
    }))
}

#[utoipa::path(
    delete,
    path = "/v3/credentials/{id}",
    operation_id = "credentials_delete",
    tag = "credentials",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete(S(id): State, Auth(ctx): Auth, Path(cid): Path<String>) -> Result<StatusCode> {
    id.delete_credential(&ctx, &cid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v3/users/{id}/credentials/OS-EC2`: the project the new
/// access key is for.
#[derive(serde::Deserialize, ToSchema)]
pub struct Ec2Create {
    pub tenant_id: String,
}

#[utoipa::path(
    post,
    path = "/v3/users/{id}/credentials/OS-EC2",
    operation_id = "credentials_create_ec2",
    tag = "credentials",
    params(("id" = String, Path)),
    request_body(content = Ec2Create, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = Ec2CredentialEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn create_ec2(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
    JsonBody(body): JsonBody<Ec2Create>,
) -> Result<Response> {
    let c = id.create_ec2(&ctx, &uid, &body.tenant_id).await?;
    Ok(created(Ec2CredentialEnvelope {
        credential: render_ec2(&c, &base),
    }))
}

#[utoipa::path(
    get,
    path = "/v3/users/{id}/credentials/OS-EC2",
    operation_id = "credentials_list_ec2",
    tag = "credentials",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = Ec2CredentialList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list_ec2(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
    q: QueryMap,
) -> Result<Json<Ec2CredentialList>> {
    let page = id.list_ec2(&ctx, &uid, &q).await?;
    let path = format!("/v3/users/{uid}/credentials/OS-EC2");
    Ok(Json(
        page_of(
            page.items.iter().map(|c| render_ec2(c, &base)).collect(),
            page.next_marker.as_deref(),
            &base,
            &path,
            &q,
        )
        .into(),
    ))
}

#[utoipa::path(
    get,
    path = "/v3/users/{id}/credentials/OS-EC2/{access}",
    operation_id = "credentials_show_ec2",
    tag = "credentials",
    params(("id" = String, Path), ("access" = String, Path)),
    responses(
        (status = 200, description = "OK", body = Ec2CredentialEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show_ec2(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path((uid, access)): Path<(String, String)>,
) -> Result<Json<Ec2CredentialEnvelope>> {
    let c = id
        .get_ec2(&ctx, &uid, &access, "identity:ec2_get_credential")
        .await?;
    Ok(Json(Ec2CredentialEnvelope {
        credential: render_ec2(&c, &base),
    }))
}

#[utoipa::path(
    delete,
    path = "/v3/users/{id}/credentials/OS-EC2/{access}",
    operation_id = "credentials_delete_ec2",
    tag = "credentials",
    params(("id" = String, Path), ("access" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete_ec2(
    S(id): State,
    Auth(ctx): Auth,
    Path((uid, access)): Path<(String, String)>,
) -> Result<StatusCode> {
    id.delete_ec2(&ctx, &uid, &access).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v3/ec2tokens`: `{"credentials": {...}}` (or the older
/// `ec2Credentials`), answered with a token like `POST /v3/auth/tokens`.
#[utoipa::path(
    post,
    path = "/v3/ec2tokens",
    operation_id = "credentials_ec2tokens",
    tag = "credentials",
    request_body(content = Ec2TokensRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = super::auth::TokenBody),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn ec2tokens(S(id): State, JsonBody(body): JsonBody<Value>) -> Result<Response> {
    let inner = body
        .get("credentials")
        .or_else(|| body.get("ec2Credentials"))
        .cloned()
        .ok_or_else(|| {
            Error::bad_request("Invalid input: 'credentials' is a required property.")
        })?;
    let req: SignedRequest = serde_json::from_value(inner)
        .map_err(|e| Error::bad_request(format!("Invalid input for field 'credentials': {e}")))?;
    let issued = id.ec2_authenticate(req).await?;
    let snap = id.view().await?;
    let mut r = (
        StatusCode::OK,
        Json(super::auth::render_token(&snap, &issued.ctx, true)),
    )
        .into_response();
    let v = HeaderValue::from_str(&issued.token).map_err(Error::internal)?;
    r.headers_mut().insert("x-subject-token", v);
    Ok(r)
}

/// `POST` body: `{"credential": …}`, read as `app::credentials::CredentialInput`.
#[derive(serde::Deserialize, ToSchema)]
pub struct CredentialCreateRequest {
    pub credential: CredentialCreate,
}

/// A new credential.
#[derive(serde::Deserialize, ToSchema)]
pub struct CredentialCreate {
    /// The credential itself, serialized; for `ec2` a JSON object with
    /// `access` and `secret`.
    pub blob: String,
    /// `ec2`, `totp`, `cert` or another type.
    #[serde(rename = "type")]
    pub cred_type: String,
    pub user_id: String,
    /// Required for `ec2` credentials.
    pub project_id: Option<String>,
    /// Any other attribute is stored with the credential and shown back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `PATCH` body: `{"credential": …}`, read as `app::credentials::CredentialInput`; only the
/// attributes given change.
#[derive(serde::Deserialize, ToSchema)]
pub struct CredentialUpdateRequest {
    pub credential: CredentialUpdate,
}

/// The attributes of a credential to change.
#[derive(serde::Deserialize, ToSchema)]
pub struct CredentialUpdate {
    pub blob: Option<String>,
    #[serde(rename = "type")]
    pub cred_type: Option<String>,
    pub user_id: Option<String>,
    /// Null clears it.
    pub project_id: Option<String>,
    /// Any other attribute is stored with the credential and shown back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /v3/ec2tokens` body: the signed request under `credentials`, or
/// under `ec2Credentials` as older clients send it; one of them is
/// required (`credentials` is read first).
#[derive(serde::Deserialize, ToSchema)]
pub struct Ec2TokensRequest {
    pub credentials: Option<SignedRequest>,
    #[serde(rename = "ec2Credentials")]
    pub ec2_credentials: Option<SignedRequest>,
}

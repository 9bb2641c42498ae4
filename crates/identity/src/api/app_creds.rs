//! `/v3/users/{id}/application_credentials[/{cred}]` and
//! `/v3/users/{id}/access_rules[/{rule}]`.

use super::{created, envelope, page_of, SelfLink, State};
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
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

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

/// A role an application credential carries.
#[derive(Serialize, ToSchema)]
pub struct AppCredRole {
    pub id: String,
    pub name: String,
    pub domain_id: Option<String>,
}

/// An access rule as listed inside an application credential.
#[derive(Serialize, ToSchema)]
pub struct AppCredRule {
    pub id: String,
    pub service: String,
    pub method: String,
    pub path: String,
}

/// An application credential; `secret` only in the answer to its creation.
#[derive(Serialize, ToSchema)]
pub struct AppCredBody {
    pub id: String,
    pub name: String,
    pub description: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub system: Option<String>,
    /// Keystone returns the stored datetime through oslo's jsonutils:
    /// microseconds, no zone (tempest compares it with `isoformat()`).
    pub expires_at: Option<String>,
    pub unrestricted: bool,
    pub roles: Vec<AppCredRole>,
    pub access_rules: Vec<AppCredRule>,
    pub links: SelfLink,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// `{"application_credential": …}`.
#[derive(Serialize, ToSchema)]
pub struct AppCredEnvelope {
    pub application_credential: AppCredBody,
}

super::list_type!(
    AppCredList,
    application_credentials,
    AppCredBody,
    "A list of application credentials."
);

pub fn render(a: &AppCred, snap: &Snapshot, base: &str) -> AppCredBody {
    AppCredBody {
        id: a.id.clone(),
        name: a.name.clone(),
        description: a.description.clone(),
        user_id: a.user_id.clone(),
        project_id: a.project_id.clone(),
        system: a.system.clone(),
        expires_at: a.expires_at.map(common::clock::iso_micros_naive),
        unrestricted: a.unrestricted,
        roles: a
            .role_ids
            .iter()
            .filter_map(|r| snap.roles.get(r))
            .map(|r| AppCredRole {
                id: r.id.clone(),
                name: r.name.clone(),
                domain_id: r.domain_id.clone(),
            })
            .collect(),
        access_rules: snap
            .app_cred_rules
            .get(&a.id)
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| snap.access_rules.get(id))
                    .map(|r| AppCredRule {
                        id: r.id.clone(),
                        service: r.service.clone(),
                        method: r.method.clone(),
                        path: r.path.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        links: SelfLink {
            self_: format!(
                "{base}/v3/users/{}/application_credentials/{}",
                a.user_id, a.id
            ),
        },
        secret: None,
    }
}

#[utoipa::path(
    get,
    path = "/v3/users/{id}/application_credentials",
    operation_id = "app_creds_list",
    tag = "app_creds",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = AppCredList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
    q: QueryMap,
) -> Result<Json<AppCredList>> {
    let page = id.list_app_creds(&ctx, &uid, &q).await?;
    // The view names the roles and holds the access rules.
    let snap = id.view().await?;
    let path = format!("/v3/users/{uid}/application_credentials");
    Ok(Json(
        page_of(
            page.items.iter().map(|a| render(a, &snap, &base)).collect(),
            page.next_marker.as_deref(),
            &base,
            &path,
            &q,
        )
        .into(),
    ))
}

#[utoipa::path(
    post,
    path = "/v3/users/{id}/application_credentials",
    operation_id = "app_creds_create",
    tag = "app_creds",
    params(("id" = String, Path)),
    request_body(content = AppCredCreateRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = AppCredEnvelope),
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
    v.secret = Some(secret);
    Ok(created(AppCredEnvelope {
        application_credential: v,
    }))
}

#[utoipa::path(
    get,
    path = "/v3/users/{id}/application_credentials/{cred_id}",
    operation_id = "app_creds_show",
    tag = "app_creds",
    params(("id" = String, Path), ("cred_id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = AppCredEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path((uid, cid)): Path<(String, String)>,
) -> Result<Json<AppCredEnvelope>> {
    let a = id.get_app_cred(&ctx, &uid, &cid).await?;
    let snap = id.view().await?;
    Ok(Json(AppCredEnvelope {
        application_credential: render(&a, &snap, &base),
    }))
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

/// An access rule.
#[derive(Serialize, ToSchema)]
pub struct AccessRuleBody {
    pub id: String,
    pub service: String,
    pub method: String,
    pub path: String,
    pub links: SelfLink,
}

/// `{"access_rule": …}`.
#[derive(Serialize, ToSchema)]
pub struct AccessRuleEnvelope {
    pub access_rule: AccessRuleBody,
}

super::list_type!(
    AccessRuleList,
    access_rules,
    AccessRuleBody,
    "A list of access rules."
);

fn render_rule(r: &crate::db::access_rules::AccessRuleRow, base: &str) -> AccessRuleBody {
    AccessRuleBody {
        id: r.id.clone(),
        service: r.service.clone(),
        method: r.method.clone(),
        path: r.path.clone(),
        links: SelfLink {
            self_: format!("{base}/v3/users/{}/access_rules/{}", r.user_id, r.id),
        },
    }
}

#[utoipa::path(
    get,
    path = "/v3/users/{id}/access_rules",
    operation_id = "app_creds_list_rules",
    tag = "app_creds",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = AccessRuleList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list_rules(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(uid): Path<String>,
    q: QueryMap,
) -> Result<Json<AccessRuleList>> {
    let page = id.list_access_rules(&ctx, &uid, &q).await?;
    let path = format!("/v3/users/{uid}/access_rules");
    Ok(Json(
        page_of(
            page.items.iter().map(|r| render_rule(r, &base)).collect(),
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
    path = "/v3/users/{id}/access_rules/{rule_id}",
    operation_id = "app_creds_show_rule",
    tag = "app_creds",
    params(("id" = String, Path), ("rule_id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = AccessRuleEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show_rule(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path((uid, rid)): Path<(String, String)>,
) -> Result<Json<AccessRuleEnvelope>> {
    Ok(Json(AccessRuleEnvelope {
        access_rule: render_rule(&id.get_access_rule(&ctx, &uid, &rid).await?, &base),
    }))
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

/// `POST /v3/users/{id}/application_credentials` body:
/// `{"application_credential": …}`, read as `app::app_creds::AppCredInput`.
#[derive(serde::Deserialize, ToSchema)]
pub struct AppCredCreateRequest {
    pub application_credential: AppCredCreate,
}

/// A new application credential, for the token's project; no other
/// attribute is accepted.
#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppCredCreate {
    pub name: String,
    pub description: Option<String>,
    /// Generated (and shown once, in the reply) when absent.
    pub secret: Option<String>,
    /// An ISO 8601 timestamp in the future; never expires when absent.
    pub expires_at: Option<String>,
    /// A subset of the token's roles; all of them when absent or empty.
    pub roles: Option<Vec<crate::app::app_creds::RoleSel>>,
    /// Whether the credential may create further application credentials
    /// and trusts.
    pub unrestricted: Option<bool>,
    pub access_rules: Option<Vec<AccessRuleRequest>>,
    /// Only null: system-scoped application credentials are not supported.
    pub system: Option<Value>,
    /// The token's project, if given.
    pub project_id: Option<String>,
}

/// One access rule of a new application credential: an existing rule of
/// the user by `id`, or `service`, `method` and `path`.
#[derive(serde::Deserialize, ToSchema)]
pub struct AccessRuleRequest {
    #[serde(default)]
    pub id: String,
    /// The service type the rule is for, 1 to 64 characters.
    #[serde(default)]
    pub service: String,
    /// `GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE` or `OPTIONS`.
    #[serde(default)]
    pub method: String,
    /// The request path, starting with `/`, at most 225 characters.
    #[serde(default)]
    pub path: String,
}

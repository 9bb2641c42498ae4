//! `/v3/auth/*`: tokens, and what the caller's token can reach.

use super::State;
use crate::app::snapshot::Snapshot;
use crate::app::tokens::AuthRequest;
use axum::extract::State as S;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::context::{AuthContext, Scope};
use common::http::{BaseUrl, JsonBody, QueryMap};
use common::{Error, Result};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

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

/// `{"token": …}`: what Keystone returns on issue and validate.
#[derive(Serialize, ToSchema)]
pub struct TokenBody {
    pub token: Token,
}

/// A token's body. Scope members are present only for their scope; roles
/// and catalog only for scoped tokens (the catalog not with `nocatalog`).
#[derive(Serialize, ToSchema)]
pub struct Token {
    pub methods: Vec<String>,
    pub user: TokenUser,
    pub audit_ids: Vec<String>,
    pub expires_at: String,
    pub issued_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<TokenProject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_domain: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_admin_project: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<NamedRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemScope>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<NamedRef>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog: Option<Vec<CatalogServiceBody>>,
    #[serde(rename = "OS-OAUTH1", skip_serializing_if = "Option::is_none")]
    pub oauth1: Option<TokenOauth1>,
    #[serde(rename = "OS-TRUST:trust", skip_serializing_if = "Option::is_none")]
    pub trust: Option<TokenTrust>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_credential: Option<TokenAppCred>,
}

#[derive(Serialize, ToSchema)]
pub struct NamedRef {
    pub id: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct IdRef {
    pub id: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenUser {
    pub id: String,
    pub name: String,
    pub domain: NamedRef,
    /// Always present; null when the password does not expire.
    pub password_expires_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenProject {
    pub id: String,
    pub name: String,
    pub domain: NamedRef,
}

/// `{"all": true}`: the system scope.
#[derive(Serialize, ToSchema)]
pub struct SystemScope {
    pub all: bool,
}

#[derive(Serialize, ToSchema)]
pub struct TokenOauth1 {
    pub access_token_id: String,
    pub consumer_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenTrust {
    pub id: String,
    pub impersonation: bool,
    pub trustee_user: IdRef,
    pub trustor_user: IdRef,
}

#[derive(Serialize, ToSchema)]
pub struct TokenAppCred {
    pub id: String,
    pub name: String,
    pub restricted: bool,
}

/// One service in a catalog.
#[derive(Serialize, ToSchema)]
pub struct CatalogServiceBody {
    pub id: String,
    #[serde(rename = "type")]
    pub service_type: String,
    pub name: String,
    pub endpoints: Vec<CatalogEndpoint>,
}

/// One endpoint in a catalog; `region` and `region_id` are both the
/// region's id (null when it has none), as Keystone gives them.
#[derive(Serialize, ToSchema)]
pub struct CatalogEndpoint {
    pub id: String,
    pub interface: String,
    pub region: Option<String>,
    pub region_id: Option<String>,
    pub url: String,
}

/// `GET /v3/auth/projects`: the usable projects the caller has a role on.
#[derive(Serialize, ToSchema)]
pub struct AuthProjectsBody {
    pub projects: Vec<super::projects::ProjectBody>,
    pub links: super::ListLinks,
}

/// `GET /v3/auth/domains`: the domains the caller has a role on.
#[derive(Serialize, ToSchema)]
pub struct AuthDomainsBody {
    pub domains: Vec<super::domains::DomainBody>,
    pub links: super::ListLinks,
}

/// `GET /v3/auth/system`: the system scope when the caller has a role on
/// it, else nothing.
#[derive(Serialize, ToSchema)]
pub struct AuthSystemBody {
    pub system: Vec<SystemScope>,
    pub links: super::ListLinks,
}

/// `GET /v3/auth/catalog`.
#[derive(Serialize, ToSchema)]
pub struct AuthCatalogBody {
    pub catalog: Vec<CatalogServiceBody>,
    pub links: super::ListLinks,
}

pub(crate) fn render_catalog(snap: &Snapshot, project_id: Option<&str>) -> Vec<CatalogServiceBody> {
    snap.catalog(project_id)
        .into_iter()
        .map(|c| CatalogServiceBody {
            id: c.service.id.clone(),
            service_type: c.service.service_type.clone(),
            name: c.service.name.clone(),
            endpoints: c
                .endpoints
                .into_iter()
                .map(|(e, url)| CatalogEndpoint {
                    id: e.id.clone(),
                    interface: e.interface.clone(),
                    region: e.region_id.clone(),
                    region_id: e.region_id.clone(),
                    url,
                })
                .collect(),
        })
        .collect()
}

/// The token body for a validated token's context.
pub(crate) fn render_token(snap: &Snapshot, ctx: &AuthContext, with_catalog: bool) -> TokenBody {
    let mut t = Token {
        methods: ctx.methods.clone(),
        user: TokenUser {
            id: ctx.user_id.clone(),
            name: ctx.user_name.clone(),
            domain: NamedRef {
                id: ctx.user_domain_id.clone(),
                name: ctx.user_domain_name.clone(),
            },
            password_expires_at: snap
                .users
                .get(&ctx.user_id)
                .and_then(|u| u.password_expires_at)
                .map(common::clock::iso_micros),
        },
        audit_ids: ctx.audit_ids.clone(),
        expires_at: common::clock::iso_micros(ctx.expires_at),
        issued_at: common::clock::iso_micros(ctx.issued_at),
        project: None,
        is_domain: None,
        is_admin_project: None,
        domain: None,
        system: None,
        roles: None,
        catalog: None,
        oauth1: None,
        trust: None,
        application_credential: None,
    };
    let project_id = match &ctx.scope {
        Scope::Unscoped => None,
        Scope::Project {
            id,
            name,
            domain_id,
            domain_name,
        } => {
            t.project = Some(TokenProject {
                id: id.clone(),
                name: name.clone(),
                domain: NamedRef {
                    id: domain_id.clone(),
                    name: domain_name.clone(),
                },
            });
            t.is_domain = Some(false);
            t.is_admin_project = Some(ctx.is_admin_project);
            Some(id.as_str())
        }
        Scope::Domain { id, name } => {
            t.domain = Some(NamedRef {
                id: id.clone(),
                name: name.clone(),
            });
            None
        }
        Scope::System => {
            t.system = Some(SystemScope { all: true });
            None
        }
    };
    if ctx.scope != Scope::Unscoped {
        t.roles = Some(
            ctx.roles
                .iter()
                .map(|r| NamedRef {
                    id: r.id.clone(),
                    name: r.name.clone(),
                })
                .collect(),
        );
        if with_catalog {
            t.catalog = Some(render_catalog(snap, project_id));
        }
    }
    t.oauth1 = ctx
        .oauth_access_token_id
        .as_ref()
        .and_then(|id| snap.oauth_access_tokens.get(id))
        .map(|at| TokenOauth1 {
            access_token_id: at.id.clone(),
            consumer_id: at.consumer_id.clone(),
        });
    t.trust = ctx
        .trust_id
        .as_ref()
        .and_then(|id| snap.trusts.get(id))
        .map(|tr| TokenTrust {
            id: tr.id.clone(),
            impersonation: tr.impersonation,
            trustee_user: IdRef {
                id: tr.trustee_user_id.clone(),
            },
            trustor_user: IdRef {
                id: tr.trustor_user_id.clone(),
            },
        });
    t.application_credential = ctx
        .application_credential_id
        .as_ref()
        .and_then(|id| snap.app_creds.get(id))
        .map(|ac| TokenAppCred {
            id: ac.id.clone(),
            name: ac.name.clone(),
            restricted: !ac.unrestricted,
        });
    TokenBody { token: t }
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
    request_body(content = AuthRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = TokenBody),
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
    let body = render_token(&snap, &issued.ctx, !nocatalog(&q)?);
    let mut r = (StatusCode::CREATED, Json(body)).into_response();
    let v = HeaderValue::from_str(&issued.token).map_err(Error::internal)?;
    r.headers_mut().insert("x-subject-token", v);
    Ok(r)
}

/// Validates the subject token after checking the caller may.
async fn subject_ctx(
    id: &crate::Identity,
    caller: &AuthContext,
    headers: &HeaderMap,
    action: &str,
) -> Result<(String, Arc<AuthContext>)> {
    let token = subject(headers)?.to_string();
    let ctx = id.validate_subject(caller, &token, action).await?;
    Ok((token, ctx))
}

#[utoipa::path(
    get,
    path = "/v3/auth/tokens",
    operation_id = "auth_validate",
    tag = "auth",
    responses(
        (status = 200, description = "OK", body = TokenBody),
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
    let mut r = Json(render_token(&snap, &ctx, !nocatalog(&q)?)).into_response();
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
        (status = 200, description = "OK", body = AuthCatalogBody),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn catalog(
    S(id): State,
    Auth(caller): Auth,
    BaseUrl(base): BaseUrl,
) -> Result<Json<AuthCatalogBody>> {
    let snap = id.auth_catalog(&caller).await?;
    Ok(Json(AuthCatalogBody {
        catalog: render_catalog(&snap, caller.project_id()),
        links: super::ListLinks::only_self(format!("{base}/v3/auth/catalog")),
    }))
}

#[utoipa::path(
    get,
    path = "/v3/auth/projects",
    operation_id = "auth_projects",
    tag = "auth",
    responses(
        (status = 200, description = "OK", body = AuthProjectsBody),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn projects(
    S(id): State,
    Auth(caller): Auth,
    BaseUrl(base): BaseUrl,
) -> Result<Json<AuthProjectsBody>> {
    let ps = id.auth_projects(&caller).await?;
    Ok(Json(AuthProjectsBody {
        projects: ps
            .iter()
            .map(|p| super::projects::render(p, &base))
            .collect(),
        links: super::ListLinks::only_self(format!("{base}/v3/auth/projects")),
    }))
}

#[utoipa::path(
    get,
    path = "/v3/auth/domains",
    operation_id = "auth_domains",
    tag = "auth",
    responses(
        (status = 200, description = "OK", body = AuthDomainsBody),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn domains(
    S(id): State,
    Auth(caller): Auth,
    BaseUrl(base): BaseUrl,
) -> Result<Json<AuthDomainsBody>> {
    let ds = id.auth_domains(&caller).await?;
    Ok(Json(AuthDomainsBody {
        domains: ds
            .iter()
            .map(|d| super::domains::render(d, &base))
            .collect(),
        links: super::ListLinks::only_self(format!("{base}/v3/auth/domains")),
    }))
}

#[utoipa::path(
    get,
    path = "/v3/auth/system",
    operation_id = "auth_system",
    tag = "auth",
    responses(
        (status = 200, description = "OK", body = AuthSystemBody),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn system(
    S(id): State,
    Auth(caller): Auth,
    BaseUrl(base): BaseUrl,
) -> Result<Json<AuthSystemBody>> {
    let has = id.auth_system(&caller).await?;
    Ok(Json(AuthSystemBody {
        system: if has {
            vec![SystemScope { all: true }]
        } else {
            Vec::new()
        },
        links: super::ListLinks::only_self(format!("{base}/v3/auth/system")),
    }))
}

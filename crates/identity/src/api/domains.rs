//! `/v3/domains`.

use super::{created, envelope, extra_without, page_of, SelfLink, State};
use crate::app::domains::DomainInput;
use crate::db::domains::Domain;
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::{BaseUrl, JsonBody, QueryMap};
use common::Result;
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use utoipa::ToSchema;

pub fn routes() -> Router<Arc<crate::Identity>> {
    Router::new()
        .route("/v3/domains", get(list).post(create))
        .route("/v3/domains/{id}", get(show).patch(update).delete(delete))
}

/// A domain as Keystone shows it, with the extra attributes stored on it.
#[derive(Serialize, ToSchema)]
pub struct DomainBody {
    pub id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub tags: Vec<String>,
    pub options: Map<String, Value>,
    pub links: SelfLink,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"domain": …}`.
#[derive(Serialize, ToSchema)]
pub struct DomainEnvelope {
    pub domain: DomainBody,
}

/// `GET /v3/domains`.
#[derive(Serialize, ToSchema)]
pub struct DomainList {
    pub domains: Vec<DomainBody>,
    #[schema(value_type = super::ListLinks)]
    pub links: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
}

pub fn render(d: &Domain, base: &str) -> DomainBody {
    DomainBody {
        id: d.id.clone(),
        name: d.name.clone(),
        description: d.description.clone(),
        enabled: d.enabled,
        tags: Vec::new(),
        options: Map::new(),
        links: SelfLink {
            self_: format!("{base}/v3/domains/{}", d.id),
        },
        extra: extra_without(
            &d.extra,
            &[
                "id",
                "name",
                "description",
                "enabled",
                "tags",
                "options",
                "links",
            ],
        ),
    }
}

#[utoipa::path(
    get,
    path = "/v3/domains",
    operation_id = "domains_list",
    tag = "domains",
    responses(
        (status = 200, description = "OK", body = DomainList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<DomainList>> {
    let page = id.list_domains(&ctx, &q).await?;
    let page = page_of(
        page.items.iter().map(|d| render(d, &base)).collect(),
        page.next_marker.as_deref(),
        &base,
        "/v3/domains",
        &q,
    );
    Ok(Json(DomainList {
        domains: page.items,
        links: page.links,
        truncated: page.truncated,
    }))
}

#[utoipa::path(
    post,
    path = "/v3/domains",
    operation_id = "domains_create",
    tag = "domains",
    request_body(content = DomainCreateRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = DomainEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn create(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let input: DomainInput = envelope(body, "domain")?;
    let d = id.create_domain(&ctx, input).await?;
    Ok(created(DomainEnvelope {
        domain: render(&d, &base),
    }))
}

#[utoipa::path(
    get,
    path = "/v3/domains/{id}",
    operation_id = "domains_show",
    tag = "domains",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = DomainEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(did): Path<String>,
) -> Result<Json<DomainEnvelope>> {
    let d = id.get_domain(&ctx, &did).await?;
    Ok(Json(DomainEnvelope {
        domain: render(&d, &base),
    }))
}

#[utoipa::path(
    patch,
    path = "/v3/domains/{id}",
    operation_id = "domains_update",
    tag = "domains",
    params(("id" = String, Path)),
    request_body(content = DomainUpdateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = DomainEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn update(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(did): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<DomainEnvelope>> {
    let input: DomainInput = envelope(body, "domain")?;
    let d = id.update_domain(&ctx, &did, input).await?;
    Ok(Json(DomainEnvelope {
        domain: render(&d, &base),
    }))
}

#[utoipa::path(
    delete,
    path = "/v3/domains/{id}",
    operation_id = "domains_delete",
    tag = "domains",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete(S(id): State, Auth(ctx): Auth, Path(did): Path<String>) -> Result<StatusCode> {
    id.delete_domain(&ctx, &did).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Extra attributes are returned beside the real fields and never
    /// override (or duplicate) one, as Keystone's rendering does.
    #[test]
    fn extra_attributes_never_override_fields() {
        let mut extra = Map::new();
        extra.insert("name".into(), Value::from("shadow"));
        extra.insert("links".into(), Value::from("shadow"));
        extra.insert("color".into(), Value::from("blue"));
        let d = Domain {
            id: "d1".into(),
            name: "real".into(),
            description: String::new(),
            enabled: true,
            extra,
            created_at: 0,
        };
        let text = serde_json::to_string(&render(&d, "http://h")).unwrap_or_default();
        assert_eq!(text.matches("\"name\"").count(), 1, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(v["name"], "real");
        assert_eq!(v["color"], "blue");
        assert_eq!(v["links"]["self"], "http://h/v3/domains/d1");
        assert_eq!(v["tags"], serde_json::json!([]));
    }
}

/// `POST` body: `{"domain": …}`, read as `app::domains::DomainInput`.
#[derive(serde::Deserialize, ToSchema)]
pub struct DomainCreateRequest {
    pub domain: DomainCreate,
}

/// A new domain.
#[derive(serde::Deserialize, ToSchema)]
pub struct DomainCreate {
    pub name: String,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    /// The id to give the domain, generated when absent.
    pub id: Option<String>,
    /// Any other attribute is stored with the domain and shown back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `PATCH` body: `{"domain": …}`, read as `app::domains::DomainInput`; only the
/// attributes given change.
#[derive(serde::Deserialize, ToSchema)]
pub struct DomainUpdateRequest {
    pub domain: DomainUpdate,
}

/// The attributes of a domain to change.
#[derive(serde::Deserialize, ToSchema)]
pub struct DomainUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub id: Option<String>,
    /// Any other attribute is stored with the domain and shown back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

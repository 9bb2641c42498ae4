//! `/v3/regions`, `/v3/services`, `/v3/endpoints`.

use super::{created, envelope, extra_without, paged, SelfLink, State};
use crate::app::catalog::{EndpointInput, RegionInput, ServiceInput};
use crate::db::catalog::{Endpoint, Region, Service};
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
        .route("/v3/regions", get(list_regions).post(create_region))
        .route(
            "/v3/regions/{id}",
            get(show_region)
                .put(put_region)
                .patch(update_region)
                .delete(delete_region),
        )
        .route("/v3/services", get(list_services).post(create_service))
        .route(
            "/v3/services/{id}",
            get(show_service)
                .patch(update_service)
                .delete(delete_service),
        )
        .route("/v3/endpoints", get(list_endpoints).post(create_endpoint))
        .route(
            "/v3/endpoints/{id}",
            get(show_endpoint)
                .patch(update_endpoint)
                .delete(delete_endpoint),
        )
}

/// A region, with the extra attributes stored on it.
#[derive(Serialize, ToSchema)]
pub struct RegionBody {
    pub id: String,
    pub description: String,
    pub parent_region_id: Option<String>,
    pub links: SelfLink,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"region": …}`.
#[derive(Serialize, ToSchema)]
pub struct RegionEnvelope {
    pub region: RegionBody,
}

super::list_type!(RegionList, regions, RegionBody, "A list of regions.");

pub fn render_region(r: &Region, base: &str) -> RegionBody {
    RegionBody {
        id: r.id.clone(),
        description: r.description.clone(),
        parent_region_id: r.parent_region_id.clone(),
        links: SelfLink {
            self_: format!("{base}/v3/regions/{}", r.id),
        },
        extra: extra_without(
            &r.extra,
            &["id", "description", "parent_region_id", "links"],
        ),
    }
}

/// A service, with the extra attributes stored on it.
#[derive(Serialize, ToSchema)]
pub struct ServiceBody {
    pub id: String,
    #[serde(rename = "type")]
    pub service_type: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub links: SelfLink,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"service": …}`.
#[derive(Serialize, ToSchema)]
pub struct ServiceEnvelope {
    pub service: ServiceBody,
}

super::list_type!(ServiceList, services, ServiceBody, "A list of services.");

pub fn render_service(s: &Service, base: &str) -> ServiceBody {
    ServiceBody {
        id: s.id.clone(),
        service_type: s.service_type.clone(),
        name: s.name.clone(),
        description: s.description.clone(),
        enabled: s.enabled,
        links: SelfLink {
            self_: format!("{base}/v3/services/{}", s.id),
        },
        extra: extra_without(
            &s.extra,
            &["id", "type", "name", "description", "enabled", "links"],
        ),
    }
}

/// An endpoint (`region` and `region_id` both the region's id, null when
/// it has none), with the extra attributes stored on it.
#[derive(Serialize, ToSchema)]
pub struct EndpointBody {
    pub id: String,
    pub service_id: String,
    pub interface: String,
    pub url: String,
    pub region: Option<String>,
    pub region_id: Option<String>,
    pub enabled: bool,
    pub links: SelfLink,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"endpoint": …}`.
#[derive(Serialize, ToSchema)]
pub struct EndpointEnvelope {
    pub endpoint: EndpointBody,
}

super::list_type!(
    EndpointList,
    endpoints,
    EndpointBody,
    "A list of endpoints."
);

pub fn render_endpoint(e: &Endpoint, base: &str) -> EndpointBody {
    EndpointBody {
        id: e.id.clone(),
        service_id: e.service_id.clone(),
        interface: e.interface.clone(),
        url: e.url.clone(),
        region: e.region_id.clone(),
        region_id: e.region_id.clone(),
        enabled: e.enabled,
        links: SelfLink {
            self_: format!("{base}/v3/endpoints/{}", e.id),
        },
        extra: extra_without(
            &e.extra,
            &[
                "id",
                "service_id",
                "interface",
                "url",
                "region",
                "region_id",
                "enabled",
                "links",
            ],
        ),
    }
}

#[utoipa::path(
    get,
    path = "/v3/regions",
    operation_id = "catalog_list_regions",
    tag = "catalog",
    responses(
        (status = 200, description = "OK", body = RegionList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list_regions(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<RegionList>> {
    let items = id.list_regions(&ctx, &q).await?;
    paged(
        &id,
        items.iter().map(|r| render_region(r, &base)).collect(),
        |x| x.id.as_str(),
        &base,
        "/v3/regions",
        &q,
    )
    .map(|p| Json(p.into()))
}

#[utoipa::path(
    post,
    path = "/v3/regions",
    operation_id = "catalog_create_region",
    tag = "catalog",
    request_body(content = RegionRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = RegionEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn create_region(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let input: RegionInput = envelope(body, "region")?;
    let r = id.create_region(&ctx, None, input).await?;
    Ok(created(RegionEnvelope {
        region: render_region(&r, &base),
    }))
}

#[utoipa::path(
    put,
    path = "/v3/regions/{id}",
    operation_id = "catalog_put_region",
    tag = "catalog",
    params(("id" = String, Path)),
    request_body(content = RegionRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = RegionEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn put_region(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(rid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let input: RegionInput = envelope(body, "region")?;
    let r = id.create_region(&ctx, Some(rid), input).await?;
    Ok(created(RegionEnvelope {
        region: render_region(&r, &base),
    }))
}

#[utoipa::path(
    get,
    path = "/v3/regions/{id}",
    operation_id = "catalog_show_region",
    tag = "catalog",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = RegionEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show_region(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(rid): Path<String>,
) -> Result<Json<RegionEnvelope>> {
    Ok(Json(RegionEnvelope {
        region: render_region(&id.get_region(&ctx, &rid).await?, &base),
    }))
}

#[utoipa::path(
    patch,
    path = "/v3/regions/{id}",
    operation_id = "catalog_update_region",
    tag = "catalog",
    params(("id" = String, Path)),
    request_body(content = RegionRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = RegionEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn update_region(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(rid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<RegionEnvelope>> {
    let input: RegionInput = envelope(body, "region")?;
    Ok(Json(RegionEnvelope {
        region: render_region(&id.update_region(&ctx, &rid, input).await?, &base),
    }))
}

#[utoipa::path(
    delete,
    path = "/v3/regions/{id}",
    operation_id = "catalog_delete_region",
    tag = "catalog",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete_region(
    S(id): State,
    Auth(ctx): Auth,
    Path(rid): Path<String>,
) -> Result<StatusCode> {
    id.delete_region(&ctx, &rid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v3/services",
    operation_id = "catalog_list_services",
    tag = "catalog",
    responses(
        (status = 200, description = "OK", body = ServiceList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list_services(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<ServiceList>> {
    let items = id.list_services(&ctx, &q).await?;
    paged(
        &id,
        items.iter().map(|s| render_service(s, &base)).collect(),
        |x| x.id.as_str(),
        &base,
        "/v3/services",
        &q,
    )
    .map(|p| Json(p.into()))
}

#[utoipa::path(
    post,
    path = "/v3/services",
    operation_id = "catalog_create_service",
    tag = "catalog",
    request_body(content = ServiceCreateRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = ServiceEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn create_service(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let input: ServiceInput = envelope(body, "service")?;
    let s = id.create_service(&ctx, input).await?;
    Ok(created(ServiceEnvelope {
        service: render_service(&s, &base),
    }))
}

#[utoipa::path(
    get,
    path = "/v3/services/{id}",
    operation_id = "catalog_show_service",
    tag = "catalog",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = ServiceEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show_service(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(sid): Path<String>,
) -> Result<Json<ServiceEnvelope>> {
    Ok(Json(ServiceEnvelope {
        service: render_service(&id.get_service(&ctx, &sid).await?, &base),
    }))
}

#[utoipa::path(
    patch,
    path = "/v3/services/{id}",
    operation_id = "catalog_update_service",
    tag = "catalog",
    params(("id" = String, Path)),
    request_body(content = ServiceUpdateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = ServiceEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn update_service(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(sid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<ServiceEnvelope>> {
    let input: ServiceInput = envelope(body, "service")?;
    Ok(Json(ServiceEnvelope {
        service: render_service(&id.update_service(&ctx, &sid, input).await?, &base),
    }))
}

#[utoipa::path(
    delete,
    path = "/v3/services/{id}",
    operation_id = "catalog_delete_service",
    tag = "catalog",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete_service(
    S(id): State,
    Auth(ctx): Auth,
    Path(sid): Path<String>,
) -> Result<StatusCode> {
    id.delete_service(&ctx, &sid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v3/endpoints",
    operation_id = "catalog_list_endpoints",
    tag = "catalog",
    responses(
        (status = 200, description = "OK", body = EndpointList),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list_endpoints(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<EndpointList>> {
    let items = id.list_endpoints(&ctx, &q).await?;
    paged(
        &id,
        items.iter().map(|e| render_endpoint(e, &base)).collect(),
        |x| x.id.as_str(),
        &base,
        "/v3/endpoints",
        &q,
    )
    .map(|p| Json(p.into()))
}

#[utoipa::path(
    post,
    path = "/v3/endpoints",
    operation_id = "catalog_create_endpoint",
    tag = "catalog",
    request_body(content = EndpointCreateRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = EndpointEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn create_endpoint(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let input: EndpointInput = envelope(body, "endpoint")?;
    let e = id.create_endpoint(&ctx, input).await?;
    Ok(created(EndpointEnvelope {
        endpoint: render_endpoint(&e, &base),
    }))
}

#[utoipa::path(
    get,
    path = "/v3/endpoints/{id}",
    operation_id = "catalog_show_endpoint",
    tag = "catalog",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = EndpointEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show_endpoint(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(eid): Path<String>,
) -> Result<Json<EndpointEnvelope>> {
    Ok(Json(EndpointEnvelope {
        endpoint: render_endpoint(&id.get_endpoint(&ctx, &eid).await?, &base),
    }))
}

#[utoipa::path(
    patch,
    path = "/v3/endpoints/{id}",
    operation_id = "catalog_update_endpoint",
    tag = "catalog",
    params(("id" = String, Path)),
    request_body(content = EndpointUpdateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = EndpointEnvelope),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn update_endpoint(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(eid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<EndpointEnvelope>> {
    let input: EndpointInput = envelope(body, "endpoint")?;
    Ok(Json(EndpointEnvelope {
        endpoint: render_endpoint(&id.update_endpoint(&ctx, &eid, input).await?, &base),
    }))
}

#[utoipa::path(
    delete,
    path = "/v3/endpoints/{id}",
    operation_id = "catalog_delete_endpoint",
    tag = "catalog",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete_endpoint(
    S(id): State,
    Auth(ctx): Auth,
    Path(eid): Path<String>,
) -> Result<StatusCode> {
    id.delete_endpoint(&ctx, &eid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v3/regions`, `PUT` and `PATCH /v3/regions/{id}` body:
/// `{"region": …}`, read as `app::catalog::RegionInput`.
#[derive(serde::Deserialize, ToSchema)]
pub struct RegionRequest {
    pub region: RegionFields,
}

/// A region's attributes; none is required.
#[derive(serde::Deserialize, ToSchema)]
pub struct RegionFields {
    /// With `POST`, the id to give the region (generated when absent);
    /// with `PUT`, equal to the id in the path if given; `PATCH` ignores it.
    pub id: Option<String>,
    pub description: Option<String>,
    /// Null clears it.
    pub parent_region_id: Option<String>,
    /// Any other attribute is stored with the region and shown back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /v3/services` body: `{"service": …}`, read as
/// `app::catalog::ServiceInput`.
#[derive(serde::Deserialize, ToSchema)]
pub struct ServiceCreateRequest {
    pub service: ServiceCreate,
}

/// A new service.
#[derive(serde::Deserialize, ToSchema)]
pub struct ServiceCreate {
    /// The service type (`compute`, `identity`, …).
    #[serde(rename = "type")]
    pub service_type: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    /// Any other attribute is stored with the service and shown back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `PATCH /v3/services/{id}` body: `{"service": …}`, read as
/// `app::catalog::ServiceInput`; only the attributes given change.
#[derive(serde::Deserialize, ToSchema)]
pub struct ServiceUpdateRequest {
    pub service: ServiceUpdate,
}

/// The attributes of a service to change.
#[derive(serde::Deserialize, ToSchema)]
pub struct ServiceUpdate {
    #[serde(rename = "type")]
    pub service_type: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    /// Any other attribute is stored with the service and shown back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /v3/endpoints` body: `{"endpoint": …}`, read as
/// `app::catalog::EndpointInput`.
#[derive(serde::Deserialize, ToSchema)]
pub struct EndpointCreateRequest {
    pub endpoint: EndpointCreate,
}

/// A new endpoint.
#[derive(serde::Deserialize, ToSchema)]
pub struct EndpointCreate {
    pub service_id: String,
    /// `public`, `internal` or `admin`.
    pub interface: String,
    /// An http(s) URL.
    pub url: String,
    pub region_id: Option<String>,
    /// Deprecated alias of `region_id`, still sent by old clients.
    pub region: Option<String>,
    pub enabled: Option<bool>,
    /// Any other attribute is stored with the endpoint and shown back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `PATCH /v3/endpoints/{id}` body: `{"endpoint": …}`, read as
/// `app::catalog::EndpointInput`; only the attributes given change.
#[derive(serde::Deserialize, ToSchema)]
pub struct EndpointUpdateRequest {
    pub endpoint: EndpointUpdate,
}

/// The attributes of an endpoint to change.
#[derive(serde::Deserialize, ToSchema)]
pub struct EndpointUpdate {
    pub service_id: Option<String>,
    pub interface: Option<String>,
    pub url: Option<String>,
    /// Null clears it.
    pub region_id: Option<String>,
    /// Deprecated alias of `region_id`.
    pub region: Option<String>,
    pub enabled: Option<bool>,
    /// Any other attribute is stored with the endpoint and shown back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

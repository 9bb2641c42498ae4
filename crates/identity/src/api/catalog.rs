//! `/v3/regions`, `/v3/services`, `/v3/endpoints`.

use super::{created, envelope, list_body, with_extra, State};
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
use serde_json::{json, Value};
use std::sync::Arc;

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

pub fn render_region(r: &Region, base: &str) -> Value {
    with_extra(
        json!({
            "id": r.id,
            "description": r.description,
            "parent_region_id": r.parent_region_id,
            "links": {"self": format!("{base}/v3/regions/{}", r.id)},
        }),
        &r.extra,
    )
}

pub fn render_service(s: &Service, base: &str) -> Value {
    with_extra(
        json!({
            "id": s.id,
            "type": s.service_type,
            "name": s.name,
            "description": s.description,
            "enabled": s.enabled,
            "links": {"self": format!("{base}/v3/services/{}", s.id)},
        }),
        &s.extra,
    )
}

pub fn render_endpoint(e: &Endpoint, base: &str) -> Value {
    with_extra(
        json!({
            "id": e.id,
            "service_id": e.service_id,
            "interface": e.interface,
            "url": e.url,
            "region": e.region_id,
            "region_id": e.region_id,
            "enabled": e.enabled,
            "links": {"self": format!("{base}/v3/endpoints/{}", e.id)},
        }),
        &e.extra,
    )
}

#[utoipa::path(
    get,
    path = "/v3/regions",
    operation_id = "catalog_list_regions",
    tag = "catalog",
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list_regions(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    let items = id.list_regions(&ctx, &q).await?;
    list_body(
        &id,
        "regions",
        items.iter().map(|r| render_region(r, &base)).collect(),
        &base,
        "/v3/regions",
        &q,
    )
}

#[utoipa::path(
    post,
    path = "/v3/regions",
    operation_id = "catalog_create_region",
    tag = "catalog",
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = serde_json::Value),
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
    Ok(created(json!({"region": render_region(&r, &base)})))
}

#[utoipa::path(
    put,
    path = "/v3/regions/{id}",
    operation_id = "catalog_put_region",
    tag = "catalog",
    params(("id" = String, Path)),
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = serde_json::Value),
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
    Ok(created(json!({"region": render_region(&r, &base)})))
}

#[utoipa::path(
    get,
    path = "/v3/regions/{id}",
    operation_id = "catalog_show_region",
    tag = "catalog",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show_region(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(rid): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(
        json!({"region": render_region(&id.get_region(&ctx, &rid).await?, &base)}),
    ))
}

#[utoipa::path(
    patch,
    path = "/v3/regions/{id}",
    operation_id = "catalog_update_region",
    tag = "catalog",
    params(("id" = String, Path)),
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn update_region(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(rid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let input: RegionInput = envelope(body, "region")?;
    Ok(Json(
        json!({"region": render_region(&id.update_region(&ctx, &rid, input).await?, &base)}),
    ))
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
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list_services(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    let items = id.list_services(&ctx, &q).await?;
    list_body(
        &id,
        "services",
        items.iter().map(|s| render_service(s, &base)).collect(),
        &base,
        "/v3/services",
        &q,
    )
}

#[utoipa::path(
    post,
    path = "/v3/services",
    operation_id = "catalog_create_service",
    tag = "catalog",
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = serde_json::Value),
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
    Ok(created(json!({"service": render_service(&s, &base)})))
}

#[utoipa::path(
    get,
    path = "/v3/services/{id}",
    operation_id = "catalog_show_service",
    tag = "catalog",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show_service(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(sid): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(
        json!({"service": render_service(&id.get_service(&ctx, &sid).await?, &base)}),
    ))
}

#[utoipa::path(
    patch,
    path = "/v3/services/{id}",
    operation_id = "catalog_update_service",
    tag = "catalog",
    params(("id" = String, Path)),
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn update_service(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(sid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let input: ServiceInput = envelope(body, "service")?;
    Ok(Json(
        json!({"service": render_service(&id.update_service(&ctx, &sid, input).await?, &base)}),
    ))
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
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn list_endpoints(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    let items = id.list_endpoints(&ctx, &q).await?;
    list_body(
        &id,
        "endpoints",
        items.iter().map(|e| render_endpoint(e, &base)).collect(),
        &base,
        "/v3/endpoints",
        &q,
    )
}

#[utoipa::path(
    post,
    path = "/v3/endpoints",
    operation_id = "catalog_create_endpoint",
    tag = "catalog",
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = serde_json::Value),
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
    Ok(created(json!({"endpoint": render_endpoint(&e, &base)})))
}

#[utoipa::path(
    get,
    path = "/v3/endpoints/{id}",
    operation_id = "catalog_show_endpoint",
    tag = "catalog",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show_endpoint(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(eid): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(
        json!({"endpoint": render_endpoint(&id.get_endpoint(&ctx, &eid).await?, &base)}),
    ))
}

#[utoipa::path(
    patch,
    path = "/v3/endpoints/{id}",
    operation_id = "catalog_update_endpoint",
    tag = "catalog",
    params(("id" = String, Path)),
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = serde_json::Value),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn update_endpoint(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(eid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let input: EndpointInput = envelope(body, "endpoint")?;
    Ok(Json(
        json!({"endpoint": render_endpoint(&id.update_endpoint(&ctx, &eid, input).await?, &base)}),
    ))
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

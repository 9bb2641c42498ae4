//! `/v3/domains`.

use super::{created, envelope, page_body, with_extra, State};
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
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Identity>> {
    Router::new()
        .route("/v3/domains", get(list).post(create))
        .route("/v3/domains/{id}", get(show).patch(update).delete(delete))
}

pub fn render(d: &Domain, base: &str) -> Value {
    with_extra(
        json!({
            "id": d.id,
            "name": d.name,
            "description": d.description,
            "enabled": d.enabled,
            "tags": [],
            "options": {},
            "links": {"self": format!("{base}/v3/domains/{}", d.id)},
        }),
        &d.extra,
    )
}

async fn list(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    let page = id.list_domains(&ctx, &q).await?;
    Ok(page_body(
        "domains",
        page.items.iter().map(|d| render(d, &base)).collect(),
        page.next_marker.as_deref(),
        &base,
        "/v3/domains",
        &q,
    ))
}

async fn create(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let input: DomainInput = envelope(body, "domain")?;
    let d = id.create_domain(&ctx, input).await?;
    Ok(created(json!({"domain": render(&d, &base)})))
}

async fn show(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(did): Path<String>,
) -> Result<Json<Value>> {
    let d = id.get_domain(&ctx, &did).await?;
    Ok(Json(json!({"domain": render(&d, &base)})))
}

async fn update(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(did): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let input: DomainInput = envelope(body, "domain")?;
    let d = id.update_domain(&ctx, &did, input).await?;
    Ok(Json(json!({"domain": render(&d, &base)})))
}

async fn delete(S(id): State, Auth(ctx): Auth, Path(did): Path<String>) -> Result<StatusCode> {
    id.delete_domain(&ctx, &did).await?;
    Ok(StatusCode::NO_CONTENT)
}

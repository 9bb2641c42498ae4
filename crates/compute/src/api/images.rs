//! `/images` and `/images/{id}/metadata`: Nova's proxy of the image
//! service. The image calls stop at microversion 2.35 and the metadata
//! calls at 2.38 (Nova's `MAX_PROXY_API_SUPPORT_VERSION` and
//! `MAX_IMAGE_META_PROXY_API_VERSION`); later ones answer 404 as Nova.

use super::floating_ips::proxy_only;
use super::{Microversion, State};
use crate::app::images::{
    basic_view, detail_view, parse_meta_item, parse_metadata_body, MAX_LIMIT,
};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::{BaseUrl, JsonBody, QueryMap};
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;

/// The last microversion of the image metadata proxy.
const MAX_IMAGE_META: u32 = 38;

pub fn routes() -> Router<Arc<crate::Compute>> {
    Router::new()
        .route("/v2.1/images", get(index))
        .route("/v2.1/images/detail", get(detail))
        .route("/v2.1/images/{id}", get(show).delete(delete))
        .route(
            "/v2.1/images/{id}/metadata",
            get(meta_index).post(meta_create).put(meta_update_all),
        )
        .route(
            "/v2.1/images/{id}/metadata/{key}",
            get(meta_show).put(meta_update).delete(meta_delete),
        )
}

fn meta_only(mv: Microversion) -> Result<()> {
    if mv.at_least(MAX_IMAGE_META + 1) {
        return Err(Error::not_found("The resource could not be found."));
    }
    Ok(())
}

/// Nova's `_get_collection_links`: a `next` link when the page is as
/// long as the limit asked for (or `max_limit`).
fn with_links(mut body: Value, items: usize, last: Option<&str>, q: &QueryMap, url: &str) -> Value {
    let max_items = q
        .get("limit")
        .and_then(|l| l.trim().parse::<usize>().ok())
        .unwrap_or(MAX_LIMIT)
        .min(MAX_LIMIT);
    if max_items != 0 && max_items == items {
        if let Some(l) = super::flavors::next_links(url, q, last) {
            body["images_links"] = l;
        }
    }
    body
}

/// `GET /v2.1/images`.
async fn index(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    list(&nova, &ctx, mv, &base, &q, basic_view, "images").await
}

/// `GET /v2.1/images/detail`.
async fn detail(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    list(&nova, &ctx, mv, &base, &q, detail_view, "images/detail").await
}

/// The two lists: one page of images in `view`, with the next link to
/// `path` (under `/v2.1/`).
async fn list(
    nova: &crate::Compute,
    ctx: &common::context::AuthContext,
    mv: Microversion,
    base: &str,
    q: &QueryMap,
    view: fn(&image::db::images::Image, &str, &str) -> Value,
    path: &str,
) -> Result<Json<Value>> {
    proxy_only(mv)?;
    let images = nova.proxy_list_images(ctx, q).await?;
    let glance = nova.glance_url();
    let items: Vec<Value> = images.iter().map(|i| view(i, base, &glance)).collect();
    let last = images.last().map(|i| i.id.as_str());
    let body = json!({ "images": items });
    Ok(Json(with_links(
        body,
        images.len(),
        last,
        q,
        &format!("{base}/v2.1/{path}"),
    )))
}

/// `GET /v2.1/images/{id}`.
async fn show(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    proxy_only(mv)?;
    let img = nova.proxy_show_image(&ctx, &id).await?;
    Ok(Json(
        json!({ "image": detail_view(&img, &base, &nova.glance_url()) }),
    ))
}

/// `DELETE /v2.1/images/{id}`.
async fn delete(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    proxy_only(mv)?;
    nova.proxy_delete_image(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v2.1/images/{id}/metadata`.
async fn meta_index(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    meta_only(mv)?;
    let m = nova.image_metadata(&ctx, &id).await?;
    Ok(Json(json!({ "metadata": m })))
}

/// `POST /v2.1/images/{id}/metadata`: merged; answers every property.
async fn meta_create(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    meta_only(mv)?;
    let new = parse_metadata_body(&body)?;
    let m = nova.merge_image_metadata(&ctx, &id, new).await?;
    Ok(Json(json!({ "metadata": m })))
}

/// `PUT /v2.1/images/{id}/metadata`: replaced; answers the new set.
async fn meta_update_all(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    meta_only(mv)?;
    let new = parse_metadata_body(&body)?;
    nova.replace_image_metadata(&ctx, &id, new.clone()).await?;
    Ok(Json(json!({ "metadata": new })))
}

/// `GET /v2.1/images/{id}/metadata/{key}`.
async fn meta_show(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((id, key)): Path<(String, String)>,
) -> Result<Json<Value>> {
    meta_only(mv)?;
    let v = nova.image_metadata_item(&ctx, &id, &key).await?;
    Ok(Json(json!({ "meta": { key: v } })))
}

/// `PUT /v2.1/images/{id}/metadata/{key}`.
async fn meta_update(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((id, key)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    meta_only(mv)?;
    let (key, value) = parse_meta_item(&body, &key)?;
    nova.set_image_metadata_item(&ctx, &id, key.clone(), value.clone())
        .await?;
    Ok(Json(json!({ "meta": { key: value } })))
}

/// `DELETE /v2.1/images/{id}/metadata/{key}`.
async fn meta_delete(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((id, key)): Path<(String, String)>,
) -> Result<StatusCode> {
    meta_only(mv)?;
    nova.delete_image_metadata_item(&ctx, &id, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

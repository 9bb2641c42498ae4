//! `/os-quota-sets/{project_id}` (+ `/detail`, `/defaults`) and
//! `/os-quota-class-sets/{id}`; the keys shown follow the microversion
//! (network keys gone at 2.36, personality keys at 2.57).

use super::{Microversion, State};
use crate::app::quotas::{class_keys_at, keys_at, render};
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::{JsonBody, QueryMap};
use common::{Error, Result};
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Compute>> {
    Router::new()
        .route(
            "/v2.1/os-quota-sets/{project}",
            get(show).put(update).delete(delete),
        )
        .route("/v2.1/os-quota-sets/{project}/detail", get(detail))
        .route("/v2.1/os-quota-sets/{project}/defaults", get(defaults))
        .route(
            "/v2.1/os-quota-class-sets/{class}",
            get(show_class).put(update_class),
        )
}

/// `?user_id=`; from 2.75 no other query parameter is allowed.
fn user_of(mv: Microversion, q: &QueryMap) -> Result<Option<&str>> {
    if mv.at_least(75) {
        if let Some((k, _)) = q.0.iter().find(|(k, _)| k != "user_id") {
            return Err(Error::bad_request(format!(
                "Invalid input for query parameters {k}. Additional properties are not \
                 allowed ('{k}' was unexpected)"
            )));
        }
    }
    Ok(q.get("user_id").filter(|u| !u.is_empty()))
}

async fn show(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(project): Path<String>,
    q: QueryMap,
) -> Result<Json<Value>> {
    let l = nova.show_quotas(&ctx, &project, user_of(mv, &q)?).await?;
    Ok(Json(
        json!({"quota_set": render(&l, &keys_at(mv), Some(&project))}),
    ))
}

async fn detail(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(project): Path<String>,
    q: QueryMap,
) -> Result<Json<Value>> {
    let d = nova.quota_details(&ctx, &project, user_of(mv, &q)?).await?;
    let mut m = Map::new();
    m.insert("id".into(), json!(project));
    for k in keys_at(mv) {
        if let Some(v) = d.get(k) {
            m.insert(
                k.into(),
                json!({"limit": v.limit, "in_use": v.in_use, "reserved": v.reserved}),
            );
        }
    }
    Ok(Json(json!({ "quota_set": m })))
}

async fn defaults(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(project): Path<String>,
) -> Result<Json<Value>> {
    let l = nova.quota_defaults(&ctx, &project).await?;
    Ok(Json(
        json!({"quota_set": render(&l, &keys_at(mv), Some(&project))}),
    ))
}

async fn update(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(project): Path<String>,
    q: QueryMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let l = nova
        .update_quotas(&ctx, mv, &project, user_of(mv, &q)?, &body)
        .await?;
    Ok(Json(json!({"quota_set": render(&l, &keys_at(mv), None)})))
}

async fn delete(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(project): Path<String>,
    q: QueryMap,
) -> Result<StatusCode> {
    nova.delete_quotas(&ctx, &project, user_of(mv, &q)?).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn show_class(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(class): Path<String>,
) -> Result<Json<Value>> {
    let l = nova.show_quota_class(&ctx, &class).await?;
    Ok(Json(
        json!({"quota_class_set": render(&l, &class_keys_at(mv), Some(&class))}),
    ))
}

async fn update_class(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(class): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let l = nova.update_quota_class(&ctx, mv, &class, &body).await?;
    Ok(Json(
        json!({"quota_class_set": render(&l, &class_keys_at(mv), None)}),
    ))
}

//! `/servers/{id}/tags` and `/servers/{id}/tags/{tag}` (from 2.26; a
//! 404 before, as the routes did not exist).

use super::{Microversion, State};
use axum::extract::{Path, State as S};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::{BaseUrl, JsonBody};
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Compute>> {
    Router::new()
        .route(
            "/v2.1/servers/{id}/tags",
            get(index).put(replace).delete(delete_all),
        )
        .route(
            "/v2.1/servers/{id}/tags/{tag}",
            get(check).put(add).delete(delete),
        )
}

fn since_2_26(mv: Microversion) -> Result<()> {
    if mv.at_least(26) {
        Ok(())
    } else {
        Err(Error::not_found("The resource could not be found."))
    }
}

async fn index(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    since_2_26(mv)?;
    Ok(Json(json!({"tags": c.server_tags(&ctx, &id).await?})))
}

async fn replace(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Json<Value>> {
    since_2_26(mv)?;
    Ok(Json(
        json!({"tags": c.replace_server_tags(&ctx, &id, &b).await?}),
    ))
}

async fn delete_all(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    since_2_26(mv)?;
    c.delete_server_tags(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn check(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode> {
    since_2_26(mv)?;
    if c.server_has_tag(&ctx, &id, &tag).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::not_found(format!("Tag {tag} could not be found.")))
    }
}

/// 201 with the tag's location when added, 204 when it was there.
async fn add(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response> {
    since_2_26(mv)?;
    if c.add_server_tag(&ctx, &id, &tag).await? {
        let location = format!("{base}/v2.1/servers/{id}/tags/{tag}");
        Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
    } else {
        Ok(StatusCode::NO_CONTENT.into_response())
    }
}

async fn delete(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((id, tag)): Path<(String, String)>,
) -> Result<StatusCode> {
    since_2_26(mv)?;
    c.delete_server_tag(&ctx, &id, &tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

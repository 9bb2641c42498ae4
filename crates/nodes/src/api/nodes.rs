//! `/internal/v1/nodes…`: registration, heartbeat, desired state, status,
//! and the admin listing.

use super::{bearer, user_token, State};
use crate::wire;
use axum::extract::Path;
use axum::extract::State as S;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use common::http::{JsonBody, QueryMap};
use common::Error;
use std::time::Duration;

/// `GET /internal/v1/nodes` (admin token).
pub async fn list(S(nodes): State, headers: HeaderMap) -> Result<Json<wire::NodeList>, Error> {
    nodes.require_admin(user_token(&headers)?).await?;
    Ok(Json(nodes.list().await?))
}

/// `PUT /internal/v1/nodes/{name}` (join secret): 201 with the node and
/// its token; a repeat rotates the token.
pub async fn register(
    S(nodes): State,
    Path(name): Path<String>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<wire::RegisterRequest>,
) -> Result<Response, Error> {
    let out = nodes.register(bearer(&headers)?, &name, req).await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// `POST /internal/v1/nodes/{name}/heartbeat` (node token): 204.
pub async fn heartbeat(
    S(nodes): State,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Error> {
    let node = nodes.authenticate(&name, bearer(&headers)?).await?;
    nodes.heartbeat(&node).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /internal/v1/nodes/{name}/desired-state?after=REV&timeout=S`
/// (node token): 200 with `{revision, document}` once the revision is past
/// `after` (at once without `after`), 304 when `timeout` passed first.
pub async fn desired_state(
    S(nodes): State,
    Path(name): Path<String>,
    headers: HeaderMap,
    query: QueryMap,
) -> Result<Response, Error> {
    let token = bearer(&headers)?;
    let node = nodes.authenticate(&name, token).await?;
    let after = query
        .get("after")
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| Error::bad_request("after must be an integer revision."))
        })
        .transpose()?;
    let timeout = query
        .get("timeout")
        .map(|v| {
            v.parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| Error::bad_request("timeout must be a whole number of seconds."))
        })
        .transpose()?;
    match nodes
        .wait_desired_state(&node, token, after, timeout)
        .await?
    {
        Some(doc) => Ok(Json(doc).into_response()),
        None => Ok(StatusCode::NOT_MODIFIED.into_response()),
    }
}

/// `PUT /internal/v1/nodes/{name}/status` (node token): 204.
pub async fn report_status(
    S(nodes): State,
    Path(name): Path<String>,
    headers: HeaderMap,
    JsonBody(report): JsonBody<wire::StatusReport>,
) -> Result<StatusCode, Error> {
    let node = nodes.authenticate(&name, bearer(&headers)?).await?;
    nodes.report_status(&node, report).await?;
    Ok(StatusCode::NO_CONTENT)
}

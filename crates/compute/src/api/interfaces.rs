//! `/v2.1/servers/{id}/os-interface[/{port_id}]`: list, show, attach
//! (200 with the attachment) and detach (202), shaped per tempest's
//! `interfaces` schemas (`tag` from 2.70).

use super::servers::request_id;
use super::{Microversion, State};
use crate::app::interfaces::parse_attach;
use axum::body::Bytes;
use axum::extract::{Extension, Path};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::request_id::RequestId;
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Compute>> {
    Router::new()
        .route("/v2.1/servers/{id}/os-interface", get(index).post(create))
        .route(
            "/v2.1/servers/{id}/os-interface/{port_id}",
            get(show).delete(delete),
        )
}

async fn index(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let items = nova.list_interfaces(&ctx, mv, &id).await?;
    Ok(Json(json!({ "interfaceAttachments": items })))
}

async fn show(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((id, port_id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let a = nova.show_interface(&ctx, mv, &id, &port_id).await?;
    Ok(Json(json!({ "interfaceAttachment": a })))
}

/// The body is optional (no body: any network), so it is read raw.
async fn create(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    rid: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>> {
    let body: Option<Value> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(
            serde_json::from_slice(&body)
                .map_err(|_| Error::bad_request("Malformed request body"))?,
        )
    };
    let req = parse_attach(body.as_ref(), mv)?;
    let a = nova
        .attach_interface(&ctx, mv, &id, req, &request_id(&rid))
        .await?;
    Ok(Json(json!({ "interfaceAttachment": a })))
}

async fn delete(
    axum::extract::State(nova): State,
    Auth(ctx): Auth,
    rid: Option<Extension<RequestId>>,
    Path((id, port_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    nova.detach_interface(&ctx, &id, &port_id, &request_id(&rid))
        .await?;
    Ok(StatusCode::ACCEPTED)
}

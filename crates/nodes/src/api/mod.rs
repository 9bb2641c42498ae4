//! The internal API's routes and its two kinds of caller: node agents
//! (`Authorization: Bearer` with the join secret at registration, then the
//! node's token) and admins listing nodes (`X-Auth-Token`). Errors are
//! rendered by the renderer the composition root gives (Keystone's JSON
//! body, the one the rest of the cloud's auth speaks).

pub mod nodes;

use crate::Nodes;
use axum::http::HeaderMap;
use axum::routing::{get, post, put};
use axum::Router;
use common::http::Renderer;
use common::Error;
use std::sync::Arc;

pub type State = axum::extract::State<Arc<Nodes>>;

/// The whole internal API, with the shared layers applied: the registry's
/// routes and each service's internal router (`(service type, router)`),
/// mounted at `/internal/v1/nodes/{name}/<service type>` behind the
/// node's credentials.
pub fn router(
    nodes: Arc<Nodes>,
    renderer: Renderer,
    max_body: usize,
    services: Vec<(&'static str, Router)>,
) -> Router {
    let mut r = Router::new()
        .route("/internal/v1/nodes", get(nodes::list))
        .route("/internal/v1/nodes/{name}", put(nodes::register))
        .route(
            "/internal/v1/nodes/{name}/heartbeat",
            post(nodes::heartbeat),
        )
        .route(
            "/internal/v1/nodes/{name}/desired-state",
            get(nodes::desired_state),
        )
        .route(
            "/internal/v1/nodes/{name}/status",
            put(nodes::report_status),
        )
        .fallback(common::http::errors::not_found)
        .with_state(nodes.clone());
    for (service_type, svc) in services {
        let svc = svc.layer(axum::middleware::from_fn_with_state(
            nodes.clone(),
            node_credentials,
        ));
        r = r.nest(&format!("/internal/v1/nodes/{{name}}/{service_type}"), svc);
    }
    common::http::service_layers(r, renderer, max_body)
}

/// Lets a request into a service's internal routes only with the named
/// node's current token, and hands the handlers that node.
async fn node_credentials(
    axum::extract::State(nodes): State,
    params: axum::extract::RawPathParams,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<axum::response::Response, Error> {
    let name = params
        .iter()
        .find(|(k, _)| *k == "name")
        .map(|(_, v)| v.to_string())
        .ok_or_else(|| Error::not_found("No node is named in the path."))?;
    let token = bearer(req.headers())?.to_string();
    let node = nodes.authenticate(&name, &token).await?;
    req.extensions_mut().insert(node);
    Ok(next.run(req).await)
}

/// The bearer credential of a node call. A user token is named as the
/// wrong kind of credential rather than looked at.
pub(crate) fn bearer(headers: &HeaderMap) -> Result<&str, Error> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    match bearer {
        Some(t) => Ok(t),
        None if headers.contains_key("x-auth-token") => Err(Error::unauthorized(
            "The internal API takes node credentials (Authorization: Bearer), not user tokens.",
        )),
        None => Err(Error::unauthorized(
            "The request you have made requires node credentials.",
        )),
    }
}

/// The user token of an admin call; a node credential is refused.
pub(crate) fn user_token(headers: &HeaderMap) -> Result<&str, Error> {
    headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::unauthorized("The request you have made requires authentication."))
}

//! The Identity v3 HTTP API: routes, version discovery and the JSON shapes
//! of each resource.

pub mod app_creds;
pub mod assignments;
pub mod auth;
pub mod catalog;
pub mod credentials;
pub mod domain_configs;
pub mod domains;
pub mod endpoint_filter;
pub mod groups;
pub mod json_home;
pub mod oauth1;
pub mod policies;
pub mod projects;
pub mod roles;
pub mod trusts;
pub mod users;

use crate::Identity;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::http::{BaseUrl, ErrorStyle, QueryMap};
use common::Result;
use serde_json::{json, Value};
use std::sync::Arc;

pub type State = axum::extract::State<Arc<Identity>>;

/// The whole Keystone API, with the shared layers applied.
pub fn router(identity: Arc<Identity>, max_body: usize) -> Router {
    let validator: Arc<dyn common::auth::TokenValidator> = identity.clone();
    let r = Router::new()
        .route("/", get(versions))
        .route("/v3", get(version))
        .merge(auth::routes())
        .merge(domains::routes())
        .merge(projects::routes())
        .merge(users::routes())
        .merge(groups::routes())
        .merge(roles::routes())
        .merge(assignments::routes())
        .merge(catalog::routes())
        .merge(app_creds::routes())
        .merge(policies::routes())
        .merge(credentials::routes())
        .merge(trusts::routes())
        .merge(endpoint_filter::routes())
        .merge(domain_configs::routes())
        .merge(oauth1::routes())
        .fallback(common::http::errors::not_found)
        .with_state(identity);
    let r = common::auth::with_validator_for(r, validator, "identity");
    let r = common::http::service_layers(r, ErrorStyle::Keystone, max_body);
    // Before routing: Keystone's flask app has `strict_slashes` off, so
    // `/v3/users/` is `/v3/users`, and clients rely on it (tempest's
    // trusts client lists `OS-TRUST/trusts/`).
    let strip = tower::util::MapRequestLayer::new(without_trailing_slash);
    Router::new().fallback_service(tower::Layer::layer(&strip, r))
}

/// The request with its path's trailing slashes removed (`/` stays).
fn without_trailing_slash(mut req: axum::extract::Request) -> axum::extract::Request {
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = match path.trim_end_matches('/') {
            "" => "/",
            t => t,
        };
        let pq = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(pq) = pq.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}

fn version_doc(base: &str) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{base}/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    })
}

/// `GET /`: 300 Multiple Choices, as Keystone answers; the JSON Home
/// document of v3 (paths under `/v3`) when the client asks for it.
async fn versions(BaseUrl(base): BaseUrl, headers: HeaderMap) -> Response {
    if json_home::wanted(&headers) {
        return json_home::response("/v3");
    }
    (
        StatusCode::MULTIPLE_CHOICES,
        Json(json!({"versions": {"values": [version_doc(&base)]}})),
    )
        .into_response()
}

/// `GET /v3`: the version, or its JSON Home document (paths relative to
/// `/v3`, as Keystone serves it there).
async fn version(BaseUrl(base): BaseUrl, headers: HeaderMap) -> Response {
    if json_home::wanted(&headers) {
        return json_home::response("");
    }
    Json(json!({"version": version_doc(&base)})).into_response()
}

/// `{"<plural>": [...], "links": {...}}` with limit/marker pagination.
pub(crate) fn list_body(
    identity: &Identity,
    plural: &str,
    items: Vec<Value>,
    base: &str,
    path: &str,
    q: &QueryMap,
) -> Result<Json<Value>> {
    let params = common::http::PageParams::from_query(q, identity.settings.list_limit)?;
    let page =
        common::http::pagination::paginate(items, |v| v["id"].as_str().unwrap_or(""), &params)?;
    let links =
        common::http::pagination::links(&format!("{base}{path}"), q, page.next_marker.as_deref());
    let mut body = json!({ plural: page.items, "links": links });
    if page.next_marker.is_some() {
        body["truncated"] = json!(true);
    }
    Ok(Json(body))
}

/// `{"<plural>": [...], "links": {...}}` for a page paged in SQL (the same
/// shape as [`list_body`]).
pub(crate) fn page_body(
    plural: &str,
    items: Vec<Value>,
    next_marker: Option<&str>,
    base: &str,
    path: &str,
    q: &QueryMap,
) -> Json<Value> {
    let links = common::http::pagination::links(&format!("{base}{path}"), q, next_marker);
    let mut body = json!({ plural: items, "links": links });
    if next_marker.is_some() {
        body["truncated"] = json!(true);
    }
    Json(body)
}

/// 201 Created with a JSON body.
pub(crate) fn created(body: Value) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
}

/// Adds the extra attributes to a rendered resource without letting them
/// override the real fields.
pub(crate) fn with_extra(mut v: Value, extra: &serde_json::Map<String, Value>) -> Value {
    if let Value::Object(m) = &mut v {
        for (k, x) in extra {
            m.entry(k.clone()).or_insert_with(|| x.clone());
        }
    }
    v
}

/// Unwraps `{"<key>": {...}}` or says which key was expected.
pub(crate) fn envelope<T: serde::de::DeserializeOwned>(body: Value, key: &str) -> Result<T> {
    let Value::Object(mut m) = body else {
        return Err(common::Error::bad_request(format!(
            "Invalid input: expected an object with '{key}'."
        )));
    };
    let inner = m.remove(key).ok_or_else(|| {
        common::Error::bad_request(format!("Invalid input: '{key}' is a required property."))
    })?;
    if !inner.is_object() {
        return Err(common::Error::bad_request(format!(
            "Invalid input for field '{key}': expected an object."
        )));
    }
    let bytes = serde_json::to_vec(&inner)?;
    common::http::json::parse::<T>(&bytes).map_err(|e| match e {
        common::Error::BadRequest(msg) => {
            common::Error::BadRequest(msg.replacen("field '", &format!("field '{key}."), 1))
        }
        other => other,
    })
}

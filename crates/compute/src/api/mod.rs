//! The Compute v2.1 HTTP API: routes, version discovery (`/`, `/v2.1`),
//! microversion negotiation (`microversion`), Nova's error body
//! (`errors`), and the optional project id after `/v2.1` (clients from
//! before microversion 2.18 put it in every path). One file per URL
//! family.

pub mod aggregates;
pub mod availability_zones;
pub mod consoles;
pub mod errors;
pub mod extensions;
pub mod flavors;
pub mod floating_ips;
pub mod hosts;
pub mod hypervisors;
pub mod images;
pub mod interfaces;
pub mod keypairs;
pub mod limits;
pub mod metadata;
pub mod microversion;
pub mod migrations;
pub mod networks;
mod openapi;
pub mod passwords;
pub mod proxies;
pub mod quotas;
pub mod server_admin;
pub mod server_groups;
pub mod server_lifecycle;
pub mod server_metadata;
pub mod server_tags;
pub mod servers;
pub mod services;
pub mod usage;

pub use microversion::Microversion;
pub use openapi::openapi;

use crate::Compute;
use axum::extract::Request;
use axum::routing::get;
use axum::{Json, Router};
use common::http::BaseUrl;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

pub type State = axum::extract::State<Arc<Compute>>;

/// The whole Nova API, with the shared layers applied.
pub fn router(
    nova: Arc<Compute>,
    validator: Arc<dyn common::auth::TokenValidator>,
    max_body: usize,
) -> Router {
    let v21 = Router::new()
        .route("/v2.1", get(show_version))
        .route("/v2.1/", get(show_version))
        .merge(flavors::routes())
        .merge(aggregates::routes())
        .merge(keypairs::routes())
        .merge(quotas::routes())
        .merge(limits::routes())
        .merge(services::routes())
        .merge(hypervisors::routes())
        .merge(hosts::routes())
        .merge(availability_zones::routes())
        .merge(servers::routes())
        .merge(server_admin::routes())
        .merge(floating_ips::routes())
        .merge(server_groups::routes())
        .merge(interfaces::routes())
        .merge(proxies::routes())
        .merge(images::routes())
        .merge(networks::routes())
        .merge(extensions::routes())
        .merge(passwords::routes())
        .merge(server_metadata::routes())
        .merge(server_tags::routes())
        .merge(consoles::routes())
        .merge(migrations::routes())
        .merge(usage::routes())
        .fallback(not_found)
        .with_state(nova.clone())
        .layer(axum::middleware::from_fn(microversion::negotiate));
    let r = Router::new()
        .route("/", get(versions))
        .route("/v2", get(show_legacy_version))
        .route("/v2/", get(show_legacy_version))
        .fallback_service(v21.map_request(strip_project_id));
    let r = common::auth::with_validator_for(r, validator, "compute");
    common::http::service_layers_with_ids(
        r,
        Arc::new(errors::Nova),
        max_body,
        common::http::request_id::IdForm::Nova,
    )
}

/// `/v2.1/<project id>/servers` → `/v2.1/servers`: Nova's routes take a
/// project id there until microversion 2.18 made it optional; no
/// collection name is 32 hex digits (or a dashed UUID), so such a
/// segment can only be a project id.
fn strip_project_id(mut req: Request) -> Request {
    let uri = req.uri();
    let Some(rest) = uri.path().strip_prefix("/v2.1/") else {
        return req;
    };
    let (first, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let hex = first.chars().filter(|c| *c != '-').count();
    let is_project = (hex == 32 || first.len() == 32)
        && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if !is_project {
        return req;
    }
    let rebuilt = match uri.query() {
        Some(q) => format!("/v2.1/{tail}?{q}"),
        None => format!("/v2.1/{tail}"),
    };
    if let Ok(new) = rebuilt.parse() {
        *req.uri_mut() = new;
    }
    req
}

/// An unknown path: keystonemiddleware answers 401 before Nova's router
/// can say 404.
async fn not_found(_: common::auth::Auth) -> common::Error {
    common::Error::not_found("The resource could not be found.")
}

const V21_UPDATED: &str = "2013-07-23T11:33:21Z";

fn v21(base: &str) -> Value {
    json!({
        "id": "v2.1",
        "status": "CURRENT",
        "version": microversion::MAX.to_string(),
        "min_version": microversion::MIN.to_string(),
        "updated": V21_UPDATED,
        "links": [{"rel": "self", "href": format!("{base}/v2.1/")}],
    })
}

/// `GET /`: both API versions (v2.0 is v2.1 without microversions,
/// `SUPPORTED`).
async fn versions(BaseUrl(base): BaseUrl) -> Json<Value> {
    Json(json!({"versions": [
        {
            "id": "v2.0",
            "status": "SUPPORTED",
            "version": "",
            "min_version": "",
            "updated": "2011-01-21T11:33:21Z",
            "links": [{"rel": "self", "href": format!("{base}/v2/")}],
        },
        v21(&base),
    ]}))
}

/// `GET /v2`: the legacy v2.0 version document (v2.0's API itself, v2.1
/// without microversions under `/v2/{project_id}`, is not served).
async fn show_legacy_version(BaseUrl(base): BaseUrl) -> Json<Value> {
    Json(json!({"version": {
        "id": "v2.0",
        "status": "SUPPORTED",
        "version": "",
        "min_version": "",
        "updated": "2011-01-21T11:33:21Z",
        "links": [
            {"rel": "self", "href": format!("{base}/v2/")},
            {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"},
        ],
        "media-types": [{
            "base": "application/json",
            "type": "application/vnd.openstack.compute+json;version=2",
        }],
    }}))
}

/// `GET /v2.1`: this version, with its media type and docs link.
async fn show_version(BaseUrl(base): BaseUrl) -> Json<Value> {
    let mut v = v21(&base);
    v["links"] = json!([
        {"rel": "self", "href": format!("{base}/v2.1/")},
        {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"},
    ]);
    v["media-types"] = json!([{
        "base": "application/json",
        "type": "application/vnd.openstack.compute+json;version=2.1",
    }]);
    Json(json!({ "version": v }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn strip(path: &str) -> String {
        let req = Request::builder()
            .uri(path)
            .body(axum::body::Body::empty())
            .unwrap();
        strip_project_id(req).uri().to_string()
    }

    #[test]
    fn a_project_id_after_the_version_is_dropped() {
        assert_eq!(
            strip("/v2.1/0123456789abcdef0123456789abcdef/servers/detail?limit=1"),
            "/v2.1/servers/detail?limit=1"
        );
        assert_eq!(
            strip("/v2.1/01234567-89ab-cdef-0123-456789abcdef/flavors"),
            "/v2.1/flavors"
        );
        assert_eq!(strip("/v2.1/servers/detail"), "/v2.1/servers/detail");
        assert_eq!(strip("/v2.1/os-keypairs"), "/v2.1/os-keypairs");
    }
}

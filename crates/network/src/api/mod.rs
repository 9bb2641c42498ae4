//! The Networking v2.0 HTTP API: routes, version discovery, the
//! `.json` suffix every path accepts, list links, and the JSON shapes
//! Neutron prints. One file per URL family: `extensions`, `networks`,
//! `subnets`, `ports`, `quotas`, `security_groups`, `subnetpools`, `routers`,
//! `floatingips` (with port forwardings and pools), `tags`, `agents` (with
//! availability zones).

pub mod agents;
pub mod errors;
pub mod extensions;
pub mod floatingips;
pub mod networks;
mod openapi;
pub mod ports;
pub mod quotas;
pub mod routers;
pub mod security_groups;
pub mod subnetpools;
pub mod subnets;
pub mod tags;

pub use openapi::openapi;

use crate::Network;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::{BaseUrl, Fields, QueryMap};
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use tower::ServiceExt;
use utoipa::ToSchema;

pub type State = axum::extract::State<Arc<Network>>;

/// The whole Neutron API, with the shared layers applied.
pub fn router(
    neutron: Arc<Network>,
    validator: Arc<dyn common::auth::TokenValidator>,
    max_body: usize,
) -> Router {
    let r = Router::new()
        .route("/", get(versions))
        .route("/v2.0", get(resources))
        .route("/v2.0/", get(resources))
        .merge(agents::routes())
        .merge(extensions::routes())
        .merge(networks::routes())
        .merge(subnets::routes())
        .merge(ports::routes())
        .merge(quotas::routes())
        .merge(security_groups::routes())
        .merge(subnetpools::routes())
        .merge(routers::routes())
        .merge(floatingips::routes())
        .merge(tags::routes())
        .fallback(common::http::errors::not_found)
        .with_state(neutron);
    // Every path also answers with `.json` appended (Neutron's format
    // suffix; python-tempestconf reads `/v2.0/extensions.json`).
    let inner = r.map_request(strip_json_suffix);
    let r = Router::new().fallback_service(inner);
    let r = common::auth::with_validator_for(r, validator, "network");
    common::http::service_layers(r, Arc::new(errors::Neutron), max_body)
}

/// `/v2.0/networks.json?x` → `/v2.0/networks?x`.
fn strip_json_suffix(mut req: Request) -> Request {
    let uri = req.uri();
    if let Some(path) = uri.path().strip_suffix(".json") {
        let rebuilt = match uri.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        };
        if let Ok(new) = rebuilt.parse() {
            *req.uri_mut() = new;
        }
    }
    req
}

/// `GET /`: the one API version.
#[derive(Debug, Serialize, ToSchema)]
pub struct Versions {
    pub versions: Vec<Version>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Version {
    pub id: String,
    pub status: String,
    pub links: Vec<Link>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Link {
    pub rel: String,
    pub href: String,
}

#[utoipa::path(get, path = "/", tag = "versions", security(()),
    responses((status = 200, body = Versions)))]
async fn versions(BaseUrl(base): BaseUrl) -> Json<Versions> {
    Json(Versions {
        versions: vec![Version {
            id: "v2.0".into(),
            status: "CURRENT".into(),
            links: vec![Link {
                rel: "self".into(),
                href: format!("{base}/v2.0/"),
            }],
        }],
    })
}

/// `GET /v2.0`: the collections served.
#[derive(Debug, Serialize, ToSchema)]
pub struct Resources {
    pub resources: Vec<ResourceLink>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceLink {
    pub name: String,
    pub collection: String,
    pub links: Vec<Link>,
}

/// The core collections (`name`, `collection`) this server serves.
const RESOURCES: &[(&str, &str)] = &[
    ("network", "networks"),
    ("subnet", "subnets"),
    ("port", "ports"),
    ("quota", "quotas"),
    ("security_group", "security-groups"),
    ("security_group_rule", "security-group-rules"),
    ("subnetpool", "subnetpools"),
];

#[utoipa::path(get, path = "/v2.0", tag = "versions",
    responses((status = 200, body = Resources), NeutronErrors))]
async fn resources(BaseUrl(base): BaseUrl, _auth: Auth) -> Json<Resources> {
    Json(Resources {
        resources: RESOURCES
            .iter()
            .map(|(name, collection)| ResourceLink {
                name: (*name).into(),
                collection: (*collection).into(),
                links: vec![Link {
                    rel: "self".into(),
                    href: format!("{base}/v2.0/{collection}"),
                }],
            })
            .collect(),
    })
}

/// What Python's `urlencode` leaves as it is: letters, digits and `-_.~`.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A rendered resource as an object, with `fields=` applied.
pub fn render<T: Serialize>(item: &T, fields: Option<&Fields>) -> Value {
    let mut v = serde_json::to_value(item).unwrap_or(Value::Object(Map::new()));
    if let Some(f) = fields {
        f.retain(&mut v);
    }
    v
}

/// A create's 201: `{plural: [...]}` for a bulk request, else
/// `{singular: {...}}` with the one item.
pub fn created(singular: &str, plural: &str, bulk: bool, items: Vec<Value>) -> Response {
    let mut out = Map::new();
    if bulk {
        out.insert(plural.to_string(), Value::Array(items));
    } else {
        let one = items.into_iter().next().unwrap_or(Value::Null);
        out.insert(singular.to_string(), one);
    }
    (StatusCode::CREATED, Json(Value::Object(out))).into_response()
}

/// `{collection: [...], "<collection>_links": [...]}` as Neutron's
/// `get_pagination_links` builds the links: `next` unless a forward page
/// came back short, `previous` unless a reversed one did; both carry the
/// request's other parameters.
pub fn list_body(
    collection: &str,
    items: Vec<Value>,
    ids: &[String],
    req: &crate::app::list::Request,
    base: &str,
    path: &str,
    q: &QueryMap,
) -> Value {
    let mut out = Map::new();
    let n = items.len();
    out.insert(collection.to_string(), Value::Array(items));
    let Some(limit) = req.limit else {
        return Value::Object(out);
    };
    let keep: Vec<(&str, &str)> =
        q.0.iter()
            .filter(|(k, _)| k != "marker" && k != "page_reverse")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
    let href = |extra: Vec<(&str, &str)>| {
        use percent_encoding::utf8_percent_encode;
        let pairs: Vec<String> = keep
            .iter()
            .copied()
            .chain(extra)
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(k, QUERY_VALUE),
                    utf8_percent_encode(v, QUERY_VALUE)
                )
            })
            .collect();
        format!("{base}{path}?{}", pairs.join("&"))
    };
    let mut links = Vec::new();
    if n >= limit || req.page_reverse {
        let mut extra = Vec::new();
        if let Some(last) = ids.last() {
            extra.push(("marker", last.as_str()));
        }
        links.push(serde_json::json!({"rel": "next", "href": href(extra)}));
    }
    if n >= limit || !req.page_reverse {
        let mut extra = Vec::new();
        if let Some(first) = ids.first() {
            extra.push(("marker", first.as_str()));
        }
        extra.push(("page_reverse", "True"));
        links.push(serde_json::json!({"rel": "previous", "href": href(extra)}));
    }
    out.insert(format!("{collection}_links"), Value::Array(links));
    Value::Object(out)
}

/// Neutron's error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct NeutronError {
    #[serde(rename = "NeutronError")]
    #[schema(rename = "NeutronError")]
    pub error: NeutronErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NeutronErrorBody {
    /// The neutron-lib exception's name (`NetworkNotFound`).
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub kind: String,
    pub message: String,
    pub detail: String,
}

/// The error statuses any Neutron call may answer, each with
/// [`NeutronError`]'s body.
pub struct NeutronErrors;

impl utoipa::IntoResponses for NeutronErrors {
    fn responses() -> std::collections::BTreeMap<
        String,
        utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
    > {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        [
            (400, "The request is malformed or invalid"),
            (401, "No valid token"),
            (403, "Not allowed by policy"),
            (404, "No such resource, or not visible to the caller"),
            (409, "Conflicts with the resource's state, or over quota"),
            (503, "No segment left to allocate"),
        ]
        .into_iter()
        .map(|(status, description)| {
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("NeutronError")))
                .build();
            (
                status.to_string(),
                ResponseBuilder::new()
                    .description(description)
                    .content("application/json", content)
                    .build()
                    .into(),
            )
        })
        .collect()
    }
}

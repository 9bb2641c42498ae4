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
pub mod errors;
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
use common::http::{BaseUrl, QueryMap};
use common::Result;
use serde_json::Value;
use std::sync::Arc;

pub type State = axum::extract::State<Arc<Identity>>;

/// The OpenAPI document of every route [`router`] serves: the annotated
/// handlers, plus the grant and endpoint-association routes, which are
/// built from tables (one closure per method) and described from the same
/// tables.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = <Doc as utoipa::OpenApi>::openapi();
    assignments::document(&mut doc.paths);
    endpoint_filter::document(&mut doc.paths);
    // A handler serving both GET and HEAD is one annotation with one
    // operation id; operation ids must be unique, so HEAD's gets a suffix.
    for item in doc.paths.paths.values_mut() {
        if let (Some(get), Some(head)) = (&item.get, &mut item.head) {
            if get.operation_id == head.operation_id {
                head.operation_id = head.operation_id.take().map(|id| format!("{id}_head"));
            }
        }
    }
    doc
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "oxistack identity",
        description = "Identity v3 (Keystone-compatible) API of oxistack.",
        version = "3.14"
    ),
    paths(
        versions,
        version,
        assignments::role_assignments,
        app_creds::list,
        app_creds::create,
        app_creds::show,
        app_creds::delete,
        app_creds::list_rules,
        app_creds::show_rule,
        app_creds::delete_rule,
        auth::validate,
        auth::check,
        auth::issue,
        auth::revoke,
        auth::catalog,
        auth::projects,
        auth::domains,
        auth::system,
        catalog::list_regions,
        catalog::create_region,
        catalog::show_region,
        catalog::put_region,
        catalog::update_region,
        catalog::delete_region,
        catalog::list_services,
        catalog::create_service,
        catalog::show_service,
        catalog::update_service,
        catalog::delete_service,
        catalog::list_endpoints,
        catalog::create_endpoint,
        catalog::show_endpoint,
        catalog::update_endpoint,
        catalog::delete_endpoint,
        credentials::list,
        credentials::create,
        credentials::show,
        credentials::update,
        credentials::delete,
        credentials::list_ec2,
        credentials::create_ec2,
        credentials::show_ec2,
        credentials::delete_ec2,
        credentials::ec2tokens,
        domain_configs::show,
        domain_configs::create,
        domain_configs::update,
        domain_configs::delete,
        domain_configs::show_group,
        domain_configs::update_group,
        domain_configs::delete_group,
        domain_configs::show_option,
        domain_configs::update_option,
        domain_configs::delete_option,
        domain_configs::default_all,
        domain_configs::default_group,
        domain_configs::default_option,
        domains::list,
        domains::create,
        domains::show,
        domains::update,
        domains::delete,
        endpoint_filter::list_groups,
        endpoint_filter::create_group,
        endpoint_filter::show_group,
        endpoint_filter::head_group,
        endpoint_filter::update_group,
        endpoint_filter::delete_group,
        endpoint_filter::group_projects,
        endpoint_filter::group_endpoints,
        endpoint_filter::project_groups,
        endpoint_filter::project_endpoints,
        endpoint_filter::endpoint_projects,
        groups::list,
        groups::create,
        groups::show,
        groups::update,
        groups::delete,
        groups::users,
        groups::check,
        groups::add,
        groups::remove,
        oauth1::list,
        oauth1::create,
        oauth1::show,
        oauth1::update,
        oauth1::delete,
        oauth1::request_token,
        oauth1::authorize,
        oauth1::access_token,
        oauth1::list_access,
        oauth1::show_access,
        oauth1::delete_access,
        oauth1::access_roles,
        policies::list,
        policies::create,
        policies::show,
        policies::update,
        policies::delete,
        projects::list,
        projects::create,
        projects::show,
        projects::update,
        projects::delete,
        projects::list_tags,
        projects::replace_tags,
        projects::delete_tags,
        projects::check_tag,
        projects::add_tag,
        projects::delete_tag,
        roles::list,
        roles::create,
        roles::show,
        roles::update,
        roles::delete,
        roles::list_implies,
        roles::get_implied,
        roles::check_implied,
        roles::put_implied,
        roles::delete_implied,
        roles::inferences,
        trusts::list,
        trusts::create,
        trusts::show,
        trusts::delete,
        trusts::roles,
        trusts::check_role,
        users::list,
        users::create,
        users::show,
        users::update,
        users::delete,
        users::change_password,
        users::groups,
        users::projects
    ),
    components(schemas(ErrorBody, ErrorDetail, assignments::GrantedRoles))
)]
struct Doc;

/// A list's `links`: Keystone gives `previous` and `next` as null when the
/// list is not paged.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ListLinks {
    #[serde(rename = "self")]
    pub self_: String,
    pub previous: Option<String>,
    pub next: Option<String>,
}

impl ListLinks {
    pub fn only_self(href: String) -> ListLinks {
        ListLinks {
            self_: href,
            previous: None,
            next: None,
        }
    }
}

/// Keystone's error body, as the shared error renderer writes it for the
/// identity service.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// The HTTP status code.
    pub code: u16,
    /// The status's reason phrase.
    pub title: String,
    pub message: String,
}

/// One operation described by hand, for routes built from tables: its
/// path parameters are strings; each response is (status, description,
/// the component schema of its JSON body, if it has one).
pub(crate) fn operation(
    operation_id: &str,
    tag: &str,
    params: &[&str],
    responses: &[(u16, &str, Option<&str>)],
) -> utoipa::openapi::path::Operation {
    use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn};
    use utoipa::openapi::{ContentBuilder, Ref, Required, ResponseBuilder};
    let mut op = OperationBuilder::new()
        .operation_id(Some(operation_id))
        .tag(tag);
    for p in params {
        op = op.parameter(
            ParameterBuilder::new()
                .name(*p)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(utoipa::openapi::schema::Object::with_type(
                    utoipa::openapi::schema::Type::String,
                ))),
        );
    }
    for (status, description, body) in responses {
        let mut r = ResponseBuilder::new().description(*description);
        if let Some(schema) = body {
            r = r.content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(*schema)))
                    .build(),
            );
        }
        op = op.response(status.to_string(), r);
    }
    op.build()
}

/// The error responses every authenticated operation can give.
pub(crate) const COMMON_ERRORS: [(u16, &str, Option<&str>); 4] = [
    (400, "Bad request", Some("ErrorBody")),
    (401, "Authentication required", Some("ErrorBody")),
    (403, "Forbidden", Some("ErrorBody")),
    (404, "Not found", Some("ErrorBody")),
];

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
    let r = common::http::service_layers(r, Arc::new(errors::Keystone), max_body);
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

/// One API version, as Keystone's discovery documents describe it.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct VersionBody {
    pub id: &'static str,
    pub status: &'static str,
    pub updated: &'static str,
    pub links: Vec<VersionLink>,
    #[serde(rename = "media-types")]
    pub media_types: Vec<MediaType>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct VersionLink {
    pub rel: &'static str,
    pub href: String,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct MediaType {
    pub base: &'static str,
    #[serde(rename = "type")]
    pub media_type: &'static str,
}

/// `GET /`: `{"versions": {"values": [...]}}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Versions {
    pub versions: VersionValues,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct VersionValues {
    pub values: Vec<VersionBody>,
}

/// `GET /v3`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct VersionEnvelope {
    pub version: VersionBody,
}

fn version_doc(base: &str) -> VersionBody {
    VersionBody {
        id: "v3.14",
        status: "stable",
        updated: "2020-04-07T00:00:00Z",
        links: vec![VersionLink {
            rel: "self",
            href: format!("{base}/v3/"),
        }],
        media_types: vec![MediaType {
            base: "application/json",
            media_type: "application/vnd.openstack.identity-v3+json",
        }],
    }
}

#[utoipa::path(
    get,
    path = "/",
    operation_id = "versions",
    tag = "version",
    responses(
        (status = 300, description = "The API versions", body = Versions),
        (status = 200, description = "With `Accept: application/json-home`: the JSON Home document of v3", body = json_home::JsonHome, content_type = "application/json-home"),
    )
)]
/// `GET /`: 300 Multiple Choices, as Keystone answers; the JSON Home
/// document of v3 (paths under `/v3`) when the client asks for it.
async fn versions(BaseUrl(base): BaseUrl, headers: HeaderMap) -> Response {
    if json_home::wanted(&headers) {
        return json_home::response("/v3");
    }
    (
        StatusCode::MULTIPLE_CHOICES,
        Json(Versions {
            versions: VersionValues {
                values: vec![version_doc(&base)],
            },
        }),
    )
        .into_response()
}

#[utoipa::path(
    get,
    path = "/v3",
    operation_id = "version",
    tag = "version",
    responses(
        (status = 200, description = "The v3 version document, or with `Accept: application/json-home` its JSON Home document", content(
            (VersionEnvelope = "application/json"),
            (json_home::JsonHome = "application/json-home"),
        )),
    )
)]
/// `GET /v3`: the version, or its JSON Home document (paths relative to
/// `/v3`, as Keystone serves it there).
async fn version(BaseUrl(base): BaseUrl, headers: HeaderMap) -> Response {
    if json_home::wanted(&headers) {
        return json_home::response("");
    }
    Json(VersionEnvelope {
        version: version_doc(&base),
    })
    .into_response()
}

/// One page of a typed list: its items, `links` (self, previous, next) and
/// whether more follow (Keystone's `truncated`, present only then).
pub(crate) struct Paged<T> {
    pub items: Vec<T>,
    pub links: Value,
    pub truncated: Option<bool>,
}

/// One page of typed items and the marker of the next page (paged in SQL
/// by `db::list`, or in memory by [`paged`]): the page with Keystone's
/// `links` (the next link keeps the request's filters) and `truncated`.
pub(crate) fn page_of<T>(
    items: Vec<T>,
    next_marker: Option<&str>,
    base: &str,
    path: &str,
    q: &QueryMap,
) -> Paged<T> {
    Paged {
        links: common::http::pagination::links(&format!("{base}{path}"), q, next_marker),
        truncated: next_marker.is_some().then_some(true),
        items,
    }
}

/// [`page_of`] for a list held in memory (in list order): limit/marker
/// pagination by `id_of`, for the lists not read page by page from SQL
/// (those derived from assignments, the catalog, policies).
pub(crate) fn paged<T>(
    identity: &Identity,
    items: Vec<T>,
    id_of: impl Fn(&T) -> &str,
    base: &str,
    path: &str,
    q: &QueryMap,
) -> Result<Paged<T>> {
    let params = common::http::PageParams::from_query(q, identity.settings.list_limit)?;
    let page = common::http::pagination::paginate(items, id_of, &params)?;
    Ok(page_of(
        page.items,
        page.next_marker.as_deref(),
        base,
        path,
        q,
    ))
}

/// A typed list body: `{"<plural>": [...], "links": {...}}`, plus
/// `"truncated": true` when a page stops short.
macro_rules! list_type {
    ($name:ident, $field:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            pub $field: Vec<$item>,
            #[schema(value_type = crate::api::ListLinks)]
            pub links: serde_json::Value,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub truncated: Option<bool>,
        }

        impl From<crate::api::Paged<$item>> for $name {
            fn from(p: crate::api::Paged<$item>) -> $name {
                $name {
                    $field: p.items,
                    links: p.links,
                    truncated: p.truncated,
                }
            }
        }
    };
}
pub(crate) use list_type;

/// The extra attributes a client stored on a resource (Keystone keeps and
/// returns them), without those named like one of its own fields, which
/// they must not override.
pub(crate) fn extra_without(
    extra: &serde_json::Map<String, Value>,
    own: &[&str],
) -> serde_json::Map<String, Value> {
    extra
        .iter()
        .filter(|(k, _)| !own.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A resource's `links`: its own URL.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SelfLink {
    #[serde(rename = "self")]
    pub self_: String,
}

/// 201 Created with a JSON body.
pub(crate) fn created<T: serde::Serialize>(body: T) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
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
        e if e.kind() == common::ErrorKind::BadRequest => common::Error::bad_request(
            e.message()
                .replacen("field '", &format!("field '{key}."), 1),
        ),
        other => other,
    })
}

#[cfg(test)]
mod openapi_tests {
    use super::openapi;
    use std::collections::BTreeSet;

    /// Every api module that registers routes, as its source text.
    const SOURCES: [(&str, &str); 16] = [
        ("mod", include_str!("mod.rs")),
        ("app_creds", include_str!("app_creds.rs")),
        ("assignments", include_str!("assignments.rs")),
        ("auth", include_str!("auth.rs")),
        ("catalog", include_str!("catalog.rs")),
        ("credentials", include_str!("credentials.rs")),
        ("domain_configs", include_str!("domain_configs.rs")),
        ("domains", include_str!("domains.rs")),
        ("endpoint_filter", include_str!("endpoint_filter.rs")),
        ("groups", include_str!("groups.rs")),
        ("oauth1", include_str!("oauth1.rs")),
        ("policies", include_str!("policies.rs")),
        ("projects", include_str!("projects.rs")),
        ("roles", include_str!("roles.rs")),
        ("trusts", include_str!("trusts.rs")),
        ("users", include_str!("users.rs")),
    ];

    /// The (path, method) pairs the document describes.
    fn documented() -> BTreeSet<(String, String)> {
        let doc = serde_json::to_value(openapi()).unwrap_or_default();
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
                out.insert((path.clone(), method.clone()));
            }
        }
        out
    }

    /// The (path, method) pairs registered with a literal path in a
    /// `.route(…)` call. Routes whose path is a variable are the table-built
    /// ones (grants, endpoint associations), documented from those tables.
    fn routed() -> BTreeSet<(String, String)> {
        let call = regex_lite::Regex::new(r#"\.route\(\s*(&format!\(\s*)?"([^"]*)"\)?\s*,"#)
            .unwrap_or_else(|e| panic!("{e}"));
        let method = regex_lite::Regex::new(r"\b(get|post|put|patch|delete|head)\(\w+\)")
            .unwrap_or_else(|e| panic!("{e}"));
        let mut out = BTreeSet::new();
        for (module, src) in SOURCES {
            // Only the router-building code: stop at the first test module.
            let src = src.split("#[cfg(test)]").next().unwrap_or(src);
            let mut found = 0;
            for c in call.captures_iter(src) {
                let (Some(whole), Some(path)) = (c.get(0), c.get(2)) else {
                    continue;
                };
                let mut path = path.as_str().to_string();
                if c.get(1).is_some() {
                    path = path
                        .replace("{p}", "/v3/OS-EP-FILTER")
                        .replace("{{", "{")
                        .replace("}}", "}");
                }
                // The method chain runs to the call's closing parenthesis.
                let rest = &src[whole.end()..];
                let mut depth = 1;
                let end = rest
                    .char_indices()
                    .find(|(_, ch)| {
                        match ch {
                            '(' => depth += 1,
                            ')' => depth -= 1,
                            _ => {}
                        }
                        depth == 0
                    })
                    .map_or(rest.len(), |(i, _)| i);
                for m in method.captures_iter(&rest[..end]) {
                    if let Some(m) = m.get(1) {
                        out.insert((path.clone(), m.as_str().to_string()));
                        found += 1;
                    }
                }
            }
            assert!(
                module == "mod" || found > 0,
                "no routes found in {module}.rs: the scan no longer matches the code"
            );
        }
        out
    }

    #[test]
    fn every_route_is_documented() {
        let documented = documented();
        let routed = routed();
        let missing: Vec<_> = routed.difference(&documented).collect();
        assert!(
            missing.is_empty(),
            "routes not in the document: {missing:?}"
        );
        // The table-built routes are in the document too.
        for (path, method) in [
            ("/v3/projects/{id}/users/{actor_id}/roles", "get"),
            ("/v3/system/groups/{actor_id}/roles/{role_id}", "put"),
            (
                "/v3/OS-INHERIT/domains/{id}/groups/{actor_id}/roles/{role_id}/inherited_to_projects",
                "head",
            ),
            (
                "/v3/OS-EP-FILTER/projects/{id}/endpoints/{endpoint_id}",
                "delete",
            ),
        ] {
            assert!(
                documented.contains(&(path.to_string(), method.to_string())),
                "{method} {path} missing"
            );
        }
        // 120 annotated handlers' routes found by the scan, 2 at the root.
        assert!(routed.len() > 120, "{}", routed.len());
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc = serde_json::to_value(openapi()).unwrap_or_default();
        let mut seen = BTreeSet::new();
        for (_, item) in doc["paths"].as_object().into_iter().flatten() {
            for (_, op) in item.as_object().into_iter().flatten() {
                let id = op["operationId"].as_str().unwrap_or_default().to_string();
                assert!(!id.is_empty(), "operation without an id: {op}");
                assert!(seen.insert(id.clone()), "duplicate operation id {id}");
            }
        }
    }
}

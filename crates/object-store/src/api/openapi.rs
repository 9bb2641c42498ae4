//! The Swift v1 API's OpenAPI document. Swift's paths are routed by depth
//! in one dispatcher ([`super::dispatch`]), not a route table, so each
//! operation the dispatcher serves is described here by an annotated
//! declaration named after it (`COPY`, which OpenAPI cannot name, is
//! described in prose). `oxistack openapi
//! object-store` prints the document; `docs/openapi/object-store.json`
//! holds the checked-in copy.
//!
//! An object name may hold slashes, which an OpenAPI path parameter
//! cannot: the document describes single-segment names.

use super::listing::{
    AccountListingEntry, ContainerEntry, ContainerListingEntry, ObjectEntry, Subdir,
};
use crate::app::info::Capabilities;
use common::http::openapi::TokenAuth;
use utoipa::{IntoParams, OpenApi, ToSchema};

/// The listing parameters of `GET` on an account or a container.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListingQuery {
    /// At most 10000.
    pub limit: Option<u32>,
    pub marker: Option<String>,
    pub end_marker: Option<String>,
    pub prefix: Option<String>,
    pub delimiter: Option<String>,
    pub reverse: Option<bool>,
    /// `json`, `xml` or `plain` (else the best match of `Accept`).
    pub format: Option<String>,
}

/// Object data: raw bytes.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ObjectData(pub Vec<u8>);

/// A static large object manifest (`PUT …?multipart-manifest=put`): the
/// segments in order.
#[derive(Debug, ToSchema)]
pub struct SloSegment {
    pub path: String,
    pub etag: Option<String>,
    pub size_bytes: Option<i64>,
    pub range: Option<String>,
}

/// The error statuses any Swift call may answer, with Swift's bodies
/// (a plain-text reason, or a short HTML page; none on `HEAD`).
pub struct SwiftErrors;

impl utoipa::IntoResponses for SwiftErrors {
    fn responses() -> std::collections::BTreeMap<
        String,
        utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
    > {
        use utoipa::openapi::{ContentBuilder, ObjectBuilder, ResponseBuilder, Type};
        [
            (400, "The request is malformed or invalid"),
            (401, "No valid token, temp URL or ACL"),
            (403, "Not allowed"),
            (404, "No such account, container or object"),
            (405, "Method not allowed here"),
            (409, "Conflicts with the resource's state"),
            (411, "Length required"),
            (412, "A precondition failed"),
            (413, "Over a limit or quota"),
        ]
        .into_iter()
        .map(|(status, description)| {
            let text = ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build();
            (
                status.to_string(),
                ResponseBuilder::new()
                    .description(description)
                    .content("text/plain", text.clone())
                    .content("text/html", text)
                    .build()
                    .into(),
            )
        })
        .collect()
    }
}

/// Capabilities of the cluster and its middleware.
#[utoipa::path(get, path = "/info", tag = "info", security(()),
    responses((status = 200, body = Capabilities)))]
pub fn info() {}

/// Liveness.
#[utoipa::path(get, path = "/healthcheck", tag = "info", security(()),
    responses((status = 200, body = String, content_type = "text/plain")))]
pub fn healthcheck() {}

/// The account's containers (`GET`) with its counts and metadata in
/// `X-Account-*` headers.
#[utoipa::path(get, path = "/v1/{account}", tag = "accounts",
    params(("account" = String, Path, description = "AUTH_<project id>"), ListingQuery),
    responses(
        (status = 200, body = Vec<AccountListingEntry>, content_type = "application/json"),
        (status = 204, description = "No containers (plain listing)"),
        (status = 406, description = "No listing format Accept allows"),
        SwiftErrors))]
pub fn get_account() {}

/// The account's counts and metadata, as headers.
#[utoipa::path(head, path = "/v1/{account}", tag = "accounts",
    params(("account" = String, Path)), responses((status = 204), SwiftErrors))]
pub fn head_account() {}

/// Sets account metadata (`X-Account-Meta-*`, temp URL keys, quotas); or,
/// with `?bulk-delete`, deletes the listed paths.
#[utoipa::path(post, path = "/v1/{account}", tag = "accounts",
    params(("account" = String, Path),
        ("bulk-delete" = Option<String>, Query, description = "Delete the newline-separated paths of the body")),
    request_body(content = String, content_type = "text/plain"),
    responses((status = 204), (status = 200, description = "Bulk delete result"), SwiftErrors))]
pub fn post_account() {}

/// The container's objects (`GET`), with its counts and metadata in
/// `X-Container-*` headers.
#[utoipa::path(get, path = "/v1/{account}/{container}", tag = "containers",
    params(("account" = String, Path), ("container" = String, Path), ListingQuery),
    responses(
        (status = 200, body = Vec<ContainerListingEntry>, content_type = "application/json"),
        (status = 204, description = "No objects (plain listing)"),
        (status = 406, description = "No listing format Accept allows"),
        SwiftErrors))]
pub fn get_container() {}

/// The container's counts and metadata, as headers.
#[utoipa::path(head, path = "/v1/{account}/{container}", tag = "containers",
    params(("account" = String, Path), ("container" = String, Path)),
    responses((status = 204), SwiftErrors))]
pub fn head_container() {}

/// Creates the container (201) or updates its metadata (202).
#[utoipa::path(put, path = "/v1/{account}/{container}", tag = "containers",
    params(("account" = String, Path), ("container" = String, Path),
        ("x-container-read" = Option<String>, Header), ("x-container-write" = Option<String>, Header)),
    responses((status = 201), (status = 202), SwiftErrors))]
pub fn put_container() {}

/// Sets container metadata, ACLs, quotas, versioning and CORS.
#[utoipa::path(post, path = "/v1/{account}/{container}", tag = "containers",
    params(("account" = String, Path), ("container" = String, Path)),
    responses((status = 204), SwiftErrors))]
pub fn post_container() {}

/// Deletes an empty container.
#[utoipa::path(delete, path = "/v1/{account}/{container}", tag = "containers",
    params(("account" = String, Path), ("container" = String, Path)),
    responses((status = 204), SwiftErrors))]
pub fn delete_container() {}

/// The object's data (whole, a range, or a large object's segments in
/// order; `?multipart-manifest=get` for a manifest itself).
#[utoipa::path(get, path = "/v1/{account}/{container}/{object}", tag = "objects",
    params(("account" = String, Path), ("container" = String, Path), ("object" = String, Path),
        ("range" = Option<String>, Header), ("if-match" = Option<String>, Header),
        ("if-none-match" = Option<String>, Header),
        ("multipart-manifest" = Option<String>, Query),
        ("temp_url_sig" = Option<String>, Query), ("temp_url_expires" = Option<String>, Query)),
    responses(
        (status = 200, body = ObjectData, content_type = "application/octet-stream"),
        (status = 206, body = ObjectData, content_type = "application/octet-stream"),
        (status = 304, description = "Not modified"),
        (status = 416, description = "Requested range not satisfiable"),
        SwiftErrors))]
pub fn get_object() {}

/// The object's metadata, as headers.
#[utoipa::path(head, path = "/v1/{account}/{container}/{object}", tag = "objects",
    params(("account" = String, Path), ("container" = String, Path), ("object" = String, Path)),
    responses((status = 200), (status = 304), SwiftErrors))]
pub fn head_object() {}

/// Stores the object (or, with `X-Copy-From`, copies one here; with
/// `?multipart-manifest=put`, stores an SLO manifest of [`SloSegment`]s;
/// with `?extract-archive=tar|tar.gz|tar.bz2`, unpacks an archive).
#[utoipa::path(put, path = "/v1/{account}/{container}/{object}", tag = "objects",
    params(("account" = String, Path), ("container" = String, Path), ("object" = String, Path),
        ("etag" = Option<String>, Header), ("x-copy-from" = Option<String>, Header),
        ("x-object-manifest" = Option<String>, Header),
        ("x-delete-at" = Option<String>, Header), ("x-delete-after" = Option<String>, Header),
        ("multipart-manifest" = Option<String>, Query),
        ("extract-archive" = Option<String>, Query)),
    request_body(content = ObjectData, content_type = "application/octet-stream"),
    responses((status = 201), (status = 200, description = "Archive extraction result"),
        (status = 422, description = "The data does not match the ETag"), SwiftErrors))]
pub fn put_object() {}

/// Replaces the object's metadata.
#[utoipa::path(post, path = "/v1/{account}/{container}/{object}", tag = "objects",
    params(("account" = String, Path), ("container" = String, Path), ("object" = String, Path)),
    responses((status = 202), SwiftErrors))]
pub fn post_object() {}

/// Deletes the object (with `?multipart-manifest=delete`, an SLO and its
/// segments).
#[utoipa::path(delete, path = "/v1/{account}/{container}/{object}", tag = "objects",
    params(("account" = String, Path), ("container" = String, Path), ("object" = String, Path),
        ("multipart-manifest" = Option<String>, Query)),
    responses((status = 204), (status = 200, description = "SLO delete result"), SwiftErrors))]
pub fn delete_object() {}

/// CORS preflight for the account (answered before authentication).
#[utoipa::path(options, path = "/v1/{account}", tag = "cors", security(()),
    params(("account" = String, Path), ("origin" = Option<String>, Header),
        ("access-control-request-method" = Option<String>, Header),
        ("access-control-request-headers" = Option<String>, Header)),
    responses((status = 200, description = "Allowed; the Access-Control-* headers say what"),
        (status = 401, description = "Refused")))]
pub fn options_account() {}

/// CORS preflight for a container, by its `X-Container-Meta-Access-Control-*`.
#[utoipa::path(options, path = "/v1/{account}/{container}", tag = "cors", security(()),
    params(("account" = String, Path), ("container" = String, Path),
        ("origin" = Option<String>, Header),
        ("access-control-request-method" = Option<String>, Header),
        ("access-control-request-headers" = Option<String>, Header)),
    responses((status = 200, description = "Allowed; the Access-Control-* headers say what"),
        (status = 401, description = "Refused")))]
pub fn options_container() {}

/// CORS preflight for an object, by its container's settings.
#[utoipa::path(options, path = "/v1/{account}/{container}/{object}", tag = "cors", security(()),
    params(("account" = String, Path), ("container" = String, Path), ("object" = String, Path),
        ("origin" = Option<String>, Header),
        ("access-control-request-method" = Option<String>, Header),
        ("access-control-request-headers" = Option<String>, Header)),
    responses((status = 200, description = "Allowed; the Access-Control-* headers say what"),
        (status = 401, description = "Refused")))]
pub fn options_object() {}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "oxistack Object Storage service (OpenStack Swift v1)",
        version = "1",
        description = "Swift v1 as oxistack serves it. Calls take a token in X-Auth-Token, a temp URL signature, or none where an ACL allows. COPY (a copy to the Destination header) is served on object paths as Swift serves it; OpenAPI has no COPY method, so it is not in this document."
    ),
    paths(
        info,
        healthcheck,
        get_account,
        head_account,
        post_account,
        get_container,
        head_container,
        put_container,
        post_container,
        delete_container,
        get_object,
        head_object,
        put_object,
        post_object,
        delete_object,
        options_account,
        options_container,
        options_object,
    ),
    components(schemas(SloSegment, ContainerEntry, ObjectEntry, Subdir)),
    modifiers(&TokenAuth),
    security(("token" = []))
)]
struct ObjectStoreApi;

/// The Object Storage service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ObjectStoreApi::openapi()
}

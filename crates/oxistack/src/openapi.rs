//! The OpenAPI documents of the services, by service type: what
//! `oxistack openapi SERVICE` prints and what `docs/openapi/<service>.json`
//! holds (a test in `tests/openapi.rs` keeps the two equal). A service
//! with a document is one line in [`SERVICES`].

/// Builds a service's document (each service crate's `api::openapi`).
pub type Build = fn() -> utoipa::openapi::OpenApi;

/// Service type and the function building its document, in the order the
/// command lists them.
pub const SERVICES: &[(&str, Build)] = &[
    ("identity", identity::api::openapi),
    ("image", image::api::openapi),
    ("object-store", object_store::api::openapi),
    ("network", network::api::openapi),
    ("compute", compute::api::openapi),
];

/// The service types that have a document.
pub fn services() -> impl Iterator<Item = &'static str> {
    SERVICES.iter().map(|(name, _)| *name)
}

/// `service`'s document as pretty JSON with a final newline, exactly as
/// checked in; `None` for a service without one.
pub fn document(service: &str) -> Option<Result<String, serde_json::Error>> {
    let (_, build) = SERVICES.iter().find(|(name, _)| *name == service)?;
    Some(serde_json::to_string_pretty(&build()).map(|mut s| {
        s.push('\n');
        s
    }))
}

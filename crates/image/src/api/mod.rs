//! The Image v2 HTTP API: routes, version discovery, and the JSON shapes
//! Glance prints. One file per URL family, as Glance's controllers are
//! split: `images` (`/v2/images…` and tags and actions), `image_data`
//! (`…/file`, `…/stage`, `…/import`), `members`, `schemas`, `discovery`
//! (`/v2/info/…`), `tasks` (`/v2/tasks…`), and the metadata definitions
//! as Glance splits them: `metadef_namespaces` (with resource types),
//! `metadef_objects`, `metadef_properties`, `metadef_tags`, and what the
//! last three share, `metadef_items`.

pub mod discovery;
pub mod errors;
pub mod image_data;
pub mod images;
pub mod members;
pub mod metadef_items;
pub mod metadef_namespaces;
pub mod metadef_objects;
pub mod metadef_properties;
pub mod metadef_tags;
mod openapi;
pub mod schemas;
pub mod tasks;

pub use openapi::openapi;

use crate::Image;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::http::BaseUrl;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

pub type State = axum::extract::State<Arc<Image>>;

/// The whole Glance API, with the shared layers applied. `max_body`
/// bounds JSON bodies; image data routes stream and are not bounded by it.
pub fn router(
    glance: Arc<Image>,
    validator: Arc<dyn common::auth::TokenValidator>,
    max_body: usize,
) -> Router {
    let r = Router::new()
        .route("/", get(versions_choice))
        .route("/versions", get(versions))
        .route("/v2", get(versions))
        .route("/v2/", get(versions))
        .merge(images::routes())
        .merge(image_data::routes())
        .merge(members::routes())
        .merge(schemas::routes())
        .merge(metadef_namespaces::routes())
        .merge(metadef_objects::routes())
        .merge(metadef_properties::routes())
        .merge(metadef_tags::routes())
        .merge(tasks::routes())
        .merge(discovery::routes())
        .fallback(common::http::errors::not_found)
        .with_state(glance);
    let r = common::auth::with_validator_for(r, validator, "image");
    common::http::service_layers(r, Arc::new(errors::Glance), max_body)
}

/// Versions Glance 2.x lists with a single store backend plus the
/// discovery calls (2.8+ multi-store APIs are served for one store).
const VERSIONS: &[(&str, &str)] = &[
    ("2.17", "CURRENT"),
    ("2.15", "SUPPORTED"),
    ("2.13", "SUPPORTED"),
    ("2.12", "SUPPORTED"),
    ("2.11", "SUPPORTED"),
    ("2.10", "SUPPORTED"),
    ("2.9", "SUPPORTED"),
    ("2.8", "SUPPORTED"),
    ("2.7", "SUPPORTED"),
    ("2.6", "SUPPORTED"),
    ("2.5", "SUPPORTED"),
    ("2.4", "SUPPORTED"),
    ("2.3", "SUPPORTED"),
    ("2.2", "SUPPORTED"),
    ("2.1", "SUPPORTED"),
    ("2.0", "SUPPORTED"),
];

/// `GET /versions`: every API version served.
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

fn versions_doc(base: &str) -> Versions {
    Versions {
        versions: VERSIONS
            .iter()
            .map(|(v, status)| Version {
                id: format!("v{v}"),
                status: (*status).to_string(),
                links: vec![Link {
                    rel: "self".into(),
                    href: format!("{base}/v2/"),
                }],
            })
            .collect(),
    }
}

/// `GET /`: 300 Multiple Choices, as Glance answers an unversioned URL.
#[utoipa::path(get, path = "/", tag = "versions", security(()),
    responses((status = 300, body = Versions)))]
async fn versions_choice(BaseUrl(base): BaseUrl) -> Response {
    (StatusCode::MULTIPLE_CHOICES, Json(versions_doc(&base))).into_response()
}

/// `GET /versions` (and `/v2`): the same document, 200.
#[utoipa::path(get, path = "/versions", tag = "versions", security(()),
    responses((status = 200, body = Versions)))]
async fn versions(BaseUrl(base): BaseUrl) -> Json<Versions> {
    Json(versions_doc(&base))
}

/// Glance's error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct GlanceError {
    pub message: String,
    pub code: String,
    pub title: String,
}

/// The error statuses any Glance call may answer, each with
/// [`GlanceError`]'s body.
pub struct GlanceErrors;

impl utoipa::IntoResponses for GlanceErrors {
    fn responses() -> std::collections::BTreeMap<
        String,
        utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
    > {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        [
            (400, "The request is malformed or invalid"),
            (401, "No valid token"),
            (403, "Not allowed"),
            (404, "No such resource"),
            (409, "Conflicts with the resource's state"),
            (413, "Over a limit or quota"),
            (415, "Unsupported media type"),
        ]
        .into_iter()
        .map(|(status, description)| {
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("GlanceError")))
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

pub(crate) fn header(v: &str) -> HeaderValue {
    HeaderValue::from_str(v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

//! `/v2/metadefs/namespaces`, `/v2/metadefs/namespaces/{ns}`, the
//! namespace's resource type associations and `/v2/metadefs/resource_types`.

use super::metadef_items::ItemView;
use super::metadef_objects::ObjectBody;
use super::metadef_properties::definitions;
use super::metadef_tags::TagName;
use super::{GlanceErrors, State};
use crate::app::metadefs::NamespaceDetail;
use crate::db::metadefs::{Association, Namespace};
use axum::extract::{Path, State as S};
use axum::http::{header as h, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use common::auth::Auth;
use common::clock::iso_seconds;
use common::http::{JsonBody, QueryMap};
use common::Result;
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use utoipa::ToSchema;

pub fn routes() -> Router<Arc<crate::Image>> {
    Router::new()
        .route("/v2/metadefs/namespaces", get(list).post(create))
        .route(
            "/v2/metadefs/namespaces/{ns}",
            get(show).put(update).delete(remove),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/resource_types",
            get(list_associations).post(add_association),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/resource_types/{rt}",
            delete(remove_association),
        )
        .route("/v2/metadefs/resource_types", get(resource_types))
}

pub fn href(ns: &str) -> String {
    format!("/v2/metadefs/namespaces/{ns}")
}

/// A namespace as Glance prints it: its own attributes (unset ones left
/// out), and in the calls that show them its associations, properties,
/// objects and tags (empty collections left out).
#[derive(Debug, Serialize, ToSchema)]
pub struct NamespaceBody {
    pub namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub visibility: String,
    pub protected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(rename = "self")]
    #[schema(rename = "self")]
    pub self_link: String,
    pub schema: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource_type_associations: Vec<AssociationBody>,
    /// Property definitions by name.
    #[serde(skip_serializing_if = "Map::is_empty")]
    #[schema(additional_properties)]
    pub properties: Map<String, Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectBody>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagName>,
}

impl From<&Namespace> for NamespaceBody {
    fn from(ns: &Namespace) -> Self {
        NamespaceBody {
            namespace: ns.namespace.clone(),
            display_name: ns.display_name.clone(),
            description: ns.description.clone(),
            visibility: ns.visibility.clone(),
            protected: ns.protected,
            owner: ns.owner.clone(),
            created_at: iso_seconds(ns.created_at),
            updated_at: iso_seconds(ns.updated_at),
            self_link: href(&ns.namespace),
            schema: "/v2/schemas/metadefs/namespace".into(),
            resource_type_associations: Vec::new(),
            properties: Map::new(),
            objects: Vec::new(),
            tags: Vec::new(),
        }
    }
}

impl From<&NamespaceDetail> for NamespaceBody {
    fn from(d: &NamespaceDetail) -> Self {
        let ns = &d.ns.namespace;
        NamespaceBody {
            resource_type_associations: d.associations.iter().map(AssociationBody::from).collect(),
            properties: definitions(&d.properties),
            objects: d.objects.iter().map(|o| ObjectBody::view(ns, o)).collect(),
            tags: d.tags.iter().map(TagName::from).collect(),
            ..NamespaceBody::from(&d.ns)
        }
    }
}

/// A resource type association of a namespace.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssociationBody {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties_target: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Association> for AssociationBody {
    fn from(a: &Association) -> Self {
        AssociationBody {
            name: a.name.clone(),
            prefix: a.prefix.clone(),
            properties_target: a.properties_target.clone(),
            created_at: iso_seconds(a.created_at),
            updated_at: iso_seconds(a.updated_at),
        }
    }
}

/// `GET /v2/metadefs/namespaces`: a page with its links.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamespaceList {
    pub namespaces: Vec<NamespaceBody>,
    pub first: String,
    pub schema: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// `GET …/{ns}/resource_types`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssociationList {
    pub resource_type_associations: Vec<AssociationBody>,
}

/// A resource type namespaces can be associated with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceTypeBody {
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
}

/// `GET /v2/metadefs/resource_types`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceTypeList {
    pub resource_types: Vec<ResourceTypeBody>,
}

#[utoipa::path(get, path = "/v2/metadefs/namespaces", tag = "metadef namespaces",
    params(
        ("limit" = Option<u32>, Query), ("marker" = Option<String>, Query),
        ("sort_key" = Option<String>, Query), ("sort_dir" = Option<String>, Query),
        ("visibility" = Option<String>, Query), ("resource_types" = Option<String>, Query),
    ),
    responses((status = 200, body = NamespaceList), GlanceErrors))]
async fn list(S(g): State, Auth(ctx): Auth, q: QueryMap) -> Result<Json<NamespaceList>> {
    let (page, next) = g.list_namespaces(&ctx, &q).await?;
    let keep: Vec<(&str, &str)> =
        q.0.iter()
            .filter(|(k, _)| k != "marker")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
    let namespaces = page
        .iter()
        .map(|(ns, assoc)| NamespaceBody {
            resource_type_associations: assoc.iter().map(AssociationBody::from).collect(),
            ..NamespaceBody::from(ns)
        })
        .collect();
    let next = next.map(|m| {
        super::images::with_query(
            "/v2/metadefs/namespaces",
            keep.iter()
                .copied()
                .chain(std::iter::once(("marker", m.as_str()))),
        )
    });
    Ok(Json(NamespaceList {
        namespaces,
        first: super::images::with_query("/v2/metadefs/namespaces", keep.iter().copied()),
        schema: "/v2/schemas/metadefs/namespaces".into(),
        next,
    }))
}

#[utoipa::path(post, path = "/v2/metadefs/namespaces", tag = "metadef namespaces",
    request_body(content = Object, content_type = "application/json"),
    responses((status = 201, body = NamespaceBody), GlanceErrors))]
async fn create(S(g): State, Auth(ctx): Auth, JsonBody(body): JsonBody<Value>) -> Result<Response> {
    let d = g.create_namespace(&ctx, body).await?;
    let mut r = (StatusCode::CREATED, Json(NamespaceBody::from(&d))).into_response();
    r.headers_mut()
        .insert(h::LOCATION, super::header(&href(&d.ns.namespace)));
    Ok(r)
}

#[utoipa::path(get, path = "/v2/metadefs/namespaces/{ns}", tag = "metadef namespaces",
    params(("ns" = String, Path), ("resource_type" = Option<String>, Query)),
    responses((status = 200, body = NamespaceBody), GlanceErrors))]
async fn show(
    S(g): State,
    Auth(ctx): Auth,
    Path(ns): Path<String>,
    q: QueryMap,
) -> Result<Json<NamespaceBody>> {
    let d = g.show_namespace(&ctx, &ns, q.get("resource_type")).await?;
    Ok(Json(NamespaceBody::from(&d)))
}

#[utoipa::path(put, path = "/v2/metadefs/namespaces/{ns}", tag = "metadef namespaces",
    params(("ns" = String, Path)),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = NamespaceBody), GlanceErrors))]
async fn update(
    S(g): State,
    Auth(ctx): Auth,
    Path(ns): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<NamespaceBody>> {
    let n = g.update_namespace(&ctx, &ns, body).await?;
    Ok(Json(NamespaceBody::from(&n)))
}

#[utoipa::path(delete, path = "/v2/metadefs/namespaces/{ns}", tag = "metadef namespaces",
    params(("ns" = String, Path)),
    responses((status = 204), GlanceErrors))]
async fn remove(S(g): State, Auth(ctx): Auth, Path(ns): Path<String>) -> Result<StatusCode> {
    g.delete_namespace(&ctx, &ns).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v2/metadefs/namespaces/{ns}/resource_types", tag = "metadef namespaces",
    params(("ns" = String, Path)),
    responses((status = 200, body = AssociationList), GlanceErrors))]
async fn list_associations(
    S(g): State,
    Auth(ctx): Auth,
    Path(ns): Path<String>,
) -> Result<Json<AssociationList>> {
    let a = g.list_associations(&ctx, &ns).await?;
    Ok(Json(AssociationList {
        resource_type_associations: a.iter().map(AssociationBody::from).collect(),
    }))
}

#[utoipa::path(post, path = "/v2/metadefs/namespaces/{ns}/resource_types", tag = "metadef namespaces",
    params(("ns" = String, Path)),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 201, body = AssociationBody), GlanceErrors))]
async fn add_association(
    S(g): State,
    Auth(ctx): Auth,
    Path(ns): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let a = g.add_association(&ctx, &ns, body).await?;
    Ok((StatusCode::CREATED, Json(AssociationBody::from(&a))).into_response())
}

#[utoipa::path(delete, path = "/v2/metadefs/namespaces/{ns}/resource_types/{rt}", tag = "metadef namespaces",
    params(("ns" = String, Path), ("rt" = String, Path)),
    responses((status = 204), GlanceErrors))]
async fn remove_association(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, rt)): Path<(String, String)>,
) -> Result<StatusCode> {
    g.remove_association(&ctx, &ns, &rt).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v2/metadefs/resource_types", tag = "metadef namespaces",
    responses((status = 200, body = ResourceTypeList), GlanceErrors))]
async fn resource_types(S(g): State, Auth(ctx): Auth) -> Result<Json<ResourceTypeList>> {
    let rts = g.list_resource_types(&ctx).await?;
    Ok(Json(ResourceTypeList {
        resource_types: rts
            .iter()
            .map(|r| ResourceTypeBody {
                name: r.name.clone(),
                created_at: iso_seconds(r.created_at),
                updated_at: iso_seconds(r.updated_at),
            })
            .collect(),
    }))
}

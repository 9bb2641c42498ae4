//! `/v2/metadefs/namespaces`, `/v2/metadefs/namespaces/{ns}` (and the
//! delete-all calls on its objects, properties and tags), the namespace's
//! resource type associations and `/v2/metadefs/resource_types`.

use super::State;
use crate::app::metadefs::NamespaceDetail;
use crate::db::metadefs::{Association, Kind, Namespace};
use axum::extract::{Path, State as S};
use axum::http::{header as h, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use common::auth::Auth;
use common::clock::iso_seconds;
use common::http::{JsonBody, QueryMap};
use common::Result;
use serde_json::{json, Map, Value};
use std::sync::Arc;

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

/// A namespace's own attributes, leaving out unset ones as Glance does.
pub fn render(ns: &Namespace) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("namespace".into(), json!(ns.namespace));
    if let Some(d) = &ns.display_name {
        m.insert("display_name".into(), json!(d));
    }
    if let Some(d) = &ns.description {
        m.insert("description".into(), json!(d));
    }
    m.insert("visibility".into(), json!(ns.visibility));
    m.insert("protected".into(), json!(ns.protected));
    if let Some(o) = &ns.owner {
        m.insert("owner".into(), json!(o));
    }
    m.insert("created_at".into(), json!(iso_seconds(ns.created_at)));
    m.insert("updated_at".into(), json!(iso_seconds(ns.updated_at)));
    m.insert("self".into(), json!(href(&ns.namespace)));
    m.insert("schema".into(), json!("/v2/schemas/metadefs/namespace"));
    m
}

pub fn render_association(a: &Association) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(a.name));
    if let Some(p) = &a.prefix {
        m.insert("prefix".into(), json!(p));
    }
    if let Some(t) = &a.properties_target {
        m.insert("properties_target".into(), json!(t));
    }
    m.insert("created_at".into(), json!(iso_seconds(a.created_at)));
    m.insert("updated_at".into(), json!(iso_seconds(a.updated_at)));
    Value::Object(m)
}

/// A namespace with its contents; empty collections are left out.
fn render_detail(d: &NamespaceDetail) -> Value {
    let mut m = render(&d.ns);
    let ns = &d.ns.namespace;
    if !d.associations.is_empty() {
        m.insert(
            "resource_type_associations".into(),
            d.associations.iter().map(render_association).collect(),
        );
    }
    if !d.properties.is_empty() {
        m.insert(
            "properties".into(),
            super::metadef_properties::render_map(&d.properties),
        );
    }
    if !d.objects.is_empty() {
        m.insert(
            "objects".into(),
            d.objects
                .iter()
                .map(|o| super::metadef_objects::render(ns, o))
                .collect(),
        );
    }
    if !d.tags.is_empty() {
        m.insert(
            "tags".into(),
            d.tags.iter().map(|t| json!({"name": t.name})).collect(),
        );
    }
    Value::Object(m)
}

async fn list(S(g): State, Auth(ctx): Auth, q: QueryMap) -> Result<Json<Value>> {
    let (page, next) = g.list_namespaces(&ctx, &q).await?;
    let keep: Vec<(&str, &str)> =
        q.0.iter()
            .filter(|(k, _)| k != "marker")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
    let namespaces: Vec<Value> = page
        .iter()
        .map(|(ns, assoc)| {
            let mut m = render(ns);
            if !assoc.is_empty() {
                m.insert(
                    "resource_type_associations".into(),
                    assoc.iter().map(render_association).collect(),
                );
            }
            Value::Object(m)
        })
        .collect();
    let mut body = json!({
        "namespaces": namespaces,
        "first": super::images::with_query("/v2/metadefs/namespaces", keep.iter().copied()),
        "schema": "/v2/schemas/metadefs/namespaces",
    });
    if let Some(m) = next {
        body["next"] = json!(super::images::with_query(
            "/v2/metadefs/namespaces",
            keep.iter()
                .copied()
                .chain(std::iter::once(("marker", m.as_str())))
        ));
    }
    Ok(Json(body))
}

async fn create(S(g): State, Auth(ctx): Auth, JsonBody(body): JsonBody<Value>) -> Result<Response> {
    let d = g.create_namespace(&ctx, body).await?;
    let mut r = (StatusCode::CREATED, Json(render_detail(&d))).into_response();
    r.headers_mut()
        .insert(h::LOCATION, super::header(&href(&d.ns.namespace)));
    Ok(r)
}

async fn show(
    S(g): State,
    Auth(ctx): Auth,
    Path(ns): Path<String>,
    q: QueryMap,
) -> Result<Json<Value>> {
    let d = g.show_namespace(&ctx, &ns, q.get("resource_type")).await?;
    Ok(Json(render_detail(&d)))
}

async fn update(
    S(g): State,
    Auth(ctx): Auth,
    Path(ns): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let n = g.update_namespace(&ctx, &ns, body).await?;
    Ok(Json(Value::Object(render(&n))))
}

async fn remove(S(g): State, Auth(ctx): Auth, Path(ns): Path<String>) -> Result<StatusCode> {
    g.delete_namespace(&ctx, &ns).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE …/{objects,properties,tags}` on a namespace.
pub async fn remove_all(
    g: &crate::Image,
    ctx: &common::context::AuthContext,
    ns: &str,
    kind: Kind,
) -> Result<StatusCode> {
    g.delete_namespace_items(ctx, ns, kind).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_associations(
    S(g): State,
    Auth(ctx): Auth,
    Path(ns): Path<String>,
) -> Result<Json<Value>> {
    let a = g.list_associations(&ctx, &ns).await?;
    Ok(Json(json!({
        "resource_type_associations": a.iter().map(render_association).collect::<Vec<_>>(),
    })))
}

async fn add_association(
    S(g): State,
    Auth(ctx): Auth,
    Path(ns): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let a = g.add_association(&ctx, &ns, body).await?;
    Ok((StatusCode::CREATED, Json(render_association(&a))).into_response())
}

async fn remove_association(
    S(g): State,
    Auth(ctx): Auth,
    Path((ns, rt)): Path<(String, String)>,
) -> Result<StatusCode> {
    g.remove_association(&ctx, &ns, &rt).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn resource_types(S(g): State, Auth(ctx): Auth) -> Result<Json<Value>> {
    let rts = g.list_resource_types(&ctx).await?;
    let list: Vec<Value> = rts
        .iter()
        .map(|r| {
            json!({"name": r.name, "created_at": iso_seconds(r.created_at),
                   "updated_at": iso_seconds(r.updated_at)})
        })
        .collect();
    Ok(Json(json!({ "resource_types": list })))
}

//! What the handlers of a namespace's objects, properties and tags share:
//! how each kind prints one item ([`ItemView`]), and the answers of the
//! calls that are the same for every kind (list, create, show, update,
//! delete one, delete all). The handlers keep their own URLs and docs.

use crate::db::metadefs::{Item, Kind};
use crate::Image;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use common::context::AuthContext;
use common::Result;
use serde::Serialize;
use serde_json::Value;

/// One kind of namespace item as Glance prints it.
pub trait ItemView: Serialize + Sized {
    const KIND: Kind;

    /// `item` of namespace `ns`.
    fn view(ns: &str, item: &Item) -> Self;
}

/// Every item of the kind in namespace `ns`, printed.
pub async fn list<V: ItemView>(g: &Image, ctx: &AuthContext, ns: &str) -> Result<Vec<V>> {
    let (n, items) = g.list_items(ctx, ns, V::KIND).await?;
    Ok(items.iter().map(|i| V::view(&n.namespace, i)).collect())
}

/// `201` with the new item: made from `body`, or for a tag, named `tag`.
pub async fn create<V: ItemView>(
    g: &Image,
    ctx: &AuthContext,
    ns: &str,
    tag: Option<&str>,
    body: Value,
) -> Result<Response> {
    let item = g.create_item(ctx, ns, V::KIND, tag, body).await?;
    Ok((StatusCode::CREATED, Json(V::view(ns, &item))).into_response())
}

pub async fn show<V: ItemView>(
    g: &Image,
    ctx: &AuthContext,
    ns: &str,
    name: &str,
) -> Result<Json<V>> {
    let item = g.get_item(ctx, ns, V::KIND, name).await?;
    Ok(Json(V::view(ns, &item)))
}

/// The item as the body replaced it.
pub async fn update<V: ItemView>(
    g: &Image,
    ctx: &AuthContext,
    ns: &str,
    name: &str,
    body: Value,
) -> Result<Json<V>> {
    let item = g.update_item(ctx, ns, V::KIND, name, body).await?;
    Ok(Json(V::view(ns, &item)))
}

pub async fn remove(
    g: &Image,
    ctx: &AuthContext,
    ns: &str,
    kind: Kind,
    name: &str,
) -> Result<StatusCode> {
    g.delete_item(ctx, ns, kind, name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE …/{objects,properties,tags}` on a namespace.
pub async fn remove_all(g: &Image, ctx: &AuthContext, ns: &str, kind: Kind) -> Result<StatusCode> {
    g.delete_namespace_items(ctx, ns, kind).await?;
    Ok(StatusCode::NO_CONTENT)
}

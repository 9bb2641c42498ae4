//! `/os-aggregates` (admin): list, create, show, update, delete, and the
//! `add_host`, `remove_host` and `set_metadata` actions. Ids are integers;
//! from 2.41 aggregates show their `uuid`. Create, delete and the actions
//! answer 200, as Nova does for backwards compatibility.

use super::{Microversion, State};
use crate::app::aggregates::view;
use crate::app::servers::check_name;
use axum::extract::{Path, State as S};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::auth::Auth;
use common::http::JsonBody;
use common::{Error, Result};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Compute>> {
    Router::new()
        .route("/v2.1/os-aggregates", get(list).post(create))
        .route(
            "/v2.1/os-aggregates/{id}",
            get(show).put(update).delete(delete),
        )
        .route("/v2.1/os-aggregates/{id}/action", post(action))
}

fn bad(msg: impl Into<String>) -> Error {
    Error::bad_request(msg)
}

fn additional(key: &str) -> Error {
    bad(format!(
        "Invalid input for field/attribute body. Additional properties are not allowed \
         ('{key}' was unexpected)"
    ))
}

/// Nova's `utils.validate_integer(id, 'id')`.
fn int_id(id: &str) -> Result<i64> {
    id.parse::<i64>()
        .map_err(|_| bad("Invalid input received: id must be an integer"))
}

/// The one object under `key`, with only `allowed` keys.
fn object<'a>(body: &'a Value, key: &str, allowed: &[&str]) -> Result<&'a Map<String, Value>> {
    let top = body
        .as_object()
        .ok_or_else(|| bad("Invalid input for field/attribute body. Not an object"))?;
    if let Some(k) = top.keys().find(|k| k.as_str() != key) {
        return Err(additional(k));
    }
    let inner = top
        .get(key)
        .ok_or_else(|| {
            bad(format!(
                "Invalid input for field/attribute {key}. '{key}' is a required property"
            ))
        })?
        .as_object()
        .ok_or_else(|| {
            bad(format!(
                "Invalid input for field/attribute {key}. Value must be an object"
            ))
        })?;
    if let Some(k) = inner.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(bad(format!(
            "Invalid input for field/attribute {key}. Additional properties are not allowed \
             ('{k}' was unexpected)"
        )));
    }
    Ok(inner)
}

/// `availability_zone`: Nova's `az_name` (a name without `:`) or null.
fn zone(v: &Value) -> Result<Option<String>> {
    if v.is_null() {
        return Ok(None);
    }
    let z = check_name("availability_zone", v)?;
    if z.contains(':') {
        return Err(bad(format!(
            "Invalid input for field/attribute availability_zone. Value: {z}. '{z}' is not a \
             'az_name'"
        )));
    }
    Ok(Some(z))
}

/// `add_host`/`remove_host`'s `host`: Nova's `fqdn`.
fn host(m: &Map<String, Value>) -> Result<String> {
    let h = m.get("host").ok_or_else(|| {
        bad("Invalid input for field/attribute host. 'host' is a required property")
    })?;
    let s = h.as_str().ok_or_else(|| {
        bad(format!(
            "Invalid input for field/attribute host. Value: {h}. {h} is not of type 'string'"
        ))
    })?;
    let ok = (1..=255).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !ok {
        return Err(bad(format!(
            "Invalid input for field/attribute host. Value: {s}. '{s}' does not match \
             '^[a-zA-Z0-9-._]*$'"
        )));
    }
    Ok(s.to_string())
}

/// `metadata_with_null`: keys of 1–255 of `[a-zA-Z0-9-_:. ]`, values
/// strings up to 255 characters or null.
fn metadata(m: &Map<String, Value>) -> Result<BTreeMap<String, Option<String>>> {
    let meta = m
        .get("metadata")
        .ok_or_else(|| {
            bad("Invalid input for field/attribute set_metadata. 'metadata' is a required property")
        })?
        .as_object()
        .ok_or_else(|| {
            bad("Invalid input for field/attribute metadata. Value must be an object")
        })?;
    let mut out = BTreeMap::new();
    for (k, v) in meta {
        let key_ok = (1..=255).contains(&k.chars().count())
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | ' '));
        if !key_ok {
            return Err(bad(format!(
                "Invalid input for field/attribute metadata. Additional properties are not \
                 allowed ('{k}' was unexpected)"
            )));
        }
        let value = match v {
            Value::Null => None,
            Value::String(s) if s.chars().count() <= 255 => Some(s.clone()),
            other => {
                return Err(bad(format!(
                    "Invalid input for field/attribute {k}. Value: {other}. {other} is not of \
                     type 'string', 'null'"
                )))
            }
        };
        out.insert(k.clone(), value);
    }
    Ok(out)
}

async fn list(S(nova): State, Auth(ctx): Auth, mv: Microversion) -> Result<Json<Value>> {
    let all = nova.list_aggregates(&ctx).await?;
    let out: Vec<Value> = all.iter().map(|a| view(a, mv.at_least(41), true)).collect();
    Ok(Json(json!({ "aggregates": out })))
}

async fn create(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    // Nova checks the policy before the body.
    nova.enforce(&ctx, "os_compute_api:os-aggregates:create", &json!({}))?;
    let a = object(&body, "aggregate", &["name", "availability_zone"])?;
    let name = check_name(
        "name",
        a.get("name").ok_or_else(|| {
            bad("Invalid input for field/attribute aggregate. 'name' is a required property")
        })?,
    )?;
    let z = match a.get("availability_zone") {
        Some(v) => zone(v)?,
        None => None,
    };
    let agg = nova.create_aggregate(&ctx, &name, z.as_deref()).await?;
    Ok(Json(
        json!({"aggregate": view(&agg, mv.at_least(41), false)}),
    ))
}

async fn show(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    nova.enforce(&ctx, "os_compute_api:os-aggregates:show", &json!({}))?;
    let agg = nova.get_aggregate(&ctx, int_id(&id)?).await?;
    Ok(Json(
        json!({"aggregate": view(&agg, mv.at_least(41), true)}),
    ))
}

async fn update(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    nova.enforce(&ctx, "os_compute_api:os-aggregates:update", &json!({}))?;
    let a = object(&body, "aggregate", &["name", "availability_zone"])?;
    if a.is_empty() {
        return Err(bad(
            "Invalid input for field/attribute aggregate. Value: {}. {} is not valid under any \
             of the given schemas",
        ));
    }
    let name = match a.get("name") {
        Some(v) => Some(check_name("name", v)?),
        None => None,
    };
    let z = match a.get("availability_zone") {
        Some(v) => Some(zone(v)?),
        None => None,
    };
    let id = int_id(&id)?;
    let agg = nova
        .update_aggregate(&ctx, id, name.as_deref(), z.as_ref().map(|z| z.as_deref()))
        .await?;
    Ok(Json(
        json!({"aggregate": view(&agg, mv.at_least(41), true)}),
    ))
}

async fn delete(S(nova): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<()> {
    nova.enforce(&ctx, "os_compute_api:os-aggregates:delete", &json!({}))?;
    nova.delete_aggregate(&ctx, int_id(&id)?).await
}

async fn action(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let name = body
        .as_object()
        .and_then(|o| o.keys().next().cloned())
        .unwrap_or_default();
    let agg = match name.as_str() {
        "add_host" => {
            nova.enforce(&ctx, "os_compute_api:os-aggregates:add_host", &json!({}))?;
            let h = host(object(&body, "add_host", &["host"])?)?;
            nova.aggregate_add_host(&ctx, int_id(&id)?, &h).await?
        }
        "remove_host" => {
            nova.enforce(&ctx, "os_compute_api:os-aggregates:remove_host", &json!({}))?;
            let h = host(object(&body, "remove_host", &["host"])?)?;
            nova.aggregate_remove_host(&ctx, int_id(&id)?, &h).await?
        }
        "set_metadata" => {
            nova.enforce(
                &ctx,
                "os_compute_api:os-aggregates:set_metadata",
                &json!({}),
            )?;
            let m = metadata(object(&body, "set_metadata", &["metadata"])?)?;
            nova.aggregate_set_metadata(&ctx, int_id(&id)?, &m).await?
        }
        _ => return Err(Error::not_found("The resource could not be found.")),
    };
    Ok(Json(
        json!({"aggregate": view(&agg, mv.at_least(41), true)}),
    ))
}

//! `/v2.1/os-keypairs` and `/v2.1/os-keypairs/{name}`. Bodies are checked
//! against Nova's schemas (nova/api/openstack/compute/schemas/keypairs.py):
//! `type` from 2.2, `user_id` from 2.10 (admins), `public_key` required
//! from 2.92 along with a wider name alphabet. Responses follow tempest's
//! `v2_1`/`v2_2` keypair schemas: 2.2 adds `type`, answers 201 to a
//! create and 204 to a delete; 2.35 pages the list (`keypairs_links`).

use super::flavors::{limit_param, next_links, valid_name};
use super::{Microversion, State};
use crate::app::keypairs::{KeyPair, NewKeyPair, TYPE_SSH, TYPE_X509};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::clock::iso_micros_naive;
use common::http::{BaseUrl, JsonBody, QueryMap};
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Compute>> {
    Router::new()
        .route("/v2.1/os-keypairs", get(index).post(create))
        .route("/v2.1/os-keypairs/{name}", get(show).delete(delete))
}

fn list_item(k: &KeyPair, mv: Microversion) -> Value {
    let mut v = json!({
        "name": k.name,
        "public_key": k.public_key,
        "fingerprint": k.fingerprint,
    });
    if mv.at_least(2) {
        v["type"] = json!(k.key_type);
    }
    v
}

fn show_body(k: &KeyPair, mv: Microversion) -> Value {
    let mut v = list_item(k, mv);
    v["user_id"] = json!(k.user_id);
    v["created_at"] = json!(iso_micros_naive(k.created_at));
    v["updated_at"] = Value::Null;
    v["deleted_at"] = Value::Null;
    v["deleted"] = json!(false);
    v["id"] = json!(k.id);
    v
}

/// Refuses query parameters outside `allowed` (2.75+, Nova's
/// `additionalProperties: False` query schemas).
fn strict_query(q: &QueryMap, mv: Microversion, allowed: &[&str]) -> Result<()> {
    if !mv.at_least(75) {
        return Ok(());
    }
    match q.0.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        Some((k, _)) => Err(Error::bad_request(format!(
            "Invalid input for query parameters {k}. Value: {k}. Additional properties are not \
             allowed ('{k}' was unexpected)"
        ))),
        None => Ok(()),
    }
}

/// `?user_id=` (2.10+).
fn user_param(q: &QueryMap, mv: Microversion) -> Option<String> {
    if mv.at_least(10) {
        q.get("user_id").map(str::to_string)
    } else {
        None
    }
}

/// `GET /v2.1/os-keypairs`.
async fn index(
    axum::extract::State(nova): State,
    ctx: Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    strict_query(&q, mv, &["user_id", "limit", "marker"])?;
    let (limit, marker) = if mv.at_least(35) {
        (
            Some(
                limit_param(&q)?
                    .unwrap_or(crate::app::flavors::MAX_LIMIT)
                    .min(crate::app::flavors::MAX_LIMIT),
            ),
            q.get("marker"),
        )
    } else {
        (None, None)
    };
    let user = user_param(&q, mv);
    let (kps, next) = nova
        .list_keypairs(&ctx, user.as_deref(), limit, marker)
        .await?;
    let items: Vec<Value> = kps
        .iter()
        .map(|k| json!({"keypair": list_item(k, mv)}))
        .collect();
    let mut body = json!({ "keypairs": items });
    if mv.at_least(35) {
        if let Some(l) = next_links(&format!("{base}/v2.1/os-keypairs"), &q, next.as_deref()) {
            body["keypairs_links"] = l;
        }
    }
    Ok(Json(body))
}

/// `GET /v2.1/os-keypairs/{name}`.
async fn show(
    axum::extract::State(nova): State,
    ctx: Auth,
    mv: Microversion,
    q: QueryMap,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    strict_query(&q, mv, &["user_id"])?;
    let user = user_param(&q, mv);
    let k = nova.show_keypair(&ctx, &name, user.as_deref()).await?;
    Ok(Json(json!({"keypair": show_body(&k, mv)})))
}

/// `DELETE /v2.1/os-keypairs/{name}`: 202 before 2.2, 204 from it.
async fn delete(
    axum::extract::State(nova): State,
    ctx: Auth,
    mv: Microversion,
    q: QueryMap,
    Path(name): Path<String>,
) -> Result<StatusCode> {
    strict_query(&q, mv, &["user_id"])?;
    let user = user_param(&q, mv);
    nova.delete_keypair(&ctx, &name, user.as_deref()).await?;
    Ok(if mv.at_least(2) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::ACCEPTED
    })
}

fn bad(field: &str, value: &Value, why: &str) -> Error {
    Error::bad_request(format!(
        "Invalid input for field/attribute {field}. Value: {value}. {why}"
    ))
}

/// Parses `POST /os-keypairs`'s body as the schema of `mv`.
pub fn parse_create(body: &Value, mv: Microversion) -> Result<NewKeyPair> {
    let outer = body
        .as_object()
        .ok_or_else(|| bad("keypair", body, "The request body must be an object"))?;
    if let Some(k) = outer.keys().find(|k| k.as_str() != "keypair") {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute keypair. Additional properties are not allowed \
             ('{k}' was unexpected)"
        )));
    }
    let m = match outer.get("keypair") {
        Some(Value::Object(m)) => m,
        Some(v) => return Err(bad("keypair", v, "Expected an object")),
        None => {
            return Err(Error::bad_request(
                "Invalid input for field/attribute keypair. 'keypair' is a required property",
            ))
        }
    };
    let mut allowed = vec!["name", "public_key"];
    if mv.at_least(2) {
        allowed.push("type");
    }
    if mv.at_least(10) {
        allowed.push("user_id");
    }
    if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute keypair. Additional properties are not allowed \
             ('{k}' was unexpected)"
        )));
    }
    let name = match m.get("name") {
        Some(Value::String(s)) => {
            let extra: &[char] = if mv.at_least(92) {
                &['_', '-', ' ', '@', '.']
            } else {
                &['_', '-', ' ']
            };
            let ok = valid_name(s)
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c));
            if !ok {
                let pattern = if mv.at_least(92) {
                    r"^[_\-\@\. a-zA-Z0-9]+$"
                } else {
                    r"^[_\- a-zA-Z0-9]+$"
                };
                return Err(bad(
                    "name",
                    &json!(s),
                    &format!(
                        "Value must be 1 to 255 characters matching '{pattern}', not starting \
                         or ending with whitespace"
                    ),
                ));
            }
            s.clone()
        }
        Some(v) => return Err(bad("name", v, &format!("{v} is not of type 'string'"))),
        None => {
            return Err(Error::bad_request(
                "Invalid input for field/attribute keypair. 'name' is a required property",
            ))
        }
    };
    let public_key =
        match m.get("public_key") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => {
                return Err(bad(
                    "public_key",
                    v,
                    &format!("{v} is not of type 'string'"),
                ))
            }
            None if mv.at_least(92) => return Err(Error::bad_request(
                "Invalid input for field/attribute keypair. 'public_key' is a required property",
            )),
            None => None,
        };
    let key_type = match m.get("type") {
        None => TYPE_SSH.to_string(),
        Some(Value::String(s)) if s == TYPE_SSH || s == TYPE_X509 => s.clone(),
        Some(v) => {
            return Err(bad(
                "type",
                v,
                &format!("{v} is not one of ['ssh', 'x509']"),
            ))
        }
    };
    let user_id = match m.get("user_id") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => return Err(bad("user_id", v, &format!("{v} is not of type 'string'"))),
    };
    Ok(NewKeyPair {
        name,
        key_type,
        public_key,
        user_id,
    })
}

/// `POST /v2.1/os-keypairs`: 200 before 2.2, 201 from it.
async fn create(
    axum::extract::State(nova): State,
    ctx: Auth,
    mv: Microversion,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let new = parse_create(&body, mv)?;
    let (k, private_key) = nova.create_keypair(&ctx, new).await?;
    let mut v = list_item(&k, mv);
    v["user_id"] = json!(k.user_id);
    if let Some(p) = private_key {
        v["private_key"] = json!(p);
    }
    let status = if mv.at_least(2) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!({ "keypair": v }))).into_response())
}

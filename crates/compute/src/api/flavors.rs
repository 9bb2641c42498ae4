//! `/v2.1/flavors` (list, detail, show, create, update, delete),
//! `/v2.1/flavors/{id}/os-extra_specs[/{key}]`,
//! `/v2.1/flavors/{id}/os-flavor-access` and the `addTenantAccess` /
//! `removeTenantAccess` actions. Request bodies are checked here against
//! Nova's JSON schemas (nova/api/openstack/compute/schemas/flavor*.py);
//! responses follow tempest's schemas per microversion: 2.55 adds
//! `description`, 2.61 `extra_specs` (for callers allowed to read them),
//! 2.75 makes an unset `swap` 0 instead of "".

use super::{Microversion, State};
use crate::app::flavors::{Flavor, FlavorQuery, NewFlavor};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use common::auth::Auth;
use common::http::{BaseUrl, JsonBody, QueryMap};
use common::{Error, Result};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Compute>> {
    Router::new()
        .route("/v2.1/flavors", get(index).post(create))
        .route("/v2.1/flavors/detail", get(detail))
        .route("/v2.1/flavors/{id}", get(show).put(update).delete(delete))
        .route("/v2.1/flavors/{id}/action", post(action))
        .route("/v2.1/flavors/{id}/os-flavor-access", get(access_list))
        .route(
            "/v2.1/flavors/{id}/os-extra_specs",
            get(specs_index).post(specs_create),
        )
        .route(
            "/v2.1/flavors/{id}/os-extra_specs/{key}",
            get(spec_show).put(spec_update).delete(spec_delete),
        )
}

/// Nova's `_get_links`: the versioned `self` and the unversioned
/// `bookmark`.
fn links(base: &str, id: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{base}/v2.1/flavors/{id}")},
        {"rel": "bookmark", "href": format!("{base}/flavors/{id}")},
    ])
}

/// `GET /flavors`'s item.
pub fn brief(f: &Flavor, base: &str, mv: Microversion) -> Value {
    let mut v = json!({"id": f.flavorid, "name": f.name, "links": links(base, &f.flavorid)});
    if mv.at_least(55) {
        v["description"] = json!(f.description);
    }
    v
}

/// The full flavor (show, detail, create, update).
pub fn full(f: &Flavor, base: &str, mv: Microversion, specs: bool) -> Value {
    let swap = if f.swap != 0 {
        json!(f.swap)
    } else if mv.at_least(75) {
        json!(0)
    } else {
        json!("")
    };
    let mut v = json!({
        "id": f.flavorid,
        "name": f.name,
        "ram": f.memory_mb,
        "disk": f.root_gb,
        "swap": swap,
        "OS-FLV-EXT-DATA:ephemeral": f.ephemeral_gb,
        "OS-FLV-DISABLED:disabled": f.disabled,
        "vcpus": f.vcpus,
        "os-flavor-access:is_public": f.is_public,
        "rxtx_factor": f.rxtx_factor,
        "links": links(base, &f.flavorid),
    });
    if mv.at_least(55) {
        v["description"] = json!(f.description);
    }
    if mv.at_least(61) && specs {
        v["extra_specs"] = json!(f.extra_specs);
    }
    v
}

const QUERY_KEYS: &[&str] = &[
    "limit",
    "marker",
    "is_public",
    "minRam",
    "minDisk",
    "sort_key",
    "sort_dir",
];

/// Nova's `common.get_limit_and_marker` with the list's query schema.
fn list_query(q: &QueryMap, mv: Microversion) -> Result<FlavorQuery> {
    if mv.at_least(75) {
        if let Some((k, _)) = q.0.iter().find(|(k, _)| !QUERY_KEYS.contains(&k.as_str())) {
            return Err(Error::bad_request(format!(
                "Invalid input for query parameters {k}. Value: {k}. Additional properties are \
                 not allowed ('{k}' was unexpected)"
            )));
        }
    }
    let int_filter = |key: &str| -> Result<Option<i64>> {
        q.get(key)
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| Error::bad_request(format!("Invalid {key} filter [{v}]")))
            })
            .transpose()
    };
    let sort_key = q.get("sort_key").unwrap_or("flavorid");
    if !crate::db::flavors::SORT_KEYS
        .iter()
        .any(|k| k.0 == sort_key)
    {
        return Err(Error::bad_request(format!(
            "Invalid input for query parameters sort_key. Value: {sort_key}. \
             '{sort_key}' is not one of the valid sort keys"
        )));
    }
    let asc = match q.get("sort_dir").unwrap_or("asc") {
        "asc" => true,
        "desc" => false,
        other => {
            return Err(Error::bad_request(format!(
                "Invalid input for query parameters sort_dir. Value: {other}. \
                 '{other}' is not one of ['asc', 'desc']"
            )))
        }
    };
    Ok(FlavorQuery {
        min_ram: int_filter("minRam")?,
        min_disk: int_filter("minDisk")?,
        is_public: q.get("is_public").map(str::to_string),
        sort_key: sort_key.to_string(),
        asc,
        limit: limit_param(q)?.unwrap_or(crate::app::flavors::MAX_LIMIT),
        marker: q.get("marker").map(str::to_string),
    })
}

/// Nova's `_get_limit_param`.
pub fn limit_param(q: &QueryMap) -> Result<Option<usize>> {
    let Some(v) = q.get("limit") else {
        return Ok(None);
    };
    let n: i64 = v
        .trim()
        .parse()
        .map_err(|_| Error::bad_request("limit param must be an integer"))?;
    if n < 0 {
        return Err(Error::bad_request("limit param must be positive"));
    }
    Ok(Some(usize::try_from(n).unwrap_or(usize::MAX)))
}

/// `flavors_links` (or `keypairs_links`): the next page's link, when
/// there is one, with the request's own parameters and the new marker.
pub fn next_links(url: &str, q: &QueryMap, next: Option<&str>) -> Option<Value> {
    let next = next?;
    let l = common::http::pagination::links(url, q, Some(next));
    Some(json!([{"rel": "next", "href": l["next"]}]))
}

async fn list(
    nova: &crate::Compute,
    ctx: &Auth,
    q: &QueryMap,
    mv: Microversion,
    base: &str,
    detailed: bool,
) -> Result<Json<Value>> {
    let fq = list_query(q, mv)?;
    let (flavors, next) = nova.list_flavors(ctx, &fq).await?;
    let specs = detailed && mv.at_least(61) && nova.can_see_extra_specs(ctx);
    let items: Vec<Value> = flavors
        .iter()
        .map(|f| {
            if detailed {
                full(f, base, mv, specs)
            } else {
                brief(f, base, mv)
            }
        })
        .collect();
    let mut body = json!({ "flavors": items });
    let path = if detailed {
        "flavors/detail"
    } else {
        "flavors"
    };
    if let Some(l) = next_links(&format!("{base}/v2.1/{path}"), q, next.as_deref()) {
        body["flavors_links"] = l;
    }
    Ok(Json(body))
}

/// `GET /v2.1/flavors`.
async fn index(
    axum::extract::State(nova): State,
    ctx: Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    list(&nova, &ctx, &q, mv, &base, false).await
}

/// `GET /v2.1/flavors/detail`.
async fn detail(
    axum::extract::State(nova): State,
    ctx: Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    list(&nova, &ctx, &q, mv, &base, true).await
}

/// `GET /v2.1/flavors/{id}`.
async fn show(
    axum::extract::State(nova): State,
    ctx: Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let f = nova.get_flavor_for(&ctx, &id).await?;
    let specs = nova.can_see_extra_specs(&ctx);
    Ok(Json(json!({"flavor": full(&f, &base, mv, specs)})))
}

/// Nova's schema error text: "Invalid input for field/attribute …".
fn invalid(field: &str, value: &Value, why: &str) -> Error {
    Error::bad_request(format!(
        "Invalid input for field/attribute {field}. Value: {value}. {why}"
    ))
}

/// The one object under `key` of a body that may hold nothing else.
fn wrapped<'a>(body: &'a Value, key: &str) -> Result<&'a Map<String, Value>> {
    let Some(outer) = body.as_object() else {
        return Err(invalid(key, body, "The request body must be an object"));
    };
    if let Some(k) = outer.keys().find(|k| k.as_str() != key) {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute {key}. Additional properties are not allowed \
             ('{k}' was unexpected)"
        )));
    }
    match outer.get(key) {
        Some(Value::Object(m)) => Ok(m),
        Some(other) => Err(invalid(
            key,
            other,
            &format!("{other} is not of type 'object'"),
        )),
        None => Err(Error::bad_request(format!(
            "Invalid input for field/attribute {key}. '{key}' is a required property"
        ))),
    }
}

/// Nova's `flavor_param_positive` / `_non_negative`: an integer or a
/// string of digits, `min`..=2147483647.
fn flavor_int(m: &Map<String, Value>, key: &str, min: i64) -> Result<Option<i64>> {
    let Some(v) = m.get(key) else { return Ok(None) };
    let n = match v {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| invalid(key, v, &format!("{v} is not of type 'integer', 'string'")))?,
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s
            .parse::<i64>()
            .map_err(|_| invalid(key, v, "Value is too large"))?,
        Value::String(s) => {
            return Err(invalid(key, v, &format!("'{s}' does not match '^[0-9]+$'")))
        }
        _ => {
            return Err(invalid(
                key,
                v,
                &format!("{v} is not of type 'integer', 'string'"),
            ))
        }
    };
    if n < min {
        return Err(invalid(
            key,
            v,
            &format!("{n} is less than the minimum of {min}"),
        ));
    }
    if n > 0x7FFF_FFFF {
        return Err(invalid(
            key,
            v,
            &format!("{n} is greater than the maximum of 2147483647"),
        ));
    }
    Ok(Some(n))
}

/// Nova's `parameter_types.boolean`.
pub fn bool_param(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.as_str() {
            "True" | "TRUE" | "true" | "1" | "ON" | "On" | "on" | "YES" | "Yes" | "yes" => {
                Some(true)
            }
            "False" | "FALSE" | "false" | "0" | "OFF" | "Off" | "off" | "NO" | "No" | "no" => {
                Some(false)
            }
            _ => None,
        },
        _ => None,
    }
}

/// Nova's `valid_name_regex`: printable characters, not starting or
/// ending with whitespace, 1 to 255 of them.
pub fn valid_name(s: &str) -> bool {
    let n = s.chars().count();
    (1..=255).contains(&n)
        && !s.chars().any(char::is_control)
        && !s.starts_with(char::is_whitespace)
        && !s.ends_with(char::is_whitespace)
}

/// A description (2.55): printable text or whitespace, up to 65535
/// characters, or null.
fn description(m: &Map<String, Value>) -> Result<Option<String>> {
    match m.get("description") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            if s.chars().count() > 65535 {
                return Err(invalid("description", &json!(s), "Value is too long"));
            }
            if s.chars().any(|c| c.is_control() && !c.is_whitespace()) {
                return Err(invalid(
                    "description",
                    &json!(s),
                    "Description contains invalid characters",
                ));
            }
            Ok(Some(s.clone()))
        }
        Some(v) => Err(invalid(
            "description",
            v,
            &format!("{v} is not of type 'string', 'null'"),
        )),
    }
}

/// Parses `POST /flavors`'s body as Nova's `create` / `create_v255`.
pub fn parse_create(body: &Value, mv: Microversion) -> Result<NewFlavor> {
    let m = wrapped(body, "flavor")?;
    let mut allowed = vec![
        "name",
        "id",
        "ram",
        "vcpus",
        "disk",
        "OS-FLV-EXT-DATA:ephemeral",
        "swap",
        "rxtx_factor",
        "os-flavor-access:is_public",
    ];
    if mv.at_least(55) {
        allowed.push("description");
    }
    if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute flavor. Additional properties are not allowed \
             ('{k}' was unexpected)"
        )));
    }
    for req in ["name", "ram", "vcpus", "disk"] {
        if !m.contains_key(req) {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute flavor. '{req}' is a required property"
            )));
        }
    }
    let name = match m.get("name") {
        Some(Value::String(s)) if valid_name(s) => s.clone(),
        Some(v) => {
            return Err(invalid(
                "name",
                v,
                "Value must be 1 to 255 printable characters and can not start or end with \
                 whitespace.",
            ))
        }
        None => String::new(),
    };
    let id = match m.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let ok = (1..=255).contains(&s.chars().count())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ". _-".contains(c))
                && !s.starts_with(' ')
                && !s.ends_with(' ');
            if !ok {
                return Err(invalid(
                    "id",
                    &json!(s),
                    &format!("'{s}' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'"),
                ));
            }
            Some(s.clone())
        }
        // Nova stores a numeric id as its string form.
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(v) => {
            return Err(invalid(
                "id",
                v,
                &format!("{v} is not of type 'string', 'number', 'null'"),
            ))
        }
    };
    let rxtx_factor = match m.get("rxtx_factor") {
        None => 1.0,
        Some(v) => {
            let f = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s)
                    if !s.is_empty()
                        && s.split_once('.').map_or(
                            s.bytes().all(|b| b.is_ascii_digit()),
                            |(a, b)| {
                                !a.is_empty()
                                    && !b.is_empty()
                                    && a.bytes().all(|c| c.is_ascii_digit())
                                    && b.bytes().all(|c| c.is_ascii_digit())
                            },
                        ) =>
                {
                    s.parse::<f64>().ok()
                }
                _ => None,
            };
            match f {
                Some(f) if f > 0.0 && f <= 3.40282e38 => f,
                _ => {
                    return Err(invalid(
                        "rxtx_factor",
                        v,
                        "'rxtx_factor' argument must be a float between 0 and 3.40282e+38",
                    ))
                }
            }
        }
    };
    let is_public = match m.get("os-flavor-access:is_public") {
        None => true,
        Some(v) => bool_param(v).ok_or_else(|| {
            invalid(
                "os-flavor-access:is_public",
                v,
                &format!("{v} is not one of the boolean values"),
            )
        })?,
    };
    Ok(NewFlavor {
        name,
        id,
        ram: flavor_int(m, "ram", 1)?.unwrap_or(0),
        vcpus: flavor_int(m, "vcpus", 1)?.unwrap_or(0),
        disk: flavor_int(m, "disk", 0)?.unwrap_or(0),
        ephemeral: flavor_int(m, "OS-FLV-EXT-DATA:ephemeral", 0)?.unwrap_or(0),
        swap: flavor_int(m, "swap", 0)?.unwrap_or(0),
        rxtx_factor,
        is_public,
        description: if mv.at_least(55) {
            description(m)?
        } else {
            None
        },
    })
}

/// `POST /v2.1/flavors` (admin): 200 with the flavor, as Nova.
async fn create(
    axum::extract::State(nova): State,
    ctx: Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    // Policy before the body, as Nova's handler checks it first.
    nova.enforce(&ctx, crate::app::flavors::policy::CREATE, &json!({}))?;
    let new = parse_create(&body, mv)?;
    let f = nova.create_flavor(&ctx, new).await?;
    let specs = nova.can_see_extra_specs(&ctx);
    Ok(Json(json!({"flavor": full(&f, &base, mv, specs)})))
}

/// `PUT /v2.1/flavors/{id}` (2.55+, admin): the description only.
async fn update(
    axum::extract::State(nova): State,
    ctx: Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    // Nova's router has no update before 2.55: a plain 404.
    if !mv.at_least(55) {
        return Err(Error::not_found("The resource could not be found."));
    }
    nova.enforce(&ctx, crate::app::flavors::policy::UPDATE, &json!({}))?;
    let m = wrapped(&body, "flavor")?;
    if let Some(k) = m.keys().find(|k| k.as_str() != "description") {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute flavor. Additional properties are not allowed \
             ('{k}' was unexpected)"
        )));
    }
    if !m.contains_key("description") {
        return Err(Error::bad_request(
            "Invalid input for field/attribute flavor. 'description' is a required property",
        ));
    }
    let d = description(m)?;
    let f = nova.update_flavor_description(&ctx, &id, d).await?;
    let specs = nova.can_see_extra_specs(&ctx);
    Ok(Json(json!({"flavor": full(&f, &base, mv, specs)})))
}

/// `DELETE /v2.1/flavors/{id}` (admin): 202, as Nova.
async fn delete(
    axum::extract::State(nova): State,
    ctx: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    nova.delete_flavor(&ctx, &id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// An extra spec key (`^[a-zA-Z0-9-_:. ]{1,255}$`) and its value
/// (a string of at most 255 characters, or a number, stored as text).
fn spec_entry(k: &str, v: &Value) -> Result<(String, String)> {
    let key_ok = (1..=255).contains(&k.len())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_:. ".contains(c));
    if !key_ok {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute extra_specs. Additional properties are not \
             allowed ('{k}' was unexpected)"
        )));
    }
    let value = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => {
            return Err(invalid(
                k,
                other,
                &format!("{other} is not of type 'string', 'number'"),
            ))
        }
    };
    if value.chars().count() > 255 {
        return Err(invalid(
            k,
            v,
            "Value is too long (more than 255 characters)",
        ));
    }
    Ok((k.to_string(), value))
}

fn specs_body(specs: &BTreeMap<String, String>) -> Value {
    json!({ "extra_specs": specs })
}

/// `GET /v2.1/flavors/{id}/os-extra_specs`.
async fn specs_index(
    axum::extract::State(nova): State,
    ctx: Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(specs_body(&nova.flavor_extra_specs(&ctx, &id).await?)))
}

/// `POST /v2.1/flavors/{id}/os-extra_specs` (admin): adds or replaces
/// the given keys; answers with them.
async fn specs_create(
    axum::extract::State(nova): State,
    ctx: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    nova.enforce(&ctx, crate::app::flavors::policy::SPECS_CREATE, &json!({}))?;
    let m = wrapped(&body, "extra_specs")?;
    let specs = m
        .iter()
        .map(|(k, v)| spec_entry(k, v))
        .collect::<Result<BTreeMap<_, _>>>()?;
    nova.set_flavor_extra_specs(&ctx, &id, &specs, false)
        .await?;
    Ok(Json(specs_body(&specs)))
}

/// `GET /v2.1/flavors/{id}/os-extra_specs/{key}`: `{key: value}`.
async fn spec_show(
    axum::extract::State(nova): State,
    ctx: Auth,
    Path((id, key)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let v = nova.flavor_extra_spec(&ctx, &id, &key).await?;
    Ok(Json(json!({ key: v })))
}

/// `PUT /v2.1/flavors/{id}/os-extra_specs/{key}` (admin): the body is
/// `{key: value}` for that one key.
async fn spec_update(
    axum::extract::State(nova): State,
    ctx: Auth,
    Path((id, key)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    nova.enforce(&ctx, crate::app::flavors::policy::SPECS_UPDATE, &json!({}))?;
    let Some(m) = body.as_object() else {
        return Err(invalid("extra_specs", &body, "The body must be an object"));
    };
    if m.len() != 1 {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute extra_specs. Value: {body}. {body} should have \
             exactly one property"
        )));
    }
    let specs = m
        .iter()
        .map(|(k, v)| spec_entry(k, v))
        .collect::<Result<BTreeMap<_, _>>>()?;
    if !specs.contains_key(&key) {
        return Err(Error::bad_request("Request body and URI mismatch"));
    }
    nova.set_flavor_extra_specs(&ctx, &id, &specs, true).await?;
    Ok(Json(json!(specs)))
}

/// `DELETE /v2.1/flavors/{id}/os-extra_specs/{key}` (admin): 200 with
/// no body, as Nova.
async fn spec_delete(
    axum::extract::State(nova): State,
    ctx: Auth,
    Path((id, key)): Path<(String, String)>,
) -> Result<StatusCode> {
    nova.delete_flavor_extra_spec(&ctx, &id, &key).await?;
    Ok(StatusCode::OK)
}

fn access_body(id: &str, projects: &[String]) -> Value {
    let items: Vec<Value> = projects
        .iter()
        .map(|p| json!({"flavor_id": id, "tenant_id": p}))
        .collect();
    json!({ "flavor_access": items })
}

/// `GET /v2.1/flavors/{id}/os-flavor-access` (admin; private flavors).
async fn access_list(
    axum::extract::State(nova): State,
    ctx: Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let projects = nova.flavor_access(&ctx, &id).await?;
    Ok(Json(access_body(&id, &projects)))
}

/// The tenant of an `addTenantAccess` / `removeTenantAccess` body.
fn tenant_of(m: &Map<String, Value>, action: &str) -> Result<String> {
    if let Some(k) = m.keys().find(|k| k.as_str() != "tenant") {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute {action}. Additional properties are not allowed \
             ('{k}' was unexpected)"
        )));
    }
    match m.get("tenant") {
        Some(Value::String(s)) if (1..=255).contains(&s.chars().count()) => Ok(s.clone()),
        Some(v) => Err(invalid(
            "tenant",
            v,
            "Expected a string of 1 to 255 characters",
        )),
        None => Err(Error::bad_request(format!(
            "Invalid input for field/attribute {action}. 'tenant' is a required property"
        ))),
    }
}

/// `POST /v2.1/flavors/{id}/action`: `addTenantAccess` or
/// `removeTenantAccess` (admin).
async fn action(
    axum::extract::State(nova): State,
    ctx: Auth,
    mv: Microversion,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let Some(obj) = body.as_object() else {
        return Err(Error::bad_request("Malformed request body"));
    };
    let projects = if obj.contains_key("addTenantAccess") {
        nova.enforce(&ctx, crate::app::flavors::policy::ACCESS_ADD, &json!({}))?;
        let tenant = tenant_of(wrapped(&body, "addTenantAccess")?, "addTenantAccess")?;
        nova.add_flavor_access(&ctx, &id, &tenant, mv.at_least(7))
            .await?
    } else if obj.contains_key("removeTenantAccess") {
        nova.enforce(&ctx, crate::app::flavors::policy::ACCESS_REMOVE, &json!({}))?;
        let tenant = tenant_of(wrapped(&body, "removeTenantAccess")?, "removeTenantAccess")?;
        nova.remove_flavor_access(&ctx, &id, &tenant).await?
    } else {
        return Err(Error::bad_request(
            "There is no such action: the body must hold addTenantAccess or removeTenantAccess",
        ));
    };
    Ok(Json(access_body(&id, &projects)))
}

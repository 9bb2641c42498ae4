//! `/v3/domains/{id}/config[/{group}[/{option}]]` and
//! `/v3/domains/config[/{group}[/{option}]]/default`.

use super::State;
use crate::app::domain_configs::DomainConfig;
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::JsonBody;
use common::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::ToSchema;

pub fn routes() -> Router<Arc<crate::Identity>> {
    Router::new()
        .route(
            "/v3/domains/{id}/config",
            get(show).put(create).patch(update).delete(delete),
        )
        .route(
            "/v3/domains/{id}/config/{group}",
            get(show_group).patch(update_group).delete(delete_group),
        )
        .route(
            "/v3/domains/{id}/config/{group}/{option}",
            get(show_option).patch(update_option).delete(delete_option),
        )
        .route("/v3/domains/config/default", get(default_all))
        .route("/v3/domains/config/{group}/default", get(default_group))
        .route(
            "/v3/domains/config/{group}/{option}/default",
            get(default_option),
        )
}

/// `{"config": {group: {option: value}}}`: a domain's configuration, or
/// the defaults. Option values are whatever the client stored.
#[derive(Serialize, ToSchema)]
pub struct ConfigBody {
    #[schema(value_type = BTreeMap<String, BTreeMap<String, serde_json::Value>>)]
    pub config: DomainConfig,
}

/// `{"config": {option: value}}`: one option.
#[derive(Serialize, ToSchema)]
pub struct OptionBody {
    pub config: BTreeMap<String, Value>,
}

impl OptionBody {
    fn of(option: String, value: Value) -> OptionBody {
        OptionBody {
            config: BTreeMap::from([(option, value)]),
        }
    }
}

/// A configuration to store: `{group: {option: value}}`, or
/// `{option: value}` when updating one option. Its shape is checked when
/// it is applied (403 as Keystone's `InvalidDomainConfig`); other members
/// of the body are ignored.
#[derive(Deserialize, ToSchema)]
pub struct ConfigRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Object, required = true)]
    pub config: Option<Value>,
}

/// A member that is there, even as null (absent is `None`).
fn present<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The `config` of an object body; anything else lacks it (400).
fn config_of(body: Value) -> Result<Value> {
    let missing = || Error::bad_request("Invalid input: 'config' is a required property.");
    // An array would deserialize as the struct's members in order: only
    // an object has a `config`.
    if !body.is_object() {
        return Err(missing());
    }
    serde_json::from_value::<ConfigRequest>(body)
        .ok()
        .and_then(|r| r.config)
        .ok_or_else(missing)
}

#[utoipa::path(
    get,
    path = "/v3/domains/{id}/config",
    operation_id = "domain_configs_show",
    tag = "domain_configs",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "OK", body = ConfigBody),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show(S(id): State, Auth(ctx): Auth, Path(d): Path<String>) -> Result<Json<ConfigBody>> {
    Ok(Json(ConfigBody {
        config: id.get_domain_config(&ctx, &d, None, None).await?,
    }))
}

#[utoipa::path(
    put,
    path = "/v3/domains/{id}/config",
    operation_id = "domain_configs_create",
    tag = "domain_configs",
    params(("id" = String, Path)),
    request_body(content = ConfigRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = ConfigBody),
        (status = 200, description = "OK", body = ConfigBody),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn create(
    S(id): State,
    Auth(ctx): Auth,
    Path(d): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let replaced = id
        .set_domain_config(&ctx, &d, &config_of(body)?, true, None, None)
        .await?;
    let cfg = id.get_domain_config(&ctx, &d, None, None).await?;
    // Keystone: 201 for a new configuration, 200 when one was replaced.
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(ConfigBody { config: cfg })).into_response())
}

#[utoipa::path(
    patch,
    path = "/v3/domains/{id}/config",
    operation_id = "domain_configs_update",
    tag = "domain_configs",
    params(("id" = String, Path)),
    request_body(content = ConfigRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = ConfigBody),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn update(
    S(id): State,
    Auth(ctx): Auth,
    Path(d): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<ConfigBody>> {
    id.set_domain_config(&ctx, &d, &config_of(body)?, false, None, None)
        .await?;
    Ok(Json(ConfigBody {
        config: id.get_domain_config(&ctx, &d, None, None).await?,
    }))
}

#[utoipa::path(
    delete,
    path = "/v3/domains/{id}/config",
    operation_id = "domain_configs_delete",
    tag = "domain_configs",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete(S(id): State, Auth(ctx): Auth, Path(d): Path<String>) -> Result<StatusCode> {
    id.delete_domain_config(&ctx, &d, None, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v3/domains/{id}/config/{group}",
    operation_id = "domain_configs_show_group",
    tag = "domain_configs",
    params(("id" = String, Path), ("group" = String, Path)),
    responses(
        (status = 200, description = "OK", body = ConfigBody),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show_group(
    S(id): State,
    Auth(ctx): Auth,
    Path((d, g)): Path<(String, String)>,
) -> Result<Json<ConfigBody>> {
    Ok(Json(ConfigBody {
        config: id.get_domain_config(&ctx, &d, Some(&g), None).await?,
    }))
}

/// Updates answer the domain's whole configuration, as Keystone's
/// `update_config` does.
#[utoipa::path(
    patch,
    path = "/v3/domains/{id}/config/{group}",
    operation_id = "domain_configs_update_group",
    tag = "domain_configs",
    params(("id" = String, Path), ("group" = String, Path)),
    request_body(content = ConfigRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = ConfigBody),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn update_group(
    S(id): State,
    Auth(ctx): Auth,
    Path((d, g)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<ConfigBody>> {
    id.set_domain_config(&ctx, &d, &config_of(body)?, false, Some(&g), None)
        .await?;
    Ok(Json(ConfigBody {
        config: id.get_domain_config(&ctx, &d, None, None).await?,
    }))
}

#[utoipa::path(
    delete,
    path = "/v3/domains/{id}/config/{group}",
    operation_id = "domain_configs_delete_group",
    tag = "domain_configs",
    params(("id" = String, Path), ("group" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete_group(
    S(id): State,
    Auth(ctx): Auth,
    Path((d, g)): Path<(String, String)>,
) -> Result<StatusCode> {
    id.delete_domain_config(&ctx, &d, Some(&g), None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v3/domains/{id}/config/{group}/{option}",
    operation_id = "domain_configs_show_option",
    tag = "domain_configs",
    params(("id" = String, Path), ("group" = String, Path), ("option" = String, Path)),
    responses(
        (status = 200, description = "OK", body = OptionBody),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn show_option(
    S(id): State,
    Auth(ctx): Auth,
    Path((d, g, o)): Path<(String, String, String)>,
) -> Result<Json<OptionBody>> {
    let value = id.get_domain_config_option(&ctx, &d, &g, &o).await?;
    Ok(Json(OptionBody::of(o, value)))
}

#[utoipa::path(
    patch,
    path = "/v3/domains/{id}/config/{group}/{option}",
    operation_id = "domain_configs_update_option",
    tag = "domain_configs",
    params(("id" = String, Path), ("group" = String, Path), ("option" = String, Path)),
    request_body(content = ConfigRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = ConfigBody),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody), (status = 409, description = "Conflict", body = super::ErrorBody),
    )
)]
async fn update_option(
    S(id): State,
    Auth(ctx): Auth,
    Path((d, g, o)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<ConfigBody>> {
    id.set_domain_config(&ctx, &d, &config_of(body)?, false, Some(&g), Some(&o))
        .await?;
    Ok(Json(ConfigBody {
        config: id.get_domain_config(&ctx, &d, None, None).await?,
    }))
}

#[utoipa::path(
    delete,
    path = "/v3/domains/{id}/config/{group}/{option}",
    operation_id = "domain_configs_delete_option",
    tag = "domain_configs",
    params(("id" = String, Path), ("group" = String, Path), ("option" = String, Path)),
    responses(
        (status = 204, description = "No Content"),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn delete_option(
    S(id): State,
    Auth(ctx): Auth,
    Path((d, g, o)): Path<(String, String, String)>,
) -> Result<StatusCode> {
    id.delete_domain_config(&ctx, &d, Some(&g), Some(&o))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v3/domains/config/default",
    operation_id = "domain_configs_default_all",
    tag = "domain_configs",
    responses(
        (status = 200, description = "OK", body = ConfigBody),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn default_all(S(id): State, Auth(ctx): Auth) -> Result<Json<ConfigBody>> {
    Ok(Json(ConfigBody {
        config: id.default_domain_config(&ctx, None)?,
    }))
}

#[utoipa::path(
    get,
    path = "/v3/domains/config/{group}/default",
    operation_id = "domain_configs_default_group",
    tag = "domain_configs",
    params(("group" = String, Path)),
    responses(
        (status = 200, description = "OK", body = ConfigBody),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn default_group(
    S(id): State,
    Auth(ctx): Auth,
    Path(g): Path<String>,
) -> Result<Json<ConfigBody>> {
    Ok(Json(ConfigBody {
        config: id.default_domain_config(&ctx, Some(&g))?,
    }))
}

#[utoipa::path(
    get,
    path = "/v3/domains/config/{group}/{option}/default",
    operation_id = "domain_configs_default_option",
    tag = "domain_configs",
    params(("group" = String, Path), ("option" = String, Path)),
    responses(
        (status = 200, description = "OK", body = OptionBody),
        (status = 400, description = "Bad request", body = super::ErrorBody), (status = 401, description = "Authentication required", body = super::ErrorBody), (status = 403, description = "Forbidden", body = super::ErrorBody), (status = 404, description = "Not found", body = super::ErrorBody),
    )
)]
async fn default_option(
    S(id): State,
    Auth(ctx): Auth,
    Path((g, o)): Path<(String, String)>,
) -> Result<Json<OptionBody>> {
    let value = id.default_domain_config_option(&ctx, &g, &o)?;
    Ok(Json(OptionBody::of(o, value)))
}

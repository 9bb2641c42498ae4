//! `/v3/roles`, `/v3/roles/{prior}/implies[/{implied}]`, `/v3/role_inferences`.

use super::{created, envelope, page_body, with_extra, State};
use crate::app::roles::RoleInput;
use crate::db::roles::Role;
use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::http::{BaseUrl, JsonBody, QueryMap};
use common::Result;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Identity>> {
    Router::new()
        .route("/v3/roles", get(list).post(create))
        .route("/v3/roles/{id}", get(show).patch(update).delete(delete))
        .route("/v3/roles/{id}/implies", get(list_implies))
        .route(
            "/v3/roles/{id}/implies/{implied}",
            get(get_implied)
                .head(check_implied)
                .put(put_implied)
                .delete(delete_implied),
        )
        .route("/v3/role_inferences", get(inferences))
}

pub fn render(r: &Role, base: &str) -> Value {
    with_extra(
        json!({
            "id": r.id,
            "name": r.name,
            "domain_id": r.domain_id,
            "description": r.description,
            "options": r.options,
            "links": {"self": format!("{base}/v3/roles/{}", r.id)},
        }),
        &r.extra,
    )
}

fn brief(r: &Role, base: &str) -> Value {
    json!({"id": r.id, "name": r.name, "links": {"self": format!("{base}/v3/roles/{}", r.id)}})
}

async fn list(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    let page = id.list_roles(&ctx, &q).await?;
    Ok(page_body(
        "roles",
        page.items.iter().map(|r| render(r, &base)).collect(),
        page.next_marker.as_deref(),
        &base,
        "/v3/roles",
        &q,
    ))
}

async fn create(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response> {
    let input: RoleInput = envelope(body, "role")?;
    let r = id.create_role(&ctx, input).await?;
    Ok(created(json!({"role": render(&r, &base)})))
}

async fn show(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(rid): Path<String>,
) -> Result<Json<Value>> {
    let r = id.get_role(&ctx, &rid).await?;
    Ok(Json(json!({"role": render(&r, &base)})))
}

async fn update(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(rid): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let input: RoleInput = envelope(body, "role")?;
    let r = id.update_role(&ctx, &rid, input).await?;
    Ok(Json(json!({"role": render(&r, &base)})))
}

async fn delete(S(id): State, Auth(ctx): Auth, Path(rid): Path<String>) -> Result<StatusCode> {
    id.delete_role(&ctx, &rid).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn inference(p: &Role, i: &Role, base: &str) -> Value {
    json!({"role_inference": {"prior_role": brief(p, base), "implies": brief(i, base)},
           "links": {"self": format!("{base}/v3/roles/{}/implies/{}", p.id, i.id)}})
}

async fn put_implied(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path((p, i)): Path<(String, String)>,
) -> Result<Response> {
    let (pr, ir) = id.create_implied_role(&ctx, &p, &i).await?;
    Ok(created(inference(&pr, &ir, &base)))
}

async fn get_implied(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path((p, i)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let (pr, ir) = id
        .check_implied_role(&ctx, "identity:get_implied_role", &p, &i)
        .await?;
    Ok(Json(inference(&pr, &ir, &base)))
}

async fn check_implied(
    S(id): State,
    Auth(ctx): Auth,
    Path((p, i)): Path<(String, String)>,
) -> Result<StatusCode> {
    id.check_implied_role(&ctx, "identity:check_implied_role", &p, &i)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_implied(
    S(id): State,
    Auth(ctx): Auth,
    Path((p, i)): Path<(String, String)>,
) -> Result<StatusCode> {
    id.delete_implied_role(&ctx, &p, &i).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_implies(
    S(id): State,
    Auth(ctx): Auth,
    BaseUrl(base): BaseUrl,
    Path(p): Path<String>,
) -> Result<Json<Value>> {
    let inf = id.role_inferences(&ctx, Some(&p)).await?;
    let (prior, implies) = inf
        .into_iter()
        .next()
        .ok_or_else(|| crate::app::roles::not_found(&p))?;
    Ok(Json(json!({
        "role_inference": {"prior_role": brief(&prior, &base), "implies": implies.iter().map(|r| brief(r, &base)).collect::<Vec<_>>()},
        "links": {"self": format!("{base}/v3/roles/{p}/implies")},
    })))
}

async fn inferences(S(id): State, Auth(ctx): Auth, BaseUrl(base): BaseUrl) -> Result<Json<Value>> {
    let inf = id.role_inferences(&ctx, None).await?;
    let items: Vec<Value> = inf
        .iter()
        .map(|(p, is)| json!({"prior_role": brief(p, &base), "implies": is.iter().map(|r| brief(r, &base)).collect::<Vec<_>>()}))
        .collect();
    Ok(Json(
        json!({"role_inferences": items, "links": {"self": format!("{base}/v3/role_inferences"), "previous": null, "next": null}}),
    ))
}

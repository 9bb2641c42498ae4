//! `/servers`: create, list (`/servers`, `/servers/detail`), show,
//! update, delete, the action endpoint and `os-instance-actions`.

use super::{Microversion, State};
use crate::app::server_actions::Power;
use crate::app::servers::parse_create;
use crate::app::servers_view::{addresses, index_entry, View};
use axum::extract::{Path, State as S};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use common::auth::Auth;
use common::http::request_id::RequestId;
use common::http::{BaseUrl, JsonBody, QueryMap};
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;
use virt::RebootKind;

pub fn routes() -> Router<Arc<crate::Compute>> {
    Router::new()
        .route("/v2.1/servers", get(list).post(create))
        .route("/v2.1/servers/detail", get(detail))
        .route("/v2.1/servers/{id}", get(show).put(update).delete(delete))
        .route("/v2.1/servers/{id}/action", post(action))
        .route("/v2.1/servers/{id}/ips", get(ips))
        .route("/v2.1/servers/{id}/ips/{network}", get(ips_of_network))
        .route("/v2.1/servers/{id}/os-instance-actions", get(list_actions))
        .route(
            "/v2.1/servers/{id}/os-instance-actions/{request_id}",
            get(show_action),
        )
}

pub(crate) fn request_id(r: &Option<Extension<RequestId>>) -> String {
    r.as_ref()
        .map(|Extension(RequestId(id))| id.clone())
        .unwrap_or_else(|| format!("req-{}", common::ids::uuid()))
}

async fn create(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    rid: Option<Extension<RequestId>>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Response> {
    let req = parse_create(&b, mv)?;
    let made = c.create_servers(&ctx, req, &request_id(&rid)).await?;
    if made.return_reservation_id {
        return Ok((
            StatusCode::ACCEPTED,
            Json(json!({"reservation_id": made.reservation_id})),
        )
            .into_response());
    }
    let id = &made.first.id;
    let links = crate::app::servers_view::links(&base, id);
    let location = format!("{base}/v2.1/servers/{id}");
    let body = json!({"server": {
        "id": id,
        "links": links,
        "OS-DCF:diskConfig": if made.first.auto_disk_config { "AUTO" } else { "MANUAL" },
        "security_groups": made.first.security_groups.iter()
            .map(|n| json!({"name": n})).collect::<Vec<_>>(),
        "adminPass": made.admin_pass,
    }});
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response())
}

async fn list_common(
    c: &crate::Compute,
    ctx: &common::context::AuthContext,
    mv: Microversion,
    base: &str,
    q: &QueryMap,
    detailed: bool,
) -> Result<Json<Value>> {
    let (found, next) = c.list_servers(ctx, mv, q, detailed).await?;
    let items: Vec<Value> = found
        .iter()
        .map(|r| {
            if detailed {
                c.server_view(ctx, mv, base, r, View::Detail)
            } else {
                index_entry(base, r)
            }
        })
        .collect();
    let mut body = json!({"servers": items});
    if let Some(marker) = next {
        let path = if detailed {
            "servers/detail"
        } else {
            "servers"
        };
        body["servers_links"] = json!([{
            "rel": "next",
            "href": next_link(base, path, q, &marker),
        }]);
    }
    Ok(Json(body))
}

/// The next page of `path`: the request's query with `marker` replaced.
fn next_link(base: &str, path: &str, q: &QueryMap, marker: &str) -> String {
    let query: Vec<String> =
        q.0.iter()
            .filter(|(k, _)| k != "marker")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(std::iter::once(("marker", marker)))
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
    format!("{base}/v2.1/{path}?{}", query.join("&"))
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn list(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    list_common(&c, &ctx, mv, &base, &q, false).await
}

async fn detail(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    list_common(&c, &ctx, mv, &base, &q, true).await
}

async fn show(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let r = c
        .visible_server(&ctx, &id, "os_compute_api:servers:show")
        .await?;
    let mut s = c.server_view(&ctx, mv, &base, &r, View::Show);
    if mv.at_least(71) {
        s["server_groups"] = json!(c.server_group_ids(&r.id).await?);
    }
    Ok(Json(json!({ "server": s })))
}

async fn update(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Json<Value>> {
    let r = c.update_server(&ctx, mv, &id, &b).await?;
    let mut s = c.server_view(&ctx, mv, &base, &r, View::Update);
    if mv.at_least(71) {
        s["server_groups"] = json!(c.server_group_ids(&r.id).await?);
    }
    Ok(Json(json!({ "server": s })))
}

async fn delete(
    S(c): State,
    Auth(ctx): Auth,
    rid: Option<Extension<RequestId>>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    c.delete_server(&ctx, &id, &request_id(&rid)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /servers/{id}/action`: one action per body.
async fn action(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    rid: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> Result<Response> {
    let Some(obj) = b.as_object().filter(|o| o.len() == 1) else {
        return Err(Error::bad_request(
            "Malformed request body: exactly one action is expected",
        ));
    };
    let Some((name, arg)) = obj.iter().next() else {
        return Err(Error::bad_request("Malformed request body"));
    };
    let rid = request_id(&rid);
    let power = match name.as_str() {
        "reboot" => {
            let kind = match arg.get("type").and_then(Value::as_str) {
                Some(t) if t.eq_ignore_ascii_case("SOFT") => RebootKind::Soft,
                Some(t) if t.eq_ignore_ascii_case("HARD") => RebootKind::Hard,
                _ => {
                    return Err(Error::bad_request(format!(
                        "Invalid input for field/attribute type. Value: {}. It must be SOFT \
                         or HARD",
                        arg.get("type").cloned().unwrap_or(Value::Null)
                    )))
                }
            };
            Power::Reboot(kind)
        }
        "os-stop" => Power::Stop,
        "os-start" => Power::Start,
        "pause" => Power::Pause,
        "unpause" => Power::Unpause,
        "suspend" => Power::Suspend,
        "resume" => Power::Resume,
        "lock" => {
            let reason = match arg {
                Value::Null => None,
                Value::Object(o) if mv.at_least(73) => {
                    if let Some(k) = o.keys().find(|k| *k != "locked_reason") {
                        return Err(Error::bad_request(format!(
                            "Additional properties are not allowed ('{k}' was unexpected)"
                        )));
                    }
                    match o.get("locked_reason") {
                        None => None,
                        Some(Value::String(s)) if s.chars().count() <= 255 => Some(s.clone()),
                        Some(v) => {
                            return Err(Error::bad_request(format!(
                                "Invalid input for field/attribute locked_reason. Value: {v}."
                            )))
                        }
                    }
                }
                Value::Object(o) if o.is_empty() => None,
                other => {
                    return Err(Error::bad_request(format!(
                        "Invalid input for field/attribute lock. Value: {other}."
                    )))
                }
            };
            c.set_lock(&ctx, &id, true, reason, &rid).await?;
            return Ok(StatusCode::ACCEPTED.into_response());
        }
        "addSecurityGroup" | "removeSecurityGroup" => {
            c.change_server_security_group(&ctx, &id, arg, name == "addSecurityGroup")
                .await?;
            return Ok(StatusCode::ACCEPTED.into_response());
        }
        "unlock" => {
            c.set_lock(&ctx, &id, false, None, &rid).await?;
            return Ok(StatusCode::ACCEPTED.into_response());
        }
        "os-getConsoleOutput" => {
            let length = match arg.get("length") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => n.as_i64(),
                Some(Value::String(s)) => s.parse::<i64>().ok(),
                Some(_) => Some(-2),
            };
            let length = match length {
                None | Some(-1) => None,
                Some(n) if n >= 0 => Some(n as usize),
                _ => {
                    return Err(Error::bad_request(format!(
                        "Invalid input for field/attribute length. Value: {}.",
                        arg.get("length").cloned().unwrap_or(Value::Null)
                    )))
                }
            };
            let output = c.console_output(&ctx, &id, length).await?;
            return Ok(Json(json!({ "output": output })).into_response());
        }
        other if super::server_lifecycle::handles(other) => {
            return super::server_lifecycle::action(&c, &ctx, mv, &base, &rid, &id, other, arg)
                .await;
        }
        n if super::floating_ips::handles(n) => {
            return super::floating_ips::action(&c, &ctx, mv, &id, n, arg).await;
        }
        n if super::migrations::handles(n) => {
            return super::migrations::action(&c, &ctx, mv, &id, n, arg, &rid).await;
        }
        n if super::server_admin::handles(n) => {
            return super::server_admin::action(&c, &ctx, &id, n, arg, &rid).await;
        }
        "os-getVNCConsole" => {
            return Ok(super::consoles::vnc_action(&c, &ctx, mv, &id, arg)
                .await?
                .into_response());
        }
        other => {
            // Nova answers an action it does not know with a 400, once
            // the server is known to exist (a missing one is a 404).
            c.visible_server(&ctx, &id, "os_compute_api:servers:show")
                .await?;
            return Err(Error::bad_request(format!(
                "There is no such action: {other}"
            )));
        }
    };
    c.power_action(&ctx, &id, power, &rid).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `GET /servers/{id}/ips` (`os-server-ips`): the addresses by network.
async fn ips(S(c): State, Auth(ctx): Auth, Path(id): Path<String>) -> Result<Json<Value>> {
    let r = c
        .visible_server(&ctx, &id, "os_compute_api:ips:index")
        .await?;
    Ok(Json(json!({"addresses": addresses(&r, false)})))
}

/// `GET /servers/{id}/ips/{network}`: one network's addresses.
async fn ips_of_network(
    S(c): State,
    Auth(ctx): Auth,
    Path((id, network)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let r = c
        .visible_server(&ctx, &id, "os_compute_api:ips:show")
        .await?;
    let all = addresses(&r, false);
    let found = all
        .get(&network)
        .cloned()
        .ok_or_else(|| Error::not_found(format!("Network {network} could not be found.")))?;
    Ok(Json(json!({ network: found })))
}

async fn list_actions(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    q: QueryMap,
) -> Result<Json<Value>> {
    let (actions, next) = c.list_instance_actions(&ctx, mv, &id, &q).await?;
    let mut body = json!({ "instanceActions": actions });
    if let Some(marker) = next {
        let path = format!("servers/{id}/os-instance-actions");
        body["links"] = json!([{"rel": "next", "href": next_link(&base, &path, &q, &marker)}]);
    }
    Ok(Json(body))
}

async fn show_action(
    S(c): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path((id, request_id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let a = c.show_instance_action(&ctx, mv, &id, &request_id).await?;
    Ok(Json(json!({"instanceAction": a})))
}

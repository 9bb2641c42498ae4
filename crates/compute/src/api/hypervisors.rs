//! `/os-hypervisors`: list, `/detail`, `/{id}`, `/statistics` and
//! `/{id}/uptime` (gone at 2.88), `/{pattern}/search` and
//! `/{pattern}/servers` (gone at 2.53, replaced by
//! `?hypervisor_hostname_pattern=` and `?with_servers=`). A hypervisor is
//! a compute host; its id is its `nova-compute` service's (the integer
//! before 2.53, the UUID from it). 2.28 shows `cpu_info` as an object,
//! 2.33 pages lists (`limit`, `marker`), 2.88 drops the resource fields
//! and shows `uptime` in the detail instead.

use super::services::{is_uuid, only_params};
use super::{Microversion, State};
use crate::app::hypervisors::ComputeHost;
use crate::app::services::{ServiceView, COMPUTE_BINARY};
use crate::Compute;
use axum::extract::{Path, State as S};
use axum::routing::get;
use axum::{Json, Router};
use common::auth::Auth;
use common::context::AuthContext;
use common::http::{BaseUrl, QueryMap};
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<crate::Compute>> {
    Router::new()
        .route("/v2.1/os-hypervisors", get(list))
        .route("/v2.1/os-hypervisors/detail", get(detail))
        .route("/v2.1/os-hypervisors/statistics", get(statistics))
        .route("/v2.1/os-hypervisors/{id}", get(show))
        .route("/v2.1/os-hypervisors/{id}/uptime", get(uptime))
        .route("/v2.1/os-hypervisors/{id}/search", get(search))
        .route("/v2.1/os-hypervisors/{id}/servers", get(servers))
}

/// A compute host with its `nova-compute` service.
struct Hyper {
    host: ComputeHost,
    service: ServiceView,
}

impl Hyper {
    fn id(&self, mv: Microversion) -> Value {
        if mv.at_least(53) {
            json!(self.service.row.id)
        } else {
            json!(self.service.row.legacy_id)
        }
    }

    fn id_text(&self, mv: Microversion) -> String {
        if mv.at_least(53) {
            self.service.row.id.clone()
        } else {
            self.service.row.legacy_id.to_string()
        }
    }

    fn summary(&self, mv: Microversion) -> Value {
        json!({
            "id": self.id(mv),
            "hypervisor_hostname": self.host.name,
            "state": if self.service.up { "up" } else { "down" },
            "status": if self.service.row.disabled { "disabled" } else { "enabled" },
        })
    }

    /// MiB in use as Nova's resource tracker counts it: the host's
    /// reserved memory plus its servers'.
    fn memory_used(&self, reserved: i64) -> i64 {
        reserved + self.host.used.memory_mb
    }

    fn detail(&self, mv: Microversion, reserved: i64) -> Value {
        let mut v = self.summary(mv);
        let fake = self.host.hypervisor_type == "fake";
        v["hypervisor_type"] = json!(self.host.hypervisor_type);
        // Nova's fake driver says 1000; libvirt, QEMU's version.
        v["hypervisor_version"] = json!(if fake {
            1000
        } else if self.host.local {
            crate::app::hypervisors::qemu_version()
        } else {
            0
        });
        v["host_ip"] = json!(host_ip(&self.host.address));
        v["service"] = json!({
            "host": self.host.name,
            "id": self.id(mv),
            "disabled_reason": self.service.row.disabled_reason,
        });
        if mv.at_least(88) {
            v["uptime"] = json!(uptime_text());
            return v;
        }
        let c = &self.host.capacity;
        let u = &self.host.used;
        v["vcpus"] = json!(c.vcpus);
        v["memory_mb"] = json!(c.memory_mb);
        v["local_gb"] = json!(c.local_gb);
        v["vcpus_used"] = json!(u.vcpus);
        v["memory_mb_used"] = json!(self.memory_used(reserved));
        v["local_gb_used"] = json!(u.disk_gb);
        v["free_ram_mb"] = json!(c.memory_mb - self.memory_used(reserved));
        v["free_disk_gb"] = json!(c.local_gb - u.disk_gb);
        v["current_workload"] = json!(0);
        v["running_vms"] = json!(u.running_vms);
        v["disk_available_least"] = json!(c.local_gb - u.disk_gb);
        // The fake driver has no CPU to describe (Nova's says "?"); a QEMU
        // host's is libvirt's description, a JSON string before 2.28.
        // Another node's CPU is not reported yet: empty, as Nova shows a
        // node without one.
        let local = self.host.local;
        v["cpu_info"] = match (fake, local, mv.at_least(28)) {
            (true, _, true) | (false, false, true) => json!({}),
            (true, _, false) => json!("?"),
            (false, false, false) => json!(""),
            (false, true, true) => crate::app::hypervisors::local_cpu_info(),
            (false, true, false) => json!(crate::app::hypervisors::local_cpu_info().to_string()),
        };
        v
    }
}

/// An address without the brackets of an IPv6 URL host.
fn host_ip(addr: &str) -> String {
    addr.trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

/// The host's `uptime` line, as Nova's libvirt driver returns it.
fn uptime_text() -> String {
    let secs = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0) as u64;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let l: Vec<&str> = load.split_whitespace().take(3).collect();
    let (d, h, m) = (secs / 86400, secs % 86400 / 3600, secs % 3600 / 60);
    format!(
        " up {d} days, {h:2}:{m:02},  load average: {}",
        l.join(", ")
    )
}

async fn hypers(nova: &Compute, ctx: &AuthContext, action: &str) -> Result<Vec<Hyper>> {
    nova.enforce(ctx, action, &json!({}))?;
    let (services, hosts) = nova.all_services().await?;
    Ok(hosts
        .into_iter()
        .filter_map(|host| {
            let service = services
                .iter()
                .find(|s| s.row.binary == COMPUTE_BINARY && s.row.host == host.name)?
                .clone();
            Some(Hyper { host, service })
        })
        .collect())
}

fn not_found(id: &str) -> Error {
    Error::not_found(format!("Hypervisor with ID '{id}' could not be found."))
}

fn find(all: Vec<Hyper>, mv: Microversion, id: &str) -> Result<Hyper> {
    if mv.at_least(53) && !is_uuid(id) {
        return Err(Error::bad_request(format!("Invalid uuid {id}")));
    }
    all.into_iter()
        .find(|h| h.id_text(mv) == id)
        .ok_or_else(|| not_found(id))
}

/// Pagination (2.33), the hostname pattern and `with_servers` (2.53).
async fn listing(
    nova: &Compute,
    ctx: &AuthContext,
    mv: Microversion,
    q: &QueryMap,
    base: &str,
    detailed: bool,
) -> Result<Json<Value>> {
    let action = if detailed {
        "os_compute_api:os-hypervisors:list-detail"
    } else {
        "os_compute_api:os-hypervisors:list"
    };
    let mut all = hypers(nova, ctx, action).await?;
    let reserved = nova.settings.reserved_host_memory_mb;
    only_params(
        mv.at_least(53),
        q,
        &[
            "limit",
            "marker",
            "hypervisor_hostname_pattern",
            "with_servers",
        ],
    )?;
    let pattern = q
        .get("hypervisor_hostname_pattern")
        .filter(|_| mv.at_least(53));
    if let Some(p) = pattern {
        if q.has("limit") || q.has("marker") {
            return Err(Error::bad_request(
                "Paging over hypervisors with the hypervisor_hostname_pattern query \
                 parameter is not supported.",
            ));
        }
        all.retain(|h| h.host.name.contains(p));
        if all.is_empty() {
            return Err(Error::not_found(format!(
                "No hypervisor matching '{p}' could be found."
            )));
        }
    }
    let with_servers = mv.at_least(53) && q.flag("with_servers")?.unwrap_or(false);
    let mut links = None;
    if mv.at_least(33) {
        if let Some(m) = q.get("marker") {
            let Some(i) = all.iter().position(|h| h.id_text(mv) == m) else {
                return Err(Error::bad_request(format!("marker [{m}] not found")));
            };
            all.drain(..=i);
        }
        if let Some(limit) = q.usize("limit")? {
            all.truncate(limit);
            // Nova links to a next page whenever a page is full.
            if all.len() == limit {
                if let Some(last) = all.last() {
                    let path = if detailed { "/detail" } else { "" };
                    links = Some(json!([{
                        "rel": "next",
                        "href": format!("{base}/v2.1/os-hypervisors{path}?limit={limit}&marker={}",
                                        last.id_text(mv)),
                    }]));
                }
            }
        }
    }
    let mut out = Vec::new();
    for h in &all {
        let mut v = if detailed {
            h.detail(mv, reserved)
        } else {
            h.summary(mv)
        };
        if with_servers {
            add_servers(nova, mv, &mut v, &h.host.name).await?;
        }
        out.push(v);
    }
    let mut body = json!({ "hypervisors": out });
    if let Some(l) = links {
        body["hypervisors_links"] = l;
    }
    Ok(Json(body))
}

/// `servers` when there are any; from 2.75 also when there are none.
async fn add_servers(nova: &Compute, mv: Microversion, v: &mut Value, host: &str) -> Result<()> {
    let list = servers_of(nova, host).await?;
    if mv.at_least(75) || list.as_array().is_some_and(|a| !a.is_empty()) {
        v["servers"] = list;
    }
    Ok(())
}

async fn servers_of(nova: &Compute, host: &str) -> Result<Value> {
    let list = crate::db::services::servers_on(&nova.db.pool, host).await?;
    Ok(Value::Array(
        list.into_iter()
            .map(|(uuid, name)| json!({"uuid": uuid, "name": name}))
            .collect(),
    ))
}

async fn list(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    listing(&nova, &ctx, mv, &q, &base, false).await
}

async fn detail(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    BaseUrl(base): BaseUrl,
    q: QueryMap,
) -> Result<Json<Value>> {
    listing(&nova, &ctx, mv, &q, &base, true).await
}

async fn show(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
    q: QueryMap,
) -> Result<Json<Value>> {
    only_params(mv.at_least(53), &q, &["with_servers"])?;
    let all = hypers(&nova, &ctx, "os_compute_api:os-hypervisors:show").await?;
    let h = find(all, mv, &id)?;
    let mut v = h.detail(mv, nova.settings.reserved_host_memory_mb);
    if mv.at_least(53) && q.flag("with_servers")?.unwrap_or(false) {
        add_servers(&nova, mv, &mut v, &h.host.name).await?;
    }
    Ok(Json(json!({ "hypervisor": v })))
}

async fn statistics(S(nova): State, Auth(ctx): Auth, mv: Microversion) -> Result<Json<Value>> {
    if mv.at_least(88) {
        return Err(Error::not_found("The resource could not be found."));
    }
    let all = hypers(&nova, &ctx, "os_compute_api:os-hypervisors:statistics").await?;
    let mut s = json!({
        "count": all.len(), "current_workload": 0, "disk_available_least": 0,
        "free_disk_gb": 0, "free_ram_mb": 0, "local_gb": 0, "local_gb_used": 0,
        "memory_mb": 0, "memory_mb_used": 0, "running_vms": 0, "vcpus": 0, "vcpus_used": 0,
    });
    let mut add = |k: &str, n: i64| {
        s[k] = json!(s[k].as_i64().unwrap_or(0) + n);
    };
    for h in &all {
        let (c, u) = (&h.host.capacity, &h.host.used);
        add("disk_available_least", c.local_gb - u.disk_gb);
        add("free_disk_gb", c.local_gb - u.disk_gb);
        let mem_used = h.memory_used(nova.settings.reserved_host_memory_mb);
        add("free_ram_mb", c.memory_mb - mem_used);
        add("local_gb", c.local_gb);
        add("local_gb_used", u.disk_gb);
        add("memory_mb", c.memory_mb);
        add("memory_mb_used", mem_used);
        add("running_vms", u.running_vms);
        add("vcpus", c.vcpus);
        add("vcpus_used", u.vcpus);
    }
    Ok(Json(json!({ "hypervisor_statistics": s })))
}

async fn uptime(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    if mv.at_least(88) {
        return Err(Error::not_found("The resource could not be found."));
    }
    let all = hypers(&nova, &ctx, "os_compute_api:os-hypervisors:uptime").await?;
    let h = find(all, mv, &id)?;
    let mut v = h.summary(mv);
    v["uptime"] = json!(uptime_text());
    Ok(Json(json!({ "hypervisor": v })))
}

/// `/{pattern}/search` and `/{pattern}/servers` (before 2.53): the
/// hypervisors whose name contains the pattern, 404 when none does.
async fn matching(
    nova: &Compute,
    ctx: &AuthContext,
    mv: Microversion,
    pattern: &str,
    action: &str,
) -> Result<Vec<Hyper>> {
    if mv.at_least(53) {
        return Err(Error::not_found("The resource could not be found."));
    }
    let mut all = hypers(nova, ctx, action).await?;
    all.retain(|h| h.host.name.contains(pattern));
    if all.is_empty() {
        return Err(Error::not_found(format!(
            "No hypervisor matching '{pattern}' could be found."
        )));
    }
    Ok(all)
}

async fn search(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(pattern): Path<String>,
) -> Result<Json<Value>> {
    let all = matching(
        &nova,
        &ctx,
        mv,
        &pattern,
        "os_compute_api:os-hypervisors:search",
    )
    .await?;
    let out: Vec<Value> = all.iter().map(|h| h.summary(mv)).collect();
    Ok(Json(json!({ "hypervisors": out })))
}

async fn servers(
    S(nova): State,
    Auth(ctx): Auth,
    mv: Microversion,
    Path(pattern): Path<String>,
) -> Result<Json<Value>> {
    let all = matching(
        &nova,
        &ctx,
        mv,
        &pattern,
        "os_compute_api:os-hypervisors:servers",
    )
    .await?;
    let mut out = Vec::new();
    for h in &all {
        let mut v = h.summary(mv);
        let list = servers_of(&nova, &h.host.name).await?;
        if list.as_array().is_some_and(|a| !a.is_empty()) {
            v["servers"] = list;
        }
        out.push(v);
    }
    Ok(Json(json!({ "hypervisors": out })))
}

//! `os-simple-tenant-usage`: what each project's servers used over a
//! period, with Nova's arithmetic (`simple_tenant_usage.py`): a server is
//! billed from its launch (or the period's start) to its termination (or
//! the period's end, never later than now), in hours, times its flavor's
//! vCPUs, RAM and local disk.

use super::Compute;
use crate::api::Microversion;
use crate::db::servers::InstanceRow;
use crate::db::usage as udb;
use common::clock::iso_micros_naive;
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use serde_json::{json, Value};

/// Nova's `[api] max_limit`: the page size when none is asked.
const MAX_LIMIT: i64 = 1000;
const MICROS_PER_HOUR: f64 = 3_600_000_000.0;

fn bad(msg: impl Into<String>) -> Error {
    Error::bad_request(msg)
}

/// The period and paging a usage request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuery {
    /// Micros.
    pub start: i64,
    /// Micros, no later than now.
    pub stop: i64,
    pub detailed: bool,
    pub limit: i64,
    /// An instance id (2.40+).
    pub marker: Option<String>,
}

/// What a usage request returns: one summary per project, and every
/// server's usage in order (the last one is the next page's marker).
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    pub tenants: Vec<Value>,
    pub server_ids: Vec<String>,
    /// The page size the `next` link is due at.
    pub limit: i64,
}

/// One of Nova's accepted formats (`%Y-%m-%dT%H:%M:%S`,
/// `%Y-%m-%dT%H:%M:%S.%f`, `%Y-%m-%d %H:%M:%S.%f`; no zone, UTC) to
/// micros.
pub fn parse_usage_time(s: &str) -> Option<i64> {
    let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
    let (date, time, sep) = match (s.split_once('T'), s.split_once(' ')) {
        (Some((d, t)), _) => (d, t, 'T'),
        (None, Some((d, t))) => (d, t, ' '),
        _ => return None,
    };
    let mut dp = date.split('-');
    let ok_date = matches!(
        (dp.next(), dp.next(), dp.next(), dp.next()),
        (Some(y), Some(m), Some(d), None) if digits(y, 4) && digits(m, 2) && digits(d, 2)
    );
    let (hms, frac) = match time.split_once('.') {
        Some((h, f)) => (h, Some(f)),
        None => (time, None),
    };
    // The space form always carries the fraction.
    if !ok_date || (sep == ' ' && frac.is_none()) {
        return None;
    }
    let mut tp = hms.split(':');
    let ok_time = matches!(
        (tp.next(), tp.next(), tp.next(), tp.next()),
        (Some(h), Some(m), Some(sec), None) if digits(h, 2) && digits(m, 2) && digits(sec, 2)
    );
    let ok_frac = frac.is_none_or(|f| (1..=6).contains(&f.len()) && digits(f, f.len()));
    if !ok_time || !ok_frac {
        return None;
    }
    common::clock::parse_iso(&format!("{date}T{time}Z"))
}

impl Compute {
    /// The period from `start`/`end` (now when missing or empty), checked
    /// as Nova's `_parse_qs_params`; `limit`/`marker` from 2.40.
    pub fn usage_query(&self, mv: Microversion, q: &QueryMap) -> Result<UsageQuery> {
        let mut allowed = vec!["start", "end", "detailed"];
        if mv.at_least(40) {
            allowed.extend(["limit", "marker"]);
        }
        if mv.at_least(75) {
            if let Some((k, _)) = q.0.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
                return Err(bad(format!(
                    "Invalid input for query parameters. Additional properties are not allowed \
                     ('{k}' was unexpected)"
                )));
            }
        }
        let now = self.now();
        let time = |k: &str| -> Result<i64> {
            match q.get(k).filter(|v| !v.is_empty()) {
                None => Ok(now),
                Some(v) => parse_usage_time(v)
                    .ok_or_else(|| bad("Invalid datetime string: Datetime is in invalid format")),
            }
        };
        let start = time("start")?;
        let end = time("end")?;
        // Nova reads the clock once per missing bound, so two missing
        // bounds are an (empty) valid period; one given bound equal to
        // the other is not.
        let both_missing = [q.get("start"), q.get("end")]
            .iter()
            .all(|v| v.is_none_or(str::is_empty));
        if start > end || (start == end && !both_missing) {
            return Err(bad(
                "Invalid start time. The start time cannot occur after the end time.",
            ));
        }
        let detailed = q.get("detailed") == Some("1");
        let (limit, marker) = if mv.at_least(40) {
            (
                super::migrations::parse_limit(q)?.unwrap_or(MAX_LIMIT),
                q.get("marker").map(str::to_string),
            )
        } else {
            (MAX_LIMIT, None)
        };
        Ok(UsageQuery {
            start,
            stop: end.min(now),
            detailed,
            limit,
            marker,
        })
    }

    /// `GET /os-simple-tenant-usage` (admin): every project's usage.
    pub async fn list_usage(
        &self,
        ctx: &AuthContext,
        mv: Microversion,
        q: &QueryMap,
    ) -> Result<Usage> {
        self.enforce(
            ctx,
            "os_compute_api:os-simple-tenant-usage:list",
            &json!({"project_id": ctx.project_id()}),
        )?;
        let uq = self.usage_query(mv, q)?;
        self.usage_for(None, &uq, uq.detailed).await
    }

    /// `GET /os-simple-tenant-usage/{tenant_id}`: one project's usage
    /// (its readers, or admins), always detailed.
    pub async fn show_usage(
        &self,
        ctx: &AuthContext,
        mv: Microversion,
        tenant_id: &str,
        q: &QueryMap,
    ) -> Result<Usage> {
        self.enforce(
            ctx,
            "os_compute_api:os-simple-tenant-usage:show",
            &json!({"project_id": tenant_id}),
        )?;
        let uq = self.usage_query(mv, q)?;
        self.usage_for(Some(tenant_id), &uq, true).await
    }

    async fn usage_for(
        &self,
        project: Option<&str>,
        uq: &UsageQuery,
        detailed: bool,
    ) -> Result<Usage> {
        let mut after = None;
        if let Some(m) = &uq.marker {
            let row = crate::db::servers::get(&self.db.pool, m)
                .await?
                .ok_or_else(|| bad(format!("Marker {m} could not be found.")))?;
            after = Some((row.project_id, row.id));
        }
        let servers = if uq.limit == 0 {
            Vec::new()
        } else {
            udb::active_in_window(
                &self.db.pool,
                uq.start,
                uq.stop,
                project,
                after.as_ref().map(|(p, i)| (p.as_str(), i.as_str())),
                uq.limit,
            )
            .await?
        };
        let now = self.now();
        let mut tenants: Vec<Value> = Vec::new();
        let mut server_ids = Vec::new();
        for s in &servers {
            let info = server_usage(s, uq.start, uq.stop, now);
            let hours = info["hours"].as_f64().unwrap_or(0.0);
            let pos = match tenants.iter().position(|t| t["tenant_id"] == s.project_id) {
                Some(p) => p,
                None => {
                    let mut t = json!({
                        "tenant_id": s.project_id,
                        "total_local_gb_usage": 0.0,
                        "total_vcpus_usage": 0.0,
                        "total_memory_mb_usage": 0.0,
                        "total_hours": 0.0,
                        "start": iso_micros_naive(uq.start),
                        "stop": iso_micros_naive(uq.stop),
                    });
                    if detailed {
                        t["server_usages"] = json!([]);
                    }
                    tenants.push(t);
                    tenants.len() - 1
                }
            };
            let t = &mut tenants[pos];
            let add = |t: &mut Value, k: &str, v: f64| {
                let cur = t[k].as_f64().unwrap_or(0.0);
                t[k] = json!(cur + v);
            };
            add(
                t,
                "total_local_gb_usage",
                (s.root_gb + s.ephemeral_gb) as f64 * hours,
            );
            add(t, "total_vcpus_usage", s.vcpus as f64 * hours);
            add(t, "total_memory_mb_usage", s.memory_mb as f64 * hours);
            add(t, "total_hours", hours);
            if let Some(list) = t.get_mut("server_usages").and_then(Value::as_array_mut) {
                list.push(info);
            }
            server_ids.push(s.id.clone());
        }
        Ok(Usage {
            tenants,
            server_ids,
            limit: uq.limit,
        })
    }
}

/// Hours of the period `[start, stop]` a server launched at `launched`
/// and terminated at `terminated` ran (Nova's `_hours_for`): nothing
/// before its launch or after its termination, and nothing if it never
/// launched.
pub fn hours_for(launched: Option<i64>, terminated: Option<i64>, start: i64, stop: i64) -> f64 {
    let Some(launched) = launched else {
        return 0.0;
    };
    if terminated.is_some_and(|t| t < start) || launched > stop {
        return 0.0;
    }
    let from = launched.max(start);
    let to = terminated.map_or(stop, |t| t.min(stop));
    (to - from) as f64 / MICROS_PER_HOUR
}

/// One server's entry of `server_usages`.
fn server_usage(s: &InstanceRow, start: i64, stop: i64, now: i64) -> Value {
    let launched = s.launched_at.unwrap_or(s.created_at);
    let (state, uptime_to) = match s.terminated_at {
        Some(t) => ("terminated".to_string(), t),
        None => (s.vm_state.clone(), now),
    };
    json!({
        "hours": hours_for(s.launched_at, s.terminated_at, start, stop),
        "flavor": s.flavor.get("name").and_then(Value::as_str).unwrap_or(""),
        "instance_id": s.id,
        "name": s.name,
        "tenant_id": s.project_id,
        "memory_mb": s.memory_mb,
        "local_gb": s.root_gb + s.ephemeral_gb,
        "vcpus": s.vcpus,
        "started_at": iso_micros_naive(launched),
        "ended_at": s.terminated_at.map(iso_micros_naive),
        "state": state,
        "uptime": (uptime_to - launched).div_euclid(1_000_000),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000;

    #[test]
    fn hours_are_the_overlap_of_the_run_and_the_period() {
        // Period 10h..20h.
        let (start, stop) = (10 * H, 20 * H);
        assert_eq!(hours_for(None, None, start, stop), 0.0);
        // Running all along: the whole period.
        assert_eq!(hours_for(Some(0), None, start, stop), 10.0);
        // Launched inside, still running: from launch.
        assert_eq!(hours_for(Some(15 * H), None, start, stop), 5.0);
        // Launched and terminated inside.
        assert_eq!(
            hours_for(Some(12 * H), Some(13 * H + H / 2), start, stop),
            1.5
        );
        // Terminated inside, launched before.
        assert_eq!(hours_for(Some(0), Some(11 * H), start, stop), 1.0);
        // Entirely before or after the period.
        assert_eq!(hours_for(Some(0), Some(9 * H), start, stop), 0.0);
        assert_eq!(hours_for(Some(21 * H), None, start, stop), 0.0);
    }

    #[test]
    fn nova_time_formats_only() {
        assert_eq!(
            parse_usage_time("2023-11-14T22:13:20"),
            Some(1_700_000_000_000_000)
        );
        assert_eq!(
            parse_usage_time("2023-11-14T22:13:20.5"),
            Some(1_700_000_000_500_000)
        );
        assert_eq!(
            parse_usage_time("2023-11-14 22:13:20.000001"),
            Some(1_700_000_000_000_001)
        );
        for bad in [
            "2023-11-14 22:13:20",
            "2023-11-14T22:13:20Z",
            "2023-11-14",
            "yesterday",
            "2023-13-14T22:13:20",
            "2023-11-14T22:13:20.1234567",
        ] {
            assert_eq!(parse_usage_time(bad), None, "{bad}");
        }
    }
}

//! `GET /v2/images` query semantics: Glance's filters (core attributes,
//! `in:` lists, size ranges, times with operators, tags, additional
//! properties), which images a caller's list holds (its own, public,
//! accepted shares; community ones only when asked), sorting with
//! `sort=key:dir,…` or `sort_key`/`sort_dir`, and limit/marker. This
//! parses and validates the request; `db::images::list_page` runs it as one
//! keyset-paged query.

use super::Settings;
pub use crate::db::images::{ListQuery, TimeOp};
use common::http::QueryMap;
use common::{Error, Result};

pub const SORT_KEYS: &[&str] = &[
    "name",
    "status",
    "container_format",
    "disk_format",
    "size",
    "id",
    "created_at",
    "updated_at",
];
/// Filters on these columns compare for equality (or `in:` a list).
const EQ_COLUMNS: &[&str] = &[
    "id",
    "name",
    "status",
    "owner",
    "disk_format",
    "container_format",
    "checksum",
    "os_hash_value",
];
/// Parameters that are not filters.
const NOT_FILTERS: &[&str] = &[
    "limit",
    "marker",
    "sort",
    "sort_key",
    "sort_dir",
    "member_status",
    "visibility",
    "tag",
    "os_hidden",
    "protected",
    "size_min",
    "size_max",
    "created_at",
    "updated_at",
    "min_ram",
    "min_disk",
];

fn bad(msg: impl Into<String>) -> Error {
    Error::bad_request(msg)
}

fn parse_int(key: &str, v: &str) -> Result<i64> {
    v.trim().parse().map_err(|_| {
        if key.ends_with("_min") || key.ends_with("_max") {
            bad("Unable to filter on a range with a non-numeric value.")
        } else {
            bad(format!("Invalid value '{v}' for parameter '{key}'."))
        }
    })
}

fn sort_key(k: &str) -> Result<String> {
    let k = k.trim();
    if SORT_KEYS.contains(&k) {
        Ok(k.to_string())
    } else {
        Err(bad(format!(
            "Invalid sort key: {k}. It must be one of the following: {}.",
            SORT_KEYS.join(", ")
        )))
    }
}

fn sort_dir(d: &str) -> Result<bool> {
    match d.trim() {
        "asc" => Ok(true),
        "desc" => Ok(false),
        other => Err(bad(format!("Invalid sort direction: {other}"))),
    }
}

/// `in:a,b,"c,d"` → the listed values; anything else is one value (an
/// `eq:` prefix is dropped).
fn values(v: &str) -> Vec<String> {
    let Some(list) = v.strip_prefix("in:") else {
        return vec![v.strip_prefix("eq:").unwrap_or(v).to_string()];
    };
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in list.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn time_filter(key: &str, v: &str) -> Result<(TimeOp, i64)> {
    let (op, t) = match v.split_once(':') {
        Some((op, rest)) if matches!(op, "gt" | "gte" | "lt" | "lte" | "eq" | "neq") => (op, rest),
        _ => ("eq", v),
    };
    let op = match op {
        "gt" => TimeOp::Gt,
        "gte" => TimeOp::Gte,
        "lt" => TimeOp::Lt,
        "lte" => TimeOp::Lte,
        "neq" => TimeOp::Neq,
        _ => TimeOp::Eq,
    };
    let micros = common::clock::parse_iso(t)
        .ok_or_else(|| bad(format!("Invalid time format for {key}.")))?;
    Ok((op, micros))
}

impl ListQuery {
    pub fn parse(q: &QueryMap, settings: &Settings) -> Result<ListQuery> {
        let mut lq = ListQuery {
            limit: settings.list_limit,
            member_status: "accepted".into(),
            ..ListQuery::default()
        };
        if let Some(l) = q.get("limit") {
            let n: i64 = l
                .trim()
                .parse()
                .map_err(|_| bad("limit param must be an integer"))?;
            if n < 0 {
                return Err(bad("limit param must be positive"));
            }
            lq.limit = usize::try_from(n).unwrap_or(usize::MAX);
        }
        lq.limit = lq.limit.min(settings.list_limit_max);
        lq.marker = q.get("marker").map(str::to_string);
        if let Some(ms) = q.get("member_status") {
            if !matches!(ms, "pending" | "accepted" | "rejected" | "all") {
                return Err(bad(format!("Invalid status: {ms}")));
            }
            lq.member_status = ms.to_string();
        }
        if let Some(v) = q.get("visibility") {
            if !matches!(v, "community" | "public" | "private" | "shared" | "all") {
                return Err(bad(format!("Invalid visibility value: {v}")));
            }
            lq.visibility = Some(v.to_string());
        }
        if q.has("changes-since") {
            return Err(bad(
                "The \"changes-since\" filter is no longer available on v2.",
            ));
        }
        match q.get("os_hidden").map(str::to_ascii_lowercase).as_deref() {
            None | Some("false") => {}
            Some("true") => lq.os_hidden = true,
            Some(o) => {
                return Err(bad(format!(
                "Invalid value '{o}' for 'os_hidden' filter. Valid values are 'true' or 'false'."
            )))
            }
        }
        match q.get("protected") {
            None => {}
            Some("true") => lq.protected = Some(true),
            Some("false") => lq.protected = Some(false),
            Some(o) => {
                return Err(bad(format!(
                "Invalid value '{o}' for 'protected' filter. Valid values are 'true' or 'false'."
            )))
            }
        }
        lq.tags = q.get_all("tag").map(|t| t.trim().to_string()).collect();
        lq.size_min = q
            .get("size_min")
            .map(|v| parse_int("size_min", v))
            .transpose()?;
        lq.size_max = q
            .get("size_max")
            .map(|v| parse_int("size_max", v))
            .transpose()?;
        lq.min_ram = q
            .get("min_ram")
            .map(|v| parse_int("min_ram", v))
            .transpose()?;
        lq.min_disk = q
            .get("min_disk")
            .map(|v| parse_int("min_disk", v))
            .transpose()?;
        for key in ["created_at", "updated_at"] {
            for v in q.get_all(key) {
                let (op, t) = time_filter(key, v)?;
                lq.times.push((key.to_string(), op, t));
            }
        }
        for (k, v) in &q.0 {
            if NOT_FILTERS.contains(&k.as_str()) {
                continue;
            }
            if EQ_COLUMNS.contains(&k.as_str()) {
                lq.eq.push((k.clone(), values(v)));
            } else {
                lq.props.push((k.clone(), v.clone()));
            }
        }
        lq.sort = Self::sorting(q)?;
        Ok(lq)
    }

    fn sorting(q: &QueryMap) -> Result<Vec<(String, bool)>> {
        let mut out = Vec::new();
        if let Some(s) = q.get("sort") {
            if q.has("sort_key") || q.has("sort_dir") {
                return Err(bad("Old and new sorting syntax cannot be combined"));
            }
            for part in s.trim().split(',') {
                let (k, d) = part.split_once(':').unwrap_or((part, "desc"));
                out.push((
                    sort_key(k)?,
                    sort_dir(if d.is_empty() { "desc" } else { d })?,
                ));
            }
        } else {
            let keys: Vec<String> = q.get_all("sort_key").map(sort_key).collect::<Result<_>>()?;
            let dirs: Vec<bool> = q.get_all("sort_dir").map(sort_dir).collect::<Result<_>>()?;
            if dirs.len() > 1 && dirs.len() != keys.len() {
                return Err(bad(
                    "Number of sort dirs does not match the number of sort keys",
                ));
            }
            let keys = if keys.is_empty() {
                vec!["created_at".to_string()]
            } else {
                keys
            };
            for (i, k) in keys.into_iter().enumerate() {
                let asc = match dirs.len() {
                    0 => false,
                    1 => dirs[0],
                    _ => dirs[i],
                };
                out.push((k, asc));
            }
        }
        // Ties resolve by id so pages never overlap or skip.
        if !out.iter().any(|(k, _)| k == "id") {
            let last = out.last().map(|(_, a)| *a).unwrap_or(false);
            out.push(("id".into(), last));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sorting_syntaxes() {
        let s = Settings::default();
        let q = ListQuery::parse(&QueryMap::parse("sort=name:asc,size"), &s).unwrap();
        assert_eq!(
            q.sort,
            vec![
                ("name".into(), true),
                ("size".into(), false),
                ("id".into(), false)
            ]
        );
        let q = ListQuery::parse(
            &QueryMap::parse("sort_key=name&sort_key=size&sort_dir=asc"),
            &s,
        )
        .unwrap();
        assert_eq!(q.sort[..2], [("name".into(), true), ("size".into(), true)]);
        assert!(ListQuery::parse(&QueryMap::parse("sort=name&sort_key=size"), &s).is_err());
        assert!(ListQuery::parse(&QueryMap::parse("sort=owner:asc"), &s).is_err());
        assert!(ListQuery::parse(&QueryMap::parse("sort=name:up"), &s).is_err());
        assert!(ListQuery::parse(
            &QueryMap::parse("sort_key=name&sort_key=id&sort_dir=asc&sort_dir=desc&sort_dir=asc"),
            &s
        )
        .is_err());
    }

    #[test]
    fn filter_values() {
        assert_eq!(values("in:a,\"b,c\",d"), vec!["a", "b,c", "d"]);
        assert_eq!(values("eq:x"), vec!["x"]);
        let s = Settings::default();
        assert!(ListQuery::parse(&QueryMap::parse("size_min=abc"), &s).is_err());
        assert!(ListQuery::parse(&QueryMap::parse("os_hidden=maybe"), &s).is_err());
        assert!(ListQuery::parse(&QueryMap::parse("visibility=everyone"), &s).is_err());
        assert!(ListQuery::parse(&QueryMap::parse("member_status=maybe"), &s).is_err());
        assert!(ListQuery::parse(&QueryMap::parse("limit=-1"), &s).is_err());
        assert!(
            ListQuery::parse(&QueryMap::parse("created_at=gt:2020-01-01T00:00:00Z"), &s).is_ok()
        );
        assert_eq!(
            ListQuery::parse(&QueryMap::parse("limit=5000"), &s)
                .unwrap()
                .limit,
            1000
        );
    }
}

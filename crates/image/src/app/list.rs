//! `GET /v2/images` query semantics: Glance's filters (core attributes,
//! `in:` lists, size ranges, times with operators, tags, additional
//! properties), which images a caller's list holds (its own, public,
//! accepted shares; community ones only when asked), sorting with
//! `sort=key:dir,…` or `sort_key`/`sort_dir`, and limit/marker.

use super::Settings;
use crate::db::images::Image;
use common::http::QueryMap;
use common::{Error, Result};
use std::cmp::Ordering;
use std::collections::HashMap;

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

#[derive(Debug, Clone)]
enum TimeOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub limit: usize,
    pub marker: Option<String>,
    sort: Vec<(String, bool)>,
    member_status: String,
    visibility: Option<String>,
    os_hidden: bool,
    protected: Option<bool>,
    tags: Vec<String>,
    size_min: Option<i64>,
    size_max: Option<i64>,
    min_ram: Option<i64>,
    min_disk: Option<i64>,
    eq: Vec<(String, Vec<String>)>,
    times: Vec<(String, TimeOp, i64)>,
    props: Vec<(String, String)>,
}

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

    /// The images of the list, filtered and sorted (before pagination).
    /// `project` is the caller's project, `admin` whether it sees every
    /// image, `memberships` the caller's member status per image id.
    pub fn select(
        &self,
        images: Vec<Image>,
        project: Option<&str>,
        admin: bool,
        memberships: &HashMap<String, String>,
    ) -> Vec<Image> {
        let mut out: Vec<Image> = images
            .into_iter()
            .filter(|i| self.listed(i, project, admin, memberships) && self.matches(i))
            .collect();
        out.sort_by(|a, b| self.compare(a, b));
        out
    }

    fn listed(
        &self,
        i: &Image,
        project: Option<&str>,
        admin: bool,
        memberships: &HashMap<String, String>,
    ) -> bool {
        if matches!(i.status.as_str(), "killed" | "deleted") {
            return false;
        }
        let own = project.is_some() && i.owner.as_deref() == project;
        match self.visibility.as_deref() {
            Some("all") | None => {}
            Some(v) if i.visibility != v => return false,
            Some(_) => {}
        }
        // Community images are listed only when asked for (or owned).
        if self.visibility.is_none() && i.visibility == "community" && !own {
            return false;
        }
        if admin || own {
            return true;
        }
        match i.visibility.as_str() {
            "public" | "community" => true,
            "shared" => memberships
                .get(&i.id)
                .is_some_and(|s| self.member_status == "all" || *s == self.member_status),
            _ => false,
        }
    }

    fn matches(&self, i: &Image) -> bool {
        if i.os_hidden != self.os_hidden {
            return false;
        }
        if self.protected.is_some_and(|p| p != i.protected) {
            return false;
        }
        if !self.tags.iter().all(|t| i.tags.contains(t)) {
            return false;
        }
        let size = i.size;
        if self.size_min.is_some_and(|m| size.is_none_or(|s| s < m))
            || self.size_max.is_some_and(|m| size.is_none_or(|s| s > m))
        {
            return false;
        }
        if self.min_ram.is_some_and(|m| i.min_ram != m)
            || self.min_disk.is_some_and(|m| i.min_disk != m)
        {
            return false;
        }
        for (col, vals) in &self.eq {
            let v = match col.as_str() {
                "id" => Some(i.id.as_str()),
                "name" => i.name.as_deref(),
                "status" => Some(i.status.as_str()),
                "owner" => i.owner.as_deref(),
                "disk_format" => i.disk_format.as_deref(),
                "container_format" => i.container_format.as_deref(),
                "checksum" => i.checksum.as_deref(),
                "os_hash_value" => i.os_hash_value.as_deref(),
                _ => None,
            };
            if !v.is_some_and(|v| vals.iter().any(|x| x == v)) {
                return false;
            }
        }
        for (col, op, t) in &self.times {
            let v = if col == "created_at" {
                i.created_at
            } else {
                i.updated_at
            };
            // Stored with microseconds, shown and compared to the second.
            let v = v - v.rem_euclid(1_000_000);
            let ok = match op {
                TimeOp::Gt => v > *t,
                TimeOp::Gte => v >= *t,
                TimeOp::Lt => v < *t,
                TimeOp::Lte => v <= *t,
                TimeOp::Eq => v == *t,
                TimeOp::Neq => v != *t,
            };
            if !ok {
                return false;
            }
        }
        self.props
            .iter()
            .all(|(k, v)| i.properties.get(k).and_then(|x| x.as_str()) == Some(v.as_str()))
    }

    fn compare(&self, a: &Image, b: &Image) -> Ordering {
        for (key, asc) in &self.sort {
            let o = match key.as_str() {
                "name" => a.name.cmp(&b.name),
                "status" => a.status.cmp(&b.status),
                "container_format" => a.container_format.cmp(&b.container_format),
                "disk_format" => a.disk_format.cmp(&b.disk_format),
                "size" => a.size.cmp(&b.size),
                "created_at" => a.created_at.cmp(&b.created_at),
                "updated_at" => a.updated_at.cmp(&b.updated_at),
                _ => a.id.cmp(&b.id),
            };
            let o = if *asc { o } else { o.reverse() };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }

    /// One page of `items` and whether more follow.
    pub fn page(&self, items: Vec<Image>) -> Result<(Vec<Image>, Option<String>)> {
        let start = match &self.marker {
            None => 0,
            Some(m) => items
                .iter()
                .position(|i| &i.id == m)
                .map(|p| p + 1)
                .ok_or_else(|| bad(format!("Image {m} could not be found.")))?,
        };
        let mut rest: Vec<Image> = items.into_iter().skip(start).collect();
        let next = if rest.len() > self.limit {
            rest.truncate(self.limit);
            rest.last().map(|i| i.id.clone())
        } else {
            None
        };
        Ok((rest, next))
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

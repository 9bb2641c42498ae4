//! Neutron's list semantics for every collection: filters on any
//! attribute (repeated keys are `IN`; the tag filters `tags`, `tags-any`,
//! `not-tags`, `not-tags-any`), `sort_key`/`sort_dir` pairs, `limit`
//! (capped by `pagination_max_limit`), `marker` and `page_reverse`. This
//! turns the query string into a [`db::list::ListQuery`]; the resource's
//! `db` module runs it.

use common::http::QueryMap;
use common::{Error, Result};
use db::list::{Bind, Kind, ListQuery};

/// How an attribute is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrKind {
    Text,
    Int,
    /// 0/1 in the store, `true`/`false` (any case) or 1/0 in a filter.
    Bool,
}

/// One attribute a list can filter (and maybe sort) on.
#[derive(Debug, Clone, Copy)]
pub struct Attr {
    /// The API name (`router:external`).
    pub name: &'static str,
    pub column: &'static str,
    pub kind: AttrKind,
    pub nullable: bool,
    pub sortable: bool,
}

pub const fn attr(name: &'static str, column: &'static str, kind: AttrKind) -> Attr {
    Attr {
        name,
        column,
        kind,
        nullable: false,
        sortable: true,
    }
}

pub const fn nullable(a: Attr) -> Attr {
    Attr {
        nullable: true,
        ..a
    }
}

pub const fn unsorted(a: Attr) -> Attr {
    Attr {
        sortable: false,
        ..a
    }
}

/// Parameters that are never filters.
const NOT_FILTERS: &[&str] = &[
    "fields",
    "sort_key",
    "sort_dir",
    "limit",
    "marker",
    "page_reverse",
    "tags",
    "tags-any",
    "not-tags",
    "not-tags-any",
];

/// A parsed list request.
#[derive(Debug, Clone)]
pub struct Request {
    pub query: ListQuery,
    pub limit: Option<usize>,
    pub marker: Option<String>,
    pub page_reverse: bool,
}

/// The `limit` after Neutron's `get_limit_and_marker`: 0 or absent is
/// no paging, and the server's maximum caps it.
pub fn limit(q: &QueryMap, max: Option<usize>) -> Result<Option<usize>> {
    let raw = q.get("limit").unwrap_or("0");
    let n: usize = raw.trim().parse().map_err(|_| {
        Error::bad_request(format!(
            "Bad limit request: Limit must be an integer 0 or greater and not '{raw}'."
        ))
        .with_fault("BadRequest")
    })?;
    Ok(match (n, max) {
        (0, Some(m)) => Some(m),
        (0, None) => None,
        (n, Some(m)) => Some(n.min(m)),
        (n, None) => Some(n),
    })
}

fn bool_value(v: &str) -> Result<i64> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(1),
        "false" | "0" => Ok(0),
        _ => Err(super::invalid_input(format!(
            "'{v}' cannot be converted to boolean"
        ))),
    }
}

/// Splits tag filter values (`tags=a,b&tags=c`).
fn tag_values(q: &QueryMap, key: &str) -> Vec<String> {
    q.get_all(key)
        .flat_map(|v| v.split(','))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Builds the query for `attrs` over `from` (`columns` selected, ids in
/// `id_column`); `base` adds the caller's visibility conditions first.
pub fn parse(
    q: &QueryMap,
    attrs: &[Attr],
    mut query: ListQuery,
    id_column: &str,
    max_limit: Option<usize>,
) -> Result<Request> {
    // Filters: every known attribute; unknown keys are ignored, as
    // Neutron does without the filter-validation extension.
    let mut seen: Vec<&str> = Vec::new();
    for (k, _) in &q.0 {
        if NOT_FILTERS.contains(&k.as_str()) || seen.contains(&k.as_str()) {
            continue;
        }
        seen.push(k.as_str());
        let Some(a) = attrs.iter().find(|a| a.name == k.as_str()) else {
            continue;
        };
        let values: Vec<&str> = q.get_all(k).filter(|v| !v.is_empty()).collect();
        if values.is_empty() {
            continue;
        }
        match a.kind {
            AttrKind::Text => {
                let vals: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                query.filter_in(a.column, &vals);
            }
            AttrKind::Int | AttrKind::Bool => {
                let mut binds = Vec::new();
                for v in &values {
                    let n = if a.kind == AttrKind::Bool {
                        bool_value(v)?
                    } else {
                        v.trim()
                            .parse::<i64>()
                            .map_err(|_| super::invalid_input(format!("'{v}' is not an integer")))?
                    };
                    binds.push(Bind::Int(n));
                }
                let marks = vec!["?"; binds.len()].join(", ");
                query.filter(&format!("{} IN ({marks})", a.column), binds);
            }
        }
    }
    // Tags, as the tagging extension filters them.
    let sub = "SELECT resource_id FROM network_tags WHERE tag";
    for t in tag_values(q, "tags") {
        query.filter(&format!("{id_column} IN ({sub} = ?)"), [Bind::Text(t)]);
    }
    let any = tag_values(q, "tags-any");
    if !any.is_empty() {
        let marks = vec!["?"; any.len()].join(", ");
        query.filter(
            &format!("{id_column} IN ({sub} IN ({marks}))"),
            any.into_iter().map(Bind::Text),
        );
    }
    let not_all = tag_values(q, "not-tags");
    if !not_all.is_empty() {
        let conds: Vec<String> = not_all
            .iter()
            .map(|_| format!("{id_column} IN ({sub} = ?)"))
            .collect();
        query.filter(
            &format!("NOT ({})", conds.join(" AND ")),
            not_all.into_iter().map(Bind::Text),
        );
    }
    let not_any = tag_values(q, "not-tags-any");
    if !not_any.is_empty() {
        let marks = vec!["?"; not_any.len()].join(", ");
        query.filter(
            &format!("{id_column} NOT IN ({sub} IN ({marks}))"),
            not_any.into_iter().map(Bind::Text),
        );
    }

    // Sorting: sort_key and sort_dir pair up one to one.
    let keys: Vec<&str> = q.get_all("sort_key").filter(|v| !v.is_empty()).collect();
    let dirs: Vec<&str> = q.get_all("sort_dir").filter(|v| !v.is_empty()).collect();
    if keys.len() != dirs.len() {
        return Err(Error::bad_request(
            "The number of sort_keys and sort_dirs must be same",
        ));
    }
    let absent: Vec<String> = keys
        .iter()
        .filter(|k| !attrs.iter().any(|a| a.sortable && a.name == **k))
        .map(|k| format!("'{k}'"))
        .collect();
    if !absent.is_empty() {
        return Err(Error::bad_request(format!(
            "[{}] is invalid attribute for sort_keys",
            absent.join(", ")
        )));
    }
    let bad_dirs: Vec<String> = dirs
        .iter()
        .filter(|d| !matches!(**d, "asc" | "desc"))
        .map(|d| format!("'{d}'"))
        .collect();
    if !bad_dirs.is_empty() {
        return Err(Error::bad_request(format!(
            "[{}] is invalid value for sort_dirs, valid value is 'asc' and 'desc'",
            bad_dirs.join(", ")
        )));
    }
    let page_reverse = q
        .get("page_reverse")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    for (k, d) in keys.iter().zip(dirs.iter()) {
        if let Some(a) = attrs.iter().find(|a| a.name == *k) {
            let kind = if a.kind == AttrKind::Text {
                Kind::Text
            } else {
                Kind::Int
            };
            // A reversed page walks the same order backwards.
            let asc = (*d == "asc") != page_reverse;
            query.sort_by(a.column, kind, a.nullable, asc);
        }
    }
    if keys.is_empty() && page_reverse {
        query.sort_by(id_column, Kind::Text, false, false);
    }
    let limit = limit(q, max_limit)?;
    let marker = if limit.is_some() {
        q.get("marker")
            .filter(|m| !m.is_empty())
            .map(str::to_string)
    } else {
        None
    };
    query.limit(limit).marker(marker.as_deref());
    Ok(Request {
        query,
        limit,
        marker,
        page_reverse,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const ATTRS: &[Attr] = &[
        attr("id", "id", AttrKind::Text),
        attr("name", "name", AttrKind::Text),
        attr("shared", "shared", AttrKind::Bool),
        unsorted(attr("mtu", "mtu", AttrKind::Int)),
    ];

    fn req(q: &str) -> Result<Request> {
        let base = ListQuery::new(db::DbKind::Sqlite, "networks", "id", "id");
        parse(&QueryMap::parse(q), ATTRS, base, "id", None)
    }

    #[test]
    fn sort_and_limit_errors_are_neutrons() {
        assert_eq!(
            req("sort_key=name").unwrap_err().message(),
            "The number of sort_keys and sort_dirs must be same"
        );
        assert_eq!(
            req("sort_key=mtu&sort_dir=asc").unwrap_err().message(),
            "['mtu'] is invalid attribute for sort_keys"
        );
        assert_eq!(
            req("sort_key=name&sort_dir=up").unwrap_err().message(),
            "['up'] is invalid value for sort_dirs, valid value is 'asc' and 'desc'"
        );
        assert_eq!(
            req("limit=-1").unwrap_err().message(),
            "Bad limit request: Limit must be an integer 0 or greater and not '-1'."
        );
        assert!(req("shared=maybe").is_err());
        assert!(req("mtu=big").is_err());
        let r = req("limit=0&marker=x").unwrap();
        assert_eq!((r.limit, r.marker), (None, None));
        let r = req("limit=5&marker=x&page_reverse=True").unwrap();
        assert_eq!(
            (r.limit, r.marker.as_deref(), r.page_reverse),
            (Some(5), Some("x"), true)
        );
        assert_eq!(
            limit(&QueryMap::parse("limit=50"), Some(10)).unwrap(),
            Some(10)
        );
        assert_eq!(limit(&QueryMap::parse(""), Some(10)).unwrap(), Some(10));
    }
}

//! limit/marker pagination and the `links` that go with it.
//!
//! Lists are sorted by a stable key; `marker` is the id of the last item of
//! the previous page, `limit` the page size. A marker that names nothing is
//! a 400, as Nova and Neutron answer.

use crate::error::Error;
use crate::http::QueryMap;
use serde_json::{json, Value};

#[derive(Debug, Clone, Default)]
pub struct PageParams {
    pub limit: Option<usize>,
    pub marker: Option<String>,
}

impl PageParams {
    pub fn from_query(q: &QueryMap, default_limit: usize) -> Result<Self, Error> {
        let limit = q
            .usize("limit")?
            .or((default_limit > 0).then_some(default_limit));
        Ok(Self {
            limit,
            marker: q.get("marker").map(str::to_string),
        })
    }
}

/// One page of a list and whether there is more after it.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The marker for the next page, when there is one.
    pub next_marker: Option<String>,
}

/// Cuts `items` (already in list order) to the page `p` asks for.
pub fn paginate<T>(
    items: Vec<T>,
    id_of: impl Fn(&T) -> &str,
    p: &PageParams,
) -> Result<Page<T>, Error> {
    let start = match &p.marker {
        None => 0,
        Some(m) => match items.iter().position(|i| id_of(i) == m) {
            Some(pos) => pos + 1,
            None => return Err(Error::bad_request(format!("marker [{m}] not found"))),
        },
    };
    let mut rest: Vec<T> = items.into_iter().skip(start).collect();
    let next_marker = match p.limit {
        Some(limit) if rest.len() > limit => {
            rest.truncate(limit);
            rest.last().map(|i| id_of(i).to_string())
        }
        _ => None,
    };
    Ok(Page {
        items: rest,
        next_marker,
    })
}

/// Keystone-style `links` for a collection at `self_url` (path without
/// query) with the request's `query`.
pub fn links(self_url: &str, query: &QueryMap, next_marker: Option<&str>) -> Value {
    let own = encode_query(query.0.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let self_link = if own.is_empty() {
        self_url.to_string()
    } else {
        format!("{self_url}?{own}")
    };
    let next = next_marker.map(|m| {
        let q = encode_query(
            query
                .0
                .iter()
                .filter(|(k, _)| k != "marker")
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .chain(std::iter::once(("marker", m))),
        );
        format!("{self_url}?{q}")
    });
    json!({"self": self_link, "previous": null, "next": next})
}

fn encode_query<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    pairs
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, NON_ALPHANUMERIC),
                utf8_percent_encode(v, NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_through() {
        let items: Vec<String> = (0..5).map(|i| format!("id{i}")).collect();
        let p = PageParams {
            limit: Some(2),
            marker: None,
        };
        let page = paginate(items.clone(), |s| s, &p).unwrap();
        assert_eq!(page.items, vec!["id0", "id1"]);
        assert_eq!(page.next_marker.as_deref(), Some("id1"));
        let p = PageParams {
            limit: Some(2),
            marker: Some("id3".into()),
        };
        let page = paginate(items.clone(), |s| s, &p).unwrap();
        assert_eq!(page.items, vec!["id4"]);
        assert_eq!(page.next_marker, None);
        let p = PageParams {
            limit: None,
            marker: Some("nope".into()),
        };
        assert!(paginate(items, |s| s, &p).is_err());
    }

    #[test]
    fn next_link_carries_filters() {
        let q = QueryMap::parse("name=x&limit=2");
        let l = links("http://h/v3/users", &q, Some("abc"));
        assert_eq!(l["next"], "http://h/v3/users?name=x&limit=2&marker=abc");
        assert_eq!(l["self"], "http://h/v3/users?name=x&limit=2");
    }
}

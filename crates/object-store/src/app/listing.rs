//! Account and container listings: the query parameters (`limit`,
//! `marker`, `end_marker`, `prefix`, `delimiter`, `reverse`) and the
//! paging loop that turns names under a delimiter into `subdir` entries
//! (Swift's `list_objects_iter`). The formats are `crate::api::listing`'s.

use super::{Result, SwiftError};
use crate::db::Page;
use common::http::QueryMap;
use std::future::Future;

/// Swift's `container_listing_limit` and `account_listing_limit`.
pub const LISTING_LIMIT: usize = 10_000;

/// The listing parameters.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub limit: usize,
    pub marker: String,
    pub end_marker: Option<String>,
    pub prefix: Option<String>,
    pub delimiter: Option<String>,
    pub reverse: bool,
}

impl Params {
    /// Reads the query: a `limit` above 10000 is 412, a non-numeric one
    /// is ignored, as Swift does.
    pub fn from_query(q: &QueryMap) -> Result<Params> {
        let mut limit = LISTING_LIMIT;
        if let Some(l) = q
            .get("limit")
            .filter(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
        {
            let n: usize = l.parse().unwrap_or(usize::MAX);
            if n > LISTING_LIMIT {
                return Err(SwiftError::precondition_failed(format!(
                    "Maximum limit is {LISTING_LIMIT}"
                )));
            }
            limit = n;
        }
        let nonempty = |k: &str| q.get(k).filter(|v| !v.is_empty()).map(str::to_string);
        Ok(Params {
            limit,
            marker: nonempty("marker").unwrap_or_default(),
            end_marker: nonempty("end_marker"),
            prefix: nonempty("prefix"),
            delimiter: nonempty("delimiter"),
            reverse: q.get("reverse").is_some_and(crate::http::true_value),
        })
    }
}

/// An entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry<T> {
    Item(T),
    Subdir(String),
}

/// The smallest string greater than every string starting with `prefix`.
fn after_prefix(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(u32::from(last) + 1) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Runs Swift's listing loop over `fetch` (one name-ordered page per
/// call), folding names with the delimiter after the prefix into
/// `subdir` entries.
pub async fn list<T, F, Fut>(
    p: &Params,
    name_of: fn(&T) -> &str,
    mut fetch: F,
) -> Result<Vec<Entry<T>>>
where
    F: FnMut(Page) -> Fut,
    Fut: Future<Output = std::result::Result<Vec<T>, db::sqlx::Error>>,
{
    let (mut marker, mut end_marker) = (
        Some(p.marker.clone()).filter(|m| !m.is_empty()),
        p.end_marker.clone(),
    );
    if p.reverse {
        std::mem::swap(&mut marker, &mut end_marker);
    }
    let prefix = match (&p.prefix, &p.delimiter) {
        (Some(pre), _) => Some(pre.clone()),
        (None, Some(_)) => Some(String::new()),
        (None, None) => None,
    };
    let end_prefix = prefix
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(after_prefix);
    let orig_marker = marker.clone();
    let mut force_gte = false;
    let mut results: Vec<Entry<T>> = Vec::new();
    while results.len() < p.limit {
        let pre = prefix.as_deref().unwrap_or("");
        let mut page = Page {
            reverse: p.reverse,
            limit: i64::try_from(p.limit - results.len()).unwrap_or(i64::MAX),
            ..Page::default()
        };
        match (&end_marker, &end_prefix) {
            (Some(e), Some(ep)) if e < ep => page.end = Some(e.clone().into_bytes()),
            (Some(e), None) => page.end = Some(e.clone().into_bytes()),
            (_, Some(ep)) => page.end = Some(ep.clone().into_bytes()),
            (None, None) => {}
        }
        if force_gte {
            page.marker = marker.clone().map(String::into_bytes);
            page.marker_inclusive = true;
            force_gte = false;
        } else if let Some(m) = marker
            .as_ref()
            .filter(|m| pre.is_empty() || m.as_str() >= pre)
        {
            page.marker = Some(m.clone().into_bytes());
        } else if !pre.is_empty() {
            page.marker = Some(pre.as_bytes().to_vec());
            page.marker_inclusive = true;
        }
        let rows = fetch(page).await?;
        let Some(delim) = p.delimiter.as_deref() else {
            results.extend(rows.into_iter().map(Entry::Item));
            return Ok(results);
        };
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let name = name_of(&row).to_string();
            if p.reverse {
                end_marker = Some(name.clone());
            } else {
                marker = Some(name.clone());
            }
            if results.len() >= p.limit {
                return Ok(results);
            }
            let found = name
                .get(pre.len()..)
                .and_then(|rest| rest.find(delim))
                .map(|i| i + pre.len());
            if let Some(end) = found {
                let dir = name[..end + delim.len()].to_string();
                if p.reverse {
                    end_marker = Some(dir.clone());
                } else {
                    // Skip everything under the subdir: the marker becomes
                    // the name up to the delimiter with its last character
                    // incremented, inclusive.
                    let mut m = name[..end].to_string();
                    let mut d: Vec<char> = delim.chars().collect();
                    if let Some(last) = d.pop() {
                        m.extend(d);
                        m.push(char::from_u32(u32::from(last) + 1).unwrap_or(char::MAX));
                    }
                    marker = Some(m);
                    force_gte = true;
                }
                if Some(&dir) != orig_marker.as_ref() {
                    results.push(Entry::Subdir(dir));
                }
                break;
            }
            results.push(Entry::Item(row));
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(names: &[&str], q: &str) -> Vec<String> {
        let mut sorted: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        sorted.sort();
        let p = Params::from_query(&QueryMap::parse(q)).unwrap();
        let out = list(
            &p,
            |s: &String| s.as_str(),
            |page: Page| {
                let sorted = sorted.clone();
                async move {
                    let mut v: Vec<String> = sorted
                        .into_iter()
                        .filter(|n| {
                            let b = n.as_bytes();
                            let lower = match &page.marker {
                                Some(m) if page.marker_inclusive => b >= m.as_slice(),
                                Some(m) => b > m.as_slice(),
                                None => true,
                            };
                            let upper = page.end.as_ref().is_none_or(|e| b < e.as_slice());
                            lower && upper
                        })
                        .collect();
                    if page.reverse {
                        v.reverse();
                    }
                    v.truncate(usize::try_from(page.limit).unwrap_or(usize::MAX));
                    Ok(v)
                }
            },
        )
        .await
        .unwrap();
        out.into_iter()
            .map(|e| match e {
                Entry::Item(n) => n,
                Entry::Subdir(d) => format!("subdir:{d}"),
            })
            .collect()
    }

    const NAMES: &[&str] = &["a", "b/1", "b/2", "b/c/3", "c", "d/4", "e"];

    #[tokio::test]
    async fn plain_paging() {
        assert_eq!(run(NAMES, "").await.len(), 7);
        assert_eq!(run(NAMES, "limit=2").await, vec!["a", "b/1"]);
        assert_eq!(
            run(NAMES, "marker=b/2").await,
            vec!["b/c/3", "c", "d/4", "e"]
        );
        assert_eq!(run(NAMES, "end_marker=b/2").await, vec!["a", "b/1"]);
        assert_eq!(run(NAMES, "prefix=b/").await, vec!["b/1", "b/2", "b/c/3"]);
        assert_eq!(run(NAMES, "reverse=on&limit=2").await, vec!["e", "d/4"]);
        assert_eq!(
            run(NAMES, "reverse=on&marker=c").await,
            vec!["b/c/3", "b/2", "b/1", "a"]
        );
    }

    #[tokio::test]
    async fn delimiters_fold_into_subdirs() {
        assert_eq!(
            run(NAMES, "delimiter=/").await,
            vec!["a", "subdir:b/", "c", "subdir:d/", "e"]
        );
        assert_eq!(
            run(NAMES, "delimiter=/&prefix=b/").await,
            vec!["b/1", "b/2", "subdir:b/c/"]
        );
        assert_eq!(
            run(NAMES, "delimiter=/&limit=2").await,
            vec!["a", "subdir:b/"]
        );
        assert_eq!(
            run(NAMES, "delimiter=/&marker=b/").await,
            vec!["c", "subdir:d/", "e"]
        );
        assert_eq!(
            run(NAMES, "delimiter=/&reverse=on").await,
            vec!["e", "subdir:d/", "c", "subdir:b/", "a"]
        );
    }

    #[test]
    fn params() {
        assert!(Params::from_query(&QueryMap::parse("limit=10001")).is_err());
        assert_eq!(
            Params::from_query(&QueryMap::parse("limit=x"))
                .unwrap()
                .limit,
            10_000
        );
        assert_eq!(after_prefix("b/"), Some("b0".into()));
    }
}

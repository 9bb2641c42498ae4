//! Account and container listings: the query parameters (`limit`,
//! `marker`, `end_marker`, `prefix`, `delimiter`, `reverse`, `format`),
//! the paging loop that turns names under a delimiter into `subdir`
//! entries (Swift's `list_objects_iter`), and the three formats (the JSON
//! entries as types, which the OpenAPI document describes).

use super::{Result, SwiftError};
use crate::db::{containers::Container, objects::Object, Page};
use crate::http::iso_listing;
use axum::http::HeaderMap;
use common::http::QueryMap;
use serde::Serialize;
use std::future::Future;
use utoipa::ToSchema;

/// Swift's `container_listing_limit` and `account_listing_limit`.
pub const LISTING_LIMIT: usize = 10_000;

/// The listing formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Plain,
    Json,
    Xml,
    /// `text/xml` asked for by `Accept`.
    TextXml,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Plain => "text/plain; charset=utf-8",
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "application/xml; charset=utf-8",
            Format::TextXml => "text/xml; charset=utf-8",
        }
    }

    /// From `?format=`, else the best match of `Accept`; 406 when
    /// `Accept` allows none of them.
    pub fn negotiate(query: &QueryMap, headers: &HeaderMap) -> Result<Format> {
        if let Some(f) = query.get("format") {
            return Ok(match f.to_ascii_lowercase().as_str() {
                "json" => Format::Json,
                "xml" => Format::Xml,
                _ => Format::Plain,
            });
        }
        let Some(accept) = crate::http::header(headers, "accept").filter(|a| !a.trim().is_empty())
        else {
            return Ok(Format::Plain);
        };
        let offers = [
            ("text", "plain", Format::Plain),
            ("application", "json", Format::Json),
            ("application", "xml", Format::Xml),
            ("text", "xml", Format::TextXml),
        ];
        let mut best: Option<(f32, usize, Format)> = None;
        for item in accept.split(',') {
            let mut parts = item.split(';');
            let range = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut q = 1.0f32;
            for p in parts {
                if let Some(v) = p.trim().strip_prefix("q=") {
                    q = v
                        .trim()
                        .parse()
                        .map_err(|_| SwiftError::bad_request("Invalid Accept header"))?;
                }
            }
            let Some((t, s)) = range.split_once('/') else {
                return Err(SwiftError::bad_request("Invalid Accept header"));
            };
            if q <= 0.0 {
                continue;
            }
            for (i, (ot, os, f)) in offers.iter().enumerate() {
                let matches = (t == "*" && s == "*") || (t == *ot && (s == "*" || s == *os));
                // More specific ranges and earlier offers win ties.
                let specificity = usize::from(t != "*") + usize::from(s != "*");
                if matches {
                    let rank = (q, specificity * 10 + (offers.len() - i));
                    if best.is_none_or(|(bq, br, _)| (rank.0, rank.1) > (bq, br)) {
                        best = Some((rank.0, rank.1, *f));
                    }
                }
            }
        }
        best.map(|b| b.2)
            .ok_or_else(|| SwiftError::not_acceptable(""))
    }
}

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

/// A container in a JSON account listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContainerEntry {
    pub name: String,
    /// Objects in the container.
    pub count: i64,
    pub bytes: i64,
    pub last_modified: String,
    pub storage_policy: String,
}

impl From<&Container> for ContainerEntry {
    fn from(c: &Container) -> Self {
        ContainerEntry {
            name: c.name.clone(),
            count: c.object_count,
            bytes: c.bytes_used,
            last_modified: iso_listing(c.put_timestamp),
            storage_policy: "Policy-0".into(),
        }
    }
}

/// An object in a JSON container listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectEntry {
    pub name: String,
    /// The object's ETag (MD5 of its data, or of its segments' ETags).
    pub hash: String,
    /// A static large object's total size, else the object's.
    pub bytes: i64,
    pub content_type: String,
    pub last_modified: String,
    /// A static large object's ETag over its data, quoted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo_etag: Option<String>,
}

impl From<&Object> for ObjectEntry {
    fn from(o: &Object) -> Self {
        ObjectEntry {
            name: o.name.clone(),
            hash: o.etag.clone(),
            bytes: o.slo_size.unwrap_or(o.size),
            content_type: o.content_type.clone(),
            last_modified: iso_listing(o.created_at),
            slo_etag: o.slo_etag.as_ref().map(|e| format!("\"{e}\"")),
        }
    }
}

/// Names under a delimiter, folded into one entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct Subdir {
    pub subdir: String,
}

/// An account listing entry in JSON: a container or a folded prefix.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum AccountListingEntry {
    Container(ContainerEntry),
    Subdir(Subdir),
}

/// A container listing entry in JSON: an object or a folded prefix.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ContainerListingEntry {
    Object(ObjectEntry),
    Subdir(Subdir),
}

impl From<&Entry<Container>> for AccountListingEntry {
    fn from(e: &Entry<Container>) -> Self {
        match e {
            Entry::Item(c) => AccountListingEntry::Container(c.into()),
            Entry::Subdir(d) => AccountListingEntry::Subdir(Subdir { subdir: d.clone() }),
        }
    }
}

impl From<&Entry<Object>> for ContainerListingEntry {
    fn from(e: &Entry<Object>) -> Self {
        match e {
            Entry::Item(o) => ContainerListingEntry::Object(o.into()),
            Entry::Subdir(d) => ContainerListingEntry::Subdir(Subdir { subdir: d.clone() }),
        }
    }
}

/// A JSON listing body: the entries in order, compact.
pub fn json_body<'a, T, E>(entries: &'a [Entry<T>]) -> Result<String>
where
    E: Serialize + From<&'a Entry<T>>,
{
    let items: Vec<E> = entries.iter().map(E::from).collect();
    serde_json::to_string(&items).map_err(|e| common::Error::internal(format!("listing: {e}")))
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

/// Escapes text for XML.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON listings byte for byte as Swift writes them (field order,
    /// an SLO's quoted `slo_etag` and total size, `subdir` entries).
    #[test]
    fn json_listing_bodies() {
        let c = Container {
            name: "c1".into(),
            object_count: 2,
            bytes_used: 10,
            put_timestamp: 0,
            ..Container::default()
        };
        let body =
            json_body::<_, AccountListingEntry>(&[Entry::Item(c), Entry::Subdir("d/".into())])
                .unwrap();
        assert_eq!(
            body,
            r#"[{"name":"c1","count":2,"bytes":10,"last_modified":"1970-01-01T00:00:00.000000","storage_policy":"Policy-0"},{"subdir":"d/"}]"#
        );
        let plain = Object {
            name: "o".into(),
            etag: "e1".into(),
            size: 3,
            content_type: "text/plain".into(),
            ..Object::default()
        };
        let slo = Object {
            name: "big".into(),
            slo_etag: Some("s1".into()),
            slo_size: Some(99),
            ..plain.clone()
        };
        let body =
            json_body::<_, ContainerListingEntry>(&[Entry::Item(slo), Entry::Item(plain)]).unwrap();
        assert_eq!(
            body,
            r#"[{"name":"big","hash":"e1","bytes":99,"content_type":"text/plain","last_modified":"1970-01-01T00:00:00.000000","slo_etag":"\"s1\""},{"name":"o","hash":"e1","bytes":3,"content_type":"text/plain","last_modified":"1970-01-01T00:00:00.000000"}]"#
        );
    }

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
    fn params_and_formats() {
        assert!(Params::from_query(&QueryMap::parse("limit=10001")).is_err());
        assert_eq!(
            Params::from_query(&QueryMap::parse("limit=x"))
                .unwrap()
                .limit,
            10_000
        );
        let q = QueryMap::parse("");
        let mut h = HeaderMap::new();
        assert_eq!(Format::negotiate(&q, &h).unwrap(), Format::Plain);
        h.insert("accept", "application/json".parse().unwrap());
        assert_eq!(Format::negotiate(&q, &h).unwrap(), Format::Json);
        h.insert(
            "accept",
            "text/xml;q=0.9, application/json;q=0.5".parse().unwrap(),
        );
        assert_eq!(Format::negotiate(&q, &h).unwrap(), Format::TextXml);
        h.insert("accept", "*/*".parse().unwrap());
        assert_eq!(Format::negotiate(&q, &h).unwrap(), Format::Plain);
        h.insert("accept", "image/png".parse().unwrap());
        assert_eq!(
            Format::negotiate(&q, &h).unwrap_err().status().as_u16(),
            406
        );
        assert_eq!(
            Format::negotiate(&QueryMap::parse("format=xml"), &h).unwrap(),
            Format::Xml
        );
        assert_eq!(after_prefix("b/"), Some("b0".into()));
        assert_eq!(xml_escape("a<&>\"b"), "a&lt;&amp;&gt;&quot;b");
    }
}

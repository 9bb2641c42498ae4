//! The listing formats Swift answers in: plain text, JSON (the entries
//! as types, which the OpenAPI document describes) and XML, chosen by
//! `?format=` or `Accept`.

use crate::app::listing::Entry;
use crate::app::{Result, SwiftError};
use crate::db::{containers::Container, objects::Object};
use crate::http::iso_listing;
use axum::http::HeaderMap;
use common::http::QueryMap;
use serde::Serialize;
use utoipa::ToSchema;

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

    #[test]
    fn formats() {
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
        assert_eq!(xml_escape("a<&>\"b"), "a&lt;&amp;&gt;&quot;b");
    }
}

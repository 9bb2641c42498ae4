//! Swift's bulk middleware: `POST|DELETE /v1/{account}?bulk-delete` (and
//! the SLO delete that reuses its document), and
//! `PUT /v1/{account}[/{container}[/{prefix}]]?extract-archive=…`: archive
//! uploads (Swift's bulk middleware answers them at any depth of path,
//! before the resource's own `PUT`). Always 200 with a result document in
//! the format `Accept` asks for; an unknown archive format is a plain 400.

use super::listing::{self, Format};
use super::reply::Reply;
use crate::app::bulk::{status_line, BulkResult};
use crate::app::extract::{standard_body, Extracted};
use crate::app::write::BodyStream;
use crate::app::{ObjectStore, Request, SwiftError};
use crate::archive::Compression;
use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn extract(
    store: &Arc<ObjectStore>,
    req: &Request,
    body: BodyStream,
) -> Result<Reply, SwiftError> {
    let param = req.query("extract-archive").unwrap_or_default();
    let Some(compression) = Compression::from_param(param) else {
        return Err(SwiftError::bad_request("Unsupported archive format"));
    };
    // Swift picks the format first and, when `Accept` allows none of
    // them (or cannot be parsed), answers 406 in the document without
    // reading the archive.
    let (format, outcome) =
        match Format::negotiate(&common::http::QueryMap::default(), &req.headers) {
            Ok(f) => (f, store.extract_archive(req, body, compression).await),
            Err(_) => (
                Format::Plain,
                Extracted {
                    created: 0,
                    status: 406,
                    body: standard_body(406).into(),
                    errors: Vec::new(),
                },
            ),
        };
    Ok(render(format, &outcome))
}

/// A bulk delete's result document (`Number Deleted`, `Number Not
/// Found`, `Response Body`, `Response Status`, `Errors`), always a 200.
pub fn render_deleted(format: Format, r: &BulkResult) -> Reply {
    let fields = [
        ("Number Deleted", json!(r.deleted)),
        ("Number Not Found", json!(r.not_found)),
        ("Response Body", json!(r.body)),
        ("Response Status", json!(r.status)),
    ];
    let (ct, body) = result_body(format, &fields, &r.errors, "delete");
    Reply::new(StatusCode::OK).with_body(&ct, body)
}

/// `POST|DELETE /v1/{account}?bulk-delete`.
pub async fn delete(
    store: &Arc<ObjectStore>,
    req: &Request,
    body: BodyStream,
) -> Result<Reply, SwiftError> {
    let r = store.bulk_delete(req, body).await?;
    Ok(render_deleted(result_format(req), &r))
}

/// The result document (`Number Files Created`, `Response Body`,
/// `Response Status`, `Errors`) as Swift's `get_heartbeat_response_body`
/// writes it.
pub fn render(format: Format, r: &Extracted) -> Reply {
    let fields = [
        ("Number Files Created", json!(r.created)),
        ("Response Body", json!(r.body)),
        ("Response Status", json!(status_line(r.status))),
    ];
    let (ct, body) = result_body(format, &fields, &r.errors, "extract");
    Reply::new(StatusCode::OK).with_body(&ct, body)
}

/// Swift's `get_heartbeat_response_body`: the bulk/SLO result document.
pub fn result_body(
    format: Format,
    fields: &[(&str, Value)],
    errors: &[(String, String)],
    root: &str,
) -> (String, Bytes) {
    match format {
        Format::Json => {
            let mut m = serde_json::Map::new();
            for (k, v) in fields {
                m.insert((*k).to_string(), v.clone());
            }
            m.insert(
                "Errors".into(),
                Value::Array(errors.iter().map(|(n, s)| json!([n, s])).collect()),
            );
            (
                "application/json".into(),
                Bytes::from(Value::Object(m).to_string()),
            )
        }
        Format::Xml | Format::TextXml => {
            let mut out = format!("<{root}>\n");
            let mut sorted: Vec<&(&str, Value)> = fields.iter().collect();
            sorted.sort_by_key(|(k, _)| *k);
            for (k, v) in sorted {
                let key = k.replace(' ', "_").to_lowercase();
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out.push_str(&format!("<{key}>{}</{key}>\n", listing::xml_escape(&text)));
            }
            out.push_str("<errors>\n");
            for (n, s) in errors {
                out.push_str(&format!(
                    "<object><name>{}</name><status>{}</status></object>\n",
                    listing::xml_escape(n),
                    listing::xml_escape(s)
                ));
            }
            out.push_str(&format!("</errors>\n</{root}>\n"));
            let ct = if format == Format::Xml {
                "application/xml"
            } else {
                "text/xml"
            };
            (ct.into(), Bytes::from(out))
        }
        Format::Plain => {
            let mut sorted: Vec<&(&str, Value)> = fields.iter().collect();
            sorted.sort_by_key(|(k, _)| *k);
            let mut out = String::new();
            for (k, v) in sorted {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out.push_str(&format!("{k}: {text}\n"));
            }
            out.push_str("Errors:\n");
            for (n, s) in errors {
                out.push_str(&format!("{n}, {s}\n"));
            }
            ("text/plain".into(), Bytes::from(out))
        }
    }
}

/// The format a bulk or SLO result is written in: `Accept`'s best match
/// (plain text when there is none).
pub fn result_format(req: &Request) -> Format {
    let q = common::http::QueryMap::default();
    Format::negotiate(&q, &req.headers).unwrap_or(Format::Plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_documents() {
        let fields = [
            ("Response Status", json!("200 OK")),
            ("Number Deleted", json!(2)),
        ];
        let errs = vec![("/c/o".to_string(), "401 Unauthorized".to_string())];
        let (_, b) = result_body(Format::Plain, &fields, &errs, "delete");
        assert_eq!(
            std::str::from_utf8(&b).unwrap(),
            "Number Deleted: 2\nResponse Status: 200 OK\nErrors:\n/c/o, 401 Unauthorized\n"
        );
        let (ct, b) = result_body(Format::Json, &fields, &errs, "delete");
        assert_eq!(ct, "application/json");
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["Errors"][0][1], "401 Unauthorized");
        let (_, b) = result_body(Format::Xml, &fields, &errs, "delete");
        assert!(std::str::from_utf8(&b)
            .unwrap()
            .contains("<number_deleted>2</number_deleted>"));
    }
}

//! Large objects.
//!
//! Dynamic (DLO, Swift's `dlo` middleware): a manifest object carries
//! `X-Object-Manifest: <container>/<prefix>`; reading it concatenates the
//! objects of that container under that prefix in name order, with the
//! ETag `"md5(segment etags…)"`.
//!
//! Static (SLO, Swift's `slo` middleware): `PUT ?multipart-manifest=put`
//! with a JSON list of segments (`path`, optional `etag`, `size_bytes`,
//! `range`, or inline `data`). Every segment is checked when the manifest
//! is stored (exists, size and ETag match, range satisfiable); the SLO's
//! ETag is the MD5 of the segments' ETags (`etag:range;` for ranged ones,
//! the data's MD5 for inline ones) and a client `ETag` must match it (422).
//! Reading checks each segment again and refuses (409) one that changed.
//! `GET ?multipart-manifest=get` returns the stored manifest,
//! `DELETE ?multipart-manifest=delete` removes the segments and then the
//! manifest, answering like a bulk delete.

use super::auth::Target;
use super::bulk::{BulkItem, BulkResult};
use super::objects::{ObjectPut, ObjectWritten};
use super::read::{self, Piece, Source};
use super::write::BodyStream;
use super::{quota, Access, ObjectStore, Request, Result, SwiftError};
use crate::db::{accounts, containers::Container, objects::Object, Page};
use crate::http::{last_modified_secs, normalize_etag};
use crate::names;
use base64::Engine;
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::sync::Arc;

/// `max_manifest_segments`.
pub const MAX_MANIFEST_SEGMENTS: usize = 1000;
/// `max_manifest_size`.
pub const MAX_MANIFEST_SIZE: usize = 8 << 20;
/// How deep SLOs may nest.
const MAX_NESTING: usize = 10;
/// Segments listed per query when reading a DLO.
const DLO_PAGE: i64 = 10_000;

/// A segment as the client describes it.
#[derive(Debug, Clone)]
enum InSegment {
    Path {
        path: String,
        etag: Option<String>,
        size: Option<i64>,
        range: Option<(Option<u64>, Option<u64>)>,
    },
    Data(Vec<u8>),
}

/// Parses and checks a manifest body (`parse_and_validate_input`); the
/// error lists every bad segment.
fn parse_manifest(body: &[u8], own_path: &str) -> Result<Vec<InSegment>> {
    let parsed: Value = serde_json::from_slice(body)
        .map_err(|_| SwiftError::bad_request("Manifest must be valid JSON.\n"))?;
    let Value::Array(items) = parsed else {
        return Err(SwiftError::bad_request("Manifest must be a list.\n"));
    };
    let mut errors = Vec::new();
    let mut out = Vec::new();
    let last = items.len().saturating_sub(1);
    for (i, item) in items.iter().enumerate() {
        let Value::Object(m) = item else {
            errors.push(format!("Index {i}: not a JSON object"));
            continue;
        };
        if let Some(d) = m.get("data") {
            if m.len() > 1 {
                let mut extra: Vec<String> = m
                    .keys()
                    .filter(|k| *k != "data")
                    .map(|k| format!("\"{k}\""))
                    .collect();
                extra.sort();
                errors.push(format!("Index {i}: extraneous keys {}", extra.join(", ")));
                continue;
            }
            let decoded = d.as_str().and_then(|s| {
                base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .ok()
            });
            match decoded {
                None => errors.push(format!("Index {i}: data must be valid base64")),
                Some(b) if b.is_empty() => errors.push(format!(
                    "Index {i}: too small; each segment must be at least 1 byte."
                )),
                Some(b) => out.push(InSegment::Data(b)),
            }
            continue;
        }
        let Some(p) = m.get("path") else {
            errors.push(format!(
                "Index {i}: expected keys to include one of 'data' or 'path'"
            ));
            continue;
        };
        let mut extra: Vec<String> = m
            .keys()
            .filter(|k| !matches!(k.as_str(), "path" | "etag" | "size_bytes" | "range"))
            .map(|k| format!("\"{k}\""))
            .collect();
        if !extra.is_empty() {
            extra.sort();
            errors.push(format!("Index {i}: extraneous keys {}", extra.join(", ")));
            continue;
        }
        let Some(path) = p.as_str() else {
            errors.push(format!("Index {i}: \"path\" must be a string"));
            continue;
        };
        let etag = match m.get("etag") {
            None | Some(Value::Null) => None,
            Some(Value::String(e)) => Some(e.clone()),
            Some(_) => {
                errors.push(format!(
                    "Index {i}: \"etag\" must be a string or null (if provided)"
                ));
                continue;
            }
        };
        if !path.trim_matches('/').contains('/') {
            errors.push(format!(
                "Index {i}: path does not refer to an object. Path must be of the form /container/object."
            ));
            continue;
        }
        let size = match m.get("size_bytes") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let n = v
                    .as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
                match n {
                    None => {
                        errors.push(format!("Index {i}: invalid size_bytes"));
                        continue;
                    }
                    Some(n) if n < 1 && i != last => {
                        errors.push(format!(
                            "Index {i}: too small; each segment must be at least 1 byte."
                        ));
                        continue;
                    }
                    Some(n) => Some(n),
                }
            }
        };
        if path.trim_start_matches('/') == own_path {
            errors.push(format!(
                "Index {i}: manifest must not include itself as a segment"
            ));
            continue;
        }
        let range = match m
            .get("range")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
        {
            None => None,
            Some(r) => match crate::http::parse_range(&format!("bytes={r}")) {
                None => {
                    errors.push(format!("Index {i}: invalid range"));
                    continue;
                }
                Some(specs) if specs.len() > 1 => {
                    errors.push(format!("Index {i}: multiple ranges (only one allowed)"));
                    continue;
                }
                Some(specs) => {
                    let spec = specs[0];
                    if let Some(s) = size {
                        let len = u64::try_from(s).unwrap_or(0);
                        if crate::http::ranges_for_length(&[spec], len).len() != 1 {
                            errors.push(format!("Index {i}: unsatisfiable range"));
                            continue;
                        }
                    }
                    Some(spec)
                }
            },
        };
        out.push(InSegment::Path {
            path: path.to_string(),
            etag,
            size,
            range,
        });
    }
    if !out.is_empty() && out.iter().all(|s| matches!(s, InSegment::Data(_))) && errors.is_empty() {
        errors.push("Inline data segments require at least one object-backed segment.".into());
    }
    if !errors.is_empty() {
        let body: String = errors.iter().map(|e| format!("{e}\n")).collect();
        return Err(SwiftError::bad_request(body));
    }
    Ok(out)
}

/// The stored manifest back in the form a client PUTs
/// (`?multipart-manifest=get&format=raw`).
pub fn manifest_to_put_format(raw: &[u8]) -> Result<Bytes> {
    let v: Value = serde_json::from_slice(raw).map_err(common::Error::from)?;
    let items = v.as_array().cloned().unwrap_or_default();
    let out: Vec<Value> = items
        .into_iter()
        .map(|s| {
            if let Some(d) = s.get("data") {
                return json!({ "data": d });
            }
            let mut m = serde_json::Map::new();
            m.insert("path".into(), s.get("name").cloned().unwrap_or(Value::Null));
            m.insert("etag".into(), s.get("hash").cloned().unwrap_or(Value::Null));
            m.insert(
                "size_bytes".into(),
                s.get("bytes").cloned().unwrap_or(Value::Null),
            );
            if let Some(r) = s.get("range") {
                m.insert("range".into(), r.clone());
            }
            Value::Object(m)
        })
        .collect();
    Ok(Bytes::from(Value::Array(out).to_string()))
}

/// `2024-01-31T12:00:00.000000` of a segment's `Last-Modified`.
fn segment_last_modified(created_at: i64) -> String {
    crate::http::iso_listing(last_modified_secs(created_at) * 1_000_000)
}

impl ObjectStore {
    /// The caller may read `container/object` of the request's account.
    async fn may_read(
        &self,
        req: &Request,
        container: &str,
        object: Option<&str>,
    ) -> Result<Option<Container>> {
        let c = crate::db::containers::get(&self.db.pool, req.account(), container).await?;
        self.authorize(
            &req.caller,
            Target {
                account: req.account(),
                container: Some(container),
                object,
                method: "GET",
                acl: c.as_ref().and_then(|c| c.read_acl.as_deref()),
                referer: req.header("referer"),
            },
        )?;
        Ok(c)
    }

    /// `PUT ?multipart-manifest=put`.
    pub async fn put_slo_manifest(
        self: &Arc<Self>,
        req: &Request,
        c: &Container,
        name: &str,
        access: Access,
        mut body: BodyStream,
    ) -> Result<ObjectPut> {
        let length = req.content_length()?;
        if length.is_none() && !req.is_chunked() {
            return Err(SwiftError::length_required(
                "Missing Content-Length header.",
            ));
        }
        let too_big =
            || SwiftError::payload_too_large(format!("Manifest File > {MAX_MANIFEST_SIZE} bytes"));
        if length.is_some_and(|l| l > MAX_MANIFEST_SIZE as u64) {
            return Err(too_big());
        }
        let mut raw = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|_| SwiftError::client_disconnected(""))?;
            raw.extend_from_slice(&chunk);
            if raw.len() > MAX_MANIFEST_SIZE {
                return Err(too_big());
            }
        }
        let own = format!("{}/{}", c.name, name);
        let segments = parse_manifest(&raw, &own)?;
        let backed = segments
            .iter()
            .filter(|s| matches!(s, InSegment::Path { .. }))
            .count();
        if backed > MAX_MANIFEST_SEGMENTS {
            return Err(SwiftError::payload_too_large(format!(
                "Number of object-backed segments must be <= {MAX_MANIFEST_SEGMENTS}"
            )));
        }
        let mut problems: Vec<(String, String)> = Vec::new();
        let mut stored: Vec<Value> = Vec::new();
        let mut total: i64 = 0;
        let mut etag_input = String::new();
        let last = segments.len().saturating_sub(1);
        for (i, seg) in segments.into_iter().enumerate() {
            match seg {
                InSegment::Data(d) => {
                    total += d.len() as i64;
                    etag_input.push_str(&crate::store::md5_hex(&d));
                    stored.push(json!({
                        "data": base64::engine::general_purpose::STANDARD.encode(&d)
                    }));
                }
                InSegment::Path {
                    path,
                    etag,
                    size,
                    range,
                } => {
                    let quoted = names::quote(&path);
                    let Some((sc, so)) = names::split_container_object(&quoted) else {
                        problems.push((quoted, "400 Bad Request".into()));
                        continue;
                    };
                    let head = match self.may_read(req, &sc, Some(&so)).await {
                        Err(e) => Err(e),
                        Ok(None) => Err(SwiftError::not_found("")),
                        Ok(Some(_)) => self
                            .live_object(req.account(), &sc, &so)
                            .await?
                            .ok_or_else(|| SwiftError::not_found("")),
                    };
                    let seg_obj = match head {
                        Ok(o) => o,
                        Err(e) => {
                            let s = e.status();
                            problems.push((
                                quoted,
                                format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or("")),
                            ));
                            continue;
                        }
                    };
                    let (seg_etag, seg_size) = match (&seg_obj.slo_etag, seg_obj.slo_size) {
                        (Some(e), Some(s)) => (e.clone(), s),
                        _ => (seg_obj.etag.clone(), seg_obj.size),
                    };
                    let seg_len_u = u64::try_from(seg_size).unwrap_or(0);
                    let mut seg_range: Option<String> = None;
                    let mut seg_len = seg_size;
                    if let Some(spec) = range {
                        let r = crate::http::ranges_for_length(&[spec], seg_len_u);
                        match r.first() {
                            None => problems.push((quoted.clone(), "Unsatisfiable Range".into())),
                            Some(&(0, e)) if e == seg_len_u => {}
                            Some(&(s, e)) => {
                                seg_range = Some(format!("{}-{}", s, e - 1));
                                seg_len = i64::try_from(e - s).unwrap_or(0);
                            }
                        }
                    }
                    if seg_len < 1 && i != last {
                        problems.push((
                            quoted.clone(),
                            "Too small; each segment must be at least 1 byte.".into(),
                        ));
                    }
                    if size.is_some_and(|s| s != seg_size) {
                        problems.push((quoted.clone(), "Size Mismatch".into()));
                    }
                    if etag
                        .as_deref()
                        .is_some_and(|e| normalize_etag(e) != seg_etag)
                    {
                        problems.push((quoted.clone(), "Etag Mismatch".into()));
                    }
                    total += seg_len;
                    match &seg_range {
                        Some(r) => etag_input.push_str(&format!("{seg_etag}:{r};")),
                        None => etag_input.push_str(&seg_etag),
                    }
                    let mut entry = json!({
                        "name": format!("/{}", path.trim_start_matches('/')),
                        "bytes": seg_size,
                        "hash": seg_etag,
                        "content_type": seg_obj.content_type,
                        "last_modified": segment_last_modified(seg_obj.created_at),
                    });
                    if let Some(r) = seg_range {
                        entry["range"] = json!(r);
                    }
                    if seg_obj.is_slo() {
                        entry["sub_slo"] = json!(true);
                    }
                    stored.push(entry);
                }
            }
        }
        if !problems.is_empty() {
            return Ok(ObjectPut::ManifestRejected(problems));
        }
        let slo_etag = crate::store::md5_hex(etag_input.as_bytes());
        if let Some(client) = req.header("etag") {
            if normalize_etag(client) != slo_etag {
                return Err(SwiftError::unprocessable_entity(""));
            }
        }
        let json_data = Bytes::from(Value::Array(stored).to_string());
        let account_row = accounts::get(&self.db.pool, req.account()).await?;
        quota::precheck(
            c,
            account_row.as_ref(),
            json_data.len() as u64,
            access.reseller,
        )?;
        self.archive_current(req, c, name, &access).await?;
        let metadata = super::meta::object_from_request(&req.headers)?;
        let delete_at = super::meta::delete_at(&req.headers, self.now_secs())?;
        let installed = self.data.write_all(json_data).await?;
        let row = Object {
            account: req.account().to_string(),
            container: c.name.clone(),
            name: name.to_string(),
            file_id: installed.file_id.clone(),
            size: i64::try_from(installed.size).unwrap_or(0),
            etag: installed.md5.clone(),
            content_type: super::objects::content_type_for(req, name),
            created_at: self.now(),
            metadata,
            delete_at,
            manifest: None,
            slo_etag: Some(slo_etag.clone()),
            slo_size: Some(total),
        };
        self.commit(&row, installed, access.reseller, false).await?;
        Ok(ObjectPut::Written(ObjectWritten {
            etag: slo_etag,
            quoted: true,
            created_at: row.created_at,
            copied: None,
        }))
    }

    /// The pieces of an SLO's data, each segment checked against the
    /// manifest (409 if one is missing or changed).
    pub async fn slo_pieces(&self, req: &Request, o: &Object) -> Result<Vec<Piece>> {
        let mut out = Vec::new();
        self.slo_pieces_into(req, o, 0, &mut out).await?;
        Ok(out)
    }

    /// Boxed: nested SLOs recurse.
    fn slo_pieces_into<'a>(
        &'a self,
        req: &'a Request,
        o: &'a Object,
        depth: usize,
        out: &'a mut Vec<Piece>,
    ) -> futures_util::future::BoxFuture<'a, Result<()>> {
        Box::pin(self.slo_pieces_inner(req, o, depth, out))
    }

    async fn slo_pieces_inner(
        &self,
        req: &Request,
        o: &Object,
        depth: usize,
        out: &mut Vec<Piece>,
    ) -> Result<()> {
        if depth > MAX_NESTING {
            return Err(SwiftError::conflict(""));
        }
        let raw = self.read_small(&o.file_id).await?;
        let segments: Vec<Value> = serde_json::from_slice(&raw).map_err(common::Error::from)?;
        for seg in segments {
            if let Some(d) = seg.get("data").and_then(Value::as_str) {
                let b = base64::engine::general_purpose::STANDARD
                    .decode(d)
                    .map_err(|e| common::Error::internal(format!("manifest data: {e}")))?;
                out.push(Piece::Data(Bytes::from(b)));
                continue;
            }
            let name = seg.get("name").and_then(Value::as_str).unwrap_or("");
            let hash = seg.get("hash").and_then(Value::as_str).unwrap_or("");
            let bytes = seg.get("bytes").and_then(Value::as_i64).unwrap_or(-1);
            let trimmed = name.trim_start_matches('/');
            let (sc, so) = trimmed
                .split_once('/')
                .ok_or_else(|| SwiftError::conflict(""))?;
            self.may_read(req, sc, Some(so)).await?;
            let s = self
                .live_object(req.account(), sc, so)
                .await?
                .ok_or_else(|| SwiftError::conflict(""))?;
            let mut pieces = Vec::new();
            if s.is_slo() {
                if s.slo_etag.as_deref() != Some(hash) || s.slo_size != Some(bytes) {
                    return Err(SwiftError::conflict(""));
                }
                self.slo_pieces_into(req, &s, depth + 1, &mut pieces)
                    .await?;
            } else {
                if s.etag != hash || s.size != bytes {
                    return Err(SwiftError::conflict(""));
                }
                pieces.push(Piece::File {
                    source: Source::Path(self.data.path(&s.file_id)),
                    offset: 0,
                    len: u64::try_from(s.size).unwrap_or(0),
                });
            }
            match seg.get("range").and_then(Value::as_str) {
                Some(r) => {
                    let total = read::total_len(&pieces);
                    let spec = crate::http::parse_range(&format!("bytes={r}"))
                        .and_then(|v| v.first().copied())
                        .ok_or_else(|| SwiftError::conflict(""))?;
                    let rr = crate::http::ranges_for_length(&[spec], total);
                    let &(a, b) = rr.first().ok_or_else(|| SwiftError::conflict(""))?;
                    out.extend(read::slice(&pieces, a, b));
                }
                None => out.extend(pieces),
            }
        }
        Ok(())
    }

    /// The pieces of a DLO's data and its ETag (unquoted).
    pub async fn dlo_pieces(&self, req: &Request, manifest: &str) -> Result<(Vec<Piece>, String)> {
        let decoded = names::decode(manifest).map_err(SwiftError::from)?;
        let (sc, prefix) = decoded.split_once('/').ok_or_else(|| {
            SwiftError::bad_request("X-Object-Manifest must be in the format container/prefix")
        })?;
        self.may_read(req, sc, None).await?;
        let mut end = prefix.as_bytes().to_vec();
        while let Some(last) = end.pop() {
            if last < 0xff {
                end.push(last + 1);
                break;
            }
        }
        let end = (!end.is_empty()).then_some(end);
        let mut etags = String::new();
        let mut pieces = Vec::new();
        let mut marker = (prefix.as_bytes().to_vec(), true);
        // Page through the listing: a DLO may have any number of segments.
        loop {
            let page = Page {
                marker: Some(marker.0.clone()),
                marker_inclusive: marker.1,
                end: end.clone(),
                reverse: false,
                limit: DLO_PAGE,
            };
            let segs =
                crate::db::objects::page(&self.db.pool, req.account(), sc, &page, self.now_secs())
                    .await?;
            for s in &segs {
                etags.push_str(&s.etag);
                pieces.push(Piece::File {
                    source: Source::Path(self.data.path(&s.file_id)),
                    offset: 0,
                    len: u64::try_from(s.size).unwrap_or(0),
                });
            }
            match segs.last() {
                Some(last) if segs.len() as i64 == DLO_PAGE => {
                    marker = (last.name.as_bytes().to_vec(), false);
                }
                _ => break,
            }
        }
        Ok((pieces, crate::store::md5_hex(etags.as_bytes())))
    }

    /// `DELETE ?multipart-manifest=delete`: the segments (and those of
    /// nested SLOs), then the manifest.
    pub async fn delete_slo(self: &Arc<Self>, req: &Request) -> Result<BulkResult> {
        let (cont, name) = (req.container()?, req.object()?);
        let mut items: Vec<BulkItem> = Vec::new();
        let mut queue: Vec<(String, bool)> = vec![(format!("/{cont}/{name}"), true)];
        let mut manifests: Vec<BulkItem> = Vec::new();
        while let Some((path, is_manifest)) = queue.pop() {
            if items.len() > MAX_MANIFEST_SEGMENTS * 10 {
                return Err(SwiftError::bad_request(
                    "Too many buffered slo segments to delete.",
                ));
            }
            if !is_manifest {
                items.push(BulkItem::new(&path));
                continue;
            }
            let trimmed = path.trim_start_matches('/');
            let mut item = BulkItem::new(&path);
            match trimmed.split_once('/') {
                Some((c, o)) => match self.live_object(req.account(), c, o).await? {
                    None => item.error = Some((404, "SLO manifest not found".into())),
                    Some(m) if !m.is_slo() => {
                        item.error = Some((400, "Not an SLO manifest".into()));
                    }
                    Some(m) => {
                        let raw = self.read_small(&m.file_id).await?;
                        let segs: Vec<Value> =
                            serde_json::from_slice(&raw).map_err(common::Error::from)?;
                        for s in segs.iter().rev() {
                            if s.get("data").is_some() {
                                continue;
                            }
                            let n = s
                                .get("name")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string();
                            let sub = s.get("sub_slo").and_then(Value::as_bool).unwrap_or(false);
                            queue.push((n, sub));
                        }
                    }
                },
                None => item.error = Some((400, "Invalid path".into())),
            }
            manifests.push(item);
        }
        // Segments first, then manifests innermost first (the outer one last).
        items.extend(manifests.into_iter().rev());
        Ok(self.bulk_delete_items(req, items).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_are_validated() {
        let ok = br#"[{"path": "/c/a", "etag": null, "size_bytes": "3"},
                     {"data": "aGVsbG8="}, {"path": "c/b", "range": "1-2"}]"#;
        let segs = parse_manifest(ok, "c/m").unwrap();
        assert_eq!(segs.len(), 3);
        let err = |b: &[u8]| match parse_manifest(b, "c/m") {
            Err(e) if e.kind() == common::ErrorKind::BadRequest => e.message().to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(err(b"{"), "Manifest must be valid JSON.\n");
        assert_eq!(err(b"{}"), "Manifest must be a list.\n");
        assert!(err(br#"[{"path": "/c"}]"#).contains("does not refer to an object"));
        assert!(err(br#"[{"path": "/c/m"}]"#).contains("must not include itself"));
        assert!(err(br#"[{"path": "/c/a", "x": 1}]"#).contains("extraneous keys \"x\""));
        assert!(err(br#"[{"path": "/c/a", "range": "1-2,4-5"}]"#).contains("multiple ranges"));
        assert!(
            err(br#"[{"path": "/c/a", "size_bytes": 2, "range": "5-"}]"#)
                .contains("unsatisfiable range")
        );
        assert!(err(br#"[{"data": "aGk="}]"#).contains("require at least one object-backed"));
        assert!(err(br#"[{"data": "!!"}, {"path": "/c/a"}]"#).contains("valid base64"));
    }

    #[test]
    fn manifests_back_in_put_format() {
        let raw = br#"[{"name": "/c/a", "hash": "h", "bytes": 3, "content_type": "x", "last_modified": "t", "range": "0-1"}]"#;
        let put: Value = serde_json::from_slice(&manifest_to_put_format(raw).unwrap()).unwrap();
        assert_eq!(
            put,
            json!([{"path": "/c/a", "etag": "h", "size_bytes": 3, "range": "0-1"}])
        );
    }
}

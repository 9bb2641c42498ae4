//! Archive upload (Swift's `bulk` middleware, `handle_extract_iter`):
//! `PUT /v1/{account}[/{container}[/{prefix}]]?extract-archive=tar|tar.gz|tar.bz2`
//! turns each regular file of the archive into an object at
//! `{container}/{prefix}/{member path}` (or, on the account,
//! `{first path part}/{rest}`, creating the container when missing).
//!
//! Each member is written as if it were its own `PUT` (authorisation,
//! ACLs, quotas, versioning, expiry all apply), with the request's
//! `X-Object-Meta-*`, `X-Delete-At`/`-After` and the member's pax
//! `user.mime_type` / `user.meta.*` xattrs as headers; the content type
//! is otherwise guessed from the name, as Swift's subrequests carry no
//! `Content-Type`. The archive is streamed ([`crate::archive`]): each
//! member goes to disk through the ordinary object writer as it arrives.
//!
//! The outcome is an [`Extracted`] with Swift's counts and status rules;
//! `api/` renders it as the 200 result document.

use super::bulk::status_line;
use super::write::BodyStream;
use super::{ObjectStore, Request};
use crate::archive::{self, ArchiveError, Compression, Member};
use crate::names::{SwiftPath, MAX_CONTAINER_NAME_LENGTH, MAX_OBJECT_NAME_LENGTH};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use std::collections::HashSet;
use std::sync::Arc;

/// Longest failed name reported (Swift's bulk `max_path_length`).
const MAX_PATH_LENGTH: usize = MAX_OBJECT_NAME_LENGTH + MAX_CONTAINER_NAME_LENGTH + 2;

/// The result of an archive upload, as Swift reports it in the body of
/// its (always 200) answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// `Number Files Created`.
    pub created: u64,
    /// `Response Status`: 201 when every file was stored, else the status
    /// of what went wrong (400, 401, 502 …).
    pub status: u16,
    /// `Response Body`: why, when the whole upload failed.
    pub body: String,
    /// `Errors`: quoted names and the status line of each failure.
    pub errors: Vec<(String, String)>,
}

impl Extracted {
    fn new() -> Extracted {
        Extracted {
            created: 0,
            status: 201,
            body: String::new(),
            errors: Vec::new(),
        }
    }

    /// Ends with `status` and swob's page or Swift's reason as the body.
    fn fail(&mut self, status: u16, body: impl Into<String>) {
        self.status = status;
        self.body = body.into();
    }
}

/// swob's standard bodies (`RESPONSE_REASONS`) for the statuses that end
/// an upload.
pub fn standard_body(status: u16) -> &'static str {
    match status {
        401 => "<html><h1>Unauthorized</h1><p>This server could not verify that you are authorized to access the document you requested.</p></html>",
        404 => "<html><h1>Not Found</h1><p>The resource could not be found.</p></html>",
        406 => "<html><h1>Not Acceptable</h1><p>The resource is not available in a format acceptable to your browser.</p></html>",
        408 => "<html><h1>Request Timeout</h1><p>The server has waited too long for the request to be sent by the client.</p></html>",
        411 => "<html><h1>Length Required</h1><p>Content-Length header required.</p></html>",
        _ => "",
    }
}

/// Limits of one upload (Swift's bulk filter options).
#[derive(Debug, Clone, Copy)]
pub struct ExtractLimits {
    pub max_containers: usize,
    pub max_failures: usize,
}

/// Quotes a name for the result, cut to Swift's `max_path_length` bytes.
fn quote_failed(path: &[u8]) -> String {
    let cut = &path[..path.len().min(MAX_PATH_LENGTH)];
    percent_encoding::percent_encode(cut, QUOTE_SET).to_string()
}

/// `urllib.parse.quote` with `/` safe, on raw bytes (member names need
/// not be UTF-8).
const QUOTE_SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The header a pax record becomes (`pax_key_to_swift_header`): GNU tar's
/// `SCHILY.xattr.` and libarchive's `LIBARCHIVE.xattr.` spellings of
/// `user.mime_type` and `user.meta.*`; anything else is not user metadata.
fn pax_header(key: &str) -> Option<String> {
    let attr = key
        .strip_prefix("SCHILY.xattr.")
        .or_else(|| key.strip_prefix("LIBARCHIVE.xattr."))?;
    if attr == "user.mime_type" {
        return Some("content-type".into());
    }
    attr.strip_prefix("user.meta.")
        .map(|m| format!("x-object-meta-{m}"))
}

/// A header into `h`, skipping what cannot be a header (a pax value with
/// a newline, say): the member is still stored, without it.
fn put_header(h: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()),
        HeaderValue::from_str(value),
    ) {
        h.insert(n, v);
    }
}

impl ObjectStore {
    /// Settings for one upload.
    pub fn extract_limits(&self) -> ExtractLimits {
        ExtractLimits {
            max_containers: self.settings.max_containers_per_extraction,
            max_failures: self.settings.max_failed_extractions,
        }
    }

    /// `PUT …?extract-archive=`: reads `body` as an archive in
    /// `compression` and stores its files under the request's path.
    pub async fn extract_archive(
        self: &Arc<Self>,
        req: &Request,
        body: BodyStream,
        compression: Compression,
    ) -> Extracted {
        let mut r = Extracted::new();
        match req.content_length() {
            Ok(None) if !req.is_chunked() => {
                r.fail(411, standard_body(411));
                return r;
            }
            Ok(_) => {}
            Err(_) => {
                r.fail(400, "Invalid Content-Length header value");
                return r;
            }
        }
        let base = match (&req.path.container, &req.path.object) {
            (None, _) => String::new(),
            (Some(c), None) => c.clone(),
            (Some(c), Some(o)) => format!("{c}/{o}"),
        };
        let base = base.trim_end_matches('/').to_string();
        let (members, reader) = archive::spawn_reader(body, compression);
        let mut run = Run {
            store: self.clone(),
            req,
            base,
            limits: self.extract_limits(),
            accessed: HashSet::new(),
            containers_created: 0,
            server_error: false,
            r,
        };
        match run.members(members).await {
            // The reader is dropped with its receiver: it stops at the
            // next member.
            Stop::Abort => run.r,
            Stop::Done => {
                let read = reader
                    .await
                    .unwrap_or_else(|e| Err(ArchiveError::Internal(e.to_string())));
                run.finish(read)
            }
        }
    }
}

/// How the walk over the members ended.
enum Stop {
    /// Every member seen (or the failure limit reached): the result
    /// depends on how the archive reading ended.
    Done,
    /// The upload was refused as a whole; the result says why.
    Abort,
}

/// One upload in progress.
struct Run<'a> {
    store: Arc<ObjectStore>,
    req: &'a Request,
    base: String,
    limits: ExtractLimits,
    /// Containers already checked (or created) in this upload.
    accessed: HashSet<String>,
    containers_created: usize,
    /// A member failed with a 5xx: the upload's status becomes 502.
    server_error: bool,
    r: Extracted,
}

impl Run<'_> {
    async fn members(&mut self, mut members: tokio::sync::mpsc::Receiver<Member>) -> Stop {
        while let Some(member) = members.recv().await {
            // Swift checks the limit before each member it reads.
            if self.r.errors.len() >= self.limits.max_failures {
                return Stop::Done;
            }
            if let Some(stop) = self.member(member).await {
                return stop;
            }
        }
        Stop::Done
    }

    /// Stores one member; `Some` when the upload must stop.
    async fn member(&mut self, member: Member) -> Option<Stop> {
        let mut raw: &[u8] = &member.name;
        if let Some(rest) = raw.strip_prefix(b"./") {
            raw = rest;
        }
        while let Some(rest) = raw.strip_prefix(b"/") {
            raw = rest;
        }
        let mut path = Vec::with_capacity(self.base.len() + 1 + raw.len());
        if !self.base.is_empty() {
            path.extend_from_slice(self.base.as_bytes());
            path.push(b'/');
        }
        path.extend_from_slice(raw);
        // A file at the top of an archive uploaded to the account names
        // no container: Swift passes over it.
        if !path.contains(&b'/') {
            return None;
        }
        let path_str = match String::from_utf8(path.clone()) {
            Ok(s) if !s.contains('\0') => s,
            _ => {
                self.r.errors.push((quote_failed(&path), status_line(412)));
                return None;
            }
        };
        if member.size > self.store.settings.max_file_size {
            self.r.errors.push((quote_failed(&path), status_line(413)));
            return None;
        }
        let (container, object) = path_str.split_once('/')?;
        let (container, object) = (container.to_string(), object.to_string());
        let mut container_failure = None;
        if !self.accessed.contains(&container) {
            match self.ensure_container(&container).await {
                Ok(true) => {
                    self.containers_created += 1;
                    if self.containers_created > self.limits.max_containers {
                        let msg = format!(
                            "More than {} containers to create from tar.",
                            self.limits.max_containers
                        );
                        self.r.fail(400, msg);
                        return Some(Stop::Abort);
                    }
                }
                Ok(false) => {}
                Err(code) => {
                    if code == 401 {
                        self.r.fail(401, standard_body(401));
                        return Some(Stop::Abort);
                    }
                    // The object may still go in through an ACL.
                    let cont_path = format!("/v1/{}/{container}", self.req.account());
                    container_failure =
                        Some((quote_failed(cont_path.as_bytes()), status_line(code)));
                }
            }
        }
        let sub = self.object_request(&container, &object, &member);
        let outcome = self.store.put_object(&sub, member.into_body()).await;
        self.accessed.insert(container);
        match outcome {
            Ok(_) => self.r.created += 1,
            Err(e) => {
                let code = e.status().as_u16();
                if let Some(f) = container_failure {
                    self.r.errors.push(f);
                }
                if code == 401 {
                    self.r.errors.push((quote_failed(&path), status_line(401)));
                    self.r.fail(401, standard_body(401));
                    return Some(Stop::Abort);
                }
                if code >= 500 {
                    self.server_error = true;
                }
                self.r.errors.push((quote_failed(&path), status_line(code)));
            }
        }
        None
    }

    /// Swift's `create_container`: a `HEAD` as the caller, and a `PUT`
    /// when that says 404. `Ok(true)` when created here, the failing
    /// status otherwise.
    async fn ensure_container(&self, container: &str) -> Result<bool, u16> {
        let sub = self.sub_request(Method::HEAD, container, None, HeaderMap::new());
        match self
            .store
            .authorize_in_container(&sub.caller, &sub, "HEAD", container, None)
            .await
        {
            Ok(_) => return Ok(false),
            Err(e) if e.status() == StatusCode::NOT_FOUND => {}
            Err(e) => return Err(e.status().as_u16()),
        }
        let sub = Request {
            method: Method::PUT,
            ..sub
        };
        match self.store.put_container(&sub).await {
            Ok(done) => Ok(done == crate::app::containers::ContainerPut::Created),
            Err(e) => Err(e.status().as_u16()),
        }
    }

    /// The `PUT` of one member: its length, the request's object metadata
    /// and expiry, the member's xattrs.
    fn object_request(&self, container: &str, object: &str, member: &Member) -> Request {
        let mut h = HeaderMap::new();
        put_header(&mut h, "content-length", &member.size.to_string());
        for (k, v) in &self.req.headers {
            let n = k.as_str();
            if n == "x-delete-at" || n == "x-delete-after" || n.starts_with("x-object-meta-") {
                h.insert(k.clone(), v.clone());
            }
        }
        for (k, v) in &member.pax {
            if let Some(name) = pax_header(k) {
                put_header(&mut h, &name, v);
            }
        }
        self.sub_request(Method::PUT, container, Some(object), h)
    }

    /// A request on behalf of the uploader; like Swift's subrequests it
    /// keeps the `Referer` (referrer ACLs) and nothing else of the
    /// original headers.
    fn sub_request(
        &self,
        method: Method,
        container: &str,
        object: Option<&str>,
        mut headers: HeaderMap,
    ) -> Request {
        if let Some(v) = self.req.headers.get("referer") {
            headers.insert(axum::http::header::REFERER, v.clone());
        }
        Request {
            method,
            path: SwiftPath {
                account: self.req.account().to_string(),
                container: Some(container.to_string()),
                object: object.map(str::to_string),
            },
            headers,
            query: common::http::QueryMap::default(),
            caller: self.req.caller.clone(),
            temp_url: None,
        }
    }

    /// The result once the archive has been read as far as it goes.
    fn finish(self, read: Result<(), ArchiveError>) -> Extracted {
        let mut r = self.r;
        match read {
            Ok(()) => {}
            Err(ArchiveError::Format(e)) => r.fail(400, format!("Invalid Tar File: {e}")),
            Err(ArchiveError::Timeout) => r.fail(408, standard_body(408)),
            Err(ArchiveError::ClientGone) => r.fail(499, ""),
            Err(ArchiveError::Internal(e)) => {
                tracing::error!(error = %e, "archive upload");
                r.fail(500, "");
            }
        }
        if r.status != 201 {
            return r;
        }
        if !r.errors.is_empty() {
            r.status = if self.server_error { 502 } else { 400 };
        } else if r.created == 0 {
            r.status = 400;
            r.body = "Invalid Tar File: No Valid Files".into();
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_records_to_headers() {
        assert_eq!(
            pax_header("SCHILY.xattr.user.mime_type").as_deref(),
            Some("content-type")
        );
        assert_eq!(
            pax_header("LIBARCHIVE.xattr.user.meta.lunch").as_deref(),
            Some("x-object-meta-lunch")
        );
        assert_eq!(pax_header("SCHILY.xattr.user.stuff"), None);
        assert_eq!(pax_header("mtime"), None);
    }

    #[test]
    fn failed_names_are_quoted_and_cut() {
        assert_eq!(quote_failed(b"c/a b\xff"), "c/a%20b%FF");
        assert_eq!(quote_failed(&[b'x'; 2000]).len(), MAX_PATH_LENGTH);
    }
}

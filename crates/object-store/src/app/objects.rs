//! Objects: `PUT` (streamed, with `ETag` check, `If-None-Match: *`,
//! `X-Delete-At`/`-After`, `X-Object-Manifest`, `X-Copy-From`), `GET` and
//! `HEAD` (ranges, conditionals, large objects, temp URL dispositions),
//! `POST` (metadata), `COPY` and `DELETE`.

use super::auth::Target;
use super::read::{self, Piece, Selection, Source, Validators};
use super::write::{BodyStream, Expect};
use super::{meta, quota, Access, Caller, ObjectStore, Request, Result, SwiftError};
use crate::db::{accounts, containers::Container, objects::Object};
use crate::http::{last_modified_secs, normalize_etag};
use crate::names::{self, MAX_OBJECT_NAME_LENGTH};
use axum::http::StatusCode;
use std::sync::Arc;

/// Content types guessed from a name's extension when a PUT gives none
/// (Swift uses Python's `mimetypes`; these are the common ones).
const MIME_TYPES: &[(&str, &str)] = &[
    ("txt", "text/plain"),
    ("html", "text/html"),
    ("htm", "text/html"),
    ("css", "text/css"),
    ("csv", "text/csv"),
    ("js", "text/javascript"),
    ("json", "application/json"),
    ("xml", "application/xml"),
    ("pdf", "application/pdf"),
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("tgz", "application/gzip"),
    ("tar", "application/x-tar"),
    ("bz2", "application/x-bzip2"),
    ("xz", "application/x-xz"),
    ("iso", "application/x-iso9660-image"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("svg", "image/svg+xml"),
    ("webp", "image/webp"),
    ("ico", "image/vnd.microsoft.icon"),
    ("mp3", "audio/mpeg"),
    ("wav", "audio/x-wav"),
    ("mp4", "video/mp4"),
    ("webm", "video/webm"),
    ("md", "text/markdown"),
    ("yaml", "application/yaml"),
    ("yml", "application/yaml"),
    ("sh", "application/x-sh"),
    ("py", "text/x-python"),
];

/// The content type for `name` (`mimetypes.guess_type`), else
/// `application/octet-stream`.
pub fn guess_content_type(name: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    let ext = base
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    MIME_TYPES
        .iter()
        .find(|(e, _)| *e == ext)
        .map(|(_, t)| (*t).to_string())
        .unwrap_or_else(|| "application/octet-stream".into())
}

/// The content type a PUT stores: the header, unless absent or empty or
/// `X-Detect-Content-Type` asks for a guess.
pub fn content_type_for(req: &Request, name: &str) -> String {
    let detect = req
        .header("x-detect-content-type")
        .is_some_and(crate::http::true_value);
    match req.header("content-type").map(str::trim) {
        Some(ct) if !ct.is_empty() && !detect => ct.to_string(),
        _ => guess_content_type(name),
    }
}

/// Validates `X-Object-Manifest` (`container/prefix`, 400 otherwise).
pub fn dlo_manifest(req: &Request) -> Result<Option<String>> {
    let Some(v) = req.header("x-object-manifest") else {
        return Ok(None);
    };
    let ok = match v.split_once('/') {
        Some((c, p)) => !c.is_empty() && !p.is_empty() && !p.starts_with('/'),
        None => false,
    };
    if !ok || v.contains('?') || v.contains('&') {
        return Err(SwiftError::bad_request(
            "X-Object-Manifest must be in the format container/prefix",
        ));
    }
    Ok(Some(v.to_string()))
}

/// An object `GET` or `HEAD` as planned: the row, how its headers differ
/// from a plain object's, its bytes and what conditionals compare with.
/// [`read::select`] then applies the conditionals and `Range`.
#[derive(Debug)]
pub struct ObjectRead {
    /// The object's row, its metadata less what a temp URL hides.
    pub object: Object,
    pub shown: Shown,
    pub pieces: Vec<Piece>,
    /// The length of the whole object (the pieces' length, except for
    /// a `HEAD` of an SLO, answered from the manifest without them).
    pub total: u64,
    pub validators: Validators,
    /// Set when a temp URL let the request in.
    pub temp_url: Option<TempUrlShown>,
}

/// How a read shows the object, where it is not as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// The object (or an SLO's assembled data) as stored.
    Stored,
    /// `?multipart-manifest=get` of an SLO: the manifest itself, as JSON
    /// with the manifest file's own ETag.
    SloManifest,
    /// A DLO's assembled data, with the ETag of its segments' ETags.
    Dlo { etag: String },
}

/// What a temp URL read adds: a `Content-Disposition` and an `Expires`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempUrlShown {
    pub disposition: String,
    /// Seconds since the epoch.
    pub expires: i64,
}

impl ObjectRead {
    /// The content type the reply carries (a ranged multipart body names
    /// it for each part).
    pub fn content_type(&self) -> &str {
        match self.shown {
            Shown::SloManifest => SLO_MANIFEST_CONTENT_TYPE,
            _ => &self.object.content_type,
        }
    }
}

/// The content type of an SLO manifest read back as JSON.
pub const SLO_MANIFEST_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// What an object `PUT` (or `COPY`) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectPut {
    Written(ObjectWritten),
    /// An SLO manifest whose segments do not check out: each problem as
    /// (quoted segment path, reason); nothing was written.
    ManifestRejected(Vec<(String, String)>),
}

/// A new object, as its 201 describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectWritten {
    /// The ETag clients see: the data's MD5, or an SLO's own ETag.
    pub etag: String,
    /// Whether the ETag is shown in quotes (manifests, as Swift answers
    /// them).
    pub quoted: bool,
    /// Microseconds since the epoch.
    pub created_at: i64,
    /// Set for a server-side copy.
    pub copied: Option<Copied>,
}

/// Where a copy came from and what the new object was written with
/// (Swift's copy middleware echoes both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub account: String,
    pub container: String,
    pub object: String,
    /// The source's creation, microseconds since the epoch.
    pub source_created_at: i64,
    /// The new object's user metadata (`x-object-meta-*`).
    pub metadata: crate::db::Metadata,
    pub delete_at: Option<i64>,
}

/// What an object `DELETE` did.
#[derive(Debug, Clone)]
pub enum ObjectDeleted {
    /// The object is gone (or, in a versioned container, the previous
    /// version is back).
    Deleted,
    /// `?multipart-manifest=delete`: a static large object and its
    /// segments, each deleted as in a bulk delete.
    Manifest(super::bulk::BulkResult),
}

impl ObjectStore {
    /// Loads the container `container` of the request's account,
    /// authorises `method` against its ACL (read for GET/HEAD, write
    /// otherwise) and answers 404 when it does not exist. Authorisation
    /// comes first, so a stranger learns nothing about what exists.
    pub async fn authorize_in_container(
        &self,
        caller: &Caller,
        req: &Request,
        method: &str,
        container: &str,
        object: Option<&str>,
    ) -> Result<(Container, Access)> {
        let account = req.account();
        let c = crate::db::containers::get(&self.db.pool, account, container).await?;
        let acl = c.as_ref().and_then(|c| {
            if matches!(method, "GET" | "HEAD") {
                c.read_acl.as_deref()
            } else if object.is_some() {
                c.write_acl.as_deref()
            } else {
                None
            }
        });
        let access = self.authorize(
            caller,
            Target {
                account,
                container: Some(container),
                object,
                method,
                acl,
                referer: req.header("referer"),
            },
        )?;
        let c = c.ok_or_else(|| SwiftError::not_found(""))?;
        Ok((c, access))
    }

    /// `PUT /v1/{account}/{container}/{object}`.
    pub async fn put_object(
        self: &Arc<Self>,
        req: &Request,
        body: BodyStream,
    ) -> Result<ObjectPut> {
        let (cont, name) = (req.container()?, req.object()?);
        if name.len() > MAX_OBJECT_NAME_LENGTH {
            return Err(SwiftError::bad_request(format!(
                "Object name length of {} longer than {MAX_OBJECT_NAME_LENGTH}",
                name.len()
            )));
        }
        let (c, access) = self
            .authorize_in_container(&req.caller, req, "PUT", cont, Some(name))
            .await?;
        if req.has_header("x-copy-from") {
            if req.query("multipart-manifest") == Some("put") {
                return Err(SwiftError::new(
                    common::ErrorKind::MethodNotAllowed,
                    "Multipart Manifest PUTs cannot be COPY requests",
                ));
            }
            if req.content_length()?.is_some_and(|l| l > 0) {
                return Err(SwiftError::bad_request(
                    "Copy requests require a zero byte body",
                ));
            }
            let raw = req.header("x-copy-from").unwrap_or_default();
            let (sc, so) = names::split_container_object(raw).ok_or_else(|| {
                SwiftError::precondition_failed(
                    "X-Copy-From header must be of the form <container name>/<object name>",
                )
            })?;
            let src_account = req
                .header("x-copy-from-account")
                .map(str::to_string)
                .unwrap_or_else(|| req.account().to_string());
            return self
                .copy(req, (&src_account, &sc, &so), &c, name, access)
                .await;
        }
        if req.query("multipart-manifest") == Some("put") {
            return self.put_slo_manifest(req, &c, name, access, body).await;
        }
        if req.has_header("x-static-large-object") {
            return Err(SwiftError::bad_request(
                "X-Static-Large-Object is a reserved header. To create a static large object \
                 add query param multipart-manifest=put.",
            ));
        }
        let length = req.content_length()?;
        if length.is_none() && !req.is_chunked() {
            return Err(SwiftError::length_required(
                "Missing Content-Length header.",
            ));
        }
        if length.is_some_and(|l| l > self.settings.max_file_size) {
            return Err(SwiftError::payload_too_large("Your request is too large."));
        }
        let manifest = dlo_manifest(req)?;
        let metadata = meta::object_from_request(&req.headers)?;
        let delete_at = meta::delete_at(&req.headers, self.now_secs())?;
        let content_type = content_type_for(req, name);
        let must_not_exist = match req.header("if-none-match") {
            None => false,
            Some(v) if v.trim() == "*" => true,
            Some(_) => {
                return Err(SwiftError::bad_request("If-None-Match only supports *"));
            }
        };
        if must_not_exist && self.live_object(req.account(), cont, name).await?.is_some() {
            return Err(SwiftError::precondition_failed(""));
        }
        let account_row = accounts::get(&self.db.pool, req.account()).await?;
        let room = quota::precheck(
            &c,
            account_row.as_ref(),
            length.unwrap_or(0),
            access.reseller,
        )?;
        self.archive_current(req, &c, name, &access).await?;
        let finished = self.receive(body, Expect { length, room }).await?;
        if let Some(etag) = req.header("etag") {
            if normalize_etag(etag).to_ascii_lowercase() != finished.md5 {
                return Err(SwiftError::unprocessable_entity(""));
            }
        }
        let installed = finished.install(&self.data).await?;
        let row = Object {
            account: req.account().to_string(),
            container: cont.to_string(),
            name: name.to_string(),
            file_id: installed.file_id.clone(),
            size: i64::try_from(installed.size).unwrap_or(i64::MAX),
            etag: installed.md5.clone(),
            content_type,
            created_at: self.now(),
            metadata,
            delete_at,
            manifest,
            slo_etag: None,
            slo_size: None,
        };
        self.commit(&row, installed, access.reseller, must_not_exist)
            .await?;
        Ok(ObjectPut::Written(ObjectWritten {
            etag: row.etag,
            quoted: false,
            created_at: row.created_at,
            copied: None,
        }))
    }

    /// `GET`/`HEAD /v1/{account}/{container}/{object}`.
    pub async fn get_object(&self, req: &Request) -> Result<ObjectRead> {
        let (cont, name) = (req.container()?, req.object()?);
        let method = if req.is_head() { "HEAD" } else { "GET" };
        let (_c, access) = self
            .authorize_in_container(&req.caller, req, method, cont, Some(name))
            .await?;
        // A concurrent overwrite may remove the file between reading the
        // row and opening it: read the row again.
        for _ in 0..3 {
            let Some(o) = self.live_object(req.account(), cont, name).await? else {
                if req
                    .header("if-match")
                    .is_some_and(|m| crate::http::Match::parse(m).is_star())
                {
                    return Err(SwiftError::precondition_failed(""));
                }
                return Err(SwiftError::not_found(""));
            };
            match self.object_read(req, o, &access).await {
                Err(e)
                    if e.kind() == common::ErrorKind::Internal
                        && e.message().contains("vanished") =>
                {
                    continue
                }
                r => return r,
            }
        }
        Err(SwiftError::unavailable(
            "The object changed too often while being read; try again.",
        ))
    }

    async fn object_read(&self, req: &Request, o: Object, access: &Access) -> Result<ObjectRead> {
        let manifest_get = req.query("multipart-manifest") == Some("get");
        let last_modified = last_modified_secs(o.created_at);
        let (pieces, validators, shown, total) = if o.is_slo() && manifest_get {
            let raw = self.read_small(&o.file_id).await?;
            let body = if req.query("format") == Some("raw") {
                super::large::manifest_to_put_format(&raw)?
            } else {
                raw
            };
            let v = Validators {
                etag: o.etag.clone(),
                last_modified,
            };
            let pieces = vec![Piece::Data(body)];
            let total = read::total_len(&pieces);
            (pieces, v, Shown::SloManifest, total)
        } else if o.is_slo() && req.is_head() {
            // A HEAD answers from the manifest's recorded size and ETag,
            // without reading the segments (as Swift's SLO middleware).
            let v = Validators {
                etag: o.slo_etag.clone().unwrap_or_default(),
                last_modified,
            };
            let total = u64::try_from(o.slo_size.unwrap_or(0)).unwrap_or(0);
            (Vec::new(), v, Shown::Stored, total)
        } else if o.is_slo() {
            let pieces = self.slo_pieces(req, &o).await?;
            let v = Validators {
                etag: o.slo_etag.clone().unwrap_or_default(),
                last_modified,
            };
            let total = read::total_len(&pieces);
            (pieces, v, Shown::Stored, total)
        } else if let (Some(m), false) = (&o.manifest, manifest_get) {
            let (pieces, etag) = self.dlo_pieces(req, m).await?;
            let v = Validators {
                etag: etag.clone(),
                last_modified,
            };
            let total = read::total_len(&pieces);
            (pieces, v, Shown::Dlo { etag }, total)
        } else {
            let file = match self.data.open_read(&o.file_id) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(common::Error::internal("object data vanished"));
                }
                Err(e) => return Err(e.into()),
            };
            let piece = Piece::File {
                source: Source::Open(Arc::new(file)),
                offset: 0,
                len: u64::try_from(o.size).unwrap_or(0),
            };
            let v = Validators {
                etag: o.etag.clone(),
                last_modified,
            };
            let pieces = vec![piece];
            let total = read::total_len(&pieces);
            (pieces, v, Shown::Stored, total)
        };
        let mut object = o;
        let temp_url = match (&req.temp_url, access.temp_url) {
            (Some(info), true) => Some(temp_url_shown(req, info, &mut object)),
            _ => None,
        };
        Ok(ObjectRead {
            object,
            shown,
            pieces,
            total,
            validators,
            temp_url,
        })
    }

    /// Reads a small object's data whole (manifests).
    pub async fn read_small(&self, file_id: &str) -> Result<bytes::Bytes> {
        let path = self.data.path(file_id);
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(bytes::Bytes::from(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(common::Error::internal("object data vanished"))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `POST /v1/{account}/{container}/{object}`: replaces the metadata,
    /// as Swift's object POST does (what the request does not repeat is
    /// dropped, `X-Delete-At` included).
    pub async fn post_object(&self, req: &Request) -> Result<()> {
        let (cont, name) = (req.container()?, req.object()?);
        self.authorize_in_container(&req.caller, req, "POST", cont, Some(name))
            .await?;
        let metadata = meta::object_from_request(&req.headers)?;
        let delete_at = meta::delete_at(&req.headers, self.now_secs())?;
        let manifest = dlo_manifest(req)?;
        for _ in 0..3 {
            let Some(mut o) = self.live_object(req.account(), cont, name).await? else {
                return Err(SwiftError::not_found(""));
            };
            o.metadata = metadata.clone();
            o.delete_at = delete_at;
            if !o.is_slo() {
                o.manifest = manifest.clone();
            }
            if let Some(ct) = req.header("content-type").filter(|c| !c.trim().is_empty()) {
                o.content_type = ct.trim().to_string();
            }
            let mut tx = self.db.begin_write().await?;
            if crate::db::objects::update_metadata(tx.conn(), &o).await? {
                tx.commit().await?;
                return Ok(());
            }
        }
        Err(SwiftError::not_found(""))
    }

    /// `DELETE /v1/{account}/{container}/{object}`.
    pub async fn delete_object(self: &Arc<Self>, req: &Request) -> Result<ObjectDeleted> {
        let (cont, name) = (req.container()?, req.object()?);
        let (c, access) = self
            .authorize_in_container(&req.caller, req, "DELETE", cont, Some(name))
            .await?;
        if req.query("multipart-manifest") == Some("delete") {
            return Ok(ObjectDeleted::Manifest(self.delete_slo(req).await?));
        }
        if c.versions_location.is_some() {
            self.delete_versioned(req, &c, name, &access).await?;
            return Ok(ObjectDeleted::Deleted);
        }
        match self.remove_object(req.account(), cont, name, None).await? {
            Some(_) => Ok(ObjectDeleted::Deleted),
            None => Err(SwiftError::not_found("")),
        }
    }

    /// `COPY /v1/{account}/{container}/{object}` with `Destination`.
    pub async fn copy_object(self: &Arc<Self>, req: &Request) -> Result<ObjectPut> {
        let (cont, name) = (req.container()?, req.object()?);
        let dest = req
            .header("destination")
            .ok_or_else(|| SwiftError::precondition_failed("Destination header required"))?;
        let (dc, dn) = names::split_container_object(dest).ok_or_else(|| {
            SwiftError::precondition_failed(
                "Destination header must be of the form <container name>/<object name>",
            )
        })?;
        if dn.len() > MAX_OBJECT_NAME_LENGTH {
            return Err(SwiftError::bad_request(format!(
                "Object name length of {} longer than {MAX_OBJECT_NAME_LENGTH}",
                dn.len()
            )));
        }
        let dest_account = req
            .header("destination-account")
            .map(str::to_string)
            .unwrap_or_else(|| req.account().to_string());
        let mut dest_req = req.clone();
        dest_req.method = axum::http::Method::PUT;
        dest_req.path = names::SwiftPath {
            account: dest_account,
            container: Some(dc.clone()),
            object: Some(dn.clone()),
        };
        let (c, access) = self
            .authorize_in_container(&req.caller, &dest_req, "PUT", &dc, Some(&dn))
            .await?;
        let src_account = req.account().to_string();
        self.copy(&dest_req, (&src_account, cont, name), &c, &dn, access)
            .await
    }

    /// Server-side copy of `src` into `dest` (an existing container of
    /// `req`'s account): a hard link of the data when the whole of a plain
    /// object is copied, the assembled bytes otherwise (large objects, a
    /// `Range`).
    async fn copy(
        self: &Arc<Self>,
        req: &Request,
        src: (&str, &str, &str),
        dest: &Container,
        dest_name: &str,
        access: Access,
    ) -> Result<ObjectPut> {
        let (sa, sc, so) = src;
        let mut src_req = req.clone();
        src_req.method = axum::http::Method::GET;
        src_req.path = names::SwiftPath {
            account: sa.to_string(),
            container: Some(sc.to_string()),
            object: Some(so.to_string()),
        };
        self.authorize_in_container(&req.caller, &src_req, "GET", sc, Some(so))
            .await?;
        let source = self
            .live_object(sa, sc, so)
            .await?
            .ok_or_else(|| SwiftError::not_found(""))?;
        let manifest_get = req.query("multipart-manifest") == Some("get");
        let fresh = req
            .header("x-fresh-metadata")
            .is_some_and(crate::http::true_value);
        let mut metadata = if fresh {
            Default::default()
        } else {
            source.metadata.clone()
        };
        meta::apply(meta::Kind::Object, &req.headers, &mut metadata)?;
        for h in meta::OBJECT_KEPT_HEADERS {
            if let Some(v) = req.header(h) {
                metadata.insert(h.to_string(), v.to_string());
            }
        }
        meta::check_totals(meta::Kind::Object, &metadata)?;
        let delete_at = meta::delete_at(&req.headers, self.now_secs())?;
        let content_type = req
            .header("content-type")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| source.content_type.clone());
        let plain = source.manifest.is_none() && !source.is_slo();
        let whole_raw = (plain || manifest_get) && !req.has_header("range");
        let account_row = accounts::get(&self.db.pool, dest.account.as_str()).await?;
        let incoming = if whole_raw {
            u64::try_from(source.size).unwrap_or(0)
        } else {
            u64::try_from(source.slo_size.unwrap_or(source.size)).unwrap_or(0)
        };
        let room = quota::precheck(dest, account_row.as_ref(), incoming, access.reseller)?;
        self.archive_current(req, dest, dest_name, &access).await?;
        let mut row = Object {
            account: dest.account.clone(),
            container: dest.name.clone(),
            name: dest_name.to_string(),
            content_type,
            metadata,
            delete_at,
            created_at: self.now(),
            ..Object::default()
        };
        let installed = if whole_raw {
            let inst = self.data.duplicate(&source.file_id).await?;
            row.size = source.size;
            row.etag = source.etag.clone();
            if manifest_get {
                row.manifest = source.manifest.clone();
                row.slo_etag = source.slo_etag.clone();
                row.slo_size = source.slo_size;
            }
            inst
        } else {
            let read = self
                .object_read(&src_req, source.clone(), &Access::default())
                .await?;
            // The source is read as a GET would be, conditionals and
            // `Range` included; what a GET would not answer with data
            // fails the copy with that status.
            let pieces = match read::select(&src_req, &read.validators, read.total) {
                Selection::NotModified => {
                    return Err(SwiftError::from_status(StatusCode::NOT_MODIFIED, ""))
                }
                Selection::PreconditionFailed => {
                    return Err(SwiftError::from_status(StatusCode::PRECONDITION_FAILED, ""))
                }
                Selection::Unsatisfiable => {
                    return Err(SwiftError::from_status(
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        "",
                    ))
                }
                Selection::Head => Vec::new(),
                Selection::Whole => read.pieces,
                Selection::Range(s, e) => read::slice(&read.pieces, s, e),
                Selection::Ranges(r) => read::multipart(
                    &read.pieces,
                    &r,
                    header_text(read.content_type()).unwrap_or("application/octet-stream"),
                    read.total,
                    &common::ids::hex_id(),
                ),
            };
            let total = read::total_len(&pieces);
            if total > self.settings.max_file_size {
                return Err(SwiftError::payload_too_large("Your request is too large."));
            }
            let finished = self.assemble(pieces, room).await?;
            let inst = finished.install(&self.data).await?;
            row.size = i64::try_from(inst.size).unwrap_or(i64::MAX);
            row.etag = inst.md5.clone();
            inst
        };
        row.file_id = installed.file_id.clone();
        self.commit(&row, installed, access.reseller, false).await?;
        let quoted = row.slo_etag.is_some();
        // Swift's copy middleware answers with the metadata the new
        // object was written with (`_copy_headers` of the sink request:
        // user metadata and `X-Delete-At`), so a client sees what it got.
        let metadata = row
            .metadata
            .into_iter()
            .filter(|(k, _)| k.starts_with("x-object-meta-"))
            .collect();
        Ok(ObjectPut::Written(ObjectWritten {
            etag: row.slo_etag.unwrap_or(row.etag),
            quoted,
            created_at: row.created_at,
            copied: Some(Copied {
                account: sa.to_string(),
                container: sc.to_string(),
                object: so.to_string(),
                source_created_at: source.created_at,
                metadata,
                delete_at: row.delete_at,
            }),
        }))
    }

    /// Writes the bytes of `pieces` into a new file.
    async fn assemble(
        &self,
        pieces: Vec<Piece>,
        room: Option<u64>,
    ) -> Result<crate::store::Finished> {
        let rx = read::spawn_reader(pieces);
        let stream = common::datafile::into_stream(rx);
        self.receive(Box::pin(stream), Expect { length: None, room })
            .await
    }
}

/// `quote(name, safe=' /')` for the `filename=` of a disposition.
fn quote_keep_space(s: &str) -> String {
    names::quote(s).replace("%20", " ")
}

/// What a temp URL read shows: no private metadata (only
/// `X-Object-Meta-Public-*` stays), and the `Content-Disposition` the URL
/// asks for (else the stored one, else an attachment named after the
/// object).
fn temp_url_shown(req: &Request, info: &super::tempurl::TempUrl, o: &mut Object) -> TempUrlShown {
    o.metadata
        .retain(|k, _| !k.starts_with("x-object-meta-") || k.starts_with("x-object-meta-public-"));
    let existing = o
        .metadata
        .get("content-disposition")
        .and_then(|v| header_text(v))
        .map(str::to_string);
    let name = req.path.object.as_deref().unwrap_or("");
    let base = name
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(name);
    let disposition = |kind: &str, f: &str| {
        format!(
            "{kind}; filename=\"{}\"; filename*=UTF-8''{}",
            quote_keep_space(f),
            names::quote(f)
        )
    };
    let value = if info.inline {
        match &info.filename {
            Some(f) => disposition("inline", f),
            None => "inline".into(),
        }
    } else if let Some(f) = &info.filename {
        disposition("attachment", f)
    } else if let Some(e) = existing {
        e
    } else {
        disposition("attachment", base)
    };
    TempUrlShown {
        disposition: value.replace('\n', "%0A"),
        expires: info.expires,
    }
}

/// `v` if it is sent as a header and reads back as text (visible ASCII,
/// spaces and tabs), as `HeaderValue::to_str` would; `None` otherwise.
pub fn header_text(v: &str) -> Option<&str> {
    v.bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
        .then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tempurl::TempUrl;

    fn request(object: &str) -> Request {
        Request {
            method: axum::http::Method::GET,
            path: names::SwiftPath {
                account: "AUTH_a".into(),
                container: Some("c".into()),
                object: Some(object.into()),
            },
            headers: Default::default(),
            query: Default::default(),
            caller: Caller::Anonymous,
            temp_url: None,
        }
    }

    fn object(meta: &[(&str, &str)]) -> Object {
        Object {
            metadata: meta
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            ..Object::default()
        }
    }

    #[test]
    fn temp_url_reads_hide_private_metadata_and_name_the_download() {
        let url = |filename: Option<&str>, inline| TempUrl {
            expires: 1_700_000_000,
            filename: filename.map(str::to_string),
            inline,
        };
        let mut o = object(&[
            ("x-object-meta-secret", "s"),
            ("x-object-meta-public-note", "p"),
            ("content-disposition", "attachment; filename=stored"),
        ]);
        let shown = temp_url_shown(&request("dir/file name.txt"), &url(None, false), &mut o);
        assert_eq!(
            o.metadata.keys().collect::<Vec<_>>(),
            ["content-disposition", "x-object-meta-public-note"]
        );
        // The stored disposition wins when the URL names no file.
        assert_eq!(shown.disposition, "attachment; filename=stored");
        assert_eq!(shown.expires, 1_700_000_000);

        let mut o = object(&[]);
        let shown = temp_url_shown(&request("dir/file name.txt"), &url(None, false), &mut o);
        assert_eq!(
            shown.disposition,
            "attachment; filename=\"file name.txt\"; filename*=UTF-8''file%20name.txt"
        );
        let shown = temp_url_shown(&request("o"), &url(Some("a\nb"), true), &mut o);
        assert_eq!(
            shown.disposition,
            "inline; filename=\"a%0Ab\"; filename*=UTF-8''a%0Ab"
        );
        let shown = temp_url_shown(&request("o"), &url(None, true), &mut o);
        assert_eq!(shown.disposition, "inline");
    }

    #[test]
    fn header_text_is_what_reads_back_as_a_header() {
        assert_eq!(
            header_text("text/plain; a=b\tc"),
            Some("text/plain; a=b\tc")
        );
        assert_eq!(header_text("caf\u{e9}"), None);
        assert_eq!(header_text("a\u{7f}"), None);
    }
}

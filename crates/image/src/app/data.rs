//! Image data: upload (`PUT …/file`), staging (`PUT …/stage`), import
//! (`glance-direct`, `web-download`), download, and recovery of uploads
//! a stopped process left behind.
//!
//! An upload is a small state machine kept honest by the store: the image
//! moves queued → saving (or uploading, for staging) with a fresh
//! `upload_id` in one conditional UPDATE, so of two concurrent uploads
//! one gets a 409. The data streams through [`crate::store::Sink`]
//! (hashes and format inspection on the way), quota is reserved ahead of
//! the bytes in steps, and the upload ends with one conditional UPDATE on
//! its `upload_id`: active with size and hashes, or back to queued with
//! its reservation returned and no file left. The streaming runs in its
//! own task, so a client that disconnects (and so drops the request
//! handler) still gets its upload cleaned up.
//!
//! This is the saga pattern of `db::saga` written out by hand for one
//! step with a fixed undo, rather than through that module: the image row
//! itself is the persisted progress (status saving/uploading plus
//! `upload_id` and the lease), "abandon" is the undo (back to queued,
//! reservation returned, file removed), and recovery is `Recovery::Unwind`
//! (an upload found in flight after its process stopped, or whose lease
//! lapsed, is abandoned, never completed).

use crate::db::images::{DataResult, Image};
use crate::store::SinkError;
use bytes::Bytes;
use common::context::AuthContext;
use common::{Error, Result};
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use std::sync::Arc;

/// Quota is reserved ahead of the data in steps this big (fewer store
/// writes than per chunk, little overshoot).
const RESERVE_STEP: i64 = 64 << 20;

/// What the request says about the data to come.
#[derive(Debug, Clone, Copy, Default)]
pub struct Incoming {
    /// `x-openstack-image-size`: the data must be exactly this long.
    pub expected_size: Option<u64>,
    /// `Content-Length`, when the client sent one.
    pub content_length: Option<u64>,
}

/// How long an upload in flight holds the image without renewing its
/// lease before another process may reset it.
pub const UPLOAD_LEASE: std::time::Duration = std::time::Duration::from_secs(120);
/// How often an upload renews its lease: several renewals per lease, so a
/// slow store does not make a live upload look dead.
const LEASE_RENEW: std::time::Duration = std::time::Duration::from_secs(30);
/// How often a process on a shared store looks for lapsed leases.
const LEASE_SWEEP: std::time::Duration = std::time::Duration::from_secs(60);

/// Which kind of ingest: where the data goes and the status it ends in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// `PUT …/file`: saving → active.
    Upload,
    /// `PUT …/stage`: uploading → uploading, data in staging.
    Stage,
    /// `web-download`: importing → active.
    WebDownload,
}

/// An image's data, ready to stream.
#[derive(Debug)]
pub struct Download {
    pub file: tokio::fs::File,
    pub size: u64,
    pub checksum: Option<String>,
}

/// Glance's 410 for an image deleted while its data was being written.
fn gone(id: &str) -> Error {
    Error::gone(format!(
        "Image {id} could not be found after upload. The image may have been deleted during the upload, cleaning up the chunks uploaded."
    ))
}

fn store_error(e: SinkError) -> Error {
    match e {
        SinkError::Refused(r) => Error::bad_request(r.to_string()),
        SinkError::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => {
            Error::payload_too_large(format!("Image storage media is full: {io}"))
        }
        SinkError::Io(io) => Error::internal(format!("image store: {io}")),
    }
}

impl super::Image {
    /// `PUT /v2/images/{id}/file` (`staged` false) or `PUT …/stage`.
    pub async fn upload<S, E>(
        self: &Arc<Self>,
        ctx: &AuthContext,
        id: &str,
        body: S,
        incoming: Incoming,
        staged: bool,
    ) -> Result<(), Error>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let (img, member) = self.visible_image(ctx, id).await?;
        self.enforce(ctx, "upload_image", &img, member.as_ref())?;
        let (to, target) = if staged {
            ("uploading", Target::Stage)
        } else {
            ("saving", Target::Upload)
        };
        if img.disk_format.is_none() || img.container_format.is_none() {
            return Err(Error::bad_request(
                "Properties disk_format, container_format must be set prior to saving data.",
            ));
        }
        let upload_id = common::ids::hex_id();
        let mut tx = self.begin().await?;
        if !crate::db::images::transition(
            tx.conn(),
            id,
            &["queued"],
            to,
            Some(&upload_id),
            self.now(),
        )
        .await?
        {
            let now = crate::db::images::get(&self.db.pool, id)
                .await?
                .map(|i| i.status)
                .unwrap_or_else(|| img.status.clone());
            return Err(Error::conflict(format!(
                "Image status transition from {now} to {to} is not allowed"
            )));
        }
        tx.commit().await?;
        // Its own task: if the client goes away the handler is dropped,
        // but the ingest still runs to its cleanup.
        let this = self.clone();
        let task = tokio::spawn(async move {
            this.ingest(img, upload_id, Box::pin(body), incoming, target)
                .await
        });
        task.await
            .map_err(|e| Error::internal(format!("upload task: {e}")))?
    }

    /// Streams `body` into the store for upload `upload_id` of `img`, and
    /// ends the upload either way.
    async fn ingest<S, E>(
        &self,
        img: Image,
        upload_id: String,
        body: S,
        incoming: Incoming,
        target: Target,
    ) -> Result<(), Error>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let lease = self.keep_lease(&img.id, &upload_id);
        let r = self
            .ingest_inner(&img, &upload_id, body, incoming, target)
            .await;
        lease.abort();
        if let Err(e) = &r {
            tracing::info!(image = %img.id, error = %e, "image data refused");
            if let Err(e) = self.abandon(&img.id, &upload_id).await {
                tracing::error!(image = %img.id, error = %e, "could not return an upload's quota");
            }
        }
        r
    }

    async fn ingest_inner<S, E>(
        &self,
        img: &Image,
        upload_id: &str,
        mut body: S,
        incoming: Incoming,
        target: Target,
    ) -> Result<(), Error>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let id = img.id.as_str();
        let cap = u64::try_from(self.settings.size_cap).unwrap_or(u64::MAX);
        let declared = incoming.expected_size.or(incoming.content_length);
        if declared.is_some_and(|d| d > cap) {
            return Err(Error::payload_too_large(format!(
                "The incoming image is too large: {} bytes, the limit is {cap}",
                declared.unwrap_or(0)
            )));
        }
        let mut reserved: i64 = 0;
        if let Some(d) = declared {
            // Known size: take it all up front, refusing at once.
            let d = i64::try_from(d).unwrap_or(i64::MAX);
            self.reserve(img, upload_id, d).await?;
            reserved = d;
        }
        let mut sink = self
            .store
            .sink(id, upload_id, img.disk_format.clone())
            .await
            .map_err(store_error)?;
        while let Some(chunk) = body.next().await {
            let chunk = chunk
                .map_err(|e| Error::bad_request(format!("Error reading the image data: {e}")))?;
            let after = sink.written() + chunk.len() as u64;
            if after > cap {
                return Err(Error::payload_too_large(format!(
                    "The incoming image is too large: the limit is {cap} bytes"
                )));
            }
            let after = i64::try_from(after).unwrap_or(i64::MAX);
            if after > reserved {
                let step = (after - reserved).max(RESERVE_STEP);
                self.reserve(img, upload_id, step).await?;
                reserved += step;
            }
            sink.write(chunk).await.map_err(store_error)?;
        }
        let (written, installable) = sink.finish().await.map_err(store_error)?;
        if let Some(expected) = incoming.expected_size {
            if expected != written.size {
                return Err(Error::bad_request(format!(
                    "Size of the uploaded data ({}) does not match x-openstack-image-size ({expected})",
                    written.size
                )));
            }
        }
        let verdict = written
            .inspector
            .verdict(
                img.disk_format.as_deref().unwrap_or("raw"),
                img.container_format.as_deref().unwrap_or("bare"),
            )
            .map_err(|e| Error::bad_request(e.to_string()))?;
        let staged = target == Target::Stage;
        installable
            .install(&self.store, id, staged)
            .await
            .map_err(|e| Error::internal(format!("image store: {e}")))?;
        let size = i64::try_from(written.size).unwrap_or(i64::MAX);
        let result = DataResult {
            size,
            virtual_size: verdict
                .virtual_size
                .map(|v| i64::try_from(v).unwrap_or(i64::MAX)),
            checksum: Some(written.md5),
            os_hash_algo: Some("sha512".into()),
            os_hash_value: Some(written.sha512),
        };
        let to = if staged { "uploading" } else { "active" };
        let mut tx = self.begin().await?;
        let finished = crate::db::images::finish_upload(
            tx.conn(),
            id,
            upload_id,
            to,
            false,
            &result,
            self.now(),
        )
        .await?;
        if !finished {
            drop(tx);
            // Deleted meanwhile: its quota went with the row.
            let _ = if staged {
                self.store.remove_staged(id).await
            } else {
                self.store.remove(id).await
            };
            return Err(gone(id));
        }
        if let Some(owner) = &img.owner {
            crate::db::usage::give(tx.conn(), owner, 0, reserved - size).await?;
        }
        tx.commit().await?;
        tracing::info!(image = id, size, format = %verdict.format, "image data stored");
        Ok(())
    }

    /// Takes `delta` bytes of the owner's quota for the upload.
    async fn reserve(&self, img: &Image, upload_id: &str, delta: i64) -> Result<(), Error> {
        let mut tx = self.begin().await?;
        if let Some(owner) = &img.owner {
            let max = self.settings.quota_bytes;
            if !crate::db::usage::take(tx.conn(), owner, 0, delta, -1, max).await? {
                drop(tx);
                let (_, used) = crate::db::usage::get(&self.db.pool, owner).await?;
                return Err(Error::over_quota(format!(
                    "Image exceeds the storage quota: {}",
                    Self::over_limit("image_size_total", max, used, delta)
                )));
            }
        }
        if !crate::db::images::add_reserved(tx.conn(), &img.id, upload_id, delta).await? {
            return Err(gone(&img.id));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends an upload without data: back to queued, quota returned.
    async fn abandon(&self, id: &str, upload_id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        if let Some((held, owner)) =
            crate::db::images::abandon_upload(tx.conn(), id, upload_id, "queued", self.now())
                .await?
        {
            if let Some(o) = owner {
                crate::db::usage::give(tx.conn(), &o, 0, held).await?;
            }
            tx.commit().await?;
            // Staged data of a failed import is not wanted any more.
            let _ = self.store.remove_staged(id).await;
        }
        Ok(())
    }

    /// The data of `id` for `GET …/file`; None when the image has none
    /// (Glance answers 204).
    pub async fn download(&self, ctx: &AuthContext, id: &str) -> Result<Option<Download>> {
        let (img, member) = self.visible_image(ctx, id).await?;
        self.enforce(ctx, "download_image", &img, member.as_ref())?;
        if img.status == "deactivated" && !self.is_admin(ctx) {
            return Err(Error::forbidden(
                "The requested image has been deactivated. Image data download is prohibited.",
            ));
        }
        if img.status != "active" && img.status != "deactivated" {
            return Ok(None);
        }
        let file = match tokio::fs::File::open(self.store.data_path(id)).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::error!(image = id, "active image has no data file");
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let size = u64::try_from(img.size.unwrap_or(0)).unwrap_or(0);
        Ok(Some(Download {
            file,
            size,
            checksum: img.checksum,
        }))
    }

    /// The import methods this site offers (`/v2/info/import`).
    pub fn import_methods(&self) -> Vec<&'static str> {
        let mut m = vec!["glance-direct"];
        if !self.settings.web_download_allowed.is_empty() {
            m.push("web-download");
        }
        m
    }

    /// `POST /v2/images/{id}/import`. Each import that starts is recorded
    /// as an `api_image_import` task of the image (with the request id),
    /// ended when the import ends.
    pub async fn import(
        self: &Arc<Self>,
        ctx: &AuthContext,
        id: &str,
        body: &Value,
        request_id: Option<&str>,
    ) -> Result<(), Error> {
        let method = body
            .get("method")
            .ok_or_else(|| Error::bad_request("Import request requires a 'method' field."))?;
        let name = method
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::bad_request("Import request requires a 'name' field."))?;
        if !self.import_methods().contains(&name) {
            return Err(Error::bad_request(format!(
                "Unknown import method name '{name}'."
            )));
        }
        for key in ["all_stores_must_succeed", "all_stores"] {
            if body.get(key).is_some_and(|v| !v.is_boolean()) {
                return Err(Error::bad_request(format!(
                    "'{key}' must be boolean value only"
                )));
            }
        }
        if let Some(stores) = body.get("stores") {
            let ok = stores
                .as_array()
                .is_some_and(|s| s.iter().all(|x| x.as_str() == Some(crate::STORE_ID)));
            if !ok {
                return Err(Error::conflict(format!(
                    "The only store at this site is '{}'.",
                    crate::STORE_ID
                )));
            }
        }
        let (img, member) = self.visible_image(ctx, id).await?;
        self.enforce(ctx, "modify_image", &img, member.as_ref())?;
        if img.disk_format.is_none() || img.container_format.is_none() {
            return Err(Error::conflict(
                "'disk_format' and 'container_format' need to be set before import",
            ));
        }
        // Glance's task input for an import.
        let input = serde_json::json!({"image_id": id, "import_req": body, "backend": null});
        if name == "glance-direct" {
            let upload_id = self.begin_staged_import(&img).await?;
            let task = self.import_task(ctx, id, input, request_id).await;
            let r = self.finish_staged_import(&img, &upload_id).await;
            if let Some(t) = task {
                let outcome = match &r {
                    Ok(()) => Ok(serde_json::json!({ "image_id": id })),
                    Err(e) => Err(e.to_string()),
                };
                self.end_task(&t, outcome).await;
            }
            r
        } else {
            let uri = method.get("uri").and_then(Value::as_str).ok_or_else(|| {
                Error::bad_request("URI is required for web-download import method.")
            })?;
            let parsed = self.web_download_uri(uri)?;
            let upload_id = self.begin_web_download(&img).await?;
            let task = self.import_task(ctx, id, input, request_id).await;
            let this = self.clone();
            tokio::spawn(async move {
                let id = img.id.clone();
                let r = this.run_web_download(img, parsed, upload_id).await;
                if let Err(e) = &r {
                    tracing::warn!(image = %id, error = %e, "web-download import failed");
                }
                if let Some(t) = task {
                    this.end_task(&t, r.map(|()| serde_json::json!({ "image_id": id })))
                        .await;
                }
            });
            Ok(())
        }
    }

    /// Records an import's task, processing. A failure to record it is
    /// logged and the import goes on: the task only reports on it.
    async fn import_task(
        &self,
        ctx: &AuthContext,
        image_id: &str,
        input: Value,
        request_id: Option<&str>,
    ) -> Option<String> {
        let r = async {
            let t = self
                .record_task(ctx, "api_image_import", Some(image_id), input, request_id)
                .await?;
            self.task_processing(&t.id).await?;
            Ok::<_, Error>(t.id)
        }
        .await;
        r.map_err(
            |e| tracing::error!(image = image_id, error = %e, "could not record an import task"),
        )
        .ok()
    }

    /// Takes a staged image into `importing` (409 if nothing is staged).
    async fn begin_staged_import(&self, img: &Image) -> Result<String, Error> {
        let upload_id = common::ids::hex_id();
        let mut tx = self.begin().await?;
        if !crate::db::images::transition(
            tx.conn(),
            &img.id,
            &["uploading"],
            "importing",
            Some(&upload_id),
            self.now(),
        )
        .await?
        {
            return Err(Error::conflict(
                "Image needs to be staged before 'glance-direct' method can be used",
            ));
        }
        tx.commit().await?;
        Ok(upload_id)
    }

    async fn finish_staged_import(&self, img: &Image, upload_id: &str) -> Result<(), Error> {
        let id = img.id.as_str();
        // The data was hashed and inspected while staged; importing moves
        // it into the store.
        if let Err(e) = self.store.promote_staged(id).await {
            tracing::error!(image = id, error = %e, "import of staged data failed");
            self.abandon(id, upload_id).await?;
            return Err(Error::internal(format!("import: {e}")));
        }
        let mut tx = self.begin().await?;
        if !crate::db::images::transition(tx.conn(), id, &["importing"], "active", None, self.now())
            .await?
        {
            drop(tx);
            let _ = self.store.remove(id).await;
            return Err(gone(id));
        }
        tx.commit().await?;
        Ok(())
    }

    /// `uri` if `[image] web_download_allowed` lets it be fetched, else 400.
    pub(crate) fn web_download_uri(&self, uri: &str) -> Result<hyper::Uri> {
        let allowed = self
            .settings
            .web_download_allowed
            .iter()
            .any(|p| uri.starts_with(p.as_str()));
        if !allowed || uri.contains("/../") || uri.contains('@') {
            return Err(Error::bad_request(format!(
                "URI for web-download does not pass filtering: {uri}"
            )));
        }
        uri.parse()
            .map_err(|_| Error::bad_request(format!("Invalid URI for web-download: {uri}")))
    }

    /// Takes a queued image into `importing` for a download; returns the
    /// upload id that ends it.
    pub(crate) async fn begin_web_download(&self, img: &Image) -> Result<String, Error> {
        let upload_id = common::ids::hex_id();
        let mut tx = self.begin().await?;
        if !crate::db::images::transition(
            tx.conn(),
            &img.id,
            &["queued"],
            "importing",
            Some(&upload_id),
            self.now(),
        )
        .await?
        {
            return Err(Error::conflict(
                "Image needs to be in 'queued' state to use 'web-download' method",
            ));
        }
        tx.commit().await?;
        Ok(upload_id)
    }

    /// Fetches `uri` into `img` (taken by [`Self::begin_web_download`]);
    /// on failure the image is back to `queued` and the error says why.
    pub(crate) async fn run_web_download(
        &self,
        img: Image,
        uri: hyper::Uri,
        upload_id: String,
    ) -> std::result::Result<(), String> {
        let id = img.id.clone();
        match fetch(uri).await {
            Ok((body, len)) => {
                let incoming = Incoming {
                    expected_size: None,
                    content_length: len,
                };
                self.ingest(img, upload_id, body, incoming, Target::WebDownload)
                    .await
                    .map_err(|e| e.to_string())
            }
            Err(e) => {
                if let Err(e) = self.abandon(&id, &upload_id).await {
                    tracing::error!(image = %id, error = %e, "could not reset the image");
                }
                Err(e)
            }
        }
    }

    /// Renews the lease of an upload in flight every [`LEASE_RENEW`] until
    /// aborted (the transition that started the upload took it).
    fn keep_lease(&self, id: &str, upload_id: &str) -> tokio::task::JoinHandle<()> {
        let (db, clock) = (self.db.clone(), self.clock.clone());
        let (id, upload_id) = (id.to_string(), upload_id.to_string());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(LEASE_RENEW).await;
                let now = clock.now_micros();
                match crate::db::images::touch_upload(&db.pool, &id, &upload_id, now).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    // The next renewal may get through; the lease outlasts
                    // several misses.
                    Err(e) => {
                        tracing::warn!(image = %id, error = %e, "cannot renew an upload lease")
                    }
                }
            }
        })
    }

    /// Puts back to `queued` the uploads whose lease lapsed (their process
    /// stopped), returning the quota they held. Safe while other processes
    /// upload: a live upload renews its lease long before it lapses, and
    /// each reset names the upload it ends. Returns how many it reset.
    pub async fn reset_stale_uploads(&self) -> Result<usize> {
        let lease = i64::try_from(UPLOAD_LEASE.as_micros()).unwrap_or(i64::MAX);
        let cutoff = self.now().saturating_sub(lease);
        let stale = crate::db::images::stale_uploads(&self.db.pool, cutoff).await?;
        let mut reset = 0;
        for (id, upload_id) in stale {
            tracing::warn!(image = %id, "resetting an upload whose process stopped");
            self.abandon(&id, &upload_id).await?;
            reset += 1;
        }
        Ok(reset)
    }

    /// On a shared store: resets lapsed uploads now and every
    /// [`LEASE_SWEEP`] until `stop`, so a replica that died does not leave
    /// its images `saving` while the others run. (A sole owner resets
    /// everything at start instead, in [`super::Image::recover`].)
    pub async fn run_background(
        self: Arc<Self>,
        stop: impl std::future::Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        if !self.db.is_shared() {
            return Ok(());
        }
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => return Ok(()),
                _ = tokio::time::sleep(LEASE_SWEEP) => {}
            }
            if let Err(e) = self.reset_stale_uploads().await {
                tracing::warn!(error = %e, "upload lease sweep failed");
            }
        }
    }

    /// Puts back images a stopped process left mid-upload, rebuilds the
    /// quota counters and fails the tasks it left unfinished. On a store
    /// this process owns alone (SQLite) every upload and task in flight is
    /// a leftover; on a shared store only uploads whose lease lapsed are
    /// (another replica may be uploading), and tasks are left alone.
    pub async fn recover(&self) -> Result<()> {
        if self.db.is_shared() {
            self.reset_stale_uploads().await?;
            return Ok(());
        }
        let now = self.now();
        let mut tx = self.begin().await?;
        for (id, status) in crate::db::images::interrupted(&self.db.pool).await? {
            let staged = match status.as_str() {
                "uploading" | "importing" => self
                    .store
                    .staged_len(&id)
                    .map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
                _ => None,
            };
            if staged.is_none() {
                let _ = self.store.remove_staged(&id).await;
            }
            tracing::warn!(image = %id, %status, "resetting an upload interrupted by a stop");
            crate::db::images::reset_interrupted(tx.conn(), &id, staged, now).await?;
        }
        crate::db::usage::recompute(tx.conn()).await?;
        // The tasks of those uploads (and any other) stopped with the
        // process that ran them.
        crate::db::tasks::fail_unfinished(
            tx.conn(),
            "The task was interrupted by a restart of the image service.",
            now,
            now + super::tasks::TASK_TTL,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

type FetchBody =
    std::pin::Pin<Box<dyn Stream<Item = std::result::Result<Bytes, hyper::Error>> + Send>>;

/// GETs `uri` over plain HTTP, following no redirects (each hop would
/// need the allow-list again).
async fn fetch(uri: hyper::Uri) -> Result<(FetchBody, Option<u64>), String> {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<Bytes>>();
    let res = client
        .get(uri.clone())
        .await
        .map_err(|e| format!("GET {uri}: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("GET {uri}: {}", res.status()));
    }
    let len = res
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let stream = res.into_body().into_data_stream();
    Ok((Box::pin(stream), len))
}

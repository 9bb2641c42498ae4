//! `PUT/GET /v2/images/{id}/file`, `PUT …/stage`, `POST …/import`.
//!
//! The data routes take the request body as a stream and are exempt from
//! the JSON body limit (`DefaultBodyLimit::disable`); their size is bounded
//! by the quota and `image_size_cap` while streaming instead.

use super::{header, GlanceError, GlanceErrors, State};
use crate::app::data::Incoming;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Extension, Path, State as S};
use axum::http::{header as h, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::Router;
use common::auth::Auth;
use common::http::{JsonBody, RequestId};
use common::{Error, Result};
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

pub fn routes() -> Router<Arc<crate::Image>> {
    Router::new()
        .route(
            "/v2/images/{id}/file",
            put(upload).get(download).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/v2/images/{id}/stage",
            put(stage).layer(DefaultBodyLimit::disable()),
        )
        .route("/v2/images/{id}/import", post(import))
}

/// The size headers, and 415 for a body that is not octet-stream (an
/// absent Content-Type is taken as octet-stream, as webob does).
fn incoming(headers: &HeaderMap) -> Result<Incoming> {
    if let Some(ct) = headers.get(h::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        let base = ct.split(';').next().unwrap_or("").trim();
        if !base.eq_ignore_ascii_case("application/octet-stream") {
            return Err(Error::unsupported_media_type(format!(
                "Invalid content type {ct}"
            )));
        }
    }
    let expected_size = match headers.get("x-openstack-image-size") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    Error::bad_request("Invalid or missing image size in request headers.")
                })?,
        ),
    };
    let content_length = headers
        .get(h::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse().ok());
    Ok(Incoming {
        expected_size,
        content_length,
    })
}

/// Image data as sent or served: raw bytes.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ImageData(pub Vec<u8>);

/// `POST /v2/images/{id}/import`: the import method and its options
/// (read as JSON and checked in `app/` with Glance's messages).
#[derive(Debug, ToSchema)]
pub struct ImportRequest {
    pub method: ImportMethod,
    pub stores: Option<Vec<String>>,
    pub all_stores: Option<bool>,
    pub all_stores_must_succeed: Option<bool>,
}

#[derive(Debug, ToSchema)]
pub struct ImportMethod {
    /// `glance-direct`, `web-download`, `copy-image`.
    pub name: String,
    pub uri: Option<String>,
}

#[utoipa::path(put, path = "/v2/images/{id}/file", tag = "image data",
    params(("id" = String, Path),
        ("x-openstack-image-size" = Option<u64>, Header, description = "The size of the data")),
    request_body(content = ImageData, content_type = "application/octet-stream"),
    responses((status = 204), (status = 410, description = "The image was deleted during the upload", body = GlanceError), GlanceErrors))]
async fn upload(
    S(g): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> std::result::Result<StatusCode, Error> {
    let inc = incoming(&headers)?;
    g.upload(&ctx, &id, body.into_data_stream(), inc, false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/v2/images/{id}/stage", tag = "image data",
    params(("id" = String, Path),
        ("x-openstack-image-size" = Option<u64>, Header, description = "The size of the data")),
    request_body(content = ImageData, content_type = "application/octet-stream"),
    responses((status = 204), (status = 410, description = "The image was deleted during the upload", body = GlanceError), GlanceErrors))]
async fn stage(
    S(g): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> std::result::Result<StatusCode, Error> {
    let inc = incoming(&headers)?;
    g.upload(&ctx, &id, body.into_data_stream(), inc, true)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v2/images/{id}/import", tag = "image data",
    params(("id" = String, Path)),
    request_body(content = ImportRequest, content_type = "application/json"),
    responses((status = 202), (status = 410, description = "The image is gone", body = GlanceError), GlanceErrors))]
async fn import(
    S(g): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    rid: Option<Extension<RequestId>>,
    JsonBody(body): JsonBody<Value>,
) -> std::result::Result<StatusCode, Error> {
    let rid = rid.map(|Extension(RequestId(r))| r);
    g.import(&ctx, &id, &body, rid.as_deref()).await?;
    Ok(StatusCode::ACCEPTED)
}

/// A `Range: bytes=…` header against `size`: `Ok(None)` for none (or one
/// we serve whole, like several ranges), `Err(())` when unsatisfiable.
fn range(headers: &HeaderMap, size: u64) -> std::result::Result<Option<(u64, u64)>, ()> {
    let Some(v) = headers.get(h::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Err(());
    };
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        // Suffix: the last N bytes.
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        (size.saturating_sub(n), size.saturating_sub(1))
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end: u64 = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse::<u64>()
                .map_err(|_| ())?
                .min(size.saturating_sub(1))
        };
        (start, end)
    };
    if size == 0 || start >= size || start > end {
        return Err(());
    }
    Ok(Some((start, end)))
}

#[utoipa::path(get, path = "/v2/images/{id}/file", tag = "image data",
    params(("id" = String, Path), ("range" = Option<String>, Header)),
    responses(
        (status = 200, body = ImageData, content_type = "application/octet-stream"),
        (status = 204, description = "The image has no data"),
        (status = 206, body = ImageData, content_type = "application/octet-stream"),
        (status = 416, description = "Requested range not satisfiable", body = GlanceError),
        GlanceErrors))]
async fn download(
    S(g): State,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let Some(d) = g.download(&ctx, &id).await? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let (status, start, len) = match range(&headers, d.size) {
        Ok(None) => (StatusCode::OK, 0, d.size),
        Ok(Some((s, e))) => (StatusCode::PARTIAL_CONTENT, s, e - s + 1),
        Err(()) => {
            let mut r =
                Error::range_not_satisfiable("Requested range not satisfiable").into_response();
            r.headers_mut()
                .insert(h::CONTENT_RANGE, header(&format!("bytes */{}", d.size)));
            return Ok(r);
        }
    };
    let file = d.file.into_std().await;
    let rx = common::datafile::spawn_reader(move |emit| {
        common::datafile::read_range(&file, start, len, emit)
    });
    let stream = common::datafile::into_stream(rx);
    let mut r = Response::new(Body::from_stream(stream));
    *r.status_mut() = status;
    let hs = r.headers_mut();
    hs.insert(h::CONTENT_TYPE, header("application/octet-stream"));
    hs.insert(h::CONTENT_LENGTH, header(&len.to_string()));
    if status == StatusCode::PARTIAL_CONTENT {
        hs.insert(
            h::CONTENT_RANGE,
            header(&format!("bytes {start}-{}/{}", start + len - 1, d.size)),
        );
    } else if let Some(md5) = &d.checksum {
        // The MD5 of the whole image; on a partial answer it would not
        // describe the body, so it is left off there.
        hs.insert("content-md5", header(md5));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn r(v: &str, size: u64) -> std::result::Result<Option<(u64, u64)>, ()> {
        let mut hm = HeaderMap::new();
        hm.insert(h::RANGE, v.parse().unwrap());
        range(&hm, size)
    }

    #[test]
    fn ranges() {
        assert_eq!(r("bytes=0-4", 10), Ok(Some((0, 4))));
        assert_eq!(r("bytes=5-", 10), Ok(Some((5, 9))));
        assert_eq!(r("bytes=-3", 10), Ok(Some((7, 9))));
        assert_eq!(r("bytes=8-100", 10), Ok(Some((8, 9))));
        assert_eq!(r("bytes=10-", 10), Err(()));
        assert_eq!(r("bytes=5-2", 10), Err(()));
        assert_eq!(r("bytes=x-2", 10), Err(()));
        assert_eq!(r("bytes=0-1,3-4", 10), Ok(None));
        assert_eq!(r("items=0-1", 10), Ok(None));
    }
}

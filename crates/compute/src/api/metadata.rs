//! The metadata API (Nova's `nova/api/metadata/handler.py`), served on
//! its own listener (`[compute] metadata_port`, 8775) and reached by
//! guests at 169.254.169.254 through the data plane's proxy
//! (`agent::net::metadata`), which names and signs the instance.
//!
//! Every path is answered by one handler, as Nova's WSGI app: `/` lists
//! the EC2 versions without asking who calls; anything else needs the
//! proxy's headers (`app::metadata`). `GET` (and `HEAD`) are served, and
//! `POST` to an OpenStack version's `password` (`app::passwords`).

use crate::app::metadata::{self, ProxyHeaders};
use crate::Compute;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use common::{Error, Result};
use std::sync::Arc;

/// The metadata API, with the shared layers (Nova's error bodies).
pub fn router(nova: Arc<Compute>, max_body: usize) -> Router {
    let r = Router::new().fallback(handle).with_state(nova);
    common::http::service_layers_with_ids(
        r,
        Arc::new(super::errors::Nova),
        max_body,
        common::http::request_id::IdForm::Nova,
    )
}

fn one(headers: &HeaderMap, name: &str) -> (Option<String>, bool) {
    let mut all = headers.get_all(name).iter();
    let first = all
        .next()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    (first, all.next().is_some())
}

async fn handle(State(nova): State<Arc<Compute>>, req: Request) -> Result<Response> {
    let post = req.method() == Method::POST && is_password_path(req.uri().path());
    if req.method() != Method::GET && req.method() != Method::HEAD && !post {
        return Err(Error::from_status(
            StatusCode::METHOD_NOT_ALLOWED,
            "Only GET is supported by the metadata API.",
        ));
    }
    let path = req.uri().path().to_string();
    if metadata::is_root(&path) {
        return Ok(answer(metadata::root_listing()));
    }
    let h = req.headers();
    let (instance_id, multiple_instance_ids) = one(h, "x-instance-id");
    let (tenant_id, multiple_tenant_ids) = one(h, "x-tenant-id");
    let headers = ProxyHeaders {
        instance_id,
        tenant_id,
        signature: one(h, "x-instance-id-signature").0,
        forwarded_for: one(h, "x-forwarded-for").0,
        multiple_instance_ids,
        multiple_tenant_ids,
    };
    let md = nova.metadata_request(&headers).await?;
    if post {
        let today: String = common::clock::iso_seconds(nova.now())
            .chars()
            .take(10)
            .collect();
        // The version must serve `password` (Grizzly on).
        if md.lookup(&path, &today).is_none() {
            return Err(Error::not_found("The resource could not be found."));
        }
        let limit = crate::app::passwords::MAX_SIZE + 1;
        let body = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| Error::bad_request("Request is too large."))?;
        nova.post_metadata_password(&md.row.id, &body).await?;
        return Ok(StatusCode::OK.into_response());
    }
    // `YYYY-MM-DD` of now: later OpenStack versions are hidden.
    let today: String = common::clock::iso_seconds(nova.now())
        .chars()
        .take(10)
        .collect();
    match md.lookup(&path, &today) {
        Some(a) => Ok(answer(a)),
        None => Err(Error::not_found("The resource could not be found.")),
    }
}

/// `/openstack/<version>/password` (trailing slashes allowed).
fn is_password_path(path: &str) -> bool {
    let t: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    matches!(t.as_slice(), ["openstack", _, "password"])
}

fn answer(a: metadata::Answer) -> Response {
    let mut r = a.body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(match a.content_type {
            metadata::APPLICATION_JSON => "application/json",
            _ => "text/plain; charset=UTF-8",
        }),
    );
    r
}

//! Request ids: every response carries `X-OpenStack-Request-ID`, and every
//! log line written while handling the request carries the same id.
//!
//! Most services spell the id `req-<uuid>` (oslo.middleware's form); Swift
//! spells it as its transaction id and sends it twice, as `X-Trans-Id` and
//! `X-Openstack-Request-Id` ([`IdForm::Swift`]).

use crate::clock::SharedClock;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The id of the request being handled, as a request extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// How a service spells its request ids.
#[derive(Debug, Clone)]
pub enum IdForm {
    /// `req-<uuid>`, as oslo.middleware's request-id filter writes it.
    Openstack,
    /// Swift's transaction id, `tx<21 hex>-<unix time as 10 hex>`
    /// (`swift.common.utils.generate_trans_id` with no suffix), also sent
    /// as `X-Trans-Id`. The time comes from the service's clock.
    Swift(SharedClock),
}

impl IdForm {
    /// A new id in this form.
    pub fn generate(&self) -> String {
        match self {
            IdForm::Openstack => format!("req-{}", crate::ids::uuid()),
            IdForm::Swift(clock) => swift_trans_id(&crate::ids::hex_id(), clock.now_micros()),
        }
    }
}

/// Swift's `'tx%s-%010x' % (uuid4().hex[:21], int(time.time()))` from a
/// 32-hex-digit random id and the time in microseconds.
fn swift_trans_id(hex: &str, now_micros: i64) -> String {
    let random: String = hex.chars().take(21).collect();
    format!("tx{random}-{:010x}", now_micros.max(0) / 1_000_000)
}

/// The request-id layer in the `req-<uuid>` form.
pub async fn request_id(req: Request, next: Next) -> Response {
    request_id_in(State(IdForm::Openstack), req, next).await
}

/// The request-id layer in `form`.
pub async fn request_id_in(State(form): State<IdForm>, mut req: Request, next: Next) -> Response {
    let id = form.generate();
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let span = tracing::info_span!("request", id = %id);
    let started = std::time::Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    let status = res.status();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::error!(%method, %path, status = status.as_u16(), elapsed_ms, "request failed");
        } else if status.is_client_error() {
            tracing::info!(%method, %path, status = status.as_u16(), elapsed_ms, "request refused");
        } else {
            tracing::debug!(%method, %path, status = status.as_u16(), elapsed_ms, "request");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        if matches!(form, IdForm::Swift(_)) {
            res.headers_mut().insert("x-trans-id", v.clone());
        }
        res.headers_mut().insert("x-openstack-request-id", v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swift_trans_ids_have_swifts_shape() {
        let id = swift_trans_id("0123456789abcdef0123456789abcdef", 1_705_090_000_123_456);
        assert_eq!(id, "tx0123456789abcdef01234-0065a19bd0");
        let clock: SharedClock = std::sync::Arc::new(crate::clock::ManualClock::new(0));
        let id = IdForm::Swift(clock).generate();
        assert_eq!(id.len(), 34);
        assert!(id.starts_with("tx") && id.ends_with("-0000000000"), "{id}");
        assert!(IdForm::Openstack.generate().starts_with("req-"));
    }
}

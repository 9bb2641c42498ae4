//! Request ids and the access log: every response carries
//! `X-OpenStack-Request-ID`, every log line written while handling the
//! request carries the same id, and each request ends with one access-log
//! line (method, path with secrets masked, status, milliseconds, request
//! id, and the caller's user and project once a token validated).
//!
//! Most services spell the id `req-<uuid>` (oslo.middleware's form); Swift
//! spells it as its transaction id and sends it twice, as `X-Trans-Id` and
//! `X-Openstack-Request-Id` ([`IdForm::Swift`]).

use crate::clock::SharedClock;
use crate::context::AuthContext;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::cell::RefCell;
use tracing::Instrument;

/// The id of the request being handled, as a request extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// (user id, project id) of the caller.
type Caller = (String, Option<String>);

tokio::task_local! {
    /// The caller of the request this task is handling: filled by the
    /// first token validation (the validator is shared by every service,
    /// so no handler has to remember to report who called).
    static CALLER: RefCell<Option<Caller>>;
}

/// Records `ctx` as the caller of the request being handled (the first
/// validation wins: later ones check subject tokens, not the caller).
/// Outside a request this does nothing.
pub fn record_caller(ctx: &AuthContext) {
    let _ = CALLER.try_with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Some((ctx.user_id.clone(), ctx.project_id().map(str::to_string)));
        }
    });
}

/// Query parameters whose values are credentials (temp URL signatures,
/// tokens, EC2 and OAuth signatures, passwords): the access log shows the
/// name and `***` instead of the value.
fn is_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["sig", "token", "secret", "password", "key", "credential"]
        .iter()
        .any(|s| n.contains(s))
}

/// The path and query of `uri` for the access log, with secret values masked.
pub fn loggable_path(uri: &axum::http::Uri) -> String {
    let path = uri.path();
    let Some(q) = uri.query() else {
        return path.to_string();
    };
    let masked: Vec<String> = q
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if is_secret(k) => format!("{k}=***"),
            None if is_secret(pair) => "***".to_string(),
            _ => pair.to_string(),
        })
        .collect();
    format!("{path}?{}", masked.join("&"))
}

/// How a service spells its request ids.
#[derive(Debug, Clone)]
pub enum IdForm {
    /// `req-<uuid>`, as oslo.middleware's request-id filter writes it.
    Openstack,
    /// Nova's: `req-<uuid>`, also sent as `x-compute-request-id`.
    Nova,
    /// Swift's transaction id, `tx<21 hex>-<unix time as 10 hex>`
    /// (`swift.common.utils.generate_trans_id` with no suffix), also sent
    /// as `X-Trans-Id`. The time comes from the service's clock.
    Swift(SharedClock),
}

impl IdForm {
    /// A new id in this form.
    pub fn generate(&self) -> String {
        match self {
            IdForm::Openstack | IdForm::Nova => format!("req-{}", crate::ids::uuid()),
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
    let path = loggable_path(req.uri());
    let span = tracing::info_span!("request", id = %id);
    let started = std::time::Instant::now();
    let (mut res, caller) = CALLER
        .scope(RefCell::new(None), async move {
            let res = next.run(req).instrument(span).await;
            let caller = CALLER.with(|c| c.borrow_mut().take());
            (res, caller)
        })
        .await;
    let status = res.status().as_u16();
    let ms = started.elapsed().as_millis();
    let who = match caller {
        Some((user, Some(project))) => format!(" user={user} project={project}"),
        Some((user, None)) => format!(" user={user}"),
        None => String::new(),
    };
    // One line per request at info, whatever the outcome: a 404 or 401 is
    // a client's ordinary answer, not a warning; 5xx are errors.
    if status >= 500 {
        tracing::error!(target: "access", "{method} {path} {status} {ms}ms {id}{who}");
    } else {
        tracing::info!(target: "access", "{method} {path} {status} {ms}ms {id}{who}");
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        match form {
            IdForm::Swift(_) => {
                res.headers_mut().insert("x-trans-id", v.clone());
            }
            IdForm::Nova => {
                res.headers_mut().insert("x-compute-request-id", v.clone());
            }
            IdForm::Openstack => {}
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

    #[test]
    fn secrets_in_queries_are_masked() {
        let uri: axum::http::Uri = "/v1/AUTH_a/c/o?temp_url_sig=abc123&temp_url_expires=99&inline"
            .parse()
            .unwrap();
        assert_eq!(
            loggable_path(&uri),
            "/v1/AUTH_a/c/o?temp_url_sig=***&temp_url_expires=99&inline"
        );
        let uri: axum::http::Uri = "/v3/x?oauth_token=t&Signature=s&name=n".parse().unwrap();
        assert_eq!(
            loggable_path(&uri),
            "/v3/x?oauth_token=***&Signature=***&name=n"
        );
        let uri: axum::http::Uri = "/v3/users".parse().unwrap();
        assert_eq!(loggable_path(&uri), "/v3/users");
    }
}

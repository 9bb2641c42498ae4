//! The shared auth layer: every service reads `X-Auth-Token` the same way and
//! gets an [`AuthContext`] from the identity service's validator.
//!
//! Identity implements [`TokenValidator`]; the router of every service
//! carries it as a request extension ([`with_validator`]) and handlers that
//! need a caller take the [`Auth`] extractor. Routes that need none (version
//! documents, `POST /v3/auth/tokens`) simply don't.

use crate::context::AuthContext;
use crate::error::{Error, ErrorKind};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Validates a token string into the caller's identity.
pub trait TokenValidator: Send + Sync {
    /// `Err(Unauthorized)` for a token that is malformed, expired, revoked
    /// or whose user/project is no longer valid.
    fn validate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Arc<AuthContext>, Error>>;
}

/// The validator as a request extension, with the catalog type of the
/// service the router serves (what application-credential access rules
/// name).
#[derive(Clone)]
pub struct ValidatorExt(pub Arc<dyn TokenValidator>, pub &'static str);

/// Adds the validator to every request of `router`, a router of the
/// service of catalog type `service_type`.
pub fn with_validator_for<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
    validator: Arc<dyn TokenValidator>,
    service_type: &'static str,
) -> axum::Router<S> {
    router.layer(axum::Extension(ValidatorExt(validator, service_type)))
}

/// [`with_validator_for`] for a router that has not said which service it
/// is: tokens restricted by access rules are refused there.
pub fn with_validator<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
    validator: Arc<dyn TokenValidator>,
) -> axum::Router<S> {
    with_validator_for(router, validator, "")
}

/// An authenticated caller; rejects the request with 401 when the token is
/// missing or invalid.
#[derive(Debug, Clone)]
pub struct Auth(pub Arc<AuthContext>);

impl std::ops::Deref for Auth {
    type Target = AuthContext;
    fn deref(&self) -> &AuthContext {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        if let Some(a) = parts.extensions.get::<Auth>() {
            return Ok(a.clone());
        }
        let token = parts
            .headers
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::unauthorized("The request you have made requires authentication.")
            })?
            .to_string();
        let validator = parts
            .extensions
            .get::<ValidatorExt>()
            .cloned()
            .ok_or_else(|| Error::internal("no token validator configured on this router"))?;
        let ctx = validator.0.validate(&token).await.map_err(|e| match e {
            e if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Unauthorized) => {
                Error::unauthorized("The request you have made requires authentication.")
            }
            other => other,
        })?;
        if let Some(rules) = &ctx.access_rules {
            let path = parts.uri.path();
            let method = parts.method.as_str();
            if validator.1.is_empty() || !rules.iter().any(|r| r.allows(validator.1, method, path))
            {
                // keystonemiddleware answers a call outside the rules as an
                // unauthenticated one.
                return Err(Error::unauthorized(format!(
                    "The application credential does not allow {method} {path} on this service."
                )));
            }
        }
        let auth = Auth(ctx);
        parts.extensions.insert(auth.clone());
        Ok(auth)
    }
}

/// The raw `X-Auth-Token` of the request, for handlers that hand it on.
pub fn token_of(parts: &axum::http::HeaderMap) -> Option<&str> {
    parts.get("x-auth-token").and_then(|v| v.to_str().ok())
}

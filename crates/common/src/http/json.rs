//! Strict JSON request bodies: malformed JSON or a wrong type is a 400 that
//! names the offending field; a body over the limit is a 413.

use crate::error::Error;
use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use serde::de::DeserializeOwned;

/// A JSON request body parsed into `T`.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Error::payload_too_large("Request is too large.")
            } else {
                Error::bad_request(rej.body_text())
            }
        })?;
        parse(&bytes).map(JsonBody)
    }
}

/// Parses `bytes` as `T`, naming the field at fault.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::bad_request(
            "The request body is empty; a JSON object is expected.",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            Error::bad_request(format!("Malformed JSON in request body: {inner}"))
        } else if path == "." {
            Error::bad_request(format!("Invalid input for the request body: {inner}"))
        } else {
            Error::bad_request(format!("Invalid input for field '{path}': {inner}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Outer {
        user: Inner,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        name: String,
        enabled: Option<bool>,
    }

    #[test]
    fn names_the_field() {
        let e = parse::<Outer>(br#"{"user": {"name": "a", "enabled": "yes"}}"#).unwrap_err();
        assert!(
            e.kind() == crate::ErrorKind::BadRequest && e.message().contains("'user.enabled'"),
            "{e:?}"
        );
        let e = parse::<Outer>(br#"{"user": {"enabled": true}}"#).unwrap_err();
        assert!(
            e.kind() == crate::ErrorKind::BadRequest && e.message().contains("name"),
            "{e:?}"
        );
        let e = parse::<Outer>(b"{not json").unwrap_err();
        assert!(
            e.kind() == crate::ErrorKind::BadRequest && e.message().starts_with("Malformed JSON"),
            "{e:?}"
        );
        assert!(parse::<Outer>(b"").is_err());
        assert!(parse::<Outer>(br#"{"user": {"name": "a"}}"#).is_ok());
    }
}

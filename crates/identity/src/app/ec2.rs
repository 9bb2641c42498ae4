//! EC2 request signatures, checked by `POST /v3/ec2tokens`: AWS signature
//! version 2 and version 4, computed the way Keystone's `Ec2Signer`
//! computes them (including its quirk of always signing version 2 as
//! `HmacSHA256`, and of retrying without the port in the host).

use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Characters Python's `urllib.parse.quote(safe='-_~')` leaves alone.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The request a client signed, as `/v3/ec2tokens` receives it.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[schema(as = Ec2SignedRequest)]
pub struct SignedRequest {
    pub access: String,
    pub signature: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub verb: String,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub params: Map<String, Value>,
    #[serde(default)]
    pub headers: Map<String, Value>,
    #[serde(default)]
    pub body_hash: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("unsupported signature version {0}")]
    Unsupported(String),
    #[error("malformed signed request: {0}")]
    Malformed(&'static str),
}

fn as_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn hmac256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so construction cannot fail.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn canonical_qs(params: &Map<String, Value>) -> String {
    let mut keys: Vec<&String> = params.keys().collect();
    keys.sort();
    keys.iter()
        .map(|k| {
            format!(
                "{}={}",
                utf8_percent_encode(k, UNRESERVED),
                utf8_percent_encode(&as_str(&params[k.as_str()]), UNRESERVED)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn header<'a>(headers: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

fn is_v4(r: &SignedRequest) -> bool {
    header(&r.headers, "Authorization").is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256"))
        || r.params.get("X-Amz-Algorithm").and_then(Value::as_str) == Some("AWS4-HMAC-SHA256")
}

/// The signature `secret` gives `r`.
pub fn expected_signature(secret: &str, r: &SignedRequest) -> Result<String, SignatureError> {
    let version = r.params.get("SignatureVersion").map(as_str);
    match version.as_deref() {
        Some("2") => Ok(v2(secret, r)),
        _ if is_v4(r) => v4(secret, r),
        Some(v) => Err(SignatureError::Unsupported(v.to_string())),
        None => Err(SignatureError::Malformed(
            "no SignatureVersion and no AWS4-HMAC-SHA256 authorization",
        )),
    }
}

fn v2(secret: &str, r: &SignedRequest) -> String {
    let mut params = r.params.clone();
    params.insert("SignatureMethod".into(), Value::String("HmacSHA256".into()));
    let to_sign = format!(
        "{}\n{}\n{}\n{}",
        r.verb,
        r.host,
        r.path,
        canonical_qs(&params)
    );
    base64::engine::general_purpose::STANDARD.encode(hmac256(secret.as_bytes(), to_sign.as_bytes()))
}

fn v4(secret: &str, r: &SignedRequest) -> Result<String, SignatureError> {
    let auth = header(&r.headers, "Authorization");
    let auth_param = |name: &str| -> Option<String> {
        match auth {
            Some(a) => {
                let key = format!("{name}=");
                a.split_once(&key)
                    .map(|(_, rest)| rest.split(',').next().unwrap_or("").to_string())
            }
            None => r.params.get(&format!("X-Amz-{name}")).map(as_str),
        }
    };
    let signed_headers =
        auth_param("SignedHeaders").ok_or(SignatureError::Malformed("no SignedHeaders"))?;
    let credential = auth_param("Credential").ok_or(SignatureError::Malformed("no Credential"))?;
    let date = header(&r.headers, "X-Amz-Date")
        .map(str::to_string)
        .or_else(|| r.params.get("X-Amz-Date").map(as_str))
        .ok_or(SignatureError::Malformed("no X-Amz-Date"))?;
    let lower: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), as_str(v).trim().to_string()))
        .collect();
    let mut canonical_headers = String::new();
    for h in signed_headers.split(';') {
        if let Some((_, v)) = lower.iter().find(|(k, _)| k == h) {
            canonical_headers.push_str(&format!("{h}:{v}\n"));
        }
    }
    let qs = if r.verb.eq_ignore_ascii_case("POST") {
        String::new()
    } else {
        canonical_qs(&r.params)
    };
    let canonical_request = [
        r.verb.to_ascii_uppercase(),
        r.path.clone(),
        qs,
        canonical_headers,
        signed_headers.clone(),
        r.body_hash.clone(),
    ]
    .join("\n");
    let parts: Vec<&str> = credential.split('/').collect();
    if parts.len() < 5 {
        return Err(SignatureError::Malformed(
            "Credential is not key/date/region/service/aws4_request",
        ));
    }
    let (cred_date, region, service) = (parts[1], parts[2], parts[3]);
    if !date.starts_with(cred_date) {
        return Err(SignatureError::Malformed(
            "request date does not match the credential scope",
        ));
    }
    let scope = parts[1..].join("/");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        super::credentials::hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let k_date = hmac256(format!("AWS4{secret}").as_bytes(), cred_date.as_bytes());
    let k_region = hmac256(&k_date, region.as_bytes());
    let k_service = hmac256(&k_region, service.as_bytes());
    let k_signing = hmac256(&k_service, b"aws4_request");
    Ok(super::credentials::hex(&hmac256(
        &k_signing,
        to_sign.as_bytes(),
    )))
}

/// Constant-time comparison of the given and expected signatures, retrying
/// without the port in `host` as Keystone does for clients that sign
/// without it.
pub fn verify(secret: &str, r: &SignedRequest) -> Result<bool, SignatureError> {
    let eq = |a: &str, b: &str| {
        a.len() == b.len()
            && a.bytes()
                .zip(b.bytes())
                .fold(0u8, |acc, (x, y)| acc | (x ^ y))
                == 0
    };
    if eq(&expected_signature(secret, r)?, &r.signature) {
        return Ok(true);
    }
    if let Some((host, _port)) = r.host.split_once(':') {
        let mut r2 = r.clone();
        r2.host = host.to_string();
        return Ok(eq(&expected_signature(secret, &r2)?, &r.signature));
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(v: Value) -> SignedRequest {
        serde_json::from_value(v).unwrap()
    }

    // Expected values computed with keystoneclient's Ec2Signer (6.0.0).
    #[test]
    fn version_2_matches_keystoneclient() {
        let r = req(
            json!({"access": "AKID", "signature": "", "host": "ec2.example.com:8773", "verb": "GET",
            "path": "/services/Cloud/", "params": {"SignatureVersion": "2", "AWSAccessKeyId": "AKID",
            "Action": "DescribeInstances", "Timestamp": "2030-01-01T00:00:00Z", "Version": "2013-10-15",
            "Weird Key": "a b/c~d"}}),
        );
        assert_eq!(
            expected_signature("secretkey123", &r).unwrap(),
            "P6qNiVMgoZIGjFyT2S18DCCSOISz3BGWgjtvMtF8TDg="
        );
    }

    #[test]
    fn version_4_matches_keystoneclient() {
        let mut r = req(
            json!({"access": "AKID", "signature": "e11f302a2439e1d6410dde733b0071d67ea76c2a14cf4e8031ae9b97f1735a01",
            "host": "ec2.example.com", "verb": "GET", "path": "/",
            "body_hash": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "params": {"Action": "DescribeRegions", "Version": "2013-10-15"},
            "headers": {"Host": "ec2.example.com", "X-Amz-Date": "20300101T000000Z",
                "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20300101/RegionOne/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=x"}}),
        );
        assert!(verify("secretkey123", &r).unwrap());
        assert!(!verify("wrong", &r).unwrap());
        r.params.insert("Action".into(), json!("Other"));
        assert!(!verify("secretkey123", &r).unwrap(), "tampered request");
    }

    #[test]
    fn unknown_versions_are_refused() {
        let r = req(json!({"access": "a", "signature": "s", "params": {"SignatureVersion": "9"}}));
        assert!(matches!(
            expected_signature("k", &r),
            Err(SignatureError::Unsupported(_))
        ));
        let r = req(json!({"access": "a", "signature": "s"}));
        assert!(expected_signature("k", &r).is_err());
    }
}

//! The bytes inside a fernet token.
//!
//! Keystone packs its payloads with msgpack to keep tokens under 255
//! characters; this format has the same aim with a fixed layout: ids that
//! are 32-hex UUIDs shrink to 16 bytes, other ids are length-prefixed.
//!
//! ```text
//! version(1) methods(1) user-id scope issued_at(i64 µs) expires_at(i64 µs)
//! audit-count(1) audit-id(16)… app-cred-flag(1) [app-cred-id] [trust-id]
//! ```

use base64::Engine;

const VERSION: u8 = 1;

/// Authentication methods, as a bit set.
pub const METHOD_PASSWORD: u8 = 1;
pub const METHOD_TOKEN: u8 = 2;
pub const METHOD_APPLICATION_CREDENTIAL: u8 = 4;
pub const METHOD_EC2: u8 = 8;
pub const METHOD_OAUTH1: u8 = 16;

const TAG_TRUST: u8 = 1;
const TAG_OAUTH1: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenScope {
    Unscoped,
    Project(String),
    Domain(String),
    System,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    pub methods: u8,
    pub user_id: String,
    pub scope: TokenScope,
    pub issued_at: i64,
    pub expires_at: i64,
    /// 22-character URL-safe ids; the first is this token's, the second
    /// (when rescoped) the original token's.
    pub audit_ids: Vec<String>,
    pub application_credential_id: Option<String>,
    /// Set on trust-scoped tokens.
    pub trust_id: Option<String>,
    /// Set on tokens obtained with an OAuth1 access token.
    pub oauth_access_token_id: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed token payload")]
pub struct Malformed;

pub fn method_names(methods: u8) -> Vec<String> {
    let mut v = Vec::new();
    if methods & METHOD_PASSWORD != 0 {
        v.push("password".to_string());
    }
    if methods & METHOD_TOKEN != 0 {
        v.push("token".to_string());
    }
    if methods & METHOD_APPLICATION_CREDENTIAL != 0 {
        v.push("application_credential".to_string());
    }
    if methods & METHOD_EC2 != 0 {
        v.push("ec2credential".to_string());
    }
    if methods & METHOD_OAUTH1 != 0 {
        v.push("oauth1".to_string());
    }
    v
}

/// A new random audit id (16 bytes, URL-safe base64, 22 characters).
pub fn new_audit_id() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(common::ids::random_bytes(16))
}

impl Payload {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        out.push(VERSION);
        out.push(self.methods);
        put_id(&mut out, &self.user_id);
        match &self.scope {
            TokenScope::Unscoped => out.push(0),
            TokenScope::Project(id) => {
                out.push(1);
                put_id(&mut out, id);
            }
            TokenScope::Domain(id) => {
                out.push(2);
                put_id(&mut out, id);
            }
            TokenScope::System => out.push(3),
        }
        out.extend_from_slice(&self.issued_at.to_be_bytes());
        out.extend_from_slice(&self.expires_at.to_be_bytes());
        let audits: Vec<Vec<u8>> = self
            .audit_ids
            .iter()
            .take(2)
            .filter_map(|a| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(a)
                    .ok()
            })
            .filter(|b| b.len() == 16)
            .collect();
        out.push(audits.len() as u8);
        for a in audits {
            out.extend_from_slice(&a);
        }
        match &self.application_credential_id {
            None => out.push(0),
            Some(id) => {
                out.push(1);
                put_id(&mut out, id);
            }
        }
        // Optional trailing fields, each a tag and an id, so payloads
        // without them keep the shorter layout.
        if let Some(t) = &self.trust_id {
            out.push(TAG_TRUST);
            put_id(&mut out, t);
        }
        if let Some(t) = &self.oauth_access_token_id {
            out.push(TAG_OAUTH1);
            put_id(&mut out, t);
        }
        out
    }

    pub fn decode(b: &[u8]) -> Result<Payload, Malformed> {
        let mut r = Reader { b, pos: 0 };
        if r.u8()? != VERSION {
            return Err(Malformed);
        }
        let methods = r.u8()?;
        let user_id = r.id()?;
        let scope = match r.u8()? {
            0 => TokenScope::Unscoped,
            1 => TokenScope::Project(r.id()?),
            2 => TokenScope::Domain(r.id()?),
            3 => TokenScope::System,
            _ => return Err(Malformed),
        };
        let issued_at = r.i64()?;
        let expires_at = r.i64()?;
        let n = r.u8()?;
        let mut audit_ids = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            audit_ids.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r.take(16)?));
        }
        let application_credential_id = match r.u8()? {
            0 => None,
            1 => Some(r.id()?),
            _ => return Err(Malformed),
        };
        let (mut trust_id, mut oauth_access_token_id) = (None, None);
        while r.pos < b.len() {
            match r.u8()? {
                TAG_TRUST if trust_id.is_none() => trust_id = Some(r.id()?),
                TAG_OAUTH1 if oauth_access_token_id.is_none() => {
                    oauth_access_token_id = Some(r.id()?)
                }
                _ => return Err(Malformed),
            }
        }
        Ok(Payload {
            methods,
            user_id,
            scope,
            issued_at,
            expires_at,
            audit_ids,
            application_credential_id,
            trust_id,
            oauth_access_token_id,
        })
    }
}

fn is_hex_uuid(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

fn put_id(out: &mut Vec<u8>, id: &str) {
    if is_hex_uuid(id) {
        out.push(0);
        for i in 0..16 {
            out.push(u8::from_str_radix(&id[2 * i..2 * i + 2], 16).unwrap_or(0));
        }
    } else {
        let b = id.as_bytes();
        let len = b.len().min(255);
        out.push(1);
        out.push(len as u8);
        out.extend_from_slice(&b[..len]);
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        let end = self.pos.checked_add(n).ok_or(Malformed)?;
        let s = self.b.get(self.pos..end).ok_or(Malformed)?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }
    fn i64(&mut self) -> Result<i64, Malformed> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(i64::from_be_bytes(a))
    }
    fn id(&mut self) -> Result<String, Malformed> {
        match self.u8()? {
            0 => Ok(self.take(16)?.iter().map(|b| format!("{b:02x}")).collect()),
            1 => {
                let n = usize::from(self.u8()?);
                String::from_utf8(self.take(n)?.to_vec()).map_err(|_| Malformed)
            }
            _ => Err(Malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(scope: TokenScope) -> Payload {
        Payload {
            methods: METHOD_PASSWORD | METHOD_TOKEN,
            user_id: common::ids::hex_id(),
            scope,
            issued_at: 1_700_000_000_000_001,
            expires_at: 1_700_003_600_000_001,
            audit_ids: vec![new_audit_id(), new_audit_id()],
            application_credential_id: Some(common::ids::hex_id()),
            trust_id: Some(common::ids::hex_id()),
            oauth_access_token_id: Some(common::ids::hex_id()),
        }
    }

    #[test]
    fn round_trips_every_scope() {
        for scope in [
            TokenScope::Unscoped,
            TokenScope::Project(common::ids::hex_id()),
            TokenScope::Domain("default".into()),
            TokenScope::System,
        ] {
            let p = sample(scope);
            assert_eq!(Payload::decode(&p.encode()).unwrap(), p);
        }
        let mut p = sample(TokenScope::System);
        p.user_id = "not-a-uuid-user".into();
        p.application_credential_id = None;
        assert_eq!(Payload::decode(&p.encode()).unwrap(), p);
        p.trust_id = None;
        assert_eq!(Payload::decode(&p.encode()).unwrap(), p);
        p.oauth_access_token_id = None;
        assert_eq!(Payload::decode(&p.encode()).unwrap(), p);
    }

    #[test]
    fn compact_and_strict() {
        let p = sample(TokenScope::Project(common::ids::hex_id()));
        let enc = p.encode();
        assert!(enc.len() < 160, "payload is {} bytes", enc.len());
        assert_eq!(Payload::decode(&enc[..enc.len() - 1]), Err(Malformed));
        let mut longer = enc.clone();
        longer.push(0);
        assert_eq!(Payload::decode(&longer), Err(Malformed));
        assert_eq!(Payload::decode(&[]), Err(Malformed));
        assert_eq!(method_names(p.methods), vec!["password", "token"]);
    }
}

//! OAuth 1.0a delegation (OS-OAUTH1): a consumer asks for a request token
//! on a project, a user with roles there authorizes it (choosing roles and
//! getting a verifier), the consumer trades it for an access token, and
//! then authenticates with method `oauth1` to get Keystone tokens acting as
//! that user with those roles only. Requests are signed with HMAC-SHA1 as
//! RFC 5849 describes; the signature is checked here against the consumer's
//! and the token's secrets.

use super::policy_target::{PolicyTarget, Ref};
use super::snapshot::{Snapshot, Target};
use super::Identity;
use crate::db::oauth1::{AccessToken, Consumer, RequestToken};
use crate::db::roles::Role;
use base64::Engine;
use common::context::AuthContext;
use common::{Error, Result};
use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha1::Sha1;

const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// Keystone's `[oauth1] request_token_duration` and `access_token_duration`.
const REQUEST_TOKEN_SECS: i64 = 28_800;
const ACCESS_TOKEN_SECS: i64 = 86_400;

/// A request as signed by an OAuth client.
#[derive(Debug, Clone, Default)]
pub struct SignedRequest {
    /// The `Authorization: OAuth …` header.
    pub authorization: String,
    pub method: String,
    /// `scheme://host[:port]/path` as the client addressed it.
    pub base_url: String,
    pub query: Vec<(String, String)>,
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// The `oauth_*` parameters of an `Authorization: OAuth` header.
pub fn header_params(header: &str) -> Result<Vec<(String, String)>> {
    let rest = header
        .trim()
        .strip_prefix("OAuth")
        .ok_or_else(|| Error::unauthorized("An OAuth Authorization header is required."))?;
    let mut out = Vec::new();
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| Error::bad_request("Malformed OAuth Authorization header."))?;
        let v = v.trim().trim_matches('"');
        let dec = |x: &str| percent_decode_str(x).decode_utf8_lossy().into_owned();
        out.push((dec(k.trim()), dec(v)));
    }
    Ok(out)
}

/// RFC 5849 §3.4.1 signature base string.
pub fn base_string(method: &str, base_url: &str, params: &[(String, String)]) -> String {
    let mut ps: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "oauth_signature" && k != "realm")
        .map(|(k, v)| (enc(k), enc(v)))
        .collect();
    ps.sort();
    let norm = ps
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        enc(base_url),
        enc(&norm)
    )
}

/// HMAC-SHA1 of `base` with `consumer_secret&token_secret`, base64.
pub fn sign(base: &str, consumer_secret: &str, token_secret: &str) -> String {
    let key = format!("{}&{}", enc(consumer_secret), enc(token_secret));
    match Hmac::<Sha1>::new_from_slice(key.as_bytes()) {
        Ok(mut m) => {
            m.update(base.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// The request's OAuth parameters when its signature is right.
fn verified(
    r: &SignedRequest,
    consumer_secret: &str,
    token_secret: &str,
) -> Result<Vec<(String, String)>> {
    let oauth = header_params(&r.authorization)?;
    let get = |k: &str| oauth.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
    if get("oauth_signature_method").as_deref() != Some("HMAC-SHA1") {
        return Err(Error::unauthorized(
            "Only HMAC-SHA1 OAuth signatures are supported.",
        ));
    }
    let given = get("oauth_signature")
        .ok_or_else(|| Error::unauthorized("The OAuth signature is missing."))?;
    let mut all = oauth.clone();
    all.extend(r.query.iter().cloned());
    let expected = sign(
        &base_string(&r.method, &r.base_url, &all),
        consumer_secret,
        token_secret,
    );
    let same = given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |a, (x, y)| a | (x ^ y))
            == 0;
    if !same {
        return Err(Error::unauthorized("Invalid OAuth signature."));
    }
    Ok(oauth)
}

fn param(p: &[(String, String)], k: &str) -> Option<String> {
    p.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone())
}

fn consumer_nf(id: &str) -> Error {
    Error::not_found(format!("Could not find consumer: {id}."))
}

impl Identity {
    fn reveal(&self, sealed: &str) -> Result<String> {
        let now = u64::try_from(self.now() / 1_000_000).unwrap_or(0);
        self.cred_keys
            .decrypt(sealed, now)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .ok_or_else(|| {
                Error::internal("an OAuth secret cannot be decrypted with the active keys")
            })
    }

    fn seal_secret(&self, secret: &str) -> String {
        let now = u64::try_from(self.now() / 1_000_000).unwrap_or(0);
        self.cred_keys.encrypt(secret.as_bytes(), now)
    }

    pub async fn create_consumer(
        &self,
        ctx: &AuthContext,
        description: String,
    ) -> Result<(Consumer, String)> {
        self.enforce(ctx, "identity:create_consumer", PolicyTarget::none())?;
        let secret = common::ids::random_secret(24);
        let c = Consumer {
            id: common::ids::hex_id(),
            description,
            encrypted_secret: self.seal_secret(&secret),
            extra: Default::default(),
        };
        let mut tx = self.begin().await?;
        crate::db::oauth1::insert_consumer(tx.conn(), &c).await?;
        self.commit(tx).await?;
        Ok((c, secret))
    }

    pub async fn get_consumer(&self, ctx: &AuthContext, id: &str) -> Result<Consumer> {
        self.enforce(ctx, "identity:get_consumer", PolicyTarget::none())?;
        crate::db::oauth1::get_consumer(&self.db.pool, id)
            .await?
            .ok_or_else(|| consumer_nf(id))
    }

    pub async fn list_consumers(&self, ctx: &AuthContext) -> Result<Vec<Consumer>> {
        self.enforce(ctx, "identity:list_consumers", PolicyTarget::none())?;
        Ok(crate::db::oauth1::consumers(&self.db.pool).await?)
    }

    pub async fn update_consumer(
        &self,
        ctx: &AuthContext,
        id: &str,
        description: Option<String>,
    ) -> Result<Consumer> {
        self.enforce(ctx, "identity:update_consumer", PolicyTarget::none())?;
        let mut c = crate::db::oauth1::get_consumer(&self.db.pool, id)
            .await?
            .ok_or_else(|| consumer_nf(id))?;
        if let Some(d) = description {
            c.description = d;
        }
        let mut tx = self.begin().await?;
        crate::db::oauth1::update_consumer(tx.conn(), &c).await?;
        self.commit(tx).await?;
        Ok(c)
    }

    /// Deleting a consumer deletes its tokens, and so ends the Keystone
    /// tokens obtained with them.
    pub async fn delete_consumer(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        self.enforce(ctx, "identity:delete_consumer", PolicyTarget::none())?;
        let mut tx = self.begin().await?;
        if crate::db::oauth1::delete_consumer(tx.conn(), id).await? == 0 {
            return Err(consumer_nf(id));
        }
        self.commit(tx).await
    }

    /// `POST /v3/OS-OAUTH1/request_token`: (token id, secret, expiry).
    pub async fn oauth_request_token(
        &self,
        r: &SignedRequest,
        project_id: &str,
    ) -> Result<(String, String, i64)> {
        let oauth = header_params(&r.authorization)?;
        let consumer_id = param(&oauth, "oauth_consumer_key")
            .ok_or_else(|| Error::unauthorized("oauth_consumer_key is required."))?;
        let consumer = crate::db::oauth1::get_consumer(&self.db.pool, &consumer_id)
            .await?
            .ok_or_else(|| Error::unauthorized("Unknown OAuth consumer."))?;
        verified(r, &self.reveal(&consumer.encrypted_secret)?, "")?;
        if !self.view().await?.projects.contains_key(project_id) {
            return Err(Error::not_found(format!(
                "Could not find project: {project_id}."
            )));
        }
        let secret = common::ids::random_secret(24);
        let t = RequestToken {
            id: common::ids::hex_id(),
            encrypted_secret: self.seal_secret(&secret),
            consumer_id,
            project_id: project_id.to_string(),
            authorizing_user_id: None,
            role_ids: None,
            verifier: None,
            expires_at: self.now() + REQUEST_TOKEN_SECS * 1_000_000,
        };
        let mut tx = self.begin().await?;
        crate::db::oauth1::insert_request_token(tx.conn(), &t).await?;
        self.commit(tx).await?;
        Ok((t.id, secret, t.expires_at))
    }

    /// `PUT /v3/OS-OAUTH1/authorize/{request_token}`: the caller grants some
    /// of its roles on the token's project; returns the verifier.
    pub async fn oauth_authorize(
        &self,
        ctx: &AuthContext,
        request_token: &str,
        roles: &[String],
    ) -> Result<String> {
        if ctx.trust_id.is_some() || ctx.application_credential_id.is_some() {
            return Err(Error::forbidden(
                "Delegated tokens cannot authorize OAuth requests.",
            ));
        }
        let nf = || Error::not_found(format!("Could not find request token: {request_token}."));
        let t = crate::db::oauth1::get_request_token(&self.db.pool, request_token)
            .await?
            .ok_or_else(nf)?;
        if t.expires_at <= self.now() {
            return Err(Error::unauthorized("The request token has expired."));
        }
        let snap = self.view().await?;
        let held = snap.effective_roles(&ctx.user_id, &Target::Project(t.project_id.clone()));
        let mut ids = Vec::new();
        for want in roles {
            let role = snap
                .roles
                .values()
                .find(|x| (x.id == *want || x.name == *want) && held.contains(&x.id))
                .ok_or_else(|| {
                    Error::unauthorized(format!(
                        "The user does not hold role {want} on the project."
                    ))
                })?;
            ids.push(role.id.clone());
        }
        if ids.is_empty() {
            return Err(Error::bad_request(
                "Invalid input for field 'roles': at least one role is required.",
            ));
        }
        let verifier: String = common::ids::random_secret(6)
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(8)
            .collect();
        let mut tx = self.begin().await?;
        let roles_json = serde_json::to_string(&ids)?;
        if !crate::db::oauth1::authorize_request_token(
            tx.conn(),
            request_token,
            &ctx.user_id,
            &roles_json,
            &verifier,
        )
        .await?
        {
            return Err(Error::unauthorized(
                "The request token has already been authorized.",
            ));
        }
        self.commit(tx).await?;
        Ok(verifier)
    }

    /// `POST /v3/OS-OAUTH1/access_token`: trades an authorized request
    /// token (once) for an access token: (id, secret, expiry).
    pub async fn oauth_access_token(&self, r: &SignedRequest) -> Result<(String, String, i64)> {
        let oauth = header_params(&r.authorization)?;
        let rt_id = param(&oauth, "oauth_token")
            .ok_or_else(|| Error::unauthorized("oauth_token is required."))?;
        let rt = crate::db::oauth1::get_request_token(&self.db.pool, &rt_id)
            .await?
            .ok_or_else(|| Error::unauthorized("Unknown or used request token."))?;
        let consumer = crate::db::oauth1::get_consumer(&self.db.pool, &rt.consumer_id)
            .await?
            .ok_or_else(|| Error::unauthorized("Unknown OAuth consumer."))?;
        if param(&oauth, "oauth_consumer_key").as_deref() != Some(consumer.id.as_str()) {
            return Err(Error::unauthorized(
                "The request token belongs to another consumer.",
            ));
        }
        verified(
            r,
            &self.reveal(&consumer.encrypted_secret)?,
            &self.reveal(&rt.encrypted_secret)?,
        )?;
        if rt.expires_at <= self.now() {
            return Err(Error::unauthorized("The request token has expired."));
        }
        let (Some(user), Some(roles), Some(verifier)) =
            (rt.authorizing_user_id, rt.role_ids, rt.verifier)
        else {
            return Err(Error::unauthorized(
                "The request token has not been authorized.",
            ));
        };
        if param(&oauth, "oauth_verifier").as_deref() != Some(verifier.as_str()) {
            return Err(Error::unauthorized("Invalid OAuth verifier."));
        }
        let secret = common::ids::random_secret(24);
        let at = AccessToken {
            id: common::ids::hex_id(),
            encrypted_secret: self.seal_secret(&secret),
            consumer_id: consumer.id,
            authorizing_user_id: user,
            project_id: rt.project_id,
            role_ids: serde_json::from_str(&roles).unwrap_or_default(),
            expires_at: Some(self.now() + ACCESS_TOKEN_SECS * 1_000_000),
        };
        let mut tx = self.begin().await?;
        if !crate::db::oauth1::delete_request_token(tx.conn(), &rt_id).await? {
            return Err(Error::unauthorized("Unknown or used request token."));
        }
        crate::db::oauth1::insert_access_token(tx.conn(), &at).await?;
        self.commit(tx).await?;
        Ok((at.id, secret, at.expires_at.unwrap_or_default()))
    }

    /// The `oauth1` authentication method: (access token id, user id,
    /// project id) when the request is signed with a live access token.
    pub(crate) async fn oauth_authenticate(
        &self,
        r: &SignedRequest,
    ) -> Result<(String, String, String)> {
        let oauth = header_params(&r.authorization)?;
        let at_id = param(&oauth, "oauth_token")
            .ok_or_else(|| Error::unauthorized("oauth_token is required."))?;
        let snap = self.view().await?;
        let at = snap
            .oauth_access_tokens
            .get(&at_id)
            .ok_or_else(|| Error::unauthorized("Unknown OAuth access token."))?;
        let consumer = crate::db::oauth1::get_consumer(&self.db.pool, &at.consumer_id)
            .await?
            .ok_or_else(|| Error::unauthorized("Unknown OAuth consumer."))?;
        verified(
            r,
            &self.reveal(&consumer.encrypted_secret)?,
            &self.reveal(&at.encrypted_secret)?,
        )?;
        if at.expires_at.is_some_and(|e| e <= self.now()) {
            return Err(Error::unauthorized("The OAuth access token has expired."));
        }
        Ok((
            at.id.clone(),
            at.authorizing_user_id.clone(),
            at.project_id.clone(),
        ))
    }

    /// Roles of a token obtained through an access token: the access
    /// token's, while the user still holds them.
    pub(crate) fn oauth_roles(
        &self,
        snap: &Snapshot,
        at_id: &str,
        user: &str,
    ) -> Result<Vec<String>> {
        let nf = || Error::not_found("Could not find token.");
        let at = snap.oauth_access_tokens.get(at_id).ok_or_else(nf)?;
        if at.authorizing_user_id != user || at.expires_at.is_some_and(|e| e <= self.now()) {
            return Err(nf());
        }
        let held = snap.effective_roles(user, &Target::Project(at.project_id.clone()));
        if !at.role_ids.iter().all(|r| held.contains(r)) {
            return Err(nf());
        }
        Ok(held
            .iter()
            .filter(|r| at.role_ids.contains(r))
            .cloned()
            .collect())
    }

    pub async fn user_access_tokens(
        &self,
        ctx: &AuthContext,
        user_id: &str,
    ) -> Result<Vec<AccessToken>> {
        self.enforce(
            ctx,
            "identity:list_access_tokens",
            PolicyTarget::none().user_id(user_id).user(Ref::id(user_id)),
        )?;
        let snap = self.view().await?;
        let mut v: Vec<AccessToken> = snap
            .oauth_access_tokens
            .values()
            .filter(|t| t.authorizing_user_id == user_id)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v)
    }

    pub async fn user_access_token(
        &self,
        ctx: &AuthContext,
        user_id: &str,
        id: &str,
    ) -> Result<AccessToken> {
        let nf = || Error::not_found(format!("Could not find access token: {id}."));
        self.enforce(
            ctx,
            "identity:get_access_token",
            PolicyTarget::none().user_id(user_id).user(Ref::id(user_id)),
        )
        .map_err(|_| nf())?;
        let snap = self.view().await?;
        snap.oauth_access_tokens
            .get(id)
            .filter(|t| t.authorizing_user_id == user_id)
            .cloned()
            .ok_or_else(nf)
    }

    /// The roles an access token delegates (those that still exist).
    pub async fn user_access_token_roles(
        &self,
        ctx: &AuthContext,
        user_id: &str,
        id: &str,
    ) -> Result<Vec<Role>> {
        let t = self.user_access_token(ctx, user_id, id).await?;
        let snap = self.view().await?;
        Ok(t.role_ids
            .iter()
            .filter_map(|r| snap.roles.get(r).cloned())
            .collect())
    }

    /// Deleting an access token ends the Keystone tokens obtained with it.
    pub async fn delete_user_access_token(
        &self,
        ctx: &AuthContext,
        user_id: &str,
        id: &str,
    ) -> Result<()> {
        self.user_access_token(ctx, user_id, id).await?;
        self.enforce(
            ctx,
            "identity:delete_access_token",
            PolicyTarget::none().user_id(user_id).user(Ref::id(user_id)),
        )?;
        let mut tx = self.begin().await?;
        crate::db::oauth1::delete_access_token(tx.conn(), id).await?;
        self.commit(tx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of RFC 5849 §3.4.1 (base string) with a known signature
    // computed by oauthlib for these secrets.
    #[test]
    fn base_string_and_signature() {
        let params = vec![
            (
                "oauth_consumer_key".to_string(),
                "9djdj82h48djs9d2".to_string(),
            ),
            ("oauth_token".to_string(), "kkk9d7dh3k39sjv7".to_string()),
            (
                "oauth_signature_method".to_string(),
                "HMAC-SHA1".to_string(),
            ),
            ("oauth_timestamp".to_string(), "137131201".to_string()),
            ("oauth_nonce".to_string(), "7d8f3e4a".to_string()),
            ("b5".to_string(), "=%3D".to_string()),
            ("a3".to_string(), "a".to_string()),
            ("c@".to_string(), "".to_string()),
            ("a2".to_string(), "r b".to_string()),
            ("c2".to_string(), "".to_string()),
            ("a3".to_string(), "2 q".to_string()),
        ];
        let base = base_string("post", "http://example.com/request", &params);
        assert_eq!(
            base,
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26\
             c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26\
             oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
        );
        let sig = sign(&base, "j49sk3j29djd", "dh893hdasih9");
        assert_eq!(sig.len(), 28);
        assert_ne!(sig, sign(&base, "j49sk3j29djd", "other"));
    }

    #[test]
    fn parses_the_authorization_header() {
        let p = header_params(
            r#"OAuth realm="", oauth_consumer_key="abc", oauth_signature="a%2Bb%3D""#,
        )
        .unwrap();
        assert_eq!(param(&p, "oauth_consumer_key").as_deref(), Some("abc"));
        assert_eq!(param(&p, "oauth_signature").as_deref(), Some("a+b="));
        assert!(header_params("Bearer x").is_err());
    }
}

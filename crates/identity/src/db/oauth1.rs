//! `oauth1_consumers`, `oauth1_request_tokens`, `oauth1_access_tokens`.
//! Secrets are stored encrypted with the credential keys: checking an
//! HMAC-SHA1 signature needs them in the clear.

use super::{extra, extra_text, i, oi, os, s, Conn};
use db::sqlx::{self, any::AnyRow, AnyPool};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct Consumer {
    pub id: String,
    pub description: String,
    pub encrypted_secret: String,
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RequestToken {
    pub id: String,
    pub encrypted_secret: String,
    pub consumer_id: String,
    pub project_id: String,
    pub authorizing_user_id: Option<String>,
    /// JSON list of role ids, once authorized.
    pub role_ids: Option<String>,
    pub verifier: Option<String>,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccessToken {
    pub id: String,
    pub encrypted_secret: String,
    pub consumer_id: String,
    pub authorizing_user_id: String,
    pub project_id: String,
    pub role_ids: Vec<String>,
    pub expires_at: Option<i64>,
}

fn consumer(r: &AnyRow) -> Result<Consumer, sqlx::Error> {
    Ok(Consumer {
        id: s(r, "id")?,
        description: s(r, "description")?,
        encrypted_secret: s(r, "encrypted_secret")?,
        extra: extra(r, "extra")?,
    })
}

pub async fn consumers(pool: &AnyPool) -> Result<Vec<Consumer>, sqlx::Error> {
    sqlx::query("SELECT id, description, encrypted_secret, extra FROM oauth1_consumers ORDER BY id")
        .fetch_all(pool)
        .await?
        .iter()
        .map(consumer)
        .collect()
}

pub async fn get_consumer(pool: &AnyPool, id: &str) -> Result<Option<Consumer>, sqlx::Error> {
    sqlx::query(
        "SELECT id, description, encrypted_secret, extra FROM oauth1_consumers WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(consumer)
    .transpose()
}

pub async fn insert_consumer(c: &mut Conn, x: &Consumer) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oauth1_consumers (id, description, secret_hash, encrypted_secret, extra) VALUES ($1, $2, '', $3, $4)",
    )
    .bind(&x.id)
    .bind(&x.description)
    .bind(&x.encrypted_secret)
    .bind(extra_text(&x.extra))
    .execute(c)
    .await?;
    Ok(())
}

pub async fn update_consumer(c: &mut Conn, x: &Consumer) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE oauth1_consumers SET description = $2, extra = $3 WHERE id = $1")
        .bind(&x.id)
        .bind(&x.description)
        .bind(extra_text(&x.extra))
        .execute(c)
        .await?;
    Ok(())
}

pub async fn delete_consumer(c: &mut Conn, id: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM oauth1_consumers WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?
        .rows_affected())
}

fn request_token(r: &AnyRow) -> Result<RequestToken, sqlx::Error> {
    Ok(RequestToken {
        id: s(r, "id")?,
        encrypted_secret: s(r, "encrypted_secret")?,
        consumer_id: s(r, "consumer_id")?,
        project_id: s(r, "project_id")?,
        authorizing_user_id: os(r, "authorizing_user_id")?,
        role_ids: os(r, "role_ids")?,
        verifier: os(r, "verifier")?,
        expires_at: i(r, "expires_at")?,
    })
}

pub async fn get_request_token(
    pool: &AnyPool,
    id: &str,
) -> Result<Option<RequestToken>, sqlx::Error> {
    sqlx::query(
        "SELECT id, encrypted_secret, consumer_id, project_id, authorizing_user_id, role_ids, verifier, expires_at \
         FROM oauth1_request_tokens WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(request_token)
    .transpose()
}

pub async fn insert_request_token(c: &mut Conn, t: &RequestToken) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oauth1_request_tokens (id, encrypted_secret, consumer_id, project_id, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&t.id)
    .bind(&t.encrypted_secret)
    .bind(&t.consumer_id)
    .bind(&t.project_id)
    .bind(t.expires_at)
    .execute(c)
    .await?;
    Ok(())
}

/// Authorizes a request token once; false when it already was.
pub async fn authorize_request_token(
    c: &mut Conn,
    id: &str,
    user: &str,
    roles: &str,
    verifier: &str,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE oauth1_request_tokens SET authorizing_user_id = $2, role_ids = $3, verifier = $4 \
         WHERE id = $1 AND authorizing_user_id IS NULL",
    )
    .bind(id)
    .bind(user)
    .bind(roles)
    .bind(verifier)
    .execute(c)
    .await?
    .rows_affected()
        == 1)
}

/// Consumes a request token; false when another exchange got it first.
pub async fn delete_request_token(c: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM oauth1_request_tokens WHERE id = $1")
            .bind(id)
            .execute(c)
            .await?
            .rows_affected()
            == 1,
    )
}

pub async fn access_tokens(pool: &AnyPool) -> Result<Vec<AccessToken>, sqlx::Error> {
    sqlx::query(
        "SELECT id, encrypted_secret, consumer_id, authorizing_user_id, project_id, role_ids, expires_at \
         FROM oauth1_access_tokens ORDER BY id",
    )
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok(AccessToken {
            id: s(r, "id")?,
            encrypted_secret: s(r, "encrypted_secret")?,
            consumer_id: s(r, "consumer_id")?,
            authorizing_user_id: s(r, "authorizing_user_id")?,
            project_id: s(r, "project_id")?,
            role_ids: serde_json::from_str(&s(r, "role_ids")?).unwrap_or_default(),
            expires_at: oi(r, "expires_at")?,
        })
    })
    .collect()
}

pub async fn insert_access_token(c: &mut Conn, t: &AccessToken) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oauth1_access_tokens (id, encrypted_secret, consumer_id, authorizing_user_id, project_id, role_ids, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&t.id)
    .bind(&t.encrypted_secret)
    .bind(&t.consumer_id)
    .bind(&t.authorizing_user_id)
    .bind(&t.project_id)
    .bind(serde_json::to_string(&t.role_ids).unwrap_or_default())
    .bind(t.expires_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn delete_access_token(c: &mut Conn, id: &str) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM oauth1_access_tokens WHERE id = $1")
            .bind(id)
            .execute(c)
            .await?
            .rows_affected(),
    )
}

//! `compute_console_tokens`: remote console tokens by their SHA-256, with
//! the server and console type they open and their expiry.

use db::sqlx::{self, Row};

/// What a console token opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub instance_uuid: String,
    pub console_type: String,
    pub host: String,
    pub expires_at: i64,
}

/// Stores a new token's hash.
pub async fn insert<'c, E>(
    conn: E,
    token_hash: &str,
    row: &TokenRow,
    now: i64,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO compute_console_tokens \
         (token_hash, instance_uuid, console_type, host, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash)
    .bind(&row.instance_uuid)
    .bind(&row.console_type)
    .bind(&row.host)
    .bind(now)
    .bind(row.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The unexpired token whose hash is `token_hash`, if any.
pub async fn valid<'c, E>(
    conn: E,
    token_hash: &str,
    now: i64,
) -> Result<Option<TokenRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let row = sqlx::query(
        "SELECT instance_uuid, console_type, host, expires_at FROM compute_console_tokens \
         WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(TokenRow {
            instance_uuid: r.try_get("instance_uuid")?,
            console_type: r.try_get("console_type")?,
            host: r.try_get("host")?,
            expires_at: r.try_get("expires_at")?,
        })
    })
    .transpose()
}

/// Deletes every token expired at `now`; how many went.
pub async fn purge_expired<'c, E>(conn: E, now: i64) -> Result<u64, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let done = sqlx::query("DELETE FROM compute_console_tokens WHERE expires_at <= $1")
        .bind(now)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Deletes a server's tokens (the server is gone).
pub async fn delete_for_instance<'c, E>(conn: E, instance_uuid: &str) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query("DELETE FROM compute_console_tokens WHERE instance_uuid = $1")
        .bind(instance_uuid)
        .execute(conn)
        .await?;
    Ok(())
}

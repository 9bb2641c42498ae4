//! `swift_accounts`: one row per account that was ever written to (Swift's
//! `account_autocreate`: reading an account that has no row reads as empty).

use super::{i, meta, meta_json, oi, s, Conn, Metadata};
use db::sqlx::{self, any::AnyRow, Any, Executor};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Account {
    pub account: String,
    pub created_at: i64,
    pub put_timestamp: i64,
    pub metadata: Metadata,
    pub quota_bytes: Option<i64>,
    pub quota_count: Option<i64>,
    pub container_count: i64,
    pub object_count: i64,
    pub bytes_used: i64,
}

const COLS: &str = "account, created_at, put_timestamp, metadata, quota_bytes, quota_count, \
                    container_count, object_count, bytes_used";

fn row(r: &AnyRow) -> Result<Account, sqlx::Error> {
    Ok(Account {
        account: s(r, "account")?,
        created_at: i(r, "created_at")?,
        put_timestamp: i(r, "put_timestamp")?,
        metadata: meta(r, "metadata")?,
        quota_bytes: oi(r, "quota_bytes")?,
        quota_count: oi(r, "quota_count")?,
        container_count: i(r, "container_count")?,
        object_count: i(r, "object_count")?,
        bytes_used: i(r, "bytes_used")?,
    })
}

pub async fn get<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    account: &str,
) -> Result<Option<Account>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLS} FROM swift_accounts WHERE account = $1"
    ))
    .bind(account)
    .fetch_optional(ex)
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

/// Creates the account's row unless it exists.
pub async fn ensure(conn: &mut Conn, account: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO swift_accounts (account, created_at, put_timestamp) VALUES ($1, $2, $2) \
         ON CONFLICT (account) DO NOTHING",
    )
    .bind(account)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces metadata and quotas (the caller merged them).
pub async fn update(
    conn: &mut Conn,
    account: &str,
    metadata: &Metadata,
    quota_bytes: Option<i64>,
    quota_count: Option<i64>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE swift_accounts SET metadata = $2, quota_bytes = $3, quota_count = $4, \
         put_timestamp = $5 WHERE account = $1",
    )
    .bind(account)
    .bind(meta_json(metadata))
    .bind(quota_bytes)
    .bind(quota_count)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds to the counters, returning the row as it now is (`None` if the
/// account has no row).
pub async fn add_counts(
    conn: &mut Conn,
    account: &str,
    containers: i64,
    objects: i64,
    bytes: i64,
) -> Result<Option<Account>, sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE swift_accounts SET container_count = container_count + $2, \
         object_count = object_count + $3, bytes_used = bytes_used + $4 \
         WHERE account = $1 RETURNING {COLS}"
    ))
    .bind(account)
    .bind(containers)
    .bind(objects)
    .bind(bytes)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

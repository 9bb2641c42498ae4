//! `compute_aggregates` with their hosts and metadata (host aggregates).

use super::Conn;
use db::sqlx::{self, Row};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct AggregateRow {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub created_at: i64,
    pub updated_at: Option<i64>,
    pub hosts: Vec<String>,
    pub metadata: BTreeMap<String, String>,
}

impl AggregateRow {
    /// The zone the aggregate makes (its `availability_zone` metadata).
    pub fn availability_zone(&self) -> Option<&str> {
        self.metadata.get("availability_zone").map(String::as_str)
    }
}

/// Every aggregate, by id, with hosts and metadata.
pub async fn all(conn: &mut Conn) -> Result<Vec<AggregateRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, uuid, name, created_at, updated_at FROM compute_aggregates ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out: Vec<AggregateRow> = rows
        .iter()
        .map(|r| {
            Ok(AggregateRow {
                id: r.try_get("id")?,
                uuid: r.try_get("uuid")?,
                name: r.try_get("name")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
                hosts: Vec::new(),
                metadata: BTreeMap::new(),
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    let hosts = sqlx::query(
        "SELECT aggregate_id, host FROM compute_aggregate_hosts ORDER BY aggregate_id, host",
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in &hosts {
        let id: i64 = r.try_get("aggregate_id")?;
        if let Some(a) = out.iter_mut().find(|a| a.id == id) {
            a.hosts.push(r.try_get("host")?);
        }
    }
    let meta = sqlx::query("SELECT aggregate_id, key, value FROM compute_aggregate_metadata")
        .fetch_all(&mut *conn)
        .await?;
    for r in &meta {
        let id: i64 = r.try_get("aggregate_id")?;
        if let Some(a) = out.iter_mut().find(|a| a.id == id) {
            a.metadata.insert(r.try_get("key")?, r.try_get("value")?);
        }
    }
    Ok(out)
}

/// Adds an aggregate and returns its id (one more than the largest; the
/// caller holds the `compute-aggregates` lock).
pub async fn insert(conn: &mut Conn, uuid: &str, name: &str, now: i64) -> Result<i64, sqlx::Error> {
    let id: i64 =
        sqlx::query("SELECT CAST(COALESCE(MAX(id), 0) + 1 AS BIGINT) AS n FROM compute_aggregates")
            .fetch_one(&mut *conn)
            .await?
            .try_get("n")?;
    sqlx::query(
        "INSERT INTO compute_aggregates (id, uuid, name, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, NULL)",
    )
    .bind(id)
    .bind(uuid)
    .bind(name)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

pub async fn rename(conn: &mut Conn, id: i64, name: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE compute_aggregates SET name = $1, updated_at = $2 WHERE id = $3")
        .bind(name)
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn touch(conn: &mut Conn, id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE compute_aggregates SET updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn delete(conn: &mut Conn, id: i64) -> Result<(), sqlx::Error> {
    for table in ["compute_aggregate_metadata", "compute_aggregate_hosts"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE aggregate_id = $1"))
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("DELETE FROM compute_aggregates WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn add_host(conn: &mut Conn, id: i64, host: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO compute_aggregate_hosts (aggregate_id, host) VALUES ($1, $2)")
        .bind(id)
        .bind(host)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Whether a row was removed.
pub async fn remove_host(conn: &mut Conn, id: i64, host: &str) -> Result<bool, sqlx::Error> {
    let r =
        sqlx::query("DELETE FROM compute_aggregate_hosts WHERE aggregate_id = $1 AND host = $2")
            .bind(id)
            .bind(host)
            .execute(&mut *conn)
            .await?;
    Ok(r.rows_affected() > 0)
}

/// Sets `key` (or removes it when `value` is None).
pub async fn set_metadata(
    conn: &mut Conn,
    id: i64,
    key: &str,
    value: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM compute_aggregate_metadata WHERE aggregate_id = $1 AND key = $2")
        .bind(id)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    if let Some(v) = value {
        sqlx::query(
            "INSERT INTO compute_aggregate_metadata (aggregate_id, key, value) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(key)
        .bind(v)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

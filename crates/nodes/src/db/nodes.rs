//! The `nodes` table.

use db::sqlx::any::AnyRow;
use db::sqlx::{AnyConnection, AnyPool, Row};

/// One stored node (roles and status still as JSON text).
#[derive(Debug, Clone)]
pub struct NodeRow {
    pub name: String,
    pub hostname: String,
    pub address: String,
    pub roles: String,
    pub token_hash: String,
    pub registered_at: i64,
    pub heartbeat_at: i64,
    pub status: String,
    pub status_at: i64,
}

fn row(r: &AnyRow) -> Result<NodeRow, db::sqlx::Error> {
    Ok(NodeRow {
        name: r.try_get("name")?,
        hostname: r.try_get("hostname")?,
        address: r.try_get("address")?,
        roles: r.try_get("roles")?,
        token_hash: r.try_get("token_hash")?,
        registered_at: r.try_get("registered_at")?,
        heartbeat_at: r.try_get("heartbeat_at")?,
        status: r.try_get("status")?,
        status_at: r.try_get("status_at")?,
    })
}

const COLUMNS: &str =
    "name, hostname, address, roles, token_hash, registered_at, heartbeat_at, status, status_at";

pub async fn get(pool: &AnyPool, name: &str) -> Result<Option<NodeRow>, db::sqlx::Error> {
    db::sqlx::query(&format!("SELECT {COLUMNS} FROM nodes WHERE name = $1"))
        .bind(name)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(row)
        .transpose()
}

pub async fn list(pool: &AnyPool) -> Result<Vec<NodeRow>, db::sqlx::Error> {
    db::sqlx::query(&format!("SELECT {COLUMNS} FROM nodes ORDER BY name"))
        .fetch_all(pool)
        .await?
        .iter()
        .map(row)
        .collect()
}

/// Inserts the node or, when the name is taken, replaces its address,
/// roles and token (a re-registration), keeping its last status.
pub async fn upsert(conn: &mut AnyConnection, n: &NodeRow) -> Result<(), db::sqlx::Error> {
    db::sqlx::query(&format!(
        "INSERT INTO nodes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (name) DO UPDATE SET hostname = excluded.hostname, \
         address = excluded.address, roles = excluded.roles, \
         token_hash = excluded.token_hash, heartbeat_at = excluded.heartbeat_at"
    ))
    .bind(&n.name)
    .bind(&n.hostname)
    .bind(&n.address)
    .bind(&n.roles)
    .bind(&n.token_hash)
    .bind(n.registered_at)
    .bind(n.heartbeat_at)
    .bind(&n.status)
    .bind(n.status_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn heartbeat(pool: &AnyPool, name: &str, now: i64) -> Result<(), db::sqlx::Error> {
    db::sqlx::query("UPDATE nodes SET heartbeat_at = $1 WHERE name = $2")
        .bind(now)
        .bind(name)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn set_status(
    pool: &AnyPool,
    name: &str,
    status: &str,
    now: i64,
) -> Result<(), db::sqlx::Error> {
    db::sqlx::query(
        "UPDATE nodes SET status = $1, status_at = $2, heartbeat_at = $2 WHERE name = $3",
    )
    .bind(status)
    .bind(now)
    .bind(name)
    .execute(pool)
    .await?;
    Ok(())
}

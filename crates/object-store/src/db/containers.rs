//! `swift_containers`.

use super::{i, meta, meta_json, name, os, Conn, Metadata, Page};
use db::sqlx::{self, any::AnyRow, Any, Executor};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Container {
    pub account: String,
    pub name: String,
    pub created_at: i64,
    pub put_timestamp: i64,
    pub metadata: Metadata,
    pub read_acl: Option<String>,
    pub write_acl: Option<String>,
    pub versions_location: Option<String>,
    pub versions_mode: Option<String>,
    pub object_count: i64,
    pub bytes_used: i64,
}

const COLS: &str = "account, name, created_at, put_timestamp, metadata, read_acl, write_acl, \
                    versions_location, versions_mode, object_count, bytes_used";

fn row(r: &AnyRow) -> Result<Container, sqlx::Error> {
    Ok(Container {
        account: super::s(r, "account")?,
        name: name(r, "name")?,
        created_at: i(r, "created_at")?,
        put_timestamp: i(r, "put_timestamp")?,
        metadata: meta(r, "metadata")?,
        read_acl: os(r, "read_acl")?,
        write_acl: os(r, "write_acl")?,
        versions_location: os(r, "versions_location")?,
        versions_mode: os(r, "versions_mode")?,
        object_count: i(r, "object_count")?,
        bytes_used: i(r, "bytes_used")?,
    })
}

pub async fn get<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    account: &str,
    container: &str,
) -> Result<Option<Container>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLS} FROM swift_containers WHERE account = $1 AND name = $2"
    ))
    .bind(account)
    .bind(container.as_bytes())
    .fetch_optional(ex)
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

/// Inserts `c` unless a container of that name exists; true if inserted.
pub async fn insert(conn: &mut Conn, c: &Container) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO swift_containers (account, name, created_at, put_timestamp, metadata, \
         read_acl, write_acl, versions_location, versions_mode) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (account, name) DO NOTHING",
    )
    .bind(&c.account)
    .bind(c.name.as_bytes())
    .bind(c.created_at)
    .bind(c.put_timestamp)
    .bind(meta_json(&c.metadata))
    .bind(&c.read_acl)
    .bind(&c.write_acl)
    .bind(&c.versions_location)
    .bind(&c.versions_mode)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Writes the settable fields of `c` (metadata, ACLs, versioning); false
/// if the container is gone.
pub async fn update(conn: &mut Conn, c: &Container) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE swift_containers SET put_timestamp = $3, metadata = $4, read_acl = $5, \
         write_acl = $6, versions_location = $7, versions_mode = $8 \
         WHERE account = $1 AND name = $2",
    )
    .bind(&c.account)
    .bind(c.name.as_bytes())
    .bind(c.put_timestamp)
    .bind(meta_json(&c.metadata))
    .bind(&c.read_acl)
    .bind(&c.write_acl)
    .bind(&c.versions_location)
    .bind(&c.versions_mode)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Deletes the container if it holds no object; true if deleted. The
/// condition is in the statement, so a concurrent object write either
/// commits first (and the delete finds a count) or finds no container.
pub async fn delete_if_empty(
    conn: &mut Conn,
    account: &str,
    container: &str,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "DELETE FROM swift_containers WHERE account = $1 AND name = $2 AND object_count = 0",
    )
    .bind(account)
    .bind(container.as_bytes())
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Adds to the counters, returning the row as it now is; `None` if the
/// container is gone. Every object write calls this first in its
/// transaction: the row lock it takes orders writes within a container.
pub async fn add_counts(
    conn: &mut Conn,
    account: &str,
    container: &str,
    objects: i64,
    bytes: i64,
) -> Result<Option<Container>, sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE swift_containers SET object_count = object_count + $3, \
         bytes_used = bytes_used + $4 WHERE account = $1 AND name = $2 RETURNING {COLS}"
    ))
    .bind(account)
    .bind(container.as_bytes())
    .bind(objects)
    .bind(bytes)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

/// One page of the account's containers (see [`Page`]), names within
/// `[from, to)` when given.
pub async fn page(
    pool: &sqlx::AnyPool,
    account: &str,
    p: &Page,
) -> Result<Vec<Container>, sqlx::Error> {
    let (clauses, binds, n) = p.clauses(2);
    let sql = format!(
        "SELECT {COLS} FROM swift_containers WHERE account = $1{clauses}{} LIMIT ${n}",
        p.order()
    );
    let mut q = sqlx::query(&sql).bind(account);
    for b in binds {
        q = q.bind(b);
    }
    q.bind(p.limit)
        .fetch_all(pool)
        .await?
        .iter()
        .map(row)
        .collect()
}

//! `subnetpools`: one row per subnet pool, its prefixes as JSON text;
//! and the CIDRs already carved from a pool (the `subnets` naming it).

use super::Conn;
use db::b2i;
use db::i2b;
use db::list::ListQuery;
use db::sqlx::{self, any::AnyRow, Row};

/// A subnet pool row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRow {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    pub ip_version: i64,
    pub prefixes: Vec<String>,
    pub min_prefixlen: i64,
    pub max_prefixlen: i64,
    pub default_prefixlen: i64,
    pub shared: bool,
    pub is_default: bool,
    pub revision_number: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub const COLUMNS: &str = "id, project_id, name, description, ip_version, prefixes, \
    min_prefixlen, max_prefixlen, default_prefixlen, shared, is_default, revision_number, \
    created_at, updated_at";

fn from_row(r: &AnyRow) -> Result<PoolRow, sqlx::Error> {
    let prefixes: String = r.try_get("prefixes")?;
    Ok(PoolRow {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        ip_version: r.try_get("ip_version")?,
        prefixes: serde_json::from_str(&prefixes).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        min_prefixlen: r.try_get("min_prefixlen")?,
        max_prefixlen: r.try_get("max_prefixlen")?,
        default_prefixlen: r.try_get("default_prefixlen")?,
        shared: i2b(r.try_get("shared")?),
        is_default: i2b(r.try_get("is_default")?),
        revision_number: r.try_get("revision_number")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn encode(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

pub async fn get<'c, E>(conn: E, id: &str) -> Result<Option<PoolRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM subnetpools WHERE id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The default pool of an IP family, if one is set.
pub async fn default_of<'c, E>(conn: E, ip_version: i64) -> Result<Option<PoolRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = format!(
        "SELECT {COLUMNS} FROM subnetpools WHERE is_default = 1 AND ip_version = $1 \
         ORDER BY created_at, id LIMIT 1"
    );
    sqlx::query(&sql)
        .bind(ip_version)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The CIDRs of the subnets carved from pool `id`.
pub async fn allocated(conn: &mut Conn, id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query("SELECT cidr FROM subnets WHERE subnetpool_id = $1")
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get("cidr"))
        .collect()
}

pub async fn insert(conn: &mut Conn, p: &PoolRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO subnetpools (id, project_id, name, description, ip_version, prefixes, \
         min_prefixlen, max_prefixlen, default_prefixlen, shared, is_default, revision_number, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         $13, $14)",
    )
    .bind(&p.id)
    .bind(&p.project_id)
    .bind(&p.name)
    .bind(&p.description)
    .bind(p.ip_version)
    .bind(encode(&p.prefixes))
    .bind(p.min_prefixlen)
    .bind(p.max_prefixlen)
    .bind(p.default_prefixlen)
    .bind(b2i(p.shared))
    .bind(b2i(p.is_default))
    .bind(p.revision_number)
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes the changeable attributes if the row is still at
/// `p.revision_number - 1`; false when it moved on or is gone.
pub async fn update(conn: &mut Conn, p: &PoolRow) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE subnetpools SET name = $1, description = $2, prefixes = $3, min_prefixlen = $4, \
         max_prefixlen = $5, default_prefixlen = $6, shared = $7, is_default = $8, \
         revision_number = $9, updated_at = $10 WHERE id = $11 AND revision_number = $12",
    )
    .bind(&p.name)
    .bind(&p.description)
    .bind(encode(&p.prefixes))
    .bind(p.min_prefixlen)
    .bind(p.max_prefixlen)
    .bind(p.default_prefixlen)
    .bind(b2i(p.shared))
    .bind(b2i(p.is_default))
    .bind(p.revision_number)
    .bind(p.updated_at)
    .bind(&p.id)
    .bind(p.revision_number - 1)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Bumps the revision for a tag change.
pub async fn touch(conn: &mut Conn, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    super::touch_row(conn, "subnetpools", id, now).await
}

pub async fn delete(conn: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    super::delete_row(conn, "subnetpools", id).await
}

/// A page of pools.
pub async fn list(
    pool: &db::sqlx::AnyPool,
    q: &ListQuery,
) -> Result<Vec<PoolRow>, db::list::ListError> {
    Ok(super::list_rows(pool, q, from_row).await?.0)
}

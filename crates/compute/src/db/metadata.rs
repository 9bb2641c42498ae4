//! `compute_ec2_ids`: the integer EC2 ids of servers and images, as the
//! metadata API shows them (`i-%08x`, `ami-%08x`).

use super::Conn;
use db::sqlx::{self, Row};

/// The EC2 integer id of `uuid` (a server or an image), given now (the
/// next integer) when it has none. Callers hold a write transaction; the
/// lock serialises parallel first reads on PostgreSQL.
pub async fn ec2_id(conn: &mut Conn, uuid: &str) -> Result<i64, sqlx::Error> {
    if let Some(id) = existing(&mut *conn, uuid).await? {
        return Ok(id);
    }
    super::quotas::lock(conn, "compute-ec2-ids").await?;
    if let Some(id) = existing(&mut *conn, uuid).await? {
        return Ok(id);
    }
    let next: i64 =
        sqlx::query("SELECT CAST(COALESCE(MAX(id), 0) + 1 AS BIGINT) AS n FROM compute_ec2_ids")
            .fetch_one(&mut *conn)
            .await?
            .try_get("n")?;
    sqlx::query("INSERT INTO compute_ec2_ids (id, uuid) VALUES ($1, $2)")
        .bind(next)
        .bind(uuid)
        .execute(&mut *conn)
        .await?;
    Ok(next)
}

/// The EC2 integer id `uuid` was given, if any.
pub async fn existing<'c, E>(conn: E, uuid: &str) -> Result<Option<i64>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let row = sqlx::query("SELECT id FROM compute_ec2_ids WHERE uuid = $1")
        .bind(uuid)
        .fetch_optional(conn)
        .await?;
    row.map(|r| r.try_get("id")).transpose()
}

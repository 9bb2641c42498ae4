//! `network_quotas`: per-project overrides of the default quotas, and
//! the usage counts quotas are checked against.

use super::Conn;
use db::sqlx::{self, Row};

/// The overrides of one project, `(resource, limit)`.
pub async fn of<'c, E>(conn: E, project_id: &str) -> Result<Vec<(String, i64)>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let rows = sqlx::query(
        "SELECT resource, hard_limit FROM network_quotas WHERE project_id = $1 ORDER BY resource",
    )
    .bind(project_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("resource")?, r.try_get("hard_limit")?)))
        .collect()
}

/// The projects with any override.
pub async fn projects(pool: &db::sqlx::AnyPool) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query("SELECT DISTINCT project_id FROM network_quotas ORDER BY project_id")
        .fetch_all(pool)
        .await?;
    rows.iter().map(|r| r.try_get("project_id")).collect()
}

/// Sets one override.
pub async fn set(
    conn: &mut Conn,
    project_id: &str,
    resource: &str,
    limit: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO network_quotas (project_id, resource, hard_limit) VALUES ($1, $2, $3) \
         ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit",
    )
    .bind(project_id)
    .bind(resource)
    .bind(limit)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Drops every override of a project.
pub async fn clear(conn: &mut Conn, project_id: &str) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM network_quotas WHERE project_id = $1")
        .bind(project_id)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}

/// How many rows of `table` (a fixed table name, never user input) the
/// project owns.
pub async fn count<'c, E>(conn: E, table: &str, project_id: &str) -> Result<i64, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE project_id = $1");
    let r = sqlx::query(&sql).bind(project_id).fetch_one(conn).await?;
    r.try_get("n")
}

//! `compute_quotas` and `compute_quota_classes`: admin overrides of the
//! configured default quotas, and the usage (live servers, their cores
//! and RAM) quotas are checked against.

use db::sqlx::{self, Row};

pub type Conn = db::sqlx::AnyConnection;

/// The overrides of a project (`user_id` ""), or of a user in it.
pub async fn of<'c, E>(
    conn: E,
    project_id: &str,
    user_id: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let rows = sqlx::query(
        "SELECT resource, hard_limit FROM compute_quotas \
         WHERE project_id = $1 AND user_id = $2 ORDER BY resource",
    )
    .bind(project_id)
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("resource")?, r.try_get("hard_limit")?)))
        .collect()
}

/// Sets one override.
pub async fn set(
    conn: &mut Conn,
    project_id: &str,
    user_id: &str,
    resource: &str,
    limit: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO compute_quotas (project_id, user_id, resource, hard_limit) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (project_id, user_id, resource) \
         DO UPDATE SET hard_limit = excluded.hard_limit",
    )
    .bind(project_id)
    .bind(user_id)
    .bind(resource)
    .bind(limit)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Drops the overrides of a project and its users (`user_id` None), or
/// of one user.
pub async fn clear(
    conn: &mut Conn,
    project_id: &str,
    user_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    match user_id {
        Some(u) => {
            sqlx::query("DELETE FROM compute_quotas WHERE project_id = $1 AND user_id = $2")
                .bind(project_id)
                .bind(u)
                .execute(&mut *conn)
                .await?
        }
        None => {
            sqlx::query("DELETE FROM compute_quotas WHERE project_id = $1")
                .bind(project_id)
                .execute(&mut *conn)
                .await?
        }
    };
    Ok(())
}

/// The overrides of quota class `class`.
pub async fn class_of<'c, E>(conn: E, class: &str) -> Result<Vec<(String, i64)>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let rows =
        sqlx::query("SELECT resource, hard_limit FROM compute_quota_classes WHERE class_name = $1")
            .bind(class)
            .fetch_all(conn)
            .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("resource")?, r.try_get("hard_limit")?)))
        .collect()
}

pub async fn set_class(
    conn: &mut Conn,
    class: &str,
    resource: &str,
    limit: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO compute_quota_classes (class_name, resource, hard_limit) \
         VALUES ($1, $2, $3) ON CONFLICT (class_name, resource) \
         DO UPDATE SET hard_limit = excluded.hard_limit",
    )
    .bind(class)
    .bind(resource)
    .bind(limit)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Live servers, their vCPUs and their MiB of RAM.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub instances: i64,
    pub cores: i64,
    pub ram: i64,
}

/// The usage of a project, or of one user in it.
pub async fn usage<'c, E>(
    conn: E,
    project_id: &str,
    user_id: Option<&str>,
) -> Result<Usage, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    const SUMS: &str = "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(vcpus), 0) AS BIGINT) AS c, \
         CAST(COALESCE(SUM(memory_mb), 0) AS BIGINT) AS r FROM compute_instances \
         WHERE deleted_at IS NULL AND project_id = $1";
    let row = match user_id {
        Some(u) => {
            sqlx::query(&format!("{SUMS} AND user_id = $2"))
                .bind(project_id)
                .bind(u)
                .fetch_one(conn)
                .await?
        }
        None => sqlx::query(SUMS).bind(project_id).fetch_one(conn).await?,
    };
    Ok(Usage {
        instances: row.try_get("n")?,
        cores: row.try_get("c")?,
        ram: row.try_get("r")?,
    })
}

/// Holds the project's quota lock until the transaction ends, so two
/// creates in one project count one after the other.
pub async fn lock_project(conn: &mut Conn, project_id: &str) -> Result<(), sqlx::Error> {
    lock(conn, &format!("compute-quota:{project_id}")).await
}

/// Holds the lock named `key` until the transaction ends: on PostgreSQL
/// a transaction-scoped advisory lock; SQLite's writers are serialised by
/// `Db::begin_write` already.
pub async fn lock(conn: &mut Conn, key: &str) -> Result<(), sqlx::Error> {
    if conn.backend_name().eq_ignore_ascii_case("postgresql") {
        // Through a subquery: the function's `void` is no type sqlx's `Any`
        // driver can carry.
        sqlx::query(
            "SELECT CAST(1 AS BIGINT) AS ok FROM \
             (SELECT pg_advisory_xact_lock(hashtext($1)::bigint)) AS l",
        )
        .bind(key)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
/// Per resource, the sum of the limits set for users of the project.
pub async fn user_sums<'c, E>(conn: E, project_id: &str) -> Result<Vec<(String, i64)>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let rows = sqlx::query(
        "SELECT resource, CAST(SUM(hard_limit) AS BIGINT) AS s FROM compute_quotas \
         WHERE project_id = $1 AND user_id <> '' GROUP BY resource",
    )
    .bind(project_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("resource")?, r.try_get("s")?)))
        .collect()
}

//! `image_usage`: per-project image count and bytes, the quota counters.
//! Increases are conditional on the limit in the same statement, so two
//! concurrent requests cannot both take the last unit of a quota.

use super::Conn;
use db::sqlx::{self, AnyPool, Row};

async fn ensure_row(c: &mut Conn, project: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO image_usage (project_id, images, bytes) VALUES ($1, 0, 0) \
         ON CONFLICT (project_id) DO NOTHING",
    )
    .bind(project)
    .execute(c)
    .await?;
    Ok(())
}

/// Adds `images` and `bytes` unless that takes either over its limit (-1 =
/// unlimited). Returns false, changing nothing, when it would.
pub async fn take(
    c: &mut Conn,
    project: &str,
    images: i64,
    bytes: i64,
    max_images: i64,
    max_bytes: i64,
) -> Result<bool, sqlx::Error> {
    ensure_row(c, project).await?;
    let n = sqlx::query(
        "UPDATE image_usage SET images = images + $2, bytes = bytes + $3 WHERE project_id = $1 \
         AND ($4 < 0 OR images + $2 <= $4) AND ($5 < 0 OR bytes + $3 <= $5)",
    )
    .bind(project)
    .bind(images)
    .bind(bytes)
    .bind(max_images)
    .bind(max_bytes)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Gives back what [`take`] took (never below zero).
pub async fn give(c: &mut Conn, project: &str, images: i64, bytes: i64) -> Result<(), sqlx::Error> {
    ensure_row(c, project).await?;
    sqlx::query(
        "UPDATE image_usage SET images = CASE WHEN images > $2 THEN images - $2 ELSE 0 END, \
         bytes = CASE WHEN bytes > $3 THEN bytes - $3 ELSE 0 END WHERE project_id = $1",
    )
    .bind(project)
    .bind(images)
    .bind(bytes)
    .execute(c)
    .await?;
    Ok(())
}

/// (images, bytes) used by `project`.
pub async fn get(pool: &AnyPool, project: &str) -> Result<(i64, i64), sqlx::Error> {
    match sqlx::query("SELECT images, bytes FROM image_usage WHERE project_id = $1")
        .bind(project)
        .fetch_optional(pool)
        .await?
    {
        Some(r) => Ok((r.try_get("images")?, r.try_get("bytes")?)),
        None => Ok((0, 0)),
    }
}

/// Rebuilds every counter from the images themselves (after a crash left
/// reservations behind).
pub async fn recompute(c: &mut Conn) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM image_usage")
        .execute(&mut *c)
        .await?;
    sqlx::query(
        "INSERT INTO image_usage (project_id, images, bytes) \
         SELECT owner, COUNT(*), COALESCE(SUM(stored_bytes + reserved_bytes), 0) \
         FROM images WHERE owner IS NOT NULL GROUP BY owner",
    )
    .execute(c)
    .await?;
    Ok(())
}

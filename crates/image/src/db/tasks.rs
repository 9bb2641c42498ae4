//! `tasks`: legacy `import` tasks and the `api_image_import` tasks image
//! imports record. A task moves pending → processing → success/failure by
//! conditional UPDATEs on its status, so it ends exactly once.

use super::Conn;
use db::sqlx::{self, any::AnyRow, AnyPool, Row};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub owner: Option<String>,
    pub image_id: Option<String>,
    pub request_id: Option<String>,
    pub user_id: Option<String>,
    pub input: Option<Value>,
    pub result: Option<Value>,
    pub message: String,
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLS: &str = "id, type, status, owner, image_id, request_id, user_id, input, result, \
    message, expires_at, created_at, updated_at";

fn json_col(r: &AnyRow, col: &str) -> Result<Option<Value>, sqlx::Error> {
    let s: Option<String> = r.try_get(col)?;
    Ok(s.and_then(|s| serde_json::from_str(&s).ok()))
}

fn row(r: &AnyRow) -> Result<Task, sqlx::Error> {
    Ok(Task {
        id: r.try_get("id")?,
        kind: r.try_get("type")?,
        status: r.try_get("status")?,
        owner: r.try_get("owner")?,
        image_id: r.try_get("image_id")?,
        request_id: r.try_get("request_id")?,
        user_id: r.try_get("user_id")?,
        input: json_col(r, "input")?,
        result: json_col(r, "result")?,
        message: r.try_get("message")?,
        expires_at: r.try_get("expires_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn insert(c: &mut Conn, t: &Task) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO tasks ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(&t.id)
    .bind(&t.kind)
    .bind(&t.status)
    .bind(&t.owner)
    .bind(&t.image_id)
    .bind(&t.request_id)
    .bind(&t.user_id)
    .bind(t.input.as_ref().map(Value::to_string))
    .bind(t.result.as_ref().map(Value::to_string))
    .bind(&t.message)
    .bind(t.expires_at)
    .bind(t.created_at)
    .bind(t.updated_at)
    .execute(c)
    .await?;
    Ok(())
}

/// Removes tasks that expired before `now` (Glance deletes them too).
pub async fn purge_expired(c: &mut Conn, now: i64) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM tasks WHERE expires_at IS NOT NULL AND expires_at < $1")
            .bind(now)
            .execute(c)
            .await?
            .rows_affected(),
    )
}

/// Moves task `id` from `from` to `to`; false when it was not in `from`.
pub async fn set_status(
    c: &mut Conn,
    id: &str,
    from: &str,
    to: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let n =
        sqlx::query("UPDATE tasks SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2")
            .bind(id)
            .bind(from)
            .bind(to)
            .bind(now)
            .execute(c)
            .await?
            .rows_affected();
    Ok(n == 1)
}

/// Ends task `id` (unless it already ended) with `status`, its result,
/// message and expiry.
pub async fn finish(
    c: &mut Conn,
    id: &str,
    status: &str,
    result: Option<&Value>,
    message: &str,
    now: i64,
    expires_at: i64,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE tasks SET status = $2, result = $3, message = $4, updated_at = $5, \
         expires_at = $6 WHERE id = $1 AND status IN ('pending', 'processing')",
    )
    .bind(id)
    .bind(status)
    .bind(result.map(Value::to_string))
    .bind(message)
    .bind(now)
    .bind(expires_at)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn get(pool: &AnyPool, id: &str, now: i64) -> Result<Option<Task>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLS} FROM tasks WHERE id = $1 AND (expires_at IS NULL OR expires_at >= $2)"
    ))
    .bind(id)
    .bind(now)
    .fetch_optional(pool)
    .await?
    .map(|r| row(&r))
    .transpose()
}

/// Unexpired tasks, of `owner` only unless None (an admin), optionally of
/// one status and type, newest first.
pub async fn list(
    pool: &AnyPool,
    owner: Option<&str>,
    status: Option<&str>,
    kind: Option<&str>,
    now: i64,
) -> Result<Vec<Task>, sqlx::Error> {
    let mut sql =
        format!("SELECT {COLS} FROM tasks WHERE (expires_at IS NULL OR expires_at >= $1)");
    let mut n = 1;
    for (col, v) in [("owner", owner), ("status", status), ("type", kind)] {
        if v.is_some() {
            n += 1;
            sql.push_str(&format!(" AND {col} = ${n}"));
        }
    }
    sql.push_str(" ORDER BY created_at DESC, id DESC");
    let mut q = sqlx::query(&sql).bind(now);
    for v in [owner, status, kind].into_iter().flatten() {
        q = q.bind(v);
    }
    q.fetch_all(pool).await?.iter().map(row).collect()
}

/// Unexpired tasks of image `image_id`, oldest first.
pub async fn of_image(pool: &AnyPool, image_id: &str, now: i64) -> Result<Vec<Task>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLS} FROM tasks WHERE image_id = $1 AND (expires_at IS NULL OR expires_at >= $2) \
         ORDER BY created_at, id"
    ))
    .bind(image_id)
    .bind(now)
    .fetch_all(pool)
    .await?
    .iter()
    .map(row)
    .collect()
}

/// Ends every unfinished task as a failure with `message` (for a store a
/// restarted process owns alone: nothing is running them any more).
pub async fn fail_unfinished(
    c: &mut Conn,
    message: &str,
    now: i64,
    expires_at: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE tasks SET status = 'failure', message = $1, updated_at = $2, expires_at = $3 \
         WHERE status IN ('pending', 'processing')",
    )
    .bind(message)
    .bind(now)
    .bind(expires_at)
    .execute(c)
    .await?
    .rows_affected())
}

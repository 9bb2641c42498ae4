//! `network_tags`: the tags of every taggable resource.

use super::Conn;
use db::sqlx::{self, Row};
use std::collections::HashMap;

/// How many ids one `IN (…)` list carries: SQLite refuses more than
/// 32,766 bound values, and a full list of ports can be longer.
pub const IN_CHUNK: usize = 500;

/// The tags of each of `ids`, sorted.
pub async fn of(
    conn: &mut Conn,
    ids: &[String],
) -> Result<HashMap<String, Vec<String>>, sqlx::Error> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    for chunk in ids.chunks(IN_CHUNK) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT resource_id, tag FROM network_tags WHERE resource_id IN ({}) ORDER BY tag",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id);
        }
        for r in q.fetch_all(&mut *conn).await? {
            out.entry(r.try_get("resource_id")?)
                .or_default()
                .push(r.try_get("tag")?);
        }
    }
    Ok(out)
}

/// Adds `tag` to `id`; false when it was already there.
pub async fn add(conn: &mut Conn, id: &str, tag: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO network_tags (resource_id, tag) VALUES ($1, $2) \
         ON CONFLICT (resource_id, tag) DO NOTHING",
    )
    .bind(id)
    .bind(tag)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Removes `tag` from `id`; false when it was not there.
pub async fn remove(conn: &mut Conn, id: &str, tag: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM network_tags WHERE resource_id = $1 AND tag = $2")
        .bind(id)
        .bind(tag)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Removes every tag of `id`.
pub async fn clear(conn: &mut Conn, id: &str) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM network_tags WHERE resource_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}

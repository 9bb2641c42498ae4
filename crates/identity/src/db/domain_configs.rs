//! `domain_configs`: per-domain configuration options (values as JSON).

use super::{s, Conn};
use db::sqlx::{self, AnyPool};
use serde_json::Value;

/// (group, option, value) of one domain.
pub async fn get(
    pool: &AnyPool,
    domain_id: &str,
) -> Result<Vec<(String, String, Value)>, sqlx::Error> {
    sqlx::query("SELECT grp, opt, value FROM domain_configs WHERE domain_id = $1 ORDER BY grp, opt")
        .bind(domain_id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok((
                s(r, "grp")?,
                s(r, "opt")?,
                serde_json::from_str(&s(r, "value")?).unwrap_or(Value::Null),
            ))
        })
        .collect()
}

pub async fn set(
    c: &mut Conn,
    domain_id: &str,
    group: &str,
    option: &str,
    value: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO domain_configs (domain_id, grp, opt, value) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (domain_id, grp, opt) DO UPDATE SET value = excluded.value",
    )
    .bind(domain_id)
    .bind(group)
    .bind(option)
    .bind(value.to_string())
    .execute(c)
    .await?;
    Ok(())
}

/// Deletes the whole config, a group or one option; returns rows deleted.
pub async fn delete(
    c: &mut Conn,
    domain_id: &str,
    group: Option<&str>,
    option: Option<&str>,
) -> Result<u64, sqlx::Error> {
    let q = match (group, option) {
        (None, _) => sqlx::query("DELETE FROM domain_configs WHERE domain_id = $1").bind(domain_id),
        (Some(g), None) => {
            sqlx::query("DELETE FROM domain_configs WHERE domain_id = $1 AND grp = $2")
                .bind(domain_id)
                .bind(g)
        }
        (Some(g), Some(o)) => {
            sqlx::query("DELETE FROM domain_configs WHERE domain_id = $1 AND grp = $2 AND opt = $3")
                .bind(domain_id)
                .bind(g)
                .bind(o)
        }
    };
    Ok(q.execute(c).await?.rows_affected())
}

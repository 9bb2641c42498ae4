//! `policies` table: stored policy blobs (the legacy `/v3/policies` API).

use super::{extra, extra_text, s, Conn};
use db::sqlx::{self, any::AnyRow, AnyPool};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyBlob {
    pub id: String,
    pub policy_type: String,
    pub blob: String,
    pub extra: Map<String, Value>,
}

fn row(r: &AnyRow) -> Result<PolicyBlob, sqlx::Error> {
    Ok(PolicyBlob {
        id: s(r, "id")?,
        policy_type: s(r, "type")?,
        blob: s(r, "blob")?,
        extra: extra(r, "extra")?,
    })
}

pub async fn list(pool: &AnyPool) -> Result<Vec<PolicyBlob>, sqlx::Error> {
    sqlx::query("SELECT id, type, blob, extra FROM policies ORDER BY id")
        .fetch_all(pool)
        .await?
        .iter()
        .map(row)
        .collect()
}

pub async fn get(pool: &AnyPool, id: &str) -> Result<Option<PolicyBlob>, sqlx::Error> {
    sqlx::query("SELECT id, type, blob, extra FROM policies WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(row)
        .transpose()
}

pub async fn upsert(c: &mut Conn, p: &PolicyBlob, insert: bool) -> Result<(), sqlx::Error> {
    let sql = if insert {
        "INSERT INTO policies (id, type, blob, extra) VALUES ($1, $2, $3, $4)"
    } else {
        "UPDATE policies SET type = $2, blob = $3, extra = $4 WHERE id = $1"
    };
    sqlx::query(sql)
        .bind(&p.id)
        .bind(&p.policy_type)
        .bind(&p.blob)
        .bind(extra_text(&p.extra))
        .execute(c)
        .await?;
    Ok(())
}

pub async fn delete(c: &mut Conn, id: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM policies WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?
        .rows_affected())
}

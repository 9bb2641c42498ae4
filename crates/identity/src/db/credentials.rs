//! `credentials` table. Blobs are stored encrypted (see app::credentials).

use super::{extra, extra_text, i, os, s, Conn};
use db::list::{Bind, Kind, ListError, ListQuery};
use db::sqlx::{self, any::AnyRow, AnyPool};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct StoredCredential {
    pub id: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub cred_type: String,
    pub encrypted_blob: String,
    pub extra: Map<String, Value>,
    pub created_at: i64,
}

fn row(r: &AnyRow) -> Result<StoredCredential, sqlx::Error> {
    Ok(StoredCredential {
        id: s(r, "id")?,
        user_id: s(r, "user_id")?,
        project_id: os(r, "project_id")?,
        cred_type: s(r, "type")?,
        encrypted_blob: s(r, "encrypted_blob")?,
        extra: extra(r, "extra")?,
        created_at: i(r, "created_at")?,
    })
}

const COLS: &str = "id, user_id, project_id, type, encrypted_blob, extra, created_at";

pub async fn list(pool: &AnyPool) -> Result<Vec<StoredCredential>, sqlx::Error> {
    sqlx::query(&format!("SELECT {COLS} FROM credentials ORDER BY id"))
        .fetch_all(pool)
        .await?
        .iter()
        .map(row)
        .collect()
}

/// Filters of a credential list (each optional; all must hold).
#[derive(Debug, Clone, Default)]
pub struct CredentialFilter<'a> {
    pub user_id: Option<&'a str>,
    /// The caller, when it may see only its own credentials.
    pub owner: Option<&'a str>,
    pub cred_type: Option<&'a str>,
}

/// One page of credentials matching `f`, in id order (blobs still
/// encrypted).
pub async fn list_page(
    db: &db::Db,
    f: &CredentialFilter<'_>,
    paging: &super::Paging<'_>,
) -> Result<(Vec<StoredCredential>, Option<String>), ListError> {
    let mut q = ListQuery::new(db.kind, "credentials", COLS, "id");
    for u in [f.user_id, f.owner].into_iter().flatten() {
        q.filter("user_id = ?", [Bind::from(u)]);
    }
    if let Some(t) = f.cred_type {
        q.filter("type = ?", [Bind::from(t)]);
    }
    q.sort_by("id", Kind::Text, false, true);
    paging.apply(&mut q);
    super::page(&db.pool, &q, row).await
}

pub async fn get(pool: &AnyPool, id: &str) -> Result<Option<StoredCredential>, sqlx::Error> {
    sqlx::query(&format!("SELECT {COLS} FROM credentials WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(row)
        .transpose()
}

pub async fn insert(c: &mut Conn, x: &StoredCredential) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO credentials ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(&x.id)
    .bind(&x.user_id)
    .bind(&x.project_id)
    .bind(&x.cred_type)
    .bind(&x.encrypted_blob)
    .bind(extra_text(&x.extra))
    .bind(x.created_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn update(c: &mut Conn, x: &StoredCredential) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE credentials SET project_id = $2, type = $3, encrypted_blob = $4, extra = $5 WHERE id = $1")
        .bind(&x.id)
        .bind(&x.project_id)
        .bind(&x.cred_type)
        .bind(&x.encrypted_blob)
        .bind(extra_text(&x.extra))
        .execute(c)
        .await?;
    Ok(())
}

pub async fn delete(c: &mut Conn, id: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM credentials WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?
        .rows_affected())
}

//! `compute_key_pairs`: a user's SSH public keys and X.509 certificates,
//! named uniquely per user.

use super::Conn;
use db::list::{Bind, ListError, ListQuery};
use db::sqlx::{self, any::AnyRow, AnyPool, Row};
use db::Db;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub id: i64,
    pub user_id: String,
    pub name: String,
    /// `ssh` or `x509`.
    pub key_type: String,
    pub fingerprint: String,
    pub public_key: String,
    pub created_at: i64,
}

const COLS: &str = "id, user_id, name, key_type, fingerprint, public_key, created_at";

fn row(r: &AnyRow) -> Result<KeyPair, sqlx::Error> {
    Ok(KeyPair {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        name: r.try_get("name")?,
        key_type: r.try_get("key_type")?,
        fingerprint: r.try_get("fingerprint")?,
        public_key: r.try_get("public_key")?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn get(
    pool: &AnyPool,
    user_id: &str,
    name: &str,
) -> Result<Option<KeyPair>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLS} FROM compute_key_pairs WHERE user_id = $1 AND name = $2"
    ))
    .bind(user_id)
    .bind(name)
    .fetch_optional(pool)
    .await?
    .map(|r| row(&r))
    .transpose()
}

/// One page of `user_id`'s key pairs by name, and the next page's marker.
pub async fn list(
    db: &Db,
    user_id: &str,
    limit: Option<usize>,
    marker: Option<&str>,
) -> Result<(Vec<KeyPair>, Option<String>), ListError> {
    let mut q = ListQuery::new(db.kind, "compute_key_pairs", COLS, "name");
    q.filter("user_id = ?", [Bind::from(user_id)]);
    q.limit(limit).marker(marker);
    let page = q.fetch(&db.pool).await?;
    let kps = page.rows.iter().map(row).collect::<Result<_, _>>()?;
    Ok((kps, page.next_marker))
}

pub async fn count(c: &mut Conn, user_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM compute_key_pairs WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(c)
        .await?
        .try_get("n")
}

/// Inserts `k`; false when the user already has a key pair of that name.
pub async fn insert(c: &mut Conn, k: &KeyPair) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(&format!(
        "INSERT INTO compute_key_pairs ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (user_id, name) DO NOTHING"
    ))
    .bind(k.id)
    .bind(&k.user_id)
    .bind(&k.name)
    .bind(&k.key_type)
    .bind(&k.fingerprint)
    .bind(&k.public_key)
    .bind(k.created_at)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn delete(c: &mut Conn, user_id: &str, name: &str) -> Result<bool, sqlx::Error> {
    let n = sqlx::query("DELETE FROM compute_key_pairs WHERE user_id = $1 AND name = $2")
        .bind(user_id)
        .bind(name)
        .execute(c)
        .await?
        .rows_affected();
    Ok(n == 1)
}

//! `domains` table.

use super::{b, extra, extra_text, i, s, Conn};
use db::list::{Bind, Kind, ListError, ListQuery};
use db::sqlx::{self, any::AnyRow, AnyPool};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    pub id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub extra: Map<String, Value>,
    pub created_at: i64,
}

fn row(r: &AnyRow) -> Result<Domain, sqlx::Error> {
    Ok(Domain {
        id: s(r, "id")?,
        name: s(r, "name")?,
        description: s(r, "description")?,
        enabled: b(r, "enabled")?,
        extra: extra(r, "extra")?,
        created_at: i(r, "created_at")?,
    })
}

const COLS: &str = "id, name, description, enabled, extra, created_at";

/// One page of domains named `name` and `enabled` (either optional), in id
/// order.
pub async fn list_page(
    db: &db::Db,
    name: Option<&str>,
    enabled: Option<bool>,
    paging: &super::Paging<'_>,
) -> Result<(Vec<Domain>, Option<String>), ListError> {
    let mut q = ListQuery::new(db.kind, "domains", COLS, "id");
    if let Some(n) = name {
        q.filter("name = ?", [Bind::from(n)]);
    }
    if let Some(e) = enabled {
        q.filter("enabled = ?", [Bind::Int(db::b2i(e))]);
    }
    q.sort_by("id", Kind::Text, false, true);
    paging.apply(&mut q);
    super::page(&db.pool, &q, row).await
}

pub async fn list(pool: &AnyPool) -> Result<Vec<Domain>, sqlx::Error> {
    sqlx::query(&format!("SELECT {COLS} FROM domains ORDER BY id"))
        .fetch_all(pool)
        .await?
        .iter()
        .map(row)
        .collect()
}

pub async fn get(pool: &AnyPool, id: &str) -> Result<Option<Domain>, sqlx::Error> {
    sqlx::query(&format!("SELECT {COLS} FROM domains WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(row)
        .transpose()
}

pub async fn get_by_name(pool: &AnyPool, name: &str) -> Result<Option<Domain>, sqlx::Error> {
    sqlx::query(&format!("SELECT {COLS} FROM domains WHERE name = $1"))
        .bind(name)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(row)
        .transpose()
}

pub async fn insert(c: &mut Conn, d: &Domain) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO domains (id, name, description, enabled, extra, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&d.id)
    .bind(&d.name)
    .bind(&d.description)
    .bind(db::b2i(d.enabled))
    .bind(extra_text(&d.extra))
    .bind(d.created_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn update(c: &mut Conn, d: &Domain) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE domains SET name = $2, description = $3, enabled = $4, extra = $5 WHERE id = $1",
    )
    .bind(&d.id)
    .bind(&d.name)
    .bind(&d.description)
    .bind(db::b2i(d.enabled))
    .bind(extra_text(&d.extra))
    .execute(c)
    .await?;
    Ok(())
}

pub async fn delete(c: &mut Conn, id: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM domains WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?
        .rows_affected())
}

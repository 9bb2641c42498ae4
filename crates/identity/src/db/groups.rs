//! `groups` table.

use super::{extra, extra_text, i, s, Conn};
use db::list::{Bind, Kind, ListError, ListQuery};
use db::sqlx::{self, any::AnyRow, AnyPool};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub description: String,
    pub extra: Map<String, Value>,
    pub created_at: i64,
}

fn row(r: &AnyRow) -> Result<Group, sqlx::Error> {
    Ok(Group {
        id: s(r, "id")?,
        name: s(r, "name")?,
        domain_id: s(r, "domain_id")?,
        description: s(r, "description")?,
        extra: extra(r, "extra")?,
        created_at: i(r, "created_at")?,
    })
}

const COLS: &str = "id, name, domain_id, description, extra, created_at";

/// One page of groups with `name` in `domain_id` (either optional), in id
/// order.
pub async fn list_page(
    db: &db::Db,
    name: Option<&str>,
    domain_id: Option<&str>,
    paging: &super::Paging<'_>,
) -> Result<(Vec<Group>, Option<String>), ListError> {
    let mut q = ListQuery::new(db.kind, "groups", COLS, "id");
    if let Some(n) = name {
        q.filter("name = ?", [Bind::from(n)]);
    }
    if let Some(d) = domain_id {
        q.filter("domain_id = ?", [Bind::from(d)]);
    }
    q.sort_by("id", Kind::Text, false, true);
    paging.apply(&mut q);
    super::page(&db.pool, &q, row).await
}

pub async fn list(pool: &AnyPool) -> Result<Vec<Group>, sqlx::Error> {
    sqlx::query(&format!("SELECT {COLS} FROM groups ORDER BY id"))
        .fetch_all(pool)
        .await?
        .iter()
        .map(row)
        .collect()
}

pub async fn get(pool: &AnyPool, id: &str) -> Result<Option<Group>, sqlx::Error> {
    sqlx::query(&format!("SELECT {COLS} FROM groups WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(row)
        .transpose()
}

pub async fn insert(c: &mut Conn, g: &Group) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO groups (id, name, domain_id, description, extra, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&g.id)
    .bind(&g.name)
    .bind(&g.domain_id)
    .bind(&g.description)
    .bind(extra_text(&g.extra))
    .bind(g.created_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn update(c: &mut Conn, g: &Group) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE groups SET name = $2, description = $3, extra = $4 WHERE id = $1")
        .bind(&g.id)
        .bind(&g.name)
        .bind(&g.description)
        .bind(extra_text(&g.extra))
        .execute(c)
        .await?;
    Ok(())
}

pub async fn delete(c: &mut Conn, id: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM groups WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?
        .rows_affected())
}

pub async fn count_in_domain(pool: &AnyPool, domain_id: &str) -> Result<i64, sqlx::Error> {
    i(
        &sqlx::query("SELECT COUNT(*) AS n FROM groups WHERE domain_id = $1")
            .bind(domain_id)
            .fetch_one(pool)
            .await?,
        "n",
    )
}

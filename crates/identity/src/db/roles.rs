//! `roles` and `implied_roles` tables. Global roles have `domain_id = ''`.

use super::{extra, extra_text, s, Conn};
use db::list::{Bind, Kind, ListError, ListQuery};
use db::sqlx::{self, any::AnyRow, AnyPool};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub id: String,
    pub name: String,
    /// `None` for a global role.
    pub domain_id: Option<String>,
    pub description: String,
    pub options: Map<String, Value>,
    pub extra: Map<String, Value>,
}

fn row(r: &AnyRow) -> Result<Role, sqlx::Error> {
    let d = s(r, "domain_id")?;
    Ok(Role {
        id: s(r, "id")?,
        name: s(r, "name")?,
        domain_id: (!d.is_empty()).then_some(d),
        description: s(r, "description")?,
        options: extra(r, "options")?,
        extra: extra(r, "extra")?,
    })
}

const COLS: &str = "id, name, domain_id, description, options, extra";

/// One page of roles named `name` (optional) of `domain_id` (global roles
/// when `None`), in id order.
pub async fn list_page(
    db: &db::Db,
    name: Option<&str>,
    domain_id: Option<&str>,
    paging: &super::Paging<'_>,
) -> Result<(Vec<Role>, Option<String>), ListError> {
    let mut q = ListQuery::new(db.kind, "roles", COLS, "id");
    if let Some(n) = name {
        q.filter("name = ?", [Bind::from(n)]);
    }
    match domain_id {
        // Global roles are stored with an empty domain, which no
        // domain-specific filter names.
        Some("") => q.filter("1 = 0", []),
        Some(d) => q.filter("domain_id = ?", [Bind::from(d)]),
        None => q.filter("domain_id = ''", []),
    };
    q.sort_by("id", Kind::Text, false, true);
    paging.apply(&mut q);
    super::page(&db.pool, &q, row).await
}

pub async fn list(pool: &AnyPool) -> Result<Vec<Role>, sqlx::Error> {
    sqlx::query(&format!("SELECT {COLS} FROM roles ORDER BY id"))
        .fetch_all(pool)
        .await?
        .iter()
        .map(row)
        .collect()
}

pub async fn get(pool: &AnyPool, id: &str) -> Result<Option<Role>, sqlx::Error> {
    sqlx::query(&format!("SELECT {COLS} FROM roles WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(row)
        .transpose()
}

pub async fn get_global_by_name(pool: &AnyPool, name: &str) -> Result<Option<Role>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLS} FROM roles WHERE domain_id = '' AND name = $1"
    ))
    .bind(name)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

pub async fn insert(c: &mut Conn, r: &Role) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO roles (id, name, domain_id, description, options, extra) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&r.id)
    .bind(&r.name)
    .bind(r.domain_id.clone().unwrap_or_default())
    .bind(&r.description)
    .bind(extra_text(&r.options))
    .bind(extra_text(&r.extra))
    .execute(c)
    .await?;
    Ok(())
}

pub async fn update(c: &mut Conn, r: &Role) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE roles SET name = $2, description = $3, options = $4, extra = $5 WHERE id = $1",
    )
    .bind(&r.id)
    .bind(&r.name)
    .bind(&r.description)
    .bind(extra_text(&r.options))
    .bind(extra_text(&r.extra))
    .execute(c)
    .await?;
    Ok(())
}

pub async fn delete(c: &mut Conn, id: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM roles WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?
        .rows_affected())
}

/// All (prior, implied) pairs.
pub async fn implied(pool: &AnyPool) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query("SELECT prior_role_id, implied_role_id FROM implied_roles ORDER BY prior_role_id, implied_role_id")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| Ok((s(r, "prior_role_id")?, s(r, "implied_role_id")?)))
        .collect()
}

pub async fn add_implied(c: &mut Conn, prior: &str, implied: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO implied_roles (prior_role_id, implied_role_id) VALUES ($1, $2) \
         ON CONFLICT (prior_role_id, implied_role_id) DO NOTHING",
    )
    .bind(prior)
    .bind(implied)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn remove_implied(c: &mut Conn, prior: &str, implied: &str) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM implied_roles WHERE prior_role_id = $1 AND implied_role_id = $2")
            .bind(prior)
            .bind(implied)
            .execute(c)
            .await?
            .rows_affected(),
    )
}

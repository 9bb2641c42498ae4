//! `application_credentials` and their role subsets.

use super::{b, i, oi, os, s, Conn};
use db::list::{Bind, Kind, ListError, ListQuery};
use db::sqlx::{self, any::AnyRow, AnyPool};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct AppCred {
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub system: Option<String>,
    pub secret_hash: String,
    pub description: String,
    pub expires_at: Option<i64>,
    pub unrestricted: bool,
    pub created_at: i64,
    pub role_ids: Vec<String>,
}

fn row(r: &AnyRow) -> Result<AppCred, sqlx::Error> {
    Ok(AppCred {
        id: s(r, "id")?,
        name: s(r, "name")?,
        user_id: s(r, "user_id")?,
        project_id: os(r, "project_id")?,
        system: os(r, "system")?,
        secret_hash: s(r, "secret_hash")?,
        description: s(r, "description")?,
        expires_at: oi(r, "expires_at")?,
        unrestricted: b(r, "unrestricted")?,
        created_at: i(r, "created_at")?,
        role_ids: Vec::new(),
    })
}

const COLS: &str =
    "id, name, user_id, project_id, system, secret_hash, description, expires_at, unrestricted, created_at";

pub async fn list(pool: &AnyPool) -> Result<Vec<AppCred>, sqlx::Error> {
    let mut roles: HashMap<String, Vec<String>> = HashMap::new();
    for r in
        sqlx::query("SELECT application_credential_id, role_id FROM application_credential_roles")
            .fetch_all(pool)
            .await?
    {
        roles
            .entry(s(&r, "application_credential_id")?)
            .or_default()
            .push(s(&r, "role_id")?);
    }
    let mut v: Vec<AppCred> = sqlx::query(&format!(
        "SELECT {COLS} FROM application_credentials ORDER BY id"
    ))
    .fetch_all(pool)
    .await?
    .iter()
    .map(row)
    .collect::<Result<_, _>>()?;
    for a in &mut v {
        a.role_ids = roles.remove(&a.id).unwrap_or_default();
        a.role_ids.sort();
    }
    Ok(v)
}

/// One page of `user_id`'s application credentials (named `name`, when
/// given), in id order, with their roles.
pub async fn list_page(
    db: &db::Db,
    user_id: &str,
    name: Option<&str>,
    paging: &super::Paging<'_>,
) -> Result<(Vec<AppCred>, Option<String>), ListError> {
    let mut q = ListQuery::new(db.kind, "application_credentials", COLS, "id");
    q.filter("user_id = ?", [Bind::from(user_id)]);
    if let Some(n) = name {
        q.filter("name = ?", [Bind::from(n)]);
    }
    q.sort_by("id", Kind::Text, false, true);
    paging.apply(&mut q);
    let (mut items, next) = super::page(&db.pool, &q, row).await?;
    let ids: Vec<String> = items.iter().map(|a| a.id.clone()).collect();
    let rows = super::rows_for(
        &db.pool,
        "SELECT application_credential_id, role_id FROM application_credential_roles",
        "application_credential_id",
        &ids,
        "role_id",
    )
    .await?;
    let mut roles = super::grouped(&rows, "application_credential_id", "role_id")?;
    for a in &mut items {
        a.role_ids = roles.remove(&a.id).unwrap_or_default();
        // As `list` gives them to the view.
        a.role_ids.sort();
    }
    Ok((items, next))
}

pub async fn insert(c: &mut Conn, a: &AppCred) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO application_credentials ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(&a.id)
    .bind(&a.name)
    .bind(&a.user_id)
    .bind(&a.project_id)
    .bind(&a.system)
    .bind(&a.secret_hash)
    .bind(&a.description)
    .bind(a.expires_at)
    .bind(db::b2i(a.unrestricted))
    .bind(a.created_at)
    .execute(&mut *c)
    .await?;
    for r in &a.role_ids {
        sqlx::query("INSERT INTO application_credential_roles (application_credential_id, role_id) VALUES ($1, $2)")
            .bind(&a.id)
            .bind(r)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

pub async fn delete(c: &mut Conn, id: &str) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM application_credentials WHERE id = $1")
            .bind(id)
            .execute(c)
            .await?
            .rows_affected(),
    )
}

/// Deletes every application credential bound to `project_id`, for when the
/// project goes; their role rows go with them by the foreign key's cascade.
pub async fn delete_for_project(c: &mut Conn, project_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM application_credentials WHERE project_id = $1")
        .bind(project_id)
        .execute(c)
        .await?;
    Ok(())
}

//! `users` and `user_group_membership` tables.

use super::{b, extra, extra_text, i, oi, os, s, Conn};
use db::list::{Bind, Kind, ListError, ListQuery};
use db::sqlx::{self, any::AnyRow, AnyPool};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub enabled: bool,
    pub default_project_id: Option<String>,
    pub password_hash: Option<String>,
    pub password_created_at: Option<i64>,
    /// Set when `password_expires_days` is configured.
    pub password_expires_at: Option<i64>,
    pub extra: Map<String, Value>,
    pub options: Map<String, Value>,
    pub created_at: i64,
}

fn row(r: &AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: s(r, "id")?,
        name: s(r, "name")?,
        domain_id: s(r, "domain_id")?,
        enabled: b(r, "enabled")?,
        default_project_id: os(r, "default_project_id")?,
        password_hash: os(r, "password_hash")?,
        password_created_at: oi(r, "password_created_at")?,
        password_expires_at: oi(r, "password_expires_at")?,
        extra: extra(r, "extra")?,
        options: extra(r, "options")?,
        created_at: i(r, "created_at")?,
    })
}

const COLS: &str = "id, name, domain_id, enabled, default_project_id, password_hash, \
                    password_created_at, password_expires_at, extra, options, created_at";

pub async fn list(pool: &AnyPool) -> Result<Vec<User>, sqlx::Error> {
    sqlx::query(&format!("SELECT {COLS} FROM users ORDER BY id"))
        .fetch_all(pool)
        .await?
        .iter()
        .map(row)
        .collect()
}

/// Filters of `GET /v3/users`.
#[derive(Debug, Clone, Default)]
pub struct UserFilter<'a> {
    pub name: Option<&'a str>,
    pub domain_id: Option<&'a str>,
    pub enabled: Option<bool>,
}

/// One page of users matching `f`, in id order.
pub async fn list_page(
    db: &db::Db,
    f: &UserFilter<'_>,
    paging: &super::Paging<'_>,
) -> Result<(Vec<User>, Option<String>), ListError> {
    let mut q = ListQuery::new(db.kind, "users", COLS, "id");
    if let Some(n) = f.name {
        q.filter("name = ?", [Bind::from(n)]);
    }
    if let Some(d) = f.domain_id {
        q.filter("domain_id = ?", [Bind::from(d)]);
    }
    if let Some(e) = f.enabled {
        q.filter("enabled = ?", [Bind::Int(db::b2i(e))]);
    }
    q.sort_by("id", Kind::Text, false, true);
    paging.apply(&mut q);
    super::page(&db.pool, &q, row).await
}

pub async fn get(pool: &AnyPool, id: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query(&format!("SELECT {COLS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(row)
        .transpose()
}

pub async fn get_by_name(
    pool: &AnyPool,
    domain_id: &str,
    name: &str,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLS} FROM users WHERE domain_id = $1 AND name = $2"
    ))
    .bind(domain_id)
    .bind(name)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

pub async fn insert(c: &mut Conn, u: &User) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (id, name, domain_id, enabled, default_project_id, password_hash, \
         password_created_at, extra, options, created_at, password_expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&u.id)
    .bind(&u.name)
    .bind(&u.domain_id)
    .bind(db::b2i(u.enabled))
    .bind(&u.default_project_id)
    .bind(&u.password_hash)
    .bind(u.password_created_at)
    .bind(extra_text(&u.extra))
    .bind(extra_text(&u.options))
    .bind(u.created_at)
    .bind(u.password_expires_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn update(c: &mut Conn, u: &User) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET name = $2, enabled = $3, default_project_id = $4, password_hash = $5, \
         password_created_at = $6, extra = $7, options = $8, password_expires_at = $9 WHERE id = $1",
    )
    .bind(&u.id)
    .bind(&u.name)
    .bind(db::b2i(u.enabled))
    .bind(&u.default_project_id)
    .bind(&u.password_hash)
    .bind(u.password_created_at)
    .bind(extra_text(&u.extra))
    .bind(extra_text(&u.options))
    .bind(u.password_expires_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn delete(c: &mut Conn, id: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?
        .rows_affected())
}

/// Users whose default project is `project_id` lose it (the project is
/// being deleted).
pub async fn clear_default_project(c: &mut Conn, project_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET default_project_id = NULL WHERE default_project_id = $1")
        .bind(project_id)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn count_in_domain(pool: &AnyPool, domain_id: &str) -> Result<i64, sqlx::Error> {
    i(
        &sqlx::query("SELECT COUNT(*) AS n FROM users WHERE domain_id = $1")
            .bind(domain_id)
            .fetch_one(pool)
            .await?,
        "n",
    )
}

/// All (user_id, group_id) memberships.
pub async fn memberships(pool: &AnyPool) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query("SELECT user_id, group_id FROM user_group_membership ORDER BY user_id, group_id")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| Ok((s(r, "user_id")?, s(r, "group_id")?)))
        .collect()
}

pub async fn add_to_group(c: &mut Conn, user_id: &str, group_id: &str) -> Result<(), sqlx::Error> {
    // Adding a member twice is not an error in Keystone.
    sqlx::query(
        "INSERT INTO user_group_membership (user_id, group_id) VALUES ($1, $2) \
         ON CONFLICT (user_id, group_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(group_id)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn remove_from_group(
    c: &mut Conn,
    user_id: &str,
    group_id: &str,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM user_group_membership WHERE user_id = $1 AND group_id = $2")
            .bind(user_id)
            .bind(group_id)
            .execute(c)
            .await?
            .rows_affected(),
    )
}

/// Failed password attempts and the time of the last one.
pub async fn failures(pool: &AnyPool, id: &str) -> Result<(i64, Option<i64>), sqlx::Error> {
    match sqlx::query("SELECT failed_auth_count, failed_auth_at FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
    {
        Some(r) => Ok((i(&r, "failed_auth_count")?, oi(&r, "failed_auth_at")?)),
        None => Ok((0, None)),
    }
}

/// Counts one failed attempt (atomically, so parallel guesses all count);
/// `None` resets the count after a success.
pub async fn record_failure(pool: &AnyPool, id: &str, at: Option<i64>) -> Result<(), sqlx::Error> {
    let q = match at {
        Some(t) => sqlx::query("UPDATE users SET failed_auth_count = failed_auth_count + 1, failed_auth_at = $2 WHERE id = $1")
            .bind(id)
            .bind(t),
        None => sqlx::query("UPDATE users SET failed_auth_count = 0, failed_auth_at = NULL WHERE id = $1 AND failed_auth_count > 0")
            .bind(id),
    };
    q.execute(pool).await?;
    Ok(())
}

/// The user's previous password hashes, newest first.
pub async fn password_history(pool: &AnyPool, id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query(
        "SELECT password_hash FROM password_history WHERE user_id = $1 ORDER BY created_at DESC",
    )
    .bind(id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| s(r, "password_hash"))
    .collect()
}

/// Remembers a password hash, keeping the newest `keep`.
pub async fn push_password_history(
    c: &mut Conn,
    id: &str,
    hash: &str,
    at: i64,
    keep: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO password_history (user_id, password_hash, created_at) VALUES ($1, $2, $3)",
    )
    .bind(id)
    .bind(hash)
    .bind(at)
    .execute(&mut *c)
    .await?;
    sqlx::query(
        "DELETE FROM password_history WHERE user_id = $1 AND created_at NOT IN \
         (SELECT created_at FROM password_history WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2)",
    )
    .bind(id)
    .bind(keep)
    .execute(c)
    .await?;
    Ok(())
}

//! `trusts` and `trust_roles` tables.

use super::{b, extra, extra_text, i, oi, os, s, Conn};
use db::list::{Bind, Kind, ListError, ListQuery};
use db::sqlx::{self, any::AnyRow, AnyPool};
use serde_json::{Map, Value};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Trust {
    pub id: String,
    pub trustor_user_id: String,
    pub trustee_user_id: String,
    pub project_id: Option<String>,
    pub impersonation: bool,
    pub expires_at: Option<i64>,
    pub remaining_uses: Option<i64>,
    pub allow_redelegation: bool,
    pub redelegation_count: i64,
    pub redelegated_trust_id: Option<String>,
    pub deleted_at: Option<i64>,
    pub extra: Map<String, Value>,
    pub created_at: i64,
    pub role_ids: Vec<String>,
}

fn row(r: &AnyRow) -> Result<Trust, sqlx::Error> {
    Ok(Trust {
        id: s(r, "id")?,
        trustor_user_id: s(r, "trustor_user_id")?,
        trustee_user_id: s(r, "trustee_user_id")?,
        project_id: os(r, "project_id")?,
        impersonation: b(r, "impersonation")?,
        expires_at: oi(r, "expires_at")?,
        remaining_uses: oi(r, "remaining_uses")?,
        allow_redelegation: b(r, "allow_redelegation")?,
        redelegation_count: i(r, "redelegation_count")?,
        redelegated_trust_id: os(r, "redelegated_trust_id")?,
        deleted_at: oi(r, "deleted_at")?,
        extra: extra(r, "extra")?,
        created_at: i(r, "created_at")?,
        role_ids: Vec::new(),
    })
}

const COLS: &str = "id, trustor_user_id, trustee_user_id, project_id, impersonation, expires_at, remaining_uses, \
                    allow_redelegation, redelegation_count, redelegated_trust_id, deleted_at, extra, created_at";

/// Every trust not deleted, with its roles.
pub async fn list(pool: &AnyPool) -> Result<Vec<Trust>, sqlx::Error> {
    let mut roles: HashMap<String, Vec<String>> = HashMap::new();
    for r in sqlx::query("SELECT trust_id, role_id FROM trust_roles")
        .fetch_all(pool)
        .await?
    {
        roles
            .entry(s(&r, "trust_id")?)
            .or_default()
            .push(s(&r, "role_id")?);
    }
    let mut v: Vec<Trust> = sqlx::query(&format!(
        "SELECT {COLS} FROM trusts WHERE deleted_at IS NULL ORDER BY id"
    ))
    .fetch_all(pool)
    .await?
    .iter()
    .map(row)
    .collect::<Result<_, _>>()?;
    for t in &mut v {
        t.role_ids = roles.remove(&t.id).unwrap_or_default();
        t.role_ids.sort();
    }
    Ok(v)
}

/// Filters of `GET /v3/OS-TRUST/trusts` (each optional; both must hold).
#[derive(Debug, Clone, Default)]
pub struct TrustFilter<'a> {
    pub trustor_user_id: Option<&'a str>,
    pub trustee_user_id: Option<&'a str>,
}

/// One page of the trusts not deleted that match `f`, in id order, with
/// their roles.
pub async fn list_page(
    db: &db::Db,
    f: &TrustFilter<'_>,
    paging: &super::Paging<'_>,
) -> Result<(Vec<Trust>, Option<String>), ListError> {
    let mut q = ListQuery::new(db.kind, "trusts", COLS, "id");
    q.filter("deleted_at IS NULL", []);
    if let Some(u) = f.trustor_user_id {
        q.filter("trustor_user_id = ?", [Bind::from(u)]);
    }
    if let Some(u) = f.trustee_user_id {
        q.filter("trustee_user_id = ?", [Bind::from(u)]);
    }
    q.sort_by("id", Kind::Text, false, true);
    paging.apply(&mut q);
    let (mut items, next) = super::page(&db.pool, &q, row).await?;
    let ids: Vec<String> = items.iter().map(|t| t.id.clone()).collect();
    let rows = super::rows_for(
        &db.pool,
        "SELECT trust_id, role_id FROM trust_roles",
        "trust_id",
        &ids,
        "trust_id",
    )
    .await?;
    let mut roles = super::grouped(&rows, "trust_id", "role_id")?;
    for t in &mut items {
        t.role_ids = roles.remove(&t.id).unwrap_or_default();
        // As `list` gives them to the view.
        t.role_ids.sort();
    }
    Ok((items, next))
}

pub async fn insert(c: &mut Conn, t: &Trust) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO trusts ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(&t.id)
    .bind(&t.trustor_user_id)
    .bind(&t.trustee_user_id)
    .bind(&t.project_id)
    .bind(db::b2i(t.impersonation))
    .bind(t.expires_at)
    .bind(t.remaining_uses)
    .bind(db::b2i(t.allow_redelegation))
    .bind(t.redelegation_count)
    .bind(&t.redelegated_trust_id)
    .bind(t.deleted_at)
    .bind(extra_text(&t.extra))
    .bind(t.created_at)
    .execute(&mut *c)
    .await?;
    for r in &t.role_ids {
        sqlx::query("INSERT INTO trust_roles (trust_id, role_id) VALUES ($1, $2)")
            .bind(&t.id)
            .bind(r)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// Marks a trust deleted (kept for the record, as Keystone soft-deletes).
pub async fn soft_delete(c: &mut Conn, id: &str, now: i64) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("UPDATE trusts SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(c)
            .await?
            .rows_affected(),
    )
}

/// Uses one of a limited trust's uses; false when none is left. Trusts
/// without a limit always succeed. Atomic, so parallel authentications
/// cannot overspend it.
pub async fn consume_use(c: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE trusts SET remaining_uses = remaining_uses - 1 \
         WHERE id = $1 AND deleted_at IS NULL AND remaining_uses IS NOT NULL AND remaining_uses > 0",
    )
    .bind(id)
    .execute(&mut *c)
    .await?
    .rows_affected();
    if n == 1 {
        return Ok(true);
    }
    let unlimited = sqlx::query(
        "SELECT id FROM trusts WHERE id = $1 AND deleted_at IS NULL AND remaining_uses IS NULL",
    )
    .bind(id)
    .fetch_optional(c)
    .await?;
    Ok(unlimited.is_some())
}

//! `revocation_events`: the record that makes a fernet token invalid
//! before it expires.

use super::{i, os, s, Conn};
use db::sqlx::{self, AnyPool};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevocationEvent {
    pub id: String,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    pub audit_id: Option<String>,
    pub issued_before: i64,
    pub revoked_at: i64,
}

/// Events recorded after `since` (µs); events older than the longest token
/// lifetime can no longer match anything.
pub async fn list_since(pool: &AnyPool, since: i64) -> Result<Vec<RevocationEvent>, sqlx::Error> {
    sqlx::query(
        "SELECT id, user_id, project_id, domain_id, audit_id, issued_before, revoked_at \
         FROM revocation_events WHERE revoked_at >= $1 ORDER BY revoked_at",
    )
    .bind(since)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok(RevocationEvent {
            id: s(r, "id")?,
            user_id: os(r, "user_id")?,
            project_id: os(r, "project_id")?,
            domain_id: os(r, "domain_id")?,
            audit_id: os(r, "audit_id")?,
            issued_before: i(r, "issued_before")?,
            revoked_at: i(r, "revoked_at")?,
        })
    })
    .collect()
}

pub async fn insert(c: &mut Conn, e: &RevocationEvent) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO revocation_events (id, user_id, project_id, domain_id, audit_id, issued_before, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&e.id)
    .bind(&e.user_id)
    .bind(&e.project_id)
    .bind(&e.domain_id)
    .bind(&e.audit_id)
    .bind(e.issued_before)
    .bind(e.revoked_at)
    .execute(c)
    .await?;
    Ok(())
}

/// Drops events that can no longer match an unexpired token.
pub async fn prune(c: &mut Conn, before: i64) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM revocation_events WHERE revoked_at < $1")
            .bind(before)
            .execute(c)
            .await?
            .rows_affected(),
    )
}

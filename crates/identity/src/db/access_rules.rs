//! `access_rules` and `application_credential_access_rules`.

use super::{s, Conn};
use db::list::{Bind, Kind, ListError, ListQuery};
use db::sqlx::{self, any::AnyRow, AnyPool};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRuleRow {
    pub id: String,
    pub user_id: String,
    pub service: String,
    pub path: String,
    pub method: String,
}

fn row(r: &AnyRow) -> Result<AccessRuleRow, sqlx::Error> {
    Ok(AccessRuleRow {
        id: s(r, "id")?,
        user_id: s(r, "user_id")?,
        service: s(r, "service")?,
        path: s(r, "path")?,
        method: s(r, "method")?,
    })
}

const COLS: &str = "id, user_id, service, path, method";

pub async fn list(pool: &AnyPool) -> Result<Vec<AccessRuleRow>, sqlx::Error> {
    sqlx::query(&format!("SELECT {COLS} FROM access_rules ORDER BY id"))
        .fetch_all(pool)
        .await?
        .iter()
        .map(row)
        .collect()
}

/// One page of `user_id`'s access rules, in id order.
pub async fn list_page(
    db: &db::Db,
    user_id: &str,
    paging: &super::Paging<'_>,
) -> Result<(Vec<AccessRuleRow>, Option<String>), ListError> {
    let mut q = ListQuery::new(db.kind, "access_rules", COLS, "id");
    q.filter("user_id = ?", [Bind::from(user_id)]);
    q.sort_by("id", Kind::Text, false, true);
    paging.apply(&mut q);
    super::page(&db.pool, &q, row).await
}

/// (application credential, access rule) links.
pub async fn links(pool: &AnyPool) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query(
        "SELECT application_credential_id, access_rule_id FROM application_credential_access_rules",
    )
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| Ok((s(r, "application_credential_id")?, s(r, "access_rule_id")?)))
    .collect()
}

/// The id of the user's rule with these fields, creating it if needed.
pub async fn ensure(c: &mut Conn, r: &AccessRuleRow) -> Result<String, sqlx::Error> {
    sqlx::query(
        "INSERT INTO access_rules (id, user_id, service, path, method) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id, service, path, method) DO NOTHING",
    )
    .bind(&r.id)
    .bind(&r.user_id)
    .bind(&r.service)
    .bind(&r.path)
    .bind(&r.method)
    .execute(&mut *c)
    .await?;
    s(
        &sqlx::query("SELECT id FROM access_rules WHERE user_id = $1 AND service = $2 AND path = $3 AND method = $4")
            .bind(&r.user_id)
            .bind(&r.service)
            .bind(&r.path)
            .bind(&r.method)
            .fetch_one(c)
            .await?,
        "id",
    )
}

pub async fn link(c: &mut Conn, cred: &str, rule: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO application_credential_access_rules (application_credential_id, access_rule_id) VALUES ($1, $2) \
         ON CONFLICT (application_credential_id, access_rule_id) DO NOTHING",
    )
    .bind(cred)
    .bind(rule)
    .execute(c)
    .await?;
    Ok(())
}

/// Deletes a rule no credential uses; 0 when it is in use or absent.
pub async fn delete_unused(c: &mut Conn, id: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "DELETE FROM access_rules WHERE id = $1 AND NOT EXISTS \
         (SELECT 1 FROM application_credential_access_rules WHERE access_rule_id = $1)",
    )
    .bind(id)
    .execute(c)
    .await?
    .rows_affected())
}

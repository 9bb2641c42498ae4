//! `image_members`: which projects a shared image is offered to, and
//! whether they accepted.

use super::Conn;
use db::sqlx::{self, any::AnyRow, AnyPool, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub image_id: String,
    pub member_id: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

fn row(r: &AnyRow) -> Result<Member, sqlx::Error> {
    Ok(Member {
        image_id: r.try_get("image_id")?,
        member_id: r.try_get("member_id")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const COLS: &str = "image_id, member_id, status, created_at, updated_at";

pub async fn list(pool: &AnyPool, image_id: &str) -> Result<Vec<Member>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLS} FROM image_members WHERE image_id = $1 ORDER BY created_at, member_id"
    ))
    .bind(image_id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(row)
    .collect()
}

pub async fn get(
    pool: &AnyPool,
    image_id: &str,
    member_id: &str,
) -> Result<Option<Member>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLS} FROM image_members WHERE image_id = $1 AND member_id = $2"
    ))
    .bind(image_id)
    .bind(member_id)
    .fetch_optional(pool)
    .await?
    .map(|r| row(&r))
    .transpose()
}

pub async fn count(c: &mut Conn, image_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM image_members WHERE image_id = $1")
        .bind(image_id)
        .fetch_one(c)
        .await?
        .try_get("n")
}

pub async fn insert(c: &mut Conn, m: &Member) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO image_members (image_id, member_id, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&m.image_id)
    .bind(&m.member_id)
    .bind(&m.status)
    .bind(m.created_at)
    .bind(m.updated_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn set_status(
    c: &mut Conn,
    image_id: &str,
    member_id: &str,
    status: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE image_members SET status = $3, updated_at = $4 WHERE image_id = $1 AND member_id = $2",
    )
    .bind(image_id)
    .bind(member_id)
    .bind(status)
    .bind(now)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn delete(c: &mut Conn, image_id: &str, member_id: &str) -> Result<bool, sqlx::Error> {
    let n = sqlx::query("DELETE FROM image_members WHERE image_id = $1 AND member_id = $2")
        .bind(image_id)
        .bind(member_id)
        .execute(c)
        .await?
        .rows_affected();
    Ok(n == 1)
}

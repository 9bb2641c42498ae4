//! `compute_server_groups` and `compute_server_group_members`: server
//! groups with their policy and rules, and which servers belong to them.

use super::Conn;
use db::sqlx::{self, any::AnyRow, AnyPool, Row};

#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    /// `affinity`, `anti-affinity`, `soft-affinity` or `soft-anti-affinity`.
    pub policy: String,
    /// A JSON object (`{}` or `{"max_server_per_host": n}`).
    pub rules: String,
    pub created_at: i64,
}

const COLS: &str = "id, name, project_id, user_id, policy, rules, created_at";

fn row(r: &AnyRow) -> Result<GroupRow, sqlx::Error> {
    Ok(GroupRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        project_id: r.try_get("project_id")?,
        user_id: r.try_get("user_id")?,
        policy: r.try_get("policy")?,
        rules: r.try_get("rules")?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn get<'c, E>(conn: E, id: &str) -> Result<Option<GroupRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(&format!(
        "SELECT {COLS} FROM compute_server_groups WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .map(|r| row(&r))
    .transpose()
}

/// The groups of `project_id` (every project's when `None`), oldest
/// first.
pub async fn list(pool: &AnyPool, project_id: Option<&str>) -> Result<Vec<GroupRow>, sqlx::Error> {
    let rows = match project_id {
        Some(p) => {
            sqlx::query(&format!(
                "SELECT {COLS} FROM compute_server_groups WHERE project_id = $1 \
                 ORDER BY created_at, id"
            ))
            .bind(p)
            .fetch_all(pool)
            .await?
        }
        None => {
            sqlx::query(&format!(
                "SELECT {COLS} FROM compute_server_groups ORDER BY created_at, id"
            ))
            .fetch_all(pool)
            .await?
        }
    };
    rows.iter().map(row).collect()
}

pub async fn insert(c: &mut Conn, g: &GroupRow) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO compute_server_groups ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(&g.id)
    .bind(&g.name)
    .bind(&g.project_id)
    .bind(&g.user_id)
    .bind(&g.policy)
    .bind(&g.rules)
    .bind(g.created_at)
    .execute(c)
    .await?;
    Ok(())
}

/// Deletes the group and its memberships; false when it was gone.
pub async fn delete(c: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query("DELETE FROM compute_server_group_members WHERE group_id = $1")
        .bind(id)
        .execute(&mut *c)
        .await?;
    let n = sqlx::query("DELETE FROM compute_server_groups WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// How many groups `project_id` has (of `user_id`'s, when given).
pub async fn count<'c, E>(
    conn: E,
    project_id: &str,
    user_id: Option<&str>,
) -> Result<i64, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    const Q: &str = "SELECT COUNT(*) AS n FROM compute_server_groups WHERE project_id = $1";
    let r = match user_id {
        Some(u) => {
            sqlx::query(&format!("{Q} AND user_id = $2"))
                .bind(project_id)
                .bind(u)
                .fetch_one(conn)
                .await?
        }
        None => sqlx::query(Q).bind(project_id).fetch_one(conn).await?,
    };
    r.try_get("n")
}

/// The live (not deleted) member servers of `group_id`, with the host
/// each is on (`None` while unscheduled), oldest membership first.
pub async fn members<'c, E>(
    conn: E,
    group_id: &str,
) -> Result<Vec<(String, Option<String>)>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "SELECT m.instance_id AS id, i.host AS host FROM compute_server_group_members m \
         JOIN compute_instances i ON i.id = m.instance_id \
         WHERE m.group_id = $1 AND i.deleted_at IS NULL \
         ORDER BY m.created_at, m.instance_id",
    )
    .bind(group_id)
    .fetch_all(conn)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("id")?, r.try_get("host")?)))
    .collect()
}

pub async fn add_member(
    c: &mut Conn,
    group_id: &str,
    instance_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO compute_server_group_members (group_id, instance_id, created_at) \
         VALUES ($1, $2, $3)",
    )
    .bind(group_id)
    .bind(instance_id)
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

/// Drops the server from every group (it is being deleted).
pub async fn remove_instance<'c, E>(conn: E, instance_id: &str) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query("DELETE FROM compute_server_group_members WHERE instance_id = $1")
        .bind(instance_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The groups `instance_id` belongs to.
pub async fn groups_of<'c, E>(conn: E, instance_id: &str) -> Result<Vec<String>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "SELECT group_id FROM compute_server_group_members WHERE instance_id = $1 \
         ORDER BY group_id",
    )
    .bind(instance_id)
    .fetch_all(conn)
    .await?
    .iter()
    .map(|r| r.try_get("group_id"))
    .collect()
}

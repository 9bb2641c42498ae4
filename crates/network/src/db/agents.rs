//! `network_agents`: one row per (agent type, host) with its stable id and
//! what an operator sets on it. Liveness is not stored here: it comes from
//! the node registry.

use super::Conn;
use db::list::ListQuery;
use db::sqlx::{self, any::AnyRow, Row};
use db::{b2i, i2b};

/// An agent row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRow {
    pub id: String,
    pub agent_type: String,
    pub binary: String,
    pub topic: String,
    pub host: String,
    pub availability_zone: Option<String>,
    pub admin_state_up: bool,
    pub description: Option<String>,
    pub created_at: i64,
    pub started_at: i64,
}

pub const COLUMNS: &str = "id, agent_type, binary_name, topic, host, availability_zone, \
    admin_state_up, description, created_at, started_at";

fn from_row(r: &AnyRow) -> Result<AgentRow, sqlx::Error> {
    Ok(AgentRow {
        id: r.try_get("id")?,
        agent_type: r.try_get("agent_type")?,
        binary: r.try_get("binary_name")?,
        topic: r.try_get("topic")?,
        host: r.try_get("host")?,
        availability_zone: r.try_get("availability_zone")?,
        admin_state_up: i2b(r.try_get("admin_state_up")?),
        description: r.try_get("description")?,
        created_at: r.try_get("created_at")?,
        started_at: r.try_get("started_at")?,
    })
}

pub async fn get<'c, E>(conn: E, id: &str) -> Result<Option<AgentRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM network_agents WHERE id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Every agent, by host and type.
pub async fn all<'c, E>(conn: E) -> Result<Vec<AgentRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM network_agents ORDER BY host, agent_type");
    sqlx::query(&sql)
        .fetch_all(conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The agents of `host`.
pub async fn of_host<'c, E>(conn: E, host: &str) -> Result<Vec<AgentRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM network_agents WHERE host = $1");
    sqlx::query(&sql)
        .bind(host)
        .fetch_all(conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Inserts the agent unless (type, host) has one already; true when it
/// was inserted (the unique index decides a race between two fetches).
pub async fn insert_missing(conn: &mut Conn, a: &AgentRow) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(&format!(
        "INSERT INTO network_agents ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (agent_type, host) DO NOTHING"
    ))
    .bind(&a.id)
    .bind(&a.agent_type)
    .bind(&a.binary)
    .bind(&a.topic)
    .bind(&a.host)
    .bind(&a.availability_zone)
    .bind(b2i(a.admin_state_up))
    .bind(&a.description)
    .bind(a.created_at)
    .bind(a.started_at)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Writes what an operator may change; false when the agent is gone.
pub async fn update(conn: &mut Conn, a: &AgentRow) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE network_agents SET admin_state_up = $1, description = $2 WHERE id = $3",
    )
    .bind(b2i(a.admin_state_up))
    .bind(&a.description)
    .bind(&a.id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete(conn: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    super::delete_row(conn, "network_agents", id).await
}

/// A page of agents.
pub async fn list(
    pool: &db::sqlx::AnyPool,
    q: &ListQuery,
) -> Result<Vec<AgentRow>, db::list::ListError> {
    Ok(super::list_rows(pool, q, from_row).await?.0)
}

//! `routers`: one row per router. Its interfaces are ports (see
//! `db::ports`) whose device_id is the router's id.

use super::Conn;
use db::b2i;
use db::i2b;
use db::list::ListQuery;
use db::sqlx::{self, any::AnyRow, Row};

/// A router row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterRow {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    pub admin_state_up: bool,
    /// `external_gateway_info.enable_snat` (shown only with a gateway).
    pub enable_snat: bool,
    /// Extra routes: (destination, nexthop).
    pub routes: Vec<(String, String)>,
    pub status: String,
    pub revision_number: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub const COLUMNS: &str =
    "id, project_id, name, description, admin_state_up, enable_snat, routes, \
    status, revision_number, created_at, updated_at";

pub fn from_row(r: &AnyRow) -> Result<RouterRow, sqlx::Error> {
    Ok(RouterRow {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        admin_state_up: i2b(r.try_get("admin_state_up")?),
        enable_snat: i2b(r.try_get("enable_snat")?),
        routes: {
            let s: String = r.try_get("routes")?;
            serde_json::from_str(&s).map_err(|e| sqlx::Error::Decode(Box::new(e)))?
        },
        status: r.try_get("status")?,
        revision_number: r.try_get("revision_number")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn encode_routes(routes: &[(String, String)]) -> String {
    serde_json::to_string(routes).unwrap_or_else(|_| "[]".into())
}

pub async fn get<'c, E>(conn: E, id: &str) -> Result<Option<RouterRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM routers WHERE id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn insert(conn: &mut Conn, r: &RouterRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO routers (id, project_id, name, description, admin_state_up, status, \
         revision_number, created_at, updated_at, enable_snat, routes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&r.id)
    .bind(&r.project_id)
    .bind(&r.name)
    .bind(&r.description)
    .bind(b2i(r.admin_state_up))
    .bind(&r.status)
    .bind(r.revision_number)
    .bind(r.created_at)
    .bind(r.updated_at)
    .bind(b2i(r.enable_snat))
    .bind(encode_routes(&r.routes))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes the changeable attributes if the row is still at
/// `r.revision_number - 1`; false when it moved on or is gone.
pub async fn update(conn: &mut Conn, r: &RouterRow) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        "UPDATE routers SET name = $1, description = $2, admin_state_up = $3, \
         revision_number = $4, updated_at = $5, enable_snat = $8, \
         routes = $9 WHERE id = $6 AND revision_number = $7",
    )
    .bind(&r.name)
    .bind(&r.description)
    .bind(b2i(r.admin_state_up))
    .bind(r.revision_number)
    .bind(r.updated_at)
    .bind(&r.id)
    .bind(r.revision_number - 1)
    .bind(b2i(r.enable_snat))
    .bind(encode_routes(&r.routes))
    .execute(&mut *conn)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Bumps the revision (an interface added or removed).
pub async fn touch(conn: &mut Conn, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    super::touch_row(conn, "routers", id, now).await
}

pub async fn delete(conn: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    super::delete_row(conn, "routers", id).await
}

/// A page of routers.
pub async fn list(
    pool: &db::sqlx::AnyPool,
    q: &ListQuery,
) -> Result<Vec<RouterRow>, db::list::ListError> {
    Ok(super::list_rows(pool, q, from_row).await?.0)
}

//! `port_forwardings`: one row per forwarding rule of a floating IP. The
//! unique indexes (floating IP, protocol, external port) and (protocol,
//! internal port, address, port number) are neutron's.

use super::Conn;
use db::list::ListQuery;
use db::sqlx::{self, any::AnyRow, Row};

/// A port forwarding row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortForwardingRow {
    pub id: String,
    pub floatingip_id: String,
    pub internal_port_id: String,
    pub protocol: String,
    pub internal_ip_address: String,
    pub internal_port: i64,
    pub external_port: i64,
    pub description: String,
    pub revision_number: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub const COLUMNS: &str = "id, floatingip_id, internal_port_id, protocol, internal_ip_address, \
    internal_port, external_port, description, revision_number, created_at, updated_at";

fn from_row(r: &AnyRow) -> Result<PortForwardingRow, sqlx::Error> {
    Ok(PortForwardingRow {
        id: r.try_get("id")?,
        floatingip_id: r.try_get("floatingip_id")?,
        internal_port_id: r.try_get("internal_port_id")?,
        protocol: r.try_get("protocol")?,
        internal_ip_address: r.try_get("internal_ip_address")?,
        internal_port: r.try_get("internal_port")?,
        external_port: r.try_get("external_port")?,
        description: r.try_get("description")?,
        revision_number: r.try_get("revision_number")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn get<'c, E>(conn: E, id: &str) -> Result<Option<PortForwardingRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM port_forwardings WHERE id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

async fn select_where<'c, E>(
    conn: E,
    column: &str,
    value: &str,
) -> Result<Vec<PortForwardingRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM port_forwardings WHERE {column} = $1 ORDER BY id");
    let rows = sqlx::query(&sql).bind(value).fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// Every rule, by id (the agent feed's snapshot).
pub async fn all(conn: &mut Conn) -> Result<Vec<PortForwardingRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM port_forwardings ORDER BY id");
    let rows = sqlx::query(&sql).fetch_all(&mut *conn).await?;
    rows.iter().map(from_row).collect()
}

/// The rules of one floating IP.
pub async fn of_floatingip<'c, E>(
    conn: E,
    floatingip_id: &str,
) -> Result<Vec<PortForwardingRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    select_where(conn, "floatingip_id", floatingip_id).await
}

/// The rules forwarding to one internal port.
pub async fn of_port(
    conn: &mut Conn,
    port_id: &str,
) -> Result<Vec<PortForwardingRow>, sqlx::Error> {
    select_where(&mut *conn, "internal_port_id", port_id).await
}

pub async fn insert(conn: &mut Conn, p: &PortForwardingRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO port_forwardings (id, floatingip_id, internal_port_id, protocol, \
         internal_ip_address, internal_port, external_port, description, revision_number, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&p.id)
    .bind(&p.floatingip_id)
    .bind(&p.internal_port_id)
    .bind(&p.protocol)
    .bind(&p.internal_ip_address)
    .bind(p.internal_port)
    .bind(p.external_port)
    .bind(&p.description)
    .bind(p.revision_number)
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes the changeable attributes if the row is still at
/// `p.revision_number - 1`; false when it moved on or is gone.
pub async fn update(conn: &mut Conn, p: &PortForwardingRow) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE port_forwardings SET internal_port_id = $1, protocol = $2, \
         internal_ip_address = $3, internal_port = $4, external_port = $5, description = $6, \
         revision_number = $7, updated_at = $8 WHERE id = $9 AND revision_number = $10",
    )
    .bind(&p.internal_port_id)
    .bind(&p.protocol)
    .bind(&p.internal_ip_address)
    .bind(p.internal_port)
    .bind(p.external_port)
    .bind(&p.description)
    .bind(p.revision_number)
    .bind(p.updated_at)
    .bind(&p.id)
    .bind(p.revision_number - 1)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete(conn: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    super::delete_row(conn, "port_forwardings", id).await
}

/// A page of port forwardings.
pub async fn list(
    pool: &db::sqlx::AnyPool,
    q: &ListQuery,
) -> Result<Vec<PortForwardingRow>, db::list::ListError> {
    Ok(super::list_rows(pool, q, from_row).await?.0)
}

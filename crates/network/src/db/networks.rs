//! `networks`: one row per network with its segment.

use super::Conn;
use db::list::ListQuery;
use db::sqlx::{self, any::AnyRow, Row};
use db::{b2i, i2b};

/// A network row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRow {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    pub admin_state_up: bool,
    pub status: String,
    pub shared: bool,
    pub router_external: bool,
    pub mtu: i64,
    pub port_security_enabled: bool,
    pub network_type: String,
    pub physical_network: Option<String>,
    pub segmentation_id: Option<i64>,
    pub revision_number: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub const COLUMNS: &str = "id, project_id, name, description, admin_state_up, status, shared, \
    router_external, mtu, port_security_enabled, network_type, physical_network, \
    segmentation_id, revision_number, created_at, updated_at";

pub fn from_row(r: &AnyRow) -> Result<NetworkRow, sqlx::Error> {
    Ok(NetworkRow {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        admin_state_up: i2b(r.try_get("admin_state_up")?),
        status: r.try_get("status")?,
        shared: i2b(r.try_get("shared")?),
        router_external: i2b(r.try_get("router_external")?),
        mtu: r.try_get("mtu")?,
        port_security_enabled: i2b(r.try_get("port_security_enabled")?),
        network_type: r.try_get("network_type")?,
        physical_network: r.try_get("physical_network")?,
        segmentation_id: r.try_get("segmentation_id")?,
        revision_number: r.try_get("revision_number")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// What the segment occupies (see the migration's `segment_key`).
pub fn segment_key(network_type: &str, physnet: Option<&str>, seg: Option<i64>) -> String {
    match (physnet, seg) {
        (Some(p), Some(s)) => format!("{network_type}:{p}:{s}"),
        (Some(p), None) => format!("{network_type}:{p}"),
        (None, Some(s)) => format!("{network_type}:{s}"),
        (None, None) => network_type.to_string(),
    }
}

pub async fn get<'c, E>(conn: E, id: &str) -> Result<Option<NetworkRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM networks WHERE id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Inserts `n`; a unique violation on `segment_key` means the segment
/// was taken.
pub async fn insert(conn: &mut Conn, n: &NetworkRow) -> Result<(), sqlx::Error> {
    let key = segment_key(
        &n.network_type,
        n.physical_network.as_deref(),
        n.segmentation_id,
    );
    sqlx::query(
        "INSERT INTO networks (id, project_id, name, description, admin_state_up, status, \
         shared, router_external, mtu, port_security_enabled, network_type, physical_network, \
         segmentation_id, segment_key, revision_number, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(&n.id)
    .bind(&n.project_id)
    .bind(&n.name)
    .bind(&n.description)
    .bind(b2i(n.admin_state_up))
    .bind(&n.status)
    .bind(b2i(n.shared))
    .bind(b2i(n.router_external))
    .bind(n.mtu)
    .bind(b2i(n.port_security_enabled))
    .bind(&n.network_type)
    .bind(&n.physical_network)
    .bind(n.segmentation_id)
    .bind(key)
    .bind(n.revision_number)
    .bind(n.created_at)
    .bind(n.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes the user-changeable attributes and bumps the revision, if the
/// row is still at `n.revision_number - 1`; false when it moved on.
pub async fn update(conn: &mut Conn, n: &NetworkRow) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE networks SET name = $1, description = $2, admin_state_up = $3, shared = $4, \
         router_external = $5, port_security_enabled = $6, revision_number = $7, \
         updated_at = $8 WHERE id = $9 AND revision_number = $10",
    )
    .bind(&n.name)
    .bind(&n.description)
    .bind(b2i(n.admin_state_up))
    .bind(b2i(n.shared))
    .bind(b2i(n.router_external))
    .bind(b2i(n.port_security_enabled))
    .bind(n.revision_number)
    .bind(n.updated_at)
    .bind(&n.id)
    .bind(n.revision_number - 1)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Bumps the revision of a network whose standard attributes changed
/// elsewhere (its tags).
pub async fn touch(conn: &mut Conn, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    super::touch_row(conn, "networks", id, now).await
}

/// Locks the network's row for the rest of the transaction (a write
/// that changes nothing); false when it is gone.
pub async fn lock(conn: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("UPDATE networks SET status = status WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete(conn: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    super::delete_row(conn, "networks", id).await
}

/// The VNIs in use between `first` and `last`, ascending.
pub async fn vnis_in(conn: &mut Conn, first: i64, last: i64) -> Result<Vec<i64>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT segmentation_id FROM networks WHERE network_type = 'vxlan' \
         AND segmentation_id BETWEEN $1 AND $2 ORDER BY segmentation_id",
    )
    .bind(first)
    .bind(last)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| r.try_get("segmentation_id")).collect()
}

/// A page of networks.
pub async fn list(
    pool: &db::sqlx::AnyPool,
    q: &ListQuery,
) -> Result<(Vec<NetworkRow>, Option<String>), db::list::ListError> {
    super::list_rows(pool, q, from_row).await
}

//! `floatingips`: one row per floating IP. Its address is held by a port
//! (see `db::ports`) whose device_id is the floating IP's id; the
//! association with an internal port is the row's `fixed_*` columns.

use super::Conn;
use db::list::ListQuery;
use db::sqlx::{self, any::AnyRow, Row};

/// A floating IP row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloatingIpRow {
    pub id: String,
    pub project_id: String,
    pub floating_network_id: String,
    /// The project-less port holding the address.
    pub floating_port_id: String,
    pub floating_ip_address: String,
    pub fixed_port_id: Option<String>,
    pub fixed_ip_address: Option<String>,
    pub router_id: Option<String>,
    pub status: String,
    pub description: String,
    pub revision_number: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub const COLUMNS: &str = "id, project_id, floating_network_id, floating_port_id, \
    floating_ip_address, fixed_port_id, fixed_ip_address, router_id, status, description, \
    revision_number, created_at, updated_at";

fn from_row(r: &AnyRow) -> Result<FloatingIpRow, sqlx::Error> {
    Ok(FloatingIpRow {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        floating_network_id: r.try_get("floating_network_id")?,
        floating_port_id: r.try_get("floating_port_id")?,
        floating_ip_address: r.try_get("floating_ip_address")?,
        fixed_port_id: r.try_get("fixed_port_id")?,
        fixed_ip_address: r.try_get("fixed_ip_address")?,
        router_id: r.try_get("router_id")?,
        status: r.try_get("status")?,
        description: r.try_get("description")?,
        revision_number: r.try_get("revision_number")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn get<'c, E>(conn: E, id: &str) -> Result<Option<FloatingIpRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM floatingips WHERE id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

async fn select_where(
    conn: &mut Conn,
    cond: &str,
    value: &str,
) -> Result<Vec<FloatingIpRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM floatingips WHERE {cond} = $1 ORDER BY id");
    let rows = sqlx::query(&sql).bind(value).fetch_all(&mut *conn).await?;
    rows.iter().map(from_row).collect()
}

/// Every floating IP, by id (the agent feed's snapshot).
pub async fn all(conn: &mut Conn) -> Result<Vec<FloatingIpRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM floatingips ORDER BY id");
    let rows = sqlx::query(&sql).fetch_all(&mut *conn).await?;
    rows.iter().map(from_row).collect()
}

/// The floating IPs associated with a port.
pub async fn of_fixed_port(
    conn: &mut Conn,
    port_id: &str,
) -> Result<Vec<FloatingIpRow>, sqlx::Error> {
    select_where(conn, "fixed_port_id", port_id).await
}

/// The floating IPs taken from an external network.
pub async fn of_floating_network(
    conn: &mut Conn,
    network_id: &str,
) -> Result<Vec<FloatingIpRow>, sqlx::Error> {
    select_where(conn, "floating_network_id", network_id).await
}

/// The floating IPs a router serves (associated or forwarding).
pub async fn of_router(
    conn: &mut Conn,
    router_id: &str,
) -> Result<Vec<FloatingIpRow>, sqlx::Error> {
    select_where(conn, "router_id", router_id).await
}

pub async fn insert(conn: &mut Conn, f: &FloatingIpRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO floatingips (id, project_id, floating_network_id, floating_port_id, \
         floating_ip_address, fixed_port_id, fixed_ip_address, router_id, status, description, \
         revision_number, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&f.id)
    .bind(&f.project_id)
    .bind(&f.floating_network_id)
    .bind(&f.floating_port_id)
    .bind(&f.floating_ip_address)
    .bind(&f.fixed_port_id)
    .bind(&f.fixed_ip_address)
    .bind(&f.router_id)
    .bind(&f.status)
    .bind(&f.description)
    .bind(f.revision_number)
    .bind(f.created_at)
    .bind(f.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes the changeable attributes if the row is still at
/// `f.revision_number - 1`; false when it moved on or is gone.
pub async fn update(conn: &mut Conn, f: &FloatingIpRow) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE floatingips SET fixed_port_id = $1, fixed_ip_address = $2, router_id = $3, \
         status = $4, description = $5, revision_number = $6, updated_at = $7 \
         WHERE id = $8 AND revision_number = $9",
    )
    .bind(&f.fixed_port_id)
    .bind(&f.fixed_ip_address)
    .bind(&f.router_id)
    .bind(&f.status)
    .bind(&f.description)
    .bind(f.revision_number)
    .bind(f.updated_at)
    .bind(&f.id)
    .bind(f.revision_number - 1)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Sets the router (port forwardings come and go) and bumps the revision.
pub async fn set_router(
    conn: &mut Conn,
    id: &str,
    router_id: Option<&str>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE floatingips SET router_id = $1, revision_number = revision_number + 1, \
         updated_at = $2 WHERE id = $3",
    )
    .bind(router_id)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Sets the status (a data-plane report) and bumps the revision; false
/// when the floating IP is gone.
pub async fn set_status(
    conn: &mut Conn,
    id: &str,
    status: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE floatingips SET status = $1, revision_number = revision_number + 1, \
         updated_at = $2 WHERE id = $3",
    )
    .bind(status)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Sets the status a data plane reports and bumps the revision, only
/// when it differs (so a report repeating itself moves nothing); false
/// when it already had it or is gone.
pub async fn change_status(
    conn: &mut Conn,
    id: &str,
    status: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE floatingips SET status = $1, revision_number = revision_number + 1, \
         updated_at = $2 WHERE id = $3 AND status <> $1",
    )
    .bind(status)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Bumps the revision (its port forwardings changed).
pub async fn touch(conn: &mut Conn, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    super::touch_row(conn, "floatingips", id, now).await
}

pub async fn delete(conn: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    super::delete_row(conn, "floatingips", id).await
}

/// A page of floating IPs.
pub async fn list(
    pool: &db::sqlx::AnyPool,
    q: &ListQuery,
) -> Result<Vec<FloatingIpRow>, db::list::ListError> {
    Ok(super::list_rows(pool, q, from_row).await?.0)
}

/// Routers with an interface on `network_id` holding an address on
/// `subnet_id` and a gateway on `external_network_id`, with that
/// interface address (neutron's `get_router_for_floatingip` query).
pub async fn routers_for(
    conn: &mut Conn,
    network_id: &str,
    subnet_id: &str,
    external_network_id: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT DISTINCT p.device_id AS router_id, a.ip_address AS ip_address \
         FROM ports p JOIN ipallocations a ON a.port_id = p.id \
         JOIN ports g ON g.device_id = p.device_id \
         WHERE p.network_id = $1 AND a.subnet_id = $2 \
         AND p.device_owner IN ('network:router_interface', \
         'network:router_interface_distributed', 'network:ha_router_replicated_interface') \
         AND g.network_id = $3 AND g.device_owner = 'network:router_gateway' \
         ORDER BY router_id, ip_address",
    )
    .bind(network_id)
    .bind(subnet_id)
    .bind(external_network_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("router_id")?, r.try_get("ip_address")?)))
        .collect()
}

/// A floating IP pool: an IPv4 subnet of an external network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRow {
    pub subnet_id: String,
    pub subnet_name: String,
    pub network_id: String,
    pub cidr: String,
}

/// Every IPv4 subnet on a `router:external` network (neutron's
/// `get_floatingip_pools`).
pub async fn pools(pool: &db::sqlx::AnyPool) -> Result<Vec<PoolRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT s.id, s.name, s.network_id, s.cidr FROM subnets s \
         JOIN networks n ON n.id = s.network_id \
         WHERE n.router_external = 1 AND s.ip_version = 4 ORDER BY s.id",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PoolRow {
                subnet_id: r.try_get("id")?,
                subnet_name: r.try_get("name")?,
                network_id: r.try_get("network_id")?,
                cidr: r.try_get("cidr")?,
            })
        })
        .collect()
}

//! `ports` and `ipallocations`: one row per port (list attributes as
//! JSON text) and one per address it holds. The allocation table's
//! primary key (subnet, address) is what makes a duplicate address
//! impossible; the MAC index per network likewise for MACs.

use super::Conn;
use db::list::ListQuery;
use db::sqlx::{self, any::AnyRow, Row};
use db::{b2i, i2b};
use serde_json::Value;
use std::collections::HashMap;

/// A port row; the JSON attributes already decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct PortRow {
    pub id: String,
    pub project_id: String,
    pub network_id: String,
    pub name: String,
    pub description: String,
    pub admin_state_up: bool,
    pub status: String,
    pub mac_address: String,
    pub device_id: String,
    pub device_owner: String,
    pub port_security_enabled: bool,
    pub binding_host_id: String,
    pub binding_vnic_type: String,
    pub binding_profile: Value,
    pub security_groups: Vec<String>,
    /// `(ip_address, mac_address)` pairs.
    pub allowed_address_pairs: Vec<(String, String)>,
    /// `{"opt_name", "opt_value", "ip_version"}` objects.
    pub extra_dhcp_opts: Vec<Value>,
    pub revision_number: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub const COLUMNS: &str = "id, project_id, network_id, name, description, admin_state_up, \
    status, mac_address, device_id, device_owner, port_security_enabled, binding_host_id, \
    binding_vnic_type, binding_profile, security_groups, allowed_address_pairs, \
    extra_dhcp_opts, revision_number, created_at, updated_at";

fn decode<T: serde::de::DeserializeOwned>(r: &AnyRow, col: &str) -> Result<T, sqlx::Error> {
    let s: String = r.try_get(col)?;
    serde_json::from_str(&s).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn encode<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

pub fn from_row(r: &AnyRow) -> Result<PortRow, sqlx::Error> {
    Ok(PortRow {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        network_id: r.try_get("network_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        admin_state_up: i2b(r.try_get("admin_state_up")?),
        status: r.try_get("status")?,
        mac_address: r.try_get("mac_address")?,
        device_id: r.try_get("device_id")?,
        device_owner: r.try_get("device_owner")?,
        port_security_enabled: i2b(r.try_get("port_security_enabled")?),
        binding_host_id: r.try_get("binding_host_id")?,
        binding_vnic_type: r.try_get("binding_vnic_type")?,
        binding_profile: decode(r, "binding_profile")?,
        security_groups: decode(r, "security_groups")?,
        allowed_address_pairs: decode(r, "allowed_address_pairs")?,
        extra_dhcp_opts: decode(r, "extra_dhcp_opts")?,
        revision_number: r.try_get("revision_number")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn get<'c, E>(conn: E, id: &str) -> Result<Option<PortRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM ports WHERE id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The ports of a network, oldest first.
pub async fn of_network(conn: &mut Conn, network_id: &str) -> Result<Vec<PortRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM ports WHERE network_id = $1 ORDER BY created_at, id");
    let rows = sqlx::query(&sql)
        .bind(network_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// The ports of a device (a router's interfaces), oldest first.
pub async fn of_device(conn: &mut Conn, device_id: &str) -> Result<Vec<PortRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM ports WHERE device_id = $1 ORDER BY created_at, id");
    let rows = sqlx::query(&sql)
        .bind(device_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Inserts `p`; a unique violation means its MAC is taken on the network.
pub async fn insert(conn: &mut Conn, p: &PortRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ports (id, project_id, network_id, name, description, admin_state_up, \
         status, mac_address, device_id, device_owner, port_security_enabled, binding_host_id, \
         binding_vnic_type, binding_profile, security_groups, allowed_address_pairs, \
         extra_dhcp_opts, revision_number, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, \
         $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
    )
    .bind(&p.id)
    .bind(&p.project_id)
    .bind(&p.network_id)
    .bind(&p.name)
    .bind(&p.description)
    .bind(b2i(p.admin_state_up))
    .bind(&p.status)
    .bind(&p.mac_address)
    .bind(&p.device_id)
    .bind(&p.device_owner)
    .bind(b2i(p.port_security_enabled))
    .bind(&p.binding_host_id)
    .bind(&p.binding_vnic_type)
    .bind(encode(&p.binding_profile))
    .bind(encode(&p.security_groups))
    .bind(encode(&p.allowed_address_pairs))
    .bind(encode(&p.extra_dhcp_opts))
    .bind(p.revision_number)
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes every changeable attribute if the row is still at
/// `p.revision_number - 1`; false when it moved on or is gone.
pub async fn update(conn: &mut Conn, p: &PortRow) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE ports SET name = $1, description = $2, admin_state_up = $3, status = $4, \
         mac_address = $5, device_id = $6, device_owner = $7, port_security_enabled = $8, \
         binding_host_id = $9, binding_vnic_type = $10, binding_profile = $11, \
         security_groups = $12, allowed_address_pairs = $13, extra_dhcp_opts = $14, \
         revision_number = $15, updated_at = $16 WHERE id = $17 AND revision_number = $18",
    )
    .bind(&p.name)
    .bind(&p.description)
    .bind(b2i(p.admin_state_up))
    .bind(&p.status)
    .bind(&p.mac_address)
    .bind(&p.device_id)
    .bind(&p.device_owner)
    .bind(b2i(p.port_security_enabled))
    .bind(&p.binding_host_id)
    .bind(&p.binding_vnic_type)
    .bind(encode(&p.binding_profile))
    .bind(encode(&p.security_groups))
    .bind(encode(&p.allowed_address_pairs))
    .bind(encode(&p.extra_dhcp_opts))
    .bind(p.revision_number)
    .bind(p.updated_at)
    .bind(&p.id)
    .bind(p.revision_number - 1)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Bumps the revision of a port whose tags or addresses changed.
pub async fn touch(conn: &mut Conn, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    super::touch_row(conn, "ports", id, now).await
}

pub async fn delete(conn: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    note_release();
    sqlx::query("DELETE FROM ipallocations WHERE port_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let r = sqlx::query("DELETE FROM ports WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Whether `mac` is taken on the network.
pub async fn mac_taken(conn: &mut Conn, network_id: &str, mac: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("SELECT id FROM ports WHERE network_id = $1 AND mac_address = $2")
        .bind(network_id)
        .bind(mac)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(r.is_some())
}

/// One address of a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub subnet_id: String,
    pub ip_address: String,
}

/// The addresses of each of `ports`, in the order given.
pub async fn allocations_of(
    conn: &mut Conn,
    ports: &[String],
) -> Result<HashMap<String, Vec<Allocation>>, sqlx::Error> {
    let mut out: HashMap<String, Vec<Allocation>> = HashMap::new();
    if ports.is_empty() {
        return Ok(out);
    }
    for chunk in ports.chunks(super::tags::IN_CHUNK) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT port_id, subnet_id, ip_address FROM ipallocations WHERE port_id IN ({}) \
             ORDER BY position",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for p in chunk {
            q = q.bind(p);
        }
        for r in q.fetch_all(&mut *conn).await? {
            out.entry(r.try_get("port_id")?)
                .or_default()
                .push(Allocation {
                    subnet_id: r.try_get("subnet_id")?,
                    ip_address: r.try_get("ip_address")?,
                });
        }
    }
    Ok(out)
}

/// How many times this process has released addresses. IPAM's cursors
/// (`app::ports`) are only trusted while it stays where they were set: a
/// release may have freed an address below one, which must be given
/// again before higher ones.
pub static RELEASES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn note_release() {
    RELEASES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// Whether `ip_address` is taken on a subnet (one primary-key lookup).
pub async fn is_taken(
    conn: &mut Conn,
    subnet_id: &str,
    ip_address: &str,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("SELECT 1 FROM ipallocations WHERE subnet_id = $1 AND ip_address = $2")
        .bind(subnet_id)
        .bind(ip_address)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(r.is_some())
}

/// The addresses taken on a subnet.
pub async fn taken_in(conn: &mut Conn, subnet_id: &str) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query("SELECT ip_address FROM ipallocations WHERE subnet_id = $1")
        .bind(subnet_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(|r| r.try_get("ip_address")).collect()
}

/// Records an address of a port; a unique violation means it is taken.
pub async fn allocate(
    conn: &mut Conn,
    port: &PortRow,
    a: &Allocation,
    position: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ipallocations (subnet_id, ip_address, port_id, network_id, position) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&a.subnet_id)
    .bind(&a.ip_address)
    .bind(&port.id)
    .bind(&port.network_id)
    .bind(position)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Releases every address of a port.
pub async fn release_all(conn: &mut Conn, port_id: &str) -> Result<(), sqlx::Error> {
    note_release();
    sqlx::query("DELETE FROM ipallocations WHERE port_id = $1")
        .bind(port_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Releases the addresses a port holds on one subnet.
pub async fn release_on_subnet(
    conn: &mut Conn,
    port_id: &str,
    subnet_id: &str,
) -> Result<(), sqlx::Error> {
    note_release();
    sqlx::query("DELETE FROM ipallocations WHERE port_id = $1 AND subnet_id = $2")
        .bind(port_id)
        .bind(subnet_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The ports holding an address on a subnet, with their owners.
pub async fn on_subnet(
    conn: &mut Conn,
    subnet_id: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT DISTINCT p.id, p.device_owner FROM ports p JOIN ipallocations a \
         ON a.port_id = p.id WHERE a.subnet_id = $1",
    )
    .bind(subnet_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("device_owner")?)))
        .collect()
}

/// How many addresses a port holds.
pub async fn allocation_count(conn: &mut Conn, port_id: &str) -> Result<i64, sqlx::Error> {
    let r = sqlx::query("SELECT COUNT(*) AS n FROM ipallocations WHERE port_id = $1")
        .bind(port_id)
        .fetch_one(&mut *conn)
        .await?;
    r.try_get("n")
}

/// A page of ports.
pub async fn list(
    pool: &db::sqlx::AnyPool,
    q: &ListQuery,
) -> Result<Vec<PortRow>, db::list::ListError> {
    Ok(super::list_rows(pool, q, from_row).await?.0)
}

/// The router's gateway port (device_owner `network:router_gateway`), if
/// it has one.
pub async fn gateway_of<'c, E>(conn: E, router_id: &str) -> Result<Option<PortRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = format!(
        "SELECT {COLUMNS} FROM ports WHERE device_id = $1 AND device_owner = 'network:router_gateway'"
    );
    sqlx::query(&sql)
        .bind(router_id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

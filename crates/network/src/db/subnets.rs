//! `subnets`: one row per subnet; pools, DNS servers and host routes as
//! JSON text.

use super::Conn;
use db::b2i;
use db::i2b;
use db::list::ListQuery;
use db::sqlx::{self, any::AnyRow, Row};
use std::collections::HashMap;

/// A subnet row; the list attributes already decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetRow {
    pub id: String,
    pub project_id: String,
    pub network_id: String,
    pub name: String,
    pub description: String,
    pub ip_version: i64,
    pub cidr: String,
    pub gateway_ip: Option<String>,
    pub enable_dhcp: bool,
    pub ipv6_ra_mode: Option<String>,
    pub ipv6_address_mode: Option<String>,
    pub subnetpool_id: Option<String>,
    /// `(start, end)` pairs.
    pub allocation_pools: Vec<(String, String)>,
    pub dns_nameservers: Vec<String>,
    /// `(destination, nexthop)` pairs.
    pub host_routes: Vec<(String, String)>,
    pub revision_number: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub const COLUMNS: &str = "id, project_id, network_id, name, description, ip_version, cidr, \
    gateway_ip, enable_dhcp, ipv6_ra_mode, ipv6_address_mode, subnetpool_id, allocation_pools, \
    dns_nameservers, host_routes, revision_number, created_at, updated_at";

fn decode<T: serde::de::DeserializeOwned>(r: &AnyRow, col: &str) -> Result<T, sqlx::Error> {
    let s: String = r.try_get(col)?;
    serde_json::from_str(&s).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn encode<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

pub fn from_row(r: &AnyRow) -> Result<SubnetRow, sqlx::Error> {
    Ok(SubnetRow {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        network_id: r.try_get("network_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        ip_version: r.try_get("ip_version")?,
        cidr: r.try_get("cidr")?,
        gateway_ip: r.try_get("gateway_ip")?,
        enable_dhcp: i2b(r.try_get("enable_dhcp")?),
        ipv6_ra_mode: r.try_get("ipv6_ra_mode")?,
        ipv6_address_mode: r.try_get("ipv6_address_mode")?,
        subnetpool_id: r.try_get("subnetpool_id")?,
        allocation_pools: decode(r, "allocation_pools")?,
        dns_nameservers: decode(r, "dns_nameservers")?,
        host_routes: decode(r, "host_routes")?,
        revision_number: r.try_get("revision_number")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn get<'c, E>(conn: E, id: &str) -> Result<Option<SubnetRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM subnets WHERE id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The subnets of a network, oldest first.
pub async fn of_network<'c, E>(conn: E, network_id: &str) -> Result<Vec<SubnetRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql =
        format!("SELECT {COLUMNS} FROM subnets WHERE network_id = $1 ORDER BY created_at, id");
    let rows = sqlx::query(&sql).bind(network_id).fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// The subnet ids of each of `networks`, oldest first.
pub async fn ids_by_network<'c, E>(
    conn: E,
    networks: &[String],
) -> Result<HashMap<String, Vec<String>>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    if networks.is_empty() {
        return Ok(out);
    }
    let marks: Vec<String> = (1..=networks.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT id, network_id FROM subnets WHERE network_id IN ({}) ORDER BY created_at, id",
        marks.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for n in networks {
        q = q.bind(n);
    }
    for r in q.fetch_all(conn).await? {
        let id: String = r.try_get("id")?;
        let net: String = r.try_get("network_id")?;
        out.entry(net).or_default().push(id);
    }
    Ok(out)
}

pub async fn insert(conn: &mut Conn, s: &SubnetRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO subnets (id, project_id, network_id, name, description, ip_version, cidr, \
         gateway_ip, enable_dhcp, ipv6_ra_mode, ipv6_address_mode, subnetpool_id, \
         allocation_pools, dns_nameservers, host_routes, revision_number, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
         $16, $17, $18)",
    )
    .bind(&s.id)
    .bind(&s.project_id)
    .bind(&s.network_id)
    .bind(&s.name)
    .bind(&s.description)
    .bind(s.ip_version)
    .bind(&s.cidr)
    .bind(&s.gateway_ip)
    .bind(b2i(s.enable_dhcp))
    .bind(&s.ipv6_ra_mode)
    .bind(&s.ipv6_address_mode)
    .bind(&s.subnetpool_id)
    .bind(encode(&s.allocation_pools))
    .bind(encode(&s.dns_nameservers))
    .bind(encode(&s.host_routes))
    .bind(s.revision_number)
    .bind(s.created_at)
    .bind(s.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes the changeable attributes if the row is still at
/// `s.revision_number - 1`; false when it moved on or is gone.
pub async fn update(conn: &mut Conn, s: &SubnetRow) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE subnets SET name = $1, description = $2, gateway_ip = $3, enable_dhcp = $4, \
         allocation_pools = $5, dns_nameservers = $6, host_routes = $7, revision_number = $8, \
         updated_at = $9 WHERE id = $10 AND revision_number = $11",
    )
    .bind(&s.name)
    .bind(&s.description)
    .bind(&s.gateway_ip)
    .bind(b2i(s.enable_dhcp))
    .bind(encode(&s.allocation_pools))
    .bind(encode(&s.dns_nameservers))
    .bind(encode(&s.host_routes))
    .bind(s.revision_number)
    .bind(s.updated_at)
    .bind(&s.id)
    .bind(s.revision_number - 1)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Bumps the revision of a subnet whose tags changed.
pub async fn touch(conn: &mut Conn, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    super::touch_row(conn, "subnets", id, now).await
}

pub async fn delete(conn: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    super::delete_row(conn, "subnets", id).await
}

/// A page of subnets.
pub async fn list(
    pool: &db::sqlx::AnyPool,
    q: &ListQuery,
) -> Result<Vec<SubnetRow>, db::list::ListError> {
    Ok(super::list_rows(pool, q, from_row).await?.0)
}

//! Whole-cloud reads for the agent feed (every network, subnet, port,
//! address, router, floating IP and port forwarding at once: a node's
//! document is cut from this snapshot), and the port status the nodes'
//! reports set.

use super::floatingips::{self, FloatingIpRow};
use super::networks::{self, NetworkRow};
use super::port_forwardings::{self, PortForwardingRow};
use super::ports::{self, Allocation, PortRow};
use super::routers::{self, RouterRow};
use super::subnets::{self, SubnetRow};
use super::Conn;
use db::sqlx::{self, Row};
use std::collections::HashMap;

/// Everything the feed is built from, read in one transaction so its
/// parts agree with each other.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub networks: Vec<NetworkRow>,
    pub subnets: Vec<SubnetRow>,
    pub ports: Vec<PortRow>,
    /// Each port's addresses, in allocation order.
    pub allocations: HashMap<String, Vec<Allocation>>,
    pub routers: Vec<RouterRow>,
    pub floatingips: Vec<FloatingIpRow>,
    pub port_forwardings: Vec<PortForwardingRow>,
}

pub async fn snapshot(conn: &mut Conn) -> Result<Snapshot, sqlx::Error> {
    let networks = sqlx::query(&format!(
        "SELECT {} FROM networks ORDER BY id",
        networks::COLUMNS
    ))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(networks::from_row)
    .collect::<Result<Vec<_>, _>>()?;
    let subnets = sqlx::query(&format!(
        "SELECT {} FROM subnets ORDER BY network_id, created_at, id",
        subnets::COLUMNS
    ))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(subnets::from_row)
    .collect::<Result<Vec<_>, _>>()?;
    let ports = sqlx::query(&format!("SELECT {} FROM ports ORDER BY id", ports::COLUMNS))
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(ports::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let mut allocations: HashMap<String, Vec<Allocation>> = HashMap::new();
    for r in sqlx::query(
        "SELECT port_id, subnet_id, ip_address FROM ipallocations ORDER BY port_id, position",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        allocations
            .entry(r.try_get("port_id")?)
            .or_default()
            .push(Allocation {
                subnet_id: r.try_get("subnet_id")?,
                ip_address: r.try_get("ip_address")?,
            });
    }
    let routers = sqlx::query(&format!(
        "SELECT {} FROM routers ORDER BY id",
        routers::COLUMNS
    ))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(routers::from_row)
    .collect::<Result<Vec<_>, _>>()?;
    let floatingips = floatingips::all(&mut *conn).await?;
    let port_forwardings = port_forwardings::all(&mut *conn).await?;
    Ok(Snapshot {
        networks,
        subnets,
        ports,
        allocations,
        routers,
        floatingips,
        port_forwardings,
    })
}

/// Sets a port's status from a node's report, bumping its revision, when
/// it differs; false when it already had it (or is gone).
pub async fn set_port_status(
    conn: &mut Conn,
    id: &str,
    status: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE ports SET status = $1, revision_number = revision_number + 1, \
         updated_at = $2 WHERE id = $3 AND status <> $1",
    )
    .bind(status)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Of `ids`, the ports whose status is not `status` (the rest need no
/// write): a node reports every port it holds each time, and usually at
/// most one differs, so one query per `IN` chunk replaces a read per
/// reported port.
pub async fn ports_not_in_status(
    conn: &mut Conn,
    ids: &[&str],
    status: &str,
) -> Result<Vec<PortRow>, sqlx::Error> {
    let mut out = Vec::new();
    for chunk in ids.chunks(super::tags::IN_CHUNK) {
        let marks: Vec<String> = (2..=chunk.len() + 1).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {} FROM ports WHERE status <> $1 AND id IN ({})",
            ports::COLUMNS,
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(status);
        for id in chunk {
            q = q.bind(*id);
        }
        for r in q.fetch_all(&mut *conn).await? {
            out.push(ports::from_row(&r)?);
        }
    }
    Ok(out)
}

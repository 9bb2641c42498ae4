//! `compute_services`: the administrative state of each service
//! (`nova-compute` on a compute host, `nova-scheduler`, `nova-conductor`)
//! and its ids. Rows are made when a service is first listed.

use db::sqlx::{self, Row};

pub type Conn = db::sqlx::AnyConnection;

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRow {
    pub id: String,
    pub legacy_id: i64,
    pub host: String,
    pub binary: String,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    pub forced_down: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, legacy_id, host, binary_name, disabled, disabled_reason, \
                       forced_down, created_at, updated_at";

fn row(r: &db::sqlx::any::AnyRow) -> Result<ServiceRow, sqlx::Error> {
    Ok(ServiceRow {
        id: r.try_get("id")?,
        legacy_id: r.try_get("legacy_id")?,
        host: r.try_get("host")?,
        binary: r.try_get("binary_name")?,
        disabled: db::i2b(r.try_get("disabled")?),
        disabled_reason: r.try_get("disabled_reason")?,
        forced_down: db::i2b(r.try_get("forced_down")?),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn all<'c, E>(conn: E) -> Result<Vec<ServiceRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM compute_services ORDER BY legacy_id"
    ))
    .fetch_all(conn)
    .await?;
    rows.iter().map(row).collect()
}

/// Adds the row of `(host, binary)` unless there is one. Writers take
/// one lock first, so two first listings cannot both add it or take the
/// same `legacy_id`.
pub async fn ensure(
    conn: &mut Conn,
    host: &str,
    binary: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    super::quotas::lock(conn, "compute-services").await?;
    let exists =
        sqlx::query("SELECT id FROM compute_services WHERE host = $1 AND binary_name = $2")
            .bind(host)
            .bind(binary)
            .fetch_optional(&mut *conn)
            .await?
            .is_some();
    if exists {
        return Ok(());
    }
    let next: i64 = sqlx::query(
        "SELECT CAST(COALESCE(MAX(legacy_id), 0) + 1 AS BIGINT) AS n FROM compute_services",
    )
    .fetch_one(&mut *conn)
    .await?
    .try_get("n")?;
    sqlx::query(
        "INSERT INTO compute_services (id, legacy_id, host, binary_name, disabled, \
         disabled_reason, forced_down, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 0, NULL, 0, $5, $5)",
    )
    .bind(common::ids::uuid())
    .bind(next)
    .bind(host)
    .bind(binary)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Sets the administrative state of one service; false when there is no
/// such row.
pub async fn update(conn: &mut Conn, s: &ServiceRow) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE compute_services SET disabled = $1, disabled_reason = $2, forced_down = $3, \
         updated_at = $4 WHERE id = $5",
    )
    .bind(db::b2i(s.disabled))
    .bind(s.disabled_reason.clone())
    .bind(db::b2i(s.forced_down))
    .bind(s.updated_at)
    .bind(&s.id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete(conn: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM compute_services WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Per host: live servers and the vCPUs, MiB and GiB they hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostUsage {
    pub host: String,
    pub running_vms: i64,
    pub vcpus: i64,
    pub memory_mb: i64,
    pub disk_gb: i64,
}

pub async fn host_usage<'c, E>(conn: E) -> Result<Vec<HostUsage>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let rows = sqlx::query(
        "SELECT host, COUNT(*) AS n, CAST(COALESCE(SUM(vcpus), 0) AS BIGINT) AS c, \
         CAST(COALESCE(SUM(memory_mb), 0) AS BIGINT) AS m, \
         CAST(COALESCE(SUM(root_gb + ephemeral_gb), 0) AS BIGINT) AS d \
         FROM compute_instances WHERE deleted_at IS NULL AND host IS NOT NULL GROUP BY host",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(HostUsage {
                host: r.try_get("host")?,
                running_vms: r.try_get("n")?,
                vcpus: r.try_get("c")?,
                memory_mb: r.try_get("m")?,
                disk_gb: r.try_get("d")?,
            })
        })
        .collect()
}

/// Live servers on `host`: `(id, name)`.
pub async fn servers_on<'c, E>(conn: E, host: &str) -> Result<Vec<(String, String)>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let rows = sqlx::query(
        "SELECT id, name FROM compute_instances WHERE deleted_at IS NULL AND host = $1 \
         ORDER BY created_at, id",
    )
    .bind(host)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
        .collect()
}

/// Per project on `host`: its live servers' vCPUs, MiB and GiB (the
/// project id in `HostUsage::host`).
pub async fn project_usage_on<'c, E>(conn: E, host: &str) -> Result<Vec<HostUsage>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let rows = sqlx::query(
        "SELECT project_id, COUNT(*) AS n, CAST(COALESCE(SUM(vcpus), 0) AS BIGINT) AS c, \
         CAST(COALESCE(SUM(memory_mb), 0) AS BIGINT) AS m, \
         CAST(COALESCE(SUM(root_gb + ephemeral_gb), 0) AS BIGINT) AS d \
         FROM compute_instances WHERE deleted_at IS NULL AND host = $1 \
         GROUP BY project_id ORDER BY project_id",
    )
    .bind(host)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(HostUsage {
                host: r.try_get("project_id")?,
                running_vms: r.try_get("n")?,
                vcpus: r.try_get("c")?,
                memory_mb: r.try_get("m")?,
                disk_gb: r.try_get("d")?,
            })
        })
        .collect()
}

//! `compute_flavors` and its two side tables: extra specs and the
//! projects a private flavor is offered to. Reads take the pool, writes a
//! write transaction's connection; no rules live here.

use super::Conn;
use db::list::{Bind, Kind, ListError, ListQuery};
use db::sqlx::{self, any::AnyRow, AnyPool, Row};
use db::Db;
use std::collections::BTreeMap;

/// A flavor as stored, with its extra specs.
#[derive(Debug, Clone, PartialEq)]
pub struct Flavor {
    pub flavorid: String,
    pub name: String,
    pub memory_mb: i64,
    pub vcpus: i64,
    pub root_gb: i64,
    pub ephemeral_gb: i64,
    pub swap: i64,
    pub rxtx_factor: f64,
    pub is_public: bool,
    pub disabled: bool,
    pub description: Option<String>,
    pub created_at: i64,
    pub updated_at: Option<i64>,
    pub extra_specs: BTreeMap<String, String>,
}

const COLS: &str = "flavorid, name, memory_mb, vcpus, root_gb, ephemeral_gb, swap, rxtx_factor, \
                    is_public, disabled, description, created_at, updated_at";

/// Who is asking: an admin sees every flavor, a project its public ones
/// and the private ones offered to it (Nova's `_flavor_get_query_from_db`).
#[derive(Debug, Clone, Copy)]
pub enum Viewer<'a> {
    Admin,
    Project(Option<&'a str>),
}

const VISIBLE: &str = "(is_public = 1 OR flavorid IN \
     (SELECT flavorid FROM compute_flavor_projects WHERE project_id = ?))";

fn row(r: &AnyRow) -> Result<Flavor, sqlx::Error> {
    Ok(Flavor {
        flavorid: r.try_get("flavorid")?,
        name: r.try_get("name")?,
        memory_mb: r.try_get("memory_mb")?,
        vcpus: r.try_get("vcpus")?,
        root_gb: r.try_get("root_gb")?,
        ephemeral_gb: r.try_get("ephemeral_gb")?,
        swap: r.try_get("swap")?,
        rxtx_factor: r.try_get("rxtx_factor")?,
        is_public: db::i2b(r.try_get("is_public")?),
        disabled: db::i2b(r.try_get("disabled")?),
        description: r.try_get("description")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        extra_specs: BTreeMap::new(),
    })
}

/// The flavor `flavorid` if `viewer` may see it, with its extra specs.
pub async fn get(
    pool: &AnyPool,
    flavorid: &str,
    viewer: Viewer<'_>,
) -> Result<Option<Flavor>, sqlx::Error> {
    let r = match viewer {
        Viewer::Admin => {
            sqlx::query(&format!(
                "SELECT {COLS} FROM compute_flavors WHERE flavorid = $1"
            ))
            .bind(flavorid)
            .fetch_optional(pool)
            .await?
        }
        Viewer::Project(p) => {
            sqlx::query(&format!(
                "SELECT {COLS} FROM compute_flavors WHERE flavorid = $1 AND (is_public = 1 OR \
                 flavorid IN (SELECT flavorid FROM compute_flavor_projects WHERE project_id = $2))"
            ))
            .bind(flavorid)
            .bind(p.unwrap_or(""))
            .fetch_optional(pool)
            .await?
        }
    };
    let Some(r) = r else { return Ok(None) };
    let mut f = row(&r)?;
    f.extra_specs = extra_specs(pool, flavorid).await?;
    Ok(Some(f))
}

/// A list request's filters and paging, already validated.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub min_memory_mb: Option<i64>,
    pub min_root_gb: Option<i64>,
    /// `Some(false)` hides disabled flavors.
    pub disabled: Option<bool>,
    /// `Some(true)`: public ones and those offered to `project`;
    /// `Some(false)`: private ones only; `None`: both.
    pub is_public: Option<bool>,
    pub project: Option<String>,
    /// A Nova sort key (one of `SORT_KEYS`).
    pub sort_key: String,
    pub asc: bool,
    pub limit: Option<usize>,
    pub marker: Option<String>,
}

/// Nova's flavor sort keys and the column (or expression) each orders by.
/// Nova's internal integer `id` follows creation; `rxtx_factor` is a float,
/// compared in millionths so the keyset paging can read it as an integer.
pub const SORT_KEYS: &[(&str, &str, Kind, bool)] = &[
    ("created_at", "created_at", Kind::Int, false),
    ("description", "description", Kind::Text, true),
    ("disabled", "disabled", Kind::Int, false),
    ("ephemeral_gb", "ephemeral_gb", Kind::Int, false),
    ("flavorid", "flavorid", Kind::Text, false),
    ("id", "created_at", Kind::Int, false),
    ("is_public", "is_public", Kind::Int, false),
    ("memory_mb", "memory_mb", Kind::Int, false),
    ("name", "name", Kind::Text, false),
    ("root_gb", "root_gb", Kind::Int, false),
    (
        "rxtx_factor",
        "CAST(rxtx_factor * 1000000 AS BIGINT)",
        Kind::Int,
        false,
    ),
    ("swap", "swap", Kind::Int, false),
    ("updated_at", "updated_at", Kind::Int, true),
    ("vcpu_weight", "vcpu_weight", Kind::Int, true),
    ("vcpus", "vcpus", Kind::Int, false),
];

/// One page of the flavors `viewer` may see, and the next page's marker.
pub async fn list(
    db: &Db,
    f: &ListFilter,
    viewer: Viewer<'_>,
) -> Result<(Vec<Flavor>, Option<String>), ListError> {
    let mut q = ListQuery::new(db.kind, "compute_flavors", COLS, "flavorid");
    if let Viewer::Project(p) = viewer {
        q.filter(VISIBLE, [Bind::from(p.unwrap_or(""))]);
    }
    if let Some(m) = f.min_memory_mb {
        q.filter("memory_mb >= ?", [Bind::Int(m)]);
    }
    if let Some(m) = f.min_root_gb {
        q.filter("root_gb >= ?", [Bind::Int(m)]);
    }
    if let Some(d) = f.disabled {
        q.filter("disabled = ?", [Bind::Int(db::b2i(d))]);
    }
    match (f.is_public, f.project.as_deref()) {
        (Some(true), Some(p)) => {
            q.filter(VISIBLE, [Bind::from(p)]);
        }
        (Some(p), _) => {
            q.filter("is_public = ?", [Bind::Int(db::b2i(p))]);
        }
        (None, _) => {}
    }
    if let Some((_, col, kind, nullable)) = SORT_KEYS.iter().find(|k| k.0 == f.sort_key) {
        q.sort_by(col, *kind, *nullable, f.asc);
    }
    q.limit(f.limit).marker(f.marker.as_deref());
    let page = q.fetch(&db.pool).await?;
    let mut flavors: Vec<Flavor> = page.rows.iter().map(row).collect::<Result<_, _>>()?;
    for fl in &mut flavors {
        fl.extra_specs = extra_specs(&db.pool, &fl.flavorid).await?;
    }
    Ok((flavors, page.next_marker))
}

pub async fn name_taken(c: &mut Conn, name: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("SELECT 1 AS one FROM compute_flavors WHERE name = $1")
            .bind(name)
            .fetch_optional(c)
            .await?
            .is_some(),
    )
}

pub async fn id_taken(c: &mut Conn, flavorid: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("SELECT 1 AS one FROM compute_flavors WHERE flavorid = $1")
            .bind(flavorid)
            .fetch_optional(c)
            .await?
            .is_some(),
    )
}

/// Inserts `f` (without its extra specs); `ON CONFLICT DO NOTHING` when
/// `if_absent`, so a flavor whose id or name is taken is left alone.
/// Whether a row was written.
pub async fn insert(c: &mut Conn, f: &Flavor, if_absent: bool) -> Result<bool, sqlx::Error> {
    let tail = if if_absent {
        " ON CONFLICT DO NOTHING"
    } else {
        ""
    };
    let n = sqlx::query(&format!(
        "INSERT INTO compute_flavors ({COLS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13){tail}"
    ))
    .bind(&f.flavorid)
    .bind(&f.name)
    .bind(f.memory_mb)
    .bind(f.vcpus)
    .bind(f.root_gb)
    .bind(f.ephemeral_gb)
    .bind(f.swap)
    .bind(f.rxtx_factor)
    .bind(db::b2i(f.is_public))
    .bind(db::b2i(f.disabled))
    .bind(&f.description)
    .bind(f.created_at)
    .bind(f.updated_at)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn set_description(
    c: &mut Conn,
    flavorid: &str,
    description: Option<&str>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE compute_flavors SET description = $2, updated_at = $3 WHERE flavorid = $1",
    )
    .bind(flavorid)
    .bind(description)
    .bind(now)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Deletes the flavor with its extra specs and access list.
pub async fn delete(c: &mut Conn, flavorid: &str) -> Result<bool, sqlx::Error> {
    sqlx::query("DELETE FROM compute_flavor_extra_specs WHERE flavorid = $1")
        .bind(flavorid)
        .execute(&mut *c)
        .await?;
    sqlx::query("DELETE FROM compute_flavor_projects WHERE flavorid = $1")
        .bind(flavorid)
        .execute(&mut *c)
        .await?;
    let n = sqlx::query("DELETE FROM compute_flavors WHERE flavorid = $1")
        .bind(flavorid)
        .execute(&mut *c)
        .await?
        .rows_affected();
    Ok(n == 1)
}

pub async fn extra_specs(
    pool: &AnyPool,
    flavorid: &str,
) -> Result<BTreeMap<String, String>, sqlx::Error> {
    sqlx::query("SELECT spec_key, spec_value FROM compute_flavor_extra_specs WHERE flavorid = $1")
        .bind(flavorid)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("spec_key")?, r.try_get("spec_value")?)))
        .collect()
}

/// Sets `key` to `value`, replacing an earlier value.
pub async fn set_extra_spec(
    c: &mut Conn,
    flavorid: &str,
    key: &str,
    value: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO compute_flavor_extra_specs (flavorid, spec_key, spec_value) \
         VALUES ($1, $2, $3) \
         ON CONFLICT (flavorid, spec_key) DO UPDATE SET spec_value = excluded.spec_value",
    )
    .bind(flavorid)
    .bind(key)
    .bind(value)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn delete_extra_spec(
    c: &mut Conn,
    flavorid: &str,
    key: &str,
) -> Result<bool, sqlx::Error> {
    let n =
        sqlx::query("DELETE FROM compute_flavor_extra_specs WHERE flavorid = $1 AND spec_key = $2")
            .bind(flavorid)
            .bind(key)
            .execute(c)
            .await?
            .rows_affected();
    Ok(n == 1)
}

/// The projects a flavor is offered to, by project id.
pub async fn projects(pool: &AnyPool, flavorid: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query(
        "SELECT project_id FROM compute_flavor_projects WHERE flavorid = $1 ORDER BY project_id",
    )
    .bind(flavorid)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| r.try_get("project_id"))
    .collect()
}

/// Offers the flavor to `project_id`; false when it already was.
pub async fn add_project(
    c: &mut Conn,
    flavorid: &str,
    project_id: &str,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "INSERT INTO compute_flavor_projects (flavorid, project_id) VALUES ($1, $2) \
         ON CONFLICT DO NOTHING",
    )
    .bind(flavorid)
    .bind(project_id)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn remove_project(
    c: &mut Conn,
    flavorid: &str,
    project_id: &str,
) -> Result<bool, sqlx::Error> {
    let n =
        sqlx::query("DELETE FROM compute_flavor_projects WHERE flavorid = $1 AND project_id = $2")
            .bind(flavorid)
            .bind(project_id)
            .execute(c)
            .await?
            .rows_affected();
    Ok(n == 1)
}

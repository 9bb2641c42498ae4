//! Reading `compute_migrations` as `GET /os-migrations` and
//! `/servers/{id}/migrations` show it (filters, paging by the newest
//! first), and the destination a migration was scheduled to. Rows are
//! written by the resize, cold- and live-migration flows
//! (`db::server_lifecycle::insert_migration`).

use super::server_lifecycle::{self as lc, MigrationRow};
use db::sqlx::{self, any::AnyRow, Row};

/// A migration with what only the API shows of it.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationRecord {
    pub row: MigrationRow,
    /// Nova's integer `id`.
    pub legacy_id: i64,
    pub source_node: Option<String>,
    pub dest_node: Option<String>,
    /// The destination's address (`dest_host`).
    pub dest_host: Option<String>,
}

fn from_row(r: &AnyRow) -> Result<MigrationRecord, sqlx::Error> {
    Ok(MigrationRecord {
        row: lc::from_row(r)?,
        legacy_id: r.try_get("legacy_id")?,
        source_node: r.try_get("source_node")?,
        dest_node: r.try_get("dest_node")?,
        dest_host: r.try_get("dest_host")?,
    })
}

/// `GET /os-migrations`' filters (Nova's `migration_get_all_by_filters`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Source or destination host.
    pub host: Option<String>,
    pub source_compute: Option<String>,
    pub status: Option<String>,
    pub migration_type: Option<String>,
    pub instance_uuid: Option<String>,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    /// `updated_at >=` (micros).
    pub changes_since: Option<i64>,
    /// `updated_at <=` (micros).
    pub changes_before: Option<i64>,
}

/// How a listing is ordered and cut.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// Newest first (`created_at`, `id` descending) as from 2.59; oldest
    /// first otherwise, as Nova's unsorted query returns them.
    pub newest_first: bool,
    /// Only the rows after this one (its `created_at` and integer id).
    pub after: Option<(i64, i64)>,
    pub limit: Option<i64>,
}

enum Bind {
    Text(String),
    Int(i64),
}

/// A WHERE clause built as it goes: each `?` becomes the next `$n`.
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    binds: Vec<Bind>,
}

impl Where {
    fn add(&mut self, sql: &str, values: Vec<Bind>) {
        let mut out = String::new();
        let mut values = values.into_iter();
        for ch in sql.chars() {
            if ch == '?' {
                if let Some(v) = values.next() {
                    self.binds.push(v);
                }
                out.push_str(&format!("${}", self.binds.len()));
            } else {
                out.push(ch);
            }
        }
        self.clauses.push(out);
    }
}

/// The migrations `f` selects, in `page`'s order.
pub async fn list<'c, E>(
    conn: E,
    f: &Filter,
    page: &Page,
) -> Result<Vec<MigrationRecord>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let mut w = Where::default();
    let t = |v: &str| Bind::Text(v.to_string());
    if let Some(h) = &f.host {
        w.add("(source_compute = ? OR dest_compute = ?)", vec![t(h), t(h)]);
    } else if let Some(h) = &f.source_compute {
        w.add("source_compute = ?", vec![t(h)]);
    }
    for (col, v) in [
        ("status", &f.status),
        ("migration_type", &f.migration_type),
        ("instance_id", &f.instance_uuid),
        ("user_id", &f.user_id),
        ("project_id", &f.project_id),
    ] {
        if let Some(v) = v {
            w.add(&format!("{col} = ?"), vec![t(v)]);
        }
    }
    if let Some(at) = f.changes_since {
        w.add("updated_at >= ?", vec![Bind::Int(at)]);
    }
    if let Some(at) = f.changes_before {
        w.add("updated_at <= ?", vec![Bind::Int(at)]);
    }
    if let Some((created, id)) = page.after {
        w.add(
            "(created_at < ? OR (created_at = ? AND legacy_id < ?))",
            vec![Bind::Int(created), Bind::Int(created), Bind::Int(id)],
        );
    }
    let mut sql = String::from("SELECT * FROM compute_migrations");
    if !w.clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&w.clauses.join(" AND "));
    }
    sql.push_str(if page.newest_first {
        " ORDER BY created_at DESC, legacy_id DESC"
    } else {
        " ORDER BY legacy_id"
    });
    if let Some(l) = page.limit {
        sql.push_str(&format!(" LIMIT {}", l.max(0)));
    }
    let mut q = sqlx::query(&sql);
    for b in w.binds {
        q = match b {
            Bind::Text(s) => q.bind(s),
            Bind::Int(i) => q.bind(i),
        };
    }
    q.fetch_all(conn).await?.iter().map(from_row).collect()
}

/// One migration by its uuid (the 2.59 marker).
pub async fn get<'c, E>(conn: E, id: &str) -> Result<Option<MigrationRecord>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query("SELECT * FROM compute_migrations WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Migration `legacy_id` of server `instance`.
pub async fn get_of_instance<'c, E>(
    conn: E,
    instance: &str,
    legacy_id: i64,
) -> Result<Option<MigrationRecord>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query("SELECT * FROM compute_migrations WHERE instance_id = $1 AND legacy_id = $2")
        .bind(instance)
        .bind(legacy_id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The host (and its address) migration `id` was scheduled to.
pub async fn set_destination<'c, E>(
    conn: E,
    id: &str,
    host: &str,
    address: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "UPDATE compute_migrations SET dest_compute = $1, dest_node = $2, dest_host = $3, \
         updated_at = $4 WHERE id = $5",
    )
    .bind(host)
    .bind(host)
    .bind(address)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves migration `id` to `status` from whatever it is in.
pub async fn set_status<'c, E>(conn: E, id: &str, status: &str, now: i64) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query("UPDATE compute_migrations SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status)
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

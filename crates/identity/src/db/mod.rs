//! Identity queries, one module per resource. Every function takes either
//! the pool (reads) or a write transaction's connection (writes); none of
//! them decides anything: rules live in `app`.

pub mod access_rules;
pub mod app_creds;
pub mod assignments;
pub mod catalog;
pub mod credentials;
pub mod domain_configs;
pub mod domains;
pub mod endpoint_filter;
pub mod groups;
pub mod oauth1;
pub mod policies;
pub mod projects;
pub mod revocations;
pub mod roles;
pub mod trusts;
pub mod users;

use db::sqlx::any::AnyRow;
use db::sqlx::{AnyConnection, Row};
use serde_json::{Map, Value};

pub type Conn = AnyConnection;

/// The revision-feed counter every identity write bumps in its
/// transaction (see `db::revisions`), so any replica can tell its cached
/// view of identity is stale.
pub const REVISION: &str = "identity";

/// The identity revision in the store.
pub async fn revision(pool: &db::sqlx::AnyPool) -> Result<i64, db::sqlx::Error> {
    db::revisions::current(pool, REVISION).await
}

/// One page of a keyset list (see `db::list`), its rows mapped by `row`.
pub(crate) async fn page<T>(
    pool: &db::sqlx::AnyPool,
    q: &db::list::ListQuery,
    row: impl Fn(&AnyRow) -> Result<T, db::sqlx::Error>,
) -> Result<(Vec<T>, Option<String>), db::list::ListError> {
    let p = q.fetch(pool).await?;
    let items = p.rows.iter().map(row).collect::<Result<_, _>>()?;
    Ok((items, p.next_marker))
}

/// The rows of `select` (a `SELECT … FROM table`) whose `key` column is
/// one of `ids`, in `order`: the tags, roles or links of one page of a
/// list. The ids are bound in chunks, so a page without a limit stays
/// under the engines' bound on parameters per statement (SQLite's 32766,
/// PostgreSQL's 65535); rows are grouped by key afterwards, so order
/// across chunks does not matter.
pub(crate) async fn rows_for(
    pool: &db::sqlx::AnyPool,
    select: &str,
    key: &str,
    ids: &[String],
    order: &str,
) -> Result<Vec<AnyRow>, db::sqlx::Error> {
    const CHUNK: usize = 500;
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "{select} WHERE {key} IN ({}) ORDER BY {order}",
            marks.join(", ")
        );
        let mut q = db::sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id.as_str());
        }
        out.extend(q.fetch_all(pool).await?);
    }
    Ok(out)
}

/// `(key, value)` text pairs of `rows`, grouped by key in row order.
pub(crate) fn grouped(
    rows: &[AnyRow],
    key: &str,
    value: &str,
) -> Result<std::collections::HashMap<String, Vec<String>>, db::sqlx::Error> {
    let mut m: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for r in rows {
        m.entry(s(r, key)?).or_default().push(s(r, value)?);
    }
    Ok(m)
}

/// The page a list request asks for: at most `limit` rows after `marker`.
#[derive(Debug, Clone, Default)]
pub struct Paging<'a> {
    pub limit: Option<usize>,
    pub marker: Option<&'a str>,
}

impl Paging<'_> {
    pub(crate) fn apply(&self, q: &mut db::list::ListQuery) {
        q.limit(self.limit).marker(self.marker);
    }
}

pub(crate) fn s(r: &AnyRow, col: &str) -> Result<String, db::sqlx::Error> {
    r.try_get(col)
}

pub(crate) fn os(r: &AnyRow, col: &str) -> Result<Option<String>, db::sqlx::Error> {
    r.try_get(col)
}

pub(crate) fn i(r: &AnyRow, col: &str) -> Result<i64, db::sqlx::Error> {
    r.try_get(col)
}

pub(crate) fn oi(r: &AnyRow, col: &str) -> Result<Option<i64>, db::sqlx::Error> {
    r.try_get(col)
}

pub(crate) fn b(r: &AnyRow, col: &str) -> Result<bool, db::sqlx::Error> {
    Ok(db::i2b(r.try_get(col)?))
}

/// Extra attributes (stored as a JSON object) that Keystone keeps and
/// returns for resources whose schema allows additional properties.
pub(crate) fn extra(r: &AnyRow, col: &str) -> Result<Map<String, Value>, db::sqlx::Error> {
    let text: String = r.try_get(col)?;
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

pub(crate) fn extra_text(m: &Map<String, Value>) -> String {
    Value::Object(m.clone()).to_string()
}

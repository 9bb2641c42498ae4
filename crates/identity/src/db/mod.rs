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

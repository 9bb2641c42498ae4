//! Object store queries, one module per table. Reads take any executor
//! (the pool, or a transaction's connection when the read must see the
//! transaction's own writes); writes take a write transaction's
//! connection. Nothing here decides anything: rules live in `app`.
//!
//! Container and object names are bound as bytes (`BYTEA` columns), so
//! both engines compare and order them byte by byte, as Swift listings
//! need.

pub mod accounts;
pub mod containers;
pub mod objects;

use db::sqlx::any::AnyRow;
use db::sqlx::{self, AnyConnection, Row};
use std::collections::BTreeMap;

pub type Conn = AnyConnection;

/// Header name (lowercase) → value: the metadata of an account, container
/// or object as stored.
pub type Metadata = BTreeMap<String, String>;

pub(crate) fn s(r: &AnyRow, col: &str) -> Result<String, sqlx::Error> {
    r.try_get(col)
}

pub(crate) fn os(r: &AnyRow, col: &str) -> Result<Option<String>, sqlx::Error> {
    r.try_get(col)
}

pub(crate) fn i(r: &AnyRow, col: &str) -> Result<i64, sqlx::Error> {
    r.try_get(col)
}

pub(crate) fn oi(r: &AnyRow, col: &str) -> Result<Option<i64>, sqlx::Error> {
    r.try_get(col)
}

/// A name column (bytes) as the UTF-8 string it was stored from.
pub(crate) fn name(r: &AnyRow, col: &str) -> Result<String, sqlx::Error> {
    let b: Vec<u8> = r.try_get(col)?;
    String::from_utf8(b).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

pub(crate) fn meta(r: &AnyRow, col: &str) -> Result<Metadata, sqlx::Error> {
    let t: String = r.try_get(col)?;
    serde_json::from_str(&t).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

pub(crate) fn meta_json(m: &Metadata) -> String {
    serde_json::to_string(m).unwrap_or_else(|_| "{}".into())
}

/// One page of a name-ordered listing, as Swift's brokers query it.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Names strictly after (or, with `marker_inclusive`, from) this one.
    pub marker: Option<Vec<u8>>,
    pub marker_inclusive: bool,
    /// Names strictly before this one.
    pub end: Option<Vec<u8>>,
    /// Descending order.
    pub reverse: bool,
    pub limit: i64,
}

impl Page {
    /// ` AND name > $n … ORDER BY … LIMIT $m`, numbering placeholders from
    /// `next`, with the values to bind in order.
    fn clauses(&self, next: usize) -> (String, Vec<Vec<u8>>, usize) {
        let mut sql = String::new();
        let mut binds = Vec::new();
        let mut n = next;
        if let Some(m) = &self.marker {
            let op = if self.marker_inclusive { ">=" } else { ">" };
            sql.push_str(&format!(" AND name {op} ${n}"));
            binds.push(m.clone());
            n += 1;
        }
        if let Some(e) = &self.end {
            sql.push_str(&format!(" AND name < ${n}"));
            binds.push(e.clone());
            n += 1;
        }
        (sql, binds, n)
    }

    fn order(&self) -> &'static str {
        if self.reverse {
            " ORDER BY name DESC"
        } else {
            " ORDER BY name"
        }
    }
}

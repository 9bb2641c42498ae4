//! Lists in SQL: one query shape for every paged collection (filters,
//! multi-key sort, `limit`, `marker`), run as keyset pagination so a page
//! costs the same however many rows the table holds.
//!
//! The marker is the id of the last row of the previous page. Its sort key
//! values are looked up by id *under the same filters* (a marker outside
//! the list is an error, as the in-memory paging answered), and the page is
//! the rows strictly after it in the sort order. Ties are broken by the id,
//! which is always the last key. NULLs sort as the smallest value (first
//! ascending, last descending, as `Option` orders in Rust), spelled out in
//! the predicate because SQLite and PostgreSQL disagree on their default.
//! The predicate is written as the expanded `OR` form rather than a row
//! value comparison, because keys may sort in different directions and
//! may be NULL.
//!
//! On PostgreSQL text keys other than the id compare with `COLLATE "C"`, so
//! both engines order names byte by byte whatever the database's locale.
//!
//! Projection (`fields=`) is not a list query's business: a service
//! applies it to the rendered resources (`common::http::Fields`). Reading
//! fewer columns would save little, since a page is already bounded by
//! `limit`, while a resource is more than its row (tags, roles and links
//! come from other tables, extra attributes from a JSON column), its
//! rendering needs most columns whatever is asked (links, extra
//! attributes checked against the resource's own names), the marker
//! needs the id and sort keys, and selecting last keeps one rendering
//! path for every request (Neutron's lists are the ones that take
//! `fields=`).

use crate::DbKind;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

/// A value bound to a `?` placeholder of a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    Text(String),
    Int(i64),
}

impl From<&str> for Bind {
    fn from(v: &str) -> Self {
        Bind::Text(v.to_string())
    }
}

impl From<String> for Bind {
    fn from(v: String) -> Self {
        Bind::Text(v)
    }
}

impl From<i64> for Bind {
    fn from(v: i64) -> Self {
        Bind::Int(v)
    }
}

/// The SQL type of a sort column, to read the marker row's value back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SortKey {
    column: String,
    kind: Kind,
    nullable: bool,
    asc: bool,
}

/// A marker row's value of one sort key.
#[derive(Debug, Clone)]
enum KeyValue {
    Null,
    Some(Bind),
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The marker names no row of the (filtered) list; each service
    /// answers this its own way.
    #[error("marker {0} not found")]
    MarkerNotFound(String),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
}

/// One page of rows and the marker of the next page, when there is one.
pub struct Page {
    pub rows: Vec<AnyRow>,
    pub next_marker: Option<String>,
}

/// A list query over one table (or a `FROM` clause naming it).
#[derive(Debug, Clone)]
pub struct ListQuery {
    kind: DbKind,
    from: String,
    columns: String,
    id_column: String,
    conds: Vec<String>,
    binds: Vec<Bind>,
    sort: Vec<SortKey>,
    limit: Option<usize>,
    marker: Option<String>,
}

impl ListQuery {
    /// `SELECT columns FROM from`; `columns` must include `id_column`,
    /// the unique, non-NULL text key that breaks ties and names markers.
    pub fn new(kind: DbKind, from: &str, columns: &str, id_column: &str) -> Self {
        Self {
            kind,
            from: from.to_string(),
            columns: columns.to_string(),
            id_column: id_column.to_string(),
            conds: Vec::new(),
            binds: Vec::new(),
            sort: Vec::new(),
            limit: None,
            marker: None,
        }
    }

    /// Adds `AND (sql)`; each `?` in `sql` takes the next of `binds`.
    /// `sql` is trusted text (column names, operators), never user input.
    pub fn filter(&mut self, sql: &str, binds: impl IntoIterator<Item = Bind>) -> &mut Self {
        self.conds.push(sql.to_string());
        self.binds.extend(binds);
        self
    }

    /// `column IN (…)`; an empty list matches nothing.
    pub fn filter_in(&mut self, column: &str, values: &[String]) -> &mut Self {
        if values.is_empty() {
            return self.filter("1 = 0", []);
        }
        let marks = vec!["?"; values.len()].join(", ");
        self.filter(
            &format!("{column} IN ({marks})"),
            values.iter().map(|v| Bind::Text(v.clone())),
        )
    }

    /// Sorts by `column` next (after the keys already given).
    pub fn sort_by(&mut self, column: &str, kind: Kind, nullable: bool, asc: bool) -> &mut Self {
        self.sort.push(SortKey {
            column: column.to_string(),
            kind,
            nullable,
            asc,
        });
        self
    }

    /// At most `limit` rows per page; `None` is every row.
    pub fn limit(&mut self, limit: Option<usize>) -> &mut Self {
        self.limit = limit;
        self
    }

    pub fn marker(&mut self, marker: Option<&str>) -> &mut Self {
        self.marker = marker.map(str::to_string);
        self
    }

    /// The sort keys with the id appended (in the last key's direction)
    /// unless it is already one of them.
    fn keys(&self) -> Vec<SortKey> {
        let mut keys = self.sort.clone();
        if !keys.iter().any(|k| k.column == self.id_column) {
            let asc = keys.last().is_none_or(|k| k.asc);
            keys.push(SortKey {
                column: self.id_column.clone(),
                kind: Kind::Text,
                nullable: false,
                asc,
            });
        }
        keys
    }

    fn expr(&self, k: &SortKey) -> String {
        if self.kind == DbKind::Postgres && k.kind == Kind::Text && k.column != self.id_column {
            format!("{} COLLATE \"C\"", k.column)
        } else {
            k.column.clone()
        }
    }

    fn where_clause(&self, extra: &[String]) -> String {
        let all: Vec<&str> = self
            .conds
            .iter()
            .chain(extra.iter())
            .map(String::as_str)
            .collect();
        if all.is_empty() {
            String::new()
        } else {
            format!(
                " WHERE {}",
                all.iter()
                    .map(|c| format!("({c})"))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            )
        }
    }

    /// Rows strictly after the marker values `m` in the order of `keys`,
    /// with the binds it needs.
    fn after(&self, keys: &[SortKey], m: &[KeyValue]) -> (String, Vec<Bind>) {
        let mut alts = Vec::new();
        let mut binds = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let e = self.expr(k);
            let step = match (&m[i], k.asc) {
                (KeyValue::Null, true) => Some((format!("{e} IS NOT NULL"), None)),
                (KeyValue::Null, false) => None, // nothing sorts below NULL
                (KeyValue::Some(v), true) => Some((format!("{e} > ?"), Some(v.clone()))),
                (KeyValue::Some(v), false) if k.nullable => {
                    Some((format!("({e} < ? OR {e} IS NULL)"), Some(v.clone())))
                }
                (KeyValue::Some(v), false) => Some((format!("{e} < ?"), Some(v.clone()))),
            };
            if let Some((cond, bind)) = step {
                let mut parts = Vec::new();
                for (j, prev) in keys[..i].iter().enumerate() {
                    let pe = self.expr(prev);
                    match &m[j] {
                        KeyValue::Null => parts.push(format!("{pe} IS NULL")),
                        KeyValue::Some(v) => {
                            parts.push(format!("{pe} = ?"));
                            binds.push(v.clone());
                        }
                    }
                }
                parts.push(cond);
                binds.extend(bind);
                alts.push(format!("({})", parts.join(" AND ")));
            }
        }
        if alts.is_empty() {
            return ("1 = 0".into(), binds);
        }
        (alts.join(" OR "), binds)
    }

    fn order_by(&self, keys: &[SortKey]) -> String {
        let parts: Vec<String> = keys
            .iter()
            .map(|k| {
                let dir = if k.asc { "ASC" } else { "DESC" };
                // SQLite already puts NULLs lowest; PostgreSQL highest.
                let nulls = match (self.kind, k.nullable, k.asc) {
                    (DbKind::Postgres, true, true) => " NULLS FIRST",
                    (DbKind::Postgres, true, false) => " NULLS LAST",
                    _ => "",
                };
                format!("{} {dir}{nulls}", self.expr(k))
            })
            .collect();
        format!(" ORDER BY {}", parts.join(", "))
    }

    /// The marker row's sort key values, or `MarkerNotFound`.
    async fn marker_values(
        &self,
        pool: &AnyPool,
        keys: &[SortKey],
        marker: &str,
    ) -> Result<Vec<KeyValue>, ListError> {
        let cols: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{} AS k{i}", k.column))
            .collect();
        let idc = format!("{} = ?", self.id_column);
        let sql = format!(
            "SELECT {} FROM {}{}",
            cols.join(", "),
            self.from,
            self.where_clause(&[idc])
        );
        let mut binds = self.binds.clone();
        binds.push(Bind::Text(marker.to_string()));
        let Some(row) = bind_all(&numbered(&sql), &binds)
            .fetch_optional(pool)
            .await?
        else {
            return Err(ListError::MarkerNotFound(marker.to_string()));
        };
        let mut out = Vec::with_capacity(keys.len());
        for (i, k) in keys.iter().enumerate() {
            let col = format!("k{i}");
            let v = match k.kind {
                Kind::Text => row
                    .try_get::<Option<String>, _>(col.as_str())?
                    .map(Bind::Text),
                Kind::Int => row.try_get::<Option<i64>, _>(col.as_str())?.map(Bind::Int),
            };
            out.push(v.map_or(KeyValue::Null, KeyValue::Some));
        }
        Ok(out)
    }

    /// Runs the query: one page of rows.
    pub async fn fetch(&self, pool: &AnyPool) -> Result<Page, ListError> {
        let keys = self.keys();
        let mut extra = Vec::new();
        let mut binds = self.binds.clone();
        if let Some(m) = &self.marker {
            let values = self.marker_values(pool, &keys, m).await?;
            let (cond, b) = self.after(&keys, &values);
            extra.push(cond);
            binds.extend(b);
        }
        let mut sql = format!(
            "SELECT {} FROM {}{}{}",
            self.columns,
            self.from,
            self.where_clause(&extra),
            self.order_by(&keys)
        );
        if let Some(l) = self.limit {
            // One row more than the page tells whether another follows.
            sql.push_str(" LIMIT ?");
            binds.push(Bind::Int(
                i64::try_from(l.saturating_add(1)).unwrap_or(i64::MAX),
            ));
        }
        let mut rows = bind_all(&numbered(&sql), &binds).fetch_all(pool).await?;
        let next_marker = match self.limit {
            Some(l) if rows.len() > l => {
                rows.truncate(l);
                match rows.last() {
                    Some(r) => Some(r.try_get::<String, _>(self.id_column.as_str())?),
                    None => None,
                }
            }
            _ => None,
        };
        Ok(Page { rows, next_marker })
    }
}

/// Replaces each `?` with `$1`, `$2`, … in order.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

fn bind_all<'q>(
    sql: &'q str,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Int(i) => q.bind(*i),
        };
    }
    q
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::testing::TestDir;
    use std::cmp::Ordering;

    #[derive(Debug, Clone)]
    struct R {
        id: String,
        name: Option<String>,
        size: Option<i64>,
        grp: String,
    }

    async fn setup() -> (crate::Db, TestDir, Vec<R>) {
        let dir = TestDir::new().unwrap();
        let db = dir.fresh().await.unwrap();
        sqlx::raw_sql(
            "CREATE TABLE list_t (id TEXT PRIMARY KEY, name TEXT, size BIGINT, grp TEXT NOT NULL)",
        )
        .execute(&db.pool)
        .await
        .unwrap();
        // Ties on name and size, NULLs in both, mixed case to check byte
        // order, and two groups to filter on.
        let names = [Some("b"), Some("a"), None, Some("B"), Some("a"), None];
        let sizes = [Some(3), None, Some(1), Some(3), None, Some(2)];
        let mut rows = Vec::new();
        for i in 0..30 {
            let r = R {
                id: format!("id{:02}", (i * 7) % 30),
                name: names[i % names.len()].map(str::to_string),
                size: sizes[(i / 2) % sizes.len()],
                grp: if i % 3 == 0 { "x".into() } else { "y".into() },
            };
            sqlx::query("INSERT INTO list_t (id, name, size, grp) VALUES ($1, $2, $3, $4)")
                .bind(&r.id)
                .bind(&r.name)
                .bind(r.size)
                .bind(&r.grp)
                .execute(&db.pool)
                .await
                .unwrap();
            rows.push(r);
        }
        (db, dir, rows)
    }

    /// Every page of `q` (page size `limit`), following next markers.
    async fn walk(db: &crate::Db, base: &ListQuery, limit: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut q = base.clone();
            q.limit(Some(limit)).marker(marker.as_deref());
            let page = q.fetch(&db.pool).await.unwrap();
            assert!(page.rows.len() <= limit);
            for r in &page.rows {
                out.push(r.try_get::<String, _>("id").unwrap());
            }
            match page.next_marker {
                Some(m) => marker = Some(m),
                None => break,
            }
        }
        out
    }

    fn expected(rows: &[R], keys: &[(&str, bool)], grp: Option<&str>) -> Vec<String> {
        let mut v: Vec<&R> = rows
            .iter()
            .filter(|r| grp.is_none_or(|g| r.grp == g))
            .collect();
        v.sort_by(|a, b| {
            for (k, asc) in keys {
                let o = match *k {
                    "name" => a.name.cmp(&b.name),
                    "size" => a.size.cmp(&b.size),
                    _ => a.id.cmp(&b.id),
                };
                let o = if *asc { o } else { o.reverse() };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
        v.into_iter().map(|r| r.id.clone()).collect()
    }

    fn query(db: &crate::Db, keys: &[(&str, bool)], grp: Option<&str>) -> ListQuery {
        let mut q = ListQuery::new(db.kind, "list_t", "id, name, size, grp", "id");
        for (k, asc) in keys {
            let kind = if *k == "size" { Kind::Int } else { Kind::Text };
            q.sort_by(k, kind, *k != "id", *asc);
        }
        if let Some(g) = grp {
            q.filter("grp = ?", [Bind::from(g)]);
        }
        q
    }

    #[tokio::test]
    async fn keyset_pages_match_a_full_sort() {
        let (db, _dir, rows) = setup().await;
        let orders: &[&[(&str, bool)]] = &[
            &[],
            &[("id", false)],
            &[("name", true)],
            &[("name", false)],
            &[("size", true), ("name", false)],
            &[("size", false), ("name", true), ("id", true)],
            &[("name", true), ("size", true), ("id", false)],
        ];
        for keys in orders {
            for grp in [None, Some("x")] {
                // The id breaks ties in the last key's direction.
                let mut full: Vec<(&str, bool)> = keys.to_vec();
                if !full.iter().any(|(k, _)| *k == "id") {
                    let asc = full.last().is_none_or(|k| k.1);
                    full.push(("id", asc));
                }
                let want = expected(&rows, &full, grp);
                for limit in [1, 4, 7, 100] {
                    let got = walk(&db, &query(&db, keys, grp), limit).await;
                    assert_eq!(got, want, "keys {keys:?} group {grp:?} limit {limit}");
                }
            }
        }
        db.close().await;
    }

    #[tokio::test]
    async fn markers_outside_the_list_and_unlimited_lists() {
        let (db, _dir, rows) = setup().await;
        let mut q = query(&db, &[("name", true)], Some("x"));
        q.marker(Some("nope"));
        assert!(matches!(
            q.fetch(&db.pool).await,
            Err(ListError::MarkerNotFound(m)) if m == "nope"
        ));
        // A row that exists but is filtered out is no marker either.
        let outside = rows.iter().find(|r| r.grp == "y").unwrap();
        q.marker(Some(&outside.id));
        assert!(matches!(
            q.fetch(&db.pool).await,
            Err(ListError::MarkerNotFound(_))
        ));
        let mut all = query(&db, &[], None);
        let page = all.limit(None).fetch(&db.pool).await.unwrap();
        assert_eq!(page.rows.len(), rows.len());
        assert!(page.next_marker.is_none());
        // A page that ends exactly at the end has no next marker.
        let page = all.limit(Some(rows.len())).fetch(&db.pool).await.unwrap();
        assert!(page.next_marker.is_none());
        let mut none = query(&db, &[], None);
        none.filter_in("grp", &[]);
        assert!(none.fetch(&db.pool).await.unwrap().rows.is_empty());
        let mut some = query(&db, &[], None);
        some.filter_in("id", &["id01".to_string(), "id02".to_string()]);
        assert_eq!(some.fetch(&db.pool).await.unwrap().rows.len(), 2);
        db.close().await;
    }

    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(
            numbered("a = ? AND b IN (?, ?)"),
            "a = $1 AND b IN ($2, $3)"
        );
    }
}

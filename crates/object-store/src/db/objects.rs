//! `swift_objects`: the object metadata and the file holding its data.

use super::{i, meta, meta_json, name, oi, os, s, Conn, Metadata, Page};
use db::sqlx::{self, any::AnyRow, Any, Executor};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Object {
    pub account: String,
    pub container: String,
    pub name: String,
    pub file_id: String,
    /// Bytes stored (a static large object's manifest: the manifest's).
    pub size: i64,
    /// MD5 of the stored bytes.
    pub etag: String,
    pub content_type: String,
    pub created_at: i64,
    pub metadata: Metadata,
    pub delete_at: Option<i64>,
    /// `X-Object-Manifest` of a dynamic large object.
    pub manifest: Option<String>,
    pub slo_etag: Option<String>,
    pub slo_size: Option<i64>,
}

impl Object {
    pub fn is_slo(&self) -> bool {
        self.slo_etag.is_some()
    }
}

const COLS: &str = "account, container, name, file_id, size, etag, content_type, created_at, \
                    metadata, delete_at, manifest, slo_etag, slo_size";

fn row(r: &AnyRow) -> Result<Object, sqlx::Error> {
    Ok(Object {
        account: s(r, "account")?,
        container: name(r, "container")?,
        name: name(r, "name")?,
        file_id: s(r, "file_id")?,
        size: i(r, "size")?,
        etag: s(r, "etag")?,
        content_type: s(r, "content_type")?,
        created_at: i(r, "created_at")?,
        metadata: meta(r, "metadata")?,
        delete_at: oi(r, "delete_at")?,
        manifest: os(r, "manifest")?,
        slo_etag: os(r, "slo_etag")?,
        slo_size: oi(r, "slo_size")?,
    })
}

pub async fn get<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    account: &str,
    container: &str,
    object: &str,
) -> Result<Option<Object>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLS} FROM swift_objects WHERE account = $1 AND container = $2 AND name = $3"
    ))
    .bind(account)
    .bind(container.as_bytes())
    .bind(object.as_bytes())
    .fetch_optional(ex)
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

/// Inserts or replaces the object `o`.
pub async fn upsert(conn: &mut Conn, o: &Object) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO swift_objects (account, container, name, file_id, size, etag, content_type, \
         created_at, metadata, delete_at, manifest, slo_etag, slo_size) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (account, container, name) DO UPDATE SET file_id = excluded.file_id, \
         size = excluded.size, etag = excluded.etag, content_type = excluded.content_type, \
         created_at = excluded.created_at, metadata = excluded.metadata, \
         delete_at = excluded.delete_at, manifest = excluded.manifest, \
         slo_etag = excluded.slo_etag, slo_size = excluded.slo_size",
    )
    .bind(&o.account)
    .bind(o.container.as_bytes())
    .bind(o.name.as_bytes())
    .bind(&o.file_id)
    .bind(o.size)
    .bind(&o.etag)
    .bind(&o.content_type)
    .bind(o.created_at)
    .bind(meta_json(&o.metadata))
    .bind(o.delete_at)
    .bind(&o.manifest)
    .bind(&o.slo_etag)
    .bind(o.slo_size)
    .execute(conn)
    .await?;
    Ok(())
}

/// Updates what a POST may change; false if the object (that version of
/// it: `file_id`) is gone.
pub async fn update_metadata(conn: &mut Conn, o: &Object) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE swift_objects SET content_type = $5, metadata = $6, delete_at = $7, \
         manifest = $8 WHERE account = $1 AND container = $2 AND name = $3 AND file_id = $4",
    )
    .bind(&o.account)
    .bind(o.container.as_bytes())
    .bind(o.name.as_bytes())
    .bind(&o.file_id)
    .bind(&o.content_type)
    .bind(meta_json(&o.metadata))
    .bind(o.delete_at)
    .bind(&o.manifest)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Deletes the object (only the version in `file_id` when given) and
/// returns the row deleted.
pub async fn delete(
    conn: &mut Conn,
    account: &str,
    container: &str,
    object: &str,
    file_id: Option<&str>,
) -> Result<Option<Object>, sqlx::Error> {
    let cond = if file_id.is_some() {
        " AND file_id = $4"
    } else {
        ""
    };
    let sql = format!(
        "DELETE FROM swift_objects WHERE account = $1 AND container = $2 AND name = $3{cond} \
         RETURNING {COLS}"
    );
    let mut q = sqlx::query(&sql)
        .bind(account)
        .bind(container.as_bytes())
        .bind(object.as_bytes());
    if let Some(f) = file_id {
        q = q.bind(f);
    }
    q.fetch_optional(conn).await?.as_ref().map(row).transpose()
}

/// One page of a container's objects (see [`Page`]), leaving out objects
/// expired at `now` (seconds).
pub async fn page(
    pool: &sqlx::AnyPool,
    account: &str,
    container: &str,
    p: &Page,
    now: i64,
) -> Result<Vec<Object>, sqlx::Error> {
    let (clauses, binds, n) = p.clauses(4);
    let sql = format!(
        "SELECT {COLS} FROM swift_objects WHERE account = $1 AND container = $2 \
         AND (delete_at IS NULL OR delete_at > $3){clauses}{} LIMIT ${n}",
        p.order()
    );
    let mut q = sqlx::query(&sql)
        .bind(account)
        .bind(container.as_bytes())
        .bind(now);
    for b in binds {
        q = q.bind(b);
    }
    q.bind(p.limit)
        .fetch_all(pool)
        .await?
        .iter()
        .map(row)
        .collect()
}

/// Objects whose `X-Delete-At` has passed at `now` (seconds).
pub async fn expired(
    pool: &sqlx::AnyPool,
    now: i64,
    limit: i64,
) -> Result<Vec<Object>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLS} FROM swift_objects WHERE delete_at IS NOT NULL AND delete_at <= $1 \
         ORDER BY delete_at LIMIT $2"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await?
    .iter()
    .map(row)
    .collect()
}

/// Which of `ids` a row names.
pub async fn referenced(
    pool: &sqlx::AnyPool,
    ids: &[String],
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    let mut out = std::collections::HashSet::new();
    for chunk in ids.chunks(200) {
        let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT file_id FROM swift_objects WHERE file_id IN ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id);
        }
        for r in q.fetch_all(pool).await? {
            out.insert(s(&r, "file_id")?);
        }
    }
    Ok(out)
}

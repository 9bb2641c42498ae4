//! `images` and `image_tags`.

use super::Conn;
use db::list::{Bind, Kind, ListError, ListQuery as DbList};
use db::sqlx::{self, any::AnyRow, AnyPool, Row};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// An image row with its tags.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub id: String,
    pub name: Option<String>,
    pub status: String,
    pub visibility: String,
    pub owner: Option<String>,
    pub size: Option<i64>,
    pub virtual_size: Option<i64>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub min_disk: i64,
    pub min_ram: i64,
    pub protected: bool,
    pub os_hidden: bool,
    /// Additional properties: a JSON object of strings.
    pub properties: Map<String, Value>,
    pub upload_id: Option<String>,
    pub stored_bytes: i64,
    pub reserved_bytes: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub tags: Vec<String>,
}

const COLS: &str = "id, name, status, visibility, owner, size, virtual_size, disk_format, \
    container_format, checksum, os_hash_algo, os_hash_value, min_disk, min_ram, protected, \
    os_hidden, properties, upload_id, stored_bytes, reserved_bytes, created_at, updated_at";

fn row(r: &AnyRow) -> Result<Image, sqlx::Error> {
    let props: String = r.try_get("properties")?;
    Ok(Image {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        status: r.try_get("status")?,
        visibility: r.try_get("visibility")?,
        owner: r.try_get("owner")?,
        size: r.try_get("size")?,
        virtual_size: r.try_get("virtual_size")?,
        disk_format: r.try_get("disk_format")?,
        container_format: r.try_get("container_format")?,
        checksum: r.try_get("checksum")?,
        os_hash_algo: r.try_get("os_hash_algo")?,
        os_hash_value: r.try_get("os_hash_value")?,
        min_disk: r.try_get("min_disk")?,
        min_ram: r.try_get("min_ram")?,
        protected: db::i2b(r.try_get("protected")?),
        os_hidden: db::i2b(r.try_get("os_hidden")?),
        properties: serde_json::from_str(&props).unwrap_or_default(),
        upload_id: r.try_get("upload_id")?,
        stored_bytes: r.try_get("stored_bytes")?,
        reserved_bytes: r.try_get("reserved_bytes")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        tags: Vec::new(),
    })
}

pub async fn get(pool: &AnyPool, id: &str) -> Result<Option<Image>, sqlx::Error> {
    let Some(r) = sqlx::query(&format!("SELECT {COLS} FROM images WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let mut img = row(&r)?;
    img.tags = sqlx::query("SELECT value FROM image_tags WHERE image_id = $1 ORDER BY value")
        .bind(id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| r.try_get("value"))
        .collect::<Result<_, _>>()?;
    Ok(Some(img))
}

/// How a time filter compares (`created_at=gt:…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

/// A parsed `GET /v2/images` (see `app::list` for what each part means;
/// parsing validated every column name against its allow list).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub limit: usize,
    pub marker: Option<String>,
    /// (sort key, ascending), ending with `id`.
    pub sort: Vec<(String, bool)>,
    pub member_status: String,
    pub visibility: Option<String>,
    pub os_hidden: bool,
    pub protected: Option<bool>,
    pub tags: Vec<String>,
    pub size_min: Option<i64>,
    pub size_max: Option<i64>,
    pub min_ram: Option<i64>,
    pub min_disk: Option<i64>,
    /// (column, any of these values).
    pub eq: Vec<(String, Vec<String>)>,
    /// (created_at or updated_at, operator, microseconds).
    pub times: Vec<(String, TimeOp, i64)>,
    /// Additional properties that must equal a string.
    pub props: Vec<(String, String)>,
}

/// How each sort key is typed and whether it may be NULL.
fn sort_column(key: &str) -> (Kind, bool) {
    match key {
        "size" => (Kind::Int, true),
        "created_at" | "updated_at" => (Kind::Int, false),
        "name" | "container_format" | "disk_format" => (Kind::Text, true),
        _ => (Kind::Text, false),
    }
}

/// One page of the images `project` lists (every image for an admin):
/// its own, public ones, community ones when asked for (or owned), and
/// shared ones it is a member of with the asked member status; then `q`'s
/// filters, sort, limit and marker, all in SQL.
pub async fn list_page(
    db: &db::Db,
    q: &ListQuery,
    project: Option<&str>,
    admin: bool,
) -> Result<(Vec<Image>, Option<String>), ListError> {
    let mut l = DbList::new(db.kind, "images", COLS, "id");
    l.filter("status NOT IN ('killed', 'deleted')", []);
    match q.visibility.as_deref() {
        Some("all") => {}
        Some(v) => {
            l.filter("visibility = ?", [Bind::from(v)]);
        }
        // Community images are listed only when asked for (or owned).
        None => match project {
            Some(p) => {
                l.filter("visibility <> 'community' OR owner = ?", [Bind::from(p)]);
            }
            None => {
                l.filter("visibility <> 'community'", []);
            }
        },
    }
    if !admin {
        match project {
            Some(p) => {
                let mut binds = vec![Bind::from(p), Bind::from(p)];
                let status = if q.member_status == "all" {
                    ""
                } else {
                    binds.push(Bind::from(q.member_status.as_str()));
                    " AND m.status = ?"
                };
                l.filter(
                    &format!(
                        "owner = ? OR visibility IN ('public', 'community') \
                         OR (visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m \
                         WHERE m.image_id = images.id AND m.member_id = ?{status}))"
                    ),
                    binds,
                );
            }
            None => {
                l.filter("visibility IN ('public', 'community')", []);
            }
        }
    }
    l.filter("os_hidden = ?", [Bind::Int(db::b2i(q.os_hidden))]);
    if let Some(p) = q.protected {
        l.filter("protected = ?", [Bind::Int(db::b2i(p))]);
    }
    for t in &q.tags {
        l.filter(
            "EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = images.id AND t.value = ?)",
            [Bind::from(t.as_str())],
        );
    }
    if let Some(m) = q.size_min {
        l.filter("size >= ?", [Bind::Int(m)]);
    }
    if let Some(m) = q.size_max {
        l.filter("size <= ?", [Bind::Int(m)]);
    }
    if let Some(m) = q.min_ram {
        l.filter("min_ram = ?", [Bind::Int(m)]);
    }
    if let Some(m) = q.min_disk {
        l.filter("min_disk = ?", [Bind::Int(m)]);
    }
    for (col, vals) in &q.eq {
        l.filter_in(col, vals);
    }
    for (col, op, t) in &q.times {
        let op = match op {
            TimeOp::Gt => ">",
            TimeOp::Gte => ">=",
            TimeOp::Lt => "<",
            TimeOp::Lte => "<=",
            TimeOp::Eq => "=",
            TimeOp::Neq => "<>",
        };
        // Stored with microseconds, shown and compared to the second.
        l.filter(
            &format!("({col} - ({col} % 1000000)) {op} ?"),
            [Bind::Int(*t)],
        );
    }
    for (k, v) in &q.props {
        let cond = match db.kind {
            db::DbKind::Sqlite => {
                "EXISTS (SELECT 1 FROM json_each(images.properties) j \
                 WHERE j.key = ? AND j.type = 'text' AND j.value = ?)"
            }
            db::DbKind::Postgres => {
                "(images.properties::jsonb -> CAST(? AS TEXT)) = to_jsonb(CAST(? AS TEXT))"
            }
        };
        l.filter(cond, [Bind::from(k.as_str()), Bind::from(v.as_str())]);
    }
    for (key, asc) in &q.sort {
        let (kind, nullable) = sort_column(key);
        l.sort_by(key, kind, nullable, *asc);
    }
    l.limit(Some(q.limit)).marker(q.marker.as_deref());
    let page = l.fetch(&db.pool).await?;
    let mut images: Vec<Image> = page.rows.iter().map(row).collect::<Result<_, _>>()?;
    let mut tags = tags_of(&db.pool, images.iter().map(|i| i.id.as_str())).await?;
    for i in &mut images {
        i.tags = tags.remove(&i.id).unwrap_or_default();
    }
    Ok((images, page.next_marker))
}

/// The tags of the images `ids`, each image's in order.
async fn tags_of<'a>(
    pool: &AnyPool,
    ids: impl Iterator<Item = &'a str>,
) -> Result<HashMap<String, Vec<String>>, sqlx::Error> {
    let ids: Vec<&str> = ids.collect();
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let marks: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        "SELECT image_id, value FROM image_tags WHERE image_id IN ({}) ORDER BY value",
        marks.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for id in &ids {
        query = query.bind(*id);
    }
    for r in query.fetch_all(pool).await? {
        out.entry(r.try_get("image_id")?)
            .or_default()
            .push(r.try_get("value")?);
    }
    Ok(out)
}

pub async fn insert(c: &mut Conn, i: &Image) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO images (id, name, status, visibility, owner, size, virtual_size, disk_format, \
         container_format, checksum, os_hash_algo, os_hash_value, min_disk, min_ram, protected, \
         os_hidden, properties, upload_id, stored_bytes, reserved_bytes, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21, $22)",
    )
    .bind(&i.id)
    .bind(&i.name)
    .bind(&i.status)
    .bind(&i.visibility)
    .bind(&i.owner)
    .bind(i.size)
    .bind(i.virtual_size)
    .bind(&i.disk_format)
    .bind(&i.container_format)
    .bind(&i.checksum)
    .bind(&i.os_hash_algo)
    .bind(&i.os_hash_value)
    .bind(i.min_disk)
    .bind(i.min_ram)
    .bind(db::b2i(i.protected))
    .bind(db::b2i(i.os_hidden))
    .bind(Value::Object(i.properties.clone()).to_string())
    .bind(&i.upload_id)
    .bind(i.stored_bytes)
    .bind(i.reserved_bytes)
    .bind(i.created_at)
    .bind(i.updated_at)
    .execute(&mut *c)
    .await?;
    set_tags(c, &i.id, &i.tags).await
}

/// Writes the user-settable attributes of `i`; `expect_status` guards
/// against a concurrent state change (format changes are only valid
/// while queued). Returns false when the row changed status or vanished.
pub async fn update_metadata(
    c: &mut Conn,
    i: &Image,
    expect_status: &str,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE images SET name = $2, visibility = $3, owner = $4, disk_format = $5, \
         container_format = $6, min_disk = $7, min_ram = $8, protected = $9, os_hidden = $10, \
         properties = $11, updated_at = $12 WHERE id = $1 AND status = $13",
    )
    .bind(&i.id)
    .bind(&i.name)
    .bind(&i.visibility)
    .bind(&i.owner)
    .bind(&i.disk_format)
    .bind(&i.container_format)
    .bind(i.min_disk)
    .bind(i.min_ram)
    .bind(db::b2i(i.protected))
    .bind(db::b2i(i.os_hidden))
    .bind(Value::Object(i.properties.clone()).to_string())
    .bind(i.updated_at)
    .bind(expect_status)
    .execute(&mut *c)
    .await?
    .rows_affected();
    if n == 1 {
        set_tags(c, &i.id, &i.tags).await?;
    }
    Ok(n == 1)
}

pub async fn set_tags(c: &mut Conn, id: &str, tags: &[String]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM image_tags WHERE image_id = $1")
        .bind(id)
        .execute(&mut *c)
        .await?;
    for t in tags {
        sqlx::query("INSERT INTO image_tags (image_id, value) VALUES ($1, $2)")
            .bind(id)
            .bind(t)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

pub async fn add_tag(c: &mut Conn, id: &str, tag: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO image_tags (image_id, value) VALUES ($1, $2) \
         ON CONFLICT (image_id, value) DO NOTHING",
    )
    .bind(id)
    .bind(tag)
    .execute(&mut *c)
    .await?;
    touch(c, id, now).await
}

pub async fn remove_tag(c: &mut Conn, id: &str, tag: &str, now: i64) -> Result<u64, sqlx::Error> {
    let n = sqlx::query("DELETE FROM image_tags WHERE image_id = $1 AND value = $2")
        .bind(id)
        .bind(tag)
        .execute(&mut *c)
        .await?
        .rows_affected();
    touch(c, id, now).await?;
    Ok(n)
}

pub async fn count_tags(c: &mut Conn, id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM image_tags WHERE image_id = $1")
        .bind(id)
        .fetch_one(c)
        .await?
        .try_get("n")
}

async fn touch(c: &mut Conn, id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE images SET updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

/// `from` → `to` if the image is still in `from`; the one primitive of
/// every status change. `upload_id` is set with the new status.
pub async fn transition(
    c: &mut Conn,
    id: &str,
    from: &[&str],
    to: &str,
    upload_id: Option<&str>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let list = from
        .iter()
        .map(|s| format!("'{}'", s.replace('\'', "")))
        .collect::<Vec<_>>()
        .join(", ");
    let n = sqlx::query(&format!(
        "UPDATE images SET status = $2, upload_id = $3, \
         upload_seen_at = CASE WHEN $3 IS NULL THEN NULL ELSE $4 END, updated_at = $4 \
         WHERE id = $1 AND status IN ({list})"
    ))
    .bind(id)
    .bind(to)
    .bind(upload_id)
    .bind(now)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Adds `delta` to the quota held by upload `upload_id`; false when the
/// upload no longer owns the image (deleted or finished elsewhere).
pub async fn add_reserved(
    c: &mut Conn,
    id: &str,
    upload_id: &str,
    delta: i64,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE images SET reserved_bytes = reserved_bytes + $3 WHERE id = $1 AND upload_id = $2",
    )
    .bind(id)
    .bind(upload_id)
    .bind(delta)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// The data an upload or stage produced.
#[derive(Debug, Clone, Default)]
pub struct DataResult {
    pub size: i64,
    pub virtual_size: Option<i64>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
}

/// Ends upload `upload_id` with its data in place: status `to`, the
/// data's attributes, `stored_bytes`; its reservation is released by the
/// caller. False when the upload lost the image meanwhile.
pub async fn finish_upload(
    c: &mut Conn,
    id: &str,
    upload_id: &str,
    to: &str,
    keep_upload_id: bool,
    d: &DataResult,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE images SET status = $3, size = $4, virtual_size = $5, checksum = $6, \
         os_hash_algo = $7, os_hash_value = $8, stored_bytes = $4, reserved_bytes = 0, \
         upload_id = CASE WHEN $9 = 1 THEN upload_id ELSE NULL END, upload_seen_at = NULL, \
         updated_at = $10 \
         WHERE id = $1 AND upload_id = $2",
    )
    .bind(id)
    .bind(upload_id)
    .bind(to)
    .bind(d.size)
    .bind(d.virtual_size)
    .bind(&d.checksum)
    .bind(&d.os_hash_algo)
    .bind(&d.os_hash_value)
    .bind(i64::from(keep_upload_id))
    .bind(now)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Ends upload `upload_id` without data: back to `to` (queued), no
/// reservation, no stored data. Returns the reservation to release, or
/// None when the upload no longer owns the image.
pub async fn abandon_upload(
    c: &mut Conn,
    id: &str,
    upload_id: &str,
    to: &str,
    now: i64,
) -> Result<Option<(i64, Option<String>)>, sqlx::Error> {
    let Some(r) = sqlx::query(
        "SELECT reserved_bytes, stored_bytes, owner FROM images WHERE id = $1 AND upload_id = $2",
    )
    .bind(id)
    .bind(upload_id)
    .fetch_optional(&mut *c)
    .await?
    else {
        return Ok(None);
    };
    let held: i64 = r.try_get::<i64, _>("reserved_bytes")? + r.try_get::<i64, _>("stored_bytes")?;
    let owner: Option<String> = r.try_get("owner")?;
    sqlx::query(
        "UPDATE images SET status = $3, size = NULL, virtual_size = NULL, checksum = NULL, \
         os_hash_algo = NULL, os_hash_value = NULL, stored_bytes = 0, reserved_bytes = 0, \
         upload_id = NULL, upload_seen_at = NULL, updated_at = $4 \
         WHERE id = $1 AND upload_id = $2",
    )
    .bind(id)
    .bind(upload_id)
    .bind(to)
    .bind(now)
    .execute(c)
    .await?;
    Ok(Some((held, owner)))
}

pub async fn delete(c: &mut Conn, id: &str) -> Result<Option<Image>, sqlx::Error> {
    let Some(r) = sqlx::query(&format!("SELECT {COLS} FROM images WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?
    else {
        return Ok(None);
    };
    let img = row(&r)?;
    sqlx::query("DELETE FROM image_tags WHERE image_id = $1")
        .bind(id)
        .execute(&mut *c)
        .await?;
    sqlx::query("DELETE FROM image_members WHERE image_id = $1")
        .bind(id)
        .execute(&mut *c)
        .await?;
    sqlx::query("DELETE FROM images WHERE id = $1")
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(Some(img))
}

/// Renews the lease of upload `upload_id` of `id`; false when that upload
/// is no longer the image's (it ended, or was reset as stale).
pub async fn touch_upload(
    pool: &AnyPool,
    id: &str,
    upload_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("UPDATE images SET upload_seen_at = $3 WHERE id = $1 AND upload_id = $2")
        .bind(id)
        .bind(upload_id)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Uploads in flight whose lease was last renewed before `cutoff`: their
/// process stopped. (image id, upload id) pairs.
pub async fn stale_uploads(
    pool: &AnyPool,
    cutoff: i64,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query(
        "SELECT id, upload_id FROM images WHERE upload_seen_at IS NOT NULL \
         AND upload_seen_at < $1 AND upload_id IS NOT NULL",
    )
    .bind(cutoff)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("id")?, r.try_get("upload_id")?)))
    .collect()
}

/// Images left mid-upload by a process that stopped (single-process
/// stores only): back to queued, or to `uploading` when their staged data
/// survived (`staged` says which).
pub async fn interrupted(pool: &AnyPool) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query(
        "SELECT id, status FROM images WHERE status IN ('saving', 'uploading', 'importing')",
    )
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("id")?, r.try_get("status")?)))
    .collect()
}

pub async fn reset_interrupted(
    c: &mut Conn,
    id: &str,
    staged_bytes: Option<i64>,
    now: i64,
) -> Result<(), sqlx::Error> {
    match staged_bytes {
        Some(n) => {
            sqlx::query(
                "UPDATE images SET status = 'uploading', stored_bytes = $2, reserved_bytes = 0, \
                 upload_seen_at = NULL, updated_at = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(n)
            .bind(now)
            .execute(c)
            .await?;
        }
        None => {
            sqlx::query(
                "UPDATE images SET status = 'queued', size = NULL, virtual_size = NULL, \
                 checksum = NULL, os_hash_algo = NULL, os_hash_value = NULL, stored_bytes = 0, \
                 reserved_bytes = 0, upload_id = NULL, upload_seen_at = NULL, updated_at = $2 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(now)
            .execute(c)
            .await?;
        }
    }
    Ok(())
}

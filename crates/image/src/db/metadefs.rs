//! The metadata definition tables: `metadef_namespaces` and what hangs off
//! a namespace (`metadef_objects`, `metadef_properties`, `metadef_tags`,
//! `metadef_namespace_resource_types`), and `metadef_resource_types`.
//!
//! Names are unique by constraint (namespace names globally; object,
//! property and tag names within their namespace, tags case-insensitively),
//! so of two concurrent creates one gets a unique violation, which `app`
//! turns into Glance's 409. Children go with their namespace by
//! `ON DELETE CASCADE`.

use super::Conn;
use db::sqlx::{self, any::AnyRow, AnyPool, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub id: String,
    pub namespace: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub visibility: String,
    pub protected: bool,
    pub owner: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An object, property or tag: a named row in a namespace. `body` is the
/// JSON the kind keeps (an object's description, required and properties;
/// a property's definition; nothing for a tag).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub name: String,
    pub body: serde_json::Value,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The three kinds of named rows in a namespace, and their tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Object,
    Property,
    Tag,
}

impl Kind {
    fn table(self) -> &'static str {
        match self {
            Kind::Object => "metadef_objects",
            Kind::Property => "metadef_properties",
            Kind::Tag => "metadef_tags",
        }
    }

    /// The name comparison the table's unique constraint uses.
    fn name_eq(self, placeholder: &str) -> String {
        match self {
            Kind::Tag => format!("lower(name) = lower({placeholder})"),
            _ => format!("name = {placeholder}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    pub name: String,
    pub prefix: Option<String>,
    pub properties_target: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const NS_COLS: &str =
    "id, namespace, display_name, description, visibility, protected, owner, created_at, updated_at";

fn ns_row(r: &AnyRow) -> Result<Namespace, sqlx::Error> {
    Ok(Namespace {
        id: r.try_get("id")?,
        namespace: r.try_get("namespace")?,
        display_name: r.try_get("display_name")?,
        description: r.try_get("description")?,
        visibility: r.try_get("visibility")?,
        protected: db::i2b(r.try_get("protected")?),
        owner: r.try_get("owner")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn get_namespace(pool: &AnyPool, name: &str) -> Result<Option<Namespace>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {NS_COLS} FROM metadef_namespaces WHERE namespace = $1"
    ))
    .bind(name)
    .fetch_optional(pool)
    .await?
    .map(|r| ns_row(&r))
    .transpose()
}

/// Sort keys a namespace list may use (a whitelist: they go into SQL).
pub const NS_SORT_KEYS: &[&str] = &[
    "created_at",
    "updated_at",
    "namespace",
    "display_name",
    "visibility",
    "owner",
];

/// Namespaces `project` may see (its own, public ones and those without
/// an owner; `None`, an admin, sees all), optionally of one visibility and
/// associated with one of `resource_types`, ordered by `sort_key` (one of
/// [`NS_SORT_KEYS`]) then id.
pub async fn list_namespaces(
    pool: &AnyPool,
    project: Option<&str>,
    visibility: Option<&str>,
    resource_types: Option<&[String]>,
    sort_key: &str,
    desc: bool,
) -> Result<Vec<Namespace>, sqlx::Error> {
    let key = if NS_SORT_KEYS.contains(&sort_key) {
        sort_key
    } else {
        "created_at"
    };
    let dir = if desc { "DESC" } else { "ASC" };
    let mut sql = format!("SELECT {NS_COLS} FROM metadef_namespaces WHERE 1 = 1");
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    if project.is_some() {
        let p = next();
        sql.push_str(&format!(
            " AND (owner IS NULL OR visibility = 'public' OR owner = {p})"
        ));
    }
    if visibility.is_some() {
        let p = next();
        sql.push_str(&format!(" AND visibility = {p}"));
    }
    let rts = resource_types.unwrap_or(&[]);
    if resource_types.is_some() {
        let ps: Vec<String> = rts.iter().map(|_| next()).collect();
        let list = if ps.is_empty() {
            "NULL".to_string()
        } else {
            ps.join(", ")
        };
        sql.push_str(&format!(
            " AND id IN (SELECT namespace_id FROM metadef_namespace_resource_types \
             WHERE resource_type IN ({list}))"
        ));
    }
    sql.push_str(&format!(" ORDER BY {key} {dir}, id {dir}"));
    let mut q = sqlx::query(&sql);
    if let Some(p) = project {
        q = q.bind(p);
    }
    if let Some(v) = visibility {
        q = q.bind(v);
    }
    for rt in rts {
        q = q.bind(rt);
    }
    q.fetch_all(pool).await?.iter().map(ns_row).collect()
}

pub async fn insert_namespace(c: &mut Conn, ns: &Namespace) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO metadef_namespaces ({NS_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(&ns.id)
    .bind(&ns.namespace)
    .bind(&ns.display_name)
    .bind(&ns.description)
    .bind(&ns.visibility)
    .bind(db::b2i(ns.protected))
    .bind(&ns.owner)
    .bind(ns.created_at)
    .bind(ns.updated_at)
    .execute(c)
    .await?;
    Ok(())
}

/// Rewrites namespace `ns.id`; false when it is gone.
pub async fn update_namespace(c: &mut Conn, ns: &Namespace) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE metadef_namespaces SET namespace = $2, display_name = $3, description = $4, \
         visibility = $5, protected = $6, owner = $7, updated_at = $8 WHERE id = $1",
    )
    .bind(&ns.id)
    .bind(&ns.namespace)
    .bind(&ns.display_name)
    .bind(&ns.description)
    .bind(&ns.visibility)
    .bind(db::b2i(ns.protected))
    .bind(&ns.owner)
    .bind(ns.updated_at)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Deletes namespace `id` unless it is protected (checked in the same
/// statement, so a concurrent "protect" cannot slip between check and
/// delete); false when nothing was deleted.
pub async fn delete_namespace(c: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    let n = sqlx::query("DELETE FROM metadef_namespaces WHERE id = $1 AND protected = 0")
        .bind(id)
        .execute(c)
        .await?
        .rows_affected();
    Ok(n == 1)
}

fn item_row(kind: Kind, r: &AnyRow) -> Result<Item, sqlx::Error> {
    let body = match kind {
        Kind::Object => {
            let required: String = r.try_get("required")?;
            let properties: String = r.try_get("properties")?;
            let description: Option<String> = r.try_get("description")?;
            serde_json::json!({
                "description": description,
                "required": serde_json::from_str::<serde_json::Value>(&required)
                    .unwrap_or_else(|_| serde_json::json!([])),
                "properties": serde_json::from_str::<serde_json::Value>(&properties)
                    .unwrap_or_else(|_| serde_json::json!({})),
            })
        }
        Kind::Property => {
            let s: String = r.try_get("json_schema")?;
            serde_json::from_str(&s).unwrap_or_else(|_| serde_json::json!({}))
        }
        Kind::Tag => serde_json::Value::Null,
    };
    Ok(Item {
        name: r.try_get("name")?,
        body,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn item_cols(kind: Kind) -> &'static str {
    match kind {
        Kind::Object => "name, description, required, properties, created_at, updated_at",
        Kind::Property => "name, json_schema, created_at, updated_at",
        Kind::Tag => "name, created_at, updated_at",
    }
}

pub async fn list_items(pool: &AnyPool, kind: Kind, ns_id: &str) -> Result<Vec<Item>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {} FROM {} WHERE namespace_id = $1 ORDER BY created_at, name",
        item_cols(kind),
        kind.table()
    ))
    .bind(ns_id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| item_row(kind, r))
    .collect()
}

pub async fn get_item(
    pool: &AnyPool,
    kind: Kind,
    ns_id: &str,
    name: &str,
) -> Result<Option<Item>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {} FROM {} WHERE namespace_id = $1 AND {}",
        item_cols(kind),
        kind.table(),
        kind.name_eq("$2")
    ))
    .bind(ns_id)
    .bind(name)
    .fetch_optional(pool)
    .await?
    .map(|r| item_row(kind, &r))
    .transpose()
}

/// The columns an item's `body` goes into, as bound values.
fn body_values(kind: Kind, body: &serde_json::Value) -> Vec<Option<String>> {
    match kind {
        Kind::Object => vec![
            body.get("description")
                .and_then(|v| v.as_str())
                .map(str::to_string),
            Some(
                body.get("required")
                    .cloned()
                    .unwrap_or_else(|| serde_json::json!([]))
                    .to_string(),
            ),
            Some(
                body.get("properties")
                    .cloned()
                    .unwrap_or_else(|| serde_json::json!({}))
                    .to_string(),
            ),
        ],
        Kind::Property => vec![Some(body.to_string())],
        Kind::Tag => vec![],
    }
}

fn body_cols(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Object => &["description", "required", "properties"],
        Kind::Property => &["json_schema"],
        Kind::Tag => &[],
    }
}

pub async fn insert_item(
    c: &mut Conn,
    kind: Kind,
    ns_id: &str,
    item: &Item,
) -> Result<(), sqlx::Error> {
    let extra = body_cols(kind);
    let mut cols = vec!["id", "namespace_id", "name", "created_at", "updated_at"];
    cols.extend_from_slice(extra);
    let ps: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        kind.table(),
        cols.join(", "),
        ps.join(", ")
    );
    let mut q = sqlx::query(&sql)
        .bind(common::ids::uuid())
        .bind(ns_id)
        .bind(&item.name)
        .bind(item.created_at)
        .bind(item.updated_at);
    for v in body_values(kind, &item.body) {
        q = q.bind(v);
    }
    q.execute(c).await?;
    Ok(())
}

/// Replaces item `old_name` (renaming it to `item.name`); false when it is
/// gone.
pub async fn update_item(
    c: &mut Conn,
    kind: Kind,
    ns_id: &str,
    old_name: &str,
    item: &Item,
) -> Result<bool, sqlx::Error> {
    let mut sets = vec!["name = $3".to_string(), "updated_at = $4".to_string()];
    for (i, col) in body_cols(kind).iter().enumerate() {
        sets.push(format!("{col} = ${}", i + 5));
    }
    let sql = format!(
        "UPDATE {} SET {} WHERE namespace_id = $1 AND {}",
        kind.table(),
        sets.join(", "),
        kind.name_eq("$2")
    );
    let mut q = sqlx::query(&sql)
        .bind(ns_id)
        .bind(old_name)
        .bind(&item.name)
        .bind(item.updated_at);
    for v in body_values(kind, &item.body) {
        q = q.bind(v);
    }
    Ok(q.execute(c).await?.rows_affected() == 1)
}

pub async fn delete_item(
    c: &mut Conn,
    kind: Kind,
    ns_id: &str,
    name: &str,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(&format!(
        "DELETE FROM {} WHERE namespace_id = $1 AND {}",
        kind.table(),
        kind.name_eq("$2")
    ))
    .bind(ns_id)
    .bind(name)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn delete_all_items(c: &mut Conn, kind: Kind, ns_id: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(&format!(
        "DELETE FROM {} WHERE namespace_id = $1",
        kind.table()
    ))
    .bind(ns_id)
    .execute(c)
    .await?
    .rows_affected())
}

pub async fn list_resource_types(pool: &AnyPool) -> Result<Vec<ResourceType>, sqlx::Error> {
    sqlx::query(
        "SELECT name, created_at, updated_at FROM metadef_resource_types ORDER BY created_at, name",
    )
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok(ResourceType {
            name: r.try_get("name")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    })
    .collect()
}

/// Creates resource type `name` unless it exists (a no-op then, so two
/// concurrent associations with a new type both succeed).
pub async fn ensure_resource_type(c: &mut Conn, name: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO metadef_resource_types (name, protected, created_at, updated_at) \
         VALUES ($1, 0, $2, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

fn assoc_row(r: &AnyRow) -> Result<Association, sqlx::Error> {
    Ok(Association {
        name: r.try_get("resource_type")?,
        prefix: r.try_get("prefix")?,
        properties_target: r.try_get("properties_target")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn list_associations(
    pool: &AnyPool,
    ns_id: &str,
) -> Result<Vec<Association>, sqlx::Error> {
    sqlx::query(
        "SELECT resource_type, prefix, properties_target, created_at, updated_at \
         FROM metadef_namespace_resource_types WHERE namespace_id = $1 \
         ORDER BY created_at, resource_type",
    )
    .bind(ns_id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(assoc_row)
    .collect()
}

pub async fn insert_association(
    c: &mut Conn,
    ns_id: &str,
    a: &Association,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO metadef_namespace_resource_types \
         (namespace_id, resource_type, prefix, properties_target, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(ns_id)
    .bind(&a.name)
    .bind(&a.prefix)
    .bind(&a.properties_target)
    .bind(a.created_at)
    .bind(a.updated_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn delete_association(
    c: &mut Conn,
    ns_id: &str,
    resource_type: &str,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "DELETE FROM metadef_namespace_resource_types WHERE namespace_id = $1 AND resource_type = $2",
    )
    .bind(ns_id)
    .bind(resource_type)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n == 1)
}

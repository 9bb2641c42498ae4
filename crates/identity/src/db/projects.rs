//! `projects` and `project_tags` tables.

use super::{b, extra, extra_text, i, os, s, Conn};
use db::list::{Bind, Kind, ListError, ListQuery};
use db::sqlx::{self, any::AnyRow, AnyPool};
use serde_json::{Map, Value};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub parent_id: Option<String>,
    pub description: String,
    pub enabled: bool,
    pub extra: Map<String, Value>,
    pub created_at: i64,
    pub tags: Vec<String>,
}

fn row(r: &AnyRow) -> Result<Project, sqlx::Error> {
    Ok(Project {
        id: s(r, "id")?,
        name: s(r, "name")?,
        domain_id: s(r, "domain_id")?,
        parent_id: os(r, "parent_id")?,
        description: s(r, "description")?,
        enabled: b(r, "enabled")?,
        extra: extra(r, "extra")?,
        created_at: i(r, "created_at")?,
        tags: Vec::new(),
    })
}

const COLS: &str = "id, name, domain_id, parent_id, description, enabled, extra, created_at";

async fn all_tags(pool: &AnyPool) -> Result<HashMap<String, Vec<String>>, sqlx::Error> {
    let mut m: HashMap<String, Vec<String>> = HashMap::new();
    for r in sqlx::query("SELECT project_id, name FROM project_tags ORDER BY name")
        .fetch_all(pool)
        .await?
    {
        m.entry(s(&r, "project_id")?)
            .or_default()
            .push(s(&r, "name")?);
    }
    Ok(m)
}

pub async fn list(pool: &AnyPool) -> Result<Vec<Project>, sqlx::Error> {
    let mut tags = all_tags(pool).await?;
    let mut v: Vec<Project> = sqlx::query(&format!("SELECT {COLS} FROM projects ORDER BY id"))
        .fetch_all(pool)
        .await?
        .iter()
        .map(row)
        .collect::<Result<_, _>>()?;
    for p in &mut v {
        p.tags = tags.remove(&p.id).unwrap_or_default();
    }
    Ok(v)
}

/// Filters of `GET /v3/projects` (each optional; all must hold).
#[derive(Debug, Clone, Default)]
pub struct ProjectFilter<'a> {
    pub name: Option<&'a str>,
    pub domain_id: Option<&'a str>,
    /// The caller's own domain, for a domain-scoped token: it sees only
    /// that domain's projects, whatever `domain_id` asks.
    pub scope_domain_id: Option<&'a str>,
    /// A top-level project's parent is its domain, as Keystone shows it.
    pub parent_id: Option<&'a str>,
    pub enabled: Option<bool>,
    /// Every one of these tags.
    pub tags: Option<Vec<&'a str>>,
    /// At least one of these tags.
    pub tags_any: Option<Vec<&'a str>>,
    /// Not every one of these tags.
    pub not_tags: Option<Vec<&'a str>>,
    /// None of these tags.
    pub not_tags_any: Option<Vec<&'a str>>,
}

/// `EXISTS` a tag of the listed project named one of `n` placeholders.
fn has_tag(n: usize) -> String {
    let marks = vec!["?"; n].join(", ");
    format!(
        "EXISTS (SELECT 1 FROM project_tags t WHERE t.project_id = projects.id AND t.name IN ({marks}))"
    )
}

fn binds(tags: &[&str]) -> Vec<Bind> {
    tags.iter().map(|t| Bind::from(*t)).collect()
}

/// One page of projects matching `f`, in id order, with their tags.
pub async fn list_page(
    db: &db::Db,
    f: &ProjectFilter<'_>,
    paging: &super::Paging<'_>,
) -> Result<(Vec<Project>, Option<String>), ListError> {
    let mut q = ListQuery::new(db.kind, "projects", COLS, "id");
    if let Some(n) = f.name {
        q.filter("name = ?", [Bind::from(n)]);
    }
    for d in [f.domain_id, f.scope_domain_id].into_iter().flatten() {
        q.filter("domain_id = ?", [Bind::from(d)]);
    }
    if let Some(p) = f.parent_id {
        // Spelled out rather than COALESCE so both indexes can serve it.
        q.filter(
            "parent_id = ? OR (parent_id IS NULL AND domain_id = ?)",
            [Bind::from(p), Bind::from(p)],
        );
    }
    if let Some(e) = f.enabled {
        q.filter("enabled = ?", [Bind::Int(db::b2i(e))]);
    }
    // The tag filters keep the in-memory answers for empty lists
    // (`tags=` matches every project, `tags-any=` none, `not-tags=` none,
    // `not-tags-any=` every one).
    if let Some(ts) = &f.tags {
        for t in ts {
            q.filter(&has_tag(1), [Bind::from(*t)]);
        }
    }
    if let Some(ts) = &f.tags_any {
        if ts.is_empty() {
            q.filter("1 = 0", []);
        } else {
            q.filter(&has_tag(ts.len()), binds(ts));
        }
    }
    if let Some(ts) = &f.not_tags {
        if ts.is_empty() {
            q.filter("1 = 0", []);
        } else {
            let all = vec![has_tag(1); ts.len()].join(" AND ");
            q.filter(&format!("NOT ({all})"), binds(ts));
        }
    }
    if let Some(ts) = &f.not_tags_any {
        if !ts.is_empty() {
            q.filter(&format!("NOT {}", has_tag(ts.len())), binds(ts));
        }
    }
    q.sort_by("id", Kind::Text, false, true);
    paging.apply(&mut q);
    let (mut items, next) = super::page(&db.pool, &q, row).await?;
    let ids: Vec<String> = items.iter().map(|p| p.id.clone()).collect();
    let rows = super::rows_for(
        &db.pool,
        "SELECT project_id, name FROM project_tags",
        "project_id",
        &ids,
        "name",
    )
    .await?;
    let mut tags = super::grouped(&rows, "project_id", "name")?;
    for p in &mut items {
        p.tags = tags.remove(&p.id).unwrap_or_default();
    }
    Ok((items, next))
}

pub async fn get(pool: &AnyPool, id: &str) -> Result<Option<Project>, sqlx::Error> {
    let Some(r) = sqlx::query(&format!("SELECT {COLS} FROM projects WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let mut p = row(&r)?;
    p.tags = tags(pool, id).await?;
    Ok(Some(p))
}

pub async fn get_by_name(
    pool: &AnyPool,
    domain_id: &str,
    name: &str,
) -> Result<Option<Project>, sqlx::Error> {
    let id: Option<String> =
        sqlx::query("SELECT id FROM projects WHERE domain_id = $1 AND name = $2")
            .bind(domain_id)
            .bind(name)
            .fetch_optional(pool)
            .await?
            .map(|r| s(&r, "id"))
            .transpose()?;
    match id {
        Some(id) => get(pool, &id).await,
        None => Ok(None),
    }
}

pub async fn tags(pool: &AnyPool, id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query("SELECT name FROM project_tags WHERE project_id = $1 ORDER BY name")
        .bind(id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| s(r, "name"))
        .collect()
}

pub async fn insert(c: &mut Conn, p: &Project) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO projects (id, name, domain_id, parent_id, description, enabled, extra, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&p.id)
    .bind(&p.name)
    .bind(&p.domain_id)
    .bind(&p.parent_id)
    .bind(&p.description)
    .bind(db::b2i(p.enabled))
    .bind(extra_text(&p.extra))
    .bind(p.created_at)
    .execute(&mut *c)
    .await?;
    set_tags(c, &p.id, &p.tags).await
}

pub async fn update(c: &mut Conn, p: &Project) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE projects SET name = $2, description = $3, enabled = $4, extra = $5 WHERE id = $1",
    )
    .bind(&p.id)
    .bind(&p.name)
    .bind(&p.description)
    .bind(db::b2i(p.enabled))
    .bind(extra_text(&p.extra))
    .execute(&mut *c)
    .await?;
    set_tags(c, &p.id, &p.tags).await
}

pub async fn set_tags(c: &mut Conn, id: &str, tags: &[String]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM project_tags WHERE project_id = $1")
        .bind(id)
        .execute(&mut *c)
        .await?;
    for t in tags {
        sqlx::query("INSERT INTO project_tags (project_id, name) VALUES ($1, $2)")
            .bind(id)
            .bind(t)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

pub async fn add_tag(c: &mut Conn, id: &str, tag: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO project_tags (project_id, name) VALUES ($1, $2) ON CONFLICT (project_id, name) DO NOTHING")
        .bind(id)
        .bind(tag)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn remove_tag(c: &mut Conn, id: &str, tag: &str) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM project_tags WHERE project_id = $1 AND name = $2")
            .bind(id)
            .bind(tag)
            .execute(c)
            .await?
            .rows_affected(),
    )
}

pub async fn delete(c: &mut Conn, id: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM projects WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?
        .rows_affected())
}

pub async fn count_children(pool: &AnyPool, id: &str) -> Result<i64, sqlx::Error> {
    i(
        &sqlx::query("SELECT COUNT(*) AS n FROM projects WHERE parent_id = $1")
            .bind(id)
            .fetch_one(pool)
            .await?,
        "n",
    )
}

pub async fn count_in_domain(pool: &AnyPool, domain_id: &str) -> Result<i64, sqlx::Error> {
    i(
        &sqlx::query("SELECT COUNT(*) AS n FROM projects WHERE domain_id = $1")
            .bind(domain_id)
            .fetch_one(pool)
            .await?,
        "n",
    )
}

//! `security_groups`, `default_security_groups` and
//! `security_group_rules`: the groups, each project's default group, and
//! the rules of every group.

use super::Conn;
use db::b2i;
use db::i2b;
use db::list::ListQuery;
use db::sqlx::{self, any::AnyRow, Row};
use std::collections::HashMap;

/// A security group row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    pub stateful: bool,
    pub revision_number: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub const GROUP_COLUMNS: &str =
    "id, project_id, name, description, stateful, revision_number, created_at, updated_at";

fn group(r: &AnyRow) -> Result<GroupRow, sqlx::Error> {
    Ok(GroupRow {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        stateful: i2b(r.try_get("stateful")?),
        revision_number: r.try_get("revision_number")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// A security group rule row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRow {
    pub id: String,
    pub project_id: String,
    pub security_group_id: String,
    pub remote_group_id: Option<String>,
    pub direction: String,
    pub ethertype: String,
    pub protocol: Option<String>,
    pub port_range_min: Option<i64>,
    pub port_range_max: Option<i64>,
    pub remote_ip_prefix: Option<String>,
    pub description: String,
    pub revision_number: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub const RULE_COLUMNS: &str = "id, project_id, security_group_id, remote_group_id, direction, \
    ethertype, protocol, port_range_min, port_range_max, remote_ip_prefix, description, \
    revision_number, created_at, updated_at";

pub fn rule(r: &AnyRow) -> Result<RuleRow, sqlx::Error> {
    Ok(RuleRow {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        security_group_id: r.try_get("security_group_id")?,
        remote_group_id: r.try_get("remote_group_id")?,
        direction: r.try_get("direction")?,
        ethertype: r.try_get("ethertype")?,
        protocol: r.try_get("protocol")?,
        port_range_min: r.try_get("port_range_min")?,
        port_range_max: r.try_get("port_range_max")?,
        remote_ip_prefix: r.try_get("remote_ip_prefix")?,
        description: r.try_get("description")?,
        revision_number: r.try_get("revision_number")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn get<'c, E>(conn: E, id: &str) -> Result<Option<GroupRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = format!("SELECT {GROUP_COLUMNS} FROM security_groups WHERE id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(group)
        .transpose()
}

/// The groups among `ids` that exist.
pub async fn get_many<'c, E>(conn: E, ids: &[String]) -> Result<Vec<GroupRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT {GROUP_COLUMNS} FROM security_groups WHERE id IN ({})",
        marks.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id);
    }
    q.fetch_all(conn).await?.iter().map(group).collect()
}

/// The id of the project's default group.
pub async fn default_of<'c, E>(conn: E, project_id: &str) -> Result<Option<String>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let r =
        sqlx::query("SELECT security_group_id FROM default_security_groups WHERE project_id = $1")
            .bind(project_id)
            .fetch_optional(conn)
            .await?;
    r.map(|r| r.try_get("security_group_id")).transpose()
}

/// Records `id` as the project's default group; a unique violation means
/// a concurrent request made one first.
pub async fn set_default(conn: &mut Conn, project_id: &str, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO default_security_groups (project_id, security_group_id) VALUES ($1, $2)",
    )
    .bind(project_id)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Which of `ids` are default groups.
pub async fn defaults_among<'c, E>(conn: E, ids: &[String]) -> Result<Vec<String>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT security_group_id FROM default_security_groups WHERE security_group_id IN ({})",
        marks.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id);
    }
    q.fetch_all(conn)
        .await?
        .iter()
        .map(|r| r.try_get("security_group_id"))
        .collect()
}

pub async fn insert(conn: &mut Conn, g: &GroupRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO security_groups (id, project_id, name, description, stateful, \
         revision_number, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&g.id)
    .bind(&g.project_id)
    .bind(&g.name)
    .bind(&g.description)
    .bind(b2i(g.stateful))
    .bind(g.revision_number)
    .bind(g.created_at)
    .bind(g.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes the changeable attributes if the row is still at
/// `g.revision_number - 1`; false when it moved on or is gone.
pub async fn update(conn: &mut Conn, g: &GroupRow) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE security_groups SET name = $1, description = $2, stateful = $3, \
         revision_number = $4, updated_at = $5 WHERE id = $6 AND revision_number = $7",
    )
    .bind(&g.name)
    .bind(&g.description)
    .bind(b2i(g.stateful))
    .bind(g.revision_number)
    .bind(g.updated_at)
    .bind(&g.id)
    .bind(g.revision_number - 1)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Bumps the revision of a group whose rules or tags changed.
pub async fn touch(conn: &mut Conn, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    super::touch_row(conn, "security_groups", id, now).await
}

/// Deletes the group (its rules, the rules naming it as remote and its
/// default record go with it).
pub async fn delete(conn: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    super::delete_row(conn, "security_groups", id).await
}

/// Whether any port names the group (the ports keep their group ids as a
/// JSON list of UUIDs, so the quoted id matches exactly one entry).
pub async fn in_use(conn: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("SELECT COUNT(*) AS n FROM ports WHERE security_groups LIKE $1")
        .bind(format!("%\"{id}\"%"))
        .fetch_one(&mut *conn)
        .await?;
    Ok(r.try_get::<i64, _>("n")? > 0)
}

/// A page of groups.
pub async fn list(
    pool: &db::sqlx::AnyPool,
    q: &ListQuery,
) -> Result<Vec<GroupRow>, db::list::ListError> {
    let page = q.fetch(pool).await?;
    Ok(page.rows.iter().map(group).collect::<Result<Vec<_>, _>>()?)
}

pub async fn get_rule<'c, E>(conn: E, id: &str) -> Result<Option<RuleRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = format!("SELECT {RULE_COLUMNS} FROM security_group_rules WHERE id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(rule)
        .transpose()
}

/// The rules of each of `groups`, oldest first.
pub async fn rules_of<'c, E>(
    conn: E,
    groups: &[String],
) -> Result<HashMap<String, Vec<RuleRow>>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let mut out: HashMap<String, Vec<RuleRow>> = HashMap::new();
    if groups.is_empty() {
        return Ok(out);
    }
    let marks: Vec<String> = (1..=groups.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT {RULE_COLUMNS} FROM security_group_rules WHERE security_group_id IN ({}) \
         ORDER BY created_at, id",
        marks.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for g in groups {
        q = q.bind(g);
    }
    for r in q.fetch_all(conn).await? {
        let r = rule(&r)?;
        out.entry(r.security_group_id.clone()).or_default().push(r);
    }
    Ok(out)
}

pub async fn insert_rule(conn: &mut Conn, r: &RuleRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO security_group_rules (id, project_id, security_group_id, remote_group_id, \
         direction, ethertype, protocol, port_range_min, port_range_max, remote_ip_prefix, \
         description, revision_number, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&r.id)
    .bind(&r.project_id)
    .bind(&r.security_group_id)
    .bind(&r.remote_group_id)
    .bind(&r.direction)
    .bind(&r.ethertype)
    .bind(&r.protocol)
    .bind(r.port_range_min)
    .bind(r.port_range_max)
    .bind(&r.remote_ip_prefix)
    .bind(&r.description)
    .bind(r.revision_number)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn delete_rule(conn: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM security_group_rules WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// A page of rules.
pub async fn list_rules(
    pool: &db::sqlx::AnyPool,
    q: &ListQuery,
) -> Result<Vec<RuleRow>, db::list::ListError> {
    let page = q.fetch(pool).await?;
    Ok(page.rows.iter().map(rule).collect::<Result<Vec<_>, _>>()?)
}

//! `endpoint_groups`, `project_endpoints`, `project_endpoint_groups`
//! (OS-EP-FILTER).

use super::{s, Conn};
use db::sqlx::{self, AnyPool};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct EndpointGroup {
    pub id: String,
    pub name: String,
    pub description: String,
    pub filters: Map<String, Value>,
}

pub async fn groups(pool: &AnyPool) -> Result<Vec<EndpointGroup>, sqlx::Error> {
    sqlx::query("SELECT id, name, description, filters FROM endpoint_groups ORDER BY id")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(EndpointGroup {
                id: s(r, "id")?,
                name: s(r, "name")?,
                description: s(r, "description")?,
                filters: super::extra(r, "filters")?,
            })
        })
        .collect()
}

pub async fn upsert_group(
    c: &mut Conn,
    g: &EndpointGroup,
    insert: bool,
) -> Result<(), sqlx::Error> {
    let sql = if insert {
        "INSERT INTO endpoint_groups (id, name, description, filters) VALUES ($1, $2, $3, $4)"
    } else {
        "UPDATE endpoint_groups SET name = $2, description = $3, filters = $4 WHERE id = $1"
    };
    sqlx::query(sql)
        .bind(&g.id)
        .bind(&g.name)
        .bind(&g.description)
        .bind(super::extra_text(&g.filters))
        .execute(c)
        .await?;
    Ok(())
}

pub async fn delete_group(c: &mut Conn, id: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM endpoint_groups WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?
        .rows_affected())
}

/// (project, endpoint) associations.
pub async fn project_endpoints(pool: &AnyPool) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query(
        "SELECT project_id, endpoint_id FROM project_endpoints ORDER BY project_id, endpoint_id",
    )
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| Ok((s(r, "project_id")?, s(r, "endpoint_id")?)))
    .collect()
}

/// (project, endpoint group) associations.
pub async fn project_groups(pool: &AnyPool) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query("SELECT project_id, endpoint_group_id FROM project_endpoint_groups ORDER BY project_id, endpoint_group_id")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| Ok((s(r, "project_id")?, s(r, "endpoint_group_id")?)))
        .collect()
}

/// Adds or removes one association row in `table` (`project_endpoints` or
/// `project_endpoint_groups`); returns the rows changed.
pub async fn associate(
    c: &mut Conn,
    table: Assoc,
    project: &str,
    other: &str,
    add: bool,
) -> Result<u64, sqlx::Error> {
    let (t, col) = match table {
        Assoc::Endpoint => ("project_endpoints", "endpoint_id"),
        Assoc::Group => ("project_endpoint_groups", "endpoint_group_id"),
    };
    let sql = if add {
        format!("INSERT INTO {t} (project_id, {col}) VALUES ($1, $2) ON CONFLICT (project_id, {col}) DO NOTHING")
    } else {
        format!("DELETE FROM {t} WHERE project_id = $1 AND {col} = $2")
    };
    Ok(sqlx::query(&sql)
        .bind(project)
        .bind(other)
        .execute(c)
        .await?
        .rows_affected())
}

#[derive(Debug, Clone, Copy)]
pub enum Assoc {
    Endpoint,
    Group,
}

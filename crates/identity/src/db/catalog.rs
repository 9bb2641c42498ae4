//! `regions`, `services` and `endpoints` tables.

use super::{b, extra, extra_text, os, s, Conn};
use db::sqlx::{self, any::AnyRow, AnyPool};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub id: String,
    pub description: String,
    pub parent_region_id: Option<String>,
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub id: String,
    pub service_type: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub id: String,
    pub service_id: String,
    pub interface: String,
    pub url: String,
    pub region_id: Option<String>,
    pub enabled: bool,
    pub extra: Map<String, Value>,
}

fn region(r: &AnyRow) -> Result<Region, sqlx::Error> {
    Ok(Region {
        id: s(r, "id")?,
        description: s(r, "description")?,
        parent_region_id: os(r, "parent_region_id")?,
        extra: extra(r, "extra")?,
    })
}

fn service(r: &AnyRow) -> Result<Service, sqlx::Error> {
    Ok(Service {
        id: s(r, "id")?,
        service_type: s(r, "type")?,
        name: s(r, "name")?,
        description: s(r, "description")?,
        enabled: b(r, "enabled")?,
        extra: extra(r, "extra")?,
    })
}

fn endpoint(r: &AnyRow) -> Result<Endpoint, sqlx::Error> {
    Ok(Endpoint {
        id: s(r, "id")?,
        service_id: s(r, "service_id")?,
        interface: s(r, "interface")?,
        url: s(r, "url")?,
        region_id: os(r, "region_id")?,
        enabled: b(r, "enabled")?,
        extra: extra(r, "extra")?,
    })
}

pub async fn regions(pool: &AnyPool) -> Result<Vec<Region>, sqlx::Error> {
    sqlx::query("SELECT id, description, parent_region_id, extra FROM regions ORDER BY id")
        .fetch_all(pool)
        .await?
        .iter()
        .map(region)
        .collect()
}

pub async fn get_region(pool: &AnyPool, id: &str) -> Result<Option<Region>, sqlx::Error> {
    sqlx::query("SELECT id, description, parent_region_id, extra FROM regions WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(region)
        .transpose()
}

pub async fn insert_region(c: &mut Conn, r: &Region) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO regions (id, description, parent_region_id, extra) VALUES ($1, $2, $3, $4)",
    )
    .bind(&r.id)
    .bind(&r.description)
    .bind(&r.parent_region_id)
    .bind(extra_text(&r.extra))
    .execute(c)
    .await?;
    Ok(())
}

/// Creates a plain region named `id` unless one exists (an endpoint's
/// legacy `region`); two writers racing for the same name both succeed.
pub async fn ensure_region(c: &mut Conn, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO regions (id, description, parent_region_id, extra) VALUES ($1, '', NULL, '{}') \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn update_region(c: &mut Conn, r: &Region) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE regions SET description = $2, parent_region_id = $3, extra = $4 WHERE id = $1",
    )
    .bind(&r.id)
    .bind(&r.description)
    .bind(&r.parent_region_id)
    .bind(extra_text(&r.extra))
    .execute(c)
    .await?;
    Ok(())
}

pub async fn delete_region(c: &mut Conn, id: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM regions WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?
        .rows_affected())
}

pub async fn services(pool: &AnyPool) -> Result<Vec<Service>, sqlx::Error> {
    sqlx::query("SELECT id, type, name, description, enabled, extra FROM services ORDER BY id")
        .fetch_all(pool)
        .await?
        .iter()
        .map(service)
        .collect()
}

pub async fn get_service(pool: &AnyPool, id: &str) -> Result<Option<Service>, sqlx::Error> {
    sqlx::query("SELECT id, type, name, description, enabled, extra FROM services WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(service)
        .transpose()
}

pub async fn insert_service(c: &mut Conn, x: &Service) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO services (id, type, name, description, enabled, extra) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&x.id)
    .bind(&x.service_type)
    .bind(&x.name)
    .bind(&x.description)
    .bind(db::b2i(x.enabled))
    .bind(extra_text(&x.extra))
    .execute(c)
    .await?;
    Ok(())
}

pub async fn update_service(c: &mut Conn, x: &Service) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE services SET type = $2, name = $3, description = $4, enabled = $5, extra = $6 WHERE id = $1")
        .bind(&x.id)
        .bind(&x.service_type)
        .bind(&x.name)
        .bind(&x.description)
        .bind(db::b2i(x.enabled))
        .bind(extra_text(&x.extra))
        .execute(c)
        .await?;
    Ok(())
}

pub async fn delete_service(c: &mut Conn, id: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM services WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?
        .rows_affected())
}

pub async fn endpoints(pool: &AnyPool) -> Result<Vec<Endpoint>, sqlx::Error> {
    sqlx::query("SELECT id, service_id, interface, url, region_id, enabled, extra FROM endpoints ORDER BY id")
        .fetch_all(pool)
        .await?
        .iter()
        .map(endpoint)
        .collect()
}

pub async fn get_endpoint(pool: &AnyPool, id: &str) -> Result<Option<Endpoint>, sqlx::Error> {
    sqlx::query("SELECT id, service_id, interface, url, region_id, enabled, extra FROM endpoints WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(endpoint)
        .transpose()
}

pub async fn insert_endpoint(c: &mut Conn, e: &Endpoint) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO endpoints (id, service_id, interface, url, region_id, enabled, extra) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&e.id)
    .bind(&e.service_id)
    .bind(&e.interface)
    .bind(&e.url)
    .bind(&e.region_id)
    .bind(db::b2i(e.enabled))
    .bind(extra_text(&e.extra))
    .execute(c)
    .await?;
    Ok(())
}

pub async fn update_endpoint(c: &mut Conn, e: &Endpoint) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE endpoints SET service_id = $2, interface = $3, url = $4, region_id = $5, enabled = $6, extra = $7 \
         WHERE id = $1",
    )
    .bind(&e.id)
    .bind(&e.service_id)
    .bind(&e.interface)
    .bind(&e.url)
    .bind(&e.region_id)
    .bind(db::b2i(e.enabled))
    .bind(extra_text(&e.extra))
    .execute(c)
    .await?;
    Ok(())
}

pub async fn delete_endpoint(c: &mut Conn, id: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM endpoints WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?
        .rows_affected())
}

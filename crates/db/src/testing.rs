//! Test helpers: a fresh store on SQLite in a temporary file, or on
//! PostgreSQL when `OXISTACK_TEST_DATABASE_URL` names a server (each call
//! then gets its own new database on it, dropped by nobody: the test
//! command throws the whole cluster away), and [`TestDir`], the temporary
//! directory a test's store lives in.

use crate::{Db, DbError};
use std::path::{Path, PathBuf};

/// A new temporary directory for one test (its SQLite store, keys, …),
/// removed with everything in it when dropped, so a test that fails
/// midway leaves nothing behind either.
#[derive(Debug)]
pub struct TestDir(PathBuf);

impl TestDir {
    pub fn new() -> std::io::Result<TestDir> {
        let path =
            std::env::temp_dir().join(format!("oxistack-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path)?;
        Ok(TestDir(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The URL of a fresh store kept in this directory ([`fresh_url`]).
    pub async fn fresh_url(&self) -> Result<String, DbError> {
        fresh_url(&self.0).await
    }

    /// A fresh store kept in this directory ([`fresh`]).
    pub async fn fresh(&self) -> Result<Db, DbError> {
        fresh(&self.0).await
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        // Nothing to do about a directory that will not go: the system's
        // temporary directory is cleaned eventually.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The URL of a new, empty database for one test. `dir` holds the SQLite
/// file when no PostgreSQL server is configured.
pub async fn fresh_url(dir: &std::path::Path) -> Result<String, DbError> {
    match std::env::var("OXISTACK_TEST_DATABASE_URL") {
        Ok(server) if !server.is_empty() => {
            sqlx::any::install_default_drivers();
            let name = format!("t_{}", uuid::Uuid::new_v4().simple());
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&server).await?;
            sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await?;
            let base = match server.rfind('/') {
                Some(i) if i > server.find("://").map(|s| s + 2).unwrap_or(0) => &server[..i],
                _ => server.as_str(),
            };
            Ok(format!("{base}/{name}"))
        }
        _ => Ok(format!("sqlite://{}", dir.join("test.db").display())),
    }
}

/// Opens a fresh store (see [`fresh_url`]).
pub async fn fresh(dir: &std::path::Path) -> Result<Db, DbError> {
    Db::open(&fresh_url(dir).await?).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row;

    async fn versions(db: &Db) -> Vec<(String, i64)> {
        sqlx::query("SELECT service, version FROM service_migrations ORDER BY service, version")
            .fetch_all(&db.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("service"), r.get("version")))
            .collect()
    }

    fn all_versions() -> Vec<(String, i64)> {
        let mut all: Vec<(String, i64)> = crate::migrate::SERVICES
            .iter()
            .flat_map(|s| {
                s.migrations
                    .iter()
                    .map(|m| (s.service.to_string(), m.version))
            })
            .collect();
        all.sort();
        all
    }

    #[tokio::test]
    async fn migrations_apply_and_are_idempotent() {
        let dir = TestDir::new().unwrap();
        let url = dir.fresh_url().await.unwrap();
        let db = Db::open(&url).await.unwrap();
        assert_eq!(versions(&db).await, all_versions());
        // A binary from before the per-service sequences sees a version it
        // does not know and refuses the database.
        let legacy: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
            .fetch_all(&db.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("version"))
            .collect();
        assert_eq!(legacy, vec![crate::migrate::LEGACY_SENTINEL]);
        db.close().await;
        // A second open applies nothing and succeeds.
        let db = Db::open(&url).await.unwrap();
        assert_eq!(versions(&db).await, all_versions());
        db.close().await;
    }

    #[tokio::test]
    async fn refuses_a_newer_schema() {
        let dir = TestDir::new().unwrap();
        let url = dir.fresh_url().await.unwrap();
        let db = Db::open(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO service_migrations (service, version, name, applied_at) \
             VALUES ('image', $1, 'future', 0)",
        )
        .bind(crate::migrate::IMAGE.latest() + 1)
        .execute(&db.pool)
        .await
        .unwrap();
        db.close().await;
        match Db::open(&url).await {
            Err(DbError::TooNew { service, .. }) => assert_eq!(service, "image"),
            other => panic!("expected TooNew, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn refuses_a_service_it_does_not_know() {
        let dir = TestDir::new().unwrap();
        let url = dir.fresh_url().await.unwrap();
        let db = Db::open(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO service_migrations (service, version, name, applied_at) \
             VALUES ('future-service', 1, 'future', 0)",
        )
        .execute(&db.pool)
        .await
        .unwrap();
        db.close().await;
        match Db::open(&url).await {
            Err(DbError::TooNew { service, .. }) => assert_eq!(service, "future-service"),
            other => panic!("expected TooNew, got {other:?}"),
        }
    }

    /// A database made by a binary with the one global sequence (versions
    /// 1-6 applied, recorded in `schema_migrations`) is adopted on first
    /// start: its rows move to the per-service versions and nothing is
    /// applied again (a second `CREATE TABLE` would fail the start).
    #[tokio::test]
    async fn adopts_a_database_from_the_global_sequence() {
        let dir = TestDir::new().unwrap();
        let url = dir.fresh_url().await.unwrap();
        {
            sqlx::any::install_default_drivers();
            let connect = if url.starts_with("sqlite:") {
                format!("{url}?mode=rwc")
            } else {
                url.clone()
            };
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&connect)
                .await
                .unwrap();
            // What the old migrator did: the files in global order, each
            // recorded by its global version.
            sqlx::raw_sql(
                "CREATE TABLE schema_migrations (
                    version BIGINT PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_at BIGINT NOT NULL)",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            for (global, service, v) in crate::migrate::LEGACY {
                let s = crate::migrate::SERVICES
                    .iter()
                    .find(|s| s.service == *service)
                    .unwrap();
                let m = &s.migrations[(*v - 1) as usize];
                sqlx::raw_sql(m.sql).execute(&mut conn).await.unwrap();
                sqlx::query(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 42)",
                )
                .bind(*global)
                .bind(m.name)
                .execute(&mut conn)
                .await
                .unwrap();
            }
            sqlx::query("INSERT INTO domains (id, name, created_at) VALUES ('d1', 'kept', 0)")
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::Connection::close(conn).await.unwrap();
        }
        let db = Db::open(&url).await.unwrap();
        assert_eq!(versions(&db).await, all_versions());
        let kept: i64 = sqlx::query("SELECT COUNT(*) AS n FROM domains WHERE name = 'kept'")
            .fetch_one(&db.pool)
            .await
            .unwrap()
            .get("n");
        assert_eq!(kept, 1);
        // The adopted rows keep the time they were first applied.
        let at: i64 = sqlx::query(
            "SELECT applied_at FROM service_migrations WHERE service = 'image' AND version = 3",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .get("applied_at");
        assert_eq!(at, 42);
        db.close().await;
        // And a second start finds nothing more to do.
        let db = Db::open(&url).await.unwrap();
        assert_eq!(versions(&db).await, all_versions());
        db.close().await;
    }

    #[tokio::test]
    async fn refuses_a_global_version_it_never_had() {
        let dir = TestDir::new().unwrap();
        let url = dir.fresh_url().await.unwrap();
        {
            sqlx::any::install_default_drivers();
            let connect = if url.starts_with("sqlite:") {
                format!("{url}?mode=rwc")
            } else {
                url.clone()
            };
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&connect)
                .await
                .unwrap();
            sqlx::raw_sql(
                "CREATE TABLE schema_migrations (
                    version BIGINT PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_at BIGINT NOT NULL);
                 INSERT INTO schema_migrations VALUES (7, 'from_a_newer_binary', 0)",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            sqlx::Connection::close(conn).await.unwrap();
        }
        assert!(matches!(Db::open(&url).await, Err(DbError::TooNew { .. })));
    }

    #[tokio::test]
    async fn migrations_reproduce_the_checked_in_schema() {
        if std::env::var("OXISTACK_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
            return; // the snapshot is SQLite's; PostgreSQL runs the same files
        }
        let dir = TestDir::new().unwrap();
        let db = dir.fresh().await.unwrap();
        let rows = sqlx::query(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' \
             ORDER BY type DESC, name",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap();
        let mut dump = String::new();
        for r in rows {
            let sql: String = r.get("sql");
            dump.push_str(&sql);
            dump.push_str(";\n\n");
        }
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/sqlite.sql");
        if std::env::var("OXISTACK_BLESS").is_ok() {
            std::fs::write(&path, &dump).unwrap();
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            dump, expected,
            "schema drifted: rerun with OXISTACK_BLESS=1 and review the diff"
        );
        db.close().await;
    }
}

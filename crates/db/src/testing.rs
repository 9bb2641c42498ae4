//! Test helpers: a fresh store on SQLite in a temporary file, or on
//! PostgreSQL when `OXISTACK_TEST_DATABASE_URL` names a server (each call
//! then gets its own new database on it, dropped by nobody: the test
//! command throws the whole cluster away).

use crate::{Db, DbError};

/// The URL of a new, empty database for one test. `dir` holds the SQLite
/// file when no PostgreSQL server is configured.
pub async fn fresh_url(dir: &std::path::Path) -> Result<String, DbError> {
    match std::env::var("OXISTACK_TEST_DATABASE_URL") {
        Ok(server) if !server.is_empty() => {
            sqlx::any::install_default_drivers();
            let name = format!("t_{}", common::ids::hex_id());
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

    #[tokio::test]
    async fn migrations_apply_and_are_idempotent() {
        let dir = tempdir();
        let url = fresh_url(&dir).await.unwrap();
        let db = Db::open(&url).await.unwrap();
        let v: i64 = sqlx::query("SELECT MAX(version) AS v FROM schema_migrations")
            .fetch_one(&db.pool)
            .await
            .unwrap()
            .get("v");
        assert_eq!(v, crate::migrate::latest());
        db.close().await;
        // A second open applies nothing and succeeds.
        let db = Db::open(&url).await.unwrap();
        db.close().await;
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn refuses_a_newer_schema() {
        let dir = tempdir();
        let url = fresh_url(&dir).await.unwrap();
        let db = Db::open(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'future', 0)",
        )
        .bind(crate::migrate::latest() + 1)
        .execute(&db.pool)
        .await
        .unwrap();
        db.close().await;
        assert!(matches!(Db::open(&url).await, Err(DbError::TooNew { .. })));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn migrations_reproduce_the_checked_in_schema() {
        if std::env::var("OXISTACK_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
            return; // the snapshot is SQLite's; PostgreSQL runs the same files
        }
        let dir = tempdir();
        let db = fresh(&dir).await.unwrap();
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
        std::fs::remove_dir_all(&dir).ok();
    }

    fn tempdir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("oxistack-db-{}", common::ids::hex_id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}

//! Versioned migrations, embedded in the binary.
//!
//! Each file in `migrations/` is one version, applied once, in order, inside
//! a transaction; `schema_migrations` records what was applied. A database
//! whose version is newer than the binary knows is refused rather than
//! guessed at. `schema/sqlite.sql` is the schema the migrations produce,
//! checked by a test so a change to it is always deliberate.

use crate::{Db, DbError, DbKind};
use sqlx::Row;

/// (version, name, SQL), in order.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "identity",
        include_str!("../migrations/0001_identity.sql"),
    ),
    (2, "image", include_str!("../migrations/0002_image.sql")),
    (
        3,
        "object_store",
        include_str!("../migrations/0003_object_store.sql"),
    ),
    (
        4,
        "identity_ext",
        include_str!("../migrations/0004_identity_ext.sql"),
    ),
    (
        5,
        "image_upload_lease",
        include_str!("../migrations/0005_image_upload_lease.sql"),
    ),
    (
        6,
        "image_metadefs_tasks",
        include_str!("../migrations/0006_image_metadefs_tasks.sql"),
    ),
    // 7 is left for the migration being written beside this one.
    (
        8,
        "list_indexes",
        include_str!("../migrations/0008_list_indexes.sql"),
    ),
];

pub fn latest() -> i64 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

pub async fn run(db: &Db) -> Result<(), DbError> {
    let mut conn = db.pool.acquire().await?;
    if db.kind == DbKind::Postgres {
        // Two API replicas starting together must not both migrate.
        sqlx::query("SELECT pg_advisory_lock(7240151)")
            .execute(&mut *conn)
            .await?;
    }
    let result = apply_pending(db, &mut conn).await;
    if db.kind == DbKind::Postgres {
        sqlx::query("SELECT pg_advisory_unlock(7240151)")
            .execute(&mut *conn)
            .await?;
    }
    result
}

async fn apply_pending(db: &Db, conn: &mut sqlx::AnyConnection) -> Result<(), DbError> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;
    let current: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
        .fetch_one(&mut *conn)
        .await?
        .try_get("v")?;
    if current > latest() {
        return Err(DbError::TooNew {
            found: current,
            known: latest(),
        });
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let _ = db;
        let fail = |source| DbError::Migration {
            version: *version,
            name: name.to_string(),
            source,
        };
        let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(fail)?;
        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(fail)?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(*version)
        .bind(*name)
        .bind(common::clock::Clock::now_micros(
            &common::clock::SystemClock,
        ))
        .execute(&mut *tx)
        .await
        .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        tracing::info!(version, name, "applied database migration");
    }
    Ok(())
}

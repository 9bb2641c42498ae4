//! Versioned migrations, one sequence per service, embedded in the binary.
//!
//! Each service owns `migrations/<service>/NNNN_name.sql`, numbered from
//! 0001 on its own, so two branches adding to different services never
//! both claim the same number. [`SERVICES`] lists the services in the fixed
//! order they are migrated (identity first: its tables are the ones others
//! may name). Each file is applied once, in order, inside a transaction;
//! `service_migrations` records `(service, version)`. A database on which
//! any service is newer than the binary knows (or that has a service the
//! binary does not know) is refused rather than guessed at.
//!
//! Databases made before the sequences were split recorded one global
//! sequence in `schema_migrations` (versions 1–6); the first start maps
//! those rows onto the per-service versions ([`LEGACY`]) without applying
//! anything again. `schema_migrations` then holds only [`LEGACY_SENTINEL`],
//! so a binary from before the split refuses the database as too new
//! instead of applying its files a second time.
//!
//! `schema/sqlite.sql` is the schema the migrations produce, checked by a
//! test so a change to it is always deliberate.

use crate::{Db, DbError, DbKind};
use sqlx::Row;

/// One migration file of one service.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// One service's migrations, in order, numbered from 1 without gaps.
#[derive(Debug, Clone, Copy)]
pub struct ServiceMigrations {
    /// The service type (`identity`, `image`, `object-store`), or `platform`
    /// for the node registry and sagas; also the directory under
    /// `migrations/`.
    pub service: &'static str,
    pub migrations: &'static [Migration],
}

impl ServiceMigrations {
    /// The newest version this binary knows for the service.
    pub fn latest(&self) -> i64 {
        self.migrations.last().map(|m| m.version).unwrap_or(0)
    }
}

pub const IDENTITY: ServiceMigrations = ServiceMigrations {
    service: "identity",
    migrations: &[
        Migration {
            version: 1,
            name: "identity",
            sql: include_str!("../migrations/identity/0001_identity.sql"),
        },
        Migration {
            version: 2,
            name: "identity_ext",
            sql: include_str!("../migrations/identity/0002_identity_ext.sql"),
        },
        Migration {
            version: 3,
            name: "list_indexes",
            sql: include_str!("../migrations/identity/0003_list_indexes.sql"),
        },
        Migration {
            version: 4,
            name: "more_list_indexes",
            sql: include_str!("../migrations/identity/0004_more_list_indexes.sql"),
        },
    ],
};

pub const IMAGE: ServiceMigrations = ServiceMigrations {
    service: "image",
    migrations: &[
        Migration {
            version: 1,
            name: "image",
            sql: include_str!("../migrations/image/0001_image.sql"),
        },
        Migration {
            version: 2,
            name: "image_upload_lease",
            sql: include_str!("../migrations/image/0002_image_upload_lease.sql"),
        },
        Migration {
            version: 3,
            name: "image_metadefs_tasks",
            sql: include_str!("../migrations/image/0003_image_metadefs_tasks.sql"),
        },
        Migration {
            version: 4,
            name: "list_indexes",
            sql: include_str!("../migrations/image/0004_list_indexes.sql"),
        },
    ],
};

pub const OBJECT_STORE: ServiceMigrations = ServiceMigrations {
    service: "object-store",
    migrations: &[Migration {
        version: 1,
        name: "object_store",
        sql: include_str!("../migrations/object-store/0001_object_store.sql"),
    }],
};

pub const NETWORK: ServiceMigrations = ServiceMigrations {
    service: "network",
    migrations: &[
        Migration {
            version: 1,
            name: "network",
            sql: include_str!("../migrations/network/0001_network.sql"),
        },
        Migration {
            version: 2,
            name: "subnets",
            sql: include_str!("../migrations/network/0002_subnets.sql"),
        },
        Migration {
            version: 3,
            name: "ports",
            sql: include_str!("../migrations/network/0003_ports.sql"),
        },
        Migration {
            version: 4,
            name: "quotas",
            sql: include_str!("../migrations/network/0004_quotas.sql"),
        },
        Migration {
            version: 5,
            name: "security_groups",
            sql: include_str!("../migrations/network/0005_security_groups.sql"),
        },
        Migration {
            version: 6,
            name: "subnetpools",
            sql: include_str!("../migrations/network/0006_subnetpools.sql"),
        },
        Migration {
            version: 7,
            name: "routers",
            sql: include_str!("../migrations/network/0007_routers.sql"),
        },
        Migration {
            version: 8,
            name: "router_gateway",
            sql: include_str!("../migrations/network/0008_router_gateway.sql"),
        },
        Migration {
            version: 9,
            name: "router_routes",
            sql: include_str!("../migrations/network/0009_router_routes.sql"),
        },
        Migration {
            version: 10,
            name: "floatingips",
            sql: include_str!("../migrations/network/0010_floatingips.sql"),
        },
        Migration {
            version: 11,
            name: "port_forwardings",
            sql: include_str!("../migrations/network/0011_port_forwardings.sql"),
        },
        Migration {
            version: 12,
            name: "agents",
            sql: include_str!("../migrations/network/0012_agents.sql"),
        },
    ],
};

pub const COMPUTE: ServiceMigrations = ServiceMigrations {
    service: "compute",
    migrations: &[
        Migration {
            version: 1,
            name: "servers",
            sql: include_str!("../migrations/compute/0001_servers.sql"),
        },
        Migration {
            version: 2,
            name: "flavors_keypairs",
            sql: include_str!("../migrations/compute/0002_flavors_keypairs.sql"),
        },
        Migration {
            version: 3,
            name: "quotas",
            sql: include_str!("../migrations/compute/0003_quotas.sql"),
        },
        Migration {
            version: 4,
            name: "ec2_ids",
            sql: include_str!("../migrations/compute/0004_ec2_ids.sql"),
        },
        Migration {
            version: 5,
            name: "migrations",
            sql: include_str!("../migrations/compute/0005_migrations.sql"),
        },
        Migration {
            version: 6,
            name: "aggregates",
            sql: include_str!("../migrations/compute/0006_aggregates.sql"),
        },
        Migration {
            version: 7,
            name: "server_groups",
            sql: include_str!("../migrations/compute/0007_server_groups.sql"),
        },
        Migration {
            version: 8,
            name: "compute_commands",
            sql: include_str!("../migrations/compute/0008_compute_commands.sql"),
        },
        Migration {
            version: 9,
            name: "console_tokens",
            sql: include_str!("../migrations/compute/0009_console_tokens.sql"),
        },
        Migration {
            version: 10,
            name: "migration_records",
            sql: include_str!("../migrations/compute/0010_migration_records.sql"),
        },
        Migration {
            version: 11,
            name: "auto_disk_config",
            sql: include_str!("../migrations/compute/0011_auto_disk_config.sql"),
        },
    ],
};

/// The tables of the platform itself rather than of one OpenStack service:
/// the node registry behind the internal API (`crates/nodes`) and the
/// sagas in progress (`db::saga`).
pub const PLATFORM: ServiceMigrations = ServiceMigrations {
    service: "platform",
    migrations: &[Migration {
        version: 1,
        name: "nodes_sagas",
        sql: include_str!("../migrations/platform/0001_nodes_sagas.sql"),
    }],
};

/// Every service's migrations, in the order they are applied.
pub const SERVICES: &[ServiceMigrations] =
    &[IDENTITY, IMAGE, OBJECT_STORE, NETWORK, COMPUTE, PLATFORM];

/// The global versions of the one sequence used before the split, and the
/// `(service, version)` each became.
pub const LEGACY: &[(i64, &str, i64)] = &[
    (1, "identity", 1),
    (2, "image", 1),
    (3, "object-store", 1),
    (4, "identity", 2),
    (5, "image", 2),
    (6, "image", 3),
];

/// The one row left in `schema_migrations`: above any version a binary
/// from before the split knows, so such a binary refuses the database.
pub const LEGACY_SENTINEL: i64 = 1_000_000;

pub async fn run(db: &Db) -> Result<(), DbError> {
    let mut conn = db.pool.acquire().await?;
    if db.kind == DbKind::Postgres {
        // Two API replicas starting together must not both migrate.
        sqlx::query("SELECT pg_advisory_lock(7240151)")
            .execute(&mut *conn)
            .await?;
    }
    let result = migrate(&mut conn, SERVICES).await;
    if db.kind == DbKind::Postgres {
        sqlx::query("SELECT pg_advisory_unlock(7240151)")
            .execute(&mut *conn)
            .await?;
    }
    result
}

/// The record time of an applied migration. Not an expiry or anything a
/// test needs to steer, so it reads the wall clock itself rather than
/// asking every caller of [`Db::open`] for a clock.
#[allow(clippy::disallowed_methods)]
fn now_micros() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

async fn migrate(
    conn: &mut sqlx::AnyConnection,
    services: &[ServiceMigrations],
) -> Result<(), DbError> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL);
         CREATE TABLE IF NOT EXISTS service_migrations (
            service TEXT NOT NULL,
            version BIGINT NOT NULL,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL,
            PRIMARY KEY (service, version))",
    )
    .execute(&mut *conn)
    .await?;
    adopt_legacy(conn).await?;

    let rows =
        sqlx::query("SELECT service, MAX(version) AS v FROM service_migrations GROUP BY service")
            .fetch_all(&mut *conn)
            .await?;
    let mut current = std::collections::HashMap::new();
    for r in rows {
        let service: String = r.try_get("service")?;
        let v: i64 = r.try_get("v")?;
        let known = services
            .iter()
            .find(|s| s.service == service)
            .map(|s| s.latest());
        match known {
            Some(known) if v <= known => {
                current.insert(service, v);
            }
            known => {
                return Err(DbError::TooNew {
                    service,
                    found: v,
                    known: known.unwrap_or(0),
                })
            }
        }
    }
    for s in services {
        let at = current.get(s.service).copied().unwrap_or(0);
        for m in s.migrations.iter().filter(|m| m.version > at) {
            apply(conn, s.service, m).await?;
        }
    }
    Ok(())
}

async fn apply(
    conn: &mut sqlx::AnyConnection,
    service: &'static str,
    m: &Migration,
) -> Result<(), DbError> {
    let fail = |source| DbError::Migration {
        service,
        version: m.version,
        name: m.name.to_string(),
        source,
    };
    let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(fail)?;
    sqlx::raw_sql(m.sql).execute(&mut *tx).await.map_err(fail)?;
    sqlx::query(
        "INSERT INTO service_migrations (service, version, name, applied_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(service)
    .bind(m.version)
    .bind(m.name)
    .bind(now_micros())
    .execute(&mut *tx)
    .await
    .map_err(fail)?;
    tx.commit().await.map_err(fail)?;
    tracing::info!(
        service,
        version = m.version,
        name = m.name,
        "applied database migration"
    );
    Ok(())
}

/// Moves the rows of the global sequence into `service_migrations` and
/// leaves [`LEGACY_SENTINEL`] behind, in one transaction. A global version
/// this binary never had (a newer binary's, from before the split) is
/// refused.
async fn adopt_legacy(conn: &mut sqlx::AnyConnection) -> Result<(), DbError> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let rows =
        sqlx::query("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
            .fetch_all(&mut *tx)
            .await?;
    let mut has_sentinel = false;
    for r in rows {
        let version: i64 = r.try_get("version")?;
        if version == LEGACY_SENTINEL {
            has_sentinel = true;
            continue;
        }
        let Some((_, service, v)) = LEGACY.iter().find(|l| l.0 == version) else {
            return Err(DbError::TooNew {
                service: "schema_migrations".into(),
                found: version,
                known: LEGACY.last().map(|l| l.0).unwrap_or(0),
            });
        };
        let name: String = r.try_get("name")?;
        let applied_at: i64 = r.try_get("applied_at")?;
        sqlx::query(
            "INSERT INTO service_migrations (service, version, name, applied_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (service, version) DO NOTHING",
        )
        .bind(*service)
        .bind(*v)
        .bind(name)
        .bind(applied_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM schema_migrations WHERE version = $1")
            .bind(version)
            .execute(&mut *tx)
            .await?;
    }
    if !has_sentinel {
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(LEGACY_SENTINEL)
        .bind("moved to service_migrations")
        .bind(now_micros())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sequence_counts_from_one_without_gaps() {
        for s in SERVICES {
            for (i, m) in s.migrations.iter().enumerate() {
                assert_eq!(m.version, i as i64 + 1, "{} {}", s.service, m.name);
            }
        }
        for (_, service, v) in LEGACY {
            let s = SERVICES.iter().find(|s| s.service == *service).unwrap();
            assert!(*v <= s.latest());
        }
    }
}

//! The store every service shares: one connection pool over SQLite (WAL, the
//! all-in-one default) or PostgreSQL (multi-node), with versioned migrations.
//!
//! Queries are written once, in SQL both engines accept (`$1` placeholders,
//! `TEXT` and `BIGINT` columns, booleans as 0/1), and run through sqlx's
//! `Any` driver, so the same test suite exercises both engines.
//!
//! SQLite allows one writer at a time and answers `SQLITE_BUSY` to a second
//! transaction that tries to upgrade from read to write; rather than retry,
//! [`Db::begin_write`] serialises write transactions within the process
//! (the state directory lock guarantees one process per SQLite file) and
//! starts them with `BEGIN IMMEDIATE`, so they hold the file's write lock
//! from their first statement: a single-statement write outside the
//! process lock (a node heartbeat, a login-failure counter) then waits for
//! them (`busy_timeout`) instead of invalidating their snapshot, which a
//! deferred transaction that read first would see as an immediate
//! `SQLITE_BUSY_SNAPSHOT` on its first write. PostgreSQL needs no such
//! lock.

pub mod list;
pub mod migrate;
pub mod revisions;
pub mod saga;
pub mod testing;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use sqlx;
pub use sqlx::Row;

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("migration {service} {version} ({name}) failed: {source}")]
    Migration {
        service: &'static str,
        version: i64,
        name: String,
        source: sqlx::Error,
    },
    #[error(
        "database schema of {service} is at version {found}, newer than this binary knows \
         ({known}); upgrade oxistack before starting it on this database"
    )]
    TooNew {
        service: String,
        found: i64,
        known: i64,
    },
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

/// A handle to the store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub kind: DbKind,
    write_lock: Arc<tokio::sync::Mutex<()>>,
    revisions: revisions::Revisions,
    url: ConnectUrl,
}

/// The URL the pool was opened with; shown without its password.
#[derive(Clone)]
struct ConnectUrl(Arc<str>);

impl std::fmt::Debug for ConnectUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

/// A write transaction; on SQLite it also holds the process's write lock.
pub struct WriteTx {
    pub tx: Tx,
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
    revisions: revisions::Revisions,
    /// Counters bumped in this transaction and their new values,
    /// announced on commit.
    bumped: Vec<(String, i64)>,
}

impl std::ops::Deref for WriteTx {
    type Target = Tx;
    fn deref(&self) -> &Tx {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Tx {
        &mut self.tx
    }
}

impl WriteTx {
    /// The connection to run statements on.
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    /// Bumps revision counter `name` in this transaction (see
    /// [`revisions::bump`]); waiters in this process wake when it commits.
    pub async fn bump(&mut self, name: &str) -> Result<i64, sqlx::Error> {
        let v = revisions::bump(&mut self.tx, name).await?;
        // Values only grow within a transaction: keep the last.
        match self.bumped.iter_mut().find(|(b, _)| b == name) {
            Some(b) => b.1 = v,
            None => self.bumped.push((name.to_string(), v)),
        }
        Ok(v)
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await?;
        for (name, value) in &self.bumped {
            self.revisions.committed(name, *value);
        }
        Ok(())
    }
}

impl Db {
    /// Opens `url` (`sqlite://PATH` or `postgres://…`), creating a SQLite
    /// file if needed, and brings the schema up to date.
    pub async fn open(url: &str) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let kind = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            DbKind::Postgres
        } else {
            DbKind::Sqlite
        };
        let connect_url = match kind {
            DbKind::Sqlite if !url.contains('?') => format!("{url}?mode=rwc"),
            _ => url.to_string(),
        };
        let opts =
            AnyConnectOptions::from_str(&connect_url).map_err(|source| DbError::Connect {
                url: redact(url),
                source,
            })?;
        let pool = AnyPoolOptions::new()
            .max_connections(match kind {
                DbKind::Sqlite => 4,
                DbKind::Postgres => 8,
            })
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if kind == DbKind::Sqlite {
                        conn.execute(
                            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
                             PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .map_err(|source| DbError::Connect {
                url: redact(url),
                source,
            })?;
        let revisions = revisions::Revisions::new(
            (kind == DbKind::Postgres).then(|| url.to_string()),
            pool.clone(),
        );
        let db = Db {
            pool,
            kind,
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
            revisions,
            url: ConnectUrl(Arc::from(url)),
        };
        migrate::run(&db).await?;
        Ok(db)
    }

    /// Begins a write transaction (see the module docs on SQLite).
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let guard = match self.kind {
            DbKind::Sqlite => Some(self.write_lock.clone().lock_owned().await),
            DbKind::Postgres => None,
        };
        let tx = match self.kind {
            DbKind::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            DbKind::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx {
            tx,
            _guard: guard,
            revisions: self.revisions.clone(),
            bumped: Vec::new(),
        })
    }

    /// The revision feed's in-process side (waiting, waking).
    pub fn revisions(&self) -> &revisions::Revisions {
        &self.revisions
    }

    /// True when several processes may share this store (PostgreSQL), so
    /// in-process caches must check the store's revision counters.
    pub fn is_shared(&self) -> bool {
        self.kind == DbKind::Postgres
    }

    /// The URL this store was opened with, for a connection of its own
    /// outside the pool (PostgreSQL's `LISTEN` needs one).
    pub fn url(&self) -> &str {
        &self.url.0
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A URL without its password, for error messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Booleans are stored as 0/1 so both engines read them as integers.
pub fn b2i(b: bool) -> i64 {
    i64::from(b)
}

pub fn i2b(i: i64) -> bool {
    i != 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

    /// A write transaction that reads before it writes is not undone by a
    /// single-statement write that lands in between from outside the
    /// process's write lock: that write waits for the transaction instead.
    #[tokio::test]
    async fn an_outside_write_does_not_break_a_write_transaction() {
        let dir = std::env::temp_dir().join(format!("oxistack-db-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = crate::testing::fresh(&dir).await.unwrap();
        sqlx::query("CREATE TABLE t_race (k TEXT PRIMARY KEY, v BIGINT NOT NULL)")
            .execute(&db.pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t_race (k, v) VALUES ('a', 0), ('b', 0)")
            .execute(&db.pool)
            .await
            .unwrap();
        let mut tx = db.begin_write().await.unwrap();
        let v: i64 = sqlx::query_scalar("SELECT v FROM t_race WHERE k = 'a'")
            .fetch_one(tx.conn())
            .await
            .unwrap();
        let pool = db.pool.clone();
        let outside = tokio::spawn(async move {
            sqlx::query("UPDATE t_race SET v = v + 1 WHERE k = 'b'")
                .execute(&pool)
                .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        sqlx::query("UPDATE t_race SET v = $1 WHERE k = 'a'")
            .bind(v + 1)
            .execute(tx.conn())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        outside.await.unwrap().unwrap();
        let vs: Vec<i64> = sqlx::query_scalar("SELECT v FROM t_race ORDER BY k")
            .fetch_all(&db.pool)
            .await
            .unwrap();
        assert_eq!(vs, vec![1, 1]);
        db.close().await;
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("sqlite:///x.db"), "sqlite:///x.db");
    }
}

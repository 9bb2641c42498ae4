//! The compute service's queries, one module per table family, over
//! `db::Db` (SQLite or PostgreSQL; migrations in
//! `crates/db/migrations/compute/`).

pub mod consoles;
pub mod flavors;
pub mod keypairs;
pub mod metadata;

pub type Conn = db::sqlx::AnyConnection;
pub mod quotas;
pub mod servers;
pub mod services;

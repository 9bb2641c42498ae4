//! The compute service's queries, one module per table family, over
//! `db::Db` (SQLite or PostgreSQL; migrations in
//! `crates/db/migrations/compute/`).

pub mod aggregates;
pub mod consoles;
pub mod flavors;
pub mod keypairs;
pub mod metadata;
pub mod migrations;
pub mod passwords;

pub type Conn = db::sqlx::AnyConnection;
pub mod quotas;
pub mod server_groups;
pub mod server_lifecycle;
pub mod servers;
pub mod services;
pub mod usage;

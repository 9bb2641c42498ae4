//! The compute service's queries, one module per table family, over
//! `db::Db` (SQLite or PostgreSQL; migrations in
//! `crates/db/migrations/compute/`).
pub mod servers;

//! Image queries, one module per table. Reads take the pool, writes a
//! write transaction's connection; state changes are conditional UPDATEs
//! whose row count says whether the transition happened, so concurrent
//! requests cannot both win. No rules live here: they are in `app`.

pub mod images;
pub mod members;
pub mod metadefs;
pub mod tasks;
pub mod usage;

pub type Conn = db::sqlx::AnyConnection;

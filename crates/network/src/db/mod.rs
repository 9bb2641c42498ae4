//! Network queries, one module per table family. Reads take the pool,
//! writes a write transaction's connection; allocations (segments,
//! addresses, MACs) rest on unique indexes, so two concurrent requests
//! can never both win one. No rules live here: they are in `app`.

pub mod agents;
pub mod feed;
pub mod floatingips;
pub mod networks;
pub mod port_forwardings;
pub mod ports;
pub mod quotas;
pub mod routers;
pub mod security_groups;
pub mod subnetpools;
pub mod subnets;
pub mod tags;

pub type Conn = db::sqlx::AnyConnection;

/// Whether `e` is a unique-constraint violation (the allocation was
/// taken by a concurrent writer).
pub fn is_unique_violation(e: &db::sqlx::Error) -> bool {
    match e {
        db::sqlx::Error::Database(d) => {
            d.is_unique_violation()
                || d.message().contains("UNIQUE constraint failed")
                || d.code().as_deref() == Some("23505")
        }
        _ => false,
    }
}

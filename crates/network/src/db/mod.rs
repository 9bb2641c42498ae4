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

/// Bumps the revision of row `id` of `table` (a child or its tags
/// changed); false when there is no such row. `table` is one of this
/// crate's table names, never user input.
pub async fn touch_row(
    conn: &mut Conn,
    table: &'static str,
    id: &str,
    now: i64,
) -> Result<bool, db::sqlx::Error> {
    let sql = format!(
        "UPDATE {table} SET revision_number = revision_number + 1, updated_at = $1 WHERE id = $2"
    );
    let r = db::sqlx::query(&sql)
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Deletes row `id` of `table` (what references it goes by the schema's
/// cascades); false when there was none.
pub async fn delete_row(
    conn: &mut Conn,
    table: &'static str,
    id: &str,
) -> Result<bool, db::sqlx::Error> {
    let sql = format!("DELETE FROM {table} WHERE id = $1");
    let r = db::sqlx::query(&sql).bind(id).execute(&mut *conn).await?;
    Ok(r.rows_affected() == 1)
}

/// One page of a list query, each row read by `from_row`, with the
/// marker of the next page.
pub async fn list_rows<T>(
    pool: &db::sqlx::AnyPool,
    q: &db::list::ListQuery,
    from_row: fn(&db::sqlx::any::AnyRow) -> Result<T, db::sqlx::Error>,
) -> Result<(Vec<T>, Option<String>), db::list::ListError> {
    let page = q.fetch(pool).await?;
    let rows = page
        .rows
        .iter()
        .map(from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rows, page.next_marker))
}

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

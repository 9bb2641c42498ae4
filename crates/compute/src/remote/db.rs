//! Queries of the remote driver: the `compute_commands` table (calls in
//! flight to node agents) and the few instance reads and the power-state
//! sync write it needs.

use super::feed::FeedCommand;
use ::db::sqlx::{self, AnyConnection, Row};

/// A command row as its caller reads it back.
#[derive(Debug, Clone)]
pub struct Finished {
    pub result: Option<String>,
}

/// The node hosting instance `id` (`None`: unknown, or not placed yet).
pub async fn host_of<'c, E>(conn: E, id: &str) -> Result<Option<String>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let row = sqlx::query("SELECT host FROM compute_instances WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    match row {
        Some(r) => r.try_get::<Option<String>, _>("host"),
        None => Ok(None),
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn insert(
    conn: &mut AnyConnection,
    id: &str,
    node: &str,
    instance_id: &str,
    op: &str,
    args: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO compute_commands (id, node, instance_id, op, args, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(node)
    .bind(instance_id)
    .bind(op)
    .bind(args)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The command's result once the node answered (`None` while pending,
/// `Err` row-not-found as `Ok(None)` too: the caller checks `exists`).
pub async fn result_of<'c, E>(conn: E, id: &str) -> Result<Option<Finished>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let row = sqlx::query("SELECT result FROM compute_commands WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok(Finished {
            result: r.try_get("result")?,
        })
    })
    .transpose()
}

pub async fn delete<'c, E>(conn: E, id: &str) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query("DELETE FROM compute_commands WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The node's pending commands, oldest first.
pub async fn pending<'c, E>(conn: E, node: &str) -> Result<Vec<FeedCommand>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let rows = sqlx::query(
        "SELECT id, instance_id, op, args FROM compute_commands \
         WHERE node = $1 AND finished_at IS NULL ORDER BY created_at, id",
    )
    .bind(node)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let args: String = r.try_get("args")?;
            Ok(FeedCommand {
                id: r.try_get("id")?,
                instance_id: r.try_get("instance_id")?,
                op: r.try_get("op")?,
                args: serde_json::from_str(&args)
                    .unwrap_or_else(|_| serde_json::Value::Object(Default::default())),
            })
        })
        .collect()
}

/// Records a node's answer to one of its own pending commands; whether
/// it did (an answer to a command of another node, finished or given up
/// on is ignored).
pub async fn finish(
    conn: &mut AnyConnection,
    id: &str,
    node: &str,
    result: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE compute_commands SET result = $1, finished_at = $2 \
         WHERE id = $3 AND node = $4 AND finished_at IS NULL",
    )
    .bind(result)
    .bind(now)
    .bind(id)
    .bind(node)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// The live instances placed on `node`, by id.
pub async fn instances_on<'c, E>(conn: E, node: &str) -> Result<Vec<String>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "SELECT id FROM compute_instances WHERE host = $1 AND deleted_at IS NULL ORDER BY id",
    )
    .bind(node)
    .fetch_all(conn)
    .await?
    .iter()
    .map(|r| r.try_get("id"))
    .collect()
}

/// Nova's `_sync_power_states` for one instance of `node`: an ACTIVE
/// server with no task whose guest is found off (or gone) becomes
/// `stopped`; any other server with no task only takes the new power
/// state. A server with a task is never touched (the task owns it).
/// Whether the row changed, and whether its `vm_state` did.
pub async fn sync_power(
    conn: &mut AnyConnection,
    id: &str,
    node: &str,
    power: virt::PowerState,
    now: i64,
) -> Result<(bool, bool), sqlx::Error> {
    use virt::PowerState as P;
    let off = matches!(power, P::Shutdown | P::NoState | P::Crashed);
    if off {
        let r = sqlx::query(
            "UPDATE compute_instances SET vm_state = 'stopped', power_state = $1, updated_at = $2 \
             WHERE id = $3 AND host = $4 AND deleted_at IS NULL AND task_state IS NULL \
             AND vm_state = 'active'",
        )
        .bind(power.code())
        .bind(now)
        .bind(id)
        .bind(node)
        .execute(&mut *conn)
        .await?;
        if r.rows_affected() > 0 {
            return Ok((true, true));
        }
    }
    let r = sqlx::query(
        "UPDATE compute_instances SET power_state = $1, updated_at = $2 \
         WHERE id = $3 AND host = $4 AND deleted_at IS NULL AND task_state IS NULL \
         AND vm_state IN ('active', 'stopped', 'paused', 'suspended') AND power_state <> $1",
    )
    .bind(power.code())
    .bind(now)
    .bind(id)
    .bind(node)
    .execute(&mut *conn)
    .await?;
    Ok((r.rows_affected() > 0, false))
}

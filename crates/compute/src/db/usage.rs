//! The servers `os-simple-tenant-usage` bills: every server (deleted ones
//! too) that ran during a period, as Nova's
//! `instance_get_active_by_window_joined` finds them.

use super::servers::{from_row, InstanceRow, COLUMNS};
use db::sqlx;

/// Servers launched before `end` and not terminated before `begin` (of
/// `project` when given), by project then id; only those after `after`
/// (a project and id), at most `limit`.
pub async fn active_in_window<'c, E>(
    conn: E,
    begin: i64,
    end: i64,
    project: Option<&str>,
    after: Option<(&str, &str)>,
    limit: i64,
) -> Result<Vec<InstanceRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let mut sql = format!(
        "SELECT {COLUMNS} FROM compute_instances \
         WHERE (terminated_at IS NULL OR terminated_at > $1) \
         AND launched_at IS NOT NULL AND launched_at < $2"
    );
    let mut texts: Vec<&str> = Vec::new();
    if let Some(p) = project {
        texts.push(p);
        sql.push_str(&format!(" AND project_id = ${}", texts.len() + 2));
    }
    if let Some((p, id)) = after {
        texts.push(p);
        let pm = texts.len() + 2;
        texts.push(p);
        let pm2 = texts.len() + 2;
        texts.push(id);
        let im = texts.len() + 2;
        sql.push_str(&format!(
            " AND (project_id > ${pm} OR (project_id = ${pm2} AND id > ${im}))"
        ));
    }
    sql.push_str(&format!(" ORDER BY project_id, id LIMIT {}", limit.max(0)));
    let mut q = sqlx::query(&sql).bind(begin).bind(end);
    for t in texts {
        q = q.bind(t);
    }
    q.fetch_all(conn).await?.iter().map(from_row).collect()
}

//! `compute_instances` (servers) and `compute_instance_actions` /
//! `compute_instance_action_events` (`os-instance-actions`).

use db::sqlx::{self, any::AnyRow, Row};
use db::{b2i, i2b};
use serde_json::Value;

pub type Conn = sqlx::AnyConnection;

/// A server row; JSON columns decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRow {
    pub id: String,
    pub name: String,
    pub display_description: Option<String>,
    pub project_id: String,
    pub user_id: String,
    pub hostname: String,
    pub host: Option<String>,
    pub availability_zone: Option<String>,
    pub pinned_availability_zone: Option<String>,
    pub flavor_id: String,
    pub flavor: Value,
    pub vcpus: i64,
    pub memory_mb: i64,
    pub root_gb: i64,
    pub ephemeral_gb: i64,
    pub image_ref: String,
    pub vm_state: String,
    pub task_state: Option<String>,
    pub power_state: i64,
    pub key_name: Option<String>,
    pub key_data: Option<String>,
    pub user_data: Option<String>,
    pub config_drive: String,
    pub access_ip_v4: Option<String>,
    pub access_ip_v6: Option<String>,
    pub metadata: Value,
    pub tags: Vec<String>,
    pub security_groups: Vec<String>,
    pub locked: bool,
    pub locked_by: Option<String>,
    pub locked_reason: Option<String>,
    pub reservation_id: String,
    pub launch_index: i64,
    pub fault: Option<Value>,
    pub network_info: Vec<Value>,
    pub image_properties: Value,
    /// `OS-DCF:diskConfig`: AUTO when true, MANUAL when false.
    pub auto_disk_config: bool,
    pub launched_at: Option<i64>,
    pub terminated_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

pub const COLUMNS: &str = "id, name, display_description, project_id, user_id, hostname, host, \
    availability_zone, pinned_availability_zone, flavor_id, flavor, vcpus, memory_mb, root_gb, ephemeral_gb, image_ref, \
    vm_state, task_state, power_state, key_name, key_data, user_data, config_drive, \
    access_ip_v4, access_ip_v6, metadata, tags, security_groups, locked, locked_by, \
    locked_reason, reservation_id, launch_index, fault, network_info, image_properties, \
    auto_disk_config, launched_at, terminated_at, created_at, updated_at, deleted_at";

fn json_col<T: serde::de::DeserializeOwned>(r: &AnyRow, col: &str) -> Result<T, sqlx::Error> {
    let text: String = r.try_get(col)?;
    serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

pub fn from_row(r: &AnyRow) -> Result<InstanceRow, sqlx::Error> {
    let fault: Option<String> = r.try_get("fault")?;
    Ok(InstanceRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        display_description: r.try_get("display_description")?,
        project_id: r.try_get("project_id")?,
        user_id: r.try_get("user_id")?,
        hostname: r.try_get("hostname")?,
        host: r.try_get("host")?,
        availability_zone: r.try_get("availability_zone")?,
        pinned_availability_zone: r.try_get("pinned_availability_zone")?,
        flavor_id: r.try_get("flavor_id")?,
        flavor: json_col(r, "flavor")?,
        vcpus: r.try_get("vcpus")?,
        memory_mb: r.try_get("memory_mb")?,
        root_gb: r.try_get("root_gb")?,
        ephemeral_gb: r.try_get("ephemeral_gb")?,
        image_ref: r.try_get("image_ref")?,
        vm_state: r.try_get("vm_state")?,
        task_state: r.try_get("task_state")?,
        power_state: r.try_get("power_state")?,
        key_name: r.try_get("key_name")?,
        key_data: r.try_get("key_data")?,
        user_data: r.try_get("user_data")?,
        config_drive: r.try_get("config_drive")?,
        access_ip_v4: r.try_get("access_ip_v4")?,
        access_ip_v6: r.try_get("access_ip_v6")?,
        metadata: json_col(r, "metadata")?,
        tags: json_col(r, "tags")?,
        security_groups: json_col(r, "security_groups")?,
        locked: i2b(r.try_get("locked")?),
        locked_by: r.try_get("locked_by")?,
        locked_reason: r.try_get("locked_reason")?,
        reservation_id: r.try_get("reservation_id")?,
        launch_index: r.try_get("launch_index")?,
        fault: fault
            .map(|f| serde_json::from_str(&f))
            .transpose()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        network_info: json_col(r, "network_info")?,
        image_properties: json_col(r, "image_properties")?,
        auto_disk_config: i2b(r.try_get("auto_disk_config")?),
        launched_at: r.try_get("launched_at")?,
        terminated_at: r.try_get("terminated_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        deleted_at: r.try_get("deleted_at")?,
    })
}

pub async fn insert(conn: &mut Conn, i: &InstanceRow) -> Result<(), sqlx::Error> {
    let n = COLUMNS.split(',').count();
    let marks: Vec<String> = (1..=n).map(|k| format!("${k}")).collect();
    let sql = format!(
        "INSERT INTO compute_instances ({COLUMNS}) VALUES ({})",
        marks.join(", ")
    );
    sqlx::query(&sql)
        .bind(&i.id)
        .bind(&i.name)
        .bind(&i.display_description)
        .bind(&i.project_id)
        .bind(&i.user_id)
        .bind(&i.hostname)
        .bind(&i.host)
        .bind(&i.availability_zone)
        .bind(&i.pinned_availability_zone)
        .bind(&i.flavor_id)
        .bind(i.flavor.to_string())
        .bind(i.vcpus)
        .bind(i.memory_mb)
        .bind(i.root_gb)
        .bind(i.ephemeral_gb)
        .bind(&i.image_ref)
        .bind(&i.vm_state)
        .bind(&i.task_state)
        .bind(i.power_state)
        .bind(&i.key_name)
        .bind(&i.key_data)
        .bind(&i.user_data)
        .bind(&i.config_drive)
        .bind(&i.access_ip_v4)
        .bind(&i.access_ip_v6)
        .bind(i.metadata.to_string())
        .bind(serde_json::json!(i.tags).to_string())
        .bind(serde_json::json!(i.security_groups).to_string())
        .bind(b2i(i.locked))
        .bind(&i.locked_by)
        .bind(&i.locked_reason)
        .bind(&i.reservation_id)
        .bind(i.launch_index)
        .bind(i.fault.as_ref().map(Value::to_string))
        .bind(Value::Array(i.network_info.clone()).to_string())
        .bind(i.image_properties.to_string())
        .bind(b2i(i.auto_disk_config))
        .bind(i.launched_at)
        .bind(i.terminated_at)
        .bind(i.created_at)
        .bind(i.updated_at)
        .bind(i.deleted_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A server, deleted or not.
pub async fn get<'c, E>(conn: E, id: &str) -> Result<Option<InstanceRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM compute_instances WHERE id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Servers of `project` (every project when `None`), newest first (Nova's
/// default sort: `created_at` descending, then id); deleted ones only
/// when `with_deleted_since` is given (and deleted since then).
pub async fn list<'c, E>(
    conn: E,
    project: Option<&str>,
    with_deleted_since: Option<i64>,
) -> Result<Vec<InstanceRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let mut sql = format!("SELECT {COLUMNS} FROM compute_instances WHERE ");
    match with_deleted_since {
        Some(_) => sql.push_str("(deleted_at IS NULL OR deleted_at >= $1)"),
        None => sql.push_str("deleted_at IS NULL AND $1 = $1"),
    }
    if project.is_some() {
        sql.push_str(" AND project_id = $2");
    }
    sql.push_str(" ORDER BY created_at DESC, id DESC");
    let mut q = sqlx::query(&sql).bind(with_deleted_since.unwrap_or(0));
    if let Some(p) = project {
        q = q.bind(p);
    }
    q.fetch_all(conn).await?.iter().map(from_row).collect()
}

/// Sets the states; `only_if_task` makes it conditional on the current
/// task state (Nova's `expected_task_state`). Whether a row changed.
pub async fn set_state<'c, E>(
    conn: E,
    id: &str,
    vm_state: &str,
    task_state: Option<&str>,
    power_state: i64,
    now: i64,
) -> Result<bool, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let r = sqlx::query(
        "UPDATE compute_instances SET vm_state = $1, task_state = $2, power_state = $3, \
         updated_at = $4 WHERE id = $5 AND deleted_at IS NULL",
    )
    .bind(vm_state)
    .bind(task_state)
    .bind(power_state)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Starts a task: sets `task_state` only when no task runs and the server
/// is in one of `vm_states` (so two actions cannot both start).
pub async fn begin_task<'c, E>(
    conn: E,
    id: &str,
    vm_states: &[&str],
    task: &str,
    now: i64,
) -> Result<bool, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let marks: Vec<String> = (0..vm_states.len())
        .map(|k| format!("${}", k + 4))
        .collect();
    let sql = format!(
        "UPDATE compute_instances SET task_state = $1, updated_at = $2 WHERE id = $3 \
         AND deleted_at IS NULL AND task_state IS NULL AND vm_state IN ({})",
        marks.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(task).bind(now).bind(id);
    for s in vm_states {
        q = q.bind(*s);
    }
    Ok(q.execute(conn).await?.rows_affected() > 0)
}

pub async fn set_host<'c, E>(conn: E, id: &str, host: &str, now: i64) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query("UPDATE compute_instances SET host = $1, updated_at = $2 WHERE id = $3")
        .bind(host)
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_network_info<'c, E>(
    conn: E,
    id: &str,
    info: &[Value],
    now: i64,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query("UPDATE compute_instances SET network_info = $1, updated_at = $2 WHERE id = $3")
        .bind(Value::Array(info.to_vec()).to_string())
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The build finished: ACTIVE, running.
pub async fn set_launched<'c, E>(
    conn: E,
    id: &str,
    power_state: i64,
    now: i64,
) -> Result<bool, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let r = sqlx::query(
        "UPDATE compute_instances SET vm_state = 'active', task_state = NULL, \
         power_state = $1, launched_at = $2, updated_at = $2 \
         WHERE id = $3 AND deleted_at IS NULL",
    )
    .bind(power_state)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// The build failed: ERROR with `fault`.
pub async fn set_error<'c, E>(conn: E, id: &str, fault: &Value, now: i64) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "UPDATE compute_instances SET vm_state = 'error', task_state = NULL, fault = $1, \
         updated_at = $2 WHERE id = $3 AND deleted_at IS NULL",
    )
    .bind(fault.to_string())
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// `PUT /servers/{id}`'s fields, already merged with the row.
pub async fn update_fields(conn: &mut Conn, i: &InstanceRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE compute_instances SET name = $1, display_description = $2, access_ip_v4 = $3, \
         access_ip_v6 = $4, hostname = $5, locked = $6, locked_by = $7, locked_reason = $8, \
         metadata = $9, updated_at = $10, auto_disk_config = $12 \
         WHERE id = $11 AND deleted_at IS NULL",
    )
    .bind(&i.name)
    .bind(&i.display_description)
    .bind(&i.access_ip_v4)
    .bind(&i.access_ip_v6)
    .bind(&i.hostname)
    .bind(b2i(i.locked))
    .bind(&i.locked_by)
    .bind(&i.locked_reason)
    .bind(i.metadata.to_string())
    .bind(i.updated_at)
    .bind(&i.id)
    .bind(b2i(i.auto_disk_config))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Sets `OS-DCF:diskConfig` (resize's, which changes nothing else of the
/// row outside the task).
pub async fn set_auto_disk_config(
    conn: &mut Conn,
    id: &str,
    auto: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE compute_instances SET auto_disk_config = $1 WHERE id = $2")
        .bind(b2i(auto))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Soft-deletes: the row stays for `changes-since` and instance actions.
pub async fn mark_deleted<'c, E>(conn: E, id: &str, now: i64) -> Result<bool, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let r = sqlx::query(
        "UPDATE compute_instances SET vm_state = 'deleted', task_state = NULL, power_state = 0, \
         terminated_at = $1, updated_at = $1, deleted_at = $1 \
         WHERE id = $2 AND deleted_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// An instance action.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRow {
    pub id: String,
    pub instance_id: String,
    pub action: String,
    pub request_id: String,
    pub user_id: String,
    pub project_id: String,
    pub message: Option<String>,
    pub start_time: i64,
    pub updated_at: i64,
}

/// One event of an action.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub id: String,
    pub action_id: String,
    pub event: String,
    pub host: Option<String>,
    pub result: Option<String>,
    pub traceback: Option<String>,
    pub start_time: i64,
    pub finish_time: Option<i64>,
}

pub async fn insert_action<'c, E>(conn: E, a: &ActionRow) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO compute_instance_actions (id, instance_id, action, request_id, user_id, \
         project_id, message, start_time, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&a.id)
    .bind(&a.instance_id)
    .bind(&a.action)
    .bind(&a.request_id)
    .bind(&a.user_id)
    .bind(&a.project_id)
    .bind(&a.message)
    .bind(a.start_time)
    .bind(a.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

fn action_from(r: &AnyRow) -> Result<ActionRow, sqlx::Error> {
    Ok(ActionRow {
        id: r.try_get("id")?,
        instance_id: r.try_get("instance_id")?,
        action: r.try_get("action")?,
        request_id: r.try_get("request_id")?,
        user_id: r.try_get("user_id")?,
        project_id: r.try_get("project_id")?,
        message: r.try_get("message")?,
        start_time: r.try_get("start_time")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const ACTION_COLUMNS: &str =
    "id, instance_id, action, request_id, user_id, project_id, message, start_time, updated_at";

/// A server's actions, newest first.
pub async fn actions_of<'c, E>(conn: E, instance: &str) -> Result<Vec<ActionRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = format!(
        "SELECT {ACTION_COLUMNS} FROM compute_instance_actions WHERE instance_id = $1 \
         ORDER BY start_time DESC, id DESC"
    );
    sqlx::query(&sql)
        .bind(instance)
        .fetch_all(conn)
        .await?
        .iter()
        .map(action_from)
        .collect()
}

/// Records the end of an action's last step, and the action's message
/// (`Error` when a step failed, as Nova's `action_event_finish`).
pub async fn finish_action<'c, E>(
    conn: E,
    id: &str,
    message: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "UPDATE compute_instance_actions SET message = COALESCE($1, message), updated_at = $2 \
         WHERE id = $3",
    )
    .bind(message)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn insert_event<'c, E>(conn: E, e: &EventRow) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO compute_instance_action_events (id, action_id, event, host, result, \
         traceback, start_time, finish_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&e.id)
    .bind(&e.action_id)
    .bind(&e.event)
    .bind(&e.host)
    .bind(&e.result)
    .bind(&e.traceback)
    .bind(e.start_time)
    .bind(e.finish_time)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn finish_event<'c, E>(
    conn: E,
    id: &str,
    result: &str,
    traceback: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "UPDATE compute_instance_action_events SET result = $1, traceback = $2, \
         finish_time = $3 WHERE id = $4",
    )
    .bind(result)
    .bind(traceback)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn events_of<'c, E>(conn: E, action: &str) -> Result<Vec<EventRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "SELECT id, action_id, event, host, result, traceback, start_time, finish_time \
         FROM compute_instance_action_events WHERE action_id = $1 ORDER BY start_time, id",
    )
    .bind(action)
    .fetch_all(conn)
    .await?
    .iter()
    .map(|r| {
        Ok(EventRow {
            id: r.try_get("id")?,
            action_id: r.try_get("action_id")?,
            event: r.try_get("event")?,
            host: r.try_get("host")?,
            result: r.try_get("result")?,
            traceback: r.try_get("traceback")?,
            start_time: r.try_get("start_time")?,
            finish_time: r.try_get("finish_time")?,
        })
    })
    .collect()
}

/// Replaces a server's tags.
pub async fn set_tags<'c, E>(
    conn: E,
    id: &str,
    tags: &[String],
    now: i64,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query("UPDATE compute_instances SET tags = $1, updated_at = $2 WHERE id = $3")
        .bind(serde_json::json!(tags).to_string())
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// How many live (not deleted) instances `host` holds.
pub async fn count_on_host(conn: &mut super::Conn, host: &str) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM compute_instances \
         WHERE host = $1 AND deleted_at IS NULL",
    )
    .bind(host)
    .fetch_one(&mut *conn)
    .await?
    .try_get("n")
}

/// Replaces the names of the server's security groups (after
/// `addSecurityGroup`/`removeSecurityGroup`).
pub async fn set_security_groups<'c, E>(
    conn: E,
    id: &str,
    names: &[String],
    now: i64,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query("UPDATE compute_instances SET security_groups = $1, updated_at = $2 WHERE id = $3")
        .bind(serde_json::json!(names).to_string())
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

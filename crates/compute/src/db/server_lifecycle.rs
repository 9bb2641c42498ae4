//! What the lifecycle actions write: a server's flavor (resize and its
//! revert), its image and boot data (rebuild), and `compute_migrations`,
//! the record of each resize holding the flavor to go back to.

use db::sqlx::{self, any::AnyRow, Row};
use serde_json::Value;

/// A resize (Nova's `Migration` object).
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationRow {
    pub id: String,
    pub instance_id: String,
    pub migration_type: String,
    pub source_compute: Option<String>,
    pub dest_compute: Option<String>,
    /// The flavor before (`FlavorSpec::to_json`'s shape).
    pub old_flavor: Value,
    pub new_flavor: Value,
    pub status: String,
    /// Who started it (Nova's `user_id`/`project_id`, shown from 2.80).
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) fn from_row(r: &AnyRow) -> Result<MigrationRow, sqlx::Error> {
    let json = |c: &str| -> Result<Value, sqlx::Error> {
        let s: String = r.try_get(c)?;
        serde_json::from_str(&s).map_err(|e| sqlx::Error::Decode(Box::new(e)))
    };
    Ok(MigrationRow {
        id: r.try_get("id")?,
        instance_id: r.try_get("instance_id")?,
        migration_type: r.try_get("migration_type")?,
        source_compute: r.try_get("source_compute")?,
        dest_compute: r.try_get("dest_compute")?,
        old_flavor: json("old_flavor")?,
        new_flavor: json("new_flavor")?,
        status: r.try_get("status")?,
        user_id: r.try_get("user_id")?,
        project_id: r.try_get("project_id")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn insert_migration<'c, E>(conn: E, m: &MigrationRow) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    // The integer id the API shows is MAX + 1 in the same statement: the
    // writer holds the write lock, and the unique index refuses a twin.
    sqlx::query(
        "INSERT INTO compute_migrations (id, instance_id, migration_type, source_compute, \
         dest_compute, old_flavor, new_flavor, status, created_at, updated_at, user_id, \
         project_id, source_node, dest_node, legacy_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
         (SELECT CAST(COALESCE(MAX(legacy_id), 0) + 1 AS BIGINT) FROM compute_migrations))",
    )
    .bind(&m.id)
    .bind(&m.instance_id)
    .bind(&m.migration_type)
    .bind(&m.source_compute)
    .bind(&m.dest_compute)
    .bind(m.old_flavor.to_string())
    .bind(m.new_flavor.to_string())
    .bind(&m.status)
    .bind(m.created_at)
    .bind(m.updated_at)
    .bind(&m.user_id)
    .bind(&m.project_id)
    .bind(&m.source_compute)
    .bind(&m.dest_compute)
    .execute(conn)
    .await?;
    Ok(())
}

/// The server's newest migration in `status`, if any.
pub async fn latest_in<'c, E>(
    conn: E,
    instance: &str,
    status: &str,
) -> Result<Option<MigrationRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "SELECT * FROM compute_migrations WHERE instance_id = $1 AND status = $2 \
         ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(instance)
    .bind(status)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Moves migration `id` from status `from` to `to`; whether it was in
/// `from` (so two confirms or a confirm and a revert cannot both win).
pub async fn move_status<'c, E>(
    conn: E,
    id: &str,
    from: &str,
    to: &str,
    now: i64,
) -> Result<bool, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let r = sqlx::query(
        "UPDATE compute_migrations SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
    )
    .bind(to)
    .bind(now)
    .bind(id)
    .bind(from)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Sets a server's flavor (a `FlavorSpec::to_json` value) and the sizes
/// copied from it, and its host.
pub async fn set_flavor<'c, E>(
    conn: E,
    id: &str,
    flavor: &Value,
    host: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let int = |k: &str| flavor[k].as_i64().unwrap_or(0);
    sqlx::query(
        "UPDATE compute_instances SET flavor_id = $1, flavor = $2, vcpus = $3, memory_mb = $4, \
         root_gb = $5, ephemeral_gb = $6, host = $7, updated_at = $8 WHERE id = $9",
    )
    .bind(flavor["id"].as_str().unwrap_or(""))
    .bind(flavor.to_string())
    .bind(int("vcpus"))
    .bind(int("ram"))
    .bind(int("disk"))
    .bind(int("ephemeral"))
    .bind(host)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A rebuild's new boot data: image, its properties, key and user data.
pub async fn set_boot<'c, E>(
    conn: E,
    i: &crate::db::servers::InstanceRow,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "UPDATE compute_instances SET image_ref = $1, image_properties = $2, key_name = $3, \
         key_data = $4, user_data = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(&i.image_ref)
    .bind(i.image_properties.to_string())
    .bind(&i.key_name)
    .bind(&i.key_data)
    .bind(&i.user_data)
    .bind(i.updated_at)
    .bind(&i.id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets (or clears) a server's host.
pub async fn set_host<'c, E>(
    conn: E,
    id: &str,
    host: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error>
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

/// Records the snapshot a shelve made (replacing an older record).
pub async fn put_shelved(
    conn: &mut crate::db::servers::Conn,
    instance: &str,
    image: &str,
    host: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM compute_shelved WHERE instance_id = $1")
        .bind(instance)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO compute_shelved (instance_id, image_id, shelved_host, shelved_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(instance)
    .bind(image)
    .bind(host)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The image of a shelved server's snapshot.
pub async fn shelved_image<'c, E>(conn: E, instance: &str) -> Result<Option<String>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let r = sqlx::query("SELECT image_id FROM compute_shelved WHERE instance_id = $1")
        .bind(instance)
        .fetch_optional(conn)
        .await?;
    r.map(|r| r.try_get("image_id")).transpose()
}

pub async fn delete_shelved<'c, E>(conn: E, instance: &str) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query("DELETE FROM compute_shelved WHERE instance_id = $1")
        .bind(instance)
        .execute(conn)
        .await?;
    Ok(())
}

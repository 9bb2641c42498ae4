//! `compute_instance_passwords`: the password each guest posted to the
//! metadata API.

use db::sqlx::{self, Row};

pub async fn get<'c, E>(conn: E, instance_id: &str) -> Result<Option<String>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query("SELECT password FROM compute_instance_passwords WHERE instance_id = $1")
        .bind(instance_id)
        .fetch_optional(conn)
        .await?
        .map(|r| r.try_get("password"))
        .transpose()
}

/// Stores the password unless one is set; false when one was.
pub async fn set_once<'c, E>(
    conn: E,
    instance_id: &str,
    password: &str,
) -> Result<bool, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let n = sqlx::query(
        "INSERT INTO compute_instance_passwords (instance_id, password) VALUES ($1, $2) \
         ON CONFLICT (instance_id) DO NOTHING",
    )
    .bind(instance_id)
    .bind(password)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn clear<'c, E>(conn: E, instance_id: &str) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query("DELETE FROM compute_instance_passwords WHERE instance_id = $1")
        .bind(instance_id)
        .execute(conn)
        .await?;
    Ok(())
}

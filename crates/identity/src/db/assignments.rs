//! `assignments` table: who holds which role on what.

use super::{b, s, Conn};
use db::sqlx::{self, AnyPool};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActorKind {
    User,
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetKind {
    Project,
    Domain,
    System,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Assignment {
    pub actor: ActorKind,
    pub actor_id: String,
    pub target: TargetKind,
    /// `"system"` for the system target.
    pub target_id: String,
    pub role_id: String,
    pub inherited: bool,
}

/// Where `a` sorts in [`list`]'s order, so an assignment added to the
/// cached view in memory lands where a fresh load would put it.
pub fn order_key(a: &Assignment) -> (&'static str, &str, &str, &str, bool) {
    (
        type_name(a.actor, a.target),
        &a.actor_id,
        &a.target_id,
        &a.role_id,
        a.inherited,
    )
}

fn type_name(a: ActorKind, t: TargetKind) -> &'static str {
    match (a, t) {
        (ActorKind::User, TargetKind::Project) => "UserProject",
        (ActorKind::Group, TargetKind::Project) => "GroupProject",
        (ActorKind::User, TargetKind::Domain) => "UserDomain",
        (ActorKind::Group, TargetKind::Domain) => "GroupDomain",
        (ActorKind::User, TargetKind::System) => "UserSystem",
        (ActorKind::Group, TargetKind::System) => "GroupSystem",
    }
}

fn parse_type(t: &str) -> Option<(ActorKind, TargetKind)> {
    Some(match t {
        "UserProject" => (ActorKind::User, TargetKind::Project),
        "GroupProject" => (ActorKind::Group, TargetKind::Project),
        "UserDomain" => (ActorKind::User, TargetKind::Domain),
        "GroupDomain" => (ActorKind::Group, TargetKind::Domain),
        "UserSystem" => (ActorKind::User, TargetKind::System),
        "GroupSystem" => (ActorKind::Group, TargetKind::System),
        _ => return None,
    })
}

pub async fn list(pool: &AnyPool) -> Result<Vec<Assignment>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT type, actor_id, target_id, role_id, inherited FROM assignments \
         ORDER BY type, actor_id, target_id, role_id, inherited",
    )
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let Some((actor, target)) = parse_type(&s(r, "type")?) else {
            continue;
        };
        out.push(Assignment {
            actor,
            actor_id: s(r, "actor_id")?,
            target,
            target_id: s(r, "target_id")?,
            role_id: s(r, "role_id")?,
            inherited: b(r, "inherited")?,
        });
    }
    Ok(out)
}

pub async fn exists(pool: &AnyPool, a: &Assignment) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "SELECT 1 AS x FROM assignments WHERE type = $1 AND actor_id = $2 AND target_id = $3 \
         AND role_id = $4 AND inherited = $5",
    )
    .bind(type_name(a.actor, a.target))
    .bind(&a.actor_id)
    .bind(&a.target_id)
    .bind(&a.role_id)
    .bind(db::b2i(a.inherited))
    .fetch_optional(pool)
    .await?
    .is_some())
}

pub async fn insert(c: &mut Conn, a: &Assignment) -> Result<(), sqlx::Error> {
    // Granting a role twice is idempotent in Keystone (204 both times).
    sqlx::query(
        "INSERT INTO assignments (type, actor_id, target_id, role_id, inherited) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (type, actor_id, target_id, role_id, inherited) DO NOTHING",
    )
    .bind(type_name(a.actor, a.target))
    .bind(&a.actor_id)
    .bind(&a.target_id)
    .bind(&a.role_id)
    .bind(db::b2i(a.inherited))
    .execute(c)
    .await?;
    Ok(())
}

pub async fn delete(c: &mut Conn, a: &Assignment) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "DELETE FROM assignments WHERE type = $1 AND actor_id = $2 AND target_id = $3 \
         AND role_id = $4 AND inherited = $5",
    )
    .bind(type_name(a.actor, a.target))
    .bind(&a.actor_id)
    .bind(&a.target_id)
    .bind(&a.role_id)
    .bind(db::b2i(a.inherited))
    .execute(c)
    .await?
    .rows_affected())
}

/// Removes every assignment held by, or made on, `id` (a deleted user,
/// group, project or domain).
pub async fn delete_for(c: &mut Conn, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM assignments WHERE actor_id = $1 OR target_id = $1")
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

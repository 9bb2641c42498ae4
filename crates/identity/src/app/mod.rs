//! Identity rules: who may do what (policy), how tokens are issued and
//! validated, and what each resource write must keep true. Handlers in
//! `api` call these; these call `db`.

pub mod app_creds;
pub mod assignments;
pub mod auth;
pub mod bootstrap;
pub mod catalog;
pub mod credentials;
pub mod domain_configs;
pub mod domains;
pub mod ec2;
pub mod endpoint_filter;
pub mod groups;
pub mod oauth1;
pub mod policies;
pub mod policy_target;
pub mod projects;
pub mod roles;
pub mod snapshot;
pub mod token_cache;
pub mod tokens;
pub mod trusts;
pub mod users;

use crate::password::HashParams;
use crate::token::KeyRepository;
use common::clock::SharedClock;
use common::context::AuthContext;
use common::http::{Page, QueryMap};
use common::policy::Policy;
use common::{Error, Result};
use snapshot::Snapshot;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

/// Settings the identity rules need, from `[identity]` in the config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Token lifetime in microseconds.
    pub token_lifetime: i64,
    pub hash: HashParams,
    pub list_limit: usize,
    pub compliance: Compliance,
}

/// Keystone's `[security_compliance]` rules (see `common::config`).
#[derive(Debug, Clone, Default)]
pub struct Compliance {
    pub lockout_failure_attempts: u32,
    /// Microseconds.
    pub lockout_duration: i64,
    pub password_expires_days: u32,
    pub unique_last_password_count: u32,
    pub minimum_password_age: u32,
    pub password_regex: Option<regex_lite::Regex>,
    pub password_regex_description: String,
}

/// The identity service's state: store, keys, policy, clock and the cached
/// view used by token validation.
pub struct Identity {
    pub db: db::Db,
    pub keys: KeyRepository,
    /// Encrypts credential blobs at rest.
    pub cred_keys: KeyRepository,
    pub policy: Policy,
    pub clock: SharedClock,
    pub settings: Settings,
    view: RwLock<Arc<Snapshot>>,
    /// This process's latest known store revision (authoritative on
    /// SQLite, where this process is the only writer).
    local_rev: AtomicI64,
    /// Serialises rebuilding and advancing the view; holds this process's
    /// own changes by revision until the view reaches the one before.
    refresh: tokio::sync::Mutex<BTreeMap<i64, snapshot::Change>>,
    /// Held by a write from its revision bump until its change is in the
    /// view, so this process's writes reach the view in revision order
    /// and a reader that finds the view behind can tell a write of ours
    /// still landing (wait for it) from another process's (reload). The
    /// bump's row lock already serialises writers from bump to commit, so
    /// this adds only the in-memory step to that section.
    committing: tokio::sync::Mutex<()>,
    dummy_hash: String,
    pub(crate) token_cache: token_cache::TokenCache,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("keys", &self.keys)
            .finish()
    }
}

impl Identity {
    pub fn new(
        db: db::Db,
        keys: KeyRepository,
        cred_keys: KeyRepository,
        policy: Policy,
        clock: SharedClock,
        settings: Settings,
    ) -> Self {
        let dummy_hash = crate::password::dummy_hash(settings.hash);
        Self {
            db,
            keys,
            cred_keys,
            policy,
            clock,
            settings,
            view: RwLock::new(Arc::new(Snapshot::empty())),
            local_rev: AtomicI64::new(-1),
            refresh: tokio::sync::Mutex::new(BTreeMap::new()),
            committing: tokio::sync::Mutex::new(()),
            dummy_hash,
            token_cache: token_cache::TokenCache::default(),
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now_micros()
    }

    fn cached_view(&self) -> Arc<Snapshot> {
        match self.view.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The current view of identity, rebuilt when the store moved on.
    ///
    /// The store's revision is known without a read on SQLite (this
    /// process is the only writer) and, on PostgreSQL, while the revision
    /// feed's listener is connected (`db::revisions::Revisions::heard`);
    /// otherwise it is read from the store.
    pub async fn view(&self) -> Result<Arc<Snapshot>> {
        let local = self.local_rev.load(Ordering::Acquire);
        let want = if self.db.is_shared() {
            match self.db.revisions().heard(crate::db::REVISION) {
                Some(heard) => heard.max(local),
                None => crate::db::revision(&self.db.pool).await?,
            }
        } else {
            local
        };
        let cur = self.cached_view();
        if want >= 0 && cur.revision == want {
            return Ok(cur);
        }
        // A write of this process may be between its commit and its
        // change reaching the view (or its own NOTIFY may have arrived
        // first): wait for it rather than rebuild the whole view.
        let landed = self.committing.lock().await;
        drop(landed);
        let cur = self.cached_view();
        if want >= 0 && cur.revision >= want {
            return Ok(cur);
        }
        let mut pending = self.refresh.lock().await;
        let cur = self.cached_view();
        // Brought forward by this process's own writes while we waited.
        if want >= 0 && cur.revision >= want {
            return Ok(cur);
        }
        let rev = crate::db::revision(&self.db.pool).await?;
        if cur.revision >= rev {
            self.local_rev.fetch_max(rev, Ordering::AcqRel);
            return Ok(cur);
        }
        let since = self.now() - self.settings.token_lifetime - 60_000_000;
        let snap = Arc::new(Snapshot::load(&self.db, rev, since).await?);
        match self.view.write() {
            Ok(mut g) => *g = snap.clone(),
            Err(p) => *p.into_inner() = snap.clone(),
        }
        pending.retain(|r, _| *r > rev);
        self.local_rev.fetch_max(rev, Ordering::AcqRel);
        Ok(snap)
    }

    /// Starts a write; pair with [`Identity::commit`].
    pub async fn begin(&self) -> Result<db::WriteTx> {
        Ok(self.db.begin_write().await?)
    }

    /// Bumps the identity revision inside `tx` and commits, so every
    /// validator sees the change on its next request.
    pub async fn commit(&self, tx: db::WriteTx) -> Result<()> {
        self.commit_change(tx, None).await
    }

    /// [`Identity::commit`] for a write whose whole effect on the cached
    /// view is `change`: the view is brought forward in memory instead of
    /// being reloaded from the store on the next request.
    pub(crate) async fn commit_change(
        &self,
        mut tx: db::WriteTx,
        change: Option<snapshot::Change>,
    ) -> Result<()> {
        // The bump announces the new revision to other processes (on
        // PostgreSQL) and records it in this one at commit.
        let _in_order = self.committing.lock().await;
        let rev = tx.bump(crate::db::REVISION).await?;
        tx.commit().await?;
        if let Some(change) = change {
            self.advance_view(rev, change).await;
        }
        self.local_rev.fetch_max(rev, Ordering::AcqRel);
        Ok(())
    }

    /// Applies this process's own write (revision `rev`) to the cached
    /// view once the view is at `rev - 1`: revisions are bumped in the
    /// writing transaction, so then this write is the only change since
    /// the view was built. Concurrent writers may get here out of order,
    /// so changes wait by revision for the one before them; a revision
    /// nobody supplies (another process's write, or one without a known
    /// change) leaves the chain broken and the next request reloads.
    async fn advance_view(&self, rev: i64, change: snapshot::Change) {
        let mut pending = self.refresh.lock().await;
        let mut cur = self.cached_view();
        pending.insert(rev, change);
        // Changes the view already holds (or skipped by a reload).
        pending.retain(|r, _| *r > cur.revision);
        while let Some(change) = pending.remove(&(cur.revision + 1)) {
            let next = Arc::new(cur.successor(cur.revision + 1, change));
            match self.view.write() {
                Ok(mut g) => *g = next.clone(),
                Err(p) => *p.into_inner() = next.clone(),
            }
            cur = next;
        }
    }

    /// The `limit` and `marker` of a list request (`list_limit` when the
    /// request names no limit).
    pub fn paging<'q>(&self, q: &'q QueryMap) -> Result<crate::db::Paging<'q>> {
        let limit = q
            .usize("limit")?
            .or((self.settings.list_limit > 0).then_some(self.settings.list_limit));
        Ok(crate::db::Paging {
            limit,
            marker: q.get("marker"),
        })
    }

    /// Checks `action` for the caller against `target`.
    pub fn enforce(
        &self,
        ctx: &AuthContext,
        action: &str,
        target: policy_target::PolicyTarget,
    ) -> Result<()> {
        let target = serde_json::to_value(target)?;
        self.policy
            .enforce(action, &ctx.policy_credentials(), &target)
    }

    /// Whether the caller passes `action` on `target`, for a call that
    /// narrows what it answers rather than refusing. A target that cannot
    /// be written down passes nothing.
    pub fn check(
        &self,
        ctx: &AuthContext,
        action: &str,
        target: policy_target::PolicyTarget,
    ) -> bool {
        serde_json::to_value(target)
            .is_ok_and(|t| self.policy.check(action, &ctx.policy_credentials(), &t))
    }

    pub(crate) fn dummy_hash(&self) -> &str {
        &self.dummy_hash
    }
}

/// A page of a list query as the API answers it: an unknown marker is a
/// 400, as the in-memory paging answered.
pub(crate) fn listed<T>(
    r: std::result::Result<(Vec<T>, Option<String>), db::list::ListError>,
) -> Result<Page<T>> {
    match r {
        Ok((items, next_marker)) => Ok(Page { items, next_marker }),
        Err(db::list::ListError::MarkerNotFound(m)) => {
            Err(Error::bad_request(format!("marker [{m}] not found")))
        }
        Err(db::list::ListError::Sql(e)) => Err(e.into()),
    }
}

/// A required, non-empty name of at most 255 characters (Keystone's
/// `parameter_types.name`: users, groups, roles, services, …).
pub fn validate_name(field: &str, name: &str) -> Result<()> {
    validate_name_max(field, name, 255)
}

/// Keystone's resource schema bounds domain and project names (and the
/// ids a project names, `domain_id` and `parent_id`) at 64 characters.
pub const RESOURCE_NAME_MAX: usize = 64;

/// Keystone's schemas bound the ids a request names (`domain_id`,
/// `project_id`, `parent_id`: `parameter_types.domain_id`, `id_string`)
/// at 64 characters, descriptions and region ids at 255.
pub const ID_MAX: usize = 64;
pub const DESCRIPTION_MAX: usize = 255;

/// An optional string field of at most `max` characters: a longer one is
/// a 400, as Keystone's schema validation answers before any lookup.
pub fn validate_max_len(field: &str, value: Option<&str>, max: usize) -> Result<()> {
    if value.is_some_and(|v| v.chars().count() > max) {
        return Err(Error::bad_request(format!(
            "Invalid input for field '{field}': longer than {max} characters."
        )));
    }
    Ok(())
}

/// A required, non-empty name of at most `max` characters.
pub fn validate_name_max(field: &str, name: &str, max: usize) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::bad_request(format!(
            "Invalid input for field '{field}': it must not be empty."
        )));
    }
    if name.chars().count() > max {
        return Err(Error::bad_request(format!(
            "Invalid input for field '{field}': longer than {max} characters."
        )));
    }
    Ok(())
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
pub(crate) fn double_option<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    use serde::Deserialize;
    Ok(Some(Option::<T>::deserialize(d)?))
}

#[cfg(test)]
mod tests {
    //! Writes applied to the cached view in memory must leave exactly the
    //! view a fresh load of the store gives.

    use super::snapshot::{Change, Snapshot};
    use super::*;
    use crate::db::domains::Domain;
    use crate::db::projects::Project;
    use crate::db::users::User;
    use serde_json::Map;

    async fn identity(dir: &std::path::Path) -> Identity {
        let db = db::testing::fresh(dir).await.unwrap();
        let keys = KeyRepository::open_or_create(&dir.join("keys")).unwrap();
        let cred_keys = KeyRepository::open_or_create(&dir.join("cred-keys")).unwrap();
        let policy = Policy::new(&crate::policies::defaults(), None).unwrap();
        let clock: SharedClock = Arc::new(common::clock::ManualClock::new(1_000_000));
        let settings = Settings {
            token_lifetime: 3_600_000_000,
            hash: HashParams {
                memory_kib: 64,
                iterations: 1,
            },
            list_limit: 0,
            compliance: Compliance::default(),
        };
        Identity::new(db, keys, cred_keys, policy, clock, settings)
    }

    fn user(id: &str, name: &str) -> User {
        User {
            id: id.into(),
            name: name.into(),
            domain_id: "default".into(),
            enabled: true,
            default_project_id: None,
            password_hash: None,
            password_created_at: None,
            password_expires_at: None,
            extra: Map::new(),
            options: Map::new(),
            created_at: 7,
        }
    }

    fn project(id: &str, name: &str, tags: &[&str]) -> Project {
        Project {
            id: id.into(),
            name: name.into(),
            domain_id: "default".into(),
            parent_id: None,
            description: String::new(),
            enabled: true,
            extra: Map::new(),
            created_at: 7,
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    /// The cached view, which must have been brought forward to the
    /// store's revision in memory, equals a fresh load of the store.
    async fn assert_view_is_fresh(id: &Identity) {
        let view = id.cached_view();
        let rev = crate::db::revision(&id.db.pool).await.unwrap();
        assert_eq!(view.revision, rev, "the write was applied in memory");
        let fresh = Snapshot::load(&id.db, rev, 0).await.unwrap();
        assert_eq!(view.users, fresh.users);
        assert_eq!(view.projects, fresh.projects);
        assert_eq!(view.admin_project_id, fresh.admin_project_id);
        // In the same order: the direct role-assignment list follows it.
        assert_eq!(view.assignments, fresh.assignments);
        assert_eq!(
            view.domains
                .keys()
                .collect::<std::collections::BTreeSet<_>>(),
            fresh.domains.keys().collect()
        );
    }

    #[tokio::test]
    async fn writes_applied_in_memory_equal_a_fresh_load() {
        let dir = std::env::temp_dir().join(format!("oxistack-view-{}", common::ids::hex_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let id = identity(&dir).await;
        if crate::db::domains::get(&id.db.pool, "default")
            .await
            .unwrap()
            .is_none()
        {
            let mut tx = id.begin().await.unwrap();
            let d = Domain {
                id: "default".into(),
                name: "Default".into(),
                description: String::new(),
                enabled: true,
                extra: Map::new(),
                created_at: 0,
            };
            crate::db::domains::insert(tx.conn(), &d).await.unwrap();
            id.commit(tx).await.unwrap();
        }
        id.view().await.unwrap();

        // User create.
        let mut u = user("u1", "alice");
        let mut tx = id.begin().await.unwrap();
        crate::db::users::insert(tx.conn(), &u).await.unwrap();
        id.commit_change(tx, Some(Change::User(u.clone())))
            .await
            .unwrap();
        assert_view_is_fresh(&id).await;

        // User update (no password change).
        u.name = "alice2".into();
        u.enabled = false;
        u.extra.insert("email".into(), "a@example.org".into());
        let mut tx = id.begin().await.unwrap();
        crate::db::users::update(tx.conn(), &u).await.unwrap();
        id.commit_change(tx, Some(Change::User(u.clone())))
            .await
            .unwrap();
        assert_view_is_fresh(&id).await;
        assert!(!id.cached_view().user_usable("u1"), "disabled at once");

        // Project create, tags in any order; `admin` in Default is the
        // admin project.
        for p in [
            project("p1", "other", &["b", "a"]),
            project("p2", "admin", &[]),
        ] {
            let mut tx = id.begin().await.unwrap();
            crate::db::projects::insert(tx.conn(), &p).await.unwrap();
            id.commit_change(tx, Some(Change::Project(p)))
                .await
                .unwrap();
            assert_view_is_fresh(&id).await;
        }
        assert_eq!(id.cached_view().admin_project_id.as_deref(), Some("p2"));

        // Grants (one twice: idempotent) and a revoke, inserted where the
        // store's order puts them.
        let mut tx = id.begin().await.unwrap();
        for r in ["r1", "r2"] {
            let role = crate::db::roles::Role {
                id: r.into(),
                name: r.into(),
                domain_id: None,
                description: String::new(),
                options: Map::new(),
                extra: Map::new(),
            };
            crate::db::roles::insert(tx.conn(), &role).await.unwrap();
        }
        id.commit(tx).await.unwrap();
        id.view().await.unwrap();
        let grant = |actor, actor_id: &str, target, target_id: &str, role: &str, inherited| {
            snapshot::Change::Grant(crate::db::assignments::Assignment {
                actor,
                actor_id: actor_id.into(),
                target,
                target_id: target_id.into(),
                role_id: role.into(),
                inherited,
            })
        };
        use crate::db::assignments::{ActorKind as A, TargetKind as T};
        let changes = [
            grant(A::User, "u1", T::Project, "p2", "r2", false),
            grant(A::User, "u1", T::Project, "p1", "r2", false),
            grant(A::User, "u1", T::Project, "p1", "r1", true),
            grant(A::User, "u1", T::Project, "p1", "r1", false),
            grant(A::Group, "g", T::Domain, "default", "r1", false),
            grant(A::User, "u1", T::Project, "p1", "r2", false),
        ];
        for c in changes {
            let Change::Grant(a) = &c else { unreachable!() };
            let mut tx = id.begin().await.unwrap();
            crate::db::assignments::insert(tx.conn(), a).await.unwrap();
            id.commit_change(tx, Some(c.clone())).await.unwrap();
            assert_view_is_fresh(&id).await;
        }
        assert_eq!(id.cached_view().assignments.len(), 5);
        let Change::Grant(a) = grant(A::User, "u1", T::Project, "p1", "r1", true) else {
            unreachable!()
        };
        let mut tx = id.begin().await.unwrap();
        assert_eq!(
            crate::db::assignments::delete(tx.conn(), &a).await.unwrap(),
            1
        );
        id.commit_change(tx, Some(Change::Revoke(a))).await.unwrap();
        assert_view_is_fresh(&id).await;
        assert_eq!(id.cached_view().assignments.len(), 4);

        id.db.close().await;
        std::fs::remove_dir_all(&dir).ok();
    }
}

//! First-start bootstrap, as `keystone-manage bootstrap` does it: the
//! `Default` domain, the `admin` and `service` projects, the `admin` user,
//! the `admin`→`member`→`reader` role chain plus `service`, the region and
//! a catalog entry per served service, and on a new cloud DevStack's
//! `demo` project with its `demo` member user. Idempotent: a second run
//! changes nothing it does not have to (the admin password is never reset
//! here; [`Identity::reset_admin_password`] is the operator's way).

use super::Identity;
use crate::db::assignments::{ActorKind, Assignment, TargetKind};
use crate::db::catalog::{Endpoint, Region, Service};
use crate::db::domains::Domain;
use crate::db::projects::Project;
use crate::db::roles::Role;
use crate::db::users::User;
use common::Result;
use serde_json::Map;

pub use common::service::CatalogEntry;

#[derive(Debug, Clone)]
pub struct BootstrapSpec {
    pub admin_password: String,
    pub region: String,
    pub catalog: Vec<CatalogEntry>,
    /// Extra global roles to create (services add their own, such as
    /// Swift's `ResellerAdmin`).
    pub extra_roles: Vec<String>,
    /// Password of the `demo` user DevStack gives (member of project
    /// `demo`), created with a new cloud only: an operator who deletes
    /// them does not see them come back on the next start.
    pub demo_password: Option<String>,
}

#[derive(Debug, Clone)]
pub struct BootstrapResult {
    pub admin_user_id: String,
    pub admin_project_id: String,
    /// False when the cloud already existed.
    pub created: bool,
    /// Whether the `demo` user was created by this run.
    pub demo_created: bool,
}

impl Identity {
    pub async fn bootstrap(&self, spec: &BootstrapSpec) -> Result<BootstrapResult> {
        let pool = &self.db.pool;
        let now = self.now();
        let mut tx = self.begin().await?;
        let mut created = false;
        if crate::db::domains::get(pool, "default").await?.is_none() {
            created = true;
            crate::db::domains::insert(
                tx.conn(),
                &Domain {
                    id: "default".into(),
                    name: "Default".into(),
                    description: "The default domain".into(),
                    enabled: true,
                    extra: Map::new(),
                    created_at: now,
                },
            )
            .await?;
        }
        let mut project_ids = Vec::new();
        for name in ["admin", "service"] {
            let id = match crate::db::projects::get_by_name(pool, "default", name).await? {
                Some(p) => p.id,
                None => {
                    let p = Project {
                        id: common::ids::hex_id(),
                        name: name.into(),
                        domain_id: "default".into(),
                        parent_id: None,
                        description: format!("Bootstrap project for {name}"),
                        enabled: true,
                        extra: Map::new(),
                        created_at: now,
                        tags: vec![],
                    };
                    crate::db::projects::insert(tx.conn(), &p).await?;
                    p.id
                }
            };
            project_ids.push(id);
        }
        let admin_project_id = project_ids[0].clone();
        let mut role_ids = std::collections::HashMap::new();
        let mut names: Vec<String> = ["admin", "manager", "member", "reader", "service"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        names.extend(spec.extra_roles.iter().cloned());
        for name in &names {
            let id = match crate::db::roles::get_global_by_name(pool, name).await? {
                Some(r) => r.id,
                None => {
                    let r = Role {
                        id: common::ids::hex_id(),
                        name: name.clone(),
                        domain_id: None,
                        description: String::new(),
                        options: Map::new(),
                        extra: Map::new(),
                    };
                    crate::db::roles::insert(tx.conn(), &r).await?;
                    r.id
                }
            };
            role_ids.insert(name.as_str(), id);
        }
        let rid = |n: &str| role_ids.get(n).cloned().unwrap_or_default();
        // Keystone's hierarchy since the default `manager` role: admin
        // implies manager, manager member, member reader (the older
        // admin-implies-member link is removed, as keystone-manage
        // bootstrap does).
        crate::db::roles::add_implied(tx.conn(), &rid("member"), &rid("reader")).await?;
        crate::db::roles::add_implied(tx.conn(), &rid("manager"), &rid("member")).await?;
        crate::db::roles::add_implied(tx.conn(), &rid("admin"), &rid("manager")).await?;
        crate::db::roles::remove_implied(tx.conn(), &rid("admin"), &rid("member")).await?;
        let admin_user_id = match crate::db::users::get_by_name(pool, "default", "admin").await? {
            Some(u) => u.id,
            None => {
                let u = User {
                    id: common::ids::hex_id(),
                    name: "admin".into(),
                    domain_id: "default".into(),
                    enabled: true,
                    default_project_id: None,
                    password_hash: Some(
                        crate::password::hash_async(
                            spec.admin_password.clone(),
                            self.settings.hash,
                        )
                        .await?,
                    ),
                    password_created_at: Some(now),
                    password_expires_at: None,
                    extra: Map::new(),
                    options: Map::new(),
                    created_at: now,
                };
                crate::db::users::insert(tx.conn(), &u).await?;
                u.id
            }
        };
        for (target, target_id) in [
            (TargetKind::Project, admin_project_id.clone()),
            (TargetKind::System, "system".into()),
        ] {
            crate::db::assignments::insert(
                tx.conn(),
                &Assignment {
                    actor: ActorKind::User,
                    actor_id: admin_user_id.clone(),
                    target,
                    target_id,
                    role_id: rid("admin"),
                    inherited: false,
                },
            )
            .await?;
        }
        let mut demo_created = false;
        if let (true, Some(pw)) = (created, &spec.demo_password) {
            self.bootstrap_demo(&mut tx, pw, &rid("member"), now)
                .await?;
            demo_created = true;
        }
        if crate::db::catalog::get_region(pool, &spec.region)
            .await?
            .is_none()
        {
            crate::db::catalog::insert_region(
                tx.conn(),
                &Region {
                    id: spec.region.clone(),
                    description: String::new(),
                    parent_region_id: None,
                    extra: Map::new(),
                },
            )
            .await?;
        }
        let services = crate::db::catalog::services(pool).await?;
        let endpoints = crate::db::catalog::endpoints(pool).await?;
        for entry in &spec.catalog {
            let service_id = match services
                .iter()
                .find(|s| s.service_type == entry.service_type)
            {
                Some(s) => s.id.clone(),
                None => {
                    let s = Service {
                        id: common::ids::hex_id(),
                        service_type: entry.service_type.clone(),
                        name: entry.name.clone(),
                        description: entry.description.clone(),
                        enabled: true,
                        extra: Map::new(),
                    };
                    crate::db::catalog::insert_service(tx.conn(), &s).await?;
                    s.id
                }
            };
            for (interface, url) in [
                ("public", &entry.public_url),
                ("internal", &entry.internal_url),
                ("admin", &entry.admin_url),
            ] {
                let existing = endpoints.iter().find(|e| {
                    e.service_id == service_id
                        && e.interface == interface
                        && e.region_id.as_deref() == Some(&spec.region)
                });
                match existing {
                    // The listen address may have changed between starts.
                    Some(e) if e.url != *url => {
                        let mut e = e.clone();
                        e.url = url.clone();
                        crate::db::catalog::update_endpoint(tx.conn(), &e).await?;
                    }
                    Some(_) => {}
                    None => {
                        crate::db::catalog::insert_endpoint(
                            tx.conn(),
                            &Endpoint {
                                id: common::ids::hex_id(),
                                service_id: service_id.clone(),
                                interface: interface.into(),
                                url: url.clone(),
                                region_id: Some(spec.region.clone()),
                                enabled: true,
                                extra: Map::new(),
                            },
                        )
                        .await?;
                    }
                }
            }
        }
        self.commit(tx).await?;
        Ok(BootstrapResult {
            admin_user_id,
            admin_project_id,
            created,
            demo_created,
        })
    }

    /// DevStack's `demo` project and its `demo` user holding `member`.
    async fn bootstrap_demo(
        &self,
        tx: &mut db::WriteTx,
        password: &str,
        member_role_id: &str,
        now: i64,
    ) -> Result<()> {
        let p = Project {
            id: common::ids::hex_id(),
            name: "demo".into(),
            domain_id: "default".into(),
            parent_id: None,
            description: "Demo project for a non-admin user".into(),
            enabled: true,
            extra: Map::new(),
            created_at: now,
            tags: vec![],
        };
        crate::db::projects::insert(tx.conn(), &p).await?;
        let u = User {
            id: common::ids::hex_id(),
            name: "demo".into(),
            domain_id: "default".into(),
            enabled: true,
            default_project_id: Some(p.id.clone()),
            password_hash: Some(
                crate::password::hash_async(password.to_string(), self.settings.hash).await?,
            ),
            password_created_at: Some(now),
            password_expires_at: None,
            extra: Map::new(),
            options: Map::new(),
            created_at: now,
        };
        crate::db::users::insert(tx.conn(), &u).await?;
        crate::db::assignments::insert(
            tx.conn(),
            &Assignment {
                actor: ActorKind::User,
                actor_id: u.id,
                target: TargetKind::Project,
                target_id: p.id,
                role_id: member_role_id.to_string(),
                inherited: false,
            },
        )
        .await?;
        Ok(())
    }

    /// Whether `password` is the bootstrap admin's current password (it
    /// may have been changed through the API since the state directory's
    /// copy was written). False when there is no such user.
    pub async fn admin_password_matches(&self, password: &str) -> Result<bool> {
        let u = crate::db::users::get_by_name(&self.db.pool, "default", "admin").await?;
        match u.and_then(|u| u.password_hash) {
            Some(h) => Ok(crate::password::verify_async(password.to_string(), h).await),
            None => Ok(false),
        }
    }

    /// The operator's reset of the bootstrap admin's password (`oxistack
    /// admin reset-password`): no policy, no password rules or history,
    /// as `keystone-manage bootstrap --bootstrap-password` does it; the
    /// account is unlocked and its existing tokens revoked.
    pub async fn reset_admin_password(&self, password: &str) -> Result<()> {
        let mut u = crate::db::users::get_by_name(&self.db.pool, "default", "admin")
            .await?
            .ok_or_else(|| common::Error::not_found("There is no user admin in domain Default."))?;
        u.password_hash =
            Some(crate::password::hash_async(password.to_string(), self.settings.hash).await?);
        u.password_created_at = Some(self.now());
        u.password_expires_at = None;
        u.enabled = true;
        let mut tx = self.begin().await?;
        crate::db::users::update(tx.conn(), &u).await?;
        self.revoke_user_in(tx.conn(), &u.id, None).await?;
        self.commit(tx).await?;
        crate::db::users::record_failure(&self.db.pool, &u.id, None).await?;
        Ok(())
    }
}

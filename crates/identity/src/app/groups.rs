//! Groups and their members.

use super::domains::{dup, strip_readonly};
use super::policy_target::{PolicyTarget, Ref};
use super::projects::caller_domain;
use super::{validate_name, Identity};
use crate::db::groups::Group;
use crate::db::users::User;
use common::context::AuthContext;
use common::http::{Page, QueryMap};
use common::{Error, Result};
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Deserialize, Default)]
pub struct GroupInput {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub description: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub fn not_found(id: &str) -> Error {
    Error::not_found(format!("Could not find group: {id}."))
}

fn target(g: &Group) -> PolicyTarget {
    PolicyTarget::none()
        .group(Ref::owned(&g.id, &g.domain_id))
        .domain_id(g.domain_id.as_str())
}

impl Identity {
    pub async fn create_group(&self, ctx: &AuthContext, mut input: GroupInput) -> Result<Group> {
        let name = input
            .name
            .take()
            .ok_or_else(|| Error::bad_request("Invalid input for field 'name': required."))?;
        validate_name("name", &name)?;
        super::validate_max_len("domain_id", input.domain_id.as_deref(), super::ID_MAX)?;
        let domain_id = input.domain_id.take().unwrap_or_else(|| caller_domain(ctx));
        self.enforce(
            ctx,
            "identity:create_group",
            PolicyTarget::none().group(Ref::in_domain(domain_id.as_str())),
        )?;
        if crate::db::domains::get(&self.db.pool, &domain_id)
            .await?
            .is_none()
        {
            // Keystone's identity layer looks the domain up first: 404.
            return Err(super::domains::not_found(&domain_id));
        }
        strip_readonly(&mut input.extra);
        let g = Group {
            id: common::ids::hex_id(),
            name,
            domain_id,
            description: input.description.unwrap_or_default(),
            extra: input.extra,
            created_at: self.now(),
        };
        let mut tx = self.begin().await?;
        crate::db::groups::insert(tx.conn(), &g)
            .await
            .map_err(|e| dup(e, "group", &g.name))?;
        self.commit(tx).await?;
        Ok(g)
    }

    pub async fn get_group(&self, ctx: &AuthContext, id: &str) -> Result<Group> {
        let g = crate::db::groups::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.enforce(ctx, "identity:get_group", target(&g))?;
        Ok(g)
    }

    /// One page of `GET /v3/groups`, filtered and paged in SQL.
    pub async fn list_groups(&self, ctx: &AuthContext, q: &QueryMap) -> Result<Page<Group>> {
        let domain = q.get("domain_id");
        self.enforce(
            ctx,
            "identity:list_groups",
            PolicyTarget::none().within(domain).domain_id(domain),
        )?;
        let paging = self.paging(q)?;
        super::listed(crate::db::groups::list_page(&self.db, q.get("name"), domain, &paging).await)
    }

    pub async fn update_group(
        &self,
        ctx: &AuthContext,
        id: &str,
        mut input: GroupInput,
    ) -> Result<Group> {
        let mut g = crate::db::groups::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.enforce(ctx, "identity:update_group", target(&g))?;
        if input.domain_id.as_ref().is_some_and(|d| *d != g.domain_id) {
            return Err(Error::bad_request(
                "Invalid input for field 'domain_id': it cannot be changed.",
            ));
        }
        if let Some(n) = input.name.take() {
            validate_name("name", &n)?;
            g.name = n;
        }
        if let Some(d) = input.description.take() {
            g.description = d;
        }
        strip_readonly(&mut input.extra);
        g.extra.extend(input.extra);
        let mut tx = self.begin().await?;
        crate::db::groups::update(tx.conn(), &g)
            .await
            .map_err(|e| dup(e, "group", &g.name))?;
        self.commit(tx).await?;
        Ok(g)
    }

    pub async fn delete_group(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let g = crate::db::groups::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.enforce(ctx, "identity:delete_group", target(&g))?;
        let mut tx = self.begin().await?;
        crate::db::assignments::delete_for(tx.conn(), id).await?;
        crate::db::groups::delete(tx.conn(), id).await?;
        self.commit(tx).await
    }

    pub async fn list_group_users(&self, ctx: &AuthContext, id: &str) -> Result<Vec<User>> {
        let g = crate::db::groups::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.enforce(ctx, "identity:list_users_in_group", target(&g))?;
        let snap = self.view().await?;
        let mut v: Vec<User> = snap
            .groups_of_user
            .iter()
            .filter(|(_, gs)| gs.contains(&g.id))
            .filter_map(|(u, _)| snap.users.get(u).cloned())
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v)
    }

    pub async fn list_user_groups(&self, ctx: &AuthContext, user_id: &str) -> Result<Vec<Group>> {
        let u = crate::db::users::get(&self.db.pool, user_id)
            .await?
            .ok_or_else(|| super::users::not_found(user_id))?;
        self.enforce(
            ctx,
            "identity:list_groups_for_user",
            PolicyTarget::none()
                .user(Ref::owned(&u.id, &u.domain_id))
                .user_id(&u.id),
        )?;
        let snap = self.view().await?;
        let ids = snap
            .groups_of_user
            .get(user_id)
            .cloned()
            .unwrap_or_default();
        let mut v: Vec<Group> = Vec::new();
        for gid in ids {
            if let Some(g) = crate::db::groups::get(&self.db.pool, &gid).await? {
                v.push(g);
            }
        }
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v)
    }

    /// `PUT|HEAD|DELETE /v3/groups/{g}/users/{u}`.
    pub async fn group_membership(
        &self,
        ctx: &AuthContext,
        group_id: &str,
        user_id: &str,
        op: Membership,
    ) -> Result<()> {
        let g = crate::db::groups::get(&self.db.pool, group_id)
            .await?
            .ok_or_else(|| not_found(group_id))?;
        let action = match op {
            Membership::Add => "identity:add_user_to_group",
            Membership::Check => "identity:check_user_in_group",
            Membership::Remove => "identity:remove_user_from_group",
        };
        self.enforce(ctx, action, target(&g))?;
        if crate::db::users::get(&self.db.pool, user_id)
            .await?
            .is_none()
        {
            return Err(super::users::not_found(user_id));
        }
        let member_missing = || {
            Error::not_found(format!(
                "User {user_id} is not a member of group {group_id}."
            ))
        };
        match op {
            Membership::Check => {
                let snap = self.view().await?;
                if snap
                    .groups_of_user
                    .get(user_id)
                    .is_some_and(|gs| gs.iter().any(|x| x == group_id))
                {
                    Ok(())
                } else {
                    Err(member_missing())
                }
            }
            Membership::Add => {
                let mut tx = self.begin().await?;
                crate::db::users::add_to_group(tx.conn(), user_id, group_id).await?;
                self.commit(tx).await
            }
            Membership::Remove => {
                let mut tx = self.begin().await?;
                if crate::db::users::remove_from_group(tx.conn(), user_id, group_id).await? == 0 {
                    return Err(member_missing());
                }
                self.commit(tx).await
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Membership {
    Add,
    Check,
    Remove,
}

//! The tag API of the standard-attr-tag extension on every taggable
//! collection (`/v2.0/{collection}/{id}/tags[/{tag}]`): the parent must
//! be visible (else 404) and changeable by the caller (else 403); every
//! change bumps the parent's revision.

use super::{invalid_input, Network};
use crate::db::{
    floatingips, networks, ports, routers, security_groups, subnetpools, subnets, tags,
};
use common::context::AuthContext;
use common::{Error, Result};
use serde_json::Value;

const MAX_TAG_LEN: usize = 255;
const MAX_TAGS_COUNT: usize = 50;

/// Collections whose resources take tags.
pub const COLLECTIONS: &[&str] = &[
    "networks",
    "subnets",
    "ports",
    "security-groups",
    "subnetpools",
    "floatingips",
    "routers",
];

fn tag_not_found(tag: &str) -> Error {
    Error::not_found(format!("Tag {tag} could not be found.")).with_fault("TagNotFound")
}

fn check_tag(tag: &str) -> Result<()> {
    if tag.chars().count() > MAX_TAG_LEN {
        return Err(invalid_input(format!(
            "'{tag}' exceeds maximum length of {MAX_TAG_LEN}"
        )));
    }
    Ok(())
}

impl Network {
    /// Checks the parent and the caller's right to `verb` its tags
    /// (`get`, `update`, `delete`).
    async fn tag_parent(
        &self,
        ctx: &AuthContext,
        collection: &str,
        id: &str,
        verb: &str,
    ) -> Result<()> {
        match collection {
            "networks" => {
                let n = self.visible_network(ctx, id).await?;
                let action = format!("{verb}_network_tags");
                if !self.check(ctx, &action, &super::networks::target(&n)) {
                    return Err(super::policy_refused(&action));
                }
                Ok(())
            }
            "subnets" => {
                let (s, n) = self.visible_subnet(ctx, id).await?;
                let action = format!("{verb}_subnet_tags");
                let changes = verb != "get";
                if (changes && !self.may_change_subnet(ctx, &s, n.as_ref()))
                    || !self.check(ctx, &action, &super::subnets::target(&s, n.as_ref()))
                {
                    return Err(super::policy_refused(&action));
                }
                Ok(())
            }
            "ports" => {
                let (p, n) = self.visible_port(ctx, id).await?;
                let action = format!("{verb}_port_tags");
                if !self.check(ctx, &action, &super::ports::target(&p, n.as_ref())) {
                    return Err(super::policy_refused(&action));
                }
                Ok(())
            }
            "security-groups" => {
                let g = self.visible_group(ctx, id).await?;
                let action = format!("{verb}_security_groups_tags");
                if !self.check(ctx, &action, &super::security_groups::target(&g)) {
                    return Err(super::policy_refused(&action));
                }
                Ok(())
            }
            "subnetpools" => {
                let p = self.visible_pool(ctx, id).await?;
                let action = format!("{verb}_subnetpools_tags");
                if !self.check(ctx, &action, &super::subnetpools::target(&p)) {
                    return Err(super::policy_refused(&action));
                }
                Ok(())
            }
            "floatingips" => {
                let f = self.visible_floatingip(ctx, id).await?;
                let action = format!("{verb}_floatingips_tags");
                if !self.check(ctx, &action, &super::floatingips::target(&f)) {
                    return Err(super::policy_refused(&action));
                }
                Ok(())
            }
            "routers" => {
                let r = self.visible_router(ctx, id).await?;
                // neutron's current rule names (2025.1 renamed `*_routers_tags`).
                let action = format!("{verb}_router:tags");
                if !self.check(ctx, &action, &super::routers::target(&r)) {
                    return Err(super::policy_refused(&action));
                }
                Ok(())
            }
            _ => Err(Error::not_found("The resource could not be found.")),
        }
    }

    /// Bumps the parent's revision in `tx`.
    async fn touch_parent(&self, tx: &mut db::WriteTx, collection: &str, id: &str) -> Result<()> {
        let now = self.now();
        let found = match collection {
            "networks" => networks::touch(tx.conn(), id, now).await?,
            "subnets" => subnets::touch(tx.conn(), id, now).await?,
            "ports" => ports::touch(tx.conn(), id, now).await?,
            "security-groups" => security_groups::touch(tx.conn(), id, now).await?,
            "subnetpools" => subnetpools::touch(tx.conn(), id, now).await?,
            "floatingips" => floatingips::touch(tx.conn(), id, now).await?,
            "routers" => routers::touch(tx.conn(), id, now).await?,
            _ => false,
        };
        if !found {
            return Err(Error::not_found("The resource could not be found."));
        }
        tx.bump(crate::REVISION).await?;
        Ok(())
    }

    pub async fn list_tags(
        &self,
        ctx: &AuthContext,
        collection: &str,
        id: &str,
    ) -> Result<Vec<String>> {
        self.tag_parent(ctx, collection, id, "get").await?;
        let mut t = tags::of(&mut *self.db.pool.acquire().await?, &[id.to_string()]).await?;
        Ok(t.remove(id).unwrap_or_default())
    }

    pub async fn has_tag(
        &self,
        ctx: &AuthContext,
        collection: &str,
        id: &str,
        tag: &str,
    ) -> Result<()> {
        if self
            .list_tags(ctx, collection, id)
            .await?
            .iter()
            .any(|t| t == tag)
        {
            Ok(())
        } else {
            Err(tag_not_found(tag))
        }
    }

    pub async fn add_tag(
        &self,
        ctx: &AuthContext,
        collection: &str,
        id: &str,
        tag: &str,
    ) -> Result<()> {
        check_tag(tag)?;
        self.tag_parent(ctx, collection, id, "update").await?;
        let mut tx = self.begin().await?;
        tags::add(tx.conn(), id, tag).await?;
        let mut all = tags::of(&mut *tx.conn(), &[id.to_string()]).await?;
        if all.remove(id).unwrap_or_default().len() > MAX_TAGS_COUNT {
            return Err(too_many(collection));
        }
        self.touch_parent(&mut tx, collection, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces every tag (`PUT …/tags` with `{"tags": […]}`).
    pub async fn replace_tags(
        &self,
        ctx: &AuthContext,
        collection: &str,
        id: &str,
        body: Value,
    ) -> Result<Vec<String>> {
        let list = match body.get("tags") {
            Some(Value::Array(items)) => items.clone(),
            Some(v) => {
                return Err(invalid_input(format!(
                    "'{}' is not a list",
                    super::attrs::show(v)
                )))
            }
            None => return Err(invalid_input("Invalid tags body")),
        };
        let mut new: Vec<String> = Vec::with_capacity(list.len());
        for v in &list {
            let Value::String(t) = v else {
                return Err(invalid_input(format!(
                    "'{}' is not a valid string",
                    super::attrs::show(v)
                )));
            };
            check_tag(t)?;
            if new.contains(t) {
                return Err(invalid_input(format!("Duplicate items in the list: '{t}'")));
            }
            new.push(t.clone());
        }
        if new.len() > MAX_TAGS_COUNT {
            return Err(too_many(collection));
        }
        self.tag_parent(ctx, collection, id, "update").await?;
        let mut tx = self.begin().await?;
        tags::clear(tx.conn(), id).await?;
        for t in &new {
            tags::add(tx.conn(), id, t).await?;
        }
        self.touch_parent(&mut tx, collection, id).await?;
        tx.commit().await?;
        new.sort();
        Ok(new)
    }

    pub async fn remove_tag(
        &self,
        ctx: &AuthContext,
        collection: &str,
        id: &str,
        tag: &str,
    ) -> Result<()> {
        self.tag_parent(ctx, collection, id, "delete").await?;
        let mut tx = self.begin().await?;
        if !tags::remove(tx.conn(), id, tag).await? {
            return Err(tag_not_found(tag));
        }
        self.touch_parent(&mut tx, collection, id).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn remove_tags(&self, ctx: &AuthContext, collection: &str, id: &str) -> Result<()> {
        self.tag_parent(ctx, collection, id, "delete").await?;
        let mut tx = self.begin().await?;
        tags::clear(tx.conn(), id).await?;
        self.touch_parent(&mut tx, collection, id).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn too_many(collection: &str) -> Error {
    Error::bad_request(format!(
        "Bad {collection} request: The number of tags exceed the per-resource limit of {MAX_TAGS_COUNT}."
    ))
    .with_fault("BadRequest")
}

//! Project endpoint filtering (OS-EP-FILTER): endpoint groups select
//! endpoints by `interface`, `service_id` and `region_id`; projects are
//! associated with endpoints directly or through groups, and a project
//! with any association sees only those endpoints in its catalog (one with
//! none sees them all, Keystone's default).

use super::policy_target::PolicyTarget;
use super::snapshot::Snapshot;
use super::Identity;
use crate::db::catalog::Endpoint;
use crate::db::endpoint_filter::{Assoc, EndpointGroup};
use crate::db::projects::Project;
use common::context::AuthContext;
use common::{Error, Result};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::Arc;

#[derive(Debug, Deserialize, Default)]
pub struct GroupInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub filters: Option<Map<String, Value>>,
}

const FILTER_KEYS: [&str; 3] = ["interface", "service_id", "region_id"];

fn group_nf(id: &str) -> Error {
    Error::not_found(format!("Could not find endpoint group: {id}."))
}

fn check_filters(f: &Map<String, Value>) -> Result<()> {
    if f.is_empty() {
        return Err(Error::bad_request(
            "Invalid input for field 'filters': at least one filter is required.",
        ));
    }
    for (k, v) in f {
        if !FILTER_KEYS.contains(&k.as_str()) || !v.is_string() {
            return Err(Error::bad_request(format!(
                "Invalid input for field 'filters': {k:?} is not one of interface, service_id, region_id with a string value."
            )));
        }
    }
    Ok(())
}

/// True when `e` matches every filter of `g`.
pub fn matches(g: &EndpointGroup, e: &Endpoint) -> bool {
    g.filters.iter().all(|(k, v)| {
        let want = v.as_str();
        match k.as_str() {
            "interface" => want == Some(e.interface.as_str()),
            "service_id" => want == Some(e.service_id.as_str()),
            "region_id" => want.is_some() && want == e.region_id.as_deref(),
            _ => false,
        }
    })
}

impl Snapshot {
    /// Endpoint ids the project's catalog is restricted to, or `None` when
    /// the project has no associations and sees every endpoint.
    pub fn endpoint_filter(&self, project_id: &str) -> Option<Vec<String>> {
        let direct: Vec<&String> = self
            .project_endpoints
            .iter()
            .filter(|(p, _)| p == project_id)
            .map(|(_, e)| e)
            .collect();
        let groups: Vec<&EndpointGroup> = self
            .project_endpoint_groups
            .iter()
            .filter(|(p, _)| p == project_id)
            .filter_map(|(_, g)| self.endpoint_groups.iter().find(|x| x.id == *g))
            .collect();
        if direct.is_empty() && groups.is_empty() {
            return None;
        }
        let mut ids: Vec<String> = direct.into_iter().cloned().collect();
        for e in &self.endpoints {
            if groups.iter().any(|g| matches(g, e)) && !ids.contains(&e.id) {
                ids.push(e.id.clone());
            }
        }
        Some(ids)
    }
}

impl Identity {
    pub async fn create_endpoint_group(
        &self,
        ctx: &AuthContext,
        input: GroupInput,
    ) -> Result<EndpointGroup> {
        self.enforce(ctx, "identity:create_endpoint_group", PolicyTarget::none())?;
        let name = input
            .name
            .ok_or_else(|| Error::bad_request("Invalid input for field 'name': required."))?;
        super::validate_name("name", &name)?;
        let filters = input
            .filters
            .ok_or_else(|| Error::bad_request("Invalid input for field 'filters': required."))?;
        check_filters(&filters)?;
        let g = EndpointGroup {
            id: common::ids::hex_id(),
            name,
            description: input.description.unwrap_or_default(),
            filters,
        };
        let mut tx = self.begin().await?;
        crate::db::endpoint_filter::upsert_group(tx.conn(), &g, true).await?;
        self.commit(tx).await?;
        Ok(g)
    }

    pub async fn get_endpoint_group(&self, ctx: &AuthContext, id: &str) -> Result<EndpointGroup> {
        self.enforce(ctx, "identity:get_endpoint_group", PolicyTarget::none())?;
        self.view()
            .await?
            .endpoint_groups
            .iter()
            .find(|g| g.id == id)
            .cloned()
            .ok_or_else(|| group_nf(id))
    }

    pub async fn list_endpoint_groups(
        &self,
        ctx: &AuthContext,
        name: Option<&str>,
    ) -> Result<Vec<EndpointGroup>> {
        self.enforce(ctx, "identity:list_endpoint_groups", PolicyTarget::none())?;
        Ok(self
            .view()
            .await?
            .endpoint_groups
            .iter()
            .filter(|g| name.is_none_or(|n| g.name == n))
            .cloned()
            .collect())
    }

    pub async fn update_endpoint_group(
        &self,
        ctx: &AuthContext,
        id: &str,
        input: GroupInput,
    ) -> Result<EndpointGroup> {
        self.enforce(ctx, "identity:update_endpoint_group", PolicyTarget::none())?;
        let mut g = self.get_endpoint_group(ctx, id).await?;
        if let Some(n) = input.name {
            super::validate_name("name", &n)?;
            g.name = n;
        }
        if let Some(d) = input.description {
            g.description = d;
        }
        if let Some(f) = input.filters {
            check_filters(&f)?;
            g.filters = f;
        }
        let mut tx = self.begin().await?;
        crate::db::endpoint_filter::upsert_group(tx.conn(), &g, false).await?;
        self.commit(tx).await?;
        Ok(g)
    }

    pub async fn delete_endpoint_group(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        self.enforce(ctx, "identity:delete_endpoint_group", PolicyTarget::none())?;
        let mut tx = self.begin().await?;
        if crate::db::endpoint_filter::delete_group(tx.conn(), id).await? == 0 {
            return Err(group_nf(id));
        }
        self.commit(tx).await
    }

    /// Adds, checks or removes a project's association with an endpoint or
    /// an endpoint group.
    pub async fn endpoint_association(
        &self,
        ctx: &AuthContext,
        kind: Assoc,
        project: &str,
        other: &str,
        op: Op,
    ) -> Result<()> {
        let action = match (kind, op) {
            (Assoc::Endpoint, Op::Add) => "identity:add_endpoint_to_project",
            (Assoc::Endpoint, Op::Check) => "identity:check_endpoint_in_project",
            (Assoc::Endpoint, Op::Remove) => "identity:remove_endpoint_from_project",
            (Assoc::Group, Op::Add) => "identity:add_endpoint_group_to_project",
            (Assoc::Group, Op::Check) => "identity:get_endpoint_group_in_project",
            (Assoc::Group, Op::Remove) => "identity:remove_endpoint_group_from_project",
        };
        self.enforce(ctx, action, PolicyTarget::none())?;
        let snap = self.view().await?;
        if !snap.projects.contains_key(project) {
            return Err(Error::not_found(format!(
                "Could not find project: {project}."
            )));
        }
        let exists = match kind {
            Assoc::Endpoint => snap.endpoints.iter().any(|e| e.id == other),
            Assoc::Group => snap.endpoint_groups.iter().any(|g| g.id == other),
        };
        if !exists {
            return Err(match kind {
                Assoc::Endpoint => Error::not_found(format!("Could not find endpoint: {other}.")),
                Assoc::Group => group_nf(other),
            });
        }
        let missing =
            || Error::not_found(format!("Project {project} is not associated with {other}."));
        match op {
            Op::Check => {
                let list = match kind {
                    Assoc::Endpoint => &snap.project_endpoints,
                    Assoc::Group => &snap.project_endpoint_groups,
                };
                if list.iter().any(|(p, o)| p == project && o == other) {
                    Ok(())
                } else {
                    Err(missing())
                }
            }
            Op::Add | Op::Remove => {
                let mut tx = self.begin().await?;
                let n = crate::db::endpoint_filter::associate(
                    tx.conn(),
                    kind,
                    project,
                    other,
                    matches!(op, Op::Add),
                )
                .await?;
                if matches!(op, Op::Remove) && n == 0 {
                    return Err(missing());
                }
                self.commit(tx).await
            }
        }
    }

    /// The snapshot, once the caller may make read `action`.
    async fn endpoint_filter_read(&self, ctx: &AuthContext, action: &str) -> Result<Arc<Snapshot>> {
        self.enforce(ctx, action, PolicyTarget::none())?;
        self.view().await
    }

    /// `GET …/endpoint_groups/{id}/projects`: the projects associated with
    /// an endpoint group.
    pub async fn endpoint_group_projects(
        &self,
        ctx: &AuthContext,
        group_id: &str,
    ) -> Result<Vec<Project>> {
        let snap = self
            .endpoint_filter_read(ctx, "identity:list_projects_associated_with_endpoint_group")
            .await?;
        if !snap.endpoint_groups.iter().any(|g| g.id == group_id) {
            return Err(group_nf(group_id));
        }
        Ok(snap
            .project_endpoint_groups
            .iter()
            .filter(|(_, g)| g == group_id)
            .filter_map(|(p, _)| snap.projects.get(p).cloned())
            .collect())
    }

    /// `GET …/endpoint_groups/{id}/endpoints`: the endpoints a group's
    /// filters select.
    pub async fn endpoint_group_endpoints(
        &self,
        ctx: &AuthContext,
        group_id: &str,
    ) -> Result<Vec<Endpoint>> {
        let snap = self
            .endpoint_filter_read(
                ctx,
                "identity:list_endpoints_associated_with_endpoint_group",
            )
            .await?;
        let g = snap
            .endpoint_groups
            .iter()
            .find(|g| g.id == group_id)
            .ok_or_else(|| group_nf(group_id))?;
        Ok(snap
            .endpoints
            .iter()
            .filter(|e| matches(g, e))
            .cloned()
            .collect())
    }

    /// `GET …/projects/{id}/endpoint_groups`: the groups associated with a
    /// project (none for an unknown project, as Keystone answers).
    pub async fn project_endpoint_groups(
        &self,
        ctx: &AuthContext,
        project_id: &str,
    ) -> Result<Vec<EndpointGroup>> {
        let snap = self
            .endpoint_filter_read(ctx, "identity:list_endpoint_groups_for_project")
            .await?;
        Ok(snap
            .project_endpoint_groups
            .iter()
            .filter(|(p, _)| p == project_id)
            .filter_map(|(_, g)| snap.endpoint_groups.iter().find(|x| x.id == *g))
            .cloned()
            .collect())
    }

    /// `GET …/projects/{id}/endpoints`: the endpoints a project's catalog
    /// shows.
    pub async fn project_endpoints(
        &self,
        ctx: &AuthContext,
        project_id: &str,
    ) -> Result<Vec<Endpoint>> {
        let snap = self
            .endpoint_filter_read(ctx, "identity:list_endpoints_for_project")
            .await?;
        if !snap.projects.contains_key(project_id) {
            return Err(Error::not_found(format!(
                "Could not find project: {project_id}."
            )));
        }
        let only = snap.endpoint_filter(project_id).unwrap_or_default();
        Ok(snap
            .endpoints
            .iter()
            .filter(|e| only.contains(&e.id))
            .cloned()
            .collect())
    }

    /// `GET …/endpoints/{id}/projects`: the projects associated with an
    /// endpoint directly (none for an unknown endpoint).
    pub async fn endpoint_projects(
        &self,
        ctx: &AuthContext,
        endpoint_id: &str,
    ) -> Result<Vec<Project>> {
        let snap = self
            .endpoint_filter_read(ctx, "identity:list_projects_for_endpoint")
            .await?;
        Ok(snap
            .project_endpoints
            .iter()
            .filter(|(_, e)| e == endpoint_id)
            .filter_map(|(p, _)| snap.projects.get(p).cloned())
            .collect())
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Op {
    Add,
    Check,
    Remove,
}

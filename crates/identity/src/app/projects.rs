//! Projects: unique names within a domain, a hierarchy through
//! `parent_id`, tags, and no deleting a project that still has children.

use super::domains::{dup, strip_readonly};
use super::policy_target::{PolicyTarget, Ref};
use super::{validate_name_max, Identity};
use crate::db::projects::Project;
use common::context::{AuthContext, Scope};
use common::http::{Page, QueryMap};
use common::{Error, Result};
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Deserialize, Default)]
pub struct ProjectInput {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub parent_id: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub is_domain: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub options: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub fn not_found(id: &str) -> Error {
    Error::not_found(format!("Could not find project: {id}."))
}

pub fn validate_tag(tag: &str) -> Result<()> {
    if tag.is_empty() || tag.chars().count() > 255 || tag.contains('/') || tag.contains(',') {
        return Err(Error::bad_request(format!(
            "Invalid input for field 'tags': {tag:?} must be 1 to 255 characters without '/' or ','."
        )));
    }
    Ok(())
}

fn validate_tags(tags: &[String]) -> Result<Vec<String>> {
    if tags.len() > 80 {
        return Err(Error::bad_request(
            "Invalid input for field 'tags': at most 80 tags.",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        validate_tag(t)?;
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    Ok(out)
}

fn target(p: &Project) -> PolicyTarget {
    PolicyTarget::none()
        .project(Ref::owned(&p.id, &p.domain_id))
        .domain_id(p.domain_id.as_str())
}

/// The domain a request acts in when it names none: the token's.
pub(crate) fn caller_domain(ctx: &AuthContext) -> String {
    match &ctx.scope {
        Scope::Domain { id, .. } => id.clone(),
        Scope::Project { domain_id, .. } => domain_id.clone(),
        _ => "default".to_string(),
    }
}

impl Identity {
    pub async fn create_project(
        &self,
        ctx: &AuthContext,
        mut input: ProjectInput,
    ) -> Result<Project> {
        let name = input
            .name
            .take()
            .ok_or_else(|| Error::bad_request("Invalid input for field 'name': required."))?;
        validate_name_max("name", &name, super::RESOURCE_NAME_MAX)?;
        super::validate_max_len("domain_id", input.domain_id.as_deref(), super::ID_MAX)?;
        super::validate_max_len("parent_id", input.parent_id.as_deref(), super::ID_MAX)?;
        if input.is_domain == Some(true) {
            return Err(Error::bad_request(
                "Invalid input for field 'is_domain': use create_domain_project.",
            ));
        }
        let pool = &self.db.pool;
        let mut parent_id = input.parent_id.take().filter(|p| !p.is_empty());
        let mut domain_id = input.domain_id.take();
        if let Some(pid) = parent_id.clone() {
            if crate::db::domains::get(pool, &pid).await?.is_some() {
                // Keystone prints a domain as the parent of its top-level projects.
                if domain_id.as_ref().is_some_and(|d| *d != pid) {
                    return Err(Error::bad_request(
                        "Invalid input: parent_id names a domain other than domain_id.",
                    ));
                }
                domain_id = Some(pid);
                parent_id = None;
            } else {
                let parent = crate::db::projects::get(pool, &pid).await?.ok_or_else(|| {
                    Error::bad_request(format!(
                        "Invalid input for field 'parent_id': no project {pid}."
                    ))
                })?;
                if domain_id.as_ref().is_some_and(|d| *d != parent.domain_id) {
                    return Err(Error::bad_request(
                        "Invalid input: a project must be in its parent's domain.",
                    ));
                }
                domain_id = Some(parent.domain_id);
            }
        }
        let domain_id = domain_id.unwrap_or_else(|| caller_domain(ctx));
        self.enforce(
            ctx,
            "identity:create_project",
            PolicyTarget::none()
                .project(Ref::in_domain(domain_id.as_str()))
                .domain_id(domain_id.as_str()),
        )?;
        if crate::db::domains::get(pool, &domain_id).await?.is_none() {
            return Err(Error::bad_request(format!(
                "Invalid input for field 'domain_id': no domain {domain_id}."
            )));
        }
        strip_readonly(&mut input.extra);
        let p = Project {
            id: common::ids::hex_id(),
            name,
            domain_id,
            parent_id,
            description: input.description.unwrap_or_default(),
            enabled: input.enabled.unwrap_or(true),
            extra: input.extra,
            created_at: self.now(),
            tags: validate_tags(&input.tags.unwrap_or_default())?,
        };
        let mut tx = self.begin().await?;
        crate::db::projects::insert(tx.conn(), &p)
            .await
            .map_err(|e| dup(e, "project", &p.name))?;
        // The project row (with its tags) is the whole change: a new
        // project has no children or assignments yet.
        self.commit_change(tx, Some(super::snapshot::Change::Project(p.clone())))
            .await?;
        Ok(p)
    }

    /// A project the caller may see; a project the caller has no right to
    /// read is a 404, so project ids cannot be probed.
    pub async fn get_project(&self, ctx: &AuthContext, id: &str) -> Result<Project> {
        let p = crate::db::projects::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        // Someone else's project is not shown to exist.
        self.enforce(ctx, "identity:get_project", target(&p))
            .map_err(|_| not_found(id))?;
        Ok(p)
    }

    /// One page of `GET /v3/projects`, filtered and paged in SQL. As in
    /// Keystone, a domain-scoped caller is checked against its own domain
    /// and sees only that domain's projects; anyone else is checked
    /// against the `domain_id` asked for.
    pub async fn list_projects(&self, ctx: &AuthContext, q: &QueryMap) -> Result<Page<Project>> {
        let scope_domain = match &ctx.scope {
            Scope::Domain { id, .. } => Some(id.as_str()),
            _ => None,
        };
        let domain = scope_domain.or(q.get("domain_id"));
        self.enforce(
            ctx,
            "identity:list_projects",
            PolicyTarget::none().within(domain).domain_id(domain),
        )?;
        let filter = project_filter(q, scope_domain)?;
        let paging = self.paging(q)?;
        super::listed(crate::db::projects::list_page(&self.db, &filter, &paging).await)
    }

    pub async fn update_project(
        &self,
        ctx: &AuthContext,
        id: &str,
        mut input: ProjectInput,
    ) -> Result<Project> {
        let mut p = crate::db::projects::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.enforce(ctx, "identity:update_project", target(&p))?;
        if input.domain_id.as_ref().is_some_and(|d| *d != p.domain_id) {
            return Err(Error::bad_request(
                "Invalid input for field 'domain_id': it cannot be changed.",
            ));
        }
        if input
            .parent_id
            .as_ref()
            .is_some_and(|x| Some(x) != p.parent_id.as_ref() && *x != p.domain_id)
        {
            return Err(Error::bad_request(
                "Invalid input for field 'parent_id': it cannot be changed.",
            ));
        }
        if input.is_domain == Some(true) {
            return Err(Error::bad_request(
                "Invalid input for field 'is_domain': it cannot be changed.",
            ));
        }
        if let Some(n) = input.name.take() {
            validate_name_max("name", &n, super::RESOURCE_NAME_MAX)?;
            p.name = n;
        }
        if let Some(d) = input.description.take() {
            p.description = d;
        }
        if let Some(e) = input.enabled {
            p.enabled = e;
        }
        if let Some(t) = input.tags.take() {
            p.tags = validate_tags(&t)?;
        }
        strip_readonly(&mut input.extra);
        input.extra.remove("domain_id");
        input.extra.remove("parent_id");
        p.extra.extend(input.extra);
        let mut tx = self.begin().await?;
        crate::db::projects::update(tx.conn(), &p)
            .await
            .map_err(|e| dup(e, "project", &p.name))?;
        self.commit(tx).await?;
        Ok(p)
    }

    pub async fn delete_project(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let p = crate::db::projects::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.enforce(ctx, "identity:delete_project", target(&p))?;
        if crate::db::projects::count_children(&self.db.pool, id).await? > 0 {
            return Err(Error::forbidden(format!(
                "Cannot delete the project {id}, since it is not a leaf in the hierarchy."
            )));
        }
        let mut tx = self.begin().await?;
        crate::db::assignments::delete_for(tx.conn(), id).await?;
        crate::db::app_creds::delete_for_project(tx.conn(), id).await?;
        crate::db::users::clear_default_project(tx.conn(), id).await?;
        crate::db::projects::delete(tx.conn(), id).await?;
        self.commit(tx).await
    }

    pub async fn project_tags(&self, ctx: &AuthContext, id: &str, action: &str) -> Result<Project> {
        let p = crate::db::projects::get(&self.db.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.enforce(ctx, action, target(&p))?;
        Ok(p)
    }

    /// Replaces, adds or removes tags (`None` removes all).
    pub async fn set_project_tags(
        &self,
        ctx: &AuthContext,
        id: &str,
        action: &str,
        tags: Vec<String>,
    ) -> Result<Project> {
        let mut p = self.project_tags(ctx, id, action).await?;
        p.tags = validate_tags(&tags)?;
        let mut tx = self.begin().await?;
        crate::db::projects::set_tags(tx.conn(), id, &p.tags).await?;
        self.commit(tx).await?;
        Ok(p)
    }
}

/// Projects acting as domains. Keystone stores every domain as a project
/// with `is_domain = true`, so its projects API creates, shows, updates,
/// lists (`?is_domain=true`) and deletes domains too. Here domains have
/// their own table; these calls give the projects API the same reach by
/// acting on the domain, under the domain rules (a domain is disabled
/// before it is deleted, and deleting it removes what it owns).
impl Identity {
    /// `POST /v3/projects` with `is_domain: true`: a new domain. Like
    /// Keystone, such a project is a root: it names no domain and no
    /// parent.
    pub async fn create_domain_project(
        &self,
        ctx: &AuthContext,
        input: ProjectInput,
    ) -> Result<crate::db::domains::Domain> {
        if input.domain_id.is_some() {
            return Err(Error::bad_request(
                "Invalid input for field 'domain_id': a project acting as a domain has no domain.",
            ));
        }
        if input.parent_id.as_deref().is_some_and(|p| !p.is_empty()) {
            return Err(Error::bad_request(
                "Invalid input for field 'parent_id': only root projects can act as domains.",
            ));
        }
        if input.tags.as_ref().is_some_and(|t| !t.is_empty()) {
            return Err(Error::bad_request(
                "Invalid input for field 'tags': a project acting as a domain has no tags here.",
            ));
        }
        let name = input
            .name
            .ok_or_else(|| Error::bad_request("Invalid input for field 'name': required."))?;
        let d = super::domains::DomainInput {
            name: Some(name),
            description: input.description,
            enabled: input.enabled,
            id: None,
            extra: input.extra,
        };
        self.create_domain(ctx, d).await
    }

    /// Whether `id` names a domain rather than a project: the projects
    /// API then acts on the domain.
    pub async fn is_domain_project(&self, id: &str) -> Result<bool> {
        let pool = &self.db.pool;
        Ok(crate::db::projects::get(pool, id).await?.is_none()
            && crate::db::domains::get(pool, id).await?.is_some())
    }

    /// `GET /v3/projects?is_domain=true`: the domains, filtered by the
    /// project filters that apply to them and paged in SQL.
    pub async fn list_domain_projects(
        &self,
        ctx: &AuthContext,
        q: &QueryMap,
    ) -> Result<Page<crate::db::domains::Domain>> {
        let paging = self.paging(q)?;
        // A domain has no domain, parent or tags: those filters match none
        // (and so no marker names one of them).
        if ["domain_id", "parent_id", "tags", "tags-any"]
            .iter()
            .any(|k| q.get(k).is_some())
        {
            return super::listed(match paging.marker {
                Some(m) => Err(db::list::ListError::MarkerNotFound(m.to_string())),
                None => Ok((Vec::new(), None)),
            });
        }
        self.enforce(ctx, "identity:list_domains", PolicyTarget::none())?;
        let (name, enabled) = (q.get("name"), q.flag("enabled")?);
        super::listed(crate::db::domains::list_page(&self.db, name, enabled, &paging).await)
    }

    /// `PATCH /v3/projects/{id}` on a domain: name, description, enabled.
    pub async fn update_domain_project(
        &self,
        ctx: &AuthContext,
        id: &str,
        input: ProjectInput,
    ) -> Result<crate::db::domains::Domain> {
        if input.is_domain == Some(false) {
            return Err(Error::bad_request(
                "Invalid input for field 'is_domain': it cannot be changed.",
            ));
        }
        if input.domain_id.is_some() || input.parent_id.as_deref().is_some_and(|p| !p.is_empty()) {
            return Err(Error::bad_request(
                "Invalid input: a project acting as a domain has no domain or parent.",
            ));
        }
        let d = super::domains::DomainInput {
            name: input.name,
            description: input.description,
            enabled: input.enabled,
            id: None,
            extra: input.extra,
        };
        self.update_domain(ctx, id, d).await
    }
}

impl Identity {
    /// `PUT /v3/projects/{id}/tags/{tag}`: one row, so concurrent adds of
    /// different tags all land.
    pub async fn add_project_tag(&self, ctx: &AuthContext, id: &str, tag: &str) -> Result<()> {
        validate_tag(tag)?;
        let p = self
            .project_tags(ctx, id, "identity:create_project_tag")
            .await?;
        if p.tags.len() >= 80 && !p.tags.iter().any(|t| t == tag) {
            return Err(Error::bad_request(
                "Invalid input for field 'tags': at most 80 tags.",
            ));
        }
        let mut tx = self.begin().await?;
        crate::db::projects::add_tag(tx.conn(), id, tag).await?;
        self.commit(tx).await
    }

    pub async fn delete_project_tag(&self, ctx: &AuthContext, id: &str, tag: &str) -> Result<()> {
        self.project_tags(ctx, id, "identity:delete_project_tag")
            .await?;
        let mut tx = self.begin().await?;
        if crate::db::projects::remove_tag(tx.conn(), id, tag).await? == 0 {
            return Err(Error::not_found(format!(
                "Tag {tag} not found on project {id}."
            )));
        }
        self.commit(tx).await
    }
}

fn csv(v: Option<&str>) -> Option<Vec<&str>> {
    v.map(|s| s.split(',').filter(|t| !t.is_empty()).collect())
}

/// The SQL filters of a project list request.
fn project_filter<'q>(
    q: &'q QueryMap,
    scope_domain_id: Option<&'q str>,
) -> Result<crate::db::projects::ProjectFilter<'q>> {
    Ok(crate::db::projects::ProjectFilter {
        name: q.get("name"),
        domain_id: q.get("domain_id"),
        scope_domain_id,
        parent_id: q.get("parent_id"),
        enabled: q.flag("enabled")?,
        tags: csv(q.get("tags")),
        tags_any: csv(q.get("tags-any")),
        not_tags: csv(q.get("not-tags")),
        not_tags_any: csv(q.get("not-tags-any")),
    })
}

/// The project filters applied to projects already in memory (a user's
/// projects, found through their assignments).
pub fn filter_projects(all: Vec<Project>, q: &QueryMap) -> Result<Vec<Project>> {
    let enabled = q.flag("enabled")?;
    let is_domain = q.flag("is_domain")?;
    let tags = csv(q.get("tags"));
    let tags_any = csv(q.get("tags-any"));
    let not_tags = csv(q.get("not-tags"));
    let not_tags_any = csv(q.get("not-tags-any"));
    Ok(all
        .into_iter()
        .filter(|p| {
            let has = |t: &&str| p.tags.iter().any(|x| x == t);
            q.get("name").is_none_or(|n| p.name == n)
                && q.get("domain_id").is_none_or(|d| p.domain_id == d)
                && q.get("parent_id")
                    .is_none_or(|x| p.parent_id.as_deref().unwrap_or(&p.domain_id) == x)
                && enabled.is_none_or(|e| p.enabled == e)
                && is_domain != Some(true)
                && tags.as_ref().is_none_or(|ts| ts.iter().all(has))
                && tags_any.as_ref().is_none_or(|ts| ts.iter().any(has))
                && not_tags.as_ref().is_none_or(|ts| !ts.iter().all(has))
                && not_tags_any.as_ref().is_none_or(|ts| !ts.iter().any(has))
        })
        .collect())
}

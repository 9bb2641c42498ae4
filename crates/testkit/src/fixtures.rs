//! The identity fixture every service's tests start from: projects, users,
//! role grants and project-scoped tokens, made through the real identity
//! API with an admin [`Client`]. Each call checks the status it expects and
//! says what the server answered when it differs, so a test reads as the
//! story it tells rather than as HTTP plumbing.

use crate::{Client, TestCloud};
use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};

/// The password [`TestCloud::project_user`] gives users unless told
/// otherwise.
pub const PASSWORD: &str = "pw-secret";

/// A user holding a role on a project, with a token scoped to it.
#[derive(Clone)]
pub struct ProjectUser {
    pub project_id: String,
    pub user_id: String,
    /// An identity API client holding the user's project-scoped token;
    /// [`Client::at`] points it at another service.
    pub client: Client,
}

impl ProjectUser {
    /// Swift's account for the project: `AUTH_<project id>`.
    pub fn account(&self) -> String {
        format!("AUTH_{}", self.project_id)
    }
}

fn id_of(body: &Value, key: &str) -> Result<String> {
    body[key]["id"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("no {key}.id in {body}"))
}

/// Identity calls an admin makes to set a test up. `self` is an identity
/// API client holding an admin token ([`TestCloud::admin`]).
impl Client {
    /// Creates project `name` in the Default domain; its id.
    pub async fn create_project(&self, name: &str) -> Result<String> {
        let r = self
            .post(
                "/v3/projects",
                json!({"project": {"name": name, "domain_id": "default"}}),
            )
            .await?;
        ensure!(
            r.status == 201,
            "create project {name}: {} {}",
            r.status,
            r.text
        );
        id_of(&r.body, "project")
    }

    /// The id of project `name`, created in the Default domain if there
    /// is none.
    pub async fn find_or_create_project(&self, name: &str) -> Result<String> {
        let r = self.get(&format!("/v3/projects?name={name}")).await?;
        ensure!(
            r.status == 200,
            "list projects {name}: {} {}",
            r.status,
            r.text
        );
        match r.body["projects"][0]["id"].as_str() {
            Some(id) => Ok(id.to_string()),
            None => self.create_project(name).await,
        }
    }

    /// Creates user `name` with `password` in the Default domain, with no
    /// roles; its id.
    pub async fn create_user(&self, name: &str, password: &str) -> Result<String> {
        let r = self
            .post(
                "/v3/users",
                json!({"user": {"name": name, "password": password, "domain_id": "default"}}),
            )
            .await?;
        ensure!(
            r.status == 201,
            "create user {name}: {} {}",
            r.status,
            r.text
        );
        id_of(&r.body, "user")
    }

    /// The id of role `name`.
    pub async fn role_id(&self, name: &str) -> Result<String> {
        let r = self.get(&format!("/v3/roles?name={name}")).await?;
        ensure!(r.status == 200, "find role {name}: {} {}", r.status, r.text);
        r.body["roles"][0]["id"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("no role named {name}"))
    }

    /// Grants role `role` (by name) to user `user_id` on project
    /// `project_id`.
    pub async fn grant_project_role(
        &self,
        project_id: &str,
        user_id: &str,
        role: &str,
    ) -> Result<()> {
        let rid = self.role_id(role).await?;
        let r = self
            .put(
                &format!("/v3/projects/{project_id}/users/{user_id}/roles/{rid}"),
                None,
            )
            .await?;
        ensure!(
            r.status == 204,
            "grant {role} on {project_id} to {user_id}: {} {}",
            r.status,
            r.text
        );
        Ok(())
    }

    /// Creates user `name` with `password` holding `role` on project
    /// `project_id`; the user's id.
    pub async fn create_user_with_role(
        &self,
        name: &str,
        password: &str,
        project_id: &str,
        role: &str,
    ) -> Result<String> {
        let uid = self.create_user(name, password).await?;
        self.grant_project_role(project_id, &uid, role).await?;
        Ok(uid)
    }
}

impl TestCloud {
    /// An identity client holding `user`'s token scoped to `project` (both
    /// by name, Default domain).
    pub async fn token_for(&self, user: &str, password: &str, project: &str) -> Result<Client> {
        let c = Client::new(&self.identity_url());
        let t = c
            .password_token(user, password, Some((project, "Default")))
            .await?;
        Ok(c.with_token(&t))
    }

    /// The fixture: project `project` (found, or created in the Default
    /// domain), a new user `user` with `password` holding `role` on it,
    /// and that user's project-scoped token.
    pub async fn project_user(
        &self,
        project: &str,
        user: &str,
        password: &str,
        role: &str,
    ) -> Result<ProjectUser> {
        let admin = self.admin().await?;
        let project_id = admin.find_or_create_project(project).await?;
        let user_id = admin
            .create_user_with_role(user, password, &project_id, role)
            .await?;
        let client = self.token_for(user, password, project).await?;
        Ok(ProjectUser {
            project_id,
            user_id,
            client,
        })
    }
}

//! Tasks: the legacy `POST /v2/tasks` `import` task (create an image from
//! `image_properties` and fill it from `import_from`, in the background),
//! and the `api_image_import` tasks that `POST …/import` records so
//! `GET /v2/images/{id}/tasks` can show how an import went.
//!
//! The tasks API is admin-only by default (`tasks_api_access`, as in
//! Glance). A task ends `success` (with the image id in `result`) or
//! `failure` (with a `message`), and expires 48 hours later (Glance's
//! `task_time_to_live`). `import_from` obeys the same allow-list as
//! `web-download` (`[image] web_download_allowed`, empty by default): a URL
//! outside it fails the task without being contacted.

use super::Image;
use crate::db::tasks::Task;
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;

/// Glance's `task_time_to_live`: 48 hours, in microseconds.
pub const TASK_TTL: i64 = 48 * 3600 * 1_000_000;
const STATUSES: &[&str] = &["pending", "processing", "success", "failure"];

fn task_not_found(id: &str) -> Error {
    Error::not_found(format!("Task with the given id {id} not found"))
}

/// Checks a legacy import's `import_from` as Glance's
/// `validate_location_uri` does: plain HTTP(S) only.
fn check_import_from(input: &Value) -> Result<String> {
    let uri = input
        .get("import_from")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::bad_request("Invalid location: import_from is required"))?;
    if uri.starts_with("file://") {
        return Err(Error::bad_request(
            "File based imports are not allowed. Please use a non-local source of image data.",
        ));
    }
    if !(uri.starts_with("http://") || uri.starts_with("https://")) {
        return Err(Error::bad_request(format!(
            "The given uri is not valid. Please specify a valid uri from the following list of supported uri ['http', 'https']: {uri}"
        )));
    }
    Ok(uri.to_string())
}

impl Image {
    fn tasks_access(&self, ctx: &AuthContext) -> Result<()> {
        if self
            .policy
            .check("tasks_api_access", &ctx.policy_credentials(), &json!({}))
        {
            Ok(())
        } else {
            Err(Error::forbidden(
                "You are not authorized to complete tasks_api_access action.",
            ))
        }
    }

    /// Glance's `_is_task_visible`: admins see every task, others their
    /// project's.
    fn task_visible(&self, ctx: &AuthContext, t: &Task) -> bool {
        self.is_admin(ctx) || (ctx.project_id().is_some() && t.owner.as_deref() == ctx.project_id())
    }

    /// A new task row, `pending`.
    pub(crate) async fn record_task(
        &self,
        ctx: &AuthContext,
        kind: &str,
        image_id: Option<&str>,
        input: Value,
        request_id: Option<&str>,
    ) -> Result<Task> {
        let now = self.now();
        let t = Task {
            id: common::ids::uuid(),
            kind: kind.to_string(),
            status: "pending".into(),
            owner: ctx.project_id().map(str::to_string),
            image_id: image_id.map(str::to_string),
            request_id: request_id.map(str::to_string),
            user_id: Some(ctx.user_id.clone()),
            input: Some(input),
            result: None,
            message: String::new(),
            expires_at: None,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.begin().await?;
        crate::db::tasks::purge_expired(tx.conn(), now).await?;
        crate::db::tasks::insert(tx.conn(), &t).await?;
        tx.commit().await?;
        Ok(t)
    }

    pub(crate) async fn task_processing(&self, id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        crate::db::tasks::set_status(tx.conn(), id, "pending", "processing", self.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends task `id`: success with `result`, or failure with `message`.
    /// Errors are logged, not returned: the work the task describes is
    /// done (or not) either way.
    pub(crate) async fn end_task(&self, id: &str, outcome: std::result::Result<Value, String>) {
        let now = self.now();
        let (status, result, message) = match &outcome {
            Ok(r) => ("success", Some(r), ""),
            Err(m) => ("failure", None, m.as_str()),
        };
        let r = async {
            let mut tx = self.begin().await?;
            crate::db::tasks::finish(tx.conn(), id, status, result, message, now, now + TASK_TTL)
                .await?;
            tx.commit().await?;
            Ok::<_, Error>(())
        }
        .await;
        if let Err(e) = r {
            tracing::error!(task = id, error = %e, "could not record the end of a task");
        }
    }

    /// `POST /v2/tasks`: records the task and runs it in the background.
    pub async fn create_task(
        self: &Arc<Self>,
        ctx: &AuthContext,
        body: Value,
        request_id: Option<&str>,
    ) -> Result<Task> {
        self.tasks_access(ctx)?;
        let Value::Object(body) = body else {
            return Err(Error::bad_request("Body expected in request."));
        };
        for key in ["type", "input"] {
            if !body.contains_key(key) {
                return Err(Error::bad_request(format!("Task '{key}' is required")));
            }
        }
        let kind = body.get("type").and_then(Value::as_str).unwrap_or("");
        if kind != "import" {
            return Err(Error::bad_request(format!(
                "Provided object does not match schema 'task': {} is not one of ['import']",
                body.get("type").cloned().unwrap_or(Value::Null)
            )));
        }
        let input = body.get("input").cloned().unwrap_or(Value::Null);
        if !input.is_object() {
            return Err(Error::bad_request(
                "Provided object does not match schema 'task': 'input' is not of type 'object'",
            ));
        }
        let uri = check_import_from(&input)?;
        if input
            .get("image_properties")
            .is_some_and(|p| !p.is_object())
        {
            return Err(Error::bad_request(
                "Provided object does not match schema 'task': 'image_properties' must be an object",
            ));
        }
        let task = self
            .record_task(ctx, "import", None, input.clone(), request_id)
            .await?;
        let (this, ctx2, id) = (self.clone(), ctx.clone(), task.id.clone());
        tokio::spawn(async move {
            if let Err(e) = this.task_processing(&id).await {
                tracing::warn!(task = %id, error = %e, "could not mark a task processing");
            }
            let outcome = this.run_legacy_import(&ctx2, &uri, &input).await;
            if let Err(m) = &outcome {
                tracing::info!(task = %id, message = %m, "import task failed");
            }
            this.end_task(&id, outcome.map(|img| json!({ "image_id": img })))
                .await;
        });
        Ok(task)
    }

    /// The legacy import: the allow-list first (nothing outside it is
    /// contacted), then a new image from `image_properties`, filled from
    /// `uri`; the image is deleted again if that fails.
    async fn run_legacy_import(
        self: &Arc<Self>,
        ctx: &AuthContext,
        uri: &str,
        input: &Value,
    ) -> std::result::Result<String, String> {
        let parsed = self
            .web_download_uri(uri)
            .map_err(|_| format!("URI for legacy import task does not pass filtering: {uri}"))?;
        let props = input
            .get("image_properties")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let img = self
            .create_image(ctx, props)
            .await
            .map_err(|e| format!("Could not create the image: {}", e.public_message()))?;
        let id = img.id.clone();
        let r = match self.begin_web_download(&img).await {
            Ok(upload_id) => self.run_web_download(img, parsed, upload_id).await,
            Err(e) => Err(e.to_string()),
        };
        match r {
            Ok(()) => Ok(id),
            Err(m) => {
                if let Err(e) = self.delete_image(ctx, &id).await {
                    tracing::warn!(image = %id, error = %e, "could not delete the image of a failed import task");
                }
                Err(m)
            }
        }
    }

    pub async fn show_task(&self, ctx: &AuthContext, id: &str) -> Result<Task> {
        self.tasks_access(ctx)?;
        match crate::db::tasks::get(&self.db.pool, id, self.now()).await? {
            Some(t) if self.task_visible(ctx, &t) => Ok(t),
            _ => Err(task_not_found(id)),
        }
    }

    /// `GET /v2/tasks`: the page and the marker of the next. Tasks expire
    /// after [`TASK_TTL`], so the set is small and is paged here.
    pub async fn list_tasks(
        &self,
        ctx: &AuthContext,
        q: &QueryMap,
    ) -> Result<(Vec<Task>, Option<String>)> {
        self.tasks_access(ctx)?;
        let status = q.get("status");
        if let Some(s) = status {
            if !STATUSES.contains(&s) {
                return Err(Error::bad_request(format!("Invalid status value: {s}")));
            }
        }
        let kind = q.get("type");
        if let Some(t) = kind {
            if t != "import" {
                return Err(Error::bad_request(format!("Invalid type value: {t}")));
            }
        }
        let desc = match q.get("sort_dir").unwrap_or("desc") {
            "desc" => true,
            "asc" => false,
            d => return Err(Error::bad_request(format!("Invalid sort direction: {d}"))),
        };
        let sort_key = q.get("sort_key").unwrap_or("created_at");
        if ![
            "created_at",
            "updated_at",
            "id",
            "status",
            "type",
            "expires_at",
        ]
        .contains(&sort_key)
        {
            return Err(Error::bad_request(format!("Invalid sort key: {sort_key}")));
        }
        let limit = match q.get("limit") {
            None => self.settings.list_limit,
            Some(l) => {
                let n: i64 = l
                    .parse()
                    .map_err(|_| Error::bad_request("limit param must be an integer"))?;
                usize::try_from(n)
                    .map_err(|_| Error::bad_request("limit param must be positive"))?
            }
        }
        .min(self.settings.list_limit_max);
        let marker = q.get("marker");
        if let Some(m) = marker {
            if super::schema::check_id(&json!(m)).is_err() {
                return Err(Error::bad_request("Invalid marker format"));
            }
        }
        let owner = if self.is_admin(ctx) {
            None
        } else {
            Some(ctx.project_id().unwrap_or(""))
        };
        let mut all =
            crate::db::tasks::list(&self.db.pool, owner, status, kind, self.now()).await?;
        let key = |t: &Task| -> (String, i64, String) {
            match sort_key {
                "updated_at" => (String::new(), t.updated_at, t.id.clone()),
                "expires_at" => (String::new(), t.expires_at.unwrap_or(0), t.id.clone()),
                "id" => (t.id.clone(), 0, String::new()),
                "status" => (t.status.clone(), t.created_at, t.id.clone()),
                "type" => (t.kind.clone(), t.created_at, t.id.clone()),
                _ => (String::new(), t.created_at, t.id.clone()),
            }
        };
        all.sort_by_key(key);
        if desc {
            all.reverse();
        }
        let start = match marker {
            None => 0,
            Some(m) => all
                .iter()
                .position(|t| t.id == m)
                .map(|p| p + 1)
                .ok_or_else(|| {
                    Error::bad_request(format!("Invalid marker. Task {m} could not be found."))
                })?,
        };
        let page: Vec<Task> = all.into_iter().skip(start).take(limit).collect();
        let next = (limit > 0 && page.len() == limit)
            .then(|| page.last().map(|t| t.id.clone()))
            .flatten();
        Ok((page, next))
    }

    /// `GET /v2/images/{id}/tasks`: the image's tasks the caller may see.
    pub async fn image_tasks(&self, ctx: &AuthContext, image_id: &str) -> Result<Vec<Task>> {
        self.show_image(ctx, image_id).await?;
        Ok(
            crate::db::tasks::of_image(&self.db.pool, image_id, self.now())
                .await?
                .into_iter()
                .filter(|t| self.task_visible(ctx, t))
                .collect(),
        )
    }
}

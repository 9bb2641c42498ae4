//! Containers: `PUT` (201 new, 202 existing), `POST`, `GET` (object
//! listing), `HEAD`, `DELETE` (409 while it holds objects), with their
//! metadata, ACLs, quotas and versioning settings.

use super::auth::Target;
use super::listing::{self, Entry, Params};
use super::meta::{self, Kind};
use super::{acl, versions, Access, ObjectStore, Request, Result, SwiftError};
use crate::db::{accounts, containers, containers::Container, objects::Object, Metadata};

/// Container metadata only the owner sees.
const OWNER_ONLY: [&str; 2] = [
    "x-container-meta-temp-url-key",
    "x-container-meta-temp-url-key-2",
];

/// What a container `PUT` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerPut {
    Created,
    /// It existed; its settings were updated.
    Updated,
}

/// A container as `HEAD` shows it to this caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    pub object_count: i64,
    pub bytes_used: i64,
    /// Microseconds since the epoch.
    pub created_at: i64,
    pub put_timestamp: i64,
    /// As stored, less what this caller may not see.
    pub metadata: Metadata,
    /// Only for the owner.
    pub read_acl: Option<String>,
    pub write_acl: Option<String>,
    pub versions: Option<Versioning>,
}

/// Where a versioned container keeps old versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioning {
    /// The container name, unquoted.
    pub location: String,
    /// `X-History-Location` mode rather than `X-Versions-Location`
    /// (stack).
    pub history: bool,
}

/// The settable state of a container a PUT or POST arrives at.
struct Settable {
    metadata: crate::db::Metadata,
    read_acl: Option<String>,
    write_acl: Option<String>,
    versions_location: Option<String>,
    versions_mode: Option<String>,
}

impl ObjectStore {
    fn authorize_container(
        &self,
        req: &Request,
        method: &str,
        c: Option<&Container>,
    ) -> Result<Access> {
        let acl = match (method, c) {
            ("GET" | "HEAD", Some(c)) => c.read_acl.as_deref(),
            _ => None,
        };
        self.authorize(
            &req.caller,
            Target {
                account: req.account(),
                container: req.path.container.as_deref(),
                object: None,
                method,
                acl,
                referer: req.header("referer"),
            },
        )
    }

    /// Applies the request's headers to `current` (None: a new container).
    fn settable(
        &self,
        req: &Request,
        access: &Access,
        current: Option<&Container>,
    ) -> Result<Settable> {
        let mut s = Settable {
            metadata: current.map(|c| c.metadata.clone()).unwrap_or_default(),
            read_acl: current.and_then(|c| c.read_acl.clone()),
            write_acl: current.and_then(|c| c.write_acl.clone()),
            versions_location: current.and_then(|c| c.versions_location.clone()),
            versions_mode: current.and_then(|c| c.versions_mode.clone()),
        };
        for (h, bad) in [
            ("x-container-meta-quota-bytes", "Invalid bytes quota."),
            ("x-container-meta-quota-count", "Invalid count quota."),
        ] {
            if let Some(v) = req.header(h) {
                if !v.is_empty() && !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(SwiftError::bad_request(bad));
                }
            }
        }
        meta::apply(Kind::Container, &req.headers, &mut s.metadata)?;
        meta::check_totals(Kind::Container, &s.metadata)?;
        // ACLs are the owner's to set; Swift drops them from anyone else.
        if access.owner {
            for (h, remove, slot) in [
                (
                    "x-container-read",
                    "x-remove-container-read",
                    &mut s.read_acl,
                ),
                (
                    "x-container-write",
                    "x-remove-container-write",
                    &mut s.write_acl,
                ),
            ] {
                if req.header(remove).is_some_and(|v| !v.is_empty()) {
                    *slot = None;
                }
                if let Some(v) = req.header(h) {
                    let cleaned = acl::clean(h, v).map_err(SwiftError::bad_request)?;
                    *slot = (!cleaned.is_empty()).then_some(cleaned);
                }
            }
        }
        let versions = req.header("x-versions-location");
        let history = req.header("x-history-location");
        let chosen = match (versions, history) {
            (Some(v), Some(h)) if !v.is_empty() && !h.is_empty() => {
                return Err(SwiftError::bad_request(
                    "Only one of x-versions-location or x-history-location may be specified",
                ));
            }
            (Some(v), _) if !v.is_empty() => Some((v, "stack")),
            (_, Some(h)) if !h.is_empty() => Some((h, "history")),
            (Some(_), _) | (_, Some(_)) => Some(("", "")),
            (None, None) => None,
        };
        let remove = ["x-remove-versions-location", "x-remove-history-location"]
            .iter()
            .any(|h| req.header(h).is_some_and(|v| !v.is_empty()));
        match chosen {
            Some((loc, mode)) if !loc.is_empty() => {
                let loc = crate::names::decode(loc).map_err(SwiftError::from)?;
                if !versions::valid_location(&loc) {
                    return Err(SwiftError::precondition_failed(
                        "Container name cannot contain slashes",
                    ));
                }
                s.versions_location = Some(loc);
                s.versions_mode = Some(mode.to_string());
            }
            Some(_) => {
                s.versions_location = None;
                s.versions_mode = None;
            }
            None if remove => {
                s.versions_location = None;
                s.versions_mode = None;
            }
            None => {}
        }
        Ok(s)
    }

    /// `PUT /v1/{account}/{container}`.
    pub async fn put_container(&self, req: &Request) -> Result<ContainerPut> {
        let name = req.container()?.to_string();
        let access = self.authorize_container(req, "PUT", None)?;
        if let Some(p) = req.header("x-storage-policy") {
            if !p.eq_ignore_ascii_case("Policy-0") {
                return Err(SwiftError::bad_request(format!(
                    "Invalid X-Storage-Policy '{p}'"
                )));
            }
        }
        let now = self.now();
        let current = containers::get(&self.db.pool, req.account(), &name).await?;
        let s = self.settable(req, &access, current.as_ref())?;
        let row = Container {
            account: req.account().to_string(),
            name: name.clone(),
            created_at: now,
            put_timestamp: now,
            metadata: s.metadata,
            read_acl: s.read_acl,
            write_acl: s.write_acl,
            versions_location: s.versions_location,
            versions_mode: s.versions_mode,
            ..Container::default()
        };
        let mut tx = self.db.begin_write().await?;
        accounts::ensure(tx.conn(), req.account(), now).await?;
        let created = containers::insert(tx.conn(), &row).await?;
        if created {
            accounts::add_counts(tx.conn(), req.account(), 1, 0, 0).await?;
        } else {
            containers::update(tx.conn(), &row).await?;
        }
        tx.commit().await?;
        Ok(if created {
            ContainerPut::Created
        } else {
            ContainerPut::Updated
        })
    }

    /// `POST /v1/{account}/{container}`.
    pub async fn post_container(&self, req: &Request) -> Result<()> {
        let name = req.container()?;
        let current = containers::get(&self.db.pool, req.account(), name).await?;
        let access = self.authorize_container(req, "POST", current.as_ref())?;
        let current = current.ok_or_else(|| SwiftError::not_found(""))?;
        let s = self.settable(req, &access, Some(&current))?;
        let row = Container {
            put_timestamp: self.now(),
            metadata: s.metadata,
            read_acl: s.read_acl,
            write_acl: s.write_acl,
            versions_location: s.versions_location,
            versions_mode: s.versions_mode,
            ..current
        };
        let mut tx = self.db.begin_write().await?;
        let found = containers::update(tx.conn(), &row).await?;
        tx.commit().await?;
        if !found {
            return Err(SwiftError::not_found(""));
        }
        Ok(())
    }

    /// `DELETE /v1/{account}/{container}`: 409 while objects remain.
    pub async fn delete_container(&self, req: &Request) -> Result<()> {
        let name = req.container()?;
        let current = containers::get(&self.db.pool, req.account(), name).await?;
        self.authorize_container(req, "DELETE", current.as_ref())?;
        let mut tx = self.db.begin_write().await?;
        if containers::delete_if_empty(tx.conn(), req.account(), name).await? {
            accounts::add_counts(tx.conn(), req.account(), -1, 0, 0).await?;
            tx.commit().await?;
            return Ok(());
        }
        let exists = containers::get(tx.conn(), req.account(), name)
            .await?
            .is_some();
        drop(tx);
        if exists {
            Err(SwiftError::conflict(""))
        } else {
            Err(SwiftError::not_found(""))
        }
    }

    /// `GET`/`HEAD /v1/{account}/{container}` without the listing: the
    /// counts, settings and the metadata this caller may see.
    pub async fn container_info(&self, req: &Request) -> Result<ContainerInfo> {
        let name = req.container()?;
        let method = if req.is_head() { "HEAD" } else { "GET" };
        let current = containers::get(&self.db.pool, req.account(), name).await?;
        let access = self.authorize_container(req, method, current.as_ref())?;
        let c = current.ok_or_else(|| SwiftError::not_found(""))?;
        // Temp URL keys and ACLs are the owner's: others never read them.
        let metadata = c
            .metadata
            .into_iter()
            .filter(|(k, _)| access.owner || !OWNER_ONLY.contains(&k.as_str()))
            .collect();
        let (read_acl, write_acl) = if access.owner {
            (c.read_acl, c.write_acl)
        } else {
            (None, None)
        };
        let versions = c.versions_location.map(|location| Versioning {
            location,
            history: c.versions_mode.as_deref() == Some("history"),
        });
        Ok(ContainerInfo {
            object_count: c.object_count,
            bytes_used: c.bytes_used,
            created_at: c.created_at,
            put_timestamp: c.put_timestamp,
            metadata,
            read_acl,
            write_acl,
            versions,
        })
    }

    /// The objects of a `GET /v1/{account}/{container}` listing, by the
    /// request's `limit`, `marker`, `prefix`, `delimiter`, … (authorized
    /// by [`ObjectStore::container_info`] first).
    pub async fn list_container(&self, req: &Request) -> Result<Vec<Entry<Object>>> {
        let name = req.container()?;
        let params = Params::from_query(&req.query)?;
        let pool = self.db.pool.clone();
        let (account, cname) = (req.account().to_string(), name.to_string());
        let now = self.now_secs();
        listing::list(
            &params,
            |o: &Object| o.name.as_str(),
            |page| {
                let (pool, account, cname) = (pool.clone(), account.clone(), cname.clone());
                async move { crate::db::objects::page(&pool, &account, &cname, &page, now).await }
            },
        )
        .await
    }
}

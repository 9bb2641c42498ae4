//! `os-services`: `nova-compute` on each compute host, `nova-scheduler`
//! and `nova-conductor` on the controller. Their liveness comes from the
//! node registry (the controller's own services are up while it serves);
//! their administrative state (disabled with a reason, forced down) is
//! kept in `compute_services`, and the scheduler skips a compute host
//! whose service is disabled or down. Deleting a service drops its row:
//! one whose node is still registered (or the controller's own) shows
//! again at the next listing, with new ids and enabled, as a Nova
//! service re-creates its record when it starts again. With several API
//! processes on different hosts sharing one PostgreSQL, each lists its
//! own `nova-scheduler`/`nova-conductor` as up and the others' as down
//! (it cannot hear them).

use super::hypervisors::ComputeHost;
use super::Compute;
use crate::db::services::{self as rows, ServiceRow};
use common::context::AuthContext;
use common::{Error, Result};
use serde_json::json;

pub const COMPUTE_BINARY: &str = "nova-compute";
/// The controller's services, on its own host, in the `internal` zone.
pub const CONTROLLER_BINARIES: &[&str] = &["nova-scheduler", "nova-conductor"];

/// A service with its liveness.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceView {
    pub row: ServiceRow,
    /// `up` or `down`.
    pub up: bool,
    /// The zone: the compute host's availability zone, else `internal`.
    pub zone: String,
    /// Nova's `updated_at`: the last heartbeat of its node (the
    /// controller's services report while it serves) or the last change
    /// of its state, whichever is later.
    pub updated_at: i64,
}

/// Filters of `GET /os-services`.
#[derive(Debug, Clone, Default)]
pub struct ServiceFilter {
    pub host: Option<String>,
    pub binary: Option<String>,
}

/// What a `PUT` changes: `None` leaves it.
#[derive(Debug, Clone, Default)]
pub struct ServiceChange {
    pub disabled: Option<bool>,
    pub disabled_reason: Option<Option<String>>,
    pub forced_down: Option<bool>,
}

impl Compute {
    /// Every service, with rows made for those never seen before.
    pub async fn all_services(&self) -> Result<(Vec<ServiceView>, Vec<ComputeHost>)> {
        let hosts = self.compute_hosts().await?;
        let mut rows_now = rows::all(&self.db.pool).await?;
        let mut wanted: Vec<(String, &str)> = CONTROLLER_BINARIES
            .iter()
            .map(|b| (self.local.name.clone(), *b))
            .collect();
        wanted.extend(hosts.iter().map(|h| (h.name.clone(), COMPUTE_BINARY)));
        let missing: Vec<&(String, &str)> = wanted
            .iter()
            .filter(|(h, b)| !rows_now.iter().any(|r| &r.host == h && r.binary == *b))
            .collect();
        if !missing.is_empty() {
            let mut tx = self.begin().await?;
            for (h, b) in missing {
                rows::ensure(tx.conn(), h, b, self.now()).await?;
            }
            tx.commit().await?;
            rows_now = rows::all(&self.db.pool).await?;
        }
        let zones = self.host_zones().await?;
        let now = self.now();
        let views = rows_now
            .into_iter()
            .filter_map(|row| {
                let (up, zone, heard) = if row.binary == COMPUTE_BINARY {
                    let host = hosts.iter().find(|h| h.name == row.host)?;
                    (host.up, self.zone_in(&zones, &host.name), host.heartbeat_at)
                } else {
                    let here = row.host == self.local.name;
                    (here, "internal".to_string(), if here { now } else { 0 })
                };
                let up = up && !row.forced_down;
                let updated_at = row.updated_at.max(heard);
                Some(ServiceView {
                    row,
                    up,
                    zone,
                    updated_at,
                })
            })
            .collect();
        Ok((views, hosts))
    }

    /// `GET /os-services` (admin).
    pub async fn list_services(
        &self,
        ctx: &AuthContext,
        f: &ServiceFilter,
    ) -> Result<Vec<ServiceView>> {
        self.enforce(ctx, "os_compute_api:os-services:list", &json!({}))?;
        let (all, _) = self.all_services().await?;
        Ok(all
            .into_iter()
            .filter(|s| f.host.as_deref().is_none_or(|h| h == s.row.host))
            .filter(|s| f.binary.as_deref().is_none_or(|b| b == s.row.binary))
            .collect())
    }

    /// Every compute host, and whether its `nova-compute` may take new
    /// servers (enabled, up, not forced down). Reads only — a host whose
    /// service has no row yet was never disabled — so the scheduler may
    /// run while its caller holds a write transaction.
    pub async fn enabled_compute_hosts(&self) -> Result<Vec<(ComputeHost, bool)>> {
        let hosts = self.compute_hosts().await?;
        let rows_now = rows::all(&self.db.pool).await?;
        Ok(hosts
            .into_iter()
            .map(|h| {
                let row = rows_now
                    .iter()
                    .find(|r| r.binary == COMPUTE_BINARY && r.host == h.name);
                let ok = h.up && row.is_none_or(|r| !r.disabled && !r.forced_down);
                (h, ok)
            })
            .collect())
    }

    /// Changes one service, found by `find`; the 404 names `what`.
    async fn change_service(
        &self,
        find: impl Fn(&ServiceRow) -> bool,
        what: &str,
        change: &ServiceChange,
    ) -> Result<ServiceView> {
        let (all, _) = self.all_services().await?;
        let Some(mut s) = all.into_iter().find(|s| find(&s.row)) else {
            return Err(Error::not_found(what.to_string()));
        };
        if let Some(d) = change.disabled {
            s.row.disabled = d;
            if !d {
                s.row.disabled_reason = None;
            }
        }
        if let Some(r) = &change.disabled_reason {
            s.row.disabled_reason = r.clone();
        }
        if let Some(f) = change.forced_down {
            s.row.forced_down = f;
        }
        s.row.updated_at = self.now();
        let mut tx = self.begin().await?;
        rows::update(tx.conn(), &s.row).await?;
        tx.commit().await?;
        let (all, _) = self.all_services().await?;
        all.into_iter()
            .find(|v| v.row.id == s.row.id)
            .ok_or_else(|| Error::not_found(what.to_string()))
    }

    /// `PUT /os-services/{id}` (2.53 on, by UUID).
    pub async fn update_service(
        &self,
        ctx: &AuthContext,
        id: &str,
        change: &ServiceChange,
    ) -> Result<ServiceView> {
        self.enforce(ctx, "os_compute_api:os-services:update", &json!({}))?;
        let (all, _) = self.all_services().await?;
        match all.iter().find(|s| s.row.id == id) {
            None => {
                return Err(Error::not_found(format!(
                    "Service {id} could not be found."
                )))
            }
            Some(s) if s.row.binary != COMPUTE_BINARY => {
                return Err(Error::bad_request(format!(
                    "Updating a {} service is not supported. Only nova-compute services can \
                     be updated.",
                    s.row.binary
                )))
            }
            Some(_) => {}
        }
        self.change_service(
            |r| r.id == id,
            &format!("Service {id} could not be found."),
            change,
        )
        .await
    }

    /// `PUT /os-services/{disable,enable,disable-log-reason,force-down}`
    /// (before 2.53, by host and binary).
    pub async fn update_service_by_host(
        &self,
        ctx: &AuthContext,
        host: &str,
        binary: &str,
        change: &ServiceChange,
    ) -> Result<ServiceView> {
        self.enforce(ctx, "os_compute_api:os-services:update", &json!({}))?;
        self.change_service(
            |r| r.host == host && r.binary == binary,
            &format!("Could not find binary {binary} on host {host}."),
            change,
        )
        .await
    }

    /// `DELETE /os-services/{id}` (admin): `id` the UUID from 2.53, the
    /// integer before. A compute service whose host still has servers
    /// stays (409).
    pub async fn delete_service(&self, ctx: &AuthContext, by_uuid: bool, id: &str) -> Result<()> {
        self.enforce(ctx, "os_compute_api:os-services:delete", &json!({}))?;
        let (all, _) = self.all_services().await?;
        let found = all.into_iter().find(|s| {
            if by_uuid {
                s.row.id == id
            } else {
                id.parse::<i64>().is_ok_and(|n| n == s.row.legacy_id)
            }
        });
        let Some(s) = found else {
            return Err(Error::not_found(format!("Service {id} not found.")));
        };
        let mut tx = self.begin().await?;
        if s.row.binary == COMPUTE_BINARY
            && !rows::servers_on(&mut *tx.conn(), &s.row.host)
                .await?
                .is_empty()
        {
            return Err(Error::conflict(
                "Unable to delete compute service that is hosting instances. Migrate or \
                 delete the instances first.",
            ));
        }
        rows::delete(tx.conn(), &s.row.id).await?;
        tx.commit().await?;
        Ok(())
    }
}

//! Host aggregates (nova/compute/api.py `AggregateAPI`): create, rename,
//! zone changes, hosts and metadata, with Nova's rules — unique names,
//! a host in one availability zone only, no zone change under running
//! servers, only empty aggregates deleted — and the zone of each compute
//! host that the scheduler, `os-services` and `os-availability-zone` read.

use super::Compute;
use crate::db::aggregates::{self as rows, AggregateRow};
use common::context::AuthContext;
use common::{Error, Result};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

fn not_found(id: i64) -> Error {
    Error::not_found(format!("Aggregate {id} could not be found."))
}

fn name_exists(name: &str) -> Error {
    Error::conflict(format!("Aggregate {name} already exists."))
}

/// Which of Nova's `InvalidAggregateAction*` messages a refusal takes.
#[derive(Clone, Copy)]
enum Action {
    Add,
    Update,
    UpdateMeta,
    Delete,
}

fn invalid(action: Action, id: i64, reason: &str) -> Error {
    let what = match action {
        Action::Add => "Cannot add host to aggregate",
        Action::Update => "Cannot update aggregate",
        Action::UpdateMeta => "Cannot update metadata of aggregate",
        Action::Delete => "Cannot remove host from aggregate",
    };
    Error::bad_request(format!("{what} {id}. Reason: {reason}."))
}

impl Compute {
    fn aggregates_policy(&self, ctx: &AuthContext, action: &str) -> Result<()> {
        self.enforce(
            ctx,
            &format!("os_compute_api:os-aggregates:{action}"),
            &json!({}),
        )
    }

    pub async fn list_aggregates(&self, ctx: &AuthContext) -> Result<Vec<AggregateRow>> {
        self.aggregates_policy(ctx, "index")?;
        Ok(rows::all(&mut *self.db.pool.acquire().await?).await?)
    }

    pub async fn get_aggregate(&self, ctx: &AuthContext, id: i64) -> Result<AggregateRow> {
        self.aggregates_policy(ctx, "show")?;
        self.aggregate(id).await
    }

    async fn aggregate(&self, id: i64) -> Result<AggregateRow> {
        rows::all(&mut *self.db.pool.acquire().await?)
            .await?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| not_found(id))
    }

    pub async fn create_aggregate(
        &self,
        ctx: &AuthContext,
        name: &str,
        zone: Option<&str>,
    ) -> Result<AggregateRow> {
        self.aggregates_policy(ctx, "create")?;
        let mut tx = self.begin().await?;
        crate::db::quotas::lock(tx.conn(), "compute-aggregates").await?;
        if rows::all(tx.conn()).await?.iter().any(|a| a.name == name) {
            return Err(name_exists(name));
        }
        let id = rows::insert(tx.conn(), &common::ids::uuid(), name, self.now()).await?;
        if let Some(z) = zone {
            rows::set_metadata(tx.conn(), id, "availability_zone", Some(z)).await?;
        }
        tx.commit().await?;
        self.aggregate(id).await
    }

    /// `PUT /os-aggregates/{id}`: a new name and/or zone.
    pub async fn update_aggregate(
        &self,
        ctx: &AuthContext,
        id: i64,
        name: Option<&str>,
        zone: Option<Option<&str>>,
    ) -> Result<AggregateRow> {
        self.aggregates_policy(ctx, "update")?;
        let mut tx = self.begin().await?;
        crate::db::quotas::lock(tx.conn(), "compute-aggregates").await?;
        let all = rows::all(tx.conn()).await?;
        let agg = all
            .iter()
            .find(|a| a.id == id)
            .ok_or_else(|| not_found(id))?;
        if let Some(n) = name {
            if all.iter().any(|a| a.name == n && a.id != id) {
                return Err(name_exists(n));
            }
            rows::rename(tx.conn(), id, n, self.now()).await?;
        }
        if let Some(z) = zone {
            let meta = BTreeMap::from([("availability_zone".to_string(), z.map(str::to_string))]);
            self.check_zone_change(&mut tx, &all, agg, &meta, &agg.hosts, Action::Update, true)
                .await?;
            rows::set_metadata(tx.conn(), id, "availability_zone", z).await?;
        }
        rows::touch(tx.conn(), id, self.now()).await?;
        tx.commit().await?;
        self.aggregate(id).await
    }

    pub async fn delete_aggregate(&self, ctx: &AuthContext, id: i64) -> Result<()> {
        self.aggregates_policy(ctx, "delete")?;
        let mut tx = self.begin().await?;
        crate::db::quotas::lock(tx.conn(), "compute-aggregates").await?;
        let all = rows::all(tx.conn()).await?;
        let agg = all
            .iter()
            .find(|a| a.id == id)
            .ok_or_else(|| not_found(id))?;
        if !agg.hosts.is_empty() {
            return Err(invalid(Action::Delete, id, "Host aggregate is not empty"));
        }
        rows::delete(tx.conn(), id).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn aggregate_add_host(
        &self,
        ctx: &AuthContext,
        id: i64,
        host: &str,
    ) -> Result<AggregateRow> {
        self.aggregates_policy(ctx, "add_host")?;
        if !self.compute_hosts().await?.iter().any(|h| h.name == host) {
            return Err(Error::not_found(format!(
                "Compute host {host} could not be found."
            )));
        }
        let mut tx = self.begin().await?;
        crate::db::quotas::lock(tx.conn(), "compute-aggregates").await?;
        let all = rows::all(tx.conn()).await?;
        let agg = all
            .iter()
            .find(|a| a.id == id)
            .ok_or_else(|| not_found(id))?;
        if agg.hosts.iter().any(|h| h == host) {
            return Err(Error::conflict(format!(
                "Aggregate {id} already has host {host}."
            )));
        }
        if let Some(new_zone) = agg.availability_zone() {
            let meta =
                BTreeMap::from([("availability_zone".to_string(), Some(new_zone.to_string()))]);
            self.check_zone_change(
                &mut tx,
                &all,
                agg,
                &meta,
                &[host.to_string()],
                Action::Add,
                false,
            )
            .await
            .map_err(conflict)?;
            let old_zone = zone_of(&all, host);
            if old_zone.as_deref() != Some(new_zone)
                && crate::db::servers::count_on_host(tx.conn(), host).await? > 0
            {
                return Err(conflict(invalid(
                    Action::Add,
                    id,
                    &format!(
                        "The host cannot be added to the aggregate as the availability zone of \
                         the host would change from '{}' to '{new_zone}' but the host already \
                         has instance(s). Changing the AZ of an existing instance is not \
                         supported by this action. Move the instances away from this host then \
                         try again. If you need to move the instances between AZs then you can \
                         use shelve_offload and unshelve to achieve this.",
                        old_zone.unwrap_or_else(|| "None".into())
                    ),
                )));
            }
        }
        rows::add_host(tx.conn(), id, host).await?;
        tx.commit().await?;
        self.aggregate(id).await
    }

    pub async fn aggregate_remove_host(
        &self,
        ctx: &AuthContext,
        id: i64,
        host: &str,
    ) -> Result<AggregateRow> {
        self.aggregates_policy(ctx, "remove_host")?;
        let gone = || Error::not_found(format!("Cannot remove host {host} in aggregate {id}"));
        let mut tx = self.begin().await?;
        crate::db::quotas::lock(tx.conn(), "compute-aggregates").await?;
        let all = rows::all(tx.conn()).await?;
        let agg = all.iter().find(|a| a.id == id).ok_or_else(gone)?;
        if let Some(zone) = agg.availability_zone() {
            // The host's zone would change under its servers.
            let other = all
                .iter()
                .filter(|a| a.id != id && a.hosts.iter().any(|h| h == host))
                .find_map(|a| a.availability_zone());
            if other != Some(zone) && crate::db::servers::count_on_host(tx.conn(), host).await? > 0
            {
                return Err(Error::conflict(format!(
                    "Cannot remove host from aggregate {id}. Reason: The host cannot be removed \
                     from the aggregate as the availability zone of the host would change from \
                     '{zone}' to '{}' but the host already has instance(s). Changing the AZ of \
                     an existing instance is not supported by this action. Move the instances \
                     away from this host then try again. If you need to move the instances \
                     between AZs then you can use shelve_offload and unshelve to achieve this..",
                    other.unwrap_or(&self.settings.default_availability_zone)
                )));
            }
        }
        if !rows::remove_host(tx.conn(), id, host).await? {
            return Err(gone());
        }
        tx.commit().await?;
        self.aggregate(id).await
    }

    /// `set_metadata`: keys with a null value are removed, others set.
    pub async fn aggregate_set_metadata(
        &self,
        ctx: &AuthContext,
        id: i64,
        metadata: &BTreeMap<String, Option<String>>,
    ) -> Result<AggregateRow> {
        self.aggregates_policy(ctx, "set_metadata")?;
        let mut tx = self.begin().await?;
        crate::db::quotas::lock(tx.conn(), "compute-aggregates").await?;
        let all = rows::all(tx.conn()).await?;
        let agg = all
            .iter()
            .find(|a| a.id == id)
            .ok_or_else(|| not_found(id))?;
        self.check_zone_change(
            &mut tx,
            &all,
            agg,
            metadata,
            &agg.hosts,
            Action::UpdateMeta,
            true,
        )
        .await?;
        for (k, v) in metadata {
            rows::set_metadata(tx.conn(), id, k, v.as_deref()).await?;
        }
        rows::touch(tx.conn(), id, self.now()).await?;
        tx.commit().await?;
        self.aggregate(id).await
    }

    /// Nova's `is_safe_to_update_az`: a zone is never empty, a host is in
    /// one zone only, and (when `no_servers`) a zone does not change under
    /// servers running in it.
    #[allow(clippy::too_many_arguments)]
    async fn check_zone_change(
        &self,
        tx: &mut ::db::WriteTx,
        all: &[AggregateRow],
        agg: &AggregateRow,
        metadata: &BTreeMap<String, Option<String>>,
        hosts: &[String],
        action: Action,
        no_servers: bool,
    ) -> Result<()> {
        let Some(new) = metadata.get("availability_zone") else {
            return Ok(());
        };
        let Some(new) = new.as_deref().filter(|z| !z.is_empty()) else {
            return Err(invalid(
                action,
                agg.id,
                &format!(
                    "Aggregate {} does not support empty named availability zone",
                    agg.name
                ),
            ));
        };
        let conflicting: Vec<String> = all
            .iter()
            .filter(|a| a.id != agg.id && a.hosts.iter().any(|h| hosts.contains(h)))
            .filter_map(|a| a.availability_zone())
            .filter(|z| *z != new)
            .map(|z| format!("'{z}'"))
            .collect();
        if !conflicting.is_empty() {
            return Err(invalid(
                action,
                agg.id,
                &format!(
                    "One or more hosts already in availability zone(s) [{}]",
                    conflicting.join(", ")
                ),
            ));
        }
        if no_servers && agg.availability_zone() != Some(new) {
            for h in hosts {
                if crate::db::servers::count_on_host(tx.conn(), h).await? > 0 {
                    return Err(invalid(
                        action,
                        agg.id,
                        "One or more hosts contain instances in this zone",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Each compute host's availability zone: its aggregates' zone, else
    /// `default_availability_zone`.
    pub async fn host_zones(&self) -> Result<HashMap<String, String>> {
        let all = rows::all(&mut *self.db.pool.acquire().await?).await?;
        let mut out = HashMap::new();
        for a in &all {
            if let Some(z) = a.availability_zone() {
                for h in &a.hosts {
                    out.entry(h.clone()).or_insert_with(|| z.to_string());
                }
            }
        }
        Ok(out)
    }

    /// The zone of `host`, as [`Compute::host_zones`] gives it.
    pub fn zone_in(&self, zones: &HashMap<String, String>, host: &str) -> String {
        zones
            .get(host)
            .cloned()
            .unwrap_or_else(|| self.settings.default_availability_zone.clone())
    }
}

/// The zone an aggregate gives `host`, if any.
fn zone_of(all: &[AggregateRow], host: &str) -> Option<String> {
    all.iter()
        .filter(|a| a.hosts.iter().any(|h| h == host))
        .find_map(|a| a.availability_zone().map(str::to_string))
}

/// Adding a host answers Nova's refusals with 409.
fn conflict(e: Error) -> Error {
    if e.status().as_u16() == 400 {
        Error::conflict(e.message().to_string())
    } else {
        e
    }
}

/// An aggregate as Nova shows it; `uuid` from 2.41, no hosts or metadata
/// in a create's answer.
pub fn view(a: &AggregateRow, with_uuid: bool, full: bool) -> Value {
    let mut v = json!({
        "id": a.id,
        "name": a.name,
        "availability_zone": a.availability_zone(),
        "created_at": common::clock::iso_micros_naive(a.created_at),
        "updated_at": a.updated_at.map(common::clock::iso_micros_naive),
        "deleted": false,
        "deleted_at": null,
    });
    if full {
        v["hosts"] = json!(a.hosts);
        v["metadata"] = json!(a.metadata);
    }
    if with_uuid {
        v["uuid"] = json!(a.uuid);
    }
    v
}

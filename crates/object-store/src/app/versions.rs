//! Legacy versioned writes (Swift's `versioned_writes` middleware).
//!
//! A container with `X-Versions-Location: <archive>` (stack mode) or
//! `X-History-Location: <archive>` (history mode) keeps every overwritten
//! object in the archive container as `<len><name>/<timestamp>` (`len` the
//! name's length in bytes, three hex digits; `timestamp` the old
//! version's). On DELETE, stack mode restores the newest archived version
//! in place of the object (deleting it from the archive); history mode
//! archives the current version, writes a zero-byte delete marker and
//! deletes the object. A missing archive container is 412.

use super::{Access, ObjectStore, Request, Result, SwiftError};
use crate::db::{containers::Container, objects::Object, Page};
use crate::http::timestamp_normal;
use std::sync::Arc;

/// Content type of history-mode delete markers.
pub const DELETE_MARKER_CONTENT_TYPE: &str = "application/x-deleted;swift_versions_deleted=1";

/// `<len><name>/`: the archive prefix of an object's versions.
pub fn versions_prefix(name: &str) -> String {
    format!("{:03x}{name}/", name.len())
}

impl ObjectStore {
    /// The archive container of `c`, which must exist (else 412), after
    /// checking the caller may write to `c` itself.
    async fn archive_of(&self, c: &Container) -> Result<Option<Container>> {
        let Some(loc) = &c.versions_location else {
            return Ok(None);
        };
        match crate::db::containers::get(&self.db.pool, &c.account, loc).await? {
            Some(a) => Ok(Some(a)),
            None => Err(SwiftError::precondition_failed("")),
        }
    }

    /// Before an object in a versioned container is overwritten: copies
    /// the current version into the archive.
    pub async fn archive_current(
        &self,
        req: &Request,
        c: &Container,
        name: &str,
        access: &Access,
    ) -> Result<()> {
        let _ = req;
        if c.versions_location.is_none() {
            return Ok(());
        }
        // Nothing to keep: no need for the archive to exist either.
        let Some(current) = self.live_object(&c.account, &c.name, name).await? else {
            return Ok(());
        };
        let Some(archive) = self.archive_of(c).await? else {
            return Ok(());
        };
        let vname = format!(
            "{}{}",
            versions_prefix(name),
            timestamp_normal(current.created_at)
        );
        self.copy_row(&current, &archive.name, &vname, access.reseller)
            .await
            .map_err(|e| match e.status().as_u16() {
                400..=499 => SwiftError::precondition_failed(""),
                _ => SwiftError::unavailable(""),
            })?;
        Ok(())
    }

    /// The archived versions of `name`, newest first.
    async fn versions_newest_first(&self, archive: &Container, name: &str) -> Result<Vec<Object>> {
        let prefix = versions_prefix(name);
        let mut end = prefix.clone().into_bytes();
        if let Some(last) = end.last_mut() {
            *last += 1;
        }
        let page = Page {
            marker: Some(prefix.into_bytes()),
            marker_inclusive: true,
            end: Some(end),
            reverse: true,
            limit: 1000,
        };
        Ok(crate::db::objects::page(
            &self.db.pool,
            &archive.account,
            &archive.name,
            &page,
            self.now_secs(),
        )
        .await?)
    }

    /// DELETE of an object in a versioned container.
    pub async fn delete_versioned(
        self: &Arc<Self>,
        req: &Request,
        c: &Container,
        name: &str,
        access: &Access,
    ) -> Result<()> {
        let Some(archive) = self.archive_of(c).await? else {
            return Err(SwiftError::not_found(""));
        };
        // Like Swift, the archive is written on the service's own
        // authority: the caller was authorised for the versioned container.
        if c.versions_mode.as_deref() == Some("history") {
            self.archive_current(req, c, name, access).await?;
            let marker = Object {
                account: c.account.clone(),
                container: archive.name.clone(),
                name: format!("{}{}", versions_prefix(name), timestamp_normal(self.now())),
                content_type: DELETE_MARKER_CONTENT_TYPE.into(),
                etag: crate::store::md5_hex(b""),
                created_at: self.now(),
                ..Object::default()
            };
            let installed = self.data.write_all(bytes::Bytes::new()).await?;
            let marker = Object {
                file_id: installed.file_id.clone(),
                ..marker
            };
            self.commit(&marker, installed, access.reseller, false)
                .await?;
            return match self.remove_object(&c.account, &c.name, name, None).await? {
                Some(_) => Ok(()),
                None => Err(SwiftError::not_found("")),
            };
        }
        // Stack mode: pop the newest version back in place.
        let versions = self.versions_newest_first(&archive, name).await?;
        let current = self.live_object(&c.account, &c.name, name).await?;
        let mut iter = versions.into_iter();
        if let Some(v) = iter.next() {
            if v.content_type != DELETE_MARKER_CONTENT_TYPE {
                self.copy_row(&v, &c.name, name, access.reseller).await?;
                self.remove_object(&c.account, &archive.name, &v.name, Some(&v.file_id))
                    .await?;
                return Ok(());
            }
            if current.is_none() {
                // The marker is current: restore the version before it
                // (unless that is a marker too), then drop the marker.
                if let Some(prev) = iter
                    .next()
                    .filter(|p| p.content_type != DELETE_MARKER_CONTENT_TYPE)
                {
                    self.copy_row(&prev, &c.name, name, access.reseller).await?;
                    self.remove_object(&c.account, &archive.name, &prev.name, Some(&prev.file_id))
                        .await?;
                }
                self.remove_object(&c.account, &archive.name, &v.name, Some(&v.file_id))
                    .await?;
                return Ok(());
            }
            // Data on top of a marker: the delete goes back to the
            // marker state, i.e. just removes the current object.
        }
        match self.remove_object(&c.account, &c.name, name, None).await? {
            Some(_) => Ok(()),
            None => Err(SwiftError::not_found("")),
        }
    }
}

/// Whether `name` is a valid archive location (`check_container_format`).
pub fn valid_location(v: &str) -> bool {
    !v.is_empty() && !v.contains('/') && v.len() <= crate::names::MAX_CONTAINER_NAME_LENGTH
}

#[cfg(test)]
mod tests {
    #[test]
    fn archive_names() {
        assert_eq!(super::versions_prefix("myobject"), "008myobject/");
        assert_eq!(super::versions_prefix("☃"), "003☃/");
    }
}

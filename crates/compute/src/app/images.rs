//! Nova's images proxy (`/images`, `/images/{id}/metadata`): the image
//! service's images seen through Nova's eyes, as
//! nova/api/openstack/compute/images.py, image_metadata.py and
//! nova/image/glance.py make them — Nova's filters translated to Glance
//! v2's, Nova's image view (status folded to ACTIVE/SAVING/DELETED/ERROR/
//! UNKNOWN, the additional properties as `metadata`, `server` for a
//! snapshot), and metadata written back with the properties purged to
//! exactly the new set. The image service is called with the caller's own
//! context, so Glance's visibility and policy decide as they would for
//! Nova's glanceclient.

use super::Compute;
use common::clock::iso_seconds;
use common::context::AuthContext;
use common::http::QueryMap;
use common::{Error, ErrorKind, Result};
use image::app::patch::{Change, Op};
use image::db::images::Image;
use serde_json::{json, Map, Value};

/// Nova's query parameters and the Glance v2 filters they become
/// (`SUPPORTED_FILTERS` then `_extract_query_params_v2`).
const FILTERS: &[(&str, &str)] = &[
    ("name", "name"),
    ("status", "status"),
    ("server", "instance_uuid"),
    ("type", "image_type"),
    ("minRam", "min_ram"),
    ("minDisk", "min_disk"),
];

/// Nova's `[api] max_limit`: a page holds at most this many images.
pub const MAX_LIMIT: usize = 1000;

fn image_not_found() -> Error {
    Error::not_found("Image not found.")
}

/// Glance's answer as Nova's `_translate_image_exception` turns it into
/// its own: any 404 is "Image not found.", the rest keep their kind.
fn image_error(e: Error) -> Error {
    match e.kind() {
        ErrorKind::NotFound => image_not_found(),
        _ => super::proxies::nova_error(e),
    }
}

/// A positive integer query parameter (Nova's `positive_integer` query
/// schema for `limit` and `page_size`).
fn positive(q: &QueryMap, key: &str) -> Result<Option<usize>> {
    let Some(v) = q.get(key) else {
        return Ok(None);
    };
    match v.trim().parse::<i64>() {
        Ok(n) if n >= 1 => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
        _ => Err(Error::bad_request(format!(
            "Invalid input for query parameters {key}. Value: {v}. '{v}' does not match \
             '^[0-9]*$'"
        ))),
    }
}

/// The Glance v2 query of Nova's list request `q`; `limit` is what was
/// asked for (None: every image).
pub fn glance_query(q: &QueryMap) -> Result<(QueryMap, Option<usize>)> {
    let mut out = Vec::new();
    for (k, v) in &q.0 {
        if let Some((_, to)) = FILTERS.iter().find(|(from, _)| from == k) {
            let v = match *to {
                // A server's link names it too: its last path segment.
                "instance_uuid" => v.rsplit('/').next().unwrap_or(v).to_string(),
                // Glance's statuses are lower case.
                "status" => v.to_ascii_lowercase(),
                _ => v.clone(),
            };
            out.push((to.to_string(), v));
        } else if k == "changes-since" {
            out.push(("updated_at".into(), format!("gte:{v}")));
        } else if let Some(prop) = k.strip_prefix("property-") {
            out.push((prop.to_string(), v.clone()));
        }
    }
    let limit = positive(q, "limit")?;
    positive(q, "page_size")?;
    if let Some(m) = q.get("marker") {
        out.push(("marker".into(), m.to_string()));
    }
    Ok((QueryMap(out), limit))
}

/// Nova's `_get_status`.
pub fn nova_status(glance: &str) -> &'static str {
    match glance {
        "active" => "ACTIVE",
        "queued" | "saving" => "SAVING",
        "deleted" | "pending_delete" => "DELETED",
        "killed" => "ERROR",
        _ => "UNKNOWN",
    }
}

/// Nova's `_get_progress`.
fn progress(glance: &str) -> i64 {
    match glance {
        "queued" => 25,
        "saving" => 50,
        "active" => 100,
        _ => 0,
    }
}

/// An image's `self`, `bookmark` and `alternate` (the image service's
/// own URL) links.
pub fn links(base: &str, glance: &str, id: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{base}/v2.1/images/{id}")},
        {"rel": "bookmark", "href": format!("{base}/images/{id}")},
        {
            "rel": "alternate",
            "type": "application/vnd.openstack.image",
            "href": format!("{glance}/images/{id}"),
        },
    ])
}

/// The index entry (`ViewBuilder.basic`).
pub fn basic_view(img: &Image, base: &str, glance: &str) -> Value {
    json!({"id": img.id, "name": img.name, "links": links(base, glance, &img.id)})
}

/// The full view (`ViewBuilder.show`).
pub fn detail_view(img: &Image, base: &str, glance: &str) -> Value {
    let mut v = json!({
        "id": img.id,
        "name": img.name,
        "minRam": img.min_ram,
        "minDisk": img.min_disk,
        "metadata": img.properties,
        "created": iso_seconds(img.created_at),
        "updated": iso_seconds(img.updated_at),
        "status": nova_status(&img.status),
        "progress": progress(&img.status),
        // Glance v2's `size` is null until data is uploaded; Nova's
        // `_extract_attributes_v2` makes that 0.
        "OS-EXT-IMG-SIZE:size": img.size.unwrap_or(0),
        "links": links(base, glance, &img.id),
    });
    if let Some(server) = img.properties.get("instance_uuid").and_then(Value::as_str) {
        v["server"] = json!({
            "id": server,
            "links": crate::app::servers_view::links(base, server),
        });
    }
    if let Some(adc) = img
        .properties
        .get("auto_disk_config")
        .and_then(Value::as_str)
    {
        let on = common::http::query::parse_bool(adc).unwrap_or(false);
        v["OS-DCF:diskConfig"] = json!(if on { "AUTO" } else { "MANUAL" });
    }
    v
}

/// Nova's metadata key rule (`parameter_types.metadata`'s pattern).
fn check_keys(m: &Map<String, Value>) -> Result<()> {
    for k in m.keys() {
        let ok = k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_:. ".contains(c));
        if !ok {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute metadata. Value: {}. Additional properties \
                 are not allowed ('{k}' was unexpected)",
                Value::Object(m.clone())
            )));
        }
    }
    Ok(())
}

/// `{"metadata": {...}}` (create and update-all bodies).
pub fn parse_metadata_body(body: &Value) -> Result<Map<String, Value>> {
    let Some(o) = body.as_object() else {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute body. Value: {body}. {body} is not of type 'object'"
        )));
    };
    if let Some(k) = o.keys().find(|k| *k != "metadata") {
        return Err(Error::bad_request(format!(
            "Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let Some(m) = o.get("metadata") else {
        return Err(Error::bad_request("'metadata' is a required property"));
    };
    let m = super::servers::check_metadata(Some(m))?;
    check_keys(&m)?;
    Ok(m)
}

/// `{"meta": {key: value}}` with exactly one entry, which must be `key`.
pub fn parse_meta_item(body: &Value, key: &str) -> Result<(String, Value)> {
    let Some(o) = body.as_object() else {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute body. Value: {body}. {body} is not of type 'object'"
        )));
    };
    if let Some(k) = o.keys().find(|k| *k != "meta") {
        return Err(Error::bad_request(format!(
            "Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let Some(meta) = o.get("meta") else {
        return Err(Error::bad_request("'meta' is a required property"));
    };
    let m = super::servers::check_metadata(Some(meta))?;
    check_keys(&m)?;
    match m.len() {
        0 => {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute meta. Value: {meta}. {meta} does not have \
                 enough properties"
            )))
        }
        1 => {}
        _ => {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute meta. Value: {meta}. {meta} has too many \
                 properties"
            )))
        }
    }
    match m.get(key) {
        Some(v) => Ok((key.to_string(), v.clone())),
        None => Err(Error::bad_request("Request body and URI mismatch")),
    }
}

impl Compute {
    /// The image service's URL as Nova's `generate_glance_url` finds it:
    /// the catalog's internal endpoint (keystoneauth's default
    /// interface order for Nova's `[glance]` client).
    pub fn glance_url(&self) -> String {
        self.glance_url.trim_end_matches('/').to_string()
    }

    /// `GET /images[/detail]`: the images the caller sees, filtered and
    /// paged as asked; with no `limit`, every one (glanceclient pages
    /// through them all for Nova).
    pub async fn proxy_list_images(&self, ctx: &AuthContext, q: &QueryMap) -> Result<Vec<Image>> {
        let (mut gq, limit) = glance_query(q)?;
        let mut out: Vec<Image> = Vec::new();
        loop {
            let want = limit.map_or(MAX_LIMIT, |l| (l - out.len()).min(MAX_LIMIT));
            let mut page_q = gq.clone();
            page_q.0.push(("limit".into(), want.to_string()));
            let (page, next) = self
                .image
                .list_images(ctx, &page_q)
                .await
                .map_err(super::proxies::nova_error)?;
            out.extend(page);
            let done = limit.is_some_and(|l| out.len() >= l);
            match next {
                Some(m) if !done => {
                    gq.0.retain(|(k, _)| k != "marker");
                    gq.0.push(("marker".into(), m));
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// `GET /images/{id}` (and the image the metadata calls work on).
    pub async fn proxy_show_image(&self, ctx: &AuthContext, id: &str) -> Result<Image> {
        self.image.show_image(ctx, id).await.map_err(image_error)
    }

    /// `DELETE /images/{id}`.
    pub async fn proxy_delete_image(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        self.image
            .delete_image(ctx, id)
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => image_not_found(),
                ErrorKind::Forbidden => {
                    Error::forbidden("You are not allowed to delete the image.")
                }
                _ => super::proxies::nova_error(e),
            })
    }

    /// Nova's `check_img_metadata_properties_quota`: the project's
    /// `metadata_items` limit bounds an image's properties too.
    async fn check_image_metadata_quota(
        &self,
        ctx: &AuthContext,
        props: &Map<String, Value>,
    ) -> Result<()> {
        if props.is_empty() {
            return Ok(());
        }
        let project = self.project_of(ctx)?;
        let (limits, _) = self.absolute_limits(project).await?;
        let limit = limits.get("metadata_items").copied().unwrap_or(-1);
        if limit >= 0 && props.len() as i64 > limit {
            return Err(Error::forbidden("Image metadata limit exceeded"));
        }
        Ok(())
    }

    /// The image's additional properties made exactly `props` (Nova's
    /// `update(..., purge_props=True)`); the properties as stored.
    async fn write_image_metadata(
        &self,
        ctx: &AuthContext,
        img: &Image,
        props: &Map<String, Value>,
    ) -> Result<Map<String, Value>> {
        self.check_image_metadata_quota(ctx, props).await?;
        let mut changes: Vec<Change> = img
            .properties
            .keys()
            .filter(|k| !props.contains_key(*k))
            .map(|k| Change {
                op: Op::Remove,
                attr: k.clone(),
                value: None,
            })
            .collect();
        for (k, v) in props {
            if img.properties.get(k) != Some(v) {
                changes.push(Change {
                    op: Op::Add,
                    attr: k.clone(),
                    value: Some(v.clone()),
                });
            }
        }
        let updated = self
            .image
            .update_image(ctx, &img.id, changes)
            .await
            .map_err(image_error)?;
        Ok(updated.properties)
    }

    /// `GET /images/{id}/metadata`.
    pub async fn image_metadata(&self, ctx: &AuthContext, id: &str) -> Result<Map<String, Value>> {
        Ok(self.proxy_show_image(ctx, id).await?.properties)
    }

    /// `GET /images/{id}/metadata/{key}`.
    pub async fn image_metadata_item(
        &self,
        ctx: &AuthContext,
        id: &str,
        key: &str,
    ) -> Result<Value> {
        let img = self.proxy_show_image(ctx, id).await?;
        img.properties
            .get(key)
            .cloned()
            .ok_or_else(|| Error::not_found("The resource could not be found."))
    }

    /// `POST /images/{id}/metadata`: `new` merged into the properties.
    pub async fn merge_image_metadata(
        &self,
        ctx: &AuthContext,
        id: &str,
        new: Map<String, Value>,
    ) -> Result<Map<String, Value>> {
        let img = self.proxy_show_image(ctx, id).await?;
        let mut props = img.properties.clone();
        props.extend(new);
        self.write_image_metadata(ctx, &img, &props).await
    }

    /// `PUT /images/{id}/metadata`: the properties replaced by `new`.
    pub async fn replace_image_metadata(
        &self,
        ctx: &AuthContext,
        id: &str,
        new: Map<String, Value>,
    ) -> Result<()> {
        let img = self.proxy_show_image(ctx, id).await?;
        self.write_image_metadata(ctx, &img, &new).await?;
        Ok(())
    }

    /// `PUT /images/{id}/metadata/{key}`.
    pub async fn set_image_metadata_item(
        &self,
        ctx: &AuthContext,
        id: &str,
        key: String,
        value: Value,
    ) -> Result<()> {
        let img = self.proxy_show_image(ctx, id).await?;
        let mut props = img.properties.clone();
        props.insert(key, value);
        self.write_image_metadata(ctx, &img, &props).await?;
        Ok(())
    }

    /// `DELETE /images/{id}/metadata/{key}`.
    pub async fn delete_image_metadata_item(
        &self,
        ctx: &AuthContext,
        id: &str,
        key: &str,
    ) -> Result<()> {
        let img = self.proxy_show_image(ctx, id).await?;
        let mut props = img.properties.clone();
        if props.remove(key).is_none() {
            return Err(Error::not_found("Invalid metadata key"));
        }
        self.write_image_metadata(ctx, &img, &props).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn nova_filters_become_glance_ones() {
        let q = QueryMap::parse(
            "server=http://h/v2.1/servers/abc&type=snapshot&status=ACTIVE&changes-since=2026-01-01T00:00:00Z&property-os_distro=x&minRam=5&limit=2&marker=m&bogus=1",
        );
        let (g, limit) = glance_query(&q).unwrap();
        assert_eq!(limit, Some(2));
        assert_eq!(g.get("instance_uuid"), Some("abc"));
        assert_eq!(g.get("image_type"), Some("snapshot"));
        assert_eq!(g.get("status"), Some("active"));
        assert_eq!(g.get("updated_at"), Some("gte:2026-01-01T00:00:00Z"));
        assert_eq!(g.get("os_distro"), Some("x"));
        assert_eq!(g.get("min_ram"), Some("5"));
        assert_eq!(g.get("marker"), Some("m"));
        assert!(!g.has("bogus") && !g.has("limit"));
    }

    #[test]
    fn a_limit_must_be_positive() {
        for bad in ["0", "-1", "x"] {
            let q = QueryMap(vec![("limit".into(), bad.into())]);
            assert_eq!(glance_query(&q).unwrap_err().kind(), ErrorKind::BadRequest);
        }
    }

    #[test]
    fn statuses_fold_as_nova_folds_them() {
        assert_eq!(nova_status("queued"), "SAVING");
        assert_eq!(nova_status("importing"), "UNKNOWN");
        assert_eq!(nova_status("killed"), "ERROR");
        assert_eq!(progress("saving"), 50);
    }

    #[test]
    fn a_meta_item_must_name_its_key() {
        let ok = parse_meta_item(&json!({"meta": {"a": "1"}}), "a").unwrap();
        assert_eq!(ok, ("a".to_string(), json!("1")));
        for bad in [
            json!({"meta": {"b": "1"}}),
            json!({"meta": {}}),
            json!({"meta": {"a": "1", "b": "2"}}),
            json!({"meta": {"a": 1}}),
            json!({"metadata": {"a": "1"}}),
        ] {
            assert!(parse_meta_item(&bad, "a").is_err(), "{bad}");
        }
    }
}

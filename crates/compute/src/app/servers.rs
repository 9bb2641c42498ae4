//! Servers: create (validation, quota, the rows), show/list/update/delete,
//! and the seams to flavors, key pairs, the scheduler and quotas that the
//! other compute modules fill in. The build itself is
//! `servers_build`; the views (one per microversion) `servers_view`.

use super::Compute;
use crate::api::Microversion;
use crate::db::servers::{self as rows, ActionRow, EventRow, InstanceRow};
use base64::Engine;
use common::context::{AuthContext, RoleRef, Scope};
use common::http::QueryMap;
use common::{Error, Result};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// What a server is built from (Nova's flavor object).
#[derive(Debug, Clone, PartialEq)]
pub struct FlavorSpec {
    pub id: String,
    pub name: String,
    pub vcpus: i64,
    pub memory_mb: i64,
    pub root_gb: i64,
    pub ephemeral_gb: i64,
    pub swap: i64,
    pub extra_specs: Map<String, Value>,
}

impl FlavorSpec {
    /// The copy kept in the server's row (`instance_extra.flavor`).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "name": self.name, "vcpus": self.vcpus, "ram": self.memory_mb,
            "disk": self.root_gb, "ephemeral": self.ephemeral_gb, "swap": self.swap,
            "extra_specs": self.extra_specs,
        })
    }
}

/// One network request of a create (`networks: [...]`), resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum NetRequest {
    /// A new port on the network, with an optional fixed address.
    Network {
        network_id: String,
        fixed_ip: Option<String>,
    },
    /// A port the user made.
    Port { port_id: String },
}

/// Nova's vm_state → API status (`nova.api.openstack.common._STATE_MAP`).
pub fn status_of(vm_state: &str, task_state: Option<&str>) -> &'static str {
    match (vm_state, task_state) {
        ("active", Some("rebooting")) => "REBOOT",
        ("active", Some("reboot_pending")) => "REBOOT",
        ("active", Some("reboot_started")) => "REBOOT",
        ("active", Some("rebooting_hard")) => "HARD_REBOOT",
        ("active", Some("reboot_pending_hard")) => "HARD_REBOOT",
        ("active", Some("reboot_started_hard")) => "HARD_REBOOT",
        ("active" | "stopped" | "error", Some("rebuilding"))
        | ("active" | "stopped" | "error", Some("rebuild_block_device_mapping"))
        | ("active" | "stopped" | "error", Some("rebuild_spawning")) => "REBUILD",
        ("active" | "stopped", Some("resize_prep"))
        | ("active" | "stopped", Some("resize_migrating"))
        | ("active" | "stopped", Some("resize_migrated"))
        | ("active" | "stopped", Some("resize_finish")) => "RESIZE",
        ("resized", Some("resize_reverting")) => "REVERT_RESIZE",
        ("resized", _) => "VERIFY_RESIZE",
        ("rescued", _) => "RESCUE",
        ("active", _) => "ACTIVE",
        ("building", _) => "BUILD",
        ("stopped", _) => "SHUTOFF",
        ("paused", _) => "PAUSED",
        ("suspended", _) => "SUSPENDED",
        ("error", _) => "ERROR",
        ("deleted", _) => "DELETED",
        ("soft-delete", _) => "SOFT_DELETED",
        ("shelved", _) => "SHELVED",
        ("shelved_offloaded", _) => "SHELVED_OFFLOADED",
        _ => "UNKNOWN",
    }
}

/// The API status → vm_states it covers (the `status` list filter).
fn vm_states_of_status(status: &str) -> Option<&'static [&'static str]> {
    Some(match status.to_ascii_uppercase().as_str() {
        "ACTIVE" | "REBOOT" | "HARD_REBOOT" => &["active"],
        "BUILD" => &["building"],
        "SHUTOFF" => &["stopped"],
        "PAUSED" => &["paused"],
        "SUSPENDED" => &["suspended"],
        "ERROR" => &["error"],
        "DELETED" => &["deleted"],
        "SOFT_DELETED" => &["soft-delete"],
        "SHELVED" => &["shelved"],
        "SHELVED_OFFLOADED" => &["shelved_offloaded"],
        "VERIFY_RESIZE" | "REVERT_RESIZE" => &["resized"],
        "RESCUE" => &["rescued"],
        _ => return None,
    })
}

/// The context the build and delete act on ports with: the server's
/// project, with the admin role — Nova binds ports (`binding:host_id`)
/// with its own admin credentials, and a restarted build has no caller.
pub fn service_context(project_id: &str, user_id: &str) -> AuthContext {
    let role = |n: &str| RoleRef {
        id: n.to_string(),
        name: n.to_string(),
    };
    AuthContext {
        user_id: user_id.to_string(),
        user_name: "nova".into(),
        user_domain_id: "default".into(),
        user_domain_name: "Default".into(),
        scope: Scope::Project {
            id: project_id.to_string(),
            name: String::new(),
            domain_id: "default".into(),
            domain_name: "Default".into(),
        },
        roles: vec![role("admin"), role("member"), role("reader")],
        methods: vec![],
        audit_ids: vec![],
        issued_at: 0,
        expires_at: i64::MAX,
        application_credential_id: None,
        trust_id: None,
        oauth_access_token_id: None,
        access_rules: None,
        is_admin_project: true,
    }
}

/// Nova's `InstanceNotFound`.
pub fn not_found(id: &str) -> Error {
    Error::not_found(format!("Instance {id} could not be found."))
}

fn bad(msg: impl Into<String>) -> Error {
    Error::bad_request(msg)
}

/// Nova's hostname from a display name (`utils.sanitize_hostname`).
pub fn sanitize_hostname(name: &str, id: &str) -> String {
    let mut out = String::new();
    for c in name.to_ascii_lowercase().chars() {
        match c {
            'a'..='z' | '0'..='9' | '-' | '.' => out.push(c),
            ' ' | '_' => out.push('-'),
            _ => {}
        }
    }
    let trimmed: String = out
        .trim_matches(|c| c == '-' || c == '.')
        .chars()
        .take(63)
        .collect();
    let trimmed = trimmed.trim_end_matches(['-', '.']).to_string();
    if trimmed.is_empty() {
        format!("server-{id}")
    } else {
        trimmed
    }
}

fn uuid_like(s: &str) -> bool {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
}

/// A JSON-schema style check of a string field's length.
fn check_len(field: &str, v: &str, min: usize, max: usize) -> Result<()> {
    let n = v.chars().count();
    if n < min {
        return Err(bad(format!(
            "Invalid input for field/attribute {field}. Value: {v}. '{v}' is too short"
        )));
    }
    if n > max {
        return Err(bad(format!(
            "Invalid input for field/attribute {field}. Value: {v}. '{v}' is too long"
        )));
    }
    Ok(())
}

/// Nova's `parameter_types.name`: 1–255 characters, no leading or
/// trailing whitespace.
pub fn check_name(field: &str, v: &Value) -> Result<String> {
    let s = v.as_str().ok_or_else(|| {
        bad(format!(
            "Invalid input for field/attribute {field}. Value: {v}. {v} is not of type 'string'"
        ))
    })?;
    check_len(field, s, 1, 255)?;
    if s.trim() != s {
        return Err(bad(format!(
            "Invalid input for field/attribute {field}. Value: {s}. Leading/trailing \
             whitespace is not allowed"
        )));
    }
    Ok(s.to_string())
}

pub(crate) fn opt_string(field: &str, v: Option<&Value>, max: usize) -> Result<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            check_len(field, s, 0, max)?;
            Ok(Some(s.clone()))
        }
        Some(other) => Err(bad(format!(
            "Invalid input for field/attribute {field}. Value: {other}. {other} is not of type \
             'string'"
        ))),
    }
}

pub(crate) fn check_ip(field: &str, v: Option<&Value>, v6: bool) -> Result<Option<String>> {
    let Some(s) = opt_string(field, v, 255)? else {
        return Ok(None);
    };
    // Kept in canonical form, as Nova's IPAddress column type stores
    // `str(netaddr.IPAddress(value))` (`0:0::babe` reads back `::babe`).
    let canonical = if v6 {
        s.parse::<std::net::Ipv6Addr>().ok().map(|a| a.to_string())
    } else {
        s.parse::<std::net::Ipv4Addr>().ok().map(|a| a.to_string())
    };
    match canonical {
        Some(c) => Ok(Some(c)),
        None => Err(bad(format!(
            "Invalid input for field/attribute {field}. Value: {s}. '{s}' is not a '{}'",
            if v6 { "ipv6" } else { "ipv4" }
        ))),
    }
}

/// `metadata`: string keys of 1–255 and values of 0–255 characters.
pub fn check_metadata(v: Option<&Value>) -> Result<Map<String, Value>> {
    let m = match v {
        None => return Ok(Map::new()),
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(bad(format!(
                "Invalid input for field/attribute metadata. Value: {other}. {other} is not of \
                 type 'object'"
            )))
        }
    };
    for (k, val) in m {
        check_len("metadata", k, 1, 255)?;
        let Some(s) = val.as_str() else {
            return Err(bad(format!(
                "Invalid input for field/attribute {k}. Value: {val}. {val} is not of type \
                 'string'"
            )));
        };
        check_len(k, s, 0, 255)?;
    }
    Ok(m.clone())
}

fn count_field(field: &str, v: Option<&Value>) -> Result<i64> {
    let n = match v {
        None => return Ok(1),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse::<i64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n >= 1 => Ok(n),
        _ => Err(bad(format!(
            "Invalid input for field/attribute {field}. Value: {}. {} is less than the minimum \
             of 1 or is not an integer",
            v.map(Value::to_string).unwrap_or_default(),
            v.map(Value::to_string).unwrap_or_default(),
        ))),
    }
}

fn boolish(field: &str, v: Option<&Value>) -> Result<Option<bool>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => common::http::query::parse_bool(s).map(Some).ok_or_else(|| {
            bad(format!(
                "Invalid input for field/attribute {field}. Value: {s}."
            ))
        }),
        Some(other) => Err(bad(format!(
            "Invalid input for field/attribute {field}. Value: {other}. {other} is not of type \
             'boolean'"
        ))),
    }
}

/// The create request, checked.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub name: String,
    pub image_id: String,
    pub flavor_id: String,
    pub networks: Option<Value>,
    pub key_name: Option<String>,
    pub user_data: Option<String>,
    pub metadata: Map<String, Value>,
    pub security_groups: Vec<String>,
    pub config_drive: bool,
    pub availability_zone: Option<String>,
    pub min_count: i64,
    pub max_count: i64,
    pub return_reservation_id: bool,
    pub hostname: Option<String>,
    pub tags: Vec<String>,
    pub access_ip_v4: Option<String>,
    pub access_ip_v6: Option<String>,
    pub admin_pass: Option<String>,
    pub description: Option<String>,
    /// The server group the `group` scheduler hint names.
    pub group: Option<String>,
    /// `OS-DCF:diskConfig`: `Some(true)` for AUTO; `None` takes the image's.
    pub auto_disk_config: Option<bool>,
}

/// The keys `server` may hold at `mv` (Nova's `base_create` and its
/// per-version variants; unknown keys are a 400).
fn create_keys(mv: Microversion) -> Vec<&'static str> {
    let mut k = vec![
        "name",
        "imageRef",
        "flavorRef",
        "adminPass",
        "metadata",
        "networks",
        "OS-DCF:diskConfig",
        "accessIPv4",
        "accessIPv6",
        "personality",
        "key_name",
        "user_data",
        "security_groups",
        "config_drive",
        "availability_zone",
        "min_count",
        "max_count",
        "return_reservation_id",
        "block_device_mapping",
        "block_device_mapping_v2",
    ];
    if mv.at_least(19) {
        k.push("description");
    }
    if mv.at_least(52) {
        k.push("tags");
    }
    if mv.at_least(63) {
        k.push("trusted_image_certificates");
    }
    if mv.at_least(74) {
        k.extend(["host", "hypervisor_hostname"]);
    }
    if mv.at_least(90) {
        k.push("hostname");
    }
    if mv.at_least(57) {
        k.retain(|x| *x != "personality");
    }
    k
}

/// Whether `block_device_mapping_v2` only restates the image boot: one entry
/// `source_type: image, destination_type: local, boot_index: 0` of `imageRef`,
/// which python-openstackclient ≥ 6 sends with every `server create --image`
/// and Nova treats as the plain image boot (no volume involved).
fn is_local_image_bdm(bdm: &Value, image_id: &str) -> bool {
    const KEYS: [&str; 5] = [
        "uuid",
        "boot_index",
        "source_type",
        "destination_type",
        "delete_on_termination",
    ];
    let Some([Value::Object(m)]) = bdm.as_array().map(Vec::as_slice) else {
        return false;
    };
    let boot_index_zero = match m.get("boot_index") {
        Some(Value::Number(n)) => n.as_i64() == Some(0),
        Some(Value::String(s)) => s == "0",
        _ => false,
    };
    m.keys().all(|k| KEYS.contains(&k.as_str()))
        && boot_index_zero
        && m.get("source_type").and_then(Value::as_str) == Some("image")
        && m.get("destination_type").and_then(Value::as_str) == Some("local")
        && m.get("uuid").and_then(Value::as_str) == Some(image_id)
        && m.get("delete_on_termination")
            .is_none_or(|v| v.is_boolean())
}

/// Checks `POST /servers`' body as Nova's schema does.
pub fn parse_create(body: &Value, mv: Microversion) -> Result<CreateRequest> {
    let Some(s) = body.get("server").and_then(Value::as_object) else {
        return Err(bad(
            "Invalid input for field/attribute server. 'server' is a required property",
        ));
    };
    let keys = create_keys(mv);
    for k in s.keys() {
        if !keys.contains(&k.as_str()) {
            return Err(bad(format!(
                "Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
    }
    let required = |k: &str| -> Result<&Value> {
        s.get(k).ok_or_else(|| {
            bad(format!(
                "Invalid input for field/attribute server. '{k}' is a required property"
            ))
        })
    };
    let name = check_name("name", required("name")?)?;
    let image_id = match required("imageRef")? {
        Value::String(v) if !v.is_empty() => v.clone(),
        other => {
            return Err(bad(format!(
                "Invalid input for field/attribute imageRef. Value: {other}. {other} is not a \
                 valid image id"
            )))
        }
    };
    // A link (`http://…/images/<id>`) names the image by its last segment.
    let image_id = image_id
        .rsplit('/')
        .next()
        .unwrap_or(image_id.as_str())
        .to_string();
    if s.contains_key("block_device_mapping")
        || s.get("block_device_mapping_v2")
            .is_some_and(|b| !is_local_image_bdm(b, &image_id))
    {
        return Err(bad(
            "Block device mappings are not supported: no volume service is available",
        ));
    }
    let flavor_id = match required("flavorRef")? {
        Value::String(v) if !v.is_empty() => v.rsplit('/').next().unwrap_or(v).to_string(),
        Value::Number(n) => n.to_string(),
        other => {
            return Err(bad(format!(
                "Invalid input for field/attribute flavorRef. Value: {other}. {other} is not \
                 valid"
            )))
        }
    };
    let networks = s.get("networks").cloned();
    if mv.at_least(37) && networks.is_none() {
        return Err(bad(
            "Invalid input for field/attribute server. 'networks' is a required property",
        ));
    }
    if let Some(n) = &networks {
        check_networks(n, mv)?;
    }
    let key_name = opt_string("key_name", s.get("key_name"), 255)?;
    let user_data = opt_string("user_data", s.get("user_data"), 65535)?;
    if let Some(u) = &user_data {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(u.trim())
            .map_err(|_| bad("User data needs to be valid base 64."))?;
        if decoded.len() > 65535 {
            return Err(bad("User data too large. User data must be no larger than 65535 bytes once base64 decoded."));
        }
    }
    let metadata = check_metadata(s.get("metadata"))?;
    let mut security_groups = Vec::new();
    match s.get("security_groups") {
        None => {}
        Some(Value::Array(items)) => {
            for g in items {
                let n = g.get("name").and_then(Value::as_str).ok_or_else(|| {
                    bad("Invalid input for field/attribute security_groups. 'name' is required")
                })?;
                check_len("name", n, 1, 255)?;
                if !security_groups.iter().any(|x| x == n) {
                    security_groups.push(n.to_string());
                }
            }
        }
        Some(other) => {
            return Err(bad(format!(
                "Invalid input for field/attribute security_groups. Value: {other}. {other} is \
                 not of type 'array'"
            )))
        }
    }
    let config_drive = boolish("config_drive", s.get("config_drive"))?.unwrap_or(false);
    let availability_zone = opt_string("availability_zone", s.get("availability_zone"), 255)?;
    let min_count = count_field("min_count", s.get("min_count"))?;
    let max_count = match s.get("max_count") {
        None => min_count,
        v => count_field("max_count", v)?,
    };
    if min_count > max_count {
        return Err(bad("min_count must be <= max_count"));
    }
    let return_reservation_id =
        boolish("return_reservation_id", s.get("return_reservation_id"))?.unwrap_or(false);
    let hostname = match s.get("hostname") {
        None => None,
        Some(v) => {
            let h = check_hostname(v, mv)?;
            if max_count > 1 {
                return Err(bad(
                    "Cannot specify hostname when creating multiple instances",
                ));
            }
            Some(h)
        }
    };
    let mut tags = Vec::new();
    if let Some(t) = s.get("tags") {
        let items = t
            .as_array()
            .ok_or_else(|| bad("Invalid input for field/attribute tags."))?;
        if items.len() > 50 {
            return Err(bad(
                "Invalid input for field/attribute tags. The number of tags exceeds 50",
            ));
        }
        for tag in items {
            let tag = tag
                .as_str()
                .filter(|x| !x.is_empty() && x.chars().count() <= 60 && !x.contains(['/', ',']))
                .ok_or_else(|| {
                    bad(format!(
                        "Invalid input for field/attribute tags. Value: {tag}."
                    ))
                })?;
            if !tags.iter().any(|x| x == tag) {
                tags.push(tag.to_string());
            }
        }
    }
    let access_ip_v4 = check_ip("accessIPv4", s.get("accessIPv4"), false)?;
    let access_ip_v6 = check_ip("accessIPv6", s.get("accessIPv6"), true)?;
    let admin_pass = opt_string("adminPass", s.get("adminPass"), 255)?;
    let description = opt_string("description", s.get("description"), 255)?;
    let auto_disk_config = parse_disk_config(s.get("OS-DCF:diskConfig"))?;
    if let Some(p) = s.get("personality") {
        if !p.as_array().is_some_and(Vec::is_empty) {
            return Err(bad("Personality files are not supported"));
        }
    }
    if s.get("trusted_image_certificates")
        .is_some_and(|v| !v.is_null())
    {
        return Err(bad(
            "Image signature certificate validation is not supported on this cloud",
        ));
    }
    Ok(CreateRequest {
        name,
        image_id,
        flavor_id,
        networks,
        key_name,
        user_data,
        metadata,
        security_groups,
        config_drive,
        availability_zone,
        min_count,
        max_count,
        return_reservation_id,
        hostname,
        tags,
        access_ip_v4,
        access_ip_v6,
        admin_pass,
        description,
        group: super::server_groups::group_hint(body)?,
        auto_disk_config,
    })
}

/// `OS-DCF:diskConfig` (`AUTO` or `MANUAL`) as Nova's `auto_disk_config`.
pub(crate) fn parse_disk_config(v: Option<&Value>) -> Result<Option<bool>> {
    match v {
        None => Ok(None),
        Some(d) => match d.as_str() {
            Some("AUTO") => Ok(Some(true)),
            Some("MANUAL") => Ok(Some(false)),
            _ => Err(bad(format!(
                "Invalid input for field/attribute OS-DCF:diskConfig. Value: {d}. {d} is not \
                 one of ['AUTO', 'MANUAL']"
            ))),
        },
    }
}

/// The image's `auto_disk_config` property as Nova reads it: `disabled`
/// forbids AUTO; otherwise it is the default (true/false as
/// `oslo_utils.strutils.bool_from_string`, absent meaning false).
/// `Err` when AUTO is asked of an image that disables it.
pub(crate) fn auto_disk_config_for(
    image_id: &str,
    props: &Map<String, Value>,
    asked: Option<bool>,
) -> Result<bool> {
    let prop = props
        .get("auto_disk_config")
        .and_then(Value::as_str)
        .map(|v| v.trim().to_ascii_lowercase());
    if prop.as_deref() == Some("disabled") {
        if asked == Some(true) {
            return Err(bad(format!(
                "Requested image {image_id} has automatic disk resize disabled."
            )));
        }
        return Ok(false);
    }
    let image_default = matches!(
        prop.as_deref(),
        Some("1" | "t" | "true" | "on" | "y" | "yes")
    );
    Ok(asked.unwrap_or(image_default))
}

/// 2.90's `hostname`: `^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,61}[a-zA-Z0-9])?$`;
/// from 2.94 Nova's `fqdn` (1–255 of `[a-zA-Z0-9-._]`), so a fully
/// qualified name is kept whole.
pub(crate) fn check_hostname(v: &Value, mv: Microversion) -> Result<String> {
    if mv.at_least(94) {
        let Some(h) = v.as_str() else {
            return Err(bad(format!(
                "Invalid input for field/attribute hostname. Value: {v}. {v} is not of type \
                 'string'"
            )));
        };
        check_len("hostname", h, 1, 255)?;
        if !h
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(bad(format!(
                "Invalid input for field/attribute hostname. Value: {h}. '{h}' does not match \
                 '^[a-zA-Z0-9-._]*$'"
            )));
        }
        return Ok(h.to_string());
    }
    let h = v.as_str().unwrap_or("");
    let ok = !h.is_empty()
        && h.len() <= 63
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !h.starts_with(['-', '.'])
        && !h.ends_with(['-', '.']);
    if !ok {
        return Err(bad(format!(
            "Invalid input for field/attribute hostname. Value: {v}. {v} does not match \
             '^[a-zA-Z0-9]([a-zA-Z0-9.-]{{0,61}}[a-zA-Z0-9])?$'"
        )));
    }
    Ok(h.to_string())
}

/// `networks`: `auto`, `none` (≥2.37) or a list of `{uuid|port, fixed_ip}`.
fn check_networks(n: &Value, mv: Microversion) -> Result<()> {
    match n {
        Value::String(s) if mv.at_least(37) && (s == "auto" || s == "none") => Ok(()),
        Value::Array(items) => {
            for item in items {
                let Some(o) = item.as_object() else {
                    return Err(bad(format!(
                        "Invalid input for field/attribute networks. Value: {item}."
                    )));
                };
                for k in o.keys() {
                    let known = matches!(k.as_str(), "uuid" | "port" | "fixed_ip")
                        || (k == "tag" && mv.at_least(32));
                    if !known {
                        return Err(bad(format!(
                            "Additional properties are not allowed ('{k}' was unexpected)"
                        )));
                    }
                }
                if let Some(u) = o.get("uuid") {
                    if !u.as_str().is_some_and(uuid_like) {
                        return Err(bad(format!(
                            "Bad networks format: network uuid is not in proper format ({u})"
                        )));
                    }
                }
                if let Some(p) = o.get("port").filter(|p| !p.is_null()) {
                    if !p.as_str().is_some_and(uuid_like) {
                        return Err(bad(format!(
                            "Invalid input for field/attribute port. Value: {p}. {p} is not a \
                             'uuid'"
                        )));
                    }
                }
                if let Some(ip) = o.get("fixed_ip") {
                    let parsed = ip.as_str().map(str::parse::<std::net::IpAddr>);
                    if !matches!(parsed, Some(Ok(_))) {
                        return Err(bad(format!("Invalid fixed IP address ({ip})")));
                    }
                }
                let has_port = o.get("port").is_some_and(|p| !p.is_null());
                if !has_port && !o.contains_key("uuid") {
                    return Err(bad(
                        "Bad network format: missing 'uuid' or 'port' in network",
                    ));
                }
            }
            Ok(())
        }
        other => Err(bad(format!(
            "Invalid input for field/attribute networks. Value: {other}. {other} is not valid \
             under any of the given schemas"
        ))),
    }
}

/// A server id and what the create answered.
#[derive(Debug, Clone)]
pub struct Created {
    pub first: InstanceRow,
    pub admin_pass: String,
    pub reservation_id: String,
    pub return_reservation_id: bool,
}

pub(crate) fn random_password() -> String {
    const CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    common::ids::random_bytes(12)
        .into_iter()
        .map(|b| CHARS[usize::from(b) % CHARS.len()] as char)
        .collect()
}

impl Compute {
    /// The flavor a server is created with, if the caller may see it and
    /// it is enabled; a 400 otherwise, as Nova's create answers.
    pub async fn flavor_spec(&self, ctx: &AuthContext, id: &str) -> Result<FlavorSpec> {
        let f = self
            .get_flavor_for(ctx, id)
            .await
            .map_err(|_| bad(format!("Flavor {id} could not be found.")))?;
        if f.disabled {
            return Err(bad(format!("Flavor {id} could not be found.")));
        }
        Ok(FlavorSpec {
            id: f.flavorid,
            name: f.name,
            vcpus: f.vcpus,
            memory_mb: f.memory_mb,
            root_gb: f.root_gb,
            ephemeral_gb: f.ephemeral_gb,
            swap: f.swap,
            extra_specs: f
                .extra_specs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        })
    }

    /// The caller's key pair's public key, or Nova's 400.
    pub async fn keypair_public_key(&self, ctx: &AuthContext, name: &str) -> Result<String> {
        self.get_keypair_for(ctx, name)
            .await
            .map(|k| k.public_key)
            .map_err(|_| bad("Invalid key_name provided."))
    }

    /// The host the scheduler places a server on; `None` when no host
    /// fits ("No valid host", which the server shows as its fault).
    pub async fn pick_host(
        &self,
        flavor: &FlavorSpec,
        az: &str,
        image_properties: &Map<String, Value>,
    ) -> Result<Option<String>> {
        self.pick_host_in(flavor, az, image_properties, None).await
    }

    /// [`Self::pick_host`] bound by a server group's constraint.
    pub async fn pick_host_in(
        &self,
        flavor: &FlavorSpec,
        az: &str,
        image_properties: &Map<String, Value>,
        group: Option<(super::scheduler::GroupPolicy, Vec<String>)>,
    ) -> Result<Option<String>> {
        let prop = |k: &str| {
            image_properties
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let req = super::scheduler::HostRequest {
            vcpus: flavor.vcpus,
            memory_mb: flavor.memory_mb,
            disk_gb: flavor.root_gb + flavor.ephemeral_gb + (flavor.swap + 1023) / 1024,
            availability_zone: Some(az.to_string()),
            force_host: None,
            image_arch: prop("hw_architecture"),
            image_hv_type: prop("img_hv_type"),
            group,
        };
        match self.select_host(&req).await {
            Ok(h) => Ok(Some(h)),
            Err(e) if super::scheduler::is_no_valid_host(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// How many of `min..=max` servers the quotas allow (the most that
    /// fit), or Nova's 403 for `min`; run inside the insert transaction
    /// (`check_instances` takes the project's lock there).
    pub async fn check_instance_quota(
        &self,
        tx: &mut ::db::WriteTx,
        project: &str,
        user: &str,
        flavor: &FlavorSpec,
        min: i64,
        max: i64,
    ) -> Result<i64> {
        let mut k = max;
        while k > min {
            if self
                .check_instances(tx, project, user, k, k * flavor.vcpus, k * flavor.memory_mb)
                .await
                .is_ok()
            {
                return Ok(k);
            }
            k -= 1;
        }
        self.check_instances(
            tx,
            project,
            user,
            min,
            min * flavor.vcpus,
            min * flavor.memory_mb,
        )
        .await?;
        Ok(min)
    }

    /// The networks `auto` chooses from: the project's own and shared
    /// ones, external networks excepted.
    async fn usable_networks(
        &self,
        ctx: &AuthContext,
        project: &str,
    ) -> Result<Vec<network::app::networks::NetworkView>> {
        let (found, _) = self
            .network
            .list_networks(ctx, &QueryMap::parse(""))
            .await?;
        Ok(found
            .into_iter()
            .filter(|n| !n.row.router_external && (n.row.project_id == project || n.row.shared))
            .collect())
    }

    /// The network requests of a create, resolved and checked against what
    /// the caller may use.
    async fn resolve_networks(
        &self,
        ctx: &AuthContext,
        project: &str,
        networks: Option<&Value>,
    ) -> Result<Vec<NetRequest>> {
        match networks {
            Some(Value::String(s)) if s == "none" => Ok(vec![]),
            Some(Value::String(_)) => {
                let usable = self.usable_networks(ctx, project).await?;
                match usable.as_slice() {
                    [one] => Ok(vec![NetRequest::Network {
                        network_id: one.row.id.clone(),
                        fixed_ip: None,
                    }]),
                    [] => Err(bad(
                        "Unable to automatically allocate a network for project: no network \
                         is available to it",
                    )),
                    _ => Err(Error::conflict(
                        "Multiple possible networks found, use a Network ID to be more specific.",
                    )),
                }
            }
            None => {
                let usable = self.usable_networks(ctx, project).await?;
                match usable.as_slice() {
                    [] => Ok(vec![]),
                    [one] => Ok(vec![NetRequest::Network {
                        network_id: one.row.id.clone(),
                        fixed_ip: None,
                    }]),
                    _ => Err(Error::conflict(
                        "Multiple possible networks found, use a Network ID to be more specific.",
                    )),
                }
            }
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for item in items {
                    if let Some(port) = item.get("port").and_then(Value::as_str) {
                        let p = self
                            .network
                            .show_port(ctx, port)
                            .await
                            .map_err(|_| bad(format!("Port {port} could not be found.")))?;
                        if !p.row.device_id.is_empty() {
                            return Err(Error::conflict(format!("Port {port} is still in use.")));
                        }
                        if out
                            .iter()
                            .any(|r| matches!(r, NetRequest::Port { port_id } if port_id == port))
                        {
                            return Err(bad(format!("Port {port} is requested twice")));
                        }
                        out.push(NetRequest::Port {
                            port_id: port.to_string(),
                        });
                        continue;
                    }
                    let id = item.get("uuid").and_then(Value::as_str).unwrap_or("");
                    self.network
                        .visible_network(ctx, id)
                        .await
                        .map_err(|_| bad(format!("Network {id} could not be found.")))?;
                    out.push(NetRequest::Network {
                        network_id: id.to_string(),
                        fixed_ip: item
                            .get("fixed_ip")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    });
                }
                Ok(out)
            }
            Some(_) => Err(bad("Bad networks format")),
        }
    }

    /// Security group names → ids in the caller's project.
    async fn resolve_security_groups(
        &self,
        ctx: &AuthContext,
        names: &[String],
    ) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for name in names {
            let q = QueryMap(vec![("name".into(), name.clone())]);
            let (found, _) = self.network.list_groups(ctx, &q).await?;
            let project = ctx.project_id().unwrap_or("");
            let g = found
                .iter()
                .find(|g| g.row.project_id == project)
                .or_else(|| found.first())
                .ok_or_else(|| bad(format!("Security group {name} not found.")))?;
            ids.push(g.row.id.clone());
        }
        Ok(ids)
    }

    /// `POST /servers`: checks, inserts the rows (quota-counted in the same
    /// transaction), and starts each server's build in the background.
    pub async fn create_servers(
        self: &Arc<Self>,
        ctx: &AuthContext,
        req: CreateRequest,
        request_id: &str,
    ) -> Result<Created> {
        let project = self.project_of(ctx)?.to_string();
        self.enforce(
            ctx,
            "os_compute_api:servers:create",
            &json!({"project_id": project, "user_id": ctx.user_id}),
        )?;
        // No zone asked for: any host will do ("" filters nothing), and
        // the server takes its host's zone below.
        let zones = self.host_zones().await?;
        let az = match &req.availability_zone {
            None => String::new(),
            Some(z) if z.is_empty() => String::new(),
            Some(z)
                if *z == self.settings.default_availability_zone
                    || zones.values().any(|hz| hz == z) =>
            {
                z.clone()
            }
            Some(z) => {
                return Err(bad(format!(
                    "The requested availability zone is not available ({z})"
                )))
            }
        };
        let flavor = self.flavor_spec(ctx, &req.flavor_id).await?;
        let image = self
            .image
            .show_image(ctx, &req.image_id)
            .await
            .map_err(|_| bad("Can not find requested image"))?;
        if image.status != "active" {
            return Err(bad(format!("Image {} is not active.", image.id)));
        }
        let min_disk_gb = image.min_disk;
        if flavor.root_gb > 0 && min_disk_gb > flavor.root_gb {
            return Err(bad("Flavor's disk is too small for requested image."));
        }
        if image.min_ram > flavor.memory_mb {
            return Err(bad("Flavor's memory is too small for requested image."));
        }
        if let Some(size) = image.size {
            if flavor.root_gb > 0 && size > flavor.root_gb << 30 {
                return Err(bad("Flavor's disk is too small for requested image."));
            }
        }
        let quota_meta = self.settings.quota_metadata_items;
        if quota_meta >= 0 && req.metadata.len() as i64 > quota_meta {
            return Err(Error::over_quota(format!(
                "Quota exceeded for metadata_items: Requested {}, but already used 0 of \
                 {quota_meta} metadata_items",
                req.metadata.len()
            )));
        }
        let key_data = match &req.key_name {
            Some(k) => Some(self.keypair_public_key(ctx, k).await?),
            None => None,
        };
        let nets = self
            .resolve_networks(ctx, &project, req.networks.as_ref())
            .await?;
        if req.max_count > 1 && nets.iter().any(|n| matches!(n, NetRequest::Port { .. })) {
            return Err(bad(
                "Unable to launch multiple instances with a single configured port ID. Please \
                 launch your instance one by one with different ports.",
            ));
        }
        let sg_ids = self
            .resolve_security_groups(ctx, &req.security_groups)
            .await?;
        let image_properties: Map<String, Value> = image
            .properties
            .iter()
            .filter(|(_, v)| v.is_string())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let auto_disk_config =
            auto_disk_config_for(&image.id, &image_properties, req.auto_disk_config)?;
        let group = match &req.group {
            Some(id) => Some(self.hinted_group(id).await?),
            None => None,
        };
        let constraint = match &group {
            Some(g) => self.group_constraint(g, &[], &[]).await?,
            None => None,
        };
        let host = self
            .pick_host_in(&flavor, &az, &image_properties, constraint)
            .await?;
        let az = match (&host, az.is_empty()) {
            (Some(h), true) => self.zone_in(&zones, h),
            (None, true) => self.settings.default_availability_zone.clone(),
            (_, false) => az,
        };
        let reservation_id = format!(
            "r-{}",
            common::ids::hex_id().chars().take(8).collect::<String>()
        );
        let admin_pass = req.admin_pass.clone().unwrap_or_else(random_password);
        let now = self.now();

        let mut tx = self.begin().await?;
        // Serializes concurrent creates (a row lock on PostgreSQL) so the
        // count below sees every committed server.
        tx.bump("compute_instances").await?;
        let count = self
            .check_instance_quota(
                &mut tx,
                &project,
                &ctx.user_id,
                &flavor,
                req.min_count,
                req.max_count,
            )
            .await?;
        let mut made = Vec::new();
        for i in 0..count {
            let id = common::ids::uuid();
            let (name, hostname) = if count > 1 {
                let name = format!("{}-{}", req.name, i + 1);
                let h = sanitize_hostname(&name, &id);
                (name, h)
            } else {
                let h = req
                    .hostname
                    .clone()
                    .unwrap_or_else(|| sanitize_hostname(&req.name, &id));
                (req.name.clone(), h)
            };
            let row = InstanceRow {
                id: id.clone(),
                name,
                display_description: req.description.clone(),
                project_id: project.clone(),
                user_id: ctx.user_id.clone(),
                hostname,
                host: None,
                availability_zone: Some(az.clone()),
                pinned_availability_zone: req.availability_zone.clone().filter(|z| !z.is_empty()),
                flavor_id: flavor.id.clone(),
                flavor: flavor.to_json(),
                vcpus: flavor.vcpus,
                memory_mb: flavor.memory_mb,
                root_gb: flavor.root_gb,
                ephemeral_gb: flavor.ephemeral_gb,
                image_ref: image.id.clone(),
                vm_state: "building".into(),
                task_state: Some("scheduling".into()),
                power_state: 0,
                key_name: req.key_name.clone(),
                key_data: key_data.clone(),
                user_data: req.user_data.clone(),
                config_drive: if req.config_drive { "True" } else { "" }.into(),
                access_ip_v4: req.access_ip_v4.clone(),
                access_ip_v6: req.access_ip_v6.clone(),
                metadata: Value::Object(req.metadata.clone()),
                tags: req.tags.clone(),
                security_groups: if req.security_groups.is_empty() {
                    vec!["default".into()]
                } else {
                    req.security_groups.clone()
                },
                locked: false,
                locked_by: None,
                locked_reason: None,
                reservation_id: reservation_id.clone(),
                launch_index: i,
                fault: None,
                network_info: vec![],
                image_properties: Value::Object(image_properties.clone()),
                auto_disk_config,
                launched_at: None,
                terminated_at: None,
                created_at: now,
                updated_at: now,
                deleted_at: None,
            };
            rows::insert(tx.conn(), &row).await?;
            let action = ActionRow {
                id: common::ids::uuid(),
                instance_id: id.clone(),
                action: "create".into(),
                request_id: request_id.to_string(),
                user_id: ctx.user_id.clone(),
                project_id: project.clone(),
                message: None,
                start_time: now,
                updated_at: now,
            };
            rows::insert_action(tx.conn(), &action).await?;
            made.push((row, action.id));
        }
        if let Some(g) = &group {
            let ids: Vec<String> = made.iter().map(|(r, _)| r.id.clone()).collect();
            self.add_group_members(&mut tx, g, &ctx.user_id, &ids)
                .await?;
        }
        tx.commit().await.map_err(Error::from)?;

        // One host for all, unless a group's policy places each member
        // in view of those placed before it.
        let mut hosts = vec![host];
        if let Some(g) = &group {
            for _ in 1..made.len() {
                let placed: Vec<String> = hosts.iter().flatten().cloned().collect();
                let batch: Vec<String> = made.iter().map(|(r, _)| r.id.clone()).collect();
                let constraint = self.group_constraint(g, &placed, &batch).await?;
                hosts.push(
                    self.pick_host_in(&flavor, &az, &image_properties, constraint)
                        .await?,
                );
            }
        }
        for (i, (row, action_id)) in made.iter().enumerate() {
            match hosts.get(i).unwrap_or(&hosts[0]) {
                Some(host) => {
                    let params = super::servers_build::BuildParams {
                        instance_id: row.id.clone(),
                        project_id: project.clone(),
                        user_id: ctx.user_id.clone(),
                        host: host.clone(),
                        az: az.clone(),
                        action_id: action_id.clone(),
                        networks: nets.clone(),
                        security_group_ids: sg_ids.clone(),
                    };
                    let me = self.clone();
                    tokio::spawn(async move { me.build(params).await });
                }
                None => {
                    // Nova's conductor: a server no host can take is
                    // ERROR with the scheduler's answer as its fault.
                    let fault = self.fault(500, super::scheduler::NO_VALID_HOST);
                    rows::set_error(&self.db.pool, &row.id, &fault, self.now()).await?;
                }
            }
        }
        let first = made
            .into_iter()
            .next()
            .map(|(r, _)| r)
            .ok_or_else(|| Error::internal("no server was created"))?;
        Ok(Created {
            first,
            admin_pass,
            reservation_id,
            return_reservation_id: req.return_reservation_id,
        })
    }

    /// A server the caller may see (policy `rule`), else Nova's 404.
    pub async fn visible_server(
        &self,
        ctx: &AuthContext,
        id: &str,
        rule: &str,
    ) -> Result<InstanceRow> {
        let row = rows::get(&self.db.pool, id)
            .await?
            .filter(|r| r.deleted_at.is_none())
            .ok_or_else(|| not_found(id))?;
        let target = json!({"project_id": row.project_id, "user_id": row.user_id});
        if !self.is_admin(ctx) && ctx.project_id() != Some(row.project_id.as_str()) {
            return Err(not_found(id));
        }
        self.enforce(ctx, rule, &target)?;
        Ok(row)
    }

    /// `GET /servers[/detail]`: the servers the caller may list, filtered
    /// and paged; the marker of the next page.
    pub async fn list_servers(
        &self,
        ctx: &AuthContext,
        mv: Microversion,
        q: &QueryMap,
        detail: bool,
    ) -> Result<(Vec<InstanceRow>, Option<String>)> {
        let project = self.project_of(ctx)?.to_string();
        let rule = if detail {
            "os_compute_api:servers:detail"
        } else {
            "os_compute_api:servers:index"
        };
        self.enforce(ctx, rule, &json!({"project_id": project}))?;
        let admin = self.is_admin(ctx);
        let all_tenants = match q.get("all_tenants") {
            None => false,
            Some(v) => v.is_empty() || common::http::query::parse_bool(v).unwrap_or(true),
        };
        let all_rule = format!("{rule}:get_all_tenants");
        let scope = if all_tenants && self.check(ctx, &all_rule, &json!({"project_id": project})) {
            q.get("tenant_id")
                .or_else(|| q.get("project_id"))
                .map(str::to_string)
        } else {
            Some(project.clone())
        };
        let changes_since = match q.get("changes-since") {
            None => None,
            Some(v) => Some(common::clock::parse_iso(v).ok_or_else(|| {
                bad(format!(
                    "Invalid input for query parameters changes-since. Value: {v}. '{v}' is \
                     not a 'date-time'"
                ))
            })?),
        };
        let changes_before = match q.get("changes-before") {
            None => None,
            Some(v) => Some(common::clock::parse_iso(v).ok_or_else(|| {
                bad(format!(
                    "Invalid input for query parameters changes-before. Value: {v}. '{v}' is \
                     not a 'date-time'"
                ))
            })?),
        };
        let statuses: Vec<&str> = q.get_all("status").collect();
        let mut vm_states: Vec<&str> = Vec::new();
        for s in &statuses {
            match vm_states_of_status(s) {
                Some(v) => vm_states.extend(v),
                // An unknown status: an empty list up to 2.37, a 400 after.
                None if mv.at_least(38) => return Err(bad(format!("Invalid status value: {s}"))),
                None => return Ok((vec![], None)),
            }
        }
        let want_deleted = vm_states.contains(&"deleted")
            || (admin && q.get("deleted").and_then(common::http::query::parse_bool) == Some(true));
        let deleted_since = changes_since.or(if want_deleted { Some(0) } else { None });
        let regex = |key: &str| -> Result<Option<regex_lite::Regex>> {
            match q.get(key) {
                None => Ok(None),
                Some(p) => regex_lite::Regex::new(p)
                    .map(Some)
                    .map_err(|_| bad(format!("Invalid regular expression for {key}: {p}"))),
            }
        };
        let name_re = regex("name")?;
        let ip_re = regex("ip")?;
        let ip6_re = regex("ip6")?;
        let limit = match q.get("limit") {
            None => None,
            Some(v) => Some(v.parse::<usize>().map_err(|_| {
                bad(format!(
                    "Invalid input for query parameters limit. Value: {v}. '{v}' does not match \
                     '^[0-9]*$'"
                ))
            })?),
        };
        let image = q
            .get("image")
            .map(|s| s.rsplit('/').next().unwrap_or(s).to_string());
        let flavor = q
            .get("flavor")
            .map(|s| s.rsplit('/').next().unwrap_or(s).to_string());
        // Tag filters (2.26): comma-separated lists.
        let tag_list = |key: &str| -> Option<Vec<String>> {
            q.get(key).map(|v| {
                v.split(',')
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect()
            })
        };
        let (all_tags, any_tags) = (tag_list("tags"), tag_list("tags-any"));
        let (not_all, not_any) = (tag_list("not-tags"), tag_list("not-tags-any"));
        let all = rows::list(&self.db.pool, scope.as_deref(), deleted_since).await?;
        let mut out: Vec<InstanceRow> = all
            .into_iter()
            .filter(|r| {
                if !vm_states.is_empty() && !vm_states.contains(&r.vm_state.as_str()) {
                    return false;
                }
                if let Some(re) = &name_re {
                    if !re.is_match(&r.name) {
                        return false;
                    }
                }
                if image.as_ref().is_some_and(|i| *i != r.image_ref)
                    || flavor.as_ref().is_some_and(|f| *f != r.flavor_id)
                {
                    return false;
                }
                if let Some(since) = changes_since {
                    if r.updated_at < since {
                        return false;
                    }
                }
                if let Some(before) = changes_before {
                    if r.updated_at > before {
                        return false;
                    }
                }
                for (re, v6) in [(&ip_re, false), (&ip6_re, true)] {
                    if let Some(re) = re {
                        let hit = r.network_info.iter().any(|p| {
                            p["ips"].as_array().is_some_and(|ips| {
                                ips.iter().any(|ip| {
                                    (ip["version"] == 6) == v6
                                        && ip["addr"].as_str().is_some_and(|a| re.is_match(a))
                                })
                            })
                        });
                        if !hit {
                            return false;
                        }
                    }
                }
                if let Some(h) = q.get("host").filter(|_| admin) {
                    if r.host.as_deref() != Some(h) {
                        return false;
                    }
                }
                let has = |t: &String| r.tags.contains(t);
                if all_tags.as_ref().is_some_and(|ts| !ts.iter().all(has))
                    || any_tags.as_ref().is_some_and(|ts| !ts.iter().any(has))
                    || not_all
                        .as_ref()
                        .is_some_and(|ts| !ts.is_empty() && ts.iter().all(has))
                    || not_any.as_ref().is_some_and(|ts| ts.iter().any(has))
                {
                    return false;
                }
                if let Some(res) = q.get("reservation_id") {
                    if r.reservation_id != res {
                        return false;
                    }
                }
                true
            })
            .collect();
        let start = match q.get("marker") {
            None => 0,
            Some(m) => match out.iter().position(|r| r.id == m) {
                Some(p) => p + 1,
                None => return Err(bad(format!("marker [{m}] not found"))),
            },
        };
        out.drain(..start);
        let next = match limit {
            Some(l) if out.len() > l => {
                out.truncate(l);
                out.last().map(|r| r.id.clone())
            }
            Some(0) => None,
            _ => None,
        };
        Ok((out, next))
    }

    /// `PUT /servers/{id}`.
    pub async fn update_server(
        &self,
        ctx: &AuthContext,
        mv: Microversion,
        id: &str,
        body: &Value,
    ) -> Result<InstanceRow> {
        let Some(s) = body.get("server").and_then(Value::as_object) else {
            return Err(bad(
                "Invalid input for field/attribute server. 'server' is a required property",
            ));
        };
        let mut allowed = vec!["name", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig"];
        if mv.at_least(19) {
            allowed.push("description");
        }
        if mv.at_least(90) {
            allowed.push("hostname");
        }
        for k in s.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(bad(format!(
                    "Additional properties are not allowed ('{k}' was unexpected)"
                )));
            }
        }
        let mut row = self
            .visible_server(ctx, id, "os_compute_api:servers:update")
            .await?;
        if let Some(n) = s.get("name") {
            row.name = check_name("name", n)?;
        }
        if s.contains_key("accessIPv4") {
            row.access_ip_v4 = check_ip("accessIPv4", s.get("accessIPv4"), false)?;
        }
        if s.contains_key("accessIPv6") {
            row.access_ip_v6 = check_ip("accessIPv6", s.get("accessIPv6"), true)?;
        }
        if s.contains_key("description") {
            row.display_description = opt_string("description", s.get("description"), 255)?;
        }
        if let Some(h) = s.get("hostname") {
            row.hostname = check_hostname(h, mv)?;
        }
        if let Some(auto) = parse_disk_config(s.get("OS-DCF:diskConfig"))? {
            row.auto_disk_config = auto;
        }
        // Nova's `update_instance` has no lock check: a locked server is
        // still renamed.
        row.updated_at = self.now();
        let mut tx = self.begin().await?;
        rows::update_fields(tx.conn(), &row).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(row)
    }

    /// A locked server refuses non-admin changes (Nova's
    /// `check_instance_lock`).
    pub fn check_unlocked(&self, ctx: &AuthContext, row: &InstanceRow) -> Result<()> {
        if row.locked && !self.is_admin(ctx) {
            return Err(Error::conflict(format!("Instance {} is locked", row.id)));
        }
        Ok(())
    }

    /// `DELETE /servers/{id}`: destroys the guest, deletes the ports the
    /// build made and unbinds the ones the user gave, then soft-deletes.
    pub async fn delete_server(&self, ctx: &AuthContext, id: &str, request_id: &str) -> Result<()> {
        let row = self
            .visible_server(ctx, id, "os_compute_api:servers:delete")
            .await?;
        self.check_unlocked(ctx, &row)?;
        let action = self.start_action(ctx, &row, "delete", request_id).await?;
        let event = self
            .start_event(&action, "compute_terminate_instance", row.host.as_deref())
            .await?;
        let outcome = async {
            self.virt
                .destroy(id)
                .await
                .map_err(|e| Error::internal(e.to_string()))?;
            let svc = service_context(&row.project_id, &row.user_id);
            self.release_ports(&svc, id, &row.network_info).await
        }
        .await;
        self.finish_event(&action, &event, outcome.as_ref().err())
            .await?;
        outcome?;
        rows::mark_deleted(&self.db.pool, id, self.now()).await?;
        crate::db::server_groups::remove_instance(&self.db.pool, id).await?;
        // Nova's `clean_console_auths_for_instance`: no console outlives
        // its server.
        crate::db::consoles::delete_for_instance(&self.db.pool, id).await?;
        Ok(())
    }

    /// Deletes the ports the server's build made and unbinds the rest
    /// (every port whose device is the server, whether or not the build
    /// got to record it).
    pub async fn release_ports(
        &self,
        svc: &AuthContext,
        server_id: &str,
        network_info: &[Value],
    ) -> Result<()> {
        let q = QueryMap(vec![("device_id".into(), server_id.to_string())]);
        let (ports, _) = self.network.list_ports(svc, &q).await?;
        for p in ports {
            let given = network_info
                .iter()
                .any(|n| n["port_id"] == p.row.id.as_str() && n["created"] == Value::Bool(false));
            if given {
                let mut a = Map::new();
                a.insert("device_id".into(), json!(""));
                a.insert("device_owner".into(), json!(""));
                a.insert("binding:host_id".into(), json!(""));
                self.network.update_port(svc, &p.row.id, a).await?;
            } else {
                match self.network.delete_port(svc, &p.row.id).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == common::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Records an instance action (`os-instance-actions`).
    pub async fn start_action(
        &self,
        ctx: &AuthContext,
        row: &InstanceRow,
        action: &str,
        request_id: &str,
    ) -> Result<ActionRow> {
        let now = self.now();
        let a = ActionRow {
            id: common::ids::uuid(),
            instance_id: row.id.clone(),
            action: action.to_string(),
            request_id: request_id.to_string(),
            user_id: ctx.user_id.clone(),
            project_id: ctx.project_id().unwrap_or(&row.project_id).to_string(),
            message: None,
            start_time: now,
            updated_at: now,
        };
        rows::insert_action(&self.db.pool, &a).await?;
        Ok(a)
    }

    /// Starts an event of an action.
    pub async fn start_event(
        &self,
        action: &ActionRow,
        event: &str,
        host: Option<&str>,
    ) -> Result<EventRow> {
        let e = EventRow {
            id: common::ids::uuid(),
            action_id: action.id.clone(),
            event: event.to_string(),
            host: host.map(str::to_string),
            result: None,
            traceback: None,
            start_time: self.now(),
            finish_time: None,
        };
        rows::insert_event(&self.db.pool, &e).await?;
        Ok(e)
    }

    /// Ends an event: `Success`, or `Error` with the failure as traceback
    /// (and the action's message `Error`).
    pub async fn finish_event(
        &self,
        action: &ActionRow,
        event: &EventRow,
        error: Option<&Error>,
    ) -> Result<()> {
        let now = self.now();
        match error {
            None => {
                rows::finish_event(&self.db.pool, &event.id, "Success", None, now).await?;
                rows::finish_action(&self.db.pool, &action.id, None, now).await?;
            }
            Some(e) => {
                let tb = e.message().to_string();
                rows::finish_event(&self.db.pool, &event.id, "Error", Some(&tb), now).await?;
                rows::finish_action(&self.db.pool, &action.id, Some("Error"), now).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hostnames_are_sanitized_as_novas() {
        assert_eq!(sanitize_hostname("My Server_1!", "x"), "my-server-1");
        assert_eq!(sanitize_hostname("---", "abc"), "server-abc");
    }

    #[test]
    fn statuses_map_as_novas() {
        assert_eq!(status_of("active", Some("rebooting_hard")), "HARD_REBOOT");
        assert_eq!(status_of("stopped", None), "SHUTOFF");
        assert_eq!(status_of("building", Some("spawning")), "BUILD");
    }

    #[test]
    fn create_bodies_are_checked() {
        let v = Microversion::v2(1);
        let ok = json!({"server": {"name": "a", "imageRef": "i", "flavorRef": 1}});
        let r = parse_create(&ok, v).unwrap();
        assert_eq!(r.flavor_id, "1");
        for bad in [
            json!({"server": {"imageRef": "i", "flavorRef": "1"}}),
            json!({"server": {"name": " a", "imageRef": "i", "flavorRef": "1"}}),
            json!({"server": {"name": "a", "imageRef": "i", "flavorRef": "1", "bogus": 1}}),
            json!({"server": {"name": "a", "imageRef": "i", "flavorRef": "1", "user_data": "!!"}}),
            json!({"server": {"name": "a", "imageRef": "i", "flavorRef": "1", "min_count": 2, "max_count": 1}}),
            json!({"server": {"name": "a", "imageRef": "i", "flavorRef": "1", "metadata": {"k": 1}}}),
        ] {
            assert_eq!(
                parse_create(&bad, v).unwrap_err().kind().status(),
                400,
                "{bad}"
            );
        }
        // networks is required from 2.37.
        assert!(parse_create(&ok, Microversion::v2(37)).is_err());
    }

    #[test]
    fn the_clients_image_bdm_is_the_image_boot() {
        let v = Microversion::v2(1);
        let bdm = |b: Value| {
            json!({"server": {"name": "a", "imageRef": "i", "flavorRef": 1,
            "block_device_mapping_v2": b}})
        };
        let osc = json!([{"uuid": "i", "boot_index": 0, "source_type": "image",
            "destination_type": "local", "delete_on_termination": true}]);
        assert_eq!(parse_create(&bdm(osc), v).unwrap().image_id, "i");
        for refused in [
            json!([{"uuid": "other", "boot_index": 0, "source_type": "image", "destination_type": "local"}]),
            json!([{"uuid": "i", "boot_index": 0, "source_type": "image", "destination_type": "volume"}]),
            json!([{"uuid": "v", "boot_index": 1, "source_type": "volume", "destination_type": "volume"}]),
            json!({}),
        ] {
            assert_eq!(
                parse_create(&bdm(refused.clone()), v)
                    .unwrap_err()
                    .kind()
                    .status(),
                400,
                "{refused}"
            );
        }
    }
}

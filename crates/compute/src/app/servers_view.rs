//! How a server is shown, per microversion (Nova's
//! `api/openstack/compute/views/servers.py`): the index entry, the
//! detail/show view, and the shorter view `PUT` answers before 2.75.

use super::servers::status_of;
use super::Compute;
use crate::api::Microversion;
use crate::db::servers::InstanceRow;
use common::clock::{iso_micros_naive, iso_seconds};
use common::context::AuthContext;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha224};

/// Which view of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// `GET /servers/{id}`.
    Show,
    /// An item of `GET /servers/detail`.
    Detail,
    /// `PUT /servers/{id}`'s answer.
    Update,
}

/// `self` and `bookmark` links of a server.
pub fn links(base: &str, id: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{base}/v2.1/servers/{id}")},
        {"rel": "bookmark", "href": format!("{base}/servers/{id}")},
    ])
}

/// An item of `GET /servers`.
pub fn index_entry(base: &str, r: &InstanceRow) -> Value {
    json!({"id": r.id, "name": r.name, "links": links(base, &r.id)})
}

/// Nova's `hostId`: sha224 of project id and host, "" before scheduling.
pub fn host_id(project_id: &str, host: Option<&str>) -> String {
    match host {
        Some(h) if !h.is_empty() => {
            let mut d = Sha224::new();
            d.update(project_id.as_bytes());
            d.update(h.as_bytes());
            d.finalize().iter().map(|b| format!("{b:02x}")).collect()
        }
        _ => String::new(),
    }
}

pub fn addresses(r: &InstanceRow, extended: bool) -> Value {
    let mut out = Map::new();
    for port in &r.network_info {
        let net = port["network_name"].as_str().unwrap_or("").to_string();
        let entry = out.entry(net).or_insert_with(|| json!([]));
        for ip in port["ips"].as_array().into_iter().flatten() {
            let mut a = json!({"version": ip["version"], "addr": ip["addr"]});
            if extended {
                a["OS-EXT-IPS:type"] = json!("fixed");
                a["OS-EXT-IPS-MAC:mac_addr"] = port["mac"].clone();
            }
            if let Value::Array(v) = entry {
                v.push(a);
            }
        }
    }
    Value::Object(out)
}

impl Compute {
    /// A server as `view` shows it at `mv` to `ctx`.
    pub fn server_view(
        &self,
        ctx: &AuthContext,
        mv: Microversion,
        base: &str,
        r: &InstanceRow,
        view: View,
    ) -> Value {
        let admin = self.is_admin(ctx);
        let status = status_of(&r.vm_state, r.task_state.as_deref());
        let full = view != View::Update || mv.at_least(75);
        let mut image = if r.image_ref.is_empty() {
            json!("")
        } else {
            json!({
                "id": r.image_ref,
                "links": [{"rel": "bookmark", "href": format!("{base}/images/{}", r.image_ref)}],
            })
        };
        if mv.at_least(98) && image.is_object() {
            image["properties"] = r.image_properties.clone();
        }
        let flavor = if mv.at_least(47) {
            let f = &r.flavor;
            json!({
                "vcpus": f["vcpus"], "ram": f["ram"], "disk": f["disk"],
                "ephemeral": f["ephemeral"], "swap": f["swap"],
                "original_name": f["name"],
                "extra_specs": f.get("extra_specs").cloned().unwrap_or_else(|| json!({})),
            })
        } else {
            json!({
                "id": r.flavor_id,
                "links": [{"rel": "bookmark", "href": format!("{base}/flavors/{}", r.flavor_id)}],
            })
        };
        let mut s = json!({
            "id": r.id,
            "name": r.name,
            "status": status,
            "tenant_id": r.project_id,
            "user_id": r.user_id,
            "metadata": r.metadata,
            "hostId": host_id(&r.project_id, r.host.as_deref()),
            "image": image,
            "flavor": flavor,
            "created": iso_seconds(r.created_at),
            "updated": iso_seconds(r.updated_at),
            "addresses": addresses(r, full),
            "accessIPv4": r.access_ip_v4.clone().unwrap_or_default(),
            "accessIPv6": r.access_ip_v6.clone().unwrap_or_default(),
            "links": links(base, &r.id),
            "OS-DCF:diskConfig": if r.auto_disk_config { "AUTO" } else { "MANUAL" },
        });
        if matches!(
            status,
            "ACTIVE" | "BUILD" | "REBUILD" | "RESIZE" | "VERIFY_RESIZE" | "MIGRATING"
        ) {
            // Nova's `instance.progress or 0`: only resizes and snapshots
            // move it.
            s["progress"] = json!(0);
        }
        if matches!(status, "ERROR" | "DELETED") {
            if let Some(f) = &r.fault {
                let mut fault = json!({
                    "code": f["code"], "message": f["message"], "created": f["created"],
                });
                if admin || f["code"] != 500 {
                    fault["details"] = f["details"].clone();
                }
                s["fault"] = fault;
            }
        }
        if mv.at_least(9) {
            s["locked"] = json!(r.locked);
        }
        if mv.at_least(19) {
            s["description"] = json!(r.display_description);
        }
        if mv.at_least(26) {
            s["tags"] = json!(r.tags);
        }
        if mv.at_least(63) {
            s["trusted_image_certificates"] = Value::Null;
        }
        if mv.at_least(73) {
            s["locked_reason"] = json!(r.locked_reason);
        }
        if mv.at_least(96) {
            s["pinned_availability_zone"] = json!(r.pinned_availability_zone);
        }
        // Show and update carry the server's groups; lists do not.
        if view != View::Detail && mv.at_least(71) {
            s["server_groups"] = json!([]);
        }
        if mv.at_least(100) {
            s["scheduler_hints"] = json!({});
        }
        if !full {
            return s;
        }
        s["OS-EXT-AZ:availability_zone"] = json!(r.availability_zone.clone().unwrap_or_default());
        s["config_drive"] = json!(r.config_drive);
        s["key_name"] = json!(r.key_name);
        // Nova shows the key only when the server's ports have groups
        // (`_add_security_grps` skips a server without any).
        if !r.security_groups.is_empty() {
            s["security_groups"] = Value::Array(
                r.security_groups
                    .iter()
                    .map(|n| json!({"name": n}))
                    .collect(),
            );
        }
        s["OS-SRV-USG:launched_at"] = json!(r.launched_at.map(iso_micros_naive));
        s["OS-SRV-USG:terminated_at"] = json!(r.terminated_at.map(iso_micros_naive));
        s["os-extended-volumes:volumes_attached"] = json!([]);
        s["OS-EXT-STS:task_state"] = json!(r.task_state);
        s["OS-EXT-STS:vm_state"] = json!(r.vm_state);
        s["OS-EXT-STS:power_state"] = json!(r.power_state);
        let target = json!({"project_id": r.project_id});
        if self.check(ctx, "os_compute_api:os-extended-server-attributes", &target) {
            s["OS-EXT-SRV-ATTR:host"] = json!(r.host);
            s["OS-EXT-SRV-ATTR:hypervisor_hostname"] = json!(r.host);
            s["OS-EXT-SRV-ATTR:instance_name"] = json!(format!("instance-{}", r.id));
            if mv.at_least(3) {
                s["OS-EXT-SRV-ATTR:reservation_id"] = json!(r.reservation_id);
                s["OS-EXT-SRV-ATTR:launch_index"] = json!(r.launch_index);
                s["OS-EXT-SRV-ATTR:kernel_id"] = json!("");
                s["OS-EXT-SRV-ATTR:ramdisk_id"] = json!("");
                s["OS-EXT-SRV-ATTR:hostname"] = json!(r.hostname);
                s["OS-EXT-SRV-ATTR:root_device_name"] = json!("/dev/vda");
                s["OS-EXT-SRV-ATTR:user_data"] = json!(r.user_data);
            }
        } else if mv.at_least(90) {
            // 2.90 shows every user the hostname they may now set.
            s["OS-EXT-SRV-ATTR:hostname"] = json!(r.hostname);
        }
        if mv.at_least(16) && self.check(ctx, "os_compute_api:servers:show:host_status", &target) {
            s["host_status"] = json!(if r.host.is_some() { "UP" } else { "" });
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_are_sha224_of_project_and_host() {
        assert_eq!(host_id("p", None), "");
        let h = host_id("p", Some("h"));
        assert_eq!(h.len(), 56);
        assert_eq!(h, host_id("p", Some("h")));
        assert_ne!(h, host_id("q", Some("h")));
    }
}

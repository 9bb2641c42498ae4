//! The metadata API's rules (Nova's `nova/api/metadata`): who is asking
//! (the proxy's signed `X-Instance-ID`), what an instance's metadata is
//! (its EC2 tree and its OpenStack documents, per version), and how a
//! path is looked up in it and printed.
//!
//! The instance data is gathered once per request
//! ([`Compute::instance_metadata`]); [`InstanceMetadata::lookup`] then
//! answers the path without further I/O, as Nova's `InstanceMetadata`.

use super::servers::service_context;
use super::Compute;
use crate::db::servers::InstanceRow;
use base64::Engine;
use common::http::QueryMap;
use common::{Error, Result};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The EC2 metadata versions (Nova's `VERSIONS`); `latest` is the last.
pub const EC2_VERSIONS: &[&str] = &[
    "1.0",
    "2007-01-19",
    "2007-03-01",
    "2007-08-29",
    "2007-10-10",
    "2007-12-15",
    "2008-02-01",
    "2008-09-01",
    "2009-04-04",
];

/// The OpenStack metadata versions (Nova's `OPENSTACK_VERSIONS`).
pub const OPENSTACK_VERSIONS: &[&str] = &[
    FOLSOM, GRIZZLY, HAVANA, LIBERTY, NEWTON_ONE, NEWTON_TWO, OCATA, ROCKY, VICTORIA, EPOXY,
];
const FOLSOM: &str = "2012-08-10";
const GRIZZLY: &str = "2013-04-04";
const HAVANA: &str = "2013-10-17";
const LIBERTY: &str = "2015-10-15";
const NEWTON_ONE: &str = "2016-06-30";
const NEWTON_TWO: &str = "2016-10-06";
const OCATA: &str = "2017-02-22";
const ROCKY: &str = "2018-08-27";
const VICTORIA: &str = "2020-10-14";
const EPOXY: &str = "2025-04-04";

/// Nova's `[api] dhcp_domain` default: hostnames are `<hostname>.novalocal`.
pub const DHCP_DOMAIN: &str = "novalocal";

pub const TEXT_PLAIN: &str = "text/plain";
pub const APPLICATION_JSON: &str = "application/json";

/// Nova's `LEGACY_EXPOSED_VIF_TYPES`: link types shown as they are; any
/// other is `phy`.
const LEGACY_EXPOSED_VIF_TYPES: &[&str] = &[
    "bridge",
    "dvs",
    "hw_veb",
    "hyperv",
    "ovs",
    "tap",
    "vhostuser",
    "vif",
];

/// What the proxy sent about the caller.
#[derive(Debug, Clone, Default)]
pub struct ProxyHeaders {
    pub instance_id: Option<String>,
    pub tenant_id: Option<String>,
    pub signature: Option<String>,
    pub forwarded_for: Option<String>,
    /// More than one `X-Instance-ID` / `X-Tenant-ID` header.
    pub multiple_instance_ids: bool,
    pub multiple_tenant_ids: bool,
}

/// A node of the EC2 tree: printed as Nova's `ec2_md_print` prints it.
#[derive(Debug, Clone, PartialEq)]
enum Md {
    /// Children, and the `_name` its parent's listing shows for it
    /// (`public-keys/0` lists as `0=<key name>`).
    Dict(BTreeMap<String, Md>, Option<String>),
    List(Vec<String>),
    Text(String),
    Bytes(Vec<u8>),
}

/// An answer: the body and its content type.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub body: Vec<u8>,
    pub content_type: &'static str,
}

impl Answer {
    fn text(s: impl Into<String>) -> Answer {
        Answer {
            body: s.into().into_bytes(),
            content_type: TEXT_PLAIN,
        }
    }

    fn json(v: &Value) -> Answer {
        Answer {
            body: v.to_string().into_bytes(),
            content_type: APPLICATION_JSON,
        }
    }
}

/// Everything one instance's metadata is made of, gathered once.
#[derive(Debug, Clone)]
pub struct InstanceMetadata {
    pub row: InstanceRow,
    /// `i-%08x`.
    pub instance_ec2_id: String,
    /// `ami-%08x` of the boot image, `None` for a volume-backed server.
    pub ami_id: Option<String>,
    /// The fixed IPv4 addresses, then the floating ones, of its ports.
    pub fixed_ips: Vec<String>,
    pub floating_ips: Vec<String>,
    /// The names of its ports' security groups.
    pub security_groups: Vec<String>,
    /// `network_data.json` (Nova's `netutils.get_network_metadata`);
    /// `None` when the server has no port with a subnet.
    pub network_data: Option<Value>,
    /// `X-Forwarded-For`: `local-ipv4` when the server has no fixed IPv4.
    pub address: Option<String>,
    /// The decoded user data.
    pub user_data: Option<Vec<u8>>,
    /// The password the guest posted (`app::passwords`), `""` when none.
    pub password: String,
}

/// `hmac.compare_digest`: equal lengths and bytes, in time independent of
/// where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Compute {
    /// The instance a proxied request is for, checked as Nova's
    /// `_handle_instance_id_request`: every header present (400), the
    /// signature right (403), the instance live and the tenant its
    /// project (404 otherwise, as Nova answers a mismatch).
    pub async fn metadata_request(&self, h: &ProxyHeaders) -> Result<InstanceMetadata> {
        let msg = match (&h.instance_id, &h.signature, &h.tenant_id) {
            (None, _, _) => Some("X-Instance-ID header is missing from request."),
            (_, None, _) => Some("X-Instance-ID-Signature header is missing from request."),
            (_, _, None) => Some("X-Tenant-ID header is missing from request."),
            _ if h.multiple_instance_ids => {
                Some("Multiple X-Instance-ID headers found within request.")
            }
            _ if h.multiple_tenant_ids => {
                Some("Multiple X-Tenant-ID headers found within request.")
            }
            _ => None,
        };
        if let Some(m) = msg {
            return Err(Error::bad_request(m));
        }
        let instance_id = h.instance_id.as_deref().unwrap_or("");
        let tenant_id = h.tenant_id.as_deref().unwrap_or("");
        let signature = h.signature.as_deref().unwrap_or("");
        let expected = nodes_sign(&self.metadata_secret, instance_id);
        if signature.is_empty() || !constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
            tracing::warn!(
                instance_id,
                from = h.forwarded_for.as_deref().unwrap_or(""),
                "X-Instance-ID-Signature does not match the expected signature"
            );
            return Err(Error::forbidden("Invalid proxy request signature."));
        }
        let row = crate::db::servers::get(&self.db.pool, instance_id)
            .await?
            .filter(|r| r.deleted_at.is_none());
        let Some(row) = row else {
            return Err(Error::not_found("The resource could not be found."));
        };
        if row.project_id != tenant_id {
            tracing::warn!(
                tenant_id,
                instance_id,
                "Tenant_id does not match tenant_id of instance"
            );
            return Err(Error::not_found("The resource could not be found."));
        }
        self.instance_metadata(row, h.forwarded_for.clone()).await
    }

    /// Gathers `row`'s metadata: its EC2 ids, addresses, groups and
    /// network data (from the network service).
    pub async fn instance_metadata(
        &self,
        row: InstanceRow,
        address: Option<String>,
    ) -> Result<InstanceMetadata> {
        let n = self.ec2_id(&row.id).await?;
        let ami = if row.image_ref.is_empty() {
            None
        } else {
            Some(self.ec2_id(&row.image_ref).await?)
        };
        let user_data = match &row.user_data {
            None => None,
            // Nova decodes what the API accepted as base64; the API
            // checked it, so a failure here is a stored value gone bad.
            Some(u) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(u.trim())
                    .map_err(|e| Error::internal(format!("user data: {e}")))?,
            ),
        };
        let net = self.network_facts(&row).await?;
        Ok(InstanceMetadata {
            instance_ec2_id: format!("i-{n:08x}"),
            ami_id: ami.map(|a| format!("ami-{a:08x}")),
            fixed_ips: net.fixed_v4,
            floating_ips: net.floating,
            security_groups: net.groups,
            network_data: net.data,
            address,
            user_data,
            password: self.metadata_password(&row.id).await?,
            row,
        })
    }

    /// The EC2 integer id of `uuid`: read, or given in a write
    /// transaction the first time (so later reads take no write lock).
    async fn ec2_id(&self, uuid: &str) -> Result<i64> {
        if let Some(n) = crate::db::metadata::existing(&self.db.pool, uuid).await? {
            return Ok(n);
        }
        let mut tx = self.begin().await?;
        let n = crate::db::metadata::ec2_id(&mut tx, uuid).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// What the network service knows of the server's ports.
    async fn network_facts(&self, row: &InstanceRow) -> Result<NetFacts> {
        let svc = service_context(&row.project_id, &row.user_id);
        let mut facts = NetFacts::default();
        let mut links = Vec::new();
        let mut nets = Vec::new();
        let mut services: Vec<Value> = Vec::new();
        let (mut ifc_num, mut net_num) = (-1i64, -1i64);
        for vif in &row.network_info {
            let Some(port_id) = vif["port_id"].as_str() else {
                continue;
            };
            // A port deleted under the server: Nova's cache would still
            // show it; we have nothing more to say about it.
            let port = match self.network.show_port(&svc, port_id).await {
                Ok(p) => p,
                Err(e) if e.status().as_u16() == 404 => continue,
                Err(e) => return Err(e),
            };
            for ip in &port.fixed_ips {
                if ip.ip_address.parse::<Ipv4Addr>().is_ok() {
                    facts.fixed_v4.push(ip.ip_address.clone());
                }
            }
            for g in &port.row.security_groups {
                if let Ok(v) = self.network.show_group(&svc, g).await {
                    if !facts.groups.contains(&v.row.name) {
                        facts.groups.push(v.row.name.clone());
                    }
                }
            }
            let q = QueryMap(vec![("port_id".into(), port_id.to_string())]);
            let (fips, _) = self.network.list_floatingips(&svc, &q).await?;
            facts
                .floating
                .extend(fips.into_iter().map(|f| f.row.floating_ip_address));

            // network_data.json, as netutils.get_network_metadata.
            let mut subnet_ids: Vec<&str> = Vec::new();
            for ip in &port.fixed_ips {
                if !subnet_ids.contains(&ip.subnet_id.as_str()) {
                    subnet_ids.push(&ip.subnet_id);
                }
            }
            if subnet_ids.is_empty() {
                continue;
            }
            let mut subnets = Vec::new();
            for id in subnet_ids {
                match self.network.show_subnet(&svc, id).await {
                    Ok(s) => subnets.push(s.row),
                    Err(e) if e.status().as_u16() == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            if subnets.is_empty() {
                continue;
            }
            let network = self
                .network
                .show_network(&svc, &port.row.network_id)
                .await?;
            let q = QueryMap(vec![
                ("network_id".into(), port.row.network_id.clone()),
                ("device_owner".into(), "network:dhcp".into()),
            ]);
            let (dhcp_ports, _) = self.network.list_ports(&svc, &q).await?;
            let has_dhcp_server = |subnet: &str| {
                dhcp_ports
                    .iter()
                    .any(|p| p.fixed_ips.iter().any(|a| a.subnet_id == subnet))
            };
            ifc_num += 1;
            let v4 = subnets.iter().find(|s| s.ip_version == 4);
            let v6 = subnets.iter().find(|s| s.ip_version == 6);
            let (vif_type, _) = self.network.vif(&port.row);
            let link_id = format!("tap{}", port.row.id.chars().take(11).collect::<String>());
            let mtu = if subnets.iter().any(|s| has_dhcp_server(&s.id)) {
                Value::Null
            } else {
                json!(network.row.mtu)
            };
            links.push(json!({
                "id": link_id,
                "vif_id": port.row.id,
                "type": if LEGACY_EXPOSED_VIF_TYPES.contains(&vif_type.as_str()) {
                    vif_type.as_str()
                } else {
                    "phy"
                },
                "mtu": mtu,
                "ethernet_mac_address": port.row.mac_address,
            }));
            for (version, subnet) in [(4, v4), (6, v6)] {
                let Some(subnet) = subnet else { continue };
                let ips: Vec<&str> = port
                    .fixed_ips
                    .iter()
                    .filter(|a| a.subnet_id == subnet.id)
                    .map(|a| a.ip_address.as_str())
                    .collect();
                let Some(first) = ips.first() else { continue };
                net_num += 1;
                let dns: Vec<Value> = subnet
                    .dns_nameservers
                    .iter()
                    .map(|d| json!({"type": "dns", "address": d}))
                    .collect();
                for d in &dns {
                    if !services.contains(d) {
                        services.push(d.clone());
                    }
                }
                nets.push(net_entry(
                    subnet,
                    version,
                    net_num,
                    &link_id,
                    &port.row.network_id,
                    first,
                    has_dhcp_server(&subnet.id),
                    dns,
                ));
            }
        }
        if ifc_num >= 0 {
            facts.data = Some(json!({"links": links, "networks": nets, "services": services}));
        }
        Ok(facts)
    }
}

#[derive(Debug, Default)]
struct NetFacts {
    fixed_v4: Vec<String>,
    floating: Vec<String>,
    groups: Vec<String>,
    data: Option<Value>,
}

fn nodes_sign(secret: &str, id: &str) -> String {
    nodes::secret::sign_instance_id(secret, id)
}

/// The netmask of a /`prefix` in `version`'s notation.
fn netmask(version: i64, prefix: u32) -> String {
    if version == 4 {
        let bits = u32::MAX.checked_shl(32 - prefix.min(32)).unwrap_or(0);
        Ipv4Addr::from(bits).to_string()
    } else {
        let bits = u128::MAX.checked_shl(128 - prefix.min(128)).unwrap_or(0);
        Ipv6Addr::from(bits).to_string()
    }
}

/// `10.0.0.0/24` → (network address, netmask).
fn net_and_mask(cidr: &str) -> Option<(String, String)> {
    let (addr, prefix) = cidr.split_once('/')?;
    let prefix: u32 = prefix.parse().ok()?;
    let ip: IpAddr = addr.parse().ok()?;
    Some(match ip {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - prefix.min(32)).unwrap_or(0);
            (
                Ipv4Addr::from(u32::from(a) & mask).to_string(),
                netmask(4, prefix),
            )
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - prefix.min(128)).unwrap_or(0);
            (
                Ipv6Addr::from(u128::from(a) & mask).to_string(),
                netmask(6, prefix),
            )
        }
    })
}

/// One entry of `networks` (Nova's `netutils._get_nets`).
#[allow(clippy::too_many_arguments)]
fn net_entry(
    subnet: &network::db::subnets::SubnetRow,
    version: i64,
    net_num: i64,
    link_id: &str,
    network_id: &str,
    address: &str,
    dhcp_server: bool,
    dns: Vec<Value>,
) -> Value {
    let id = format!("network{net_num}");
    let net_type = match &subnet.ipv6_address_mode {
        Some(mode) => format!("ipv{version}_{mode}"),
        None if dhcp_server || subnet.enable_dhcp => {
            return json!({
                "id": id,
                "type": format!("ipv{version}_dhcp"),
                "link": link_id,
                "network_id": network_id,
            });
        }
        None => format!("ipv{version}"),
    };
    let prefix = subnet
        .cidr
        .split_once('/')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(if version == 4 { 32 } else { 128 });
    let mut routes = Vec::new();
    if let Some(gw) = subnet.gateway_ip.as_deref().filter(|g| !g.is_empty()) {
        let any = if version == 4 { "0.0.0.0" } else { "::" };
        routes.push(json!({"network": any, "netmask": any, "gateway": gw}));
    }
    for (dest, nexthop) in &subnet.host_routes {
        if let Some((n, m)) = net_and_mask(dest) {
            routes.push(json!({"network": n, "netmask": m, "gateway": nexthop}));
        }
    }
    json!({
        "id": id,
        "type": net_type,
        "link": link_id,
        "ip_address": address,
        "netmask": netmask(version, prefix),
        "routes": routes,
        "network_id": network_id,
        "services": dns,
    })
}

/// `posixpath.normpath` of the request path, as tokens.
fn tokens(path: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for t in path.split('/') {
        match t {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            t => out.push(t),
        }
    }
    out
}

fn position(versions: &[&str], v: &str) -> Option<usize> {
    versions.iter().position(|x| *x == v)
}

/// The version list of `/` (EC2 versions and `latest`), which needs no
/// instance: Nova answers it before identifying the caller.
pub fn root_listing() -> Answer {
    let mut v: Vec<&str> = EC2_VERSIONS.to_vec();
    v.push("latest");
    Answer::text(v.join("\n"))
}

/// Whether `path` is the root (`/`, `//`, `/.`).
pub fn is_root(path: &str) -> bool {
    tokens(path).is_empty()
}

impl InstanceMetadata {
    /// The files of the server's config drive (Nova's
    /// `metadata_for_config_drive`, its OpenStack half): for every
    /// OpenStack version up to `today` and `latest`, the documents
    /// `meta_data.json`, `vendor_data.json`, `vendor_data2.json`,
    /// `network_data.json` and `user_data` that the metadata service would
    /// answer. The EC2 half (`ec2/<version>/meta-data.json`) is left out:
    /// cloud-init and the test guest read the OpenStack tree.
    pub fn config_drive_files(&self, today: &str) -> Vec<virt::ConfigDriveFile> {
        let mut out = Vec::new();
        let versions = OPENSTACK_VERSIONS
            .iter()
            .copied()
            .filter(|v| *v <= today)
            .chain(std::iter::once("latest"));
        for v in versions {
            for doc in [
                "meta_data.json",
                "vendor_data.json",
                "vendor_data2.json",
                "network_data.json",
                "user_data",
            ] {
                let path = format!("openstack/{v}/{doc}");
                if let Some(a) = self.lookup(&path, today) {
                    out.push(virt::ConfigDriveFile {
                        path,
                        contents: a.body,
                    });
                }
            }
        }
        out
    }

    /// `<hostname>.<dhcp_domain>` (Nova's `_get_hostname`).
    fn hostname(&self) -> String {
        format!("{}.{DHCP_DOMAIN}", self.row.hostname)
    }

    /// Answers `path` (Nova's `InstanceMetadata.lookup`); `None` is a 404.
    /// `today` (`YYYY-MM-DD`) hides future OpenStack versions from the
    /// listing.
    pub fn lookup(&self, path: &str, today: &str) -> Option<Answer> {
        let mut t = tokens(path);
        if t.first() != Some(&"openstack") && t.first() != Some(&"ec2") {
            t.insert(0, "ec2");
        }
        if t.len() == 1 {
            let mut versions: Vec<&str> = if t[0] == "openstack" {
                OPENSTACK_VERSIONS
                    .iter()
                    .copied()
                    .filter(|v| *v <= today)
                    .collect()
            } else {
                EC2_VERSIONS.to_vec()
            };
            versions.push("latest");
            return Some(Answer::text(versions.join("\n")));
        }
        if t[0] == "openstack" {
            self.openstack_item(&t[1..])
        } else {
            let tree = self.ec2_metadata(t[1])?;
            let node = find_path(&tree, &t[2..])?;
            Some(print(node))
        }
    }

    /// Nova's `get_ec2_metadata`: the tree under `/<version>/`.
    fn ec2_metadata(&self, version: &str) -> Option<Md> {
        let version = if version == "latest" {
            EC2_VERSIONS[EC2_VERSIONS.len() - 1]
        } else {
            version
        };
        let at = position(EC2_VERSIONS, version)?;
        let since = |v: &str| position(EC2_VERSIONS, v).is_some_and(|p| at >= p);
        let text = |s: &str| Md::Text(s.to_string());
        let hostname = self.hostname();
        let floating = self.floating_ips.first().cloned().unwrap_or_default();
        let fixed = self
            .fixed_ips
            .first()
            .cloned()
            .or_else(|| self.address.clone())
            .unwrap_or_default();
        let mut md = BTreeMap::new();
        md.insert(
            "ami-id".into(),
            text(self.ami_id.as_deref().unwrap_or("None")),
        );
        md.insert(
            "ami-launch-index".into(),
            Md::Text(self.row.launch_index.to_string()),
        );
        md.insert("ami-manifest-path".into(), text("FIXME"));
        md.insert("instance-id".into(), text(&self.instance_ec2_id));
        md.insert("hostname".into(), text(&hostname));
        md.insert("local-ipv4".into(), text(&fixed));
        md.insert("reservation-id".into(), text(&self.row.reservation_id));
        md.insert(
            "security-groups".into(),
            Md::List(self.security_groups.clone()),
        );
        if let Some(name) = &self.row.key_name {
            let mut key = BTreeMap::new();
            key.insert(
                "openssh-key".into(),
                text(self.row.key_data.as_deref().unwrap_or("")),
            );
            let mut keys = BTreeMap::new();
            keys.insert("0".into(), Md::Dict(key, Some(format!("0={name}"))));
            md.insert("public-keys".into(), Md::Dict(keys, None));
        }
        if since("2007-01-19") {
            md.insert("local-hostname".into(), text(&hostname));
            md.insert("public-hostname".into(), text(&hostname));
            md.insert("public-ipv4".into(), text(&floating));
        }
        if since("2007-08-29") {
            let flavor = self.row.flavor["name"].as_str().unwrap_or("");
            md.insert("instance-type".into(), text(flavor));
        }
        if since("2007-12-15") {
            // libvirt's devices: the root disk is vda, an ephemeral disk
            // the next one (Nova's `instance_block_mapping` without
            // volumes).
            let mut bdm = BTreeMap::new();
            bdm.insert("ami".into(), text("vda"));
            bdm.insert("root".into(), text("/dev/vda"));
            if self.row.ephemeral_gb > 0 {
                bdm.insert("ephemeral0".into(), text("/dev/vdb"));
            }
            md.insert("block-device-mapping".into(), Md::Dict(bdm, None));
        }
        if since("2008-02-01") {
            let mut p = BTreeMap::new();
            p.insert(
                "availability-zone".into(),
                text(self.row.availability_zone.as_deref().unwrap_or("None")),
            );
            md.insert("placement".into(), Md::Dict(p, None));
        }
        if since("2008-09-01") {
            md.insert("instance-action".into(), text("none"));
        }
        let mut top = BTreeMap::new();
        top.insert("meta-data".into(), Md::Dict(md, None));
        if let Some(u) = &self.user_data {
            top.insert("user-data".into(), Md::Bytes(u.clone()));
        }
        Some(Md::Dict(top, None))
    }

    /// `/openstack/<version>[/<item>]` (Nova's `RouteConfiguration`).
    fn openstack_item(&self, t: &[&str]) -> Option<Answer> {
        let version = match t.first()? {
            &"latest" => OPENSTACK_VERSIONS[OPENSTACK_VERSIONS.len() - 1],
            v => v,
        };
        let at = position(OPENSTACK_VERSIONS, version)?;
        let since = |v: &str| position(OPENSTACK_VERSIONS, v).is_some_and(|p| at >= p);
        if t.len() == 1 {
            let mut items = vec!["meta_data.json"];
            if self.user_data.is_some() {
                items.push("user_data");
            }
            if since(GRIZZLY) {
                items.push("password");
            }
            if since(HAVANA) {
                items.push("vendor_data.json");
            }
            if since(LIBERTY) {
                items.push("network_data.json");
            }
            if since(NEWTON_TWO) {
                items.push("vendor_data2.json");
            }
            return Some(Answer::text(items.join("\n")));
        }
        match t[1..].join("/").as_str() {
            "meta_data.json" => Some(Answer::json(&self.meta_data_json(&since))),
            "user_data" => self.user_data.as_ref().map(|u| Answer {
                body: u.clone(),
                content_type: TEXT_PLAIN,
            }),
            "network_data.json" => Some(Answer::json(
                self.network_data.as_ref().unwrap_or(&json!({})),
            )),
            // Nova's `extract_password`: "" until the guest posts one.
            "password" if since(GRIZZLY) => Some(Answer::text(self.password.clone())),
            // Nova's default providers (`StaticJSON` without a file):
            // an empty document, and it again under `static`.
            "vendor_data.json" if since(HAVANA) => Some(Answer::json(&json!({}))),
            "vendor_data2.json" if since(NEWTON_TWO) => Some(Answer::json(&json!({"static": {}}))),
            _ => None,
        }
    }

    /// `meta_data.json` (Nova's `_metadata_as_json`).
    fn meta_data_json(&self, since: &dyn Fn(&str) -> bool) -> Value {
        let r = &self.row;
        let mut m = Map::new();
        m.insert("uuid".into(), json!(r.id));
        if r.metadata.as_object().is_some_and(|o| !o.is_empty()) {
            m.insert("meta".into(), r.metadata.clone());
        }
        if let (Some(name), Some(key)) = (&r.key_name, &r.key_data) {
            let key_type = if key.trim_start().starts_with("-----BEGIN") {
                "x509"
            } else {
                "ssh"
            };
            m.insert("public_keys".into(), json!({ name.clone(): key }));
            m.insert(
                "keys".into(),
                json!([{"name": name, "type": key_type, "data": key}]),
            );
        }
        m.insert("hostname".into(), json!(self.hostname()));
        m.insert("name".into(), json!(r.name));
        m.insert("launch_index".into(), json!(r.launch_index));
        m.insert("availability_zone".into(), json!(r.availability_zone));
        if since(GRIZZLY) {
            let seed = common::ids::random_bytes(512);
            m.insert(
                "random_seed".into(),
                json!(base64::engine::general_purpose::STANDARD.encode(seed)),
            );
        }
        if since(LIBERTY) {
            m.insert("project_id".into(), json!(r.project_id));
        }
        if since(NEWTON_ONE) {
            // No tagged devices: the API takes no device tags yet.
            m.insert("devices".into(), json!([]));
        }
        if since(VICTORIA) {
            // No dedicated-CPU (pinned) guests.
            m.insert("dedicated_cpus".into(), json!([]));
        }
        Value::Object(m)
    }
}

/// Nova's `find_path_in_tree`.
fn find_path<'a>(mut node: &'a Md, t: &[&str]) -> Option<&'a Md> {
    for tok in t {
        match node {
            Md::Dict(children, _) => node = children.get(*tok)?,
            _ => return None,
        }
    }
    Some(node)
}

/// Nova's `ec2_md_print`.
fn print(node: &Md) -> Answer {
    match node {
        Md::Dict(children, _) => {
            let lines: Vec<String> = children
                .iter()
                .map(|(k, v)| match v {
                    Md::Dict(_, Some(name)) => name.clone(),
                    Md::Dict(_, None) => format!("{k}/"),
                    _ => k.clone(),
                })
                .collect();
            Answer::text(lines.join("\n"))
        }
        Md::List(items) => Answer::text(items.join("\n")),
        Md::Text(s) => Answer::text(s.clone()),
        Md::Bytes(b) => Answer {
            body: b.clone(),
            content_type: TEXT_PLAIN,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netmasks_and_routes() {
        assert_eq!(netmask(4, 24), "255.255.255.0");
        assert_eq!(netmask(4, 0), "0.0.0.0");
        assert_eq!(netmask(6, 64), "ffff:ffff:ffff:ffff::");
        assert_eq!(
            net_and_mask("10.1.2.3/16"),
            Some(("10.1.0.0".into(), "255.255.0.0".into()))
        );
    }

    #[test]
    fn paths_normalise_as_posixpath() {
        assert_eq!(tokens("/latest/meta-data/"), vec!["latest", "meta-data"]);
        assert_eq!(tokens("//a/./b/../c"), vec!["a", "c"]);
        assert!(is_root("/"));
    }

    #[test]
    fn signatures_compare_in_full() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}

//! The Compute v2.1 API's OpenAPI document: the routes `api::router`
//! serves, their path and query parameters, the request bodies as the
//! handlers check them (Nova's JSON schemas, `nova/api/openstack/compute/
//! schemas`) and the answers. `oxistack openapi compute` prints it and
//! `docs/openapi/compute.json` holds the checked-in copy; the fuzz run
//! (tests/fuzz/run.py) drives the API from it.
//!
//! The handlers take their bodies as `serde_json::Value` and check them by
//! microversion, so the document is written here as a table rather than
//! derived from annotations on them.

use serde_json::{json, Map, Value};

/// One operation of the table.
struct Op {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    /// The success status.
    ok: u16,
    query: Vec<(&'static str, Value)>,
    body: Option<Value>,
}

fn op(
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    ok: u16,
) -> Op {
    Op {
        method,
        path,
        id,
        summary,
        ok,
        query: Vec::new(),
        body: None,
    }
}

impl Op {
    fn query(mut self, params: &[(&'static str, Value)]) -> Op {
        self.query.extend(params.iter().cloned());
        self
    }

    fn body(mut self, schema: Value) -> Op {
        self.body = Some(schema);
        self
    }
}

fn string() -> Value {
    json!({"type": "string"})
}

fn integer() -> Value {
    json!({"type": "integer"})
}

fn boolean_param() -> Value {
    json!({"type": "string", "enum": ["true", "false", "True", "False", "1", "0"]})
}

/// A name as Nova takes it: 1–255 printable characters, no leading or
/// trailing blanks (`parameter_types.name`).
fn name() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 255,
           "pattern": "^(?! )[^\\x00-\\x1f]*(?<! )$"})
}

/// `{"<wrapper>": {…}}` with `properties` and `required`, nothing else.
fn wrapped(wrapper: &str, properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "required": [wrapper], "additionalProperties": false,
           "properties": {wrapper: {"type": "object", "properties": properties,
                                     "required": required, "additionalProperties": false}}})
}

fn metadata() -> Value {
    // Keys of 1–255 characters too, which OpenAPI's schema objects (and
    // utoipa) cannot say without `propertyNames`.
    json!({"type": "object", "maxProperties": 128,
           "additionalProperties": {"type": "string", "maxLength": 255}})
}

fn pagination() -> Vec<(&'static str, Value)> {
    vec![
        ("limit", json!({"type": "integer", "minimum": 0})),
        ("marker", string()),
    ]
}

/// `GET /servers` and `/servers/detail`'s filters (`schemas/servers.py`
/// `query_params_v21`, the ones the handlers read).
fn server_filters() -> Vec<(&'static str, Value)> {
    let mut q = pagination();
    q.extend([
        ("name", string()),
        ("status", string()),
        ("image", string()),
        ("flavor", string()),
        ("ip", string()),
        ("ip6", string()),
        (
            "changes-since",
            json!({"type": "string", "format": "date-time"}),
        ),
        (
            "changes-before",
            json!({"type": "string", "format": "date-time"}),
        ),
        ("all_tenants", boolean_param()),
        ("deleted", boolean_param()),
        ("project_id", string()),
        ("tenant_id", string()),
        ("user_id", string()),
        ("host", string()),
        ("reservation_id", string()),
        ("availability_zone", string()),
        ("locked", boolean_param()),
        ("tags", string()),
        ("tags-any", string()),
        ("not-tags", string()),
        ("not-tags-any", string()),
        ("sort_key", string()),
        (
            "sort_dir",
            json!({"type": "string", "enum": ["asc", "desc"]}),
        ),
    ]);
    q
}

fn server_create() -> Value {
    let network = json!({"type": "object", "additionalProperties": false, "properties": {
        "uuid": string(), "port": string(), "fixed_ip": string(), "tag": string()}});
    wrapped(
        "server",
        json!({
            "name": name(),
            "imageRef": string(),
            "flavorRef": {"oneOf": [string(), integer()]},
            "adminPass": string(),
            "metadata": metadata(),
            "networks": {"oneOf": [
                {"type": "array", "items": network},
                {"type": "string", "enum": ["auto", "none"]}
            ]},
            "key_name": name(),
            "user_data": {"type": "string", "format": "byte", "maxLength": 65535},
            "security_groups": {"type": "array", "items": {"type": "object",
                "properties": {"name": string()}, "additionalProperties": false}},
            "config_drive": {"type": "boolean"},
            "availability_zone": string(),
            "min_count": {"type": "integer", "minimum": 1},
            "max_count": {"type": "integer", "minimum": 1},
            "return_reservation_id": {"type": "boolean"},
            "accessIPv4": {"type": "string", "format": "ipv4"},
            "accessIPv6": {"type": "string", "format": "ipv6"},
            "description": {"type": ["string", "null"], "maxLength": 255},
            "hostname": {"type": "string", "maxLength": 255},
            "tags": {"type": "array", "maxItems": 50,
                     "items": {"type": "string", "minLength": 1, "maxLength": 60}},
            "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]}
        }),
        &["name", "imageRef", "flavorRef"],
    )
}

/// The actions `POST /servers/{id}/action` serves: one key each.
fn server_action() -> Value {
    let none = json!({"type": "null"});
    let actions = [
        (
            "reboot",
            json!({"type": "object", "required": ["type"], "additionalProperties": false,
            "properties": {"type": {"type": "string", "enum": ["HARD", "SOFT", "hard", "soft"]}}}),
        ),
        ("os-stop", none.clone()),
        ("os-start", none.clone()),
        ("pause", none.clone()),
        ("unpause", none.clone()),
        ("suspend", none.clone()),
        ("resume", none.clone()),
        (
            "lock",
            json!({"oneOf": [none.clone(), {"type": "object", "additionalProperties": false,
            "properties": {"locked_reason": {"type": "string", "maxLength": 255}}}]}),
        ),
        ("unlock", none),
        (
            "os-getConsoleOutput",
            json!({"type": "object", "additionalProperties": false,
            "properties": {"length": {"oneOf": [{"type": "integer", "minimum": -1},
                                                {"type": "string", "pattern": "^-?[0-9]+$"},
                                                {"type": "null"}]}}}),
        ),
    ];
    let one_of: Vec<Value> = actions
        .into_iter()
        .map(|(k, v)| {
            json!({"type": "object", "required": [k], "additionalProperties": false,
                   "properties": {k: v}})
        })
        .collect();
    json!({"oneOf": one_of})
}

fn flavor_create() -> Value {
    wrapped(
        "flavor",
        json!({
            "name": name(),
            "id": {"type": ["string", "null"], "minLength": 1, "maxLength": 255,
                   "pattern": "^(?! )[a-zA-Z0-9. _-]+(?<! )$"},
            "ram": {"type": ["integer", "string"], "minimum": 1},
            "vcpus": {"type": ["integer", "string"], "minimum": 1},
            "disk": {"type": ["integer", "string"], "minimum": 0},
            "OS-FLV-EXT-DATA:ephemeral": {"type": ["integer", "string"], "minimum": 0},
            "swap": {"type": ["integer", "string"], "minimum": 0},
            "rxtx_factor": {"type": ["number", "string"], "exclusiveMinimum": 0},
            "os-flavor-access:is_public": {"type": "boolean"},
            "description": {"type": ["string", "null"], "maxLength": 65535}
        }),
        &["name", "ram", "vcpus", "disk"],
    )
}

fn quota_set() -> Value {
    let limit = json!({"type": ["integer", "string"], "minimum": -1});
    let keys = [
        "instances",
        "cores",
        "ram",
        "floating_ips",
        "fixed_ips",
        "metadata_items",
        "key_pairs",
        "security_groups",
        "security_group_rules",
        "injected_files",
        "injected_file_content_bytes",
        "injected_file_path_bytes",
        "server_groups",
        "server_group_members",
        "networks",
    ];
    let mut props = Map::new();
    for k in keys {
        props.insert(k.to_owned(), limit.clone());
    }
    props.insert("force".to_owned(), json!({"type": "boolean"}));
    wrapped("quota_set", Value::Object(props), &[])
}

/// Nova's image list filters (`SUPPORTED_FILTERS`) and paging.
fn image_filters() -> Vec<(&'static str, Value)> {
    vec![
        ("name", string()),
        ("status", string()),
        (
            "changes-since",
            json!({"type": "string", "format": "date-time"}),
        ),
        ("server", string()),
        ("type", string()),
        ("minRam", integer()),
        ("minDisk", integer()),
        ("limit", json!({"type": "integer", "minimum": 1})),
        ("marker", string()),
    ]
}

/// `{"metadata": {key: value}}` (Nova's `parameter_types.metadata`).
fn image_metadata() -> Value {
    json!({"type": "object", "required": ["metadata"], "additionalProperties": false,
           "properties": {"metadata": {"type": "object",
               "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string", "maxLength": 255}},
               "additionalProperties": false}}})
}

fn operations() -> Vec<Op> {
    vec![
        op("get", "/", "versions.list", "The API versions (v2.0 and v2.1)", 300),
        op("get", "/v2", "versions.show_legacy", "The v2.0 version document", 200),
        op("get", "/v2.1", "versions.show", "The v2.1 version document", 200),
        // Flavors.
        op("get", "/v2.1/flavors", "flavors.list", "Flavors", 200).query(&{
            let mut q = pagination();
            q.extend([
                ("is_public", string()),
                ("minRam", integer()),
                ("minDisk", integer()),
                ("sort_key", string()),
                ("sort_dir", json!({"type": "string", "enum": ["asc", "desc"]})),
            ]);
            q
        }),
        op("post", "/v2.1/flavors", "flavors.create", "Create a flavor (admin)", 200).body(flavor_create()),
        op("get", "/v2.1/flavors/detail", "flavors.detail", "Flavors with details", 200).query(&{
            let mut q = pagination();
            q.extend([("is_public", string()), ("minRam", integer()), ("minDisk", integer())]);
            q
        }),
        op("get", "/v2.1/flavors/{id}", "flavors.show", "One flavor", 200),
        op("put", "/v2.1/flavors/{id}", "flavors.update", "Update a flavor's description (2.55)", 200)
            .body(wrapped("flavor", json!({"description": {"type": ["string", "null"], "maxLength": 65535}}),
                          &["description"])),
        op("delete", "/v2.1/flavors/{id}", "flavors.delete", "Delete a flavor (admin)", 202),
        op("post", "/v2.1/flavors/{id}/action", "flavors.action", "Add or remove a project's access", 200)
            .body(json!({"oneOf": [
                wrapped("addTenantAccess", json!({"tenant": string()}), &["tenant"]),
                wrapped("removeTenantAccess", json!({"tenant": string()}), &["tenant"])
            ]})),
        op("get", "/v2.1/flavors/{id}/os-flavor-access", "flavors.access", "Projects with access", 200),
        op("get", "/v2.1/flavors/{id}/os-extra_specs", "flavors.extra_specs", "Extra specs", 200),
        op("post", "/v2.1/flavors/{id}/os-extra_specs", "flavors.extra_specs_create", "Set extra specs", 200)
            .body(json!({"type": "object", "required": ["extra_specs"], "additionalProperties": false,
                         "properties": {"extra_specs": {"type": "object",
                             "additionalProperties": {"type": ["string", "integer", "number", "boolean"]}}}})),
        op("get", "/v2.1/flavors/{id}/os-extra_specs/{key}", "flavors.extra_spec", "One extra spec", 200),
        op("put", "/v2.1/flavors/{id}/os-extra_specs/{key}", "flavors.extra_spec_update", "Set one extra spec", 200)
            .body(json!({"type": "object", "minProperties": 1, "maxProperties": 1,
                         "additionalProperties": {"type": ["string", "integer", "number", "boolean"]}})),
        op("delete", "/v2.1/flavors/{id}/os-extra_specs/{key}", "flavors.extra_spec_delete", "Unset one extra spec", 200),
        // Key pairs.
        op("get", "/v2.1/os-keypairs", "keypairs.list", "Key pairs", 200)
            .query(&[("user_id", string()), ("limit", json!({"type": "integer", "minimum": 0})), ("marker", string())]),
        op("post", "/v2.1/os-keypairs", "keypairs.create", "Import or generate a key pair", 200)
            .body(wrapped("keypair", json!({
                "name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[a-zA-Z0-9 _-]+$"},
                "type": {"type": "string", "enum": ["ssh", "x509"]},
                "public_key": string(),
                "user_id": string()
            }), &["name"])),
        op("get", "/v2.1/os-keypairs/{name}", "keypairs.show", "One key pair", 200).query(&[("user_id", string())]),
        op("delete", "/v2.1/os-keypairs/{name}", "keypairs.delete", "Delete a key pair", 202).query(&[("user_id", string())]),
        // Quotas and limits.
        op("get", "/v2.1/os-quota-sets/{project}", "quotas.show", "A project's quotas", 200).query(&[("user_id", string())]),
        op("put", "/v2.1/os-quota-sets/{project}", "quotas.update", "Set a project's quotas (admin)", 200)
            .query(&[("user_id", string())]).body(quota_set()),
        op("delete", "/v2.1/os-quota-sets/{project}", "quotas.delete", "Back to the defaults (admin)", 202)
            .query(&[("user_id", string())]),
        op("get", "/v2.1/os-quota-sets/{project}/detail", "quotas.detail", "Quotas with usage", 200)
            .query(&[("user_id", string())]),
        op("get", "/v2.1/os-quota-sets/{project}/defaults", "quotas.defaults", "The default quotas", 200),
        op("get", "/v2.1/os-quota-class-sets/{class}", "quotas.class_show", "A quota class", 200),
        op("put", "/v2.1/os-quota-class-sets/{class}", "quotas.class_update", "Set a quota class (admin)", 200)
            .body(quota_set_class()),
        op("get", "/v2.1/limits", "limits.show", "Absolute limits and usage", 200)
            .query(&[("tenant_id", string()), ("reserved", integer())]),
        // Services, hypervisors, hosts, zones.
        op("get", "/v2.1/os-services", "services.list", "Compute services", 200)
            .query(&[("host", string()), ("binary", string())]),
        op("put", "/v2.1/os-services/{id}", "services.update", "Enable, disable or force down a service", 200)
            .body(json!({"type": "object", "additionalProperties": false, "properties": {
                "status": {"type": "string", "enum": ["enabled", "disabled"]},
                "disabled_reason": {"type": "string", "minLength": 1, "maxLength": 255},
                "forced_down": {"type": "boolean"},
                "host": string(), "binary": string()}})),
        op("delete", "/v2.1/os-services/{id}", "services.delete", "Delete a compute service", 204),
        op("get", "/v2.1/os-hypervisors", "hypervisors.list", "Hypervisors", 200).query(&{
            let mut q = pagination();
            q.extend([("hypervisor_hostname_pattern", string()), ("with_servers", boolean_param())]);
            q
        }),
        op("get", "/v2.1/os-hypervisors/detail", "hypervisors.detail", "Hypervisors with details", 200).query(&{
            let mut q = pagination();
            q.extend([("hypervisor_hostname_pattern", string()), ("with_servers", boolean_param())]);
            q
        }),
        op("get", "/v2.1/os-hypervisors/statistics", "hypervisors.statistics", "Totals over the hypervisors (≤ 2.87)", 200),
        op("get", "/v2.1/os-hypervisors/{id}", "hypervisors.show", "One hypervisor", 200)
            .query(&[("with_servers", boolean_param())]),
        op("get", "/v2.1/os-hypervisors/{id}/uptime", "hypervisors.uptime", "A hypervisor's uptime (≤ 2.87)", 200),
        op("get", "/v2.1/os-hypervisors/{id}/search", "hypervisors.search", "Hypervisors by host name (≤ 2.52)", 200),
        op("get", "/v2.1/os-hypervisors/{id}/servers", "hypervisors.servers", "Hypervisors with their servers (≤ 2.52)", 200),
        op("get", "/v2.1/os-hosts", "hosts.list", "Hosts (≤ 2.42)", 200).query(&[("zone", string())]),
        op("get", "/v2.1/os-hosts/{host}", "hosts.show", "A host's resources (≤ 2.42)", 200),
        op("put", "/v2.1/os-hosts/{host}", "hosts.update", "A host's status or maintenance mode (≤ 2.42)", 200)
            .body(json!({"type": "object", "minProperties": 1, "additionalProperties": false, "properties": {
                "status": {"type": "string", "enum": ["enable", "disable", "Enable", "Disable", "ENABLE", "DISABLE"]},
                "maintenance_mode": {"type": "string", "enum": ["enable", "disable", "Enable", "Disable", "ENABLE", "DISABLE"]}}})),
        op("get", "/v2.1/os-hosts/{host}/startup", "hosts.startup", "Host power action (not implemented by Nova's drivers)", 200),
        op("get", "/v2.1/os-hosts/{host}/shutdown", "hosts.shutdown", "Host power action (not implemented by Nova's drivers)", 200),
        op("get", "/v2.1/os-hosts/{host}/reboot", "hosts.reboot", "Host power action (not implemented by Nova's drivers)", 200),
        op("get", "/v2.1/os-availability-zone", "availability_zones.list", "Available zones", 200),
        op("get", "/v2.1/os-availability-zone/detail", "availability_zones.detail", "Zones with their hosts (admin)", 200),
        // Proxies of the image and network services (images ≤ 2.35, image
        // metadata ≤ 2.38, networks and security group rules ≤ 2.35).
        op("get", "/v2.1/images", "images.list", "Images (id, name, links) (≤ 2.35)", 200).query(&image_filters()),
        op("get", "/v2.1/images/detail", "images.detail", "Images with details (≤ 2.35)", 200).query(&image_filters()),
        op("get", "/v2.1/images/{id}", "images.show", "One image (≤ 2.35)", 200),
        op("delete", "/v2.1/images/{id}", "images.delete", "Delete an image (≤ 2.35)", 204),
        op("get", "/v2.1/images/{id}/metadata", "images.metadata", "An image's metadata (≤ 2.38)", 200),
        op("post", "/v2.1/images/{id}/metadata", "images.metadata_create", "Add to an image's metadata (≤ 2.38)", 200)
            .body(image_metadata()),
        op("put", "/v2.1/images/{id}/metadata", "images.metadata_update", "Replace an image's metadata (≤ 2.38)", 200)
            .body(image_metadata()),
        op("get", "/v2.1/images/{id}/metadata/{key}", "images.metadata_item", "One metadata item (≤ 2.38)", 200),
        op("put", "/v2.1/images/{id}/metadata/{key}", "images.metadata_item_update", "Set one metadata item (≤ 2.38)", 200)
            .body(json!({"type": "object", "required": ["meta"], "additionalProperties": false,
                         "properties": {"meta": {"type": "object", "minProperties": 1, "maxProperties": 1,
                             "additionalProperties": {"type": "string", "maxLength": 255}}}})),
        op("delete", "/v2.1/images/{id}/metadata/{key}", "images.metadata_item_delete", "Delete one metadata item (≤ 2.38)", 204),
        op("post", "/v2.1/os-security-group-rules", "security_group_rules.create", "Add an ingress rule (≤ 2.35)", 200)
            .body(wrapped("security_group_rule", json!({
                "parent_group_id": {"type": "string", "format": "uuid"},
                "group_id": {"type": ["string", "null"], "format": "uuid"},
                "ip_protocol": {"type": ["string", "null"]},
                "from_port": {"type": ["integer", "string", "null"]},
                "to_port": {"type": ["integer", "string", "null"]},
                "cidr": {"type": ["string", "null"]}
            }), &["parent_group_id"])),
        op("delete", "/v2.1/os-security-group-rules/{id}", "security_group_rules.delete", "Delete a rule (≤ 2.35)", 202),
        op("get", "/v2.1/os-networks", "networks.list", "Networks (≤ 2.35)", 200),
        op("get", "/v2.1/os-networks/{id}", "networks.show", "One network (≤ 2.35)", 200),
        op("get", "/v2.1/os-tenant-networks", "tenant_networks.list", "The project's networks (≤ 2.35)", 200),
        op("get", "/v2.1/os-tenant-networks/{id}", "tenant_networks.show", "One of the project's networks (≤ 2.35)", 200),
        // Servers.
        op("get", "/v2.1/servers", "servers.list", "Servers (id, name, links)", 200).query(&server_filters()),
        op("post", "/v2.1/servers", "servers.create", "Create a server (or several)", 202).body(server_create()),
        op("get", "/v2.1/servers/detail", "servers.detail", "Servers with details", 200).query(&server_filters()),
        op("get", "/v2.1/servers/{id}", "servers.show", "One server", 200),
        op("put", "/v2.1/servers/{id}", "servers.update", "Rename, re-describe or set access IPs", 200)
            .body(wrapped("server", json!({
                "name": name(),
                "description": {"type": ["string", "null"], "maxLength": 255},
                "accessIPv4": {"type": "string", "format": "ipv4"},
                "accessIPv6": {"type": "string", "format": "ipv6"},
                "hostname": {"type": "string", "maxLength": 255},
                "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]}
            }), &[])),
        op("delete", "/v2.1/servers/{id}", "servers.delete", "Delete a server", 204),
        op("post", "/v2.1/servers/{id}/action", "servers.action", "A server action", 202).body(server_action()),
        op("get", "/v2.1/servers/{id}/ips", "servers.ips", "A server's addresses by network", 200),
        op("get", "/v2.1/servers/{id}/ips/{network}", "servers.ips_of_network", "A server's addresses on one network", 200),
        op("get", "/v2.1/servers/{id}/os-instance-actions", "instance_actions.list", "Actions taken on a server", 200)
            .query(&{
                let mut q = pagination();
                q.extend([("changes-since", json!({"type": "string", "format": "date-time"})),
                          ("changes-before", json!({"type": "string", "format": "date-time"}))]);
                q
            }),
        op("get", "/v2.1/servers/{id}/os-instance-actions/{request_id}", "instance_actions.show", "One action with its events", 200),
        op("get", "/v2.1/servers/{id}/metadata", "server_metadata.list", "A server's metadata", 200),
        op("post", "/v2.1/servers/{id}/metadata", "server_metadata.update", "Add or change metadata items", 200)
            .body(json!({"type": "object", "required": ["metadata"], "additionalProperties": false,
                         "properties": {"metadata": metadata()}})),
        op("put", "/v2.1/servers/{id}/metadata", "server_metadata.replace", "Replace all metadata", 200)
            .body(json!({"type": "object", "required": ["metadata"], "additionalProperties": false,
                         "properties": {"metadata": metadata()}})),
        op("get", "/v2.1/servers/{id}/metadata/{key}", "server_metadata.show", "One metadata item", 200),
        op("put", "/v2.1/servers/{id}/metadata/{key}", "server_metadata.set", "Set one metadata item", 200)
            .body(json!({"type": "object", "required": ["meta"], "additionalProperties": false,
                         "properties": {"meta": {"type": "object", "minProperties": 1, "maxProperties": 1,
                                                 "additionalProperties": {"type": "string", "maxLength": 255}}}})),
        op("delete", "/v2.1/servers/{id}/metadata/{key}", "server_metadata.delete", "Delete one metadata item", 204),
        op("get", "/v2.1/servers/{id}/tags", "server_tags.list", "A server's tags (2.26)", 200),
        op("put", "/v2.1/servers/{id}/tags", "server_tags.replace", "Replace all tags (2.26)", 200)
            .body(json!({"type": "object", "required": ["tags"], "additionalProperties": false,
                         "properties": {"tags": {"type": "array", "maxItems": 50,
                             "items": {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,/]*$"}}}})),
        op("delete", "/v2.1/servers/{id}/tags", "server_tags.delete_all", "Delete all tags (2.26)", 204),
        op("get", "/v2.1/servers/{id}/tags/{tag}", "server_tags.check", "Whether a server has a tag (2.26)", 204),
        op("put", "/v2.1/servers/{id}/tags/{tag}", "server_tags.add", "Add a tag (2.26)", 201),
        op("delete", "/v2.1/servers/{id}/tags/{tag}", "server_tags.delete", "Delete a tag (2.26)", 204),
    ]
}

/// A quota class takes the same limits, without `force`.
fn quota_set_class() -> Value {
    let mut v = quota_set();
    if let Some(props) = v["properties"]["quota_set"]["properties"].as_object_mut() {
        props.remove("force");
    }
    v
}

/// Nova's error statuses an operation may answer with.
const ERRORS: [(u16, &str); 6] = [
    (400, "The request is malformed or invalid"),
    (401, "No valid token"),
    (403, "Not allowed by policy"),
    (404, "No such resource"),
    (406, "Unsupported microversion"),
    (409, "The resource's state forbids it"),
];

fn operation(o: &Op) -> Value {
    let mut params: Vec<Value> = o
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    params.extend(
        o.query
            .iter()
            .map(|(n, s)| json!({"name": n, "in": "query", "required": false, "schema": s})),
    );
    let tag = o.id.split('.').next().unwrap_or(o.id);
    let mut responses = Map::new();
    let ok = if o.ok == 204 {
        json!({"description": o.summary})
    } else {
        json!({"description": o.summary, "content": {"application/json": {"schema": {"type": "object"}}}})
    };
    responses.insert(o.ok.to_string(), ok);
    for (code, text) in ERRORS {
        responses.insert(
            code.to_string(),
            json!({"description": text, "content": {"application/json": {"schema":
                {"$ref": "#/components/schemas/NovaError"}}}}),
        );
    }
    let mut out = json!({
        "tags": [tag],
        "summary": o.summary,
        "operationId": o.id,
        "parameters": params,
        "responses": responses,
    });
    if o.path == "/" || o.path == "/v2" || o.path == "/v2.1" {
        out["security"] = json!([]);
    }
    if let Some(body) = &o.body {
        out["requestBody"] = json!({"required": true,
            "content": {"application/json": {"schema": body}}});
    }
    out
}

/// The document as JSON.
fn document() -> Value {
    let mut paths = Map::new();
    for o in operations() {
        let item = paths
            .entry(o.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        item[o.method] = operation(&o);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "oxistack Compute service (OpenStack Nova v2.1)",
            "description": "Nova's v2.1 API as oxistack serves it, microversions 2.1 to 2.100 \
                (`OpenStack-API-Version: compute X.Y`; what a path and a body may hold depends on it, \
                as upstream's API reference says). Every call except the version documents takes a \
                token in X-Auth-Token; paths also answer with the project id after /v2.1.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
            "version": "2.1"
        },
        "paths": paths,
        "components": {
            "schemas": {
                "NovaError": {
                    "description": "Nova's error body: one key naming the error \
                        (itemNotFound, badRequest, forbidden, conflictingRequest, overLimit, …).",
                    "type": "object",
                    "minProperties": 1,
                    "maxProperties": 1,
                    "additionalProperties": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {"code": {"type": "integer"}, "message": {"type": "string"}}
                    }
                }
            },
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}
            }
        },
        "security": [{"token": []}]
    })
}

/// The Compute service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    // The table above is the document; a shape utoipa cannot read is caught
    // by the test below, so the empty fallback is never what ships.
    serde_json::from_value(document()).unwrap_or_else(|e| {
        tracing::error!(error = %e, "the compute OpenAPI table does not parse");
        utoipa::openapi::OpenApi::default()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    /// The table parses, every route has its operation, ids are unique.
    #[test]
    fn document_lists_operations() {
        let doc: utoipa::openapi::OpenApi = serde_json::from_value(super::document()).unwrap();
        let mut ids: Vec<String> = doc
            .paths
            .paths
            .values()
            .flat_map(|item| {
                [&item.get, &item.put, &item.post, &item.delete, &item.patch]
                    .into_iter()
                    .flatten()
                    .map(|op| op.operation_id.clone().unwrap())
                    .collect::<Vec<_>>()
            })
            .collect();
        let n = ids.len();
        assert_eq!(n, super::operations().len());
        assert!(ids.contains(&"servers.create".to_string()));
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "operation ids repeat");
        assert!(doc.paths.paths.contains_key("/v2.1/servers/{id}/action"));
    }
}

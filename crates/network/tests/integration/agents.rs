//! Agents and availability zones from the node registry, the agent feed
//! (the `network` part of a node's desired state) and the port statuses
//! nodes report, end to end through the internal API.

use super::floatingips::{external, fip, port, tenant_side};
use super::{assert_error, create_network, project_user, start, start_with};
use network::app::feed::NodeFeed;
use serde_json::{json, Value};
use testkit::{Client, TestCloud};

/// A node registered through the internal API, with its token.
struct Node {
    name: String,
    internal: Client,
    auth: String,
}

impl Node {
    async fn register(cloud: &TestCloud, name: &str, address: &str, roles: &[&str]) -> Node {
        let internal = Client::new(&format!("http://{}", cloud.cloud.internal_api));
        let secret = nodes::secret::read(&cloud.cloud.state.path.join(nodes::SECRET_FILE)).unwrap();
        let body = json!({"hostname": name, "address": address, "roles": roles});
        let r = internal
            .send(
                "PUT",
                &format!("/internal/v1/nodes/{name}"),
                Some(&body),
                &[("authorization", &format!("Bearer {secret}"))],
            )
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.text);
        Node {
            name: name.into(),
            internal,
            auth: format!("Bearer {}", r.body["token"].as_str().unwrap()),
        }
    }

    /// The node's desired state now: (revision, its network part).
    async fn desired(&self) -> (i64, Value) {
        let r = self
            .internal
            .send(
                "GET",
                &format!("/internal/v1/nodes/{}/desired-state", self.name),
                None,
                &[("authorization", &self.auth)],
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        (
            r.body["revision"].as_i64().unwrap(),
            r.body["document"]["parts"]["network"].clone(),
        )
    }

    /// The network part, read through the typed contract.
    async fn feed(&self) -> NodeFeed {
        serde_json::from_value(self.desired().await.1).unwrap()
    }

    async fn report(&self, roles: Value) -> testkit::Resp {
        let (revision, _) = self.desired().await;
        self.internal
            .send(
                "PUT",
                &format!("/internal/v1/nodes/{}/status", self.name),
                Some(&json!({"revision": revision, "roles": roles})),
                &[("authorization", &self.auth)],
            )
            .await
            .unwrap()
    }
}

async fn agents_of(c: &Client, host: &str) -> Vec<Value> {
    let r = c.get(&format!("/v2.0/agents?host={host}")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["agents"].as_array().unwrap().clone()
}

/// Turns off the L3 and DHCP agents of every network node but `keep`,
/// so routers and DHCP go to `keep` (the test cloud's own in-process
/// node is a network node too).
async fn host_everything_on(admin: &Client, keep: &str) {
    for t in ["L3 agent", "DHCP agent"] {
        let r = admin
            .get(&format!(
                "/v2.0/agents?agent_type={}",
                t.replace(' ', "%20")
            ))
            .await
            .unwrap();
        for a in r.body["agents"].as_array().unwrap() {
            let up = a["host"] == keep;
            let r = admin
                .put(
                    &format!("/v2.0/agents/{}", a["id"].as_str().unwrap()),
                    Some(json!({"agent": {"admin_state_up": up}})),
                )
                .await
                .unwrap();
            assert_eq!(r.status, 200, "{}", r.text);
        }
    }
}

fn is_agent_time(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() == 19 && s.as_bytes()[10] == b' ' && !s.contains('T') && !s.ends_with('Z')
}

#[tokio::test]
async fn agents_follow_the_node_registry() {
    let (cloud, admin) = start().await;
    let net = Node::register(&cloud, "net-a", "192.0.2.10", &["network"]).await;
    let cmp = Node::register(&cloud, "cmp-a", "192.0.2.20", &["compute"]).await;
    // Registered but not yet heard from: no agents.
    assert!(agents_of(&admin, "net-a").await.is_empty());
    net.desired().await;
    cmp.desired().await;

    let mut agents = agents_of(&admin, "net-a").await;
    agents.sort_by_key(|a| a["agent_type"].as_str().unwrap().to_string());
    let kinds: Vec<(&str, &str, &str, Value)> = agents
        .iter()
        .map(|a| {
            (
                a["agent_type"].as_str().unwrap(),
                a["binary"].as_str().unwrap(),
                a["topic"].as_str().unwrap(),
                a["availability_zone"].clone(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (
                "DHCP agent",
                "neutron-dhcp-agent",
                "dhcp_agent",
                json!("nova")
            ),
            ("L3 agent", "neutron-l3-agent", "l3_agent", json!("nova")),
            (
                "Linux bridge agent",
                "neutron-linuxbridge-agent",
                "N/A",
                Value::Null
            ),
            (
                "Metadata agent",
                "neutron-metadata-agent",
                "N/A",
                Value::Null
            ),
        ]
    );
    for a in &agents {
        assert_eq!(a["host"], "net-a");
        assert_eq!(a["alive"], true);
        assert_eq!(a["admin_state_up"], true);
        assert_eq!(a["description"], Value::Null);
        assert_eq!(a["resources_synced"], Value::Null);
        for k in ["created_at", "started_at", "heartbeat_timestamp"] {
            assert!(is_agent_time(&a[k]), "{k}: {}", a[k]);
        }
        assert!(a["configurations"].is_object());
    }
    let lb = &agents[2];
    assert_eq!(lb["configurations"]["tunneling_ip"], "192.0.2.10");
    assert_eq!(lb["configurations"]["tunnel_types"], json!(["vxlan"]));
    let compute = agents_of(&admin, "cmp-a").await;
    assert_eq!(compute.len(), 1);
    assert_eq!(compute[0]["agent_type"], "Linux bridge agent");

    // The id is stable from one fetch to the next.
    net.desired().await;
    let again = agents_of(&admin, "net-a").await;
    let ids = |v: &[Value]| {
        let mut ids: Vec<String> = v.iter().map(|a| a["id"].as_str().unwrap().into()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&agents), ids(&again));

    // Filters, fields, sorting, paging.
    let r = admin
        .get("/v2.0/agents?host=net-a&agent_type=L3%20agent&fields=id&fields=host")
        .await
        .unwrap();
    let found = r.body["agents"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{}", r.text);
    assert_eq!(found[0], json!({"id": agents[1]["id"], "host": "net-a"}));
    let r = admin
        .get("/v2.0/agents?alive=true&host=cmp-a")
        .await
        .unwrap();
    assert_eq!(r.body["agents"].as_array().unwrap().len(), 1);
    let r = admin
        .get("/v2.0/agents?alive=false&host=cmp-a")
        .await
        .unwrap();
    assert_eq!(r.body["agents"], json!([]));
    assert_error(
        &admin.get("/v2.0/agents?alive=maybe").await.unwrap(),
        400,
        "InvalidInput",
    );
    let r = admin
        .get("/v2.0/agents?sort_key=host&sort_dir=desc&limit=2")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["agents"].as_array().unwrap().len(), 2);
    assert!(r.body["agents_links"].is_array());
    assert_error(
        &admin
            .get("/v2.0/agents?sort_key=alive&sort_dir=asc")
            .await
            .unwrap(),
        400,
        "HTTPBadRequest",
    );

    // Show and update.
    let id = agents[1]["id"].as_str().unwrap();
    let r = admin.get(&format!("/v2.0/agents/{id}")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["agent"]["agent_type"], "L3 agent");
    let r = admin
        .put(
            &format!("/v2.0/agents/{id}"),
            Some(json!({"agent": {"admin_state_up": false, "description": "drained"}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["agent"]["admin_state_up"], false);
    assert_eq!(r.body["agent"]["description"], "drained");
    let r = admin
        .put(
            &format!("/v2.0/agents/{id}"),
            Some(json!({"agent": {"description": null}})),
        )
        .await
        .unwrap();
    assert_eq!(r.body["agent"]["description"], Value::Null, "{}", r.text);
    for (body, why) in [
        (json!({"agent": {"host": "x"}}), "read-only"),
        (json!({"agent": {"bogus": 1}}), "unknown"),
        (
            json!({"agent": {"admin_state_up": "maybe"}}),
            "not a boolean",
        ),
        (
            json!({"agent": {"description": "d".repeat(256)}}),
            "too long",
        ),
        (json!({"agents": {}}), "no agent key"),
    ] {
        let r = admin
            .put(&format!("/v2.0/agents/{id}"), Some(body))
            .await
            .unwrap();
        assert_eq!(r.status, 400, "{why}: {}", r.text);
    }
    let r = admin
        .get("/v2.0/agents?admin_state_up=false&host=net-a")
        .await
        .unwrap();
    assert_eq!(r.body["agents"].as_array().unwrap().len(), 1, "{}", r.text);

    // Admin only: others see no agents and none by id.
    let (user, _) = project_user(&cloud, "agentuser", "member").await;
    let r = user.get("/v2.0/agents").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body["agents"], json!([]));
    let path = format!("/v2.0/agents/{id}");
    assert_error(&user.get(&path).await.unwrap(), 404, "HTTPNotFound");
    assert_error(
        &user
            .put(&path, Some(json!({"agent": {"description": "x"}})))
            .await
            .unwrap(),
        404,
        "HTTPNotFound",
    );
    assert_error(&user.delete(&path).await.unwrap(), 404, "HTTPNotFound");

    // Delete; the node's next fetch makes it again, with a new id.
    let r = admin.delete(&path).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    assert_error(&admin.get(&path).await.unwrap(), 404, "AgentNotFound");
    assert_error(&admin.delete(&path).await.unwrap(), 404, "AgentNotFound");
    assert_error(
        &admin
            .put(&path, Some(json!({"agent": {"description": "x"}})))
            .await
            .unwrap(),
        404,
        "AgentNotFound",
    );
    net.desired().await;
    let back = agents_of(&admin, "net-a").await;
    assert_eq!(back.len(), 4);
    assert!(back.iter().all(|a| a["id"] != id));

    let r = admin.get("/v2.0/extensions/agent").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["extension"]["description"],
        "The agent management extension."
    );
    let r = admin
        .get("/v2.0/extensions/availability_zone")
        .await
        .unwrap();
    assert_eq!(r.body["extension"]["name"], "Availability Zone");
    cloud.stop().await;
}

#[tokio::test]
async fn availability_zones_come_from_l3_and_dhcp_agents() {
    let (cloud, admin) = start().await;
    let net = Node::register(&cloud, "net-z", "192.0.2.11", &["network"]).await;
    net.desired().await;
    let r = admin.get("/v2.0/availability_zones").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"availability_zones": [
            {"name": "nova", "resource": "network", "state": "available"},
            {"name": "nova", "resource": "router", "state": "available"},
        ]})
    );
    let r = admin
        .get("/v2.0/availability_zones?resource=router&fields=resource")
        .await
        .unwrap();
    assert_eq!(
        r.body,
        json!({"availability_zones": [{"resource": "router"}]})
    );
    let r = admin
        .get("/v2.0/availability_zones?name=other")
        .await
        .unwrap();
    assert_eq!(r.body, json!({"availability_zones": []}));
    // With every L3 agent disabled, the router zone is unavailable.
    let r = admin
        .get("/v2.0/agents?agent_type=L3%20agent")
        .await
        .unwrap();
    for a in r.body["agents"].as_array().unwrap() {
        let r = admin
            .put(
                &format!("/v2.0/agents/{}", a["id"].as_str().unwrap()),
                Some(json!({"agent": {"admin_state_up": false}})),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let (reader, _) = project_user(&cloud, "azreader", "reader").await;
    let r = reader
        .get("/v2.0/availability_zones?state=unavailable")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"availability_zones": [
            {"name": "nova", "resource": "router", "state": "unavailable"},
        ]})
    );
    cloud.stop().await;
}

#[tokio::test]
async fn the_feed_gives_each_node_its_part_and_reports_set_port_status() {
    // A data plane that reports: ports wait for their node to say ACTIVE.
    let (cloud, admin) = start_with(|c| c.dataplane = "linux".into()).await;
    let net = Node::register(&cloud, "net-f", "192.0.2.30", &["network"]).await;
    let cmp = Node::register(&cloud, "cmp-f", "192.0.2.40", &["compute"]).await;
    let other = Node::register(&cloud, "cmp-g", "192.0.2.50", &["compute"]).await;
    net.desired().await;
    cmp.desired().await;
    host_everything_on(&admin, "net-f").await;

    // A network write wakes the node's long-poll at once.
    let (rev, _) = net.desired().await;
    let poll = {
        let internal = net.internal.clone();
        let (path, auth) = (
            format!("/internal/v1/nodes/net-f/desired-state?after={rev}&timeout=20"),
            net.auth.clone(),
        );
        tokio::spawn(async move {
            let t = std::time::Instant::now();
            let r = internal
                .send("GET", &path, None, &[("authorization", &auth)])
                .await
                .unwrap();
            (r.status, t.elapsed())
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let n = create_network(&admin, json!({"name": "fed"})).await;
    let (status, waited) = poll.await.unwrap();
    assert_eq!(status, 200);
    assert!(waited < std::time::Duration::from_secs(10), "{waited:?}");
    let nid = n["id"].as_str().unwrap();
    let r = admin
        .post(
            "/v2.0/subnets",
            json!({"subnet": {"network_id": nid, "ip_version": 4, "cidr": "10.9.0.0/24",
                "dns_nameservers": ["192.0.2.53"]}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let sid = r.body["subnet"]["id"].as_str().unwrap().to_string();
    let r = admin
        .post(
            "/v2.0/ports",
            json!({"port": {"network_id": nid, "binding:host_id": "cmp-f",
                "device_owner": "compute:nova", "device_id": "vm1",
                "allowed_address_pairs": [{"ip_address": "10.9.0.200"}],
                "extra_dhcp_opts": [{"opt_name": "mtu", "opt_value": "1400"}]}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let port = r.body["port"].clone();
    let pid = port["id"].as_str().unwrap().to_string();
    let ip = port["fixed_ips"][0]["ip_address"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(port["status"], "DOWN");
    let r = admin
        .post("/v2.0/routers", json!({"router": {"name": "fr"}}))
        .await
        .unwrap();
    let rid = r.body["router"]["id"].as_str().unwrap().to_string();
    let r = admin
        .put(
            &format!("/v2.0/routers/{rid}/add_router_interface"),
            Some(json!({"subnet_id": sid})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let rport = r.body["port_id"].as_str().unwrap().to_string();

    // The compute node: its port, its groups, the network's other VTEPs.
    let f = cmp.feed().await;
    assert_eq!(f.ports.len(), 1, "{f:?}");
    let p = &f.ports[0];
    assert_eq!(p.id, pid);
    assert_eq!(p.network_id, nid);
    assert_eq!(p.segment.network_type, "vxlan");
    assert!(p.segment.segmentation_id.is_some());
    assert_eq!(p.fixed_ips[0].ip_address, ip);
    assert!(p.port_security_enabled);
    assert_eq!(p.allowed_address_pairs[0].ip_address, "10.9.0.200");
    assert_eq!(p.allowed_address_pairs[0].mac_address, port["mac_address"]);
    assert_eq!(p.security_groups.len(), 1);
    let sg = &f.security_groups[0];
    assert_eq!(sg.id, p.security_groups[0]);
    assert_eq!(sg.rules.len(), 4, "the default group's rules");
    // The default group's ingress rules name the group itself.
    let members = &f.remote_groups[&sg.id];
    assert!(members.contains(&ip) && members.contains(&"10.9.0.200".to_string()));
    assert_eq!(f.networks.len(), 1);
    assert_eq!(f.networks[0].id, nid);
    assert_eq!(f.networks[0].remote_vteps, ["192.0.2.30"]);
    assert_eq!(f.networks[0].subnets[0].dns_nameservers, ["192.0.2.53"]);
    assert!(f.routers.is_empty() && f.dhcp.is_empty());

    // The network node: the router, DHCP for the subnet, the compute VTEP.
    let f = net.feed().await;
    assert!(f.ports.is_empty());
    let fnet = f.networks.iter().find(|n| n.id == nid).unwrap();
    assert_eq!(fnet.remote_vteps, ["192.0.2.40"]);
    let router = f.routers.iter().find(|r| r.id == rid).unwrap();
    assert_eq!(router.interfaces.len(), 1);
    let leg = &router.interfaces[0];
    assert_eq!(leg.port_id, rport);
    assert_eq!(leg.addresses[0].ip_address, "10.9.0.1");
    assert_eq!(leg.addresses[0].prefixlen, 24);
    assert_eq!(leg.addresses[0].subnet_id, sid);
    assert!(router.gateway.is_none());
    let dhcp = f.dhcp.iter().find(|d| d.subnet_id == sid).unwrap();
    let dport = dhcp.port.as_ref().unwrap();
    assert!(dport.address.is_some());
    let entry = dhcp.entries.iter().find(|e| e.port_id == pid).unwrap();
    assert_eq!(entry.ip_address, ip);
    assert_eq!(entry.hostname, format!("host-{}", ip.replace('.', "-")));
    assert_eq!(entry.extra_dhcp_opts[0]["opt_name"], "mtu");
    // Per-MAC FDB: each side sees the other's ports behind its VTEP.
    let mac = |m: &str, vtep: &str| (m.to_string(), vtep.to_string());
    let pairs = |n: &network::app::feed::FeedNetwork| -> Vec<(String, String)> {
        n.remote_macs
            .iter()
            .map(|r| (r.mac_address.clone(), r.vtep.clone()))
            .collect()
    };
    assert_eq!(
        pairs(fnet),
        [mac(port["mac_address"].as_str().unwrap(), "192.0.2.40")]
    );
    let cf = cmp.feed().await;
    let mut want = vec![
        mac(&leg.mac_address, "192.0.2.30"),
        mac(&dport.mac_address, "192.0.2.30"),
    ];
    want.sort();
    assert_eq!(pairs(&cf.networks[0]), want);
    // A node with nothing on the network has no part of it.
    assert!(other.feed().await.networks.is_empty());

    // Reports: a node sets the status of its own ports only.
    let r = other
        .report(json!({"compute": {"network_ports": {pid.clone(): "ACTIVE"}}}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = admin.get(&format!("/v2.0/ports/{pid}")).await.unwrap();
    assert_eq!(r.body["port"]["status"], "DOWN");
    let before = r.body["port"]["revision_number"].as_i64().unwrap();
    let r = cmp
        .report(json!({"compute": {"network_ports": {pid.clone(): "ACTIVE"}}}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = admin.get(&format!("/v2.0/ports/{pid}")).await.unwrap();
    assert_eq!(r.body["port"]["status"], "ACTIVE");
    assert_eq!(r.body["port"]["revision_number"], before + 1);
    // The router's port belongs to the network node hosting the router.
    let r = cmp
        .report(json!({"compute": {"network_ports": {rport.clone(): "DOWN"}}}))
        .await;
    assert_eq!(r.status, 204);
    let r = net
        .report(
            json!({"network": {"ports": {rport.clone(): "ACTIVE", dport.id.clone(): "ACTIVE"}}}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    for id in [&rport, &dport.id] {
        let r = admin.get(&format!("/v2.0/ports/{id}")).await.unwrap();
        assert_eq!(r.body["port"]["status"], "ACTIVE", "{id}");
    }
    // Bad statuses are refused; reports without ports change nothing.
    let r = cmp
        .report(json!({"compute": {"network_ports": {pid.clone(): "UP"}}}))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = cmp.report(json!({"compute": {"handled": false}})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let (rev, _) = cmp.desired().await;
    let r = cmp
        .report(json!({"compute": {"network_ports": {pid.clone(): "ACTIVE"}}}))
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        cmp.desired().await.0,
        rev,
        "an unchanged status bumps nothing"
    );
    let r = cmp
        .report(json!({"compute": {"network_ports": {pid.clone(): "DOWN"}}}))
        .await;
    assert_eq!(r.status, 204);
    let r = admin.get(&format!("/v2.0/ports/{pid}")).await.unwrap();
    assert_eq!(r.body["port"]["status"], "DOWN");

    // IPv6 subnets carry their RA and address modes (IPv4 ones null).
    let r = admin
        .post(
            "/v2.0/subnets",
            json!({"subnet": {"network_id": nid, "ip_version": 6, "cidr": "2001:db8:9::/64",
                "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let s6 = r.body["subnet"]["id"].as_str().unwrap().to_string();
    let f = net.feed().await;
    let fnet = f.networks.iter().find(|n| n.id == nid).unwrap();
    let v6 = fnet.subnets.iter().find(|s| s.id == s6).unwrap();
    assert_eq!(v6.ipv6_ra_mode.as_deref(), Some("slaac"));
    assert_eq!(v6.ipv6_address_mode.as_deref(), Some("slaac"));
    let v4 = fnet.subnets.iter().find(|s| s.id == sid).unwrap();
    assert!(v4.ipv6_ra_mode.is_none() && v4.ipv6_address_mode.is_none());
    cloud.stop().await;
}

/// A long-poll of `node`'s desired state after its current revision:
/// the status and how long it waited.
fn long_poll(node: &Node, rev: i64) -> tokio::task::JoinHandle<(u16, std::time::Duration)> {
    let internal = node.internal.clone();
    let (path, auth) = (
        format!(
            "/internal/v1/nodes/{}/desired-state?after={rev}&timeout=20",
            node.name
        ),
        node.auth.clone(),
    );
    tokio::spawn(async move {
        let t = std::time::Instant::now();
        let r = internal
            .send("GET", &path, None, &[("authorization", &auth)])
            .await
            .unwrap();
        (r.status, t.elapsed())
    })
}

async fn fip_of(admin: &Client, id: &str) -> Value {
    let r = admin.get(&format!("/v2.0/floatingips/{id}")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["floatingip"].clone()
}

#[tokio::test]
async fn the_feed_carries_floating_ips_and_reports_set_their_status() {
    let (cloud, admin) = start_with(|c| c.dataplane = "linux".into()).await;
    let net = Node::register(&cloud, "net-h", "192.0.2.60", &["network"]).await;
    let idle = Node::register(&cloud, "net-i", "192.0.2.61", &["network"]).await;
    net.desired().await;
    idle.desired().await;
    host_everything_on(&admin, "net-h").await;
    let (ext, ext_sub) = external(&admin, "198.51.100.0/24").await;
    let (inside, _, rid) = tenant_side(&admin, &ext, "10.11.0.0/24").await;
    let p = port(&admin, &inside).await;
    let pid = p["id"].as_str().unwrap().to_string();
    let ip = p["fixed_ips"][0]["ip_address"].as_str().unwrap();
    let f = fip(&admin, json!({"floating_network_id": ext["id"]})).await;
    let fid = f["id"].as_str().unwrap().to_string();
    let address = f["floating_ip_address"].as_str().unwrap();

    // Not associated: nothing to NAT yet.
    let router = |feed: &NodeFeed| feed.routers.iter().find(|r| r.id == rid).cloned();
    let r = router(&net.feed().await).unwrap();
    assert!(r.floatingips.is_empty() && r.port_forwardings.is_empty());
    assert_eq!(r.gateway.as_ref().unwrap().network_id, ext["id"]);

    // Associating wakes the hosting node's long-poll at once.
    let (rev, _) = net.desired().await;
    let poll = long_poll(&net, rev);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let r = admin
        .put(
            &format!("/v2.0/floatingips/{fid}"),
            Some(json!({"floatingip": {"port_id": pid}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["floatingip"]["status"], "DOWN", "until reported");
    let (status, waited) = poll.await.unwrap();
    assert_eq!(status, 200);
    assert!(waited < std::time::Duration::from_secs(10), "{waited:?}");

    let feed = net.feed().await;
    let r = router(&feed).unwrap();
    assert_eq!(r.floatingips.len(), 1, "{r:?}");
    let got = &r.floatingips[0];
    assert_eq!(got.id, fid);
    assert_eq!(got.floating_ip_address, address);
    assert_eq!(got.floating_network_id, ext["id"]);
    assert_eq!(got.fixed_ip_address, ip);
    assert_eq!(got.port_id, pid);
    assert_eq!(got.mac_address, p["mac_address"]);
    assert_eq!(got.status, "DOWN");
    // The gateway leg it is answered on is on that network's subnet.
    let gw = r.gateway.as_ref().unwrap();
    assert_eq!(gw.addresses[0].subnet_id, ext_sub["id"]);
    // The node not hosting the router has none of it.
    assert!(router(&idle.feed().await).is_none());

    // Reports: only the node hosting the router sets the status.
    let r = idle
        .report(json!({"network": {"floatingips": {fid.clone(): "ACTIVE"}}}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let before = fip_of(&admin, &fid).await;
    assert_eq!(before["status"], "DOWN");
    let r = net
        .report(json!({"network": {"floatingips": {fid.clone(): "ACTIVE"}}}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let after = fip_of(&admin, &fid).await;
    assert_eq!(after["status"], "ACTIVE");
    assert_eq!(
        after["revision_number"].as_i64().unwrap(),
        before["revision_number"].as_i64().unwrap() + 1
    );
    assert_eq!(
        router(&net.feed().await).unwrap().floatingips[0].status,
        "ACTIVE"
    );
    // The same again bumps nothing; a bad status is a 400.
    let (rev, _) = net.desired().await;
    let r = net
        .report(json!({"network": {"floatingips": {fid.clone(): "ACTIVE"}}}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        net.desired().await.0,
        rev,
        "an unchanged status bumps nothing"
    );
    let r = net
        .report(json!({"network": {"floatingips": {fid.clone(): "UP"}}}))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(fip_of(&admin, &fid).await["status"], "ACTIVE");
    let r = net
        .report(json!({"network": {"floatingips": {fid.clone(): "ERROR"}}}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(fip_of(&admin, &fid).await["status"], "ERROR");

    // A port forwarding: its rule, with its floating IP's address.
    let p2 = port(&admin, &inside).await;
    let ip2 = p2["fixed_ips"][0]["ip_address"].as_str().unwrap();
    let f2 = fip(&admin, json!({"floating_network_id": ext["id"]})).await;
    let r = admin
        .post(
            &format!(
                "/v2.0/floatingips/{}/port_forwardings",
                f2["id"].as_str().unwrap()
            ),
            json!({"port_forwarding": {"protocol": "tcp", "internal_ip_address": ip2,
                "internal_port": 22, "external_port": 2222, "internal_port_id": p2["id"]}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let pf_id = r.body["port_forwarding"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = router(&net.feed().await).unwrap();
    assert_eq!(r.floatingips.len(), 1, "a rule's floating IP has no port");
    assert_eq!(r.port_forwardings.len(), 1, "{r:?}");
    let pf = &r.port_forwardings[0];
    assert_eq!(pf.id, pf_id);
    assert_eq!(pf.floatingip_id, f2["id"]);
    assert_eq!(pf.floating_ip_address, f2["floating_ip_address"]);
    assert_eq!(pf.protocol, "tcp");
    assert_eq!((pf.external_port, pf.internal_port), (2222, 22));
    assert_eq!(pf.internal_ip_address, ip2);
    assert_eq!(pf.internal_port_id, p2["id"]);

    // Disassociated: gone from the feed, DOWN, and no longer the node's.
    let r = admin
        .put(
            &format!("/v2.0/floatingips/{fid}"),
            Some(json!({"floatingip": {"port_id": null}})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = router(&net.feed().await).unwrap();
    assert!(r.floatingips.is_empty(), "{r:?}");
    assert_eq!(r.port_forwardings.len(), 1);
    assert_eq!(fip_of(&admin, &fid).await["status"], "DOWN");
    let r = net
        .report(json!({"network": {"floatingips": {fid.clone(): "ACTIVE"}}}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(fip_of(&admin, &fid).await["status"], "DOWN");
    cloud.stop().await;
}

#[tokio::test]
async fn without_a_data_plane_floating_ip_reports_change_nothing() {
    let (cloud, admin) = start().await;
    let net = Node::register(&cloud, "net-j", "192.0.2.70", &["network"]).await;
    net.desired().await;
    host_everything_on(&admin, "net-j").await;
    let (ext, _) = external(&admin, "198.51.100.0/24").await;
    let (inside, _, rid) = tenant_side(&admin, &ext, "10.12.0.0/24").await;
    let p = port(&admin, &inside).await;
    let f = fip(
        &admin,
        json!({"floating_network_id": ext["id"], "port_id": p["id"]}),
    )
    .await;
    let fid = f["id"].as_str().unwrap().to_string();
    assert_eq!(f["status"], "ACTIVE", "a router serves it");
    let feed = net.feed().await;
    let r = feed.routers.iter().find(|r| r.id == rid).unwrap();
    assert_eq!(r.floatingips[0].id, fid);
    assert_eq!(r.floatingips[0].status, "ACTIVE");
    let (rev, _) = net.desired().await;
    let r = net
        .report(json!({"network": {"floatingips": {fid.clone(): "DOWN"}}}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(fip_of(&admin, &fid).await["status"], "ACTIVE");
    assert_eq!(net.desired().await.0, rev);
    // Still validated.
    let r = net
        .report(json!({"network": {"floatingips": {fid.clone(): "UP"}}}))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    cloud.stop().await;
}

/// A port on `net` for instance `vm` (empty: none): the port.
async fn instance_port(admin: &Client, net: &Value, vm: &str) -> Value {
    let r = admin
        .post(
            "/v2.0/ports",
            json!({"port": {"network_id": net["id"], "device_owner": "compute:nova",
                "device_id": vm}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["port"].clone()
}

#[tokio::test]
async fn the_feed_names_the_instances_the_metadata_proxy_serves() {
    let (cloud, admin) = start_with(|c| c.dataplane = "linux".into()).await;
    let net = Node::register(&cloud, "net-m", "192.0.2.70", &["network"]).await;
    let cmp = Node::register(&cloud, "cmp-m", "192.0.2.71", &["compute"]).await;
    net.desired().await;
    cmp.desired().await;
    host_everything_on(&admin, "net-m").await;

    // Routed (a router interface, no DHCP), isolated (DHCP, no router),
    // and one served by neither.
    let routed = create_network(&admin, json!({"name": "routed"})).await;
    let r = admin
        .post(
            "/v2.0/subnets",
            json!({"subnet": {"network_id": routed["id"], "ip_version": 4,
                "cidr": "10.12.1.0/24", "enable_dhcp": false}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let routed_subnet = r.body["subnet"]["id"].clone();
    let r = admin
        .post("/v2.0/routers", json!({"router": {"name": "mr"}}))
        .await
        .unwrap();
    let rid = r.body["router"]["id"].as_str().unwrap().to_string();
    let r = admin
        .put(
            &format!("/v2.0/routers/{rid}/add_router_interface"),
            Some(json!({"subnet_id": routed_subnet})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let isolated = create_network(&admin, json!({"name": "isolated"})).await;
    super::floatingips::subnet(&admin, &isolated, "10.12.2.0/24").await;
    let neither = create_network(&admin, json!({"name": "neither"})).await;
    let r = admin
        .post(
            "/v2.0/subnets",
            json!({"subnet": {"network_id": neither["id"], "ip_version": 4,
                "cidr": "10.12.3.0/24", "enable_dhcp": false}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);

    let vr = instance_port(&admin, &routed, "vm-r").await;
    let vi = instance_port(&admin, &isolated, "vm-i").await;
    instance_port(&admin, &neither, "vm-x").await;
    // No instance behind it: nothing to name.
    instance_port(&admin, &routed, "").await;

    let f = net.feed().await;
    let got: Vec<(String, String, String, String, String)> = f
        .metadata
        .iter()
        .map(|m| {
            (
                m.network_id.clone(),
                m.ip_address.clone(),
                m.port_id.clone(),
                m.device_id.clone(),
                m.project_id.clone(),
            )
        })
        .collect();
    let mut want: Vec<(String, String, String, String, String)> = [&vr, &vi]
        .iter()
        .map(|p| {
            (
                p["network_id"].as_str().unwrap().to_string(),
                p["fixed_ips"][0]["ip_address"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                p["id"].as_str().unwrap().to_string(),
                p["device_id"].as_str().unwrap().to_string(),
                p["project_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    want.sort();
    assert_eq!(got, want, "{f:?}");
    // A node without the network role proxies nothing.
    assert!(cmp.feed().await.metadata.is_empty());
    cloud.stop().await;
}

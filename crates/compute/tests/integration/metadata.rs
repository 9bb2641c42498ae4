//! The metadata API on its own listener: the proxy's signed headers
//! (computed here from the cloud's join secret, as the agent does), the
//! EC2 tree and the OpenStack documents of a server on the fake driver.

use super::servers::{create, image, network, wait_status};
use super::*;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const PUBKEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPWGLf3G/5YmX0jE3pUq7PS8Y7YyOAkQbDX/jrmlFyQ7 test@example";

struct Md {
    client: Client,
    secret: String,
}

impl Md {
    fn new(cloud: &TestCloud) -> Md {
        let nova = cloud.cloud.service::<compute::Compute>().unwrap();
        let addr = nova.metadata_addr().unwrap();
        let join = nodes::secret::read(&cloud.cloud.state.path.join(nodes::SECRET_FILE)).unwrap();
        Md {
            client: Client::new(&format!("http://{addr}")),
            secret: nodes::secret::metadata_secret(&join),
        }
    }

    /// GET `path` as the proxy asks for `instance` of `tenant`.
    async fn get(&self, path: &str, instance: &str, tenant: &str) -> Resp {
        let sig = nodes::secret::sign_instance_id(&self.secret, instance);
        self.raw(
            path,
            &[
                ("x-instance-id", instance),
                ("x-tenant-id", tenant),
                ("x-instance-id-signature", &sig),
                ("x-forwarded-for", "10.0.0.99"),
            ],
        )
        .await
    }

    async fn raw(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.client.send("GET", path, None, headers).await.unwrap()
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn lines(r: &Resp) -> Vec<String> {
    r.text.lines().map(str::to_string).collect()
}

#[tokio::test]
async fn a_servers_metadata_is_served_to_its_signed_proxy_only() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (user, project) = project_user(&cloud, "md1", "member").await;
    let net = network(&cloud, &user, "private", "10.0.0.0/24").await;
    let r = user
        .post(
            "/v2.1/os-keypairs",
            json!({"keypair": {"name": "k1", "public_key": PUBKEY}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let user_data = "#!/bin/sh\necho hello\n";
    let b64 = base64::engine::general_purpose::STANDARD.encode(user_data);
    let r = create(
        &user,
        json!({"name": "vm-md", "imageRef": img, "flavorRef": "1", "key_name": "k1",
               "user_data": b64, "metadata": {"role": "web"},
               "networks": [{"uuid": net}]}),
        "2.37",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let s = wait_status(&user, &id, "ACTIVE").await;
    let ip = s["addresses"]["private"][0]["addr"]
        .as_str()
        .unwrap()
        .to_string();
    let md = Md::new(&cloud);

    // `/` needs no identification.
    let r = md.raw("/", &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        lines(&r),
        [
            "1.0",
            "2007-01-19",
            "2007-03-01",
            "2007-08-29",
            "2007-10-10",
            "2007-12-15",
            "2008-02-01",
            "2008-09-01",
            "2009-04-04",
            "latest"
        ]
    );

    // The OpenStack versions and documents.
    let r = md.get("/openstack", &id, &project).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = lines(&r);
    assert_eq!(v.first().map(String::as_str), Some("2012-08-10"));
    assert!(v.contains(&"2018-08-27".to_string()), "{v:?}");
    assert_eq!(v.last().map(String::as_str), Some("latest"));
    let r = md.get("/openstack/latest", &id, &project).await;
    assert_eq!(
        lines(&r),
        [
            "meta_data.json",
            "user_data",
            "password",
            "vendor_data.json",
            "network_data.json",
            "vendor_data2.json"
        ]
    );
    let r = md.get("/openstack/2012-08-10", &id, &project).await;
    assert_eq!(lines(&r), ["meta_data.json", "user_data"]);

    let r = md
        .get("/openstack/latest/meta_data.json", &id, &project)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let m = &r.body;
    let want: BTreeSet<String> = [
        "uuid",
        "meta",
        "public_keys",
        "keys",
        "hostname",
        "name",
        "launch_index",
        "availability_zone",
        "random_seed",
        "project_id",
        "devices",
        "dedicated_cpus",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(keys(m), want);
    assert_eq!(m["uuid"], id.as_str());
    assert_eq!(m["name"], "vm-md");
    assert_eq!(m["hostname"], "vm-md.novalocal");
    assert_eq!(m["meta"], json!({"role": "web"}));
    assert_eq!(m["public_keys"], json!({ "k1": PUBKEY }));
    assert_eq!(
        m["keys"],
        json!([{"name": "k1", "type": "ssh", "data": PUBKEY}])
    );
    assert_eq!(m["launch_index"], 0);
    assert_eq!(m["availability_zone"], "nova");
    assert_eq!(m["project_id"], project.as_str());
    assert_eq!(m["devices"], json!([]));
    assert_eq!(m["dedicated_cpus"], json!([]));
    let seed = base64::engine::general_purpose::STANDARD
        .decode(m["random_seed"].as_str().unwrap())
        .unwrap();
    assert_eq!(seed.len(), 512);
    // Folsom's document has neither the seed nor the project.
    let r = md
        .get("/openstack/2012-08-10/meta_data.json", &id, &project)
        .await;
    assert!(r.body.get("random_seed").is_none() && r.body.get("project_id").is_none());
    assert!(r.body.get("devices").is_none());

    let r = md.get("/openstack/latest/user_data", &id, &project).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, user_data);
    let r = md.get("/openstack/latest/password", &id, &project).await;
    assert_eq!((r.status, r.text.as_str()), (200, ""));
    let r = md
        .get("/openstack/latest/vendor_data.json", &id, &project)
        .await;
    assert_eq!((r.status, &r.body), (200, &json!({})));
    let r = md
        .get("/openstack/latest/vendor_data2.json", &id, &project)
        .await;
    assert_eq!((r.status, &r.body), (200, &json!({"static": {}})));
    let r = md
        .get("/openstack/2012-08-10/password", &id, &project)
        .await;
    assert_error(&r, 404, "itemNotFound");
    let r = md
        .get("/openstack/1999-01-01/meta_data.json", &id, &project)
        .await;
    assert_error(&r, 404, "itemNotFound");

    // network_data.json: the port's link and its DHCP subnet.
    let r = md
        .get("/openstack/latest/network_data.json", &id, &project)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let nd = &r.body;
    assert_eq!(
        keys(nd),
        ["links", "networks", "services"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    let link = &nd["links"][0];
    assert_eq!(
        keys(link),
        ["id", "vif_id", "type", "mtu", "ethernet_mac_address"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    let port = link["vif_id"].as_str().unwrap();
    assert_eq!(link["id"], format!("tap{}", &port[..11]));
    assert_eq!(
        nd["networks"],
        json!([{"id": "network0", "type": "ipv4_dhcp", "link": link["id"], "network_id": net}])
    );

    // The EC2 tree.
    let r = md.get("/latest", &id, &project).await;
    assert_eq!(lines(&r), ["meta-data/", "user-data"]);
    let r = md.get("/latest/meta-data/", &id, &project).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        lines(&r),
        [
            "ami-id",
            "ami-launch-index",
            "ami-manifest-path",
            "block-device-mapping/",
            "hostname",
            "instance-action",
            "instance-id",
            "instance-type",
            "local-hostname",
            "local-ipv4",
            "placement/",
            "public-hostname",
            "public-ipv4",
            "public-keys/",
            "reservation-id",
            "security-groups"
        ]
    );
    let leaf = |p: &'static str| {
        let md = &md;
        let (id, project) = (id.clone(), project.clone());
        async move {
            let r = md
                .get(&format!("/latest/meta-data/{p}"), &id, &project)
                .await;
            assert_eq!(r.status, 200, "{p}: {}", r.text);
            r.text
        }
    };
    let iid = leaf("instance-id").await;
    assert!(
        iid.len() == 10 && iid.starts_with("i-") && u32::from_str_radix(&iid[2..], 16).is_ok(),
        "{iid}"
    );
    // Stable: the same id again.
    assert_eq!(leaf("instance-id").await, iid);
    let ami = leaf("ami-id").await;
    assert!(ami.starts_with("ami-") && ami.len() == 12, "{ami}");
    assert_eq!(leaf("hostname").await, "vm-md.novalocal");
    assert_eq!(leaf("local-hostname").await, "vm-md.novalocal");
    assert_eq!(leaf("public-hostname").await, "vm-md.novalocal");
    assert_eq!(leaf("local-ipv4").await, ip);
    assert_eq!(leaf("public-ipv4").await, "");
    assert_eq!(leaf("placement/availability-zone").await, "nova");
    assert_eq!(leaf("public-keys/").await, "0=k1");
    assert_eq!(leaf("public-keys/0").await, "openssh-key");
    assert_eq!(leaf("public-keys/0/openssh-key").await, PUBKEY);
    assert!(leaf("reservation-id").await.starts_with("r-"));
    assert_eq!(leaf("security-groups").await, "default");
    assert_eq!(leaf("instance-type").await, "m1.tiny");
    assert_eq!(leaf("block-device-mapping/").await, "ami\nroot");
    assert_eq!(leaf("block-device-mapping/root").await, "/dev/vda");
    assert_eq!(leaf("ami-launch-index").await, "0");
    let r = md.get("/latest/user-data", &id, &project).await;
    assert_eq!((r.status, r.text.as_str()), (200, user_data));
    // An old version has fewer leaves.
    let r = md.get("/1.0/meta-data/", &id, &project).await;
    assert!(!lines(&r).contains(&"placement/".to_string()), "{}", r.text);
    let r = md
        .get("/latest/meta-data/no-such-leaf", &id, &project)
        .await;
    assert_error(&r, 404, "itemNotFound");
    let r = md.get("/2001-01-01/meta-data/", &id, &project).await;
    assert_error(&r, 404, "itemNotFound");

    // A floating IP is the public address.
    let n = admin.at(&cloud.url("network"));
    let r = n
        .post(
            "/v2.0/networks",
            json!({"network": {"name": "public", "router:external": true}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let ext = r.body["network"]["id"].as_str().unwrap().to_string();
    let r = n
        .post(
            "/v2.0/subnets",
            json!({"subnet": {"network_id": ext, "cidr": "172.24.4.0/24", "ip_version": 4}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let un = user.at(&cloud.url("network"));
    let r = un
        .post(
            "/v2.0/routers",
            json!({"router": {"name": "r", "external_gateway_info": {"network_id": ext}}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let router = r.body["router"]["id"].as_str().unwrap().to_string();
    let r = un
        .get(&format!("/v2.0/subnets?network_id={net}"))
        .await
        .unwrap();
    let subnet = r.body["subnets"][0]["id"].as_str().unwrap().to_string();
    let r = un
        .put(
            &format!("/v2.0/routers/{router}/add_router_interface"),
            Some(json!({"subnet_id": subnet})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = un
        .post(
            "/v2.0/floatingips",
            json!({"floatingip": {"floating_network_id": ext, "port_id": port}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let fip = r.body["floatingip"]["floating_ip_address"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(leaf("public-ipv4").await, fip);

    // Refusals: no headers, a bad signature, another project, unknown.
    let r = md.raw("/latest/meta-data/", &[]).await;
    assert_error(&r, 400, "badRequest");
    assert!(
        r.text.contains("X-Instance-ID header is missing"),
        "{}",
        r.text
    );
    let r = md
        .raw(
            "/latest/meta-data/",
            &[("x-instance-id", &id), ("x-tenant-id", &project)],
        )
        .await;
    assert_error(&r, 400, "badRequest");
    let r = md
        .raw(
            "/latest/meta-data/",
            &[
                ("x-instance-id", &id),
                ("x-tenant-id", &project),
                ("x-instance-id-signature", &"0".repeat(64)),
            ],
        )
        .await;
    assert_error(&r, 403, "forbidden");
    // Signed with another secret (another cluster's proxy).
    let wrong = nodes::secret::sign_instance_id(&nodes::secret::metadata_secret("x"), &id);
    let r = md
        .raw(
            "/latest/meta-data/",
            &[
                ("x-instance-id", &id),
                ("x-tenant-id", &project),
                ("x-instance-id-signature", &wrong),
            ],
        )
        .await;
    assert_error(&r, 403, "forbidden");
    let (_, other) = project_user(&cloud, "md2", "member").await;
    let r = md.get("/latest/meta-data/", &id, &other).await;
    assert_error(&r, 404, "itemNotFound");
    let r = md
        .get(
            "/latest/meta-data/",
            "00000000-0000-0000-0000-000000000000",
            &project,
        )
        .await;
    assert_error(&r, 404, "itemNotFound");

    // A deleted server is gone.
    let r = user.delete(&format!("/v2.1/servers/{id}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = md
        .get("/openstack/latest/meta_data.json", &id, &project)
        .await;
    assert_error(&r, 404, "itemNotFound");
}

#[tokio::test]
async fn no_user_data_and_no_key_are_absent() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (user, project) = project_user(&cloud, "md3", "member").await;
    network(&cloud, &user, "private", "10.1.0.0/24").await;
    let r = create(
        &user,
        json!({"name": "bare", "imageRef": img, "flavorRef": "1"}),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(&user, &id, "ACTIVE").await;
    let md = Md::new(&cloud);
    let r = md.get("/openstack/latest/user_data", &id, &project).await;
    assert_error(&r, 404, "itemNotFound");
    let r = md.get("/latest/user-data", &id, &project).await;
    assert_error(&r, 404, "itemNotFound");
    let r = md.get("/openstack/latest", &id, &project).await;
    assert!(!lines(&r).contains(&"user_data".to_string()), "{}", r.text);
    let r = md
        .get("/openstack/latest/meta_data.json", &id, &project)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for k in ["meta", "public_keys", "keys"] {
        assert!(r.body.get(k).is_none(), "{k}: {}", r.text);
    }
    let r = md.get("/latest/meta-data/", &id, &project).await;
    assert!(
        !lines(&r).contains(&"public-keys/".to_string()),
        "{}",
        r.text
    );
    assert_eq!(
        lines(&md.get("/latest", &id, &project).await),
        ["meta-data/"]
    );
    // Two servers get different EC2 ids.
    let first = md
        .get("/latest/meta-data/instance-id", &id, &project)
        .await
        .text;
    let r = create(
        &user,
        json!({"name": "bare2", "imageRef": img, "flavorRef": "1"}),
        "2.1",
    )
    .await;
    let id2 = r.body["server"]["id"].as_str().unwrap().to_string();
    let second = md
        .get("/latest/meta-data/instance-id", &id2, &project)
        .await
        .text;
    assert_ne!(first, second);
    // Only GET is served.
    let sig = nodes::secret::sign_instance_id(&md.secret, &id);
    let r = md
        .client
        .send(
            "POST",
            "/openstack/latest/meta_data.json",
            None,
            &[
                ("x-instance-id", &id),
                ("x-tenant-id", &project),
                ("x-instance-id-signature", &sig),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 405, "{}", r.text);
}

#[tokio::test]
async fn a_static_subnet_shows_its_address_routes_and_dns() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (user, project) = project_user(&cloud, "md4", "member").await;
    let n = user.at(&cloud.url("network"));
    let r = n
        .post("/v2.0/networks", json!({"network": {"name": "static"}}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let net = r.body["network"]["id"].as_str().unwrap().to_string();
    let mtu = r.body["network"]["mtu"].clone();
    let r = n
        .post(
            "/v2.0/subnets",
            json!({"subnet": {"network_id": net, "cidr": "10.2.0.0/24", "ip_version": 4,
                "enable_dhcp": false, "dns_nameservers": ["10.2.0.53"],
                "host_routes": [{"destination": "192.168.0.0/16", "nexthop": "10.2.0.254"}]}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = create(
        &user,
        json!({"name": "static-vm", "imageRef": img, "flavorRef": "1"}),
        "2.1",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let s = wait_status(&user, &id, "ACTIVE").await;
    let ip = s["addresses"]["static"][0]["addr"].as_str().unwrap();
    let md = Md::new(&cloud);
    let r = md
        .get("/openstack/2015-10-15/network_data.json", &id, &project)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let link = &r.body["links"][0];
    // No DHCP server on the network: the link carries the network's MTU.
    assert_eq!(link["mtu"], mtu);
    // The port is bound to the server's host: the Linux bridge VIF type.
    assert_eq!(link["type"], "bridge", "{link}");
    let dns = json!([{"type": "dns", "address": "10.2.0.53"}]);
    assert_eq!(
        r.body["networks"],
        json!([{
            "id": "network0", "type": "ipv4", "link": link["id"], "ip_address": ip,
            "netmask": "255.255.255.0", "network_id": net, "services": dns,
            "routes": [
                {"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.2.0.1"},
                {"network": "192.168.0.0", "netmask": "255.255.0.0", "gateway": "10.2.0.254"}
            ]
        }])
    );
    assert_eq!(r.body["services"], dns);
}

#[tokio::test]
async fn a_guest_posts_its_password_once_and_the_owner_reads_and_clears_it() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (user, project) = project_user(&cloud, "pw", "member").await;
    let r = create(
        &user,
        json!({"name": "p", "imageRef": img, "flavorRef": "1", "networks": "none"}),
        "2.37",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(&user, &id, "ACTIVE").await;
    let md = Md::new(&cloud);
    let sig = nodes::secret::sign_instance_id(&md.secret, &id);
    let headers = [
        ("x-instance-id", id.as_str()),
        ("x-tenant-id", project.as_str()),
        ("x-instance-id-signature", sig.as_str()),
        ("x-forwarded-for", "10.0.0.99"),
    ];
    let post = |path: &'static str, body: Vec<u8>| {
        let c = &md.client;
        let h = &headers;
        async move {
            c.send_bytes("POST", path, bytes::Bytes::from(body), h)
                .await
                .unwrap()
        }
    };
    let r = md.get("/openstack/latest/password", &id, &project).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, "");
    let r = user
        .get(&format!("/v2.1/servers/{id}/os-server-password"))
        .await
        .unwrap();
    assert_eq!(r.body, json!({"password": ""}));
    // Too large; then set; then set again is a 409.
    let r = post("/openstack/latest/password", vec![b'x'; 257]).await;
    assert_error(&r, 400, "badRequest");
    let r = post("/openstack/2013-04-04/password", b"c2VjcmV0".to_vec()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = post("/openstack/latest/password", b"other".to_vec()).await;
    assert_error(&r, 409, "conflictingRequest");
    // Versions before Grizzly have no password; other paths take no POST.
    let r = post("/openstack/2012-08-10/password", b"x".to_vec()).await;
    assert_error(&r, 404, "itemNotFound");
    let r = post("/openstack/latest/meta_data.json", b"x".to_vec()).await;
    assert_eq!(r.status, 405, "{}", r.text);
    let r = md.get("/openstack/latest/password", &id, &project).await;
    assert_eq!(r.text, "c2VjcmV0");
    let path = format!("/v2.1/servers/{id}/os-server-password");
    let r = user.get(&path).await.unwrap();
    assert_eq!(r.body, json!({"password": "c2VjcmV0"}));
    // Another project sees no server; the owner clears it.
    let (other, _) = project_user(&cloud, "pw2", "member").await;
    assert_error(&other.get(&path).await.unwrap(), 404, "itemNotFound");
    let r = user.delete(&path).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let r = user.get(&path).await.unwrap();
    assert_eq!(r.body, json!({"password": ""}));
    cloud.stop().await;
}

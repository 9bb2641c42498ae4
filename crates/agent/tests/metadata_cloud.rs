//! The metadata proxy through the real path: an in-process cloud
//! (`dataplane = linux`) and a real agent running the network role with
//! its metadata proxy in a simulated host namespace. A test HTTP server on
//! loopback stands in for the metadata API: it checks
//! `X-Instance-ID-Signature` against the secret derived from the cloud's
//! join secret (403 otherwise) and answers with the instance, project and
//! forwarded address it was asked about.
//!
//! - An instance behind a router (static address, default route via the
//!   router) GETs `http://169.254.169.254/latest/meta-data/instance-id`
//!   and gets the stand-in's answer for *its* instance and project.
//! - An address on that network no port holds is refused (404).
//! - On a network with no router, an instance gets its address and the
//!   route to 169.254.169.254 via the DHCP port from the role's dnsmasq
//!   (busybox `udhcpc`, option 121), and the same GET is answered through
//!   the DHCP namespace for its instance.
//! - Listeners follow the feed: once the router's interface is removed
//!   its listener is closed (the GET is refused) while the DHCP
//!   namespace's keeps answering.
//!
//! A second test puts the real metadata API (the compute service's)
//! behind the proxy: an instance whose port belongs to a server reads
//! that server's `meta_data.json`, user data and EC2 `instance-id`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use agent::net::link::Netlink;
use agent::net::netns;
use agent::net::router::namespace_name;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::json;
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use support::{
    blocking, bound_port, dhcp_port, flat_net, http_get, plug_instance, port_triple, post, put,
    udhcpc_lease, wait_port, Cleanup, SimCloud, SimHost,
};
use testkit::require_root;
use testkit::root::Need;

const PREFIX: &str = "oxt-md-";
const MD: &str = "169.254.169.254";
const PATH: &str = "/latest/meta-data/instance-id";

/// The stand-in metadata API: checks the signature as Nova does and
/// answers `instance=… tenant=… for=… path=…`.
async fn stand_in(secret: Arc<OnceLock<String>>) -> (String, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let app = axum::Router::new().fallback(move |h: HeaderMap, uri: Uri| {
        let secret = secret.clone();
        async move {
            let get = |k: &str| {
                h.get(k)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string()
            };
            let (id, sig) = (get("x-instance-id"), get("x-instance-id-signature"));
            let Some(s) = secret.get() else {
                return (StatusCode::SERVICE_UNAVAILABLE, String::new());
            };
            if id.is_empty() || sig != nodes::secret::sign_instance_id(s, &id) {
                return (StatusCode::FORBIDDEN, "bad signature".to_string());
            }
            (
                StatusCode::OK,
                format!(
                    "instance={id} tenant={} for={} path={uri}",
                    get("x-tenant-id"),
                    get("x-forwarded-for")
                ),
            )
        }
    });
    let task = tokio::spawn(async move {
        axum::serve(l, app).await.unwrap();
    });
    (url, task)
}

/// Retries the GET from `ns` for up to 20 s until it gets `want`.
async fn wait_get(ns: &'static str, want: u16) -> String {
    let mut last = Err(String::new());
    for _ in 0..40 {
        last = blocking(move || http_get(ns, MD, PATH)).await;
        if let Ok((s, body)) = &last {
            if *s == want {
                return body.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{ns}: GET http://{MD}{PATH} never answered {want}: {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_instances_reach_metadata_through_router_and_dhcp_namespaces() {
    require_root!(
        Need::NetNs,
        Need::Command("nft"),
        Need::Command("dnsmasq"),
        Need::Command("busybox"),
        Need::Command("python3")
    );
    let (h, va, vu, vb) = ("oxt-md-h", "oxt-md-va", "oxt-md-vu", "oxt-md-vb");
    let dhcp_dir = std::env::temp_dir().join(format!("oxt-md-dhcp-{}", std::process::id()));
    let _cleanup = Cleanup::create(PREFIX, vec![h, va, vu, vb], Some(dhcp_dir.clone()));
    let host = Netlink::open(Some(h)).unwrap();
    host.add_veth("oxmda0", "oxmda1", None).await.unwrap();
    host.add_veth("oxmdb0", "oxmdb1", None).await.unwrap();
    for l in ["oxmda1", "oxmdb1"] {
        host.set_up(l).await.unwrap();
    }

    let secret = Arc::new(OnceLock::new());
    let (url, stand_in_task) = stand_in(secret.clone()).await;
    let cloud = SimCloud::start_with_metadata(
        SimHost {
            node: "oxt-md-node",
            address: "192.0.2.83",
            namespace: h,
            prefix: PREFIX,
            mappings: BTreeMap::from([
                ("phys-a".into(), "oxmda0".into()),
                ("phys-b".into(), "oxmdb0".into()),
            ]),
            dhcp_dir: Some(dhcp_dir.clone()),
        },
        &url,
    )
    .await;
    // The metadata API's side: the same derivation from the join secret.
    let join = nodes::secret::read(&cloud.tc.cloud.state.path.join(nodes::SECRET_FILE)).unwrap();
    secret.set(nodes::secret::metadata_secret(&join)).unwrap();
    let (admin, node) = (&cloud.admin, cloud.node);
    cloud.only_agent_here("L3 agent").await;
    cloud.only_agent_here("DHCP agent").await;

    // Routed: a router with an interface on subnet A (no gateway needed).
    let (na, sa) = flat_net(admin, "phys-a", "10.83.1.0/24", "10.83.1.1", false, false).await;
    let r = post(admin, "/v2.0/routers", json!({"router": {"name": "md"}})).await;
    let rid = r["router"]["id"].as_str().unwrap().to_string();
    let leg = support::router_interface(admin, &rid, &sa).await;
    let pa = bound_port(admin, node, &na, va, json!({})).await;
    let project = pa["project_id"].as_str().unwrap().to_string();
    let (pa, maca, ipa) = port_triple(&pa);
    plug_instance(&host, va, &pa, &maca, Some((&ipa, 24)), Some("10.83.1.1")).await;
    // A port without port security, whose "instance" uses an address
    // no port holds.
    let (pu, macu, _) = port_triple(
        &bound_port(
            admin,
            node,
            &na,
            vu,
            json!({"port_security_enabled": false, "security_groups": []}),
        )
        .await,
    );
    plug_instance(
        &host,
        vu,
        &pu,
        &macu,
        Some(("10.83.1.200", 24)),
        Some("10.83.1.1"),
    )
    .await;
    wait_port(admin, &leg, "ACTIVE").await;
    wait_port(admin, &pa, "ACTIVE").await;

    let body = wait_get(va, 200).await;
    assert_eq!(
        body,
        format!("instance={va} tenant={project} for={ipa} path={PATH}"),
        "the routed instance's metadata"
    );
    assert!(netns::exists(&namespace_name(PREFIX, &rid)));
    let (status, _) = blocking(move || http_get(vu, MD, PATH)).await.unwrap();
    assert_eq!(status, 404, "an address no port holds");

    // Isolated: no router; address and metadata route from dnsmasq.
    let (nb, _) = flat_net(admin, "phys-b", "10.83.2.0/24", "10.83.2.1", false, true).await;
    let dp = dhcp_port(admin, &nb).await;
    wait_port(admin, &dp, "ACTIVE").await;
    let dhcp_ip = admin.get(&format!("/v2.0/ports/{dp}")).await.unwrap().body["port"]["fixed_ips"]
        [0]["ip_address"]
        .as_str()
        .unwrap()
        .to_string();
    let (pb, macb, ipb) = port_triple(&bound_port(admin, node, &nb, vb, json!({})).await);
    plug_instance(&host, vb, &pb, &macb, None, None).await;
    wait_port(admin, &pb, "ACTIVE").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let lease = blocking(move || udhcpc_lease(vb, &d))
        .await
        .expect("no lease");
    assert_eq!(lease.ip, ipb);
    let routes: Vec<&str> = lease.staticroutes.split_whitespace().collect();
    let pairs: Vec<(&str, &str)> = routes.chunks(2).map(|c| (c[0], c[1])).collect();
    assert!(
        pairs.contains(&("169.254.169.254/32", dhcp_ip.as_str())),
        "option 121 routes the metadata address via the DHCP port: {lease:?}"
    );
    // Apply the lease as udhcpc's default script would.
    let inside = Netlink::open(Some(vb)).unwrap();
    inside
        .add_address("eth0", ipb.parse().unwrap(), 24)
        .await
        .unwrap();
    for (dest, via) in &pairs {
        let st = Command::new("ip")
            .args(["-n", vb, "route", "replace", dest, "via", via])
            .status()
            .unwrap();
        assert!(st.success(), "route {dest} via {via}");
    }
    let body = wait_get(vb, 200).await;
    assert_eq!(
        body,
        format!("instance={vb} tenant={project} for={ipb} path={PATH}"),
        "the isolated instance's metadata"
    );

    // Subnet A loses its router interface: the router serves nobody, its
    // listener closes (A has no DHCP), the isolated instance keeps its
    // answers.
    put(
        admin,
        &format!("/v2.0/routers/{rid}/remove_router_interface"),
        json!({"subnet_id": sa}),
    )
    .await;
    for _ in 0..200 {
        if blocking(move || http_get(va, MD, PATH)).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        blocking(move || http_get(va, MD, PATH)).await.is_err(),
        "metadata still answered after the router's interface went"
    );
    assert_eq!(
        wait_get(vb, 200).await.split(' ').next(),
        Some("instance=oxt-md-vb")
    );

    cloud.stop().await;
    stand_in_task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_an_instance_reads_its_servers_metadata_from_the_compute_service() {
    require_root!(Need::NetNs, Need::Command("nft"), Need::Command("python3"));
    let (h, vr) = ("oxt-mr-h", "oxt-mr-vr");
    let _cleanup = Cleanup::create("oxt-mr-", vec![h, vr], None);
    let host = Netlink::open(Some(h)).unwrap();
    host.add_veth("oxmrc0", "oxmrc1", None).await.unwrap();
    host.set_up("oxmrc1").await.unwrap();
    let cloud = SimCloud::start_with_real_metadata(SimHost {
        node: "oxt-mr-node",
        address: "192.0.2.84",
        namespace: h,
        prefix: "oxt-mr-",
        mappings: BTreeMap::from([("phys-c".into(), "oxmrc0".into())]),
        dhcp_dir: None,
    })
    .await;
    let (admin, node) = (&cloud.admin, cloud.node);
    cloud.only_agent_here("L3 agent").await;

    // A server (fake driver, no ports of its own) in the admin's project.
    let base = cloud.tc.admin().await.unwrap();
    let glance = base.at(&cloud.tc.url("image"));
    let r = glance
        .post(
            "/v2/images",
            json!({"name": "img", "disk_format": "raw", "container_format": "bare"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let img = r.body["id"].as_str().unwrap().to_string();
    let r = glance
        .send_bytes(
            "PUT",
            &format!("/v2/images/{img}/file"),
            bytes::Bytes::from_static(b"disk"),
            &[("content-type", "application/octet-stream")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let nova = base.at(&cloud.tc.url("compute"));
    let r = nova
        .send(
            "POST",
            "/v2.1/servers",
            Some(
                &json!({"server": {"name": "md-real", "imageRef": img, "flavorRef": "1",
                "networks": "none", "user_data": "aGVsbG8=", "metadata": {"k": "v"}}}),
            ),
            &[("openstack-api-version", "compute 2.37")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    let server = r.body["server"]["id"].as_str().unwrap().to_string();
    let mut active = false;
    for _ in 0..200 {
        let r = nova.get(&format!("/v2.1/servers/{server}")).await.unwrap();
        if r.body["server"]["status"] == "ACTIVE" {
            active = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(active, "the server never became ACTIVE");

    // Its port on a routed network, plugged here: the proxy names the
    // server (the port's device) to the metadata API.
    let (nc, sc) = flat_net(admin, "phys-c", "10.84.1.0/24", "10.84.1.1", false, false).await;
    let r = post(admin, "/v2.0/routers", json!({"router": {"name": "mr"}})).await;
    let rid = r["router"]["id"].as_str().unwrap().to_string();
    let leg = support::router_interface(admin, &rid, &sc).await;
    let (pc, macc, ipc) = port_triple(&bound_port(admin, node, &nc, &server, json!({})).await);
    plug_instance(&host, vr, &pc, &macc, Some((&ipc, 24)), Some("10.84.1.1")).await;
    wait_port(admin, &leg, "ACTIVE").await;
    wait_port(admin, &pc, "ACTIVE").await;

    let mut last = Err(String::new());
    for _ in 0..40 {
        last = blocking(move || http_get(vr, MD, "/openstack/latest/meta_data.json")).await;
        if matches!(&last, Ok((200, _))) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (status, body) = last.unwrap();
    assert_eq!(status, 200, "{body}");
    let m: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(m["uuid"], server.as_str());
    assert_eq!(m["name"], "md-real");
    assert_eq!(m["meta"], json!({"k": "v"}));
    let (status, body) = blocking(move || http_get(vr, MD, "/latest/user-data"))
        .await
        .unwrap();
    assert_eq!((status, body.as_str()), (200, "hello"));
    let (status, body) = blocking(move || http_get(vr, MD, "/latest/meta-data/local-ipv4"))
        .await
        .unwrap();
    assert_eq!((status, body), (200, ipc.clone()));
    let (status, body) = blocking(move || http_get(vr, MD, "/latest/meta-data/instance-id"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("i-") && body.len() == 10, "{body}");

    cloud.stop().await;
}

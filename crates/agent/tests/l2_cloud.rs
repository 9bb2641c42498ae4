//! The network role inside a real agent against a real in-process cloud
//! (`dataplane = linux`): a port created through the API and bound to the
//! node becomes ACTIVE once its tap appears and the role plugs it, and
//! DOWN when the tap goes, with no new API write in between (the role's
//! change signal makes the agent report again).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agent::net::l2::{bridge_name, tap_name, L2Config};
use agent::net::link::Netlink;
use agent::net::netns;
use agent::net::role::{NetworkRole, NetworkRoleConfig};
use agent::AgentConfig;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use testkit::require_root;
use testkit::root::Need;
use testkit::{Client, TestCloud};

struct Namespaces(Vec<&'static str>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = netns::delete(n);
        }
    }
}

async fn port_status(admin: &Client, id: &str) -> String {
    let r = admin.get(&format!("/v2.0/ports/{id}")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["port"]["status"].as_str().unwrap().to_string()
}

async fn wait_status(admin: &Client, id: &str, want: &str) {
    for _ in 0..200 {
        if port_status(admin, id).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "port {id} is {} after 10 s, not {want}",
        port_status(admin, id).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_a_bound_port_goes_active_when_its_tap_is_plugged() {
    require_root!(Need::NetNs);
    let (h, vm) = ("oxt-l2c-h", "oxt-l2c-v1");
    let _ns = Namespaces(vec![h, vm]);
    for n in [h, vm] {
        netns::delete(n).unwrap();
        netns::create(n).unwrap();
    }
    let host = Netlink::open(Some(h)).unwrap();
    host.add_veth("oxtphys0", "oxtphys1", None).await.unwrap();

    let tc = TestCloud::start_with(
        |c| c.dataplane = "linux".into(),
        Arc::new(common::clock::SystemClock),
    )
    .await
    .unwrap();
    let admin = tc.admin().await.unwrap().at(&tc.url("network"));
    let secret = nodes::secret::read(&tc.cloud.state.path.join(nodes::SECRET_FILE)).unwrap();
    let node = "oxt-l2c-node";
    let mut cfg = AgentConfig::new(
        &format!("http://{}", tc.cloud.internal_api),
        node,
        vec!["network".into()],
        secret,
    );
    cfg.address = "192.0.2.61".into();
    cfg.poll_timeout = Duration::from_secs(5);
    cfg.backoff_min = Duration::from_millis(50);
    cfg.backoff_max = Duration::from_millis(300);
    let role = NetworkRole::new(NetworkRoleConfig {
        node_prefix: "oxt-l2c-".into(),
        namespace: Some(h.into()),
        l2: L2Config {
            physical_mappings: BTreeMap::from([("physnet1".into(), "oxtphys0".into())]),
            ..L2Config::default()
        },
        dhcp_state_dir: None,
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let agent_task = tokio::spawn(agent::run(
        cfg,
        vec![Arc::new(role)],
        async {
            let _ = stop_rx.await;
        },
        None,
    ));

    let r = admin
        .post(
            "/v2.0/networks",
            json!({"network": {"name": "l2c", "provider:network_type": "flat",
                "provider:physical_network": "physnet1"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let nid = r.body["network"]["id"].as_str().unwrap().to_string();
    let r = admin
        .post(
            "/v2.0/subnets",
            json!({"subnet": {"network_id": nid, "ip_version": 4, "cidr": "10.70.0.0/24"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = admin
        .post(
            "/v2.0/ports",
            json!({"port": {"network_id": nid, "binding:host_id": node,
                "device_owner": "compute:nova", "device_id": "vm1"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let pid = r.body["port"]["id"].as_str().unwrap().to_string();

    // The agent builds the network's bridge; the port waits for its device.
    let bridge = bridge_name(&nid);
    let mut built = false;
    for _ in 0..200 {
        if host.link(&bridge).await.unwrap().is_some() {
            built = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(built, "no bridge {bridge}");
    assert_eq!(port_status(&admin, &pid).await, "DOWN");

    // The instance's device appears: plugged on the link event, reported.
    let tap = tap_name(&pid);
    host.add_veth(&tap, "eth0", Some(vm)).await.unwrap();
    wait_status(&admin, &pid, "ACTIVE").await;
    let br = host.link(&bridge).await.unwrap().unwrap();
    assert_eq!(
        host.link(&tap).await.unwrap().unwrap().master,
        Some(br.index)
    );

    // And goes: DOWN.
    host.delete(&tap).await.unwrap();
    wait_status(&admin, &pid, "DOWN").await;

    stop_tx.send(()).unwrap();
    agent_task.await.unwrap().unwrap();
    tc.stop().await;
}

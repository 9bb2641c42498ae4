//! The network role inside a real agent against a real in-process cloud
//! (`dataplane = linux`): a port created through the API and bound to the
//! node becomes ACTIVE once its tap appears and the role plugs it, and
//! DOWN when the tap goes, with no new API write in between (the role's
//! change signal makes the agent report again).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use agent::net::l2::{bridge_name, tap_name};
use agent::net::link::Netlink;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use support::{bound_port, flat_net, wait_port, Cleanup, SimCloud, SimHost};
use testkit::require_root;
use testkit::root::Need;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_a_bound_port_goes_active_when_its_tap_is_plugged() {
    require_root!(Need::NetNs);
    let (h, vm) = ("oxt-l2c-h", "oxt-l2c-v1");
    let _cleanup = Cleanup::create("oxt-l2c-", vec![h, vm], None);
    let host = Netlink::open(Some(h)).unwrap();
    host.add_veth("oxtphys0", "oxtphys1", None).await.unwrap();

    let cloud = SimCloud::start(SimHost {
        node: "oxt-l2c-node",
        address: "192.0.2.61",
        namespace: h,
        prefix: "oxt-l2c-",
        mappings: BTreeMap::from([("physnet1".into(), "oxtphys0".into())]),
        dhcp_dir: None,
    })
    .await;
    let (admin, node) = (&cloud.admin, cloud.node);
    let (nid, _) = flat_net(admin, "physnet1", "10.70.0.0/24", "10.70.0.1", false, false).await;
    let pid = bound_port(admin, node, &nid, "vm1", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();

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
    wait_port(admin, &pid, "DOWN").await;

    // The instance's device appears: plugged on the link event, reported.
    let tap = tap_name(&pid);
    host.add_veth(&tap, "eth0", Some(vm)).await.unwrap();
    wait_port(admin, &pid, "ACTIVE").await;
    let br = host.link(&bridge).await.unwrap().unwrap();
    assert_eq!(
        host.link(&tap).await.unwrap().unwrap().master,
        Some(br.index)
    );

    // And goes: DOWN.
    host.delete(&tap).await.unwrap();
    wait_port(admin, &pid, "DOWN").await;

    cloud.stop().await;
}

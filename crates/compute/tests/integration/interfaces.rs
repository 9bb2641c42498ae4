//! `os-interface`: list, show, attach by network (with a fixed IP and a
//! 2.49 tag) and by port, detach (a made port deleted, a given one
//! unbound), the shapes of 2.1 and 2.70, bad bodies, other projects,
//! the instance actions, and the server's addresses following.

use super::servers::{create, image, network, ports_of, wait_status};
use super::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

const ATTACHMENT: &[&str] = &["net_id", "port_id", "mac_addr", "port_state", "fixed_ips"];

fn attachment_keys(tag: bool) -> BTreeSet<String> {
    let mut k: BTreeSet<String> = ATTACHMENT.iter().map(|s| s.to_string()).collect();
    if tag {
        k.insert("tag".into());
    }
    k
}

#[tokio::test]
async fn interfaces_attach_show_list_and_detach() {
    let (cloud, admin) = start().await;
    let img = image(&cloud, &admin).await;
    let (alice, _) = project_user(&cloud, "alice", "member").await;
    let net1 = network(&cloud, &alice, "n1", "10.1.0.0/24").await;
    let net2 = network(&cloud, &alice, "n2", "10.2.0.0/24").await;
    let r = create(
        &alice,
        json!({"name": "s", "imageRef": img, "flavorRef": "1", "networks": [{"uuid": net1}]}),
        "2.37",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(&alice, &id, "ACTIVE").await;
    let base = format!("/v2.1/servers/{id}/os-interface");

    let r = alice.get(&base).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let items = r.body["interfaceAttachments"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(keys(&items[0]), attachment_keys(false));
    assert_eq!(items[0]["net_id"], net1.as_str());
    assert_eq!(items[0]["fixed_ips"][0].as_object().unwrap().len(), 2);

    // Attach by network with an address and a tag.
    let r = at_version(
        &alice,
        "POST",
        &base,
        Some(&json!({"interfaceAttachment": {"net_id": net2,
            "fixed_ips": [{"ip_address": "10.2.0.50"}], "tag": "second"}})),
        "2.70",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = &r.body["interfaceAttachment"];
    assert_eq!(keys(a), attachment_keys(true));
    assert_eq!(a["tag"], "second");
    assert_eq!(a["fixed_ips"][0]["ip_address"], "10.2.0.50");
    let made = a["port_id"].as_str().unwrap().to_string();
    // The server's addresses show it.
    let s = wait_status(&alice, &id, "ACTIVE").await;
    assert_eq!(s["addresses"]["n2"][0]["addr"], "10.2.0.50");
    let r = at_version(&alice, "GET", &format!("{base}/{made}"), None, "2.1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body["interfaceAttachment"]), attachment_keys(false));
    let r = at_version(&alice, "GET", &base, None, "2.70").await;
    let tags: Vec<&Value> = r.body["interfaceAttachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["tag"])
        .collect();
    assert!(tags.contains(&&json!("second")), "{}", r.text);

    // Attach a port made beforehand; a port in use is a 409.
    let n = alice.at(&cloud.url("network"));
    let r = n
        .post("/v2.0/ports", json!({"port": {"network_id": net1}}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let given = r.body["port"]["id"].as_str().unwrap().to_string();
    let body = json!({"interfaceAttachment": {"port_id": given}});
    let r = alice.post(&base, body.clone()).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["interfaceAttachment"]["port_id"], given.as_str());
    assert_error(
        &alice.post(&base, body).await.unwrap(),
        409,
        "conflictingRequest",
    );
    assert_eq!(ports_of(&cloud, &admin, &id).await.len(), 3);

    // Bad bodies and unknown things.
    for b in [
        json!({"interfaceAttachment": {"net_id": net1, "port_id": given}}),
        json!({"interfaceAttachment": {"fixed_ips": [{"ip_address": "10.1.0.9"}]}}),
        json!({"interfaceAttachment": {"net_id": net1, "tag": "t"}}),
        json!({"interfaceAttachment": {"net_id": "nope"}}),
    ] {
        assert_error(&alice.post(&base, b).await.unwrap(), 400, "badRequest");
    }
    // Two usable networks: no automatic choice.
    let r = alice
        .post(&base, json!({"interfaceAttachment": {}}))
        .await
        .unwrap();
    assert_error(&r, 400, "badRequest");
    let unknown = "5c3f1b0e-0d6e-4e4a-9c59-4a1f0f0b7c11";
    let r = alice
        .post(&base, json!({"interfaceAttachment": {"net_id": unknown}}))
        .await
        .unwrap();
    assert_error(&r, 404, "itemNotFound");
    assert_error(
        &alice.get(&format!("{base}/{unknown}")).await.unwrap(),
        404,
        "itemNotFound",
    );
    assert_error(
        &alice.delete(&format!("{base}/{unknown}")).await.unwrap(),
        404,
        "itemNotFound",
    );
    // Another project sees no server.
    let (bob, _) = project_user(&cloud, "bob", "member").await;
    assert_error(&bob.get(&base).await.unwrap(), 404, "itemNotFound");

    // Detach: the made port goes, the given one is unbound and kept.
    let r = alice.delete(&format!("{base}/{made}")).await.unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    let r = alice.delete(&format!("{base}/{given}")).await.unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    let left = ports_of(&cloud, &admin, &id).await;
    assert_eq!(left.len(), 1);
    let r = n.get(&format!("/v2.0/ports/{given}")).await.unwrap();
    assert_eq!(r.body["port"]["device_id"], "");
    let r = n.get(&format!("/v2.0/ports/{made}")).await.unwrap();
    assert_eq!(r.status, 404);
    let s = wait_status(&alice, &id, "ACTIVE").await;
    assert!(s["addresses"].get("n2").is_none(), "{s}");

    // The instance actions record both.
    let r = alice
        .get(&format!("/v2.1/servers/{id}/os-instance-actions"))
        .await
        .unwrap();
    let actions: Vec<&str> = r.body["instanceActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"attach_interface"), "{actions:?}");
    assert!(actions.contains(&"detach_interface"), "{actions:?}");

    // A locked server refuses its owner (409).
    let r = admin
        .post(&format!("/v2.1/servers/{id}/action"), json!({"lock": null}))
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.text);
    let r = alice
        .post(&base, json!({"interfaceAttachment": {"net_id": net2}}))
        .await
        .unwrap();
    assert_error(&r, 409, "conflictingRequest");
    cloud.stop().await;
}

//! Remote consoles: the URL per microversion (legacy `os-getVNCConsole`
//! at 2.1, `remote-consoles` at 2.6 and 2.8) with tempest's exact key
//! sets, Nova's 400s for schema and console type, 404 for another
//! project's server, 409 for one not yet on a host, and the token lookup
//! (admins, 2.31+) with expiry on the test clock.

use super::servers::{create, image, wait_status};
use super::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// An ACTIVE server of `user`'s with no network; its id.
async fn active_server(cloud: &TestCloud, admin: &Client, user: &Client) -> String {
    let img = image(cloud, admin).await;
    let r = create(
        user,
        json!({"name": "con", "imageRef": img, "flavorRef": "1", "networks": "none"}),
        "2.37",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_status(user, &id, "ACTIVE").await;
    id
}

async fn remote(c: &Client, id: &str, body: Value, v: &str) -> Resp {
    at_version(
        c,
        "POST",
        &format!("/v2.1/servers/{id}/remote-consoles"),
        Some(&body),
        v,
    )
    .await
}

async fn vnc_action(c: &Client, id: &str, arg: Value, v: &str) -> Resp {
    at_version(
        c,
        "POST",
        &format!("/v2.1/servers/{id}/action"),
        Some(&json!({ "os-getVNCConsole": arg })),
        v,
    )
    .await
}

/// The token in a noVNC URL, checking the URL's form.
fn token_of(url: &str, base: &str) -> String {
    let prefix = format!("{base}/vnc_lite.html?path=%3Ftoken%3D");
    let token = url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{url} does not start with {prefix}"));
    assert_eq!(token.len(), 32, "{url}");
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()), "{url}");
    token.to_string()
}

#[tokio::test]
async fn console_urls_have_each_microversions_shape() {
    let (cloud, admin) = start_with(|c| {
        c.update_section::<compute::config::ComputeConfig>(|s| {
            s.novncproxy_base_url = "http://console.example:6080/".into()
        })
        .unwrap()
    })
    .await;
    let base = "http://console.example:6080";
    let (user, _) = project_user(&cloud, "con-shape", "member").await;
    let id = active_server(&cloud, &admin, &user).await;

    // 2.1: the legacy action (tempest v2_1 get_vnc_console).
    let r = vnc_action(&user, &id, json!({"type": "novnc"}), "2.1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body), set(&["console"]));
    assert_eq!(keys(&r.body["console"]), set(&["type", "url"]));
    assert_eq!(r.body["console"]["type"], "novnc");
    let t1 = token_of(r.body["console"]["url"].as_str().unwrap(), base);
    // remote-consoles does not exist before 2.6, the action not after.
    let rc = json!({"remote_console": {"protocol": "vnc", "type": "novnc"}});
    assert_error(
        &remote(&user, &id, rc.clone(), "2.5").await,
        404,
        "itemNotFound",
    );
    let r = vnc_action(&user, &id, json!({"type": "novnc"}), "2.6").await;
    assert_error(&r, 404, "itemNotFound");

    // 2.6 and 2.8 (tempest v2_6 / v2_8 get_remote_consoles).
    let mut tokens = BTreeSet::from([t1]);
    for v in ["2.6", "2.8", "2.100"] {
        let r = remote(&user, &id, rc.clone(), v).await;
        assert_eq!(r.status, 200, "{v}: {}", r.text);
        assert_eq!(keys(&r.body), set(&["remote_console"]));
        let c = &r.body["remote_console"];
        assert_eq!(keys(c), set(&["protocol", "type", "url"]));
        assert_eq!(
            (c["protocol"].as_str(), c["type"].as_str()),
            (Some("vnc"), Some("novnc"))
        );
        assert!(tokens.insert(token_of(c["url"].as_str().unwrap(), base)));
    }
    cloud.stop().await;
}

#[tokio::test]
async fn bad_console_requests_are_refused_as_nova_refuses_them() {
    let (cloud, admin) = start().await;
    let (user, _) = project_user(&cloud, "con-bad", "member").await;
    let (other, _) = project_user(&cloud, "con-other", "member").await;
    let id = active_server(&cloud, &admin, &user).await;
    let bad = |c: Value| json!({ "remote_console": c });

    // Schema: unknown protocol/type, missing keys, extra keys.
    for (body, v) in [
        (bad(json!({"protocol": "rdp", "type": "novnc"})), "2.6"),
        (bad(json!({"protocol": "vnc", "type": "rdp-html5"})), "2.6"),
        (bad(json!({"protocol": "mks", "type": "webmks"})), "2.6"),
        (bad(json!({"protocol": "vnc"})), "2.6"),
        (
            bad(json!({"protocol": "vnc", "type": "novnc", "x": 1})),
            "2.6",
        ),
        (json!({"remote_console": "vnc"}), "2.6"),
        (json!({}), "2.6"),
    ] {
        let r = remote(&user, &id, body.clone(), v).await;
        assert_error(&r, 400, "badRequest");
        assert!(
            r.body["badRequest"]["message"]
                .as_str()
                .unwrap()
                .contains("Invalid input")
                || r.body["badRequest"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("Additional properties"),
            "{body}: {}",
            r.text
        );
    }
    // Valid by the schema, but not a console this cloud enables.
    for (p, t, v, msg) in [
        ("mks", "webmks", "2.8", "Unavailable console type webmks."),
        (
            "spice",
            "spice-html5",
            "2.6",
            "Unavailable console type spice-html5.",
        ),
        (
            "serial",
            "serial",
            "2.6",
            "Unavailable console type serial.",
        ),
        ("vnc", "xvpvnc", "2.6", "Invalid console type xvpvnc"),
    ] {
        let r = remote(&user, &id, bad(json!({"protocol": p, "type": t})), v).await;
        assert_error(&r, 400, "badRequest");
        assert_eq!(r.body["badRequest"]["message"], msg, "{p}/{t}");
    }
    for arg in [
        json!({"type": "spice"}),
        json!({}),
        json!({"type": "novnc", "x": 1}),
    ] {
        let r = vnc_action(&user, &id, arg.clone(), "2.1").await;
        assert_error(&r, 400, "badRequest");
    }

    // Another project's server, or none at all: 404.
    let rc = bad(json!({"protocol": "vnc", "type": "novnc"}));
    assert_error(
        &remote(&other, &id, rc.clone(), "2.6").await,
        404,
        "itemNotFound",
    );
    let r = vnc_action(&other, &id, json!({"type": "novnc"}), "2.1").await;
    assert_error(&r, 404, "itemNotFound");
    let missing = common::ids::uuid();
    assert_error(
        &remote(&user, &missing, rc, "2.6").await,
        404,
        "itemNotFound",
    );
    cloud.stop().await;
}

#[tokio::test]
async fn a_server_not_yet_built_has_no_console() {
    let (cloud, admin) = start_with(|c| {
        c.update_section::<compute::config::ComputeConfig>(|s| s.fake_spawn_delay_ms = 60_000)
            .unwrap()
    })
    .await;
    let (user, _) = project_user(&cloud, "con-build", "member").await;
    let img = image(&cloud, &admin).await;
    let r = create(
        &user,
        json!({"name": "slow", "imageRef": img, "flavorRef": "1", "networks": "none"}),
        "2.37",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let rc = json!({"remote_console": {"protocol": "vnc", "type": "novnc"}});
    let r = remote(&user, &id, rc, "2.6").await;
    assert_error(&r, 409, "conflictingRequest");
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        format!("Instance {id} is not ready")
    );
    cloud.stop().await;
}

#[tokio::test]
async fn tokens_are_looked_up_by_admins_and_expire() {
    let clock = Arc::new(common::clock::ManualClock::new(1_800_000_000_000_000));
    let cloud = TestCloud::start_with(|_| {}, clock.clone()).await.unwrap();
    let admin = cloud.admin().await.unwrap().at(&cloud.url("compute"));
    let (user, _) = project_user(&cloud, "con-tok", "member").await;
    let id = active_server(&cloud, &admin, &user).await;
    let rc = json!({"remote_console": {"protocol": "vnc", "type": "novnc"}});
    let r = remote(&user, &id, rc.clone(), "2.6").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let url = r.body["remote_console"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    // The default base: the public host and the proxy's port.
    let token = url.rsplit("%3D").next().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(url.contains("/vnc_lite.html?path=%3Ftoken%3D"), "{url}");

    let path = format!("/v2.1/os-console-auth-tokens/{token}");
    // Admins only.
    let r = at_version(&user, "GET", &path, None, "2.31").await;
    assert_error(&r, 403, "forbidden");
    // Before 2.31 only RDP tokens are shown.
    let r = at_version(&admin, "GET", &path, None, "2.30").await;
    assert_error(&r, 401, "unauthorized");
    let r = at_version(&admin, "GET", &path, None, "2.31").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body), set(&["console"]));
    assert_eq!(
        keys(&r.body["console"]),
        set(&["instance_uuid", "host", "internal_access_path"])
    );
    assert_eq!(r.body["console"]["instance_uuid"], id.as_str());
    assert!(r.body["console"]["host"].is_string());
    let unknown = format!("/v2.1/os-console-auth-tokens/{}", common::ids::hex_id());
    let r = at_version(&admin, "GET", &unknown, None, "2.31").await;
    assert_error(&r, 404, "itemNotFound");
    assert_eq!(r.body["itemNotFound"]["message"], "Token not found");

    // Valid until its ttl (600 s), gone after.
    clock.advance_secs(599);
    let r = at_version(&admin, "GET", &path, None, "2.31").await;
    assert_eq!(r.status, 200, "{}", r.text);
    clock.advance_secs(2);
    let r = at_version(&admin, "GET", &path, None, "2.31").await;
    assert_error(&r, 404, "itemNotFound");
    // A fresh token dies with its server.
    let fresh = remote(&user, &id, rc, "2.6").await;
    assert_eq!(fresh.status, 200, "{}", fresh.text);
    let url = fresh.body["remote_console"]["url"].as_str().unwrap();
    let path = format!(
        "/v2.1/os-console-auth-tokens/{}",
        url.rsplit("%3D").next().unwrap()
    );
    assert_eq!(
        at_version(&admin, "GET", &path, None, "2.31").await.status,
        200
    );
    let r = user.delete(&format!("/v2.1/servers/{id}")).await.unwrap();
    assert_eq!(r.status, 204, "{}", r.text);
    let mut gone = false;
    for _ in 0..100 {
        if at_version(&admin, "GET", &path, None, "2.31").await.status == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(gone, "the token outlived its server");
    cloud.stop().await;
}

/// The proxy the console URL names: its files, a bad token's 403, and
/// the fake driver's console refused with the driver's reason.
#[tokio::test]
async fn the_console_url_leads_to_the_novnc_proxy() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;

    let dir = std::env::temp_dir().join(format!("novnc-{}", common::ids::hex_id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("vnc_lite.html"), "<title>noVNC</title>").unwrap();
    let novnc = dir.display().to_string();
    let (cloud, admin) = start_with(|c| {
        c.update_section::<compute::config::ComputeConfig>(|s| s.novnc_dir = novnc)
            .unwrap()
    })
    .await;
    let (user, _) = project_user(&cloud, "con-proxy", "member").await;
    let id = active_server(&cloud, &admin, &user).await;
    let rc = json!({"remote_console": {"protocol": "vnc", "type": "novnc"}});
    let r = remote(&user, &id, rc, "2.6").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let url = r.body["remote_console"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let hostport = url
        .strip_prefix("http://")
        .and_then(|u| u.split('/').next())
        .unwrap()
        .to_string();
    let token = url.rsplit("%3D").next().unwrap().to_string();

    // The page noVNC's URL names.
    let page = http_get(&hostport, "/vnc_lite.html?path=%3Ftoken%3Dx").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("<title>noVNC</title>"), "{page}");
    let missing = http_get(&hostport, "/nothing.js").await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");

    let open = |t: String| {
        let hostport = hostport.clone();
        async move {
            let req = format!("ws://{hostport}/?token={t}")
                .into_client_request()
                .unwrap();
            let tcp = tokio::net::TcpStream::connect(&hostport).await.unwrap();
            tokio_tungstenite::client_async(req, tcp).await
        }
    };
    match open(common::ids::hex_id()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("a bad token was not refused: {:?}", other.map(|_| ())),
    }
    let (mut ws, _) = open(token).await.unwrap();
    let msg = ws.next().await.unwrap().unwrap();
    match msg {
        Message::Close(Some(f)) => {
            assert_eq!(
                f.reason.as_str(),
                "The fake driver has no graphical console."
            )
        }
        other => panic!("{other:?}"),
    }
    cloud.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A raw HTTP/1.1 GET: the whole response.
async fn http_get(hostport: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(hostport).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tcp.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).to_string()
}

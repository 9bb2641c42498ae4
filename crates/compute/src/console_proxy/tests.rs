//! The proxy end to end on loopback, with a backend whose consoles are
//! `tokio::io::duplex` pipes standing in for a guest's VNC server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use std::sync::Mutex;
use tokio::io::DuplexStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Token "good" opens server "vm"; its console is the next queued pipe
/// (none queued: the driver has no console).
#[derive(Default)]
struct Backend {
    consoles: Mutex<Vec<DuplexStream>>,
}

impl ConsoleBackend for Backend {
    fn server_of_token<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, common::Result<Option<String>>> {
        Box::pin(async move { Ok((token == "good").then(|| "vm".to_string())) })
    }

    fn open<'a>(&'a self, server: &'a str) -> BoxFuture<'a, VirtResult<ConsoleStream>> {
        Box::pin(async move {
            assert_eq!(server, "vm");
            match self.consoles.lock().unwrap().pop() {
                Some(s) => Ok(Box::new(s) as ConsoleStream),
                None => Err(virt::VirtError::Unsupported(
                    "The fake driver has no graphical console.".into(),
                )),
            }
        })
    }
}

/// A proxy on 127.0.0.1 serving `dir`; its address.
async fn start(backend: Arc<dyn ConsoleBackend>, dir: PathBuf) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, backend, dir, std::future::pending::<()>()));
    addr
}

async fn connect(
    addr: std::net::SocketAddr,
    path: &str,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    tokio_tungstenite::tungstenite::Error,
> {
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", "binary".parse().unwrap());
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (ws, resp) = tokio_tungstenite::client_async(req, tcp).await?;
    assert_eq!(
        resp.headers().get("sec-websocket-protocol").unwrap(),
        "binary"
    );
    Ok(ws)
}

/// A raw HTTP/1.1 GET; status line and body.
async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tcp.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

fn novnc_dir() -> (PathBuf, impl Drop) {
    struct Rm(PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let dir = std::env::temp_dir().join(format!("novnc-{}", common::ids::hex_id()));
    std::fs::create_dir_all(dir.join("core")).unwrap();
    std::fs::write(
        dir.join("vnc_lite.html"),
        "<html><title>noVNC</title></html>",
    )
    .unwrap();
    std::fs::write(dir.join("core/rfb.js"), "export default 1;").unwrap();
    (dir.clone(), Rm(dir))
}

#[tokio::test]
async fn static_files_are_served_without_leaving_the_directory() {
    let (dir, _rm) = novnc_dir();
    let addr = start(Arc::new(Backend::default()), dir).await;
    let (s, body) = get(addr, "/vnc_lite.html?path=%3Ftoken%3Dabc").await;
    assert_eq!(s, 200);
    assert!(body.contains("<title>noVNC</title>"), "{body}");
    assert_eq!(get(addr, "/core/rfb.js").await.0, 200);
    assert_eq!(get(addr, "/missing.js").await.0, 404);
    assert_eq!(get(addr, "/core").await.0, 404);
    for bad in [
        "/../etc/passwd",
        "/core/../../etc/passwd",
        "/%2e%2e/etc/passwd",
    ] {
        assert_eq!(get(addr, bad).await.0, 403, "{bad}");
    }
}

#[tokio::test]
async fn a_bad_token_is_refused_before_the_upgrade() {
    let (dir, _rm) = novnc_dir();
    let addr = start(Arc::new(Backend::default()), dir).await;
    for path in ["/?token=bad", "/websockify?token=bad", "/"] {
        match connect(addr, path).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status(), 403, "{path}")
            }
            Err(other) => panic!("{path}: {other}"),
            Ok(_) => panic!("{path}: upgraded"),
        }
    }
    let (s, body) = get(addr, "/?token=bad").await;
    assert_eq!((s, body.as_str()), (403, "Invalid Token"));
}

#[tokio::test]
async fn the_token_may_come_in_a_cookie() {
    let (dir, _rm) = novnc_dir();
    let addr = start(Arc::new(Backend::default()), dir).await;
    for (cookie, upgraded) in [("a=1; token=good", true), ("token=bad", false)] {
        let mut req = format!("ws://{addr}/websockify")
            .into_client_request()
            .unwrap();
        req.headers_mut().insert("cookie", cookie.parse().unwrap());
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let r = tokio_tungstenite::client_async(req, tcp).await;
        assert_eq!(r.is_ok(), upgraded, "{cookie}");
    }
}

#[tokio::test]
async fn frames_are_relayed_both_ways_and_closes_propagate() {
    let (dir, _rm) = novnc_dir();
    let backend = Arc::new(Backend::default());
    let (guest, proxy_end) = tokio::io::duplex(1024);
    backend.consoles.lock().unwrap().push(proxy_end);
    let addr = start(backend.clone(), dir).await;
    let mut ws = connect(addr, "/websockify?token=good").await.unwrap();
    let (mut guest_rx, mut guest_tx) = tokio::io::split(guest);

    guest_tx.write_all(b"RFB 003.008\n").await.unwrap();
    let msg = ws.next().await.unwrap().unwrap();
    assert_eq!(msg, WsMessage::Binary(b"RFB 003.008\n".to_vec().into()));
    ws.send(WsMessage::Binary(b"RFB 003.008\n".to_vec().into()))
        .await
        .unwrap();
    let mut buf = [0u8; 12];
    guest_rx.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"RFB 003.008\n");

    // The client closes: the guest's side reads the end.
    ws.close(None).await.unwrap();
    let mut rest = Vec::new();
    let n = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        guest_rx.read_to_end(&mut rest),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(n, 0);

    // The guest's side closes: the client gets a close frame.
    let (guest, proxy_end) = tokio::io::duplex(1024);
    backend.consoles.lock().unwrap().push(proxy_end);
    let mut ws = connect(addr, "/?token=good").await.unwrap();
    drop(guest);
    let msg = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match msg {
        WsMessage::Close(Some(f)) => assert_eq!(u16::from(f.code), 1000),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_driver_without_a_console_closes_with_its_reason() {
    let (dir, _rm) = novnc_dir();
    let addr = start(Arc::new(Backend::default()), dir).await;
    let mut ws = connect(addr, "/?token=good").await.unwrap();
    let msg = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match msg {
        WsMessage::Close(Some(f)) => {
            assert_eq!(u16::from(f.code), 1011);
            assert_eq!(
                f.reason.as_str(),
                "The fake driver has no graphical console."
            );
        }
        other => panic!("{other:?}"),
    }
}

/// Opens the VNC server on a Unix socket (QEMU's `-vnc unix:`).
struct UnixBackend(PathBuf);

impl ConsoleBackend for UnixBackend {
    fn server_of_token<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, common::Result<Option<String>>> {
        Box::pin(async move { Ok((token == "good").then(|| "vm".to_string())) })
    }

    fn open<'a>(&'a self, _server: &'a str) -> BoxFuture<'a, VirtResult<ConsoleStream>> {
        Box::pin(async move {
            let s = tokio::net::UnixStream::connect(&self.0)
                .await
                .map_err(|e| virt::VirtError::Failed(e.to_string()))?;
            Ok(Box::new(s) as ConsoleStream)
        })
    }
}

/// With QEMU installed: a real VNC server (QEMU, no disk, no network)
/// behind the proxy greets the websocket client with its RFB version.
#[tokio::test]
async fn qemus_vnc_server_answers_through_the_proxy() {
    let qemu = std::path::Path::new("/usr/bin/qemu-system-x86_64");
    if !qemu.exists() {
        eprintln!("qemu-system-x86_64 is not installed: end-to-end VNC relay not run");
        return;
    }
    let (dir, _rm) = novnc_dir();
    let sock = dir.join("vnc.sock");
    let mut child = tokio::process::Command::new(qemu)
        .args([
            "-nodefaults",
            "-display",
            "none",
            "-machine",
            "accel=tcg",
            "-vnc",
        ])
        .arg(format!("unix:{}", sock.display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if sock.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(sock.exists(), "QEMU made no VNC socket");
    let addr = start(Arc::new(UnixBackend(sock)), dir.clone()).await;
    let mut ws = connect(addr, "/?token=good").await.unwrap();
    let mut got = Vec::new();
    while got.len() < 12 {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match msg {
            WsMessage::Binary(b) => got.extend_from_slice(&b),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(&got[..12], b"RFB 003.008\n");
    ws.close(None).await.unwrap();
    child.kill().await.unwrap();
}

//! `oxistack status`: whether a cloud runs on a state directory (its lock
//! and the pid inside), which APIs answer their version document on the
//! configured ports, and where the state and the credentials are.

use crate::state;
use common::config::Config;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One API's answer to a GET of its version document.
#[derive(Debug, Clone)]
pub struct ApiStatus {
    pub name: &'static str,
    pub url: String,
    /// The HTTP status, or why there was none.
    pub answer: Result<u16, String>,
}

#[derive(Debug, Clone)]
pub struct Status {
    pub state_dir: PathBuf,
    /// Whether an `up` has ever finished in the state directory.
    pub has_cloud: bool,
    /// `Some(pid)` when a process holds the state directory's lock.
    pub running: Option<Option<u32>>,
    pub apis: Vec<ApiStatus>,
}

impl Status {
    /// Running, and every API answers with a success.
    pub fn healthy(&self) -> bool {
        self.running.is_some()
            && self
                .apis
                .iter()
                .all(|a| a.answer.as_ref().is_ok_and(|s| (200..300).contains(s)))
    }

    /// The report `oxistack status` prints.
    pub fn render(&self) -> String {
        let mut out = format!("state directory: {}", self.state_dir.display());
        if !self.has_cloud {
            out.push_str(" (no cloud here)");
        }
        out.push('\n');
        out.push_str(&match self.running {
            Some(Some(pid)) => format!("running: yes (pid {pid})\n"),
            Some(None) => "running: yes (pid unknown)\n".to_string(),
            None => "running: no\n".to_string(),
        });
        for a in &self.apis {
            let answer = match &a.answer {
                Ok(s) => format!("answers {s}"),
                Err(e) => format!("no answer ({e})"),
            };
            out.push_str(&format!("{:<13} {:<40} {answer}\n", a.name, a.url));
        }
        if self.has_cloud {
            let clouds = self.state_dir.join("clouds.yaml");
            out.push_str(&format!(
                "credentials: {} (export OS_CLIENT_CONFIG_FILE=…; --os-cloud oxistack), {}\n",
                clouds.display(),
                self.state_dir.join("admin-openrc.sh").display()
            ));
        }
        out
    }
}

/// Each API's version document.
const VERSION_PATHS: &[(&str, &str)] = &[
    ("identity", "/v3"),
    ("image", "/versions"),
    ("object-store", "/info"),
];

/// Looks at the state directory and asks each API for its version
/// document (identity `/v3`, image `/versions`, object store `/info`): on
/// the addresses the running cloud recorded, else on the configured ones.
pub async fn status(cfg: &Config) -> Status {
    let dir = cfg.state_dir.clone();
    let running = match state::is_locked(&dir) {
        Some(true) => Some(state::lock_holder(&dir)),
        _ => None,
    };
    let recorded = if running.is_some() {
        state::read_apis(&dir)
    } else {
        Vec::new()
    };
    let host = connect_host(&cfg.listen);
    let mut targets: Vec<(String, SocketAddr)> = recorded
        .into_iter()
        .map(|(n, a)| {
            (
                n,
                SocketAddr::new(connect_host(&a.ip().to_string()), a.port()),
            )
        })
        .collect();
    if targets.is_empty() {
        // The configured ports of the services this configuration runs
        // (identity first), each read from its own section. The loader
        // has checked every section, so none fails to read here.
        let defs = std::iter::once(&identity::SERVICE)
            .chain(crate::cloud::SERVICES)
            .filter(|d| (d.enabled)(cfg));
        for def in defs {
            if let Ok(port) = (def.port)(cfg) {
                targets.push((def.service_type.into(), SocketAddr::new(host, port)));
            }
        }
    }
    let mut apis = Vec::new();
    for (name, addr) in targets {
        let Some(&(name, path)) = VERSION_PATHS.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        apis.push(ApiStatus {
            name,
            url: format!("http://{addr}{path}"),
            answer: get_status(addr, path).await,
        });
    }
    Status {
        has_cloud: state::require_cloud(&dir).is_ok(),
        state_dir: dir,
        running,
        apis,
    }
}

/// Where to reach a server listening on `listen`: a wildcard address is
/// reached on loopback.
fn connect_host(listen: &str) -> IpAddr {
    match listen.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Ok(IpAddr::V6(a)) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        Ok(a) => a,
        Err(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

/// A minimal HTTP/1.1 GET that reads only the status line, with a short
/// timeout: a status check must not hang on a wedged server.
async fn get_status(addr: SocketAddr, path: &str) -> Result<u16, String> {
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 256];
        let mut n = 0;
        while n < buf.len() {
            let k = s.read(&mut buf[n..]).await.map_err(|e| e.to_string())?;
            if k == 0 || buf[..n + k].contains(&b'\n') {
                n += k;
                break;
            }
            n += k;
        }
        let line = String::from_utf8_lossy(&buf[..n]);
        line.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| "not an HTTP answer".to_string())
    };
    match tokio::time::timeout(Duration::from_secs(3), fut).await {
        Ok(r) => r,
        Err(_) => Err("timed out".into()),
    }
}

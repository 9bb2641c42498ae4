//! The metadata proxy: `169.254.169.254:80` in every router namespace
//! and in the DHCP namespace of every network with an isolated subnet,
//! answered by proxying to the metadata API with the instance named and
//! signed, as Neutron's metadata agent does for Nova.
//!
//! # Listeners
//!
//! One agent process serves every namespace; there is no per-namespace
//! helper process. For each *site* a listener is bound on
//! `169.254.169.254:80` on a thread that entered the namespace
//! (`netns::run_in`), so the socket belongs to that namespace, and is then
//! served by the agent's tokio runtime. The address is put where traffic
//! to it arrives:
//!
//! - a router (`qrouter-<id>`, with at least one interface): on its `lo`
//!   as a /32. Instances reach it through their default route (the
//!   router); a local address rather than Neutron's redirect to 9697
//!   keeps the router's NAT table (`net::l3nat`) untouched.
//! - a DHCP server (`qdhcp-<network>`) of a network with an isolated IPv4
//!   subnet: on the DHCP port (`ns-…`), as Neutron's isolated metadata
//!   does; dnsmasq already pushes the classless route
//!   `169.254.169.254/32 via <DHCP port address>` for such subnets
//!   (`dhcp::opts_file`). A subnet is isolated by the same rule as there:
//!   no port on it holds its gateway address.
//!
//! Listeners follow the feed: made as sites appear, closed as they go, and
//! made again when their namespace was replaced (its inode changed).
//!
//! # Identification
//!
//! (network, source address) → the port → its `device_id` (the instance)
//! and project. A router's listener answers for the networks of its
//! interfaces, a DHCP listener for its network. The map comes in the feed
//! (`NodeFeed::metadata`) rather than from a lookup on the controller:
//! the feed is pushed on every change (long-poll), so there is no cache
//! to go stale nor a request per metadata call, and instances keep their
//! metadata while the controller is briefly away; it costs one entry per
//! instance address on the networks served here, the same order as the
//! DHCP host entries the node already gets. No port, or more than one:
//! 404, as Neutron answers.
//!
//! # Upstream
//!
//! The request (method, path, query, body) goes to the metadata API
//! ([`MetadataConfig::url`], Nova's port 8775 on the controller), from
//! the agent's own namespace, with Nova's headers: `X-Forwarded-For`
//! (the instance's address), `X-Instance-ID`, `X-Tenant-ID` and
//! `X-Instance-ID-Signature` = HMAC-SHA256(shared secret, instance id)
//! hex (`nodes::secret::sign_instance_id`). The shared secret is derived
//! from the cluster's join secret (`nodes::secret::metadata_secret`), so
//! the metadata API computes the same one without another file. Answers
//! map as Neutron's agent maps them: 200 passes with its content type;
//! 403, 404, 409 and 500 pass as their status; anything else, or no
//! answer, is a 500.

use super::{dhcp, link::Netlink, netns, router};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use network::app::feed::NodeFeed;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The metadata address (Neutron's `METADATA_DEFAULT_IP`).
pub const METADATA_ADDR: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// The port instances ask on.
pub const METADATA_PORT: u16 = 80;
/// The metadata API's port on the controller (Nova's `metadata_listen_port`).
pub const NOVA_METADATA_PORT: u16 = 8775;
/// How long the metadata API gets to answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest request body passed on (user data is read, not written,
/// through here; a password POST is small).
const MAX_BODY: usize = 1 << 20;

/// Where the proxy sends requests and how it signs them.
#[derive(Debug, Clone)]
pub struct MetadataConfig {
    /// The metadata API, `http://host:port` (no path).
    pub url: String,
    /// The shared secret (`nodes::secret::metadata_secret` of the join
    /// secret).
    pub secret: String,
}

impl MetadataConfig {
    /// The metadata API on the controller of `controller_url`
    /// (`http://ctl:9800` → `http://ctl:8775`), signed with the secret
    /// derived from `join_secret`.
    pub fn for_controller(controller_url: &str, join_secret: &str) -> Option<MetadataConfig> {
        let rest = controller_url.strip_prefix("http://")?;
        let authority = rest.split('/').next()?;
        let host = match authority.rsplit_once(':') {
            // `[v6]:port` or `host:port`; a bare `[v6]` has no port.
            Some((h, p)) if !p.contains(']') && p.parse::<u16>().is_ok() => h,
            _ => authority,
        };
        if host.is_empty() {
            return None;
        }
        Some(MetadataConfig {
            url: format!("http://{host}:{NOVA_METADATA_PORT}"),
            secret: nodes::secret::metadata_secret(join_secret),
        })
    }
}

/// One listener's place: a namespace, the device that gets
/// 169.254.169.254/32 there, and the networks it answers for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub namespace: String,
    pub device: String,
    pub networks: BTreeSet<String>,
}

/// The sites of `feed`: every admin-up router with interfaces, and (when
/// this node serves DHCP with isolated metadata) the DHCP namespace of
/// every network with an isolated IPv4 subnet its DHCP port is on.
pub fn sites(feed: &NodeFeed, node_prefix: &str, dhcp_isolated: bool) -> Vec<Site> {
    let mut out = Vec::new();
    for r in feed
        .routers
        .iter()
        .filter(|r| r.admin_state_up && !r.interfaces.is_empty())
    {
        out.push(Site {
            namespace: router::namespace_name(node_prefix, &r.id),
            device: "lo".into(),
            networks: r.interfaces.iter().map(|l| l.network_id.clone()).collect(),
        });
    }
    if !dhcp_isolated {
        return out;
    }
    for net in dhcp::networks(feed) {
        let Some((port_id, _, addrs)) = net.port() else {
            continue;
        };
        let isolated = net.servers.iter().any(|s| {
            let Some(subnet) = net
                .network
                .subnets
                .iter()
                .find(|n| n.id == s.subnet_id && n.enable_dhcp && n.ip_version == 4)
            else {
                return false;
            };
            let routed = s
                .entries
                .iter()
                .any(|e| Some(&e.ip_address) == subnet.gateway_ip.as_ref());
            !routed && addrs.iter().any(|a| a.subnet_id == subnet.id)
        });
        if isolated {
            out.push(Site {
                namespace: format!("{node_prefix}qdhcp-{}", net.network.id),
                device: dhcp::ns_device(port_id),
                networks: BTreeSet::from([net.network.id.clone()]),
            });
        }
    }
    out
}

/// (network, address) → the instances (device id, project id) of the
/// ports holding that address there, by port id.
type Index = BTreeMap<(String, IpAddr), BTreeMap<String, (String, String)>>;

fn index(feed: &NodeFeed) -> Index {
    let mut out: Index = BTreeMap::new();
    for m in &feed.metadata {
        let Ok(ip) = m.ip_address.parse::<IpAddr>() else {
            continue;
        };
        out.entry((m.network_id.clone(), ip)).or_default().insert(
            m.port_id.clone(),
            (m.device_id.clone(), m.project_id.clone()),
        );
    }
    out
}

/// The instance behind `src` on one of `networks`: exactly one port, or
/// none.
fn identify(index: &Index, networks: &BTreeSet<String>, src: IpAddr) -> Option<(String, String)> {
    let mut found: BTreeMap<&str, &(String, String)> = BTreeMap::new();
    for n in networks {
        if let Some(ports) = index.get(&(n.clone(), src)) {
            found.extend(ports.iter().map(|(p, i)| (p.as_str(), i)));
        }
    }
    match found.len() {
        1 => found.into_values().next().cloned(),
        _ => None,
    }
}

type HttpClient = hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>;

struct Shared {
    cfg: MetadataConfig,
    http: HttpClient,
    index: RwLock<Index>,
}

struct Listener {
    /// The namespace handle's inode when bound: a namespace made again
    /// under the same name needs a new socket.
    inode: u64,
    device: String,
    networks: Arc<RwLock<BTreeSet<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Closes the listening socket; requests in flight finish.
        self.task.abort();
    }
}

/// The proxy: its listeners by namespace and what they answer with.
pub struct MetadataProxy {
    shared: Arc<Shared>,
    listeners: tokio::sync::Mutex<BTreeMap<String, Listener>>,
}

fn inode(ns: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(netns::path(ns)).ok().map(|m| m.ino())
}

impl MetadataProxy {
    pub fn new(cfg: MetadataConfig) -> MetadataProxy {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        MetadataProxy {
            shared: Arc::new(Shared {
                cfg,
                http: hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                    .build(connector),
                index: RwLock::new(Index::new()),
            }),
            listeners: tokio::sync::Mutex::new(BTreeMap::new()),
        }
    }

    /// Converges the listeners to `sites` and the identification map to
    /// `feed`; returns the errors (a site whose namespace is not there yet
    /// is left for the next apply and is not an error).
    pub async fn converge(&self, feed: &NodeFeed, sites: &[Site]) -> Vec<String> {
        if let Ok(mut ix) = self.shared.index.write() {
            *ix = index(feed);
        }
        let mut errors = Vec::new();
        let mut listeners = self.listeners.lock().await;
        let wanted: BTreeSet<&str> = sites.iter().map(|s| s.namespace.as_str()).collect();
        listeners.retain(|ns, _| {
            let keep = wanted.contains(ns.as_str());
            if !keep {
                tracing::info!(namespace = %ns, "metadata proxy: listener closed");
            }
            keep
        });
        for site in sites {
            let Some(ino) = inode(&site.namespace) else {
                listeners.remove(&site.namespace);
                continue;
            };
            if let Some(l) = listeners.get(&site.namespace) {
                if l.inode == ino && l.device == site.device && !l.task.is_finished() {
                    if let Ok(mut n) = l.networks.write() {
                        n.clone_from(&site.networks);
                    }
                    continue;
                }
            }
            listeners.remove(&site.namespace);
            match self.listen(site, ino).await {
                Ok(l) => {
                    tracing::info!(namespace = %site.namespace, "metadata proxy: listening");
                    listeners.insert(site.namespace.clone(), l);
                }
                Err(e) => errors.push(format!("metadata proxy in {}: {e}", site.namespace)),
            }
        }
        errors
    }

    /// Puts the address on the site's device and binds the listener in
    /// its namespace; the serving task runs on the agent's runtime.
    async fn listen(&self, site: &Site, inode: u64) -> Result<Listener, String> {
        let nl = Netlink::open(Some(&site.namespace)).map_err(|e| e.to_string())?;
        nl.add_address(&site.device, IpAddr::V4(METADATA_ADDR), 32)
            .await
            .map_err(|e| e.to_string())?;
        let ns = site.namespace.clone();
        let std_listener = tokio::task::spawn_blocking(move || {
            netns::run_in(Some(&ns), || -> std::io::Result<std::net::TcpListener> {
                // std sets SO_REUSEADDR: a rebind after a restart works.
                let l = std::net::TcpListener::bind((METADATA_ADDR, METADATA_PORT))?;
                l.set_nonblocking(true)?;
                Ok(l)
            })
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("bind {METADATA_ADDR}:{METADATA_PORT}: {e}"))?;
        let listener =
            tokio::net::TcpListener::from_std(std_listener).map_err(|e| e.to_string())?;
        let networks = Arc::new(RwLock::new(site.networks.clone()));
        let task = serve(
            listener,
            self.shared.clone(),
            networks.clone(),
            site.namespace.clone(),
        );
        Ok(Listener {
            inode,
            device: site.device.clone(),
            networks,
            task,
        })
    }

    /// The namespaces with a listener (for tests and reports).
    pub async fn namespaces(&self) -> Vec<String> {
        self.listeners.lock().await.keys().cloned().collect()
    }
}

type HandlerState = (Arc<Shared>, Arc<RwLock<BTreeSet<String>>>);

/// Serves `listener` (wherever it was bound) on the agent's runtime,
/// answering for `networks`.
fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    networks: Arc<RwLock<BTreeSet<String>>>,
    label: String,
) -> tokio::task::JoinHandle<()> {
    let app = axum::Router::new()
        .fallback(handle)
        .with_state((shared, networks));
    tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
        if let Err(e) = served {
            tracing::warn!(namespace = %label, error = %e, "metadata proxy: listener failed");
        }
    })
}

fn plain(status: StatusCode, msg: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
        format!("{msg}\n"),
    )
        .into_response()
}

fn internal_error() -> Response {
    plain(
        StatusCode::INTERNAL_SERVER_ERROR,
        "An unknown error has occurred. Please try your request again.",
    )
}

async fn handle(
    State((shared, networks)): State<HandlerState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let src = match peer.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let found = {
        let nets = match networks.read() {
            Ok(n) => n.clone(),
            Err(_) => return internal_error(),
        };
        match shared.index.read() {
            Ok(ix) => identify(&ix, &nets, src),
            Err(_) => return internal_error(),
        }
    };
    let Some((instance, project)) = found else {
        tracing::info!(%src, "metadata proxy: no instance has this address");
        return plain(StatusCode::NOT_FOUND, "404 Not Found");
    };
    match proxy(&shared, req, src, &instance, &project).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(%src, %instance, error = %e, "metadata proxy: upstream failed");
            internal_error()
        }
    }
}

async fn proxy(
    shared: &Shared,
    req: Request,
    src: IpAddr,
    instance: &str,
    project: &str,
) -> Result<Response, String> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|e| format!("request body: {e}"))?;
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let url = format!("{}{path}", shared.cfg.url.trim_end_matches('/'));
    let mut up = hyper::Request::builder()
        .method(parts.method.clone())
        .uri(&url)
        .header("X-Forwarded-For", src.to_string())
        .header("X-Instance-ID", instance)
        .header("X-Tenant-ID", project)
        .header(
            "X-Instance-ID-Signature",
            nodes::secret::sign_instance_id(&shared.cfg.secret, instance),
        );
    if let Some(ct) = parts.headers.get(header::CONTENT_TYPE) {
        up = up.header(header::CONTENT_TYPE, ct.clone());
    }
    let up = up
        .body(Full::new(body))
        .map_err(|e| format!("{url}: {e}"))?;
    let resp = tokio::time::timeout(UPSTREAM_TIMEOUT, shared.http.request(up))
        .await
        .map_err(|_| format!("{url}: no answer within {UPSTREAM_TIMEOUT:?}"))?
        .map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status();
    let content_type = resp.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .to_bytes();
    Ok(match status.as_u16() {
        200 => {
            let mut r = Response::new(Body::from(bytes));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                content_type.unwrap_or_else(|| HeaderValue::from_static("text/plain")),
            );
            r
        }
        403 => {
            tracing::warn!("the metadata API answered Forbidden: the shared secrets likely differ");
            plain(StatusCode::FORBIDDEN, "403 Forbidden")
        }
        404 => plain(StatusCode::NOT_FOUND, "404 Not Found"),
        409 => plain(StatusCode::CONFLICT, "409 Conflict"),
        500 => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Remote metadata server experienced an internal server error.",
        ),
        other => return Err(format!("{url}: unexpected status {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use network::app::feed::{
        FeedAddress, FeedDhcp, FeedDhcpEntry, FeedDhcpPort, FeedLeg, FeedMetadataPort, FeedNetwork,
        FeedRouter, FeedSegment, FeedSubnet,
    };

    fn net(id: &str, cidr: &str, gw: &str) -> FeedNetwork {
        FeedNetwork {
            id: id.into(),
            admin_state_up: true,
            mtu: 1500,
            router_external: false,
            segment: FeedSegment {
                network_type: "flat".into(),
                physical_network: Some("physnet1".into()),
                segmentation_id: None,
            },
            subnets: vec![FeedSubnet {
                id: format!("s-{id}"),
                ip_version: 4,
                cidr: cidr.into(),
                gateway_ip: Some(gw.into()),
                enable_dhcp: true,
                dns_nameservers: vec![],
                host_routes: vec![],
                ipv6_ra_mode: None,
                ipv6_address_mode: None,
            }],
            remote_vteps: vec![],
            remote_macs: vec![],
        }
    }

    fn dhcp(network: &str, port_ip: &str, entries: &[&str]) -> FeedDhcp {
        FeedDhcp {
            network_id: network.into(),
            subnet_id: format!("s-{network}"),
            port: Some(FeedDhcpPort {
                id: format!("dhcp-port-{network}"),
                mac_address: "fa:16:3e:00:00:02".into(),
                address: Some(FeedAddress {
                    subnet_id: format!("s-{network}"),
                    ip_address: port_ip.into(),
                    prefixlen: 24,
                }),
            }),
            entries: entries
                .iter()
                .map(|ip| FeedDhcpEntry {
                    port_id: format!("p-{ip}"),
                    mac_address: "fa:16:3e:00:00:09".into(),
                    ip_address: (*ip).into(),
                    hostname: "h".into(),
                    extra_dhcp_opts: vec![],
                })
                .collect(),
        }
    }

    fn md(network: &str, ip: &str, port: &str, vm: &str) -> FeedMetadataPort {
        FeedMetadataPort {
            network_id: network.into(),
            ip_address: ip.into(),
            port_id: port.into(),
            device_id: vm.into(),
            project_id: "proj".into(),
        }
    }

    fn feed() -> NodeFeed {
        NodeFeed {
            networks: vec![
                net("routed", "10.0.1.0/24", "10.0.1.1"),
                net("isolated", "10.0.2.0/24", "10.0.2.1"),
            ],
            ports: vec![],
            security_groups: vec![],
            remote_groups: BTreeMap::new(),
            // The routed network's gateway address is held (by the
            // router's interface); the isolated one's is not.
            dhcp: vec![
                dhcp("routed", "10.0.1.2", &["10.0.1.1", "10.0.1.5"]),
                dhcp("isolated", "10.0.2.2", &["10.0.2.5"]),
            ],
            routers: vec![FeedRouter {
                id: "r1".into(),
                admin_state_up: true,
                interfaces: vec![FeedLeg {
                    port_id: "leg".into(),
                    network_id: "routed".into(),
                    mac_address: "fa:16:3e:00:00:03".into(),
                    addresses: vec![],
                }],
                gateway: None,
                routes: vec![],
                floatingips: vec![],
                port_forwardings: vec![],
            }],
            metadata: vec![
                md("routed", "10.0.1.5", "p1", "vm1"),
                md("isolated", "10.0.2.5", "p2", "vm2"),
                // Two ports claiming one address: nobody is named.
                md("isolated", "10.0.2.9", "p3", "vm3"),
                md("isolated", "10.0.2.9", "p4", "vm4"),
            ],
        }
    }

    #[test]
    fn routers_and_isolated_dhcp_networks_are_sites() {
        let s = sites(&feed(), "oxt1-", true);
        assert_eq!(
            s,
            vec![
                Site {
                    namespace: "oxt1-qrouter-r1".into(),
                    device: "lo".into(),
                    networks: BTreeSet::from(["routed".to_string()]),
                },
                Site {
                    namespace: "oxt1-qdhcp-isolated".into(),
                    device: dhcp::ns_device("dhcp-port-isolated"),
                    networks: BTreeSet::from(["isolated".to_string()]),
                },
            ]
        );
        // No DHCP here (or no isolated metadata): routers only.
        assert_eq!(sites(&feed(), "oxt1-", false).len(), 1);
        // A router without interfaces serves nobody.
        let mut f = feed();
        f.routers[0].interfaces.clear();
        assert_eq!(sites(&f, "oxt1-", false), vec![]);
    }

    #[test]
    fn the_source_names_one_instance_on_the_sites_networks() {
        let ix = index(&feed());
        let routed = BTreeSet::from(["routed".to_string()]);
        let isolated = BTreeSet::from(["isolated".to_string()]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            identify(&ix, &routed, ip("10.0.1.5")),
            Some(("vm1".into(), "proj".into()))
        );
        assert_eq!(
            identify(&ix, &isolated, ip("10.0.2.5")),
            Some(("vm2".into(), "proj".into()))
        );
        // Another site's network, an unknown address, an ambiguous one.
        assert_eq!(identify(&ix, &routed, ip("10.0.2.5")), None);
        assert_eq!(identify(&ix, &routed, ip("10.0.1.77")), None);
        assert_eq!(identify(&ix, &isolated, ip("10.0.2.9")), None);
    }

    /// A stand-in metadata API on loopback: `/ok` echoes the headers it
    /// got (200, JSON), `/status/N` answers N.
    async fn upstream() -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let app = axum::Router::new().fallback(
            |h: axum::http::HeaderMap, uri: axum::http::Uri, body: Bytes| async move {
                if let Some(code) = uri.path().strip_prefix("/status/") {
                    let code = StatusCode::from_u16(code.parse().unwrap()).unwrap();
                    return (code, "upstream says no").into_response();
                }
                let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or("");
                let echo = serde_json::json!({
                    "path": uri.to_string(),
                    "instance": get("x-instance-id"),
                    "tenant": get("x-tenant-id"),
                    "signature": get("x-instance-id-signature"),
                    "for": get("x-forwarded-for"),
                    "body": String::from_utf8_lossy(&body),
                });
                axum::Json(echo).into_response()
            },
        );
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        url
    }

    /// The proxy served on loopback for `networks`, with 127.0.0.1
    /// known as instance `vm` on network `n`: its address.
    async fn proxy_on_loopback(url: &str, networks: &[&str]) -> (SocketAddr, MetadataProxy) {
        let p = MetadataProxy::new(MetadataConfig {
            url: url.into(),
            secret: "s3cret".into(),
        });
        let mut f = feed();
        f.metadata = vec![md("n", "127.0.0.1", "p", "vm")];
        *p.shared.index.write().unwrap() = index(&f);
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let nets = networks.iter().map(|n| n.to_string()).collect();
        std::mem::forget(serve(
            l,
            p.shared.clone(),
            Arc::new(RwLock::new(nets)),
            "test".into(),
        ));
        (addr, p)
    }

    async fn call(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
        let client: HttpClient =
            hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http();
        let req = hyper::Request::builder()
            .method(method)
            .uri(format!("http://{addr}{path}"))
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let r = client.request(req).await.unwrap();
        let status = r.status().as_u16();
        let b = r.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&b).into_owned())
    }

    #[tokio::test]
    async fn requests_are_signed_for_the_instance_and_answers_mapped_as_neutron() {
        let url = upstream().await;
        let (addr, _p) = proxy_on_loopback(&url, &["n"]).await;
        let (status, body) = call(addr, "GET", "/latest/meta-data/instance-id?x=1", "").await;
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["path"], "/latest/meta-data/instance-id?x=1");
        assert_eq!(v["instance"], "vm");
        assert_eq!(v["tenant"], "proj");
        assert_eq!(v["for"], "127.0.0.1");
        assert_eq!(
            v["signature"],
            nodes::secret::sign_instance_id("s3cret", "vm")
        );
        // The method and body go through (Nova's password POST).
        let (status, body) = call(addr, "POST", "/openstack/latest/password", "pw").await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"body\":\"pw\""), "{body}");
        for (upstream, mapped) in [(403, 403), (404, 404), (409, 409), (500, 500), (418, 500)] {
            let (status, _) = call(addr, "GET", &format!("/status/{upstream}"), "").await;
            assert_eq!(status, mapped, "upstream {upstream}");
        }
    }

    #[tokio::test]
    async fn unknown_sources_get_404_and_a_dead_upstream_500() {
        let url = upstream().await;
        // 127.0.0.1 is known on `n` only.
        let (addr, _p) = proxy_on_loopback(&url, &["other"]).await;
        assert_eq!(call(addr, "GET", "/latest", "").await.0, 404);
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let (addr, _p) = proxy_on_loopback(&dead, &["n"]).await;
        assert_eq!(call(addr, "GET", "/latest", "").await.0, 500);
    }

    #[test]
    fn the_metadata_api_is_on_the_controllers_host() {
        let c = MetadataConfig::for_controller("http://10.0.0.1:9800", "join").unwrap();
        assert_eq!(c.url, "http://10.0.0.1:8775");
        assert_eq!(c.secret, nodes::secret::metadata_secret("join"));
        let c = MetadataConfig::for_controller("http://ctl/", "j").unwrap();
        assert_eq!(c.url, "http://ctl:8775");
        let c = MetadataConfig::for_controller("http://[fd00::1]:9800", "j").unwrap();
        assert_eq!(c.url, "http://[fd00::1]:8775");
        assert!(MetadataConfig::for_controller("https://ctl", "j").is_none());
    }
}

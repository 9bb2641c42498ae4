//! Links, addresses, routes and bridge FDB entries over rtnetlink, in one
//! network namespace.
//!
//! A [`Netlink`] handle is opened inside a namespace: its socket is made on
//! a [`netns::run_in`] thread (so it belongs to that namespace for life)
//! and then driven on the agent's tokio runtime. [`LinkEvents`] is the
//! same for the RTNLGRP_LINK multicast group: the kernel tells us when a
//! `tap…` device appears or goes, no polling.

use super::netns;
use futures_util::stream::TryStreamExt;
use futures_util::StreamExt;
use rtnetlink::packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_REQUEST,
};
use rtnetlink::packet_route::link::{InfoData, InfoVeth, LinkAttribute, LinkMessage};
use rtnetlink::packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use rtnetlink::packet_route::route::RouteType;
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::{
    LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, LinkVlan, LinkVxlan, MulticastGroup,
    RouteMessageBuilder,
};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;

/// The IANA VXLAN port (Linux defaults to 8472 unless told).
pub const VXLAN_PORT: u16 = 4789;
/// The all-zero MAC: an FDB entry for it floods to its destination.
pub const ZERO_MAC: [u8; 6] = [0; 6];
/// Longest interface name the kernel takes (IFNAMSIZ − 1).
pub const IFNAMSIZ: usize = 15;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Netns(#[from] netns::NetnsError),
    #[error("netlink socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("netlink: {op} {name}: {source}")]
    Netlink {
        op: &'static str,
        name: String,
        source: rtnetlink::Error,
    },
    #[error("no link named {0}")]
    NoSuchLink(String),
    #[error("invalid link name {0:?} (1 to 15 bytes, no '/' or whitespace)")]
    BadName(String),
}

fn nl<'a>(op: &'static str, name: &'a str) -> impl FnOnce(rtnetlink::Error) -> LinkError + 'a {
    move |source| LinkError::Netlink {
        op,
        name: name.to_string(),
        source,
    }
}

/// Whether the kernel takes `name` as an interface name (its
/// `dev_valid_name`): 1 to [`IFNAMSIZ`] bytes, not `.` or `..`, no `/`,
/// `:` or whitespace.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= IFNAMSIZ
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace())
}

fn check_name(name: &str) -> Result<(), LinkError> {
    if !valid_name(name) {
        return Err(LinkError::BadName(name.to_string()));
    }
    Ok(())
}

/// What the agent needs to know of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// The bridge (or other controller) it is enslaved to.
    pub master: Option<u32>,
    pub mtu: Option<u32>,
    pub up: bool,
}

impl Link {
    fn from_message(m: &LinkMessage) -> Option<Link> {
        let mut name = None;
        let mut master = None;
        let mut mtu = None;
        for a in &m.attributes {
            match a {
                LinkAttribute::IfName(n) => name = Some(n.clone()),
                LinkAttribute::Controller(c) => master = Some(*c),
                LinkAttribute::Mtu(v) => mtu = Some(*v),
                _ => {}
            }
        }
        Some(Link {
            index: m.header.index,
            name: name?,
            master,
            mtu,
            up: m
                .header
                .flags
                .contains(rtnetlink::packet_route::link::LinkFlags::Up),
        })
    }
}

/// A link appearing or going, from RTNLGRP_LINK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// A new link, or a change of one (the kernel sends RTM_NEWLINK for
    /// both).
    New(Link),
    Removed(Link),
}

/// An rtnetlink connection inside one namespace.
#[derive(Clone)]
pub struct Netlink {
    handle: rtnetlink::Handle,
}

/// Opens the socket inside `ns` on a namespace thread, then hands the
/// connection to the current runtime.
fn open_in(
    ns: Option<&str>,
    groups: &'static [MulticastGroup],
) -> Result<(rtnetlink::Handle, Unsolicited), LinkError> {
    let rt = tokio::runtime::Handle::current();
    let (conn, handle, rx) = netns::run_in(ns, move || {
        // The tokio socket registers with the reactor when made.
        let _guard = rt.enter();
        if groups.is_empty() {
            rtnetlink::new_connection()
        } else {
            rtnetlink::new_multicast_connection(groups)
        }
    })??;
    tokio::spawn(conn);
    Ok((handle, Box::pin(rx)))
}

/// The kernel's unsolicited messages (multicast notifications).
type Unsolicited = std::pin::Pin<
    Box<
        dyn futures_util::Stream<
                Item = (
                    NetlinkMessage<RouteNetlinkMessage>,
                    rtnetlink::sys::SocketAddr,
                ),
            > + Send,
    >,
>;

impl Netlink {
    /// Opens a connection inside namespace `ns` (None: the agent's own).
    /// Must be called on a tokio runtime.
    pub fn open(ns: Option<&str>) -> Result<Netlink, LinkError> {
        let (handle, _rx) = open_in(ns, &[])?;
        Ok(Netlink { handle })
    }

    /// Every link.
    pub async fn links(&self) -> Result<Vec<Link>, LinkError> {
        let mut out = Vec::new();
        let mut s = self.handle.link().get().execute();
        while let Some(m) = s.try_next().await.map_err(nl("list links", ""))? {
            if let Some(l) = Link::from_message(&m) {
                out.push(l);
            }
        }
        Ok(out)
    }

    /// The links whose name starts with `prefix`.
    pub async fn links_with_prefix(&self, prefix: &str) -> Result<Vec<Link>, LinkError> {
        let mut all = self.links().await?;
        all.retain(|l| l.name.starts_with(prefix));
        Ok(all)
    }

    /// The link named `name`, if any.
    pub async fn link(&self, name: &str) -> Result<Option<Link>, LinkError> {
        check_name(name)?;
        let mut s = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match s.try_next().await {
            Ok(Some(m)) => Ok(Link::from_message(&m)),
            Ok(None) => Ok(None),
            // ENODEV: no such link.
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -19 => Ok(None),
            Err(e) => Err(nl("get link", name)(e)),
        }
    }

    async fn index(&self, name: &str) -> Result<u32, LinkError> {
        self.link(name)
            .await?
            .map(|l| l.index)
            .ok_or_else(|| LinkError::NoSuchLink(name.to_string()))
    }

    async fn add(&self, name: &str, msg: LinkMessage) -> Result<(), LinkError> {
        self.handle
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(nl("add link", name))
    }

    /// Makes bridge `name` unless it exists (STP off, as Neutron's
    /// linuxbridge agent).
    pub async fn ensure_bridge(&self, name: &str) -> Result<u32, LinkError> {
        check_name(name)?;
        if self.link(name).await?.is_none() {
            self.add(name, LinkBridge::new(name).build()).await?;
        }
        self.index(name).await
    }

    /// Makes a veth pair `name` ↔ `peer`; with `peer_ns` the peer is made
    /// directly inside that namespace.
    pub async fn add_veth(
        &self,
        name: &str,
        peer: &str,
        peer_ns: Option<&str>,
    ) -> Result<(), LinkError> {
        check_name(name)?;
        check_name(peer)?;
        let msg = match peer_ns {
            None => LinkVeth::new(name, peer).build(),
            Some(ns) => {
                let fd = std::fs::File::open(netns::path(ns))?;
                let peer_msg = LinkMessageBuilder::<LinkUnspec>::new()
                    .name(peer.to_string())
                    .setns_by_fd(fd.as_raw_fd())
                    .build();
                let msg = LinkVeth::new(name, peer)
                    .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_msg)))
                    .build();
                // The fd is read by the kernel during the request.
                let r = self.add(name, msg).await;
                drop(fd);
                return r;
            }
        };
        self.add(name, msg).await
    }

    /// Makes VXLAN device `name` unless it exists: VNI `vni`, local VTEP
    /// `local`, underlay device `dev`, UDP 4789, learning off (the FDB is
    /// filled from the port bindings).
    pub async fn ensure_vxlan(
        &self,
        name: &str,
        vni: u32,
        local: Ipv4Addr,
        dev: Option<&str>,
    ) -> Result<u32, LinkError> {
        check_name(name)?;
        if self.link(name).await?.is_none() {
            let mut b = LinkVxlan::new(name, vni)
                .local(local)
                .port(VXLAN_PORT)
                .learning(false);
            if let Some(d) = dev {
                b = b.dev(self.index(d).await?);
            }
            self.add(name, b.build()).await?;
        }
        self.index(name).await
    }

    /// Makes VLAN sub-interface `name` (VLAN `vlan` on `base`) unless it
    /// exists. Kernels without 8021q refuse it.
    pub async fn ensure_vlan(&self, name: &str, base: &str, vlan: u16) -> Result<u32, LinkError> {
        check_name(name)?;
        if self.link(name).await?.is_none() {
            let b = self.index(base).await?;
            self.add(name, LinkVlan::new(name, b, vlan).build()).await?;
        }
        self.index(name).await
    }

    async fn set(&self, name: &str, msg: LinkMessage) -> Result<(), LinkError> {
        self.handle
            .link()
            .set(msg)
            .execute()
            .await
            .map_err(nl("set link", name))
    }

    /// Enslaves `name` to bridge `master`.
    pub async fn set_master(&self, name: &str, master: &str) -> Result<(), LinkError> {
        let idx = self.index(name).await?;
        let m = self.index(master).await?;
        self.set(name, LinkUnspec::new_with_index(idx).controller(m).build())
            .await
    }

    /// Plugs `link` in one request: enslaved to bridge index `master`,
    /// with `mtu` when given, and up; only what differs is sent. Whether
    /// it changed anything.
    pub async fn plug_link(
        &self,
        link: &Link,
        master: u32,
        mtu: Option<u32>,
    ) -> Result<bool, LinkError> {
        let mut b = LinkUnspec::new_with_index(link.index);
        let mut changed = false;
        if let Some(m) = mtu.filter(|m| link.mtu != Some(*m)) {
            b = b.mtu(m);
            changed = true;
        }
        if link.master != Some(master) {
            b = b.controller(master);
            changed = true;
        }
        if !link.up {
            b = b.up();
            changed = true;
        }
        if changed {
            self.set(&link.name, b.build()).await?;
        }
        Ok(changed)
    }

    /// Releases `name` from its bridge.
    pub async fn set_nomaster(&self, name: &str) -> Result<(), LinkError> {
        let idx = self.index(name).await?;
        self.set(name, LinkUnspec::new_with_index(idx).nocontroller().build())
            .await
    }

    pub async fn set_up(&self, name: &str) -> Result<(), LinkError> {
        let idx = self.index(name).await?;
        self.set(name, LinkUnspec::new_with_index(idx).up().build())
            .await
    }

    pub async fn set_mtu(&self, name: &str, mtu: u32) -> Result<(), LinkError> {
        let idx = self.index(name).await?;
        self.set(name, LinkUnspec::new_with_index(idx).mtu(mtu).build())
            .await
    }

    pub async fn set_address(&self, name: &str, mac: [u8; 6]) -> Result<(), LinkError> {
        let idx = self.index(name).await?;
        self.set(
            name,
            LinkUnspec::new_with_index(idx)
                .address(mac.to_vec())
                .build(),
        )
        .await
    }

    /// Adds `addr/prefix` on `name`; an address already there is fine.
    pub async fn add_address(&self, name: &str, addr: IpAddr, prefix: u8) -> Result<(), LinkError> {
        let idx = self.index(name).await?;
        match self.handle.address().add(idx, addr, prefix).execute().await {
            // EEXIST: already configured.
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -17 => Ok(()),
            r => r.map_err(nl("add address", name)),
        }
    }

    /// Adds (or replaces) the IPv4 route `dest/prefix` via `gateway`.
    pub async fn add_route_v4(
        &self,
        dest: Ipv4Addr,
        prefix: u8,
        gateway: Ipv4Addr,
    ) -> Result<(), LinkError> {
        let msg = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(dest, prefix)
            .gateway(gateway)
            .build();
        self.handle
            .route()
            .add(msg)
            .replace()
            .execute()
            .await
            .map_err(nl("add route", &dest.to_string()))
    }

    /// Appends the FDB entry `mac → dst` on VXLAN device `dev`. With the
    /// all-zero MAC, several entries (one per remote VTEP) flood BUM
    /// traffic to each: head-end replication. rtnetlink has no builder
    /// for NLM_F_APPEND, hence the raw request. Appending what is already
    /// there is fine.
    pub async fn fdb_append(&self, dev: &str, mac: [u8; 6], dst: IpAddr) -> Result<(), LinkError> {
        let idx = self.index(dev).await?;
        let m = Self::fdb_message(idx, mac, dst);
        let mut req = NetlinkMessage::from(RouteNetlinkMessage::NewNeighbour(m));
        req.header.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND;
        let mut handle = self.handle.clone();
        let mut resp = handle.request(req).map_err(nl("fdb append", dev))?;
        while let Some(msg) = resp.next().await {
            if let NetlinkPayload::Error(e) = msg.payload {
                if e.raw_code() == -17 {
                    return Ok(());
                }
                return Err(nl("fdb append", dev)(rtnetlink::Error::NetlinkError(e)));
            }
        }
        Ok(())
    }

    fn fdb_message(idx: u32, mac: [u8; 6], dst: IpAddr) -> NeighbourMessage {
        let mut m = NeighbourMessage::default();
        m.header.family = AddressFamily::Bridge;
        m.header.ifindex = idx;
        m.header.state = NeighbourState::Permanent;
        m.header.flags = NeighbourFlags::Own;
        m.header.kind = RouteType::Unspec;
        m.attributes
            .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
        m.attributes
            .push(NeighbourAttribute::Destination(match dst {
                IpAddr::V4(v) => NeighbourAddress::Inet(v),
                IpAddr::V6(v) => NeighbourAddress::Inet6(v),
            }));
        m
    }

    /// Removes the FDB entry `mac → dst` of `dev`; gone already is fine.
    pub async fn fdb_delete(&self, dev: &str, mac: [u8; 6], dst: IpAddr) -> Result<(), LinkError> {
        let idx = self.index(dev).await?;
        match self
            .handle
            .neighbours()
            .del(Self::fdb_message(idx, mac, dst))
            .execute()
            .await
        {
            // ENOENT: not there.
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -2 => Ok(()),
            r => r.map_err(nl("fdb delete", dev)),
        }
    }

    /// The FDB destinations of `dev`: (MAC, VTEP) pairs of its static
    /// entries.
    pub async fn fdb(&self, dev: &str) -> Result<Vec<([u8; 6], IpAddr)>, LinkError> {
        let idx = self.index(dev).await?;
        let mut out = Vec::new();
        let mut s = self
            .handle
            .neighbours()
            .get()
            .set_address_family(AddressFamily::Bridge)
            .execute();
        while let Some(m) = s.try_next().await.map_err(nl("list fdb", dev))? {
            if m.header.ifindex != idx {
                continue;
            }
            let mut mac = None;
            let mut dst = None;
            for a in &m.attributes {
                match a {
                    NeighbourAttribute::LinkLayerAddress(l) if l.len() == 6 => {
                        let mut b = [0u8; 6];
                        b.copy_from_slice(l);
                        mac = Some(b);
                    }
                    NeighbourAttribute::Destination(NeighbourAddress::Inet(v)) => {
                        dst = Some(IpAddr::V4(*v))
                    }
                    NeighbourAttribute::Destination(NeighbourAddress::Inet6(v)) => {
                        dst = Some(IpAddr::V6(*v))
                    }
                    // Bridge-family entries carry the VTEP as raw bytes
                    // (the message's family says nothing of the address).
                    NeighbourAttribute::Destination(NeighbourAddress::Other(b)) => {
                        dst = match b.len() {
                            4 => <[u8; 4]>::try_from(b.as_slice()).ok().map(IpAddr::from),
                            16 => <[u8; 16]>::try_from(b.as_slice()).ok().map(IpAddr::from),
                            _ => None,
                        }
                    }
                    _ => {}
                }
            }
            if let (Some(mac), Some(dst)) = (mac, dst) {
                out.push((mac, dst));
            }
        }
        Ok(out)
    }

    /// Deletes link `name` (a veth takes its peer along); gone already is
    /// fine.
    pub async fn delete(&self, name: &str) -> Result<(), LinkError> {
        let Some(l) = self.link(name).await? else {
            return Ok(());
        };
        match self.handle.link().del(l.index).execute().await {
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -19 => Ok(()),
            r => r.map_err(nl("delete link", name)),
        }
    }
}

/// The kernel's link add/remove notifications inside one namespace.
pub struct LinkEvents {
    rx: Unsolicited,
}

impl LinkEvents {
    /// Subscribes to RTNLGRP_LINK inside `ns`. Subscribe before listing
    /// the links so nothing falls between the list and the first event.
    pub fn subscribe(ns: Option<&str>) -> Result<LinkEvents, LinkError> {
        let (_handle, rx) = open_in(ns, &[MulticastGroup::Link])?;
        Ok(LinkEvents { rx })
    }

    /// The next event; None once the socket is gone.
    pub async fn next(&mut self) -> Option<LinkEvent> {
        while let Some((msg, _)) = self.rx.next().await {
            match msg.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(m)) => {
                    if let Some(l) = Link::from_message(&m) {
                        return Some(LinkEvent::New(l));
                    }
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(m)) => {
                    if let Some(l) = Link::from_message(&m) {
                        return Some(LinkEvent::Removed(l));
                    }
                }
                _ => {}
            }
        }
        None
    }
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut out {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_ifnamsiz() {
        assert!(check_name("brq0123456789a").is_ok());
        assert!(check_name("0123456789abcdef").is_err());
        assert!(check_name("").is_err());
        assert!(check_name("a b").is_err());
        assert!(check_name("a/b").is_err());
    }

    #[test]
    fn macs_parse() {
        assert_eq!(
            parse_mac("fa:16:3e:00:0a:FF"),
            Some([0xfa, 0x16, 0x3e, 0, 0x0a, 0xff])
        );
        for bad in [
            "",
            "fa:16:3e:00:0a",
            "fa:16:3e:00:0a:ff:00",
            "g0:16:3e:00:0a:ff",
            "f:16:3e:00:0a:ff0",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }
}

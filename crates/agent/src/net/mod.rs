//! The network role's host side: what the agent does to the kernel
//! (namespaces, links, bridges, VXLAN, nftables, DHCP, the metadata proxy)
//! to converge a host to its part of the network feed
//! (`docs/agent-feed.md`).

pub mod daemon;
pub mod dhcp;
pub mod l2;
pub mod l3nat;
pub mod link;
pub mod metadata;
pub mod netns;
pub mod nft;
pub mod ports;
pub mod radvd;
pub mod role;
pub mod router;
pub mod secgroups;

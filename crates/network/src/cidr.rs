//! Address arithmetic for subnets and IPAM: CIDRs and addresses of both
//! families as 128-bit integers (IPv4 in the low 32 bits), so ranges,
//! containment and overlap are integer comparisons.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// 4 or 6.
pub type Version = u8;

/// An address as its family and integer value.
pub fn to_int(ip: IpAddr) -> (Version, u128) {
    match ip {
        IpAddr::V4(a) => (4, u128::from(u32::from(a))),
        IpAddr::V6(a) => (6, u128::from(a)),
    }
}

/// The address of family `v` with integer value `n` (truncated to the
/// family's width).
pub fn from_int(v: Version, n: u128) -> IpAddr {
    if v == 4 {
        IpAddr::V4(Ipv4Addr::from((n & 0xffff_ffff) as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(n))
    }
}

/// Parses an address; `None` when it is not one.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    IpAddr::from_str(s).ok()
}

/// A network: family, first address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub version: Version,
    pub network: u128,
    pub prefixlen: u8,
}

impl Cidr {
    fn bits(v: Version) -> u8 {
        if v == 4 {
            32
        } else {
            128
        }
    }

    /// Parses `addr/len` (or a bare address as a host route). Returns the
    /// CIDR and whether the text was already in its canonical form (no
    /// host bits set).
    pub fn parse(s: &str) -> Option<(Cidr, bool)> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let (version, n) = to_int(parse_ip(a)?);
        let max = Self::bits(version);
        let prefixlen = match l {
            Some(l) if !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()) => {
                l.parse::<u8>().ok()?
            }
            Some(_) => return None,
            None => max,
        };
        if prefixlen > max {
            return None;
        }
        let c = Cidr {
            version,
            network: n & Self::mask(version, prefixlen),
            prefixlen,
        };
        Some((c, c.network == n))
    }

    fn mask(v: Version, len: u8) -> u128 {
        let bits = Self::bits(v);
        if len == 0 {
            return 0;
        }
        let all: u128 = if bits == 128 {
            u128::MAX
        } else {
            (1u128 << bits) - 1
        };
        // len >= 1, so the host part is at most 127 bits.
        all & !((1u128 << (bits - len)) - 1)
    }

    /// The number of addresses.
    pub fn size(&self) -> u128 {
        let host = Self::bits(self.version) - self.prefixlen;
        if host >= 128 {
            u128::MAX
        } else {
            1u128 << host
        }
    }

    /// The last address.
    pub fn last(&self) -> u128 {
        if Self::bits(self.version) - self.prefixlen >= 128 {
            return u128::MAX;
        }
        self.network + (self.size() - 1)
    }

    pub fn contains(&self, v: Version, n: u128) -> bool {
        v == self.version && n >= self.network && n <= self.last()
    }

    pub fn contains_ip(&self, ip: IpAddr) -> bool {
        let (v, n) = to_int(ip);
        self.contains(v, n)
    }

    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.version == other.version
            && self.network <= other.last()
            && other.network <= self.last()
    }

    pub fn ip(&self, n: u128) -> IpAddr {
        from_int(self.version, n)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}",
            from_int(self.version, self.network),
            self.prefixlen
        )
    }
}

/// Inclusive address ranges of one family, merged and sorted: the set
/// arithmetic subnet pools need (netaddr's `IPSet`).
pub fn merge(mut ranges: Vec<(u128, u128)>) -> Vec<(u128, u128)> {
    ranges.sort_unstable();
    let mut out: Vec<(u128, u128)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match out.last_mut() {
            Some(last) if last.1 == u128::MAX || s <= last.1 + 1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// `a` less `b` (both merged).
pub fn subtract(a: &[(u128, u128)], b: &[(u128, u128)]) -> Vec<(u128, u128)> {
    let mut out = Vec::new();
    for &(mut s, e) in a {
        let mut done = false;
        for &(bs, be) in b {
            if be < s || bs > e {
                continue;
            }
            if bs > s {
                out.push((s, bs - 1));
            }
            if be >= e {
                done = true;
                break;
            }
            s = be + 1;
        }
        if !done {
            out.push((s, e));
        }
    }
    out
}

/// Whether every address of `a` is in `b` (both merged).
pub fn is_subset(a: &[(u128, u128)], b: &[(u128, u128)]) -> bool {
    subtract(a, b).is_empty()
}

/// The fewest CIDRs covering exactly the ranges, in address order.
pub fn to_cidrs(version: Version, ranges: &[(u128, u128)]) -> Vec<Cidr> {
    let bits: u32 = if version == 4 { 32 } else { 128 };
    let mut out = Vec::new();
    for &(mut s, e) in ranges {
        loop {
            // The largest aligned block at `s` that ends by `e`.
            let mut host = if s == 0 {
                bits
            } else {
                s.trailing_zeros().min(bits)
            };
            while host > 0 {
                let span = if host >= 128 {
                    u128::MAX
                } else {
                    (1u128 << host) - 1
                };
                if s.checked_add(span).is_some_and(|end| end <= e) {
                    break;
                }
                host -= 1;
            }
            let span = if host >= 128 {
                u128::MAX
            } else {
                (1u128 << host) - 1
            };
            out.push(Cidr {
                version,
                network: s,
                prefixlen: (bits - host) as u8,
            });
            let end = s + span;
            if end >= e {
                break;
            }
            s = end + 1;
        }
    }
    out
}

/// The modified EUI-64 address of `mac` in the /64 `prefix` (RFC 4291),
/// as Neutron gives ports on SLAAC and DHCPv6-stateless subnets.
pub fn eui64(prefix: &Cidr, mac: [u8; 6]) -> IpAddr {
    let iid: u64 = u64::from_be_bytes([
        mac[0] ^ 0x02,
        mac[1],
        mac[2],
        0xff,
        0xfe,
        mac[3],
        mac[4],
        mac[5],
    ]);
    from_int(
        6,
        (prefix.network & !u128::from(u64::MAX)) | u128::from(iid),
    )
}

/// Parses `aa:bb:cc:dd:ee:ff` (case-insensitive; `-` separators too).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return None;
    }
    let mut out = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 {
            return None;
        }
        out[i] = u8::from_str_radix(p, 16).ok()?;
    }
    Some(out)
}

pub fn format_mac(m: [u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cidrs_parse_contain_and_overlap() {
        let (a, canon) = Cidr::parse("10.0.0.0/24").unwrap();
        assert!(canon);
        assert_eq!(a.size(), 256);
        assert_eq!(a.ip(a.last()).to_string(), "10.0.0.255");
        let (b, canon) = Cidr::parse("10.0.0.7/16").unwrap();
        assert!(!canon);
        assert_eq!(b.to_string(), "10.0.0.0/16");
        assert!(a.overlaps(&b) && b.overlaps(&a));
        let (c, _) = Cidr::parse("10.0.1.0/24").unwrap();
        assert!(!a.overlaps(&c));
        assert!(a.contains_ip(parse_ip("10.0.0.9").unwrap()));
        assert!(!a.contains_ip(parse_ip("10.0.1.9").unwrap()));
        assert!(!a.contains_ip(parse_ip("::1").unwrap()));
        let (v6, canon) = Cidr::parse("2001:db8::/64").unwrap();
        assert!(canon);
        assert_eq!(
            v6.ip(v6.last()).to_string(),
            "2001:db8::ffff:ffff:ffff:ffff"
        );
        let (all, _) = Cidr::parse("::/0").unwrap();
        assert_eq!(all.last(), u128::MAX);
        let (all4, _) = Cidr::parse("0.0.0.0/0").unwrap();
        assert_eq!(all4.ip(all4.last()).to_string(), "255.255.255.255");
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("10.0.0.0/").is_none());
        assert!(Cidr::parse("10.0.0.0/+1").is_none());
        assert!(Cidr::parse("nope/8").is_none());
        assert_eq!(Cidr::parse("10.1.2.3").unwrap().0.prefixlen, 32);
    }

    #[test]
    fn eui64_from_a_mac() {
        let (p, _) = Cidr::parse("2001:db8::/64").unwrap();
        let mac = parse_mac("fa:16:3e:12:34:56").unwrap();
        assert_eq!(eui64(&p, mac).to_string(), "2001:db8::f816:3eff:fe12:3456");
        assert_eq!(format_mac(mac), "fa:16:3e:12:34:56");
        assert!(parse_mac("fa:16:3e:12:34").is_none());
        assert!(parse_mac("fa:16:3e:12:34:zz").is_none());
    }

    #[test]
    fn sets_merge_subtract_and_split() {
        let r = |s: &str| {
            let (c, _) = Cidr::parse(s).unwrap();
            (c.network, c.last())
        };
        let m = merge(vec![r("10.0.1.0/24"), r("10.0.0.0/24")]);
        assert_eq!(to_cidrs(4, &m)[0].to_string(), "10.0.0.0/23");
        let left = subtract(&m, &[r("10.0.0.0/26")]);
        let parts: Vec<String> = to_cidrs(4, &left).iter().map(|c| c.to_string()).collect();
        assert_eq!(parts, ["10.0.0.64/26", "10.0.0.128/25", "10.0.1.0/24"]);
        assert!(is_subset(&[r("10.0.1.0/25")], &m));
        assert!(!is_subset(&[r("10.0.2.0/25")], &m));
        let all = merge(vec![r("::/0")]);
        assert_eq!(to_cidrs(6, &all)[0].to_string(), "::/0");
        assert!(subtract(&all, &all).is_empty());
    }
}

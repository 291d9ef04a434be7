//! Which IP addresses a check may connect to.
//!
//! A DCV fetch goes wherever the applicant's DNS points. Without this policy
//! an applicant could point a name at the CA's own network (a metadata
//! service, an admin interface on 10.0.0.1, the coordinator's loopback) and
//! use the CA as a proxy into it. So, as Boulder's VA does, every address of
//! the IANA special-purpose registries (RFC 6890 and successors) that is not
//! globally reachable is refused, and in IPv6 everything outside global
//! unicast (`2000::/3`).
//!
//! Loopback test worlds use [`AddressPolicy::LoopbackOnlyForTests`], which
//! allows loopback and *nothing else*: a test build switched on by mistake in
//! production reaches no host at all (the same rule as the worker's local
//! mode).
//!
//! One policy for every perspective: it lives in core, and `crate::web`
//! checks it before every connection the worker, the coordinator's native
//! network and the tests make.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not a public, globally reachable unicast address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecialUse {
    /// `0.0.0.0`, `::`.
    Unspecified,
    /// `0.0.0.0/8` (RFC 791 "this network").
    ThisNetwork,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918: `10/8`, `172.16/12`, `192.168/16`.
    Private,
    /// RFC 6598 shared address space (carrier-grade NAT): `100.64/10`.
    SharedAddressSpace,
    /// `169.254/16`, `fe80::/10`.
    LinkLocal,
    /// `224/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// RFC 5737 / 3849 / 9637: `192.0.2/24`, `198.51.100/24`,
    /// `203.0.113/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// RFC 2544: `198.18/15`.
    Benchmarking,
    /// IETF protocol assignments: `192.0.0/24`, `2001::/23` (Teredo,
    /// ORCHID, benchmarking and others).
    ProtocolAssignments,
    /// 6to4: relay anycast `192.88.99/24` (RFC 7526) and `2002::/16`.
    SixToFour,
    /// Reserved for future use: `240/4`.
    Reserved,
    /// IPv4-mapped `::ffff:0:0/96`: an IPv4 address in disguise.
    Ipv4Mapped,
    /// NAT64 prefixes `64:ff9b::/96` and `64:ff9b:1::/48` (RFC 6052, 8215):
    /// they translate to IPv4 addresses, possibly internal ones.
    Translation,
    /// RFC 6666 discard-only `100::/64`.
    DiscardOnly,
    /// RFC 4193 unique local addresses `fc00::/7` (the IPv6 private range).
    UniqueLocal,
    /// Deprecated site-local `fec0::/10`.
    SiteLocal,
    /// Anything else outside IPv6 global unicast `2000::/3`.
    NotGlobalUnicast,
}

impl SpecialUse {
    fn describe(self) -> &'static str {
        match self {
            SpecialUse::Unspecified => "the unspecified address",
            SpecialUse::ThisNetwork => "in 0.0.0.0/8 (this network)",
            SpecialUse::Loopback => "loopback",
            SpecialUse::Private => "private (RFC 1918)",
            SpecialUse::SharedAddressSpace => {
                "shared address space (100.64.0.0/10, carrier-grade NAT)"
            }
            SpecialUse::LinkLocal => "link-local",
            SpecialUse::Multicast => "multicast",
            SpecialUse::Broadcast => "the broadcast address",
            SpecialUse::Documentation => "reserved for documentation",
            SpecialUse::Benchmarking => "reserved for benchmarking (198.18.0.0/15)",
            SpecialUse::ProtocolAssignments => "reserved for IETF protocol assignments",
            SpecialUse::SixToFour => "a 6to4 address",
            SpecialUse::Reserved => "reserved (240.0.0.0/4)",
            SpecialUse::Ipv4Mapped => "an IPv4-mapped IPv6 address",
            SpecialUse::Translation => "a NAT64 translation address",
            SpecialUse::DiscardOnly => "discard-only (100::/64)",
            SpecialUse::UniqueLocal => "unique local (fc00::/7, IPv6 private)",
            SpecialUse::SiteLocal => "site-local (fec0::/10)",
            SpecialUse::NotGlobalUnicast => "outside IPv6 global unicast (2000::/3)",
        }
    }
}

impl fmt::Display for SpecialUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// IPv4 special-purpose blocks, most specific first where they nest.
const V4_BLOCKS: [([u8; 4], u8, SpecialUse); 17] = [
    ([0, 0, 0, 0], 32, SpecialUse::Unspecified),
    ([0, 0, 0, 0], 8, SpecialUse::ThisNetwork),
    ([10, 0, 0, 0], 8, SpecialUse::Private),
    ([100, 64, 0, 0], 10, SpecialUse::SharedAddressSpace),
    ([127, 0, 0, 0], 8, SpecialUse::Loopback),
    ([169, 254, 0, 0], 16, SpecialUse::LinkLocal),
    ([172, 16, 0, 0], 12, SpecialUse::Private),
    ([192, 0, 0, 0], 24, SpecialUse::ProtocolAssignments),
    ([192, 0, 2, 0], 24, SpecialUse::Documentation),
    ([192, 88, 99, 0], 24, SpecialUse::SixToFour),
    ([192, 168, 0, 0], 16, SpecialUse::Private),
    ([198, 18, 0, 0], 15, SpecialUse::Benchmarking),
    ([198, 51, 100, 0], 24, SpecialUse::Documentation),
    ([203, 0, 113, 0], 24, SpecialUse::Documentation),
    ([224, 0, 0, 0], 4, SpecialUse::Multicast),
    ([255, 255, 255, 255], 32, SpecialUse::Broadcast),
    ([240, 0, 0, 0], 4, SpecialUse::Reserved),
];

/// IPv6 special-purpose blocks, most specific first where they nest.
const V6_BLOCKS: [(u128, u8, SpecialUse); 14] = [
    (0, 128, SpecialUse::Unspecified),
    (1, 128, SpecialUse::Loopback),
    (0xffff_0000_0000, 96, SpecialUse::Ipv4Mapped),
    (
        0x0064_ff9b_0000_0000_0000_0000_0000_0000,
        96,
        SpecialUse::Translation,
    ),
    (
        0x0064_ff9b_0001_0000_0000_0000_0000_0000,
        48,
        SpecialUse::Translation,
    ),
    (
        0x0100_0000_0000_0000_0000_0000_0000_0000,
        64,
        SpecialUse::DiscardOnly,
    ),
    (
        0x2001_0db8_0000_0000_0000_0000_0000_0000,
        32,
        SpecialUse::Documentation,
    ),
    (
        0x2001_0000_0000_0000_0000_0000_0000_0000,
        23,
        SpecialUse::ProtocolAssignments,
    ),
    (
        0x2002_0000_0000_0000_0000_0000_0000_0000,
        16,
        SpecialUse::SixToFour,
    ),
    (
        0x3fff_0000_0000_0000_0000_0000_0000_0000,
        20,
        SpecialUse::Documentation,
    ),
    (
        0xfc00_0000_0000_0000_0000_0000_0000_0000,
        7,
        SpecialUse::UniqueLocal,
    ),
    (
        0xfe80_0000_0000_0000_0000_0000_0000_0000,
        10,
        SpecialUse::LinkLocal,
    ),
    (
        0xfec0_0000_0000_0000_0000_0000_0000_0000,
        10,
        SpecialUse::SiteLocal,
    ),
    (
        0xff00_0000_0000_0000_0000_0000_0000_0000,
        8,
        SpecialUse::Multicast,
    ),
];

/// IPv6 global unicast, `2000::/3`; outside it, nothing is public.
const V6_GLOBAL_UNICAST: (u128, u8) = (0x2000_0000_0000_0000_0000_0000_0000_0000, 3);

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn in_v6(ip: Ipv6Addr, net: u128, prefix: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    u128::from(ip) & mask == net & mask
}

/// Whether `ip` is in `network/length` (both of one family; a length beyond
/// the family's width compares the whole address). For other tables of
/// ranges than these, such as a platform's own.
pub fn in_prefix(ip: IpAddr, network: IpAddr, length: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) => in_v4(ip, network.octets(), length.min(32)),
        (IpAddr::V6(ip), IpAddr::V6(network)) => in_v6(ip, u128::from(network), length.min(128)),
        _ => false,
    }
}

/// The special use of `ip`, or `None` for a public unicast address.
pub fn special_use(ip: IpAddr) -> Option<SpecialUse> {
    match ip {
        IpAddr::V4(ip) => V4_BLOCKS
            .iter()
            .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
            .map(|(_, _, use_)| *use_),
        IpAddr::V6(ip) => V6_BLOCKS
            .iter()
            .find(|(net, prefix, _)| in_v6(ip, *net, *prefix))
            .map(|(_, _, use_)| *use_)
            .or_else(|| {
                let (net, prefix) = V6_GLOBAL_UNICAST;
                (!in_v6(ip, net, prefix)).then_some(SpecialUse::NotGlobalUnicast)
            }),
    }
}

/// Which addresses a perspective's network may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressPolicy {
    /// Production: public unicast addresses only.
    #[default]
    PublicOnly,
    /// Loopback test worlds: loopback addresses only, nothing else.
    LoopbackOnlyForTests,
}

/// An address the policy refuses, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefusedAddress {
    /// In production: the address is of a special-purpose range.
    #[error("{ip} is {reason}")]
    SpecialUse {
        /// The address refused.
        ip: IpAddr,
        /// Which special-purpose range it is in.
        reason: SpecialUse,
    },
    /// In a loopback test world: the address is not loopback.
    #[error("{ip} is not loopback (the loopback test setting reaches loopback only)")]
    NotLoopback {
        /// The address refused.
        ip: IpAddr,
    },
}

impl AddressPolicy {
    /// Whether a connection to `ip` is allowed.
    pub fn check(self, ip: IpAddr) -> Result<(), RefusedAddress> {
        match self {
            AddressPolicy::PublicOnly => match special_use(ip) {
                None => Ok(()),
                Some(reason) => Err(RefusedAddress::SpecialUse { ip, reason }),
            },
            AddressPolicy::LoopbackOnlyForTests => {
                // `::ffff:127.0.0.1` is not `is_loopback()` for Ipv6Addr, and
                // stays refused: tests have no reason to disguise addresses.
                if ip.is_loopback() {
                    Ok(())
                } else {
                    Err(RefusedAddress::NotLoopback { ip })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;

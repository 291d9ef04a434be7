//! DNS messages: the query a perspective sends and the checks on the answer.
//!
//! All wire encoding and decoding is hickory-proto's; this module decides what
//! to ask and whether a response really answers it (id, question, flags,
//! alias chain, limits) before turning it into a [`DnsAnswer`]. It also builds
//! responses, for the loopback DoH fixtures used in tests (`dns::fixture`,
//! behind the `testing` feature).
//!
//! Decisions worth knowing:
//! - A truncated (TC) response is an error: DoH carries whole messages
//!   (RFC 8484 section 6), so TC means a broken or hostile resolver.
//! - Aliases are followed only within the answer section, from the query
//!   name: a CNAME at the current name, else a DNAME at a proper ancestor
//!   (RFC 6672). When both are present they must agree. A loop, or a chain
//!   longer than [`ResponseLimits::max_chain`], is [`DnsError::LimitExceeded`]:
//!   the chain never ends within what we are willing to follow.
//! - Only class IN records count; others in the answer section are ignored.
//! - Rcodes other than NOERROR and NXDOMAIN are reported as-is with no
//!   records; such responses may omit the question (RFC 1035 servers do for
//!   some errors), but NOERROR and NXDOMAIN must echo it since they are
//!   answers a caller may act on.
//!
//! [`DnsAnswer`]: crate::network::DnsAnswer
//! [`DnsError::LimitExceeded`]: crate::network::DnsError::LimitExceeded

#[cfg(any(test, feature = "testing"))]
pub mod fixture;
mod presentation;
mod query;
mod record;

pub use presentation::{name_text, presentation};
pub use query::{DnsQuery, random_id};
pub use record::{caa_raw, ip_addr, target_name, txt_bytes, txt_string};

/// EDNS0 UDP payload size we advertise: the DNS Flag Day 2020 value. DoH is
/// not UDP, but resolvers use it when they forward our question upstream.
pub const EDNS_MAX_PAYLOAD: u16 = 1232;

/// Largest DNS message accepted, in bytes: the most a DNS message can be
/// (RFC 8484 section 6 lets DoH carry up to 65535 bytes).
pub const MAX_MESSAGE_BYTES: usize = 65_535;

/// Most records of the asked type accepted in one answer. CAA test fixtures
/// hold 1000+ records; a 65535-byte message cannot hold much more than 5000.
pub const MAX_RRSET_RECORDS: usize = 4096;

/// Most aliases (CNAME or DNAME steps) followed from the query name. Real
/// chains are short (CDNs use 2-3); 16 matches common resolver limits.
pub const MAX_CNAME_CHAIN: usize = 16;

/// Bounds on one DNS response. The defaults are the `MAX_*` constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseLimits {
    /// Largest message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Most records of the asked type at the end of the alias chain.
    pub max_records: usize,
    /// Most alias steps followed.
    pub max_chain: usize,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        Self {
            max_message_bytes: MAX_MESSAGE_BYTES,
            max_records: MAX_RRSET_RECORDS,
            max_chain: MAX_CNAME_CHAIN,
        }
    }
}

#[cfg(test)]
mod tests;

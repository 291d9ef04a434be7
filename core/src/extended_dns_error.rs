//! RFC 8914 Extended DNS Errors: who a resolver says a failure belongs to.
//!
//! A SERVFAIL from our recursive resolver may mean "the domain's servers
//! failed" (the domain's lookup failure, which BR 3.2.2.8 may let count as
//! permission) or "this resolver refused or failed" (the CA's own
//! infrastructure, which never does). Without an extended error the two look
//! alike; with one, the resolver tells us. [`Blame`] sorts the registered
//! codes; a code that names the resolver, or one we do not know, keeps the
//! failure ours (fail closed).
//!
//! hickory-proto 0.26 carries the option as raw bytes
//! (`EdnsOption::Unknown(15, ..)`); its layout is two octets of INFO-CODE and
//! then UTF-8 EXTRA-TEXT (RFC 8914 section 2), read here.

use serde::{Deserialize, Serialize};

/// The EDNS option code of an Extended DNS Error (RFC 8914 section 2).
pub const EDNS_OPTION_CODE: u16 = 15;

/// Longest EXTRA-TEXT kept for the report; the rest is cut.
pub const MAX_EXTRA_TEXT_CHARS: usize = 200;

/// One Extended DNS Error a resolver attached to its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendedDnsError {
    /// The INFO-CODE from the IANA "Extended DNS Error Codes" registry
    /// (e.g. 22 = No Reachable Authority).
    pub info_code: u16,
    /// The registry's name for the code (`No Reachable Authority`), or
    /// `Unassigned`.
    pub name: String,
    /// The EXTRA-TEXT the resolver sent, control characters removed and cut
    /// to [`MAX_EXTRA_TEXT_CHARS`]; empty when none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub extra_text: String,
}

/// Whose failure an extended error says a SERVFAIL is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The domain's servers or its DNSSEC data failed.
    Domain,
    /// This resolver refused, filtered, was not ready, or served a cached
    /// error rather than trying again.
    Resolver,
}

impl ExtendedDnsError {
    /// Reads the option's data; `None` when it is shorter than its code.
    pub fn from_option_data(data: &[u8]) -> Option<Self> {
        let (code, text) = data.split_first_chunk::<2>()?;
        let info_code = u16::from_be_bytes(*code);
        let extra_text: String = String::from_utf8_lossy(text)
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_EXTRA_TEXT_CHARS)
            .collect();
        Some(Self {
            info_code,
            name: info_code_name(info_code).to_owned(),
            extra_text,
        })
    }

    /// The option's data, for test fixtures that attach one.
    pub fn option_data(info_code: u16, extra_text: &str) -> Vec<u8> {
        let mut data = info_code.to_be_bytes().to_vec();
        data.extend_from_slice(extra_text.as_bytes());
        data
    }

    /// Whose failure this code says it is. Codes 1-12 are the domain's
    /// DNSSEC data (but 3, Stale Answer, and 4, Forged Answer); 22-24 its servers. 13 (Cached Error) is the resolver's:
    /// an answer from cache is no fresh attempt, so BR 3.2.2.8's retry did
    /// not happen. Every other code, assigned or not, is the resolver's.
    pub fn blame(&self) -> Blame {
        match self.info_code {
            1 | 2 | 5..=12 | 22..=24 => Blame::Domain,
            _ => Blame::Resolver,
        }
    }
}

impl std::fmt::Display for ExtendedDnsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EDE {} ({})", self.info_code, self.name)?;
        if !self.extra_text.is_empty() {
            write!(f, ": {}", self.extra_text)?;
        }
        Ok(())
    }
}

/// The IANA "Extended DNS Error Codes" registry names (RFC 8914 section 5.2).
pub fn info_code_name(code: u16) -> &'static str {
    match code {
        0 => "Other Error",
        1 => "Unsupported DNSKEY Algorithm",
        2 => "Unsupported DS Digest Type",
        3 => "Stale Answer",
        4 => "Forged Answer",
        5 => "DNSSEC Indeterminate",
        6 => "DNSSEC Bogus",
        7 => "Signature Expired",
        8 => "Signature Not Yet Valid",
        9 => "DNSKEY Missing",
        10 => "RRSIGs Missing",
        11 => "No Zone Key Bit Set",
        12 => "NSEC Missing",
        13 => "Cached Error",
        14 => "Not Ready",
        15 => "Blocked",
        16 => "Censored",
        17 => "Filtered",
        18 => "Prohibited",
        19 => "Stale NXDOMAIN Answer",
        20 => "Not Authoritative",
        21 => "Not Supported",
        22 => "No Reachable Authority",
        23 => "Network Error",
        24 => "Invalid Data",
        _ => "Unassigned",
    }
}

#[cfg(test)]
mod tests;

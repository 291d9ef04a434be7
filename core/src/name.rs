//! Target names: what a check is about, validated and normalised once.
//!
//! A request's `domain_or_ip_target` is either a host name (optionally a
//! wildcard `*.` followed by a host name) or an IP address literal. Host names
//! are mapped with UTS 46 (non-transitional, STD3 rules, the `idna` crate's
//! strict profile) to lower-case A-labels and must then be a valid host name
//! for a publicly-trusted certificate:
//!
//! - no trailing dot: Open MPIC defines the target as an FQDN *without* the
//!   root dot, so `example.com.` is refused rather than silently trimmed;
//! - at least two labels, each 1..=63 octets, the whole at most 253 octets;
//! - LDH labels only (letters, digits, hyphen; no leading or trailing hyphen),
//!   no reserved `??--` labels other than valid `xn--` P-labels (TLS BR
//!   7.1.2.7.12 allows only P-Labels and Non-Reserved LDH Labels);
//! - the top-level label is not one that a URL parser reads as a number
//!   (see [`ends_in_a_number`]): `1.2.3` and `127.0x0.0x0.0x1` are neither an
//!   IP literal nor a domain, and a URL built from them would name an IPv4
//!   address that no perspective resolved;
//! - a wildcard only as the whole first label (`*.example.com`).
//!
//! IP literals use the standard textual forms (dotted quad without leading
//! zeros, RFC 4291 / RFC 5952 IPv6). IPv6 in URL brackets (`[2001:db8::1]`)
//! is refused: the target is an identifier, not a URL authority, and one
//! spelling per address keeps reports and caches unambiguous.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest host name in octets, without the trailing dot (RFC 1035 2.3.4
/// allows 255 on the wire: 253 characters in presentation form).
pub const MAX_NAME_OCTETS: usize = 253;
/// Longest label in octets (RFC 1035 2.3.4).
pub const MAX_LABEL_OCTETS: usize = 63;

/// Why a name or address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum NameError {
    /// The input is the empty string.
    #[error("the name is empty")]
    Empty,
    /// The name ends with `.` (or the ideographic full stop U+3002).
    #[error("the name ends with a dot; give the FQDN without the trailing dot")]
    TrailingDot,
    /// An IPv6 literal in URL brackets, `[2001:db8::1]`.
    #[error("IPv6 addresses are written without brackets")]
    BracketedIpv6,
    /// A `*` anywhere but as the whole first label followed by `.`.
    #[error("a wildcard is allowed only as the whole first label (`*.`)")]
    MisplacedWildcard,
    /// UTS 46 mapping failed, or the strict profile would spell the name
    /// differently; holds the input as given.
    #[error("the name is not valid IDNA (UTS 46): {0}")]
    Idna(String),
    /// Two consecutive dots or a leading dot (in a name or a lookup prefix).
    #[error("label {position} is empty")]
    EmptyLabel {
        /// The label's index, counted from 0 at the left.
        position: usize,
    },
    /// A label longer than [`MAX_LABEL_OCTETS`].
    #[error("label `{label}` is {octets} octets long (at most 63)")]
    LabelTooLong {
        /// The label, as mapped to ASCII.
        label: String,
        /// Its length in octets.
        octets: usize,
    },
    /// The whole name (with any lookup prefix) is longer than
    /// [`MAX_NAME_OCTETS`].
    #[error("the name is {octets} octets long (at most 253)")]
    NameTooLong {
        /// Its length in octets, without a trailing dot.
        octets: usize,
    },
    /// A label holds something other than an ASCII letter, digit or hyphen
    /// (e.g. `_` or a space), after UTS 46 mapping.
    #[error("label `{label}` contains `{character}`: only letters, digits and hyphens are allowed")]
    InvalidCharacter {
        /// The label, as mapped to ASCII.
        label: String,
        /// The first character not allowed.
        character: char,
    },
    /// A label starts or ends with `-`.
    #[error("label `{label}` starts or ends with a hyphen")]
    HyphenAtLabelEdge {
        /// The offending label.
        label: String,
    },
    /// A label with `--` in positions 3 and 4 that is not `xn--` (a
    /// reserved LDH label, not allowed by TLS BR 7.1.2.7.12).
    #[error("label `{label}` has `--` in positions 3-4 but is not a valid `xn--` label")]
    ReservedLabel {
        /// The offending label.
        label: String,
    },
    /// The last label reads as a number to a URL parser (see
    /// [`ends_in_a_number`]), e.g. `1.2.3` or `example.0x1`.
    #[error(
        "the top-level label `{tld}` reads as a number under the WHATWG URL host rules \
         (\"ends in a number\": all digits, or 0x followed by hex digits), so every URL built \
         from this name would name an IPv4 address instead; it is not a domain name"
    )]
    NumericTld {
        /// The top-level label.
        tld: String,
    },
    /// A target of one label (`localhost`, `com`).
    #[error("`{name}` has a single label; a fully-qualified domain name is required")]
    SingleLabel {
        /// The name, as mapped to A-labels.
        name: String,
    },
    /// A `reverse-address-lookup` target under `in-addr.arpa` / `ip6.arpa`
    /// that is not the complete reverse name of exactly one address; holds
    /// the input.
    #[error("`{0}` is not a reverse-lookup name (in-addr.arpa / ip6.arpa) of one address")]
    NotReverseName(String),
}

/// A validated host name: lower-case A-labels, no trailing dot, no wildcard.
///
/// Holds at least one label; [`Target::parse`] additionally requires two
/// (parents produced while climbing the tree may be single labels).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DomainName(String);

impl DomainName {
    /// Map `input` with UTS 46 and validate it as a host name (see the module
    /// documentation). A wildcard is refused here; use [`Target::parse`].
    pub fn parse(input: &str) -> Result<Self, NameError> {
        if input.is_empty() {
            return Err(NameError::Empty);
        }
        if input.ends_with('.') || input.ends_with('\u{3002}') {
            return Err(NameError::TrailingDot);
        }
        if input.contains('*') {
            return Err(NameError::MisplacedWildcard);
        }
        // First a permissive mapping (case folding, Unicode to punycode) so
        // that the structural rules below can name what is wrong; then the
        // strict UTS 46 pass, which also checks that xn-- labels are P-labels.
        let mapped = Uts46::new()
            .to_ascii(
                input.as_bytes(),
                AsciiDenyList::EMPTY,
                Hyphens::Allow,
                DnsLength::Ignore,
            )
            .map_err(|_| NameError::Idna(input.to_owned()))?
            .into_owned();
        check_host_name(&mapped)?;
        let strict =
            idna::domain_to_ascii_strict(&mapped).map_err(|_| NameError::Idna(input.to_owned()))?;
        if strict != mapped {
            // The strict profile would spell the name differently: refuse
            // rather than pick one of two spellings.
            return Err(NameError::Idna(input.to_owned()));
        }
        Ok(Self(mapped))
    }

    /// The name as lower-case A-labels, without the trailing dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The labels from left to right.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }

    /// The number of labels.
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// The name with its first label removed, or `None` for a single label
    /// (the root is never a lookup target: CAA climbing stops below it).
    pub fn parent(&self) -> Option<DomainName> {
        self.0
            .split_once('.')
            .map(|(_, rest)| DomainName(rest.to_owned()))
    }

    /// `prefix` + `.` + this name, for lookups such as `_acme-challenge`.
    ///
    /// `prefix` is one or more labels that may start with `_` (they are
    /// service labels, not host names); each is checked for length and the
    /// result for total length.
    pub fn with_prefix(&self, prefix: &str) -> Result<String, NameError> {
        for (position, label) in prefix.split('.').enumerate() {
            if label.is_empty() {
                return Err(NameError::EmptyLabel { position });
            }
            if label.len() > MAX_LABEL_OCTETS {
                return Err(NameError::LabelTooLong {
                    label: label.to_owned(),
                    octets: label.len(),
                });
            }
        }
        let name = format!("{prefix}.{}", self.0);
        if name.len() > MAX_NAME_OCTETS {
            return Err(NameError::NameTooLong { octets: name.len() });
        }
        Ok(name)
    }

    /// Whether `other` is this name or a name below it.
    pub fn is_ancestor_or_self_of(&self, other: &DomainName) -> bool {
        other.0 == self.0
            || other
                .0
                .strip_suffix(&self.0)
                .is_some_and(|head| head.ends_with('.'))
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DomainName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for DomainName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DomainName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The structural host-name rules, on an ASCII (already mapped) name.
fn check_host_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    let mut last = "";
    for (position, label) in name.split('.').enumerate() {
        if label.is_empty() {
            return Err(NameError::EmptyLabel { position });
        }
        if label.len() > MAX_LABEL_OCTETS {
            return Err(NameError::LabelTooLong {
                label: label.to_owned(),
                octets: label.len(),
            });
        }
        if let Some(character) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(NameError::InvalidCharacter {
                label: label.to_owned(),
                character,
            });
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(NameError::HyphenAtLabelEdge {
                label: label.to_owned(),
            });
        }
        if label.get(2..4) == Some("--") && !label.starts_with("xn--") {
            return Err(NameError::ReservedLabel {
                label: label.to_owned(),
            });
        }
        last = label;
    }
    if name.len() > MAX_NAME_OCTETS {
        return Err(NameError::NameTooLong { octets: name.len() });
    }
    if ends_in_a_number(last) {
        return Err(NameError::NumericTld {
            tld: last.to_owned(),
        });
    }
    Ok(())
}

/// Whether a URL parser reads a host whose last label is `label` as an IPv4
/// address (WHATWG URL Standard, "ends in a number checker", which the `url`
/// crate implements): the label is all ASCII digits, or parses as an IPv4
/// number, which beyond decimal and octal (both all digits) means `0x` or
/// `0X` followed by hex digits, possibly none.
///
/// Such a "domain" is refused: `http://127.0x0.0x0.0x1/` is fetched from
/// 127.0.0.1 without any DNS lookup, so a DCV of it would check an address
/// and a CAA check would climb a tree that does not exist.
pub fn ends_in_a_number(label: &str) -> bool {
    if !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    let hex = label
        .strip_prefix("0x")
        .or_else(|| label.strip_prefix("0X"));
    hex.is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// What a check is about: a domain (possibly a wildcard) or an IP address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A host name; `wildcard` when the request named `*.<name>`.
    Domain {
        /// The name, without the `*.` of a wildcard.
        name: DomainName,
        /// The request named `*.<name>`.
        wildcard: bool,
    },
    /// An IP address literal.
    Ip(IpAddr),
}

impl Target {
    /// Parse a request's `domain_or_ip_target`: an IP literal, or a host name
    /// of at least two labels optionally preceded by `*.`.
    pub fn parse(input: &str) -> Result<Self, NameError> {
        if input.is_empty() {
            return Err(NameError::Empty);
        }
        if input.starts_with('[') || input.ends_with(']') {
            return Err(NameError::BracketedIpv6);
        }
        if let Ok(ip) = IpAddr::from_str(input) {
            return Ok(Target::Ip(ip));
        }
        let (rest, wildcard) = match input.strip_prefix("*.") {
            Some(rest) => (rest, true),
            None => (input, false),
        };
        let name = DomainName::parse(rest)?;
        if name.label_count() < 2 {
            return Err(NameError::SingleLabel {
                name: name.as_str().to_owned(),
            });
        }
        Ok(Target::Domain { name, wildcard })
    }

    /// The domain name without any wildcard label, if this is a domain.
    pub fn domain(&self) -> Option<&DomainName> {
        match self {
            Target::Domain { name, .. } => Some(name),
            Target::Ip(_) => None,
        }
    }

    /// The address, if this is an IP target.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Target::Ip(ip) => Some(*ip),
            Target::Domain { .. } => None,
        }
    }

    /// Whether this is a wildcard domain (`*.<name>`).
    pub fn is_wildcard(&self) -> bool {
        matches!(self, Target::Domain { wildcard: true, .. })
    }

    /// The host as it appears in a URL authority (`[..]` around IPv6).
    pub fn url_host(&self) -> String {
        match self {
            Target::Domain { name, .. } => name.as_str().to_owned(),
            Target::Ip(IpAddr::V4(v4)) => v4.to_string(),
            Target::Ip(IpAddr::V6(v6)) => format!("[{v6}]"),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Domain {
                name,
                wildcard: true,
            } => write!(f, "*.{name}"),
            Target::Domain {
                name,
                wildcard: false,
            } => write!(f, "{name}"),
            Target::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl FromStr for Target {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The reverse-lookup name of `ip` (RFC 1035 3.5 `in-addr.arpa`, RFC 3596
/// 2.5 `ip6.arpa`), without the trailing dot.
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        IpAddr::V6(v6) => {
            let mut name = String::with_capacity(73);
            for byte in v6.octets().iter().rev() {
                for nibble in [byte & 0x0f, byte >> 4] {
                    name.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                    name.push('.');
                }
            }
            name.push_str("ip6.arpa");
            name
        }
    }
}

/// The address whose complete reverse-lookup name is `name` (case-insensitive,
/// an optional trailing dot ignored). Partial names (a network) are refused.
pub fn ip_from_reverse_name(name: &str) -> Result<IpAddr, NameError> {
    let refuse = || NameError::NotReverseName(name.to_owned());
    let lower = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if let Some(head) = lower.strip_suffix(".in-addr.arpa") {
        let parts: Vec<&str> = head.split('.').collect();
        if parts.len() != 4 {
            return Err(refuse());
        }
        let mut octets = [0u8; 4];
        for (slot, part) in octets.iter_mut().rev().zip(&parts) {
            // Decimal without leading zeros, as Ipv4Addr spells it.
            if part.is_empty() || (part.len() > 1 && part.starts_with('0')) {
                return Err(refuse());
            }
            *slot = part.parse().map_err(|_| refuse())?;
        }
        return Ok(IpAddr::V4(Ipv4Addr::from(octets)));
    }
    if let Some(head) = lower.strip_suffix(".ip6.arpa") {
        let nibbles: Vec<&str> = head.split('.').collect();
        if nibbles.len() != 32 {
            return Err(refuse());
        }
        let mut octets = [0u8; 16];
        for (index, nibble) in nibbles.iter().rev().enumerate() {
            let mut chars = nibble.chars();
            let value = match (chars.next(), chars.next()) {
                (Some(c), None) => c.to_digit(16).ok_or_else(refuse)?,
                _ => return Err(refuse()),
            };
            let value = u8::try_from(value).map_err(|_| refuse())?;
            // Most significant nibble first once reversed.
            octets[index / 2] |= if index % 2 == 0 { value << 4 } else { value };
        }
        return Ok(IpAddr::V6(Ipv6Addr::from(octets)));
    }
    Err(refuse())
}

#[cfg(test)]
mod tests;

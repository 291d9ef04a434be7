//! Domain control validation as one perspective observes it (BR 3.2.2.4,
//! 3.2.2.5, 3.2.2.9).
//!
//! [`check_dcv`] runs one method of a [`DcvCheckParameters`] against a
//! [`Target`] through a [`Network`] and returns a [`DcvObservation`]: what was
//! seen (records, HTTP history and a bounded body excerpt, certificate names)
//! and pass or fail with a typed reason. A pass always carries the evidence it
//! rests on; anything that is not a clear match fails.
//!
//! Comparison rules, per method:
//! - `acme-http-01`: the body with trailing ASCII whitespace removed equals the
//!   key authorization, byte for byte.
//! - `website-change`: the body contains the challenge value (case-sensitive:
//!   a Random Value is compared as issued, unless the request sets
//!   `require_exact_case: false`) and, if given, `match_regex` matches the
//!   body read as UTF-8 (lossy).
//! - `acme-dns-01`, `dns-account-01`: one TXT value (strings joined) equals
//!   base64url(SHA-256(key authorization)) exactly.
//! - `dns-change`: TXT values are compared case-sensitively unless the request
//!   sets `require_exact_case: false`; CAA values and CNAME targets (without
//!   the trailing dot) case-insensitively, as Open MPIC 3.9 does; equality
//!   with `require_exact_match`, containment otherwise.
//! - `contact-email-*`: a whole TXT value / CAA `contactemail` value equals the
//!   address, ASCII case-insensitively. `contact-phone-*`: equal after removing
//!   RFC 3966 visual separators (`-.()`).
//! - `contact-*-caa`: the Relevant RRset is found by climbing (RFC 8659 3): a
//!   name with no CAA records (NXDOMAIN or NODATA) passes to its parent, up to
//!   the TLD; any other failure stops the climb and fails.
//! - `ip-address`: an A/AAAA address equals the expected one as an address.
//! - `reverse-address-lookup`: a PTR target equals the expected domain,
//!   case-insensitively, trailing dot ignored.
//! - `dns-persistent`: see [`persistent`].
//! - `acme-tls-alpn-01`: a TLS handshake offering only ALPN `acme-tls/1`
//!   ([`acme_tls_alpn_01`]), then the certificate rules in
//!   [`check_tls_alpn_certificate`].
//!
//! A wildcard target is checked at its base domain (the Authorization Domain
//! Name) by the methods that allow wildcards at all.
//!
//! A request whose challenge no page or record could ever meet (see
//! [`UnusableChallenge`]) fails before any I/O: nothing is fetched or
//! looked up for it.

mod contact_caa;
mod dns_value;
mod http;
pub mod persistent;
mod records;
mod tls_alpn;

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::check::{AddressRecordType, DcvCheckParameters, TargetNotAllowed, ValidationMethod};
use crate::name::{NameError, Target};
use crate::network::{Contacted, DnsError, HttpError, HttpLimits, Network};
use crate::redirect::{FetchError, RedirectHop, RedirectPolicy};
use crate::web::tls::TlsFailure;

pub use dns_value::account_label;
pub use persistent::PersistRejection;
pub use records::DnsLookup;
pub use tls_alpn::{
    ACME_IDENTIFIER_OID, ACME_TLS_PORT, ALPN_ACME_TLS_1, CertificateEvidence, TlsAlpnError,
    acme_tls_alpn_01, check_tls_alpn_certificate,
};

/// Body bytes kept in a report (Open MPIC reports the first 100).
pub const BODY_EXCERPT_BYTES: usize = 100;

/// What the perspective supplies besides the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DcvContext {
    /// Now, in Unix seconds (`dns-persistent` `persistUntil`).
    pub now_unix_seconds: u64,
    /// Bounds on each HTTP GET.
    pub http_limits: HttpLimits,
    /// Redirect rules; the default is the production one (ports 80/443).
    pub redirect_policy: RedirectPolicy,
}

impl DcvContext {
    /// Production limits and redirect policy at time `now_unix_seconds`.
    pub fn new(now_unix_seconds: u64) -> Self {
        Self {
            now_unix_seconds,
            http_limits: HttpLimits::default(),
            redirect_policy: RedirectPolicy::default(),
        }
    }
}

/// One perspective's result for one DCV method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DcvObservation {
    /// The DCV method checked (`acme-http-01`, `dns-change`, ...).
    pub validation_method: ValidationMethod,
    /// `true` exactly when `failure` is `None`.
    pub passed: bool,
    /// Why the check did not pass; `None` when it passed.
    pub failure: Option<DcvFailure>,
    /// What the perspective saw, pass or fail.
    pub evidence: DcvEvidence,
}

impl DcvObservation {
    fn new(
        validation_method: ValidationMethod,
        evidence: DcvEvidence,
        failure: Option<DcvFailure>,
    ) -> Self {
        Self {
            validation_method,
            passed: failure.is_none(),
            failure,
            evidence,
        }
    }
}

/// What the perspective saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DcvEvidence {
    /// Nothing was looked up (the check was refused before any I/O).
    None,
    /// The HTTP exchange of `acme-http-01` or `website-change`.
    Http(HttpEvidence),
    /// The DNS lookups of a DNS-based method.
    Dns(DnsEvidence),
    /// The names and extensions of the `acme-tls-alpn-01` certificate.
    Certificate(CertificateEvidence),
}

/// The HTTP exchange of an HTTP method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpEvidence {
    /// The challenge URL.
    pub url: String,
    /// Each redirecting response, starting with the challenge URL.
    pub history: Vec<RedirectHop>,
    /// The URL of the final response (or the refused redirect target).
    pub final_url: String,
    /// The HTTP status of the final response; `None` when no response
    /// arrived (or the first URL was refused before any request).
    pub final_status: Option<u16>,
    /// Where the final exchange went: the resolver that gave the address,
    /// the address and port connected, and the TLS session for https
    /// (Open MPIC's `resolved_ip` comes from here). `None` when no response
    /// arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacted: Option<Contacted>,
    /// The final response's `Content-Type` header, if it had one; `None` too
    /// when the fetch ended on a redirect or without a response.
    pub content_type: Option<String>,
    /// The first [`BODY_EXCERPT_BYTES`] of the final body, UTF-8 (lossy).
    pub body_excerpt: String,
    /// The same bytes exactly, base64 (Open MPIC's `response_page`).
    #[serde(default)]
    pub body_excerpt_base64: String,
    /// Body bytes read (at most `HttpLimits::max_body_bytes`).
    pub body_length: usize,
    /// The body was longer than the limit and was cut.
    pub body_truncated: bool,
}

/// The DNS lookups of a DNS method, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsEvidence {
    /// Every question asked, with what came back.
    pub lookups: Vec<DnsLookup>,
    /// The name whose records were judged (for CAA climbing, where the
    /// Relevant RRset was found), if any.
    pub found_at: Option<String>,
}

/// Why a DCV check did not pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum DcvFailure {
    /// The method does not apply to this target (e.g. a DNS method for an
    /// IP address, or a wildcard for an HTTP method); nothing was looked up.
    #[error("{detail}")]
    TargetNotAllowed {
        /// Which method and which kind of target.
        detail: TargetNotAllowed,
    },
    /// The name to query (the target with a prefix such as
    /// `_acme-challenge.`, or a DNS-change prefix) is not a valid DNS name.
    #[error("the name to look up is invalid: {detail}")]
    QueryName {
        /// What is wrong with the name.
        detail: NameError,
    },
    /// No usable DNS response for a question: the perspective could not look.
    #[error("no usable DNS response for {name}: {error}")]
    DnsLookup {
        /// The name asked about.
        name: String,
        /// Why (transport, HTTP status, timeout, unparsable response).
        error: DnsError,
    },
    /// The resolver answered with an rcode other than NOERROR or NXDOMAIN
    /// (e.g. SERVFAIL): the perspective could not look.
    #[error("DNS lookup of {name} failed with rcode {rcode}")]
    DnsRcode {
        /// The name asked about.
        name: String,
        /// The numeric DNS rcode (2 = SERVFAIL, 5 = REFUSED, ...).
        rcode: u16,
    },
    /// NOERROR without records of the asked type, or NXDOMAIN.
    #[error("no records of the asked type at {name}")]
    NoRecords {
        /// The name asked about.
        name: String,
    },
    /// Records were found and none holds the expected value.
    #[error("no record at {name} holds the expected value")]
    ValueNotFound {
        /// The name whose records were compared (for CAA contacts, where the
        /// Relevant RRset was found).
        name: String,
    },
    /// `contact-*-caa`: the climb reached the TLD without finding any CAA
    /// RRset.
    #[error("no CAA records at or above {name}")]
    NoRelevantCaaRecords {
        /// The domain whose climb started there.
        name: String,
    },
    /// `contact-*-caa`: the Relevant RRset has no `contactemail` /
    /// `contactphone` property.
    #[error("the relevant CAA records at {found_at} have no {tag} property")]
    NoContactInCaa {
        /// Where the Relevant RRset was found.
        found_at: String,
        /// The contact tag looked for (`contactemail` or `contactphone`).
        tag: String,
    },
    /// `dns-persistent`: TXT records exist at `_validation-persist.<domain>`
    /// and none is acceptable for this CA, account and target.
    #[error("no TXT record at {name} is an acceptable persistent validation record")]
    NoAcceptablePersistRecord {
        /// The name queried (`_validation-persist.<domain>`).
        name: String,
        /// Each TXT record with why it was not accepted.
        rejections: Vec<PersistRejection>,
    },
    /// The HTTP fetch failed: no answer, a refused redirect, a non-2xx
    /// final status or an oversized header.
    #[error("{detail}")]
    Http {
        /// What went wrong in the fetch.
        detail: FetchError,
    },
    /// `acme-http-01`: the body (trailing whitespace removed) is not the key
    /// authorization.
    #[error("the response body is not the key authorization")]
    BodyMismatch {
        /// The body was cut at the size limit, so the comparison saw only
        /// its first bytes.
        body_truncated: bool,
    },
    /// `website-change`: the body does not contain the challenge value.
    #[error("the response body does not contain the challenge value")]
    ChallengeValueNotInBody {
        /// The body was cut at the size limit, so only its first bytes were
        /// searched.
        body_truncated: bool,
    },
    /// `website-change`: the body contains the challenge value but the
    /// request's `match_regex` does not match it.
    #[error("match_regex does not match the response body")]
    RegexNotMatched,
    /// `website-change`: the request's `match_regex` does not compile; nothing
    /// was fetched.
    #[error("match_regex is unusable: {detail}")]
    InvalidRegex {
        /// The regex compiler's message.
        detail: String,
    },
    /// The challenge URL built from the target and token is not a valid URL;
    /// nothing was fetched.
    #[error("the URL to fetch cannot be built: {detail}")]
    BadUrl {
        /// The URL and the parser's message.
        detail: String,
    },
    /// `acme-tls-alpn-01`: the handshake or the certificate presented does
    /// not meet RFC 8737.
    #[error("{detail}")]
    Certificate {
        /// The first rule broken.
        detail: TlsAlpnError,
    },
    /// `acme-tls-alpn-01`: no connection to the target (its address could
    /// not be resolved, was refused by the address policy, or did not
    /// answer in time).
    #[error("no connection: {detail}")]
    Connection {
        /// Why.
        detail: HttpError,
    },
    /// `acme-tls-alpn-01`: the TLS handshake did not complete.
    #[error("{detail}")]
    TlsHandshake {
        /// Why.
        detail: TlsFailure,
    },
    /// The request's challenge could never be met, so nothing was looked up.
    #[error("the request's challenge can never be met: {detail}")]
    UnusableChallenge {
        /// Why it cannot be met.
        detail: UnusableChallenge,
    },
}

/// A challenge, well-typed in the request, that no page or record could
/// meet. Open MPIC accepts such requests and fails them at the perspective;
/// so do we, before any I/O, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UnusableChallenge {
    /// `acme-http-01`: the token holds characters outside the base64url
    /// alphabet, so it cannot be a URL path segment (RFC 8555 8.3).
    #[error("the token is not base64url characters (RFC 8555 8.3)")]
    TokenNotBase64Url,
    /// `acme-http-01`: the key authorization is not exactly the token, `.`,
    /// and a base64url account key thumbprint (RFC 8555 8.1).
    #[error(
        "the key authorization is not `<token>.<base64url account key thumbprint>` for this \
         token (RFC 8555 8.1)"
    )]
    KeyAuthorizationNotForToken,
    /// `ip-address`: the challenge value does not parse as an IP address.
    #[error("the challenge value is not an IPv4 or IPv6 address")]
    NotAnIpAddress,
    /// `ip-address`: an IPv4 address to be found in AAAA records, or an IPv6
    /// address in A records.
    #[error("{address} cannot be in {record_type:?} records, which hold the other address family")]
    AddressFamilyMismatch {
        /// The expected address, from the challenge value.
        address: IpAddr,
        /// The record type the request asks for (A or AAAA).
        record_type: AddressRecordType,
    },
    /// `contact-email-*`: the challenge value is not `local@domain`.
    #[error("the challenge value is not an email address (local@domain)")]
    NotAnEmailAddress,
    /// `contact-phone-*`: the challenge value is not an RFC 3966 global
    /// number (`+`, digits, visual separators `-.()`).
    #[error(
        "the challenge value is not a global phone number (RFC 3966: `+` then digits and `-.()` \
         separators)"
    )]
    NotAGlobalPhoneNumber,
}

impl DcvObservation {
    /// A check failed before any I/O because its challenge can never be met.
    fn unusable(method: ValidationMethod, detail: UnusableChallenge) -> Self {
        Self::new(
            method,
            DcvEvidence::None,
            Some(DcvFailure::UnusableChallenge { detail }),
        )
    }
}

impl DcvFailure {
    /// The perspective could not look (transport or resolver failure), as
    /// opposed to having looked and not found the expected value. Open MPIC
    /// reports such checks as not completed.
    pub fn is_lookup_failure(&self) -> bool {
        match self {
            DcvFailure::DnsLookup { .. } | DcvFailure::DnsRcode { .. } => true,
            DcvFailure::Http { detail } => detail.is_transport_failure(),
            // A policy refusal is the perspective declining to look, which
            // is not the target's answer either.
            DcvFailure::Connection { .. } => true,
            DcvFailure::TlsHandshake { detail } => detail.is_transport_failure(),
            _ => false,
        }
    }
}

/// Run one DCV method as this perspective.
pub async fn check_dcv<N: Network>(
    network: &N,
    target: &Target,
    parameters: &DcvCheckParameters,
    context: &DcvContext,
) -> DcvObservation {
    let method = parameters.method();
    if let Err(refusal) = method.check_target(target) {
        return DcvObservation::new(
            method,
            DcvEvidence::None,
            Some(DcvFailure::TargetNotAllowed { detail: refusal }),
        );
    }
    match (parameters, target) {
        (DcvCheckParameters::AcmeHttp01(p), _) => {
            http::acme_http_01(network, target, p, context).await
        }
        (DcvCheckParameters::WebsiteChange(p), _) => {
            http::website_change(network, target, p, context).await
        }
        (DcvCheckParameters::AcmeTlsAlpn01(p), _) => {
            tls_alpn::acme_tls_alpn_01(network, target, p, context).await
        }
        (DcvCheckParameters::ReverseAddressLookup(p), Target::Ip(ip)) => {
            dns_value::reverse_address_lookup(network, *ip, p).await
        }
        (DcvCheckParameters::ReverseAddressLookup(_), Target::Domain { .. }) => {
            unreachable_target(method, target)
        }
        (_, Target::Ip(_)) => unreachable_target(method, target),
        (DcvCheckParameters::AcmeDns01(p), Target::Domain { name, .. }) => {
            dns_value::acme_dns_01(network, name, p).await
        }
        (DcvCheckParameters::DnsAccount01(p), Target::Domain { name, .. }) => {
            dns_value::dns_account_01(network, name, p).await
        }
        (DcvCheckParameters::DnsChange(p), Target::Domain { name, .. }) => {
            dns_value::dns_change(network, name, p).await
        }
        (DcvCheckParameters::ContactEmailTxt(p), Target::Domain { name, .. }) => {
            dns_value::contact_txt(network, name, dns_value::Contact::Email, p).await
        }
        (DcvCheckParameters::ContactPhoneTxt(p), Target::Domain { name, .. }) => {
            dns_value::contact_txt(network, name, dns_value::Contact::Phone, p).await
        }
        (DcvCheckParameters::ContactEmailCaa(p), Target::Domain { name, .. }) => {
            contact_caa::contact_caa(network, name, dns_value::Contact::Email, p).await
        }
        (DcvCheckParameters::ContactPhoneCaa(p), Target::Domain { name, .. }) => {
            contact_caa::contact_caa(network, name, dns_value::Contact::Phone, p).await
        }
        (DcvCheckParameters::IpAddress(p), Target::Domain { name, .. }) => {
            dns_value::ip_address(network, name, p).await
        }
        (DcvCheckParameters::DnsPersistent(p), Target::Domain { name, wildcard }) => {
            persistent::dns_persistent(network, name, *wildcard, p, context.now_unix_seconds).await
        }
    }
}

/// Whether `needle` occurs in `haystack` (an empty needle never does).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// `check_target` already refused these; kept total without a panic.
fn unreachable_target(method: ValidationMethod, target: &Target) -> DcvObservation {
    let refusal = match target {
        Target::Ip(_) => TargetNotAllowed::IpAddress(method),
        Target::Domain { .. } => TargetNotAllowed::DomainName(method),
    };
    DcvObservation::new(
        method,
        DcvEvidence::None,
        Some(DcvFailure::TargetNotAllowed { detail: refusal }),
    )
}

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

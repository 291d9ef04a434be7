//! The check request: what the CA asks MPIC to corroborate.
//!
//! The JSON form is the Open MPIC API 3.9 request body (schemas `DCVParams`,
//! `CAAParams`, `CaaCheckParameters`, `DcvCheckParameters` and the
//! `*ValidationParameters`). Wrong types and invalid values are errors naming
//! the field path (`dcv_check_parameters.key_authorization: missing`), and
//! every problem found is reported, not only the first. Unknown fields are
//! errors too ([`CheckRequest::from_json`], what perspectives read), or are
//! set aside and named ([`CheckRequest::read_json`] with
//! [`UnknownFields::Ignore`], what the API reads, as Open MPIC ignores them).
//!
//! # Values that are well-typed but can never be met
//! A key authorization that is not `<token>.<thumbprint>`, an IPv4 address
//! to be found in AAAA records, a contact that is not an email address or a
//! global phone number, a `match_regex` that does not compile: Open MPIC
//! accepts such requests and its perspectives fail them, and so do ours
//! ([`crate::dcv::UnusableChallenge`]), before any I/O. Refused here are
//! only values of the wrong type and requests the Baseline Requirements
//! forbid (a wildcard for an HTTP method, a DNS prefix without `_`, the
//! challenge value inside the token path).
//!
//! # Open MPIC's fixed fields
//! Open MPIC's models give some methods fields whose value is fixed
//! (`acme-dns-01` has `dns_record_type: "TXT"`, `dns_name_prefix:
//! "_acme-challenge"`, `require_exact_case: true`), and its clients send them.
//! They are accepted when equal to that value and refused otherwise, as
//! Open MPIC refuses them. `require_exact_case` is a choice only for
//! `website-change` and `dns-change` with TXT (default true); `dns-change`
//! with CNAME or CAA always compares case-insensitively.
//!
//! # Extensions to Open MPIC
//!
//! All optional; a request that uses none of them is plain Open MPIC.
//!
//! - `caa_check_parameters.allow_lookup_failure` (bool, default false; Open
//!   MPIC 3.6 has it too): the CA allows a CAA lookup failure to count as
//!   permission where BR 3.2.2.8 permits it (the CAA checker still applies
//!   the BR conditions).
//! - `caa_check_parameters.x_account_uri`, `x_validation_method`: the RFC 8657
//!   context (`accounturi`, `validationmethods`) of the issuance, so that CAA
//!   records restricting either can be honoured. Absent: such records do not
//!   authorize (the checker cannot show they match).
//! - `dns-persistent` (Open MPIC 3.8; BR 3.2.2.4.22,
//!   draft-ietf-acme-dns-persist): `issuer_domain_names` (the CA's issuer
//!   domain names, as in its CAA `issue` values) and `expected_account_uri`
//!   (`account_uri` is accepted as another name for it).
//! - `validation_method` `dns-account-01` (BR 3.2.2.4.21,
//!   draft-ietf-acme-dns-account-label): `account_uri` and
//!   `key_authorization_hash`.
//! - `acme-dns-01`, `dns-account-01` and `acme-tls-alpn-01` accept
//!   `key_authorization` instead of `key_authorization_hash`; the perspective
//!   hashes it. Serialising writes the hash (the Open MPIC form).
//!
//! # Targets per method
//!
//! | method | IP target | wildcard `*.name` |
//! |---|---|---|
//! | `acme-http-01`, `website-change`, `acme-tls-alpn-01` | yes (BR 3.2.2.5.6, 3.2.2.5.1, 3.2.2.5.7) | no: "NOT suitable for validating Wildcard Domain Names" (BR 3.2.2.4.18-20) |
//! | `ip-address` | no | no (BR 3.2.2.4.8, same rule) |
//! | `acme-dns-01`, `dns-account-01`, `dns-change`, `contact-*` | no | yes: the check runs on the base domain (the Authorization Domain Name) |
//! | `dns-persistent` | no | yes: base domain, and the record must carry `policy=wildcard` |
//! | `reverse-address-lookup` | only (BR 3.2.2.5.3); the complete `in-addr.arpa`/`ip6.arpa` name of the address is also accepted and read as that address | no |
//!
//! CAA checks apply to domain names only (RFC 8659); an IP target is refused.
mod fields;
mod match_regex;
pub mod open_mpic_fields;
mod read;
pub(crate) mod syntax;
mod unique_keys;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::name::{DomainName, Target};

pub use fields::{MAX_ENTRIES, MAX_TEXT_OCTETS};
pub use match_regex::{MAX_REGEX_COMPILED_BYTES, MAX_REGEX_NESTING, MAX_REGEX_OCTETS, MatchRegex};
pub use read::{
    REFUSED_HTTP_HEADERS, ReadRequest, RequestError, RequestIssue, UnknownFields, parse_unique_keys,
};

/// `check_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckType {
    /// A CAA check (BR 3.2.2.8, RFC 8659).
    Caa,
    /// A domain control validation check (BR 3.2.2.4 / 3.2.2.5).
    Dcv,
}

impl CheckType {
    /// The Open MPIC spelling: `caa` or `dcv`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckType::Caa => "caa",
            CheckType::Dcv => "dcv",
        }
    }
}

/// A validated check request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRequest {
    /// `domain_or_ip_target`, parsed and normalised.
    pub target: Target,
    /// `trace_identifier`, passed through for correlation.
    pub trace_identifier: Option<String>,
    /// `orchestration_parameters`, for the coordinator.
    pub orchestration_parameters: Option<OrchestrationParameters>,
    /// What to check, by `check_type`.
    pub parameters: CheckParameters,
}

/// The check itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckParameters {
    /// `check_type: caa` with its (all optional) `caa_check_parameters`.
    Caa(CaaCheckParameters),
    /// `check_type: dcv` with its `dcv_check_parameters`.
    Dcv(DcvCheckParameters),
}

/// `orchestration_parameters` (Open MPIC `RequestOrchestrationParameters`,
/// 3.7). The coordinator judges them against its configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrchestrationParameters {
    /// Remote perspectives to use (at least 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub perspective_count: Option<u32>,
    /// Perspectives that must corroborate (0 = monitoring only; at most
    /// `perspective_count`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quorum_count: Option<u32>,
    /// Attempts before giving up, as sent: 0 or less means one attempt, and
    /// the coordinator lowers a larger number to its configured cap (Open
    /// MPIC's semantics).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<i64>,
    /// Run exactly one attempt, with the cohort that this attempt number
    /// would use (counted from 1), as sent; the coordinator checks the range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cohort_for_single_attempt: Option<i64>,
}

/// `certificate_type`: which CAA property governs (`issue`/`issuewild` or
/// `issuemail`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CertificateType {
    /// `tls-server` (the default): `issue`, or `issuewild` for a wildcard.
    #[default]
    #[serde(rename = "tls-server")]
    TlsServer,
    /// `s-mime`: `issuemail` (RFC 9495) for the mailbox's domain.
    #[serde(rename = "s-mime")]
    SMime,
}

/// `caa_check_parameters`, all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaaCheckParameters {
    /// Defaults to `tls-server` (see [`Self::certificate_type_or_default`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_type: Option<CertificateType>,
    /// Issuer domain names that identify the CA; absent or empty: the
    /// perspective's configured ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caa_domains: Option<Vec<DomainName>>,
    /// Extension: a lookup failure may count as permission where BR 3.2.2.8
    /// allows it. Default false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_lookup_failure: Option<bool>,
    /// Extension: the ACME account URI of the issuance (RFC 8657 `accounturi`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_account_uri: Option<String>,
    /// Extension: the validation method of the issuance as an RFC 8657
    /// `validationmethods` value (e.g. `dns-01`, `http-01`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_validation_method: Option<String>,
}

impl CaaCheckParameters {
    /// `certificate_type`, `tls-server` when absent.
    pub fn certificate_type_or_default(&self) -> CertificateType {
        self.certificate_type.unwrap_or_default()
    }

    fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// `validation_method`: every Open MPIC method plus our extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ValidationMethod {
    /// `acme-http-01`: the key authorization served at
    /// `/.well-known/acme-challenge/<token>` (RFC 8555 8.3, BR 3.2.2.4.19 /
    /// 3.2.2.5.6).
    #[serde(rename = "acme-http-01")]
    AcmeHttp01,
    /// `acme-dns-01`: a TXT record at `_acme-challenge.<domain>` (RFC 8555
    /// 8.4, BR 3.2.2.4.7).
    #[serde(rename = "acme-dns-01")]
    AcmeDns01,
    /// `acme-tls-alpn-01`: a certificate served over ALPN `acme-tls/1`
    /// (RFC 8737, BR 3.2.2.4.20 / 3.2.2.5.7).
    #[serde(rename = "acme-tls-alpn-01")]
    AcmeTlsAlpn01,
    /// `website-change`: a value in a page below
    /// `/.well-known/pki-validation/` (BR 3.2.2.4.18 / 3.2.2.5.1).
    #[serde(rename = "website-change")]
    WebsiteChange,
    /// `dns-change`: a value in a TXT, CNAME or CAA record (BR 3.2.2.4.7).
    #[serde(rename = "dns-change")]
    DnsChange,
    /// `contact-email-txt`: an email contact in TXT at
    /// `_validation-contactemail.<domain>` (BR 3.2.2.4.14).
    #[serde(rename = "contact-email-txt")]
    ContactEmailTxt,
    /// `contact-email-caa`: an email contact in the Relevant RRset's CAA
    /// `contactemail` (BR 3.2.2.4.13).
    #[serde(rename = "contact-email-caa")]
    ContactEmailCaa,
    /// `contact-phone-txt`: a phone contact in TXT at
    /// `_validation-contactphone.<domain>` (BR 3.2.2.4.16).
    #[serde(rename = "contact-phone-txt")]
    ContactPhoneTxt,
    /// `contact-phone-caa`: a phone contact in the Relevant RRset's CAA
    /// `contactphone` (BR 3.2.2.4.17).
    #[serde(rename = "contact-phone-caa")]
    ContactPhoneCaa,
    /// `ip-address`: the domain resolves to an expected address
    /// (BR 3.2.2.4.8).
    #[serde(rename = "ip-address")]
    IpAddress,
    /// `reverse-address-lookup`: an IP address's PTR names the expected
    /// domain (BR 3.2.2.5.3).
    #[serde(rename = "reverse-address-lookup")]
    ReverseAddressLookup,
    /// `dns-persistent` (extension): a persistent TXT record at
    /// `_validation-persist.<domain>` (BR 3.2.2.4.22).
    #[serde(rename = "dns-persistent")]
    DnsPersistent,
    /// `dns-account-01` (extension): a TXT record at
    /// `_<account label>._acme-challenge.<domain>` (BR 3.2.2.4.21,
    /// draft-ietf-acme-dns-account-label).
    #[serde(rename = "dns-account-01")]
    DnsAccount01,
}

impl ValidationMethod {
    /// Every method, in a stable order.
    pub const ALL: [ValidationMethod; 13] = [
        Self::AcmeHttp01,
        Self::AcmeDns01,
        Self::AcmeTlsAlpn01,
        Self::WebsiteChange,
        Self::DnsChange,
        Self::ContactEmailTxt,
        Self::ContactEmailCaa,
        Self::ContactPhoneTxt,
        Self::ContactPhoneCaa,
        Self::IpAddress,
        Self::ReverseAddressLookup,
        Self::DnsPersistent,
        Self::DnsAccount01,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AcmeHttp01 => "acme-http-01",
            Self::AcmeDns01 => "acme-dns-01",
            Self::AcmeTlsAlpn01 => "acme-tls-alpn-01",
            Self::WebsiteChange => "website-change",
            Self::DnsChange => "dns-change",
            Self::ContactEmailTxt => "contact-email-txt",
            Self::ContactEmailCaa => "contact-email-caa",
            Self::ContactPhoneTxt => "contact-phone-txt",
            Self::ContactPhoneCaa => "contact-phone-caa",
            Self::IpAddress => "ip-address",
            Self::ReverseAddressLookup => "reverse-address-lookup",
            Self::DnsPersistent => "dns-persistent",
            Self::DnsAccount01 => "dns-account-01",
        }
    }

    /// The method with wire name `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|method| method.as_str() == name)
    }

    /// Whether this method can validate `target` (see the module table).
    pub fn check_target(self, target: &Target) -> Result<(), TargetNotAllowed> {
        let ip_allowed = matches!(
            self,
            Self::AcmeHttp01
                | Self::WebsiteChange
                | Self::AcmeTlsAlpn01
                | Self::ReverseAddressLookup
        );
        let domain_allowed = self != Self::ReverseAddressLookup;
        let wildcard_allowed = matches!(
            self,
            Self::AcmeDns01
                | Self::DnsAccount01
                | Self::DnsChange
                | Self::DnsPersistent
                | Self::ContactEmailTxt
                | Self::ContactEmailCaa
                | Self::ContactPhoneTxt
                | Self::ContactPhoneCaa
        );
        match target {
            Target::Ip(_) if !ip_allowed => Err(TargetNotAllowed::IpAddress(self)),
            Target::Domain { .. } if !domain_allowed => Err(TargetNotAllowed::DomainName(self)),
            Target::Domain { wildcard: true, .. } if !wildcard_allowed => {
                Err(TargetNotAllowed::Wildcard(self))
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Display for ValidationMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A method cannot validate this kind of target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "method", rename_all = "snake_case")]
pub enum TargetNotAllowed {
    /// The target is an IP address and the method validates domain names
    /// only.
    #[error("{0} validates domain names, not IP addresses")]
    IpAddress(ValidationMethod),
    /// The target is a domain name and the method validates IP addresses
    /// only (`reverse-address-lookup`).
    #[error("{0} validates IP addresses, not domain names")]
    DomainName(ValidationMethod),
    /// The target is a wildcard and the BRs say the method is not suitable
    /// for wildcard domain names (HTTP, TLS-ALPN and `ip-address` methods).
    #[error("{0} is not suitable for validating wildcard domain names (BR 3.2.2.4)")]
    Wildcard(ValidationMethod),
}

/// `url_scheme` of `website-change`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UrlScheme {
    /// `http` (the default): port 80.
    #[default]
    Http,
    /// `https`: port 443.
    Https,
}

impl UrlScheme {
    /// The URL scheme, `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            UrlScheme::Http => "http",
            UrlScheme::Https => "https",
        }
    }
}

/// `dns_record_type` of `dns-change`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DnsChangeRecordType {
    /// `TXT`: the value in a TXT record (strings joined).
    Txt,
    /// `CNAME`: the value as the CNAME target (without the trailing dot).
    Cname,
    /// `CAA`: the value in a CAA property's value.
    Caa,
}

/// `dns_record_type` of `ip-address`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AddressRecordType {
    /// `A`: an IPv4 address.
    A,
    /// `AAAA`: an IPv6 address.
    Aaaa,
}

/// `dcv_check_parameters`, by `validation_method`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "validation_method")]
pub enum DcvCheckParameters {
    /// `acme-http-01`: token and key authorization.
    #[serde(rename = "acme-http-01")]
    AcmeHttp01(AcmeHttp01Parameters),
    /// `acme-dns-01`: the key authorization's digest.
    #[serde(rename = "acme-dns-01")]
    AcmeDns01(AcmeDns01Parameters),
    /// `acme-tls-alpn-01`: the key authorization's digest.
    #[serde(rename = "acme-tls-alpn-01")]
    AcmeTlsAlpn01(AcmeTlsAlpn01Parameters),
    /// `website-change`: token path and challenge value.
    #[serde(rename = "website-change")]
    WebsiteChange(WebsiteChangeParameters),
    /// `dns-change`: challenge value, record type and prefix.
    #[serde(rename = "dns-change")]
    DnsChange(DnsChangeParameters),
    /// `contact-email-txt`: the expected email address.
    #[serde(rename = "contact-email-txt")]
    ContactEmailTxt(ContactParameters),
    /// `contact-email-caa`: the expected email address.
    #[serde(rename = "contact-email-caa")]
    ContactEmailCaa(ContactParameters),
    /// `contact-phone-txt`: the expected phone number.
    #[serde(rename = "contact-phone-txt")]
    ContactPhoneTxt(ContactParameters),
    /// `contact-phone-caa`: the expected phone number.
    #[serde(rename = "contact-phone-caa")]
    ContactPhoneCaa(ContactParameters),
    /// `ip-address`: the expected address and record type.
    #[serde(rename = "ip-address")]
    IpAddress(IpAddressParameters),
    /// `reverse-address-lookup`: the domain the PTR must name.
    #[serde(rename = "reverse-address-lookup")]
    ReverseAddressLookup(ReverseAddressLookupParameters),
    /// `dns-persistent`: issuer domain names and account URI.
    #[serde(rename = "dns-persistent")]
    DnsPersistent(DnsPersistentParameters),
    /// `dns-account-01`: account URI and the key authorization's digest.
    #[serde(rename = "dns-account-01")]
    DnsAccount01(DnsAccount01Parameters),
}

impl DcvCheckParameters {
    /// The `validation_method` of these parameters.
    pub fn method(&self) -> ValidationMethod {
        match self {
            Self::AcmeHttp01(_) => ValidationMethod::AcmeHttp01,
            Self::AcmeDns01(_) => ValidationMethod::AcmeDns01,
            Self::AcmeTlsAlpn01(_) => ValidationMethod::AcmeTlsAlpn01,
            Self::WebsiteChange(_) => ValidationMethod::WebsiteChange,
            Self::DnsChange(_) => ValidationMethod::DnsChange,
            Self::ContactEmailTxt(_) => ValidationMethod::ContactEmailTxt,
            Self::ContactEmailCaa(_) => ValidationMethod::ContactEmailCaa,
            Self::ContactPhoneTxt(_) => ValidationMethod::ContactPhoneTxt,
            Self::ContactPhoneCaa(_) => ValidationMethod::ContactPhoneCaa,
            Self::IpAddress(_) => ValidationMethod::IpAddress,
            Self::ReverseAddressLookup(_) => ValidationMethod::ReverseAddressLookup,
            Self::DnsPersistent(_) => ValidationMethod::DnsPersistent,
            Self::DnsAccount01(_) => ValidationMethod::DnsAccount01,
        }
    }
}

/// `acme-http-01` (RFC 8555 8.3, BR 3.2.2.4.19 / 3.2.2.5.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcmeHttp01Parameters {
    /// The challenge token: base64url characters only.
    pub token: String,
    /// `<token>.<base64url account key thumbprint>`.
    pub key_authorization: String,
    /// Sent with each GET of the check (see `read_headers` for the
    /// headers that are refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_headers: Option<BTreeMap<String, String>>,
}

/// `acme-dns-01` (RFC 8555 8.4, BR 3.2.2.4.7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcmeDns01Parameters {
    /// SHA-256 of the key authorization; on the wire base64url without
    /// padding, the exact TXT value expected.
    #[serde(
        rename = "key_authorization_hash",
        serialize_with = "serialize_base64url"
    )]
    pub key_authorization_digest: [u8; 32],
}

/// `acme-tls-alpn-01` (RFC 8737, BR 3.2.2.4.20 / 3.2.2.5.7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcmeTlsAlpn01Parameters {
    /// SHA-256 of the key authorization; on the wire lower-case hex, as Open
    /// MPIC reads it.
    #[serde(rename = "key_authorization_hash", serialize_with = "serialize_hex")]
    pub key_authorization_digest: [u8; 32],
}

/// `website-change` (BR 3.2.2.4.18 / 3.2.2.5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebsiteChangeParameters {
    /// Path below `/.well-known/pki-validation/`: `/`-separated segments of
    /// unreserved URL characters, no `.`/`..` segments.
    pub http_token_path: String,
    /// The Random Value or Request Token that must appear in the page
    /// (case-sensitive unless `require_exact_case` is false).
    pub challenge_value: String,
    /// A regex (regex-lite syntax) that must also match the page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub match_regex: Option<MatchRegex>,
    /// `http` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_scheme: Option<UrlScheme>,
    /// Sent with each GET (see [`AcmeHttp01Parameters::http_headers`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_headers: Option<BTreeMap<String, String>>,
    /// Open MPIC 3.9: false compares the challenge value ignoring ASCII
    /// case. Default true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_exact_case: Option<bool>,
}

impl WebsiteChangeParameters {
    /// `url_scheme`, `http` when absent.
    pub fn url_scheme_or_default(&self) -> UrlScheme {
        self.url_scheme.unwrap_or_default()
    }

    /// Whether the challenge value must match with its case (default true).
    pub fn exact_case(&self) -> bool {
        self.require_exact_case.unwrap_or(true)
    }
}

/// `dns-change` (BR 3.2.2.4.7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsChangeParameters {
    /// The Random Value or Request Token.
    pub challenge_value: String,
    /// Which records hold the value: TXT, CNAME or CAA.
    pub dns_record_type: DnsChangeRecordType,
    /// One label starting with `_` put before the domain (BR 3.2.2.4.7 allows
    /// the Authorization Domain Name itself or one prefixed with such a
    /// label); absent or empty: the domain itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_name_prefix: Option<String>,
    /// false (default): the value must be contained in a record; true: equal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_exact_match: Option<bool>,
    /// Open MPIC 3.9: false compares TXT values ignoring ASCII case.
    /// Default true; CNAME and CAA values always compare without case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_exact_case: Option<bool>,
}

impl DnsChangeParameters {
    /// `require_exact_match`, false when absent (the Open MPIC default).
    pub fn exact_match(&self) -> bool {
        self.require_exact_match.unwrap_or(false)
    }

    /// Whether values compare with their case: for TXT as asked (default
    /// true), for CNAME and CAA never (as Open MPIC forces).
    pub fn exact_case(&self) -> bool {
        match self.dns_record_type {
            DnsChangeRecordType::Txt => self.require_exact_case.unwrap_or(true),
            DnsChangeRecordType::Cname | DnsChangeRecordType::Caa => false,
        }
    }

    /// The prefix label, if one is used.
    pub fn prefix(&self) -> Option<&str> {
        self.dns_name_prefix.as_deref().filter(|p| !p.is_empty())
    }
}

/// `contact-email-*` / `contact-phone-*` (BR 3.2.2.4.13, .14, .16, .17).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactParameters {
    /// The email address or the RFC 3966 global phone number expected.
    pub challenge_value: String,
}

/// `ip-address` (BR 3.2.2.4.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpAddressParameters {
    /// The address the domain must resolve to, as sent: text that is not an
    /// address, or an address of the other family than `dns_record_type`,
    /// is accepted and fails the check (as in Open MPIC).
    pub challenge_value: String,
    /// Which records to look in: A (IPv4) or AAAA (IPv6).
    pub dns_record_type: AddressRecordType,
}

/// `reverse-address-lookup` (BR 3.2.2.5.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReverseAddressLookupParameters {
    /// The domain name the address's PTR record must name.
    pub challenge_value: DomainName,
}

/// `dns-persistent` (extension; BR 3.2.2.4.22, draft-ietf-acme-dns-persist).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsPersistentParameters {
    /// The CA's issuer domain names; the record must name one of them.
    pub issuer_domain_names: Vec<DomainName>,
    /// The ACME account URI the record must carry as `accounturi`.
    #[serde(rename = "expected_account_uri")]
    pub account_uri: String,
}

/// `dns-account-01` (extension; BR 3.2.2.4.21, draft-ietf-acme-dns-account-label).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsAccount01Parameters {
    /// The ACME account URI; its SHA-256 names the validation label.
    pub account_uri: String,
    /// SHA-256 of the key authorization; on the wire base64url without padding.
    #[serde(
        rename = "key_authorization_hash",
        serialize_with = "serialize_base64url"
    )]
    pub key_authorization_digest: [u8; 32],
}

/// SHA-256 of an ACME key authorization (RFC 8555 8.1).
pub fn key_authorization_digest(key_authorization: &str) -> [u8; 32] {
    Sha256::digest(key_authorization.as_bytes()).into()
}

fn serialize_base64url<S: Serializer>(digest: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&data_encoding::BASE64URL_NOPAD.encode(digest))
}

fn serialize_hex<S: Serializer>(digest: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&data_encoding::HEXLOWER.encode(digest))
}

impl CheckRequest {
    /// `check_type`.
    pub fn check_type(&self) -> CheckType {
        match self.parameters {
            CheckParameters::Caa(_) => CheckType::Caa,
            CheckParameters::Dcv(_) => CheckType::Dcv,
        }
    }
}

/// Open MPIC JSON (our extensions only when set).
impl Serialize for CheckRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            check_type: CheckType,
            domain_or_ip_target: &'a Target,
            #[serde(skip_serializing_if = "Option::is_none")]
            trace_identifier: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            orchestration_parameters: Option<&'a OrchestrationParameters>,
            #[serde(skip_serializing_if = "Option::is_none")]
            caa_check_parameters: Option<&'a CaaCheckParameters>,
            #[serde(skip_serializing_if = "Option::is_none")]
            dcv_check_parameters: Option<&'a DcvCheckParameters>,
        }
        let (caa, dcv) = match &self.parameters {
            CheckParameters::Caa(caa) => ((!caa.is_empty()).then_some(caa), None),
            CheckParameters::Dcv(dcv) => (None, Some(dcv)),
        };
        Wire {
            check_type: self.check_type(),
            domain_or_ip_target: &self.target,
            trace_identifier: self.trace_identifier.as_deref(),
            orchestration_parameters: self.orchestration_parameters.as_ref(),
            caa_check_parameters: caa,
            dcv_check_parameters: dcv,
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests;

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
pub mod open_mpic_fields;
mod unique_keys;

use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeSeed;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::name::{DomainName, Target, ip_from_reverse_name};
use fields::{Fields, Issues};
use open_mpic_fields::{Literal, Rule, field_rules};
use unique_keys::{FirstDuplicate, UniqueKeys};

pub use fields::{MAX_ENTRIES, MAX_TEXT_OCTETS};

/// Longest `match_regex` pattern, in octets.
pub const MAX_REGEX_OCTETS: usize = 1024;
/// Compiled-size bound for `match_regex` (regex-lite's own accounting).
pub const MAX_REGEX_COMPILED_BYTES: usize = 256 * 1024;
/// Nesting bound for `match_regex`.
pub const MAX_REGEX_NESTING: u32 = 32;

/// What reading does with a field the request format does not define.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UnknownFields {
    /// Refuse the request, naming the field (perspectives, the CLI, and the
    /// API under `[api] reject_unknown_fields`).
    #[default]
    Refuse,
    /// Skip it and name it in [`ReadRequest::ignored_fields`] (the API by
    /// default, as Open MPIC's models ignore unknown fields).
    Ignore,
}

/// A request read with [`CheckRequest::read_json`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRequest {
    pub request: CheckRequest,
    /// Dotted paths of the unknown fields that were skipped, in the order
    /// found (empty under [`UnknownFields::Refuse`]).
    pub ignored_fields: Vec<String>,
}

/// One problem with a request: which field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestIssue {
    /// Dotted path of the field (`dcv_check_parameters.token`,
    /// `caa_check_parameters.caa_domains[1]`), or `(body)`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for RequestIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum RequestError {
    /// The body is not JSON at all.
    #[error("request body is not JSON: {0}")]
    NotJson(String),
    /// The body is JSON but not a valid request; every issue found.
    #[error("invalid request: {}", join_issues(.0))]
    Invalid(Vec<RequestIssue>),
}

impl RequestError {
    /// The issues (empty for [`RequestError::NotJson`]).
    pub fn issues(&self) -> &[RequestIssue] {
        match self {
            RequestError::NotJson(_) => &[],
            RequestError::Invalid(issues) => issues,
        }
    }
}

fn join_issues(issues: &[RequestIssue]) -> String {
    issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// `check_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckType {
    Caa,
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
    #[default]
    #[serde(rename = "tls-server")]
    TlsServer,
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
    #[serde(rename = "acme-http-01")]
    AcmeHttp01,
    #[serde(rename = "acme-dns-01")]
    AcmeDns01,
    #[serde(rename = "acme-tls-alpn-01")]
    AcmeTlsAlpn01,
    #[serde(rename = "website-change")]
    WebsiteChange,
    #[serde(rename = "dns-change")]
    DnsChange,
    #[serde(rename = "contact-email-txt")]
    ContactEmailTxt,
    #[serde(rename = "contact-email-caa")]
    ContactEmailCaa,
    #[serde(rename = "contact-phone-txt")]
    ContactPhoneTxt,
    #[serde(rename = "contact-phone-caa")]
    ContactPhoneCaa,
    #[serde(rename = "ip-address")]
    IpAddress,
    #[serde(rename = "reverse-address-lookup")]
    ReverseAddressLookup,
    #[serde(rename = "dns-persistent")]
    DnsPersistent,
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
    #[error("{0} validates domain names, not IP addresses")]
    IpAddress(ValidationMethod),
    #[error("{0} validates IP addresses, not domain names")]
    DomainName(ValidationMethod),
    #[error("{0} is not suitable for validating wildcard domain names (BR 3.2.2.4)")]
    Wildcard(ValidationMethod),
}

/// `url_scheme` of `website-change`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UrlScheme {
    #[default]
    Http,
    Https,
}

impl UrlScheme {
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
    Txt,
    Cname,
    Caa,
}

/// `dns_record_type` of `ip-address`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AddressRecordType {
    A,
    Aaaa,
}

/// `dcv_check_parameters`, by `validation_method`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "validation_method")]
pub enum DcvCheckParameters {
    #[serde(rename = "acme-http-01")]
    AcmeHttp01(AcmeHttp01Parameters),
    #[serde(rename = "acme-dns-01")]
    AcmeDns01(AcmeDns01Parameters),
    #[serde(rename = "acme-tls-alpn-01")]
    AcmeTlsAlpn01(AcmeTlsAlpn01Parameters),
    #[serde(rename = "website-change")]
    WebsiteChange(WebsiteChangeParameters),
    #[serde(rename = "dns-change")]
    DnsChange(DnsChangeParameters),
    #[serde(rename = "contact-email-txt")]
    ContactEmailTxt(ContactParameters),
    #[serde(rename = "contact-email-caa")]
    ContactEmailCaa(ContactParameters),
    #[serde(rename = "contact-phone-txt")]
    ContactPhoneTxt(ContactParameters),
    #[serde(rename = "contact-phone-caa")]
    ContactPhoneCaa(ContactParameters),
    #[serde(rename = "ip-address")]
    IpAddress(IpAddressParameters),
    #[serde(rename = "reverse-address-lookup")]
    ReverseAddressLookup(ReverseAddressLookupParameters),
    #[serde(rename = "dns-persistent")]
    DnsPersistent(DnsPersistentParameters),
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
    /// Sent with each GET of the check (see [`read_headers`] for the
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
    pub match_regex: Option<String>,
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
    /// Parse and validate an Open MPIC request body. A key repeated in any
    /// object refuses the body, naming the key (see [`unique_keys`]).
    /// Unknown fields are refused (see [`CheckRequest::read_json`]).
    pub fn from_json(body: &[u8]) -> Result<Self, RequestError> {
        Self::read_json(body, UnknownFields::Refuse).map(|read| read.request)
    }

    /// As [`CheckRequest::from_json`], with unknown fields handled as
    /// `unknown` says.
    pub fn read_json(body: &[u8], unknown: UnknownFields) -> Result<ReadRequest, RequestError> {
        Self::read_value(&parse_unique_keys(body)?, unknown)
    }

    /// Validate an already-parsed request body; unknown fields are refused.
    pub fn from_value(value: &Value) -> Result<Self, RequestError> {
        Self::read_value(value, UnknownFields::Refuse).map(|read| read.request)
    }

    /// As [`CheckRequest::from_value`], with unknown fields handled as
    /// `unknown` says.
    pub fn read_value(value: &Value, unknown: UnknownFields) -> Result<ReadRequest, RequestError> {
        let mut issues = Issues::new(unknown);
        let request = read_request(value, &mut issues);
        match request {
            Some(request) if issues.count() == 0 => Ok(ReadRequest {
                request,
                ignored_fields: issues.ignored,
            }),
            _ => {
                if issues.count() == 0 {
                    // Defensive: a refusal always names a reason.
                    issues.add("(body)", "invalid request");
                }
                Err(RequestError::Invalid(issues.found))
            }
        }
    }

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

/// The same strict validation as [`CheckRequest::from_json`], repeated keys
/// included.
impl<'de> Deserialize<'de> for CheckRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let found = FirstDuplicate::default();
        let value = UniqueKeys::root(&found).deserialize(deserializer)?;
        Self::from_value(&value).map_err(serde::de::Error::custom)
    }
}

/// Parse a JSON body, refusing a key repeated in any object (naming it).
pub fn parse_unique_keys(body: &[u8]) -> Result<Value, RequestError> {
    let found = FirstDuplicate::default();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = UniqueKeys::root(&found)
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    match (value, found.path()) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some(path)) => Err(RequestError::Invalid(vec![duplicate_key_issue(path)])),
        (Err(e), None) => Err(RequestError::NotJson(e.to_string())),
    }
}

fn duplicate_key_issue(field: String) -> RequestIssue {
    RequestIssue {
        field,
        message: "this key appears more than once in its object; each key may appear once, \
                  because JSON parsers disagree on which repeat wins"
            .into(),
    }
}

fn read_request(value: &Value, issues: &mut Issues) -> Option<CheckRequest> {
    let mut body = Fields::root(value, issues)?;

    let check_type = match body.required_string("check_type", issues) {
        Some("caa") => Some(CheckType::Caa),
        Some("dcv") => Some(CheckType::Dcv),
        Some(other) => {
            issues.add("check_type", format!("`{other}` is not `caa` or `dcv`"));
            None
        }
        None => None,
    };
    let target_text = body.required_string("domain_or_ip_target", issues);
    let trace_identifier = body.string("trace_identifier", issues).map(str::to_owned);
    let orchestration_parameters = body
        .object("orchestration_parameters", issues)
        .and_then(|fields| read_orchestration(fields, issues));

    let caa = match (check_type, body.object("caa_check_parameters", issues)) {
        (Some(CheckType::Caa), Some(fields)) => read_caa(fields, issues),
        (Some(CheckType::Caa), None) => Some(CaaCheckParameters::default()),
        (Some(CheckType::Dcv), Some(_)) => {
            // Not a field of a DCV request: unknown to it, as to Open MPIC.
            issues.unknown("caa_check_parameters".into());
            None
        }
        _ => None,
    };
    let dcv = match check_type {
        Some(CheckType::Dcv) => body
            .required_object("dcv_check_parameters", issues)
            .and_then(|fields| read_dcv(fields, issues)),
        _ => {
            if body.has("dcv_check_parameters") && check_type == Some(CheckType::Caa) {
                issues.unknown("dcv_check_parameters".into());
            }
            body.known("dcv_check_parameters");
            None
        }
    };
    body.finish(issues);

    let method = dcv.as_ref().map(DcvCheckParameters::method);
    let target = target_text.and_then(|text| read_target(text, method, issues));

    let target = target?;
    let parameters = match check_type? {
        CheckType::Caa => {
            if target.ip().is_some() {
                issues.add(
                    "domain_or_ip_target",
                    "CAA applies to domain names, not IP addresses",
                );
                return None;
            }
            CheckParameters::Caa(caa?)
        }
        CheckType::Dcv => {
            let dcv = dcv?;
            if let Err(refusal) = dcv.method().check_target(&target) {
                issues.add("domain_or_ip_target", refusal.to_string());
                return None;
            }
            CheckParameters::Dcv(dcv)
        }
    };
    Some(CheckRequest {
        target,
        trace_identifier,
        orchestration_parameters,
        parameters,
    })
}

fn read_target(
    text: &str,
    method: Option<ValidationMethod>,
    issues: &mut Issues,
) -> Option<Target> {
    if method == Some(ValidationMethod::ReverseAddressLookup) {
        // Open MPIC clients send the reverse-lookup name itself; it stands for
        // exactly one address, which is what is being validated.
        if let Ok(ip) = ip_from_reverse_name(text) {
            return Some(Target::Ip(ip));
        }
    }
    match Target::parse(text) {
        Ok(target) => Some(target),
        Err(error) => {
            issues.add("domain_or_ip_target", error.to_string());
            None
        }
    }
}

fn read_orchestration(
    mut fields: Fields<'_>,
    issues: &mut Issues,
) -> Option<OrchestrationParameters> {
    let before = issues.count();
    let parameters = OrchestrationParameters {
        perspective_count: fields.count("perspective_count", issues),
        quorum_count: fields.count("quorum_count", issues),
        max_attempts: fields.integer("max_attempts", issues),
        cohort_for_single_attempt: fields.integer("cohort_for_single_attempt", issues),
    };
    if parameters.perspective_count == Some(0) {
        issues.add(fields.path("perspective_count"), "must be at least 1");
    }
    if let (Some(perspectives), Some(quorum)) =
        (parameters.perspective_count, parameters.quorum_count)
        && quorum > perspectives
    {
        issues.add(
            fields.path("quorum_count"),
            format!("{quorum} is more than perspective_count ({perspectives})"),
        );
    }
    fields.finish(issues);
    (issues.count() == before).then_some(parameters)
}

fn read_caa(mut fields: Fields<'_>, issues: &mut Issues) -> Option<CaaCheckParameters> {
    let before = issues.count();
    let certificate_type = match fields.string("certificate_type", issues) {
        Some("tls-server") => Some(CertificateType::TlsServer),
        Some("s-mime") => Some(CertificateType::SMime),
        Some(other) => {
            issues.add(
                fields.path("certificate_type"),
                format!("`{other}` is not `tls-server` or `s-mime`"),
            );
            None
        }
        None => None,
    };
    let caa_domains = fields.string_list("caa_domains", issues).map(|items| {
        items
            .into_iter()
            .filter_map(|(path, text)| read_domain(&path, text, issues))
            .collect::<Vec<_>>()
    });
    let allow_lookup_failure = fields.boolean("allow_lookup_failure", issues);
    let x_account_uri = fields
        .string("x_account_uri", issues)
        .and_then(|uri| read_uri(&fields.path("x_account_uri"), uri, issues));
    let x_validation_method = fields
        .string("x_validation_method", issues)
        .and_then(|method| {
            if is_caa_parameter_word(method) {
                Some(method.to_owned())
            } else {
                issues.add(
                    fields.path("x_validation_method"),
                    "must be an RFC 8657 validation method name (letters, digits, inner hyphens)",
                );
                None
            }
        });
    fields.finish(issues);
    (issues.count() == before).then_some(CaaCheckParameters {
        certificate_type,
        caa_domains,
        allow_lookup_failure,
        x_account_uri,
        x_validation_method,
    })
}

fn read_dcv(mut fields: Fields<'_>, issues: &mut Issues) -> Option<DcvCheckParameters> {
    let method_name = fields.required_string("validation_method", issues)?;
    let Some(method) = ValidationMethod::from_name(method_name) else {
        let known: Vec<&str> = ValidationMethod::ALL.iter().map(|m| m.as_str()).collect();
        issues.add(
            fields.path("validation_method"),
            format!("`{method_name}` is not one of {}", known.join(", ")),
        );
        // The other fields depend on the method: do not report them as unknown.
        return None;
    };
    let before = issues.count();
    read_pinned(&mut fields, method, issues);
    let parameters = match method {
        ValidationMethod::AcmeHttp01 => {
            read_acme_http_01(&mut fields, issues).map(DcvCheckParameters::AcmeHttp01)
        }
        ValidationMethod::AcmeDns01 => read_digest(&mut fields, DigestEncoding::Base64Url, issues)
            .map(|key_authorization_digest| {
                DcvCheckParameters::AcmeDns01(AcmeDns01Parameters {
                    key_authorization_digest,
                })
            }),
        ValidationMethod::AcmeTlsAlpn01 => read_digest(&mut fields, DigestEncoding::Hex, issues)
            .map(|key_authorization_digest| {
                DcvCheckParameters::AcmeTlsAlpn01(AcmeTlsAlpn01Parameters {
                    key_authorization_digest,
                })
            }),
        ValidationMethod::WebsiteChange => {
            read_website_change(&mut fields, issues).map(DcvCheckParameters::WebsiteChange)
        }
        ValidationMethod::DnsChange => {
            read_dns_change(&mut fields, issues).map(DcvCheckParameters::DnsChange)
        }
        ValidationMethod::ContactEmailTxt => {
            read_contact(&mut fields, issues).map(DcvCheckParameters::ContactEmailTxt)
        }
        ValidationMethod::ContactEmailCaa => {
            read_contact(&mut fields, issues).map(DcvCheckParameters::ContactEmailCaa)
        }
        ValidationMethod::ContactPhoneTxt => {
            read_contact(&mut fields, issues).map(DcvCheckParameters::ContactPhoneTxt)
        }
        ValidationMethod::ContactPhoneCaa => {
            read_contact(&mut fields, issues).map(DcvCheckParameters::ContactPhoneCaa)
        }
        ValidationMethod::IpAddress => {
            read_ip_address(&mut fields, issues).map(DcvCheckParameters::IpAddress)
        }
        ValidationMethod::ReverseAddressLookup => {
            read_reverse_lookup(&mut fields, issues).map(DcvCheckParameters::ReverseAddressLookup)
        }
        ValidationMethod::DnsPersistent => {
            read_dns_persistent(&mut fields, issues).map(DcvCheckParameters::DnsPersistent)
        }
        ValidationMethod::DnsAccount01 => {
            let account_uri = read_required_uri(&mut fields, "account_uri", issues);
            let digest = read_digest(&mut fields, DigestEncoding::Base64Url, issues);
            account_uri
                .zip(digest)
                .map(|(account_uri, key_authorization_digest)| {
                    DcvCheckParameters::DnsAccount01(DnsAccount01Parameters {
                        account_uri,
                        key_authorization_digest,
                    })
                })
        }
    };
    fields.finish(issues);
    if issues.count() > before {
        return None;
    }
    parameters
}

/// The fields Open MPIC's models fix for `method` ([`open_mpic_fields`]):
/// sent with their value they carry no choice; with another, they are
/// refused, as Open MPIC refuses them.
fn read_pinned(fields: &mut Fields<'_>, method: ValidationMethod, issues: &mut Issues) {
    for rule in field_rules(method) {
        match (rule.rule, rule.value) {
            (Rule::Default, _) => {}
            (Rule::Fixed, Literal::Null) => {
                if fields
                    .string(rule.name, issues)
                    .is_some_and(|value| !value.is_empty())
                {
                    issues.add(
                        fields.path(rule.name),
                        format!("{method} looks up the domain itself (BR 3.2.2.4); a prefix label is not used"),
                    );
                }
            }
            (Rule::Fixed, value) => fields.pinned(rule.name, value.to_value(), issues),
        }
    }
}

/// The token and key authorization are only required to be present: one
/// that cannot be an RFC 8555 key authorization fails the check at the
/// perspective ([`crate::dcv::UnusableChallenge`]), as in Open MPIC.
fn read_acme_http_01(fields: &mut Fields<'_>, issues: &mut Issues) -> Option<AcmeHttp01Parameters> {
    let token = fields.required_string("token", issues);
    let key_authorization = fields.required_string("key_authorization", issues);
    let http_headers = read_headers(fields, issues);
    Some(AcmeHttp01Parameters {
        token: token?.to_owned(),
        key_authorization: key_authorization?.to_owned(),
        http_headers,
    })
}

#[derive(Clone, Copy)]
enum DigestEncoding {
    Base64Url,
    Hex,
}

/// `key_authorization_hash`, or (extension) `key_authorization` to hash.
fn read_digest(
    fields: &mut Fields<'_>,
    encoding: DigestEncoding,
    issues: &mut Issues,
) -> Option<[u8; 32]> {
    let has_hash = fields.has("key_authorization_hash");
    let has_key_authorization = fields.has("key_authorization");
    let hash = fields.string("key_authorization_hash", issues);
    let key_authorization = fields.string("key_authorization", issues);
    match (has_hash, has_key_authorization) {
        (true, true) => {
            issues.add(
                fields.path("key_authorization"),
                "give key_authorization_hash or key_authorization, not both",
            );
            None
        }
        (false, false) => {
            issues.add(fields.path("key_authorization_hash"), "missing");
            None
        }
        (true, false) => {
            let (decoded, expected) = match encoding {
                DigestEncoding::Base64Url => (
                    data_encoding::BASE64URL_NOPAD.decode(hash?.as_bytes()),
                    "base64url without padding",
                ),
                DigestEncoding::Hex => (
                    data_encoding::HEXLOWER_PERMISSIVE.decode(hash?.as_bytes()),
                    "hex",
                ),
            };
            match decoded
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            {
                Some(digest) => Some(digest),
                None => {
                    issues.add(
                        fields.path("key_authorization_hash"),
                        format!("must be the {expected} encoding of a 32-byte SHA-256 digest"),
                    );
                    None
                }
            }
        }
        (false, true) => {
            let key_authorization = key_authorization?;
            if key_authorization.is_empty() {
                issues.add(fields.path("key_authorization"), "must not be empty");
                return None;
            }
            Some(key_authorization_digest(key_authorization))
        }
    }
}

fn read_website_change(
    fields: &mut Fields<'_>,
    issues: &mut Issues,
) -> Option<WebsiteChangeParameters> {
    let path = fields.required_string("http_token_path", issues);
    if let Some(path) = path
        && !is_token_path(path)
    {
        issues.add(
            fields.path("http_token_path"),
            "must be `/`-separated segments of letters, digits and `-._~`, without `.` or `..` segments or a leading `/`",
        );
    }
    let challenge_value = fields.required_string("challenge_value", issues);
    if let (Some(path), Some(value)) = (path, challenge_value)
        && path.contains(value)
    {
        // BR 3.2.2.4.18: the value must not appear in the request itself,
        // or a server echoing the URL would pass.
        issues.add(
            fields.path("challenge_value"),
            "must not appear in http_token_path (BR 3.2.2.4.18)",
        );
    }
    // A pattern that does not compile fails the check at the perspective
    // (DcvFailure::InvalidRegex), as in Open MPIC.
    let match_regex = fields
        .string("match_regex", issues)
        .filter(|r| !r.is_empty());
    let url_scheme = match fields.string("url_scheme", issues) {
        Some("http") => Some(UrlScheme::Http),
        Some("https") => Some(UrlScheme::Https),
        Some(other) => {
            issues.add(
                fields.path("url_scheme"),
                format!("`{other}` is not `http` or `https`"),
            );
            None
        }
        None => None,
    };
    let http_headers = read_headers(fields, issues);
    let require_exact_case = fields.boolean("require_exact_case", issues);
    Some(WebsiteChangeParameters {
        http_token_path: path?.to_owned(),
        challenge_value: challenge_value?.to_owned(),
        match_regex: match_regex.map(str::to_owned),
        url_scheme,
        http_headers,
        require_exact_case,
    })
}

/// Compile a `match_regex` with the size bounds every perspective applies.
pub fn compile_match_regex(pattern: &str) -> Result<regex_lite::Regex, String> {
    if pattern.len() > MAX_REGEX_OCTETS {
        return Err(format!("longer than {MAX_REGEX_OCTETS} octets"));
    }
    regex_lite::RegexBuilder::new(pattern)
        .size_limit(MAX_REGEX_COMPILED_BYTES)
        .nest_limit(MAX_REGEX_NESTING)
        .build()
        .map_err(|e| format!("is not a valid regular expression: {e}"))
}

/// Headers a caller may not set: they frame or route the exchange, which
/// is the perspective's to do (the Host comes from the challenge URL).
pub const REFUSED_HTTP_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
    "expect",
];

/// `http_headers`: sent with each GET of the check, except those in
/// [`REFUSED_HTTP_HEADERS`], which are refused naming the header.
fn read_headers(fields: &mut Fields<'_>, issues: &mut Issues) -> Option<BTreeMap<String, String>> {
    let headers = fields.string_map("http_headers", issues)?;
    let before = issues.count();
    for (name, value) in &headers {
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            issues.add(
                format!("{}.{name}", fields.path("http_headers")),
                "is not an HTTP header name",
            );
        } else if REFUSED_HTTP_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            issues.add(
                format!("{}.{name}", fields.path("http_headers")),
                format!(
                    "{name} frames or routes the exchange and is set by the perspective, \
                     not by the request"
                ),
            );
        }
        if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            issues.add(
                format!("{}.{name}", fields.path("http_headers")),
                "header values cannot contain CR, LF or NUL",
            );
        }
    }
    (issues.count() == before).then_some(headers)
}

fn read_dns_change(fields: &mut Fields<'_>, issues: &mut Issues) -> Option<DnsChangeParameters> {
    let challenge_value = fields.required_string("challenge_value", issues);
    let record_type = match fields.required_string("dns_record_type", issues) {
        Some("TXT") => Some(DnsChangeRecordType::Txt),
        Some("CNAME") => Some(DnsChangeRecordType::Cname),
        Some("CAA") => Some(DnsChangeRecordType::Caa),
        Some(other) => {
            issues.add(
                fields.path("dns_record_type"),
                format!("`{other}` is not `TXT`, `CNAME` or `CAA`"),
            );
            None
        }
        None => None,
    };
    let prefix = fields.string("dns_name_prefix", issues);
    if let Some(prefix) = prefix
        && !prefix.is_empty()
        && !is_underscore_label(prefix)
    {
        issues.add(
            fields.path("dns_name_prefix"),
            "must be one label starting with `_` (BR 3.2.2.4.7), at most 63 octets of letters, digits, `-` and `_`",
        );
    }
    let require_exact_match = fields.boolean("require_exact_match", issues);
    let require_exact_case = fields.boolean("require_exact_case", issues);
    Some(DnsChangeParameters {
        challenge_value: challenge_value?.to_owned(),
        dns_record_type: record_type?,
        dns_name_prefix: prefix.map(str::to_owned),
        require_exact_match,
        require_exact_case,
    })
}

/// Any non-empty value; one that is not an email address or a global phone
/// number fails the check at the perspective, as in Open MPIC.
fn read_contact(fields: &mut Fields<'_>, issues: &mut Issues) -> Option<ContactParameters> {
    let value = fields.required_string("challenge_value", issues)?;
    Some(ContactParameters {
        challenge_value: value.to_owned(),
    })
}

fn read_ip_address(fields: &mut Fields<'_>, issues: &mut Issues) -> Option<IpAddressParameters> {
    let address = fields.required_string("challenge_value", issues);
    let record_type = match fields.required_string("dns_record_type", issues) {
        Some("A") => Some(AddressRecordType::A),
        Some("AAAA") => Some(AddressRecordType::Aaaa),
        Some(other) => {
            issues.add(
                fields.path("dns_record_type"),
                format!("`{other}` is not `A` or `AAAA`"),
            );
            None
        }
        None => None,
    };
    Some(IpAddressParameters {
        challenge_value: address?.to_owned(),
        dns_record_type: record_type?,
    })
}

fn read_reverse_lookup(
    fields: &mut Fields<'_>,
    issues: &mut Issues,
) -> Option<ReverseAddressLookupParameters> {
    let value = fields.required_string("challenge_value", issues)?;
    // A PTR target is written with its root dot as often as without.
    let name = value.strip_suffix('.').unwrap_or(value);
    let path = fields.path("challenge_value");
    read_domain(&path, name, issues)
        .map(|challenge_value| ReverseAddressLookupParameters { challenge_value })
}

fn read_dns_persistent(
    fields: &mut Fields<'_>,
    issues: &mut Issues,
) -> Option<DnsPersistentParameters> {
    let names = if fields.has("issuer_domain_names") {
        fields.string_list("issuer_domain_names", issues)
    } else {
        fields.known("issuer_domain_names");
        issues.add(fields.path("issuer_domain_names"), "missing");
        None
    };
    let names = names.and_then(|items| {
        if items.is_empty() {
            issues.add(fields.path("issuer_domain_names"), "must not be empty");
            return None;
        }
        let before = issues.count();
        let parsed: Vec<DomainName> = items
            .into_iter()
            .filter_map(|(path, text)| read_domain(&path, text, issues))
            .collect();
        (issues.count() == before).then_some(parsed)
    });
    // Open MPIC 3.8 names it expected_account_uri; account_uri was ours.
    let account_uri = if fields.has("account_uri") && !fields.has("expected_account_uri") {
        fields.known("expected_account_uri");
        read_required_uri(fields, "account_uri", issues)
    } else {
        if fields.has("account_uri") {
            issues.add(
                fields.path("account_uri"),
                "give expected_account_uri or account_uri (another name for it), not both",
            );
        }
        fields.known("account_uri");
        read_required_uri(fields, "expected_account_uri", issues)
    };
    Some(DnsPersistentParameters {
        issuer_domain_names: names?,
        account_uri: account_uri?,
    })
}

fn read_domain(path: &str, text: &str, issues: &mut Issues) -> Option<DomainName> {
    match DomainName::parse(text) {
        Ok(name) => Some(name),
        Err(error) => {
            issues.add(path, error.to_string());
            None
        }
    }
}

fn read_required_uri(
    fields: &mut Fields<'_>,
    key: &'static str,
    issues: &mut Issues,
) -> Option<String> {
    let text = fields.required_string(key, issues)?;
    read_uri(&fields.path(key), text, issues)
}

/// An absolute URI, kept exactly as given (RFC 8657 compares `accounturi`
/// as a string).
fn read_uri(path: &str, text: &str, issues: &mut Issues) -> Option<String> {
    let usable = url::Url::parse(text).is_ok()
        && text
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b';');
    if usable {
        Some(text.to_owned())
    } else {
        issues.add(path, "must be an absolute URI without spaces or `;`");
        None
    }
}

pub(crate) fn is_base64url(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_token_path(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        })
}

fn is_underscore_label(label: &str) -> bool {
    label.len() >= 2
        && label.len() <= 63
        && label.starts_with('_')
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// RFC 8659 `parameter-tag` / RFC 8657 method-name shape.
fn is_caa_parameter_word(word: &str) -> bool {
    let bytes = word.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

pub(crate) fn is_email_address(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        && DomainName::parse(domain).is_ok()
}

pub(crate) fn is_global_phone_number(text: &str) -> bool {
    let number = text.split(';').next().unwrap_or_default();
    let Some(digits) = number.strip_prefix('+') else {
        return false;
    };
    digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b"-.()".contains(&b))
        && text.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

#[cfg(test)]
mod tests;

//! The DNS methods that read one RRset at one name and look for a value:
//! `acme-dns-01`, `dns-account-01`, `dns-change`, `contact-*-txt`,
//! `ip-address`, `reverse-address-lookup`.

use std::net::IpAddr;

use hickory_proto::rr::{RData, RecordType};
use sha2::{Digest, Sha256};

use super::records::{self, address, caa_property, target_name, txt_value};
use super::{DcvEvidence, DcvFailure, DcvObservation, DnsEvidence, UnusableChallenge, contains};
use crate::check::syntax::{is_email_address, is_global_phone_number};
use crate::check::{
    AcmeDns01Parameters, AddressRecordType, ContactParameters, DnsAccount01Parameters,
    DnsChangeParameters, DnsChangeRecordType, IpAddressParameters, ReverseAddressLookupParameters,
    ValidationMethod,
};
use crate::name::{DomainName, NameError, reverse_name};
use crate::network::Network;

/// RFC 8555 8.4: TXT at `_acme-challenge.<domain>`.
pub(super) async fn acme_dns_01<N: Network>(
    network: &N,
    domain: &DomainName,
    parameters: &AcmeDns01Parameters,
) -> DcvObservation {
    let expected = data_encoding::BASE64URL_NOPAD.encode(&parameters.key_authorization_digest);
    let name = domain.with_prefix("_acme-challenge");
    one_rrset(
        network,
        ValidationMethod::AcmeDns01,
        name,
        RecordType::TXT,
        |data| txt_value(data).is_some_and(|value| value == expected.as_bytes()),
    )
    .await
}

/// The account label of draft-ietf-acme-dns-account-label: `_` and the
/// lower-case base32 of the first 10 octets of SHA-256(account URI).
pub fn account_label(account_uri: &str) -> String {
    let digest = Sha256::digest(account_uri.as_bytes());
    let label = data_encoding::BASE32_NOPAD.encode(&digest[..10]);
    format!("_{}", label.to_ascii_lowercase())
}

/// TXT at `_<account label>._acme-challenge.<domain>`.
pub(super) async fn dns_account_01<N: Network>(
    network: &N,
    domain: &DomainName,
    parameters: &DnsAccount01Parameters,
) -> DcvObservation {
    let expected = data_encoding::BASE64URL_NOPAD.encode(&parameters.key_authorization_digest);
    let prefix = format!("{}._acme-challenge", account_label(&parameters.account_uri));
    let name = domain.with_prefix(&prefix);
    one_rrset(
        network,
        ValidationMethod::DnsAccount01,
        name,
        RecordType::TXT,
        |data| txt_value(data).is_some_and(|value| value == expected.as_bytes()),
    )
    .await
}

/// BR 3.2.2.4.7: the value in a TXT, CNAME or CAA record at the domain or at
/// `<_prefix>.<domain>`.
pub(super) async fn dns_change<N: Network>(
    network: &N,
    domain: &DomainName,
    parameters: &DnsChangeParameters,
) -> DcvObservation {
    let name = match parameters.prefix() {
        Some(prefix) => domain.with_prefix(prefix),
        None => Ok(domain.as_str().to_owned()),
    };
    let exact = parameters.exact_match();
    let exact_case = parameters.exact_case();
    let mut expected = if exact_case {
        parameters.challenge_value.as_bytes().to_vec()
    } else {
        parameters.challenge_value.to_ascii_lowercase().into_bytes()
    };
    // CNAME targets compare without the root dot (and, as `exact_case` is
    // false for them, without case).
    if parameters.dns_record_type == DnsChangeRecordType::Cname && expected.ends_with(b".") {
        expected.pop();
    }
    let found = |seen: &[u8]| {
        let folded;
        let seen = if exact_case {
            seen
        } else {
            folded = seen.to_ascii_lowercase();
            &folded
        };
        if exact {
            seen == expected.as_slice()
        } else {
            contains(seen, &expected)
        }
    };
    let method = ValidationMethod::DnsChange;
    match parameters.dns_record_type {
        DnsChangeRecordType::Txt => {
            one_rrset(network, method, name, RecordType::TXT, |data| {
                txt_value(data).is_some_and(|value| found(&value))
            })
            .await
        }
        DnsChangeRecordType::Caa => {
            one_rrset(network, method, name, RecordType::CAA, |data| {
                caa_property(data).is_some_and(|caa| found(&caa.value))
            })
            .await
        }
        DnsChangeRecordType::Cname => {
            one_rrset(network, method, name, RecordType::CNAME, |data| {
                target_name(data).is_some_and(|target| found(target.as_bytes()))
            })
            .await
        }
    }
}

/// Which contact a `contact-*` method looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Contact {
    Email,
    Phone,
}

impl Contact {
    /// BR 3.2.2.4.14 / 3.2.2.4.16 TXT owner label.
    fn txt_label(self) -> &'static str {
        match self {
            Contact::Email => "_validation-contactemail",
            Contact::Phone => "_validation-contactphone",
        }
    }

    /// BR 3.2.2.4.13 / 3.2.2.4.17 CAA property tag.
    pub(super) fn caa_tag(self) -> &'static str {
        match self {
            Contact::Email => "contactemail",
            Contact::Phone => "contactphone",
        }
    }

    pub(super) fn method(self, caa: bool) -> ValidationMethod {
        match (self, caa) {
            (Contact::Email, false) => ValidationMethod::ContactEmailTxt,
            (Contact::Email, true) => ValidationMethod::ContactEmailCaa,
            (Contact::Phone, false) => ValidationMethod::ContactPhoneTxt,
            (Contact::Phone, true) => ValidationMethod::ContactPhoneCaa,
        }
    }

    /// Why `value` can never be this kind of contact, if it cannot.
    pub(super) fn unusable(self, value: &str) -> Option<UnusableChallenge> {
        match self {
            Contact::Email if !is_email_address(value) => {
                Some(UnusableChallenge::NotAnEmailAddress)
            }
            Contact::Phone if !is_global_phone_number(value) => {
                Some(UnusableChallenge::NotAGlobalPhoneNumber)
            }
            Contact::Email | Contact::Phone => None,
        }
    }

    /// Whether a whole published value is the expected contact.
    pub(super) fn matches(self, expected: &str, seen: &[u8]) -> bool {
        match self {
            Contact::Email => seen.eq_ignore_ascii_case(expected.as_bytes()),
            Contact::Phone => std::str::from_utf8(seen)
                .is_ok_and(|seen| normalise_phone(seen) == normalise_phone(expected)),
        }
    }
}

/// RFC 3966 5.1.1: visual separators carry no meaning; parameters compare
/// case-insensitively.
fn normalise_phone(number: &str) -> String {
    let (digits, parameters) = number.split_once(';').unwrap_or((number, ""));
    let mut out: String = digits.chars().filter(|c| !"-.()".contains(*c)).collect();
    if !parameters.is_empty() {
        out.push(';');
        out.push_str(&parameters.to_ascii_lowercase());
    }
    out
}

/// TXT at `_validation-contactemail.<domain>` / `_validation-contactphone.<domain>`.
pub(super) async fn contact_txt<N: Network>(
    network: &N,
    domain: &DomainName,
    contact: Contact,
    parameters: &ContactParameters,
) -> DcvObservation {
    if let Some(unusable) = contact.unusable(&parameters.challenge_value) {
        return DcvObservation::unusable(contact.method(false), unusable);
    }
    let name = domain.with_prefix(contact.txt_label());
    one_rrset(
        network,
        contact.method(false),
        name,
        RecordType::TXT,
        |data| {
            txt_value(data)
                .is_some_and(|value| contact.matches(&parameters.challenge_value, &value))
        },
    )
    .await
}

/// BR 3.2.2.4.8: an A/AAAA record of the domain is the expected address.
pub(super) async fn ip_address<N: Network>(
    network: &N,
    domain: &DomainName,
    parameters: &IpAddressParameters,
) -> DcvObservation {
    let rtype = match parameters.dns_record_type {
        AddressRecordType::A => RecordType::A,
        AddressRecordType::Aaaa => RecordType::AAAA,
    };
    // Compared as addresses, so that any spelling of the address matches.
    let Ok(expected) = parameters.challenge_value.parse::<IpAddr>() else {
        return DcvObservation::unusable(
            ValidationMethod::IpAddress,
            UnusableChallenge::NotAnIpAddress,
        );
    };
    if expected.is_ipv4() != (parameters.dns_record_type == AddressRecordType::A) {
        return DcvObservation::unusable(
            ValidationMethod::IpAddress,
            UnusableChallenge::AddressFamilyMismatch {
                address: expected,
                record_type: parameters.dns_record_type,
            },
        );
    }
    one_rrset(
        network,
        ValidationMethod::IpAddress,
        Ok(domain.as_str().to_owned()),
        rtype,
        |data| address(data) == Some(expected),
    )
    .await
}

/// BR 3.2.2.5.3: the PTR of the address names the expected domain.
pub(super) async fn reverse_address_lookup<N: Network>(
    network: &N,
    ip: IpAddr,
    parameters: &ReverseAddressLookupParameters,
) -> DcvObservation {
    let expected = parameters.challenge_value.as_str();
    one_rrset(
        network,
        ValidationMethod::ReverseAddressLookup,
        Ok(reverse_name(ip)),
        RecordType::PTR,
        |data| target_name(data).is_some_and(|target| target == expected),
    )
    .await
}

/// Look up one RRset and pass if any record satisfies `matches`.
async fn one_rrset<N: Network>(
    network: &N,
    method: ValidationMethod,
    name: Result<String, NameError>,
    rtype: RecordType,
    matches: impl Fn(&RData) -> bool,
) -> DcvObservation {
    let name = match name {
        Ok(name) => name,
        Err(detail) => {
            return DcvObservation::new(
                method,
                DcvEvidence::None,
                Some(DcvFailure::QueryName { detail }),
            );
        }
    };
    let answer = records::lookup(network, &name, rtype).await;
    let failure = match &answer.records {
        Err(failure) => Some(failure.clone()),
        Ok(found) if found.is_empty() => Some(DcvFailure::NoRecords { name: name.clone() }),
        Ok(found) if found.iter().any(|record| matches(&record.data)) => None,
        Ok(_) => Some(DcvFailure::ValueNotFound { name: name.clone() }),
    };
    DcvObservation::new(
        method,
        DcvEvidence::Dns(DnsEvidence {
            lookups: vec![answer.evidence],
            found_at: Some(name),
        }),
        failure,
    )
}

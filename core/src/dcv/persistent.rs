//! `dns-persistent`: BR 3.2.2.4.22, draft-ietf-acme-dns-persist.
//!
//! TXT at `_validation-persist.<FQDN>` whose value is an RFC 8659 issue-value:
//! `<issuer-domain-name>; accounturi=<uri>[; policy=wildcard][; persistUntil=<unix seconds>]`.
//! A record is acceptable when
//! - it matches the issue-value grammar (anything else is refused, not guessed);
//! - its issuer domain name is one of the CA's (case-insensitive);
//! - it has exactly one `accounturi`, equal to the request's (exact string);
//! - for a wildcard target, `policy=wildcard` (key and value case-insensitive;
//!   another policy value counts as none);
//! - any `persistUntil` is a base-10 integer not earlier than now (the draft:
//!   not valid *after* that time).
//!
//! Parameter keys are compared case-insensitively; unknown keys are ignored
//! (the draft says so); a repeated known key is refused as ambiguous.

use hickory_proto::rr::RecordType;
use serde::{Deserialize, Serialize};

use super::records::{self, txt_value};
use super::{DcvEvidence, DcvFailure, DcvObservation, DnsEvidence};
use crate::check::{DnsPersistentParameters, ValidationMethod};
use crate::name::DomainName;
use crate::network::Network;

/// The owner label of the persistent record.
pub const PERSIST_LABEL: &str = "_validation-persist";

/// A persistent validation record, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistRecord {
    /// The issuer domain name, lower-case.
    pub issuer_domain_name: String,
    /// The `accounturi` parameter's value as written; `None` when absent
    /// (such a record is never acceptable).
    pub account_uri: Option<String>,
    /// `policy=wildcard` was present.
    pub wildcard_policy: bool,
    /// The `persistUntil` parameter, in Unix seconds: the record is not
    /// valid after that time. `None`: no expiry.
    pub persist_until: Option<u64>,
}

/// Why one TXT record was not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PersistRejection {
    /// The TXT value does not follow the issue-value grammar, or repeats a
    /// known parameter, or has a `persistUntil` that is not a base-10 integer.
    #[error("`{record}` does not follow the issue-value grammar: {detail}")]
    Malformed {
        /// The TXT value (strings joined), UTF-8 lossy.
        record: String,
        /// Which rule it breaks.
        detail: String,
    },
    /// The record names an issuer domain name that is not one of the
    /// request's.
    #[error("issuer `{issuer}` is not one of this CA's")]
    OtherIssuer {
        /// The record's issuer domain name, lower-case.
        issuer: String,
    },
    /// The record has no `accounturi` parameter.
    #[error("no accounturi parameter")]
    MissingAccountUri,
    /// The record's `accounturi` is not the request's account URI (exact
    /// string comparison).
    #[error("accounturi `{found}` is not the requesting account")]
    OtherAccount {
        /// The record's `accounturi`, as written.
        found: String,
    },
    /// The target is a wildcard and the record lacks `policy=wildcard`.
    #[error("a wildcard needs policy=wildcard")]
    WildcardNotAuthorized,
    /// The record's `persistUntil` is earlier than now.
    #[error("persistUntil {persist_until} has passed (now {now})")]
    Expired {
        /// The record's `persistUntil`, Unix seconds.
        persist_until: u64,
        /// The perspective's clock at the check, Unix seconds.
        now: u64,
    },
}

/// Parse one TXT value (strings joined) as a persistent validation record.
pub fn parse_persist_record(value: &[u8]) -> Result<PersistRecord, PersistRejection> {
    let shown = String::from_utf8_lossy(value).into_owned();
    let malformed = |detail: &str| PersistRejection::Malformed {
        record: shown.clone(),
        detail: detail.to_owned(),
    };
    let text = std::str::from_utf8(value).map_err(|_| malformed("not ASCII"))?;
    let is_wsp = |c: char| c == ' ' || c == '\t';
    let (issuer, parameters) = match text.split_once(';') {
        Some((issuer, rest)) => (issuer.trim_matches(is_wsp), Some(rest)),
        None => (text.trim_matches(is_wsp), None),
    };
    if issuer.is_empty() {
        return Err(malformed("no issuer domain name"));
    }
    if !issuer.split('.').all(is_ldh_label) {
        return Err(malformed("issuer domain name is not LDH labels"));
    }
    let mut record = PersistRecord {
        issuer_domain_name: issuer.to_ascii_lowercase(),
        account_uri: None,
        wildcard_policy: false,
        persist_until: None,
    };
    let Some(parameters) = parameters else {
        return Ok(record);
    };
    if parameters.trim_matches(is_wsp).is_empty() {
        // `issuer;` is grammatical: no parameters.
        return Ok(record);
    }
    let (mut seen_account, mut seen_policy, mut seen_until) = (false, false, false);
    for parameter in parameters.split(';') {
        let parameter = parameter.trim_matches(is_wsp);
        let (key, value) = parameter
            .split_once('=')
            .ok_or_else(|| malformed("a parameter has no `=`"))?;
        let key = key.trim_matches(is_wsp);
        let value = value.trim_matches(is_wsp);
        if !is_ldh_label(key) {
            return Err(malformed(
                "a parameter tag is not letters, digits and inner hyphens",
            ));
        }
        // RFC 8659: parameter-value = *(%x21-3A / %x3C-7E).
        if !value
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b';')
        {
            return Err(malformed(
                "a parameter value has characters outside %x21-3A / %x3C-7E",
            ));
        }
        let once = |seen: &mut bool| {
            if std::mem::replace(seen, true) {
                Err(malformed("a parameter appears twice"))
            } else {
                Ok(())
            }
        };
        match key.to_ascii_lowercase().as_str() {
            "accounturi" => {
                once(&mut seen_account)?;
                record.account_uri = Some(value.to_owned());
            }
            "policy" => {
                once(&mut seen_policy)?;
                record.wildcard_policy = value.eq_ignore_ascii_case("wildcard");
            }
            "persistuntil" => {
                once(&mut seen_until)?;
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(malformed("persistUntil is not a base-10 integer"));
                }
                let until = value
                    .parse::<u64>()
                    .map_err(|_| malformed("persistUntil is out of range"))?;
                record.persist_until = Some(until);
            }
            // The draft: CAs MUST ignore unknown parameter keys.
            _ => {}
        }
    }
    Ok(record)
}

/// RFC 8659 `label` / `parameter-tag`: `(ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))`.
fn is_ldh_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// Judge a parsed record against the request.
pub fn judge_persist_record(
    record: &PersistRecord,
    parameters: &DnsPersistentParameters,
    wildcard: bool,
    now_unix_seconds: u64,
) -> Result<(), PersistRejection> {
    if !parameters
        .issuer_domain_names
        .iter()
        .any(|issuer| issuer.as_str() == record.issuer_domain_name)
    {
        return Err(PersistRejection::OtherIssuer {
            issuer: record.issuer_domain_name.clone(),
        });
    }
    match &record.account_uri {
        None => return Err(PersistRejection::MissingAccountUri),
        Some(found) if *found != parameters.account_uri => {
            return Err(PersistRejection::OtherAccount {
                found: found.clone(),
            });
        }
        Some(_) => {}
    }
    if wildcard && !record.wildcard_policy {
        return Err(PersistRejection::WildcardNotAuthorized);
    }
    if let Some(persist_until) = record.persist_until
        && now_unix_seconds > persist_until
    {
        return Err(PersistRejection::Expired {
            persist_until,
            now: now_unix_seconds,
        });
    }
    Ok(())
}

pub(super) async fn dns_persistent<N: Network>(
    network: &N,
    domain: &DomainName,
    wildcard: bool,
    parameters: &DnsPersistentParameters,
    now_unix_seconds: u64,
) -> DcvObservation {
    let method = ValidationMethod::DnsPersistent;
    let name = match domain.with_prefix(PERSIST_LABEL) {
        Ok(name) => name,
        Err(detail) => {
            return DcvObservation::new(
                method,
                DcvEvidence::None,
                Some(DcvFailure::QueryName { detail }),
            );
        }
    };
    let answer = records::lookup(network, &name, RecordType::TXT).await;
    let failure = match &answer.records {
        Err(failure) => Some(failure.clone()),
        Ok(found) if found.is_empty() => Some(DcvFailure::NoRecords { name: name.clone() }),
        Ok(found) => {
            let mut rejections = Vec::new();
            let mut accepted = false;
            for value in found.iter().filter_map(|record| txt_value(&record.data)) {
                let verdict = parse_persist_record(&value).and_then(|record| {
                    judge_persist_record(&record, parameters, wildcard, now_unix_seconds)
                });
                match verdict {
                    Ok(()) => accepted = true,
                    Err(rejection) => rejections.push(rejection),
                }
            }
            (!accepted).then(|| DcvFailure::NoAcceptablePersistRecord {
                name: name.clone(),
                rejections,
            })
        }
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

#[cfg(test)]
mod tests;

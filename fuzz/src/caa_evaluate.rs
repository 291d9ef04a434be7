//! CAA evaluation: `caa::evaluate` over arbitrary Relevant RRsets.
//!
//! Input ([`decode`]): one context byte, then properties until the input
//! ends (at most [`MAX_PROPERTIES`]), each as `flags`, a tag byte and a value
//! byte:
//! - context: bit 0 S/MIME, bit 1 wildcard, bits 2-3 the request's account
//!   URI ([`ACCOUNTS`]), bits 4-5 its validation method ([`METHODS`]), bits
//!   6-7 the CA's issuer domain names ([`ISSUERS`]);
//! - tag byte below 0x80: an entry of [`TAGS`]; otherwise a raw tag of
//!   `(byte & 0x0f) + 1` bytes;
//! - value byte below 0x80: an entry of [`VALUES`]; otherwise a raw value of
//!   `byte & 0x7f` bytes.
//!
//! Invariants:
//! - the verdict equals [`reference_permits`], RFC 8659 section 4 and RFC
//!   8657 written out independently;
//! - the reasons are true: an authorising record is a governing property that
//!   names one of our issuer domain names; an unknown critical record is one;
//!   every governing property appears among the rejections;
//! - order, tag case and extra `iodef` properties do not change the verdict;
//!   an unknown critical property always forbids; with no issuer domain names
//!   nothing is ever authorised.

use mpic_core::caa::evaluate::PropertyKind;
use mpic_core::caa::property::{CRITICAL_FLAG, Property};
use mpic_core::caa::value::{is_label, parse_issuer_value};
use mpic_core::caa::{Evaluation, EvaluationContext, ForbidReason, PermitReason, evaluate};
use mpic_core::check::CertificateType;

use crate::input::Input;

/// Properties read at most from one input.
pub const MAX_PROPERTIES: usize = 16;

pub const ACCOUNTS: [Option<&str>; 4] = [
    None,
    Some("https://ca.example/acct/1"),
    Some("https://ca.example/acct/2"),
    Some(""),
];
pub const METHODS: [Option<&str>; 4] = [None, Some("dns-01"), Some("http-01"), Some("tls-alpn-01")];
pub const ISSUERS: [&[&str]; 4] = [
    &["ca.example"],
    &["CA.EXAMPLE", "other.example"],
    &[],
    &["ca2.example", "ca.example"],
];
pub const TAGS: [&str; 14] = [
    "issue",
    "ISSUE",
    "Issue",
    "issuewild",
    "IssueWild",
    "issuemail",
    "IssueMail",
    "iodef",
    "contactemail",
    "contactphone",
    "tbs",
    "unknown",
    "issuer",
    "issue-wild",
];
pub const VALUES: [&str; 18] = [
    "ca.example",
    "CA.EXAMPLE",
    "other.example",
    "",
    ";",
    "ca.example; accounturi=https://ca.example/acct/1",
    "ca.example; accounturi=https://ca.example/acct/2",
    "ca.example; validationmethods=dns-01",
    "ca.example; validationmethods=http-01,dns-01",
    "ca.example; validationmethods=",
    "ca.example; validationmethods=dns_01",
    "ca.example; ACCOUNTURI=https://ca.example/acct/1",
    "ca.example; accounturi=https://ca.example/acct/1; accounturi=https://ca.example/acct/1",
    "ca.example.",
    "ca.example; x=y",
    "%%%",
    " ca.example ",
    "ca.example; accounturi=; validationmethods=dns-01",
];

/// Tags whose critical flag does not forbid (RFC 8659, RFC 9495, RFC 8657).
const KNOWN_TAGS: [&str; 6] = [
    "issue",
    "issuewild",
    "iodef",
    "issuemail",
    "contactemail",
    "contactphone",
];

/// One decoded input.
#[derive(Debug, Clone)]
pub struct Case {
    pub certificate_type: CertificateType,
    pub wildcard: bool,
    pub account_uri: Option<&'static str>,
    pub validation_method: Option<&'static str>,
    pub issuers: Vec<String>,
    pub properties: Vec<Property>,
}

impl Case {
    fn context(&self) -> EvaluationContext<'_> {
        EvaluationContext {
            certificate_type: self.certificate_type,
            wildcard: self.wildcard,
            issuer_domain_names: &self.issuers,
            account_uri: self.account_uri,
            validation_method: self.validation_method,
        }
    }
}

/// Decodes an input (layout in the module documentation).
pub fn decode(data: &[u8]) -> Case {
    let mut input = Input::new(data);
    let context = input.byte();
    let mut properties = Vec::new();
    while !input.is_empty() && properties.len() < MAX_PROPERTIES {
        let flags = input.byte();
        let tag_byte = input.byte();
        let tag = if tag_byte < 0x80 {
            TAGS[usize::from(tag_byte) % TAGS.len()].to_owned()
        } else {
            let raw = input.bytes(usize::from(tag_byte & 0x0f) + 1);
            String::from_utf8_lossy(raw).into_owned()
        };
        let value_byte = input.byte();
        let value = if value_byte < 0x80 {
            VALUES[usize::from(value_byte) % VALUES.len()]
                .as_bytes()
                .to_vec()
        } else {
            input.bytes(usize::from(value_byte & 0x7f)).to_vec()
        };
        properties.push(Property { flags, tag, value });
    }
    Case {
        certificate_type: if context & 1 != 0 {
            CertificateType::SMime
        } else {
            CertificateType::TlsServer
        },
        wildcard: context & 2 != 0,
        account_uri: ACCOUNTS[usize::from((context >> 2) & 3)],
        validation_method: METHODS[usize::from((context >> 4) & 3)],
        issuers: ISSUERS[usize::from(context >> 6)]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        properties,
    }
}

pub fn run(data: &[u8]) {
    let case = decode(data);
    let context = case.context();
    let decision = evaluate(&case.properties, &context);

    assert_eq!(
        permits(&decision),
        reference_permits(&case.properties, &context),
        "verdict differs from the reference for {case:?}: {decision:?}"
    );
    check_reasons(&case, &decision);

    let mut reversed = case.properties.clone();
    reversed.reverse();
    assert_eq!(
        permits(&evaluate(&reversed, &context)),
        permits(&decision),
        "order changed the verdict: {case:?}"
    );

    let recased: Vec<Property> = case
        .properties
        .iter()
        .map(|p| Property {
            tag: flip_case(&p.tag),
            ..p.clone()
        })
        .collect();
    assert_eq!(
        permits(&evaluate(&recased, &context)),
        permits(&decision),
        "tag case changed the verdict: {case:?}"
    );

    let mut with_iodef = case.properties.clone();
    with_iodef.push(Property {
        flags: CRITICAL_FLAG,
        tag: "iodef".into(),
        value: b"mailto:security@example.com".to_vec(),
    });
    assert_eq!(
        permits(&evaluate(&with_iodef, &context)),
        permits(&decision),
        "an iodef property changed the verdict: {case:?}"
    );

    let mut with_critical = case.properties.clone();
    with_critical.push(Property {
        flags: CRITICAL_FLAG,
        tag: "tbs".into(),
        value: Vec::new(),
    });
    assert!(
        matches!(
            evaluate(&with_critical, &context),
            Evaluation::Forbidden {
                reason: ForbidReason::UnknownCriticalProperty { .. }
            }
        ),
        "an unknown critical property did not forbid: {case:?}"
    );
}

fn permits(decision: &Evaluation) -> bool {
    matches!(decision, Evaluation::Permitted { .. })
}

fn flip_case(tag: &str) -> String {
    tag.chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

fn governing_tag(properties: &[Property], context: &EvaluationContext<'_>) -> &'static str {
    let has = |tag: &str| properties.iter().any(|p| p.tag.eq_ignore_ascii_case(tag));
    match context.certificate_type {
        CertificateType::SMime => "issuemail",
        CertificateType::TlsServer if context.wildcard && has("issuewild") => "issuewild",
        CertificateType::TlsServer => "issue",
    }
}

/// RFC 8659 sections 4 and 5 with RFC 8657, written from the RFCs.
pub fn reference_permits(properties: &[Property], context: &EvaluationContext<'_>) -> bool {
    if properties.is_empty() {
        return true;
    }
    let unknown_critical = properties
        .iter()
        .any(|p| p.flags & 0x80 != 0 && !KNOWN_TAGS.iter().any(|t| p.tag.eq_ignore_ascii_case(t)));
    if unknown_critical {
        return false;
    }
    let tag = governing_tag(properties, context);
    let governing: Vec<&Property> = properties
        .iter()
        .filter(|p| p.tag.eq_ignore_ascii_case(tag))
        .collect();
    governing.is_empty()
        || governing
            .iter()
            .any(|p| reference_authorises(&p.value, context))
}

fn reference_authorises(value: &[u8], context: &EvaluationContext<'_>) -> bool {
    let Ok(value) = parse_issuer_value(value) else {
        return false;
    };
    let Some(issuer) = value.issuer_domain_name.as_deref() else {
        return false;
    };
    if !context
        .issuer_domain_names
        .iter()
        .any(|ours| ours.eq_ignore_ascii_case(issuer))
    {
        return false;
    }
    let values = |tag: &str| -> Vec<&str> {
        value
            .parameters
            .iter()
            .filter(|p| p.tag.eq_ignore_ascii_case(tag))
            .map(|p| p.value.as_str())
            .collect()
    };
    let account_ok = match values("accounturi").as_slice() {
        [] => true,
        [required] => context.account_uri == Some(*required),
        _ => false,
    };
    let method_ok = match values("validationmethods").as_slice() {
        [] => true,
        [listed] => {
            let methods: Vec<&str> = if listed.is_empty() {
                Vec::new()
            } else {
                listed.split(',').collect()
            };
            methods.iter().all(|m| is_label(m))
                && context
                    .validation_method
                    .is_some_and(|ours| methods.contains(&ours))
        }
        _ => false,
    };
    account_ok && method_ok
}

fn check_reasons(case: &Case, decision: &Evaluation) {
    let properties = &case.properties;
    let presented = |record: &str, tag: Option<PropertyKind>| {
        properties.iter().any(|p| {
            p.presentation() == record
                && tag.is_none_or(|tag| p.tag.eq_ignore_ascii_case(name(tag)))
        })
    };
    match decision {
        Evaluation::Permitted {
            reason: PermitReason::NoCaaRecords,
        } => assert!(properties.is_empty()),
        Evaluation::Permitted {
            reason: PermitReason::NoRelevantProperty { tag },
        } => assert!(
            !properties
                .iter()
                .any(|p| p.tag.eq_ignore_ascii_case(name(*tag))),
            "no relevant property, yet one is there"
        ),
        Evaluation::Permitted {
            reason:
                PermitReason::Authorised {
                    tag,
                    record,
                    issuer,
                },
        } => {
            assert!(
                case.issuers
                    .iter()
                    .any(|ours| ours.eq_ignore_ascii_case(issuer)),
                "authorised by {issuer}, not one of ours"
            );
            assert!(
                presented(record, Some(*tag)),
                "authorising record not in the set"
            );
        }
        Evaluation::Forbidden {
            reason: ForbidReason::UnknownCriticalProperty { record },
        } => assert!(
            properties.iter().any(|p| p.is_critical()
                && p.presentation() == *record
                && !KNOWN_TAGS.iter().any(|t| p.tag_is(t))),
            "the unknown critical record is not one"
        ),
        Evaluation::Forbidden {
            reason: ForbidReason::NotAuthorised { tag, rejections },
        } => {
            let governing = properties
                .iter()
                .filter(|p| p.tag.eq_ignore_ascii_case(name(*tag)))
                .count();
            assert!(governing > 0, "not authorised by nothing");
            assert_eq!(
                rejections.len(),
                governing,
                "a governing property was skipped"
            );
            for rejection in rejections {
                assert!(presented(&rejection.record, Some(*tag)));
            }
        }
    }
}

fn name(kind: PropertyKind) -> &'static str {
    match kind {
        PropertyKind::Issue => "issue",
        PropertyKind::Issuewild => "issuewild",
        PropertyKind::Issuemail => "issuemail",
    }
}

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

const OURS: &str = "ca.example";
const ACCOUNT: &str = "https://ca.example/acme/acct/1";

fn prop(flags: u8, tag: &str, value: &str) -> Property {
    Property {
        flags,
        tag: tag.into(),
        value: value.as_bytes().to_vec(),
    }
}

/// (flags, tag, value)
type Record = (u8, &'static str, &'static str);

fn rrset(records: &[Record]) -> Vec<Property> {
    records
        .iter()
        .map(|(flags, tag, value)| prop(*flags, tag, value))
        .collect()
}

fn tls(wildcard: bool, ids: &[String]) -> EvaluationContext<'_> {
    EvaluationContext {
        certificate_type: CertificateType::TlsServer,
        wildcard,
        issuer_domain_names: ids,
        account_uri: Some(ACCOUNT),
        validation_method: Some("dns-01"),
    }
}

fn permitted(decision: &Evaluation) -> bool {
    matches!(decision, Evaluation::Permitted { .. })
}

#[test]
fn issue_and_issuewild_and_critical_flags() {
    let ids = vec![OURS.to_owned()];
    // (records, wildcard, permitted)
    let cases: Vec<(Vec<Record>, bool, bool)> = vec![
        (vec![], false, true),
        (vec![(0, "issue", OURS)], false, true),
        (vec![(0, "issue", "other.example")], false, false),
        (vec![(0, "issue", ";")], false, false),
        (vec![(0, "issue", "")], false, false),
        (vec![(0, "issue", "%%%")], false, false),
        (vec![(0, "issue", "%%%%%")], false, false),
        (vec![(0, "issue", "ca.example.")], false, false),
        (vec![(0, "issue", ";"), (0, "issue", OURS)], false, true),
        (
            vec![(0, "issue", "other.example"), (0, "issue", OURS)],
            false,
            true,
        ),
        (vec![(0, "ISSUE", "CA.Example")], false, true),
        (vec![(0, "IsSuE", " ca.example ; ")], false, true),
        // Only properties of other kinds: nothing restricts.
        (vec![(0, "iodef", "mailto:sec@example.com")], false, true),
        (vec![(0, "issuemail", ";")], false, true),
        (vec![(0, "issuewild", ";")], false, true),
        (vec![(0, "future", "x")], false, true),
        // Wildcards.
        (vec![(0, "issue", OURS)], true, true),
        (vec![(0, "issue", ";")], true, false),
        (vec![(0, "issue", OURS), (0, "issuewild", ";")], true, false),
        (vec![(0, "issue", ";"), (0, "issuewild", OURS)], true, true),
        (vec![(0, "issue", ";"), (0, "ISSUEWILD", OURS)], true, true),
        (vec![(0, "issuewild", ";")], false, true),
        (
            vec![(0, "issue", ";"), (0, "issuewild", OURS)],
            false,
            false,
        ),
        (vec![(0, "iodef", "mailto:a@b")], true, true),
        // Critical flags.
        (vec![(128, "issue", OURS)], false, true),
        (
            vec![(128, "iodef", "mailto:a@b"), (0, "issue", OURS)],
            false,
            true,
        ),
        (
            vec![(128, "contactemail", "a@b"), (0, "issue", OURS)],
            false,
            true,
        ),
        (
            vec![(128, "ContactPhone", "+1"), (0, "issue", OURS)],
            false,
            true,
        ),
        (vec![(128, "tbs", "x"), (0, "issue", OURS)], false, false),
        (vec![(128, "TBS", "x")], false, false),
        (vec![(128, "tbs", "x"), (0, "issuewild", OURS)], true, false),
        (vec![(0, "tbs", "x"), (0, "issue", OURS)], false, true),
        // Reserved bits are not the critical bit.
        (vec![(1, "tbs", "x"), (0, "issue", OURS)], false, true),
        (vec![(0x7f, "tbs", "x")], false, true),
        (vec![(0xff, "tbs", "x")], false, false),
    ];
    for (records, wildcard, expected) in cases {
        let decision = evaluate(&rrset(&records), &tls(wildcard, &ids));
        assert_eq!(
            permitted(&decision),
            expected,
            "{records:?} wildcard={wildcard}: {decision:?}"
        );
    }
}

#[test]
fn several_issuer_names_and_case() {
    let ids = vec!["ca.example".to_owned(), "Other-Brand.Example".to_owned()];
    let cases = [
        ("ca.example", true),
        ("CA.EXAMPLE", true),
        ("other-brand.example", true),
        ("OTHER-BRAND.example; policy=ev", true),
        ("brand.example", false),
        ("ca.example.net", false),
        ("example", false),
    ];
    for (value, expected) in cases {
        let decision = evaluate(&[prop(0, "issue", value)], &tls(false, &ids));
        assert_eq!(permitted(&decision), expected, "{value}: {decision:?}");
    }
    let none: Vec<String> = vec![];
    assert!(!permitted(&evaluate(
        &[prop(0, "issue", "ca.example")],
        &tls(false, &none)
    )));
}

#[test]
fn rfc8657_parameters() {
    let ids = vec![OURS.to_owned()];
    let other = "https://ca.example/acme/acct/2";
    // (value, account in request, method in request, expected)
    type Case = (
        String,
        Option<&'static str>,
        Option<&'static str>,
        Result<(), RejectReason>,
    );
    let cases: Vec<Case> = vec![
        (
            format!("{OURS}; accounturi={ACCOUNT}"),
            Some(ACCOUNT),
            None,
            Ok(()),
        ),
        (
            format!("{OURS}; AccountURI={ACCOUNT}"),
            Some(other),
            None,
            Err(RejectReason::AccountUriMismatch {
                required: ACCOUNT.into(),
            }),
        ),
        (
            format!("{OURS}; accounturi={ACCOUNT}"),
            Some(other),
            None,
            Err(RejectReason::AccountUriMismatch {
                required: ACCOUNT.into(),
            }),
        ),
        (
            format!("{OURS}; accounturi={ACCOUNT}"),
            Some("https://CA.example/acme/acct/1"),
            None,
            Err(RejectReason::AccountUriMismatch {
                required: ACCOUNT.into(),
            }),
        ),
        (
            format!("{OURS}; accounturi={ACCOUNT}"),
            None,
            None,
            Err(RejectReason::AccountUriNotInRequest {
                required: ACCOUNT.into(),
            }),
        ),
        (
            format!("{OURS}; accounturi={ACCOUNT}; accounturi={ACCOUNT}"),
            Some(ACCOUNT),
            None,
            Err(RejectReason::AccountUriRepeated { count: 2 }),
        ),
        (
            format!("{OURS}; accounturi={other}; accounturi={ACCOUNT}"),
            Some(ACCOUNT),
            None,
            Err(RejectReason::AccountUriRepeated { count: 2 }),
        ),
        (
            format!("{OURS}; validationmethods=dns-01"),
            None,
            Some("dns-01"),
            Ok(()),
        ),
        (
            format!("{OURS}; validationmethods=http-01,dns-01"),
            None,
            Some("dns-01"),
            Ok(()),
        ),
        (
            format!("{OURS}; validationmethods=http-01,tls-alpn-01"),
            None,
            Some("dns-01"),
            Err(RejectReason::ValidationMethodNotListed {
                listed: "http-01,tls-alpn-01".into(),
            }),
        ),
        (
            format!("{OURS}; validationmethods=dns-01"),
            None,
            None,
            Err(RejectReason::ValidationMethodNotInRequest {
                listed: "dns-01".into(),
            }),
        ),
        (
            format!("{OURS}; validationmethods=dns-01; validationmethods=dns-01"),
            None,
            Some("dns-01"),
            Err(RejectReason::ValidationMethodsRepeated { count: 2 }),
        ),
        (
            format!("{OURS}; validationmethods=dns-01,,http-01"),
            None,
            Some("dns-01"),
            Err(RejectReason::ValidationMethodsMalformed {
                listed: "dns-01,,http-01".into(),
            }),
        ),
        (
            format!("{OURS}; validationmethods=dns-01,"),
            None,
            Some("dns-01"),
            Err(RejectReason::ValidationMethodsMalformed {
                listed: "dns-01,".into(),
            }),
        ),
        (
            format!("{OURS}; validationmethods="),
            None,
            Some("dns-01"),
            Err(RejectReason::ValidationMethodNotListed { listed: "".into() }),
        ),
        (
            format!("{OURS}; validationmethods=DNS-01"),
            None,
            Some("dns-01"),
            Err(RejectReason::ValidationMethodNotListed {
                listed: "DNS-01".into(),
            }),
        ),
        (
            format!("{OURS}; accounturi={ACCOUNT}; validationmethods=http-01,dns-01"),
            Some(ACCOUNT),
            Some("http-01"),
            Ok(()),
        ),
        (
            format!("{OURS}; accounturi={ACCOUNT}; validationmethods=http-01"),
            Some(ACCOUNT),
            Some("dns-01"),
            Err(RejectReason::ValidationMethodNotListed {
                listed: "http-01".into(),
            }),
        ),
        // Unknown parameters are ignored.
        (format!("{OURS}; policy=ev; x-y=1"), None, None, Ok(())),
        // A parameter's value never reaches into the issuer.
        (
            format!("other.example; accounturi={ACCOUNT}"),
            Some(ACCOUNT),
            None,
            Err(RejectReason::OtherIssuer {
                issuer: "other.example".into(),
            }),
        ),
    ];
    for (value, account_uri, validation_method, expected) in cases {
        let context = EvaluationContext {
            account_uri,
            validation_method,
            ..tls(false, &ids)
        };
        let decision = evaluate(&[prop(0, "issue", &value)], &context);
        let got = match &decision {
            Evaluation::Permitted { .. } => Ok(()),
            Evaluation::Forbidden {
                reason: ForbidReason::NotAuthorised { rejections, .. },
            } => Err(rejections[0].reason.clone()),
            other => panic!("{value}: {other:?}"),
        };
        assert_eq!(got, expected, "{value}");
    }
}

#[test]
fn rfc8657_restrictions_are_per_property() {
    // One property limited to another account, another unrestricted:
    // authorisations add up.
    let ids = vec![OURS.to_owned()];
    let records = rrset(&[
        (
            0,
            "issue",
            "ca.example; accounturi=https://ca.example/acme/acct/9",
        ),
        (0, "issue", "ca.example"),
    ]);
    assert!(permitted(&evaluate(&records, &tls(false, &ids))));
}

#[test]
fn s_mime_uses_issuemail() {
    let ids = vec![OURS.to_owned()];
    let context = EvaluationContext {
        certificate_type: CertificateType::SMime,
        ..tls(false, &ids)
    };
    let cases: Vec<(Vec<Record>, bool)> = vec![
        (vec![(0, "issue", ";")], true),
        (vec![(0, "issuewild", ";")], true),
        (vec![(0, "issuemail", OURS)], true),
        (vec![(0, "IssueMail", OURS)], true),
        (vec![(0, "issuemail", ";")], false),
        (vec![(0, "issuemail", "%%%")], false),
        (vec![(0, "issuemail", "other.example")], false),
        (vec![(0, "issue", OURS), (0, "issuemail", ";")], false),
        (vec![(128, "tbs", "x"), (0, "issuemail", OURS)], false),
        (
            vec![(0, "issuemail", "ca.example; accounturi=https://x/1")],
            false,
        ),
    ];
    for (records, expected) in cases {
        let decision = evaluate(&rrset(&records), &context);
        assert_eq!(permitted(&decision), expected, "{records:?}: {decision:?}");
    }
}

#[test]
fn reasons_are_typed() {
    let ids = vec![OURS.to_owned()];
    let decision = evaluate(
        &rrset(&[
            (0, "issue", "%%%"),
            (0, "issue", ";"),
            (0, "issue", "other.example"),
            (0, "iodef", "mailto:a@b"),
        ]),
        &tls(false, &ids),
    );
    let expected = Evaluation::Forbidden {
        reason: ForbidReason::NotAuthorised {
            tag: PropertyKind::Issue,
            rejections: vec![
                Rejection {
                    record: r#"0 issue "%%%""#.into(),
                    reason: RejectReason::MalformedValue {
                        error: ValueError::UnexpectedByte {
                            position: 0,
                            byte: b'%',
                        },
                    },
                },
                Rejection {
                    record: r#"0 issue ";""#.into(),
                    reason: RejectReason::EmptyIssuer,
                },
                Rejection {
                    record: r#"0 issue "other.example""#.into(),
                    reason: RejectReason::OtherIssuer {
                        issuer: "other.example".into(),
                    },
                },
            ],
        },
    };
    assert_eq!(decision, expected);

    let decision = evaluate(&rrset(&[(0, "issue", OURS)]), &tls(false, &ids));
    assert_eq!(
        decision,
        Evaluation::Permitted {
            reason: PermitReason::Authorised {
                tag: PropertyKind::Issue,
                record: r#"0 issue "ca.example""#.into(),
                issuer: OURS.into(),
            }
        }
    );
    let decision = evaluate(&rrset(&[(128, "tbs", "x")]), &tls(false, &ids));
    assert_eq!(
        decision,
        Evaluation::Forbidden {
            reason: ForbidReason::UnknownCriticalProperty {
                record: r#"128 tbs "x""#.into()
            }
        }
    );
    let decision = evaluate(&rrset(&[(0, "iodef", "x")]), &tls(true, &ids));
    assert_eq!(
        decision,
        Evaluation::Permitted {
            reason: PermitReason::NoRelevantProperty {
                tag: PropertyKind::Issue
            }
        }
    );
}

#[test]
fn a_thousand_properties() {
    let ids = vec![OURS.to_owned()];
    let mut records: Vec<Property> = (0..999)
        .map(|i| prop(0, "issue", &format!("ca{i}.example")))
        .collect();
    let forbidden = evaluate(&records, &tls(false, &ids));
    let Evaluation::Forbidden {
        reason: ForbidReason::NotAuthorised { rejections, .. },
    } = &forbidden
    else {
        panic!("{forbidden:?}")
    };
    assert_eq!(rejections.len(), 999);
    records.push(prop(0, "issue", OURS));
    assert!(permitted(&evaluate(&records, &tls(false, &ids))));
}

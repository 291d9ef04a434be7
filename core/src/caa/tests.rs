#![allow(clippy::unwrap_used, clippy::expect_used)]

use hickory_proto::op::ResponseCode::{NoError, ServFail};
use hickory_proto::rr::RecordType::{CAA, DS, NS};

use super::test_support::{FakeNetwork, answer, authentic, block_on, caa, ds, ns, via};
use super::*;

fn request(domain: &str) -> CaaRequest {
    CaaRequest {
        domain: domain.into(),
        certificate_type: CertificateType::TlsServer,
        issuer_domain_names: vec!["ca.example".into()],
        account_uri: Some("https://ca.example/acct/1".into()),
        validation_method: Some("dns-01".into()),
        allow_lookup_failure: false,
    }
}

#[test]
fn malformed_issue_value_from_the_wire_forbids() {
    // The records pass through hickory's CAA decoder: a garbage value must
    // still reach the grammar as garbage and forbid.
    for value in [
        &b"%%%"[..],
        b"%%%%%",
        b"ca.example.",
        b"ca.example; a=b;",
        b"\xffca.example",
    ] {
        let network = FakeNetwork::new().always(
            "example.com",
            CAA,
            Ok(answer(
                NoError,
                vec![caa("example.com.", 0, "issue", value)],
            )),
        );
        let observation = block_on(check(&network, &request("www.example.com"))).unwrap();
        assert!(
            matches!(
                &observation.outcome,
                CaaOutcome::Forbidden {
                    reason: ForbidReason::NotAuthorised { .. }
                }
            ),
            "{value:?}: {:?}",
            observation.outcome
        );
    }
}

#[test]
fn end_to_end_permitted_and_reported() {
    let network = FakeNetwork::new()
        .always(
            "www.example.com",
            CAA,
            Ok(via(answer(NoError, vec![]), &["cdn.provider.net"])),
        )
        .always(
            "example.com",
            CAA,
            Ok(authentic(answer(
                NoError,
                vec![
                    caa(
                        "example.com.",
                        0,
                        "issue",
                        b"ca.example; accounturi=https://ca.example/acct/1",
                    ),
                    caa("example.com.", 0, "iodef", b"mailto:sec@example.com"),
                ],
            ))),
        );
    let observation = block_on(check(&network, &request("WWW.example.com."))).unwrap();
    assert!(observation.outcome.permits_issuance());
    assert_eq!(observation.domain, "www.example.com");
    let rrset = observation.relevant_rrset.as_ref().unwrap();
    assert_eq!(rrset.owner, "example.com");
    assert!(rrset.authentic_data);
    assert_eq!(
        rrset.records,
        [
            r#"0 issue "ca.example; accounturi=https://ca.example/acct/1""#,
            r#"0 iodef "mailto:sec@example.com""#
        ]
    );
    assert_eq!(observation.steps.len(), 2);

    // The observation serialises and reads back.
    let json = serde_json::to_string(&observation).unwrap();
    assert!(json.contains(r#""result":"permitted""#), "{json}");
    let back: CaaObservation = serde_json::from_str(&json).unwrap();
    assert_eq!(back, observation);
}

#[test]
fn no_records_anywhere_permits() {
    let network = FakeNetwork::new();
    let observation = block_on(check(&network, &request("*.example.com"))).unwrap();
    assert_eq!(
        observation.outcome,
        CaaOutcome::Permitted {
            reason: PermitReason::NoCaaRecords
        }
    );
    assert!(observation.wildcard);
    assert_eq!(observation.domain, "*.example.com");
    assert_eq!(observation.lookup_name, "example.com");
    assert_eq!(observation.relevant_rrset, None);
}

#[test]
fn wildcard_uses_issuewild() {
    let network = FakeNetwork::new().always(
        "example.com",
        CAA,
        Ok(answer(
            NoError,
            vec![
                caa("example.com.", 0, "issue", b"ca.example"),
                caa("example.com.", 0, "issuewild", b";"),
            ],
        )),
    );
    let plain = block_on(check(&network, &request("www.example.com"))).unwrap();
    assert!(plain.outcome.permits_issuance());
    let wild = block_on(check(&network, &request("*.example.com"))).unwrap();
    assert!(!wild.outcome.permits_issuance());
}

fn failing_insecure_network() -> FakeNetwork {
    FakeNetwork::new()
        .always("www.example.com", CAA, Ok(answer(ServFail, vec![])))
        .always("com", DS, Ok(authentic(answer(NoError, vec![ds("com.")]))))
        .always("example.com", DS, Ok(authentic(answer(NoError, vec![]))))
        .always(
            "example.com",
            NS,
            Ok(answer(NoError, vec![ns("example.com.", "ns.host.test.")])),
        )
}

#[test]
fn lookup_failure_permitted_only_with_everything() {
    let network = failing_insecure_network();
    let mut allowed = request("www.example.com");
    allowed.allow_lookup_failure = true;
    let observation = block_on(check(&network, &allowed)).unwrap();
    let CaaOutcome::LookupFailurePermitted { failure, proof } = &observation.outcome else {
        panic!("{:?}", observation.outcome)
    };
    assert_eq!(failure.failures, vec![lookup::QueryFailure::ServFail; 2]);
    assert_eq!(proof.names[0].insecure_delegation, "example.com");
    assert!(observation.outcome.permits_issuance());

    let network = failing_insecure_network();
    let observation = block_on(check(&network, &request("www.example.com"))).unwrap();
    assert_eq!(
        observation.outcome,
        CaaOutcome::LookupFailed {
            failure: LookupFailure {
                name: "www.example.com".into(),
                failures: vec![lookup::QueryFailure::ServFail; 2],
                cname_chain: vec![],
            },
            not_permission: NotPermission::NotAllowedByRequest,
        }
    );
    assert!(!observation.outcome.permits_issuance());
}

#[test]
fn invalid_requests_are_typed_errors() {
    let network = FakeNetwork::new();
    let mut cases: Vec<(CaaRequest, RequestError)> = Vec::new();

    let mut r = request("a..example");
    r.domain = "a..example".into();
    cases.push((
        r,
        RequestError::Domain {
            error: NameError::EmptyLabel,
        },
    ));
    let mut r = request("*.example.com");
    r.certificate_type = CertificateType::SMime;
    cases.push((r, RequestError::WildcardForSMime));
    let mut r = request("example.com");
    r.issuer_domain_names = vec![];
    cases.push((r, RequestError::NoIssuerDomainNames));
    let mut r = request("example.com");
    r.issuer_domain_names = vec!["ca.example".into(), "ca.example.".into()];
    cases.push((
        r,
        RequestError::InvalidIssuerDomainName {
            name: "ca.example.".into(),
        },
    ));
    let mut r = request("example.com");
    r.validation_method = Some("dns 01".into());
    cases.push((
        r,
        RequestError::InvalidValidationMethod {
            method: "dns 01".into(),
        },
    ));
    let mut r = request("example.com");
    r.account_uri = Some(String::new());
    cases.push((r, RequestError::EmptyAccountUri));

    for (request, error) in cases {
        assert_eq!(block_on(check(&network, &request)), Err(error));
    }
    assert!(network.queries().is_empty());
}

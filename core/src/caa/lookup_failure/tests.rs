#![allow(clippy::unwrap_used, clippy::expect_used)]

use hickory_proto::op::ResponseCode::{NXDomain, NoError, Refused, ServFail};
use hickory_proto::rr::RecordType::{DS, NS};

use hickory_proto::rr::RecordType::{CNAME, DNAME};

use super::super::test_support::{
    FakeNetwork, answer, authentic, block_on, cname, dname, ds, failing_self_test, ns, via,
};
use super::*;

fn failure(name: &str, failures: Vec<QueryFailure>) -> LookupFailure {
    LookupFailure {
        name: name.into(),
        failures,
        cname_chain: vec![],
    }
}

fn servfail_twice(name: &str) -> LookupFailure {
    failure(name, vec![QueryFailure::ServFail, QueryFailure::ServFail])
}

/// `com` is signed (DS in the root), `example.com` is delegated without
/// DS, and `www.example.com` is a name inside the unsigned zone.
fn insecure_example_com() -> FakeNetwork {
    FakeNetwork::new()
        .always("com", DS, Ok(authentic(answer(NoError, vec![ds("com.")]))))
        .always("example.com", DS, Ok(authentic(answer(NoError, vec![]))))
        .always(
            "example.com",
            NS,
            Ok(answer(
                NoError,
                vec![
                    ns("example.com.", "ns1.host.test."),
                    ns("example.com.", "ns2.host.test."),
                ],
            )),
        )
}

/// `network` where `name` lies inside the signed `provider.net` (an
/// authenticated "no DS" and "no NS" at `name`: not a zone cut).
fn in_signed_provider_net(network: FakeNetwork, name: &str) -> FakeNetwork {
    network
        .always("net", DS, Ok(authentic(answer(NoError, vec![ds("net.")]))))
        .always(
            "provider.net",
            DS,
            Ok(authentic(answer(NoError, vec![ds("provider.net.")]))),
        )
        .always(name, DS, Ok(authentic(answer(NoError, vec![]))))
        .always(name, NS, Ok(authentic(answer(NoError, vec![]))))
}

fn verdicts(walk: &[ZoneCutCheck]) -> Vec<(String, ZoneCutVerdict)> {
    walk.iter()
        .map(|c| (c.name.clone(), c.verdict.clone()))
        .collect()
}

#[test]
fn proven_insecure_when_every_condition_holds() {
    for failures in [
        vec![QueryFailure::ServFail, QueryFailure::ServFail],
        vec![
            QueryFailure::ServFail,
            QueryFailure::ServFail,
            QueryFailure::ServFail,
        ],
    ] {
        let network = insecure_example_com();
        let proof = block_on(assess(
            &network,
            &failure("www.example.com", failures),
            true,
        ))
        .unwrap();
        assert_eq!(proof.names.len(), 1);
        assert_eq!(proof.names[0].name, "www.example.com");
        assert_eq!(proof.names[0].insecure_delegation, "example.com");
        assert_eq!(
            verdicts(&proof.names[0].walk),
            [
                ("com".into(), ZoneCutVerdict::SignedDelegation),
                ("example.com".into(), ZoneCutVerdict::InsecureDelegation),
            ]
        );
    }
}

#[test]
fn an_unsigned_tld_is_an_insecure_delegation() {
    let network = FakeNetwork::new()
        .always("tld", DS, Ok(authentic(answer(NoError, vec![]))))
        .always(
            "tld",
            NS,
            Ok(answer(NoError, vec![ns("tld.", "ns.nic.tld.")])),
        );
    let proof = block_on(assess(&network, &servfail_twice("a.b.tld"), true)).unwrap();
    assert_eq!(proof.names[0].insecure_delegation, "tld");
}

#[test]
fn names_inside_a_signed_zone_are_walked_past() {
    // sub.example.com is not a cut (authenticated no DS, no NS) inside the
    // signed example.com; deep.sub.example.com is an insecure cut.
    let network = FakeNetwork::new()
        .always("com", DS, Ok(authentic(answer(NoError, vec![ds("com.")]))))
        .always(
            "example.com",
            DS,
            Ok(authentic(answer(NoError, vec![ds("example.com.")]))),
        )
        .always(
            "sub.example.com",
            DS,
            Ok(authentic(answer(NoError, vec![]))),
        )
        .always(
            "sub.example.com",
            NS,
            Ok(authentic(answer(NoError, vec![]))),
        )
        .always(
            "deep.sub.example.com",
            DS,
            Ok(authentic(answer(NoError, vec![]))),
        )
        .always(
            "deep.sub.example.com",
            NS,
            Ok(answer(
                NoError,
                vec![ns("deep.sub.example.com.", "ns.host.test.")],
            )),
        );
    let proof = block_on(assess(
        &network,
        &servfail_twice("deep.sub.example.com"),
        true,
    ))
    .unwrap();
    assert_eq!(
        verdicts(&proof.names[0].walk),
        [
            ("com".into(), ZoneCutVerdict::SignedDelegation),
            ("example.com".into(), ZoneCutVerdict::SignedDelegation),
            ("sub.example.com".into(), ZoneCutVerdict::NotAZoneCut),
            (
                "deep.sub.example.com".into(),
                ZoneCutVerdict::InsecureDelegation
            ),
        ]
    );
}

#[test]
fn request_infrastructure_and_retry_conditions() {
    let network = insecure_example_com();
    let transport = QueryFailure::NoResponse {
        error: DnsError::Transport("reset".into()),
    };
    let cases = [
        (
            servfail_twice("www.example.com"),
            false,
            NotPermission::NotAllowedByRequest,
        ),
        (
            failure(
                "www.example.com",
                vec![transport.clone(), transport.clone()],
            ),
            true,
            NotPermission::InsideCaInfrastructure {
                failure: transport.clone(),
            },
        ),
        (
            failure(
                "www.example.com",
                vec![QueryFailure::ServFail, transport.clone()],
            ),
            true,
            NotPermission::InsideCaInfrastructure {
                failure: transport.clone(),
            },
        ),
        (
            failure(
                "www.example.com",
                vec![
                    QueryFailure::NoResponse {
                        error: DnsError::Timeout,
                    },
                    QueryFailure::ServFail,
                ],
            ),
            true,
            NotPermission::InsideCaInfrastructure {
                failure: QueryFailure::NoResponse {
                    error: DnsError::Timeout,
                },
            },
        ),
        (
            failure(
                "www.example.com",
                vec![
                    QueryFailure::ServFail,
                    QueryFailure::NoResponse {
                        error: DnsError::HttpStatus(502),
                    },
                ],
            ),
            true,
            NotPermission::InsideCaInfrastructure {
                failure: QueryFailure::NoResponse {
                    error: DnsError::HttpStatus(502),
                },
            },
        ),
        (
            failure(
                "www.example.com",
                vec![
                    QueryFailure::OtherRcode {
                        rcode: "NOTIMP".into(),
                    },
                    QueryFailure::ServFail,
                ],
            ),
            true,
            NotPermission::InsideCaInfrastructure {
                failure: QueryFailure::OtherRcode {
                    rcode: "NOTIMP".into(),
                },
            },
        ),
        (
            failure("www.example.com", vec![QueryFailure::ServFail]),
            true,
            NotPermission::NotRetried { attempts: 1 },
        ),
        (
            failure("www.example.com", vec![]),
            true,
            NotPermission::NotRetried { attempts: 0 },
        ),
    ];
    for (failure, allowed, expected) in cases {
        let result = block_on(assess(&network, &failure, allowed));
        assert_eq!(result, Err(expected));
    }
    // None of those conditions needed a DNSSEC query.
    assert!(network.queries().is_empty());
}

#[test]
fn unproven_insecurity_is_not_permission() {
    let signed_com = || Ok(authentic(answer(NoError, vec![ds("com.")])));
    let ns_set = || Ok(answer(NoError, vec![ns("example.com.", "ns1.host.test.")]));
    // (name, network, expected stopping verdict at example.com or com)
    let cases: Vec<(&str, FakeNetwork, (String, ZoneCutVerdict))> = vec![
        (
            "signed zone: DS present everywhere, then a bogus-looking SERVFAIL",
            FakeNetwork::new()
                .always("com", DS, signed_com())
                .always(
                    "example.com",
                    DS,
                    Ok(authentic(answer(NoError, vec![ds("example.com.")]))),
                )
                .always(
                    "www.example.com",
                    DS,
                    Ok(authentic(answer(NoError, vec![]))),
                )
                .always(
                    "www.example.com",
                    NS,
                    Ok(authentic(answer(NoError, vec![]))),
                ),
            ("www.example.com".into(), ZoneCutVerdict::NotAZoneCut),
        ),
        (
            "DS denial without AD",
            FakeNetwork::new()
                .always("com", DS, signed_com())
                .always("example.com", DS, Ok(answer(NoError, vec![])))
                .always("example.com", NS, ns_set()),
            (
                "example.com".into(),
                ZoneCutVerdict::Inconclusive {
                    reason: Inconclusive::DsNotAuthenticated,
                },
            ),
        ),
        (
            "TLD DS answer without AD",
            FakeNetwork::new()
                .always("com", DS, Ok(answer(NoError, vec![ds("com.")])))
                .always("example.com", DS, Ok(authentic(answer(NoError, vec![]))))
                .always("example.com", NS, ns_set()),
            (
                "com".into(),
                ZoneCutVerdict::Inconclusive {
                    reason: Inconclusive::DsNotAuthenticated,
                },
            ),
        ),
        (
            "DS query SERVFAIL (validation failure or unreachable)",
            FakeNetwork::new().always("com", DS, signed_com()).always(
                "example.com",
                DS,
                Ok(answer(ServFail, vec![])),
            ),
            (
                "example.com".into(),
                ZoneCutVerdict::Inconclusive {
                    reason: Inconclusive::DsRcode {
                        rcode: "SERVFAIL".into(),
                    },
                },
            ),
        ),
        (
            "DS NXDOMAIN, even authenticated",
            FakeNetwork::new().always("com", DS, signed_com()).always(
                "example.com",
                DS,
                Ok(authentic(answer(NXDomain, vec![]))),
            ),
            (
                "example.com".into(),
                ZoneCutVerdict::Inconclusive {
                    reason: Inconclusive::DsRcode {
                        rcode: "NXDOMAIN".into(),
                    },
                },
            ),
        ),
        (
            "DS through an alias",
            FakeNetwork::new().always("com", DS, signed_com()).always(
                "example.com",
                DS,
                Ok(via(authentic(answer(NoError, vec![])), &["other.test"])),
            ),
            (
                "example.com".into(),
                ZoneCutVerdict::Inconclusive {
                    reason: Inconclusive::DsThroughAlias,
                },
            ),
        ),
        (
            "DS query without a response",
            FakeNetwork::new().always("com", DS, signed_com()).always(
                "example.com",
                DS,
                Err(DnsError::Timeout),
            ),
            (
                "example.com".into(),
                ZoneCutVerdict::Inconclusive {
                    reason: Inconclusive::DsNoResponse {
                        error: DnsError::Timeout,
                    },
                },
            ),
        ),
        (
            "NS query fails (the domain's servers are down)",
            FakeNetwork::new()
                .always("com", DS, signed_com())
                .always("example.com", DS, Ok(authentic(answer(NoError, vec![]))))
                .always("example.com", NS, Ok(answer(ServFail, vec![]))),
            (
                "example.com".into(),
                ZoneCutVerdict::Inconclusive {
                    reason: Inconclusive::NsRcode {
                        rcode: "SERVFAIL".into(),
                    },
                },
            ),
        ),
        (
            "NS REFUSED",
            FakeNetwork::new()
                .always("com", DS, signed_com())
                .always("example.com", DS, Ok(authentic(answer(NoError, vec![]))))
                .always("example.com", NS, Ok(answer(Refused, vec![]))),
            (
                "example.com".into(),
                ZoneCutVerdict::Inconclusive {
                    reason: Inconclusive::NsRcode {
                        rcode: "REFUSED".into(),
                    },
                },
            ),
        ),
        (
            "NS set authenticated",
            FakeNetwork::new()
                .always("com", DS, signed_com())
                .always("example.com", DS, Ok(authentic(answer(NoError, vec![]))))
                .always(
                    "example.com",
                    NS,
                    Ok(authentic(answer(
                        NoError,
                        vec![ns("example.com.", "ns1.host.test.")],
                    ))),
                ),
            (
                "example.com".into(),
                ZoneCutVerdict::Inconclusive {
                    reason: Inconclusive::NsAuthenticated,
                },
            ),
        ),
        (
            "NS empty without AD",
            FakeNetwork::new()
                .always("com", DS, signed_com())
                .always("example.com", DS, Ok(authentic(answer(NoError, vec![]))))
                .always("example.com", NS, Ok(answer(NoError, vec![]))),
            (
                "example.com".into(),
                ZoneCutVerdict::Inconclusive {
                    reason: Inconclusive::NsEmptyNotAuthenticated,
                },
            ),
        ),
        (
            "NS records owned by another name",
            FakeNetwork::new()
                .always("com", DS, signed_com())
                .always("example.com", DS, Ok(authentic(answer(NoError, vec![]))))
                .always(
                    "example.com",
                    NS,
                    Ok(answer(NoError, vec![ns("other.com.", "ns1.host.test.")])),
                ),
            (
                "example.com".into(),
                ZoneCutVerdict::Inconclusive {
                    reason: Inconclusive::NsRecordsElsewhere,
                },
            ),
        ),
        (
            "NS through an alias",
            FakeNetwork::new()
                .always("com", DS, signed_com())
                .always("example.com", DS, Ok(authentic(answer(NoError, vec![]))))
                .always("example.com", NS, Ok(via(ns_set().unwrap(), &["x.test"]))),
            (
                "example.com".into(),
                ZoneCutVerdict::Inconclusive {
                    reason: Inconclusive::NsThroughAlias,
                },
            ),
        ),
    ];
    for (label, network, last) in cases {
        let result = block_on(assess(&network, &servfail_twice("www.example.com"), true));
        let Err(NotPermission::NotProvenInsecure { name, walk }) = result else {
            panic!("{label}: {result:?}")
        };
        assert_eq!(name, "www.example.com", "{label}");
        assert_eq!(verdicts(&walk).last(), Some(&last), "{label}");
    }
}

#[test]
fn alias_targets_must_be_insecure_too() {
    let mut failing = servfail_twice("www.example.com");
    failing.cname_chain = vec!["cdn.provider.net".into()];
    // example.com is insecure, provider.net is signed and its name has no
    // DS: the failure may be a validation failure at the target.
    let network = in_signed_provider_net(insecure_example_com(), "cdn.provider.net");
    let result = block_on(assess(&network, &failing, true));
    assert!(
        matches!(&result, Err(NotPermission::NotProvenInsecure { name, .. }) if name == "cdn.provider.net"),
        "{result:?}"
    );

    // With provider.net insecure too, both names are proven.
    let network = insecure_example_com()
        .always("net", DS, Ok(authentic(answer(NoError, vec![ds("net.")]))))
        .always("provider.net", DS, Ok(authentic(answer(NoError, vec![]))))
        .always(
            "provider.net",
            NS,
            Ok(answer(NoError, vec![ns("provider.net.", "ns.host.test.")])),
        );
    let proof = block_on(assess(&network, &failing, true)).unwrap();
    let proven: Vec<_> = proof
        .names
        .iter()
        .map(|n| (n.name.as_str(), n.insecure_delegation.as_str()))
        .collect();
    assert_eq!(
        proven,
        [
            ("www.example.com", "example.com"),
            ("cdn.provider.net", "provider.net")
        ]
    );

    failing.cname_chain = (0..9).map(|i| format!("a{i}.test")).collect();
    assert_eq!(
        block_on(assess(&network, &failing, true)),
        Err(NotPermission::TooManyAliases { count: 9 })
    );
}

/// Issue 15 item 7: REFUSED comes from our own resolver refusing us; it
/// was counted as the domain's failure.
#[test]
fn refused_from_our_resolver_is_never_permission() {
    for failures in [
        vec![QueryFailure::Refused, QueryFailure::ServFail],
        vec![QueryFailure::Refused, QueryFailure::Refused],
    ] {
        let result = block_on(assess(
            &insecure_example_com(),
            &failure("www.example.com", failures),
            true,
        ));
        assert_eq!(
            result,
            Err(NotPermission::InsideCaInfrastructure {
                failure: QueryFailure::Refused
            })
        );
    }
}

/// Issue 15 item 8: a resolver that does not validate sets AD=0 on
/// everything, so its "insecure" proves nothing.
#[test]
fn a_resolver_failing_the_dnssec_self_test_gives_no_permission() {
    let network = insecure_example_com().self_test(failing_self_test());
    let result = block_on(assess(&network, &servfail_twice("www.example.com"), true));
    match result {
        Err(NotPermission::ResolverNotValidating { self_test }) => {
            assert!(!self_test.passed());
            assert!(
                self_test.summary().contains("does not validate"),
                "{self_test:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // No insecurity walk was even started.
    assert!(
        !network.queries().iter().any(|(_, t)| *t == DS),
        "{:?}",
        network.queries()
    );
    // The same failure with a validating resolver is permission.
    let passing = insecure_example_com();
    assert!(block_on(assess(&passing, &servfail_twice("www.example.com"), true)).is_ok());
    assert_eq!(passing.self_tests(), 1);
}

/// Issue 15 item 2: a validating resolver's SERVFAIL has an empty answer
/// section, so the failing name's alias is learnt by asking for it. Here
/// the unsigned `www.example.com` is a CNAME into the signed
/// `provider.net`, whose zone the attacker makes fail.
#[test]
fn a_failing_name_that_is_an_alias_into_a_signed_zone_is_not_permission() {
    // The failure carries no chain, as the DNS layer really delivers it.
    let failing = servfail_twice("www.example.com");
    assert!(failing.cname_chain.is_empty());
    let network = in_signed_provider_net(insecure_example_com(), "cdn.provider.net").always(
        "www.example.com",
        CNAME,
        Ok(answer(
            NoError,
            vec![cname("www.example.com.", "cdn.provider.net.")],
        )),
    );
    let result = block_on(assess(&network, &failing, true));
    assert!(
        matches!(&result, Err(NotPermission::NotProvenInsecure { name, .. }) if name == "cdn.provider.net"),
        "{result:?}"
    );

    // The same through a DNAME above the name (no CNAME synthesised).
    let network = in_signed_provider_net(insecure_example_com(), "www.provider.net").always(
        "example.com",
        DNAME,
        Ok(answer(
            NoError,
            vec![dname("example.com.", "provider.net.")],
        )),
    );
    let result = block_on(assess(&network, &failing, true));
    assert!(
        matches!(&result, Err(NotPermission::NotProvenInsecure { name, .. }) if name == "www.provider.net"),
        "{result:?}"
    );

    // An alias question that fails leaves the alias unknown.
    let network =
        insecure_example_com().always("www.example.com", CNAME, Ok(answer(ServFail, vec![])));
    let result = block_on(assess(&network, &failing, true));
    assert!(
        matches!(&result, Err(NotPermission::AliasUnknown { name, .. }) if name == "www.example.com"),
        "{result:?}"
    );

    // No alias anywhere: the proof lists the questions that showed it.
    let proof = block_on(assess(&insecure_example_com(), &failing, true)).unwrap();
    let asked: Vec<(&str, &str)> = proof
        .alias_questions
        .iter()
        .map(|q| (q.name.as_str(), q.rtype.as_str()))
        .collect();
    assert_eq!(
        asked,
        [
            ("www.example.com", "CNAME"),
            ("com", "DNAME"),
            ("example.com", "DNAME")
        ]
    );
}

/// A retry answered with checking disabled shows the failure was a
/// validation failure (or passed): never permission.
#[test]
fn a_retry_answered_without_validation_is_not_permission() {
    let answered = QueryFailure::AnsweredWithoutValidation {
        rcode: "NOERROR".into(),
    };
    let result = block_on(assess(
        &insecure_example_com(),
        &failure(
            "www.example.com",
            vec![QueryFailure::ServFail, answered.clone()],
        ),
        true,
    ));
    assert_eq!(
        result,
        Err(NotPermission::RetryAnsweredWithoutValidation { failure: answered })
    );
}

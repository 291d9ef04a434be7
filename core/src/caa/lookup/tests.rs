#![allow(clippy::unwrap_used, clippy::expect_used)]

use hickory_proto::op::ResponseCode::{NXDomain, NoError, Refused, ServFail};
use hickory_proto::rr::RecordType::CAA;

use super::super::test_support::{
    self, FakeNetwork, answer, authentic, block_on, caa, unknown, via,
};
use super::*;

fn run(network: &FakeNetwork, name: &str) -> Lookup {
    block_on(lookup(network, &CaaTarget::parse(name).unwrap()))
}

fn asked(network: &FakeNetwork) -> Vec<String> {
    network
        .queries()
        .iter()
        .map(|(name, rtype)| format!("{name} {rtype}"))
        .collect()
}

/// The names whose answers the climb read, in order.
fn read(lookup: &Lookup) -> Vec<&str> {
    lookup.steps.iter().map(|s| s.name.as_str()).collect()
}

/// The names asked at once but not needed.
fn unused(lookup: &Lookup) -> Vec<&str> {
    lookup.unused.iter().map(|q| q.name.as_str()).collect()
}

fn found_owner(lookup: &Lookup) -> Option<&str> {
    match &lookup.outcome {
        LookupOutcome::Found(rrset) => Some(rrset.owner.as_str()),
        _ => None,
    }
}

#[test]
fn climbs_over_nodata_and_nxdomain() {
    let network = FakeNetwork::new()
        .always("a.b.example.com", CAA, Ok(answer(NXDomain, vec![])))
        .always("b.example.com", CAA, Ok(answer(NoError, vec![])))
        .always(
            "example.com",
            CAA,
            Ok(authentic(answer(
                NoError,
                vec![caa("example.com.", 0, "issue", b"ca.example")],
            ))),
        );
    let lookup = run(&network, "a.b.example.com");
    assert_eq!(found_owner(&lookup), Some("example.com"));
    assert_eq!(
        read(&lookup),
        ["a.b.example.com", "b.example.com", "example.com"]
    );
    assert_eq!(unused(&lookup), ["com"]);
    let results: Vec<_> = lookup.steps.iter().map(|s| s.result.clone()).collect();
    assert_eq!(
        results,
        [
            StepResult::NxDomain,
            StepResult::NoData,
            StepResult::Found { records: 1 }
        ]
    );
    let LookupOutcome::Found(rrset) = &lookup.outcome else {
        panic!("not found")
    };
    assert!(rrset.authentic_data);
    assert_eq!(rrset.rcode, "NOERROR");
    assert_eq!(rrset.properties[0].value, b"ca.example");
}

#[test]
fn empty_everywhere_is_not_found_and_stops_before_the_root() {
    let network = FakeNetwork::new();
    let lookup = run(&network, "www.example.com");
    assert_eq!(lookup.outcome, LookupOutcome::NotFound);
    assert_eq!(
        asked(&network),
        ["www.example.com CAA", "example.com CAA", "com CAA"]
    );
}

#[test]
fn wildcard_is_looked_up_without_its_label() {
    let network = FakeNetwork::new();
    run(&network, "*.example.com");
    assert_eq!(asked(&network), ["example.com CAA", "com CAA"]);
}

#[test]
fn after_a_cname_the_climb_continues_from_the_original_parent() {
    // www.example.com is an alias for cdn.provider.net, which has no CAA:
    // the next name asked is example.com, not provider.net.
    let network = FakeNetwork::new()
        .always(
            "www.example.com",
            CAA,
            Ok(via(answer(NoError, vec![]), &["cdn.provider.net"])),
        )
        .always(
            "example.com",
            CAA,
            Ok(answer(
                NoError,
                vec![caa("example.com.", 0, "issue", b"ca.example")],
            )),
        )
        .always(
            "provider.net",
            CAA,
            Ok(answer(
                NoError,
                vec![caa("provider.net.", 0, "issue", b";")],
            )),
        );
    let lookup = run(&network, "www.example.com");
    assert_eq!(found_owner(&lookup), Some("example.com"));
    assert_eq!(read(&lookup), ["www.example.com", "example.com"]);
    assert_eq!(unused(&lookup), ["com"]);
    assert!(!asked(&network).iter().any(|q| q.contains("provider.net")));
    let AttemptResult::Answer { cname_chain, .. } = &lookup.steps[0].attempts[0].result else {
        panic!("no answer recorded")
    };
    assert_eq!(cname_chain, &["cdn.provider.net"]);
}

#[test]
fn records_found_through_a_cname_belong_to_the_queried_name() {
    let network = FakeNetwork::new().always(
        "www.example.com",
        CAA,
        Ok(via(
            answer(
                NoError,
                vec![caa("cdn.provider.net.", 0, "issue", b"ca.example")],
            ),
            &["cdn.provider.net"],
        )),
    );
    let lookup = run(&network, "www.example.com");
    let LookupOutcome::Found(rrset) = &lookup.outcome else {
        panic!("not found")
    };
    assert_eq!(rrset.owner, "www.example.com");
    assert_eq!(rrset.cname_chain, ["cdn.provider.net"]);
}

#[test]
fn failures_stop_the_climb_after_one_retry() {
    let cases = [
        (Ok(answer(ServFail, vec![])), QueryFailure::ServFail),
        (Ok(answer(Refused, vec![])), QueryFailure::Refused),
        (
            Ok(answer(ResponseCode::FormErr, vec![])),
            QueryFailure::OtherRcode {
                rcode: "FORMERR".into(),
            },
        ),
        (
            Ok(answer(ResponseCode::NotImp, vec![])),
            QueryFailure::OtherRcode {
                rcode: "NOTIMP".into(),
            },
        ),
        (
            Err(DnsError::Transport("connection reset".into())),
            QueryFailure::NoResponse {
                error: DnsError::Transport("connection reset".into()),
            },
        ),
        (
            Err(DnsError::Timeout),
            QueryFailure::NoResponse {
                error: DnsError::Timeout,
            },
        ),
        (
            Ok(answer(
                NXDomain,
                vec![caa("www.example.com.", 0, "issue", b";")],
            )),
            QueryFailure::RecordsWithNxDomain,
        ),
        (
            Ok(answer(
                NoError,
                vec![unknown("www.example.com.", CAA, vec![0, 9, b'i'])],
            )),
            QueryFailure::UndecodableRecord {
                error: PropertyDecodeError::TagOverrun {
                    tag_length: 9,
                    available: 1,
                },
            },
        ),
    ];
    for (response, failure) in cases {
        let network = FakeNetwork::new().always("www.example.com", CAA, response);
        let lookup = run(&network, "www.example.com");
        assert_eq!(
            lookup.outcome,
            LookupOutcome::Failed(LookupFailure {
                name: "www.example.com".into(),
                failures: vec![failure.clone(), failure.clone()],
                cname_chain: vec![],
            }),
            "{failure:?}"
        );
        // The parent's answer (asked at once) is never read: a failure
        // is not "no records".
        assert_eq!(read(&lookup), ["www.example.com"]);
        assert_eq!(unused(&lookup), ["example.com", "com"]);
        let www = asked(&network)
            .iter()
            .filter(|q| *q == "www.example.com CAA")
            .count();
        assert_eq!(www, 2);
        assert_eq!(lookup.steps.len(), 1);
        assert_eq!(lookup.steps[0].attempts.len(), 2);
    }
}

#[test]
fn a_failure_at_a_parent_stops_the_climb_too() {
    let network = FakeNetwork::new()
        .always("example.com", CAA, Ok(answer(ServFail, vec![])))
        .always(
            "com",
            CAA,
            Ok(answer(
                NoError,
                vec![caa("com.", 0, "issue", b"ca.example")],
            )),
        );
    let lookup = run(&network, "www.example.com");
    let LookupOutcome::Failed(failure) = &lookup.outcome else {
        panic!("expected a failure")
    };
    assert_eq!(failure.name, "example.com");
    // `com`'s records were asked for at once, and are never read.
    assert_eq!(read(&lookup), ["www.example.com", "example.com"]);
    assert_eq!(unused(&lookup), ["com"]);
}

#[test]
fn a_successful_retry_is_used_and_both_attempts_are_recorded() {
    let network = FakeNetwork::new().on(
        "www.example.com",
        CAA,
        vec![
            Ok(answer(ServFail, vec![])),
            Ok(answer(
                NoError,
                vec![caa("www.example.com.", 0, "issue", b"ca.example")],
            )),
        ],
    );
    let lookup = run(&network, "www.example.com");
    assert_eq!(found_owner(&lookup), Some("www.example.com"));
    let rcodes: Vec<_> = lookup.steps[0]
        .attempts
        .iter()
        .map(|a| match &a.result {
            AttemptResult::Answer { rcode, .. } => rcode.clone(),
            AttemptResult::NoResponse { .. } => "none".into(),
        })
        .collect();
    assert_eq!(rcodes, ["SERVFAIL", "NOERROR"]);
}

#[test]
fn a_failing_answer_keeps_its_alias_targets() {
    let network = FakeNetwork::new().always(
        "www.example.com",
        CAA,
        Ok(via(answer(ServFail, vec![]), &["cdn.provider.net"])),
    );
    let LookupOutcome::Failed(failure) = run(&network, "www.example.com").outcome else {
        panic!("expected a failure")
    };
    assert_eq!(failure.cname_chain, ["cdn.provider.net"]);
}

#[test]
fn non_caa_records_do_not_make_an_rrset() {
    let network = FakeNetwork::new().always(
        "www.example.com",
        CAA,
        Ok(answer(
            NoError,
            vec![unknown("www.example.com.", RecordType::RRSIG, vec![1, 2])],
        )),
    );
    let lookup = run(&network, "www.example.com");
    assert_eq!(lookup.outcome, LookupOutcome::NotFound);
}

#[test]
fn a_thousand_record_rrset_is_kept_whole() {
    let records = (0..1000)
        .map(|i| {
            caa(
                "example.com.",
                0,
                "issue",
                format!("ca{i}.example").as_bytes(),
            )
        })
        .collect();
    let network = FakeNetwork::new().always("example.com", CAA, Ok(answer(NoError, records)));
    let lookup = run(&network, "example.com");
    let LookupOutcome::Found(rrset) = &lookup.outcome else {
        panic!("not found")
    };
    assert_eq!(rrset.properties.len(), 1000);
    assert_eq!(rrset.properties[999].value, b"ca999.example");
}

#[test]
fn the_climb_is_bounded_by_the_labels() {
    let name = vec!["a"; 126].join(".");
    let network = FakeNetwork::new();
    let lookup = run(&network, &name);
    assert_eq!(lookup.steps.len(), 126);
    assert_eq!(network.queries().len(), 126);
}

#[test]
fn rcode_names() {
    assert_eq!(rcode_name(NoError), "NOERROR");
    assert_eq!(rcode_name(ResponseCode::Unknown(4000)), "RCODE4000");
}

fn failed(lookup: &Lookup) -> &LookupFailure {
    match &lookup.outcome {
        LookupOutcome::Failed(failure) => failure,
        other => panic!("not a failure: {other:?}"),
    }
}

fn attempt_resolvers(lookup: &Lookup) -> Vec<(String, bool)> {
    lookup.steps[0]
        .attempts
        .iter()
        .filter_map(QueryAttempt::answered_by)
        .map(|(resolver, cd)| (resolver.to_owned(), cd))
        .collect()
}

/// Issue 15 item 7: the retry goes to another resolver when the
/// perspective has one, and the report says which answered each attempt.
#[test]
fn the_retry_goes_to_another_resolver_and_the_attempts_name_them() {
    let network = FakeNetwork::new().always("www.example.com", CAA, Ok(answer(ServFail, vec![])));
    let lookup = run(&network, "www.example.com");
    assert_eq!(
        failed(&lookup).failures,
        [QueryFailure::ServFail, QueryFailure::ServFail]
    );
    assert_eq!(
        network.retries().as_slice(),
        [(
            "www.example.com".to_owned(),
            CAA,
            test_support::RESOLVER.to_owned()
        )]
    );
    assert_eq!(
        attempt_resolvers(&lookup),
        [
            (test_support::RESOLVER.to_owned(), false),
            (test_support::SECOND_RESOLVER.to_owned(), false)
        ]
    );
}

/// With one resolver the retry sets CD, and an answer to it is never
/// used: the failure was a validation failure, or did not last.
#[test]
fn a_single_resolvers_retry_has_cd_set_and_its_answer_is_never_data() {
    let network = FakeNetwork::new().single_resolver().on(
        "www.example.com",
        CAA,
        vec![
            Ok(answer(ServFail, vec![])),
            Ok(answer(
                NoError,
                vec![caa("www.example.com.", 0, "issue", b"ca.example")],
            )),
        ],
    );
    let lookup = run(&network, "www.example.com");
    assert_eq!(
        failed(&lookup).failures,
        [
            QueryFailure::ServFail,
            QueryFailure::AnsweredWithoutValidation {
                rcode: "NOERROR".into()
            }
        ]
    );
    assert_eq!(
        attempt_resolvers(&lookup),
        [
            (test_support::RESOLVER.to_owned(), false),
            (test_support::RESOLVER.to_owned(), true)
        ]
    );
    // SERVFAIL again with CD: a fresh failure, the domain's.
    let network = FakeNetwork::new().single_resolver().always(
        "www.example.com",
        CAA,
        Ok(answer(ServFail, vec![])),
    );
    assert_eq!(
        failed(&run(&network, "www.example.com")).failures,
        [QueryFailure::ServFail, QueryFailure::ServFail]
    );
}

/// Issue 15 item 7: RFC 8914 extended errors tell the domain's failure
/// from the resolver's.
#[test]
fn extended_errors_tell_whose_failure_a_servfail_is() {
    let with_ede = |code: u16| {
        let mut failing = answer(ServFail, vec![]);
        failing.extended_errors = vec![
            ExtendedDnsError::from_option_data(&ExtendedDnsError::option_data(code, "why"))
                .unwrap(),
        ];
        failing
    };
    for (code, domains) in [
        (22, true),
        (23, true),
        (6, true),
        (13, false),
        (18, false),
        (14, false),
        (0, false),
    ] {
        let network = FakeNetwork::new().always("example.com", CAA, Ok(with_ede(code)));
        let lookup = run(&network, "example.com");
        let failures = &failed(&lookup).failures;
        assert!(
            failures
                .iter()
                .all(|f| f.is_outside_ca_infrastructure() == domains),
            "EDE {code}: {failures:?}"
        );
        if !domains {
            assert!(
                matches!(&failures[0], QueryFailure::ResolverFailure { extended_errors, .. } if extended_errors[0].info_code == code),
                "{failures:?}"
            );
        }
        // The attempt carries the extended error for the report.
        let AttemptResult::Answer {
            extended_errors, ..
        } = &lookup.steps[0].attempts[0].result
        else {
            panic!("no answer")
        };
        assert_eq!(extended_errors[0].info_code, code);
    }
    // REFUSED is our resolver's, whatever it attaches.
    let network = FakeNetwork::new().always("example.com", CAA, Ok(answer(Refused, vec![])));
    assert!(
        failed(&run(&network, "example.com"))
            .failures
            .iter()
            .all(|f| !f.is_outside_ca_infrastructure())
    );
}

/// Issue 16 item 1: a name with empty ancestors costs one resolver
/// round trip: every name of the climb is in flight at once, and the
/// result is the sequential climb's.
#[test]
fn the_names_of_the_climb_are_asked_at_once() {
    let network = FakeNetwork::new().hold_dns_one_poll().always(
        "example.com",
        CAA,
        Ok(answer(
            NoError,
            vec![caa("example.com.", 0, "issue", b"ca.example")],
        )),
    );
    let climb = block_on(lookup(
        &network,
        &CaaTarget::parse("a.b.c.example.com").unwrap(),
    ));
    assert_eq!(network.most_in_flight(), 5);
    assert_eq!(found_owner(&climb), Some("example.com"));
    assert_eq!(
        read(&climb),
        [
            "a.b.c.example.com",
            "b.c.example.com",
            "c.example.com",
            "example.com"
        ]
    );

    // A deep name is asked in batches of PARALLEL_NAMES.
    let deep = (0..11)
        .map(|i| format!("l{i}"))
        .collect::<Vec<_>>()
        .join(".");
    let network = FakeNetwork::new().hold_dns_one_poll();
    let climb = block_on(lookup(
        &network,
        &CaaTarget::parse(&format!("{deep}.example")).unwrap(),
    ));
    assert_eq!(network.most_in_flight(), PARALLEL_NAMES);
    assert_eq!(climb.outcome, LookupOutcome::NotFound);
    assert_eq!(climb.steps.len(), 12);
    assert!(climb.unused.is_empty());
}

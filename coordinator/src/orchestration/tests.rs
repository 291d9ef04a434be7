#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::test_fixtures::{config, places};

const SIX: &[&str] = &["iad", "lax", "fra", "lhr", "sin", "syd"];

/// A CAA request for example.com whose `orchestration_parameters` ask
/// what `asked` says.
fn asking(asked: &Asked) -> CheckRequest {
    let mut parameters = serde_json::Map::new();
    let mut put = |name: &str, value: Option<i64>| {
        if let Some(value) = value {
            parameters.insert(name.to_owned(), value.into());
        }
    };
    let count = |n: Option<usize>| n.map(|n| i64::try_from(n).unwrap());
    put("perspective_count", count(asked.perspective_count));
    put("quorum_count", count(asked.quorum_count));
    put("max_attempts", asked.max_attempts);
    put("cohort_for_single_attempt", asked.cohort_for_single_attempt);
    let request = CheckRequest::from_value(&serde_json::json!({
        "check_type": "caa",
        "domain_or_ip_target": "example.com",
        "orchestration_parameters": parameters,
    }))
    .unwrap();
    assert_eq!(&Asked::from_request(&request), asked);
    request
}

/// (perspective_count, quorum_count, max_attempts) as a request asks.
type Counts = (Option<usize>, Option<usize>, Option<u32>);

/// The rules of 2026-12-15 and later: at least 5 perspectives.
const LATE: Requirements = Requirements {
    min_perspectives: 5,
    min_rirs: 2,
};

fn overrides(p: Option<usize>, q: Option<usize>, m: Option<u32>) -> Asked {
    Asked {
        perspective_count: p,
        quorum_count: q,
        max_attempts: m.map(i64::from),
        cohort_for_single_attempt: None,
    }
}

fn fields(result: Result<Orchestration, Refused>) -> Vec<String> {
    match result {
        Ok(o) => panic!("accepted: {o:?}"),
        Err(e) => e.0.into_iter().map(|i| i.field).collect(),
    }
}

#[test]
fn no_overrides_is_the_configuration() {
    for policy in [Policy::Br, Policy::Strict, Policy::Count(5)] {
        let c = config(places(SIX), 6, policy);
        let o = resolve(&c.defaults, 6, LATE, &Asked::default()).unwrap();
        assert_eq!(o, Orchestration::configured(&c.defaults), "{policy:?}");
    }
}

/// A CA that lets requests go down to 5 of its 6 perspectives.
fn shrinkable_to_five(policy: Policy) -> crate::config::Config {
    let mut c = config(places(SIX), 6, policy);
    c.defaults.min_perspective_count = 5;
    c
}

/// Issue 15 item 5: with 6 configured, 4 must corroborate; a request for
/// 4 (or 5) would need only 3 (or 4), from roughly the head of the same
/// keyed order.
#[test]
fn by_default_a_request_cannot_shrink_the_cohort() {
    let c = config(places(SIX), 6, Policy::Br);
    let err = resolve(&c.defaults, 8, LATE, &overrides(Some(5), None, None)).unwrap_err();
    assert_eq!(err.0.len(), 1, "{err}");
    assert_eq!(err.0[0].field, PERSPECTIVE_COUNT_FIELD);
    assert!(err.0[0].message.contains("min_perspective_count"), "{err}");
    // More is always allowed.
    let more = resolve(&c.defaults, 8, LATE, &overrides(Some(7), None, None)).unwrap();
    assert_eq!(more.perspective_count, 7);
}

#[test]
fn accepted_overrides() {
    let c = shrinkable_to_five(Policy::Br);
    // (perspective_count, quorum_count, max_attempts) -> (count, policy, attempts)
    let table: &[(Counts, (usize, Policy, u32))] = &[
        ((Some(5), None, None), (5, Policy::Br, 3)),
        ((Some(6), Some(4), None), (6, Policy::Count(4), 3)),
        ((None, Some(6), None), (6, Policy::Count(6), 3)),
        ((Some(5), Some(4), Some(1)), (5, Policy::Count(4), 1)),
        ((None, None, Some(3)), (6, Policy::Br, 3)),
    ];
    for &((p, q, m), (count, policy, attempts)) in table {
        let o = resolve(&c.defaults, 6, LATE, &overrides(p, q, m)).unwrap();
        assert_eq!(
            (o.perspective_count, o.policy, o.max_attempts),
            (count, policy, attempts),
            "{p:?} {q:?} {m:?}"
        );
    }
}

#[test]
fn refused_overrides_name_their_field() {
    let c = shrinkable_to_five(Policy::Br);
    let table: &[(Counts, &[&str])] = &[
        // Below today's BR minimum of 5.
        ((Some(4), None, None), &[PERSPECTIVE_COUNT_FIELD]),
        // More than configured.
        ((Some(7), None, None), &[PERSPECTIVE_COUNT_FIELD]),
        // Below the BR minimum of 4 among 6.
        ((None, Some(3), None), &[QUORUM_COUNT_FIELD]),
        ((None, Some(0), None), &[QUORUM_COUNT_FIELD]),
        // Below the BR minimum of 4 among 5.
        ((Some(5), Some(3), None), &[QUORUM_COUNT_FIELD]),
        ((None, Some(7), None), &[QUORUM_COUNT_FIELD]),
        // Every problem, not only the first; no quorum issue against a
        // refused count.
        ((Some(9), Some(1), Some(11)), &[PERSPECTIVE_COUNT_FIELD]),
    ];
    for &((p, q, m), expected) in table {
        assert_eq!(
            fields(resolve(&c.defaults, 6, LATE, &overrides(p, q, m))),
            expected,
            "{p:?} {q:?} {m:?}"
        );
    }
}

#[test]
fn a_request_cannot_lower_the_configured_quorum() {
    let strict = config(places(SIX), 6, Policy::Strict);
    let err = resolve(&strict.defaults, 6, LATE, &overrides(None, Some(5), None)).unwrap_err();
    assert!(err.to_string().contains("at least 6"), "{err}");
    assert_eq!(
        resolve(&strict.defaults, 6, LATE, &overrides(None, Some(6), None))
            .unwrap()
            .policy,
        Policy::Count(6)
    );

    let count5 = shrinkable_to_five(Policy::Count(5));
    assert_eq!(
        fields(resolve(
            &count5.defaults,
            6,
            LATE,
            &overrides(None, Some(4), None)
        )),
        [QUORUM_COUNT_FIELD]
    );
    // With 5 perspectives "at least 5" means all of them.
    assert_eq!(
        resolve(&count5.defaults, 6, LATE, &overrides(Some(5), None, None))
            .unwrap()
            .policy,
        Policy::Count(5)
    );
}

#[test]
fn configured_floor_follows_the_policy() {
    let table: &[(Policy, usize, usize)] = &[
        (Policy::Br, 6, 4),
        (Policy::Br, 5, 4),
        (Policy::Br, 2, 1),
        (Policy::Strict, 6, 6),
        (Policy::Count(5), 6, 5),
        (Policy::Count(5), 8, 6),
        (Policy::Count(5), 4, 4),
    ];
    for &(policy, count, floor) in table {
        assert_eq!(configured_floor(policy, count), floor, "{policy:?} {count}");
    }
}

#[tokio::test]
async fn check_applies_the_requests_orchestration_parameters_and_refuses_before_calling_anyone() {
    use crate::Coordinator;
    use crate::fanout::tests::FakePerspectives;

    // Seven perspectives, but Amsterdam is within 500 km of Frankfurt
    // and London: no cohort of seven distinct perspectives exists.
    let seven = ["iad", "lax", "fra", "lhr", "sin", "syd", "ams"];
    let mut shrinkable = config(places(&seven), 6, Policy::Br);
    shrinkable.defaults.min_perspective_count = 5;
    let c = Coordinator::new(shrinkable, FakePerspectives::new()).unwrap();

    let five = overrides(Some(5), Some(5), Some(1));
    let decision = c.check(&asking(&five)).await.unwrap();
    assert!(decision.is_valid(), "{:?}", decision.reasons());
    assert_eq!(decision.perspective_count(), 5);
    assert_eq!(decision.quorum_count(), Some(5));
    assert_eq!(decision.attempts().len(), 1);
    assert_eq!(decision.attempts()[0].cohort.len(), 5);
    let calls = c.transport.calls().len();
    assert_eq!(calls, 5);

    let impossible = c
        .check(&asking(&overrides(Some(7), None, None)))
        .await
        .unwrap_err();
    assert_eq!(impossible.0[0].field, PERSPECTIVE_COUNT_FIELD);
    assert!(impossible.to_string().contains("500"), "{impossible}");
    // Asked twice, refused the same way (the refusal is remembered).
    assert_eq!(
        c.check(&asking(&overrides(Some(7), None, None)))
            .await
            .unwrap_err(),
        impossible
    );
    let low_quorum = c
        .check(&asking(&overrides(None, Some(1), None)))
        .await
        .unwrap_err();
    assert_eq!(low_quorum.0[0].field, QUORUM_COUNT_FIELD);
    assert_eq!(
        c.transport.calls().len(),
        calls,
        "a refused check called someone"
    );
}

#[test]
fn overrides_come_from_the_request() {
    let request = CheckRequest::from_json(
        br#"{"check_type":"caa","domain_or_ip_target":"example.com",
            "orchestration_parameters":{"perspective_count":5,"quorum_count":4}}"#,
    )
    .unwrap();
    assert_eq!(
        Asked::from_request(&request),
        overrides(Some(5), Some(4), None)
    );
    let plain =
        CheckRequest::from_json(br#"{"check_type":"caa","domain_or_ip_target":"example.com"}"#)
            .unwrap();
    assert_eq!(Asked::from_request(&plain), Asked::default());
}

/// Open MPIC 3.7: `max_attempts` is lowered or raised, never refused,
/// and each change is said.
#[test]
fn max_attempts_out_of_range_is_brought_into_range_and_said() {
    let c = config(places(SIX), 6, Policy::Br);
    let cap = c.defaults.max_attempts_cap;
    let asked = |m: i64| Asked {
        max_attempts: Some(m),
        ..Asked::default()
    };
    for (requested, used, adjusted) in [
        (-5, 1, true),
        (0, 1, true),
        (1, 1, false),
        (i64::from(cap), cap, false),
        (i64::from(cap) + 1, cap, true),
        (i64::MAX, cap, true),
    ] {
        let o = resolve(&c.defaults, 6, LATE, &asked(requested)).unwrap();
        assert_eq!(o.max_attempts, used, "{requested}");
        assert_eq!(o.first_cohort, 1);
        if adjusted {
            assert_eq!(o.adjustments.len(), 1, "{requested}");
            let a = &o.adjustments[0];
            assert_eq!(
                (a.field.as_str(), a.requested, a.used),
                (MAX_ATTEMPTS_FIELD, requested, Some(used))
            );
        } else {
            assert!(o.adjustments.is_empty(), "{requested}: {:?}", o.adjustments);
        }
    }
}

#[test]
fn cohort_for_single_attempt_runs_one_attempt_with_that_cohort_within_the_cap() {
    let c = config(places(SIX), 6, Policy::Br);
    let cap = c.defaults.max_attempts_cap;
    let asked = |cohort: i64, max_attempts: Option<i64>| Asked {
        cohort_for_single_attempt: Some(cohort),
        max_attempts,
        ..Asked::default()
    };
    let o = resolve(&c.defaults, 6, LATE, &asked(2, None)).unwrap();
    assert_eq!((o.max_attempts, o.first_cohort), (1, 2));
    assert!(o.adjustments.is_empty());
    let o = resolve(&c.defaults, 6, LATE, &asked(1, Some(3))).unwrap();
    assert_eq!((o.max_attempts, o.first_cohort), (1, 1));
    assert_eq!(o.adjustments[0].used, None, "max_attempts is not used");
    for out_of_range in [0, -1, i64::from(cap) + 1] {
        let err = resolve(&c.defaults, 6, LATE, &asked(out_of_range, None)).unwrap_err();
        assert_eq!(err.0[0].field, COHORT_FIELD);
        assert!(
            err.0[0].message.contains(&format!("from 1 to {cap}")),
            "{err}"
        );
    }
}

/// The single attempt runs with the cohort that attempt number would
/// have used in a full run: the same members, chosen the same way.
#[tokio::test]
async fn cohort_for_single_attempt_uses_the_cohort_of_that_attempt_number() {
    use crate::Coordinator;
    use crate::fanout::tests::{Behaviour, FakePerspectives};

    let twelve = [
        "iad", "lax", "fra", "lhr", "sin", "syd", "gru", "jnb", "nrt", "bom", "sea", "mad",
    ];
    let mut perspectives = FakePerspectives::new();
    for id in twelve {
        perspectives = perspectives.with(id, Behaviour::Fail);
    }
    let c = Coordinator::new(config(places(&twelve), 6, Policy::Br), perspectives).unwrap();
    let full = c
        .check(&asking(&overrides(None, None, Some(3))))
        .await
        .unwrap();
    let cohorts: Vec<&Vec<String>> = full.attempts().iter().map(|a| &a.cohort).collect();
    assert_eq!(cohorts.len(), 3);
    assert_ne!(cohorts[0], cohorts[1], "attempts use new cohorts");

    for (number, expected) in cohorts.iter().enumerate() {
        let single = Asked {
            cohort_for_single_attempt: Some(i64::try_from(number).unwrap() + 1),
            ..Asked::default()
        };
        let decision = c.check(&asking(&single)).await.unwrap();
        assert_eq!(decision.attempts().len(), 1, "cohort {}", number + 1);
        assert_eq!(
            &&decision.attempts()[0].cohort,
            expected,
            "cohort {}",
            number + 1
        );
        assert_eq!(decision.attempts()[0].attempt, 1);
    }
}

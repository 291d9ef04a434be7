#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use mpic_core::quorum::Policy;

use super::*;
use crate::fanout::tests::{Behaviour, FakePerspectives};
use crate::test_fixtures::{config, places};

const TWELVE: &[&str] = &[
    "iad", "dfw", "lax", "fra", "lhr", "arn", "mad", "sin", "nrt", "syd", "bom", "gru",
];

fn spec(domain: &str) -> CheckRequest {
    CheckRequest::from_value(&serde_json::json!({
        "check_type": "caa",
        "domain_or_ip_target": domain,
    }))
    .unwrap()
}

fn coordinator(
    ids: &[&str],
    count: usize,
    policy: Policy,
    fakes: FakePerspectives,
) -> Coordinator<FakePerspectives> {
    Coordinator::new(config(places(ids), count, policy), fakes).unwrap()
}

#[tokio::test]
async fn a_valid_check_carries_its_evidence() {
    let c = coordinator(TWELVE, 6, Policy::Br, FakePerspectives::new());
    let decision = c.check(&spec("example.com")).await.unwrap();
    assert!(decision.is_valid());
    assert_ne!(decision.outcome(), Outcome::Incomplete);
    assert_eq!(decision.target(), "example.com");
    assert_eq!(decision.check_type(), CheckType::Caa);
    assert_eq!(decision.perspective_count(), 6);
    assert_eq!(decision.quorum_count(), Some(4));
    assert_eq!(decision.attempt_count(), 1);
    assert!(decision.reasons().is_empty());
    assert!(decision.previous_attempts().is_empty());
    let last = decision.final_attempt().unwrap();
    assert_eq!(decision.tally().unwrap().to_string(), last.quorum_result());
    let corroborated: Vec<_> = last
        .results
        .iter()
        .filter(|r| r.status == ResultStatus::Corroborated)
        .collect();
    assert!(corroborated.len() >= 4);
    assert!(
        corroborated
            .iter()
            .all(|r| r.report.is_some() && r.verified.is_some())
    );

    // The decision serialises for the API and the audit log.
    let json = serde_json::to_value(&decision).unwrap();
    assert_eq!(json["is_valid"], true);
    let statuses: Vec<&str> = json["attempts"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses
            .iter()
            .all(|s| ["corroborated", "cancelled"].contains(s)),
        "{statuses:?}"
    );
    assert!(statuses.iter().filter(|s| **s == "corroborated").count() >= 4);
    let back: RecordedDecision = serde_json::from_value(json).unwrap();
    assert_eq!(back.as_recorded(), &decision);
}

#[tokio::test]
async fn a_failed_attempt_is_retried_with_another_cohort_and_kept() {
    // Every perspective fails on attempt 1 and passes on attempt 2.
    let mut fakes = FakePerspectives::new();
    for id in TWELVE {
        fakes = fakes.per_attempt(id, &[Behaviour::Fail, Behaviour::Pass]);
    }
    let c = coordinator(TWELVE, 6, Policy::Br, fakes);
    let decision = c.check(&spec("example.com")).await.unwrap();
    assert!(decision.is_valid(), "{:?}", decision.reasons());
    assert_eq!(decision.attempt_count(), 2);
    let first = &decision.previous_attempts()[0];
    let second = decision.final_attempt().unwrap();
    assert_eq!((first.attempt, second.attempt), (1, 2));
    assert!(!first.is_valid());
    assert!(second.is_valid());
    let a: BTreeSet<&String> = first.cohort.iter().collect();
    let b: BTreeSet<&String> = second.cohort.iter().collect();
    assert!(
        a.is_disjoint(&b),
        "attempt 2 reused {:?}",
        a.intersection(&b).collect::<Vec<_>>()
    );

    // Attempts never share nonces: each report answers its own attempt (one
    // signed request, so one nonce, per attempt).
    let calls = c.transport.calls();
    let nonces: BTreeSet<_> = calls.iter().map(|(_, _, n)| n.clone()).collect();
    let attempts: BTreeSet<u32> = calls.iter().map(|(_, call, _)| call.attempt).collect();
    assert_eq!(attempts, BTreeSet::from([1, 2]));
    assert_eq!(nonces.len(), attempts.len());
}

#[tokio::test]
async fn results_are_never_combined_across_attempts() {
    // Only six perspectives, so both attempts use the same cohort. Three pass
    // on attempt 1 and the other three on attempt 2: together they would be
    // 6/6, but no attempt reaches 4.
    let six = ["iad", "lax", "fra", "lhr", "sin", "syd"];
    let mut fakes = FakePerspectives::new();
    for (i, id) in six.iter().enumerate() {
        let pattern = if i < 3 {
            [Behaviour::Pass, Behaviour::Fail]
        } else {
            [Behaviour::Fail, Behaviour::Pass]
        };
        fakes = fakes.per_attempt(id, &pattern);
    }
    let mut cfg = config(places(&six), 6, Policy::Br);
    cfg.defaults.max_attempts = 2;
    let c = Coordinator::new(cfg, fakes).unwrap();
    let decision = c.check(&spec("example.com")).await.unwrap();
    assert!(!decision.is_valid());
    assert_ne!(decision.outcome(), Outcome::Incomplete);
    assert_eq!(decision.attempt_count(), 2);
    assert_eq!(decision.reasons().len(), 2, "{:?}", decision.reasons());
    assert!(
        decision.reasons()[0].to_string().starts_with("attempt 1 ("),
        "{:?}",
        decision.reasons()
    );
    assert!(
        decision.reasons()[1]
            .to_string()
            .contains("at most 3 corroborations possible; 4 required")
    );
}

#[tokio::test]
async fn retries_stop_at_max_attempts() {
    let mut fakes = FakePerspectives::new();
    for id in TWELVE {
        fakes = fakes.with(id, Behaviour::Fail);
    }
    let c = coordinator(TWELVE, 6, Policy::Br, fakes);
    let decision = c.check(&spec("example.com")).await.unwrap();
    assert!(!decision.is_valid());
    assert_eq!(decision.attempt_count(), 3);
    assert_eq!(decision.previous_attempts().len(), 2);
    assert_eq!(decision.tally().unwrap().to_string(), "0/6");
}

#[tokio::test]
async fn the_same_domain_is_sent_to_the_same_cohort() {
    let c = coordinator(TWELVE, 6, Policy::Br, FakePerspectives::new());
    let first = c.check(&spec("example.com")).await.unwrap();
    let again = c.check(&spec("EXAMPLE.com")).await.unwrap();
    assert_eq!(
        first.final_attempt().unwrap().cohort,
        again.final_attempt().unwrap().cohort
    );
}

#[tokio::test]
async fn an_impossible_cohort_is_refused_at_construction() {
    let cfg = config(places(&["iad", "dfw", "lax"]), 3, Policy::Br);
    assert!(matches!(
        Coordinator::new(cfg, FakePerspectives::new()),
        Err(CoordinatorError::Cohort(CohortError::NoValidCohort { .. }))
    ));
}

#[tokio::test]
async fn the_decision_log_line_has_the_br_5_4_1_items() {
    let six = ["iad", "lax", "fra", "lhr", "sin", "syd"];
    let fakes = FakePerspectives::new().with("fra", Behaviour::Fail);
    let mut cfg = config(places(&six), 6, Policy::Strict);
    cfg.defaults.max_attempts = 2;
    let c = Coordinator::new(cfg, fakes).unwrap();
    let decision = c.check(&spec("example.com")).await.unwrap();
    assert!(!decision.is_valid());

    let summary = attempts_summary(&decision);
    let attempts: Vec<&str> = summary.split("; ").collect();
    assert_eq!(attempts.len(), 2, "{summary}");
    for (n, attempt) in attempts.iter().enumerate() {
        let record = &decision.attempts()[n];
        assert!(
            attempt.starts_with(&format!("attempt {} {} [", n + 1, record.tally)),
            "{attempt}"
        );
        // Every perspective of the cohort, with its result.
        for id in six {
            assert!(
                attempt.contains(&format!("{id}=")),
                "{id} missing: {attempt}"
            );
        }
        assert!(
            attempt.contains("fra=not_corroborated:mismatch"),
            "{attempt}"
        );
    }
}

#[test]
fn a_check_can_run_on_any_tokio_worker_thread() {
    fn assert_send<T: Send>(_: &T) {}
    let c = Coordinator::new(
        config(places(TWELVE), 6, Policy::Br),
        HttpTransport::new().unwrap(),
    )
    .unwrap();
    let spec = spec("example.com");
    let future = c.check(&spec);
    assert_send(&future);
}

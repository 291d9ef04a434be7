//! Perspectives that misbehave towards the coordinator, end to end: six real
//! workerd perspectives, some of them reached through a hostile server
//! (`mpic_tests::hostile_perspective`) that resets connections, answers
//! garbage, drips bytes, answers 500 or replays a valid report of another
//! request.
//!
//! Every case must end in a decision within the check's deadline, give each
//! misbehaving perspective a typed reason, and never be valid without a
//! quorum of verified reports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use mpic_coordinator::{Decision, ResultStatus};
use mpic_core::check::CheckRequest;
use mpic_core::quorum::NonCorroboration;
use mpic_tests::decisions::{result, summary};
use mpic_tests::hostile_perspective::{HostilePerspective, Misbehaviour};
use mpic_tests::victim;
use mpic_tests::world::{CoordinatorSetup, SIX_SITES, World};

/// Short, so the dripping behaviours cost little; long enough for an honest
/// workerd perspective on a loaded 2-core machine.
const CALL_TIMEOUT_MS: u64 = 4_000;

fn caa() -> CheckRequest {
    CheckRequest::from_value(&victim::caa_check()).unwrap()
}

fn dns01() -> CheckRequest {
    CheckRequest::from_value(&victim::dns01_check()).unwrap()
}

fn setup(
    quorum: &'static str,
    max_attempts: u32,
    hostile: &[(&str, &HostilePerspective)],
) -> CoordinatorSetup {
    CoordinatorSetup {
        quorum,
        max_attempts,
        call_timeout_ms: CALL_TIMEOUT_MS,
        url_overrides: hostile
            .iter()
            .map(|(id, server)| ((*id).to_owned(), server.url()))
            .collect(),
    }
}

/// The whole check's deadline, as `World::coordinator_toml` sets it.
fn deadline(setup: &CoordinatorSetup) -> Duration {
    Duration::from_millis(setup.call_timeout_ms * u64::from(setup.max_attempts) + 5_000)
}

/// Decides `spec` and checks the decision came within the deadline.
async fn decide(world: &World, setup: &CoordinatorSetup, spec: &CheckRequest) -> Decision {
    let coordinator = world.coordinator(setup).unwrap();
    let started = Instant::now();
    let decision = coordinator.check(spec).await.unwrap();
    let took = started.elapsed();
    // Not a speed target: a bound the coordinator promises (its deadline),
    // with room for scheduling on a loaded machine.
    assert!(
        took <= deadline(setup) + Duration::from_secs(3),
        "decision after {took:?}, deadline {:?}\n{}",
        deadline(setup),
        summary(&decision)
    );
    decision
}

/// The reason each behaviour must be refused with.
fn expected_reason(behaviour: Misbehaviour, reason: &NonCorroboration) -> bool {
    use NonCorroboration::*;
    match behaviour {
        Misbehaviour::Reset | Misbehaviour::NotHttp => matches!(reason, Unreachable { .. }),
        Misbehaviour::DripHead | Misbehaviour::DripReport => *reason == Timeout,
        Misbehaviour::Http500 => {
            matches!(reason, Unreachable { detail } if detail.contains("HTTP 500"))
        }
        Misbehaviour::GarbageReport => matches!(reason, InvalidReport { .. }),
        // Either check may catch it first: both bind the report to the call.
        Misbehaviour::ReplayFirstReport => {
            *reason == WrongNonce
                || matches!(reason, InvalidReport { detail } if detail.contains("another request"))
        }
        Misbehaviour::Honest => false,
    }
}

/// No perspective outside `hostile` failed, and none inside corroborated.
fn assert_only_hostile_fail(decision: &Decision, hostile: &[&str]) {
    for r in &decision.final_attempt().unwrap().results {
        let is_hostile = hostile.contains(&r.perspective_id.as_str());
        match (&r.status, is_hostile) {
            (ResultStatus::Corroborated, true) => panic!(
                "{} corroborated through a hostile server\n{}",
                r.perspective_id,
                summary(decision)
            ),
            (ResultStatus::NotCorroborated { .. }, false) => {
                panic!("honest {} failed\n{}", r.perspective_id, summary(decision))
            }
            _ => {}
        }
    }
}

async fn start_world() -> World {
    let world = World::start(&victim::zone(), &SIX_SITES).await.unwrap();
    victim::serve_challenges(&world).unwrap();
    world
}

/// Each misbehaviour in front of one perspective: under the strict policy
/// (every report is judged, so the decision waits for the hostile one) the
/// check is invalid and names the behaviour's reason; under the BR policy the
/// five honest perspectives carry it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_misbehaviour_is_refused_with_its_reason() {
    let world = start_world().await;
    let target = "eu-west";
    let upstream = world.perspective(target).unwrap().url();

    for behaviour in Misbehaviour::HOSTILE {
        let hostile = HostilePerspective::start(&upstream, behaviour)
            .await
            .unwrap();
        let strict = setup("strict", 1, &[(target, &hostile)]);

        if behaviour == Misbehaviour::ReplayFirstReport {
            // The first call is relayed honestly and its report kept.
            let first = decide(&world, &strict, &dns01()).await;
            assert!(first.is_valid(), "relayed honestly: {}", summary(&first));
        }

        let decision = decide(&world, &strict, &caa()).await;
        assert!(
            !decision.is_valid(),
            "{behaviour:?} counted under strict: {}",
            summary(&decision)
        );
        println!("{behaviour:?} (strict): {}", summary(&decision));
        assert_only_hostile_fail(&decision, &[target]);
        match &result(&decision, target).status {
            ResultStatus::NotCorroborated { reason } => assert!(
                expected_reason(behaviour, reason),
                "{behaviour:?}: reason {reason:?}\n{}",
                summary(&decision)
            ),
            other => panic!("{behaviour:?}: {other:?}\n{}", summary(&decision)),
        }
        assert!(
            result(&decision, target).detail.is_some(),
            "{behaviour:?}: no detail\n{}",
            summary(&decision)
        );
        assert!(!decision.reasons().is_empty(), "{}", summary(&decision));

        let br = setup("br", 1, &[(target, &hostile)]);
        let decision = decide(&world, &br, &caa()).await;
        assert!(
            decision.is_valid(),
            "{behaviour:?} blocked a BR quorum of five: {}",
            summary(&decision)
        );
        assert_only_hostile_fail(&decision, &[target]);
        match &result(&decision, target).status {
            ResultStatus::NotCorroborated { reason } => assert!(
                expected_reason(behaviour, reason),
                "{behaviour:?} (br): reason {reason:?}\n{}",
                summary(&decision)
            ),
            ResultStatus::Cancelled => {}
            ResultStatus::Corroborated => unreachable!("checked above"),
            other => panic!("{behaviour:?} (br): unknown status {other:?}"),
        }
        assert!(hostile.calls() > 0, "{behaviour:?}: never called");
        hostile.stop().await;
    }
}

/// Misbehaving perspectives can only subtract: three of six (more than the
/// BR tolerates) make the check invalid on every attempt, and two plus one
/// honest perspective seeing a poisoned view do too; two alone are outvoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_perspectives_never_make_up_a_quorum() {
    let world = start_world().await;
    let hostile_at = |id: &str, behaviour| {
        let upstream = world.perspective(id).unwrap().url();
        async move {
            HostilePerspective::start(&upstream, behaviour)
                .await
                .unwrap()
        }
    };
    let reset = hostile_at("us-west", Misbehaviour::Reset).await;
    let dripping = hostile_at("sa-east", Misbehaviour::DripReport).await;
    let garbage = hostile_at("ap-southeast", Misbehaviour::GarbageReport).await;

    // Two of six: outvoted.
    let two = [("us-west", &reset), ("sa-east", &dripping)];
    let decision = decide(&world, &setup("br", 1, &two), &caa()).await;
    assert!(
        decision.is_valid(),
        "two hostile of six: {}",
        summary(&decision)
    );
    assert_only_hostile_fail(&decision, &["us-west", "sa-east"]);

    // Three of six, with a retry: every attempt is invalid.
    let three = [
        ("us-west", &reset),
        ("sa-east", &dripping),
        ("ap-southeast", &garbage),
    ];
    let retrying = setup("br", 2, &three);
    let decision = decide(&world, &retrying, &caa()).await;
    assert!(
        !decision.is_valid(),
        "three hostile of six: {}",
        summary(&decision)
    );
    assert_eq!(decision.attempt_count(), 2, "{}", summary(&decision));
    for attempt in decision
        .previous_attempts()
        .iter()
        .chain(decision.final_attempt())
    {
        assert!(!attempt.is_valid());
        let failed = attempt
            .results
            .iter()
            .filter(|r| matches!(r.status, ResultStatus::NotCorroborated { .. }))
            .count();
        assert!(
            failed >= 3,
            "attempt with {failed} failures\n{}",
            summary(&decision)
        );
    }
    assert_only_hostile_fail(&decision, &["us-west", "sa-east", "ap-southeast"]);

    // Two hostile plus one honest perspective whose resolver is poisoned.
    world
        .perspective("af-south")
        .unwrap()
        .view
        .override_text(r#"victim.example. 60 IN CAA 0 issue "evil-ca.example""#)
        .unwrap();
    let decision = decide(&world, &setup("br", 1, &two), &caa()).await;
    assert!(
        !decision.is_valid(),
        "two hostile + one poisoned: {}",
        summary(&decision)
    );
    match &result(&decision, "af-south").status {
        ResultStatus::NotCorroborated {
            reason: NonCorroboration::Mismatch { .. },
        }
        | ResultStatus::Cancelled => {}
        other => panic!("poisoned view: {other:?}\n{}", summary(&decision)),
    }

    reset.stop().await;
    dripping.stop().await;
    garbage.stop().await;
}

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use proptest::prelude::*;

const DAY_MS: u64 = 86_400_000;

const DIVERSE: Requirements = Requirements {
    min_perspectives: 2,
    min_rirs: 2,
};
const LAX: Requirements = Requirements {
    min_perspectives: 2,
    min_rirs: 1,
};

fn yes(rir: Rir) -> Standing {
    Standing::Corroborated { rir }
}

fn no() -> Standing {
    Standing::NotCorroborated {
        reason: NonCorroboration::Timeout,
    }
}

fn wait(rir: Rir) -> Standing {
    Standing::Pending { rir }
}

/// `c` corroborations alternating ARIN/RIPE, then `n` failures, then `p` pending.
fn cohort(c: usize, n: usize, p: usize) -> Vec<Standing> {
    let rir = |i: usize| {
        if i.is_multiple_of(2) {
            Rir::Arin
        } else {
            Rir::RipeNcc
        }
    };
    (0..c)
        .map(|i| yes(rir(i)))
        .chain((0..n).map(|_| no()))
        .chain((0..p).map(|i| wait(rir(i))))
        .collect()
}

#[test]
fn br_table_for_2_to_10_perspectives() {
    // (used, non-corroborations allowed) from BR 3.2.2.9.
    let table = [
        (2, 1),
        (3, 1),
        (4, 1),
        (5, 1),
        (6, 2),
        (7, 2),
        (8, 2),
        (9, 2),
        (10, 2),
    ];
    for (used, allowed) in table {
        assert_eq!(allowed_non_corroborations(used), allowed, "{used}");
        assert_eq!(
            Policy::Br.required_corroborations(used),
            Ok(used - allowed),
            "{used}"
        );
        // RIR diversity is tested on its own below.
        let at_limit = cohort(used - allowed, allowed, 0);
        assert_eq!(
            decide(Policy::Br, LAX, &at_limit),
            Status::Valid,
            "{used} at limit"
        );
        let over = cohort(used - allowed - 1, allowed + 1, 0);
        assert_eq!(
            decide(Policy::Br, LAX, &over),
            Status::Invalid(InvalidReason::TooFewCorroborations {
                possible: used - allowed - 1,
                required: used - allowed
            }),
            "{used} over limit"
        );
    }
}

#[test]
fn tiny_cohorts_allow_no_failure_and_fail_closed() {
    assert_eq!(allowed_non_corroborations(0), 0);
    assert_eq!(allowed_non_corroborations(1), 0);
    assert_eq!(br_minimum_corroborations(0), 1);
    assert_eq!(br_minimum_corroborations(1), 1);
    let lenient = Requirements {
        min_perspectives: 0,
        min_rirs: 0,
    };
    // Requirements below the BR floor are raised to it.
    assert_eq!(
        decide(Policy::Br, lenient, &[yes(Rir::Arin)]),
        Status::Invalid(InvalidReason::TooFewPerspectives {
            used: 1,
            required: 2
        })
    );
    assert_eq!(
        decide(Policy::Br, lenient, &[]),
        Status::Invalid(InvalidReason::TooFewPerspectives {
            used: 0,
            required: 2
        })
    );
}

#[test]
fn strict_requires_every_perspective() {
    assert_eq!(
        decide(Policy::Strict, DIVERSE, &cohort(4, 0, 0)),
        Status::Valid
    );
    assert_eq!(
        decide(Policy::Strict, DIVERSE, &cohort(3, 1, 0)),
        Status::Invalid(InvalidReason::TooFewCorroborations {
            possible: 3,
            required: 4
        })
    );
    assert_eq!(
        decide(Policy::Strict, DIVERSE, &cohort(3, 0, 1)),
        Status::Undecided
    );
}

#[test]
fn explicit_count_is_checked_against_the_br_minimum() {
    let cases = [
        (6, 4, Ok(4)),
        (6, 6, Ok(6)),
        (
            6,
            3,
            Err(PolicyError::CountBelowBrMinimum {
                quorum_count: 3,
                used: 6,
                minimum: 4,
            }),
        ),
        (
            3,
            1,
            Err(PolicyError::CountBelowBrMinimum {
                quorum_count: 1,
                used: 3,
                minimum: 2,
            }),
        ),
        (
            5,
            6,
            Err(PolicyError::CountAboveUsed {
                quorum_count: 6,
                used: 5,
            }),
        ),
        (
            2,
            0,
            Err(PolicyError::CountBelowBrMinimum {
                quorum_count: 0,
                used: 2,
                minimum: 1,
            }),
        ),
    ];
    for (used, count, expected) in cases {
        assert_eq!(
            Policy::Count(count).required_corroborations(used),
            expected,
            "{count} of {used}"
        );
    }
    assert_eq!(
        decide(Policy::Count(5), DIVERSE, &cohort(5, 1, 0)),
        Status::Valid
    );
    assert_eq!(
        decide(Policy::Count(6), DIVERSE, &cohort(5, 1, 0)),
        Status::Invalid(InvalidReason::TooFewCorroborations {
            possible: 5,
            required: 6
        })
    );
    assert_eq!(
        decide(Policy::Count(3), DIVERSE, &cohort(6, 0, 0)),
        Status::Invalid(InvalidReason::Policy {
            error: PolicyError::CountBelowBrMinimum {
                quorum_count: 3,
                used: 6,
                minimum: 4
            }
        })
    );
}

#[test]
fn corroborators_must_span_two_rirs_when_required() {
    let one_rir = vec![yes(Rir::Arin); 6];
    assert_eq!(
        decide(Policy::Br, DIVERSE, &one_rir),
        Status::Invalid(InvalidReason::TooFewRirs {
            possible: 1,
            required: 2
        })
    );
    assert_eq!(decide(Policy::Br, LAX, &one_rir), Status::Valid);

    // With two perspectives and two RIRs required, the allowed failure
    // cannot be used: the lone corroborator is one RIR.
    assert_eq!(
        decide(Policy::Br, DIVERSE, &cohort(1, 1, 0)),
        Status::Invalid(InvalidReason::TooFewRirs {
            possible: 1,
            required: 2
        })
    );
    assert_eq!(decide(Policy::Br, DIVERSE, &cohort(2, 0, 0)), Status::Valid);

    // A failed perspective's RIR does not count toward diversity.
    let mut failed_elsewhere = vec![yes(Rir::Arin); 5];
    failed_elsewhere.push(no());
    assert_eq!(
        decide(Policy::Br, DIVERSE, &failed_elsewhere),
        Status::Invalid(InvalidReason::TooFewRirs {
            possible: 1,
            required: 2
        })
    );

    // A pending perspective in another RIR keeps it open...
    let mut pending_elsewhere = vec![yes(Rir::Arin); 5];
    pending_elsewhere.push(wait(Rir::Apnic));
    assert_eq!(
        decide(Policy::Br, DIVERSE, &pending_elsewhere),
        Status::Undecided
    );
    // ...and its corroboration settles it.
    pending_elsewhere[5] = yes(Rir::Apnic);
    assert_eq!(
        decide(Policy::Br, DIVERSE, &pending_elsewhere),
        Status::Valid
    );
    // A pending perspective in the same RIR does not.
    let mut pending_same = vec![yes(Rir::Arin); 5];
    pending_same.push(wait(Rir::Arin));
    assert_eq!(
        decide(Policy::Br, DIVERSE, &pending_same),
        Status::Invalid(InvalidReason::TooFewRirs {
            possible: 1,
            required: 2
        })
    );
}

#[test]
fn pending_answers_decide_early_only_when_they_cannot_matter() {
    let cases = [
        // (corroborated, failed, pending, expected) for Br, two RIRs.
        (3, 0, 1, Status::Valid),
        (2, 0, 2, Status::Undecided),
        (2, 1, 1, Status::Undecided),
        (
            2,
            2,
            0,
            Status::Invalid(InvalidReason::TooFewCorroborations {
                possible: 2,
                required: 3,
            }),
        ),
        (
            0,
            2,
            2,
            Status::Invalid(InvalidReason::TooFewCorroborations {
                possible: 2,
                required: 3,
            }),
        ),
        (4, 0, 2, Status::Valid),
        (3, 1, 2, Status::Undecided),
        (
            1,
            3,
            2,
            Status::Invalid(InvalidReason::TooFewCorroborations {
                possible: 3,
                required: 4,
            }),
        ),
    ];
    for (c, n, p, expected) in cases {
        assert_eq!(
            decide(Policy::Br, DIVERSE, &cohort(c, n, p)),
            expected,
            "{c}/{n}/{p}"
        );
    }
}

#[test]
fn a_cohort_below_the_dates_minimum_is_invalid_at_once() {
    // 2026-12-15, 00:00 UTC.
    let late_2026 = Requirements::for_unix_ms(20_802 * DAY_MS);
    assert_eq!(
        decide(Policy::Br, late_2026, &cohort(0, 0, 4)),
        Status::Invalid(InvalidReason::TooFewPerspectives {
            used: 4,
            required: 5
        })
    );
    assert_eq!(
        decide(Policy::Br, late_2026, &cohort(4, 0, 1)),
        Status::Valid
    );
}

#[test]
fn requirements_change_on_each_boundary_day() {
    // (date, its day number since 1970-01-01, minimum perspectives, RIRs)
    let cases = [
        ("2024-01-01", 19_723, 2, 1),
        ("2025-09-14", 20_345, 2, 1),
        ("2025-09-15", 20_346, 2, 1),
        ("2026-03-14", 20_526, 2, 1),
        ("2026-03-15", 20_527, 3, 2),
        ("2026-06-14", 20_618, 3, 2),
        ("2026-06-15", 20_619, 4, 2),
        ("2026-12-14", 20_801, 4, 2),
        ("2026-12-15", 20_802, 5, 2),
        ("2030-01-01", 21_915, 5, 2),
    ];
    for (date, days, min_perspectives, min_rirs) in cases {
        let expected = Requirements {
            min_perspectives,
            min_rirs,
        };
        let unix_ms = days * DAY_MS;
        assert_eq!(
            Requirements::for_unix_ms(unix_ms),
            expected,
            "{date} at 00:00"
        );
        assert_eq!(
            Requirements::for_unix_ms(unix_ms + 86_399_999),
            expected,
            "{date} at 23:59"
        );
    }
    assert_eq!(Requirements::for_unix_ms(0), BR_PHASES[0].requirements);
    assert_eq!(
        Requirements::for_unix_ms(u64::MAX),
        BR_PHASES[3].requirements
    );
}

#[test]
fn phase_starts_are_midnight_of_their_days() {
    let days = [
        ("2025-09-15", 20_346),
        ("2026-03-15", 20_527),
        ("2026-06-15", 20_619),
        ("2026-12-15", 20_802),
    ];
    assert_eq!(BR_PHASES.len(), days.len());
    for (phase, (date, day)) in BR_PHASES.iter().zip(days) {
        assert_eq!(phase.starts_on, date);
        assert_eq!(phase.starts_ms, day * DAY_MS, "{date}");
    }
    assert_eq!(BR_PHASES[0].starts_ms, 1_757_894_400_000);
}

#[test]
fn the_next_phase_is_the_first_that_starts_later() {
    let next = |unix_ms| next_phase_after(unix_ms).map(|phase| phase.starts_on);
    assert_eq!(next(0), Some("2025-09-15"));
    assert_eq!(next(20_346 * DAY_MS - 1), Some("2025-09-15"));
    assert_eq!(next(20_346 * DAY_MS), Some("2026-03-15"));
    assert_eq!(next(20_700 * DAY_MS), Some("2026-12-15"));
    assert_eq!(next(20_802 * DAY_MS), None);
    for phase in &BR_PHASES {
        assert_eq!(BrPhase::in_force_at(phase.starts_ms), phase);
        assert_eq!(BrPhase::in_force_at(phase.starts_ms + DAY_MS - 1), phase);
    }
}

#[test]
fn summary_reads_corroborated_over_used() {
    let tally = Tally::of(&cohort(5, 1, 0));
    assert_eq!(tally.to_string(), "5/6");
    assert_eq!(Tally::of(&cohort(2, 1, 3)).to_string(), "2/6");
    assert_eq!(Tally::of(&[]).to_string(), "0/0");
}

#[test]
fn report_errors_map_to_reasons() {
    let cases = [
        (ReportError::BadSignature, NonCorroboration::BadSignature),
        (ReportError::WrongNonce, NonCorroboration::WrongNonce),
        (
            ReportError::Stale {
                started_at_ms: 0,
                now_ms: 2,
                max_age_ms: 1,
            },
            NonCorroboration::Stale,
        ),
        (
            ReportError::WrongRequest,
            NonCorroboration::InvalidReport {
                detail: "report answers another request (request digest differs)".into(),
            },
        ),
    ];
    for (error, expected) in cases {
        assert_eq!(NonCorroboration::from(&error), expected);
    }
}

#[test]
fn serde_shapes() {
    assert_eq!(
        serde_json::to_string(&Policy::Count(4)).unwrap(),
        r#"{"count":4}"#
    );
    assert_eq!(serde_json::to_string(&Policy::Br).unwrap(), r#""br""#);
    assert_eq!(
        serde_json::to_string(&Standing::Pending { rir: Rir::Apnic }).unwrap(),
        r#"{"status":"pending","rir":"apnic"}"#
    );
    assert_eq!(
        serde_json::to_string(&no()).unwrap(),
        r#"{"status":"not_corroborated","reason":{"kind":"timeout"}}"#
    );
    let invalid = Status::Invalid(InvalidReason::TooFewRirs {
        possible: 1,
        required: 2,
    });
    let json = serde_json::to_string(&invalid).unwrap();
    assert_eq!(
        json,
        r#"{"invalid":{"kind":"too_few_rirs","possible":1,"required":2}}"#
    );
    assert_eq!(serde_json::from_str::<Status>(&json).unwrap(), invalid);
}

/// One perspective's final answer: corroborated or not, and its RIR.
fn arb_final() -> impl Strategy<Value = (bool, Rir)> {
    (
        any::<bool>(),
        proptest::sample::select(Rir::ALL[..3].to_vec()),
    )
}

fn arb_policy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        Just(Policy::Br),
        Just(Policy::Strict),
        (0usize..=10).prop_map(Policy::Count)
    ]
}

fn arb_requirements() -> impl Strategy<Value = Requirements> {
    (2usize..=5, 1usize..=2).prop_map(|(min_perspectives, min_rirs)| Requirements {
        min_perspectives,
        min_rirs,
    })
}

fn revealed(finals: &[(bool, Rir)], known: &[bool]) -> Vec<Standing> {
    finals
        .iter()
        .zip(known)
        .map(|(&(ok, rir), &known)| match (known, ok) {
            (false, _) => wait(rir),
            (true, true) => yes(rir),
            (true, false) => no(),
        })
        .collect()
}

fn same_kind(a: &Status, b: &Status) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

proptest! {
    #[test]
    fn early_decisions_agree_with_every_completion(
        finals in proptest::collection::vec(arb_final(), 0..=8),
        order_seed in proptest::collection::vec(any::<proptest::sample::Index>(), 8),
        policy in arb_policy(),
        requirements in arb_requirements(),
    ) {
        // Reveal answers in an arbitrary order.
        let mut remaining: Vec<usize> = (0..finals.len()).collect();
        let mut order = Vec::new();
        for index in order_seed.iter().take(finals.len()) {
            order.push(remaining.remove(index.index(remaining.len())));
        }
        let mut known = vec![false; finals.len()];
        for step in 0..=order.len() {
            if step > 0 {
                known[order[step - 1]] = true;
            }
            let now = decide(policy, requirements, &revealed(&finals, &known));
            if now == Status::Undecided {
                continue;
            }
            // Every way the still-pending perspectives could answer.
            let pending: Vec<usize> = (0..finals.len()).filter(|&i| !known[i]).collect();
            for mask in 0u32..(1 << pending.len()) {
                let mut completion = finals.clone();
                for (bit, &i) in pending.iter().enumerate() {
                    completion[i].0 = mask & (1 << bit) != 0;
                }
                let end = decide(policy, requirements, &revealed(&completion, &vec![true; finals.len()]));
                prop_assert!(same_kind(&now, &end), "early {:?} but finally {:?}", now, end);
            }
        }
        // With every answer in, there is always a decision.
        let end = decide(policy, requirements, &revealed(&finals, &vec![true; finals.len()]));
        prop_assert_ne!(end, Status::Undecided);
    }
}

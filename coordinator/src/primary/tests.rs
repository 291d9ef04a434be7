#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::check_call::CheckType;

fn decision(is_valid: bool) -> Decision {
    Decision {
        facts: crate::decision::Facts {
            outcome: if is_valid {
                Outcome::Corroborated
            } else {
                Outcome::NotCorroborated
            },
            target: "example.com".into(),
            check_type: CheckType::Caa,
            reasons: if is_valid {
                vec![]
            } else {
                vec![Reason::DeadlineReached {
                    deadline_ms: 1,
                    attempts: 1,
                }]
            },
            perspective_count: 6,
            attempts: vec![],
            primary: None,
            orchestration_adjustments: Vec::new(),
            stragglers: Default::default(),
        },
    }
}

fn primary(verdict: Verdict) -> PrimaryResult {
    PrimaryResult {
        verdict,
        reason: "what the primary saw".into(),
        observation: None,
        resolvers: vec!["https://dns.example/dns-query".into()],
        elapsed_ms: 3,
        corroborated_by_remote: false,
    }
}

#[test]
fn the_decision_needs_both_the_primary_and_the_remote_quorum() {
    // (primary verdict, remote valid) -> (is_valid, corroborated_by_remote)
    let cases = [
        (Verdict::Pass, true, true, true),
        (Verdict::Pass, false, false, false),
        (Verdict::Fail, true, false, false),
        (Verdict::Fail, false, false, false),
        (Verdict::Error, true, false, false),
    ];
    for (verdict, remote_valid, want_valid, want_corroborated) in cases {
        let combined = combine(decision(remote_valid), primary(verdict));
        let p = combined.primary().unwrap();
        assert_eq!(
            combined.is_valid(),
            want_valid,
            "{verdict:?} {remote_valid}"
        );
        assert_eq!(p.corroborated_by_remote, want_corroborated);
        if verdict != Verdict::Pass {
            assert!(
                combined.reasons()[0]
                    .to_string()
                    .starts_with("primary perspective"),
                "{:?}",
                combined.reasons()
            );
        }
        if want_valid {
            assert!(combined.reasons().is_empty());
        }
    }
}

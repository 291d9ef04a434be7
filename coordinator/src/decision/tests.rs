#![allow(clippy::unwrap_used, clippy::expect_used)]

use mpic_core::check::CheckType;
use mpic_core::quorum::{InvalidReason, Status, Tally};

use super::*;

/// A decision as the previous release wrote it into a record (format 1):
/// `is_valid` and `mpic_completed` instead of an outcome, reasons as text.
const WRITTEN_BEFORE_OUTCOMES: &str = r#"{
    "is_valid": false,
    "mpic_completed": true,
    "target": "example.com",
    "check_type": "caa",
    "quorum": "3/6",
    "reasons": ["attempt 1 (3/6): at most 3 corroborations possible; 4 required"],
    "perspective_count": 6,
    "quorum_count": 4,
    "attempts": [{
        "attempt": 1,
        "cohort": ["iad"],
        "decision": {"invalid": {"kind": "too_few_corroborations", "possible": 3, "required": 4}},
        "tally": {"corroborated": 3, "not_corroborated": 3, "pending": 0},
        "required_corroborations": 4,
        "policy": "br",
        "results": [{"perspective_id": "iad", "rir": "arin", "region": "us-east", "status": "corroborated"}]
    }]
}"#;

#[test]
fn a_decision_recorded_before_outcomes_reads_back_with_the_same_meaning() {
    let read: RecordedDecision = serde_json::from_str(WRITTEN_BEFORE_OUTCOMES).unwrap();
    let decision = read.as_recorded();
    assert_eq!(decision.outcome(), Outcome::NotCorroborated);
    assert!(!decision.is_valid());
    assert_eq!(decision.target(), "example.com");
    assert_eq!(decision.check_type(), CheckType::Caa);
    assert_eq!(decision.tally().unwrap().to_string(), "3/6");
    assert_eq!(decision.quorum_count(), Some(4));
    assert_eq!(
        decision.reasons()[0].to_string(),
        "attempt 1 (3/6): at most 3 corroborations possible; 4 required"
    );
    assert_eq!(
        decision.attempts()[0].status,
        Status::Invalid(InvalidReason::TooFewCorroborations {
            possible: 3,
            required: 4
        })
    );

    let valid = WRITTEN_BEFORE_OUTCOMES.replace(r#""is_valid": false"#, r#""is_valid": true"#);
    let read: RecordedDecision = serde_json::from_str(&valid).unwrap();
    assert_eq!(read.as_recorded().outcome(), Outcome::Corroborated);
    let incomplete =
        WRITTEN_BEFORE_OUTCOMES.replace(r#""mpic_completed": true"#, r#""mpic_completed": false"#);
    let read: RecordedDecision = serde_json::from_str(&incomplete).unwrap();
    assert_eq!(read.as_recorded().outcome(), Outcome::Incomplete);
}

#[test]
fn a_decision_reads_back_as_it_was_written_with_its_wire_names() {
    let tally = Tally {
        corroborated: 3,
        not_corroborated: 3,
        pending: 0,
    };
    let decision = crate::testing::made_up_decision(
        Outcome::NotCorroborated,
        "example.com",
        CheckType::Caa,
        vec![Reason::QuorumNotMet {
            attempt: 1,
            tally,
            reason: InvalidReason::TooFewCorroborations {
                possible: 3,
                required: 4,
            },
        }],
        6,
        vec![AttemptRecord {
            attempt: 1,
            cohort: Vec::new(),
            status: Status::Invalid(InvalidReason::TooFewCorroborations {
                possible: 3,
                required: 4,
            }),
            tally,
            required_corroborations: Some(4),
            policy: None,
            request: None,
            results: Vec::new(),
        }],
        None,
    );
    let json = serde_json::to_value(&decision).unwrap();
    // What Open MPIC clients and earlier readers look for is still there.
    assert_eq!(json["is_valid"], false);
    assert_eq!(json["mpic_completed"], true);
    assert_eq!(json["quorum"], "3/6");
    assert_eq!(json["quorum_count"], 4);
    assert_eq!(json["outcome"], "not_corroborated");
    assert!(json["attempts"][0]["decision"].is_object(), "{json:#}");
    assert!(json["attempts"][0].get("status").is_none(), "{json:#}");
    let read: RecordedDecision = serde_json::from_value(json).unwrap();
    assert_eq!(read.as_recorded(), &decision);
}

#[test]
fn a_recorded_outcome_is_never_overridden_by_the_spelled_out_fields() {
    // A record carries both; the outcome is what was signed as decided.
    let mut json: serde_json::Value = serde_json::from_str(WRITTEN_BEFORE_OUTCOMES).unwrap();
    json["outcome"] = "incomplete".into();
    let read: RecordedDecision = serde_json::from_value(json).unwrap();
    assert_eq!(read.as_recorded().outcome(), Outcome::Incomplete);
}

#![allow(clippy::unwrap_used, clippy::expect_used)]

use mpic_coordinator::CheckType;
use mpic_core::quorum::{self, NonCorroboration, Tally};
use mpic_core::rir::Rir;

use super::*;
use mpic_coordinator::AttemptRecord;
use mpic_coordinator::Reason;
use mpic_coordinator::testing::made_up_decision;

fn result(id: &str, status: ResultStatus, detail: &str) -> PerspectiveResult {
    PerspectiveResult {
        perspective_id: id.into(),
        rir: Rir::Apnic,
        region: "r".into(),
        status,
        detail: Some(detail.into()),
        elapsed_ms: Some(7),
        report: None,
        verified: None,
    }
}

fn decision(is_valid: bool) -> Decision {
    let tally = Tally {
        corroborated: 1,
        not_corroborated: 1,
        pending: 0,
    };
    made_up_decision(
        if is_valid {
            Outcome::Corroborated
        } else {
            Outcome::NotCorroborated
        },
        "example.com",
        CheckType::Caa,
        if is_valid {
            vec![]
        } else {
            vec![Reason::QuorumNotMet {
                attempt: 1,
                tally,
                reason: quorum::InvalidReason::TooFewCorroborations {
                    possible: 1,
                    required: 2,
                },
            }]
        },
        2,
        vec![AttemptRecord {
            attempt: 1,
            cohort: vec!["p1".into(), "p2".into()],
            status: quorum::Status::Undecided,
            tally,
            required_corroborations: Some(2),
            policy: None,
            request: None,
            results: vec![
                result(
                    "p1",
                    ResultStatus::NotCorroborated {
                        reason: NonCorroboration::Timeout,
                    },
                    "no answer before the deadline",
                ),
                result(
                    "p2",
                    ResultStatus::Cancelled,
                    "cancelled: decision already certain",
                ),
            ],
        }],
        None,
    )
}

fn caa_spec() -> CheckRequest {
    CheckRequest::from_json(br#"{"check_type":"caa","domain_or_ip_target":"example.com"}"#).unwrap()
}

#[test]
fn reasons_lose_their_json_but_keep_the_kinds() {
    let cases = [
        ("plain text", "plain text"),
        (
            r#"CAA forbids issuance: {"kind":"not_authorized","records":["x"]}"#,
            "CAA forbids issuance (not_authorized)",
        ),
        (
            r#"CAA lookup failed: {"failures":[{"error":{"detail":"refused","kind":"transport"},"kind":"no_response"}],"name":"a"}"#,
            "CAA lookup failed (no_response, transport): refused",
        ),
        ("broken: {not json", "broken: {not json"),
    ];
    for (reason, want) in cases {
        assert_eq!(readable(reason), want);
    }
}

#[test]
fn in_process_output_always_says_it_is_not_br_compliant() {
    let mode = Mode::InProcess { count: 2 };
    for valid in [true, false] {
        let text = render(&decision(valid), &mode, &caa_spec());
        assert!(text.contains("NOT BR-COMPLIANT: "), "{text}");
        let json = json_output(&decision(valid), &mode);
        assert_eq!(json["br_compliant"], false);
        assert_eq!(json["notice"], NOT_BR_COMPLIANT_NOTICE);
        assert_eq!(json["mode"], "in_process");
    }
    let remote = Mode::Remote {
        config: "mpic.toml".into(),
        evidence_id: Some("0123".into()),
    };
    let text = render(&decision(true), &remote, &caa_spec());
    assert!(!text.contains("NOT BR-COMPLIANT"), "{text}");
    assert!(
        json_output(&decision(true), &remote)
            .get("br_compliant")
            .is_none()
    );
}

#[test]
fn the_table_shows_each_perspective_and_the_decision_with_its_quorum() {
    let text = render(&decision(false), &Mode::InProcess { count: 2 }, &caa_spec());
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.starts_with("PERSPECTIVE"))
        .unwrap();
    assert!(lines[header + 1].starts_with("p1 "), "{text}");
    assert!(lines[header + 1].contains("no answer before the deadline"));
    assert!(lines[header + 1].ends_with("7 ms"));
    assert!(lines[header + 2].contains("cancelled"), "{text}");
    assert!(
        text.contains("decision: NOT CORROBORATED (quorum 1/2, 2 required)"),
        "{text}"
    );
    assert!(text.contains("reason: attempt 1 (1/2)"), "{text}");
}

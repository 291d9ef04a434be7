#![allow(clippy::unwrap_used, clippy::expect_used)]

use mpic_core::quorum::{self, NonCorroboration, Tally};
use mpic_core::rir::Rir;

use super::*;
use crate::check_call::CheckType;
use crate::decision::{AttemptRecord, PerspectiveResult};

fn result(id: &str, status: ResultStatus, elapsed_ms: Option<u64>) -> PerspectiveResult {
    PerspectiveResult {
        perspective_id: id.into(),
        rir: Rir::Arin,
        region: id.to_uppercase(),
        status,
        detail: None,
        elapsed_ms,
        report: None,
        verified: None,
    }
}

fn decision(is_valid: bool, completed: bool, results: Vec<PerspectiveResult>) -> Decision {
    let outcome = match (is_valid, completed) {
        (true, _) => crate::Outcome::Corroborated,
        (false, true) => crate::Outcome::NotCorroborated,
        (false, false) => crate::Outcome::Incomplete,
    };
    Decision {
        facts: crate::decision::Facts {
            outcome,
            target: "example.com".into(),
            check_type: CheckType::Caa,
            reasons: Vec::new(),
            perspective_count: results.len(),
            primary: None,
            orchestration_adjustments: Vec::new(),
            stragglers: Default::default(),
            attempts: vec![AttemptRecord {
                attempt: 1,
                cohort: results.iter().map(|r| r.perspective_id.clone()).collect(),
                status: quorum::Status::Valid,
                tally: Tally::default(),
                required_corroborations: Some(1),
                policy: None,
                request: None,
                results,
            }],
        },
    }
}

#[test]
fn decisions_calls_and_failures_are_counted() {
    let metrics = Metrics::default();
    metrics.count_request("/mpic", 200);
    metrics.count_request("/mpic", 200);
    metrics.count_request("other", 404);
    metrics.record_decision(&decision(
        true,
        true,
        vec![
            result("iad", ResultStatus::Corroborated, Some(40)),
            result(
                "fra",
                ResultStatus::NotCorroborated {
                    reason: NonCorroboration::Timeout,
                },
                Some(10_000),
            ),
            result("sin", ResultStatus::Cancelled, None),
        ],
    ));
    metrics.record_decision(&decision(false, true, Vec::new()));
    metrics.record_decision(&decision(false, false, Vec::new()));
    let text = metrics.render(3);
    for line in [
        "# TYPE mpic_http_requests_total counter",
        "mpic_http_requests_total{route=\"/mpic\",status=\"200\"} 2",
        "mpic_http_requests_total{route=\"other\",status=\"404\"} 1",
        "mpic_decisions_total{check_type=\"caa\",outcome=\"valid\"} 1",
        "mpic_decisions_total{check_type=\"caa\",outcome=\"invalid\"} 1",
        "mpic_decisions_total{check_type=\"caa\",outcome=\"incomplete\"} 1",
        "# TYPE mpic_perspective_call_duration_seconds histogram",
        "mpic_perspective_call_duration_seconds_bucket{perspective=\"iad\",le=\"0.025\"} 0",
        "mpic_perspective_call_duration_seconds_bucket{perspective=\"iad\",le=\"0.05\"} 1",
        "mpic_perspective_call_duration_seconds_bucket{perspective=\"iad\",le=\"+Inf\"} 1",
        "mpic_perspective_call_duration_seconds_sum{perspective=\"iad\"} 0.04",
        "mpic_perspective_call_duration_seconds_count{perspective=\"iad\"} 1",
        "mpic_perspective_call_duration_seconds_bucket{perspective=\"fra\",le=\"5\"} 0",
        "mpic_perspective_call_duration_seconds_bucket{perspective=\"fra\",le=\"10\"} 1",
        "mpic_perspective_failures_total{perspective=\"fra\",reason=\"timeout\"} 1",
        "mpic_checks_in_flight 3",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in:\n{text}"
        );
    }
    // A cancelled call is neither timed nor a failure.
    assert!(!text.contains("perspective=\"sin\""), "{text}");
}

#[test]
fn label_values_are_escaped() {
    assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    let metrics = Metrics::default();
    metrics.count_request("/x\"y", 200);
    assert!(
        metrics
            .render(0)
            .contains("route=\"/x\\\"y\",status=\"200\"")
    );
}

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::{pending, ready};

use super::*;
use crate::caa::test_support::{FakeNetwork, block_on};
use crate::location::Location;
use crate::report::{Expectations, Verdict, request_digest, verify};
use crate::request_auth::sign_request;
use crate::rir::Rir;

const NOW: u64 = 1_790_000_000_000;
const ID: &str = "us-east";

fn coordinator() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn perspective_key() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

fn responder(replay_capacity: usize) -> Responder {
    Responder::new(ResponderSettings {
        identity: Identity {
            perspective_id: ID.into(),
            rir: Rir::Arin,
            location: Location {
                region: "N. Virginia".into(),
                coordinates: None,
            },
        },
        signing_key: perspective_key(),
        coordinator_keys: vec![coordinator().verifying_key()],
        max_skew_ms: 30_000,
        replay_capacity,
        check_deadline_ms: DEFAULT_CHECK_DEADLINE_MS,
    })
}

fn call(perspective_id: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "perspective_ids": [perspective_id],
        "attempt": 1,
        "check": {"check_type": "caa", "domain_or_ip_target": "example.com",
                  "caa_check_parameters": {"caa_domains": ["ca.example"]}},
    }))
    .unwrap()
}

fn nonce(n: u8) -> Nonce {
    Nonce::new(vec![n; 16]).unwrap()
}

/// `body` in an envelope signed by `key`, as JSON bytes.
fn signed(key: &SigningKey, body: &[u8], nonce: &Nonce) -> Vec<u8> {
    serde_json::to_vec(&sign_request(key, body, nonce, NOW).unwrap()).unwrap()
}

fn answer(
    responder: &Responder,
    network: &FakeNetwork,
    body: &[u8],
    backstop: impl Future<Output = ()>,
) -> Result<SignedReport, Refusal> {
    block_on(responder.answer(
        body,
        network,
        &DcvContext::new(NOW / 1000),
        Vantage {
            resolvers: vec!["https://resolver.test/dns-query".into()],
            data_center: None,
        },
        backstop,
        || NOW,
    ))
    .map(|answer| answer.report)
}

/// Issue 12 item 4: each refusal happens before the network is touched.
#[test]
fn refused_requests_cause_no_network_call() {
    let responder = responder(16);
    let good = call(ID);
    let replayed = signed(&coordinator(), &good, &nonce(1));
    let network = FakeNetwork::new();
    answer(&responder, &network, &replayed, pending()).unwrap();
    let asked = network.queries().len();
    assert!(asked > 0, "the admitted call looked nothing up");

    let stranger = SigningKey::from_bytes(&[8; 32]);
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("not an envelope", b"{}".to_vec(), 401),
        ("garbage", b"\xff\x00 not json".to_vec(), 401),
        (
            "signed by a key that is not a coordinator's",
            signed(&stranger, &good, &nonce(2)),
            401,
        ),
        ("replayed", replayed.clone(), 401),
        (
            "for another perspective",
            signed(&coordinator(), &call("eu-west"), &nonce(3)),
            421,
        ),
        (
            "not a check call",
            signed(&coordinator(), br#"{"check":1}"#, &nonce(4)),
            400,
        ),
        ("oversized", vec![b' '; MAX_REQUEST_BYTES + 1], 413),
    ];
    for (what, body, status) in cases {
        let refusal = answer(&responder, &network, &body, pending()).unwrap_err();
        assert_eq!(refusal.status(), status, "{what}: {refusal}");
        assert_eq!(network.queries().len(), asked, "{what} looked something up");
    }
}

#[test]
fn a_full_replay_guard_is_busy_rather_than_forgetful() {
    let responder = responder(1);
    let network = FakeNetwork::new();
    let first = signed(&coordinator(), &call(ID), &nonce(1));
    answer(&responder, &network, &first, pending()).unwrap();
    let second = signed(&coordinator(), &call(ID), &nonce(2));
    let refusal = answer(&responder, &network, &second, pending()).unwrap_err();
    assert!(matches!(refusal, Refusal::Busy(_)), "{refusal}");
    assert_eq!((refusal.status(), refusal.kind()), (503, "busy"));
}

/// The report for the call `body` sent with `nonce`, verified as the
/// coordinator verifies it.
fn opened(report: &SignedReport, body: &[u8], nonce: &Nonce) -> report::ReportBody {
    verify(
        report,
        &Expectations {
            perspective_id: ID,
            key: &perspective_key().verifying_key(),
            nonce,
            request_digest: &request_digest(body),
            now_ms: NOW + DEFAULT_CHECK_DEADLINE_MS,
            max_age_ms: 60_000,
            max_future_skew_ms: 5_000,
        },
    )
    .unwrap()
}

#[test]
fn an_admitted_call_gets_a_report_that_verifies_for_its_request() {
    let responder = responder(16);
    let body = call(ID);
    let report = answer(
        &responder,
        &FakeNetwork::new(),
        &signed(&coordinator(), &body, &nonce(5)),
        pending(),
    )
    .unwrap();
    let verified = opened(&report, &body, &nonce(5));
    // No CAA records anywhere: permitted.
    assert_eq!(verified.verdict, Verdict::Pass, "{}", verified.reason);
    assert_eq!(verified.resolvers, ["https://resolver.test/dns-query"]);
}

/// Call format 2: one signed call per attempt names the whole cohort; each
/// named perspective answers it, and one it does not name refuses it.
#[test]
fn a_call_naming_the_cohort_is_answered_by_its_members_only() {
    let body = |ids: &[&str]| {
        serde_json::to_vec(&serde_json::json!({
            "perspective_ids": ids,
            "attempt": 1,
            "check": {"check_type": "caa", "domain_or_ip_target": "example.com",
                      "caa_check_parameters": {"caa_domains": ["ca.example"]}},
        }))
        .unwrap()
    };
    let named = body(&["cf-fra", ID, "cf-sin"]);
    let report = answer(
        &responder(16),
        &FakeNetwork::new(),
        &signed(&coordinator(), &named, &nonce(6)),
        pending(),
    )
    .unwrap();
    assert_eq!(opened(&report, &named, &nonce(6)).perspective_id, ID);
    for ids in [&["cf-fra", "cf-sin"][..], &[][..]] {
        let refused = answer(
            &responder(16),
            &FakeNetwork::new(),
            &signed(&coordinator(), &body(ids), &nonce(7)),
            pending(),
        )
        .unwrap_err();
        assert!(
            matches!(refused, Refusal::WrongPerspective { .. }),
            "{ids:?}: {refused:?}"
        );
        assert_eq!(refused.status(), 421);
    }
}

/// The backstop ends a check that would run on: a signed `error` report
/// saying so, not silence.
#[test]
fn a_check_the_backstop_ends_is_a_signed_error_saying_so() {
    let responder = responder(16);
    let report = block_on(responder.answer(
        &signed(&coordinator(), &call(ID), &nonce(6)),
        &FakeNetwork::new().silent(),
        &DcvContext::new(NOW / 1000),
        Vantage::default(),
        ready(()),
        || NOW,
    ))
    .unwrap()
    .report;
    let body = opened(&report, &call(ID), &nonce(6));
    assert_eq!(body.verdict, Verdict::Error);
    assert!(
        body.reason
            .contains("did not finish within this perspective's deadline"),
        "{}",
        body.reason
    );
}

/// A check that finished at or past its deadline says so in its reason.
#[test]
fn a_check_that_ran_into_its_deadline_says_so() {
    let responder = responder(16);
    let late = NOW + DEFAULT_CHECK_DEADLINE_MS;
    let clock = std::cell::Cell::new(NOW);
    let report = block_on(responder.answer(
        &signed(&coordinator(), &call(ID), &nonce(7)),
        &FakeNetwork::new(),
        &DcvContext::new(NOW / 1000),
        Vantage::default(),
        pending(),
        || clock.replace(late),
    ))
    .unwrap()
    .report;
    let body = opened(&report, &call(ID), &nonce(7));
    assert!(
        body.reason
            .contains("ran into this perspective's deadline, 8000 ms"),
        "{}",
        body.reason
    );
}

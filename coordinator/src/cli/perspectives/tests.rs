#![allow(clippy::unwrap_used, clippy::expect_used)]

use mpic_core::identity_document::IdentityDocument;
use mpic_core::rir::Rir;

use super::*;

/// A one-resolver self-test as a worker reports it.
fn self_test(passed: bool) -> mpic_core::dnssec_self_test::DnssecSelfTest {
    let (rcode, failure) = if passed {
        ("SERVFAIL", serde_json::Value::Null)
    } else {
        (
            "NOERROR",
            serde_json::json!({"kind": "bogus_accepted", "name": "dnssec-failed.org", "rcode": "NOERROR"}),
        )
    };
    serde_json::from_value(serde_json::json!({
        "names": {"bogus": "dnssec-failed.org", "signed": "isc.org"},
        "resolvers": [{
            "resolver": "https://dns.example/dns-query",
            "bogus": {"kind": "answer", "rcode": rcode, "authentic_data": false},
            "signed": {"kind": "answer", "rcode": "NOERROR", "authentic_data": true},
            "failure": failure,
        }],
    }))
    .unwrap()
}

fn probe(id: &str, claimed_rir: Option<&str>, problems: Vec<ProbeProblem>) -> ProbeResult {
    ProbeResult {
        perspective_id: id.into(),
        identity_url: format!("https://{id}.example/v1/identity"),
        rir: Rir::RipeNcc,
        region: "Frankfurt, DE".into(),
        claimed: claimed_rir.map(|rir| IdentityDocument {
            perspective_id: id.into(),
            rir: rir.into(),
            region: String::new(),
            public_key: "ed25519:x".into(),
            code_version: None,
            mode: None,
            resolvers: vec![],
            check_deadline_ms: None,
            dnssec_test_names: None,
            dnssec_self_test: Some(self_test(id != "forwarder")),
            coordinates: None,
            data_center: Some(mpic_core::report::DataCenter {
                code: "FRA".into(),
                country: Some("DE".into()),
            }),
        }),
        problems,
        latency_ms: claimed_rir.map(|_| 12),
    }
}

#[test]
fn each_row_says_what_matches_and_what_does_not() {
    let results = [
        probe("good", Some("ripe"), vec![]),
        probe(
            "moved",
            Some("arin"),
            vec![ProbeProblem::RirMismatch {
                claimed: "arin".into(),
            }],
        ),
        probe(
            "rekeyed",
            Some("ripe"),
            vec![ProbeProblem::KeyMismatch {
                claimed: "ed25519:x".into(),
            }],
        ),
        probe(
            "down",
            None,
            vec![ProbeProblem::Unreachable {
                detail: "connection refused".into(),
            }],
        ),
        probe(
            "forwarder",
            Some("ripe"),
            vec![ProbeProblem::DnssecSelfTestFailed {
                summary: "failed: https://dns.example/dns-query: answered ...".into(),
            }],
        ),
    ];
    let text = render(&results);
    let line = |id: &str| text.lines().find(|l| l.starts_with(id)).unwrap().to_owned();
    assert!(line("good").contains(" yes "), "{text}");
    assert!(line("good").contains(" ok "), "{text}");
    assert!(line("good").contains(" validates "), "{text}");
    // The data center that answered sits beside the configured region.
    assert!(line("good").contains("Frankfurt, DE  FRA (DE) "), "{text}");
    assert!(line("forwarder").contains("NOT VALIDATING"), "{text}");
    assert!(line("forwarder").contains("MISMATCH"), "{text}");
    assert!(line("down").contains(" - "), "{text}");
    assert!(line("moved").contains("ripe (claims arin)"), "{text}");
    assert!(line("moved").contains("MISMATCH"), "{text}");
    assert!(line("rekeyed").contains(" NO "), "{text}");
    assert!(
        line("down").contains("unreachable: connection refused"),
        "{text}"
    );
    assert!(
        text.ends_with("4 of 5 perspectives have problems"),
        "{text}"
    );
}

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::*;
use crate::caa::test_support::{FakeNetwork, answer, block_on, caa};

fn call(json: &str) -> CheckCall {
    CheckCall::from_json(json.as_bytes()).unwrap()
}

fn caa_call(domain: &str, caa_domains: &str) -> CheckCall {
    call(&format!(
        r#"{{"perspective_ids":["p1"],"attempt":1,"check":{{"check_type":"caa","domain_or_ip_target":"{domain}","caa_check_parameters":{{"caa_domains":{caa_domains}}}}}}}"#
    ))
}

fn run_on(network: &FakeNetwork, call: &CheckCall) -> (RunResult, CheckObservation) {
    let result = block_on(run(network, call, &DcvContext::new(1_800_000_000))).unwrap();
    let observed: CheckObservation = result.observation.parse().unwrap();
    (result, observed)
}

#[test]
fn caa_verdicts_follow_what_was_seen() {
    let ours = |flags: u8, value: &[u8]| {
        FakeNetwork::new().always(
            "example.com",
            RecordType::CAA,
            Ok(answer(
                ResponseCode::NoError,
                vec![caa("example.com.", flags, "issue", value)],
            )),
        )
    };
    let servfail = FakeNetwork::new().always(
        "example.com",
        RecordType::CAA,
        Ok(answer(ResponseCode::ServFail, vec![])),
    );
    let cases: [(&str, FakeNetwork, Verdict); 4] = [
        ("authorises us", ours(0, b"ca.example"), Verdict::Pass),
        (
            "authorises another CA",
            ours(0, b"other.example"),
            Verdict::Fail,
        ),
        ("malformed value forbids", ours(0, b"%%%"), Verdict::Fail),
        ("SERVFAIL is could-not-look", servfail, Verdict::Error),
    ];
    for (name, network, want) in cases {
        let (result, observed) = run_on(&network, &caa_call("example.com", r#"["ca.example"]"#));
        assert_eq!(result.verdict, want, "{name}: {}", result.reason);
        assert!(matches!(observed, CheckObservation::Caa(_)), "{name}");
    }
}

#[test]
fn caa_without_issuer_names_is_not_run() {
    let network = FakeNetwork::new();
    let (result, observed) = run_on(&network, &caa_call("example.com", "[]"));
    assert_eq!(result.verdict, Verdict::Error);
    assert!(matches!(observed, CheckObservation::NotRun { .. }));
    assert!(
        network.queries().is_empty(),
        "no lookup without issuer names"
    );
}

#[test]
fn a_passed_deadline_is_an_error_that_says_so() {
    let result = deadline_passed(9_000).unwrap();
    assert_eq!(result.verdict, Verdict::Error);
    assert!(
        result.reason.contains("deadline (9000 ms)"),
        "{}",
        result.reason
    );
    let observed: CheckObservation = result.observation.parse().unwrap();
    assert!(matches!(observed, CheckObservation::NotRun { reason } if reason == result.reason));
}

#[test]
fn dcv_dns_01_pass_and_fail() {
    let digest = crate::check::key_authorization_digest("token.thumbprint");
    let expected = data_encoding::BASE64URL_NOPAD.encode(&digest);
    let txt = |value: &str| {
        use hickory_proto::rr::rdata::TXT;
        use hickory_proto::rr::{Name, RData, Record};
        Record::from_rdata(
            Name::from_ascii("_acme-challenge.example.com.").unwrap(),
            60,
            RData::TXT(TXT::new(vec![value.to_owned()])),
        )
    };
    let dns01 = call(&format!(
        r#"{{"perspective_ids":["p1"],"attempt":1,"check":{{"check_type":"dcv","domain_or_ip_target":"example.com","dcv_check_parameters":{{"validation_method":"acme-dns-01","key_authorization_hash":"{expected}"}}}}}}"#
    ));
    for (value, want) in [
        (expected.as_str(), Verdict::Pass),
        ("something-else", Verdict::Fail),
    ] {
        let network = FakeNetwork::new().always(
            "_acme-challenge.example.com",
            RecordType::TXT,
            Ok(answer(ResponseCode::NoError, vec![txt(value)])),
        );
        let (result, observed) = run_on(&network, &dns01);
        assert_eq!(result.verdict, want, "{value}: {}", result.reason);
        assert!(matches!(observed, CheckObservation::Dcv(_)));
    }
}

#[test]
fn check_call_refuses_unknown_fields_and_round_trips() {
    let good = caa_call("example.com", r#"["ca.example"]"#);
    let json = serde_json::to_vec(&good).unwrap();
    assert_eq!(CheckCall::from_json(&json).unwrap(), good);
    let extra = r#"{"perspective_ids":["p1"],"attempt":1,"proxy_to":"http://x","check":{"check_type":"caa","domain_or_ip_target":"example.com"}}"#;
    let err = CheckCall::from_json(extra.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("proxy_to"), "{err}");
}

#[test]
fn report_body_carries_identity_and_binding() {
    let identity = Identity {
        perspective_id: "p1".into(),
        rir: Rir::Apnic,
        location: Location {
            region: "ap-southeast-1".into(),
            coordinates: None,
        },
    };
    let result = RunResult {
        verdict: Verdict::Pass,
        reason: "ok".into(),
        observation: Observation::from_json("{}".into()).unwrap(),
    };
    let nonce = Nonce::new(vec![7; 16]).unwrap();
    let body = report_body(
        &identity,
        [9; 32],
        nonce.clone(),
        Vantage {
            resolvers: vec!["r".into()],
            data_center: None,
        },
        10,
        20,
        result,
    );
    assert_eq!(body.perspective_id, "p1");
    assert_eq!(body.rir, Rir::Apnic);
    assert_eq!(body.nonce, nonce);
    assert_eq!(body.request_digest, [9; 32]);
    assert_eq!((body.started_at_ms, body.finished_at_ms), (10, 20));
}

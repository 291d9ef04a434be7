//! The perspective refuses every request an authorised coordinator did not
//! sign, freshly and once, before it looks anything up: it must never be an
//! open DNS or HTTP proxy. And a misconfigured perspective says what is wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mpic_core::nonce::Nonce;
use mpic_core::report::{self, Expectations, SignedReport, Verdict};
use mpic_core::request_auth::{RequestEnvelope, sign_request};
use mpic_tests::keys;
use mpic_tests::tcp_sink::TcpSink;
use mpic_tests::workerd::{Perspective, PerspectiveSpec};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn spec(resolver_port: u16) -> PerspectiveSpec {
    let mut spec = PerspectiveSpec::default();
    let vars = [
        ("PERSPECTIVE_ID", "auth-test".to_string()),
        ("RIR", "arin".into()),
        ("REGION", "test".into()),
        (
            "DOH_RESOLVERS",
            format!("http://127.0.0.1:{resolver_port}/dns-query"),
        ),
        ("COORDINATOR_KEYS", keys::public_text(&keys::coordinator())),
        ("SIGNING_KEY", keys::seed_text(&keys::perspective(1))),
        ("MPIC_LOCAL_MODE", "loopback-fixtures".into()),
        ("LOCAL_HTTP_PORT", resolver_port.to_string()),
    ];
    for (k, v) in vars {
        spec.vars.insert(k.into(), v);
    }
    spec
}

fn call_body() -> Vec<u8> {
    br#"{"perspective_ids":["auth-test"],"attempt":1,"check":{"check_type":"caa","domain_or_ip_target":"example.com","caa_check_parameters":{"caa_domains":["ca.example"]}}}"#.to_vec()
}

fn nonce(byte: u8) -> Nonce {
    Nonce::new(vec![byte; 16]).unwrap()
}

async fn post(perspective: &Perspective, body: Vec<u8>) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/check", perspective.base_url()))
        .header("content-type", "application/json")
        .body(body)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn unauthenticated_requests_get_401_and_cause_no_fetch() {
    let sink = TcpSink::start().await.unwrap();
    let perspective = Perspective::start(&spec(sink.port())).await.unwrap();
    let body = call_body();

    let good = sign_request(&keys::coordinator(), &body, &nonce(1), now_ms()).unwrap();
    let mut tampered = good.clone();
    // Flip a bit of the signed body: the signature no longer matches.
    let last = tampered.request.len() - 2;
    tampered.request[last] ^= 1;
    let stranger = sign_request(&keys::perspective(9), &body, &nonce(2), now_ms()).unwrap();
    let stale = sign_request(
        &keys::coordinator(),
        &body,
        &nonce(3),
        now_ms() - 10 * 60_000,
    )
    .unwrap();
    let future = sign_request(
        &keys::coordinator(),
        &body,
        &nonce(4),
        now_ms() + 10 * 60_000,
    )
    .unwrap();
    let unsigned = RequestEnvelope {
        signature: Vec::new(),
        ..good.clone()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("raw check, no envelope", body.clone(), "not signed"),
        (
            "not json",
            b"GET http://victim.example/".to_vec(),
            "malformed",
        ),
        (
            "unsigned",
            serde_json::to_vec(&unsigned).unwrap(),
            "not signed",
        ),
        (
            "tampered body",
            serde_json::to_vec(&tampered).unwrap(),
            "signature",
        ),
        ("unknown key", serde_json::to_vec(&stranger).unwrap(), "key"),
        ("stale", serde_json::to_vec(&stale).unwrap(), "before now"),
        (
            "from the future",
            serde_json::to_vec(&future).unwrap(),
            "after now",
        ),
    ];
    for (name, request, reason) in cases {
        let (status, text) = post(&perspective, request).await;
        assert_eq!(status, 401, "{name}: {text}");
        assert!(text.to_lowercase().contains(reason), "{name}: {text}");
        assert_eq!(sink.accepted(), 0, "{name} caused an outbound connection");
    }

    // The genuine request runs (its resolver accepts and hangs up, so the
    // report says it could not look) ...
    let (status, text) = post(&perspective, serde_json::to_vec(&good).unwrap()).await;
    assert_eq!(status, 200, "{text}\nlog:\n{}", perspective.log());
    let signed: SignedReport = serde_json::from_str(&text).unwrap();
    let verified = report::verify(
        &signed,
        &Expectations {
            perspective_id: "auth-test",
            key: &keys::perspective(1).verifying_key(),
            nonce: &nonce(1),
            request_digest: &report::request_digest(&body),
            now_ms: now_ms(),
            max_age_ms: 60_000,
            max_future_skew_ms: 5_000,
        },
    )
    .unwrap();
    assert_eq!(verified.verdict, Verdict::Error, "{}", verified.reason);
    let fetched = sink.accepted();
    assert!(
        fetched >= 1,
        "the genuine check should have reached its resolver"
    );

    // A genuine call meant for another perspective is refused, not answered
    // under this perspective's identity.
    let elsewhere = String::from_utf8(call_body())
        .unwrap()
        .replace("auth-test", "another-id");
    let misrouted = sign_request(
        &keys::coordinator(),
        elsewhere.as_bytes(),
        &nonce(5),
        now_ms(),
    )
    .unwrap();
    let (status, text) = post(&perspective, serde_json::to_vec(&misrouted).unwrap()).await;
    assert_eq!(status, 421, "{text}");
    assert!(text.contains("another-id"), "{text}");

    // ... and its replay is refused without a second look.
    let (status, text) = post(&perspective, serde_json::to_vec(&good).unwrap()).await;
    assert_eq!(status, 401, "replay: {text}");
    assert!(text.contains("already used"), "{text}");
    assert_eq!(
        sink.accepted(),
        fetched,
        "the replay caused an outbound connection"
    );
}

#[tokio::test]
async fn misconfigured_perspective_names_the_setting() {
    let mut spec = spec(9);
    spec.vars.remove("SIGNING_KEY");
    spec.vars.insert("RIR".into(), "atlantis".into());
    let perspective = Perspective::start(&spec).await.unwrap();
    for (method, path) in [("GET", "/v1/identity"), ("POST", "/v1/check")] {
        let response = reqwest::Client::new()
            .request(
                method.parse().unwrap(),
                format!("{}{path}", perspective.base_url()),
            )
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 500, "{method} {path}");
        let text = response.text().await.unwrap();
        assert!(text.contains("SIGNING_KEY is not set"), "{text}");
        assert!(text.contains("RIR is invalid"), "{text}");
    }
}

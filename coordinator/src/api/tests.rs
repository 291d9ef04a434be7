//! The API end to end in process: requests through the router (or a server
//! on 127.0.0.1), a real coordinator, and in-process perspectives that
//! verify each signed request and sign reports with real observations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use mpic_core::caa::evaluate::PropertyKind;
use mpic_core::caa::{CaaObservation, CaaOutcome, ForbidReason, PermitReason, RrsetReport};
use mpic_core::check::CertificateType;
use mpic_core::check::CheckParameters;
use mpic_core::dcv::{DcvEvidence, DcvObservation, DnsEvidence, DnsLookup};
use mpic_core::perspective::{CheckCall, CheckObservation};
use mpic_core::quorum::Policy;
use mpic_core::report::{self, Observation, SignedReport, Verdict};
use mpic_core::request_auth::RequestEnvelope;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tower::ServiceExt as _;

use super::*;
use crate::ca_identity::CaIdentities;
use crate::config::{ApiClient, PerspectiveConfig};
use crate::test_fixtures::{places, receive, report_body, signing_key_for};
use crate::transport::CallError;

const SIX: &[&str] = &["iad", "lax", "fra", "lhr", "sin", "syd"];
const API_KEY: &str = "test-api-key-0123456789";
/// Bound on every wait in these tests.
const PATIENCE: Duration = Duration::from_secs(20);

/// How an in-process perspective answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Sees `0 issue "ca.example"` (CAA) or the expected value (DCV).
    Pass,
    /// Sees a CAA record for another CA (CAA) or another value (DCV).
    Fail,
    /// Waits until the test opens the gate, then passes.
    Gated,
}

/// Perspectives in the test process; each verifies the coordinator's
/// signature on the request as a worker does.
struct TestPerspectives {
    answers: HashMap<String, Answer>,
    /// A permit per gated call that may proceed.
    gate: Arc<Semaphore>,
    /// A permit per gated call that has started.
    started: Arc<Semaphore>,
}

impl TestPerspectives {
    fn new(answers: &[(&str, Answer)]) -> Self {
        Self {
            answers: answers
                .iter()
                .map(|(id, a)| ((*id).to_owned(), *a))
                .collect(),
            gate: Arc::new(Semaphore::new(0)),
            started: Arc::new(Semaphore::new(0)),
        }
    }
}

fn observation_for(call: &CheckCall, pass: bool) -> (Verdict, CheckObservation) {
    let target = call.check.target.to_string();
    let verdict = if pass { Verdict::Pass } else { Verdict::Fail };
    let observation = match &call.check.parameters {
        CheckParameters::Caa(_) => {
            let record = if pass {
                "0 issue \"ca.example\""
            } else {
                "0 issue \"other-ca.example\""
            };
            CheckObservation::Caa(CaaObservation {
                domain: target.clone(),
                lookup_name: target.clone(),
                wildcard: false,
                certificate_type: CertificateType::TlsServer,
                outcome: if pass {
                    CaaOutcome::Permitted {
                        reason: PermitReason::Authorised {
                            tag: PropertyKind::Issue,
                            record: record.into(),
                            issuer: "ca.example".into(),
                        },
                    }
                } else {
                    CaaOutcome::Forbidden {
                        reason: ForbidReason::NotAuthorised {
                            tag: PropertyKind::Issue,
                            rejections: Vec::new(),
                        },
                    }
                },
                relevant_rrset: Some(RrsetReport {
                    owner: target,
                    records: vec![record.into()],
                    cname_chain: Vec::new(),
                    authentic_data: false,
                    rcode: "NOERROR".into(),
                    resolver: "https://doh.example/dns-query".into(),
                }),
                steps: Vec::new(),
                unused: Vec::new(),
            })
        }
        CheckParameters::Dcv(params) => {
            let name = format!("_acme-challenge.{target}");
            CheckObservation::Dcv(DcvObservation {
                validation_method: params.method(),
                passed: pass,
                failure: None,
                evidence: DcvEvidence::Dns(DnsEvidence {
                    lookups: vec![DnsLookup {
                        name: name.clone(),
                        record_type: "TXT".into(),
                        rcode: Some(0),
                        records_seen: vec![if pass { "expected" } else { "other" }.into()],
                        cname_chain: Vec::new(),
                        ad_flag: false,
                        resolver: "https://doh.example/dns-query".into(),
                        error: None,
                    }],
                    found_at: Some(name),
                }),
            })
        }
    };
    (verdict, observation)
}

impl PerspectiveTransport for TestPerspectives {
    async fn call(
        &self,
        perspective: &PerspectiveConfig,
        envelope: RequestEnvelope,
        _deadline: Instant,
    ) -> Result<SignedReport, CallError> {
        tokio::task::yield_now().await;
        let received = receive(perspective, &envelope)?;
        let call = &received.call;
        let answer = self
            .answers
            .get(&perspective.id)
            .copied()
            .unwrap_or(Answer::Pass);
        if answer == Answer::Gated {
            self.started.add_permits(1);
            self.gate.acquire().await.unwrap().forget();
        }
        let (verdict, observation) = observation_for(call, answer != Answer::Fail);
        let body = report_body(
            perspective,
            &received,
            verdict,
            format!("{verdict:?}"),
            Observation::from_value(&observation).unwrap(),
        );
        Ok(report::sign(&signing_key_for(&perspective.public_key), &body).unwrap())
    }
}

/// A coordinator and the `[api]` settings it is served with, after `edit`.
fn coordinator_with(
    answers: &[(&str, Answer)],
    edit: impl FnOnce(&mut ServeConfig),
) -> (Arc<Coordinator<TestPerspectives>>, ApiConfig) {
    let config = crate::test_fixtures::config(places(SIX), 6, Policy::Br);
    let mut api = crate::test_fixtures::api_settings();
    api.clients = vec![ApiClient {
        name: "issuance".into(),
        key_sha256: Sha256::digest(API_KEY.as_bytes()).into(),
        identities: CaIdentities::of_the_ca(&config.defaults.caa_issuer_domains),
    }];
    let mut serve = ServeConfig { config, api };
    edit(&mut serve);
    let coordinator = Coordinator::new(serve.config, TestPerspectives::new(answers)).unwrap();
    (Arc::new(coordinator), serve.api)
}

/// The API's routes for a coordinator and its settings.
fn router_for(
    (coordinator, api): (Arc<Coordinator<TestPerspectives>>, ApiConfig),
    recorder: Option<Recorder>,
) -> Router {
    router(coordinator, api, recorder)
}

fn app(answers: &[(&str, Answer)]) -> Router {
    router_for(coordinator_with(answers, |_| {}), None)
}

fn post(body: impl Into<Body>) -> Request<Body> {
    Request::post("/mpic")
        .header("authorization", format!("Bearer {API_KEY}"))
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

fn post_json(value: &Value) -> Request<Body> {
    post(serde_json::to_vec(value).unwrap())
}

fn caa_request() -> Value {
    json!({
        "check_type": "caa",
        "domain_or_ip_target": "www.example.com",
        "trace_identifier": "trace-123",
    })
}

/// The Open MPIC 3.9 document's validators, compiled once.
static SCHEMA: std::sync::LazyLock<super::open_mpic_schema::OpenMpicSchema> =
    std::sync::LazyLock::new(|| super::open_mpic_schema::OpenMpicSchema::load().unwrap());

/// Sends `request`; every answer to `POST /mpic` must fit the Open MPIC 3.9
/// schema of its status.
async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Response<Body>) {
    let is_mpic = request.uri().path() == "/mpic";
    let response = tokio::time::timeout(PATIENCE, app.clone().oneshot(request))
        .await
        .expect("answered in time")
        .unwrap();
    let status = response.status();
    if !is_mpic {
        return (status, response);
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    if let Ok(json) = serde_json::from_slice::<Value>(&bytes) {
        let errors = SCHEMA.response_errors(status.as_u16(), &json);
        assert!(
            errors.is_empty(),
            "{status} answer does not fit the Open MPIC 3.9 schema: {errors:#?}\n{json:#}"
        );
    }
    (status, Response::from_parts(parts, Body::from(bytes)))
}

async fn json_body(response: Response<Body>) -> Value {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
}

async fn text_body(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// What the schema (checked in [`send`]) does not say: our evidence is
/// there, and each perspective's timestamp is a real time.
fn assert_open_mpic_shape(body: &Value) {
    assert!(body["x_mpic"].is_object(), "{body:#}");
    let attempts = std::iter::once(&body["perspectives"])
        .chain(body["previous_attempt_results"].as_array().unwrap());
    for attempt in attempts {
        for perspective in attempt.as_array().unwrap() {
            let check = &perspective["check_response"];
            assert_eq!(check["check_type"], body["check_type"]);
            assert!(check["timestamp_ns"].as_u64().unwrap() > 1_700_000_000_000_000_000);
        }
    }
}

#[tokio::test]
async fn a_valid_caa_request_is_answered_in_open_mpic_form() {
    let app = app(&[]);
    let (status, response) = send(&app, post_json(&caa_request())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = json_body(response).await;
    assert_open_mpic_shape(&body);
    assert_eq!(body["is_valid"], true, "{body:#}");
    assert_eq!(body["mpic_completed"], true);
    assert_eq!(body["check_type"], "caa");
    assert_eq!(body["domain_or_ip_target"], "www.example.com");
    assert_eq!(body["trace_identifier"], "trace-123");
    assert_eq!(body["request_orchestration_parameters"], Value::Null);
    assert_eq!(body["caa_check_parameters"], Value::Null);
    assert_eq!(body["x_mpic"]["target"], "www.example.com");
    assert_eq!(body["x_mpic"]["ignored_fields"], json!([]));
    assert_eq!(
        body["actual_orchestration_parameters"],
        json!({"perspective_count": 6, "quorum_count": 4, "attempt_count": 1})
    );
    assert_eq!(body["previous_attempt_results"], json!([]));

    let perspectives = body["perspectives"].as_array().unwrap();
    assert_eq!(perspectives.len(), 6);
    let passed: Vec<&Value> = perspectives
        .iter()
        .filter(|p| p["check_response"]["check_passed"] == true)
        .collect();
    assert!(passed.len() >= 4, "{body:#}");
    for p in &passed {
        assert_eq!(p["check_response"]["check_completed"], true);
        assert_eq!(p["check_response"]["errors"], Value::Null);
        assert_eq!(
            p["check_response"]["details"],
            json!({
                "caa_record_present": true,
                "found_at": "www.example.com",
                "records_seen": ["0 issue \"ca.example\""],
                "response": "0 issue \"ca.example\"",
            })
        );
    }
    // Those that answered come first (clients read `perspectives[0]`).
    assert!(
        perspectives[..passed.len()]
            .iter()
            .all(|p| p["check_response"]["check_passed"] == true),
        "{body:#}"
    );
    // Those not needed for quorum were cancelled and say so.
    for p in perspectives
        .iter()
        .filter(|p| p["check_response"]["check_passed"] == false)
    {
        assert_eq!(p["check_response"]["check_completed"], false);
        assert_eq!(
            p["check_response"]["errors"][0]["error_type"],
            "mpic:cancelled"
        );
    }

    // Our evidence: the tally and every signed report as it arrived.
    let x = &body["x_mpic"];
    assert_eq!(x["quorum"], format!("{}/6", passed.len()));
    assert_eq!(x["reasons"], json!([]));
    let results = x["attempts"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    for r in results.iter().filter(|r| r["status"] == "corroborated") {
        let signed: SignedReport = serde_json::from_value(r["report"].clone()).unwrap();
        assert!(!signed.signature.is_empty());
        assert_eq!(r["verified"]["verdict"], "pass");
    }
}

#[tokio::test]
async fn all_agree_is_valid_and_every_perspective_is_shown_passing() {
    // Strict quorum: all six must answer, so none is cancelled.
    let app = router_for(
        coordinator_with(&[], |c| c.config.defaults.policy = Policy::Strict),
        None,
    );
    let (status, response) = send(&app, post_json(&caa_request())).await;
    assert_eq!(status, StatusCode::OK);
    let body = json_body(response).await;
    assert_open_mpic_shape(&body);
    assert_eq!(body["is_valid"], true);
    assert_eq!(body["actual_orchestration_parameters"]["quorum_count"], 6);
    assert_eq!(body["x_mpic"]["quorum"], "6/6");
    let perspectives = body["perspectives"].as_array().unwrap();
    let codes: Vec<&str> = perspectives
        .iter()
        .map(|p| p["perspective_code"].as_str().unwrap())
        .collect();
    let mut sorted = codes.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["fra", "iad", "lax", "lhr", "sin", "syd"]);
    assert!(
        perspectives
            .iter()
            .all(|p| p["check_response"]["check_passed"] == true)
    );
}

#[tokio::test]
async fn three_of_six_dissenting_is_not_valid() {
    let dissent = [
        ("iad", Answer::Fail),
        ("fra", Answer::Fail),
        ("sin", Answer::Fail),
    ];
    let app = app(&dissent);
    let (status, response) = send(&app, post_json(&caa_request())).await;
    assert_eq!(status, StatusCode::OK);
    let body = json_body(response).await;
    assert_open_mpic_shape(&body);
    assert_eq!(body["is_valid"], false, "{body:#}");
    assert_eq!(body["mpic_completed"], true);
    // Six perspectives only: every retry uses the same cohort and fails the
    // same way; all three configured attempts are reported.
    assert_eq!(body["actual_orchestration_parameters"]["attempt_count"], 3);
    assert_eq!(
        body["previous_attempt_results"].as_array().unwrap().len(),
        2
    );
    assert!(!body["x_mpic"]["reasons"].as_array().unwrap().is_empty());
    for attempt in std::iter::once(&body["perspectives"])
        .chain(body["previous_attempt_results"].as_array().unwrap())
    {
        for p in attempt.as_array().unwrap() {
            let dissenting = dissent.iter().any(|(id, _)| p["perspective_code"] == *id);
            if dissenting && p["check_response"]["check_completed"] == true {
                assert_eq!(p["check_response"]["check_passed"], false);
                assert_eq!(
                    p["check_response"]["errors"][0]["error_type"],
                    "caa:forbidden"
                );
                assert_eq!(
                    p["check_response"]["details"]["records_seen"][0],
                    "0 issue \"other-ca.example\""
                );
            }
            if !dissenting {
                assert_ne!(
                    p["check_response"]["errors"][0]["error_type"],
                    "caa:forbidden"
                );
            }
        }
    }
}

#[tokio::test]
async fn orchestration_parameters_are_honoured() {
    let app = router_for(
        coordinator_with(&[("iad", Answer::Fail)], |config| {
            config.config.defaults.min_perspective_count = 5;
        }),
        None,
    );
    let mut request = caa_request();
    request["orchestration_parameters"] =
        json!({"perspective_count": 5, "quorum_count": 5, "max_attempts": 1});
    let (status, response) = send(&app, post_json(&request)).await;
    assert_eq!(status, StatusCode::OK);
    let body = json_body(response).await;
    assert_open_mpic_shape(&body);
    assert_eq!(
        body["request_orchestration_parameters"],
        json!({"perspective_count": 5, "quorum_count": 5, "max_attempts": 1,
               "cohort_for_single_attempt": null})
    );
    assert_eq!(
        body["actual_orchestration_parameters"],
        json!({"perspective_count": 5, "quorum_count": 5, "attempt_count": 1})
    );
    assert_eq!(body["perspectives"].as_array().unwrap().len(), 5);
    // All five must pass; whether iad is among them decides.
    let iad_used = body["perspectives"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["perspective_code"] == "iad");
    assert_eq!(body["is_valid"], !iad_used, "{body:#}");
}

#[tokio::test]
async fn a_dcv_request_echoes_its_parameters_and_dns_details() {
    let app = app(&[]);
    let request = json!({
        "check_type": "dcv",
        "domain_or_ip_target": "example.com",
        "dcv_check_parameters": {
            "validation_method": "acme-dns-01",
            "key_authorization_hash": "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0",
        },
    });
    let (status, response) = send(&app, post_json(&request)).await;
    assert_eq!(status, StatusCode::OK);
    let body = json_body(response).await;
    assert_open_mpic_shape(&body);
    assert_eq!(body["is_valid"], true, "{body:#}");
    assert_eq!(body["trace_identifier"], Value::Null);
    assert_eq!(
        body["dcv_check_parameters"],
        json!({
            "validation_method": "acme-dns-01",
            "key_authorization_hash": "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0",
            "dns_record_type": "TXT",
            "dns_name_prefix": "_acme-challenge",
            "require_exact_case": true,
        })
    );
    let passed = body["perspectives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["check_response"]["check_passed"] == true)
        .unwrap()
        .clone();
    assert_eq!(
        passed["check_response"]["details"],
        json!({
            "validation_method": "acme-dns-01",
            "records_seen": ["expected"],
            "response_code": 0,
            "ad_flag": false,
            "found_at": "_acme-challenge.example.com",
            "cname_chain": [],
        })
    );
}

/// A 400 body: Open MPIC's shape, with the field of each issue.
async fn issues_of(response: Response<Body>) -> Vec<(String, String)> {
    let body = json_body(response).await;
    assert_eq!(body["error"], "request-validation-failed", "{body:#}");
    body["validation_issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            assert!(i["message"].as_str().is_some_and(|m| !m.is_empty()));
            (
                i["issue_type"].as_str().unwrap().to_owned(),
                i["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn bad_requests_are_400_naming_every_field() {
    let app = app(&[]);
    type Issues = Vec<(&'static str, &'static str)>;
    let table: Vec<(Vec<u8>, Issues)> = vec![
        (b"{not json".to_vec(), vec![("malformed-json", "(body)")]),
        (
            serde_json::to_vec(&json!({
                "check_type": "caa",
                "domain_or_ip_target": "exa mple.com",
            }))
            .unwrap(),
            vec![("invalid-value", "domain_or_ip_target")],
        ),
        (
            serde_json::to_vec(&json!({
                "check_type": "caa",
                "domain_or_ip_target": "example.com",
                "caa_check_parameters": {"certificate_type": "code-signing", "shade": 1},
            }))
            .unwrap(),
            // `shade` is ignored; the bad value of a known field is not.
            vec![("invalid-value", "caa_check_parameters.certificate_type")],
        ),
        (
            serde_json::to_vec(&json!({"domain_or_ip_target": "example.com"})).unwrap(),
            vec![("missing-field", "check_type")],
        ),
    ];
    for (body, expected) in table {
        let shown = String::from_utf8_lossy(&body).into_owned();
        let (status, response) = send(&app, post(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{shown}");
        let mut issues = issues_of(response).await;
        issues.sort();
        let mut expected: Vec<(String, String)> = expected
            .iter()
            .map(|(t, f)| ((*t).to_owned(), (*f).to_owned()))
            .collect();
        expected.sort();
        assert_eq!(issues, expected, "{shown}");
    }
}

/// Issue 14 item 3: as Open MPIC, unknown fields are ignored, but named in
/// `x_mpic.ignored_fields` so that a typo shows; `[api]
/// reject_unknown_fields` restores the 400.
#[tokio::test]
async fn unknown_fields_are_ignored_and_named_unless_the_ca_refuses_them() {
    let mut request = caa_request();
    request["colour"] = json!("blue");
    request["caa_check_parameters"] = json!({"certificate_type": "tls-server", "shade": 1});
    request["orchestration_parameters"] = json!({"cohort_for_single_attempt": null});

    let (status, response) = send(&app(&[]), post_json(&request)).await;
    assert_eq!(status, StatusCode::OK);
    let body = json_body(response).await;
    assert_eq!(body["is_valid"], true, "{body:#}");
    let mut ignored: Vec<&str> = body["x_mpic"]["ignored_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    ignored.sort_unstable();
    assert_eq!(ignored, ["caa_check_parameters.shade", "colour"]);
    // The echo is the request as understood: without what was ignored.
    assert_eq!(
        body["caa_check_parameters"],
        json!({"certificate_type": "tls-server", "caa_domains": null, "allow_lookup_failure": false})
    );

    let strict = router_for(
        coordinator_with(&[], |c| c.api.reject_unknown_fields = true),
        None,
    );
    let (status, response) = send(&strict, post_json(&request)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let mut issues = issues_of(response).await;
    issues.sort();
    assert_eq!(
        issues,
        [
            (
                "unknown-field".to_owned(),
                "caa_check_parameters.shade".to_owned()
            ),
            ("unknown-field".to_owned(), "colour".to_owned()),
        ]
    );
}

/// Issue 14 item 2: Open MPIC 3.7's `max_attempts` is brought into range,
/// not refused, and the response says what was used.
#[tokio::test]
async fn max_attempts_out_of_range_is_used_within_range_and_said() {
    let app = app(&[
        ("iad", Answer::Fail),
        ("fra", Answer::Fail),
        ("sin", Answer::Fail),
    ]);
    for (asked, used) in [(0, 1), (99, 3)] {
        let mut request = caa_request();
        request["orchestration_parameters"] = json!({"max_attempts": asked});
        let (status, response) = send(&app, post_json(&request)).await;
        assert_eq!(status, StatusCode::OK, "{asked}");
        let body = json_body(response).await;
        assert_eq!(body["is_valid"], false);
        assert_eq!(
            body["actual_orchestration_parameters"]["attempt_count"], used,
            "{asked}"
        );
        assert_eq!(
            body["request_orchestration_parameters"]["max_attempts"],
            asked
        );
        let adjustment = &body["x_mpic"]["orchestration_adjustments"][0];
        assert_eq!(adjustment["field"], "orchestration_parameters.max_attempts");
        assert_eq!(
            (adjustment["requested"].clone(), adjustment["used"].clone()),
            (json!(asked), json!(used))
        );
    }
}

/// Issue 14 item 4: a key authorization for another token is not refused:
/// each perspective fails it (here: fails it as the perspectives sign), in a
/// 200 with `is_valid: false`.
#[tokio::test]
async fn a_well_typed_challenge_that_cannot_be_met_is_answered_not_refused() {
    let request = json!({"check_type": "dcv", "domain_or_ip_target": "example.com",
        "dcv_check_parameters": {"validation_method": "ip-address", "challenge_value": "192.0.2.1",
                                 "dns_record_type": "AAAA"}});
    let (status, _) = send(&app(&[]), post_json(&request)).await;
    assert_eq!(status, StatusCode::OK);
}

/// Issue 15 items 1, 4, 5, 6 at the API: each refused with a 400 naming
/// the field, before any perspective is asked.
#[tokio::test]
async fn requests_that_would_weaken_a_check_are_400_naming_the_field() {
    let app = app(&[]);
    let caa = |extra: Value| {
        let mut request = caa_request();
        for (key, value) in extra.as_object().unwrap() {
            request[key] = value.clone();
        }
        serde_json::to_vec(&request).unwrap()
    };
    let table: Vec<(Vec<u8>, &str, &str)> = vec![
        // 1: a "domain" the URL parser reads as 127.0.0.1.
        (
            caa(json!({"domain_or_ip_target": "127.0x0.0x0.0x1"})),
            "invalid-value",
            "domain_or_ip_target",
        ),
        // 4: checking CAA as another CA.
        (
            caa(json!({"caa_check_parameters": {"caa_domains": ["other-ca.example"]}})),
            "invalid-value",
            "caa_check_parameters.caa_domains[0]",
        ),
        // 5: a smaller cohort than configured (6).
        (
            caa(json!({"orchestration_parameters": {"perspective_count": 5}})),
            "invalid-perspective-count",
            "orchestration_parameters.perspective_count",
        ),
        // 6: the last key wins in serde_json, the first in other parsers.
        (
            br#"{"check_type":"caa","domain_or_ip_target":"example.com","domain_or_ip_target":"other.example"}"#
                .to_vec(),
            "invalid-value",
            "domain_or_ip_target",
        ),
    ];
    for (body, issue_type, field) in table {
        let shown = String::from_utf8_lossy(&body).into_owned();
        let (status, response) = send(&app, post(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{shown}");
        assert_eq!(
            issues_of(response).await,
            [(issue_type.to_owned(), field.to_owned())],
            "{shown}"
        );
    }
}

/// Issue 15 item 4: a client's own identities, when configured, are the
/// ones it may use.
#[tokio::test]
async fn a_client_may_check_caa_only_as_its_own_ca_identities() {
    let brand = mpic_core::name::DomainName::parse("brand.example").unwrap();
    let app = router_for(
        coordinator_with(&[], |config| {
            config.api.clients[0].identities =
                CaIdentities::of_the_ca(std::slice::from_ref(&brand));
        }),
        None,
    );
    let with_domains = |domains: Value| {
        let mut request = caa_request();
        request["caa_check_parameters"] = json!({"caa_domains": domains});
        request
    };
    let (status, _) = send(&app, post_json(&with_domains(json!(["brand.example"])))).await;
    assert_eq!(status, StatusCode::OK);
    // The CA's default identity is not this client's.
    let (status, response) = send(&app, post_json(&with_domains(json!(["ca.example"])))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        issues_of(response).await,
        [(
            "invalid-value".to_owned(),
            "caa_check_parameters.caa_domains[0]".to_owned()
        )]
    );
}

#[tokio::test]
async fn refused_orchestration_parameters_are_400_naming_the_field() {
    let app = app(&[]);
    let too_few =
        mpic_core::quorum::Requirements::for_unix_ms(clock::now_ms()).min_perspectives - 1;
    let table: &[(Value, &str, &str)] = &[
        // BR minimum among 6 perspectives is 4.
        (
            json!({"quorum_count": 3}),
            "invalid-quorum-count",
            "orchestration_parameters.quorum_count",
        ),
        (
            json!({"quorum_count": 0}),
            "invalid-quorum-count",
            "orchestration_parameters.quorum_count",
        ),
        (
            json!({"perspective_count": too_few}),
            "invalid-perspective-count",
            "orchestration_parameters.perspective_count",
        ),
        (
            json!({"perspective_count": 7}),
            "invalid-perspective-count",
            "orchestration_parameters.perspective_count",
        ),
        (
            json!({"cohort_for_single_attempt": 0}),
            "invalid-cohort-for-single-attempt",
            "orchestration_parameters.cohort_for_single_attempt",
        ),
        (
            json!({"cohort_for_single_attempt": 4}),
            "invalid-cohort-for-single-attempt",
            "orchestration_parameters.cohort_for_single_attempt",
        ),
    ];
    for (parameters, issue_type, field) in table {
        let mut request = caa_request();
        request["orchestration_parameters"] = parameters.clone();
        let (status, response) = send(&app, post_json(&request)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{parameters}");
        assert_eq!(
            issues_of(response).await,
            [((*issue_type).to_owned(), (*field).to_owned())],
            "{parameters}"
        );
    }
}

#[tokio::test]
async fn api_keys_are_required_in_either_header() {
    let app = app(&[]);
    let request = |header: Option<(&str, &str)>| {
        let mut builder = Request::post("/mpic").header("content-type", "application/json");
        if let Some((name, value)) = header {
            builder = builder.header(name, value);
        }
        builder
            .body(Body::from(serde_json::to_vec(&caa_request()).unwrap()))
            .unwrap()
    };
    let bearer = format!("Bearer {API_KEY}");
    let table: &[(Option<(&str, &str)>, StatusCode)] = &[
        (None, StatusCode::UNAUTHORIZED),
        (
            Some(("authorization", "Bearer not-the-key")),
            StatusCode::UNAUTHORIZED,
        ),
        (Some(("x-api-key", "not-the-key")), StatusCode::UNAUTHORIZED),
        (Some(("authorization", &bearer)), StatusCode::OK),
        (Some(("x-api-key", API_KEY)), StatusCode::OK),
    ];
    for (header, expected) in table {
        let (status, response) = send(&app, request(*header)).await;
        assert_eq!(status, *expected, "{header:?}");
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
            assert_eq!(json_body(response).await["error"], "unauthorized");
        }
    }
    // Refused before the body is read: a large body without a key is 401.
    let big = vec![b' '; 1024 * 1024];
    let unauthenticated = Request::post("/mpic").body(Body::from(big)).unwrap();
    assert_eq!(
        send(&app, unauthenticated).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn healthz_needs_no_key_and_metrics_does() {
    let app = app(&[]);
    let (status, response) =
        send(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text_body(response).await, "ok\n");
    let (status, _) = send(&app, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, response) =
        send(&app, Request::get("/nowhere").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json_body(response).await["error"], "not-found");

    let public = router_for(coordinator_with(&[], |c| c.api.metrics_public = true), None);
    let (status, _) = send(
        &public,
        Request::get("/metrics").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Still keyed: the check itself.
    let (status, _) = send(
        &public,
        Request::post("/mpic")
            .body(Body::from(serde_json::to_vec(&caa_request()).unwrap()))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn metrics_count_requests_decisions_and_perspective_calls() {
    let app = app(&[
        ("iad", Answer::Fail),
        ("fra", Answer::Fail),
        ("sin", Answer::Fail),
    ]);
    let (status, _) = send(&app, post_json(&caa_request())).await;
    assert_eq!(status, StatusCode::OK);
    let mut bad = caa_request();
    bad["domain_or_ip_target"] = json!("exa mple.com");
    assert_eq!(send(&app, post_json(&bad)).await.0, StatusCode::BAD_REQUEST);

    let metrics = Request::get("/metrics")
        .header("x-api-key", API_KEY)
        .body(Body::empty())
        .unwrap();
    let (status, response) = send(&app, metrics).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = text_body(response).await;
    for line in [
        "mpic_decisions_total{check_type=\"caa\",outcome=\"invalid\"} 1",
        "mpic_http_requests_total{route=\"/mpic\",status=\"200\"} 1",
        "mpic_http_requests_total{route=\"/mpic\",status=\"400\"} 1",
        // Three attempts, each with all six answering.
        "mpic_perspective_failures_total{perspective=\"iad\",reason=\"mismatch\"} 3",
        "mpic_perspective_call_duration_seconds_count{perspective=\"iad\"} 3",
        "mpic_checks_in_flight 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in:\n{text}"
        );
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = router_for(coordinator_with(&[], |c| c.api.max_body_bytes = 2048), None);
    let mut request = caa_request();
    request["trace_identifier"] = json!("x".repeat(4096));
    let (status, response) = send(&app, post_json(&request)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json_body(response).await["error"], "request-too-large");
    // Without a Content-Length too (a streamed body).
    let chunks: Vec<Result<&'static [u8], std::io::Error>> =
        vec![Ok(&[b' '; 1500]), Ok(&[b' '; 1500])];
    let streamed = post(Body::from_stream(futures_util::stream::iter(chunks)));
    assert_eq!(send(&app, streamed).await.0, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn beyond_the_concurrency_limit_is_503_not_a_queue() {
    // Strict quorum, so the check waits for the gated perspective.
    let (coordinator, api) = coordinator_with(&[("fra", Answer::Gated)], |c| {
        c.api.max_concurrent_checks = 1;
        c.config.defaults.policy = Policy::Strict;
    });
    let gate = Arc::clone(&coordinator.transport.gate);
    let started = Arc::clone(&coordinator.transport.started);
    let app = router(coordinator, api, None);

    let first = tokio::spawn(app.clone().oneshot(post_json(&caa_request())));
    tokio::time::timeout(PATIENCE, started.acquire())
        .await
        .expect("the first check reached the gated perspective")
        .unwrap()
        .forget();

    let (status, response) = send(&app, post_json(&caa_request())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(
        json_body(response).await["error"],
        "too-many-concurrent-checks"
    );

    gate.add_permits(1);
    let first = tokio::time::timeout(PATIENCE, first)
        .await
        .expect("the first check finished")
        .unwrap()
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(json_body(first).await["is_valid"], true);

    // The permit came back.
    gate.add_permits(1);
    let (status, _) = send(&app, post_json(&caa_request())).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_request_past_the_timeout_is_504() {
    let (coordinator, api) = coordinator_with(&[("fra", Answer::Gated)], |c| {
        c.api.request_timeout = Duration::from_millis(200);
        c.config.defaults.policy = Policy::Strict;
    });
    let app = router(coordinator, api, None);
    // The gate never opens; the request timeout ends the request and drops
    // the check.
    let (status, response) = send(&app, post_json(&caa_request())).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(json_body(response).await["error"], "request-timeout");
}

#[tokio::test]
async fn a_server_on_loopback_answers_and_shuts_down_gracefully() {
    let (coordinator, api) = coordinator_with(&[], |_| {});
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_on(coordinator, api, None, listener, async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let health = client
        .get(format!("http://{addr}/healthz"))
        .timeout(PATIENCE)
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), reqwest::StatusCode::OK);
    let answer = client
        .post(format!("http://{addr}/mpic"))
        .header("x-api-key", API_KEY)
        .json(&caa_request())
        .timeout(PATIENCE)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["is_valid"], true);

    stop.send(()).unwrap();
    tokio::time::timeout(PATIENCE, server)
        .await
        .expect("the server stopped")
        .unwrap()
        .unwrap();
}

/// The API with an SQLite evidence store in `dir`, and a second client.
async fn app_with_store(dir: &std::path::Path) -> (Router, crate::evidence::EvidenceStore) {
    use crate::evidence::{EvidenceStore, Recorder, StoreLocation};
    let store = EvidenceStore::open(&StoreLocation::Sqlite(dir.join("evidence.sqlite3")))
        .await
        .unwrap();
    let (coordinator, api) = coordinator_with(&[("sin", Answer::Fail)], |config| {
        let other = ApiClient {
            name: "other".into(),
            key_sha256: Sha256::digest(b"another client's key").into(),
            identities: config.api.clients[0].identities.clone(),
        };
        config.api.clients.push(other);
    });
    let recorder = Recorder::start(
        store.clone(),
        "api-test".into(),
        coordinator.config().signing_key.clone(),
        coordinator.config().digest.clone(),
        &coordinator.config().perspectives,
    );
    (router(coordinator, api, Some(recorder)), store)
}

fn get_evidence(id: &str, key: &str) -> Request<Body> {
    Request::get(format!("/evidence/{id}"))
        .header("authorization", format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn each_decision_is_stored_before_it_is_answered_and_served_to_its_client_only() {
    let dir = tempfile::tempdir().unwrap();
    let (app, store) = app_with_store(dir.path()).await;
    let request = serde_json::to_vec(&caa_request()).unwrap();
    let (status, response) = send(&app, post(request.clone())).await;
    assert_eq!(status, StatusCode::OK);
    let body = json_body(response).await;
    let id = body["x_mpic"]["evidence_id"].as_str().unwrap().to_owned();

    // Stored, with the request exactly as sent and the client that sent it.
    let stored = store.get(&id).await.unwrap().unwrap();
    let trusted = [crate::test_fixtures::coordinator_key().verifying_key()];
    let audit = crate::evidence::audit::audit_record(&stored, &trusted);
    assert!(audit.passed(), "{:?}", audit.findings);
    let record: crate::evidence::RecordBody = serde_json::from_slice(
        crate::evidence::receipt::record_json(&stored.sealed.record).unwrap(),
    )
    .unwrap();
    assert_eq!(record.request.as_bytes(), request.as_slice());
    assert_eq!(record.client.as_deref(), Some("issuance"));
    assert_eq!(
        record.decision.as_recorded().is_valid(),
        body["is_valid"].as_bool().unwrap()
    );

    // Its client gets the bundle; another client and a made-up id get 404.
    let (status, response) = send(&app, get_evidence(&id, API_KEY)).await;
    assert_eq!(status, StatusCode::OK);
    let bundle: crate::evidence::Bundle =
        serde_json::from_value(json_body(response).await).unwrap();
    assert!(
        crate::evidence::audit::audit_record(&bundle.into_stored().unwrap(), &trusted).passed()
    );
    let (status, _) = send(&app, get_evidence(&id, "another client's key")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(&app, get_evidence(&"0".repeat(32), API_KEY)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(&app, get_evidence(&id, "no such key")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_decision_the_store_cannot_keep_is_503_never_an_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _store) = app_with_store(dir.path()).await;
    // The store breaks under the running coordinator.
    let connection = rusqlite::Connection::open(dir.path().join("evidence.sqlite3")).unwrap();
    connection
        .execute_batch("DROP TABLE decision_records")
        .unwrap();
    let (status, response) = send(&app, post_json(&caa_request())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    let body = json_body(response).await;
    assert_eq!(body["error"], "evidence-store-unavailable", "{body:#}");
    assert!(body.get("is_valid").is_none(), "{body:#}");
}

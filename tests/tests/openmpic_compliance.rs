//! Issue 14: an Open MPIC 3.9 client points its pipeline at `mpic serve` and
//! changes nothing. Against a real `mpic serve` with six real workerd
//! perspectives on loopback, this sends:
//! - every request shape of Open MPIC's compliance suite
//!   (open-mpic-api-compliance, `test_api.py`; `fixtures/open_mpic/
//!   compliance_requests.json`), against a DNS world rebuilt from the records
//!   the suite checks (`compliance_world.zone`) and an HTTP fixture serving
//!   its challenge files, and expects the suite's answer, or one of README's
//!   "Differences from Open MPIC" with its reason;
//! - a `model_dump()` body of the reference models for each method
//!   (`fixtures/open_mpic/model_dump/`), which must be answered and fully
//!   understood (no field ignored);
//! - each rule of the reference's request validator, and each deliberate 400
//!   with its Baseline Requirements reason.
//!
//! Every answer is checked against the checked-in Open MPIC 3.9 document.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mpic_tests::tls_fixture::{
    AcmeIdentifier, TlsAlpnCertificate, TlsBehaviour, der_octet_string, subject_alt_name,
};
use std::path::{Path, PathBuf};

use mpic_coordinator::testing::OpenMpicSchema;
use mpic_tests::coordinator_process::{ApiKey, CoordinatorProcess, new_api_key};
use mpic_tests::http_fixture::{HttpRule, acme_challenge_path, pki_validation_path};
use mpic_tests::world::{CoordinatorSetup, SIX_SITES, World};
use serde_json::{Value, json};

const TOKEN_A: &str = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
const TOKEN_B: &str = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oB";
const TOKEN_C: &str = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oC";
const KEY_AUTHORIZATION_A: &str =
    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
const HOST: &str = "integration-testing.open-mpic.org";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/open_mpic")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `mpic serve` in front of six workerd perspectives resolving `zone`.
struct Api {
    world: World,
    serve: CoordinatorProcess,
    key: ApiKey,
    schema: OpenMpicSchema,
}

impl Api {
    async fn start(zone: &str) -> Self {
        let world = World::start(zone, &SIX_SITES).await.unwrap();
        let key = new_api_key().unwrap();
        // The suite checks CAA as several CAs; this client is allowed to
        // speak for each of them (issue 15: a client names only its own).
        let toml = format!(
            r#"{perspectives}
[api]
listen = "127.0.0.1:0"
[[api.client]]
name = "open-mpic-client"
key_sha256 = "{key_sha256}"
caa_domains = ["ca.example", "example.com", "caatestsuite.com", "example-ca.example.com",
               "example-ca1.example.com", "example-ca2.example.com"]
issuer_domain_names = ["ca.example"]
"#,
            perspectives = world.coordinator_toml(&CoordinatorSetup::default()),
            key_sha256 = key.key_sha256,
        );
        let serve = CoordinatorProcess::start_with_args(&toml, "info", &[])
            .await
            .unwrap();
        Self {
            world,
            serve,
            key,
            schema: OpenMpicSchema::load().unwrap(),
        }
    }

    /// POSTs `body` to `/mpic`; the answer must fit the 3.9 schema.
    async fn post(&self, body: &Value) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/mpic", self.serve.base_url()))
            .bearer_auth(&self.key.key)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap();
        let errors = self.schema.response_errors(status, &answer);
        assert!(
            errors.is_empty(),
            "{status} to {body} does not fit the Open MPIC 3.9 schema: {errors:#?}"
        );
        (status, answer)
    }
}

/// The suite's challenge files, as its integration webroot serves them, and
/// its acme-tls-alpn-01 certificate (for the digest the suite sends).
fn serve_the_suites_web(world: &World) {
    let digest = data_encoding::HEXLOWER
        .decode(b"653471d42925d7eb4cd39a39cda8b34d3034c94cb90067ab78c8123560ba2e5f")
        .unwrap();
    let certificate = TlsAlpnCertificate::build(
        vec![subject_alt_name(&format!("tls-alpn.{HOST}")).unwrap()],
        Some(AcmeIdentifier {
            value: der_octet_string(&digest),
            critical: true,
        }),
    )
    .unwrap();
    world
        .honest_tls
        .set_behaviour(TlsBehaviour::acme_tls_alpn(certificate))
        .unwrap();
    let web = &world.honest_http;
    web.serve_body(&acme_challenge_path(TOKEN_A), KEY_AUTHORIZATION_A)
        .unwrap();
    // A redirect to another token's file, and one to a port the BR forbid.
    web.set_rule(
        &acme_challenge_path(TOKEN_B),
        HttpRule::redirect(
            302,
            format!("http://{HOST}{}", acme_challenge_path(TOKEN_A)),
        ),
    )
    .unwrap();
    web.set_rule(
        &acme_challenge_path(TOKEN_C),
        HttpRule::redirect(
            302,
            format!("http://{HOST}:8080{}", acme_challenge_path(TOKEN_A)),
        ),
    )
    .unwrap();
    web.serve_body(
        &pki_validation_path("validation-doc.txt"),
        "test-validation",
    )
    .unwrap();
    web.set_rule(
        &pki_validation_path("validation-doc-bad-port-redirect.txt"),
        HttpRule::redirect(
            302,
            format!(
                "http://{HOST}:8080{}",
                pki_validation_path("validation-doc.txt")
            ),
        ),
    )
    .unwrap();
}

/// Where our answer differs from the suite's, on purpose (README,
/// "Differences from Open MPIC"): the case, our `is_valid`, and a text our
/// perspectives' error must contain.
const DIFFERENCES: &[(&str, bool, &str)] = &[
    // RFC 8555 8.1/8.3: the body must be the key authorization of the token
    // fetched; one for another token proves nothing about this one.
    (
        "acme_http_01_valid_redirect_token_differs_from_key_authorization_prefix",
        false,
        "for this token",
    ),
];

/// The error of the first perspective that answered (those cancelled at an
/// early decision say only that).
fn first_error(answer: &Value) -> String {
    answer["perspectives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["check_response"]["errors"][0])
        .find(|e| {
            e["error_type"]
                .as_str()
                .is_some_and(|t| t != "mpic:cancelled")
        })
        .and_then(|e| e["error_message"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_of_the_compliance_suite_gets_open_mpics_answer_or_a_listed_difference() {
    let zone = std::fs::read_to_string(fixtures().join("compliance_world.zone")).unwrap();
    let api = Api::start(&zone).await;
    serve_the_suites_web(&api.world);

    let cases = read_json(&fixtures().join("compliance_requests.json"));
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let (status, answer) = api.post(&case["body"]).await;
        assert_eq!(
            u64::from(status),
            case["expect_status"].as_u64().unwrap(),
            "{name}: {answer:#}"
        );
        assert_eq!(answer["x_mpic"]["ignored_fields"], json!([]), "{name}");
        let Some(expected) = case["expect_is_valid_when_200"].as_bool() else {
            continue;
        };
        match DIFFERENCES.iter().find(|(case, ..)| *case == name) {
            Some(&(_, ours, because)) => {
                assert_eq!(answer["is_valid"], ours, "{name}: {answer:#}");
                let error = first_error(&answer);
                assert!(error.contains(because), "{name}: {error}");
            }
            None => assert_eq!(answer["is_valid"], expected, "{name}: {answer:#}"),
        }
    }

    // The suite reads the CNAME chain of the first perspective: absolute
    // names, in the order followed.
    let chain_case = cases
        .iter()
        .find(|c| c["name"] == "acme_dns_01_valid_cname_chain")
        .unwrap();
    let (_, answer) = api.post(&chain_case["body"]).await;
    assert_eq!(
        answer["perspectives"][0]["check_response"]["details"]["cname_chain"],
        json!([
            "dns-01-cname-target-1.integration-testing.open-mpic.org.",
            "dns-01-cname-target-2.integration-testing.open-mpic.org.",
            "dns-01-cname-target-3.integration-testing.open-mpic.org.",
            "dns-01-cname-landing.integration-testing.open-mpic.org.",
        ])
    );
    // The key authorization the http-01 check was sent is what came back,
    // base64 as Open MPIC's `response_page`.
    let http_case = cases
        .iter()
        .find(|c| c["name"] == "acme_http_01_valid")
        .unwrap();
    let (_, answer) = api.post(&http_case["body"]).await;
    let passed = answer["perspectives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["check_response"]["check_passed"] == true)
        .unwrap();
    let page = passed["check_response"]["details"]["response_page"]
        .as_str()
        .unwrap();
    assert_eq!(
        data_encoding::BASE64.decode(page.as_bytes()).unwrap(),
        KEY_AUTHORIZATION_A.as_bytes()
    );
    api.serve.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_dumped_by_the_reference_models_are_answered_and_fully_understood() {
    let zone = std::fs::read_to_string(fixtures().join("compliance_world.zone")).unwrap();
    let api = Api::start(&zone).await;
    let mut dumps: Vec<PathBuf> = std::fs::read_dir(fixtures().join("model_dump"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    dumps.sort();
    assert_eq!(dumps.len(), 15, "{dumps:?}");
    for path in dumps {
        let body = read_json(&path);
        let (status, answer) = api.post(&body).await;
        let name = path.file_name().unwrap().to_string_lossy();
        assert_eq!(status, 200, "{name}: {answer:#}");
        // Every field the reference's own models write is one we read.
        assert_eq!(answer["x_mpic"]["ignored_fields"], json!([]), "{name}");
        // The request comes back as sent, nulls and all.
        assert_eq!(
            answer["domain_or_ip_target"], body["domain_or_ip_target"],
            "{name}"
        );
        assert_eq!(
            answer["request_orchestration_parameters"], body["orchestration_parameters"],
            "{name}"
        );
        let parameters = if body["check_type"] == "dcv" {
            "dcv_check_parameters"
        } else {
            "caa_check_parameters"
        };
        for (field, value) in body[parameters].as_object().into_iter().flatten() {
            assert_eq!(&answer[parameters][field], value, "{name}: {field}");
        }
    }
    // The acme-dns-01 dump targets a name whose TXT record holds its hash.
    let (_, answer) = api
        .post(&read_json(
            &fixtures().join("model_dump/dcv_acme-dns-01.json"),
        ))
        .await;
    assert_eq!(answer["is_valid"], true, "{answer:#}");
    api.serve.stop().await.unwrap();
}

/// `(body edit, issue_type, field)`: each applied to a valid CAA or DCV
/// request must give exactly that one issue.
type Refusal = (Value, &'static str, &'static str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_validators_rules_and_our_br_refusals_are_400_naming_the_field() {
    let zone = std::fs::read_to_string(fixtures().join("compliance_world.zone")).unwrap();
    let api = Api::start(&zone).await;
    let below_br = mpic_core::quorum::Requirements::for_unix_ms(mpic_coordinator::now_ms())
        .min_perspectives
        - 1;
    let caa = |orchestration: Value| {
        json!({"check_type": "caa", "domain_or_ip_target": "example.com",
               "orchestration_parameters": orchestration})
    };
    let dcv = |target: &str, parameters: Value| json!({"check_type": "dcv", "domain_or_ip_target": target, "dcv_check_parameters": parameters});
    let http01 = json!({"validation_method": "acme-http-01", "token": TOKEN_A,
                        "key_authorization": KEY_AUTHORIZATION_A});
    let table: Vec<Refusal> = vec![
        // MpicRequestValidator: perspective_count from 2 to the perspectives known.
        (
            caa(json!({"perspective_count": 7})),
            "invalid-perspective-count",
            "orchestration_parameters.perspective_count",
        ),
        // ... and quorum_count no lower than the BR allow.
        (
            caa(json!({"perspective_count": 6, "quorum_count": 3})),
            "invalid-quorum-count",
            "orchestration_parameters.quorum_count",
        ),
        // ... and a website-change challenge that is empty.
        (
            dcv(
                HOST,
                json!({"validation_method": "website-change", "http_token_path": "a.txt",
                                  "challenge_value": ""}),
            ),
            "empty-challenge-value",
            "dcv_check_parameters.challenge_value",
        ),
        // The models: a field fixed for the method, given another value.
        (
            dcv(HOST, {
                let mut p = http01.clone();
                p["require_exact_case"] = json!(false);
                p
            }),
            "invalid-value",
            "dcv_check_parameters.require_exact_case",
        ),
        // ... a validation method that does not exist.
        (
            dcv(HOST, json!({"validation_method": "http-01"})),
            "invalid-value",
            "dcv_check_parameters.validation_method",
        ),
        // 3.7: cohorts are counted from 1.
        (
            caa(json!({"cohort_for_single_attempt": 0})),
            "invalid-cohort-for-single-attempt",
            "orchestration_parameters.cohort_for_single_attempt",
        ),
        // Ours, BR 3.2.2.9: fewer perspectives than the BR require today.
        (
            caa(json!({"perspective_count": below_br})),
            "invalid-perspective-count",
            "orchestration_parameters.perspective_count",
        ),
        // Ours, BR 3.2.2.4.19: http-01 is not for wildcard names.
        (
            dcv(&format!("*.{HOST}"), http01.clone()),
            "invalid-value",
            "domain_or_ip_target",
        ),
        // Ours, BR 3.2.2.4.7: a DNS prefix is one label starting with `_`.
        (
            dcv(
                HOST,
                json!({"validation_method": "dns-change", "challenge_value": "v",
                                  "dns_record_type": "TXT", "dns_name_prefix": "dcv"}),
            ),
            "invalid-value",
            "dcv_check_parameters.dns_name_prefix",
        ),
        // Ours, BR 3.2.2.4.18: the value may not be in the request for it.
        (
            dcv(
                HOST,
                json!({"validation_method": "website-change", "http_token_path": "v123.txt",
                                  "challenge_value": "v123"}),
            ),
            "invalid-value",
            "dcv_check_parameters.challenge_value",
        ),
        // Ours: the perspective frames the exchange, not the request.
        (
            dcv(HOST, {
                let mut p = http01.clone();
                p["http_headers"] = json!({"Host": "elsewhere.example"});
                p
            }),
            "invalid-value",
            "dcv_check_parameters.http_headers.Host",
        ),
    ];
    for (body, issue_type, field) in table {
        let (status, answer) = api.post(&body).await;
        assert_eq!(status, 400, "{body}: {answer:#}");
        assert_eq!(answer["error"], "request-validation-failed");
        let issues: Vec<(&str, &str)> = answer["validation_issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["issue_type"].as_str().unwrap(),
                    i["field"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(issues, [(issue_type, field)], "{body}");
    }
    api.serve.stop().await.unwrap();
}

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use super::fake::{address, caa, caa_raw, cname, fake_network, ptr, txt};
use super::*;
use crate::check::{CheckParameters, CheckRequest, key_authorization_digest};
use crate::network::HttpError;
use crate::testing::FakeNetwork;

const NOW: u64 = 1_700_000_000;
const TOKEN: &str = "tok-1";
const KEY_AUTHORIZATION: &str = "tok-1.thumb_print";

fn digest_b64() -> String {
    data_encoding::BASE64URL_NOPAD.encode(&key_authorization_digest(KEY_AUTHORIZATION))
}

/// The target and parameters of a request, validated like a real one.
fn request(target: &str, parameters: Value) -> (Target, DcvCheckParameters) {
    let body = json!({"check_type": "dcv", "domain_or_ip_target": target, "dcv_check_parameters": parameters});
    let request = CheckRequest::from_value(&body).unwrap_or_else(|e| panic!("{body}: {e}"));
    match request.parameters {
        CheckParameters::Dcv(parameters) => (request.target, parameters),
        CheckParameters::Caa(_) => unreachable!(),
    }
}

/// `None` for a pass, else the failure's `reason` tag.
type Expect = Option<&'static str>;

struct Case {
    name: &'static str,
    network: FakeNetwork,
    target: &'static str,
    parameters: Value,
    expect: Expect,
}

fn reason(failure: &DcvFailure) -> String {
    serde_json::to_value(failure).unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn run_cases(cases: Vec<Case>) {
    for case in cases {
        let (target, parameters) = request(case.target, case.parameters);
        let observation = pollster::block_on(check_dcv(
            &case.network,
            &target,
            &parameters,
            &DcvContext::new(NOW),
        ));
        let got = observation.failure.as_ref().map(reason);
        assert_eq!(
            got.as_deref(),
            case.expect,
            "{}: {:?}",
            case.name,
            observation
        );
        assert_eq!(observation.passed, case.expect.is_none(), "{}", case.name);
        assert_eq!(
            observation.validation_method,
            parameters.method(),
            "{}",
            case.name
        );
        // Evidence must survive a report round trip.
        let json = serde_json::to_string(&observation).unwrap();
        let back: DcvObservation = serde_json::from_str(&json).unwrap();
        assert_eq!(back, observation, "{}", case.name);
    }
}

fn http_01() -> Value {
    json!({"validation_method": "acme-http-01", "token": TOKEN, "key_authorization": KEY_AUTHORIZATION})
}

#[test]
fn acme_http_01() {
    let url = "http://example.com/.well-known/acme-challenge/tok-1";
    run_cases(vec![
        Case {
            name: "body equals the key authorization, trailing whitespace ignored",
            network: fake_network().page(url, 200, None, b"tok-1.thumb_print \r\n"),
            target: "example.com",
            parameters: http_01(),
            expect: None,
        },
        Case {
            name: "after a redirect to https",
            network: fake_network()
                .page(url, 301, Some("https://example.com/c"), b"")
                .page(
                    "https://example.com/c",
                    200,
                    None,
                    KEY_AUTHORIZATION.as_bytes(),
                ),
            target: "example.com",
            parameters: http_01(),
            expect: None,
        },
        Case {
            name: "IPv4 target",
            network: fake_network().page(
                "http://192.0.2.1/.well-known/acme-challenge/tok-1",
                200,
                None,
                KEY_AUTHORIZATION.as_bytes(),
            ),
            target: "192.0.2.1",
            parameters: http_01(),
            expect: None,
        },
        Case {
            name: "IPv6 target in brackets in the URL",
            network: fake_network().page(
                "http://[2001:db8::1]/.well-known/acme-challenge/tok-1",
                200,
                None,
                KEY_AUTHORIZATION.as_bytes(),
            ),
            target: "2001:db8::1",
            parameters: http_01(),
            expect: None,
        },
        Case {
            name: "other body",
            network: fake_network().page(url, 200, None, b"tok-1.other"),
            target: "example.com",
            parameters: http_01(),
            expect: Some("body_mismatch"),
        },
        Case {
            name: "leading whitespace is not ignored",
            network: fake_network().page(url, 200, None, b" tok-1.thumb_print"),
            target: "example.com",
            parameters: http_01(),
            expect: Some("body_mismatch"),
        },
        Case {
            name: "key authorization followed by more text",
            network: fake_network().page(url, 200, None, b"tok-1.thumb_print extra"),
            target: "example.com",
            parameters: http_01(),
            expect: Some("body_mismatch"),
        },
        Case {
            name: "404",
            network: fake_network(),
            target: "example.com",
            parameters: http_01(),
            expect: Some("http"),
        },
        Case {
            name: "redirect to an unauthorized port",
            network: fake_network()
                .page(url, 302, Some("http://example.com:8080/c"), b"")
                .page(
                    "http://example.com:8080/c",
                    200,
                    None,
                    KEY_AUTHORIZATION.as_bytes(),
                ),
            target: "example.com",
            parameters: http_01(),
            expect: Some("http"),
        },
        Case {
            name: "connection refused",
            network: fake_network().http_error(url, HttpError::Connect("refused".into())),
            target: "example.com",
            parameters: http_01(),
            expect: Some("http"),
        },
    ]);
}

#[test]
fn http_evidence_is_bounded_and_complete() {
    let url = "http://example.com/.well-known/acme-challenge/tok-1";
    let long = vec![b'x'; 1000];
    let network = fake_network().page(url, 302, Some("/next"), b"").page(
        "http://example.com/next",
        200,
        None,
        &long,
    );
    let (target, parameters) = request("example.com", http_01());
    let observation = pollster::block_on(check_dcv(
        &network,
        &target,
        &parameters,
        &DcvContext::new(NOW),
    ));
    let DcvEvidence::Http(evidence) = &observation.evidence else {
        panic!("{observation:?}")
    };
    assert_eq!(evidence.url, url);
    assert_eq!(evidence.history.len(), 1);
    assert_eq!(evidence.history[0].status, 302);
    assert_eq!(evidence.final_url, "http://example.com/next");
    assert_eq!(evidence.final_status, Some(200));
    assert_eq!(evidence.body_excerpt.len(), BODY_EXCERPT_BYTES);
    assert_eq!(
        data_encoding::BASE64
            .decode(evidence.body_excerpt_base64.as_bytes())
            .unwrap(),
        evidence.body_excerpt.as_bytes()
    );
    assert_eq!(evidence.body_length, 1000);
    assert!(!evidence.body_truncated);
}

fn website(extra: Value) -> Value {
    let mut parameters = json!({"validation_method": "website-change", "http_token_path": "pki.txt",
                                "challenge_value": "rnd-123"});
    if let (Value::Object(base), Value::Object(extra)) = (&mut parameters, extra) {
        base.extend(extra);
    }
    parameters
}

#[test]
fn website_change() {
    let url = "http://example.com/.well-known/pki-validation/pki.txt";
    run_cases(vec![
        Case {
            name: "value contained in the page",
            network: fake_network().page(url, 200, None, b"<p>rnd-123</p>"),
            target: "example.com",
            parameters: website(json!({})),
            expect: None,
        },
        Case {
            name: "https scheme",
            network: fake_network().page(
                "https://example.com/.well-known/pki-validation/pki.txt",
                200,
                None,
                b"rnd-123",
            ),
            target: "example.com",
            parameters: website(json!({"url_scheme": "https"})),
            expect: None,
        },
        Case {
            name: "IP target",
            network: fake_network().page(
                "http://192.0.2.1/.well-known/pki-validation/pki.txt",
                200,
                None,
                b"rnd-123",
            ),
            target: "192.0.2.1",
            parameters: website(json!({})),
            expect: None,
        },
        Case {
            name: "regex matches as well",
            network: fake_network().page(url, 200, None, b"token=rnd-123;"),
            target: "example.com",
            parameters: website(json!({"match_regex": "^token=[a-z0-9-]+;$"})),
            expect: None,
        },
        Case {
            name: "value with other case is not the value",
            network: fake_network().page(url, 200, None, b"RND-123"),
            target: "example.com",
            parameters: website(json!({})),
            expect: Some("challenge_value_not_in_body"),
        },
        Case {
            name: "regex does not match",
            network: fake_network().page(url, 200, None, b"rnd-123"),
            target: "example.com",
            parameters: website(json!({"match_regex": "^token="})),
            expect: Some("regex_not_matched"),
        },
        Case {
            name: "value only on the https page but scheme is http",
            network: fake_network().page(
                "https://example.com/.well-known/pki-validation/pki.txt",
                200,
                None,
                b"rnd-123",
            ),
            target: "example.com",
            parameters: website(json!({})),
            expect: Some("http"),
        },
        Case {
            name: "server error",
            network: fake_network().page(url, 500, None, b"rnd-123"),
            target: "example.com",
            parameters: website(json!({})),
            expect: Some("http"),
        },
    ]);
}

#[test]
fn acme_dns_01() {
    let name = "_acme-challenge.example.com";
    let good = digest_b64();
    let parameters =
        || json!({"validation_method": "acme-dns-01", "key_authorization_hash": digest_b64()});
    let (head, tail) = good.split_at(20);
    run_cases(vec![
        Case {
            name: "one of several TXT records matches",
            network: fake_network().records(
                name,
                RecordType::TXT,
                vec![txt(&["other"]), txt(&[&good])],
            ),
            target: "example.com",
            parameters: parameters(),
            expect: None,
        },
        Case {
            name: "value split over character-strings",
            network: fake_network().records(name, RecordType::TXT, vec![txt(&[head, tail])]),
            target: "example.com",
            parameters: parameters(),
            expect: None,
        },
        Case {
            name: "wildcard checks the base domain",
            network: fake_network().records(name, RecordType::TXT, vec![txt(&[&good])]),
            target: "*.example.com",
            parameters: parameters(),
            expect: None,
        },
        Case {
            name: "delegated by CNAME (resolver followed it)",
            network: fake_network().aliased(
                name,
                RecordType::TXT,
                &["example.com.validation.example.net"],
                vec![txt(&[&good])],
            ),
            target: "example.com",
            parameters: parameters(),
            expect: None,
        },
        Case {
            name: "from a key authorization instead of its hash",
            network: fake_network().records(name, RecordType::TXT, vec![txt(&[&good])]),
            target: "example.com",
            parameters: json!({"validation_method": "acme-dns-01", "key_authorization": KEY_AUTHORIZATION}),
            expect: None,
        },
        Case {
            name: "other value",
            network: fake_network().records(name, RecordType::TXT, vec![txt(&["nope"])]),
            target: "example.com",
            parameters: parameters(),
            expect: Some("value_not_found"),
        },
        Case {
            name: "value in another case",
            network: fake_network().records(
                name,
                RecordType::TXT,
                vec![txt(&[&good.to_ascii_uppercase()])],
            ),
            target: "example.com",
            parameters: parameters(),
            expect: Some("value_not_found"),
        },
        Case {
            name: "value as a substring is not enough",
            network: fake_network().records(
                name,
                RecordType::TXT,
                vec![txt(&[&format!("x{good}")])],
            ),
            target: "example.com",
            parameters: parameters(),
            expect: Some("value_not_found"),
        },
        Case {
            name: "record at the domain instead of _acme-challenge",
            network: fake_network().records("example.com", RecordType::TXT, vec![txt(&[&good])]),
            target: "example.com",
            parameters: parameters(),
            expect: Some("no_records"),
        },
        Case {
            name: "NODATA",
            network: fake_network().records(name, RecordType::TXT, vec![]),
            target: "example.com",
            parameters: parameters(),
            expect: Some("no_records"),
        },
        Case {
            name: "SERVFAIL",
            network: fake_network().rcode(name, RecordType::TXT, ResponseCode::ServFail),
            target: "example.com",
            parameters: parameters(),
            expect: Some("dns_rcode"),
        },
        Case {
            name: "no response",
            network: fake_network().dns_error(name, RecordType::TXT, DnsError::Timeout),
            target: "example.com",
            parameters: parameters(),
            expect: Some("dns_lookup"),
        },
        Case {
            name: "a record of another type is ignored",
            network: fake_network().records(name, RecordType::TXT, vec![cname("x.example.net")]),
            target: "example.com",
            parameters: parameters(),
            expect: Some("no_records"),
        },
    ]);
}

#[test]
fn account_label_matches_the_draft_vector() {
    assert_eq!(
        account_label("https://example.com/acme/acct/ExampleAccount"),
        "_ujmmovf2vn55tgye"
    );
}

#[test]
fn dns_account_01() {
    let account = "https://example.com/acme/acct/ExampleAccount";
    let parameters = || {
        json!({"validation_method": "dns-account-01", "account_uri": account,
               "key_authorization_hash": digest_b64()})
    };
    run_cases(vec![
        Case {
            name: "value at the account label",
            network: fake_network().records(
                "_ujmmovf2vn55tgye._acme-challenge.example.org",
                RecordType::TXT,
                vec![txt(&[&digest_b64()])],
            ),
            target: "example.org",
            parameters: parameters(),
            expect: None,
        },
        Case {
            name: "wildcard uses the base domain",
            network: fake_network().records(
                "_ujmmovf2vn55tgye._acme-challenge.example.org",
                RecordType::TXT,
                vec![txt(&[&digest_b64()])],
            ),
            target: "*.example.org",
            parameters: parameters(),
            expect: None,
        },
        Case {
            name: "value at plain _acme-challenge does not count",
            network: fake_network().records(
                "_acme-challenge.example.org",
                RecordType::TXT,
                vec![txt(&[&digest_b64()])],
            ),
            target: "example.org",
            parameters: parameters(),
            expect: Some("no_records"),
        },
        Case {
            name: "another account's label",
            network: fake_network().records(
                "_ujmmovf2vn55tgye._acme-challenge.example.org",
                RecordType::TXT,
                vec![txt(&[&digest_b64()])],
            ),
            target: "example.org",
            parameters: json!({"validation_method": "dns-account-01", "account_uri": "https://example.com/acme/acct/Other",
                               "key_authorization_hash": digest_b64()}),
            expect: Some("no_records"),
        },
    ]);
}

fn dns_change(record_type: &str, prefix: Option<&str>, exact: bool, value: &str) -> Value {
    json!({"validation_method": "dns-change", "challenge_value": value, "dns_record_type": record_type,
           "dns_name_prefix": prefix, "require_exact_match": exact})
}

#[test]
fn dns_change_methods() {
    run_cases(vec![
        Case {
            name: "TXT contains the value",
            network: fake_network().records(
                "_dcv.example.com",
                RecordType::TXT,
                vec![txt(&["v=abc123;x"])],
            ),
            target: "example.com",
            parameters: dns_change("TXT", Some("_dcv"), false, "abc123"),
            expect: None,
        },
        Case {
            name: "TXT at the domain itself without prefix",
            network: fake_network().records("example.com", RecordType::TXT, vec![txt(&["abc123"])]),
            target: "*.example.com",
            parameters: dns_change("TXT", None, true, "abc123"),
            expect: None,
        },
        Case {
            name: "empty prefix means the domain itself",
            network: fake_network().records("example.com", RecordType::TXT, vec![txt(&["abc123"])]),
            target: "example.com",
            parameters: dns_change("TXT", Some(""), true, "abc123"),
            expect: None,
        },
        Case {
            name: "TXT exact match required but only contained",
            network: fake_network().records(
                "_dcv.example.com",
                RecordType::TXT,
                vec![txt(&["v=abc123"])],
            ),
            target: "example.com",
            parameters: dns_change("TXT", Some("_dcv"), true, "abc123"),
            expect: Some("value_not_found"),
        },
        Case {
            name: "TXT value case matters",
            network: fake_network().records(
                "_dcv.example.com",
                RecordType::TXT,
                vec![txt(&["ABC123"])],
            ),
            target: "example.com",
            parameters: dns_change("TXT", Some("_dcv"), false, "abc123"),
            expect: Some("value_not_found"),
        },
        Case {
            name: "CNAME target equals, case-insensitively, root dot ignored",
            network: fake_network().records(
                "_dcv.example.com",
                RecordType::CNAME,
                vec![cname("ABC123.dcv.example.net.")],
            ),
            target: "example.com",
            parameters: dns_change("CNAME", Some("_dcv"), true, "abc123.dcv.example.net"),
            expect: None,
        },
        Case {
            name: "CNAME target contains the value",
            network: fake_network().records(
                "_dcv.example.com",
                RecordType::CNAME,
                vec![cname("abc123.dcv.example.net")],
            ),
            target: "example.com",
            parameters: dns_change("CNAME", Some("_dcv"), false, "ABC123"),
            expect: None,
        },
        Case {
            name: "CNAME elsewhere",
            network: fake_network().records(
                "_dcv.example.com",
                RecordType::CNAME,
                vec![cname("other.example.net")],
            ),
            target: "example.com",
            parameters: dns_change("CNAME", Some("_dcv"), false, "abc123"),
            expect: Some("value_not_found"),
        },
        Case {
            name: "CAA value (decoded) contains it",
            network: fake_network().records(
                "example.com",
                RecordType::CAA,
                vec![caa(0, "issue", "ca.example; x=abc123")],
            ),
            target: "example.com",
            parameters: dns_change("CAA", None, false, "abc123"),
            expect: None,
        },
        Case {
            name: "CAA value (raw) equals it",
            network: fake_network().records(
                "example.com",
                RecordType::CAA,
                vec![caa_raw(0, "tbs", "abc123")],
            ),
            target: "example.com",
            parameters: dns_change("CAA", None, true, "abc123"),
            expect: None,
        },
        Case {
            name: "CAA without the value",
            network: fake_network().records(
                "example.com",
                RecordType::CAA,
                vec![caa(0, "issue", "ca.example")],
            ),
            target: "example.com",
            parameters: dns_change("CAA", None, false, "abc123"),
            expect: Some("value_not_found"),
        },
        Case {
            name: "NXDOMAIN",
            network: fake_network(),
            target: "example.com",
            parameters: dns_change("TXT", Some("_dcv"), false, "abc123"),
            expect: Some("no_records"),
        },
    ]);
}

#[test]
fn contact_txt_methods() {
    let email = || json!({"validation_method": "contact-email-txt", "challenge_value": "Admin@Example.com"});
    let phone =
        || json!({"validation_method": "contact-phone-txt", "challenge_value": "+1-555-0100"});
    run_cases(vec![
        Case {
            name: "email, case-insensitive",
            network: fake_network().records(
                "_validation-contactemail.example.com",
                RecordType::TXT,
                vec![txt(&["admin@example.com"])],
            ),
            target: "example.com",
            parameters: email(),
            expect: None,
        },
        Case {
            name: "email at the base domain of a wildcard",
            network: fake_network().records(
                "_validation-contactemail.example.com",
                RecordType::TXT,
                vec![txt(&["admin@example.com"])],
            ),
            target: "*.example.com",
            parameters: email(),
            expect: None,
        },
        Case {
            name: "email must be the whole value",
            network: fake_network().records(
                "_validation-contactemail.example.com",
                RecordType::TXT,
                vec![txt(&["contact: admin@example.com"])],
            ),
            target: "example.com",
            parameters: email(),
            expect: Some("value_not_found"),
        },
        Case {
            name: "other email",
            network: fake_network().records(
                "_validation-contactemail.example.com",
                RecordType::TXT,
                vec![txt(&["other@example.com"])],
            ),
            target: "example.com",
            parameters: email(),
            expect: Some("value_not_found"),
        },
        Case {
            name: "phone with other visual separators",
            network: fake_network().records(
                "_validation-contactphone.example.com",
                RecordType::TXT,
                vec![txt(&["+1(555)0100"])],
            ),
            target: "example.com",
            parameters: phone(),
            expect: None,
        },
        Case {
            name: "other phone",
            network: fake_network().records(
                "_validation-contactphone.example.com",
                RecordType::TXT,
                vec![txt(&["+1-555-0199"])],
            ),
            target: "example.com",
            parameters: phone(),
            expect: Some("value_not_found"),
        },
        Case {
            name: "phone under the email label does not count",
            network: fake_network().records(
                "_validation-contactemail.example.com",
                RecordType::TXT,
                vec![txt(&["+1-555-0100"])],
            ),
            target: "example.com",
            parameters: phone(),
            expect: Some("no_records"),
        },
    ]);
}

#[test]
fn contact_caa_methods() {
    let email = || json!({"validation_method": "contact-email-caa", "challenge_value": "admin@example.com"});
    let phone =
        || json!({"validation_method": "contact-phone-caa", "challenge_value": "+15550100"});
    run_cases(vec![
        Case {
            name: "at the name itself",
            network: fake_network().records(
                "www.example.com",
                RecordType::CAA,
                vec![
                    caa(0, "issue", "ca.example"),
                    caa(0, "contactemail", "admin@example.com"),
                ],
            ),
            target: "www.example.com",
            parameters: email(),
            expect: None,
        },
        Case {
            name: "climbs over NXDOMAIN and NODATA to the parent",
            network: fake_network()
                .records("b.example.com", RecordType::CAA, vec![])
                .records(
                    "example.com",
                    RecordType::CAA,
                    vec![caa_raw(0, "ContactEmail", "admin@example.com")],
                ),
            target: "a.b.example.com",
            parameters: email(),
            expect: None,
        },
        Case {
            name: "wildcard climbs from the base domain",
            network: fake_network().records(
                "example.com",
                RecordType::CAA,
                vec![caa(0, "contactphone", "+1-555-0100")],
            ),
            target: "*.www.example.com",
            parameters: phone(),
            expect: None,
        },
        Case {
            name: "relevant RRset without a contact stops the climb",
            network: fake_network()
                .records(
                    "www.example.com",
                    RecordType::CAA,
                    vec![caa(0, "issue", "ca.example")],
                )
                .records(
                    "example.com",
                    RecordType::CAA,
                    vec![caa(0, "contactemail", "admin@example.com")],
                ),
            target: "www.example.com",
            parameters: email(),
            expect: Some("no_contact_in_caa"),
        },
        Case {
            name: "contactphone is not contactemail",
            network: fake_network().records(
                "example.com",
                RecordType::CAA,
                vec![caa(0, "contactphone", "admin@example.com")],
            ),
            target: "example.com",
            parameters: email(),
            expect: Some("no_contact_in_caa"),
        },
        Case {
            name: "other address",
            network: fake_network().records(
                "example.com",
                RecordType::CAA,
                vec![caa(0, "contactemail", "other@example.com")],
            ),
            target: "example.com",
            parameters: email(),
            expect: Some("value_not_found"),
        },
        Case {
            name: "SERVFAIL stops the climb",
            network: fake_network()
                .rcode("www.example.com", RecordType::CAA, ResponseCode::ServFail)
                .records(
                    "example.com",
                    RecordType::CAA,
                    vec![caa(0, "contactemail", "admin@example.com")],
                ),
            target: "www.example.com",
            parameters: email(),
            expect: Some("dns_rcode"),
        },
        Case {
            name: "no response stops the climb",
            network: fake_network()
                .dns_error("www.example.com", RecordType::CAA, DnsError::Timeout)
                .records(
                    "example.com",
                    RecordType::CAA,
                    vec![caa(0, "contactemail", "admin@example.com")],
                ),
            target: "www.example.com",
            parameters: email(),
            expect: Some("dns_lookup"),
        },
        Case {
            name: "no CAA anywhere",
            network: fake_network(),
            target: "www.example.com",
            parameters: email(),
            expect: Some("no_relevant_caa_records"),
        },
    ]);
}

/// Asked at once, read in order: a failure below the name holding the
/// contact still fails the check, as in the sequential climb.
#[test]
fn contact_caa_failure_below_the_contact_is_a_failure() {
    let network = fake_network()
        .rcode("b.example.com", RecordType::CAA, ResponseCode::ServFail)
        .records(
            "example.com",
            RecordType::CAA,
            vec![caa(0, "contactemail", "admin@example.com")],
        );
    let (target, parameters) = request(
        "a.b.example.com",
        json!({"validation_method": "contact-email-caa", "challenge_value": "admin@example.com"}),
    );
    let observation = pollster::block_on(check_dcv(
        &network,
        &target,
        &parameters,
        &DcvContext::new(NOW),
    ));
    assert!(!observation.passed);
    assert!(
        observation
            .failure
            .as_ref()
            .is_some_and(DcvFailure::is_lookup_failure),
        "{:?}",
        observation.failure
    );
    let DcvEvidence::Dns(evidence) = observation.evidence else {
        panic!()
    };
    assert_eq!(evidence.found_at, None);
}

#[test]
fn contact_caa_climb_order_and_evidence() {
    let network = fake_network().records(
        "example.com",
        RecordType::CAA,
        vec![caa(0, "contactemail", "admin@example.com")],
    );
    let (target, parameters) = request(
        "a.b.example.com",
        json!({"validation_method": "contact-email-caa", "challenge_value": "admin@example.com"}),
    );
    let observation = pollster::block_on(check_dcv(
        &network,
        &target,
        &parameters,
        &DcvContext::new(NOW),
    ));
    assert!(observation.passed);
    // Every name up to the TLD is asked at once, in climb order; the
    // nearest non-empty answer decides, and the evidence lists them all.
    assert_eq!(
        network.asked_lines(),
        [
            "a.b.example.com CAA",
            "b.example.com CAA",
            "example.com CAA",
            "com CAA"
        ]
    );
    let DcvEvidence::Dns(evidence) = observation.evidence else {
        panic!()
    };
    assert_eq!(evidence.found_at.as_deref(), Some("example.com"));
    assert_eq!(evidence.lookups.len(), 4);
    assert_eq!(
        evidence.lookups[2].records_seen,
        ["0 contactemail \"admin@example.com\""]
    );
    assert_eq!(evidence.lookups[0].rcode, Some(3));

    // With nothing anywhere, the climb stops at the TLD, never asks the root.
    let network = fake_network();
    let observation = pollster::block_on(check_dcv(
        &network,
        &target,
        &parameters,
        &DcvContext::new(NOW),
    ));
    assert!(!observation.passed);
    assert_eq!(
        network.asked_lines().last().map(String::as_str),
        Some("com CAA")
    );
}

#[test]
fn ip_address_method() {
    let v4 = || json!({"validation_method": "ip-address", "challenge_value": "192.0.2.1", "dns_record_type": "A"});
    let v6 = || json!({"validation_method": "ip-address", "challenge_value": "2001:db8::1", "dns_record_type": "AAAA"});
    run_cases(vec![
        Case {
            name: "A contains the address",
            network: fake_network().records(
                "example.com",
                RecordType::A,
                vec![address("192.0.2.7"), address("192.0.2.1")],
            ),
            target: "example.com",
            parameters: v4(),
            expect: None,
        },
        Case {
            name: "AAAA compared as an address, not text",
            network: fake_network().records(
                "example.com",
                RecordType::AAAA,
                vec![address("2001:0db8:0000::0001")],
            ),
            target: "example.com",
            parameters: v6(),
            expect: None,
        },
        Case {
            name: "other address",
            network: fake_network().records(
                "example.com",
                RecordType::A,
                vec![address("192.0.2.2")],
            ),
            target: "example.com",
            parameters: v4(),
            expect: Some("value_not_found"),
        },
        Case {
            name: "address only in AAAA when A was asked",
            network: fake_network().records(
                "example.com",
                RecordType::AAAA,
                vec![address("2001:db8::1")],
            ),
            target: "example.com",
            parameters: v4(),
            expect: Some("no_records"),
        },
    ]);
}

#[test]
fn reverse_address_lookup_method() {
    let parameters = || json!({"validation_method": "reverse-address-lookup", "challenge_value": "host.example.com"});
    run_cases(vec![
        Case {
            name: "PTR names the domain, case and root dot ignored",
            network: fake_network().records(
                "1.2.0.192.in-addr.arpa",
                RecordType::PTR,
                vec![ptr("HOST.example.com.")],
            ),
            target: "192.0.2.1",
            parameters: parameters(),
            expect: None,
        },
        Case {
            name: "IPv6",
            network: fake_network().records(
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
                RecordType::PTR,
                vec![ptr("host.example.com")],
            ),
            target: "2001:db8::1",
            parameters: parameters(),
            expect: None,
        },
        Case {
            name: "reverse name as the target",
            network: fake_network().records(
                "1.2.0.192.in-addr.arpa",
                RecordType::PTR,
                vec![ptr("host.example.com")],
            ),
            target: "1.2.0.192.in-addr.arpa",
            parameters: parameters(),
            expect: None,
        },
        Case {
            name: "PTR names a subdomain only",
            network: fake_network().records(
                "1.2.0.192.in-addr.arpa",
                RecordType::PTR,
                vec![ptr("a.host.example.com")],
            ),
            target: "192.0.2.1",
            parameters: parameters(),
            expect: Some("value_not_found"),
        },
        Case {
            name: "no PTR",
            network: fake_network(),
            target: "192.0.2.1",
            parameters: parameters(),
            expect: Some("no_records"),
        },
    ]);
}

#[test]
fn dns_persistent_method() {
    let parameters = || {
        json!({"validation_method": "dns-persistent", "issuer_domain_names": ["authority.example"],
               "account_uri": "https://ca.example/acct/123"})
    };
    let name = "_validation-persist.example.com";
    run_cases(vec![
        Case {
            name: "record for this CA and account",
            network: fake_network().records(
                name,
                RecordType::TXT,
                vec![
                    txt(&["other.example; accounturi=https://other.example/1"]),
                    txt(&["authority.example; accounturi=https://ca.example/acct/123"]),
                ],
            ),
            target: "example.com",
            parameters: parameters(),
            expect: None,
        },
        Case {
            name: "wildcard with policy=wildcard at the base domain",
            network: fake_network().records(
                name,
                RecordType::TXT,
                vec![txt(&["authority.example; accounturi=https://ca.example/acct/123; policy=wildcard"])],
            ),
            target: "*.example.com",
            parameters: parameters(),
            expect: None,
        },
        Case {
            name: "wildcard without policy",
            network: fake_network().records(
                name,
                RecordType::TXT,
                vec![txt(&["authority.example; accounturi=https://ca.example/acct/123"])],
            ),
            target: "*.example.com",
            parameters: parameters(),
            expect: Some("no_acceptable_persist_record"),
        },
        Case {
            name: "expired",
            network: fake_network().records(
                name,
                RecordType::TXT,
                vec![txt(&["authority.example; accounturi=https://ca.example/acct/123; persistUntil=1600000000"])],
            ),
            target: "example.com",
            parameters: parameters(),
            expect: Some("no_acceptable_persist_record"),
        },
        Case {
            name: "no record",
            network: fake_network(),
            target: "example.com",
            parameters: parameters(),
            expect: Some("no_records"),
        },
    ]);
}

#[test]
fn persistent_failure_lists_each_rejection() {
    let network = fake_network().records(
        "_validation-persist.example.com",
        RecordType::TXT,
        vec![
            txt(&["other.example; accounturi=https://ca.example/acct/123"]),
            txt(&["authority.example; accounturi=https://ca.example/acct/999"]),
        ],
    );
    let (target, parameters) = request(
        "example.com",
        json!({"validation_method": "dns-persistent", "issuer_domain_names": ["authority.example"],
               "account_uri": "https://ca.example/acct/123"}),
    );
    let observation = pollster::block_on(check_dcv(
        &network,
        &target,
        &parameters,
        &DcvContext::new(NOW),
    ));
    let Some(DcvFailure::NoAcceptablePersistRecord { rejections, .. }) = observation.failure else {
        panic!("{observation:?}")
    };
    assert_eq!(
        rejections,
        [
            PersistRejection::OtherIssuer {
                issuer: "other.example".into()
            },
            PersistRejection::OtherAccount {
                found: "https://ca.example/acct/999".into()
            },
        ]
    );
}

#[test]
fn dispatcher_refuses_targets_and_tls_alpn() {
    let network = fake_network();
    let context = DcvContext::new(NOW);
    // Built directly: the request validator would refuse these combinations.
    let (_, http) = request("example.com", http_01());
    let wildcard = Target::parse("*.example.com").unwrap();
    let observation = pollster::block_on(check_dcv(&network, &wildcard, &http, &context));
    assert_eq!(
        observation.failure,
        Some(DcvFailure::TargetNotAllowed {
            detail: TargetNotAllowed::Wildcard(ValidationMethod::AcmeHttp01)
        })
    );
    let (_, dns01) = request(
        "example.com",
        json!({"validation_method": "acme-dns-01", "key_authorization_hash": digest_b64()}),
    );
    let ip = Target::parse("192.0.2.1").unwrap();
    let observation = pollster::block_on(check_dcv(&network, &ip, &dns01, &context));
    assert_eq!(
        observation.failure,
        Some(DcvFailure::TargetNotAllowed {
            detail: TargetNotAllowed::IpAddress(ValidationMethod::AcmeDns01)
        })
    );
    assert!(
        network.asked_lines().is_empty(),
        "no I/O for refused checks"
    );
}

#[test]
fn query_names_that_are_too_long_fail_without_io() {
    let long = format!(
        "{}.{}.com",
        vec!["a".repeat(63); 3].join("."),
        "b".repeat(50)
    );
    let network = fake_network();
    let (target, parameters) = request(
        &long,
        json!({"validation_method": "acme-dns-01", "key_authorization_hash": digest_b64()}),
    );
    let observation = pollster::block_on(check_dcv(
        &network,
        &target,
        &parameters,
        &DcvContext::new(NOW),
    ));
    assert!(matches!(
        observation.failure,
        Some(DcvFailure::QueryName { .. })
    ));
    assert!(network.asked_lines().is_empty());
}

#[test]
fn lookup_failures_are_classified() {
    let cases = [
        (
            DcvFailure::DnsLookup {
                name: "x".into(),
                error: DnsError::Timeout,
            },
            true,
        ),
        (
            DcvFailure::DnsRcode {
                name: "x".into(),
                rcode: 2,
            },
            true,
        ),
        (
            DcvFailure::Http {
                detail: FetchError::Http(HttpError::Timeout),
            },
            true,
        ),
        (
            DcvFailure::Http {
                detail: FetchError::Non2xx(404),
            },
            false,
        ),
        (DcvFailure::NoRecords { name: "x".into() }, false),
        (DcvFailure::ValueNotFound { name: "x".into() }, false),
    ];
    for (failure, lookup) in cases {
        assert_eq!(failure.is_lookup_failure(), lookup, "{failure:?}");
    }
}

proptest::proptest! {
    /// Issue 15 item 1: an HTTP-based DCV of a domain target asks for URLs
    /// whose host is that domain, so the network must resolve the domain
    /// before it connects; a name that a URL parser reads as an address
    /// (`127.0x0.0x0.0x1`) never reaches this point.
    #[test]
    fn http_dcv_of_a_domain_never_names_an_address(
        labels in proptest::collection::vec("(0[xX])?[0-9a-fA-F]{0,3}|[a-z0-9]{1,3}", 2..5),
        method in 0usize..3,
    ) {
        let parameters = [
            http_01(),
            json!({"validation_method": "website-change", "http_token_path": "p.txt",
                   "challenge_value": "v", "url_scheme": "http"}),
            json!({"validation_method": "website-change", "http_token_path": "p.txt",
                   "challenge_value": "v", "url_scheme": "https"}),
        ][method].clone();
        let body = json!({"check_type": "dcv", "domain_or_ip_target": labels.join("."),
                          "dcv_check_parameters": parameters});
        if let Ok(request) = CheckRequest::from_value(&body)
            && let (Some(domain), CheckParameters::Dcv(parameters)) =
                (request.target.domain(), &request.parameters)
        {
            let network = fake_network();
            pollster::block_on(check_dcv(&network, &request.target, parameters, &DcvContext::new(NOW)));
            let asked = network.asked_lines();
            let gets: Vec<_> = asked.iter().filter_map(|a| a.strip_prefix("GET ")).collect();
            proptest::prop_assert!(!gets.is_empty(), "{body}: no GET");
            for get in gets {
                let host = url::Url::parse(get).ok().and_then(|u| u.host().map(|h| h.to_owned()));
                proptest::prop_assert_eq!(host, Some(url::Host::Domain(domain.as_str().to_owned())), "{}", get);
            }
        }
    }
}

/// Issue 14 item 4: a challenge that is well-typed but can never be met is
/// read without a 400 and fails at the perspective with its reason, before
/// anything is fetched or looked up.
#[test]
fn challenges_that_can_never_be_met_fail_with_their_reason_before_any_io() {
    let served = KEY_AUTHORIZATION.as_bytes();
    let everything = || {
        fake_network()
            .page(
                "http://example.com/.well-known/acme-challenge/tok-2",
                200,
                None,
                served,
            )
            .page(
                "http://example.com/.well-known/acme-challenge/tok%2F..%2Fx",
                200,
                None,
                served,
            )
            .records("example.com", RecordType::AAAA, vec![address("::1")])
            .records(
                "_validation-contactemail.example.com",
                RecordType::TXT,
                vec![txt(&["no-at-sign"])],
            )
            .records(
                "example.com",
                RecordType::CAA,
                vec![caa(0, "contactphone", "555 0100")],
            )
    };
    let cases: Vec<(Value, UnusableChallenge)> = vec![
        (
            // The compliance suite's "Redirect 302" request: a token whose
            // key authorization is another token's.
            json!({"validation_method": "acme-http-01", "token": "tok-2", "key_authorization": KEY_AUTHORIZATION}),
            UnusableChallenge::KeyAuthorizationNotForToken,
        ),
        (
            json!({"validation_method": "acme-http-01", "token": "tok-2", "key_authorization": "tok-2.not base64"}),
            UnusableChallenge::KeyAuthorizationNotForToken,
        ),
        (
            json!({"validation_method": "acme-http-01", "token": "tok/../x", "key_authorization": "tok/../x.abc"}),
            UnusableChallenge::TokenNotBase64Url,
        ),
        (
            json!({"validation_method": "ip-address", "challenge_value": "192.0.2.1", "dns_record_type": "AAAA"}),
            UnusableChallenge::AddressFamilyMismatch {
                address: "192.0.2.1".parse().unwrap(),
                record_type: crate::check::AddressRecordType::Aaaa,
            },
        ),
        (
            // The compliance suite's IPv6 address with nine groups.
            json!({"validation_method": "ip-address", "challenge_value": "2001:db8:0:0:0:0:0:0:1", "dns_record_type": "AAAA"}),
            UnusableChallenge::NotAnIpAddress,
        ),
        (
            json!({"validation_method": "contact-email-txt", "challenge_value": "no-at-sign"}),
            UnusableChallenge::NotAnEmailAddress,
        ),
        (
            json!({"validation_method": "contact-phone-caa", "challenge_value": "555 0100"}),
            UnusableChallenge::NotAGlobalPhoneNumber,
        ),
    ];
    for (parameters, expected) in cases {
        let network = everything();
        let (target, parameters) = request("example.com", parameters);
        let observation = pollster::block_on(check_dcv(
            &network,
            &target,
            &parameters,
            &DcvContext::new(NOW),
        ));
        assert_eq!(
            observation.failure,
            Some(DcvFailure::UnusableChallenge {
                detail: expected.clone()
            }),
            "{parameters:?}"
        );
        assert_eq!(observation.evidence, DcvEvidence::None);
        assert!(network.asked_lines().is_empty(), "{expected:?} did I/O");
        let failure = observation.failure.unwrap();
        assert!(!failure.is_lookup_failure(), "{failure}");
        let json = serde_json::to_value(&failure).unwrap();
        assert_eq!(json["reason"], "unusable_challenge");
    }
}

#[test]
fn require_exact_case_false_compares_without_ascii_case() {
    let url = "http://example.com/.well-known/pki-validation/pki.txt";
    run_cases(vec![
        Case {
            name: "website-change: case differs, exact case by default",
            network: fake_network().page(url, 200, None, b"<p>RND-123</p>"),
            target: "example.com",
            parameters: website(json!({})),
            expect: Some("challenge_value_not_in_body"),
        },
        Case {
            name: "website-change: case differs, require_exact_case false",
            network: fake_network().page(url, 200, None, b"<p>RND-123</p>"),
            target: "example.com",
            parameters: website(json!({"require_exact_case": false})),
            expect: None,
        },
        Case {
            name: "dns-change TXT: case differs, exact case by default",
            network: fake_network().records(
                "_dcv.example.com",
                RecordType::TXT,
                vec![txt(&["RND-123"])],
            ),
            target: "example.com",
            parameters: dns_change("TXT", Some("_dcv"), false, "rnd-123"),
            expect: Some("value_not_found"),
        },
        Case {
            name: "dns-change TXT: case differs, require_exact_case false",
            network: fake_network().records(
                "_dcv.example.com",
                RecordType::TXT,
                vec![txt(&["RND-123"])],
            ),
            target: "example.com",
            parameters: {
                let mut p = dns_change("TXT", Some("_dcv"), true, "rnd-123");
                p["require_exact_case"] = json!(false);
                p
            },
            expect: None,
        },
        Case {
            name: "dns-change CAA: always without case, as Open MPIC forces",
            network: fake_network().records(
                "example.com",
                RecordType::CAA,
                vec![caa(0, "issue", "CA.Example; x=RND-123")],
            ),
            target: "example.com",
            parameters: dns_change("CAA", None, false, "rnd-123"),
            expect: None,
        },
    ]);
}

#[test]
fn http_headers_of_the_request_go_with_every_get_of_the_check() {
    let url = "http://example.com/.well-known/acme-challenge/tok-1";
    let network = fake_network()
        .page(url, 302, Some("http://www.example.com/c"), b"")
        .page(
            "http://www.example.com/c",
            200,
            None,
            KEY_AUTHORIZATION.as_bytes(),
        );
    let mut parameters = http_01();
    parameters["http_headers"] = json!({"User-Agent": "ca.example validation", "X-Ca": "1"});
    let (target, parameters) = request("example.com", parameters);
    let observation = pollster::block_on(check_dcv(
        &network,
        &target,
        &parameters,
        &DcvContext::new(NOW),
    ));
    assert!(observation.passed, "{observation:?}");
    assert_eq!(
        network.asked_lines(),
        [
            format!("GET {url} User-Agent: ca.example validation X-Ca: 1"),
            "GET http://www.example.com/c User-Agent: ca.example validation X-Ca: 1".to_owned(),
        ]
    );
}

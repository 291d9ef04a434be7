#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::*;

const KEY_AUTHORIZATION: &str = "tok-en_1.thumbprint_abc-DEF";
/// A base64url SHA-256 digest, as Open MPIC's compliance suite sends.
const HASH: &str = "7FwkJPsKf-TH54wu4eiIFA3nhzYaevsL7953ihy-tpo";

fn issues_of(value: Value) -> Vec<String> {
    match CheckRequest::from_value(&value) {
        Ok(request) => panic!("accepted: {request:?}"),
        Err(error) => error.issues().iter().map(ToString::to_string).collect(),
    }
}

fn accept(value: Value) -> CheckRequest {
    CheckRequest::from_value(&value).unwrap_or_else(|e| panic!("{value}: {e}"))
}

fn dcv(target: &str, parameters: Value) -> Value {
    json!({"check_type": "dcv", "domain_or_ip_target": target, "dcv_check_parameters": parameters})
}

#[test]
fn open_mpic_example_caa_request() {
    let request = CheckRequest::from_json(
        br#"{"check_type":"caa","domain_or_ip_target":"example.com","trace_identifier":"ac2d0392-8699-4037-a0e0-0a6db1ff8b89"}"#,
    )
    .unwrap();
    assert_eq!(request.check_type(), CheckType::Caa);
    assert_eq!(request.target.to_string(), "example.com");
    assert_eq!(
        request.trace_identifier.as_deref(),
        Some("ac2d0392-8699-4037-a0e0-0a6db1ff8b89")
    );
    let CheckParameters::Caa(caa) = &request.parameters else {
        panic!("not caa")
    };
    assert_eq!(
        caa.certificate_type_or_default(),
        CertificateType::TlsServer
    );
}

#[test]
fn every_method_accepts_its_valid_parameters_and_round_trips() {
    let hash_b64 =
        data_encoding::BASE64URL_NOPAD.encode(&key_authorization_digest(KEY_AUTHORIZATION));
    let hash_hex = data_encoding::HEXLOWER.encode(&key_authorization_digest(KEY_AUTHORIZATION));
    let cases: Vec<(&str, Value, ValidationMethod)> = vec![
        (
            "example.com",
            json!({"validation_method": "acme-http-01", "token": "tok-en_1", "key_authorization": KEY_AUTHORIZATION}),
            ValidationMethod::AcmeHttp01,
        ),
        (
            "192.0.2.1",
            json!({"validation_method": "acme-http-01", "token": "tok-en_1", "key_authorization": KEY_AUTHORIZATION,
                   "http_headers": {"User-Agent": "ca.example"}}),
            ValidationMethod::AcmeHttp01,
        ),
        (
            "*.example.com",
            json!({"validation_method": "acme-dns-01", "key_authorization_hash": hash_b64}),
            ValidationMethod::AcmeDns01,
        ),
        (
            "example.com",
            json!({"validation_method": "acme-tls-alpn-01", "key_authorization_hash": hash_hex}),
            ValidationMethod::AcmeTlsAlpn01,
        ),
        (
            "example.com",
            json!({"validation_method": "website-change", "http_token_path": "a/b.txt", "challenge_value": "rnd",
                   "match_regex": "^rnd$", "url_scheme": "https"}),
            ValidationMethod::WebsiteChange,
        ),
        (
            "*.example.com",
            json!({"validation_method": "dns-change", "challenge_value": "rnd", "dns_record_type": "TXT",
                   "dns_name_prefix": "_dcv", "require_exact_match": true}),
            ValidationMethod::DnsChange,
        ),
        (
            "example.com",
            json!({"validation_method": "contact-email-txt", "challenge_value": "admin@example.com"}),
            ValidationMethod::ContactEmailTxt,
        ),
        (
            "example.com",
            json!({"validation_method": "contact-email-caa", "challenge_value": "admin@example.com"}),
            ValidationMethod::ContactEmailCaa,
        ),
        (
            "example.com",
            json!({"validation_method": "contact-phone-txt", "challenge_value": "+1-555-0100"}),
            ValidationMethod::ContactPhoneTxt,
        ),
        (
            "example.com",
            json!({"validation_method": "contact-phone-caa", "challenge_value": "+1 (555) 0100".replace(' ', "")}),
            ValidationMethod::ContactPhoneCaa,
        ),
        (
            "example.com",
            json!({"validation_method": "ip-address", "challenge_value": "2001:db8::1", "dns_record_type": "AAAA"}),
            ValidationMethod::IpAddress,
        ),
        (
            "192.0.2.1",
            json!({"validation_method": "reverse-address-lookup", "challenge_value": "host.example.com."}),
            ValidationMethod::ReverseAddressLookup,
        ),
        (
            "*.example.com",
            json!({"validation_method": "dns-persistent", "issuer_domain_names": ["ca.example"],
                   "account_uri": "https://ca.example/acct/1"}),
            ValidationMethod::DnsPersistent,
        ),
        (
            "example.com",
            json!({"validation_method": "dns-account-01", "account_uri": "https://ca.example/acct/1",
                   "key_authorization": KEY_AUTHORIZATION}),
            ValidationMethod::DnsAccount01,
        ),
    ];
    for (target, parameters, method) in cases {
        let request = accept(dcv(target, parameters.clone()));
        let CheckParameters::Dcv(dcv_parameters) = &request.parameters else {
            panic!("not dcv")
        };
        assert_eq!(dcv_parameters.method(), method);
        let json = serde_json::to_vec(&request).unwrap();
        let again = CheckRequest::from_json(&json).unwrap_or_else(|e| panic!("{method}: {e}"));
        assert_eq!(again, request, "{method} round trip");
    }
}

#[test]
fn digests_decode_in_the_form_each_method_uses() {
    let digest = key_authorization_digest(KEY_AUTHORIZATION);
    let request = accept(dcv(
        "example.com",
        json!({"validation_method": "acme-dns-01", "key_authorization": KEY_AUTHORIZATION}),
    ));
    let CheckParameters::Dcv(DcvCheckParameters::AcmeDns01(p)) = &request.parameters else {
        panic!()
    };
    assert_eq!(p.key_authorization_digest, digest);
    // The serialised form is the Open MPIC hash.
    let json = serde_json::to_value(&request).unwrap();
    assert_eq!(
        json["dcv_check_parameters"]["key_authorization_hash"],
        data_encoding::BASE64URL_NOPAD.encode(&digest)
    );
    assert!(
        json["dcv_check_parameters"]
            .get("key_authorization")
            .is_none()
    );

    let request = accept(dcv(
        "example.com",
        json!({"validation_method": "acme-tls-alpn-01",
               "key_authorization_hash": data_encoding::HEXUPPER.encode(&digest)}),
    ));
    let CheckParameters::Dcv(DcvCheckParameters::AcmeTlsAlpn01(p)) = &request.parameters else {
        panic!()
    };
    assert_eq!(p.key_authorization_digest, digest);
}

#[test]
fn reverse_lookup_name_target_reads_as_the_address() {
    let request = accept(dcv(
        "1.2.0.192.in-addr.arpa",
        json!({"validation_method": "reverse-address-lookup", "challenge_value": "host.example.com"}),
    ));
    assert_eq!(request.target, Target::Ip("192.0.2.1".parse().unwrap()));
}

#[test]
fn issues_name_the_field_path() {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!([]), vec!["(body): must be a JSON object"]),
        (
            json!({"check_type": "dcv", "domain_or_ip_target": "example.com"}),
            vec!["dcv_check_parameters: missing"],
        ),
        (
            json!({"check_type": "caa"}),
            vec!["domain_or_ip_target: missing"],
        ),
        (
            json!({"check_type": "other", "domain_or_ip_target": "example.com"}),
            vec!["check_type: `other` is not `caa` or `dcv`"],
        ),
        (
            json!({"check_type": "caa", "domain_or_ip_target": "example.com", "extra": 1}),
            vec!["extra: unknown field"],
        ),
        (
            json!({"check_type": "caa", "domain_or_ip_target": "example.com.", "trace_identifier": 5}),
            vec![
                "trace_identifier: must be a string",
                "domain_or_ip_target: the name ends with a dot; give the FQDN without the trailing dot",
            ],
        ),
        (
            dcv(
                "example.com",
                json!({"validation_method": "acme-http-01", "token": "t"}),
            ),
            vec!["dcv_check_parameters.key_authorization: missing"],
        ),
        (
            dcv(
                "example.com",
                json!({"validation_method": "acme-http-01", "token": "t", "key_authorization": "t.x", "keyauth": "t.x"}),
            ),
            vec!["dcv_check_parameters.keyauth: unknown field"],
        ),
        (
            dcv(
                "example.com",
                json!({"validation_method": "acme-http-01", "token": "t", "key_authorization": "t.x",
                       "require_exact_case": false, "http_headers": {"Host": "other.example", "User-Agent": "ca"}}),
            ),
            vec![
                "dcv_check_parameters.require_exact_case: must be true for this validation_method (Open MPIC fixes it)",
                "dcv_check_parameters.http_headers.Host: Host frames or routes the exchange",
            ],
        ),
        (
            dcv(
                "example.com",
                json!({"validation_method": "acme-dns-01", "key_authorization_hash": HASH,
                       "dns_record_type": "TXT", "dns_name_prefix": "_other"}),
            ),
            vec![
                "dcv_check_parameters.dns_name_prefix: must be \"_acme-challenge\" for this validation_method",
            ],
        ),
        (
            dcv(
                "example.com",
                json!({"validation_method": "ip-address", "challenge_value": "192.0.2.1", "dns_record_type": "A",
                       "dns_name_prefix": "_x"}),
            ),
            vec![
                "dcv_check_parameters.dns_name_prefix: ip-address looks up the domain itself (BR 3.2.2.4); a prefix label is not used",
            ],
        ),
        (
            dcv("example.com", json!({"validation_method": "http-01"})),
            vec![
                "dcv_check_parameters.validation_method: `http-01` is not one of acme-http-01, acme-dns-01, acme-tls-alpn-01, website-change, dns-change, contact-email-txt, contact-email-caa, contact-phone-txt, contact-phone-caa, ip-address, reverse-address-lookup, dns-persistent, dns-account-01",
            ],
        ),
        (
            dcv("example.com", json!({"validation_method": "acme-dns-01"})),
            vec!["dcv_check_parameters.key_authorization_hash: missing"],
        ),
        (
            dcv(
                "example.com",
                json!({"validation_method": "acme-dns-01", "key_authorization_hash": "abc"}),
            ),
            vec![
                "dcv_check_parameters.key_authorization_hash: must be the base64url without padding encoding of a 32-byte SHA-256 digest",
            ],
        ),
        (
            dcv(
                "example.com",
                json!({"validation_method": "acme-dns-01", "key_authorization_hash": "abc", "key_authorization": "a.b"}),
            ),
            vec![
                "dcv_check_parameters.key_authorization: give key_authorization_hash or key_authorization, not both",
            ],
        ),
        (
            dcv(
                "example.com",
                json!({"validation_method": "acme-tls-alpn-01", "key_authorization_hash": "zz"}),
            ),
            vec![
                "dcv_check_parameters.key_authorization_hash: must be the hex encoding of a 32-byte SHA-256 digest",
            ],
        ),
        (
            dcv(
                "example.com",
                json!({"validation_method": "website-change", "http_token_path": "../x", "challenge_value": "v",
                       "url_scheme": "ftp", "http_headers": {"Bad Name": "x"}}),
            ),
            vec![
                "dcv_check_parameters.http_token_path: must be `/`-separated segments of letters, digits and `-._~`, without `.` or `..` segments or a leading `/`",
                "dcv_check_parameters.url_scheme: `ftp` is not `http` or `https`",
                "dcv_check_parameters.http_headers.Bad Name: is not an HTTP header name",
            ],
        ),
        (
            dcv(
                "example.com",
                json!({"validation_method": "website-change", "http_token_path": "v123.txt", "challenge_value": "v123"}),
            ),
            vec![
                "dcv_check_parameters.challenge_value: must not appear in http_token_path (BR 3.2.2.4.18)",
            ],
        ),
        (
            dcv(
                "example.com",
                json!({"validation_method": "dns-change", "challenge_value": "v", "dns_record_type": "MX",
                       "dns_name_prefix": "dcv", "require_exact_match": "yes"}),
            ),
            vec![
                "dcv_check_parameters.dns_record_type: `MX` is not `TXT`, `CNAME` or `CAA`",
                "dcv_check_parameters.dns_name_prefix: must be one label starting with `_` (BR 3.2.2.4.7), at most 63 octets of letters, digits, `-` and `_`",
                "dcv_check_parameters.require_exact_match: must be true or false",
            ],
        ),
        (
            dcv(
                "example.com",
                json!({"validation_method": "contact-email-caa", "challenge_value": "a@example.com",
                       "dns_record_type": "TXT", "require_exact_case": true}),
            ),
            vec![
                "dcv_check_parameters.dns_record_type: must be \"CAA\" for this validation_method",
                "dcv_check_parameters.require_exact_case: must be false for this validation_method",
            ],
        ),
        (
            dcv(
                "example.com",
                json!({"validation_method": "dns-persistent", "issuer_domain_names": ["ca.example", "bad_name.example"],
                       "account_uri": "not a uri"}),
            ),
            vec![
                "dcv_check_parameters.issuer_domain_names[1]: label `bad_name` contains `_`: only letters, digits and hyphens are allowed",
                "dcv_check_parameters.account_uri: must be an absolute URI without spaces or `;`",
            ],
        ),
        (
            dcv(
                "example.com",
                json!({"validation_method": "dns-persistent", "issuer_domain_names": ["ca.example"],
                       "account_uri": "https://ca.example/acct/1", "expected_account_uri": "https://ca.example/acct/1"}),
            ),
            vec![
                "dcv_check_parameters.account_uri: give expected_account_uri or account_uri (another name for it), not both",
            ],
        ),
        (
            dcv(
                "example.com",
                json!({"validation_method": "dns-persistent", "issuer_domain_names": [],
                                      "account_uri": "https://ca.example/acct/1"}),
            ),
            vec!["dcv_check_parameters.issuer_domain_names: must not be empty"],
        ),
        (
            json!({"check_type": "caa", "domain_or_ip_target": "example.com",
                   "caa_check_parameters": {"certificate_type": "code-signing", "caa_domains": ["ok.example", 3],
                                            "x_validation_method": "dns_01", "x_account_uri": "https://ca.example/a b"}}),
            vec![
                "caa_check_parameters.certificate_type: `code-signing` is not `tls-server` or `s-mime`",
                "caa_check_parameters.caa_domains[1]: must be a string",
                "caa_check_parameters.x_account_uri: must be an absolute URI without spaces or `;`",
                "caa_check_parameters.x_validation_method: must be an RFC 8657 validation method name (letters, digits, inner hyphens)",
            ],
        ),
        (
            json!({"check_type": "caa", "domain_or_ip_target": "example.com",
                   "dcv_check_parameters": {"validation_method": "acme-dns-01"}}),
            vec!["dcv_check_parameters: unknown field"],
        ),
        (
            json!({"check_type": "dcv", "domain_or_ip_target": "example.com", "caa_check_parameters": {},
                   "dcv_check_parameters": {"validation_method": "contact-email-txt", "challenge_value": "a@example.com"}}),
            vec!["caa_check_parameters: unknown field"],
        ),
        (
            json!({"check_type": "caa", "domain_or_ip_target": "example.com",
                   "orchestration_parameters": {"perspective_count": 3, "quorum_count": 4, "max_attempts": 0,
                                                "perspectives": ["x"]}}),
            vec![
                "orchestration_parameters.quorum_count: 4 is more than perspective_count (3)",
                "orchestration_parameters.perspectives: unknown field",
            ],
        ),
        (
            json!({"check_type": "caa", "domain_or_ip_target": "example.com",
                   "orchestration_parameters": {"perspective_count": -1}}),
            vec!["orchestration_parameters.perspective_count: must be a non-negative integer"],
        ),
        (
            json!({"check_type": "caa", "domain_or_ip_target": "192.0.2.1"}),
            vec!["domain_or_ip_target: CAA applies to domain names, not IP addresses"],
        ),
    ];
    for (value, expected) in cases {
        let got = issues_of(value.clone());
        assert_eq!(got.len(), expected.len(), "{value}: {got:?}");
        for (got, expected) in got.iter().zip(&expected) {
            assert!(
                got.starts_with(expected),
                "{value}:\n got {got}\nwant {expected}"
            );
        }
    }
}

#[test]
fn method_target_rules() {
    let ka = KEY_AUTHORIZATION;
    let hash = data_encoding::BASE64URL_NOPAD.encode(&key_authorization_digest(ka));
    let cases: Vec<(&str, Value, Option<&str>)> = vec![
        (
            "*.example.com",
            json!({"validation_method": "acme-http-01", "token": "tok-en_1", "key_authorization": ka}),
            Some("acme-http-01 is not suitable for validating wildcard domain names (BR 3.2.2.4)"),
        ),
        (
            "*.example.com",
            json!({"validation_method": "website-change", "http_token_path": "x", "challenge_value": "v"}),
            Some(
                "website-change is not suitable for validating wildcard domain names (BR 3.2.2.4)",
            ),
        ),
        (
            "*.example.com",
            json!({"validation_method": "acme-tls-alpn-01", "key_authorization": ka}),
            Some(
                "acme-tls-alpn-01 is not suitable for validating wildcard domain names (BR 3.2.2.4)",
            ),
        ),
        (
            "*.example.com",
            json!({"validation_method": "ip-address", "challenge_value": "192.0.2.1", "dns_record_type": "A"}),
            Some("ip-address is not suitable for validating wildcard domain names (BR 3.2.2.4)"),
        ),
        (
            "192.0.2.1",
            json!({"validation_method": "acme-dns-01", "key_authorization_hash": hash}),
            Some("acme-dns-01 validates domain names, not IP addresses"),
        ),
        (
            "192.0.2.1",
            json!({"validation_method": "contact-email-caa", "challenge_value": "a@example.com"}),
            Some("contact-email-caa validates domain names, not IP addresses"),
        ),
        (
            "example.com",
            json!({"validation_method": "reverse-address-lookup", "challenge_value": "example.com"}),
            Some("reverse-address-lookup validates IP addresses, not domain names"),
        ),
        (
            "2001:db8::1",
            json!({"validation_method": "acme-tls-alpn-01", "key_authorization": ka}),
            None,
        ),
        (
            "*.example.com",
            json!({"validation_method": "contact-phone-txt", "challenge_value": "+15550100"}),
            None,
        ),
    ];
    for (target, parameters, refusal) in cases {
        let result = CheckRequest::from_value(&dcv(target, parameters.clone()));
        match (result, refusal) {
            (Ok(_), None) => {}
            (Err(error), Some(message)) => assert_eq!(
                error.issues(),
                [RequestIssue {
                    field: "domain_or_ip_target".into(),
                    message: message.into()
                }],
                "{target} {parameters}"
            ),
            (other, _) => panic!("{target} {parameters}: {other:?}"),
        }
    }
}

#[test]
fn nulls_read_as_absent_for_optional_fields() {
    let request = accept(dcv(
        "example.com",
        json!({"validation_method": "website-change", "http_token_path": "x", "challenge_value": "v",
               "match_regex": null, "url_scheme": null, "http_headers": null}),
    ));
    let CheckParameters::Dcv(DcvCheckParameters::WebsiteChange(p)) = &request.parameters else {
        panic!()
    };
    assert_eq!(p.url_scheme_or_default(), UrlScheme::Http);
    assert!(p.match_regex.is_none());
}

#[test]
fn not_json_is_its_own_error() {
    assert!(matches!(
        CheckRequest::from_json(b"{not json"),
        Err(RequestError::NotJson(_))
    ));
}

/// Issue 15 item 6: serde_json keeps the last of repeated keys; a pipeline
/// whose parser keeps the first would disagree with us about the target.
#[test]
fn a_repeated_key_at_any_depth_refuses_the_body_naming_it() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"check_type":"caa","domain_or_ip_target":"a.example","domain_or_ip_target":"b.example"}"#,
            "domain_or_ip_target",
        ),
        (
            r#"{"check_type":"dcv","domain_or_ip_target":"a.example","dcv_check_parameters":
                {"validation_method":"acme-http-01","token":"t","token":"u","key_authorization":"t.k"}}"#,
            "dcv_check_parameters.token",
        ),
        (
            r#"{"check_type":"caa","domain_or_ip_target":"a.example",
                "caa_check_parameters":{"caa_domains":["ca.example"]},"caa_check_parameters":{}}"#,
            "caa_check_parameters",
        ),
    ];
    for (body, field) in cases {
        match CheckRequest::from_json(body.as_bytes()) {
            Err(RequestError::Invalid(issues)) => {
                assert_eq!(issues.len(), 1, "{body}: {issues:?}");
                assert_eq!(issues[0].field, *field, "{body}");
                assert!(issues[0].message.contains("more than once"), "{issues:?}");
            }
            other => panic!("{body}: {other:?}"),
        }
        // The serde path (how perspectives read a signed check call) agrees.
        let through_serde = serde_json::from_str::<CheckRequest>(body);
        assert!(through_serde.is_err(), "{body}");
    }
}

#[test]
fn trailing_bytes_after_the_body_are_not_json() {
    assert!(matches!(
        CheckRequest::from_json(br#"{"check_type":"caa","domain_or_ip_target":"a.example"} x"#),
        Err(RequestError::NotJson(_))
    ));
}

#[test]
fn caa_extensions_round_trip() {
    let request = accept(json!({
        "check_type": "caa", "domain_or_ip_target": "*.Example.com",
        "caa_check_parameters": {"certificate_type": "s-mime", "caa_domains": ["CA.example"],
            "allow_lookup_failure": true, "x_account_uri": "https://ca.example/acct/1", "x_validation_method": "dns-01"},
        "orchestration_parameters": {"perspective_count": 6, "quorum_count": 4, "max_attempts": 2}
    }));
    let value = serde_json::to_value(&request).unwrap();
    assert_eq!(
        value,
        json!({
            "check_type": "caa", "domain_or_ip_target": "*.example.com",
            "orchestration_parameters": {"perspective_count": 6, "quorum_count": 4, "max_attempts": 2},
            "caa_check_parameters": {"certificate_type": "s-mime", "caa_domains": ["ca.example"],
                "allow_lookup_failure": true, "x_account_uri": "https://ca.example/acct/1", "x_validation_method": "dns-01"}
        })
    );
    let again: CheckRequest = serde_json::from_value(value).unwrap();
    assert_eq!(again, request);
}

#[test]
fn unknown_fields_are_set_aside_and_named_when_ignoring_and_refused_otherwise() {
    let body = json!({
        "check_type": "dcv", "domain_or_ip_target": "example.com", "colour": "blue",
        "caa_check_parameters": {"certificate_type": "tls-server"},
        "orchestration_parameters": {"perspective_count": 6, "perspectives": ["x"]},
        "dcv_check_parameters": {"validation_method": "acme-dns-01", "key_authorization_hash": HASH,
                                 "dns_record_type": "TXT", "dns_name_prefix": "_acme-challenge",
                                 "require_exact_case": true, "typo_field": 1},
    });
    let read = CheckRequest::read_value(&body, UnknownFields::Ignore).unwrap();
    let mut ignored = read.ignored_fields.clone();
    ignored.sort();
    assert_eq!(
        ignored,
        [
            "caa_check_parameters",
            "colour",
            "dcv_check_parameters.typo_field",
            "orchestration_parameters.perspectives",
        ]
    );
    // The fields Open MPIC fixes for acme-dns-01 are known, not ignored.
    let strict = CheckRequest::read_value(&body, UnknownFields::Refuse).unwrap_err();
    let mut refused: Vec<&str> = strict.issues().iter().map(|i| i.field.as_str()).collect();
    refused.sort_unstable();
    assert_eq!(refused, ignored);
    // Ignoring never lets a bad value of a known field through.
    let mut bad = body.clone();
    bad["dcv_check_parameters"]["key_authorization_hash"] = json!("abc");
    assert!(CheckRequest::read_value(&bad, UnknownFields::Ignore).is_err());
}

#[test]
fn open_mpic_3_7_orchestration_is_read_as_sent() {
    let read = |orchestration: Value| {
        let body = json!({"check_type": "caa", "domain_or_ip_target": "example.com",
                          "orchestration_parameters": orchestration});
        CheckRequest::from_value(&body).map(|r| r.orchestration_parameters.unwrap())
    };
    let p = read(json!({"max_attempts": -3, "cohort_for_single_attempt": 2})).unwrap();
    assert_eq!(p.max_attempts, Some(-3));
    assert_eq!(p.cohort_for_single_attempt, Some(2));
    let p = read(json!({"max_attempts": null, "cohort_for_single_attempt": null})).unwrap();
    assert_eq!((p.max_attempts, p.cohort_for_single_attempt), (None, None));
    let err = read(json!({"cohort_for_single_attempt": 1.5})).unwrap_err();
    assert_eq!(
        err.issues()[0].to_string(),
        "orchestration_parameters.cohort_for_single_attempt: must be an integer"
    );
}

#[test]
fn require_exact_case_is_a_choice_only_for_website_change_and_dns_change_txt() {
    let parameters = |params: Value| match CheckRequest::from_value(&dcv("example.com", params))
        .unwrap()
        .parameters
    {
        CheckParameters::Dcv(p) => p,
        CheckParameters::Caa(_) => panic!("not dcv"),
    };
    let website = |case: Value| match parameters(json!({"validation_method": "website-change",
        "http_token_path": "t", "challenge_value": "Value", "require_exact_case": case}))
    {
        DcvCheckParameters::WebsiteChange(p) => p.exact_case(),
        other => panic!("{other:?}"),
    };
    assert!(website(json!(null)));
    assert!(!website(json!(false)));
    let dns_change =
        |record_type: &str, case: Value| match parameters(json!({"validation_method": "dns-change",
        "challenge_value": "Value", "dns_record_type": record_type, "require_exact_case": case}))
        {
            DcvCheckParameters::DnsChange(p) => p.exact_case(),
            other => panic!("{other:?}"),
        };
    assert!(dns_change("TXT", json!(null)));
    assert!(!dns_change("TXT", json!(false)));
    // Open MPIC forces these to compare without case, whatever was asked.
    assert!(!dns_change("CNAME", json!(true)));
    assert!(!dns_change("CAA", json!(true)));
}

#[test]
fn dns_persistent_takes_the_open_mpic_3_8_account_field_and_writes_it() {
    for key in ["expected_account_uri", "account_uri"] {
        let body = dcv(
            "example.com",
            json!({"validation_method": "dns-persistent", "issuer_domain_names": ["ca.example"],
                   key: "https://ca.example/acct/1"}),
        );
        let request = CheckRequest::from_value(&body).unwrap();
        let written = serde_json::to_value(&request).unwrap();
        assert_eq!(
            written["dcv_check_parameters"]["expected_account_uri"], "https://ca.example/acct/1",
            "{key}"
        );
        assert_eq!(
            CheckRequest::from_value(&written).unwrap(),
            request,
            "{key}"
        );
    }
}

//! The seed corpus: a few real inputs per target, built with the same code
//! production uses (hickory for DNS messages, `report::sign` and
//! `sign_request` for signed messages). `examples/seed_corpus.rs` writes
//! them to `corpus/<target>/`; `tests/replay.rs` checks that every seed is
//! accepted where it should be, so a seed that rots is noticed.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CAA, CNAME, TXT};
use hickory_proto::rr::{Name, RData, Record};
use mpic_core::dns::fixture::{build_response, dname_record, response_message};
use mpic_core::location::Coordinates;
use mpic_core::report::Verdict;

use crate::{caa_evaluate, doh_response, signed_report};

/// One seed: target, file name, bytes.
pub type Seed = (&'static str, String, Vec<u8>);

/// Every seed of every target.
pub fn all() -> Vec<Seed> {
    let mut seeds = Vec::new();
    seeds.extend(doh_response_seeds());
    seeds.extend(caa_value_seeds());
    seeds.extend(caa_evaluate_seeds());
    seeds.extend(check_request_seeds());
    seeds.extend(signed_report_seeds());
    seeds.extend(request_envelope_seeds());
    seeds.extend(redirect_fetch_seeds());
    seeds
}

fn name(text: &str) -> Name {
    match Name::from_ascii(text) {
        Ok(name) => name,
        Err(e) => panic!("seed name {text}: {e}"),
    }
}

fn caa(owner: &str, critical: bool, tag: &str, value: &[u8]) -> Record {
    let mut caa = CAA::new_issue(critical, None, vec![]);
    caa.tag = tag.into();
    caa.value = value.to_vec();
    Record::from_rdata(name(owner), 300, RData::CAA(caa))
}

/// A DoH seed: the selector byte for `QUERY_TYPES[index]`, then the response.
fn doh(index: u8, rcode: ResponseCode, answers: Vec<Record>, ad: bool) -> Vec<u8> {
    let query = doh_response::query(index);
    match build_response(query.wire(), rcode, answers, ad) {
        Ok(wire) => [&[index][..], &wire].concat(),
        Err(e) => panic!("seed response: {e}"),
    }
}

fn doh_response_seeds() -> Vec<Seed> {
    const A_TYPE: u8 = 0;
    const AAAA_TYPE: u8 = 1;
    const CAA_TYPE: u8 = 2;
    const TXT_TYPE: u8 = 3;
    const CNAME_TYPE: u8 = 4;
    let www = "www.example.com.";
    let a = |owner: &str, last: u8| {
        Record::from_rdata(
            name(owner),
            300,
            RData::A(A(Ipv4Addr::new(192, 0, 2, last))),
        )
    };
    let cname = |owner: &str, target: &str| {
        Record::from_rdata(name(owner), 300, RData::CNAME(CNAME(name(target))))
    };
    let dname = match dname_record(name("example.com."), 300, &name("example.net.")) {
        Ok(record) => record,
        Err(e) => panic!("seed DNAME: {e}"),
    };
    let servfail_without_question = {
        let query = doh_response::query(A_TYPE);
        let mut message: Message =
            match response_message(query.wire(), ResponseCode::ServFail, vec![], false) {
                Ok(message) => message,
                Err(e) => panic!("seed response: {e}"),
            };
        message.queries.clear();
        match message.to_vec() {
            Ok(wire) => [&[A_TYPE][..], &wire].concat(),
            Err(e) => panic!("seed response: {e}"),
        }
    };
    let seeds = vec![
        (
            "a",
            doh(A_TYPE, ResponseCode::NoError, vec![a(www, 1)], false),
        ),
        (
            "a_via_cname",
            doh(
                A_TYPE,
                ResponseCode::NoError,
                vec![
                    cname(www, "cdn.example.net."),
                    cname("cdn.example.net.", "edge.example.org."),
                    a("edge.example.org.", 2),
                ],
                false,
            ),
        ),
        (
            "a_via_dname",
            doh(
                A_TYPE,
                ResponseCode::NoError,
                vec![
                    dname,
                    cname(www, "www.example.net."),
                    a("www.example.net.", 3),
                ],
                true,
            ),
        ),
        (
            "aaaa_authentic",
            doh(
                AAAA_TYPE,
                ResponseCode::NoError,
                vec![Record::from_rdata(
                    name(www),
                    300,
                    RData::AAAA(AAAA(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))),
                )],
                true,
            ),
        ),
        (
            "caa",
            doh(
                CAA_TYPE,
                ResponseCode::NoError,
                vec![
                    caa(
                        www,
                        false,
                        "issue",
                        b"ca.example; accounturi=https://ca.example/acct/1",
                    ),
                    caa(www, true, "issuewild", b";"),
                    caa(www, false, "iodef", b"mailto:security@example.com"),
                ],
                false,
            ),
        ),
        (
            "txt",
            doh(
                TXT_TYPE,
                ResponseCode::NoError,
                vec![Record::from_rdata(
                    name(www),
                    300,
                    RData::TXT(TXT::new(vec!["token-value".into(), "second".into()])),
                )],
                false,
            ),
        ),
        (
            "cname_asked",
            doh(
                CNAME_TYPE,
                ResponseCode::NoError,
                vec![cname(www, "cdn.example.net.")],
                false,
            ),
        ),
        (
            "nxdomain",
            doh(A_TYPE, ResponseCode::NXDomain, vec![], false),
        ),
        (
            "nodata",
            doh(CAA_TYPE, ResponseCode::NoError, vec![], false),
        ),
        ("servfail_without_question", servfail_without_question),
    ];
    seeds
        .into_iter()
        .map(|(file, bytes)| ("doh_response", file.to_owned(), bytes))
        .collect()
}

fn caa_value_seeds() -> Vec<Seed> {
    let mut values: Vec<&str> = caa_evaluate::VALUES.to_vec();
    values.extend([
        "\tca.example\t;\ta\t=\tb\t",
        "xn--bcher-kva.example; validationmethods=dns-01,http-01,tls-alpn-01",
        "a--b.c; a=b=c; X-Y=!~",
        "ca.example; a=b;",
        "ca..example",
        "ca.example-",
    ]);
    values
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            (
                "caa_value",
                format!("value_{i:02}"),
                value.as_bytes().to_vec(),
            )
        })
        .collect()
}

fn caa_evaluate_seeds() -> Vec<Seed> {
    // Layout in caa_evaluate's documentation: context, then (flags, tag, value).
    let raw_value = {
        let value = b"ca.example; accounturi=https://ca.example/acct/2";
        let mut bytes = vec![0x00, 0, 0, 0x80 | u8::try_from(value.len()).unwrap_or(0x7f)];
        bytes.extend_from_slice(value);
        bytes
    };
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![0x00]),
        ("issue_ours", vec![0x00, 0, 0, 0]),
        ("issue_other", vec![0x00, 0, 0, 2]),
        ("wildcard_issuewild_overrides", vec![0x02, 0, 3, 2, 0, 0, 0]),
        ("account_and_method", vec![0x14, 0, 0, 5, 0, 0, 7]),
        ("method_list", vec![0x24, 0, 1, 8]),
        ("smime_issuemail", vec![0x01, 0, 5, 0, 0, 0, 2]),
        ("unknown_critical", vec![0x00, 0x80, 10, 3, 0, 0, 0]),
        ("critical_known", vec![0x40, 0x80, 0, 1, 0x80, 7, 3]),
        ("raw_value", raw_value),
        (
            "raw_tag",
            vec![0x00, 0x00, 0x84, b'I', b's', b'S', b'u', b'E', 0],
        ),
    ];
    seeds
        .into_iter()
        .map(|(file, bytes)| ("caa_evaluate", file.to_owned(), bytes))
        .collect()
}

fn check_request_seeds() -> Vec<Seed> {
    let requests: [(&str, &str); 14] = [
        (
            "caa_open_mpic_example",
            r#"{"check_type":"caa","domain_or_ip_target":"example.com","trace_identifier":"ac2d0392-8699-4037-a0e0-0a6db1ff8b89"}"#,
        ),
        (
            "caa_all_parameters",
            r#"{"check_type":"caa","domain_or_ip_target":"*.example.com","orchestration_parameters":{"perspective_count":6,"quorum_count":4,"max_attempts":2},"caa_check_parameters":{"certificate_type":"tls-server","caa_domains":["ca.example","ca2.example"],"allow_lookup_failure":true,"x_account_uri":"https://ca.example/acct/1","x_validation_method":"dns-01"}}"#,
        ),
        (
            "caa_smime",
            r#"{"check_type":"caa","domain_or_ip_target":"mail.example.com","caa_check_parameters":{"certificate_type":"s-mime"}}"#,
        ),
        (
            "acme_http_01",
            r#"{"check_type":"dcv","domain_or_ip_target":"example.com","dcv_check_parameters":{"validation_method":"acme-http-01","token":"tok-en_1","key_authorization":"tok-en_1.thumbprint_abc-DEF","http_headers":{"User-Agent":"ca.example"}}}"#,
        ),
        (
            "acme_dns_01_hash",
            r#"{"check_type":"dcv","domain_or_ip_target":"*.example.com","dcv_check_parameters":{"validation_method":"acme-dns-01","key_authorization_hash":"sOR0PVE8lVi7BmAw6uEGu6vPWHbcwpwcoxdThe-KErs"}}"#,
        ),
        (
            "acme_tls_alpn_01",
            r#"{"check_type":"dcv","domain_or_ip_target":"192.0.2.1","dcv_check_parameters":{"validation_method":"acme-tls-alpn-01","key_authorization_hash":"b0e4743d513c9558bb066030eae106bbabcf5876dcc29c1ca3175385ef8a12bb"}}"#,
        ),
        (
            "website_change",
            r#"{"check_type":"dcv","domain_or_ip_target":"example.com","dcv_check_parameters":{"validation_method":"website-change","http_token_path":"a/b.txt","challenge_value":"rnd","match_regex":"^rnd$","url_scheme":"https"}}"#,
        ),
        (
            "dns_change",
            r#"{"check_type":"dcv","domain_or_ip_target":"*.example.com","dcv_check_parameters":{"validation_method":"dns-change","challenge_value":"rnd","dns_record_type":"TXT","dns_name_prefix":"_dcv","require_exact_match":true}}"#,
        ),
        (
            "contact_email_caa",
            r#"{"check_type":"dcv","domain_or_ip_target":"example.com","dcv_check_parameters":{"validation_method":"contact-email-caa","challenge_value":"admin@example.com"}}"#,
        ),
        (
            "reverse_address_lookup",
            r#"{"check_type":"dcv","domain_or_ip_target":"192.0.2.1","dcv_check_parameters":{"validation_method":"reverse-address-lookup","challenge_value":"host.example.com."}}"#,
        ),
        (
            "dns_persistent",
            r#"{"check_type":"dcv","domain_or_ip_target":"*.example.com","dcv_check_parameters":{"validation_method":"dns-persistent","issuer_domain_names":["ca.example"],"account_uri":"https://ca.example/acct/1"}}"#,
        ),
        (
            "dns_account_01",
            r#"{"check_type":"dcv","domain_or_ip_target":"example.com","dcv_check_parameters":{"validation_method":"dns-account-01","account_uri":"https://ca.example/acct/1","key_authorization":"tok-en_1.thumbprint_abc-DEF"}}"#,
        ),
        (
            "refused_acme_http_01_number_like_tld",
            r#"{"check_type":"dcv","domain_or_ip_target":"127.0x0.0x0.0x1","dcv_check_parameters":{"validation_method":"acme-http-01","token":"t","key_authorization":"t.k"}}"#,
        ),
        (
            "refused_caa_repeated_key",
            r#"{"check_type":"caa","domain_or_ip_target":"a.example","domain_or_ip_target":"b.example"}"#,
        ),
    ];
    requests
        .into_iter()
        .map(|(file, json)| ("check_request", file.to_owned(), json.as_bytes().to_vec()))
        .collect()
}

fn signed_report_seeds() -> Vec<Seed> {
    let key = signed_report::perspective_key();
    let body = signed_report::valid_body();
    let mut failing = body.clone();
    failing.verdict = Verdict::Fail;
    failing.location.coordinates = None;
    failing.resolvers = vec![
        "https://dns.google/dns-query".into(),
        "https://doh.example/dns-query".into(),
    ];
    failing.reason = "CAA forbids issuance".into();
    let mut southern = body.clone();
    southern.location.coordinates = Coordinates::new(-33.87, 151.21).ok();
    southern.verdict = Verdict::Error;

    let mut seeds = Vec::new();
    for (label, body) in [("pass", &body), ("fail", &failing), ("error", &southern)] {
        let signed = signed_report::signed(&key, body);
        let json = match serde_json::to_vec(&signed) {
            Ok(json) => json,
            Err(e) => panic!("seed report JSON: {e}"),
        };
        seeds.push((
            "signed_report",
            format!("json_{label}"),
            [&[0][..], &json].concat(),
        ));
        seeds.push((
            "signed_report",
            format!("signed_bytes_{label}"),
            [&[1][..], &signed.report].concat(),
        ));
    }
    // A version-1 report, as evidence records from before the data center
    // keep them: the same bytes without field 15.
    let mut old = body.clone();
    old.data_center = None;
    let mut bytes = match old.to_signed_bytes() {
        Ok(bytes) => bytes,
        Err(e) => panic!("seed report bytes: {e}"),
    };
    bytes[mpic_core::report::REPORT_MAGIC.len()] = mpic_core::report::REPORT_VERSION_1;
    bytes.pop();
    seeds.push((
        "signed_report",
        "signed_bytes_version_1".to_owned(),
        [&[1][..], &bytes].concat(),
    ));
    seeds
}

fn request_envelope_seeds() -> Vec<Seed> {
    use crate::request_envelope::valid_envelope;
    let envelope = valid_envelope();
    let json = match serde_json::to_vec(&envelope) {
        Ok(json) => json,
        Err(e) => panic!("seed envelope JSON: {e}"),
    };
    vec![
        (
            "request_envelope",
            "json".into(),
            [&[0][..], &json].concat(),
        ),
        (
            "request_envelope",
            "signed_bytes".into(),
            [&[1][..], &envelope.request].concat(),
        ),
        (
            "request_envelope",
            "unsigned_json".into(),
            [&[0][..], br#"{"key":"ed25519:AAAA","request":""}"#].concat(),
        ),
        // Capacity 2; nonce 1 twice, a clock step, nonce 2, then the clock
        // steps back and nonce 1 comes again.
        (
            "request_envelope",
            "replay_sequence".into(),
            vec![2, 1, 0, 0, 1, 2, 0, 2, 60, 0, 1, 0xc4, 0, 3, 0x10, 0xf0],
        ),
    ]
}

fn redirect_fetch_seeds() -> Vec<Seed> {
    // Layout in redirect_fetch's documentation: policy, start URL, then
    // (status, location) per fetch. Status indexes: 0 => 200, 3 => 301,
    // 4 => 302, 5 => 303, 8 => 307, 9 => 308, 13 => 404.
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("direct_200", vec![10, 0, 0, 0]),
        ("redirect_then_200", vec![10, 0, 3, 1, 0, 0]),
        ("https_upgrade", vec![10, 0, 9, 4, 4, 6, 0, 0]),
        ("to_forbidden_port", vec![10, 0, 8, 8, 0, 0]),
        ("to_file_scheme", vec![10, 0, 4, 13, 0, 0]),
        ("303_not_followed", vec![10, 0, 5, 1, 0, 0]),
        ("missing_location", vec![10, 0, 3, 0]),
        ("loop_limit_2", vec![2, 0, 3, 1, 3, 1, 3, 1, 3, 1, 0, 0]),
        ("listed_ports", vec![0xca, 2, 3, 7, 0, 0]),
        ("transport_error", vec![10, 1, 0xf0]),
        (
            "raw_status_and_location",
            vec![10, 0, 0xf5, 0x01, 0x2d, 0x85, b'/', b'a', b'b', b'#', b'c'],
        ),
        ("credentials_start", vec![10, 4, 0, 0]),
        ("404", vec![10, 0, 13, 0]),
        ("oversized_location", vec![10, 0, 3, 0x7f]),
    ];
    seeds
        .into_iter()
        .map(|(file, bytes)| ("redirect_fetch", file.to_owned(), bytes))
        .collect()
}

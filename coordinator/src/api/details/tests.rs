#![allow(clippy::unwrap_used, clippy::expect_used)]

use mpic_core::caa::RrsetReport;
use mpic_core::caa::{CaaObservation, CaaOutcome, PermitReason};
use mpic_core::check::CertificateType;
use mpic_core::check::CheckRequest;
use mpic_core::dcv::{CertificateEvidence, DcvObservation};
use mpic_core::location::Location;
use mpic_core::nonce::Nonce;
use mpic_core::redirect::RedirectHop;
use mpic_core::report::{Observation, Verdict};
use mpic_core::rir::Rir;
use serde_json::{Value, json};

use super::*;
use mpic_core::network::Contacted;

fn body(observation: &CheckObservation) -> ReportBody {
    ReportBody {
        request_digest: [0; 32],
        nonce: Nonce::new(vec![1; 16]).unwrap(),
        perspective_id: "fra".into(),
        rir: Rir::RipeNcc,
        location: Location {
            region: "FRA".into(),
            coordinates: None,
        },
        resolvers: Vec::new(),
        started_at_ms: 1,
        finished_at_ms: 2,
        verdict: Verdict::Pass,
        reason: String::new(),
        observation: Observation::from_value(observation).unwrap(),
        data_center: None,
    }
}

fn caa_observation(records: Option<&[&str]>) -> CheckObservation {
    CheckObservation::Caa(CaaObservation {
        domain: "www.example.com".into(),
        lookup_name: "www.example.com".into(),
        wildcard: false,
        certificate_type: CertificateType::TlsServer,
        outcome: CaaOutcome::Permitted {
            reason: PermitReason::NoCaaRecords,
        },
        relevant_rrset: records.map(|records| RrsetReport {
            owner: "example.com".into(),
            records: records.iter().map(|r| (*r).to_owned()).collect(),
            cname_chain: Vec::new(),
            authentic_data: false,
            rcode: "NOERROR".into(),
            resolver: "https://doh.example/dns-query".into(),
        }),
        steps: Vec::new(),
        unused: Vec::new(),
    })
}

fn dcv_params(json: Value) -> DcvCheckParameters {
    let request = CheckRequest::from_value(&json!({
        "check_type": "dcv",
        "domain_or_ip_target": "example.com",
        "dcv_check_parameters": json,
    }))
    .unwrap();
    match request.parameters {
        mpic_core::check::CheckParameters::Dcv(p) => p,
        mpic_core::check::CheckParameters::Caa(_) => panic!("not dcv"),
    }
}

fn to_json(details: &Details) -> Value {
    serde_json::to_value(details).unwrap()
}

#[test]
fn caa_details_come_from_the_relevant_rrset() {
    let records = ["0 issue \"ca.example\"", "0 iodef \"mailto:x@example.com\""];
    let found = body(&caa_observation(Some(&records)));
    assert_eq!(
        to_json(&details(CheckType::Caa, None, Some(&found))),
        json!({
            "caa_record_present": true,
            "found_at": "example.com",
            "records_seen": records,
            "response": records.join("\n"),
        })
    );
    let none = body(&caa_observation(None));
    let empty = json!({
        "caa_record_present": false,
        "found_at": null,
        "records_seen": null,
        "response": null,
    });
    assert_eq!(to_json(&details(CheckType::Caa, None, Some(&none))), empty);
    // No verified report, or an observation of another kind: nothing known.
    assert_eq!(to_json(&details(CheckType::Caa, None, None)), empty);
    let not_run = body(&CheckObservation::NotRun {
        reason: "no issuers".into(),
    });
    assert_eq!(
        to_json(&details(CheckType::Caa, None, Some(&not_run))),
        empty
    );
}

#[test]
fn http_details_come_from_the_exchange() {
    let params = dcv_params(json!({
        "validation_method": "acme-http-01",
        "token": "tok",
        "key_authorization": "tok.thumb",
    }));
    let observation = CheckObservation::Dcv(DcvObservation {
        validation_method: ValidationMethod::AcmeHttp01,
        passed: true,
        failure: None,
        evidence: DcvEvidence::Http(HttpEvidence {
            url: "http://example.com/.well-known/acme-challenge/tok".into(),
            history: vec![RedirectHop {
                url: "http://example.com/.well-known/acme-challenge/tok".into(),
                status: 301,
                location: Some("https://example.com/.well-known/acme-challenge/tok".into()),
                contacted: None,
            }],
            final_url: "https://example.com/.well-known/acme-challenge/tok".into(),
            final_status: Some(200),
            contacted: Some(Contacted {
                resolver: Some("https://doh.example/dns-query".into()),
                address: "2001:db8::7".parse().unwrap(),
                port: 443,
                tls: None,
            }),
            content_type: Some("text/plain".into()),
            body_excerpt: "tok.thumb".into(),
            body_excerpt_base64: "dG9rLnRodW1i".into(),
            body_length: 9,
            body_truncated: false,
        }),
    });
    assert_eq!(
        to_json(&details(
            CheckType::Dcv,
            Some(&params),
            Some(&body(&observation))
        )),
        json!({
            "validation_method": "acme-http-01",
            "response_history": [{
                "response_status_code": 301,
                "response_url": "http://example.com/.well-known/acme-challenge/tok",
                "status_code": 301,
                "url": "https://example.com/.well-known/acme-challenge/tok",
            }],
            "response_url": "https://example.com/.well-known/acme-challenge/tok",
            "response_status_code": 200,
            "response_page": "dG9rLnRodW1i",
            "resolved_ip": "2001:db8::7",
        })
    );
    // Unverified: the same shape, empty.
    assert_eq!(
        to_json(&details(CheckType::Dcv, Some(&params), None)),
        json!({
            "validation_method": "acme-http-01",
            "response_history": null,
            "response_url": null,
            "response_status_code": null,
            "response_page": null,
            "resolved_ip": null,
        })
    );
}

#[test]
fn dns_details_come_from_the_judged_lookup() {
    let params = dcv_params(json!({
        "validation_method": "dns-change",
        "challenge_value": "abc",
        "dns_record_type": "TXT",
    }));
    let lookup = |name: &str, records: &[&str]| DnsLookup {
        name: name.into(),
        record_type: "TXT".into(),
        rcode: Some(0),
        records_seen: records.iter().map(|r| (*r).to_owned()).collect(),
        cname_chain: vec!["alias.example.net".into()],
        ad_flag: true,
        resolver: "https://doh.example/dns-query".into(),
        error: None,
    };
    let observation = CheckObservation::Dcv(DcvObservation {
        validation_method: ValidationMethod::DnsChange,
        passed: true,
        failure: None,
        evidence: DcvEvidence::Dns(DnsEvidence {
            lookups: vec![
                lookup("example.com", &["abc"]),
                lookup("other.example", &[]),
            ],
            found_at: Some("example.com".into()),
        }),
    });
    assert_eq!(
        to_json(&details(
            CheckType::Dcv,
            Some(&params),
            Some(&body(&observation))
        )),
        json!({
            "validation_method": "dns-change",
            "records_seen": ["abc"],
            "response_code": 0,
            "ad_flag": true,
            "found_at": "example.com",
            "cname_chain": ["alias.example.net."],
        })
    );
}

#[test]
fn tls_alpn_details_name_the_certificate() {
    let params = dcv_params(json!({
        "validation_method": "acme-tls-alpn-01",
        "key_authorization_hash": "00".repeat(32),
    }));
    let observation = CheckObservation::Dcv(DcvObservation {
        validation_method: ValidationMethod::AcmeTlsAlpn01,
        passed: true,
        failure: None,
        evidence: DcvEvidence::Certificate(CertificateEvidence {
            common_name: Some("example.com".into()),
            subject_alt_names: vec!["dns:example.com".into()],
            acme_identifier_critical: Some(true),
            contacted: None,
        }),
    });
    assert_eq!(
        to_json(&details(
            CheckType::Dcv,
            Some(&params),
            Some(&body(&observation))
        )),
        json!({"validation_method": "acme-tls-alpn-01", "common_name": "example.com"})
    );
}

#[test]
fn an_observation_for_another_method_is_not_believed() {
    let params = dcv_params(json!({
        "validation_method": "acme-dns-01",
        "key_authorization": "tok.thumb",
    }));
    let other = CheckObservation::Dcv(DcvObservation {
        validation_method: ValidationMethod::DnsChange,
        passed: true,
        failure: None,
        evidence: DcvEvidence::Dns(DnsEvidence {
            lookups: Vec::new(),
            found_at: Some("example.com".into()),
        }),
    });
    let shown = to_json(&details(CheckType::Dcv, Some(&params), Some(&body(&other))));
    assert_eq!(shown["validation_method"], "acme-dns-01");
    assert_eq!(shown["found_at"], Value::Null);
}

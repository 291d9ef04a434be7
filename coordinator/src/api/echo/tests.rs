#![allow(clippy::unwrap_used, clippy::expect_used)]

use mpic_core::check::UnknownFields;
use serde_json::json;

use super::*;

fn echo(body: Value) -> Value {
    let read = CheckRequest::read_value(&body, UnknownFields::Ignore).unwrap();
    serde_json::to_value(Echo::new(&body, &read.request, &read.ignored_fields)).unwrap()
}

#[test]
fn a_caa_request_is_echoed_as_sent_with_defaults() {
    let bare = echo(json!({"check_type": "caa", "domain_or_ip_target": "WWW.Example.com"}));
    assert_eq!(
        bare,
        json!({"domain_or_ip_target": "WWW.Example.com", "request_orchestration_parameters": null,
               "caa_check_parameters": null})
    );
    let full = echo(
        json!({"check_type": "caa", "domain_or_ip_target": "example.com",
        "caa_check_parameters": {"caa_domains": ["ca.example"], "colour": 1},
        "orchestration_parameters": {"quorum_count": 4}}),
    );
    assert_eq!(
        full,
        json!({"domain_or_ip_target": "example.com",
               "request_orchestration_parameters": {"quorum_count": 4,
                   "max_attempts": null, "cohort_for_single_attempt": null},
               "caa_check_parameters": {"certificate_type": "tls-server", "caa_domains": ["ca.example"],
                   "allow_lookup_failure": false}})
    );
}

#[test]
fn a_dcv_request_is_echoed_as_sent_with_the_methods_defaults() {
    let body = json!({"check_type": "dcv", "domain_or_ip_target": "example.com",
        "dcv_check_parameters": {"validation_method": "acme-dns-01",
            "key_authorization_hash": "7FwkJPsKf-TH54wu4eiIFA3nhzYaevsL7953ihy-tpo", "typo": 1}});
    assert_eq!(
        echo(body)["dcv_check_parameters"],
        json!({"validation_method": "acme-dns-01",
               "key_authorization_hash": "7FwkJPsKf-TH54wu4eiIFA3nhzYaevsL7953ihy-tpo",
               "dns_record_type": "TXT", "dns_name_prefix": "_acme-challenge", "require_exact_case": true})
    );
    let cname = json!({"check_type": "dcv", "domain_or_ip_target": "example.com",
        "dcv_check_parameters": {"validation_method": "dns-change", "challenge_value": "v",
            "dns_record_type": "CNAME", "require_exact_case": true}});
    assert_eq!(
        echo(cname)["dcv_check_parameters"],
        json!({"validation_method": "dns-change", "challenge_value": "v", "dns_record_type": "CNAME",
               "dns_name_prefix": null, "require_exact_match": false, "require_exact_case": false})
    );
}
